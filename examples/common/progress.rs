//! The client's progress bar and its last line.
//!
//! The bar (`indicatif`: bytes, rate, ETA) goes to stderr, and only when
//! stderr is a terminal and `--quiet` is not given: a pipe or a log file
//! gets no escape codes, and the line the client ends with is the same
//! either way. It follows the bytes read from the file, which run ahead
//! of what the server has taken by at most what the connection holds
//! (a few chunks); it is cleared before the summary is printed.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Sent;

/// How the client shows its work: a bar on a terminal or nothing, and a
/// summary line unless quiet.
#[derive(Debug, Clone, Copy)]
pub struct Display {
    /// Draw a progress bar (stderr is a terminal, not `--quiet`).
    pub bar: bool,
    /// Print the summary line of each file (not `--quiet`).
    pub summary: bool,
}

impl Display {
    /// What `--quiet` and the terminal call for.
    pub fn new(quiet: bool) -> Display {
        Display {
            bar: !quiet && std::io::stderr().is_terminal(),
            summary: !quiet,
        }
    }

    /// The bar of `len` bytes of files, the first sent as `name` (hidden
    /// unless [`Display::bar`]).
    pub fn bar(self, name: &str, len: u64) -> ProgressBar {
        if !self.bar {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// Prints the summary of a file sent (stdout), unless quiet.
    pub fn sent(self, sent: &Sent) {
        if self.summary {
            println!("{}", summary(sent));
        }
    }
}

/// `sent NAME (N bytes) in T s (R/s) with v2 SUITE, K key rotations`,
/// and `, resumed after the M bytes the server held` for a resumed
/// upload. The rate counts the bytes sent on this connection only.
pub fn summary(sent: &Sent) -> String {
    let resumed = match sent.resumed_from {
        0 => String::new(),
        n => format!(", resumed after the {n} bytes the server held"),
    };
    let secs = sent.elapsed.as_secs_f64();
    let moved = sent.bytes.saturating_sub(sent.resumed_from);
    // Lossy on purpose: a rate to three figures.
    #[allow(clippy::cast_precision_loss)]
    let rate = if secs > 0.0 {
        format!("{}/s", human_bytes(moved as f64 / secs))
    } else {
        "-".into()
    };
    format!(
        "sent {} ({} bytes) in {secs:.2} s ({rate}) with {} {}, {} key rotations{resumed}",
        sent.name, sent.bytes, sent.version, sent.suite, sent.rotations
    )
}

/// `512 B`, `1.5 KiB`, `23.4 MiB`, `1.02 GiB`.
fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
