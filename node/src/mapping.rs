//! Account mapping between two partners (DESIGN.md "Account mapping", issue 8): populations,
//! the run over the network, the stored matrix, the run log and the rate limit.
//!
//! # A run
//!
//! The initiator drives; every exchange is one request-response of kind `MAP` ([`wire`]):
//! 1. `open`: the initiator sends its population names with the level its policy for the
//!    responder allows for each; the responder answers with its own. The cells are my populations ×
//!    theirs; a cell's level is the lesser of the two (`hidden < counts < overlaps < all`), so
//!    what a node learns about a partner's population is at most what the partner's policy allows.
//! 2. Per cell not `hidden`: one PSI session pair ([`protocol::psi`]), messages batched under
//!    [`BATCH_BYTES_MAX`] per request; the responder keeps what did not fit and says `more`.
//!    Scalar multiplications run on blocking threads, one job per chunk.
//! 3. Per cell at `overlaps`: both sides send the accounts that matched (keyed by their domain,
//!    which the other side has too), projected by their policy; at `all`, the whole population.
//!    A receiver keeps only records of its own matched domains at `overlaps`.
//! 4. `close`: both sides store their view of the matrix, signed with the node key, and log the
//!    run in the audit.
//!
//! Runs per partner are limited to [`RUNS_PER_HOUR_MAX`] an hour, counted on both sides.

pub mod wire;

use crate::net::{MapInbound, Network};
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use libp2p::PeerId;
use policy::{AccountField, Policy, Population, SharingLevel};
use protocol::psi::{PsiLevel, PsiMessage, PsiOutcome, PsiSession};
use protocol::records::{Account, AccountStatus, Stage};
use redb::TableDefinition;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wire::{Header, Offer, SharedRecord};

/// Most mapping runs per partner per hour (started by either side). What limits a partner that
/// probes by inserting guessed domains (SECURITY.md).
pub const RUNS_PER_HOUR_MAX: usize = 12;
/// Bytes of PSI messages in one request or answer (a few chunks; far under the frame limit).
pub const BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Bytes of shared account records in one answer.
pub const RECORDS_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Most populations per node (so at most this squared cells per run).
pub const POPULATIONS_MAX: usize = 16;
/// Exchanges per cell before a run is abandoned as stalled.
pub const EXCHANGES_PER_CELL_MAX: usize = 10_000;
/// How long a responder keeps an unfinished run.
pub const RUN_TTL: Duration = Duration::from_secs(600);
/// Audit entry kind of a mapping run.
pub const AUDIT_KIND: &str = "mapping";
/// Longest population name.
pub const POPULATION_NAME_MAX: usize = 40;

/// Name → [`PopulationDef`] as JSON (custom populations only).
const POPULATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("mapping_populations");
/// Partner node id → [`StoredMatrix`] as JSON: the latest run.
const MATRICES: TableDefinition<&str, &[u8]> = TableDefinition::new("mapping_matrices");

/// Creates the mapping tables.
pub fn ensure_tables(store: &Store) -> Result<()> {
    let txn = store.write()?;
    txn.open_table(POPULATIONS)?;
    txn.open_table(MATRICES)?;
    txn.commit()?;
    Ok(())
}

/// A named filter over this node's accounts. Empty lists let everything through; the lists are a
/// conjunction, each list a disjunction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct PopulationDef {
    /// The name partners see in the matrix.
    pub name: String,
    /// Account statuses.
    #[serde(default)]
    pub statuses: Vec<String>,
    /// Industries (case-insensitive).
    #[serde(default)]
    pub industries: Vec<String>,
    /// Countries (case-insensitive).
    #[serde(default)]
    pub countries: Vec<String>,
    /// Tags: the account has at least one.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Opportunity stages: the account has an opportunity in one of them.
    #[serde(default)]
    pub stages: Vec<String>,
    /// Whether it is one of the built-ins (not stored, not changeable).
    #[serde(default)]
    pub builtin: bool,
}

impl PopulationDef {
    /// Checks the name and every value; normalizes statuses and stages.
    pub fn validated(mut self) -> Result<PopulationDef> {
        let name = self.name.trim().to_string();
        if name.is_empty()
            || name.len() > POPULATION_NAME_MAX
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            bail!("a population name is 1 to {POPULATION_NAME_MAX} characters of a-z, 0-9, _ and -, not '{name}'");
        }
        if Population::ALL.iter().any(|p| p.as_str() == name) {
            bail!("'{name}' is a built-in population and cannot be changed");
        }
        self.name = name;
        self.statuses = self
            .statuses
            .iter()
            .map(|s| AccountStatus::parse(s).map(|s| s.as_str().to_string()))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("{e}"))?;
        self.stages = self
            .stages
            .iter()
            .map(|s| Stage::parse(s).map(|s| s.as_str().to_string()))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("{e}"))?;
        self.builtin = false;
        Ok(self)
    }

    fn matches(&self, account: &Account, stages: &[Stage]) -> bool {
        let any_ci = |list: &[String], v: Option<&str>| {
            list.is_empty() || v.is_some_and(|v| list.iter().any(|l| l.eq_ignore_ascii_case(v)))
        };
        (self.statuses.is_empty() || self.statuses.iter().any(|s| s == account.status.as_str()))
            && any_ci(&self.industries, account.industry.as_deref())
            && any_ci(&self.countries, account.country.as_deref())
            && (self.tags.is_empty()
                || account
                    .tags
                    .iter()
                    .any(|t| self.tags.iter().any(|w| w.eq_ignore_ascii_case(t))))
            && (self.stages.is_empty()
                || stages
                    .iter()
                    .any(|s| self.stages.iter().any(|w| w == s.as_str())))
    }

    fn builtin_kind(&self) -> Option<Population> {
        if !self.builtin {
            return None;
        }
        Population::ALL
            .into_iter()
            .find(|p| p.as_str() == self.name)
    }
}

/// The built-in populations.
pub fn builtins() -> Vec<PopulationDef> {
    let open: Vec<String> = Stage::ALL
        .into_iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str().to_string())
        .collect();
    vec![
        PopulationDef {
            name: Population::Customers.as_str().into(),
            statuses: vec!["customer".into()],
            builtin: true,
            ..Default::default()
        },
        PopulationDef {
            name: Population::Prospects.as_str().into(),
            statuses: vec!["prospect".into()],
            builtin: true,
            ..Default::default()
        },
        PopulationDef {
            name: Population::OpenOpportunities.as_str().into(),
            stages: open,
            builtin: true,
            ..Default::default()
        },
    ]
}

/// Every population: the built-ins then the custom ones by name.
pub fn populations(store: &Store) -> Result<Vec<PopulationDef>> {
    let mut out = builtins();
    let txn = store.read()?;
    let table = match txn.open_table(POPULATIONS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in table.range::<&str>(..)? {
        let (_, v) = entry?;
        out.push(serde_json::from_slice(v.value()).context("a stored population is corrupt")?);
    }
    Ok(out)
}

/// Stores (creates or replaces) a custom population and audits it.
pub fn set_population(store: &Store, def: PopulationDef, now_ms: u64) -> Result<PopulationDef> {
    let def = def.validated()?;
    let existing = populations(store)?;
    if !existing.iter().any(|p| p.name == def.name) && existing.len() >= POPULATIONS_MAX {
        bail!("at most {POPULATIONS_MAX} populations");
    }
    let txn = store.write()?;
    {
        let mut table = txn.open_table(POPULATIONS)?;
        table.insert(def.name.as_str(), serde_json::to_vec(&def)?.as_slice())?;
    }
    crate::audit::record_in(
        &txn,
        now_ms,
        crate::audit::kind::POLICY,
        None,
        format!("set mapping population {}", def.name),
        json!({"event": "population_set", "population": def}),
    )?;
    txn.commit()?;
    Ok(def)
}

/// Removes a custom population; false if there was none.
pub fn delete_population(store: &Store, name: &str) -> Result<bool> {
    let txn = store.write()?;
    let removed = {
        let mut table = txn.open_table(POPULATIONS)?;
        let removed = table.remove(name)?.is_some();
        removed
    };
    txn.commit()?;
    Ok(removed)
}

/// The level this node's policy for a partner allows for a population.
pub fn level_for(policy: &Policy, def: &PopulationDef) -> SharingLevel {
    match def.builtin_kind() {
        Some(p) => policy.accounts().level_for(p),
        None => policy.accounts().sharing(),
    }
}

fn psi_level(level: SharingLevel) -> PsiLevel {
    match level {
        SharingLevel::Hidden => PsiLevel::Hidden,
        SharingLevel::Counts => PsiLevel::Counts,
        SharingLevel::Overlaps | SharingLevel::All => PsiLevel::Overlaps,
    }
}

fn parse_level(s: &str) -> Result<SharingLevel> {
    SharingLevel::ALL
        .into_iter()
        .find(|l| l.as_str() == s)
        .ok_or_else(|| anyhow!("unknown sharing level '{s}'"))
}

/// One population as evaluated for one partner: the accounts the policy admits, with a domain.
struct PopData {
    name: String,
    level: SharingLevel,
    accounts: Vec<Account>,
}

impl PopData {
    fn elements(&self) -> Vec<Vec<u8>> {
        self.accounts
            .iter()
            .map(|a| {
                a.domain
                    .as_ref()
                    .map_or(Vec::new(), |d| d.as_str().as_bytes().to_vec())
            })
            .collect()
    }
}

/// Account id → its opportunity ids.
type OppsByAccount = HashMap<String, Vec<String>>;

/// Evaluates every population for a partner's policy (on a blocking thread).
fn evaluate(store: &Store, policy: &Policy) -> Result<(Vec<PopData>, OppsByAccount)> {
    let defs = populations(store)?;
    let mut stages: HashMap<String, Vec<Stage>> = HashMap::new();
    let mut opps: HashMap<String, Vec<String>> = HashMap::new();
    store.for_each_opportunity_with_account(|o, _| {
        stages
            .entry(o.account_id.clone())
            .or_default()
            .push(o.stage);
        opps.entry(o.account_id.clone())
            .or_default()
            .push(o.id.clone());
        true
    })?;
    let mut out: Vec<PopData> = defs
        .iter()
        .map(|d| PopData {
            name: d.name.clone(),
            level: level_for(policy, d),
            accounts: Vec::new(),
        })
        .collect();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_accounts(None, cursor.as_deref(), 10_000)?;
        for a in &page.items {
            if a.domain.is_none() || !policy.accounts().admits(a) {
                continue;
            }
            let st = stages.get(&a.id).map(Vec::as_slice).unwrap_or(&[]);
            for (d, p) in defs.iter().zip(out.iter_mut()) {
                if d.matches(a, st) {
                    p.accounts.push(a.clone());
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok((out, opps))
}

/// Runs a step's jobs on blocking threads (all chunks at once) until none are left; returns the
/// messages for the peer.
async fn advance(session: &mut PsiSession, incoming: Vec<PsiMessage>) -> Result<Vec<PsiMessage>> {
    let mut out = Vec::new();
    let mut jobs = Vec::new();
    for m in incoming {
        let step = session.receive(m).map_err(|e| anyhow!("psi: {e}"))?;
        out.extend(step.send);
        jobs.extend(step.jobs);
    }
    while !jobs.is_empty() {
        let handles: Vec<_> = jobs
            .drain(..)
            .map(|j| tokio::task::spawn_blocking(move || j.run()))
            .collect();
        for h in handles {
            let output = h.await.context("a psi job failed")?;
            let step = session.complete(output).map_err(|e| anyhow!("psi: {e}"))?;
            out.extend(step.send);
            jobs.extend(step.jobs);
        }
    }
    Ok(out)
}

/// Takes messages from the front of `outbox` up to [`BATCH_BYTES_MAX`] (at least one).
fn take_batch(outbox: &mut VecDeque<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut bytes = 0;
    while let Some(m) = outbox.front() {
        if !out.is_empty() && bytes + m.len() > BATCH_BYTES_MAX {
            break;
        }
        bytes += m.len();
        out.push(outbox.pop_front().expect("front exists"));
    }
    out
}

fn decode_all(messages: Vec<Vec<u8>>) -> Result<Vec<PsiMessage>> {
    messages
        .iter()
        .map(|m| PsiMessage::decode(m).map_err(|e| anyhow!("psi message: {e}")))
        .collect()
}

/// The records one side sends for a cell after PSI: at `all` the whole population, at
/// `overlaps` the matched accounts, else nothing. Projected by the sender's policy.
fn records_to_share(
    policy: &Policy,
    pop: &PopData,
    level: SharingLevel,
    outcome: Option<&PsiOutcome>,
) -> Vec<SharedRecord> {
    let project = |a: &Account, with_key: bool| SharedRecord {
        key: if with_key {
            a.domain.as_ref().map(|d| d.as_str().to_string())
        } else {
            None
        },
        fields: policy::project_account(policy, a)
            .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
            .unwrap_or_else(|| json!({})),
    };
    let domain_shared = policy.accounts().fields().contains(&AccountField::Domain);
    let mut out = Vec::new();
    let mut bytes = 0;
    let mut push = |r: SharedRecord| {
        let n = serde_json::to_vec(&r).map_or(0, |v| v.len());
        if bytes + n <= RECORDS_BYTES_MAX {
            bytes += n;
            out.push(r);
        }
    };
    match (level, outcome) {
        (SharingLevel::All, outcome) => {
            // A matched domain is known to the receiver already: key it so it can be joined.
            let matched: HashSet<usize> = match outcome {
                Some(PsiOutcome::Overlaps { matched, .. }) => matched.iter().copied().collect(),
                _ => HashSet::new(),
            };
            for (i, a) in pop.accounts.iter().enumerate() {
                push(project(a, domain_shared || matched.contains(&i)));
            }
        }
        (SharingLevel::Overlaps, Some(PsiOutcome::Overlaps { matched, .. })) => {
            let mut seen = HashSet::new();
            for &i in matched {
                if let Some(a) = pop.accounts.get(i) {
                    if seen.insert(a.id.clone()) {
                        push(project(a, true));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// One cell of the matrix, as this node sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    /// My population.
    pub mine: String,
    /// The partner's population.
    pub theirs: String,
    /// What this cell revealed: the lesser of both sides' levels.
    pub level: String,
    /// The number of accounts in common (`null` when hidden).
    pub count: Option<usize>,
    /// My matched accounts with the partner's shared fields (at `overlaps` and `all`).
    pub overlaps: Vec<Value>,
    /// The partner's whole population with its shared fields (at `all` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partner_accounts: Vec<Value>,
    /// My level for my population, and the partner's for theirs.
    pub my_level: String,
    /// The partner's level for its population.
    pub their_level: String,
    /// The padded sizes of both lists, as each side saw them (mine, theirs).
    pub buckets: (usize, usize),
}

/// The matrix of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Matrix {
    /// The partner's node id.
    pub partner: String,
    /// The partner's name.
    pub partner_name: String,
    /// When the run finished (RFC 3339).
    pub computed_at: String,
    /// Which side started the run.
    pub initiated_by: String,
    /// The cells, my populations × theirs.
    pub cells: Vec<Cell>,
}

/// A matrix as stored: its JSON, signed with the node key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMatrix {
    /// The matrix JSON.
    pub matrix: Value,
    /// Ed25519 signature (hex) over the matrix JSON bytes as serialized.
    pub signature: String,
    /// The signer's node id.
    pub signer: String,
}

/// The latest matrix stored for a partner.
pub fn latest_matrix(store: &Store, partner: &str) -> Result<Option<StoredMatrix>> {
    let txn = store.read()?;
    let table = match txn.open_table(MATRICES) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    table
        .get(partner)?
        .map(|v| serde_json::from_slice(v.value()).context("a stored matrix is corrupt"))
        .transpose()
}

fn store_matrix(
    store: &Store,
    key: &ed25519_dalek::SigningKey,
    signer: &str,
    matrix: &Matrix,
    audit: Value,
    now_ms: u64,
) -> Result<StoredMatrix> {
    use ed25519_dalek::Signer;
    let matrix_json = serde_json::to_value(matrix)?;
    let bytes = serde_json::to_vec(&matrix_json)?;
    let stored = StoredMatrix {
        matrix: matrix_json,
        signature: hex::encode(key.sign(&bytes).to_bytes()),
        signer: signer.to_string(),
    };
    let txn = store.write()?;
    {
        let mut table = txn.open_table(MATRICES)?;
        table.insert(
            matrix.partner.as_str(),
            serde_json::to_vec(&stored)?.as_slice(),
        )?;
    }
    crate::audit::record_in(
        &txn,
        now_ms,
        AUDIT_KIND,
        Some(&matrix.partner),
        format!(
            "account mapping with {} ({} cells, started by {})",
            matrix.partner_name,
            matrix.cells.len(),
            matrix.initiated_by
        ),
        audit,
    )?;
    txn.commit()?;
    Ok(stored)
}

fn audit_details(matrix: &Matrix) -> Value {
    json!({
        "event": "mapping_run",
        "initiated_by": matrix.initiated_by,
        "cells": matrix.cells.iter().map(|c| json!({
            "mine": c.mine, "theirs": c.theirs, "level": c.level, "count": c.count,
            "bucket_mine": c.buckets.0, "bucket_theirs": c.buckets.1,
        })).collect::<Vec<_>>(),
    })
}

/// Per-cell state of a run, on either side.
struct CellRun {
    session: Option<PsiSession>,
    outbox: VecDeque<Vec<u8>>,
    received: Vec<SharedRecord>,
}

/// A run a partner started, kept by the responder between requests.
struct ResponderRun {
    id: String,
    started: Instant,
    policy: Policy,
    mine: Vec<PopData>,
    opps: HashMap<String, Vec<String>>,
    theirs: Vec<Offer>,
    /// Index: their population × my population.
    cells: HashMap<usize, CellRun>,
}

/// The mapping service: starts runs, answers partners' runs, enforces the rate limit.
pub struct Mapper {
    store: Arc<Store>,
    network: Arc<Network>,
    runs: tokio::sync::Mutex<HashMap<String, ResponderRun>>,
    rate: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn now_ms() -> u64 {
    crate::cli::now_ms()
}

impl Mapper {
    /// A service over this node's store and network; call [`Mapper::spawn_responder`] once.
    pub fn new(store: Arc<Store>, network: Arc<Network>) -> Result<Arc<Mapper>> {
        ensure_tables(&store)?;
        Ok(Arc::new(Mapper {
            store,
            network,
            runs: tokio::sync::Mutex::new(HashMap::new()),
            rate: Mutex::new(HashMap::new()),
        }))
    }

    /// Answers partners' mapping requests until the network stops.
    pub fn spawn_responder(self: &Arc<Self>) {
        let rx = self
            .network
            .map_inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(mut rx) = rx else { return };
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(MapInbound { peer, body, reply }) = rx.recv().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let answer = me.respond(peer.as_str(), &body).await.map_err(|e| {
                        tracing::info!(partner = %peer, error = %format!("{e:#}"), "mapping request refused");
                        format!("{e:#}")
                    });
                    let _ = reply.send(answer);
                });
            }
        });
    }

    /// Counts a run for a partner, or refuses it over the limit.
    fn take_run(&self, partner: &str) -> Result<()> {
        let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        let runs = rate.entry(partner.to_string()).or_default();
        let hour = Duration::from_secs(3600);
        while runs.front().is_some_and(|t| t.elapsed() > hour) {
            runs.pop_front();
        }
        if runs.len() >= RUNS_PER_HOUR_MAX {
            let wait = hour.saturating_sub(runs.front().map_or(Duration::ZERO, |t| t.elapsed()));
            bail!(
                "rate limit: at most {RUNS_PER_HOUR_MAX} mapping runs per partner per hour; try again in {} minutes",
                wait.as_secs() / 60 + 1
            );
        }
        runs.push_back(Instant::now());
        Ok(())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .context("a blocking task failed")?
    }

    async fn request(
        &self,
        peer: PeerId,
        header: &Header,
        messages: Vec<Vec<u8>>,
    ) -> Result<(Header, Vec<Vec<u8>>)> {
        let body = wire::encode(header, &messages)?;
        match self.network.handle.map_request(peer, body).await? {
            Ok(answer) => wire::decode(&answer),
            Err(why) => bail!("the partner refused: {why}"),
        }
    }

    /// Runs account mapping with a partner now and stores the matrix.
    pub async fn run(&self, partner: &str) -> Result<StoredMatrix> {
        let record = crate::store_net::partner(&self.store, partner)?
            .ok_or_else(|| anyhow!("no partner with id {partner}"))?;
        if !record.is_active() {
            bail!("{} is not an active partner", record.name);
        }
        let peer: PeerId = record.id.parse().map_err(|_| anyhow!("bad partner id"))?;
        self.take_run(&record.id)?;
        let pid = record.id.clone();
        let (policy, mine, opps) = self
            .blocking(move |s| {
                let policy = crate::partners::policy_for(s, &pid)?;
                let (mine, opps) = evaluate(s, &policy)?;
                Ok((policy, mine, opps))
            })
            .await?;
        let run = ulid::Ulid::new().to_string();
        let offers: Vec<Offer> = mine
            .iter()
            .map(|p| Offer {
                name: p.name.clone(),
                level: p.level.as_str().to_string(),
            })
            .collect();
        let (answer, _) = self
            .request(
                peer,
                &Header::Open {
                    run: run.clone(),
                    populations: offers,
                },
                Vec::new(),
            )
            .await?;
        let Header::Opened {
            populations: theirs,
        } = answer
        else {
            bail!("the partner answered the opening with something else");
        };
        if theirs.len() > POPULATIONS_MAX {
            bail!("the partner offered more than {POPULATIONS_MAX} populations");
        }
        let mut cells = Vec::new();
        for (i, p) in mine.iter().enumerate() {
            for (j, t) in theirs.iter().enumerate() {
                let their_level = parse_level(&t.level)?;
                let level = p.level.min(their_level);
                let cell = i * theirs.len() + j;
                let mut bucket = (0, 0);
                let mut outcome = None;
                if level != SharingLevel::Hidden {
                    let mut session =
                        PsiSession::new(p.elements(), psi_level(p.level), &mut rand::rngs::OsRng)
                            .map_err(|e| anyhow!("psi: {e}"))?;
                    let mut outbox: VecDeque<Vec<u8>> = VecDeque::from([session.hello().encode()]);
                    let mut exchanges = 0;
                    loop {
                        exchanges += 1;
                        if exchanges > EXCHANGES_PER_CELL_MAX {
                            bail!("the mapping run stalled");
                        }
                        let batch = take_batch(&mut outbox);
                        let sent = batch.len();
                        let (reply, msgs) = self
                            .request(
                                peer,
                                &Header::Psi {
                                    run: run.clone(),
                                    cell,
                                },
                                batch,
                            )
                            .await?;
                        let Header::PsiReply { done, more } = reply else {
                            bail!("the partner answered a psi exchange with something else");
                        };
                        let got = msgs.len();
                        let next = advance(&mut session, decode_all(msgs)?).await?;
                        outbox.extend(next.iter().map(PsiMessage::encode));
                        if session.outcome().is_some() && outbox.is_empty() && done {
                            break;
                        }
                        if sent == 0 && got == 0 && !more && outbox.is_empty() {
                            bail!("the mapping run stalled");
                        }
                    }
                    bucket = (session.set_points(), session.peer_set_points().unwrap_or(0));
                    outcome = session.outcome().cloned();
                }
                let share = records_to_share(&policy, p, level, outcome.as_ref());
                let received = if level >= SharingLevel::Overlaps {
                    let (reply, _) = self
                        .request(
                            peer,
                            &Header::Records {
                                run: run.clone(),
                                cell,
                                records: share,
                            },
                            Vec::new(),
                        )
                        .await?;
                    let Header::RecordsReply { records } = reply else {
                        bail!("the partner answered records with something else");
                    };
                    records
                } else {
                    Vec::new()
                };
                cells.push(build_cell(
                    p,
                    &t.name,
                    &t.level,
                    level,
                    bucket,
                    outcome.as_ref(),
                    received,
                    &opps,
                ));
            }
        }
        let _ = self
            .request(peer, &Header::Close { run: run.clone() }, Vec::new())
            .await?;
        let matrix = Matrix {
            partner: record.id.clone(),
            partner_name: record.name.clone(),
            computed_at: crate::audit::rfc3339(now_ms()),
            initiated_by: "me".into(),
            cells,
        };
        let key = self.network.signing_key.clone();
        let signer = self.network.peer_id.to_base58();
        self.blocking(move |s| {
            let audit = audit_details(&matrix);
            store_matrix(s, &key, &signer, &matrix, audit, now_ms())
        })
        .await
    }

    /// Answers one request of a partner's run.
    async fn respond(&self, partner: &str, body: &[u8]) -> Result<Vec<u8>> {
        let (header, messages) = wire::decode(body)?;
        match header {
            Header::Open { run, populations } => {
                if populations.len() > POPULATIONS_MAX {
                    bail!("more than {POPULATIONS_MAX} populations");
                }
                for p in &populations {
                    parse_level(&p.level)?;
                }
                self.take_run(partner)?;
                let pid = partner.to_string();
                let (policy, mine, opps) = self
                    .blocking(move |s| {
                        let policy = crate::partners::policy_for(s, &pid)?;
                        let (mine, opps) = evaluate(s, &policy)?;
                        Ok((policy, mine, opps))
                    })
                    .await?;
                let offers = mine
                    .iter()
                    .map(|p| Offer {
                        name: p.name.clone(),
                        level: p.level.as_str().to_string(),
                    })
                    .collect();
                let mut runs = self.runs.lock().await;
                runs.retain(|_, r| r.started.elapsed() < RUN_TTL);
                runs.insert(
                    partner.to_string(),
                    ResponderRun {
                        id: run,
                        started: Instant::now(),
                        policy,
                        mine,
                        opps,
                        theirs: populations,
                        cells: HashMap::new(),
                    },
                );
                wire::encode(
                    &Header::Opened {
                        populations: offers,
                    },
                    &[],
                )
            }
            Header::Psi { run, cell } => {
                let mut runs = self.runs.lock().await;
                let r = current(&mut runs, partner, &run)?;
                let (mine_idx, level, _) = r.cell(cell)?;
                if level == SharingLevel::Hidden {
                    bail!("cell {cell} is hidden");
                }
                if !r.cells.contains_key(&cell) {
                    let pop = &r.mine[mine_idx];
                    let session = PsiSession::new(
                        pop.elements(),
                        psi_level(pop.level),
                        &mut rand::rngs::OsRng,
                    )
                    .map_err(|e| anyhow!("psi: {e}"))?;
                    let hello = session.hello().encode();
                    r.cells.insert(
                        cell,
                        CellRun {
                            session: Some(session),
                            outbox: VecDeque::from([hello]),
                            received: Vec::new(),
                        },
                    );
                }
                let c = r.cells.get_mut(&cell).expect("inserted");
                let session = c
                    .session
                    .as_mut()
                    .ok_or_else(|| anyhow!("cell {cell} is finished"))?;
                let next = advance(session, decode_all(messages)?).await?;
                c.outbox.extend(next.iter().map(PsiMessage::encode));
                let batch = take_batch(&mut c.outbox);
                let more = !c.outbox.is_empty();
                let done = session.outcome().is_some() && !more;
                wire::encode(&Header::PsiReply { done, more }, &batch)
            }
            Header::Records { run, cell, records } => {
                let mut runs = self.runs.lock().await;
                let r = current(&mut runs, partner, &run)?;
                let (mine_idx, level, _) = r.cell(cell)?;
                if level < SharingLevel::Overlaps {
                    bail!("cell {cell} shares no records");
                }
                let outcome = r
                    .cells
                    .get(&cell)
                    .and_then(|c| c.session.as_ref())
                    .and_then(|s| s.outcome().cloned());
                let share = records_to_share(&r.policy, &r.mine[mine_idx], level, outcome.as_ref());
                let c = r
                    .cells
                    .get_mut(&cell)
                    .ok_or_else(|| anyhow!("cell {cell} has not run"))?;
                c.received = records;
                wire::encode(&Header::RecordsReply { records: share }, &[])
            }
            Header::Close { run } => {
                let mut runs = self.runs.lock().await;
                current(&mut runs, partner, &run)?;
                let r = runs.remove(partner).expect("checked");
                drop(runs);
                let matrix = r.matrix(partner, &self.store)?;
                let key = self.network.signing_key.clone();
                let signer = self.network.peer_id.to_base58();
                self.blocking(move |s| {
                    let audit = audit_details(&matrix);
                    store_matrix(s, &key, &signer, &matrix, audit, now_ms())
                })
                .await?;
                wire::encode(&Header::Closed {}, &[])
            }
            _ => bail!("not a mapping request"),
        }
    }
}

fn current<'a>(
    runs: &'a mut HashMap<String, ResponderRun>,
    partner: &str,
    run: &str,
) -> Result<&'a mut ResponderRun> {
    match runs.get_mut(partner) {
        Some(r) if r.id == run && r.started.elapsed() < RUN_TTL => Ok(r),
        _ => bail!("no open mapping run {run}"),
    }
}

impl ResponderRun {
    /// (my population index, cell level, their population index) of a cell.
    fn cell(&self, cell: usize) -> Result<(usize, SharingLevel, usize)> {
        let n = self.mine.len();
        if n == 0 || cell >= n * self.theirs.len() {
            bail!("cell {cell} is out of range");
        }
        let (theirs, mine) = (cell / n, cell % n);
        let level = self.mine[mine]
            .level
            .min(parse_level(&self.theirs[theirs].level)?);
        Ok((mine, level, theirs))
    }

    fn matrix(self, partner: &str, store: &Store) -> Result<Matrix> {
        let name = crate::store_net::partner(store, partner)?.map_or_else(String::new, |p| p.name);
        let mut cells = Vec::new();
        let mut runs = self.cells;
        for (mine_idx, p) in self.mine.iter().enumerate() {
            for (their_idx, t) in self.theirs.iter().enumerate() {
                let cell = their_idx * self.mine.len() + mine_idx;
                let level = p.level.min(parse_level(&t.level)?);
                let c = runs.remove(&cell);
                let (bucket, outcome, received) = match c {
                    Some(c) => {
                        let s = c.session.as_ref();
                        (
                            s.map_or((0, 0), |s| {
                                (s.set_points(), s.peer_set_points().unwrap_or(0))
                            }),
                            s.and_then(|s| s.outcome().cloned()),
                            c.received,
                        )
                    }
                    None => ((0, 0), None, Vec::new()),
                };
                cells.push(build_cell(
                    p,
                    &t.name,
                    &t.level,
                    level,
                    bucket,
                    outcome.as_ref(),
                    received,
                    &self.opps,
                ));
            }
        }
        Ok(Matrix {
            partner: partner.to_string(),
            partner_name: name,
            computed_at: crate::audit::rfc3339(now_ms()),
            initiated_by: "partner".into(),
            cells,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn build_cell(
    p: &PopData,
    theirs: &str,
    their_level: &str,
    level: SharingLevel,
    buckets: (usize, usize),
    outcome: Option<&PsiOutcome>,
    received: Vec<SharedRecord>,
    opps: &HashMap<String, Vec<String>>,
) -> Cell {
    let mut overlaps = Vec::new();
    let mut partner_accounts = Vec::new();
    if let Some(PsiOutcome::Overlaps { matched, .. }) = outcome {
        if level >= SharingLevel::Overlaps {
            let by_domain: BTreeMap<String, Value> = received
                .iter()
                .filter_map(|r| r.key.clone().map(|k| (k, r.fields.clone())))
                .collect();
            let mut seen = HashSet::new();
            for &i in matched {
                let Some(a) = p.accounts.get(i) else { continue };
                if !seen.insert(a.id.clone()) {
                    continue;
                }
                let domain = a.domain.as_ref().map(|d| d.as_str().to_string());
                let partner = domain
                    .as_ref()
                    .and_then(|d| by_domain.get(d).cloned())
                    .unwrap_or_else(|| json!({}));
                overlaps.push(json!({
                    "account_id": a.id,
                    "name": a.name,
                    "domain": domain,
                    "opportunity_ids": opps.get(&a.id).cloned().unwrap_or_default(),
                    "partner": partner,
                }));
            }
        }
    }
    if level == SharingLevel::All {
        partner_accounts = received.into_iter().map(|r| r.fields).collect();
    }
    Cell {
        mine: p.name.clone(),
        theirs: theirs.to_string(),
        level: level.as_str().to_string(),
        count: if level == SharingLevel::Hidden {
            None
        } else {
            outcome.and_then(PsiOutcome::count)
        },
        overlaps,
        partner_accounts,
        my_level: p.level.as_str().to_string(),
        their_level: their_level.to_string(),
        buckets,
    }
}
