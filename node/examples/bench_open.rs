//! Small imports, where opening the file (encoding, separator and header detection, header
//! mapping) is most of the work: every file of the given directories read to the end by both
//! readers (accounts, then opportunities), ROUNDS times, in memory. Prints the time per file.
//!
//! `cargo run -p cosell-node --example bench_open -- [ROUNDS] [DIR...]` (default 20 rounds over
//! `examples/` and `fuzz/corpus/csv/`, run from the repository root).

use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = match args.next() {
        Some(n) => n
            .parse()
            .map_err(|_| anyhow::anyhow!("'{n}' is not a number of rounds"))?,
        None => 20,
    };
    let mut dirs: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if dirs.is_empty() {
        dirs = vec!["examples".into(), "fuzz/corpus/csv".into()];
    }
    for dir in dirs {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let csv = path.extension().is_none_or(|e| e != "sh");
            if path.is_file() && csv {
                files.push(std::fs::read(&path)?);
            }
        }
        let start = Instant::now();
        let mut rows = 0usize;
        for _ in 0..rounds {
            for data in &files {
                rows += read_both(data);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let opened = (files.len() * rounds) as f64;
        println!(
            "{}: {} files × {rounds} rounds, {rows} rows read: {:.1} µs a file (both readers), \
             {:.0} files/s",
            dir.display(),
            files.len(),
            secs * 1e6 / opened,
            opened / secs
        );
    }
    Ok(())
}

/// Rows both readers yield (good or not) for `data`.
fn read_both(data: &[u8]) -> usize {
    let accounts = cosell::import::read_accounts(data).map_or(0, |r| r.count());
    let opportunities = cosell::import::read_opportunities(data).map_or(0, |r| r.count());
    accounts + opportunities
}
