//! The bounds on the work a peer can ask for: v1 renegotiations (no
//! sooner than existing clients send them, one at a time, at a capped
//! rate), v2 REKEYs (after enough traffic, at a capped rate), and the
//! largest ad-hoc group. Each test sets the peer that breaks a bound
//! loose of its own side's bounds, and keeps the defaults on the side that
//! enforces them.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::Pair;
use rand_core::SeedableRng;
use securex::config::{
    DEFAULT_MIN_ROTATION_INTERVAL, DEFAULT_V1_ROTATION_MIN_BYTES, DEFAULT_V1_ROTATION_MIN_INTERVAL,
};
use securex::dh::{Group, KeyPair, NamedGroup};
use securex::error::ProtocolError;
use securex::wire::Frame;
use securex::{Config, Error, Message, State};

fn seed_loose() -> Config {
    let mut c = Config::seed_compatible();
    common::without_rotation_limits(&mut c);
    c
}

fn v2_loose() -> Config {
    let mut c = Config::default();
    common::without_rotation_limits(&mut c);
    c
}

fn chunk(i: u8) -> Message {
    Message::Data(vec![i; 960])
}

fn too_soon(error: Option<&Error>) -> bool {
    matches!(
        error,
        Some(Error::Protocol(ProtocolError::RotationTooSoon { .. }))
    )
}

/// What existing clients send in their first epoch: `OPEN` and 18 DATA
/// of 960 bytes, then a renegotiation. A server with the defaults accepts
/// it in every suite, and our client (with the defaults) waits as long.
#[test]
fn rotations_after_an_existing_clients_epoch_are_accepted_in_every_suite() {
    for suite in securex::suite::CipherSuite::ALL {
        let mut client = Config::seed_compatible();
        client.offer = securex::suite::Offer {
            ciphers: vec![suite.cipher()],
            modes: vec![suite.mode()],
            hashes: vec![suite.hash()],
        };
        // As existing clients: the 20th frame of the epoch is a rotation.
        client.rotate_after_frames = Some(19);
        let mut pair = Pair::new(client, Config::seed_compatible(), 1);
        pair.drive();
        let mut sent = vec![Message::Open {
            file_name: "f".into(),
        }];
        sent.extend((0..60).map(chunk));
        pair.send_paced(
            securex::Role::Client,
            sent.clone(),
            Duration::from_millis(100),
        )
        .unwrap();
        assert_eq!(pair.server_error(), None, "{suite}");
        assert_eq!(pair.server_messages(), sent, "{suite}");
        assert_eq!(pair.server.epoch(), 3, "{suite}");
    }
}

#[test]
fn a_v1_renegotiation_before_19_frames_is_refused() {
    let mut client = seed_loose();
    client.rotate_after_frames = Some(18);
    let mut pair = Pair::new(client, Config::seed_compatible(), 2);
    pair.drive();
    for i in 0..19 {
        pair.client.send(pair.now, chunk(i)).unwrap();
    }
    pair.drive();
    match pair.server_error() {
        Some(Error::Protocol(ProtocolError::RotationTooSoon { frames, .. })) => {
            assert_eq!(frames, 18);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pair.server.epoch(), 0);
    assert_eq!(pair.server.state(), State::Closed);
}

#[test]
fn a_v1_renegotiation_after_19_small_frames_is_refused() {
    let mut client = seed_loose();
    client.rotate_after_frames = Some(19);
    let mut pair = Pair::new(client, Config::seed_compatible(), 3);
    pair.drive();
    for i in 0..20 {
        pair.client
            .send(pair.now, Message::Data(vec![i; 100]))
            .unwrap();
    }
    pair.drive();
    match pair.server_error() {
        Some(Error::Protocol(ProtocolError::RotationTooSoon { frames, bytes })) => {
            assert_eq!(frames, 19);
            assert!(bytes < DEFAULT_V1_ROTATION_MIN_BYTES, "{bytes}");
        }
        other => panic!("{other:?}"),
    }
}

/// Finding 6 of issue 9: the client's `ALGORITHMS` injected again and
/// again bought the server a key agreement and a PBKDF2 each.
#[test]
fn a_renegotiation_without_records_buys_nothing() {
    let mut pair = Pair::new(Config::seed_compatible(), Config::seed_compatible(), 4);
    let hello = pair.client.poll_transmit().unwrap();
    pair.server.handle_input(pair.now, &hello).unwrap();
    for _ in 0..3 {
        let _ = pair.server.handle_input(pair.now, &hello);
    }
    assert_eq!(pair.server.epoch(), 0);
    assert!(too_soon(pair.server.close_reason()));
}

/// A renegotiation sooner than `v1_rotation_min_interval` after the epoch
/// began waits for its time (the client waits for its `EXCHANGE`).
#[test]
fn a_v1_renegotiation_sooner_than_the_interval_is_deferred_not_refused() {
    let mut server = Config::seed_compatible();
    server.v1_rotation_min_frames = 0;
    server.v1_rotation_min_bytes = 0;
    let mut client = seed_loose();
    client.rotate_after_frames = Some(1);
    let mut pair = Pair::new(client, server, 5);
    pair.drive();
    let epoch_start = pair.now;
    pair.client.send(pair.now, chunk(0)).unwrap();
    pair.client.send(pair.now, chunk(1)).unwrap();
    pair.drive();
    assert_eq!(pair.client.state(), State::Rotating);
    assert_eq!(pair.server.epoch(), 0);
    assert_eq!(
        pair.server.poll_timeout(),
        Some(epoch_start + DEFAULT_V1_ROTATION_MIN_INTERVAL)
    );
    pair.wait(DEFAULT_V1_ROTATION_MIN_INTERVAL);
    assert_eq!(pair.server.epoch(), 1);
    assert_eq!(pair.client.state(), State::Established);
    assert_eq!(pair.server_messages(), [chunk(0), chunk(1)]);
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

/// At most one renegotiation in flight: while one waits for its time,
/// anything else from the client is refused.
#[test]
fn at_most_one_v1_renegotiation_is_in_flight() {
    let mut server = Config::seed_compatible();
    server.v1_rotation_min_frames = 0;
    server.v1_rotation_min_bytes = 0;
    let mut pair = Pair::new(seed_loose(), server, 6);
    let hello = pair.client.poll_transmit().unwrap();
    pair.server.handle_input(pair.now, &hello).unwrap();
    assert_eq!(pair.server.state(), State::Established);
    pair.server.handle_input(pair.now, &hello).unwrap();
    assert_eq!(pair.server.epoch(), 0);
    let again = pair.server.handle_input(pair.now, &hello);
    assert!(
        matches!(
            again,
            Err(Error::Protocol(ProtocolError::UnexpectedFrame {
                frame: "ALGORITHMS",
                ..
            }))
        ),
        "{again:?}"
    );
    assert_eq!(pair.server.epoch(), 0);
}

/// An `ALGORITHMS` whose group is the ffdhe`bits` modulus with generator
/// 3: an ad-hoc group (not RFC 7919's, whose generator is 2).
fn adhoc_hello(bits: NamedGroup) -> Vec<u8> {
    let pem = Group::named(bits).to_pem();
    let mut client = securex::Connection::client(
        Config::seed_compatible(),
        rand_chacha::ChaCha20Rng::from_seed([7; 32]),
        std::time::Instant::now(),
    )
    .expect("a valid config");
    let hello = client.poll_transmit().unwrap();
    let Frame::Algorithms(mut algorithms) = Frame::decode(&hello[..hello.len() - 2]).unwrap()
    else {
        panic!("not ALGORITHMS")
    };
    let adhoc = adhoc_group(&pem);
    let key = KeyPair::generate(&adhoc, &mut rand_chacha::ChaCha20Rng::from_seed([8; 32]));
    algorithms.params = BASE64.encode(adhoc.to_pem());
    algorithms.public_key = BASE64.encode(key.public_key().to_pem());
    let mut bytes = Frame::Algorithms(algorithms).encode();
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// The group of `named_pem` with generator 3 (and no q).
fn adhoc_group(named_pem: &str) -> Group {
    let named = Group::from_pem(named_pem.as_bytes(), 8192).unwrap();
    let p = named.modulus().to_vec();
    // DomainParameters ::= SEQUENCE { p INTEGER, g INTEGER } (PKCS #3).
    let int = |bytes: &[u8]| {
        let mut body = Vec::new();
        if bytes[0] & 0x80 != 0 {
            body.push(0);
        }
        body.extend_from_slice(bytes);
        der(0x02, &body)
    };
    let sequence = der(0x30, &[int(&p), int(&[3])].concat());
    let body = BASE64.encode(sequence);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN DH PARAMETERS-----\n{}\n-----END DH PARAMETERS-----\n",
        lines.join("\n")
    );
    let group = Group::from_pem(pem.as_bytes(), 8192).unwrap();
    assert_eq!(group.named_group(), None);
    group
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match body.len() {
        n if n < 128 => out.push(u8::try_from(n).unwrap()),
        n if n < 256 => out.extend([0x81, u8::try_from(n).unwrap()]),
        n => {
            let [high, low] = u16::try_from(n)
                .expect("a length in two bytes")
                .to_be_bytes();
            out.extend([0x82, high, low]);
        }
    }
    out.extend_from_slice(body);
    out
}

#[test]
fn an_adhoc_group_over_2048_bits_is_refused_by_the_seed_preset() {
    for (group, refused) in [
        (NamedGroup::Ffdhe2048, false),
        (NamedGroup::Ffdhe3072, true),
        (NamedGroup::Ffdhe4096, true),
    ] {
        let mut server = securex::Connection::server(
            Config::seed_compatible(),
            rand_chacha::ChaCha20Rng::from_seed([9; 32]),
            std::time::Instant::now(),
        )
        .expect("a valid config");
        let result = server.handle_input(std::time::Instant::now(), &adhoc_hello(group));
        if refused {
            assert_eq!(
                result,
                Err(Error::Protocol(ProtocolError::GroupRefused {
                    bits: group.bits()
                })),
                "{group}"
            );
        } else {
            assert_eq!(result, Ok(()), "{group}");
            assert_eq!(server.state(), State::Established);
        }
    }
}

#[test]
fn a_rekey_before_4_kib_of_records_is_refused() {
    let mut pair = Pair::new(v2_loose(), Config::default(), 10);
    pair.drive();
    pair.client
        .send(pair.now, Message::Data(vec![1; 1000]))
        .unwrap();
    pair.client.rotate(pair.now).unwrap();
    pair.drive();
    assert!(
        too_soon(pair.server_error().as_ref()),
        "{:?}",
        pair.server_error()
    );
    assert_eq!(pair.server.epoch(), 0);
    // Told in the channel.
    assert!(matches!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::PeerError(_)))
    ));
}

/// Our own rotations (here the application's) wait until the epoch has
/// carried `rekey_min_bytes`, so that a peer with the same bounds never
/// refuses them.
#[test]
fn our_rotations_wait_for_enough_records() {
    let mut pair = Pair::new(Config::default(), Config::default(), 11);
    pair.drive();
    pair.client
        .send(pair.now, Message::Data(vec![1; 100]))
        .unwrap();
    pair.client.rotate(pair.now).unwrap();
    pair.wait(Duration::from_secs(1));
    assert_eq!(pair.client.state(), State::Established);
    assert_eq!(pair.client.epoch(), 0);
    pair.client
        .send(pair.now, Message::Data(vec![2; 5000]))
        .unwrap();
    pair.client
        .send(pair.now, Message::Data(vec![3; 10]))
        .unwrap();
    pair.wait(Duration::from_secs(1));
    assert_eq!(pair.client.epoch(), 1);
    assert_eq!(pair.server.epoch(), 1);
    assert_eq!(pair.server_messages().len(), 3);
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

#[test]
fn a_rekey_sooner_than_the_interval_is_deferred_not_refused() {
    let mut pair = Pair::new(v2_loose(), Config::default(), 12);
    pair.drive();
    let epoch_start = pair.now;
    pair.client
        .send(pair.now, Message::Data(vec![1; 5000]))
        .unwrap();
    pair.client.rotate(pair.now).unwrap();
    pair.drive();
    assert_eq!(pair.client.state(), State::Rotating);
    assert_eq!(pair.server.epoch(), 0);
    assert_eq!(
        pair.server.poll_timeout(),
        Some(epoch_start + DEFAULT_MIN_ROTATION_INTERVAL)
    );
    pair.wait(DEFAULT_MIN_ROTATION_INTERVAL);
    assert_eq!(pair.server.epoch(), 1);
    assert_eq!(pair.client.epoch(), 1);
    assert_eq!(pair.client.state(), State::Established);
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

/// In larger groups a REKEY costs more: the bound scales with the square
/// of the group's size (16 KiB in ffdhe4096), on both sides alike.
#[test]
fn the_rekey_bound_scales_with_the_group() {
    let group = |mut c: Config| {
        c.groups = vec![securex::dh::NamedGroup::Ffdhe4096];
        c
    };
    // A peer that rotates after 8 KiB is refused in ffdhe4096.
    let mut pair = Pair::new(group(v2_loose()), group(Config::default()), 13);
    pair.drive();
    pair.client
        .send(pair.now, Message::Data(vec![1; 8192]))
        .unwrap();
    pair.client.rotate(pair.now).unwrap();
    pair.drive();
    assert!(
        too_soon(pair.server_error().as_ref()),
        "{:?}",
        pair.server_error()
    );
    // Two peers with the defaults: the rotation waits for 16 KiB.
    let mut pair = Pair::new(group(Config::default()), group(Config::default()), 14);
    pair.drive();
    pair.client
        .send(pair.now, Message::Data(vec![1; 8192]))
        .unwrap();
    pair.client.rotate(pair.now).unwrap();
    pair.wait(Duration::from_secs(1));
    assert_eq!(pair.client.epoch(), 0);
    pair.client
        .send(pair.now, Message::Data(vec![2; 12_000]))
        .unwrap();
    pair.client
        .send(pair.now, Message::Data(vec![3; 10]))
        .unwrap();
    pair.wait(Duration::from_secs(1));
    assert_eq!(pair.client.epoch(), 1);
    assert_eq!(pair.server.epoch(), 1);
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

/// With 3DES, the rotation its byte limit forces comes before a large
/// `rekey_min_bytes`: both sides cap the bound alike, so two peers with
/// the same config never refuse each other.
#[test]
fn peers_with_the_same_config_never_refuse_a_3des_rotation() {
    use securex::suite::{Cipher, Hash, Mode, Offer};
    let mut c = Config::default();
    c.legacy_suites = true;
    c.offer = Offer {
        ciphers: vec![Cipher::TripleDes],
        modes: vec![Mode::Cbc],
        hashes: vec![Hash::Sha256],
    };
    c.rekey_min_bytes = 8 << 20;
    let mut pair = Pair::new(c.clone(), c, 21);
    pair.drive();
    for i in 0..100u8 {
        pair.client
            .send(pair.now, Message::Data(vec![i; 64 * 1024]))
            .unwrap();
        pair.wait(Duration::from_millis(100));
    }
    assert_eq!(pair.server_error(), None);
    assert!(pair.server.epoch() >= 1, "{}", pair.server.epoch());
}
