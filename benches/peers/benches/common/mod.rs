//! What both bench binaries share: a securex client/server pair in
//! memory, established and then fed a transfer of DATA messages.

use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::{Config, Connection, Event, Message, State};

/// Bytes of every transfer: 64 MiB.
pub const TRANSFER: usize = 64 << 20;

/// The two configurations of a version: (client, server).
///
/// * v2: `Config::default()` on both sides;
/// * v1: `Config::seed_compatible()` on both sides, the client rotating
///   after 1000 protected frames instead of 20 (`--rotate-after 1000`).
///   With 16 or 64 KiB chunks a rotation comes after far more than the
///   server's minimum of 19 frames and 32,000 bytes, so it is accepted.
pub fn configs(v1: bool) -> (Config, Config) {
    if v1 {
        let mut client = Config::seed_compatible();
        client.rotate_after_frames = Some(1000);
        (client, Config::seed_compatible())
    } else {
        (Config::default(), Config::default())
    }
}

/// A client and a server of these configurations, established, with the
/// events of the handshake drained. RNGs: `ChaCha20Rng` seeded with `seed`
/// (client) and `seed + 1` (server).
pub fn established(client: &Config, server: &Config, seed: u64) -> (Connection, Connection) {
    let now = Instant::now();
    let mut c = Connection::client(client.clone(), ChaCha20Rng::seed_from_u64(seed), now).expect("a valid config");
    let mut s = Connection::server(
        server.clone(),
        ChaCha20Rng::seed_from_u64(seed.wrapping_add(1)),
        now,
    ).expect("a valid config");
    while c.state() != State::Established || s.state() != State::Established {
        let mut moved = false;
        while let Some(bytes) = c.poll_transmit() {
            s.handle_input(now, &bytes).expect("server accepts");
            moved = true;
        }
        while let Some(bytes) = s.poll_transmit() {
            c.handle_input(now, &bytes).expect("client accepts");
            moved = true;
        }
        assert!(moved, "the handshake stalled");
    }
    while c.poll_event().is_some() {}
    while s.poll_event().is_some() {}
    (c, s)
}

/// Moves every byte both ways until neither side has anything to send;
/// the server's events are consumed (DATA bytes added to `received`), the
/// client's dropped.
///
/// A v1 rotation the client starts sooner than the server's
/// `min_rotation_interval` (50 ms) after the epoch began is deferred by
/// the server: then this waits for the server's timer, as a real peer
/// would, and goes on.
pub fn shuttle(c: &mut Connection, s: &mut Connection, received: &mut usize, wire: &mut Vec<u8>) {
    loop {
        let mut moved = false;
        while c.poll_transmit_into(wire) > 0 {
            s.handle_input(Instant::now(), wire)
                .expect("server accepts");
            wire.clear();
            moved = true;
        }
        while let Some(event) = s.poll_event() {
            match event {
                Event::Message(Message::Data(data)) => *received += data.len(),
                Event::Closed { error } => panic!("server closed: {error:?}"),
                _ => {}
            }
        }
        while s.poll_transmit_into(wire) > 0 {
            c.handle_input(Instant::now(), wire)
                .expect("client accepts");
            wire.clear();
            moved = true;
        }
        while let Some(event) = c.poll_event() {
            if let Event::Closed { error } = event {
                panic!("client closed: {error:?}");
            }
        }
        if moved {
            continue;
        }
        if c.state() != State::Rotating {
            return;
        }
        // A deferred rotation: wait for the server's timer.
        let due = s.poll_timeout().expect("a deferred rotation has a timer");
        let wait = due.saturating_duration_since(Instant::now());
        assert!(wait < Duration::from_secs(1), "the rotation stalled");
        std::thread::sleep(wait);
        s.handle_timeout(Instant::now());
    }
}

/// Sends `total` bytes from `c` to `s` as DATA messages of `chunk` bytes
/// (the last one shorter), each sealed from `source` straight into a
/// buffer reused for every write (`send_data_into`, then
/// `poll_transmit_into`), shuttling after each; returns the DATA bytes the
/// server delivered.
pub fn transfer(
    c: &mut Connection,
    s: &mut Connection,
    source: &[u8],
    chunk: usize,
    total: usize,
) -> usize {
    let mut received = 0;
    let mut sent = 0;
    let mut wire = Vec::with_capacity(2 * chunk + 4096);
    while sent < total {
        let n = chunk.min(total - sent);
        c.send_data_into(Instant::now(), &source[..n], &mut wire)
            .expect("send");
        s.handle_input(Instant::now(), &wire)
            .expect("server accepts");
        wire.clear();
        sent += n;
        shuttle(c, s, &mut received, &mut wire);
    }
    received
}

/// A chunk of `len` bytes of a fixed pattern.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}
