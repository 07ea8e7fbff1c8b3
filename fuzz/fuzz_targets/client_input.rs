//! Fuzzes a client `Connection` (seeded RNG) with the input as bytes from
//! the server, fed in pieces with `handle_timeout` between them, then
//! `handle_eof`.
//!
//! Input: `[start, chunking, step, stream...]`.
//!
//! * `start` (`securex_fuzz::Start`): `0b11r0_vsss` first completes a real
//!   handshake in v1 (`v` 0) or v2 (`v` 1) in `CipherSuite::ALL[sss]` (the
//!   only suite the client offers), so that the stream lands on an
//!   established client; with `r` the client then starts a rotation
//!   (`rotate(now)`): a v1 client has sent a new `ALGORITHMS` and waits
//!   for `EXCHANGE`, a v2 client has sent its REKEY and waits for
//!   REKEY_ACK. The server's bytes of the handshake are recorded once per
//!   start from a real client and server with seeded RNGs
//!   (`securex_fuzz::pair_at`); each run replays them to a fresh seeded
//!   client, which sends the same `ALGORITHMS` (the RNG is seeded) and so
//!   accepts the recorded answer: DH, FINISHED (v2), PBKDF2 (v1, one
//!   iteration under `cfg(fuzzing)`). Seeds recorded from the same
//!   sessions authenticate. Anything else starts from a fresh client:
//!   `0bxfo_vsss` is a client of version `v` offering every suite, or only
//!   `CipherSuite::ALL[sss]` if `o`; with `f` and `v` = 1, the fallback
//!   client (versions `[V2, V1]`, legacy suites off).
//! * `chunking`: 0 feeds the stream in one piece, 1 byte by byte, other
//!   values in pseudo-random pieces of up to `4 * chunking` bytes.
//! * `step`: the clock advances `8 * step^2` ms after each piece, then
//!   `handle_timeout` is called (up to 520 s a step).
//!
//! Invariants checked, besides "never panics" (`securex_fuzz::Run`): the
//! same as `server_input`, with the client's roles:
//!
//! * an `Err` from `handle_input` closes with that error as
//!   `close_reason`; an `Ok` never closes; input after the close is
//!   ignored;
//! * exactly one `Event::Closed`, nothing at all after the close;
//! * events in order, `Message`s only of the server's kind (`OK`,
//!   `ERROR`), after the handshake;
//! * the client writes only whole `ALGORITHMS` and `SECURE_X` frames
//!   (never a plaintext `ERROR`, `OK` or `EXCHANGE`), never both v1 and v2
//!   records, nothing in plaintext after a v2 record;
//! * it completes a handshake or rotation only in a suite its last
//!   `ALGORITHMS` offered;
//! * timers are in the future while open;
//! * with the clock still (`step` 0), pieces and one piece give the same
//!   bytes and events.

#![no_main]

use libfuzzer_sys::fuzz_target;
use securex::Role;

fuzz_target!(|data: &[u8]| {
    securex_fuzz::connection_input(Role::Client, data);
});
