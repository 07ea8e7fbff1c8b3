//! securex: a sans-IO secure channel.
//!
//! A client proposes algorithms, the server chooses a cipher suite, both
//! agree a key with finite-field Diffie-Hellman, then every message travels
//! encrypted and integrity-protected, and keys rotate during the session. A
//! file transfer (`OPEN`, `DATA` chunks, `CLOSE`; the server answers `OK`
//! or `ERROR`) runs on top.
//!
//! The protocol is the JSON-over-TCP protocol of existing Python peers:
//! spoken exactly (v1, the "seed" protocol) behind
//! [`Config::seed_compatible`], and hardened (v2) by default
//! ([`Config::default`]).
//!
//! # Layers
//!
//! Data flows one way, and each layer knows only the one below:
//!
//! | module | job |
//! |--------|-----|
//! | [`wire`] | splits the byte stream on `\r\n` (with a size limit) and (de)serializes frames |
//! | [`connection`] | the sans-IO state machine: [`Connection`] |
//! | [`record`] | seals and opens protected records for each [`suite::CipherSuite`] |
//! | [`schedule`] | turns DH shared secrets into keys |
//! | [`dh`] | finite-field DH: groups, key pairs, validation, PEM/DER |
//! | [`message`] | application messages |
//! | [`transfer`] | the file transfer: [`transfer::Sender`], [`transfer::Receiver`] |
//! | [`keylog`] | the optional key log (debugging only: it writes every session key) |
//! | [`manual`] | documentation only: the exact v2 wire with an annotated transcript, and the security properties and limits of v1 and v2 |
//!
//! The [`Connection`] owns no socket, reads no clock (time is handed in)
//! and no OS randomness (a `rand_core` RNG is handed in), and never panics
//! on input: every error on input is a typed [`Error`] and closes the
//! connection. The example programs (`examples/`) put it on `std::net`.
//!
//! # Quickstart
//!
//! Two connections in memory, shuttling bytes by hand:
//!
//! ```
//! use std::time::Instant;
//! use rand_core::SeedableRng;
//! use securex::{Config, Connection, Event, Message};
//!
//! let now = Instant::now();
//! let rng = |seed| rand_chacha::ChaCha20Rng::from_seed([seed; 32]); // use an OS-seeded CSPRNG
//! let mut client = Connection::client(Config::default(), rng(1), now)?;
//! let mut server = Connection::server(Config::default(), rng(2), now)?;
//! client.send(now, Message::Open { file_name: "notes.txt".into() })?; // queued until keys exist
//!
//! // ALGORITHMS; EXCHANGE and the server's FINISHED; the client's FINISHED
//! // and OPEN.
//! for _ in 0..2 {
//!     while let Some(bytes) = client.poll_transmit() {
//!         server.handle_input(now, &bytes)?;
//!     }
//!     while let Some(bytes) = server.poll_transmit() {
//!         client.handle_input(now, &bytes)?;
//!     }
//! }
//! assert!(matches!(server.poll_event(), Some(Event::HandshakeComplete { .. })));
//! assert_eq!(
//!     server.poll_event(),
//!     Some(Event::Message(Message::Open { file_name: "notes.txt".into() }))
//! );
//! # Ok::<(), securex::Error>(())
//! ```
//!
//! # Driving it from any event loop
//!
//! A [`Connection`] does nothing by itself. A driver, whatever its
//! runtime (threads and `std::net`, tokio, mio, an embedded loop), does
//! three things, over and over:
//!
//! 1. **feed input**: bytes read from the peer go to
//!    [`Connection::handle_input`], the end of the stream to
//!    [`Connection::handle_eof`], and the application's messages to
//!    [`Connection::send`] (or a [`transfer::Upload`] / [`transfer::Download`]
//!    that sends them);
//! 2. **drain** [`Connection::poll_output`] until it says to wait: write
//!    every [`Output::Transmit`], handle every [`Output::Event`]; the
//!    separate polls (`poll_transmit`, `poll_event`, `poll_timeout`) do the
//!    same for drivers that prefer them;
//! 3. **arm the deadline**: wait for input no longer than the instant of
//!    [`Output::Timeout`], and call [`Connection::handle_timeout`] when it
//!    passes. No read or write may block past it, or a silent peer keeps
//!    the connection open beyond what its [`Config`] promises.
//!
//! [`Output::Closed`] ends the loop; then [`Connection::ending`] says how
//! to end the transport (a half-close, and how long to wait for the
//! peer's end of stream, so that a reset does not destroy our last
//! frames). A std loop that uploads a small file in v2 and honours the
//! deadline (the example programs in `examples/` add a reader thread,
//! partial writes and a bound on a peer that takes no bytes):
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//!
//! use securex::transfer::{Sender, Session, Upload};
//! use securex::{Config, Connection, Output};
//!
//! fn upload(addr: &str, name: &str, file: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//!     let mut stream = TcpStream::connect(addr)?;
//!     let rng: rand::rngs::StdRng = rand::make_rng(); // seeded by the OS
//!     let mut conn = Connection::client(Config::default(), rng, Instant::now())?;
//!     let sender = Sender::new(std::io::Cursor::new(file), name, 64 * 1024)?;
//!     let mut upload = Upload::new(sender);
//!     let mut buf = vec![0; 64 * 1024];
//!     loop {
//!         let now = Instant::now();
//!         let more = upload.pump(&mut conn, now);
//!         // Drain: write what is due, handle events, learn the deadline.
//!         let deadline = loop {
//!             match conn.poll_output() {
//!                 Output::Transmit(bytes) => {
//!                     // A write may not outlast the deadline either.
//!                     let left = conn.poll_timeout().map(|d| d.saturating_duration_since(now));
//!                     stream.set_write_timeout(left.map(|d| d.max(Duration::from_millis(1))))?;
//!                     stream.write_all(&bytes)?;
//!                 }
//!                 Output::Event(event) => upload.handle_event(&mut conn, now, event),
//!                 Output::Timeout(at) => break at,
//!                 Output::Closed => {
//!                     // Its output is out: half-close, then drain a while.
//!                     let ending = conn.ending(upload.failed());
//!                     stream.shutdown(std::net::Shutdown::Write)?;
//!                     if let Some(linger) = ending.and_then(|e| e.drain_within) {
//!                         let until = Instant::now() + linger;
//!                         while let Some(left) = until.checked_duration_since(Instant::now()) {
//!                             stream.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
//!                             if !matches!(stream.read(&mut buf), Ok(n) if n > 0) {
//!                                 break;
//!                             }
//!                         }
//!                     }
//!                     return match upload.outcome() {
//!                         Some(Ok(())) => Ok(()),
//!                         Some(Err(e)) => Err(e.clone().into()),
//!                         None => Err("the connection closed".into()),
//!                     };
//!                 }
//!                 _ => {}
//!             }
//!         };
//!         if more {
//!             continue; // more to send at once: no waiting for input
//!         }
//!         // Arm the deadline: read no longer than until it.
//!         let wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
//!         if wait == Some(Duration::ZERO) {
//!             conn.handle_timeout(Instant::now());
//!             continue;
//!         }
//!         stream.set_read_timeout(wait)?;
//!         match stream.read(&mut buf) {
//!             Ok(0) => conn.handle_eof(),
//!             // An error on input also closes the connection: the loop
//!             // sees it as an event and then `Output::Closed`.
//!             Ok(n) => {
//!                 let _ = conn.handle_input(Instant::now(), &buf[..n]);
//!             }
//!             Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!                 conn.handle_timeout(Instant::now())
//!             }
//!             Err(e) => return Err(e.into()),
//!         }
//!     }
//! }
//! ```
//!
//! # Security model
//!
//! **v2** binds its keys to both hellos exactly as sent and confirms them
//! with FINISHED in both directions, so a changed negotiation fails the
//! handshake; its records carry epoch and sequence number and are
//! authenticated (GCM, or encrypt-then-HMAC), so a flipped bit, a replay,
//! a reorder, a deletion or a truncation is fatal; keys rotate in the
//! channel with fresh DH. Without a pre-shared key or a pinned server key
//! ([`config::Config::psk`], [`config::Config::server_key`]) v2 is
//! anonymous: it resists passive attackers and tampering, **not** an
//! active man in the middle who replaces both key shares.
//!
//! **v1 is weak by design** and kept only to interoperate with existing
//! peers: no authentication (a man in the middle can sit between the
//! sides), a negotiation in the clear, a MAC of the form `HASH(C ‖ key)`
//! that covers neither the IV nor the order of records, GCM without its
//! tag, ECB, 3DES, 512-bit ad-hoc groups, and server-to-client messages in
//! clear. It resists a passive eavesdropper who cannot break the DH group,
//! and detects changes to a record's ciphertext; it does not detect
//! replayed, reordered or deleted records (tests show each).
//!
//! What this crate does regardless of version: private DH exponents come
//! only from the RNG handed in and are used in constant time over their
//! bound; received public values are range-checked and, where the group
//! has a known order q, checked for membership of the order-q subgroup;
//! MACs are compared in constant time before any decryption; key material
//! is zeroized on drop and never printed by `Debug`; frames, buffered bytes
//! and DH groups are bounded by [`Config`] limits.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Without `std` the connection and the file transfer do not exist, and the
// docs that describe them (the layer table, the manual, a few field docs of
// `Config`) cannot link to them; those links resolve in the std build,
// which docs.rs makes (all features). Every other rustdoc warning stays on
// without `std` too (`.ci/run` denies them).
#![cfg_attr(not(feature = "std"), allow(rustdoc::broken_intra_doc_links))]
// No panics on any path from input: outside unit tests, the library may
// not unwrap, expect, panic or mark code unreachable. Each `#[allow]` of
// these says in a comment why it cannot fire.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod config;
#[cfg(feature = "std")]
pub mod connection;
pub mod dh;
pub mod error;
pub mod keylog;
pub mod manual;
pub mod message;
pub mod record;
pub mod schedule;
pub mod suite;
#[cfg(feature = "std")]
pub mod transfer;
pub mod wire;

pub use config::Config;
#[cfg(feature = "std")]
pub use connection::{Connection, Event, Output, RETAINED_OUTPUT, Role, State, Version};
pub use error::{Error, ErrorKind, Timer};
pub use message::Message;
