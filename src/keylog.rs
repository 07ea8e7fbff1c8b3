//! The key log: every secret that opens a session's records, handed to a
//! callback, for debugging with a capture (in the manner of TLS's
//! `SSLKEYLOGFILE`).
//!
//! # Warning
//!
//! **A key log defeats the protection of every session it logs.** Each
//! line holds the keys of one direction of one key epoch: anyone who holds
//! the log and a capture of the traffic reads it, and, for the epoch's
//! lifetime, could forge its records. It is off by default
//! ([`Config::key_log`](crate::config::Config::key_log) is `None` in both
//! presets); turn it on only to debug, only on a machine you trust, store
//! the log like a private key (the example programs create it with mode
//! 0600) and delete it afterwards. Never ship a build or a configuration
//! that turns it on silently.
//!
//! The library builds each line in a buffer that it zeroizes once the
//! callback returns; what the callback does with the line is its own
//! business.
//!
//! # Lines
//!
//! Each side writes its lines when it derives keys: at the first handshake
//! and at every rotation, in v1 and v2, as client and as server. One call
//! of the callback is one line, without a line break, of six or seven
//! fields separated by one space (ABNF, RFC 5234; `HEXDIG` lowercase):
//!
//! ```text
//! line       = label SP conn-id SP epoch SP direction SP key SP mac-key SP static-iv
//! label      = "SECUREX_V1" / "SECUREX_V2"
//! conn-id    = 64HEXDIG                  ; see below
//! epoch      = 1*10DIGIT                 ; u32, decimal: 0 for the first handshake,
//!                                        ; n + 1 after the n-th rotation
//! direction  = "c2s" / "s2c"             ; client to server / server to client
//! key        = 1*HEXDIG                  ; the cipher key: 16 bytes (AES-128), 24 (3DES)
//! mac-key    = 1*HEXDIG / "-"            ; the MAC key, "-" where the suite has none
//! static-iv  = 1*HEXDIG / "-"            ; the static IV, "-" where the suite has none
//! ```
//!
//! * **v2** (`SECUREX_V2`) writes two lines per epoch, `c2s` then `s2c`.
//!   `conn-id` is the client's nonce: the 32 bytes of the `nonce` field of
//!   its `ALGORITHMS` (base64-decoded), in hex. The keys are the epoch's
//!   `enc_key`, `mac_key` and `static_iv` of that direction (see
//!   [`crate::schedule::v2`]): GCM suites have a 12-byte static IV and no
//!   MAC key (`-`); CBC and ECB suites have a MAC key of the hash's length
//!   (32 or 64 bytes) and no static IV (`-`).
//! * **v1** (`SECUREX_V1`) writes one line per epoch, `c2s`: v1 protects
//!   only what the client sends (the server's frames are plaintext).
//!   `conn-id` is the SHA-256, in hex, of the client's **first** public
//!   key as it appears on the wire: the bytes of the `public_key` field of
//!   the connection's first `ALGORITHMS`, base64-decoded (the PEM text of
//!   the key's `SubjectPublicKeyInfo`, `-----BEGIN PUBLIC KEY-----` to the
//!   line break after `-----END PUBLIC KEY-----`, exactly as the client
//!   wrote it). It stays the same across rotations, whose `ALGORITHMS`
//!   carry new keys. `key` is the cipher key `K` and `mac-key` the MAC key
//!   `derived` (32 bytes) of [`crate::schedule`]; `static-iv` is always
//!   `-` (v1 sends each record's IV in the record).
//!
//! A v2 client that falls back to a v1 server writes v1 lines: the version
//! spoken decides, and both sides agree on it. A reader should ignore
//! lines whose label it does not know and lines that start with `#`, so
//! that later versions can add labels and tools can add comments.
//!
//! ```text
//! SECUREX_V2 9f2c…(64) 0 c2s 5be3…(32) - 1a0c…(24)
//! SECUREX_V2 9f2c…(64) 0 s2c 77d0…(32) - c3e9…(24)
//! SECUREX_V1 e41b…(64) 3 c2s 0f5a…(32) 8c1d…(64) -
//! ```
//!
//! The `inspect` example (`examples/inspect.rs`) reads such a log with a
//! capture of the connection and prints every frame decrypted.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use securex::Config;
//! use securex::keylog::KeyLog;
//!
//! let lines = Arc::new(Mutex::new(Vec::<String>::new()));
//! let sink = Arc::clone(&lines);
//! let mut config = Config::default();
//! // DEBUGGING ONLY: whoever reads `lines` reads the traffic.
//! config.key_log = Some(KeyLog::new(move |line| {
//!     sink.lock().unwrap().push(line.to_owned());
//! }));
//! ```

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

use sha2::{Digest, Sha256};
#[cfg(feature = "std")]
use zeroize::Zeroizing;

#[cfg(feature = "std")]
use crate::schedule::V1Secrets;
#[cfg(feature = "std")]
use crate::schedule::v2::{DirectionSecrets, EpochSecrets};

/// The label of v1 lines.
pub const V1_LABEL: &str = "SECUREX_V1";

/// The label of v2 lines.
pub const V2_LABEL: &str = "SECUREX_V2";

/// The direction field of client-to-server lines.
pub const C2S: &str = "c2s";

/// The direction field of server-to-client lines.
pub const S2C: &str = "s2c";

/// What a line has in place of a key the suite does not use.
pub const NONE: &str = "-";

/// Room for the longest line (v2 with 3DES and SHA-512: 10, 64, 10, 3,
/// 48, 128 and 1 bytes of fields and 6 spaces), so that building it
/// never reallocates and leaves no copy of a secret behind.
#[cfg(feature = "std")]
const LINE_CAPACITY: usize = 320;

/// A key log: a callback that receives one line (without a line break)
/// for each direction of each key epoch, holding every secret needed to
/// open its records. See the [module docs](self) for the line grammar and,
/// first, the warning.
///
/// Cheap to clone (the callback is shared). `Debug` shows no line, and two
/// key logs are equal only if they share the same callback.
#[derive(Clone)]
pub struct KeyLog(Arc<dyn Fn(&str) + Send + Sync>);

impl KeyLog {
    /// A key log that hands each line to `write`. **Whoever sees the lines
    /// reads the traffic**: see the [module docs](self).
    pub fn new(write: impl Fn(&str) + Send + Sync + 'static) -> KeyLog {
        KeyLog(Arc::new(write))
    }

    #[cfg(feature = "std")]
    fn write(&self, line: &str) {
        (self.0)(line);
    }
}

impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyLog(..)")
    }
}

impl PartialEq for KeyLog {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for KeyLog {}

/// The `conn-id` of v2 lines: the client's nonce (the decoded `nonce` of
/// its `ALGORITHMS`), in lowercase hex.
#[must_use]
pub fn v2_connection_id(client_nonce: &[u8]) -> String {
    base16ct::lower::encode_string(client_nonce)
}

/// The `conn-id` of v1 lines: the lowercase hex of the SHA-256 of the
/// decoded `public_key` field of the connection's first `ALGORITHMS`
/// (the PEM of the client's first public key, as the client wrote it).
#[must_use]
pub fn v1_connection_id(first_public_key_pem: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(first_public_key_pem))
}

/// A connection's key log and its ids, fixed by the first `ALGORITHMS`
/// (the connection, and so the logger, needs `std`).
#[cfg(feature = "std")]
#[derive(Clone)]
pub(crate) struct Logger {
    log: KeyLog,
    v1_id: String,
    v2_id: Option<String>,
}

#[cfg(feature = "std")]
impl Logger {
    /// The logger of a connection whose first `ALGORITHMS` carried
    /// `public_key_pem` (decoded) and, in v2, `nonce` (decoded); `None`
    /// without a key log.
    pub(crate) fn new(
        log: Option<&KeyLog>,
        public_key_pem: &[u8],
        nonce: Option<&[u8]>,
    ) -> Option<Logger> {
        log.map(|log| Logger {
            log: log.clone(),
            v1_id: v1_connection_id(public_key_pem),
            v2_id: nonce.map(v2_connection_id),
        })
    }

    /// The line of a v1 epoch (client to server only).
    pub(crate) fn v1(&self, epoch: u32, secrets: &V1Secrets) {
        self.line(
            V1_LABEL,
            &self.v1_id,
            epoch,
            C2S,
            [
                secrets.dangerously_expose_key(),
                secrets.dangerously_expose_derived(),
                &[],
            ],
        );
    }

    /// The two lines of a v2 epoch, `c2s` then `s2c`.
    pub(crate) fn v2(&self, epoch: u32, secrets: &EpochSecrets) {
        fn keys(d: &DirectionSecrets) -> [&[u8]; 3] {
            [&d.enc_key, &d.mac_key, &d.static_iv]
        }
        // A v2 connection always has the client's nonce; without it the
        // handshake failed before any key was derived.
        let Some(id) = &self.v2_id else { return };
        self.line(V2_LABEL, id, epoch, C2S, keys(secrets.c2s()));
        self.line(V2_LABEL, id, epoch, S2C, keys(secrets.s2c()));
    }

    /// Writes one line: `label id epoch direction` and the three keys in
    /// hex (`-` for an empty one), built in a zeroized buffer.
    fn line(&self, label: &str, id: &str, epoch: u32, direction: &str, keys: [&[u8]; 3]) {
        use core::fmt::Write;
        let mut line = Zeroizing::new(String::with_capacity(LINE_CAPACITY));
        // Writing to a String cannot fail.
        let _ = write!(line, "{label} {id} {epoch} {direction}");
        for key in keys {
            line.push(' ');
            if key.is_empty() {
                line.push_str(NONE);
            } else {
                line.push_str(&Zeroizing::new(base16ct::lower::encode_string(key)));
            }
        }
        self.log.write(&line);
    }
}

// The tests collect lines behind a `std` mutex.
#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::suite::{Cipher, CipherSuite};
    use alloc::format;
    use alloc::vec::Vec;
    use std::sync::Mutex;

    fn collecting() -> (KeyLog, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let log = KeyLog::new(move |l| sink.lock().unwrap().push(l.into()));
        (log, lines)
    }

    #[test]
    fn debug_shows_nothing_and_equality_is_identity() {
        let (log, _) = collecting();
        assert_eq!(format!("{log:?}"), "KeyLog(..)");
        assert_eq!(log, log.clone());
        assert_ne!(log, collecting().0);
    }

    #[test]
    fn v1_line_layout() {
        let (log, lines) = collecting();
        let logger = Logger::new(Some(&log), b"pem", Some(&[7; 32])).unwrap();
        let secrets =
            V1Secrets::dangerously_from_raw(Cipher::Aes128, &[0xab; 32], &[0x01; 16]).unwrap();
        logger.v1(4, &secrets);
        let lines = lines.lock().unwrap();
        let expected = format!(
            "SECUREX_V1 {} 4 c2s {} {} -",
            base16ct::lower::encode_string(&Sha256::digest(b"pem")),
            "01".repeat(16),
            "ab".repeat(32)
        );
        assert_eq!(*lines, [expected]);
    }

    #[test]
    fn v2_lines_layout_and_dashes() {
        let (log, lines) = collecting();
        let logger = Logger::new(Some(&log), b"pem", Some(&[0x5a; 32])).unwrap();
        let gcm: CipherSuite = "DH;AES-128;GCM;SHA-256".parse().unwrap();
        let cbc: CipherSuite = "DH;3DES;CBC;SHA-512".parse().unwrap();
        logger.v2(0, &EpochSecrets::handshake(gcm, None, b"z", None, b"th"));
        logger.v2(9, &EpochSecrets::handshake(cbc, None, b"z", None, b"th"));
        let lines = lines.lock().unwrap();
        let fields: Vec<Vec<&str>> = lines.iter().map(|l| l.split(' ').collect()).collect();
        let id = "5a".repeat(32);
        for (f, (epoch, dir)) in fields.iter().zip([(0, C2S), (0, S2C), (9, C2S), (9, S2C)]) {
            assert_eq!(f.len(), 7, "{f:?}");
            assert_eq!(f[..4], [V2_LABEL, &id, &format!("{epoch}"), dir]);
        }
        // GCM: a key and a static IV, no MAC key.
        assert_eq!(
            (fields[0][4].len(), fields[0][5], fields[0][6].len()),
            (32, "-", 24)
        );
        // 3DES-CBC-SHA-512: a key and a MAC key, no static IV.
        assert_eq!(
            (fields[2][4].len(), fields[2][5].len(), fields[2][6]),
            (48, 128, "-")
        );
        assert_ne!(fields[0][4], fields[1][4]);
        assert!(lines.iter().all(|l| l.len() <= LINE_CAPACITY));
    }
}
