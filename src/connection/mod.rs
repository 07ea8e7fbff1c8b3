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
//! * application commands: [`Connection::send`], [`Connection::close`];
//! * outputs, to drain after every input or command:
//!   [`Connection::poll_transmit`] (bytes to write to the peer),
//!   [`Connection::poll_event`], [`Connection::poll_timeout`];
//! * getters: [`Connection::state`], [`Connection::suite`], ...
//!
//! Mutate, then drain: after each input or command, write out everything
//! `poll_transmit` returns, handle every event, and call `handle_timeout`
//! when the instant `poll_timeout` returns has passed. Feeding the input one
//! byte at a time or all at once gives the same frames and events.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::time::Instant;
//! use securex::{Config, Connection, Event, Message};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut stream = std::net::TcpStream::connect("127.0.0.1:5000")?;
//! let rng = rand_chacha::ChaCha20Rng::from_seed([0; 32]); // use a seeded CSPRNG, e.g. from getrandom
//! # use rand_core::SeedableRng;
//! let mut conn = Connection::client(Config::seed_compatible(), rng, Instant::now());
//! let mut buf = [0u8; 16384];
//! loop {
//!     while let Some(bytes) = conn.poll_transmit() {
//!         stream.write_all(&bytes)?;
//!     }
//!     while let Some(event) = conn.poll_event() {
//!         match event {
//!             Event::HandshakeComplete { .. } => {
//!                 conn.send(Message::Open { file_name: "hello.txt".into() })?;
//!             }
//!             Event::Closed { error } => return Ok(println!("closed: {error:?}")),
//!             _ => {}
//!         }
//!     }
//!     let n = stream.read(&mut buf)?;
//!     if n == 0 {
//!         conn.handle_eof();
//!     } else {
//!         let _ = conn.handle_input(Instant::now(), &buf[..n]);
//!     }
//! }
//! # }
//! ```
//!
//! # States
//!
//! [`State::Negotiating`] (the client's `ALGORITHMS` is out, or the server
//! waits for it) → [`State::Established`] (keys agreed) ⇄
//! [`State::Rotating`] (a v1 client sent a new `ALGORITHMS`; application
//! messages wait in order for the new keys) → [`State::Closed`]. Every
//! error on input closes the connection: the error is returned, kept, and
//! reported once as [`Event::Closed`]; a v1 server also tells the peer with
//! an `ERROR` frame (except when the peer itself sent `ERROR` or went
//! away). Events of frames that arrived before the failing one are still
//! delivered, in order, before `Closed`.

mod client;
mod server;
mod v2;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use std::time::Instant;

use rand_core::CryptoRng;

use crate::config::Config;
pub use crate::config::Version;
use crate::dh::KeyPair;
use crate::error::{Error, Misuse, ProtocolError};
use crate::message::Message;
use crate::record::V1Protector;
use crate::suite::CipherSuite;
use crate::wire::codec::DELIMITER;
use crate::wire::{ErrorFrame, Frame, FrameSplitter};

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

/// The keys of one established epoch.
enum Established {
    /// v1: one protector (v1 protects client-to-server messages only).
    V1 {
        protector: Box<V1Protector>,
        /// Protected frames sent in this epoch (client).
        sent_in_epoch: u64,
    },
    /// v2: a channel in each direction.
    V2(Box<v2::Channel>),
}

impl Established {
    fn suite(&self) -> CipherSuite {
        match self {
            Established::V1 { protector, .. } => protector.suite(),
            Established::V2(channel) => channel.suite(),
        }
    }

    fn version(&self) -> Version {
        match self {
            Established::V1 { .. } => Version::V1,
            Established::V2(_) => Version::V2,
        }
    }
}

/// A client's outstanding `ALGORITHMS`: the key pair it carried and, for
/// v2, the frame's exact bytes (for the transcript hash).
struct ClientHello {
    key: KeyPair,
    v2_bytes: Option<Vec<u8>>,
}

/// The state, with exactly the data valid in it.
enum Phase {
    /// Client: `ALGORITHMS` sent, waiting for `EXCHANGE`.
    ClientNegotiating(ClientHello),
    /// Server: waiting for `ALGORITHMS`.
    ServerNegotiating,
    /// v2: keys agreed, the peer's FINISHED outstanding (client: the
    /// server's, which comes first; server: the client's).
    Handshaking(Box<v2::Channel>),
    /// Keys agreed (boxed: the keyed ciphers are large).
    Established(Box<Established>),
    /// v2: our REKEY is out. What we send waits for REKEY_ACK; what we
    /// receive still flows in the current epoch.
    Rekeying(Box<v2::Rekeying>),
    /// Client (v1): a new `ALGORITHMS` sent; the old keys are gone (v1
    /// servers send nothing protected) and messages wait for `EXCHANGE`.
    ClientRotating(ClientHello),
    /// Over; the error, if any, is kept.
    Closed(Option<Error>),
}

impl Phase {
    fn state(&self) -> State {
        match self {
            Phase::ClientNegotiating(_) | Phase::ServerNegotiating => State::Negotiating,
            Phase::Handshaking(_) => State::Handshaking,
            Phase::Established(_) => State::Established,
            Phase::ClientRotating(_) | Phase::Rekeying(_) => State::Rotating,
            Phase::Closed(_) => State::Closed,
        }
    }
}

/// The timers of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The peer must complete the handshake or rotation in time.
    Handshake,
    /// The peer must send something now and then.
    Idle,
    /// v2: time to rotate keys (not an error).
    Rekey,
}

impl Timer {
    const ALL: [Timer; 3] = [Timer::Handshake, Timer::Idle, Timer::Rekey];

    fn name(self, state: State) -> &'static str {
        match (self, state) {
            (Timer::Handshake, State::Rotating) => "rotation",
            (Timer::Handshake, _) => "handshake",
            (Timer::Idle, _) => "idle",
            (Timer::Rekey, _) => "rekey",
        }
    }
}

/// A secure channel between a client and a server, without I/O.
pub struct Connection {
    role: Role,
    config: Config,
    rng: Box<dyn CryptoRng + Send>,
    phase: Phase,
    splitter: FrameSplitter,
    /// Frames ready to be written, with their delimiters.
    outgoing: Vec<u8>,
    events: VecDeque<Event>,
    /// Application messages waiting for keys, in order.
    queue: VecDeque<Message>,
    /// Payload bytes of `queue`.
    queued_bytes: usize,
    /// The current key epoch, the suite and the version, once established.
    epoch: u32,
    suite: Option<CipherSuite>,
    version: Option<Version>,
    /// Deadlines, indexed like `Timer::ALL`.
    timers: [Option<Instant>; 3],
    /// The latest time handed in: timers started by the application's
    /// commands (which carry no time) count from it.
    now: Instant,
    /// `flush_and_close` was called: close once the queue is empty.
    closing: bool,
}

impl Connection {
    /// A client: sends its `ALGORITHMS` at once (see `poll_transmit`).
    pub fn client(config: Config, rng: impl CryptoRng + Send + 'static, now: Instant) -> Self {
        let mut conn = Connection::new(Role::Client, config, Box::new(rng), now);
        let hello = conn.send_hello();
        conn.phase = Phase::ClientNegotiating(hello);
        conn
    }

    /// A server: waits for the client's `ALGORITHMS`.
    pub fn server(config: Config, rng: impl CryptoRng + Send + 'static, now: Instant) -> Self {
        Connection::new(Role::Server, config, Box::new(rng), now)
    }

    fn new(role: Role, config: Config, rng: Box<dyn CryptoRng + Send>, now: Instant) -> Self {
        let mut conn = Connection {
            role,
            splitter: FrameSplitter::new(config.max_frame_len),
            config,
            rng,
            phase: Phase::ServerNegotiating,
            outgoing: Vec::new(),
            events: VecDeque::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            epoch: 0,
            suite: None,
            version: None,
            timers: [None; 3],
            now,
            closing: false,
        };
        conn.arm(Timer::Handshake, conn.config.handshake_timeout);
        conn.arm(Timer::Idle, conn.config.idle_timeout);
        conn
    }

    // ----- getters -----

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// What the connection is doing.
    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// The suite of the current epoch, once established.
    pub fn suite(&self) -> Option<CipherSuite> {
        self.suite
    }

    /// The version spoken, once established.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The current key epoch (0 for the first handshake).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Why the connection closed, if it failed.
    pub fn close_reason(&self) -> Option<&Error> {
        match &self.phase {
            Phase::Closed(error) => error.as_ref(),
            _ => None,
        }
    }

    /// Bytes held for sending: queued messages and unpolled frames.
    pub fn buffered_len(&self) -> usize {
        self.queued_bytes + self.outgoing.len()
    }

    /// Application messages waiting for keys (not yet turned into frames).
    pub fn queued_messages(&self) -> usize {
        self.queue.len()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- inputs -----

    /// Consumes bytes read from the peer at time `now`.
    ///
    /// An error closes the connection: it is returned here and reported as
    /// [`Event::Closed`]. Input after the close is ignored.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        if self.state() == State::Closed {
            return Ok(());
        }
        self.now = self.now.max(now);
        self.arm(Timer::Idle, self.config.idle_timeout);
        let mut splitter = core::mem::replace(&mut self.splitter, FrameSplitter::new(0));
        let result = splitter.push(data, |frame| self.handle_frame(frame));
        self.splitter = splitter;
        result.map_err(|error| self.fail(error))
    }

    /// Tells the connection that time `now` has come; expired timers close
    /// it. Calling it early or repeatedly is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let state = self.state();
        if state == State::Closed {
            return;
        }
        self.now = self.now.max(now);
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            if self.timers[i].is_some_and(|deadline| deadline <= now) {
                if timer == Timer::Rekey {
                    self.disarm(Timer::Rekey);
                    self.start_rekey();
                    continue;
                }
                self.fail(Error::TimedOut {
                    timer: timer.name(state),
                });
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
            self.fail(ProtocolError::UnexpectedEof.into());
        }
    }

    // ----- application commands -----

    /// Queues an application message. It is sent as soon as keys allow
    /// (at once when established), in order, never dropped: messages sent
    /// while negotiating or rotating wait for the new keys.
    ///
    /// A client sends `Open`, `Data` and `Close`; a server `Ok` and
    /// `Error` (which also closes the connection). Errors here are
    /// [`Misuse`] and leave the connection as it was.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        if self.state() == State::Closed || self.closing {
            return Err(Misuse::Closed.into());
        }
        if message.is_from_client() != (self.role == Role::Client) {
            return Err(Misuse::WrongRole {
                message: message.type_name(),
            }
            .into());
        }
        let v2 = match self.version {
            Some(version) => version == Version::V2,
            None => self.config.client_speaks() == Version::V2,
        };
        if v2 && matches!(message, Message::Close { sha256: None }) {
            return Err(Misuse::MissingDigest.into());
        }
        let len = self.frame_len_bound(&message);
        if len > self.config.max_frame_len {
            return Err(Misuse::MessageTooLarge {
                len,
                limit: self.config.max_frame_len,
            }
            .into());
        }
        if self.buffered_len() + len > self.config.max_buffered && self.buffered_len() > 0 {
            return Err(Misuse::BufferFull {
                limit: self.config.max_buffered,
            }
            .into());
        }
        self.queued_bytes += payload_len(&message);
        self.queue.push_back(message);
        self.flush_queue();
        Ok(())
    }

    /// Closes the connection without an error. Frames already produced
    /// remain to be polled; queued messages not yet sent are dropped, and
    /// so are the peer's messages not yet polled: after `close`, the only
    /// event left to come is [`Event::Closed`].
    pub fn close(&mut self) {
        if self.state() != State::Closed {
            self.events.retain(|e| !matches!(e, Event::Message(_)));
            self.enter_closed(None);
        }
    }

    /// Closes the connection without an error once every queued message
    /// has been sent: unlike [`Connection::close`], messages that wait for
    /// keys (during a rotation) are not dropped. Until then the connection
    /// keeps reading (it needs the peer's answer to the rotation) and
    /// refuses new messages; the timers still apply. A server that answers
    /// the last `CLOSE` with `OK` ends with this.
    pub fn flush_and_close(&mut self) {
        if self.state() == State::Closed {
            return;
        }
        self.closing = true;
        self.flush_queue();
    }

    /// Starts a key rotation now, at time `now` (the rotation's reply
    /// deadline counts from it): in v2 either role sends `REKEY`; a v1
    /// client sends a new `ALGORITHMS`. Rotations also start by
    /// themselves, as [`Config`] says; this is for an application that
    /// wants fresh keys at a moment of its choosing.
    ///
    /// Does nothing while a rotation is already under way. Errors are
    /// [`Misuse`] and leave the connection as it was: before the
    /// handshake is complete ([`Misuse::NotEstablished`]), on a v1 server
    /// ([`Misuse::CannotRotate`]), once closed.
    pub fn rotate(&mut self, now: Instant) -> Result<(), Error> {
        self.now = self.now.max(now);
        let v1 = match &self.phase {
            Phase::Closed(_) => return Err(Misuse::Closed.into()),
            Phase::Rekeying(_) | Phase::ClientRotating(_) => return Ok(()),
            Phase::Established(established) => matches!(**established, Established::V1 { .. }),
            _ => return Err(Misuse::NotEstablished.into()),
        };
        match (v1, self.role) {
            (false, _) => self.start_rekey(),
            (true, Role::Client) => {
                let hello = self.send_algorithms();
                self.phase = Phase::ClientRotating(hello);
                self.arm(Timer::Handshake, self.config.handshake_timeout);
            }
            (true, Role::Server) => return Err(Misuse::CannotRotate.into()),
        }
        Ok(())
    }

    // ----- outputs -----

    /// Bytes to write to the peer, if any: whole frames with their `\r\n`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.outgoing.is_empty() {
            None
        } else {
            Some(core::mem::take(&mut self.outgoing))
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state() == State::Closed {
            return None;
        }
        self.timers.iter().flatten().min().copied()
    }

    // ----- internals -----

    /// Starts `timer` to expire `after` the latest time handed in.
    fn arm(&mut self, timer: Timer, after: Option<core::time::Duration>) {
        self.timers[timer as usize] = after.and_then(|d| self.now.checked_add(d));
    }

    fn disarm(&mut self, timer: Timer) {
        self.timers[timer as usize] = None;
    }

    /// Dispatches one frame by state and role.
    /// `bytes` are the frame exactly as received (v2 hashes them).
    fn handle_frame(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let frame = Frame::decode(bytes)?;
        if let Frame::Error(ErrorFrame { message }) = frame {
            // Once v2 keys exist the peer speaks only in records: a
            // plaintext ERROR then comes from someone else.
            if self.state() == State::Handshaking || self.version == Some(Version::V2) {
                return Err(self.unexpected(&Frame::Error(ErrorFrame { message })));
            }
            return Err(ProtocolError::PeerError(message).into());
        }
        match self.role {
            Role::Client => self.client_frame(frame, bytes),
            Role::Server => self.server_frame(frame, bytes),
        }
    }

    fn unexpected(&self, frame: &Frame) -> Error {
        ProtocolError::UnexpectedFrame {
            frame: frame.type_name(),
            state: self.state().describe(),
        }
        .into()
    }

    /// Moves to `Established` with new keys, reports it, and sends what
    /// waited for them.
    fn establish(&mut self, established: Established, first: bool) {
        let (suite, version) = (established.suite(), established.version());
        if !first {
            self.epoch += 1;
        }
        self.suite = Some(suite);
        self.version = Some(version);
        self.disarm(Timer::Handshake);
        match version {
            Version::V2 => self.arm(Timer::Rekey, self.config.rekey_after),
            _ => self.disarm(Timer::Rekey),
        }
        self.phase = Phase::Established(Box::new(established));
        self.events.push_back(if first {
            Event::HandshakeComplete { version, suite }
        } else {
            Event::KeyRotated {
                epoch: self.epoch,
                suite,
            }
        });
        self.flush_queue();
    }

    /// Sends queued messages while the keys allow.
    fn flush_queue(&mut self) {
        while let Some(message) = self.queue.pop_front() {
            self.queued_bytes -= payload_len(&message);
            if let Err(message) = self.transmit_message(message) {
                self.queued_bytes += payload_len(&message);
                self.queue.push_front(message);
                return;
            }
        }
        if self.closing && self.state() != State::Closed {
            self.close();
        }
    }

    /// Sends one application message now, or gives it back when it must
    /// wait for keys.
    fn transmit_message(&mut self, message: Message) -> Result<(), Message> {
        match (self.version, self.role) {
            (Some(Version::V2), _) => self.v2_transmit(message),
            (_, Role::Client) => self.client_transmit(message),
            (_, Role::Server) => self.server_transmit(message),
        }
    }

    /// Seals an inner v2 message in `channel` into the outgoing bytes.
    fn push_sealed(
        channel: &mut v2::Channel,
        rng: &mut (dyn CryptoRng + Send),
        outgoing: &mut Vec<u8>,
        inner: &v2::Inner,
    ) -> Result<(), Error> {
        let record = channel.sealer.seal(rng, &inner.encode())?;
        outgoing.extend_from_slice(&v2::record_frame(record).encode());
        outgoing.extend_from_slice(DELIMITER);
        Ok(())
    }

    fn push_frame(&mut self, frame: &Frame) {
        self.outgoing.extend_from_slice(&frame.encode());
        self.outgoing.extend_from_slice(DELIMITER);
    }

    /// Closes after a failure: keeps the error, tells the peer where the
    /// protocol allows it, reports the close, and returns the error.
    fn fail(&mut self, error: Error) -> Error {
        if self.state() != State::Closed {
            let peer_gone = matches!(
                error,
                Error::Protocol(ProtocolError::UnexpectedEof | ProtocolError::PeerError(_))
            );
            if !peer_gone {
                self.alert(alloc::format!("{error}"));
            }
            self.enter_closed(Some(error.clone()));
        }
        error
    }

    /// Tells the peer why the connection closes, where the protocol can:
    /// in a v2 record once keys exist (either role), else in a plaintext
    /// `ERROR` frame from a server.
    fn alert(&mut self, message: String) {
        let channel = match &mut self.phase {
            Phase::Handshaking(channel) => Some(&mut **channel),
            Phase::Rekeying(rekeying) => Some(&mut rekeying.channel),
            Phase::Established(established) => match &mut **established {
                Established::V2(channel) => Some(&mut **channel),
                Established::V1 { .. } => None,
            },
            _ => None,
        };
        match channel {
            Some(channel) => {
                let inner = v2::Inner::App(Message::Error { message });
                let _ =
                    Connection::push_sealed(channel, &mut *self.rng, &mut self.outgoing, &inner);
            }
            None if self.role == Role::Server => {
                self.push_frame(&Frame::Error(ErrorFrame { message }));
            }
            None => {}
        }
    }

    fn enter_closed(&mut self, error: Option<Error>) {
        self.phase = Phase::Closed(error.clone());
        self.queue.clear();
        self.queued_bytes = 0;
        self.timers = [None; 3];
        self.events.push_back(Event::Closed { error });
    }

    /// An upper bound of the frame a message makes (for the limits).
    fn frame_len_bound(&self, message: &Message) -> usize {
        // v1: inner JSON (base64 of DATA) padded, then base64 again, plus
        // the IV, the MAC and the JSON around them.
        let inner = payload_len(message) / 3 * 4 + 4 + 64;
        (inner + 16) / 3 * 4 + 4 + 256
    }
}

/// The bytes a message carries, for buffer accounting.
fn payload_len(message: &Message) -> usize {
    match message {
        Message::Data(d) => d.len(),
        Message::Open { file_name } => file_name.len(),
        Message::Error { message } => message.len(),
        _ => 0,
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("suite", &self.suite)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}
