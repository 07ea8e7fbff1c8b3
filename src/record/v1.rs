//! v1 records, exactly as existing peers write them.
//!
//! * P = PKCS#7-pad(inner) to the block size (16 AES, 8 3DES), in every
//!   mode, GCM included;
//! * IV = 16 bytes for AES (the CBC IV, or a 16-byte GCM nonce, so that
//!   J0 = GHASH(nonce)), 8 bytes for 3DES (the CBC IV; sent and ignored in
//!   ECB);
//! * C = encrypt(K, mode, IV, P); GCM sends no tag and none is checked;
//! * MAC = lowercase hex of HASH(C ‖ derived).
//!
//! [`V1Protector::open`] checks the shapes of the fields, then the MAC (in
//! constant time), and only then decrypts and unpads.
//!
//! # Weaknesses kept for compatibility
//!
//! The MAC is not an HMAC, and it covers neither the IV, nor the order of
//! records, nor their type. A changed IV goes unnoticed by it: in CBC it
//! flips exactly the same bits of the first plaintext block, in GCM it
//! garbles the whole message, in ECB it changes nothing. GCM without its
//! tag is plain counter mode. Use v2 wherever the peer allows it.

use alloc::vec::Vec;
use core::fmt;

use crate::wire::base64;
use aes::Aes128;
use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::consts::U16;
use aes_gcm::{AesGcm, KeyInit, Nonce};
use cipher::block_padding::{Padding, Pkcs7};
use rand_core::CryptoRng;

use super::cipher::{HashOutput, Padded};

use crate::error::RecordError;
use crate::schedule::V1Secrets;
use crate::suite::{CipherSuite, Mode};
use crate::wire::SecureX;

/// AES-128-GCM with the 16-byte nonces of existing peers.
type V1AesGcm = AesGcm<Aes128, U16>;

const AES_BLOCK: usize = 16;

/// A keyed block cipher in the suite's mode.
enum Keyed {
    /// GCM with v1's 16-byte nonces, used as counter mode.
    Gcm(V1AesGcm),
    /// CBC or ECB, shared with v2.
    Padded(Padded),
}

/// Seals and opens the v1 records of one key epoch.
///
/// Holds the keyed cipher and the MAC key (`derived`); both are zeroized on
/// drop and never shown by `Debug`.
pub struct V1Protector {
    suite: CipherSuite,
    keyed: Keyed,
    secrets: V1Secrets,
}

impl V1Protector {
    /// Keys the suite's cipher with the epoch's secrets.
    ///
    /// # Panics
    ///
    /// If `secrets` were derived for another cipher than the suite's: a
    /// programming error, never a consequence of input.
    // `V1Secrets::derive` makes a key of exactly its cipher's length, and
    // the assert below ties that cipher to the suite's: the key lengths the
    // constructors expect always hold.
    #[allow(clippy::expect_used)]
    #[must_use]
    pub fn new(suite: CipherSuite, secrets: V1Secrets) -> V1Protector {
        assert_eq!(
            secrets.cipher(),
            suite.cipher(),
            "v1 secrets derived for another cipher"
        );
        let key = secrets.dangerously_expose_key();
        let keyed = match suite.mode() {
            Mode::Gcm => Keyed::Gcm(V1AesGcm::new_from_slice(key).expect("16-byte key")),
            mode => Keyed::Padded(
                Padded::new(suite.cipher(), mode, key).expect("a key of the cipher's length"),
            ),
        };
        V1Protector {
            suite,
            keyed,
            secrets,
        }
    }

    /// The suite.
    #[must_use]
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// The epoch's secrets (for the key log of a connection, which needs
    /// `std`).
    #[cfg(feature = "std")]
    pub(crate) fn secrets(&self) -> &V1Secrets {
        &self.secrets
    }

    /// The IV length of the suite: the cipher's block size.
    #[must_use]
    pub fn iv_len(&self) -> usize {
        self.suite.cipher().block_len()
    }

    /// Seals `inner` with a fresh random IV drawn from `rng`.
    ///
    /// # Errors
    ///
    /// [`RecordError::CiphertextLength`] if `inner` is too long for the
    /// mode: GCM (whose keystream v1 uses) takes at most 2^36 − 32 bytes.
    /// The IV, drawn at the suite's length, is always accepted.
    pub fn seal_random<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        inner: &[u8],
    ) -> Result<SecureX, RecordError> {
        let mut iv = [0u8; 16];
        let iv = &mut iv[..self.iv_len()];
        rng.fill_bytes(iv);
        self.seal(iv, inner)
    }

    /// Seals `inner` with the given IV (16 bytes for AES, 8 for 3DES).
    ///
    /// # Errors
    ///
    /// [`RecordError::InvalidIvLength`] for an IV of another length;
    /// [`RecordError::CiphertextLength`] for an `inner` too long for GCM
    /// (2^36 − 32 bytes).
    pub fn seal(&self, iv: &[u8], inner: &[u8]) -> Result<SecureX, RecordError> {
        let mut ciphertext = inner.to_vec();
        ciphertext.resize(self.ciphertext_len(inner.len()), 0);
        let mac = self.seal_in_place(iv, &mut ciphertext, inner.len())?;
        Ok(SecureX {
            payload: base64::encode(&ciphertext),
            iv: base64::encode(iv),
            hash: base16ct::lower::encode_string(mac.as_slice()),
        })
    }

    /// The length of the ciphertext of `len` bytes: PKCS#7-padded to the
    /// block (1 to a block more), in every mode.
    #[must_use]
    pub fn ciphertext_len(&self, len: usize) -> usize {
        let block = self.suite.cipher().block_len();
        (len / block + 1) * block
    }

    /// Pads and encrypts the first `len` bytes of `buf` in place, `buf`
    /// being exactly [`ciphertext_len`](Self::ciphertext_len)`(len)` long;
    /// returns the MAC of the ciphertext.
    pub(crate) fn seal_in_place(
        &self,
        iv: &[u8],
        buf: &mut [u8],
        len: usize,
    ) -> Result<HashOutput, RecordError> {
        self.check_iv(iv)?;
        if buf.len() != self.ciphertext_len(len) {
            return Err(RecordError::CiphertextLength {
                actual: buf.len(),
                block: self.suite.cipher().block_len(),
            });
        }
        match &self.keyed {
            Keyed::Gcm(gcm) => {
                let whole = len - len % AES_BLOCK;
                Pkcs7::raw_pad(&mut buf[whole..], len - whole);
                gcm_keystream(gcm, iv, buf)?;
            }
            Keyed::Padded(padded) => {
                if !padded.encrypt(iv, buf, len) {
                    return Err(self.iv_error(iv));
                }
            }
        }
        Ok(self.mac(buf))
    }

    /// Opens a `SECURE_X` frame into the inner message.
    ///
    /// # Errors
    ///
    /// Those of [`V1Record::decode`] for the fields (bad base64 or hex),
    /// then those of [`open_record`](Self::open_record).
    pub fn open(&self, frame: &SecureX) -> Result<Vec<u8>, RecordError> {
        self.open_record(V1Record::decode(frame)?)
    }

    /// [`open`](Self::open) of a record whose fields are decoded,
    /// decrypting its ciphertext in place: the checks after the decoding,
    /// in the same order.
    ///
    /// # Errors
    ///
    /// In this order:
    ///
    /// * [`RecordError::InvalidHex`] (`hash`): a MAC of another length
    ///   than the suite's hash;
    /// * [`RecordError::InvalidIvLength`]: an IV of another length than
    ///   the cipher's block;
    /// * [`RecordError::CiphertextLength`]: a ciphertext that is not a
    ///   positive multiple of the block;
    /// * [`RecordError::BadMac`]: the MAC does not match (compared in
    ///   constant time, before any decryption);
    /// * [`RecordError::BadPadding`]: the decrypted plaintext's padding is
    ///   invalid.
    pub fn open_record(&self, record: V1Record) -> Result<Vec<u8>, RecordError> {
        let V1Record {
            ciphertext,
            iv,
            mac,
        } = record;
        if mac.len() != self.suite.hash().output_len() {
            return Err(RecordError::InvalidHex { field: "hash" });
        }
        self.check_iv(&iv)?;
        let block = self.suite.cipher().block_len();
        if ciphertext.is_empty() || ciphertext.len() % block != 0 {
            return Err(RecordError::CiphertextLength {
                actual: ciphertext.len(),
                block,
            });
        }
        if !self.mac(&ciphertext).ct_eq(&mac) {
            return Err(RecordError::BadMac);
        }
        let unpadded = match &self.keyed {
            Keyed::Gcm(gcm) => {
                // GCM without its tag is counter mode, its own inverse.
                let mut buf = ciphertext;
                gcm_keystream(gcm, &iv, &mut buf)?;
                unpad_aes_blocks(buf)
            }
            Keyed::Padded(padded) => {
                let mut buf = ciphertext;
                let len = padded
                    .decrypt(&iv, &mut buf)
                    .ok_or(RecordError::BadPadding)?;
                buf.truncate(len);
                Ok(buf)
            }
        }?;
        Ok(unpadded)
    }

    fn iv_error(&self, iv: &[u8]) -> RecordError {
        RecordError::InvalidIvLength {
            expected: self.iv_len(),
            actual: iv.len(),
        }
    }

    fn check_iv(&self, iv: &[u8]) -> Result<(), RecordError> {
        if iv.len() == self.iv_len() {
            Ok(())
        } else {
            Err(RecordError::InvalidIvLength {
                expected: self.iv_len(),
                actual: iv.len(),
            })
        }
    }

    /// HASH(C ‖ derived).
    fn mac(&self, ciphertext: &[u8]) -> HashOutput {
        let derived = self.secrets.dangerously_expose_derived();
        self.suite.hash().digest(&[ciphertext, derived])
    }
}

/// The binary fields of a v1 `SECURE_X` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Record {
    /// The ciphertext (`payload`, base64 on the wire).
    pub ciphertext: Vec<u8>,
    /// The IV (`iv`, base64 on the wire).
    pub iv: Vec<u8>,
    /// The MAC (`hash`, hex on the wire).
    pub mac: Vec<u8>,
}

impl V1Record {
    /// Decodes the fields of a frame: `payload` and `iv` strict base64,
    /// `hash` hex in either case.
    ///
    /// # Errors
    ///
    /// [`RecordError::InvalidBase64`] naming `payload` or `iv`,
    /// [`RecordError::InvalidHex`] naming `hash`.
    pub fn decode(frame: &SecureX) -> Result<V1Record, RecordError> {
        Ok(V1Record {
            ciphertext: base64::decode(&frame.payload)
                .ok_or(RecordError::InvalidBase64 { field: "payload" })?,
            iv: base64::decode(&frame.iv).ok_or(RecordError::InvalidBase64 { field: "iv" })?,
            mac: base16ct::mixed::decode_vec(&frame.hash)
                .map_err(|_| RecordError::InvalidHex { field: "hash" })?,
        })
    }
}

impl fmt::Debug for V1Protector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V1Protector")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// XORs `buf` with the GCM keystream of `nonce` (a 16-byte nonce: J0 is
/// its GHASH). The tag that `aes-gcm` computes on the way is discarded:
/// v1 sends none.
fn gcm_keystream(gcm: &V1AesGcm, nonce: &[u8], buf: &mut [u8]) -> Result<(), RecordError> {
    let nonce = Nonce::<U16>::try_from(nonce).map_err(|_| RecordError::InvalidIvLength {
        expected: 16,
        actual: nonce.len(),
    })?;
    // v1 frames are far below GCM's length limit (2^36 - 32 bytes); a
    // longer buffer would fail here as a frame that is too long.
    let _tag = gcm
        .encrypt_inout_detached(&nonce, &[], buf.into())
        .map_err(|_| RecordError::CiphertextLength {
            actual: buf.len(),
            block: 16,
        })?;
    Ok(())
}

/// Removes the PKCS#7 padding of a whole number of AES blocks.
fn unpad_aes_blocks(mut data: Vec<u8>) -> Result<Vec<u8>, RecordError> {
    let last = data
        .len()
        .checked_sub(AES_BLOCK)
        .ok_or(RecordError::BadPadding)?;
    let kept = Pkcs7::raw_unpad(&data[last..])
        .map_err(|_| RecordError::BadPadding)?
        .len();
    data.truncate(last + kept);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use rand_core::{Rng, SeedableRng};

    use super::*;
    use crate::schedule::V1Secrets;

    #[test]
    fn seal_random_draws_the_iv_from_the_rng_and_opens_back() {
        for suite in CipherSuite::ALL {
            let cipher = suite.cipher();
            let key = [0x42; 24];
            let secrets =
                V1Secrets::dangerously_from_raw(cipher, &[7; 32], &key[..cipher.key_len()])
                    .unwrap();
            let protector = V1Protector::new(suite, secrets);
            let mut rng = rand_chacha::ChaCha20Rng::from_seed([9; 32]);
            let sealed = protector
                .seal_random(&mut rng, b"{\"type\":\"OK\"}")
                .unwrap();
            let mut expected_iv = [0; 16];
            let expected_iv = &mut expected_iv[..protector.iv_len()];
            rand_chacha::ChaCha20Rng::from_seed([9; 32]).fill_bytes(expected_iv);
            assert_eq!(sealed.iv, base64::encode(expected_iv), "{suite}");
            assert_eq!(
                protector.open(&sealed).unwrap(),
                b"{\"type\":\"OK\"}",
                "{suite}"
            );
        }
    }
}
