//! Bad input at a client, v1 and v2: every edit of `EXCHANGE` (a suite not
//! offered, a legacy suite when legacy suites are off, the group, the
//! nonce, the public value, missing fields, the version), a wrong server
//! FINISHED, records out of turn, plaintext `OK` and `ERROR` where v2 has
//! none, inner messages of the wrong role or of unknown types, REKEY and
//! REKEY_ACK with invalid public values.
//!
//! The server's frames are 0 `EXCHANGE`, (v2) 1 its FINISHED, then its
//! `OK` to the client's `OPEN` (frame 1 in v1, 2 in v2). Rows that need
//! records that open with content no server sends use a forger
//! ([`forge`]) that plays the server with its own key share: v2 without
//! authentication cannot tell it from the real one.

use std::rc::Rc;

use super::forge::{
    FINISHED, REKEY, REKEY_ACK, forge, forge_exchange, forge_first, forge_rotating,
};
use super::v2_server::{
    UNKNOWN_TYPES, cut, forge_value, invalid_raw_expect, invalid_raw_values, own, payload,
    replayed, rotated_once, static_key, unknown_type,
};
use super::*;

/// The client offers only AES-128-GCM with SHA-256.
fn gcm_sha256(c: &mut Config) {
    c.offer = Offer::from_wire_names(&["AES-128"], &["GCM"], &["SHA-256"]);
}

/// A v2 client that falls back to v1, with every suite in its
/// configuration but legacy suites off: its v2 hello offers neither 3DES
/// nor ECB.
fn fallback(c: &mut Config) {
    c.versions = vec![Version::V2, Version::V1];
    c.legacy_suites = false;
    c.offer = Offer::all();
}

/// A server that speaks only v1 (it answers a v2 hello in v1).
fn v1_only(c: &mut Config) {
    *c = Config::seed_compatible();
    crate::common::without_rotation_limits(c);
    c.versions = vec![Version::V1];
}

/// Edits of a key's PEM that must be refused wherever a client reads one
/// (`EXCHANGE`'s `value`): (what, the base64 of the PEM, expected).
fn bad_keys() -> Vec<(&'static str, String, Expect)> {
    let vectors = vectors();
    let adhoc_key = vectors["groups"][0]["client_public_key_b64"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = ffdhe2048();
    let (x942, params) = params_der(&group);
    let p = group.modulus().to_vec();
    let mut p_minus_1 = p.clone();
    *p_minus_1.last_mut().unwrap() -= 1;
    let q_p_minus_1 = der_sequence(&[der_uint(&p), der_uint(&[2]), der_uint(&p_minus_1)]);
    let y = static_key(4).public_key().to_bytes();
    vec![
        (
            "a key in ffdhe3072",
            b64(valid_key_pem(&Group::named(NamedGroup::Ffdhe3072))),
            fails!(InvalidKey: Error::Dh(DhError::GroupMismatch)),
        ),
        (
            "a key in an ad-hoc group",
            adhoc_key,
            fails!(InvalidKey: Error::Dh(DhError::GroupMismatch)),
        ),
        (
            "a key naming q = p - 1",
            b64(spki_pem_raw(DH_PUBLIC_NUMBER, &q_p_minus_1, &der_uint(&y))),
            fails!(InvalidKey: Error::Dh(DhError::GroupMismatch)),
        ),
        (
            "not a DH key (rsaEncryption)",
            b64(spki_pem_raw(RSA_ENCRYPTION, &params, &der_uint(&[5]))),
            fails!(Unsupported: Error::Dh(DhError::UnknownAlgorithm(_))),
        ),
        (
            "trailing data after y",
            b64(spki_pem_raw(
                x942,
                &params,
                &[der_uint(&[7]), vec![0]].concat(),
            )),
            fails!(Malformed: Error::Dh(DhError::TrailingData)),
        ),
        (
            "a BIT STRING not an INTEGER",
            b64(spki_pem_raw(x942, &params, &[0x04, 0x01, 0x07])),
            fails!(Malformed: Error::Dh(DhError::Der)),
        ),
        (
            "a PEM of another label",
            b64(group.to_pem()),
            fails!(Malformed: Error::Dh(DhError::UnexpectedLabel(_))),
        ),
    ]
}

/// v1: the server's plaintext frames.
#[rustfmt::skip]
fn v1_rows() -> Vec<Case> {
    let group = ffdhe2048();
    let mut rows = vec![
        case!(Client "v1: EXCHANGE with version 2", set_json(0, "version", 2.into())
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 2 })),
        case!(Client "v1: EXCHANGE with version 3", set_json(0, "version", 3.into())
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 3 })),
        case!(Client "v1: EXCHANGE with version a string", set(0, "version", "2")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        case!(Client "v1: EXCHANGE without ciphersuite", remove(0, "ciphersuite")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        case!(Client "v1: EXCHANGE with ciphersuite a number", set_json(0, "ciphersuite", 1.into())
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        case!(Client "v1: EXCHANGE value a list", set_json(0, "value", serde_json::json!([])) 
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        case!(Client "v1: EXCHANGE twice", replayed(0)
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "EXCHANGE", .. })),
        case!(Client "v1: the answer to OPEN twice, then an EXCHANGE", Attack::Rewrite(1, Rc::new(|f: Vec<u8>| vec![f.clone(), f, br#"{"type":"EXCHANGE","value":"","ciphersuite":""}"#.to_vec()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "EXCHANGE", .. })),
        case!(Client "v1: EXCHANGE in lower case, with a suite not offered", rewrite(0, |o| {
                o.insert("type".into(), "exchange".into());
                o.insert("ciphersuite".into(), "DH;3DES;ECB;SHA-512".into());
            })
            => Policy: Error::Suite(SuiteError::NotOffered(_)))
            .client_config(|c| c.offer = Offer::from_wire_names(&["AES-128"], &["CBC"], &["SHA-256"])),
        // A rotation's EXCHANGE is checked like the first.
        case!(Client "v1 rotation: EXCHANGE with version 2", in_rotation(set_json(0, "version", 2.into()))
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 2 })),
        case!(Client "v1 rotation: EXCHANGE without value", in_rotation(remove(0, "value"))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        case!(Client "v1 rotation: EXCHANGE naming an unknown cipher", in_rotation(set(0, "ciphersuite", "DH;AES-256;CBC;SHA-256"))
            => Unsupported: Error::Suite(SuiteError::UnknownName { kind: "cipher", .. })),
        case!(Client "v1 rotation: EXCHANGE value in ffdhe3072",
            in_rotation(set(0, "value", b64(valid_key_pem(&Group::named(NamedGroup::Ffdhe3072)))))
            => InvalidKey: Error::Dh(DhError::GroupMismatch)),
        // A v2 client that fell back to v1 accepts only what its hello
        // offered: no legacy suite.
        case!(Client "fallback: a v1 EXCHANGE naming 3DES-CBC, never offered", set(0, "ciphersuite", "DH;3DES;CBC;SHA-256")
            => Policy: Error::Suite(SuiteError::NotOffered(s)) if s == "DH;3DES;CBC;SHA-256")
            .client_config(fallback).server_config(v1_only),
        case!(Client "fallback: a v1 EXCHANGE naming 3DES-ECB, never offered", set(0, "ciphersuite", "DH;3DES;ECB;SHA-512")
            => Policy: Error::Suite(SuiteError::NotOffered(s)) if s == "DH;3DES;ECB;SHA-512")
            .client_config(fallback).server_config(v1_only),
        case!(Client "fallback: a v1 EXCHANGE naming AES-128-ECB", set(0, "ciphersuite", "DH;AES-128;ECB;SHA-256")
            => Unsupported: Error::Suite(SuiteError::InvalidPair { cipher: Cipher::Aes128, mode: Mode::Ecb }))
            .client_config(fallback).server_config(v1_only),
        case!(Client "fallback: a v1 EXCHANGE value of y = 1", set(0, "value", b64(spki_pem(&group, &[1])))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange))
            .client_config(fallback).server_config(v1_only),
        // Authentication rules v1 out, whatever `versions` says.
        case!(Client "a client with a PSK gets a v1 EXCHANGE", Attack::Honest
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 }))
            .client_config(|c| { fallback(c); c.psk = securex::config::Psk::new("a", &[7; 32]); })
            .server_config(v1_only),
        case!(Client "a client pinning a key gets a v1 EXCHANGE", Attack::Honest
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 }))
            .client_config(|c| { fallback(c); c.server_key = Some(static_key(1).public_key().clone()); })
            .server_config(v1_only),
    ];
    for (what, key, expect) in bad_keys() {
        rows.push(Case::new(Role::Client, format!("v1: EXCHANGE value {what}"), set(0, "value", key), expect));
    }
    rows
}

/// v2: the `EXCHANGE` and records of a real server, edited on the way.
#[allow(
    clippy::too_many_lines,
    reason = "a table: one row per attack, read as a list"
)]
#[rustfmt::skip]
fn v2_rows() -> Vec<Case> {
    let group = ffdhe2048();
    let mut rows = vec![
        // The choice of suite.
        case!(Client "v2: EXCHANGE naming a suite not offered", set(0, "ciphersuite", "DH;AES-128;CBC;SHA-256")
            => Policy: Error::Suite(SuiteError::NotOffered(s)) if s == "DH;AES-128;CBC;SHA-256")
            .client_config(gcm_sha256),
        case!(Client "v2: EXCHANGE naming 3DES, legacy suites off", set(0, "ciphersuite", "DH;3DES;CBC;SHA-256")
            => Policy: Error::Suite(SuiteError::NotOffered(_)))
            .client_config(|c| c.offer = Offer::all()),
        case!(Client "v2: EXCHANGE naming 3DES-ECB, legacy suites off", set(0, "ciphersuite", "DH;3DES;ECB;SHA-256")
            => Policy: Error::Suite(SuiteError::NotOffered(_)))
            .client_config(|c| c.offer = Offer::all()),
        case!(Client "v2: EXCHANGE naming an unknown cipher", set(0, "ciphersuite", "DH;AES-256;GCM;SHA-256")
            => Unsupported: Error::Suite(SuiteError::UnknownName { kind: "cipher", .. })),
        case!(Client "v2: EXCHANGE naming an unknown mode", set(0, "ciphersuite", "DH;AES-128;CCM;SHA-256")
            => Unsupported: Error::Suite(SuiteError::UnknownName { kind: "mode", .. })),
        case!(Client "v2: EXCHANGE naming an unknown hash", set(0, "ciphersuite", "DH;AES-128;GCM;SHA-1")
            => Unsupported: Error::Suite(SuiteError::UnknownName { kind: "hash", .. })),
        case!(Client "v2: EXCHANGE naming an invalid pair", set(0, "ciphersuite", "DH;AES-128;ECB;SHA-256")
            => Unsupported: Error::Suite(SuiteError::InvalidPair { .. })),
        case!(Client "v2: EXCHANGE with a malformed suite", set(0, "ciphersuite", "AES-128;GCM;SHA-256")
            => Malformed: Error::Suite(SuiteError::Malformed(_))),
        case!(Client "v2: EXCHANGE with an empty suite", set(0, "ciphersuite", "")
            => Malformed: Error::Suite(SuiteError::Malformed(_))),
        case!(Client "v2: EXCHANGE without ciphersuite", remove(0, "ciphersuite")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        // The group.
        case!(Client "v2: EXCHANGE in another group than the client's share", set(0, "group", "ffdhe3072")
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Client "v2: EXCHANGE without group", remove(0, "group")
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Client "v2: EXCHANGE group in upper case", set(0, "group", "FFDHE2048")
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Client "v2: EXCHANGE group a number", set_json(0, "group", 2048.into())
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        // The nonce.
        case!(Client "v2: EXCHANGE without nonce", remove(0, "nonce")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "EXCHANGE", field: "nonce" })),
        case!(Client "v2: EXCHANGE nonce of 31 bytes", set(0, "nonce", b64([3; 31]))
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "EXCHANGE", field: "nonce" })),
        case!(Client "v2: EXCHANGE nonce of 64 bytes", set(0, "nonce", b64([3; 64]))
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "EXCHANGE", field: "nonce" })),
        case!(Client "v2: EXCHANGE nonce not base64", set(0, "nonce", "**")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "EXCHANGE", field: "nonce" })),
        case!(Client "v2: EXCHANGE nonce a number", set_json(0, "nonce", 1.into())
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        // The public value.
        case!(Client "v2: EXCHANGE without value", remove(0, "value")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        case!(Client "v2: EXCHANGE value not base64", set(0, "value", "***")
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "EXCHANGE", field: "value" })),
        case!(Client "v2: EXCHANGE value base64 of garbage", set(0, "value", b64("garbage"))
            => Malformed: Error::Dh(DhError::Pem)),
        // The version.
        case!(Client "v2: EXCHANGE without version, to a v2-only client", remove(0, "version")
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        case!(Client "v2: EXCHANGE version null", set_json(0, "version", Value::Null)
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        case!(Client "v2: EXCHANGE version 1", set_json(0, "version", 1.into())
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        case!(Client "v2: EXCHANGE version 3", set_json(0, "version", 3.into())
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 3 })),
        case!(Client "v2: EXCHANGE version a string", set(0, "version", "2")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "EXCHANGE", .. })),
        case!(Client "v2: a v1 EXCHANGE (no v2 field) to a v2-only client",
            rewrite(0, |o| { for f in ["version", "nonce", "group"] { o.remove(f); } })
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        // The server refuses in plaintext before its EXCHANGE: its word.
        case!(Client "v2: the server's real refusal (its groups)", Attack::Honest
            => Peer: Error::Protocol(ProtocolError::PeerError(m)) if m.contains("accepted groups: ffdhe2048"))
            .client_config(|c| c.groups = vec![NamedGroup::Ffdhe3072])
            .server_config(|c| c.groups = vec![NamedGroup::Ffdhe2048]),
        // After the EXCHANGE a plaintext ERROR is someone else's.
        case!(Client "v2: a plaintext ERROR after the EXCHANGE", Attack::Rewrite(0, Rc::new(|f: Vec<u8>| vec![f, br#"{"type":"ERROR","message":"not the server"}"#.to_vec()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "ERROR", .. })),
        case!(Client "v2: a plaintext OK after the EXCHANGE", Attack::Rewrite(0, Rc::new(|f: Vec<u8>| vec![f, br#"{"type":"OK"}"#.to_vec()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "OK", .. })),
        case!(Client "v2: a plaintext OK in place of the answer to OPEN", Attack::Rewrite(2, Rc::new(|_| vec![br#"{"type":"OK"}"#.to_vec()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "OK", .. })),
        case!(Client "v2: a plaintext ERROR in place of the answer to OPEN", Attack::Rewrite(2, Rc::new(|_| vec![br#"{"type":"ERROR","message":"See server"}"#.to_vec()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "ERROR", .. })),
        // The server's FINISHED.
        case!(Client "v2: server FINISHED: a bit flipped", payload(1, |p| p[0] ^= 0x01)
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Client "v2: server FINISHED: one byte short", payload(1, |p| { p.pop(); })
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Client "v2: server FINISHED: an empty payload", payload(1, Vec::clear)
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Client "v2: server FINISHED: epoch 1", set_json(1, "epoch", 1.into())
            => Crypto: Error::Record(RecordError::UnknownEpoch(1))),
        case!(Client "v2: server FINISHED: seq 1", set_json(1, "seq", 1.into())
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 0, got: 1 })),
        case!(Client "v2: server FINISHED: payload not base64", set(1, "payload", "%%")
            => Malformed: Error::Record(RecordError::InvalidBase64 { field: "payload" })),
        case!(Client "v2: server FINISHED: without seq", remove(1, "seq")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Client "v2: server FINISHED: cut in half", cut(1)
            => Malformed: Error::Frame(FrameError::NotJson)),
        case!(Client "v2: server FINISHED: a v1 record in its place", Attack::Rewrite(1, Rc::new(|_| vec![br#"{"type":"SECURE_X","payload":"AAAA","iv":"AAAA","hash":"00"}"#.to_vec()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "SECURE_X", .. })),
        case!(Client "v2: server FINISHED replayed", replayed(1)
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 1, got: 0 })),
        // The server's OK to OPEN.
        case!(Client "v2: OK: a bit flipped", payload(2, |p| p[0] ^= 0x01)
            => Crypto: Error::Record(RecordError::Decrypt)),
        case!(Client "v2: OK: an empty payload", payload(2, Vec::clear)
            => Crypto: Error::Record(RecordError::Decrypt)),
        case!(Client "v2: OK replayed", replayed(2)
            => Crypto: Error::Record(RecordError::UnexpectedSequence { expected: 2, got: 1 })),
        case!(Client "v2: OK in epoch 1", set_json(2, "epoch", 1.into())
            => Crypto: Error::Record(RecordError::UnknownEpoch(1))),
        case!(Client "v2: OK with an iv added", set(2, "iv", b64([0; 16]))
            => Crypto: Error::Record(RecordError::Decrypt)),
        case!(Client "v2: OK without epoch", remove(2, "epoch")
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
    ];
    for (what, key, expect) in bad_keys() {
        rows.push(Case::new(Role::Client, format!("v2: EXCHANGE value {what}"), set(0, "value", key), expect));
    }
    for (why, y) in invalid_public_values() {
        rows.push(Case::new(
            Role::Client,
            format!("v2: EXCHANGE value y {why}"),
            set(0, "value", b64(spki_pem(&group, &y))),
            invalid_public_expect(&why),
        ));
    }
    rows.into_iter().map(Case::v2).collect()
}

/// v2: records that open, from a forger playing the server.
#[allow(
    clippy::too_many_lines,
    reason = "a table: one row per attack, read as a list"
)]
#[rustfmt::skip]
fn forged_rows() -> Vec<Case> {
    let forged = |f| Attack::ForgeV2(f);
    let plaintext = |frame: &'static str| move |_: &mut super::forge::Forger| vec![frame.as_bytes().to_vec()];
    let mut rows = vec![
        // The control: without authentication, an impostor that answers
        // with its own key share is accepted (see tests/mitm.rs).
        case!(Client "impostor: its EXCHANGE and FINISHED are accepted", forged(forge(|f| vec![f.app(&Message::Ok)]))
            => continues Established, |e| e.contains(&Event::Message(Message::Ok))),
        // Its EXCHANGE, consistent with its FINISHED: only the client's own
        // checks stop it.
        case!(Client "impostor: a suite not offered", forged(forge_exchange(|o| { o.insert("ciphersuite".into(), "DH;AES-128;CBC;SHA-256".into()); }))
            => Policy: Error::Suite(SuiteError::NotOffered(_)))
            .client_config(gcm_sha256),
        case!(Client "impostor: 3DES, legacy suites off", forged(forge_exchange(|o| { o.insert("ciphersuite".into(), "DH;3DES;CBC;SHA-256".into()); }))
            => Policy: Error::Suite(SuiteError::NotOffered(_)))
            .client_config(|c| c.offer = Offer::all()),
        case!(Client "impostor: another group", forged(forge_exchange(|o| { o.insert("group".into(), "ffdhe4096".into()); }))
            => Policy: Error::Protocol(ProtocolError::GroupNotAccepted { .. })),
        case!(Client "impostor: a nonce of 16 bytes", forged(forge_exchange(|o| { o.insert("nonce".into(), b64([1; 16]).into()); }))
            => Malformed: Error::Protocol(ProtocolError::InvalidBase64 { frame: "EXCHANGE", field: "nonce" })),
        case!(Client "impostor: value y = p - 1", forged(forge_exchange(|o| {
                let mut p = ffdhe2048().modulus().to_vec();
                *p.last_mut().unwrap() -= 1;
                o.insert("value".into(), b64(spki_pem(&ffdhe2048(), &p)).into());
            }))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Client "impostor: no version", forged(forge_exchange(|o| { o.remove("version"); }))
            => Policy: Error::Protocol(ProtocolError::VersionRefused { version: 1 })),
        // A wrong FINISHED, and records before it.
        case!(Client "impostor: a FINISHED of zeros", forged(forge_first(|f| vec![f.seal(own(FINISHED, &[0; 32]))]))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Client "impostor: the client's own FINISHED sent back", forged(forge_first(|f| {
                let value = f.receivers_finished_value();
                vec![f.seal(own(FINISHED, &value))]
            }))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Client "impostor: an empty FINISHED", forged(forge_first(|f| vec![f.seal([FINISHED])]))
            => Crypto: Error::Protocol(ProtocolError::BadFinished)),
        case!(Client "impostor: a FINISHED of the right value in epoch 1", forged(forge_first(|f| {
                let value = f.finished_value();
                vec![f.edited(own(FINISHED, &value), |r| r.epoch = 1)]
            }))
            => Crypto: Error::Record(RecordError::UnknownEpoch(1))),
        case!(Client "impostor: OK before FINISHED", forged(forge_first(|f| vec![f.app(&Message::Ok)]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "OK" })),
        case!(Client "impostor: an alert before FINISHED", forged(forge_first(|f| vec![f.app(&Message::Error { message: "early".into() })]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "ERROR" })),
        case!(Client "impostor: OPEN before FINISHED", forged(forge_first(|f| vec![f.app(&open("x"))]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "OPEN" })),
        case!(Client "impostor: REKEY before FINISHED", forged(forge_first(|f| vec![f.rekey()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "REKEY" })),
        case!(Client "impostor: REKEY_ACK before FINISHED", forged(forge_first(|f| vec![f.rekey_ack()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "REKEY_ACK" })),
        case!(Client "impostor: an empty record before FINISHED", forged(forge_first(|f| vec![f.seal([])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Client "impostor: a plaintext ERROR after its EXCHANGE", forged(forge_first(plaintext(r#"{"type":"ERROR","message":"no"}"#)))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "ERROR", .. })),
        case!(Client "impostor: a plaintext OK after its EXCHANGE", forged(forge_first(plaintext(r#"{"type":"OK"}"#)))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "OK", .. })),
        // After FINISHED: the wrong role, unknown types, bad bodies.
        case!(Client "impostor: OPEN from the server", forged(forge(|f| vec![f.app(&open("x"))]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "OPEN" })),
        case!(Client "impostor: DATA from the server", forged(forge(|f| vec![f.app(&Message::Data(vec![1]))]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "DATA" })),
        case!(Client "impostor: CLOSE from the server", forged(forge(|f| vec![f.app(&Message::Close { sha256: Some([0; 32]) })]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "CLOSE" })),
        case!(Client "impostor: ACCEPTED, resume not agreed", forged(forge(|f| vec![f.app(&Message::Accepted {
                stored_name: "x".into(),
                offset: 0,
                token: securex::message::ResumeToken::from_bytes([1; 16]),
            })]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "ACCEPTED" })),
        case!(Client "impostor: a second FINISHED", forged(forge(|f| vec![f.finished()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "FINISHED" })),
        case!(Client "impostor: an empty record", forged(forge(|f| vec![f.seal([])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "SECURE_X", .. })),
        case!(Client "impostor: OK with a body", forged(forge(|f| vec![f.seal([0x04, 0x01])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "OK", .. })),
        case!(Client "impostor: an alert not UTF-8", forged(forge(|f| vec![f.seal([0x05, 0xff])]))
            => Malformed: Error::Frame(FrameError::InvalidFields { frame: "ERROR", .. })),
        case!(Client "impostor: its alert", forged(forge(|f| vec![f.app(&Message::Error { message: "disk full".into() })]))
            => Peer: Error::Protocol(ProtocolError::PeerError(m)) if m == "disk full"),
        case!(Client "impostor: a plaintext OK once established", forged(forge(plaintext(r#"{"type":"OK"}"#)))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "OK", .. })),
        case!(Client "impostor: a plaintext ERROR once established", forged(forge(plaintext(r#"{"type":"ERROR","message":"x"}"#)))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedFrame { frame: "ERROR", .. })),
        case!(Client "impostor: a record of epoch 1 before any rotation", forged(forge(|f| vec![f.edited([0x04], |r| r.epoch = 1)]))
            => Crypto: Error::Record(RecordError::UnknownEpoch(1))),
        case!(Client "impostor: REKEY, then a record of the old epoch", forged(forge(|f| { let a = f.rekey(); vec![a, f.app(&Message::Ok)] }))
            => Crypto: Error::Record(RecordError::UnknownEpoch(0))),
        case!(Client "impostor: REKEY_ACK never asked for", forged(forge(|f| vec![f.rekey_ack()]))
            => Protocol: Error::Protocol(ProtocolError::UnexpectedMessage { message: "REKEY_ACK" })),
        case!(Client "impostor: REKEY of an empty value", forged(forge(|f| vec![f.seal([REKEY])]))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        case!(Client "impostor: REKEY_ACK twice", forged(forge_rotating(|f| {
                let a = f.rekey_ack();
                let y = f.fresh_public();
                vec![a, f.seal(own(REKEY_ACK, &y))]
            }))
            => Crypto: Error::Record(RecordError::UnknownEpoch(0))),
        case!(Client "impostor: an empty REKEY_ACK while the client rotates", forged(forge_rotating(|f| vec![f.seal([REKEY_ACK])]))
            => InvalidKey: Error::Dh(DhError::PublicKeyOutOfRange)),
        // What the protocol allows while the client rotates.
        case!(Client "impostor: REKEY_ACK while the client rotates", forged(forge_rotating(|f| vec![f.rekey_ack()]))
            => continues Established, rotated_once),
        case!(Client "impostor: a crossing REKEY (the client's wins)", forged(forge_rotating(|f| vec![f.rekey()]))
            => continues Rotating),
        case!(Client "impostor: OK in the old epoch while the client rotates", forged(forge_rotating(|f| vec![f.app(&Message::Ok)]))
            => continues Rotating, |e| e.contains(&Event::Message(Message::Ok))),
    ];
    for code in UNKNOWN_TYPES {
        rows.push(Case::new(Role::Client, format!("impostor: inner type 0x{code:02x} before FINISHED"),
            forged(forge_first(move |f| vec![f.seal([code, 9])])), unknown_type(code)));
        rows.push(Case::new(Role::Client, format!("impostor: inner type 0x{code:02x}"),
            forged(forge(move |f| vec![f.seal([code])])), unknown_type(code)));
    }
    for (why, y) in invalid_raw_values() {
        rows.push(Case::new(Role::Client, format!("impostor: REKEY of y {why}"),
            forged(forge_value(REKEY, &y, false)), invalid_raw_expect(&why)));
        rows.push(Case::new(Role::Client, format!("impostor: REKEY_ACK of y {why} while the client rotates"),
            forged(forge_value(REKEY_ACK, &y, true)), invalid_raw_expect(&why)));
    }
    rows.into_iter().map(Case::v2).collect()
}

#[test]
fn v1_bad_frames_at_the_client() {
    run_table(&v1_rows());
}

#[test]
fn v2_bad_exchanges_and_records_at_the_client() {
    run_table(&v2_rows());
}

#[test]
fn v2_forged_records_at_the_client() {
    run_table(&forged_rows());
}
