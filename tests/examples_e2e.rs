//! The example programs, driven from outside through their flags (a
//! contract): our client sends files to our server over loopback in every
//! suite, byte for byte, and fails loudly when it must.
//!
//! `cargo test` builds the examples before it runs this test, which runs
//! those binaries (run `cargo build --examples` first when filtering with
//! `--test examples_e2e`).

mod common;

use common::programs::{ExampleServer as Server, Store, examples_dir, random_bytes, scratch};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use securex::suite::CipherSuite;

fn client(addr: &str, flags: &[&str], file: &Path) -> Output {
    Command::new(examples_dir().join("client"))
        .args(["--connect", addr])
        .args(flags)
        .arg(file)
        .output()
        .expect("run the example client")
}

fn text(len: usize) -> Vec<u8> {
    let line = "The quick brown fox jumps over the lazy dog; \u{e9}t\u{e9} \u{2603}.\n";
    line.as_bytes().iter().copied().cycle().take(len).collect()
}

/// Sends each file in one suite and checks the stored copies.
fn transfer_all(suite: CipherSuite, files: &[(&str, Vec<u8>, &[&str])]) {
    let name = suite.to_string().replace(';', "_");
    let tmp = scratch("e2e", &name);
    let (c, m, h) = (
        suite.cipher().to_string(),
        suite.mode().to_string(),
        suite.hash().to_string(),
    );
    let server = Server::start(
        &tmp.store(),
        &[
            "--seed-compatible",
            "--ciphers",
            &c,
            "--modes",
            &m,
            "--hashes",
            &h,
        ],
    );
    for (file_name, data, flags) in files {
        let path = tmp.path().join(file_name);
        std::fs::write(&path, data).unwrap();
        let mut all_flags = vec!["--seed-compatible"];
        all_flags.extend_from_slice(flags);
        let out = client(&server.addr, &all_flags, &path);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{suite} {file_name}: client failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&suite.to_string()), "{suite}: {stdout}");
        // v1: the client is done once CLOSE is written; the server stores
        // the file when it reads it. Wait briefly for the rename.
        let stored = tmp.store().join(file_name);
        for _ in 0..200 {
            if stored.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let copy = std::fs::read(&stored)
            .unwrap_or_else(|e| panic!("{suite} {file_name}: no stored copy: {e}"));
        assert!(copy == *data, "{suite} {file_name}: stored copy differs");
    }
    // Nothing else is left in the store: no temporary or partial files.
    let mut left: Vec<String> = std::fs::read_dir(tmp.store())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut expected: Vec<String> = files.iter().map(|f| f.0.to_owned()).collect();
    expected.sort();
    assert_eq!(left, expected, "{suite}");
}

#[test]
fn every_suite_moves_every_kind_of_file_byte_for_byte() {
    let files: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("empty.bin", vec![], &[]),
        // Exactly 5 chunks of the seed preset's 960 bytes.
        ("multiple.bin", random_bytes(5 * 960, 1), &[]),
        (
            "random.bin",
            random_bytes(1 << 20, 2),
            &["--chunk-size", "65536"],
        ),
        ("text.txt", text(600_000), &[]),
    ];
    // Two suites at a time: the machine has two cores.
    let suites = CipherSuite::ALL;
    for pair in suites.chunks(2) {
        std::thread::scope(|s| {
            for &suite in pair {
                let files = &files;
                s.spawn(move || transfer_all(suite, files));
            }
        });
    }
}

#[test]
fn the_client_reports_a_refusal_and_exits_non_zero() {
    let tmp = scratch("e2e", "refusal");
    let server = Server::start(&tmp.store(), &["--seed-compatible", "--ciphers", "AES-128"]);
    let path = tmp.path().join("f.txt");
    std::fs::write(&path, b"hello").unwrap();
    let out = client(
        &server.addr,
        &["--seed-compatible", "--ciphers", "3DES"],
        &path,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no cipher suite"), "{stderr}");
    assert_eq!(std::fs::read_dir(tmp.store()).unwrap().count(), 0);
}

#[test]
fn the_client_fails_without_a_server() {
    let tmp = scratch("e2e", "noserver");
    let path = tmp.path().join("f.txt");
    std::fs::write(&path, b"hello").unwrap();
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = client(&format!("127.0.0.1:{port}"), &["--seed-compatible"], &path);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}

/// A directory is refused before the client connects: with nobody
/// listening the error is still about the path, and a server is left
/// without a `.partial`.
#[test]
fn a_path_that_is_not_a_regular_file_is_refused_before_connecting() {
    let tmp = scratch("e2e", "notafile");
    let dir = tmp.path().join("src");
    std::fs::create_dir(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = client(&format!("127.0.0.1:{port}"), &[], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is not a regular file"), "{stderr}");
    let server = Server::start(&tmp.store(), &[]);
    let out = client(&server.addr, &[], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a regular file"));
    assert_eq!(std::fs::read_dir(tmp.store()).unwrap().count(), 0);
}

/// v2, the default: plain, with a PSK, and with a pinned server key; a
/// client without the PSK, or pinning another key, is refused.
#[test]
fn v2_by_default_with_and_without_authentication() {
    let tmp = scratch("e2e", "v2");
    let psk = tmp.path().join("psk");
    std::fs::write(&psk, random_bytes(32, 7)).unwrap();
    let key = tmp.path().join("server.key");
    let data = random_bytes(300_000, 8);
    let path = tmp.path().join("v2.bin");
    std::fs::write(&path, &data).unwrap();
    let (psk_s, key_s) = (psk.to_str().unwrap(), key.to_str().unwrap());
    let pinned = format!("{key_s}.pub");

    let plain = Server::start(&tmp.store(), &["--static-key", key_s]);
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for flags in [&[][..], &["--server-key", &pinned], &["--modes", "CBC"]] {
        let out = client(&plain.addr, flags, &path);
        assert!(
            out.status.success(),
            "{flags:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(tmp.store().join("v2.bin")).unwrap(), data);
        std::fs::remove_file(tmp.store().join("v2.bin")).unwrap();
    }
    let with_psk = Server::start(&tmp.store(), &["--psk-file", psk_s]);
    let out = client(&with_psk.addr, &["--psk-file", psk_s], &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = client(&with_psk.addr, &[], &path);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pre-shared key"));

    let other_key = tmp.path().join("other.key");
    let other = Server::start(&tmp.store(), &["--static-key", other_key.to_str().unwrap()]);
    let out = client(&other.addr, &["--server-key", &pinned], &path);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not hold the key"));
}
