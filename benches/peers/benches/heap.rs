//! The heap an idle, established securex connection holds: a counting
//! global allocator (live bytes requested through `System`) around a
//! client/server pair in memory. Not criterion: a plain `main` that
//! prints, run by `cargo bench --manifest-path benches/peers/Cargo.toml`
//! with the rest (or alone, `--bench heap`).
//!
//! For v2 (`Config::default()`) and v1 (`Config::seed_compatible()`, the
//! client rotating after 1000 frames), the live bytes:
//!
//! * right after the handshake (the handshake's events drained and
//!   dropped);
//! * after the pair moved 64 MiB in DATA messages of 64 KiB, and of
//!   16 KiB (every event drained and dropped: what remains is what the
//!   connections keep, their retained buffers included);
//!
//! each as the pair's total, then each side's own share (what dropping
//! the server, then the client, frees). The harness's own heap is not
//! counted: the baseline is measured before the pair is built, with the
//! configs and the source chunk already allocated, and everything the
//! bench holds besides the pair is dropped before each measurement. The
//! configs the connections own are clones, and so are counted; the
//! RFC 7919 groups, built once per process and shared by every
//! connection, are not (a warm-up handshake builds them first).

#[path = "common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::{TRANSFER, configs, established, pattern, transfer};

/// `System`, counting the bytes it holds for the program.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed on to `System` unchanged; the counter is
// only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The pair's heap and each side's share, in bytes.
struct Held {
    pair: isize,
    server: isize,
    client: isize,
}

/// Builds a pair of `version`, optionally moves `chunk`-sized DATA
/// messages of 64 MiB through it, and measures what it holds.
fn measure(v1: bool, chunk: Option<usize>) -> Held {
    let (client, server) = configs(v1);
    let source = pattern(chunk.unwrap_or(1));
    let base = live();
    let (mut c, mut s) = established(&client, &server, 2);
    if let Some(chunk) = chunk {
        let got = transfer(&mut c, &mut s, &source, chunk, TRANSFER);
        assert_eq!(got, TRANSFER);
    }
    let pair = live() - base;
    drop(s);
    let server = pair - (live() - base);
    drop(c);
    let client = pair - server - (live() - base);
    assert_eq!(live(), base, "the pair freed all it held");
    Held {
        pair,
        server,
        client,
    }
}

fn main() {
    // Whatever the first print and the first clock reading allocate, once.
    println!("heap of one idle established securex connection (live bytes, counting allocator)");
    let _ = std::time::Instant::now();
    // The RFC 7919 groups are built once per process and shared by every
    // connection: a handshake of each version builds them before any
    // baseline, so that no pair is charged with them.
    for v1 in [false, true] {
        let (client, server) = configs(v1);
        drop(established(&client, &server, 1));
    }
    println!(
        "{:<4} {:<32} {:>10} {:>10} {:>10} {:>14}",
        "ver", "when", "pair", "client", "server", "per connection"
    );
    for (v1, version) in [(false, "v2"), (true, "v1")] {
        for (chunk, when) in [
            (None, "after the handshake"),
            (Some(64 << 10), "after 64 MiB in 64 KiB DATA"),
            (Some(16 << 10), "after 64 MiB in 16 KiB DATA"),
        ] {
            let held = measure(v1, chunk);
            println!(
                "{:<4} {:<32} {:>10} {:>10} {:>10} {:>14}",
                version,
                when,
                held.pair,
                held.client,
                held.server,
                held.pair / 2
            );
        }
    }
}
