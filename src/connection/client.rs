//! The client's steps: the offer, key agreement from `EXCHANGE` (v1, or v2
//! with key confirmation), sealing, and the v1 rotation.

use alloc::boxed::Box;
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::v2::{self, Channel, Inner};
use super::{ClientHello, Connection, Established, Event, Phase, Role, State, Timer, Version};
use crate::dh::{Group, KeyPair, NamedGroup};
use crate::error::{Error, ProtocolError};
use crate::message::Message;
use crate::record::V1Protector;
use crate::schedule::V1Secrets;
use crate::schedule::v2::{EpochSecrets, hash};
use crate::suite::{CipherSuite, Offer};
use crate::wire::{Algorithms, Exchange, Frame, Record};

impl Connection {
    /// Sends the first `ALGORITHMS`, in the version the policy prefers.
    pub(super) fn send_hello(&mut self) -> ClientHello {
        match self.config.client_speaks() {
            Version::V1 => self.send_algorithms(),
            _ => self.send_algorithms_v2(),
        }
    }

    /// Sends a v1 `ALGORITHMS` with a fresh key pair in the configured
    /// group.
    pub(super) fn send_algorithms(&mut self) -> ClientHello {
        let group = Group::named(self.config.v1_group);
        let key = KeyPair::generate(&group, &mut self.rng);
        let (ciphers, modes, hash) = self.config.offer.wire_names();
        self.push_frame(&Frame::Algorithms(Algorithms::v1(
            ciphers,
            modes,
            hash,
            BASE64.encode(group.to_pem()),
            BASE64.encode(key.public_key().to_pem()),
        )));
        ClientHello {
            key,
            v2_bytes: None,
        }
    }

    /// Sends a v2 `ALGORITHMS`: the v1 fields (a v1 server answers them)
    /// with the key share in the first configured group, plus the version,
    /// a nonce, the groups and the PSK identifier.
    fn send_algorithms_v2(&mut self) -> ClientHello {
        // A pinned server key decides the group; else the first configured.
        let mut groups = self.config.groups.clone();
        let pinned = self.config.server_key.as_ref();
        if let Some(named) = pinned.and_then(|k| k.group().named_group()) {
            groups.retain(|&g| g != named);
            groups.insert(0, named);
        }
        let first = groups.first().copied().unwrap_or(NamedGroup::Ffdhe2048);
        let group = match pinned {
            Some(key) => key.group().clone(),
            None => Group::named(first),
        };
        let key = KeyPair::generate(&group, &mut self.rng);
        let mut nonce = [0u8; v2::NONCE_LEN];
        self.rng.fill_bytes(&mut nonce);
        let (ciphers, modes, hash) = self.v2_offer().wire_names();
        let mut hello = Algorithms::v1(
            ciphers,
            modes,
            hash,
            BASE64.encode(group.to_pem()),
            BASE64.encode(key.public_key().to_pem()),
        );
        hello.version = Some(v2::VERSION);
        hello.nonce = Some(BASE64.encode(nonce));
        hello.groups = Some(groups.iter().map(|g| g.wire_name().into()).collect());
        hello.psk_id = self.config.psk.as_ref().map(|psk| psk.id().into());
        hello.server_key = pinned.map(|k| BASE64.encode(k.fingerprint()));
        let bytes = Frame::Algorithms(hello).encode();
        self.outgoing.extend_from_slice(&bytes);
        self.outgoing
            .extend_from_slice(crate::wire::codec::DELIMITER);
        ClientHello {
            key,
            v2_bytes: Some(bytes),
        }
    }

    /// The offer v2 makes: the configured one, without the legacy suites
    /// unless they are enabled.
    pub(super) fn v2_offer(&self) -> Offer {
        v2::v2_offer(&self.config.offer, self.config.legacy_suites)
    }

    pub(super) fn client_frame(&mut self, frame: Frame, bytes: &[u8]) -> Result<(), Error> {
        match (self.state(), frame) {
            (State::Negotiating, Frame::Exchange(exchange)) => self.on_exchange(&exchange, bytes),
            (State::Rotating, Frame::Exchange(exchange)) => {
                let Phase::ClientRotating(hello) = &self.phase else {
                    unreachable!("state is Rotating");
                };
                let protector = self.agree(hello, &exchange)?;
                self.establish(v1_established(protector), false);
                Ok(())
            }
            (State::Handshaking, Frame::Record(record)) => self.on_server_finished(&record),
            (State::Established | State::Rotating, Frame::Record(record))
                if self.version == Some(Version::V2) =>
            {
                self.on_established_record(&record)
            }
            // v1 servers answer in plaintext.
            (State::Established | State::Rotating, Frame::Ok)
                if self.version == Some(Version::V1) =>
            {
                self.events.push_back(Event::Message(Message::Ok));
                Ok(())
            }
            (_, frame) => Err(self.unexpected(&frame)),
        }
    }

    /// The answer to the first `ALGORITHMS`: v2, or v1 where allowed.
    fn on_exchange(&mut self, exchange: &Exchange, bytes: &[u8]) -> Result<(), Error> {
        let Phase::ClientNegotiating(hello) = &self.phase else {
            unreachable!("state is Negotiating");
        };
        match (hello.v2_bytes.is_some(), exchange.version) {
            (true, Some(_)) => {
                let channel = self.agree_v2(hello, exchange, bytes)?;
                self.phase = Phase::Handshaking(Box::new(channel));
                Ok(())
            }
            // A v1 server ignored the v2 fields: fall back only if the
            // policy allows v1.
            (true, None) if !self.config.allows_v1() => {
                Err(ProtocolError::VersionRefused { version: 1 }.into())
            }
            (_, None) => {
                let protector = self.agree(hello, exchange)?;
                self.establish(v1_established(protector), true);
                Ok(())
            }
            (false, Some(version)) => Err(ProtocolError::VersionRefused { version }.into()),
        }
    }

    /// The server's FINISHED, its first record: verified before anything
    /// but our own FINISHED is sent.
    fn on_server_finished(&mut self, record: &Record) -> Result<(), Error> {
        let Connection {
            phase,
            rng,
            outgoing,
            ..
        } = self;
        let Phase::Handshaking(channel) = phase else {
            unreachable!("state is Handshaking");
        };
        Connection::check_finished(channel, record, false)?;
        let finished = Inner::Finished(channel.secrets.finished(true));
        Connection::push_sealed(channel, &mut **rng, outgoing, &finished)?;
        let Phase::Handshaking(channel) = core::mem::replace(phase, Phase::ServerNegotiating)
        else {
            unreachable!("state is Handshaking");
        };
        self.establish(Established::V2(channel), true);
        Ok(())
    }

    /// v1: checks the server's choice and key, and derives the epoch's
    /// keys. Nothing changes unless all of it succeeds.
    fn agree(&self, hello: &ClientHello, exchange: &Exchange) -> Result<V1Protector, Error> {
        let suite: CipherSuite = exchange.ciphersuite.parse()?;
        self.config.offer.check_choice(suite)?;
        let server_key = hello.key.group().public_key_from_pem(&decode_b64(
            &exchange.value,
            "EXCHANGE",
            "value",
        )?)?;
        let z = hello.key.agree(&server_key)?;
        Ok(V1Protector::new(
            suite,
            V1Secrets::derive(z.as_bytes(), suite.cipher()),
        ))
    }

    /// v2: checks the server's choice, group and key, and derives the
    /// handshake's keys from the transcript.
    fn agree_v2(
        &self,
        hello: &ClientHello,
        exchange: &Exchange,
        exchange_bytes: &[u8],
    ) -> Result<Channel, Error> {
        if exchange.version != Some(v2::VERSION) {
            return Err(ProtocolError::VersionRefused {
                version: exchange.version.unwrap_or(1),
            }
            .into());
        }
        let group = hello.key.group();
        let ours = group.named_group().map(NamedGroup::wire_name);
        if exchange.group.as_deref() != ours {
            return Err(ProtocolError::GroupNotAccepted {
                accepted: v2::group_names(&self.config.groups),
            }
            .into());
        }
        let suite: CipherSuite = exchange.ciphersuite.parse()?;
        self.v2_offer().check_choice(suite)?;
        decode_nonce(exchange.nonce.as_deref(), "EXCHANGE")?;
        let server_key =
            group.public_key_from_pem(&decode_b64(&exchange.value, "EXCHANGE", "value")?)?;
        let z = hello.key.agree(&server_key)?;
        // Z_es: only the holder of the pinned key's private half gets it.
        let z_es = match &self.config.server_key {
            Some(pinned) => Some(hello.key.agree(pinned)?),
            None => None,
        };
        let hello_bytes = hello.v2_bytes.as_deref().unwrap_or_default();
        let th = hash(suite.hash(), &[hello_bytes, exchange_bytes]);
        let psk = self.config.psk.as_ref().map(|p| p.key());
        let secrets = EpochSecrets::handshake(
            suite,
            psk,
            z.as_bytes(),
            z_es.as_ref().map(|z| z.as_bytes()),
            &th,
        );
        Ok(Channel::new(Role::Client, secrets, group.clone(), 0))
    }

    /// v1: sends a message in the current epoch, first starting a
    /// rotation if the epoch is used up; gives the message back if it must
    /// wait.
    pub(super) fn client_transmit(&mut self, message: Message) -> Result<(), Message> {
        let Phase::Established(established) = &mut self.phase else {
            return Err(message);
        };
        let Established::V1 {
            protector,
            sent_in_epoch,
        } = &mut **established
        else {
            return Err(message);
        };
        let used_up = self
            .config
            .rotate_after_frames
            .is_some_and(|n| *sent_in_epoch >= n);
        if !used_up {
            *sent_in_epoch += 1;
            let sealed = protector.seal_random(&mut self.rng, &message.to_v1_json());
            self.push_frame(&Frame::SecureX(sealed));
            return Ok(());
        }
        let hello = self.send_algorithms();
        self.phase = Phase::ClientRotating(hello);
        self.arm(Timer::Handshake, self.config.handshake_timeout);
        Err(message)
    }
}

fn v1_established(protector: V1Protector) -> Established {
    Established::V1 {
        protector: Box::new(protector),
        sent_in_epoch: 0,
    }
}

/// Decodes a base64 field of a handshake frame.
pub(super) fn decode_b64(
    value: &str,
    frame: &'static str,
    field: &'static str,
) -> Result<Vec<u8>, Error> {
    BASE64
        .decode(value)
        .map_err(|_| ProtocolError::InvalidBase64 { frame, field }.into())
}

/// Checks that a v2 hello carries a nonce of the right length.
pub(super) fn decode_nonce(nonce: Option<&str>, frame: &'static str) -> Result<Vec<u8>, Error> {
    let nonce = decode_b64(nonce.unwrap_or_default(), frame, "nonce")?;
    if nonce.len() == v2::NONCE_LEN {
        Ok(nonce)
    } else {
        Err(ProtocolError::InvalidBase64 {
            frame,
            field: "nonce",
        }
        .into())
    }
}
