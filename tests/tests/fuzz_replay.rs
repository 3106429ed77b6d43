//! The fuzz corpus and every regression input, replayed on stable without libFuzzer: each file
//! of `fuzz/corpus/<target>/`, `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` goes
//! through the very `run` function the cargo-fuzz target calls (`fuzz/fuzz_targets/common/`,
//! included here by path, not copied). A panic on any input fails the test, naming the file.
//! fuzz/README.md has the fuzzing campaign.

#[path = "../../fuzz/fuzz_targets/common/mod.rs"]
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_corpus_seed_and_regression_input_replays_without_a_panic() {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut replayed = 0;
    // The fixture deal is built once, outside any input's panic.
    common::fixture::fixture();
    for (target, run) in common::TARGETS {
        for kind in ["corpus", "seeds", "regressions"] {
            for path in files(&fuzz_dir().join(kind).join(target)) {
                let data = match std::fs::read(&path) {
                    Ok(data) => data,
                    // A fuzzer running beside the test replaces corpus files.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => panic!("{}: {e}", path.display()),
                };
                replayed += 1;
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{target}: {}: {why}", path.display()));
                }
            }
        }
    }
    eprintln!("replayed {replayed} fuzz inputs in {:?}", started.elapsed());
    assert!(
        replayed > 0,
        "no fuzz input found under {}",
        fuzz_dir().display()
    );
    assert!(
        failures.is_empty(),
        "inputs that panic:\n{}",
        failures.join("\n")
    );
}

/// Writes every target's seeds to `fuzz/seeds/<target>/` (run by hand, then commit):
/// `cargo test -p cosell-e2e --test fuzz_replay -- --ignored write_seeds`.
#[test]
#[ignore = "writes fuzz/seeds/; run by hand"]
fn write_seeds() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (target, seeds) in common::seeds::all(&repo) {
        let dir = fuzz_dir().join("seeds").join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the seeds directory");
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(name), bytes).expect("write a seed");
        }
        eprintln!("{target}: {} seeds", seeds.len());
    }
}
