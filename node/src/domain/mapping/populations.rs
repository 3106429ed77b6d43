//! Populations: named filters over this node's accounts (the built-ins and custom ones), the
//! level a partner's policy allows for each, and their evaluation for one partner.

use super::{POPULATIONS, POPULATIONS_MAX, POPULATION_NAME_MAX};
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use policy::{Policy, Population, SharingLevel};
use protocol::psi::PsiLevel;
use protocol::records::{Account, AccountStatus, Stage};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;

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
    let Some(table) = crate::store::open_table_if_exists(&txn, POPULATIONS)? else {
        return Ok(out);
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
        crate::domain::audit::AuditKind::Policy,
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

pub(super) fn psi_level(level: SharingLevel) -> PsiLevel {
    match level {
        SharingLevel::Hidden => PsiLevel::Hidden,
        SharingLevel::Counts => PsiLevel::Counts,
        SharingLevel::Overlaps | SharingLevel::All => PsiLevel::Overlaps,
    }
}

pub(super) fn parse_level(s: &str) -> Result<SharingLevel> {
    SharingLevel::ALL
        .into_iter()
        .find(|l| l.as_str() == s)
        .ok_or_else(|| anyhow!("unknown sharing level '{s}'"))
}

/// One population as evaluated for one partner: the accounts the policy admits, with a domain.
pub(super) struct PopData {
    pub(super) name: String,
    pub(super) level: SharingLevel,
    pub(super) accounts: Vec<Account>,
}

impl PopData {
    pub(super) fn elements(&self) -> Vec<Vec<u8>> {
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
pub(super) type OppsByAccount = HashMap<String, Vec<String>>;

/// Evaluates every population for a partner's policy (on a blocking thread).
pub(super) fn evaluate(store: &Store, policy: &Policy) -> Result<(Vec<PopData>, OppsByAccount)> {
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
