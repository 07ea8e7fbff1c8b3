//! Seals and opens arbitrary messages in every suite of both versions
//! through the public record API, and changes one record on the way. The
//! logic and the checks are in `securex_fuzz::seal_open` (so that the
//! regression tests can replay a crash input through them).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    securex_fuzz::seal_open::run_bytes(data);
});
