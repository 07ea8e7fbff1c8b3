//! v1 once keys exist: the client seals records (and rotates with a new
//! `ALGORITHMS`), the server opens them and answers in plaintext. v1
//! protects client-to-server messages only.

use alloc::boxed::Box;
use std::time::Instant;

use super::client::{self, ClientHello};
use super::phase::{Failed, Phase, Sent};
use super::server;
use super::timer::Slot;
use super::{Core, Event, State, unexpected};
use crate::dh::SharedSecret;
use crate::error::{Error, ProtocolError};
use crate::keylog::Logger;
use crate::message::Message;
use crate::record::V1Protector;
use crate::schedule::V1Secrets;
use crate::suite::{CipherSuite, Offer};
use crate::wire::record::ReceivedV1;
use crate::wire::{self, Algorithms, ErrorFrame, Frame};

/// An established v1 client: its protector, how much it has sealed, and
/// the offer its first hello made (every rotation makes the same one: a
/// v2 client that fell back to v1 never offers the legacy suites it left
/// out of its v2 hello).
pub(super) struct V1Client {
    protector: V1Protector,
    /// Protected frames sent in this epoch, and their bytes.
    sent_in_epoch: u64,
    sent_bytes: u64,
    offer: Offer,
    /// The application asked for a rotation the epoch cannot start yet.
    rotation_wanted: bool,
}

impl V1Client {
    pub(super) fn new(protector: V1Protector, offer: Offer) -> V1Client {
        V1Client {
            protector,
            sent_in_epoch: 0,
            sent_bytes: 0,
            offer,
            rotation_wanted: false,
        }
    }

    /// Whether this epoch has carried what a server of ours requires
    /// before a rotation.
    fn may_rotate(&self, core: &Core) -> bool {
        self.sent_in_epoch >= core.config.v1_rotation_min_frames
            && self.sent_bytes >= core.config.v1_rotation_min_bytes
    }

    /// The application asks for a rotation: now if the epoch allows it,
    /// else as soon as it does.
    pub(super) fn request_rotation(mut self: Box<Self>, core: &mut Core) -> Phase {
        if self.may_rotate(core) {
            self.rotate(core)
        } else {
            self.rotation_wanted = true;
            Phase::V1Client(self)
        }
    }

    /// One frame from the server: v1 servers answer in plaintext.
    pub(super) fn on_frame(
        self: Box<Self>,
        core: &mut Core,
        frame: Frame,
    ) -> Result<Phase, Failed> {
        match frame {
            Frame::Ok => {
                accept_ok(core);
                Ok(Phase::V1Client(self))
            }
            Frame::Error(ErrorFrame { message }) => {
                Err(Failed::silent(ProtocolError::PeerError(message).into()))
            }
            other => Err(Failed::silent(unexpected(
                other.type_name(),
                State::Established,
            ))),
        }
    }

    /// Seals a message in this epoch, first starting a rotation if the
    /// epoch is used up (the message then waits for the new keys).
    pub(super) fn transmit(
        mut self: Box<Self>,
        core: &mut Core,
        message: Message,
    ) -> Result<(Phase, Sent), Failed> {
        // The frame limit never rotates a fresh epoch: a limit of 0 would
        // otherwise rotate for ever without sending anything.
        let used_up = self.rotation_wanted
            || (self.sent_in_epoch > 0
                && core
                    .config
                    .rotate_after_frames
                    .is_some_and(|n| self.sent_in_epoch >= n));
        if used_up && self.may_rotate(core) {
            return Ok((self.rotate(core), Sent::Wait(message)));
        }
        let start = core.outgoing.len();
        if let Err(error) = wire::record::write_v1(
            &mut core.outgoing,
            &self.protector,
            &mut *core.rng,
            &message,
        ) {
            // v1 records cannot fail to seal: the IV is drawn at the
            // suite's length and the buffer sized for the ciphertext.
            return Err(Failed::silent(error.into()));
        }
        let frame_len = core.outgoing.len() - start;
        self.sent_in_epoch += 1;
        self.sent_bytes = self.sent_bytes.saturating_add(frame_len as u64);
        core.frame_written();
        Ok((Phase::V1Client(self), Sent::Yes))
    }

    /// Starts a rotation: a new `ALGORITHMS`. The old keys are dropped
    /// (the server sends nothing protected).
    pub(super) fn rotate(self: Box<Self>, core: &mut Core) -> Phase {
        let hello: ClientHello = client::send_algorithms(core, self.offer);
        core.rotation_started();
        Phase::V1ClientRotating(Box::new(hello))
    }
}

/// A renegotiation: new keys from the client's new `ALGORITHMS`.
fn renegotiate(core: &mut Core, hello: &Algorithms) -> Result<Phase, Failed> {
    let keys = server::answer_v1(core, hello, false).map_err(Failed::plain)?;
    Ok(Phase::V1Server(Box::new(V1Server::new(keys, core.now))))
}

/// A v1 server's keys of an epoch. Its `EXCHANGE` goes out as soon as
/// the key is agreed; the derivation (PBKDF2, 100,000 iterations) waits
/// for the next call into the connection after that frame was polled, so
/// that the client's PBKDF2 and ours run at the same time (on two cores,
/// a rotation then costs one derivation, not two in turn). It runs before
/// any record of the epoch is opened, whatever comes first.
pub(super) struct V1Keys {
    suite: CipherSuite,
    /// The shared secret until the keys are derived from it (zeroized on
    /// drop).
    z: Option<SharedSecret>,
    protector: Option<V1Protector>,
    /// The key log and the epoch, until the keys are derived and logged.
    log: Option<(Logger, u32)>,
}

impl V1Keys {
    /// Keys of `suite`, to be derived from `z` (and then logged in `log`
    /// as those of its epoch).
    pub(super) fn pending(
        suite: CipherSuite,
        z: SharedSecret,
        log: Option<(Logger, u32)>,
    ) -> V1Keys {
        V1Keys {
            suite,
            z: Some(z),
            protector: None,
            log,
        }
    }

    /// Whether the derivation is still to run.
    pub(super) fn is_pending(&self) -> bool {
        self.protector.is_none()
    }

    /// The protector, derived now if it was not yet (the shared secret is
    /// then dropped).
    fn protector(&mut self) -> &V1Protector {
        let (suite, z, log) = (self.suite, &mut self.z, &mut self.log);
        self.protector.get_or_insert_with(|| {
            // `z` is there until the one derivation takes it.
            let z = z.take();
            let bytes = z
                .as_ref()
                .map_or(&[][..], SharedSecret::dangerously_expose_bytes);
            let secrets = V1Secrets::derive(bytes, suite.cipher());
            if let Some((log, epoch)) = log.take() {
                log.v1(epoch, &secrets);
            }
            V1Protector::new(suite, secrets)
        })
    }
}

/// A v1 server's `OK`, in plaintext.
pub(super) fn accept_ok(core: &mut Core) {
    core.reply_received();
    core.events.push_back(Event::Message(Message::Ok));
}

/// An established v1 server: the protector of the current epoch, what
/// the client sent in it, and a rotation it asked for too early to answer
/// yet (see `Config::v1_rotation_min_interval`).
pub(super) struct V1Server {
    keys: V1Keys,
    /// Protected frames received in this epoch, and their bytes.
    frames: u64,
    bytes: u64,
    /// When this epoch began.
    started: Instant,
    /// A renegotiation waiting for its time; nothing else may arrive
    /// meanwhile (existing clients wait for the `EXCHANGE`).
    deferred: Option<Box<Algorithms>>,
}

impl V1Server {
    pub(super) fn new(keys: V1Keys, started: Instant) -> V1Server {
        V1Server {
            keys,
            frames: 0,
            bytes: 0,
            started,
            deferred: None,
        }
    }

    /// One frame from the client (`len` bytes as received): records, or a
    /// new `ALGORITHMS` (a rotation), once the epoch has carried what
    /// `Config::v1_rotation_min_frames` and `v1_rotation_min_bytes`
    /// require; at most one at a time, and no sooner than
    /// `Config::v1_rotation_min_interval` after the epoch began (an earlier
    /// one waits for its time). Failures are told in plaintext.
    pub(super) fn on_frame(
        mut self: Box<Self>,
        core: &mut Core,
        frame: Frame,
        len: usize,
    ) -> Result<Phase, Failed> {
        if self.deferred.is_some() {
            // Only one rotation in flight: the client must wait for its
            // EXCHANGE.
            return Err(Failed::plain(unexpected(
                frame.type_name(),
                State::Rotating,
            )));
        }
        match frame {
            Frame::Algorithms(hello) => {
                let config = &core.config;
                if self.frames < config.v1_rotation_min_frames
                    || self.bytes < config.v1_rotation_min_bytes
                {
                    let error = ProtocolError::RotationTooSoon {
                        frames: self.frames,
                        bytes: self.bytes,
                    };
                    return Err(Failed::plain(error.into()));
                }
                match super::rotation_due(core, self.started, config.v1_rotation_min_interval) {
                    Some(due) => {
                        self.deferred = Some(Box::new(hello));
                        core.timers.arm_at(Slot::Deferred, due);
                        Ok(Phase::V1Server(self))
                    }
                    None => renegotiate(core, &hello),
                }
            }
            Frame::SecureX(record) => self.on_record(core, ReceivedV1::Fields(record), len),
            Frame::Error(ErrorFrame { message }) => {
                Err(Failed::plain(ProtocolError::PeerError(message).into()))
            }
            other => Err(Failed::plain(unexpected(
                other.type_name(),
                State::Established,
            ))),
        }
    }

    /// The deferred renegotiation's time has come.
    pub(super) fn run_deferred(mut self: Box<Self>, core: &mut Core) -> Result<Phase, Failed> {
        match self.deferred.take() {
            Some(hello) => renegotiate(core, &hello),
            None => Ok(Phase::V1Server(self)),
        }
    }

    /// Whether the keys are still to be derived.
    pub(super) fn has_pending_work(&self) -> bool {
        self.keys.is_pending()
    }

    /// Derives the keys of the epoch if they are still to be derived.
    pub(super) fn run_pending_work(&mut self) {
        self.keys.protector();
    }

    /// One record from the client (`len` bytes as received), in this
    /// epoch.
    pub(super) fn on_record(
        mut self: Box<Self>,
        core: &mut Core,
        record: ReceivedV1,
        len: usize,
    ) -> Result<Phase, Failed> {
        if self.deferred.is_some() {
            // Only one rotation in flight: the client must wait for its
            // EXCHANGE.
            return Err(Failed::plain(unexpected("SECURE_X", State::Rotating)));
        }
        self.accept(core, record).map_err(Failed::plain)?;
        self.frames += 1;
        self.bytes = self.bytes.saturating_add(len as u64);
        Ok(Phase::V1Server(self))
    }

    /// Opens a record (its MAC checked first) and accepts what it carries.
    fn accept(&mut self, core: &mut Core, record: ReceivedV1) -> Result<(), Error> {
        let record = record.decode()?;
        let message = Message::from_v1_json(&self.keys.protector().open_record(record)?)?;
        if !message.is_from_client() {
            return Err(ProtocolError::UnexpectedMessage {
                message: message.type_name(),
            }
            .into());
        }
        core.events.push_back(Event::Message(message));
        Ok(())
    }

    /// Sends `OK`, or `ERROR` (which closes), in plaintext.
    pub(super) fn transmit(self: Box<Self>, core: &mut Core, message: Message) -> (Phase, Sent) {
        let sent = if let Message::Error { message } = message {
            core.push_frame(&Frame::Error(ErrorFrame { message }));
            Sent::Closes
        } else {
            core.push_frame(&Frame::Ok);
            Sent::Yes
        };
        (Phase::V1Server(self), sent)
    }
}
