//! Backup and restore benchmark (BENCHMARKS.md `## backup and restore`): a node holding
//! OPPORTUNITIES opportunities (over 10,000 accounts, imported through `cosell import`) and
//! DEALS shared deals of 20 signed changes each (bench_network's deals, written into its store
//! before it starts); `cosell backup` while it serves (through its API), then `cosell restore`
//! into a new directory. Prints times and sizes.
//!
//! ```text
//! cargo build --release -p cosell-node --bin cosell --example bench_backup
//! target/release/examples/bench_backup [OPPORTUNITIES] [DEALS]    # default 100000 10000
//! ```

#[path = "bench_import.rs"]
#[allow(dead_code)]
mod import_bench;
#[path = "bench_network.rs"]
#[allow(dead_code)]
mod network_bench;

use anyhow::{bail, Result};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const ACCOUNTS: usize = 10_000;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let opportunities: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let deals: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let bin = import_bench::cosell_binary();
    let root = tempfile::tempdir()?;
    let data = root.path().join("data");
    cosell(&bin, &["init", "--name", "Bench Co", "--data"], &data)?;
    let started = Instant::now();
    network_bench::seed_deals_at(&data.join("cosell.redb"), deals)?;
    println!(
        "setup: {deals} deals stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let accounts_csv = root.path().join("accounts.csv");
    let opportunities_csv = root.path().join("opportunities.csv");
    import_bench::write_accounts(&accounts_csv, ACCOUNTS);
    import_bench::write_opportunities(&opportunities_csv, opportunities, ACCOUNTS);
    let mut node = import_bench::serve(&bin, &data, &root.path().join("serve.log"));
    import_bench::cli_import(&bin, &data, "accounts", &accounts_csv);
    import_bench::cli_import(&bin, &data, "opportunities", &opportunities_csv);
    let store_mb = import_bench::mb(&data.join("cosell.redb"));

    let file = root.path().join("node.backup");
    let started = Instant::now();
    let backed_up = cosell(
        &bin,
        &["backup", file.to_str().unwrap_or_default(), "--data"],
        &data,
    );
    let backup_s = started.elapsed().as_secs_f64();
    let peak_mb = import_bench::vm_hwm_kb(node.id()) as f64 / 1024.0;
    import_bench::stop(&mut node);
    backed_up?;
    let backup_mb = import_bench::mb(&file);

    let restored = root.path().join("restored");
    let started = Instant::now();
    cosell(
        &bin,
        &["restore", file.to_str().unwrap_or_default(), "--data"],
        &restored,
    )?;
    let restore_s = started.elapsed().as_secs_f64();
    let restored_mb = import_bench::mb(&restored.join("cosell.redb"));
    println!(
        "{opportunities} opportunities, {ACCOUNTS} accounts, {deals} deals; store {store_mb:.1} MB\n\
         backup (node serving, through its API): {backup_s:.2} s, file {backup_mb:.1} MB\n\
         node peak RSS (start, imports, backup): {peak_mb:.1} MB\n\
         restore (checked twice, written, opened): {restore_s:.2} s, restored store {restored_mb:.1} MB"
    );
    Ok(())
}

/// Runs `cosell ARGS DIR` and fails with its stderr unless it succeeds.
fn cosell(bin: &Path, args: &[&str], dir: &Path) -> Result<()> {
    let out = Command::new(bin)
        .args(args)
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()?;
    if !out.status.success() {
        bail!(
            "cosell {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    print!("  {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}
