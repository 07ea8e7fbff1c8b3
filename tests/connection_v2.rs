//! Two v2 Connections in memory: the handshake with key confirmation,
//! records in both directions, and an active attacker on the link who
//! changes the hellos or the records without replacing the key shares.

mod common;

use common::{FrameHook, Pair, Split, edit_frame};
use securex::config::{Psk, Version};
use securex::dh::NamedGroup;
use securex::error::{ErrorKind, ProtocolError, RecordError};
use securex::suite::{CipherSuite, Offer};
use securex::{Config, Error, Event, Message, State};
use serde_json::Value;

fn v2() -> Config {
    Config::default()
}

fn legacy() -> Config {
    let mut c = Config::default();
    c.legacy_suites = true;
    c.offer = Offer::all();
    c
}

fn established(pair: &Pair) -> bool {
    pair.client.state() == State::Established && pair.server.state() == State::Established
}

#[test]
fn v2_handshake_and_messages_in_both_directions() {
    let mut pair = Pair::new(v2(), v2(), 1);
    pair.drive();
    assert!(established(&pair));
    assert_eq!(pair.client.version(), Some(Version::V2));
    assert_eq!(pair.server.version(), Some(Version::V2));
    assert_eq!(
        pair.client.suite().map(|s| s.to_string()).as_deref(),
        Some("DH;AES-128;GCM;SHA-256")
    );
    assert!(matches!(
        pair.server_events[0],
        Event::HandshakeComplete {
            version: Version::V2,
            ..
        }
    ));
    pair.client
        .send(
            pair.now,
            Message::Open {
                file_name: "f".into(),
            },
        )
        .unwrap();
    pair.client
        .send(pair.now, Message::Data(vec![1; 5000]))
        .unwrap();
    pair.client
        .send(
            pair.now,
            Message::Close {
                sha256: Some([3; 32]),
            },
        )
        .unwrap();
    pair.drive();
    pair.server.send(pair.now, Message::Ok).unwrap();
    pair.drive();
    assert_eq!(
        pair.server_messages(),
        [
            Message::Open {
                file_name: "f".into()
            },
            Message::Data(vec![1; 5000]),
            Message::Close {
                sha256: Some([3; 32])
            }
        ]
    );
    assert_eq!(pair.client_messages(), [Message::Ok]);
}

#[test]
fn every_suite_and_group_works_when_allowed() {
    for suite in CipherSuite::ALL {
        let mut client = legacy();
        client.offer = Offer {
            ciphers: vec![suite.cipher()],
            modes: vec![suite.mode()],
            hashes: vec![suite.hash()],
        };
        let mut pair = Pair::new(client, legacy(), 2);
        pair.to_server.split = Split::Random;
        pair.to_client.split = Split::Random;
        pair.client
            .send(pair.now, Message::Data(vec![7; 3000]))
            .unwrap();
        pair.drive();
        assert_eq!(pair.server.suite(), Some(suite));
        assert_eq!(
            pair.server_messages(),
            [Message::Data(vec![7; 3000])],
            "{suite}"
        );
    }
    for group in NamedGroup::ALL {
        let mut client = v2();
        client.groups = vec![group];
        let mut pair = Pair::new(client, v2(), 3);
        pair.drive();
        assert!(established(&pair), "{group}");
    }
}

#[test]
fn legacy_suites_need_explicit_consent() {
    let mut client = legacy();
    client.offer = Offer::from_wire_names(&["3DES"], &["CBC"], &["SHA-256"]);
    let mut pair = Pair::new(client, v2(), 4);
    pair.drive();
    assert!(matches!(pair.server_error(), Some(Error::Suite(_))));
    assert_eq!(pair.client.state(), State::Closed);
}

#[test]
fn versions_are_negotiated_by_policy() {
    // A v1 client and a seed-compatible server: v1.
    let mut pair = Pair::new(Config::seed_compatible(), Config::seed_compatible(), 5);
    pair.drive();
    assert_eq!(pair.server.version(), Some(Version::V1));
    // A v2 client and a seed-compatible server: v2.
    let mut pair = Pair::new(v2(), Config::seed_compatible(), 6);
    pair.drive();
    assert_eq!(pair.server.version(), Some(Version::V2));
    // A v1 client and a v2-only server: ERROR saying v2 is required.
    let mut pair = Pair::new(Config::seed_compatible(), v2(), 7);
    pair.drive();
    assert_eq!(
        pair.server_error(),
        Some(Error::Protocol(ProtocolError::VersionRefused {
            version: 1
        }))
    );
    assert!(
        matches!(pair.client_error(), Some(Error::Protocol(ProtocolError::PeerError(m))) if m.contains("v2 is required"))
    );
    // A v2 client that allows v1, and a v1-only server: falls back.
    let mut v1_server = Config::seed_compatible();
    v1_server.versions = vec![Version::V1];
    let mut fallback = v2();
    fallback.versions = vec![Version::V2, Version::V1];
    let mut pair = Pair::new(fallback, v1_server.clone(), 8);
    pair.drive();
    assert_eq!(pair.client.version(), Some(Version::V1));
    // A v2-only client and a v1-only server: the client refuses.
    let mut pair = Pair::new(v2(), v1_server, 9);
    pair.drive();
    assert_eq!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::VersionRefused {
            version: 1
        }))
    );
}

#[test]
fn groups_the_server_does_not_accept_are_named_in_the_error() {
    let mut client = v2();
    client.groups = vec![NamedGroup::Ffdhe4096, NamedGroup::Ffdhe2048];
    let mut server = v2();
    server.groups = vec![NamedGroup::Ffdhe2048];
    let mut pair = Pair::new(client, server, 10);
    pair.drive();
    assert!(matches!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::PeerError(m))) if m.contains("accepted groups: ffdhe2048")
    ));
}

/// An attacker who edits a hello (without replacing the key shares) makes
/// the handshake fail on both sides: FINISHED binds both hellos.
#[test]
fn any_change_to_either_hello_fails_the_handshake_on_both_sides() {
    type Edit = fn(&mut serde_json::Map<String, Value>);
    let client_edits: [(&str, Edit); 4] = [
        ("drop a suite from the offer", |j| {
            j["modes"] = serde_json::json!(["CBC"]);
        }),
        ("reorder the offer", |j| {
            j["hash"] = serde_json::json!(["SHA-512", "SHA-256"]);
        }),
        ("change the client nonce", |j| {
            j["nonce"] = Value::String(base64_of(&[9; 32]));
        }),
        ("add a field", |j| {
            j.insert("extra".into(), Value::Bool(true));
        }),
    ];
    for (what, edit) in client_edits {
        let mut pair = Pair::new(v2(), v2(), 11);
        pair.to_server.hook = Some(edit_frame(0, edit));
        pair.drive();
        assert_eq!(
            pair.client_error(),
            Some(Error::Protocol(ProtocolError::BadFinished)),
            "{what}"
        );
        client_closed_after_its_hello(&mut pair, what);
        assert!(pair.server_error().is_some(), "{what}");
        assert!(pair.server_messages().is_empty(), "{what}");
    }
    let server_edits: [(&str, Edit); 3] = [
        ("rewrite the chosen suite", |j| {
            j["ciphersuite"] = Value::String("DH;AES-128;CBC;SHA-256".into());
        }),
        ("change the server nonce", |j| {
            j["nonce"] = Value::String(base64_of(&[8; 32]));
        }),
        ("reorder the fields", |j| {
            let v = j.remove("value").unwrap();
            j.insert("value".into(), v);
        }),
    ];
    for (what, edit) in server_edits {
        let mut pair = Pair::new(v2(), v2(), 12);
        pair.to_client.hook = Some(edit_frame(0, edit));
        pair.drive();
        let error = pair.client_error().expect(what);
        assert!(
            matches!(error.kind(), ErrorKind::Crypto),
            "{what}: {error:?}"
        );
        client_closed_after_its_hello(&mut pair, what);
    }
}

/// The client refused the server's FINISHED: it wrote its hello and
/// nothing else (no alert sealed under keys it could not confirm) and
/// closed its stream; the server, which never got a FINISHED, ends on that
/// EOF without completing its handshake.
#[track_caller]
fn client_closed_after_its_hello(pair: &mut Pair, what: &str) {
    assert_eq!(pair.to_server.frames_seen, 1, "{what}");
    assert_eq!(pair.server.state(), State::Handshaking, "{what}");
    pair.server.handle_eof();
    pair.collect_events();
    assert_eq!(pair.server.state(), State::Closed, "{what}");
    assert!(
        !pair
            .server_events
            .iter()
            .any(|e| matches!(e, Event::HandshakeComplete { .. })),
        "{what}"
    );
}

#[test]
fn stripping_the_version_is_refused_by_a_v2_only_peer() {
    let strip: fn(&mut serde_json::Map<String, Value>) = |j| {
        for field in ["version", "nonce", "groups"] {
            j.remove(field);
        }
    };
    // The server requires v2.
    let mut pair = Pair::new(v2(), v2(), 13);
    pair.to_server.hook = Some(edit_frame(0, strip));
    pair.drive();
    assert_eq!(
        pair.server_error(),
        Some(Error::Protocol(ProtocolError::VersionRefused {
            version: 1
        }))
    );
    // The server would accept v1, the client does not.
    let mut pair = Pair::new(v2(), Config::seed_compatible(), 14);
    pair.to_server.hook = Some(edit_frame(0, strip));
    pair.drive();
    assert_eq!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::VersionRefused {
            version: 1
        }))
    );
    assert!(pair.server_messages().is_empty());
}

/// Sends three DATA records after the handshake through a hooked link.
fn tampered_records(hook: FrameHook, towards_server: bool) -> Pair {
    let mut pair = Pair::new(v2(), v2(), 15);
    pair.drive();
    if towards_server {
        pair.to_server.hook = Some(hook);
        for i in 0..3u8 {
            pair.client
                .send(pair.now, Message::Data(vec![i; 100]))
                .unwrap();
        }
    } else {
        pair.to_client.hook = Some(hook);
        pair.server.send(pair.now, Message::Ok).unwrap();
        pair.server.send(pair.now, Message::Ok).unwrap();
        pair.server.send(pair.now, Message::Ok).unwrap();
    }
    pair.drive();
    pair
}

#[test]
fn replayed_reordered_or_dropped_records_are_fatal_in_both_directions() {
    // Client frames: 0 ALGORITHMS, 1 FINISHED, 2.. DATA. Server frames:
    // 0 EXCHANGE, 1 FINISHED, 2.. OK.
    for towards_server in [true, false] {
        let cases: [(&str, FrameHook); 3] = [
            (
                "replay",
                Box::new(|i, f| if i == 3 { vec![f.clone(), f] } else { vec![f] }),
            ),
            (
                "drop",
                Box::new(|i, f| if i == 3 { vec![] } else { vec![f] }),
            ),
            ("reorder", Box::new(swap(3))),
        ];
        for (what, hook) in cases {
            let pair = tampered_records(hook, towards_server);
            let (receiver_error, receiver) = if towards_server {
                (pair.server_error(), &pair.server)
            } else {
                (pair.client_error(), &pair.client)
            };
            assert!(
                matches!(
                    receiver_error,
                    Some(Error::Record(RecordError::UnexpectedSequence { .. }))
                ),
                "{what} towards server {towards_server}: {receiver_error:?}"
            );
            assert_eq!(receiver.state(), State::Closed);
            // The receiver's input failed once, with that error.
            let role = if towards_server {
                securex::Role::Server
            } else {
                securex::Role::Client
            };
            assert_eq!(
                pair.returned.of(role),
                [receiver_error.clone().unwrap()],
                "{what} towards server {towards_server}"
            );
        }
    }
}

/// A hook that delivers frame `at + 1` before frame `at`.
fn swap(at: usize) -> impl FnMut(usize, Vec<u8>) -> Vec<Vec<u8>> {
    let mut held = None;
    move |i, f| {
        if i == at {
            held = Some(f);
            vec![]
        } else if i == at + 1 {
            vec![f, held.take().unwrap()]
        } else {
            vec![f]
        }
    }
}

#[test]
fn a_flipped_bit_anywhere_in_a_record_is_fatal_with_one_error() {
    for suite in ["DH;AES-128;GCM;SHA-256", "DH;AES-128;CBC;SHA-512"] {
        for towards_server in [true, false] {
            for field in ["payload", "iv", "hash"] {
                if suite.contains("GCM") && field != "payload" {
                    continue;
                }
                let parts: Vec<&str> = suite.split(';').collect();
                let mut client = v2();
                client.offer = Offer::from_wire_names(&[parts[1]], &[parts[2]], &[parts[3]]);
                let mut pair = Pair::new(client, v2(), 16);
                pair.drive();
                let hook = edit_frame(2, move |j| {
                    let s = j[field].as_str().unwrap().to_owned();
                    let mut bytes = s.into_bytes();
                    bytes[2] = if bytes[2] == b'a' { b'b' } else { b'a' };
                    j[field] = Value::String(String::from_utf8(bytes).unwrap());
                });
                if towards_server {
                    pair.to_server.hook = Some(hook);
                    pair.client
                        .send(pair.now, Message::Data(vec![5; 64]))
                        .unwrap();
                } else {
                    pair.to_client.hook = Some(hook);
                    pair.server.send(pair.now, Message::Ok).unwrap();
                }
                pair.drive();
                let error = if towards_server {
                    pair.server_error()
                } else {
                    pair.client_error()
                };
                assert_eq!(
                    error,
                    Some(Error::Record(RecordError::Decrypt)),
                    "{suite} {field} towards server {towards_server}"
                );
                let returned = if towards_server {
                    &pair.returned.server
                } else {
                    &pair.returned.client
                };
                assert_eq!(
                    returned,
                    &[Error::Record(RecordError::Decrypt)],
                    "{suite} {field} towards server {towards_server}"
                );
            }
        }
    }
}

#[test]
fn a_cut_connection_is_an_error_not_an_end() {
    let mut pair = Pair::new(v2(), v2(), 17);
    pair.drive();
    pair.client
        .send(pair.now, Message::Data(vec![1; 10]))
        .unwrap();
    pair.drive();
    pair.server.handle_eof();
    pair.collect_events();
    assert_eq!(
        pair.server_error(),
        Some(Error::Protocol(ProtocolError::UnexpectedEof))
    );
}

#[test]
fn short_psks_are_refused_and_a_psk_rules_out_v1() {
    assert!(Psk::new("a", &[1; 15]).is_none());
    let psk = Psk::new("a", &[1; 16]);
    // A client with a PSK does not fall back to v1; a server with one
    // refuses v1 clients.
    let mut client = Config::seed_compatible();
    client.psk = psk.clone();
    let mut server = Config::seed_compatible();
    server.psk = psk;
    let mut pair = Pair::new(client, server.clone(), 30);
    pair.drive();
    assert_eq!(pair.client.version(), Some(Version::V2));
    let mut pair = Pair::new(Config::seed_compatible(), server, 31);
    pair.drive();
    assert_eq!(
        pair.server_error(),
        Some(Error::Protocol(ProtocolError::VersionRefused {
            version: 1
        }))
    );
}

#[test]
fn a_plaintext_error_after_v2_keys_is_not_the_peers() {
    let mut pair = Pair::new(v2(), v2(), 32);
    pair.drive();
    pair.to_client
        .inject(b"{\"type\":\"ERROR\",\"message\":\"forged\"}\r\n");
    pair.drive();
    assert!(matches!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::UnexpectedFrame {
            frame: "ERROR",
            ..
        }))
    ));
    assert_eq!(pair.returned.client.len(), 1, "{:?}", pair.returned);
    assert_eq!(Some(pair.returned.client[0].clone()), pair.client_error());
}

#[test]
fn a_v2_close_needs_the_digest() {
    let mut pair = Pair::new(v2(), v2(), 33);
    assert_eq!(
        pair.client.send(pair.now, Message::Close { sha256: None }),
        Err(Error::Misuse(securex::error::Misuse::MissingDigest))
    );
    pair.drive();
    assert_eq!(pair.client.state(), State::Established);
}

#[test]
fn a_psk_must_match_on_both_sides() {
    let psk = |id: &str, key: &[u8]| Some(Psk::new(id, key).unwrap());
    let with = |p| {
        let mut c = v2();
        c.psk = p;
        c
    };
    let mut pair = Pair::new(with(psk("a", &[1; 32])), with(psk("a", &[1; 32])), 18);
    pair.drive();
    assert!(established(&pair));
    let mut pair = Pair::new(with(psk("a", &[1; 32])), with(psk("a", &[2; 32])), 19);
    pair.drive();
    assert_eq!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::BadFinished))
    );
    for (client, server) in [
        (psk("a", &[1; 32]), psk("b", &[1; 32])),
        (None, psk("a", &[1; 32])),
        (psk("a", &[1; 32]), None),
    ] {
        let mut pair = Pair::new(with(client), with(server), 20);
        pair.drive();
        assert_eq!(
            pair.server_error(),
            Some(Error::Protocol(ProtocolError::PskMismatch))
        );
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A long-term ffdhe2048 key pair from a fixed seed.
fn static_key(seed: u8) -> securex::dh::KeyPair {
    use rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([seed; 32]);
    securex::dh::KeyPair::generate(&securex::dh::Group::named(NamedGroup::Ffdhe2048), &mut rng)
}

/// A server static key and a client that pins its public value.
fn pinned_pair(seed: u64, server_key_seed: u8, pinned_seed: u8) -> Pair {
    use securex::config::StaticKey;
    let key = static_key;
    let mut server = v2();
    server.static_key = Some(StaticKey::new(key(server_key_seed)));
    let mut client = v2();
    client.server_key = Some(key(pinned_seed).public_key().clone());
    Pair::new(client, server, seed)
}

#[test]
fn a_pinned_server_key_authenticates_the_server() {
    let mut pair = pinned_pair(21, 1, 1);
    pair.client.send(pair.now, Message::Data(vec![1])).unwrap();
    pair.drive();
    assert!(established(&pair));
    assert_eq!(pair.server_messages(), [Message::Data(vec![1])]);
    // A server without the pinned key is refused by its own check.
    let mut pair = pinned_pair(22, 1, 2);
    pair.drive();
    assert_eq!(
        pair.server_error(),
        Some(Error::Protocol(ProtocolError::UnknownServerKey))
    );
}

/// The client pins server key 1. An impostor that does not hold it answers
/// the client itself, in every v2 suite, with its own EXCHANGE and a
/// FINISHED derived the best ways it can without key 1's private half: `Z_es`
/// left out, from a key of its own, or `Z_ee` once more. The client refuses
/// each FINISHED (`BadFinished`) and sends nothing after its hello: not its
/// FINISHED, not its queued DATA, no alert. The control: the same impostor
/// with key 1 is accepted and reads the DATA, so only `Z_es` tells them
/// apart.
#[test]
fn an_attacker_cannot_answer_for_a_pinned_key_it_does_not_hold() {
    use common::attacker::{self, Attacker, ZEs};
    use rand_core::SeedableRng;
    use securex::Connection;
    let v2_suites = CipherSuite::ALL
        .into_iter()
        .filter(|&s| v2().offer.contains(s));
    for suite in v2_suites {
        for (what, z_es, holds_the_key) in [
            ("Z_es left out", ZEs::LeftOut, false),
            ("Z_es from its own key", ZEs::From(static_key(2)), false),
            ("Z_ee as Z_es", ZEs::ZeeAgain, false),
            (
                "the control, holding the pinned key",
                ZEs::From(static_key(1)),
                true,
            ),
        ] {
            let now = std::time::Instant::now();
            let mut config = v2();
            config.offer = Offer {
                ciphers: vec![suite.cipher()],
                modes: vec![suite.mode()],
                hashes: vec![suite.hash()],
            };
            config.server_key = Some(static_key(1).public_key().clone());
            let mut client =
                Connection::client(config, rand_chacha::ChaCha20Rng::seed_from_u64(23), now)
                    .expect("a valid config");
            client.send(now, Message::Data(vec![1])).unwrap();
            let hello = client.poll_transmit().unwrap();
            let hello = hello.strip_suffix(b"\r\n").unwrap();
            let impostor = Attacker {
                z_es,
                ..Attacker::anonymous()
            };
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(24);
            let (mut leg, answer) = attacker::answer_client(&mut rng, &impostor, hello);
            assert_eq!(leg.suite(), suite);
            let result = client.handle_input(now, &answer);
            let mut after = Vec::new();
            while let Some(bytes) = client.poll_transmit() {
                after.extend(bytes);
            }
            let frames: Vec<&[u8]> = after
                .split(|&b| b == b'\n')
                .filter(|f| !f.is_empty())
                .map(|f| f.strip_suffix(b"\r").unwrap())
                .collect();
            if holds_the_key {
                assert_eq!(result, Ok(()), "{suite} {what}");
                assert_eq!(client.state(), State::Established, "{suite} {what}");
                assert_eq!(frames.len(), 2, "{suite} {what}");
                let finished = leg.open(frames[0]).unwrap();
                assert!(leg.is_peers_finished(&finished), "{suite} {what}");
                assert_eq!(
                    Message::from_v2_bytes(&leg.open(frames[1]).unwrap()),
                    Some(Ok(Message::Data(vec![1]))),
                    "{suite} {what}"
                );
            } else {
                assert_eq!(
                    result,
                    Err(Error::Protocol(ProtocolError::BadFinished)),
                    "{suite} {what}"
                );
                assert_eq!(client.state(), State::Closed, "{suite} {what}");
                assert!(frames.is_empty(), "{suite} {what}: {} frames", frames.len());
            }
        }
    }
}
