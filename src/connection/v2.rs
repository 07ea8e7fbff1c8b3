//! What both roles share in v2: the protected channel of an epoch, the
//! connection's own records (FINISHED), and the mapping of records to
//! `SECURE_X` frames.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use alloc::boxed::Box;

use super::{Connection, Established, Event, Phase, Role, Timer};
use crate::config::{Config, TDES_MAX_BYTES_PER_KEY};
use crate::dh::{Group, KeyPair, NamedGroup};
use crate::error::{Error, FrameError, ProtocolError, RecordError};
use crate::message::Message;
use crate::record::{V2DirectionKeys, V2Opener, V2Record, V2Sealer};
use crate::schedule::v2::{DirectionSecrets, EpochSecrets};
use crate::suite::{Cipher, CipherSuite, Mode, Offer};
use crate::wire::{Frame, Record};

/// The version number v2 frames carry.
pub(super) const VERSION: u32 = 2;
/// Bytes of the random nonces of both hellos.
pub(super) const NONCE_LEN: usize = 32;
/// The type byte of FINISHED records.
const FINISHED: u8 = 0x10;
/// The type byte of REKEY records.
const REKEY: u8 = 0x11;
/// The type byte of REKEY_ACK records.
const REKEY_ACK: u8 = 0x12;

/// The protected channel of one epoch: a sealer for what this side sends,
/// an opener for what it receives, and the secrets the next epoch derives
/// from.
pub(super) struct Channel {
    pub(super) sealer: V2Sealer,
    pub(super) opener: V2Opener,
    pub(super) secrets: EpochSecrets,
    /// The group of the handshake; rotations agree new keys in it.
    pub(super) group: Group,
    /// Application records and bytes sealed in this epoch.
    pub(super) sent_records: u64,
    pub(super) sent_bytes: u64,
}

/// An epoch whose rotation this side started: the REKEY is out.
pub(super) struct Rekeying {
    pub(super) channel: Channel,
    /// The fresh key pair our REKEY carried, and its public value as sent.
    key: KeyPair,
    public: Vec<u8>,
}

impl Channel {
    /// The channel of `secrets` for `role` in `epoch`.
    pub(super) fn new(role: Role, secrets: EpochSecrets, group: Group, epoch: u32) -> Channel {
        let suite = secrets.suite();
        let keys = |d: &DirectionSecrets| {
            V2DirectionKeys::new(suite, &d.enc_key, &d.mac_key, &d.static_iv)
                .expect("the schedule derives keys of the suite's lengths")
        };
        let (send, receive) = match role {
            Role::Client => (keys(&secrets.c2s), keys(&secrets.s2c)),
            Role::Server => (keys(&secrets.s2c), keys(&secrets.c2s)),
        };
        Channel {
            sealer: V2Sealer::new(send, epoch),
            opener: V2Opener::new(receive, epoch),
            secrets,
            group,
            sent_records: 0,
            sent_bytes: 0,
        }
    }

    /// Whether sending `len` more bytes of application data must wait for
    /// a rotation (never in a fresh epoch).
    fn rekey_due(&self, config: &Config, len: usize) -> bool {
        let mut byte_limit = config.rekey_after_bytes.unwrap_or(u64::MAX);
        if self.suite().cipher() == Cipher::TripleDes {
            byte_limit = byte_limit.min(TDES_MAX_BYTES_PER_KEY);
        }
        let fresh = self.sent_records == 0;
        !fresh
            && (config
                .rekey_after_records
                .is_some_and(|n| self.sent_records >= n)
                || self.sent_bytes.saturating_add(len as u64) > byte_limit)
    }

    pub(super) fn suite(&self) -> CipherSuite {
        self.secrets.suite()
    }
}

/// What a v2 record carries.
pub(super) enum Inner {
    /// An application message.
    App(Message),
    /// Key confirmation: HMAC(FINISHED key, TH).
    Finished(Vec<u8>),
    /// A rotation's start: the initiator's fresh public value.
    Rekey(Vec<u8>),
    /// A rotation's answer: the responder's fresh public value.
    RekeyAck(Vec<u8>),
}

impl Inner {
    pub(super) fn encode(&self) -> Vec<u8> {
        match self {
            Inner::App(message) => message.to_v2_bytes(),
            Inner::Finished(value) => [&[FINISHED][..], value].concat(),
            Inner::Rekey(public) => [&[REKEY][..], public].concat(),
            Inner::RekeyAck(public) => [&[REKEY_ACK][..], public].concat(),
        }
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Inner, FrameError> {
        if let Some(app) = Message::from_v2_bytes(bytes) {
            return app.map(Inner::App);
        }
        match bytes.split_first() {
            Some((&FINISHED, value)) => Ok(Inner::Finished(value.to_vec())),
            Some((&REKEY, public)) => Ok(Inner::Rekey(public.to_vec())),
            Some((&REKEY_ACK, public)) => Ok(Inner::RekeyAck(public.to_vec())),
            Some((&code, _)) => Err(FrameError::UnknownType(alloc::format!("0x{code:02x}"))),
            None => Err(FrameError::InvalidFields {
                frame: "SECURE_X",
                detail: String::from("empty record"),
            }),
        }
    }
}

/// A sealed record as a frame.
pub(super) fn record_frame(record: V2Record) -> Frame {
    Frame::Record(Record {
        epoch: record.epoch,
        seq: record.seq,
        payload: BASE64.encode(&record.ciphertext),
        iv: (!record.iv.is_empty()).then(|| BASE64.encode(&record.iv)),
        hash: (!record.mac.is_empty()).then(|| base16ct::lower::encode_string(&record.mac)),
    })
}

/// A frame's record, its binary fields decoded.
pub(super) fn frame_record(record: &Record) -> Result<V2Record, Error> {
    let base64 = |field, value: &str| {
        BASE64
            .decode(value)
            .map_err(|_| RecordError::InvalidBase64 { field })
    };
    Ok(V2Record {
        epoch: record.epoch,
        seq: record.seq,
        ciphertext: base64("payload", &record.payload)?,
        iv: record
            .iv
            .as_deref()
            .map(|iv| base64("iv", iv))
            .transpose()?
            .unwrap_or_default(),
        mac: match &record.hash {
            Some(hex) => base16ct::mixed::decode_vec(hex)
                .map_err(|_| RecordError::InvalidHex { field: "hash" })?,
            None => Vec::new(),
        },
    })
}

/// `offer` without the legacy suites' cipher and mode unless allowed.
pub(super) fn v2_offer(offer: &Offer, legacy: bool) -> Offer {
    let mut offer = offer.clone();
    if !legacy {
        offer.ciphers.retain(|&c| c != Cipher::TripleDes);
        offer.modes.retain(|&m| m != Mode::Ecb);
    }
    offer
}

/// The names of groups, comma-separated, for error messages.
pub(super) fn group_names(groups: &[NamedGroup]) -> String {
    let names: Vec<&str> = groups.iter().map(|g| g.wire_name()).collect();
    names.join(",")
}

impl Connection {
    /// Opens a record in `channel` and decodes what it carries.
    pub(super) fn open_inner(channel: &mut Channel, record: &Record) -> Result<Inner, Error> {
        let plaintext = channel.opener.open(&frame_record(record)?)?;
        Ok(Inner::decode(&plaintext)?)
    }

    /// Checks the peer's FINISHED, the first record it sends. Its keys
    /// are bound to both hellos, so a changed hello (or another PSK) shows
    /// as a record that does not open: that, too, is `BadFinished`.
    pub(super) fn check_finished(
        channel: &mut Channel,
        record: &Record,
        peer_is_client: bool,
    ) -> Result<(), Error> {
        let inner = Connection::open_inner(channel, record).map_err(|e| match e {
            Error::Record(RecordError::Decrypt) => ProtocolError::BadFinished.into(),
            other => other,
        })?;
        match inner {
            Inner::Finished(value) if channel.secrets.verify_finished(peer_is_client, &value) => {
                Ok(())
            }
            Inner::Finished(_) => Err(ProtocolError::BadFinished.into()),
            Inner::App(message) => Err(ProtocolError::UnexpectedMessage {
                message: message.type_name(),
            }
            .into()),
            Inner::Rekey(_) | Inner::RekeyAck(_) => {
                Err(ProtocolError::UnexpectedMessage { message: "REKEY" }.into())
            }
        }
    }

    /// Sends an application message in an established v2 epoch, first
    /// starting a rotation if the epoch is used up; gives the message back
    /// if it must wait. A server's `ERROR` closes the connection.
    pub(super) fn v2_transmit(&mut self, message: Message) -> Result<(), Message> {
        let Phase::Established(established) = &mut self.phase else {
            return Err(message);
        };
        let Established::V2(channel) = &mut **established else {
            return Err(message);
        };
        let len = super::payload_len(&message);
        if channel.rekey_due(&self.config, len) {
            self.start_rekey();
            return Err(message);
        }
        let closing = matches!(message, Message::Error { .. });
        let inner = Inner::App(message);
        if Connection::push_sealed(channel, &mut *self.rng, &mut self.outgoing, &inner).is_err() {
            // Sequence numbers used up: far beyond every rotation limit.
            let Inner::App(message) = inner else {
                unreachable!("built as App above")
            };
            return Err(message);
        }
        channel.sent_records += 1;
        channel.sent_bytes += len as u64;
        if closing {
            self.close();
        }
        Ok(())
    }

    /// Starts a rotation: a fresh key pair, a REKEY record; what the
    /// application sends now waits for REKEY_ACK. Does nothing unless an
    /// established v2 epoch is current.
    pub(super) fn start_rekey(&mut self) {
        let Phase::Established(established) = &self.phase else {
            return;
        };
        if !matches!(**established, Established::V2(_)) {
            return;
        }
        let Phase::Established(established) =
            core::mem::replace(&mut self.phase, Phase::ServerNegotiating)
        else {
            unreachable!("checked above");
        };
        let Established::V2(mut channel) = *established else {
            unreachable!("checked above");
        };
        let key = KeyPair::generate(&channel.group, &mut *self.rng);
        let public = padded_public(&key);
        let sent = Connection::push_sealed(
            &mut channel,
            &mut *self.rng,
            &mut self.outgoing,
            &Inner::Rekey(public.clone()),
        );
        self.phase = Phase::Rekeying(Box::new(Rekeying {
            channel: *channel,
            key,
            public,
        }));
        match sent {
            Ok(()) => self.arm(Timer::Handshake, self.config.handshake_timeout),
            Err(error) => {
                self.fail(error);
            }
        }
    }

    /// A v2 record in an established (or rotating) epoch, from either
    /// role's peer.
    pub(super) fn on_established_record(&mut self, record: &Record) -> Result<(), Error> {
        let channel = match &mut self.phase {
            Phase::Established(established) => match &mut **established {
                Established::V2(channel) => &mut **channel,
                Established::V1 { .. } => {
                    return Err(self.unexpected(&Frame::Record(record.clone())));
                }
            },
            Phase::Rekeying(rekeying) => &mut rekeying.channel,
            _ => return Err(self.unexpected(&Frame::Record(record.clone()))),
        };
        match Connection::open_inner(channel, record)? {
            Inner::App(Message::Error { message }) => Err(ProtocolError::PeerError(message).into()),
            // Each side accepts only the other role's messages.
            Inner::App(message) if message.is_from_client() == (self.role == Role::Server) => {
                self.events.push_back(Event::Message(message));
                Ok(())
            }
            Inner::App(message) => Err(ProtocolError::UnexpectedMessage {
                message: message.type_name(),
            }
            .into()),
            Inner::Finished(_) => Err(ProtocolError::UnexpectedMessage {
                message: "FINISHED",
            }
            .into()),
            Inner::Rekey(public) => self.on_rekey(&public),
            Inner::RekeyAck(public) => self.on_rekey_ack(&public),
        }
    }

    /// The peer started a rotation. If ours is out too, the client's wins:
    /// a client ignores the server's REKEY (its own will be answered), a
    /// server abandons its own and answers the client's.
    fn on_rekey(&mut self, initiator_public: &[u8]) -> Result<(), Error> {
        let epoch = self.epoch + 1;
        let role = self.role;
        let channel = match &mut self.phase {
            Phase::Rekeying(_) if role == Role::Client => return Ok(()),
            Phase::Rekeying(rekeying) => &mut rekeying.channel,
            Phase::Established(established) => match &mut **established {
                Established::V2(channel) => &mut **channel,
                Established::V1 { .. } => unreachable!("v2 records only"),
            },
            _ => unreachable!("called from established phases"),
        };
        let peer = channel.group.public_key_from_bytes(initiator_public)?;
        let key = KeyPair::generate(&channel.group, &mut *self.rng);
        let z = key.agree(&peer)?;
        let own = padded_public(&key);
        let suite = channel.suite();
        let secrets = channel
            .secrets
            .rotate(suite, epoch, z.as_bytes(), initiator_public, &own);
        // The answer goes out under the old keys; ours switch right after.
        Connection::push_sealed(
            channel,
            &mut *self.rng,
            &mut self.outgoing,
            &Inner::RekeyAck(own),
        )?;
        let next = Channel::new(role, secrets, channel.group.clone(), epoch);
        self.establish(Established::V2(Box::new(next)), false);
        Ok(())
    }

    /// The peer answered our rotation: both directions switch now.
    fn on_rekey_ack(&mut self, responder_public: &[u8]) -> Result<(), Error> {
        let epoch = self.epoch + 1;
        let Phase::Rekeying(rekeying) = &self.phase else {
            return Err(ProtocolError::UnexpectedMessage {
                message: "REKEY_ACK",
            }
            .into());
        };
        let channel = &rekeying.channel;
        let peer = channel.group.public_key_from_bytes(responder_public)?;
        let z = rekeying.key.agree(&peer)?;
        let suite = channel.suite();
        let secrets = channel.secrets.rotate(
            suite,
            epoch,
            z.as_bytes(),
            &rekeying.public,
            responder_public,
        );
        let next = Channel::new(self.role, secrets, channel.group.clone(), epoch);
        self.establish(Established::V2(Box::new(next)), false);
        Ok(())
    }
}

/// A public value as REKEY and REKEY_ACK carry it: big-endian, padded to
/// the length of p.
fn padded_public(key: &KeyPair) -> Vec<u8> {
    let bytes = key.public_key().to_bytes();
    let mut out = alloc::vec![0u8; key.group().byte_len() - bytes.len()];
    out.extend_from_slice(&bytes);
    out
}
