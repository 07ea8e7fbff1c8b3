//! `Connection::poll_output` alone drives a pair: a file's worth of DATA
//! with key rotations, the deadlines met by a clock that jumps to the next
//! `Output::Timeout`, the end seen as `Output::Closed`; and a silent peer
//! is timed out through the same loop.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::error::Timer;
use securex::{Config, Connection, Error, Event, Message, Output, State};

/// One side of the pair and what the loop saw of it.
struct Side {
    conn: Connection,
    /// Bytes written towards the other side, not yet delivered.
    wire: VecDeque<Vec<u8>>,
    events: Vec<Event>,
    deadline: Option<Instant>,
    closed: bool,
}

impl Side {
    fn new(conn: Connection) -> Side {
        Side {
            conn,
            wire: VecDeque::new(),
            events: Vec::new(),
            deadline: None,
            closed: false,
        }
    }

    /// Drains `poll_output` until it says to wait; the server answers
    /// `OPEN` and `CLOSE` with `OK`.
    fn drain(&mut self, now: Instant) {
        loop {
            match self.conn.poll_output() {
                Output::Transmit(bytes) => self.wire.push_back(bytes),
                Output::Event(event) => {
                    if let Event::Message(Message::Open { .. } | Message::Close { .. }) = &event {
                        self.conn.send(now, Message::Ok).unwrap();
                    }
                    self.events.push(event);
                }
                Output::Timeout(at) => {
                    self.deadline = at;
                    return;
                }
                Output::Closed => {
                    self.closed = true;
                    self.deadline = None;
                    return;
                }
                other => panic!("an output this test does not know: {other:?}"),
            }
        }
    }

    fn data_received(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for event in &self.events {
            if let Event::Message(Message::Data(d)) = event {
                all.extend_from_slice(d);
            }
        }
        all
    }

    fn rotations(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::KeyRotated { .. }))
            .count()
    }

    #[allow(
        clippy::option_option,
        reason = "`None`: not closed; `Some(None)`: closed cleanly; `Some(Some(e))`: closed on `e`"
    )]
    fn close_error(&self) -> Option<Option<Error>> {
        self.events.iter().find_map(|e| match e {
            Event::Closed { error } => Some(error.clone()),
            _ => None,
        })
    }
}

/// Delivers what each side wrote, or else moves the clock to the earliest
/// deadline and calls `handle_timeout` there; stops when both sides are
/// closed, or nothing is in flight and no deadline is due within `within`.
fn run(client: &mut Side, server: &mut Side, mut now: Instant, within: Duration) -> Instant {
    for _ in 0..100_000 {
        client.drain(now);
        server.drain(now);
        if client.closed && server.closed {
            return now;
        }
        if let Some(bytes) = client.wire.pop_front() {
            server.conn.handle_input(now, &bytes).ok();
            continue;
        }
        if let Some(bytes) = server.wire.pop_front() {
            client.conn.handle_input(now, &bytes).ok();
            continue;
        }
        // Nothing in flight: the clock runs to the next deadline if it is
        // at most `within` away (a deferred rotation, say); else the pair
        // has settled.
        let next = [client.deadline, server.deadline]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(next) if next <= now + within => now = now.max(next),
            _ => return now,
        }
        for side in [&mut *client, &mut *server] {
            if side.deadline.is_some_and(|d| d <= now) {
                side.conn.handle_timeout(now);
            }
        }
    }
    panic!("the pair never settled");
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "an xorshift generator: each byte is the low byte of its state"
)]
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn poll_output_alone_moves_a_file_with_rotations_and_ends_in_closed() {
    let start = Instant::now();
    let mut config = Config::default();
    config.rekey_after_records = Some(8);
    let mut client = Side::new(Connection::client(config.clone(), rng(1), start).unwrap());
    let mut server = Side::new(Connection::server(config, rng(2), start).unwrap());

    let file = pseudo_random(40 * 16 * 1024 + 123);
    client
        .conn
        .send(
            start,
            Message::Open {
                file_name: "f.bin".into(),
            },
        )
        .unwrap();
    let mut now = start;
    for chunk in file.chunks(16 * 1024) {
        client.conn.send_data(now, chunk).unwrap();
        now = run(&mut client, &mut server, now, Duration::from_millis(100));
    }
    client
        .conn
        .send(
            now,
            Message::Close {
                sha256: Some([0; 32]),
            },
        )
        .unwrap();
    now = run(&mut client, &mut server, now, Duration::from_millis(100));
    assert_eq!(server.data_received(), file);
    assert!(server.rotations() >= 4, "rotations: {}", server.rotations());
    assert_eq!(client.rotations(), server.rotations());
    let oks = client
        .events
        .iter()
        .filter(|e| matches!(e, Event::Message(Message::Ok)))
        .count();
    assert_eq!(oks, 2);

    client.conn.close(now);
    run(&mut client, &mut server, now, Duration::from_hours(1));
    assert!(client.closed && server.closed);
    assert_eq!(client.close_error(), Some(None));
    assert!(server.close_error().is_some());
    assert_eq!(client.conn.poll_output(), Output::Closed);
}

#[test]
fn poll_output_times_a_silent_server_out_at_its_deadline() {
    let start = Instant::now();
    let config = Config::default();
    let timeout = config.handshake_timeout.unwrap();
    let mut client = Side::new(Connection::client(config, rng(3), start).unwrap());
    client.drain(start);
    assert!(!client.wire.is_empty(), "the hello is the first output");
    assert_eq!(client.deadline, Some(start + timeout));
    // The server never answers: the loop waits until the deadline.
    let at = client.deadline.unwrap();
    client.conn.handle_timeout(at);
    client.drain(at);
    assert!(client.closed);
    assert_eq!(client.conn.state(), State::Closed);
    assert_eq!(
        client.close_error(),
        Some(Some(Error::TimedOut {
            timer: Timer::Handshake
        }))
    );
}

#[test]
fn no_deadline_armed_is_a_timeout_of_none() {
    let start = Instant::now();
    let mut config = Config::default();
    config.handshake_timeout = None;
    config.idle_timeout = None;
    let mut server = Connection::server(config, rng(4), start).unwrap();
    assert_eq!(server.poll_output(), Output::Timeout(None));
}
