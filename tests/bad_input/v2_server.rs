//! Bad input at a v2 server: every edit of the client's `ALGORITHMS`; bad,
//! forged, replayed, reordered and truncated records; a wrong FINISHED,
//! records before it, records of the wrong epoch; inner messages of the
//! wrong role or of unknown types; REKEY and REKEY_ACK with invalid public
//! values, and a REKEY_ACK never asked for; v2 transfers. Both sides run
//! `Config::default()` (v2 only, AES-128-GCM first) unless a row says
//! otherwise.
//!
//! The client's frames are 0 `ALGORITHMS`, 1 its FINISHED (epoch 0, seq 0),
//! 2 its `OPEN` (seq 1), 3 the next record. Rows that need a record that
//! opens with content no client sends use a forger ([`forge`]) that plays
//! the client with the session's keys.

use sha2::{Digest, Sha256};

use super::forge::{FINISHED, Forger, REKEY, REKEY_ACK, forge, forge_first, forge_rotating};
use super::*;

/// The client offers only AES-128-CBC with HMAC-SHA-256.
fn cbc(c: &mut Config) {
    c.offer = Offer::from_wire_names(&["AES-128"], &["CBC"], &["SHA-256"]);
}

/// The client rotates before its second application record: frame 3 is
/// its REKEY (epoch 0, seq 2), frame 4 its DATA (epoch 1, seq 0).
fn rotates_at_once(c: &mut Config) {
    c.rekey_after_records = Some(1);
}

/// A link hook made afresh for each run.
pub(super) fn hooked(make: impl Fn() -> FrameHook + 'static) -> Attack {
    Attack::Hooked(Rc::new(make))
}

/// The same edit of frame `n`, in a run where the client also sends a
/// chunk (so that it rotates, with [`rotates_at_once`]).
fn with_chunk(attack: Attack) -> Attack {
    let Attack::Rewrite(n, edit) = attack else {
        unreachable!("only edits of a frame")
    };
    hooked(move || {
        let edit = edit.clone();
        Box::new(move |i, f| if i == n { edit(f) } else { vec![f] })
    })
}

/// Edits the decoded payload of frame `n`.
pub(super) fn payload(n: usize, edit: fn(&mut Vec<u8>)) -> Attack {
    rewrite(n, move |o| {
        let mut bytes = B64.decode(o["payload"].as_str().unwrap()).unwrap();
        edit(&mut bytes);
        o.insert("payload".into(), B64.encode(bytes).into());
    })
}

/// Frame `n` twice.
pub(super) fn replayed(n: usize) -> Attack {
    Attack::Rewrite(n, Rc::new(|f: Vec<u8>| vec![f.clone(), f]))
}

/// Frame `n` dropped.
pub(super) fn dropped(n: usize) -> Attack {
    Attack::Rewrite(n, Rc::new(|_| vec![]))
}

/// Frame `n` cut in half.
pub(super) fn cut(n: usize) -> Attack {
    Attack::Rewrite(n, Rc::new(|f: Vec<u8>| vec![f[..f.len() / 2].to_vec()]))
}

/// An ffdhe2048 key pair from a fixed seed.
pub(super) fn static_key(seed: u8) -> KeyPair {
    KeyPair::generate(&ffdhe2048(), &mut ChaCha20Rng::from_seed([seed; 32]))
}

/// The server holds static key 1.
fn holds_key_1(c: &mut Config) {
    c.static_key = Some(securex::config::StaticKey::new(static_key(1)));
}

/// The client pins static key 1.
fn pins_key_1(c: &mut Config) {
    c.server_key = Some(static_key(1).public_key().clone());
}

fn psk(id: &str) -> impl Fn(&mut Config) + 'static {
    let psk = securex::config::Psk::new(id, &[7; 32]);
    move |c| c.psk.clone_from(&psk)
}

/// `inner` of the connection's own type `code`, with `body`.
pub(super) fn own(code: u8, body: &[u8]) -> Vec<u8> {
    [&[code][..], body].concat()
}

/// A v2 upload: `Open(name)`, one `Data` and `Close` with its SHA-256.
fn upload_v2(name: &str, data: &[u8]) -> Attack {
    Attack::Send(vec![
        open(name),
        Message::Data(data.to_vec()),
        Message::Close {
            sha256: Some(Sha256::digest(data).into()),
        },
    ])
}

/// What REKEY or REKEY_ACK carrying the invalid value of an
/// `ffdhe2048_invalid_public` vector must give (a raw value: zero is just
/// out of range).
pub(super) fn invalid_raw_expect(why: &str) -> Expect {
    if why.starts_with("not in the order-q subgroup") {
        fails!(InvalidKey: Error::Dh(DhError::PublicKeyNotInSubgroup))
    } else {
        fails!(InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange))
    }
}

/// The invalid values, padded to the length of p as REKEY carries them.
pub(super) fn invalid_raw_values() -> Vec<(String, Vec<u8>)> {
    invalid_public_values()
        .into_iter()
        .map(|(why, y)| {
            let mut padded = vec![0u8; 256usize.saturating_sub(y.len())];
            padded.extend(y);
            (why, padded)
        })
        .collect()
}

/// Inner type bytes nobody sends: below, between and above the
/// application messages (0x01 to 0x08) and the connection's own (0x10 to
/// 0x12).
pub(super) const UNKNOWN_TYPES: [u8; 7] = [0x00, 0x09, 0x0f, 0x13, 0x20, 0x7f, 0xff];

/// A record whose inner type byte is `code`, unknown.
pub(super) fn unknown_type(code: u8) -> Expect {
    let name = format!("0x{code:02x}");
    fails!(Unsupported: Error::Frame(FrameError::UnknownType(t)) if *t == name)
}

pub(super) fn rotated_once(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::KeyRotated { epoch: 1, .. }))
}

/// Every edit of the v2 `ALGORITHMS`: the server refuses it before it
/// sends its `EXCHANGE`, with a plaintext `ERROR`.
#[allow(
    clippy::too_many_lines,
    reason = "a table: one row per attack, read as a list"
)]
#[allow(
    clippy::similar_names,
    reason = "the names spell out the parameters they hold (`params_q_2`, `params_g_1`, ...)"
)]
#[rustfmt::skip]
fn hello_rows() -> Vec<Case> {
    let vectors = vectors();
    let adhoc = &vectors["groups"][0];
    let adhoc_params = adhoc["params_b64"].as_str().unwrap().to_owned();
    let adhoc_key = adhoc["client_public_key_b64"].as_str().unwrap().to_owned();
    let group = ffdhe2048();
    let (x942, ffdhe_params) = params_der(&group);
    let p = group.modulus().to_vec();
    let p_minus_1 = {
        let mut p = p.clone();
        *p.last_mut().unwrap() -= 1;
        p
    };
    let params_with_q = |q: &[u8]| armor("X9.42 DH PARAMETERS", &der_sequence(&[der_uint(&p), der_uint(&[2]), der_uint(q)]));
    let params_q_p_minus_1 = params_with_q(&p_minus_1);
    let params_q_2 = params_with_q(&[2]);
    let params_g_5 = armor("DH PARAMETERS", &der_sequence(&[der_uint(&p), der_uint(&[5])]));
    let params_g_1 = armor("DH PARAMETERS", &der_sequence(&[der_uint(&p), der_uint(&[1])]));
    let params_trailing = {
        let (_, mut der) = pem_rfc7468::decode_vec(group.to_pem().as_bytes()).unwrap();
        der.extend([0x05, 0x00]);
        armor("X9.42 DH PARAMETERS", &der)
    };
    let ffdhe3072 = Group::named(NamedGroup::Ffdhe3072);
    let ffdhe3072_key = valid_key_pem(&ffdhe3072);
    let key_q_p_minus_1 = {
        let params = der_sequence(&[der_uint(&p), der_uint(&[2]), der_uint(&p_minus_1)]);
        let y = static_key(3).public_key().to_bytes();
        spki_pem_raw(DH_PUBLIC_NUMBER, &params, &der_uint(&y))
    };
    let key_trailing = [der_uint(&[7]), vec![0]].concat();
    let fingerprint = b64(static_key(9).public_key().fingerprint());

    let mut rows = vec![
        // version
        case!(Server "hello: version 3", set_json(0, "version", 3.into())
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 3 })),
        case!(Server "hello: version 1", set_json(0, "version", 1.into())
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        case!(Server "hello: version 0", set_json(0, "version", 0.into())
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 0 })),
        case!(Server "hello: without version, to a v2-only server", remove(0, "version")
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        case!(Server "hello: version null", set_json(0, "version", Value::Null)
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        case!(Server "hello: without any v2 field, to a v2-only server",
            rewrite(0, |o| { for f in ["version", "nonce", "groups"] { o.remove(f); } })
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        case!(Server "hello: version a string", set(0, "version", "2")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: version 2.5", set_json(0, "version", serde_json::json!(2.5))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: version -2", set_json(0, "version", serde_json::json!(-2))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: version 2^32 + 2", set_json(0, "version", serde_json::json!(4_294_967_298u64))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        // nonce
        case!(Server "hello: without nonce", remove(0, "nonce")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "nonce" })),
        case!(Server "hello: nonce not base64", set(0, "nonce", "!!not base64!!")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "nonce" })),
        case!(Server "hello: nonce of 31 bytes", set(0, "nonce", b64([1; 31]))
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "nonce" })),
        case!(Server "hello: nonce of 33 bytes", set(0, "nonce", b64([1; 33]))
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "nonce" })),
        case!(Server "hello: empty nonce", set(0, "nonce", "")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "nonce" })),
        case!(Server "hello: nonce a number", set_json(0, "nonce", 7.into())
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        // groups
        case!(Server "hello: without groups", remove(0, "groups")
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { accepted }) if accepted == "ffdhe2048,ffdhe3072,ffdhe4096"),
        case!(Server "hello: no groups", set_json(0, "groups", serde_json::json!([]))
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Server "hello: an unknown group", set_json(0, "groups", serde_json::json!(["ffdhe1024"]))
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Server "hello: a group name in upper case", set_json(0, "groups", serde_json::json!(["FFDHE2048"]))
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Server "hello: groups naming ffdhe3072 first, params in ffdhe2048",
            set_json(0, "groups", serde_json::json!(["ffdhe3072", "ffdhe2048"]))
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Server "hello: groups a string", set(0, "groups", "ffdhe2048")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: groups of numbers", set_json(0, "groups", serde_json::json!([2048]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: the client's only group is not the server's", Attack::Honest
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { accepted }) if accepted == "ffdhe2048")
            .client_config(|c| c.groups = vec![NamedGroup::Ffdhe4096])
            .server_config(|c| c.groups = vec![NamedGroup::Ffdhe2048]),
        // params
        case!(Server "hello: params in ffdhe3072, groups naming ffdhe2048", set(0, "params", b64(ffdhe3072.to_pem()))
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Server "hello: params of an ad-hoc group", set(0, "params", adhoc_params.clone())
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Server "hello: params with ffdhe2048's p and g = 5 (an ad-hoc group)", set(0, "params", b64(&params_g_5))
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Server "hello: params with ffdhe2048's p, g and q = p - 1", set(0, "params", b64(&params_q_p_minus_1))
            => InvalidKey: Error::Dh(_)),
        case!(Server "hello: params with ffdhe2048's p, g and q = 2", set(0, "params", b64(&params_q_2))
            => InvalidKey: Error::Dh(_)),
        case!(Server "hello: params with g = 1", set(0, "params", b64(&params_g_1))
            => InvalidKey: Error::Dh(DhError::InvalidGroup)),
        case!(Server "hello: params not base64", set(0, "params", "not base64!")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "params" })),
        case!(Server "hello: params base64 of garbage", set(0, "params", b64("garbage"))
            => Malformed: Error::Dh(DhError::Pem)),
        case!(Server "hello: params a PEM of another label", set(0, "params", b64(valid_key_pem(&group)))
            => Malformed: Error::Dh(DhError::UnexpectedLabel(l)) if l == "PUBLIC KEY"),
        case!(Server "hello: params with trailing data", set(0, "params", b64(&params_trailing))
            => Malformed: Error::Dh(DhError::TrailingData)),
        case!(Server "hello: without params", remove(0, "params")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: params over the server's size limit", Attack::Honest
            => LimitExceeded: Error::Dh(DhError::GroupTooLarge { bits: 4096, limit: 3072 }))
            .client_config(|c| c.groups = vec![NamedGroup::Ffdhe4096])
            .server_config(|c| c.max_group_bits = 3072),
        // psk_id
        case!(Server "hello: a psk_id to a server without a PSK", set(0, "psk_id", "a")
            => Policy: Error::Protocol(ProtocolError::PskMismatch)),
        case!(Server "hello: no psk_id to a server with a PSK", Attack::Honest
            => Policy: Error::Protocol(ProtocolError::PskMismatch))
            .server_config(psk("a")),
        case!(Server "hello: another psk_id than the server's", Attack::Honest
            => Policy: Error::Protocol(ProtocolError::PskMismatch))
            .client_config(psk("a"))
            .server_config(psk("b")),
        case!(Server "hello: the psk_id removed on the way", remove(0, "psk_id")
            => Policy: Error::Protocol(ProtocolError::PskMismatch))
            .client_config(psk("a"))
            .server_config(psk("a")),
        case!(Server "hello: an empty psk_id", set(0, "psk_id", "")
            => Policy: Error::Protocol(ProtocolError::PskMismatch))
            .client_config(psk("a"))
            .server_config(psk("a")),
        case!(Server "hello: psk_id a number", set_json(0, "psk_id", 1.into())
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        // server_key
        case!(Server "hello: a server_key to a server without a static key", set(0, "server_key", fingerprint.clone())
            => Policy: Error::Protocol(ProtocolError::UnknownServerKey)),
        case!(Server "hello: a server_key the server does not hold", set(0, "server_key", fingerprint.clone())
            => Policy: Error::Protocol(ProtocolError::UnknownServerKey))
            .server_config(holds_key_1),
        case!(Server "hello: the client pins a key the server does not hold", Attack::Honest
            => Policy: Error::Protocol(ProtocolError::UnknownServerKey))
            .client_config(|c| c.server_key = Some(static_key(2).public_key().clone()))
            .server_config(holds_key_1),
        case!(Server "hello: server_key not base64", set(0, "server_key", "!!")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "server_key" }))
            .client_config(pins_key_1)
            .server_config(holds_key_1),
        case!(Server "hello: server_key a number", set_json(0, "server_key", 1.into())
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: the server's static key is in another group", Attack::Honest
            => Policy: Error::Protocol(ProtocolError::UnknownServerKey))
            .client_config(pins_key_1)
            .server_config(move |c| c.static_key = Some(securex::config::StaticKey::new(
                KeyPair::generate(&Group::named(NamedGroup::Ffdhe3072), &mut ChaCha20Rng::from_seed([1; 32]))))),
        // public_key
        case!(Server "hello: without public_key", remove(0, "public_key")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: public_key not base64", set(0, "public_key", "@@@@")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "ALGORITHMS", field: "public_key" })),
        case!(Server "hello: public_key base64 of garbage", set(0, "public_key", b64("-----BEGIN PUBLIC KEY-----\n!!\n"))
            => Malformed: Error::Dh(DhError::Pem)),
        case!(Server "hello: public_key a JSON array", set_json(0, "public_key", serde_json::json!(["a"]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: public_key in ffdhe3072", set(0, "public_key", b64(&ffdhe3072_key))
            => InvalidKey: Error::Dh(DhError::GroupMismatch)),
        case!(Server "hello: public_key in an ad-hoc group", set(0, "public_key", adhoc_key.clone())
            => InvalidKey: Error::Dh(DhError::GroupMismatch)),
        case!(Server "hello: public_key naming q = p - 1 in its parameters", set(0, "public_key", b64(&key_q_p_minus_1))
            => InvalidKey: Error::Dh(DhError::GroupMismatch)),
        case!(Server "hello: public_key not a DH key (rsaEncryption)",
            set(0, "public_key", b64(spki_pem_raw(RSA_ENCRYPTION, &ffdhe_params, &der_uint(&[5]))))
            => Unsupported: Error::Dh(DhError::UnknownAlgorithm(_))),
        case!(Server "hello: public_key's BIT STRING not an INTEGER",
            set(0, "public_key", b64(spki_pem_raw(x942, &ffdhe_params, &[0x04, 0x01, 0x07])))
            => Malformed: Error::Dh(DhError::Der)),
        case!(Server "hello: public_key with trailing data after y",
            set(0, "public_key", b64(spki_pem_raw(x942, &ffdhe_params, &key_trailing)))
            => Malformed: Error::Dh(DhError::TrailingData)),
        // ciphers, modes, hash
        case!(Server "hello: only unknown ciphers", set_json(0, "ciphers", serde_json::json!(["AES-256", "aes-128"]))
            => Policy: Error::Suite(SuiteError::NoCommonSuite)),
        case!(Server "hello: only 3DES, legacy suites off", set_json(0, "ciphers", serde_json::json!(["3DES"]))
            => Policy: Error::Suite(SuiteError::NoCommonSuite)),
        case!(Server "hello: only ECB, legacy suites off", set_json(0, "modes", serde_json::json!(["ECB"]))
            => Policy: Error::Suite(SuiteError::NoCommonSuite)),
        case!(Server "hello: a legacy client offering only 3DES-CBC", Attack::Honest
            => Policy: Error::Suite(SuiteError::NoCommonSuite))
            .client_config(|c| { c.legacy_suites = true; c.offer = Offer::from_wire_names(&["3DES"], &["CBC"], &["SHA-256"]); }),
        case!(Server "hello: only an unknown hash", set_json(0, "hash", serde_json::json!(["MD5"]))
            => Policy: Error::Suite(SuiteError::NoCommonSuite)),
        case!(Server "hello: no ciphers", set_json(0, "ciphers", serde_json::json!([]))
            => Policy: Error::Suite(SuiteError::NoCommonSuite)),
        case!(Server "hello: no modes", set_json(0, "modes", serde_json::json!([]))
            => Policy: Error::Suite(SuiteError::NoCommonSuite)),
        case!(Server "hello: without ciphers", remove(0, "ciphers")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: without modes", remove(0, "modes")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: without hash", remove(0, "hash")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: ciphers a number", set_json(0, "ciphers", 3.into())
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
        case!(Server "hello: hash a list of numbers", set_json(0, "hash", serde_json::json!([256]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ALGORITHMS", .. })),
    ];
    for (why, y) in invalid_public_values() {
        rows.push(Case::new(
            Role::Server,
            format!("hello: public_key y {why}"),
            set(0, "public_key", b64(spki_pem(&group, &y))),
            invalid_public_expect(&why),
        ));
    }
    rows.into_iter().map(Case::v2).collect()
}

/// Records from a real client, edited on the way: the FINISHED (before
/// which the server says nothing) and the records after it (after which
/// it seals an alert).
#[allow(
    clippy::too_many_lines,
    reason = "a table: one row per attack, read as a list"
)]
#[rustfmt::skip]
fn record_rows() -> Vec<Case> {
    let rows = vec![
        case!(Server "the hello twice", replayed(0)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "ALGORITHMS", .. })),
        // The client's FINISHED.
        case!(Server "FINISHED: a bit of the payload flipped", payload(1, |p| p[0] ^= 0x01)
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "FINISHED: a bit of the tag flipped", payload(1, |p| *p.last_mut().unwrap() ^= 0x80)
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "FINISHED: the payload one byte short", payload(1, |p| { p.pop(); })
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "FINISHED: the payload shorter than a tag", payload(1, |p| p.truncate(15))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "FINISHED: an empty payload", payload(1, Vec::clear)
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "FINISHED: payload not base64", set(1, "payload", "%%%")
            => Malformed: Error::Record(RecordError::InvalidBase64 { field: "payload" })),
        case!(Server "FINISHED: epoch 1", set_json(1, "epoch", 1.into())
            => Crypto: Error::Record(RecordError::UnknownEpoch(1))),
        case!(Server "FINISHED: seq 1", set_json(1, "seq", 1.into())
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 0, got: 1 })),
        case!(Server "FINISHED: without seq", remove(1, "seq")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "FINISHED: a negative epoch", set_json(1, "epoch", serde_json::json!(-1))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "FINISHED: without epoch (a v1 record without its iv and hash)", remove(1, "epoch")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "FINISHED: an iv added to a GCM record", set(1, "iv", b64([0; 16]))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "FINISHED: a hash added to a GCM record", set(1, "hash", "00".repeat(32))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "FINISHED: the frame cut in half", cut(1)
            => Malformed: Error::Frame(FrameError::NotJson)),
        case!(Server "FINISHED dropped: the OPEN comes first", dropped(1)
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 0, got: 1 })),
        case!(Server "FINISHED: HMAC of a CBC record changed", rewrite(1, |o| {
                let mut h = o["hash"].as_str().unwrap().to_owned();
                change_last_digit(&mut h);
                o.insert("hash".into(), h.into());
            })
            => Crypto: Error::Protocol(ProtocolError::BadFinished))
            .client_config(cbc),
        case!(Server "FINISHED replayed", replayed(1)
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 1, got: 0 })),
        // The OPEN, once the client's FINISHED verified.
        case!(Server "OPEN: a bit of the payload flipped", payload(2, |p| p[0] ^= 0x01)
            => Crypto: Error::Record(RecordError::Decrypt)),
        case!(Server "OPEN: the payload one byte short", payload(2, |p| { p.pop(); })
            => Crypto: Error::Record(RecordError::Decrypt)),
        case!(Server "OPEN: an empty payload", payload(2, Vec::clear)
            => Crypto: Error::Record(RecordError::Decrypt)),
        case!(Server "OPEN: a byte appended to the payload", payload(2, |p| p.push(0))
            => Crypto: Error::Record(RecordError::Decrypt)),
        case!(Server "OPEN replayed", replayed(2)
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 2, got: 1 })),
        case!(Server "OPEN: epoch 1 before any rotation", set_json(2, "epoch", 1.into())
            => Crypto: Error::Record(RecordError::UnknownEpoch(1))),
        case!(Server "OPEN: epoch 2^32 - 1", set_json(2, "epoch", u32::MAX.into())
            => Crypto: Error::Record(RecordError::UnknownEpoch(u32::MAX))),
        case!(Server "OPEN: epoch 2^32", set_json(2, "epoch", serde_json::json!(1u64 << 32))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "OPEN: seq 2^64 - 1", set_json(2, "seq", u64::MAX.into())
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 1, got: u64::MAX })),
        case!(Server "OPEN: seq 1.0", set_json(2, "seq", serde_json::json!(1.0))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "OPEN: seq a string", set(2, "seq", "1")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "OPEN: payload a number", set_json(2, "payload", 7.into())
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "OPEN: an iv added to a GCM record", set(2, "iv", b64([0; 16]))
            => Crypto: Error::Record(RecordError::Decrypt)),
        case!(Server "OPEN: a hash added to a GCM record", set(2, "hash", "00".repeat(32))
            => Crypto: Error::Record(RecordError::Decrypt)),
        case!(Server "OPEN: without epoch", remove(2, "epoch")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "OPEN dropped: the DATA comes first", hooked(|| Box::new(|i, f| if i == 2 { vec![] } else { vec![f] }))
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 1, got: 2 })),
        case!(Server "OPEN and DATA swapped", hooked(|| {
                let mut held = None;
                Box::new(move |i, f| match i {
                    2 => { held = Some(f); vec![] }
                    3 => vec![f, held.take().unwrap()],
                    _ => vec![f],
                })
            })
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 1, got: 2 })),
        // CBC records: IV and HMAC.
        case!(Server "CBC: a bit of the IV flipped", rewrite(2, |o| {
                let mut iv = B64.decode(o["iv"].as_str().unwrap()).unwrap();
                iv[0] ^= 1;
                o.insert("iv".into(), B64.encode(iv).into());
            })
            => Crypto: Error::Record(RecordError::Decrypt)).client_config(cbc),
        case!(Server "CBC: a digit of the HMAC changed", rewrite(2, |o| {
                let mut h = o["hash"].as_str().unwrap().to_owned();
                change_last_digit(&mut h);
                o.insert("hash".into(), h.into());
            })
            => Crypto: Error::Record(RecordError::Decrypt)).client_config(cbc),
        case!(Server "CBC: the HMAC one byte short", rewrite(2, |o| {
                let h = o["hash"].as_str().unwrap()[2..].to_owned();
                o.insert("hash".into(), h.into());
            })
            => Crypto: Error::Record(RecordError::Decrypt)).client_config(cbc),
        case!(Server "CBC: hash not hex", set(2, "hash", "zz".repeat(32))
            => Malformed: Error::Record(RecordError::InvalidHex { field: "hash" })).client_config(cbc),
        case!(Server "CBC: iv not base64", set(2, "iv", "%%%")
            => Malformed: Error::Record(RecordError::InvalidBase64 { field: "iv" })).client_config(cbc),
        case!(Server "CBC: without hash", remove(2, "hash")
            => Crypto: Error::Record(RecordError::Decrypt)).client_config(cbc),
        case!(Server "CBC: without iv", remove(2, "iv")
            => Crypto: Error::Record(RecordError::Decrypt)).client_config(cbc),
        case!(Server "CBC: an 8-byte IV", set(2, "iv", b64([0; 8]))
            => Crypto: Error::Record(RecordError::Decrypt)).client_config(cbc),
        case!(Server "CBC: ciphertext not a whole number of blocks", payload(2, |p| { p.pop(); })
            => Crypto: Error::Record(RecordError::Decrypt)).client_config(cbc),
        case!(Server "CBC: without epoch (a v1 record)", remove(2, "epoch")
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "SECURE_X", .. })).client_config(cbc),
        // Rotation: frame 3 is the client's REKEY, frame 4 its DATA in epoch 1.
        case!(Server "REKEY: a bit flipped", with_chunk(payload(3, |p| p[0] ^= 0x01))
            => Crypto: Error::Record(RecordError::Decrypt)).client_config(rotates_at_once),
        case!(Server "REKEY replayed, in the old epoch", with_chunk(replayed(3))
            => Crypto: Error::Record(RecordError::UnknownEpoch(0))).client_config(rotates_at_once),
        case!(Server "an epoch-0 record replayed in epoch 1", hooked(|| {
                let mut open = None;
                Box::new(move |i, f| match i {
                    2 => { open = Some(f.clone()); vec![f] }
                    4 => vec![f, open.take().unwrap()],
                    _ => vec![f],
                })
            })
            => Crypto: Error::Record(RecordError::UnknownEpoch(0))).client_config(rotates_at_once),
        case!(Server "a record of epoch 2 after the first rotation", with_chunk(set_json(4, "epoch", 2.into()))
            => Crypto: Error::Record(RecordError::UnknownEpoch(2))).client_config(rotates_at_once),
        case!(Server "epoch 1 starting at seq 1", with_chunk(set_json(4, "seq", 1.into()))
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 0, got: 1 })).client_config(rotates_at_once),
    ];
    rows.into_iter().map(Case::v2).collect()
}

/// Records that open, from a forger playing the client: before its
/// FINISHED, and after.
#[allow(
    clippy::too_many_lines,
    reason = "a table: one row per attack, read as a list"
)]
#[rustfmt::skip]
fn forged_rows() -> Vec<Case> {
    let forged = |f| Attack::ForgeV2(f);
    let mut rows = vec![
        // The control: a forger that holds the keys is accepted, so the
        // failures below are the records', not the forger's.
        case!(Server "forged: a valid OPEN is accepted", forged(forge(|f| vec![f.app(&open("forged.txt"))]))
            => continues Established, |e| e.contains(&Event::Message(open("forged.txt")))),
        // In place of the FINISHED.
        case!(Server "forged: a FINISHED of zeros", forged(forge_first(|f| vec![f.seal(own(FINISHED, &[0; 32]))]))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "forged: the server's own FINISHED sent back", forged(forge_first(|f| {
                let value = f.receivers_finished_value();
                vec![f.seal(own(FINISHED, &value))]
            }))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "forged: a FINISHED cut to 16 bytes", forged(forge_first(|f| {
                let value = f.finished_value();
                vec![f.seal(own(FINISHED, &value[..16]))]
            }))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "forged: a FINISHED with a byte more", forged(forge_first(|f| {
                let value = [f.finished_value(), vec![0]].concat();
                vec![f.seal(own(FINISHED, &value))]
            }))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "forged: an empty FINISHED", forged(forge_first(|f| vec![f.seal([FINISHED])]))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Server "forged: the FINISHED as seq 1", forged(forge_first(|f| { f.seal([0x04]); vec![f.finished()] }))
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 0, got: 1 })),
        case!(Server "forged: the FINISHED in epoch 1", forged(forge_first(|f| {
                let value = f.finished_value();
                vec![f.edited(own(FINISHED, &value), |r| r.epoch = 1)]
            }))
            => Crypto: Error::Record(RecordError::UnknownEpoch(1))),
        // Records before the FINISHED.
        case!(Server "forged: OPEN before FINISHED", forged(forge_first(|f| vec![f.app(&open("early.txt"))]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "OPEN" })),
        case!(Server "forged: DATA before FINISHED", forged(forge_first(|f| vec![f.app(&Message::Data(vec![1]))]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "DATA" })),
        case!(Server "forged: CLOSE before FINISHED", forged(forge_first(|f| vec![f.app(&Message::Close { sha256: Some([0; 32]) })]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "CLOSE" })),
        case!(Server "forged: OK before FINISHED", forged(forge_first(|f| vec![f.app(&Message::Ok)]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "OK" })),
        // Not the client's word: its keys are not confirmed.
        case!(Server "forged: an alert before FINISHED", forged(forge_first(|f| vec![f.app(&Message::Error { message: "early".into() })]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "ERROR" })),
        // The resume messages, where the handshake agreed no extension.
        case!(Server "forged: RESUME, resume not agreed", forged(forge(|f| vec![f.app(&Message::Resume {
                file_name: "x".into(),
                token: securex::message::ResumeToken::from_bytes([1; 16]),
            })]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "RESUME" })),
        case!(Server "forged: PREFIX, resume not agreed", forged(forge(|f| vec![f.app(&Message::Prefix { sha256: [0; 32] })]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "PREFIX" })),
        case!(Server "forged: REKEY before FINISHED", forged(forge_first(|f| vec![f.rekey()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "REKEY" })),
        case!(Server "forged: REKEY_ACK before FINISHED", forged(forge_first(|f| vec![f.rekey_ack()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "REKEY_ACK" })),
        case!(Server "forged: an empty record before FINISHED", forged(forge_first(|f| vec![f.seal([])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        // After the FINISHED: the wrong role, the wrong type, bad bodies.
        case!(Server "forged: OK from the client", forged(forge(|f| vec![f.app(&Message::Ok)]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "OK" })),
        case!(Server "forged: a second FINISHED", forged(forge(|f| vec![f.finished()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "FINISHED" })),
        case!(Server "forged: an empty record", forged(forge(|f| vec![f.seal([])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Server "forged: OPEN of a name not UTF-8", forged(forge(|f| vec![f.seal([0x01, 0xff, 0xfe])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "OPEN", .. })),
        case!(Server "forged: CLOSE with a 31-byte digest", forged(forge(|f| vec![f.app(&open("a")), f.seal(own(0x03, &[0; 31]))]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "CLOSE", .. })),
        case!(Server "forged: CLOSE with a 33-byte digest", forged(forge(|f| vec![f.app(&open("a")), f.seal(own(0x03, &[0; 33]))]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "CLOSE", .. })),
        case!(Server "forged: CLOSE without a digest", forged(forge(|f| vec![f.app(&open("a")), f.seal([0x03])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "CLOSE", .. })),
        case!(Server "forged: OK with a body", forged(forge(|f| vec![f.seal([0x04, 0x00])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "OK", .. })),
        case!(Server "forged: an alert not UTF-8", forged(forge(|f| vec![f.seal([0x05, 0xc3, 0x28])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ERROR", .. })),
        // The client's own alert: the server does not answer it.
        case!(Server "forged: the client's alert", forged(forge(|f| vec![f.app(&Message::Error { message: "client gave up".into() })]))
            => Peer: Error::Protocol(ProtocolError::PeerError(m)) if m == "client gave up"),
        case!(Server "forged: a record of epoch 1 before any rotation", forged(forge(|f| vec![f.edited([0x02, 1], |r| r.epoch = 1)]))
            => Crypto: Error::Record(RecordError::UnknownEpoch(1))),
        case!(Server "forged: a record skipping a seq", forged(forge(|f| { f.seal([0x02]); vec![f.seal([0x02, 1])] }))
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 1, got: 2 })),
        // Rotations.
        case!(Server "forged: REKEY_ACK never asked for", forged(forge(|f| vec![f.rekey_ack()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "REKEY_ACK" })),
        case!(Server "forged: REKEY_ACK never asked for, of garbage", forged(forge(|f| vec![f.seal(own(REKEY_ACK, b"garbage"))]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "REKEY_ACK" })),
        case!(Server "forged: a second REKEY in the old epoch", forged(forge(|f| { let a = f.rekey(); let y = f.fresh_public(); vec![a, f.seal(own(REKEY, &y))] }))
            => Crypto: Error::Record(RecordError::UnknownEpoch(0))),
        case!(Server "forged: REKEY, then a record of the old epoch", forged(forge(|f| { let a = f.rekey(); vec![a, f.app(&Message::Data(vec![1]))] }))
            => Crypto: Error::Record(RecordError::UnknownEpoch(0))),
        case!(Server "forged: REKEY of an empty value", forged(forge(|f| vec![f.seal([REKEY])]))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Server "forged: REKEY of 257 bytes", forged(forge(|f| vec![f.seal(own(REKEY, &[1; 257]))]))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Server "forged: REKEY of 256 bytes 0xff", forged(forge(|f| vec![f.seal(own(REKEY, &[0xff; 256]))]))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Server "forged: REKEY_ACK of y = 1 while the server rotates", forged(forge_rotating(|f| {
                let y = f.padded(&[1]);
                vec![f.seal(own(REKEY_ACK, &y))]
            }))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Server "forged: REKEY_ACK of y = p while the server rotates", forged(forge_rotating(|f| {
                let p = f.p();
                vec![f.seal(own(REKEY_ACK, &p))]
            }))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Server "forged: an empty REKEY_ACK while the server rotates", forged(forge_rotating(|f| vec![f.seal([REKEY_ACK])]))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Server "forged: REKEY_ACK twice", forged(forge_rotating(|f| { let a = f.rekey_ack(); let y = f.fresh_public(); vec![a, f.seal(own(REKEY_ACK, &y))] }))
            => Crypto: Error::Record(RecordError::UnknownEpoch(0))),
        // What the protocol allows while the server rotates.
        case!(Server "forged: REKEY_ACK while the server rotates", forged(forge_rotating(|f| vec![f.rekey_ack()]))
            => continues Established, rotated_once),
        case!(Server "forged: a crossing REKEY (the client's wins)", forged(forge_rotating(|f| vec![f.rekey()]))
            => continues Established, rotated_once),
        case!(Server "forged: OPEN in the old epoch while the server rotates", forged(forge_rotating(|f| vec![f.app(&open("during.txt"))]))
            => continues Rotating, |e| e.contains(&Event::Message(open("during.txt")))),
    ];
    for code in UNKNOWN_TYPES {
        rows.push(Case::new(
            Role::Server,
            format!("forged: inner type 0x{code:02x} before FINISHED"),
            forged(forge_first(move |f| vec![f.seal([code, 1, 2, 3])])),
            unknown_type(code),
        ));
        rows.push(Case::new(
            Role::Server,
            format!("forged: inner type 0x{code:02x}"),
            forged(forge(move |f| vec![f.seal([code])])),
            unknown_type(code),
        ));
    }
    for (why, y) in invalid_raw_values() {
        rows.push(Case::new(
            Role::Server,
            format!("forged: REKEY of y {why}"),
            forged(forge_value(REKEY, &y, false)),
            invalid_raw_expect(&why),
        ));
        rows.push(Case::new(
            Role::Server,
            format!("forged: REKEY_ACK of y {why} while the server rotates"),
            forged(forge_value(REKEY_ACK, &y, true)),
            invalid_raw_expect(&why),
        ));
    }
    rows.into_iter().map(Case::v2).collect()
}

/// A valid FINISHED, then (once the receiver rotates, if `rotating`) a
/// `code` record carrying `value`.
pub(super) fn forge_value(code: u8, value: &[u8], rotating: bool) -> super::forge::Forge {
    let inner = own(code, value);
    let then = move |f: &mut Forger| vec![f.seal(&inner)];
    if rotating {
        forge_rotating(then)
    } else {
        forge(then)
    }
}

/// v2 file transfers: refused or confined to the store.
#[rustfmt::skip]
fn transfer_rows() -> Vec<Case> {
    let rows = vec![
        case!(Server "v2: CLOSE with the SHA-256 of other data", send(vec![
                open("d.txt"),
                Message::Data(b"what arrived".to_vec()),
                Message::Close { sha256: Some(Sha256::digest(b"what was read").into()) },
            ])
            => refused TransferError::DigestMismatch, keeps ["d.txt.partial"]),
        case!(Server "v2: OPEN twice", send(vec![open("a.txt"), open("b.txt")])
            => refused TransferError::UnexpectedMessage { expected: "DATA or CLOSE", got: "OPEN" },
                keeps ["a.txt.partial"]),
        case!(Server "v2: DATA before OPEN", send(vec![Message::Data(b"x".to_vec())])
            => refused TransferError::UnexpectedMessage { expected: "OPEN", got: "DATA" }, keeps []),
        case!(Server "v2: OPEN \"..\"", upload_v2("..", b"x")
            => refused TransferError::BadFileName(n) if n == "..", keeps []),
        case!(Server "v2: OPEN \"../../x\"", upload_v2("../../x", b"x") => stored "x"),
        case!(Server "v2: OPEN of an absolute path into the scratch directory", upload_v2("{root}/outer/abs.txt", b"abs")
            => stored "abs.txt"),
        case!(Server "v2: OPEN \"/etc/passwd\"", upload_v2("/etc/passwd", b"root::0:0::/:\n") => stored "passwd"),
    ];
    rows.into_iter().map(Case::v2).collect()
}

#[test]
fn v2_bad_hellos_at_the_server() {
    run_table(&hello_rows());
}

#[test]
fn v2_bad_records_at_the_server() {
    run_table(&record_rows());
}

#[test]
fn v2_forged_records_at_the_server() {
    run_table(&forged_rows());
}

#[test]
fn v2_bad_transfers_are_refused_or_confined_to_the_store() {
    run_table(&transfer_rows());
}
