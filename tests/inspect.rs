//! The `inspect` example on real captures: the example programs move a
//! file through a recording relay with `SECUREX_KEYLOG` set, in v1 and in
//! v2, with key rotations; `inspect` then prints every frame decrypted
//! from the two recorded directions, and the same from a pcap file built
//! here from the recording. A wrong key log gives failed authentication,
//! never content; a malformed pcap gives an error, never a panic.
//!
//! `cargo test` builds the examples before it runs this test (run
//! `cargo build --examples` first when filtering with `--test inspect`).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::programs::{ClientProcess, ExampleServer, Store, TempDir, examples_dir, scratch};

/// What crossed a relay: each read, in the order the relay saw them,
/// with its direction (`true`: client to server).
type Chunks = Arc<Mutex<Vec<(bool, Vec<u8>)>>>;

/// A relay for one connection to `upstream` that records both directions.
struct Relay {
    addr: String,
    chunks: Chunks,
    done: thread::JoinHandle<()>,
}

impl Relay {
    fn start(upstream: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let chunks = Chunks::default();
        let record = Arc::clone(&chunks);
        let upstream = upstream.to_owned();
        let done = thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            let server = TcpStream::connect(&upstream).unwrap();
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let up_record = Arc::clone(&record);
            let up = thread::spawn(move || forward(client, s2, true, &up_record));
            forward(server, c2, false, &record);
            up.join().unwrap();
        });
        Relay { addr, chunks, done }
    }

    /// Waits for both directions to end: the reads in order.
    fn finish(self) -> Vec<(bool, Vec<u8>)> {
        self.done.join().unwrap();
        std::mem::take(&mut *self.chunks.lock().unwrap())
    }
}

fn forward(mut from: TcpStream, mut to: TcpStream, up: bool, record: &Chunks) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Recorded before it is passed on: the order of the recording
        // is an order the bytes really crossed in.
        record.lock().unwrap().push((up, buf[..n].to_vec()));
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A file with a numbered line every 32 bytes: any chunk of it is
/// recognisable, and no two are alike.
fn text(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(format!("securex inspect line {i:09}\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// A captured transfer: both directions, the reads in order, the key
/// log both programs wrote, and the client's summary.
struct Captured {
    tmp: TempDir,
    file: Vec<u8>,
    chunks: Vec<(bool, Vec<u8>)>,
    keylog: PathBuf,
    rotations: u32,
}

impl Captured {
    fn direction(&self, up: bool) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|(u, _)| *u == up)
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    /// The two directions written to files: (c2s, s2c).
    fn files(&self) -> (PathBuf, PathBuf) {
        let c2s = self.tmp.path().join("c2s.bin");
        let s2c = self.tmp.path().join("s2c.bin");
        std::fs::write(&c2s, self.direction(true)).unwrap();
        std::fs::write(&s2c, self.direction(false)).unwrap();
        (c2s, s2c)
    }
}

/// Sends a file of `len` bytes from the example client to the example
/// server through a recording relay, both with `SECUREX_KEYLOG` set to
/// the same file.
fn capture(test: &str, len: usize, server_flags: &[&str], client_flags: &[&str]) -> Captured {
    let tmp = scratch("inspect", test);
    let keylog = tmp.path().join("keys.log");
    let env = [("SECUREX_KEYLOG", keylog.as_path())];
    let server = ExampleServer::start_with_env(&tmp.store(), server_flags, &env);
    let relay = Relay::start(&server.addr);
    let file = text(len);
    let path = tmp.path().join(format!("{test}.txt"));
    std::fs::write(&path, &file).unwrap();
    let run = ClientProcess::start_with_env(&relay.addr, client_flags, &path, &env)
        .wait(Duration::from_mins(2));
    assert_eq!(run.code, Some(0), "{test}: {}{}", run.stdout, run.stderr);
    let chunks = relay.finish();
    drop(server);
    // "sent NAME (N bytes) in T s (RATE) with VERSION SUITE, R key rotations"
    let rotations = run
        .stdout
        .rsplit(", ")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{test}: {}", run.stdout));
    let mode = std::fs::metadata(&keylog).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{test}: key log mode {mode:o}");
    Captured {
        tmp,
        file,
        chunks,
        keylog,
        rotations,
    }
}

fn inspect(args: &[&Path]) -> Output {
    Command::new(examples_dir().join("inspect"))
        .args(args)
        .output()
        .expect("run inspect")
}

fn inspect_files(c: &Captured, keylog: &Path) -> Output {
    let (c2s, s2c) = c.files();
    let flags = [Path::new("--keylog"), keylog, Path::new("--c2s"), &c2s];
    inspect(&[&flags[..], &[Path::new("--s2c"), &s2c]].concat())
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The escaped prefix `inspect` shows of each chunk of `file`.
fn chunk_prefixes(file: &[u8], chunk: usize) -> Vec<String> {
    file.chunks(chunk)
        .map(|c| c[..c.len().min(48)].escape_ascii().to_string())
        .collect()
}

/// The DATA lines' shown content, in order.
fn shown_data(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| l.contains(" DATA "))
        .map(|l| {
            let start = l.find(": \"").unwrap() + 3;
            let end = l.rfind('"').unwrap();
            l[start..end].to_owned()
        })
        .collect()
}

/// The epochs of the lines of one direction that carry `what`.
fn epochs_with(output: &str, arrow: &str, what: &str) -> std::collections::BTreeSet<u32> {
    output
        .lines()
        .filter(|l| l.starts_with(arrow) && l.contains(what))
        .filter_map(|l| l.split("epoch ").nth(1)?.split(' ').next()?.parse().ok())
        .collect()
}

/// The key log with one hex digit of every key, MAC key and static IV
/// changed.
fn wrong_keylog(c: &Captured) -> PathBuf {
    let text = std::fs::read_to_string(&c.keylog).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut fields: Vec<String> = line.split(' ').map(String::from).collect();
        for key in fields[4..].iter_mut().filter(|k| *k != "-") {
            let flipped = if key.starts_with('0') { "1" } else { "0" };
            key.replace_range(0..1, flipped);
        }
        out += &fields.join(" ");
        out.push('\n');
    }
    let path = c.tmp.path().join("wrong.log");
    std::fs::write(&path, out).unwrap();
    path
}

// ---------------------------------------------------------------------------

#[test]
fn inspect_decrypts_a_captured_v1_connection_with_rotations() {
    let c = capture(
        "v1",
        100_000,
        &["--seed-compatible"],
        &["--seed-compatible", "--rotate-after", "20"],
    );
    assert!(c.rotations >= 3, "{} rotations", c.rotations);
    let out = inspect_files(&c, &c.keylog);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("connection SECUREX_V1 "), "{text}");
    // Every chunk, decrypted, in order: 960-byte chunks in v1.
    assert_eq!(shown_data(&text), chunk_prefixes(&c.file, 960));
    assert!(text.contains("c->s epoch 0 OPEN \"v1.txt\""), "{text}");
    assert!(text.contains("c->s epoch 0 DATA 960 bytes: \"securex inspect line 000000000\\n"));
    // Every epoch carried DATA, and each renegotiation is shown.
    let all: std::collections::BTreeSet<u32> = (0..=c.rotations).collect();
    assert_eq!(epochs_with(&text, "c->s", " DATA "), all);
    assert_eq!(
        text.matches("c->s ALGORITHMS v1 (renegotiation").count(),
        c.rotations as usize
    );
    assert_eq!(
        text.matches("s->c EXCHANGE v1").count(),
        c.rotations as usize + 1
    );
    assert!(
        text.contains(&format!("c->s epoch {} CLOSE", c.rotations)),
        "{text}"
    );
    assert!(text.contains("s->c OK"));
    assert!(
        text.contains("0 failed authentication, 0 not opened"),
        "{text}"
    );

    // A wrong key log: every record fails, none is shown.
    let out = inspect_files(&c, &wrong_keylog(&c));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("DATA") && !text.contains("OPEN"), "{text}");
    let records = (c.file.len().div_ceil(960) + 2) as u64;
    assert_eq!(
        text.matches("FAILED AUTHENTICATION (content not shown)")
            .count() as u64,
        records
    );
    assert!(!text.contains("securex inspect line"), "{text}");
}

#[test]
fn inspect_decrypts_a_captured_v2_connection_with_rotations() {
    let c = capture(
        "v2",
        600_000,
        &["--rotate-after", "2"],
        &["--rotate-after", "2"],
    );
    assert!(c.rotations >= 3, "{} rotations", c.rotations);
    let out = inspect_files(&c, &c.keylog);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("connection SECUREX_V2 "), "{text}");
    assert_eq!(shown_data(&text), chunk_prefixes(&c.file, 64 * 1024));
    assert!(
        text.contains("c->s epoch 0 seq 1 OPEN \"v2.txt\""),
        "{text}"
    );
    assert!(
        text.contains("s->c epoch 0 seq 0 FINISHED (32 bytes)"),
        "{text}"
    );
    assert!(
        text.contains("c->s epoch 0 seq 0 FINISHED (32 bytes)"),
        "{text}"
    );
    let all: std::collections::BTreeSet<u32> = (0..=c.rotations).collect();
    assert_eq!(epochs_with(&text, "c->s", " DATA "), all);
    // Every rotation: a REKEY and its REKEY_ACK.
    let rekeys = text.matches(" REKEY (").count();
    let acks = text.matches(" REKEY_ACK (").count();
    assert_eq!((rekeys, acks), (c.rotations as usize, c.rotations as usize));
    for epoch in 1..=c.rotations {
        assert!(text.contains(&format!("both directions move to epoch {epoch}")));
    }
    assert!(text.contains(" CLOSE sha256="), "{text}");
    assert!(
        text.contains("0 failed authentication, 0 not opened"),
        "{text}"
    );

    let out = inspect_files(&c, &wrong_keylog(&c));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        !text.contains("DATA") && !text.contains("FINISHED ("),
        "{text}"
    );
    assert!(!text.contains("securex inspect line"), "{text}");
    // The first record of each direction of each epoch fails; the later
    // ones of that epoch are not even tried.
    let good = stdout(&inspect_files(&c, &c.keylog));
    let records = |t: &str| -> Vec<(String, String)> {
        t.lines()
            .filter(|l| l.contains(" seq "))
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (f[0].to_owned(), f[2].to_owned())
            })
            .collect()
    };
    assert_eq!(records(&text), records(&good));
    let mut pairs = records(&good);
    pairs.dedup();
    assert_eq!(
        text.matches("FAILED AUTHENTICATION").count(),
        pairs.len(),
        "{text}"
    );
    let rest = records(&good).len() - pairs.len();
    assert_eq!(
        text.matches("failed to authenticate").count(),
        rest,
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// pcap files, written here.

#[derive(Clone, Copy)]
enum Link {
    Ethernet,
    Sll,
    /// BSD loopback, the family in the file's byte order.
    Null,
    /// BSD loopback, the family in network byte order.
    Loop,
    Raw,
}

impl Link {
    fn code(self) -> u32 {
        match self {
            Link::Ethernet => 1,
            Link::Sll => 113,
            Link::Null => 0,
            Link::Loop => 108,
            Link::Raw => 101,
        }
    }
}

struct Pcap {
    link: Link,
    v6: bool,
    bytes: Vec<u8>,
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;

impl Pcap {
    fn new(link: Link, v6: bool) -> Pcap {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&262_144u32.to_le_bytes());
        bytes.extend_from_slice(&link.code().to_le_bytes());
        Pcap { link, v6, bytes }
    }

    fn record(&mut self, packet: &[u8]) {
        let n = u32::try_from(self.bytes.len()).expect("a capture under 4 GiB");
        self.bytes.extend_from_slice(&(n / 1000).to_le_bytes());
        self.bytes.extend_from_slice(&(n % 1000).to_le_bytes());
        let len = u32::try_from(packet.len()).expect("a packet under 4 GiB");
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(packet);
    }

    /// A TCP segment from host `from` (1 or 2) to the other.
    fn tcp(&mut self, from: u8, ports: (u16, u16), seq: u32, flags: u8, payload: &[u8]) {
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&ports.0.to_be_bytes());
        tcp.extend_from_slice(&ports.1.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&0u32.to_be_bytes());
        tcp.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        tcp.extend_from_slice(payload);
        let to = 3 - from;
        let ip = if self.v6 {
            let mut ip = vec![0x60, 0, 0, 0];
            ip.extend_from_slice(
                &u16::try_from(tcp.len())
                    .expect("a small segment")
                    .to_be_bytes(),
            );
            ip.extend_from_slice(&[6, 64]);
            ip.extend_from_slice(&[0xfd; 15]);
            ip.push(from);
            ip.extend_from_slice(&[0xfd; 15]);
            ip.push(to);
            ip
        } else {
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(
                &u16::try_from(20 + tcp.len())
                    .expect("a small packet")
                    .to_be_bytes(),
            );
            ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, from, 10, 0, 0, to]);
            ip
        };
        let ethertype: u16 = if self.v6 { 0x86dd } else { 0x0800 };
        let mut packet = match self.link {
            Link::Ethernet => {
                let mut h = vec![2, 0, 0, 0, 0, to, 2, 0, 0, 0, 0, from];
                h.extend_from_slice(&ethertype.to_be_bytes());
                h
            }
            Link::Sll => {
                let mut h = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, from, 0, 0];
                h.extend_from_slice(&ethertype.to_be_bytes());
                h
            }
            Link::Null => {
                let family: u32 = if self.v6 { 30 } else { 2 };
                family.to_le_bytes().to_vec()
            }
            Link::Loop => {
                let family: u32 = if self.v6 { 24 } else { 2 };
                family.to_be_bytes().to_vec()
            }
            Link::Raw => Vec::new(),
        };
        packet.extend_from_slice(&ip);
        packet.extend_from_slice(&tcp);
        if matches!(self.link, Link::Ethernet) && packet.len() < 60 {
            // Ethernet pads short frames: the IP length must decide.
            packet.resize(60, 0);
        }
        self.record(&packet);
    }
}

/// A pcap of the captured connection: handshake, every read cut into
/// segments of at most 1400 bytes, in the order recorded, with the
/// client's sequence numbers wrapping past 2^32, one client segment
/// retransmitted and two delivered out of order, and FINs; `noise` puts
/// another (unrelated) connection's packets before it, and a UDP packet.
fn pcap_of(c: &Captured, link: Link, v6: bool, noise: bool) -> Vec<u8> {
    let mut p = Pcap::new(link, v6);
    if noise {
        p.tcp(1, (50_000, 22), 7, SYN, &[]);
        p.tcp(2, (22, 50_000), 9, SYN | ACK, &[]);
        p.tcp(1, (50_000, 22), 8, PSH | ACK, b"SSH-2.0-noise\r\n");
        p.record(&{
            let mut udp = vec![0u8; 14];
            udp[12] = 0x08;
            udp.extend_from_slice(&[0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]);
            udp.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0, 53, 0, 53, 0, 8, 0, 0]);
            udp
        });
    }
    let ports_up = (40_000, 5_000);
    let ports_down = (5_000, 40_000);
    let (mut up_seq, mut down_seq) = (0xffff_f000u32, 77u32);
    p.tcp(1, ports_up, up_seq, SYN, &[]);
    p.tcp(2, ports_down, down_seq, SYN | ACK, &[]);
    up_seq = up_seq.wrapping_add(1);
    down_seq = down_seq.wrapping_add(1);
    p.tcp(1, ports_up, up_seq, ACK, &[]);
    let late = late_segment(c);
    let mut up_segments = 0;
    let mut held: Option<(u32, Vec<u8>)> = None;
    for (up, bytes) in &c.chunks {
        for piece in bytes.chunks(1400) {
            if *up {
                up_segments += 1;
                match up_segments {
                    // Held back, sent after the next one.
                    n if n == late => held = Some((up_seq, piece.to_vec())),
                    n if n == late + 1 => {
                        p.tcp(1, ports_up, up_seq, PSH | ACK, piece);
                        let (seq, data) = held.take().unwrap();
                        p.tcp(1, ports_up, seq, PSH | ACK, &data);
                    }
                    n if n == late + 2 => {
                        p.tcp(1, ports_up, up_seq, PSH | ACK, piece);
                        p.tcp(1, ports_up, up_seq, PSH | ACK, piece);
                    }
                    _ => p.tcp(1, ports_up, up_seq, PSH | ACK, piece),
                }
                up_seq = up_seq.wrapping_add(u32::try_from(piece.len()).unwrap());
            } else {
                p.tcp(2, ports_down, down_seq, PSH | ACK, piece);
                down_seq = down_seq.wrapping_add(u32::try_from(piece.len()).unwrap());
            }
        }
    }
    if let Some((seq, data)) = held {
        p.tcp(1, ports_up, seq, PSH | ACK, &data);
    }
    assert!(
        up_seq < 0xffff_f000,
        "the client's sequence numbers wrapped"
    );
    p.tcp(1, ports_up, up_seq, FIN | ACK, &[]);
    p.tcp(2, ports_down, down_seq, FIN | ACK, &[]);
    if noise {
        p.tcp(2, (22, 50_000), 10, PSH | ACK, b"SSH-2.0-other\r\n");
    }
    p.bytes
}

/// The client segment (numbered from 1, of 1400 bytes at most) that
/// [`pcap_of`] sends late: the first from the 10th on that ends a frame
/// while the next one ends another (so that the frame of the late one
/// completes on the wire after a later frame), else the 10th.
fn late_segment(c: &Captured) -> usize {
    let mut pieces = Vec::new();
    for (up, bytes) in &c.chunks {
        if *up {
            pieces.extend(bytes.chunks(1400).map(|p| p.contains(&b'\n')));
        }
    }
    (9..pieces.len().saturating_sub(1))
        .find(|&i| pieces[i] && pieces[i + 1])
        .map_or(10, |i| i + 1)
}

fn inspect_pcap(c: &Captured, pcap: &[u8], extra: &[&str]) -> Output {
    let path = c.tmp.path().join("capture.pcap");
    std::fs::write(&path, pcap).unwrap();
    let mut args: Vec<&Path> = vec![Path::new("--keylog"), &c.keylog, Path::new("--pcap"), &path];
    args.extend(extra.iter().map(Path::new));
    inspect(&args)
}

/// The lines of one direction, in order.
fn direction_lines<'a>(text: &'a str, arrow: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(arrow)).collect()
}

#[test]
fn inspect_decrypts_pcap_files_of_both_connections_as_it_does_the_streams() {
    let cases = [
        (
            "pcap-v2",
            600_000,
            &["--rotate-after", "3"][..],
            &["--rotate-after", "2"][..],
            [Link::Ethernet, Link::Raw],
            false,
        ),
        (
            "pcap-v1",
            60_000,
            &["--seed-compatible"][..],
            &["--seed-compatible"][..],
            [Link::Sll, Link::Loop],
            true,
        ),
    ];
    for (name, len, server, client, [link, other_link], v6) in cases {
        let c = capture(name, len, server, client);
        // Enough segments for the late one and the retransmission; in v1
        // (small records) the late one crosses a frame boundary.
        assert!(c.direction(true).len() > 12 * 1400);
        if name == "pcap-v1" {
            assert!(late_segment(&c) > 10, "no late segment across frames");
        }
        let streams = stdout(&inspect_files(&c, &c.keylog));
        for (link, v6, noise) in [
            (link, v6, false),
            (link, v6, true),
            (Link::Null, !v6, false),
            (other_link, !v6, false),
        ] {
            let pcap = pcap_of(&c, link, v6, noise);
            // The other connection comes first.
            let ours: &[&str] = if noise { &["--connection", "1"] } else { &[] };
            let out = inspect_pcap(&c, &pcap, ours);
            let text = stdout(&out);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name}: {text}{stderr}");
            // The same frames, decrypted the same, in each direction.
            for arrow in ["c->s", "s->c"] {
                assert_eq!(
                    direction_lines(&text, arrow),
                    direction_lines(&streams, arrow),
                    "{name} {arrow}"
                );
            }
            assert_eq!(text.lines().next(), streams.lines().next());
            assert_eq!(
                shown_data(&text).len(),
                len.div_ceil(if name == "pcap-v2" { 65536 } else { 960 })
            );
            // Interleaved as on the wire: the server's EXCHANGE right
            // after the client's ALGORITHMS.
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines[1].starts_with("c->s ALGORITHMS"), "{name}: {text}");
            assert!(lines[2].starts_with("s->c EXCHANGE"), "{name}: {text}");
            if noise {
                assert!(stderr.contains("2 TCP connections"), "{stderr}");
                assert!(stderr.contains("not TCP over IPv4 or IPv6: 1"), "{stderr}");
                // The other connection holds no securex frame.
                let other = inspect_pcap(&c, &pcap, &[]);
                let other_text = stdout(&other);
                assert!(other_text.contains("undecodable frame"), "{other_text}");
                assert!(!other_text.contains("DATA"), "{other_text}");
                let none = inspect_pcap(&c, &pcap, &["--connection", "2"]);
                assert_eq!(none.status.code(), Some(2));
                assert!(String::from_utf8_lossy(&none.stderr).contains("no TCP connection 2"));
            }
        }
    }
}

#[test]
#[allow(
    clippy::cast_possible_truncation,
    reason = "an xorshift generator: the byte flipped in is bits 32..40 of its state"
)]
fn malformed_pcap_files_are_errors_never_panics() {
    let c = capture("pcap-bad", 5_000, &[], &[]);
    let good = pcap_of(&c, Link::Ethernet, false, false);
    assert!(inspect_pcap(&c, &good, &[]).status.success());
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("pcapng".into(), vec![0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]),
        ("magic only".into(), good[..4].to_vec()),
        ("no packets".into(), good[..24].to_vec()),
    ];
    // Cut anywhere: inside the file header, a record header, a packet.
    for cut in (0..good.len())
        .step_by(good.len() / 40 + 1)
        .chain([23, 25, 39, 40, 41, 60])
    {
        cases.push((
            format!("cut at {cut}"),
            good[..cut.min(good.len())].to_vec(),
        ));
    }
    // Broken fields: version, link type, a record length, the IP header
    // length, the TCP data offset, the IP total length.
    let first = 24;
    for (what, at, value) in [
        ("version", 4, 9u8),
        ("link type", 20, 0x77),
        ("record length", first + 11, 0xff),
        ("record length small", first + 8, 3),
        ("ip header length", first + 16 + 14, 0x4f),
        ("ip header length short", first + 16 + 14, 0x41),
        ("ip total length", first + 16 + 16, 0xff),
        ("tcp offset", first + 16 + 14 + 20 + 12, 0xf0),
        ("tcp offset short", first + 16 + 14 + 20 + 12, 0x10),
    ] {
        let mut bytes = good.clone();
        bytes[at] = value;
        cases.push((what.into(), bytes));
    }
    // Random bytes flipped over the first packets, or anywhere, in every
    // link type.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let links = [Link::Ethernet, Link::Sll, Link::Null, Link::Loop, Link::Raw];
    for (i, link) in links.into_iter().enumerate() {
        let good = pcap_of(&c, link, i % 2 == 1, i == 1);
        for j in 0..24 {
            let mut bytes = good.clone();
            let within = if j % 2 == 0 { 400 } else { bytes.len() };
            for _ in 0..6 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = usize::try_from(state % within as u64).unwrap() % bytes.len();
                bytes[at] ^= (state >> 32) as u8 | 1;
            }
            cases.push((format!("{i} flipped {j}"), bytes));
        }
    }
    for (what, bytes) in &cases {
        let out = inspect_pcap(&c, bytes, &[]);
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(code, Some(0..=2)),
            "{what}: exit {code:?} (a panic exits 101): {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
    // The ones that cannot be read say why.
    let expect = |what: &str, message: &str| {
        let (_, bytes) = cases.iter().find(|(w, _)| w == what).unwrap();
        let out = inspect_pcap(&c, bytes, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.contains(message), "{what}: {stderr}");
    };
    expect("empty", "shorter than a pcap file header");
    expect("magic only", "shorter than a pcap file header");
    expect("pcapng", "pcapng");
    expect("no packets", "no TCP connection");
    expect("version", "pcap version 9.4");
    expect("link type", "link type 119");
    expect("record length", "claims");
}
