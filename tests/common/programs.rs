//! Helpers for the tests that run the example programs as processes.

use std::path::{Path, PathBuf};

/// The directory of the example binaries built along with the tests
/// (`cargo test` builds them; run `cargo build --examples` first when
/// filtering with `--test`).
pub fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/examples
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("examples")
}

/// A fresh directory under the system's temp dir, with a `store/`
/// subdirectory; removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A directory named after `test` and `name`, and this process.
    pub fn new(test: &str, name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("securex-{test}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("store")).unwrap();
        TempDir(path)
    }

    /// The storage directory for a server.
    pub fn store(&self) -> PathBuf {
        self.0.join("store")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic pseudo-random bytes (xorshift), no dependencies needed.
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
