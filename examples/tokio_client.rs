//! The file client on tokio: sends files to a server, with the same
//! flags (`common::programs`), output, exit statuses and `SECUREX_KEYLOG`
//! key log as `client` (see its doc and the README): exits 0 only when the
//! transfer completed, otherwise prints one line saying what went wrong
//! and exits 1 (2 for a bad flag, key file or configuration), never
//! waiting on the server longer than `--timeout`.
//!
//! ```text
//! cargo run --release --example tokio_client -- --connect 127.0.0.1:5000 [--seed-compatible] [--quiet] FILE...
//! ```
//!
//! One task on a current-thread runtime drives the connection
//! (`common::async_drive::drive`); the file's SHA-256 is hashed on a
//! thread of its own, as in `client`.

mod common;

use clap::Parser;

use common::programs::ClientArgs;

fn main() {
    let args = ClientArgs::parse();
    let (config, chunk) = args.config();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| common::exit_with(format!("cannot start the runtime: {e}")));
    args.send_all(chunk, |batch| {
        runtime.block_on(common::async_drive::send_batch(
            &args.connect,
            config.clone(),
            batch,
        ))
    });
}
