//! v2 key rotation inside the channel (REKEY, and REKEY_ACK in reply): under
//! continuous traffic both ways, started by both sides at once, by time,
//! and by the 3DES limit; nothing lost, duplicated or reordered, and old
//! epochs' records refused.

mod common;

use std::time::Duration;

use common::{Pair, Split};
use securex::error::RecordError;
use securex::suite::Offer;
use securex::{Config, Error, Event, Message, State};

/// v2 with rotation after `records` records, without the rotation limits
/// (these tests rotate after a few small records on a clock that stands
/// still; `tests/limits.rs` tests the limits).
fn config(records: Option<u64>) -> Config {
    let mut c = Config::default();
    common::without_rotation_limits(&mut c);
    c.rekey_after_records = records;
    c
}

fn rotations(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::KeyRotated { epoch, .. } => Some(*epoch),
            _ => None,
        })
        .collect()
}

#[test]
fn continuous_traffic_both_ways_across_many_rotations() {
    let mut pair = Pair::new(config(Some(7)), config(Some(5)), 1);
    pair.to_server.split = Split::Random;
    pair.to_client.split = Split::Random;
    pair.drive();
    let mut sent_up = Vec::new();
    let mut sent_down = 0;
    for i in 0..600u32 {
        let m = Message::Data(i.to_be_bytes().to_vec());
        pair.client.send(pair.now, m.clone()).unwrap();
        sent_up.push(m);
        if i % 3 == 0 {
            pair.server.send(pair.now, Message::Ok).unwrap();
            sent_down += 1;
        }
        if i % 11 == 0 {
            pair.step();
        }
    }
    pair.drive();
    assert_eq!(pair.server_messages(), sent_up);
    assert_eq!(pair.client_messages(), vec![Message::Ok; sent_down]);
    let epoch = pair.client.epoch();
    assert!(epoch > 50, "{epoch}");
    assert_eq!(pair.server.epoch(), epoch);
    // Every epoch reported once, in order, on both sides.
    let expected: Vec<u32> = (1..=epoch).collect();
    assert_eq!(rotations(&pair.client_events), expected);
    assert_eq!(rotations(&pair.server_events), expected);
    assert_eq!(pair.client.state(), State::Established);
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

#[test]
fn simultaneous_rotations_resolve_in_the_clients_favour() {
    let mut pair = Pair::new(config(Some(3)), config(Some(3)), 2);
    pair.drive();
    // Three application records fill epoch 0 on each side.
    for _ in 0..3 {
        pair.client.send(pair.now, Message::Data(vec![1])).unwrap();
        pair.server.send(pair.now, Message::Ok).unwrap();
    }
    // Both now start a rotation before either hears of the other's.
    pair.client.send(pair.now, Message::Data(vec![2])).unwrap();
    pair.server.send(pair.now, Message::Ok).unwrap();
    assert_eq!(pair.client.state(), State::Rotating);
    assert_eq!(pair.server.state(), State::Rotating);
    pair.drive();
    assert_eq!(pair.client.epoch(), 1);
    assert_eq!(pair.server.epoch(), 1);
    assert_eq!(rotations(&pair.client_events), [1]);
    assert_eq!(rotations(&pair.server_events), [1]);
    assert_eq!(
        pair.server_messages(),
        [
            Message::Data(vec![1]),
            Message::Data(vec![1]),
            Message::Data(vec![1]),
            Message::Data(vec![2])
        ]
    );
    assert_eq!(pair.client_messages(), vec![Message::Ok; 4]);
    assert_eq!(pair.server.state(), State::Established);
    // The crossing REKEYs are resolved, not refused.
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

#[test]
fn time_triggers_a_rotation() {
    let mut c = config(None);
    c.rekey_after = Some(Duration::from_mins(1));
    let mut pair = Pair::new(c.clone(), c, 3);
    pair.drive();
    pair.client.send(pair.now, Message::Data(vec![1])).unwrap();
    pair.drive();
    pair.advance(Duration::from_secs(59));
    pair.drive();
    assert_eq!(pair.client.epoch(), 0);
    pair.advance(Duration::from_secs(1));
    pair.drive();
    assert_eq!(pair.client.epoch(), 1);
    assert_eq!(pair.server.epoch(), 1);
    // The next rotation is due 60 s after the new epoch began.
    pair.client.send(pair.now, Message::Data(vec![2])).unwrap();
    pair.advance(Duration::from_mins(1));
    pair.drive();
    assert!(pair.client.epoch() >= 2);
    assert_eq!(
        pair.server_messages(),
        [Message::Data(vec![1]), Message::Data(vec![2])]
    );
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

#[test]
fn a_3des_key_never_protects_more_than_its_limit() {
    let mut c = config(None);
    c.legacy_suites = true;
    c.rekey_after_bytes = None;
    c.offer = Offer::from_wire_names(&["3DES"], &["CBC"], &["SHA-256"]);
    let mut pair = Pair::new(c.clone(), c, 4);
    pair.drive();
    let chunk = vec![0xabu8; 64 * 1024];
    let total = 10 * 1024 * 1024;
    for _ in 0..total / chunk.len() {
        pair.client
            .send(pair.now, Message::Data(chunk.clone()))
            .unwrap();
        pair.drive();
    }
    assert_eq!(pair.server_messages().len(), total / chunk.len());
    // Bytes received per epoch, from the order of events on the server.
    let mut per_epoch = vec![0usize];
    for e in &pair.server_events {
        match e {
            Event::KeyRotated { .. } => per_epoch.push(0),
            Event::Message(Message::Data(d)) => *per_epoch.last_mut().unwrap() += d.len(),
            _ => {}
        }
    }
    assert!(per_epoch.len() >= 3, "{per_epoch:?}");
    assert!(
        per_epoch
            .iter()
            .all(|&b| b as u64 <= securex::config::TDES_MAX_BYTES_PER_KEY),
        "{per_epoch:?}"
    );
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

#[test]
fn records_of_an_old_epoch_are_refused_after_a_rotation() {
    let mut pair = Pair::new(config(Some(3)), config(None), 5);
    pair.drive();
    // Keep a copy of every client frame.
    let copies = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = copies.clone();
    pair.to_server.hook = Some(Box::new(move |_, f| {
        sink.borrow_mut().push(f.clone());
        vec![f]
    }));
    for i in 0..5u8 {
        pair.client.send(pair.now, Message::Data(vec![i])).unwrap();
    }
    pair.drive();
    assert_eq!(pair.server.epoch(), 1);
    // Replay the first DATA record of epoch 0.
    let old = copies.borrow()[0].clone();
    pair.to_server.hook = None;
    pair.to_server.inject(&[old, b"\r\n".to_vec()].concat());
    pair.drive();
    assert_eq!(
        pair.server_error(),
        Some(Error::Record(RecordError::UnknownEpoch(0)))
    );
    // The replayed record's input failed, and nothing else did.
    assert_eq!(
        pair.returned.server,
        [Error::Record(RecordError::UnknownEpoch(0))]
    );
}

#[test]
fn time_triggered_rotations_happen_at_their_deadlines() {
    let mut c = config(None);
    c.rekey_after = Some(Duration::from_mins(1));
    let mut pair = Pair::new(c.clone(), c, 6);
    pair.drive();
    // Jumping from deadline to deadline: rotations at 60 s and 120 s (both
    // sides start one at once; the client's wins), none by 150 s.
    pair.drive_until(pair.start + Duration::from_secs(150));
    assert_eq!(pair.elapsed(), Duration::from_mins(2));
    assert_eq!(pair.client.epoch(), 2);
    assert_eq!(pair.server.epoch(), 2);
    assert_eq!(rotations(&pair.client_events), [1, 2]);
    assert_eq!(rotations(&pair.server_events), [1, 2]);
    assert_eq!(pair.client.state(), State::Established);
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

/// A 40-minute upload, one 1 KiB DATA every 10 s of virtual time, with a
/// rotation every minute on the way: everything arrives, in order, once.
#[test]
fn a_paced_upload_rotates_on_the_clock_and_loses_nothing() {
    let mut c = config(None);
    c.rekey_after = Some(Duration::from_mins(1));
    let mut pair = Pair::new(c.clone(), c, 7);
    pair.drive();
    let sent = common::data_messages(240 * 1024, 1024, 7);
    assert_eq!(sent.len(), 240);
    let interval = Duration::from_secs(10);
    pair.send_paced(securex::Role::Client, sent.clone(), interval)
        .unwrap();
    assert_eq!(pair.elapsed(), interval * 239);
    assert_eq!(pair.server_messages(), sent);
    // One rotation a minute: 39 in 2390 s.
    assert_eq!(pair.client.epoch(), 39);
    assert_eq!(pair.server.epoch(), 39);
    assert_eq!(pair.client.state(), State::Established);
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}
