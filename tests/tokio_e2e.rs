//! The tokio programs (`tokio_server`, `tokio_client`) against the std
//! ones (`server`, `client`), driven from outside through their flags:
//! files move both ways, in v1 (`--seed-compatible`) and v2, stored byte
//! for byte, with the same output lines and exit statuses; the flags are
//! the same, and so are the refusals at start (status 2); the key log
//! (`SECUREX_KEYLOG`) and `--rotate-after` work; the tokio server's bounds
//! (`--max-connections`, `--timeout`, `--max-file-size`) hold as the std
//! server's do; after a v1 upload both clients half-close and drain, as
//! `Connection::ending` says. The tokio client's deadlines are in
//! `tests/stalls.rs`, beside the std client's.
//!
//! `cargo test` builds the examples before it runs this test, which runs
//! those binaries (run `cargo build --examples` first when filtering with
//! `--test tokio_e2e`).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::programs::{
    ClientProcess, ClientRun, ExampleServer, Store, examples_dir, random_bytes, scratch,
};

/// When a client counts as hung: it is killed then.
const KILL_AFTER: Duration = Duration::from_mins(2);

fn run(program: &str, addr: &str, flags: &[&str], file: &Path) -> ClientRun {
    ClientProcess::start_program(program, addr, flags, file, &[]).wait(KILL_AFTER)
}

/// The stored copy of `name`, once the server has renamed it (a v1
/// client is done once CLOSE is written, before the server stores it).
fn stored(store: &Path, name: &str) -> Vec<u8> {
    let path = store.join(name);
    for _ in 0..500 {
        if path.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: no stored copy: {e}"))
}

/// `server_program` receives files from `client_program`: an empty one and
/// one of many chunks (a partial last one), each stored byte for byte,
/// the client's line and the server's log line as the std programs print
/// them. v1 uses the seed preset (960-byte chunks, rotations every 20
/// frames): the files go through key rotations.
fn transfer(server_program: &str, client_program: &str, v1: bool) {
    let case = format!(
        "{client_program} -> {server_program} {}",
        if v1 { "v1" } else { "v2" }
    );
    let tmp = scratch(
        "tokio-e2e",
        &format!("{client_program}-{server_program}-{v1}"),
    );
    let version: &[&str] = if v1 { &["--seed-compatible"] } else { &[] };
    let server = ExampleServer::start_program(server_program, &tmp.store(), version, &[]);
    let big = if v1 { 150_001 } else { (3 << 20) + 1234 };
    let files = [
        ("empty.bin", Vec::new()),
        ("the-file.bin", random_bytes(big, 21)),
    ];
    for (i, (name, data)) in files.iter().enumerate() {
        let path = tmp.path().join(name);
        std::fs::write(&path, data).unwrap();
        let run = run(client_program, &server.addr, version, &path);
        assert_eq!(run.code, Some(0), "{case} {name}: {run:?}");
        assert_eq!(run.stderr, "", "{case} {name}");
        // `sent NAME (N bytes) in T s (RATE) with VERSION SUITE, R key rotations`
        let line = run.stdout.trim_end();
        let prefix = format!("sent {name} ({} bytes) in ", data.len());
        assert!(line.starts_with(&prefix), "{case}: {line:?}");
        assert!(line.contains(" with v"), "{case}: {line:?}");
        assert!(line.ends_with(" key rotations"), "{case}: {line:?}");
        assert_eq!(run.stdout.lines().count(), 1, "{case}: {:?}", run.stdout);
        let rotations: u32 = line
            .rsplit(", ")
            .next()
            .and_then(|r| r.split(' ').next())
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("{case}: {line:?}"));
        if v1 && !data.is_empty() {
            assert!(rotations > 0, "{case}: {line:?}");
        }
        assert!(
            stored(&tmp.store(), name) == *data,
            "{case} {name}: stored copy differs"
        );
        // `peer=ADDR suite=SUITE rotations=R stored NAME (N bytes)`
        let logs = server.connection_logs(i + 1, Duration::from_secs(10));
        let log = logs.get(i).unwrap_or_else(|| panic!("{case}: {logs:?}"));
        assert!(
            log.starts_with("peer=127.0.0.1:")
                && log.contains(" suite=DH;")
                && log.contains(&format!(" rotations={rotations} "))
                && log.ends_with(&format!(" stored {name} ({} bytes)", data.len())),
            "{case}: {log:?}"
        );
    }
    // Nothing else in the store: no temporary or partial file.
    let mut left: Vec<String> = std::fs::read_dir(tmp.store())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["empty.bin", "the-file.bin"], "{case}");
}

#[test]
fn tokio_client_to_std_server_v2() {
    transfer("server", "tokio_client", false);
}

#[test]
fn tokio_client_to_std_server_v1() {
    transfer("server", "tokio_client", true);
}

#[test]
fn std_client_to_tokio_server_v2() {
    transfer("tokio_server", "client", false);
}

#[test]
fn std_client_to_tokio_server_v1() {
    transfer("tokio_server", "client", true);
}

#[test]
fn tokio_client_to_tokio_server_v2_and_v1() {
    transfer("tokio_server", "tokio_client", false);
    transfer("tokio_server", "tokio_client", true);
}

/// The tokio programs take exactly the std programs' flags, with the same
/// defaults: their `--help` is the same but for the program's name.
#[test]
fn the_tokio_programs_take_the_same_flags() {
    let help = |program: &str| {
        let out = Command::new(examples_dir().join(program))
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{program}");
        String::from_utf8_lossy(&out.stdout)
            .replace(&format!("Usage: {program} "), "Usage: PROGRAM ")
    };
    for (std, tokio) in [("server", "tokio_server"), ("client", "tokio_client")] {
        let std_help = help(std);
        assert!(std_help.contains("--timeout"), "{std_help}");
        assert_eq!(std_help, help(tokio), "{tokio}");
    }
    // A bad flag is status 2 for both.
    for program in ["tokio_server", "tokio_client"] {
        let out = Command::new(examples_dir().join(program))
            .arg("--no-such-flag")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{program}");
    }
}

/// v2 with a PSK and a pinned server key, across the two: a tokio server
/// with `--static-key` and `--psk-file` serves a std client that pins its
/// key and has the PSK, and refuses one without the PSK; a tokio client
/// that pins another key is refused by a std server.
#[test]
fn v2_authentication_works_across_the_two() {
    let tmp = scratch("tokio-e2e", "auth");
    let psk = tmp.path().join("psk");
    std::fs::write(&psk, random_bytes(32, 22)).unwrap();
    let (key, other_key) = (tmp.path().join("server.key"), tmp.path().join("other.key"));
    let data = random_bytes(200_000, 23);
    let path = tmp.path().join("auth.bin");
    std::fs::write(&path, &data).unwrap();
    let (psk_s, key_s) = (psk.to_str().unwrap(), key.to_str().unwrap());
    let pinned = format!("{key_s}.pub");

    let tokio_server = ExampleServer::start_program(
        "tokio_server",
        &tmp.store(),
        &["--static-key", key_s, "--psk-file", psk_s],
        &[],
    );
    let ok = run(
        "client",
        &tokio_server.addr,
        &["--server-key", &pinned, "--psk-file", psk_s],
        &path,
    );
    assert_eq!(ok.code, Some(0), "{ok:?}");
    assert_eq!(std::fs::read(tmp.store().join("auth.bin")).unwrap(), data);
    std::fs::remove_file(tmp.store().join("auth.bin")).unwrap();
    let no_psk = run("client", &tokio_server.addr, &[], &path);
    assert_eq!(no_psk.code, Some(1), "{no_psk:?}");
    assert!(no_psk.stderr.contains("pre-shared key"), "{no_psk:?}");

    let std_server = ExampleServer::start(
        &tmp.store(),
        &[
            "--static-key",
            other_key.to_str().unwrap(),
            "--psk-file",
            psk_s,
        ],
    );
    let flags = ["--psk-file", psk_s];
    let ok = run("tokio_client", &std_server.addr, &flags, &path);
    assert_eq!(ok.code, Some(0), "{ok:?}");
    assert_eq!(std::fs::read(tmp.store().join("auth.bin")).unwrap(), data);
    std::fs::remove_file(tmp.store().join("auth.bin")).unwrap();
    let wrong_key = run(
        "tokio_client",
        &std_server.addr,
        &["--psk-file", psk_s, "--server-key", &pinned],
        &path,
    );
    assert_eq!(wrong_key.code, Some(1), "{wrong_key:?}");
    assert_eq!(wrong_key.stderr.lines().count(), 1, "{wrong_key:?}");
    assert!(
        wrong_key.stderr.contains("does not hold the key"),
        "{wrong_key:?}"
    );
    assert!(!tmp.store().join("auth.bin").exists());
}

/// The server's `--timeout` in the test below, in seconds.
const SERVER_TIMEOUT: u64 = 2;

/// `--max-connections 1`: while a silent connection holds the one slot,
/// a client is refused at once (`server busy`); the silent one is dropped
/// at its handshake deadline (`--timeout`), not before, which frees the
/// slot.
#[test]
fn a_busy_tokio_server_refuses_at_once_and_drops_a_silent_peer_at_its_deadline() {
    let tmp = scratch("tokio-e2e", "busy");
    let timeout = SERVER_TIMEOUT.to_string();
    let server = ExampleServer::start_program(
        "tokio_server",
        &tmp.store(),
        &["--max-connections", "1", "--timeout", &timeout],
        &[],
    );
    let path = tmp.path().join("f.bin");
    let data = random_bytes(50_000, 24);
    std::fs::write(&path, &data).unwrap();

    // The one slot: a raw connection that says nothing. The server
    // accepts in the order of the connections, so it has this one before
    // the client's.
    let holder_started = Instant::now();
    let mut holder = TcpStream::connect(&server.addr).unwrap();
    let refused = run("client", &server.addr, &[], &path);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert_eq!(refused.stderr.lines().count(), 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("server busy: 1 connection in progress"),
        "{refused:?}"
    );
    assert!(
        holder_started.elapsed() < Duration::from_secs(SERVER_TIMEOUT),
        "refused after {:?}",
        holder_started.elapsed()
    );
    assert!(!tmp.store().join("f.bin").exists());

    // Dropped at the handshake deadline, told why.
    holder
        .set_read_timeout(Some(Duration::from_secs(SERVER_TIMEOUT + 5)))
        .unwrap();
    let mut said = Vec::new();
    let _ = holder.read_to_end(&mut said);
    let after = holder_started.elapsed();
    let said = String::from_utf8_lossy(&said);
    assert!(
        said.contains("ERROR") && said.contains("timed out"),
        "{said:?}"
    );
    assert!(
        after
            >= Duration::from_secs(SERVER_TIMEOUT)
                .checked_sub(Duration::from_millis(200))
                .unwrap()
            && after < Duration::from_secs(SERVER_TIMEOUT + 3),
        "dropped after {after:?}"
    );
    // The refusal's line, then the silent peer's.
    let logs = server.connection_logs(2, Duration::from_secs(5));
    assert!(
        logs.iter()
            .any(|l| l.contains("failed: ") && l.contains("timed out waiting for the handshake")),
        "{logs:?}"
    );
    let ok = run("tokio_client", &server.addr, &[], &path);
    assert_eq!(ok.code, Some(0), "{ok:?}");
    assert_eq!(std::fs::read(tmp.store().join("f.bin")).unwrap(), data);
}

/// `--max-file-size`: a file one byte over is refused (the v2 client told
/// why), kept only as `.partial`.
#[test]
fn the_tokio_server_refuses_a_file_over_the_limit() {
    let tmp = scratch("tokio-e2e", "size");
    let server = ExampleServer::start_program(
        "tokio_server",
        &tmp.store(),
        &["--max-file-size", "100000"],
        &[],
    );
    let over = tmp.path().join("over.bin");
    std::fs::write(&over, random_bytes(100_001, 25)).unwrap();
    let run = run("tokio_client", &server.addr, &[], &over);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(
        run.stderr.contains("larger than the limit of 100000 bytes"),
        "{run:?}"
    );
    let logs = server.connection_logs(1, Duration::from_secs(5));
    assert!(
        logs.iter()
            .any(|l| l.contains("larger than the limit") && l.contains("kept over.bin.partial")),
        "{logs:?}"
    );
    assert!(!tmp.store().join("over.bin").exists());
}

/// A configuration the library refuses (`Config::validate`), or a key log
/// others may read (`SECUREX_KEYLOG`), is refused by both programs of a
/// side at start, with status 2 and the same line, before the server says
/// it listens and before the client connects.
#[test]
fn the_tokio_programs_refuse_what_the_std_ones_refuse_at_start() {
    let tmp = scratch("tokio-e2e", "refuse");
    let file = tmp.path().join("f.bin");
    std::fs::write(&file, b"x").unwrap();
    let readable = tmp.path().join("readable.log");
    std::fs::write(&readable, b"").unwrap();
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Nothing listens there: a client that connected would fail with 1.
    let nowhere = TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = nowhere.local_addr().unwrap().to_string();
    let store = tmp.store();
    let store = store.to_str().unwrap();
    let server = ["--listen", "127.0.0.1:0", "--dir", store];
    let client = ["--connect", &nowhere, file.to_str().unwrap()];
    let cases: [(&str, &[&str], Option<&Path>, &str); 4] = [
        ("server", &["--rotate-after", "0"], None, "is zero"),
        ("client", &["--rotate-after", "0"], None, "is zero"),
        ("server", &[], Some(&readable), "may be read by others"),
        ("client", &[], Some(&readable), "may be read by others"),
    ];
    for (side, flags, keylog, says) in cases {
        let stderr = |program: String| {
            let mut command = Command::new(examples_dir().join(&program));
            let base: &[&str] = if side == "server" { &server } else { &client };
            // The flags before the client's FILE.
            let (head, tail) = base.split_at(2);
            command.args(head).args(flags).args(tail);
            if let Some(path) = keylog {
                command.env("SECUREX_KEYLOG", path);
            }
            let out = command.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(out.status.code(), Some(2), "{program} {flags:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{program} {flags:?}: {stderr}");
            assert!(
                stderr.starts_with("error: ") && stderr.contains(says),
                "{program} {flags:?}: {stderr}"
            );
            stderr
        };
        assert_eq!(
            stderr(side.to_owned()),
            stderr(format!("tokio_{side}")),
            "{side} {flags:?}"
        );
    }
}

/// `SECUREX_KEYLOG` and `--rotate-after` on the tokio programs: a v2
/// upload from `tokio_client` to `tokio_server`, each with a key log of
/// its own, rotates as `--rotate-after 2` asks, and each program writes
/// its log (mode 0600) with both directions' keys of every epoch, the
/// same keys on both sides; the same in v1 (the client's rotations, one
/// line an epoch).
#[test]
fn the_tokio_programs_write_the_key_log_and_rotate_as_asked() {
    for v1 in [false, true] {
        let case = if v1 { "v1" } else { "v2" };
        let tmp = scratch("tokio-e2e", &format!("keylog-{case}"));
        let (server_log, client_log) =
            (tmp.path().join("server.log"), tmp.path().join("client.log"));
        let (server_flags, client_flags, len): (&[&str], &[&str], usize) = if v1 {
            (
                &["--seed-compatible"],
                &["--seed-compatible", "--rotate-after", "20"],
                100_000,
            )
        } else {
            (&["--rotate-after", "2"], &["--rotate-after", "2"], 600_000)
        };
        let server = ExampleServer::start_program(
            "tokio_server",
            &tmp.store(),
            server_flags,
            &[("SECUREX_KEYLOG", &server_log)],
        );
        let path = tmp.path().join("logged.bin");
        let data = random_bytes(len, 26);
        std::fs::write(&path, &data).unwrap();
        let run = ClientProcess::start_program(
            "tokio_client",
            &server.addr,
            client_flags,
            &path,
            &[("SECUREX_KEYLOG", &client_log)],
        )
        .wait(KILL_AFTER);
        assert_eq!(run.code, Some(0), "{case}: {run:?}");
        let rotations: u32 = run
            .stdout
            .rsplit(", ")
            .next()
            .and_then(|r| r.split(' ').next())
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("{case}: {run:?}"));
        assert!(rotations >= 3, "{case}: {rotations} rotations");
        assert_eq!(stored(&tmp.store(), "logged.bin"), data, "{case}");
        let logs = server.connection_logs(1, Duration::from_secs(10));
        assert!(
            logs.first()
                .is_some_and(|l| l.contains(&format!(" rotations={rotations} "))),
            "{case}: {logs:?}"
        );
        drop(server);
        let read = |path: &Path| {
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{case}: {path:?} mode {mode:o}");
            std::fs::read_to_string(path).unwrap()
        };
        let (server_lines, client_lines) = (read(&server_log), read(&client_log));
        // `LABEL CONN-ID EPOCH DIRECTION KEY MAC-KEY STATIC-IV`
        let (label, directions): (&str, &[&str]) = if v1 {
            ("SECUREX_V1", &["c2s"])
        } else {
            ("SECUREX_V2", &["c2s", "s2c"])
        };
        let expected: Vec<(u32, &str)> = (0..=rotations)
            .flat_map(|epoch| directions.iter().map(move |d| (epoch, *d)))
            .collect();
        let fields = |text: &str| -> Vec<(u32, String)> {
            text.lines()
                .map(|line| {
                    let f: Vec<&str> = line.split(' ').collect();
                    assert!(f.len() == 7 && f[0] == label, "{case}: {line}");
                    (f[2].parse().unwrap(), f[3].to_owned())
                })
                .collect()
        };
        let client_fields = fields(&client_lines);
        assert_eq!(
            client_fields
                .iter()
                .map(|(e, d)| (*e, d.as_str()))
                .collect::<Vec<_>>(),
            expected,
            "{case}"
        );
        assert_eq!(server_lines, client_lines, "{case}: the two sides' keys");
    }
}

/// How long the relay below waits between its two writes to a client
/// that ended its stream: a client that closed its socket has reset the
/// connection by then.
const PROBE_PAUSE: Duration = Duration::from_millis(300);

/// After a v1 upload (complete once `CLOSE` is written, which no server
/// answers) both clients end the transport as `Connection::ending` says:
/// they half-close, then read until the server's end of stream. A relay
/// between the client and the std server waits for the client's end of
/// stream, passes it on, and once the server has ended its own, writes to
/// the client twice, `PROBE_PAUSE` apart, before it ends its stream: a
/// client that closed its socket instead (no drain), or that closed it
/// without a half-close first, resets the second write. The client exits
/// 0 only after the relay's end of stream, and the file is stored.
#[test]
fn after_a_v1_upload_both_clients_half_close_and_drain() {
    for program in ["client", "tokio_client"] {
        let tmp = scratch("tokio-e2e", &format!("half-close-{program}"));
        let server = ExampleServer::start(&tmp.store(), &["--seed-compatible"]);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let upstream = server.addr.clone();
        let relay = thread::spawn(move || -> Result<Instant, String> {
            let (mut client, _) = listener.accept().map_err(|e| e.to_string())?;
            let mut server = TcpStream::connect(&upstream).map_err(|e| e.to_string())?;
            let (mut to_client, mut from_server) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            // The server's bytes to the client, until its end of stream.
            let down = thread::spawn(move || std::io::copy(&mut from_server, &mut to_client));
            std::io::copy(&mut client, &mut server).map_err(|e| format!("up: {e}"))?;
            // The client's end of stream: passed on; the server stores
            // the file and ends its stream.
            server.shutdown(Shutdown::Write).unwrap();
            down.join().unwrap().map_err(|e| format!("down: {e}"))?;
            client
                .write_all(b"\r\n")
                .map_err(|e| format!("first write: {e}"))?;
            thread::sleep(PROBE_PAUSE);
            client
                .write_all(b"\r\n")
                .map_err(|e| format!("second write: {e}"))?;
            client
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            // Its end of stream again (it half-closed), not a reset.
            match client.read(&mut [0u8; 16]) {
                Ok(0) => {}
                other => return Err(format!("the client's socket after the writes: {other:?}")),
            }
            let ended = Instant::now();
            client.shutdown(Shutdown::Write).unwrap();
            Ok(ended)
        });
        let path = tmp.path().join("v1.bin");
        let data = random_bytes(50_000, 27);
        std::fs::write(&path, &data).unwrap();
        let run = run(program, &addr, &["--seed-compatible"], &path);
        let relay_ended = relay.join().unwrap();
        assert_eq!(run.code, Some(0), "{program}: {run:?}");
        let relay_ended = relay_ended.unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            run.ended >= relay_ended,
            "{program} exited {:?} before the relay ended its stream",
            relay_ended - run.ended
        );
        assert_eq!(stored(&tmp.store(), "v1.bin"), data, "{program}");
    }
}

/// The measuring program of the README's idle figure (`idle_load`) runs:
/// it holds its connections to a tokio server of its own, none closed,
/// and prints the server's memory (here with 50 connections; the figure
/// is 10,000).
#[test]
fn idle_load_holds_its_connections_and_prints_the_servers_memory() {
    let out = Command::new(examples_dir().join("idle_load"))
        .args(["--connections", "50", "--settle", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("tokio_server with 50 idle established v2 connections")
            && stdout.contains(" VmRSS ")
            && stdout.contains(" VmHWM "),
        "{stdout}"
    );
}
