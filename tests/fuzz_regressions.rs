//! Every input a fuzz target ever failed on, replayed through the same
//! logic as a normal test: the files in `tests/fuzz_regressions/<target>/`
//! go through the code of `fuzz/src/` (included below as a module, so the
//! fuzz targets and these tests cannot drift apart), one test per target.
//!
//! To keep a new crash input: minimize it (`cargo +nightly fuzz tmin
//! <target> <artifact>`), copy it to `tests/fuzz_regressions/<target>/`
//! under a name that says what it found, and check that this test fails
//! before the fix and passes after it.
//!
//! These tests build without `cfg(fuzzing)`, so v1 key derivation runs
//! every PBKDF2 iteration here: an input whose v1 `SECURE_X` records were
//! recorded from a fuzz build (the `client_input`/`server_input` seeds of
//! an established v1 start) no longer authenticates here. Inputs that
//! reach their failure without such records (v2 starts, fresh starts, the
//! `pair` target, which makes both sides live) replay exactly.

#[allow(dead_code, unused_imports)]
#[path = "../fuzz/src/lib.rs"]
mod securex_fuzz;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use securex::Role;

/// Runs `run` on every file of `tests/fuzz_regressions/<target>/` and
/// fails naming those that panic.
fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/fuzz_regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    let failed: Vec<String> = files
        .iter()
        .filter(|path| path.is_file())
        .filter(|path| {
            let data = std::fs::read(path).unwrap();
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|path| {
            path.strip_prefix(root)
                .unwrap_or(path)
                .display()
                .to_string()
        })
        .collect();
    assert!(failed.is_empty(), "{target} fails on {failed:#?}");
}

#[test]
fn client_input() {
    replay("client_input", |data| {
        securex_fuzz::connection_input(Role::Client, data);
    });
}

#[test]
fn server_input() {
    replay("server_input", |data| {
        securex_fuzz::connection_input(Role::Server, data);
    });
}

#[test]
fn pair() {
    replay("pair", securex_fuzz::pair::run_bytes);
}

#[test]
fn seal_open() {
    replay("seal_open", securex_fuzz::seal_open::run_bytes);
}

#[test]
fn frames() {
    replay("frames", securex_fuzz::frames::run);
}

#[test]
fn dh_decoders() {
    replay("dh_decoders", securex_fuzz::dh_decoders::run);
}

#[test]
fn fast_path() {
    replay("fast_path", securex_fuzz::fast_path::run);
}

#[test]
fn transfer() {
    replay("transfer", securex_fuzz::transfer::run);
}

/// The transfer target's checks on inputs drawn from a seeded RNG, so
/// that `cargo test` runs them as well as the fuzzer.
#[test]
fn transfer_on_generated_inputs() {
    use rand_core::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    for _ in 0..300 {
        let mut data = vec![0u8; 16 + (rng.next_u32() % 300) as usize];
        rng.fill_bytes(&mut data);
        securex_fuzz::transfer::run(&data);
    }
}

/// The committed `transfer` seeds are what `securex_fuzz::transfer::seeds`
/// encodes (which checks they run); `SECUREX_WRITE_SEEDS=1` writes them
/// after a change of the input's layout.
#[test]
fn transfer_seeds_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/transfer");
    for (name, bytes) in securex_fuzz::transfer::seeds() {
        let path = dir.join(format!("seed-{name}"));
        if std::env::var_os("SECUREX_WRITE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(committed == bytes, "{} is out of date", path.display());
    }
}

/// The fast path's differential checks on inputs drawn from a seeded RNG,
/// every mode, so that `cargo test` runs them as well as the fuzzer.
#[test]
fn fast_path_on_generated_inputs() {
    use rand_core::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(10);
    for i in 0..3000u32 {
        let mut data = vec![0u8; 1 + (rng.next_u32() % 400) as usize];
        rng.fill_bytes(&mut data);
        data[0] = u8::try_from(i % 256).unwrap();
        securex_fuzz::fast_path::run(&data);
    }
}

/// Every start byte of `client_input`/`server_input` gives the client a
/// config `Config::validate` accepts: the harness `expect`s a connection,
/// so a start it cannot make is a harness crash the fuzzer would find
/// instead of library bugs.
#[test]
fn every_start_makes_a_valid_client_config() {
    for byte in 0..=u8::MAX {
        let start = securex_fuzz::Start::from_byte(byte);
        if let Err(e) = start.client_config().validate() {
            panic!("start byte {byte:#04x} ({start:?}): {e}");
        }
    }
}
