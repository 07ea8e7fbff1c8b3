//! Feeds a `Receiver` (two, on one directory) the application messages of
//! a malicious client: `OPEN`, `RESUME`, `PREFIX`, `DATA`, `CLOSE`,
//! incomplete ends and new connections, as `arbitrary` decodes them. The
//! logic and the checks are in `securex_fuzz::transfer` (so that the
//! regression tests can replay a crash input through them).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    securex_fuzz::transfer::run(data);
});
