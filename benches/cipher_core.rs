//! Benchmarks of the cipher core.
//!
//! * `v1_seal` / `v1_open`: [`V1Protector::seal`] and [`V1Protector::open`]
//!   for every suite at 1, 16 and 64 KiB, reported as throughput of the
//!   inner message (the figures include base64 and hex encoding, since
//!   records are `SECURE_X` frames);
//! * `v1_derive`: one v1 key schedule (HKDF + PBKDF2, 100000 iterations);
//! * `dh_keygen` / `dh_agree`: one key pair and one shared secret in each
//!   RFC 7919 group.
//!
//! Run with `cargo bench --bench cipher_core` (about 2 minutes); pass a
//! filter to run a part, e.g. `cargo bench --bench cipher_core -- v1_open`.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::dh::{Group, KeyPair, NamedGroup};
use securex::record::V1Protector;
use securex::schedule::V1Secrets;
use securex::suite::{Cipher, CipherSuite};

/// A fixed stand-in for the DH shared secret (the length of ffdhe2048's p).
const Z: [u8; 256] = [0x5a; 256];
/// Inner message sizes, with their labels.
const SIZES: [(usize, &str); 3] = [(1 << 10, "1KiB"), (16 << 10, "16KiB"), (64 << 10, "64KiB")];

fn records(c: &mut Criterion) {
    let protectors: Vec<V1Protector> = CipherSuite::ALL
        .iter()
        .map(|&suite| V1Protector::new(suite, V1Secrets::derive(&Z, suite.cipher())))
        .collect();
    for op in ["v1_seal", "v1_open"] {
        let mut group = c.benchmark_group(op);
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .nresamples(10_000);
        for p in &protectors {
            let iv = vec![0x24; p.iv_len()];
            for (len, label) in SIZES {
                let inner: Vec<u8> = (0..=u8::MAX).cycle().take(len).collect();
                let id = BenchmarkId::new(p.suite().to_string(), label);
                group.throughput(Throughput::Bytes(len as u64));
                if op == "v1_seal" {
                    group.bench_function(id, |b| {
                        b.iter(|| p.seal(&iv, black_box(&inner)).expect("valid IV"));
                    });
                } else {
                    let frame = p.seal(&iv, &inner).expect("valid IV");
                    group.bench_function(id, |b| {
                        b.iter(|| p.open(black_box(&frame)).expect("authentic record"));
                    });
                }
            }
        }
        group.finish();
    }
}

/// Few samples of a fixed iteration count, for operations of milliseconds.
fn few_samples<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    group
}

fn key_schedule(c: &mut Criterion) {
    let mut group = few_samples(c, "v1_derive");
    group.bench_function("AES-128", |b| {
        b.iter(|| V1Secrets::derive(black_box(&Z), Cipher::Aes128));
    });
    group.finish();
}

fn diffie_hellman(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::from_seed([7; 32]);
    let groups = NamedGroup::ALL.map(|named| (named.wire_name(), Group::named(named)));

    let mut keygen = few_samples(c, "dh_keygen");
    for (name, group) in &groups {
        keygen.bench_function(*name, |b| b.iter(|| KeyPair::generate(group, &mut rng)));
    }
    keygen.finish();

    let mut agree = few_samples(c, "dh_agree");
    for (name, group) in &groups {
        let ours = KeyPair::generate(group, &mut rng);
        let theirs = KeyPair::generate(group, &mut rng);
        agree.bench_function(*name, |b| {
            b.iter(|| {
                ours.agree(black_box(theirs.public_key()))
                    .expect("valid peer")
            });
        });
    }
    agree.finish();
}

criterion_group!(benches, records, key_schedule, diffie_hellman);
criterion_main!(benches);
