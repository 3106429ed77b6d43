//! Converting an accepted lead on the partner's node: an opportunity on its own pipeline (the
//! account matched by the contact's e-mail domain, else by the company's exact name, else
//! created), and — when asked — a co-sell deal shared with the vendor that routed it, whose
//! attribution (the deal's own `sourced_by`/`influenced_by`, proposed by this node) names the
//! vendor as the source and this partner as the one that worked it.
//!
//! Invariant: one opportunity per lead offer. The opportunity carries the external id
//! `lead:<offer id>` (unique per node), so converting again finds it and never makes a second
//! one; a conversion whose sharing failed (say the policy shares nothing) completes its deal on
//! the next `convert --share`. Only the partner holding an accepted offer may convert: an offer
//! the vendor withdrew (re-routed to another partner) cannot.

use super::views::{offer, OfferDoc};
use crate::domain::audit::{self, AuditKind};
use crate::domain::deals::{Deals, DealsError};
use crate::domain::events::EventKind;
use crate::store::WriteTables;
use protocol::deal::{DealId, Role};
use protocol::records::{Account, AccountStatus, Domain, Opportunity, Stage};
use serde_json::{json, Value};

/// The external id the opportunity made from offer `id` carries.
pub fn external_id(id: DealId) -> String {
    format!("lead:{id}")
}

/// What a conversion made (or found).
#[derive(Debug, Clone)]
pub struct Converted {
    /// The answer: `{lead, opportunity_id, account_id, account_matched, deal_id, attribution}`.
    pub view: Value,
    /// Documents to send to peers (the new deal and its invitation).
    pub changed: Vec<DealId>,
}

/// Converts the lead offered to this node in document `id`; with `share`, also shares the
/// opportunity with the vendor as a deal with attribution. 409 when the offer is not accepted
/// (naming its state; a withdrawn one was re-routed) or is already converted (naming the
/// opportunity), 403 on the vendor's own node.
pub fn convert(deals: &Deals, id: DealId, share: bool, now: u64) -> Result<Converted, DealsError> {
    let doc = offer(deals, id)?;
    if doc.vendor == *deals.me() {
        return Err(DealsError::Forbidden(format!(
            "lead {id} is routed by this node: only the partner that accepted it may convert it"
        )));
    }
    match doc.status {
        Some("accepted") => {}
        Some("withdrawn") => {
            return Err(DealsError::Conflict(format!(
                "lead {id} was withdrawn by {} ({}): it was routed to another partner and cannot be converted here",
                doc.vendor_name,
                doc.fields
                    .get("reason")
                    .and_then(|v| v.text())
                    .unwrap_or("no reason given")
            )))
        }
        Some("offered") => {
            return Err(DealsError::Conflict(format!(
                "lead {id} is not accepted yet: accept it first (cosell leads accept {id})"
            )))
        }
        other => {
            return Err(DealsError::Conflict(format!(
                "lead {id} is {}: only an accepted lead can be converted",
                other.unwrap_or("unknown")
            )))
        }
    }
    let (opportunity_id, account_id, matched, created) = opportunity_for(deals, &doc, now)?;
    let existing_deal = deals.shared_with(&opportunity_id, doc.vendor.as_str())?;
    if !created && (existing_deal.is_some() || !share) {
        let deal = existing_deal
            .map(|d| format!(" (deal {d})"))
            .unwrap_or_default();
        return Err(DealsError::Conflict(format!(
            "lead {id} is already converted: opportunity {opportunity_id}{deal}"
        )));
    }
    let mut changed = Vec::new();
    let mut deal = None;
    if share {
        let message = format!(
            "Your lead {} ({}), worked by us",
            company(&doc),
            doc.country()
        );
        let made = deals
            .share_with_message(
                &opportunity_id,
                &[doc.vendor.to_string()],
                Role::Reseller,
                Some(&message),
                now,
            )
            .map_err(|e| shared_failed(e, &opportunity_id, id))?;
        deals.propose_attribution(made, doc.vendor.as_str(), &[deals.me().to_string()], now)?;
        changed = deals.with_invitations(made);
        deal = Some(made);
    }
    deals.publish(
        EventKind::LeadConverted,
        json!({"id": id.to_string(), "opportunity_id": opportunity_id,
               "deal_id": deal.map(|d| d.to_string())}),
    );
    let view = json!({
        "lead": id.to_string(),
        "opportunity_id": opportunity_id,
        "account_id": account_id,
        "account_matched": matched,
        "deal_id": deal.map(|d| d.to_string()),
        "attribution": deal.map(|_| json!({
            "sourced_by": doc.vendor.to_string(),
            "influenced_by": [deals.me().to_string()],
        })),
    });
    Ok(Converted { view, changed })
}

/// The opportunity for offer `doc`: the one already made from it, or a new one (its account
/// matched or created) in one transaction with its audit entry. Answers `(opportunity, account,
/// account matched, created now)`.
fn opportunity_for(
    deals: &Deals,
    doc: &OfferDoc,
    now: u64,
) -> Result<(String, String, bool, bool), DealsError> {
    let external = external_id(doc.id);
    let txn = deals.store().write()?;
    let mut tables = WriteTables::open(&txn)?;
    if let Some(opp) = tables.opportunity_id_by_external(&external)? {
        let account = tables
            .opportunity(&opp)?
            .map(|o| o.account_id)
            .unwrap_or_default();
        return Ok((opp, account, true, false));
    }
    let name = company(doc).to_string();
    let domain = doc
        .text_of("contact_email")
        .and_then(|e| e.rsplit_once('@'))
        .and_then(|(_, d)| Domain::parse(d).ok());
    let ids = match &domain {
        Some(d) => tables.account_ids_by_domain(d.as_str(), 2)?,
        None => Vec::new(),
    };
    let ids = if ids.is_empty() {
        tables.account_ids_by_name(&name, 2)?
    } else {
        ids
    };
    let (account, matched) = match ids.first().map(|a| tables.account(a)).transpose()? {
        Some(Some(a)) => (a, true),
        _ => (
            Account {
                id: ulid::Ulid::new().to_string(),
                external_id: None,
                name: name.clone(),
                domain,
                industry: None,
                country: Some(doc.country().to_string()),
                status: AccountStatus::Prospect,
                owner: None,
                tags: Vec::new(),
            },
            false,
        ),
    };
    let mut description = Vec::new();
    if let Some(note) = doc.text_of("note") {
        description.push(note.to_string());
    }
    let contact = match (doc.text_of("contact_name"), doc.text_of("contact_email")) {
        (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
        (n, e) => n.or(e).map(str::to_string),
    };
    if let Some(c) = contact {
        description.push(format!("Contact: {c}"));
    }
    description.push(format!(
        "Lead {} from {}, region {}",
        doc.id,
        doc.vendor_name,
        doc.text_of("region").unwrap_or("-")
    ));
    let opp = Opportunity {
        id: ulid::Ulid::new().to_string(),
        external_id: Some(external),
        account_id: account.id.clone(),
        name: format!("{name} (lead)"),
        stage: Stage::Prospect,
        amount: None,
        currency: None,
        close_date: None,
        owner: None,
        next_step: None,
        description: Some(description.join("\n")),
        tags: doc
            .text_of("tags")
            .map(|t| {
                t.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    };
    if !matched {
        tables.put_account(&account)?;
    }
    tables.put_opportunity(&opp)?;
    tables.flush()?;
    drop(tables);
    audit::record_in(
        &txn,
        now,
        AuditKind::Lead,
        Some(doc.vendor.as_str()),
        format!(
            "lead {} from {} converted: opportunity {}",
            doc.id, doc.vendor_name, opp.id
        ),
        json!({"event": "converted", "lead": doc.id.to_string(), "opportunity": opp.id,
               "account": account.id, "account_matched": matched}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    Ok((opp.id, account.id, matched, true))
}

fn company(doc: &OfferDoc) -> &str {
    doc.text_of("company").unwrap_or("Lead")
}

/// A failed share after the opportunity exists: say so, and how to finish.
fn shared_failed(e: DealsError, opportunity: &str, id: DealId) -> DealsError {
    let tail = format!(
        " (opportunity {opportunity} was made from lead {id}; run `cosell leads convert {id} --share` again once sharing is possible)"
    );
    match e {
        DealsError::Invalid(m) => {
            DealsError::Conflict(format!("not shared with the vendor: {m}{tail}"))
        }
        DealsError::NotFound(m) => {
            DealsError::Conflict(format!("not shared with the vendor: {m}{tail}"))
        }
        other => other,
    }
}
