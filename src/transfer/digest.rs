//! The SHA-256 of the file, which a v2 `CLOSE` carries and the receiver
//! checks: inline by default, or on a thread of its own.
//!
//! Hashing costs as much as the channel's encryption (SHA-256 runs at
//! about the speed of AES-128-GCM), on both sides. [`FileDigest`] lets an
//! application move it off the thread that drives the connection;
//! [`ThreadedSha256`] does that with one thread per transfer, so that on a
//! machine with a core to spare the file is hashed while the records are
//! sealed or opened.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};
use std::vec::Vec;

use sha2::{Digest, Sha256};

/// How a transfer computes the SHA-256 of its file: every byte read (a
/// [`Sender`](super::Sender)) or written (a [`Receiver`](super::Receiver)),
/// in order, through [`update`](FileDigest::update), then
/// [`finish`](FileDigest::finish) once.
///
/// An implementation must return the SHA-256 of exactly the bytes it was
/// given; a wrong digest fails the transfer at `CLOSE`
/// ([`TransferError::DigestMismatch`](super::TransferError::DigestMismatch)),
/// it cannot make a wrong file pass.
pub trait FileDigest: Send {
    /// Adds the next bytes of the file.
    fn update(&mut self, bytes: &[u8]);
    /// The SHA-256 of everything added; called once, at the end.
    fn finish(&mut self) -> [u8; 32];

    /// Starts over for another file once [`finish`](FileDigest::finish)
    /// gave the last one's digest (a [`Receiver`](super::Receiver) of a
    /// batch, [`Extension::Batch`](crate::config::Extension::Batch), hashes
    /// each file with the same digest): afterwards it must give the
    /// SHA-256 of only the bytes added since. Returns whether it could.
    ///
    /// The default cannot (`false`): a receiver with such a digest stores
    /// one file per connection and refuses the next `Open` with
    /// [`TransferError::TooManyFiles`](super::TransferError::TooManyFiles).
    /// [`InlineSha256`] and [`ThreadedSha256`] can.
    fn reset(&mut self) -> bool {
        false
    }
}

/// SHA-256 inline, on the caller's thread: the default.
#[derive(Clone, Default)]
pub struct InlineSha256(Sha256);

impl FileDigest for InlineSha256 {
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&mut self) -> [u8; 32] {
        core::mem::take(&mut self.0).finalize().into()
    }

    fn reset(&mut self) -> bool {
        self.0 = Sha256::new();
        true
    }
}

/// Chunks waiting for the hashing thread: at most this many are copied
/// and queued, past which `update` waits for the thread.
const QUEUED_CHUNKS: usize = 2;

/// SHA-256 on a thread of its own: `update` copies the bytes to it (at
/// most two chunks wait; their buffers come back for reuse),
/// `finish` waits for its result. The thread ends with `finish`, or when
/// this is dropped. If the thread cannot be started, this hashes inline.
pub struct ThreadedSha256 {
    worker: Option<Worker>,
    /// Used when there is no worker.
    inline: Sha256,
    /// The worker went away before `finish`: the digest cannot be right.
    failed: bool,
}

struct Worker {
    chunks: SyncSender<Vec<u8>>,
    /// Buffers the thread has hashed, back for reuse.
    spent: Receiver<Vec<u8>>,
    thread: JoinHandle<[u8; 32]>,
}

impl ThreadedSha256 {
    /// Starts the hashing thread.
    #[must_use]
    pub fn new() -> ThreadedSha256 {
        let (chunks, inbox) = mpsc::sync_channel::<Vec<u8>>(QUEUED_CHUNKS);
        let (back, spent) = mpsc::sync_channel::<Vec<u8>>(QUEUED_CHUNKS + 1);
        let thread = thread::Builder::new()
            .name("securex-sha256".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                for chunk in inbox {
                    hasher.update(&chunk);
                    let _ = back.try_send(chunk);
                }
                hasher.finalize().into()
            });
        ThreadedSha256 {
            worker: thread.ok().map(|thread| Worker {
                chunks,
                spent,
                thread,
            }),
            inline: Sha256::new(),
            failed: false,
        }
    }
}

impl Default for ThreadedSha256 {
    fn default() -> Self {
        ThreadedSha256::new()
    }
}

impl FileDigest for ThreadedSha256 {
    fn update(&mut self, bytes: &[u8]) {
        let Some(worker) = &self.worker else {
            if !self.failed {
                self.inline.update(bytes);
            }
            return;
        };
        let mut chunk = worker.spent.try_recv().unwrap_or_default();
        chunk.clear();
        chunk.extend_from_slice(bytes);
        if worker.chunks.send(chunk).is_err() {
            self.worker = None;
            self.failed = true;
        }
    }

    fn finish(&mut self) -> [u8; 32] {
        let digest = match self.worker.take() {
            // Closing the channel ends the thread's loop.
            Some(Worker { chunks, thread, .. }) => {
                drop(chunks);
                thread.join().ok()
            }
            None if !self.failed => Some(core::mem::take(&mut self.inline).finalize().into()),
            None => None,
        };
        // Once only: a second call matches no file.
        self.failed = true;
        // A digest that matches nothing: the transfer fails at CLOSE.
        digest.unwrap_or([0; 32])
    }

    /// Ends the thread of the last file, if it still runs, and starts a
    /// fresh one.
    fn reset(&mut self) -> bool {
        *self = ThreadedSha256::new();
        true
    }
}

impl Drop for ThreadedSha256 {
    /// Ends the thread the way `finish` does.
    fn drop(&mut self) {
        if self.worker.is_some() {
            let _ = self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    /// Both digests give the SHA-256 of the bytes, however they are cut.
    #[test]
    fn threaded_and_inline_give_the_sha256() {
        // Keeps the low byte of each value on purpose: a pattern, not a count.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the pattern is the low byte"
        )]
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for cut in [1, 63, 64, 4096, 65_536, 300_000] {
            let mut inline = InlineSha256::default();
            let mut threaded = ThreadedSha256::new();
            for chunk in data.chunks(cut) {
                inline.update(chunk);
                threaded.update(chunk);
            }
            assert_eq!(inline.finish(), sha256(&data), "{cut}");
            assert_eq!(threaded.finish(), sha256(&data), "{cut}");
        }
        assert_eq!(ThreadedSha256::new().finish(), sha256(b""));
    }

    /// A threaded digest finished twice does not pass for the file: the
    /// second is zeros.
    #[test]
    fn a_second_finish_is_no_digest() {
        let mut threaded = ThreadedSha256::new();
        threaded.update(b"abc");
        assert_eq!(threaded.finish(), sha256(b"abc"));
        assert_eq!(threaded.finish(), [0; 32]);
    }

    /// After `reset`, both digests give the SHA-256 of what came after.
    #[test]
    fn a_reset_digest_hashes_the_next_file_only() {
        let mut inline = InlineSha256::default();
        let mut threaded = ThreadedSha256::new();
        for digest in [&mut inline as &mut dyn FileDigest, &mut threaded] {
            digest.update(b"first");
            assert_eq!(digest.finish(), sha256(b"first"));
            assert!(digest.reset());
            digest.update(b"second");
            assert_eq!(digest.finish(), sha256(b"second"));
        }
    }
}
