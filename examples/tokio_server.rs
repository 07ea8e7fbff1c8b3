//! The file server on tokio: the same flags (`common::programs`), log
//! lines, exit statuses and `SECUREX_KEYLOG` key log as `server` (see its
//! doc and the README), one task per client instead of threads.
//!
//! ```text
//! cargo run --release --example tokio_server -- --listen 127.0.0.1:5000 --dir files [--seed-compatible]
//! ```
//!
//! Every bound of `server` holds (`--max-connections`, `--timeout`,
//! `--max-file-size`, the driver's buffers and write deadline: see
//! `common::async_drive::drive`). What differs is what a connection costs
//! while it waits: no thread and no buffer of the driver's, only the
//! `Connection`, its socket and its task, so that a server with
//! `--max-connections 10016` holds 10,000 idle clients in about 61 MiB
//! (`examples/idle_load.rs` measures it; the figure is in the README).
//!
//! The trade-off: the file's SHA-256 is checked inline and the file
//! written with blocking calls, both on the runtime's worker threads (one
//! per core), where `server` gives each upload a hashing thread of its
//! own. Many uploads at once share the workers, as they would share the
//! cores anyway; one upload alone showed no cost on a 2-core machine (256
//! MiB in v2, AES-128-GCM, release build: 0.93 and 1.03 s into
//! `tokio_server`, 1.05 and 1.06 s into `server`, from `client`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;

use common::programs::{ServerArgs, Slots, refuse};

fn main() {
    let args = ServerArgs::parse();
    args.check_dir();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| common::exit_with(format!("cannot start the runtime: {e}")));
    runtime.block_on(serve_all(args));
}

async fn serve_all(args: ServerArgs) {
    let listener = TcpListener::bind(&args.listen)
        .await
        .unwrap_or_else(|e| args.cannot_listen(&e));
    let (config, key) = args.config();
    args.announce(listener.local_addr(), key);
    let slots = Slots::new(args.max_connections);
    // Shared by every connection's task.
    let shared = Arc::new((config, args.store()));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("accept failed: {e}");
                // Out of descriptors, say: let connections end before
                // trying again, rather than spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = match slots.take() {
            Ok(slot) => slot,
            Err(message) => {
                // The refusal never blocks (a non-blocking std socket).
                if let Ok(stream) = stream.into_std() {
                    eprintln!("{}", refuse(stream, &message));
                }
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let (config, store) = &*shared;
            let line = common::async_drive::serve(stream, config, store).await;
            // The slot is free before the line says the connection is
            // over.
            drop(slot);
            eprintln!("{line}");
        });
    }
}
