//! The `dh_decoders` target: the DH decoders, each given the whole input:
//!
//! * `Group::from_pem(data, 8192)` (`DH PARAMETERS` / `X9.42 DH PARAMETERS`);
//! * for ffdhe2048, `public_key_from_pem(data)` (`PUBLIC KEY` SPKI) and
//!   `public_key_from_bytes(data)` (big-endian y, validated).
//!
//! Checks, besides "never panics": whatever decodes re-encodes (`to_pem`,
//! `to_bytes`) to something that decodes to an equal value and encodes to
//! the same text again; an accepted public value y satisfies 1 < y < p - 1.

use std::sync::LazyLock;

use securex::dh::{DEFAULT_MAX_GROUP_BITS, Group, NamedGroup, PublicKey};

static FFDHE2048: LazyLock<Group> = LazyLock::new(|| Group::named(NamedGroup::Ffdhe2048));

/// Big-endian without leading zeros, as the getters promise.
fn trimmed(bytes: &[u8]) -> bool {
    bytes.first() != Some(&0)
}

/// A decoded key re-encodes both ways to itself.
fn check_key(group: &Group, key: &PublicKey) {
    assert_eq!(key.group(), group);
    let pem = key.to_pem();
    let again = group.public_key_from_pem(pem.as_bytes());
    assert_eq!(again.as_ref(), Ok(key), "PEM of a key does not decode");
    assert_eq!(again.map(|k| k.to_pem()), Ok(pem), "key PEM is not stable");
    let bytes = key.to_bytes();
    assert!(trimmed(&bytes) && !bytes.is_empty(), "y has leading zeros");
    assert!(bytes.len() > 1 || bytes[0] > 1, "accepted y <= 1");
    // p is odd, so p - 1 differs from p only in its last byte.
    let mut p_minus_1 = group.modulus().to_vec();
    *p_minus_1.last_mut().unwrap() -= 1;
    let below = (bytes.len(), &bytes) < (p_minus_1.len(), &p_minus_1);
    assert!(below, "accepted y >= p - 1");
    assert_eq!(group.public_key_from_bytes(&bytes).as_ref(), Ok(key));
}

/// Runs one input.
pub fn run(data: &[u8]) {
    super::assert_checked_build();
    if let Ok(group) = Group::from_pem(data, DEFAULT_MAX_GROUP_BITS) {
        assert!((securex::dh::MIN_GROUP_BITS..=DEFAULT_MAX_GROUP_BITS).contains(&group.bits()));
        let pem = group.to_pem();
        let again = Group::from_pem(pem.as_bytes(), DEFAULT_MAX_GROUP_BITS);
        assert_eq!(again.as_ref(), Ok(&group), "PEM of a group does not decode");
        assert_eq!(
            again.map(|g| g.to_pem()),
            Ok(pem),
            "group PEM is not stable"
        );
        assert!(trimmed(group.modulus()) && trimmed(group.generator()));
        assert!(group.subgroup_order().is_none_or(trimmed));
        assert_eq!(group.byte_len(), group.modulus().len());
        assert_eq!(group.bits().div_ceil(8) as usize, group.byte_len());
        if let Some(named) = group.named_group() {
            assert_eq!(group.bits(), named.bits());
        }
    }

    let group = &*FFDHE2048;
    if let Ok(key) = group.public_key_from_pem(data) {
        check_key(group, &key);
    }
    if let Ok(key) = group.public_key_from_bytes(data) {
        check_key(group, &key);
    }
}
