//! What the std and the tokio programs share besides their drivers: the
//! flags of the server and of the client (one struct each, so that both
//! programs of a side take exactly the same flags), what the flags set up
//! (the configuration, validated, or status 2), the client's last line and
//! exit status, and the server's refusal of a connection past
//! `--max-connections`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use securex::wire::{ErrorFrame, Frame};
use securex::{Config, Version};

use super::progress::Display;
use super::upload::{Batch, Prepared};
use super::{PolicyFlags, Sent, Store};

/// The server's flags.
#[derive(Debug, clap::Parser)]
#[command(about = "Receives files over securex")]
pub struct ServerArgs {
    /// Address to listen on, e.g. 127.0.0.1:5000.
    #[arg(long)]
    pub listen: String,
    /// Directory to store files in (must exist).
    #[arg(long)]
    pub dir: PathBuf,
    #[command(flatten)]
    pub policy: PolicyFlags,
    /// A long-term key file for clients that pin this server (v2); created
    /// with mode 0600 if missing, its public key printed and written to
    /// FILE.pub.
    #[arg(long, value_name = "FILE")]
    pub static_key: Option<PathBuf>,
    /// Connections served at once; past it a new connection is refused at
    /// once with an ERROR frame (server busy).
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
    /// The largest file accepted, in bytes; a larger one is refused and
    /// kept as <name>.partial.
    #[arg(long, value_name = "BYTES", default_value_t = super::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    /// Let a client replace a stored file of the same name (or the
    /// .partial of another upload). By default such an upload is refused
    /// with ERROR.
    #[arg(long)]
    pub overwrite: bool,
    /// v2: the most files one connection may store (clients send several
    /// on one connection); past it a file is refused with ERROR. With 1
    /// the server does not offer batches: a client sends one file per
    /// connection.
    #[arg(long, value_name = "N", default_value_t = securex::transfer::DEFAULT_MAX_FILES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_files_per_connection: usize,
    /// v2: the most bytes one connection may store over all its files;
    /// the DATA past it is refused with ERROR (its file kept as
    /// <name>.partial).
    #[arg(long, value_name = "BYTES", default_value_t = super::DEFAULT_MAX_CONNECTION_BYTES)]
    pub max_bytes_per_connection: u64,
    /// v2: rotate keys after sending this many records in an epoch
    /// (default 2^24); a rotation also waits for 4 KiB of records sent in
    /// the epoch (see --rotate-every). (In v1 only clients rotate.)
    #[arg(long, value_name = "N")]
    pub rotate_after: Option<u64>,
    /// v2: rotate keys this many seconds after the epoch began (default
    /// 900); a rotation also waits for 4 KiB of records sent in the epoch,
    /// which the server of an upload (it sends only OK) does not reach:
    /// its keys are renewed by the client's rotations, which renew both
    /// directions. (In v1 only clients rotate.)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_every: Option<u64>,
}

/// The static key as the server set it up, to announce.
pub struct KeyNote {
    created: bool,
    pem: String,
    pub_path: PathBuf,
}

impl ServerArgs {
    /// Exits (status 2) unless `--dir` is a directory.
    pub fn check_dir(&self) {
        if !self.dir.is_dir() {
            eprintln!("error: {} is not a directory", self.dir.display());
            std::process::exit(2);
        }
    }

    /// Exits (status 2): the listening socket could not be had.
    pub fn cannot_listen(&self, e: &std::io::Error) -> ! {
        eprintln!("error: cannot listen on {}: {e}", self.listen);
        std::process::exit(2)
    }

    /// The configuration the flags select (the static key loaded or
    /// created, its public key written to `FILE.pub`), validated as the
    /// connections will validate it; or exits (status 2) saying why there
    /// is none.
    pub fn config(&self) -> (Config, Option<KeyNote>) {
        let mut config = self.policy.config().unwrap_or_else(|e| super::exit_with(e));
        if let Some(n) = self.rotate_after {
            config.rekey_after_records = Some(n);
        }
        if let Some(secs) = self.rotate_every {
            config.rekey_after = Some(Duration::from_secs(secs));
        }
        if self.max_files_per_connection == 1 {
            config
                .extensions
                .retain(|&e| e != securex::config::Extension::Batch);
        }
        let note = self.static_key.as_ref().map(|path| {
            let (key, created) =
                super::load_or_create_static_key(path).unwrap_or_else(|e| super::exit_with(e));
            let pem = key.key_pair().public_key().to_pem();
            let mut pub_path = path.clone().into_os_string();
            pub_path.push(".pub");
            let pub_path = PathBuf::from(pub_path);
            if let Err(e) = std::fs::write(&pub_path, &pem) {
                super::exit_with(format!("cannot write {}: {e}", pub_path.display()));
            }
            config.static_key = Some(key);
            KeyNote {
                created,
                pem,
                pub_path,
            }
        });
        if let Err(e) = config.validate() {
            super::exit_with(e.to_string());
        }
        (config, note)
    }

    /// Says where the server listens (the first line, which the tests
    /// read) and which key clients pin.
    pub fn announce(&self, local: std::io::Result<std::net::SocketAddr>, key: Option<KeyNote>) {
        eprintln!(
            "listening on {} storing into {}",
            local.map(|a| a.to_string()).unwrap_or_default(),
            self.dir.display()
        );
        if let Some(KeyNote {
            created,
            pem,
            pub_path,
        }) = key
        {
            let verb = if created { "created" } else { "loaded" };
            eprintln!(
                "{verb} static key; clients pin it with --server-key {}:\n{pem}",
                pub_path.display()
            );
        }
    }

    /// Where uploads go, as the flags say.
    pub fn store(&self) -> Store {
        Store {
            dir: self.dir.clone(),
            max_file_len: self.max_file_size,
            overwrite: self.overwrite,
            max_files: self.max_files_per_connection,
            max_connection_len: self.max_bytes_per_connection,
        }
    }
}

/// The client's flags.
#[derive(Debug, clap::Parser)]
#[command(about = "Sends a file over securex")]
pub struct ClientArgs {
    /// Server address, e.g. 127.0.0.1:5000.
    #[arg(long)]
    pub connect: String,
    #[command(flatten)]
    pub policy: PolicyFlags,
    /// v1: rotate keys after this many protected frames (default with
    /// --seed-compatible: 20). A rotation also waits for 19 frames and
    /// 32,000 bytes in the epoch, the least a server of ours accepts.
    /// v2: after this many records (default 2^24); a rotation also waits
    /// for 4 KiB of records in the epoch.
    #[arg(long)]
    pub rotate_after: Option<u64>,
    /// Rotate keys this many seconds after the epoch began (v2 default:
    /// 900; v1: never on time). A rotation also waits for what
    /// --rotate-after says it waits for.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_every: Option<u64>,
    /// Bytes of file per DATA message (default: 960 with
    /// --seed-compatible, else 65536).
    #[arg(long)]
    pub chunk_size: Option<usize>,
    /// The server's public key to pin (v2): the PEM the server printed
    /// (its --static-key FILE.pub).
    #[arg(long, value_name = "FILE")]
    pub server_key: Option<PathBuf>,
    /// No progress bar and no summary: only errors are printed (the exit
    /// status says the rest).
    #[arg(long, short)]
    pub quiet: bool,
    /// The files to send, in order, each checked before the first
    /// connection; the first that fails stops the command.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

impl ClientArgs {
    /// The configuration, validated as the connection will validate it,
    /// and the chunk size the flags select; or exits (status 2) saying
    /// why there are none.
    pub fn config(&self) -> (Config, usize) {
        let mut config = self.policy.config().unwrap_or_else(|e| super::exit_with(e));
        if let Some(path) = &self.server_key {
            config.server_key =
                Some(super::read_server_key(path).unwrap_or_else(|e| super::exit_with(e)));
        }
        if let Some(n) = self.rotate_after {
            config.rotate_after_frames = Some(n);
            config.rekey_after_records = Some(n);
        }
        if let Some(secs) = self.rotate_every {
            config.rekey_after = Some(Duration::from_secs(secs));
            config.v1_rotate_after = Some(Duration::from_secs(secs));
        }
        if let Err(e) = config.validate() {
            super::exit_with(e.to_string());
        }
        let version = if self.policy.seed_compatible {
            Version::V1
        } else {
            Version::V2
        };
        let chunk = self
            .chunk_size
            .unwrap_or_else(|| securex::transfer::default_chunk_size(version));
        (config, chunk)
    }
}

/// What one connection of the client achieved: the files it stored, the
/// error that ended it, the files it did not start.
pub type BatchOutcome = (Vec<Sent>, Option<String>, Vec<Prepared>);

impl ClientArgs {
    /// Sends every file, in order, and ends the program: the summary of
    /// each file on stdout (a total after several), exit status 0; or, at
    /// the first failure, one `error: …` line on stderr and status 1.
    /// Every file is checked (a readable regular file) before the first
    /// connection. `send` carries a batch on one connection: all the
    /// files left where the server agrees `Extension::Batch` (v2), else
    /// the first, and hands back the rest for the next connection.
    pub fn send_all(&self, chunk: usize, mut send: impl FnMut(Batch) -> BatchOutcome) -> ! {
        let display = Display::new(self.quiet);
        let mut queue = Vec::with_capacity(self.files.len());
        for path in &self.files {
            match Prepared::open(path, chunk, &self.connect) {
                Ok(p) => queue.push(p),
                Err(e) => fail(&e),
            }
        }
        let started = std::time::Instant::now();
        let (mut files, mut bytes) = (0u64, 0u64);
        while !queue.is_empty() {
            let batch = Batch::new(queue, &self.connect, display).unwrap_or_else(|e| fail(&e));
            let (stored, error, rest) = send(batch);
            let progress = !stored.is_empty();
            for done in &stored {
                display.sent(done);
                files += 1;
                bytes += done.bytes;
            }
            if let Some(e) = error {
                fail(&e);
            }
            if !progress {
                fail("the transfer did not finish");
            }
            queue = rest;
        }
        if files > 1 && display.summary {
            println!(
                "sent {files} files ({bytes} bytes) in {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
        std::process::exit(0)
    }
}

/// The client's line on failure: `error: …` on stderr, status 1.
fn fail(e: &str) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1)
}

/// The connections a server serves at once, counted: a slot is taken in
/// the accept loop (only there: no race between the check and the
/// increment) and given back when the connection's work is over.
pub struct Slots {
    active: Arc<AtomicUsize>,
    max: usize,
}

/// A connection slot, given back on drop.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Slots {
    /// At most `max` at once.
    pub fn new(max: usize) -> Slots {
        Slots {
            active: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A slot, or the message that refuses the connection (server busy).
    pub fn take(&self) -> Result<Slot, String> {
        let busy = self.active.load(Ordering::SeqCst);
        if busy >= self.max {
            let plural = if busy == 1 { "" } else { "s" };
            return Err(format!(
                "server busy: {busy} connection{plural} in progress, try again later"
            ));
        }
        self.active.fetch_add(1, Ordering::SeqCst);
        Ok(Slot(Arc::clone(&self.active)))
    }
}

/// Refuses a connection at once: a plaintext `ERROR` frame, then close;
/// returns the log line. Never blocks (the socket is made non-blocking).
#[allow(
    clippy::needless_pass_by_value,
    reason = "refuse owns the socket: it is closed when the refusal is written"
)]
pub fn refuse(stream: TcpStream, message: &str) -> String {
    let peer = super::peer_name(stream.peer_addr());
    let mut frame = Frame::Error(ErrorFrame::new(message.to_owned())).encode();
    frame.extend_from_slice(b"\r\n");
    // Never block the accept loop: a fresh socket's buffer takes the frame
    // whole, or the peer does not get it.
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write(&frame);
    let _ = stream.shutdown(Shutdown::Write);
    // Read what the client has sent already (its hello), so that closing
    // does not reset the connection before it reads our answer.
    let mut buf = [0u8; 4096];
    for _ in 0..16 {
        match (&stream).read(&mut buf) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    format!("peer={peer} refused: {message}")
}
