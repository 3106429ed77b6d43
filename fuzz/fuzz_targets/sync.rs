//! The `sync` target: see `common/sync.rs` (the CI replay runs the same body). Only the modules
//! it needs, so it builds without the node crate (`--no-default-features`, see run.sh).
#![no_main]

mod common {
    #![allow(dead_code)]
    pub mod fixture;
    pub mod sync;
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::sync::run(data));
