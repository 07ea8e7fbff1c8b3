//! Finite-field Diffie-Hellman on `crypto-bigint`.
//!
//! * [`Group`]: a modulus p, a generator g and, where known, the order q of
//!   the subgroup g generates. Either one of the RFC 7919 [`NamedGroup`]s or
//!   an ad-hoc group received from a peer (v1 peers generate 512-bit groups
//!   per process), refused beyond a size limit.
//! * [`KeyPair`]: a private exponent drawn from a caller-supplied RNG and its
//!   public value. Exponents are as long as RFC 7919 section 5.2 asks for
//!   named groups (225, 275, 325 bits) and `bits(p) - 2` bits for ad-hoc
//!   groups, as OpenSSL-based peers draw them, whatever q an ad-hoc group
//!   carries. Exponentiation with the private exponent is constant time
//!   over the exponent's bound.
//! * [`PublicKey`]: a validated public value, `1 < y < p - 1`, and a member
//!   of the order-q subgroup where q is known.
//! * [`SharedSecret`]: `y^x mod p`, big-endian, left-padded to the length of
//!   p, zeroized on drop.
//!
//! Encodings: `DH PARAMETERS` (PKCS#3) and `X9.42 DH PARAMETERS` PEM for
//! groups, `PUBLIC KEY` (`SubjectPublicKeyInfo`, dhKeyAgreement or X9.42
//! dhpublicnumber) for public keys. Groups with q are written in the X9.42
//! forms, groups without in the PKCS#3 forms, as OpenSSL does.
//!
//! ```
//! use securex::dh::{Group, NamedGroup, KeyPair};
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
//! # use rand_core::SeedableRng;
//! let group = Group::named(NamedGroup::Ffdhe2048);
//! let alice = KeyPair::generate(&group, &mut rng);
//! let bob = KeyPair::generate(&group, &mut rng);
//! // The public key travels as PEM and is validated on arrival.
//! let bob_public = group.public_key_from_pem(bob.public_key().to_pem().as_bytes())?;
//! let z1 = alice.agree(&bob_public)?;
//! let z2 = bob.agree(alice.public_key())?;
//! assert_eq!(z1.dangerously_expose_bytes(), z2.dangerously_expose_bytes());
//! assert_eq!(z1.dangerously_expose_bytes().len(), 256);
//! # Ok::<(), securex::error::DhError>(())
//! ```
//!
//! # The subgroup order q
//!
//! q is what the subgroup check of public values tests against, so a
//! received q is never taken on trust:
//!
//! * A modulus and generator that are an RFC 7919 group's **are** that
//!   group, received with or without q: its q is `(p - 1) / 2`, and
//!   parameters naming any other q are refused
//!   ([`DhError::InvalidSubgroupOrder`]). Otherwise q = p - 1 would pass
//!   every value.
//! * An ad-hoc group (v1 only) may carry a q. It is accepted only if it
//!   makes sense: at least [`MIN_SUBGROUP_ORDER_BITS`] bits, a proper
//!   divisor of `p - 1` (so not `p - 1` itself), and `g^q = 1 (mod p)`;
//!   else [`DhError::InvalidSubgroupOrder`]. It then serves the subgroup
//!   check of public values, and nothing else: not the length of private
//!   exponents (always `bits(p) - 2`) nor the bound of imported ones. q is
//!   not tested for primality (nor is an ad-hoc p): the check a q enables
//!   can only narrow the values accepted, never widen them beyond the
//!   range check that groups without q get, and an ad-hoc group is the
//!   choice of the peer, in v1, which authenticates nothing. For an ad-hoc
//!   group the check is `y^q = 1 (mod p)`; the Legendre-symbol shortcut is
//!   kept for the named groups, whose p is known to be a safe prime.

pub(crate) mod encoding;
mod jacobi;
mod named;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, JacobiSymbol, Odd, RandomBits, Word};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::error::DhError;
use encoding::RawParams;
pub use named::NamedGroup;

/// The default limit on the size of a received modulus, in bits.
pub const DEFAULT_MAX_GROUP_BITS: u32 = 8192;

/// The smallest modulus accepted, in bits. Existing v1 peers use 512-bit
/// groups, which are breakable; v2 accepts only the named groups.
pub const MIN_GROUP_BITS: u32 = 512;

/// The smallest subgroup order q accepted with an ad-hoc group, in bits:
/// the smallest N of the FIPS 186-4 and SP 800-56A parameter sets (as in
/// RFC 5114's 1024-bit group). A public value that passes the check of a
/// smaller q lies in a subgroup too small to hide a key.
pub const MIN_SUBGROUP_ORDER_BITS: u32 = 160;

/// A finite-field DH group. Cheap to clone.
#[derive(Clone)]
pub struct Group {
    inner: Arc<GroupInner>,
}

struct GroupInner {
    raw: RawParams,
    named: Option<NamedGroup>,
    /// p with the precision (whole limbs) every operand uses.
    p: Odd<BoxedUint>,
    /// p - 1, the upper (excluded) bound of public values.
    p_minus_1: BoxedUint,
    /// g in Montgomery form, the base of every key pair's exponentiation.
    g: BoxedMontyForm,
    /// The q public values are checked against: `(p - 1) / 2` for a named
    /// group, a validated received q for an ad-hoc one.
    q: Option<BoxedUint>,
    /// A named group: p is a safe prime, q = (p - 1) / 2, and membership of
    /// the subgroup is a Legendre symbol.
    safe_prime: bool,
    monty: BoxedMontyParams,
}

impl Group {
    /// One of the RFC 7919 groups. With `std`, each is built once per
    /// process and shared (its p, q and Montgomery parameters, about
    /// 2.5 KB for ffdhe2048, are then not held by every connection).
    #[must_use]
    pub fn named(group: NamedGroup) -> Group {
        #[cfg(feature = "std")]
        {
            static NAMED: [std::sync::OnceLock<Group>; 3] = [
                std::sync::OnceLock::new(),
                std::sync::OnceLock::new(),
                std::sync::OnceLock::new(),
            ];
            let slot = match group {
                NamedGroup::Ffdhe2048 => &NAMED[0],
                NamedGroup::Ffdhe3072 => &NAMED[1],
                NamedGroup::Ffdhe4096 => &NAMED[2],
            };
            slot.get_or_init(|| Group::build_named(group)).clone()
        }
        #[cfg(not(feature = "std"))]
        Group::build_named(group)
    }

    // Cannot fail: the constants are the RFC's (checked against the
    // vectors by the tests), valid hexadecimal of their size.
    #[allow(clippy::expect_used)]
    fn build_named(group: NamedGroup) -> Group {
        let bits = group.bits();
        let p = BoxedUint::from_str_radix_with_precision_vartime(group.p_hex(), 16, bits)
            .expect("RFC 7919 constants are valid hexadecimal of their size");
        let q = p.shr(1);
        let raw = RawParams {
            p: p.to_be_bytes_trimmed_vartime().into_vec(),
            g: alloc::vec![2],
            q: Some(q.to_be_bytes_trimmed_vartime().into_vec()),
        };
        Group::from_raw(raw, bits).expect("RFC 7919 groups are valid")
    }

    /// Decodes a `DH PARAMETERS` or `X9.42 DH PARAMETERS` PEM, refusing a
    /// modulus of more than `max_bits` bits, and a q that does not belong
    /// to the group ([`DhError::InvalidSubgroupOrder`]: for the RFC 7919
    /// groups anything but `(p - 1) / 2`, for ad-hoc groups see
    /// [the module documentation](self#the-subgroup-order-q)).
    ///
    /// # Errors
    ///
    /// * [`DhError::Pem`], [`DhError::UnexpectedLabel`], [`DhError::Der`],
    ///   [`DhError::TrailingData`]: not a well-formed PEM of DH parameters;
    /// * [`DhError::NonPositiveInteger`]: p, g or q zero or negative;
    /// * [`DhError::GroupTooLarge`]: p of more than `max_bits` bits;
    /// * [`DhError::InvalidGroup`]: p even or of fewer than
    ///   [`MIN_GROUP_BITS`] bits, or g outside `1 < g < p - 1`;
    /// * [`DhError::InvalidSubgroupOrder`]: a q the group cannot have.
    pub fn from_pem(pem: &[u8], max_bits: u32) -> Result<Group, DhError> {
        Group::from_pem_with_adhoc_limit(pem, max_bits, max_bits)
    }

    /// As [`Group::from_pem`], and refuses an ad-hoc group (not one of the
    /// RFC 7919 groups) of more than `max_adhoc_bits` bits with
    /// [`DhError::GroupTooLarge`] before any arithmetic on it: its
    /// validation and key agreement are the costliest work a peer can ask
    /// for (exponents of `bits - 2` bits). `0` refuses every ad-hoc group.
    ///
    /// # Errors
    ///
    /// Those of [`Group::from_pem`], and [`DhError::GroupTooLarge`] for an
    /// ad-hoc group of more than `max_adhoc_bits` bits.
    pub fn from_pem_with_adhoc_limit(
        pem: &[u8],
        max_bits: u32,
        max_adhoc_bits: u32,
    ) -> Result<Group, DhError> {
        let raw = encoding::decode_params_pem(pem, max_bits)?;
        #[cfg(feature = "std")]
        if let Some(shared) = Group::shared_named(&raw, max_bits) {
            return Ok(shared);
        }
        Group::from_raw_limited(raw, max_bits, max_adhoc_bits)
    }

    /// The shared instance of the RFC 7919 group whose parameters are
    /// exactly `raw`, if any (within `max_bits`): checked once when it
    /// was built, it needs no checks, and no memory of its own.
    #[cfg(feature = "std")]
    fn shared_named(raw: &RawParams, max_bits: u32) -> Option<Group> {
        let bits = bit_len(&raw.p);
        NamedGroup::ALL
            .into_iter()
            .find(|n| n.bits() == bits && bits <= max_bits)
            .map(Group::named)
            .filter(|g| g.inner.raw == *raw)
    }

    /// Encodes the group as PEM: `X9.42 DH PARAMETERS` (p, g, q) when q is
    /// known, `DH PARAMETERS` (p, g) otherwise.
    #[must_use]
    pub fn to_pem(&self) -> String {
        encoding::encode_params_pem(&self.inner.raw)
    }

    /// Builds a group from integers, checking that it is usable: p odd and
    /// of `MIN_GROUP_BITS..=max_bits` bits, `1 < g < p - 1`, and a q, where
    /// given, that belongs to the group: `(p - 1) / 2` for an RFC 7919
    /// modulus and generator, else a proper divisor of `p - 1` of at least
    /// [`MIN_SUBGROUP_ORDER_BITS`] bits with `g^q = 1 (mod p)`.
    pub(crate) fn from_raw(raw: RawParams, max_bits: u32) -> Result<Group, DhError> {
        Group::from_raw_limited(raw, max_bits, max_bits)
    }

    /// As [`Group::from_raw`], with ad-hoc groups limited to
    /// `max_adhoc_bits` bits.
    fn from_raw_limited(
        raw: RawParams,
        max_bits: u32,
        max_adhoc_bits: u32,
    ) -> Result<Group, DhError> {
        let bits = bit_len(&raw.p);
        if bits > max_bits {
            return Err(DhError::GroupTooLarge {
                bits,
                limit: max_bits,
            });
        }
        if bits < MIN_GROUP_BITS {
            return Err(DhError::InvalidGroup);
        }
        // Whole limbs; no u32 holds them above 2^32 - 64 bits (reachable
        // only with `max_bits` near `u32::MAX`).
        let precision = bits
            .checked_next_multiple_of(Word::BITS)
            .ok_or(DhError::InvalidGroup)?;
        let int = |bytes: &[u8]| {
            BoxedUint::from_be_slice(bytes, precision).map_err(|_| DhError::InvalidGroup)
        };
        let p = int(&raw.p)?;
        let g = int(&raw.g)?;
        // A q longer than p cannot be the order of anything modulo p.
        let q = match raw.q.as_deref() {
            Some(q) if bit_len(q) > bits => return Err(DhError::InvalidSubgroupOrder),
            q => q.map(int).transpose()?,
        };
        let p: Odd<BoxedUint> = p.to_odd().into_option().ok_or(DhError::InvalidGroup)?;
        let one = BoxedUint::one_with_precision(precision);
        let p_minus_1 = p.as_ref().wrapping_sub(&one);
        if g <= one || g >= p_minus_1 {
            return Err(DhError::InvalidGroup);
        }
        let two = BoxedUint::from_be_slice(&[2], precision).map_err(|_| DhError::InvalidGroup)?;
        let named = NamedGroup::ALL.into_iter().find(|n| {
            n.bits() == bits
                && g == two
                && BoxedUint::from_str_radix_with_precision_vartime(n.p_hex(), 16, precision)
                    .is_ok_and(|np| np == *p.as_ref())
        });
        if named.is_none() && bits > max_adhoc_bits {
            return Err(DhError::GroupTooLarge {
                bits,
                limit: max_adhoc_bits,
            });
        }
        let monty = BoxedMontyParams::new_vartime(p.clone());
        let half = p_minus_1.shr(1);
        let q = match (named, q) {
            // An RFC 7919 modulus is that group, with its q and no other:
            // q = p - 1 would let every value pass the subgroup check.
            (Some(_), Some(q)) if q != half => return Err(DhError::InvalidSubgroupOrder),
            (Some(_), _) => Some(half),
            (None, Some(q)) => {
                check_adhoc_subgroup_order(&q, &p_minus_1, &g, &monty)?;
                Some(q)
            }
            (None, None) => None,
        };
        Ok(Group {
            inner: Arc::new(GroupInner {
                raw,
                named,
                p,
                p_minus_1,
                g: BoxedMontyForm::new(g, &monty),
                q,
                safe_prime: named.is_some(),
                monty,
            }),
        })
    }

    /// The RFC 7919 group this is, if it is one (whether or not q was
    /// received with it).
    #[must_use]
    pub fn named_group(&self) -> Option<NamedGroup> {
        self.inner.named
    }

    /// The modulus p, big-endian, without leading zeros.
    #[must_use]
    pub fn modulus(&self) -> &[u8] {
        &self.inner.raw.p
    }

    /// The generator g, big-endian, without leading zeros.
    #[must_use]
    pub fn generator(&self) -> &[u8] {
        &self.inner.raw.g
    }

    /// The subgroup order q as received or named, big-endian, without
    /// leading zeros; `None` for groups received without it.
    #[must_use]
    pub fn subgroup_order(&self) -> Option<&[u8]> {
        self.inner.raw.q.as_deref()
    }

    /// Bits of the modulus.
    #[must_use]
    pub fn bits(&self) -> u32 {
        bit_len(&self.inner.raw.p)
    }

    /// Bytes of the modulus: the length of every shared secret.
    #[must_use]
    pub fn byte_len(&self) -> usize {
        self.inner.raw.p.len()
    }

    /// Whether the subgroup order q is known (and public values are
    /// checked against it).
    #[must_use]
    pub fn has_subgroup_order(&self) -> bool {
        self.inner.q.is_some()
    }

    /// Bits of the private exponents drawn in this group: RFC 7919 lengths
    /// for named groups, and `bits(p) - 2` for ad-hoc groups, whatever q
    /// they carry (a received q never shortens an exponent).
    #[must_use]
    pub fn exponent_bits(&self) -> u32 {
        match self.inner.named {
            Some(named) => named.exponent_bits(),
            None => self.bits() - 2,
        }
    }

    fn precision(&self) -> u32 {
        self.inner.p.as_ref().bits_precision()
    }

    /// Decodes a `PUBLIC KEY` PEM whose parameters must be this group's
    /// (same p and g, and, where the key's parameters name a q, this
    /// group's q: `(p - 1) / 2` for a named group even if it was received
    /// without q), and validates the public value.
    ///
    /// # Errors
    ///
    /// * [`DhError::Pem`], [`DhError::UnexpectedLabel`], [`DhError::Der`],
    ///   [`DhError::TrailingData`], [`DhError::NonPositiveInteger`]: not a
    ///   well-formed `PUBLIC KEY` PEM with positive integers;
    /// * [`DhError::UnknownAlgorithm`]: neither dhKeyAgreement nor
    ///   dhpublicnumber;
    /// * [`DhError::GroupMismatch`]: parameters other than this group's (a
    ///   larger modulus among them, refused before any work on it);
    /// * those of [`public_key_from_bytes`](Self::public_key_from_bytes)
    ///   for the value.
    pub fn public_key_from_pem(&self, pem: &[u8]) -> Result<PublicKey, DhError> {
        // A key of a larger group is refused before any work on it.
        let (raw, y) = encoding::decode_spki_pem(pem, self.bits()).map_err(|e| match e {
            DhError::GroupTooLarge { .. } => DhError::GroupMismatch,
            other => other,
        })?;
        let same_q = match (&raw.q, &self.inner.q) {
            (None, _) => true,
            (Some(theirs), Some(ours)) => **theirs == *ours.to_be_bytes_trimmed_vartime(),
            (Some(_), None) => false,
        };
        if raw.p != self.inner.raw.p || raw.g != self.inner.raw.g || !same_q {
            return Err(DhError::GroupMismatch);
        }
        self.public_key_from_bytes(&y)
    }

    /// Validates a big-endian public value: `1 < y < p - 1`, and membership
    /// of the order-q subgroup where q is known. `y` is public, so the
    /// subgroup check may take variable time.
    ///
    /// # Errors
    ///
    /// [`DhError::PublicKeyOutOfRange`] outside `1 < y < p - 1`,
    /// [`DhError::PublicKeyNotInSubgroup`] outside the order-q subgroup.
    pub fn public_key_from_bytes(&self, y: &[u8]) -> Result<PublicKey, DhError> {
        let significant = &y[y.iter().take_while(|&&b| b == 0).count()..];
        if significant.len() > self.byte_len() {
            return Err(DhError::PublicKeyOutOfRange);
        }
        let y = BoxedUint::from_be_slice(significant, self.precision())
            .map_err(|_| DhError::PublicKeyOutOfRange)?;
        let one = BoxedUint::one_with_precision(self.precision());
        if y <= one || y >= self.inner.p_minus_1 {
            return Err(DhError::PublicKeyOutOfRange);
        }
        if !self.in_subgroup(&y) {
            return Err(DhError::PublicKeyNotInSubgroup);
        }
        Ok(PublicKey {
            group: self.clone(),
            y,
        })
    }

    fn in_subgroup(&self, y: &BoxedUint) -> bool {
        let Some(q) = &self.inner.q else {
            return true;
        };
        if self.inner.safe_prime {
            // For a safe prime p = 2q + 1, y is in the order-q subgroup iff
            // it is a quadratic residue: the Legendre symbol (y | p) = 1.
            // Only named groups get here: an ad-hoc p is not known to be
            // prime, and a Jacobi symbol modulo a composite proves nothing.
            return jacobi::jacobi_vartime(y, &self.inner.p) == JacobiSymbol::One;
        }
        // q is public: the exponentiation may stop at its length (a received
        // q of an ad-hoc group may be far shorter than p).
        let y = BoxedMontyForm::new(y.clone(), &self.inner.monty);
        y.pow_bounded_exp(q, q.bit_width_vartime()).retrieve()
            == BoxedUint::one_with_precision(self.precision())
    }
}

/// Checks a subgroup order received with an ad-hoc group: at least
/// [`MIN_SUBGROUP_ORDER_BITS`] bits, a proper divisor of `p - 1`, and
/// `g^q = 1 (mod p)`. Everything here is public: variable time is fine.
fn check_adhoc_subgroup_order(
    q: &BoxedUint,
    p_minus_1: &BoxedUint,
    g: &BoxedUint,
    monty: &BoxedMontyParams,
) -> Result<(), DhError> {
    let bits = q.bit_width_vartime();
    // q < p - 1 also rules out q = p - 1, which every value satisfies.
    if bits < MIN_SUBGROUP_ORDER_BITS || q >= p_minus_1 {
        return Err(DhError::InvalidSubgroupOrder);
    }
    let divisor = q
        .to_nz()
        .into_option()
        .ok_or(DhError::InvalidSubgroupOrder)?;
    if !bool::from(p_minus_1.rem_vartime(&divisor).is_zero()) {
        return Err(DhError::InvalidSubgroupOrder);
    }
    let g_q = BoxedMontyForm::new(g.clone(), monty)
        .pow_bounded_exp(q, bits)
        .retrieve();
    if g_q != BoxedUint::one_with_precision(q.bits_precision()) {
        return Err(DhError::InvalidSubgroupOrder);
    }
    Ok(())
}

impl PartialEq for Group {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.raw == other.inner.raw
    }
}

impl Eq for Group {}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.named {
            Some(named) => write!(f, "Group({named})"),
            None => write!(f, "Group(ad hoc, {} bits)", self.bits()),
        }
    }
}

/// A validated public value of a group.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    group: Group,
    y: BoxedUint,
}

impl PublicKey {
    /// The group the key belongs to.
    #[must_use]
    pub fn group(&self) -> &Group {
        &self.group
    }

    /// The public value, big-endian, without leading zeros.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.y.to_be_bytes_trimmed_vartime().into_vec()
    }

    /// Encodes the key as a `PUBLIC KEY` PEM (`SubjectPublicKeyInfo` with the
    /// group's parameters).
    #[must_use]
    pub fn to_pem(&self) -> String {
        encoding::encode_spki_pem(&self.group.inner.raw, &self.to_bytes())
    }

    /// Decodes a `PUBLIC KEY` PEM together with the group its parameters
    /// describe (refused beyond `max_bits`), and validates the value.
    ///
    /// # Errors
    ///
    /// Those of [`Group::from_pem`] for the parameters (the key's group
    /// is built with the same checks), [`DhError::UnknownAlgorithm`] for
    /// neither dhKeyAgreement nor dhpublicnumber, and those of
    /// [`Group::public_key_from_bytes`] for the value.
    pub fn from_pem(pem: &[u8], max_bits: u32) -> Result<PublicKey, DhError> {
        let (raw, y) = encoding::decode_spki_pem(pem, max_bits)?;
        Group::from_raw(raw, max_bits)?.public_key_from_bytes(&y)
    }

    /// The public value, big-endian, left-padded to the length of p.
    #[must_use]
    pub fn to_padded_bytes(&self) -> Vec<u8> {
        let bytes = self.to_bytes();
        let mut out = alloc::vec![0u8; self.group.byte_len().saturating_sub(bytes.len())];
        out.extend_from_slice(&bytes);
        out
    }

    /// SHA-256 of the padded public value: how a client names the server
    /// key it pins.
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(self.to_padded_bytes()).into()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

/// A private exponent and its public value.
///
/// The exponent is zeroized on drop and never shown by `Debug`.
pub struct KeyPair {
    x: BoxedUint,
    /// The bound on the exponent's bits handed to the exponentiation: its
    /// cost depends on this bound only, never on the exponent's value.
    x_bits: u32,
    public: PublicKey,
}

impl KeyPair {
    /// Draws a fresh key pair from `rng`, with an exponent of exactly
    /// [`Group::exponent_bits`] bits.
    pub fn generate<R: CryptoRng + ?Sized>(group: &Group, rng: &mut R) -> KeyPair {
        let bits = group.exponent_bits();
        let precision = group.precision();
        let mut x = BoxedUint::random_bits_with_precision(rng, bits, precision);
        // bits <= bits(p) - 2 < precision.
        x.as_mut_uint_ref().set_bit_vartime(bits - 1, true);
        KeyPair::from_exponent(group, x, bits)
    }

    /// Imports a private exponent (big-endian), e.g. a long-term key read
    /// from a file or a test vector. It must satisfy `1 < x < p - 1`, and
    /// `x < q = (p - 1) / 2` in a named group (a received q of an ad-hoc
    /// group bounds nothing). Exponentiation then costs as much as for a
    /// full-size exponent, so that the time does not reveal its length.
    ///
    /// # Errors
    ///
    /// [`DhError::InvalidPrivateKey`] outside that range.
    pub fn from_private_bytes(group: &Group, x: &[u8]) -> Result<KeyPair, DhError> {
        let significant = &x[x.iter().take_while(|&&b| b == 0).count()..];
        if significant.len() > group.byte_len() {
            return Err(DhError::InvalidPrivateKey);
        }
        let mut x = BoxedUint::from_be_slice(significant, group.precision())
            .map_err(|_| DhError::InvalidPrivateKey)?;
        let one = BoxedUint::one_with_precision(group.precision());
        let upper = match (group.inner.named, &group.inner.q) {
            (Some(_), Some(q)) => q,
            _ => &group.inner.p_minus_1,
        };
        if x <= one || x >= *upper {
            x.zeroize();
            return Err(DhError::InvalidPrivateKey);
        }
        Ok(KeyPair::from_exponent(group, x, group.precision()))
    }

    fn from_exponent(group: &Group, x: BoxedUint, x_bits: u32) -> KeyPair {
        let y = group.inner.g.pow_bounded_exp(&x, x_bits).retrieve();
        KeyPair {
            x,
            x_bits,
            public: PublicKey {
                group: group.clone(),
                y,
            },
        }
    }

    /// The private exponent, big-endian, for storing a long-term key
    /// (zeroized when dropped). Whoever reads it can impersonate the key's
    /// owner: store it readable by its owner only.
    #[must_use]
    pub fn dangerously_expose_private_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.x.to_be_bytes_trimmed_vartime().into_vec())
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The group of the pair.
    #[must_use]
    pub fn group(&self) -> &Group {
        &self.public.group
    }

    /// Computes the shared secret with a peer's (validated) public key of
    /// the same group.
    ///
    /// # Errors
    ///
    /// [`DhError::GroupMismatch`] for a key of another group,
    /// [`DhError::DegenerateSharedSecret`] if the secret comes out as 1.
    pub fn agree(&self, peer: &PublicKey) -> Result<SharedSecret, DhError> {
        let group = self.group();
        if peer.group != *group {
            return Err(DhError::GroupMismatch);
        }
        let base = BoxedMontyForm::new(peer.y.clone(), &group.inner.monty);
        let mut z_form = base.pow_bounded_exp(&self.x, self.x_bits);
        let mut z = z_form.retrieve();
        z_form.zeroize();
        let degenerate = z == BoxedUint::one_with_precision(group.precision());
        let mut full: Box<[u8]> = z.to_be_bytes();
        z.zeroize();
        // The big-endian bytes span whole limbs; keep the length of p.
        let bytes = Zeroizing::new(full[full.len() - group.byte_len()..].to_vec());
        full.zeroize();
        if degenerate {
            return Err(DhError::DegenerateSharedSecret);
        }
        Ok(SharedSecret(bytes))
    }
}

impl Drop for KeyPair {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// A DH shared secret Z: big-endian, left-padded with zeros to the length
/// of p. Zeroized on drop, never shown by `Debug`.
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl SharedSecret {
    /// The bytes of Z. **Whoever reads them derives the session's keys**:
    /// they go into a key schedule and nowhere else.
    #[must_use]
    pub fn dangerously_expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

/// Bits of a big-endian magnitude without leading zero bytes, saturating
/// at `u32::MAX` (a magnitude from input may be longer than 2^29 bytes;
/// every caller compares the count with a limit of at most `u32::MAX`).
fn bit_len(bytes: &[u8]) -> u32 {
    bytes
        .first()
        .map_or(0, |&first| magnitude_bits(bytes.len(), first))
}

/// Bits of a magnitude of `len` bytes whose first byte is `first`,
/// saturating.
fn magnitude_bits(len: usize, first: u8) -> u32 {
    let whole = u32::try_from(len.saturating_sub(1)).map_or(u32::MAX, |n| n.saturating_mul(8));
    whole.saturating_add(8 - first.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With `std` the RFC 7919 groups are built once and shared, also when
    /// a peer's PEM is exactly one of them; any other PEM of the same
    /// modulus is checked and built as before.
    #[test]
    fn named_groups_are_shared_only_when_exactly_theirs() {
        for named in NamedGroup::ALL {
            let a = Group::named(named);
            assert!(Arc::ptr_eq(&a.inner, &Group::named(named).inner));
            let parsed = Group::from_pem(a.to_pem().as_bytes(), 8192).unwrap();
            assert!(Arc::ptr_eq(&a.inner, &parsed.inner), "{named:?}");
            assert!(Group::from_pem(a.to_pem().as_bytes(), named.bits() - 1).is_err());
        }
        let named = Group::named(NamedGroup::Ffdhe2048);
        let without_q = RawParams {
            q: None,
            ..named.inner.raw.clone()
        };
        let pem = encoding::encode_params_pem(&without_q);
        let parsed = Group::from_pem(pem.as_bytes(), 8192).unwrap();
        assert!(!Arc::ptr_eq(&named.inner, &parsed.inner));
        assert_eq!(parsed.named_group(), Some(NamedGroup::Ffdhe2048));
        let mut bad_q = named.inner.raw.clone();
        bad_q.q = Some(alloc::vec![3]);
        let pem = encoding::encode_params_pem(&bad_q);
        assert_eq!(
            Group::from_pem(pem.as_bytes(), 8192).err(),
            Some(DhError::InvalidSubgroupOrder)
        );
    }
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::from_seed([42; 32])
    }

    #[test]
    fn named_groups_agree_and_validate_each_other() {
        let mut rng = rng();
        for named in NamedGroup::ALL {
            let group = Group::named(named);
            assert_eq!(group.bits(), named.bits());
            assert_eq!(group.named_group(), Some(named));
            assert_eq!(group.exponent_bits(), named.exponent_bits());
            let a = KeyPair::generate(&group, &mut rng);
            let b = KeyPair::generate(&group, &mut rng);
            assert_eq!(a.x.bit_width_vartime(), named.exponent_bits());
            let b_pub = group
                .public_key_from_pem(b.public_key().to_pem().as_bytes())
                .unwrap();
            let a_pub = group
                .public_key_from_bytes(&a.public_key().to_bytes())
                .unwrap();
            let z1 = a.agree(&b_pub).unwrap();
            let z2 = b.agree(&a_pub).unwrap();
            assert_eq!(z1.dangerously_expose_bytes(), z2.dangerously_expose_bytes());
            assert_eq!(z1.dangerously_expose_bytes().len(), group.byte_len());
            // Same group decoded from its PEM: equal, and still named.
            let decoded =
                Group::from_pem(group.to_pem().as_bytes(), DEFAULT_MAX_GROUP_BITS).unwrap();
            assert_eq!(decoded, group);
            assert_eq!(decoded.named_group(), Some(named));
        }
    }

    /// In every named group, the subgroup check (a Legendre symbol) agrees
    /// with `y^q = 1 (mod p)` on random values, on squares (members) and on
    /// their negatives (non-members: p = 3 (mod 4), so -1 is a
    /// non-residue), and public-value validation follows it.
    #[test]
    fn legendre_symbol_agrees_with_exponentiation() {
        let mut rng = rng();
        for named in NamedGroup::ALL {
            let group = Group::named(named);
            let inner = &group.inner;
            let q = inner.q.clone().unwrap();
            let precision = group.precision();
            let one = BoxedUint::one_with_precision(precision);
            let by_pow = |y: &BoxedUint| {
                BoxedMontyForm::new(y.clone(), &inner.monty)
                    .pow(&q)
                    .retrieve()
                    == one
            };
            let mut random_members = 0;
            for i in 0..45 {
                let r =
                    BoxedUint::random_bits_with_precision(&mut rng, group.bits() - 1, precision);
                let square = BoxedMontyForm::new(r.clone(), &inner.monty)
                    .square()
                    .retrieve();
                let negated = inner.p.as_ref().wrapping_sub(&square);
                let (y, expected) = match i % 3 {
                    0 => (r.clone(), None),
                    1 => (square, Some(true)),
                    _ => (negated, Some(false)),
                };
                if y <= one || y >= inner.p_minus_1 {
                    continue;
                }
                let in_subgroup = by_pow(&y);
                if let Some(expected) = expected {
                    assert_eq!(in_subgroup, expected, "{named}: the test's own premise");
                }
                assert_eq!(group.in_subgroup(&y), in_subgroup, "{named}: {y}");
                let validated = group.public_key_from_bytes(&y.to_be_bytes());
                if in_subgroup {
                    assert!(validated.is_ok(), "{named}: {y}");
                } else {
                    assert_eq!(
                        validated,
                        Err(DhError::PublicKeyNotInSubgroup),
                        "{named}: {y}"
                    );
                }
                if expected.is_none() {
                    random_members += usize::from(in_subgroup);
                }
            }
            // About half of the 15 random values are members.
            assert!(
                (1..15).contains(&random_members),
                "{named}: {random_members}"
            );
            // The edges of the range: 2 is in the subgroup (g = 2 generates
            // it), p - 2 = -2 is not.
            let two = BoxedUint::from_be_slice(&[2], precision).unwrap();
            let minus_two = inner.p.as_ref().wrapping_sub(&two);
            assert!(group.in_subgroup(&two) && by_pow(&two), "{named}");
            assert!(
                !group.in_subgroup(&minus_two) && !by_pow(&minus_two),
                "{named}"
            );
        }
    }

    #[test]
    fn adhoc_groups_use_long_exponents_and_only_a_range_check() {
        let named = Group::named(NamedGroup::Ffdhe2048);
        // The ffdhe2048 modulus with another generator is not a named group.
        let raw = RawParams {
            p: named.modulus().to_vec(),
            g: alloc::vec![5],
            q: None,
        };
        let adhoc = Group::from_raw(raw, DEFAULT_MAX_GROUP_BITS).unwrap();
        assert_eq!(adhoc.named_group(), None);
        assert!(!adhoc.has_subgroup_order());
        assert_eq!(adhoc.exponent_bits(), 2046);
        // 7 is outside the order-q subgroup, but ad-hoc groups cannot tell.
        assert!(adhoc.public_key_from_bytes(&[7]).is_ok());
        assert_eq!(
            named.public_key_from_bytes(&[7]),
            Err(DhError::PublicKeyNotInSubgroup)
        );
    }

    #[test]
    fn named_modulus_without_q_is_still_checked_against_q() {
        let named = Group::named(NamedGroup::Ffdhe3072);
        let raw = RawParams {
            p: named.modulus().to_vec(),
            g: alloc::vec![2],
            q: None,
        };
        let group = Group::from_raw(raw, DEFAULT_MAX_GROUP_BITS).unwrap();
        assert_eq!(group.named_group(), Some(NamedGroup::Ffdhe3072));
        assert_eq!(group.exponent_bits(), 275);
        // 5 is a quadratic non-residue modulo the ffdhe3072 prime.
        assert_eq!(
            group.public_key_from_bytes(&[5]),
            Err(DhError::PublicKeyNotInSubgroup)
        );
        assert!(group.public_key_from_bytes(&[4]).is_ok());
    }

    /// RFC 5114 section 2.3, the 2048-bit MODP group with a 256-bit prime
    /// order subgroup, as `openssl genpkey -genparam -algorithm DHX -pkeyopt
    /// dh_rfc5114:3` writes it: an ad-hoc group with a q far shorter than p.
    const RFC5114_2048_256: &str = "-----BEGIN X9.42 DH PARAMETERS-----
MIICLAKCAQEAh6jmHbS2Zjz/u9GcZRlZmYzu9ghmDdDyXSzu1ENeOwDgDfjx1hlX
1Pr330VhsqowFsPZETQJb6o79Cltgw6afCCeDGSXUXq9WoqdMGvPZ+2R+eZyW0dY
wCLgse9Cdb97bFv8EdRfkIi5QfVOseWbuLw5oL8SMH9cT9twxYGyP3a2Osrhyqa3
kC1SUmc1SIoO8TxtmlG/pKs62DR3llJNjvahZ7WkGCXZZ+FE5RQFZCUcysuD5rSG
9rPKP3lxUGAmwLhX9omWKFbe1AEKvQvmIcOjlgpU5xDDdfJjddcBQQOktUMwwZiv
EmEW0iduEXFfaTh3+tfvCcrbCUrpHhoVlwKCAQA/syybcxNNCy53UGZg7b1ITKex
jyHvIFQH9Hk6GguhJRDbwVB3vkY//0/tSqwLtVW+OmwbDGtHsbw3c79+jG9ikBIo
+MKMuxilWuMTQQAKZQGW+THHelfy3fRj5ensFEt3feYqqrioYorDdtKC1u04ZOZ5
gkKOvIMdFDSPby+Rk7UEWvJ2cWTh38lnwfs/LlWkvRv/6DucgNBSuYXRguoK2yo7
cxPT/hTISEseBSWIubfSu9LfAWGZ7NBuFVfNCRWzNTu7ZODsN3/QKDcN+StSx4kU
KM3GfrYYS1I9HbJGwy9jB4SQ8A741kfRSNR5VFFeIyfP75jFgmZLTA9sxBZZAiEA
jPg2QqcJoJe0R5l2QBKdopmxpH0es3ULowiw/mT1+9M=
-----END X9.42 DH PARAMETERS-----
";

    /// A 1024-bit prime p = k q + 1 with a 128-bit prime q and g of order
    /// q (made with Miller-Rabin for this test): sound in every respect
    /// but the size of q.
    const SMALL_Q_P: &str = concat!(
        "BA107FDE2B77E1825A61B2E921127FEDB4A61938AFD70A87468407C9C3C09B22",
        "B6CAA64D7DC0604F56503990F8132C06775C9B0CF23AD3AFD9A16A00962DF48B",
        "1FB60FD6038D40AC0E98BE7CCFB95EE35F4FC22E04B99E0F37CFEC690DA17330",
        "8132CF8696A597AF285DC17368080F8855D5FC003FC46E2E0F62383C4252B49D",
    );
    const SMALL_Q_Q: &str = "E161642DCCE67426DDE3AA614163E669";
    const SMALL_Q_G: &str = concat!(
        "30D54FF1A66070E2CB6E0D13FBFE7140BE29397781442CE677A16CD0CA868FB",
        "5464BD2DF1F4564B018BC73F7D2609DD30792426D9C165220FEB603C9E2F442D",
        "5059DD170DAEA396BC6FC33FA733081740DD385AC90FBAB848B1B104B1D2CC10",
        "331BD0CCA7BA18162656899EEBD1859B96F8D1C4ADEC801A050A6D04E60FE924",
    );
    /// `SMALL_Q_Q` times a 65-bit number: 192 bits, `g^q = 1`, but not a
    /// divisor of `p - 1`.
    const SMALL_Q_TIMES_R: &str = "E161642DCCE674324FD5C0B4A917CC62448FA6F05212B355";

    /// A hexadecimal integer (maybe of odd length) as a magnitude.
    fn hex(s: &str) -> Vec<u8> {
        BoxedUint::from_str_radix_with_precision_vartime(s, 16, 4096)
            .unwrap()
            .to_be_bytes_trimmed_vartime()
            .into_vec()
    }

    /// `(p - 1, (p - 1) / 2)` of an odd modulus, as magnitudes.
    fn p_minus_1_and_half(p: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let precision = u32::try_from(p.len() * 8).unwrap().div_ceil(64) * 64;
        let p = BoxedUint::from_be_slice(p, precision).unwrap();
        let p_minus_1 = p.wrapping_sub(BoxedUint::one_with_precision(precision));
        let half = p_minus_1.shr(1);
        let trim = |x: &BoxedUint| x.to_be_bytes_trimmed_vartime().into_vec();
        (trim(&p_minus_1), trim(&half))
    }

    /// The smallest y > 1 with `y^((p - 1) / 2) != 1 (mod p)`: outside the
    /// order-(p - 1)/2 subgroup of a safe prime, computed without the code
    /// under test.
    fn non_residue(p: &[u8]) -> Vec<u8> {
        let precision = u32::try_from(p.len() * 8).unwrap().div_ceil(64) * 64;
        let p = BoxedUint::from_be_slice(p, precision).unwrap();
        let one = BoxedUint::one_with_precision(precision);
        let half = p.wrapping_sub(&one).shr(1);
        let monty = BoxedMontyParams::new_vartime(p.to_odd().unwrap());
        (2u8..=u8::MAX)
            .find(|&y| {
                let y = BoxedUint::from_be_slice(&[y], precision).unwrap();
                BoxedMontyForm::new(y, &monty).pow(&half).retrieve() != one
            })
            .map(|y| alloc::vec![y])
            .unwrap()
    }

    /// Parameters as the peer would send them: the crate's own PEM.
    fn params_pem(p: &[u8], g: &[u8], q: Option<&[u8]>) -> String {
        encoding::encode_params_pem(&RawParams {
            p: p.to_vec(),
            g: g.to_vec(),
            q: q.map(<[u8]>::to_vec),
        })
    }

    /// A `PUBLIC KEY` PEM of y with these parameters.
    fn key_pem(p: &[u8], g: &[u8], q: Option<&[u8]>, y: &[u8]) -> String {
        let raw = RawParams {
            p: p.to_vec(),
            g: g.to_vec(),
            q: q.map(<[u8]>::to_vec),
        };
        encoding::encode_spki_pem(&raw, y)
    }

    fn from_pem(pem: &str) -> Result<Group, DhError> {
        Group::from_pem(pem.as_bytes(), DEFAULT_MAX_GROUP_BITS)
    }

    #[test]
    fn a_named_modulus_accepts_only_its_own_q() {
        for named in NamedGroup::ALL {
            let group = Group::named(named);
            let p = group.modulus().to_vec();
            let (p_minus_1, half) = p_minus_1_and_half(&p);
            let mut half_minus_2 = half.clone();
            *half_minus_2.last_mut().unwrap() -= 2;
            let mut longer_than_p = alloc::vec![1];
            longer_than_p.resize(p.len() + 1, 0);
            // q = p - 1 is the attack: every value in range satisfies
            // y^(p-1) = 1, so the subgroup check would pass anything.
            for (what, q) in [
                ("q = p - 1", &p_minus_1[..]),
                ("q = 1", &[1][..]),
                ("q = 2", &[2][..]),
                ("q = (p - 1) / 2 - 2", &half_minus_2[..]),
                ("q = p", &p[..]),
                ("q longer than p", &longer_than_p[..]),
            ] {
                assert_eq!(
                    from_pem(&params_pem(&p, &[2], Some(q))).err(),
                    Some(DhError::InvalidSubgroupOrder),
                    "{named}: {what}"
                );
            }
            // A quadratic non-residue has order 2q, outside the subgroup:
            // it is refused however its parameters name the group.
            let outside = non_residue(&p);
            assert_eq!(
                group.public_key_from_bytes(&outside),
                Err(DhError::PublicKeyNotInSubgroup),
                "{named}"
            );
            let forged = key_pem(&p, &[2], Some(&p_minus_1), &outside);
            assert_eq!(
                PublicKey::from_pem(forged.as_bytes(), DEFAULT_MAX_GROUP_BITS),
                Err(DhError::InvalidSubgroupOrder),
                "{named}"
            );
            // A key claiming another q is not of the group, even a group
            // that arrived without q.
            let without_q = from_pem(&params_pem(&p, &[2], None)).unwrap();
            for g in [&group, &without_q] {
                let forged = key_pem(&p, &[2], Some(&p_minus_1), &[4]);
                assert_eq!(
                    g.public_key_from_pem(forged.as_bytes()),
                    Err(DhError::GroupMismatch),
                    "{named}"
                );
                assert_eq!(
                    g.public_key_from_pem(key_pem(&p, &[2], None, &outside).as_bytes()),
                    Err(DhError::PublicKeyNotInSubgroup),
                    "{named}"
                );
            }
            // Its own q, or none, is the named group.
            for q in [Some(&half[..]), None] {
                let received = from_pem(&params_pem(&p, &[2], q)).unwrap();
                assert_eq!(received.named_group(), Some(named));
                assert_eq!(received.exponent_bits(), named.exponent_bits());
                assert_eq!(
                    received.public_key_from_bytes(&outside),
                    Err(DhError::PublicKeyNotInSubgroup)
                );
                assert!(received.public_key_from_bytes(&[4]).is_ok());
            }
        }
    }

    #[test]
    fn adhoc_exponents_are_bits_p_minus_2_whatever_q_says() {
        let mut rng = rng();
        let rfc5114 = from_pem(RFC5114_2048_256).unwrap();
        let ffdhe = Group::named(NamedGroup::Ffdhe2048);
        let (_, half) = p_minus_1_and_half(ffdhe.modulus());
        let outside = non_residue(ffdhe.modulus());
        // The ffdhe2048 prime with generator 4 (of order q) is ad hoc.
        let g4 = from_pem(&params_pem(ffdhe.modulus(), &[4], Some(&half))).unwrap();
        for (what, group) in [("RFC 5114 2048/256", &rfc5114), ("ffdhe2048 p, g = 4", &g4)] {
            assert_eq!(group.named_group(), None, "{what}");
            assert!(group.has_subgroup_order(), "{what}");
            assert_eq!(group.exponent_bits(), 2046, "{what}");
            let a = KeyPair::generate(group, &mut rng);
            let b = KeyPair::generate(group, &mut rng);
            // The exponent's length, read back as the application would.
            assert_eq!(
                bit_len(&a.dangerously_expose_private_bytes()),
                2046,
                "{what}"
            );
            assert_eq!(a.x.bit_width_vartime(), 2046, "{what}");
            // Public values of the subgroup pass its check; others do not.
            let b_pub = group
                .public_key_from_pem(b.public_key().to_pem().as_bytes())
                .unwrap();
            let a_pub = group
                .public_key_from_bytes(&a.public_key().to_bytes())
                .unwrap();
            assert_eq!(
                a.agree(&b_pub).unwrap().dangerously_expose_bytes(),
                b.agree(&a_pub).unwrap().dangerously_expose_bytes(),
                "{what}"
            );
        }
        assert_eq!(
            rfc5114.public_key_from_bytes(&[2]),
            Err(DhError::PublicKeyNotInSubgroup)
        );
        assert_eq!(
            g4.public_key_from_bytes(&outside),
            Err(DhError::PublicKeyNotInSubgroup)
        );
    }

    #[test]
    fn adhoc_subgroup_orders_that_do_not_belong_to_the_group_are_refused() {
        let ffdhe = Group::named(NamedGroup::Ffdhe2048);
        let p = ffdhe.modulus();
        let (p_minus_1, half) = p_minus_1_and_half(p);
        let outside = non_residue(p);
        let (small_p, small_q, small_g) = (hex(SMALL_Q_P), hex(SMALL_Q_Q), hex(SMALL_Q_G));
        // Each case breaks one rule only.
        for (what, params) in [
            // A divisor of p - 1 with g^q = 1, but not a proper one: every
            // value in range would pass.
            ("q = p - 1", params_pem(p, &[4], Some(&p_minus_1))),
            // A proper divisor, but g is a non-residue: g^q = -1.
            ("g^q != 1", params_pem(p, &outside, Some(&half))),
            // g^q = 1, but q does not divide p - 1.
            (
                "q does not divide p - 1",
                params_pem(&small_p, &small_g, Some(&hex(SMALL_Q_TIMES_R))),
            ),
            // Sound, but a 128-bit subgroup hides no key.
            (
                "a 128-bit q",
                params_pem(&small_p, &small_g, Some(&small_q)),
            ),
        ] {
            assert_eq!(
                from_pem(&params).err(),
                Some(DhError::InvalidSubgroupOrder),
                "{what}"
            );
        }
        // The same moduli without q are ad-hoc groups with the range check
        // only, and long exponents.
        for (p, g) in [(p, &outside[..]), (&small_p[..], &small_g[..])] {
            let group = from_pem(&params_pem(p, g, None)).unwrap();
            assert!(!group.has_subgroup_order());
            assert_eq!(group.exponent_bits(), group.bits() - 2);
        }
    }

    #[test]
    fn unusable_groups_are_refused() {
        let p = Group::named(NamedGroup::Ffdhe2048).modulus().to_vec();
        let raw = |p: &[u8], g: &[u8], q: Option<&[u8]>| RawParams {
            p: p.to_vec(),
            g: g.to_vec(),
            q: q.map(<[u8]>::to_vec),
        };
        let mut even = p.clone();
        *even.last_mut().unwrap() ^= 1;
        let mut p_minus_1 = p.clone();
        *p_minus_1.last_mut().unwrap() -= 1;
        for (what, params) in [
            ("even p", raw(&even, &[2], None)),
            ("g = 1", raw(&p, &[1], None)),
            ("g = p - 1", raw(&p, &p_minus_1, None)),
            ("g = p", raw(&p, &p, None)),
            ("256-bit p", raw(&p[..32], &[2], None)),
        ] {
            assert_eq!(
                Group::from_raw(params, DEFAULT_MAX_GROUP_BITS).err(),
                Some(DhError::InvalidGroup),
                "{what}"
            );
        }
        assert_eq!(
            Group::from_raw(raw(&p, &[2], None), 1024).err(),
            Some(DhError::GroupTooLarge {
                bits: 2048,
                limit: 1024
            })
        );
    }

    #[test]
    fn private_keys_out_of_range_are_refused() {
        let group = Group::named(NamedGroup::Ffdhe2048);
        let q = group.subgroup_order().unwrap().to_vec();
        for bad in [&[][..], &[0], &[1], &q, group.modulus()] {
            assert_eq!(
                KeyPair::from_private_bytes(&group, bad).err(),
                Some(DhError::InvalidPrivateKey)
            );
        }
        assert!(KeyPair::from_private_bytes(&group, &[0, 0, 2]).is_ok());
    }

    #[test]
    fn keys_of_different_groups_do_not_mix() {
        let mut rng = rng();
        let a = KeyPair::generate(&Group::named(NamedGroup::Ffdhe2048), &mut rng);
        let b = KeyPair::generate(&Group::named(NamedGroup::Ffdhe3072), &mut rng);
        assert_eq!(a.agree(b.public_key()).err(), Some(DhError::GroupMismatch));
        let b_pem = b.public_key().to_pem();
        assert_eq!(
            a.group().public_key_from_pem(b_pem.as_bytes()).err(),
            Some(DhError::GroupMismatch)
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let group = Group::named(NamedGroup::Ffdhe2048);
        let pair = KeyPair::from_private_bytes(&group, &[0x5a; 28]).unwrap();
        let z = pair.agree(pair.public_key()).unwrap();
        let shown = alloc::format!("{pair:?} {z:?}");
        assert!(
            !shown.contains("5A5A") && !shown.contains("5a5a"),
            "{shown}"
        );
        let z_hex = base16ct::lower::encode_string(&z.dangerously_expose_bytes()[..8]);
        assert!(!shown.to_lowercase().contains(&z_hex), "{shown}");
    }

    #[test]
    fn bit_len_counts_exactly_and_saturates_on_huge_magnitudes() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        // 2^29 bytes with the top bit set is 2^32 bits: one more than a
        // u32 holds (a q of that size passes DER, whose lengths are u32).
        assert_eq!(magnitude_bits(1 << 29, 0x7f), u32::MAX);
        assert_eq!(magnitude_bits(1 << 29, 0x80), u32::MAX);
        assert_eq!(magnitude_bits(usize::MAX, 1), u32::MAX);
        assert_eq!(magnitude_bits((1 << 29) - 1, 0xff), u32::MAX - 7);
    }
}
