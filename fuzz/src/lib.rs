//! What the fuzz targets, the corpus generator (`examples/make_corpus.rs`)
//! and the regression tests (`tests/fuzz_regressions.rs`, which includes
//! this file as a module) share: the seeded connections, the starting
//! points of the connection targets, and the checked runner of one
//! connection ([`Run`]).
//!
//! Both sides draw from `ChaCha20` seeded with fixed seeds, so a session
//! replayed to a fresh seeded connection derives the same keys, and the
//! recorded `SECURE_X` frames authenticate. Under `cfg(fuzzing)` the v1 key
//! schedule runs one PBKDF2 iteration (see `securex::schedule`), so seeds
//! carrying v1 records must be written by a generator built with
//! `--cfg fuzzing` too (`fuzz/README.md`).
//!
//! This file uses only the public API of `securex` and std, and no
//! dependency of the fuzz crate, so that the regression tests of the main
//! crate can include it.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::suite::{CipherSuite, Offer};
use securex::wire::{Frame, FrameSplitter};
use securex::{Config, Connection, Event, Role, State, Version};

pub mod dh_decoders;
pub mod fast_path;
pub mod frames;
pub mod pair;
pub mod seal_open;
pub mod transfer;

/// The client's RNG seed.
pub const CLIENT_SEED: [u8; 32] = [0xc1; 32];
/// The server's RNG seed.
pub const SERVER_SEED: [u8; 32] = [0x5e; 32];

/// A seed-compatible server with the seeded RNG, its rotation limits
/// lifted: the established starts replay a prelude that rotates right
/// after the handshake, on a clock that stands still.
pub fn server(now: Instant) -> Connection {
    let mut config = server_config();
    without_rotation_limits(&mut config);
    server_with(config, now)
}

/// The seed-compatible preset with every extension on: a v2 hello that
/// offers `resume` or `batch` agrees them, so the inputs reach the
/// connection's handling of their messages (the clients of the
/// established starts offer none, so their preludes are unchanged).
pub fn server_config() -> Config {
    let mut config = Config::seed_compatible();
    config.extensions = securex::config::Extension::ALL.to_vec();
    config
}

/// A seed-compatible server with every default bound: the fresh starts
/// fuzz the rotation limits too.
pub fn strict_server(now: Instant) -> Connection {
    server_with(server_config(), now)
}

/// A server of `config` with the seeded RNG.
pub fn server_with(config: Config, now: Instant) -> Connection {
    Connection::server(config, ChaCha20Rng::from_seed(SERVER_SEED), now).expect("a valid config")
}

/// Lifts the bounds on rotations (the fewest frames and bytes before one,
/// the interval between them), so that a few small messages can rotate.
pub fn without_rotation_limits(config: &mut Config) {
    config.v1_rotation_min_frames = 0;
    config.v1_rotation_min_bytes = 0;
    config.rekey_min_bytes = 0;
    config.min_rotation_interval = None;
    config.v1_rotation_min_interval = None;
}

/// The seed-compatible config speaking only `version` and offering only
/// `suite` (every suite if `None`), rotating as soon as it is asked to
/// (the servers the targets fuzz keep their rotation limits).
pub fn client_config(version: Version, suite: Option<CipherSuite>) -> Config {
    let mut config = Config::seed_compatible();
    without_rotation_limits(&mut config);
    config.versions = vec![version];
    if let Some(suite) = suite {
        config.offer = Offer {
            ciphers: vec![suite.cipher()],
            modes: vec![suite.mode()],
            hashes: vec![suite.hash()],
        };
    }
    config
}

/// A client of `config` with the seeded RNG.
pub fn client_with(config: Config, now: Instant) -> Connection {
    Connection::client(config, ChaCha20Rng::from_seed(CLIENT_SEED), now).expect("a valid config")
}

/// A client of `client_config(version, suite)` with the seeded RNG.
pub fn client(version: Version, suite: Option<CipherSuite>, now: Instant) -> Connection {
    client_with(client_config(version, suite), now)
}

/// Moves bytes both ways until neither side has any; returns what the
/// client and the server wrote. Panics if either side refuses input.
pub fn shuttle(
    client: &mut Connection,
    server: &mut Connection,
    now: Instant,
) -> (Vec<u8>, Vec<u8>) {
    let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
    loop {
        let mut moved = false;
        if let Some(bytes) = client.poll_transmit() {
            server
                .handle_input(now, &bytes)
                .expect("server accepts the client");
            from_client.extend_from_slice(&bytes);
            moved = true;
        }
        if let Some(bytes) = server.poll_transmit() {
            client
                .handle_input(now, &bytes)
                .expect("client accepts the server");
            from_server.extend_from_slice(&bytes);
            moved = true;
        }
        if !moved {
            return (from_client, from_server);
        }
    }
}

// ---------------------------------------------------------------------
// Where a connection target starts
// ---------------------------------------------------------------------

/// Where `server_input` and `client_input` start: the first byte of their
/// input.
///
/// * `0b11r0_vsss`: **established** in v1 (`v` 0) or v2 (`v` 1), the
///   client offering only `CipherSuite::ALL[sss]`. With `r`:
///   **mid-rotation** where the role under test has one: a client that
///   sent a new `ALGORITHMS` (v1) or its `REKEY` (v2) through
///   `Connection::rotate(now)`, a v2 server whose `REKEY` is out (the
///   same); a v1 server has no rotating state, so there `r` starts it
///   after one rotation of its client (epoch 1).
/// * anything else: **fresh**. For a server, the seed-compatible server.
///   For a client, `0bxfo_vsss` (bits 5 to 0): a client of version `v`
///   offering every suite, or only `CipherSuite::ALL[sss]` if `o`; with
///   `f` and `v` = 1 the fallback client (versions `[V2, V1]`, legacy
///   suites off) that a v1 server may answer in v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A connection that has seen nothing yet.
    Fresh {
        /// The client's version (the server's config ignores it).
        version: Version,
        /// The only suite the client offers, or all.
        suite: Option<CipherSuite>,
        /// v2 client that also accepts a v1 answer, without legacy suites.
        fallback: bool,
    },
    /// After a real handshake (and, with `rotating`, the start of a
    /// rotation).
    Established {
        /// The version spoken.
        version: Version,
        /// `CipherSuite::ALL[suite]`, the only one offered.
        suite: usize,
        /// Mid-rotation (see the type's docs).
        rotating: bool,
    },
}

impl Start {
    /// Decodes the first input byte.
    pub fn from_byte(byte: u8) -> Start {
        let version = if byte & 0x08 == 0 {
            Version::V1
        } else {
            Version::V2
        };
        let suite = usize::from(byte & 0x07);
        if byte >> 6 == 0b11 {
            Start::Established {
                version,
                suite,
                rotating: byte & 0x20 != 0,
            }
        } else {
            Start::Fresh {
                version,
                suite: (byte & 0x10 != 0).then_some(CipherSuite::ALL[suite]),
                fallback: byte & 0x20 != 0 && version == Version::V2,
            }
        }
    }

    /// The byte [`Start::from_byte`] decodes to `self`.
    pub fn to_byte(self) -> u8 {
        let v = |version| if version == Version::V2 { 0x08 } else { 0 };
        match self {
            Start::Fresh {
                version,
                suite,
                fallback,
            } => {
                let index = suite.map_or(0, |s| {
                    0x10 | u8::try_from(CipherSuite::ALL.iter().position(|&a| a == s).unwrap())
                        .unwrap()
                });
                v(version) | index | if fallback { 0x20 } else { 0 }
            }
            Start::Established {
                version,
                suite,
                rotating,
            } => 0xc0 | if rotating { 0x20 } else { 0 } | v(version) | u8::try_from(suite).unwrap(),
        }
    }

    /// Every established start: both versions, every suite, with and
    /// without a rotation.
    pub fn all_established() -> impl Iterator<Item = Start> {
        (0..32).map(|i| Start::Established {
            version: if i & 8 == 0 { Version::V1 } else { Version::V2 },
            suite: i & 7,
            rotating: i & 16 != 0,
        })
    }

    /// The client's config.
    pub fn client_config(self) -> Config {
        match self {
            Start::Fresh {
                version,
                suite,
                fallback,
            } => {
                let mut config = client_config(version, suite);
                if fallback {
                    config.versions = vec![Version::V2, Version::V1];
                    // v2 without the legacy suites, unless the one suite
                    // offered is legacy: v2 would then have none, a
                    // configuration `Config::validate` refuses.
                    config.legacy_suites = suite.is_some_and(|s| {
                        s.cipher() == securex::suite::Cipher::TripleDes
                            || s.mode() == securex::suite::Mode::Ecb
                    });
                }
                config
            }
            Start::Established { version, suite, .. } => {
                client_config(version, Some(CipherSuite::ALL[suite]))
            }
        }
    }

    /// A file-name-friendly name, e.g. `established-v2-dh-3des-cbc-sha-256-rotating`.
    pub fn name(self) -> String {
        let name = match self {
            Start::Fresh {
                version,
                suite,
                fallback,
            } => {
                let suite = suite.map_or("all".to_string(), |s| s.to_string());
                let fallback = if fallback { "-fallback" } else { "" };
                format!("fresh-{version:?}-{suite}{fallback}")
            }
            Start::Established {
                version,
                suite,
                rotating,
            } => {
                let rotating = if rotating { "-rotating" } else { "" };
                let suite = CipherSuite::ALL[suite];
                format!("established-{version:?}-{suite}{rotating}")
            }
        };
        name.replace(';', "-").to_lowercase()
    }

    /// Whether the role under test calls `rotate(now)` at the end of the
    /// prelude (a v1 server cannot: its client rotated in the prelude).
    fn calls_rotate(self, role: Role) -> bool {
        matches!(self, Start::Established { version, rotating: true, .. }
            if role == Role::Client || version == Version::V2)
    }
}

/// A real client and server, run to where `start` says for the `role`
/// under test, and the bytes the peer of that role wrote on the way (what
/// [`Run::new`] replays to a fresh connection of `role`). Both sides are
/// established; with a rotation, the side under test has started it (its
/// request is not yet polled), or for a v1 server, the client's rotation
/// is complete.
pub fn pair_at(role: Role, start: Start, now: Instant) -> (Connection, Connection, Vec<u8>) {
    let Start::Established {
        version, rotating, ..
    } = start
    else {
        panic!("pair_at needs an established start");
    };
    let mut client = client_with(start.client_config(), now);
    let mut server = server(now);
    let (mut from_client, mut from_server) = shuttle(&mut client, &mut server, now);
    assert_eq!(client.state(), State::Established, "{start:?}");
    assert_eq!(server.state(), State::Established, "{start:?}");
    if rotating {
        match role {
            Role::Client => client.rotate(now).expect("client rotates"),
            Role::Server if version == Version::V2 => server.rotate(now).expect("server rotates"),
            Role::Server => {
                client.rotate(now).expect("client rotates");
                let (c, s) = shuttle(&mut client, &mut server, now);
                from_client.extend(c);
                from_server.extend(s);
                assert_eq!(server.epoch(), 1);
            }
        }
    }
    let peer_bytes = match role {
        Role::Client => from_server,
        Role::Server => from_client,
    };
    (client, server, peer_bytes)
}

/// The bytes [`pair_at`] returns, made once per role and start.
fn prelude(role: Role, start: Start) -> &'static [u8] {
    static PRELUDES: [OnceLock<Vec<u8>>; 64] = [const { OnceLock::new() }; 64];
    let Start::Established {
        version,
        suite,
        rotating,
    } = start
    else {
        panic!("no prelude for a fresh start");
    };
    let index = usize::from(rotating) << 4
        | usize::from(version == Version::V2) << 3
        | suite
        | usize::from(role == Role::Client) << 5;
    PRELUDES[index].get_or_init(|| pair_at(role, start, Instant::now()).2)
}

/// Fails unless the build keeps debug assertions on (fuzz/Cargo.toml
/// forces them and overflow checks in the profile `cargo fuzz` builds):
/// an integer overflow must be a finding, not a wrap.
// At run time, not in a const block: `cargo test --release` may build the
// regression tests (which include this file) without them.
#[allow(clippy::assertions_on_constants)]
pub fn assert_checked_build() {
    assert!(
        cfg!(debug_assertions),
        "fuzz targets must be built with debug assertions and overflow checks"
    );
}

/// Splits `stream` as the `chunking` byte says: 0 one piece, 1 byte by
/// byte, other values pseudo-random pieces of up to `4 * chunking` bytes.
pub fn pieces(stream: &[u8], chunking: u8) -> Vec<&[u8]> {
    match chunking {
        0 => vec![stream],
        1 => stream.chunks(1).collect(),
        _ => {
            let max = 4 * usize::from(chunking);
            let mut x = u32::from(chunking).wrapping_mul(0x9e37_79b9) | 1;
            let mut rest = stream;
            let mut out = Vec::new();
            while !rest.is_empty() {
                // xorshift32
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let n = (1 + x as usize % max).min(rest.len());
                let (piece, tail) = rest.split_at(n);
                out.push(piece);
                rest = tail;
            }
            out
        }
    }
}

// ---------------------------------------------------------------------
// One connection, every output checked
// ---------------------------------------------------------------------

/// The lists of a client's `ALGORITHMS`, as wire names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Offered {
    ciphers: Vec<String>,
    modes: Vec<String>,
    hashes: Vec<String>,
}

impl Offered {
    fn contains(&self, suite: CipherSuite) -> bool {
        let has = |names: &[String], name: &str| names.iter().any(|n| n == name);
        has(&self.ciphers, suite.cipher().wire_name())
            && has(&self.modes, suite.mode().wire_name())
            && has(&self.hashes, suite.hash().wire_name())
    }
}

/// A connection, its clock, and everything it produced, checked as it
/// comes out.
///
/// Invariants checked, besides "never panics":
///
/// * an `Err` from `handle_input` leaves the state `Closed` with that
///   error as `close_reason`; an `Ok` never closes (unless
///   `flush_and_close` was called); input after the close is ignored;
/// * exactly one `Event::Closed` (carrying `close_reason`), and after the
///   close has been drained nothing more comes out: no bytes, no events,
///   no timeout;
/// * events in order: `HandshakeComplete` first, `KeyRotated` epochs count
///   up from 1, `Message`s only of the peer's role and only after the
///   handshake;
/// * the output is whole frames that decode and that the role may send: a
///   server never an `ALGORITHMS` or a v1 `SECURE_X`; a client only
///   `ALGORITHMS` and `SECURE_X` (never a plaintext `ERROR`, `OK` or
///   `EXCHANGE`); never v1 and v2 records both; nothing in plaintext once
///   a v2 record went out;
/// * a client completes a handshake or rotation only in a suite its last
///   `ALGORITHMS` offered; a v2 rotation keeps the suite;
/// * before the peer's FINISHED has verified (no `HandshakeComplete` yet),
///   nothing protected goes out but the server's own FINISHED: no sealed
///   alert under keys nobody has confirmed;
/// * while open, `poll_timeout` is later than the time last handed in.
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts the checks above test, not the states of one machine"
)]
pub struct Run {
    /// The connection under test.
    pub conn: Connection,
    /// Its clock: the latest time handed in.
    pub now: Instant,
    /// Everything it wrote.
    pub out: Vec<u8>,
    /// Everything it reported.
    pub events: Vec<Event>,
    /// Closed and drained: nothing more may come out.
    pub finished: bool,
    /// `flush_and_close` was called: input may close without an error.
    pub flushing: bool,
    role: Role,
    sent_v1_record: bool,
    sent_v2_record: bool,
    /// v2 records written in drains that ended before the handshake was
    /// complete.
    unverified_records: usize,
    /// v2 records in the output being drained.
    records_in_drain: usize,
    offered: Option<Offered>,
}

impl Run {
    /// A connection of `role` at `start` (a fresh one, or a fresh seeded
    /// one that was given the peer's bytes of [`pair_at`] and, for a
    /// rotation, called `rotate(now)`), every output so far checked.
    pub fn new(role: Role, start: Start, now: Instant) -> Run {
        let conn = match (role, start) {
            (Role::Client, _) => client_with(start.client_config(), now),
            (Role::Server, Start::Established { .. }) => server(now),
            (Role::Server, _) => strict_server(now),
        };
        let mut run = Run::wrap(conn, now);
        if let Start::Established { .. } = start {
            run.input(prelude(role, start));
            assert_eq!(run.conn.state(), State::Established, "{start:?}");
            if start.calls_rotate(role) {
                assert_eq!(run.conn.rotate(now), Ok(()));
                run.drain();
                assert_eq!(run.conn.state(), State::Rotating, "{start:?}");
            }
        }
        run
    }

    /// Checks `conn` from now on (and drains what it has already).
    pub fn wrap(conn: Connection, now: Instant) -> Run {
        let mut run = Run {
            role: conn.role(),
            conn,
            now,
            out: Vec::new(),
            events: Vec::new(),
            finished: false,
            flushing: false,
            sent_v1_record: false,
            sent_v2_record: false,
            unverified_records: 0,
            records_in_drain: 0,
            offered: None,
        };
        run.drain();
        run
    }

    /// Hands `bytes` in at the current time; returns whether it closed the
    /// connection with an error.
    pub fn input(&mut self, bytes: &[u8]) -> bool {
        let was_closed = self.conn.state() == State::Closed;
        let failed = match self.conn.handle_input(self.now, bytes) {
            Ok(()) => {
                assert!(
                    was_closed || self.flushing || self.conn.state() != State::Closed,
                    "closed without an error"
                );
                false
            }
            Err(error) => {
                assert!(!was_closed, "error after the close");
                assert_eq!(self.conn.state(), State::Closed);
                assert_eq!(self.conn.close_reason(), Some(&error));
                true
            }
        };
        self.drain();
        failed
    }

    /// Moves the clock `step` on and calls `handle_timeout`.
    pub fn tick(&mut self, step: Duration) {
        self.now += step;
        self.conn.handle_timeout(self.now);
        self.drain();
        if self.conn.state() != State::Closed {
            assert!(self.conn.poll_timeout() > Some(self.now), "expired timer");
        }
    }

    /// The end of the stream, then more of everything: all ignored.
    pub fn eof(&mut self) {
        self.conn.handle_eof();
        self.drain();
        assert!(self.finished);
        self.assert_one_closed();
        assert_eq!(
            self.conn.handle_input(self.now, b"{\"type\": \"OK\"}\r\n"),
            Ok(())
        );
        self.conn
            .handle_timeout(self.now + Duration::from_secs(1000));
        self.conn.handle_eof();
        assert!(self.conn.rotate(self.now).is_err(), "rotates once closed");
        self.drain();
    }

    /// Exactly one `Closed` event was reported.
    pub fn assert_one_closed(&self) {
        let closed = self
            .events
            .iter()
            .filter(|e| matches!(e, Event::Closed { .. }));
        assert_eq!(closed.count(), 1, "one Closed event");
    }

    /// The peer's messages reported so far.
    pub fn messages(&self) -> impl Iterator<Item = &securex::Message> {
        self.events.iter().filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
    }

    /// Polls everything out and checks it.
    pub fn drain(&mut self) {
        self.records_in_drain = 0;
        while let Some(bytes) = self.conn.poll_transmit() {
            assert!(!self.finished, "bytes after the close");
            self.check_output(&bytes);
            self.out.extend_from_slice(&bytes);
        }
        while let Some(event) = self.conn.poll_event() {
            assert!(!self.finished, "event after the close: {event:?}");
            self.check_event(&event);
            self.events.push(event);
        }
        // Before the peer's FINISHED verifies, nothing protected goes out
        // but the server's own FINISHED (which comes first).
        let handshaken = matches!(self.events.first(), Some(Event::HandshakeComplete { .. }));
        if !handshaken {
            self.unverified_records += self.records_in_drain;
            let allowed = usize::from(self.role == Role::Server);
            assert!(
                self.unverified_records <= allowed,
                "{:?} sealed {} records before the peer's FINISHED verified",
                self.role,
                self.unverified_records
            );
        }
        if self.conn.state() == State::Closed {
            assert_eq!(self.conn.poll_timeout(), None);
            self.finished = true;
        }
    }

    fn check_event(&self, event: &Event) {
        let closed = self
            .events
            .iter()
            .any(|e| matches!(e, Event::Closed { .. }));
        assert!(!closed, "event after Closed: {event:?}");
        let handshaken = matches!(self.events.first(), Some(Event::HandshakeComplete { .. }));
        let last_suite = self.events.iter().rev().find_map(|e| match e {
            Event::HandshakeComplete { suite, .. } | Event::KeyRotated { suite, .. } => {
                Some(*suite)
            }
            _ => None,
        });
        match event {
            Event::HandshakeComplete { suite, .. } => {
                assert!(self.events.is_empty(), "HandshakeComplete after {event:?}");
                self.check_offered(*suite);
            }
            Event::KeyRotated { epoch, suite } => {
                assert!(handshaken);
                let rotations = self.events.iter();
                let rotations = rotations.filter(|e| matches!(e, Event::KeyRotated { .. }));
                assert_eq!(*epoch as usize, rotations.count() + 1);
                assert!(self.conn.epoch() >= *epoch, "epoch went back");
                self.check_offered(*suite);
                if self.conn.version() == Some(Version::V2) {
                    assert_eq!(Some(*suite), last_suite, "v2 rotation changed the suite");
                }
            }
            Event::Message(message) => {
                assert!(handshaken, "message before the handshake: {message:?}");
                let from_client = self.role == Role::Server;
                assert_eq!(
                    message.is_from_client(),
                    from_client,
                    "{:?} got {message:?}",
                    self.role
                );
            }
            Event::Closed { error } => {
                assert_eq!(self.conn.state(), State::Closed);
                assert_eq!(error.as_ref(), self.conn.close_reason());
            }
            other => panic!("unknown event {other:?}"),
        }
    }

    /// A client accepts only a suite it offered.
    fn check_offered(&self, suite: CipherSuite) {
        if self.role == Role::Client {
            let offered = self.offered.as_ref().expect("a client offered first");
            assert!(
                offered.contains(suite),
                "client accepted {suite}, which it did not offer ({offered:?})"
            );
        }
    }

    /// Whole frames that decode and that the role may send.
    fn check_output(&mut self, bytes: &[u8]) {
        assert!(bytes.ends_with(b"\r\n"), "partial frame written");
        let mut splitter = FrameSplitter::new(1 << 30);
        let mut frames = Vec::new();
        splitter
            .push(bytes, |frame| {
                frames.push(frame.to_vec());
                Ok::<_, securex::error::FrameError>(())
            })
            .unwrap();
        assert_eq!(splitter.buffered(), 0);
        for frame in frames {
            let text = String::from_utf8_lossy(&frame).into_owned();
            let decoded = Frame::decode(&frame);
            let Ok(decoded) = decoded else {
                panic!("{:?} wrote an invalid frame {text:?}", self.role)
            };
            let allowed = matches!(
                (&decoded, self.role),
                (Frame::Record(_), _)
                    | (Frame::Algorithms(_) | Frame::SecureX(_), Role::Client)
                    | (
                        Frame::Exchange(_) | Frame::Ok | Frame::Error(_),
                        Role::Server
                    )
            );
            assert!(allowed, "{:?} wrote {text:?}", self.role);
            assert!(
                !self.sent_v2_record || matches!(decoded, Frame::Record(_)),
                "plaintext after a v2 record: {text:?}"
            );
            match decoded {
                Frame::Record(_) => {
                    self.sent_v2_record = true;
                    self.records_in_drain += 1;
                }
                Frame::SecureX(_) => self.sent_v1_record = true,
                Frame::Algorithms(hello) => {
                    self.offered = Some(Offered {
                        ciphers: hello.ciphers.clone(),
                        modes: hello.modes.clone(),
                        hashes: hello.hash.clone(),
                    });
                }
                _ => {}
            }
            assert!(
                !(self.sent_v1_record && self.sent_v2_record),
                "both v1 and v2 records"
            );
        }
    }
}

/// The longest stream `connection_input` feeds (the rest is ignored), to
/// keep every run short.
pub const MAX_STREAM: usize = 32 * 1024;

/// Runs one input of `server_input` (`role` server) or `client_input`
/// (`role` client): `[start, chunking, step, stream...]`, see those
/// targets.
pub fn connection_input(role: Role, data: &[u8]) {
    assert_checked_build();
    let [start, chunking, step, stream @ ..] = data else {
        return;
    };
    let stream = &stream[..stream.len().min(MAX_STREAM)];
    let start = Start::from_byte(*start);
    let step = Duration::from_millis(8 * u64::from(*step).pow(2));
    let now = Instant::now();

    let mut chunked = Run::new(role, start, now);
    for piece in pieces(stream, *chunking) {
        chunked.input(piece);
        chunked.tick(step);
    }
    chunked.eof();

    // (Chunking 0 already fed it whole.)
    if step.is_zero() && *chunking != 0 {
        let mut whole = Run::new(role, start, now);
        whole.input(stream);
        whole.eof();
        assert_eq!(whole.out, chunked.out, "output depends on the split");
        assert_eq!(whole.events, chunked.events, "events depend on the split");
    }
}
