//! The `envelope` target: see `common/envelope.rs` (the CI replay runs the same body).
#![no_main]

#[path = "common/mod.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::envelope::run(data));
