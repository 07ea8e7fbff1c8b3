//! Plaintext frames of every type injected at every phase of a connection,
//! for both roles: what the protocol allows is handled, everything else is
//! a typed error (never a panic), and the receiver tells its peer only
//! what its phase lets it (see `expected_tell`).
//!
//! The frames: `ALGORITHMS` in its v1 form (an existing peer's, in an
//! ad-hoc 512-bit group) and its v2 form (a real v2 client's), `EXCHANGE`
//! in its v1 form (an existing peer's) and its v2 form (a real v2
//! server's, from another session), an `EXCHANGE` with empty fields, a v1
//! `SECURE_X` (an existing peer's), a v2 `SECURE_X` of garbage (with the
//! epoch and seq the receiver waits for, so that it reaches the tag), `OK`,
//! `ERROR`, an unknown type, malformed JSON, and a frame over the
//! receiver's limit (4096 bytes in every row of this table).
//!
//! The phases: a client negotiating (v1 and v2), a v2 client awaiting the
//! server's FINISHED, established clients (v1 and v2), a v1 client
//! rotating (its new `ALGORITHMS` out) and a v2 client rekeying (its REKEY
//! out), both from `Connection::rotate`; a server awaiting `ALGORITHMS`
//! (seed-compatible and v2 only), a v2 server awaiting the client's
//! FINISHED, established servers (v1 and v2) and a v2 server rekeying.
//! From the injection on, nothing more of the peer reaches the receiver.

use std::time::Instant;

use super::*;

/// The receiver's frame limit in this table.
const LIMIT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AlgorithmsV1,
    AlgorithmsV2,
    ExchangeV1,
    ExchangeV2,
    ExchangeEmpty,
    SecureXV1,
    RecordV2,
    Ok,
    ErrorFrame,
    Unknown,
    MalformedJson,
    TooLong,
}

const KINDS: [Kind; 12] = [
    Kind::AlgorithmsV1,
    Kind::AlgorithmsV2,
    Kind::ExchangeV1,
    Kind::ExchangeV2,
    Kind::ExchangeEmpty,
    Kind::SecureXV1,
    Kind::RecordV2,
    Kind::Ok,
    Kind::ErrorFrame,
    Kind::Unknown,
    Kind::MalformedJson,
    Kind::TooLong,
];

/// Where the receiver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    ClientNegotiatingV1,
    ClientNegotiatingV2,
    ClientAwaitingFinished,
    ClientEstablishedV1,
    ClientEstablishedV2,
    ClientRotatingV1,
    ClientRekeying,
    ServerNegotiatingSeed,
    ServerNegotiatingV2,
    ServerAwaitingFinished,
    ServerEstablishedV1,
    ServerEstablishedV2,
    ServerRekeying,
}

const ATS: [At; 13] = [
    At::ClientNegotiatingV1,
    At::ClientNegotiatingV2,
    At::ClientAwaitingFinished,
    At::ClientEstablishedV1,
    At::ClientEstablishedV2,
    At::ClientRotatingV1,
    At::ClientRekeying,
    At::ServerNegotiatingSeed,
    At::ServerNegotiatingV2,
    At::ServerAwaitingFinished,
    At::ServerEstablishedV1,
    At::ServerEstablishedV2,
    At::ServerRekeying,
];

impl At {
    fn describe(self) -> &'static str {
        match self {
            At::ClientNegotiatingV1 => "a v1 client negotiating",
            At::ClientNegotiatingV2 => "a v2 client negotiating",
            At::ClientAwaitingFinished => "a v2 client awaiting the server's FINISHED",
            At::ClientEstablishedV1 => "an established v1 client",
            At::ClientEstablishedV2 => "an established v2 client",
            At::ClientRotatingV1 => "a v1 client rotating",
            At::ClientRekeying => "a v2 client rekeying",
            At::ServerNegotiatingSeed => "a seed-compatible server awaiting ALGORITHMS",
            At::ServerNegotiatingV2 => "a v2-only server awaiting ALGORITHMS",
            At::ServerAwaitingFinished => "a v2 server awaiting the client's FINISHED",
            At::ServerEstablishedV1 => "an established v1 server",
            At::ServerEstablishedV2 => "an established v2 server",
            At::ServerRekeying => "a v2 server rekeying",
        }
    }

    fn role(self) -> Role {
        match self {
            At::ClientNegotiatingV1
            | At::ClientNegotiatingV2
            | At::ClientAwaitingFinished
            | At::ClientEstablishedV1
            | At::ClientEstablishedV2
            | At::ClientRotatingV1
            | At::ClientRekeying => Role::Client,
            _ => Role::Server,
        }
    }

    /// Both sides speak v2 only (else both are seed-compatible, and the
    /// client speaks v1).
    fn v2(self) -> bool {
        !matches!(
            self,
            At::ClientNegotiatingV1
                | At::ClientEstablishedV1
                | At::ClientRotatingV1
                | At::ServerNegotiatingSeed
                | At::ServerEstablishedV1
        )
    }

    fn phase(self) -> Phase {
        match self {
            At::ClientNegotiatingV1
            | At::ClientNegotiatingV2
            | At::ServerNegotiatingSeed
            | At::ServerNegotiatingV2 => Phase::Negotiating,
            At::ClientAwaitingFinished | At::ServerAwaitingFinished => Phase::AwaitingFinished,
            At::ClientEstablishedV1
            | At::ClientEstablishedV2
            | At::ServerEstablishedV1
            | At::ServerEstablishedV2 => Phase::Established,
            At::ClientRotatingV1 | At::ClientRekeying | At::ServerRekeying => Phase::Rotating,
        }
    }

    /// The seq of the next v2 record the receiver waits for: its peer's
    /// FINISHED was seq 0.
    fn next_seq(self) -> u64 {
        match self.phase() {
            Phase::Established | Phase::Rotating => 1,
            _ => 0,
        }
    }
}

/// The frames of the table, without their `\r\n`.
struct Frames {
    algorithms_v1: String,
    algorithms_v2: Vec<u8>,
    exchange_v1: String,
    exchange_v2: Vec<u8>,
    secure_x_v1: String,
}

impl Frames {
    fn new() -> Frames {
        let vectors = vectors();
        let now = Instant::now();
        let mut client = securex::Connection::client(
            Config::default(),
            ChaCha20Rng::seed_from_u64(SEED ^ 0x4d),
            now,
        )
        .expect("a valid config");
        let hello = client.poll_transmit().unwrap();
        let mut server = securex::Connection::server(
            Config::default(),
            ChaCha20Rng::seed_from_u64(SEED ^ 0x4e),
            now,
        )
        .expect("a valid config");
        server.handle_input(now, &hello).unwrap();
        let answer = server.poll_transmit().unwrap();
        let end = answer.windows(2).position(|w| w == b"\r\n").unwrap();
        Frames {
            algorithms_v1: vector_frame(&vectors["frames"]["algorithms"]),
            algorithms_v2: hello[..hello.len() - 2].to_vec(),
            exchange_v1: vector_frame(&vectors["frames"]["exchange"]),
            exchange_v2: answer[..end].to_vec(),
            secure_x_v1: vector_frame(&vectors["records"][0]["frame"]),
        }
    }

    fn frame(&self, kind: Kind, at: At) -> Vec<u8> {
        match kind {
            Kind::AlgorithmsV1 => self.algorithms_v1.as_bytes().to_vec(),
            Kind::AlgorithmsV2 => self.algorithms_v2.clone(),
            Kind::ExchangeV1 => self.exchange_v1.as_bytes().to_vec(),
            Kind::ExchangeV2 => self.exchange_v2.clone(),
            Kind::ExchangeEmpty => br#"{"type":"EXCHANGE","value":"","ciphersuite":""}"#.to_vec(),
            Kind::SecureXV1 => self.secure_x_v1.as_bytes().to_vec(),
            Kind::RecordV2 => format!(
                r#"{{"type":"SECURE_X","epoch":0,"seq":{},"payload":"{}"}}"#,
                at.next_seq(),
                b64([0x5a; 40])
            )
            .into_bytes(),
            Kind::Ok => br#"{"type":"OK"}"#.to_vec(),
            Kind::ErrorFrame => br#"{"type":"ERROR","message":"injected"}"#.to_vec(),
            Kind::Unknown => br#"{"type":"HELLO"}"#.to_vec(),
            Kind::MalformedJson => br#"{"type": "OK""#.to_vec(),
            Kind::TooLong => vec![b'x'; LIMIT + 1],
        }
    }
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::AlgorithmsV1 => "ALGORITHMS (v1)",
        Kind::AlgorithmsV2 => "ALGORITHMS (v2)",
        Kind::ExchangeV1 => "EXCHANGE (v1)",
        Kind::ExchangeV2 => "EXCHANGE (v2)",
        Kind::ExchangeEmpty => "EXCHANGE with empty fields",
        Kind::SecureXV1 => "a v1 SECURE_X",
        Kind::RecordV2 => "a v2 SECURE_X of garbage",
        Kind::Ok => "OK",
        Kind::ErrorFrame => "ERROR",
        Kind::Unknown => "an unknown type",
        Kind::MalformedJson => "malformed JSON",
        Kind::TooLong => "a frame over the limit",
    }
}

fn rotated_once(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::KeyRotated { epoch: 1, .. }))
}

fn got_ok(events: &[Event]) -> bool {
    events.contains(&Event::Message(Message::Ok))
}

fn completed_v1(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(
            e,
            Event::HandshakeComplete {
                version: Version::V1,
                ..
            }
        )
    })
}

/// What must come of `kind` at `at`.
#[rustfmt::skip]
#[allow(
    clippy::match_same_arms,
    reason = "the table gives the servers' rows and the clients' rows apart; merging arms across them would hide which role a row is for"
)]
fn expect(at: At, kind: Kind) -> Expect {
    use At::*;
    use Kind::*;
    let unexpected = |frame: &'static str| -> Expect {
        match frame {
            "ALGORITHMS" => fails!(Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "ALGORITHMS", .. })),
            "EXCHANGE" => fails!(Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "EXCHANGE", .. })),
            "SECURE_X" => fails!(Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "SECURE_X", .. })),
            "OK" => fails!(Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "OK", .. })),
            _ => fails!(Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "ERROR", .. })),
        }
    };
    let negotiating = matches!(at, ClientNegotiatingV1 | ClientNegotiatingV2 | ServerNegotiatingSeed | ServerNegotiatingV2);
    let v1 = !at.v2();
    // Where a plaintext ERROR is the peer's word: from a v1 peer, and
    // before any v2 key exists.
    let peer_may_refuse = v1 || negotiating;
    match (at, kind) {
        // What the frame's type alone decides.
        (_, Unknown) => fails!(Unsupported: Error::Frame(FrameError::UnknownType(t)) if t == "HELLO"),
        (_, MalformedJson) => fails!(Malformed: Error::Frame(FrameError::NotJson)),
        (_, TooLong) => fails!(LimitExceeded: Error::Frame(FrameError::TooLong { limit: LIMIT })),
        (_, ErrorFrame) if peer_may_refuse => fails!(Peer: Error::Protocol(ProtocolError::PeerError(m)) if m == "injected"),
        (_, ErrorFrame) => unexpected("ERROR"),

        // Servers.
        (ServerNegotiatingSeed, AlgorithmsV1) => continues!(Established, completed_v1),
        (ServerNegotiatingV2, AlgorithmsV1) => fails!(Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        (ServerNegotiatingSeed | ServerNegotiatingV2, AlgorithmsV2) => continues!(Handshaking),
        // A v1 client may rotate with any ALGORITHMS; v1 servers ignore
        // the fields they do not know.
        (ServerEstablishedV1, AlgorithmsV1 | AlgorithmsV2) => continues!(Established, rotated_once),
        (ServerEstablishedV1, SecureXV1) => fails!(Crypto: Error::Record(RecordError::BadMac)),
        (ServerAwaitingFinished, RecordV2) => fails!(Crypto: Error::Protocol(ProtocolError::BadFinished)),
        (ServerEstablishedV2 | ServerRekeying, RecordV2) => fails!(Crypto: Error::Record(RecordError::Decrypt)),
        (_, AlgorithmsV1 | AlgorithmsV2) => unexpected("ALGORITHMS"),
        (ServerNegotiatingSeed | ServerNegotiatingV2 | ServerAwaitingFinished | ServerEstablishedV1
            | ServerEstablishedV2 | ServerRekeying, ExchangeV1 | ExchangeV2 | ExchangeEmpty) => unexpected("EXCHANGE"),
        (ServerNegotiatingSeed | ServerNegotiatingV2 | ServerAwaitingFinished | ServerEstablishedV1
            | ServerEstablishedV2 | ServerRekeying, SecureXV1 | RecordV2) => unexpected("SECURE_X"),
        (ServerNegotiatingSeed | ServerNegotiatingV2 | ServerAwaitingFinished | ServerEstablishedV1
            | ServerEstablishedV2 | ServerRekeying, Ok) => unexpected("OK"),

        // Clients: the answer to their hello.
        (ClientNegotiatingV1 | ClientRotatingV1, ExchangeV1) => fails!(InvalidKey: Error::Dh(DhError::GroupMismatch)),
        (ClientNegotiatingV1 | ClientRotatingV1, ExchangeV2) => fails!(Policy: Error::Protocol(ProtocolError::VersionRefused { version: 2 })),
        (ClientNegotiatingV1 | ClientRotatingV1, ExchangeEmpty) => fails!(Malformed: Error::Suite(SuiteError::Malformed(s)) if s.is_empty()),
        (ClientNegotiatingV2, ExchangeV1 | ExchangeEmpty) => fails!(Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        (ClientNegotiatingV2, ExchangeV2) => continues!(Handshaking),
        (_, ExchangeV1 | ExchangeV2 | ExchangeEmpty) => unexpected("EXCHANGE"),
        // v1 servers answer in plaintext, during a rotation too.
        (ClientEstablishedV1, Ok) => continues!(Established, got_ok),
        (ClientRotatingV1, Ok) => continues!(Rotating, got_ok),
        (_, Ok) => unexpected("OK"),
        (ClientAwaitingFinished, RecordV2) => fails!(Crypto: Error::Protocol(ProtocolError::BadFinished)),
        (ClientEstablishedV2 | ClientRekeying, RecordV2) => fails!(Crypto: Error::Record(RecordError::Decrypt)),
        (_, SecureXV1 | RecordV2) => unexpected("SECURE_X"),
    }
}

/// Every frame at every phase.
fn rows() -> Vec<Case> {
    let frames = Frames::new();
    let mut rows = Vec::new();
    for at in ATS {
        for kind in KINDS {
            let name = format!("{} at {}", describe(kind), at.describe());
            let attack = Attack::Inject(at.phase(), frames.frame(kind, at));
            let mut case = Case::new(at.role(), name, attack, expect(at, kind));
            if at.v2() {
                case = case.v2();
            }
            case = match at.role() {
                Role::Client => case.client_config(|c| c.max_frame_len = LIMIT),
                Role::Server => case.server_config(|c| c.max_frame_len = LIMIT),
            };
            rows.push(case);
        }
    }
    rows
}

#[test]
fn plaintext_frames_of_every_type_at_every_phase() {
    run_table(&rows());
}
