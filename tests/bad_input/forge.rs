//! v2 forgers: an attacker who holds the session's keys and so can send
//! records that open, with whatever inside, and read what the receiver
//! answers. Built from the crate's lower-level API (`wire`, `dh`,
//! `schedule::v2`, `record`), not from a `Connection`, so that it sends
//! exactly what a row asks.
//!
//! * Towards a **server** it plays the client: it swaps the real client's
//!   key share in `ALGORITHMS` for its own (v2 without authentication lets
//!   it), derives the keys from the server's `EXCHANGE`, and from then on
//!   drops everything both real sides send each other and speaks for the
//!   client itself.
//! * Towards a **client** it plays the server: the real server never sees
//!   a frame; the forger answers the client's `ALGORITHMS` with its own
//!   `EXCHANGE` (edited as the row says) and records.
//!
//! A forger's records are frames without their `\r\n`; [`play`] delivers
//! them. [`read`] opens what the receiver wrote back, to see its alert.

use std::cell::RefCell;
use std::rc::Rc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::dh::{Group, KeyPair, NamedGroup, PublicKey};
use securex::error::{Error, ProtocolError};
use securex::record::{V2DirectionKeys, V2Opener, V2Record, V2Sealer};
use securex::schedule::v2::{DirectionSecrets, EpochSecrets, hash};
use securex::suite::CipherSuite;
use securex::wire::{Frame, Record};
use securex::{Message, Role, State};
use serde_json::{Map, Value};

use super::common::{FrameHook, Pair};

/// Type bytes of the connection's own inner messages.
pub const FINISHED: u8 = 0x10;
pub const REKEY: u8 = 0x11;
pub const REKEY_ACK: u8 = 0x12;

/// Frames a forger makes (without their `\r\n`).
pub type Script = Rc<dyn Fn(&mut Forger) -> Vec<Vec<u8>>>;

/// An edit of a JSON object.
pub type JsonEdit = dyn Fn(&mut Map<String, Value>);

/// What a forger does, in order.
pub struct Forge {
    /// Playing the server: edits its `EXCHANGE` (a JSON object) before it
    /// is sent and hashed.
    pub exchange: Option<Rc<JsonEdit>>,
    /// The frames right after the hellos (after the `EXCHANGE`, when
    /// playing the server): by default a valid FINISHED.
    pub first: Script,
    /// The receiver then starts a rotation (`Connection::rotate`).
    pub rotates: bool,
    /// The frames after that.
    pub then: Script,
}

/// A valid FINISHED, then `then`.
pub fn forge(then: impl Fn(&mut Forger) -> Vec<Vec<u8>> + 'static) -> Forge {
    Forge {
        exchange: None,
        first: Rc::new(|f| vec![f.finished()]),
        rotates: false,
        then: Rc::new(then),
    }
}

/// `first` in place of the FINISHED, and nothing after.
pub fn forge_first(first: impl Fn(&mut Forger) -> Vec<Vec<u8>> + 'static) -> Forge {
    Forge {
        exchange: None,
        first: Rc::new(first),
        rotates: false,
        then: Rc::new(|_| vec![]),
    }
}

/// A valid FINISHED, the receiver starts a rotation, then `then`.
pub fn forge_rotating(then: impl Fn(&mut Forger) -> Vec<Vec<u8>> + 'static) -> Forge {
    Forge {
        rotates: true,
        ..forge(then)
    }
}

/// Playing the server: its `EXCHANGE` edited, then a valid FINISHED
/// (unless the edit leaves no keys to make one: no suite).
pub fn forge_exchange(edit: impl Fn(&mut Map<String, Value>) + 'static) -> Forge {
    Forge {
        exchange: Some(Rc::new(edit)),
        ..forge(|_| vec![])
    }
}

/// An attacker with the keys of epoch 0 of a session.
pub struct Forger {
    /// The role it plays.
    plays: Role,
    suite: CipherSuite,
    group: Group,
    secrets: EpochSecrets,
    sealer: V2Sealer,
    /// Its REKEY's key pair and public value as sent, if it sent one.
    rekey: Option<(KeyPair, Vec<u8>)>,
    /// Its REKEY_ACK's key pair and public value, if it sent one.
    ack: Option<(KeyPair, Vec<u8>)>,
    rng: ChaCha20Rng,
}

impl Forger {
    fn new(plays: Role, group: Group, secrets: EpochSecrets) -> Forger {
        let suite = secrets.suite();
        let own = match plays {
            Role::Client => secrets.c2s(),
            Role::Server => secrets.s2c(),
        };
        Forger {
            plays,
            suite,
            group,
            sealer: V2Sealer::new(keys(suite, own), 0),
            secrets,
            rekey: None,
            ack: None,
            rng: ChaCha20Rng::seed_from_u64(0xf0_4e),
        }
    }

    /// The next record of its direction carrying `inner`, as a frame.
    pub fn seal(&mut self, inner: impl AsRef<[u8]>) -> Vec<u8> {
        let record = self.sealer.seal(&mut self.rng, inner.as_ref()).unwrap();
        record_frame(&record)
    }

    /// A record carrying an application message.
    pub fn app(&mut self, message: &Message) -> Vec<u8> {
        self.seal(message.to_v2_bytes())
    }

    /// The next record, with its header edited after sealing.
    pub fn edited(&mut self, inner: impl AsRef<[u8]>, edit: fn(&mut Record)) -> Vec<u8> {
        let frame = self.seal(inner);
        let Ok(Frame::Record(mut record)) = Frame::decode(&frame) else {
            unreachable!("sealed as a record")
        };
        edit(&mut record);
        Frame::Record(record).encode()
    }

    /// Its FINISHED value: what the side it plays must send.
    pub fn finished_value(&self) -> Vec<u8> {
        self.secrets.finished(self.plays == Role::Client)
    }

    /// The FINISHED value of the receiver's side (a reflection).
    pub fn receivers_finished_value(&self) -> Vec<u8> {
        self.secrets.finished(self.plays == Role::Server)
    }

    /// Its valid FINISHED record.
    pub fn finished(&mut self) -> Vec<u8> {
        let value = self.finished_value();
        self.seal([&[FINISHED][..], &value].concat())
    }

    /// A valid REKEY from a fresh key pair (kept, so that [`read`] follows
    /// the rotation).
    pub fn rekey(&mut self) -> Vec<u8> {
        let key = KeyPair::generate(&self.group, &mut self.rng);
        let public = self.padded(&key.public_key().to_bytes());
        self.rekey = Some((key, public.clone()));
        self.seal([&[REKEY][..], &public].concat())
    }

    /// A valid REKEY_ACK from a fresh key pair (kept, so that [`read`]
    /// follows the rotation it answers).
    pub fn rekey_ack(&mut self) -> Vec<u8> {
        let key = KeyPair::generate(&self.group, &mut self.rng);
        let public = self.padded(&key.public_key().to_bytes());
        self.ack = Some((key, public.clone()));
        self.seal([&[REKEY_ACK][..], &public].concat())
    }

    /// A fresh valid public value of the group, as REKEY carries it.
    pub fn fresh_public(&mut self) -> Vec<u8> {
        let key = KeyPair::generate(&self.group, &mut self.rng);
        self.padded(&key.public_key().to_bytes())
    }

    /// `y` big-endian, left-padded to the length of p.
    pub fn padded(&self, y: &[u8]) -> Vec<u8> {
        let len = self.group.byte_len();
        let mut out = vec![0u8; len.saturating_sub(y.len())];
        out.extend_from_slice(y);
        out
    }

    /// The modulus p, big-endian.
    pub fn p(&self) -> Vec<u8> {
        self.group.modulus().to_vec()
    }
}

/// A record as a `SECURE_X` frame.
fn record_frame(record: &V2Record) -> Vec<u8> {
    Frame::Record(Record::from(record)).encode()
}

fn keys(suite: CipherSuite, d: &DirectionSecrets) -> V2DirectionKeys {
    V2DirectionKeys::from_secrets(suite, d).unwrap()
}

/// What the forger's hooks and [`play`] share.
pub struct Stage {
    /// The forger's ephemeral key pair (ffdhe2048, from a fixed seed).
    key: KeyPair,
    /// The client's `ALGORITHMS` as the server got it (with the forger's
    /// key share, when it plays the client).
    hello: Option<Vec<u8>>,
    forger: Option<Forger>,
    problem: Option<String>,
}

fn ffdhe2048() -> Group {
    Group::named(NamedGroup::Ffdhe2048)
}

/// The hooks (towards the server, towards the client) of a forger playing
/// the peer of `receiver`.
pub fn hooks(receiver: Role) -> (Rc<RefCell<Stage>>, Option<FrameHook>, Option<FrameHook>) {
    let stage = Rc::new(RefCell::new(Stage {
        key: KeyPair::generate(
            &ffdhe2048(),
            &mut ChaCha20Rng::seed_from_u64(0x5ec0_0bad ^ 2),
        ),
        hello: None,
        forger: None,
        problem: None,
    }));
    match receiver {
        Role::Server => {
            let s = stage.clone();
            let to_server: FrameHook = Box::new(move |i, frame| {
                if i != 0 {
                    return vec![];
                }
                let mut s = s.borrow_mut();
                let mut hello: Value = serde_json::from_slice(&frame).unwrap();
                hello["public_key"] = B64.encode(s.key.public_key().to_pem()).into();
                let bytes = serde_json::to_vec(&hello).unwrap();
                s.hello = Some(bytes.clone());
                vec![bytes]
            });
            let s = stage.clone();
            let to_client: FrameHook = Box::new(move |i, frame| {
                if i == 0 {
                    let mut s = s.borrow_mut();
                    match client_keys(&s, &frame) {
                        Ok(forger) => s.forger = Some(forger),
                        Err(why) => s.problem = Some(why),
                    }
                }
                vec![]
            });
            (stage, Some(to_server), Some(to_client))
        }
        Role::Client => {
            let s = stage.clone();
            let to_server: FrameHook = Box::new(move |i, frame| {
                if i == 0 {
                    s.borrow_mut().hello = Some(frame);
                }
                vec![]
            });
            (stage, Some(to_server), None)
        }
    }
}

/// Playing the client: the keys of the server's `EXCHANGE`.
fn client_keys(stage: &Stage, exchange_bytes: &[u8]) -> Result<Forger, String> {
    let Ok(Frame::Exchange(exchange)) = Frame::decode(exchange_bytes) else {
        return Err(format!(
            "the server answered {}",
            String::from_utf8_lossy(exchange_bytes)
        ));
    };
    let suite: CipherSuite = exchange.ciphersuite.parse().map_err(|e| format!("{e:?}"))?;
    let group = ffdhe2048();
    let pem = B64.decode(&exchange.value).map_err(|e| e.to_string())?;
    let server_key = group
        .public_key_from_pem(&pem)
        .map_err(|e| format!("{e:?}"))?;
    let z = stage.key.agree(&server_key).map_err(|e| format!("{e:?}"))?;
    let hello = stage.hello.as_deref().ok_or("no hello")?;
    let th = hash(suite.hash(), &[hello, exchange_bytes]);
    let secrets = EpochSecrets::handshake(suite, None, z.dangerously_expose_bytes(), None, &th);
    Ok(Forger::new(Role::Client, group, secrets))
}

/// Playing the server: its `EXCHANGE` for the client's hello, and the keys
/// (none if the edited `EXCHANGE` leaves none to derive).
fn server_answer(
    stage: &Stage,
    edit: Option<&JsonEdit>,
) -> Result<(Vec<u8>, Option<Forger>), String> {
    let hello = stage.hello.as_deref().ok_or("the client sent no hello")?;
    let Ok(Frame::Algorithms(algorithms)) = Frame::decode(hello) else {
        return Err("the client's hello is not ALGORITHMS".into());
    };
    let group = ffdhe2048();
    let pem = B64
        .decode(&algorithms.public_key)
        .map_err(|e| e.to_string())?;
    let client_key: PublicKey = group
        .public_key_from_pem(&pem)
        .map_err(|e| format!("{e:?}"))?;
    let mut exchange = serde_json::json!({
        "type": "EXCHANGE",
        "value": B64.encode(stage.key.public_key().to_pem()),
        "ciphersuite": "DH;AES-128;GCM;SHA-256",
        "version": 2,
        "nonce": B64.encode([7u8; 32]),
        "group": "ffdhe2048",
    });
    if let Some(edit) = edit {
        edit(exchange.as_object_mut().unwrap());
    }
    let bytes = serde_json::to_vec(&exchange).unwrap();
    let suite = exchange["ciphersuite"]
        .as_str()
        .and_then(|s| s.parse::<CipherSuite>().ok());
    let forger = suite.map(|suite| {
        let z = stage.key.agree(&client_key).unwrap();
        let th = hash(suite.hash(), &[hello, &bytes]);
        let secrets = EpochSecrets::handshake(suite, None, z.dangerously_expose_bytes(), None, &th);
        Forger::new(Role::Server, group, secrets)
    });
    Ok((bytes, forger))
}

/// Delivers frames to `to`.
fn send(pair: &mut Pair, to: Role, frames: Vec<Vec<u8>>) {
    let link = match to {
        Role::Client => &mut pair.to_client,
        Role::Server => &mut pair.to_server,
    };
    for frame in frames {
        link.inject(&[frame, b"\r\n".to_vec()].concat());
    }
    pair.drive();
}

/// Runs the forger's part once the real sides have said their hellos.
pub fn play(
    pair: &mut Pair,
    stage: &Rc<RefCell<Stage>>,
    receiver: Role,
    forge: &Forge,
    setup: &mut Vec<String>,
) {
    if receiver == Role::Client {
        let answer = server_answer(&stage.borrow(), forge.exchange.as_deref());
        match answer {
            Ok((exchange, forger)) => {
                stage.borrow_mut().forger = forger;
                send(pair, receiver, vec![exchange]);
            }
            Err(why) => setup.push(why),
        }
    }
    if let Some(why) = stage.borrow_mut().problem.take() {
        setup.push(why);
    }
    let Some(mut forger) = stage.borrow_mut().forger.take() else {
        if forge.exchange.is_none() {
            setup.push("the forger has no keys".into());
        }
        return;
    };
    let frames = (forge.first)(&mut forger);
    send(pair, receiver, frames);
    if forge.rotates {
        let now = pair.now;
        if let Err(e) = pair.conn(receiver).rotate(now) {
            setup.push(format!("rotate: {e:?}"));
        }
        pair.drive();
        if pair.conn(receiver).state() != State::Rotating {
            setup.push("the receiver is not rotating".into());
        }
    }
    let frames = (forge.then)(&mut forger);
    send(pair, receiver, frames);
    stage.borrow_mut().forger = Some(forger);
}

/// What the forger reads in the frames the receiver wrote (its first, the
/// receiver's own hello, skipped): `PeerError` with the text of the first
/// `ERROR`, plaintext or sealed; the record error if a record does not
/// open; `None` if there is no `ERROR`. It follows one rotation: of its
/// own REKEY ([`Forger::rekey`]), or of the receiver's REKEY that it
/// answered ([`Forger::rekey_ack`]).
pub fn read(stage: &Rc<RefCell<Stage>>, frames: &[Vec<u8>]) -> Option<Error> {
    let stage = stage.borrow();
    let forger = stage.forger.as_ref()?;
    let theirs = |secrets: &EpochSecrets, epoch| {
        let d = match forger.plays {
            Role::Client => secrets.s2c(),
            Role::Server => secrets.c2s(),
        };
        V2Opener::new(keys(forger.suite, d), epoch)
    };
    let mut opener = theirs(&forger.secrets, 0);
    let mut next: Option<V2Opener> = None;
    for frame in frames.iter().skip(1) {
        let record = match Frame::decode(frame) {
            Ok(Frame::Error(e)) => return Some(ProtocolError::PeerError(e.message).into()),
            Ok(Frame::Record(record)) => record,
            _ => continue,
        };
        let record = V2Record {
            epoch: record.epoch,
            seq: record.seq,
            ciphertext: B64.decode(&record.payload).unwrap_or_default(),
            iv: record
                .iv
                .map(|iv| B64.decode(iv).unwrap_or_default())
                .unwrap_or_default(),
            mac: record
                .hash
                .map(|h| base16ct::mixed::decode_vec(h).unwrap_or_default())
                .unwrap_or_default(),
        };
        if next.as_ref().is_some_and(|n| n.epoch() == record.epoch) {
            opener = next.take()?;
        }
        let inner = match opener.open(&record) {
            Ok(inner) => inner,
            Err(e) => return Some(e.into()),
        };
        // (our key pair, initiator's public value, responder's), and the
        // peer's public value is what this record carries.
        let rotation = match inner.split_first() {
            Some((&0x05, text)) => {
                return Some(
                    ProtocolError::PeerError(String::from_utf8_lossy(text).into_owned()).into(),
                );
            }
            // The answer to our REKEY.
            Some((&REKEY_ACK, public)) => forger
                .rekey
                .as_ref()
                .map(|(key, own)| (key, own.clone(), public.to_vec(), public)),
            // The receiver's REKEY, which we answered.
            Some((&REKEY, public)) => forger
                .ack
                .as_ref()
                .map(|(key, own)| (key, public.to_vec(), own.clone(), public)),
            _ => None,
        };
        if let Some((key, initiator, responder, public)) = rotation
            && next.is_none()
            && opener.epoch() == 0
        {
            let peer = forger.group.public_key_from_bytes(public).ok()?;
            let z = key.agree(&peer).ok()?;
            let secrets = forger.secrets.rotate(
                forger.suite,
                1,
                z.dangerously_expose_bytes(),
                &initiator,
                &responder,
            );
            next = Some(theirs(&secrets, 1));
        }
    }
    None
}
