//! The fuzz target bodies, one `pub fn run(data: &[u8])` per target. The cargo-fuzz binaries
//! (`fuzz/fuzz_targets/<target>.rs`) call them under libFuzzer, and the stable CI replay
//! (`tests/tests/fuzz_replay.rs`) includes this very module with `#[path]` and runs every file
//! of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` through the same functions.
//!
//! A target fails by panicking: on hostile input nothing may panic, and the assertions here are
//! properties that must hold for any input (canonical round trips, a refused change leaves the
//! document as it was, an accepted one is accepted again by a replica restoring from scratch).
#![allow(dead_code)]

pub mod change;
pub mod csv;
pub mod envelope;
pub mod fixture;
pub mod policy;
pub mod seeds;
pub mod sync;
pub mod wire;

/// A target's body.
pub type Run = fn(&[u8]);

/// Every target: its name (the directory under `fuzz/corpus/`) and its body.
pub const TARGETS: [(&str, Run); 6] = [
    ("envelope", envelope::run),
    ("wire", wire::run),
    ("sync", sync::run),
    ("change", change::run),
    ("csv", csv::run),
    ("policy", policy::run),
];
