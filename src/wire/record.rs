//! `SECURE_X` frames without serde: the fast record path, for v2 and v1.
//! Public so that the fuzz targets can hold it against the strict parser;
//! a `Connection` uses it by itself.
//!
//! [`write()`] seals a record straight into the output buffer, in the one
//! form serde writes it (the same bytes as [`Frame::encode`](crate::wire::Frame::encode) of the
//! record, which the tests check):
//!
//! ```text
//! {"type":"SECURE_X","epoch":E,"seq":S,"payload":"<base64>"[,"iv":"<base64>"][,"hash":"<hex>"]}
//! ```
//!
//! Base64 and lowercase hex need no JSON escaping, and the ciphertext is
//! made in place in the output (the plaintext copied in once, encrypted
//! over itself, then base64-encoded into the room left before it).
//!
//! [`parse`] reads exactly that form and nothing else: no whitespace, this
//! field order, `type` in upper case, integers without sign, fraction,
//! exponent or leading zero, strings of base64 and hex characters only.
//! It decodes the binary fields at once. For anything else (another
//! peer's `", "` separators, another field order, a lower-case type, a
//! field that does not decode) it returns `None`, and the caller hands the
//! frame to the strict parser, [`Frame::decode`](crate::wire::Frame::decode). Every frame it accepts,
//! the strict parser accepts with the same values, so the two paths accept
//! and refuse exactly the same frames (`fuzz/fuzz_targets/fast_path.rs`
//! checks this against serde on arbitrary frames).
//!
//! v1 records are the same with [`write_v1`] and [`parse_v1`], in the form
//! `{"type":"SECURE_X","payload":"…","iv":"…","hash":"…"}`. Existing
//! Python peers write `", "` separators: their records always take the
//! strict path, byte for byte as before.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::base64;
use super::frame::Record;
#[cfg(feature = "std")]
use super::frame::{Frame, SecureX};
#[cfg(feature = "std")]
use crate::error::FrameError;
use crate::error::RecordError;
use crate::message::{Message, v1_data_json_len, write_v1_data_json};
use crate::record::{V1Protector, V1Record, V2Record, V2Sealer};

const START: &[u8] = br#"{"type":"SECURE_X","epoch":"#;
const SEQ: &[u8] = br#","seq":"#;
const PAYLOAD: &[u8] = br#","payload":""#;
const IV: &[u8] = br#"","iv":""#;
const HASH: &[u8] = br#"","hash":""#;
/// After the closing quote of the last string.
const END: &[u8] = b"}";

/// Seals `code ‖ body` (a v2 inner plaintext) as `sealer`'s next record
/// and appends its `SECURE_X` frame, without delimiter, to `out`. On
/// error `out` is as it was.
///
/// # Errors
///
/// Those of [`V2Sealer::seal`]: [`RecordError::SequenceExhausted`], and
/// [`RecordError::CiphertextLength`] for a GCM plaintext beyond the
/// mode's limit.
pub fn write<R: CryptoRng + ?Sized>(
    out: &mut Vec<u8>,
    sealer: &mut V2Sealer,
    rng: &mut R,
    code: u8,
    body: &[u8],
) -> Result<(), RecordError> {
    let start = out.len();
    out.extend_from_slice(START);
    push_decimal(out, u64::from(sealer.epoch()));
    out.extend_from_slice(SEQ);
    push_decimal(out, sealer.next_seq());
    out.extend_from_slice(PAYLOAD);
    let len = 1 + body.len();
    let plaintext = |out: &mut Vec<u8>| {
        out.push(code);
        out.extend_from_slice(body);
    };
    let c_len = sealer.ciphertext_len(len);
    let fields = push_sealed(out, start, c_len, plaintext, |c| {
        sealer.seal_in_place(rng, c, len)
    })?;
    if !fields.iv().is_empty() {
        out.extend_from_slice(IV);
        base64::encode_append(out, fields.iv());
    }
    if !fields.mac().is_empty() {
        out.extend_from_slice(HASH);
        push_hex(out, fields.mac());
    }
    out.push(b'"');
    out.extend_from_slice(END);
    Ok(())
}

/// `{"type":"SECURE_X","payload":"`: the start of a v1 record.
const V1_START: &[u8] = br#"{"type":"SECURE_X","payload":""#;

/// Seals `message` (its v1 inner JSON) under a fresh IV from `rng` and
/// appends its v1 `SECURE_X` frame, without delimiter, to `out`: the bytes
/// of [`Frame::encode`](crate::wire::Frame::encode) of [`V1Protector::seal`](crate::record::V1Protector::seal), written the same way as
/// [`write()`] (a DATA's inner JSON written straight into the room of its
/// ciphertext). On error `out` is as it was.
///
/// # Errors
///
/// [`RecordError::CiphertextLength`] for an inner JSON too long for GCM
/// (2^36 − 32 bytes), as [`V1Protector::seal`] (the IV, drawn at the
/// suite's length, is always accepted).
pub fn write_v1<R: CryptoRng + ?Sized>(
    out: &mut Vec<u8>,
    protector: &V1Protector,
    rng: &mut R,
    message: &Message,
) -> Result<(), RecordError> {
    let mut iv = [0u8; 16];
    let iv = &mut iv[..protector.iv_len()];
    rng.fill_bytes(iv);
    let start = out.len();
    out.extend_from_slice(V1_START);
    // A DATA's inner JSON is written in place; the other messages' are
    // small, and made first.
    let (small, data) = match message {
        Message::Data(data) => (Vec::new(), Some(data)),
        other => (other.to_v1_json(), None),
    };
    let inner_len = data.map_or(small.len(), |d| v1_data_json_len(d.len()));
    let plaintext = |out: &mut Vec<u8>| match data {
        Some(data) => write_v1_data_json(out, data),
        None => out.extend_from_slice(&small),
    };
    let c_len = protector.ciphertext_len(inner_len);
    let mac = push_sealed(out, start, c_len, plaintext, |c| {
        protector.seal_in_place(iv, c, inner_len)
    })?;
    out.extend_from_slice(IV);
    base64::encode_append(out, iv);
    out.extend_from_slice(HASH);
    push_hex(out, mac.as_slice());
    out.push(b'"');
    out.extend_from_slice(END);
    Ok(())
}

/// Appends the base64 of a ciphertext made in place, the part both
/// versions share: room for the base64 of `c_len` bytes, then
/// `plaintext` (which appends the plaintext) and room for
/// the rest of the ciphertext; `seal` turns those `c_len` bytes into the
/// ciphertext, whose base64 then fills the room before it, which it
/// leaves. On error `out` is cut back to `start`.
fn push_sealed<T>(
    out: &mut Vec<u8>,
    start: usize,
    c_len: usize,
    plaintext: impl FnOnce(&mut Vec<u8>),
    seal: impl FnOnce(&mut [u8]) -> Result<T, RecordError>,
) -> Result<T, RecordError> {
    let b64_at = out.len();
    let b64_len = base64::encoded_len(c_len);
    out.resize(b64_at + b64_len, 0);
    plaintext(out);
    out.resize(b64_at + b64_len + c_len, 0);
    let (b64, c) = out[b64_at..].split_at_mut(b64_len);
    match seal(c) {
        Ok(sealed) => {
            base64::encode_to_slice(c, b64);
            out.truncate(b64_at + b64_len);
            Ok(sealed)
        }
        Err(error) => {
            out.truncate(start);
            Err(error)
        }
    }
}

/// Appends the lowercase hex of `bytes`.
fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    let at = out.len();
    out.resize(at + 2 * bytes.len(), 0);
    // Cannot fail: the room is exactly twice the bytes.
    let _ = base16ct::lower::encode(bytes, &mut out[at..]);
}

/// Reads a `SECURE_X` frame (without its delimiter) in the form [`write()`]
/// writes, its binary fields decoded; `None` for any other frame.
#[must_use]
pub fn parse(frame: &[u8]) -> Option<V2Record> {
    let rest = frame.strip_prefix(START)?;
    let (epoch, rest) = decimal(rest)?;
    let epoch = u32::try_from(epoch).ok()?;
    let (seq, rest) = decimal(rest.strip_prefix(SEQ)?)?;
    let (payload, mut rest) = string(rest.strip_prefix(PAYLOAD)?)?;
    let mut iv = None;
    if let Some(after) = rest.strip_prefix(&IV[1..]) {
        let (text, after) = string(after)?;
        (iv, rest) = (Some(text), after);
    }
    let mut hash = None;
    if let Some(after) = rest.strip_prefix(&HASH[1..]) {
        let (text, after) = string(after)?;
        (hash, rest) = (Some(text), after);
    }
    if rest != END {
        return None;
    }
    Some(V2Record {
        epoch,
        seq,
        ciphertext: base64::decode(payload)?,
        iv: match iv {
            Some(text) => base64::decode(text)?,
            None => Vec::new(),
        },
        mac: match hash {
            Some(text) => base16ct::mixed::decode_vec(text).ok()?,
            None => Vec::new(),
        },
    })
}

/// The binary fields of a record the strict parser read ([`Frame::decode`](crate::wire::Frame::decode)):
/// `payload` and `iv` strict base64, `hash` hex in either case.
///
/// # Errors
///
/// [`RecordError::InvalidBase64`] naming `payload` or `iv`,
/// [`RecordError::InvalidHex`] naming `hash`.
pub fn decode_fields(record: &Record) -> Result<V2Record, RecordError> {
    let base64 =
        |field, value: &str| base64::decode(value).ok_or(RecordError::InvalidBase64 { field });
    Ok(V2Record {
        epoch: record.epoch,
        seq: record.seq,
        ciphertext: base64("payload", &record.payload)?,
        iv: match &record.iv {
            Some(iv) => base64("iv", iv)?,
            None => Vec::new(),
        },
        mac: match &record.hash {
            Some(hex) => base16ct::mixed::decode_vec(hex)
                .map_err(|_| RecordError::InvalidHex { field: "hash" })?,
            None => Vec::new(),
        },
    })
}

/// Reads a v1 `SECURE_X` frame (without its delimiter) in the form
/// [`write_v1`] writes (`payload`, `iv`, `hash`, in that order, nothing
/// else), its fields decoded; `None` for any other frame, which is then
/// the strict parser's. Existing Python peers write `", "` separators: their
/// records take the strict path.
#[must_use]
pub fn parse_v1(frame: &[u8]) -> Option<V1Record> {
    let (payload, rest) = string(frame.strip_prefix(V1_START)?)?;
    let (iv, rest) = string(rest.strip_prefix(&IV[1..])?)?;
    let (hash, rest) = string(rest.strip_prefix(&HASH[1..])?)?;
    if rest != END {
        return None;
    }
    Some(V1Record {
        ciphertext: base64::decode(payload)?,
        iv: base64::decode(iv)?,
        mac: base16ct::mixed::decode_vec(hash).ok()?,
    })
}

// What a `Connection` (std) reads records into.
#[cfg(feature = "std")]
/// A frame as received, read by the fast path where it can and by the
/// strict parser otherwise.
pub(crate) enum Incoming {
    /// A v2 record.
    V2(Received),
    /// A v1 record.
    V1(ReceivedV1),
    /// Any other frame.
    Other(Frame),
}

#[cfg(feature = "std")]
impl Incoming {
    /// Reads one frame (without its delimiter): records in the form we
    /// write them take the fast path, everything else the strict parser.
    pub(crate) fn read(frame: &[u8]) -> Result<Incoming, FrameError> {
        if let Some(record) = parse(frame) {
            return Ok(Incoming::V2(Received::Decoded(record)));
        }
        if let Some(record) = parse_v1(frame) {
            return Ok(Incoming::V1(ReceivedV1::Decoded(record)));
        }
        Ok(match Frame::decode(frame)? {
            Frame::Record(fields) => Incoming::V2(Received::Fields(fields)),
            Frame::SecureX(fields) => Incoming::V1(ReceivedV1::Fields(fields)),
            other => Incoming::Other(other),
        })
    }
}

// What a `Connection` (std) reads records into.
#[cfg(feature = "std")]
/// A v1 record as received: decoded by [`parse_v1`], or the fields the
/// strict parser read, decoded when the server opens it.
pub(crate) enum ReceivedV1 {
    /// From the fast path.
    Decoded(V1Record),
    /// From [`Frame::decode`](crate::wire::Frame::decode).
    Fields(SecureX),
}

#[cfg(feature = "std")]
impl ReceivedV1 {
    /// The record's binary fields.
    pub(crate) fn decode(self) -> Result<V1Record, RecordError> {
        match self {
            ReceivedV1::Decoded(record) => Ok(record),
            ReceivedV1::Fields(frame) => V1Record::decode(&frame),
        }
    }

    /// The record as the strict parser's frame, for the phases that take
    /// no v1 record.
    pub(crate) fn into_frame(self) -> Frame {
        Frame::SecureX(match self {
            ReceivedV1::Fields(frame) => frame,
            ReceivedV1::Decoded(record) => SecureX {
                payload: base64::encode(&record.ciphertext),
                iv: base64::encode(&record.iv),
                hash: base16ct::lower::encode_string(&record.mac),
            },
        })
    }
}

// What a `Connection` (std) reads records into.
#[cfg(feature = "std")]
/// A v2 record as received: decoded by [`parse`], or the fields the strict
/// parser read, decoded when the connection opens the record (so that a
/// field that does not decode fails where it always has).
pub(crate) enum Received {
    /// From the fast path.
    Decoded(V2Record),
    /// From [`Frame::decode`](crate::wire::Frame::decode).
    Fields(Record),
}

#[cfg(feature = "std")]
impl Received {
    /// The record's binary fields.
    pub(crate) fn decode(self) -> Result<V2Record, RecordError> {
        let record = match self {
            Received::Decoded(record) => return Ok(record),
            Received::Fields(record) => record,
        };
        let base64 =
            |field, value: &str| base64::decode(value).ok_or(RecordError::InvalidBase64 { field });
        Ok(V2Record {
            epoch: record.epoch,
            seq: record.seq,
            ciphertext: base64("payload", &record.payload)?,
            iv: match &record.iv {
                Some(iv) => base64("iv", iv)?,
                None => Vec::new(),
            },
            mac: match &record.hash {
                Some(hex) => base16ct::mixed::decode_vec(hex)
                    .map_err(|_| RecordError::InvalidHex { field: "hash" })?,
                None => Vec::new(),
            },
        })
    }

    /// The record as the strict parser's frame, for the phases that take
    /// no v2 record (and fail on it).
    pub(crate) fn into_frame(self) -> Frame {
        Frame::Record(match self {
            Received::Fields(record) => record,
            Received::Decoded(record) => Record::from(&record),
        })
    }
}

/// The `SECURE_X` frame of a sealed v2 record: its fields encoded as the
/// wire has them (`iv` and `hash` left out where the suite has none).
impl From<&V2Record> for Record {
    fn from(record: &V2Record) -> Record {
        Record {
            epoch: record.epoch,
            seq: record.seq,
            payload: base64::encode(&record.ciphertext),
            iv: (!record.iv.is_empty()).then(|| base64::encode(&record.iv)),
            hash: (!record.mac.is_empty()).then(|| base16ct::lower::encode_string(&record.mac)),
        }
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A JSON integer as serde reads into an unsigned field: `0`, or a digit
/// other than `0` and more digits, within `u64`. A leading zero followed
/// by a digit stops after the zero, and the caller's next expected byte
/// then fails to match.
fn decimal(text: &[u8]) -> Option<(u64, &[u8])> {
    if text.first() == Some(&b'0') {
        return Some((0, &text[1..]));
    }
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in &text[..digits] {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some((n, &text[digits..]))
}

/// The text up to the next `"`, and what follows that quote. Whether the
/// text is base64 or hex (and so a JSON string without escapes) is
/// checked by decoding it.
fn string(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr(b'"', text)?;
    Some((&text[..end], &text[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::V2DirectionKeys;
    use crate::suite::{CipherSuite, Mode};
    use alloc::string::String;
    use alloc::vec;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn sealer(suite: CipherSuite, epoch: u32, seq: u64) -> V2Sealer {
        let gcm = suite.mode() == Mode::Gcm;
        let keys = V2DirectionKeys::new(
            suite,
            &vec![7; suite.cipher().key_len()],
            &vec![9; if gcm { 0 } else { suite.hash().output_len() }],
            &vec![3; if gcm { 12 } else { 0 }],
        )
        .unwrap();
        let mut sealer = V2Sealer::new(keys, epoch);
        for _ in 0..seq {
            sealer
                .seal(&mut ChaCha20Rng::seed_from_u64(0), b"")
                .unwrap();
        }
        sealer
    }

    /// The fast writer gives the bytes serde gives for the same record, in
    /// every suite, and the fast parser reads them back to that record, as
    /// the strict parser does.
    #[test]
    fn writes_what_serde_writes_and_reads_it_back() {
        for suite in CipherSuite::ALL {
            for (epoch, seq) in [(0, 0), (1, 9), (10, 10), (u32::MAX, 3)] {
                for len in [0u16, 1, 15, 16, 17, 1000] {
                    let body: Vec<u8> = (0..=u8::MAX).cycle().take(len.into()).collect();
                    let mut a = sealer(suite, epoch, seq);
                    let mut b = sealer(suite, epoch, seq);
                    let mut out = b"prefix".to_vec();
                    let rng = &mut ChaCha20Rng::seed_from_u64(len.into());
                    write(&mut out, &mut a, rng, 0x02, &body).unwrap();
                    let rng = &mut ChaCha20Rng::seed_from_u64(len.into());
                    let record = b.seal(rng, &[&[0x02][..], &body].concat()).unwrap();
                    let expected = Received::Decoded(record.clone()).into_frame().encode();
                    assert_eq!(&out[..6], b"prefix");
                    assert_eq!(
                        core::str::from_utf8(&out[6..]).unwrap(),
                        core::str::from_utf8(&expected).unwrap(),
                        "{suite} {len}"
                    );
                    assert_eq!(parse(&out[6..]), Some(record.clone()));
                    let Frame::Record(fields) = Frame::decode(&out[6..]).unwrap() else {
                        panic!("not a v2 record")
                    };
                    assert_eq!(Received::Fields(fields).decode(), Ok(record));
                    assert_eq!(a.next_seq(), seq + 1);
                }
            }
        }
    }

    /// The v1 writer gives the bytes of `V1Protector::seal` + serde, in
    /// every suite, for DATA and for the other messages.
    #[test]
    fn writes_v1_records_as_serde_does() {
        use crate::record::V1Protector;
        use crate::schedule::V1Secrets;
        use rand_core::Rng;
        for suite in CipherSuite::ALL {
            let protector = V1Protector::new(suite, V1Secrets::derive(&[9; 256], suite.cipher()));
            let messages = [
                Message::Data(Vec::new()),
                Message::Data((0..=u8::MAX).cycle().take(1000).collect()),
                Message::Open {
                    file_name: "caf\u{e9}.txt".into(),
                },
                Message::Close { sha256: None },
            ];
            for (i, message) in messages.iter().enumerate() {
                let mut out = b"x".to_vec();
                let rng = &mut ChaCha20Rng::seed_from_u64(i as u64);
                write_v1(&mut out, &protector, rng, message).unwrap();
                let mut iv = vec![0u8; protector.iv_len()];
                ChaCha20Rng::seed_from_u64(i as u64).fill_bytes(&mut iv);
                let sealed = protector.seal(&iv, &message.to_v1_json()).unwrap();
                let expected = Frame::SecureX(sealed.clone()).encode();
                assert_eq!(
                    core::str::from_utf8(&out[1..]).unwrap(),
                    core::str::from_utf8(&expected).unwrap(),
                    "{suite} {i}"
                );
                let inner = protector.open(&sealed).unwrap();
                assert_eq!(Message::from_v1_json(&inner).unwrap(), *message);
            }
        }
    }

    /// Frames the fast path leaves to the strict parser: each one valid
    /// JSON that serde reads (or refuses) on its own.
    #[test]
    fn anything_but_the_canonical_form_is_left_to_the_strict_parser() {
        let canonical = br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AAAA"}"#;
        assert!(parse(canonical).is_some());
        let others: [&[u8]; 17] = [
            br#"{"type": "SECURE_X", "epoch": 1, "seq": 2, "payload": "AAAA"}"#,
            br#"{"type":"secure_x","epoch":1,"seq":2,"payload":"AAAA"}"#,
            br#"{"epoch":1,"type":"SECURE_X","seq":2,"payload":"AAAA"}"#,
            br#"{"type":"SECURE_X","epoch":01,"seq":2,"payload":"AAAA"}"#,
            br#"{"type":"SECURE_X","epoch":-1,"seq":2,"payload":"AAAA"}"#,
            br#"{"type":"SECURE_X","epoch":1.0,"seq":2,"payload":"AAAA"}"#,
            br#"{"type":"SECURE_X","epoch":1e0,"seq":2,"payload":"AAAA"}"#,
            br#"{"type":"SECURE_X","epoch":4294967296,"seq":2,"payload":"AAAA"}"#,
            br#"{"type":"SECURE_X","epoch":1,"seq":18446744073709551616,"payload":"AAAA"}"#,
            br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AA\u0041A"}"#,
            br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AAA\"}"#,
            br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AAA"}"#,
            br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AAAA","x":1}"#,
            br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AAAA","hash":"0g"}"#,
            br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AAAA","hash":"abc"}"#,
            br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AAAA"} "#,
            br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AAAA","hash":"00","iv":""}"#,
        ];
        for frame in others {
            assert_eq!(parse(frame), None, "{}", String::from_utf8_lossy(frame));
        }
        // The iv and hash fields, in this order, each optional.
        let both =
            br#"{"type":"SECURE_X","epoch":1,"seq":2,"payload":"AAAA","iv":"AQ==","hash":"0A"}"#;
        let record = parse(both).unwrap();
        assert_eq!((record.iv, record.mac), (vec![1], vec![10]));
        let hash = br#"{"type":"SECURE_X","epoch":0,"seq":0,"payload":"","hash":"ff"}"#;
        assert_eq!(parse(hash).unwrap().mac, vec![255]);
    }

    #[test]
    fn decimals_are_json_integers() {
        assert_eq!(decimal(b"0,"), Some((0, &b","[..])));
        assert_eq!(decimal(b"07"), Some((0, &b"7"[..])));
        assert_eq!(
            decimal(b"18446744073709551615}"),
            Some((u64::MAX, &b"}"[..]))
        );
        assert_eq!(decimal(b"18446744073709551616"), None);
        assert_eq!(decimal(b"-1"), None);
        assert_eq!(decimal(b""), None);
        let mut out = Vec::new();
        for n in [0, 9, 10, 1_234_567_890, u64::MAX] {
            out.clear();
            push_decimal(&mut out, n);
            assert_eq!(out, alloc::format!("{n}").into_bytes());
        }
    }
}
