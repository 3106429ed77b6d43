//! The `wire` target: see `common/wire.rs` (the CI replay runs the same body).
#![no_main]

#[path = "common/mod.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::wire::run(data));
