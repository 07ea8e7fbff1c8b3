//! Fuzzes a server `Connection` (seed-compatible config: v1 and v2, seeded
//! RNG) with the input as bytes from the client, fed in pieces with
//! `handle_timeout` between them, then `handle_eof`.
//!
//! Input: `[start, chunking, step, stream...]`.
//!
//! * `start` (`securex_fuzz::Start`): `0b11r0_vsss` first completes a real
//!   handshake in v1 (`v` 0) or v2 (`v` 1), the client offering only
//!   `CipherSuite::ALL[sss]`, so that the stream lands on an established
//!   server (records, rotations, ...); with `r`, a v2 server then starts a
//!   rotation (`rotate(now)`: its REKEY is out), and a v1 server is one
//!   rotation further (its client sent a second `ALGORITHMS`; epoch 1).
//!   Anything else starts from a fresh server. The client's bytes of the
//!   handshake are recorded once per start from a real client and server
//!   with seeded RNGs (`securex_fuzz::pair_at`); each run replays them to
//!   a fresh seeded server (which redoes its own work: DH, and for v1
//!   PBKDF2, one iteration under `cfg(fuzzing)`). Since the keys are the
//!   same every time, records recorded from such a session (the seeds)
//!   authenticate.
//! * `chunking`: 0 feeds the stream in one piece, 1 byte by byte, other
//!   values in pseudo-random pieces of up to `4 * chunking` bytes.
//! * `step`: the clock advances `8 * step^2` ms after each piece, then
//!   `handle_timeout` is called (up to 520 s a step: every timer, the v2
//!   rekey timer included, can expire).
//!
//! Invariants checked, besides "never panics" (`securex_fuzz::Run`):
//!
//! * an `Err` from `handle_input` leaves the state `Closed` with that error
//!   as `close_reason`; an `Ok` never closes; input after the close is
//!   ignored (`Ok`);
//! * exactly one `Event::Closed` is ever emitted (carrying `close_reason`),
//!   and after the close has been drained nothing more comes out:
//!   no bytes, no events, no timeout;
//! * events come in order: `HandshakeComplete` first, `KeyRotated` epochs
//!   count up from 1 (a v2 rotation keeps the suite), `Message`s only from
//!   the client's side, after the handshake;
//! * the server writes whole frames that decode, never a client's
//!   (`ALGORITHMS`, a v1 `SECURE_X`), and nothing in plaintext once it has
//!   sent a v2 record;
//! * while open, `poll_timeout` is later than the time last handed in;
//! * when the clock does not move (`step` 0), feeding the stream in one
//!   piece gives the same bytes and events as feeding it in pieces.

#![no_main]

use libfuzzer_sys::fuzz_target;
use securex::Role;

fuzz_target!(|data: &[u8]| {
    securex_fuzz::connection_input(Role::Server, data);
});
