//! The vendor's routing: its rules file (stored as written), and a routing pass — withdraw
//! offers whose SLA passed, take back rejected ones, and offer every lead without an offer to
//! the partner the rules choose (round robin over the rules' partners, persisted).

use super::{put, stored, Lead, Offer, KIND};
use crate::domain::audit::{self, AuditKind};
use crate::domain::deals::{Deals, DealsError};
use crate::domain::events::EventKind;
use crate::domain::partners;
use crate::store::shared::PartnerRecord;
use crate::store::tables::LEAD_SETTINGS;
use policy::routing::{choose, unroutable_reason, Candidate, LeadFacts, RoutingRules};
use policy::OpportunityField;
use protocol::deal::{DealDoc, DealId, Invite, Role, SharedFields};
use protocol::identity::NodeId;
use protocol::kind::StepValue;
use protocol::kinds::lead::LEAD;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

const RULES_KEY: &str = "rules";
const CURSOR_KEY: &str = "cursor";

/// Checks a rules file: its syntax and values (errors name line and key) and that every partner
/// it names is a partner of this node (errors name the entry's line).
pub fn check_rules(
    deals: &Deals,
    text: &str,
) -> Result<(RoutingRules, Vec<PartnerRecord>), DealsError> {
    let rules = RoutingRules::from_toml(text).map_err(|e| DealsError::Invalid(e.to_string()))?;
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for (i, p) in rules.partners.iter().enumerate() {
        match partners::resolve(deals.store(), &p.partner) {
            Ok(r) => records.push(r),
            Err(e) => problems.push(format!("line {}, key partner[{i}].partner: {e}", p.line)),
        }
    }
    if !problems.is_empty() {
        return Err(DealsError::Invalid(problems.join("\n")));
    }
    Ok((rules, records))
}

/// Stores a rules file after checking it; answers its summary.
pub fn set_rules(deals: &Deals, text: &str, now: u64) -> Result<Value, DealsError> {
    let (rules, records) = check_rules(deals, text)?;
    let txn = deals.store().write()?;
    {
        let mut table = txn.open_table(LEAD_SETTINGS).map_err(anyhow::Error::from)?;
        table
            .insert(RULES_KEY, text.as_bytes())
            .map_err(anyhow::Error::from)?;
        table.remove(CURSOR_KEY).map_err(anyhow::Error::from)?;
    }
    audit::record_in(
        &txn,
        now,
        AuditKind::Lead,
        None,
        format!("set lead routing rules ({} partners)", records.len()),
        json!({"event": "rules", "partners": records.iter().map(|r| r.id.clone()).collect::<Vec<_>>()}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    Ok(summary(&rules, &records))
}

/// The stored rules file, if any.
pub fn rules(deals: &Deals) -> Result<Option<String>, DealsError> {
    Ok(setting(deals, RULES_KEY)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// What a rules file says, as the API answers it.
pub fn summary(rules: &RoutingRules, records: &[PartnerRecord]) -> Value {
    json!({
        "sla_seconds": rules.sla_ms / 1000,
        "partners": rules.partners.iter().zip(records).map(|(p, r)| json!({
            "partner": r.id, "partner_name": r.name, "countries": p.countries,
            "regions": p.regions, "tags": p.tags, "capacity": p.capacity,
        })).collect::<Vec<_>>(),
    })
}

fn setting(deals: &Deals, key: &str) -> Result<Option<Vec<u8>>, DealsError> {
    let txn = deals.store().read()?;
    let table = match txn.open_table(LEAD_SETTINGS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(DealsError::Internal(e.into())),
    };
    Ok(table
        .get(key)
        .map_err(anyhow::Error::from)?
        .map(|v| v.value().to_vec()))
}

/// What a routing pass did (or, dry, would do).
#[derive(Debug, Default)]
pub struct Routed {
    /// The answer: `{dry_run, routed: [{lead, company, partner, partner_name}], by_partner:
    /// [{partner, partner_name, count}], unroutable: [{lead, reason}], expired, rejected}`.
    pub report: Value,
    /// The documents to sync (new offers and withdrawn ones).
    pub changed: Vec<DealId>,
    /// The earliest time an open offer's SLA ends (when the next pass has work).
    pub next_deadline_ms: Option<u64>,
}

/// One routing pass. `only_reoffers`: route only leads an earlier offer of which ended (the
/// background pass), not leads never routed.
pub fn route(
    deals: &Deals,
    dry_run: bool,
    only_reoffers: bool,
    now: u64,
) -> Result<Routed, DealsError> {
    let Some(text) = rules(deals)? else {
        return Err(DealsError::NotFound(
            "no lead routing rules: set them with `cosell leads rules set FILE.toml`".into(),
        ));
    };
    let (rules, records) = check_rules(deals, &text)?;
    let states: HashMap<String, Option<&'static str>> = super::views::offers(deals)
        .into_iter()
        .map(|o| (o.id.to_string(), o.status))
        .collect();
    let mut leads = stored(deals)?;
    let mut open: HashMap<String, u64> = HashMap::new();
    for lead in &leads {
        if let Some(o) = &lead.offer {
            if matches!(
                states.get(&o.doc).copied().flatten(),
                Some("offered" | "accepted")
            ) {
                *open.entry(o.partner.clone()).or_default() += 1;
            }
        }
    }
    let mut cursor = setting(deals, CURSOR_KEY)?
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<usize>().ok());
    let (mut expired, mut rejected) = (0usize, 0usize);
    let mut routed = Vec::new();
    let mut unroutable = Vec::new();
    let mut changed = Vec::new();
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    let mut next_deadline_ms: Option<u64> = None;
    let mut deadline = |o: &Offer| {
        next_deadline_ms =
            Some(next_deadline_ms.map_or(o.respond_by_ms, |d| d.min(o.respond_by_ms)));
    };
    for lead in &mut leads {
        let mut ended = false;
        if let Some(o) = lead.offer.clone() {
            let state = states.get(&o.doc).copied().flatten();
            let late = state == Some("offered") && now > o.respond_by_ms;
            if late || state == Some("rejected") {
                if late {
                    expired += 1;
                    if !dry_run {
                        withdraw(deals, &o, now)?;
                        changed.extend(DealId::parse(&o.doc).ok());
                    }
                } else {
                    rejected += 1;
                }
                if let Some(n) = open.get_mut(&o.partner) {
                    *n = n.saturating_sub(u64::from(late));
                }
                lead.tried.push(o.partner.clone());
                lead.offer = None;
                ended = true;
            } else {
                if state == Some("offered") {
                    deadline(&o);
                }
                continue;
            }
        }
        if only_reoffers && !ended {
            continue;
        }
        let facts = LeadFacts {
            country: &lead.country,
            region: lead.region.as_deref(),
            tags: &lead.tags,
        };
        let candidates: Vec<Candidate> = records
            .iter()
            .map(|r| candidate(deals, r, lead, &open))
            .collect();
        match choose(&rules, &facts, &candidates, cursor) {
            Some(i) => {
                cursor = Some(i);
                let partner = &records[i];
                *open.entry(partner.id.clone()).or_default() += 1;
                *counts.entry(i).or_default() += 1;
                routed.push(json!({"lead": lead.id, "company": lead.company,
                                   "partner": partner.id, "partner_name": partner.name}));
                lead.unroutable = None;
                if !dry_run {
                    let offer = offer(deals, lead, partner, rules.sla_ms, now)?;
                    changed.extend(DealId::parse(&offer.doc).ok());
                    deadline(&offer);
                    lead.offer = Some(offer);
                }
            }
            None => {
                let reason = if candidates.iter().any(|c| c.active) {
                    unroutable_reason(&rules, &facts)
                } else {
                    "no partner in the rules is an active partner"
                };
                unroutable
                    .push(json!({"lead": lead.id, "company": lead.company, "reason": reason}));
                lead.unroutable = Some(reason.to_string());
            }
        }
        if !dry_run {
            let txn = deals.store().write()?;
            put(&txn, lead)?;
            if let Some(c) = cursor {
                let mut table = txn.open_table(LEAD_SETTINGS).map_err(anyhow::Error::from)?;
                table
                    .insert(CURSOR_KEY, c.to_string().as_bytes())
                    .map_err(anyhow::Error::from)?;
            }
            txn.commit().map_err(anyhow::Error::from)?;
        }
    }
    let by_partner: Vec<Value> = counts
        .iter()
        .map(|(&i, &n)| json!({"partner": records[i].id, "partner_name": records[i].name, "count": n}))
        .collect();
    if !dry_run && (!routed.is_empty() || expired > 0) {
        audit::record(
            deals.store(),
            now,
            AuditKind::Lead,
            None,
            format!(
                "routed {} leads ({} offers past their SLA withdrawn, {} rejected offers re-routed)",
                routed.len(),
                expired,
                rejected
            ),
            json!({"event": "routed", "routed": routed.len(), "expired": expired,
                   "rejected": rejected, "unroutable": unroutable.len()}),
        )?;
    }
    Ok(Routed {
        report: json!({"dry_run": dry_run, "routed": routed, "by_partner": by_partner,
                       "unroutable": unroutable, "expired": expired, "rejected": rejected}),
        changed,
        next_deadline_ms,
    })
}

fn candidate(
    deals: &Deals,
    r: &PartnerRecord,
    lead: &Lead,
    open: &HashMap<String, u64>,
) -> Candidate {
    let role = partners::role_of_type(r.partner_type.as_deref());
    // The partner's policy decides whether it may receive anything from this country.
    let policy_admits = partners::policy_for(deals.store(), &r.id)
        .map(|p| {
            p.opportunities()
                .countries()
                .is_none_or(|cs| cs.iter().any(|c| policy::country::same(c, &lead.country)))
        })
        .unwrap_or(false);
    Candidate {
        partner_type: r.partner_type.clone(),
        open: open.get(&r.id).copied().unwrap_or(0),
        active: r.is_active() && role != Role::Vendor && policy_admits,
        tried: lead.tried.contains(&r.id),
    }
}

/// Offers `lead` to `partner`: a new document of kind `lead`, its `offer` step carrying what
/// the partner's policy lets it see.
fn offer(
    deals: &Deals,
    lead: &Lead,
    partner: &PartnerRecord,
    sla_ms: u64,
    now: u64,
) -> Result<Offer, DealsError> {
    let node = NodeId::parse(&partner.id).map_err(|e| DealsError::Invalid(e.to_string()))?;
    let policy = partners::policy_for(deals.store(), &partner.id)?;
    let shares = |f| policy.opportunities().shares(f);
    let respond_by_ms = now.saturating_add(sla_ms);
    let mut values: BTreeMap<String, StepValue> = BTreeMap::new();
    let mut put_text = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            values.insert(k.to_string(), StepValue::Text(v.to_string()));
        }
    };
    put_text("company", Some(&lead.company));
    put_text("country", Some(&lead.country));
    put_text("region", lead.region.as_deref());
    let tags = lead.tags.join(",");
    put_text("tags", Some(&tags));
    put_text("respond_by_ms", Some(&respond_by_ms.to_string()));
    if shares(OpportunityField::Owner) {
        put_text("contact_name", lead.contact_name.as_deref());
        put_text("contact_email", lead.contact_email.as_deref());
    }
    if shares(OpportunityField::Description) {
        put_text("note", lead.note.as_deref());
    }
    let invite = Invite {
        node,
        name: partner.name.clone(),
        role: partners::role_of_type(partner.partner_type.as_deref()),
    };
    let shared = SharedFields {
        title: Some(lead.company.chars().take(200).collect()),
        ..SharedFields::default()
    };
    let signer = deals.signer();
    let (mut doc, genesis) = DealDoc::create_kind(
        signer,
        now,
        (deals.name(), Role::Vendor),
        &[invite],
        &shared,
        &LEAD,
    )
    .map_err(|e| DealsError::Invalid(e.to_string()))?;
    let step = doc
        .take_step(signer, now, "offer", &values)
        .map_err(|e| DealsError::Invalid(e.to_string()))?;
    let summary = format!(
        "offered lead {} ({}) to {}",
        lead.id, lead.company, partner.name
    );
    let details = json!({"event": "offered", "lead": lead.id, "offer": doc.id().to_string()});
    let entry = (AuditKind::Lead, Some(partner.id.as_str()), summary, details);
    let id = deals.add_document(doc, &[genesis, step], now, Some(entry))?;
    Ok(Offer {
        doc: id.to_string(),
        partner: partner.id.clone(),
        offered_ms: now,
        respond_by_ms,
    })
}

/// Withdraws an offer its partner let pass: the partner gets no further updates of the lead.
fn withdraw(deals: &Deals, o: &Offer, now: u64) -> Result<(), DealsError> {
    let id = DealId::parse(&o.doc).map_err(|e| DealsError::Invalid(e.to_string()))?;
    let values = BTreeMap::from([(
        "reason".to_string(),
        StepValue::Text("the partner did not answer within the SLA".into()),
    )]);
    deals.edit(id, now, |doc, signer| {
        doc.take_step(signer, now, "withdraw", &values)
    })?;
    deals.publish(
        EventKind::LeadExpired,
        json!({"id": o.doc, "kind": KIND, "partner": o.partner}),
    );
    Ok(())
}

/// The vendor's background pass: withdraws offers past their SLA and re-routes them (and
/// rejected ones), then syncs the changed documents.
pub async fn watch(deals: Arc<Deals>, network: crate::net::NetHandle, clock: crate::clock::Clock) {
    loop {
        let engine = deals.clone();
        let now = clock.now_ms();
        let pass = tokio::task::spawn_blocking(move || -> Result<(Routed, u64), DealsError> {
            let sla = match rules(&engine)? {
                Some(text) => RoutingRules::from_toml(&text)
                    .map(|r| r.sla_ms)
                    .unwrap_or(60_000),
                None => return Ok((Routed::default(), 30_000)),
            };
            Ok((route(&engine, false, true, now)?, sla))
        })
        .await;
        let pause = match pass {
            Ok(Ok((routed, sla))) => {
                if !routed.changed.is_empty() {
                    let _ = network.sync(routed.changed).await;
                }
                // Soon after the next offer's SLA ends, and at least every quarter SLA.
                let until = routed
                    .next_deadline_ms
                    .map_or(u64::MAX, |d| d.saturating_sub(now).saturating_add(100));
                until.min(sla / 4).clamp(250, 30_000)
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot re-route leads");
                30_000
            }
            Err(_) => 30_000,
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}
