//! The example client never hangs: whatever stops answering, or stops
//! reading, it fails within its reply deadline (`--timeout`), exits 1 and
//! says in one line what timed out. In both versions, and so does the
//! tokio client (`tokio_client`, its own driver):
//!
//! * a silent server: accepts the TCP connection and never says a word;
//! * a server that stops reading mid-upload (a proxy stops reading what
//!   the client sends, and keeps the sockets open);
//! * a stalled path: the proxy stops forwarding both ways mid-transfer.
//!
//! The file is large (48 MiB) so that it cannot fit in the sockets'
//! buffers once nothing reads them: the client's writes must block. The
//! deadline counts from the last moment the client's writes made
//! progress, which the test sees in the kernel's queues of the proxy's
//! port (`/proc/net/tcp`): the client must give up within `--timeout`
//! (plus a margin) of it. The tests kill a client that runs too long, so
//! a regression fails instead of hanging (the four proxied cases hang
//! with a driver that blocks in `write_all`).
//!
//! `cargo test` builds the examples before it runs this test, which runs
//! those binaries (run `cargo build --examples` first when filtering with
//! `--test stalls`).

mod common;

use std::net::TcpListener;
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use common::programs::{
    ClientProcess, ClientRun, ExampleServer, Proxy, Stall, Store, random_bytes, scratch, tcp_queued,
};

/// The client's `--timeout`, in seconds.
const TIMEOUT: u64 = 3;

/// What the client may take beyond its deadline, counted from its start
/// (silent server) or from the last progress of its writes (process
/// start-up, a busy machine): a deadline check, not a speed test.
const MARGIN: Duration = Duration::from_secs(3);

/// How long after the stall the sockets' buffers may take to fill up
/// (the client's writes still move until they are full).
const FILL: Duration = Duration::from_secs(20);

/// When a client counts as hung: it is killed then.
const KILL_AFTER: Duration = Duration::from_secs(40);

/// The file sent through a stalling proxy: more than the loopback
/// sockets' buffers hold.
const BIG: usize = 48 << 20;

/// Client-to-server bytes the proxy forwards before it stalls: the
/// handshake is over and the upload under way.
const STALL_AFTER: u64 = 2 << 20;

/// The proxied tests move 48 MiB each: one at a time, so that their
/// timings do not depend on each other on a small machine.
static HEAVY: Mutex<()> = Mutex::new(());

/// The flags of a version: (server, client).
fn flags(v1: bool) -> (&'static [&'static str], Vec<&'static str>) {
    if v1 {
        (
            &["--seed-compatible"],
            vec![
                "--seed-compatible",
                "--rotate-after",
                "1000",
                "--chunk-size",
                "65536",
            ],
        )
    } else {
        (&[], vec![])
    }
}

fn timeout_flag() -> String {
    TIMEOUT.to_string()
}

/// The client failed in time: exit 1, one line that says what timed out,
/// within the deadline (plus the margin) of `since`, or of the last
/// progress of its writes if that came later.
fn assert_timed_out(case: &str, run: &ClientRun, since: Instant, says: &str) {
    assert!(
        !run.hung,
        "{case}: the client hung (killed after {KILL_AFTER:?}); stderr: {}",
        run.stderr
    );
    assert_eq!(run.code, Some(1), "{case}: {run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{case}: one line expected: {:?}",
        run.stderr
    );
    assert!(
        lines[0].contains(says),
        "{case}: {:?} does not say {says:?}",
        lines[0]
    );
    let since = since.max(run.last_progress);
    let took = run.ended.saturating_duration_since(since);
    eprintln!(
        "{case}: {:?} {took:.2?} after the stall or its last progress (ran {:.2?})",
        lines[0], run.elapsed
    );
    let deadline = Duration::from_secs(TIMEOUT) + MARGIN;
    assert!(
        took < deadline,
        "{case}: failed {took:?} after the stall or its last progress, more than {deadline:?}"
    );
}

fn silent_server(program: &str, v1: bool) {
    let case = format!("{program} {} silent server", if v1 { "v1" } else { "v2" });
    let case = case.as_str();
    let tmp = scratch("stalls", &case.replace(' ', "-"));
    let path = tmp.path().join("f.txt");
    std::fs::write(&path, b"hello").unwrap();
    // Accepts, holds the connection open, says nothing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let holder = thread::spawn(move || listener.accept().map(|(s, _)| s));
    let (_, mut client_flags) = flags(v1);
    let timeout = timeout_flag();
    client_flags.extend(["--timeout", &timeout]);
    let started = Instant::now();
    let run =
        ClientProcess::start_program(program, &addr, &client_flags, &path, &[]).wait(KILL_AFTER);
    assert_timed_out(
        case,
        &run,
        started,
        "timed out waiting for the handshake to complete",
    );
    assert!(
        run.elapsed
            >= Duration::from_secs(TIMEOUT)
                .checked_sub(Duration::from_millis(500))
                .unwrap(),
        "{case}: gave up after {:?}, before its deadline",
        run.elapsed
    );
    drop(holder.join());
}

#[test]
fn v2_client_gives_up_on_a_silent_server() {
    silent_server("client", false);
}

#[test]
fn v1_client_gives_up_on_a_silent_server() {
    silent_server("client", true);
}

#[test]
fn v2_tokio_client_gives_up_on_a_silent_server() {
    silent_server("tokio_client", false);
}

#[test]
fn v1_tokio_client_gives_up_on_a_silent_server() {
    silent_server("tokio_client", true);
}

/// The client sends `BIG` bytes to our server through a proxy that stalls
/// as `mode` says once the upload is under way.
fn stalled_upload(program: &str, v1: bool, mode: Stall) {
    let _heavy = HEAVY.lock().unwrap_or_else(PoisonError::into_inner);
    let case = format!("{program} {} {mode:?}", if v1 { "v1" } else { "v2" });
    let tmp = scratch("stalls", &case.replace(' ', "-"));
    let path = tmp.path().join("big.bin");
    std::fs::write(&path, random_bytes(BIG, 11)).unwrap();
    let (server_flags, mut client_flags) = flags(v1);
    let server = ExampleServer::start(&tmp.store(), server_flags);
    let proxy = Proxy::start(&server.addr, mode, STALL_AFTER);
    let timeout = timeout_flag();
    client_flags.extend(["--timeout", &timeout]);
    // Once the proxy reads nothing, the client's writes move exactly when
    // the kernel's queues of the proxy's port grow (by more than the one
    // sequence number of a FIN: the client shuts its socket down as it
    // gives up).
    let port: u16 = proxy.addr.rsplit(':').next().unwrap().parse().unwrap();
    let mut queued = 0;
    let run = ClientProcess::start_program(program, &proxy.addr, &client_flags, &path, &[])
        .wait_probing(KILL_AFTER, || {
            if proxy.stalled_at().is_some() {
                let now = tcp_queued(port);
                if now > queued + 1 {
                    queued = now;
                }
            }
            queued
        });
    let stalled_at = proxy
        .stalled_at()
        .unwrap_or_else(|| panic!("{case}: the proxy never stalled: {run:?}"));
    // Whatever deadline fires first (the driver's: the server took none of
    // our bytes; or a reply owed), the line says it timed out.
    assert_timed_out(&case, &run, stalled_at, "timed out");
    let after_stall = run.ended.saturating_duration_since(stalled_at);
    assert!(
        after_stall < Duration::from_secs(TIMEOUT) + FILL,
        "{case}: failed {after_stall:?} after the stall"
    );
    // The file is not stored under its name.
    assert!(!tmp.store().join("big.bin").exists(), "{case}");
}

#[test]
fn v2_client_gives_up_on_a_server_that_stops_reading() {
    stalled_upload("client", false, Stall::ClientToServer);
}

#[test]
fn v1_client_gives_up_on_a_server_that_stops_reading() {
    stalled_upload("client", true, Stall::ClientToServer);
}

#[test]
fn v2_client_gives_up_on_a_stalled_path() {
    stalled_upload("client", false, Stall::Both);
}

#[test]
fn v1_client_gives_up_on_a_stalled_path() {
    stalled_upload("client", true, Stall::Both);
}

/// The tokio client's write bound: the server takes none of its bytes.
#[test]
fn v2_tokio_client_gives_up_on_a_server_that_stops_reading() {
    stalled_upload("tokio_client", false, Stall::ClientToServer);
}

#[test]
fn v1_tokio_client_gives_up_on_a_stalled_path() {
    stalled_upload("tokio_client", true, Stall::Both);
}
