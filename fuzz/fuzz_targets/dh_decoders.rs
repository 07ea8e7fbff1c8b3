//! Fuzzes the DH decoders: `Group::from_pem` and, for ffdhe2048,
//! `public_key_from_pem` and `public_key_from_bytes`. The logic and the
//! checks are in `securex_fuzz::dh_decoders` (so that the regression tests
//! can replay a crash input through them).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    securex_fuzz::dh_decoders::run(data);
});
