//! A file server: stores what clients send into a directory.
//!
//! ```text
//! cargo run --release --example server -- --listen 127.0.0.1:5000 --dir files [--seed-compatible]
//! ```
//!
//! Two threads per client (see `common::drive`); one log line per
//! connection with the suite and the outcome. A failing client never stops
//! the server.
//!
//! What one client can hold, and for how long:
//!
//! * `--max-connections N` (default 64): connections served at once
//!   (including those that wait, 2 s at most, for the client's end of
//!   stream after theirs). Past it a
//!   new connection is refused at once, with a plaintext `ERROR` frame
//!   (`server busy: ...`), and closed; so at most 2 N + 1 threads.
//! * `--timeout SECS` (default 30): the reply deadline. A client must
//!   complete its handshake (and answer what it owes) within it, or it is
//!   dropped (told why in an `ERROR` frame, if its socket takes it): one
//!   that connects and says nothing, or trickles bytes without completing
//!   frames, holds its slot for `SECS`, no more. A client that takes none
//!   of our bytes for `SECS` is dropped too.
//!   Without a complete frame either way, a connection ends after 300 s
//!   (the library's idle timeout).
//! * `--max-file-size BYTES` (default 4294967296, 4 GiB): a larger file is
//!   refused with `ERROR` once it passes the limit; what arrived is kept as
//!   `<name>.partial`.
//! * A file already stored under the name a client sends, or the
//!   `.partial` of another upload of it (in progress or left incomplete),
//!   is not replaced: that `OPEN` is refused with an `ERROR` saying so.
//!   `--overwrite` lets clients replace them.
//! * Memory: per connection, the driver holds at most 64 KiB of input and
//!   one batch of the connection's output (tiny on a server); the library
//!   bounds a partial frame by `max_frame_len` (1 MiB) and its output by
//!   `max_buffered` (4 MiB).
//!
//! Debugging: with `SECUREX_KEYLOG=PATH` in the environment, the keys of
//! every epoch of every connection are appended to PATH (mode 0600), for
//! `inspect`. Whoever reads that file reads every session.

mod common;

use std::net::TcpListener;
use std::thread;

use clap::Parser;

use common::programs::{ServerArgs, Slots, refuse};

fn main() {
    let args = ServerArgs::parse();
    args.check_dir();
    let listener = TcpListener::bind(&args.listen).unwrap_or_else(|e| args.cannot_listen(&e));
    let (config, key) = args.config();
    args.announce(listener.local_addr(), key);
    let slots = Slots::new(args.max_connections);
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                // Out of descriptors, say: let connections end before
                // trying again, rather than spin.
                thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
        };
        let slot = match slots.take() {
            Ok(slot) => slot,
            Err(message) => {
                eprintln!("{}", refuse(stream, &message));
                continue;
            }
        };
        let config = config.clone();
        let store = args.store();
        let spawned = thread::Builder::new()
            .name("securex-conn".into())
            .spawn(move || {
                let line = common::serve(stream, config, &store);
                // The slot is free before the line says the connection
                // is over.
                drop(slot);
                eprintln!("{line}");
            });
        // On failure the closure, its stream and its slot are dropped.
        if let Err(e) = spawned {
            eprintln!("cannot start a thread for a connection: {e}");
        }
    }
}
