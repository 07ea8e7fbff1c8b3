//! The client's files, from the command line to the connection: each
//! checked and opened before the first connection ([`Prepared`]), then
//! sent in groups, one group per connection ([`Batch`]): all of them on
//! one v2 connection where both sides agree `Extension::Batch`, one per
//! connection otherwise (and always in v1). A batch moves the progress
//! bar, keeps each file's resume ticket as soon as the server gives one,
//! and notes when each file was confirmed, for its summary.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use securex::config::Extension;
use securex::transfer::{ResumeTicket, Sender, Session, ThreadedSha256, Upload};
use securex::{Connection, Event, Version};

use super::progress::Display;
use super::{DriveError, Sent, resume};

/// What the client reads a file with.
type Reader = BufReader<File>;

/// A file checked (a readable regular file) and opened, its sender ready
/// (with the resume token kept for it, if any), not yet sent.
pub struct Prepared {
    sender: Sender<Reader>,
    path: PathBuf,
    /// Its length when opened (for the bar).
    len: u64,
}

impl Prepared {
    /// Opens the file at `path` for an upload to `addr` (only its name is
    /// sent, never its directories), or says why it cannot go: all checked
    /// before connecting. It resumes where a ticket of an earlier upload
    /// of the file to `addr` is kept ([`resume`]).
    pub fn open(path: &Path, chunk_size: usize, addr: &str) -> Result<Prepared, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // A directory opens too, and would fail only once connected,
        // leaving a `.partial` on the server: refused before connecting.
        let metadata = file
            .metadata()
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if !metadata.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| format!("{} names no file", path.display()))?;
        // v2's CLOSE carries the file's SHA-256, which costs as much as the
        // encryption: hashed on a thread of its own, beside the driver's.
        let mut sender = Sender::new(BufReader::new(file), name, chunk_size)
            .map_err(|e| e.to_string())?
            .with_digest(ThreadedSha256::new());
        if let Some(ticket) = resume::load(path, addr) {
            sender = sender.with_resume_token(ticket.token);
        }
        Ok(Prepared {
            sender,
            path: path.to_path_buf(),
            len: metadata.len(),
        })
    }
}

/// One file of a [`Batch`]: where it is, and what became of it.
struct Entry {
    path: PathBuf,
    /// Its length when opened.
    len: u64,
    /// Its resume ticket is written.
    ticket_saved: bool,
    /// When the server confirmed it, and the connection's epoch then.
    done: Option<(Instant, u32)>,
}

/// The files one connection carries: the [`Upload`], the bar, the
/// tickets, the times.
pub struct Batch {
    pub upload: Upload<Reader>,
    entries: Vec<Entry>,
    server: String,
    bar: ProgressBar,
    /// The file whose name the bar shows.
    named: usize,
    pub started: Instant,
}

impl Batch {
    /// `files` (at least one) to `server`, shown as `display` says.
    pub fn new(files: Vec<Prepared>, server: &str, display: Display) -> Result<Batch, String> {
        let total = files.iter().map(|p| p.len).sum();
        let mut senders = Vec::with_capacity(files.len());
        let mut entries = Vec::with_capacity(files.len());
        for p in files {
            senders.push(p.sender);
            entries.push(Entry {
                path: p.path,
                len: p.len,
                ticket_saved: false,
                done: None,
            });
        }
        let upload = Upload::batch(senders).map_err(|e| e.to_string())?;
        let bar = display.bar(upload.sender().file_name(), total);
        Ok(Batch {
            upload,
            entries,
            server: server.to_owned(),
            bar,
            named: 0,
            started: Instant::now(),
        })
    }

    /// After each event or pump: the bar, the ticket of the current file
    /// once the server gave its token, the files just confirmed.
    fn update(&mut self, conn: &Connection) {
        let current = self.upload.current();
        if conn.has_extension(Extension::Batch) || self.entries.len() == 1 {
            let read: u64 = self.upload.senders().iter().map(Sender::bytes_read).sum();
            self.bar.set_position(read);
        } else if let Some(entry) = self.entries.get(current) {
            // Only the current file goes on this connection: the bar is
            // its own.
            self.bar.set_length(entry.len);
            self.bar.set_position(self.upload.sender().bytes_read());
        }
        if self.named != current {
            self.named = current;
            self.bar
                .set_message(self.upload.sender().file_name().to_owned());
        }
        let confirmed = self.upload.completed().min(self.entries.len());
        for entry in &mut self.entries[..confirmed] {
            if entry.done.is_none() {
                entry.done = Some((Instant::now(), conn.epoch()));
            }
        }
        let sender = self.upload.sender();
        if let (Some(entry), Some(token), Some(name)) = (
            self.entries.get_mut(current),
            sender.resume_token(),
            sender.stored_name(),
        ) && !entry.ticket_saved
        {
            let ticket = ResumeTicket {
                server: self.server.clone(),
                stored_name: name.to_owned(),
                token: token.clone(),
            };
            // A ticket that cannot be written costs only the resume.
            let _ = resume::save(&entry.path, &ticket);
            entry.ticket_saved = true;
        }
    }

    /// The transfer is over: the bar is cleared, and a stored file needs
    /// no ticket any more. After a failure the ticket stays: a cut
    /// resumes, and a refusal (the upload still busy on the server, a
    /// file that changed) says why each time.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
        for entry in &self.entries {
            if entry.done.is_some() {
                resume::forget(&entry.path);
            }
        }
    }

    /// What the connection achieved, once driven (`result`): the files
    /// confirmed, in order; the error that ended it, if any; and the files
    /// it did not start, for the next connection.
    pub fn outcome(
        self,
        addr: &str,
        result: Result<(), DriveError>,
        conn: &Connection,
    ) -> (Vec<Sent>, Option<String>, Vec<Prepared>) {
        let version = match conn.version() {
            Some(Version::V1) => "v1",
            _ => "v2",
        };
        let suite = conn.suite().map(|s| s.to_string()).unwrap_or_default();
        let mut sent = Vec::new();
        let mut since = self.started;
        for (entry, sender) in self.entries.iter().zip(self.upload.senders()) {
            let Some((at, epoch)) = entry.done else {
                break;
            };
            // The name the server stored: it says so where resume is
            // agreed; otherwise the name ours would store.
            let name = sender
                .stored_name()
                .map(str::to_owned)
                .or_else(|| securex::transfer::stored_name(sender.file_name()).ok())
                .unwrap_or_else(|| sender.file_name().to_owned());
            sent.push(Sent {
                name,
                resumed_from: sender.resumed_from(),
                bytes: sender.bytes_read(),
                elapsed: at
                    .saturating_duration_since(since)
                    .max(Duration::from_micros(1)),
                version: version.into(),
                suite: suite.clone(),
                rotations: epoch,
            });
            since = at;
        }
        let error = match (result, self.upload.outcome()) {
            (Err(e @ DriveError::Stalled { .. }), _) => Some(e.to_string()),
            (Err(e), _) => Some(format!("connection to {addr} failed: {e}")),
            (Ok(()), Some(Ok(()))) => None,
            (Ok(()), Some(Err(e))) => Some(e.to_string()),
            (Ok(()), None) => Some("the transfer did not finish".into()),
        };
        let mut entries = self.entries;
        let unsent = self.upload.into_unsent();
        // The unsent files are the last of the batch.
        let rest = entries
            .split_off(entries.len() - unsent.len().min(entries.len()))
            .into_iter()
            .zip(unsent)
            .map(|(entry, sender)| Prepared {
                sender,
                path: entry.path,
                len: entry.len,
            })
            .collect();
        (sent, error, rest)
    }
}

impl Session for Batch {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        self.upload.handle_event(conn, now, event);
        self.update(conn);
    }

    fn pump(&mut self, conn: &mut Connection, now: Instant) -> bool {
        let more = self.upload.pump(conn, now);
        self.update(conn);
        more
    }

    fn failed(&self) -> bool {
        self.upload.failed()
    }
}
