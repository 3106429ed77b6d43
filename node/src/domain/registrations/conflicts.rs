//! Conflicts of a registration, as its vendor sees them: the vendor's own open opportunities on
//! the account and other partners' registrations of it. Computed when read, never written into
//! a document, so they never reach a partner (they name other partners).

use super::Record;
use crate::domain::audit;
use crate::domain::deals::{Deals, Windows};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// The vendor's open opportunities per account domain, for the domains asked.
pub(super) fn open_opportunities(
    deals: &Deals,
    domains: &HashSet<String>,
) -> anyhow::Result<BTreeMap<String, Vec<Value>>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    if domains.is_empty() {
        return Ok(out);
    }
    deals
        .store()
        .for_each_opportunity_with_account(|opp, account| {
            if let Some(d) = &account.domain {
                if opp.stage.is_open() && domains.contains(d.as_str()) {
                    out.entry(d.as_str().to_string()).or_default().push(json!({
                        "kind": "opportunity",
                        "opportunity_id": opp.id,
                        "name": opp.name,
                        "stage": opp.stage.as_str(),
                        "owner": opp.owner,
                    }));
                }
            }
            true
        })?;
    Ok(out)
}

/// The conflicts of `r` as its vendor sees them: the vendor's own open opportunities on the
/// account, and other partners' registrations on it that came first and still hold (pending
/// within the protection window, or approved and not expired).
pub(super) fn conflicts_of(
    r: &Record,
    all: &[Record],
    own: &BTreeMap<String, Vec<Value>>,
    windows: &Windows,
    now: u64,
) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(domain) = &r.domain else {
        return out;
    };
    out.extend(own.get(domain).cloned().unwrap_or_default());
    for other in all {
        let earlier = (other.submitted_at, other.id) < (r.submitted_at, r.id);
        // A later registration holds too once approved (it was decided while this one was on
        // its way): two partners must not both hold the account.
        if other.id == r.id
            || other.vendor != r.vendor
            || other.domain.as_ref() != Some(domain)
            || (!earlier && other.status != "approved")
        {
            continue;
        }
        let holds = match other.status {
            "pending" => {
                now < other
                    .submitted_at
                    .saturating_add(windows.registration_protection_ms)
            }
            "approved" => true,
            _ => false,
        };
        if holds {
            // The same partner registering the account again (its node refuses that; an older
            // or modified node may not) is a duplicate, not a competing claim.
            let kind = if other.partner == r.partner {
                "duplicate"
            } else {
                "registration"
            };
            out.push(json!({
                "kind": kind,
                "registration_id": other.id.to_string(),
                "partner": other.partner.to_string(),
                "partner_name": other.partner_name,
                "status": other.status,
                "submitted_at": audit::rfc3339(other.submitted_at),
                "first": earlier,
            }));
        }
    }
    out
}
