//! Project Wycheproof vectors (`testvectors_v1`) for the RustCrypto primitives
//! securex builds on: AES-128-GCM, AES-128-CBC-PKCS#7, HMAC-SHA-256/512,
//! HKDF-SHA-256/512 and PBKDF2-HMAC-SHA-256.
//!
//! The files are read at run time from `shared/vectors/wycheproof/`, which sits
//! beside the project's root (see `shared/vectors/README.md`).
//!
//! Every case runs a few checks that together reproduce the vector. A `valid`
//! case must pass all of them, an `invalid` one must fail all of them (a
//! decryption or verification that accepts is an error, even if another check
//! fails). An `acceptable` case is treated like a valid one when it passes, and
//! may instead be refused as a whole, but never half-way; none of the selected
//! files contains one today. Each test also pins the number of valid, invalid
//! and acceptable cases it ran, so a changed or truncated file, or a group that
//! is no longer selected, fails.

use aes::Aes128;
use aes_gcm::AesGcm;
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use cipher::block_padding::Pkcs7;
use cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hkdf::Hkdf;
use hmac::{EagerHash, Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use sha2::{Sha256, Sha512};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/wycheproof/");

/// A Wycheproof file: groups of parameters `P`, each with tests of data `D`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File<P, D> {
    algorithm: String,
    number_of_tests: usize,
    test_groups: Vec<Group<P, D>>,
}

#[derive(Deserialize)]
struct Group<P, D> {
    #[serde(flatten)]
    params: P,
    tests: Vec<Test<D>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Test<D> {
    tc_id: u32,
    comment: String,
    result: Expected,
    #[serde(flatten)]
    data: D,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expected {
    Valid,
    Invalid,
    Acceptable,
}

/// Cases run, by expected result.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

impl Counts {
    fn add(&mut self, result: Expected) {
        match result {
            Expected::Valid => self.valid += 1,
            Expected::Invalid => self.invalid += 1,
            Expected::Acceptable => self.acceptable += 1,
        }
    }
}

/// Named checks that together reproduce one vector.
type Checks = Vec<(&'static str, bool)>;

/// Group parameters of the files that need none.
#[derive(Deserialize)]
struct NoParams {}

fn hex<'de, De: Deserializer<'de>>(d: De) -> Result<Vec<u8>, De::Error> {
    let s = String::deserialize(d)?;
    base16ct::mixed::decode_vec(&s).map_err(serde::de::Error::custom)
}

fn load<P: DeserializeOwned, D: DeserializeOwned>(name: &str, algorithm: &str) -> File<P, D> {
    let path = format!("{VECTORS}{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let file: File<P, D> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
    assert_eq!(file.algorithm, algorithm, "{name}");
    let total: usize = file.test_groups.iter().map(|g| g.tests.len()).sum();
    assert_eq!(total, file.number_of_tests, "{name}: numberOfTests");
    file
}

/// Runs `case` on every test of the groups `select` keeps and checks each
/// against its expected result; returns the counts of cases run.
fn run<P, D>(
    file: &File<P, D>,
    select: impl Fn(&P) -> bool,
    case: impl Fn(&P, &D) -> Checks,
) -> Counts {
    let mut in_file = Counts::default();
    let mut ran = Counts::default();
    for group in file.test_groups.iter().filter(|g| select(&g.params)) {
        group.tests.iter().for_each(|t| in_file.add(t.result));
        for t in &group.tests {
            let checks = case(&group.params, &t.data);
            let passed = checks.iter().filter(|(_, ok)| *ok).count();
            let ok = match t.result {
                Expected::Valid => passed == checks.len(),
                Expected::Invalid => passed == 0,
                Expected::Acceptable => passed == 0 || passed == checks.len(),
            };
            assert!(
                ok,
                "{} tcId {} ({}) is {:?}, checks: {:?}",
                file.algorithm, t.tc_id, t.comment, t.result, checks
            );
            ran.add(t.result);
        }
    }
    assert_eq!(ran, in_file, "{}: cases run", file.algorithm);
    ran
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    clippy::struct_field_names,
    reason = "the fields are Wycheproof's `keySize`, `ivSize` and `tagSize`"
)]
struct AeadParams {
    key_size: u32,
    iv_size: u32,
    tag_size: u32,
}

#[derive(Deserialize)]
struct AeadCase {
    #[serde(deserialize_with = "hex")]
    key: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    iv: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    aad: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    msg: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    ct: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    tag: Vec<u8>,
}

fn gcm<C: KeyInit + AeadInOut>(c: &AeadCase) -> Checks {
    let (Ok(cipher), Ok(nonce)) = (
        C::new_from_slice(&c.key),
        Nonce::<C>::try_from(c.iv.as_slice()),
    ) else {
        return vec![("key and IV sizes fit", false)];
    };
    let mut ct = c.msg.clone();
    let sealed = cipher
        .encrypt_inout_detached(&nonce, &c.aad, ct.as_mut_slice().into())
        .is_ok_and(|tag| ct == c.ct && tag.as_slice() == c.tag);
    let mut pt = c.ct.clone();
    let opened = Tag::<C>::try_from(c.tag.as_slice()).is_ok_and(|tag| {
        cipher
            .decrypt_inout_detached(&nonce, &c.aad, pt.as_mut_slice().into(), &tag)
            .is_ok()
    });
    vec![
        ("seal gives ct and tag", sealed),
        ("open accepts the tag", opened),
        ("open gives msg", opened && pt == c.msg),
    ]
}

#[test]
fn aes_128_gcm() {
    let file = load("aes_gcm_test.json", "AES-GCM");
    let counts = run(
        &file,
        |p: &AeadParams| p.key_size == 128 && p.tag_size == 128 && [96, 128].contains(&p.iv_size),
        |p, c| match p.iv_size {
            96 => gcm::<AesGcm<Aes128, U12>>(c),
            _ => gcm::<AesGcm<Aes128, U16>>(c),
        },
    );
    // 96-bit IVs: 40 valid, 27 invalid (modified tags); 128-bit IVs: 20 valid.
    let expected = Counts {
        valid: 60,
        invalid: 27,
        acceptable: 0,
    };
    assert_eq!(counts, expected);
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CbcParams {
    key_size: u32,
}

#[derive(Deserialize)]
struct CbcCase {
    #[serde(deserialize_with = "hex")]
    key: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    iv: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    msg: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    ct: Vec<u8>,
}

fn cbc_128(c: &CbcCase) -> Checks {
    let (Ok(enc), Ok(dec)) = (
        cbc::Encryptor::<Aes128>::new_from_slices(&c.key, &c.iv),
        cbc::Decryptor::<Aes128>::new_from_slices(&c.key, &c.iv),
    ) else {
        return vec![("key and IV sizes fit", false)];
    };
    let ct = enc.encrypt_padded_vec::<Pkcs7>(&c.msg);
    let pt = dec.decrypt_padded_vec::<Pkcs7>(&c.ct);
    vec![
        ("encrypt gives ct", ct == c.ct),
        ("decrypt accepts the padding", pt.is_ok()),
        ("decrypt gives msg", pt.is_ok_and(|pt| pt == c.msg)),
    ]
}

#[test]
fn aes_128_cbc_pkcs5() {
    let file = load("aes_cbc_pkcs5_test.json", "AES-CBC-PKCS5");
    let counts = run(&file, |p: &CbcParams| p.key_size == 128, |_, c| cbc_128(c));
    let expected = Counts {
        valid: 24,
        invalid: 48,
        acceptable: 0,
    };
    assert_eq!(counts, expected);
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MacParams {
    tag_size: usize,
}

#[derive(Deserialize)]
struct MacCase {
    #[serde(deserialize_with = "hex")]
    key: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    msg: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    tag: Vec<u8>,
}

fn hmac_file<M: Mac + KeyInit>(name: &str, algorithm: &str) -> Counts {
    let file = load(name, algorithm);
    run(
        &file,
        |p: &MacParams| p.tag_size == 8 * M::output_size(),
        |_, c: &MacCase| {
            let mac = || M::new_from_slice(&c.key).map(|m| m.chain_update(&c.msg));
            vec![
                (
                    "tag equals",
                    mac().is_ok_and(|m| m.finalize().into_bytes().as_slice() == c.tag),
                ),
                (
                    "verify_slice accepts",
                    mac().is_ok_and(|m| m.verify_slice(&c.tag).is_ok()),
                ),
            ]
        },
    )
}

#[test]
fn hmac_sha256() {
    let counts = hmac_file::<Hmac<Sha256>>("hmac_sha256_test.json", "HMACSHA256");
    let expected = Counts {
        valid: 33,
        invalid: 54,
        acceptable: 0,
    };
    assert_eq!(counts, expected);
}

#[test]
fn hmac_sha512() {
    let counts = hmac_file::<Hmac<Sha512>>("hmac_sha512_test.json", "HMACSHA512");
    let expected = Counts {
        valid: 33,
        invalid: 54,
        acceptable: 0,
    };
    assert_eq!(counts, expected);
}

#[derive(Deserialize)]
struct HkdfCase {
    #[serde(deserialize_with = "hex")]
    ikm: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    salt: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    info: Vec<u8>,
    size: usize,
    #[serde(deserialize_with = "hex")]
    okm: Vec<u8>,
}

fn hkdf_file<H: EagerHash>(name: &str, algorithm: &str) -> Counts {
    let file = load(name, algorithm);
    run(
        &file,
        |_: &NoParams| true,
        |_, c: &HkdfCase| {
            // An empty salt is the same HMAC key as the default of HashLen zeros.
            let mut okm = vec![0; c.size];
            let expanded = Hkdf::<H>::new(Some(&c.salt), &c.ikm)
                .expand(&c.info, &mut okm)
                .is_ok();
            vec![
                ("expand accepts the size", expanded),
                ("okm equals", expanded && okm == c.okm),
            ]
        },
    )
}

#[test]
fn hkdf_sha256() {
    let counts = hkdf_file::<Sha256>("hkdf_sha256_test.json", "HKDF-SHA-256");
    let expected = Counts {
        valid: 83,
        invalid: 3,
        acceptable: 0,
    };
    assert_eq!(counts, expected);
}

#[test]
fn hkdf_sha512() {
    let counts = hkdf_file::<Sha512>("hkdf_sha512_test.json", "HKDF-SHA-512");
    let expected = Counts {
        valid: 80,
        invalid: 3,
        acceptable: 0,
    };
    assert_eq!(counts, expected);
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PbkdfCase {
    #[serde(deserialize_with = "hex")]
    password: Vec<u8>,
    #[serde(deserialize_with = "hex")]
    salt: Vec<u8>,
    iteration_count: u32,
    dk_len: usize,
    #[serde(deserialize_with = "hex")]
    dk: Vec<u8>,
}

#[test]
fn pbkdf2_hmac_sha256() {
    let file = load("pbkdf2_hmacsha256_test.json", "PBKDF2-HMACSHA256");
    let counts = run(
        &file,
        |_: &NoParams| true,
        |_, c: &PbkdfCase| {
            let mut dk = vec![0; c.dk_len];
            pbkdf2::pbkdf2_hmac::<Sha256>(&c.password, &c.salt, c.iteration_count, &mut dk);
            vec![("dk equals", dk == c.dk)]
        },
    );
    // All valid (up to 80000 iterations). The file has no invalid case; a new
    // one would change these counts and need its own check (pbkdf2_hmac
    // cannot refuse parameters, so "dk differs" alone would prove nothing).
    let expected = Counts {
        valid: 60,
        invalid: 0,
        acceptable: 0,
    };
    assert_eq!(counts, expected);
}
