//! What both roles share in v2: the protected channel of an epoch, the
//! connection's own records (FINISHED), and the mapping of records to
//! `SECURE_X` frames.

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{Connection, Role};
use crate::dh::NamedGroup;
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

/// The protected channel of one epoch: a sealer for what this side sends,
/// an opener for what it receives, and the secrets the next epoch derives
/// from.
pub(super) struct Channel {
    pub(super) sealer: V2Sealer,
    pub(super) opener: V2Opener,
    pub(super) secrets: EpochSecrets,
}

impl Channel {
    /// The channel of `secrets` for `role` in `epoch`.
    pub(super) fn new(role: Role, secrets: EpochSecrets, epoch: u32) -> Channel {
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
        }
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
}

impl Inner {
    pub(super) fn encode(&self) -> Vec<u8> {
        match self {
            Inner::App(message) => message.to_v2_bytes(),
            Inner::Finished(value) => [&[FINISHED][..], value].concat(),
        }
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Inner, FrameError> {
        if let Some(app) = Message::from_v2_bytes(bytes) {
            return app.map(Inner::App);
        }
        match bytes.split_first() {
            Some((&FINISHED, value)) => Ok(Inner::Finished(value.to_vec())),
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
        }
    }
}
