//! A file server: stores what clients send into a directory.
//!
//! ```text
//! cargo run --release --example server -- --listen 127.0.0.1:5000 --dir files [--seed-compatible]
//! ```
//!
//! One thread per client; one log line per connection with the suite and
//! the outcome. A failing client never stops the server.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::thread;

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
    let config = args.policy.config();
    eprintln!(
        "listening on {} storing into {}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        args.dir.display()
    );
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let (config, dir) = (config.clone(), args.dir.clone());
        thread::spawn(move || eprintln!("{}", common::serve(stream, config, &dir)));
    }
}
