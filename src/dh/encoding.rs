//! PEM/DER encoding of finite-field Diffie-Hellman domain parameters and
//! public keys, as exchanged in the v1 handshake.
//!
//! Two parameter structures exist, chosen by the PEM label (or, inside a
//! `SubjectPublicKeyInfo`, by the algorithm OID):
//!
//! * PKCS#3 `DHParameter` (`DH PARAMETERS`, dhKeyAgreement
//!   1.2.840.113549.1.3.1): `SEQUENCE { p, g, privateValueLength OPTIONAL }`;
//! * X9.42 `DomainParameters` (`X9.42 DH PARAMETERS`, dhpublicnumber
//!   1.2.840.10046.2.1): `SEQUENCE { p, g, q, j OPTIONAL,
//!   validationParms OPTIONAL }`.
//!
//! The optional trailing fields are accepted and ignored on input and never
//! emitted. This module only checks the encoding and that p, g, q and y are
//! positive and p is not larger than the caller's limit; range and subgroup
//! checks belong to the caller.
//!
//! Decoding borrows from the decoded PEM body: the only allocations are that
//! body and, once p has passed the size limit, the returned integers.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use der::asn1::{AnyRef, BitStringRef, IntRef, ObjectIdentifier, UintRef};
use der::{Decode, Encode, ErrorKind, Sequence, Tag};
use pem_rfc7468::LineEnding;
use spki::{AlgorithmIdentifier, SubjectPublicKeyInfoRef};

use super::bit_len;
use crate::error::DhError;

/// PEM label of PKCS#3 DH parameters.
const LABEL_PKCS3: &str = "DH PARAMETERS";
/// PEM label of X9.42 DH parameters.
const LABEL_X942: &str = "X9.42 DH PARAMETERS";
/// PEM label of a `SubjectPublicKeyInfo`.
const LABEL_SPKI: &str = "PUBLIC KEY";

/// PKCS#3 dhKeyAgreement; its parameters are a [`DhParameter`].
const OID_DH_KEY_AGREEMENT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.3.1");
/// X9.42 dhpublicnumber; its parameters are [`DomainParameters`].
const OID_DH_PUBLIC_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10046.2.1");

/// Domain parameters as big-endian magnitudes without leading zero bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawParams {
    /// The prime modulus p.
    pub(crate) p: Vec<u8>,
    /// The generator g.
    pub(crate) g: Vec<u8>,
    /// The order q of the subgroup g generates, when known (X9.42 only).
    pub(crate) q: Option<Vec<u8>>,
}

/// PKCS#3 `DHParameter`.
///
/// `UintRef` refuses negative values (`ErrorKind::Value`) and non-minimal
/// encodings (`ErrorKind::Noncanonical`); zero decodes as `[0]`.
#[derive(Sequence)]
struct DhParameter<'a> {
    /// The prime modulus.
    p: UintRef<'a>,
    /// The generator.
    g: UintRef<'a>,
    /// Ignored on input, never emitted.
    #[asn1(optional = "true")]
    private_value_length: Option<IntRef<'a>>,
}

/// X9.42 `DomainParameters`.
#[derive(Sequence)]
struct DomainParameters<'a> {
    /// The prime modulus.
    p: UintRef<'a>,
    /// The generator.
    g: UintRef<'a>,
    /// The subgroup order.
    q: UintRef<'a>,
    /// The cofactor; ignored on input, never emitted.
    #[asn1(optional = "true")]
    j: Option<IntRef<'a>>,
    /// Ignored on input, never emitted.
    #[asn1(optional = "true")]
    validation_parms: Option<ValidationParms<'a>>,
}

/// X9.42 `ValidationParms` (only checked for well-formedness).
#[derive(Sequence)]
struct ValidationParms<'a> {
    /// The seed of the parameter generation.
    seed: BitStringRef<'a>,
    /// The counter of the parameter generation.
    pgen_counter: IntRef<'a>,
}

/// Map a DER error to the [`DhError`] it stands for.
fn der_error(err: der::Error) -> DhError {
    match err.kind() {
        ErrorKind::TrailingData { .. } => DhError::TrailingData,
        // Only `UintRef` reports this: an INTEGER with its sign bit set.
        ErrorKind::Value { tag: Tag::Integer } => DhError::NonPositiveInteger,
        _ => DhError::Der,
    }
}

/// Remove the PEM armor of `pem`, requiring one of `labels`; returns the
/// matching label and the DER body.
fn unarmor<'l>(pem: &[u8], labels: &[&'l str]) -> Result<(&'l str, Vec<u8>), DhError> {
    let label = pem_rfc7468::decode_label(pem).map_err(|_| DhError::Pem)?;
    let label = labels
        .iter()
        .find(|l| **l == label)
        .ok_or_else(|| DhError::UnexpectedLabel(label.to_string()))?;
    let (_, der) = pem_rfc7468::decode_vec(pem).map_err(|_| DhError::Pem)?;
    Ok((label, der))
}

/// Add PEM armor: LF line endings, 64 columns, trailing newline.
// Cannot fail: the labels are ASCII constants and the DER is at most a few
// KiB (groups are bounded by `max_bits`), far below any length limit.
#[allow(clippy::expect_used)]
fn armor(label: &str, der: &[u8]) -> String {
    pem_rfc7468::encode_string(label, LineEnding::LF, der).expect("PEM of a valid DER value")
}

/// The magnitude of a decoded INTEGER, refusing zero.
fn positive(int: UintRef<'_>) -> Result<&[u8], DhError> {
    match int.as_bytes() {
        [0] => Err(DhError::NonPositiveInteger),
        bytes => Ok(bytes),
    }
}

/// A magnitude as an INTEGER to encode (an empty magnitude is zero).
// Cannot fail: magnitudes are of groups bounded by `max_bits` (8192 bits
// at most by default), far below DER's length limit.
#[allow(clippy::expect_used)]
fn uint(magnitude: &[u8]) -> UintRef<'_> {
    let magnitude = if magnitude.is_empty() {
        &[0]
    } else {
        magnitude
    };
    UintRef::new(magnitude).expect("integer too large to encode")
}

/// Check p, g and q of decoded parameters; p's size is checked first.
fn raw_params(
    p: UintRef<'_>,
    g: UintRef<'_>,
    q: Option<UintRef<'_>>,
    max_bits: u32,
) -> Result<RawParams, DhError> {
    let bits = bit_len(p.as_bytes());
    if bits > max_bits {
        return Err(DhError::GroupTooLarge {
            bits,
            limit: max_bits,
        });
    }
    Ok(RawParams {
        p: positive(p)?.to_vec(),
        g: positive(g)?.to_vec(),
        q: q.map(|q| positive(q).map(<[u8]>::to_vec)).transpose()?,
    })
}

/// Decode parameters from their DER element, as X9.42 `DomainParameters`
/// or PKCS#3 `DHParameter`.
fn decode_params(any: AnyRef<'_>, x942: bool, max_bits: u32) -> Result<RawParams, DhError> {
    if x942 {
        let d: DomainParameters<'_> = any.decode_as().map_err(der_error)?;
        raw_params(d.p, d.g, Some(d.q), max_bits)
    } else {
        let d: DhParameter<'_> = any.decode_as().map_err(der_error)?;
        raw_params(d.p, d.g, None, max_bits)
    }
}

/// The DER of `params`, with its PEM label and its SPKI algorithm OID.
// Cannot fail: the structure holds positive INTEGERs of bounded size only.
#[allow(clippy::expect_used)]
fn params_der(params: &RawParams) -> (&'static str, ObjectIdentifier, Vec<u8>) {
    let (p, g) = (uint(&params.p), uint(&params.g));
    let (label, oid, der) = match &params.q {
        None => (
            LABEL_PKCS3,
            OID_DH_KEY_AGREEMENT,
            DhParameter {
                p,
                g,
                private_value_length: None,
            }
            .to_der(),
        ),
        Some(q) => (
            LABEL_X942,
            OID_DH_PUBLIC_NUMBER,
            DomainParameters {
                p,
                g,
                q: uint(q),
                j: None,
                validation_parms: None,
            }
            .to_der(),
        ),
    };
    (label, oid, der.expect("DER of DH parameters"))
}

/// Parse a PEM `DH PARAMETERS` (PKCS#3 `DHParameter`), giving `q = None`, or
/// `X9.42 DH PARAMETERS` (X9.42 `DomainParameters`), giving `q = Some`.
///
/// Refuses a p of more than `max_bits` bits, zero or negative p, g or q,
/// and any malformed or trailing data.
pub(crate) fn decode_params_pem(pem: &[u8], max_bits: u32) -> Result<RawParams, DhError> {
    let (label, der) = unarmor(pem, &[LABEL_PKCS3, LABEL_X942])?;
    let any = AnyRef::from_der(&der).map_err(der_error)?;
    decode_params(any, label == LABEL_X942, max_bits)
}

/// Emit `DH PARAMETERS` (p, g) when q is `None`, `X9.42 DH PARAMETERS`
/// (p, g, q) when `Some`: LF line endings, 64 columns, trailing newline.
pub(crate) fn encode_params_pem(params: &RawParams) -> String {
    let (label, _, der) = params_der(params);
    armor(label, &der)
}

/// Parse a PEM `PUBLIC KEY` `SubjectPublicKeyInfo` for dhKeyAgreement
/// (PKCS#3 parameters) or dhpublicnumber (X9.42 parameters) whose BIT STRING
/// (no unused bits) wraps INTEGER y.
///
/// Returns the parameters and y as a big-endian magnitude, with the same
/// refusals as [`decode_params_pem`], plus a zero or negative y.
pub(crate) fn decode_spki_pem(pem: &[u8], max_bits: u32) -> Result<(RawParams, Vec<u8>), DhError> {
    let (_, der) = unarmor(pem, &[LABEL_SPKI])?;
    let spki = SubjectPublicKeyInfoRef::from_der(&der).map_err(der_error)?;
    let oid = spki.algorithm.oid;
    let x942 = match oid {
        OID_DH_KEY_AGREEMENT => false,
        OID_DH_PUBLIC_NUMBER => true,
        _ => return Err(DhError::UnknownAlgorithm(oid.to_string())),
    };
    let any = spki.algorithm.parameters.ok_or(DhError::Der)?;
    let params = decode_params(any, x942, max_bits)?;
    let key = spki.subject_public_key.as_bytes().ok_or(DhError::Der)?;
    let y = positive(UintRef::from_der(key).map_err(der_error)?)?;
    Ok((params, y.to_vec()))
}

/// Emit the `SubjectPublicKeyInfo` PEM of y: dhKeyAgreement with (p, g) when
/// q is `None`, dhpublicnumber with (p, g, q) when `Some`.
// Cannot fail: y and the parameters are bounded INTEGERs encoded just
// above, so re-reading them and wrapping them in a BIT STRING succeeds.
#[allow(clippy::expect_used)]
pub(crate) fn encode_spki_pem(params: &RawParams, y: &[u8]) -> String {
    let (_, oid, params) = params_der(params);
    let key = uint(y).to_der().expect("DER of y");
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifier {
            oid,
            parameters: Some(AnyRef::from_der(&params).expect("parameters just encoded")),
        },
        subject_public_key: BitStringRef::from_bytes(&key).expect("BIT STRING of y"),
    };
    armor(
        LABEL_SPKI,
        &spki.to_der().expect("DER of a SubjectPublicKeyInfo"),
    )
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use alloc::vec;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::Value;

    /// The v1 vectors.
    fn vectors() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/seed-v1.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// An integer's hex (no leading zeros, maybe of odd length) as a magnitude.
    fn hex(s: &str) -> Vec<u8> {
        let s = if s.len() % 2 == 1 {
            alloc::format!("0{s}")
        } else {
            s.to_string()
        };
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A base64 field of the vectors.
    fn b64(v: &Value) -> Vec<u8> {
        STANDARD.decode(v.as_str().unwrap()).unwrap()
    }

    /// A group of the vectors and its parameters.
    fn group(name: &str) -> (Value, RawParams) {
        let v = vectors()["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap()
            .clone();
        let params = RawParams {
            p: hex(v["p_hex"].as_str().unwrap()),
            g: vec![u8::try_from(v["g"].as_u64().unwrap()).unwrap()],
            q: v["q_hex"].as_str().map(hex),
        };
        (v, params)
    }

    /// The DER INTEGER contents of a non-negative magnitude.
    fn signed(magnitude: &[u8]) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(magnitude);
        let strip = usize::from(out.len() > 1 && out[1] < 0x80);
        out.split_off(strip)
    }

    /// A SEQUENCE of INTEGERs given by their contents (two's complement,
    /// written as given, so non-minimal encodings are possible).
    fn seq(ints: &[&[u8]]) -> Vec<u8> {
        let ints: Vec<IntRef<'_>> = ints.iter().map(|i| IntRef::new(i).unwrap()).collect();
        ints.to_der().unwrap()
    }

    /// An SPKI with the given algorithm, parameters DER and key.
    fn spki(oid: ObjectIdentifier, params: &[u8], key: BitStringRef<'_>) -> String {
        let spki = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifier {
                oid,
                parameters: Some(AnyRef::from_der(params).unwrap()),
            },
            subject_public_key: key,
        };
        armor(LABEL_SPKI, &spki.to_der().unwrap())
    }

    /// The DER of a public value.
    fn y_der(y: &[u8]) -> Vec<u8> {
        uint(y).to_der().unwrap()
    }

    #[test]
    fn encode_reproduces_vectors() {
        for name in ["adhoc-512", "ffdhe2048"] {
            let (v, params) = group(name);
            assert_eq!(encode_params_pem(&params).as_bytes(), b64(&v["params_b64"]));
            let client = hex(v["client_public_hex"].as_str().unwrap());
            assert_eq!(
                encode_spki_pem(&params, &client).as_bytes(),
                b64(&v["client_public_key_b64"])
            );
            for epoch in v["epochs"].as_array().unwrap() {
                let server = hex(epoch["server_public_hex"].as_str().unwrap());
                assert_eq!(
                    encode_spki_pem(&params, &server).as_bytes(),
                    b64(&epoch["server_public_key_b64"])
                );
            }
        }
    }

    #[test]
    fn decode_gives_vector_integers() {
        for name in ["adhoc-512", "ffdhe2048"] {
            let (v, params) = group(name);
            assert_eq!(
                decode_params_pem(&b64(&v["params_b64"]), 2048),
                Ok(params.clone())
            );
            let client = hex(v["client_public_hex"].as_str().unwrap());
            let got = decode_spki_pem(&b64(&v["client_public_key_b64"]), 2048);
            assert_eq!(got, Ok((params.clone(), client)));
            for epoch in v["epochs"].as_array().unwrap() {
                let server = hex(epoch["server_public_hex"].as_str().unwrap());
                let got = decode_spki_pem(&b64(&epoch["server_public_key_b64"]), 2048);
                assert_eq!(got, Ok((params.clone(), server)));
            }
        }
    }

    #[test]
    fn refuses_trailing_data_after_structure() {
        let (_, params) = group("ffdhe2048");
        let (label, _, mut der) = params_der(&params);
        der.push(0);
        assert_eq!(
            decode_params_pem(armor(label, &der).as_bytes(), 4096),
            Err(DhError::TrailingData)
        );
        let spki = encode_spki_pem(&params, &[5]);
        let mut der = pem_rfc7468::decode_vec(spki.as_bytes()).unwrap().1;
        der.extend_from_slice(&[2, 1, 1]);
        assert_eq!(
            decode_spki_pem(armor(LABEL_SPKI, &der).as_bytes(), 4096),
            Err(DhError::TrailingData)
        );
    }

    #[test]
    fn refuses_trailing_data_inside_bit_string() {
        let (_, params) = group("adhoc-512");
        let (_, oid, der) = params_der(&params);
        let mut key = y_der(&[5]);
        key.push(0);
        let pem = spki(oid, &der, BitStringRef::from_bytes(&key).unwrap());
        assert_eq!(
            decode_spki_pem(pem.as_bytes(), 512),
            Err(DhError::TrailingData)
        );
    }

    #[test]
    fn refuses_wrong_label() {
        let (_, params) = group("adhoc-512");
        let pem = encode_params_pem(&params);
        assert_eq!(
            decode_spki_pem(pem.as_bytes(), 512),
            Err(DhError::UnexpectedLabel(LABEL_PKCS3.to_string()))
        );
        let pem = encode_spki_pem(&params, &[5]);
        assert_eq!(
            decode_params_pem(pem.as_bytes(), 512),
            Err(DhError::UnexpectedLabel(LABEL_SPKI.to_string()))
        );
    }

    #[test]
    fn refuses_bad_armor() {
        let (_, params) = group("adhoc-512");
        let pem = encode_params_pem(&params);
        let broken = pem.replace("-----END DH", "-----END XX");
        assert_eq!(decode_params_pem(broken.as_bytes(), 512), Err(DhError::Pem));
        let broken = pem.replacen("MEYC", "ME*C", 1);
        assert_eq!(decode_params_pem(broken.as_bytes(), 512), Err(DhError::Pem));
        assert_eq!(decode_spki_pem(b"", 512), Err(DhError::Pem));
    }

    #[test]
    fn refuses_unknown_oid() {
        let (_, params) = group("adhoc-512");
        let (_, _, der) = params_der(&params);
        let key = y_der(&[5]);
        let rsa = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
        let pem = spki(rsa, &der, BitStringRef::from_bytes(&key).unwrap());
        assert_eq!(
            decode_spki_pem(pem.as_bytes(), 512),
            Err(DhError::UnknownAlgorithm(
                "1.2.840.113549.1.1.1".to_string()
            ))
        );
    }

    #[test]
    fn refuses_zero_p() {
        let der = seq(&[&[0], &[2]]);
        assert_eq!(
            decode_params_pem(armor(LABEL_PKCS3, &der).as_bytes(), 512),
            Err(DhError::NonPositiveInteger)
        );
    }

    #[test]
    fn refuses_negative_g() {
        let (_, params) = group("ffdhe2048");
        let p = signed(&params.p);
        let q = signed(params.q.as_ref().unwrap());
        let der = seq(&[&p, &[0xfe], &q]);
        assert_eq!(
            decode_params_pem(armor(LABEL_X942, &der).as_bytes(), 2048),
            Err(DhError::NonPositiveInteger)
        );
    }

    #[test]
    fn refuses_zero_or_negative_y() {
        let (_, params) = group("adhoc-512");
        let (_, oid, der) = params_der(&params);
        for key in [vec![2, 1, 0], vec![2, 1, 0x80], vec![2, 2, 0xff, 0x7f]] {
            let pem = spki(oid, &der, BitStringRef::from_bytes(&key).unwrap());
            assert_eq!(
                decode_spki_pem(pem.as_bytes(), 512),
                Err(DhError::NonPositiveInteger)
            );
        }
    }

    #[test]
    fn refuses_non_minimal_integer() {
        let (_, params) = group("adhoc-512");
        let p = signed(&params.p);
        let der = seq(&[&p, &[0, 2]]);
        assert_eq!(
            decode_params_pem(armor(LABEL_PKCS3, &der).as_bytes(), 512),
            Err(DhError::Der)
        );
        let mut padded = vec![0];
        padded.extend_from_slice(&p);
        let der = seq(&[&padded, &[2]]);
        assert_eq!(
            decode_params_pem(armor(LABEL_PKCS3, &der).as_bytes(), 512),
            Err(DhError::Der)
        );
    }

    #[test]
    fn refuses_unused_bits_in_bit_string() {
        let (_, params) = group("adhoc-512");
        let (_, oid, der) = params_der(&params);
        let key = y_der(&[8]);
        let pem = spki(oid, &der, BitStringRef::new(3, &key).unwrap());
        assert_eq!(decode_spki_pem(pem.as_bytes(), 512), Err(DhError::Der));
    }

    #[test]
    fn refuses_p_over_the_limit() {
        let (v, params) = group("ffdhe2048");
        let pem = b64(&v["params_b64"]);
        let too_large = DhError::GroupTooLarge {
            bits: 2048,
            limit: 2047,
        };
        assert_eq!(decode_params_pem(&pem, 2047), Err(too_large.clone()));
        let pem = b64(&v["client_public_key_b64"]);
        assert_eq!(decode_spki_pem(&pem, 2047), Err(too_large));
        // One mebibyte of p is refused without copying it.
        let mut big = vec![0xff; 1 << 20];
        big[0] = 0x7f;
        let der = seq(&[&big, &[2]]);
        let (bits, limit) = (8 * (1 << 20) - 1, 8192);
        assert_eq!(
            decode_params_pem(armor(LABEL_PKCS3, &der).as_bytes(), limit),
            Err(DhError::GroupTooLarge { bits, limit })
        );
        assert_eq!(decode_params_pem(&b64(&v["params_b64"]), 2048), Ok(params));
    }

    #[test]
    fn accepts_pkcs3_private_value_length() {
        let (_, params) = group("adhoc-512");
        let der = seq(&[&signed(&params.p), &[2], &[1, 0]]);
        assert_eq!(
            decode_params_pem(armor(LABEL_PKCS3, &der).as_bytes(), 512),
            Ok(params.clone())
        );
        let (_, oid, _) = params_der(&params);
        let key = y_der(&[5]);
        let pem = spki(oid, &der, BitStringRef::from_bytes(&key).unwrap());
        assert_eq!(decode_spki_pem(pem.as_bytes(), 512), Ok((params, vec![5])));
    }

    #[test]
    fn accepts_x942_j_and_validation_parms() {
        let (_, params) = group("ffdhe2048");
        let q = params.q.as_ref().unwrap();
        let full = DomainParameters {
            p: uint(&params.p),
            g: uint(&params.g),
            q: uint(q),
            j: Some(IntRef::new(&[2]).unwrap()),
            validation_parms: Some(ValidationParms {
                seed: BitStringRef::from_bytes(&[0x5e; 20]).unwrap(),
                pgen_counter: IntRef::new(&[1, 0x2c]).unwrap(),
            }),
        }
        .to_der()
        .unwrap();
        assert_eq!(
            decode_params_pem(armor(LABEL_X942, &full).as_bytes(), 2048),
            Ok(params.clone())
        );
        let key = y_der(&[5]);
        let pem = spki(
            OID_DH_PUBLIC_NUMBER,
            &full,
            BitStringRef::from_bytes(&key).unwrap(),
        );
        assert_eq!(decode_spki_pem(pem.as_bytes(), 2048), Ok((params, vec![5])));
    }

    #[test]
    fn refuses_extra_fields() {
        // der reports elements after the last known field as trailing data.
        let der = seq(&[&[0x41], &[2], &[1], &[1]]);
        assert_eq!(
            decode_params_pem(armor(LABEL_PKCS3, &der).as_bytes(), 512),
            Err(DhError::TrailingData)
        );
        let der = seq(&[&[0x41], &[2], &[1], &[1], &[1]]);
        assert_eq!(
            decode_params_pem(armor(LABEL_X942, &der).as_bytes(), 512),
            Err(DhError::TrailingData)
        );
    }

    #[test]
    fn refuses_missing_fields() {
        let (_, params) = group("ffdhe2048");
        // X9.42 without q.
        let der = seq(&[&signed(&params.p), &[2]]);
        assert_eq!(
            decode_params_pem(armor(LABEL_X942, &der).as_bytes(), 2048),
            Err(DhError::Der)
        );
        // SubjectPublicKeyInfo without parameters.
        let key = y_der(&[5]);
        let spki = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifier {
                oid: OID_DH_KEY_AGREEMENT,
                parameters: None,
            },
            subject_public_key: BitStringRef::from_bytes(&key).unwrap(),
        };
        let pem = armor(LABEL_SPKI, &spki.to_der().unwrap());
        assert_eq!(decode_spki_pem(pem.as_bytes(), 2048), Err(DhError::Der));
    }
}
