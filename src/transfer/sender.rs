//! The client's side: a reader turned into `Open`, `Data`…, `Close`.

use std::fmt;
use std::io::{self, Read};
use std::string::String;
use std::vec::Vec;

use std::boxed::Box;

use sha2::{Digest, Sha256};

use super::TransferError;
use super::digest::{FileDigest, InlineSha256};
use crate::config::Version;
use crate::message::{Message, ResumeToken};

/// The chunk size existing v1 clients use, in bytes: the default of a v1
/// upload (see [`default_chunk_size`]), and what the v1 rotation limits
/// of a server of ours are set for
/// ([`DEFAULT_V1_ROTATION_MIN_BYTES`](crate::config::DEFAULT_V1_ROTATION_MIN_BYTES)).
pub const DEFAULT_CHUNK_SIZE: usize = 960;

/// The default chunk size of a v2 upload, in bytes: 64 KiB. Each record
/// costs a frame, a tag and a sequence number whatever it carries, so
/// larger chunks move a file faster (the README's benchmarks compare
/// chunk sizes); a 64 KiB DATA frame (about 87 KB once base64 encoded)
/// stays far below
/// [`DEFAULT_MAX_FRAME_LEN`](crate::config::DEFAULT_MAX_FRAME_LEN).
pub const V2_DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// The default chunk size of an upload over a connection that speaks
/// `version`: [`DEFAULT_CHUNK_SIZE`] (960 bytes) in v1, as existing
/// clients send, and [`V2_DEFAULT_CHUNK_SIZE`] (64 KiB) in v2. The example
/// client's `--chunk-size` defaults to it (v1 with `--seed-compatible`).
///
/// ```
/// use securex::Version;
/// use securex::transfer::default_chunk_size;
///
/// assert_eq!(default_chunk_size(Version::V1), 960);
/// assert_eq!(default_chunk_size(Version::V2), 65_536);
/// ```
#[must_use]
pub const fn default_chunk_size(version: Version) -> usize {
    match version {
        Version::V1 => DEFAULT_CHUNK_SIZE,
        Version::V2 => V2_DEFAULT_CHUNK_SIZE,
    }
}

/// The most a chunk buffer reserves up front; larger chunks grow as read.
const MAX_PREALLOCATION: usize = 1 << 16;

/// Turns a reader into the messages of one upload.
///
/// [`next_message`](Sender::next_message) yields `Open`, then nothing until
/// the server's `Ok` is passed to [`handle_message`](Sender::handle_message),
/// then `Data` chunks of exactly the chunk size (the last one shorter; none
/// for an empty file, no empty one after a file that is a multiple of the
/// chunk size), then `Close`. The reader is read lazily, one chunk per
/// `Data`, so a large file never sits in memory.
///
/// Where the connection agreed resume ([`agree_resume`](Sender::agree_resume)),
/// the server answers with `Accepted` instead of `Ok`: its token
/// ([`resume_token`](Sender::resume_token)) lets a later sender of the same
/// file continue from what the server holds
/// ([`with_resume_token`](Sender::with_resume_token)): it sends `Resume`
/// instead of `Open`, reads the part the server holds (hashing it into the
/// file's digest), sends its SHA-256 as `Prefix`, and goes on from there.
///
/// After an error, the sender is failed: every later call returns the same
/// error.
pub struct Sender<R> {
    reader: R,
    file_name: String,
    chunk_size: usize,
    state: State,
    bytes_read: u64,
    digest: Box<dyn FileDigest>,
    sha256: Option<[u8; 32]>,
    /// The token of an earlier upload of this file, to present.
    resume_token: Option<ResumeToken>,
    /// Whether the connection agreed `Extension::Resume`.
    resume_agreed: bool,
    /// The server's `Accepted`: the stored name, the offset it resumed
    /// at, and the token of this upload.
    accepted: Option<(String, u64, ResumeToken)>,
}

#[derive(Debug)]
enum State {
    /// `Open` (or `Resume`) is next.
    Start,
    /// `Open` went out; waiting for the server's `Ok`.
    AwaitingOk,
    /// The server holds this many bytes: read them, then `Prefix`.
    Prefix(u64),
    /// Reading the file into `Data`.
    Sending,
    /// The reader ended after a short chunk: `Close` is next.
    CloseNext,
    /// `Close` went out.
    Finished,
    /// Stopped by this error.
    Failed(TransferError),
}

impl<R: Read> Sender<R> {
    /// A sender of the file `reader` under the name `file_name` (what the
    /// server sees; it keeps only a safe last path component), in `Data`
    /// chunks of `chunk_size` bytes ([`DEFAULT_CHUNK_SIZE`] is what existing
    /// clients use).
    ///
    /// # Errors
    ///
    /// [`TransferError::InvalidChunkSize`] if `chunk_size` is 0.
    pub fn new(
        reader: R,
        file_name: impl Into<String>,
        chunk_size: usize,
    ) -> Result<Sender<R>, TransferError> {
        if chunk_size == 0 {
            return Err(TransferError::InvalidChunkSize);
        }
        Ok(Sender {
            reader,
            file_name: file_name.into(),
            chunk_size,
            state: State::Start,
            bytes_read: 0,
            digest: Box::new(InlineSha256::default()),
            sha256: None,
            resume_token: None,
            resume_agreed: false,
            accepted: None,
        })
    }

    /// Resumes the upload that an earlier sender of this file started,
    /// whose [`resume_token`](Sender::resume_token) this is: the first
    /// message is `Resume` instead of `Open` where the connection agreed
    /// resume. The server starts again from nothing if it kept nothing.
    #[must_use]
    pub fn with_resume_token(mut self, token: ResumeToken) -> Sender<R> {
        self.resume_token = Some(token);
        self
    }

    /// Computes the file's SHA-256 with `digest` instead of inline (on a
    /// thread of its own with [`ThreadedSha256`](super::ThreadedSha256)).
    #[must_use]
    pub fn with_digest(mut self, digest: impl FileDigest + 'static) -> Sender<R> {
        self.digest = Box::new(digest);
        self
    }

    /// The next message to send, or `None` when the sender waits for the
    /// server's `Ok` or has produced everything (see
    /// [`is_finished`](Sender::is_finished)).
    ///
    /// # Errors
    ///
    /// [`TransferError::Io`] if reading the file failed; the error of an
    /// earlier failure.
    pub fn next_message(&mut self) -> Result<Option<Message>, TransferError> {
        match &self.state {
            State::Start => {
                self.state = State::AwaitingOk;
                let file_name = self.file_name.clone();
                Ok(Some(match self.resume_token.take() {
                    Some(token) if self.resume_agreed => Message::Resume { file_name, token },
                    _ => Message::Open { file_name },
                }))
            }
            State::AwaitingOk | State::Finished => Ok(None),
            &State::Prefix(offset) => match self.read_prefix(offset) {
                Ok(sha256) => {
                    self.state = State::Sending;
                    Ok(Some(Message::Prefix { sha256 }))
                }
                Err(error) => {
                    self.state = State::Failed(error.clone());
                    Err(error)
                }
            },
            State::CloseNext => {
                self.state = State::Finished;
                Ok(Some(Message::Close {
                    sha256: self.sha256,
                }))
            }
            State::Sending => {
                let chunk = match self.read_chunk() {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        let error = TransferError::io("cannot read the file", &e);
                        self.state = State::Failed(error.clone());
                        return Err(error);
                    }
                };
                if chunk.len() < self.chunk_size {
                    self.sha256 = Some(self.digest.finish());
                }
                if chunk.is_empty() {
                    self.state = State::Finished;
                    Ok(Some(Message::Close {
                        sha256: self.sha256,
                    }))
                } else {
                    if chunk.len() < self.chunk_size {
                        self.state = State::CloseNext;
                    }
                    Ok(Some(Message::Data(chunk)))
                }
            }
            State::Failed(error) => Err(error.clone()),
        }
    }

    /// Reads the first `offset` bytes of the file (the part the server
    /// holds) into the file's digest; returns their SHA-256.
    fn read_prefix(&mut self, offset: u64) -> Result<[u8; 32], TransferError> {
        let mut prefix = Sha256::new();
        let mut buf = alloc::vec![0u8; MAX_PREALLOCATION];
        while self.bytes_read < offset {
            let want =
                usize::try_from(offset - self.bytes_read).map_or(buf.len(), |n| n.min(buf.len()));
            let n = match self.reader.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(TransferError::ServerHoldsMore {
                        offset,
                        len: self.bytes_read,
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TransferError::io("cannot read the file", &e)),
            };
            prefix.update(&buf[..n]);
            self.digest.update(&buf[..n]);
            self.bytes_read += n as u64;
        }
        Ok(prefix.finalize().into())
    }

    /// Reads up to a full chunk, fewer only at the end of the file.
    fn read_chunk(&mut self) -> io::Result<Vec<u8>> {
        // Read straight into the chunk, as much as it holds per call (not
        // `read_to_end`, whose reads start small): through short reads
        // and `Interrupted` until the chunk is full or the reader ends.
        let mut chunk = alloc::vec![0u8; self.chunk_size.min(MAX_PREALLOCATION)];
        let mut filled = 0;
        loop {
            if filled == chunk.len() {
                if filled >= self.chunk_size {
                    break;
                }
                chunk.resize(filled.saturating_mul(2).clamp(1, self.chunk_size), 0);
            }
            match self.reader.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        chunk.truncate(filled);
        self.digest.update(&chunk);
        self.bytes_read += chunk.len() as u64;
        Ok(chunk)
    }
}

impl<R> Sender<R> {
    /// Takes a message from the server: `Ok` after `Open` lets the data
    /// flow; `Error` fails the transfer at any time.
    ///
    /// # Errors
    ///
    /// [`TransferError::Refused`] with the server's message for `Error`;
    /// [`TransferError::UnexpectedMessage`] for any other message (v1
    /// servers send nothing else); the error of an earlier failure. Each
    /// leaves the sender failed.
    pub fn handle_message(&mut self, message: &Message) -> Result<(), TransferError> {
        let error = match (&self.state, message) {
            (State::Failed(error), _) => return Err(error.clone()),
            (State::AwaitingOk, Message::Ok) => {
                self.state = State::Sending;
                return Ok(());
            }
            (
                State::AwaitingOk,
                Message::Accepted {
                    stored_name,
                    offset,
                    token,
                },
            ) if self.resume_agreed => {
                self.state = if *offset > 0 {
                    State::Prefix(*offset)
                } else {
                    State::Sending
                };
                self.accepted = Some((stored_name.clone(), *offset, token.clone()));
                return Ok(());
            }
            (_, Message::Error { message }) => TransferError::Refused(message.clone()),
            (state, message) => TransferError::UnexpectedMessage {
                expected: match state {
                    State::AwaitingOk if self.resume_agreed => "ACCEPTED, OK or ERROR",
                    State::AwaitingOk => "OK or ERROR",
                    _ => "ERROR or no message",
                },
                got: message.type_name(),
            },
        };
        self.state = State::Failed(error.clone());
        Err(error)
    }

    /// Tells the sender whether the connection agreed
    /// [`Extension::Resume`](crate::config::Extension::Resume); call it
    /// before the first [`next_message`](Sender::next_message)
    /// ([`Upload`](super::Upload) does).
    pub fn agree_resume(&mut self, agreed: bool) {
        self.resume_agreed = agreed;
    }

    /// The token of this upload, once the server's `Accepted` gave it:
    /// keep it (where only the uploader can read it) to resume the upload
    /// if the connection is cut.
    pub fn resume_token(&self) -> Option<&ResumeToken> {
        self.accepted.as_ref().map(|(_, _, token)| token)
    }

    /// The name the server stores the file under, once its `Accepted`
    /// said (v2 with resume agreed; otherwise the server does not say:
    /// see [`stored_name`](super::stored_name) for what ours does).
    pub fn stored_name(&self) -> Option<&str> {
        self.accepted.as_ref().map(|(name, _, _)| name.as_str())
    }

    /// How many bytes of the file the server held when this upload
    /// resumed (0 for an upload from the start).
    pub fn resumed_from(&self) -> u64 {
        self.accepted.as_ref().map_or(0, |&(_, offset, _)| offset)
    }

    /// Whether `Close` has been produced: the whole file went out.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    /// The name the file is sent under (in `OPEN`), as given to
    /// [`Sender::new`]; the server may store it under another
    /// ([`stored_name`](Self::stored_name)).
    #[must_use]
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// How many bytes of the file have been read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The SHA-256 of the whole file as read, once the reader reported its
    /// end (at the latest when `Close` is produced); `None` before.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        self.sha256
    }
}

impl<R> fmt::Debug for Sender<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("state", &self.state)
            .field("chunk_size", &self.chunk_size)
            .field("bytes_read", &self.bytes_read)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::testutil::sha256;
    use std::vec;

    /// Every message the sender produces when the server accepts.
    fn run(sender: &mut Sender<impl Read>) -> Vec<Message> {
        let mut out = vec![sender.next_message().unwrap().unwrap()];
        assert_eq!(sender.next_message(), Ok(None), "must wait for OK");
        sender.handle_message(&Message::Ok).unwrap();
        while let Some(m) = sender.next_message().unwrap() {
            out.push(m);
        }
        assert!(sender.is_finished());
        assert_eq!(sender.next_message(), Ok(None));
        out
    }

    fn open(name: &str) -> Message {
        Message::Open {
            file_name: name.into(),
        }
    }

    /// Returns one byte per call.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(slot)) => {
                    *slot = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// Yields `data`, then fails with `kind`; interrupts every other call.
    struct Flaky<'a> {
        data: &'a [u8],
        kind: io::ErrorKind,
        calls: usize,
    }

    impl Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 2 == 1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.data.is_empty() {
                return Err(io::Error::new(self.kind, "disk on fire"));
            }
            let n = self.data.read(buf)?;
            Ok(n)
        }
    }

    /// The `Close` of a file: it carries the file's SHA-256.
    fn close_of(file: &[u8]) -> Message {
        Message::Close {
            sha256: Some(sha256(file)),
        }
    }

    #[test]
    fn empty_file_sends_no_data() {
        let mut sender = Sender::new(io::empty(), "/tmp/empty", 4).unwrap();
        assert_eq!(run(&mut sender), [open("/tmp/empty"), close_of(b"")]);
        assert_eq!(sender.bytes_read(), 0);
        // The name outlives the OPEN that carried it.
        assert_eq!(sender.file_name(), "/tmp/empty");
        // The well-known digest of nothing.
        let empty = sha256(b"");
        assert_eq!(empty[..4], [0xe3, 0xb0, 0xc4, 0x42]);
        assert_eq!(sender.sha256(), Some(empty));
    }

    #[test]
    fn exact_multiple_sends_no_empty_chunk() {
        let file: Vec<u8> = (0..12).collect();
        let mut sender = Sender::new(&file[..], "f", 4).unwrap();
        assert_eq!(
            run(&mut sender),
            [
                open("f"),
                Message::Data(vec![0, 1, 2, 3]),
                Message::Data(vec![4, 5, 6, 7]),
                Message::Data(vec![8, 9, 10, 11]),
                close_of(&file),
            ]
        );
        assert_eq!(sender.bytes_read(), 12);
        assert_eq!(sender.sha256(), Some(sha256(&file)));
    }

    #[test]
    fn short_reads_still_fill_whole_chunks() {
        let file: Vec<u8> = (0..10).collect();
        let mut sender = Sender::new(OneByte(&file), "f", 4).unwrap();
        assert_eq!(
            run(&mut sender),
            [
                open("f"),
                Message::Data(vec![0, 1, 2, 3]),
                Message::Data(vec![4, 5, 6, 7]),
                Message::Data(vec![8, 9]),
                close_of(&file),
            ]
        );
        assert_eq!(sender.sha256(), Some(sha256(&file)));
    }

    #[test]
    fn digest_is_known_once_the_reader_ended() {
        let mut sender = Sender::new(&[7u8; 5][..], "f", 4).unwrap();
        sender.next_message().unwrap();
        sender.handle_message(&Message::Ok).unwrap();
        assert_eq!(
            sender.next_message().unwrap(),
            Some(Message::Data(vec![7; 4]))
        );
        assert_eq!(sender.sha256(), None);
        assert_eq!(sender.next_message().unwrap(), Some(Message::Data(vec![7])));
        assert_eq!(sender.sha256(), Some(sha256(&[7; 5])));
        assert!(!sender.is_finished());
        assert_eq!(sender.next_message().unwrap(), Some(close_of(&[7; 5])));
        assert!(sender.is_finished());
    }

    #[test]
    fn zero_chunk_size_is_refused() {
        assert_eq!(
            Sender::new(io::empty(), "f", 0).unwrap_err(),
            TransferError::InvalidChunkSize
        );
    }

    #[test]
    fn server_error_fails_the_transfer() {
        let mut sender = Sender::new(&b"abc"[..], "f", 2).unwrap();
        sender.next_message().unwrap();
        let refused = TransferError::Refused("See server".into());
        let error = Message::Error {
            message: "See server".into(),
        };
        assert_eq!(sender.handle_message(&error), Err(refused.clone()));
        assert_eq!(sender.next_message(), Err(refused.clone()));
        assert_eq!(sender.handle_message(&Message::Ok), Err(refused));
        assert!(!sender.is_finished());
        assert_eq!(sender.bytes_read(), 0);
    }

    #[test]
    fn server_error_mid_transfer_stops_the_data() {
        let mut sender = Sender::new(&[0u8; 10][..], "f", 2).unwrap();
        sender.next_message().unwrap();
        sender.handle_message(&Message::Ok).unwrap();
        sender.next_message().unwrap();
        let error = Message::Error {
            message: "disk full".into(),
        };
        assert!(matches!(
            sender.handle_message(&error),
            Err(TransferError::Refused(m)) if m == "disk full"
        ));
        assert!(sender.next_message().is_err());
        assert_eq!(sender.bytes_read(), 2);
    }

    #[test]
    fn unexpected_server_messages_are_errors() {
        // OK before OPEN went out.
        let mut sender = Sender::new(io::empty(), "f", 1).unwrap();
        assert_eq!(
            sender.handle_message(&Message::Ok),
            Err(TransferError::UnexpectedMessage {
                expected: "ERROR or no message",
                got: "OK"
            })
        );
        assert!(sender.next_message().is_err());

        // A client message while waiting for OK.
        let mut sender = Sender::new(io::empty(), "f", 1).unwrap();
        sender.next_message().unwrap();
        assert_eq!(
            sender.handle_message(&Message::Close { sha256: None }),
            Err(TransferError::UnexpectedMessage {
                expected: "OK or ERROR",
                got: "CLOSE"
            })
        );

        // A second OK while sending.
        let mut sender = Sender::new(&b"abc"[..], "f", 1).unwrap();
        sender.next_message().unwrap();
        sender.handle_message(&Message::Ok).unwrap();
        assert!(matches!(
            sender.handle_message(&Message::Ok),
            Err(TransferError::UnexpectedMessage { got: "OK", .. })
        ));
    }

    #[test]
    fn read_errors_keep_their_kind() {
        let reader = Flaky {
            data: &[1, 2, 3],
            kind: io::ErrorKind::PermissionDenied,
            calls: 0,
        };
        let mut sender = Sender::new(reader, "f", 2).unwrap();
        sender.next_message().unwrap();
        sender.handle_message(&Message::Ok).unwrap();
        // `Interrupted` is retried.
        assert_eq!(
            sender.next_message().unwrap(),
            Some(Message::Data(vec![1, 2]))
        );
        let error = sender.next_message().unwrap_err();
        match &error {
            TransferError::Io { kind, message } => {
                assert_eq!(*kind, io::ErrorKind::PermissionDenied);
                assert_eq!(message, "cannot read the file: disk on fire");
            }
            other => panic!("expected Io, got {other:?}"),
        }
        assert_eq!(sender.next_message(), Err(error));
        assert_eq!(sender.sha256(), None);
        assert!(!sender.is_finished());
    }
}
