//! The `policy` target: see `common/policy.rs` (the CI replay runs the same body). Only the
//! module it needs, so it builds without the node crate (`--no-default-features`, see run.sh).
#![no_main]

mod common {
    pub mod policy;
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::policy::run(data));
