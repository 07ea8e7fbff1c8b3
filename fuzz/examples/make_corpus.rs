//! Writes the seed corpus files that come from real sessions between a
//! client and a server in memory (the seeded connections of
//! `securex_fuzz`). The files from `../shared/vectors/seed-v1.json` are
//! written by `seeds_from_vectors.py`.
//!
//! ```sh
//! cargo run --release --manifest-path fuzz/Cargo.toml --example make_corpus
//! ```
//!
//! Rerun it when the library changes how it draws randomness or what it
//! writes: the `server_input` seeds authenticate only if a fresh seeded
//! server derives the same keys.

use std::path::{Path, PathBuf};
use std::time::Instant;

use securex::dh::{Group, KeyPair, NamedGroup};
use securex::suite::CipherSuite;
use securex::{Config, Connection, Event, Message, State, Version};
use securex_fuzz::{CLIENT_SEED, client_config, client_with, server, shuttle};

/// A session's bytes: the client's handshake, then the rest, per direction.
struct Session {
    hello: Vec<u8>,
    client: Vec<u8>,
    server: Vec<u8>,
}

/// Runs a handshake with a client of `config`, then OPEN, `chunks` DATA
/// chunks of `chunk_len` bytes (the last one shorter) and CLOSE, with the
/// server's OK after OPEN, shuttling after every message.
fn session(config: Config, chunks: usize, chunk_len: usize) -> Session {
    let now = Instant::now();
    let version = config.versions[0];
    let mut client = client_with(config, now);
    let mut server = server(now);
    let (hello, exchange) = shuttle(&mut client, &mut server, now);
    assert_eq!(client.state(), State::Established);
    assert_eq!(server.state(), State::Established);
    let mut rest = Session {
        hello,
        client: Vec::new(),
        server: exchange,
    };
    let step = |client: &mut Connection, server: &mut Connection, rest: &mut Session| {
        let (c, s) = shuttle(client, server, now);
        rest.client.extend(c);
        rest.server.extend(s);
    };
    let open = Message::Open {
        file_name: "report.pdf".into(),
    };
    client.send(open).unwrap();
    step(&mut client, &mut server, &mut rest);
    server.send(Message::Ok).unwrap();
    step(&mut client, &mut server, &mut rest);
    for i in 0..chunks {
        // The last chunk is short, as at the end of a file.
        let len = if i + 1 == chunks {
            chunk_len / 3
        } else {
            chunk_len
        };
        let chunk = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
        client.send(Message::Data(chunk)).unwrap();
        step(&mut client, &mut server, &mut rest);
    }
    // v2 carries the file's SHA-256 (the server's Connection does not
    // check it; any value will do here).
    let sha256 = (version == Version::V2).then_some([0x5a; 32]);
    client.send(Message::Close { sha256 }).unwrap();
    step(&mut client, &mut server, &mut rest);
    // The server saw every message, in this version.
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    let messages = events.iter().filter(|e| matches!(e, Event::Message(_)));
    assert_eq!(messages.count(), chunks + 2);
    assert!(matches!(events[0], Event::HandshakeComplete { version: v, .. } if v == version));
    assert_eq!(server.state(), State::Established);
    rest
}

fn write(dir: &Path, name: &str, header: &[u8], body: &[u8]) {
    let path = dir.join(format!("seed-{name}"));
    std::fs::write(&path, [header, body].concat()).unwrap();
    println!("{} ({} bytes)", path.display(), header.len() + body.len());
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let (frames, server_input, dh) = (
        root.join("frames"),
        root.join("server_input"),
        root.join("dh_decoders"),
    );
    for dir in [&frames, &server_input, &dh] {
        std::fs::create_dir_all(dir).unwrap();
    }

    // Whole sessions offering every suite: v1 (AES-128-CBC-SHA-256 is
    // chosen) and v2 (AES-128-GCM-SHA-256).
    let v1 = session(client_config(Version::V1, None), 2, 960);
    let v1_to_server = [v1.hello.as_slice(), &v1.client].concat();
    let v2 = session(client_config(Version::V2, None), 2, 960);
    let v2_to_server = [v2.hello.as_slice(), &v2.client].concat();
    // frames: [limit, cut_hi, cut_lo] + stream.
    write(&frames, "session-client", &[0, 0x01, 0x00], &v1_to_server);
    write(&frames, "session-server", &[0, 0x00, 0x10], &v1.server);
    let v2_both = [v2_to_server.as_slice(), &v2.server].concat();
    write(&frames, "session-v2", &[0, 0x02, 0x00], &v2_both);
    // server_input, fresh server: [mode, chunking, step] + stream.
    write(&server_input, "session", &[0, 0, 0], &v1_to_server);
    write(&server_input, "session-v2", &[0, 0, 0], &v2_to_server);
    // The client's ALGORITHMS alone, with a clock that expires timers.
    write(&server_input, "hello-slow-clock", &[0, 40, 70], &v1.hello);

    // server_input, established first (mode 0b11xx_vsss): the session after
    // the handshake in a few versions and suites, and sessions long enough
    // for a rotation (v1: the client's new ALGORITHMS after 20 frames; v2:
    // REKEY / REKEY_ACK, here after 2 records).
    for (version, index, chunks) in [
        (Version::V1, 0, 2),
        (Version::V1, 7, 2),
        (Version::V1, 2, 20),
        (Version::V2, 4, 2),
        (Version::V2, 0, 5),
    ] {
        let suite = CipherSuite::ALL[index];
        let mut config = client_config(version, Some(suite));
        let plain_hello = session(config.clone(), 0, 0).hello;
        let rotation = chunks > 2;
        if rotation {
            config.rekey_after_records = Some(2);
        }
        let s = session(config, chunks, 48);
        // The target replays the hello of the plain config.
        assert_eq!(s.hello, plain_hello);
        let v = if version == Version::V2 { 8 } else { 0 };
        let mode = 0xc0 | v | index as u8;
        let name = format!("established-{version:?}-{suite}").replace(';', "-");
        let name = if rotation { name + "-rotation" } else { name };
        write(
            &server_input,
            &name.to_lowercase(),
            &[mode, 0, 0],
            &s.client,
        );
    }

    // dh_decoders: the client's ffdhe2048 key as PEM and as bytes, and a
    // larger named group.
    let group = Group::named(NamedGroup::Ffdhe2048);
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::from_seed(CLIENT_SEED);
    let key = KeyPair::generate(&group, &mut rng);
    let pem = key.public_key().to_pem();
    write(&dh, "session-ffdhe2048-public-pem", &[], pem.as_bytes());
    let bytes = key.public_key().to_bytes();
    write(&dh, "session-ffdhe2048-public-bytes", &[], &bytes);
    let pem = Group::named(NamedGroup::Ffdhe3072).to_pem();
    write(&dh, "session-ffdhe3072-params-pem", &[], pem.as_bytes());
}
