//! What both sides of a run do for a cell: PSI steps (their scalar multiplications on blocking
//! threads), messages batched under [`BATCH_BYTES_MAX`], and the records revealed after PSI.

use super::populations::PopData;
use super::wire::SharedRecord;
use super::{BATCH_BYTES_MAX, RECORDS_BYTES_MAX};
use anyhow::{anyhow, Context, Result};
use policy::{AccountField, Policy, SharingLevel};
use protocol::psi::{PsiMessage, PsiOutcome, PsiSession};
use protocol::records::Account;
use serde_json::{json, Value};
use std::collections::{HashSet, VecDeque};

/// Runs a step's jobs on blocking threads (all chunks at once) until none are left; returns the
/// messages for the peer.
pub(super) async fn advance(
    session: &mut PsiSession,
    incoming: Vec<PsiMessage>,
) -> Result<Vec<PsiMessage>> {
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
pub(super) fn take_batch(outbox: &mut VecDeque<Vec<u8>>) -> Vec<Vec<u8>> {
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

pub(super) fn decode_all(messages: Vec<Vec<u8>>) -> Result<Vec<PsiMessage>> {
    messages
        .iter()
        .map(|m| PsiMessage::decode(m).map_err(|e| anyhow!("psi message: {e}")))
        .collect()
}

/// The records one side sends for a cell after PSI: at `all` the whole population, at
/// `overlaps` the matched accounts, else nothing. Projected by the sender's policy.
pub(super) fn records_to_share(
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
