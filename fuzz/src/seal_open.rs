//! The `seal_open` target: seals arbitrary messages in one suite of one
//! version through the public record API (`securex::record`), opens them
//! again, and changes one record on the way ([`Input`]).
//!
//! **v2** (`V2DirectionKeys`, `V2Sealer`, `V2Opener`, keys taken from the
//! input):
//!
//! * keys of a wrong length are refused (`InvalidKeyLength`), never a
//!   panic;
//! * records carry the sealer's epoch and seq 0, 1, 2, ... and have the
//!   documented shape (GCM: no IV, no MAC, the tag after the ciphertext;
//!   CBC: an IV of the block and the hash's MAC; ECB: no IV), and the
//!   ciphertext is a whole number of blocks (CBC/ECB);
//! * in order, each opens to exactly its message; the same record again,
//!   the next one too early, or a record of another epoch is refused
//!   (`UnexpectedSequence`, `UnknownEpoch`), and so is **any** change of
//!   the chosen record's epoch, seq, IV, ciphertext or MAC (a change of
//!   the binary fields is always the one `Decrypt`); a refusal leaves the
//!   opener as it was, so the genuine record still opens.
//!
//! **v1** (`V1Secrets::derive` from an input secret, `V1Protector`):
//!
//! * an IV of the wrong length is refused (`InvalidIvLength`);
//! * the MAC is the lowercase hex of HASH(C ‖ derived), computed here
//!   independently with `sha2`;
//! * each record opens to exactly its message;
//! * any change of the ciphertext or of the MAC is refused; a change of
//!   the IV is not (v1's MAC does not cover it): it is checked against
//!   the documented weakness instead (CBC: the same bits of the first
//!   plaintext block flip; ECB: nothing changes; GCM: anything, but no
//!   panic).
//!
//! Bounded: at most [`MAX_MESSAGES`] messages of at most [`MAX_LEN`]
//! bytes.

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::error::RecordError;
use securex::record::{V1Protector, V2DirectionKeys, V2Opener, V2Record, V2Sealer};
use securex::schedule::V1Secrets;
use securex::suite::{CipherSuite, Hash, Mode};
use securex::wire::SecureX;
use sha2::{Digest, Sha256, Sha512};
use std::fmt::Write as _;

/// The most messages one input seals.
pub const MAX_MESSAGES: usize = 8;
/// The longest message sealed, in bytes.
pub const MAX_LEN: usize = 600;

/// Which field of a record changes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Field {
    /// v2 only: the header's epoch.
    Epoch,
    /// v2 only: the header's seq.
    Seq,
    /// The IV.
    Iv,
    /// The ciphertext (GCM: with its tag).
    Ciphertext,
    /// The MAC.
    Mac,
}

/// How it changes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Change {
    /// One bit flips (the byte modulo the length, the bit modulo 8;
    /// numbers: the bit modulo 32 or 64).
    Flip {
        /// Which byte.
        at: u16,
        /// Which bit.
        bit: u8,
    },
    /// The field is cut to `n` bytes (modulo its length); a number
    /// becomes `n`.
    Truncate(u16),
    /// A byte is appended; a number gets it added.
    Append(u8),
}

/// One input of the `seal_open` target.
#[derive(Arbitrary, Debug)]
pub struct Input {
    /// v2 (else v1).
    pub v2: bool,
    /// `CipherSuite::ALL[suite % 8]`.
    pub suite: u8,
    /// v1: the DH shared secret; v2: expanded into the keys.
    pub secret: [u8; 32],
    /// v2: the epoch of the sealer and opener.
    pub epoch: u32,
    /// Seeds the RNG (v2 CBC IVs) and the v1 IVs.
    pub iv_seed: [u8; 16],
    /// The record that is changed (modulo their number).
    pub target: u8,
    /// The field.
    pub field: Field,
    /// The change.
    pub change: Change,
    /// The messages (at most [`MAX_MESSAGES`], each cut to [`MAX_LEN`]).
    pub messages: Vec<Vec<u8>>,
}

/// `n` bytes that depend on every byte of `secret` and on `label`.
fn expand(secret: &[u8; 32], label: u8, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut counter = 0u8;
    while out.len() < n {
        let block = Sha256::new()
            .chain_update([label, counter])
            .chain_update(secret)
            .finalize();
        out.extend_from_slice(&block);
        counter = counter.wrapping_add(1);
    }
    out.truncate(n);
    out
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "`Truncate(n)` on no bytes pushes the low byte of the fuzzer's `n`: any byte will do"
)]
fn change_bytes(bytes: &mut Vec<u8>, change: Change) {
    match change {
        Change::Flip { at, bit } => {
            if bytes.is_empty() {
                bytes.push(1 << (bit % 8));
            } else {
                let at = usize::from(at) % bytes.len();
                bytes[at] ^= 1 << (bit % 8);
            }
        }
        Change::Truncate(n) => {
            if bytes.is_empty() {
                bytes.push(n as u8);
            } else {
                bytes.truncate(usize::from(n) % bytes.len());
            }
        }
        Change::Append(b) => bytes.push(b),
    }
}

fn change_number(value: u64, change: Change, bits: u32) -> u64 {
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    let changed = match change {
        Change::Flip { bit, .. } => value ^ (1 << (u32::from(bit) % bits)),
        Change::Truncate(n) => u64::from(n),
        Change::Append(b) => value.wrapping_add(u64::from(b)),
    };
    changed & mask
}

/// Runs `input`.
pub fn run(input: &Input) {
    let suite = CipherSuite::ALL[usize::from(input.suite % 8)];
    let messages: Vec<&[u8]> = input
        .messages
        .iter()
        .take(MAX_MESSAGES)
        .map(|m| &m[..m.len().min(MAX_LEN)])
        .collect();
    if input.v2 {
        run_v2(input, suite, &messages);
    } else {
        run_v1(input, suite, &messages);
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one scenario read top to bottom: bad key lengths, seal and check each record, then open, edit and replay them"
)]
fn run_v2(input: &Input, suite: CipherSuite, messages: &[&[u8]]) {
    let gcm = suite.mode() == Mode::Gcm;
    let enc = expand(&input.secret, 1, suite.cipher().key_len());
    let mac = expand(
        &input.secret,
        2,
        if gcm { 0 } else { suite.hash().output_len() },
    );
    let iv = expand(&input.secret, 3, if gcm { 12 } else { 0 });
    let keys =
        || V2DirectionKeys::new(suite, &enc, &mac, &iv).expect("keys of the suite's lengths");
    // Wrong lengths are refused, not a panic.
    for (e, m, i) in [
        (&enc[1..], &mac[..], &iv[..]),
        (&enc[..], &[0u8; 20][..], &iv[..]),
        (&enc[..], &mac[..], &[0u8; 16][..]),
    ] {
        assert!(matches!(
            V2DirectionKeys::new(suite, e, m, i),
            Err(RecordError::InvalidKeyLength { .. })
        ));
    }

    let epoch = input.epoch;
    let mut rng = ChaCha20Rng::from_seed(expand_seed(&input.iv_seed));
    let mut sealer = V2Sealer::new(keys(), epoch);
    let mut opener = V2Opener::new(keys(), epoch);
    let mut other_epoch = V2Opener::new(keys(), epoch ^ 1);
    let block = suite.cipher().block_len();
    let records: Vec<V2Record> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let record = sealer.seal(&mut rng, m).expect("seq far from exhausted");
            assert_eq!((record.epoch, record.seq), (epoch, i as u64));
            match suite.mode() {
                Mode::Gcm => {
                    assert!(record.iv.is_empty() && record.mac.is_empty());
                    assert_eq!(record.ciphertext.len(), m.len() + 16);
                }
                Mode::Cbc | Mode::Ecb => {
                    let iv_len = if suite.mode() == Mode::Cbc { block } else { 0 };
                    assert_eq!(record.iv.len(), iv_len);
                    assert_eq!(record.mac.len(), suite.hash().output_len());
                    assert_eq!(record.ciphertext.len(), (m.len() / block + 1) * block);
                }
                other => panic!("a mode this target does not know: {other:?}"),
            }
            record
        })
        .collect();
    assert_eq!(sealer.next_seq(), records.len() as u64);

    let target = (!records.is_empty()).then(|| usize::from(input.target) % records.len());
    for (i, (record, message)) in records.iter().zip(messages).enumerate() {
        let seq = i as u64;
        assert_eq!(
            other_epoch.open(record),
            Err(RecordError::UnknownEpoch(epoch))
        );
        if let Some(next) = records.get(i + 1) {
            assert_eq!(
                opener.open(next),
                Err(RecordError::UnexpectedSequence {
                    expected: seq,
                    got: seq + 1
                }),
                "a record opened too early"
            );
        }
        if target == Some(i) {
            let mut changed = record.clone();
            match input.field {
                Field::Epoch => {
                    changed.epoch =
                        u32::try_from(change_number(u64::from(epoch), input.change, 32))
                            .expect("masked to 32 bits");
                }
                Field::Seq => changed.seq = change_number(seq, input.change, 64),
                Field::Iv => change_bytes(&mut changed.iv, input.change),
                Field::Ciphertext => change_bytes(&mut changed.ciphertext, input.change),
                Field::Mac => change_bytes(&mut changed.mac, input.change),
            }
            if changed != *record {
                let refused = opener.open(&changed);
                let expected = match input.field {
                    Field::Epoch => RecordError::UnknownEpoch(changed.epoch),
                    Field::Seq => RecordError::UnexpectedSequence {
                        expected: seq,
                        got: changed.seq,
                    },
                    _ => RecordError::Decrypt,
                };
                assert_eq!(refused, Err(expected), "a changed record: {changed:?}");
                assert_eq!(opener.next_seq(), seq, "a refusal moved the opener");
            }
        }
        assert_eq!(opener.open(record).as_deref(), Ok(*message), "round trip");
        assert_eq!(
            opener.open(record),
            Err(RecordError::UnexpectedSequence {
                expected: seq + 1,
                got: seq
            }),
            "a replay opened"
        );
    }
    assert_eq!(opener.next_seq(), records.len() as u64);
}

fn expand_seed(seed: &[u8; 16]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(seed);
    out[16..].copy_from_slice(seed);
    out
}

/// HASH(C ‖ derived), the v1 MAC, as lowercase hex.
fn v1_mac(hash: Hash, ciphertext: &[u8], derived: &[u8]) -> String {
    let digest = match hash {
        Hash::Sha256 => Sha256::new()
            .chain_update(ciphertext)
            .chain_update(derived)
            .finalize()
            .to_vec(),
        Hash::Sha512 => Sha512::new()
            .chain_update(ciphertext)
            .chain_update(derived)
            .finalize()
            .to_vec(),
        other => panic!("no v1 MAC for {other:?}"),
    };
    hex(&digest)
}

/// Lowercase hex, as v1 writes MACs (written here without the crate's code).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").expect("writing to a String");
        s
    })
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "each record's IV differs from the seed by the low byte of its index: any byte will do"
)]
fn run_v1(input: &Input, suite: CipherSuite, messages: &[&[u8]]) {
    let secrets = V1Secrets::derive(&input.secret, suite.cipher());
    let derived = *secrets.dangerously_expose_derived();
    let protector = V1Protector::new(suite, secrets);
    let iv_len = protector.iv_len();
    assert_eq!(iv_len, suite.cipher().block_len());
    let block = iv_len;
    let target = (!messages.is_empty()).then(|| usize::from(input.target) % messages.len());
    for (i, message) in messages.iter().enumerate() {
        // Each record its own IV, from the seed.
        let mut iv = input.iv_seed.to_vec();
        iv[0] ^= i as u8;
        let iv = &iv[..iv_len];
        for bad in [&iv[1..], &[0u8; 17][..=iv_len]] {
            assert!(matches!(
                protector.seal(bad, message),
                Err(RecordError::InvalidIvLength { .. })
            ));
        }
        let sealed = protector.seal(iv, message).expect("an IV of the block");
        let ciphertext = BASE64.decode(&sealed.payload).expect("base64 payload");
        assert_eq!(BASE64.decode(&sealed.iv).as_deref(), Ok(iv));
        assert_eq!(ciphertext.len(), (message.len() / block + 1) * block);
        assert_eq!(sealed.hash, v1_mac(suite.hash(), &ciphertext, &derived));
        assert_eq!(
            protector.open(&sealed).as_deref(),
            Ok(*message),
            "round trip"
        );

        if target != Some(i) {
            continue;
        }
        let mut changed = sealed.clone();
        match input.field {
            // v1 records have no header: change the ciphertext instead.
            Field::Epoch | Field::Seq | Field::Ciphertext => {
                let mut c = ciphertext.clone();
                change_bytes(&mut c, input.change);
                changed.payload = BASE64.encode(&c);
            }
            Field::Mac => {
                let mut mac = (0..sealed.hash.len() / 2)
                    .map(|j| u8::from_str_radix(&sealed.hash[2 * j..2 * j + 2], 16).unwrap())
                    .collect::<Vec<u8>>();
                change_bytes(&mut mac, input.change);
                changed.hash = hex(&mac);
            }
            Field::Iv => {
                let mut new_iv = iv.to_vec();
                change_bytes(&mut new_iv, input.change);
                changed.iv = BASE64.encode(&new_iv);
                check_v1_iv_change(&protector, &changed, message, iv, &new_iv);
                continue;
            }
        }
        if changed != sealed {
            assert!(
                protector.open(&changed).is_err(),
                "a v1 record with a changed ciphertext or MAC opened: {changed:?}"
            );
        }
    }
}

/// v1's documented weakness, exactly: the MAC does not cover the IV.
fn check_v1_iv_change(
    protector: &V1Protector,
    changed: &SecureX,
    message: &[u8],
    iv: &[u8],
    new_iv: &[u8],
) {
    let opened = protector.open(changed);
    if new_iv.len() != iv.len() {
        assert!(
            matches!(opened, Err(RecordError::InvalidIvLength { .. })),
            "{opened:?}"
        );
        return;
    }
    match protector.suite().mode() {
        Mode::Ecb => assert_eq!(opened.as_deref(), Ok(message), "ECB uses no IV"),
        Mode::Cbc => {
            let at = (0..iv.len()).find(|&j| iv[j] != new_iv[j]);
            if let Some(at) = at.filter(|&at| at < message.len()) {
                let mut expected = message.to_vec();
                expected[at] ^= iv[at] ^ new_iv[at];
                assert_eq!(opened, Ok(expected), "CBC: the IV flips the first block");
            }
        }
        // Counter mode from GHASH(IV): garbled, or bad padding.
        Mode::Gcm => {}
        other => panic!("a mode this target does not know: {other:?}"),
    }
}

/// Decodes `data` as libFuzzer's typed targets do, then runs it.
pub fn run_bytes(data: &[u8]) {
    super::assert_checked_build();
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        run(&input);
    }
}
