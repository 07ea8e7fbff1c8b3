//! Measures what idle established connections cost the tokio server: it
//! starts `tokio_server` as a child process, opens N v2 connections to it
//! (ffdhe2048, the default), keeps them established and idle, and prints
//! the server's `VmRSS` and `VmHWM` (`/proc/<pid>/status`).
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/idle_load --connections 10000
//! ```
//!
//! * Descriptors: each side needs one per connection. The std library
//!   cannot raise `RLIMIT_NOFILE` and `libc` is not among our
//!   dependencies, so when the soft limit is too low this runs
//!   `prlimit --pid <own pid> --nofile=N:HARD` (util-linux: the
//!   prlimit(2) system call, made for this process), before it starts the
//!   server, which inherits the limit. Past the hard limit it stops and
//!   says so (raise it as root, e.g. `ulimit -Hn`, in the shell that runs
//!   this).
//! * Pacing: a handshake costs the server about 1.2 ms of CPU and the
//!   client as much (release build): 10,000 of them, tens of CPU seconds
//!   in a debug build. At most `--in-flight` (8) are under way at once, so
//!   each completes in milliseconds, far within the server's handshake
//!   deadline (`--timeout`, 30 s), however long the whole setup takes.
//! * Idle: the connections send nothing once established. The server's
//!   idle timeout (300 s, the library's default) is not raised: the
//!   measure is taken once the last is established plus `--settle`
//!   seconds, and it fails if the first connection has been idle for more
//!   than half the idle timeout by then.
//!
//! The client side runs here, on a current-thread tokio runtime: one
//! `Connection` and one socket per client, held without a task once
//! established. After the measure, every client socket is checked: none
//! may have been closed by the server, and the server must have logged no
//! connection (it logs one only when a connection ends).

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use securex::{Config, Connection, State};

#[derive(Parser)]
#[command(about = "Measures the tokio server's memory with many idle connections")]
struct Args {
    /// Connections to open and hold.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Handshakes under way at once.
    #[arg(long, default_value_t = 8)]
    in_flight: usize,
    /// Seconds to wait once the last connection is established, before
    /// the measure (the server handles the last FINISHED messages).
    #[arg(long, default_value_t = 2)]
    settle: u64,
    /// The server program (default: `tokio_server` beside this program).
    #[arg(long)]
    server: Option<PathBuf>,
}

/// The server's idle timeout: the library's default, which the server
/// does not change.
const IDLE_TIMEOUT: Duration = Duration::from_mins(5);

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let needed = args.connections as u64 + 64;
    raise_nofile(needed)?;
    let server = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("where am I: {e}"))?
            .with_file_name("tokio_server"),
    };
    // The server's store: empty, removed on drop.
    let root = tempfile::Builder::new()
        .prefix("securex-idle-load-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let max = (args.connections + 16).to_string();
    let mut child = Command::new(&server)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--max-connections",
            &max,
            "--dir",
        ])
        .arg(root.path())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", server.display()))?;
    let result = measure(args, &mut child);
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Raises the soft `RLIMIT_NOFILE` of this process to at least `needed`
/// (see the module's doc).
fn raise_nofile(needed: u64) -> Result<(), String> {
    let (soft, hard) = nofile()?;
    if soft >= needed {
        return Ok(());
    }
    if hard < needed {
        return Err(format!(
            "{needed} descriptors needed, the hard limit is {hard}: raise it (as root: ulimit -Hn {needed})"
        ));
    }
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={needed}:{hard}"))
        .status()
        .map_err(|e| format!("cannot run prlimit to raise the descriptor limit: {e}"))?;
    let (soft, _) = nofile()?;
    if !status.success() || soft < needed {
        return Err(format!(
            "prlimit could not raise the descriptor limit to {needed} (it is {soft}): run this under `ulimit -n {needed}`"
        ));
    }
    eprintln!("descriptor limit raised to {soft} (prlimit)");
    Ok(())
}

/// The soft and hard `RLIMIT_NOFILE` of this process.
fn nofile() -> Result<(u64, u64), String> {
    let limits = std::fs::read_to_string("/proc/self/limits")
        .map_err(|e| format!("cannot read /proc/self/limits: {e}"))?;
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .ok_or("no 'Max open files' in /proc/self/limits")?;
    let mut numbers = line.split_whitespace().map(str::parse::<u64>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(soft)), Some(Ok(hard))) => Ok((soft, hard)),
        // "unlimited"
        _ => Ok((u64::MAX, u64::MAX)),
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "kB and connection counts far below 2^52, printed to one decimal"
)]
fn measure(args: &Args, child: &mut std::process::Child) -> Result<(), String> {
    let pid = child.id();
    let mut stderr = BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut line = String::new();
    stderr
        .read_line(&mut line)
        .map_err(|e| format!("server: {e}"))?;
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| format!("server: unexpected first line {line:?}"))?
        .to_owned();
    // The server logs a line only when a connection ends: count them,
    // and keep the first.
    let ended = Arc::new(AtomicUsize::new(0));
    let first_end = Arc::new(std::sync::Mutex::new(None::<String>));
    let (count, first) = (Arc::clone(&ended), Arc::clone(&first_end));
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            count.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut first) = first.lock() {
                first.get_or_insert(line);
            }
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let before = status_kb(pid, "VmRSS")?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let started = Instant::now();
    let (held, slowest) = runtime.block_on(open_all(&addr, args.connections, args.in_flight))?;
    let setup = started.elapsed();
    eprintln!(
        "{} connections established in {:.1} s ({} handshakes at once at most, the slowest {:.0} ms)",
        held.len(),
        setup.as_secs_f64(),
        args.in_flight,
        slowest.as_secs_f64() * 1e3
    );
    std::thread::sleep(Duration::from_secs(args.settle));
    let idle_for = started.elapsed();
    if idle_for > IDLE_TIMEOUT / 2 {
        return Err(format!(
            "the first connection was idle for {idle_for:?} at the measure, too close to the server's idle timeout"
        ));
    }
    let rss = status_kb(pid, "VmRSS")?;
    let hwm = status_kb(pid, "VmHWM")?;
    let threads = status_kb(pid, "Threads")?;
    // Still established: none closed by the server, which logged none.
    let closed = held
        .iter()
        .filter(|(stream, _)| {
            let mut byte = [0u8; 1];
            !matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    let logged = ended.load(Ordering::SeqCst);
    let per_connection = (rss.saturating_sub(before) * 1024) as f64 / held.len() as f64;
    println!(
        "tokio_server with {} idle established v2 connections (ffdhe2048): VmRSS {} kB ({:.1} MiB), VmHWM {} kB ({:.1} MiB), {threads} threads; {before} kB before the first; {per_connection:.0} B per connection",
        held.len(),
        rss,
        rss as f64 / 1024.0,
        hwm,
        hwm as f64 / 1024.0,
    );
    println!(
        "setup {:.1} s, measured {:.1} s after the first connection (the server's idle timeout: 300 s)",
        setup.as_secs_f64(),
        idle_for.as_secs_f64()
    );
    if closed > 0 || logged > 0 {
        let first = first_end.lock().ok().and_then(|f| f.clone());
        return Err(format!(
            "{closed} connections closed, {logged} logged by the server (first: {first:?})"
        ));
    }
    Ok(())
}

/// A number of `/proc/<pid>/status` (kB for the memory fields).
fn status_kb(pid: u32, field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read the server's status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no {field} in the server's status"))
}

/// An established client, held idle.
type Held = (TcpStream, Connection);

/// Opens `n` connections, `in_flight` handshakes at a time; returns them
/// and the slowest handshake.
async fn open_all(addr: &str, n: usize, in_flight: usize) -> Result<(Vec<Held>, Duration), String> {
    let mut held = Vec::with_capacity(n);
    let mut slowest = Duration::ZERO;
    let mut set = JoinSet::new();
    let mut collect = |done: Result<Result<(Held, Duration), String>, _>| -> Result<(), String> {
        let (client, took) = done.map_err(|e| format!("a client task failed: {e}"))??;
        slowest = slowest.max(took);
        held.push(client);
        Ok(())
    };
    for _ in 0..n {
        while set.len() >= in_flight.max(1) {
            if let Some(done) = set.join_next().await {
                collect(done)?;
            }
        }
        set.spawn(handshake(addr.to_owned()));
    }
    while let Some(done) = set.join_next().await {
        collect(done)?;
    }
    Ok((held, slowest))
}

/// Connects and completes a v2 handshake (its last bytes written).
async fn handshake(addr: String) -> Result<(Held, Duration), String> {
    let started = Instant::now();
    let stream = TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_nodelay(true).ok();
    let mut conn = Connection::client(Config::default(), common::os_rng(), Instant::now())
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(out) = conn.poll_transmit() {
            let mut rest = &out[..];
            while !rest.is_empty() {
                stream.writable().await.map_err(|e| e.to_string())?;
                match stream.try_write(rest) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("write: {e}")),
                }
            }
        }
        match conn.state() {
            State::Established => {
                while conn.poll_event().is_some() {}
                return Ok(((stream, conn), started.elapsed()));
            }
            State::Closed => {
                return Err(format!("handshake failed: {:?}", conn.close_reason()));
            }
            _ => {}
        }
        let deadline = conn.poll_timeout().ok_or("no deadline")?;
        tokio::select! {
            r = stream.readable() => {
                r.map_err(|e| e.to_string())?;
                match stream.try_read(&mut buf) {
                    Ok(0) => conn.handle_eof(),
                    Ok(n) => {
                        let _ = conn.handle_input(Instant::now(), &buf[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => conn.handle_eof(),
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => conn.handle_timeout(Instant::now()),
        }
    }
}
