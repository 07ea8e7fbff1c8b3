//! Resuming an upload (v2, [`Extension::Resume`](crate::config::Extension::Resume)):
//! what the server keeps of a resume token, the lock that keeps two
//! connections from writing one `.partial`, and what the uploader keeps
//! ([`ResumeTicket`]). The flow is the
//! [`Receiver`](super::Receiver)'s and the [`Sender`](super::Sender)'s; the
//! wire is in [`crate::manual::v2_wire`], "Resume".

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use std::string::String;

use zeroize::Zeroizing;

use super::TransferError;
use crate::message::{RESUME_TOKEN_LEN, ResumeToken};

/// What an uploader keeps to resume an upload after a cut: the server it
/// went to (as the uploader names it, e.g. `host:port`), the name the
/// server stores it under, and the upload's token. Its text form is
/// lines of `keyword value`:
///
/// ```text
/// securex resume ticket
/// server 127.0.0.1:5000
/// name résumé_café.txt
/// token 0123456789abcdef0123456789abcdef
/// ```
///
/// The token is a credential: keep the ticket where only the uploader can
/// read it (the example client writes `<file>.securex-resume`, mode 0600).
/// `Debug` does not show it.
///
/// ```
/// use securex::message::ResumeToken;
/// use securex::transfer::ResumeTicket;
///
/// let ticket = ResumeTicket {
///     server: "127.0.0.1:5000".into(),
///     stored_name: "report.pdf".into(),
///     token: ResumeToken::from_bytes([7; 16]),
/// };
/// let text = ticket.to_text();
/// assert_eq!(ResumeTicket::from_text(&text), Ok(ticket));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ResumeTicket {
    /// The server, as the uploader names it.
    pub server: String,
    /// The name the server stores the file under.
    pub stored_name: String,
    /// The upload's token.
    pub token: ResumeToken,
}

/// The first line of a [`ResumeTicket`]'s text.
const TICKET_HEADER: &str = "securex resume ticket";

/// Why a text is not a [`ResumeTicket`]. Carries no text of the input.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketError {
    /// The first line is not `securex resume ticket`.
    NotATicket,
    /// A line is missing (`server`, `name` or `token`).
    MissingLine {
        /// Its keyword.
        keyword: &'static str,
    },
    /// A line of another kind, or one given twice.
    UnexpectedLine,
    /// The token is not 32 lowercase hex digits.
    BadToken,
}

impl core::fmt::Display for TicketError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TicketError::NotATicket => f.write_str("not a securex resume ticket"),
            TicketError::MissingLine { keyword } => write!(f, "no '{keyword}' line"),
            TicketError::UnexpectedLine => f.write_str("a line of another kind, or twice"),
            TicketError::BadToken => f.write_str("the token is not 32 hex digits"),
        }
    }
}

impl std::error::Error for TicketError {}

impl ResumeTicket {
    /// The ticket's text (zeroized when dropped: it holds the token).
    /// The server and the name are written as they are: a line break in
    /// either is replaced with a space, so the text always reads back.
    #[must_use]
    pub fn to_text(&self) -> Zeroizing<String> {
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        Zeroizing::new(std::format!(
            "{TICKET_HEADER}\nserver {}\nname {}\ntoken {}\n",
            one_line(&self.server),
            one_line(&self.stored_name),
            base16ct::lower::encode_string(self.token.as_bytes())
        ))
    }

    /// Reads a ticket's text.
    ///
    /// # Errors
    ///
    /// A [`TicketError`] saying what is wrong: not a ticket, a missing
    /// line, a line of another kind or given twice, a bad token.
    pub fn from_text(text: &str) -> Result<ResumeTicket, TicketError> {
        let mut lines = text.lines();
        if lines.next() != Some(TICKET_HEADER) {
            return Err(TicketError::NotATicket);
        }
        let (mut server, mut name, mut token) = (None, None, None);
        for line in lines {
            let (keyword, value) = line.split_once(' ').unwrap_or((line, ""));
            let slot = match keyword {
                "server" => &mut server,
                "name" => &mut name,
                "token" => &mut token,
                _ => return Err(TicketError::UnexpectedLine),
            };
            if slot.replace(value).is_some() {
                return Err(TicketError::UnexpectedLine);
            }
        }
        let missing = |keyword| TicketError::MissingLine { keyword };
        let hex = token.ok_or(missing("token"))?;
        let mut bytes = [0u8; RESUME_TOKEN_LEN];
        match base16ct::lower::decode(hex.as_bytes(), &mut bytes) {
            Ok(decoded) if decoded.len() == RESUME_TOKEN_LEN => {}
            _ => return Err(TicketError::BadToken),
        }
        Ok(ResumeTicket {
            server: server.ok_or(missing("server"))?.into(),
            stored_name: name.ok_or(missing("name"))?.into(),
            token: ResumeToken::from_bytes(bytes),
        })
    }
}

impl core::fmt::Debug for ResumeTicket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResumeTicket")
            .field("server", &self.server)
            .field("stored_name", &self.stored_name)
            .finish_non_exhaustive()
    }
}

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
    // The 64 hex digits of a SHA-256, read no further.
    let mut kept = std::vec::Vec::with_capacity(64);
    let read = File::open(token_path(target)).and_then(|file| file.take(64).read_to_end(&mut kept));
    match read {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(TransferError::io("cannot read the resume token", &e)),
    }
    let mut digest = [0u8; 32];
    let Ok(kept) = base16ct::lower::decode(&kept, &mut digest) else {
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
    fn a_different_prefix_is_refused_and_the_part_dropped() {
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
        // The token's holder showed its file differs: the part and its
        // token are dropped, and nothing is kept under the name.
        assert_eq!(second.finish_incomplete(), None);
        assert!(list(dir.path()).is_empty(), "{:?}", list(dir.path()));
    }

    /// An overwriting receiver may put another upload's part under the
    /// name while a resumed upload waits for its `Prefix`: a wrong
    /// `Prefix` then drops nothing, since the file under the name is no
    /// longer the one that upload holds, nor its token its own.
    #[test]
    fn a_wrong_prefix_drops_nothing_once_the_name_changed_hands() {
        let dir = tempfile::tempdir().unwrap();
        let token = cut_upload(&dir, "f.txt", b"version 1");
        let mut slow = receiver(&dir, 6).with_overwrite(true);
        accepted(slow.handle_message(resume("f.txt", &token)));
        // Another client's upload of the name, cut: its part and token
        // replace the first ones.
        let mut other = receiver(&dir, 7).with_overwrite(true);
        accepted(other.handle_message(open("f.txt")));
        other
            .handle_message(Message::Data(b"someone else".to_vec()))
            .unwrap();
        assert!(other.finish_incomplete().is_some());
        let their_token = std::fs::read(token_path(&dir.path().join("f.txt"))).unwrap();

        let prefix = Message::Prefix {
            sha256: sha256(b"version 2"),
        };
        assert_eq!(
            slow.handle_message(prefix),
            Err(TransferError::PrefixMismatch)
        );
        assert_eq!(read(&dir, "f.txt.partial"), b"someone else");
        assert_eq!(
            std::fs::read(token_path(&dir.path().join("f.txt"))).unwrap(),
            their_token
        );
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

    fn ticket() -> ResumeTicket {
        ResumeTicket {
            server: "[::1]:5000".into(),
            stored_name: "résumé_café.txt".into(),
            token: ResumeToken::from_bytes(*b"0123456789abcdef"),
        }
    }

    #[test]
    fn a_ticket_reads_back_and_hides_its_token() {
        let text = ticket().to_text();
        assert_eq!(
            &*text,
            "securex resume ticket\nserver [::1]:5000\nname résumé_café.txt\n\
             token 30313233343536373839616263646566\n"
        );
        assert_eq!(ResumeTicket::from_text(&text), Ok(ticket()));
        let shown = std::format!("{:?}", ticket());
        assert!(
            !shown.contains("3031") && !shown.contains("48, 49"),
            "{shown}"
        );
        // A line break in a field cannot add a line.
        let mut odd = ticket();
        odd.server = "a\ntoken 00".into();
        let back = ResumeTicket::from_text(&odd.to_text()).unwrap();
        assert_eq!(back.server, "a token 00");
    }

    #[test]
    fn a_bad_ticket_is_refused_by_name() {
        let good = std::string::String::from(&*ticket().to_text());
        let cases: [(std::string::String, TicketError); 6] = [
            (
                good.replace("securex resume ticket", "securex ticket"),
                TicketError::NotATicket,
            ),
            (
                good.replace("server [::1]:5000\n", ""),
                TicketError::MissingLine { keyword: "server" },
            ),
            (
                good.replace("token 3031", "token 3g31"),
                TicketError::BadToken,
            ),
            (good.replace("6566\n", "65\n"), TicketError::BadToken),
            (
                std::format!("{good}name again\n"),
                TicketError::UnexpectedLine,
            ),
            (
                std::format!("{good}mode 600\n"),
                TicketError::UnexpectedLine,
            ),
        ];
        for (text, error) in cases {
            assert_eq!(ResumeTicket::from_text(&text), Err(error), "{text}");
        }
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
