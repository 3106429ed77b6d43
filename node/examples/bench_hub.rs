//! Hub-scale benchmark P8 (BENCHMARKS.md `## hub scale`): one vendor node and PARTNERS partner
//! nodes on 127.0.0.1, 10 deals per partner.
//!
//! ```text
//! cargo run --release -p cosell-node --example bench_hub -- [PARTNERS]   # default 1000
//! ```
//!
//! The vendor is this example run again as a child process (`--vendor DIR PORT PARTNERS`), so
//! its RSS is its own and a restart is a real one (store opened, every deal re-verified,
//! network started on the same port). The partners are light in-process nodes in this
//! process: each a real libp2p peer with its own key, its own small redb store, deal engine and
//! network task (accepting invitations as they arrive). The parent drives the vendor over its
//! stdin (one command a line) and reads its answers on its stdout.
//!
//! Measured, in this order:
//! - setup: the vendor shares 10 opportunities with each partner (a deal and an invitation
//!   each); every partner accepts and holds its 10 deals (the first sync of the hub);
//! - vendor RSS with every partner connected and idle;
//! - a change on one deal (the vendor's section) until its participant holds it, one deal at a
//!   time on an idle network (p50, p99, max);
//! - a policy change for every partner (`set_policy` for each, as `cosell policy set` would,
//!   re-projecting all the partners' deals): from the start until each partner holds its 10
//!   re-projected deals (p50, p99, max over partners);
//! - the vendor restarts (stopped, each partner writes one change while it is down, started
//!   again): from its network being up until each partner is caught up (connected, its change
//!   at the vendor); p50, p99, max over partners, so a starved partner shows as the max.
//!
//! Bounded in time: every wait fails after `WAIT_MAX`; the vendor child and the temp dirs go
//! with the process (the child is killed on drop, and exits when its stdin closes).

use anyhow::{anyhow, bail, Context, Result};
use cosell::clock::Clock;
use cosell::domain::deals::Deals;
use cosell::domain::peers::{self, Network};
use cosell::net::NetConfig;
use cosell::store::shared::{self, PartnerRecord, PartnerStatus};
use cosell::store::{Store, WriteTables};
use protocol::deal::{DealId, Role, SectionUpdate};
use protocol::identity::NodeKey;
use protocol::records::{Account, Opportunity};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Deals per partner.
const DEALS_PER_PARTNER: usize = 10;
/// Single-deal changes timed (each on another partner's deal).
const SINGLE_CHANGES: usize = 100;
/// Longest wait for any step.
const WAIT_MAX: Duration = Duration::from_secs(900);
/// Page cache of each light partner's store.
const PARTNER_CACHE_BYTES: usize = 2 * 1024 * 1024;
const VENDOR_SECRET: [u8; 32] = [7; 32];

const POLICY_BEFORE: &str = r#"
[opportunities]
fields = ["name", "stage"]
"#;
const POLICY_AFTER: &str = r#"
[opportunities]
fields = ["name", "stage", "amount", "close_date"]
"#;

fn partner_secret(i: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    s[31] = 0x5a;
    s
}

fn partner_record(id: String, name: String, kind: &str, addrs: Vec<String>) -> PartnerRecord {
    PartnerRecord {
        id,
        name,
        partner_type: Some(kind.into()),
        status: PartnerStatus::Active,
        since_ms: 1,
        last_seen_ms: None,
        addrs,
        removed_ms: None,
        ended_by_partner: false,
    }
}

fn now_ms() -> u64 {
    cosell::clock::now_ms()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n = {})",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap_or(&Duration::ZERO)),
        times.len()
    )
}

// ---------------------------------------------------------------------------------------------
// The vendor (child process)

struct Vendor {
    dir: PathBuf,
    store: Arc<Store>,
    deals: Arc<Deals>,
    net: Network,
    /// Per partner (by index): its node id and the deals shared with it.
    partners: Vec<(String, Vec<DealId>)>,
}

/// Writes the vendor's records (an account and 10 opportunities per partner), its partners and
/// their policies: the first start only.
fn vendor_seed(store: &Store, dir: &Path, ids: &[String]) -> Result<()> {
    let mut listed = String::new();
    let txn = store.write()?;
    {
        let mut tables = WriteTables::open(&txn)?;
        for (i, _) in ids.iter().enumerate() {
            let account: Account = serde_json::from_value(serde_json::json!({
                "id": ulid::Ulid::new().to_string(),
                "name": format!("Customer {i}"),
                "domain": format!("customer-{i}.example"),
                "status": "customer",
            }))?;
            tables.put_account(&account)?;
            for d in 0..DEALS_PER_PARTNER {
                let opp: Opportunity = serde_json::from_value(serde_json::json!({
                    "id": ulid::Ulid::new().to_string(),
                    "external_id": format!("p{i}-d{d}"),
                    "account_id": account.id,
                    "name": format!("deal {d} with partner {i}"),
                    "stage": "qualified",
                    "amount": format!("{}", 10_000 + 1_000 * d),
                    "currency": "USD",
                    "close_date": "2027-03-31",
                }))?;
                tables.put_opportunity(&opp)?;
                listed.push_str(&format!("{i} {}\n", opp.id));
            }
        }
        for (i, id) in ids.iter().enumerate() {
            shared::put_partner_in(
                &txn,
                &partner_record(id.clone(), format!("Partner {i}"), "reseller", Vec::new()),
            )?;
        }
    }
    txn.commit()?;
    std::fs::write(dir.join("opportunities.txt"), listed)?;
    let policy = policy::Policy::from_toml(POLICY_BEFORE).map_err(|e| anyhow!("{e:?}"))?;
    for id in ids {
        let record = shared::partner(store, id)?.ok_or_else(|| anyhow!("partner {id}"))?;
        cosell::domain::partners::set_policy(store, &record, &policy, "bench", now_ms())?;
    }
    Ok(())
}

async fn vendor_main(dir: PathBuf, port: u16, count: usize) -> Result<()> {
    let first = !dir.join("db").exists();
    let ids: Vec<String> = (0..count)
        .map(|i| {
            NodeKey::from_secret_bytes(&partner_secret(i))
                .node_id()
                .to_string()
        })
        .collect();
    let t = Instant::now();
    let store = Arc::new(Store::open(&dir.join("db"))?);
    cosell::store::ensure_tables(&store)?;
    if first {
        vendor_seed(&store, &dir, &ids)?;
    }
    let run = store.next_run_counter()?;
    let deals = Arc::new(Deals::open(
        store.clone(),
        VENDOR_SECRET,
        run,
        "Vendor",
        Clock::system(),
    )?);
    // Which deals each partner holds (a restart reads them back from the engine).
    let mut partners: Vec<(String, Vec<DealId>)> =
        ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    let index = deals.participation();
    let deals_held: std::collections::HashSet<DealId> = deals.ids().into_iter().collect();
    for (id, held) in partners.iter_mut() {
        let node = protocol::identity::NodeId::parse(id).map_err(|e| anyhow!("{e}"))?;
        held.extend(
            index
                .documents_of(&node)
                .into_iter()
                .filter(|d| deals_held.contains(d)),
        );
    }
    let loaded = t.elapsed();
    let net = peers::start(
        NetConfig {
            secret: VENDOR_SECRET,
            listen: vec![format!("/ip4/127.0.0.1/tcp/{port}")],
            external: Vec::new(),
            relay: None,
            request_timeout: cosell::net::REQUEST_TIMEOUT,
        },
        store.clone(),
        deals.clone(),
        Clock::system(),
    )
    .await?;
    let mut vendor = Vendor {
        dir,
        store,
        deals,
        net,
        partners,
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "ready {} {:.0}",
        vendor.net.dial_addrs().join(","),
        ms(loaded)
    )?;
    out.flush()?;
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line?;
        let mut words = line.split_whitespace();
        let answer = match words.next() {
            Some("share") => vendor.share().await?,
            Some("status") => vendor.status(),
            Some("rss") => format!("rss {}", rss_kib()),
            Some("edit") => {
                let i: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                vendor.edit(i).await?
            }
            Some("policy") => vendor.policy().await?,
            Some("quit") | None => break,
            Some(other) => format!("error unknown command {other}"),
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    vendor.net.handle.stop().await;
    Ok(())
}

impl Vendor {
    async fn share(&mut self) -> Result<String> {
        let t = Instant::now();
        let listed = std::fs::read_to_string(self.dir.join("opportunities.txt"))?;
        let pairs: Vec<(String, String)> = listed
            .lines()
            .filter_map(|l| {
                let (i, opp) = l.split_once(' ')?;
                let i: usize = i.parse().ok()?;
                Some((opp.to_string(), self.partners.get(i)?.0.clone()))
            })
            .collect();
        let mut shared = 0;
        for (opp, partner) in pairs {
            let deals = self.deals.clone();
            let p = partner.clone();
            let id = tokio::task::spawn_blocking(move || {
                deals.share(&opp, &[p], Role::Vendor, now_ms())
            })
            .await?
            .map_err(|e| anyhow!("{e}"))?;
            let invitations = self.deals.with_invitations(id);
            self.net.handle.sync(invitations).await?;
            if let Some(slot) = self.partners.iter_mut().find(|(pid, _)| *pid == partner) {
                slot.1.push(id);
            }
            shared += 1;
        }
        Ok(format!("shared {shared} {:.0}", ms(t.elapsed())))
    }

    fn status(&self) -> String {
        let g = &self.net.gauges;
        let lag = g.sync_lag_seconds();
        let caught = lag.iter().filter(|(_, s)| *s == 0.0).count();
        format!(
            "status {} {} {}",
            g.connected_partners.load(Ordering::Relaxed),
            self.deals.counters.changes_received.load(Ordering::Relaxed),
            caught
        )
    }

    async fn edit(&self, i: usize) -> Result<String> {
        let Some(&deal) = self.partners.get(i).and_then(|p| p.1.first()) else {
            bail!("partner {i} has no deal");
        };
        let update = SectionUpdate {
            next_step: Some(format!("edit {}", now_ms())),
            ..SectionUpdate::default()
        };
        let deals = self.deals.clone();
        tokio::task::spawn_blocking(move || deals.update_section(deal, &update, now_ms()))
            .await?
            .map_err(|e| anyhow!("{e}"))?;
        self.net.handle.sync(vec![deal]).await?;
        Ok("edited".into())
    }

    /// The new policy for every partner, one `set_policy` each, its changed deals offered at
    /// once (as the API does).
    async fn policy(&self) -> Result<String> {
        let t = Instant::now();
        let policy = policy::Policy::from_toml(POLICY_AFTER).map_err(|e| anyhow!("{e:?}"))?;
        let mut changed_total = 0;
        for (id, _) in &self.partners {
            let record = shared::partner(&self.store, id)?.ok_or_else(|| anyhow!("partner"))?;
            let (deals, policy) = (self.deals.clone(), policy.clone());
            let (_, changed) = tokio::task::spawn_blocking(move || {
                deals.set_policy(&record, &policy, "bench", now_ms())
            })
            .await??;
            changed_total += changed.len();
            self.net.handle.sync(changed).await?;
        }
        Ok(format!("policy {changed_total} {:.0}", ms(t.elapsed())))
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: partners and the measurements

struct VendorProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    addrs: Vec<String>,
    load_ms: f64,
}

impl VendorProcess {
    fn spawn(dir: &Path, port: u16, count: usize) -> Result<VendorProcess> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args([
                "--vendor".to_string(),
                dir.display().to_string(),
                port.to_string(),
                count.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the vendor process")?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?);
        let mut vendor = VendorProcess {
            child,
            stdin,
            stdout,
            addrs: Vec::new(),
            load_ms: 0.0,
        };
        let ready = vendor.read()?;
        let mut words = ready.split_whitespace();
        if words.next() != Some("ready") {
            bail!("the vendor did not start: {ready}");
        }
        vendor.addrs = words
            .next()
            .unwrap_or("")
            .split(',')
            .map(String::from)
            .collect();
        vendor.load_ms = words.next().and_then(|w| w.parse().ok()).unwrap_or(0.0);
        Ok(vendor)
    }

    fn read(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the vendor process ended");
        }
        Ok(line.trim().to_string())
    }

    /// Sends a command without waiting for its answer (read it with [`VendorProcess::answer`]).
    fn send(&mut self, command: &str) -> Result<()> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        Ok(())
    }

    fn answer(&mut self) -> Result<String> {
        let answer = self.read()?;
        if answer.starts_with("error") {
            bail!("vendor: {answer}");
        }
        Ok(answer)
    }

    fn ask(&mut self, command: &str) -> Result<String> {
        self.send(command)?;
        let answer = self.read()?;
        if answer.starts_with("error") {
            bail!("vendor: {answer}");
        }
        Ok(answer)
    }

    /// (connected partners, changes received, partners caught up).
    fn status(&mut self) -> Result<(usize, u64, usize)> {
        let s = self.ask("status")?;
        let n: Vec<u64> = s
            .split_whitespace()
            .skip(1)
            .filter_map(|w| w.parse().ok())
            .collect();
        match n[..] {
            [a, b, c] => Ok((a as usize, b, c as usize)),
            _ => bail!("bad status {s}"),
        }
    }

    fn port(&self) -> u16 {
        self.addrs
            .iter()
            .find_map(|a| a.split("/tcp/").nth(1)?.split('/').next()?.parse().ok())
            .unwrap_or(0)
    }

    fn quit(mut self) -> Result<()> {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        Ok(())
    }
}

impl Drop for VendorProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Partner {
    deals: Arc<Deals>,
    net: Network,
}

impl Partner {
    async fn start(dir: &Path, i: usize, vendor_addrs: &[String]) -> Result<Partner> {
        let secret = partner_secret(i);
        let store = Arc::new(Store::open_with_cache(
            &dir.join("db"),
            PARTNER_CACHE_BYTES,
        )?);
        cosell::store::ensure_tables(&store)?;
        let vendor = NodeKey::from_secret_bytes(&VENDOR_SECRET)
            .node_id()
            .to_string();
        let txn = store.write()?;
        shared::put_partner_in(
            &txn,
            &partner_record(vendor, "Vendor".into(), "vendor", vendor_addrs.to_vec()),
        )?;
        txn.commit()?;
        let run = store.next_run_counter()?;
        let name = format!("Partner {i}");
        let deals = Arc::new(Deals::open(
            store.clone(),
            secret,
            run,
            &name,
            Clock::system(),
        )?);
        deals.set_auto_accept(true);
        let net = peers::start(
            NetConfig {
                secret,
                listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
                external: Vec::new(),
                relay: None,
                request_timeout: cosell::net::REQUEST_TIMEOUT,
            },
            store,
            deals.clone(),
            Clock::system(),
        )
        .await?;
        Ok(Partner { deals, net })
    }

    fn received(&self) -> u64 {
        self.deals.counters.changes_received.load(Ordering::Relaxed)
    }

    fn connected(&self) -> bool {
        self.net.gauges.connected_partners.load(Ordering::Relaxed) == 1
    }

    fn caught_up(&self) -> bool {
        let lag = self.net.gauges.sync_lag_seconds();
        self.connected() && !lag.is_empty() && lag.iter().all(|(_, s)| *s == 0.0)
    }
}

/// Polls `done` until it holds; fails after [`WAIT_MAX`]. Says how far it got every 30 s.
async fn wait(what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<Duration> {
    let start = Instant::now();
    let mut report = start + Duration::from_secs(30);
    while !done()? {
        if start.elapsed() > WAIT_MAX {
            bail!("timed out waiting for {what}");
        }
        if Instant::now() >= report {
            eprintln!(
                "still waiting for {what} ({:.0}s)",
                start.elapsed().as_secs_f64()
            );
            report += Duration::from_secs(30);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(start.elapsed())
}

/// Waits until `done(i)` holds for every partner; when each first did, from `start`.
async fn each_partner(
    what: &str,
    partners: &[Partner],
    start: Instant,
    done: impl Fn(&Partner) -> bool,
) -> Result<Vec<Duration>> {
    let mut at: Vec<Option<Duration>> = vec![None; partners.len()];
    wait(what, || {
        for (slot, p) in at.iter_mut().zip(partners) {
            if slot.is_none() && done(p) {
                *slot = Some(start.elapsed());
            }
        }
        Ok(at.iter().all(Option::is_some))
    })
    .await?;
    Ok(at.into_iter().flatten().collect())
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn parent_main(count: usize) -> Result<()> {
    let root = tempfile::tempdir()?;
    let vendor_dir = root.path().join("vendor");
    std::fs::create_dir_all(&vendor_dir)?;
    println!(
        "hub: 1 vendor, {count} partners, {DEALS_PER_PARTNER} deals each; load {}",
        uptime()
    );

    let t = Instant::now();
    let mut vendor = VendorProcess::spawn(&vendor_dir, 0, count)?;
    let port = vendor.port();
    println!(
        "setup: vendor seeded and started in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut partners = Vec::with_capacity(count);
    for i in 0..count {
        let dir = root.path().join(format!("p{i}"));
        std::fs::create_dir_all(&dir)?;
        partners.push(Partner::start(&dir, i, &vendor.addrs).await?);
    }
    let connect = wait("every partner to connect", || {
        Ok(vendor.status()?.0 == count)
    })
    .await?;
    println!(
        "setup: {count} partners started in {:.1}s, all connected {:.1}s later; parent RSS {} MiB",
        (t.elapsed() - connect).as_secs_f64(),
        connect.as_secs_f64(),
        rss_kib() / 1024
    );

    // First sync: shares, invitations accepted, deals delivered.
    let t = Instant::now();
    vendor.send("share")?;
    let first = each_partner("every partner to hold its deals", &partners, t, |p| {
        p.deals.ids().len() == DEALS_PER_PARTNER
    })
    .await?;
    let shared = vendor.answer()?;
    println!(
        "first sync: {shared} (count, ms); each partner holding its {DEALS_PER_PARTNER} deals: {}",
        summary(first)
    );
    wait("the vendor to see every partner caught up", || {
        Ok(vendor.status()?.2 == count)
    })
    .await?;
    let rss = vendor.ask("rss")?;
    println!(
        "vendor {} KiB with {count} partners connected and idle; load {}",
        rss.trim_start_matches("rss "),
        uptime()
    );

    // One deal at a time on an idle network.
    let samples = SINGLE_CHANGES.min(count);
    let mut single = Vec::with_capacity(samples);
    for s in 0..samples {
        let i = s * count / samples;
        let before = partners[i].received();
        let t = Instant::now();
        vendor.ask(&format!("edit {i}"))?;
        let p = &partners[i];
        wait("the participant to hold the change", || {
            Ok(p.received() > before)
        })
        .await?;
        single.push(t.elapsed());
    }
    println!(
        "single-deal change to its participant (idle network): {}",
        summary(single)
    );

    // A policy change re-projecting every partner's deals.
    let base: Vec<u64> = partners.iter().map(Partner::received).collect();
    let t = Instant::now();
    vendor.send("policy")?;
    let reached = each_partner(
        "every partner to hold its re-projected deals",
        &partners,
        t,
        |p| {
            let i = partners
                .iter()
                .position(|q| std::ptr::eq(q, p))
                .unwrap_or(0);
            p.received() >= base[i] + DEALS_PER_PARTNER as u64
        },
    )
    .await?;
    let policy = vendor.answer()?;
    let policy_done = t.elapsed();
    println!(
        "policy change for all partners: {policy} (deals changed, ms of the vendor's loop; answer read after {:.1}s); from the loop's start until each partner held its re-projected deals: {}",
        policy_done.as_secs_f64(),
        summary(reached)
    );

    // Vendor restart: stopped, each partner writes one change meanwhile, started again.
    wait("the vendor to see every partner caught up", || {
        Ok(vendor.status()?.2 == count)
    })
    .await?;
    let (_, received_before, _) = vendor.status()?;
    vendor.quit()?;
    wait("every partner to see the vendor gone", || {
        Ok(partners.iter().all(|p| !p.connected()))
    })
    .await?;
    for (i, p) in partners.iter().enumerate() {
        let Some(&deal) = p.deals.ids().first() else {
            bail!("partner {i} holds no deal");
        };
        let update = SectionUpdate {
            next_step: Some("written while the vendor was down".into()),
            ..SectionUpdate::default()
        };
        p.deals
            .update_section(deal, &update, now_ms())
            .map_err(|e| anyhow!("{e}"))?;
        p.net.handle.sync(vec![deal]).await?;
    }
    let t = Instant::now();
    let mut vendor = VendorProcess::spawn(&vendor_dir, port, count)?;
    let started = t.elapsed();
    let t = Instant::now();
    let caught = each_partner(
        "every partner to catch up after the restart",
        &partners,
        t,
        |p| p.caught_up(),
    )
    .await?;
    let all = wait("the vendor to hold every partner's change", || {
        let (_, received, caught) = vendor.status()?;
        Ok(received >= count as u64 && caught == count)
    })
    .await?;
    println!(
        "vendor restart: store opened and deals re-verified in {:.1}s (process up after {:.1}s); then each partner caught up: {}; vendor holding all {count} offline changes and caught up with all after {:.1}s (before the restart it had received {received_before})",
        vendor.load_ms / 1e3,
        started.as_secs_f64(),
        summary(caught),
        (t.elapsed() - all + all).as_secs_f64(),
    );
    let rss = vendor.ask("rss")?;
    println!(
        "vendor {} KiB after the restart; load {}",
        rss.trim_start_matches("rss "),
        uptime()
    );
    vendor.quit()?;
    for p in &partners {
        p.net.handle.stop().await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--vendor") {
        let dir = PathBuf::from(args.get(1).ok_or_else(|| anyhow!("--vendor DIR PORT N"))?);
        let port = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
        let count = args.get(3).and_then(|p| p.parse().ok()).unwrap_or(0);
        return vendor_main(dir, port, count).await;
    }
    let count: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(1000);
    parent_main(count).await
}
