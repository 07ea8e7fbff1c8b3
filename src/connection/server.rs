//! The server's steps: the version and suite choice, key agreement for
//! `ALGORITHMS` (v1, or v2 with key confirmation; a v1 client also rotates
//! with it), and opening protected records.

use alloc::boxed::Box;
use alloc::string::ToString;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::client::{decode_b64, decode_nonce};
use super::v2::{self, Channel, Inner};
use super::{Connection, Established, Event, Phase, Role, State, Version};
use crate::dh::{Group, KeyPair, NamedGroup};
use crate::error::{Error, ProtocolError};
use crate::message::Message;
use crate::record::V1Protector;
use crate::schedule::V1Secrets;
use crate::schedule::v2::{EpochSecrets, hash};
use crate::suite::Offer;
use crate::wire::{Algorithms, ErrorFrame, Exchange, Frame, SecureX};

impl Connection {
    pub(super) fn server_frame(&mut self, frame: Frame, bytes: &[u8]) -> Result<(), Error> {
        match (self.state(), frame) {
            (State::Negotiating, Frame::Algorithms(hello)) => {
                let v2_allowed = self.config.versions.contains(&Version::V2);
                match hello.version {
                    Some(v2::VERSION) if v2_allowed => self.answer_v2(&hello, bytes),
                    // A v1-only server ignores the fields it does not know,
                    // as existing servers do, and answers in v1.
                    None | Some(v2::VERSION) => self.answer_v1(&hello, true),
                    Some(version) => Err(ProtocolError::VersionRefused { version }.into()),
                }
            }
            // A v1 client rotates by sending ALGORITHMS again, at any time.
            (State::Established, Frame::Algorithms(hello)) if self.version == Some(Version::V1) => {
                self.answer_v1(&hello, false)
            }
            (State::Established, Frame::SecureX(record)) if self.version == Some(Version::V1) => {
                self.on_v1_record(&record)
            }
            (State::Handshaking, Frame::Record(record)) => {
                let Phase::Handshaking(channel) = &mut self.phase else {
                    unreachable!("state is Handshaking");
                };
                Connection::check_finished(channel, &record, true)?;
                let Phase::Handshaking(channel) =
                    core::mem::replace(&mut self.phase, Phase::ServerNegotiating)
                else {
                    unreachable!("state is Handshaking");
                };
                self.establish(Established::V2(channel), true);
                Ok(())
            }
            (State::Established | State::Rotating, Frame::Record(record))
                if self.version == Some(Version::V2) =>
            {
                self.on_established_record(&record)
            }
            (_, frame) => Err(self.unexpected(&frame)),
        }
    }

    /// v1: chooses the suite, checks the client's group and key, derives
    /// the epoch's keys from a fresh key pair, and answers `EXCHANGE`.
    /// Nothing changes unless all of it succeeds.
    fn answer_v1(&mut self, hello: &Algorithms, first: bool) -> Result<(), Error> {
        // v1 cannot authenticate: a server with a PSK refuses it.
        if !self.config.versions.contains(&Version::V1) || self.config.psk.is_some() {
            return Err(ProtocolError::VersionRefused { version: 1 }.into());
        }
        let offer = Offer::from_wire_names(&hello.ciphers, &hello.modes, &hello.hash);
        let suite = offer.choose_v1(&self.config.offer)?;
        let group = Group::from_pem(
            &decode_b64(&hello.params, "ALGORITHMS", "params")?,
            self.config.max_group_bits,
        )?;
        if group.bits() < self.config.min_group_bits
            || (group.named_group().is_none() && !self.config.accept_adhoc_groups)
        {
            return Err(ProtocolError::GroupRefused { bits: group.bits() }.into());
        }
        let client_key = group.public_key_from_pem(&decode_b64(
            &hello.public_key,
            "ALGORITHMS",
            "public_key",
        )?)?;
        let key = KeyPair::generate(&group, &mut self.rng);
        let z = key.agree(&client_key)?;
        let protector = V1Protector::new(suite, V1Secrets::derive(z.as_bytes(), suite.cipher()));
        self.push_frame(&Frame::Exchange(Exchange::v1(
            BASE64.encode(key.public_key().to_pem()),
            suite.to_string(),
        )));
        self.establish(
            Established::V1 {
                protector: Box::new(protector),
                sent_in_epoch: 0,
            },
            first,
        );
        Ok(())
    }

    /// v2: checks the version, groups, PSK and suite, agrees a key in the
    /// client's first group, answers `EXCHANGE` and, at once, its
    /// FINISHED, bound to both hellos exactly as they were sent.
    fn answer_v2(&mut self, hello: &Algorithms, hello_bytes: &[u8]) -> Result<(), Error> {
        if !self.config.versions.contains(&Version::V2) {
            return Err(ProtocolError::VersionRefused { version: 2 }.into());
        }
        let not_accepted = || ProtocolError::GroupNotAccepted {
            accepted: v2::group_names(&self.config.groups),
        };
        let first: Option<NamedGroup> = hello
            .groups
            .as_ref()
            .and_then(|groups| groups.first())
            .and_then(|name| name.parse().ok());
        let named = first
            .filter(|g| self.config.groups.contains(g))
            .ok_or_else(not_accepted)?;
        let group = Group::from_pem(
            &decode_b64(&hello.params, "ALGORITHMS", "params")?,
            self.config.max_group_bits,
        )?;
        if group.named_group() != Some(named) {
            return Err(not_accepted().into());
        }
        let psk = match (&self.config.psk, &hello.psk_id) {
            (None, None) => None,
            (Some(psk), Some(id)) if id == psk.id() => Some(psk.key()),
            _ => return Err(ProtocolError::PskMismatch.into()),
        };
        decode_nonce(hello.nonce.as_deref(), "ALGORITHMS")?;
        let offer = Offer::from_wire_names(&hello.ciphers, &hello.modes, &hello.hash);
        let accepted = v2::v2_offer(&self.config.offer, self.config.legacy_suites);
        let suite = offer.choose_v2(&accepted)?;
        let client_key = group.public_key_from_pem(&decode_b64(
            &hello.public_key,
            "ALGORITHMS",
            "public_key",
        )?)?;

        // A client that pins our static key gets Z_es from it.
        let z_es = match (&hello.server_key, &self.config.static_key) {
            (None, _) => None,
            (Some(fingerprint), Some(ours))
                if ours.key_pair().group() == &group
                    && decode_b64(fingerprint, "ALGORITHMS", "server_key")?
                        == ours.key_pair().public_key().fingerprint() =>
            {
                Some(ours.key_pair().agree(&client_key)?)
            }
            (Some(_), _) => return Err(ProtocolError::UnknownServerKey.into()),
        };
        let key = KeyPair::generate(&group, &mut self.rng);
        let z = key.agree(&client_key)?;
        let mut nonce = [0u8; v2::NONCE_LEN];
        self.rng.fill_bytes(&mut nonce);
        let mut exchange =
            Exchange::v1(BASE64.encode(key.public_key().to_pem()), suite.to_string());
        exchange.version = Some(v2::VERSION);
        exchange.nonce = Some(BASE64.encode(nonce));
        exchange.group = Some(named.wire_name().into());
        let exchange_bytes = Frame::Exchange(exchange).encode();
        let th = hash(suite.hash(), &[hello_bytes, &exchange_bytes]);
        let secrets = EpochSecrets::handshake(
            suite,
            psk,
            z.as_bytes(),
            z_es.as_ref().map(|z| z.as_bytes()),
            &th,
        );
        let mut channel = Channel::new(Role::Server, secrets, group, 0);

        self.outgoing.extend_from_slice(&exchange_bytes);
        self.outgoing
            .extend_from_slice(crate::wire::codec::DELIMITER);
        let finished = Inner::Finished(channel.secrets.finished(false));
        Connection::push_sealed(&mut channel, &mut *self.rng, &mut self.outgoing, &finished)?;
        self.phase = Phase::Handshaking(Box::new(channel));
        Ok(())
    }

    fn on_v1_record(&mut self, record: &SecureX) -> Result<(), Error> {
        let Phase::Established(established) = &self.phase else {
            unreachable!("state is Established");
        };
        let Established::V1 { protector, .. } = &**established else {
            unreachable!("version is V1");
        };
        let message = Message::from_v1_json(&protector.open(record)?)?;
        self.accept_from_client(message)
    }

    fn accept_from_client(&mut self, message: Message) -> Result<(), Error> {
        if !message.is_from_client() {
            return Err(ProtocolError::UnexpectedMessage {
                message: message.type_name(),
            }
            .into());
        }
        self.events.push_back(Event::Message(message));
        Ok(())
    }

    /// v1: sends `OK`, or `ERROR` and closes, in plaintext.
    pub(super) fn server_transmit(&mut self, message: Message) -> Result<(), Message> {
        if !matches!(self.phase, Phase::Established(_)) {
            return Err(message);
        }
        match message {
            Message::Error { message } => {
                self.push_frame(&Frame::Error(ErrorFrame { message }));
                self.close();
            }
            _ => self.push_frame(&Frame::Ok),
        }
        Ok(())
    }
}
