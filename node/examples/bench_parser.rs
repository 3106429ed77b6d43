//! The CSV parser alone (decoding, aliases, stage mapping, amounts, dates), on a generated
//! Salesforce-style opportunities file held in memory: what the import's parser thread can do
//! at most, apart from account lookups and storage.
//!
//! `cargo run --release -p cosell-node --example bench_parser -- [ROWS]` (default 400,000).

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let rows: usize = match std::env::args().nth(1) {
        Some(n) => n
            .parse()
            .map_err(|_| anyhow::anyhow!("'{n}' is not a number of rows"))?,
        None => 400_000,
    };
    let mut input = String::from(
        "Opportunity ID,Opportunity Name,Account ID,Stage,Amount,Close Date,Opportunity Owner,Description\n",
    );
    for i in 0..rows {
        input.push_str(&format!(
            "O{i},\"Deal {i}, expansion\",A{},Closed Won,\"$1,{:03}.50\",11/23/2026,Jane Doe,Some words about deal {i}\n",
            i % 5000,
            i % 1000
        ));
    }
    let start = Instant::now();
    let parsed = cosell::import::read_opportunities(input.as_bytes())?
        .filter(Result::is_ok)
        .count();
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(parsed == rows, "parsed {parsed} of {rows} rows");
    println!(
        "parsed {parsed} rows, {:.1} MB in {secs:.2}s: {:.0} MB/s, {:.0} rows/s",
        input.len() as f64 / 1e6,
        input.len() as f64 / 1e6 / secs,
        parsed as f64 / secs
    );
    Ok(())
}
