//! What a hostile peer can make a server spend: the server's CPU per KB it
//! receives, for the cheapest input that still buys the costliest work
//! each bound lets through.
//!
//! * `hostile/v1_renegotiation`: one epoch of a seed-compatible client that
//!   renegotiates as often as a server with `Config::seed_compatible()`
//!   allows: the fewest protected frames and bytes before a renegotiation
//!   (`v1_rotation_min_frames` = 19 records, `v1_rotation_min_bytes` =
//!   32,000 bytes: 19 records of the smallest chunk that reaches it), then an `ALGORITHMS`
//!   in the costliest group it accepts: an ad-hoc 2048-bit safe-prime
//!   group with its q (`benches/fixtures/adhoc-safe-2048.pem`, generated
//!   with `openssl dhparam 2048`), so that the server checks `g^q`, checks
//!   the client's key against q, and draws and uses a 2046-bit exponent,
//!   then runs PBKDF2 (100,000 iterations);
//! * `hostile/v2_rekey/<group>`: one epoch of a v2 peer that rotates as
//!   often as `Config::default()` allows, in each RFC 7919 group: one
//!   application record of the smallest chunk whose frame reaches the
//!   group's bound (`rekey_min_bytes`, 4096 bytes in ffdhe2048, scaled by
//!   the square of the group's size), then a REKEY, which costs the
//!   responder a key pair, an agreement and the HKDF of the next epoch.
//!
//! Each iteration hands a fresh established server the whole epoch in one
//! `handle_input`, the clock past `min_rotation_interval`. The throughput
//! criterion reports is bytes received per second of server CPU: its
//! inverse is the CPU a hostile peer buys per byte (for example 2 MiB/s
//! is 0.49 ms per KB). The target is under 1 ms per KB (more than
//! 1000 KB/s).
//!
//! Run with `cargo bench --bench hostile` (about a minute).

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::dh::{Group, KeyPair, NamedGroup};
use securex::wire::Frame;
use securex::{Config, Connection, Message, State};

const ADHOC_2048: &str = include_str!("fixtures/adhoc-safe-2048.pem");

/// Shuttles bytes both ways until both sides are established.
fn establish(client: &mut Connection, server: &mut Connection, now: Instant) {
    while client.state() != State::Established || server.state() != State::Established {
        let mut moved = false;
        while let Some(bytes) = client.poll_transmit() {
            server.handle_input(now, &bytes).expect("server accepts");
            moved = true;
        }
        while let Some(bytes) = server.poll_transmit() {
            client.handle_input(now, &bytes).expect("client accepts");
            moved = true;
        }
        assert!(moved, "the handshake stalled");
    }
}

/// A client of `config` and an established server of `server`.
fn pair(client: Config, server: Config, seed: u64, now: Instant) -> (Connection, Connection) {
    let mut c =
        Connection::client(client, ChaCha20Rng::seed_from_u64(seed), now).expect("a valid config");
    let mut s = Connection::server(server, ChaCha20Rng::seed_from_u64(seed + 1), now)
        .expect("a valid config");
    establish(&mut c, &mut s, now);
    (c, s)
}

/// The client's frames for `messages`, sent at `now`.
fn frames(client: &mut Connection, now: Instant, messages: Vec<Message>) -> Vec<u8> {
    for message in messages {
        client.send(now, message).expect("send");
    }
    let mut out = Vec::new();
    while let Some(bytes) = client.poll_transmit() {
        out.extend(bytes);
    }
    out
}

/// A renegotiating `ALGORITHMS` in the ad-hoc 2048-bit group: the client's
/// first hello with its group and key replaced.
fn adhoc_algorithms(hello: &[u8], group: &Group, key: &KeyPair) -> Vec<u8> {
    let Ok(Frame::Algorithms(mut algorithms)) = Frame::decode(&hello[..hello.len() - 2]) else {
        panic!("not ALGORITHMS");
    };
    algorithms.params = BASE64.encode(group.to_pem());
    algorithms.public_key = BASE64.encode(key.public_key().to_pem());
    let mut bytes = Frame::Algorithms(algorithms).encode();
    bytes.extend_from_slice(b"\r\n");
    bytes
}

fn hostile(c: &mut Criterion) {
    let mut group = c.benchmark_group("hostile");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));

    // v1: 19 records carrying just over 32,000 bytes, then ALGORITHMS.
    let adhoc = Group::from_pem(ADHOC_2048.as_bytes(), 8192).expect("the fixture loads");
    assert!(adhoc.named_group().is_none() && adhoc.has_subgroup_order());
    let attacker_key = KeyPair::generate(&adhoc, &mut ChaCha20Rng::seed_from_u64(99));
    let setup_v1 = |seed: u64| {
        let now = Instant::now();
        let mut client = Config::seed_compatible();
        client.rotate_after_frames = None;
        let c = Connection::client(client.clone(), ChaCha20Rng::seed_from_u64(seed), now)
            .expect("a valid config");
        let mut probe = c;
        let hello = probe.poll_transmit().expect("hello");
        let (mut c, s) = pair(client, Config::seed_compatible(), seed, now);
        // The smallest chunk whose 19 records reach the byte bound: the
        // cheapest epoch the server accepts (records are not delivered
        // before `epoch` is built, so probing costs nothing).
        let min = usize::try_from(Config::seed_compatible().v1_rotation_min_bytes).unwrap();
        let chunk = (1..4096)
            .find(|&n| {
                let frame = frames(&mut c, now, vec![Message::Data(vec![0; n])]);
                19 * (frame.len() - 2) >= min
            })
            .expect("a chunk size reaches the bound");
        let chunks = (0..19).map(|i| Message::Data(vec![i; chunk])).collect();
        let mut epoch = frames(&mut c, now, chunks);
        epoch.extend(adhoc_algorithms(&hello, &adhoc, &attacker_key));
        (s, epoch, now + Duration::from_secs(1))
    };
    let (_, sample, _) = setup_v1(0);
    group.throughput(Throughput::Bytes(sample.len() as u64));
    let mut seed = 0;
    group.bench_function("v1_renegotiation", |b| {
        b.iter_batched(
            || {
                seed += 2;
                setup_v1(seed)
            },
            |(mut server, epoch, later)| {
                server.handle_input(later, &epoch).expect("accepted");
                assert_eq!(server.epoch(), 1);
                black_box(server)
            },
            BatchSize::PerIteration,
        );
    });

    // v2: the cheapest record that reaches the bound, then REKEY.
    for named in NamedGroup::ALL {
        let mut config = Config::default();
        config.groups = vec![named];
        let now = Instant::now();
        // Probe on a pair of its own (its records are never delivered),
        // which never rotates.
        let mut never = config.clone();
        never.rekey_min_bytes = u64::MAX;
        let (mut probe, _) = pair(never, config.clone(), 1000, now);
        let min = config.rekey_min_bytes * u64::from(named.bits()).pow(2) / (2048 * 2048);
        let chunk = (1..1 << 16)
            .find(|&n| {
                let frame = frames(&mut probe, now, vec![Message::Data(vec![0; n])]);
                (frame.len() - 2) as u64 >= min
            })
            .expect("a chunk reaches the bound")
            // The probe's later records carry longer sequence numbers
            // than the first record of an epoch: a few bytes of margin.
            + 8;
        let setup_v2 = |seed: u64| {
            let now = Instant::now();
            let (mut c, s) = pair(config.clone(), config.clone(), seed, now);
            let mut epoch = frames(&mut c, now, vec![Message::Data(vec![1; chunk])]);
            c.rotate(now).expect("rotate");
            assert_eq!(c.state(), State::Rotating, "the REKEY is out");
            while let Some(bytes) = c.poll_transmit() {
                epoch.extend(bytes);
            }
            (s, epoch, now + Duration::from_secs(1))
        };
        let (_, sample, _) = setup_v2(0);
        group.throughput(Throughput::Bytes(sample.len() as u64));
        group.bench_function(format!("v2_rekey/{named}"), |b| {
            b.iter_batched(
                || {
                    seed += 2;
                    setup_v2(seed)
                },
                |(mut server, epoch, later)| {
                    server.handle_input(later, &epoch).expect("accepted");
                    assert_eq!(server.epoch(), 1);
                    black_box(server)
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, hostile);
criterion_main!(benches);
