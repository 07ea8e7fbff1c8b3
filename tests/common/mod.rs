//! The in-memory test harness, in the manner of quinn-proto's
//! `tests/util.rs`: a client and a server `Connection` joined by two links
//! that can split, delay, drop, duplicate, reorder and corrupt what they
//! carry, a virtual clock, and the applications on top of each side.
//! Everything is deterministic: the connections' RNGs and the links'
//! random splits come from seeds, and time moves only when a test moves it.
//!
//! * [`Pair::step`] moves everything in flight once: each side's output
//!   onto its link, then each link's bytes to the other side, piece by
//!   piece. After every piece the receiver's events go to its [`App`] and
//!   its output onto its link, as a program's read loop would do. Every
//!   error `handle_input` returns is kept, in order, in [`Pair::returned`].
//! * [`Pair::drive`] steps until nothing moves (at most [`MAX_STEPS`]).
//! * [`Pair::drive_until`] also moves the clock: whenever nothing moves, it
//!   jumps to the earliest deadline of either side, if that is no later
//!   than the horizon, and hands both sides the time. It is separate from
//!   `drive` because the idle timer is always armed: a `drive` that jumped
//!   would never settle.
//! * [`Pair::wait`], [`Pair::paced`] and [`Pair::send_paced`] run long
//!   transfers with the clock moving: messages spread over minutes of
//!   virtual time, with every timer firing at its deadline on the way.

#![allow(dead_code)]

pub mod attacker;
pub mod programs;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use securex::transfer::{Download, Upload};
use securex::{Config, Connection, Event, Message, Role};

/// The most steps `drive` and `drive_until` take before they give up: a
/// pair that needs more never settles.
pub const MAX_STEPS: usize = 100_000;

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

/// A hook that rewrites the JSON of frame `index` of a link with `edit`
/// (the other frames pass unchanged).
#[allow(dead_code)] // Not every test binary edits frames.
pub fn edit_frame(
    index: usize,
    edit: impl Fn(&mut serde_json::Map<String, serde_json::Value>) + 'static,
) -> FrameHook {
    Box::new(move |i, frame| {
        if i != index {
            return vec![frame];
        }
        let mut json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&frame).unwrap();
        edit(&mut json);
        vec![serde_json::to_vec(&json).unwrap()]
    })
}

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

    /// Raw bytes to inject, bypassing the hook and `hold`.
    pub fn inject(&mut self, bytes: &[u8]) {
        self.in_flight.extend(bytes);
    }

    /// Bytes on their way to the receiver.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
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

/// The errors `handle_input` returned on each side, in order (see
/// [`Pair::returned`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Returned {
    /// The client's, in order.
    pub client: Vec<securex::Error>,
    /// The server's, in order.
    pub server: Vec<securex::Error>,
}

impl Returned {
    /// No input failed on either side.
    pub fn is_empty(&self) -> bool {
        self.client.is_empty() && self.server.is_empty()
    }

    /// The errors of one side.
    pub fn of(&self, role: Role) -> &[securex::Error] {
        match role {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }
}

/// What runs on top of one side of a pair: a program's reaction to its
/// connection's events. Install one as [`Pair::client_app`] or
/// [`Pair::server_app`]; share it (`Rc<RefCell<_>>`) to look at it after.
pub trait App {
    /// Reacts to one event of the connection, right after the pair
    /// recorded it in its events.
    /// `now` is the pair's virtual clock.
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event);

    /// Called at the start of every step, before the connection's output
    /// is drained: hands the connection what it should send now.
    fn pump(&mut self, _conn: &mut Connection, _now: Instant) {}
}

impl App for Download {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        Download::handle_event(self, conn, now, event);
    }
}

impl<R: Read> App for Upload<R> {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        Upload::handle_event(self, conn, now, event);
    }

    fn pump(&mut self, conn: &mut Connection, now: Instant) {
        Upload::pump(self, conn, now);
    }
}

impl<A: App> App for Rc<RefCell<A>> {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        self.borrow_mut().handle_event(conn, now, event);
    }

    fn pump(&mut self, conn: &mut Connection, now: Instant) {
        self.borrow_mut().pump(conn, now);
    }
}

/// An [`App`] made of a closure called with every event (and the time).
pub struct OnEvent<F>(pub F);

impl<F: FnMut(&mut Connection, Instant, Event)> App for OnEvent<F> {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        (self.0)(conn, now, event);
    }
}

/// Lifts the bounds on rotations the peer starts (the fewest frames and
/// bytes before one, the interval between them), for tests of other things
/// that rotate after a few small messages on a clock that stands still.
/// `tests/limits.rs` tests the bounds themselves.
pub fn without_rotation_limits(c: &mut Config) {
    c.v1_rotation_min_frames = 0;
    c.v1_rotation_min_bytes = 0;
    c.rekey_min_bytes = 0;
    c.min_rotation_interval = None;
    c.v1_rotation_min_interval = None;
}

/// A client and a server joined in memory.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    /// The virtual clock: every input is handed this time.
    pub now: Instant,
    /// When the pair was made (`now` at the start).
    pub start: Instant,
    pub to_server: Link,
    pub to_client: Link,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    /// Every error `handle_input` returned, per side, in order.
    pub returned: Returned,
    /// What runs on top of the client, if anything.
    pub client_app: Option<Box<dyn App>>,
    /// What runs on top of the server, if anything.
    pub server_app: Option<Box<dyn App>>,
}

impl Pair {
    /// A pair with deterministic RNGs derived from `seed`.
    pub fn new(client: Config, server: Config, seed: u64) -> Pair {
        let now = Instant::now();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let client_rng = ChaCha20Rng::seed_from_u64(rng.next_u64());
        let server_rng = ChaCha20Rng::seed_from_u64(rng.next_u64());
        Pair {
            client: Connection::client(client, client_rng, now).expect("a valid config"),
            server: Connection::server(server, server_rng, now).expect("a valid config"),
            now,
            start: now,
            to_server: Link::new(rng.next_u64()),
            to_client: Link::new(rng.next_u64()),
            client_events: Vec::new(),
            server_events: Vec::new(),
            returned: Returned::default(),
            client_app: None,
            server_app: None,
        }
    }

    /// A seed-compatible pair, without the rotation limits
    /// ([`without_rotation_limits`]): its tests rotate after a few small
    /// records on a clock that stands still.
    pub fn seed(seed: u64) -> Pair {
        let mut config = Config::seed_compatible();
        without_rotation_limits(&mut config);
        Pair::new(config.clone(), config, seed)
    }

    /// Virtual time since the pair was made.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves everything in flight once: the apps pump, both sides' output
    /// goes onto the links, then every byte in flight towards the server
    /// and then towards the client is handed over, piece by piece (what
    /// the server answers reaches the client in the same step). After each
    /// piece the receiver's events are recorded and handed to its app, and
    /// its output goes onto its link. Errors `handle_input` returns are
    /// kept in `returned`. Returns whether anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        for role in [Role::Client, Role::Server] {
            moved |= self.pump_and_transmit(role);
        }
        moved |= self.deliver(Role::Server);
        moved |= self.deliver(Role::Client);
        moved | self.collect_events()
    }

    /// Steps until nothing moves; panics beyond [`MAX_STEPS`] steps.
    pub fn drive(&mut self) {
        for _ in 0..MAX_STEPS {
            if !self.step() {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    /// Drives, and whenever nothing moves, jumps the clock to the earliest
    /// deadline of either side if it is no later than `horizon`, hands both
    /// sides the time, and goes on. Returns when nothing moves and no
    /// deadline is due by `horizon` (the clock stays at the last deadline
    /// it jumped to). Panics beyond [`MAX_STEPS`] steps and jumps.
    pub fn drive_until(&mut self, horizon: Instant) {
        for _ in 0..MAX_STEPS {
            if self.step() {
                continue;
            }
            match self.next_deadline() {
                Some(deadline) if deadline <= horizon => {
                    self.now = self.now.max(deadline);
                    self.timeout();
                }
                _ => return,
            }
        }
        panic!("the pair did not settle by the horizon");
    }

    /// The earliest deadline of either side, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.client.poll_timeout(), self.server.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Lets `by` of virtual time pass with the pair running: every timer
    /// due on the way fires at its deadline ([`Pair::drive_until`]), then
    /// the clock stands at `now + by`, both sides are handed that time,
    /// and the pair is driven.
    pub fn wait(&mut self, by: Duration) {
        let horizon = self.now + by;
        self.drive_until(horizon);
        self.now = self.now.max(horizon);
        self.timeout();
        self.drive();
    }

    /// Advances the virtual clock and hands both sides the time (without
    /// driving: see [`Pair::wait`] for that).
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.timeout();
    }

    /// Runs `ticks` rounds `interval` apart on the virtual clock: each
    /// round calls `each` with the pair and the round's number, then
    /// drives; between rounds the pair waits `interval` ([`Pair::wait`]).
    pub fn paced(
        &mut self,
        ticks: usize,
        interval: Duration,
        mut each: impl FnMut(&mut Pair, usize),
    ) {
        for i in 0..ticks {
            if i > 0 {
                self.wait(interval);
            }
            each(self, i);
            self.drive();
        }
    }

    /// Sends `messages` from `from` one by one, `interval` apart on the
    /// virtual clock, driving in between ([`Pair::paced`]). Stops at the
    /// first message the connection refuses: its index and the error.
    pub fn send_paced(
        &mut self,
        from: Role,
        messages: impl IntoIterator<Item = Message>,
        interval: Duration,
    ) -> Result<(), (usize, securex::Error)> {
        let messages: Vec<Message> = messages.into_iter().collect();
        let mut refused = None;
        self.paced(messages.len(), interval, |pair, i| {
            if refused.is_none()
                && let Err(e) = {
                    let now = pair.now;
                    pair.conn(from).send(now, messages[i].clone())
                }
            {
                refused = Some((i, e));
            }
        });
        refused.map_or(Ok(()), Err)
    }

    /// One side's connection.
    pub fn conn(&mut self, role: Role) -> &mut Connection {
        match role {
            Role::Client => &mut self.client,
            Role::Server => &mut self.server,
        }
    }

    /// Hands both sides the current time, and collects their events.
    fn timeout(&mut self) {
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.collect_events();
    }

    /// One side's app pumps, and its output goes onto its link.
    fn pump_and_transmit(&mut self, role: Role) -> bool {
        let (conn, app, link) = match role {
            Role::Client => (&mut self.client, &mut self.client_app, &mut self.to_server),
            Role::Server => (&mut self.server, &mut self.server_app, &mut self.to_client),
        };
        if let Some(app) = app {
            app.pump(conn, self.now);
        }
        transmit(conn, link)
    }

    /// Hands everything in flight towards `to` over, piece by piece.
    fn deliver(&mut self, to: Role) -> bool {
        let now = self.now;
        let (conn, inbound, outbound, events, app, errors) = match to {
            Role::Server => (
                &mut self.server,
                &mut self.to_server,
                &mut self.to_client,
                &mut self.server_events,
                &mut self.server_app,
                &mut self.returned.server,
            ),
            Role::Client => (
                &mut self.client,
                &mut self.to_client,
                &mut self.to_server,
                &mut self.client_events,
                &mut self.client_app,
                &mut self.returned.client,
            ),
        };
        let mut moved = false;
        while let Some(piece) = inbound.next_piece() {
            moved = true;
            if let Err(e) = conn.handle_input(now, &piece) {
                errors.push(e);
            }
            drain_events(conn, now, events, app);
            transmit(conn, outbound);
        }
        moved
    }

    /// Moves both sides' events into `client_events` / `server_events`,
    /// handing each to the side's app; returns whether there were any.
    pub fn collect_events(&mut self) -> bool {
        let client = drain_events(
            &mut self.client,
            self.now,
            &mut self.client_events,
            &mut self.client_app,
        );
        let server = drain_events(
            &mut self.server,
            self.now,
            &mut self.server_events,
            &mut self.server_app,
        );
        client || server
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

/// Writes what `conn` has to send onto `link`; returns whether there was
/// anything.
fn transmit(conn: &mut Connection, link: &mut Link) -> bool {
    let mut any = false;
    while let Some(bytes) = conn.poll_transmit() {
        link.write(&bytes);
        any = true;
    }
    any
}

/// Records `conn`'s events in `events` and hands each to `app`; returns
/// whether there were any.
fn drain_events(
    conn: &mut Connection,
    now: Instant,
    events: &mut Vec<Event>,
    app: &mut Option<Box<dyn App>>,
) -> bool {
    let mut any = false;
    while let Some(event) = conn.poll_event() {
        events.push(event.clone());
        if let Some(app) = app {
            app.handle_event(conn, now, event);
        }
        any = true;
    }
    any
}

/// `len` bytes of deterministic data (from `seed`) cut into DATA messages
/// of `chunk` bytes (the last one shorter).
pub fn data_messages(len: usize, chunk: usize, seed: u64) -> Vec<Message> {
    programs::random_bytes(len, seed)
        .chunks(chunk)
        .map(|c| Message::Data(c.to_vec()))
        .collect()
}

/// The application messages among `events`.
pub fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// The error of the `Closed` event among `events`, if any.
pub fn closed_error(events: &[Event]) -> Option<securex::Error> {
    events.iter().find_map(|e| match e {
        Event::Closed { error } => error.clone(),
        _ => None,
    })
}
