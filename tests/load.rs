//! Load: many clients at once against one example server over loopback,
//! in both versions, files of every size from 0 B to 3 MB (distinct
//! names), every one stored byte for byte. The connections reach the
//! server all at once (through a relay that waits for all the clients
//! before it connects any to the server). The server's peak RSS
//! (`VmHWM` of `/proc/<pid>/status`) is printed, and must stay under
//! 64 MB for up to 256 clients.
//!
//! `SECUREX_LOAD_CLIENTS` sets the number of clients (default 64). With
//! `SECUREX_EXAMPLES_DIR` it runs other binaries, e.g. release ones:
//!
//! ```text
//! cargo build --release --examples
//! SECUREX_LOAD_CLIENTS=256 SECUREX_EXAMPLES_DIR=target/release/examples \
//!     cargo test --test load -- --nocapture
//! ```
//!
//! `cargo test` builds the examples before it runs this test, which runs
//! those binaries (run `cargo build --examples` first when filtering with
//! `--test load`).

mod common;

use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::programs::{
    ClientProcess, ExampleServer, Store, examples_dir, proc_status, random_bytes, scratch,
};

/// The peak RSS the server must stay under, with up to 256 clients.
const MAX_RSS_BYTES: u64 = 64_000_000;

/// When a client counts as hung.
const KILL_AFTER: Duration = Duration::from_mins(10);

fn clients() -> usize {
    std::env::var("SECUREX_LOAD_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

/// The size of client `i`'s file: eight kinds, from empty to 3 MB, each a
/// little different from one client to the next.
fn size(i: usize) -> usize {
    let k = i / 8;
    match i % 8 {
        0 => k,
        1 => 960 + k,
        2 => 5 * 960,
        3 => 16_384 + k,
        4 => 100_000 + k,
        5 => 500_000 + k,
        6 => (1 << 20) + k,
        _ => 3_000_000 + k,
    }
}

/// A relay that makes the clients' connections reach the server all at
/// once: it accepts `n` connections, and only then connects each to the
/// server and relays both ways. The server then holds `n` connections at
/// once, whatever the clients' start-up times.
struct Gate {
    addr: String,
}

impl Gate {
    fn start(upstream: &str, n: usize) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let upstream = upstream.to_owned();
        thread::spawn(move || {
            let clients: Vec<TcpStream> = listener
                .incoming()
                .take(n)
                .map(|s| s.expect("accept a client"))
                .collect();
            let servers: Vec<TcpStream> = clients
                .iter()
                .map(|_| TcpStream::connect(&upstream).expect("connect to the server"))
                .collect();
            for (client, server) in clients.into_iter().zip(servers) {
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                thread::spawn(move || relay(client, s2));
                thread::spawn(move || relay(server, c2));
            }
        });
        Gate { addr }
    }
}

/// One direction of the gate: copies until the end, then passes it on.
fn relay(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// Prints a line even when the test's output is captured.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[allow(
    clippy::cast_precision_loss,
    reason = "the report gives megabytes to one decimal, of counts far below 2^52 where `f64` is exact"
)]
fn load(version: &str, server_flags: &[&str], client_flags: &[&str]) {
    let n = clients();
    let tmp = scratch("load", version);
    let files: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let name = format!("load-{version}-{i:03}-{}.bin", size(i));
            let data = random_bytes(size(i), i as u64 + 1);
            std::fs::write(tmp.path().join(&name), &data).unwrap();
            (name, data)
        })
        .collect();
    let max = (n + 8).to_string();
    let mut flags = server_flags.to_vec();
    flags.extend(["--max-connections", &max]);
    let server = ExampleServer::start(&tmp.store(), &flags);

    let gate = Gate::start(&server.addr, n);
    let started = Instant::now();
    let running: Vec<ClientProcess> = files
        .iter()
        .map(|(name, _)| ClientProcess::start(&gate.addr, client_flags, &tmp.path().join(name)))
        .collect();
    // How many connections the server holds at once: two threads each,
    // besides its main thread.
    let peak_threads = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, pid) = (Arc::clone(&peak_threads), Arc::clone(&done), server.pid());
        thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(proc_status(pid, "Threads").unwrap_or(0), Ordering::SeqCst);
                thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let runs: Vec<_> = running.into_iter().map(|c| c.wait(KILL_AFTER)).collect();
    let elapsed = started.elapsed();
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let peak_threads = peak_threads.load(Ordering::SeqCst);
    for ((name, _), run) in files.iter().zip(&runs) {
        assert_eq!(run.code, Some(0), "{version} {name}: {run:?}");
    }
    // v1: a client is done once CLOSE is written; the server has stored
    // the file once it logs the connection.
    let logs = server.connection_logs(n, Duration::from_mins(1));
    assert_eq!(logs.len(), n, "{version}: {logs:?}");
    for (name, data) in &files {
        let stored = std::fs::read(tmp.store().join(name))
            .unwrap_or_else(|e| panic!("{version} {name}: no stored copy: {e}"));
        assert!(stored == *data, "{version} {name}: stored copy differs");
    }
    assert_eq!(std::fs::read_dir(tmp.store()).unwrap().count(), n);

    let hwm_kb = server.proc_status("VmHWM").expect("VmHWM of the server");
    let total: usize = files.iter().map(|(_, d)| d.len()).sum();
    let profile = examples_dir()
        .parent()
        .and_then(|p| p.file_name())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    report(&format!(
        "load: {version} {n} clients peak RSS {:.1} MB (VmHWM {hwm_kb} kB), \
         {:.1} MB in {elapsed:.1?}, up to {} connections at once ({profile} binaries)",
        (hwm_kb * 1024) as f64 / 1e6,
        total as f64 / 1e6,
        peak_threads.saturating_sub(1) / 2,
    ));
    if n <= 256 {
        assert!(
            hwm_kb * 1024 < MAX_RSS_BYTES,
            "{version}: peak RSS {hwm_kb} kB with {n} clients"
        );
    }
}

#[test]
fn many_clients_at_once_in_both_versions() {
    load("v2", &[], &[]);
    // PBKDF2 runs at every v1 rotation: rotate rarely.
    load(
        "v1",
        &["--seed-compatible"],
        &["--seed-compatible", "--rotate-after", "1000"],
    );
}
