//! securex: a sans-IO secure channel.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod dh;
pub mod error;
pub mod record;
pub mod schedule;
pub mod suite;
pub mod wire;

pub use error::{Error, ErrorKind};
