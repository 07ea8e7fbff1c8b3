//! Application messages: what travels inside the channel.
//!
//! | message | fields | direction |
//! |---------|--------|-----------|
//! | [`Message::Open`]  | file name | client → server, answered by `Ok` |
//! | [`Message::Data`]  | a chunk of the file | client → server |
//! | [`Message::Close`] | (v2: SHA-256 of the file) | client → server |
//! | [`Message::Ok`]    | — | server → client |
//! | [`Message::Error`] | why | server → client, then close |
//! | [`Message::Resume`] | file name, resume token | client → server, instead of `Open` |
//! | [`Message::Accepted`] | stored name, offset, resume token | server → client, instead of `Ok` to `Open` or `Resume` |
//! | [`Message::Prefix`] | SHA-256 of the first `offset` bytes | client → server, after `Accepted` with an offset |
//!
//! The last three are v2's, and only where both sides agreed
//! [`Extension::Resume`](crate::config::Extension::Resume) (the
//! connection refuses them otherwise; see [`crate::manual::v2_wire`],
//! "Resume").
//!
//! In v1 the client's messages travel as JSON inside `SECURE_X` records
//! (`{"type": "DATA", "data": "<base64>"}`), and the server's as plaintext
//! `OK` / `ERROR` frames.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use subtle::ConstantTimeEq;

use crate::wire::base64;
use serde::{Deserialize, Serialize};

use crate::error::FrameError;
use crate::wire::frame::{fields, to_ascii_json, typed_json};

/// An application message.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// Opens a file on the server.
    Open {
        /// The name the client gives the file (the server keeps only a safe
        /// last path component).
        file_name: String,
    },
    /// A chunk of the file.
    Data(Vec<u8>),
    /// The end of the file, with the SHA-256 of the whole file as the
    /// client read it (v2; v1 carries none).
    Close {
        /// SHA-256 of the file.
        sha256: Option<[u8; 32]>,
    },
    /// The server accepted the last `Open` (or, in v2, `Close`).
    Ok,
    /// The server refuses; the connection closes.
    Error {
        /// Why.
        message: String,
    },
    /// Like `Open`, for an upload that an earlier connection started and
    /// did not finish: the token the server gave it then proves this is
    /// the same uploader.
    Resume {
        /// The name the client gives the file, as in `Open`.
        file_name: String,
        /// The token of the earlier [`Message::Accepted`].
        token: ResumeToken,
    },
    /// The server accepted an `Open` or a `Resume` (instead of `Ok`, where
    /// resume is agreed): the file is stored under `stored_name`, the
    /// server holds its first `offset` bytes (0 after `Open`), and `token`
    /// lets this uploader resume it.
    Accepted {
        /// The name the server stores the file under.
        stored_name: String,
        /// How many bytes of the file the server holds.
        offset: u64,
        /// What a later `Resume` of this upload presents.
        token: ResumeToken,
    },
    /// The SHA-256 of the client's first `offset` bytes (of an `Accepted`
    /// with an offset): the server resumes only if it holds the same.
    Prefix {
        /// SHA-256 of the prefix.
        sha256: [u8; 32],
    },
}

/// The length of a [`ResumeToken`], in bytes.
pub const RESUME_TOKEN_LEN: usize = 16;

/// A random secret the server hands an uploader inside the channel, which
/// a later [`Message::Resume`] of the same upload presents: without it
/// nobody can resume, or learn anything of, someone else's `.partial`.
///
/// Compared in constant time, zeroized on drop, and never shown by
/// `Debug`.
#[derive(Clone)]
pub struct ResumeToken([u8; RESUME_TOKEN_LEN]);

impl ResumeToken {
    /// A token of these bytes (drawn from a CSPRNG by the server).
    #[must_use]
    pub fn from_bytes(bytes: [u8; RESUME_TOKEN_LEN]) -> ResumeToken {
        ResumeToken(bytes)
    }

    /// The token's bytes, for the uploader to keep (it is a credential:
    /// store it where only the uploader can read it).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; RESUME_TOKEN_LEN] {
        &self.0
    }
}

impl PartialEq for ResumeToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for ResumeToken {}

impl Drop for ResumeToken {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeToken(..)")
    }
}

impl Message {
    /// The wire name of the message's type.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Open { .. } => "OPEN",
            Message::Data(_) => "DATA",
            Message::Close { .. } => "CLOSE",
            Message::Ok => "OK",
            Message::Error { .. } => "ERROR",
            Message::Resume { .. } => "RESUME",
            Message::Accepted { .. } => "ACCEPTED",
            Message::Prefix { .. } => "PREFIX",
        }
    }

    /// Whether this is a message of [`Extension::Resume`](crate::config::Extension::Resume).
    #[must_use]
    pub fn is_resume_message(&self) -> bool {
        matches!(
            self,
            Message::Resume { .. } | Message::Accepted { .. } | Message::Prefix { .. }
        )
    }

    /// Whether a client may send this message (the others are the
    /// server's).
    #[must_use]
    pub fn is_from_client(&self) -> bool {
        matches!(
            self,
            Message::Open { .. }
                | Message::Data(_)
                | Message::Close { .. }
                | Message::Resume { .. }
                | Message::Prefix { .. }
        )
    }

    /// The v1 inner JSON of the message, ASCII only. v1 has no resume
    /// messages: theirs is a JSON object of their type name alone, which
    /// a v1 peer refuses (the connection never sends one in v1).
    #[must_use]
    pub fn to_v1_json(&self) -> Vec<u8> {
        match self {
            Message::Data(data) => {
                let mut out = Vec::with_capacity(v1_data_json_len(data.len()));
                write_v1_data_json(&mut out, data);
                out
            }
            other => to_ascii_json(&V1Inner::from(other)),
        }
    }

    /// The v2 inner plaintext of the message: one type byte, then the
    /// body (the file name or error text in UTF-8, the raw DATA bytes, the
    /// 32-byte SHA-256 of CLOSE, nothing for OK; RESUME: the token, then
    /// the file name; ACCEPTED: the offset as 8 bytes big-endian, the
    /// token, then the stored name; PREFIX: the 32-byte SHA-256). DATA is
    /// not base64-encoded.
    #[must_use]
    pub fn to_v2_bytes(&self) -> Vec<u8> {
        let (code, body) = self.v2_parts();
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(code);
        out.extend_from_slice(&body);
        out
    }

    /// The v2 type byte and body of the message (borrowed but for the
    /// resume messages, whose body is made of several fields).
    pub(crate) fn v2_parts(&self) -> (u8, Cow<'_, [u8]>) {
        fn borrowed(code: u8, body: &[u8]) -> (u8, Cow<'_, [u8]>) {
            (code, Cow::Borrowed(body))
        }
        match self {
            Message::Open { file_name } => borrowed(V2_OPEN, file_name.as_bytes()),
            Message::Data(d) => borrowed(V2_DATA, d),
            Message::Close { sha256 } => {
                borrowed(V2_CLOSE, sha256.as_ref().map_or(&[][..], |d| &d[..]))
            }
            Message::Ok => borrowed(V2_OK, &[]),
            Message::Error { message } => borrowed(V2_ERROR, message.as_bytes()),
            Message::Resume { file_name, token } => (
                V2_RESUME,
                Cow::Owned([&token.0[..], file_name.as_bytes()].concat()),
            ),
            Message::Accepted {
                stored_name,
                offset,
                token,
            } => (
                V2_ACCEPTED,
                Cow::Owned([&offset.to_be_bytes()[..], &token.0, stored_name.as_bytes()].concat()),
            ),
            Message::Prefix { sha256 } => borrowed(V2_PREFIX, sha256),
        }
    }

    /// Parses a v2 inner plaintext whose type byte is an application
    /// message's; `None` for other type bytes (the connection's own).
    #[must_use]
    pub fn from_v2_bytes(bytes: &[u8]) -> Option<Result<Message, FrameError>> {
        Message::from_v2_vec(bytes.to_vec())
    }

    /// [`from_v2_bytes`](Self::from_v2_bytes) of a plaintext the caller
    /// gives up: DATA keeps its buffer.
    pub(crate) fn from_v2_vec(mut bytes: Vec<u8>) -> Option<Result<Message, FrameError>> {
        let code = *bytes.first()?;
        if !matches!(code, V2_OPEN..=V2_PREFIX) {
            return None;
        }
        bytes.remove(0);
        let text = |frame, body: Vec<u8>| {
            String::from_utf8(body).map_err(|_| invalid(frame, "text is not UTF-8"))
        };
        Some(match code {
            V2_OPEN => text("OPEN", bytes).map(|file_name| Message::Open { file_name }),
            V2_DATA => Ok(Message::Data(bytes)),
            V2_CLOSE => <[u8; 32]>::try_from(bytes.as_slice())
                .map(|d| Message::Close { sha256: Some(d) })
                .map_err(|_| invalid("CLOSE", "needs the 32-byte SHA-256 of the file")),
            V2_OK if bytes.is_empty() => Ok(Message::Ok),
            V2_OK => Err(invalid("OK", "carries no body")),
            V2_ERROR => text("ERROR", bytes).map(|message| Message::Error { message }),
            V2_RESUME => match split_token(&bytes) {
                Some((token, name)) => text("RESUME", name.to_vec())
                    .map(|file_name| Message::Resume { file_name, token }),
                None => Err(invalid("RESUME", "needs a 16-byte token")),
            },
            V2_ACCEPTED => {
                let fields = bytes.split_first_chunk::<8>().and_then(|(offset, rest)| {
                    split_token(rest)
                        .map(|(token, name)| (u64::from_be_bytes(*offset), token, name))
                });
                match fields {
                    Some((offset, token, name)) => {
                        text("ACCEPTED", name.to_vec()).map(|stored_name| Message::Accepted {
                            stored_name,
                            offset,
                            token,
                        })
                    }
                    None => Err(invalid(
                        "ACCEPTED",
                        "needs an 8-byte offset and a 16-byte token",
                    )),
                }
            }
            _ => <[u8; 32]>::try_from(bytes.as_slice())
                .map(|sha256| Message::Prefix { sha256 })
                .map_err(|_| invalid("PREFIX", "needs the 32-byte SHA-256 of the prefix")),
        })
    }

    /// Parses a v1 inner JSON message (`type` matched case-insensitively,
    /// unknown fields ignored, DATA's `data` strict base64).
    ///
    /// # Errors
    ///
    /// [`FrameError::NotUtf8`], [`FrameError::NotJson`],
    /// [`FrameError::NotObject`] or [`FrameError::MissingType`] for bytes
    /// that are not a JSON object with a string `type`;
    /// [`FrameError::UnknownType`] for a type that is not a v1 message;
    /// [`FrameError::InvalidFields`] for a missing or mistyped field, or a
    /// `data` that is not base64.
    pub fn from_v1_json(bytes: &[u8]) -> Result<Message, FrameError> {
        let (text, ty) = typed_json(bytes)?;
        Ok(match ty.as_str() {
            "OPEN" => {
                let open: OpenFields = fields(text, "OPEN")?;
                Message::Open {
                    file_name: open.file_name,
                }
            }
            "DATA" => {
                let data: DataFields = fields(text, "DATA")?;
                let bytes = base64::decode(data.data).ok_or_else(|| FrameError::InvalidFields {
                    frame: "DATA",
                    detail: String::from("field `data` is not base64"),
                })?;
                Message::Data(bytes)
            }
            "CLOSE" => Message::Close { sha256: None },
            "OK" => Message::Ok,
            "ERROR" => {
                let error: ErrorFields = fields(text, "ERROR")?;
                Message::Error {
                    message: error.message,
                }
            }
            _ => return Err(FrameError::UnknownType(ty)),
        })
    }
}

impl fmt::Debug for Message {
    /// Shows the type and sizes, not the contents of DATA.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Open { file_name } => write!(f, "Open({file_name:?})"),
            Message::Data(d) => write!(f, "Data({} bytes)", d.len()),
            Message::Close { .. } => f.write_str("Close"),
            Message::Ok => f.write_str("Ok"),
            Message::Error { message } => write!(f, "Error({message:?})"),
            Message::Resume { file_name, .. } => write!(f, "Resume({file_name:?})"),
            Message::Accepted {
                stored_name,
                offset,
                ..
            } => write!(f, "Accepted({stored_name:?} at {offset})"),
            Message::Prefix { .. } => f.write_str("Prefix"),
        }
    }
}

/// `{"type":"DATA","data":"` and `"}` around the base64 of a v1 DATA:
/// what serde writes for it, without serde.
const V1_DATA_START: &[u8] = br#"{"type":"DATA","data":""#;
const V1_DATA_END: &[u8] = br#""}"#;

/// The length of the v1 inner JSON of a DATA of `len` bytes.
pub(crate) const fn v1_data_json_len(len: usize) -> usize {
    V1_DATA_START.len() + base64::encoded_len(len) + V1_DATA_END.len()
}

/// Appends the v1 inner JSON of a DATA carrying `data`.
pub(crate) fn write_v1_data_json(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(V1_DATA_START);
    base64::encode_append(out, data);
    out.extend_from_slice(V1_DATA_END);
}

/// v2 type bytes of the application messages (the connection's own
/// records use 0x10 and up).
const V2_OPEN: u8 = 0x01;
pub(crate) const V2_DATA: u8 = 0x02;
const V2_CLOSE: u8 = 0x03;
const V2_OK: u8 = 0x04;
const V2_ERROR: u8 = 0x05;
const V2_RESUME: u8 = 0x06;
const V2_ACCEPTED: u8 = 0x07;
const V2_PREFIX: u8 = 0x08;

/// A token at the start of `body`, and the rest.
fn split_token(body: &[u8]) -> Option<(ResumeToken, &[u8])> {
    body.split_first_chunk::<RESUME_TOKEN_LEN>()
        .map(|(token, rest)| (ResumeToken(*token), rest))
}

fn invalid(frame: &'static str, detail: &str) -> FrameError {
    FrameError::InvalidFields {
        frame,
        detail: String::from(detail),
    }
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum V1Inner<'a> {
    #[serde(rename = "OPEN")]
    Open { file_name: &'a str },
    #[serde(rename = "DATA")]
    Data { data: String },
    #[serde(rename = "CLOSE")]
    Close,
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ERROR")]
    Error { message: &'a str },
    #[serde(rename = "RESUME")]
    Resume,
    #[serde(rename = "ACCEPTED")]
    Accepted,
    #[serde(rename = "PREFIX")]
    Prefix,
}

impl<'a> From<&'a Message> for V1Inner<'a> {
    fn from(m: &'a Message) -> Self {
        match m {
            Message::Open { file_name } => V1Inner::Open { file_name },
            Message::Data(d) => V1Inner::Data {
                data: base64::encode(d),
            },
            // v1's CLOSE carries no digest.
            Message::Close { .. } => V1Inner::Close,
            Message::Ok => V1Inner::Ok,
            Message::Error { message } => V1Inner::Error { message },
            // Not v1's: see `to_v1_json`.
            Message::Resume { .. } => V1Inner::Resume,
            Message::Accepted { .. } => V1Inner::Accepted,
            Message::Prefix { .. } => V1Inner::Prefix,
        }
    }
}

#[derive(Deserialize)]
struct OpenFields {
    file_name: String,
}

#[derive(Deserialize)]
struct DataFields {
    data: String,
}

#[derive(Deserialize)]
struct ErrorFields {
    message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn v1_json_round_trips() {
        for m in [
            Message::Open {
                file_name: "/tmp/r\u{e9}sum\u{e9}.pdf".into(),
            },
            Message::Data(vec![0, 1, 2, 255]),
            Message::Data(vec![]),
            Message::Close { sha256: None },
            Message::Ok,
            Message::Error {
                message: "no".into(),
            },
        ] {
            let json = m.to_v1_json();
            assert!(json.is_ascii());
            assert_eq!(Message::from_v1_json(&json).unwrap(), m);
        }
    }

    #[test]
    fn v2_bytes_round_trip_and_refuse_malformed_bodies() {
        for m in [
            Message::Open {
                file_name: "r\u{e9}sum\u{e9}.pdf".into(),
            },
            Message::Data(vec![0, 1, 2, 255]),
            Message::Data(vec![]),
            Message::Close {
                sha256: Some([9; 32]),
            },
            Message::Ok,
            Message::Error {
                message: "no".into(),
            },
            Message::Resume {
                file_name: "r\u{e9}sum\u{e9}.pdf".into(),
                token: ResumeToken([3; RESUME_TOKEN_LEN]),
            },
            Message::Resume {
                file_name: String::new(),
                token: ResumeToken([0; RESUME_TOKEN_LEN]),
            },
            Message::Accepted {
                stored_name: "r\u{e9}sum\u{e9}.pdf".into(),
                offset: u64::MAX - 1,
                token: ResumeToken([4; RESUME_TOKEN_LEN]),
            },
            Message::Prefix { sha256: [5; 32] },
        ] {
            let bytes = m.to_v2_bytes();
            assert_eq!(Message::from_v2_bytes(&bytes), Some(Ok(m)));
        }
        assert_eq!(Message::Data(vec![7, 8]).to_v2_bytes(), [2, 7, 8]);
        // The layouts of the resume messages (see the v2 manual).
        let token = ResumeToken(*b"0123456789abcdef");
        let resume = Message::Resume {
            file_name: "f".into(),
            token: token.clone(),
        };
        assert_eq!(resume.to_v2_bytes(), b"\x060123456789abcdeff");
        let accepted = Message::Accepted {
            stored_name: "f".into(),
            offset: 0x0102,
            token,
        };
        assert_eq!(
            accepted.to_v2_bytes(),
            b"\x07\0\0\0\0\0\0\x01\x020123456789abcdeff"
        );
        for bad in [
            &[6u8; RESUME_TOKEN_LEN][..],
            &[7; 8 + RESUME_TOKEN_LEN],
            &[7, 0, 0, 0, 0, 0, 0, 0, 1],
            &[8; 32],
            &[8; 34],
        ] {
            assert!(
                matches!(
                    Message::from_v2_bytes(bad),
                    Some(Err(FrameError::InvalidFields { .. }))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(Message::from_v2_bytes(&[]), None);
        assert_eq!(Message::from_v2_bytes(&[0x10, 1]), None);
        for bad in [&[3u8, 1, 2][..], &[3], &[4, 0], &[1, 0xff], &[5, 0xc3]] {
            assert!(
                matches!(
                    Message::from_v2_bytes(bad),
                    Some(Err(FrameError::InvalidFields { .. }))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_resume_token_is_never_shown() {
        let token = ResumeToken([0xAB; RESUME_TOKEN_LEN]);
        let resume = Message::Resume {
            file_name: "f".into(),
            token: token.clone(),
        };
        let shown = alloc::format!("{token:?} {resume:?}");
        assert!(
            !shown.contains("171") && !shown.to_lowercase().contains("ab"),
            "{shown}"
        );
        assert_ne!(token, ResumeToken([0xAB - 1; RESUME_TOKEN_LEN]));
        assert_eq!(token, ResumeToken([0xAB; RESUME_TOKEN_LEN]));
    }

    #[test]
    fn v1_json_matches_existing_peers() {
        // As Python's json.dumps writes them (whitespace differs, values not).
        let m = Message::from_v1_json(br#"{"type": "data", "data": "AAEC"}"#).unwrap();
        assert_eq!(m, Message::Data(vec![0, 1, 2]));
        assert_eq!(
            Message::Data(vec![0, 1, 2]).to_v1_json(),
            br#"{"type":"DATA","data":"AAEC"}"#
        );
        assert_eq!(
            Message::Close {
                sha256: Some([7; 32])
            }
            .to_v1_json(),
            br#"{"type":"CLOSE"}"#
        );
    }

    #[test]
    fn malformed_messages_are_typed() {
        assert!(matches!(
            Message::from_v1_json(br#"{"type": "DATA", "data": "!!"}"#),
            Err(FrameError::InvalidFields { frame: "DATA", .. })
        ));
        assert!(matches!(
            Message::from_v1_json(br#"{"type": "OPEN"}"#),
            Err(FrameError::InvalidFields { frame: "OPEN", .. })
        ));
        assert!(matches!(
            Message::from_v1_json(br#"{"type": "OPEN", "file_name": 3}"#),
            Err(FrameError::InvalidFields { frame: "OPEN", .. })
        ));
        assert_eq!(
            Message::from_v1_json(br#"{"type": "SEEK"}"#),
            Err(FrameError::UnknownType("SEEK".into()))
        );
        assert_eq!(Message::from_v1_json(b"[]"), Err(FrameError::NotObject));
    }

    /// The v1 DATA JSON written without serde is what serde writes.
    #[test]
    fn v1_data_json_is_what_serde_writes() {
        for len in (0..70).chain([4095, 65_536]) {
            let data: Vec<u8> = (0..=u8::MAX)
                .cycle()
                .take(len)
                .map(|i| i.wrapping_mul(7))
                .collect();
            let message = Message::Data(data);
            let serde = to_ascii_json(&V1Inner::from(&message));
            assert_eq!(message.to_v1_json(), serde, "{len}");
            assert_eq!(serde.len(), v1_data_json_len(len));
        }
    }
}
