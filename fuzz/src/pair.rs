//! The `pair` target: a client and a server of one version and suite,
//! driven through a sequence of operations that `arbitrary` decodes from
//! the input ([`Input`]): the application's (send, rotate, close), the
//! network's (deliver, split, drop, duplicate, reorder, flip a bit
//! anywhere or inside a JSON string value, inject a frame) and the
//! clock's.
//!
//! Each side is a [`Run`], so every output and event is checked as in the
//! connection targets. Besides, after every operation:
//!
//! * **v2, always**: what each side delivered (its `Message` events) is a
//!   prefix of what the other side sent (`send` returned `Ok`): tampering
//!   never yields wrong, duplicated or reordered data;
//! * **v2, tampering is fatal**: the first frame a receiver consumes that
//!   differs from what the sender wrote at that place (a dropped,
//!   duplicated, reordered, flipped or injected frame; records compared
//!   by value, so a case change of the `type` or of the hex MAC, which
//!   decode to the same record, is not a change) closes the receiver with
//!   an error in the same `handle_input` call, if it comes after the
//!   first frame. If it is the first frame of its direction (the hellos,
//!   bound byte for byte into the transcript), no side ever completes the
//!   handshake after it;
//! * **v1** (weak by design: its MAC covers neither the IV nor the order):
//!   what a direction delivers is a prefix of what was sent while no frame
//!   of that direction was changed, and a frame whose `SECURE_X` payload
//!   (the MAC-covered ciphertext) was flipped closes the receiver with an
//!   error when it is consumed.
//!
//! At the end, everything on the wire is delivered until nothing moves;
//! if no operation touched the wire, a receiver still open has every
//! message its peer sent, exactly once and in order, when the peer is open
//! too or was closed by `flush_and_close` (which sends what waits first,
//! a rotation's answer included). Then the clock
//! moves on by `idle_timeout` with nothing moving: both sides must be
//! closed (a silent peer ends the connection within its timeouts).
//!
//! Bounded: at most [`MAX_OPS`] operations, DATA chunks of at most 255
//! bytes, injected raw frames of at most 64 bytes.

use std::collections::VecDeque;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use securex::suite::CipherSuite;
use securex::wire::{Frame, FrameSplitter, Record};
use securex::{Config, Error, Message, State, Version};

use super::{Run, client_config, client_with, server_with, without_rotation_limits};

/// The most operations one input runs.
pub const MAX_OPS: usize = 48;

/// One of the two connections.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client.
    Client,
    /// The server.
    Server,
}

impl Side {
    fn index(self) -> usize {
        self as usize
    }
}

/// A frame put on the wire by the network.
#[derive(Arbitrary, Debug, Clone)]
pub enum Injected {
    /// `{"type":"OK"}`.
    Ok,
    /// `{"type":"ERROR","message":"x"}`.
    Error,
    /// `{"type":"EXCHANGE","value":"","ciphersuite":""}`.
    Exchange,
    /// A copy of a frame either side wrote (the n-th, modulo their number).
    Replay(u8),
    /// Any bytes (at most 64), with `\r\n` after them.
    Raw(Vec<u8>),
}

/// What happens next.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// The client sends `OPEN`.
    Open(u8),
    /// The client sends `DATA` of `len` bytes.
    Data {
        /// Bytes.
        len: u8,
        /// The first byte; the others count up from it.
        fill: u8,
    },
    /// The client sends `CLOSE` (v2: with a digest).
    Close,
    /// The server sends `OK`.
    Ok,
    /// Up to `n` bytes (0: the rest of the next frame) of the wire reach
    /// `to`.
    Deliver {
        /// The receiver.
        to: Side,
        /// How many bytes.
        n: u16,
    },
    /// Everything on both wires is delivered until nothing moves.
    DeliverAll,
    /// The next frame reaches `to` in two pieces, cut at `at`.
    Split {
        /// The receiver.
        to: Side,
        /// Where to cut (modulo the length).
        at: u16,
    },
    /// A frame on the way to `to` is lost.
    Drop {
        /// The receiver.
        to: Side,
        /// Which frame (modulo the frames waiting).
        index: u8,
    },
    /// A frame on the way to `to` arrives twice.
    Duplicate {
        /// The receiver.
        to: Side,
        /// Which frame.
        index: u8,
    },
    /// Two neighbouring frames on the way to `to` swap places.
    Reorder {
        /// The receiver.
        to: Side,
        /// The first of the two.
        index: u8,
    },
    /// One bit of a frame on the way to `to` flips.
    Flip {
        /// The receiver.
        to: Side,
        /// Which frame.
        index: u8,
        /// Which byte (modulo the length, `\r\n` included).
        at: u16,
        /// Which bit (modulo 8).
        bit: u8,
    },
    /// One bit flips inside a JSON string value of a frame on the way to
    /// `to` (a nonce, a key, a payload, a MAC ...): changes that still
    /// parse.
    FlipValue {
        /// The receiver.
        to: Side,
        /// Which frame.
        index: u8,
        /// Which string value (modulo their number).
        value: u8,
        /// Which byte of it (modulo its length).
        at: u16,
        /// Which bit (modulo 8).
        bit: u8,
    },
    /// A frame is put on the way to `to`.
    Inject {
        /// The receiver.
        to: Side,
        /// Where among the frames waiting.
        index: u8,
        /// What.
        frame: Injected,
    },
    /// The clock moves on `10 * n^2` ms (up to 650 s) and both sides see
    /// it.
    Advance(u8),
    /// `rotate(now)` on one side.
    Rotate(Side),
    /// `close()` or, with `flush`, `flush_and_close()` on one side.
    Shutdown {
        /// Which side.
        side: Side,
        /// `flush_and_close` rather than `close`.
        flush: bool,
    },
}

/// One input of the `pair` target.
#[derive(Arbitrary, Debug)]
pub struct Input {
    /// v2 (else v1).
    pub v2: bool,
    /// `CipherSuite::ALL[suite % 8]`, the only suite the client offers.
    pub suite: u8,
    /// Below 64: both sides rotate after `1 + n % 4` protected frames (v1
    /// client) or records (v2); else the seed preset's limits.
    pub rotate_after: u8,
    /// What happens, in order (at most [`MAX_OPS`]).
    pub ops: Vec<Op>,
}

/// A frame on the wire.
#[derive(Debug, Clone)]
struct WireFrame {
    /// As it travels, with `\r\n`.
    bytes: Vec<u8>,
    /// As its sender wrote it (injected frames: as injected).
    original: Vec<u8>,
}

impl WireFrame {
    fn new(bytes: Vec<u8>) -> WireFrame {
        WireFrame {
            original: bytes.clone(),
            bytes,
        }
    }

    /// The offset of the first byte of the payload of a v1 `SECURE_X`
    /// (the MAC-covered ciphertext, as base64) that differs from what the
    /// sender wrote.
    fn payload_change(&self) -> Option<usize> {
        let body = self.original.strip_suffix(b"\r\n")?;
        if !matches!(Frame::decode(body), Ok(Frame::SecureX(_))) {
            return None;
        }
        let key = b"\"payload\":\"";
        let start = body.windows(key.len()).position(|w| w == key)? + key.len();
        let len = body[start..].iter().position(|&b| b == b'"')?;
        (start..start + len).find(|&i| self.bytes[i] != self.original[i])
    }
}

/// One direction: the frames the sender wrote, the wire, and what the
/// receiver consumed.
#[derive(Debug)]
struct Link {
    /// The frames the sender wrote, without `\r\n`.
    sent: Vec<Vec<u8>>,
    /// Bytes of the sender's output already put on the wire.
    taken: usize,
    /// Frames on the way; the first may be partly delivered.
    wire: VecDeque<WireFrame>,
    /// Bytes of `wire[0]` already delivered.
    head_sent: usize,
    /// Bytes delivered so far.
    delivered: usize,
    /// The receiver's framing, replayed.
    splitter: FrameSplitter,
    /// Frames the receiver consumed, and where the next one starts.
    consumed: usize,
    frame_start: usize,
    /// Stream offsets of changed v1 payload bytes delivered.
    must_fail: Vec<usize>,
    /// The receiver consumed a frame that differs from the sender's.
    deviated: bool,
    /// Some operation changed the wire (drop, duplicate, ...).
    touched: bool,
}

impl Link {
    fn new(max_frame_len: usize) -> Link {
        Link {
            sent: Vec::new(),
            taken: 0,
            wire: VecDeque::new(),
            head_sent: 0,
            delivered: 0,
            splitter: FrameSplitter::new(max_frame_len),
            consumed: 0,
            frame_start: 0,
            must_fail: Vec::new(),
            deviated: false,
            touched: false,
        }
    }

    /// The frames not yet started, as indices into `wire`.
    fn untouched(&self) -> core::ops::Range<usize> {
        let first = usize::from(self.head_sent > 0).min(self.wire.len());
        first..self.wire.len()
    }

    /// An index among the frames not yet started, if there is one.
    fn pick(&self, index: u8) -> Option<usize> {
        let range = self.untouched();
        (!range.is_empty()).then(|| range.start + usize::from(index) % range.len())
    }

    /// Takes up to `n` bytes off the wire (at least one frame's worth if
    /// `n` is 0), noting changed v1 payload bytes.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = if n == 0 {
            self.wire
                .front()
                .map_or(0, |f| f.bytes.len() - self.head_sent)
        } else {
            n
        };
        while n > 0 {
            let Some(front) = self.wire.front() else {
                break;
            };
            let take = n.min(front.bytes.len() - self.head_sent);
            let range = self.head_sent..self.head_sent + take;
            if let Some(at) = front.payload_change().filter(|at| range.contains(at)) {
                self.must_fail
                    .push(self.delivered + out.len() + at - self.head_sent);
            }
            out.extend_from_slice(&front.bytes[range]);
            n -= take;
            self.head_sent += take;
            if self.head_sent == front.bytes.len() {
                self.wire.pop_front();
                self.head_sent = 0;
            }
        }
        out
    }
}

/// The byte ranges of the non-empty JSON string values (`"key":"value"`)
/// of a frame as our encoders write them (compact, no `"` inside values).
fn string_values(frame: &[u8]) -> Vec<core::ops::Range<usize>> {
    let mut values = Vec::new();
    let mut i = 0;
    while let Some(start) = frame[i..].windows(3).position(|w| w == b"\":\"") {
        let start = i + start + 3;
        let Some(len) = frame[start..].iter().position(|&b| b == b'"') else {
            break;
        };
        if len > 0 {
            values.push(start..start + len);
        }
        i = start + len;
    }
    values
}

/// Whether the receiver's `index`-th frame `got` is what the sender wrote
/// there.
fn same(v2: bool, index: usize, got: &[u8], sent: &[u8]) -> bool {
    if got == sent {
        return true;
    }
    if v2 && index == 0 {
        // The hellos are hashed into the transcript byte for byte.
        return false;
    }
    match (Frame::decode(got), Frame::decode(sent)) {
        (Ok(Frame::Record(a)), Ok(Frame::Record(b))) => normalized(a) == normalized(b),
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A record with its hex MAC in lower case (hex is decoded in either).
fn normalized(mut record: Record) -> Record {
    record.hash = record.hash.map(|h| h.to_ascii_lowercase());
    record
}

/// What a frame's consumption requires of its receiver.
#[derive(Debug, Default, Clone, Copy)]
struct Verdict {
    /// The receiver must now be closed with an error.
    must_fail: bool,
    /// v2: a hello was changed; no handshake may complete.
    hello_changed: bool,
}

/// The two sides, the two wires, and what they sent.
struct World {
    v2: bool,
    runs: [Run; 2],
    /// `links[to]`: the direction towards `to` (`links[1]`: client to
    /// server).
    links: [Link; 2],
    /// The application messages each side sent (`send` returned `Ok`).
    sent_messages: [Vec<Message>; 2],
    /// Every frame either side wrote, for injections.
    log: Vec<Vec<u8>>,
    /// A hello was changed: whether each side had completed a handshake
    /// then (it may not complete one after).
    hello_changed: Option<[bool; 2]>,
    /// `close()` (not `flush_and_close()`) was called on a side.
    hard_closed: [bool; 2],
    idle_timeout: Duration,
}

fn completed(run: &Run) -> bool {
    matches!(
        run.events.first(),
        Some(securex::Event::HandshakeComplete { .. })
    )
}

impl World {
    fn new(input: &Input) -> World {
        let version = if input.v2 { Version::V2 } else { Version::V1 };
        let suite = CipherSuite::ALL[usize::from(input.suite % 8)];
        let mut client = client_config(version, Some(suite));
        let mut server = Config::seed_compatible();
        // Honest peers rotating after a few small messages, on a clock
        // the input moves: the server's rotation limits would refuse or
        // defer them (the server_input target fuzzes those limits).
        without_rotation_limits(&mut server);
        if input.rotate_after < 64 {
            let n = 1 + u64::from(input.rotate_after % 4);
            client.rotate_after_frames = Some(n);
            client.rekey_after_records = Some(n);
            server.rekey_after_records = Some(n);
        }
        let idle_timeout = client.idle_timeout.unwrap_or_default();
        let now = std::time::Instant::now();
        let links = [
            Link::new(client.max_frame_len),
            Link::new(server.max_frame_len),
        ];
        let runs = [
            Run::wrap(client_with(client, now), now),
            Run::wrap(server_with(server, now), now),
        ];
        let mut world = World {
            v2: input.v2,
            runs,
            links,
            sent_messages: [Vec::new(), Vec::new()],
            log: Vec::new(),
            hello_changed: None,
            hard_closed: [false; 2],
            idle_timeout,
        };
        world.pump();
        world
    }

    /// Puts what each side wrote on the wire to the other.
    fn pump(&mut self) {
        for from in [Side::Client, Side::Server] {
            let to = 1 - from.index();
            let out = &self.runs[from.index()].out;
            let link = &mut self.links[to];
            let new = &out[link.taken..];
            link.taken = out.len();
            for frame in new.split_inclusive(|&b| b == b'\n') {
                let body = frame.strip_suffix(b"\r\n").expect("whole frames");
                link.sent.push(body.to_vec());
                self.log.push(frame.to_vec());
                link.wire.push_back(WireFrame::new(frame.to_vec()));
            }
        }
    }

    /// Hands `bytes` to `to` and checks what it must do with them.
    fn deliver(&mut self, to: Side, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let was_open = self.runs[to.index()].conn.state() != State::Closed;
        self.runs[to.index()].input(bytes);
        let verdict = self.consume(to, bytes);
        let run = &self.runs[to.index()];
        if was_open && verdict.must_fail {
            assert_eq!(
                run.conn.state(),
                State::Closed,
                "{to:?} accepted a changed frame"
            );
            assert!(
                run.conn.close_reason().is_some() || run.flushing,
                "{to:?} closed without an error on a changed frame"
            );
        }
        if was_open && verdict.hello_changed && self.hello_changed.is_none() {
            self.hello_changed = Some([completed(&self.runs[0]), completed(&self.runs[1])]);
        }
        self.pump();
    }

    /// Replays the receiver's framing over `bytes` and compares each frame
    /// it completes with the sender's.
    fn consume(&mut self, to: Side, bytes: &[u8]) -> Verdict {
        let v2 = self.v2;
        let link = &mut self.links[to.index()];
        let mut frames = Vec::new();
        let result = link.splitter.push(bytes, |frame| {
            frames.push(frame.to_vec());
            Ok::<_, securex::error::FrameError>(())
        });
        assert!(result.is_ok(), "the pair wrote an over-long frame");
        let mut verdict = Verdict::default();
        // Frames end at the delimiters; the last bytes may be partial.
        let mut offsets = Vec::new();
        for frame in &frames {
            let stop = link.frame_start + frame.len() + 2;
            offsets.push((link.frame_start, stop));
            link.frame_start = stop;
        }
        link.delivered += bytes.len();
        for (frame, (start, stop)) in frames.iter().zip(offsets) {
            let index = link.consumed;
            link.consumed += 1;
            if link.must_fail.iter().any(|p| (start..stop).contains(p)) {
                verdict.must_fail = true;
            }
            let expected = link.sent.get(index);
            if expected.is_some_and(|sent| same(v2, index, frame, sent)) || link.deviated {
                continue;
            }
            link.deviated = true;
            if v2 && index == 0 {
                verdict.hello_changed = true;
            } else if v2 {
                verdict.must_fail = true;
            }
        }
        verdict
    }

    fn send(&mut self, side: Side, message: Message) {
        let run = &mut self.runs[side.index()];
        let state = run.conn.state();
        match run.conn.send(run.now, message.clone()) {
            Ok(()) => self.sent_messages[side.index()].push(message),
            Err(error) => {
                assert!(matches!(error, Error::Misuse(_)), "send: {error:?}");
                assert_eq!(run.conn.state(), state, "a refused send changed the state");
            }
        }
        run.drain();
        self.pump();
    }

    fn deliver_all(&mut self) {
        for _ in 0..64 {
            if self.links.iter().all(|l| l.wire.is_empty()) {
                return;
            }
            for to in [Side::Server, Side::Client] {
                let n = self.links[to.index()]
                    .wire
                    .iter()
                    .map(|f| f.bytes.len())
                    .sum::<usize>();
                let bytes = self.links[to.index()].take(n);
                self.deliver(to, &bytes);
            }
        }
        panic!("the pair never settles");
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per fuzz operation: splitting it would scatter the table"
    )]
    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Open(n) => self.send(
                Side::Client,
                Message::Open {
                    file_name: format!("file-{n}.txt"),
                },
            ),
            Op::Data { len, fill } => {
                let data = (0..len).map(|i| fill.wrapping_add(i)).collect();
                self.send(Side::Client, Message::Data(data));
            }
            Op::Close => {
                let sha256 = self.v2.then_some([0x5a; 32]);
                self.send(Side::Client, Message::Close { sha256 });
            }
            Op::Ok => self.send(Side::Server, Message::Ok),
            Op::Deliver { to, n } => {
                let bytes = self.links[to.index()].take(usize::from(n));
                self.deliver(to, &bytes);
            }
            Op::DeliverAll => self.deliver_all(),
            Op::Split { to, at } => {
                let link = &self.links[to.index()];
                let left = link
                    .wire
                    .front()
                    .map_or(0, |f| f.bytes.len() - link.head_sent);
                let cut = usize::from(at) % (left + 1);
                let first = self.links[to.index()].take(cut.max(1).min(left));
                self.deliver(to, &first);
                // `take(0)` means a whole frame: take the rest only if
                // there is one, or the next frame would vanish unsent.
                let rest = left.saturating_sub(first.len());
                if rest > 0 {
                    let second = self.links[to.index()].take(rest);
                    self.deliver(to, &second);
                }
            }
            Op::Drop { to, index } => {
                let link = &mut self.links[to.index()];
                if let Some(i) = link.pick(index) {
                    link.wire.remove(i);
                    link.touched = true;
                }
            }
            Op::Duplicate { to, index } => {
                let link = &mut self.links[to.index()];
                if let Some(i) = link.pick(index) {
                    let copy = link.wire[i].clone();
                    link.wire.insert(i + 1, copy);
                    link.touched = true;
                }
            }
            Op::Reorder { to, index } => {
                let link = &mut self.links[to.index()];
                if let Some(i) = link.pick(index).filter(|&i| i + 1 < link.wire.len()) {
                    link.wire.swap(i, i + 1);
                    link.touched = true;
                }
            }
            Op::Flip { to, index, at, bit } => {
                let link = &mut self.links[to.index()];
                if let Some(i) = link.pick(index) {
                    let frame = &mut link.wire[i].bytes;
                    let at = usize::from(at) % frame.len();
                    frame[at] ^= 1 << (bit % 8);
                    link.touched = true;
                }
            }
            Op::FlipValue {
                to,
                index,
                value,
                at,
                bit,
            } => {
                let link = &mut self.links[to.index()];
                if let Some(i) = link.pick(index) {
                    let frame = &mut link.wire[i].bytes;
                    let values = string_values(frame);
                    if !values.is_empty() {
                        let range = &values[usize::from(value) % values.len()];
                        let at = range.start + usize::from(at) % range.len();
                        frame[at] ^= 1 << (bit % 8);
                        link.touched = true;
                    }
                }
            }
            Op::Inject {
                to,
                index,
                ref frame,
            } => {
                let mut bytes = match frame {
                    Injected::Ok => br#"{"type":"OK"}"#.to_vec(),
                    Injected::Error => br#"{"type":"ERROR","message":"x"}"#.to_vec(),
                    Injected::Exchange => {
                        br#"{"type":"EXCHANGE","value":"","ciphersuite":""}"#.to_vec()
                    }
                    Injected::Replay(n) if !self.log.is_empty() => {
                        let frame = &self.log[usize::from(*n) % self.log.len()];
                        frame[..frame.len() - 2].to_vec()
                    }
                    Injected::Replay(_) => return,
                    Injected::Raw(raw) => raw[..raw.len().min(64)].to_vec(),
                };
                bytes.extend_from_slice(b"\r\n");
                let link = &mut self.links[to.index()];
                let range = link.untouched();
                let at = range.start + usize::from(index) % (range.len() + 1);
                link.wire.insert(at, WireFrame::new(bytes));
                link.touched = true;
            }
            Op::Advance(n) => {
                let step = Duration::from_millis(10 * u64::from(n).pow(2));
                for run in &mut self.runs {
                    run.tick(step);
                }
                self.pump();
            }
            Op::Rotate(side) => {
                let run = &mut self.runs[side.index()];
                let state = run.conn.state();
                if let Err(error) = run.conn.rotate(run.now) {
                    assert!(matches!(error, Error::Misuse(_)), "rotate: {error:?}");
                    assert_eq!(
                        run.conn.state(),
                        state,
                        "a refused rotate changed the state"
                    );
                }
                run.drain();
                self.pump();
            }
            Op::Shutdown { side, flush } => {
                let run = &mut self.runs[side.index()];
                if flush {
                    run.flushing = true;
                    run.conn.flush_and_close(run.now);
                } else {
                    self.hard_closed[side.index()] = true;
                    run.conn.close(run.now);
                }
                run.drain();
                self.pump();
            }
        }
    }

    /// The checks that hold after every operation.
    fn check(&self) {
        for (to, from) in [(Side::Server, Side::Client), (Side::Client, Side::Server)] {
            let link = &self.links[to.index()];
            if self.v2 || !link.deviated {
                let got: Vec<&Message> = self.runs[to.index()].messages().collect();
                let sent = &self.sent_messages[from.index()];
                assert!(
                    got.len() <= sent.len() && got.iter().zip(sent).all(|(g, s)| *g == s),
                    "{to:?} delivered {got:?}, not a prefix of what was sent: {sent:?}"
                );
            }
        }
        if let Some(before) = self.hello_changed {
            for (side, had) in before.into_iter().enumerate() {
                assert_eq!(
                    completed(&self.runs[side]),
                    had,
                    "v2 handshake completed after a changed hello"
                );
            }
        }
    }

    /// Delivers what is left, checks completeness, then lets the clock run
    /// with nothing moving.
    fn finish(&mut self) {
        self.deliver_all();
        self.check();
        // With the wire untouched, a receiver still open has everything
        // its peer sent, once and in order, if the peer is open too or
        // closed only by `flush_and_close` (which sends what waits first).
        if self.links.iter().all(|l| !l.touched) {
            for (to, from) in [(Side::Server, Side::Client), (Side::Client, Side::Server)] {
                let (receiver, sender) = (&self.runs[to.index()], &self.runs[from.index()]);
                let flushed = sender.flushing
                    && !self.hard_closed[from.index()]
                    && sender.conn.close_reason().is_none();
                if receiver.conn.state() == State::Closed
                    || (sender.conn.state() == State::Closed && !flushed)
                {
                    continue;
                }
                let got: Vec<&Message> = receiver.messages().collect();
                let sent: Vec<&Message> = self.sent_messages[from.index()].iter().collect();
                assert_eq!(got, sent, "{to:?} did not get everything, once, in order");
                assert_eq!(sender.conn.queued_messages(), 0);
            }
        }
        // A silent peer: nothing moves while the idle timeout runs out.
        for run in &mut self.runs {
            run.tick(self.idle_timeout);
            assert_eq!(
                run.conn.state(),
                State::Closed,
                "{:?} still open after a silent idle timeout",
                run.conn.role()
            );
            run.assert_one_closed();
        }
    }
}

/// Runs the operations of `input`.
pub fn run(input: &Input) {
    let mut world = World::new(input);
    for op in input.ops.iter().take(MAX_OPS) {
        world.apply(op);
        world.check();
    }
    world.finish();
}

/// Decodes `data` as libFuzzer's typed targets do, then runs it.
pub fn run_bytes(data: &[u8]) {
    super::assert_checked_build();
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        run(&input);
    }
}
