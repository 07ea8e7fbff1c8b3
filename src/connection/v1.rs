//! v1 once keys exist: the client seals records (and rotates with a new
//! `ALGORITHMS`), the server opens them and answers in plaintext. v1
//! protects client-to-server messages only.

use alloc::boxed::Box;

use super::client::{self, ClientHello};
use super::phase::{Failed, Phase, Sent};
use super::server;
use super::{Core, Event, State, unexpected};
use crate::error::{Error, ProtocolError};
use crate::message::Message;
use crate::record::V1Protector;
use crate::suite::Offer;
use crate::wire::{ErrorFrame, Frame, SecureX};

/// An established v1 client: its protector, how much it has sealed, and
/// the offer its first hello made (every rotation makes the same one: a
/// v2 client that fell back to v1 never offers the legacy suites it left
/// out of its v2 hello).
pub(super) struct V1Client {
    protector: V1Protector,
    /// Protected frames sent in this epoch.
    sent_in_epoch: u64,
    offer: Offer,
}

impl V1Client {
    pub(super) fn new(protector: V1Protector, offer: Offer) -> V1Client {
        V1Client {
            protector,
            sent_in_epoch: 0,
            offer,
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
            other => Err(Failed::silent(unexpected(&other, State::Established))),
        }
    }

    /// Seals a message in this epoch, first starting a rotation if the
    /// epoch is used up (the message then waits for the new keys).
    pub(super) fn transmit(
        mut self: Box<Self>,
        core: &mut Core,
        message: Message,
    ) -> Result<(Phase, Sent), Failed> {
        // Never in a fresh epoch: a limit of 0 would otherwise rotate
        // for ever without sending anything.
        let used_up = self.sent_in_epoch > 0
            && core
                .config
                .rotate_after_frames
                .is_some_and(|n| self.sent_in_epoch >= n);
        if used_up {
            return Ok((self.rotate(core), Sent::Wait(message)));
        }
        self.sent_in_epoch += 1;
        let sealed = self
            .protector
            .seal_random(&mut *core.rng, &message.to_v1_json());
        core.push_frame(&Frame::SecureX(sealed));
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

/// A v1 server's `OK`, in plaintext.
pub(super) fn accept_ok(core: &mut Core) {
    core.reply_received();
    core.events.push_back(Event::Message(Message::Ok));
}

/// An established v1 server: the protector of the current epoch.
pub(super) struct V1Server {
    protector: V1Protector,
}

impl V1Server {
    pub(super) fn new(protector: V1Protector) -> V1Server {
        V1Server { protector }
    }

    /// One frame from the client: records, or a new `ALGORITHMS` (a
    /// rotation, at any time). Failures are told in plaintext.
    pub(super) fn on_frame(
        self: Box<Self>,
        core: &mut Core,
        frame: Frame,
    ) -> Result<Phase, Failed> {
        match frame {
            Frame::Algorithms(hello) => {
                let protector = server::answer_v1(core, &hello, false).map_err(Failed::plain)?;
                Ok(Phase::V1Server(Box::new(V1Server::new(protector))))
            }
            Frame::SecureX(record) => {
                self.on_record(core, &record).map_err(Failed::plain)?;
                Ok(Phase::V1Server(self))
            }
            Frame::Error(ErrorFrame { message }) => {
                Err(Failed::plain(ProtocolError::PeerError(message).into()))
            }
            other => Err(Failed::plain(unexpected(&other, State::Established))),
        }
    }

    /// Opens a record (its MAC checked first) and accepts what it carries.
    fn on_record(&self, core: &mut Core, record: &SecureX) -> Result<(), Error> {
        let message = Message::from_v1_json(&self.protector.open(record)?)?;
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
        let sent = match message {
            Message::Error { message } => {
                core.push_frame(&Frame::Error(ErrorFrame { message }));
                Sent::Closes
            }
            _ => {
                core.push_frame(&Frame::Ok);
                Sent::Yes
            }
        };
        (Phase::V1Server(self), sent)
    }
}
