//! The proof that the peer's FINISHED verified, and the only code that
//! makes one.
//!
//! An established v2 phase ([`super::v2::Verified`]) can only be built
//! with a [`PeerVerified`], and the only way to get one is
//! [`verify`] on the peer's FINISHED record (in the manner of rustls's
//! `FinishedMessageVerified`). Its field is private to this module, so no
//! other code, in this crate either, can make one. Rotated epochs have no
//! FINISHED of their own: the proof moves from the verified epoch to the
//! next.

use super::v2::{Channel, Inner};
use crate::error::{Error, ProtocolError, RecordError};
use crate::wire::record::Received;

/// The peer's FINISHED verified in the handshake of this connection.
#[derive(Debug)]
pub(super) struct PeerVerified(());

/// Opens the peer's first record in `channel` and checks that it is a
/// FINISHED with the value the transcript says. Its keys are bound to both
/// hellos, so a changed hello (or another PSK, or a server without the
/// pinned key) shows as a record that does not open: that, too, is
/// `BadFinished`.
pub(super) fn verify(
    channel: &mut Channel,
    record: Received,
    peer_is_client: bool,
) -> Result<PeerVerified, Error> {
    let inner = channel.open_inner(record).map_err(|e| match e {
        Error::Record(RecordError::Decrypt) => ProtocolError::BadFinished.into(),
        other => other,
    })?;
    match inner {
        Inner::Finished(value) if channel.secrets.verify_finished(peer_is_client, &value) => {
            Ok(PeerVerified(()))
        }
        Inner::Finished(_) => Err(ProtocolError::BadFinished.into()),
        other => Err(ProtocolError::UnexpectedMessage {
            message: other.type_name(),
        }
        .into()),
    }
}
