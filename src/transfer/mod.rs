//! The file transfer on top of the channel, sans-IO like the rest.
//!
//! A [`Sender`] turns a reader into the client's messages (`Open`, `Data`
//! chunks, `Close`); a [`Receiver`] takes them on the server and owns a
//! storage directory. Neither touches a socket: the caller moves each
//! [`Message`] through its connection and feeds the peer's replies back.
//!
//! The receiver's storage rules (see `PROTOCOL.md`, v1 "Application
//! messages"):
//!
//! * the stored name is the last path component of the client's name,
//!   in NFC, with its letters and digits (of any script), `_`, `.` and `-`
//!   kept and every other character replaced with `_` ([`stored_name`]);
//!   nothing is ever written outside the storage directory;
//! * a stored file is not someone else's to replace: by default an `Open`
//!   whose stored name is taken, as `<name>` or as `<name>.partial` (an
//!   upload in progress, or one left incomplete), is refused with
//!   [`TransferError::AlreadyStored`]; otherwise it claims the name by
//!   creating `<name>.partial`, and `Close` moves the data to the stored
//!   name without replacing anything ([`Receiver::with_overwrite`] restores
//!   replacing, through a temporary file no client can name);
//! * the data appears under the stored name only on `Close`; a transfer
//!   that ends without it (the connection dropped, or an error) is kept as
//!   `<name>.partial`, never under the final name: nothing is lost and
//!   nothing incomplete looks complete.
//!
//! Both sides compute the SHA-256 of the file ([`Sender::sha256`],
//! [`Receiver::sha256`]), ready for v2, where `Close` carries the client's
//! digest and the server answers `Ok` only when they match.
//!
//! # Errors
//!
//! [`TransferError`] is about the file: a refused name, a message out of
//! order, a size limit, a failed read or write. It is separate from
//! [`crate::Error`], which is about the channel (frames, suites, keys,
//! records). The two meet in the programs that drive a connection: when a
//! [`Receiver`] fails, the server sends
//! `Message::Error { message: err.to_string() }` to the peer and closes
//! (the display texts name no server paths, so they are fit to send); when
//! the server sends `Error`, the [`Sender`] reports
//! [`TransferError::Refused`] with its message.
//!
//! # Example
//!
//! A client and a server, with the connection between them left out:
//!
//! ```
//! use securex::transfer::{Receiver, Sender};
//!
//! let dir = std::env::temp_dir().join(format!("securex-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//!
//! let file: &[u8] = b"hello, world";
//! let mut sender = Sender::new(file, "/home/u/hello.txt", 4)?;
//! let mut receiver = Receiver::new(&dir);
//! // `None` means "wait for the server" or "done"; here the reply to
//! // `Open` is fed back at once, so `None` means done.
//! while let Some(message) = sender.next_message()? {
//!     if let Some(reply) = receiver.handle_message(message)? {
//!         sender.handle_message(&reply)?;
//!     }
//! }
//! assert!(sender.is_finished());
//! assert_eq!(receiver.stored_name(), Some("hello.txt"));
//! assert_eq!(std::fs::read(dir.join("hello.txt"))?, file);
//! assert_eq!(sender.sha256(), receiver.sha256());
//!
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod digest;
mod receiver;
mod resume;
mod sender;
mod session;

pub use digest::{FileDigest, InlineSha256, ThreadedSha256};
pub use receiver::{DEFAULT_MAX_FILES, MAX_NAME_LEN, Receiver, stored_name};
pub use resume::{ResumeTicket, TicketError};
pub use sender::{DEFAULT_CHUNK_SIZE, Sender, V2_DEFAULT_CHUNK_SIZE, default_chunk_size};
pub use session::{Download, Session, SessionError, Upload};

#[cfg(doc)]
use crate::message::Message;

use std::fmt;
use std::io;
use std::string::{String, ToString};

/// Why a transfer failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferError {
    /// The client's file name leaves nothing usable once reduced to a safe
    /// name (see [`stored_name`]).
    BadFileName(String),
    /// A message arrived that the transfer does not allow at this point.
    UnexpectedMessage {
        /// What was allowed (message types, or `no further message`).
        expected: &'static str,
        /// The type of the message that arrived.
        got: &'static str,
    },
    /// The server answered `Error`, with this message.
    Refused(String),
    /// The file grew beyond the receiver's limit.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Reading the file or storing it failed.
    Io {
        /// The kind of the underlying I/O error.
        kind: io::ErrorKind,
        /// What failed and why (no paths).
        message: String,
    },
    /// A chunk size of 0 was asked for.
    InvalidChunkSize,
    /// The SHA-256 the client sent with `Close` differs from that of what
    /// arrived.
    DigestMismatch,
    /// The stored name is taken and the receiver replaces no file (the
    /// default; see [`Receiver::with_overwrite`]).
    AlreadyStored {
        /// The stored name (see [`stored_name`]).
        name: String,
        /// Whether `<name>.partial` takes it (an upload of that name in
        /// progress, or one left incomplete) rather than a stored `<name>`.
        partial: bool,
    },
    /// A `Resume` whose token is not the one the server gave the upload
    /// of that name (or whose upload kept no token): only the uploader
    /// that started it may resume it.
    ResumeRefused {
        /// The stored name.
        name: String,
    },
    /// A `Resume` of an upload that a connection is still writing (one
    /// the server has not yet seen end): try again once it has.
    ResumeBusy {
        /// The stored name.
        name: String,
    },
    /// The SHA-256 of the client's prefix (`Prefix`) differs from that of
    /// what the server holds: the file changed, nothing is resumed, and
    /// the server drops the part it held (the next upload starts over).
    PrefixMismatch,
    /// The server holds more of the file than the client has.
    ServerHoldsMore {
        /// What the server holds, in bytes.
        offset: u64,
        /// What the client read, in bytes.
        len: u64,
    },
    /// An `Open` (or `Resume`) past the most files one connection may
    /// store ([`Receiver::with_max_files`]; 1 for a receiver whose
    /// [`FileDigest`] cannot start over, see [`FileDigest::reset`]).
    TooManyFiles {
        /// The most files the connection may store.
        limit: usize,
    },
    /// `Data` past the most bytes one connection may write over all its
    /// files ([`Receiver::with_max_connection_len`]).
    ConnectionFull {
        /// The most bytes, over all the connection's files.
        limit: u64,
    },
    /// An [`Upload::batch`] of no file.
    EmptyBatch,
}

impl TransferError {
    /// An [`Io`](TransferError::Io) error saying what failed.
    pub(crate) fn io(what: &str, err: &io::Error) -> TransferError {
        TransferError::Io {
            kind: err.kind(),
            message: std::format!("{what}: {err}"),
        }
    }
}

impl From<io::Error> for TransferError {
    fn from(err: io::Error) -> Self {
        TransferError::Io {
            kind: err.kind(),
            message: err.to_string(),
        }
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::BadFileName(name) => write!(
                f,
                "refused file name {name:?}: its last path component, with \
                 every character but letters, digits, `_`, `.` and `-` \
                 replaced by `_`, must be 1 to {MAX_NAME_LEN} bytes long, \
                 not `.` or `..`, and not end in `.partial`"
            ),
            TransferError::UnexpectedMessage { expected, got } => {
                write!(f, "unexpected {got} message: expected {expected}")
            }
            TransferError::Refused(message) => {
                write!(f, "the server refused the transfer: {message}")
            }
            TransferError::TooLarge { limit } => {
                write!(f, "the file is larger than the limit of {limit} bytes")
            }
            TransferError::Io { message, .. } => write!(f, "I/O error: {message}"),
            TransferError::InvalidChunkSize => f.write_str("the chunk size must be at least 1"),
            TransferError::DigestMismatch => {
                f.write_str("the SHA-256 of the stored file differs from the client's")
            }
            TransferError::AlreadyStored {
                name,
                partial: false,
            } => write!(f, "a file named {name} is already stored"),
            TransferError::AlreadyStored {
                name,
                partial: true,
            } => write!(
                f,
                "{name}.partial exists: an upload of that name is in progress \
                 or was left incomplete"
            ),
            TransferError::ResumeRefused { name } => write!(
                f,
                "resume refused: the upload of {name} was not started with this token"
            ),
            TransferError::ResumeBusy { name } => write!(
                f,
                "the upload of {name} is still in progress on another connection; \
                 try again later"
            ),
            TransferError::PrefixMismatch => f.write_str(
                "resume refused: the file differs from the part the server held, \
                 which it dropped: the next upload starts over",
            ),
            TransferError::ServerHoldsMore { offset, len } => write!(
                f,
                "the server holds {offset} bytes of the file, which has only {len}"
            ),
            TransferError::TooManyFiles { limit } => {
                write!(f, "refused: one connection may store at most {limit} files")
            }
            TransferError::ConnectionFull { limit } => write!(
                f,
                "refused: one connection may store at most {limit} bytes in all"
            ),
            TransferError::EmptyBatch => f.write_str("a batch needs at least one file"),
        }
    }
}

impl std::error::Error for TransferError {}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by the tests of the transfer module.

    use std::path::Path;
    use std::string::String;
    use std::vec::Vec;

    /// The sorted names in `dir`.
    pub fn list(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// `len` deterministic pseudo-random bytes (xorshift64*).
    pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    /// The SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(data).into()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{list, pseudo_random, sha256};
    use super::*;
    use crate::message::Message;
    use std::vec::Vec;

    /// A reader that returns at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn transfer(sender: &mut Sender<impl io::Read>, receiver: &mut Receiver) -> usize {
        let mut messages = 0;
        while let Some(message) = sender.next_message().unwrap() {
            messages += 1;
            if let Some(reply) = receiver.handle_message(message).unwrap() {
                sender.handle_message(&reply).unwrap();
            }
        }
        messages
    }

    #[test]
    fn round_trip_of_one_mebibyte() {
        let dir = tempfile::tempdir().unwrap();
        let file = pseudo_random(1 << 20, 7);
        let mut sender = Sender::new(&file[..], "/home/u/data.bin", DEFAULT_CHUNK_SIZE).unwrap();
        let mut receiver = Receiver::new(dir.path());

        let messages = transfer(&mut sender, &mut receiver);

        // OPEN, ceil(2^20 / 960) = 1093 DATA, CLOSE.
        assert_eq!(messages, 1 + 1093 + 1);
        assert!(sender.is_finished());
        assert_eq!(sender.bytes_read(), 1 << 20);
        assert_eq!(receiver.bytes_written(), 1 << 20);
        let stored = std::fs::read(dir.path().join("data.bin")).unwrap();
        assert!(stored == file);
        assert_eq!(sender.sha256(), Some(sha256(&file)));
        assert_eq!(receiver.sha256(), Some(sha256(&file)));
        assert_eq!(
            receiver.final_path(),
            Some(dir.path().join("data.bin").as_path())
        );
        drop(receiver);
        assert_eq!(list(dir.path()), ["data.bin"]);
    }

    #[test]
    fn round_trip_with_short_reads() {
        let dir = tempfile::tempdir().unwrap();
        let file = pseudo_random(10_000, 3);
        let reader = Trickle {
            data: &file,
            step: 7,
        };
        let mut sender = Sender::new(reader, "C:\\Users\\u\\x.bin", 1000).unwrap();
        let mut receiver = Receiver::new(dir.path());
        assert_eq!(transfer(&mut sender, &mut receiver), 1 + 10 + 1);
        assert_eq!(std::fs::read(dir.path().join("x.bin")).unwrap(), file);
        assert_eq!(sender.sha256(), receiver.sha256());
    }

    #[test]
    fn a_refusal_reaches_the_sender() {
        let dir = tempfile::tempdir().unwrap();
        let mut sender = Sender::new(&[1u8; 100][..], "big.bin", 40).unwrap();
        let mut receiver = Receiver::new(dir.path()).with_max_file_len(50);
        let mut failure = None;
        while let Some(message) = sender.next_message().unwrap() {
            match receiver.handle_message(message) {
                Ok(Some(reply)) => sender.handle_message(&reply).unwrap(),
                Ok(None) => {}
                Err(e) => {
                    // What the example server does.
                    let reply = Message::Error {
                        message: e.to_string(),
                    };
                    failure = Some(sender.handle_message(&reply).unwrap_err());
                    break;
                }
            }
        }
        assert_eq!(
            failure,
            Some(TransferError::Refused(
                "the file is larger than the limit of 50 bytes".into()
            ))
        );
        assert!(!sender.is_finished());
        assert_eq!(
            receiver.finish_incomplete(),
            Some(dir.path().join("big.bin.partial"))
        );
        assert_eq!(
            std::fs::read(dir.path().join("big.bin.partial")).unwrap(),
            [1; 40]
        );
    }

    #[test]
    fn a_name_already_stored_is_refused_to_the_sender() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("taken.txt"), b"first").unwrap();
        let mut sender = Sender::new(&b"second"[..], "/home/u/taken.txt", 4).unwrap();
        let mut receiver = Receiver::new(dir.path());
        let open = sender.next_message().unwrap().unwrap();
        let e = receiver.handle_message(open).unwrap_err();
        // What the example server does.
        let reply = Message::Error {
            message: e.to_string(),
        };
        assert_eq!(
            sender.handle_message(&reply),
            Err(TransferError::Refused(
                "a file named taken.txt is already stored".into()
            ))
        );
        drop(receiver);
        assert_eq!(list(dir.path()), ["taken.txt"]);
        assert_eq!(
            std::fs::read(dir.path().join("taken.txt")).unwrap(),
            b"first"
        );
    }

    #[test]
    fn errors_display_actionable_text() {
        let texts: Vec<String> = [
            TransferError::BadFileName("..".into()),
            TransferError::UnexpectedMessage {
                expected: "OPEN",
                got: "DATA",
            },
            TransferError::Refused("See server".into()),
            TransferError::TooLarge { limit: 10 },
            TransferError::io(
                "cannot write the file",
                &io::Error::from(io::ErrorKind::StorageFull),
            ),
            TransferError::InvalidChunkSize,
            TransferError::AlreadyStored {
                name: "report.pdf".into(),
                partial: false,
            },
            TransferError::AlreadyStored {
                name: "report.pdf".into(),
                partial: true,
            },
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert!(texts[0].starts_with("refused file name \"..\""));
        assert_eq!(texts[1], "unexpected DATA message: expected OPEN");
        assert_eq!(texts[2], "the server refused the transfer: See server");
        assert_eq!(texts[3], "the file is larger than the limit of 10 bytes");
        assert!(texts[4].starts_with("I/O error: cannot write the file: "));
        assert_eq!(texts[5], "the chunk size must be at least 1");
        assert_eq!(texts[6], "a file named report.pdf is already stored");
        assert_eq!(
            texts[7],
            "report.pdf.partial exists: an upload of that name is in progress \
             or was left incomplete"
        );
    }
}
