//! v2 once keys exist, for both roles: the protected channel of an epoch,
//! the inner messages of records, the handshake awaiting the peer's
//! FINISHED, the established phase and its rotation (REKEY / REKEY_ACK).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use std::time::Instant;

use super::finished::{self, PeerVerified};
use super::phase::{Failed, Phase, Sent};
use super::timer::Slot;
use super::{Core, Event, Role, State, Version, payload_len, unexpected};
use crate::config::{Config, Extension, TDES_MAX_BYTES_PER_KEY};
use crate::dh::{Group, KeyPair, NamedGroup};
use crate::error::{Error, FrameError, ProtocolError};
use crate::keylog::Logger;
use crate::message::Message;
use crate::record::{V2DirectionKeys, V2Opener, V2Sealer};
use crate::schedule::v2::{DirectionSecrets, EpochSecrets};
use crate::suite::{Cipher, CipherSuite, Mode, Offer};
use crate::wire::Frame;
use crate::wire::record::{self as fast, Received};

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
    sealer: V2Sealer,
    opener: V2Opener,
    pub(super) secrets: EpochSecrets,
    /// The group of the handshake; rotations agree new keys in it.
    group: Group,
    /// Application records and bytes sealed in this epoch.
    sent_records: u64,
    sent_bytes: u64,
    /// Bytes of the application records' frames sent and received in this
    /// epoch, and the records received (for `Config::rekey_min_bytes`).
    sent_frame_bytes: u64,
    received_frame_bytes: u64,
    received_records: u64,
}

impl Channel {
    /// The channel of `secrets` for `role` in `epoch`; its keys go to the
    /// key log, if one is on.
    pub(super) fn new(
        role: Role,
        secrets: EpochSecrets,
        group: Group,
        epoch: u32,
        log: Option<&Logger>,
    ) -> Result<Channel, Error> {
        if let Some(log) = log {
            log.v2(epoch, &secrets);
        }
        let suite = secrets.suite();
        let keys = |d: &DirectionSecrets| V2DirectionKeys::from_secrets(suite, d);
        let (send, receive) = match role {
            Role::Client => (keys(secrets.c2s())?, keys(secrets.s2c())?),
            Role::Server => (keys(secrets.s2c())?, keys(secrets.c2s())?),
        };
        Ok(Channel {
            sealer: V2Sealer::new(send, epoch),
            opener: V2Opener::new(receive, epoch),
            secrets,
            group,
            sent_records: 0,
            sent_bytes: 0,
            sent_frame_bytes: 0,
            received_frame_bytes: 0,
            received_records: 0,
        })
    }

    pub(super) fn suite(&self) -> CipherSuite {
        self.secrets.suite()
    }

    /// Seals `inner` into the connection's output; returns the frame's
    /// length.
    pub(super) fn seal_into(&mut self, core: &mut Core, inner: &Inner) -> Result<usize, Error> {
        let (type_byte, body) = inner.parts();
        self.seal_parts(core, type_byte, &body)
    }

    /// Seals the inner plaintext `type_byte ‖ body` straight into the
    /// connection's output; returns the frame's length.
    fn seal_parts(&mut self, core: &mut Core, type_byte: u8, body: &[u8]) -> Result<usize, Error> {
        let start = core.outgoing.len();
        fast::write(
            &mut core.outgoing,
            &mut self.sealer,
            &mut *core.rng,
            type_byte,
            body,
        )?;
        let len = core.outgoing.len() - start;
        core.frame_written();
        Ok(len)
    }

    /// The bytes of application records a side must send in an epoch
    /// before it starts a rotation, the same for both sides:
    /// `Config::rekey_min_bytes` for ffdhe2048, scaled by the square of the
    /// group's size for larger groups (whose exponentiations cost about
    /// that much more), and never more than half of what a 3DES key may
    /// protect.
    fn rekey_min(&self, config: &Config) -> u64 {
        let bits = u64::from(self.group.bits());
        let mut min = config.rekey_min_bytes.saturating_mul(bits * bits) / (2048 * 2048);
        if self.suite().cipher() == Cipher::TripleDes {
            min = min.min(TDES_MAX_BYTES_PER_KEY / 2);
        }
        min
    }

    /// Whether this side may start a rotation: the epoch has carried
    /// [`Channel::rekey_min`] of application records.
    fn may_rekey(&self, config: &Config) -> bool {
        self.sent_frame_bytes >= self.rekey_min(config)
    }

    /// An application record of `len` bytes was received.
    fn received(&mut self, len: usize) {
        self.received_records += 1;
        self.received_frame_bytes = self.received_frame_bytes.saturating_add(len as u64);
    }

    /// Opens a record and decodes what it carries.
    pub(super) fn open_inner(&mut self, record: Received) -> Result<Inner, Error> {
        let plaintext = self.opener.open_owned(record.decode()?)?;
        Ok(Inner::decode(plaintext)?)
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
            && self.may_rekey(config)
            && (config
                .rekey_after_records
                .is_some_and(|n| self.sent_records >= n)
                || self.sent_bytes.saturating_add(len as u64) > byte_limit)
    }

    /// The channel of the next epoch, from the rotation's shared secret
    /// and both public values as sent.
    fn next(
        &self,
        role: Role,
        log: Option<&Logger>,
        epoch: u32,
        z: &[u8],
        initiator_public: &[u8],
        responder_public: &[u8],
    ) -> Result<Channel, Error> {
        let secrets =
            self.secrets
                .rotate(self.suite(), epoch, z, initiator_public, responder_public);
        Channel::new(role, secrets, self.group.clone(), epoch, log)
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
    /// The type byte and the body of the inner plaintext.
    pub(super) fn parts(&self) -> (u8, Cow<'_, [u8]>) {
        match self {
            Inner::App(message) => message.v2_parts(),
            Inner::Finished(value) => (FINISHED, Cow::Borrowed(value)),
            Inner::Rekey(public) => (REKEY, Cow::Borrowed(public)),
            Inner::RekeyAck(public) => (REKEY_ACK, Cow::Borrowed(public)),
        }
    }

    pub(super) fn decode(bytes: Vec<u8>) -> Result<Inner, FrameError> {
        let inner = match bytes.split_first() {
            Some((&FINISHED, value)) => Inner::Finished(value.to_vec()),
            Some((&REKEY, public)) => Inner::Rekey(public.to_vec()),
            Some((&REKEY_ACK, public)) => Inner::RekeyAck(public.to_vec()),
            Some((&code, _)) => {
                return match Message::from_v2_vec(bytes) {
                    Some(app) => app.map(Inner::App),
                    None => Err(FrameError::UnknownType(alloc::format!("0x{code:02x}"))),
                };
            }
            None => {
                return Err(FrameError::InvalidFields {
                    frame: "SECURE_X",
                    detail: String::from("empty record"),
                });
            }
        };
        Ok(inner)
    }

    /// The name of what the record carries, for errors.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Inner::App(message) => message.type_name(),
            Inner::Finished(_) => "FINISHED",
            Inner::Rekey(_) => "REKEY",
            Inner::RekeyAck(_) => "REKEY_ACK",
        }
    }
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

/// The wire names of `extensions`, or `None` (the field left out) if
/// there are none.
pub(super) fn extension_names(extensions: &[Extension]) -> Option<Vec<String>> {
    (!extensions.is_empty()).then(|| {
        extensions
            .iter()
            .map(|e| String::from(e.wire_name()))
            .collect()
    })
}

/// Server: the extensions of the client's list (`offered`, names this
/// crate may not know, in the client's order) that `ours` lists too, each
/// once.
pub(super) fn agreed_extensions(ours: &[Extension], offered: Option<&[String]>) -> Vec<Extension> {
    let mut agreed = Vec::new();
    for name in offered.unwrap_or_default() {
        if let Some(e) = Extension::from_wire_name(name)
            && ours.contains(&e)
            && !agreed.contains(&e)
        {
            agreed.push(e);
        }
    }
    agreed
}

/// Client: the server's answer, which may hold only extensions we
/// offered, each once.
pub(super) fn answered_extensions(
    ours: &[Extension],
    answered: Option<&[String]>,
) -> Result<Vec<Extension>, Error> {
    let mut agreed = Vec::new();
    for name in answered.unwrap_or_default() {
        match Extension::from_wire_name(name) {
            Some(e) if ours.contains(&e) && !agreed.contains(&e) => agreed.push(e),
            _ => {
                return Err(ProtocolError::UnexpectedExtension { name: name.clone() }.into());
            }
        }
    }
    Ok(agreed)
}

/// The names of groups, comma-separated, for error messages.
pub(super) fn group_names(groups: &[NamedGroup]) -> String {
    let names: Vec<&str> = groups.iter().map(|g| g.wire_name()).collect();
    names.join(",")
}

/// The handshake keys of v2 before the peer's FINISHED verified: nothing
/// but our own FINISHED is ever sealed with them.
pub(super) struct Handshake {
    channel: Channel,
}

impl Handshake {
    pub(super) fn new(channel: Channel) -> Handshake {
        Handshake { channel }
    }

    /// The peer's FINISHED, its first record: the only way to a
    /// [`Verified`] epoch. Before it verifies, nothing is told to the peer.
    fn verify_peer(
        self: Box<Self>,
        record: Received,
        peer_is_client: bool,
        now: Instant,
    ) -> Result<Box<Verified>, Failed> {
        let mut channel = self.channel;
        let proof =
            finished::verify(&mut channel, record, peer_is_client).map_err(Failed::silent)?;
        Ok(Box::new(Verified {
            channel,
            proof,
            started: now,
            rekey_wanted: false,
            deferred: None,
        }))
    }

    /// Client: the server's FINISHED, verified before anything but our own
    /// FINISHED is sent; ours goes out at once.
    pub(super) fn on_client_record(
        self: Box<Self>,
        core: &mut Core,
        record: Received,
    ) -> Result<Phase, Failed> {
        let mut verified = self.verify_peer(record, false, core.now)?;
        // The server is verified from here on: a failure may be told.
        let ours = Inner::Finished(verified.channel.secrets.finished(true));
        if let Err(error) = verified.channel.seal_into(core, &ours) {
            return Err(Failed::sealed(error, verified));
        }
        core.established(Version::V2, verified.channel.suite(), true);
        Ok(Phase::V2Established(verified))
    }

    /// Server: the client's FINISHED (ours went out with the `EXCHANGE`).
    pub(super) fn on_server_record(
        self: Box<Self>,
        core: &mut Core,
        record: Received,
    ) -> Result<Phase, Failed> {
        let verified = self.verify_peer(record, true, core.now)?;
        core.established(Version::V2, verified.channel.suite(), true);
        Ok(Phase::V2Established(verified))
    }
}

/// An established v2 epoch: its channel, and the proof that the peer's
/// FINISHED verified (made only by [`finished::verify`], carried over
/// from epoch to epoch).
pub(super) struct Verified {
    channel: Channel,
    proof: PeerVerified,
    /// When this epoch began.
    started: Instant,
    /// A rotation was asked for (by the rekey timer or the application)
    /// before the epoch allowed one; it starts as soon as it does.
    rekey_wanted: bool,
    /// The peer's REKEY, come sooner than `Config::min_rotation_interval`
    /// after the epoch began: answered when that time comes. Nothing else
    /// may arrive meanwhile (the peer waits for its REKEY_ACK).
    deferred: Option<Vec<u8>>,
}

impl Verified {
    /// One frame from the peer other than a record: refused.
    pub(super) fn on_frame(self: Box<Self>, frame: &Frame) -> Failed {
        let state = match self.deferred {
            Some(_) => State::Rotating,
            None => State::Established,
        };
        Failed::sealed(unexpected(frame.type_name(), state), self)
    }

    /// One record from the peer (`len` bytes as received), in this epoch.
    pub(super) fn on_record(
        mut self: Box<Self>,
        core: &mut Core,
        record: Received,
        len: usize,
    ) -> Result<Phase, Failed> {
        if self.deferred.is_some() {
            // The peer waits for REKEY_ACK: nothing may come meanwhile.
            let error = unexpected("SECURE_X", State::Rotating);
            return Err(Failed::sealed(error, self));
        }
        let inner = match self.channel.open_inner(record) {
            Ok(inner) => inner,
            Err(error) => return Err(Failed::sealed(error, self)),
        };
        match inner {
            Inner::Rekey(public) => self.on_peer_rekey(core, public),
            Inner::App(message) => {
                self.channel.received(len);
                match accept(core, message) {
                    Ok(()) => Ok(Phase::V2Established(self)),
                    Err(error) => Err(Failed::sealed(error, self)),
                }
            }
            other => {
                let error = ProtocolError::UnexpectedMessage {
                    message: other.type_name(),
                }
                .into();
                Err(Failed::sealed(error, self))
            }
        }
    }

    /// The peer's REKEY: refused if its epoch carried less than
    /// `Config::rekey_min_bytes` of application records, deferred if it
    /// came sooner than `Config::min_rotation_interval` after the epoch
    /// began, else answered now.
    fn on_peer_rekey(
        mut self: Box<Self>,
        core: &mut Core,
        public: Vec<u8>,
    ) -> Result<Phase, Failed> {
        let channel = &self.channel;
        if channel.received_frame_bytes < channel.rekey_min(&core.config) {
            let error = ProtocolError::RotationTooSoon {
                frames: channel.received_records,
                bytes: channel.received_frame_bytes,
            };
            return Err(Failed::sealed(error.into(), self));
        }
        match super::rotation_due(core, self.started, core.config.min_rotation_interval) {
            Some(due) => {
                self.deferred = Some(public);
                core.timers.arm_at(Slot::Deferred, due);
                Ok(Phase::V2Established(self))
            }
            None => self.answer_rekey(core, &public),
        }
    }

    /// The deferred REKEY's time has come.
    pub(super) fn run_deferred(mut self: Box<Self>, core: &mut Core) -> Result<Phase, Failed> {
        match self.deferred.take() {
            Some(public) => self.answer_rekey(core, &public),
            None => Ok(Phase::V2Established(self)),
        }
    }

    /// A rotation is asked for (the rekey timer, or the application):
    /// started now if the epoch allows one, else as soon as it does.
    pub(super) fn request_rekey(mut self: Box<Self>, core: &mut Core) -> Result<Phase, Failed> {
        if self.deferred.is_some() {
            // The peer's rotation is about to happen.
            return Ok(Phase::V2Established(self));
        }
        if self.channel.may_rekey(&core.config) {
            self.start_rekey(core)
        } else {
            self.rekey_wanted = true;
            Ok(Phase::V2Established(self))
        }
    }

    /// Sends an application message, first starting a rotation if the
    /// epoch is used up or one is wanted (the message then waits for the
    /// new keys).
    pub(super) fn transmit(
        self: Box<Self>,
        core: &mut Core,
        message: Message,
    ) -> Result<(Phase, Sent), Failed> {
        let closes = matches!(message, Message::Error { .. });
        let (type_byte, body) = message.v2_parts();
        let (phase, sealed) = self.transmit_parts(core, type_byte, &body, payload_len(&message))?;
        let sent = match (sealed, closes) {
            (false, _) => Sent::Wait(message),
            (true, true) => Sent::Closes,
            (true, false) => Sent::Yes,
        };
        Ok((phase, sent))
    }

    /// [`transmit`](Self::transmit) of an application message's type byte
    /// and body (`len`: the bytes it carries, for the limits); whether it
    /// was sealed, or waits for a rotation this started.
    pub(super) fn transmit_parts(
        mut self: Box<Self>,
        core: &mut Core,
        type_byte: u8,
        body: &[u8],
        len: usize,
    ) -> Result<(Phase, bool), Failed> {
        let wanted = self.rekey_wanted && self.channel.may_rekey(&core.config);
        if self.deferred.is_none() && (wanted || self.channel.rekey_due(&core.config, len)) {
            return Ok((self.start_rekey(core)?, false));
        }
        let frame_len = match self.channel.seal_parts(core, type_byte, body) {
            Ok(frame_len) => frame_len,
            Err(error) => return Err(Failed::sealed(error, self)),
        };
        self.channel.sent_records += 1;
        self.channel.sent_bytes = self.channel.sent_bytes.saturating_add(len as u64);
        self.channel.sent_frame_bytes = self
            .channel
            .sent_frame_bytes
            .saturating_add(frame_len as u64);
        Ok((Phase::V2Established(self), true))
    }

    /// Seals an application message (an alert) without any bookkeeping.
    pub(super) fn seal_app(&mut self, core: &mut Core, message: Message) -> Result<(), Error> {
        self.channel.seal_into(core, &Inner::App(message)).map(drop)
    }

    /// Starts a rotation: a fresh key pair, a REKEY record; what the
    /// application sends now waits for REKEY_ACK.
    pub(super) fn start_rekey(mut self: Box<Self>, core: &mut Core) -> Result<Phase, Failed> {
        let key = KeyPair::generate(&self.channel.group, &mut *core.rng);
        let public = key.public_key().to_padded_bytes();
        if let Err(error) = self.channel.seal_into(core, &Inner::Rekey(public.clone())) {
            return Err(Failed::sealed(error, self));
        }
        core.rotation_started();
        Ok(Phase::V2Rekeying(Box::new(Rekeying {
            verified: self,
            key,
            public,
        })))
    }

    /// The peer started a rotation: answer REKEY_ACK under the current
    /// keys, then switch both directions to the next epoch.
    fn answer_rekey(
        mut self: Box<Self>,
        core: &mut Core,
        initiator_public: &[u8],
    ) -> Result<Phase, Failed> {
        let epoch = core.epoch.saturating_add(1);
        let next = (|| {
            let peer = self.channel.group.public_key_from_bytes(initiator_public)?;
            let key = KeyPair::generate(&self.channel.group, &mut *core.rng);
            let z = key.agree(&peer)?;
            let own = key.public_key().to_padded_bytes();
            let next = self.channel.next(
                core.role,
                core.key_log.as_ref(),
                epoch,
                z.dangerously_expose_bytes(),
                initiator_public,
                &own,
            )?;
            Ok::<_, Error>((next, own))
        })();
        let (next, own) = match next {
            Ok(next) => next,
            Err(error) => return Err(Failed::sealed(error, self)),
        };
        if let Err(error) = self.channel.seal_into(core, &Inner::RekeyAck(own)) {
            return Err(Failed::sealed(error, self));
        }
        Ok(self.advance(core, next))
    }

    /// Moves to the next epoch's channel; the proof carries over.
    fn advance(self: Box<Self>, core: &mut Core, channel: Channel) -> Phase {
        core.established(Version::V2, channel.suite(), false);
        Phase::V2Established(Box::new(Verified {
            channel,
            proof: self.proof,
            started: core.now,
            rekey_wanted: false,
            deferred: None,
        }))
    }
}

/// An application message from the peer: an `ERROR` ends the connection,
/// each side accepts only the other role's messages.
fn accept(core: &mut Core, message: Message) -> Result<(), Error> {
    match message {
        Message::Error { message } => Err(ProtocolError::PeerError(message).into()),
        message if message.is_resume_message() && !core.extensions.contains(&Extension::Resume) => {
            Err(ProtocolError::UnexpectedMessage {
                message: message.type_name(),
            }
            .into())
        }
        // One file per connection unless the hellos agreed `batch`: a
        // client's `OPEN` (or `RESUME`) of another file after a `CLOSE` is
        // refused here, even once the server's application is done with
        // the first file. (One before the `CLOSE` is the application's to
        // refuse, as out of order.)
        message @ (Message::Open { .. } | Message::Resume { .. })
            if core.role == Role::Server
                && core.file_closed
                && !core.extensions.contains(&Extension::Batch) =>
        {
            Err(ProtocolError::UnexpectedMessage {
                message: message.type_name(),
            }
            .into())
        }
        message if message.is_from_client() == (core.role == Role::Server) => {
            if matches!(message, Message::Close { .. }) && core.role == Role::Server {
                core.file_closed = true;
            }
            if matches!(message, Message::Ok | Message::Accepted { .. }) {
                core.reply_received();
            }
            core.events.push_back(Event::Message(message));
            Ok(())
        }
        message => Err(ProtocolError::UnexpectedMessage {
            message: message.type_name(),
        }
        .into()),
    }
}

/// An epoch whose rotation this side started: the REKEY is out.
pub(super) struct Rekeying {
    verified: Box<Verified>,
    /// The fresh key pair our REKEY carried, and its public value as sent.
    key: KeyPair,
    public: Vec<u8>,
}

impl Rekeying {
    /// The established epoch, for an alert.
    pub(super) fn into_verified(self) -> Box<Verified> {
        self.verified
    }

    /// One frame from the peer other than a record: refused.
    pub(super) fn on_frame(self, frame: &Frame) -> Failed {
        Failed::sealed(
            unexpected(frame.type_name(), State::Rotating),
            self.verified,
        )
    }

    /// One record from the peer (`len` bytes as received), of the current
    /// epoch: the answer to our REKEY among them.
    pub(super) fn on_record(
        mut self: Box<Self>,
        core: &mut Core,
        record: Received,
        len: usize,
    ) -> Result<Phase, Failed> {
        let inner = match self.verified.channel.open_inner(record) {
            Ok(inner) => inner,
            Err(error) => return Err(Failed::sealed(error, self.verified)),
        };
        match inner {
            Inner::RekeyAck(public) => (*self).on_rekey_ack(core, &public),
            // Both started at once: the client's rotation wins. A client
            // ignores the server's REKEY (its own will be answered); a
            // server abandons its own and answers the client's.
            Inner::Rekey(_) if core.role == Role::Client => Ok(Phase::V2Rekeying(self)),
            Inner::Rekey(public) => self.verified.on_peer_rekey(core, public),
            Inner::App(message) => {
                self.verified.channel.received(len);
                match accept(core, message) {
                    Ok(()) => Ok(Phase::V2Rekeying(self)),
                    Err(error) => Err(Failed::sealed(error, self.verified)),
                }
            }
            Inner::Finished(_) => {
                let error = ProtocolError::UnexpectedMessage {
                    message: "FINISHED",
                }
                .into();
                Err(Failed::sealed(error, self.verified))
            }
        }
    }

    /// The peer answered our rotation: both directions switch now.
    fn on_rekey_ack(self, core: &mut Core, responder_public: &[u8]) -> Result<Phase, Failed> {
        let epoch = core.epoch.saturating_add(1);
        let channel = &self.verified.channel;
        let next = (|| {
            let peer = channel.group.public_key_from_bytes(responder_public)?;
            let z = self.key.agree(&peer)?;
            channel.next(
                core.role,
                core.key_log.as_ref(),
                epoch,
                z.dangerously_expose_bytes(),
                &self.public,
                responder_public,
            )
        })();
        match next {
            Ok(next) => Ok(self.verified.advance(core, next)),
            Err(error) => Err(Failed::sealed(error, self.verified)),
        }
    }
}
