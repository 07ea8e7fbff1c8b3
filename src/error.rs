//! One error type for the whole crate.
//!
//! Every layer has its own small enum ([`SuiteError`], [`DhError`],
//! [`RecordError`]) saying exactly what was wrong with the input; [`Error`]
//! wraps them, and [`Error::kind`] sorts every failure into a few
//! [`ErrorKind`]s a program can match on without following every variant.
//!
//! No error carries secret material: a failed MAC check reports only that
//! it failed, never the expected value.

use alloc::string::String;
use core::fmt;

pub use crate::config::ConfigError;
use crate::suite::{Cipher, Mode};

/// The coarse class of an [`Error`], stable enough to match on.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input was not well formed (JSON, base64, hex, PEM, DER, lengths).
    Malformed,
    /// The input named an algorithm, group or structure this crate does not
    /// implement.
    Unsupported,
    /// The input was well formed and supported, but the local policy, or the
    /// offer it answers, does not allow it.
    Policy,
    /// A public key or group failed validation.
    InvalidKey,
    /// Authentication or decryption of a protected record failed.
    Crypto,
    /// The input exceeded a configured limit.
    LimitExceeded,
    /// The peer broke the protocol: a frame or message out of turn.
    Protocol,
    /// The peer refused (it sent `ERROR`), or went away too early.
    Peer,
    /// A timer expired.
    TimedOut,
    /// The application used the API wrongly (sent on a closed
    /// connection, sent a message of the other role, ...). The connection
    /// is not closed by it.
    Misuse,
}

/// Violations of the protocol by the peer, and policy refusals.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// A frame that is not allowed in the current state.
    UnexpectedFrame {
        /// The frame's type.
        frame: &'static str,
        /// What the connection was doing.
        state: &'static str,
    },
    /// An application message this side does not accept (e.g. `OK` sent
    /// by a client).
    UnexpectedMessage {
        /// The message's type.
        message: &'static str,
    },
    /// The server's `EXCHANGE` agreed to an extension the client did not
    /// offer (or twice).
    UnexpectedExtension {
        /// Its name, as sent.
        name: String,
    },
    /// The peer sent `ERROR`.
    PeerError(String),
    /// The connection ended (end of stream) before the protocol was done.
    UnexpectedEof,
    /// A DH group the local policy does not accept (ad-hoc, or too small).
    GroupRefused {
        /// Bits of the group's modulus.
        bits: u32,
    },
    /// The peer's FINISHED did not verify: a hello was changed on the way,
    /// or the peers hold different pre-shared keys.
    BadFinished,
    /// The peer speaks a version the local policy does not accept.
    VersionRefused {
        /// The version the peer speaks (1 for a frame without `version`).
        version: u32,
    },
    /// The client's first group is not one the server accepts (or the
    /// server answered in another group).
    GroupNotAccepted {
        /// The groups the server accepts, comma-separated.
        accepted: String,
    },
    /// The two sides do not hold the same pre-shared key identifier.
    PskMismatch,
    /// The client pins a server key this server does not hold (or in
    /// another group than the client's first).
    UnknownServerKey,
    /// A field that must be base64 was not.
    InvalidBase64 {
        /// The frame's type.
        frame: &'static str,
        /// The field.
        field: &'static str,
    },
    /// The peer started a key rotation before the epoch carried what the
    /// local policy requires (`Config::v1_rotation_min_frames` and
    /// `v1_rotation_min_bytes`, or v2's `rekey_min_bytes`).
    RotationTooSoon {
        /// Protected frames the peer sent in the epoch.
        frames: u64,
        /// Bytes of those frames.
        bytes: u64,
    },
}

/// Wrong use of the API by the application.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misuse {
    /// The connection is closed.
    Closed,
    /// This role does not send that message.
    WrongRole {
        /// The message's type.
        message: &'static str,
    },
    /// The message would make a frame longer than the peer accepts.
    MessageTooLarge {
        /// Bytes of the frame.
        len: usize,
        /// The configured frame limit.
        limit: usize,
    },
    /// v2's `Close` must carry the file's SHA-256.
    MissingDigest,
    /// The connection already holds the configured maximum of queued bytes;
    /// send again after draining `poll_transmit`.
    BufferFull {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// Keys can be rotated only once the handshake is complete.
    NotEstablished,
    /// A v1 server cannot start a rotation: in v1 only the client rotates.
    CannotRotate,
    /// A message of an extension the handshake did not agree (or not yet).
    ExtensionNotAgreed {
        /// The message's type.
        message: &'static str,
    },
}

/// Problems with the JSON of a frame or of an inner message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The frame is not valid UTF-8.
    NotUtf8,
    /// The frame is not valid JSON.
    NotJson,
    /// The frame is JSON but not an object.
    NotObject,
    /// The object has no string field `type`.
    MissingType,
    /// The `type` is not one this side knows.
    UnknownType(String),
    /// A frame longer than the configured limit (or endless data without
    /// `\r\n`).
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A field is missing or has the wrong type.
    InvalidFields {
        /// The frame's `type`.
        frame: &'static str,
        /// What the JSON parser reported (field names, never secrets).
        detail: String,
    },
}

/// Problems with cipher-suite names, offers and choices.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuiteError {
    /// A suite string was not of the form `DH;<cipher>;<mode>;<hash>`.
    Malformed(String),
    /// A cipher, mode or hash name that this crate does not know.
    UnknownName {
        /// Which list the name was found in: `cipher`, `mode` or `hash`.
        kind: &'static str,
        /// The name as received.
        name: String,
    },
    /// A cipher and mode that do not go together (e.g. `AES-128` with `ECB`).
    InvalidPair {
        /// The cipher.
        cipher: Cipher,
        /// The mode it cannot be used with.
        mode: Mode,
    },
    /// The peer chose a suite that was not offered to it.
    NotOffered(String),
    /// No suite satisfies both the offer and the local policy.
    NoCommonSuite,
}

/// Problems with Diffie-Hellman groups, public keys and their encodings.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhError {
    /// The PEM armor was malformed.
    Pem,
    /// The PEM label was not one this field may carry.
    UnexpectedLabel(String),
    /// The DER structure inside the PEM was malformed.
    Der,
    /// Bytes followed the DER structure.
    TrailingData,
    /// A `SubjectPublicKeyInfo` named an algorithm other than
    /// dhKeyAgreement (1.2.840.113549.1.3.1) or dhpublicnumber
    /// (1.2.840.10046.2.1).
    UnknownAlgorithm(String),
    /// An integer that must be positive was zero or negative.
    NonPositiveInteger,
    /// A group name that is not one of the RFC 7919 groups this crate knows.
    UnknownGroup(String),
    /// A private exponent outside `1 < x < p - 1` (or `x < q`).
    InvalidPrivateKey,
    /// The group is not usable: even or tiny modulus, or a generator
    /// outside `1 < g < p - 1`.
    InvalidGroup,
    /// A received subgroup order q that the group cannot have: for an
    /// RFC 7919 modulus and generator, any q but `(p - 1) / 2`; for an
    /// ad-hoc group, a q of fewer than
    /// [`MIN_SUBGROUP_ORDER_BITS`](crate::dh::MIN_SUBGROUP_ORDER_BITS) bits,
    /// one that is not a proper divisor of `p - 1`, or one with
    /// `g^q != 1 (mod p)`.
    InvalidSubgroupOrder,
    /// The modulus is larger than the configured limit.
    GroupTooLarge {
        /// Bits of the received modulus.
        bits: u32,
        /// The configured limit in bits.
        limit: u32,
    },
    /// A public key's parameters differ from the group it must belong to.
    GroupMismatch,
    /// A public value outside `1 < y < p - 1`.
    PublicKeyOutOfRange,
    /// A public value outside the order-q subgroup.
    PublicKeyNotInSubgroup,
    /// The shared secret came out as 1 (a degenerate peer key).
    DegenerateSharedSecret,
}

/// Problems opening (or sealing) a protected record.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// A field that must be base64 was not.
    InvalidBase64 {
        /// The frame field.
        field: &'static str,
    },
    /// A field that must be hexadecimal was not, or had the wrong length.
    InvalidHex {
        /// The frame field.
        field: &'static str,
    },
    /// The MAC did not match.
    BadMac,
    /// The PKCS#7 padding of the decrypted plaintext was invalid.
    BadPadding,
    /// The IV does not have the length the cipher needs.
    InvalidIvLength {
        /// Bytes the cipher needs.
        expected: usize,
        /// Bytes received.
        actual: usize,
    },
    /// The ciphertext is empty or not a whole number of cipher blocks.
    CiphertextLength {
        /// Bytes received.
        actual: usize,
        /// The cipher's block size.
        block: usize,
    },
    /// A v2 record failed authentication, decryption or unpadding, or one
    /// of its binary fields had the wrong length. Deliberately one variant
    /// without detail, so that the failures cannot be told apart.
    Decrypt,
    /// A v2 record's `seq` was not exactly the next one of its direction
    /// and epoch: a replayed, reordered or deleted record.
    UnexpectedSequence {
        /// The sequence number the receiver was waiting for.
        expected: u64,
        /// The sequence number the record carried.
        got: u64,
    },
    /// A v2 record carried an epoch the receiver has no keys for (the
    /// value received).
    UnknownEpoch(u32),
    /// The sequence numbers of a v2 direction and epoch are used up; the
    /// keys must rotate first.
    SequenceExhausted,
    /// A v2 key of the wrong length was handed in (a programming error).
    InvalidKeyLength {
        /// Which key: `enc_key`, `mac_key` or `static_iv`.
        key: &'static str,
        /// Bytes the suite needs.
        expected: usize,
        /// Bytes received.
        actual: usize,
    },
}

/// Any failure of this crate.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A malformed frame or message.
    Frame(FrameError),
    /// A cipher-suite problem.
    Suite(SuiteError),
    /// A Diffie-Hellman problem.
    Dh(DhError),
    /// A protected-record problem.
    Record(RecordError),
    /// The peer broke the protocol or was refused by policy.
    Protocol(ProtocolError),
    /// A timer expired: the peer did not answer in time, or the
    /// connection was idle too long.
    TimedOut {
        /// Which deadline passed, and what was awaited.
        timer: Timer,
    },
    /// The application used the API wrongly.
    Misuse(Misuse),
    /// A [`Config`](crate::Config) that cannot make a connection.
    Config(ConfigError),
}

/// The deadline behind an [`Error::TimedOut`]: what the peer owed and did
/// not deliver in time, or the idle limit.
///
/// Every deadline but [`Timer::Idle`] is a *reply deadline*: it runs from
/// the moment this side produced what calls for the answer (for
/// [`Timer::Handshake`], from the connection's creation) and lasts
/// `Config::handshake_timeout`. Deadlines are met by complete frames
/// only: a peer that trickles bytes without completing a frame keeps
/// nothing open.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The first handshake did not complete: the client's `ALGORITHMS`
    /// (server), the server's `EXCHANGE` (client) or the peer's FINISHED
    /// (v2) did not arrive.
    Handshake,
    /// v2: our `REKEY` was not answered with `REKEY_ACK`.
    RekeyAck,
    /// v1 client: our renewed `ALGORITHMS` (a key rotation) was not
    /// answered with `EXCHANGE`.
    RotationExchange,
    /// Client: the server did not answer `OPEN` with `OK` (or `ERROR`).
    OpenReply,
    /// v2 client: the server did not answer `CLOSE` with `OK` (or
    /// `ERROR`). v1 servers never answer `CLOSE`, so v1 has no such
    /// deadline.
    CloseReply,
    /// Nothing was sent and nothing received for `Config::idle_timeout`.
    Idle,
}

impl Timer {
    /// What was awaited, in words.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Timer::Handshake => "the handshake to complete",
            Timer::RekeyAck => "REKEY_ACK (the answer to our key rotation)",
            Timer::RotationExchange => "EXCHANGE (the answer to our key rotation)",
            Timer::OpenReply => "the answer to OPEN",
            Timer::CloseReply => "the answer to CLOSE",
            Timer::Idle => "any frame (the connection was idle)",
        }
    }
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timer::Handshake => "handshake",
            Timer::RekeyAck => "REKEY_ACK",
            Timer::RotationExchange => "rotation EXCHANGE",
            Timer::OpenReply => "OPEN reply",
            Timer::CloseReply => "CLOSE reply",
            Timer::Idle => "idle",
        })
    }
}

impl Error {
    /// The coarse class of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Frame(e) => match e {
                FrameError::UnknownType(_) => ErrorKind::Unsupported,
                FrameError::TooLong { .. } => ErrorKind::LimitExceeded,
                _ => ErrorKind::Malformed,
            },
            Error::Suite(e) => match e {
                SuiteError::Malformed(_) => ErrorKind::Malformed,
                SuiteError::UnknownName { .. } | SuiteError::InvalidPair { .. } => {
                    ErrorKind::Unsupported
                }
                SuiteError::NotOffered(_) | SuiteError::NoCommonSuite => ErrorKind::Policy,
            },
            Error::Dh(e) => match e {
                DhError::Pem
                | DhError::UnexpectedLabel(_)
                | DhError::Der
                | DhError::TrailingData
                | DhError::NonPositiveInteger => ErrorKind::Malformed,
                DhError::UnknownAlgorithm(_) | DhError::UnknownGroup(_) => ErrorKind::Unsupported,
                DhError::GroupTooLarge { .. } => ErrorKind::LimitExceeded,
                DhError::InvalidGroup
                | DhError::InvalidSubgroupOrder
                | DhError::GroupMismatch
                | DhError::InvalidPrivateKey
                | DhError::PublicKeyOutOfRange
                | DhError::PublicKeyNotInSubgroup
                | DhError::DegenerateSharedSecret => ErrorKind::InvalidKey,
            },
            Error::Protocol(e) => match e {
                ProtocolError::PeerError(_) | ProtocolError::UnexpectedEof => ErrorKind::Peer,
                ProtocolError::GroupRefused { .. }
                | ProtocolError::VersionRefused { .. }
                | ProtocolError::GroupNotAccepted { .. }
                | ProtocolError::PskMismatch
                | ProtocolError::UnknownServerKey => ErrorKind::Policy,
                ProtocolError::BadFinished => ErrorKind::Crypto,
                ProtocolError::RotationTooSoon { .. } => ErrorKind::LimitExceeded,
                ProtocolError::InvalidBase64 { .. } => ErrorKind::Malformed,
                _ => ErrorKind::Protocol,
            },
            Error::TimedOut { .. } => ErrorKind::TimedOut,
            Error::Misuse(_) | Error::Config(_) => ErrorKind::Misuse,
            Error::Record(e) => match e {
                RecordError::BadMac
                | RecordError::BadPadding
                | RecordError::Decrypt
                | RecordError::UnexpectedSequence { .. }
                | RecordError::UnknownEpoch(_) => ErrorKind::Crypto,
                RecordError::SequenceExhausted => ErrorKind::LimitExceeded,
                RecordError::InvalidKeyLength { .. } => ErrorKind::Misuse,
                RecordError::InvalidBase64 { .. }
                | RecordError::InvalidHex { .. }
                | RecordError::InvalidIvLength { .. }
                | RecordError::CiphertextLength { .. } => ErrorKind::Malformed,
            },
        }
    }
}

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Self {
        Error::Frame(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<Misuse> for Error {
    fn from(e: Misuse) -> Self {
        Error::Misuse(e)
    }
}

impl From<SuiteError> for Error {
    fn from(e: SuiteError) -> Self {
        Error::Suite(e)
    }
}

impl From<DhError> for Error {
    fn from(e: DhError) -> Self {
        Error::Dh(e)
    }
}

impl From<RecordError> for Error {
    fn from(e: RecordError) -> Self {
        Error::Record(e)
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::NotUtf8 => f.write_str("frame is not valid UTF-8"),
            FrameError::NotJson => f.write_str("frame is not valid JSON"),
            FrameError::NotObject => f.write_str("frame is not a JSON object"),
            FrameError::MissingType => f.write_str("frame has no string field \"type\""),
            FrameError::UnknownType(t) => write!(f, "unknown frame type {t:?}"),
            FrameError::TooLong { limit } => {
                write!(f, "frame longer than the limit of {limit} bytes")
            }
            FrameError::InvalidFields { frame, detail } => {
                write!(f, "invalid {frame} frame: {detail}")
            }
        }
    }
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuiteError::Malformed(s) => {
                write!(
                    f,
                    "cipher suite {s:?} is not of the form DH;<cipher>;<mode>;<hash>"
                )
            }
            SuiteError::UnknownName { kind, name } => write!(f, "unknown {kind} name {name:?}"),
            SuiteError::InvalidPair { cipher, mode } => {
                write!(f, "cipher {cipher} cannot be used in mode {mode}")
            }
            SuiteError::NotOffered(s) => write!(f, "the peer chose {s}, which was not offered"),
            SuiteError::NoCommonSuite => f.write_str("no cipher suite is acceptable to both sides"),
        }
    }
}

impl fmt::Display for DhError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DhError::Pem => f.write_str("malformed PEM"),
            DhError::UnexpectedLabel(l) => write!(f, "unexpected PEM label {l:?}"),
            DhError::Der => f.write_str("malformed DER structure"),
            DhError::TrailingData => f.write_str("trailing data after the DER structure"),
            DhError::UnknownAlgorithm(oid) => {
                write!(f, "public key algorithm {oid} is not finite-field DH")
            }
            DhError::NonPositiveInteger => f.write_str("an integer that must be positive is not"),
            DhError::UnknownGroup(name) => write!(f, "unknown DH group {name:?}"),
            DhError::InvalidPrivateKey => f.write_str("the DH private exponent is out of range"),
            DhError::InvalidGroup => f.write_str("the DH group parameters are not usable"),
            DhError::InvalidSubgroupOrder => {
                f.write_str("the DH subgroup order q does not belong to the group")
            }
            DhError::GroupTooLarge { bits, limit } => {
                write!(
                    f,
                    "the DH modulus has {bits} bits, more than the limit of {limit}"
                )
            }
            DhError::GroupMismatch => f.write_str("the public key belongs to another DH group"),
            DhError::PublicKeyOutOfRange => f.write_str("the DH public value is out of range"),
            DhError::PublicKeyNotInSubgroup => {
                f.write_str("the DH public value is not in the prime-order subgroup")
            }
            DhError::DegenerateSharedSecret => f.write_str("the DH shared secret is degenerate"),
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::InvalidBase64 { field } => {
                write!(f, "field {field:?} is not valid base64")
            }
            RecordError::InvalidHex { field } => {
                write!(f, "field {field:?} is not hexadecimal of the right length")
            }
            // The same text: a v2 `Decrypt` must read as any failed check.
            RecordError::BadMac | RecordError::Decrypt => {
                f.write_str("record authentication failed")
            }
            RecordError::BadPadding => f.write_str("record padding is invalid"),
            RecordError::InvalidIvLength { expected, actual } => {
                write!(f, "the IV has {actual} bytes; the cipher needs {expected}")
            }
            RecordError::CiphertextLength { actual, block } => write!(
                f,
                "the ciphertext has {actual} bytes, not a positive multiple of the {block}-byte block"
            ),
            RecordError::UnexpectedSequence { expected, got } => {
                write!(f, "record sequence number {got} where {expected} was due")
            }
            RecordError::UnknownEpoch(epoch) => write!(f, "record of unknown key epoch {epoch}"),
            RecordError::SequenceExhausted => {
                f.write_str("the record sequence numbers of this key epoch are exhausted")
            }
            RecordError::InvalidKeyLength {
                key,
                expected,
                actual,
            } => write!(
                f,
                "the {key} has {actual} bytes; the suite needs {expected}"
            ),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnexpectedFrame { frame, state } => {
                write!(f, "unexpected {frame} frame while {state}")
            }
            ProtocolError::UnexpectedMessage { message } => {
                write!(f, "unexpected {message} message")
            }
            ProtocolError::UnexpectedExtension { name } => {
                write!(f, "the server agreed to extension {name:?}, which was not offered")
            }
            ProtocolError::PeerError(m) => write!(f, "the peer reported an error: {m}"),
            ProtocolError::UnexpectedEof => f.write_str("the peer closed the connection too early"),
            ProtocolError::GroupRefused { bits } => {
                write!(
                    f,
                    "the {bits}-bit DH group is not allowed by the local policy"
                )
            }
            ProtocolError::BadFinished => {
                f.write_str("the handshake was tampered with: FINISHED does not verify")
            }
            ProtocolError::VersionRefused { version: 1 } => {
                f.write_str("the peer speaks v1 (the seed protocol), which the local policy refuses; v2 is required")
            }
            ProtocolError::VersionRefused { version } => {
                write!(f, "the peer speaks version {version}, which the local policy refuses")
            }
            ProtocolError::GroupNotAccepted { accepted } => {
                write!(f, "the DH group is not accepted; accepted groups: {accepted}")
            }
            ProtocolError::PskMismatch => {
                f.write_str("the sides do not hold the same pre-shared key")
            }
            ProtocolError::UnknownServerKey => {
                f.write_str("the server does not hold the key the client pins")
            }
            ProtocolError::InvalidBase64 { frame, field } => {
                write!(f, "field {field:?} of {frame} is not valid base64")
            }
            ProtocolError::RotationTooSoon { frames, bytes } => write!(
                f,
                "key rotation refused: too soon, after {frames} protected frames ({bytes} bytes) in the epoch"
            ),
        }
    }
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misuse::Closed => f.write_str("the connection is closed"),
            Misuse::NotEstablished => f.write_str("the handshake is not complete"),
            Misuse::CannotRotate => f.write_str("a v1 server cannot start a key rotation"),
            Misuse::WrongRole { message } => write!(f, "this side does not send {message}"),
            Misuse::MissingDigest => f.write_str("a v2 CLOSE needs the SHA-256 of the file"),
            Misuse::MessageTooLarge { len, limit } => {
                write!(f, "a {len}-byte frame exceeds the limit of {limit} bytes")
            }
            Misuse::BufferFull { limit } => {
                write!(
                    f,
                    "{limit} bytes are already queued; drain poll_transmit first"
                )
            }
            Misuse::ExtensionNotAgreed { message } => write!(
                f,
                "{message} needs an extension the handshake did not agree"
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Frame(e) => e.fmt(f),
            Error::Suite(e) => e.fmt(f),
            Error::Dh(e) => e.fmt(f),
            Error::Record(e) => e.fmt(f),
            Error::Protocol(e) => e.fmt(f),
            Error::TimedOut { timer } => write!(f, "timed out waiting for {}", timer.describe()),
            Error::Misuse(e) => e.fmt(f),
            Error::Config(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for FrameError {}
impl core::error::Error for SuiteError {}
impl core::error::Error for DhError {}
impl core::error::Error for RecordError {}
impl core::error::Error for ProtocolError {}
impl core::error::Error for Misuse {}
impl core::error::Error for ConfigError {}

/// An [`Error`] as an I/O error, for code that works in `std::io`
/// terms: the kind says what happened ([`ErrorKind::TimedOut`] →
/// `TimedOut`, the peer's end of stream → `UnexpectedEof`, [`Misuse`] →
/// `InvalidInput`, everything else the peer sent → `InvalidData`), and the
/// error itself is the source.
#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(error: Error) -> std::io::Error {
        use std::io::ErrorKind as Io;
        let kind = match error.kind() {
            _ if error == Error::Protocol(ProtocolError::UnexpectedEof) => Io::UnexpectedEof,
            ErrorKind::TimedOut => Io::TimedOut,
            ErrorKind::Misuse => Io::InvalidInput,
            _ => Io::InvalidData,
        };
        std::io::Error::new(kind, error)
    }
}

/// `Error` is transparent: its `Display` is the inner error's, so its
/// `source` is the inner error's source (none: every inner error is a
/// leaf), and a report that walks the chain says each thing once.
impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Frame(e) => e.source(),
            Error::Suite(e) => e.source(),
            Error::Dh(e) => e.source(),
            Error::Record(e) => e.source(),
            Error::Protocol(e) => e.source(),
            Error::TimedOut { .. } => None,
            Error::Misuse(e) => e.source(),
            Error::Config(e) => e.source(),
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// Walks `error`'s chain as a reporter (anyhow, eyre) prints it.
    fn chain(error: &dyn core::error::Error) -> alloc::vec::Vec<String> {
        let mut lines = alloc::vec![error.to_string()];
        let mut next = error.source();
        while let Some(e) = next {
            lines.push(e.to_string());
            next = e.source();
        }
        lines
    }

    #[test]
    fn a_report_of_the_chain_says_each_thing_once() {
        let cases: [Error; 4] = [
            RecordError::Decrypt.into(),
            ProtocolError::PeerError("disk full".into()).into(),
            Misuse::Closed.into(),
            ConfigError::NoVersion.into(),
        ];
        for error in cases {
            let lines = chain(&error);
            assert_eq!(lines.len(), 1, "{lines:?}");
            // Through std::io, the io::Error is the wrapper: its source is
            // our error, whose message it does not repeat in its own.
            let io: std::io::Error = error.clone().into();
            let lines = chain(&io);
            assert_eq!(lines, [error.to_string()], "{lines:?}");
        }
    }

    #[test]
    fn errors_become_io_errors_of_the_right_kind() {
        use std::io::ErrorKind as Io;
        let cases = [
            (Error::TimedOut { timer: Timer::Idle }, Io::TimedOut),
            (ProtocolError::UnexpectedEof.into(), Io::UnexpectedEof),
            (Misuse::Closed.into(), Io::InvalidInput),
            (RecordError::Decrypt.into(), Io::InvalidData),
        ];
        for (error, kind) in cases {
            let io = std::io::Error::from(error.clone());
            assert_eq!(io.kind(), kind, "{error}");
            assert_eq!(io.to_string(), error.to_string());
            let inner = io.into_inner().unwrap();
            assert_eq!(inner.downcast_ref::<Error>(), Some(&error));
        }
    }
}
