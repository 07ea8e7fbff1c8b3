//! The serde types of the frames.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::FrameError;

/// A client's offer: `{"type": "ALGORITHMS", ...}`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Algorithms {
    /// Cipher names, most preferred first.
    pub ciphers: Vec<String>,
    /// Mode names, most preferred first.
    pub modes: Vec<String>,
    /// Hash names, most preferred first (the field is named `hash`).
    pub hash: Vec<String>,
    /// Base64 of the PEM of the client's DH group.
    pub params: String,
    /// Base64 of the PEM `SubjectPublicKeyInfo` of the client's public key.
    pub public_key: String,
    /// v2: the protocol version, `2`. Absent in v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// v2: base64 of the client's 32 random bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// v2: the groups the client accepts, most preferred first; `params`
    /// and `public_key` are in the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// v2: the identifier of the pre-shared key the client holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psk_id: Option<String>,
    /// v2: base64 of the SHA-256 of the server static public value the
    /// client pins (big-endian, padded to the length of p).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<String>,
    /// v2: the extensions of the application protocol the client speaks
    /// (see [`crate::config::Extension`]); absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Vec<String>>,
}

impl Algorithms {
    /// A v1 `ALGORITHMS` (no v2 fields).
    #[must_use]
    pub fn v1(
        ciphers: Vec<String>,
        modes: Vec<String>,
        hash: Vec<String>,
        params: String,
        public_key: String,
    ) -> Algorithms {
        Algorithms {
            ciphers,
            modes,
            hash,
            params,
            public_key,
            version: None,
            nonce: None,
            groups: None,
            psk_id: None,
            server_key: None,
            extensions: None,
        }
    }
}

/// A server's answer: `{"type": "EXCHANGE", "value": ..., "ciphersuite": ...}`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// Base64 of the PEM `SubjectPublicKeyInfo` of the server's public key.
    pub value: String,
    /// The chosen suite, `DH;<cipher>;<mode>;<hash>`.
    pub ciphersuite: String,
    /// v2: the protocol version, `2`. Absent in v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// v2: base64 of the server's 32 random bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// v2: the group of the key exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// v2: the extensions of the client's list the server speaks too, in
    /// the client's order; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Vec<String>>,
}

impl Exchange {
    /// A v1 `EXCHANGE` (no v2 fields).
    #[must_use]
    pub fn v1(value: String, ciphersuite: String) -> Exchange {
        Exchange {
            value,
            ciphersuite,
            version: None,
            nonce: None,
            group: None,
            extensions: None,
        }
    }
}

/// A v2 protected record: `{"type": "SECURE_X", "epoch", "seq",
/// "payload", "iv", "hash"}`; `iv` only for CBC, `hash` (the HMAC, lowercase
/// hex) only for CBC and ECB.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The key epoch.
    pub epoch: u32,
    /// The record's number in its direction and epoch, from 0.
    pub seq: u64,
    /// Base64 of the ciphertext (GCM: with its tag).
    pub payload: String,
    /// Base64 of the CBC IV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
    /// Lowercase hex of the HMAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

impl Record {
    /// A record of these fields, as they go on the wire (see
    /// `From<&V2Record>` for one made from a sealed record).
    #[must_use]
    pub fn new(
        epoch: u32,
        seq: u64,
        payload: String,
        iv: Option<String>,
        hash: Option<String>,
    ) -> Record {
        Record {
            epoch,
            seq,
            payload,
            iv,
            hash,
        }
    }
}

/// A protected record: `{"type": "SECURE_X", "payload", "iv", "hash"}`.
///
/// v1's exact record, which existing peers fix for good: unlike the other
/// wire structs it is not `#[non_exhaustive]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecureX {
    /// Base64 of the ciphertext.
    pub payload: String,
    /// Base64 of the IV.
    pub iv: String,
    /// Lowercase hex of the v1 MAC.
    pub hash: String,
}

/// A refusal: `{"type": "ERROR", "message": ...}`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// Why.
    pub message: String,
}

impl ErrorFrame {
    /// A refusal saying `message`.
    pub fn new(message: impl Into<String>) -> ErrorFrame {
        ErrorFrame {
            message: message.into(),
        }
    }
}

/// Any frame.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum Frame {
    /// `ALGORITHMS`.
    #[serde(rename = "ALGORITHMS")]
    Algorithms(Algorithms),
    /// `EXCHANGE`.
    #[serde(rename = "EXCHANGE")]
    Exchange(Exchange),
    /// `SECURE_X` of v1.
    #[serde(rename = "SECURE_X")]
    SecureX(SecureX),
    /// `SECURE_X` of v2 (it has an `epoch`).
    #[serde(rename = "SECURE_X")]
    Record(Record),
    /// `OK`.
    #[serde(rename = "OK")]
    Ok,
    /// `ERROR`.
    #[serde(rename = "ERROR")]
    Error(ErrorFrame),
}

/// Just the `epoch` of a `SECURE_X`: present in v2 only.
#[derive(Deserialize)]
struct EpochOnly {
    #[serde(default)]
    epoch: Option<serde::de::IgnoredAny>,
}

/// Just the `type` of a frame, borrowed where possible.
#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
}

impl Frame {
    /// The wire name of the frame's type.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Frame::Algorithms(_) => "ALGORITHMS",
            Frame::Exchange(_) => "EXCHANGE",
            Frame::SecureX(_) | Frame::Record(_) => "SECURE_X",
            Frame::Ok => "OK",
            Frame::Error(_) => "ERROR",
        }
    }

    /// Parses one frame (its bytes without the `\r\n`; surrounding
    /// whitespace is trimmed).
    ///
    /// # Errors
    ///
    /// [`FrameError::NotUtf8`], [`FrameError::NotJson`],
    /// [`FrameError::NotObject`] or [`FrameError::MissingType`] for bytes
    /// that are not a JSON object with a string `type`;
    /// [`FrameError::UnknownType`] for a type that is not a frame;
    /// [`FrameError::InvalidFields`] for a missing or mistyped field.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        let (text, ty) = typed_json(bytes)?;
        match ty.as_str() {
            "ALGORITHMS" => fields(text, "ALGORITHMS").map(Frame::Algorithms),
            "EXCHANGE" => fields(text, "EXCHANGE").map(Frame::Exchange),
            "SECURE_X" => match fields::<EpochOnly>(text, "SECURE_X")?.epoch {
                Some(_) => fields(text, "SECURE_X").map(Frame::Record),
                None => fields(text, "SECURE_X").map(Frame::SecureX),
            },
            "OK" => Ok(Frame::Ok),
            "ERROR" => fields(text, "ERROR").map(Frame::Error),
            _ => Err(FrameError::UnknownType(ty)),
        }
    }

    /// Writes the frame as compact, ASCII-only JSON, without `\r\n`.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        to_ascii_json(self)
    }
}

/// Checks that `bytes` are a UTF-8 JSON object with a string `type`, and
/// returns the trimmed text and the type in upper case (existing peers
/// dispatch on it case-insensitively).
pub(crate) fn typed_json(bytes: &[u8]) -> Result<(&str, String), FrameError> {
    let text = core::str::from_utf8(bytes).map_err(|_| FrameError::NotUtf8)?;
    let text = text.trim();
    // serde reads a struct from a JSON array too: insist on an object.
    let parsed = if text.starts_with('{') {
        serde_json::from_str::<TypeOnly<'_>>(text).ok()
    } else {
        None
    };
    match parsed {
        Some(TypeOnly { ty }) => Ok((text, ty.to_ascii_uppercase())),
        None => Err(classify_failure(text)),
    }
}

/// Parses the fields of a frame or message of type `name`.
pub(crate) fn fields<T: DeserializeOwned>(text: &str, name: &'static str) -> Result<T, FrameError> {
    serde_json::from_str(text).map_err(|e| FrameError::InvalidFields {
        frame: name,
        detail: e.to_string(),
    })
}

/// Says why a text is not a JSON object with a string `type`.
fn classify_failure(text: &str) -> FrameError {
    match serde_json::from_str::<serde_json::Value>(text) {
        Err(_) => FrameError::NotJson,
        Ok(serde_json::Value::Object(_)) => FrameError::MissingType,
        Ok(_) => FrameError::NotObject,
    }
}

/// Serializes `value` as compact JSON with every non-ASCII character
/// escaped as `\uXXXX` (UTF-16, as Python's `json.dumps` does).
// Cannot fail: the frame types are plain structs of strings, numbers and
// arrays, with no maps of non-string keys and no custom serializers.
#[allow(clippy::expect_used)]
pub(crate) fn to_ascii_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let json = serde_json::to_string(value).expect("frames serialize to JSON");
    if json.is_ascii() {
        return json.into_bytes();
    }
    // serde_json emits non-ASCII characters only inside strings, raw, so
    // escaping each of them keeps the JSON valid and equal in value.
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_is_case_insensitive_and_unknown_fields_are_ignored() {
        let f = Frame::decode(br#" {"type": "ok", "extra": [1, 2]} "#).unwrap();
        assert_eq!(f, Frame::Ok);
        let f = Frame::decode(br#"{"message": "x", "Type": 1, "type": "Error"}"#).unwrap();
        assert_eq!(
            f,
            Frame::Error(ErrorFrame {
                message: "x".into()
            })
        );
    }

    #[test]
    fn malformed_frames_are_typed() {
        assert_eq!(Frame::decode(b"\xff{}"), Err(FrameError::NotUtf8));
        assert_eq!(Frame::decode(b"{\"type\": "), Err(FrameError::NotJson));
        assert_eq!(Frame::decode(b"[\"type\"]"), Err(FrameError::NotObject));
        assert_eq!(Frame::decode(b"\"OK\""), Err(FrameError::NotObject));
        assert_eq!(
            Frame::decode(b"{\"kind\": \"OK\"}"),
            Err(FrameError::MissingType)
        );
        assert_eq!(
            Frame::decode(b"{\"type\": 7}"),
            Err(FrameError::MissingType)
        );
        assert_eq!(
            Frame::decode(b"{\"type\": \"HELLO\"}"),
            Err(FrameError::UnknownType("HELLO".into()))
        );
        assert!(matches!(
            Frame::decode(br#"{"type": "SECURE_X", "payload": "", "iv": ""}"#),
            Err(FrameError::InvalidFields {
                frame: "SECURE_X",
                ..
            })
        ));
    }

    #[test]
    fn v2_records_are_told_apart_by_their_epoch() {
        let v2 = br#"{"type":"SECURE_X","epoch":3,"seq":7,"payload":"AAAA"}"#;
        assert_eq!(
            Frame::decode(v2).unwrap(),
            Frame::Record(Record {
                epoch: 3,
                seq: 7,
                payload: "AAAA".into(),
                iv: None,
                hash: None
            })
        );
        assert_eq!(
            Frame::decode(&Frame::decode(v2).unwrap().encode()).unwrap(),
            Frame::decode(v2).unwrap()
        );
        let v1 = br#"{"type":"SECURE_X","payload":"AAAA","iv":"","hash":""}"#;
        assert!(matches!(Frame::decode(v1), Ok(Frame::SecureX(_))));
        let negative = br#"{"type":"SECURE_X","epoch":-1,"seq":0,"payload":""}"#;
        assert!(matches!(
            Frame::decode(negative),
            Err(FrameError::InvalidFields {
                frame: "SECURE_X",
                ..
            })
        ));
    }

    #[test]
    fn encoding_is_ascii_and_round_trips() {
        let f = Frame::Error(ErrorFrame {
            message: "caf\u{e9} \u{1f512}".into(),
        });
        let bytes = f.encode();
        assert!(bytes.is_ascii());
        assert_eq!(
            core::str::from_utf8(&bytes).unwrap(),
            r#"{"type":"ERROR","message":"caf\u00e9 \ud83d\udd12"}"#
        );
        assert_eq!(Frame::decode(&bytes).unwrap(), f);
    }
}
