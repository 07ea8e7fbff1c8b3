//! Holds the fast record path (`securex::wire::record`) against the strict
//! parser on arbitrary and near-canonical frames, and its writer against
//! serde. The logic and the checks are in `securex_fuzz::fast_path` (so
//! that the regression tests can replay a crash input through them).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    securex_fuzz::fast_path::run(data);
});
