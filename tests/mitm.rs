//! An active man in the middle. Two kinds of attacker: one built from two
//! `Connection`s (a server facing the real client and a client facing the
//! real server, relaying every application message between them and
//! reading it in plaintext on the way), and one built by hand from the
//! crate's lower-level API (`common::attacker`), which answers the client
//! with its own `EXCHANGE` and its own FINISHED computed the best way it
//! can without the secret it lacks, and sends the server its own FINISHED
//! whether or not it could verify the server's. These tests state what
//! v2's authentication does and does not promise:
//!
//! * anonymous v2 (no PSK) resists passive attackers and tampering with the
//!   hellos or records, but NOT an active man in the middle who replaces
//!   both key shares with its own;
//! * with a PSK on both real sides, an attacker who does not know the key
//!   completes no handshake with either side and sees nothing the client
//!   sent, not even in ciphertext;
//! * a PSK protects only against those who do not know it: an attacker who
//!   holds it is a full man in the middle again;
//! * with a pinned server key, the attacker cannot answer the client for
//!   the key it pins (it does not hold its private half), whatever it puts
//!   in place of `Z_es`.
//!
//! Before the peer's FINISHED verifies, neither real end sends anything
//! protected but its own FINISHED, and a failure then ends the connection
//! without a sealed alert: the tests count the frames each end wrote.
//! Each test that shows an attack fail also runs its control: the same
//! attacker given the missing secret succeeds, so the failure is the real
//! end's defence at work, not a flaw of the attacker.

use std::time::Instant;

mod common;

use common::attacker::{self, Attacker, Relay, ZEs};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::config::Psk;
use securex::error::{ErrorKind, ProtocolError};
use securex::suite::{CipherSuite, Offer};
use securex::{Config, Connection, Error, Event, Message, State};

/// The client's messages in every test: a whole (tiny) file transfer.
fn file_transfer() -> Vec<Message> {
    vec![
        Message::Open {
            file_name: "secret-plans.txt".into(),
        },
        Message::Data(b"the eagle lands at midnight".to_vec()),
        Message::Close {
            sha256: Some([0x42; 32]),
        },
    ]
}

fn psk(id: &str, key: u8) -> Option<Psk> {
    Psk::new(id, &[key; 32])
}

fn with_psk(psk: Option<Psk>) -> Config {
    let mut config = Config::default();
    config.psk = psk;
    config
}

/// One endpoint and everything it reported.
struct Side {
    conn: Connection,
    events: Vec<Event>,
    /// The errors `handle_input` returned, in order.
    returned: Vec<Error>,
    /// Frames this side wrote.
    frames_sent: usize,
}

impl Side {
    fn new(conn: Connection) -> Side {
        Side {
            conn,
            events: Vec::new(),
            returned: Vec::new(),
            frames_sent: 0,
        }
    }

    /// Moves new events into `events`; returns the application messages
    /// among them.
    fn collect(&mut self) -> Vec<Message> {
        let mut messages = Vec::new();
        while let Some(event) = self.conn.poll_event() {
            if let Event::Message(m) = &event {
                messages.push(m.clone());
            }
            self.events.push(event);
        }
        messages
    }

    fn messages(&self) -> Vec<Message> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    /// The error of the `Closed` event, if the side closed with one.
    fn error(&self) -> Option<Error> {
        self.events.iter().find_map(|e| match e {
            Event::Closed { error } => error.clone(),
            _ => None,
        })
    }

    fn handshake_completed(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::HandshakeComplete { .. }))
    }
}

/// Moves everything `from` wrote into `to`; returns whether anything moved.
fn shuttle(now: Instant, from: &mut Side, to: &mut Side) -> bool {
    let mut moved = false;
    while let Some(bytes) = from.conn.poll_transmit() {
        from.frames_sent += bytes.windows(2).filter(|w| w == b"\r\n").count();
        if let Err(e) = to.conn.handle_input(now, &bytes) {
            to.returned.push(e);
        }
        moved = true;
    }
    moved
}

/// client <-> `attacker_server` ... `attacker_client` <-> server.
struct Mitm {
    now: Instant,
    client: Side,
    attacker_server: Side,
    attacker_client: Side,
    server: Side,
    /// What the attacker read from the client, in plaintext, in order.
    seen_from_client: Vec<Message>,
    /// What the attacker read from the server, in plaintext, in order.
    seen_from_server: Vec<Message>,
}

impl Mitm {
    /// The real ends with `client` and `server`, the attacker's halves
    /// with `attacker` each; deterministic RNGs from `seed`.
    fn new(client: Config, server: Config, attacker: Config, seed: u64) -> Mitm {
        let now = Instant::now();
        let rng = |k: u64| ChaCha20Rng::seed_from_u64(seed * 4 + k);
        Mitm {
            now,
            client: Side::new(Connection::client(client, rng(0), now).expect("a valid config")),
            attacker_server: Side::new(
                Connection::server(attacker.clone(), rng(1), now).expect("a valid config"),
            ),
            attacker_client: Side::new(
                Connection::client(attacker, rng(2), now).expect("a valid config"),
            ),
            server: Side::new(Connection::server(server, rng(3), now).expect("a valid config")),
            seen_from_client: Vec::new(),
            seen_from_server: Vec::new(),
        }
    }

    /// Moves bytes both ways on both legs, and relays the application
    /// messages the attacker's halves received; returns whether anything
    /// moved.
    fn step(&mut self) -> bool {
        let now = self.now;
        let mut moved = shuttle(now, &mut self.client, &mut self.attacker_server);
        moved |= shuttle(now, &mut self.attacker_server, &mut self.client);
        moved |= shuttle(now, &mut self.attacker_client, &mut self.server);
        moved |= shuttle(now, &mut self.server, &mut self.attacker_client);
        let before = self.client.events.len() + self.server.events.len();
        self.client.collect();
        self.server.collect();
        moved |= self.client.events.len() + self.server.events.len() != before;
        for message in self.attacker_server.collect() {
            // Fails (Misuse::Closed) once the other leg is gone: nothing to
            // relay to then.
            let _ = self.attacker_client.conn.send(now, message.clone());
            self.seen_from_client.push(message);
            moved = true;
        }
        for message in self.attacker_client.collect() {
            let _ = self.attacker_server.conn.send(now, message.clone());
            self.seen_from_server.push(message);
            moved = true;
        }
        moved
    }

    /// Steps until nothing moves.
    fn drive(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the man in the middle did not settle");
    }

    /// The real client sends a whole file transfer (queued until its keys
    /// allow), then everything runs until nothing moves.
    fn transfer(&mut self) {
        for message in file_transfer() {
            self.client.conn.send(self.now, message).unwrap();
        }
        self.drive();
    }
}

/// Anonymous v2 (no PSK anywhere) resists passive attackers and tampering,
/// but NOT an active man in the middle: an attacker who answers each side
/// with its own key share completes both handshakes, reads every message
/// in plaintext and relays it, and neither real side can tell.
#[test]
fn anonymous_v2_does_not_stop_an_active_man_in_the_middle() {
    let mut mitm = Mitm::new(Config::default(), Config::default(), Config::default(), 1);
    mitm.transfer();
    mitm.server.conn.send(mitm.now, Message::Ok).unwrap();
    mitm.drive();

    for (name, side) in [
        ("client", &mitm.client),
        ("attacker server", &mitm.attacker_server),
        ("attacker client", &mitm.attacker_client),
        ("server", &mitm.server),
    ] {
        assert_eq!(side.conn.state(), State::Established, "{name}");
        assert!(side.handshake_completed(), "{name}");
        assert!(side.returned.is_empty(), "{name}: {:?}", side.returned);
    }
    // The server got exactly the client's messages, the client the
    // server's answer ...
    assert_eq!(mitm.server.messages(), file_transfer());
    assert_eq!(mitm.client.messages(), [Message::Ok]);
    // ... and the attacker read all of them in plaintext on the way.
    assert_eq!(mitm.seen_from_client, file_transfer());
    assert_eq!(mitm.seen_from_server, [Message::Ok]);

    // The same with the hand-built attacker of the tests below, in every
    // v2 suite: its own key shares, its own FINISHED, and nothing else.
    for suite in v2_suites() {
        let mut client = Config::default();
        client.offer = offer_of(suite);
        let relay = relay_transfer(client, Config::default(), Attacker::anonymous(), vec![], 5);
        assert_eq!(relay.client.suite(), Some(suite));
        assert_relayed(&relay, &suite.to_string());
    }
}

/// The suites a default client offers.
fn v2_suites() -> Vec<CipherSuite> {
    let offer = Config::default().offer;
    CipherSuite::ALL
        .into_iter()
        .filter(|&s| offer.contains(s))
        .collect()
}

/// An offer of exactly `suite`.
fn offer_of(suite: CipherSuite) -> Offer {
    Offer {
        ciphers: vec![suite.cipher()],
        modes: vec![suite.mode()],
        hashes: vec![suite.hash()],
    }
}

/// Both real ends share a PSK; the attacker has no PSK configured. The real
/// server refuses the attacker's hello (no `psk_id`), the attacker's server
/// half refuses the real client's (a `psk_id` it does not know) and tells
/// it so: no handshake completes, nothing reaches anyone.
#[test]
fn psk_an_attacker_without_a_psk_is_refused_by_both_ends() {
    let mut mitm = Mitm::new(
        with_psk(psk("alice", 1)),
        with_psk(psk("alice", 1)),
        Config::default(),
        2,
    );
    mitm.transfer();

    let mismatch = Some(Error::Protocol(ProtocolError::PskMismatch));
    assert_eq!(mitm.server.error(), mismatch);
    assert_eq!(mitm.server.conn.state(), State::Closed);
    assert_eq!(mitm.attacker_server.error(), mismatch);
    // The real client learns it from the attacker's ERROR frame.
    assert_eq!(mitm.client.conn.state(), State::Closed);
    let client_error = mitm
        .client
        .error()
        .expect("the client closed with an error");
    assert_eq!(client_error.kind(), ErrorKind::Peer, "{client_error:?}");
    assert_eq!(mitm.client.conn.close_reason(), Some(&client_error));

    for side in [&mitm.client, &mitm.server] {
        assert!(!side.handshake_completed());
        assert!(side.messages().is_empty());
    }
    assert!(mitm.seen_from_client.is_empty());
    assert!(mitm.seen_from_server.is_empty());
    // The client wrote its ALGORITHMS and nothing else.
    assert_eq!(mitm.client.frames_sent, 1);
}

/// Both real ends share a PSK; the hand-built attacker knows its id (it
/// travels in clear) but not the key. It answers the client with its own
/// EXCHANGE and a FINISHED derived with a guessed key, or with the PSK
/// left out, and sends the server its own FINISHED, derived the same way,
/// and a message of its own, although it could not verify the server's
/// FINISHED. The client rejects the attacker's FINISHED and sends nothing
/// more: none of its three queued messages, not even in ciphertext. The
/// server rejects the attacker's FINISHED, acts on nothing after it, and
/// sends nothing more. The control: the same attacker with the real key
/// is a man in the middle.
#[test]
fn psk_an_attacker_with_the_id_but_a_wrong_key_fails_both_handshakes() {
    for (what, guess) in [("a wrong key", Some(vec![2u8; 32])), ("no key", None)] {
        let relay = relay_transfer(
            with_psk(psk("alice", 1)),
            with_psk(psk("alice", 1)),
            Attacker {
                psk: guess,
                ..Attacker::anonymous()
            },
            vec![Message::Open {
                file_name: "planted.txt".into(),
            }],
            3,
        );
        assert_client_refused_the_attackers_finished(&relay, what);
        // The server side: the attacker's FINISHED does not verify, and
        // the server acts on nothing after it.
        assert_eq!(
            attacker::closed_error(&relay.server_events),
            Some(Error::Protocol(ProtocolError::BadFinished)),
            "{what}"
        );
        assert_eq!(relay.server.state(), State::Closed, "{what}");
        assert!(
            !attacker::handshake_completed(&relay.server_events),
            "{what}"
        );
        assert!(
            attacker::messages(&relay.server_events).is_empty(),
            "{what}"
        );
        assert!(
            relay
                .attacker_failures
                .iter()
                .any(|f| f == "the server's FINISHED did not verify"),
            "{what}: {:?}",
            relay.attacker_failures
        );
        // The server wrote its EXCHANGE and its FINISHED, and nothing
        // after the attacker's FINISHED failed.
        assert_eq!(relay.server_wrote.len(), 2, "{what}");
        assert!(relay.seen_from_server.is_empty(), "{what}");
    }

    // The control: with the real key the same attacker is in the middle.
    let control = relay_transfer(
        with_psk(psk("alice", 1)),
        with_psk(psk("alice", 1)),
        Attacker {
            psk: Some(vec![1u8; 32]),
            ..Attacker::anonymous()
        },
        Vec::new(),
        3,
    );
    assert_relayed(&control, "the control, with the real key");
}

/// The attacker built from `Connection`s, with the right key, is in the
/// middle too (as the hand-built one is in the control above). A PSK
/// authenticates against those who do not know it, no more: whoever holds
/// it can sit in the middle.
#[test]
fn psk_an_attacker_who_knows_the_key_is_a_man_in_the_middle() {
    let mut mitm = Mitm::new(
        with_psk(psk("alice", 1)),
        with_psk(psk("alice", 1)),
        with_psk(psk("alice", 1)),
        4,
    );
    mitm.transfer();

    assert_eq!(mitm.client.conn.state(), State::Established);
    assert_eq!(mitm.server.conn.state(), State::Established);
    assert_eq!(mitm.server.messages(), file_transfer());
    assert_eq!(mitm.seen_from_client, file_transfer());
}

/// A long-term ffdhe2048 key pair from a fixed seed.
fn static_key(seed: u8) -> securex::dh::KeyPair {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    securex::dh::KeyPair::generate(
        &securex::dh::Group::named(securex::dh::NamedGroup::Ffdhe2048),
        &mut rng,
    )
}

/// The client pins the real server's key. The hand-built attacker answers
/// the client with its own EXCHANGE and a FINISHED derived the best ways it
/// can without the pinned key's private half: `Z_es` left out, from a static
/// key of its own, or `Z_ee` once more. Its own leg to the server is sound
/// (it pins the server's public key itself, and the server does not
/// authenticate clients). The client rejects every such FINISHED and sends
/// nothing after its hello; the attacker reads nothing. The control: the
/// same attacker given the pinned key's private half is a man in the
/// middle.
#[test]
fn a_pinned_server_key_stops_the_man_in_the_middle() {
    use securex::config::StaticKey;
    let real = static_key(1);
    let run = |z_es| {
        let mut client = Config::default();
        client.server_key = Some(real.public_key().clone());
        let mut server = Config::default();
        server.static_key = Some(StaticKey::new(static_key(1)));
        let attacker = Attacker {
            z_es,
            pin: Some(real.public_key().clone()),
            ..Attacker::anonymous()
        };
        relay_transfer(client, server, attacker, Vec::new(), 9)
    };
    for (what, z_es) in [
        ("Z_es left out", ZEs::LeftOut),
        ("Z_es from its own key", ZEs::From(static_key(2))),
        ("Z_ee as Z_es", ZEs::ZeeAgain),
    ] {
        let relay = run(z_es);
        assert_client_refused_the_attackers_finished(&relay, what);
        // The attacker's leg to the server completed: the server is
        // authenticated, the client is not. It got nothing to relay.
        assert!(
            attacker::handshake_completed(&relay.server_events),
            "{what}"
        );
        assert!(
            attacker::messages(&relay.server_events).is_empty(),
            "{what}"
        );
    }

    // The control: given the pinned key's private half, the same attacker
    // is in the middle.
    let control = run(ZEs::From(static_key(1)));
    assert_relayed(&control, "the control, holding the pinned key");
}

/// Runs a whole file transfer from the real client through the hand-built
/// attacker, which sends `inject` to the server after its FINISHED; the
/// server answers `OK` if it got the client's `CLOSE`.
fn relay_transfer(
    client: Config,
    server: Config,
    attacker: Attacker,
    inject: Vec<Message>,
    seed: u64,
) -> Relay {
    let mut relay = Relay::new(client, server, attacker, seed);
    relay.inject_to_server = inject;
    for message in file_transfer() {
        relay.client.send(relay.now, message).unwrap();
    }
    relay.drive();
    if attacker::messages(&relay.server_events).len() == file_transfer().len() {
        relay.server.send(relay.now, Message::Ok).unwrap();
        relay.drive();
    }
    relay
}

/// The attacker completed both handshakes, read and relayed everything.
#[track_caller]
fn assert_relayed(relay: &Relay, what: &str) {
    assert_eq!(relay.client.state(), State::Established, "{what}");
    assert_eq!(relay.server.state(), State::Established, "{what}");
    assert!(relay.client_finished_verified(), "{what}");
    let quiet = [&relay.client_returned, &relay.server_returned];
    assert!(quiet.iter().all(|r| r.is_empty()), "{what}: {quiet:?}");
    assert!(
        relay.attacker_failures.is_empty(),
        "{what}: {:?}",
        relay.attacker_failures
    );
    let server_got = attacker::messages(&relay.server_events);
    assert_eq!(server_got, file_transfer(), "{what}");
    let client_got = attacker::messages(&relay.client_events);
    assert_eq!(client_got, [Message::Ok], "{what}");
    assert_eq!(relay.seen_from_client, file_transfer(), "{what}");
    assert_eq!(relay.seen_from_server, [Message::Ok], "{what}");
}

/// The real client rejected the attacker's FINISHED, and wrote its hello
/// and nothing else: no FINISHED, none of its queued messages, no alert
/// under keys nobody authenticated.
#[track_caller]
fn assert_client_refused_the_attackers_finished(relay: &Relay, what: &str) {
    assert_eq!(
        attacker::closed_error(&relay.client_events),
        Some(Error::Protocol(ProtocolError::BadFinished)),
        "{what}"
    );
    assert_eq!(relay.client.state(), State::Closed, "{what}");
    assert!(
        !attacker::handshake_completed(&relay.client_events),
        "{what}"
    );
    assert!(
        attacker::messages(&relay.client_events).is_empty(),
        "{what}"
    );
    assert!(!relay.client_finished_verified(), "{what}");
    assert!(relay.seen_from_client.is_empty(), "{what}");
    assert_eq!(
        relay.client_wrote.len(),
        1,
        "{what}: the client wrote more than its hello"
    );
}
