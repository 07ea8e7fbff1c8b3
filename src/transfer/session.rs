//! The glue between a [`Connection`] and a [`Sender`] or [`Receiver`]:
//! what a client or server program does with each event. Still sans-IO:
//! the caller moves bytes and time; these only react to events and feed
//! the connection.

use std::io::Read;
use std::path::PathBuf;
use std::string::ToString;
use std::time::Instant;

use super::{Receiver, Sender, TransferError};
use crate::config::Extension;
use crate::connection::{Connection, Event, State, Version};
use crate::error::Error;
use crate::message::Message;

/// How much an [`Upload`] lets the connection hold before it waits for the
/// caller to drain `poll_transmit`: a few chunks in flight, no more.
const LOW_WATER: usize = 256 * 1024;

/// Why a transfer did not complete.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The channel failed (or the peer went away).
    Channel(Error),
    /// The file transfer failed (refused by the server, a bad name, I/O).
    Transfer(TransferError),
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SessionError::Channel(e) => write!(f, "channel: {e}"),
            SessionError::Transfer(e) => write!(f, "transfer: {e}"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<Error> for SessionError {
    fn from(e: Error) -> Self {
        SessionError::Channel(e)
    }
}

impl From<TransferError> for SessionError {
    fn from(e: TransferError) -> Self {
        SessionError::Transfer(e)
    }
}

/// The client side of a file transfer over a connection.
///
/// Call [`Upload::handle_event`] with every event, [`Upload::pump`] after
/// every drain of the connection's output, and stop when
/// [`Upload::outcome`] is `Some`.
///
/// In v2 the transfer is complete when the server answers `CLOSE` with
/// `OK`: the file is stored and its SHA-256 matched. In v1 it is complete
/// once `CLOSE` has been written: existing servers never answer it. `pump` reports completion (and closes the
/// connection) as soon as `CLOSE` has become a frame; the caller must then
/// still write what `poll_transmit` returns before it trusts
/// `Some(Ok(()))`.
#[derive(Debug)]
pub struct Upload<R> {
    sender: Sender<R>,
    outcome: Option<Result<(), SessionError>>,
}

impl<R: Read> Upload<R> {
    /// An upload of what `sender` reads.
    pub fn new(sender: Sender<R>) -> Upload<R> {
        Upload {
            sender,
            outcome: None,
        }
    }

    /// The sender (bytes read, digest).
    pub fn sender(&self) -> &Sender<R> {
        &self.sender
    }

    /// `Some` once the transfer succeeded or failed.
    pub fn outcome(&self) -> Option<&Result<(), SessionError>> {
        self.outcome.as_ref()
    }

    /// Reacts to one event of the connection.
    pub fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        if self.outcome.is_some() {
            return;
        }
        match event {
            // v2: the server confirms CLOSE once the file is stored and its
            // digest matched.
            Event::Message(Message::Ok)
                if self.sender.is_finished() && conn.version() == Some(Version::V2) =>
            {
                self.outcome = Some(Ok(()));
                conn.close(now);
            }
            Event::Message(message) => {
                if let Err(e) = self.sender.handle_message(&message) {
                    self.fail(conn, now, e.into());
                }
            }
            Event::Closed { error } => {
                let error =
                    error.unwrap_or(Error::Protocol(crate::error::ProtocolError::UnexpectedEof));
                self.outcome = Some(Err(error.into()));
            }
            _ => {}
        }
    }

    /// Hands the connection as many messages as it should hold now, and
    /// notices completion. Returns whether it could send more right away
    /// once the caller has drained `poll_transmit` (the caller should not
    /// block waiting for input then).
    pub fn pump(&mut self, conn: &mut Connection, now: Instant) -> bool {
        if self.outcome.is_some() {
            return false;
        }
        // The first message waits for the handshake: whether it is `Open`
        // or `Resume` depends on what the hellos agreed.
        if matches!(conn.state(), State::Negotiating | State::Handshaking) {
            return false;
        }
        self.sender
            .agree_resume(conn.has_extension(Extension::Resume));
        while !self.sender.is_finished() && conn.buffered_len() < LOW_WATER {
            let message = match self.sender.next_message() {
                Ok(Some(message)) => message,
                // Waiting for the server's OK.
                Ok(None) => return false,
                Err(e) => {
                    self.fail(conn, now, e.into());
                    return false;
                }
            };
            if let Err(e) = conn.send(now, message) {
                // A connection closed by the peer explains itself better
                // than the refused send does.
                let error = conn.close_reason().cloned().unwrap_or(e);
                self.fail(conn, now, error.into());
                return false;
            }
        }
        if self.sender.is_finished() {
            // v1: complete once CLOSE is a frame waiting to be written (v2
            // waits for the server's OK).
            if conn.version() == Some(Version::V1)
                && conn.queued_messages() == 0
                && conn.state() == State::Established
            {
                self.outcome = Some(Ok(()));
                conn.close(now);
            }
            return false;
        }
        // The connection is full: more can go once it is drained, unless
        // it waits for new keys.
        conn.state() == State::Established
    }

    fn fail(&mut self, conn: &mut Connection, now: Instant, error: SessionError) {
        conn.close(now);
        self.outcome = Some(Err(error));
    }
}

/// The server side of a file transfer over a connection: stores what the
/// client sends, answers `OPEN` with `OK`, refuses what it cannot store
/// with `ERROR`, and keeps an incomplete file as `<name>.partial`.
#[derive(Debug)]
pub struct Download {
    receiver: Receiver,
    outcome: Option<Result<PathBuf, SessionError>>,
}

impl Download {
    /// A download into `receiver`'s directory.
    pub fn new(receiver: Receiver) -> Download {
        Download {
            receiver,
            outcome: None,
        }
    }

    /// The receiver (stored name, bytes written, digest).
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// `Some` once the file is stored (its path) or the transfer failed.
    /// After a failure, what arrived is kept as `<name>.partial`; see
    /// [`Download::partial`].
    pub fn outcome(&self) -> Option<&Result<PathBuf, SessionError>> {
        self.outcome.as_ref()
    }

    /// Reacts to one event of the connection.
    pub fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        if self.outcome.is_some() {
            return;
        }
        match event {
            Event::Message(message) => {
                let closing = matches!(message, Message::Close { .. });
                self.receiver
                    .agree_resume(conn.has_extension(Extension::Resume));
                match self.receiver.handle_message(message) {
                    Ok(reply) => {
                        if let Some(reply) = reply {
                            let _ = conn.send(now, reply);
                        }
                        if closing {
                            // The file is stored (and, in v2, its digest
                            // matched): v2 confirms with OK, v1 says nothing.
                            if conn.version() == Some(Version::V2) {
                                let _ = conn.send(now, Message::Ok);
                            }
                            let path = self.receiver.final_path().map(PathBuf::from);
                            self.outcome = Some(Ok(path.unwrap_or_default()));
                            // Not `close`: mid-rotation the answer waits
                            // for new keys, and must not be dropped.
                            conn.flush_and_close(now);
                        }
                    }
                    Err(e) => {
                        let _ = conn.send(
                            now,
                            Message::Error {
                                message: e.to_string(),
                            },
                        );
                        conn.flush_and_close(now);
                        self.outcome = Some(Err(e.into()));
                    }
                }
            }
            Event::Closed { error } => {
                let error =
                    error.unwrap_or(Error::Protocol(crate::error::ProtocolError::UnexpectedEof));
                self.outcome = Some(Err(error.into()));
            }
            _ => {}
        }
    }

    /// After a failure: keeps what arrived as `<name>.partial` and returns
    /// its path, if a file had been opened.
    pub fn partial(&mut self) -> Option<PathBuf> {
        self.receiver.finish_incomplete()
    }
}
