//! The text format of a server's long-term key, as the example server
//! stores it (`--static-key FILE`):
//!
//! ```text
//! securex static key
//! group ffdhe2048
//! private 1b0f…
//! ```
//!
//! The first line names the format; `group` is the RFC 7919 group of the
//! key (`ffdhe2048`, `ffdhe3072` or `ffdhe4096`); `private` is the private
//! exponent, big-endian, in hex. Reading accepts `\r\n` line ends, blank
//! lines, surrounding spaces and upper-case hex; it refuses anything else
//! (a line of another kind, a line given twice), so that a damaged file is
//! an error, never a different key.
//!
//! The library reads and writes the text only: storing it where only its
//! owner can read it is the program's job.

use alloc::string::String;
use core::fmt;

use zeroize::Zeroizing;

use super::StaticKey;
use crate::dh::{Group, KeyPair, NamedGroup};

/// The first line of a key file.
const HEADER: &str = "securex static key";

/// Why a key file was refused ([`StaticKey::from_key_file`]) or a key
/// cannot be written as one ([`StaticKey::to_key_file`]). No variant
/// carries any text of the file: it holds a secret.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileError {
    /// The first line is not `securex static key`: not a key file.
    NotAKeyFile,
    /// A line the file must have is missing.
    MissingLine {
        /// The line's keyword: `group` or `private`.
        keyword: &'static str,
    },
    /// A line that is not part of the format, or a `group` or `private`
    /// line given a second time.
    UnexpectedLine {
        /// Its number, from 1.
        line: usize,
    },
    /// The `group` line names no RFC 7919 group this crate knows.
    UnknownGroup,
    /// The private key is empty, or not an even number of hex digits.
    BadHex,
    /// The private key is out of range for its group (see
    /// [`KeyPair::from_private_bytes`]).
    InvalidKey,
    /// The key is not in an RFC 7919 group, which is all the format
    /// names (writing only).
    NotNamedGroup,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::NotAKeyFile => {
                write!(
                    f,
                    "not a static key file: its first line must be `{HEADER}`"
                )
            }
            KeyFileError::MissingLine { keyword } => write!(f, "no '{keyword}' line"),
            KeyFileError::UnexpectedLine { line } => write!(
                f,
                "line {line}: not a line of a static key file, or one given twice"
            ),
            KeyFileError::UnknownGroup => f.write_str(
                "the 'group' line names no RFC 7919 group (ffdhe2048, ffdhe3072, ffdhe4096)",
            ),
            // The texts the example server printed before the format
            // moved here.
            KeyFileError::BadHex => f.write_str("bad hex"),
            KeyFileError::InvalidKey => f.write_str("the DH private exponent is out of range"),
            KeyFileError::NotNamedGroup => {
                f.write_str("only a key of an RFC 7919 group can be written to a key file")
            }
        }
    }
}

impl core::error::Error for KeyFileError {}

impl StaticKey {
    /// The key as the text of a key file (see the format above), zeroized
    /// when dropped: it holds the private key. Store it readable by its
    /// owner only.
    ///
    /// ```
    /// use securex::config::StaticKey;
    /// use securex::dh::{Group, KeyPair, NamedGroup};
    /// # use rand_core::SeedableRng;
    /// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
    ///
    /// let key = StaticKey::new(KeyPair::generate(&Group::named(NamedGroup::Ffdhe2048), &mut rng));
    /// let text = key.to_key_file()?;
    /// assert!(text.starts_with("securex static key\ngroup ffdhe2048\nprivate "));
    /// assert_eq!(StaticKey::from_key_file(&text)?, key);
    /// # Ok::<(), securex::config::KeyFileError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyFileError::NotNamedGroup`] for a key of an ad-hoc group.
    pub fn to_key_file(&self) -> Result<Zeroizing<String>, KeyFileError> {
        let pair = self.key_pair();
        let group = pair
            .group()
            .named_group()
            .ok_or(KeyFileError::NotNamedGroup)?;
        let private = pair.dangerously_expose_private_bytes();
        let mut hex = Zeroizing::new(alloc::vec![0u8; private.len() * 2]);
        // The buffer is exactly twice the input: encoding cannot fail.
        let hex =
            base16ct::lower::encode_str(&private, &mut hex).map_err(|_| KeyFileError::BadHex)?;
        let lines = [
            HEADER,
            "\ngroup ",
            group.wire_name(),
            "\nprivate ",
            hex,
            "\n",
        ];
        // Reserved whole, so that no reallocation leaves a copy behind.
        let mut text = Zeroizing::new(String::with_capacity(lines.iter().map(|s| s.len()).sum()));
        for part in lines {
            text.push_str(part);
        }
        Ok(text)
    }

    /// Reads a key file's text (see the format above).
    ///
    /// # Errors
    ///
    /// A [`KeyFileError`] saying what is wrong, in this order: the first
    /// line, a line out of place, a missing line, the group, the hex, the
    /// key's range.
    pub fn from_key_file(text: &str) -> Result<StaticKey, KeyFileError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty());
        if !matches!(lines.next(), Some((_, HEADER))) {
            return Err(KeyFileError::NotAKeyFile);
        }
        let (mut group, mut private) = (None, None);
        for (number, line) in lines {
            let (keyword, value) = line.split_once(' ').unwrap_or((line, ""));
            let slot = match keyword {
                "group" => &mut group,
                "private" => &mut private,
                _ => return Err(KeyFileError::UnexpectedLine { line: number }),
            };
            if slot.replace(value.trim()).is_some() {
                return Err(KeyFileError::UnexpectedLine { line: number });
            }
        }
        let group = group.ok_or(KeyFileError::MissingLine { keyword: "group" })?;
        let hex = private.ok_or(KeyFileError::MissingLine { keyword: "private" })?;
        let group: NamedGroup = group.parse().map_err(|_| KeyFileError::UnknownGroup)?;
        if hex.is_empty() {
            return Err(KeyFileError::BadHex);
        }
        // An odd number of digits fails to decode.
        let mut x = Zeroizing::new(alloc::vec![0u8; hex.len() / 2]);
        let x = base16ct::mixed::decode(hex, &mut x).map_err(|_| KeyFileError::BadHex)?;
        let pair = KeyPair::from_private_bytes(&Group::named(group), x)
            .map_err(|_| KeyFileError::InvalidKey)?;
        Ok(StaticKey::new(pair))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use rand_core::SeedableRng;

    fn key(group: NamedGroup, seed: u8) -> StaticKey {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([seed; 32]);
        StaticKey::new(KeyPair::generate(&Group::named(group), &mut rng))
    }

    /// The private key's hex, as the file holds it.
    fn private_hex(key: &StaticKey) -> String {
        base16ct::lower::encode_string(&key.key_pair().dangerously_expose_private_bytes())
    }

    #[test]
    fn a_key_file_round_trips_in_every_named_group() {
        for (seed, group) in (1..).zip(NamedGroup::ALL) {
            let key = key(group, seed);
            let text = key.to_key_file().unwrap();
            assert_eq!(
                *text,
                format!(
                    "securex static key\ngroup {}\nprivate {}\n",
                    group.wire_name(),
                    private_hex(&key)
                )
            );
            let read = StaticKey::from_key_file(&text).unwrap();
            assert_eq!(read, key);
            assert_eq!(
                read.key_pair().dangerously_expose_private_bytes(),
                key.key_pair().dangerously_expose_private_bytes()
            );
        }
    }

    /// What the example server wrote before the format moved here, read
    /// the same; and the leniencies the format documents.
    #[test]
    fn a_key_file_of_the_example_server_and_its_variants_read_the_same() {
        let key = key(NamedGroup::Ffdhe2048, 9);
        let hex = private_hex(&key);
        for text in [
            format!("securex static key\ngroup ffdhe2048\nprivate {hex}\n"),
            format!("securex static key\ngroup ffdhe2048\nprivate {hex}"),
            format!("securex static key\r\ngroup ffdhe2048\r\nprivate {hex}\r\n"),
            format!(
                "\n  securex static key \n\nprivate  {}  \ngroup ffdhe2048\n\n",
                hex.to_uppercase()
            ),
        ] {
            assert_eq!(StaticKey::from_key_file(&text), Ok(key.clone()), "{text:?}");
        }
    }

    #[test]
    fn a_key_file_without_its_first_line_is_not_a_key_file() {
        let hex = private_hex(&key(NamedGroup::Ffdhe2048, 2));
        for text in [
            String::new(),
            format!("group ffdhe2048\nprivate {hex}\n"),
            format!("securex static keys\ngroup ffdhe2048\nprivate {hex}\n"),
            format!("-----BEGIN PUBLIC KEY-----\nprivate {hex}\n"),
        ] {
            assert_refused(&text, KeyFileError::NotAKeyFile);
        }
    }

    #[test]
    fn a_key_file_missing_a_line_is_refused() {
        let hex = private_hex(&key(NamedGroup::Ffdhe2048, 3));
        assert_refused(
            "securex static key\ngroup ffdhe2048\n",
            KeyFileError::MissingLine { keyword: "private" },
        );
        assert_refused(
            &format!("securex static key\nprivate {hex}\n"),
            KeyFileError::MissingLine { keyword: "group" },
        );
    }

    #[test]
    fn a_key_file_with_a_foreign_or_repeated_line_is_refused() {
        let hex = private_hex(&key(NamedGroup::Ffdhe2048, 4));
        for (text, line) in [
            (
                format!("securex static key\ngroup ffdhe2048\nprivate {hex}\npublic 02\n"),
                4,
            ),
            (
                format!("securex static key\ngroup ffdhe2048\nprivate {hex}\nprivate {hex}\n"),
                4,
            ),
            (
                format!("securex static key\ngroup ffdhe2048\ngroup ffdhe2048\nprivate {hex}\n"),
                3,
            ),
            (
                format!("securex static key\n\ngroup ffdhe2048\nprivate:{hex}\n"),
                4,
            ),
            (
                format!("securex static key\nsecurex static key\ngroup ffdhe2048\nprivate {hex}\n"),
                2,
            ),
        ] {
            assert_refused(&text, KeyFileError::UnexpectedLine { line });
        }
    }

    /// A key file of `group` and `hex`, laid out as the format writes it.
    fn file(group: &str, hex: &str) -> String {
        format!("securex static key\ngroup {group}\nprivate {hex}\n")
    }

    fn assert_refused(text: &str, error: KeyFileError) {
        assert_eq!(StaticKey::from_key_file(text), Err(error), "{text:?}");
    }

    #[test]
    fn a_key_file_of_a_wrong_group_is_refused() {
        let hex = private_hex(&key(NamedGroup::Ffdhe2048, 5));
        for group in [
            "ffdhe1024",
            "modp2048",
            "FFDHE2048",
            "",
            "ffdhe2048 ffdhe3072",
        ] {
            assert_refused(&file(group, &hex), KeyFileError::UnknownGroup);
        }
    }

    #[test]
    fn a_key_file_with_bad_hex_is_refused() {
        for hex in ["", "0x1234", "12g4", "123", "12 34", "é1"] {
            assert_refused(&file("ffdhe2048", hex), KeyFileError::BadHex);
        }
    }

    #[test]
    fn a_key_file_with_a_key_out_of_range_is_refused() {
        let group = Group::named(NamedGroup::Ffdhe2048);
        let q = group.subgroup_order().unwrap().to_vec();
        let mut q_minus_1 = q.clone();
        // q = (p - 1) / 2 ends in 0xff, as p ends in 64 one bits.
        *q_minus_1.last_mut().unwrap() -= 1;
        let hex = |x: &[u8]| base16ct::lower::encode_string(x);
        // 0, 1, q, 2^2048 - 1 (above p) and a key longer than the modulus.
        let long = format!("01{}", "00".repeat(256));
        for x in ["00", "01", "0001", &hex(&q), &"ff".repeat(256), &long] {
            assert_refused(&file("ffdhe2048", x), KeyFileError::InvalidKey);
        }
        // 2 and q - 1 are the bounds of the range: it is the range that
        // is checked, not the length.
        for x in ["02", &hex(&q_minus_1)] {
            assert!(
                StaticKey::from_key_file(&file("ffdhe2048", x)).is_ok(),
                "{x}"
            );
        }
    }

    #[test]
    fn a_key_of_an_ad_hoc_group_is_not_written() {
        // The ffdhe2048 modulus with another generator: not a named group.
        let raw = crate::dh::encoding::RawParams {
            p: Group::named(NamedGroup::Ffdhe2048).modulus().to_vec(),
            g: alloc::vec![5],
            q: None,
        };
        let adhoc = Group::from_raw(raw, crate::dh::DEFAULT_MAX_GROUP_BITS).unwrap();
        assert_eq!(adhoc.named_group(), None);
        let key = StaticKey::new(KeyPair::from_private_bytes(&adhoc, &[0x55; 32]).unwrap());
        assert_eq!(key.to_key_file(), Err(KeyFileError::NotNamedGroup));
    }

    #[test]
    fn key_file_errors_name_no_secret() {
        let hex = private_hex(&key(NamedGroup::Ffdhe2048, 7));
        let texts = [
            format!("securex static key\ngroup ffdhe2048\nprivate {hex}\nx {hex}\n"),
            format!("securex static key\ngroup {hex}\nprivate {hex}\n"),
            format!("securex static key\ngroup ffdhe2048\nprivate {hex}z\n"),
            format!("{hex}\n"),
        ];
        for text in texts {
            let e = StaticKey::from_key_file(&text).unwrap_err();
            assert!(!format!("{e} {e:?}").contains(&hex[..16]), "{e:?}");
            assert!(!e.to_string().is_empty());
        }
    }
}
