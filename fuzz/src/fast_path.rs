//! The `fast_path` target: the fast record path (`securex::wire::record`)
//! held against the strict parser (serde, `Frame::decode`).
//!
//! Input: `[mode, rest...]`.
//!
//! * `mode & 1 == 0`: `rest` is a frame (without its `\r\n`);
//! * `mode & 1 == 1`: `rest` builds a canonical v2 record frame (epoch, seq,
//!   which optional fields, their bytes), or a v1 one (`payload`, `iv`,
//!   `hash`), then edits its text at one place
//!   (a byte replaced, inserted or deleted), so that the fuzzer lives near
//!   the form the fast path reads;
//! * `mode & 2 == 2`: also seals the bytes of `rest` with
//!   `wire::record::write` and with `V2Sealer::seal` + `Frame::encode`.
//!
//! Checks, besides "never panics":
//!
//! * a frame the fast path reads, the strict parser reads as the same
//!   record (`wire::record::decode_fields` of its fields in v2,
//!   `V1Record::decode` in v1);
//! * a frame the strict parser reads as a record whose fields decode,
//!   written in exactly the form `Frame::encode` writes, the fast path
//!   reads too (so it refuses nothing it should take);
//! * `write` gives the bytes of `seal` + `Frame::encode`, in every suite.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::record::{V1Record, V2DirectionKeys, V2Record, V2Sealer};
use securex::suite::{CipherSuite, Mode};
use securex::wire::record::{decode_fields, parse, parse_v1, write};
use securex::wire::{Frame, Record, SecureX};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        check(rest);
    } else {
        check(&near_canonical(rest));
    }
    if mode & 2 == 2 {
        check_write(mode, rest);
    }
}

/// The strict parser's reading of `frame` as a v2 record, if it is one
/// whose fields decode.
fn strict(frame: &[u8]) -> Option<(Record, V2Record)> {
    match Frame::decode(frame) {
        Ok(Frame::Record(fields)) => {
            let record = decode_fields(&fields).ok()?;
            Some((fields, record))
        }
        _ => None,
    }
}

/// Both parsers on one frame, both versions.
pub fn check(frame: &[u8]) {
    check_v2(frame);
    check_v1(frame);
}

/// The strict parser's reading of `frame` as a v1 record, if it is one
/// whose fields decode.
fn strict_v1(frame: &[u8]) -> Option<(SecureX, V1Record)> {
    match Frame::decode(frame) {
        Ok(Frame::SecureX(fields)) => {
            let record = V1Record::decode(&fields).ok()?;
            Some((fields, record))
        }
        _ => None,
    }
}

fn check_v1(frame: &[u8]) {
    let fast = parse_v1(frame);
    let strict = strict_v1(frame);
    match (&fast, &strict) {
        (Some(fast), Some((_, strict))) => assert_eq!(fast, strict, "the v1 parsers disagree"),
        (Some(_), None) => panic!("the v1 fast path took a frame the strict parser refuses"),
        (None, Some((fields, _))) => assert_ne!(
            Frame::SecureX(fields.clone()).encode(),
            frame,
            "the v1 fast path refused a frame in the form it writes"
        ),
        (None, None) => {}
    }
}

fn check_v2(frame: &[u8]) {
    let fast = parse(frame);
    let strict = strict(frame);
    match (&fast, &strict) {
        (Some(fast), Some((_, strict))) => assert_eq!(fast, strict, "the parsers disagree"),
        (Some(_), None) => panic!("the fast path took a frame the strict parser refuses"),
        (None, Some((fields, _))) => assert_ne!(
            Frame::Record(fields.clone()).encode(),
            frame,
            "the fast path refused a frame in the form it writes"
        ),
        (None, None) => {}
    }
}

/// Takes `n` bytes from the front of `data` (fewer at its end).
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

fn number(data: &mut &[u8], n: usize) -> u64 {
    take(data, n)
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// A canonical record frame from the input's bytes, edited at one place.
fn near_canonical(mut data: &[u8]) -> Vec<u8> {
    let data = &mut data;
    let epoch = u32::try_from(number(data, 4)).expect("four bytes");
    let seq = number(data, 8);
    let flags = number(data, 1);
    let lens = take(data, 3).to_vec();
    let len = |i: usize| lens.get(i).map_or(0, |&b| usize::from(b));
    let ciphertext = take(data, len(0) * 4).to_vec();
    let iv = take(data, len(1) % 24).to_vec();
    let mac = take(data, len(2) % 72).to_vec();
    let record = V2Record {
        epoch,
        seq,
        iv: if flags & 1 == 1 { iv } else { Vec::new() },
        ciphertext,
        mac: if flags & 2 == 2 { mac } else { Vec::new() },
    };
    let mut frame = if flags & 32 == 32 {
        v1_fields_of(&record, flags & 4 == 4)
    } else {
        fields_of(&record, flags & 4 == 4)
    };
    let at = usize::try_from(number(data, 2)).expect("two bytes") % (frame.len() + 1);
    // Half the edits fall among the last few bytes, where the fields end.
    let at = if flags & 64 == 64 {
        frame.len() - at % 8.min(frame.len() + 1)
    } else {
        at
    };
    let byte = u8::try_from(number(data, 1)).expect("one byte");
    match flags >> 3 & 3 {
        0 => {}
        1 if at < frame.len() => frame[at] = byte,
        2 => frame.insert(at, byte),
        _ if at < frame.len() => {
            frame.remove(at);
        }
        _ => {}
    }
    frame
}

/// Hex, in upper case if asked (which the strict parser takes too).
fn hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// The frame `Frame::encode` writes for `record`.
fn fields_of(record: &V2Record, upper: bool) -> Vec<u8> {
    Frame::Record(Record::new(
        record.epoch,
        record.seq,
        base64(&record.ciphertext),
        (!record.iv.is_empty()).then(|| base64(&record.iv)),
        (!record.mac.is_empty()).then(|| hex(&record.mac, upper)),
    ))
    .encode()
}

/// The v1 frame `Frame::encode` writes for the binary fields of `record`.
fn v1_fields_of(record: &V2Record, upper: bool) -> Vec<u8> {
    Frame::SecureX(SecureX {
        payload: base64(&record.ciphertext),
        iv: base64(&record.iv),
        hash: hex(&record.mac, upper),
    })
    .encode()
}

/// Standard padded base64 (std only, so that the regression tests can
/// include this file).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `write` against `seal` + `Frame::encode`, in the suite the input picks.
fn check_write(mode: u8, body: &[u8]) {
    let suite = CipherSuite::ALL[usize::from(mode >> 2) % CipherSuite::ALL.len()];
    let sealer = || {
        let gcm = suite.mode() == Mode::Gcm;
        let keys = V2DirectionKeys::new(
            suite,
            &vec![0x11; suite.cipher().key_len()],
            &vec![0x22; if gcm { 0 } else { suite.hash().output_len() }],
            &vec![0x33; if gcm { 12 } else { 0 }],
        )
        .expect("key lengths of the suite");
        V2Sealer::new(keys, u32::from(mode))
    };
    let (code, body) = body.split_first().unwrap_or((&0, &[]));
    let mut out = Vec::new();
    let mut fast = sealer();
    write(
        &mut out,
        &mut fast,
        &mut ChaCha20Rng::seed_from_u64(7),
        *code,
        body,
    )
    .expect("a fresh sealer seals");
    let record = sealer()
        .seal(
            &mut ChaCha20Rng::seed_from_u64(7),
            &[&[*code][..], body].concat(),
        )
        .expect("a fresh sealer seals");
    assert_eq!(out, fields_of(&record, false), "write and serde differ");
    assert_eq!(parse(&out), Some(record));
}
