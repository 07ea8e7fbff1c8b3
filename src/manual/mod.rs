//! The manual: longer notes on the protocol and its security, in the
//! manner of rustls's `manual` module. It contains no code.
//!
//! | chapter | what it covers |
//! |---------|----------------|
//! | [`v2_wire`] | the exact v2 wire: every frame and field, the record construction, the inner messages, the key schedule, the handshake, rotation, closing, errors, version negotiation, and an annotated transcript of a real session |
//! | [`security`] | what v1 and v2 protect against and what they do not: authentication (none, PSK, pinned server key), downgrade, tampering, DH validation, timing, zeroization, limits, metadata |
//!
//! The normative text is `PROTOCOL.md` (beside the crate, in the project's
//! shared documents). Where its v2 section proposes names or details that
//! the implementation refined, [`v2_wire`] documents the wire as the code
//! speaks it. v1 is documented where it is implemented:
//! [`crate::record::v1`] (records), [`crate::schedule`] (key schedule),
//! [`crate::connection`] (states) and [`crate::message`] (inner JSON).

pub mod security;
pub mod v2_wire;
