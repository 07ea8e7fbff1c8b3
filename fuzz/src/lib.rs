//! What the fuzz targets and the corpus generator (`examples/make_corpus.rs`)
//! share: the seeded connections whose sessions the seed corpus records.
//!
//! Both sides draw from ChaCha20 seeded with fixed seeds, so a session
//! replayed to a fresh `server()` derives the same keys, and the recorded
//! `SECURE_X` frames authenticate.

use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::suite::{CipherSuite, Offer};
use securex::{Config, Connection, Version};

/// The client's RNG seed.
pub const CLIENT_SEED: [u8; 32] = [0xc1; 32];
/// The server's RNG seed.
pub const SERVER_SEED: [u8; 32] = [0x5e; 32];

/// A seed-compatible server with the seeded RNG.
pub fn server(now: Instant) -> Connection {
    let rng = ChaCha20Rng::from_seed(SERVER_SEED);
    Connection::server(Config::seed_compatible(), rng, now)
}

/// The seed-compatible config speaking only `version` and offering only
/// `suite` (every suite if `None`).
pub fn client_config(version: Version, suite: Option<CipherSuite>) -> Config {
    let mut config = Config::seed_compatible();
    config.versions = vec![version];
    if let Some(suite) = suite {
        config.offer = Offer {
            ciphers: vec![suite.cipher()],
            modes: vec![suite.mode()],
            hashes: vec![suite.hash()],
        };
    }
    config
}

/// A client of `config` with the seeded RNG.
pub fn client_with(config: Config, now: Instant) -> Connection {
    Connection::client(config, ChaCha20Rng::from_seed(CLIENT_SEED), now)
}

/// A client of `client_config(version, suite)` with the seeded RNG.
pub fn client(version: Version, suite: Option<CipherSuite>, now: Instant) -> Connection {
    client_with(client_config(version, suite), now)
}

/// Moves bytes both ways until neither side has any; returns what the
/// client and the server wrote. Panics if either side refuses input.
pub fn shuttle(
    client: &mut Connection,
    server: &mut Connection,
    now: Instant,
) -> (Vec<u8>, Vec<u8>) {
    let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
    loop {
        let mut moved = false;
        if let Some(bytes) = client.poll_transmit() {
            server
                .handle_input(now, &bytes)
                .expect("server accepts the client");
            from_client.extend_from_slice(&bytes);
            moved = true;
        }
        if let Some(bytes) = server.poll_transmit() {
            client
                .handle_input(now, &bytes)
                .expect("client accepts the server");
            from_server.extend_from_slice(&bytes);
            moved = true;
        }
        if !moved {
            return (from_client, from_server);
        }
    }
}
