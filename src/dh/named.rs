//! The RFC 7919 finite-field groups.

use core::fmt;
use core::str::FromStr;

use alloc::string::ToString;

use crate::error::DhError;

/// A named group of RFC 7919 (safe primes, generator 2).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NamedGroup {
    /// `ffdhe2048`: 2048-bit modulus, about 103 bits of security.
    Ffdhe2048,
    /// `ffdhe3072`: 3072-bit modulus, about 125 bits of security.
    Ffdhe3072,
    /// `ffdhe4096`: 4096-bit modulus, about 150 bits of security.
    Ffdhe4096,
}

impl NamedGroup {
    /// Every named group, smallest first.
    pub const ALL: [NamedGroup; 3] = [
        NamedGroup::Ffdhe2048,
        NamedGroup::Ffdhe3072,
        NamedGroup::Ffdhe4096,
    ];

    /// The name used on the wire and in RFC 7919.
    #[must_use]
    pub const fn wire_name(self) -> &'static str {
        match self {
            NamedGroup::Ffdhe2048 => "ffdhe2048",
            NamedGroup::Ffdhe3072 => "ffdhe3072",
            NamedGroup::Ffdhe4096 => "ffdhe4096",
        }
    }

    /// Bits of the modulus.
    #[must_use]
    pub const fn bits(self) -> u32 {
        match self {
            NamedGroup::Ffdhe2048 => 2048,
            NamedGroup::Ffdhe3072 => 3072,
            NamedGroup::Ffdhe4096 => 4096,
        }
    }

    /// Length of the random private exponents, in bits: RFC 7919 section
    /// 5.2 (225, 275 and 325), at least twice the security strength as NIST
    /// SP 800-56A asks.
    #[must_use]
    pub const fn exponent_bits(self) -> u32 {
        match self {
            NamedGroup::Ffdhe2048 => 225,
            NamedGroup::Ffdhe3072 => 275,
            NamedGroup::Ffdhe4096 => 325,
        }
    }

    /// The modulus p in hexadecimal (the generator is 2, q = (p - 1) / 2).
    pub(super) const fn p_hex(self) -> &'static str {
        match self {
            NamedGroup::Ffdhe2048 => FFDHE2048_P,
            NamedGroup::Ffdhe3072 => FFDHE3072_P,
            NamedGroup::Ffdhe4096 => FFDHE4096_P,
        }
    }
}

impl fmt::Display for NamedGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

impl FromStr for NamedGroup {
    type Err = DhError;

    fn from_str(s: &str) -> Result<Self, DhError> {
        NamedGroup::ALL
            .into_iter()
            .find(|g| g.wire_name() == s)
            .ok_or_else(|| DhError::UnknownGroup(s.to_string()))
    }
}

// The moduli below were generated from the formula of RFC 7919 Appendix A,
// p = 2^b - 2^(b-64) + (floor(2^(b-130) e) + X) 2^64 - 1, and checked
// against the RFC's hexadecimal listing (as carried by rustls), against
// `vectors/seed-v1.json`, and for 2^((p-1)/2) = 1 mod p.

/// RFC 7919 Appendix A: `ffdhe2048` p, computed from the RFC formula.
pub(super) const FFDHE2048_P: &str = concat!(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695",
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A",
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935",
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A",
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4",
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61",
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005",
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF",
);

/// RFC 7919 Appendix A: `ffdhe3072` p, computed from the RFC formula.
pub(super) const FFDHE3072_P: &str = concat!(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695",
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A",
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935",
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A",
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4",
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61",
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005",
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B",
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C",
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF",
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E",
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B66C62E37FFFFFFFFFFFFFFFF",
);

/// RFC 7919 Appendix A: `ffdhe4096` p, computed from the RFC formula.
pub(super) const FFDHE4096_P: &str = concat!(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695",
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A",
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935",
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A",
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4",
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61",
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005",
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B4238611FCFDCDE355B3B6519035B",
    "BC34F4DEF99C023861B46FC9D6E6C9077AD91D2691F7F7EE598CB0FAC186D91C",
    "AEFE130985139270B4130C93BC437944F4FD4452E2D74DD364F2E21E71F54BFF",
    "5CAE82AB9C9DF69EE86D2BC522363A0DABC521979B0DEADA1DBF9A42D5C4484E",
    "0ABCD06BFA53DDEF3C1B20EE3FD59D7C25E41D2B669E1EF16E6F52C3164DF4FB",
    "7930E9E4E58857B6AC7D5F42D69F6D187763CF1D5503400487F55BA57E31CC7A",
    "7135C886EFB4318AED6A1E012D9E6832A907600A918130C46DC778F971AD0038",
    "092999A333CB8B7A1A1DB93D7140003C2A4ECEA9F98D0ACC0A8291CDCEC97DCF",
    "8EC9B55A7F88A46B4DB5A851F44182E1C68A007E5E655F6AFFFFFFFFFFFFFFFF",
);
