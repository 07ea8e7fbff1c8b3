//! Security properties of v1 and v2, and their limits.
//!
//! # At a glance
//!
//! | attacker, or property | v1 | v2 anonymous | v2 with a PSK | v2 with a pinned server key |
//! |-----------------------|----|--------------|---------------|-----------------------------|
//! | passive eavesdropper | resisted only if the DH group holds (512-bit ad-hoc groups do not); server → client in clear | resisted | resisted | resisted |
//! | changed hellos (offer, suite, group, version, nonce) | unnoticed | handshake fails | handshake fails | handshake fails |
//! | flipped bits in a record | C: detected; IV: unnoticed | detected | detected | detected |
//! | replayed, reordered, deleted records | unnoticed | detected | detected | detected |
//! | truncation | unnoticed by the client | detected | detected | detected |
//! | active man in the middle who replaces both key shares | succeeds | **succeeds** | stopped, unless it holds the PSK | stopped (the server is authenticated, the client is not) |
//! | forward secrecy | fresh server key each handshake | fresh keys each handshake and rotation | same | same |
//!
//! "Detected" means fatal: the connection closes with a typed
//! [`Error`](crate::Error) and never delivers the changed data.
//!
//! # v2 without authentication
//!
//! With neither [`Config::psk`](crate::config::Config::psk) nor
//! [`Config::server_key`](crate::config::Config::server_key) (the
//! default), v2 is **anonymous**. Its keys are bound to both hellos as sent
//! (TH) and confirmed by FINISHED in both directions, and its records are
//! authenticated and numbered, so it resists passive attackers and every
//! change to the traffic between two honest ends. Tests show each:
//!
//! | attack | test |
//! |--------|------|
//! | a dropped suite, reordered offer, changed nonce, added field in `ALGORITHMS`; a rewritten suite, changed nonce, reordered fields in `EXCHANGE` | `tests/connection_v2.rs`: `any_change_to_either_hello_fails_the_handshake_on_both_sides` |
//! | a stripped `version` | `tests/connection_v2.rs`: `stripping_the_version_is_refused_by_a_v2_only_peer` |
//! | a flipped bit in `payload`, `iv` or `hash` (GCM and CBC, both directions) | `tests/connection_v2.rs`: `a_flipped_bit_anywhere_in_a_record_is_fatal_with_one_error` |
//! | replay, reorder, deletion (both directions) | `tests/connection_v2.rs`: `replayed_reordered_or_dropped_records_are_fatal_in_both_directions` |
//! | a record of an old epoch after a rotation | `tests/rotation_v2.rs`: `records_of_an_old_epoch_are_refused_after_a_rotation` |
//! | truncation (the stream cut) | `tests/connection_v2.rs`: `a_cut_connection_is_an_error_not_an_end` |
//!
//! It does **not** stop an active man in the middle who answers each side
//! with its own key share: it completes one handshake with the client and
//! one with the server, and reads and relays everything
//! (`tests/mitm.rs`: `anonymous_v2_does_not_stop_an_active_man_in_the_middle`).
//! Nothing on the wire can tell the two apart; only authentication can.
//!
//! # Authentication
//!
//! **PSK** ([`Psk`](crate::config::Psk)): the key is the HKDF salt of the
//! handshake, so without it no FINISHED verifies. Both ends must hold it:
//! the server refuses a hello whose `psk_id` is missing or not its own, and
//! any `psk_id` when it has no PSK. The PSK authenticates both sides as holders of the key,
//! no more: anyone who holds it can sit in the middle. It must be random
//! and high-entropy (at least [`MIN_PSK_LEN`](crate::config::MIN_PSK_LEN)
//! bytes, which [`Psk::new`](crate::config::Psk::new) enforces): an
//! active attacker who plays the client learns Z and the server's FINISHED
//! record and can test guesses offline. Tests: `tests/mitm.rs`
//! (`psk_an_attacker_without_a_psk_is_refused_by_both_ends`,
//! `psk_an_attacker_with_the_id_but_a_wrong_key_fails_both_handshakes`,
//! `psk_an_attacker_who_knows_the_key_is_a_man_in_the_middle`) and
//! `tests/connection_v2.rs` (`a_psk_must_match_on_both_sides`).
//!
//! **Pinned server key** ([`Config::server_key`](crate::config::Config::server_key)
//! on the client, [`Config::static_key`](crate::config::Config::static_key)
//! on the server): `Z_es` = DH(client ephemeral, server static) enters the
//! keys, and only the holder of the static private key can compute it. It
//! authenticates the server, not the client. Tests: `tests/mitm.rs`
//! (`a_pinned_server_key_stops_the_man_in_the_middle`) and
//! `tests/connection_v2.rs` (`a_pinned_server_key_authenticates_the_server`,
//! `an_attacker_cannot_answer_for_a_pinned_key_it_does_not_hold`).
//!
//! Both can be combined. Both carry over to later epochs through the
//! `next` secret. Later theft of the PSK or of the static key does not
//! reveal past sessions: `Z_ee` comes from ephemeral keys, which are dropped
//! after use.
//!
//! # v1, and downgrade
//!
//! v1 exists for existing peers only; a connection speaks it only if its
//! [`Config::versions`](crate::config::Config::versions) lists it, which
//! [`Config::default`](crate::config::Config) does not and
//! [`Config::seed_compatible`](crate::config::Config::seed_compatible)
//! does. Its weaknesses (`PROTOCOL.md`): no authentication; negotiation
//! and rotation in clear, so they can be downgraded or stripped; a MAC
//! `HASH(C ‖ derived)` that is not HMAC and covers neither the IV, nor the
//! order, nor the type; GCM without its tag; ECB, which shows repeated
//! blocks; 3DES past the Sweet32 bound; no sequence numbers, so replay,
//! reorder and deletion go unnoticed (`tests/connection_v1.rs`:
//! `v1_does_not_notice_replay_reorder_or_deletion`); server → client
//! messages in clear; 512-bit ad-hoc groups, breakable, generated per
//! process by existing peers; and existing clients' rotation drops data
//! (ours does not). [`crate::record::v1`] details the records.
//!
//! **Downgrade.** v1 has no way to notice that a v2 hello was stripped, so
//! a side that allows v1 can be downgraded by an active attacker:
//!
//! * a client that lists v1 accepts a v1 `EXCHANGE`, and v1 is
//!   unauthenticated, so an attacker can answer it in v1 itself whatever
//!   the server's policy; the client then sends everything under keys the
//!   attacker holds. This is why a client with a PSK or a pinned server
//!   key never falls back to v1, whatever it lists;
//! * a server that lists v1 accepts v1 clients, which are anonymous; a
//!   server with a PSK therefore refuses v1 clients, whatever it lists
//!   (`short_psks_are_refused_and_a_psk_rules_out_v1`).
//!
//! Only when both sides refuse v1 does v2's protection hold end to end; a
//! stripped version then fails the handshake instead
//! (`stripping_the_version_is_refused_by_a_v2_only_peer`).
//!
//! # Diffie-Hellman
//!
//! * Groups: v2 accepts only the RFC 7919 groups (`ffdhe2048` by default,
//!   `ffdhe3072`, `ffdhe4096`); the server requires `params` to be exactly
//!   the group named first in `groups`. Ad-hoc groups exist only in v1
//!   ([`Config::accept_adhoc_groups`](crate::config::Config::accept_adhoc_groups),
//!   on in the seed preset, at least 512 bits).
//! * Exponents: 225, 275 and 325 bits (RFC 7919 §5.2, twice the security
//!   strength), from the RNG handed in, fresh for every handshake and every
//!   rotation (a server's static key excepted); `bits(p) − 2` for ad-hoc
//!   groups, whatever q they carry: a received q never shortens an
//!   exponent ([`crate::dh`]).
//! * Peer values: 1 < y < p − 1 and, for the named groups, membership of
//!   the order-q subgroup, q = (p − 1) / 2 (a Legendre symbol); a shared
//!   secret of 1 is refused. This matters most for a server static key,
//!   which answers many clients: no value outside the subgroup ever meets
//!   it. A named group's p and g are that group, with its q or none: any
//!   other q is refused
//!   ([`DhError::InvalidSubgroupOrder`](crate::error::DhError::InvalidSubgroupOrder)),
//!   since q = p − 1 would let every value pass. Ad-hoc v1 groups usually
//!   carry no q and get the range check only; one that carries a q gets
//!   y^q = 1 checked, and only if q makes sense (at least
//!   [`MIN_SUBGROUP_ORDER_BITS`](crate::dh::MIN_SUBGROUP_ORDER_BITS) = 160
//!   bits, a proper divisor of p − 1, g^q = 1), else the group is refused.
//!
//! | attack | test |
//! |--------|------|
//! | a named group's p and g with q = p − 1 (or any q but (p − 1) / 2), in the parameters or a public key's | `src/dh/mod.rs`: `a_named_modulus_accepts_only_its_own_q` |
//! | an ad-hoc group whose short q would shorten the private exponent | `src/dh/mod.rs`: `adhoc_exponents_are_bits_p_minus_2_whatever_q_says` |
//! | an ad-hoc q that is p − 1, does not divide p − 1, has g^q ≠ 1, or is under 160 bits | `src/dh/mod.rs`: `adhoc_subgroup_orders_that_do_not_belong_to_the_group_are_refused` |
//!
//! # The state machine
//!
//! No bytes from anyone may crash a connection or make it act on what is
//! not verified. Each phase of a [`Connection`](crate::Connection) is a
//! type holding exactly its data, and each transition consumes it: a frame
//! that a phase does not expect is a typed error in every phase, also
//! mid-rotation, never a panic. The library denies `unwrap`, `expect`,
//! `panic!` and `unreachable!` outside unit tests (clippy, in CI). An
//! established v2 phase exists only with a proof that the peer's FINISHED
//! verified; before it, neither side seals anything but its own FINISHED,
//! so a failed handshake ends without an alert sealed under unconfirmed
//! keys (known plaintext an attacker could test PSK guesses against). The
//! fuzz targets of `fuzz/` feed both roles from every phase.
//!
//! | attack | test |
//! |--------|------|
//! | a plaintext `EXCHANGE` injected while a v2 peer's REKEY is out (once reached `unreachable!`) | `tests/state_machine.rs`: `a_plaintext_exchange_to_a_rekeying_v2_peer_is_a_typed_error_not_a_panic` |
//! | a plaintext frame of every type at every phase, both roles, both versions | `tests/bad_input.rs` (the v2 and client tables) |
//! | a server FINISHED that does not verify: the client sends nothing after its hello | `tests/state_machine.rs`: `a_client_seals_no_alert_when_the_servers_finished_fails` |
//! | a client FINISHED that does not verify: the server sends nothing after its EXCHANGE and FINISHED | `tests/state_machine.rs`: `a_server_seals_no_alert_when_the_clients_finished_fails` |
//! | a server that answers a v2 hello in v1 with a legacy suite the client did not offer | `tests/state_machine.rs`: `a_v1_fallback_accepts_only_a_suite_of_the_offer_sent` |
//! | the server's last answer while its rotation is under way (it was dropped by the close) | `tests/state_machine.rs`: `the_servers_ok_to_close_survives_a_rotation_in_progress` |
//! | a close that completes mid-input, then more input: ignored, one `Closed`, the peer's earlier messages still delivered | `tests/state_machine.rs`: `a_close_completed_mid_input_is_reported_once_and_ends_the_input`, `input_after_a_flushed_close_mid_input_is_ignored_even_when_too_long`, `a_flushed_close_mid_input_still_delivers_the_peers_earlier_messages` |
//! | a frame limit of `usize::MAX` and a read that ends in `\r` (an overflow) | `tests/state_machine.rs`: `a_frame_limit_of_usize_max_survives_a_read_that_ends_in_cr` |
//!
//! # Timing
//!
//! * Exponentiation with a private exponent runs in time that depends on
//!   the exponent's bound only, not its value. Peer public values are
//!   public, so their validation may take variable time.
//! * Tags, HMACs and FINISHED values are compared in constant time, before
//!   any decryption or unpadding (no padding oracle); every record failure
//!   after the header check is the same error.
//! * AES comes from the RustCrypto `aes` crate, designed to be constant
//!   time. Its `des` crate says it has not been assessed for constant time:
//!   one more reason 3DES is a legacy suite, off by default.
//! * [`KeyPair::dangerously_expose_private_bytes`](crate::dh::KeyPair::dangerously_expose_private_bytes) (for
//!   storing a static key) is variable time.
//!
//! # Zeroization
//!
//! Private exponents, shared secrets, the v1 and v2 epoch secrets (cipher,
//! MAC, IV, FINISHED and `next` keys), the keyed ciphers' key schedules
//! and the PSK are zeroized on drop and never shown by `Debug`. A rotation
//! drops the old epoch's keys as soon as the new epoch is in use. Not
//! wiped: application plaintext (file names, DATA, error texts) in the
//! buffers the application receives, and whatever the `hkdf` crate keeps
//! internally during a derivation.
//!
//! # Limits
//!
//! | limit | default | effect |
//! |-------|---------|--------|
//! | [`max_frame_len`](crate::config::Config::max_frame_len) | 1 MiB | a longer frame fails at its first byte over the limit; `send` refuses a message that would not fit |
//! | [`max_buffered`](crate::config::Config::max_buffered) | 4 MiB | `send` beyond it fails with `Misuse::BufferFull`, the connection stays open |
//! | [`max_group_bits`](crate::config::Config::max_group_bits) | 8192 | checked before any arithmetic on a received group |
//! | [`min_group_bits`](crate::config::Config::min_group_bits) | 2048 (seed preset: 512) | smaller groups refused |
//! | [`max_adhoc_group_bits`](crate::config::Config::max_adhoc_group_bits) | 2048 | a larger ad-hoc group (v1) is refused before any arithmetic; v2 refuses every ad-hoc group before any; the RFC 7919 groups are not ad hoc |
//! | rotation | 2^24 records, 1 GiB, 15 min; 3DES 4 MiB | see [`v2_wire`](super::v2_wire#rotation) |
//! | [`v1_rotation_min_frames`](crate::config::Config::v1_rotation_min_frames), [`v1_rotation_min_bytes`](crate::config::Config::v1_rotation_min_bytes) | 19 frames, 32,000 bytes | a v1 server refuses an earlier renegotiation (existing clients send 19 frames and 34 KB and more); our client waits for them |
//! | [`rekey_min_bytes`](crate::config::Config::rekey_min_bytes) | 4096 (ffdhe2048; 9216 in ffdhe3072, 16384 in ffdhe4096) | a REKEY before that many bytes of application records in the epoch is refused; ours wait for them |
//! | [`min_rotation_interval`](crate::config::Config::min_rotation_interval), [`v1_rotation_min_interval`](crate::config::Config::v1_rotation_min_interval) | 50 ms (v2), 10 ms (v1) | a rotation the peer starts sooner after the epoch began is deferred to then (at most 20, or 100, a second; one in flight) |
//! | [`handshake_timeout`](crate::config::Config::handshake_timeout) | 30 s | the first handshake, from the connection's creation, and every answer the peer owes (a rotation's, the OK to OPEN and, in v2, to CLOSE): [`Timer`](crate::Timer) |
//! | [`idle_timeout`](crate::config::Config::idle_timeout) | 300 s | no complete frame sent or received |
//!
//! Only complete frames meet a deadline: a peer that trickles bytes keeps
//! nothing open beyond the handshake or idle deadline.
//!
//! With these bounds, the costliest input a hostile seed-compatible
//! client can send (an epoch of 19 records and 32,000 bytes, then an
//! `ALGORITHMS` in a 2048-bit ad-hoc safe-prime group with its q) buys
//! the server less than 1 ms of CPU per KB received (0.77 ms), and a v2
//! REKEY flood less still, in every group (0.29 to 0.39 ms): `cargo bench
//! --bench hostile` measures them (README.md gives the figures).
//!
//! The first handshake is not bounded per KB: before the client proves
//! anything, a v2 hello costs the server two short exponentiations and a
//! subgroup check (about a millisecond in ffdhe2048), and a v1 hello a
//! PBKDF2 of 100,000 iterations (about 20 ms) plus, in an ad-hoc group with
//! its q, four exponentiations of the group's full size (about 29 ms in
//! all for 2048 bits, some 10 ms per KB of hello). There is no protection
//! against floods of hellos beyond what the application adds: the example
//! server bounds the connections served at once (`--max-connections`)
//! and how long each may take to complete its handshake (`--timeout`),
//! not their rate.
//!
//! # What is not protected
//!
//! * **Sizes and timing.** Records are not padded: the length of each
//!   `payload` gives the length of its plaintext (exactly for GCM, to the
//!   block for CBC), so the length of the file name, the chunk sizes, the
//!   file size, the number of messages and when they are sent are visible,
//!   as are rotations (REKEY and REKEY_ACK have a recognisable size). The
//!   file name itself travels only inside the channel.
//! * **The hellos.** `ALGORITHMS` and `EXCHANGE` are plaintext: the offer,
//!   the groups, the nonces, the chosen suite, and the `psk_id` (**sent in
//!   clear**, so it can identify a client across connections) and the
//!   `server_key` fingerprint. `epoch` and `seq` are in clear too.
//! * **Refusals before keys.** A server's `ERROR` before the keys exist is
//!   plaintext and unauthenticated: an attacker can forge one (a client
//!   never retries on its own, so it cannot steer the negotiation). Once
//!   the keys exist, a plaintext `ERROR` frame is refused as an unexpected
//!   frame (the peer speaks only in records then): like cutting the
//!   connection it stops a transfer, but it is not reported as the peer's
//!   words.
//! * **Availability.** An active attacker can always delay, cut or break a
//!   connection; v2 only guarantees that this is noticed, never taken for
//!   success (a v2 transfer succeeds only on the `OK` that answers `CLOSE`
//!   with a matching SHA-256).
