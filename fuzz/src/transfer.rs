//! The `transfer` target: the file-transfer layer's [`Receiver`] fed the
//! application messages of an authenticated but malicious client, with no
//! connection in between. `arbitrary` decodes the input ([`Input`]) into
//! the receivers' settings (overwrite, resume with a seeded RNG, small
//! bounds on a file, on the files and on the bytes of a connection),
//! whether a batch is agreed (then `next_file` after every stored file, as
//! `Download` does), and up to [`MAX_OPS`] operations on one of two
//! receivers sharing one directory: `Open`, `Resume` (with a fixed token
//! or one a receiver handed out in an `Accepted`), `Prefix` (the digest of
//! what is held, or any), `Data`, `Close` (no digest, the right one, a
//! wrong one), `finish_incomplete`, and a new receiver in place of one
//! (dropped: resume across connections).
//!
//! Errors of `handle_message` are expected (typed refusals). After every
//! operation:
//!
//! * every entry of the directory is a regular file named by a single
//!   path component: a stored name (one [`stored_name`] keeps as it is,
//!   made from a name the client sent), `<name>.partial`,
//!   `<name>.partial~token`, or a temporary file `<prefix>~<pid>+<n>.tmp`;
//!   nothing appears beside the directory (the names with `..`);
//! * no file but a token is longer than the bound on a file;
//! * a file `Close` stored holds exactly the bytes the client sent for it
//!   (the part a resume took up included), under `final_path`, and its
//!   SHA-256 is `sha256()`; a `Close` with the right digest is never a
//!   `DigestMismatch`, one with a wrong digest never stores;
//! * `finish_incomplete` keeps exactly the bytes of the upload in
//!   `<name>.partial`;
//! * a receiver stores at most `max_files` files (one without a batch);
//! * refusing mode: a stored file never changes nor disappears.
//!
//! Bounded: at most [`MAX_OPS`] operations, `Data` of at most
//! [`MAX_CHUNK`] bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use securex::Message;
use securex::message::ResumeToken;
use securex::transfer::{Receiver, TransferError, stored_name};
use sha2::{Digest, Sha256};

/// The most operations one input runs.
pub const MAX_OPS: usize = 16;

/// The longest `Data`.
pub const MAX_CHUNK: usize = 4096;

/// The file names the client sends (index modulo their number).
pub const NAMES: &[&str] = &[
    "a",
    "b.txt",
    "dir/a",
    "../a",
    "/",
    ".",
    "..",
    "",
    "a.partial",
    "a.partial~token",
    "a~1+2.tmp",
    "\u{e9}",
    "e\u{301}",
    "a b",
    "a_b",
    "C:\\x\\b.txt",
];

/// One of the two receivers on the directory.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rx {
    /// The first.
    First,
    /// The second (a concurrent connection).
    Second,
}

/// The digest of a `Prefix`.
#[derive(Arbitrary, Debug, Clone)]
pub enum PrefixDigest {
    /// The SHA-256 of what the receiver said it holds.
    Correct,
    /// Any.
    Any([u8; 32]),
}

/// The digest of a `Close`.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseDigest {
    /// None (as in v1).
    None,
    /// The SHA-256 of the bytes sent.
    Correct,
    /// That with one bit flipped.
    Wrong,
}

/// What happens next.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// `Open` of `NAMES[name]`.
    Open {
        /// The receiver.
        rx: Rx,
        /// Which name.
        name: u8,
    },
    /// `Resume` of `NAMES[name]`: token 0 all zeros, 1 all ones, else the
    /// `token - 2`th handed out (modulo their number).
    Resume {
        /// The receiver.
        rx: Rx,
        /// Which name.
        name: u8,
        /// Which token.
        token: u8,
    },
    /// `Prefix`.
    Prefix {
        /// The receiver.
        rx: Rx,
        /// Its digest.
        digest: PrefixDigest,
    },
    /// `Data` of `len` bytes (modulo [`MAX_CHUNK`] + 1), counting up from
    /// `fill`.
    Data {
        /// The receiver.
        rx: Rx,
        /// Bytes.
        len: u16,
        /// The first byte.
        fill: u8,
    },
    /// `Close`.
    Close {
        /// The receiver.
        rx: Rx,
        /// Its digest.
        digest: CloseDigest,
    },
    /// `finish_incomplete()`.
    FinishIncomplete(Rx),
    /// The receiver is dropped and a new one takes its place (a new
    /// connection).
    Reconnect(Rx),
}

/// The settings of every receiver, and the operations.
#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    /// `with_overwrite`.
    pub overwrite: bool,
    /// `with_resume` with `ChaCha20` of this seed (agreed).
    pub resume: Option<u8>,
    /// `with_max_file_len`, modulo 8192.
    pub max_file_len: Option<u16>,
    /// `with_max_files`, modulo 4.
    pub max_files: Option<u8>,
    /// `with_max_connection_len`, modulo 16384.
    pub max_connection_len: Option<u16>,
    /// Batch agreed: `next_file` after each stored file.
    pub batch: bool,
    /// The operations (at most [`MAX_OPS`] run).
    pub ops: Vec<Op>,
}

impl Input {
    fn max_file_len(&self) -> Option<u64> {
        self.max_file_len.map(|n| u64::from(n % 8192))
    }

    fn max_files(&self) -> usize {
        self.max_files.map_or(1024, |n| usize::from(n % 4))
    }
}

/// The upload a receiver is taking, as the client sees it.
#[derive(Debug)]
struct Upload {
    /// The stored name the receiver answered.
    name: String,
    /// Every byte of the file so far: the part held, then the `Data` the
    /// receiver accepted.
    bytes: Vec<u8>,
}

/// One receiver and what the client knows of it.
struct Slot {
    receiver: Receiver,
    upload: Option<Upload>,
    /// Files its `Close` stored.
    stored: usize,
}

/// The run's state.
struct State<'a> {
    input: &'a Input,
    dir: PathBuf,
    /// Beside `dir`: nothing else may appear there.
    outer: PathBuf,
    slots: [Option<Slot>; 2],
    /// The tokens handed out.
    tokens: Vec<ResumeToken>,
    /// Refusing mode: the stored files and their bytes.
    kept: BTreeMap<String, Vec<u8>>,
    /// The stored names of the names sent.
    names: Vec<String>,
    /// How many receivers were made (seeds their RNGs apart).
    made: u64,
    /// What the run reached.
    reached: Reached,
}

/// What a run reached (for the seeds).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// Files stored.
    pub stored: usize,
    /// Resumes accepted with a part held.
    pub resumed: usize,
}

impl State<'_> {
    fn receiver(&mut self) -> Receiver {
        let input = self.input;
        let mut receiver = Receiver::new(&self.dir)
            .with_overwrite(input.overwrite)
            .with_max_files(input.max_files());
        if let Some(limit) = input.max_file_len() {
            receiver = receiver.with_max_file_len(limit);
        }
        if let Some(limit) = input.max_connection_len {
            receiver = receiver.with_max_connection_len(u64::from(limit % 16384));
        }
        if let Some(seed) = input.resume {
            let rng = ChaCha20Rng::seed_from_u64((u64::from(seed) << 8) | self.made);
            receiver = receiver.with_resume(rng);
            receiver.agree_resume(true);
        }
        self.made += 1;
        receiver
    }

    fn slot(&mut self, rx: Rx) -> &mut Slot {
        let index = rx as usize;
        if self.slots[index].is_none() {
            let receiver = self.receiver();
            self.slots[index] = Some(Slot {
                receiver,
                upload: None,
                stored: 0,
            });
        }
        self.slots[index].as_mut().unwrap()
    }

    /// Notes the reply to an `Open` or `Resume` of `file_name`: the
    /// upload now starts from `held` (the `.partial` as it was) or
    /// nothing.
    fn opened(
        &mut self,
        rx: Rx,
        file_name: &str,
        sent_token: Option<&ResumeToken>,
        held: &[u8],
        reply: &Result<Option<Message>, TransferError>,
    ) {
        let resuming = self.input.resume.is_some();
        let Ok(reply) = reply else {
            return;
        };
        let name = stored_name(file_name).expect("an accepted name is a valid one");
        let (offset, token) = match reply {
            Some(Message::Ok) if !resuming => (0, None),
            Some(Message::Accepted {
                stored_name,
                offset,
                token,
            }) if resuming => {
                assert_eq!(*stored_name, name, "ACCEPTED names another file");
                (*offset, Some(token.clone()))
            }
            other => panic!("unexpected reply to OPEN/RESUME: {other:?}"),
        };
        if offset > 0 {
            assert_eq!(sent_token, token.as_ref(), "a resume with another token");
        }
        let offset = usize::try_from(offset).unwrap();
        assert_eq!(
            offset,
            if sent_token.is_some() && offset > 0 {
                held.len()
            } else {
                0
            },
            "the offset is not the length of the part"
        );
        if let Some(token) = token {
            self.tokens.push(token);
        }
        if offset > 0 {
            self.reached.resumed += 1;
        }
        let slot = self.slot(rx);
        assert_eq!(slot.receiver.stored_name(), Some(name.as_str()));
        slot.upload = Some(Upload {
            name,
            bytes: held[..offset].to_vec(),
        });
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Open { rx, name } => {
                let file_name = NAMES[usize::from(name) % NAMES.len()];
                self.sent(file_name);
                let slot = self.slot(rx);
                let reply = slot.receiver.handle_message(Message::Open {
                    file_name: file_name.into(),
                });
                self.opened(rx, file_name, None, &[], &reply);
            }
            Op::Resume { rx, name, token } => {
                let file_name = NAMES[usize::from(name) % NAMES.len()];
                self.sent(file_name);
                let token = match token {
                    0 => ResumeToken::from_bytes([0; 16]),
                    1 => ResumeToken::from_bytes([0xff; 16]),
                    n if self.tokens.is_empty() => ResumeToken::from_bytes([n; 16]),
                    n => self.tokens[usize::from(n - 2) % self.tokens.len()].clone(),
                };
                let held = stored_name(file_name)
                    .ok()
                    .and_then(|name| std::fs::read(self.dir.join(format!("{name}.partial"))).ok())
                    .unwrap_or_default();
                let slot = self.slot(rx);
                let reply = slot.receiver.handle_message(Message::Resume {
                    file_name: file_name.into(),
                    token: token.clone(),
                });
                self.opened(rx, file_name, Some(&token), &held, &reply);
            }
            Op::Prefix { rx, ref digest } => {
                let slot = self.slot(rx);
                let sha256 = match digest {
                    PrefixDigest::Correct => slot
                        .upload
                        .as_ref()
                        .map_or([0; 32], |upload| Sha256::digest(&upload.bytes).into()),
                    PrefixDigest::Any(sha256) => *sha256,
                };
                let reply = slot.receiver.handle_message(Message::Prefix { sha256 });
                if let Ok(reply) = reply {
                    assert_eq!(reply, None, "a reply to PREFIX");
                    if let PrefixDigest::Any(_) = digest {
                        let upload = slot.upload.as_ref().expect("a PREFIX without an upload");
                        assert_eq!(
                            sha256,
                            <[u8; 32]>::from(Sha256::digest(&upload.bytes)),
                            "a wrong PREFIX accepted"
                        );
                    }
                }
            }
            Op::Data { rx, len, fill } => {
                let len = usize::from(len) % (MAX_CHUNK + 1);
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "the bytes count up modulo 256"
                )]
                let bytes: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
                let slot = self.slot(rx);
                let reply = slot.receiver.handle_message(Message::Data(bytes.clone()));
                if let Ok(reply) = reply {
                    assert_eq!(reply, None, "a reply to DATA");
                    let upload = slot.upload.as_mut().expect("DATA taken without an upload");
                    upload.bytes.extend_from_slice(&bytes);
                }
            }
            Op::Close { rx, digest } => self.close(rx, digest),
            Op::FinishIncomplete(rx) => {
                let slot = self.slot(rx);
                let kept = slot.receiver.finish_incomplete();
                let upload = slot.upload.take();
                if let Some(path) = kept {
                    let upload = upload.expect("a part kept without an upload");
                    assert_eq!(
                        path,
                        self.dir.join(format!("{}.partial", upload.name)),
                        "the part is not kept as <name>.partial"
                    );
                    let on_disk = std::fs::read(&path).expect("the part kept is there");
                    assert!(
                        on_disk == upload.bytes,
                        "the part of {:?} holds {} bytes, not the {} of its upload",
                        upload.name,
                        on_disk.len(),
                        upload.bytes.len()
                    );
                }
            }
            Op::Reconnect(rx) => {
                // Dropped first: its part is kept before the new one starts.
                self.slots[rx as usize] = None;
                self.slot(rx);
            }
        }
    }

    fn close(&mut self, rx: Rx, digest: CloseDigest) {
        let (batch, max_files, overwrite) = (
            self.input.batch,
            self.input.max_files(),
            self.input.overwrite,
        );
        let dir = self.dir.clone();
        let slot = self.slot(rx);
        let correct: Option<[u8; 32]> = slot
            .upload
            .as_ref()
            .map(|upload| Sha256::digest(&upload.bytes).into());
        let sha256 = match (digest, correct) {
            (CloseDigest::None, _) => None,
            (CloseDigest::Correct, correct) => Some(correct.unwrap_or_default()),
            (CloseDigest::Wrong, correct) => {
                let mut wrong = correct.unwrap_or_default();
                wrong[0] ^= 1;
                Some(wrong)
            }
        };
        let in_progress = slot.receiver.in_progress();
        let reply = slot.receiver.handle_message(Message::Close { sha256 });
        match reply {
            Err(TransferError::DigestMismatch) => assert!(
                !(in_progress && digest == CloseDigest::Correct),
                "the digest of the bytes sent does not match"
            ),
            Err(_) => {}
            Ok(reply) => {
                assert_eq!(reply, None, "a reply to CLOSE");
                assert!(
                    digest != CloseDigest::Wrong,
                    "a wrong digest stored the file"
                );
                let upload = slot
                    .upload
                    .take()
                    .expect("a CLOSE stored without an upload");
                slot.stored += 1;
                assert_eq!(slot.receiver.files_stored(), slot.stored);
                assert!(
                    slot.stored <= if batch { max_files } else { 1 },
                    "{} files stored, past the limit of {max_files}",
                    slot.stored
                );
                let path = dir.join(&upload.name);
                assert_eq!(slot.receiver.final_path(), Some(path.as_path()));
                let on_disk = std::fs::read(&path).expect("the stored file is there");
                assert!(
                    on_disk == upload.bytes,
                    "{:?} holds {} bytes, not the {} sent for it",
                    upload.name,
                    on_disk.len(),
                    upload.bytes.len()
                );
                let sha256: [u8; 32] = Sha256::digest(&on_disk).into();
                assert_eq!(
                    slot.receiver.sha256(),
                    Some(sha256),
                    "sha256() is not the file's"
                );
                assert_eq!(
                    usize::try_from(slot.receiver.bytes_written()).unwrap(),
                    on_disk.len()
                );
                if batch {
                    assert!(slot.receiver.next_file(), "next_file after a stored file");
                }
                self.reached.stored += 1;
                if !overwrite {
                    let old = self.kept.insert(upload.name.clone(), on_disk);
                    assert!(
                        old.is_none(),
                        "{:?} stored twice without overwrite",
                        upload.name
                    );
                }
            }
        }
    }

    /// Notes a name sent.
    fn sent(&mut self, file_name: &str) {
        if let Ok(name) = stored_name(file_name)
            && !self.names.contains(&name)
        {
            self.names.push(name);
        }
    }

    /// Checks the directory.
    fn check(&self) {
        let beside: Vec<_> = std::fs::read_dir(&self.outer)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(beside, ["d"], "something was written beside the directory");
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let entry = entry.unwrap();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            let name = entry.file_name().into_string().expect("a UTF-8 name");
            assert!(meta.is_file(), "{name:?} is not a regular file");
            assert!(
                Path::new(&name).components().count() == 1 && !name.contains('/'),
                "{name:?} is not one component"
            );
            let token = name.strip_suffix(".partial~token");
            let base = token
                .or_else(|| name.strip_suffix(".partial"))
                .unwrap_or(&name);
            let known = self.names.iter().any(|n| n == base)
                || name
                    .strip_suffix(".tmp")
                    .is_some_and(|tmp| self.is_temporary(tmp));
            assert!(known, "{name:?} is no name of an upload");
            if token.is_none()
                && let Some(limit) = self.input.max_file_len()
            {
                assert!(
                    meta.len() <= limit,
                    "{name:?} is {} bytes, over {limit}",
                    meta.len()
                );
            }
        }
        for (name, bytes) in &self.kept {
            let on_disk = std::fs::read(self.dir.join(name))
                .unwrap_or_else(|e| panic!("the stored {name:?} is gone: {e}"));
            assert!(on_disk == *bytes, "the stored {name:?} changed");
        }
    }

    /// Whether `tmp` (a name without `.tmp`) is `<prefix>~<pid>+<n>` of
    /// a name sent.
    fn is_temporary(&self, tmp: &str) -> bool {
        let Some((prefix, rest)) = tmp.rsplit_once('~') else {
            return false;
        };
        let Some((pid, n)) = rest.split_once('+') else {
            return false;
        };
        pid == std::process::id().to_string()
            && n.parse::<u64>().is_ok()
            && self.names.iter().any(|name| {
                name.starts_with(prefix) && (prefix.len() == name.len() || prefix.len() >= 60)
            })
    }
}

/// Runs `input` on a fresh temporary directory.
pub fn run(data: &[u8]) {
    super::assert_checked_build();
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        run_input(&input);
    }
}

/// Runs the operations of `input`, checking after each; returns what it
/// reached.
pub fn run_input(input: &Input) -> Reached {
    let outer = tempfile::tempdir().expect("a temporary directory");
    let dir = outer.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    let mut state = State {
        input,
        dir,
        outer: outer.path().to_path_buf(),
        slots: [None, None],
        tokens: Vec::new(),
        kept: BTreeMap::new(),
        names: Vec::new(),
        made: 0,
        reached: Reached::default(),
    };
    for op in input.ops.iter().take(MAX_OPS) {
        state.step(op);
        state.check();
    }
    state.slots = [None, None];
    state.check();
    state.reached
}

// ---------------------------------------------------------------------
// The seeds
// ---------------------------------------------------------------------

/// Bytes that `arbitrary` 1.x decodes into `input` (as `make_corpus`'s
/// `Enc`: integers little endian, `bool` as a byte, an enum variant as a
/// `u32` scaled to the variant count, an `Option` or a `Vec` element after
/// a `true` byte). [`seeds`] checks that they decode back.
pub fn encode(input: &Input) -> Vec<u8> {
    fn variant(out: &mut Vec<u8>, index: u64, count: u64) {
        let v = u32::try_from((index << 32).div_ceil(count)).unwrap();
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn option<T>(out: &mut Vec<u8>, value: Option<T>, put: impl FnOnce(&mut Vec<u8>, T)) {
        out.push(u8::from(value.is_some()));
        if let Some(value) = value {
            put(out, value);
        }
    }
    let rx = |out: &mut Vec<u8>, rx: Rx| variant(out, rx as u64, 2);
    let mut out = vec![u8::from(input.overwrite)];
    option(&mut out, input.resume, Vec::push);
    option(&mut out, input.max_file_len, |out, v| {
        out.extend_from_slice(&v.to_le_bytes());
    });
    option(&mut out, input.max_files, Vec::push);
    option(&mut out, input.max_connection_len, |out, v| {
        out.extend_from_slice(&v.to_le_bytes());
    });
    out.push(u8::from(input.batch));
    for op in &input.ops {
        out.push(1);
        match *op {
            Op::Open { rx: r, name } => {
                variant(&mut out, 0, 7);
                rx(&mut out, r);
                out.push(name);
            }
            Op::Resume { rx: r, name, token } => {
                variant(&mut out, 1, 7);
                rx(&mut out, r);
                out.extend_from_slice(&[name, token]);
            }
            Op::Prefix { rx: r, ref digest } => {
                variant(&mut out, 2, 7);
                rx(&mut out, r);
                match digest {
                    PrefixDigest::Correct => variant(&mut out, 0, 2),
                    PrefixDigest::Any(sha256) => {
                        variant(&mut out, 1, 2);
                        out.extend_from_slice(sha256);
                    }
                }
            }
            Op::Data { rx: r, len, fill } => {
                variant(&mut out, 3, 7);
                rx(&mut out, r);
                out.extend_from_slice(&len.to_le_bytes());
                out.push(fill);
            }
            Op::Close { rx: r, digest } => {
                variant(&mut out, 4, 7);
                rx(&mut out, r);
                variant(&mut out, digest as u64, 3);
            }
            Op::FinishIncomplete(r) => {
                variant(&mut out, 5, 7);
                rx(&mut out, r);
            }
            Op::Reconnect(r) => {
                variant(&mut out, 6, 7);
                rx(&mut out, r);
            }
        }
    }
    out
}

/// The seeds of the corpus (`fuzz/corpus/transfer/seed-<name>`): a stored
/// file, a resume across connections, a batch of two, and the two
/// receivers racing for one name. Each is encoded, checked to decode
/// back to itself, and run.
#[allow(clippy::too_many_lines, reason = "a table of scripts")]
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    use Rx::{First, Second};
    let settings = |overwrite, resume: Option<u8>, batch, ops: Vec<Op>| Input {
        overwrite,
        resume,
        max_file_len: Some(6000),
        max_files: Some(2),
        max_connection_len: None,
        batch,
        ops,
    };
    let data = |rx, len, fill| Op::Data { rx, len, fill };
    let close = |rx| Op::Close {
        rx,
        digest: CloseDigest::Correct,
    };
    let seeds = [
        (
            "stored",
            (1, 0),
            settings(
                false,
                None,
                false,
                vec![
                    Op::Open { rx: First, name: 1 },
                    data(First, 1000, 7),
                    data(First, 300, 9),
                    close(First),
                ],
            ),
        ),
        (
            "resume",
            (1, 1),
            settings(
                false,
                Some(1),
                false,
                vec![
                    Op::Open { rx: First, name: 0 },
                    data(First, 700, 1),
                    Op::Reconnect(First),
                    Op::Resume {
                        rx: First,
                        name: 0,
                        token: 2,
                    },
                    Op::Prefix {
                        rx: First,
                        digest: PrefixDigest::Correct,
                    },
                    data(First, 500, 2),
                    close(First),
                ],
            ),
        ),
        (
            "resume-overwrite",
            (1, 1),
            settings(
                true,
                Some(2),
                false,
                vec![
                    Op::Open { rx: First, name: 0 },
                    data(First, 700, 1),
                    Op::FinishIncomplete(First),
                    Op::Resume {
                        rx: Second,
                        name: 0,
                        token: 2,
                    },
                    Op::Prefix {
                        rx: Second,
                        digest: PrefixDigest::Correct,
                    },
                    data(Second, 500, 2),
                    close(Second),
                ],
            ),
        ),
        (
            "batch-of-two",
            (2, 0),
            settings(
                false,
                None,
                true,
                vec![
                    Op::Open { rx: First, name: 0 },
                    data(First, 100, 1),
                    close(First),
                    Op::Open {
                        rx: First,
                        name: 11,
                    },
                    data(First, 200, 3),
                    close(First),
                    Op::Open {
                        rx: First,
                        name: 12,
                    },
                ],
            ),
        ),
        (
            "two-receivers",
            (1, 0),
            settings(
                true,
                Some(3),
                false,
                vec![
                    Op::Open { rx: First, name: 2 },
                    Op::Open {
                        rx: Second,
                        name: 3,
                    },
                    data(First, 100, 1),
                    data(Second, 200, 3),
                    close(Second),
                    Op::Resume {
                        rx: First,
                        name: 0,
                        token: 3,
                    },
                    close(First),
                ],
            ),
        ),
    ];
    seeds
        .into_iter()
        .map(|(name, (stored, resumed), input)| {
            let bytes = encode(&input);
            let decoded = Input::arbitrary_take_rest(Unstructured::new(&bytes)).expect("decodes");
            assert_eq!(
                format!("{decoded:?}"),
                format!("{input:?}"),
                "the encoder is out of step with arbitrary"
            );
            assert_eq!(
                run_input(&input),
                Reached { stored, resumed },
                "the seed {name} does not reach what it should"
            );
            (name, bytes)
        })
        .collect()
}
