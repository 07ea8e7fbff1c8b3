//! Prints every frame of one captured securex connection, decrypted with
//! its key log: a debugging tool.
//!
//! ```text
//! cargo run --example inspect -- --keylog KEYS --c2s CLIENT_TO_SERVER --s2c SERVER_TO_CLIENT
//! cargo run --example inspect -- --keylog KEYS --pcap CAPTURE.pcap [--connection N]
//! ```
//!
//! The key log is what the programs write with `SECUREX_KEYLOG=KEYS` (see
//! `securex::keylog` for its grammar); it may hold the lines of many
//! connections, and the lines of this one are found by its id (taken from
//! the capture's first `ALGORITHMS`). The capture is either the two byte
//! streams in two files, or a classic libpcap file as `tcpdump -w` writes
//! it (not pcapng; `editcap -F pcap` converts), of link type Ethernet (1),
//! BSD loopback (0, 108), raw IP (101) or Linux cooked (113, 276), over
//! IPv4 or IPv6. In a pcap, the TCP connections are numbered in the order
//! of their first packet, and `--connection N` (default 0) picks one; each
//! direction is reassembled by sequence number (duplicates dropped; a
//! stream stops at the first byte missing from the capture).
//!
//! One line per frame, `c->s` or `s->c` first; from a pcap in the order
//! the frames completed on the wire, from two files each direction in
//! order, the client's first (two files do not say how they interleave):
//!
//! ```text
//! connection SECUREX_V2 5e1f…  suite DH;AES-128;GCM;SHA-256
//! c->s ALGORITHMS v2 ciphers=AES-128 modes=GCM,CBC hashes=SHA-256,SHA-512 groups=ffdhe2048 nonce=5e1f…
//! s->c EXCHANGE v2 suite=DH;AES-128;GCM;SHA-256 group=ffdhe2048
//! s->c epoch 0 seq 0 FINISHED (32 bytes)
//! c->s epoch 0 seq 1 OPEN "notes.txt"
//! c->s epoch 0 seq 2 DATA 65536 bytes: "the first bytes of the chunk"…
//! c->s epoch 0 seq 4 REKEY (256-byte public value): the sender starts epoch 1
//! c->s epoch 1 seq 0 FAILED AUTHENTICATION (content not shown)
//! ```
//!
//! A record that fails to authenticate is printed as such, never its
//! content. Exits 0 when every record opened, 1 when some did not (failed
//! authentication, no key in the log, missing from the capture), 2 for
//! unreadable input (a file, a malformed pcap, a flag).
//!
//! The key log holds every secret of the sessions it covers: treat it, and
//! this tool's output, as you would the plaintext.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Parser;
use zeroize::Zeroizing;

use securex::error::RecordError;
use securex::keylog;
use securex::record::{V1Protector, V2DirectionKeys, V2Opener};
use securex::schedule::V1Secrets;
use securex::suite::CipherSuite;
use securex::wire::{Algorithms, Frame};
use securex::{Message, Version};

#[derive(Parser)]
#[command(about = "Prints a captured securex connection, decrypted with its key log")]
struct Args {
    /// The key log (as written with `SECUREX_KEYLOG`).
    #[arg(long, value_name = "FILE")]
    keylog: PathBuf,
    /// The bytes the client sent (with --s2c).
    #[arg(long, value_name = "FILE", requires = "s2c", conflicts_with = "pcap")]
    c2s: Option<PathBuf>,
    /// The bytes the server sent (with --c2s).
    #[arg(long, value_name = "FILE", requires = "c2s", conflicts_with = "pcap")]
    s2c: Option<PathBuf>,
    /// A classic libpcap capture (tcpdump -w).
    #[arg(long, value_name = "FILE", required_unless_present = "c2s")]
    pcap: Option<PathBuf>,
    /// Which TCP connection of the pcap, in the order of their first packet.
    #[arg(long, value_name = "N", default_value_t = 0)]
    connection: usize,
    /// Bytes of each DATA chunk shown.
    #[arg(long, value_name = "BYTES", default_value_t = 48)]
    prefix: usize,
}

/// A direction of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dir {
    C2s,
    S2c,
}

impl Dir {
    fn arrow(self) -> &'static str {
        match self {
            Dir::C2s => "c->s",
            Dir::S2c => "s->c",
        }
    }

    fn keylog_name(self) -> &'static str {
        match self {
            Dir::C2s => keylog::C2S,
            Dir::S2c => keylog::S2C,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Prints the connection; whether every record opened.
fn run(args: &Args) -> Result<bool, String> {
    let log_text = Zeroizing::new(read(&args.keylog)?);
    let (c2s, s2c) = match (&args.c2s, &args.s2c, &args.pcap) {
        (Some(c2s), Some(s2c), _) => (Stream::whole(read(c2s)?, 0), Stream::whole(read(s2c)?, 1)),
        (_, _, Some(path)) => {
            let bytes = read(path)?;
            let capture = pcap::connection(&bytes, args.connection)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for warning in &capture.warnings {
                eprintln!("warning: {}: {warning}", path.display());
            }
            (capture.c2s, capture.s2c)
        }
        _ => return Err("give --c2s and --s2c, or --pcap".into()),
    };
    let log = KeyLog::parse(&log_text);
    for warning in &log.warnings {
        eprintln!("warning: {}: {warning}", args.keylog.display());
    }
    let mut inspector = Inspector::new(&c2s, &s2c, log, args.prefix);
    let mut lines = inspector.frames(Dir::C2s, &c2s);
    lines.extend(inspector.frames(Dir::S2c, &s2c));
    lines.sort_by_key(|l| (l.order, l.dir, l.index));
    println!("{}", inspector.header());
    for line in &lines {
        println!("{} {}", line.dir.arrow(), line.text);
    }
    let s = &inspector.stats;
    println!(
        "summary: {} frames, {} records opened, {} failed authentication, {} not opened, epochs seen {}",
        lines.len(),
        s.opened,
        s.failed,
        s.unopened,
        s.epochs()
    );
    Ok(s.failed == 0 && s.unopened == 0)
}

// ---------------------------------------------------------------------
// Byte streams and frames.

/// One direction's bytes, and for each stretch of them the position in
/// the capture of the packet that brought it (to interleave directions).
pub struct Stream {
    bytes: Vec<u8>,
    /// (end offset of a stretch, its order): increasing ends.
    marks: Vec<(usize, u64)>,
}

impl Stream {
    /// A stream read whole, all of it at one position.
    fn whole(bytes: Vec<u8>, order: u64) -> Stream {
        let marks = vec![(bytes.len(), order)];
        Stream { bytes, marks }
    }

    /// The order of the byte before offset `end`.
    fn order_at(&self, end: usize) -> u64 {
        let i = self.marks.partition_point(|&(e, _)| e < end);
        self.marks
            .get(i)
            .or(self.marks.last())
            .map_or(0, |&(_, order)| order)
    }

    /// The frames (without `\r\n`) and the offsets where they end; the
    /// bytes after the last `\r\n`, if any.
    fn frames(&self) -> (Vec<(&[u8], usize)>, &[u8]) {
        let mut frames = Vec::new();
        let mut start = 0;
        let bytes = &self.bytes;
        while let Some(at) = bytes[start..].windows(2).position(|w| w == b"\r\n") {
            let end = start + at;
            frames.push((&bytes[start..end], end + 2));
            start = end + 2;
        }
        (frames, &bytes[start..])
    }
}

/// A line of output.
struct Line {
    order: u64,
    dir: Dir,
    index: usize,
    text: String,
}

// ---------------------------------------------------------------------
// The key log.

/// Keys of one direction of one epoch: key, MAC key, static IV (empty
/// for `-`).
type Keys = [Zeroizing<Vec<u8>>; 3];

/// What a key log line is for: (label, connection id, epoch, direction).
type KeyFor = (String, String, u32, &'static str);

/// The lines of a key log, by what they are for.
struct KeyLog {
    entries: BTreeMap<KeyFor, Keys>,
    warnings: Vec<String>,
}

impl KeyLog {
    /// Parses a key log: comments (`#`), empty lines and unknown labels
    /// skipped, malformed lines warned about and skipped.
    fn parse(text: &[u8]) -> KeyLog {
        let mut log = KeyLog {
            entries: BTreeMap::new(),
            warnings: Vec::new(),
        };
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Ok(line) = std::str::from_utf8(line) else {
                log.warnings
                    .push(format!("line {}: not UTF-8, ignored", n + 1));
                continue;
            };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let label = line.split(' ').next().unwrap_or_default();
            if label != keylog::V1_LABEL && label != keylog::V2_LABEL {
                continue;
            }
            match parse_line(line) {
                Ok((key, keys)) => {
                    if let Some(old) = log.entries.get(&key) {
                        if old != &keys {
                            log.warnings.push(format!(
                                "line {}: other keys for epoch {} {} than an earlier line; the earlier ones are used",
                                n + 1,
                                key.2,
                                key.3
                            ));
                        }
                    } else {
                        log.entries.insert(key, keys);
                    }
                }
                Err(why) => log.warnings.push(format!("line {}: {why}, ignored", n + 1)),
            }
        }
        log
    }

    fn get(&self, version: Version, id: &str, epoch: u32, dir: Dir) -> Option<&Keys> {
        let label = match version {
            Version::V1 => keylog::V1_LABEL,
            _ => keylog::V2_LABEL,
        };
        self.entries
            .get(&(label.to_owned(), id.to_owned(), epoch, dir.keylog_name()))
    }
}

/// One line of a known label: its key and its keys.
fn parse_line(line: &str) -> Result<(KeyFor, Keys), String> {
    let fields: Vec<&str> = line.split(' ').collect();
    let [label, id, epoch, dir, key, mac, iv] = fields[..] else {
        return Err(format!("{} fields, not 7", fields.len()));
    };
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the connection id is not 64 hex digits".into());
    }
    let epoch: u32 = epoch.parse().map_err(|_| "a bad epoch".to_owned())?;
    let dir = match dir {
        keylog::C2S => keylog::C2S,
        keylog::S2C => keylog::S2C,
        _ => return Err(format!("a bad direction {dir:?}")),
    };
    let hex = |field: &str, name: &str, optional: bool| -> Result<Zeroizing<Vec<u8>>, String> {
        if optional && field == keylog::NONE {
            return Ok(Zeroizing::new(Vec::new()));
        }
        base16ct::mixed::decode_vec(field)
            .ok()
            .filter(|k| !k.is_empty())
            .map(Zeroizing::new)
            .ok_or_else(|| format!("the {name} is not hex"))
    };
    let keys = [
        hex(key, "key", false)?,
        hex(mac, "MAC key", true)?,
        hex(iv, "static IV", true)?,
    ];
    Ok((
        (label.to_owned(), id.to_ascii_lowercase(), epoch, dir),
        keys,
    ))
}

// ---------------------------------------------------------------------
// Decoding the frames.

#[derive(Default)]
struct Stats {
    opened: u64,
    failed: u64,
    unopened: u64,
    epochs: std::collections::BTreeSet<u32>,
}

impl Stats {
    fn epochs(&self) -> String {
        match (self.epochs.first(), self.epochs.last()) {
            (Some(first), Some(last)) => format!("{first}..={last}"),
            _ => "none".into(),
        }
    }
}

/// A v2 opener of one direction of one epoch, and whether a record
/// failed in it (the opener then waits for that record for ever).
struct Opening {
    opener: V2Opener,
    failed: bool,
}

struct Inspector {
    version: Version,
    id: Option<String>,
    /// v1: the suite of each epoch, from each `EXCHANGE`; v2: one.
    suites: Vec<CipherSuite>,
    log: KeyLog,
    prefix: usize,
    openers: BTreeMap<(u32, Dir), Opening>,
    stats: Stats,
}

impl Inspector {
    /// Reads the version, the suites and the id from the hellos.
    fn new(c2s: &Stream, s2c: &Stream, log: KeyLog, prefix: usize) -> Inspector {
        let decoded = |s: &Stream| -> Vec<Frame> {
            s.frames()
                .0
                .into_iter()
                .filter_map(|(f, _)| Frame::decode(f).ok())
                .collect()
        };
        let hello = decoded(c2s).into_iter().find_map(|f| match f {
            Frame::Algorithms(hello) => Some(hello),
            _ => None,
        });
        let exchanges: Vec<_> = decoded(s2c)
            .into_iter()
            .filter_map(|f| match f {
                Frame::Exchange(e) => Some(e),
                _ => None,
            })
            .collect();
        let v2 = match exchanges.first() {
            Some(e) => e.version.is_some(),
            None => hello.as_ref().is_some_and(|h| h.version.is_some()),
        };
        let version = if v2 { Version::V2 } else { Version::V1 };
        let id = hello.as_ref().and_then(|h| connection_id(version, h));
        let suites = exchanges
            .iter()
            .filter_map(|e| e.ciphersuite.parse().ok())
            .collect();
        Inspector {
            version,
            id,
            suites,
            log,
            prefix,
            openers: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    fn header(&self) -> String {
        let label = match self.version {
            Version::V1 => keylog::V1_LABEL,
            _ => keylog::V2_LABEL,
        };
        let suite = self
            .suites
            .first()
            .map_or("none".to_owned(), ToString::to_string);
        let id = self.id.as_deref().unwrap_or("unknown (no ALGORITHMS)");
        format!("connection {label} {id}  suite {suite}")
    }

    /// The lines of one direction's frames.
    fn frames(&mut self, dir: Dir, stream: &Stream) -> Vec<Line> {
        let (frames, rest) = stream.frames();
        let mut lines = Vec::new();
        // v1: ALGORITHMS and EXCHANGE seen in this direction so far.
        let mut hellos = 0u32;
        // A frame completes no sooner than the one before it (a capture
        // may hold a segment that came late).
        let mut order = 0;
        for (index, (bytes, end)) in frames.iter().enumerate() {
            let text = match Frame::decode(bytes) {
                Ok(frame) => self.frame(dir, frame, &mut hellos),
                Err(e) => format!("undecodable frame ({} bytes): {e}", bytes.len()),
            };
            order = order.max(stream.order_at(*end));
            lines.push(Line {
                order,
                dir,
                index,
                text,
            });
        }
        if !rest.is_empty() {
            lines.push(Line {
                order: order.max(stream.order_at(stream.bytes.len())),
                dir,
                index: frames.len(),
                text: format!(
                    "{} bytes at the end of the stream, without \\r\\n",
                    rest.len()
                ),
            });
        }
        lines
    }

    fn frame(&mut self, dir: Dir, frame: Frame, hellos: &mut u32) -> String {
        match frame {
            Frame::Algorithms(hello) => {
                *hellos += 1;
                let epoch = match *hellos {
                    1 => String::new(),
                    n => format!(" (renegotiation: epoch {} follows)", n - 1),
                };
                format!(
                    "ALGORITHMS {}{epoch} {}",
                    version_name(hello.version),
                    offer(&hello)
                )
            }
            Frame::Exchange(e) => {
                *hellos += 1;
                let group = e.group.map(|g| format!(" group={g}")).unwrap_or_default();
                let epoch = match (self.version, *hellos) {
                    (Version::V1, n) if n > 1 => format!(" (epoch {})", n - 1),
                    _ => String::new(),
                };
                format!(
                    "EXCHANGE {} suite={}{group}{epoch}",
                    version_name(e.version),
                    e.ciphersuite
                )
            }
            Frame::Ok => "OK".into(),
            Frame::Error(e) => format!("ERROR {:?}", e.message),
            Frame::Record(record) => self.v2_record(dir, &record),
            Frame::SecureX(record) => {
                // The records after the n-th ALGORITHMS are of epoch n - 1.
                self.v1_record(hellos.saturating_sub(1), &record)
            }
            other => format!("{} frame", other.type_name()),
        }
    }

    /// Opens a v2 record with the logged keys of its epoch.
    fn v2_record(&mut self, dir: Dir, record: &securex::wire::Record) -> String {
        let (epoch, seq) = (record.epoch, record.seq);
        self.stats.epochs.insert(epoch);
        let head = format!("epoch {epoch} seq {seq}");
        let fields = match securex::wire::record::decode_fields(record) {
            Ok(fields) => fields,
            Err(e) => {
                self.stats.unopened += 1;
                return format!("{head} malformed record: {e}");
            }
        };
        if !self.openers.contains_key(&(epoch, dir)) {
            match self.v2_opener(epoch, dir) {
                Ok(opener) => {
                    let opening = Opening {
                        opener,
                        failed: false,
                    };
                    self.openers.insert((epoch, dir), opening);
                }
                Err(why) => {
                    self.stats.unopened += 1;
                    return format!("{head} not opened: {why}");
                }
            }
        }
        let Some(opening) = self.openers.get_mut(&(epoch, dir)) else {
            return format!("{head} not opened");
        };
        if opening.failed {
            self.stats.unopened += 1;
            return format!(
                "{head} not opened: an earlier record of epoch {epoch} failed to authenticate"
            );
        }
        match opening.opener.open_owned(fields) {
            Ok(plaintext) => {
                self.stats.opened += 1;
                format!("{head} {}", self.v2_inner(epoch, &plaintext))
            }
            Err(RecordError::Decrypt) => {
                opening.failed = true;
                self.stats.failed += 1;
                format!("{head} FAILED AUTHENTICATION (content not shown)")
            }
            Err(e) => {
                self.stats.unopened += 1;
                format!("{head} not opened: {e}")
            }
        }
    }

    fn v2_opener(&self, epoch: u32, dir: Dir) -> Result<V2Opener, String> {
        let suite = *self.suites.first().ok_or("no EXCHANGE names the suite")?;
        let id = self.id.as_deref().ok_or("no ALGORITHMS gives the id")?;
        let [key, mac, iv] = self.log.get(Version::V2, id, epoch, dir).ok_or_else(|| {
            format!(
                "no key for epoch {epoch} {} in the key log",
                dir.keylog_name()
            )
        })?;
        let keys = V2DirectionKeys::new(suite, key, mac, iv)
            .map_err(|e| format!("the logged keys do not fit {suite}: {e}"))?;
        Ok(V2Opener::new(keys, epoch))
    }

    /// Opens a v1 record (client to server) with the keys of `epoch`.
    fn v1_record(&mut self, epoch: u32, record: &securex::wire::SecureX) -> String {
        self.stats.epochs.insert(epoch);
        let head = format!("epoch {epoch}");
        let protector = match self.v1_protector(epoch) {
            Ok(p) => p,
            Err(why) => {
                self.stats.unopened += 1;
                return format!("{head} not opened: {why}");
            }
        };
        match protector.open(record) {
            Ok(inner) => {
                self.stats.opened += 1;
                match Message::from_v1_json(&inner) {
                    Ok(message) => format!("{head} {}", self.message(&message)),
                    Err(e) => format!("{head} malformed inner message: {e}"),
                }
            }
            Err(RecordError::BadMac) => {
                self.stats.failed += 1;
                format!("{head} FAILED AUTHENTICATION (content not shown)")
            }
            Err(e) => {
                self.stats.unopened += 1;
                format!("{head} not opened: {e}")
            }
        }
    }

    fn v1_protector(&self, epoch: u32) -> Result<V1Protector, String> {
        // Each renegotiation's EXCHANGE names its suite; a capture cut
        // short keeps the last one.
        let suite = *self
            .suites
            .get(epoch as usize)
            .or(self.suites.last())
            .ok_or("no EXCHANGE names the suite")?;
        let id = self.id.as_deref().ok_or("no ALGORITHMS gives the id")?;
        let [key, mac, _] = self
            .log
            .get(Version::V1, id, epoch, Dir::C2s)
            .ok_or_else(|| format!("no key for epoch {epoch} in the key log"))?;
        let secrets = V1Secrets::dangerously_from_raw(suite.cipher(), mac, key)
            .map_err(|e| format!("the logged keys do not fit {suite}: {e}"))?;
        Ok(V1Protector::new(suite, secrets))
    }

    /// What a v2 inner plaintext says.
    fn v2_inner(&self, epoch: u32, plaintext: &[u8]) -> String {
        let next = epoch.saturating_add(1);
        match plaintext.split_first() {
            Some((0x10, value)) => format!("FINISHED ({} bytes)", value.len()),
            Some((0x11, public)) => format!(
                "REKEY ({}-byte public value): the sender starts epoch {next}",
                public.len()
            ),
            Some((0x12, public)) => format!(
                "REKEY_ACK ({}-byte public value): both directions move to epoch {next}",
                public.len()
            ),
            _ => match Message::from_v2_bytes(plaintext) {
                Some(Ok(message)) => self.message(&message),
                Some(Err(e)) => format!("malformed inner message: {e}"),
                None => match plaintext.first() {
                    Some(code) => format!("unknown inner type 0x{code:02x}"),
                    None => "empty record".into(),
                },
            },
        }
    }

    fn message(&self, message: &Message) -> String {
        match message {
            Message::Open { file_name } => format!("OPEN {file_name:?}"),
            Message::Data(data) => {
                let shown = &data[..data.len().min(self.prefix)];
                let more = if shown.len() < data.len() { "…" } else { "" };
                format!(
                    "DATA {} bytes: \"{}\"{more}",
                    data.len(),
                    shown.escape_ascii()
                )
            }
            Message::Close { sha256: Some(d) } => {
                format!("CLOSE sha256={}", base16ct::lower::encode_string(d))
            }
            Message::Close { sha256: None } => "CLOSE".into(),
            Message::Ok => "OK".into(),
            Message::Error { message } => format!("ERROR {message:?}"),
            other => other.type_name().into(),
        }
    }
}

fn version_name(version: Option<u32>) -> String {
    match version {
        None => "v1".into(),
        Some(v) => format!("v{v}"),
    }
}

fn offer(hello: &Algorithms) -> String {
    let mut text = format!(
        "ciphers={} modes={} hashes={}",
        hello.ciphers.join(","),
        hello.modes.join(","),
        hello.hash.join(",")
    );
    // Writing to a String cannot fail.
    if let Some(groups) = &hello.groups {
        let _ = write!(text, " groups={}", groups.join(","));
    }
    if let Some(nonce) = hello.nonce.as_ref().and_then(|n| BASE64.decode(n).ok()) {
        let _ = write!(text, " nonce={}", base16ct::lower::encode_string(&nonce));
    }
    if let Some(id) = &hello.psk_id {
        let _ = write!(text, " psk_id={id:?}");
    }
    if hello.server_key.is_some() {
        text += " server_key=pinned";
    }
    text
}

/// The key log's id of a connection whose first `ALGORITHMS` is `hello`
/// (see `securex::keylog`).
fn connection_id(version: Version, hello: &Algorithms) -> Option<String> {
    if version == Version::V1 {
        let pem = BASE64.decode(&hello.public_key).ok()?;
        Some(keylog::v1_connection_id(&pem))
    } else {
        let nonce = BASE64.decode(hello.nonce.as_ref()?).ok()?;
        Some(keylog::v2_connection_id(&nonce))
    }
}

// ---------------------------------------------------------------------
// Classic libpcap files, parsed by hand: every length checked against
// what is there, every failure a `PcapError`.

mod pcap {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::net::IpAddr;

    use super::Stream;

    /// Why a pcap file cannot be read.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum PcapError {
        /// Shorter than the 24-byte file header.
        TooShort { len: usize },
        /// Not a classic pcap magic number.
        BadMagic(u32),
        /// A pcapng file (not supported).
        Pcapng,
        /// A version other than 2.x.
        UnsupportedVersion { major: u16, minor: u16 },
        /// A link type this tool does not read.
        UnsupportedLinkType(u32),
        /// A packet record claims more bytes than a packet may have.
        RecordTooLong { packet: usize, len: u32 },
        /// No TCP segment with a payload or a SYN in the capture.
        NoConnection,
        /// `--connection` beyond the connections found.
        NoSuchConnection { index: usize, count: usize },
    }

    impl fmt::Display for PcapError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                PcapError::TooShort { len } => {
                    write!(f, "{len} bytes, shorter than a pcap file header (24)")
                }
                PcapError::BadMagic(m) => write!(f, "not a pcap file (magic 0x{m:08x})"),
                PcapError::Pcapng => {
                    write!(f, "a pcapng file: convert it with `editcap -F pcap`")
                }
                PcapError::UnsupportedVersion { major, minor } => {
                    write!(f, "pcap version {major}.{minor}, not 2.x")
                }
                PcapError::UnsupportedLinkType(t) => {
                    write!(f, "link type {t} (supported: 0, 1, 101, 108, 113, 276)")
                }
                PcapError::RecordTooLong { packet, len } => write!(
                    f,
                    "packet {packet} claims {len} bytes, more than {MAX_PACKET}"
                ),
                PcapError::NoConnection => write!(f, "no TCP connection in the capture"),
                PcapError::NoSuchConnection { index, count } => write!(
                    f,
                    "no TCP connection {index}: the capture has {count} (0 to {})",
                    count.saturating_sub(1)
                ),
            }
        }
    }

    /// The largest packet record accepted: 16 MiB (tcpdump captures at
    /// most 256 KiB a packet).
    pub const MAX_PACKET: u32 = 16 << 20;

    const TCP: u8 = 6;
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;

    /// One connection of a capture: both directions reassembled.
    pub struct Connection {
        pub c2s: Stream,
        pub s2c: Stream,
        pub warnings: Vec<String>,
    }

    /// The byte order of the file's fields.
    #[derive(Clone, Copy)]
    enum Order {
        Little,
        Big,
    }

    /// Reads fixed-size fields from a slice, `None` past its end.
    struct Bytes<'a>(&'a [u8]);

    impl<'a> Bytes<'a> {
        fn array<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
            self.0.get(at..at.checked_add(N)?)?.try_into().ok()
        }
        fn u8(&self, at: usize) -> Option<u8> {
            self.0.get(at).copied()
        }
        fn be16(&self, at: usize) -> Option<u16> {
            self.array(at).map(u16::from_be_bytes)
        }
        fn be32(&self, at: usize) -> Option<u32> {
            self.array(at).map(u32::from_be_bytes)
        }
        fn u16(&self, at: usize, order: Order) -> Option<u16> {
            let b = self.array(at)?;
            Some(match order {
                Order::Little => u16::from_le_bytes(b),
                Order::Big => u16::from_be_bytes(b),
            })
        }
        fn u32(&self, at: usize, order: Order) -> Option<u32> {
            let b = self.array(at)?;
            Some(match order {
                Order::Little => u32::from_le_bytes(b),
                Order::Big => u32::from_be_bytes(b),
            })
        }
        fn from(&self, at: usize) -> Option<&'a [u8]> {
            self.0.get(at..)
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    struct Endpoint {
        ip: IpAddr,
        port: u16,
    }

    /// A TCP segment of the capture.
    struct Segment<'a> {
        packet: usize,
        from: Endpoint,
        to: Endpoint,
        seq: u32,
        flags: u8,
        payload: &'a [u8],
        /// The capture cut the segment short (snaplen).
        truncated: bool,
    }

    /// Reads the capture and reassembles its TCP connection number
    /// `index` (in the order of their first packet).
    pub fn connection(file: &[u8], index: usize) -> Result<Connection, PcapError> {
        let mut warnings = Vec::new();
        let segments = segments(file, &mut warnings)?;
        // Connections by their (unordered) pair of endpoints.
        let mut flows: Vec<(Endpoint, Endpoint)> = Vec::new();
        let mut members: BTreeMap<(Endpoint, Endpoint), Vec<&Segment>> = BTreeMap::new();
        for s in &segments {
            if s.payload.is_empty() && s.flags & SYN == 0 {
                continue;
            }
            let key = (s.from.min(s.to), s.from.max(s.to));
            let list = members.entry(key).or_default();
            if list.is_empty() {
                flows.push(key);
            }
            list.push(s);
        }
        if flows.is_empty() {
            return Err(PcapError::NoConnection);
        }
        let key = *flows.get(index).ok_or(PcapError::NoSuchConnection {
            index,
            count: flows.len(),
        })?;
        if flows.len() > 1 {
            warnings.push(format!(
                "{} TCP connections; showing number {index} (--connection N picks another)",
                flows.len()
            ));
        }
        let list = members.remove(&key).unwrap_or_default();
        // The client: the sender of a SYN, the receiver of a SYN-ACK, or
        // else the first to send data (securex clients speak first).
        let client = list
            .iter()
            .find(|s| s.flags & (SYN | ACK) == SYN)
            .map(|s| s.from)
            .or_else(|| {
                list.iter()
                    .find(|s| s.flags & (SYN | ACK) == SYN | ACK)
                    .map(|s| s.to)
            })
            .or_else(|| list.iter().find(|s| !s.payload.is_empty()).map(|s| s.from))
            .unwrap_or(key.0);
        let (up, down): (Vec<&Segment>, Vec<&Segment>) =
            list.into_iter().partition(|s| s.from == client);
        Ok(Connection {
            c2s: reassemble(&up, "c->s", &mut warnings),
            s2c: reassemble(&down, "s->c", &mut warnings),
            warnings,
        })
    }

    /// Every TCP segment of the capture, in order.
    fn segments<'a>(
        file: &'a [u8],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Segment<'a>>, PcapError> {
        let bytes = Bytes(file);
        let magic = bytes
            .array::<4>(0)
            .ok_or(PcapError::TooShort { len: file.len() })?;
        let order = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => Order::Little,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => Order::Big,
            [0x0a, 0x0d, 0x0d, 0x0a] => return Err(PcapError::Pcapng),
            other => return Err(PcapError::BadMagic(u32::from_be_bytes(other))),
        };
        if file.len() < 24 {
            return Err(PcapError::TooShort { len: file.len() });
        }
        let field16 = |at| bytes.u16(at, order).unwrap_or_default();
        let (major, minor) = (field16(4), field16(6));
        if major != 2 {
            return Err(PcapError::UnsupportedVersion { major, minor });
        }
        // The low 16 bits are the link type (the others: FCS length).
        let link = bytes.u32(20, order).unwrap_or_default() & 0xffff;
        if !matches!(link, 0 | 1 | 101 | 108 | 113 | 276) {
            return Err(PcapError::UnsupportedLinkType(link));
        }
        let mut segments = Vec::new();
        let (mut skipped, mut fragments) = (0usize, 0usize);
        let mut at = 24usize;
        let mut packet = 0usize;
        while at < file.len() {
            let Some(header) = bytes.0.get(at..at + 16) else {
                warnings.push(format!(
                    "the capture ends inside the header of packet {packet}"
                ));
                break;
            };
            let header = Bytes(header);
            let incl = header.u32(8, order).unwrap_or_default();
            let orig = header.u32(12, order).unwrap_or_default();
            if incl > MAX_PACKET {
                return Err(PcapError::RecordTooLong { packet, len: incl });
            }
            let start = at + 16;
            let Some(data) = bytes.0.get(start..start + incl as usize) else {
                warnings.push(format!("the capture ends inside packet {packet}"));
                break;
            };
            at = start + incl as usize;
            match parse_packet(data, link, order, orig > incl) {
                Parsed::Segment(mut s) => {
                    s.packet = packet;
                    segments.push(s);
                }
                Parsed::Fragment => fragments += 1,
                Parsed::Other => skipped += 1,
            }
            packet += 1;
        }
        if fragments > 0 {
            warnings.push(format!("IP fragments ignored: {fragments}"));
        }
        if skipped > 0 {
            warnings.push(format!(
                "packets ignored that are not TCP over IPv4 or IPv6: {skipped}"
            ));
        }
        Ok(segments)
    }

    enum Parsed<'a> {
        Segment(Segment<'a>),
        Fragment,
        Other,
    }

    /// The TCP segment a packet carries, if it carries one.
    fn parse_packet(data: &[u8], link: u32, order: Order, cut: bool) -> Parsed<'_> {
        let b = Bytes(data);
        let ip = match link {
            // Ethernet, with up to two VLAN tags.
            1 => (|| {
                let mut at = 12;
                let mut ethertype = b.be16(at)?;
                for _ in 0..2 {
                    if ethertype == 0x8100 || ethertype == 0x88a8 {
                        at += 4;
                        ethertype = b.be16(at)?;
                    }
                }
                matches!(ethertype, 0x0800 | 0x86dd).then_some(())?;
                b.from(at + 2)
            })(),
            // BSD loopback: the address family in the file's byte order
            // (0), or in network order (108).
            0 | 108 => (|| {
                let family = match link {
                    0 => b.u32(0, order)?,
                    _ => b.be32(0)?,
                };
                // AF_INET 2; AF_INET6 24, 28 or 30 (BSDs differ); the
                // other byte order of a capture written elsewhere.
                let known = |f: u32| matches!(f, 2 | 24 | 28 | 30);
                (known(family) || known(family.swap_bytes())).then_some(())?;
                b.from(4)
            })(),
            101 => Some(data),
            // Linux cooked v1: the protocol at 14; v2: at 0.
            113 | 276 => (|| {
                let (protocol, len) = match link {
                    113 => (b.be16(14)?, 16),
                    _ => (b.be16(0)?, 20),
                };
                matches!(protocol, 0x0800 | 0x86dd).then_some(())?;
                b.from(len)
            })(),
            _ => None,
        };
        match ip {
            Some(ip) => parse_ip(ip, cut),
            None => Parsed::Other,
        }
    }

    /// An IPv4 or IPv6 packet's TCP segment.
    fn parse_ip(ip: &[u8], cut: bool) -> Parsed<'_> {
        let b = Bytes(ip);
        let Some(version) = b.u8(0).map(|v| v >> 4) else {
            return Parsed::Other;
        };
        let parsed = match version {
            4 => (|| {
                let ihl = usize::from(b.u8(0)? & 0x0f) * 4;
                let total = usize::from(b.be16(2)?);
                if ihl < 20 || total < ihl || ip.len() < ihl {
                    return None;
                }
                let frag = b.be16(6)?;
                if frag & 0x3fff != 0 {
                    return Some(Err(()));
                }
                if b.u8(9)? != TCP {
                    return None;
                }
                let src = IpAddr::from(b.array::<4>(12)?);
                let dst = IpAddr::from(b.array::<4>(16)?);
                // Ethernet pads short frames: the IP length decides.
                let end = total.min(ip.len());
                Some(Ok((src, dst, ip.get(ihl..end)?, total > ip.len())))
            })(),
            6 => (|| {
                let payload_len = usize::from(b.be16(4)?);
                let mut next = b.u8(6)?;
                let src = IpAddr::from(b.array::<16>(8)?);
                let dst = IpAddr::from(b.array::<16>(24)?);
                let end = (40 + payload_len).min(ip.len());
                let mut at = 40;
                // Hop-by-hop, routing, destination options, AH: skipped;
                // a fragment header: a fragment.
                for _ in 0..8 {
                    match next {
                        0 | 43 | 60 => {
                            next = b.u8(at)?;
                            at += (usize::from(b.u8(at + 1)?) + 1) * 8;
                        }
                        51 => {
                            next = b.u8(at)?;
                            at += (usize::from(b.u8(at + 1)?) + 2) * 4;
                        }
                        44 => return Some(Err(())),
                        _ => break,
                    }
                }
                if next != TCP || payload_len == 0 || at > end {
                    return None;
                }
                Some(Ok((
                    src,
                    dst,
                    ip.get(at..end)?,
                    40 + payload_len > ip.len(),
                )))
            })(),
            _ => None,
        };
        match parsed {
            Some(Ok((src, dst, tcp, short))) => parse_tcp(src, dst, tcp, cut || short),
            Some(Err(())) => Parsed::Fragment,
            None => Parsed::Other,
        }
    }

    fn parse_tcp(src: IpAddr, dst: IpAddr, tcp: &[u8], truncated: bool) -> Parsed<'_> {
        let b = Bytes(tcp);
        let segment = (|| {
            let offset = usize::from(b.u8(12)? >> 4) * 4;
            if offset < 20 {
                return None;
            }
            Some(Segment {
                packet: 0,
                from: Endpoint {
                    ip: src,
                    port: b.be16(0)?,
                },
                to: Endpoint {
                    ip: dst,
                    port: b.be16(2)?,
                },
                seq: b.be32(4)?,
                flags: b.u8(13)?,
                payload: tcp.get(offset..)?,
                truncated,
            })
        })();
        segment.map_or(Parsed::Other, Parsed::Segment)
    }

    /// One direction's bytes in sequence order, from its first byte (after
    /// its SYN, or the lowest sequence number seen) to the first byte
    /// missing from the capture.
    fn reassemble(segments: &[&Segment], name: &str, warnings: &mut Vec<String>) -> Stream {
        let syn = segments.iter().find(|s| s.flags & SYN != 0);
        let with_data: Vec<&&Segment> = segments.iter().filter(|s| !s.payload.is_empty()).collect();
        let start = match (syn, with_data.first()) {
            (Some(syn), _) => syn.seq.wrapping_add(1),
            (None, Some(first)) => {
                // The lowest sequence number, within 2 GiB of the first.
                let base = first.seq;
                // The distance read as signed: sequence numbers wrap.
                #[allow(
                    clippy::cast_possible_wrap,
                    clippy::cast_sign_loss,
                    reason = "TCP sequence arithmetic is modulo 2^32: the casts are the wrap-around"
                )]
                let lowest = with_data
                    .iter()
                    .map(|s| s.seq.wrapping_sub(base) as i32)
                    .min()
                    .unwrap_or(0) as u32;
                base.wrapping_add(lowest)
            }
            (None, None) => 0,
        };
        // (offset, capture order) of each segment with data; offsets
        // "before" the start (2 GiB and more ahead) are dropped.
        let mut pieces: Vec<(u64, usize, &Segment)> = with_data
            .iter()
            .filter_map(|s| {
                let offset = s.seq.wrapping_sub(start);
                // A SYN's own data (TCP Fast Open) comes before `start`.
                (offset < 1 << 31 && s.flags & SYN == 0).then_some((
                    u64::from(offset),
                    s.packet,
                    **s,
                ))
            })
            .collect();
        pieces.sort_by_key(|&(offset, packet, _)| (offset, packet));
        let mut bytes: Vec<u8> = Vec::new();
        let mut marks = Vec::new();
        let mut cut_seen = false;
        for (offset, packet, s) in pieces {
            let have = bytes.len() as u64;
            let end = offset + s.payload.len() as u64;
            if end <= have {
                continue;
            }
            if offset > have {
                warnings.push(format!(
                    "{name}: {} bytes missing from the capture after byte {have}; the rest of the direction is ignored",
                    offset - have
                ));
                break;
            }
            // `offset <= have < end`: the part not yet held.
            let skip = usize::try_from(have - offset).unwrap_or(usize::MAX);
            let new = s.payload.get(skip..).unwrap_or_default();
            bytes.extend_from_slice(new);
            marks.push((bytes.len(), packet as u64));
            if s.truncated && !cut_seen {
                cut_seen = true;
                warnings.push(format!(
                    "{name}: packet {packet} was cut short by the capture (snaplen)"
                ));
            }
        }
        Stream { bytes, marks }
    }
}
