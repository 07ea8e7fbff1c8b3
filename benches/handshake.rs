//! Benchmarks of one complete handshake between two [`Connection`]s in
//! memory.
//!
//! * `handshake_v2/<group>`: a v2 handshake in each RFC 7919 group (client
//!   `Config::default()` with only that group, server `Config::default()`),
//!   from [`Connection::client`] until both sides report
//!   [`State::Established`]: both key pairs, both agreements with their
//!   public-value checks, the transcript-bound key schedule and the two
//!   FINISHED records, plus the JSON/PEM/base64 encoding of the hellos;
//! * `handshake_v1/ffdhe2048`: a seed-compatible (v1) handshake for
//!   comparison (`Config::seed_compatible()` on both sides), dominated by
//!   the two PBKDF2 derivations (100000 iterations each);
//! * `dh/<group>/{generate,check,agree}`: the DH operations a v2 handshake
//!   does twice (once per side), alone: drawing a key pair (an
//!   exponentiation of g), validating a peer's public value (range and
//!   subgroup check, a Legendre symbol) and agreeing (an exponentiation of
//!   the peer's value). What the handshake costs beyond them is the rest of
//!   the protocol.
//!
//! Each handshake iteration is a fresh pair with RNGs `ChaCha20Rng::seed_from_u64(i)`
//! (client) and `i + 1` (server), `i` counting up: deterministic, and fresh
//! keys every time. Bytes are shuttled whole with `poll_transmit` /
//! `handle_input`, with no I/O.
//!
//! Run with `cargo bench --bench handshake` (about 45 seconds); pass a
//! filter to run a part, e.g. `cargo bench --bench handshake -- v2` or
//! `-- dh/ffdhe2048`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::dh::{Group, KeyPair, NamedGroup};
use securex::{Config, Connection, State};

/// One whole handshake: builds both sides and shuttles bytes both ways
/// until both are established. Panics if the handshake fails or stalls.
fn handshake(client: &Config, server: &Config, seed: u64) -> (Connection, Connection) {
    let now = Instant::now();
    let mut client = Connection::client(client.clone(), ChaCha20Rng::seed_from_u64(seed), now)
        .expect("a valid config");
    let mut server = Connection::server(
        server.clone(),
        ChaCha20Rng::seed_from_u64(seed.wrapping_add(1)),
        now,
    )
    .expect("a valid config");
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
    (client, server)
}

/// Few samples of a fixed iteration count, for operations of milliseconds.
fn few_samples<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group
}

/// Benchmarks `handshake` with fresh seeds for each iteration.
fn bench(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, client: &Config, server: &Config) {
    let mut seed = 0u64;
    group.bench_function(name, |b| {
        b.iter(|| {
            seed = seed.wrapping_add(2);
            handshake(black_box(client), black_box(server), seed)
        });
    });
}

fn v2(c: &mut Criterion) {
    let mut group = few_samples(c, "handshake_v2");
    let server = Config::default();
    for named in NamedGroup::ALL {
        let mut client = Config::default();
        client.groups = vec![named];
        bench(&mut group, named.wire_name(), &client, &server);
    }
    group.finish();
}

/// The DH operations of a handshake alone, per group (see the module
/// documentation).
fn dh(c: &mut Criterion) {
    let mut group = c.benchmark_group("dh");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for named in NamedGroup::ALL {
        let name = named.wire_name();
        let dh_group = Group::named(named);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        group.bench_function(format!("{name}/generate"), |b| {
            b.iter(|| KeyPair::generate(black_box(&dh_group), &mut rng));
        });
        let ours = KeyPair::generate(&dh_group, &mut rng);
        let peer = KeyPair::generate(&dh_group, &mut rng)
            .public_key()
            .to_bytes();
        group.bench_function(format!("{name}/check"), |b| {
            b.iter(|| dh_group.public_key_from_bytes(black_box(&peer)));
        });
        let peer = dh_group.public_key_from_bytes(&peer).expect("a valid key");
        group.bench_function(format!("{name}/agree"), |b| {
            b.iter(|| ours.agree(black_box(&peer)));
        });
    }
    group.finish();
}

fn v1(c: &mut Criterion) {
    let mut group = few_samples(c, "handshake_v1");
    let config = Config::seed_compatible();
    bench(&mut group, config.v1_group.wire_name(), &config, &config);
    group.finish();
}

criterion_group!(benches, v2, v1, dh);
criterion_main!(benches);
