//! The exact v2 wire.
//!
//! Everything v2 puts on the wire, as the code speaks it. `PROTOCOL.md`
//! states the requirements and proposes field names; where the code refined
//! them (the names of the new fields, the record header, the inner
//! encoding), this page follows the code. An [annotated
//! transcript](#annotated-transcript) of a real session closes the page.
//!
//! # Frames
//!
//! A frame is a compact JSON object followed by `\r\n`, in ASCII (non-ASCII
//! characters of strings escaped as `\uXXXX`), with no whitespace, its
//! fields in the order of the tables below; optional fields are left out,
//! never `null`. A receiver splits on `\r\n` (at most
//! [`Config::max_frame_len`](crate::config::Config::max_frame_len) bytes a
//! frame, 1 MiB by default), matches `type` case-insensitively and ignores
//! fields it does not know. Binary values are standard base64 with padding;
//! MACs are lowercase hex. The types: `ALGORITHMS`, `EXCHANGE`, `SECURE_X`,
//! `ERROR` (v1 also has a plaintext `OK`; v2 sends `OK` inside a record). The
//! serde types are [`crate::wire::Algorithms`], [`crate::wire::Exchange`],
//! [`crate::wire::Record`] and [`crate::wire::ErrorFrame`].
//!
//! ```text
//! client                                                    server
//!   ALGORITHMS (plaintext) ───────────────────────────────▶
//!                          ◀─────────────────────────────── EXCHANGE (plaintext)
//!                          ◀─────────────────────────────── SECURE_X epoch 0 seq 0: FINISHED
//!   (verifies the server's FINISHED)
//!   SECURE_X epoch 0 seq 0: FINISHED ─────────────────────▶ (verifies it)
//!   SECURE_X epoch 0 seq 1, 2, …: OPEN, DATA…, CLOSE ─────▶
//!                          ◀─────────────────────────────── SECURE_X epoch 0 seq 1, 2, …: OK, …
//! ```
//!
//! # `ALGORITHMS` (client → server, plaintext)
//!
//! | field | JSON type | meaning |
//! |-------|-----------|---------|
//! | `type` | string | `"ALGORITHMS"` |
//! | `ciphers` | array of strings | `"AES-128"` (and `"3DES"` with [`legacy_suites`](crate::config::Config::legacy_suites)), most preferred first |
//! | `modes` | array of strings | `"GCM"`, `"CBC"` (and `"ECB"`, legacy) |
//! | `hash` | array of strings | `"SHA-256"`, `"SHA-512"` |
//! | `params` | string | base64 of the PEM `X9.42 DH PARAMETERS` (p, g, q = (p − 1) / 2) of the first group in `groups` |
//! | `public_key` | string | base64 of the PEM `PUBLIC KEY` (`SubjectPublicKeyInfo`, X9.42 `dhpublicnumber`) of the client's fresh ephemeral key in that group |
//! | `version` | number | `2` |
//! | `nonce` | string | base64 of 32 random bytes |
//! | `groups` | array of strings | the groups the client accepts, most preferred first: `"ffdhe2048"`, `"ffdhe3072"`, `"ffdhe4096"`; a pinned server key's group is moved first |
//! | `psk_id` | string, optional | the identifier of the client's pre-shared key ([`Psk::id`](crate::config::Psk::id)), **in clear** |
//! | `server_key` | string, optional | base64 of SHA-256 of the server static public value the client pins ([`PublicKey::fingerprint`](crate::dh::PublicKey::fingerprint): big-endian, left-padded to the length of p) |
//! | `extensions` | array of strings, optional | the extensions of the application protocol the client speaks ([`Config::extensions`](crate::config::Config::extensions)): `"resume"`, `"batch"`; absent when none |
//!
//! The first six fields are v1's, so a v1 server can answer. A v2 server
//! checks, in this order, and answers a plaintext `ERROR` at the first
//! failure: `groups[0]` is one of its [`groups`](crate::config::Config::groups)
//! and `params` is exactly that group (else "accepted groups: …"; its p
//! and g with a q other than (p − 1) / 2 are refused as invalid parameters,
//! [`DhError::InvalidSubgroupOrder`](crate::error::DhError::InvalidSubgroupOrder)); the PSK
//! ids agree, or neither side has a PSK; `nonce` is 32 bytes; a suite is
//! common (the first valid combination in the client's order, cipher then
//! mode then hash, that the server accepts); `public_key` is in the group and
//! valid (1 < y < p − 1, in the order-(p − 1)/2 subgroup); `server_key`,
//! if present, names the server's
//! [`static_key`](crate::config::Config::static_key) in that group.
//!
//! # `EXCHANGE` (server → client, plaintext)
//!
//! | field | JSON type | meaning |
//! |-------|-----------|---------|
//! | `type` | string | `"EXCHANGE"` |
//! | `value` | string | base64 of the PEM `PUBLIC KEY` of the server's fresh ephemeral key, in the client's group |
//! | `ciphersuite` | string | the chosen suite, `DH;<cipher>;<mode>;<hash>`, e.g. `"DH;AES-128;GCM;SHA-256"` |
//! | `version` | number | `2` |
//! | `nonce` | string | base64 of 32 random bytes |
//! | `group` | string | the group of the exchange, the client's first |
//! | `extensions` | array of strings, optional | those of the client's `extensions` the server speaks too, in the client's order, each once; absent when none |
//!
//! The client checks that `group` is the group of its key share, that the
//! suite is one it offered, that `nonce` is 32 bytes and that `value` is a
//! valid key in the group. The nonces enter the keys only through the
//! transcript hash. Every name in `extensions` must be one the client
//! offered, once
//! ([`ProtocolError::UnexpectedExtension`](crate::error::ProtocolError::UnexpectedExtension));
//! a server ignores names it does not know, and an older server that knows
//! none ignores the field (nothing is agreed). Both lists are in the
//! transcript, so one stripped or added on the way fails FINISHED.
//!
//! # `SECURE_X` records (both directions, once keys exist)
//!
//! | field | JSON type | meaning |
//! |-------|-----------|---------|
//! | `type` | string | `"SECURE_X"` |
//! | `epoch` | number (u32) | the key epoch: 0 for the handshake, +1 per rotation; its presence tells a v2 record from a v1 one |
//! | `seq` | number (u64) | the record's number in its direction and epoch: 0, 1, 2, … |
//! | `payload` | string | base64 of the ciphertext; GCM: C ‖ 16-byte tag |
//! | `iv` | string, CBC only | base64 of the random IV: 16 bytes (AES), 8 (3DES) |
//! | `hash` | string, CBC and ECB only | lowercase hex of the HMAC (64 hex digits for SHA-256, 128 for SHA-512) |
//!
//! The header ([`crate::record::v2::header`]), 31 bytes, binds the type,
//! the epoch and the seq:
//!
//! ```text
//! header = b"securex v2 SECURE_X" (19 bytes) ‖ epoch (u32 big-endian) ‖ seq (u64 big-endian)
//!
//! GCM:      nonce   = static IV (12 bytes) XOR (00 00 00 00 ‖ seq as u64 big-endian)
//!           payload = AES-128-GCM(key, nonce, aad = header, inner)          (C ‖ tag)
//! CBC, ECB: C       = E(key, IV, PKCS#7-pad(inner))                          (ECB: no IV)
//!           hash    = HMAC-H(mac key, header ‖ len(IV) as one byte ‖ IV ‖ C)  (ECB: ‖ 0x00 ‖ C)
//! ```
//!
//! A receiver accepts only its current epoch and exactly the next seq
//! ([`RecordError::UnknownEpoch`](crate::error::RecordError::UnknownEpoch),
//! [`RecordError::UnexpectedSequence`](crate::error::RecordError::UnexpectedSequence)),
//! then verifies the tag or the HMAC (in constant time) before any
//! decryption or unpadding; every failure after the header check is the one
//! [`RecordError::Decrypt`](crate::error::RecordError::Decrypt). Each is
//! fatal. Details: [`crate::record::v2`].
//!
//! # Inner plaintext
//!
//! A record carries one type byte and a body ([`crate::message::Message::to_v2_bytes`]):
//!
//! | byte | name | body | sent by |
//! |------|------|------|---------|
//! | `0x01` | OPEN | the file name, UTF-8 | client |
//! | `0x02` | DATA | the raw chunk (not base64) | client |
//! | `0x03` | CLOSE | the SHA-256 of the whole file, exactly 32 bytes | client |
//! | `0x04` | OK | empty | server |
//! | `0x05` | ERROR | the reason, UTF-8 | server; either side as an alert |
//! | `0x06` | RESUME | the 16-byte resume token, then the file name, UTF-8 | client, with `resume` agreed, instead of OPEN |
//! | `0x07` | ACCEPTED | the offset, 8 bytes big-endian; the 16-byte resume token; the stored name, UTF-8 | server, with `resume` agreed, instead of OK to OPEN or RESUME |
//! | `0x08` | PREFIX | the SHA-256 of the client's first `offset` bytes, exactly 32 bytes | client, after an ACCEPTED with an offset |
//! | `0x10` | FINISHED | HMAC-H(own FINISHED key, TH), H's length | both, first record of epoch 0 |
//! | `0x11` | REKEY | the initiator's fresh public value, big-endian, left-padded to the length of p | either side |
//! | `0x12` | REKEY_ACK | the responder's fresh public value, same encoding | the other side |
//!
//! Any other byte, an empty record or a malformed body is a fatal
//! malformed-frame error.
//!
//! # Key schedule
//!
//! ([`crate::schedule::v2`]) With H the suite's hash, and each Z the DH
//! shared secret big-endian, left-padded to the length of p:
//!
//! ```text
//! TH   = H(ALGORITHMS bytes ‖ EXCHANGE bytes)      each frame exactly as sent, without its \r\n
//! PRK  = HKDF-Extract(salt = PSK key if configured, else none (H-length zeros),
//!                     IKM  = Z_ee ‖ Z_es)         Z_es = DH(client ephemeral, server static), only when pinned
//! K_l  = HKDF-Expand(PRK, "securex v2 " ‖ l ‖ TH, length)
//! FINISHED (client) = HMAC-H(K_"c finished", TH),  FINISHED (server) = HMAC-H(K_"s finished", TH)
//! ```
//!
//! | label `l` | length | use |
//! |-----------|--------|-----|
//! | `c2s key`, `s2c key` | 16 (AES-128), 24 (3DES) | cipher key, client → server and server → client |
//! | `c2s mac`, `s2c mac` | H's (32 or 64); CBC and ECB only | HMAC key |
//! | `c2s iv`, `s2c iv` | 12; GCM only | GCM static IV |
//! | `c finished`, `s finished` | H's | FINISHED keys |
//! | `next` | H's | the salt of the next epoch |
//!
//! # Handshake
//!
//! 1. The client sends `ALGORITHMS` ([`State::Negotiating`](crate::State::Negotiating)).
//! 2. The server checks it, draws its key pair and nonce, and writes
//!    `EXCHANGE` and, in the same write, a record of epoch 0, seq 0 with its
//!    FINISHED ([`State::Handshaking`](crate::State::Handshaking)).
//! 3. The client checks `EXCHANGE`, derives the keys and verifies the
//!    server's FINISHED before it sends anything else; a record that does
//!    not open counts as a bad FINISHED
//!    ([`ProtocolError::BadFinished`](crate::error::ProtocolError::BadFinished)).
//!    It sends its own FINISHED (epoch 0, seq 0), is
//!    [`State::Established`](crate::State::Established), and sends the
//!    queued application messages from seq 1.
//! 4. The server verifies the client's FINISHED before it accepts any
//!    application record, and is established.
//!
//! # Rotation
//!
//! A side starts a rotation when
//! [`rekey_after`](crate::config::Config::rekey_after) (default 15
//! minutes) has passed since its current epoch began, or, before it seals
//! an application message, when the epoch already carries at least one
//! and has reached
//! [`rekey_after_records`](crate::config::Config::rekey_after_records)
//! (default 2^24 records) or the message would pass
//! [`rekey_after_bytes`](crate::config::Config::rekey_after_bytes) (default
//! 1 GiB of application bytes; with 3DES never more than
//! [`TDES_MAX_BYTES_PER_KEY`](crate::config::TDES_MAX_BYTES_PER_KEY),
//! 4 MiB, half the 2^20-block Sweet32 bound). Only application records and
//! bytes count.
//!
//! Each REKEY costs its responder a key pair and an agreement, so a
//! rotation is bounded twice over:
//!
//! * **after enough traffic**: a side sends REKEY only once it has sent at
//!   least [`rekey_min_bytes`](crate::config::Config::rekey_min_bytes)
//!   (default 4096) of application-record frames (the JSON as sent, without
//!   `\r\n`) in the epoch, in ffdhe2048; in larger groups, whose
//!   exponentiations cost more, that times the square of the group's size
//!   over 2048 (9216 in ffdhe3072, 16384 in ffdhe4096), and with 3DES never
//!   more than 2 MiB; until then a rotation that is due (by time,
//!   records, bytes, or [`Connection::rotate`](crate::Connection::rotate))
//!   waits. A responder refuses an earlier REKEY with
//!   [`ProtocolError::RotationTooSoon`](crate::error::ProtocolError::RotationTooSoon)
//!   and a sealed ERROR. Both sides must use the same bound (or the
//!   responder a lower one);
//! * **at a capped rate**: a REKEY that arrives sooner than
//!   [`min_rotation_interval`](crate::config::Config::min_rotation_interval)
//!   (default 50 ms) after the responder's epoch began is answered when
//!   that time comes, not refused; until then any other frame from the
//!   peer is refused (the initiator waits for REKEY_ACK).
//!
//! * The **initiator** draws a key pair in the handshake's group and sends
//!   REKEY in the current epoch. Until the answer, what the application
//!   sends is queued in order, and records from the peer still open in the
//!   current epoch.
//! * The **responder** answers REKEY_ACK, sealed in the current epoch, and
//!   switches both directions to the new epoch right after.
//! * The initiator switches both directions on receiving REKEY_ACK. Each
//!   side reports [`Event::KeyRotated`](crate::Event::KeyRotated); in the
//!   new epoch seq starts again at 0 both ways, and the old keys are
//!   dropped (zeroized); a record of an old epoch is refused.
//! * If both REKEYs cross, the client's wins: the client ignores the
//!   server's REKEY, the server abandons its own and answers the client's.
//!
//! ```text
//! PRK'      = HKDF-Extract(salt = K_"next" of epoch n, IKM = Z of the two fresh key pairs)
//! context'  = H(context ‖ (n + 1) as u32 big-endian ‖ initiator public ‖ responder public)
//! K'_l      = HKDF-Expand(PRK', "securex v2 " ‖ l ‖ context', length)
//! ```
//!
//! Here `context` is TH for epoch 0 and the previous `context'` after; the
//! public values are the bytes REKEY and REKEY_ACK carried. No FINISHED is
//! exchanged: a record that opens under the new keys confirms them, and the
//! PSK or pinned key of the handshake carries over through `next`.
//!
//! # Resume
//!
//! With `resume` agreed ([`Extension::Resume`](crate::config::Extension::Resume)),
//! an upload that a cut connection left as `<name>.partial` continues on a
//! new connection from what the server holds
//! ([`crate::transfer::Receiver::with_resume`],
//! [`crate::transfer::Sender::with_resume_token`]):
//!
//! ```text
//! first connection                    a later one
//! c → s  OPEN name                    c → s  RESUME token, name
//! s → c  ACCEPTED 0, token, stored    s → c  ACCEPTED offset, token, stored
//! c → s  DATA …  (cut)                c → s  PREFIX SHA-256(first offset bytes)
//!                                     c → s  DATA from offset …, CLOSE SHA-256(whole file)
//!                                     s → c  OK
//! ```
//!
//! * The token is 16 random bytes the server draws for every upload it
//!   accepts and sends only inside the channel; it keeps only its SHA-256,
//!   beside the `.partial`. The client keeps it (the example client in
//!   `<file>.securex-resume`, mode 0600).
//! * A RESUME is checked before anything else: a token that is not the
//!   upload's, or an upload that kept none, is refused with ERROR
//!   (resume refused), so a stranger can neither resume someone else's
//!   `.partial` nor learn anything of its content. A RESUME of a name
//!   nothing is kept under starts again (ACCEPTED with offset 0 and a new
//!   token); one of a name already stored is refused as OPEN is.
//! * The server says how much it holds (`offset`); the client sends the
//!   SHA-256 of its own first `offset` bytes, and the server compares it
//!   (in constant time) with its own before it appends anything: a file
//!   that changed is refused with ERROR, and the server drops the
//!   `.partial` and its token (only the token's holder gets as far as
//!   PREFIX, so only the uploader can have its part dropped; kept, the
//!   part would refuse the name to every later upload). The next RESUME
//!   or OPEN of the name starts from zero. Nothing but PREFIX may come
//!   before the DATA.
//! * The CLOSE digest is of the whole file, as without resume, and still
//!   decides: the server reads what it held into it.
//! * An upload a connection still writes is locked: a RESUME of it (the
//!   server has not yet seen the first connection end) is refused with
//!   ERROR until it has (at the latest its idle timeout).
//! * A server without the extension (an older v2 peer) agrees nothing,
//!   and a client then sends OPEN and starts from zero. v1 has no resume.
//!
//! # Batch
//!
//! Without `batch`, a connection carries one file: after its OK to the
//! CLOSE the server closes, and an OPEN (or RESUME) from the client after
//! a CLOSE is refused by the server's connection
//! ([`ProtocolError::UnexpectedMessage`](crate::error::ProtocolError::UnexpectedMessage),
//! with ERROR, where it still reads: one sent behind the CLOSE). With `batch` agreed
//! ([`Extension::Batch`](crate::config::Extension::Batch)), the client
//! sends several files one after another
//! ([`crate::transfer::Upload::batch`]), each exactly as a connection of
//! its own would, and the server waits for the next one after each OK
//! instead of closing ([`crate::transfer::Download`]):
//!
//! ```text
//! c → s  OPEN a                 (or RESUME, with resume agreed)
//! s → c  OK                     (or ACCEPTED, a token for this file)
//! c → s  DATA …, CLOSE SHA-256(a)
//! s → c  OK
//! c → s  OPEN b
//! s → c  OK
//! c → s  DATA …, CLOSE SHA-256(b)
//! s → c  OK
//! c      end of stream
//! ```
//!
//! * No new message: a file starts with OPEN (or RESUME) only once the
//!   last one's CLOSE is answered with OK; the client's end of stream
//!   after an OK ends the batch, and the server reports the files stored
//!   ([`crate::transfer::Download::stored`]). An end of stream in the
//!   middle of a file is a failure, and keeps that file's `.partial` as
//!   always; the files stored before it stay stored. An end of stream is
//!   not authenticated (there is no close-notify): the server cannot tell
//!   a batch the client ended from one cut between two files, and says
//!   only which files it stored, each whole and checked; the client
//!   knows whether it sent them all.
//! * Each file is its own upload: its own name checks, size limit, digest
//!   and, with `resume` agreed, its own ACCEPTED and token; a batch cut in
//!   a file resumes that file on a new connection
//!   ([`crate::transfer::Upload::into_unsent`] gives the files never
//!   started).
//! * An ERROR (a file refused, a digest that differs) ends the
//!   connection, as without `batch`: the files after it are not sent.
//! * Bounds: the server stores at most
//!   [`with_max_files`](crate::transfer::Receiver::with_max_files) files
//!   per connection (default 1024) and refuses the OPEN after them with
//!   ERROR, and at most
//!   [`with_max_connection_len`](crate::transfer::Receiver::with_max_connection_len)
//!   bytes of DATA over all of them if set (the DATA past it is refused
//!   with ERROR); between two files the idle timeout
//!   ([`Config::idle_timeout`](crate::config::Config::idle_timeout)) runs
//!   as between any two messages, and the key rotations go on as they
//!   would in one long upload.
//! * A peer without the extension (an older v2 peer) agrees nothing: the
//!   connection carries the first file and the client sends the others on
//!   new connections. v1 has no batch (its hello has no extensions).
//!
//! # Closing and errors
//!
//! The client's CLOSE carries the SHA-256 of the file as it read it; the
//! server ([`crate::transfer::Receiver`]) answers OK only once the file is
//! stored under its final name and the digest matches, else ERROR. Then
//! both close the stream: there is no close-notify, and an end of stream
//! before the application is done is
//! [`ProtocolError::UnexpectedEof`](crate::error::ProtocolError::UnexpectedEof).
//!
//! On any error a connection closes, and tells the peer why where that
//! gives nothing away (never when the error is the peer's own ERROR or its
//! end of stream):
//!
//! * once the peer's FINISHED has verified, in an ERROR sealed in the
//!   current epoch, from either side;
//! * a server, in a plaintext `{"type":"ERROR","message":"…"}` frame while
//!   it negotiates, before it has written its `EXCHANGE` (the refusals of
//!   the checks above);
//! * otherwise not at all. Before the peer's FINISHED verifies, neither
//!   side seals anything but its own FINISHED: a client whose check of the
//!   server's FINISHED fails, and a server whose check of the client's
//!   fails, just close. An ERROR sealed under keys of a handshake that was
//!   never authenticated would hand an attacker known plaintext under
//!   keys it can test PSK guesses against offline.
//!
//! A side whose REKEY is out seals its alert in the current epoch; a peer
//! that has already answered that REKEY has moved to the next epoch and
//! fails on the alert with
//! [`RecordError::UnknownEpoch`](crate::error::RecordError::UnknownEpoch)
//! instead of reading it: it fails either way, only the reason is lost.
//!
//! # Versions
//!
//! | client policy ([`versions`](crate::config::Config::versions)) | server policy | outcome |
//! |----------------|---------------|---------|
//! | `[V2]` (the default) | allows v2 | v2 |
//! | `[V2, V1]` | `[V1]` (or any v1-only peer) | the server ignores the v2 fields and answers in v1; the client falls back |
//! | `[V2]` | `[V1]` | the v1 `EXCHANGE` (no `version`) is refused by the client: [`ProtocolError::VersionRefused`](crate::error::ProtocolError::VersionRefused) |
//! | `[V1, V2]` ([`seed_compatible`](crate::config::Config::seed_compatible): speaks v1) | `[V2]` | plaintext `ERROR`: "… v2 is required" |
//! | `[V1, V2]` | allows v1 | v1 |
//!
//! A server accepts every version its policy lists (a seed-compatible
//! server speaks v2 with a v2 client); a server that does not allow v2
//! answers a v2 hello in v1, ignoring the fields it does not know, as
//! existing peers do. A `version` other than 2 is refused. The fallback is
//! a downgrade path: see [`super::security`](super::security#v1-and-downgrade).
//! v1 cannot authenticate, so a client with a PSK or a pinned server key
//! never speaks or falls back to v1, and a server with a PSK refuses v1
//! clients, whatever `versions` lists.
//!
//! # Key log
//!
//! For debugging only, [`Config::key_log`](crate::config::Config::key_log)
//! (off by default) hands a callback every key that opens the records:
//! **whoever holds the log reads the session**. Each side writes, when it
//! derives an epoch's keys (epoch 0 at the handshake, n + 1 at the n-th
//! rotation), one line per direction, `c2s` then `s2c`, fields separated by
//! one space, hex in lowercase:
//!
//! ```text
//! SECUREX_V2 <conn-id> <epoch> <c2s|s2c> <key> <mac-key|-> <static-iv|->
//! ```
//!
//! * `conn-id`: the client's `nonce` (the 32 decoded bytes of the field in
//!   its `ALGORITHMS`), in hex; both sides write the same;
//! * `epoch`: decimal, as in the records' `epoch`;
//! * `key`: that direction's `c2s key` / `s2c key` of the [key
//!   schedule](#key-schedule); `mac-key`: its `c2s mac` / `s2c mac` (CBC
//!   and ECB; `-` for GCM); `static-iv`: its `c2s iv` / `s2c iv` (GCM;
//!   `-` for CBC and ECB).
//!
//! These open every record of the epoch in that direction as
//! [above](#secure_x-records-both-directions-once-keys-exist) describes;
//! FINISHED, `next` and the DH secrets are not logged (they open nothing).
//! A v1 connection writes `SECUREX_V1` lines instead, one per epoch,
//! `c2s` only (its id is the SHA-256 of the client's first public key):
//! the full grammar, for both versions, is in [`crate::keylog`]. The
//! `inspect` example decrypts a capture with such a log.
//!
//! # Annotated transcript
//!
//! A real session: two [`Connection`](crate::Connection)s in memory with
//! [`Config::default`](crate::config::Config) on both sides, seeded
//! `ChaCha20Rng`s (`[1; 32]` for the client, `[2; 32]` for the server), the
//! client sending OPEN `notes.txt`, one DATA of 15 bytes
//! (`hello, securex\n`) and CLOSE, the server answering OK to OPEN and to
//! CLOSE. Frames are shown without their `\r\n`; the three PEM values are
//! cut after the base64 of their first line (`-----BEGIN …-----`), marked
//! `…`; everything else is exact. TH and the inner plaintexts were checked
//! by deriving the keys again from outside the connections and opening
//! every record. The suite is `DH;AES-128;GCM;SHA-256`, so each `payload` is the inner
//! plaintext plus a 16-byte tag, and `iv` and `hash` are absent.
//!
//! ```text
//! #0 client → server, 2824 bytes: ALGORITHMS
//! {"type":"ALGORITHMS","ciphers":["AES-128"],"modes":["GCM","CBC"],"hash":["SHA-256","SHA-512"],"params":"LS0tLS1CRUdJTiBYOS40MiBESCBQQVJBTUVURVJTLS0tLS0K…","public_key":"LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0K…","version":2,"nonce":"Hsw2hrYO47hLbH0yHXDVwG6drGOk0KedcxsXwNBNAw0=","groups":["ffdhe2048","ffdhe3072","ffdhe4096"]}
//! ```
//!
//! The default offer (AES-128; GCM, then CBC; SHA-256, then SHA-512), the
//! ffdhe2048 parameters (`-----BEGIN X9.42 DH PARAMETERS-----`, 785 bytes of
//! PEM) and the client's ephemeral public key (`-----BEGIN PUBLIC KEY-----`,
//! 1153 bytes of PEM, a 225-bit exponent behind it), the version, a 32-byte
//! nonce and the groups. No PSK, no pinned key: no `psk_id`, no `server_key`.
//!
//! ```text
//! #1 server → client, 1688 bytes: EXCHANGE
//! {"type":"EXCHANGE","value":"LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0K…","ciphersuite":"DH;AES-128;GCM;SHA-256","version":2,"nonce":"f4LdY/T3XDPaREtyNyvjqkPAAnoHa/lnXreTJpXRJ6Q=","group":"ffdhe2048"}
//! ```
//!
//! The server's ephemeral key in ffdhe2048, the first suite of the client's
//! order that it accepts, its nonce. Both sides now hash #0 and #1 exactly
//! as sent: TH = SHA-256(#0 ‖ #1) =
//! `5f8848c2354f70862630d75ddc13593fdf62e4244ed13babe15d59f8ddebb9e0`.
//!
//! ```text
//! #2 server → client, 118 bytes, written with #1: the server's FINISHED
//! {"type":"SECURE_X","epoch":0,"seq":0,"payload":"mW50xM2rsRTn2tyHPuIl7LgF8CZzY8PDr0SF04BbIErmm8CaUP5URJFyie9OKYGeug=="}
//! ```
//!
//! 49 bytes: inner `10` ‖ HMAC-SHA-256(K_"s finished", TH) =
//! `d0c1e718…34abc1` (33 bytes) and the tag. The client verifies it: its
//! handshake is complete.
//!
//! ```text
//! #3 client → server, 118 bytes: the client's FINISHED
//! {"type":"SECURE_X","epoch":0,"seq":0,"payload":"XbtTA8hj+RVdv1U1CYyDSweDYMO5xl9xLu5ln//hit9Af18L7rk2mzau9N3LuKMopA=="}
//! ```
//!
//! Inner `10` ‖ HMAC-SHA-256(K_"c finished", TH) = `46190798…6b6a0d`. seq
//! is 0 again: each direction counts on its own. The server verifies it and
//! completes its handshake. The client wrote #3 to #6 at once: its messages
//! were queued while the keys were agreed.
//!
//! ```text
//! #4 client → server, 86 bytes: OPEN
//! {"type":"SECURE_X","epoch":0,"seq":1,"payload":"sHW3Nad/MHD1/mcByN5XkGyy4xeZh5wW3Ro="}
//! ```
//!
//! 26 bytes: inner `01` ‖ `notes.txt` (10 bytes) and the tag. The file name
//! travels only inside the channel. The server answers OK (#7).
//!
//! ```text
//! #5 client → server, 94 bytes: DATA
//! {"type":"SECURE_X","epoch":0,"seq":2,"payload":"fkTAE5zRRgwiA5LgzetQcXKfzGQP04AQUY0yuKcLTqw="}
//! ```
//!
//! 32 bytes: inner `02` ‖ `hello, securex\n` (16 bytes, raw, not base64)
//! and the tag.
//!
//! ```text
//! #6 client → server, 118 bytes: CLOSE
//! {"type":"SECURE_X","epoch":0,"seq":3,"payload":"Y65iIsZAleiH+GULTb4JRtTLNH7+R2+ZqVyPoZ+hsBPDEFWrH3l4So4+8IwkoDAc+Q=="}
//! ```
//!
//! Inner `03` ‖ SHA-256(`hello, securex\n`) =
//! `6e092d14398b3fc6f5c6b70e93b1a79ec09a162677bdf40b47957b8afdc571a6`
//! (33 bytes) and the tag. The server compares the digest with what it
//! stored and answers OK (#8).
//!
//! ```text
//! #7 server → client, 74 bytes: OK (to OPEN)
//! {"type":"SECURE_X","epoch":0,"seq":1,"payload":"frmaJQ4T0zAeHUHMoK8Qyas="}
//! #8 server → client, 74 bytes: OK (to CLOSE)
//! {"type":"SECURE_X","epoch":0,"seq":2,"payload":"7nNsNEUzb/xdHAenxcD3w0c="}
//! ```
//!
//! 17 bytes each: inner `04` and the tag. Identical plaintexts, different
//! ciphertexts: the nonce changes with seq.
//!
//! The same handshake with a client offering only `DH;AES-128;CBC;SHA-256`
//! has the same two hellos (but for the offer) and a server FINISHED that
//! shows the CBC fields: a 48-byte C (33 bytes of inner plaintext padded to
//! three blocks), a 16-byte IV and a 32-byte HMAC.
//!
//! ```text
//! {"type":"SECURE_X","epoch":0,"seq":0,"payload":"1HhfUTr4ukImvqgicMV04USvBEO8o8Owo6HMzvePQ76z7bjBqgQWJ+PhSTF9IS2a","iv":"SsozcU2US+FuimbiVehWrg==","hash":"16680f7a93925a7b2cd120bacb21e13bc1718127bc62faac4f0806d6d5480a1b"}
//! ```
//!
//! A rotation (here forced by `rekey_after_records = Some(1)` on the
//! client) adds two records of 414 bytes each: REKEY (`11` ‖ 256 bytes of
//! ffdhe2048 public value, and the tag: 273 bytes of payload) as the
//! client's next record of epoch 0, REKEY_ACK as the server's next record
//! of epoch 0; the client's following DATA is `"epoch":1,"seq":0`.
