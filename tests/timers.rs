//! Deadlines with the virtual clock running: a transfer that keeps moving
//! never times out, every answer the peer owes has its own deadline named
//! by [`Timer`], commands count from the time they are handed, and only
//! complete frames keep a connection alive.

mod common;

use std::time::Duration;

use common::{OnEvent, Pair};
use securex::{Config, Connection, Error, Event, Message, Role, State, Timer, Version};

const REPLY: Duration = Duration::from_secs(30);

#[allow(
    clippy::unnecessary_wraps,
    reason = "it builds the expected value of `Pair::client_error` and `server_error`, which return `Option`"
)]
fn timed_out(timer: Timer) -> Option<Error> {
    Some(Error::TimedOut { timer })
}

/// A server that answers `OPEN` (and, in v2, `CLOSE`) with `OK`.
fn answering_server(pair: &mut Pair) {
    pair.server_app = Some(Box::new(OnEvent(
        |conn: &mut Connection, now, event: Event| {
            let answer = match event {
                Event::Message(Message::Open { .. }) => true,
                Event::Message(Message::Close { .. }) => conn.version() == Some(Version::V2),
                _ => false,
            };
            if answer {
                conn.send(now, Message::Ok).unwrap();
            }
        },
    )));
}

/// One 1 KiB DATA every 10 s for 40 minutes between `OPEN` and `CLOSE`: far
/// longer than the idle timeout (300 s), during which a v2 server says
/// nothing at all and a v1 server only answers rotations.
fn forty_minute_upload(mut pair: Pair, close: Message) {
    answering_server(&mut pair);
    pair.drive();
    let mut sent = vec![Message::Open {
        file_name: "long.bin".into(),
    }];
    sent.extend(common::data_messages(240 * 1024, 1024, 9));
    sent.push(close);
    pair.send_paced(Role::Client, sent.clone(), Duration::from_secs(10))
        .unwrap();
    // Then the clock keeps running a little: the answer to CLOSE arrived.
    pair.wait(Duration::from_secs(1));
    assert!(
        pair.elapsed() >= Duration::from_mins(40),
        "{:?}",
        pair.elapsed()
    );
    assert_eq!(pair.server_messages(), sent);
    assert_eq!(pair.client_error(), None);
    assert_eq!(pair.server_error(), None);
    assert_eq!(pair.client.state(), State::Established);
    assert!(pair.returned.is_empty(), "{:?}", pair.returned);
}

#[test]
fn a_forty_minute_v2_upload_that_keeps_moving_never_times_out() {
    let pair = Pair::new(Config::default(), Config::default(), 1);
    forty_minute_upload(
        pair,
        Message::Close {
            sha256: Some([1; 32]),
        },
    );
}

#[test]
fn a_forty_minute_v1_upload_that_keeps_moving_never_times_out() {
    forty_minute_upload(Pair::seed(2), Message::Close { sha256: None });
}

#[test]
fn idle_is_nothing_sent_and_nothing_received_for_the_idle_timeout() {
    let mut pair = Pair::new(Config::default(), Config::default(), 3);
    pair.drive();
    // The client sends every 100 s and the server never answers: the
    // client is not idle (it sends), the server is not (it receives).
    for _ in 0..10 {
        pair.wait(Duration::from_secs(100));
        pair.client
            .send(pair.now, Message::Data(vec![1; 10]))
            .unwrap();
        pair.drive();
    }
    assert_eq!(pair.client.state(), State::Established);
    assert_eq!(pair.server.state(), State::Established);
    // Then silence: both idle 300 s after the last record.
    pair.wait(Duration::from_secs(299));
    assert_eq!(pair.client.state(), State::Established);
    pair.wait(Duration::from_secs(1));
    assert_eq!(pair.client_error(), timed_out(Timer::Idle));
    assert_eq!(pair.server_error(), timed_out(Timer::Idle));
}

/// A send after a long silence that starts a rotation arms the rotation's
/// deadline from the send's time, not from the last input's.
#[test]
fn a_rotation_started_by_a_send_after_a_silence_counts_from_the_send() {
    for version in [Version::V1, Version::V2] {
        let (mut client, mut server) = match version {
            Version::V1 => (Config::seed_compatible(), Config::seed_compatible()),
            _ => (Config::default(), Config::default()),
        };
        // Rotations after one small record (the limits on them have tests
        // of their own, in tests/limits.rs).
        common::without_rotation_limits(&mut client);
        common::without_rotation_limits(&mut server);
        client.rekey_after_records = Some(1);
        client.rotate_after_frames = Some(1);
        let mut pair = Pair::new(client, server, 4);
        pair.drive();
        pair.client.send(pair.now, Message::Data(vec![1])).unwrap();
        pair.drive();
        // Sixty seconds without a frame (less than the idle timeout): no
        // deadline falls due, so a driver hands neither side the time
        // until the application sends.
        pair.now += Duration::from_mins(1);
        assert_eq!(pair.client.state(), State::Established, "{version:?}");
        pair.client.send(pair.now, Message::Data(vec![2])).unwrap();
        assert_eq!(pair.client.state(), State::Rotating, "{version:?}");
        assert_eq!(
            pair.client.poll_timeout(),
            Some(pair.now + REPLY),
            "{version:?}"
        );
        pair.client.handle_timeout(pair.now);
        pair.drive();
        assert_eq!(pair.client_error(), None, "{version:?}");
        assert_eq!(pair.client.epoch(), 1, "{version:?}");
        assert_eq!(pair.server_messages().len(), 2, "{version:?}");
    }
}

/// The client, established with `version`'s preset, whose server receives
/// nothing from `OPEN` on (when `hold_open`) or answers nothing.
fn established(version: Version, seed: u64) -> Pair {
    let mut pair = match version {
        Version::V1 => Pair::seed(seed),
        _ => Pair::new(Config::default(), Config::default(), seed),
    };
    pair.drive();
    assert_eq!(pair.client.state(), State::Established);
    pair
}

#[test]
fn an_open_left_unanswered_fails_the_client_at_the_reply_deadline() {
    for version in [Version::V1, Version::V2] {
        let mut pair = established(version, 5);
        pair.wait(Duration::from_secs(7));
        let open = Message::Open {
            file_name: "f".into(),
        };
        pair.client.send(pair.now, open).unwrap();
        pair.drive();
        // The server got it, and says nothing.
        assert_eq!(pair.server_messages().len(), 1);
        pair.wait(REPLY.checked_sub(Duration::from_secs(1)).unwrap());
        assert_eq!(pair.client.state(), State::Established, "{version:?}");
        pair.wait(Duration::from_secs(1));
        assert_eq!(
            pair.client_error(),
            timed_out(Timer::OpenReply),
            "{version:?}"
        );
        assert_eq!(pair.elapsed(), Duration::from_secs(7) + REPLY);
    }
}

#[test]
fn a_v2_close_left_unanswered_fails_the_client_at_the_reply_deadline() {
    let mut pair = established(Version::V2, 6);
    answering_server(&mut pair);
    pair.client
        .send(
            pair.now,
            Message::Open {
                file_name: "f".into(),
            },
        )
        .unwrap();
    pair.drive();
    assert_eq!(pair.client_messages(), [Message::Ok]);
    pair.server_app = None;
    pair.wait(Duration::from_secs(100));
    pair.client
        .send(
            pair.now,
            Message::Close {
                sha256: Some([0; 32]),
            },
        )
        .unwrap();
    pair.wait(REPLY.checked_sub(Duration::from_secs(1)).unwrap());
    assert_eq!(pair.client.state(), State::Established);
    pair.wait(Duration::from_secs(1));
    assert_eq!(pair.client_error(), timed_out(Timer::CloseReply));
}

/// Existing v1 servers never answer `CLOSE`: it owes no answer.
#[test]
fn a_v1_close_owes_no_answer() {
    let mut pair = established(Version::V1, 7);
    answering_server(&mut pair);
    pair.client
        .send(
            pair.now,
            Message::Open {
                file_name: "f".into(),
            },
        )
        .unwrap();
    pair.client
        .send(pair.now, Message::Close { sha256: None })
        .unwrap();
    pair.drive();
    pair.wait(Duration::from_secs(299));
    assert_eq!(pair.client.state(), State::Established);
    pair.wait(Duration::from_secs(1));
    assert_eq!(pair.client_error(), timed_out(Timer::Idle));
}

/// Answers owed to several messages are awaited in order; each counts from
/// when the one before it was answered.
#[test]
fn owed_answers_are_awaited_in_order() {
    let mut pair = established(Version::V2, 8);
    pair.client
        .send(
            pair.now,
            Message::Open {
                file_name: "f".into(),
            },
        )
        .unwrap();
    pair.client
        .send(
            pair.now,
            Message::Close {
                sha256: Some([0; 32]),
            },
        )
        .unwrap();
    pair.drive();
    pair.wait(Duration::from_secs(20));
    pair.server.send(pair.now, Message::Ok).unwrap();
    pair.drive();
    // The OPEN is answered at 20 s; the CLOSE has 30 s from then.
    pair.wait(REPLY.checked_sub(Duration::from_secs(1)).unwrap());
    assert_eq!(pair.client.state(), State::Established);
    pair.wait(Duration::from_secs(1));
    assert_eq!(pair.client_error(), timed_out(Timer::CloseReply));
}

#[test]
fn a_rekey_left_unanswered_times_out_as_rekey_ack() {
    let mut pair = established(Version::V2, 9);
    // Enough traffic for a rotation (`Config::rekey_min_bytes`).
    pair.client
        .send(pair.now, Message::Data(vec![7; 8192]))
        .unwrap();
    pair.wait(Duration::from_secs(50));
    pair.to_server.hold = true;
    pair.client.rotate(pair.now).unwrap();
    pair.drive();
    assert_eq!(pair.client.state(), State::Rotating);
    pair.wait(REPLY);
    assert_eq!(pair.client_error(), timed_out(Timer::RekeyAck));
    assert_eq!(pair.elapsed(), Duration::from_secs(50) + REPLY);
}

/// The handshake's deadline counts from the connection's creation; bytes
/// that never complete a frame do not move it.
#[test]
fn a_client_trickling_a_byte_a_second_is_dropped_at_the_handshake_deadline() {
    let mut pair = Pair::new(Config::default(), Config::default(), 10);
    let hello = pair.client.poll_transmit().unwrap();
    let start = pair.now;
    let mut fed = 0;
    while pair.server.state() != State::Closed {
        assert!(fed + 2 < hello.len(), "the hello was complete");
        assert_eq!(pair.server.buffered_input_len(), fed);
        pair.now += Duration::from_secs(1);
        pair.server
            .handle_input(pair.now, &hello[fed..=fed])
            .unwrap();
        pair.server.handle_timeout(pair.now);
        fed += 1;
    }
    assert_eq!(pair.now - start, REPLY);
    assert_eq!(
        pair.server.close_reason(),
        Some(&Error::TimedOut {
            timer: Timer::Handshake
        })
    );
    assert_eq!(pair.server.poll_timeout(), None);
    // It holds none of the bytes it was fed.
    assert_eq!(pair.server.buffered_input_len(), 0);
}

/// Once established, only complete frames count as activity: a peer that
/// trickles the bytes of a frame it never completes is idle.
#[test]
fn an_established_peer_trickling_bytes_of_a_frame_it_never_ends_is_idle() {
    let mut pair = established(Version::V2, 11);
    let idle = Config::default().idle_timeout.unwrap();
    let start = pair.now;
    let trickle = b"{\"type\": \"SECURE_X\", \"payload\": \"";
    let mut i = 0;
    while pair.server.state() != State::Closed {
        pair.now += Duration::from_secs(1);
        let byte = [trickle.get(i).copied().unwrap_or(b'A')];
        pair.server.handle_input(pair.now, &byte).unwrap();
        pair.server.handle_timeout(pair.now);
        i += 1;
    }
    assert_eq!(pair.now - start, idle);
    assert_eq!(
        pair.server.close_reason(),
        Some(&Error::TimedOut { timer: Timer::Idle })
    );
    assert_eq!(pair.server.buffered_input_len(), 0);
}

#[test]
fn timed_out_names_what_was_awaited() {
    let error = Error::TimedOut {
        timer: Timer::OpenReply,
    };
    assert_eq!(
        error.to_string(),
        "timed out waiting for the answer to OPEN"
    );
    assert_eq!(error.kind(), securex::ErrorKind::TimedOut);
}

/// `Config::v1_rotate_after`: a v1 client rotates on time, once per
/// interval, with the clock running and the server's default rotation
/// limits (frames, bytes, interval) in force; without it, the same
/// transfer never rotates.
#[test]
fn a_v1_client_rotates_every_interval_of_v1_rotate_after() {
    let upload = |every: Option<Duration>| {
        let mut client = Config::seed_compatible();
        client.rotate_after_frames = None;
        client.v1_rotate_after = every;
        let mut pair = Pair::new(client, Config::seed_compatible(), 21);
        answering_server(&mut pair);
        pair.drive();
        let mut sent = vec![Message::Open {
            file_name: "timed.bin".into(),
        }];
        // 4 KiB every 2 s for 10 minutes: each minute carries 30 frames
        // and 120 KiB, more than a rotation waits for.
        sent.extend(common::data_messages(300 * 4096, 4096, 3));
        pair.send_paced(Role::Client, sent.clone(), Duration::from_secs(2))
            .unwrap();
        assert_eq!(pair.client_error(), None);
        assert_eq!(pair.server_error(), None);
        assert_eq!(pair.server_messages(), sent);
        assert_eq!(pair.server.epoch(), pair.client.epoch());
        pair.client.epoch()
    };
    assert_eq!(upload(None), 0);
    // 602 s of sending: a rotation at 60 s, 120 s, … 600 s (each due
    // with the first frame sent after its deadline).
    assert_eq!(upload(Some(Duration::from_mins(1))), 10);
}
