//! Drives a client/server pair through a sequence of `arbitrary`
//! operations: send, deliver, split, drop, duplicate, reorder, flip a bit,
//! inject a frame, advance the clock, rotate, close. The logic and the
//! checks are in `securex_fuzz::pair` (so that the regression tests can
//! replay a crash input through them).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    securex_fuzz::pair::run_bytes(data);
});
