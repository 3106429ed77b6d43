//! API read benchmark (BENCHMARKS.md `## API pages (P5)`): a real node (`cosell init`,
//! `cosell serve`) holding OPPORTUNITIES opportunities over 10,000 accounts (imported with
//! `cosell import`), loaded by `wrk` (Debian package `wrk`, not part of the project) at 32
//! connections, one route after the other in the same minute:
//!
//! - `GET /api/v1/node`: the trivial route (authentication, routing, a small JSON answer), the
//!   anchor the others are compared with;
//! - `GET /api/v1/opportunities?limit=100`: a page of 100;
//! - `?q=` searches: a rare name, a name prefix shared by 11 records, an external id prefix, an
//!   owner matching 2 % of the records, and an account domain.
//!
//! Prints requests/s, p50 and p99 for each, the ratio to the trivial route and the node's
//! resident memory when idle after the imports (P6's figure without deals).
//!
//! ```text
//! apt-get install wrk
//! cargo build --release -p cosell-node --bin cosell --example bench_api
//! target/release/examples/bench_api [OPPORTUNITIES] [SECONDS]    # default 100000 10
//! ```
//! (`COSELL_BIN` overrides the binary.)

#[path = "bench_import.rs"]
#[allow(dead_code)]
mod import_bench;

use std::process::Command;
use std::time::Duration;

const ACCOUNTS: usize = 10_000;
const CONNECTIONS: &str = "32";

fn main() {
    let mut args = std::env::args().skip(1);
    let opportunities: usize = args.next().map_or(100_000, |a| a.parse().expect("a count"));
    let seconds: u64 = args.next().map_or(10, |a| a.parse().expect("seconds"));
    assert!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "no wrk on PATH: apt-get install wrk"
    );
    let bin = import_bench::cosell_binary();
    let root = tempfile::Builder::new()
        .prefix("cosell-bench-api-")
        .tempdir()
        .expect("temp dir");
    let data = root.path().join("data");
    let init = Command::new(&bin)
        .args(["init", "--name", "Bench Co", "--data"])
        .arg(&data)
        .output()
        .expect("cosell init");
    assert!(init.status.success(), "init: {:?}", init);
    let accounts_csv = root.path().join("accounts.csv");
    let opportunities_csv = root.path().join("opportunities.csv");
    import_bench::write_accounts(&accounts_csv, ACCOUNTS);
    import_bench::write_opportunities(&opportunities_csv, opportunities, ACCOUNTS);
    let mut node = import_bench::serve(&bin, &data, &root.path().join("serve.log"));
    import_bench::cli_import(&bin, &data, "accounts", &accounts_csv);
    import_bench::cli_import(&bin, &data, "opportunities", &opportunities_csv);
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss_mb = vm_rss_kb(node.id()) as f64 / 1024.0;

    let token = std::fs::read_to_string(data.join("admin.token")).expect("admin token");
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("node.json")).expect("node.json"))
            .expect("node.json is JSON");
    let base = info["http"]
        .as_str()
        .expect("http in node.json")
        .to_string();
    let uptime_before = load();
    println!(
        "{opportunities} opportunities, {ACCOUNTS} accounts; wrk -c{CONNECTIONS} -d{seconds}s; \
         load average before: {uptime_before}; node idle RSS {idle_rss_mb:.1} MB"
    );
    let routes = [
        ("trivial: /node", "/api/v1/node".to_string()),
        ("page of 100", "/api/v1/opportunities?limit=100".to_string()),
        (
            "q: one name",
            format!(
                "/api/v1/opportunities?limit=100&q=deal%20{}%20",
                opportunities / 2 + 7
            ),
        ),
        (
            "q: name prefix (11)",
            format!(
                "/api/v1/opportunities?limit=100&q=deal%20{}",
                opportunities / 10 + 3
            ),
        ),
        (
            "q: external id prefix",
            "/api/v1/opportunities?limit=100&q=opp00005".to_string(),
        ),
        (
            "q: owner (2 %)",
            "/api/v1/opportunities?limit=100&q=owner%2017".to_string(),
        ),
        (
            "q: account domain",
            "/api/v1/accounts?limit=100&q=company-4321.example".to_string(),
        ),
    ];
    println!("| route | req/s | p50 | p99 | of trivial |");
    println!("|---|---|---|---|---|");
    let mut trivial = None;
    for (what, path) in routes {
        let url = format!("{base}{path}");
        let r = wrk(&url, token.trim(), seconds);
        let of = trivial.map_or(String::from("1.00"), |t: f64| format!("{:.2}", r.rate / t));
        trivial.get_or_insert(r.rate);
        println!(
            "| {what} `{path}` | {:.0} | {} | {} | {of} |",
            r.rate, r.p50, r.p99
        );
    }
    let uptime_after = load();
    println!("load average after: {uptime_after}");
    import_bench::stop(&mut node);
}

struct Wrk {
    rate: f64,
    p50: String,
    p99: String,
}

/// Runs wrk against `url` and reads its summary (requests/s and the latency distribution).
fn wrk(url: &str, token: &str, seconds: u64) -> Wrk {
    let out = Command::new("wrk")
        .args(["-t2", "-c", CONNECTIONS, "--latency", "-d"])
        .arg(format!("{seconds}s"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(url)
        .output()
        .expect("wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "{url} answered errors under load:\n{text}"
    );
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no '{prefix}' in wrk's output:\n{text}"))
    };
    Wrk {
        rate: field("Requests/sec:").parse().expect("a rate"),
        p50: field("50%"),
        p99: field("99%"),
    }
}

/// The load average (1, 5, 15 minutes): other work on the machine moves every figure.
fn load() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn vm_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}
