//! securex beside its peers, in one criterion run, every figure a
//! throughput in bytes per second (`Throughput::Bytes`) but the
//! handshakes:
//!
//! * `record/<version>/<op>/<suite>/<size>`: the record core alone, at 1,
//!   16 and 64 KiB of inner message. v1: [`V1Protector::seal`] and
//!   [`V1Protector::open`] for the 8 suites of [`CipherSuite::ALL`]; their
//!   output is a `SECURE_X` frame's fields, so the figures include the
//!   base64 of the ciphertext and the hex of the MAC. v2: [`V2Sealer`] and
//!   [`V2Opener`] for the same 8 suites (the 4 AES-128 ones by default, 3DES
//!   and ECB with `legacy_suites`), keyed by the v2 key schedule
//!   ([`EpochSecrets::handshake`]); their output is the binary
//!   [`securex::record::V2Record`], before the wire's JSON and base64.
//!   `open` opens records sealed in batches outside the timing, in order
//!   (an opener takes each sequence number once).
//! * `transfer_64MiB/<impl>`: 64 MiB of application data from a client to
//!   a server in memory, the handshake not timed (a fresh pair for every
//!   iteration):
//!   * `securex_v2_16KiB`, `securex_v2_64KiB`: two [`Connection`]s of
//!     `Config::default()`, DATA messages of 16 or 64 KiB, each sealed
//!     from the source with `send_data_into` into a buffer reused for
//!     every write, then `poll_transmit_into` → `handle_input` both ways;
//!     the server only consumes its events;
//!   * `securex_v1_16KiB`, `securex_v1_64KiB`: the same with
//!     `Config::seed_compatible()`, the client rotating after 1000 frames
//!     (so the 64 KiB run rotates once, at 62.5 MiB, a real rotation with
//!     DH and PBKDF2 on both sides, timed as part of the transfer);
//!   * `rustls_tls13_aes128gcm`: rustls 0.23 with *ring*, TLS 1.3 and
//!     `TLS13_AES_128_GCM_SHA256` only, a self-signed P-256 certificate
//!     (`fixtures/`), in memory with the buffered API: writes of 64 KiB,
//!     `write_tls` → `read_tls` → `process_new_packets` → `reader()`;
//!   * `snow_nn_25519_aesgcm_sha256`: snow with its default (RustCrypto)
//!     resolver, `Noise_NN_25519_AESGCM_SHA256` in transport mode,
//!     messages of 65519 payload bytes (the 65535-byte Noise maximum less
//!     the tag), each encrypted by the initiator and decrypted by the
//!     responder.
//! * `wire_limit/<size>`: the most the JSON wire can carry with the crates
//!   securex uses: AES-128-GCM seal (aes-gcm, as v2's records), base64
//!   encode (base64-turbo STANDARD, as the wire), base64 decode, GCM open,
//!   of the same bytes, into buffers allocated once, at 16 and 64 KiB;
//!   `wire_limit/gcm/<size>` and `wire_limit/base64/<size>` split it.
//! * `handshake/<version>/<group>`: one complete handshake in memory, as
//!   `benches/handshake.rs` does: v2 with the client's `groups` set to
//!   that group alone, v1 (`Config::seed_compatible()`) with its
//!   `v1_group`; both dominated in v1 by PBKDF2 (100,000 iterations, on
//!   each side).
//!
//! Run with `cargo bench --manifest-path benches/peers/Cargo.toml` (about
//! 4 minutes, with the heap bench); pass a filter to run a part, e.g.
//! `-- transfer_64MiB`.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, KeyInit, Nonce};
use base64_turbo::STANDARD as BASE64;
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use securex::dh::NamedGroup;
use securex::record::{V1Protector, V2DirectionKeys, V2Opener, V2Sealer};
use securex::schedule::V1Secrets;
use securex::schedule::v2::EpochSecrets;
use securex::suite::CipherSuite;
use securex::{Config, State};

use common::{TRANSFER, configs, established, pattern, transfer};

/// A fixed stand-in for the DH shared secret (the length of ffdhe2048's p).
const Z: [u8; 256] = [0x5a; 256];
/// A fixed stand-in for v2's transcript hash.
const TH: [u8; 32] = [0xa5; 32];
/// Inner message sizes of the record core, with their labels.
const SIZES: [(usize, &str); 3] = [(1 << 10, "1KiB"), (16 << 10, "16KiB"), (64 << 10, "64KiB")];

/// A suite's name without separators, e.g. `AES-128-GCM-SHA-256`.
fn label(suite: CipherSuite) -> String {
    format!(
        "{}-{}-{}",
        suite.cipher().wire_name(),
        suite.mode().wire_name(),
        suite.hash().wire_name()
    )
}

/// Keys of the client-to-server direction of a v2 epoch 0 in `suite`.
fn v2_keys(suite: CipherSuite) -> V2DirectionKeys {
    let secrets = EpochSecrets::handshake(suite, None, &Z, None, &TH);
    let d = secrets.c2s();
    V2DirectionKeys::from_secrets(suite, d).expect("v2 key lengths")
}

fn record_group<'a>(c: &'a mut Criterion) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group("record");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .nresamples(10_000);
    group
}

fn record(c: &mut Criterion) {
    let mut group = record_group(c);
    for suite in CipherSuite::ALL {
        let p = V1Protector::new(suite, V1Secrets::derive(&Z, suite.cipher()));
        let iv = vec![0x24; p.iv_len()];
        for (len, size) in SIZES {
            let inner = pattern(len);
            group.throughput(Throughput::Bytes(len as u64));
            group.bench_function(
                BenchmarkId::new(format!("v1/seal/{}", label(suite)), size),
                |b| b.iter(|| p.seal(&iv, black_box(&inner)).expect("valid IV")),
            );
            let frame = p.seal(&iv, &inner).expect("valid IV");
            group.bench_function(
                BenchmarkId::new(format!("v1/open/{}", label(suite)), size),
                |b| b.iter(|| p.open(black_box(&frame)).expect("authentic record")),
            );
        }
    }
    for suite in CipherSuite::ALL {
        for (len, size) in SIZES {
            let inner = pattern(len);
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            group.throughput(Throughput::Bytes(len as u64));
            let mut sealer = V2Sealer::new(v2_keys(suite), 0);
            group.bench_function(
                BenchmarkId::new(format!("v2/seal/{}", label(suite)), size),
                |b| b.iter(|| sealer.seal(&mut rng, black_box(&inner)).expect("seq")),
            );
            // Records are opened in order: seal a batch (not timed), open
            // it (timed), again until criterion has its iterations.
            let mut sealer = V2Sealer::new(v2_keys(suite), 0);
            let mut opener = V2Opener::new(v2_keys(suite), 0);
            let batch = ((4 << 20) / len) as u64;
            group.bench_function(
                BenchmarkId::new(format!("v2/open/{}", label(suite)), size),
                |b| {
                    b.iter_custom(|iters| {
                        let mut timed = Duration::ZERO;
                        let mut left = iters;
                        while left > 0 {
                            let n = left.min(batch);
                            let records: Vec<_> = (0..n)
                                .map(|_| sealer.seal(&mut rng, &inner).expect("seq"))
                                .collect();
                            let start = Instant::now();
                            for r in &records {
                                black_box(opener.open(black_box(r)).expect("authentic record"));
                            }
                            timed += start.elapsed();
                            left -= n;
                        }
                        timed
                    })
                },
            );
        }
    }
    group.finish();
}

/// Few samples of a fixed iteration count, for operations of milliseconds
/// and more.
fn few_samples<'a>(
    c: &'a mut Criterion,
    name: &str,
    measurement: Duration,
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measurement);
    group
}

/// Times `run` on a fresh `setup()` per iteration, the setup not timed.
fn timed_fresh<S>(
    iters: u64,
    mut setup: impl FnMut(u64) -> S,
    mut run: impl FnMut(&mut S),
) -> Duration {
    let mut timed = Duration::ZERO;
    for i in 0..iters {
        let mut state = setup(i);
        let start = Instant::now();
        run(&mut state);
        timed += start.elapsed();
        drop(black_box(state));
    }
    timed
}

fn transfer_securex(group: &mut BenchmarkGroup<'_, WallTime>) {
    for (v1, version) in [(false, "v2"), (true, "v1")] {
        let (client, server) = configs(v1);
        for (chunk, size) in [(16 << 10, "16KiB"), (64 << 10, "64KiB")] {
            let source = pattern(chunk);
            group.bench_function(format!("securex_{version}_{size}"), |b| {
                b.iter_custom(|iters| {
                    timed_fresh(
                        iters,
                        |i| established(&client, &server, 2 * i),
                        |(c, s)| {
                            let got = transfer(c, s, &source, chunk, TRANSFER);
                            assert_eq!(got, TRANSFER);
                        },
                    )
                })
            });
        }
    }
}

/// The fixed test certificate (self-signed P-256, `CN=localhost`, made
/// with `openssl req -x509`, see `fixtures/README.md`) and its key.
fn test_cert() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let cert = CertificateDer::from(include_bytes!("../fixtures/cert.der").to_vec());
    let key = PrivatePkcs8KeyDer::from(include_bytes!("../fixtures/key.pk8.der").to_vec());
    (cert, PrivateKeyDer::Pkcs8(key))
}

/// Configs of a TLS 1.3 client and server with *ring* and
/// TLS13_AES_128_GCM_SHA256 only.
fn rustls_configs() -> (Arc<rustls::ClientConfig>, Arc<rustls::ServerConfig>) {
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: vec![rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256],
        ..rustls::crypto::ring::default_provider()
    });
    let (cert, key) = test_cert();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).expect("a valid certificate");
    let client = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3 with ring")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3 with ring")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("the test key matches");
    (Arc::new(client), Arc::new(server))
}

/// Moves every TLS byte from `from` to `to` and everything `to` has to
/// say back, then drains `to`'s plaintext into `sink`; returns the
/// plaintext bytes drained.
fn tls_pump(
    from: &mut rustls::ConnectionCommon<impl rustls::SideData>,
    to: &mut rustls::ConnectionCommon<impl rustls::SideData>,
    wire: &mut Vec<u8>,
    sink: &mut [u8],
) -> usize {
    let mut drained = 0;
    wire.clear();
    while from.wants_write() {
        from.write_tls(wire).expect("write to a Vec");
    }
    let mut rest = &wire[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("read from a slice");
        to.process_new_packets().expect("valid TLS");
        loop {
            match to.reader().read(sink) {
                Ok(0) => break,
                Ok(n) => drained += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
    }
    drained
}

/// An established rustls pair (the handshake in memory).
fn rustls_pair(
    configs: &(Arc<rustls::ClientConfig>, Arc<rustls::ServerConfig>),
) -> (rustls::ClientConnection, rustls::ServerConnection) {
    let name = ServerName::try_from("localhost").expect("a DNS name");
    let mut client = rustls::ClientConnection::new(configs.0.clone(), name).expect("client config");
    let mut server = rustls::ServerConnection::new(configs.1.clone()).expect("server config");
    let (mut wire, mut sink) = (Vec::new(), vec![0u8; 64 << 10]);
    while client.is_handshaking() || server.is_handshaking() {
        tls_pump(&mut client, &mut server, &mut wire, &mut sink);
        tls_pump(&mut server, &mut client, &mut wire, &mut sink);
    }
    // The server's session tickets, if any.
    tls_pump(&mut server, &mut client, &mut wire, &mut sink);
    assert_eq!(
        client.negotiated_cipher_suite().map(|s| s.suite()),
        Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256)
    );
    (client, server)
}

fn transfer_rustls(group: &mut BenchmarkGroup<'_, WallTime>) {
    let configs = rustls_configs();
    let chunk = 64 << 10;
    let source = pattern(chunk);
    group.bench_function("rustls_tls13_aes128gcm", |b| {
        b.iter_custom(|iters| {
            timed_fresh(
                iters,
                |_| {
                    let (mut client, server) = rustls_pair(&configs);
                    client.set_buffer_limit(None);
                    (
                        client,
                        server,
                        Vec::with_capacity(96 << 10),
                        vec![0u8; chunk],
                    )
                },
                |(client, server, wire, sink)| {
                    let mut sent = 0;
                    let mut received = 0;
                    while sent < TRANSFER {
                        let n = chunk.min(TRANSFER - sent);
                        client.writer().write_all(&source[..n]).expect("write");
                        sent += n;
                        received += tls_pump(client, server, wire, sink);
                    }
                    assert_eq!(received, TRANSFER);
                },
            )
        })
    });
}

/// The Noise pattern, and the largest payload of one message.
const NOISE: &str = "Noise_NN_25519_AESGCM_SHA256";
const NOISE_PAYLOAD: usize = 65535 - 16;

/// An initiator and a responder in transport mode (NN: -> e, <- e, ee).
fn snow_pair() -> (snow::TransportState, snow::TransportState) {
    let params: snow::params::NoiseParams = NOISE.parse().expect("a valid pattern");
    let mut initiator = snow::Builder::new(params.clone())
        .build_initiator()
        .expect("initiator");
    let mut responder = snow::Builder::new(params)
        .build_responder()
        .expect("responder");
    let (mut msg, mut payload) = (vec![0u8; 65535], vec![0u8; 65535]);
    let n = initiator.write_message(&[], &mut msg).expect("-> e");
    responder
        .read_message(&msg[..n], &mut payload)
        .expect("-> e");
    let n = responder.write_message(&[], &mut msg).expect("<- e, ee");
    initiator
        .read_message(&msg[..n], &mut payload)
        .expect("<- e, ee");
    (
        initiator.into_transport_mode().expect("handshake done"),
        responder.into_transport_mode().expect("handshake done"),
    )
}

fn transfer_snow(group: &mut BenchmarkGroup<'_, WallTime>) {
    let source = pattern(NOISE_PAYLOAD);
    group.bench_function("snow_nn_25519_aesgcm_sha256", |b| {
        b.iter_custom(|iters| {
            timed_fresh(
                iters,
                |_| {
                    let (i, r) = snow_pair();
                    (i, r, vec![0u8; 65535], vec![0u8; 65535])
                },
                |(initiator, responder, msg, out)| {
                    let mut sent = 0;
                    let mut received = 0;
                    while sent < TRANSFER {
                        let n = NOISE_PAYLOAD.min(TRANSFER - sent);
                        let len = initiator.write_message(&source[..n], msg).expect("encrypt");
                        received += responder.read_message(&msg[..len], out).expect("decrypt");
                        sent += n;
                    }
                    assert_eq!(received, TRANSFER);
                },
            )
        })
    });
}

fn transfers(c: &mut Criterion) {
    let mut group = few_samples(c, "transfer_64MiB", Duration::from_secs(5));
    group.throughput(Throughput::Bytes(TRANSFER as u64));
    transfer_securex(&mut group);
    transfer_rustls(&mut group);
    transfer_snow(&mut group);
    group.finish();
}

/// Buffers of one wire-limit round: the plaintext, GCM's in-place buffer,
/// the base64 text and its decoding.
struct Wire {
    gcm: Aes128Gcm,
    plaintext: Vec<u8>,
    buf: Vec<u8>,
    text: Vec<u8>,
    decoded: Vec<u8>,
}

impl Wire {
    fn new(len: usize) -> Wire {
        Wire {
            gcm: Aes128Gcm::new_from_slice(&[7; 16]).expect("16-byte key"),
            plaintext: pattern(len),
            buf: vec![0; len + 16],
            text: vec![0; (len + 16).div_ceil(3) * 4],
            decoded: vec![0; len + 18],
        }
    }

    /// GCM seal of the plaintext into `buf` (C ‖ tag).
    fn seal(&mut self) {
        let len = self.plaintext.len();
        let (c, tag) = self.buf.split_at_mut(len);
        c.copy_from_slice(&self.plaintext);
        let t = self
            .gcm
            .encrypt_inout_detached(&Nonce::default(), b"header", c.into())
            .expect("within GCM's limit");
        tag.copy_from_slice(&t);
    }

    /// GCM open of `buf` in place.
    fn open(&mut self) {
        let len = self.plaintext.len();
        let (c, tag) = self.buf.split_at_mut(len);
        let tag = aes_gcm::Tag::try_from(&*tag).expect("16 bytes");
        self.gcm
            .decrypt_inout_detached(&Nonce::default(), b"header", c.into(), &tag)
            .expect("authentic");
    }

    /// base64 of `buf` into `text`, and back into `decoded`.
    fn base64(&mut self) {
        let n = BASE64
            .encode_slice(&self.buf, &mut self.text)
            .expect("room for the text");
        let m = BASE64
            .decode_slice(&self.text[..n], &mut self.decoded)
            .expect("valid base64");
        assert_eq!(m, self.buf.len());
    }
}

fn wire_limit(c: &mut Criterion) {
    let mut group = c.benchmark_group("wire_limit");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (len, size) in [(16 << 10, "16KiB"), (64 << 10, "64KiB")] {
        let mut wire = Wire::new(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(size, |b| {
            b.iter(|| {
                wire.seal();
                wire.base64();
                // The receiver opens what it decoded.
                std::mem::swap(&mut wire.buf, &mut wire.decoded);
                wire.buf.truncate(len + 16);
                wire.open();
                wire.decoded.resize(len + 18, 0);
                black_box(&wire.buf);
            })
        });
        group.bench_function(BenchmarkId::new("gcm", size), |b| {
            b.iter(|| {
                wire.seal();
                wire.open();
                black_box(&wire.buf);
            })
        });
        wire.seal();
        group.bench_function(BenchmarkId::new("base64", size), |b| {
            b.iter(|| {
                wire.base64();
                black_box(&wire.decoded);
            })
        });
    }
    group.finish();
}

/// One complete handshake of a fresh pair, as `benches/handshake.rs` does.
fn handshakes(c: &mut Criterion) {
    let mut group = few_samples(c, "handshake", Duration::from_secs(3));
    for named in NamedGroup::ALL {
        let mut client = Config::default();
        client.groups = vec![named];
        let server = Config::default();
        let mut seed = 0u64;
        group.bench_function(format!("v2/{}", named.wire_name()), |b| {
            b.iter(|| {
                seed = seed.wrapping_add(2);
                let (c, s) = established(black_box(&client), black_box(&server), seed);
                assert_eq!(
                    (c.state(), s.state()),
                    (State::Established, State::Established)
                );
                (c, s)
            })
        });
    }
    for named in NamedGroup::ALL {
        let mut client = Config::seed_compatible();
        client.v1_group = named;
        let server = Config::seed_compatible();
        let mut seed = 0u64;
        group.bench_function(format!("v1/{}", named.wire_name()), |b| {
            b.iter(|| {
                seed = seed.wrapping_add(2);
                established(black_box(&client), black_box(&server), seed)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, record, transfers, wire_limit, handshakes);
criterion_main!(benches);
