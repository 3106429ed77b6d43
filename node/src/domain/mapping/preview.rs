//! What account mapping reveals to a partner under a policy, population by population: the
//! sharing level, how many of this node's accounts the population holds, and what the partner
//! learns of them. Shown beside the deal preview (`policy preview`): mapping can reveal more
//! accounts than the deal policy suggests (every customer with an open opportunity, say).

use super::populations::evaluate;
use crate::store::Store;
use anyhow::Result;
use policy::{Policy, SharingLevel};
use serde_json::{json, Value};

/// Per population: `{population, level, accounts, reveals}` under `policy`.
pub fn mapping_preview(store: &Store, policy: &Policy) -> Result<Value> {
    let (pops, _) = evaluate(store, policy)?;
    let fields: Vec<&str> = policy
        .accounts()
        .fields()
        .iter()
        .map(|f| f.as_str())
        .collect();
    let fields_text = if fields.is_empty() {
        "no account field".to_string()
    } else {
        fields.join(", ")
    };
    let rows: Vec<Value> = pops
        .iter()
        .map(|p| {
            let n = p.accounts.len();
            let reveals = match p.level {
                SharingLevel::Hidden => "nothing".to_string(),
                SharingLevel::Counts => format!(
                    "how many of these {n} accounts the partner's populations also hold (a count per cell, no names)"
                ),
                SharingLevel::Overlaps => format!(
                    "which of these {n} accounts the partner also holds, with {fields_text} of each"
                ),
                SharingLevel::All => format!(
                    "all {n} accounts, matched or not, with {fields_text} of each"
                ),
            };
            json!({"population": p.name, "level": p.level.as_str(), "accounts": n, "reveals": reveals})
        })
        .collect();
    Ok(json!(rows))
}
