//! The sans-IO connection: a state machine that consumes bytes and emits
//! frames and events. It owns no socket, reads no clock (time is handed in)
//! and draws randomness only from the RNG it was given.
//!
//! # Driving a connection
//!
//! Methods come in four kinds (as in quinn-proto):
//!
//! * inputs: [`Connection::handle_input`] (bytes read from the peer, with
//!   the current time), [`Connection::handle_timeout`],
//!   [`Connection::handle_eof`];
//! * application commands: [`Connection::send`],
//!   [`Connection::send_data`], [`Connection::send_data_into`],
//!   [`Connection::close`], [`Connection::flush_and_close`],
//!   [`Connection::rotate`];
//! * outputs, to drain after every input or command: all in one with
//!   [`Connection::poll_output`], or each on its own with
//!   [`Connection::poll_transmit`] or [`Connection::poll_transmit_into`]
//!   (bytes to write to the peer), [`Connection::poll_event`],
//!   [`Connection::poll_timeout`];
//! * getters: [`Connection::state`], [`Connection::suite`], ...
//!
//! Mutate, then drain: after each input or command, write out everything
//! `poll_transmit` returns, handle every event, and call `handle_timeout`
//! when the instant `poll_timeout` returns has passed. Feeding the input one
//! byte at a time or all at once gives the same frames and events.
//!
//! Once the connection is [`State::Closed`], [`Connection::ending`] says
//! how to end the transport: how long the output left may take, then a
//! half-close and how long to wait for the peer's end of stream (see
//! [`Ending`]).
//!
//! # Moving data fast
//!
//! v2 records are written straight into the output and read without a
//! general JSON parse (see [`crate::wire::record`]). What a driver adds:
//!
//! * send DATA from its own buffer with [`Connection::send_data`] (no
//!   `Vec` per chunk), or with [`Connection::send_data_into`], which seals
//!   the chunk into the driver's output buffer itself;
//! * drain into a buffer it reuses with
//!   [`Connection::poll_transmit_into`]. The connection then keeps at most
//!   [`RETAINED_OUTPUT`] bytes of buffer of its own between calls.
//!
//! With both, an established v2 connection allocates nothing per record
//! it sends; per record it receives, it allocates the buffer of the
//! [`Message::Data`] it hands over (the ciphertext is decoded into it and
//! decrypted in place), and a frame that arrives in pieces is gathered in
//! a buffer of its own, freed once the frame is whole.
//!
//! # Time
//!
//! The connection reads no clock: every input and every command that can
//! arm or read a deadline takes `now` (`handle_input`, `handle_timeout`,
//! `send`, `close`, `flush_and_close`, `rotate`). Time must not go
//! backwards; an earlier `now` than one already handed in counts as the
//! later one. Calling `handle_timeout` early or repeatedly is harmless.
//!
//! Some work waits until the output that comes before it is out: a v1
//! server sends its `EXCHANGE` as soon as the key is agreed, and derives
//! the keys (PBKDF2) only on the next call after that frame was polled,
//! so that both peers derive at once. `poll_timeout` then returns the
//! current time: a driver that writes what it polled and then calls
//! `handle_timeout` as `poll_timeout` says runs it at the right moment,
//! and a record of the new keys that arrives first has them derived
//! before it is opened.
//!
//! The deadlines (see [`Timer`]): the first handshake must complete within
//! `Config::handshake_timeout` of the connection's creation; every answer
//! the peer owes (a rotation's, the server's to `OPEN` and, in v2, to
//! `CLOSE`) must arrive within `handshake_timeout` of what called for it;
//! and the connection fails as idle after `Config::idle_timeout` without a
//! complete frame sent or received. A transfer that keeps moving never
//! times out; a peer that trickles bytes without completing frames keeps
//! nothing open. What the driver must add: a write that makes no progress
//! (a peer that stops reading) is for the driver to notice, as the
//! connection cannot see it; bound each blocking read and write by
//! `poll_timeout`. The crate docs ("Driving it from any event loop") show
//! a std loop that does.
//!
//! # States
//!
//! [`State::Negotiating`] (the client's `ALGORITHMS` is out, or the server
//! waits for it) → v2: [`State::Handshaking`] (keys agreed, the peer's
//! FINISHED outstanding) → [`State::Established`] (keys agreed and, in
//! v2, confirmed) ⇄ [`State::Rotating`] (new keys are being agreed;
//! application messages we send wait in order for them) →
//! [`State::Closed`].
//!
//! Inside, each phase is a type holding exactly the data valid in it, and
//! each transition consumes the phase it holds and returns the next one
//! (see the private `phase` module): a frame that the phase does not
//! expect is an error, never a state the code cannot handle. An
//! established v2 phase can only be built from a proof that the peer's
//! FINISHED verified, and keeps it across rotations.
//!
//! # Errors
//!
//! Every error on input closes the connection: the error is returned,
//! kept, and reported once as [`Event::Closed`]. Where the protocol allows
//! it, the peer is told why (never when the failure is the peer's own
//! `ERROR` or its end of stream):
//!
//! * once the peer's FINISHED has verified (v2), in an `ERROR` sealed in
//!   the current epoch;
//! * a server, in a plaintext `ERROR` frame while it negotiates (before it
//!   sent a v2 `EXCHANGE`) and throughout v1;
//! * otherwise not at all: before the peer's FINISHED verifies, neither
//!   role sends anything protected but its own FINISHED, so nothing is
//!   ever sealed under keys of a handshake that was never authenticated.
//!
//! Events of frames that arrived before the failing one are still
//! delivered, in order, before `Closed`.

mod client;
mod finished;
mod phase;
mod server;
mod timer;
mod v1;
mod v2;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use std::time::Instant;

use rand_core::CryptoRng;

pub use crate::config::Version;
use crate::config::{Config, ConfigError, Extension};
use crate::error::{Error, Misuse, ProtocolError, Timer};
use crate::message::Message;
use crate::suite::CipherSuite;
use crate::wire::codec::DELIMITER;
use crate::wire::record::Incoming;
use crate::wire::{ErrorFrame, Frame, FrameSplitter};

use phase::{Alert, Failed, Phase, Sent};
use timer::{Slot, Timers};

/// The most output buffer (bytes of capacity) a connection keeps after
/// [`Connection::poll_transmit_into`] has drained it: room for its small
/// frames (FINISHED, `OK`, a REKEY in every named group), not for hellos
/// (a few KB, once per handshake) nor for a stream of DATA, whose buffer
/// is the caller's (see [`Connection::lend_output`] and
/// [`Connection::send_data_into`]). An idle connection holds no more.
pub const RETAINED_OUTPUT: usize = 1024;

/// How long a driver lingers at the end of a connection (see [`Ending`]):
/// 2 s, and never longer than the reply deadline
/// (`Config::handshake_timeout`).
pub const LINGER: core::time::Duration = core::time::Duration::from_secs(2);

/// How a driver ends its transport once the connection is closed, as
/// [`Connection::ending`] says: first the output left (what
/// `poll_transmit` still returns), then a half-close and a drain.
///
/// Over TCP: write the output (within `write_within`, if set), then
/// `shutdown(Write)`, then read and discard until the peer's end of
/// stream or `drain_within` has passed, and only then close the socket.
/// A socket closed with input unread resets the connection, and a reset
/// can destroy bytes the peer has not read yet: the drain is what lets
/// the last frames reach it. It matters most for a v1 upload, whose
/// `CLOSE` no server answers: the client's success is that `CLOSE` was
/// written, and the server reads it only if nothing resets it away.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    /// How long the output left may take to go out, counted from the
    /// close. `None`: all of it must go out, at the pace the driver's
    /// write bound allows, and a failure to write it is a failure of the
    /// connection: after a clean close the last frames are part of the
    /// work (a v1 client's `CLOSE`, a server's `OK`). After a failure
    /// (the connection's, or the application's: see
    /// [`Connection::ending`]) the last words are best effort, for at most
    /// [`LINGER`].
    pub write_within: Option<core::time::Duration>,
    /// Once the output is out: `Some(d)`, shut down the write side and
    /// wait for the peer's end of stream for at most `d` (at once if it
    /// came already); `None`, close at once: the peer timed out, and will
    /// not end its stream in time either.
    pub drain_within: Option<core::time::Duration>,
}

/// The side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Speaks first, offers algorithms, sends the file.
    Client,
    /// Chooses the suite, receives the file.
    Server,
}

/// What a connection is doing, for observers.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Algorithms are being negotiated and keys agreed.
    Negotiating,
    /// v2: keys are agreed; the FINISHED key confirmations are under way.
    Handshaking,
    /// Keys are agreed; application messages flow.
    Established,
    /// Keys are being replaced; application messages queue in order.
    Rotating,
    /// The connection is over.
    Closed,
}

impl State {
    fn describe(self) -> &'static str {
        match self {
            State::Negotiating => "negotiating",
            State::Handshaking => "handshaking",
            State::Established => "established",
            State::Rotating => "rotating keys",
            State::Closed => "closed",
        }
    }
}

/// What [`Connection::poll_output`] hands the driver.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Bytes to write to the peer: whole frames with their `\r\n`.
    Transmit(Vec<u8>),
    /// Something the application should know about.
    Event(Event),
    /// Nothing more for now: wait for input, and call
    /// [`Connection::handle_timeout`] at this instant if none has come
    /// (it may be now: deferred work is due). `None`: no deadline is
    /// armed (every timeout of the `Config` is off); wait for input.
    Timeout(Option<Instant>),
    /// The connection is over and everything it had to say has been
    /// taken (its [`Event::Closed`] included): stop driving it, and end
    /// the transport as [`Connection::ending`] says.
    Closed,
}

/// Something the application should know about.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Keys are agreed; application messages can flow.
    HandshakeComplete {
        /// The version spoken.
        version: Version,
        /// The suite chosen.
        suite: CipherSuite,
    },
    /// An application message from the peer.
    Message(Message),
    /// New keys are in use.
    KeyRotated {
        /// The new key epoch (the first handshake is epoch 0).
        epoch: u32,
        /// The suite of the new epoch.
        suite: CipherSuite,
    },
    /// The connection is over: `error` is `None` after [`Connection::close`].
    Closed {
        /// Why, if it failed.
        error: Option<Error>,
    },
}

/// Everything of a connection but its phase: what the transitions read
/// and write besides the phase they consume.
struct Core {
    role: Role,
    config: Config,
    rng: Box<dyn CryptoRng + Send>,
    /// Frames ready to be written, with their delimiters.
    outgoing: Vec<u8>,
    events: VecDeque<Event>,
    /// The current key epoch, the suite and the version, once established.
    epoch: u32,
    suite: Option<CipherSuite>,
    version: Option<Version>,
    /// v2: the extensions both hellos agreed (empty until then, and in v1).
    extensions: Vec<Extension>,
    /// v2 server: the client has sent a file's `CLOSE`; an `OPEN` (or
    /// `RESUME`) of another file after it needs [`Extension::Batch`].
    file_closed: bool,
    timers: Timers,
    /// The latest time handed in: timers count from it.
    now: Instant,
    /// The key log and the connection's ids, once the first `ALGORITHMS`
    /// fixed them; `None` without `Config::key_log`.
    key_log: Option<crate::keylog::Logger>,
}

impl Core {
    fn arm(&mut self, slot: Slot, after: Option<core::time::Duration>) {
        self.timers.arm(slot, self.now, after);
    }

    /// A complete frame was sent or received: the connection is not idle.
    fn active(&mut self) {
        self.arm(Slot::Idle, self.config.idle_timeout);
    }

    /// Appends a frame (already encoded) and its delimiter to the output.
    fn push_encoded(&mut self, frame: &[u8]) {
        self.outgoing.extend_from_slice(frame);
        self.frame_written();
    }

    /// A frame was written at the end of the output: its delimiter
    /// follows.
    fn frame_written(&mut self) {
        self.outgoing.extend_from_slice(DELIMITER);
        self.active();
    }

    /// The peer answered the oldest of our messages that call for one.
    fn reply_received(&mut self) {
        self.timers
            .answered(self.now, self.config.handshake_timeout);
    }

    fn push_frame(&mut self, frame: &Frame) {
        self.push_encoded(&frame.encode());
    }

    /// Keys are in use: the first ones (`HandshakeComplete`) or those of a
    /// rotation (`KeyRotated`).
    fn established(&mut self, version: Version, suite: CipherSuite, first: bool) {
        if !first {
            self.epoch = self.epoch.saturating_add(1);
        }
        self.suite = Some(suite);
        self.version = Some(version);
        self.timers.disarm(Slot::Handshake);
        self.timers.disarm(Slot::Rotation);
        match (version, self.role) {
            (Version::V2, _) => self.arm(Slot::Rekey, self.config.rekey_after),
            // v1: only clients rotate.
            (Version::V1, Role::Client) => self.arm(Slot::Rekey, self.config.v1_rotate_after),
            _ => self.timers.disarm(Slot::Rekey),
        }
        self.events.push_back(if first {
            Event::HandshakeComplete { version, suite }
        } else {
            Event::KeyRotated {
                epoch: self.epoch,
                suite,
            }
        });
    }

    /// Logs the keys of the current v1 epoch, if a key log is on.
    fn log_v1_keys(&self, secrets: &crate::schedule::V1Secrets) {
        if let Some(log) = &self.key_log {
            log.v1(self.epoch, secrets);
        }
    }

    /// A rotation started: the peer must answer in time.
    fn rotation_started(&mut self) {
        self.arm(Slot::Rotation, self.config.handshake_timeout);
    }
}

/// A secure channel between a client and a server, without I/O.
pub struct Connection {
    phase: Phase,
    core: Core,
    splitter: FrameSplitter,
    /// Application messages waiting for keys, in order.
    queue: VecDeque<Message>,
    /// Payload bytes of `queue`.
    queued_bytes: usize,
    /// `flush_and_close` was called: close once the queue is empty.
    closing: bool,
}

impl Connection {
    /// A client: sends its `ALGORITHMS` at once (see `poll_transmit`).
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`Config::validate`] if it refuses `config`.
    pub fn client(
        config: Config,
        rng: impl CryptoRng + Send + 'static,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        Connection::new(Role::Client, config, Box::new(rng), now, client::hello)
    }

    /// A server: waits for the client's `ALGORITHMS`.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`Config::validate`] if it refuses `config`.
    pub fn server(
        config: Config,
        rng: impl CryptoRng + Send + 'static,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        Connection::new(Role::Server, config, Box::new(rng), now, |_| {
            Phase::ServerAwaitHello
        })
    }

    /// A connection in the phase `start` begins it with (the client's
    /// first step sends its hello).
    fn new(
        role: Role,
        config: Config,
        rng: Box<dyn CryptoRng + Send>,
        now: Instant,
        start: fn(&mut Core) -> Phase,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut core = Core {
            role,
            config,
            rng,
            outgoing: Vec::new(),
            events: VecDeque::new(),
            epoch: 0,
            suite: None,
            version: None,
            extensions: Vec::new(),
            file_closed: false,
            timers: Timers::default(),
            now,
            key_log: None,
        };
        core.arm(Slot::Handshake, core.config.handshake_timeout);
        core.active();
        Ok(Connection {
            splitter: FrameSplitter::new(core.config.max_frame_len),
            phase: start(&mut core),
            core,
            queue: VecDeque::new(),
            queued_bytes: 0,
            closing: false,
        })
    }

    // ----- getters -----

    /// v2: the extensions of the application protocol both sides agreed in
    /// the handshake (see [`Extension`]); empty before the server's
    /// `EXCHANGE`, in v1, and when none was agreed.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        &self.core.extensions
    }

    /// Whether `extension` was agreed (see [`extensions`](Self::extensions)).
    #[must_use]
    pub fn has_extension(&self, extension: Extension) -> bool {
        self.core.extensions.contains(&extension)
    }

    /// The role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.core.role
    }

    /// What the connection is doing.
    #[must_use]
    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// The suite of the current epoch, once established.
    #[must_use]
    pub fn suite(&self) -> Option<CipherSuite> {
        self.core.suite
    }

    /// The version spoken, once established.
    #[must_use]
    pub fn version(&self) -> Option<Version> {
        self.core.version
    }

    /// The current key epoch (0 for the first handshake).
    #[must_use]
    pub fn epoch(&self) -> u32 {
        self.core.epoch
    }

    /// Why the connection closed, if it failed.
    #[must_use]
    pub fn close_reason(&self) -> Option<&Error> {
        match &self.phase {
            Phase::Closed(error) => error.as_ref(),
            _ => None,
        }
    }

    /// How the driver ends its transport, once the connection is closed
    /// (`None` until then): see [`Ending`]. `app_failed` says whether the
    /// application's work failed, which the connection cannot always see
    /// (a [`Download`](crate::transfer::Download) that refuses a file
    /// sends its `ERROR` and closes without an error): its last words are
    /// then best effort too ([`Session::failed`](crate::transfer::Session::failed)
    /// says it for a file transfer).
    ///
    /// The lingering is [`LINGER`], or the reply deadline
    /// (`Config::handshake_timeout`) if shorter.
    #[must_use]
    pub fn ending(&self, app_failed: bool) -> Option<Ending> {
        let Phase::Closed(error) = &self.phase else {
            return None;
        };
        let linger = match self.core.config.handshake_timeout {
            Some(deadline) => LINGER.min(deadline),
            None => LINGER,
        };
        let failed = app_failed || error.is_some();
        let timed_out = matches!(error, Some(Error::TimedOut { .. }));
        Some(Ending {
            write_within: failed.then_some(linger),
            drain_within: (!timed_out).then_some(linger),
        })
    }

    /// Bytes held for sending: queued messages and unpolled frames.
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.queued_bytes + self.core.outgoing.len()
    }

    /// Bytes of a frame received in part, held until its `\r\n` arrives
    /// (at most `Config::max_frame_len`; none once closed).
    #[must_use]
    pub fn buffered_input_len(&self) -> usize {
        self.splitter.buffered()
    }

    /// Application messages waiting for keys (not yet turned into frames).
    #[must_use]
    pub fn queued_messages(&self) -> usize {
        self.queue.len()
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    // ----- inputs -----

    /// Consumes bytes read from the peer at time `now`. Input after the
    /// close is ignored (and returns `Ok`).
    ///
    /// # Errors
    ///
    /// The error that closed the connection on this input, also reported
    /// as [`Event::Closed`]: [`Error::Frame`] for a frame that is not a
    /// frame of the protocol or is longer than `Config::max_frame_len`,
    /// [`Error::Record`] for a protected record that does not open,
    /// [`Error::Protocol`] for a frame out of place, a refused negotiation
    /// or the peer's `ERROR`, [`Error::Suite`] or [`Error::Dh`] for a
    /// choice or a key of the peer's that cannot be used, and
    /// [`Error::Record`] also for a message that waited for keys and could
    /// not be sealed once they came
    /// ([`RecordError::SequenceExhausted`](crate::error::RecordError::SequenceExhausted)).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        if self.state() == State::Closed {
            return Ok(());
        }
        self.core.now = self.core.now.max(now);
        self.run_due_work();
        let mut splitter = core::mem::replace(&mut self.splitter, FrameSplitter::new(0));
        let result = splitter.push(data, |frame| self.handle_frame(frame));
        // A closed connection keeps nothing of its input.
        if self.state() != State::Closed {
            self.splitter = splitter;
        }
        match result {
            Ok(()) => Ok(()),
            // A frame's failure has closed the connection already, with
            // this error as its reason.
            Err(error) if self.close_reason().is_some() => Err(error),
            // Closed cleanly earlier in this input (a flushed close that
            // completed): what follows is ignored, as any input after
            // the close is, the splitter's own errors included.
            Err(_) if self.state() == State::Closed => Ok(()),
            // The splitter's own (a frame too long): fail where we are.
            Err(error) => Err(self.fail_in_place(error)),
        }
    }

    /// Tells the connection that time `now` has come; an expired deadline
    /// closes it with [`Error::TimedOut`] naming the [`Timer`], and a
    /// rotation that is due starts. Calling it early or repeatedly is
    /// harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state() == State::Closed {
            return;
        }
        self.core.now = self.core.now.max(now);
        self.run_due_work();
        for slot in Slot::ALL {
            if !self.core.timers.expired(slot, self.core.now) {
                continue;
            }
            if let Some(timer) = self.core.timers.public(slot, self.core.version) {
                self.fail_in_place(Error::TimedOut { timer });
                return;
            }
            self.core.timers.disarm(slot);
            // A failure here has closed the connection; nothing to return
            // it to.
            let _ = match slot {
                Slot::Deferred => self.transition(Phase::run_deferred),
                _ => self.transition(Phase::start_rekey),
            };
            // Messages may have waited for the new keys.
            if self.flush_queue().is_err() {
                return;
            }
        }
    }

    /// Tells the connection that the peer closed its side of the stream.
    /// Unless the connection is already closed, this is an error
    /// ([`ProtocolError::UnexpectedEof`]); whether the application's work
    /// was complete is for the application to judge.
    pub fn handle_eof(&mut self) {
        if self.state() != State::Closed {
            self.fail_in_place(ProtocolError::UnexpectedEof.into());
        }
    }

    // ----- application commands -----

    /// Queues an application message. It is sent as soon as keys allow
    /// (at once when established), in order, never dropped: messages sent
    /// while negotiating or rotating wait for the new keys.
    ///
    /// A client sends `Open`, `Data` and `Close`; a server `Ok` and
    /// `Error` (which also closes the connection). The resume messages
    /// (`Resume`, `Prefix` from a client, `Accepted` from a server) need
    /// [`Extension::Resume`] agreed.
    ///
    /// `now` is the current time: the deadlines the message arms (the
    /// idle timer, the reply a client's `OPEN` or v2 `CLOSE` calls for, a
    /// rotation it starts) count from it.
    ///
    /// # Errors
    ///
    /// [`Error::Misuse`], leaving the connection as it was:
    ///
    /// * [`Misuse::Closed`]: the connection is closed, or closing after
    ///   [`flush_and_close`](Self::flush_and_close);
    /// * [`Misuse::WrongRole`]: this role does not send that message;
    /// * [`Misuse::ExtensionNotAgreed`]: a resume message before the
    ///   handshake completes, in v1, or when [`Extension::Resume`] was not
    ///   agreed;
    /// * [`Misuse::MissingDigest`]: a v2 `Close` without its SHA-256;
    /// * [`Misuse::MessageTooLarge`]: the frame would exceed
    ///   `Config::max_frame_len`;
    /// * [`Misuse::BufferFull`]: `Config::max_buffered` bytes already wait
    ///   (drain `poll_transmit` first).
    ///
    /// An error in sealing closes the connection and is returned:
    /// [`RecordError::SequenceExhausted`](crate::error::RecordError::SequenceExhausted),
    /// the sequence numbers of an epoch used up, which every rotation
    /// limit keeps far away.
    pub fn send(&mut self, now: Instant, message: Message) -> Result<(), Error> {
        self.check_sender(message.type_name(), message.is_from_client())?;
        if message.is_resume_message() && !self.has_extension(Extension::Resume) {
            return Err(Misuse::ExtensionNotAgreed {
                message: message.type_name(),
            }
            .into());
        }
        let v2 = match self.core.version {
            Some(version) => version == Version::V2,
            None => self.core.config.client_speaks() == Version::V2,
        };
        if v2 && matches!(message, Message::Close { sha256: None }) {
            return Err(Misuse::MissingDigest.into());
        }
        let is_data = matches!(message, Message::Data(_));
        self.check_size(frame_len_bound(is_data, payload_len(&message)))?;
        self.core.now = self.core.now.max(now);
        self.queued_bytes += payload_len(&message);
        self.queue.push_back(message);
        self.flush_queue()
    }

    /// Sends a DATA chunk from a borrowed slice: [`send`](Self::send) of
    /// `Message::Data(data.to_vec())`, with the same errors, without the
    /// copy when the chunk can go at once (an established v2 connection
    /// with nothing waiting): it is then sealed straight from `data` into
    /// the output. While keys rotate, or in v1, it is copied and waits
    /// like any message.
    ///
    /// # Errors
    ///
    /// Those of [`send`](Self::send) for a `Data` message.
    pub fn send_data(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        if !(self.queue.is_empty() && matches!(self.phase, Phase::V2Established(_))) {
            return self.send(now, Message::Data(data.to_vec()));
        }
        self.check_sender("DATA", true)?;
        self.check_size(frame_len_bound(true, data.len()))?;
        self.core.now = self.core.now.max(now);
        let mut sealed = false;
        self.transition(|phase, core| {
            let (next, done) = phase.transmit_data(core, data)?;
            sealed = done;
            Ok(next)
        })?;
        if !sealed {
            // A rotation started: the chunk waits for its keys.
            self.queued_bytes += data.len();
            self.queue.push_back(Message::Data(data.to_vec()));
        }
        Ok(())
    }

    /// [`send_data`](Self::send_data) with the output written into the
    /// caller's buffer: first what [`poll_transmit_into`](Self::poll_transmit_into)
    /// would append, then the frames of this chunk, sealed in `buf`
    /// itself. A driver that reuses `buf` (writing it out and clearing
    /// it) sends a stream of chunks without any allocation per chunk.
    ///
    /// # Errors
    ///
    /// Those of [`send`](Self::send) for a `Data` message; what was
    /// already due is in `buf` either way.
    pub fn send_data_into(
        &mut self,
        now: Instant,
        data: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.poll_transmit_into(buf);
        // The connection's output is `buf` while the chunk is sealed.
        core::mem::swap(&mut self.core.outgoing, buf);
        let result = self.send_data(now, data);
        core::mem::swap(&mut self.core.outgoing, buf);
        result
    }

    /// The checks of `send` on who sends what: the connection still
    /// takes messages, and this role sends `name` (`from_client`: a
    /// client's message).
    fn check_sender(&self, name: &'static str, from_client: bool) -> Result<(), Error> {
        if self.state() == State::Closed || self.closing {
            return Err(Misuse::Closed.into());
        }
        if from_client != (self.core.role == Role::Client) {
            return Err(Misuse::WrongRole { message: name }.into());
        }
        Ok(())
    }

    /// The checks of `send` on size, for a message whose frame takes at
    /// most `len` bytes.
    fn check_size(&self, len: usize) -> Result<(), Error> {
        if len > self.core.config.max_frame_len {
            return Err(Misuse::MessageTooLarge {
                len,
                limit: self.core.config.max_frame_len,
            }
            .into());
        }
        if self.buffered_len() + len > self.core.config.max_buffered && self.buffered_len() > 0 {
            return Err(Misuse::BufferFull {
                limit: self.core.config.max_buffered,
            }
            .into());
        }
        Ok(())
    }

    /// Closes the connection without an error. Frames already produced
    /// remain to be polled; queued messages not yet sent are dropped, and
    /// so are the peer's messages not yet polled: after `close`, the only
    /// event left to come is [`Event::Closed`]. To send what waits for
    /// keys first, use [`Connection::flush_and_close`].
    pub fn close(&mut self, now: Instant) {
        self.core.now = self.core.now.max(now);
        if self.state() != State::Closed {
            self.core.events.retain(|e| !matches!(e, Event::Message(_)));
            self.enter_closed(None);
        }
    }

    /// Closes the connection without an error once every queued message
    /// has been sent: unlike [`Connection::close`], messages that wait for
    /// keys (during a rotation) are not dropped. Until then the connection
    /// keeps reading (it needs the peer's answer to the rotation) and
    /// refuses new messages; the timers still apply. A server that answers
    /// the last `CLOSE` with `OK` ends with this.
    pub fn flush_and_close(&mut self, now: Instant) {
        if self.state() == State::Closed {
            return;
        }
        self.core.now = self.core.now.max(now);
        self.closing = true;
        // A failure has closed the connection, with its reason.
        let _ = self.flush_queue();
    }

    /// Starts a key rotation at time `now` (the rotation's reply deadline
    /// counts from it): in v2 either role sends `REKEY`; a v1 client sends
    /// a new `ALGORITHMS`. Rotations also start by themselves, as
    /// [`Config`] says; this is for an application that wants fresh keys
    /// at a moment of its choosing.
    ///
    /// The peer refuses a rotation that comes before the epoch carried
    /// enough traffic (`Config::rekey_min_bytes` in v2,
    /// `Config::v1_rotation_min_frames` and `v1_rotation_min_bytes` in
    /// v1): until then, the rotation is only noted, and starts with the
    /// first message sent once the epoch allows it.
    ///
    /// Does nothing while a rotation is already under way.
    ///
    /// # Errors
    ///
    /// [`Error::Misuse`], leaving the connection as it was:
    /// [`Misuse::NotEstablished`] before the handshake is complete,
    /// [`Misuse::CannotRotate`] on a v1 server, [`Misuse::Closed`] once
    /// closed. An error in starting the rotation closes the connection and
    /// is returned:
    /// [`RecordError::SequenceExhausted`](crate::error::RecordError::SequenceExhausted)
    /// in sealing the `REKEY` (the epoch's sequence numbers used up).
    pub fn rotate(&mut self, now: Instant) -> Result<(), Error> {
        match &self.phase {
            Phase::Closed(_) => return Err(Misuse::Closed.into()),
            Phase::V2Rekeying(_) | Phase::V1ClientRotating(_) => return Ok(()),
            Phase::V1Server(_) => return Err(Misuse::CannotRotate.into()),
            Phase::V2Established(_) | Phase::V1Client(_) => {}
            Phase::ClientHello(_)
            | Phase::ClientAwaitFinished(_)
            | Phase::ServerAwaitHello
            | Phase::ServerAwaitFinished(_) => return Err(Misuse::NotEstablished.into()),
        }
        self.core.now = self.core.now.max(now);
        self.transition(Phase::rotate)
    }

    // ----- outputs -----

    /// Bytes to write to the peer, if any: whole frames with their `\r\n`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.core.outgoing.is_empty() {
            None
        } else {
            Some(core::mem::take(&mut self.core.outgoing))
        }
    }

    /// Appends the bytes to write to the peer (whole frames with their
    /// `\r\n`) to `buf`, and returns how many; 0 when there are none.
    ///
    /// Unlike [`poll_transmit`](Self::poll_transmit) this allocates
    /// nothing once `buf` has grown to a batch of frames: a driver that
    /// writes `buf` out and clears it reuses it for ever. An empty `buf`
    /// smaller than the connection's own buffer is swapped with it (no
    /// copy; this is how a buffer lent with [`lend_output`](Self::lend_output)
    /// comes back). The connection then keeps at most [`RETAINED_OUTPUT`]
    /// bytes of buffer for its next output, so an idle connection holds
    /// little.
    pub fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> usize {
        let out = &mut self.core.outgoing;
        let n = out.len();
        if buf.is_empty() && buf.capacity() < out.capacity() {
            // The caller's buffer is the smaller: it takes ours, output
            // and all, and we keep its.
            core::mem::swap(buf, out);
        } else {
            buf.extend_from_slice(out);
        }
        out.clear();
        if out.capacity() > RETAINED_OUTPUT {
            *out = Vec::new();
        }
        n
    }

    /// Lends `buf` to the connection as the buffer its next output is
    /// written into, if it holds no output now (else `buf` stays the
    /// caller's). `buf` is cleared; the connection's own buffer (at most
    /// [`RETAINED_OUTPUT`] of capacity) takes its place, and the next
    /// [`poll_transmit_into`](Self::poll_transmit_into) of that (empty)
    /// buffer hands the lent one back with the output. A driver that
    /// lends its buffer before the application sends, and polls after,
    /// moves any stream of messages without an allocation per message.
    pub fn lend_output(&mut self, buf: &mut Vec<u8>) {
        if self.core.outgoing.is_empty() {
            buf.clear();
            core::mem::swap(buf, &mut self.core.outgoing);
        }
    }

    /// Everything the connection has for its driver, one item at a time,
    /// for event loops that want a single poll (in the manner of str0m):
    /// bytes to write first, then events, then when to call
    /// [`handle_timeout`](Self::handle_timeout), and [`Output::Closed`]
    /// once the connection is over and all of it has been taken.
    ///
    /// Call it until it returns [`Output::Timeout`] or [`Output::Closed`]
    /// after every [`handle_input`](Self::handle_input),
    /// [`handle_timeout`](Self::handle_timeout), [`send`](Self::send) and
    /// the like. It is the same as [`poll_transmit`](Self::poll_transmit),
    /// [`poll_event`](Self::poll_event) and
    /// [`poll_timeout`](Self::poll_timeout) in that order, which stay for
    /// drivers that poll each on its own (see the crate docs, "Driving a
    /// connection").
    #[must_use]
    pub fn poll_output(&mut self) -> Output {
        if let Some(bytes) = self.poll_transmit() {
            return Output::Transmit(bytes);
        }
        if let Some(event) = self.poll_event() {
            return Output::Event(event);
        }
        if self.state() == State::Closed {
            return Output::Closed;
        }
        Output::Timeout(self.poll_timeout())
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.core.events.pop_front()
    }

    /// When `handle_timeout` must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state() == State::Closed {
            return None;
        }
        let next = self.core.timers.next();
        if self.work_due() {
            // Deferred work, now that its output is out.
            return Some(next.map_or(self.core.now, |t| t.min(self.core.now)));
        }
        next
    }

    /// Whether the phase holds deferred work whose output has been
    /// polled: the next call may run it.
    fn work_due(&self) -> bool {
        self.core.outgoing.is_empty() && self.phase.has_pending_work()
    }

    /// Runs the deferred work once its output has been polled.
    fn run_due_work(&mut self) {
        if self.work_due() {
            self.phase.run_pending_work();
        }
    }

    // ----- internals -----

    /// Runs one transition: takes the phase, hands it to `step`, and keeps
    /// what it returns; a failure closes the connection (telling the peer
    /// where the failed phase allows) and is returned.
    fn transition(
        &mut self,
        step: impl FnOnce(Phase, &mut Core) -> Result<Phase, Failed>,
    ) -> Result<(), Error> {
        // `Closed` holds the place only while `step` runs: every outcome
        // below replaces it.
        let phase = core::mem::replace(&mut self.phase, Phase::Closed(None));
        match step(phase, &mut self.core) {
            Ok(next) => {
                self.phase = next;
                Ok(())
            }
            Err(failed) => Err(self.fail(failed)),
        }
    }

    /// Decodes one frame and hands it to the phase. `bytes` are the frame
    /// exactly as received (v2 hashes the hellos).
    fn handle_frame(&mut self, bytes: &[u8]) -> Result<(), Error> {
        // Frames after a close in the same input (the application closed
        // on an event, or a flushed close completed) are ignored, as any
        // input after the close is.
        if self.state() == State::Closed {
            return Ok(());
        }
        // A complete frame, whatever it holds: the peer is not idle (a
        // frame that fails closes the connection anyway).
        self.core.active();
        let incoming = match Incoming::read(bytes) {
            Ok(incoming) => incoming,
            Err(error) => return Err(self.fail_in_place(error.into())),
        };
        self.transition(|phase, core| match incoming {
            Incoming::V2(record) => phase.on_record(core, record, bytes),
            Incoming::V1(record) => phase.on_v1_record(core, record, bytes),
            Incoming::Other(frame) => phase.on_frame(core, frame, bytes),
        })?;
        self.flush_queue()
    }

    /// Sends queued messages while the keys allow; closes once empty after
    /// `flush_and_close`.
    fn flush_queue(&mut self) -> Result<(), Error> {
        while let Some(message) = self.queue.pop_front() {
            self.queued_bytes -= payload_len(&message);
            let owes = self.reply_owed(&message);
            let mut waiting = None;
            let mut closes = false;
            self.transition(|phase, core| {
                let (next, sent) = phase.transmit(core, message)?;
                match sent {
                    Sent::Yes => {
                        if let Some(answer) = owes {
                            core.timers
                                .owe(answer, core.now, core.config.handshake_timeout);
                        }
                    }
                    Sent::Closes => closes = true,
                    Sent::Wait(message) => waiting = Some(message),
                }
                Ok(next)
            })?;
            if let Some(message) = waiting {
                self.queued_bytes += payload_len(&message);
                self.queue.push_front(message);
                return Ok(());
            }
            if closes {
                self.enter_closed(None);
                return Ok(());
            }
        }
        // Not `close`: the peer's messages of this input, not yet polled,
        // are still delivered (only the application's own `close` drops
        // them).
        if self.closing && self.state() != State::Closed {
            self.enter_closed(None);
        }
        Ok(())
    }

    /// The answer a message calls for from the peer, if any: a client's
    /// `OPEN` (both versions) and v2 `CLOSE` (v1 servers never answer it).
    fn reply_owed(&self, message: &Message) -> Option<Timer> {
        match message {
            Message::Open { .. } | Message::Resume { .. } if self.core.role == Role::Client => {
                Some(Timer::OpenReply)
            }
            Message::Close { .. }
                if self.core.role == Role::Client && self.core.version == Some(Version::V2) =>
            {
                Some(Timer::CloseReply)
            }
            _ => None,
        }
    }

    /// Fails in the current phase (a timer, the end of the stream, a frame
    /// that did not decode): the phase gives up what its alert needs.
    fn fail_in_place(&mut self, error: Error) -> Error {
        if self.state() == State::Closed {
            return error;
        }
        let phase = core::mem::replace(&mut self.phase, Phase::Closed(None));
        self.fail(Failed {
            error,
            alert: phase.into_alert(),
        })
    }

    /// Closes after a failure: keeps the error, tells the peer the way the
    /// failed phase allows (unless the peer itself ended it), reports the
    /// close, and returns the error.
    fn fail(&mut self, failed: Failed) -> Error {
        let Failed { error, alert } = failed;
        let peer_gone = matches!(
            error,
            Error::Protocol(ProtocolError::UnexpectedEof | ProtocolError::PeerError(_))
        );
        if !peer_gone {
            let message = alloc::format!("{error}");
            match alert {
                Alert::Silent => {}
                Alert::Plain => self.core.push_frame(&Frame::Error(ErrorFrame { message })),
                Alert::Sealed(mut verified) => {
                    // Best effort: a channel that cannot seal any more
                    // has nothing left to say.
                    let _ = verified.seal_app(&mut self.core, Message::Error { message });
                }
            }
        }
        self.enter_closed(Some(error.clone()));
        error
    }

    fn enter_closed(&mut self, error: Option<Error>) {
        self.phase = Phase::Closed(error.clone());
        self.splitter = FrameSplitter::new(0);
        self.queue.clear();
        self.queued_bytes = 0;
        self.closing = false;
        self.core.timers.disarm_all();
        self.core.events.push_back(Event::Closed { error });
    }
}

/// When a rotation the peer starts in an epoch that began at `started`
/// may be answered, if not now (`interval`: `Config::min_rotation_interval`
/// or `v1_rotation_min_interval`). An interval too long to represent
/// defers to the farthest instant it can, never to "now".
fn rotation_due(
    core: &Core,
    started: Instant,
    interval: Option<core::time::Duration>,
) -> Option<Instant> {
    let interval = interval?;
    let due = started
        .checked_add(interval)
        .or_else(|| {
            core.now
                .checked_add(core::time::Duration::from_secs(1 << 32))
        })
        .unwrap_or(core.now);
    (due > core.now).then_some(due)
}

/// The error for a frame (of the type named) that `state` does not
/// expect.
fn unexpected(frame: &'static str, state: State) -> Error {
    ProtocolError::UnexpectedFrame {
        frame,
        state: state.describe(),
    }
    .into()
}

/// An upper bound of the frame a message makes (for the limits), in the
/// larger of the two versions' encodings (v1's).
fn frame_len_bound(is_data: bool, len: usize) -> usize {
    // v1: the inner JSON, where DATA is base64 and text is escaped (a
    // control character takes six bytes, `\u0001`), padded, then base64
    // again, plus the IV, the MAC and the JSON around them. A server's
    // plaintext ERROR escapes its text the same way, and is shorter.
    let inner = if is_data {
        len / 3 * 4 + 4
    } else {
        len.saturating_mul(6)
    }
    .saturating_add(64);
    (inner.saturating_add(16) / 3)
        .saturating_mul(4)
        .saturating_add(4 + 256)
}

/// The bytes a message carries, for buffer accounting.
fn payload_len(message: &Message) -> usize {
    match message {
        Message::Data(d) => d.len(),
        Message::Open { file_name } | Message::Resume { file_name, .. } => file_name.len(),
        Message::Accepted { stored_name, .. } => stored_name.len(),
        Message::Error { message } => message.len(),
        _ => 0,
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.core.role)
            .field("state", &self.state())
            .field("suite", &self.core.suite)
            .field("epoch", &self.core.epoch)
            .finish_non_exhaustive()
    }
}
