//! What the example programs share: flags to `Config`, the blocking
//! `std::net` loop that drives a `Connection`, and the two ends of a file
//! transfer. The library does no I/O; this is all the I/O there is.

#![allow(dead_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use securex::config::Psk;
use securex::dh::{Group, KeyPair, NamedGroup, PublicKey};
use securex::suite::{Cipher, Hash, Mode, Offer};
use securex::transfer::{Download, Receiver, Sender, Upload};
use securex::{Config, Connection, Event, State};

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
    /// A file holding a pre-shared key (at least 16 bytes of high entropy);
    /// both sides must use the same (v2).
    #[arg(long)]
    pub psk_file: Option<PathBuf>,
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
        if let Some(path) = &self.psk_file {
            config.psk = Some(read_psk(path)?);
        }
        Ok(config)
    }
}

/// Reads a PSK file; its identifier is derived from the key, so that both
/// sides agree on it without another flag (it reveals nothing of a
/// high-entropy key).
fn read_psk(path: &Path) -> Result<Psk, String> {
    use sha2::Digest;
    let key = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if key.len() < 16 {
        return Err(format!("{}: a PSK needs at least 16 bytes", path.display()));
    }
    let digest = sha2::Sha256::new()
        .chain_update(b"securex psk id")
        .chain_update(&key)
        .finalize();
    Psk::new(base16ct::lower::encode_string(&digest[..8]), &key)
        .ok_or_else(|| format!("{}: a PSK needs at least 16 bytes", path.display()))
}

/// Loads the server's long-term key from `path`, creating it (mode 0600)
/// if missing; returns the key and whether it was created.
pub fn load_or_create_static_key(path: &Path) -> Result<(KeyPair, bool), String> {
    let group = Group::named(NamedGroup::Ffdhe2048);
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let hex = text
                .lines()
                .find_map(|l| l.strip_prefix("private "))
                .ok_or_else(|| format!("{}: no 'private' line", path.display()))?;
            let x = zeroize::Zeroizing::new(
                base16ct::mixed::decode_vec(hex.trim())
                    .map_err(|_| format!("{}: bad hex", path.display()))?,
            );
            let key = KeyPair::from_private_bytes(&group, &x)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            use std::os::unix::fs::OpenOptionsExt;
            let key = KeyPair::generate(&group, &mut os_rng());
            let text = zeroize::Zeroizing::new(format!(
                "securex static key\ngroup ffdhe2048\nprivate {}\n",
                base16ct::lower::encode_string(&key.private_bytes())
            ));
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
pub fn exit_with(message: String) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

/// A CSPRNG seeded from the operating system, for one connection.
pub fn os_rng() -> rand::rngs::StdRng {
    rand::make_rng()
}

/// What drives the application side of a connection.
pub trait Application {
    /// Reacts to an event.
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event);
    /// Feeds the connection; true if there is more to send right away.
    fn pump(&mut self, conn: &mut Connection, now: Instant) -> bool;
    /// Whether the work is over (successfully or not).
    fn finished(&self) -> bool;
}

impl<R: Read> Application for Upload<R> {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        Upload::handle_event(self, conn, now, event)
    }
    fn pump(&mut self, conn: &mut Connection, now: Instant) -> bool {
        Upload::pump(self, conn, now)
    }
    fn finished(&self) -> bool {
        self.outcome().is_some()
    }
}

impl Application for Download {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        Download::handle_event(self, conn, now, event)
    }
    fn pump(&mut self, _: &mut Connection, _: Instant) -> bool {
        false
    }
    fn finished(&self) -> bool {
        self.outcome().is_some()
    }
}

enum Input {
    Data(Vec<u8>),
    Eof,
}

/// Runs `conn` over `stream` until `app` is finished: a reader thread
/// feeds the bytes it reads through a channel, this thread writes
/// everything the connection produces and hands it the time.
pub fn drive(
    stream: &TcpStream,
    conn: &mut Connection,
    app: &mut impl Application,
) -> io::Result<()> {
    let (tx, rx) = mpsc::channel();
    let mut reader = stream.try_clone()?;
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(Input::Eof);
                    return;
                }
                Ok(n) => {
                    if tx.send(Input::Data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut writer = stream;
    loop {
        let mut more = app.pump(conn, Instant::now());
        while let Some(bytes) = conn.poll_transmit() {
            writer.write_all(&bytes)?;
        }
        while let Some(event) = conn.poll_event() {
            app.handle_event(conn, Instant::now(), event);
            more = true;
        }
        if app.finished() {
            // What the last events produced (an ERROR, say) still goes out.
            while let Some(bytes) = conn.poll_transmit() {
                writer.write_all(&bytes)?;
            }
            return Ok(());
        }
        let input = if more {
            rx.try_recv().map_err(|_| RecvTimeoutError::Timeout)
        } else {
            let wait = conn
                .poll_timeout()
                .map(|t| t.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            rx.recv_timeout(wait)
        };
        match input {
            Ok(Input::Data(bytes)) => {
                let _ = conn.handle_input(Instant::now(), &bytes);
            }
            Ok(Input::Eof) | Err(RecvTimeoutError::Disconnected) => conn.handle_eof(),
            Err(RecvTimeoutError::Timeout) => conn.handle_timeout(Instant::now()),
        }
    }
}

/// What a client run achieved.
pub struct Sent {
    pub name: String,
    pub bytes: u64,
    pub suite: String,
    pub rotations: u32,
}

/// Sends the file at `path` to `addr` (v1: complete once `CLOSE` is
/// written). Sends only the file's name, never its directories.
pub fn send_file(
    addr: &str,
    config: Config,
    path: &Path,
    chunk_size: usize,
) -> Result<Sent, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} names no file", path.display()))?;
    let sender = Sender::new(io::BufReader::new(file), name.clone(), chunk_size)
        .map_err(|e| e.to_string())?;
    let stream = TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_nodelay(true).ok();
    let mut conn = Connection::client(config, os_rng(), Instant::now());
    let mut upload = Upload::new(sender);
    drive(&stream, &mut conn, &mut upload)
        .map_err(|e| format!("connection to {addr} failed: {e}"))?;
    match upload.outcome() {
        Some(Ok(())) => {
            // Let the server read everything before we go: half-close, then
            // wait briefly for its end of the stream.
            let _ = stream.shutdown(Shutdown::Write);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = io::copy(&mut &stream, &mut io::sink());
            Ok(Sent {
                name,
                bytes: upload.sender().bytes_read(),
                suite: conn.suite().map(|s| s.to_string()).unwrap_or_default(),
                rotations: conn.epoch(),
            })
        }
        Some(Err(e)) => Err(e.to_string()),
        None => Err("the transfer did not finish".into()),
    }
}

/// Serves one client on `stream`, storing into `dir`; returns the log line.
pub fn serve(stream: TcpStream, config: Config, dir: &Path) -> String {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let mut conn = Connection::server(config, os_rng(), Instant::now());
    let mut download = Download::new(Receiver::new(dir));
    let io_result = drive(&stream, &mut conn, &mut download);
    let _ = stream.shutdown(Shutdown::Both);
    let suite = conn
        .suite()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "none".into());
    let outcome = match (io_result, download.outcome().cloned()) {
        (_, Some(Ok(path))) => format!(
            "stored {} ({} bytes)",
            file_name(&path),
            download.receiver().bytes_written()
        ),
        (io_result, failure) => {
            let why = match (io_result, failure) {
                (Err(e), _) => format!("I/O error: {e}"),
                (Ok(()), Some(Err(e))) => e.to_string(),
                (Ok(()), _) => "unfinished".into(),
            };
            let written = download.receiver().bytes_written();
            match download.partial() {
                Some(path) => format!("failed: {why}; kept {} ({written} bytes)", file_name(&path)),
                None => format!("failed: {why}"),
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

/// The default chunk size of a preset: 960 bytes (seed) or 16 KiB.
pub fn default_chunk_size(seed_compatible: bool) -> usize {
    if seed_compatible {
        securex::transfer::DEFAULT_CHUNK_SIZE
    } else {
        16 * 1024
    }
}

/// A directory that is removed when dropped.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether the connection ended in a state where nothing more will come.
pub fn is_closed(conn: &Connection) -> bool {
    conn.state() == State::Closed
}
