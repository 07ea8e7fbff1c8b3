//! The tokio driver of a `Connection` (see [`drive`]), and the two ends of
//! a file transfer on it, for the tokio programs. The same bounds and the
//! same end as the std driver ([`super::drive`]), without its threads: one
//! task per connection, and nothing held by an idle one but the connection
//! itself and its socket.
//!
//! What an idle connection costs here, and why:
//!
//! * no read buffer of its own: a read happens only once the socket is
//!   readable, into the buffer of the worker thread that runs the task
//!   ([`READ_BUF`], one per thread), and the bytes go to the connection
//!   before the task yields;
//! * no write buffer while it waits with nothing to write: the buffer of
//!   its output is dropped then (the connection keeps at most
//!   [`securex::RETAINED_OUTPUT`] of its own);
//! * no thread: the server checks the file's SHA-256 inline, on the
//!   runtime's workers (the std server gives each upload a hashing thread,
//!   made with the connection; see `tokio_server`'s doc for the
//!   trade-off);
//! * a timer entry (the connection's next deadline) while it waits.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;

use securex::connection::Ending;
use securex::transfer::{Download, Session};
use securex::{Config, Connection, State};

use super::{
    DriveError, INPUT_QUEUE, Limits, Outgoing, READ_BUF, Sent, Store, Turn, Wrote, ending, turn,
};

thread_local! {
    /// The read buffer of every connection this thread drives (made on
    /// its first read): the connection takes each read's bytes before the
    /// task can yield, so no task holds it across an `await`.
    static READ: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUF]);
}

/// What one non-blocking read found.
enum ReadOutcome {
    /// Bytes, handed to the connection.
    Data,
    /// Nothing to read now.
    Nothing,
    /// The end of the stream, or a read error (the connection treats both
    /// as the peer gone).
    Eof,
}

/// Reads once (at most [`READ_BUF`] bytes) without blocking, handing the
/// bytes to `take`.
fn read_once(stream: &TcpStream, take: impl FnOnce(&[u8])) -> ReadOutcome {
    READ.with(|buf| {
        let mut buf = buf.borrow_mut();
        loop {
            return match stream.try_read(&mut buf) {
                Ok(0) => ReadOutcome::Eof,
                Ok(n) => {
                    take(&buf[..n]);
                    ReadOutcome::Data
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadOutcome::Nothing,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => ReadOutcome::Eof,
            };
        }
    })
}

/// Runs `conn` over `stream` until it is closed, then ends the transport
/// as [`Connection::ending`] says; never waits past the connection's next
/// deadline or the write bound. The tokio counterpart of
/// [`super::drive`], with the same bounds and the same end (the steps
/// that do no I/O are the same functions):
///
/// * input: read only when the socket is readable, at most [`READ_BUF`]
///   bytes a read and `INPUT_QUEUE + 1` reads before the next write (so
///   that writing goes on under a flood), each handed to the connection
///   at once; the driver holds none between reads, the kernel's buffer
///   pushes back on the peer, and the connection bounds a partial frame
///   by `max_frame_len`. The end of the stream is `handle_eof`;
/// * output: one `poll_transmit_into` at a time (the connection's output
///   is bounded by `max_buffered`), written in slices of [`WRITE_SLICE`](super::WRITE_SLICE)
///   as the socket takes them; new output is taken only once the last is
///   written. While output waits, the driver waits for the socket to be
///   writable or readable, or for the earlier of the connection's next
///   deadline and the write bound: a peer that takes none of our bytes for
///   `limits.write_stall` fails with [`DriveError::Stalled`] (the
///   connection is closed);
/// * the timers: `handle_timeout` once `poll_timeout` has come, checked
///   after the input of each turn;
/// * the end, as [`Ending`] says: what the connection still produced goes
///   out (a failed connection's last words for at most [`LINGER`](securex::connection::LINGER)), our
///   write side is shut down and, unless the peer timed out, the peer's
///   end of the stream awaited for at most [`LINGER`](securex::connection::LINGER): after a successful
///   v1 upload (complete once `CLOSE` is written) the server reads it all
///   before it closes, and the client's close resets nothing.
pub async fn drive(
    stream: &mut TcpStream,
    conn: &mut Connection,
    app: &mut impl Session,
    limits: Limits,
) -> Result<(), DriveError> {
    Driver {
        stream,
        conn,
        out: Outgoing::new(limits, Instant::now()),
        eof: false,
    }
    .run(app)
    .await
}

/// The state of [`drive`].
struct Driver<'a> {
    stream: &'a mut TcpStream,
    conn: &'a mut Connection,
    /// Output taken from the connection, its buffer dropped while idle.
    out: Outgoing,
    /// The peer's end of the stream was read.
    eof: bool,
}

/// What woke a wait.
enum Woken {
    Readable,
    Other,
}

impl Driver<'_> {
    async fn run(mut self, app: &mut impl Session) -> Result<(), DriveError> {
        while self.conn.state() != State::Closed {
            // The input first, then the session (see `super::turn`).
            self.take_input();
            match turn(self.conn, app, &mut self.out) {
                Turn::Write => {
                    self.write(None).await?;
                }
                Turn::Again => {}
                Turn::Wait => {
                    // Idle until the peer speaks or a deadline comes: the
                    // buffer goes (the connection has its own, small).
                    self.out.release();
                    self.wait(None, false).await;
                }
                Turn::Linger(until) => self.wait(Some(until), false).await,
                Turn::Over(result) => return result,
            }
        }
        match ending(self.conn, app) {
            // Boxed: the future of an idle connection need not have room
            // for the end's.
            Some(ending) => Box::pin(self.finish(ending)).await,
            // Never: the loop ends once the connection is closed.
            None => Ok(()),
        }
    }

    /// The connection is over: ends the transport as `ending` says.
    async fn finish(mut self, ending: Ending) -> Result<(), DriveError> {
        let give_up = ending.write_within.map(|d| Instant::now() + d);
        while !self.out.is_broken() && self.out.refill(self.conn, Instant::now()) {
            if !self.write(give_up).await? {
                break;
            }
        }
        self.out.ended(ending)?;
        // `shutdown(Write)`, ready at once.
        let _ = poll_fn(|cx| Pin::new(&mut *self.stream).poll_shutdown(cx)).await;
        let Some(drain) = ending.drain_within else {
            return Ok(());
        };
        // What still comes is read (and dropped by the closed connection)
        // until the end of the stream, for at most `drain`.
        let until = Instant::now() + drain;
        while !self.eof && Instant::now() < until {
            self.wait(Some(until), false).await;
        }
        Ok(())
    }

    /// Writes some of the output if the socket takes it, else waits (see
    /// [`Driver::wait`]) at most until the connection's next deadline, the
    /// write bound or `give_up`; false once `give_up` has passed or the
    /// socket failed.
    async fn write(&mut self, give_up: Option<Instant>) -> Result<bool, DriveError> {
        let now = Instant::now();
        let Some(until) = self.out.write_until(self.conn, give_up, now)? else {
            return Ok(false);
        };
        let result = self.stream.try_write(self.out.next_slice());
        match self.out.wrote(result, Instant::now())? {
            Wrote::Some => Ok(true),
            Wrote::Blocked => {
                self.wait(Some(until), true).await;
                Ok(true)
            }
            Wrote::Broken => Ok(false),
        }
    }

    /// Hands the connection what has arrived, without waiting (a few
    /// reads at most, so that writing goes on under a flood).
    fn take_input(&mut self) {
        for _ in 0..=INPUT_QUEUE {
            if self.eof {
                return;
            }
            let conn = &mut *self.conn;
            // A failure closes the connection and is reported as its
            // `Closed` event.
            match read_once(self.stream, |bytes| {
                let _ = conn.handle_input(Instant::now(), bytes);
            }) {
                ReadOutcome::Data => {}
                ReadOutcome::Nothing => return,
                ReadOutcome::Eof => {
                    self.eof = true;
                    self.conn.handle_eof();
                    return;
                }
            }
        }
    }

    /// Waits until the socket is readable (unless its end was read), or
    /// writable (if `writable`), or the earlier of the connection's next
    /// deadline and `until` comes; what was readable is handed to the
    /// connection. The timers run at the top of the loop.
    async fn wait(&mut self, until: Option<Instant>, writable: bool) {
        let deadline = match (self.conn.poll_timeout(), until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // One readiness future for both directions, and one timer: all
        // an idle connection's future holds while it waits.
        let interest = match (!self.eof, writable) {
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (true, false) => Interest::READABLE,
            (false, true) => Interest::WRITABLE,
            (false, false) => match deadline {
                Some(t) => return tokio::time::sleep_until(t.into()).await,
                // Nothing can wake us: the caller's loop sees why.
                None => return,
            },
        };
        let stream = &*self.stream;
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        let woken = tokio::select! {
            r = stream.ready(interest) => match r {
                Ok(ready) if !ready.is_readable() && !ready.is_read_closed() => Woken::Other,
                // Readable, or failed: the next read says what.
                _ => Woken::Readable,
            },
            () = sleep => Woken::Other,
        };
        if let Woken::Readable = woken {
            self.take_input();
        }
    }
}

/// Connects to `addr`, trying each of its addresses for at most `timeout`
/// (the std client's messages).
async fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let mut last = format!("cannot connect to {addr}: no address");
    for a in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(a)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = format!("cannot connect to {addr}: {e}"),
            Err(_) => last = format!("cannot connect to {addr}: connection timed out"),
        }
    }
    Err(last)
}

/// Sends the files of `batch` to `addr` on one connection:
/// [`super::send_batch`] on tokio.
pub async fn send_batch(
    addr: &str,
    config: Config,
    mut batch: super::upload::Batch,
) -> (Vec<Sent>, Option<String>, Vec<super::upload::Prepared>) {
    let limits = Limits::new(&config, "server");
    let mut stream = match connect(addr, limits.write_stall).await {
        Ok(stream) => stream,
        Err(e) => {
            batch.finish();
            return (Vec::new(), Some(e), Vec::new());
        }
    };
    stream.set_nodelay(true).ok();
    let mut conn = match Connection::client(config, super::os_rng(), Instant::now()) {
        Ok(conn) => conn,
        Err(e) => {
            batch.finish();
            return (Vec::new(), Some(e.to_string()), Vec::new());
        }
    };
    let result = drive(&mut stream, &mut conn, &mut batch, limits).await;
    batch.finish();
    batch.outcome(addr, result, &conn)
}

/// Serves one client on `stream`, storing as `store` says; returns the
/// log line ([`super::serve`] on tokio, the file's SHA-256 checked
/// inline). The socket is closed when this returns.
///
/// The configuration is borrowed (shared by every connection's task and
/// cloned into the connection only), and the peer's address kept as it
/// is until the log line: the future of an idle connection holds little
/// beyond the `Connection`, the `Download` and the driver.
pub async fn serve(mut stream: TcpStream, config: &Config, store: &Store) -> String {
    let peer = stream.peer_addr();
    stream.set_nodelay(true).ok();
    let limits = Limits::new(config, "client");
    let mut conn = match Connection::server(config.clone(), super::os_rng(), Instant::now()) {
        Ok(conn) => conn,
        Err(e) => return format!("peer={} refused: {e}", super::peer_name(peer)),
    };
    let mut download = Download::new(store.receiver());
    let io_result = drive(&mut stream, &mut conn, &mut download, limits).await;
    super::served(&super::peer_name(peer), &conn, io_result, &mut download)
}
