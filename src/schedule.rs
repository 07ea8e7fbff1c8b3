//! Key schedules.
//!
//! # v1
//!
//! From the DH shared secret Z (left-padded to the length of p):
//!
//! * `derived` = HKDF-SHA256(salt = none, i.e. 32 zero bytes, IKM = Z,
//!   info = `handshake data`, L = 32);
//! * cipher key `K` = PBKDF2-HMAC-SHA256(password = `derived`, salt =
//!   `10`, 100000 iterations, 16 bytes for AES-128, 24 for 3DES).
//!
//! Existing peers recompute `K` for every message; [`V1Secrets`] computes
//! it once per key epoch. The v1 MAC is keyed with `derived`, so both are
//! kept for the epoch, and both are zeroized when it ends.

use core::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::suite::Cipher;

/// The HKDF `info` of the v1 schedule.
const V1_INFO: &[u8] = b"handshake data";
/// The PBKDF2 salt of the v1 schedule: the two ASCII bytes `10`.
const V1_PBKDF2_SALT: &[u8] = b"10";
/// The PBKDF2 iteration count of the v1 schedule.
pub const V1_PBKDF2_ROUNDS: u32 = 100_000;
/// The longest cipher key (3DES).
const MAX_KEY_LEN: usize = 24;

/// The secrets of one v1 key epoch: `derived` (the MAC key) and the cipher
/// key. Zeroized on drop, never shown by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct V1Secrets {
    derived: [u8; 32],
    key: [u8; MAX_KEY_LEN],
    #[zeroize(skip)]
    cipher: Cipher,
}

impl V1Secrets {
    /// Runs the v1 schedule on the shared secret `z` for `cipher`: one
    /// HKDF and one PBKDF2 of 100000 iterations.
    pub fn derive(z: &[u8], cipher: Cipher) -> V1Secrets {
        // Filled in place, so that no copy of a secret is left behind.
        let mut secrets = V1Secrets {
            derived: [0; 32],
            key: [0; MAX_KEY_LEN],
            cipher,
        };
        Hkdf::<Sha256>::new(None, z)
            .expand(V1_INFO, &mut secrets.derived)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        pbkdf2::pbkdf2_hmac::<Sha256>(
            &secrets.derived,
            V1_PBKDF2_SALT,
            V1_PBKDF2_ROUNDS,
            &mut secrets.key[..cipher.key_len()],
        );
        secrets
    }

    /// The cipher the key is for.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// `derived`, the v1 MAC key. Exposed for known-answer tests and
    /// interoperability debugging only: anyone holding it can forge v1
    /// MACs.
    pub fn dangerously_expose_derived(&self) -> &[u8; 32] {
        &self.derived
    }

    /// The cipher key. Exposed for known-answer tests only: anyone holding
    /// it can read the epoch's traffic.
    pub fn dangerously_expose_key(&self) -> &[u8] {
        &self.key[..self.cipher.key_len()]
    }
}

impl fmt::Debug for V1Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V1Secrets")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}
