//! The demo: a server and a client in one process on a free loopback
//! port; the client sends a generated file, the demo checks the stored
//! copy byte for byte.
//!
//! ```text
//! cargo run --release --example demo
//! ```

mod common;

use std::net::TcpListener;
use std::thread;

use rand::Rng;
use securex::Config;

const SIZE: usize = 1 << 20;

fn main() {
    if let Err(e) = run() {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    // Removed when dropped.
    let root = tempfile::Builder::new()
        .prefix("securex-demo-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let store = root.path().join("store");
    std::fs::create_dir_all(&store).map_err(|e| e.to_string())?;

    let source = root.path().join("demo-file.bin");
    let mut data = vec![0u8; SIZE];
    common::os_rng().fill_bytes(&mut data);
    std::fs::write(&source, &data).map_err(|e| e.to_string())?;

    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "server listening on {addr}, storing into {}",
        store.display()
    );
    let server_store = store.clone();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        common::serve(stream, Config::default(), &common::Store::new(server_store))
    });

    let addr = addr.to_string();
    let file = common::upload::Prepared::open(&source, 16 * 1024, &addr)?;
    let batch =
        common::upload::Batch::new(vec![file], &addr, common::progress::Display::new(false))?;
    let (mut stored, error, _) = common::send_batch(&addr, Config::default(), batch);
    if let Some(e) = error {
        return Err(e);
    }
    let sent = stored.pop().ok_or("the transfer did not finish")?;
    let server_log = server.join().map_err(|_| "server thread panicked")?;
    println!("client: {}", common::progress::summary(&sent));
    println!("server: {server_log}");

    let stored =
        std::fs::read(store.join(&sent.name)).map_err(|e| format!("no stored copy: {e}"))?;
    if stored != data {
        return Err(format!("the stored copy differs ({} bytes)", stored.len()));
    }
    println!("stored copy matches the original byte for byte");
    Ok(())
}
