//! An active attacker on the wire between the example client and the
//! example server (v2, the default): a TCP proxy that cuts each direction
//! into its `\r\n`-separated frames and strips, rewrites, corrupts,
//! replays, drops, reorders or cuts them. Whatever it does, the client must
//! not report success and the server must not store the file under its
//! name; what the server keeps (`<name>.partial`) is only ever a prefix of
//! what the client sent.
//!
//! A control run through the same proxy, without tampering, proves that the
//! proxy itself relays faithfully.
//!
//! `cargo test` builds the examples before it runs this test, which runs
//! those binaries (run `cargo build --examples` first when filtering with
//! `--test attacker_e2e`).
//!
//! The frames of a v2 transfer of a 200 000-byte file in 16 KiB chunks (13
//! DATA records), as the control run logs them:
//!
//! * client → server: 0 `ALGORITHMS` (plaintext), 1 FINISHED, 2 OPEN,
//!   3..=15 DATA, 16 CLOSE (1..=16 are `SECURE_X` records of epoch 0,
//!   seq 0..=15);
//! * server → client: 0 `EXCHANGE` (plaintext), 1 FINISHED, 2 OK to OPEN,
//!   3 OK after CLOSE (1..=3 are `SECURE_X` records of epoch 0, seq 0..=2).

mod common;

use common::programs::{
    ClientRun, ExampleServer, Store, TempDir, random_bytes, run_client, scratch,
};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;

/// How long the client may run before it counts as hung.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The size of the file sent in every case: 13 DATA records of 16 KiB.
const FILE_LEN: usize = 200_000;

// ---------------------------------------------------------------------------
// The attacker.

/// What the attacker does to each frame (without its `\r\n`) of one
/// direction, given its index in that direction: the frames to pass on
/// instead (none to drop it, two to duplicate it, a changed one to tamper
/// with it).
type Hook = Box<dyn FnMut(usize, Vec<u8>) -> Vec<Vec<u8>> + Send>;

/// The attacker's plan for one direction.
struct Plan {
    hook: Hook,
    /// Close both connections once the frame of this index has been
    /// passed on.
    cut_after: Option<usize>,
}

impl Plan {
    /// Passes everything on untouched.
    fn relay() -> Plan {
        Plan::hook(|_, frame| vec![frame])
    }

    fn hook(hook: impl FnMut(usize, Vec<u8>) -> Vec<Vec<u8>> + Send + 'static) -> Plan {
        Plan {
            hook: Box::new(hook),
            cut_after: None,
        }
    }

    /// Applies `edit` to frame `index` only.
    fn edit(index: usize, mut edit: impl FnMut(Vec<u8>) -> Vec<Vec<u8>> + Send + 'static) -> Plan {
        Plan::hook(
            move |i, frame| {
                if i == index { edit(frame) } else { vec![frame] }
            },
        )
    }

    /// Swaps frames `index` and `index + 1`: holds the first back and
    /// passes it on after the second (logged as "DROPPED", then as
    /// "passed + 1 more").
    fn swap(index: usize) -> Plan {
        let mut held = None;
        Plan::hook(move |i, frame| {
            if i == index {
                held = Some(frame);
                vec![]
            } else if i == index + 1 {
                let mut out = vec![frame];
                out.extend(held.take());
                out
            } else {
                vec![frame]
            }
        })
    }

    fn cut_after(index: usize) -> Plan {
        Plan {
            cut_after: Some(index),
            ..Plan::relay()
        }
    }
}

/// One line of the attacker's log per frame seen: direction, index, what
/// the frame is and what became of it.
type ProxyLog = Arc<Mutex<Vec<String>>>;

/// Listens on a free port, takes one client, connects it to `server` and
/// relays both directions through the plans. Returns the address to give
/// the client and the log.
fn start_proxy(server: &str, to_server: Plan, to_client: Plan) -> (String, ProxyLog) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let log: ProxyLog = Arc::new(Mutex::new(Vec::new()));
    let server = server.to_owned();
    let proxy_log = Arc::clone(&log);
    thread::spawn(move || {
        let (client_side, _) = listener.accept().expect("accept the client");
        let server_side = TcpStream::connect(&server).expect("connect to the server");
        client_side.set_nodelay(true).ok();
        server_side.set_nodelay(true).ok();
        let both = || {
            [
                client_side.try_clone().unwrap(),
                server_side.try_clone().unwrap(),
            ]
        };
        let (c2s_from, c2s_to, c2s_both) = (
            client_side.try_clone().unwrap(),
            server_side.try_clone().unwrap(),
            both(),
        );
        let (s2c_from, s2c_to, s2c_both) = (
            server_side.try_clone().unwrap(),
            client_side.try_clone().unwrap(),
            both(),
        );
        let c2s_log = Arc::clone(&proxy_log);
        let s2c_log = Arc::clone(&proxy_log);
        thread::spawn(move || relay("C->S", c2s_from, c2s_to, to_server, c2s_both, c2s_log));
        thread::spawn(move || relay("S->C", s2c_from, s2c_to, to_client, s2c_both, s2c_log));
    });
    (addr, log)
}

/// Relays one direction frame by frame until either side closes (or the
/// plan cuts), then shuts both connections down.
#[allow(
    clippy::needless_pass_by_value,
    reason = "the body of a relay thread: it owns the streams it was spawned with, and they close when it returns"
)]
fn relay(
    name: &str,
    mut from: TcpStream,
    mut to: TcpStream,
    mut plan: Plan,
    both: [TcpStream; 2],
    log: ProxyLog,
) {
    let mut pending = Vec::new();
    let mut index = 0;
    let mut buf = vec![0u8; 64 * 1024];
    'relay: loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
            let frame = pending[..end].to_vec();
            pending.drain(..end + 2);
            let what = describe(&frame);
            let out = (plan.hook)(index, frame.clone());
            let fate = match out.as_slice() {
                [] => "DROPPED".to_owned(),
                [one] if *one == frame => "passed".to_owned(),
                [_] => "MODIFIED".to_owned(),
                [first, ..] if *first == frame => format!("passed + {} more", out.len() - 1),
                _ => format!("REPLACED by {} frames", out.len()),
            };
            log.lock()
                .unwrap()
                .push(format!("{name} #{index} {what}: {fate}"));
            for f in &out {
                let mut bytes = f.clone();
                bytes.extend_from_slice(b"\r\n");
                if to.write_all(&bytes).is_err() {
                    break 'relay;
                }
            }
            if plan.cut_after == Some(index) {
                log.lock()
                    .unwrap()
                    .push(format!("{name} CUT after #{index}"));
                break 'relay;
            }
            index += 1;
        }
    }
    if !pending.is_empty() {
        log.lock().unwrap().push(format!(
            "{name} {} bytes of an unfinished frame not relayed",
            pending.len()
        ));
    }
    for s in &both {
        let _ = s.shutdown(Shutdown::Both);
    }
}

/// A short description of a frame: its type and, for a record, its epoch,
/// seq and payload length.
fn describe(frame: &[u8]) -> String {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(frame) else {
        return format!("<{} bytes, not a JSON object>", frame.len());
    };
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("?");
    let mut s = ty.to_owned();
    if ty == "SECURE_X" {
        let payload = obj.get("payload").and_then(Value::as_str).unwrap_or("");
        write!(
            s,
            " epoch={} seq={} payload={} b64 chars",
            obj.get("epoch").unwrap_or(&Value::Null),
            obj.get("seq").unwrap_or(&Value::Null),
            payload.len()
        )
        .expect("writing to a String");
    } else {
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        write!(s, " {keys:?} ({} bytes)", frame.len()).expect("writing to a String");
    }
    s
}

/// The byte range of the value of the top-level field `key` in the JSON
/// object `frame`, and the range of the whole member (`"key":value`).
fn field_span(frame: &[u8], key: &str) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let needle = format!("{}:", serde_json::to_string(key).unwrap());
    let start = frame
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("no field {key} in {}", String::from_utf8_lossy(frame)));
    let value_start = start + needle.len();
    let mut values =
        serde_json::Deserializer::from_slice(&frame[value_start..]).into_iter::<Value>();
    values.next().expect("a value").expect("a valid value");
    let value_end = value_start + values.byte_offset();
    (value_start..value_end, start..value_end)
}

/// `frame` with the value of `key` replaced by `value`, every other byte
/// unchanged.
fn replace_field(frame: &[u8], key: &str, value: &Value) -> Vec<u8> {
    let (span, _) = field_span(frame, key);
    let mut out = frame[..span.start].to_vec();
    out.extend_from_slice(serde_json::to_string(value).unwrap().as_bytes());
    out.extend_from_slice(&frame[span.end..]);
    assert_ne!(out, frame, "{key} already was {value}");
    out
}

/// `frame` without the member `key` (and one comma next to it), every
/// other byte unchanged.
fn remove_field(frame: &[u8], key: &str) -> Vec<u8> {
    let (_, member) = field_span(frame, key);
    let (mut start, mut end) = (member.start, member.end);
    if frame.get(end) == Some(&b',') {
        end += 1;
    } else if start > 0 && frame[start - 1] == b',' {
        start -= 1;
    }
    let mut out = frame[..start].to_vec();
    out.extend_from_slice(&frame[end..]);
    serde_json::from_slice::<Value>(&out).expect("still a JSON object");
    out
}

/// `frame` (a record) with one base64 character in the middle of its
/// payload changed, which flips bits of the ciphertext.
fn flip_payload(frame: &[u8]) -> Vec<u8> {
    let (span, _) = field_span(frame, "payload");
    // Skip the quotes; the middle is far from the padding.
    let mid = span.start + 1 + (span.len() - 2) / 2;
    let mut out = frame.to_vec();
    out[mid] = if out[mid] == b'A' { b'B' } else { b'A' };
    out
}

/// The frame's `type`, for checking that a tampered frame is the intended
/// one.
fn frame_type(frame: &[u8]) -> String {
    serde_json::from_slice::<Value>(frame)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// The runs.

/// What one run through the attacker produced.
struct Outcome {
    client: ClientRun,
    server_log: Option<String>,
    /// The names in the store, sorted.
    store: Vec<String>,
    proxy_log: Vec<String>,
    /// The file sent and the store, to compare with.
    data: Vec<u8>,
    store_dir: PathBuf,
    _tmp: TempDir,
}

impl Outcome {
    fn report(&self, case: &str) -> String {
        format!(
            "== {case}\nclient exit: {}{}\nclient stdout: {}\nclient stderr: {}\nserver: {}\nstore: {:?}\nproxy:\n  {}\n",
            self.client
                .code
                .map_or("none".to_owned(), |c| c.to_string()),
            if self.client.hung {
                " (HUNG, killed)"
            } else {
                ""
            },
            self.client.stdout.trim_end(),
            self.client.stderr.trim_end(),
            self.server_log.as_deref().unwrap_or("<no connection line>"),
            self.store,
            self.proxy_log.join("\n  ")
        )
    }
}

const FILE_NAME: &str = "payload.bin";

/// Sends the file through a proxy with these plans to a fresh server.
fn run(case: &str, to_server: Plan, to_client: Plan) -> Outcome {
    let tmp = scratch("attacker", case);
    let data = random_bytes(FILE_LEN, 0x5ec0_0e2e);
    let path = tmp.path().join(FILE_NAME);
    std::fs::write(&path, &data).unwrap();
    let server = ExampleServer::start(&tmp.store(), &[]);
    let (proxy, proxy_log) = start_proxy(&server.addr, to_server, to_client);
    let client = run_client(&proxy, &["--chunk-size", "16384"], &path, CLIENT_TIMEOUT);
    // Let the server finish its side of the connection (store the file or
    // keep the partial) before looking at the store.
    let server_log = server
        .connection_logs(1, Duration::from_secs(3))
        .into_iter()
        .next();
    let mut store: Vec<String> = std::fs::read_dir(tmp.store())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    store.sort();
    let proxy_log = proxy_log.lock().unwrap().clone();
    Outcome {
        client,
        server_log,
        store,
        proxy_log,
        data,
        store_dir: tmp.store(),
        _tmp: tmp,
    }
}

/// The attack must fail: the client exits non-zero (without hanging), the
/// file is not stored under its name, whatever was kept is a prefix of what
/// was sent, and the attacker did what it meant to (one line of its log
/// holds every string of `fate`).
fn assert_attack_fails(case: &str, outcome: &Outcome, fate: &[&str]) {
    let report = outcome.report(case);
    println!("{report}");
    assert!(
        outcome
            .proxy_log
            .iter()
            .any(|l| fate.iter().all(|f| l.contains(f))),
        "the attack did not happen ({fate:?} not in the log)\n{report}"
    );
    assert!(!outcome.client.hung, "the client hung\n{report}");
    assert!(
        outcome.client.code != Some(0),
        "SECURITY: the client reported success under attack\n{report}"
    );
    assert!(
        !outcome.store.iter().any(|n| n == FILE_NAME),
        "SECURITY: the server stored the file under attack\n{report}"
    );
    // Whatever the server kept arrived untouched and in order (beside a
    // `.partial`, its resume token's digest, which is no file data).
    for name in outcome
        .store
        .iter()
        .filter(|n| !n.ends_with(".partial~token"))
    {
        let kept = std::fs::read(outcome.store_dir.join(name)).unwrap();
        assert!(
            outcome.data.starts_with(&kept),
            "SECURITY: {name} ({} bytes) is not a prefix of the file sent\n{report}",
            kept.len()
        );
    }
}

#[test]
fn the_proxy_relays_a_transfer_faithfully() {
    let outcome = run("control", Plan::relay(), Plan::relay());
    let report = outcome.report("control");
    println!("{report}");
    assert!(outcome.client.code == Some(0), "{report}");
    assert_eq!(outcome.store, [FILE_NAME], "{report}");
    assert!(
        std::fs::read(outcome.store_dir.join(FILE_NAME)).unwrap() == outcome.data,
        "the stored copy differs\n{report}"
    );
    // The frame layout the attacks below count on.
    let expect = |line: &str| {
        assert!(
            outcome.proxy_log.iter().any(|l| l.starts_with(line)),
            "{line:?} not in the log\n{report}"
        );
    };
    expect("C->S #0 ALGORITHMS");
    expect("S->C #0 EXCHANGE");
    expect("S->C #1 SECURE_X epoch=0 seq=0");
    expect("S->C #2 SECURE_X epoch=0 seq=1");
    expect("S->C #3 SECURE_X epoch=0 seq=2");
    expect("C->S #1 SECURE_X epoch=0 seq=0");
    expect("C->S #6 SECURE_X epoch=0 seq=5");
    expect("C->S #16 SECURE_X epoch=0 seq=15");
}

/// The attacks of one test, two at a time (the machine has two cores).
fn run_attacks(cases: Vec<(&'static str, Plan, Plan, &'static [&'static str])>) {
    let mut cases = cases;
    while !cases.is_empty() {
        let batch: Vec<_> = cases.drain(..cases.len().min(2)).collect();
        thread::scope(|s| {
            for (case, to_server, to_client, fate) in batch {
                s.spawn(move || {
                    let outcome = run(case, to_server, to_client);
                    assert_attack_fails(case, &outcome, fate);
                });
            }
        });
    }
}

/// Tampering with the plaintext hellos: the handshake must not complete.
#[test]
fn tampered_hellos_are_detected() {
    run_attacks(vec![
        (
            // 1. Strip the version: the client's ALGORITHMS (client frame
            // 0) without `version`, `nonce` and `groups`, as a v1 client
            // would send it.
            "strip-version",
            Plan::edit(0, |frame| {
                assert_eq!(frame_type(&frame), "ALGORITHMS");
                let frame = remove_field(&frame, "version");
                let frame = remove_field(&frame, "nonce");
                vec![remove_field(&frame, "groups")]
            }),
            Plan::relay(),
            &["C->S #0 ALGORITHMS", ": MODIFIED"],
        ),
        (
            // 2. Drop suites from the offer: the client's ALGORITHMS
            // (client frame 0) offering CBC only.
            "drop-modes",
            Plan::edit(0, |frame| {
                assert_eq!(frame_type(&frame), "ALGORITHMS");
                vec![replace_field(&frame, "modes", &serde_json::json!(["CBC"]))]
            }),
            Plan::relay(),
            &["C->S #0 ALGORITHMS", ": MODIFIED"],
        ),
        (
            // 3. Rewrite the chosen suite: the server's EXCHANGE (server
            // frame 0) naming another suite than the one it chose.
            "rewrite-suite",
            Plan::relay(),
            Plan::edit(0, |frame| {
                assert_eq!(frame_type(&frame), "EXCHANGE");
                vec![replace_field(
                    &frame,
                    "ciphersuite",
                    &Value::from("DH;AES-128;CBC;SHA-256"),
                )]
            }),
            &["S->C #0 EXCHANGE", ": MODIFIED"],
        ),
    ]);
}

/// Corrupting, replaying, dropping, reordering or cutting records.
#[test]
fn tampered_records_are_detected() {
    let record = |frame: &[u8]| assert_eq!(frame_type(frame), "SECURE_X");
    run_attacks(vec![
        (
            // 4. A bit flipped in client frame 4 (the second DATA record).
            "flip-c2s",
            Plan::edit(4, move |frame| {
                record(&frame);
                vec![flip_payload(&frame)]
            }),
            Plan::relay(),
            &["C->S #4 SECURE_X epoch=0 seq=3", ": MODIFIED"],
        ),
        (
            // 5. A bit flipped in server frame 2 (the OK to OPEN).
            "flip-s2c",
            Plan::relay(),
            Plan::edit(2, move |frame| {
                record(&frame);
                vec![flip_payload(&frame)]
            }),
            &["S->C #2 SECURE_X epoch=0 seq=1", ": MODIFIED"],
        ),
        (
            // 6. Client frame 4 (the second DATA record) replayed.
            "replay-c2s",
            Plan::edit(4, move |frame| {
                record(&frame);
                vec![frame.clone(), frame]
            }),
            Plan::relay(),
            &["C->S #4 SECURE_X epoch=0 seq=3", ": passed + 1 more"],
        ),
        (
            // 7. Client frame 4 (the second DATA record) dropped.
            "drop-c2s",
            Plan::edit(4, move |frame| {
                record(&frame);
                vec![]
            }),
            Plan::relay(),
            &["C->S #4 SECURE_X epoch=0 seq=3", ": DROPPED"],
        ),
        (
            // 8. Client frames 4 and 5 (the second and third DATA
            // records) swapped.
            "reorder-c2s",
            Plan::swap(4),
            Plan::relay(),
            &["C->S #5 SECURE_X epoch=0 seq=4", ": passed + 1 more"],
        ),
        (
            // 9. Server frame 1 (its FINISHED, seq 0) replayed: the client
            // sees seq 0 twice. (Dropping the server's OK to OPEN instead
            // would leave both sides waiting for each other.)
            "replay-s2c",
            Plan::relay(),
            Plan::edit(1, move |frame| {
                record(&frame);
                vec![frame.clone(), frame]
            }),
            &["S->C #1 SECURE_X epoch=0 seq=0", ": passed + 1 more"],
        ),
        (
            // 10. The connection cut after client frame 6 (the fourth DATA
            // record), mid-transfer.
            "cut-c2s",
            Plan::cut_after(6),
            Plan::relay(),
            &["C->S CUT after #6"],
        ),
    ]);
}
