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
//!
//! Fuzz builds (`cfg(fuzzing)`, set by `cargo fuzz` only) run PBKDF2 with
//! one iteration: see [`V1Secrets::derive`]. Normal builds never do.

use core::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::RecordError;
use crate::suite::Cipher;

/// The HKDF `info` of the v1 schedule.
const V1_INFO: &[u8] = b"handshake data";
/// The PBKDF2 salt of the v1 schedule: the two ASCII bytes `10`.
const V1_PBKDF2_SALT: &[u8] = b"10";
/// The PBKDF2 iteration count of the v1 schedule.
pub const V1_PBKDF2_ROUNDS: u32 = 100_000;
/// The iteration count [`V1Secrets::derive`] runs: [`V1_PBKDF2_ROUNDS`]
/// in every normal build.
#[cfg(not(fuzzing))]
const PBKDF2_ROUNDS_RUN: u32 = V1_PBKDF2_ROUNDS;
/// Fuzz builds only (`cfg(fuzzing)`): one iteration, so that the fuzzer
/// gets past v1 handshakes. Keys then differ from every real peer's.
#[cfg(fuzzing)]
const PBKDF2_ROUNDS_RUN: u32 = 1;
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
    ///
    /// **Fuzz builds only**: when compiled with `cfg(fuzzing)` (which
    /// `cargo fuzz` sets, and nothing else does), PBKDF2 runs **one**
    /// iteration instead, so that a fuzzer gets past v1 handshakes (100000
    /// iterations cost about 0.1 s each under a sanitizer). The keys of
    /// such a build match no real peer's and the v1 known-answer vectors
    /// fail in it; it must never be used for anything but fuzzing.
    /// Normal builds, with or without `std`, always run
    /// [`V1_PBKDF2_ROUNDS`]. See `fuzz/README.md`.
    // Cannot fail: 32 bytes is a valid HKDF-SHA256 output length (at most
    // 255 × 32), so the expect never fires and there is no `# Panics`.
    #[allow(clippy::expect_used, clippy::missing_panics_doc)]
    #[must_use]
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
            PBKDF2_ROUNDS_RUN,
            &mut secrets.key[..cipher.key_len()],
        );
        secrets
    }

    /// The secrets of an epoch from their raw bytes (`derived`, then the
    /// cipher key), as a key log gives them
    /// ([`crate::keylog`]: `mac-key` and `key` of a `SECUREX_V1` line).
    ///
    /// **Dangerous**, and named so: raw keys are meant to stay inside the
    /// library, derived by [`derive`](Self::derive) and never seen. This
    /// exists for tools that open recorded traffic with a key log (the
    /// `inspect` example) and for known-answer tests; a live connection
    /// never needs it, and whoever holds these bytes reads, and can forge,
    /// the epoch's records.
    ///
    /// # Errors
    ///
    /// [`RecordError::InvalidKeyLength`] unless `derived` is 32 bytes and
    /// `key` the cipher's key length (16 for AES-128, 24 for 3DES).
    pub fn dangerously_from_raw(
        cipher: Cipher,
        derived: &[u8],
        key: &[u8],
    ) -> Result<V1Secrets, RecordError> {
        let check = |name: &'static str, bytes: &[u8], expected: usize| {
            if bytes.len() == expected {
                Ok(())
            } else {
                Err(RecordError::InvalidKeyLength {
                    key: name,
                    expected,
                    actual: bytes.len(),
                })
            }
        };
        check("mac_key", derived, 32)?;
        check("enc_key", key, cipher.key_len())?;
        let mut secrets = V1Secrets {
            derived: [0; 32],
            key: [0; MAX_KEY_LEN],
            cipher,
        };
        secrets.derived.copy_from_slice(derived);
        secrets.key[..key.len()].copy_from_slice(key);
        Ok(secrets)
    }

    /// The cipher the key is for.
    #[must_use]
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// `derived`, the v1 MAC key. Exposed for known-answer tests and
    /// interoperability debugging only: anyone holding it can forge v1
    /// MACs.
    #[must_use]
    pub fn dangerously_expose_derived(&self) -> &[u8; 32] {
        &self.derived
    }

    /// The cipher key. Exposed for known-answer tests only: anyone holding
    /// it can read the epoch's traffic.
    #[must_use]
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

// ---------------------------------------------------------------------
// v2
// ---------------------------------------------------------------------

/// The v2 key schedule.
///
/// With H the suite's hash (SHA-256 or SHA-512):
///
/// * `PRK` = HKDF-Extract(salt = the PSK if one is configured, else no
///   salt (zeros), IKM = `Z_ee` ‖ `Z_es`), `Z_es` only when the client pins a
///   server static key;
/// * each key = HKDF-Expand(PRK, `"securex v2 " ‖ label ‖ TH`, length),
///   where `TH` = H(`ALGORITHMS` frame ‖ `EXCHANGE` frame), both exactly as
///   sent, and the labels are `c2s key`, `s2c key` (the cipher's key
///   length), `c2s mac`, `s2c mac` (H's length; CBC and ECB suites only),
///   `c2s iv`, `s2c iv` (12 bytes; GCM only), `c finished`, `s finished`
///   and `next` (H's length each);
/// * a rotation to epoch n + 1: `PRK` = HKDF-Extract(salt = `next` of
///   epoch n, IKM = the new Z), the same labels, and in place of `TH` the
///   hash H(`TH` ‖ epoch n + 1 as u32 big-endian ‖ initiator's public
///   value ‖ responder's public value).
///
/// No PBKDF2: the input is already high-entropy.
pub mod v2 {
    use alloc::vec;
    use alloc::vec::Vec;
    use core::fmt;

    use hkdf::Hkdf;

    use sha2::{Sha256, Sha512};
    use zeroize::Zeroizing;

    use crate::suite::{CipherSuite, Hash, Mode};

    /// The label prefix of every v2 key.
    const PREFIX: &[u8] = b"securex v2 ";

    /// Length of the GCM static IVs.
    pub const GCM_IV_LEN: usize = 12;

    /// The key material of one direction of one epoch. Zeroized on drop;
    /// the raw bytes are reached only through the `dangerously_expose_*`
    /// accessors (for a key log or a test vector). To seal or open with
    /// them, hand them to
    /// [`V2DirectionKeys::from_secrets`](crate::record::v2::V2DirectionKeys::from_secrets).
    ///
    /// ```
    /// use securex::schedule::v2::EpochSecrets;
    /// use securex::suite::CipherSuite;
    ///
    /// let suite = CipherSuite::ALL[0];
    /// let secrets = EpochSecrets::handshake(suite, None, b"z", None, b"th");
    /// let key = secrets.c2s().dangerously_expose_enc_key();
    /// assert_eq!(key.len(), suite.cipher().key_len());
    /// assert_eq!(format!("{:?}", secrets.c2s()), "DirectionSecrets { .. }");
    /// ```
    ///
    /// The fields are not public:
    ///
    /// ```compile_fail
    /// use securex::schedule::v2::EpochSecrets;
    /// use securex::suite::CipherSuite;
    ///
    /// let suite = CipherSuite::ALL[0];
    /// let secrets = EpochSecrets::handshake(suite, None, b"z", None, b"th");
    /// let key = &secrets.c2s().enc_key;
    /// ```
    pub struct DirectionSecrets {
        /// The cipher key.
        pub(crate) enc_key: Zeroizing<Vec<u8>>,
        /// The HMAC key (CBC and ECB suites; empty for GCM).
        pub(crate) mac_key: Zeroizing<Vec<u8>>,
        /// The GCM static IV (empty for CBC and ECB).
        pub(crate) static_iv: Zeroizing<Vec<u8>>,
    }

    impl DirectionSecrets {
        /// The raw cipher key. **Whoever holds it reads this direction of
        /// the epoch.**
        #[must_use]
        pub fn dangerously_expose_enc_key(&self) -> &[u8] {
            &self.enc_key
        }

        /// The raw HMAC key (CBC and ECB suites; empty for GCM). **Whoever
        /// holds it forges this direction's records.**
        #[must_use]
        pub fn dangerously_expose_mac_key(&self) -> &[u8] {
            &self.mac_key
        }

        /// The raw GCM static IV (empty for CBC and ECB).
        #[must_use]
        pub fn dangerously_expose_static_iv(&self) -> &[u8] {
            &self.static_iv
        }
    }

    impl fmt::Debug for DirectionSecrets {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("DirectionSecrets").finish_non_exhaustive()
        }
    }

    /// All the secrets of one v2 epoch. Zeroized on drop, never shown by
    /// `Debug`.
    pub struct EpochSecrets {
        suite: CipherSuite,
        /// Client to server.
        c2s: DirectionSecrets,
        /// Server to client.
        s2c: DirectionSecrets,
        client_finished: Zeroizing<Vec<u8>>,
        server_finished: Zeroizing<Vec<u8>>,
        next: Zeroizing<Vec<u8>>,
        /// The transcript hash the keys are bound to.
        context: Vec<u8>,
    }

    impl fmt::Debug for EpochSecrets {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("EpochSecrets")
                .field("suite", &self.suite)
                .finish_non_exhaustive()
        }
    }

    /// H(parts...) with the suite's hash.
    #[must_use]
    pub fn hash(h: Hash, parts: &[&[u8]]) -> Vec<u8> {
        h.digest(parts).as_slice().to_vec()
    }

    /// A pseudorandom key, with the suite's hash.
    enum Prk {
        Sha256(Hkdf<Sha256>),
        Sha512(Hkdf<Sha512>),
    }

    impl Prk {
        fn extract(hash: Hash, salt: Option<&[u8]>, ikm: &[u8]) -> Prk {
            match hash {
                Hash::Sha256 => Prk::Sha256(Hkdf::new(salt, ikm)),
                Hash::Sha512 => Prk::Sha512(Hkdf::new(salt, ikm)),
            }
        }

        /// HKDF-Expand(PRK, "securex v2 " ‖ label ‖ context, len).
        // Cannot fail: v2 asks for at most 64 bytes, far below HKDF's
        // limit of 255 hash lengths.
        #[allow(clippy::expect_used)]
        fn expand(&self, label: &[u8], context: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
            let mut out = Zeroizing::new(vec![0u8; len]);
            let info = [PREFIX, label, context];
            let result = match self {
                Prk::Sha256(h) => h.expand_multi_info(&info, &mut out),
                Prk::Sha512(h) => h.expand_multi_info(&info, &mut out),
            };
            result.expect("v2 keys are far below the HKDF output limit");
            out
        }
    }

    impl EpochSecrets {
        /// The keys of the client-to-server direction.
        #[must_use]
        pub fn c2s(&self) -> &DirectionSecrets {
            &self.c2s
        }

        /// The keys of the server-to-client direction.
        #[must_use]
        pub fn s2c(&self) -> &DirectionSecrets {
            &self.s2c
        }

        /// The secrets of epoch 0: `psk` as the HKDF salt if configured,
        /// `z_ee` ‖ `z_es` as the input, bound to the transcript hash `th`.
        #[must_use]
        #[allow(clippy::similar_names)] // z_ee and z_es: the design's names (manual::v2_wire)
        pub fn handshake(
            suite: CipherSuite,
            psk: Option<&[u8]>,
            z_ee: &[u8],
            z_es: Option<&[u8]>,
            th: &[u8],
        ) -> EpochSecrets {
            let mut ikm = Zeroizing::new(Vec::with_capacity(z_ee.len() * 2));
            ikm.extend_from_slice(z_ee);
            ikm.extend_from_slice(z_es.unwrap_or_default());
            let prk = Prk::extract(suite.hash(), psk, &ikm);
            EpochSecrets::expand(suite, &prk, th.to_vec())
        }

        /// The secrets of the next epoch, after a rotation that agreed
        /// `z` between `initiator_public` and `responder_public`.
        #[must_use]
        pub fn rotate(
            &self,
            suite: CipherSuite,
            new_epoch: u32,
            z: &[u8],
            initiator_public: &[u8],
            responder_public: &[u8],
        ) -> EpochSecrets {
            let context = hash(
                suite.hash(),
                &[
                    &self.context,
                    &new_epoch.to_be_bytes(),
                    initiator_public,
                    responder_public,
                ],
            );
            let prk = Prk::extract(suite.hash(), Some(&self.next), z);
            EpochSecrets::expand(suite, &prk, context)
        }

        fn expand(suite: CipherSuite, prk: &Prk, context: Vec<u8>) -> EpochSecrets {
            let key_len = suite.cipher().key_len();
            let h_len = suite.hash().output_len();
            let (mac_len, iv_len) = match suite.mode() {
                Mode::Gcm => (0, GCM_IV_LEN),
                Mode::Cbc | Mode::Ecb => (h_len, 0),
            };
            let direction = |dir: &[u8]| {
                let label = |what: &[u8]| [dir, what].concat();
                DirectionSecrets {
                    enc_key: prk.expand(&label(b" key"), &context, key_len),
                    mac_key: prk.expand(&label(b" mac"), &context, mac_len),
                    static_iv: prk.expand(&label(b" iv"), &context, iv_len),
                }
            };
            EpochSecrets {
                suite,
                c2s: direction(b"c2s"),
                s2c: direction(b"s2c"),
                client_finished: prk.expand(b"c finished", &context, h_len),
                server_finished: prk.expand(b"s finished", &context, h_len),
                next: prk.expand(b"next", &context, h_len),
                context,
            }
        }

        /// The suite the secrets are for.
        #[must_use]
        pub fn suite(&self) -> CipherSuite {
            self.suite
        }

        /// The FINISHED value of one side: HMAC-H(its FINISHED key, TH).
        #[must_use]
        pub fn finished(&self, client: bool) -> Vec<u8> {
            let key = if client {
                &self.client_finished
            } else {
                &self.server_finished
            };
            hmac(self.suite.hash(), key, &self.context)
        }

        /// Checks a peer's FINISHED value in constant time.
        #[must_use]
        pub fn verify_finished(&self, client: bool, value: &[u8]) -> bool {
            use subtle::ConstantTimeEq;
            let expected = self.finished(client);
            bool::from(expected.as_slice().ct_eq(value))
        }
    }

    fn hmac(h: Hash, key: &[u8], data: &[u8]) -> Vec<u8> {
        h.hmac(key, &[data]).as_slice().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::v2::{EpochSecrets, hash};
    use crate::suite::{CipherSuite, Hash};
    use hkdf::Hkdf;
    use sha2::Sha512;

    fn suite(name: &str) -> CipherSuite {
        name.parse().unwrap()
    }

    /// The `cfg(fuzzing)` shortcut never reaches a normal build.
    #[test]
    #[cfg(not(fuzzing))]
    fn v1_derive_runs_every_pbkdf2_iteration() {
        use super::{V1_PBKDF2_ROUNDS, V1Secrets};
        use crate::suite::Cipher;
        assert_eq!(super::PBKDF2_ROUNDS_RUN, 100_000);
        let secrets = V1Secrets::derive(b"shared secret", Cipher::Aes128);
        let mut expected = [0u8; 16];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
            secrets.dangerously_expose_derived(),
            b"10",
            V1_PBKDF2_ROUNDS,
            &mut expected,
        );
        assert_eq!(secrets.dangerously_expose_key(), expected);
    }

    #[test]
    fn v1_secrets_from_raw_bytes_are_the_derived_ones_and_lengths_are_checked() {
        use super::V1Secrets;
        use crate::error::RecordError;
        use crate::suite::Cipher;
        for cipher in [Cipher::Aes128, Cipher::TripleDes] {
            let derived = V1Secrets::derive(b"z", cipher);
            let raw = V1Secrets::dangerously_from_raw(
                cipher,
                derived.dangerously_expose_derived(),
                derived.dangerously_expose_key(),
            )
            .unwrap();
            assert_eq!(
                raw.dangerously_expose_key(),
                derived.dangerously_expose_key()
            );
            assert_eq!(
                raw.dangerously_expose_derived(),
                derived.dangerously_expose_derived()
            );
            assert_eq!(raw.cipher(), cipher);
        }
        assert_eq!(
            V1Secrets::dangerously_from_raw(Cipher::TripleDes, &[0; 32], &[0; 16]).err(),
            Some(RecordError::InvalidKeyLength {
                key: "enc_key",
                expected: 24,
                actual: 16
            })
        );
        assert_eq!(
            V1Secrets::dangerously_from_raw(Cipher::Aes128, &[0; 31], &[0; 16]).err(),
            Some(RecordError::InvalidKeyLength {
                key: "mac_key",
                expected: 32,
                actual: 31
            })
        );
    }

    #[test]
    fn v2_keys_are_hkdf_expand_of_label_and_transcript() {
        let s = suite("DH;AES-128;CBC;SHA-512");
        let th = hash(Hash::Sha512, &[b"ALGORITHMS", b"EXCHANGE"]);
        let keys = EpochSecrets::handshake(s, Some(b"psk"), b"zee", Some(b"zes"), &th);
        let mut expected = [0u8; 16];
        Hkdf::<Sha512>::new(Some(b"psk"), b"zeezes")
            .expand(
                &[b"securex v2 c2s key".as_slice(), &th].concat(),
                &mut expected,
            )
            .unwrap();
        assert_eq!(keys.c2s().enc_key.as_slice(), expected);
        assert_eq!(keys.s2c().mac_key.len(), 64);
        assert!(keys.c2s().static_iv.is_empty());
        assert_ne!(keys.c2s().enc_key, keys.s2c().enc_key);
        assert_ne!(keys.c2s().mac_key, keys.s2c().mac_key);
    }

    #[test]
    fn every_input_changes_every_key() {
        let s = suite("DH;AES-128;GCM;SHA-256");
        let base = EpochSecrets::handshake(s, None, b"z", None, b"th");
        for other in [
            EpochSecrets::handshake(s, Some(b"k"), b"z", None, b"th"),
            EpochSecrets::handshake(s, None, b"y", None, b"th"),
            EpochSecrets::handshake(s, None, b"z", Some(b"es"), b"th"),
            EpochSecrets::handshake(s, None, b"z", None, b"TH"),
        ] {
            assert_ne!(base.c2s().enc_key, other.c2s().enc_key);
            assert_ne!(base.s2c().static_iv, other.s2c().static_iv);
            assert_ne!(base.finished(true), other.finished(true));
        }
        let next = base.rotate(s, 1, b"z2", b"a", b"b");
        assert_ne!(next.c2s().enc_key, base.c2s().enc_key);
        assert_ne!(
            next.c2s().enc_key,
            base.rotate(s, 1, b"z2", b"b", b"a").c2s().enc_key
        );
        assert_eq!(next.c2s().static_iv.len(), 12);
    }

    #[test]
    fn finished_values_verify_only_for_their_side() {
        let s = suite("DH;3DES;CBC;SHA-256");
        let keys = EpochSecrets::handshake(s, None, b"z", None, b"th");
        let c = keys.finished(true);
        assert!(keys.verify_finished(true, &c));
        assert!(!keys.verify_finished(false, &c));
        let mut bad = c.clone();
        bad[0] ^= 1;
        assert!(!keys.verify_finished(true, &bad));
        let shown = alloc::format!("{keys:?}");
        assert!(
            shown.starts_with("EpochSecrets { suite:") && shown.ends_with(".. }"),
            "{shown}"
        );
    }
}
