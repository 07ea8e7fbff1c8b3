//! The client's side of resume, as files: the ticket of an upload the
//! server accepted is kept beside the file as `<file>.securex-resume`
//! (mode 0600: the token is a credential), presented by the next upload of
//! that file to the same server, and removed once the file is stored. The
//! format and the protocol are the library's (`transfer::ResumeTicket`,
//! `Sender::with_resume_token`); this is only where the ticket lives.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use securex::transfer::ResumeTicket;

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
pub fn save(file: &Path, ticket: &ResumeTicket) -> io::Result<()> {
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
