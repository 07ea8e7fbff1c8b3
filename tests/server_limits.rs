//! The example server's bounds, driven from outside through its flags:
//! `--max-connections` (a busy server refuses at once, in words),
//! `--max-file-size` (a larger file is refused, never stored under its
//! name), and `--timeout` (a peer that says nothing, or trickles bytes, is
//! dropped within it and leaves nothing behind).
//!
//! `cargo test` builds the examples before it runs this test, which runs
//! those binaries (run `cargo build --examples` first when filtering with
//! `--test server_limits`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::programs::{ExampleServer, Store, examples_dir, random_bytes, run_client, scratch};

/// When a client counts as hung.
const KILL_AFTER: Duration = Duration::from_secs(40);

/// The server's `--timeout` in these tests, in seconds.
const SERVER_TIMEOUT: u64 = 2;

/// What the server may take beyond its deadline to drop a peer.
const MARGIN: Duration = Duration::from_secs(3);

/// Reads from a raw connection until the server closes it (or `limit`
/// passes); returns what it sent and when it closed.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Instant>) {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return (got, Some(Instant::now())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // Reset: closed too.
            Err(_) => return (got, Some(Instant::now())),
        }
    }
    (got, None)
}

/// The server's threads, once they are back to `count` (or after a
/// while).
fn threads_settle(server: &ExampleServer, count: u64) -> Option<u64> {
    let start = Instant::now();
    loop {
        let now = server.proc_status("Threads");
        if now == Some(count) || start.elapsed() > Duration::from_secs(5) {
            return now;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn help_documents_every_bound_with_its_default() {
    let out = Command::new(examples_dir().join("server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, default) in [
        ("--max-connections", "[default: 64]"),
        ("--max-file-size", "[default: 4294967296]"),
        ("--timeout", "[default: 30]"),
    ] {
        let line = help
            .lines()
            .skip_while(|l| !l.contains(flag))
            .take_while(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(line.contains(default), "{flag}: {line:?}\n{help}");
    }
    let out = Command::new(examples_dir().join("client"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("[default: 30]"));
}

#[test]
fn a_busy_server_refuses_at_once_and_serves_again_once_free() {
    let tmp = scratch("limits", "busy");
    let timeout = SERVER_TIMEOUT.to_string();
    let server = ExampleServer::start(
        &tmp.store(),
        &["--max-connections", "1", "--timeout", &timeout],
    );
    let path = tmp.path().join("f.bin");
    let data = random_bytes(50_000, 3);
    std::fs::write(&path, &data).unwrap();

    // The one slot: a raw connection that says nothing.
    let mut holder = TcpStream::connect(&server.addr).unwrap();
    // The server has accepted it once it is counted in its threads: its
    // main thread, the connection's, its reader's and its SHA-256's.
    assert_eq!(threads_settle(&server, 4), Some(4));

    let started = Instant::now();
    let run = run_client(&server.addr, &[], &path, KILL_AFTER);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("server busy"), "{run:?}");
    assert!(run.stderr.contains("1 connection in progress"), "{run:?}");
    // At once: well before the holder's deadline.
    assert!(
        started.elapsed() < Duration::from_secs(SERVER_TIMEOUT),
        "refused after {:?}",
        started.elapsed()
    );
    assert!(!tmp.store().join("f.bin").exists());

    // The holder is dropped at its handshake deadline, which frees the
    // slot (before the server logs it).
    let (_, closed) = read_until_closed(&mut holder, Duration::from_secs(SERVER_TIMEOUT) + MARGIN);
    assert!(closed.is_some(), "the silent connection was not dropped");
    let logs = server.connection_logs(2, Duration::from_secs(5));
    assert!(logs.iter().any(|l| l.contains("timed out")), "{logs:?}");
    let run = run_client(&server.addr, &[], &path, KILL_AFTER);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(std::fs::read(tmp.store().join("f.bin")).unwrap(), data);
}

#[test]
fn a_file_over_the_limit_is_refused_and_never_stored() {
    let tmp = scratch("limits", "size");
    // Seed-compatible: it accepts v1 and v2 clients.
    let server = ExampleServer::start(
        &tmp.store(),
        &["--seed-compatible", "--max-file-size", "100000"],
    );
    // At the limit: stored.
    let at = tmp.path().join("at.bin");
    let data = random_bytes(100_000, 4);
    std::fs::write(&at, &data).unwrap();
    let run = run_client(&server.addr, &[], &at, KILL_AFTER);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(std::fs::read(tmp.store().join("at.bin")).unwrap(), data);

    // One byte over, in both versions: refused, kept at most as
    // `.partial`. The v2 client is told (the server's ERROR instead of OK
    // to CLOSE); a v1 client is done once CLOSE is written (v1 servers
    // never answer it), so it may not hear of the refusal.
    for (name, flags) in [
        ("over.bin", &[][..]),
        ("over-v1.bin", &["--seed-compatible"][..]),
    ] {
        let over = tmp.path().join(name);
        std::fs::write(&over, random_bytes(100_001, 5)).unwrap();
        let run = run_client(&server.addr, flags, &over, KILL_AFTER);
        if flags.is_empty() || run.code != Some(0) {
            assert_eq!(run.code, Some(1), "{name}: {run:?}");
            assert_eq!(run.stderr.lines().count(), 1, "{name}: {run:?}");
            assert!(
                run.stderr.contains("larger than the limit of 100000 bytes"),
                "{name}: {run:?}"
            );
        }
        // The server has logged the connection once the partial file is
        // renamed.
        let logs =
            server.connection_logs(if flags.is_empty() { 2 } else { 3 }, Duration::from_secs(5));
        assert!(
            logs.last()
                .is_some_and(|l| l.contains("larger than the limit")
                    && l.contains(&format!("kept {name}.partial"))),
            "{name}: {logs:?}"
        );
        let left: Vec<String> = std::fs::read_dir(tmp.store())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            left.iter()
                // v2 keeps the partial's resume token beside it.
                .all(|n| n == "at.bin"
                    || n == "over.bin.partial"
                    || n == "over.bin.partial~token"
                    || n == "over-v1.bin.partial"),
            "{name}: {left:?}"
        );
    }
}

#[test]
fn silent_and_trickling_peers_are_dropped_within_the_deadline() {
    let tmp = scratch("limits", "silent");
    let timeout = SERVER_TIMEOUT.to_string();
    let server = ExampleServer::start(&tmp.store(), &["--timeout", &timeout]);
    let idle_threads = threads_settle(&server, 1);
    assert_eq!(
        idle_threads,
        Some(1),
        "the server's threads before any peer"
    );

    let started = Instant::now();
    let mut silent = TcpStream::connect(&server.addr).unwrap();
    let mut trickler = TcpStream::connect(&server.addr).unwrap();
    // One byte a second of a hello that never ends.
    let mut writer = trickler.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        for byte in br#"{"type": "ALGORITHMS", "ciphers": ["AES-128"# {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
    let limit = Duration::from_secs(SERVER_TIMEOUT) + MARGIN;
    for (name, stream) in [("silent", &mut silent), ("trickling", &mut trickler)] {
        let (said, closed) = read_until_closed(stream, limit + Duration::from_secs(5));
        let closed = closed.unwrap_or_else(|| panic!("{name}: not dropped"));
        let took = closed - started;
        assert!(took < limit, "{name}: dropped after {took:?}");
        // It is told why, in a plaintext ERROR.
        let said = String::from_utf8_lossy(&said);
        assert!(
            said.contains("ERROR") && said.contains("timed out"),
            "{name}: {said:?}"
        );
    }
    trickle.join().unwrap();
    // Nothing is held any more: the connections' threads have ended.
    assert_eq!(threads_settle(&server, 1), Some(1), "threads left behind");
    let logs = server.connection_logs(2, Duration::from_secs(5));
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs.iter().all(|l| l.contains("timed out")), "{logs:?}");

    // And the server still serves.
    let path = tmp.path().join("after.bin");
    let data = random_bytes(20_000, 6);
    std::fs::write(&path, &data).unwrap();
    let run = run_client(&server.addr, &[], &path, KILL_AFTER);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(std::fs::read(tmp.store().join("after.bin")).unwrap(), data);
}

/// A stored file is not another client's to replace: the second upload of
/// a name is refused in both versions, in words, and the first copy stays;
/// `--overwrite` lets it replace.
#[test]
fn a_stored_file_is_replaced_only_with_overwrite() {
    for (label, server_flags) in [("refuse", &[][..]), ("overwrite", &["--overwrite"][..])] {
        let tmp = scratch("limits", label);
        let flags: Vec<&str> = ["--seed-compatible"]
            .into_iter()
            .chain(server_flags.iter().copied())
            .collect();
        let server = ExampleServer::start(&tmp.store(), &flags);
        for (version, client_flags) in [("v2", &[][..]), ("v1", &["--seed-compatible"][..])] {
            let name = format!("{version}.bin");
            let first = random_bytes(5000, 6);
            let second = random_bytes(7000, 7);
            let path = tmp.path().join(&name);
            std::fs::write(&path, &first).unwrap();
            let run = run_client(&server.addr, client_flags, &path, KILL_AFTER);
            assert_eq!(run.code, Some(0), "{label} {version}: {run:?}");
            std::fs::write(&path, &second).unwrap();
            let run = run_client(&server.addr, client_flags, &path, KILL_AFTER);
            let stored = std::fs::read(tmp.store().join(&name)).unwrap();
            if server_flags.is_empty() {
                // The server refuses OPEN, which both versions answer.
                assert_eq!(run.code, Some(1), "{version}: {run:?}");
                assert_eq!(run.stderr.lines().count(), 1, "{version}: {run:?}");
                assert!(
                    run.stderr
                        .contains(&format!("a file named {name} is already stored")),
                    "{version}: {run:?}"
                );
                assert_eq!(stored, first, "{version}");
            } else {
                assert_eq!(run.code, Some(0), "{version}: {run:?}");
                assert_eq!(stored, second, "{version}");
            }
        }
    }
}
