//! Known answers of the v1 protocol: every entry of
//! `../shared/vectors/seed-v1.json`, read at run time, so that a changed
//! vector makes these tests fail.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use securex::dh::{Group, KeyPair, NamedGroup};
use securex::error::{DhError, RecordError};
use securex::record::V1Protector;
use securex::schedule::V1Secrets;
use securex::suite::{Cipher, CipherSuite, Hash, Mode, Offer};
use securex::wire::{Frame, SecureX};
use serde::Deserialize;

const SEED_V1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/vectors/seed-v1.json"
);

#[derive(Deserialize)]
struct Vectors {
    groups: Vec<GroupVector>,
    frames: HashMap<String, String>,
    records: Vec<RecordVector>,
    suite_choice: Vec<SuiteChoice>,
    ffdhe2048_invalid_public: Vec<InvalidPublic>,
}

#[derive(Deserialize)]
struct GroupVector {
    name: String,
    p_hex: String,
    g: u32,
    q_hex: Option<String>,
    params_b64: String,
    client_private_hex: String,
    client_public_hex: String,
    client_public_key_b64: String,
    epochs: Vec<EpochVector>,
}

#[derive(Deserialize)]
struct EpochVector {
    epoch: u32,
    server_private_hex: String,
    server_public_hex: String,
    server_public_key_b64: String,
    z_hex: String,
    derived_hex: String,
    key_aes128_hex: String,
    key_3des_hex: String,
}

#[derive(Deserialize)]
struct RecordVector {
    group: String,
    epoch: u32,
    suite: String,
    message: String,
    inner: String,
    iv_hex: String,
    ciphertext_hex: String,
    mac_hex: String,
    frame: String,
}

#[derive(Deserialize)]
struct SuiteChoice {
    ciphers: Vec<String>,
    modes: Vec<String>,
    hash: Vec<String>,
    ciphersuite: Option<String>,
}

#[derive(Deserialize)]
struct InvalidPublic {
    y_hex: String,
    why: String,
}

fn vectors() -> Vectors {
    let text = std::fs::read_to_string(SEED_V1).expect("read seed-v1.json");
    serde_json::from_str(&text).expect("parse seed-v1.json")
}

/// Hex of an integer (no leading zeros, possibly odd length) or of bytes.
fn hex(s: &str) -> Vec<u8> {
    let padded = if s.len() % 2 == 1 {
        format!("0{s}")
    } else {
        s.to_owned()
    };
    base16ct::mixed::decode_vec(padded).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn unhex(b: &[u8]) -> String {
    base16ct::lower::encode_string(b)
}

fn b64(s: &str) -> Vec<u8> {
    BASE64.decode(s).expect("vector base64")
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim_end()).expect("vector JSON")
}

/// The group of a vector, decoded from its `params_b64`.
fn group_of(v: &GroupVector) -> Group {
    Group::from_pem(&b64(&v.params_b64), securex::dh::DEFAULT_MAX_GROUP_BITS)
        .unwrap_or_else(|e| panic!("{}: {e}", v.name))
}

/// The v1 secrets of every (group, epoch, cipher), derived from the private
/// values of the vectors (not from their `z_hex`).
fn secrets_by_epoch(v: &Vectors) -> HashMap<(String, u32, Cipher), V1Secrets> {
    let mut out = HashMap::new();
    for gv in &v.groups {
        let group = group_of(gv);
        let client = KeyPair::from_private_bytes(&group, &hex(&gv.client_private_hex)).unwrap();
        for ev in &gv.epochs {
            let server = group
                .public_key_from_bytes(&hex(&ev.server_public_hex))
                .unwrap();
            let z = client.agree(&server).unwrap();
            for &cipher in Cipher::ALL {
                out.insert(
                    (gv.name.clone(), ev.epoch, cipher),
                    V1Secrets::derive(z.dangerously_expose_bytes(), cipher),
                );
            }
        }
    }
    out
}

#[test]
fn groups_encode_and_decode_byte_for_byte() {
    let v = vectors();
    assert_eq!(v.groups.len(), 2);
    for gv in &v.groups {
        let pem = b64(&gv.params_b64);
        let group = group_of(gv);
        assert_eq!(unhex(group.modulus()), gv.p_hex, "{}", gv.name);
        assert_eq!(
            group.generator(),
            [u8::try_from(gv.g).unwrap()],
            "{}",
            gv.name
        );
        assert_eq!(
            group.subgroup_order().map(unhex),
            gv.q_hex.clone(),
            "{}",
            gv.name
        );
        assert_eq!(group.to_pem().as_bytes(), pem, "{}", gv.name);
        assert_eq!(BASE64.encode(group.to_pem()), gv.params_b64, "{}", gv.name);
        match gv.name.as_str() {
            "ffdhe2048" => {
                assert_eq!(group.named_group(), Some(NamedGroup::Ffdhe2048));
                assert_eq!(Group::named(NamedGroup::Ffdhe2048), group);
                assert_eq!(Group::named(NamedGroup::Ffdhe2048).to_pem().as_bytes(), pem);
            }
            _ => assert_eq!(group.named_group(), None, "{}", gv.name),
        }
    }
}

#[test]
fn key_pairs_shared_secrets_and_v1_keys() {
    let v = vectors();
    for gv in &v.groups {
        let group = group_of(gv);
        let client = KeyPair::from_private_bytes(&group, &hex(&gv.client_private_hex)).unwrap();
        assert_eq!(unhex(&client.public_key().to_bytes()), gv.client_public_hex);
        assert_eq!(
            BASE64.encode(client.public_key().to_pem()),
            gv.client_public_key_b64,
            "{}",
            gv.name
        );
        let client_public = group
            .public_key_from_pem(&b64(&gv.client_public_key_b64))
            .unwrap();
        assert_eq!(&client_public, client.public_key());

        assert!(!gv.epochs.is_empty());
        for ev in &gv.epochs {
            let what = format!("{} epoch {}", gv.name, ev.epoch);
            let server = KeyPair::from_private_bytes(&group, &hex(&ev.server_private_hex)).unwrap();
            assert_eq!(
                unhex(&server.public_key().to_bytes()),
                ev.server_public_hex,
                "{what}"
            );
            assert_eq!(
                BASE64.encode(server.public_key().to_pem()),
                ev.server_public_key_b64,
                "{what}"
            );
            let server_public = group
                .public_key_from_pem(&b64(&ev.server_public_key_b64))
                .unwrap();

            let z_client = client.agree(&server_public).unwrap();
            let z_server = server.agree(&client_public).unwrap();
            assert_eq!(
                unhex(z_client.dangerously_expose_bytes()),
                ev.z_hex,
                "{what}"
            );
            assert_eq!(
                z_server.dangerously_expose_bytes(),
                z_client.dangerously_expose_bytes(),
                "{what}"
            );
            assert_eq!(
                z_client.dangerously_expose_bytes().len(),
                group.byte_len(),
                "{what}"
            );

            let aes = V1Secrets::derive(z_client.dangerously_expose_bytes(), Cipher::Aes128);
            let tdes = V1Secrets::derive(z_client.dangerously_expose_bytes(), Cipher::TripleDes);
            assert_eq!(
                unhex(aes.dangerously_expose_derived()),
                ev.derived_hex,
                "{what}"
            );
            assert_eq!(
                unhex(tdes.dangerously_expose_derived()),
                ev.derived_hex,
                "{what}"
            );
            assert_eq!(
                unhex(aes.dangerously_expose_key()),
                ev.key_aes128_hex,
                "{what}"
            );
            assert_eq!(
                unhex(tdes.dangerously_expose_key()),
                ev.key_3des_hex,
                "{what}"
            );
        }
    }
}

#[test]
fn handshake_frames_parse_and_reencode() {
    let v = vectors();
    let adhoc = v.groups.iter().find(|g| g.name == "adhoc-512").unwrap();
    assert_eq!(v.frames.len(), 4);
    for (name, text) in &v.frames {
        let body = text.strip_suffix("\r\n").expect("frames end in CRLF");
        let frame = Frame::decode(body.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let reencoded = frame.encode();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&reencoded).unwrap(),
            json(body),
            "{name}"
        );
        match (name.as_str(), frame) {
            ("algorithms", Frame::Algorithms(a)) => {
                assert_eq!(a.params, adhoc.params_b64);
                assert_eq!(a.public_key, adhoc.client_public_key_b64);
                let offer = Offer::from_wire_names(&a.ciphers, &a.modes, &a.hash);
                assert_eq!(offer, Offer::all());
            }
            ("exchange", Frame::Exchange(e)) => {
                assert_eq!(e.value, adhoc.epochs[0].server_public_key_b64);
                let suite: CipherSuite = e.ciphersuite.parse().unwrap();
                assert_eq!(suite.to_string(), e.ciphersuite);
            }
            ("ok", Frame::Ok) => {}
            ("error", Frame::Error(e)) => assert_eq!(e.message, "See server"),
            (name, frame) => panic!("{name} decoded as {frame:?}"),
        }
    }
}

#[test]
fn records_seal_and_open_exactly() {
    let v = vectors();
    let secrets = secrets_by_epoch(&v);
    assert_eq!(v.records.len(), 64);
    let mut seen = std::collections::HashSet::new();
    for r in &v.records {
        let what = format!("{} epoch {} {} {}", r.group, r.epoch, r.suite, r.message);
        let suite: CipherSuite = r.suite.parse().unwrap();
        seen.insert((r.epoch, suite, r.message.clone()));
        let keys = secrets[&(r.group.clone(), r.epoch, suite.cipher())].clone();
        let protector = V1Protector::new(suite, keys);

        let sealed = protector.seal(&hex(&r.iv_hex), r.inner.as_bytes()).unwrap();
        assert_eq!(unhex(&b64(&sealed.payload)), r.ciphertext_hex, "{what}");
        assert_eq!(sealed.hash, r.mac_hex, "{what}");
        let ours = Frame::SecureX(sealed).encode();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&ours).unwrap(),
            json(&r.frame),
            "{what}"
        );

        let Frame::SecureX(theirs) = Frame::decode(r.frame.trim_end().as_bytes()).unwrap() else {
            panic!("{what}: not SECURE_X");
        };
        assert_eq!(
            protector.open(&theirs).unwrap(),
            r.inner.as_bytes(),
            "{what}"
        );
    }
    // 2 epochs x 8 suites x 4 messages, all distinct.
    assert_eq!(seen.len(), 64);
}

/// Re-encodes a frame with its payload or MAC changed by `edit`.
fn tampered(frame: &SecureX, field: &str, edit: impl Fn(&mut Vec<u8>)) -> SecureX {
    let mut out = frame.clone();
    match field {
        "payload" => {
            let mut c = b64(&frame.payload);
            edit(&mut c);
            out.payload = BASE64.encode(c);
        }
        "hash" => {
            let mut m = hex(&frame.hash);
            edit(&mut m);
            out.hash = unhex(&m);
        }
        "iv" => {
            let mut iv = b64(&frame.iv);
            edit(&mut iv);
            out.iv = BASE64.encode(iv);
        }
        _ => unreachable!(),
    }
    out
}

#[test]
fn a_changed_ciphertext_or_mac_byte_fails_the_mac() {
    let v = vectors();
    let secrets = secrets_by_epoch(&v);
    for r in &v.records {
        let what = format!("{} epoch {} {} {}", r.group, r.epoch, r.suite, r.message);
        let suite: CipherSuite = r.suite.parse().unwrap();
        let protector = V1Protector::new(
            suite,
            secrets[&(r.group.clone(), r.epoch, suite.cipher())].clone(),
        );
        let Frame::SecureX(frame) = Frame::decode(r.frame.trim_end().as_bytes()).unwrap() else {
            panic!("{what}");
        };
        for position in [0, 7, usize::MAX] {
            for field in ["payload", "hash"] {
                let bad = tampered(&frame, field, |bytes| {
                    let i = position.min(bytes.len() - 1);
                    bytes[i] ^= 0x01;
                });
                assert_eq!(
                    protector.open(&bad),
                    Err(RecordError::BadMac),
                    "{what}: {field} byte {position}"
                );
            }
        }
    }
}

/// The v1 MAC does not cover the IV (a weakness of v1, PROTOCOL.md): what a
/// changed IV does depends on the mode.
#[test]
fn a_changed_iv_goes_unnoticed_by_the_v1_mac() {
    let v = vectors();
    let secrets = secrets_by_epoch(&v);
    for r in &v.records {
        let what = format!("{} epoch {} {} {}", r.group, r.epoch, r.suite, r.message);
        let suite: CipherSuite = r.suite.parse().unwrap();
        let protector = V1Protector::new(
            suite,
            secrets[&(r.group.clone(), r.epoch, suite.cipher())].clone(),
        );
        let Frame::SecureX(frame) = Frame::decode(r.frame.trim_end().as_bytes()).unwrap() else {
            panic!("{what}");
        };
        let flip = [0x01u8, 0x20, 0x00, 0x80];
        let bad = tampered(&frame, "iv", |iv| {
            for (b, f) in iv.iter_mut().zip(flip) {
                *b ^= f;
            }
        });
        let inner = r.inner.as_bytes();
        match suite.mode() {
            Mode::Cbc => {
                // Exactly the flipped bits of the first plaintext block.
                let mut expected = inner.to_vec();
                for (b, f) in expected.iter_mut().zip(flip) {
                    *b ^= f;
                }
                assert_eq!(protector.open(&bad).unwrap(), expected, "{what}");
            }
            Mode::Ecb => assert_eq!(protector.open(&bad).unwrap(), inner, "{what}"),
            Mode::Gcm => match protector.open(&bad) {
                // The keystream changes entirely: usually the padding breaks;
                // if it happens to look valid, the message is garbage.
                Err(e) => assert_eq!(e, RecordError::BadPadding, "{what}"),
                Ok(garbled) => {
                    let same = garbled.iter().zip(inner).filter(|(a, b)| a == b).count();
                    assert!(same * 8 < inner.len(), "{what}: {same} bytes unchanged");
                }
            },
            other => panic!("no v1 record in mode {other:?}"),
        }
    }
}

#[test]
fn malformed_record_fields_are_typed_errors() {
    let v = vectors();
    let secrets = secrets_by_epoch(&v);
    let r = &v.records[0];
    let suite: CipherSuite = r.suite.parse().unwrap();
    let protector = V1Protector::new(
        suite,
        secrets[&(r.group.clone(), r.epoch, suite.cipher())].clone(),
    );
    let Frame::SecureX(good) = Frame::decode(r.frame.trim_end().as_bytes()).unwrap() else {
        panic!();
    };
    let with = |f: &dyn Fn(&mut SecureX)| {
        let mut s = good.clone();
        f(&mut s);
        protector.open(&s)
    };
    assert_eq!(
        with(&|s| s.payload.push('!')),
        Err(RecordError::InvalidBase64 { field: "payload" })
    );
    assert_eq!(
        with(&|s| s.iv = "AAA".into()),
        Err(RecordError::InvalidBase64 { field: "iv" })
    );
    assert_eq!(
        with(&|s| s.hash.replace_range(0..1, "g")),
        Err(RecordError::InvalidHex { field: "hash" })
    );
    assert_eq!(
        with(&|s| {
            s.hash.pop();
            s.hash.pop();
        }),
        Err(RecordError::InvalidHex { field: "hash" })
    );
    assert_eq!(
        with(&|s| s.iv = BASE64.encode([0u8; 12])),
        Err(RecordError::InvalidIvLength {
            expected: 16,
            actual: 12
        })
    );
    assert_eq!(
        with(&|s| s.payload = BASE64.encode(&b64(&good.payload)[..20])),
        Err(RecordError::CiphertextLength {
            actual: 20,
            block: 16
        })
    );
    assert_eq!(
        with(&|s| s.payload = String::new()),
        Err(RecordError::CiphertextLength {
            actual: 0,
            block: 16
        })
    );
}

/// A record whose MAC is valid but whose padding is not: the error is
/// `BadPadding`, in every mode.
#[test]
fn bad_padding_under_a_valid_mac_is_refused() {
    let v = vectors();
    let secrets = secrets_by_epoch(&v);
    for suite in CipherSuite::ALL {
        let keys = secrets[&("adhoc-512".to_owned(), 0, suite.cipher())].clone();
        let protector = V1Protector::new(suite, keys);
        let block = suite.cipher().block_len();
        // Seal a message that is a whole number of blocks, then drop the
        // final block of pure padding: the new last byte is message data.
        let inner = vec![b'A'; 2 * block];
        let sealed = protector.seal(&vec![0x42; block], &inner).unwrap();
        let mut c = b64(&sealed.payload);
        c.truncate(2 * block);
        // Recompute the v1 MAC as a sender holding `derived` would.
        let derived =
            secrets[&("adhoc-512".to_owned(), 0, suite.cipher())].dangerously_expose_derived();
        let mut forged = sealed.clone();
        forged.payload = BASE64.encode(&c);
        forged.hash = v1_mac(suite.hash(), &c, derived);
        assert_eq!(
            protector.open(&forged),
            Err(RecordError::BadPadding),
            "{suite}"
        );
    }
}

/// HASH(C ‖ derived), the v1 MAC, in lowercase hex.
fn v1_mac(hash: Hash, c: &[u8], derived: &[u8]) -> String {
    use sha2::Digest;
    match hash {
        Hash::Sha256 => unhex(
            &sha2::Sha256::new()
                .chain_update(c)
                .chain_update(derived)
                .finalize(),
        ),
        Hash::Sha512 => unhex(
            &sha2::Sha512::new()
                .chain_update(c)
                .chain_update(derived)
                .finalize(),
        ),
        other => panic!("no v1 MAC for {other:?}"),
    }
}

#[test]
fn suite_choice_matches_existing_servers() {
    let v = vectors();
    assert_eq!(v.suite_choice.len(), 12);
    for c in &v.suite_choice {
        let offer = Offer::from_wire_names(&c.ciphers, &c.modes, &c.hash);
        let chosen = offer.choose_v1(&Offer::all()).ok().map(|s| s.to_string());
        assert_eq!(
            chosen, c.ciphersuite,
            "{:?} {:?} {:?}",
            c.ciphers, c.modes, c.hash
        );
    }
}

#[test]
fn invalid_ffdhe2048_public_values_are_refused() {
    let v = vectors();
    let group = Group::named(NamedGroup::Ffdhe2048);
    assert_eq!(v.ffdhe2048_invalid_public.len(), 8);
    for bad in &v.ffdhe2048_invalid_public {
        let expected = if bad.why.starts_with("not in the order-q subgroup") {
            DhError::PublicKeyNotInSubgroup
        } else {
            DhError::PublicKeyOutOfRange
        };
        assert_eq!(
            group.public_key_from_bytes(&hex(&bad.y_hex)),
            Err(expected),
            "{}",
            bad.why
        );
    }
}

#[test]
fn debug_output_never_shows_keys() {
    let v = vectors();
    let secrets = secrets_by_epoch(&v);
    for suite in CipherSuite::ALL {
        let keys = secrets[&("adhoc-512".to_owned(), 0, suite.cipher())].clone();
        let derived = unhex(keys.dangerously_expose_derived());
        let key = unhex(keys.dangerously_expose_key());
        let shown = format!("{keys:?} {:?}", V1Protector::new(suite, keys.clone()));
        for secret in [&derived, &key] {
            assert!(!shown.contains(&secret[..8]), "{shown}");
        }
        assert!(shown.contains(&format!("{suite:?}")), "{shown}");
    }
}
