//! The `wire` target: see `common/wire.rs` (the CI replay runs the same body). Only the modules
//! it needs, so it builds without the node crate (`--no-default-features`, see run.sh).
#![no_main]

mod common {
    #![allow(dead_code)]
    pub mod fixture;
    pub mod wire;
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::wire::run(data));
