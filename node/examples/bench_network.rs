//! Network benchmarks P1, P2 and P7 (BENCHMARKS.md `## network`): two in-process nodes (the
//! node library: redb store, deal engine, libp2p swarm) on 127.0.0.1, the automerge-repo peer
//! beside them.
//!
//! ```text
//! cargo run --release -p cosell-node --example bench_network -- [DEALS] [EDITS]
//! ```
//!
//! - P2: DEALS deals (default 10,000) of 20 signed changes by 3 authors (vendor A's shared
//!   fields, reseller B's and SI C's sections) are in A's store; B starts empty and syncs them
//!   all. Reports deals/s and bytes on the wire, then runs the automerge-repo peer with
//!   `PEER_DEALS` documents (default DEALS; 0 skips it) and prints the ratio.
//! - P1: EDITS (default 300) edits of A's section of one deal, one at a time: time from the
//!   edit call on A until B's copy shows it (p50, p99, max).
//! - P7: B goes offline; A makes 1,000 changes on 100 deals; B comes back: bytes both ways
//!   until A reports B caught up, against A's store size.

use anyhow::{anyhow, Context, Result};
use cosell::clock::Clock;
use cosell::domain::deals::Deals;
use cosell::domain::peers::{self, Network};
use cosell::net::NetConfig;
use cosell::store::shared::{self, DealMeta, PartnerRecord, PartnerStatus};
use cosell::store::Store;
use protocol::deal::{DealDoc, DealId, Invite, Role, SectionUpdate, SharedFields, Signer};
use protocol::identity::NodeKey;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Changes per deal in P2 (as the automerge-repo peer's documents).
const CHANGES_PER_DEAL: usize = 20;
/// Deals changed while B is offline (P7).
const P7_DEALS: usize = 100;
/// Changes per changed deal (P7): 100 × 10 = 1,000.
const P7_CHANGES_PER_DEAL: usize = 10;
/// Longest wait for any convergence.
const WAIT_MAX: Duration = Duration::from_secs(1800);
/// Run counter of the pre-built changes (the engines' own runs start at 1).
const PREBUILT_RUN: u64 = 1_000;

const SECRET_A: [u8; 32] = [1; 32];
const SECRET_B: [u8; 32] = [2; 32];
const SECRET_C: [u8; 32] = [3; 32];

struct Side {
    secret: [u8; 32],
    store: Arc<Store>,
    deals: Arc<Deals>,
    net: Option<Network>,
}

impl Side {
    fn open(dir: &Path, name: &'static str, secret: [u8; 32]) -> Result<Side> {
        let store = Arc::new(Store::open(&dir.join("db"))?);
        cosell::store::ensure_tables(&store)?;
        let run = store.next_run_counter()?;
        let deals = Arc::new(Deals::open(
            store.clone(),
            secret,
            run,
            name,
            Clock::system(),
        )?);
        Ok(Side {
            secret,
            store,
            deals,
            net: None,
        })
    }

    async fn start(&mut self) -> Result<()> {
        let network = peers::start(
            NetConfig {
                secret: self.secret,
                listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
                external: Vec::new(),
                relay: None,
                request_timeout: cosell::net::REQUEST_TIMEOUT,
            },
            self.store.clone(),
            self.deals.clone(),
            Clock::system(),
        )
        .await?;
        self.net = Some(network);
        Ok(())
    }

    fn net(&self) -> &Network {
        self.net.as_ref().expect("the node is online")
    }

    /// Bytes of sync frames this node sent and received so far.
    fn bytes(&self) -> (u64, u64) {
        let g = &self.net().gauges;
        (
            g.sync_bytes_sent.load(Ordering::Relaxed),
            g.sync_bytes_received.load(Ordering::Relaxed),
        )
    }

    /// Bytes that crossed the wire, compressed where they were (all frames, with lengths).
    fn wire_bytes(&self) -> (u64, u64) {
        let w = &self.net().gauges.wire;
        (
            w.sent.load(Ordering::Relaxed),
            w.received.load(Ordering::Relaxed),
        )
    }

    fn received(&self) -> u64 {
        self.deals.counters.changes_received.load(Ordering::Relaxed)
    }

    /// Whether this node's sync with every partner is caught up.
    fn caught_up(&self) -> bool {
        let lag = self.net().gauges.sync_lag_seconds();
        !lag.is_empty() && lag.iter().all(|(_, s)| *s == 0.0)
    }
}

fn partner_record(
    key: &NodeKey,
    name: &str,
    partner_type: &str,
    addrs: Vec<String>,
) -> PartnerRecord {
    PartnerRecord {
        id: key.node_id().to_string(),
        name: name.into(),
        partner_type: Some(partner_type.into()),
        status: PartnerStatus::Active,
        since_ms: 1,
        last_seen_ms: None,
        addrs,
        removed_ms: None,
        ended_by_partner: false,
    }
}

fn put_partner(dir: &Path, record: &PartnerRecord) -> Result<()> {
    let store = Store::open(&dir.join("db"))?;
    cosell::store::ensure_tables(&store)?;
    let txn = store.write()?;
    shared::put_partner_in(&txn, record)?;
    txn.commit()?;
    Ok(())
}

/// One deal: genesis by A, then edits rotating among A (shared fields), B and C (own sections).
fn build_deal(signers: &[Signer; 3], n: usize) -> Result<DealDoc> {
    let [a, b, c] = signers;
    let invites = [
        Invite {
            node: b.node_id().clone(),
            name: "Reseller".into(),
            role: Role::Reseller,
        },
        Invite {
            node: c.node_id().clone(),
            name: "SI".into(),
            role: Role::Services,
        },
    ];
    let shared = SharedFields {
        title: Some(format!("deal {n}")),
        ..SharedFields::default()
    };
    let (mut doc, _) = DealDoc::create(a, 1, "Vendor", Role::Vendor, &invites, &shared)?;
    for i in 1..CHANGES_PER_DEAL {
        let now = 1 + i as u64;
        if i % 3 == 0 {
            let up = SharedFields {
                title: Some(format!("deal {n} v{i}")),
                ..SharedFields::default()
            };
            doc.set_shared(a, now, &up)?;
        } else {
            let who = if i % 3 == 1 { b } else { c };
            let up = SectionUpdate {
                next_step: Some(format!("step {i}")),
                add_notes: vec![format!("note {i} on deal {n}")],
                ..SectionUpdate::default()
            };
            doc.update_section(who, now, &up)?;
        }
    }
    Ok(doc)
}

/// Writes `count` pre-built deals into the store at `dir` (1,000 per transaction).
fn seed_deals(dir: &Path, count: usize) -> Result<u64> {
    seed_deals_at(&dir.join("db"), count)
}

/// Writes `count` pre-built deals into the store file `db` (bench_backup uses it too); returns
/// the bytes of the same documents as Automerge saves them (`save()`, compressed): the anchor of
/// the first-sync wire size.
pub(crate) fn seed_deals_at(db: &Path, count: usize) -> Result<u64> {
    let mut saved = 0u64;
    let signers = [SECRET_A, SECRET_B, SECRET_C]
        .map(|s| Signer::new(NodeKey::from_secret_bytes(&s), PREBUILT_RUN));
    let store = Store::open(db)?;
    cosell::store::ensure_tables(&store)?;
    let mut n = 0;
    while n < count {
        let txn = store.write()?;
        for i in n..(n + 1000).min(count) {
            let doc = build_deal(&signers, i)?;
            saved += doc.automerge().save().len() as u64;
            let id = doc.id().to_string();
            shared::put_deal_meta_in(
                &txn,
                &DealMeta {
                    id: id.clone(),
                    opportunity_id: None,
                    stored_ms: 1,
                    redacted: Vec::new(),
                },
            )?;
            for change in doc.automerge().get_changes(&[]) {
                let envelope = doc
                    .envelope(&change.hash())
                    .ok_or_else(|| anyhow!("a change without its envelope"))?;
                shared::put_change_in(&txn, &id, &change.hash().to_string(), &envelope.encode())?;
            }
        }
        txn.commit()?;
        n = (n + 1000).min(count);
    }
    Ok(saved)
}

/// Polls `done` every 200 µs until it holds; the time it took.
fn wait(what: &str, mut done: impl FnMut() -> bool) -> Result<Duration> {
    let start = Instant::now();
    let mut report = start + Duration::from_secs(30);
    while !done() {
        if start.elapsed() > WAIT_MAX {
            return Err(anyhow!("timed out waiting for {what}"));
        }
        if Instant::now() >= report {
            eprintln!(
                "still waiting for {what} ({:.0}s)",
                start.elapsed().as_secs_f64()
            );
            report += Duration::from_secs(30);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(start.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_bytes(&p)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Bytes of signed envelopes a store holds (the logical size of its deals).
fn envelope_bytes(store: &Store, deals: &[DealId]) -> Result<u64> {
    let mut total = 0;
    for id in deals {
        total += shared::deal_changes(store, &id.to_string())?
            .iter()
            .map(|e| e.len() as u64)
            .sum::<u64>();
    }
    Ok(total)
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let edits: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(300);
    let peer_count: usize = std::env::var("PEER_DEALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(count);
    let root = tempfile::tempdir()?;
    let (dir_a, dir_b) = (root.path().join("a"), root.path().join("b"));
    std::fs::create_dir_all(&dir_a)?;
    std::fs::create_dir_all(&dir_b)?;
    let key = |s: &[u8; 32]| NodeKey::from_secret_bytes(s);

    // Setup (not timed as sync): A's store holds the deals, B is its partner.
    let t = Instant::now();
    let saved = seed_deals(&dir_a, count)?;
    put_partner(
        &dir_a,
        &partner_record(&key(&SECRET_B), "Reseller", "reseller", vec![]),
    )?;
    println!(
        "setup: built and stored {count} deals x {CHANGES_PER_DEAL} changes in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut a = Side::open(&dir_a, "Vendor", SECRET_A)?;
    println!(
        "setup: A loaded (re-verified) {} deals in {:.1}s",
        a.deals.ids().len(),
        t.elapsed().as_secs_f64()
    );
    a.start().await?;
    put_partner(
        &dir_b,
        &partner_record(&key(&SECRET_A), "Vendor", "vendor", a.net().dial_addrs()),
    )?;
    let mut b = Side::open(&dir_b, "Reseller", SECRET_B)?;

    // P2: B starts empty and syncs everything.
    let want = (count * CHANGES_PER_DEAL) as u64;
    let t = Instant::now();
    b.start().await?;
    let first = wait("B to hold every change", || b.received() >= want)?;
    let p2 = wait("A to see B caught up", || a.caught_up() && b.caught_up())? + first;
    let (a_sent, _) = a.bytes();
    let (b_sent, _) = b.bytes();
    let (a_wire, a_wire_in) = a.wire_bytes();
    let held = b.deals.ids().len();
    anyhow::ensure!(held == count, "B holds {held} of {count} deals");
    println!(
        "P2: {count} deals ({want} changes) A -> empty B: all changes after {:.2}s, both caught up after {:.2}s: {:.0} deals/s; wire {:.1} MB A->B, {:.1} MB B->A (total {:.2}s)",
        first.as_secs_f64(),
        p2.as_secs_f64(),
        count as f64 / first.as_secs_f64(),
        a_sent as f64 / 1e6,
        b_sent as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    println!(
        "P2 wire: {:.1} MB A->B on the wire (compressed frames), {:.1} MB B->A; Automerge save() of the same {count} deals: {:.1} MB; wire / save() = {:.2}x",
        a_wire as f64 / 1e6,
        a_wire_in as f64 / 1e6,
        saved as f64 / 1e6,
        a_wire as f64 / saved.max(1) as f64
    );

    // P1: one edit at a time on A; until B's copy shows it.
    let deal = b.deals.ids()[0];
    let a_id = a.deals.me().to_string();
    let mut latencies = Vec::with_capacity(edits);
    for i in 0..edits {
        let update = SectionUpdate {
            next_step: Some(format!("p1 edit {i}")),
            ..SectionUpdate::default()
        };
        let expected = format!("p1 edit {i}");
        let start = Instant::now();
        a.deals
            .update_section(deal, &update, 10_000 + i as u64)
            .map_err(|e| anyhow!("{e}"))?;
        a.net().handle.sync(vec![deal]).await?;
        wait("B to see the edit", || {
            b.deals
                .view(deal, false)
                .ok()
                .flatten()
                .is_some_and(|v| v["sections"][&a_id]["next_step"] == expected.as_str())
        })?;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    println!(
        "P1: {edits} edits A -> B ({count}-deal stores): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().expect("edits"))
    );

    // P7: B offline; 1,000 changes on 100 deals; B back.
    wait("A and B to settle", || a.caught_up() && b.caught_up())?;
    b.net = None;
    wait("A to see B gone", || {
        a.net().gauges.connected_partners.load(Ordering::Relaxed) == 0
    })?;
    let ids = a.deals.ids();
    let changed: Vec<DealId> = ids
        .iter()
        .step_by((ids.len() / P7_DEALS).max(1))
        .take(P7_DEALS)
        .copied()
        .collect();
    for (n, id) in changed.iter().enumerate() {
        for i in 0..P7_CHANGES_PER_DEAL {
            let update = SectionUpdate {
                add_notes: vec![format!("offline note {i} on {n}")],
                ..SectionUpdate::default()
            };
            a.deals
                .update_section(*id, &update, 20_000 + i as u64)
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    let p7_changes = (changed.len() * P7_CHANGES_PER_DEAL) as u64;
    let (a_sent0, a_recv0) = a.bytes();
    let b_before = b.received();
    let t = Instant::now();
    b.start().await?;
    wait("B to receive the offline changes", || {
        b.received() >= b_before + p7_changes
    })?;
    let caught = wait("A and B caught up", || a.caught_up() && b.caught_up())?;
    let (a_sent1, a_recv1) = a.bytes();
    let (sent, recv) = (a_sent1 - a_sent0, a_recv1 - a_recv0);
    let store_bytes = dir_bytes(&dir_a);
    let envelopes = envelope_bytes(&a.store, &ids)?;
    let changed_envelopes = envelope_bytes(&a.store, &changed)?;
    println!(
        "P7: B back after {p7_changes} changes on {} of {count} deals: caught up in {:.2}s ({:.2}s after the last change arrived); A sent {:.1} KB, received {:.1} KB = {:.1} KB total; A's store {:.1} MB on disk, {:.1} MB of envelopes ({:.2}% sent), the changed deals' envelopes {:.1} KB",
        changed.len(),
        t.elapsed().as_secs_f64(),
        caught.as_secs_f64(),
        sent as f64 / 1e3,
        recv as f64 / 1e3,
        (sent + recv) as f64 / 1e3,
        store_bytes as f64 / 1e6,
        envelopes as f64 / 1e6,
        100.0 * (sent + recv) as f64 / envelopes as f64,
        changed_envelopes as f64 / 1e3,
    );

    // The automerge-repo peer, same machine, same run.
    if peer_count > 0 {
        let script = PathBuf::from(std::env::var("PEER_SCRIPT").unwrap_or_else(|_| {
            // The rival peers live beside the project checkout (see BENCHMARKS.md).
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/peers/automerge-repo/run.sh"
            )
            .into()
        }));
        println!("peer: running {} {peer_count} …", script.display());
        let t = Instant::now();
        let out = std::process::Command::new(&script)
            .arg(peer_count.to_string())
            .output()
            .with_context(|| format!("cannot run {}", script.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .unwrap_or("");
        println!("peer ({:.0}s): {line}", t.elapsed().as_secs_f64());
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            let peer_rate = ["docs_per_s", "docs_per_sec", "docsPerSec", "rate"]
                .iter()
                .find_map(|k| v[k].as_f64());
            if let Some(r) = peer_rate {
                println!(
                    "ratio: cosell {:.0} deals/s at {count} vs automerge-repo {r:.0} docs/s at {peer_count}: {:.1}x",
                    count as f64 / first.as_secs_f64(),
                    count as f64 / first.as_secs_f64() / r
                );
            }
        } else {
            println!("peer stderr: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    Ok(())
}
