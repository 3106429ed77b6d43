//! Lead distribution. The vendor keeps its inbound leads (from the API or a CSV file) here, in
//! the local `leads` table, and routes them by its rules file (`route`, pure rules in
//! `policy::routing`): a routed lead is offered to one partner in a shared document of the
//! declared kind `lead` (`protocol::kinds::lead`) between the vendor (origin) and that partner
//! only. The partner accepts or rejects it; when it lets the SLA pass the vendor withdraws the
//! offer (a signed step) and offers the lead to the next partner in a new document the first
//! partner never sees — so the first partner gets no further updates.
//!
//! Invariant: a lead is offered to at most one partner at a time, and never twice to the same
//! partner. What an offer carries goes through the partner's policy: the contact (a person) only
//! when the policy shares `owner`, the free-text note only when it shares `description`.
//! Invariant: a step a peer sends that the declaration refuses (a partner withdrawing, or any
//! step by a node that is not the offer's partner) is never applied and is audited by the deal
//! engine's sync path.

mod convert;
mod route;
mod views;

pub use convert::{convert, Converted};

pub use route::{check_rules, route, rules, set_rules, summary as rules_summary, watch, Routed};
pub use views::{get, list, resolve_offer};

use crate::domain::audit::{self, AuditKind};
use crate::domain::deals::{Deals, DealsError};
use crate::store::tables::LEADS;
use protocol::deal::DealId;
use protocol::kind::{check_value, StepValue};
use protocol::kinds::lead::LEAD;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The declared kind's name.
pub const KIND: &str = "lead";
/// Most leads one import (API call or CSV file) adds.
pub const IMPORT_MAX: usize = 10_000;

/// Most tags on one lead.
pub const TAGS_MAX: usize = 20;

/// A new lead as given (API body or CSV row).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLead {
    pub company: String,
    pub country: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// One lead as the vendor stores it (`leads` table, JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lead {
    pub id: String,
    pub company: String,
    /// Canonical country code.
    pub country: String,
    pub region: Option<String>,
    pub tags: Vec<String>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub note: Option<String>,
    /// `api` or `csv`.
    pub source: String,
    pub created_ms: u64,
    /// The current offer: its document and partner.
    pub offer: Option<Offer>,
    /// Partners that had the lead and let the SLA pass or rejected it (node ids).
    #[serde(default)]
    pub tried: Vec<String>,
    /// Why the last routing pass found no partner.
    #[serde(default)]
    pub unroutable: Option<String>,
}

/// An offer of a lead to one partner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Offer {
    pub doc: String,
    pub partner: String,
    pub offered_ms: u64,
    pub respond_by_ms: u64,
}

/// Checks and stores new leads, all or none; answers their ids.
pub fn add(
    deals: &Deals,
    leads: Vec<NewLead>,
    source: &str,
    now: u64,
) -> Result<Vec<String>, DealsError> {
    if leads.is_empty() {
        return Err(DealsError::Invalid("no leads given".into()));
    }
    if leads.len() > IMPORT_MAX {
        return Err(DealsError::Invalid(format!(
            "{} leads in one import; at most {IMPORT_MAX}",
            leads.len()
        )));
    }
    let mut checked = Vec::with_capacity(leads.len());
    let mut problems: Vec<(String, String)> = Vec::new();
    // Monotonic ids: leads of one import are routed in the order given.
    let mut ids = ulid::Generator::new();
    for (i, new) in leads.into_iter().enumerate() {
        let id = ids
            .generate()
            .map_err(|e| DealsError::Internal(anyhow::anyhow!("lead id: {e}")))?;
        match check(new, id.to_string().to_lowercase(), source, now) {
            Ok(lead) => checked.push(lead),
            Err(list) => {
                let at = if source == "csv" {
                    format!("line {}", i + 2)
                } else {
                    format!("leads[{i}]")
                };
                problems.extend(list.into_iter().map(|(f, m)| (format!("{at}, {f}"), m)));
            }
        }
    }
    if !problems.is_empty() {
        problems.truncate(20);
        return Err(DealsError::InvalidFields(problems));
    }
    let txn = deals.store().write()?;
    {
        let mut table = txn.open_table(LEADS).map_err(anyhow::Error::from)?;
        for lead in &checked {
            let bytes = serde_json::to_vec(lead).map_err(anyhow::Error::from)?;
            table
                .insert(lead.id.as_str(), bytes.as_slice())
                .map_err(anyhow::Error::from)?;
        }
    }
    audit::record_in(
        &txn,
        now,
        AuditKind::Lead,
        None,
        format!("added {} leads ({source})", checked.len()),
        json!({"event": "imported", "count": checked.len(), "source": source}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    Ok(checked.into_iter().map(|l| l.id).collect())
}

/// Reads a CSV file of leads: a header row with `company` and `country` and any of `region`,
/// `tags` (separated by `;`), `contact_name`, `contact_email`, `note`. Errors name the line.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<NewLead>, DealsError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| DealsError::Invalid(format!("line 1: {e}")))?
        .clone();
    const COLUMNS: &[&str] = &[
        "company",
        "country",
        "region",
        "tags",
        "contact_name",
        "contact_email",
        "note",
    ];
    let mut index = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().to_ascii_lowercase();
        if !COLUMNS.contains(&h.as_str()) {
            return Err(DealsError::Invalid(format!(
                "line 1: unknown column '{h}' (columns: {})",
                COLUMNS.join(", ")
            )));
        }
        index.insert(h, i);
    }
    for needed in ["company", "country"] {
        if !index.contains_key(needed) {
            return Err(DealsError::Invalid(format!(
                "line 1: the header has no '{needed}' column"
            )));
        }
    }
    let mut out = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let row = row.map_err(|e| DealsError::Invalid(format!("line {}: {e}", n + 2)))?;
        if out.len() == IMPORT_MAX {
            return Err(DealsError::Invalid(format!(
                "more than {IMPORT_MAX} leads in one file"
            )));
        }
        let cell = |name: &str| {
            index
                .get(name)
                .and_then(|&i| row.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        out.push(NewLead {
            company: cell("company").unwrap_or_default(),
            country: cell("country").unwrap_or_default(),
            region: cell("region"),
            tags: cell("tags")
                .map(|t| {
                    t.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            contact_name: cell("contact_name"),
            contact_email: cell("contact_email"),
            note: cell("note"),
        });
    }
    Ok(out)
}

fn check(
    new: NewLead,
    id: String,
    source: &str,
    now: u64,
) -> Result<Lead, Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    let mut text = |field: &'static str, value: Option<&str>| -> Option<String> {
        let value = value.map(str::trim)?;
        let spec = LEAD.field(field)?;
        match check_value(spec.ty, &StepValue::Text(value.to_string())) {
            Ok(()) => Some(value.to_string()),
            Err(rule) => {
                problems.push((field, rule.to_string()));
                None
            }
        }
    };
    let company = text("company", Some(&new.company));
    let region = text("region", new.region.as_deref());
    let contact_name = text("contact_name", new.contact_name.as_deref());
    let contact_email = text("contact_email", new.contact_email.as_deref());
    let note = text("note", new.note.as_deref());
    let country = new.country.trim();
    if !policy::country::is_country(country) {
        problems.push((
            "country",
            format!("'{country}' is not a country (ISO 3166 code or name)"),
        ));
    }
    if let Some(email) = &contact_email {
        if !email.contains('@') {
            problems.push((
                "contact_email",
                format!("'{email}' is not an email address"),
            ));
        }
    }
    let tags: Vec<String> = new
        .tags
        .iter()
        .map(|t| policy::routing::normalize_word(t))
        .collect();
    if new.tags.len() > TAGS_MAX {
        problems.push(("tags", format!("at most {TAGS_MAX} tags")));
    } else if new
        .tags
        .iter()
        .any(|t| t.trim().is_empty() || t.contains(',') || t.chars().count() > 64)
    {
        problems.push((
            "tags",
            "each tag is 1 to 64 characters, without commas".into(),
        ));
    } else if tags.join(",").chars().count() > protocol::kinds::lead::SHORT_CHARS_MAX {
        problems.push(("tags", "too many tags".into()));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Lead {
        id,
        company: company.unwrap_or_default(),
        country: policy::country::canonical(country).to_ascii_uppercase(),
        region,
        tags,
        contact_name,
        contact_email,
        note,
        source: source.to_string(),
        created_ms: now,
        offer: None,
        tried: Vec::new(),
        unroutable: None,
    })
}

/// Every lead this node stores, oldest first.
pub(crate) fn stored(deals: &Deals) -> Result<Vec<Lead>, DealsError> {
    let txn = deals.store().read()?;
    let table = match txn.open_table(LEADS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(DealsError::Internal(e.into())),
    };
    let mut out = Vec::new();
    for row in table.iter().map_err(anyhow::Error::from)? {
        let (_, v) = row.map_err(anyhow::Error::from)?;
        let lead: Lead = serde_json::from_slice(v.value()).map_err(anyhow::Error::from)?;
        out.push(lead);
    }
    out.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
    Ok(out)
}

pub(crate) fn put(txn: &redb::WriteTransaction, lead: &Lead) -> anyhow::Result<()> {
    let mut table = txn.open_table(LEADS)?;
    let bytes = serde_json::to_vec(lead)?;
    table.insert(lead.id.as_str(), bytes.as_slice())?;
    Ok(())
}

/// The partner accepts the lead offered in document `id`.
pub fn accept(deals: &Deals, id: DealId, now: u64) -> Result<Value, DealsError> {
    answer(deals, id, "accept", BTreeMap::new(), now)
}

/// The partner rejects the lead offered in document `id`, optionally saying why.
pub fn reject(
    deals: &Deals,
    id: DealId,
    reason: Option<&str>,
    now: u64,
) -> Result<Value, DealsError> {
    let mut values = BTreeMap::new();
    if let Some(reason) = reason.map(str::trim) {
        let value = StepValue::Text(reason.to_string());
        let spec = LEAD.field("reason").map(|f| f.ty);
        if let Some(Err(rule)) = spec.map(|ty| check_value(ty, &value)) {
            return Err(DealsError::fields(vec![("reason", rule.to_string())]));
        }
        values.insert("reason".to_string(), value);
    }
    answer(deals, id, "reject", values, now)
}

fn answer(
    deals: &Deals,
    id: DealId,
    transition: &str,
    values: BTreeMap<String, StepValue>,
    now: u64,
) -> Result<Value, DealsError> {
    let offer = views::offer(deals, id)?;
    if offer.vendor == *deals.me() {
        return Err(DealsError::Forbidden(format!(
            "only the partner the lead {id} was offered to may {transition} it"
        )));
    }
    if offer.status != Some("offered") {
        return Err(DealsError::Conflict(format!(
            "lead {id} is {}: it cannot be {transition}ed now",
            offer.status.unwrap_or("unknown")
        )));
    }
    if offer.respond_by_ms.is_some_and(|by| now > by) {
        return Err(DealsError::Conflict(format!(
            "the time to answer lead {id} has passed: the vendor routes it to another partner"
        )));
    }
    deals.edit(id, now, |doc, signer| {
        doc.take_step(signer, now, transition, &values)
    })?;
    audit::record(
        deals.store(),
        now,
        AuditKind::Lead,
        Some(offer.vendor.as_str()),
        format!("lead {id} from {}: {transition}ed", offer.vendor_name),
        json!({"event": transition, "lead": id.to_string()}),
    )?;
    views::get(deals, &id.to_string())
}

#[cfg(test)]
mod tests;
