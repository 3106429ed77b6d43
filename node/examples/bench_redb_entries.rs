//! What one redb B-tree entry costs, by key shape and order: the unit the import's speed is
//! made of. The raw limit of `bench_import` writes one entry per row; a node that keeps the
//! indexes the API needs writes four (record, external id, stage, account → opportunity), so
//! these figures bound how close to the raw limit an import with indexes can get.
//!
//! Each case inserts N entries into a fresh table of a fresh database in one transaction and
//! commits it durably (redb's default cache, as `bench_import`'s raw limit); it prints the
//! insert and commit time per entry.
//!
//! ```text
//! cargo build --release -p cosell-node --example bench_redb_entries
//! target/release/examples/bench_redb_entries 1000000
//! ```

use std::time::{Duration, Instant};

use redb::{Database, TableDefinition};

const BY_TEXT: TableDefinition<&[u8], &[u8]> = TableDefinition::new("text_key");
const BY_ULID: TableDefinition<&[u8; 16], &[u8]> = TableDefinition::new("ulid_key");
const TUPLE: TableDefinition<(&[u8], &[u8; 16]), ()> = TableDefinition::new("tuple_key");
const FIXED: TableDefinition<&[u8; 32], ()> = TableDefinition::new("fixed_key");

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse().expect("N: a number of entries"))
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ids = ulid::Generator::new();
    let ids: Vec<[u8; 16]> = (0..n)
        .map(|_| ids.generate().expect("ulid").to_bytes())
        .collect();
    let external: Vec<String> = (1..=n).map(|i| format!("OPP{i:09}")).collect();
    // An account per row, in a scattered order (as an export lists deals, not accounts).
    let account: Vec<[u8; 16]> = (0..n).map(|i| ids[(i * 7919) % n]).collect();
    let value = [b'x'; 120];
    println!("bench_redb_entries: {n} entries per case");
    println!("| case | insert µs/entry | commit µs/entry | total µs/entry |");
    println!("|---|---|---|---|");

    case(
        &dir,
        "row by external id (the raw limit's entry)",
        |txn| {
            let mut t = txn.open_table(BY_TEXT).expect("table");
            for x in &external {
                t.insert(x.as_bytes(), &value[..]).expect("insert");
            }
        },
        n,
    );
    case(
        &dir,
        "record by fresh ULID (ascending)",
        |txn| {
            let mut t = txn.open_table(BY_ULID).expect("table");
            for id in &ids {
                t.insert(id, &value[..]).expect("insert");
            }
        },
        n,
    );
    case(
        &dir,
        "external id → id (ascending text)",
        |txn| {
            let mut t = txn.open_table(BY_TEXT).expect("table");
            for (x, id) in external.iter().zip(&ids) {
                t.insert(x.as_bytes(), &id[..]).expect("insert");
            }
        },
        n,
    );
    case(
        &dir,
        "(account, id) tuple key, file order",
        |txn| {
            let mut t = txn.open_table(TUPLE).expect("table");
            for (a, id) in account.iter().zip(&ids) {
                t.insert((&a[..], id), ()).expect("insert");
            }
        },
        n,
    );
    case(
        &dir,
        "(account, id) tuple key, sorted first",
        |txn| {
            let mut t = txn.open_table(TUPLE).expect("table");
            let mut sorted: Vec<(&[u8], &[u8; 16])> = account
                .iter()
                .zip(&ids)
                .map(|(a, id)| (&a[..], id))
                .collect();
            sorted.sort_unstable();
            for e in sorted {
                t.insert(e, ()).expect("insert");
            }
        },
        n,
    );
    case(
        &dir,
        "account ‖ id fixed 32-byte key, sorted first",
        |txn| {
            let mut t = txn.open_table(FIXED).expect("table");
            let mut sorted: Vec<[u8; 32]> = account
                .iter()
                .zip(&ids)
                .map(|(a, id)| {
                    let mut k = [0u8; 32];
                    k[..16].copy_from_slice(a);
                    k[16..].copy_from_slice(id);
                    k
                })
                .collect();
            sorted.sort_unstable();
            for k in &sorted {
                t.insert(k, ()).expect("insert");
            }
        },
        n,
    );
}

/// Runs `write` in one write transaction of a new database and commits it durably.
fn case(
    dir: &tempfile::TempDir,
    what: &str,
    write: impl FnOnce(&redb::WriteTransaction),
    n: usize,
) {
    let path = dir.path().join("case.redb");
    let _ = std::fs::remove_file(&path);
    let db = Database::create(&path).expect("redb");
    let txn = db.begin_write().expect("write txn");
    let started = Instant::now();
    write(&txn);
    let inserted = started.elapsed();
    txn.commit().expect("commit");
    let committed = started.elapsed() - inserted;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "| {what} | {:.2} | {:.2} | {:.2} |",
        per(inserted),
        per(committed),
        per(inserted + committed)
    );
}
