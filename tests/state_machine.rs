//! The state machine cannot reach a bad state: regressions of what an
//! attacker found (issue 8), each failing on the code before its fix.
//!
//! * a plaintext frame that a phase does not expect is a typed error in
//!   every role, also mid-rotation (it once reached `unreachable!`);
//! * a server's last answer survives a rotation in progress;
//! * a v1 fallback accepts only a suite of the offer that was sent;
//! * nothing is sealed under keys whose handshake was never confirmed.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::programs::{Store, random_bytes, scratch};
use common::{Pair, edit_frame};
use securex::config::Version;
use securex::error::{ProtocolError, SuiteError};
use securex::suite::Offer;
use securex::transfer::{Download, Receiver};
use securex::{Config, Connection, Error, Event, Message, Role, State};
use serde_json::{Map, Value};
use sha2::Digest;

/// v2 without the rotation limits (these tests rotate after a few small
/// records on a clock that stands still).
fn v2() -> Config {
    let mut c = Config::default();
    common::without_rotation_limits(&mut c);
    c
}

/// The seed preset without the rotation limits.
fn seed() -> Config {
    let mut c = Config::seed_compatible();
    common::without_rotation_limits(&mut c);
    c
}

/// Flips one bit of a record's `payload`.
fn flip_payload(json: &mut Map<String, Value>) {
    let mut payload = B64.decode(json["payload"].as_str().unwrap()).unwrap();
    payload[0] ^= 1;
    json["payload"] = Value::String(B64.encode(payload));
}

const PLAINTEXT_EXCHANGE: &[u8] =
    b"{\"type\":\"EXCHANGE\",\"value\":\"\",\"ciphersuite\":\"\"}\r\n";

/// Whether `bytes` are exactly one v2 record (a sealed frame).
fn one_record(bytes: &[u8]) -> bool {
    let text = std::str::from_utf8(bytes).unwrap();
    text.matches("\r\n").count() == 1 && text.contains("\"type\":\"SECURE_X\"")
}

#[test]
fn a_plaintext_exchange_to_a_rekeying_v2_peer_is_a_typed_error_not_a_panic() {
    for role in [Role::Client, Role::Server] {
        let mut pair = Pair::new(v2(), v2(), 31);
        pair.drive();
        let (us, peer) = match role {
            Role::Client => (&mut pair.client, &mut pair.server),
            Role::Server => (&mut pair.server, &mut pair.client),
        };
        us.rotate(pair.now).unwrap();
        assert_eq!(us.state(), State::Rotating, "{role:?}");
        let rekey = us.poll_transmit().unwrap();

        let error = us.handle_input(pair.now, PLAINTEXT_EXCHANGE).unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Protocol(ProtocolError::UnexpectedFrame {
                    frame: "EXCHANGE",
                    ..
                })
            ),
            "{role:?}: {error:?}"
        );
        assert_eq!(us.state(), State::Closed, "{role:?}");
        assert_eq!(us.close_reason(), Some(&error), "{role:?}");
        // The peer is verified: the alert is sealed, in the current epoch.
        let alert = us.poll_transmit().unwrap();
        assert!(one_record(&alert), "{role:?}");
        // The peer, having answered the REKEY, has left the epoch the
        // alert is sealed in: it fails either way, never silently.
        peer.handle_input(pair.now, &rekey).unwrap();
        assert!(peer.handle_input(pair.now, &alert).is_err(), "{role:?}");
    }
}

#[test]
fn a_plaintext_exchange_to_a_rotating_v1_client_is_refused_as_malformed_not_a_panic() {
    let mut pair = Pair::seed(32);
    pair.drive();
    pair.client.rotate(pair.now).unwrap();
    assert_eq!(pair.client.state(), State::Rotating);
    let error = pair
        .client
        .handle_input(pair.now, PLAINTEXT_EXCHANGE)
        .unwrap_err();
    // An empty suite name: a typed error of the suite layer.
    assert!(matches!(error, Error::Suite(_)), "{error:?}");
    assert_eq!(pair.client.state(), State::Closed);
}

/// The server stores the file and answers CLOSE with OK while its own
/// rotation waits for REKEY_ACK: the OK goes out in the new epoch instead
/// of being dropped by the close.
#[test]
fn the_servers_ok_to_close_survives_a_rotation_in_progress() {
    let dir = scratch("state_machine", "ok-mid-rotation");
    let mut pair = Pair::new(v2(), v2(), 33);
    pair.drive();
    let data = random_bytes(5000, 3);
    let sha256: [u8; 32] = sha2::Sha256::digest(&data).into();
    for message in [
        Message::Open {
            file_name: "kept.bin".into(),
        },
        Message::Data(data.clone()),
        Message::Close {
            sha256: Some(sha256),
        },
    ] {
        pair.client.send(pair.now, message).unwrap();
    }
    // The server's REKEY crosses the client's file: the client's
    // REKEY_ACK reaches the server only after its CLOSE.
    pair.server.rotate(pair.now).unwrap();
    pair.server_app = Some(Box::new(Download::new(Receiver::new(dir.store()))));
    pair.drive();

    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
    assert_eq!(pair.client_messages(), vec![Message::Ok, Message::Ok]);
    assert!(pair.client_events.contains(&Event::KeyRotated {
        epoch: 1,
        suite: pair.client.suite().unwrap()
    }));
    assert_eq!(
        pair.server_events.last(),
        Some(&Event::Closed { error: None })
    );
    assert_eq!(std::fs::read(dir.store().join("kept.bin")).unwrap(), data);
}

/// A client that would fall back to v1 checks the server's choice against
/// the offer it sent (without 3DES and ECB unless legacy suites are on),
/// not against its configuration's full list.
#[test]
fn a_v1_fallback_accepts_only_a_suite_of_the_offer_sent() {
    let mut client = v2();
    client.versions = vec![Version::V2, Version::V1];
    client.offer = Offer::all();
    client.legacy_suites = false;
    let mut server = seed();
    server.versions = vec![Version::V1];
    server.offer = Offer::all();
    let mut pair = Pair::new(client, server, 34);
    // The server's EXCHANGE names a legacy suite the client never offered.
    pair.to_client.hook = Some(edit_frame(0, |j| {
        j["ciphersuite"] = Value::String("DH;3DES;CBC;SHA-256".into());
    }));
    pair.drive();
    assert!(
        matches!(
            pair.client_error(),
            Some(Error::Suite(SuiteError::NotOffered(ref s))) if s.contains("3DES")
        ),
        "{:?}",
        pair.client_error()
    );
    assert_eq!(pair.client.version(), None);
}

/// After a fallback, a v1 rotation offers what the first hello offered:
/// never the legacy suites the v2 hello left out.
#[test]
fn a_v1_fallback_rotates_with_the_offer_of_its_first_hello() {
    let mut client = v2();
    client.versions = vec![Version::V2, Version::V1];
    client.offer = Offer::all();
    client.legacy_suites = false;
    let mut server = seed();
    server.versions = vec![Version::V1];
    server.offer = Offer::all();
    let mut pair = Pair::new(client, server, 37);
    pair.drive();
    assert_eq!(pair.client.version(), Some(Version::V1));
    pair.client.rotate(pair.now).unwrap();
    let hello = pair.client.poll_transmit().unwrap();
    let json: Map<String, Value> = serde_json::from_slice(hello.trim_ascii_end()).unwrap();
    assert_eq!(json["type"], "ALGORITHMS");
    assert_eq!(json["ciphers"], serde_json::json!(["AES-128"]));
    assert!(!json["modes"].as_array().unwrap().contains(&"ECB".into()));
}

/// A wrong FINISHED from the server: the client sends nothing after its
/// hello (no alert sealed under keys of an unconfirmed handshake).
#[test]
fn a_client_seals_no_alert_when_the_servers_finished_fails() {
    let mut pair = Pair::new(v2(), v2(), 35);
    // Frame 0 is the EXCHANGE, frame 1 the server's FINISHED.
    pair.to_client.hook = Some(edit_frame(1, flip_payload));
    pair.drive();
    assert_eq!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::BadFinished))
    );
    assert_eq!(pair.to_server.frames_seen, 1, "only the hello went out");
    assert_eq!(pair.server.state(), State::Handshaking);
}

/// A wrong FINISHED from the client: the server sends nothing after its
/// EXCHANGE and FINISHED, neither sealed nor plaintext.
#[test]
fn a_server_seals_no_alert_when_the_clients_finished_fails() {
    let mut pair = Pair::new(v2(), v2(), 36);
    // Frame 0 is the hello, frame 1 the client's FINISHED.
    pair.to_server.hook = Some(edit_frame(1, flip_payload));
    pair.drive();
    assert_eq!(
        pair.server_error(),
        Some(Error::Protocol(ProtocolError::BadFinished))
    );
    assert_eq!(pair.to_client.frames_seen, 2, "EXCHANGE and FINISHED only");
    // The client, verified the server and established, learns of it only
    // when the server hangs up.
    assert_eq!(pair.client.state(), State::Established);
    pair.client.handle_eof();
    assert_eq!(
        pair.client_error(),
        None,
        "the close event is polled by the pair only"
    );
    pair.collect_events();
    assert_eq!(
        pair.client_error(),
        Some(Error::Protocol(ProtocolError::UnexpectedEof))
    );
}

/// A flushed close that completes in the middle of an input: what follows
/// in the same input is ignored, as input after a close is, and the close
/// is reported once (a bad frame after it once reported a second one).
#[test]
fn a_close_completed_mid_input_is_reported_once_and_ends_the_input() {
    let mut pair = Pair::new(v2(), v2(), 38);
    pair.drive();
    pair.collect_events();
    let before = pair.server_events.len();
    pair.server.rotate(pair.now).unwrap();
    let rekey = pair.server.poll_transmit().unwrap();
    pair.server.send(pair.now, Message::Ok).unwrap();
    pair.server.flush_and_close(pair.now);
    assert_eq!(pair.server.state(), State::Rotating, "the OK waits");
    pair.client.handle_input(pair.now, &rekey).unwrap();
    let ack = pair.client.poll_transmit().unwrap();
    let input = [&ack[..], b"not json\r\n"].concat();
    assert_eq!(pair.server.handle_input(pair.now, &input), Ok(()));
    assert_eq!(pair.server.state(), State::Closed);
    pair.collect_events();
    let closed: Vec<&Event> = pair.server_events[before..]
        .iter()
        .filter(|e| matches!(e, Event::Closed { .. }))
        .collect();
    assert_eq!(closed, [&Event::Closed { error: None }]);
    // The OK went out in the new epoch.
    let ok = pair.server.poll_transmit().unwrap();
    pair.client.handle_input(pair.now, &ok).unwrap();
    pair.collect_events();
    assert_eq!(pair.client_messages(), [Message::Ok]);
}

// Found by an attacker's review of the rewritten connection (each test
// failed on the code it reviewed).

/// `Config::max_frame_len = usize::MAX` ("no limit"): a read that ends
/// in the `\r` of a delimiter overflows `max_frame_len + 1` in
/// `FrameSplitter::keep` (src/wire/codec.rs:90): a panic with debug
/// assertions (fuzz builds), a spurious `TooLong` in release.
#[test]
fn a_frame_limit_of_usize_max_survives_a_read_that_ends_in_cr() {
    let mut config = v2();
    config.max_frame_len = usize::MAX;
    let now = std::time::Instant::now();
    let mut server = Connection::server(config, review_rng(1), now).expect("a valid config");
    // TCP may cut anywhere, e.g. between the `\r` and the `\n`.
    assert_eq!(server.handle_input(now, b"{\"type\":\"OK\"}\r"), Ok(()));
    assert_eq!(server.state(), State::Negotiating);
}

/// A server whose `OK` waits for its own rotation, after
/// `flush_and_close`; returns the pair and the client's REKEY_ACK.
fn server_flushing_mid_rotation(server: Config, seed: u64) -> (Pair, Vec<u8>) {
    let mut pair = Pair::new(v2(), server, seed);
    pair.drive();
    pair.collect_events();
    pair.server.rotate(pair.now).unwrap();
    let rekey = pair.server.poll_transmit().unwrap();
    pair.server.send(pair.now, Message::Ok).unwrap();
    pair.server.flush_and_close(pair.now);
    assert_eq!(pair.server.state(), State::Rotating);
    pair.client.handle_input(pair.now, &rekey).unwrap();
    let ack = pair.client.poll_transmit().unwrap();
    (pair, ack)
}

/// A close completed mid-input (the flushed close above) is followed
/// in the same input by more than `max_frame_len` bytes without a
/// delimiter: the splitter's `TooLong` is returned (mod.rs:370) although
/// the connection closed cleanly (`Closed { error: None }`, no
/// `close_reason`), against "input after the close is ignored".
#[test]
fn input_after_a_flushed_close_mid_input_is_ignored_even_when_too_long() {
    let mut server = v2();
    server.max_frame_len = 16 * 1024;
    let (mut pair, ack) = server_flushing_mid_rotation(server, 83);
    let input = [&ack[..], &[b'x'].repeat(20 * 1024)].concat();
    assert_eq!(pair.server.handle_input(pair.now, &input), Ok(()));
    assert_eq!(pair.server.state(), State::Closed);
    assert_eq!(pair.server.close_reason(), None);
}

/// The same flushed close drops the peer's messages that arrived
/// earlier in the same input (mod.rs:603 → `close`, which retains no
/// `Event::Message`, mod.rs:466): the application never had the chance to
/// poll them. Fed in two reads with the events drained in between, the
/// DATA is delivered; fed in one read, it is lost. "Feeding the input one
/// byte at a time or all at once gives the same frames and events."
#[test]
fn a_flushed_close_mid_input_still_delivers_the_peers_earlier_messages() {
    let (mut pair, ack) = {
        let mut pair = Pair::new(v2(), v2(), 84);
        pair.drive();
        pair.collect_events();
        pair.server.rotate(pair.now).unwrap();
        let rekey = pair.server.poll_transmit().unwrap();
        pair.server.send(pair.now, Message::Ok).unwrap();
        pair.server.flush_and_close(pair.now);
        // The client's DATA crosses the server's REKEY.
        pair.client
            .send(pair.now, Message::Data(vec![7; 7]))
            .unwrap();
        let data = pair.client.poll_transmit().unwrap();
        pair.client.handle_input(pair.now, &rekey).unwrap();
        let ack = pair.client.poll_transmit().unwrap();
        (pair, [data, ack].concat())
    };
    let before = pair.server_events.len();
    pair.server.handle_input(pair.now, &ack).unwrap();
    pair.collect_events();
    let events = &pair.server_events[before..];
    assert!(
        events.contains(&Event::Message(Message::Data(vec![7; 7]))),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&Event::Closed { error: None }));
}

/// `send` bounds the frame a message makes by `frame_len_bound`
/// (mod.rs:666), which assumes ~4/3 growth per encoding; a v1 inner JSON
/// escapes a control character into six bytes (`\u0001`). A v1 `OPEN`
/// passes the check and yields a frame beyond `max_frame_len`, which the
/// peer then refuses, against "`send` refuses a message that would not
/// fit" (src/manual/security.rs, Limits).
#[test]
fn send_refuses_a_v1_message_whose_frame_would_exceed_the_limit() {
    let mut client = seed();
    client.max_frame_len = 64 * 1024;
    let mut pair = Pair::new(client, seed(), 86);
    pair.drive();
    assert_eq!(pair.client.state(), State::Established);
    let open = Message::Open {
        file_name: "\u{1}".repeat(10_000),
    };
    if pair.client.send(pair.now, open).is_ok() {
        let frame = pair.client.poll_transmit().unwrap();
        assert!(
            frame.len() - 2 <= 64 * 1024,
            "send accepted a message whose frame is {} bytes",
            frame.len() - 2
        );
    }
}

fn review_rng(seed: u8) -> rand_chacha::ChaCha20Rng {
    use rand_core::SeedableRng;
    rand_chacha::ChaCha20Rng::from_seed([seed; 32])
}

/// A `Config` changed in place, without the builder, cannot make a
/// connection the builder would refuse: both constructors validate.
#[test]
fn the_constructors_refuse_what_the_builder_refuses() {
    use securex::config::ConfigError;
    let now = std::time::Instant::now();
    let mut v1_with_psk = Config::seed_compatible();
    v1_with_psk.versions = vec![Version::V1];
    v1_with_psk.psk = securex::config::Psk::new("id", &[7; 16]);
    let mut no_frames = Config::default();
    no_frames.max_frame_len = 0;
    let cases = [
        (
            v1_with_psk,
            ConfigError::AuthenticationWithoutV2 { what: "a PSK" },
        ),
        (
            no_frames,
            ConfigError::ZeroLimit {
                field: "max_frame_len",
            },
        ),
    ];
    for (config, error) in cases {
        assert_eq!(config.validate(), Err(error.clone()));
        let client = Connection::client(config.clone(), review_rng(1), now);
        assert_eq!(client.err(), Some(error.clone()));
        let server = Connection::server(config, review_rng(2), now);
        assert_eq!(server.err(), Some(error));
    }
}
