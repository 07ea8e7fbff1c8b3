//! A file server: stores what clients send into a directory.
//!
//! ```text
//! cargo run --release --example server -- --listen 127.0.0.1:5000 --dir files [--seed-compatible]
//! ```
//!
//! Two threads per client (see `common::drive`); one log line per
//! connection with the suite and the outcome. A failing client never stops
//! the server. `--timeout SECS` (default 30) is the reply deadline: a
//! client that does not complete its handshake within it, or takes none of
//! our bytes for that long, is dropped.

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
    /// A long-term key file for clients that pin this server (v2); created
    /// with mode 0600 if missing, its public key printed and written to
    /// FILE.pub.
    #[arg(long, value_name = "FILE")]
    static_key: Option<PathBuf>,
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
    let static_key = args.static_key.as_ref().map(|path| {
        let (key, created) =
            common::load_or_create_static_key(path).unwrap_or_else(|e| common::exit_with(e));
        let pem = key.public_key().to_pem();
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
        config.static_key = Some(securex::config::StaticKey::new(key));
    }
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let (config, dir) = (config.clone(), args.dir.clone());
        thread::spawn(move || {
            let line = common::serve(stream, config, &dir, common::DEFAULT_MAX_FILE_SIZE);
            eprintln!("{line}");
        });
    }
}
