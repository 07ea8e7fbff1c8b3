//! Base64 of the wire: RFC 4648's standard alphabet, padded, strict (no
//! whitespace, no missing padding, no non-zero trailing bits), as the
//! existing peers write it and as base64 0.22's `STANDARD` engine read it
//! before.
//!
//! Built on base64-turbo's SIMD kernels (AVX2, AVX-512 VBMI or NEON,
//! chosen at run time, also without `std`). Every function writes into a
//! buffer sized exactly beforehand, so no call here can fail but a decode
//! of text that is not base64.

use alloc::string::String;
use alloc::vec::Vec;

use base64_turbo::STANDARD as ENGINE;

/// The length of the base64 of `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    ENGINE.encoded_len(len)
}

/// Encodes `bytes` into `out`, which must be exactly
/// [`encoded_len`]`(bytes.len())` long (else `out` is left as it is).
pub(crate) fn encode_to_slice(bytes: &[u8], out: &mut [u8]) {
    if out.len() == encoded_len(bytes.len()) {
        // Cannot fail: `out` has exactly the length the engine requires.
        let _ = ENGINE.encode_slice(bytes, out);
    }
}

/// Appends the base64 of `bytes` to `out`.
pub(crate) fn encode_append(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + encoded_len(bytes.len()), 0);
    encode_to_slice(bytes, &mut out[start..]);
}

/// The base64 of `bytes`.
pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = Vec::with_capacity(encoded_len(bytes.len()));
    encode_append(&mut out, bytes);
    // The alphabet is ASCII: this never replaces anything.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends what `text` decodes to to `out`; `false` (and `out` as it was)
/// if `text` is not strict base64.
pub(crate) fn decode_append(out: &mut Vec<u8>, text: &[u8]) -> bool {
    let start = out.len();
    out.resize(start + ENGINE.decoded_len_estimate(text.len()), 0);
    if let Ok(len) = ENGINE.decode_slice(text, &mut out[start..]) {
        out.truncate(start + len);
        true
    } else {
        out.truncate(start);
        false
    }
}

/// What `text` decodes to, if it is strict base64.
pub(crate) fn decode(text: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    let text = text.as_ref();
    let mut out = Vec::new();
    decode_append(&mut out, text).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::base64::Engine as _;
    use ::base64::engine::general_purpose::STANDARD as REFERENCE;
    use alloc::vec;

    /// Every length from 0 to 200 and a few large ones: the same text as
    /// base64 0.22, and back.
    #[test]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the test bytes are `i * 131 + len` modulo 256 on purpose; both are non-negative"
    )]
    fn encodes_and_decodes_as_the_reference() {
        let lengths = (0..200).chain([4095, 4096, 4097, 65_536, 65_553, 100_003]);
        for len in lengths {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 131 + len) as u8).collect();
            let text = encode(&bytes);
            assert_eq!(text, REFERENCE.encode(&bytes), "{len}");
            assert_eq!(decode(&text), Some(bytes), "{len}");
        }
    }

    /// Text the reference refuses is refused, and text it accepts decodes
    /// alike: every string of up to 4 characters over an alphabet with the
    /// edge cases (padding, a character outside the alphabet, whitespace),
    /// and longer ones with the defect at every place.
    #[test]
    fn refuses_exactly_what_the_reference_refuses() {
        let alphabet = b"AQgw+/=\n -_";
        let mut strings: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = strings
                .iter()
                .filter(|s| s.len() == strings.last().map_or(0, Vec::len))
                .flat_map(|s| {
                    alphabet.iter().map(move |&c| {
                        let mut t = s.clone();
                        t.push(c);
                        t
                    })
                })
                .collect();
            strings.extend(longer);
        }
        let long = REFERENCE.encode([0xA5u8; 70]).into_bytes();
        for i in 0..long.len() {
            for c in [b'=', b'\n', b'*', b'-', 0x80] {
                let mut t = long.clone();
                t[i] = c;
                strings.push(t);
            }
        }
        // Non-zero trailing bits, and padding in the middle.
        strings.extend([b"QR==".to_vec(), b"QUJ=".to_vec(), b"QQ==QQ==".to_vec()]);
        for s in &strings {
            assert_eq!(
                decode(s),
                REFERENCE.decode(s).ok(),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn a_failed_decode_leaves_the_buffer_as_it_was() {
        let mut out = b"kept".to_vec();
        assert!(!decode_append(&mut out, b"QQ=!"));
        assert_eq!(out, b"kept");
        assert!(decode_append(&mut out, b"QQ=="));
        assert_eq!(out, b"keptA");
    }
}
