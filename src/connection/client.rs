//! The client's steps: the offer, key agreement from `EXCHANGE`, sealing,
//! and the v1 rotation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{ClientHello, Connection, Event, Phase, Timer, Version};
use crate::dh::{Group, KeyPair};
use crate::error::{Error, ProtocolError};
use crate::message::Message;
use crate::record::V1Protector;
use crate::schedule::V1Secrets;
use crate::suite::CipherSuite;
use crate::wire::{Algorithms, Exchange, Frame};

impl Connection {
    /// Sends `ALGORITHMS` with a fresh key pair in the configured group.
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
        ClientHello { key }
    }

    pub(super) fn client_frame(&mut self, frame: Frame) -> Result<(), Error> {
        match (&self.phase, frame) {
            (Phase::ClientNegotiating(hello), Frame::Exchange(exchange)) => {
                let protector = self.agree(hello, &exchange)?;
                self.establish(Version::V1, protector, true);
                Ok(())
            }
            (Phase::ClientRotating(hello), Frame::Exchange(exchange)) => {
                let protector = self.agree(hello, &exchange)?;
                self.establish(Version::V1, protector, false);
                Ok(())
            }
            (Phase::Established(_) | Phase::ClientRotating(_), Frame::Ok) => {
                self.events.push_back(Event::Message(Message::Ok));
                Ok(())
            }
            (_, frame) => Err(self.unexpected(&frame)),
        }
    }

    /// Checks the server's choice and key, and derives the epoch's keys.
    /// Nothing changes unless all of it succeeds.
    fn agree(&self, hello: &ClientHello, exchange: &Exchange) -> Result<V1Protector, Error> {
        let suite: CipherSuite = exchange.ciphersuite.parse()?;
        self.config.offer.check_choice(suite)?;
        let pem = BASE64
            .decode(&exchange.value)
            .map_err(|_| ProtocolError::InvalidBase64 {
                frame: "EXCHANGE",
                field: "value",
            })?;
        let server_key = hello.key.group().public_key_from_pem(&pem)?;
        let z = hello.key.agree(&server_key)?;
        Ok(V1Protector::new(
            suite,
            V1Secrets::derive(z.as_bytes(), suite.cipher()),
        ))
    }

    /// Seals a message in the current epoch, first starting a rotation if
    /// the epoch is used up; gives the message back if it must wait.
    pub(super) fn client_transmit(&mut self, message: Message) -> Result<(), Message> {
        let Phase::Established(established) = &mut self.phase else {
            return Err(message);
        };
        let used_up = self
            .config
            .rotate_after_frames
            .is_some_and(|n| established.sent_in_epoch >= n);
        if used_up {
            let hello = self.send_algorithms();
            self.phase = Phase::ClientRotating(hello);
            self.arm(Timer::Handshake, self.config.handshake_timeout);
            return Err(message);
        }
        established.sent_in_epoch += 1;
        let sealed = established
            .protector
            .seal_random(&mut self.rng, &message.to_v1_json());
        self.push_frame(&Frame::SecureX(sealed));
        Ok(())
    }
}
