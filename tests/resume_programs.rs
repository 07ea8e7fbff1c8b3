//! Resume through the example programs: a client killed mid-upload leaves
//! a ticket beside the file and a `.partial` on the server; the next run
//! of the same command continues from what the server holds and stores
//! the file byte for byte; a stranger's ticket is refused.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::programs::{ClientProcess, ExampleServer, Store, random_bytes, run_client, scratch};
use securex::message::ResumeToken;
use securex::transfer::ResumeTicket;

const LIMIT: Duration = Duration::from_mins(1);

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Starts an upload of `file` and kills the client once the server holds
/// at least `cut` bytes of it.
fn killed_upload(server: &ExampleServer, file: &Path, partial: &Path, cut: u64) {
    let client = ClientProcess::start(&server.addr, &["--chunk-size", "65536"], file);
    let start = Instant::now();
    while len(partial) < cut {
        assert!(
            start.elapsed() < LIMIT,
            "the upload never reached {cut} bytes"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    client.kill();
}

/// Waits until the server logs that it kept `<name>.partial`.
fn wait_kept(server: &ExampleServer, name: &str) {
    let kept = format!("kept {name}.partial");
    let start = Instant::now();
    while server.log().iter().all(|l| !l.contains(&kept)) {
        assert!(
            start.elapsed() < LIMIT,
            "the server never kept it: {:?}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ticket_of(file: &Path) -> std::path::PathBuf {
    let mut path = file.as_os_str().to_os_string();
    path.push(".securex-resume");
    path.into()
}

#[test]
fn a_killed_upload_resumes_and_the_file_is_stored_byte_for_byte() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("resume-programs", "killed");
    let server = ExampleServer::start(&dir.store(), &[]);
    let file = dir.path().join("big.bin");
    let data = random_bytes(96 << 20, 21);
    std::fs::write(&file, &data).unwrap();
    let partial = dir.store().join("big.bin.partial");
    killed_upload(&server, &file, &partial, 8 << 20);

    // The ticket was kept as soon as the server accepted the upload.
    let ticket = ticket_of(&file);
    let text = std::fs::read_to_string(&ticket).expect("a ticket beside the file");
    let kept = ResumeTicket::from_text(&text).unwrap();
    assert_eq!(
        (kept.server.as_str(), kept.stored_name.as_str()),
        (server.addr.as_str(), "big.bin")
    );
    assert_eq!(
        std::fs::metadata(&ticket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The server noticed the end and kept what it had.
    wait_kept(&server, "big.bin");
    let held = len(&partial);
    assert!(held >= 8 << 20 && held < data.len() as u64, "held {held}");

    // The same command again.
    let run = run_client(&server.addr, &["--chunk-size", "65536"], &file, LIMIT);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("resumed after the {held} bytes the server held")),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read(dir.store().join("big.bin")).unwrap(), data);
    assert!(
        !partial.exists() && !ticket.exists(),
        "nothing left to resume"
    );
    let mut store: Vec<_> = std::fs::read_dir(dir.store())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    store.sort();
    assert_eq!(store, ["big.bin"]);
}

#[test]
fn a_strangers_ticket_resumes_nothing() {
    let dir = scratch("resume-programs", "stranger");
    let server = ExampleServer::start(&dir.store(), &[]);
    let file = dir.path().join("f.bin");
    let data = random_bytes(48 << 20, 22);
    std::fs::write(&file, &data).unwrap();
    let partial = dir.store().join("f.bin.partial");
    killed_upload(&server, &file, &partial, 4 << 20);
    wait_kept(&server, "f.bin");
    let before = std::fs::read(&partial).unwrap();

    // Someone else's copy of the file, with a ticket of their own making.
    let other = dir.path().join("elsewhere");
    std::fs::create_dir(&other).unwrap();
    let theirs = other.join("f.bin");
    std::fs::write(&theirs, &data).unwrap();
    let forged = ResumeTicket {
        server: server.addr.clone(),
        stored_name: "f.bin".into(),
        token: ResumeToken::from_bytes([0x5a; 16]),
    };
    std::fs::write(ticket_of(&theirs), forged.to_text().as_bytes()).unwrap();
    let run = run_client(&server.addr, &[], &theirs, LIMIT);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("resume refused"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_eq!(
        std::fs::read(&partial).unwrap(),
        before,
        "the partial is untouched"
    );
    assert!(!dir.store().join("f.bin").exists());
}
