//! securex: a sans-IO secure channel.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod config;
#[cfg(feature = "std")]
pub mod connection;
pub mod dh;
pub mod error;
pub mod message;
pub mod record;
pub mod schedule;
pub mod suite;
#[cfg(feature = "std")]
pub mod transfer;
pub mod wire;

pub use config::Config;
#[cfg(feature = "std")]
pub use connection::{Connection, Event, Role, State, Version};
pub use error::{Error, ErrorKind};
pub use message::Message;
