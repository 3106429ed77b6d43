//! Each partner sees its own standing: the vendor's tier for it, the tier's benefits and what
//! the next tier lacks, in one shared document of the declared kind `standing`
//! (`protocol::kinds::standing`) per partner, between the vendor and that partner only — so a
//! partner never holds another partner's standing (the peer gets only the documents it
//! participates in). The vendor signs an `update` step when what it would send differs from
//! what the document holds; the partner reads the documents it received.

use super::{counted, current, next_json, program_json};
use crate::domain::audit::rfc3339;
use crate::domain::deals::{Deals, DealsError, DocKind};
use crate::domain::partners;
use crate::store::shared;
use crate::store::Store;
use protocol::deal::{DealDoc, DealId, Invite, Role, SharedFields};
use protocol::identity::NodeId;
use protocol::kind::StepValue;
use protocol::kinds::standing::STANDING;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The declared kind's name.
pub const KIND: &str = "standing";

/// One standing document held here.
struct Held {
    id: DealId,
    vendor: NodeId,
    vendor_name: String,
    partner: Option<NodeId>,
    updated_ms: u64,
    fields: BTreeMap<String, StepValue>,
}

fn held(deals: &Deals) -> Vec<Held> {
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
            let updated_ms = kind
                .folded
                .history
                .iter()
                .rev()
                .find(|r| r.stale.is_none())
                .map_or(0, |r| r.step.at_ms);
            Some(Held {
                id: *id,
                vendor_name: view
                    .participants
                    .get(&vendor)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                partner: view.participants.keys().find(|n| **n != vendor).cloned(),
                vendor,
                updated_ms,
                fields: kind.folded.fields,
            })
        })
        .collect()
}

/// Sends each active partner its standing where it changed (or was never sent): answers the
/// documents to sync. Without a program, nothing is sent.
pub fn share(store: &Store, deals: &Deals, now_ms: u64) -> Result<Vec<DealId>, DealsError> {
    let Some(stored) = current(store)? else {
        return Ok(Vec::new());
    };
    let Ok(program) = stored.program() else {
        return Ok(Vec::new());
    };
    let mine: BTreeMap<String, (DealId, BTreeMap<String, StepValue>)> = held(deals)
        .into_iter()
        .filter(|h| h.vendor == *deals.me())
        .filter_map(|h| Some((h.partner?.to_string(), (h.id, h.fields))))
        .collect();
    let facts = deals.facts();
    let program_view = program_json(&program);
    let mut changed = Vec::new();
    for p in shared::partners(store)?.iter().filter(|p| p.is_active()) {
        let standing = counted(store, &facts, &program, &p.id, now_ms)?.standing;
        let mut values = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            values.insert(k.to_string(), StepValue::Text(v));
        };
        put("program_version", stored.version.to_string());
        if let Some(i) = standing.tier {
            put("tier", program.tiers[i].name.clone());
            put("benefits", program_view["tiers"][i]["benefits"].to_string());
        }
        if let Some(next) = next_json(&program, &standing) {
            put("next_tier", next["tier"].as_str().unwrap_or("").to_string());
            put("lacks", next["lacks"].to_string());
        }
        // A value too long for the declaration (a very long lacks list) is left out rather
        // than failing every partner's update.
        values.retain(|k, v| {
            STANDING
                .field(k)
                .is_some_and(|f| protocol::kind::check_value(f.ty, v).is_ok())
        });
        match mine.get(&p.id) {
            Some((_, fields)) if *fields == values => {}
            Some((id, _)) => {
                deals.edit(*id, now_ms, |doc, signer| {
                    doc.take_step(signer, now_ms, "update", &values)
                })?;
                changed.push(*id);
            }
            None => {
                let node = NodeId::parse(&p.id).map_err(|e| anyhow::anyhow!("partner id: {e}"))?;
                let role = match partners::role_of_type(p.partner_type.as_deref()) {
                    Role::Vendor => Role::Reseller,
                    r => r,
                };
                let signer = deals.signer();
                let (mut doc, genesis) = DealDoc::create_kind(
                    signer,
                    now_ms,
                    (deals.name(), Role::Vendor),
                    &[Invite {
                        node,
                        name: p.name.clone(),
                        role,
                    }],
                    &SharedFields {
                        title: Some(format!("Program standing of {}", p.name)),
                        ..SharedFields::default()
                    },
                    &STANDING,
                )
                .map_err(|e| DealsError::Invalid(e.to_string()))?;
                let step = doc
                    .take_step(signer, now_ms, "publish", &values)
                    .map_err(|e| DealsError::Invalid(e.to_string()))?;
                changed.push(deals.add_document(doc, &[genesis, step], now_ms, None)?);
            }
        }
    }
    Ok(changed)
}

/// The standings this node received from vendors: `{vendor, tier, benefits, next,
/// program_version, updated_at}` each, by vendor name.
pub fn received(deals: &Deals) -> Vec<Value> {
    let mut out: Vec<Held> = held(deals)
        .into_iter()
        .filter(|h| h.vendor != *deals.me() && h.partner.as_ref() == Some(deals.me()))
        .collect();
    out.sort_by(|a, b| (&a.vendor_name, &a.vendor).cmp(&(&b.vendor_name, &b.vendor)));
    out.iter()
        .map(|h| {
            let text = |k: &str| h.fields.get(k).and_then(StepValue::text);
            let parsed = |k: &str| text(k).and_then(|t| serde_json::from_str::<Value>(t).ok());
            json!({
                "vendor": {"id": h.vendor.to_string(), "name": h.vendor_name},
                "tier": text("tier"),
                "benefits": parsed("benefits"),
                "next": text("next_tier").map(|t| json!({
                    "tier": t,
                    "lacks": parsed("lacks").unwrap_or_else(|| json!([])),
                })),
                "program_version": text("program_version").and_then(|v| v.parse::<u64>().ok()),
                "updated_at": rfc3339(h.updated_ms),
            })
        })
        .collect()
}
