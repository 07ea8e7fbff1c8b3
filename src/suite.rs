//! Cipher suites: the algorithm names of the wire, the valid combinations,
//! and the rule by which a server picks one from a client's offer.
//!
//! A suite is written `DH;<cipher>;<mode>;<hash>` on the wire, e.g.
//! `DH;AES-128;CBC;SHA-256`. Eight suites exist: `AES-128` with `GCM` or
//! `CBC`, `3DES` with `CBC` or `ECB`, each with `SHA-256` or `SHA-512`.
//!
//! ```
//! use securex::suite::{CipherSuite, Cipher, Mode, Hash};
//!
//! let suite: CipherSuite = "DH;AES-128;CBC;SHA-256".parse()?;
//! assert_eq!(suite.cipher(), Cipher::Aes128);
//! assert_eq!(suite.to_string(), "DH;AES-128;CBC;SHA-256");
//! assert!(CipherSuite::new(Cipher::Aes128, Mode::Ecb, Hash::Sha256).is_err());
//! # Ok::<(), securex::error::SuiteError>(())
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::error::SuiteError;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal, { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used on the wire.
            pub const fn wire_name(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// Parses a wire name (exact, case-sensitive, as existing peers
            /// compare them).
            ///
            /// # Errors
            ///
            /// [`SuiteError::UnknownName`] for any other name.
            pub fn from_wire_name(name: &str) -> Result<Self, SuiteError> {
                match name {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(SuiteError::UnknownName { kind: $kind, name: name.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.wire_name())
            }
        }

        impl FromStr for $name {
            type Err = SuiteError;
            fn from_str(s: &str) -> Result<Self, SuiteError> {
                Self::from_wire_name(s)
            }
        }
    };
}

wire_enum!(
    /// A block cipher.
    Cipher, "cipher", {
        /// AES with a 128-bit key (`AES-128`).
        Aes128 = "AES-128",
        /// Triple DES, EDE with three keys (`3DES`). A legacy cipher with a
        /// 64-bit block.
        TripleDes = "3DES",
    }
);

wire_enum!(
    /// A mode of operation.
    Mode, "mode", {
        /// Galois/counter mode (`GCM`).
        Gcm = "GCM",
        /// Cipher block chaining (`CBC`).
        Cbc = "CBC",
        /// Electronic codebook (`ECB`). Leaks repeated blocks; legacy only.
        Ecb = "ECB",
    }
);

wire_enum!(
    /// A hash function.
    Hash, "hash", {
        /// SHA-256.
        Sha256 = "SHA-256",
        /// SHA-512.
        Sha512 = "SHA-512",
    }
);

impl Cipher {
    /// Block size in bytes: 16 for AES, 8 for 3DES.
    #[must_use]
    pub const fn block_len(self) -> usize {
        match self {
            Cipher::Aes128 => 16,
            Cipher::TripleDes => 8,
        }
    }

    /// Key length in bytes: 16 for AES-128, 24 for 3DES.
    #[must_use]
    pub const fn key_len(self) -> usize {
        match self {
            Cipher::Aes128 => 16,
            Cipher::TripleDes => 24,
        }
    }

    /// Whether `mode` may be used with this cipher.
    #[must_use]
    pub const fn supports(self, mode: Mode) -> bool {
        matches!(
            (self, mode),
            (Cipher::Aes128, Mode::Gcm | Mode::Cbc) | (Cipher::TripleDes, Mode::Cbc | Mode::Ecb)
        )
    }

    /// The mode an existing v1 server falls back to when `CBC` is not
    /// offered: `GCM` for AES, `ECB` for 3DES.
    const fn v1_fallback_mode(self) -> Mode {
        match self {
            Cipher::Aes128 => Mode::Gcm,
            Cipher::TripleDes => Mode::Ecb,
        }
    }
}

impl Hash {
    /// Output length in bytes.
    #[must_use]
    pub const fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha512 => 64,
        }
    }
}

/// A valid combination of cipher, mode and hash.
///
/// Only the eight valid combinations can be constructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CipherSuite {
    cipher: Cipher,
    mode: Mode,
    hash: Hash,
}

impl CipherSuite {
    /// All eight suites.
    pub const ALL: [CipherSuite; 8] = [
        CipherSuite::of(Cipher::Aes128, Mode::Gcm, Hash::Sha256),
        CipherSuite::of(Cipher::Aes128, Mode::Gcm, Hash::Sha512),
        CipherSuite::of(Cipher::Aes128, Mode::Cbc, Hash::Sha256),
        CipherSuite::of(Cipher::Aes128, Mode::Cbc, Hash::Sha512),
        CipherSuite::of(Cipher::TripleDes, Mode::Cbc, Hash::Sha256),
        CipherSuite::of(Cipher::TripleDes, Mode::Cbc, Hash::Sha512),
        CipherSuite::of(Cipher::TripleDes, Mode::Ecb, Hash::Sha256),
        CipherSuite::of(Cipher::TripleDes, Mode::Ecb, Hash::Sha512),
    ];

    const fn of(cipher: Cipher, mode: Mode, hash: Hash) -> Self {
        CipherSuite { cipher, mode, hash }
    }

    /// Builds a suite, refusing a cipher and mode that do not go together.
    ///
    /// # Errors
    ///
    /// [`SuiteError::InvalidPair`] for a cipher and a mode that do not go
    /// together (see [`Cipher::supports`]).
    pub fn new(cipher: Cipher, mode: Mode, hash: Hash) -> Result<Self, SuiteError> {
        if cipher.supports(mode) {
            Ok(CipherSuite::of(cipher, mode, hash))
        } else {
            Err(SuiteError::InvalidPair { cipher, mode })
        }
    }

    /// The cipher.
    #[must_use]
    pub const fn cipher(self) -> Cipher {
        self.cipher
    }

    /// The mode of operation.
    #[must_use]
    pub const fn mode(self) -> Mode {
        self.mode
    }

    /// The hash.
    #[must_use]
    pub const fn hash(self) -> Hash {
        self.hash
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DH;{};{};{}", self.cipher, self.mode, self.hash)
    }
}

impl FromStr for CipherSuite {
    type Err = SuiteError;

    /// Parses `DH;<cipher>;<mode>;<hash>`.
    fn from_str(s: &str) -> Result<Self, SuiteError> {
        let mut parts = s.split(';');
        let (Some("DH"), Some(cipher), Some(mode), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(SuiteError::Malformed(s.to_string()));
        };
        CipherSuite::new(cipher.parse()?, mode.parse()?, hash.parse()?)
    }
}

/// Lists of ciphers, modes and hashes in order of preference.
///
/// This is what a client's `ALGORITHMS` frame offers, and what a server's
/// policy accepts. Names this crate does not know are skipped when an offer
/// is parsed, as existing servers do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Offer {
    /// Ciphers, most preferred first.
    pub ciphers: Vec<Cipher>,
    /// Modes, most preferred first.
    pub modes: Vec<Mode>,
    /// Hashes, most preferred first.
    pub hashes: Vec<Hash>,
}

impl Offer {
    /// An offer of every cipher, mode and hash, in declaration order.
    #[must_use]
    pub fn all() -> Self {
        Offer {
            ciphers: Cipher::ALL.to_vec(),
            modes: Mode::ALL.to_vec(),
            hashes: Hash::ALL.to_vec(),
        }
    }

    /// Parses the three lists of an `ALGORITHMS` frame, skipping unknown
    /// names.
    pub fn from_wire_names<C, M, H>(ciphers: &[C], modes: &[M], hashes: &[H]) -> Self
    where
        C: AsRef<str>,
        M: AsRef<str>,
        H: AsRef<str>,
    {
        fn known<T, S: AsRef<str>>(
            names: &[S],
            parse: fn(&str) -> Result<T, SuiteError>,
        ) -> Vec<T> {
            names
                .iter()
                .filter_map(|n| parse(n.as_ref()).ok())
                .collect()
        }
        Offer {
            ciphers: known(ciphers, Cipher::from_wire_name),
            modes: known(modes, Mode::from_wire_name),
            hashes: known(hashes, Hash::from_wire_name),
        }
    }

    /// The wire names of the three lists.
    #[must_use]
    pub fn wire_names(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        fn names<T: fmt::Display>(v: &[T]) -> Vec<String> {
            v.iter().map(ToString::to_string).collect()
        }
        (
            names(&self.ciphers),
            names(&self.modes),
            names(&self.hashes),
        )
    }

    /// Whether the cipher, the mode and the hash of `suite` are all listed.
    #[must_use]
    pub fn contains(&self, suite: CipherSuite) -> bool {
        self.ciphers.contains(&suite.cipher)
            && self.modes.contains(&suite.mode)
            && self.hashes.contains(&suite.hash)
    }

    /// Checks a suite chosen by a server against this (the client's) offer.
    ///
    /// # Errors
    ///
    /// [`SuiteError::NotOffered`] unless its cipher, mode and hash are all
    /// in the offer.
    pub fn check_choice(&self, suite: CipherSuite) -> Result<CipherSuite, SuiteError> {
        if self.contains(suite) {
            Ok(suite)
        } else {
            Err(SuiteError::NotOffered(suite.to_string()))
        }
    }

    /// Picks a suite from this (a client's) offer the way existing v1
    /// servers do, restricted to what `accepted` lists:
    ///
    /// * cipher: the first offered cipher that is accepted, fixed first and
    ///   never revisited;
    /// * mode: `CBC` if offered, else `GCM` for AES or `ECB` for 3DES, if
    ///   offered (and accepted);
    /// * hash: the first offered hash that is accepted.
    ///
    /// An offer of `3DES, AES-128` with only `GCM` therefore gets
    /// [`SuiteError::NoCommonSuite`], not AES-128-GCM.
    ///
    /// # Errors
    ///
    /// [`SuiteError::NoCommonSuite`] when no cipher, no mode for the
    /// cipher fixed first, or no hash is both offered and accepted.
    pub fn choose_v1(&self, accepted: &Offer) -> Result<CipherSuite, SuiteError> {
        let usable_mode = |m: Mode| self.modes.contains(&m) && accepted.modes.contains(&m);
        let cipher = self
            .ciphers
            .iter()
            .copied()
            .find(|c| accepted.ciphers.contains(c))
            .ok_or(SuiteError::NoCommonSuite)?;
        let mode = [Mode::Cbc, cipher.v1_fallback_mode()]
            .into_iter()
            .find(|&m| usable_mode(m))
            .ok_or(SuiteError::NoCommonSuite)?;
        let hash = self
            .hashes
            .iter()
            .copied()
            .find(|h| accepted.hashes.contains(h))
            .ok_or(SuiteError::NoCommonSuite)?;
        CipherSuite::new(cipher, mode, hash)
    }
}

impl Offer {
    /// Picks a suite for v2 from this (a client's) offer: the first valid
    /// combination in the client's order of preference (cipher, then mode,
    /// then hash) that `accepted` lists.
    ///
    /// # Errors
    ///
    /// [`SuiteError::NoCommonSuite`] when there is none.
    pub fn choose_v2(&self, accepted: &Offer) -> Result<CipherSuite, SuiteError> {
        for &cipher in &self.ciphers {
            for &mode in &self.modes {
                for &hash in &self.hashes {
                    if let Ok(suite) = CipherSuite::new(cipher, mode, hash)
                        && accepted.contains(suite)
                    {
                        return Ok(suite);
                    }
                }
            }
        }
        Err(SuiteError::NoCommonSuite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_suites_round_trip_their_names() {
        for suite in CipherSuite::ALL {
            let name = suite.to_string();
            assert_eq!(name.parse::<CipherSuite>(), Ok(suite), "{name}");
        }
    }

    #[test]
    fn only_valid_pairs_exist() {
        let mut count = 0;
        for &c in Cipher::ALL {
            for &m in Mode::ALL {
                for &h in Hash::ALL {
                    let r = CipherSuite::new(c, m, h);
                    assert_eq!(r.is_ok(), c.supports(m));
                    count += usize::from(r.is_ok());
                }
            }
        }
        assert_eq!(count, CipherSuite::ALL.len());
    }

    #[test]
    fn malformed_suites_are_typed_errors() {
        for bad in [
            "",
            "DH",
            "DH;AES-128;CBC",
            "DH;AES-128;CBC;SHA-256;",
            "XX;AES-128;CBC;SHA-256",
        ] {
            assert_eq!(
                bad.parse::<CipherSuite>(),
                Err(SuiteError::Malformed(bad.to_string())),
                "{bad:?}"
            );
        }
        assert!(matches!(
            "DH;AES-256;CBC;SHA-256".parse::<CipherSuite>(),
            Err(SuiteError::UnknownName { kind: "cipher", .. })
        ));
        assert!(matches!(
            "DH;AES-128;ctr;SHA-256".parse::<CipherSuite>(),
            Err(SuiteError::UnknownName { kind: "mode", .. })
        ));
        assert!(matches!(
            "DH;AES-128;CBC;MD5".parse::<CipherSuite>(),
            Err(SuiteError::UnknownName { kind: "hash", .. })
        ));
        assert_eq!(
            "DH;3DES;GCM;SHA-256".parse::<CipherSuite>(),
            Err(SuiteError::InvalidPair {
                cipher: Cipher::TripleDes,
                mode: Mode::Gcm
            })
        );
    }

    #[test]
    fn unknown_offered_names_are_skipped() {
        let offer = Offer::from_wire_names(&["ChaCha20", "AES-128"], &["CBC", "OFB"], &["MD5"]);
        assert_eq!(offer.ciphers, [Cipher::Aes128]);
        assert_eq!(offer.modes, [Mode::Cbc]);
        assert!(offer.hashes.is_empty());
        assert_eq!(
            offer.choose_v1(&Offer::all()),
            Err(SuiteError::NoCommonSuite)
        );
    }

    #[test]
    fn a_choice_outside_the_offer_is_refused() {
        let offer = Offer::from_wire_names(&["AES-128"], &["GCM"], &["SHA-256"]);
        let cbc = CipherSuite::new(Cipher::Aes128, Mode::Cbc, Hash::Sha256).unwrap();
        assert_eq!(
            offer.check_choice(cbc),
            Err(SuiteError::NotOffered("DH;AES-128;CBC;SHA-256".to_string()))
        );
        let gcm = CipherSuite::new(Cipher::Aes128, Mode::Gcm, Hash::Sha256).unwrap();
        assert_eq!(offer.check_choice(gcm), Ok(gcm));
    }

    #[test]
    fn v2_choice_follows_the_clients_preference() {
        let offer = Offer::from_wire_names(
            &["3DES", "AES-128"],
            &["ECB", "GCM", "CBC"],
            &["SHA-512", "SHA-256"],
        );
        let accepted = Offer::from_wire_names(&["AES-128"], &["CBC", "GCM"], &["SHA-256"]);
        assert_eq!(
            offer.choose_v2(&accepted).unwrap().to_string(),
            "DH;AES-128;GCM;SHA-256"
        );
        assert_eq!(
            offer.choose_v2(&Offer::all()).unwrap().to_string(),
            "DH;3DES;ECB;SHA-512"
        );
        let none = Offer::from_wire_names(&["AES-128"], &["ECB"], &["SHA-256"]);
        assert_eq!(
            none.choose_v2(&Offer::all()),
            Err(SuiteError::NoCommonSuite)
        );
    }

    #[test]
    fn server_policy_restricts_the_choice() {
        let offer = Offer::all();
        let accepted = Offer {
            ciphers: alloc::vec![Cipher::TripleDes],
            modes: alloc::vec![Mode::Ecb],
            hashes: alloc::vec![Hash::Sha512],
        };
        assert_eq!(
            offer.choose_v1(&accepted).unwrap().to_string(),
            "DH;3DES;ECB;SHA-512"
        );
    }
}
