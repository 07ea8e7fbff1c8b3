//! The in-memory test harness: a client and a server `Connection` joined by
//! two links that can split, delay, drop, duplicate, reorder and corrupt
//! what they carry. Everything is deterministic: the connections' RNGs and
//! the links' random splits come from seeds.

#![allow(dead_code)]

pub mod programs;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use securex::{Config, Connection, Event, Message};

/// How a link cuts the byte stream into the pieces handed to
/// `handle_input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Everything available in one piece.
    Whole,
    /// One byte at a time.
    Bytes,
    /// Pieces of random length (1 to 4096 bytes).
    Random,
}

/// What a link does to each frame (without its `\r\n`) before delivering
/// it. Returns the frames to deliver instead: none to drop it, two to
/// duplicate it, a changed one to corrupt it.
pub type FrameHook = Box<dyn FnMut(usize, Vec<u8>) -> Vec<Vec<u8>>>;

/// One direction of the wire.
pub struct Link {
    /// Bytes written by the sender, not yet cut into frames.
    pending: Vec<u8>,
    /// Frames seen so far on this link.
    pub frames_seen: usize,
    /// Bytes on their way to the receiver.
    in_flight: VecDeque<u8>,
    /// Frames held back by `hold`, delivered by `release`.
    held: Vec<Vec<u8>>,
    pub split: Split,
    pub hook: Option<FrameHook>,
    /// Hold back every frame instead of delivering it.
    pub hold: bool,
    rng: ChaCha20Rng,
}

impl Link {
    fn new(seed: u64) -> Link {
        Link {
            pending: Vec::new(),
            frames_seen: 0,
            in_flight: VecDeque::new(),
            held: Vec::new(),
            split: Split::Whole,
            hook: None,
            hold: false,
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    /// Takes what a connection wrote.
    fn write(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
            let frame: Vec<u8> = self.pending.drain(..end + 2).take(end).collect();
            let index = self.frames_seen;
            self.frames_seen += 1;
            let out = match &mut self.hook {
                Some(hook) => hook(index, frame),
                None => vec![frame],
            };
            for frame in out {
                if self.hold {
                    self.held.push(frame);
                } else {
                    self.deliver(frame);
                }
            }
        }
    }

    fn deliver(&mut self, frame: Vec<u8>) {
        self.in_flight.extend(frame);
        self.in_flight.extend(b"\r\n");
    }

    /// Delivers the held frames in the given order (indices into the held
    /// list), and stops holding.
    pub fn release(&mut self, order: &[usize]) {
        let held = std::mem::take(&mut self.held);
        for &i in order {
            self.deliver(held[i].clone());
        }
        self.hold = false;
    }

    /// Frames held back so far.
    pub fn held(&self) -> &[Vec<u8>] {
        &self.held
    }

    /// Raw bytes to inject, bypassing the hook.
    pub fn inject(&mut self, bytes: &[u8]) {
        self.in_flight.extend(bytes);
    }

    /// The next piece for the receiver, if any.
    fn next_piece(&mut self) -> Option<Vec<u8>> {
        if self.in_flight.is_empty() {
            return None;
        }
        let n = match self.split {
            Split::Whole => self.in_flight.len(),
            Split::Bytes => 1,
            Split::Random => 1 + (self.rng.next_u32() as usize % 4096),
        }
        .min(self.in_flight.len());
        Some(self.in_flight.drain(..n).collect())
    }
}

/// The errors `handle_input` returned on each side (see `Pair::step_with`).
#[derive(Debug, Default)]
pub struct Returned {
    /// The client's, in order.
    pub client: Vec<securex::Error>,
    /// The server's, in order.
    pub server: Vec<securex::Error>,
}

/// A client and a server joined in memory.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    pub to_server: Link,
    pub to_client: Link,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
}

impl Pair {
    /// A pair with deterministic RNGs derived from `seed`.
    pub fn new(client: Config, server: Config, seed: u64) -> Pair {
        let now = Instant::now();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let client_rng = ChaCha20Rng::seed_from_u64(rng.next_u64());
        let server_rng = ChaCha20Rng::seed_from_u64(rng.next_u64());
        Pair {
            client: Connection::client(client, client_rng, now),
            server: Connection::server(server, server_rng, now),
            now,
            to_server: Link::new(rng.next_u64()),
            to_client: Link::new(rng.next_u64()),
            client_events: Vec::new(),
            server_events: Vec::new(),
        }
    }

    /// A seed-compatible pair.
    pub fn seed(seed: u64) -> Pair {
        Pair::new(Config::seed_compatible(), Config::seed_compatible(), seed)
    }

    /// Moves output to the links and one piece of input across each link;
    /// returns whether anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some(bytes) = self.client.poll_transmit() {
            self.to_server.write(&bytes);
            moved = true;
        }
        while let Some(bytes) = self.server.poll_transmit() {
            self.to_client.write(&bytes);
            moved = true;
        }
        if let Some(piece) = self.to_server.next_piece() {
            let _ = self.server.handle_input(self.now, &piece);
            moved = true;
        }
        if let Some(piece) = self.to_client.next_piece() {
            let _ = self.client.handle_input(self.now, &piece);
            moved = true;
        }
        self.collect_events() || moved
    }

    /// Like `step`, but keeps every error `handle_input` returned in
    /// `returned`, and hands each server event, once recorded in
    /// `server_events`, to `app` with the server connection (so that a
    /// server application such as a `Download` can react to it).
    pub fn step_with(
        &mut self,
        returned: &mut Returned,
        app: &mut dyn FnMut(&mut Connection, Event),
    ) -> bool {
        let mut moved = false;
        while let Some(bytes) = self.client.poll_transmit() {
            self.to_server.write(&bytes);
            moved = true;
        }
        while let Some(bytes) = self.server.poll_transmit() {
            self.to_client.write(&bytes);
            moved = true;
        }
        if let Some(piece) = self.to_server.next_piece() {
            if let Err(e) = self.server.handle_input(self.now, &piece) {
                returned.server.push(e);
            }
            moved = true;
        }
        if let Some(piece) = self.to_client.next_piece() {
            if let Err(e) = self.client.handle_input(self.now, &piece) {
                returned.client.push(e);
            }
            moved = true;
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
            moved = true;
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e.clone());
            app(&mut self.server, e);
            moved = true;
        }
        moved
    }

    /// `drive` with `step_with`.
    pub fn drive_with(
        &mut self,
        returned: &mut Returned,
        app: &mut dyn FnMut(&mut Connection, Event),
    ) {
        for _ in 0..10_000_000 {
            if !self.step_with(returned, app) {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    /// Steps until nothing moves (at most a bound of steps).
    pub fn drive(&mut self) {
        for _ in 0..10_000_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    /// Advances the virtual clock and hands both sides the time.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.collect_events();
    }

    /// Moves both sides' events into `client_events` / `server_events`.
    pub fn collect_events(&mut self) -> bool {
        let mut any = false;
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
            any = true;
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
            any = true;
        }
        any
    }

    /// Application messages the server received, in order.
    pub fn server_messages(&self) -> Vec<Message> {
        messages(&self.server_events)
    }

    /// Application messages the client received, in order.
    pub fn client_messages(&self) -> Vec<Message> {
        messages(&self.client_events)
    }

    /// The error the server closed with, if any.
    pub fn server_error(&self) -> Option<securex::Error> {
        closed_error(&self.server_events)
    }

    /// The error the client closed with, if any.
    pub fn client_error(&self) -> Option<securex::Error> {
        closed_error(&self.client_events)
    }
}

fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn closed_error(events: &[Event]) -> Option<securex::Error> {
    events.iter().find_map(|e| match e {
        Event::Closed { error } => error.clone(),
        _ => None,
    })
}
