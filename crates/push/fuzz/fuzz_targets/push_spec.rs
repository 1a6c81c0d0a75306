//! See `bodies::push_spec` (shared with the property tests of the normal suite).
#![no_main]

#[path = "../bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::push_spec(data));
