//! Writes the seed corpus files that come from real sessions between a
//! client and a server in memory (the seeded connections of
//! `securex_fuzz`), and the structured seeds of `pair` and `seal_open`.
//! The files from `../shared/vectors/seed-v1.json` are written by
//! `seeds_from_vectors.py`.
//!
//! Build it with `--cfg fuzzing`, as `cargo fuzz` builds the targets (v1
//! keys depend on it: one PBKDF2 iteration), in its own target directory:
//!
//! ```sh
//! RUSTFLAGS="--cfg fuzzing" CARGO_TARGET_DIR=fuzz/target/corpus \
//!     cargo run --release --manifest-path fuzz/Cargo.toml --example make_corpus
//! ```
//!
//! Rerun it when the library changes how it draws randomness or what it
//! writes: the `server_input` and `client_input` seeds authenticate only
//! if a fresh seeded connection derives the same keys. Every seed is
//! replayed through its target's logic before it is written, so a seed
//! that no longer authenticates (or that fails a check) stops the
//! generator instead of being written.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arbitrary::Arbitrary;
use securex::dh::{Group, KeyPair, NamedGroup};
use securex::suite::CipherSuite;
use securex::{Config, Connection, Message, Role, State, Version};
use securex_fuzz::pair::{self, Injected, Op, Side};
use securex_fuzz::seal_open::{self, Change, Field};
use securex_fuzz::{
    CLIENT_SEED, Run, Start, client_config, client_with, pair_at, server_with, shuttle,
};

/// Who starts a rotation in the middle of a session.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rotation {
    None,
    Client,
    Server,
}

/// Completes what is outstanding, then OPEN, the server's OK, `chunks`
/// DATA chunks of `chunk_len` bytes (the last one shorter) and CLOSE,
/// shuttling after each; `rotation` starts a rotation after the first
/// chunk. Returns what the client and the server wrote.
fn converse(
    client: &mut Connection,
    server: &mut Connection,
    chunks: usize,
    chunk_len: usize,
    rotation: Rotation,
) -> (Vec<u8>, Vec<u8>) {
    let now = Instant::now();
    let version = client.version().expect("established");
    let (mut c, mut s) = shuttle(client, server, now);
    let mut step = |client: &mut Connection, server: &mut Connection| {
        let (more_c, more_s) = shuttle(client, server, now);
        c.extend(more_c);
        s.extend(more_s);
    };
    let open = Message::Open {
        file_name: "report.pdf".into(),
    };
    client.send(now, open).unwrap();
    step(client, server);
    server.send(now, Message::Ok).unwrap();
    step(client, server);
    for i in 0..chunks {
        // The last chunk is short, as at the end of a file.
        let len = if i + 1 == chunks {
            chunk_len / 3
        } else {
            chunk_len
        };
        let chunk = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
        client.send(now, Message::Data(chunk)).unwrap();
        step(client, server);
        if i == 0 {
            match rotation {
                Rotation::None => {}
                Rotation::Client => client.rotate(now).unwrap(),
                Rotation::Server => server.rotate(now).unwrap(),
            }
            step(client, server);
        }
    }
    // v2 carries the file's SHA-256 (the server's Connection does not
    // check it; any value will do here).
    let sha256 = (version == Version::V2).then_some([0x5a; 32]);
    client.send(now, Message::Close { sha256 }).unwrap();
    step(client, server);
    assert_eq!(client.state(), State::Established);
    assert_eq!(server.state(), State::Established);
    (c, s)
}

/// A whole session from fresh connections: the client's and the
/// server's bytes.
fn session(config: Config, server_config: Config, chunks: usize) -> (Vec<u8>, Vec<u8>) {
    let now = Instant::now();
    let mut client = client_with(config, now);
    let mut server = server_with(server_config, now);
    let (mut c, mut s) = shuttle(&mut client, &mut server, now);
    let (more_c, more_s) = converse(&mut client, &mut server, chunks, 960, Rotation::None);
    c.extend(more_c);
    s.extend(more_s);
    (c, s)
}

/// Checks that a connection target's seed runs without an error before
/// the end of its stream, delivering `messages` messages.
fn check_stream(role: Role, start: Start, stream: &[u8], messages: usize) {
    let mut run = Run::new(role, start, Instant::now());
    let before = run.messages().count();
    assert!(!run.input(stream), "{role:?} {start:?} refused its seed");
    assert_eq!(run.conn.state(), State::Established, "{role:?} {start:?}");
    assert_eq!(
        run.messages().count() - before,
        messages,
        "{role:?} {start:?}"
    );
    run.eof();
}

struct Writer {
    root: PathBuf,
    files: usize,
    bytes: usize,
}

impl Writer {
    fn write(&mut self, target: &str, name: &str, header: &[u8], body: &[u8]) {
        let seed = [header, body].concat();
        match target {
            "server_input" => securex_fuzz::connection_input(Role::Server, &seed),
            "client_input" => securex_fuzz::connection_input(Role::Client, &seed),
            "pair" => pair::run_bytes(&seed),
            "seal_open" => seal_open::run_bytes(&seed),
            _ => {}
        }
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("seed-{name}"));
        std::fs::write(&path, &seed).unwrap();
        self.files += 1;
        self.bytes += header.len() + body.len();
        println!("{} ({} bytes)", path.display(), header.len() + body.len());
    }
}

// ---------------------------------------------------------------------
// Encoding structured inputs as `arbitrary` 1.x decodes them
// ---------------------------------------------------------------------

/// Bytes that `arbitrary` decodes into chosen values: integers little
/// endian, `bool` as a byte's low bit, an enum variant as a `u32` scaled
/// to the variant count, a `Vec` element after a `true` byte. Each seed
/// is decoded again and compared with what was meant.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Variant `index` of `count`: the least u32 with `v * count >> 32`
    /// equal to it.
    fn variant(&mut self, index: u64, count: u64) -> &mut Self {
        let v = (index << 32).div_ceil(count);
        self.u32(v as u32)
    }
    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.bool(true).u8(b);
        }
        self.bool(false)
    }

    fn side(&mut self, side: Side) -> &mut Self {
        self.variant(side as u64, 2)
    }

    fn op(&mut self, op: &Op) -> &mut Self {
        const OPS: u64 = 16;
        match *op {
            Op::Open(n) => self.variant(0, OPS).u8(n),
            Op::Data { len, fill } => self.variant(1, OPS).u8(len).u8(fill),
            Op::Close => self.variant(2, OPS),
            Op::Ok => self.variant(3, OPS),
            Op::Deliver { to, n } => self.variant(4, OPS).side(to).u16(n),
            Op::DeliverAll => self.variant(5, OPS),
            Op::Split { to, at } => self.variant(6, OPS).side(to).u16(at),
            Op::Drop { to, index } => self.variant(7, OPS).side(to).u8(index),
            Op::Duplicate { to, index } => self.variant(8, OPS).side(to).u8(index),
            Op::Reorder { to, index } => self.variant(9, OPS).side(to).u8(index),
            Op::Flip { to, index, at, bit } => {
                self.variant(10, OPS).side(to).u8(index).u16(at).u8(bit)
            }
            Op::FlipValue {
                to,
                index,
                value,
                at,
                bit,
            } => self
                .variant(11, OPS)
                .side(to)
                .u8(index)
                .u8(value)
                .u16(at)
                .u8(bit),
            Op::Inject {
                to,
                index,
                ref frame,
            } => {
                self.variant(12, OPS).side(to).u8(index);
                match frame {
                    Injected::Ok => self.variant(0, 5),
                    Injected::Error => self.variant(1, 5),
                    Injected::Exchange => self.variant(2, 5),
                    Injected::Replay(n) => self.variant(3, 5).u8(*n),
                    Injected::Raw(raw) => self.variant(4, 5).bytes(raw),
                }
            }
            Op::Advance(n) => self.variant(13, OPS).u8(n),
            Op::Rotate(side) => self.variant(14, OPS).side(side),
            Op::Shutdown { side, flush } => self.variant(15, OPS).side(side).bool(flush),
        }
    }

    fn pair(v2: bool, suite: u8, rotate_after: u8, ops: &[Op]) -> Vec<u8> {
        let mut e = Enc::default();
        e.bool(v2).u8(suite).u8(rotate_after);
        for op in ops {
            e.bool(true).op(op);
        }
        let bytes = e.0;
        let decoded = pair::Input::arbitrary_take_rest(arbitrary::Unstructured::new(&bytes));
        let decoded = format!("{:?}", decoded.expect("decodes"));
        let meant = format!(
            "{:?}",
            pair::Input {
                v2,
                suite,
                rotate_after,
                ops: ops.to_vec()
            }
        );
        assert_eq!(decoded, meant, "the encoder is out of step with arbitrary");
        bytes
    }

    fn seal_open(input: &seal_open::Input) -> Vec<u8> {
        let mut e = Enc::default();
        e.bool(input.v2).u8(input.suite);
        for &b in &input.secret {
            e.u8(b);
        }
        e.u32(input.epoch);
        for &b in &input.iv_seed {
            e.u8(b);
        }
        e.u8(input.target);
        e.variant(input.field as u64, 5);
        match input.change {
            Change::Flip { at, bit } => e.variant(0, 3).u16(at).u8(bit),
            Change::Truncate(n) => e.variant(1, 3).u16(n),
            Change::Append(b) => e.variant(2, 3).u8(b),
        };
        for m in &input.messages {
            e.bool(true).bytes(m);
        }
        let bytes = e.0;
        let decoded = seal_open::Input::arbitrary_take_rest(arbitrary::Unstructured::new(&bytes));
        assert_eq!(
            format!("{:?}", decoded.expect("decodes")),
            format!("{input:?}"),
            "the encoder is out of step with arbitrary"
        );
        bytes
    }
}

/// The `pair` regression inputs (`tests/fuzz_regressions/pair/`), kept
/// here as values because their bytes depend on the layout of
/// `pair::Input`: rerunning the generator re-encodes them after a change.
/// Only inputs that pass on the current code belong here.
fn pair_regressions() -> Vec<(&'static str, pair::Input)> {
    vec![
        (
            // Found by `pair` on 98c8a45: a side that closed by
            // `flush_and_close` in the middle of an input still dispatched the
            // rest of it and returned an error that was not its close reason.
            "v2-error-returned-after-a-flushed-close",
            pair::Input {
                v2: true,
                suite: 0,
                rotate_after: 200,
                ops: vec![
                    Op::Close,
                    Op::Duplicate {
                        to: Side::Server,
                        index: 187,
                    },
                    Op::Shutdown {
                        side: Side::Client,
                        flush: true,
                    },
                ],
            },
        ),
        (
            // Found by `pair` on abceab5 (while checking that the target
            // notices a transcript without the hello): a frame that did not
            // decode, after a close completed earlier in the same input, was
            // still handled: a second `Closed` event, and the close reason
            // overwritten.
            "v1-undecodable-frame-after-a-flushed-close-second-closed-event",
            pair::Input {
                v2: false,
                suite: 2,
                rotate_after: 200,
                ops: vec![
                    Op::Ok,
                    Op::Split {
                        to: Side::Server,
                        at: 65535,
                    },
                    Op::Open(243),
                    Op::Shutdown {
                        side: Side::Client,
                        flush: true,
                    },
                    Op::Flip {
                        to: Side::Client,
                        index: 85,
                        at: 0,
                        bit: 0,
                    },
                ],
            },
        ),
    ]
}

/// A seed-compatible server that speaks only v1.
fn v1_only_server() -> Config {
    let mut config = Config::seed_compatible();
    config.versions = vec![Version::V1];
    config
}

/// The scripts of the `pair` seeds.
fn pair_scripts() -> Vec<(&'static str, Vec<Op>)> {
    use Op::*;
    let happy = [
        Open(1),
        DeliverAll,
        Ok,
        DeliverAll,
        Data { len: 200, fill: 1 },
        Data { len: 17, fill: 9 },
        DeliverAll,
        Data { len: 3, fill: 0 },
        Close,
        DeliverAll,
        Ok,
        DeliverAll,
    ];
    let trickle = [
        Open(2),
        Deliver {
            to: Side::Server,
            n: 100,
        },
        Deliver {
            to: Side::Client,
            n: 700,
        },
        Split {
            to: Side::Server,
            at: 33,
        },
        Deliver {
            to: Side::Server,
            n: 0,
        },
        DeliverAll,
        Data { len: 64, fill: 5 },
        Rotate(Side::Server),
        Rotate(Side::Client),
        Data { len: 64, fill: 6 },
        DeliverAll,
        Advance(100),
        DeliverAll,
    ];
    let tamper = |op: Op| {
        vec![
            Open(3),
            DeliverAll,
            Data { len: 40, fill: 7 },
            Ok,
            op,
            Data { len: 41, fill: 8 },
            DeliverAll,
            Close,
            DeliverAll,
        ]
    };
    vec![
        ("happy", happy.to_vec()),
        ("trickle", trickle.to_vec()),
        (
            "flip",
            tamper(Flip {
                to: Side::Server,
                index: 0,
                at: 40,
                bit: 2,
            }),
        ),
        (
            "drop",
            tamper(Drop {
                to: Side::Server,
                index: 0,
            }),
        ),
        (
            "duplicate",
            tamper(Duplicate {
                to: Side::Server,
                index: 0,
            }),
        ),
        (
            "reorder",
            tamper(Reorder {
                to: Side::Client,
                index: 0,
            }),
        ),
        (
            "inject-replay",
            tamper(Inject {
                to: Side::Server,
                index: 0,
                frame: Injected::Replay(1),
            }),
        ),
        (
            "inject-ok",
            tamper(Inject {
                to: Side::Client,
                index: 1,
                frame: Injected::Ok,
            }),
        ),
        (
            "hello-flip",
            vec![
                Flip {
                    to: Side::Server,
                    index: 0,
                    at: 300,
                    bit: 0,
                },
                DeliverAll,
                Open(4),
                DeliverAll,
            ],
        ),
        (
            "hello-nonce-flip",
            vec![
                FlipValue {
                    to: Side::Server,
                    index: 0,
                    value: 3,
                    at: 5,
                    bit: 5,
                },
                Open(6),
                DeliverAll,
            ],
        ),
        (
            "payload-flip",
            tamper(FlipValue {
                to: Side::Server,
                index: 0,
                value: 1,
                at: 7,
                bit: 1,
            }),
        ),
        (
            "silent",
            vec![
                Open(5),
                Advance(70),
                Deliver {
                    to: Side::Server,
                    n: 0,
                },
            ],
        ),
    ]
}

fn main() {
    if !cfg!(fuzzing) {
        eprintln!(
            "make_corpus must be built with RUSTFLAGS=\"--cfg fuzzing\", as the fuzz targets \
             are (v1 keys differ otherwise); see fuzz/README.md"
        );
        std::process::exit(2);
    }
    let root = std::env::args_os().nth(1).map(PathBuf::from);
    let regressions = match &root {
        Some(root) => root.join("regressions"),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join("tests/fuzz_regressions"),
    };
    let root = root.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let mut out = Writer {
        root,
        files: 0,
        bytes: 0,
    };
    let seed_server = Config::seed_compatible;

    // Whole sessions offering every suite: v1 (AES-128-CBC-SHA-256 is
    // chosen) and v2 (AES-128-GCM-SHA-256).
    let (v1_to_server, v1_to_client) = session(client_config(Version::V1, None), seed_server(), 2);
    let (v2_to_server, v2_to_client) = session(client_config(Version::V2, None), seed_server(), 2);
    // frames: [limit, cut_hi, cut_lo] + stream.
    out.write("frames", "session-client", &[0, 0x01, 0x00], &v1_to_server);
    out.write("frames", "session-server", &[0, 0x00, 0x10], &v1_to_client);
    let v2_both = [v2_to_server.as_slice(), &v2_to_client].concat();
    out.write("frames", "session-v2", &[0, 0x02, 0x00], &v2_both);

    // server_input, fresh server: [start, chunking, step] + stream.
    let fresh_server = Start::Fresh {
        version: Version::V1,
        suite: None,
        fallback: false,
    };
    check_stream(Role::Server, fresh_server, &v1_to_server, 4);
    check_stream(Role::Server, fresh_server, &v2_to_server, 4);
    out.write("server_input", "session", &[0, 0, 0], &v1_to_server);
    out.write("server_input", "session-v2", &[0, 0, 0], &v2_to_server);
    // The client's ALGORITHMS alone, with a clock that expires timers.
    let hello_len = v1_to_server.iter().position(|&b| b == b'\n').unwrap() + 1;
    out.write(
        "server_input",
        "hello-slow-clock",
        &[0, 40, 70],
        &v1_to_server[..hello_len],
    );

    // client_input, fresh clients: the server's side of whole sessions.
    let fresh = |version, suite, fallback| Start::Fresh {
        version,
        suite,
        fallback,
    };
    for (start, server_config, name) in [
        (fresh(Version::V1, None, false), seed_server(), "session-v1"),
        (fresh(Version::V2, None, false), seed_server(), "session-v2"),
        (
            fresh(Version::V2, Some(CipherSuite::ALL[5]), false),
            seed_server(),
            "session-v2-3des-cbc",
        ),
        (
            fresh(Version::V2, None, true),
            v1_only_server(),
            "session-fallback-to-v1",
        ),
    ] {
        let (_, to_client) = session(start.client_config(), server_config, 2);
        check_stream(Role::Client, start, &to_client, 1);
        out.write("client_input", name, &[start.to_byte(), 0, 0], &to_client);
    }
    // A server that refuses (no common suite): a plaintext ERROR.
    {
        let now = Instant::now();
        let start = fresh(Version::V1, Some(CipherSuite::ALL[7]), false);
        let mut client = client_with(start.client_config(), now);
        let mut server = server_with(client_config(Version::V1, Some(CipherSuite::ALL[0])), now);
        let hello = client.poll_transmit().unwrap();
        assert!(server.handle_input(now, &hello).is_err());
        let refusal = server.poll_transmit().unwrap();
        out.write(
            "client_input",
            "refused",
            &[start.to_byte(), 0, 0],
            &refusal,
        );
        out.write(
            "client_input",
            "ok-then-eof",
            &[start.to_byte(), 1, 3],
            b"{\"type\":\"OK\"}\r\n",
        );
    }

    // Both connection targets, established first (and mid-rotation):
    // every version, suite and rotation; and, for a few, a rotation in
    // the middle of the session started by either side.
    for start in Start::all_established() {
        let Start::Established { version, suite, .. } = start else {
            unreachable!()
        };
        for role in [Role::Server, Role::Client] {
            let (mut client, mut server, _) = pair_at(role, start, Instant::now());
            let (c, s) = converse(&mut client, &mut server, 2, 48, Rotation::None);
            let (stream, messages) = match role {
                Role::Server => (c, 4),
                Role::Client => (s, 1),
            };
            check_stream(role, start, &stream, messages);
            let target = match role {
                Role::Server => "server_input",
                Role::Client => "client_input",
            };
            out.write(target, &start.name(), &[start.to_byte(), 0, 0], &stream);
        }
        let Start::Established {
            rotating: false, ..
        } = start
        else {
            continue;
        };
        // Suites whose records draw no randomness (GCM, ECB): the replayed
        // connection, which sends no records of its own, then draws the
        // rotation's key as the recorded one did.
        if ![0, 1, 6, 7].contains(&suite) {
            continue;
        }
        // The peer of the role under test starts it (the replayed
        // connection makes no calls of its own): the client for a server,
        // the server for a client (v2 only: a v1 server cannot).
        let mut cases = vec![(Role::Server, Rotation::Client)];
        if version == Version::V2 {
            cases.push((Role::Client, Rotation::Server));
        }
        for (role, rotation) in cases {
            let (mut client, mut server, _) = pair_at(role, start, Instant::now());
            let (c, s) = converse(&mut client, &mut server, 3, 48, rotation);
            let (stream, messages, target) = match role {
                Role::Server => (c, 5, "server_input"),
                Role::Client => (s, 1, "client_input"),
            };
            check_stream(role, start, &stream, messages);
            let who = if rotation == Rotation::Client {
                "client"
            } else {
                "server"
            };
            let name = format!("{}-{who}-rotates", start.name());
            out.write(target, &name, &[start.to_byte(), 0, 0], &stream);
        }
    }

    // pair: scripted sessions, plain and with the network misbehaving.
    for (name, ops) in &pair_scripts() {
        for (v2, suite, rotate_after) in
            [(false, 2, 200), (true, 0, 200), (true, 6, 1), (false, 4, 1)]
        {
            let bytes = Enc::pair(v2, suite, rotate_after, ops);
            let version = if v2 { "v2" } else { "v1" };
            let suite = CipherSuite::ALL[usize::from(suite)].to_string();
            let suite = suite.replace(';', "-").to_lowercase();
            let rotating = if rotate_after < 64 { "-rekeying" } else { "" };
            out.write(
                "pair",
                &format!("{name}-{version}-{suite}{rotating}"),
                &[],
                &bytes,
            );
        }
    }

    // seal_open: each suite of both versions, with messages of the sizes
    // around the blocks, and one change of each kind.
    let sizes: [&[u8]; 6] = [b"", b"x", &[7; 15], &[8; 16], &[9; 17], &[10; 100]];
    let fields = [
        Field::Epoch,
        Field::Seq,
        Field::Iv,
        Field::Ciphertext,
        Field::Mac,
    ];
    let changes = [
        Change::Flip { at: 3, bit: 1 },
        Change::Truncate(8),
        Change::Append(0),
    ];
    for v2 in [false, true] {
        for suite in 0..8u8 {
            let input = seal_open::Input {
                v2,
                suite,
                secret: [suite.wrapping_mul(17).wrapping_add(u8::from(v2)); 32],
                epoch: u32::from(suite) * 3,
                iv_seed: [suite ^ 0x55; 16],
                target: suite,
                field: fields[usize::from(suite) % 5],
                change: changes[usize::from(suite) % 3],
                messages: sizes.iter().map(|m| m.to_vec()).collect(),
            };
            let bytes = Enc::seal_open(&input);
            let version = if v2 { "v2" } else { "v1" };
            let suite = CipherSuite::ALL[usize::from(suite)].to_string();
            let name = format!("{version}-{}", suite.replace(';', "-").to_lowercase());
            out.write("seal_open", &name, &[], &bytes);
        }
    }

    // The pair regression inputs, re-encoded for the current layout.
    let dir = regressions.join("pair");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, input) in pair_regressions() {
        let bytes = Enc::pair(input.v2, input.suite, input.rotate_after, &input.ops);
        pair::run_bytes(&bytes);
        std::fs::write(dir.join(name), &bytes).unwrap();
        println!("{} ({} bytes)", dir.join(name).display(), bytes.len());
    }

    // dh_decoders: the client's ffdhe2048 key as PEM and as bytes, and a
    // larger named group.
    let group = Group::named(NamedGroup::Ffdhe2048);
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed(CLIENT_SEED);
    let key = KeyPair::generate(&group, &mut rng);
    let pem = key.public_key().to_pem();
    out.write(
        "dh_decoders",
        "session-ffdhe2048-public-pem",
        &[],
        pem.as_bytes(),
    );
    let bytes = key.public_key().to_bytes();
    out.write("dh_decoders", "session-ffdhe2048-public-bytes", &[], &bytes);
    let pem = Group::named(NamedGroup::Ffdhe3072).to_pem();
    out.write(
        "dh_decoders",
        "session-ffdhe3072-params-pem",
        &[],
        pem.as_bytes(),
    );

    println!("{} files, {} bytes", out.files, out.bytes);
}
