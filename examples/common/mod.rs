//! What the example programs share: flags to `Config`, the `std::net`
//! driver of a `Connection` (see [`drive`]: never blocked past the
//! connection's next deadline, its buffers bounded), and the two ends of a
//! file transfer. The library does no I/O; this is all the I/O there is.

#![allow(dead_code)]

pub mod async_drive;
pub mod programs;
pub mod progress;
pub mod resume;
pub mod upload;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver as Channel, RecvTimeoutError, SyncSender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use securex::config::{Extension, Psk, StaticKey};
use securex::connection::{Ending, LINGER};
use securex::dh::{Group, KeyPair, NamedGroup, PublicKey};
use securex::suite::{Cipher, Hash, Mode, Offer};
use securex::transfer::{Download, Receiver, Session, ThreadedSha256};
use securex::{Config, Connection, State};

/// The algorithm and preset flags shared by the server and the client.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyFlags {
    /// Speak v1 with the seed preset (rotation every 20 frames, 960-byte
    /// chunks), to interoperate with existing peers.
    #[arg(long)]
    pub seed_compatible: bool,
    /// Ciphers, most preferred first (server: the set it accepts).
    #[arg(long, value_delimiter = ',', value_parser = parse_cipher)]
    pub ciphers: Option<Vec<Cipher>>,
    /// Modes, most preferred first (server: the set it accepts).
    #[arg(long, value_delimiter = ',', value_parser = parse_mode)]
    pub modes: Option<Vec<Mode>>,
    /// Hashes, most preferred first (server: the set it accepts).
    #[arg(long, value_delimiter = ',', value_parser = parse_hash)]
    pub hashes: Option<Vec<Hash>>,
    /// v2: the RFC 7919 groups accepted, most preferred first (a client
    /// sends its key share in the first); v1: the client's group is the
    /// first. Default: ffdhe2048,ffdhe3072,ffdhe4096.
    #[arg(long, value_delimiter = ',', value_parser = parse_group)]
    pub groups: Option<Vec<NamedGroup>>,
    /// A file holding a pre-shared key (at least 16 bytes of high entropy);
    /// both sides must use the same (v2).
    #[arg(long)]
    pub psk_file: Option<PathBuf>,
    /// Seconds the peer may take to answer (the handshake, OPEN, CLOSE, a
    /// key rotation) and to take any of our bytes when we have some to
    /// write (1 to 86400).
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

fn parse_cipher(s: &str) -> Result<Cipher, String> {
    s.parse().map_err(|e| format!("{e}"))
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse().map_err(|e| format!("{e}"))
}

fn parse_hash(s: &str) -> Result<Hash, String> {
    s.parse().map_err(|e| format!("{e}"))
}

fn parse_group(s: &str) -> Result<NamedGroup, String> {
    s.parse().map_err(|e| format!("{e}"))
}

impl PolicyFlags {
    /// The configuration these flags select, or why they select none.
    pub fn config(&self) -> Result<Config, String> {
        let mut config = if self.seed_compatible {
            Config::seed_compatible()
        } else {
            Config::default()
        };
        let all = Offer::all();
        config.offer = Offer {
            ciphers: self.ciphers.clone().unwrap_or(all.ciphers),
            modes: self.modes.clone().unwrap_or(all.modes),
            hashes: self.hashes.clone().unwrap_or(all.hashes),
        };
        if let Some(groups) = &self.groups {
            config.groups.clone_from(groups);
            if let Some(&first) = groups.first() {
                config.v1_group = first;
            }
        }
        if let Some(path) = &self.psk_file {
            config.psk = Some(read_psk(path)?);
        }
        config.handshake_timeout = Some(Duration::from_secs(self.timeout));
        config.key_log = key_log_from_env()?;
        // v2: the client resumes a cut upload, the server lets it (see
        // `resume`); several files go on one connection (`upload`).
        config.extensions = vec![Extension::Resume, Extension::Batch];
        Ok(config)
    }
}

/// The key log that `SECUREX_KEYLOG=PATH` asks for, if set: each line
/// appended to PATH (created with mode 0600; refused if others may read
/// it) in one write, with its line break, and flushed. **Debugging only:
/// the file holds every key of every session, and whoever reads it reads
/// them** (see `securex::keylog`).
pub fn key_log_from_env() -> Result<Option<securex::keylog::KeyLog>, String> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let Some(path) = std::env::var_os("SECUREX_KEYLOG").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let cannot = |e: io::Error| format!("SECUREX_KEYLOG: cannot open {}: {e}", path.display());
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(cannot)?;
    let mode = file.metadata().map_err(cannot)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "SECUREX_KEYLOG: {} may be read by others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        ));
    }
    let file = std::sync::Mutex::new(file);
    Ok(Some(securex::keylog::KeyLog::new(move |line| {
        let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(line.len() + 1));
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        // One write per line: with O_APPEND, the lines of the client and
        // the server (and of every connection) never interleave.
        let mut file = file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = file.write_all(&bytes).and_then(|()| file.flush());
    })))
}

/// Reads a PSK file; its identifier is derived from the key
/// ([`Psk::from_key`]), so that both sides agree on it without another
/// flag.
fn read_psk(path: &Path) -> Result<Psk, String> {
    let key = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
    );
    // The program's own message, as it always was.
    Psk::from_key(&key).map_err(|_| format!("{}: a PSK needs at least 16 bytes", path.display()))
}

/// Loads the server's long-term key from `path` (the format of
/// [`StaticKey::from_key_file`]), creating it (mode 0600) if missing;
/// returns the key and whether it was created.
pub fn load_or_create_static_key(path: &Path) -> Result<(StaticKey, bool), String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = zeroize::Zeroizing::new(text);
            let key =
                StaticKey::from_key_file(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            use std::os::unix::fs::OpenOptionsExt;
            let group = Group::named(NamedGroup::Ffdhe2048);
            let key = StaticKey::new(KeyPair::generate(&group, &mut os_rng()));
            let text = key
                .to_key_file()
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            file.write_all(text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok((key, true))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Reads a pinned server public key (the PEM the server printed).
pub fn read_server_key(path: &Path) -> Result<PublicKey, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let key = PublicKey::from_pem(&pem, securex::dh::DEFAULT_MAX_GROUP_BITS)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if key.group().named_group().is_none() {
        return Err(format!(
            "{}: not a key of an RFC 7919 group",
            path.display()
        ));
    }
    Ok(key)
}

/// Prints a config error and exits.
pub fn exit_with(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

/// A CSPRNG seeded from the operating system, for one connection.
pub fn os_rng() -> rand::rngs::StdRng {
    rand::make_rng()
}

/// The `--timeout` default, in seconds: the library's reply deadline.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// The most bytes one `read` takes: the size of the reader thread's
/// buffers.
pub const READ_BUF: usize = 64 * 1024;

/// Reads waiting between the reader thread and the connection. Input held
/// by the driver is then at most `(INPUT_QUEUE + 2) * READ_BUF` bytes per
/// connection (queued, in the reader's buffer, being handled: the buffers
/// go back to the reader once handled, so no more are ever made); past
/// that the reader stops reading and TCP pushes back on the peer.
pub const INPUT_QUEUE: usize = 2;

/// The most bytes handed to one `write`: between writes the driver takes
/// the input that arrived and runs the timers.
pub const WRITE_SLICE: usize = 256 * 1024;

/// The longest one `write` blocks. A blocking `write` that times out
/// after taking some bytes returns their count, without saying when the
/// peer made room for them: bounding each call bounds that uncertainty
/// (the write bound is met within this much).
const WRITE_WAIT: Duration = Duration::from_millis(100);

/// The reader thread only reads: a small stack is plenty.
const READER_STACK: usize = 128 * 1024;

/// The driver's bounds for one connection, besides the connection's own
/// deadlines.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long the peer may take none of our bytes while we have some to
    /// write (the connection cannot see that; the driver must).
    pub write_stall: Duration,
    /// Who the peer is, for messages: `server` or `client`.
    pub peer: &'static str,
}

impl Limits {
    /// The bounds that go with `config`: the write bound is its reply
    /// deadline (`handshake_timeout`, else the default).
    pub fn new(config: &Config, peer: &'static str) -> Limits {
        Limits {
            write_stall: config
                .handshake_timeout
                .unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT_SECS)),
            peer,
        }
    }
}

/// Why [`drive`] gave up, besides what the connection reports.
#[derive(Debug)]
pub enum DriveError {
    /// The peer took none of our bytes for the write bound.
    Stalled { peer: &'static str, after: Duration },
    /// The socket failed.
    Io(io::Error),
}

impl std::fmt::Display for DriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriveError::Stalled { peer, after } => write!(
                f,
                "timed out: the {peer} took none of our bytes for {}",
                seconds(*after)
            ),
            DriveError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// `5 s`, `0.5 s`.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The write side of a driver, the same in both drivers (this one and
/// `async_drive`'s): the output taken from the connection and not all
/// written yet, the write bound's clock, and a failed write.
pub struct Outgoing {
    /// One `poll_transmit_into`, written up to `written`; between two, the
    /// buffer lent to the connection.
    buf: Vec<u8>,
    written: usize,
    /// When the peer last took some of our bytes, or when `buf` was
    /// taken: the write bound counts from it.
    progress: Instant,
    limits: Limits,
    /// A write failed (the peer reset the connection, say), and when:
    /// nothing more is written, and the input is read for at most
    /// [`LINGER`] more, in case it explains why.
    broken: Option<(io::Error, Instant)>,
}

/// What one write did (see [`Outgoing::wrote`]).
pub enum Wrote {
    /// The socket took some bytes, or may take some if tried again.
    Some,
    /// The socket takes nothing now: wait until it is writable.
    Blocked,
    /// The socket failed: nothing more is written.
    Broken,
}

impl Outgoing {
    /// Nothing to write yet, the write bound as `limits` says.
    pub fn new(limits: Limits, now: Instant) -> Outgoing {
        Outgoing {
            buf: Vec::new(),
            written: 0,
            progress: now,
            limits,
            broken: None,
        }
    }

    /// Whether some of it is still to write.
    pub fn pending(&self) -> bool {
        self.written < self.buf.len()
    }

    /// What one write takes next: at most [`WRITE_SLICE`] bytes.
    pub fn next_slice(&self) -> &[u8] {
        let end = self.buf.len().min(self.written + WRITE_SLICE);
        &self.buf[self.written..end]
    }

    /// Counts what a write of [`Outgoing::next_slice`] did, at `now`.
    pub fn wrote(&mut self, result: io::Result<usize>, now: Instant) -> Result<Wrote, DriveError> {
        match result {
            Ok(0) => Err(DriveError::Io(io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                self.written += n;
                self.progress = now;
                Ok(Wrote::Some)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(Wrote::Blocked)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Wrote::Some),
            Err(e) => {
                self.broken = Some((e, now));
                Ok(Wrote::Broken)
            }
        }
    }

    /// Whether a write failed.
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Lends the buffer to the connection, once all of it is written, so
    /// that what the session sends goes straight into it.
    fn lend(&mut self, conn: &mut Connection) {
        if !self.pending() {
            self.buf.clear();
            self.written = 0;
            conn.lend_output(&mut self.buf);
        }
    }

    /// Takes the connection's next output once all of ours is written
    /// (which restarts the write bound's clock); whether there is output
    /// to write.
    pub fn refill(&mut self, conn: &mut Connection, now: Instant) -> bool {
        if !self.pending() {
            // Gives back a buffer lent to the connection, with its output.
            self.buf.clear();
            conn.poll_transmit_into(&mut self.buf);
            self.written = 0;
            self.progress = now;
        }
        self.pending()
    }

    /// Drops what is left to write, and the buffer: nothing more can be
    /// written, or nothing is for a while.
    pub fn release(&mut self) {
        self.buf = Vec::new();
        self.written = 0;
    }

    /// Until when a write may wait: the earliest of the write bound
    /// (counted from the last progress), `give_up` and the connection's
    /// next deadline. `None` once `give_up` has passed;
    /// [`DriveError::Stalled`] (the connection closed) once the write
    /// bound has.
    pub fn write_until(
        &self,
        conn: &mut Connection,
        give_up: Option<Instant>,
        now: Instant,
    ) -> Result<Option<Instant>, DriveError> {
        let stalled_at = self.progress + self.limits.write_stall;
        if now >= stalled_at {
            conn.close(now);
            return Err(DriveError::Stalled {
                peer: self.limits.peer,
                after: self.limits.write_stall,
            });
        }
        if give_up.is_some_and(|t| now >= t) {
            return Ok(None);
        }
        let until = [give_up, conn.poll_timeout()]
            .into_iter()
            .flatten()
            .fold(stalled_at, Instant::min);
        Ok(Some(until))
    }

    /// Once the last words are out, or given up on (see [`Ending`]):
    /// a failed write fails the drive only when all of them had to go
    /// out.
    pub fn ended(&mut self, ending: Ending) -> Result<(), DriveError> {
        match self.broken.take() {
            Some((e, _)) if ending.write_within.is_none() => Err(DriveError::Io(e)),
            _ => Ok(()),
        }
    }
}

/// What a driver does after the session's turn (see [`turn`]).
pub enum Turn {
    /// Write the output.
    Write,
    /// More to send right away: turn again.
    Again,
    /// Nothing to write or to send: wait for input, or the connection's
    /// next deadline.
    Wait,
    /// A write failed: nothing more is written, and what the peer still
    /// says (its ERROR, its end of stream) may explain why: read input
    /// until then, or until the connection closes.
    Linger(Instant),
    /// A write failed and the connection is closed: the drive is over,
    /// with this result (the session's failure says more than the
    /// socket's).
    Over(Result<(), DriveError>),
}

/// The session's turn, the same in both drivers, once the input that
/// arrived is handed in: the timers once due, then what the session sends
/// (straight into `out`'s buffer, lent to the connection, when all of it
/// is written), then the connection's events; then what the driver does.
/// Once a write has failed, the output is dropped, and the input read for
/// at most [`LINGER`] (within the write bound) after the failure.
pub fn turn(conn: &mut Connection, app: &mut impl Session, out: &mut Outgoing) -> Turn {
    let now = Instant::now();
    if conn.poll_timeout().is_some_and(|t| t <= now) {
        conn.handle_timeout(now);
    }
    out.lend(conn);
    let mut more = app.pump(conn, now);
    while let Some(event) = conn.poll_event() {
        app.handle_event(conn, now, event);
        more = true;
    }
    let Some(at) = out.broken.as_ref().map(|(_, at)| *at) else {
        return if out.refill(conn, now) {
            Turn::Write
        } else if !more && conn.state() != State::Closed {
            Turn::Wait
        } else {
            Turn::Again
        };
    };
    out.release();
    let _ = conn.poll_transmit();
    let until = at + LINGER.min(out.limits.write_stall);
    if conn.state() != State::Closed && now < until {
        return Turn::Linger(until);
    }
    conn.close(now);
    Turn::Over(match out.broken.take() {
        Some(_) if app.failed() => Ok(()),
        Some((e, _)) => Err(DriveError::Io(e)),
        None => Ok(()),
    })
}

/// Once the connection is closed, in both drivers: the events of its last
/// input go to `app` (`Closed`, say), and the transport ends as
/// [`Connection::ending`] then says (`None` while the connection is open).
pub fn ending(conn: &mut Connection, app: &mut impl Session) -> Option<Ending> {
    while let Some(event) = conn.poll_event() {
        app.handle_event(conn, Instant::now(), event);
    }
    conn.ending(app.failed())
}

enum Input {
    Data(Vec<u8>),
    /// The end of the stream, or a read error (the connection treats both
    /// as the peer gone).
    Eof,
}

/// Runs `conn` over `stream` until `app` is finished, then shuts the
/// socket down; never blocks longer than the connection's next deadline
/// or the write bound.
///
/// Two threads: a reader thread reads (blocking, at most [`READ_BUF`]
/// bytes at a time) into a channel of [`INPUT_QUEUE`] reads, and ends when
/// the socket is shut down or the channel dropped, both of which happen
/// before this returns. This thread hands the input and the time to the
/// connection, calls `handle_timeout` when `poll_timeout` says, and writes
/// what the connection produces: partially (`write`, slices of 64 KiB),
/// with a write timeout recomputed before each call from the next
/// deadline (and at most 100 ms, so that progress is timed to that),
/// taking new output from the connection only once the last is
/// written. So the driver holds at most `(INPUT_QUEUE + 2) * READ_BUF`
/// bytes of input and one `poll_transmit` of output (the connection's
/// output, bounded by `Config::max_buffered`; an upload keeps it near
/// 256 KiB) per connection, besides what the connection itself holds
/// (`max_frame_len` of a partial frame, `max_buffered` of output).
///
/// A peer that takes none of our bytes for `limits.write_stall` fails
/// with [`DriveError::Stalled`] (the connection is closed). Once the
/// connection is over, the transport ends as [`Connection::ending`] says:
/// what the connection still produced goes out (a failed connection's
/// last words for at most [`LINGER`]), the write side is shut down and,
/// unless the peer timed out, the peer's end of the stream awaited for at
/// most [`LINGER`].
pub fn drive(
    stream: &TcpStream,
    conn: &mut Connection,
    app: &mut impl Session,
    limits: Limits,
) -> Result<(), DriveError> {
    let (tx, rx) = mpsc::sync_channel(INPUT_QUEUE);
    // Handled buffers, back to the reader.
    let (free_tx, free_rx) = mpsc::sync_channel(INPUT_QUEUE + 2);
    thread::scope(|scope| {
        let reader = thread::Builder::new()
            .name("securex-reader".into())
            .stack_size(READER_STACK)
            .spawn_scoped(scope, move || read_loop(stream, tx, free_rx));
        let result = match reader {
            Ok(_) => Driver::new(stream, conn, &rx, free_tx, limits).run(app),
            Err(e) => Err(DriveError::Io(e)),
        };
        // The end: shutting the socket down ends the reader's read, and
        // dropping the channel its wait to send; the scope joins it.
        let _ = stream.shutdown(Shutdown::Both);
        drop(rx);
        result
    })
}

/// The reader thread: reads until the end of the stream or an error, into
/// the buffers the driver hands back (a new one only while none is back).
#[allow(
    clippy::needless_pass_by_value,
    reason = "the thread owns its channel ends: dropping `tx` when it returns is how the driver learns the reader is gone"
)]
fn read_loop(mut stream: &TcpStream, tx: SyncSender<Input>, free: Channel<Vec<u8>>) {
    loop {
        let mut buf = free.try_recv().unwrap_or_default();
        buf.resize(READ_BUF, 0);
        let input = match stream.read(&mut buf) {
            Ok(0) => Input::Eof,
            Ok(n) => {
                buf.truncate(n);
                Input::Data(buf)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => Input::Eof,
        };
        let last = matches!(input, Input::Eof);
        if tx.send(input).is_err() || last {
            return;
        }
    }
}

/// The state of [`drive`]'s own thread.
struct Driver<'a> {
    stream: &'a TcpStream,
    conn: &'a mut Connection,
    input: &'a Channel<Input>,
    /// Handled input buffers, back to the reader.
    free: SyncSender<Vec<u8>>,
    /// Output taken from the connection (one buffer, reused).
    out: Outgoing,
    /// The peer's end of the stream was read.
    eof: bool,
}

impl<'a> Driver<'a> {
    fn new(
        stream: &'a TcpStream,
        conn: &'a mut Connection,
        input: &'a Channel<Input>,
        free: SyncSender<Vec<u8>>,
        limits: Limits,
    ) -> Driver<'a> {
        Driver {
            stream,
            conn,
            input,
            free,
            out: Outgoing::new(limits, Instant::now()),
            eof: false,
        }
    }

    fn run(mut self, app: &mut impl Session) -> Result<(), DriveError> {
        // Until the connection is over: an application that is finished
        // may still wait for it to flush (a server's answer to CLOSE
        // waits for the keys of a rotation under way), timers running.
        while self.conn.state() != State::Closed {
            // What arrived first, then the timers: an answer that came
            // while we were writing counts before its deadline.
            self.take_input();
            match turn(self.conn, app, &mut self.out) {
                Turn::Write => {
                    self.write(None)?;
                }
                Turn::Again => {}
                Turn::Wait => self.wait_input(None),
                Turn::Linger(until) => self.wait_input(Some(until)),
                Turn::Over(result) => return result,
            }
        }
        match ending(self.conn, app) {
            Some(ending) => self.finish(ending),
            // Never: the loop ends once the connection is closed.
            None => Ok(()),
        }
    }

    /// The connection is over: ends the transport as `ending` says.
    fn finish(mut self, ending: Ending) -> Result<(), DriveError> {
        let give_up = ending.write_within.map(|d| Instant::now() + d);
        while !self.out.is_broken() && self.out.refill(self.conn, Instant::now()) {
            if !self.write(give_up)? {
                break;
            }
        }
        self.out.ended(ending)?;
        let _ = self.stream.shutdown(Shutdown::Write);
        let Some(drain) = ending.drain_within else {
            return Ok(());
        };
        let until = Instant::now() + drain;
        while !self.eof {
            let wait = until.saturating_duration_since(Instant::now());
            match self.input.recv_timeout(wait) {
                Ok(Input::Data(_)) => {}
                Ok(Input::Eof) | Err(RecvTimeoutError::Disconnected) => self.eof = true,
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        Ok(())
    }

    /// Writes some of the output, blocking at most until the connection's
    /// next deadline, the write bound, or `give_up`; false once `give_up`
    /// has passed or the socket failed.
    fn write(&mut self, give_up: Option<Instant>) -> Result<bool, DriveError> {
        let now = Instant::now();
        let Some(until) = self.out.write_until(self.conn, give_up, now)? else {
            return Ok(false);
        };
        // A zero timeout is an error for the setter: 1 ms at least.
        let wait = until
            .saturating_duration_since(now)
            .clamp(Duration::from_millis(1), WRITE_WAIT);
        self.stream
            .set_write_timeout(Some(wait))
            .map_err(DriveError::Io)?;
        let mut stream = self.stream;
        let result = stream.write(self.out.next_slice());
        // Blocked: the write waited for as long as it may.
        Ok(!matches!(
            self.out.wrote(result, Instant::now())?,
            Wrote::Broken
        ))
    }

    /// Hands the connection what has arrived, without waiting (a few
    /// reads at most, so that writing goes on under a flood).
    fn take_input(&mut self) {
        for _ in 0..=INPUT_QUEUE {
            match self.input.try_recv() {
                Ok(input) => self.feed(input),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => return self.feed(Input::Eof),
            }
        }
    }

    /// Waits for input until the connection's next deadline (or `until`).
    fn wait_input(&mut self, until: Option<Instant>) {
        let deadline = match (self.conn.poll_timeout(), until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let input = match deadline {
            Some(t) => self
                .input
                .recv_timeout(t.saturating_duration_since(Instant::now())),
            None => self
                .input
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        };
        match input {
            Ok(input) => self.feed(input),
            Err(RecvTimeoutError::Disconnected) => self.feed(Input::Eof),
            // The timers run at the top of the loop.
            Err(RecvTimeoutError::Timeout) => {}
        }
    }

    fn feed(&mut self, input: Input) {
        match input {
            Input::Data(bytes) => {
                // A failure closes the connection and is reported as its
                // `Closed` event.
                let _ = self.conn.handle_input(Instant::now(), &bytes);
                let _ = self.free.try_send(bytes);
            }
            Input::Eof => {
                if !self.eof {
                    self.eof = true;
                    self.conn.handle_eof();
                }
            }
        }
    }
}

/// What a client run achieved.
pub struct Sent {
    /// The name the server stores the file under.
    pub name: String,
    /// The bytes the server already held (a resumed upload), else 0.
    pub resumed_from: u64,
    pub bytes: u64,
    /// From the connect to the end of the transfer.
    pub elapsed: Duration,
    /// `v1` or `v2`.
    pub version: String,
    pub suite: String,
    pub rotations: u32,
}

/// Connects to `addr`, trying each of its addresses for at most `timeout`.
fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let mut last = format!("cannot connect to {addr}: no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// Sends the files of `batch` to `addr` on one connection (v1: complete
/// once `CLOSE` is written): what it stored, the error that ended it, and
/// the files it did not start ([`upload::Batch::outcome`]).
pub fn send_batch(
    addr: &str,
    config: Config,
    mut batch: upload::Batch,
) -> (Vec<Sent>, Option<String>, Vec<upload::Prepared>) {
    let limits = Limits::new(&config, "server");
    let result = connect(addr, limits.write_stall).and_then(|stream| {
        stream.set_nodelay(true).ok();
        let conn =
            Connection::client(config, os_rng(), Instant::now()).map_err(|e| e.to_string())?;
        Ok((stream, conn))
    });
    let (stream, mut conn) = match result {
        Ok(pair) => pair,
        // The first failure ends the command: nothing is left to send.
        Err(e) => {
            batch.finish();
            return (Vec::new(), Some(e), Vec::new());
        }
    };
    let result = drive(&stream, &mut conn, &mut batch, limits);
    batch.finish();
    batch.outcome(addr, result, &conn)
}

/// The `--max-file-size` default: 4 GiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 << 30;

/// The `--max-bytes-per-connection` default: 64 GiB, over every file of a
/// batch.
pub const DEFAULT_MAX_CONNECTION_BYTES: u64 = 64 << 30;

/// How the server stores what clients send.
#[derive(Debug, Clone)]
pub struct Store {
    /// The directory (it must exist).
    pub dir: PathBuf,
    /// The largest file accepted, in bytes (`--max-file-size`).
    pub max_file_len: u64,
    /// Replace a stored file (or another upload's `.partial`) of the same
    /// name (`--overwrite`); by default such an `OPEN` is refused.
    pub overwrite: bool,
    /// The most files one connection stores (`--max-files-per-connection`).
    pub max_files: usize,
    /// The most bytes one connection stores over all its files
    /// (`--max-bytes-per-connection`).
    pub max_connection_len: u64,
}

impl Store {
    /// The defaults: at most 4 GiB per file, nothing replaced.
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store {
            dir: dir.into(),
            max_file_len: DEFAULT_MAX_FILE_SIZE,
            overwrite: false,
            max_files: securex::transfer::DEFAULT_MAX_FILES,
            max_connection_len: DEFAULT_MAX_CONNECTION_BYTES,
        }
    }

    /// A receiver for one upload (the file's SHA-256 inline; the std
    /// server adds a hashing thread).
    pub fn receiver(&self) -> Receiver {
        Receiver::new(&self.dir)
            .with_max_file_len(self.max_file_len)
            .with_overwrite(self.overwrite)
            .with_max_files(self.max_files)
            .with_max_connection_len(self.max_connection_len)
            .with_resume(os_rng())
    }
}

/// Serves one client on `stream`, storing as `store` says; returns the
/// log line. The socket is shut down when this returns.
#[allow(
    clippy::needless_pass_by_value,
    reason = "serve owns the socket: it is closed when the connection's work is over"
)]
pub fn serve(stream: TcpStream, config: Config, store: &Store) -> String {
    let peer = peer_name(stream.peer_addr());
    stream.set_nodelay(true).ok();
    let limits = Limits::new(&config, "client");
    let mut conn = match Connection::server(config, os_rng(), Instant::now()) {
        Ok(conn) => conn,
        Err(e) => return format!("peer={peer} refused: {e}"),
    };
    let receiver = store.receiver().with_digest(ThreadedSha256::new());
    let mut download = Download::new(receiver);
    let io_result = drive(&stream, &mut conn, &mut download, limits);
    served(&peer, &conn, io_result, &mut download)
}

/// A peer's address for the log, `?` if unknown.
pub fn peer_name(addr: io::Result<std::net::SocketAddr>) -> String {
    addr.map_or_else(|_| "?".into(), |a| a.to_string())
}

/// The log line of a connection served to `peer`, once driven
/// (`io_result`).
pub fn served(
    peer: &str,
    conn: &Connection,
    io_result: Result<(), DriveError>,
    download: &mut Download,
) -> String {
    let suite = conn
        .suite()
        .map_or_else(|| "none".into(), |s| s.to_string());
    // Earlier files of a batch, stored before the last one or a failure.
    let names: Vec<String> = download.stored().iter().map(|p| file_name(p)).collect();
    let earlier = match names.len() {
        0 => String::new(),
        1 => format!("stored {}; ", names[0]),
        n => format!("stored {n} files: {}; ", names.join(", ")),
    };
    let outcome = match (io_result, download.outcome().cloned()) {
        (_, Some(Ok(_))) if names.len() > 1 => {
            format!("stored {} files: {}", names.len(), names.join(", "))
        }
        (_, Some(Ok(path))) => format!(
            "stored {} ({} bytes)",
            file_name(&path),
            download.stored_bytes().last().copied().unwrap_or_default()
        ),
        (io_result, failure) => {
            let why = match (io_result, failure) {
                (Err(e @ DriveError::Stalled { .. }), _) => e.to_string(),
                (Err(e), _) => format!("I/O error: {e}"),
                (Ok(()), Some(Err(e))) => e.to_string(),
                (Ok(()), _) => "unfinished".into(),
            };
            let written = download.receiver().bytes_written();
            match download.partial() {
                Some(path) => format!(
                    "{earlier}failed: {why}; kept {} ({written} bytes)",
                    file_name(&path)
                ),
                None => format!("{earlier}failed: {why}"),
            }
        }
    };
    format!(
        "peer={peer} suite={suite} rotations={} {outcome}",
        conn.epoch()
    )
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
