//! Two v1 Connections in memory: handshake, protected messages, rotation
//! without loss, and the same results whatever the input split.

mod common;

use common::{Pair, Split};
use securex::{Event, Message, State, Version};

#[test]
fn handshake_then_messages_arrive_in_order() {
    let mut pair = Pair::seed(1);
    pair.drive();
    assert_eq!(pair.client.state(), State::Established);
    assert_eq!(pair.server.state(), State::Established);
    let suite = pair.client.suite().unwrap();
    assert_eq!(suite.to_string(), "DH;AES-128;CBC;SHA-256");
    assert_eq!(pair.server.suite(), Some(suite));
    assert!(matches!(
        pair.client_events[0],
        Event::HandshakeComplete {
            version: Version::V1,
            ..
        }
    ));

    pair.client
        .send(Message::Open {
            file_name: "a.txt".into(),
        })
        .unwrap();
    pair.drive();
    pair.server.send(Message::Ok).unwrap();
    pair.client.send(Message::Data(b"hello".to_vec())).unwrap();
    pair.client.send(Message::Close).unwrap();
    pair.drive();
    assert_eq!(
        pair.server_messages(),
        [
            Message::Open {
                file_name: "a.txt".into()
            },
            Message::Data(b"hello".to_vec()),
            Message::Close
        ]
    );
    assert_eq!(pair.client_messages(), [Message::Ok]);
}

#[test]
fn thousands_of_messages_across_hundreds_of_rotations() {
    {
        let split = Split::Random;
        let mut pair = Pair::seed(3);
        pair.to_server.split = split;
        pair.to_client.split = split;
        let sent: Vec<Message> = (0..4000u32)
            .map(|i| Message::Data(i.to_be_bytes().repeat(1 + (i as usize % 7))))
            .collect();
        for (i, m) in sent.iter().enumerate() {
            pair.client.send(m.clone()).unwrap();
            // Let the network run now and then, so rotations interleave
            // with queued messages.
            if i % 37 == 0 {
                pair.drive();
            }
        }
        pair.drive();
        assert_eq!(pair.server_messages(), sent);
        // 20 protected frames per epoch: 4000 messages need 199 rotations.
        assert_eq!(pair.client.epoch(), 199);
        assert_eq!(pair.server.epoch(), 199);
        let rotations = pair
            .server_events
            .iter()
            .filter(|e| matches!(e, Event::KeyRotated { .. }))
            .count();
        assert_eq!(rotations, 199);
    }
}

#[test]
fn byte_by_byte_and_whole_input_give_the_same_events() {
    let run = |split| {
        let mut pair = Pair::seed(9);
        pair.to_server.split = split;
        pair.to_client.split = split;
        for i in 0..50u8 {
            pair.client.send(Message::Data(vec![i; 100])).unwrap();
        }
        pair.drive();
        (pair.server_events, pair.client_events)
    };
    let whole = run(Split::Whole);
    assert_eq!(run(Split::Bytes), whole);
    assert_eq!(run(Split::Random), whole);
}
