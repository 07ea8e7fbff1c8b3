//! What v1 and v2 records share: the padded block modes (AES-128 and 3DES,
//! CBC and ECB, PKCS#7), in place, and the SHA-256 / SHA-512 dispatch of
//! digests and HMACs. Only what differs between the versions (GCM's
//! nonces and tag, what the MAC covers) is written in `v1.rs` and
//! `v2.rs`.

use aes::Aes128;
use cipher::block_padding::Pkcs7;
use cipher::common::InnerInit;
use cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use des::TdesEde3;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::suite::{Cipher, Hash, Mode};

/// A block cipher keyed for CBC or ECB with PKCS#7 padding. The key
/// schedules zeroize themselves on drop.
pub(crate) enum Padded {
    AesCbc(Aes128),
    TdesCbc(TdesEde3),
    TdesEcb(TdesEde3),
}

impl Padded {
    /// Keys `cipher` in `mode` (CBC or ECB; AES-128 has no ECB suite, and
    /// GCM is not a padded mode); `None` for a key of the wrong length or
    /// another mode.
    pub(crate) fn new(cipher: Cipher, mode: Mode, key: &[u8]) -> Option<Padded> {
        match (cipher, mode) {
            (Cipher::Aes128, Mode::Cbc) => Aes128::new_from_slice(key).ok().map(Padded::AesCbc),
            (Cipher::TripleDes, Mode::Cbc) => {
                TdesEde3::new_from_slice(key).ok().map(Padded::TdesCbc)
            }
            (Cipher::TripleDes, Mode::Ecb) => {
                TdesEde3::new_from_slice(key).ok().map(Padded::TdesEcb)
            }
            _ => None,
        }
    }

    /// The block length: 16 (AES) or 8 (3DES).
    pub(crate) fn block_len(&self) -> usize {
        match self {
            Padded::AesCbc(_) => 16,
            Padded::TdesCbc(_) | Padded::TdesEcb(_) => 8,
        }
    }

    /// The length of the ciphertext of `len` bytes: PKCS#7 always adds
    /// 1 to `block` bytes.
    pub(crate) fn padded_len(&self, len: usize) -> usize {
        (len / self.block_len() + 1) * self.block_len()
    }

    /// Pads the first `len` bytes of `buf` and encrypts them in place;
    /// `buf` is exactly [`padded_len`](Self::padded_len)`(len)` long. `iv`
    /// is the block length for CBC and unused in ECB. `false` (and `buf`
    /// unchanged) for other lengths.
    pub(crate) fn encrypt(&self, iv: &[u8], buf: &mut [u8], len: usize) -> bool {
        if buf.len() != self.padded_len(len) {
            return false;
        }
        let done = match self {
            Padded::AesCbc(aes) => cbc::Encryptor::<Aes128>::inner_iv_slice_init(aes.clone(), iv)
                .ok()
                .map(|e| e.encrypt_padded::<Pkcs7>(buf, len).is_ok()),
            Padded::TdesCbc(tdes) => {
                cbc::Encryptor::<TdesEde3>::inner_iv_slice_init(tdes.clone(), iv)
                    .ok()
                    .map(|e| e.encrypt_padded::<Pkcs7>(buf, len).is_ok())
            }
            Padded::TdesEcb(tdes) => Some(
                ecb::Encryptor::<TdesEde3>::inner_init(tdes.clone())
                    .encrypt_padded::<Pkcs7>(buf, len)
                    .is_ok(),
            ),
        };
        done == Some(true)
    }

    /// Decrypts `buf` in place and checks its padding: the length of the
    /// plaintext at its start, or `None` for a bad IV length, a length
    /// that is not a positive multiple of the block, or bad padding (all
    /// alike: callers authenticate before they get here).
    pub(crate) fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Option<usize> {
        if buf.is_empty() || !buf.len().is_multiple_of(self.block_len()) {
            return None;
        }
        let plaintext = match self {
            Padded::AesCbc(aes) => cbc::Decryptor::<Aes128>::inner_iv_slice_init(aes.clone(), iv)
                .ok()?
                .decrypt_padded::<Pkcs7>(buf),
            Padded::TdesCbc(tdes) => {
                cbc::Decryptor::<TdesEde3>::inner_iv_slice_init(tdes.clone(), iv)
                    .ok()?
                    .decrypt_padded::<Pkcs7>(buf)
            }
            Padded::TdesEcb(tdes) => {
                ecb::Decryptor::<TdesEde3>::inner_init(tdes.clone()).decrypt_padded::<Pkcs7>(buf)
            }
        };
        plaintext.ok().map(<[u8]>::len)
    }
}

/// A digest or MAC: up to SHA-512's 64 bytes, on the stack.
#[derive(Clone, Copy)]
pub(crate) struct HashOutput {
    bytes: [u8; 64],
    len: usize,
}

impl HashOutput {
    fn of(bytes: &[u8]) -> HashOutput {
        let mut out = HashOutput {
            bytes: [0; 64],
            len: bytes.len().min(64),
        };
        out.bytes[..out.len].copy_from_slice(&bytes[..out.len]);
        out
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Whether `other` is this output, compared in constant time (the
    /// lengths are public).
    pub(crate) fn ct_eq(&self, other: &[u8]) -> bool {
        bool::from(self.as_slice().ct_eq(other))
    }
}

impl Hash {
    /// H(parts...).
    pub(crate) fn digest(self, parts: &[&[u8]]) -> HashOutput {
        fn run<D: Digest>(parts: &[&[u8]]) -> HashOutput {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            HashOutput::of(&d.finalize())
        }
        match self {
            Hash::Sha256 => run::<Sha256>(parts),
            Hash::Sha512 => run::<Sha512>(parts),
        }
    }

    /// HMAC-H(key, parts...).
    pub(crate) fn hmac(self, key: &[u8], parts: &[&[u8]]) -> HashOutput {
        fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> HashOutput {
            // HMAC takes keys of any length: `new_from_slice` cannot fail.
            match <M as KeyInit>::new_from_slice(key) {
                Ok(mut m) => {
                    for p in parts {
                        m.update(p);
                    }
                    HashOutput::of(&m.finalize().into_bytes())
                }
                Err(_) => HashOutput::of(&[]),
            }
        }
        match self {
            Hash::Sha256 => run::<Hmac<Sha256>>(key, parts),
            Hash::Sha512 => run::<Hmac<Sha512>>(key, parts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// RFC 4231 test case 2 (HMAC-SHA-256 and -512 of "what do ya want for
    /// nothing?" with key "Jefe"), the data split in two parts.
    #[test]
    fn hmac_known_answers() {
        let parts: [&[u8]; 2] = [b"what do ya want ", b"for nothing?"];
        let hex = |o: HashOutput| base16ct::lower::encode_string(o.as_slice());
        assert_eq!(
            hex(Hash::Sha256.hmac(b"Jefe", &parts)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(Hash::Sha512.hmac(b"Jefe", &parts)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        assert!(
            Hash::Sha256.hmac(b"Jefe", &parts).ct_eq(
                Hash::Sha256
                    .hmac(b"Jefe", &[b"what do ya want for nothing?"])
                    .as_slice()
            )
        );
        assert!(!Hash::Sha256.hmac(b"Jefe", &parts).ct_eq(&[0; 32]));
        assert!(!Hash::Sha256.hmac(b"Jefe", &parts).ct_eq(&[]));
    }

    /// Every padded suite in place, every length to three blocks: the same
    /// bytes as the `cbc` / `ecb` crates' own `encrypt_padded_vec`, and back.
    #[test]
    fn padded_modes_match_the_vec_api_and_round_trip() {
        let cases = [
            (Cipher::Aes128, Mode::Cbc, 16u8),
            (Cipher::TripleDes, Mode::Cbc, 24),
            (Cipher::TripleDes, Mode::Ecb, 24),
        ];
        for (cipher, mode, key_len) in cases {
            let key: Vec<u8> = (0..key_len).map(|i| i * 7 + 1).collect();
            let padded = Padded::new(cipher, mode, &key).unwrap();
            let iv = [0x42u8; 16];
            let iv = &iv[..padded.block_len()];
            for len in 0..3 * padded.block_len() {
                let msg: Vec<u8> = (0..u8::try_from(len).unwrap()).collect();
                let mut buf = msg.clone();
                buf.resize(padded.padded_len(len), 0);
                assert!(padded.encrypt(iv, &mut buf, len));
                let expected = match &padded {
                    Padded::AesCbc(k) => {
                        cbc::Encryptor::<Aes128>::inner_iv_slice_init(k.clone(), iv)
                            .unwrap()
                            .encrypt_padded_vec::<Pkcs7>(&msg)
                    }
                    Padded::TdesCbc(k) => {
                        cbc::Encryptor::<TdesEde3>::inner_iv_slice_init(k.clone(), iv)
                            .unwrap()
                            .encrypt_padded_vec::<Pkcs7>(&msg)
                    }
                    Padded::TdesEcb(k) => ecb::Encryptor::<TdesEde3>::inner_init(k.clone())
                        .encrypt_padded_vec::<Pkcs7>(&msg),
                };
                assert_eq!(buf, expected, "{cipher:?} {mode:?} {len}");
                assert_eq!(padded.decrypt(iv, &mut buf), Some(len));
                assert_eq!(&buf[..len], &msg[..]);
            }
            assert!(!padded.encrypt(iv, &mut [0; 3], 0));
            assert_eq!(padded.decrypt(iv, &mut []), None);
            assert_eq!(padded.decrypt(iv, &mut [0; 5]), None);
        }
        assert!(Padded::new(Cipher::Aes128, Mode::Gcm, &[0; 16]).is_none());
        assert!(Padded::new(Cipher::Aes128, Mode::Cbc, &[0; 24]).is_none());
    }
}
