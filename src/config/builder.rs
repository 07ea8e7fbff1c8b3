//! [`Config::validate`], the checks every connection runs on its policy,
//! and [`ConfigBuilder`], which runs them at `build` time.

use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::{Config, MIN_PSK_LEN, Psk, StaticKey, Version};
use crate::dh::{NamedGroup, PublicKey};
use crate::suite::{Cipher, CipherSuite, Hash, Mode, Offer};

/// Why a [`Config`] cannot make a connection: a combination no peer could
/// ever complete, or one that would silently drop a setting.
///
/// Returned by [`ConfigBuilder::build`], [`Config::validate`],
/// [`Connection::client`](crate::Connection::client) and
/// [`Connection::server`](crate::Connection::server).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A pre-shared key shorter than [`MIN_PSK_LEN`] bytes.
    PskTooShort {
        /// Its length, in bytes.
        len: usize,
    },
    /// [`Config::versions`] is empty.
    NoVersion,
    /// Authentication configured on a side that speaks only v1, which has
    /// none: the setting would be dropped without a word.
    AuthenticationWithoutV2 {
        /// What was configured: `"a PSK"`, `"a pinned server key"` or `"a
        /// static key"`.
        what: &'static str,
    },
    /// No cipher in the offer goes with any of its modes (3DES with only
    /// GCM, say), or, in v2 without [`Config::legacy_suites`], only legacy
    /// suites are left.
    NoValidSuite {
        /// The version that would have no suite.
        version: Version,
    },
    /// A cipher and a mode that do not go together, given to
    /// [`ConfigBuilder::suite`].
    InvalidSuite {
        /// The cipher.
        cipher: Cipher,
        /// The mode.
        mode: Mode,
    },
    /// The side speaks v2 but [`Config::groups`] is empty.
    NoGroup,
    /// [`Config::min_group_bits`] is above [`Config::max_group_bits`], or
    /// below [`MIN_GROUP_BITS`](crate::dh::MIN_GROUP_BITS), the floor this
    /// crate enforces whatever the configuration says.
    GroupBits {
        /// The smallest modulus asked for.
        min: u32,
        /// The largest.
        max: u32,
    },
    /// A pinned server key or a static key outside the RFC 7919 groups,
    /// which v2 key shares must use.
    KeyNotInNamedGroup {
        /// `"the pinned server key"` or `"the static key"`.
        what: &'static str,
    },
    /// A limit, a rotation trigger or a timeout of zero, which would fail
    /// or rotate every connection at once (`None` is how to switch the
    /// optional ones off).
    ZeroLimit {
        /// The field of [`Config`].
        field: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::PskTooShort { len } => write!(
                f,
                "a pre-shared key needs at least {MIN_PSK_LEN} bytes, this one has {len}"
            ),
            ConfigError::NoVersion => f.write_str("the configuration lists no version"),
            ConfigError::AuthenticationWithoutV2 { what } => write!(
                f,
                "{what} needs v2, and the configuration speaks only v1, which has no authentication"
            ),
            ConfigError::NoValidSuite { version } => write!(
                f,
                "the offer holds no valid cipher suite for {version:?} (no cipher goes with any of its modes)"
            ),
            ConfigError::InvalidSuite { cipher, mode } => {
                write!(f, "cipher {cipher} cannot be used in mode {mode}")
            }
            ConfigError::NoGroup => f.write_str("v2 needs at least one group"),
            ConfigError::GroupBits { min, max } => write!(
                f,
                "the group size bounds {min}..={max} bits are impossible (the floor is {} bits)",
                crate::dh::MIN_GROUP_BITS
            ),
            ConfigError::KeyNotInNamedGroup { what } => {
                write!(f, "{what} is not in an RFC 7919 group")
            }
            ConfigError::ZeroLimit { field } => {
                write!(f, "Config::{field} is zero (use None to switch it off)")
            }
        }
    }
}

impl Config {
    /// A builder starting from `Config::default()` (v2); see
    /// [`ConfigBuilder`].
    ///
    /// ```
    /// use securex::config::{Config, Psk};
    ///
    /// let config = Config::builder()
    ///     .psk(Psk::new("office", &[7; 32]).unwrap())
    ///     .rekey_after_records(Some(1 << 20))
    ///     .build()?;
    /// assert!(config.psk.is_some());
    /// # Ok::<(), securex::config::ConfigError>(())
    /// ```
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::from(Config::default())
    }

    /// Checks that this configuration can make a connection; the
    /// connection constructors call it.
    ///
    /// # Errors
    ///
    /// The first problem found:
    ///
    /// * no version ([`ConfigError::NoVersion`]);
    /// * `[V1]` alone with a PSK, a pinned server key or a static key
    ///   ([`ConfigError::AuthenticationWithoutV2`]; `[V1, V2]` with a PSK
    ///   is valid: a server then accepts only v2 clients);
    /// * an offer without a valid suite for a version spoken
    ///   ([`ConfigError::NoValidSuite`]);
    /// * v2 without a group ([`ConfigError::NoGroup`]);
    /// * `min_group_bits` above `max_group_bits` or below the crate's floor
    ///   ([`ConfigError::GroupBits`]);
    /// * a pinned or static key outside the RFC 7919 groups
    ///   ([`ConfigError::KeyNotInNamedGroup`]);
    /// * a zero limit, trigger or timeout ([`ConfigError::ZeroLimit`]).
    ///
    /// A [`Psk`] cannot be shorter than [`MIN_PSK_LEN`]: [`Psk::new`]
    /// refuses it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.versions.is_empty() {
            return Err(ConfigError::NoVersion);
        }
        let speaks_v2 = self.versions.contains(&Version::V2);
        if !speaks_v2 {
            let configured = [
                (self.psk.is_some(), "a PSK"),
                (self.server_key.is_some(), "a pinned server key"),
                (self.static_key.is_some(), "a static key"),
            ];
            if let Some(&(_, what)) = configured.iter().find(|(set, _)| *set) {
                return Err(ConfigError::AuthenticationWithoutV2 { what });
            }
        }
        for version in [Version::V1, Version::V2] {
            if self.versions.contains(&version) && !self.has_suite_for(version) {
                return Err(ConfigError::NoValidSuite { version });
            }
        }
        if speaks_v2 && self.groups.is_empty() {
            return Err(ConfigError::NoGroup);
        }
        if self.min_group_bits > self.max_group_bits
            || self.min_group_bits < crate::dh::MIN_GROUP_BITS
        {
            return Err(ConfigError::GroupBits {
                min: self.min_group_bits,
                max: self.max_group_bits,
            });
        }
        let in_named_group = |key: &PublicKey| key.group().named_group().is_some();
        if self.server_key.as_ref().is_some_and(|k| !in_named_group(k)) {
            return Err(ConfigError::KeyNotInNamedGroup {
                what: "the pinned server key",
            });
        }
        if self
            .static_key
            .as_ref()
            .is_some_and(|k| !in_named_group(k.key_pair().public_key()))
        {
            return Err(ConfigError::KeyNotInNamedGroup {
                what: "the static key",
            });
        }
        match self.zero_limit() {
            Some(field) => Err(ConfigError::ZeroLimit { field }),
            None => Ok(()),
        }
    }

    /// Whether the offer holds a valid suite that `version` may use: in
    /// v2, a non-legacy one unless `legacy_suites`; in v1, one the v1
    /// choice (CBC, else the cipher's fallback mode) can reach.
    fn has_suite_for(&self, version: Version) -> bool {
        match version {
            Version::V1 => self.offer.choose_v1(&self.offer).is_ok(),
            Version::V2 => CipherSuite::ALL.iter().any(|&suite| {
                let legacy = suite.cipher() == Cipher::TripleDes || suite.mode() == Mode::Ecb;
                self.offer.contains(suite) && (self.legacy_suites || !legacy)
            }),
        }
    }

    /// The first limit, trigger or timeout set to zero, if any.
    fn zero_limit(&self) -> Option<&'static str> {
        let zero_duration = |d: Option<Duration>| d == Some(Duration::ZERO);
        [
            (self.max_frame_len == 0, "max_frame_len"),
            (self.max_buffered == 0, "max_buffered"),
            (self.rotate_after_frames == Some(0), "rotate_after_frames"),
            (self.rekey_after_records == Some(0), "rekey_after_records"),
            (self.rekey_after_bytes == Some(0), "rekey_after_bytes"),
            (zero_duration(self.rekey_after), "rekey_after"),
            (zero_duration(self.v1_rotate_after), "v1_rotate_after"),
            (zero_duration(self.handshake_timeout), "handshake_timeout"),
            (zero_duration(self.idle_timeout), "idle_timeout"),
        ]
        .into_iter()
        .find_map(|(zero, field)| zero.then_some(field))
    }
}

/// Builds a [`Config`] and checks the whole at [`build`](Self::build).
///
/// Every setter sets the field of [`Config`] of the same name (whose
/// rustdoc gives its meaning and default). Start from
/// [`Config::builder`] (v2), [`ConfigBuilder::seed_compatible`] or any
/// `Config` (`ConfigBuilder::from(config)`).
///
/// ```
/// use securex::config::{ConfigBuilder, ConfigError, Psk};
/// use securex::Version;
///
/// // v1 has no authentication: a PSK on a v1-only side is refused.
/// let refused = ConfigBuilder::seed_compatible()
///     .versions(&[Version::V1])
///     .psk(Psk::new("office", &[7; 32]).unwrap())
///     .build();
/// assert_eq!(
///     refused,
///     Err(ConfigError::AuthenticationWithoutV2 { what: "a PSK" })
/// );
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
    /// The first problem a setter met that only `build` reports.
    deferred: Option<ConfigError>,
}

impl From<Config> for ConfigBuilder {
    fn from(config: Config) -> ConfigBuilder {
        ConfigBuilder {
            config,
            deferred: None,
        }
    }
}

/// Setters that store their argument in the field of the same name.
macro_rules! setters {
    ($( $(#[$doc:meta])* $field:ident: $ty:ty; )*) => {
        $(
            $(#[$doc])*
            pub fn $field(mut self, value: $ty) -> Self {
                self.config.$field = value;
                self
            }
        )*
    };
}

impl ConfigBuilder {
    /// A builder starting from [`Config::seed_compatible`].
    pub fn seed_compatible() -> ConfigBuilder {
        ConfigBuilder::from(Config::seed_compatible())
    }

    /// The configuration, if [`Config::validate`] accepts it and no setter
    /// met a problem.
    ///
    /// # Errors
    ///
    /// The first problem found: what a setter met first
    /// ([`ConfigError::PskTooShort`] from
    /// [`psk_from_bytes`](Self::psk_from_bytes),
    /// [`ConfigError::InvalidSuite`] from [`suite`](Self::suite)), else
    /// what [`Config::validate`] refuses.
    pub fn build(self) -> Result<Config, ConfigError> {
        if let Some(e) = self.deferred {
            return Err(e);
        }
        self.config.validate()?;
        Ok(self.config)
    }

    fn defer(&mut self, error: ConfigError) {
        self.deferred.get_or_insert(error);
    }

    /// Sets [`Config::versions`], most preferred first.
    pub fn versions(mut self, versions: &[Version]) -> Self {
        self.config.versions = versions.to_vec();
        self
    }

    /// Sets [`Config::groups`], most preferred first.
    pub fn groups(mut self, groups: &[NamedGroup]) -> Self {
        self.config.groups = groups.to_vec();
        self
    }

    /// Sets [`Config::psk`].
    pub fn psk(mut self, psk: Psk) -> Self {
        self.config.psk = Some(psk);
        self
    }

    /// Sets [`Config::psk`] from an identifier and the key's bytes;
    /// [`build`](Self::build) fails with [`ConfigError::PskTooShort`] if
    /// the key has fewer than [`MIN_PSK_LEN`] bytes.
    pub fn psk_from_bytes(mut self, id: &str, key: &[u8]) -> Self {
        match Psk::new(id, key) {
            Some(psk) => self.config.psk = Some(psk),
            None => self.defer(ConfigError::PskTooShort { len: key.len() }),
        }
        self
    }

    /// Sets [`Config::static_key`].
    pub fn static_key(mut self, key: StaticKey) -> Self {
        self.config.static_key = Some(key);
        self
    }

    /// Sets [`Config::server_key`].
    pub fn server_key(mut self, key: PublicKey) -> Self {
        self.config.server_key = Some(key);
        self
    }

    /// Sets the ciphers of [`Config::offer`], most preferred first.
    pub fn ciphers(mut self, ciphers: &[Cipher]) -> Self {
        self.config.offer.ciphers = ciphers.to_vec();
        self
    }

    /// Sets the modes of [`Config::offer`], most preferred first.
    pub fn modes(mut self, modes: &[Mode]) -> Self {
        self.config.offer.modes = modes.to_vec();
        self
    }

    /// Sets the hashes of [`Config::offer`], most preferred first.
    pub fn hashes(mut self, hashes: &[Hash]) -> Self {
        self.config.offer.hashes = hashes.to_vec();
        self
    }

    /// Sets [`Config::offer`] to exactly one suite; [`build`](Self::build)
    /// fails with [`ConfigError::InvalidSuite`] if the cipher does not go
    /// with the mode.
    pub fn suite(mut self, cipher: Cipher, mode: Mode, hash: Hash) -> Self {
        if CipherSuite::new(cipher, mode, hash).is_err() {
            self.defer(ConfigError::InvalidSuite { cipher, mode });
        }
        self.config.offer = Offer {
            ciphers: Vec::from([cipher]),
            modes: Vec::from([mode]),
            hashes: Vec::from([hash]),
        };
        self
    }

    setters! {
        /// Sets [`Config::legacy_suites`].
        legacy_suites: bool;
        /// Sets [`Config::offer`].
        offer: Offer;
        /// Sets [`Config::v1_group`].
        v1_group: NamedGroup;
        /// Sets [`Config::accept_adhoc_groups`].
        accept_adhoc_groups: bool;
        /// Sets [`Config::min_group_bits`].
        min_group_bits: u32;
        /// Sets [`Config::max_group_bits`].
        max_group_bits: u32;
        /// Sets [`Config::max_adhoc_group_bits`].
        max_adhoc_group_bits: u32;
        /// Sets [`Config::rotate_after_frames`].
        rotate_after_frames: Option<u64>;
        /// Sets [`Config::v1_rotate_after`].
        v1_rotate_after: Option<Duration>;
        /// Sets [`Config::v1_rotation_min_frames`].
        v1_rotation_min_frames: u64;
        /// Sets [`Config::v1_rotation_min_bytes`].
        v1_rotation_min_bytes: u64;
        /// Sets [`Config::rekey_after_records`].
        rekey_after_records: Option<u64>;
        /// Sets [`Config::rekey_after_bytes`].
        rekey_after_bytes: Option<u64>;
        /// Sets [`Config::rekey_after`].
        rekey_after: Option<Duration>;
        /// Sets [`Config::rekey_min_bytes`].
        rekey_min_bytes: u64;
        /// Sets [`Config::min_rotation_interval`].
        min_rotation_interval: Option<Duration>;
        /// Sets [`Config::v1_rotation_min_interval`].
        v1_rotation_min_interval: Option<Duration>;
        /// Sets [`Config::max_frame_len`].
        max_frame_len: usize;
        /// Sets [`Config::max_buffered`].
        max_buffered: usize;
        /// Sets [`Config::handshake_timeout`].
        handshake_timeout: Option<Duration>;
        /// Sets [`Config::idle_timeout`].
        idle_timeout: Option<Duration>;
        /// Sets [`Config::key_log`]. **Debugging only**: the key log
        /// receives every key of the session (see [`crate::keylog`]).
        key_log: Option<crate::keylog::KeyLog>;
    }

    /// Sets [`Config::extensions`].
    pub fn extensions(mut self, extensions: &[super::Extension]) -> Self {
        self.config.extensions = extensions.to_vec();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dh::{Group, KeyPair};
    use rand_core::SeedableRng;

    fn psk() -> Psk {
        Psk::new("id", &[7; MIN_PSK_LEN]).unwrap()
    }

    fn key_pair(group: &Group) -> KeyPair {
        KeyPair::generate(group, &mut rand_chacha::ChaCha20Rng::seed_from_u64(1))
    }

    /// A 512-bit group that is not one of RFC 7919's (the v1 vectors').
    fn adhoc_group() -> Group {
        use base64::Engine as _;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/seed-v1.json"
        );
        let vectors: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let adhoc = &vectors["groups"][0];
        assert_eq!(adhoc["name"], "adhoc-512");
        let pem = base64::engine::general_purpose::STANDARD
            .decode(adhoc["params_b64"].as_str().unwrap())
            .unwrap();
        Group::from_pem(&pem, 8192).unwrap()
    }

    #[test]
    fn the_presets_and_an_untouched_builder_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
        assert_eq!(Config::seed_compatible().validate(), Ok(()));
        assert_eq!(Config::builder().build(), Ok(Config::default()));
        assert_eq!(
            ConfigBuilder::seed_compatible().build(),
            Ok(Config::seed_compatible())
        );
    }

    #[test]
    fn a_short_psk_is_refused_at_build() {
        let short = Config::builder().psk_from_bytes("id", &[7; MIN_PSK_LEN - 1]);
        assert_eq!(
            short.build(),
            Err(ConfigError::PskTooShort {
                len: MIN_PSK_LEN - 1
            })
        );
        let config = Config::builder()
            .psk_from_bytes("id", &[7; MIN_PSK_LEN])
            .build()
            .unwrap();
        assert_eq!(config.psk, Some(psk()));
    }

    #[test]
    fn a_suite_with_an_invalid_mode_is_refused() {
        for (cipher, mode) in [(Cipher::TripleDes, Mode::Gcm), (Cipher::Aes128, Mode::Ecb)] {
            let built = ConfigBuilder::seed_compatible()
                .suite(cipher, mode, Hash::Sha256)
                .build();
            assert_eq!(built, Err(ConfigError::InvalidSuite { cipher, mode }));
        }
        // The same offer as lists: no cipher goes with any mode.
        let lists = ConfigBuilder::seed_compatible()
            .ciphers(&[Cipher::TripleDes])
            .modes(&[Mode::Gcm]);
        assert_eq!(
            lists.build(),
            Err(ConfigError::NoValidSuite {
                version: Version::V1
            })
        );
        let v2 = Config::builder()
            .ciphers(&[Cipher::TripleDes])
            .modes(&[Mode::Gcm]);
        assert_eq!(
            v2.build(),
            Err(ConfigError::NoValidSuite {
                version: Version::V2
            })
        );
        // A valid pair is accepted.
        let one = Config::builder()
            .suite(Cipher::Aes128, Mode::Cbc, Hash::Sha512)
            .build()
            .unwrap();
        assert_eq!(one.offer.modes, [Mode::Cbc]);
    }

    #[test]
    fn v2_without_legacy_suites_needs_a_modern_one() {
        let legacy_only = Config::builder().suite(Cipher::TripleDes, Mode::Cbc, Hash::Sha256);
        assert_eq!(
            legacy_only.clone().build(),
            Err(ConfigError::NoValidSuite {
                version: Version::V2
            })
        );
        assert!(legacy_only.legacy_suites(true).build().is_ok());
    }

    #[test]
    fn v1_alone_with_authentication_is_refused() {
        let v1 = || ConfigBuilder::seed_compatible().versions(&[Version::V1]);
        assert!(v1().build().is_ok());
        assert_eq!(
            v1().psk(psk()).build(),
            Err(ConfigError::AuthenticationWithoutV2 { what: "a PSK" })
        );
        let group = Group::named(NamedGroup::Ffdhe2048);
        let key = key_pair(&group);
        assert_eq!(
            v1().server_key(key.public_key().clone()).build(),
            Err(ConfigError::AuthenticationWithoutV2 {
                what: "a pinned server key"
            })
        );
        assert_eq!(
            v1().static_key(StaticKey::new(key)).build(),
            Err(ConfigError::AuthenticationWithoutV2 {
                what: "a static key"
            })
        );
        // `[V1, V2]` with a PSK: what `--seed-compatible --psk-file` gives.
        assert!(ConfigBuilder::seed_compatible().psk(psk()).build().is_ok());
    }

    #[test]
    fn min_group_bits_above_max_is_refused() {
        let built = Config::builder()
            .min_group_bits(4096)
            .max_group_bits(3072)
            .build();
        assert_eq!(
            built,
            Err(ConfigError::GroupBits {
                min: 4096,
                max: 3072
            })
        );
        assert!(
            Config::builder()
                .min_group_bits(3072)
                .max_group_bits(3072)
                .build()
                .is_ok()
        );
        let below_floor = Config::builder().min_group_bits(crate::dh::MIN_GROUP_BITS - 1);
        assert!(matches!(
            below_floor.build(),
            Err(ConfigError::GroupBits { .. })
        ));
    }

    #[test]
    fn empty_versions_and_groups_are_refused() {
        assert_eq!(
            Config::builder().versions(&[]).build(),
            Err(ConfigError::NoVersion)
        );
        assert_eq!(
            Config::builder().groups(&[]).build(),
            Err(ConfigError::NoGroup)
        );
        // A v1-only side needs no v2 group.
        let v1 = ConfigBuilder::seed_compatible()
            .versions(&[Version::V1])
            .groups(&[]);
        assert!(v1.build().is_ok());
    }

    #[test]
    fn keys_outside_the_named_groups_are_refused() {
        let key = key_pair(&adhoc_group());
        assert_eq!(
            Config::builder()
                .server_key(key.public_key().clone())
                .build(),
            Err(ConfigError::KeyNotInNamedGroup {
                what: "the pinned server key"
            })
        );
        assert_eq!(
            Config::builder().static_key(StaticKey::new(key)).build(),
            Err(ConfigError::KeyNotInNamedGroup {
                what: "the static key"
            })
        );
    }

    #[test]
    fn every_zero_limit_is_refused_by_name() {
        type Set = fn(ConfigBuilder) -> ConfigBuilder;
        let cases: [(Set, &str); 9] = [
            (|b| b.max_frame_len(0), "max_frame_len"),
            (|b| b.max_buffered(0), "max_buffered"),
            (|b| b.rotate_after_frames(Some(0)), "rotate_after_frames"),
            (|b| b.rekey_after_records(Some(0)), "rekey_after_records"),
            (|b| b.rekey_after_bytes(Some(0)), "rekey_after_bytes"),
            (|b| b.rekey_after(Some(Duration::ZERO)), "rekey_after"),
            (
                |b| b.v1_rotate_after(Some(Duration::ZERO)),
                "v1_rotate_after",
            ),
            (
                |b| b.handshake_timeout(Some(Duration::ZERO)),
                "handshake_timeout",
            ),
            (|b| b.idle_timeout(Some(Duration::ZERO)), "idle_timeout"),
        ];
        for (set, field) in cases {
            assert_eq!(
                set(Config::builder()).build(),
                Err(ConfigError::ZeroLimit { field }),
                "{field}"
            );
        }
        // `None` switches the optional ones off.
        let off = Config::builder()
            .rekey_after_records(None)
            .handshake_timeout(None)
            .idle_timeout(None)
            .build();
        assert!(off.is_ok());
    }

    #[test]
    fn a_deferred_error_wins_over_later_valid_settings() {
        let built = Config::builder()
            .psk_from_bytes("id", &[1; 3])
            .psk(psk())
            .build();
        assert_eq!(built, Err(ConfigError::PskTooShort { len: 3 }));
    }

    #[test]
    fn debug_shows_no_secret() {
        let config = Config::builder()
            .psk_from_bytes("office", &[0xAB; 32])
            .build()
            .unwrap();
        let shown = alloc::format!("{config:?} {:?}", Config::builder());
        assert!(shown.contains("office"));
        assert!(!shown.to_lowercase().contains("ab, ab") && !shown.contains("171"));
    }
}
