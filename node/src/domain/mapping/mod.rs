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
//! Runs per partner are limited to [`RUNS_PER_HOUR_MAX`] an hour (or fewer, by
//! `mapping_runs_per_hour`), counted on both sides and persisted, so a restart does not reset
//! the count. With `mapping_interval_hours` set, [`Mapper::spawn_schedule`] maps every connected
//! active partner that has not been mapped (by either side) for that long.

pub mod wire;

use crate::domain::peers::Network;
use crate::net::MapInbound;
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use libp2p::PeerId;
use policy::{AccountField, Policy, Population, SharingLevel};
use protocol::psi::{PsiLevel, PsiMessage, PsiOutcome, PsiSession};
use protocol::records::{Account, AccountStatus, Stage};
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
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
/// The rate limit's window: one hour.
pub const RATE_WINDOW_MS: u64 = 3_600_000;
/// Longest wait between two looks at which partners are due for a scheduled run.
pub const SCHEDULE_TICK_MAX: Duration = Duration::from_secs(60);
/// Shortest wait between two such looks (a tiny interval must not spin).
pub const SCHEDULE_TICK_MIN: Duration = Duration::from_secs(1);

/// Name → [`PopulationDef`] as JSON (custom populations only).
const POPULATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("mapping_populations");
/// Partner node id → [`StoredMatrix`] as JSON: the latest run.
const MATRICES: TableDefinition<&str, &[u8]> = TableDefinition::new("mapping_matrices");
/// Partner node id → the start times (ms since the epoch, a JSON array) of the runs with it in
/// the last [`RATE_WINDOW_MS`]: the rate limit's count, kept across restarts.
const RUNS: TableDefinition<&str, &[u8]> = TableDefinition::new("mapping_runs");
/// Partner node id → ms since the epoch of the last finished run with it (either side) or the
/// last scheduled attempt: what the schedule compares with its interval.
const LAST_RUN: TableDefinition<&str, u64> = TableDefinition::new("mapping_last_run");

/// Creates the mapping tables.
pub fn ensure_tables(store: &Store) -> Result<()> {
    let txn = store.write()?;
    txn.open_table(POPULATIONS)?;
    txn.open_table(MATRICES)?;
    txn.open_table(RUNS)?;
    txn.open_table(LAST_RUN)?;
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
            && (self.countries.is_empty()
                || account
                    .country
                    .as_deref()
                    .is_some_and(|c| self.countries.iter().any(|w| policy::country::same(w, c))))
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
    crate::domain::audit::record_in(
        &txn,
        now_ms,
        crate::domain::audit::kind::POLICY,
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

impl StoredMatrix {
    /// Checks the signature over the matrix JSON against the signer's node key.
    pub fn verify(&self) -> Result<()> {
        use ed25519_dalek::{Signature, VerifyingKey};
        let signer = protocol::identity::NodeId::parse(&self.signer)
            .map_err(|e| anyhow!("the matrix's signer is not a node id: {e}"))?;
        let key = VerifyingKey::from_bytes(&signer.public_key())
            .map_err(|_| anyhow!("the matrix's signer has no valid key"))?;
        let signature: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow!("the matrix's signature is not 64 bytes of hex"))?;
        let bytes = serde_json::to_vec(&self.matrix)?;
        key.verify_strict(&bytes, &Signature::from_bytes(&signature))
            .map_err(|_| anyhow!("the matrix's signature does not verify"))
    }
}

/// The latest matrix stored for a partner, its signature checked: a matrix changed on disk
/// after it was signed is refused.
pub fn latest_matrix(store: &Store, partner: &str) -> Result<Option<StoredMatrix>> {
    let txn = store.read()?;
    let table = match txn.open_table(MATRICES) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(value) = table.get(partner)? else {
        return Ok(None);
    };
    let stored: StoredMatrix =
        serde_json::from_slice(value.value()).context("a stored matrix is corrupt")?;
    stored
        .verify()
        .context("the stored mapping matrix was changed after it was signed")?;
    Ok(Some(stored))
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
        txn.open_table(LAST_RUN)?
            .insert(matrix.partner.as_str(), now_ms)?;
    }
    crate::domain::audit::record_in(
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

/// Most opportunities read per overlapping account when proposing a deal.
pub const PROPOSE_OPPORTUNITIES_MAX: usize = 1000;

/// Why no opportunity can be proposed from an overlap.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// No matrix with the partner yet.
    #[error("{0}")]
    NoMapping(String),
    /// The domain, the overlap or the opportunity does not fit.
    #[error("{0}")]
    Refused(String),
    /// Storage failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The open opportunity of mine to share with a partner, on an account the latest matrix with
/// that partner lists as an overlap with `domain`: `opportunity_id` if given (it must be one of
/// them), else the only one.
pub fn opportunity_to_propose(
    store: &Store,
    partner: &crate::store::shared::PartnerRecord,
    domain: &str,
    opportunity_id: Option<&str>,
) -> Result<String, ProposeError> {
    let domain = protocol::records::Domain::parse(domain)
        .map_err(|e| ProposeError::Refused(e.to_string()))?;
    let domain = domain.as_str();
    let stored = latest_matrix(store, &partner.id)?.ok_or_else(|| {
        ProposeError::NoMapping(format!(
            "no account mapping with {} yet; run one first (`cosell map {}`)",
            partner.name, partner.name
        ))
    })?;
    let matrix: Matrix =
        serde_json::from_value(stored.matrix).context("a stored matrix is corrupt")?;
    let account_ids: std::collections::BTreeSet<String> = matrix
        .cells
        .iter()
        .flat_map(|c| c.overlaps.iter())
        .filter(|o| o["domain"].as_str() == Some(domain))
        .filter_map(|o| o["account_id"].as_str().map(str::to_string))
        .collect();
    if account_ids.is_empty() {
        return Err(ProposeError::Refused(format!(
            "{domain} is not an overlap in the latest account mapping with {} (computed {})",
            partner.name, matrix.computed_at
        )));
    }
    let mut open = Vec::new();
    for account_id in account_ids {
        let filter = crate::store::OpportunityFilter {
            account_id: Some(account_id),
            ..Default::default()
        };
        let page = store.list_opportunities(&filter, None, PROPOSE_OPPORTUNITIES_MAX)?;
        open.extend(
            page.items
                .into_iter()
                .filter(|o| o.stage.is_open())
                .map(|o| o.id),
        );
    }
    match (opportunity_id, open.as_slice()) {
        (Some(wanted), _) if open.iter().any(|o| o == wanted) => Ok(wanted.to_string()),
        (Some(wanted), _) => Err(ProposeError::Refused(format!(
            "{wanted} is not an open opportunity of this node on {domain}"
        ))),
        (None, []) => Err(ProposeError::Refused(format!(
            "there is no open opportunity on {domain} to propose; create one first"
        ))),
        (None, [one]) => Ok(one.clone()),
        (None, several) => Err(ProposeError::Refused(format!(
            "{} open opportunities on {domain} ({}); name the one to share",
            several.len(),
            several.join(", ")
        ))),
    }
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

/// The mapping service's settings (`cosell.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingSettings {
    /// Runs per partner per hour, 1 to [`RUNS_PER_HOUR_MAX`] (a node may be stricter, never
    /// laxer).
    pub runs_per_hour: usize,
    /// How often the schedule maps each partner; `None`: no schedule.
    pub interval: Option<Duration>,
}

impl Default for MappingSettings {
    fn default() -> Self {
        MappingSettings {
            runs_per_hour: RUNS_PER_HOUR_MAX,
            interval: None,
        }
    }
}

/// The mapping service: starts runs, answers partners' runs, enforces the rate limit.
pub struct Mapper {
    store: Arc<Store>,
    network: Arc<Network>,
    settings: MappingSettings,
    runs: tokio::sync::Mutex<HashMap<String, ResponderRun>>,
}

fn now_ms() -> u64 {
    crate::clock::now_ms()
}

impl Mapper {
    /// A service over this node's store and network; call [`Mapper::spawn_responder`] once.
    pub fn new(
        store: Arc<Store>,
        network: Arc<Network>,
        settings: MappingSettings,
    ) -> Result<Arc<Mapper>> {
        assert!(settings.runs_per_hour >= 1, "validated by the config");
        assert!(
            settings.runs_per_hour <= RUNS_PER_HOUR_MAX,
            "validated by the config"
        );
        ensure_tables(&store)?;
        Ok(Arc::new(Mapper {
            store,
            network,
            settings,
            runs: tokio::sync::Mutex::new(HashMap::new()),
        }))
    }

    /// Maps every connected active partner not mapped for an interval, until the process ends;
    /// does nothing without an interval. Failures are logged, and the partner waits for the next
    /// interval (so a refusing partner is not asked every tick).
    pub fn spawn_schedule(self: &Arc<Self>) {
        let Some(interval) = self.settings.interval else {
            return;
        };
        let tick = interval.clamp(SCHEDULE_TICK_MIN, SCHEDULE_TICK_MAX);
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                if let Err(e) = me.scheduled_round(interval).await {
                    tracing::warn!(error = %format!("{e:#}"), "scheduled account mapping failed");
                }
            }
        });
    }

    /// One look at the partners: runs mapping with each one that is due and connected.
    async fn scheduled_round(&self, interval: Duration) -> Result<()> {
        let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        let now = now_ms();
        let due = self
            .blocking(move |s| due_partners(s, now, interval_ms))
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        let connected = self.network.handle.connected().await?;
        for partner in due {
            let online = partner
                .parse::<PeerId>()
                .is_ok_and(|p| connected.contains(&p));
            if !online {
                tracing::debug!(%partner, "scheduled account mapping skipped: partner offline");
                continue;
            }
            let id = partner.clone();
            self.blocking(move |s| mark_attempt(s, &id, now_ms()))
                .await?;
            match self.run(&partner).await {
                Ok(_) => tracing::info!(%partner, "scheduled account mapping done"),
                Err(e) => tracing::warn!(
                    %partner,
                    error = %format!("{e:#}"),
                    "scheduled account mapping failed"
                ),
            }
        }
        Ok(())
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
    async fn take_run(&self, partner: &str) -> Result<()> {
        let partner = partner.to_string();
        let max = self.settings.runs_per_hour;
        self.blocking(move |s| take_run(s, &partner, now_ms(), max))
            .await
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
        let record = crate::store::shared::partner(&self.store, partner)?
            .ok_or_else(|| anyhow!("no partner with id {partner}"))?;
        if !record.is_active() {
            bail!("{} is not an active partner", record.name);
        }
        let peer: PeerId = record.id.parse().map_err(|_| anyhow!("bad partner id"))?;
        // Checked first, so a partner that is away does not use up runs.
        if !self.network.handle.connected().await?.contains(&peer) {
            bail!(
                "{} is offline (not connected to this node); try again when it is",
                record.name
            );
        }
        self.take_run(&record.id).await?;
        let pid = record.id.clone();
        let (policy, mine, opps) = self
            .blocking(move |s| {
                let policy = crate::domain::partners::policy_for(s, &pid)?;
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
            computed_at: crate::domain::audit::rfc3339(now_ms()),
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
                self.take_run(partner).await?;
                let pid = partner.to_string();
                let (policy, mine, opps) = self
                    .blocking(move |s| {
                        let policy = crate::domain::partners::policy_for(s, &pid)?;
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

/// Counts a run with a partner in the persisted log, or refuses it when `max` runs started in
/// the last [`RATE_WINDOW_MS`]. Check and count are one write transaction, so concurrent runs
/// cannot both take the last slot.
fn take_run(store: &Store, partner: &str, now_ms: u64, max: usize) -> Result<()> {
    let txn = store.write()?;
    let wait_ms = {
        let mut table = txn.open_table(RUNS)?;
        let mut times: Vec<u64> = match table.get(partner)? {
            Some(v) => serde_json::from_slice(v.value())
                .context("the stored mapping run times are corrupt")?,
            None => Vec::new(),
        };
        // A time ahead of the clock (it was set back) counts until the window has passed.
        times.retain(|&t| now_ms.saturating_sub(t) < RATE_WINDOW_MS);
        times.retain(|&t| t <= now_ms.saturating_add(RATE_WINDOW_MS));
        times.sort_unstable();
        if times.len() >= max {
            let frees_slot = times[times.len() - max];
            Some(RATE_WINDOW_MS.saturating_sub(now_ms.saturating_sub(frees_slot)))
        } else {
            times.push(now_ms);
            table.insert(partner, serde_json::to_vec(&times)?.as_slice())?;
            None
        }
    };
    if let Some(wait_ms) = wait_ms {
        txn.abort()?;
        bail!(
            "rate limit: at most {max} mapping runs per partner per hour; try again in {} minutes",
            wait_ms / 60_000 + 1
        );
    }
    txn.commit()?;
    Ok(())
}

/// Active partners whose last run (or scheduled attempt) is at least `interval_ms` old; a
/// partner never mapped counts from the start of the partnership (a new partner is mapped one
/// interval after it joined, not at once).
fn due_partners(store: &Store, now_ms: u64, interval_ms: u64) -> Result<Vec<String>> {
    let partners = crate::store::shared::partners(store)?;
    let txn = store.read()?;
    let table = txn.open_table(LAST_RUN)?;
    let mut due = Vec::new();
    for p in partners.into_iter().filter(|p| p.is_active()) {
        let last = table.get(p.id.as_str())?.map(|v| v.value());
        let since = last.unwrap_or(0).max(p.since_ms);
        if now_ms.saturating_sub(since) >= interval_ms {
            due.push(p.id);
        }
    }
    Ok(due)
}

/// Records a scheduled attempt, so a failing partner waits for the next interval.
fn mark_attempt(store: &Store, partner: &str, now_ms: u64) -> Result<()> {
    let txn = store.write()?;
    txn.open_table(LAST_RUN)?.insert(partner, now_ms)?;
    txn.commit()?;
    Ok(())
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
        let name =
            crate::store::shared::partner(store, partner)?.map_or_else(String::new, |p| p.name);
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
            computed_at: crate::domain::audit::rfc3339(now_ms()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::shared::PartnerRecord;

    const HOUR_MS: u64 = RATE_WINDOW_MS;

    fn open(dir: &tempfile::TempDir) -> Store {
        let store = Store::open(&dir.path().join("db")).unwrap();
        crate::store::shared::ensure_tables(&store).unwrap();
        ensure_tables(&store).unwrap();
        store
    }

    fn matrix(partner: &str, count: usize) -> Matrix {
        Matrix {
            partner: partner.into(),
            partner_name: "Reseller Co".into(),
            computed_at: "2026-11-23T20:00:00Z".into(),
            initiated_by: "me".into(),
            cells: vec![Cell {
                mine: "customers".into(),
                theirs: "prospects".into(),
                level: "counts".into(),
                count: Some(count),
                overlaps: vec![],
                partner_accounts: vec![],
                my_level: "counts".into(),
                their_level: "counts".into(),
                buckets: (64, 64),
            }],
        }
    }

    fn node_id(key: &ed25519_dalek::SigningKey) -> String {
        protocol::identity::NodeId::from_public_key(&key.verifying_key().to_bytes())
            .unwrap()
            .as_str()
            .to_string()
    }

    #[test]
    fn stored_matrix_signature_verifies_and_a_tampered_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let signer = node_id(&key);
        let m = matrix("peer-a", 5);
        let audit = audit_details(&m);
        store_matrix(&store, &key, &signer, &m, audit, 1_000).unwrap();
        let stored = latest_matrix(&store, "peer-a").unwrap().expect("stored");
        stored.verify().unwrap();
        assert_eq!(stored.matrix["cells"][0]["count"], 5);

        // Changed on disk after signing: the count is raised.
        let raw = {
            let txn = store.read().unwrap();
            let table = txn.open_table(MATRICES).unwrap();
            let v = table.get("peer-a").unwrap().unwrap();
            String::from_utf8(v.value().to_vec()).unwrap()
        };
        assert!(raw.contains("\"count\":5"), "{raw}");
        let tampered = raw.replace("\"count\":5", "\"count\":6");
        let txn = store.write().unwrap();
        txn.open_table(MATRICES)
            .unwrap()
            .insert("peer-a", tampered.as_bytes())
            .unwrap();
        txn.commit().unwrap();
        let err = latest_matrix(&store, "peer-a").unwrap_err();
        assert!(
            format!("{err:#}").contains("changed after it was signed"),
            "{err:#}"
        );

        // Signed by one key but claiming another signer.
        let other = node_id(&ed25519_dalek::SigningKey::from_bytes(&[8; 32]));
        let mut forged = stored.clone();
        forged.signer = other;
        assert!(forged.verify().is_err());
        // A signature that is not hex of 64 bytes.
        let mut short = stored;
        short.signature.truncate(10);
        assert!(short.verify().is_err());
    }

    #[test]
    fn rate_limit_survives_a_reopen_and_frees_a_slot_after_an_hour() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = 10 * HOUR_MS;
        {
            let store = open(&dir);
            take_run(&store, "peer-a", t0, 2).unwrap();
            take_run(&store, "peer-a", t0 + 1_000, 2).unwrap();
            let err = take_run(&store, "peer-a", t0 + 2_000, 2).unwrap_err();
            assert!(
                err.to_string().contains(
                    "at most 2 mapping runs per partner per hour; try again in 60 minutes"
                ),
                "{err}"
            );
            // Another partner has its own count.
            take_run(&store, "peer-b", t0 + 2_000, 2).unwrap();
        }
        let store = open(&dir);
        assert!(take_run(&store, "peer-a", t0 + 3_000, 2).is_err());
        assert!(take_run(&store, "peer-a", t0 + HOUR_MS - 1, 2).is_err());
        take_run(&store, "peer-a", t0 + HOUR_MS, 2).unwrap();
        assert!(take_run(&store, "peer-a", t0 + HOUR_MS + 1, 2).is_err());
    }

    #[test]
    fn schedule_maps_a_partner_one_interval_after_it_joined_or_was_last_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let since = 5 * HOUR_MS;
        for (id, status) in [("peer-a", "active"), ("peer-gone", "removed")] {
            let txn = store.write().unwrap();
            crate::store::shared::put_partner_in(
                &txn,
                &PartnerRecord {
                    id: id.into(),
                    name: id.into(),
                    partner_type: None,
                    status: status.into(),
                    since_ms: since,
                    last_seen_ms: None,
                    addrs: vec![],
                    removed_ms: None,
                    ended_by_partner: false,
                },
            )
            .unwrap();
            txn.commit().unwrap();
        }
        assert!(due_partners(&store, since + HOUR_MS - 1, HOUR_MS)
            .unwrap()
            .is_empty());
        assert_eq!(
            due_partners(&store, since + HOUR_MS, HOUR_MS).unwrap(),
            vec!["peer-a".to_string()],
            "a removed partner is never due"
        );
        mark_attempt(&store, "peer-a", since + HOUR_MS).unwrap();
        assert!(due_partners(&store, since + 2 * HOUR_MS - 1, HOUR_MS)
            .unwrap()
            .is_empty());
        // A run the partner started counts as well.
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let m = matrix("peer-a", 1);
        store_matrix(
            &store,
            &key,
            &node_id(&key),
            &m,
            json!({}),
            since + 2 * HOUR_MS,
        )
        .unwrap();
        assert!(due_partners(&store, since + 3 * HOUR_MS - 1, HOUR_MS)
            .unwrap()
            .is_empty());
        assert_eq!(
            due_partners(&store, since + 3 * HOUR_MS, HOUR_MS).unwrap(),
            vec!["peer-a".to_string()]
        );
    }
}
