//! A v2 man in the middle built by hand from the crate's public lower-level
//! API (`securex::wire`, `securex::dh`, `securex::schedule::v2`,
//! `securex::record`), not from `Connection`s: it answers a real client
//! with its own `EXCHANGE` and its own FINISHED, opens its own session to
//! the real server, and relays (reading in plaintext) what passes.
//!
//! Where authentication stops it, it still goes as far as it can: it
//! derives the keys of each leg the best way it can without the secret it
//! lacks (a guessed PSK or none; `Z_es` left out, taken from a key of its
//! own, or `Z_ee` again), sends its FINISHED computed from them, and sends
//! its FINISHED to the server even when it could not verify the server's. So a test that
//! watches it fail watches the real end's own defence at work, and the
//! same attacker with the missing secret supplied (the controls) succeeds.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use securex::dh::{Group, KeyPair, NamedGroup, PublicKey, SharedSecret};
use securex::record::{V2DirectionKeys, V2Opener, V2Record, V2Sealer};
use securex::schedule::v2::{DirectionSecrets, EpochSecrets, hash};
use securex::suite::{CipherSuite, Offer};
use securex::wire::{Algorithms, Exchange, Frame, Record};
use securex::{Config, Connection, Error, Event, Message};
use std::time::Instant;

/// The type byte of a FINISHED record's inner plaintext (see the manual,
/// `v2_wire`, "Inner plaintext").
pub const FINISHED: u8 = 0x10;

/// How the attacker's server half fills in `Z_es` for a client that pins a
/// server key (a client that pins none gets no `Z_es` from it).
pub enum ZEs {
    /// Left out: IKM = `Z_ee` only, as for a client that pins nothing.
    LeftOut,
    /// DH(this key pair, the client's ephemeral key). With a key of the
    /// attacker's own this is an attack; with the pinned key itself it is
    /// the control: what only the holder of the pinned key can compute.
    From(KeyPair),
    /// `Z_ee` once more (IKM = `Z_ee` ‖ `Z_ee`): a secret the attacker does hold.
    ZeeAgain,
}

/// What the attacker holds, or guesses, of the authentication.
pub struct Attacker {
    /// The HKDF salt it derives both legs with: the real PSK if it holds
    /// it, a guess, or none (the PSK left out). It copies the client's
    /// `psk_id`, which travels in clear, into its own hello.
    pub psk: Option<Vec<u8>>,
    /// How its server half fills in `Z_es`.
    pub z_es: ZEs,
    /// The server key its client half pins (a public value: anyone can
    /// pin it), or none.
    pub pin: Option<PublicKey>,
}

impl Attacker {
    /// An attacker with no secret at all: no PSK, `Z_es` left out, no pin.
    pub fn anonymous() -> Attacker {
        Attacker {
            psk: None,
            z_es: ZEs::LeftOut,
            pin: None,
        }
    }
}

/// One leg's keys as the attacker derived them: a sealer for what it
/// sends, an opener for what it receives.
pub struct Leg {
    secrets: EpochSecrets,
    sealer: V2Sealer,
    opener: V2Opener,
    /// Whether the attacker plays the client on this leg.
    as_client: bool,
}

impl Leg {
    fn new(secrets: EpochSecrets, as_client: bool) -> Leg {
        let suite = secrets.suite();
        let keys = |d: &DirectionSecrets| V2DirectionKeys::from_secrets(suite, d).unwrap();
        let (send, receive) = if as_client {
            (keys(secrets.c2s()), keys(secrets.s2c()))
        } else {
            (keys(secrets.s2c()), keys(secrets.c2s()))
        };
        Leg {
            secrets,
            sealer: V2Sealer::new(send, 0),
            opener: V2Opener::new(receive, 0),
            as_client,
        }
    }

    /// The suite of the leg.
    pub fn suite(&self) -> CipherSuite {
        self.secrets.suite()
    }

    /// Seals an inner plaintext into a `SECURE_X` frame, with its `\r\n`.
    pub fn seal(&mut self, rng: &mut ChaCha20Rng, inner: &[u8]) -> Vec<u8> {
        let record = self.sealer.seal(rng, inner).unwrap();
        let mut bytes = Frame::Record(Record::from(&record)).encode();
        bytes.extend_from_slice(b"\r\n");
        bytes
    }

    /// The attacker's own FINISHED on this leg, sealed: `0x10` ‖
    /// HMAC(its FINISHED key, TH).
    pub fn seal_finished(&mut self, rng: &mut ChaCha20Rng) -> Vec<u8> {
        let inner = [&[FINISHED][..], &self.secrets.finished(self.as_client)].concat();
        self.seal(rng, &inner)
    }

    /// Opens a `SECURE_X` frame (without its `\r\n`) from the peer into
    /// its inner plaintext.
    pub fn open(&mut self, frame: &[u8]) -> Result<Vec<u8>, String> {
        let Ok(Frame::Record(record)) = Frame::decode(frame) else {
            return Err(format!(
                "not a v2 record: {}",
                String::from_utf8_lossy(frame)
            ));
        };
        let b64 = |s: &str| BASE64.decode(s).map_err(|e| format!("{e}"));
        let record = V2Record {
            epoch: record.epoch,
            seq: record.seq,
            ciphertext: b64(&record.payload)?,
            iv: record
                .iv
                .as_deref()
                .map(b64)
                .transpose()?
                .unwrap_or_default(),
            mac: match &record.hash {
                Some(hex) => base16ct::mixed::decode_vec(hex).map_err(|e| format!("{e}"))?,
                None => Vec::new(),
            },
        };
        self.opener.open(&record).map_err(|e| format!("{e}"))
    }

    /// Whether an inner plaintext is the peer's valid FINISHED.
    pub fn is_peers_finished(&self, inner: &[u8]) -> bool {
        match inner.split_first() {
            Some((&FINISHED, value)) => self.secrets.verify_finished(!self.as_client, value),
            _ => false,
        }
    }
}

fn public_key_from_b64(group: &Group, b64: &str) -> PublicKey {
    group
        .public_key_from_pem(&BASE64.decode(b64).unwrap())
        .unwrap()
}

fn exchange_bytes(
    rng: &mut ChaCha20Rng,
    key: &KeyPair,
    suite: CipherSuite,
    group: NamedGroup,
) -> Vec<u8> {
    let mut nonce = [0u8; 32];
    rng.fill_bytes(&mut nonce);
    let mut exchange = Exchange::v1(BASE64.encode(key.public_key().to_pem()), suite.to_string());
    exchange.version = Some(2);
    exchange.nonce = Some(BASE64.encode(nonce));
    exchange.group = Some(group.wire_name().into());
    Frame::Exchange(exchange).encode()
}

/// The attacker's server half: answers a real client's `ALGORITHMS`
/// (`hello`, the frame exactly as sent, without its `\r\n`) with its own
/// `EXCHANGE` in the client's group, for the client's first suite, and its
/// own FINISHED. Returns the leg and the bytes for the client.
#[allow(
    clippy::similar_names,
    reason = "`z_ee` and `z_es` are the protocol's names for its two DH secrets"
)]
pub fn answer_client(rng: &mut ChaCha20Rng, attacker: &Attacker, hello: &[u8]) -> (Leg, Vec<u8>) {
    let Ok(Frame::Algorithms(algorithms)) = Frame::decode(hello) else {
        panic!("not an ALGORITHMS: {}", String::from_utf8_lossy(hello));
    };
    let offer = Offer::from_wire_names(&algorithms.ciphers, &algorithms.modes, &algorithms.hash);
    let suite = offer.choose_v2(&offer).unwrap();
    let named: NamedGroup = algorithms.groups.as_ref().unwrap()[0].parse().unwrap();
    let group = Group::named(named);
    let client_key = public_key_from_b64(&group, &algorithms.public_key);
    let key = KeyPair::generate(&group, rng);
    let exchange = exchange_bytes(rng, &key, suite, named);
    let th = hash(suite.hash(), &[hello, &exchange]);
    let z_ee = key.agree(&client_key).unwrap();
    let z_es: Option<Vec<u8>> = match (&algorithms.server_key, &attacker.z_es) {
        (None, _) | (Some(_), ZEs::LeftOut) => None,
        (Some(_), ZEs::From(pair)) => Some(
            pair.agree(&client_key)
                .unwrap()
                .dangerously_expose_bytes()
                .to_vec(),
        ),
        (Some(_), ZEs::ZeeAgain) => Some(z_ee.dangerously_expose_bytes().to_vec()),
    };
    let secrets = EpochSecrets::handshake(
        suite,
        attacker.psk.as_deref(),
        z_ee.dangerously_expose_bytes(),
        z_es.as_deref(),
        &th,
    );
    let mut leg = Leg::new(secrets, false);
    let mut out = exchange;
    out.extend_from_slice(b"\r\n");
    out.extend(leg.seal_finished(rng));
    (leg, out)
}

/// The attacker's client half before the server answered: its key pair
/// and its hello as sent.
pub struct ClientHello {
    key: KeyPair,
    hello: Vec<u8>,
}

impl ClientHello {
    /// A v2 `ALGORITHMS` of the attacker's own, with the offer, groups
    /// and `psk_id` of the intercepted client hello (`like`), a fresh key
    /// and nonce, and the fingerprint of the key it pins, if any. Returns
    /// the bytes for the server too.
    pub fn new(
        rng: &mut ChaCha20Rng,
        attacker: &Attacker,
        like: &Algorithms,
    ) -> (ClientHello, Vec<u8>) {
        let named: NamedGroup = like.groups.as_ref().unwrap()[0].parse().unwrap();
        let group = Group::named(named);
        let key = KeyPair::generate(&group, rng);
        let mut nonce = [0u8; 32];
        rng.fill_bytes(&mut nonce);
        let mut algorithms = Algorithms::v1(
            like.ciphers.clone(),
            like.modes.clone(),
            like.hash.clone(),
            BASE64.encode(group.to_pem()),
            BASE64.encode(key.public_key().to_pem()),
        );
        algorithms.version = Some(2);
        algorithms.nonce = Some(BASE64.encode(nonce));
        algorithms.groups.clone_from(&like.groups);
        algorithms.psk_id.clone_from(&like.psk_id);
        algorithms.server_key = attacker
            .pin
            .as_ref()
            .map(|k| BASE64.encode(k.fingerprint()));
        let hello = Frame::Algorithms(algorithms).encode();
        let mut out = hello.clone();
        out.extend_from_slice(b"\r\n");
        (ClientHello { key, hello }, out)
    }

    /// The keys of the leg from the server's `EXCHANGE` (without its
    /// `\r\n`): with the attacker's PSK guess, and `Z_es` from the key it
    /// pins.
    #[allow(
        clippy::similar_names,
        reason = "`z_ee` and `z_es` are the protocol's names for its two DH secrets"
    )]
    pub fn on_exchange(&self, attacker: &Attacker, exchange: &[u8]) -> Leg {
        let Ok(Frame::Exchange(parsed)) = Frame::decode(exchange) else {
            panic!("not an EXCHANGE: {}", String::from_utf8_lossy(exchange));
        };
        let suite: CipherSuite = parsed.ciphersuite.parse().unwrap();
        let server_key = public_key_from_b64(self.key.group(), &parsed.value);
        let z_ee = self.key.agree(&server_key).unwrap();
        let z_es = attacker
            .pin
            .as_ref()
            .map(|pin| self.key.agree(pin).unwrap());
        let th = hash(suite.hash(), &[&self.hello, exchange]);
        let secrets = EpochSecrets::handshake(
            suite,
            attacker.psk.as_deref(),
            z_ee.dangerously_expose_bytes(),
            z_es.as_ref().map(SharedSecret::dangerously_expose_bytes),
            &th,
        );
        Leg::new(secrets, true)
    }
}

/// Cuts `pending` into whole frames (without their `\r\n`).
fn frames(pending: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
        out.push(pending.drain(..end + 2).take(end).collect());
    }
    out
}

/// The attacker's server leg, as far as it got.
enum ToClient {
    /// The client's hello has not arrived.
    Waiting,
    /// The attacker answered; `verified` once the client's FINISHED
    /// verified.
    Answered { leg: Box<Leg>, verified: bool },
}

/// The attacker's client leg, as far as it got.
enum ToServer {
    /// Not started (the client's hello has not arrived).
    Idle,
    /// The attacker's hello is out.
    Hello(ClientHello),
    /// The server's EXCHANGE arrived; `finished_sent` once the attacker
    /// sent its own FINISHED (after the server's, verified or not).
    Keyed { leg: Box<Leg>, finished_sent: bool },
    /// The server refused the attacker's hello in a plaintext `ERROR`.
    Refused,
}

/// client <-> attacker (hand-built) <-> server.
pub struct Relay {
    pub now: Instant,
    pub client: Connection,
    pub server: Connection,
    pub attacker: Attacker,
    rng: ChaCha20Rng,
    to_client: ToClient,
    to_server: ToServer,
    /// Every frame each real end wrote, in order, without its `\r\n`.
    pub client_wrote: Vec<Vec<u8>>,
    pub server_wrote: Vec<Vec<u8>>,
    /// The real ends' events and the errors `handle_input` returned.
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    pub client_returned: Vec<Error>,
    pub server_returned: Vec<Error>,
    /// What the attacker read in plaintext from each real end.
    pub seen_from_client: Vec<Message>,
    pub seen_from_server: Vec<Message>,
    /// What did not work for the attacker, in words.
    pub attacker_failures: Vec<String>,
    /// Messages of the attacker's own, sent to the server right after its
    /// FINISHED (e.g. to see whether the server acts on them).
    pub inject_to_server: Vec<Message>,
    /// The client's messages that wait for the server leg's keys.
    held_for_server: Vec<Message>,
    client_pending: Vec<u8>,
    server_pending: Vec<u8>,
    for_client: Vec<u8>,
    for_server: Vec<u8>,
}

impl Relay {
    /// The real ends with `client` and `server`; deterministic RNGs from
    /// `seed`.
    pub fn new(client: Config, server: Config, attacker: Attacker, seed: u64) -> Relay {
        let now = Instant::now();
        let rng = |k: u64| ChaCha20Rng::seed_from_u64(seed * 3 + k);
        Relay {
            now,
            client: Connection::client(client, rng(0), now).expect("a valid config"),
            server: Connection::server(server, rng(1), now).expect("a valid config"),
            attacker,
            rng: rng(2),
            to_client: ToClient::Waiting,
            to_server: ToServer::Idle,
            client_wrote: Vec::new(),
            server_wrote: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_returned: Vec::new(),
            server_returned: Vec::new(),
            seen_from_client: Vec::new(),
            seen_from_server: Vec::new(),
            attacker_failures: Vec::new(),
            inject_to_server: Vec::new(),
            held_for_server: Vec::new(),
            client_pending: Vec::new(),
            server_pending: Vec::new(),
            for_client: Vec::new(),
            for_server: Vec::new(),
        }
    }

    /// Whether the attacker's server leg saw the client's FINISHED verify.
    pub fn client_finished_verified(&self) -> bool {
        matches!(self.to_client, ToClient::Answered { verified: true, .. })
    }

    /// A frame the real client wrote.
    fn on_client_frame(&mut self, frame: &[u8]) {
        match &mut self.to_client {
            ToClient::Waiting => {
                let (leg, out) = answer_client(&mut self.rng, &self.attacker, frame);
                self.for_client.extend(out);
                self.to_client = ToClient::Answered {
                    leg: Box::new(leg),
                    verified: false,
                };
                let Ok(Frame::Algorithms(like)) = Frame::decode(frame) else {
                    unreachable!("answer_client parsed it");
                };
                let (hello, out) = ClientHello::new(&mut self.rng, &self.attacker, &like);
                self.for_server.extend(out);
                self.to_server = ToServer::Hello(hello);
            }
            ToClient::Answered { leg, verified } => match leg.open(frame) {
                Err(e) => self
                    .attacker_failures
                    .push(format!("cannot open the client's record: {e}")),
                Ok(inner) if !*verified => {
                    if leg.is_peers_finished(&inner) {
                        *verified = true;
                    } else {
                        self.attacker_failures
                            .push("the client's first record is not its FINISHED".into());
                    }
                }
                Ok(inner) => match Message::from_v2_bytes(&inner) {
                    Some(Ok(message)) => {
                        self.seen_from_client.push(message.clone());
                        self.held_for_server.push(message);
                    }
                    _ => self
                        .attacker_failures
                        .push(format!("the client sent {inner:02x?}")),
                },
            },
        }
    }

    /// A frame the real server wrote.
    fn on_server_frame(&mut self, frame: &[u8]) {
        if let Ok(Frame::Error(refusal)) = Frame::decode(frame) {
            self.attacker_failures
                .push(format!("the server refused: {}", refusal.message));
            self.to_server = ToServer::Refused;
            return;
        }
        match &mut self.to_server {
            ToServer::Idle | ToServer::Refused => self
                .attacker_failures
                .push("the server wrote out of turn".into()),
            ToServer::Hello(hello) => {
                let leg = hello.on_exchange(&self.attacker, frame);
                self.to_server = ToServer::Keyed {
                    leg: Box::new(leg),
                    finished_sent: false,
                };
            }
            ToServer::Keyed { leg, finished_sent } => {
                let opened = leg.open(frame);
                if !*finished_sent {
                    // The server's FINISHED: checked if the attacker can,
                    // answered with its own whatever the outcome.
                    if !opened
                        .as_ref()
                        .is_ok_and(|inner| leg.is_peers_finished(inner))
                    {
                        self.attacker_failures
                            .push("the server's FINISHED did not verify".into());
                    }
                    self.for_server.extend(leg.seal_finished(&mut self.rng));
                    for message in self.inject_to_server.drain(..) {
                        self.for_server
                            .extend(leg.seal(&mut self.rng, &message.to_v2_bytes()));
                    }
                    *finished_sent = true;
                    return;
                }
                match opened {
                    Err(e) => self
                        .attacker_failures
                        .push(format!("cannot open the server's record: {e}")),
                    Ok(inner) => match Message::from_v2_bytes(&inner) {
                        Some(Ok(message)) => {
                            self.seen_from_server.push(message.clone());
                            if let ToClient::Answered { leg, .. } = &mut self.to_client {
                                self.for_client
                                    .extend(leg.seal(&mut self.rng, &message.to_v2_bytes()));
                            }
                        }
                        _ => self
                            .attacker_failures
                            .push(format!("the server sent {inner:02x?}")),
                    },
                }
            }
        }
    }

    /// Relays the client's messages once the server leg is keyed.
    fn flush_relay(&mut self) {
        if let ToServer::Keyed {
            leg,
            finished_sent: true,
        } = &mut self.to_server
        {
            for message in self.held_for_server.drain(..) {
                self.for_server
                    .extend(leg.seal(&mut self.rng, &message.to_v2_bytes()));
            }
        }
    }

    /// Moves everything one round; returns whether anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some(bytes) = self.client.poll_transmit() {
            self.client_pending.extend(bytes);
            moved = true;
        }
        for frame in frames(&mut self.client_pending) {
            self.client_wrote.push(frame.clone());
            self.on_client_frame(&frame);
        }
        while let Some(bytes) = self.server.poll_transmit() {
            self.server_pending.extend(bytes);
            moved = true;
        }
        for frame in frames(&mut self.server_pending) {
            self.server_wrote.push(frame.clone());
            self.on_server_frame(&frame);
        }
        self.flush_relay();
        if !self.for_client.is_empty() {
            let bytes = std::mem::take(&mut self.for_client);
            if let Err(e) = self.client.handle_input(self.now, &bytes) {
                self.client_returned.push(e);
            }
            moved = true;
        }
        if !self.for_server.is_empty() {
            let bytes = std::mem::take(&mut self.for_server);
            if let Err(e) = self.server.handle_input(self.now, &bytes) {
                self.server_returned.push(e);
            }
            moved = true;
        }
        while let Some(event) = self.client.poll_event() {
            self.client_events.push(event);
            moved = true;
        }
        while let Some(event) = self.server.poll_event() {
            self.server_events.push(event);
            moved = true;
        }
        moved
    }

    /// Steps until nothing moves.
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the relay did not settle");
    }
}

// Not every test binary that includes `common` uses these.
#[allow(unused_imports)]
pub use super::{closed_error, messages};

/// Whether `events` report a completed handshake.
pub fn handshake_completed(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::HandshakeComplete { .. }))
}
