//! The policy of a connection: versions, suites, groups, limits, rotation
//! and timers, with safe defaults and a seed-compatible preset.
//!
//! ```
//! use securex::config::Config;
//! use securex::suite::{Cipher, Offer};
//!
//! let mut config = Config::seed_compatible();
//! config.offer.ciphers = vec![Cipher::Aes128];
//! config.rotate_after_frames = Some(1000);
//! ```

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::dh::{DEFAULT_MAX_GROUP_BITS, KeyPair, NamedGroup, PublicKey};
use crate::suite::{Cipher, Hash, Mode, Offer};

mod builder;

mod key_file;

pub use builder::{ConfigBuilder, ConfigError};
pub use key_file::KeyFileError;

/// A protocol version.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// The seed protocol of existing peers: weak, kept for compatibility.
    V1,
    /// The hardened protocol.
    V2,
}

/// A v2 extension of the application protocol, agreed in the handshake:
/// the client lists the ones it speaks in `ALGORITHMS` (field
/// `extensions`), the server answers in `EXCHANGE` with those it speaks
/// too, and both hellos are in the transcript the keys are bound to, so a
/// man in the middle cannot strip or add one. A peer that knows none (an
/// older v2 peer) ignores the field: nothing is agreed, and the
/// application protocol is the plain one.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extension {
    /// `resume`: an interrupted upload continues from what the server
    /// holds (see [`crate::manual::v2_wire`], "Resume").
    Resume,
    /// `batch`: one connection carries several files, one after another
    /// (see [`crate::manual::v2_wire`], "Batch"); without it, a connection
    /// carries one file.
    Batch,
}

impl Extension {
    /// Every extension this crate knows.
    pub const ALL: [Extension; 2] = [Extension::Resume, Extension::Batch];

    /// The name on the wire.
    #[must_use]
    pub const fn wire_name(self) -> &'static str {
        match self {
            Extension::Resume => "resume",
            Extension::Batch => "batch",
        }
    }

    /// The extension of a wire name, if this crate knows it.
    #[must_use]
    pub fn from_wire_name(name: &str) -> Option<Extension> {
        Extension::ALL.into_iter().find(|e| e.wire_name() == name)
    }
}

/// A pre-shared key and the identifier both sides know it by.
#[derive(Clone, PartialEq, Eq)]
pub struct Psk {
    id: alloc::string::String,
    key: zeroize::Zeroizing<Vec<u8>>,
}

/// The shortest pre-shared key accepted, in bytes: an active attacker who
/// plays the client can test guesses of a PSK offline, so it must be a
/// high-entropy key, not a password.
pub const MIN_PSK_LEN: usize = 16;

/// What [`Psk::from_key`] hashes before the key.
const PSK_ID_LABEL: &[u8] = b"securex psk id";

/// The bytes of the digest a derived PSK id keeps (16 hex digits).
const PSK_ID_LEN: usize = 8;

impl Psk {
    /// A PSK with its identifier (sent in clear in `ALGORITHMS`); `None`
    /// if the key is shorter than [`MIN_PSK_LEN`].
    pub fn new(id: impl Into<alloc::string::String>, key: &[u8]) -> Option<Psk> {
        (key.len() >= MIN_PSK_LEN).then(|| Psk {
            id: id.into(),
            key: zeroize::Zeroizing::new(key.to_vec()),
        })
    }

    /// A PSK whose identifier is derived from the key itself, so that
    /// both sides agree on it with nothing but the key: the lower-case hex
    /// of the first 8 bytes of `SHA-256("securex psk id" || key)`. For a
    /// high-entropy key (which a PSK must be) the id reveals nothing of
    /// it. This is how the example programs turn a `--psk-file` into a
    /// [`Psk`]: a program that does the same interoperates with them.
    ///
    /// ```
    /// use securex::config::Psk;
    ///
    /// let psk = Psk::from_key(b"0123456789abcdef")?;
    /// assert_eq!(psk.id(), "c498815785bd58d4");
    /// # Ok::<(), securex::config::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::PskTooShort`] if the key is shorter than
    /// [`MIN_PSK_LEN`].
    pub fn from_key(key: &[u8]) -> Result<Psk, ConfigError> {
        use sha2::Digest;
        if key.len() < MIN_PSK_LEN {
            return Err(ConfigError::PskTooShort { len: key.len() });
        }
        let digest = sha2::Sha256::new()
            .chain_update(PSK_ID_LABEL)
            .chain_update(key)
            .finalize();
        let id = base16ct::lower::encode_string(&digest[..PSK_ID_LEN]);
        Ok(Psk {
            id,
            key: zeroize::Zeroizing::new(key.to_vec()),
        })
    }

    /// The identifier.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key (the connection, which needs `std`, is its only user).
    #[cfg(feature = "std")]
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }
}

/// A server's long-term DH key pair, for clients that pin its public key.
/// Cheap to clone; the private exponent is never shown.
#[derive(Clone)]
pub struct StaticKey(alloc::sync::Arc<KeyPair>);

impl StaticKey {
    /// Wraps a key pair (in one of the RFC 7919 groups).
    #[must_use]
    pub fn new(key: KeyPair) -> StaticKey {
        StaticKey(alloc::sync::Arc::new(key))
    }

    /// The key pair.
    #[must_use]
    pub fn key_pair(&self) -> &KeyPair {
        &self.0
    }
}

impl PartialEq for StaticKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.public_key() == other.0.public_key()
    }
}

impl Eq for StaticKey {}

impl core::fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("StaticKey")
            .field(self.0.public_key())
            .finish()
    }
}

impl core::fmt::Debug for Psk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Psk")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The default limit on one frame: 1 MiB, room for frames carrying
/// 256 KiB chunks (base64 twice over, about 466 KB) with margin.
pub const DEFAULT_MAX_FRAME_LEN: usize = 1 << 20;

/// The default limit on bytes a connection queues for sending: 4 MiB.
pub const DEFAULT_MAX_BUFFERED: usize = 4 << 20;

/// Frames per key epoch after which a v1 client rotates in the seed
/// preset, as existing clients do.
pub const SEED_ROTATE_AFTER_FRAMES: u64 = 20;

/// The most application bytes a v2 3DES key protects: 4 MiB, half of the
/// 2^20 blocks (8 MiB) beyond which 64-bit blocks collide too often
/// (Sweet32).
pub const TDES_MAX_BYTES_PER_KEY: u64 = 4 << 20;

/// Default v2 rotation after records: 2^24 records, far below GCM's 2^32.
pub const DEFAULT_REKEY_AFTER_RECORDS: u64 = 1 << 24;

/// Default v2 rotation after bytes: 1 GiB.
pub const DEFAULT_REKEY_AFTER_BYTES: u64 = 1 << 30;

/// Default v2 rotation after time: 15 minutes.
pub const DEFAULT_REKEY_AFTER: Duration = Duration::from_mins(15);

/// The fewest protected frames existing v1 clients send in an epoch before
/// they rotate (19 in their first epoch, 20 in each later one).
pub const V1_ROTATION_MIN_FRAMES: u64 = 19;

/// The default of [`Config::v1_rotation_min_bytes`]: 32,000 bytes. Existing
/// v1 clients rotate after an epoch of `OPEN` and 18 DATA frames of
/// 960-byte chunks (34,006 bytes and more, whatever the suite), or of 20
/// DATA frames; the only shorter epoch they send before a rotation (`OPEN`,
/// 17 full chunks and the file's short last chunk, about 32,300 bytes) is
/// the one whose `CLOSE` they never send. With it, a renegotiation (a key
/// agreement in an ad-hoc group of up to [`SEED_MAX_ADHOC_GROUP_BITS`] and
/// a PBKDF2 of 100,000 iterations) costs a server less than 1 ms of CPU
/// per KB received (`cargo bench --bench hostile`).
pub const DEFAULT_V1_ROTATION_MIN_BYTES: u64 = 32_000;

/// The default of [`Config::rekey_min_bytes`]: 4 KiB of application
/// records before a v2 rotation, so that a REKEY (a key pair and an
/// agreement in a named group) costs its responder less than 1 ms of CPU
/// per KB received.
pub const DEFAULT_REKEY_MIN_BYTES: u64 = 4096;

/// The default of [`Config::min_rotation_interval`]: 50 ms, at most 20
/// v2 rotations a second started by the peer.
pub const DEFAULT_MIN_ROTATION_INTERVAL: Duration = Duration::from_millis(50);

/// The default of [`Config::v1_rotation_min_interval`]: 10 ms, at most 100
/// renegotiations a second. A v1 client must run PBKDF2 itself for every
/// epoch (its records must verify), which already keeps it to a few dozen
/// a second; this is the backstop, set so that no honest client, ours at
/// full speed included, ever waits for it.
pub const DEFAULT_V1_ROTATION_MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The largest ad-hoc group the seed-compatible preset accepts: 2048 bits
/// (existing v1 clients send 512-bit groups; the RFC 7919 groups, up to
/// 4096 bits, are not ad hoc).
pub const SEED_MAX_ADHOC_GROUP_BITS: u32 = 2048;

/// The policy of one side of a connection.
///
/// Build one with [`Config::builder`] (v2, from `Config::default()`) or
/// [`ConfigBuilder::seed_compatible`], which check the whole at
/// [`build`](ConfigBuilder::build). The fields are public too: a preset
/// can be changed in place, and [`Connection::client`](crate::Connection::client)
/// and [`Connection::server`](crate::Connection::server) run the same
/// [`Config::validate`], so no invalid configuration makes a connection.
///
/// `Debug` shows no secret: a [`Psk`] prints its id, a [`StaticKey`] its
/// public key.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The versions this side speaks, most preferred first. A client
    /// speaks the first; with `[V2, V1]` it also accepts a v1 server's
    /// answer. A server accepts clients of every listed version.
    ///
    /// v1 cannot authenticate: a client with a PSK or a pinned server key
    /// speaks only v2, and a server with a PSK accepts only v2 clients,
    /// whatever this lists (and [`Config::validate`] refuses `[V1]` alone
    /// with either). Default `[V2]`; seed preset `[V1, V2]`.
    pub versions: Vec<Version>,
    /// v2: the RFC 7919 groups accepted, most preferred first. A client
    /// sends its key share in the first; a server accepts a client whose
    /// first group it lists. Default (both presets): ffdhe2048, ffdhe3072,
    /// ffdhe4096.
    pub groups: Vec<NamedGroup>,
    /// v2: allow the legacy suites (3DES, ECB). Default off; seed preset
    /// on.
    pub legacy_suites: bool,
    /// v2: a pre-shared key. Both sides must hold the same one (and id),
    /// or no handshake completes. Default none.
    pub psk: Option<Psk>,
    /// v2, server: a long-term key pair, for clients that pin it. Default
    /// none.
    pub static_key: Option<StaticKey>,
    /// v2, client: the server's long-term public key. Only the holder of
    /// its private key can complete the handshake; the client's key share
    /// goes in that key's group. Default none.
    pub server_key: Option<PublicKey>,
    /// Client: the ciphers, modes and hashes offered, most preferred first.
    /// Server: the ones accepted (their order does not matter: the v1 rule
    /// follows the client's preferences). Default: AES-128; GCM, CBC;
    /// SHA-256, SHA-512. Seed preset: every cipher, mode and hash
    /// ([`Offer::all`]).
    pub offer: Offer,
    /// The group a v1 client sends in `ALGORITHMS` (existing servers load
    /// any group; ours never generates one). Default ffdhe2048.
    pub v1_group: NamedGroup,
    /// Server: accept ad-hoc groups chosen by the client (existing v1
    /// clients send a fresh 512-bit group per process). Off means only the
    /// RFC 7919 groups. Default off; seed preset on.
    pub accept_adhoc_groups: bool,
    /// Server: the smallest modulus accepted, in bits. Default 2048 (the
    /// seed-compatible preset: 512, what existing clients send).
    pub min_group_bits: u32,
    /// The largest modulus accepted, in bits, checked before any
    /// arithmetic. Default 8192.
    pub max_group_bits: u32,
    /// Server: the largest ad-hoc group accepted, in bits, checked before
    /// any arithmetic (its key agreement uses exponents of `bits - 2` bits,
    /// the costliest work a client can ask for). Default 2048
    /// ([`SEED_MAX_ADHOC_GROUP_BITS`]).
    pub max_adhoc_group_bits: u32,
    /// Client (v1): rotate keys after this many protected frames in an
    /// epoch; `None` never rotates. The rotation also waits for
    /// [`v1_rotation_min_frames`](Config::v1_rotation_min_frames) and
    /// [`v1_rotation_min_bytes`](Config::v1_rotation_min_bytes), which a
    /// server of ours enforces. Default `None`; seed preset 20
    /// ([`SEED_ROTATE_AFTER_FRAMES`]).
    pub rotate_after_frames: Option<u64>,
    /// Client (v1): rotate keys this long after the epoch began; `None`
    /// never rotates on time. Like
    /// [`rotate_after_frames`](Config::rotate_after_frames), the rotation
    /// then waits for the epoch to carry
    /// [`v1_rotation_min_frames`](Config::v1_rotation_min_frames) and
    /// [`v1_rotation_min_bytes`](Config::v1_rotation_min_bytes): an idle
    /// v1 connection does not rotate (v1 records carry no sequence number,
    /// and a server of ours refuses a rotation before them). The v2
    /// counterpart is [`rekey_after`](Config::rekey_after). Default
    /// `None` (both presets).
    pub v1_rotate_after: Option<Duration>,
    /// v1: the fewest protected frames of the client's in an epoch before
    /// a rotation: a server refuses an earlier `ALGORITHMS`
    /// ([`ProtocolError::RotationTooSoon`](crate::error::ProtocolError::RotationTooSoon)),
    /// and a client of ours waits for them. Default 19
    /// ([`V1_ROTATION_MIN_FRAMES`], what existing clients send).
    pub v1_rotation_min_frames: u64,
    /// v1: the fewest bytes of the client's protected frames in an epoch
    /// before a rotation, enforced and respected like
    /// `v1_rotation_min_frames`. v1 records carry no sequence number, so
    /// the frames may be replays: the bound is on bytes, which cost the
    /// client bandwidth whatever they hold. Default 32,000
    /// ([`DEFAULT_V1_ROTATION_MIN_BYTES`]).
    pub v1_rotation_min_bytes: u64,
    /// v2: start a rotation (REKEY) after sending this many records in an
    /// epoch. Default 2^24 ([`DEFAULT_REKEY_AFTER_RECORDS`]).
    pub rekey_after_records: Option<u64>,
    /// v2: start a rotation after sending this many bytes of application
    /// data in an epoch. With 3DES the connection never lets a key protect
    /// more than [`TDES_MAX_BYTES_PER_KEY`], whatever this says. Default
    /// 1 GiB ([`DEFAULT_REKEY_AFTER_BYTES`]).
    pub rekey_after_bytes: Option<u64>,
    /// v2: start a rotation this long after the epoch began. Default 15
    /// minutes ([`DEFAULT_REKEY_AFTER`]).
    pub rekey_after: Option<Duration>,
    /// v2: the fewest bytes of application records a side sends in an
    /// epoch before it starts a rotation, in ffdhe2048 (scaled by the
    /// square of the group's size in larger ones: 2.25 times in ffdhe3072,
    /// 4 times in ffdhe4096; at most half a 3DES key's limit): a responder
    /// refuses an earlier
    /// REKEY ([`ProtocolError::RotationTooSoon`](crate::error::ProtocolError::RotationTooSoon)),
    /// and every trigger of ours (records, bytes, time,
    /// [`Connection::rotate`](crate::Connection::rotate)) waits until the
    /// epoch has carried that much. Both sides must agree on it (or the
    /// responder's must be the lower). Default 4096
    /// ([`DEFAULT_REKEY_MIN_BYTES`]).
    pub rekey_min_bytes: u64,
    /// v2: a REKEY the peer sends sooner than this after the current epoch
    /// began is answered only once this much time has passed (it is deferred,
    /// not refused; the peer waits within its reply deadline). A
    /// per-connection rate cap on the work a peer can ask for. Keep it
    /// well below the peer's `handshake_timeout`, which bounds how long
    /// it waits for the answer. Default 50 ms
    /// ([`DEFAULT_MIN_ROTATION_INTERVAL`]); `None` answers at once.
    pub min_rotation_interval: Option<Duration>,
    /// Server (v1): a renegotiation sooner than this after the current
    /// epoch began is answered only once this much time has passed
    /// (deferred like a REKEY, see
    /// [`min_rotation_interval`](Config::min_rotation_interval)). Default
    /// 10 ms ([`DEFAULT_V1_ROTATION_MIN_INTERVAL`]).
    pub v1_rotation_min_interval: Option<Duration>,
    /// The longest frame accepted or sent, in bytes, without its `\r\n`.
    /// Default 1 MiB ([`DEFAULT_MAX_FRAME_LEN`]).
    pub max_frame_len: usize,
    /// The most bytes the connection queues for sending (application
    /// messages waiting for keys plus frames not yet polled); `send` beyond
    /// it fails with `Misuse::BufferFull` and the connection stays open.
    /// Default 4 MiB ([`DEFAULT_MAX_BUFFERED`]).
    pub max_buffered: usize,
    /// The reply deadline: how long the peer may take to complete the
    /// first handshake (from the connection's creation) and to deliver
    /// each answer it owes (a rotation's, the server's OK to `OPEN` and,
    /// in v2, to `CLOSE`; when several are owed, each counts from the
    /// answer before it). See [`Timer`](crate::Timer). Default 30 s.
    pub handshake_timeout: Option<Duration>,
    /// How long the connection may go without a complete frame sent or
    /// received ([`Timer::Idle`](crate::Timer::Idle)); bytes that do not
    /// complete a frame do not count. Default 300 s.
    pub idle_timeout: Option<Duration>,
    /// v2: the extensions of the application protocol this side speaks
    /// (client: offers; server: agrees to those the client offers). List
    /// one only if the application handles it: the file transfer of
    /// [`crate::transfer`] does [`Extension::Resume`] when its receiver
    /// has a resume RNG, and [`Extension::Batch`] (an
    /// [`Upload::batch`](crate::transfer::Upload::batch) of several files;
    /// a [`Download`](crate::transfer::Download) stores up to
    /// [`Receiver::with_max_files`](crate::transfer::Receiver::with_max_files)).
    /// Default none.
    pub extensions: Vec<Extension>,
    /// **Debugging only: writes every secret needed to decrypt the
    /// session.** A callback that receives, at each key derivation (the
    /// first handshake and every rotation), one line per direction with
    /// that epoch's keys; anyone who holds the lines and a capture reads
    /// the traffic. See [`crate::keylog`] for the line grammar. Default
    /// `None` (nothing logged) in both presets.
    pub key_log: Option<crate::keylog::KeyLog>,
}

impl Config {
    /// The seed-compatible preset: a client speaks v1 and a server accepts
    /// v1 and v2 clients; every suite (in the order existing
    /// clients offer them), ad-hoc groups of 512 bits and more accepted,
    /// rotation after 20 protected frames.
    ///
    /// v1 has no authentication and weak record protection (see
    /// [`crate::record::v1`]): use it only to talk to existing peers.
    #[must_use]
    pub fn seed_compatible() -> Config {
        Config {
            versions: vec![Version::V1, Version::V2],
            groups: NamedGroup::ALL.to_vec(),
            legacy_suites: true,
            psk: None,
            static_key: None,
            server_key: None,
            offer: Offer::all(),
            v1_group: NamedGroup::Ffdhe2048,
            accept_adhoc_groups: true,
            min_group_bits: crate::dh::MIN_GROUP_BITS,
            max_group_bits: DEFAULT_MAX_GROUP_BITS,
            max_adhoc_group_bits: SEED_MAX_ADHOC_GROUP_BITS,
            rotate_after_frames: Some(SEED_ROTATE_AFTER_FRAMES),
            v1_rotate_after: None,
            v1_rotation_min_frames: V1_ROTATION_MIN_FRAMES,
            v1_rotation_min_bytes: DEFAULT_V1_ROTATION_MIN_BYTES,
            rekey_after_records: Some(DEFAULT_REKEY_AFTER_RECORDS),
            rekey_after_bytes: Some(DEFAULT_REKEY_AFTER_BYTES),
            rekey_after: Some(DEFAULT_REKEY_AFTER),
            rekey_min_bytes: DEFAULT_REKEY_MIN_BYTES,
            min_rotation_interval: Some(DEFAULT_MIN_ROTATION_INTERVAL),
            v1_rotation_min_interval: Some(DEFAULT_V1_ROTATION_MIN_INTERVAL),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_buffered: DEFAULT_MAX_BUFFERED,
            handshake_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_mins(5)),
            extensions: Vec::new(),
            key_log: None,
        }
    }
}

/// What the connection (which needs `std`) asks of a configuration.
#[cfg(feature = "std")]
impl Config {
    /// Whether this side may speak v1: listed, and no authentication
    /// configured that v1 would silently drop.
    pub(crate) fn allows_v1(&self) -> bool {
        self.versions.contains(&Version::V1) && self.psk.is_none() && self.server_key.is_none()
    }

    /// The version a client opens with.
    pub(crate) fn client_speaks(&self) -> Version {
        match self.versions.first() {
            Some(Version::V1) if self.allows_v1() => Version::V1,
            _ => Version::V2,
        }
    }
}

impl Default for Config {
    /// v2 only; AES-128-GCM, then AES-128-CBC with HMAC (SHA-256, then
    /// SHA-512); ffdhe2048, then ffdhe3072 and ffdhe4096; no legacy suites,
    /// no ad-hoc groups.
    fn default() -> Self {
        Config {
            versions: vec![Version::V2],
            groups: NamedGroup::ALL.to_vec(),
            legacy_suites: false,
            psk: None,
            static_key: None,
            server_key: None,
            offer: Offer {
                ciphers: vec![Cipher::Aes128],
                modes: vec![Mode::Gcm, Mode::Cbc],
                hashes: vec![Hash::Sha256, Hash::Sha512],
            },
            accept_adhoc_groups: false,
            min_group_bits: 2048,
            rotate_after_frames: None,
            key_log: None,
            ..Config::seed_compatible()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id is pinned to a value computed outside this crate (Python's
    /// `hashlib.sha256(b"securex psk id" + key).hexdigest()[:16]`): the
    /// ids of existing users' PSK files must never change.
    #[test]
    fn a_derived_psk_id_matches_an_independent_computation() {
        let psk = Psk::from_key(b"0123456789abcdef").unwrap();
        assert_eq!(psk.id(), "c498815785bd58d4");
        assert_eq!(psk.key(), b"0123456789abcdef");
        let key: Vec<u8> = (0..32).collect();
        assert_eq!(Psk::from_key(&key).unwrap().id(), "df639a8092b70b1d");
    }

    #[test]
    fn a_derived_psk_shorter_than_the_minimum_is_refused() {
        assert_eq!(
            Psk::from_key(&[7; MIN_PSK_LEN - 1]),
            Err(ConfigError::PskTooShort {
                len: MIN_PSK_LEN - 1
            })
        );
        assert_eq!(Psk::from_key(&[]), Err(ConfigError::PskTooShort { len: 0 }));
        assert!(Psk::from_key(&[7; MIN_PSK_LEN]).is_ok());
    }
}
