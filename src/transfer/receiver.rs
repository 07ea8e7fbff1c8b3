//! The server's side: `Open`, `Data`…, `Close` stored in a directory.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::string::String;
use std::sync::atomic::{AtomicU64, Ordering};

use std::boxed::Box;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::TransferError;
use super::digest::{FileDigest, InlineSha256};
use super::resume::{lock, token_matches, token_path, write_token};
use crate::message::{Message, RESUME_TOKEN_LEN, ResumeToken};

/// The longest stored name accepted, in bytes; with `.partial` or the
/// temporary suffix it stays within the 255 bytes most file systems allow.
pub const MAX_NAME_LEN: usize = 200;

/// The most files one connection may store by default
/// ([`Receiver::with_max_files`]): 1024.
pub const DEFAULT_MAX_FILES: usize = 1024;

/// How much of the stored name a temporary file's name repeats (enough to
/// recognise it in a directory listing).
const TEMP_PREFIX_LEN: usize = 64;

/// How many taken temporary names to skip before giving up.
const TEMP_ATTEMPTS: u32 = 1000;

/// Numbers the temporary files of this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The name under which a file sent as `file_name` is stored: the last path
/// component (after the last `/` or `\`), in Unicode NFC, with its letters
/// and digits (any script; the combining marks that follow them too), `_`,
/// `.` and `-` kept, and every other character (spaces, controls,
/// punctuation, format and bidirectional marks) replaced with `_`.
///
/// ```
/// use securex::transfer::stored_name;
///
/// assert_eq!(stored_name("/home/u/report.pdf").unwrap(), "report.pdf");
/// assert_eq!(stored_name("C:\\dir\\a b$c.txt").unwrap(), "a_b_c.txt");
/// // NFD (as macOS writes names) and NFC give the same name.
/// assert_eq!(stored_name("re\u{301}sume\u{301} café.txt").unwrap(), "résumé_café.txt");
/// assert!(stored_name("/home/u/..").is_err());
/// assert!(stored_name("report.pdf.partial").is_err());
/// ```
///
/// # Errors
///
/// [`TransferError::BadFileName`] (carrying `file_name`) if what remains is
/// empty, `.`, `..`, longer than [`MAX_NAME_LEN`] bytes of UTF-8, or ends
/// in `.partial` (the name of an incomplete upload: a file stored under it
/// would pass for one, and block its name).
pub fn stored_name(file_name: &str) -> Result<String, TransferError> {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let last = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let mut name = String::with_capacity(last.len());
    // Whether the last character kept is a letter, a digit or a mark on
    // one: a combining mark is kept only there.
    let mut after_letter = false;
    for c in last.nfc() {
        let letter = c.is_alphanumeric() || (after_letter && is_combining_mark(c));
        after_letter = letter;
        name.push(if letter || matches!(c, '_' | '.' | '-') {
            c
        } else {
            '_'
        });
    }
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.len() > MAX_NAME_LEN
        || name.ends_with(".partial")
    {
        return Err(TransferError::BadFileName(file_name.into()));
    }
    Ok(name)
}

/// Stores the file of one upload in a directory.
///
/// Feed it the client's messages with
/// [`handle_message`](Receiver::handle_message) and send the replies it
/// returns. `Open` (first, and once) is answered by `Ok`; `Data` is
/// appended to the file; `Close` flushes it to disk and puts it under the
/// stored name ([`stored_name`]). How depends on the mode, chosen with
/// [`with_overwrite`](Receiver::with_overwrite):
///
/// * **Refusing, the default**: a stored file is not someone else's to
///   replace. `Open` refuses a stored name that is taken, either as a
///   complete file `<name>` or as `<name>.partial` (an upload of that name
///   in progress, or one left incomplete, whose data is kept), with
///   [`TransferError::AlreadyStored`], and then creates and changes
///   nothing. Otherwise it claims the name by creating `<name>.partial`
///   atomically (of two receivers of one name, only one can), and the data
///   is written straight into it. `Close` links it to `<name>` without
///   replacing anything, then removes the `.partial`; if `<name>` appeared
///   after `Open`, `Close` fails with `AlreadyStored` and the data stays in
///   `<name>.partial`. This needs a file system with hard links (elsewhere
///   `Close` fails with [`TransferError::Io`], keeping the `.partial`).
/// * **Overwriting** (`with_overwrite(true)`): any client may replace any
///   stored file. `Open` creates a temporary file in the directory, named
///   `<name>~<pid>+<n>.tmp` — a name [`stored_name`] never produces, unique
///   across the receivers of all processes — and `Close` renames it to the
///   stored name, replacing a file of that name.
///
/// A transfer that does not reach `Close` is kept as `<name>.partial` by
/// [`finish_incomplete`](Receiver::finish_incomplete), which the caller
/// calls when the connection ends, or by `Drop`: the refusing mode leaves
/// it where it was written; the overwriting mode renames its temporary
/// file to it, replacing an older one. An error deletes nothing: the
/// receiver keeps what arrived until then, refuses every later message
/// with the same error, and `finish_incomplete` still keeps the data.
///
/// The two modes should not share a directory: an overwriting receiver
/// replaces `.partial` files, including one that a refusing receiver is
/// writing.
///
/// Nothing is ever created in the directory but the `.partial` or
/// temporary file and the stored name, each a single sanitised path
/// component; the directory itself must exist.
pub struct Receiver {
    dir: PathBuf,
    max_file_len: Option<u64>,
    overwrite: bool,
    phase: Phase,
    stored_name: Option<String>,
    final_path: Option<PathBuf>,
    bytes_written: u64,
    digest: Box<dyn FileDigest>,
    sha256: Option<[u8; 32]>,
    /// Where resume tokens come from, if uploads may resume.
    resume: Option<Box<dyn CryptoRng + Send>>,
    /// Whether the connection agreed `Extension::Resume`.
    resume_agreed: bool,
    /// The most files this receiver stores (one connection's).
    max_files: usize,
    /// The files stored so far.
    files_stored: usize,
    /// The most bytes of `Data` this receiver writes, over every file of
    /// a batch.
    max_connection_len: Option<u64>,
    /// The bytes of `Data` written so far, over every file.
    connection_written: u64,
}

#[derive(Debug)]
enum Phase {
    /// Nothing has arrived.
    AwaitingOpen,
    /// `Open` arrived; the data goes into this file.
    Receiving(Incoming),
    /// `Close` arrived and the file is in place.
    Stored,
    /// A message failed; the data that arrived before, if any.
    Failed {
        error: TransferError,
        file: Option<Incoming>,
    },
    /// Ended without `Close`; the data (if any) was kept as `.partial`.
    Abandoned,
}

impl Phase {
    /// What may arrive in this phase.
    fn expected(&self) -> &'static str {
        match self {
            Phase::AwaitingOpen => "OPEN",
            Phase::Receiving(file) if file.awaiting_prefix.is_some() => "PREFIX",
            Phase::Receiving(_) => "DATA or CLOSE",
            _ => "no further message",
        }
    }
}

/// Where an accepted upload is written (see [`Receiver`]'s modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// In `<name>.partial`, which claims the name; `Close` links it to
    /// `<name>` without replacing.
    Claimed,
    /// In a temporary file, renamed on `Close` to `<name>` and on an
    /// incomplete end to `<name>.partial`, replacing either.
    Temporary,
    /// Appended to the `<name>.partial` of an upload that is resumed;
    /// `Close` puts it under `<name>` as `Claimed` does, or replacing a
    /// stored file if `replace` (the overwriting mode).
    Resumed {
        /// Whether `Close` replaces a stored `<name>`.
        replace: bool,
    },
}

/// A file being written, and the stored path it is meant for.
#[derive(Debug)]
struct Incoming {
    storage: Storage,
    /// The stored name.
    name: String,
    /// Where the data is written.
    path: PathBuf,
    /// Where `Close` puts it.
    target: PathBuf,
    writer: BufWriter<File>,
    /// The token of the upload, if it may be resumed: kept (as its
    /// SHA-256) in `<name>.partial~token` beside the `.partial`.
    token: Option<ResumeToken>,
    /// A resumed upload: the SHA-256 of what the server holds, until the
    /// client's `Prefix` matched it.
    awaiting_prefix: Option<[u8; 32]>,
}

/// Whether `file` is the file `looked_at` described (its device and inode;
/// without them, always).
#[cfg(unix)]
fn same_file(looked_at: &fs::Metadata, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata()
        .is_ok_and(|m| m.dev() == looked_at.dev() && m.ino() == looked_at.ino())
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &File) -> bool {
    true
}

/// `<target>.partial`.
fn partial_path(target: &Path) -> PathBuf {
    let mut partial = target.as_os_str().to_os_string();
    partial.push(".partial");
    PathBuf::from(partial)
}

impl Incoming {
    /// Claims the stored name `name` in `dir` by creating `<name>.partial`,
    /// unless either `<name>` or `<name>.partial` exists.
    fn claim(dir: &Path, name: &str) -> Result<Incoming, TransferError> {
        let target = dir.join(name);
        // Not `exists()`: a symbolic link of that name, even a dangling
        // one, takes it too, and an error is not an absence.
        match fs::symlink_metadata(&target) {
            Ok(_) => {
                return Err(TransferError::AlreadyStored {
                    name: name.into(),
                    partial: false,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(TransferError::io("cannot look up the stored name", &e)),
        }
        // `create_new` is the claim: it fails if the `.partial` exists (of
        // two receivers of one name, the second), and never follows a
        // symbolic link.
        let path = partial_path(&target);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => {
                // A new file: nobody else holds its lock.
                let _ = lock(&file);
                Ok(Incoming {
                    storage: Storage::Claimed,
                    name: name.into(),
                    path,
                    target,
                    writer: BufWriter::new(file),
                    token: None,
                    awaiting_prefix: None,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(TransferError::AlreadyStored {
                    name: name.into(),
                    partial: true,
                })
            }
            Err(e) => Err(TransferError::io("cannot create the file", &e)),
        }
    }

    /// Creates a fresh temporary file in `dir` for the stored name `name`.
    fn temporary(dir: &Path, name: &str) -> Result<Incoming, TransferError> {
        // At most TEMP_PREFIX_LEN bytes, cut at a character boundary (the
        // name may hold letters of any script).
        let prefix = &name[..name.floor_char_boundary(TEMP_PREFIX_LEN)];
        let mut attempts = 0;
        loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(std::format!("{prefix}~{}+{n}.tmp", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(Incoming {
                        storage: Storage::Temporary,
                        name: name.into(),
                        path,
                        target: dir.join(name),
                        writer: BufWriter::new(file),
                        token: None,
                        awaiting_prefix: None,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < TEMP_ATTEMPTS => {
                    attempts += 1;
                }
                Err(e) => return Err(TransferError::io("cannot create the file", &e)),
            }
        }
    }

    /// Takes up the upload kept in `<name>.partial` in `dir`, for the
    /// holder of its `token`: checks the token before anything else, locks
    /// the file (refusing it while another connection writes it), and
    /// reads it through `digest` and a SHA-256 of its own; returns it
    /// ready to append to, with its length and that SHA-256. `None` if
    /// there is no `.partial` of that name (the upload starts again).
    fn resume(
        dir: &Path,
        name: &str,
        token: &ResumeToken,
        replace: bool,
        max_file_len: Option<u64>,
        digest: &mut dyn FileDigest,
    ) -> Result<Option<(Incoming, u64, [u8; 32])>, TransferError> {
        let target = dir.join(name);
        match fs::symlink_metadata(&target) {
            Ok(_) if !replace => {
                return Err(TransferError::AlreadyStored {
                    name: name.into(),
                    partial: false,
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(TransferError::io("cannot look up the stored name", &e)),
        }
        let path = partial_path(&target);
        let refused = || TransferError::ResumeRefused { name: name.into() };
        let looked_at = match fs::symlink_metadata(&path) {
            // Not a file of ours (a link, a directory): nothing to resume,
            // and nothing to follow.
            Ok(meta) if !meta.is_file() => return Err(refused()),
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TransferError::io("cannot look up the upload", &e)),
        };
        if !token_matches(&target, token)? {
            return Err(refused());
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| TransferError::io("cannot open the upload", &e))?;
        // The file opened must be the regular file looked at, not one put
        // under the name since (a link, another upload's part).
        if !same_file(&looked_at, &file) {
            return Err(refused());
        }
        if let Err(std::fs::TryLockError::WouldBlock) = lock(&file) {
            return Err(TransferError::ResumeBusy { name: name.into() });
        }
        let len = file
            .metadata()
            .map_err(|e| TransferError::io("cannot read the upload", &e))?
            .len();
        if let Some(limit) = max_file_len
            && len > limit
        {
            return Err(TransferError::TooLarge { limit });
        }
        // Read to the end: the position is then where the data goes on.
        let mut prefix = Sha256::new();
        let mut held = 0u64;
        let mut buf = std::vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TransferError::io("cannot read the upload", &e)),
            };
            prefix.update(&buf[..n]);
            digest.update(&buf[..n]);
            held += n as u64;
        }
        let incoming = Incoming {
            storage: Storage::Resumed { replace },
            name: name.into(),
            path,
            target,
            writer: BufWriter::new(file),
            token: Some(token.clone()),
            awaiting_prefix: None,
        };
        Ok(Some((incoming, held, prefix.finalize().into())))
    }

    /// Flushes the file to disk and puts it under its stored name: a
    /// claimed file without replacing one, a temporary file replacing it.
    fn persist(&mut self) -> Result<(), TransferError> {
        self.writer
            .flush()
            .and_then(|()| self.writer.get_ref().sync_all())
            .map_err(|e| TransferError::io("cannot write the file", &e))?;
        // `<name>.partial` is a shared name: an overwriting receiver may
        // have put another upload's part under it since this one opened
        // it. What is under the name is stored only if it is still the
        // file this upload wrote; else this upload's data is gone, and the
        // name another upload's.
        if matches!(self.storage, Storage::Claimed | Storage::Resumed { .. })
            && !self.still_at_its_path()
        {
            return Err(TransferError::AlreadyStored {
                name: self.name.clone(),
                partial: true,
            });
        }
        let stored = match self.storage {
            Storage::Temporary | Storage::Resumed { replace: true } => {
                fs::rename(&self.path, &self.target)
                    .map_err(|e| TransferError::io("cannot store the file under its name", &e))
            }
            Storage::Claimed | Storage::Resumed { replace: false } => {
                // Unlike a rename, `hard_link` fails if the target exists: a
                // file stored since `Open` is not replaced, and the data
                // stays in the `.partial`.
                fs::hard_link(&self.path, &self.target).map_err(|e| {
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        TransferError::AlreadyStored {
                            name: self.name.clone(),
                            partial: false,
                        }
                    } else {
                        TransferError::io("cannot store the file under its name", &e)
                    }
                })?;
                // The file is stored, whole. Should the `.partial` link
                // outlive this, it holds the same data, and refuses the
                // name as an upload left incomplete would: nothing is lost.
                let _ = fs::remove_file(&self.path);
                Ok(())
            }
        };
        if stored.is_ok() && self.token.is_some() {
            // Stored: nothing is left to resume.
            let _ = fs::remove_file(token_path(&self.target));
        }
        stored
    }

    /// Drops a resumed upload's `.partial` and its token: the client that
    /// holds the token showed that its file differs from that part (a
    /// `Prefix` that does not match), so the part is of no use to anyone,
    /// and kept it would refuse the name to every later upload. Its next
    /// upload starts from zero.
    ///
    /// Names can change hands while a client takes its time to send its
    /// `Prefix` (an overwriting receiver may put another upload's part
    /// under `<name>.partial`): nothing is removed unless the file under
    /// that name is still the one this upload holds open and its token
    /// file still is this upload's.
    fn discard(self) {
        if self.still_holds_its_part() {
            let _ = fs::remove_file(&self.path);
            let _ = fs::remove_file(token_path(&self.target));
        }
    }

    /// Whether `<name>.partial` is still the file this upload writes, and
    /// its token file still this upload's token.
    #[cfg(unix)]
    fn still_holds_its_part(&self) -> bool {
        self.still_at_its_path()
            && self
                .token
                .as_ref()
                .is_some_and(|token| matches!(token_matches(&self.target, token), Ok(true)))
    }

    /// Whether the file under `path` is still the one this upload writes.
    fn still_at_its_path(&self) -> bool {
        fs::symlink_metadata(&self.path)
            .is_ok_and(|on_disk| same_file(&on_disk, self.writer.get_ref()))
    }

    /// Without a file's identity to compare, the part is kept.
    #[cfg(not(unix))]
    fn still_holds_its_part(&self) -> bool {
        false
    }

    /// Keeps what was written as `<name>.partial`: a claimed file where it
    /// is, a temporary file renamed to it; `None` if that rename failed
    /// (the data then stays under the temporary name).
    fn keep_partial(mut self) -> Option<PathBuf> {
        // Keep whatever made it, even if flushing the rest fails.
        let _ = self.writer.flush();
        let _ = self.writer.get_ref().sync_all();
        match self.storage {
            Storage::Claimed | Storage::Resumed { .. } => Some(self.path),
            Storage::Temporary => {
                let partial = partial_path(&self.target);
                fs::rename(&self.path, &partial).ok()?;
                // The `.partial` it replaced was another upload's: the
                // token kept now is this one's.
                if let Some(token) = &self.token {
                    let _ = write_token(&self.target, token);
                }
                Some(partial)
            }
        }
    }
}

impl Receiver {
    /// A receiver storing into `dir`, which must exist (it is not created;
    /// if it is missing, `Open` fails with [`TransferError::Io`]). It
    /// refuses names already taken: see
    /// [`with_overwrite`](Receiver::with_overwrite).
    pub fn new(dir: impl Into<PathBuf>) -> Receiver {
        Receiver {
            dir: dir.into(),
            max_file_len: None,
            overwrite: false,
            phase: Phase::AwaitingOpen,
            stored_name: None,
            final_path: None,
            bytes_written: 0,
            digest: Box::new(InlineSha256::default()),
            sha256: None,
            resume: None,
            resume_agreed: false,
            max_files: DEFAULT_MAX_FILES,
            files_stored: 0,
            max_connection_len: None,
            connection_written: 0,
        }
    }

    /// Bounds the files one connection may store to `limit` (default
    /// [`DEFAULT_MAX_FILES`], 1024), so that a client cannot keep a
    /// connection for ever: with [`Extension::Batch`](crate::config::Extension::Batch)
    /// agreed, the `Open` (or `Resume`) of the file after the `limit`th
    /// stored one is refused with [`TransferError::TooManyFiles`], which
    /// [`Download`](super::Download) sends as `ERROR` before it closes.
    /// Without `Batch` a connection carries one file anyway. A `limit` of
    /// 0 refuses every file.
    ///
    /// With [`with_max_file_len`](Self::with_max_file_len), this bounds
    /// what one connection may store on disk: `limit` files of at most
    /// that length each, unless
    /// [`with_max_connection_len`](Self::with_max_connection_len) bounds
    /// the total lower. Time is not bounded by it: between two files, as
    /// between two messages, the connection's idle timeout
    /// ([`Config::idle_timeout`](crate::Config::idle_timeout)) runs, and a
    /// client that keeps sending keeps its connection.
    #[must_use]
    pub fn with_max_files(mut self, limit: usize) -> Receiver {
        self.max_files = limit;
        self
    }

    /// Bounds the bytes of `Data` one connection may write, over every
    /// file of a batch, to `limit` (default: no bound beyond
    /// [`with_max_files`](Self::with_max_files) times
    /// [`with_max_file_len`](Self::with_max_file_len)): the `Data` that
    /// would pass it is refused with
    /// [`TransferError::ConnectionFull`], and the file it belongs to is
    /// kept as `<name>.partial` as after any error. A resumed file's part
    /// already held does not count: only what this connection writes.
    #[must_use]
    pub fn with_max_connection_len(mut self, limit: u64) -> Receiver {
        self.max_connection_len = Some(limit);
        self
    }

    /// Gets ready for the next file of a batch
    /// ([`Extension::Batch`](crate::config::Extension::Batch)) once the
    /// last one is stored: the next message may be another `Open` (or
    /// `Resume`), taken as if by a new receiver with the same settings
    /// (directory, size limit, mode, resume RNG, digest) except that it
    /// counts towards [`with_max_files`](Self::with_max_files). What
    /// describes the stored file ([`stored_name`](Self::stored_name),
    /// [`final_path`](Self::final_path), [`sha256`](Self::sha256),
    /// [`bytes_written`](Self::bytes_written)) is cleared.
    ///
    /// Returns `false`, changing nothing, unless the last file is stored
    /// (a file in progress or a failure stays as it is). If the digest
    /// cannot start over ([`FileDigest::reset`]), this receiver stores no
    /// further file: the next `Open` is refused with
    /// [`TransferError::TooManyFiles`].
    pub fn next_file(&mut self) -> bool {
        if !matches!(self.phase, Phase::Stored) {
            return false;
        }
        if !self.digest.reset() {
            self.max_files = self.max_files.min(self.files_stored);
        }
        self.phase = Phase::AwaitingOpen;
        self.stored_name = None;
        self.final_path = None;
        self.bytes_written = 0;
        self.sha256 = None;
        true
    }

    /// How many files this receiver stored (more than one only in a batch:
    /// see [`next_file`](Self::next_file)).
    #[must_use]
    pub fn files_stored(&self) -> usize {
        self.files_stored
    }

    /// Whether a file was opened and is neither stored nor failed: the
    /// connection ending now leaves it incomplete.
    #[must_use]
    pub fn in_progress(&self) -> bool {
        matches!(self.phase, Phase::Receiving(_))
    }

    /// Lets uploads resume ([`Extension::Resume`](crate::config::Extension::Resume)):
    /// every upload accepted gets a random token from `rng` (a CSPRNG),
    /// and a later `Resume` that presents it continues the upload from
    /// what `<name>.partial` holds, once the client's `Prefix` matched
    /// it. The token is kept as its SHA-256 in `<name>.partial~token`
    /// beside the `.partial` (a name no client can upload), and removed
    /// when the file is stored.
    ///
    /// This takes effect only where the connection agreed the extension
    /// ([`agree_resume`](Self::agree_resume); [`Download`](super::Download)
    /// tells it). A resume reads the whole `.partial` once (at most
    /// [`with_max_file_len`](Self::with_max_file_len)), and is refused
    /// while another connection still writes it
    /// ([`TransferError::ResumeBusy`]): each upload locks its file.
    #[must_use]
    pub fn with_resume(mut self, rng: impl CryptoRng + Send + 'static) -> Receiver {
        self.resume = Some(Box::new(rng));
        self
    }

    /// Whether uploads may resume ([`with_resume`](Self::with_resume)).
    #[must_use]
    pub fn resumable(&self) -> bool {
        self.resume.is_some()
    }

    /// Whether this upload may resume: the receiver lets it and the
    /// connection agreed it.
    fn resuming(&self) -> bool {
        self.resume_agreed && self.resumable()
    }

    /// Tells the receiver whether the connection agreed
    /// [`Extension::Resume`](crate::config::Extension::Resume); call it
    /// before the first message ([`Download`](super::Download) does). With
    /// it agreed and [`with_resume`](Self::with_resume), `Open` and
    /// `Resume` are answered with `Accepted`; otherwise `Open` with `Ok`,
    /// and `Resume` and `Prefix` are refused.
    pub fn agree_resume(&mut self, agreed: bool) {
        self.resume_agreed = agreed;
    }

    /// A fresh token, where uploads may resume.
    fn new_token(&mut self) -> Option<ResumeToken> {
        if !self.resuming() {
            return None;
        }
        let rng = self.resume.as_mut()?;
        let mut bytes = [0u8; RESUME_TOKEN_LEN];
        rng.fill_bytes(&mut bytes);
        Some(ResumeToken::from_bytes(bytes))
    }

    /// Starts an upload of `name` from nothing: claims the name (or a
    /// temporary file), and answers `Ok`, or `Accepted` with a new token.
    fn start(&mut self, name: String) -> Result<Option<Message>, TransferError> {
        let mut file = if self.overwrite {
            Incoming::temporary(&self.dir, &name)?
        } else {
            Incoming::claim(&self.dir, &name)?
        };
        let reply = match self.new_token() {
            Some(token) => {
                if file.storage == Storage::Claimed {
                    // A temporary file keeps its token once it is the
                    // `.partial` (see `keep_partial`).
                    write_token(&file.target, &token)?;
                }
                file.token = Some(token.clone());
                Message::Accepted {
                    stored_name: name.clone(),
                    offset: 0,
                    token,
                }
            }
            None => Message::Ok,
        };
        self.phase = Phase::Receiving(file);
        self.stored_name = Some(name);
        Ok(Some(reply))
    }

    /// Refuses files larger than `limit` bytes: a `Data` that would pass it
    /// fails with [`TransferError::TooLarge`] and none of it is written.
    /// By default there is no limit.
    #[must_use]
    pub fn with_max_file_len(mut self, limit: u64) -> Receiver {
        self.max_file_len = Some(limit);
        self
    }

    /// Whether an upload may replace a stored file of the same name (see
    /// the modes of [`Receiver`]).
    ///
    /// * `false`, the default: `Open` is refused with
    ///   [`TransferError::AlreadyStored`] if `<name>` or `<name>.partial`
    ///   exists, and otherwise creates `<name>.partial`, which claims the
    ///   name against concurrent uploads and receives the data; `Close`
    ///   moves it to `<name>` without replacing (failing with
    ///   `AlreadyStored` if `<name>` appeared after `Open`), and an
    ///   incomplete transfer leaves it in place.
    /// * `true`: the data goes to a temporary file that `Close` renames to
    ///   `<name>`, replacing a stored file of that name, and that an
    ///   incomplete transfer renames to `<name>.partial`, replacing an older
    ///   one.
    #[must_use]
    pub fn with_overwrite(mut self, overwrite: bool) -> Receiver {
        self.overwrite = overwrite;
        self
    }

    /// Checks the file's SHA-256 with `digest` instead of inline (on a
    /// thread of its own with [`ThreadedSha256`](super::ThreadedSha256)).
    #[must_use]
    pub fn with_digest(mut self, digest: impl FileDigest + 'static) -> Receiver {
        self.digest = Box::new(digest);
        self
    }

    /// Takes the client's next message; returns the reply to send, if any
    /// (`Ok` to `Open`; nothing to `Data` or, as in v1, to `Close`).
    ///
    /// # Errors
    ///
    /// * [`TransferError::BadFileName`] for an `Open` whose name leaves
    ///   nothing usable;
    /// * [`TransferError::AlreadyStored`] (unless
    ///   [`with_overwrite`](Receiver::with_overwrite)) for an `Open` whose
    ///   stored name is taken, as a file or as a `.partial`, or a `Close`
    ///   when a file of that name appeared after `Open`; also (in either
    ///   mode) a `Close` whose `<name>.partial` is no longer the file this
    ///   upload wrote (an overwriting receiver put another upload's part
    ///   there meanwhile): nothing is stored for it;
    /// * [`TransferError::UnexpectedMessage`] for a message out of order:
    ///   anything but `Open` first, a second `Open`, anything after
    ///   `Close` (until [`next_file`](Receiver::next_file)), a server's
    ///   `Ok` or `Error`;
    /// * [`TransferError::TooManyFiles`] for an `Open` or `Resume` past
    ///   [`with_max_files`](Receiver::with_max_files);
    /// * [`TransferError::TooLarge`] past [`with_max_file_len`](Receiver::with_max_file_len);
    /// * [`TransferError::DigestMismatch`] for a `Close` whose SHA-256
    ///   differs from that of what arrived;
    /// * [`TransferError::Io`] if the file cannot be created, written or
    ///   put under its name.
    ///
    /// After an error the receiver is failed: it returns the same error for
    /// every later message, and keeps what arrived for
    /// [`finish_incomplete`](Receiver::finish_incomplete).
    pub fn handle_message(&mut self, message: Message) -> Result<Option<Message>, TransferError> {
        let result = self.step(message);
        if let Err(error) = &result
            && !matches!(self.phase, Phase::Failed { .. })
        {
            let file = match core::mem::replace(&mut self.phase, Phase::Abandoned) {
                // Only the holder of the upload's token gets as far as its
                // `Prefix`, so only it can have the part dropped.
                Phase::Receiving(file) if *error == TransferError::PrefixMismatch => {
                    file.discard();
                    None
                }
                Phase::Receiving(file) => Some(file),
                _ => None,
            };
            self.phase = Phase::Failed {
                error: error.clone(),
                file,
            };
        }
        result
    }

    fn step(&mut self, message: Message) -> Result<Option<Message>, TransferError> {
        let resuming = self.resuming();
        match (&mut self.phase, message) {
            (Phase::Failed { error, .. }, _) => Err(error.clone()),
            (Phase::AwaitingOpen, Message::Open { .. } | Message::Resume { .. })
                if self.files_stored >= self.max_files =>
            {
                Err(TransferError::TooManyFiles {
                    limit: self.max_files,
                })
            }
            (Phase::AwaitingOpen, Message::Open { file_name }) => {
                let name = stored_name(&file_name)?;
                self.start(name)
            }
            (Phase::AwaitingOpen, Message::Resume { file_name, token }) if resuming => {
                let name = stored_name(&file_name)?;
                let resumed = Incoming::resume(
                    &self.dir,
                    &name,
                    &token,
                    self.overwrite,
                    self.max_file_len,
                    &mut *self.digest,
                )?;
                let Some((mut file, offset, prefix)) = resumed else {
                    // Nothing kept under that name: from the start.
                    return self.start(name);
                };
                file.awaiting_prefix = (offset > 0).then_some(prefix);
                self.phase = Phase::Receiving(file);
                self.stored_name = Some(name.clone());
                self.bytes_written = offset;
                Ok(Some(Message::Accepted {
                    stored_name: name,
                    offset,
                    token,
                }))
            }
            (Phase::Receiving(file), Message::Prefix { sha256 })
                if file.awaiting_prefix.is_some() =>
            {
                let held = file.awaiting_prefix.take().unwrap_or_default();
                if bool::from(held.ct_eq(&sha256)) {
                    Ok(None)
                } else {
                    Err(TransferError::PrefixMismatch)
                }
            }
            (Phase::Receiving(file), message) if file.awaiting_prefix.is_some() => {
                Err(TransferError::UnexpectedMessage {
                    expected: "PREFIX",
                    got: message.type_name(),
                })
            }
            (Phase::Receiving(file), Message::Data(bytes)) => {
                let len = bytes.len() as u64;
                if let Some(limit) = self.max_file_len
                    && self.bytes_written.saturating_add(len) > limit
                {
                    return Err(TransferError::TooLarge { limit });
                }
                if let Some(limit) = self.max_connection_len
                    && self.connection_written.saturating_add(len) > limit
                {
                    return Err(TransferError::ConnectionFull { limit });
                }
                file.writer
                    .write_all(&bytes)
                    .map_err(|e| TransferError::io("cannot write the file", &e))?;
                self.digest.update(&bytes);
                self.bytes_written += len;
                self.connection_written += len;
                Ok(None)
            }
            (Phase::Receiving(file), Message::Close { sha256 }) => {
                let stored = self.digest.finish();
                if sha256.is_some_and(|sent| sent != stored) {
                    // What arrived is not what the client read: kept as
                    // `.partial` like any incomplete transfer.
                    return Err(TransferError::DigestMismatch);
                }
                file.persist()?;
                self.final_path = Some(file.target.clone());
                self.sha256 = Some(stored);
                self.phase = Phase::Stored;
                self.files_stored = self.files_stored.saturating_add(1);
                Ok(None)
            }
            (phase, message) => Err(TransferError::UnexpectedMessage {
                expected: phase.expected(),
                got: message.type_name(),
            }),
        }
    }

    /// Ends a transfer that did not reach `Close` (the connection ended, or
    /// a message failed): what arrived is flushed and kept as
    /// `<name>.partial`, never under the stored name — by default where it
    /// was written all along, with
    /// [`with_overwrite`](Receiver::with_overwrite) renamed to it from the
    /// temporary file (replacing an older one). Returns its path, for the
    /// caller to log.
    ///
    /// Returns `None` if there is nothing to keep (no `Open` accepted, the
    /// file is already stored, or this was already done) or the rename
    /// failed (the data then stays under its temporary name). Later
    /// messages are refused.
    pub fn finish_incomplete(&mut self) -> Option<PathBuf> {
        match core::mem::replace(&mut self.phase, Phase::Abandoned) {
            Phase::Receiving(file) => file.keep_partial(),
            Phase::Failed { error, file } => {
                self.phase = Phase::Failed { error, file: None };
                file.and_then(Incoming::keep_partial)
            }
            Phase::Stored => {
                self.phase = Phase::Stored;
                None
            }
            Phase::AwaitingOpen | Phase::Abandoned => None,
        }
    }

    /// The name the file is stored under, once `Open` was accepted.
    #[must_use]
    pub fn stored_name(&self) -> Option<&str> {
        self.stored_name.as_deref()
    }

    /// How many bytes of `Data` were written so far.
    #[must_use]
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// The SHA-256 of the stored file, once `Close` stored it.
    #[must_use]
    pub fn sha256(&self) -> Option<[u8; 32]> {
        self.sha256
    }

    /// Where the file was stored, once `Close` stored it.
    #[must_use]
    pub fn final_path(&self) -> Option<&Path> {
        self.final_path.as_deref()
    }
}

impl Drop for Receiver {
    /// Keeps an unfinished transfer as `.partial`
    /// ([`finish_incomplete`](Receiver::finish_incomplete)), ignoring errors.
    fn drop(&mut self) {
        let _ = self.finish_incomplete();
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("dir", &self.dir)
            .field("max_file_len", &self.max_file_len)
            .field("overwrite", &self.overwrite)
            .field("phase", &self.phase)
            .field("stored_name", &self.stored_name)
            .field("bytes_written", &self.bytes_written)
            .field("max_files", &self.max_files)
            .field("files_stored", &self.files_stored)
            .field("max_connection_len", &self.max_connection_len)
            .field("connection_written", &self.connection_written)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod digest_tests {
    use super::*;
    use crate::transfer::testutil::{list, sha256};
    use std::vec;

    #[test]
    fn close_with_the_wrong_digest_keeps_only_a_partial() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path());
        let open = Message::Open {
            file_name: "d.bin".into(),
        };
        receiver.handle_message(open).unwrap();
        receiver
            .handle_message(Message::Data(vec![1, 2, 3]))
            .unwrap();
        let wrong = Message::Close {
            sha256: Some(sha256(&[1, 2, 4])),
        };
        assert_eq!(
            receiver.handle_message(wrong),
            Err(TransferError::DigestMismatch)
        );
        assert!(receiver.finish_incomplete().is_some());
        assert_eq!(list(dir.path()), ["d.bin.partial"]);
    }

    #[test]
    fn close_with_the_right_digest_stores_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path());
        receiver
            .handle_message(Message::Open {
                file_name: "d.bin".into(),
            })
            .unwrap();
        receiver
            .handle_message(Message::Data(vec![1, 2, 3]))
            .unwrap();
        let right = Message::Close {
            sha256: Some(sha256(&[1, 2, 3])),
        };
        assert_eq!(receiver.handle_message(right), Ok(None));
        assert_eq!(list(dir.path()), ["d.bin"]);
        assert_eq!(receiver.sha256(), Some(sha256(&[1, 2, 3])));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::testutil::{list, pseudo_random, sha256};
    use std::vec::Vec;
    use std::{thread, vec};

    fn open(name: &str) -> Message {
        Message::Open {
            file_name: name.into(),
        }
    }

    /// The names in the directory that are temporary files.
    fn temp_files(dir: &tempfile::TempDir) -> Vec<String> {
        list(dir.path())
            .into_iter()
            .filter(|n| n.contains('~'))
            .collect()
    }

    #[test]
    fn names_are_reduced_to_a_safe_last_component() {
        let table: &[(&str, Option<&str>)] = &[
            ("/home/u/report.pdf", Some("report.pdf")),
            ("..\\..\\evil.txt", Some("evil.txt")),
            ("C:\\dir\\file-1_2.bin", Some("file-1_2.bin")),
            ("a b$c.txt", Some("a_b_c.txt")),
            ("ü.txt", Some("ü.txt")),
            ("résumé café.txt", Some("résumé_café.txt")),
            // NFD, as macOS writes names: stored in NFC.
            ("re\u{301}sume\u{301}.txt", Some("résumé.txt")),
            ("Ωμέγα-数据-١٢٣.bin", Some("Ωμέγα-数据-١٢٣.bin")),
            // Devanagari: a vowel sign that composes with nothing stays.
            ("नमस्ते.txt", Some("नमस्ते.txt")),
            // A mark on nothing, bidirectional and zero-width controls.
            ("\u{301}x", Some("_x")),
            ("evil\u{202e}txt.exe", Some("evil_txt.exe")),
            ("a\u{200d}b", Some("a_b")),
            ("tab\tnew\nline", Some("tab_new_line")),
            ("../", None),
            ("..", None),
            (".", None),
            ("", None),
            ("/", None),
            ("x/..", None),
            ("x\\.", None),
            (".$.", Some("._.")),
            ("/tmp/$%&", Some("___")),
            ("...", Some("...")),
            (".bashrc", Some(".bashrc")),
            ("a/b\\c", Some("c")),
            ("nul\0l.txt", Some("nul_l.txt")),
            ("x.partial", None),
            ("x~1+2.tmp", Some("x_1_2.tmp")),
        ];
        for &(input, expected) in table {
            match expected {
                Some(name) => assert_eq!(stored_name(input).as_deref(), Ok(name), "{input:?}"),
                None => assert_eq!(
                    stored_name(input),
                    Err(TransferError::BadFileName(input.into())),
                    "{input:?}"
                ),
            }
        }
    }

    /// The temporary file's name repeats at most 64 bytes of the stored
    /// name: cut inside a letter of two bytes, it once panicked.
    #[test]
    fn a_long_name_of_any_script_gets_a_temporary_file() {
        for name in [
            "é".repeat(MAX_NAME_LEN / 2),
            std::format!("a{}", "é".repeat(99)),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut receiver = Receiver::new(dir.path()).with_overwrite(true);
            assert_eq!(receiver.handle_message(open(&name)), Ok(Some(Message::Ok)));
            let temps = temp_files(&dir);
            assert_eq!(temps.len(), 1);
            assert!(temps[0].starts_with(&name[..name.floor_char_boundary(TEMP_PREFIX_LEN)]));
            receiver
                .handle_message(Message::Close { sha256: None })
                .unwrap();
            assert_eq!(list(dir.path()), [name]);
        }
    }

    #[test]
    fn overlong_names_are_refused() {
        let longest = "a".repeat(MAX_NAME_LEN);
        assert_eq!(stored_name(&longest).unwrap(), longest);
        let too_long = std::format!("/x/{longest}b");
        assert!(matches!(
            stored_name(&too_long),
            Err(TransferError::BadFileName(_))
        ));
    }

    #[test]
    fn the_file_appears_under_its_name_only_on_close() {
        for overwrite in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut receiver = Receiver::new(dir.path()).with_overwrite(overwrite);
            assert_eq!(
                receiver.handle_message(open("/home/u/report.pdf")),
                Ok(Some(Message::Ok))
            );
            assert_eq!(receiver.stored_name(), Some("report.pdf"));
            assert_eq!(
                receiver.handle_message(Message::Data(b"hello ".to_vec())),
                Ok(None)
            );
            assert_eq!(
                receiver.handle_message(Message::Data(b"world".to_vec())),
                Ok(None)
            );
            assert_eq!(receiver.bytes_written(), 11);

            if overwrite {
                let temps = temp_files(&dir);
                assert_eq!(temps.len(), 1);
                assert_eq!(
                    list(dir.path()),
                    temps,
                    "only the temporary file before CLOSE"
                );
                assert!(
                    stored_name(&temps[0]).unwrap() != temps[0],
                    "a client cannot name it"
                );
            } else {
                assert_eq!(
                    list(dir.path()),
                    ["report.pdf.partial"],
                    "only the claim before CLOSE"
                );
            }
            assert_eq!(receiver.sha256(), None);
            assert_eq!(receiver.final_path(), None);

            assert_eq!(
                receiver.handle_message(Message::Close { sha256: None }),
                Ok(None)
            );
            assert_eq!(list(dir.path()), ["report.pdf"]);
            let path = dir.path().join("report.pdf");
            assert_eq!(fs::read(&path).unwrap(), b"hello world");
            assert_eq!(receiver.final_path(), Some(path.as_path()));
            assert_eq!(receiver.sha256(), Some(sha256(b"hello world")));

            // Done: nothing more, and nothing to keep as partial.
            assert_eq!(
                receiver.handle_message(Message::Data(vec![1])),
                Err(TransferError::UnexpectedMessage {
                    expected: "no further message",
                    got: "DATA"
                })
            );
            assert_eq!(receiver.finish_incomplete(), None);
            drop(receiver);
            assert_eq!(list(dir.path()), ["report.pdf"]);
            assert_eq!(fs::read(&path).unwrap(), b"hello world");
        }
    }

    #[test]
    fn close_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.txt"), b"old and longer").unwrap();
        let mut receiver = Receiver::new(dir.path()).with_overwrite(true);
        receiver.handle_message(open("a.txt")).unwrap();
        receiver
            .handle_message(Message::Data(b"new".to_vec()))
            .unwrap();
        // Before CLOSE the old file is untouched.
        assert_eq!(
            fs::read(dir.path().join("a.txt")).unwrap(),
            b"old and longer"
        );
        receiver
            .handle_message(Message::Close { sha256: None })
            .unwrap();
        assert_eq!(fs::read(dir.path().join("a.txt")).unwrap(), b"new");
        assert_eq!(list(dir.path()), ["a.txt"]);
    }

    #[test]
    fn an_existing_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.txt"), b"someone else's").unwrap();
        let mut receiver = Receiver::new(dir.path());
        let refused = TransferError::AlreadyStored {
            name: "a.txt".into(),
            partial: false,
        };
        assert_eq!(
            receiver.handle_message(open("/x/a.txt")),
            Err(refused.clone())
        );
        assert_eq!(receiver.stored_name(), None);
        // The receiver is failed: the rest of the upload is refused too.
        assert_eq!(
            receiver.handle_message(Message::Data(b"mine".to_vec())),
            Err(refused.clone())
        );
        assert_eq!(
            receiver.handle_message(Message::Close { sha256: None }),
            Err(refused)
        );
        assert_eq!(receiver.finish_incomplete(), None);
        drop(receiver);
        assert_eq!(list(dir.path()), ["a.txt"]);
        assert_eq!(
            fs::read(dir.path().join("a.txt")).unwrap(),
            b"someone else's"
        );
    }

    #[test]
    fn an_existing_partial_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let partial = dir.path().join("r.bin.partial");
        fs::write(&partial, b"an upload in progress").unwrap();
        let mut receiver = Receiver::new(dir.path());
        let refused = TransferError::AlreadyStored {
            name: "r.bin".into(),
            partial: true,
        };
        assert_eq!(receiver.handle_message(open("r.bin")), Err(refused.clone()));
        assert_eq!(
            receiver.handle_message(Message::Data(b"mine".to_vec())),
            Err(refused)
        );
        assert_eq!(receiver.finish_incomplete(), None);
        drop(receiver);
        assert_eq!(list(dir.path()), ["r.bin.partial"]);
        assert_eq!(fs::read(&partial).unwrap(), b"an upload in progress");
    }

    #[test]
    fn a_refusal_creates_and_modifies_nothing() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.txt"), b"stored").unwrap();
        fs::write(dir.path().join("b.txt.partial"), b"in progress").unwrap();
        let snapshot = || -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
            list(dir.path())
                .into_iter()
                .map(|name| {
                    let path = dir.path().join(&name);
                    let modified = fs::metadata(&path).unwrap().modified().unwrap();
                    (name, fs::read(&path).unwrap(), modified)
                })
                .collect()
        };
        let before = snapshot();
        for name in ["a.txt", "b.txt"] {
            let mut receiver = Receiver::new(dir.path());
            assert!(matches!(
                receiver.handle_message(open(name)),
                Err(TransferError::AlreadyStored { .. })
            ));
            let _ = receiver.handle_message(Message::Data(b"x".to_vec()));
            let _ = receiver.handle_message(Message::Close { sha256: None });
            assert_eq!(receiver.finish_incomplete(), None);
        }
        // No `a.txt.partial`, no temporary file, no byte changed.
        assert_eq!(snapshot(), before);
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_takes_the_name_and_is_not_followed() {
        use std::os::unix::fs::symlink;
        let parent = tempfile::tempdir().unwrap();
        let store = parent.path().join("store");
        fs::create_dir(&store).unwrap();
        let outside = parent.path().join("outside.txt");
        fs::write(&outside, b"not the store's").unwrap();
        // A dangling link takes the name, though `exists()` says no.
        symlink(parent.path().join("nowhere"), store.join("d.txt")).unwrap();
        symlink(&outside, store.join("o.txt.partial")).unwrap();
        for (name, partial) in [("d.txt", false), ("o.txt", true)] {
            let mut receiver = Receiver::new(&store);
            assert_eq!(
                receiver.handle_message(open(name)),
                Err(TransferError::AlreadyStored {
                    name: name.into(),
                    partial,
                })
            );
        }
        assert_eq!(list(&store), ["d.txt", "o.txt.partial"]);
        assert_eq!(fs::read(&outside).unwrap(), b"not the store's");
        assert_eq!(list(parent.path()), ["outside.txt", "store"]);
    }

    #[test]
    fn close_keeps_the_partial_when_the_name_was_stored_after_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path());
        receiver.handle_message(open("m.bin")).unwrap();
        receiver
            .handle_message(Message::Data(b"mine".to_vec()))
            .unwrap();
        // Something else stores a file of that name in between.
        let path = dir.path().join("m.bin");
        fs::write(&path, b"theirs").unwrap();
        let refused = TransferError::AlreadyStored {
            name: "m.bin".into(),
            partial: false,
        };
        assert_eq!(
            receiver.handle_message(Message::Close {
                sha256: Some(sha256(b"mine"))
            }),
            Err(refused.clone())
        );
        assert_eq!(fs::read(&path).unwrap(), b"theirs", "not replaced");
        assert_eq!(receiver.final_path(), None);
        assert_eq!(receiver.sha256(), None);
        let partial = dir.path().join("m.bin.partial");
        assert_eq!(fs::read(&partial).unwrap(), b"mine", "flushed and kept");
        assert_eq!(
            receiver.handle_message(Message::Close { sha256: None }),
            Err(refused)
        );
        assert_eq!(receiver.finish_incomplete(), Some(partial.clone()));
        drop(receiver);
        assert_eq!(list(dir.path()), ["m.bin", "m.bin.partial"]);
        assert_eq!(fs::read(&partial).unwrap(), b"mine");
    }

    #[test]
    fn empty_file_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path());
        receiver.handle_message(open("e")).unwrap();
        receiver
            .handle_message(Message::Close { sha256: None })
            .unwrap();
        assert_eq!(fs::read(dir.path().join("e")).unwrap(), b"");
        assert_eq!(receiver.sha256(), Some(sha256(b"")));
    }

    #[test]
    fn unfinished_transfer_is_kept_as_partial() {
        for overwrite in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let partial = dir.path().join("r.bin.partial");
            if overwrite {
                // Replaced (a refusing receiver would refuse the name).
                fs::write(&partial, b"an older attempt").unwrap();
            }
            let mut receiver = Receiver::new(dir.path()).with_overwrite(overwrite);
            receiver.handle_message(open("/x/r.bin")).unwrap();
            receiver
                .handle_message(Message::Data(vec![1, 2, 3]))
                .unwrap();

            assert_eq!(receiver.finish_incomplete(), Some(partial.clone()));
            assert_eq!(
                list(dir.path()),
                ["r.bin.partial"],
                "never under the final name"
            );
            assert_eq!(fs::read(&partial).unwrap(), [1, 2, 3]);
            assert_eq!(receiver.final_path(), None);
            assert_eq!(receiver.sha256(), None);

            // Once only; later messages are refused.
            assert_eq!(receiver.finish_incomplete(), None);
            assert!(
                receiver
                    .handle_message(Message::Close { sha256: None })
                    .is_err()
            );
            drop(receiver);
            assert_eq!(list(dir.path()), ["r.bin.partial"]);
            assert_eq!(fs::read(&partial).unwrap(), [1, 2, 3]);
        }
    }

    #[test]
    fn drop_keeps_an_unfinished_transfer_as_partial() {
        let data = pseudo_random(100_000, 1);
        for overwrite in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            {
                let mut receiver = Receiver::new(dir.path()).with_overwrite(overwrite);
                receiver.handle_message(open("d.bin")).unwrap();
                // More than the BufWriter holds, and a buffered rest.
                for chunk in data.chunks(960) {
                    receiver
                        .handle_message(Message::Data(chunk.to_vec()))
                        .unwrap();
                }
            }
            assert_eq!(list(dir.path()), ["d.bin.partial"]);
            assert!(fs::read(dir.path().join("d.bin.partial")).unwrap() == data);
        }
    }

    #[test]
    fn a_receiver_without_open_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path());
        assert_eq!(receiver.finish_incomplete(), None);
        // The connection is over: a late OPEN is refused.
        assert!(matches!(
            receiver.handle_message(open("late")),
            Err(TransferError::UnexpectedMessage { got: "OPEN", .. })
        ));
        drop(receiver);
        drop(Receiver::new(dir.path()));
        assert!(list(dir.path()).is_empty());
    }

    #[test]
    fn messages_out_of_order_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&[Message], &str, &str)] = &[
            (&[Message::Data(vec![1])], "OPEN", "DATA"),
            (&[Message::Close { sha256: None }], "OPEN", "CLOSE"),
            (&[Message::Ok], "OPEN", "OK"),
            (&[open("a"), open("b")], "DATA or CLOSE", "OPEN"),
            (
                &[
                    open("a"),
                    Message::Error {
                        message: "x".into(),
                    },
                ],
                "DATA or CLOSE",
                "ERROR",
            ),
            (
                &[
                    open("a"),
                    Message::Close { sha256: None },
                    Message::Close { sha256: None },
                ],
                "no further message",
                "CLOSE",
            ),
            (
                &[open("a"), Message::Close { sha256: None }, open("a")],
                "no further message",
                "OPEN",
            ),
        ];
        for (i, &(messages, expected, got)) in cases.iter().enumerate() {
            // A directory each: a name stored (or kept as `.partial`) by one
            // case would be refused in the next.
            let store = dir.path().join(std::format!("{i}"));
            fs::create_dir(&store).unwrap();
            let mut receiver = Receiver::new(&store);
            let (last, first) = messages.split_last().unwrap();
            for m in first {
                receiver.handle_message(m.clone()).unwrap();
            }
            let error = TransferError::UnexpectedMessage { expected, got };
            assert_eq!(receiver.handle_message(last.clone()), Err(error.clone()));
            // The receiver stays failed with that error.
            assert_eq!(receiver.handle_message(open("c")), Err(error.clone()));
            assert_eq!(
                receiver.handle_message(Message::Close { sha256: None }),
                Err(error)
            );
        }
        // No CLOSE was accepted after an error: only the good "a"s stored.
        for i in 0..cases.len() {
            let names = list(&dir.path().join(std::format!("{i}")));
            assert!(!names.iter().any(|n| n.starts_with(['b', 'c'])));
        }
    }

    #[test]
    fn errors_keep_what_arrived() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path());
        receiver.handle_message(open("k.txt")).unwrap();
        receiver
            .handle_message(Message::Data(b"kept".to_vec()))
            .unwrap();
        assert!(receiver.handle_message(open("other.txt")).is_err());
        assert!(
            receiver
                .handle_message(Message::Close { sha256: None })
                .is_err()
        );
        assert!(!dir.path().join("k.txt").exists());
        assert_eq!(
            receiver.finish_incomplete(),
            Some(dir.path().join("k.txt.partial"))
        );
        assert_eq!(fs::read(dir.path().join("k.txt.partial")).unwrap(), b"kept");
        assert_eq!(list(dir.path()), ["k.txt.partial"]);
    }

    #[test]
    fn bad_names_create_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path());
        assert_eq!(
            receiver.handle_message(open("/home/u/..")),
            Err(TransferError::BadFileName("/home/u/..".into()))
        );
        assert_eq!(receiver.stored_name(), None);
        assert_eq!(receiver.finish_incomplete(), None);
        assert!(list(dir.path()).is_empty());
    }

    #[test]
    fn the_size_limit_refuses_the_excess() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path()).with_max_file_len(10);
        receiver.handle_message(open("l")).unwrap();
        receiver.handle_message(Message::Data(vec![1; 6])).unwrap();
        receiver.handle_message(Message::Data(vec![2; 4])).unwrap();
        let too_large = TransferError::TooLarge { limit: 10 };
        assert_eq!(
            receiver.handle_message(Message::Data(vec![3])),
            Err(too_large.clone())
        );
        assert_eq!(
            receiver.handle_message(Message::Close { sha256: None }),
            Err(too_large)
        );
        assert_eq!(receiver.bytes_written(), 10);
        assert_eq!(
            receiver.finish_incomplete(),
            Some(dir.path().join("l.partial"))
        );
        let mut expected = vec![1; 6];
        expected.extend([2; 4]);
        assert_eq!(fs::read(dir.path().join("l.partial")).unwrap(), expected);

        // Exactly the limit is fine.
        let mut receiver = Receiver::new(dir.path()).with_max_file_len(3);
        receiver.handle_message(open("m")).unwrap();
        receiver.handle_message(Message::Data(vec![0; 3])).unwrap();
        receiver
            .handle_message(Message::Close { sha256: None })
            .unwrap();
        assert_eq!(fs::read(dir.path().join("m")).unwrap(), [0; 3]);
    }

    #[test]
    fn a_missing_directory_is_an_io_error_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let mut receiver = Receiver::new(&missing);
        assert!(matches!(
            receiver.handle_message(open("a")),
            Err(TransferError::Io {
                kind: io::ErrorKind::NotFound,
                ..
            })
        ));
        assert!(!missing.exists());
    }

    #[test]
    fn nothing_is_written_outside_the_directory() {
        let parent = tempfile::tempdir().unwrap();
        let store = parent.path().join("store");
        fs::create_dir(&store).unwrap();
        let before = list(parent.path());
        let hostile = [
            "../evil.txt",
            "..\\..\\evil2.txt",
            "/etc/passwd",
            "store/../../x",
            "..",
            "../",
            "C:\\Windows\\system.ini",
            "~/.ssh/authorized_keys",
        ];
        for (i, name) in hostile.iter().enumerate() {
            let mut receiver = Receiver::new(&store);
            if receiver.handle_message(open(name)).is_err() {
                continue;
            }
            receiver
                .handle_message(Message::Data(b"x".to_vec()))
                .unwrap();
            if i % 2 == 0 {
                receiver
                    .handle_message(Message::Close { sha256: None })
                    .unwrap();
            } // else: dropped, kept as .partial
        }
        assert_eq!(list(parent.path()), before);
        assert_eq!(
            list(&store),
            [
                "authorized_keys.partial",
                "evil.txt",
                "evil2.txt.partial",
                "passwd",
                "system.ini",
                "x.partial",
            ]
        );
    }

    #[test]
    fn interleaved_receivers_of_one_name_stay_apart() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Receiver::new(dir.path()).with_overwrite(true);
        let mut b = Receiver::new(dir.path()).with_overwrite(true);
        a.handle_message(open("/u1/same.bin")).unwrap();
        b.handle_message(open("/u2/same.bin")).unwrap();
        assert_eq!(temp_files(&dir).len(), 2);
        for _ in 0..100 {
            a.handle_message(Message::Data(vec![b'a'; 100])).unwrap();
            b.handle_message(Message::Data(vec![b'b'; 150])).unwrap();
        }
        let path = dir.path().join("same.bin");
        a.handle_message(Message::Close { sha256: None }).unwrap();
        assert_eq!(fs::read(&path).unwrap(), vec![b'a'; 10_000]);
        b.handle_message(Message::Close { sha256: None }).unwrap();
        assert_eq!(fs::read(&path).unwrap(), vec![b'b'; 15_000]);
        assert_eq!(list(dir.path()), ["same.bin"]);
    }

    #[test]
    fn interleaved_receivers_of_one_name_refuse_the_second() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Receiver::new(dir.path());
        let mut b = Receiver::new(dir.path());
        a.handle_message(open("/u1/same.bin")).unwrap();
        let in_progress = TransferError::AlreadyStored {
            name: "same.bin".into(),
            partial: true,
        };
        assert_eq!(
            b.handle_message(open("/u2/same.bin")),
            Err(in_progress.clone())
        );
        for _ in 0..100 {
            a.handle_message(Message::Data(vec![b'a'; 100])).unwrap();
            assert_eq!(
                b.handle_message(Message::Data(vec![b'b'; 150])),
                Err(in_progress.clone())
            );
        }
        assert_eq!(
            b.handle_message(Message::Close { sha256: None }),
            Err(in_progress)
        );
        assert_eq!(b.finish_incomplete(), None);
        drop(b);
        assert_eq!(
            list(dir.path()),
            ["same.bin.partial"],
            "a's claim is left alone"
        );

        let path = dir.path().join("same.bin");
        let a_data = vec![b'a'; 10_000];
        a.handle_message(Message::Close {
            sha256: Some(sha256(&a_data)),
        })
        .unwrap();
        assert_eq!(a.final_path(), Some(path.as_path()));
        assert_eq!(fs::read(&path).unwrap(), a_data);
        assert_eq!(list(dir.path()), ["same.bin"]);

        // Stored, the name stays taken.
        let mut c = Receiver::new(dir.path());
        assert_eq!(
            c.handle_message(open("same.bin")),
            Err(TransferError::AlreadyStored {
                name: "same.bin".into(),
                partial: false,
            })
        );
    }

    #[test]
    fn concurrent_receivers_of_one_name_never_mix() {
        let dir = tempfile::tempdir().unwrap();
        let contents: Vec<Vec<u8>> = (0..8).map(|i| pseudo_random(50_000, i)).collect();
        let barrier = std::sync::Barrier::new(contents.len());
        thread::scope(|s| {
            for content in &contents {
                let (dir, barrier) = (dir.path(), &barrier);
                s.spawn(move || {
                    let mut receiver = Receiver::new(dir).with_overwrite(true);
                    barrier.wait();
                    receiver.handle_message(open("shared.bin")).unwrap();
                    for chunk in content.chunks(512) {
                        receiver
                            .handle_message(Message::Data(chunk.to_vec()))
                            .unwrap();
                    }
                    receiver
                        .handle_message(Message::Close { sha256: None })
                        .unwrap();
                    assert_eq!(receiver.sha256(), Some(sha256(content)));
                });
            }
        });
        // The last CLOSE wins, whole: the file is one of the uploads.
        assert_eq!(list(dir.path()), ["shared.bin"]);
        let stored = fs::read(dir.path().join("shared.bin")).unwrap();
        assert!(contents.contains(&stored));
    }

    #[test]
    fn concurrent_receivers_of_one_name_store_exactly_one() {
        let dir = tempfile::tempdir().unwrap();
        let contents: Vec<Vec<u8>> = (0..8).map(|i| pseudo_random(50_000, i)).collect();
        let barrier = std::sync::Barrier::new(contents.len());
        let outcomes: Vec<Result<(), TransferError>> = thread::scope(|s| {
            let handles: Vec<_> = contents
                .iter()
                .map(|content| {
                    let (dir, barrier) = (dir.path(), &barrier);
                    s.spawn(move || {
                        let mut receiver = Receiver::new(dir);
                        barrier.wait();
                        receiver.handle_message(open("shared.bin"))?;
                        for chunk in content.chunks(512) {
                            receiver.handle_message(Message::Data(chunk.to_vec()))?;
                        }
                        receiver.handle_message(Message::Close {
                            sha256: Some(sha256(content)),
                        })?;
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stored: Vec<usize> = (0..outcomes.len())
            .filter(|&i| outcomes[i].is_ok())
            .collect();
        assert_eq!(stored.len(), 1, "{outcomes:?}");
        for outcome in &outcomes {
            if let Err(e) = outcome {
                assert!(
                    matches!(e, TransferError::AlreadyStored { name, .. } if name == "shared.bin"),
                    "{e:?}"
                );
            }
        }
        // The one stored, whole; a refused upload that claimed the name
        // once the winner had moved its file is kept, whole, as `.partial`.
        let file = fs::read(dir.path().join("shared.bin")).unwrap();
        assert!(file == contents[stored[0]]);
        let names = list(dir.path());
        if names.len() == 2 {
            assert_eq!(names, ["shared.bin", "shared.bin.partial"]);
            let kept = fs::read(dir.path().join("shared.bin.partial")).unwrap();
            assert!(kept != file && contents.contains(&kept));
        } else {
            assert_eq!(names, ["shared.bin"]);
        }
    }

    #[test]
    fn temporary_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        // A leftover that looks like the next temporary name is skipped.
        let next = TEMP_COUNTER.load(Ordering::Relaxed);
        for n in next..next + 3 {
            let name = std::format!("t~{}+{n}.tmp", std::process::id());
            fs::write(dir.path().join(name), b"leftover").unwrap();
        }
        let receivers: Vec<Receiver> = (0..5)
            .map(|_| {
                let mut r = Receiver::new(dir.path()).with_overwrite(true);
                r.handle_message(open("t")).unwrap();
                r
            })
            .collect();
        assert_eq!(temp_files(&dir).len(), 3 + 5);
        drop(receivers);
        // The leftovers are untouched; the last drop's partial won.
        assert_eq!(temp_files(&dir).len(), 3);
        assert!(list(dir.path()).contains(&String::from("t.partial")));
    }

    /// Stores one whole file of `data` under `name`.
    fn store(receiver: &mut Receiver, name: &str, data: &[u8]) {
        receiver.handle_message(open(name)).unwrap();
        receiver
            .handle_message(Message::Data(data.to_vec()))
            .unwrap();
        let close = Message::Close {
            sha256: Some(sha256(data)),
        };
        assert_eq!(receiver.handle_message(close), Ok(None));
    }

    #[test]
    fn next_file_takes_another_file_with_the_same_settings() {
        for overwrite in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut receiver = Receiver::new(dir.path())
                .with_overwrite(overwrite)
                .with_max_file_len(10);
            // Only once a file is stored.
            assert!(!receiver.next_file());
            receiver.handle_message(open("a")).unwrap();
            assert!(receiver.in_progress());
            assert!(!receiver.next_file());
            receiver
                .handle_message(Message::Data(b"first".to_vec()))
                .unwrap();
            let close = Message::Close {
                sha256: Some(sha256(b"first")),
            };
            receiver.handle_message(close).unwrap();
            assert!(!receiver.in_progress());
            assert!(receiver.next_file());
            assert_eq!(receiver.stored_name(), None);
            assert_eq!(receiver.final_path(), None);
            assert_eq!(receiver.sha256(), None);
            assert_eq!(receiver.bytes_written(), 0);
            // The digest started over; the size limit still holds.
            store(&mut receiver, "b", b"second");
            assert_eq!(receiver.sha256(), Some(sha256(b"second")));
            assert!(receiver.next_file());
            receiver.handle_message(open("c")).unwrap();
            assert_eq!(
                receiver.handle_message(Message::Data(vec![0; 11])),
                Err(TransferError::TooLarge { limit: 10 })
            );
            assert_eq!(receiver.files_stored(), 2);
            drop(receiver);
            assert_eq!(list(dir.path()), ["a", "b", "c.partial"]);
        }
    }

    #[test]
    fn the_file_past_max_files_is_refused_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path()).with_max_files(2);
        store(&mut receiver, "a", b"1");
        assert!(receiver.next_file());
        store(&mut receiver, "b", b"2");
        assert!(receiver.next_file());
        assert_eq!(
            receiver.handle_message(open("c")),
            Err(TransferError::TooManyFiles { limit: 2 })
        );
        assert_eq!(list(dir.path()), ["a", "b"]);
        assert_eq!(Receiver::new(dir.path()).max_files, DEFAULT_MAX_FILES);
    }

    /// A digest that cannot start over: the default `reset`.
    struct OneShot(crate::transfer::InlineSha256);

    impl FileDigest for OneShot {
        fn update(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }

        fn finish(&mut self) -> [u8; 32] {
            self.0.finish()
        }
    }

    #[test]
    fn a_digest_that_cannot_start_over_stores_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut receiver = Receiver::new(dir.path())
            .with_digest(OneShot(crate::transfer::InlineSha256::default()));
        store(&mut receiver, "a", b"1");
        assert!(receiver.next_file());
        assert_eq!(
            receiver.handle_message(open("b")),
            Err(TransferError::TooManyFiles { limit: 1 })
        );
        assert_eq!(list(dir.path()), ["a"]);
    }
}
