//! Bad input, table-driven. Each row names the side that receives the bad
//! input, how the input is made, and what must come of it. Every row runs
//! twice on a [`Pair`], with the links handing the input over whole and
//! byte by byte, and for both runs:
//!
//! 1. the receiver's `handle_input` returns the row's error, once (transfer
//!    rows: the server's `Download` ends with the row's `TransferError`,
//!    and no input of the connection fails);
//! 2. the receiving connection is `Closed`, with that error as its reason,
//!    and has no timer left;
//! 3. it reported exactly one `Event::Closed`, carrying that error (`None`
//!    for transfer rows: there the application closes);
//! 4. it told its peer only what its phase allows ([`expected_tell`]):
//!    * nothing when the failure is the peer's own `ERROR` or end of
//!      stream;
//!    * once the peer's FINISHED has verified (v2), one sealed `ERROR`
//!      record, its last, which the peer reads (`PeerError`);
//!    * a v1 server, or a v2 server that has not sent its `EXCHANGE` yet:
//!      one plaintext `ERROR` frame, its last, which the client reports as
//!      `ProtocolError::PeerError` with the same text;
//!    * otherwise (a client before the server's FINISHED verified, any v1
//!      client, a v2 server awaiting the client's FINISHED): nothing at
//!      all. A client never sends a plaintext `ERROR`;
//!
//!    byte by byte, what the failing frame made the receiver write is
//!    exactly that;
//! 5. nothing panicked, and both splits observed the same things;
//! 6. the server runs a `Download` over a fresh `store/` (nested a few levels
//!    deep in a scratch directory): nothing outside `store/` changed, a
//!    failed transfer left nothing under a final name (only `.partial`),
//!    and `/etc/passwd` is untouched.
//!
//! Rows where the protocol allows the input ([`Expect::Continues`]) check
//! instead that no input failed, the receiver is in the row's state, not
//! closed, has sent no `ERROR`, and reported the row's events. Rows failing
//! any check are collected and reported together, by name.
//!
//! The tables: here, the v1 server's (framing, offers, groups and keys,
//! records, transfers) and the first client rows; in `bad_input/`, the v2
//! server's ([`v2_server`]), the client's in both versions ([`client`]),
//! and plaintext frames of every type at every phase of both roles
//! ([`phases`]), with the v2 forgers they use ([`forge`]).
//!
//! A v1 record's MAC covers neither the IV nor anything but the ciphertext,
//! so a changed IV length or content passes the MAC check: records with a
//! bad IV come from a link hook on a real client's records. Records with a
//! valid MAC and bad padding or bad inner JSON come from a man in the
//! middle ([`Attack::Forge`]) who swaps the client's key share for its own
//! and so derives the keys the server uses: v1 has no authentication. v2
//! without authentication lets the same man in the middle hold the keys
//! of a session ([`Attack::ForgeV2`]): its records open, so what they carry
//! is what is tested.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::{App, FrameHook, Pair, Split};
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use der::{Decode, Encode};
use pem_rfc7468::LineEnding;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::config::Config;
use securex::dh::{Group, KeyPair, NamedGroup};
use securex::error::{DhError, FrameError, ProtocolError, RecordError, SuiteError};
use securex::record::V1Protector;
use securex::schedule::V1Secrets;
use securex::suite::{Cipher, CipherSuite, Hash, Mode, Offer};
use securex::transfer::{
    Download, MAX_NAME_LEN, Receiver, SessionError, TransferError, stored_name,
};
use securex::wire::{Algorithms, Frame, SecureX};
use securex::{Error, ErrorKind, Event, Message, Role, State, Version};
use serde_json::{Map, Value};
use spki::{AlgorithmIdentifier, SubjectPublicKeyInfoRef};

/// The seed of every pair: rows are deterministic.
const SEED: u64 = 0x5ec0_0bad;

/// The file the client opens in rows that need a real record from it.
const OPEN_NAME: &str = "report.pdf";

/// The IV of forged records.
const IV: [u8; 16] = [0x42; 16];

/// The SPKI algorithm OIDs of DH keys, and one that is not DH.
const DH_KEY_AGREEMENT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.3.1");
const DH_PUBLIC_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10046.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

// ---------------------------------------------------------------------------
// The table's vocabulary
// ---------------------------------------------------------------------------

/// A change to one frame on its way: the frames to deliver instead.
type Edit = Rc<dyn Fn(Vec<u8>) -> Vec<Vec<u8>>>;

/// How a row makes its bad input.
enum Attack {
    /// Honest peers: their configurations alone make the failure.
    Honest,
    /// These bytes reach the receiver before anything its peer sends.
    First(Vec<u8>),
    /// These bytes reach the receiver once the handshake is complete (the
    /// client sends nothing).
    AfterHandshake(Vec<u8>),
    /// Frame `n` on its way to the receiver (0 is the client's
    /// `ALGORITHMS` or the server's `EXCHANGE`) is edited. The client opens
    /// [`OPEN_NAME`] at once, so frame 1 towards the server is a real record.
    Rewrite(usize, Edit),
    /// The rotation's hello towards the receiver (the client's second
    /// `ALGORITHMS`, or the server's second `EXCHANGE`) is edited. The client
    /// rotates after every protected frame, and opens [`OPEN_NAME`] and
    /// sends a chunk at once: the chunk waits for the rotation.
    Rotation(Edit),
    /// A man in the middle replaces the client's key share with its own,
    /// derives the keys the server derives, and replaces the client's first
    /// record (its `OPEN`) with this one, sealed with those keys.
    Forge(fn(&V1Protector) -> SecureX),
    /// Once the handshake is complete, the client sends these messages. In
    /// an `Open`, `{root}` stands for the scratch directory.
    Send(Vec<Message>),
    /// Once the receiver is in this phase, this frame (without its `\r\n`)
    /// reaches it, and nothing more from its peer: the link towards the
    /// receiver holds the peer's frames from then on.
    Inject(Phase, Vec<u8>),
    /// The link towards the receiver runs the hook this makes. The client
    /// opens [`OPEN_NAME`] and sends a chunk at once.
    Hooked(Rc<dyn Fn() -> FrameHook>),
    /// v2: a forger plays the receiver's peer with the session's keys
    /// (see [`forge`]).
    ForgeV2(forge::Forge),
}

/// Where a connection is, for [`Attack::Inject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A client: its `ALGORITHMS` is out, no `EXCHANGE` in. A server: no
    /// `ALGORITHMS` in.
    Negotiating,
    /// v2: a client has the `EXCHANGE` but not the server's FINISHED; a
    /// server sent its `EXCHANGE` and FINISHED, the client's FINISHED is
    /// not in.
    AwaitingFinished,
    /// The handshake is complete on both sides.
    Established,
    /// The receiver started a rotation (`Connection::rotate`) that is not
    /// answered: a v1 client's new `ALGORITHMS`, or a `REKEY`.
    Rotating,
}

/// What must come of it.
enum Expect {
    /// The receiving connection fails with this error, of this kind.
    Fails(Rc<dyn Fn(&Error) -> bool>, ErrorKind),
    /// The server's `Download` refuses the transfer with this error; the
    /// store then holds exactly these names (after the `Download` is gone).
    Refused(fn(&TransferError) -> bool, &'static [&'static str]),
    /// The transfer succeeds, and the file is stored inside the store under
    /// this name, with the data sent.
    Stored(&'static str),
    /// The protocol allows the input: no input fails, the receiver is in
    /// this state, not closed, has sent no `ERROR`, and its events pass the
    /// check.
    Continues(State, fn(&[Event]) -> bool),
}

/// A change to a configuration.
type ConfigEdit = Rc<dyn Fn(&mut Config)>;

/// One row.
struct Case {
    name: String,
    /// The side that receives the bad input.
    role: Role,
    /// Both sides start from `Config::default()` (v2 only), not from
    /// `Config::seed_compatible()`.
    v2: bool,
    client_edits: Vec<ConfigEdit>,
    server_edits: Vec<ConfigEdit>,
    attack: Attack,
    expect: Expect,
}

impl Case {
    fn new(role: Role, name: impl Into<String>, attack: Attack, expect: Expect) -> Case {
        Case {
            name: name.into(),
            role,
            v2: false,
            client_edits: Vec::new(),
            server_edits: Vec::new(),
            attack,
            expect,
        }
    }

    fn client_config(mut self, f: impl Fn(&mut Config) + 'static) -> Case {
        self.client_edits.push(Rc::new(f));
        self
    }

    fn server_config(mut self, f: impl Fn(&mut Config) + 'static) -> Case {
        self.server_edits.push(Rc::new(f));
        self
    }

    /// Both sides start from `Config::default()` (v2 only); the row's own
    /// changes still apply.
    fn v2(mut self) -> Case {
        self.v2 = true;
        self
    }

    fn config(&self, edits: &[ConfigEdit]) -> Config {
        let mut config = if self.v2 {
            Config::default()
        } else {
            Config::seed_compatible()
        };
        // The rows rotate after a few small records, the clock standing
        // still; the rotation limits have tests of their own.
        common::without_rotation_limits(&mut config);
        for edit in edits {
            edit(&mut config);
        }
        config
    }

    /// The client's configuration.
    fn client(&self) -> Config {
        self.config(&self.client_edits)
    }

    /// The server's configuration.
    fn server(&self) -> Config {
        self.config(&self.server_edits)
    }
}

/// One row of a table:
///
/// * `case!(Server "name", attack => Kind: pattern)`: the receiving side
///   (`Server` or `Client`) fails with an error matching the pattern (a
///   guard `if ...` may follow it), of `ErrorKind::Kind`;
/// * `case!(Server "name", attack => refused pattern, keeps [names])`: the
///   server's `Download` refuses with a `TransferError` matching the
///   pattern, and the store then holds exactly these names;
/// * `case!(Server "name", attack => stored "name")`: the file is stored
///   inside the store under this name;
/// * `case!(Server "name", attack => continues State)` (and optionally
///   `, |events| ...`): the protocol allows the input.
macro_rules! case {
    ($role:ident $name:expr, $attack:expr
        => refused $pat:pat $(if $guard:expr)?, keeps [$($keep:expr),*]) => {
        Case::new(
            Role::$role,
            $name,
            $attack,
            Expect::Refused(|e| matches!(e, $pat $(if $guard)?), &[$($keep),*]),
        )
    };
    ($role:ident $name:expr, $attack:expr => stored $stored:expr) => {
        Case::new(Role::$role, $name, $attack, Expect::Stored($stored))
    };
    ($role:ident $name:expr, $attack:expr => continues $state:ident $(, $events:expr)?) => {
        Case::new(Role::$role, $name, $attack, continues!($state $(, $events)?))
    };
    ($role:ident $name:expr, $attack:expr => $kind:ident: $pat:pat $(if $guard:expr)?) => {
        Case::new(Role::$role, $name, $attack, fails!($kind: $pat $(if $guard)?))
    };
}

/// `Expect::Continues` in `State::$state`, with events passing `$events`
/// (any events if left out).
macro_rules! continues {
    ($state:ident) => {
        Expect::Continues(State::$state, |_| true)
    };
    ($state:ident, $events:expr) => {
        Expect::Continues(State::$state, $events)
    };
}

/// `Expect::Fails` with an error matching the pattern, of `ErrorKind::$kind`.
macro_rules! fails {
    ($kind:ident: $pat:pat $(if $guard:expr)?) => {
        Expect::Fails(
            Rc::new(move |e: &Error| matches!(e, $pat $(if $guard)?)),
            ErrorKind::$kind,
        )
    };
}

/// A frame: `text` and the delimiter.
fn line(text: impl AsRef<[u8]>) -> Vec<u8> {
    let mut bytes = text.as_ref().to_vec();
    bytes.extend_from_slice(b"\r\n");
    bytes
}

fn first(text: impl AsRef<[u8]>) -> Attack {
    Attack::First(line(text))
}

fn after_handshake(text: impl AsRef<[u8]>) -> Attack {
    Attack::AfterHandshake(line(text))
}

/// Edits the JSON object of frame `n` (re-serialised compactly).
fn rewrite(n: usize, edit: impl Fn(&mut Map<String, Value>) + 'static) -> Attack {
    Attack::Rewrite(
        n,
        Rc::new(move |frame| {
            let mut value: Value = serde_json::from_slice(&frame).expect("a frame is JSON");
            edit(value.as_object_mut().expect("a frame is an object"));
            vec![serde_json::to_vec(&value).unwrap()]
        }),
    )
}

/// Sets field `field` of frame `n` to the string `value`.
fn set(n: usize, field: &'static str, value: impl Into<String>) -> Attack {
    set_json(n, field, Value::String(value.into()))
}

/// Sets field `field` of frame `n` to `value`.
fn set_json(n: usize, field: &'static str, value: Value) -> Attack {
    rewrite(n, move |o| {
        o.insert(field.into(), value.clone());
    })
}

/// Sets two string fields of frame `n`.
fn set2(n: usize, a: (&'static str, &str), b: (&'static str, &str)) -> Attack {
    let (a, b) = ((a.0, a.1.to_owned()), (b.0, b.1.to_owned()));
    rewrite(n, move |o| {
        o.insert(a.0.into(), a.1.clone().into());
        o.insert(b.0.into(), b.1.clone().into());
    })
}

/// The same edit, made to the rotation's hello instead (see
/// [`Attack::Rotation`]).
fn in_rotation(attack: Attack) -> Attack {
    match attack {
        Attack::Rewrite(_, edit) => Attack::Rotation(edit),
        _ => unreachable!("only edits move to the rotation"),
    }
}

/// Removes field `field` of frame `n`.
fn remove(n: usize, field: &'static str) -> Attack {
    rewrite(n, move |o| {
        o.remove(field);
    })
}

/// Edits the decoded ciphertext, IV and MAC (hex) of the client's first
/// record (its `OPEN`).
fn record(edit: impl Fn(&mut Vec<u8>, &mut Vec<u8>, &mut String) + 'static) -> Attack {
    rewrite(1, move |o| {
        let field = |name: &str| B64.decode(o[name].as_str().unwrap()).unwrap();
        let (mut payload, mut iv) = (field("payload"), field("iv"));
        let mut hash = o["hash"].as_str().unwrap().to_owned();
        edit(&mut payload, &mut iv, &mut hash);
        o.insert("payload".into(), B64.encode(payload).into());
        o.insert("iv".into(), B64.encode(iv).into());
        o.insert("hash".into(), hash.into());
    })
}

fn open(name: &str) -> Message {
    Message::Open {
        file_name: name.into(),
    }
}

fn send(messages: Vec<Message>) -> Attack {
    Attack::Send(messages)
}

/// Sends `Open(name)`, one `Data` and `Close`.
fn upload(name: &str, data: &[u8]) -> Attack {
    Attack::Send(vec![
        open(name),
        Message::Data(data.to_vec()),
        Message::Close { sha256: None },
    ])
}

// ---------------------------------------------------------------------------
// Encodings of bad parameters and keys
// ---------------------------------------------------------------------------

fn b64(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

fn ffdhe2048() -> Group {
    Group::named(NamedGroup::Ffdhe2048)
}

fn armor(label: &str, der: &[u8]) -> String {
    pem_rfc7468::encode_string(label, LineEnding::LF, der).unwrap()
}

/// The DER of an INTEGER with this (big-endian, unsigned) magnitude.
fn der_uint(magnitude: &[u8]) -> Vec<u8> {
    let significant = &magnitude[magnitude.iter().take_while(|&&b| b == 0).count()..];
    let magnitude = if significant.is_empty() {
        &[0][..]
    } else {
        significant
    };
    UintRef::new(magnitude).unwrap().to_der().unwrap()
}

/// A DER SEQUENCE of already encoded elements.
fn der_sequence(elements: &[Vec<u8>]) -> Vec<u8> {
    let content = elements.concat();
    let mut out = vec![0x30];
    match content.len() {
        n @ 0..=0x7f => out.push(u8::try_from(n).unwrap()),
        n @ 0x80..=0xff => out.extend([0x81, u8::try_from(n).unwrap()]),
        n => {
            let [high, low] = u16::try_from(n)
                .expect("a length in two bytes")
                .to_be_bytes();
            out.extend([0x82, high, low]);
        }
    }
    out.extend(content);
    out
}

/// The DER of a group's parameters, and the SPKI OID that goes with them.
fn params_der(group: &Group) -> (ObjectIdentifier, Vec<u8>) {
    let pem = group.to_pem();
    let (label, der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
    let oid = match label {
        "X9.42 DH PARAMETERS" => DH_PUBLIC_NUMBER,
        _ => DH_KEY_AGREEMENT,
    };
    (oid, der)
}

/// A `PUBLIC KEY` PEM with this algorithm, parameters and BIT STRING
/// content, unvalidated.
fn spki_pem_raw(oid: ObjectIdentifier, params: &[u8], key: &[u8]) -> String {
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifier {
            oid,
            parameters: Some(AnyRef::from_der(params).unwrap()),
        },
        subject_public_key: BitStringRef::from_bytes(key).unwrap(),
    };
    armor("PUBLIC KEY", &spki.to_der().unwrap())
}

/// A `PUBLIC KEY` PEM of the public value `y` (big-endian) in `group`,
/// whatever `y` is: `PublicKey` only holds validated values.
fn spki_pem(group: &Group, y: &[u8]) -> String {
    let (oid, params) = params_der(group);
    spki_pem_raw(oid, &params, &der_uint(y))
}

/// A valid public key of `group` (from a fixed seed).
fn valid_key_pem(group: &Group) -> String {
    KeyPair::generate(group, &mut ChaCha20Rng::seed_from_u64(11))
        .public_key()
        .to_pem()
}

fn hex(s: &str) -> Vec<u8> {
    let s = if s.len() % 2 == 1 {
        format!("0{s}")
    } else {
        s.to_owned()
    };
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `../shared/vectors/seed-v1.json`.
fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/seed-v1.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A vector frame without its `\r\n`.
fn vector_frame(v: &Value) -> String {
    v.as_str().unwrap().trim_end().to_owned()
}

/// The `ffdhe2048_invalid_public` vectors: (why, y).
fn invalid_public_values() -> Vec<(String, Vec<u8>)> {
    vectors()["ffdhe2048_invalid_public"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["why"].as_str().unwrap().to_owned(),
                hex(v["y_hex"].as_str().unwrap()),
            )
        })
        .collect()
}

/// What a public value of an `ffdhe2048_invalid_public` vector must give.
fn invalid_public_expect(why: &str) -> Expect {
    if why == "zero" {
        // Refused by the DER decoding already (zero is not a positive
        // INTEGER), before the range check.
        fails!(Malformed: Error::Dh(DhError::NonPositiveInteger))
    } else if why.starts_with("not in the order-q subgroup") {
        fails!(InvalidKey: Error::Dh(DhError::PublicKeyNotInSubgroup))
    } else {
        fails!(InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange))
    }
}

/// A well-formed `ALGORITHMS` in ffdhe2048 with this public key PEM.
fn algorithms_with_key(public_key_pem: &str) -> Vec<u8> {
    let (ciphers, modes, hash) = Offer::all().wire_names();
    Frame::Algorithms(Algorithms::v1(
        ciphers,
        modes,
        hash,
        b64(ffdhe2048().to_pem()),
        b64(public_key_pem),
    ))
    .encode()
}

/// A configuration offering (or accepting) only `cipher`.
fn only(cipher: Cipher) -> impl Fn(&mut Config) {
    move |c| {
        c.offer = Offer {
            ciphers: vec![cipher],
            ..Offer::all()
        }
    }
}

/// Changes the last hex digit of a MAC.
fn change_last_digit(hash: &mut String) {
    let digit = if hash.ends_with('0') { "1" } else { "0" };
    hash.replace_range(hash.len() - 1.., digit);
}

/// `inner` sealed with the forgers' IV.
fn seal(p: &V1Protector, inner: &[u8]) -> SecureX {
    p.seal(&IV, inner).unwrap()
}

/// `inner` sealed, then sent with the last byte of the IV xor-ed with `x`.
fn with_iv(p: &V1Protector, inner: &[u8], x: u8) -> SecureX {
    let mut record = seal(p, inner);
    record.iv = iv_xor_last(x);
    record
}

/// The IV of forged records with its last byte xor-ed with `x`: in CBC that
/// flips the same bits of the last byte of a one-block plaintext, its
/// padding, and the v1 MAC does not notice.
fn iv_xor_last(x: u8) -> String {
    let mut iv = IV;
    iv[15] ^= x;
    b64(iv)
}

// ---------------------------------------------------------------------------
// The tables
// ---------------------------------------------------------------------------
//
// One row a line or two: `case!(Role "name", how the input is made =>
// what must come of it)` (see `case!`).

/// Malformed frames, out-of-turn frames and frame limits, at the server.
#[rustfmt::skip]
fn framing_rows() -> Vec<Case> {
    let vectors = vectors();
    let secure_x = vector_frame(&vectors["records"][0]["frame"]);
    let exchange = vector_frame(&vectors["frames"]["exchange"]);
    let small = |c: &mut Config| c.max_frame_len = 1024;
    let default_limit = securex::config::DEFAULT_MAX_FRAME_LEN;
    vec![
        case!(Server "invalid UTF-8", first(b"\xff\xfe{}")
            => Malformed: Error::Frame(FrameError::NotUtf8)),
        case!(Server "invalid UTF-8 inside a JSON string", first(b"{\"type\": \"ALGORITHMS\xc3(\"}")
            => Malformed: Error::Frame(FrameError::NotUtf8)),
        case!(Server "not JSON", first("hello")
            => Malformed: Error::Frame(FrameError::NotJson)),
        case!(Server "truncated JSON", first(r#"{"type": "ALGORITHMS", "ciphers": ["#)
            => Malformed: Error::Frame(FrameError::NotJson)),
        case!(Server "an empty line", first("")
            => Malformed: Error::Frame(FrameError::NotJson)),
        case!(Server "JSON array", first(r#"["ALGORITHMS", 1]"#)
            => Malformed: Error::Frame(FrameError::NotObject)),
        case!(Server "JSON string", first(r#""ALGORITHMS""#)
            => Malformed: Error::Frame(FrameError::NotObject)),
        case!(Server "JSON number", first("42")
            => Malformed: Error::Frame(FrameError::NotObject)),
        case!(Server "JSON null", first("null")
            => Malformed: Error::Frame(FrameError::NotObject)),
        case!(Server "missing type", first(r#"{"ciphers": []}"#)
            => Malformed: Error::Frame(FrameError::MissingType)),
        case!(Server "type not a string", first(r#"{"type": 7}"#)
            => Malformed: Error::Frame(FrameError::MissingType)),
        case!(Server "unknown type", first(r#"{"type": "HELLO"}"#)
            => Unsupported: Error::Frame(FrameError::UnknownType(t)) if t == "HELLO"),
        case!(Server "ALGORITHMS without params", remove(0, "params")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "ALGORITHMS with a number for ciphers", set_json(0, "ciphers", 3.into())
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "a frame over a 1024-byte limit", first("x".repeat(1025))
            => LimitExceeded: Error::Frame(FrameError::TooLong { limit: 1024 }))
            .server_config(small),
        case!(Server "a frame of exactly the 1024-byte limit is parsed", first("x".repeat(1024))
            => Malformed: Error::Frame(FrameError::NotJson))
            .server_config(small),
        case!(Server "the client's real ALGORITHMS over a 1024-byte limit", Attack::Honest
            => LimitExceeded: Error::Frame(FrameError::TooLong { limit: 1024 }))
            .server_config(small),
        case!(Server "a frame one byte over the default limit", first("x".repeat(default_limit + 1))
            => LimitExceeded: Error::Frame(FrameError::TooLong { limit })
                if *limit == securex::config::DEFAULT_MAX_FRAME_LEN),
        case!(Server "endless data without a delimiter", Attack::First(vec![b'x'; 50_000])
            => LimitExceeded: Error::Frame(FrameError::TooLong { limit: 1024 }))
            .server_config(small),
        case!(Server "SECURE_X before the handshake", first(&secure_x)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "SECURE_X", state: "negotiating" })),
        case!(Server "EXCHANGE sent to a server", first(&exchange)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "EXCHANGE", state: "negotiating" })),
        case!(Server "OK sent to a server", first(r#"{"type": "OK"}"#)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "OK", state: "negotiating" })),
        // The one input a server does not answer with ERROR.
        case!(Server "ERROR sent to a server", first(r#"{"type": "ERROR", "message": "no"}"#)
            => Peer: Error::Protocol(ProtocolError::PeerError(m)) if m == "no"),
    ]
}

/// Bad offers, groups and public keys in `ALGORITHMS`, at the server.
#[rustfmt::skip]
fn handshake_rows() -> Vec<Case> {
    let vectors = vectors();
    let adhoc = &vectors["groups"][0];
    assert_eq!(adhoc["name"], "adhoc-512");
    let adhoc_params = adhoc["params_b64"].as_str().unwrap();
    let adhoc_key = adhoc["client_public_key_b64"].as_str().unwrap();
    let group = ffdhe2048();
    let (x942, ffdhe_params) = params_der(&group);
    let ffdhe3072_key = valid_key_pem(&Group::named(NamedGroup::Ffdhe3072));
    let params_trailing = {
        let (_, mut der) = pem_rfc7468::decode_vec(group.to_pem().as_bytes()).unwrap();
        der.extend([0x05, 0x00]);
        armor("X9.42 DH PARAMETERS", &der)
    };
    let params_g_1 = armor("DH PARAMETERS", &der_sequence(&[der_uint(group.modulus()), der_uint(&[1])]));
    let params_p_even = {
        let mut p = group.modulus().to_vec();
        *p.last_mut().unwrap() ^= 1;
        armor("DH PARAMETERS", &der_sequence(&[der_uint(&p), der_uint(&[2])]))
    };
    let key_trailing = [der_uint(&[7]), vec![0]].concat();
    let p_minus_1 = {
        let mut p = group.modulus().to_vec();
        *p.last_mut().unwrap() -= 1;
        p
    };

    let mut rows = vec![
        case!(Server "no common suite", Attack::Honest
            => Policy: Error::Suite(SuiteError::NoCommonSuite))
            .client_config(only(Cipher::TripleDes))
            .server_config(only(Cipher::Aes128)),
        case!(Server "only unknown algorithm names", set_json(0, "ciphers", serde_json::json!(["AES-256", "aes-128"]))
            => Policy: Error::Suite(SuiteError::NoCommonSuite)),
        case!(Server "params: bad base64", set(0, "params", "not base64!")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "params" })),
        case!(Server "params: base64 of garbage", set(0, "params", b64("garbage, not a PEM"))
            => Malformed: Error::Dh(DhError::Pem)),
        case!(Server "params: a PEM of another label", set(0, "params", b64(valid_key_pem(&group)))
            => Malformed: Error::Dh(DhError::UnexpectedLabel(l)) if l == "PUBLIC KEY"),
        case!(Server "params: a PEM with trailing data after the DER structure", set(0, "params", b64(params_trailing))
            => Malformed: Error::Dh(DhError::TrailingData)),
        case!(Server "params: text after the PEM", set(0, "params", b64(format!("{}trailing\n", group.to_pem())))
            => Malformed: Error::Dh(DhError::Pem)),
        case!(Server "params: g = 1", set(0, "params", b64(params_g_1))
            => InvalidKey: Error::Dh(DhError::InvalidGroup)),
        case!(Server "params: an even modulus", set(0, "params", b64(params_p_even))
            => InvalidKey: Error::Dh(DhError::InvalidGroup)),
        case!(Server "params: a group over the size limit", Attack::Honest
            => LimitExceeded: Error::Dh(DhError::GroupTooLarge { bits: 3072, limit: 2048 }))
            .client_config(|c| c.v1_group = NamedGroup::Ffdhe3072)
            .server_config(|c| c.max_group_bits = 2048),
        case!(Server "params: a group under the policy's minimum", Attack::Honest
            => Policy: Error::Protocol(ProtocolError::GroupRefused { bits: 2048 }))
            .server_config(|c| c.min_group_bits = 3072),
        case!(Server "params: an ad-hoc group to a server refusing them",
            set2(0, ("params", adhoc_params), ("public_key", adhoc_key))
            => Policy: Error::Protocol(ProtocolError::GroupRefused { bits: 512 }))
            .server_config(|c| c.accept_adhoc_groups = false),
        case!(Server "ALGORITHMS without public_key", remove(0, "public_key")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "public_key: bad base64", set(0, "public_key", "@@@@")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "public_key" })),
        case!(Server "public_key: base64 of garbage", set(0, "public_key", b64("-----BEGIN PUBLIC KEY-----\n!!\n"))
            => Malformed: Error::Dh(DhError::Pem)),
        case!(Server "public_key: a key of another group (ad-hoc 512)", set(0, "public_key", adhoc_key)
            => InvalidKey: Error::Dh(DhError::GroupMismatch)),
        // Its modulus is over the size of the group it must belong to:
        // refused before any work on it.
        case!(Server "public_key: a key of a larger group (ffdhe3072)", set(0, "public_key", b64(ffdhe3072_key))
            => InvalidKey: Error::Dh(DhError::GroupMismatch)),
        case!(Server "public_key: not a DH algorithm (rsaEncryption)",
            set(0, "public_key", b64(spki_pem_raw(RSA_ENCRYPTION, &ffdhe_params, &der_uint(&[5]))))
            => Unsupported: Error::Dh(DhError::UnknownAlgorithm(oid)) if oid == "1.2.840.113549.1.1.1"),
        case!(Server "public_key: BIT STRING not an INTEGER",
            set(0, "public_key", b64(spki_pem_raw(x942, &ffdhe_params, &[0x04, 0x01, 0x07])))
            => Malformed: Error::Dh(DhError::Der)),
        case!(Server "public_key: trailing data after y",
            set(0, "public_key", b64(spki_pem_raw(x942, &ffdhe_params, &key_trailing)))
            => Malformed: Error::Dh(DhError::TrailingData)),
        case!(Server "public_key: y = 1 in an ALGORITHMS once established", after_handshake(algorithms_with_key(&spki_pem(&group, &[1])))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Server "rotation: public_key y = p - 1", in_rotation(set(0, "public_key", b64(spki_pem(&group, &p_minus_1))))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Server "rotation: no common suite", in_rotation(set_json(0, "ciphers", serde_json::json!(["AES-256"])))
            => Policy: Error::Suite(SuiteError::NoCommonSuite)),
        case!(Server "rotation: params bad base64", in_rotation(set(0, "params", "?"))
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "params" })),
    ];
    for (why, y) in invalid_public_values() {
        rows.push(Case::new(
            Role::Server,
            format!("public_key: y {why} (ffdhe2048)"),
            set(0, "public_key", b64(spki_pem(&group, &y))),
            invalid_public_expect(&why),
        ));
    }
    rows
}

/// Bad protected records, at the server: edited on their way from a real
/// client, or forged by a man in the middle who holds the server's keys
/// (the MAC is valid, what it protects is not).
#[rustfmt::skip]
fn record_rows() -> Vec<Case> {
    vec![
        case!(Server "SECURE_X: payload not base64", set(1, "payload", "%%%")
            => Malformed: Error::Record(RecordError::InvalidBase64 { field: "payload" })),
        case!(Server "SECURE_X: iv not base64", set(1, "iv", "%%%")
            => Malformed: Error::Record(RecordError::InvalidBase64 { field: "iv" })),
        case!(Server "SECURE_X: hash not hex", set(1, "hash", "zz".repeat(32))
            => Malformed: Error::Record(RecordError::InvalidHex { field: "hash" })),
        case!(Server "SECURE_X: hash one byte short", record(|_, _, hash| hash.truncate(62))
            => Malformed: Error::Record(RecordError::InvalidHex { field: "hash" })),
        case!(Server "SECURE_X: without hash", remove(1, "hash")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "SECURE_X: one bit of the ciphertext flipped (bad MAC)", record(|payload, _, _| payload[3] ^= 0x10)
            => Crypto: Error::Record(RecordError::BadMac)),
        case!(Server "SECURE_X: one digit of the MAC changed", record(|_, _, hash| change_last_digit(hash))
            => Crypto: Error::Record(RecordError::BadMac)),
        // The v1 MAC does not cover the IV: only its length gives it away.
        case!(Server "SECURE_X: a 12-byte IV (MAC still valid)", record(|_, iv, _| iv.truncate(12))
            => Malformed: Error::Record(RecordError::InvalidIvLength { expected: 16, actual: 12 })),
        case!(Server "SECURE_X: an empty IV", record(|_, iv, _| iv.clear())
            => Malformed: Error::Record(RecordError::InvalidIvLength { expected: 16, actual: 0 })),
        case!(Server "SECURE_X: ciphertext not a whole number of blocks", record(|payload, _, _| { payload.pop(); })
            => Malformed: Error::Record(RecordError::CiphertextLength { block: 16, .. })),
        case!(Server "SECURE_X: empty ciphertext", record(|payload, _, _| payload.clear())
            => Malformed: Error::Record(RecordError::CiphertextLength { actual: 0, block: 16 })),
        // `{}` is one block with 14 bytes of padding 0x0e; the IV's last
        // byte changes the padding's last byte.
        case!(Server "forged: bad padding (last pad byte 0x0f)", Attack::Forge(|p| with_iv(p, b"{}", 0x01))
            => Crypto: Error::Record(RecordError::BadPadding)),
        case!(Server "forged: bad padding (last pad byte 0)", Attack::Forge(|p| with_iv(p, b"{}", 0x0e))
            => Crypto: Error::Record(RecordError::BadPadding)),
        case!(Server "forged: bad padding (last pad byte 0x11, over the block)", Attack::Forge(|p| with_iv(p, b"{}", 0x0e ^ 0x11))
            => Crypto: Error::Record(RecordError::BadPadding)),
        case!(Server "forged: inner not UTF-8", Attack::Forge(|p| seal(p, b"\xff\xfe"))
            => Malformed: Error::Frame(FrameError::NotUtf8)),
        case!(Server "forged: inner not JSON", Attack::Forge(|p| seal(p, b"OPEN report.pdf"))
            => Malformed: Error::Frame(FrameError::NotJson)),
        case!(Server "forged: inner a JSON array", Attack::Forge(|p| seal(p, br#"["OPEN"]"#))
            => Malformed: Error::Frame(FrameError::NotObject)),
        case!(Server "forged: inner without type", Attack::Forge(|p| seal(p, br#"{"file_name": "a"}"#))
            => Malformed: Error::Frame(FrameError::MissingType)),
        case!(Server "forged: inner of unknown type", Attack::Forge(|p| seal(p, br#"{"type": "SEEK"}"#))
            => Unsupported: Error::Frame(FrameError::UnknownType(t)) if t == "SEEK"),
        case!(Server "forged: OPEN without file_name", Attack::Forge(|p| seal(p, br#"{"type": "OPEN"}"#))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "OPEN", .. })),
        case!(Server "forged: DATA not base64", Attack::Forge(|p| seal(p, br#"{"type": "DATA", "data": "!"}"#))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "DATA", .. })),
        case!(Server "forged: a server's OK from the client", Attack::Forge(|p| seal(p, br#"{"type": "OK"}"#))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "OK" })),
        case!(Server "forged: a server's ERROR from the client", Attack::Forge(|p| seal(p, br#"{"type": "ERROR", "message": "x"}"#))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "ERROR" })),
    ]
}

/// Bad frames at a v1 client.
#[rustfmt::skip]
fn client_rows() -> Vec<Case> {
    let vectors = vectors();
    let group = ffdhe2048();
    let adhoc_key = vectors["groups"][0]["client_public_key_b64"].as_str().unwrap();
    let secure_x = vector_frame(&vectors["records"][0]["frame"]);
    let algorithms = vector_frame(&vectors["frames"]["algorithms"]);
    let exchange = vector_frame(&vectors["frames"]["exchange"]);
    let error = vector_frame(&vectors["frames"]["error"]);
    let aes_cbc_sha256 = |c: &mut Config| {
        c.offer = Offer { ciphers: vec![Cipher::Aes128], modes: vec![Mode::Cbc], hashes: vec![Hash::Sha256] }
    };
    let mut rows = vec![
        case!(Client "invalid UTF-8", first(b"\xc3\x28")
            => Malformed: Error::Frame(FrameError::NotUtf8)),
        case!(Client "not JSON", first("EXCHANGE")
            => Malformed: Error::Frame(FrameError::NotJson)),
        case!(Client "JSON array", first("[]")
            => Malformed: Error::Frame(FrameError::NotObject)),
        case!(Client "missing type", first("{}")
            => Malformed: Error::Frame(FrameError::MissingType)),
        case!(Client "unknown type", first(r#"{"type": "REKEY"}"#)
            => Unsupported: Error::Frame(FrameError::UnknownType(t)) if t == "REKEY"),
        case!(Client "EXCHANGE over the client's 1024-byte limit", Attack::Honest
            => LimitExceeded: Error::Frame(FrameError::TooLong { limit: 1024 }))
            .client_config(|c| c.max_frame_len = 1024),
        case!(Client "OK before EXCHANGE", first(r#"{"type": "OK"}"#)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "OK", state: "negotiating" })),
        case!(Client "ALGORITHMS sent to a client", first(&algorithms)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "ALGORITHMS", state: "negotiating" })),
        case!(Client "SECURE_X before EXCHANGE", first(&secure_x)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "SECURE_X", state: "negotiating" })),
        case!(Client "SECURE_X sent to an established v1 client", after_handshake(&secure_x)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "SECURE_X", state: "established" })),
        case!(Client "an EXCHANGE nobody asked for", after_handshake(&exchange)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "EXCHANGE", state: "established" })),
        case!(Client "an ERROR frame from the server", first(&error)
            => Peer: Error::Protocol(ProtocolError::PeerError(m)) if m == "See server"),
        case!(Client "an ERROR frame once established", after_handshake(r#"{"type": "ERROR", "message": "disk full"}"#)
            => Peer: Error::Protocol(ProtocolError::PeerError(m)) if m == "disk full"),
        case!(Client "the server's real refusal (no common suite)", Attack::Honest
            => Peer: Error::Protocol(ProtocolError::PeerError(m)) if m.as_str() == "no cipher suite is acceptable to both sides")
            .client_config(only(Cipher::TripleDes))
            .server_config(only(Cipher::Aes128)),
        case!(Client "EXCHANGE naming a suite not offered", set(0, "ciphersuite", "DH;3DES;CBC;SHA-256")
            => Policy: Error::Suite(SuiteError::NotOffered(s)) if s == "DH;3DES;CBC;SHA-256")
            .client_config(aes_cbc_sha256),
        case!(Client "EXCHANGE naming an unknown cipher", set(0, "ciphersuite", "DH;AES-256;CBC;SHA-256")
            => Unsupported: Error::Suite(SuiteError::UnknownName { kind: "cipher", name }) if name == "AES-256"),
        case!(Client "EXCHANGE naming an unknown mode", set(0, "ciphersuite", "DH;AES-128;CTR;SHA-256")
            => Unsupported: Error::Suite(SuiteError::UnknownName { kind: "mode", name }) if name == "CTR"),
        case!(Client "EXCHANGE naming an unknown hash", set(0, "ciphersuite", "DH;AES-128;CBC;MD5")
            => Unsupported: Error::Suite(SuiteError::UnknownName { kind: "hash", name }) if name == "MD5"),
        case!(Client "EXCHANGE naming an invalid pair", set(0, "ciphersuite", "DH;AES-128;ECB;SHA-256")
            => Unsupported: Error::Suite(SuiteError::InvalidPair { cipher: Cipher::Aes128, mode: Mode::Ecb })),
        case!(Client "EXCHANGE with a malformed suite", set(0, "ciphersuite", "AES-128;CBC;SHA-256")
            => Malformed: Error::Suite(SuiteError::Malformed(s)) if s == "AES-128;CBC;SHA-256"),
        case!(Client "EXCHANGE without value", remove(0, "value")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        case!(Client "EXCHANGE value: bad base64", set(0, "value", "***")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "EXCHANGE", field: "value" })),
        case!(Client "EXCHANGE value: base64 of garbage", set(0, "value", b64("garbage"))
            => Malformed: Error::Dh(DhError::Pem)),
        case!(Client "EXCHANGE value: a key of another group (ad-hoc 512)", set(0, "value", adhoc_key)
            => InvalidKey: Error::Dh(DhError::GroupMismatch)),
        case!(Client "rotation: EXCHANGE value y = 1", in_rotation(set(0, "value", b64(spki_pem(&group, &[1]))))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Client "rotation: EXCHANGE value bad base64", in_rotation(set(0, "value", "***"))
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "EXCHANGE", field: "value" })),
        case!(Client "rotation: EXCHANGE naming a suite not offered", in_rotation(set(0, "ciphersuite", "DH;3DES;CBC;SHA-256"))
            => Policy: Error::Suite(SuiteError::NotOffered(s)) if s == "DH;3DES;CBC;SHA-256")
            .client_config(aes_cbc_sha256),
    ];
    for (why, y) in invalid_public_values() {
        rows.push(Case::new(
            Role::Client,
            format!("EXCHANGE value: y {why} (ffdhe2048)"),
            set(0, "value", b64(spki_pem(&group, &y))),
            invalid_public_expect(&why),
        ));
    }
    rows
}

/// File transfers the server's `Download` must refuse or confine to its
/// store (each row sends after the handshake; the names are the `Open`s').
#[rustfmt::skip]
fn transfer_rows() -> Vec<Case> {
    // Sent as the data of the `/etc/passwd` row: were the name not
    // confined, the file would at least keep its content.
    let passwd = std::fs::read("/etc/passwd").unwrap_or_else(|_| b"root:x:0:0::/:\n".to_vec());
    let long_name = "n".repeat(MAX_NAME_LEN + 1);
    let mut rows = vec![
        case!(Server "OPEN twice", send(vec![open("a.txt"), open("b.txt")])
            => refused TransferError::UnexpectedMessage { expected: "DATA or CLOSE", got: "OPEN" },
                keeps ["a.txt.partial"]),
        // v1 records carry no sequence number: a replay passes the channel,
        // and only the transfer notices.
        case!(Server "a replayed OPEN record", Attack::Rewrite(1, Rc::new(|f: Vec<u8>| vec![f.clone(), f]))
            => refused TransferError::UnexpectedMessage { expected: "DATA or CLOSE", got: "OPEN" },
                keeps ["report.pdf.partial"]),
        case!(Server "DATA before OPEN", send(vec![Message::Data(b"x".to_vec()), Message::Close { sha256: None }])
            => refused TransferError::UnexpectedMessage { expected: "OPEN", got: "DATA" }, keeps []),
        case!(Server "CLOSE before OPEN", send(vec![Message::Close { sha256: None }])
            => refused TransferError::UnexpectedMessage { expected: "OPEN", got: "CLOSE" }, keeps []),
        case!(Server "DATA after a refused OPEN", send(vec![open(".."), Message::Data(b"x".to_vec())])
            => refused TransferError::BadFileName(n) if n == "..", keeps []),
        case!(Server "OPEN of a name over the length limit", upload(&long_name, b"data")
            => refused TransferError::BadFileName(n) if n.len() == MAX_NAME_LEN + 1, keeps []),
        case!(Server "OPEN \"../../x\"", upload("../../x", b"x") => stored "x"),
        case!(Server "OPEN \"../../../x\"", upload("../../../x", b"x") => stored "x"),
        case!(Server r#"OPEN "..\..\x.txt""#, upload(r"..\..\x.txt", b"x") => stored "x.txt"),
        case!(Server "OPEN of an absolute path into the scratch directory", upload("{root}/outer/abs.txt", b"abs")
            => stored "abs.txt"),
        case!(Server "OPEN \"/etc/passwd\"", upload("/etc/passwd", &passwd) => stored "passwd"),
        // Every character that is not a letter, a digit, `_`, `.` or `-`
        // becomes `_`: nothing is left to name a path.
        case!(Server "OPEN \"$%&\"", upload("$%&", b"data") => stored "___"),
    ];
    for name in ["..", "../", "/etc/..", "x/..", ".", "", "/", "x.partial"] {
        rows.push(case!(Server format!("OPEN {name:?}"), upload(name, b"data")
            => refused TransferError::BadFileName(_), keeps []));
    }
    rows
}

// ---------------------------------------------------------------------------
// Running a row
// ---------------------------------------------------------------------------

/// A scratch directory (tempfile's, removed on drop), holding the store
/// three levels down (so that `../`, `../../` and `../../../` of the store
/// stay inside it) and sentinel files.
struct Sandbox {
    root: tempfile::TempDir,
    store: PathBuf,
}

impl Sandbox {
    fn new(id: usize) -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix(&format!("securex-bad-input-{id}-"))
            .tempdir()
            .unwrap();
        let store = root.path().join("outer").join("inner").join("store");
        std::fs::create_dir_all(&store).unwrap();
        for dir in ["", "outer", "outer/inner"] {
            std::fs::write(root.path().join(dir).join("sentinel"), dir).unwrap();
        }
        Sandbox { root, store }
    }

    /// Every path under the root but the store's, with file contents.
    fn outside(&self) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        fn walk(dir: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path == skip {
                    continue;
                }
                if path.is_dir() {
                    out.insert(path.clone(), None);
                    walk(&path, skip, out);
                } else {
                    out.insert(path.clone(), Some(std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.root.path(), &self.store, &mut out);
        out
    }

    /// The store's files, sorted, with their contents.
    fn store_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&self.store)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                (name, std::fs::read(e.path()).unwrap_or_default())
            })
            .collect();
        files.sort();
        files
    }
}

/// What can be seen of `/etc/passwd`: the names in `/etc` starting with
/// `passwd`, and the file's identity, size and time.
fn etc_passwd() -> (Vec<String>, Option<(u64, u64, std::time::SystemTime)>) {
    #[cfg(unix)]
    use std::os::unix::fs::MetadataExt;
    let mut names: Vec<String> = std::fs::read_dir("/etc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("passwd"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let meta = std::fs::metadata("/etc/passwd").ok().map(|m| {
        #[cfg(unix)]
        let ino = m.ino();
        #[cfg(not(unix))]
        let ino = 0;
        (ino, m.len(), m.modified().unwrap())
    });
    (names, meta)
}

/// Everything a run shows, compared between splits.
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    /// Errors `handle_input` of the receiver returned, in order.
    returned: Vec<Error>,
    state: State,
    close_reason: Option<Error>,
    has_timer: bool,
    /// The receiver's events.
    events: Vec<Event>,
    /// The frames the receiver wrote (what its `poll_transmit` returned).
    sent: Vec<String>,
    /// How many of them it had written when it reported `Closed`: the rest
    /// is what its failing input made it write (byte by byte, only what the
    /// failing frame made it write). Not compared: a piece that carries
    /// several frames moves it.
    mark: Option<usize>,
    /// How the input was cut (not compared).
    split: Split,
    /// Why the other side closed, if it did; with a forger, what the
    /// forger read from the receiver (`PeerError` for an `ERROR`, plaintext
    /// or sealed; the record error if a record did not open).
    peer_error: Option<Error>,
    /// The other side's key epoch at the end.
    peer_epoch: u32,
    /// The server's `Download`: the stored name, or why it failed.
    download: Option<Result<String, SessionError>>,
    /// The store, after the `Download` is gone.
    store: Vec<(String, Vec<u8>)>,
    /// Paths outside the store that changed.
    outside_changed: Vec<PathBuf>,
    etc_passwd_changed: bool,
    /// Something went wrong in the setup itself.
    setup: Vec<String>,
}

/// The state a man in the middle shares between its two hooks.
struct Mitm {
    key: KeyPair,
    protector: Option<V1Protector>,
}

/// A hook that records each frame as the sender wrote it, then applies
/// `edit` (if any).
fn recording(log: Rc<RefCell<Vec<Vec<u8>>>>, mut edit: Option<FrameHook>) -> FrameHook {
    Box::new(move |i, frame| {
        log.borrow_mut().push(frame.clone());
        match &mut edit {
            Some(edit) => edit(i, frame),
            None => vec![frame],
        }
    })
}

/// The hooks (towards the server, towards the client) of a man in the
/// middle forging the client's first record.
fn mitm_hooks(forge: fn(&V1Protector) -> SecureX) -> (FrameHook, FrameHook) {
    let group = ffdhe2048();
    let mitm = Rc::new(RefCell::new(Mitm {
        key: KeyPair::generate(&group, &mut ChaCha20Rng::seed_from_u64(SEED ^ 1)),
        protector: None,
    }));
    let m = mitm.clone();
    let to_server: FrameHook = Box::new(move |i, frame| match i {
        0 => {
            let mut v: Value = serde_json::from_slice(&frame).unwrap();
            let key = b64(m.borrow().key.public_key().to_pem());
            v["public_key"] = key.into();
            vec![serde_json::to_vec(&v).unwrap()]
        }
        1 => {
            let m = m.borrow();
            let protector = m.protector.as_ref().expect("the EXCHANGE went by");
            vec![Frame::SecureX(forge(protector)).encode()]
        }
        _ => vec![frame],
    });
    let to_client: FrameHook = Box::new(move |i, frame| {
        if i == 0
            && let Ok(Frame::Exchange(exchange)) = Frame::decode(&frame)
        {
            let mut m = mitm.borrow_mut();
            let suite: CipherSuite = exchange.ciphersuite.parse().unwrap();
            let pem = B64.decode(&exchange.value).unwrap();
            let server_key = group.public_key_from_pem(&pem).unwrap();
            let z = m.key.agree(&server_key).unwrap();
            let secrets = V1Secrets::derive(z.dangerously_expose_bytes(), suite.cipher());
            m.protector = Some(V1Protector::new(suite, secrets));
        }
        vec![frame]
    });
    (to_server, to_client)
}

/// The receiver's app: notes how many frames the receiver had written when
/// it reported `Closed`, then hands the event on (the server's `Download`).
struct Watch {
    log: Rc<RefCell<Vec<Vec<u8>>>>,
    mark: Rc<Cell<Option<usize>>>,
    inner: Option<Box<dyn App>>,
}

impl App for Watch {
    fn handle_event(&mut self, conn: &mut securex::Connection, now: Instant, event: Event) {
        if matches!(event, Event::Closed { .. }) && self.mark.get().is_none() {
            self.mark.set(Some(self.log.borrow().len()));
        }
        if let Some(inner) = &mut self.inner {
            inner.handle_event(conn, now, event);
        }
    }
}

/// The link towards `role`.
fn link_to(pair: &mut Pair, role: Role) -> &mut common::Link {
    match role {
        Role::Client => &mut pair.to_client,
        Role::Server => &mut pair.to_server,
    }
}

/// Runs one row with the given split.
#[allow(
    clippy::too_many_lines,
    reason = "one row from setup to the observation, each step of the attack in the order it happens"
)]
fn run(case: &Case, id: usize, split: Split) -> Observed {
    let sandbox = Sandbox::new(id);
    let outside_before = sandbox.outside();
    let etc_before = etc_passwd();
    let mut setup = Vec::new();

    let mut client = case.client();
    if let Attack::Rotation(_) = case.attack {
        client.rotate_after_frames = Some(1);
    }
    let mut pair = Pair::new(client, case.server(), SEED);
    pair.to_server.split = split;
    pair.to_client.split = split;
    let client_log = Rc::new(RefCell::new(Vec::new()));
    let server_log = Rc::new(RefCell::new(Vec::new()));
    let receiver_log = match case.role {
        Role::Server => server_log.clone(),
        Role::Client => client_log.clone(),
    };

    // The server runs a `Download`; the receiver is watched.
    let download = Rc::new(RefCell::new(Download::new(Receiver::new(&sandbox.store))));
    let mark = Rc::new(Cell::new(None));
    let watch = |inner: Option<Box<dyn App>>| -> Option<Box<dyn App>> {
        Some(Box::new(Watch {
            log: receiver_log.clone(),
            mark: mark.clone(),
            inner,
        }))
    };
    match case.role {
        Role::Server => pair.server_app = watch(Some(Box::new(download.clone()))),
        Role::Client => {
            pair.server_app = Some(Box::new(download.clone()));
            pair.client_app = watch(None);
        }
    }

    // The link towards the receiver carries the attack.
    let (mut to_server_edit, mut to_client_edit): (Option<FrameHook>, Option<FrameHook>) =
        (None, None);
    let towards_receiver = |edit: FrameHook| match case.role {
        Role::Server => (Some(edit), None),
        Role::Client => (None, Some(edit)),
    };
    let mut early = None;
    let mut late = None;
    let mut sends = Vec::new();
    let mut forged = None;
    match &case.attack {
        Attack::Honest => {}
        Attack::First(bytes) => early = Some(bytes.clone()),
        Attack::AfterHandshake(bytes) => late = Some(bytes.clone()),
        Attack::Rewrite(n, edit) => {
            let (n, edit) = (*n, edit.clone());
            (to_server_edit, to_client_edit) =
                towards_receiver(Box::new(
                    move |i, frame| {
                        if i == n { edit(frame) } else { vec![frame] }
                    },
                ));
            sends.push(open(OPEN_NAME));
        }
        Attack::Rotation(edit) => {
            let (edit, hello) = match case.role {
                Role::Server => (edit.clone(), "ALGORITHMS"),
                Role::Client => (edit.clone(), "EXCHANGE"),
            };
            let seen = Cell::new(0);
            (to_server_edit, to_client_edit) = towards_receiver(Box::new(move |_, frame| {
                let ty: Value = serde_json::from_slice(&frame).unwrap();
                if ty["type"] != hello {
                    return vec![frame];
                }
                seen.set(seen.get() + 1);
                if seen.get() == 2 {
                    edit(frame)
                } else {
                    vec![frame]
                }
            }));
            sends.extend([open(OPEN_NAME), Message::Data(b"rotated".to_vec())]);
        }
        Attack::Forge(forge) => {
            let (s, c) = mitm_hooks(*forge);
            (to_server_edit, to_client_edit) = (Some(s), Some(c));
            sends.push(open(OPEN_NAME));
        }
        Attack::Send(messages) => {
            let root = sandbox.root.path().to_str().unwrap();
            sends.extend(messages.iter().map(|m| match m {
                Message::Open { file_name } => open(&file_name.replace("{root}", root)),
                m => m.clone(),
            }));
        }
        Attack::Inject(phase, frame) => match phase {
            Phase::Negotiating => {
                link_to(&mut pair, case.role).hold = true;
                early = Some(line(frame));
            }
            // Right after the peer's hello, and nothing more from it.
            Phase::AwaitingFinished => {
                let frame = frame.clone();
                (to_server_edit, to_client_edit) = towards_receiver(Box::new(move |i, f| {
                    if i == 0 {
                        vec![f, frame.clone()]
                    } else {
                        vec![]
                    }
                }));
            }
            Phase::Established | Phase::Rotating => late = Some(line(frame)),
        },
        Attack::Hooked(make) => {
            (to_server_edit, to_client_edit) = towards_receiver(make());
            sends.extend([open(OPEN_NAME), Message::Data(b"rotated".to_vec())]);
        }
        Attack::ForgeV2(_) => {
            let (stage, s, c) = forge::hooks(case.role);
            (to_server_edit, to_client_edit) = (s, c);
            forged = Some(stage);
            sends.push(open(OPEN_NAME));
        }
    }
    pair.to_server.hook = Some(recording(client_log.clone(), to_server_edit));
    pair.to_client.hook = Some(recording(server_log.clone(), to_client_edit));

    if let Some(bytes) = early {
        link_to(&mut pair, case.role).inject(&bytes);
    }
    for message in sends {
        pair.client.send(pair.now, message).unwrap();
    }
    pair.drive();
    if let Some(bytes) = late {
        if pair.client.state() != State::Established || pair.server.state() != State::Established {
            setup.push(format!(
                "the handshake did not complete: {:?} {:?}",
                pair.client_error(),
                pair.server_error()
            ));
        }
        if let Attack::Inject(phase, _) = &case.attack {
            link_to(&mut pair, case.role).hold = true;
            if *phase == Phase::Rotating {
                let now = pair.now;
                if let Err(e) = pair.conn(case.role).rotate(now) {
                    setup.push(format!("rotate: {e:?}"));
                }
                if pair.conn(case.role).state() != State::Rotating {
                    setup.push("the receiver is not rotating".into());
                }
            }
        }
        link_to(&mut pair, case.role).inject(&bytes);
        pair.drive();
    }
    if let (Some(stage), Attack::ForgeV2(spec)) = (&forged, &case.attack) {
        forge::play(&mut pair, stage, case.role, spec, &mut setup);
    }

    let returned = std::mem::take(&mut pair.returned);
    let (receiver, returned, events) = match case.role {
        Role::Server => (&pair.server, returned.server, pair.server_events.clone()),
        Role::Client => (&pair.client, returned.client, pair.client_events.clone()),
    };
    let peer = match case.role {
        Role::Server => &pair.client,
        Role::Client => &pair.server,
    };
    let sent = frames(&receiver_log.borrow());
    let peer_error = match &forged {
        Some(stage) => forge::read(stage, &receiver_log.borrow()),
        None => match case.role {
            Role::Server => pair.client_error(),
            Role::Client => pair.server_error(),
        },
    };
    let store = sandbox.store.clone();
    let outcome = download.borrow().outcome().cloned().map(|r| {
        r.map(|path| match path.strip_prefix(&store) {
            Ok(name) => name.display().to_string(),
            Err(_) => format!("OUTSIDE THE STORE: {}", path.display()),
        })
    });
    let observed = Observed {
        returned,
        state: receiver.state(),
        close_reason: receiver.close_reason().cloned(),
        has_timer: receiver.poll_timeout().is_some(),
        events,
        sent,
        mark: mark.get(),
        split,
        peer_error,
        peer_epoch: if forged.is_some() { 0 } else { peer.epoch() },
        download: outcome,
        store: Vec::new(),
        outside_changed: Vec::new(),
        etc_passwd_changed: false,
        setup,
    };
    drop(pair);
    // The receiver keeps an unfinished transfer as `.partial` on drop.
    drop(download);
    let outside_after = sandbox.outside();
    let changed: BTreeSet<&PathBuf> = outside_before
        .keys()
        .chain(outside_after.keys())
        .filter(|p| outside_before.get(*p) != outside_after.get(*p))
        .collect();
    Observed {
        store: sandbox.store_files(),
        outside_changed: changed
            .iter()
            .map(|p| p.strip_prefix(sandbox.root.path()).unwrap().to_path_buf())
            .collect(),
        etc_passwd_changed: etc_passwd() != etc_before,
        ..observed
    }
}

/// Frames as text (they are ASCII).
fn frames(log: &[Vec<u8>]) -> Vec<String> {
    log.iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// `{"type": "ERROR", "message": m}` → `Some(m)`.
fn error_frame_message(frame: &str) -> Option<String> {
    let v: Value = serde_json::from_str(frame).ok()?;
    (v["type"] == "ERROR").then(|| v["message"].as_str().map(str::to_owned))?
}

/// A v2 record's epoch, if `frame` is one.
fn record_epoch(frame: &str) -> Option<u32> {
    match Frame::decode(frame.as_bytes()) {
        Ok(Frame::Record(record)) => Some(record.epoch),
        _ => None,
    }
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// How a failing receiver must tell its peer why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tell {
    /// One plaintext `ERROR` frame, its last.
    Plain,
    /// One sealed `ERROR` record, its last.
    Sealed,
    /// Nothing: its failing input made it write nothing at all.
    Nothing,
}

/// What the protocol lets a receiver that failed with `error` tell its
/// peer, from how far it had come:
///
/// * nothing when the failure is the peer's own `ERROR` or end of stream;
/// * once the peer's FINISHED verified (v2 handshake complete), a sealed
///   alert, from either role;
/// * a v1 server: a plaintext `ERROR`;
/// * a v2 server before the client's FINISHED verified: a plaintext `ERROR`
///   only if it has not sent its `EXCHANGE` yet (the negotiation's
///   refusals), else nothing;
/// * a client, otherwise: nothing (it never sends a plaintext `ERROR`).
fn expected_tell(role: Role, o: &Observed, error: &Error) -> Tell {
    if matches!(
        error,
        Error::Protocol(ProtocolError::PeerError(_) | ProtocolError::UnexpectedEof)
    ) {
        return Tell::Nothing;
    }
    let version = o.events.iter().find_map(|e| match e {
        Event::HandshakeComplete { version, .. } => Some(*version),
        _ => None,
    });
    // An EXCHANGE is never what a failure makes it write.
    let exchange_sent = o
        .sent
        .iter()
        .any(|f| matches!(Frame::decode(f.as_bytes()), Ok(Frame::Exchange(_))));
    match (role, version) {
        (_, Some(Version::V2)) => Tell::Sealed,
        (Role::Server, Some(_)) => Tell::Plain,
        (Role::Server, None) if !exchange_sent => Tell::Plain,
        _ => Tell::Nothing,
    }
}

/// The checks of the module's documentation, for one run.
#[allow(
    clippy::too_many_lines,
    reason = "the module documentation's checks, one after another in its order"
)]
fn check(case: &Case, o: &Observed) -> Result<(), String> {
    ensure!(o.setup.is_empty(), "setup: {:?}", o.setup);
    let closed: Vec<&Option<Error>> = o
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Closed { error } => Some(error),
            _ => None,
        })
        .collect();
    let errors_sent: Vec<String> = o
        .sent
        .iter()
        .filter_map(|f| error_frame_message(f))
        .collect();
    let last_sent = o.sent.last().and_then(|f| error_frame_message(f));
    if let Expect::Continues(state, events_ok) = &case.expect {
        ensure!(
            o.returned.is_empty(),
            "handle_input returned {:?}",
            o.returned
        );
        ensure!(o.state == *state, "state {:?}, not {state:?}", o.state);
        ensure!(closed.is_empty(), "closed: {:?}", o.events);
        ensure!(errors_sent.is_empty(), "sent ERROR {errors_sent:?}");
        ensure!(events_ok(&o.events), "events {:?}", o.events);
        return outside_checks(o);
    }
    ensure!(o.state == State::Closed, "state {:?}, not Closed", o.state);
    ensure!(!o.has_timer, "a closed connection still has a timer");
    ensure!(
        closed.len() == 1,
        "{} Closed events: {:?}",
        closed.len(),
        o.events
    );
    let v2 = o.events.iter().any(|e| {
        matches!(
            e,
            Event::HandshakeComplete {
                version: Version::V2,
                ..
            }
        )
    });
    match &case.expect {
        Expect::Fails(expected, kind) => {
            ensure!(
                o.returned.len() == 1,
                "handle_input returned {} errors: {:?}",
                o.returned.len(),
                o.returned
            );
            let error = &o.returned[0];
            ensure!(expected(error), "wrong error: {error:?}");
            ensure!(
                error.kind() == *kind,
                "{error:?} is of kind {:?}",
                error.kind()
            );
            ensure!(
                o.close_reason.as_ref() == Some(error),
                "close reason {:?}",
                o.close_reason
            );
            ensure!(
                closed[0].as_ref() == Some(error),
                "Closed event with {:?}",
                closed[0]
            );
            // Byte by byte, the failing input is the last byte of the
            // failing frame: what comes after the mark is what that frame
            // made the receiver write. Whole, it may also hold what earlier
            // frames of the same piece made it write.
            let after_mark = o.mark.map_or(&[][..], |m| &o.sent[m.min(o.sent.len())..]);
            let bytes = o.split == Split::Bytes;
            match expected_tell(case.role, o, error) {
                Tell::Plain => {
                    ensure!(
                        errors_sent.len() == 1 && last_sent.is_some(),
                        "not exactly one ERROR, last: {:?}",
                        o.sent
                    );
                    let told = Error::Protocol(ProtocolError::PeerError(errors_sent[0].clone()));
                    ensure!(
                        o.peer_error.as_ref() == Some(&told),
                        "the peer closed with {:?}",
                        o.peer_error
                    );
                }
                Tell::Sealed => {
                    ensure!(errors_sent.is_empty(), "sent ERROR {errors_sent:?}");
                    let alert_epoch = after_mark.last().and_then(|f| record_epoch(f));
                    ensure!(
                        alert_epoch.is_some() && (!bytes || after_mark.len() == 1),
                        "not one sealed alert: its failing input made it write {after_mark:?}"
                    );
                    // The peer read it; or it could not, because it had
                    // already moved to the next epoch (it answered the
                    // receiver's REKEY).
                    let read = match &o.peer_error {
                        Some(Error::Protocol(ProtocolError::PeerError(m))) => !m.is_empty(),
                        Some(Error::Record(RecordError::UnknownEpoch(e))) => {
                            Some(*e) == alert_epoch && *e < o.peer_epoch
                        }
                        _ => false,
                    };
                    ensure!(read, "the peer closed with {:?}", o.peer_error);
                }
                Tell::Nothing => {
                    ensure!(errors_sent.is_empty(), "sent ERROR {errors_sent:?}");
                    ensure!(
                        !bytes || after_mark.is_empty(),
                        "its failing input made it write {after_mark:?}"
                    );
                }
            }
            if case.role == Role::Server {
                let channel = Err(SessionError::Channel(error.clone()));
                ensure!(
                    o.download.as_ref() == Some(&channel),
                    "download {:?}",
                    o.download
                );
                // Only what an accepted OPEN started, kept as `.partial`.
                let opened: Vec<String> = o
                    .events
                    .iter()
                    .filter_map(|e| match e {
                        Event::Message(Message::Open { file_name }) => {
                            Some(format!("{}.partial", stored_name(file_name).ok()?))
                        }
                        _ => None,
                    })
                    .collect();
                ensure!(
                    names(&o.store) == opened,
                    "store holds {:?}, not {opened:?}",
                    names(&o.store)
                );
            }
        }
        Expect::Refused(expected, keeps) => {
            ensure!(
                o.returned.is_empty(),
                "handle_input returned {:?}",
                o.returned
            );
            let Some(Err(SessionError::Transfer(error))) = &o.download else {
                return Err(format!("download {:?}", o.download));
            };
            ensure!(expected(error), "wrong transfer error: {error:?}");
            ensure!(
                o.close_reason.is_none(),
                "close reason {:?}",
                o.close_reason
            );
            ensure!(closed[0].is_none(), "Closed event with {:?}", closed[0]);
            if v2 {
                // The refusal is an application ERROR in a record.
                ensure!(errors_sent.is_empty(), "sent ERROR frames {errors_sent:?}");
                ensure!(
                    o.sent.last().and_then(|f| record_epoch(f)).is_some(),
                    "last frame {:?}",
                    o.sent.last()
                );
            } else {
                ensure!(
                    errors_sent.len() == 1 && last_sent == Some(error.to_string()),
                    "ERROR frames sent: {errors_sent:?}"
                );
            }
            let told = Error::Protocol(ProtocolError::PeerError(error.to_string()));
            ensure!(
                o.peer_error.as_ref() == Some(&told),
                "the client closed with {:?}",
                o.peer_error
            );
            ensure!(
                names(&o.store) == *keeps,
                "store holds {:?}, not {keeps:?}",
                names(&o.store)
            );
        }
        Expect::Stored(name) => {
            ensure!(
                o.returned.is_empty(),
                "handle_input returned {:?}",
                o.returned
            );
            ensure!(
                o.download == Some(Ok(name.to_string())),
                "download {:?}",
                o.download
            );
            ensure!(closed[0].is_none(), "Closed event with {:?}", closed[0]);
            ensure!(errors_sent.is_empty(), "sent ERROR {errors_sent:?}");
            let data: Vec<u8> = match &case.attack {
                Attack::Send(messages) => messages
                    .iter()
                    .filter_map(|m| match m {
                        Message::Data(d) => Some(d.clone()),
                        _ => None,
                    })
                    .flatten()
                    .collect(),
                _ => Vec::new(),
            };
            ensure!(
                o.store == [(name.to_string(), data)],
                "store holds {:?}",
                names(&o.store)
            );
        }
        Expect::Continues(..) => unreachable!("checked above"),
    }
    outside_checks(o)
}

/// Nothing outside the store changed, and `/etc/passwd` is untouched.
fn outside_checks(o: &Observed) -> Result<(), String> {
    ensure!(
        o.outside_changed.is_empty(),
        "changed outside the store: {:?}",
        o.outside_changed
    );
    ensure!(!o.etc_passwd_changed, "/etc/passwd changed");
    Ok(())
}

fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

/// What must be the same whatever the split. The server application
/// reacts to each piece of input only after the connection has handled all
/// of it: when several client messages arrive in one piece, the connection
/// may fail (or the application refuse) before the application answered an
/// earlier `OPEN`, or decode later messages the application then ignores.
/// Rows where application messages meet the failure (refused transfers,
/// rotations with an `OPEN` in flight, any run in which the receiver got an
/// application message) therefore compare everything but the application
/// messages and the answers (`OK` frames, and v2 records: their sequence
/// numbers move with the answers). The mark is never compared: a piece
/// carrying several frames moves it.
fn comparable(o: &Observed, relaxed: bool) -> Observed {
    let o = Observed {
        mark: None,
        split: Split::Whole,
        ..o.clone()
    };
    if !relaxed {
        return o;
    }
    Observed {
        events: o
            .events
            .iter()
            .filter(|e| !matches!(e, Event::Message(_)))
            .cloned()
            .collect(),
        sent: o
            .sent
            .iter()
            .filter(|f| *f != r#"{"type":"OK"}"# && record_epoch(f).is_none())
            .cloned()
            .collect(),
        ..o
    }
}

/// Whether a row's runs are compared without their application messages
/// (see [`comparable`]).
fn relaxed(case: &Case, runs: &[Observed]) -> bool {
    matches!(case.expect, Expect::Refused(..))
        || matches!(
            case.attack,
            Attack::Rotation(_) | Attack::Hooked(_) | Attack::ForgeV2(_)
        )
        || runs
            .iter()
            .any(|o| o.events.iter().any(|e| matches!(e, Event::Message(_))))
}

/// Numbers the rows of all tests (for their scratch directories).
static ROWS: AtomicUsize = AtomicUsize::new(0);

/// Runs every row whole and byte by byte; panics listing the failed rows.
fn run_table(rows: &[Case]) {
    let mut failures = Vec::new();
    for case in rows {
        let id = ROWS.fetch_add(1, Ordering::Relaxed);
        let mut runs = Vec::new();
        for split in [Split::Whole, Split::Bytes] {
            match catch_unwind(AssertUnwindSafe(|| run(case, id, split))) {
                Ok(observed) => runs.push(observed),
                Err(panic) => failures.push(format!(
                    "{}: panicked ({split:?}): {}",
                    case.name,
                    panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("?")
                )),
            }
        }
        if let [whole, bytes] = &runs[..] {
            for (split, observed) in [("whole", whole), ("byte by byte", bytes)] {
                if let Err(why) = check(case, observed) {
                    failures.push(format!("{} [{:?}, {split}]: {why}", case.name, case.role));
                }
            }
            let relaxed = relaxed(case, &runs);
            if comparable(whole, relaxed) != comparable(bytes, relaxed) {
                failures.push(format!(
                    "{}: whole and byte-by-byte input differ:\n  whole: {whole:?}\n  bytes: {bytes:?}",
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures in a table of {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// The v2 and client tables (they use the vocabulary and runner above)
// ---------------------------------------------------------------------------

#[path = "bad_input/client.rs"]
mod client;
#[path = "bad_input/forge.rs"]
mod forge;
#[path = "bad_input/phases.rs"]
mod phases;
#[path = "bad_input/v2_server.rs"]
mod v2_server;

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn malformed_and_out_of_turn_frames_at_the_server() {
    run_table(&framing_rows());
}

#[test]
fn bad_offers_groups_and_keys_at_the_server() {
    run_table(&handshake_rows());
}

#[test]
fn bad_records_at_the_server() {
    run_table(&record_rows());
}

#[test]
fn bad_frames_at_the_client() {
    run_table(&client_rows());
}

#[test]
fn bad_transfers_are_refused_or_confined_to_the_store() {
    // Before sending `/etc/passwd` as a name: the name must be reduced.
    assert_eq!(stored_name("/etc/passwd").as_deref(), Ok("passwd"));
    run_table(&transfer_rows());
}

/// The man in the middle of the forged rows holds the server's keys: a
/// well-formed record it forges is accepted, so a forged row's failure is
/// the record's, not the forger's.
#[test]
fn a_well_formed_forged_record_is_accepted() {
    let case = case!(Server "forged: a valid OPEN",
        Attack::Forge(|p| seal(p, &open("forged.txt").to_v1_json())) => stored "unused");
    let id = ROWS.fetch_add(1, Ordering::Relaxed);
    let observed = run(&case, id, Split::Whole);
    assert_eq!(observed.returned, []);
    assert_eq!(observed.state, State::Established);
    assert!(
        observed
            .events
            .contains(&Event::Message(open("forged.txt"))),
        "{:?}",
        observed.events
    );
    // The forged OPEN was accepted and answered; the transfer never ended.
    assert_eq!(observed.sent.last().unwrap(), r#"{"type":"OK"}"#);
    assert_eq!(names(&observed.store), ["forged.txt.partial"]);
}

/// Endless input without `\r\n`: the connection fails as soon as the
/// partial frame passes the limit, whatever the pieces, so it never holds
/// more than the limit (plus a pending `\r`).
#[test]
fn endless_input_fails_at_the_first_byte_over_the_limit() {
    let limit = 1024;
    let mut config = Config::seed_compatible();
    config.max_frame_len = limit;
    for piece in [1, 7, 100, 1000, 1024, 1025, 5000] {
        let mut server = securex::Connection::server(
            config.clone(),
            ChaCha20Rng::seed_from_u64(SEED),
            std::time::Instant::now(),
        )
        .expect("a valid config");
        let now = std::time::Instant::now();
        let mut fed = 0;
        let mut failed_at = None;
        for _ in 0..(20 * limit / piece + 2) {
            let result = server.handle_input(now, &vec![b'x'; piece]);
            fed += piece;
            match result {
                Ok(()) => assert!(
                    failed_at.is_some() || fed <= limit,
                    "piece {piece}: {fed} bytes held without error"
                ),
                Err(e) => {
                    assert_eq!(failed_at, None, "piece {piece}: failed twice");
                    assert_eq!(e, Error::Frame(FrameError::TooLong { limit }));
                    failed_at = Some(fed);
                }
            }
        }
        // The first piece that passes the limit fails.
        let expected = (limit / piece + 1) * piece;
        assert_eq!(failed_at, Some(expected), "piece {piece}");
        assert_eq!(server.state(), State::Closed);
        let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
        assert_eq!(
            events,
            [Event::Closed {
                error: Some(Error::Frame(FrameError::TooLong { limit }))
            }]
        );
    }

    // One byte over the limit may be the `\r` of the delimiter.
    let mut server = securex::Connection::server(
        config,
        ChaCha20Rng::seed_from_u64(SEED),
        std::time::Instant::now(),
    )
    .expect("a valid config");
    let now = std::time::Instant::now();
    let mut frame = vec![b'x'; limit];
    frame.push(b'\r');
    assert_eq!(server.handle_input(now, &frame), Ok(()));
    assert_eq!(
        server.handle_input(now, b"\n"),
        Err(Error::Frame(FrameError::NotJson))
    );
}
