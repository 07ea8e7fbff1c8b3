//! Helpers for the tests that run the example programs as processes.

use std::io::{BufRead, BufReader, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The directory of the example binaries built along with the tests
/// (`cargo test` builds them; run `cargo build --examples` first when
/// filtering with `--test`), or the one `SECUREX_EXAMPLES_DIR` names
/// (e.g. `target/release/examples`, to run a test against release
/// binaries).
pub fn examples_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SECUREX_EXAMPLES_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/examples
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("examples")
}

pub use tempfile::TempDir;

/// A fresh temporary directory (tempfile's, removed on drop), named after
/// `test` and `name`, with an empty `store/` for a server.
pub fn scratch(test: &str, name: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("securex-{test}-{name}-"))
        .tempdir()
        .unwrap();
    std::fs::create_dir(dir.path().join("store")).unwrap();
    dir
}

/// The storage directory of a [`scratch`] directory.
pub trait Store {
    /// `<dir>/store`.
    fn store(&self) -> PathBuf;
}

impl Store for TempDir {
    fn store(&self) -> PathBuf {
        self.path().join("store")
    }
}

/// Deterministic pseudo-random bytes (xorshift), no dependencies needed.
#[allow(
    clippy::cast_possible_truncation,
    reason = "an xorshift generator: each byte is bits 32..40 of its state"
)]
pub fn random_bytes(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Running the example programs as processes, with a bound on their time.

/// A running example server on a free port, its log collected; killed on
/// drop.
pub struct ExampleServer {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl ExampleServer {
    /// Starts `server --listen 127.0.0.1:0 --dir DIR FLAGS...` and waits
    /// for the line that says where it listens.
    pub fn start(dir: &Path, flags: &[&str]) -> ExampleServer {
        ExampleServer::start_with_env(dir, flags, &[])
    }

    /// [`ExampleServer::start`] with these environment variables set.
    pub fn start_with_env(dir: &Path, flags: &[&str], env: &[(&str, &Path)]) -> ExampleServer {
        ExampleServer::start_program("server", dir, flags, env)
    }

    /// [`ExampleServer::start_with_env`] with another server program
    /// (e.g. `tokio_server`), which takes the same flags.
    pub fn start_program(
        program: &str,
        dir: &Path,
        flags: &[&str],
        env: &[(&str, &Path)],
    ) -> ExampleServer {
        let mut child = Command::new(examples_dir().join(program))
            .args(["--listen", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .args(flags)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example server");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        // Keep draining its log so that it never blocks on a full pipe.
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        ExampleServer { child, addr, log }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every line logged so far (the first, "listening on", excepted).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `limit` for `count` connection log lines (`peer=...`);
    /// returns those logged by then.
    pub fn connection_logs(&self, count: usize, limit: Duration) -> Vec<String> {
        let start = Instant::now();
        loop {
            let lines: Vec<String> = self
                .log()
                .into_iter()
                .filter(|l| l.starts_with("peer="))
                .collect();
            if lines.len() >= count || start.elapsed() > limit {
                return lines;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A field of `/proc/<pid>/status` (e.g. `VmHWM`, `Threads`): its
    /// first number (kB for the memory fields).
    pub fn proc_status(&self, field: &str) -> Option<u64> {
        proc_status(self.pid(), field)
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of `/proc/<pid>/status`: its first number.
pub fn proc_status(pid: u32, field: &str) -> Option<u64> {
    proc_field(&format!("/proc/{pid}/status"), field)
}

/// The first number of the line `FIELD: ...` of a `/proc` file.
fn proc_field(path: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What a client run did.
#[derive(Debug)]
pub struct ClientRun {
    /// The exit code; `None` if it was killed (hung, or by a signal).
    pub code: Option<i32>,
    /// Killed by the test after its limit.
    pub hung: bool,
    pub stdout: String,
    pub stderr: String,
    /// When it ended (or was killed).
    pub ended: Instant,
    /// When the progress probe handed to [`ClientProcess::wait_probing`]
    /// last changed while the client ran (sampled every 10 ms); its start
    /// without a probe.
    pub last_progress: Instant,
    /// How long it ran.
    pub elapsed: Duration,
}

/// A running example client whose output is being collected.
pub struct ClientProcess {
    child: Child,
    started: Instant,
    out: thread::JoinHandle<String>,
    err: thread::JoinHandle<String>,
}

impl ClientProcess {
    /// Starts `client --connect ADDR FLAGS... FILE`.
    pub fn start(addr: &str, flags: &[&str], file: &Path) -> ClientProcess {
        ClientProcess::start_with_env(addr, flags, file, &[])
    }

    /// [`ClientProcess::start`] with these environment variables set.
    pub fn start_with_env(
        addr: &str,
        flags: &[&str],
        file: &Path,
        env: &[(&str, &Path)],
    ) -> ClientProcess {
        ClientProcess::start_program("client", addr, flags, file, env)
    }

    /// [`ClientProcess::start_with_env`] with another client program
    /// (e.g. `tokio_client`), which takes the same flags.
    pub fn start_program(
        program: &str,
        addr: &str,
        flags: &[&str],
        file: &Path,
        env: &[(&str, &Path)],
    ) -> ClientProcess {
        let mut child = Command::new(examples_dir().join(program))
            .args(["--connect", addr])
            .args(flags)
            .arg(file)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the example client");
        // Read both pipes on their own threads so that the client never
        // blocks on them.
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out = thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        ClientProcess {
            child,
            started: Instant::now(),
            out,
            err,
        }
    }

    /// Kills the client (SIGKILL: no chance to tidy up) and waits for it.
    #[allow(dead_code)] // Only the tests that cut an upload kill.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the client to end, killing it once it has run for
    /// `limit` (a regression then fails instead of hanging the test).
    pub fn wait(self, limit: Duration) -> ClientRun {
        self.wait_probing(limit, || 0)
    }

    /// [`ClientProcess::wait`], noting when `probe` (e.g. [`tcp_queued`])
    /// last changed while the client ran.
    pub fn wait_probing(mut self, limit: Duration, mut probe: impl FnMut() -> u64) -> ClientRun {
        let (mut value, mut last_progress) = (probe(), self.started);
        let (code, hung) = loop {
            let now = probe();
            if now != value {
                (value, last_progress) = (now, Instant::now());
            }
            if let Some(status) = self.child.try_wait().expect("wait for the client") {
                break (status.code(), false);
            }
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break (None, true);
            }
            thread::sleep(Duration::from_millis(10));
        };
        let ended = Instant::now();
        ClientRun {
            code,
            hung,
            stdout: self.out.join().unwrap(),
            stderr: self.err.join().unwrap(),
            ended,
            last_progress,
            elapsed: ended - self.started,
        }
    }
}

/// The bytes queued in the kernel (sent but not acknowledged, or received
/// but not read) by the loopback TCP sockets of `port`, either end
/// (`/proc/net/tcp`; listening sockets excepted): while nothing reads,
/// this grows exactly when a writer's `write` makes progress.
pub fn tcp_queued(port: u16) -> u64 {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return 0;
    };
    let port_of = |addr: &str| {
        addr.rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state, queues) = (f.get(1)?, f.get(2)?, f.get(3)?, f.get(4)?);
            if *state == "0A" || (port_of(local)? != port && port_of(remote)? != port) {
                return None;
            }
            let (tx, rx) = queues.split_once(':')?;
            Some(u64::from_str_radix(tx, 16).ok()? + u64::from_str_radix(rx, 16).ok()?)
        })
        .sum()
}

/// Runs the example client to its end, killing it after `limit`.
pub fn run_client(addr: &str, flags: &[&str], file: &Path, limit: Duration) -> ClientRun {
    ClientProcess::start(addr, flags, file).wait(limit)
}

// ---------------------------------------------------------------------------
// A TCP proxy that forwards faithfully until it stalls.

/// Which directions a [`Proxy`] stops forwarding once it stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// It stops reading what the client sends (a server that stops
    /// reading); what the server sends still reaches the client.
    ClientToServer,
    /// It stops reading both ways (a dead path).
    Both,
}

struct ProxyState {
    mode: Stall,
    /// Client-to-server bytes after which it stalls.
    after: u64,
    forwarded: AtomicU64,
    stalled: AtomicBool,
    stalled_at: Mutex<Option<Instant>>,
    stop: AtomicBool,
    sockets: Mutex<Vec<TcpStream>>,
}

impl ProxyState {
    fn blocked(&self, to_server: bool) -> bool {
        self.stalled.load(Ordering::SeqCst) && (to_server || self.mode == Stall::Both)
    }
}

/// A proxy for one connection to `upstream`: it forwards both ways until
/// `after` bytes from the client have gone through, then stops reading
/// the directions `mode` names (holding what it has read), and keeps
/// every socket open until dropped. The sockets' buffers then fill up and
/// the peers' writes block.
pub struct Proxy {
    pub addr: String,
    state: Arc<ProxyState>,
}

impl Proxy {
    pub fn start(upstream: &str, mode: Stall, after: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(ProxyState {
            mode,
            after,
            forwarded: AtomicU64::new(0),
            stalled: AtomicBool::new(false),
            stalled_at: Mutex::new(None),
            stop: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
        });
        let upstream = upstream.to_owned();
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let Ok(server) = TcpStream::connect(&upstream) else {
                return;
            };
            {
                let mut sockets = shared.sockets.lock().unwrap();
                sockets.push(client.try_clone().unwrap());
                sockets.push(server.try_clone().unwrap());
            }
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let up = Arc::clone(&shared);
            thread::spawn(move || forward(client, s2, true, &up));
            forward(server, c2, false, &shared);
        });
        Proxy { addr, state }
    }

    /// When it stalled, if it has.
    pub fn stalled_at(&self) -> Option<Instant> {
        *self.state.stalled_at.lock().unwrap()
    }

    /// Client-to-server bytes forwarded.
    pub fn forwarded(&self) -> u64 {
        self.state.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        for socket in self.state.sockets.lock().unwrap().iter() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

/// One direction of a [`Proxy`].
fn forward(mut from: TcpStream, mut to: TcpStream, to_server: bool, state: &ProxyState) {
    use std::io::Write;
    let mut buf = vec![0u8; 16 * 1024];
    let hold = || {
        while !state.stop.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(10));
        }
    };
    loop {
        if state.stop.load(Ordering::SeqCst) {
            return;
        }
        if state.blocked(to_server) {
            return hold();
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        if state.blocked(to_server) {
            // Stalled while reading: what was read is held, not passed on.
            return hold();
        }
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
        if to_server {
            let total = state.forwarded.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
            if total >= state.after && !state.stalled.swap(true, Ordering::SeqCst) {
                *state.stalled_at.lock().unwrap() = Some(Instant::now());
            }
        }
    }
}
