//! Announcements: the vendor tells the partners an audience selects (`all`, `tier:T` — the tier
//! the program computes now —, `type:T` — the partner type —, `region:R` — the region an admin
//! set for the partner) something, in one shared document of the declared kind `announcement`
//! (`protocol::kinds::announcement`) per recipient. So delivery is the deal sync: signed with
//! the node key and checked on receipt like every change, held for an offline partner until it
//! reconnects, and a partner outside the audience holds nothing of it (the peer gets only the
//! documents it participates in). The partner's `read` step is its read receipt.
//!
//! The vendor keeps what it announced, and to whom, in `ANNOUNCEMENTS`; read counts come from
//! the documents. A partner's received announcements are the documents themselves.

use super::{counted, current};
use crate::domain::audit::{self, rfc3339, AuditKind};
use crate::domain::deals::{Deals, DealsError, DocKind};
use crate::domain::partners;
use crate::store::shared::{self, PartnerRecord};
use crate::store::tables::{ANNOUNCEMENTS, PARTNER_REGIONS};
use crate::store::Store;
use protocol::deal::{DealDoc, DealId, Invite, Role, SharedFields};
use protocol::identity::NodeId;
use protocol::kind::StepValue;
use protocol::kinds::announcement::{ANNOUNCEMENT, BODY_CHARS_MAX, TITLE_CHARS_MAX};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The declared kind's name.
pub const KIND: &str = "announcement";
/// Most characters of a region.
pub const REGION_CHARS_MAX: usize = 64;
/// Most characters of an audience.
pub const AUDIENCE_CHARS_MAX: usize = 80;

/// What the vendor announced (`ANNOUNCEMENTS`, JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sent {
    pub id: String,
    pub title: String,
    pub body: String,
    /// As given: `all`, `tier:gold`, …
    pub audience: String,
    pub sent_ms: u64,
    /// The document sent to each partner: (document id, partner node id).
    pub docs: Vec<(String, String)>,
}

/// Who an announcement goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    All,
    Tier(String),
    Type(String),
    Region(String),
}

impl Audience {
    /// Reads `all`, `tier:T`, `type:T` or `region:R` exactly as written (lower-case words; a
    /// type is one of the partner types; a tier or region has something besides white space
    /// and no control characters, compared without case): what the API's schema states.
    pub fn parse(text: &str) -> Result<Audience, DealsError> {
        let bad = |why: &str| DealsError::fields(vec![("to", format!("'{text}' {why}"))]);
        if text.chars().count() > AUDIENCE_CHARS_MAX {
            return Err(bad(&format!(
                "is longer than {AUDIENCE_CHARS_MAX} characters"
            )));
        }
        if text == "all" {
            return Ok(Audience::All);
        }
        let not_one = "is not an audience: all, tier:T, type:T or region:R";
        let (what, value) = text.split_once(':').ok_or_else(|| bad(not_one))?;
        if what == "type" {
            return if partners::PARTNER_TYPES.contains(&value) {
                Ok(Audience::Type(value.to_string()))
            } else {
                Err(bad(&format!(
                    "names no partner type (one of {})",
                    partners::PARTNER_TYPES.join(", ")
                )))
            };
        }
        if value.chars().any(char::is_control) || value.trim().is_empty() {
            return Err(bad(
                "needs a value without control characters after the ':'",
            ));
        }
        let value = value.trim().to_string();
        match what {
            "tier" => Ok(Audience::Tier(value)),
            "region" => Ok(Audience::Region(value)),
            _ => Err(bad(not_one)),
        }
    }
}

/// A text field as given, checked as the API's schema states it (at most `max` characters as
/// sent, no control characters but tab and line breaks, something besides white space) and
/// then trimmed; a problem goes to `problems`.
fn checked_text(
    field: &'static str,
    value: &str,
    max: usize,
    problems: &mut Vec<(&'static str, String)>,
) -> Option<String> {
    if value.chars().count() > max {
        problems.push((field, format!("at most {max} characters")));
        return None;
    }
    match protocol::records::clean_text(field, Some(value), max) {
        Ok(Some(v)) => Some(v),
        Ok(None) => {
            problems.push((field, "must not be blank".to_string()));
            None
        }
        Err(e) => {
            problems.push((field, e.message));
            None
        }
    }
}

/// The active partners `audience` selects at `now_ms`.
pub fn select(
    store: &Store,
    deals: &Deals,
    audience: &Audience,
    now_ms: u64,
) -> Result<Vec<PartnerRecord>, DealsError> {
    let active: Vec<PartnerRecord> = shared::partners(store)?
        .into_iter()
        .filter(|p| p.is_active())
        .collect();
    let regions = regions(store)?;
    Ok(match audience {
        Audience::All => active,
        Audience::Type(t) => active
            .into_iter()
            .filter(|p| p.partner_type.as_deref().unwrap_or("reseller") == t)
            .collect(),
        Audience::Region(r) => active
            .into_iter()
            .filter(|p| {
                regions
                    .get(&p.id)
                    .is_some_and(|x| x.eq_ignore_ascii_case(r))
            })
            .collect(),
        Audience::Tier(t) => {
            let program = current(store)?
                .and_then(|s| s.program().ok())
                .ok_or_else(|| {
                    DealsError::fields(vec![(
                        "to",
                        "no partner program is set: a tier audience needs one".to_string(),
                    )])
                })?;
            let Some(index) = program
                .tiers
                .iter()
                .position(|x| x.name.eq_ignore_ascii_case(t))
            else {
                let names: Vec<&str> = program.tiers.iter().map(|x| x.name.as_str()).collect();
                return Err(DealsError::fields(vec![(
                    "to",
                    format!("'{t}' is not a tier of the program ({})", names.join(", ")),
                )]));
            };
            let facts = deals.facts();
            let mut out = Vec::new();
            for p in active {
                if counted(store, &facts, &program, &p.id, now_ms)?
                    .standing
                    .tier
                    == Some(index)
                {
                    out.push(p);
                }
            }
            out
        }
    })
}

/// Every partner's region (partner node id → region).
pub fn regions(store: &Store) -> anyhow::Result<HashMap<String, String>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, PARTNER_REGIONS)? else {
        return Ok(HashMap::new());
    };
    let mut out = HashMap::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.insert(k.value().to_string(), v.value().to_string());
    }
    Ok(out)
}

/// Sets (or, with `None`, clears) the region of `partner` (audited); answers the region.
pub fn set_region(
    store: &Store,
    partner: &PartnerRecord,
    region: Option<&str>,
    now_ms: u64,
) -> Result<Option<String>, DealsError> {
    if region.is_some_and(|r| r.chars().count() > REGION_CHARS_MAX) {
        return Err(DealsError::fields(vec![(
            "region",
            format!("at most {REGION_CHARS_MAX} characters"),
        )]));
    }
    let region = protocol::records::clean_text("region", region, REGION_CHARS_MAX)
        .map_err(|e| DealsError::fields(vec![(e.field, e.message)]))?;
    let txn = store.write()?;
    {
        let mut table = txn
            .open_table(PARTNER_REGIONS)
            .map_err(anyhow::Error::from)?;
        match &region {
            Some(r) => table.insert(partner.id.as_str(), r.as_str()),
            None => table.remove(partner.id.as_str()),
        }
        .map_err(anyhow::Error::from)?;
    }
    audit::record_in(
        &txn,
        now_ms,
        AuditKind::Program,
        Some(partner.id.as_str()),
        match &region {
            Some(r) => format!("set {}'s region to {r}", partner.name),
            None => format!("cleared {}'s region", partner.name),
        },
        json!({"event": "region_set", "partner": partner.id, "region": region}),
    )?;
    txn.commit().map_err(anyhow::Error::from)?;
    Ok(region)
}

/// An announcement as given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAnnouncement {
    /// The audience: `all`, `tier:T`, `type:T` or `region:R`.
    pub to: String,
    pub title: String,
    pub body: String,
}

/// Sends `new` to the partners its audience selects: one signed document each, stored before
/// it returns; answers the announcement and the documents to sync. An audience that selects
/// no partner is refused (nothing would be sent).
pub fn announce(
    deals: &Deals,
    new: &NewAnnouncement,
    now_ms: u64,
) -> Result<(Value, Vec<DealId>), DealsError> {
    let mut problems = Vec::new();
    let title = checked_text("title", &new.title, TITLE_CHARS_MAX, &mut problems);
    let body = checked_text("body", &new.body, BODY_CHARS_MAX, &mut problems);
    let audience = Audience::parse(&new.to);
    if let Err(DealsError::InvalidFields(list)) = &audience {
        problems.extend(list.iter().map(|(_, m)| ("to", m.clone())));
    }
    if !problems.is_empty() {
        return Err(DealsError::fields(problems));
    }
    let (Some(title), Some(body)) = (title, body) else {
        return Err(DealsError::Invalid("title and body are required".into()));
    };
    let audience = audience?;
    let store = deals.store().clone();
    let recipients = select(&store, deals, &audience, now_ms)?;
    if recipients.is_empty() {
        return Err(DealsError::fields(vec![(
            "to",
            format!("no active partner is in the audience '{}'", new.to),
        )]));
    }
    let id = ulid::Ulid::new().to_string().to_lowercase();
    let values = BTreeMap::from([
        ("title".to_string(), StepValue::Text(title.clone())),
        ("body".to_string(), StepValue::Text(body.clone())),
        ("ref".to_string(), StepValue::Text(id.clone())),
    ]);
    // Every document is made (and signed) before anything is stored: a bad one stops the
    // whole announcement.
    let signer = deals.signer();
    let mut made = Vec::new();
    for p in &recipients {
        let node = NodeId::parse(&p.id).map_err(|e| anyhow::anyhow!("partner id: {e}"))?;
        // The recipient is never the vendor party: the `read` step is a partner's.
        let role = match partners::role_of_type(p.partner_type.as_deref()) {
            Role::Vendor => Role::Reseller,
            r => r,
        };
        let invite = Invite {
            node,
            name: p.name.clone(),
            role,
        };
        let shared = SharedFields {
            title: Some(title.chars().take(200).collect()),
            ..SharedFields::default()
        };
        let (mut doc, genesis) = DealDoc::create_kind(
            signer,
            now_ms,
            (deals.name(), Role::Vendor),
            &[invite],
            &shared,
            &ANNOUNCEMENT,
        )
        .map_err(|e| DealsError::Invalid(e.to_string()))?;
        let step = doc
            .take_step(signer, now_ms, "announce", &values)
            .map_err(|e| DealsError::Invalid(e.to_string()))?;
        made.push((p, doc, genesis, step));
    }
    let sent = Sent {
        id: id.clone(),
        title,
        body,
        audience: new.to.clone(),
        sent_ms: now_ms,
        docs: made
            .iter()
            .map(|(p, doc, _, _)| (doc.id().to_string(), p.id.clone()))
            .collect(),
    };
    {
        let txn = store.write()?;
        {
            let mut table = txn.open_table(ANNOUNCEMENTS).map_err(anyhow::Error::from)?;
            let bytes = serde_json::to_vec(&sent).map_err(anyhow::Error::from)?;
            table
                .insert(id.as_str(), bytes.as_slice())
                .map_err(anyhow::Error::from)?;
        }
        audit::record_in(
            &txn,
            now_ms,
            AuditKind::Program,
            None,
            format!(
                "announced '{}' to {} ({} partners)",
                sent.title,
                sent.audience,
                sent.docs.len()
            ),
            json!({"event": "announced", "announcement": id, "audience": sent.audience,
                   "partners": sent.docs.iter().map(|d| &d.1).collect::<Vec<_>>()}),
        )?;
        txn.commit().map_err(anyhow::Error::from)?;
    }
    let mut ids = Vec::new();
    for (_, doc, genesis, step) in made {
        ids.push(deals.add_document(doc, &[genesis, step], now_ms, None)?);
    }
    let item = sent_json(&sent, &held(deals));
    Ok((item, ids))
}

/// One announcement document held here.
#[derive(Debug, Clone)]
struct Held {
    id: DealId,
    vendor: NodeId,
    vendor_name: String,
    partner: Option<(NodeId, String)>,
    read: bool,
    read_ms: Option<u64>,
    sent_ms: u64,
    fields: BTreeMap<String, StepValue>,
}

impl Held {
    fn text(&self, field: &str) -> &str {
        self.fields
            .get(field)
            .and_then(StepValue::text)
            .unwrap_or("")
    }
}

fn held(deals: &Deals) -> HashMap<DealId, Held> {
    let inner = deals.lock();
    inner
        .info
        .iter()
        .filter(|(_, i)| i.kind == DocKind::Declared(KIND))
        .filter_map(|(id, _)| {
            let doc = inner.docs.get(id)?;
            let view = doc.read_view();
            let kind = doc.kind_view()?;
            let vendor = view.origin.clone()?;
            let vendor_name = view
                .participants
                .get(&vendor)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            let partner = view
                .participants
                .iter()
                .find(|(n, _)| **n != vendor)
                .map(|(n, p)| (n.clone(), p.name.clone()));
            let read_ms = kind
                .folded
                .history
                .iter()
                .find(|r| r.stale.is_none() && r.step.transition == "read")
                .map(|r| r.step.at_ms);
            Some((
                *id,
                Held {
                    id: *id,
                    vendor,
                    vendor_name,
                    partner,
                    read: kind.folded.state == Some("read"),
                    read_ms,
                    sent_ms: view.created_at_ms.unwrap_or(0),
                    fields: kind.folded.fields,
                },
            ))
        })
        .collect()
}

fn sent_json(sent: &Sent, held: &HashMap<DealId, Held>) -> Value {
    let reads: Vec<Value> = sent
        .docs
        .iter()
        .map(|(doc, partner)| {
            let h = DealId::parse(doc).ok().and_then(|id| held.get(&id));
            json!({
                "partner": partner,
                "partner_name": h.and_then(|h| h.partner.as_ref()).map(|p| p.1.clone()),
                "read": h.is_some_and(|h| h.read),
                "read_at": h.and_then(|h| h.read_ms).map(rfc3339),
            })
        })
        .collect();
    let read = reads.iter().filter(|r| r["read"] == true).count();
    json!({
        "id": sent.id,
        "direction": "sent",
        "title": sent.title,
        "body": sent.body,
        "sent_at": rfc3339(sent.sent_ms),
        "from": null,
        "audience": sent.audience,
        "recipients": sent.docs.len(),
        "read_count": read,
        "reads": reads,
        "read": null,
        "read_at": null,
    })
}

fn received_json(h: &Held) -> Value {
    json!({
        "id": h.id.to_string(),
        "direction": "received",
        "title": h.text("title"),
        "body": h.text("body"),
        "sent_at": rfc3339(h.sent_ms),
        "from": {"id": h.vendor.to_string(), "name": h.vendor_name},
        "audience": null,
        "recipients": null,
        "read_count": null,
        "reads": [],
        "read": h.read,
        "read_at": h.read_ms.map(rfc3339),
    })
}

fn stored(store: &Store) -> anyhow::Result<Vec<Sent>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, ANNOUNCEMENTS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, v) = row?;
        out.push(serde_json::from_slice::<Sent>(v.value())?);
    }
    Ok(out)
}

/// Announcements this node sent (with read counts) and received, newest first; `direction`
/// keeps one of the two (`sent`, `received`).
pub fn list(deals: &Deals, direction: Option<&str>) -> Result<Vec<Value>, DealsError> {
    let held = held(deals);
    let mut out: Vec<(u64, Value)> = Vec::new();
    if direction != Some("received") {
        for s in stored(deals.store())? {
            out.push((s.sent_ms, sent_json(&s, &held)));
        }
    }
    if direction != Some("sent") {
        for h in held.values().filter(|h| h.vendor != *deals.me()) {
            out.push((h.sent_ms, received_json(h)));
        }
    }
    out.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| b.1["id"].as_str().cmp(&a.1["id"].as_str()))
    });
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// How many received announcements are not read yet.
pub fn unread(deals: &Deals) -> usize {
    held(deals)
        .values()
        .filter(|h| h.vendor != *deals.me() && !h.read)
        .count()
}

/// Marks the received announcement `id` read: a signed `read` step, the vendor's read receipt.
/// Reading one already read changes nothing. Answers it and whether a step was taken.
pub fn mark_read(deals: &Deals, id: &str, now_ms: u64) -> Result<(Value, bool), DealsError> {
    let not_found = || DealsError::NotFound(format!("no received announcement with id {id}"));
    let id = DealId::parse(id.trim()).map_err(|_| not_found())?;
    let h = held(deals).remove(&id).ok_or_else(not_found)?;
    if h.vendor == *deals.me() {
        return Err(not_found());
    }
    if h.read {
        return Ok((received_json(&h), false));
    }
    deals.edit(id, now_ms, |doc, signer| {
        doc.take_step(signer, now_ms, "read", &BTreeMap::new())
    })?;
    audit::record(
        deals.store(),
        now_ms,
        AuditKind::Program,
        Some(h.vendor.as_str()),
        format!(
            "read announcement '{}' from {}",
            h.text("title"),
            h.vendor_name
        ),
        json!({"event": "announcement_read", "announcement": id.to_string()}),
    )?;
    let h = held(deals).remove(&id).ok_or_else(not_found)?;
    Ok((received_json(&h), true))
}
