//! Import benchmark: N accounts and N opportunities (each opportunity names its account by
//! external id), measured two ways in one run:
//!
//! - **raw limit**: in-process, no HTTP, no validation: `csv` `ByteRecord` parse and a direct
//!   redb insert of each row (key: external id, value: the row's bytes) in one durable
//!   transaction;
//! - **real path**: a real node (the release `cosell` binary beside this example: `init`, `serve`
//!   on 127.0.0.1:0) importing the same files with `cosell import …`, i.e. a streaming HTTP POST
//!   through the API, with validation, upsert, indexes and one durable transaction.
//!
//! - **floor with indexes**: the raw limit again, but each row writes the four entries a record
//!   with the indexes the node must keep needs (record by a fresh ULID, external id → id, and
//!   two (key, id) index entries: domain and name for accounts, stage and account reference for
//!   opportunities), still without validation or lookups. It tells how much of the gap to the
//!   raw limit is the index writes themselves.
//!
//! Prints rows/s of all three, the ratios (target ≤ 2x of raw) and the node's peak RSS (VmHWM).
//!
//! ```text
//! cargo build --release -p cosell-node --bin cosell --example bench_import
//! target/release/examples/bench_import 100000
//! ```
//! (`COSELL_BIN` overrides the binary; `BENCH_KEEP=1` keeps the temp dir.)

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redb::{Database, TableDefinition};

const RAW: TableDefinition<&[u8], &[u8]> = TableDefinition::new("rows");
// The floor's tables are laid out as the node's (schema 4): ids as a ULID's 16 bytes; the
// accounts' (domain, id) and (name, id) indexes keyed by tuples, the opportunities' (stage, id)
// and (account, id) indexes by one fixed-width key each.
const FLOOR_RECORDS: TableDefinition<&[u8; 16], &[u8]> = TableDefinition::new("records");
const FLOOR_EXTERNAL: TableDefinition<&[u8], &[u8; 16]> = TableDefinition::new("by_external");
const FLOOR_INDEX_A: TableDefinition<(&[u8], &[u8; 16]), ()> = TableDefinition::new("index_a");
const FLOOR_INDEX_B: TableDefinition<(&[u8], &[u8; 16]), ()> = TableDefinition::new("index_b");
const FLOOR_STAGE: TableDefinition<&[u8; 17], ()> = TableDefinition::new("stage");
const FLOOR_ACCOUNT: TableDefinition<&[u8; 32], ()> = TableDefinition::new("account");
const STAGES: [&str; 7] = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
];

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse().expect("N: a number of rows"))
        .unwrap_or(100_000);
    let tmp = tempfile::Builder::new()
        .prefix("cosell-bench-")
        .tempdir()
        .expect("temp dir");
    let dir = tmp.path();
    println!(
        "bench_import: {n} accounts + {n} opportunities in {}",
        dir.display()
    );

    let accounts = dir.join("accounts.csv");
    let opportunities = dir.join("opportunities.csv");
    let t = Instant::now();
    write_accounts(&accounts, n);
    write_opportunities(&opportunities, n, n);
    println!(
        "generated: accounts {:.1} MB, opportunities {:.1} MB in {:.1?}",
        mb(&accounts),
        mb(&opportunities),
        t.elapsed()
    );

    // (a) The raw limit.
    let raw_acc = raw_import(&dir.join("raw-accounts.redb"), &accounts);
    let raw_opp = raw_import(&dir.join("raw-opportunities.redb"), &opportunities);
    report("raw accounts", n, raw_acc);
    report("raw opportunities", n, raw_opp);
    // (a') The floor with indexes: columns 2 and 1 are the account's website and name, 3 and 2
    // the opportunity's stage and account id (see write_accounts / write_opportunities).
    let floor_acc = floor_import(&dir.join("floor-accounts.redb"), &accounts, [2, 1]);
    let floor_opp =
        floor_import_opportunities(&dir.join("floor-opportunities.redb"), &opportunities);
    report("floor accounts", n, floor_acc);
    report("floor opportunities", n, floor_opp);
    let raw_hwm = vm_hwm_kb(std::process::id());
    let raw_db_mb = mb(&dir.join("raw-accounts.redb")) + mb(&dir.join("raw-opportunities.redb"));
    let floor_db_mb =
        mb(&dir.join("floor-accounts.redb")) + mb(&dir.join("floor-opportunities.redb"));

    // (b) The real path.
    let bin = cosell_binary();
    let data = dir.join("node");
    let out = Command::new(&bin)
        .args(["init", "--name", "Bench", "--data"])
        .arg(&data)
        .output()
        .expect("cosell init");
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut node = serve(&bin, &data, &dir.join("serve.log"));
    let cpu_0 = cpu_seconds(node.id());
    let api_acc = cli_import(&bin, &data, "accounts", &accounts);
    let cpu_1 = cpu_seconds(node.id());
    let api_opp = cli_import(&bin, &data, "opportunities", &opportunities);
    let cpu_2 = cpu_seconds(node.id());
    let hwm = vm_hwm_kb(node.id());
    report("API accounts", n, api_acc);
    report("API opportunities", n, api_opp);
    stop(&mut node);
    let db_mb = mb(&data.join("cosell.redb"));

    let ratio = |api: Duration, raw: Duration| api.as_secs_f64() / raw.as_secs_f64();
    println!();
    println!(
        "| N = {n} | raw rows/s | floor with indexes rows/s | API rows/s | API / raw time | floor / raw | API / floor |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (what, raw, floor, api) in [
        ("accounts", raw_acc, floor_acc, api_acc),
        ("opportunities", raw_opp, floor_opp, api_opp),
    ] {
        println!(
            "| {what} | {} | {} | {} | {:.2}x | {:.2}x | {:.2}x |",
            per_s(n, raw),
            per_s(n, floor),
            per_s(n, api),
            ratio(api, raw),
            ratio(floor, raw),
            ratio(api, floor)
        );
    }
    println!(
        "node CPU (all threads, user + system): accounts {:.2} s = {:.2}x raw time, opportunities {:.2} s = {:.2}x raw time",
        cpu_1 - cpu_0,
        (cpu_1 - cpu_0) / raw_acc.as_secs_f64(),
        cpu_2 - cpu_1,
        (cpu_2 - cpu_1) / raw_opp.as_secs_f64()
    );
    println!(
        "node peak RSS (VmHWM): {:.1} MB; database {db_mb:.1} MB; files {:.1} + {:.1} MB",
        hwm as f64 / 1024.0,
        mb(&accounts),
        mb(&opportunities)
    );
    println!(
        "raw and floor paths (this process) peak RSS (VmHWM): {:.1} MB; raw databases {raw_db_mb:.1} MB; floor databases {floor_db_mb:.1} MB",
        raw_hwm as f64 / 1024.0
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at the end: {}", load.trim());
    }
    if std::env::var_os("BENCH_KEEP").is_some() {
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    }
}

pub(crate) fn mb(p: &Path) -> f64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
}

fn per_s(n: usize, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64();
    let s = format!("{:.0}", r);
    // Thousands separators.
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn report(what: &str, n: usize, d: Duration) {
    println!("{what:>20}: {n} rows in {d:.2?} = {} rows/s", per_s(n, d));
}

/// Salesforce-style account export: quoted cells, `$` revenue (ignored column), US dates.
pub(crate) fn write_accounts(path: &Path, n: usize) {
    let mut w = BufWriter::new(std::fs::File::create(path).expect("accounts file"));
    writeln!(
        w,
        "\"Account ID\",\"Account Name\",\"Website\",\"Type\",\"Industry\",\"Billing Country\",\"Account Owner\",\"Annual Revenue\""
    )
    .unwrap();
    for i in 1..=n {
        writeln!(
            w,
            "\"ACC{i:09}\",\"Company {i}, Inc.\",\"https://www.company-{i}.example\",\"{}\",\"Software\",\"United States\",\"Owner {}\",\"${},000.00\"",
            if i % 3 == 0 { "Prospect" } else { "Customer - Direct" },
            i % 50,
            i % 997
        )
        .unwrap();
    }
    w.flush().unwrap();
}

/// Salesforce-style opportunity export referencing accounts by `Account ID`.
pub(crate) fn write_opportunities(path: &Path, n: usize, accounts: usize) {
    let mut w = BufWriter::new(std::fs::File::create(path).expect("opportunities file"));
    writeln!(
        w,
        "\"Opportunity ID\",\"Opportunity Name\",\"Account ID\",\"Stage\",\"Amount\",\"Opportunity Currency\",\"Close Date\",\"Opportunity Owner\",\"Next Step\""
    )
    .unwrap();
    for i in 1..=n {
        writeln!(
            w,
            "\"OPP{i:09}\",\"Deal {i} - Platform\",\"ACC{:09}\",\"{}\",\"${},{:03}.50\",\"USD\",\"{}/{}/2026\",\"Owner {}\",\"Call back\"",
            (i * 7919) % accounts + 1,
            STAGES[i % STAGES.len()],
            1 + i % 900,
            i % 1000,
            1 + i % 12,
            1 + i % 28,
            i % 50
        )
        .unwrap();
    }
    w.flush().unwrap();
}

/// csv ByteRecord parse + one redb insert per row in one durable transaction.
fn raw_import(db_path: &Path, csv_path: &Path) -> Duration {
    let mut rows = 0u64;
    let took = timed_transaction(db_path, |txn| {
        let mut table = txn.open_table(RAW).expect("table");
        for_each_row(csv_path, |record| {
            table.insert(&record[0], record.as_slice()).expect("insert");
            rows += 1;
        });
    });
    assert!(rows > 0);
    took
}

/// csv ByteRecord parse + the four entries of a record with its indexes per row (record under
/// a fresh ULID, external id → id, (cell `index[0]`, id), (cell `index[1]`, id)) in one durable
/// transaction, with redb's default cache like [`raw_import`].
fn floor_import(db_path: &Path, csv_path: &Path, index: [usize; 2]) -> Duration {
    let mut ids = ulid::Generator::new();
    timed_transaction(db_path, |txn| {
        let mut records = txn.open_table(FLOOR_RECORDS).expect("table");
        let mut external = txn.open_table(FLOOR_EXTERNAL).expect("table");
        let mut index_a = txn.open_table(FLOOR_INDEX_A).expect("table");
        let mut index_b = txn.open_table(FLOOR_INDEX_B).expect("table");
        for_each_row(csv_path, |record| {
            let id = ids.generate().expect("ulid").to_bytes();
            records.insert(&id, record.as_slice()).expect("insert");
            external.insert(&record[0], &id).expect("insert");
            index_a
                .insert((&record[index[0]], &id), ())
                .expect("insert");
            index_b
                .insert((&record[index[1]], &id), ())
                .expect("insert");
        });
    })
}

/// [`floor_import`] for the opportunities file, with the node's fixed-width keys for its
/// (stage, id) and (account, id) indexes: the stage as one byte (the cell's first, standing in
/// for the node's stage code) ‖ id, and the account cell (the account's external id, standing in
/// for its 16-byte id; zero-padded) ‖ id.
fn floor_import_opportunities(db_path: &Path, csv_path: &Path) -> Duration {
    let mut ids = ulid::Generator::new();
    timed_transaction(db_path, |txn| {
        let mut records = txn.open_table(FLOOR_RECORDS).expect("table");
        let mut external = txn.open_table(FLOOR_EXTERNAL).expect("table");
        let mut stages = txn.open_table(FLOOR_STAGE).expect("table");
        let mut accounts = txn.open_table(FLOOR_ACCOUNT).expect("table");
        for_each_row(csv_path, |record| {
            let id = ids.generate().expect("ulid").to_bytes();
            records.insert(&id, record.as_slice()).expect("insert");
            external.insert(&record[0], &id).expect("insert");
            let mut stage = [0u8; 17];
            stage[0] = record[3].first().copied().unwrap_or(0);
            stage[1..].copy_from_slice(&id);
            stages.insert(&stage, ()).expect("insert");
            let mut account = [0u8; 32];
            let cell = &record[2][..record[2].len().min(16)];
            account[..cell.len()].copy_from_slice(cell);
            account[16..].copy_from_slice(&id);
            accounts.insert(&account, ()).expect("insert");
        });
    })
}

/// Creates the database at `db_path` (redb's default cache), runs `write` in one write
/// transaction and commits it durably: the time of all of it.
fn timed_transaction(db_path: &Path, write: impl FnOnce(&redb::WriteTransaction)) -> Duration {
    let started = Instant::now();
    let db = Database::create(db_path).expect("redb");
    let txn = db.begin_write().expect("write txn");
    write(&txn);
    txn.commit().expect("commit");
    started.elapsed()
}

/// Calls `row` with each data row of the CSV file, parsed as bytes (no decoding, no checks).
fn for_each_row(csv_path: &Path, mut row: impl FnMut(&csv::ByteRecord)) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(csv_path)
        .expect("csv");
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).expect("csv row") {
        row(&record);
    }
}

pub(crate) fn cosell_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("COSELL_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/release/examples/bench_import → target/release/cosell
    let p = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("cosell"))
        .expect("target dir");
    assert!(
        p.is_file(),
        "no {} — build it first: cargo build --release -p cosell-node --bin cosell",
        p.display()
    );
    p
}

pub(crate) fn serve(bin: &Path, data: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log");
    let child = Command::new(bin)
        .args(["serve", "--data"])
        .arg(data)
        .args(["--http", "127.0.0.1:0", "--p2p", "/ip4/127.0.0.1/tcp/0"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("cosell serve");
    // A store of 10k deals (bench_backup) is re-verified at start: allow for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !data.join("node.json").exists() {
        assert!(Instant::now() < deadline, "no node.json within 300 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

pub(crate) fn cli_import(bin: &Path, data: &Path, what: &str, file: &Path) -> Duration {
    let started = Instant::now();
    let out = Command::new(bin)
        .args(["import", what])
        .arg(file)
        .arg("--data")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("cosell import");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "import {what}: {stderr}");
    print!("  {stderr}");
    took
}

/// CPU time `pid` used so far, all threads, user + system (`/proc/PID/stat`, in clock ticks).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / per_second
}

pub(crate) fn vm_hwm_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM")
}

pub(crate) fn stop(child: &mut Child) {
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "node stopped with {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("node did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
