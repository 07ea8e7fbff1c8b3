//! A file client: sends one file to a server.
//!
//! ```text
//! cargo run --release --example client -- --connect 127.0.0.1:5000 [--seed-compatible] FILE
//! ```
//!
//! Exits 0 only when the transfer completed; otherwise prints one line
//! saying what went wrong and exits 1 (2 for a bad flag or key file).
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

use std::path::PathBuf;

use clap::Parser;
use securex::Version;

#[derive(Parser)]
#[command(about = "Sends a file over securex")]
struct Args {
    /// Server address, e.g. 127.0.0.1:5000.
    #[arg(long)]
    connect: String,
    #[command(flatten)]
    policy: common::PolicyFlags,
    /// v1: rotate keys after this many protected frames (default with
    /// --seed-compatible: 20). A rotation also waits for 19 frames and
    /// 32,000 bytes in the epoch, the least a server of ours accepts.
    /// v2: after this many records (default 2^24); a rotation also waits
    /// for 4 KiB of records in the epoch.
    #[arg(long)]
    rotate_after: Option<u64>,
    /// Bytes of file per DATA message (default: 960 with
    /// --seed-compatible, else 65536).
    #[arg(long)]
    chunk_size: Option<usize>,
    /// The server's public key to pin (v2): the PEM the server printed
    /// (its --static-key FILE.pub).
    #[arg(long, value_name = "FILE")]
    server_key: Option<PathBuf>,
    /// The file to send.
    file: PathBuf,
}

fn main() {
    let args = Args::parse();
    let mut config = args
        .policy
        .config()
        .unwrap_or_else(|e| common::exit_with(e));
    if let Some(path) = &args.server_key {
        config.server_key =
            Some(common::read_server_key(path).unwrap_or_else(|e| common::exit_with(e)));
    }
    if let Some(n) = args.rotate_after {
        config.rotate_after_frames = Some(n);
        config.rekey_after_records = Some(n);
    }
    if let Err(e) = config.validate() {
        common::exit_with(e.to_string());
    }
    let version = if args.policy.seed_compatible {
        Version::V1
    } else {
        Version::V2
    };
    let chunk = args
        .chunk_size
        .unwrap_or_else(|| securex::transfer::default_chunk_size(version));
    match common::send_file(&args.connect, config, &args.file, chunk) {
        Ok(sent) => println!(
            "sent {} ({} bytes) with {}, {} key rotations",
            sent.name, sent.bytes, sent.suite, sent.rotations
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
