//! The client's side of resume, as files: the ticket of an upload the
//! server accepted is kept beside the file as `<file>.securex-resume`
//! (mode 0600: the token is a credential), presented by the next upload of
//! that file to the same server, and removed once the file is stored. The
//! format and the protocol are the library's (`transfer::ResumeTicket`,
//! `Sender::with_resume_token`); this is only where the ticket lives.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use securex::transfer::{ResumeTicket, Sender, Session, Upload};
use securex::{Connection, Event};

/// `<file>.securex-resume`.
pub fn ticket_path(file: &Path) -> PathBuf {
    let mut path = file.as_os_str().to_os_string();
    path.push(".securex-resume");
    PathBuf::from(path)
}

/// The ticket kept for `file`, if it is for `server` (a ticket of another
/// server, or one that does not read, is left alone and not used).
pub fn load(file: &Path, server: &str) -> Option<ResumeTicket> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(ticket_path(file)).ok()?);
    ResumeTicket::from_text(&text)
        .ok()
        .filter(|ticket| ticket.server == server)
}

/// Keeps `ticket` for `file`: written to a fresh file of mode 0600 and
/// renamed over the old one, so a reader never sees half a ticket.
fn save(file: &Path, ticket: &ResumeTicket) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = ticket_path(file);
    let mut fresh = path.clone().into_os_string();
    fresh.push(format!(".{}", std::process::id()));
    let fresh = PathBuf::from(fresh);
    let _ = std::fs::remove_file(&fresh);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&fresh)?;
    out.write_all(ticket.to_text().as_bytes())?;
    out.sync_all()?;
    std::fs::rename(&fresh, &path)
}

/// Removes the ticket of `file` (the file is stored, or its upload can no
/// longer resume).
pub fn forget(file: &Path) {
    let _ = std::fs::remove_file(ticket_path(file));
}

/// An [`Upload`] that keeps its ticket as soon as the server's `ACCEPTED`
/// gives one, so that even a client killed mid-upload can resume.
pub struct Resumable<R> {
    pub upload: Upload<R>,
    file: PathBuf,
    server: String,
    /// Whether this upload's ticket is written.
    saved: bool,
}

impl<R: Read> Resumable<R> {
    /// An upload of `file` to `server` through `sender`, presenting the
    /// ticket kept for them, if any.
    pub fn new(sender: Sender<R>, file: &Path, server: &str) -> Resumable<R> {
        let sender = match load(file, server) {
            Some(ticket) => sender.with_resume_token(ticket.token),
            None => sender,
        };
        Resumable {
            upload: Upload::new(sender),
            file: file.to_path_buf(),
            server: server.to_owned(),
            saved: false,
        }
    }

    /// Writes the ticket once the server gave a token.
    fn keep_ticket(&mut self) {
        if self.saved {
            return;
        }
        let sender = self.upload.sender();
        if let (Some(token), Some(name)) = (sender.resume_token(), sender.stored_name()) {
            let ticket = ResumeTicket {
                server: self.server.clone(),
                stored_name: name.to_owned(),
                token: token.clone(),
            };
            // A ticket that cannot be written costs only the resume.
            let _ = save(&self.file, &ticket);
            self.saved = true;
        }
    }

    /// After the transfer: a stored file needs no ticket any more. After
    /// a failure the ticket stays: a cut resumes, and a refusal (the
    /// upload still busy on the server, a file that changed) says why each
    /// time.
    pub fn finish(&self) {
        if let Some(Ok(())) = self.upload.outcome() {
            forget(&self.file);
        }
    }
}

impl<R: Read> Session for Resumable<R> {
    fn handle_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        self.upload.handle_event(conn, now, event);
        self.keep_ticket();
    }

    fn pump(&mut self, conn: &mut Connection, now: Instant) -> bool {
        self.upload.pump(conn, now)
    }

    fn failed(&self) -> bool {
        self.upload.failed()
    }
}
