//! A file client: sends files to a server.
//!
//! ```text
//! cargo run --release --example client -- --connect 127.0.0.1:5000 [--seed-compatible] [--quiet] FILE...
//! ```
//!
//! Every FILE is checked (a readable regular file) before the first
//! connection, then each is sent on a connection of its own, in order.
//! On a terminal a progress bar is drawn on stderr (bytes, rate, ETA);
//! each file ends with a summary on stdout (`sent NAME (N bytes) in T s
//! (RATE) with VERSION SUITE, K key rotations`), after several files a
//! total; `--quiet` prints only errors. Exits 0 only when every transfer
//! completed; otherwise prints one line saying what went wrong (the
//! first failure stops the command) and exits 1 (2 for a bad flag or key
//! file).
//!
//! It never stalls: `--timeout SECS` (default 30) bounds the connect, each
//! answer the server owes (the handshake, OPEN, CLOSE in v2, a key
//! rotation), and any wait for the server to take some of our bytes. A
//! server that goes silent, stops reading, or a path that stalls, fails
//! the transfer within that time, with a line that says what timed out
//! (`timed out waiting for the handshake to complete`, `timed out: the
//! server took none of our bytes for 30 s`). What it bounds is a wait
//! without progress, not a slow rate: a server that keeps taking a few
//! bytes before each deadline keeps the transfer going.
//!
//! Debugging: with `SECUREX_KEYLOG=PATH` in the environment, the keys of
//! every epoch are appended to PATH (mode 0600), for `inspect`. Whoever
//! reads that file reads the session.

mod common;

use clap::Parser;

use common::programs::ClientArgs;

fn main() {
    let args = ClientArgs::parse();
    let (config, chunk) = args.config();
    args.send_all(chunk, |batch| {
        common::send_batch(&args.connect, config.clone(), batch)
    });
}
