//! The matrix of a run: its cells as this node sees them, stored signed with the node key (a
//! matrix changed on disk is refused) and audited; and the opportunity to propose from an
//! overlap it lists.

use super::populations::PopData;
use super::wire::SharedRecord;
use super::{AUDIT_KIND, LAST_RUN, MATRICES};
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use policy::SharingLevel;
use protocol::psi::PsiOutcome;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One cell of the matrix, as this node sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    /// My population.
    pub mine: String,
    /// The partner's population.
    pub theirs: String,
    /// What this cell revealed: the lesser of both sides' levels.
    #[serde(with = "level_name")]
    pub level: SharingLevel,
    /// The number of accounts in common (`null` when hidden).
    pub count: Option<usize>,
    /// My matched accounts with the partner's shared fields (at `overlaps` and `all`).
    pub overlaps: Vec<Value>,
    /// The partner's whole population with its shared fields (at `all` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partner_accounts: Vec<Value>,
    /// My level for my population, and the partner's for theirs.
    #[serde(with = "level_name")]
    pub my_level: SharingLevel,
    /// The partner's level for its population.
    #[serde(with = "level_name")]
    pub their_level: SharingLevel,
    /// The padded sizes of both lists, as each side saw them (mine, theirs).
    pub buckets: (usize, usize),
}

/// A sharing level in a stored matrix: its policy-file name (`hidden`, `counts`, `overlaps`,
/// `all`), as the matrix JSON has always held it (the signature covers those bytes).
mod level_name {
    use policy::SharingLevel;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(level: &SharingLevel, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(level.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SharingLevel, D::Error> {
        let name = String::deserialize(d)?;
        super::super::populations::parse_level(&name).map_err(serde::de::Error::custom)
    }
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
    let Some(table) = crate::store::open_table_if_exists(&txn, MATRICES)? else {
        return Ok(None);
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

pub(super) fn store_matrix(
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

pub(super) fn audit_details(matrix: &Matrix) -> Value {
    json!({
        "event": "mapping_run",
        "initiated_by": matrix.initiated_by,
        "cells": matrix.cells.iter().map(|c| json!({
            "mine": c.mine, "theirs": c.theirs, "level": c.level.as_str(), "count": c.count,
            "bucket_mine": c.buckets.0, "bucket_theirs": c.buckets.1,
        })).collect::<Vec<_>>(),
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn build_cell(
    p: &PopData,
    theirs: &str,
    their_level: SharingLevel,
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
        level,
        count: if level == SharingLevel::Hidden {
            None
        } else {
            outcome.and_then(PsiOutcome::count)
        },
        overlaps,
        partner_accounts,
        my_level: p.level,
        their_level,
        buckets,
    }
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
