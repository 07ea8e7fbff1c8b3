//! Fuzzes a server `Connection` (seed-compatible config: v1 and v2, seeded
//! RNG) with the input as bytes from the client, fed in pieces with
//! `handle_timeout` between them, then `handle_eof`.
//!
//! Input: `[mode, chunking, step, stream...]`.
//!
//! * `mode`: `0b11xx_vsss` first completes a real handshake in v1 (`v` 0)
//!   or v2 (`v` 1), the client offering only `CipherSuite::ALL[sss]`, so
//!   that the stream lands on an established server (records, rotations,
//!   ...); anything else starts from a fresh server. The handshake is made
//!   once per version and suite by a real client and server with seeded
//!   RNGs (`securex_fuzz::{client, server}`); each run then replays the
//!   client's bytes to a fresh server (which redoes its own work: DH, and
//!   for v1 PBKDF2). Since the keys are the same every time, records
//!   recorded from such a session (the seeds) authenticate.
//! * `chunking`: 0 feeds the stream in one piece, 1 byte by byte, other
//!   values in pseudo-random pieces of up to `4 * chunking` bytes.
//! * `step`: the clock advances `8 * step^2` ms after each piece, then
//!   `handle_timeout` is called (up to 520 s a step: every timer, the v2
//!   rekey timer included, can expire).
//!
//! Invariants checked, besides "never panics":
//!
//! * an `Err` from `handle_input` leaves the state `Closed` with that error
//!   as `close_reason`; an `Ok` never closes; input after the close is
//!   ignored (`Ok`);
//! * exactly one `Event::Closed` is ever emitted (carrying `close_reason`),
//!   and after the close has been drained nothing more comes out:
//!   no bytes, no events, no timeout;
//! * events come in order: `HandshakeComplete` first, `KeyRotated` epochs
//!   count up from 1, `Message`s only from the client's side, after the
//!   handshake;
//! * the server writes whole frames that decode, never a client's
//!   (`ALGORITHMS`, a v1 `SECURE_X`);
//! * while open, `poll_timeout` is later than the time last handed in;
//! * when the clock does not move (`step` 0), feeding the stream in one
//!   piece gives the same bytes and events as feeding it in pieces.
//!
//! A v1 handshake costs the server PBKDF2 (100000 rounds): about 0.1 s per
//! run under ASan, so runs that reach one are slow.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use securex::suite::CipherSuite;
use securex::wire::{Frame, FrameSplitter};
use securex::{Connection, Event, State, Version};
use securex_fuzz::{client, server, shuttle};

/// The client's bytes of a real handshake: v1 or v2 (`index` 8 and up), in
/// `CipherSuite::ALL[index % 8]`. Made once: a client and a server shuttle
/// bytes until both are established.
fn client_hello(index: usize) -> &'static [u8] {
    static HELLOS: [OnceLock<Vec<u8>>; 16] = [const { OnceLock::new() }; 16];
    HELLOS[index].get_or_init(|| {
        let suite = CipherSuite::ALL[index % 8];
        let version = if index < 8 { Version::V1 } else { Version::V2 };
        let now = Instant::now();
        let mut client = client(version, Some(suite), now);
        let mut server = server(now);
        let (hello, _) = shuttle(&mut client, &mut server, now);
        assert_eq!(client.state(), State::Established);
        assert_eq!(server.state(), State::Established);
        assert_eq!(client.suite(), Some(suite));
        assert_eq!(server.suite(), Some(suite));
        hello
    })
}

/// Splits `stream` as the `chunking` byte says.
fn pieces(stream: &[u8], chunking: u8) -> Vec<&[u8]> {
    match chunking {
        0 => vec![stream],
        1 => stream.chunks(1).collect(),
        _ => {
            let max = 4 * usize::from(chunking);
            let mut x = u32::from(chunking).wrapping_mul(0x9e37_79b9) | 1;
            let mut rest = stream;
            let mut out = Vec::new();
            while !rest.is_empty() {
                // xorshift32
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let n = (1 + x as usize % max).min(rest.len());
                let (piece, tail) = rest.split_at(n);
                out.push(piece);
                rest = tail;
            }
            out
        }
    }
}

/// Whether the server's output is whole frames that a client may receive.
fn check_output(bytes: &[u8]) {
    assert!(bytes.ends_with(b"\r\n"), "partial frame written");
    let mut splitter = FrameSplitter::new(1 << 30);
    splitter
        .push(bytes, |frame| {
            match Frame::decode(frame) {
                Ok(Frame::Algorithms(_) | Frame::SecureX(_)) | Err(_) => {
                    panic!("server wrote {:?}", String::from_utf8_lossy(frame))
                }
                Ok(_) => {}
            }
            Ok::<_, securex::error::FrameError>(())
        })
        .unwrap();
    assert_eq!(splitter.buffered(), 0);
}

/// One server, its clock, and everything it produced.
struct Run {
    conn: Connection,
    now: Instant,
    out: Vec<u8>,
    events: Vec<Event>,
    /// Closed and drained: nothing more may come out.
    finished: bool,
}

impl Run {
    fn new(handshake: Option<usize>, now: Instant) -> Run {
        let mut run = Run {
            conn: server(now),
            now,
            out: Vec::new(),
            events: Vec::new(),
            finished: false,
        };
        if let Some(index) = handshake {
            run.input(client_hello(index));
            assert_eq!(run.conn.state(), State::Established);
        }
        run
    }

    fn input(&mut self, bytes: &[u8]) {
        let was_closed = self.conn.state() == State::Closed;
        match self.conn.handle_input(self.now, bytes) {
            Ok(()) => assert!(
                was_closed || self.conn.state() != State::Closed,
                "closed without an error"
            ),
            Err(error) => {
                assert!(!was_closed, "error after the close");
                assert_eq!(self.conn.state(), State::Closed);
                assert_eq!(self.conn.close_reason(), Some(&error));
            }
        }
        self.drain();
    }

    fn tick(&mut self, step: Duration) {
        self.now += step;
        self.conn.handle_timeout(self.now);
        self.drain();
        if self.conn.state() != State::Closed {
            assert!(self.conn.poll_timeout() > Some(self.now), "expired timer");
        }
    }

    /// The end of the stream, then more of everything: all ignored.
    fn eof(&mut self) {
        self.conn.handle_eof();
        self.drain();
        assert!(self.finished);
        let closed = self
            .events
            .iter()
            .filter(|e| matches!(e, Event::Closed { .. }));
        assert_eq!(closed.count(), 1, "one Closed event");
        assert_eq!(
            self.conn.handle_input(self.now, b"{\"type\": \"OK\"}\r\n"),
            Ok(())
        );
        self.conn
            .handle_timeout(self.now + Duration::from_secs(1000));
        self.conn.handle_eof();
        self.drain();
    }

    /// Polls everything out and checks it.
    fn drain(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            assert!(!self.finished, "bytes after the close");
            check_output(&bytes);
            self.out.extend_from_slice(&bytes);
        }
        while let Some(event) = self.conn.poll_event() {
            assert!(!self.finished, "event after the close: {event:?}");
            let closed = self
                .events
                .iter()
                .any(|e| matches!(e, Event::Closed { .. }));
            assert!(!closed, "event after Closed: {event:?}");
            let handshaken = matches!(self.events.first(), Some(Event::HandshakeComplete { .. }));
            match &event {
                Event::HandshakeComplete { .. } => assert!(self.events.is_empty()),
                Event::KeyRotated { epoch, .. } => {
                    assert!(handshaken);
                    let rotations = self.events.iter();
                    let rotations = rotations.filter(|e| matches!(e, Event::KeyRotated { .. }));
                    assert_eq!(*epoch as usize, rotations.count() + 1);
                }
                Event::Message(message) => {
                    assert!(handshaken);
                    assert!(message.is_from_client(), "server got {message:?}");
                }
                Event::Closed { error } => {
                    assert_eq!(self.conn.state(), State::Closed);
                    assert_eq!(error.as_ref(), self.conn.close_reason());
                }
                other => panic!("unknown event {other:?}"),
            }
            self.events.push(event);
        }
        if self.conn.state() == State::Closed {
            assert_eq!(self.conn.poll_timeout(), None);
            self.finished = true;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, chunking, step, stream @ ..] = data else {
        return;
    };
    let handshake = (mode >> 6 == 0b11).then_some(usize::from(mode & 0xf));
    let step = Duration::from_millis(8 * u64::from(*step).pow(2));
    let start = Instant::now();

    let mut chunked = Run::new(handshake, start);
    for piece in pieces(stream, *chunking) {
        chunked.input(piece);
        chunked.tick(step);
    }
    chunked.eof();

    // (Chunking 0 already fed it whole.)
    if step.is_zero() && *chunking != 0 {
        let mut whole = Run::new(handshake, start);
        whole.input(stream);
        whole.eof();
        assert_eq!(whole.out, chunked.out, "output depends on the split");
        assert_eq!(whole.events, chunked.events, "events depend on the split");
    }
});
