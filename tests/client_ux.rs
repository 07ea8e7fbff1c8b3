//! The example client as a tool, driven from outside: several files in
//! one command, files that cannot be sent refused before connecting, the
//! summary line, `--quiet`, the progress bar under a pseudo-terminal (and
//! never into a pipe), rotation on time and the groups from the command
//! line, for the std and the tokio client.
//!
//! Run `cargo build --examples` first when filtering with `--test`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::programs::{
    ClientProcess, ClientRun, ExampleServer as Server, Store, examples_dir, random_bytes, scratch,
};

const LIMIT: Duration = Duration::from_mins(2);

fn run(program: &str, addr: &str, args: &[&str], file: &Path) -> ClientRun {
    ClientProcess::start_program(program, addr, args, file, &[]).wait(LIMIT)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// The key rotations a summary line reports.
fn rotations(line: &str) -> u32 {
    line.split(", ")
        .find_map(|part| part.strip_suffix(" key rotations"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rotations in {line:?}"))
}

/// A relay to `upstream` that forwards the client's bytes at about 320
/// KB/s (8 KiB every 25 ms) and the server's at once: a transfer of `n`
/// bytes through it lasts at least `n / 320 KB` seconds, however fast the
/// machine.
fn throttled(upstream: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let upstream = upstream.to_owned();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut server) = TcpStream::connect(&upstream) else {
                return;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
            thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n @ 1..) = client.read(&mut buf) {
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(25));
                }
                let _ = server.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

/// Several files in one command: v2 sends them all on one connection
/// (`Extension::Batch`), v1 and a v2 server that offers no batch
/// (`--max-files-per-connection 1`) one connection per file; every file
/// stored, each with its summary line, then a total.
#[test]
fn several_files_in_one_command_are_all_stored_each_with_its_summary() {
    let setups: [(&[&str], &[&str], usize); 3] = [
        (&[], &[], 1),
        (&[], &["--max-files-per-connection", "1"], 3),
        (&["--seed-compatible"], &["--seed-compatible"], 3),
    ];
    for program in ["client", "tokio_client"] {
        for (version, server_args, connections) in setups {
            let tmp = scratch("ux-several", program);
            let server = Server::start(&tmp.store(), server_args);
            let files: Vec<(String, Vec<u8>)> = (0..3)
                .map(|i| {
                    (
                        format!("f{i}.bin"),
                        random_bytes(50_000 + i * 7_000, i as u64),
                    )
                })
                .collect();
            let paths: Vec<PathBuf> = files
                .iter()
                .map(|(name, data)| write(tmp.path(), name, data))
                .collect();
            let mut args: Vec<&str> = version.to_vec();
            args.push(paths[0].to_str().unwrap());
            args.push(paths[1].to_str().unwrap());
            let out = run(program, &server.addr, &args, &paths[2]);
            let case = format!("{program} {server_args:?}");
            assert_eq!(out.code, Some(0), "{case}: {out:?}");
            let lines: Vec<&str> = out.stdout.lines().collect();
            assert_eq!(lines.len(), 4, "{case}: {lines:?}");
            for (line, (name, data)) in lines.iter().zip(&files) {
                let start = format!("sent {name} ({} bytes) in ", data.len());
                assert!(line.starts_with(&start), "{case}: {line:?}");
            }
            let total: usize = files.iter().map(|(_, d)| d.len()).sum();
            assert!(
                lines[3].starts_with(&format!("sent 3 files ({total} bytes) in ")),
                "{case}: {lines:?}"
            );
            // v1 is done once CLOSE is written: wait for the server's lines.
            let logged = server.connection_logs(connections, LIMIT);
            assert_eq!(logged.len(), connections, "{case}: {logged:?}");
            thread::sleep(Duration::from_millis(100));
            assert_eq!(
                server.log().len(),
                connections,
                "{case}: {:?}",
                server.log()
            );
            if connections == 1 {
                assert!(
                    logged[0].ends_with(" stored 3 files: f0.bin, f1.bin, f2.bin"),
                    "{case}: {logged:?}"
                );
            }
            for (name, data) in &files {
                assert_eq!(&std::fs::read(tmp.store().join(name)).unwrap(), data);
            }
        }
    }
}

/// Every path is checked before the first connection: a directory among
/// the files fails the command with one line, and nothing reaches the
/// server, not even the files before it (no `.partial` left either).
#[test]
fn a_directory_among_the_files_is_refused_before_any_connection() {
    for program in ["client", "tokio_client"] {
        let tmp = scratch("ux-dir", program);
        let server = Server::start(&tmp.store(), &[]);
        let good = write(tmp.path(), "good.txt", b"good");
        let dir = tmp.path().join("a-directory");
        std::fs::create_dir(&dir).unwrap();
        let out = run(program, &server.addr, &[good.to_str().unwrap()], &dir);
        assert_eq!(out.code, Some(1), "{program}: {out:?}");
        assert_eq!(out.stdout, "", "{program}");
        assert_eq!(out.stderr.lines().count(), 1, "{program}: {}", out.stderr);
        assert!(
            out.stderr.contains("is not a regular file"),
            "{program}: {}",
            out.stderr
        );
        thread::sleep(Duration::from_millis(200));
        assert_eq!(
            std::fs::read_dir(tmp.store()).unwrap().count(),
            0,
            "{program}: the server stored something"
        );
        assert!(server.log().is_empty(), "{program}: {:?}", server.log());
    }
}

/// The summary: bytes, time, throughput, version, suite, rotations.
#[test]
fn the_summary_line_gives_bytes_time_rate_version_suite_and_rotations() {
    let tmp = scratch("ux-summary", "client");
    let server = Server::start(&tmp.store(), &["--seed-compatible"]);
    let file = write(tmp.path(), "s.bin", &random_bytes(100_000, 5));
    for (args, version) in [
        (&[][..], "v2 DH;AES-128;GCM;SHA-256"),
        (&["--seed-compatible"][..], "v1 DH;"),
    ] {
        let _ = std::fs::remove_file(tmp.store().join("s.bin"));
        let out = run("client", &server.addr, args, &file);
        assert_eq!(out.code, Some(0), "{out:?}");
        let line = out.stdout.trim_end();
        assert!(line.starts_with("sent s.bin (100000 bytes) in "), "{line}");
        let rest = &line["sent s.bin (100000 bytes) in ".len()..];
        let (secs, rest) = rest.split_once(" s (").unwrap_or_else(|| panic!("{line}"));
        secs.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
        let (rate, rest) = rest
            .split_once("/s) with ")
            .unwrap_or_else(|| panic!("{line}"));
        assert!(rate.ends_with("iB") || rate.ends_with(" B"), "{line}");
        assert!(rest.starts_with(version), "{line}");
        // v1 rotates every 20 frames in the seed preset; v2 does not here.
        let expected = if args.is_empty() { 0..=0 } else { 1..=u32::MAX };
        assert!(expected.contains(&rotations(line)), "{line}");
    }
}

#[test]
fn quiet_prints_nothing_on_success_and_one_line_on_failure() {
    for program in ["client", "tokio_client"] {
        let tmp = scratch("ux-quiet", program);
        let server = Server::start(&tmp.store(), &[]);
        let file = write(tmp.path(), "q.txt", b"quiet");
        let out = run(program, &server.addr, &["--quiet"], &file);
        assert_eq!(out.code, Some(0), "{program}: {out:?}");
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
        assert_eq!(std::fs::read(tmp.store().join("q.txt")).unwrap(), b"quiet");
        // The same name again: refused by the server, said in one line.
        let out = run(program, &server.addr, &["--quiet"], &file);
        assert_eq!(out.code, Some(1), "{program}: {out:?}");
        assert_eq!(out.stdout, "");
        assert_eq!(out.stderr.lines().count(), 1, "{program}: {}", out.stderr);
    }
}

/// Runs `client ARGS` under a pseudo-terminal (`script`), its stdout and
/// stderr the terminal; returns the exit status and what the terminal
/// showed.
fn under_a_terminal(program: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut command = shell_quote(&examples_dir().join(program).display().to_string());
    for arg in args {
        command.push(' ');
        command.push_str(&shell_quote(arg));
    }
    let out = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .output()
        .expect("run script(1)");
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), shown)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The bar (name, bytes, rate, ETA) is drawn on a terminal, then cleared
/// for the summary; into a pipe, or with `--quiet`, nothing but the
/// summary (or nothing) is written.
#[test]
fn the_progress_bar_is_drawn_under_a_terminal_and_never_into_a_pipe() {
    for program in ["client", "tokio_client"] {
        let tmp = scratch("ux-bar", program);
        let server = Server::start(&tmp.store(), &["--overwrite"]);
        let relay = throttled(&server.addr);
        // At least 2.5 s through the relay: the bar is redrawn often.
        let file = write(tmp.path(), "bar.bin", &random_bytes(800_000, 8));
        let path = file.to_str().unwrap();
        let (code, shown) = under_a_terminal(program, &["--connect", &relay, path]);
        assert_eq!(code, Some(0), "{program}: {shown}");
        assert!(shown.contains("bar.bin ["), "{program}: {shown:?}");
        assert!(shown.contains("ETA"), "{program}: {shown:?}");
        assert!(shown.contains("KiB/s"), "{program}: {shown:?}");
        assert!(
            shown.contains("sent bar.bin (800000 bytes) in "),
            "{program}: {shown:?}"
        );

        let (code, shown) = under_a_terminal(program, &["--connect", &relay, "--quiet", path]);
        assert_eq!(code, Some(0), "{program}: {shown}");
        assert_eq!(shown, "", "{program}: --quiet");

        let out = run(program, &relay, &[], &file);
        assert_eq!(out.code, Some(0), "{program}: {out:?}");
        assert_eq!(out.stderr, "", "{program}: a pipe gets no bar");
        assert!(out.stdout.starts_with("sent bar.bin"), "{program}: {out:?}");
    }
}

/// `--rotate-every SECS` rotates the client's keys on time, in v1 and v2.
/// The transfer lasts at least 3 s through the relay, so a rotation every
/// second happens (only about once: the socket buffers take most of the
/// file in the first second, and a rotation waits for records sent in
/// its epoch); without the flag (and with the record limits out of
/// reach) none does. A v2 server's `--rotate-every` acts only once the
/// server has sent 4 KiB in the epoch, which an upload's server never
/// does (see `ServerArgs`).
#[test]
fn rotate_every_rotates_on_time_in_both_versions() {
    let tmp = scratch("ux-rotate-every", "client");
    let file = write(tmp.path(), "slow.bin", &random_bytes(3_000_000, 3));
    let v1 = ["--seed-compatible", "--rotate-after", "1000000"];
    let cases: [(&str, &[&str], &[&str], bool); 4] = [
        ("v2 client", &[], &["--rotate-every", "1"], true),
        ("v2 neither", &[], &[], false),
        ("v1 client", &["--seed-compatible"], &v1, true),
        ("v1 neither", &["--seed-compatible"], &v1, false),
    ];
    for (case, server_args, client_args, rotates) in cases {
        let store = tmp.path().join(case.replace(' ', "-"));
        std::fs::create_dir(&store).unwrap();
        let server = Server::start(&store, server_args);
        let relay = throttled(&server.addr);
        let mut args = client_args.to_vec();
        if case == "v1 client" {
            args.extend(["--rotate-every", "1"]);
        }
        let out = run("client", &relay, &args, &file);
        assert_eq!(out.code, Some(0), "{case}: {out:?}");
        let n = rotations(out.stdout.trim_end());
        assert!(out.elapsed >= Duration::from_secs(3), "{case}: {out:?}");
        if rotates {
            assert!(n >= 1, "{case}: {}", out.stdout);
        } else {
            assert_eq!(n, 0, "{case}: {}", out.stdout);
        }
        // v1 is done once CLOSE is written: wait for the server's line.
        let logged = server.connection_logs(1, LIMIT);
        assert!(logged[0].contains(" stored slow.bin"), "{case}: {logged:?}");
        assert_eq!(
            std::fs::read(store.join("slow.bin")).unwrap(),
            std::fs::read(&file).unwrap()
        );
    }
}

/// `--groups`: a server that takes only ffdhe3072 refuses a client whose
/// key share is in ffdhe2048 (the default first) and serves one given
/// `--groups ffdhe3072`.
#[test]
fn groups_from_the_command_line_choose_the_key_share() {
    for program in ["client", "tokio_client"] {
        let tmp = scratch("ux-groups", program);
        let server = Server::start(&tmp.store(), &["--groups", "ffdhe3072"]);
        let file = write(tmp.path(), "g.txt", b"groups");
        let out = run(program, &server.addr, &[], &file);
        assert_eq!(out.code, Some(1), "{program}: {out:?}");
        let out = run(
            program,
            &server.addr,
            &["--groups", "ffdhe3072,ffdhe4096"],
            &file,
        );
        assert_eq!(out.code, Some(0), "{program}: {out:?}");
        assert_eq!(std::fs::read(tmp.store().join("g.txt")).unwrap(), b"groups");
    }
}
