//! The cipher core: sealing and opening protected records.
//!
//! This layer knows suites and keys, not connection states: it turns an
//! inner message into the fields of a `SECURE_X` frame and back.
//!
//! * [`v1`]: the seed protocol's records, exactly as existing peers write
//!   them (including their weaknesses, documented there).
//! * [`v2`]: the hardened records: sequence numbers and epochs bound into
//!   AES-GCM or encrypt-then-HMAC.

pub(crate) mod cipher;
pub mod v1;
pub mod v2;

pub use v1::{V1Protector, V1Record};
pub use v2::{V2DirectionKeys, V2Opener, V2Record, V2Sealer};
