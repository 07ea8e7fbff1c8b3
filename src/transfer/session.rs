//! The glue between a [`Connection`] and a [`Sender`] or [`Receiver`]:
//! what a client or server program does with each event. Still sans-IO:
//! the caller moves bytes and time; these only react to events and feed
//! the connection.

use std::io::Read;
use std::path::PathBuf;
use std::string::ToString;
use std::time::Instant;
use std::vec::Vec;

use super::{Receiver, Sender, TransferError};
use crate::config::Extension;
use crate::connection::{Connection, Event, State, Version};
use crate::error::Error;
use crate::message::Message;

/// How much an [`Upload`] lets the connection hold before it waits for the
/// caller to drain `poll_transmit`: a few chunks in flight, no more.
const LOW_WATER: usize = 256 * 1024;

/// Why a transfer did not complete.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The channel failed (or the peer went away).
    Channel(Error),
    /// The file transfer failed (refused by the server, a bad name, I/O).
    Transfer(TransferError),
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SessionError::Channel(e) => write!(f, "channel: {e}"),
            SessionError::Transfer(e) => write!(f, "transfer: {e}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<Error> for SessionError {
    fn from(e: Error) -> Self {
        SessionError::Channel(e)
    }
}

impl From<TransferError> for SessionError {
    fn from(e: TransferError) -> Self {
        SessionError::Transfer(e)
    }
}

/// One end of a file transfer, as a driver runs it on top of a
/// [`Connection`]: an [`Upload`] on a client, a [`Download`] on a server.
/// A driver that is generic over it (a `std::net` loop, a tokio task, a
/// test harness) runs either the same way:
///
/// * after each input or command, hand every event of
///   [`Connection::poll_event`] (or every
///   [`Output::Event`](crate::Output::Event) of
///   [`Connection::poll_output`]) to [`handle_event`](Session::handle_event);
/// * call [`pump`](Session::pump) whenever the connection's output has
///   been drained, and again right away while it returns `true` (there is
///   more to send: do not block waiting for input);
/// * keep going until the connection is [`State::Closed`], then end the
///   transport as [`Connection::ending`]`(session.failed())` says, and
///   read the outcome ([`Upload::outcome`], [`Download::outcome`]).
///
/// ```
/// use std::time::Instant;
/// use securex::transfer::Session;
/// use securex::{Connection, State};
///
/// /// Runs `session` on `conn` as far as it goes without the peer.
/// fn step(conn: &mut Connection, session: &mut impl Session, now: Instant) {
///     while let Some(event) = conn.poll_event() {
///         session.handle_event(conn, now, event);
///     }
///     while conn.state() != State::Closed && session.pump(conn, now) {
///         // A real driver writes `conn.poll_transmit()` out here.
///         let _ = conn.poll_transmit();
///     }
/// }
/// ```
pub trait Session {
    /// Reacts to one event of the connection (it may send, or close the
    /// connection).
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event);

    /// Hands the connection what it should send now; `true` if more could
    /// go once the caller has drained its output (so the caller should
    /// not block waiting for input).
    fn pump(&mut self, conn: &mut Connection, now: Instant) -> bool;

    /// Whether the transfer is over and failed. A failure of the transfer
    /// itself may close the connection cleanly (a server that refuses a
    /// file sends its ERROR and closes; an upload whose file cannot be
    /// read closes): only the session knows it failed. Hand it to
    /// [`Connection::ending`].
    fn failed(&self) -> bool;
}

impl<R: Read> Session for Upload<R> {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        Upload::handle_event(self, conn, now, event);
    }

    fn pump(&mut self, conn: &mut Connection, now: Instant) -> bool {
        Upload::pump(self, conn, now)
    }

    fn failed(&self) -> bool {
        matches!(self.outcome, Some(Err(_)))
    }
}

/// A server has nothing to send of its own accord: its answers go out as
/// it handles the client's messages, so [`pump`](Session::pump) does
/// nothing.
impl Session for Download {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        Download::handle_event(self, conn, now, event);
    }

    fn pump(&mut self, _: &mut Connection, _: Instant) -> bool {
        false
    }

    fn failed(&self) -> bool {
        matches!(self.outcome, Some(Err(_)))
    }
}

/// The client side of a file transfer over a connection: one file
/// ([`Upload::new`]) or several, one after another
/// ([`Upload::batch`]).
///
/// Call [`Upload::handle_event`] with every event, [`Upload::pump`] after
/// every drain of the connection's output, and stop when
/// [`Upload::outcome`] is `Some`.
///
/// In v2 a file is complete when the server answers `CLOSE` with `OK`:
/// the file is stored and its SHA-256 matched. In v1 it is complete once
/// `CLOSE` has been written: existing servers never answer it. `pump`
/// reports completion (and closes the connection) as soon as `CLOSE` has
/// become a frame; the caller must then still write what `poll_transmit`
/// returns before it trusts `Some(Ok(()))`, and end the transport as
/// [`Connection::ending`] says (all the output written, a half-close,
/// then a wait for the server's end of stream), so that the `CLOSE` the
/// server never acknowledges is not lost to a reset.
///
/// A batch sends its next file after the server's `OK` to the last one's
/// `CLOSE`, where the connection agreed
/// [`Extension::Batch`] (see [`crate::manual::v2_wire`], "Batch"), and
/// closes the connection after the last `OK`. Without it (v1, or a server
/// that does not speak it) the connection carries the first file only;
/// [`Upload::into_unsent`] gives back the others, for new connections.
#[derive(Debug)]
pub struct Upload<R> {
    /// The files, in order; never empty.
    senders: Vec<Sender<R>>,
    /// The index of the file being sent.
    current: usize,
    /// Whether the current file's first message went out.
    opened: bool,
    /// The files the server confirmed stored.
    completed: usize,
    outcome: Option<Result<(), SessionError>>,
}

impl<R: Read> Upload<R> {
    /// An upload of what `sender` reads: one file.
    pub fn new(sender: Sender<R>) -> Upload<R> {
        Upload {
            senders: alloc::vec![sender],
            current: 0,
            opened: false,
            completed: 0,
            outcome: None,
        }
    }

    /// An upload of several files, in order, on one connection where it
    /// agreed [`Extension::Batch`]; otherwise of the first only (see
    /// [`into_unsent`](Upload::into_unsent) for the others).
    ///
    /// # Errors
    ///
    /// [`TransferError::EmptyBatch`] if `senders` is empty.
    pub fn batch(senders: Vec<Sender<R>>) -> Result<Upload<R>, TransferError> {
        if senders.is_empty() {
            return Err(TransferError::EmptyBatch);
        }
        Ok(Upload {
            senders,
            current: 0,
            opened: false,
            completed: 0,
            outcome: None,
        })
    }

    /// The sender of the current file ([`current`](Upload::current)):
    /// bytes read, digest, resume token.
    #[must_use]
    pub fn sender(&self) -> &Sender<R> {
        // `current` stays an index of `senders`, which is never empty.
        let last = self.senders.len().saturating_sub(1);
        &self.senders[self.current.min(last)]
    }

    /// The index in [`senders`](Upload::senders) of the file being sent;
    /// once the upload is over, of the last one confirmed, or of the one
    /// that failed.
    #[must_use]
    pub fn current(&self) -> usize {
        self.current
    }

    /// Every file of the upload, in order (resume tokens, digests).
    #[must_use]
    pub fn senders(&self) -> &[Sender<R>] {
        &self.senders
    }

    /// How many files the server confirmed stored (in v1, whose servers
    /// confirm nothing, the file whose `CLOSE` became a frame).
    #[must_use]
    pub fn completed(&self) -> usize {
        self.completed
    }

    /// The senders of the files this connection never started, in order:
    /// those after the first where the connection did not agree
    /// [`Extension::Batch`], those after a file that failed, or all of
    /// them if the connection failed before the first `OPEN` went out. A
    /// caller sends them on new connections.
    #[must_use]
    pub fn into_unsent(self) -> Vec<Sender<R>> {
        let first = self.current + usize::from(self.opened);
        self.senders.into_iter().skip(first).collect()
    }

    /// `Some` once the transfer succeeded or failed: `Ok` once every file
    /// this connection may carry is confirmed (all of them with
    /// [`Extension::Batch`] agreed, the first otherwise); the error of
    /// the first file (or of the connection) that failed, which ends the
    /// upload.
    #[must_use]
    pub fn outcome(&self) -> Option<&Result<(), SessionError>> {
        self.outcome.as_ref()
    }

    /// Whether, the current file confirmed, another goes on this
    /// connection.
    fn has_next(&self, conn: &Connection) -> bool {
        conn.version() == Some(Version::V2)
            && conn.has_extension(Extension::Batch)
            && self.current + 1 < self.senders.len()
    }

    /// The current file is confirmed: the next one goes, or the upload is
    /// complete.
    fn confirmed(&mut self, conn: &mut Connection, now: Instant) {
        self.completed += 1;
        if self.has_next(conn) {
            self.current += 1;
            self.opened = false;
        } else {
            self.outcome = Some(Ok(()));
            conn.close(now);
        }
    }

    /// Reacts to one event of the connection.
    pub fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        if self.outcome.is_some() {
            return;
        }
        let Some(sender) = self.senders.get_mut(self.current) else {
            return;
        };
        match event {
            // v2: the server confirms CLOSE once the file is stored and its
            // digest matched.
            Event::Message(Message::Ok)
                if sender.is_finished() && conn.version() == Some(Version::V2) =>
            {
                self.confirmed(conn, now);
            }
            Event::Message(message) => {
                if let Err(e) = sender.handle_message(&message) {
                    self.fail(conn, now, e.into());
                }
            }
            Event::Closed { error } => {
                let error =
                    error.unwrap_or(Error::Protocol(crate::error::ProtocolError::UnexpectedEof));
                self.outcome = Some(Err(error.into()));
            }
            _ => {}
        }
    }

    /// Hands the connection as many messages as it should hold now, and
    /// notices completion. Returns whether it could send more right away
    /// once the caller has drained `poll_transmit` (the caller should not
    /// block waiting for input then).
    pub fn pump(&mut self, conn: &mut Connection, now: Instant) -> bool {
        if self.outcome.is_some() {
            return false;
        }
        // The first message waits for the handshake: whether it is `Open`
        // or `Resume` depends on what the hellos agreed.
        if matches!(conn.state(), State::Negotiating | State::Handshaking) {
            return false;
        }
        let Some(sender) = self.senders.get_mut(self.current) else {
            return false;
        };
        sender.agree_resume(conn.has_extension(Extension::Resume));
        while !sender.is_finished() && conn.buffered_len() < LOW_WATER {
            let message = match sender.next_message() {
                Ok(Some(message)) => message,
                // Waiting for the server's OK.
                Ok(None) => return false,
                Err(e) => {
                    self.fail(conn, now, e.into());
                    return false;
                }
            };
            if let Err(e) = conn.send(now, message) {
                // A connection closed by the peer explains itself better
                // than the refused send does.
                let error = conn.close_reason().cloned().unwrap_or(e);
                self.fail(conn, now, error.into());
                return false;
            }
            self.opened = true;
        }
        if sender.is_finished() {
            // v1: complete once CLOSE is a frame waiting to be written (v2
            // waits for the server's OK).
            if conn.version() == Some(Version::V1)
                && conn.queued_messages() == 0
                && conn.state() == State::Established
            {
                self.confirmed(conn, now);
            }
            return false;
        }
        // The connection is full: more can go once it is drained, unless
        // it waits for new keys.
        conn.state() == State::Established
    }

    fn fail(&mut self, conn: &mut Connection, now: Instant, error: SessionError) {
        conn.close(now);
        self.outcome = Some(Err(error));
    }
}

/// The server side of a file transfer over a connection: stores what the
/// client sends, answers `OPEN` with `OK`, refuses what it cannot store
/// with `ERROR`, and keeps an incomplete file as `<name>.partial`.
///
/// Without [`Extension::Batch`] it closes the connection after its `OK` to
/// the file's `CLOSE`. With it agreed, it waits instead for the next
/// file's `OPEN` (or `RESUME`), stored by the same receiver made ready for
/// it ([`Receiver::next_file`]), up to [`Receiver::with_max_files`] files,
/// or for the client's end of the stream, which completes the download
/// once at least one file is stored and none is half sent.
#[derive(Debug)]
pub struct Download {
    receiver: Receiver,
    /// The files stored so far, in order, and their lengths.
    stored: Vec<PathBuf>,
    stored_bytes: Vec<u64>,
    outcome: Option<Result<PathBuf, SessionError>>,
}

impl Download {
    /// A download into `receiver`'s directory, with its settings for
    /// every file (a batch stores each with them).
    #[must_use]
    pub fn new(receiver: Receiver) -> Download {
        Download {
            receiver,
            stored: Vec::new(),
            stored_bytes: Vec::new(),
            outcome: None,
        }
    }

    /// The receiver (stored name, bytes written, digest) of the current
    /// file: in a batch, once a file is stored, it is ready for the next
    /// one and describes none (see [`Download::stored`]).
    #[must_use]
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// The paths of the files stored so far on this connection, in order.
    #[must_use]
    pub fn stored(&self) -> &[PathBuf] {
        &self.stored
    }

    /// The length in bytes of each file of [`stored`](Download::stored),
    /// in the same order (the receiver forgets a file's once the next one
    /// of a batch may start).
    #[must_use]
    pub fn stored_bytes(&self) -> &[u64] {
        &self.stored_bytes
    }

    /// `Some` once the file is stored (its path; in a batch, once the
    /// client closed cleanly after at least one stored file, the path of
    /// the last one) or the transfer failed. After a failure, what arrived
    /// of the current file is kept as `<name>.partial` (see
    /// [`Download::partial`]), and the files stored before it stay stored
    /// ([`Download::stored`]).
    ///
    /// A batch ends with the client's end of stream, which v2 does not
    /// authenticate (it has no closing message): `Ok` says that every file
    /// of [`stored`](Download::stored) is complete and its digest matched,
    /// not that the client sent every file it meant to. The client knows
    /// ([`Upload::outcome`]).
    #[must_use]
    pub fn outcome(&self) -> Option<&Result<PathBuf, SessionError>> {
        self.outcome.as_ref()
    }

    /// Reacts to one event of the connection.
    pub fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        if self.outcome.is_some() {
            return;
        }
        match event {
            Event::Message(message) => {
                let closing = matches!(message, Message::Close { .. });
                self.receiver
                    .agree_resume(conn.has_extension(Extension::Resume));
                match self.receiver.handle_message(message) {
                    Ok(reply) => {
                        if let Some(reply) = reply {
                            let _ = conn.send(now, reply);
                        }
                        if closing {
                            self.file_stored(conn, now);
                        }
                    }
                    Err(e) => {
                        let _ = conn.send(
                            now,
                            Message::Error {
                                message: e.to_string(),
                            },
                        );
                        conn.flush_and_close(now);
                        self.outcome = Some(Err(e.into()));
                    }
                }
            }
            Event::Closed { error } => {
                let clean = matches!(
                    error,
                    None | Some(Error::Protocol(crate::error::ProtocolError::UnexpectedEof))
                );
                // A batch ends with the client's end of stream between
                // two files.
                if let Some(last) = self.stored.last()
                    && clean
                    && !self.receiver.in_progress()
                {
                    self.outcome = Some(Ok(last.clone()));
                    return;
                }
                let error =
                    error.unwrap_or(Error::Protocol(crate::error::ProtocolError::UnexpectedEof));
                self.outcome = Some(Err(error.into()));
            }
            _ => {}
        }
    }

    /// A file is stored (and, in v2, its digest matched): v2 confirms with
    /// OK, v1 says nothing; then the next file of a batch, or the end.
    fn file_stored(&mut self, conn: &mut Connection, now: Instant) {
        let v2 = conn.version() == Some(Version::V2);
        if v2 {
            let _ = conn.send(now, Message::Ok);
        }
        let path = self
            .receiver
            .final_path()
            .map(PathBuf::from)
            .unwrap_or_default();
        self.stored.push(path.clone());
        self.stored_bytes.push(self.receiver.bytes_written());
        if v2 && conn.has_extension(Extension::Batch) && self.receiver.next_file() {
            return;
        }
        self.outcome = Some(Ok(path));
        // Not `close`: mid-rotation the answer waits for new keys, and
        // must not be dropped.
        conn.flush_and_close(now);
    }

    /// After a failure: keeps what arrived as `<name>.partial` and returns
    /// its path, if a file had been opened.
    pub fn partial(&mut self) -> Option<PathBuf> {
        self.receiver.finish_incomplete()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::connection::{Ending, LINGER};
    use crate::error::Timer;
    use crate::transfer::testutil::pseudo_random;
    use crate::transfer::{Receiver, Sender, default_chunk_size};
    use core::time::Duration;
    use rand_core::SeedableRng;
    use std::vec::Vec;

    fn rng(seed: u8) -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::from_seed([seed; 32])
    }

    /// One end in memory: its connection, its session, and (when `hold`
    /// is set) the output it produced once closed, kept back from the
    /// peer.
    struct End<S> {
        conn: Connection,
        session: S,
        hold: bool,
        held: Vec<u8>,
    }

    impl<S: Session> End<S> {
        fn new(conn: Connection, session: S) -> End<S> {
            End {
                conn,
                session,
                hold: false,
                held: Vec::new(),
            }
        }

        /// One turn of a driver generic over [`Session`]: the timers,
        /// the events, the pump, and the output to `peer`. Whether
        /// anything moved.
        fn step(&mut self, peer: &mut Connection, now: Instant) -> bool {
            self.conn.handle_timeout(now);
            let mut moved = false;
            loop {
                while let Some(event) = self.conn.poll_event() {
                    self.session.handle_event(&mut self.conn, now, event);
                    moved = true;
                }
                let more =
                    self.conn.state() != State::Closed && self.session.pump(&mut self.conn, now);
                let mut sent = false;
                while let Some(bytes) = self.conn.poll_transmit() {
                    if self.hold && self.conn.state() == State::Closed {
                        self.held.extend_from_slice(&bytes);
                    } else {
                        let _ = peer.handle_input(now, &bytes);
                    }
                    sent = true;
                }
                moved |= sent;
                if !(more && sent) {
                    return moved;
                }
            }
        }
    }

    /// Runs both ends until nothing moves and both are closed (or
    /// nothing moves for good); the clock advances 20 ms whenever
    /// nothing moved, so that deferred rotations come due. Returns the
    /// time reached.
    fn run(
        client: &mut End<impl Session>,
        server: &mut End<impl Session>,
        start: Instant,
    ) -> Instant {
        let mut now = start;
        for _ in 0..5_000 {
            let a = client.step(&mut server.conn, now);
            let b = server.step(&mut client.conn, now);
            if a || b {
                continue;
            }
            if client.conn.state() == State::Closed && server.conn.state() == State::Closed {
                return now;
            }
            now += Duration::from_millis(20);
        }
        now
    }

    fn configs(version: Version) -> Config {
        match version {
            Version::V1 => Config::seed_compatible(),
            Version::V2 => Config::default(),
        }
    }

    fn pair<'a>(
        version: Version,
        file: &'a [u8],
        store: &tempfile::TempDir,
        now: Instant,
    ) -> (End<Upload<&'a [u8]>>, End<Download>) {
        let sender = Sender::new(file, "file.bin", default_chunk_size(version)).unwrap();
        let client = End::new(
            Connection::client(configs(version), rng(1), now).unwrap(),
            Upload::new(sender),
        );
        let server = End::new(
            Connection::server(configs(version), rng(2), now).unwrap(),
            Download::new(Receiver::new(store.path())),
        );
        (client, server)
    }

    /// What a clean close asks of the driver: all the output written,
    /// then a half-close and a drain of [`LINGER`].
    const CLEAN: Ending = Ending {
        write_within: None,
        drain_within: Some(LINGER),
    };

    #[test]
    fn one_generic_driver_runs_an_upload_and_a_download_in_both_versions() {
        for version in [Version::V1, Version::V2] {
            let store = tempfile::tempdir().unwrap();
            // Several chunks of the version's default size, the last one
            // short.
            let file = pseudo_random(2 * default_chunk_size(version) + 1234, 5);
            let now = Instant::now();
            let (mut client, mut server) = pair(version, &file, &store, now);
            run(&mut client, &mut server, now);

            assert_eq!(client.conn.version(), Some(version));
            assert_eq!(client.session.outcome(), Some(&Ok(())), "{version:?}");
            assert!(
                matches!(server.session.outcome(), Some(Ok(_))),
                "{version:?}"
            );
            assert!(!client.session.failed() && !server.session.failed());
            assert_eq!(std::fs::read(store.path().join("file.bin")).unwrap(), file);
            assert_eq!(client.conn.ending(false), Some(CLEAN), "{version:?}");
            assert_eq!(server.conn.ending(false), Some(CLEAN), "{version:?}");
        }
    }

    /// A batch through the same generic driver: each file confirmed in
    /// turn, the server waiting between them, and the client's end of
    /// stream completing the download.
    #[test]
    fn a_batch_runs_through_the_generic_driver() {
        let store = tempfile::tempdir().unwrap();
        let files = [pseudo_random(70_000, 8), Vec::new(), pseudo_random(10, 9)];
        let config = Config {
            extensions: alloc::vec![Extension::Batch],
            ..Config::default()
        };
        let now = Instant::now();
        let senders = files
            .iter()
            .enumerate()
            .map(|(i, f)| Sender::new(&f[..], std::format!("f{i}"), 16 * 1024).unwrap())
            .collect();
        let mut client = End::new(
            Connection::client(config.clone(), rng(5), now).unwrap(),
            Upload::batch(senders).unwrap(),
        );
        let mut server = End::new(
            Connection::server(config, rng(6), now).unwrap(),
            Download::new(Receiver::new(store.path())),
        );
        let now = run(&mut client, &mut server, now);
        assert_eq!(client.session.outcome(), Some(&Ok(())));
        assert_eq!(client.session.completed(), 3);
        assert_eq!(client.conn.ending(client.session.failed()), Some(CLEAN));
        assert_eq!(server.session.outcome(), None, "waiting for a fourth");
        assert_eq!(server.session.stored().len(), 3);
        assert_eq!(server.session.stored_bytes().len(), 3);

        server.conn.handle_eof();
        server.step(&mut client.conn, now);
        let last = store.path().join("f2");
        assert_eq!(server.session.outcome(), Some(&Ok(last)));
        assert!(!server.session.failed());
        for (i, file) in files.iter().enumerate() {
            let stored = std::fs::read(store.path().join(std::format!("f{i}"))).unwrap();
            assert_eq!(&stored, file);
        }
    }

    /// The half-close and drain after a v1 upload: the client is done
    /// once `CLOSE` is a frame, which it still holds; only writing it all
    /// gets the file stored, as its ending says.
    #[test]
    fn a_v1_upload_ends_with_close_still_to_write_then_a_half_close_and_a_drain() {
        let store = tempfile::tempdir().unwrap();
        let file = pseudo_random(5000, 6);
        let now = Instant::now();
        let (mut client, mut server) = pair(Version::V1, &file, &store, now);
        client.hold = true;
        let now = run(&mut client, &mut server, now);

        assert_eq!(client.conn.state(), State::Closed);
        assert_eq!(client.session.outcome(), Some(&Ok(())));
        assert!(!client.held.is_empty(), "the CLOSE frame is still to write");
        assert_eq!(client.conn.ending(false), Some(CLEAN));
        assert_eq!(server.session.outcome(), None, "nothing stored yet");

        // The driver writes it all, then half-closes: the server stores
        // the file, and closes its end too.
        server.conn.handle_input(now, &client.held).unwrap();
        server.step(&mut client.conn, now);
        assert!(matches!(server.session.outcome(), Some(Ok(_))));
        assert_eq!(std::fs::read(store.path().join("file.bin")).unwrap(), file);
        assert_eq!(server.conn.ending(false), Some(CLEAN));
    }

    /// A server that refuses a file closes its connection without an
    /// error, after its ERROR: only its session knows it failed, and with
    /// that its last words are best effort. The client's connection fails
    /// with the server's ERROR.
    #[test]
    fn a_refused_upload_ends_with_best_effort_last_words() {
        let store = tempfile::tempdir().unwrap();
        std::fs::write(store.path().join("file.bin"), b"taken").unwrap();
        let file = pseudo_random(3000, 7);
        let now = Instant::now();
        let (mut client, mut server) = pair(Version::V2, &file, &store, now);
        run(&mut client, &mut server, now);

        assert!(matches!(
            server.session.outcome(),
            Some(Err(SessionError::Transfer(
                TransferError::AlreadyStored { .. }
            )))
        ));
        assert!(server.session.failed());
        assert_eq!(server.conn.close_reason(), None);
        let best_effort = Ending {
            write_within: Some(LINGER),
            drain_within: Some(LINGER),
        };
        assert_eq!(
            server.conn.ending(server.session.failed()),
            Some(best_effort)
        );
        assert_eq!(server.conn.ending(false), Some(CLEAN));

        assert!(client.session.failed());
        assert!(matches!(
            client.conn.close_reason(),
            Some(Error::Protocol(crate::error::ProtocolError::PeerError(_)))
        ));
        assert_eq!(client.conn.ending(false), Some(best_effort));
        assert_eq!(
            std::fs::read(store.path().join("file.bin")).unwrap(),
            b"taken"
        );
    }

    #[test]
    fn a_connection_that_timed_out_is_not_drained() {
        let now = Instant::now();
        let mut client = Connection::client(Config::default(), rng(3), now).unwrap();
        let _ = client.poll_transmit();
        assert_eq!(client.ending(false), None, "open");
        client.handle_timeout(now + Duration::from_secs(31));
        assert_eq!(
            client.close_reason(),
            Some(&Error::TimedOut {
                timer: Timer::Handshake
            })
        );
        assert_eq!(
            client.ending(false),
            Some(Ending {
                write_within: Some(LINGER),
                drain_within: None,
            })
        );
    }

    #[test]
    fn the_linger_is_never_longer_than_the_reply_deadline() {
        let now = Instant::now();
        let short = Duration::from_millis(500);
        for (deadline, linger) in [(Some(short), short), (None, LINGER)] {
            let config = Config {
                handshake_timeout: deadline,
                ..Config::default()
            };
            let mut client = Connection::client(config, rng(4), now).unwrap();
            client.close(now);
            assert_eq!(
                client.ending(true),
                Some(Ending {
                    write_within: Some(linger),
                    drain_within: Some(linger),
                }),
                "{deadline:?}"
            );
        }
    }
}
