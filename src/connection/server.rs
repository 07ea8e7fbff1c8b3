//! The server's steps: the suite choice, key agreement for `ALGORITHMS`
//! (first or rotation), and opening protected records.

use alloc::string::ToString;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{Connection, Event, Phase, Version};
use crate::dh::{Group, KeyPair};
use crate::error::{Error, ProtocolError};
use crate::message::Message;
use crate::record::V1Protector;
use crate::schedule::V1Secrets;
use crate::suite::Offer;
use crate::wire::{Algorithms, ErrorFrame, Exchange, Frame};

impl Connection {
    pub(super) fn server_frame(&mut self, frame: Frame) -> Result<(), Error> {
        match (&self.phase, frame) {
            (Phase::ServerNegotiating, Frame::Algorithms(algorithms)) => {
                let (protector, exchange) = self.answer(&algorithms)?;
                self.push_frame(&Frame::Exchange(exchange));
                self.establish(Version::V1, protector, true);
                Ok(())
            }
            // A v1 client rotates by sending ALGORITHMS again, at any time.
            (Phase::Established(_), Frame::Algorithms(algorithms)) => {
                let (protector, exchange) = self.answer(&algorithms)?;
                self.push_frame(&Frame::Exchange(exchange));
                self.establish(Version::V1, protector, false);
                Ok(())
            }
            (Phase::Established(established), Frame::SecureX(record)) => {
                let inner = established.protector.open(&record)?;
                let message = Message::from_v1_json(&inner)?;
                if !message.is_from_client() {
                    return Err(ProtocolError::UnexpectedMessage {
                        message: message.type_name(),
                    }
                    .into());
                }
                self.events.push_back(Event::Message(message));
                Ok(())
            }
            (_, frame) => Err(self.unexpected(&frame)),
        }
    }

    /// Chooses the suite, checks the client's group and key, and derives
    /// the epoch's keys from a fresh key pair. Nothing changes unless all
    /// of it succeeds.
    fn answer(&mut self, algorithms: &Algorithms) -> Result<(V1Protector, Exchange), Error> {
        let offer =
            Offer::from_wire_names(&algorithms.ciphers, &algorithms.modes, &algorithms.hash);
        let suite = offer.choose_v1(&self.config.offer)?;
        let decode = |field: &'static str, value: &str| {
            BASE64
                .decode(value)
                .map_err(|_| ProtocolError::InvalidBase64 {
                    frame: "ALGORITHMS",
                    field,
                })
        };
        let group = Group::from_pem(
            &decode("params", &algorithms.params)?,
            self.config.max_group_bits,
        )?;
        if group.bits() < self.config.min_group_bits
            || (group.named_group().is_none() && !self.config.accept_adhoc_groups)
        {
            return Err(ProtocolError::GroupRefused { bits: group.bits() }.into());
        }
        let client_key =
            group.public_key_from_pem(&decode("public_key", &algorithms.public_key)?)?;
        let key = KeyPair::generate(&group, &mut self.rng);
        let z = key.agree(&client_key)?;
        let protector = V1Protector::new(suite, V1Secrets::derive(z.as_bytes(), suite.cipher()));
        let exchange = Exchange::v1(BASE64.encode(key.public_key().to_pem()), suite.to_string());
        Ok((protector, exchange))
    }

    /// v1 servers answer in plaintext: `OK`, or `ERROR` and close.
    pub(super) fn server_transmit(&mut self, message: Message) -> Result<(), Message> {
        match message {
            Message::Error { message } => {
                self.push_frame(&Frame::Error(ErrorFrame { message }));
                self.close();
                Ok(())
            }
            Message::Ok if matches!(self.phase, Phase::Established(_)) => {
                self.push_frame(&Frame::Ok);
                Ok(())
            }
            other => Err(other),
        }
    }
}
