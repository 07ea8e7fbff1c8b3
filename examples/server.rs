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

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use securex::wire::{ErrorFrame, Frame};

use clap::Parser;

#[derive(Parser)]
#[command(about = "Receives files over securex")]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:5000.
    #[arg(long)]
    listen: String,
    /// Directory to store files in (must exist).
    #[arg(long)]
    dir: PathBuf,
    #[command(flatten)]
    policy: common::PolicyFlags,
    /// A long-term key file for clients that pin this server (v2); created
    /// with mode 0600 if missing, its public key printed and written to
    /// FILE.pub.
    #[arg(long, value_name = "FILE")]
    static_key: Option<PathBuf>,
    /// Connections served at once; past it a new connection is refused at
    /// once with an ERROR frame (server busy).
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    /// The largest file accepted, in bytes; a larger one is refused and
    /// kept as <name>.partial.
    #[arg(long, value_name = "BYTES", default_value_t = common::DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Let a client replace a stored file of the same name (or the
    /// .partial of another upload). By default such an upload is refused
    /// with ERROR.
    #[arg(long)]
    overwrite: bool,
    /// v2: rotate keys after sending this many records in an epoch
    /// (default 2^24); a rotation also waits for 4 KiB of records in the
    /// epoch. (In v1 only clients rotate.)
    #[arg(long, value_name = "N")]
    rotate_after: Option<u64>,
}

/// A connection slot: taken in the accept loop, given back on drop.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Refuses a connection at once: a plaintext `ERROR` frame, then close.
fn refuse(stream: TcpStream, message: String) -> String {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let mut frame = Frame::Error(ErrorFrame::new(message.clone())).encode();
    frame.extend_from_slice(b"\r\n");
    // Never block the accept loop: a fresh socket's buffer takes the frame
    // whole, or the peer does not get it.
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write(&frame);
    let _ = stream.shutdown(Shutdown::Write);
    // Read what the client has sent already (its hello), so that closing
    // does not reset the connection before it reads our answer.
    let mut buf = [0u8; 4096];
    for _ in 0..16 {
        match (&stream).read(&mut buf) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    format!("peer={peer} refused: {message}")
}

fn main() {
    let args = Args::parse();
    if !args.dir.is_dir() {
        eprintln!("error: {} is not a directory", args.dir.display());
        std::process::exit(2);
    }
    let listener = match TcpListener::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            std::process::exit(2);
        }
    };
    let mut config = args
        .policy
        .config()
        .unwrap_or_else(|e| common::exit_with(e));
    if let Some(n) = args.rotate_after {
        config.rekey_after_records = Some(n);
    }
    let static_key = args.static_key.as_ref().map(|path| {
        let (key, created) =
            common::load_or_create_static_key(path).unwrap_or_else(|e| common::exit_with(e));
        let pem = key.key_pair().public_key().to_pem();
        let mut pub_path = path.clone().into_os_string();
        pub_path.push(".pub");
        let pub_path = PathBuf::from(pub_path);
        if let Err(e) = std::fs::write(&pub_path, &pem) {
            common::exit_with(format!("cannot write {}: {e}", pub_path.display()));
        }
        (key, created, pem, pub_path)
    });
    eprintln!(
        "listening on {} storing into {}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        args.dir.display()
    );
    if let Some((key, created, pem, pub_path)) = static_key {
        let verb = if created { "created" } else { "loaded" };
        eprintln!(
            "{verb} static key; clients pin it with --server-key {}:\n{pem}",
            pub_path.display()
        );
        config.static_key = Some(key);
    }
    if let Err(e) = config.validate() {
        common::exit_with(e.to_string());
    }
    let active = Arc::new(AtomicUsize::new(0));
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
        // Only this loop takes slots: no race between the check and the
        // increment.
        let busy = active.load(Ordering::SeqCst);
        if busy >= args.max_connections {
            let plural = if busy == 1 { "" } else { "s" };
            let message =
                format!("server busy: {busy} connection{plural} in progress, try again later");
            eprintln!("{}", refuse(stream, message));
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(Arc::clone(&active));
        let config = config.clone();
        let store = common::Store {
            dir: args.dir.clone(),
            max_file_len: args.max_file_size,
            overwrite: args.overwrite,
        };
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
