//! Fuzzes the wire: the `\r\n` frame codec, the decoding of every frame
//! type and of the inner messages (v1 JSON, v2 binary). The logic and the
//! checks are in `securex_fuzz::frames` (so that the regression tests can
//! replay a crash input through them).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    securex_fuzz::frames::run(data);
});
