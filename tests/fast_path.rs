//! The fast record path seen from outside: DATA sent from a borrowed
//! slice and written into the caller's buffer gives the same bytes as
//! `send` and `poll_transmit`, reuses the buffer, waits for keys while they
//! rotate, and refuses what `send` refuses; frames in another peer's JSON
//! form still go through the strict parser.

mod common;

use std::time::Instant;

use securex::error::Misuse;
use securex::{Config, Connection, Error, Event, Message, State};

use common::Pair;

/// Two pairs on the same seed, driven to established.
fn twins(client: &Config, server: &Config) -> (Pair, Pair) {
    let mut twins = [0, 1].map(|_| Pair::new(client.clone(), server.clone(), 11));
    for pair in &mut twins {
        pair.drive();
        assert_eq!(pair.client.state(), State::Established);
    }
    let [a, b] = twins;
    (a, b)
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "the bytes are `i * 31 + j` modulo 256 on purpose"
)]
fn chunk(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

/// What the server received: the DATA of its message events.
fn received(pair: &mut Pair) -> Vec<Vec<u8>> {
    pair.drive();
    pair.server_messages()
        .into_iter()
        .filter_map(|m| match m {
            Message::Data(d) => Some(d),
            _ => None,
        })
        .collect()
}

/// The same chunks through `send` + `poll_transmit` and through
/// `send_data_into` give the same bytes on the wire, in v2 and v1 (where
/// `send_data` is `send` of a copy), and arrive alike.
#[test]
fn borrowed_data_gives_the_bytes_send_gives() {
    for mut config in [Config::default(), Config::seed_compatible()] {
        // The clock stands still: no rotation may wait for it.
        common::without_rotation_limits(&mut config);
        let (mut a, mut b) = twins(&config, &config);
        let now = a.now;
        let mut buf = Vec::new();
        for i in 0..40 {
            let data = chunk(i, 1 + i * 997 % 20_000);
            a.client.send(now, Message::Data(data.clone())).unwrap();
            let via_send = a.client.poll_transmit().unwrap_or_default();
            b.client.send_data_into(now, &data, &mut buf).unwrap();
            assert_eq!(via_send, buf, "chunk {i}");
            a.server.handle_input(now, &via_send).unwrap();
            b.server.handle_input(now, &buf).unwrap();
            buf.clear();
        }
        assert_eq!(received(&mut a), received(&mut b));
        assert_eq!(received(&mut b).len(), 40);
    }
}

/// A driver that writes its buffer out and clears it keeps sending into
/// the same allocation: the buffer never moves once it has grown.
#[test]
fn the_callers_buffer_is_reused_without_reallocation() {
    let (mut pair, _) = twins(&Config::default(), &Config::default());
    let now = pair.now;
    let data = chunk(0, 16 * 1024);
    let mut buf = Vec::with_capacity(64 * 1024);
    let at = buf.as_ptr();
    for _ in 0..200 {
        pair.client.send_data_into(now, &data, &mut buf).unwrap();
        pair.server.handle_input(now, &buf).unwrap();
        buf.clear();
        assert_eq!(buf.as_ptr(), at);
    }
    assert_eq!(received(&mut pair).len(), 200);
}

/// A chunk sent while keys rotate waits for them and arrives in order;
/// `poll_transmit_into` appends to what the buffer holds.
#[test]
fn borrowed_data_waits_for_a_rotation_in_order() {
    let mut config = Config::default();
    common::without_rotation_limits(&mut config);
    config.rekey_after_records = Some(3);
    let (mut pair, _) = twins(&config, &config);
    let now = pair.now;
    let mut sent = Vec::new();
    let mut wire = Vec::new();
    for i in 0..10 {
        let data = chunk(i, 100 + i);
        pair.client.send_data(now, &data).unwrap();
        sent.push(data);
        let n = pair.client.poll_transmit_into(&mut wire);
        assert!(n > 0 || pair.client.state() == State::Rotating);
        pair.server.handle_input(now, &wire).unwrap();
        wire.clear();
        // The server's REKEY_ACK.
        pair.server.poll_transmit_into(&mut wire);
        pair.client.handle_input(now, &wire).unwrap();
        wire.clear();
    }
    pair.drive();
    let rotated = pair
        .client_events
        .iter()
        .filter(|e| matches!(e, Event::KeyRotated { .. }))
        .count();
    assert!(rotated >= 2, "{rotated} rotations");
    assert_eq!(received(&mut pair), sent);
}

/// `send_data` refuses what `send` refuses, and the connection stays as
/// it was.
#[test]
fn borrowed_data_is_refused_as_send_refuses_it() {
    let (mut pair, _) = twins(&Config::default(), &Config::default());
    let now = pair.now;
    let too_large = vec![0; pair.client.config().max_frame_len];
    assert!(matches!(
        pair.client.send_data(now, &too_large),
        Err(Error::Misuse(Misuse::MessageTooLarge { .. }))
    ));
    assert!(matches!(
        pair.server.send_data(now, b"x"),
        Err(Error::Misuse(Misuse::WrongRole { message: "DATA" }))
    ));
    assert_eq!(pair.client.buffered_len(), 0);
    pair.client.send_data(now, b"still fine").unwrap();
    pair.client.close(now);
    assert!(matches!(
        pair.client.send_data(now, b"x"),
        Err(Error::Misuse(Misuse::Closed))
    ));
}

/// A record written with another peer's separators and field order is
/// not the fast path's form: the strict parser takes it, and it opens.
#[test]
fn records_in_another_json_form_still_open() {
    let (mut pair, _) = twins(&Config::default(), &Config::default());
    let now = pair.now;
    pair.client.send_data(now, b"spaced out").unwrap();
    let wire = pair.client.poll_transmit().unwrap();
    let text = String::from_utf8(wire).unwrap();
    let frame = text.trim_end();
    let value: serde_json::Value = serde_json::from_str(frame).unwrap();
    // Python's json.dumps: ", " and ": " separators, keys sorted.
    let mut fields: Vec<(String, serde_json::Value)> =
        value.as_object().unwrap().clone().into_iter().collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {}", serde_json::to_string(k).unwrap(), v))
        .collect();
    let respelled = format!("{{{}}}\r\n", body.join(", "));
    assert_ne!(respelled.trim_end(), frame);
    pair.server.handle_input(now, respelled.as_bytes()).unwrap();
    assert_eq!(received(&mut pair), vec![b"spaced out".to_vec()]);
}

/// `poll_transmit_into` on an empty buffer hands over the output in one
/// piece, as `poll_transmit` does, and reports 0 when there is none.
#[test]
fn poll_transmit_into_hands_over_whole_frames() {
    let now = Instant::now();
    let rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1);
    let mut client = Connection::client(Config::default(), rng, now).expect("a valid config");
    let mut buf = Vec::new();
    let n = client.poll_transmit_into(&mut buf);
    assert!(n > 0 && buf.ends_with(b"\r\n") && buf.len() == n);
    assert_eq!(client.poll_transmit_into(&mut buf), 0);
    assert_eq!(buf.len(), n);
}

/// Drives a seed-compatible pair (rotation limits lifted) to established
/// and has the client start a renegotiation: returns the pair with the
/// client's new `ALGORITHMS` in the server's hands, unanswered on the
/// wire yet.
fn v1_renegotiating() -> Pair {
    let mut pair = Pair::seed(21);
    pair.drive();
    assert_eq!(pair.server.state(), State::Established);
    let now = pair.now;
    pair.client.send_data(now, b"epoch 0").unwrap();
    pair.client.rotate(now).unwrap();
    let hello = pair.client.poll_transmit().unwrap();
    pair.server.handle_input(now, &hello).unwrap();
    pair
}

/// A v1 server hands out its `EXCHANGE` before it derives the new keys:
/// the derivation is due (`poll_timeout` is now) only once the frame has
/// been polled, and `handle_timeout` runs it.
#[test]
fn a_v1_server_derives_after_its_exchange_is_out() {
    let mut pair = v1_renegotiating();
    let now = pair.now;
    assert_ne!(pair.server.poll_timeout(), Some(now), "due before polled");
    let exchange = pair.server.poll_transmit().unwrap();
    assert!(exchange.starts_with(b"{\"type\":\"EXCHANGE\""));
    assert_eq!(pair.server.poll_timeout(), Some(now), "not due once polled");
    pair.server.handle_timeout(now);
    assert_ne!(
        pair.server.poll_timeout(),
        Some(now),
        "still due after it ran"
    );
    pair.client.handle_input(now, &exchange).unwrap();
    pair.client.send_data(now, b"epoch 1").unwrap();
    pair.drive();
    assert_eq!(
        received(&mut pair),
        [b"epoch 0".to_vec(), b"epoch 1".to_vec()]
    );
}

/// A record of the new keys that arrives before the derivation ran has
/// the keys derived first, and opens.
#[test]
fn a_v1_record_that_comes_first_has_its_keys_derived() {
    let mut pair = v1_renegotiating();
    let now = pair.now;
    let exchange = pair.server.poll_transmit().unwrap();
    pair.client.handle_input(now, &exchange).unwrap();
    pair.client.send_data(now, b"epoch 1").unwrap();
    let record = pair.client.poll_transmit().unwrap();
    pair.server.handle_input(now, &record).unwrap();
    assert_eq!(
        received(&mut pair),
        [b"epoch 0".to_vec(), b"epoch 1".to_vec()]
    );
}
