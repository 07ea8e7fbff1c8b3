//! Resuming an upload (v2, [`Extension::Resume`](crate::config::Extension::Resume)):
//! what the server keeps of a resume token, and the lock that keeps two
//! connections from writing one `.partial`. The flow is the
//! [`Receiver`](super::Receiver)'s and the [`Sender`](super::Sender)'s; the
//! wire is in [`crate::manual::v2_wire`], "Resume".

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::TransferError;
use crate::message::ResumeToken;

/// `<target>.partial~token`: the SHA-256 (hex) of the resume token of the
/// upload kept in `<target>.partial`. A name [`stored_name`] never makes
/// (it replaces every `~`), so no client can upload one.
pub(super) fn token_path(target: &Path) -> PathBuf {
    let mut path = target.as_os_str().to_os_string();
    path.push(".partial~token");
    PathBuf::from(path)
}

/// The SHA-256 of a token: what the server keeps of it.
fn token_digest(token: &ResumeToken) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Keeps `token` (its SHA-256) for the upload kept in `<target>.partial`,
/// replacing a stale one.
pub(super) fn write_token(target: &Path, token: &ResumeToken) -> Result<(), TransferError> {
    let path = token_path(target);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(TransferError::io("cannot replace the resume token", &e)),
    }
    let hex = base16ct::lower::encode_string(&token_digest(token));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut file| file.write_all(hex.as_bytes()))
        .map_err(|e| TransferError::io("cannot keep the resume token", &e))
}

/// Whether `token` is the one kept for the upload in `<target>.partial`
/// (compared in constant time); `false` if none is kept.
pub(super) fn token_matches(target: &Path, token: &ResumeToken) -> Result<bool, TransferError> {
    let mut kept = [0u8; 64];
    let read = File::open(token_path(target)).and_then(|file| {
        let mut n = 0;
        let mut limited = file.take(kept.len() as u64);
        loop {
            match limited.read(&mut kept[n..])? {
                0 => return Ok(n),
                k => n += k,
            }
        }
    });
    let n = match read {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(TransferError::io("cannot read the resume token", &e)),
    };
    let mut digest = [0u8; 32];
    let Ok(kept) = base16ct::lower::decode(&kept[..n], &mut digest) else {
        return Ok(false);
    };
    Ok(kept.ct_eq(&token_digest(token)).into())
}

/// Locks `file` against the resumes of other connections while this one
/// writes it. A file system without locks does not stop the upload.
pub(super) fn lock(file: &File) -> Result<(), std::fs::TryLockError> {
    match file.try_lock() {
        Err(std::fs::TryLockError::Error(_)) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, RESUME_TOKEN_LEN};
    use crate::transfer::testutil::{list, sha256};
    use crate::transfer::{Receiver, stored_name};
    use rand_core::SeedableRng;
    use std::string::String;
    use std::vec::Vec;

    fn receiver(dir: &tempfile::TempDir, seed: u64) -> Receiver {
        let mut r =
            Receiver::new(dir.path()).with_resume(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
        r.agree_resume(true);
        r
    }

    fn open(name: &str) -> Message {
        Message::Open {
            file_name: name.into(),
        }
    }

    fn resume(name: &str, token: &ResumeToken) -> Message {
        Message::Resume {
            file_name: name.into(),
            token: token.clone(),
        }
    }

    /// The token and offset of an `Accepted`.
    fn accepted(reply: Result<Option<Message>, TransferError>) -> (ResumeToken, u64, String) {
        match reply {
            Ok(Some(Message::Accepted {
                stored_name,
                offset,
                token,
            })) => (token, offset, stored_name),
            other => panic!("not an Accepted: {other:?}"),
        }
    }

    /// An upload of `data` to `name` cut after it: the token it got.
    fn cut_upload(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> ResumeToken {
        let mut first = receiver(dir, 1);
        let (token, offset, _) = accepted(first.handle_message(open(name)));
        assert_eq!(offset, 0);
        first.handle_message(Message::Data(data.to_vec())).unwrap();
        assert!(first.finish_incomplete().is_some());
        token
    }

    fn read(dir: &tempfile::TempDir, name: &str) -> Vec<u8> {
        std::fs::read(dir.path().join(name)).unwrap()
    }

    #[test]
    fn a_cut_upload_resumes_from_what_the_partial_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (b"the first half, ".as_slice(), b"and the rest".as_slice());
        let token = cut_upload(&dir, "f.txt", a);
        assert_eq!(list(dir.path()), ["f.txt.partial", "f.txt.partial~token"]);

        let mut second = receiver(&dir, 2);
        let (again, offset, name) =
            accepted(second.handle_message(resume("/home/u/f.txt", &token)));
        assert_eq!((offset, name.as_str()), (a.len() as u64, "f.txt"));
        assert!(again == token, "the same upload, the same token");
        assert_eq!(second.bytes_written(), a.len() as u64);
        let prefix = Message::Prefix { sha256: sha256(a) };
        assert_eq!(second.handle_message(prefix), Ok(None));
        second.handle_message(Message::Data(b.to_vec())).unwrap();
        let whole = [a, b].concat();
        let close = Message::Close {
            sha256: Some(sha256(&whole)),
        };
        assert_eq!(second.handle_message(close), Ok(None));
        assert_eq!(read(&dir, "f.txt"), whole);
        assert_eq!(
            list(dir.path()),
            ["f.txt"],
            "the token goes with the .partial"
        );
        assert_eq!(second.sha256(), Some(sha256(&whole)));
    }

    #[test]
    fn a_wrong_token_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let token = cut_upload(&dir, "f.txt", b"secret data");
        let mut other = *token.as_bytes();
        other[RESUME_TOKEN_LEN - 1] ^= 1;
        let mut stranger = receiver(&dir, 3);
        assert_eq!(
            stranger.handle_message(resume("f.txt", &ResumeToken::from_bytes(other))),
            Err(TransferError::ResumeRefused {
                name: "f.txt".into()
            })
        );
        drop(stranger);
        assert_eq!(read(&dir, "f.txt.partial"), b"secret data");
        // The owner still can.
        let mut owner = receiver(&dir, 4);
        assert_eq!(
            accepted(owner.handle_message(resume("f.txt", &token))).1,
            11
        );
    }

    #[test]
    fn an_upload_that_kept_no_token_cannot_be_resumed() {
        let dir = tempfile::tempdir().unwrap();
        // An upload without resume (v1, say) leaves only the .partial.
        let mut plain = Receiver::new(dir.path());
        plain.handle_message(open("f.txt")).unwrap();
        plain.handle_message(Message::Data(b"x".to_vec())).unwrap();
        plain.finish_incomplete();
        let guess = ResumeToken::from_bytes([0; RESUME_TOKEN_LEN]);
        assert_eq!(
            receiver(&dir, 5).handle_message(resume("f.txt", &guess)),
            Err(TransferError::ResumeRefused {
                name: "f.txt".into()
            })
        );
    }

    #[test]
    fn a_different_prefix_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let token = cut_upload(&dir, "f.txt", b"version 1");
        let mut second = receiver(&dir, 6);
        accepted(second.handle_message(resume("f.txt", &token)));
        let prefix = Message::Prefix {
            sha256: sha256(b"version 2"),
        };
        assert_eq!(
            second.handle_message(prefix),
            Err(TransferError::PrefixMismatch)
        );
        assert_eq!(
            second.handle_message(Message::Data(b"more".to_vec())),
            Err(TransferError::PrefixMismatch)
        );
        second.finish_incomplete();
        assert_eq!(read(&dir, "f.txt.partial"), b"version 1");
    }

    #[test]
    fn nothing_but_the_prefix_may_come_first() {
        let dir = tempfile::tempdir().unwrap();
        let token = cut_upload(&dir, "f.txt", b"abc");
        for early in [
            Message::Data(b"d".to_vec()),
            Message::Close {
                sha256: Some(sha256(b"abcd")),
            },
        ] {
            let mut second = receiver(&dir, 7);
            accepted(second.handle_message(resume("f.txt", &token)));
            let got = early.type_name();
            assert_eq!(
                second.handle_message(early),
                Err(TransferError::UnexpectedMessage {
                    expected: "PREFIX",
                    got
                })
            );
            second.finish_incomplete();
            assert_eq!(read(&dir, "f.txt.partial"), b"abc");
        }
    }

    #[test]
    fn an_upload_still_being_written_cannot_be_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = receiver(&dir, 8);
        let (token, _, _) = accepted(first.handle_message(open("f.txt")));
        first
            .handle_message(Message::Data(b"abc".to_vec()))
            .unwrap();
        // The first connection has not ended yet (a cut it has not seen).
        assert_eq!(
            receiver(&dir, 9).handle_message(resume("f.txt", &token)),
            Err(TransferError::ResumeBusy {
                name: "f.txt".into()
            })
        );
        first.finish_incomplete();
        assert_eq!(
            accepted(receiver(&dir, 10).handle_message(resume("f.txt", &token))).1,
            3
        );
    }

    #[test]
    fn resuming_what_is_not_kept_starts_again_with_a_new_token() {
        let dir = tempfile::tempdir().unwrap();
        let presented = ResumeToken::from_bytes([5; RESUME_TOKEN_LEN]);
        let (token, offset, _) =
            accepted(receiver(&dir, 11).handle_message(resume("g.txt", &presented)));
        assert_eq!(offset, 0);
        assert!(token != presented);
    }

    #[test]
    fn a_stored_file_is_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let token = cut_upload(&dir, "f.txt", b"abc");
        std::fs::write(dir.path().join("f.txt"), b"stored since").unwrap();
        assert_eq!(
            receiver(&dir, 12).handle_message(resume("f.txt", &token)),
            Err(TransferError::AlreadyStored {
                name: "f.txt".into(),
                partial: false
            })
        );
    }

    #[test]
    fn without_the_extension_agreed_open_is_answered_ok_and_resume_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut r =
            Receiver::new(dir.path()).with_resume(rand_chacha::ChaCha20Rng::seed_from_u64(13));
        assert_eq!(r.handle_message(open("f.txt")), Ok(Some(Message::Ok)));
        assert_eq!(list(dir.path()), ["f.txt.partial"], "no token kept");
        let mut r =
            Receiver::new(dir.path()).with_resume(rand_chacha::ChaCha20Rng::seed_from_u64(14));
        let token = ResumeToken::from_bytes([1; RESUME_TOKEN_LEN]);
        assert_eq!(
            r.handle_message(resume("f.txt", &token)),
            Err(TransferError::UnexpectedMessage {
                expected: "OPEN",
                got: "RESUME"
            })
        );
    }

    #[test]
    fn in_the_overwriting_mode_the_kept_partial_gets_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Receiver::new(dir.path())
            .with_overwrite(true)
            .with_resume(rand_chacha::ChaCha20Rng::seed_from_u64(15));
        first.agree_resume(true);
        let (token, _, _) = accepted(first.handle_message(open("f.txt")));
        first
            .handle_message(Message::Data(b"abc".to_vec()))
            .unwrap();
        first.finish_incomplete();
        assert_eq!(list(dir.path()), ["f.txt.partial", "f.txt.partial~token"]);
        let mut second = Receiver::new(dir.path())
            .with_overwrite(true)
            .with_resume(rand_chacha::ChaCha20Rng::seed_from_u64(16));
        second.agree_resume(true);
        assert_eq!(
            accepted(second.handle_message(resume("f.txt", &token))).1,
            3
        );
        second
            .handle_message(Message::Prefix {
                sha256: sha256(b"abc"),
            })
            .unwrap();
        second.handle_message(Message::Data(b"d".to_vec())).unwrap();
        let close = Message::Close {
            sha256: Some(sha256(b"abcd")),
        };
        second.handle_message(close).unwrap();
        assert_eq!(list(dir.path()), ["f.txt"]);
    }

    #[test]
    fn no_client_can_name_a_token_file() {
        assert_ne!(
            stored_name("f.txt.partial~token").unwrap(),
            "f.txt.partial~token"
        );
        assert!(token_path(Path::new("/d/f")).ends_with("f.partial~token"));
    }
}
