//! The phases of a connection and the transitions between them.
//!
//! Each phase is a type that holds exactly the data valid in it; each
//! transition consumes the phase and returns the next one, or a [`Failed`]
//! that says why and how the peer may still be told. A frame that a phase
//! does not expect is an error of that phase: there is no state pairing
//! the code does not handle.
//!
//! Which file a frame passes through, in order: `mod.rs` splits and
//! decodes it and hands it to [`Phase::on_frame`] here, which gives it to
//! the phase it holds: `client.rs` (the offer, the server's `EXCHANGE`,
//! the v1 client), `server.rs` (the client's `ALGORITHMS`, the v1
//! server), `finished.rs` (either FINISHED), `v2.rs` (established v2
//! records, rotation included).
//!
//! ```text
//! client: ClientHello ──EXCHANGE v1──▶ V1Client ⇄ V1ClientRotating
//!              └──EXCHANGE v2──▶ ClientAwaitFinished ──FINISHED──▶ V2Established
//! server: ServerAwaitHello ──ALGORITHMS v1──▶ V1Server (⟲ ALGORITHMS)
//!              └──ALGORITHMS v2──▶ ServerAwaitFinished ──FINISHED──▶ V2Established
//! v2:     V2Established ⇄ V2Rekeying (REKEY out, REKEY_ACK awaited)
//! any:    ──error──▶ Closed
//! ```

use alloc::boxed::Box;

use super::client::ClientHello;
use super::v1::{V1Client, V1Server};
use super::v2::{Handshake, Rekeying, Verified};
use super::{Core, State, server};
use crate::error::Error;
use crate::message::Message;
use crate::wire::Frame;
use crate::wire::record::{Received, ReceivedV1};

/// The phase of a connection, with exactly the data valid in it.
pub(super) enum Phase {
    /// Client: `ALGORITHMS` sent, the server's `EXCHANGE` awaited.
    ClientHello(Box<ClientHello>),
    /// Client (v2): keys agreed, the server's FINISHED awaited.
    ClientAwaitFinished(Box<Handshake>),
    /// Client (v1): keys agreed; records flow to the server.
    V1Client(Box<V1Client>),
    /// Client (v1): a new `ALGORITHMS` sent; the old keys are gone (v1
    /// servers send nothing protected) and messages wait for `EXCHANGE`.
    V1ClientRotating(Box<ClientHello>),
    /// Server: the client's `ALGORITHMS` awaited.
    ServerAwaitHello,
    /// Server (v2): `EXCHANGE` and FINISHED sent, the client's FINISHED
    /// awaited.
    ServerAwaitFinished(Box<Handshake>),
    /// Server (v1): keys agreed; records flow from the client, which may
    /// rotate with a new `ALGORITHMS` at any time.
    V1Server(Box<V1Server>),
    /// v2, either role: the peer's FINISHED verified; records flow both
    /// ways.
    V2Established(Box<Verified>),
    /// v2, either role: our REKEY is out. What we send waits for
    /// REKEY_ACK; what we receive still flows in the current epoch.
    V2Rekeying(Box<Rekeying>),
    /// Over; the error, if any, is kept.
    Closed(Option<Error>),
}

/// How a failed phase may still tell the peer why.
pub(super) enum Alert {
    /// Not at all (a client before v2 verification, and a v1 client
    /// always; a v2 server once its `EXCHANGE` is out and until the
    /// client's FINISHED verifies; a connection already closed).
    Silent,
    /// In a plaintext `ERROR` frame (a server while negotiating, and v1).
    Plain,
    /// In an `ERROR` sealed in the verified channel, handed back for it.
    Sealed(Box<Verified>),
}

/// A failed transition: the error, and what the failed phase leaves for
/// the alert.
pub(super) struct Failed {
    pub(super) error: Error,
    pub(super) alert: Alert,
}

impl Failed {
    /// A failure that cannot tell the peer.
    pub(super) fn silent(error: Error) -> Failed {
        Failed {
            error,
            alert: Alert::Silent,
        }
    }

    /// A failure told in a plaintext `ERROR` frame.
    pub(super) fn plain(error: Error) -> Failed {
        Failed {
            error,
            alert: Alert::Plain,
        }
    }

    /// A failure told in the verified channel.
    pub(super) fn sealed(error: Error, verified: Box<Verified>) -> Failed {
        Failed {
            error,
            alert: Alert::Sealed(verified),
        }
    }
}

/// What became of an application message handed to [`Phase::transmit`].
pub(super) enum Sent {
    /// It is a frame in the output.
    Yes,
    /// It is a frame in the output, and the connection closes after it
    /// (a server's `ERROR`).
    Closes,
    /// It must wait for keys.
    Wait(Message),
}

impl Phase {
    /// The public state of this phase.
    pub(super) fn state(&self) -> State {
        match self {
            Phase::ClientHello(_) | Phase::ServerAwaitHello => State::Negotiating,
            Phase::ClientAwaitFinished(_) | Phase::ServerAwaitFinished(_) => State::Handshaking,
            Phase::V1Client(_) | Phase::V1Server(_) | Phase::V2Established(_) => State::Established,
            Phase::V1ClientRotating(_) | Phase::V2Rekeying(_) => State::Rotating,
            Phase::Closed(_) => State::Closed,
        }
    }

    /// One decoded frame from the peer; `bytes` are the frame exactly as
    /// received.
    pub(super) fn on_frame(
        self,
        core: &mut Core,
        frame: Frame,
        bytes: &[u8],
    ) -> Result<Phase, Failed> {
        match self {
            Phase::ClientHello(hello) => (*hello).on_frame(core, frame, bytes),
            Phase::ClientAwaitFinished(_) | Phase::ServerAwaitFinished(_) => Err(Failed::silent(
                super::unexpected(frame.type_name(), State::Handshaking),
            )),
            Phase::V1Client(client) => client.on_frame(core, frame),
            Phase::V1ClientRotating(hello) => hello.on_rotation_frame(core, frame),
            Phase::ServerAwaitHello => server::on_hello_frame(core, frame, bytes),
            Phase::V1Server(server) => server.on_frame(core, frame, bytes.len()),
            Phase::V2Established(verified) => Err(verified.on_frame(&frame)),
            Phase::V2Rekeying(rekeying) => Err((*rekeying).on_frame(&frame)),
            closed @ Phase::Closed(_) => Ok(closed),
        }
    }

    /// One v2 record from the peer; `bytes` are its frame exactly as
    /// received. The phases of v2 open it; every other phase refuses it
    /// as the frame it is.
    pub(super) fn on_record(
        self,
        core: &mut Core,
        record: Received,
        bytes: &[u8],
    ) -> Result<Phase, Failed> {
        match self {
            Phase::ClientAwaitFinished(handshake) => handshake.on_client_record(core, record),
            Phase::ServerAwaitFinished(handshake) => handshake.on_server_record(core, record),
            Phase::V2Established(verified) => verified.on_record(core, record, bytes.len()),
            Phase::V2Rekeying(rekeying) => rekeying.on_record(core, record, bytes.len()),
            other => other.on_frame(core, record.into_frame(), bytes),
        }
    }

    /// An application message to send now, if the phase's keys allow.
    pub(super) fn transmit(
        self,
        core: &mut Core,
        message: Message,
    ) -> Result<(Phase, Sent), Failed> {
        match self {
            Phase::V1Client(client) => client.transmit(core, message),
            Phase::V1Server(server) => Ok(server.transmit(core, message)),
            Phase::V2Established(verified) => verified.transmit(core, message),
            waiting => Ok((waiting, Sent::Wait(message))),
        }
    }

    /// One v1 record from the peer; `bytes` are its frame exactly as
    /// received. A v1 server opens it; every other phase refuses it as
    /// the frame it is.
    pub(super) fn on_v1_record(
        self,
        core: &mut Core,
        record: ReceivedV1,
        bytes: &[u8],
    ) -> Result<Phase, Failed> {
        match self {
            Phase::V1Server(server) => server.on_record(core, record, bytes.len()),
            other => other.on_frame(core, record.into_frame(), bytes),
        }
    }

    /// A DATA chunk to send now from a borrowed slice, if an established
    /// v2 epoch allows (a rotation may start instead): whether it was
    /// sealed. Every other phase leaves it to [`Phase::transmit`].
    pub(super) fn transmit_data(
        self,
        core: &mut Core,
        data: &[u8],
    ) -> Result<(Phase, bool), Failed> {
        match self {
            Phase::V2Established(verified) => {
                verified.transmit_parts(core, crate::message::V2_DATA, data, data.len())
            }
            other => Ok((other, false)),
        }
    }

    /// The rekey timer expired: a v2 epoch starts its rotation, a v1
    /// client asks for one (`Config::v1_rotate_after`); every other phase
    /// stays as it is.
    pub(super) fn start_rekey(self, core: &mut Core) -> Result<Phase, Failed> {
        match self {
            Phase::V2Established(verified) => verified.request_rekey(core),
            // `Config::v1_rotate_after`: as soon as the epoch allows.
            Phase::V1Client(client) => Ok(client.request_rotation(core)),
            other => Ok(other),
        }
    }

    /// The application asked for a rotation (the caller has checked that
    /// the phase can start one): now, or as soon as the epoch has carried
    /// what the limits require.
    pub(super) fn rotate(self, core: &mut Core) -> Result<Phase, Failed> {
        match self {
            Phase::V2Established(verified) => verified.request_rekey(core),
            Phase::V1Client(client) => Ok(client.request_rotation(core)),
            other => Ok(other),
        }
    }

    /// A rotation the peer asked for too early has come due.
    pub(super) fn run_deferred(self, core: &mut Core) -> Result<Phase, Failed> {
        match self {
            Phase::V1Server(server) => server.run_deferred(core),
            Phase::V2Established(verified) => verified.run_deferred(core),
            other => Ok(other),
        }
    }

    /// Whether the phase holds work deferred until its output is out (a
    /// v1 server's key derivation, see `v1::V1Keys`).
    pub(super) fn has_pending_work(&self) -> bool {
        match self {
            Phase::V1Server(server) => server.has_pending_work(),
            _ => false,
        }
    }

    /// Runs the deferred work, if any.
    pub(super) fn run_pending_work(&mut self) {
        if let Phase::V1Server(server) = self {
            server.run_pending_work();
        }
    }

    /// What is left of this phase for an alert when it fails in place (a
    /// timer, the end of the stream, a frame that did not decode).
    pub(super) fn into_alert(self) -> Alert {
        match self {
            Phase::ServerAwaitHello | Phase::V1Server(_) => Alert::Plain,
            Phase::V2Established(verified) => Alert::Sealed(verified),
            Phase::V2Rekeying(rekeying) => Alert::Sealed((*rekeying).into_verified()),
            Phase::ClientHello(_)
            | Phase::ClientAwaitFinished(_)
            | Phase::V1Client(_)
            | Phase::V1ClientRotating(_)
            | Phase::ServerAwaitFinished(_)
            | Phase::Closed(_) => Alert::Silent,
        }
    }
}
