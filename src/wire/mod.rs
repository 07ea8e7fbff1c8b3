//! The wire: frames are UTF-8 JSON objects, each followed by `\r\n`.
//!
//! [`Frame`] holds the serde types of every frame; [`Frame::decode`] parses
//! one frame (without its `\r\n`), matching `type` case-insensitively and
//! ignoring unknown fields, as existing peers do; [`Frame::encode`] writes
//! compact, ASCII-only JSON (non-ASCII characters escaped as `\uXXXX`,
//! since existing peers decode every TCP read on its own).

pub(crate) mod base64;
pub mod codec;
pub(crate) mod frame;
pub mod record;

pub use codec::FrameSplitter;
pub use frame::{Algorithms, ErrorFrame, Exchange, Frame, Record, SecureX};
