//! Leads as the API shows them: the vendor's stored leads with the state of their current
//! offer (`direction: outbound`), and the offers this node received as a partner
//! (`direction: inbound`), read from their replayed steps.

use super::{stored, Lead, KIND};
use crate::domain::audit::rfc3339;
use crate::domain::deals::{Deals, DealsError};
use crate::domain::declared;
use protocol::deal::DealId;
use protocol::identity::NodeId;
use protocol::kind::StepValue;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// One offer document as read.
#[derive(Debug, Clone)]
pub(super) struct OfferDoc {
    pub id: DealId,
    pub vendor: NodeId,
    pub vendor_name: String,
    pub partner: Option<NodeId>,
    pub partner_name: String,
    pub status: Option<&'static str>,
    pub fields: BTreeMap<String, StepValue>,
    pub respond_by_ms: Option<u64>,
    pub created_at_ms: u64,
    pub history: Vec<Value>,
}

impl OfferDoc {
    fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(StepValue::text)
    }

    /// A text field of the offer, when it carries one.
    pub(super) fn text_of(&self, field: &str) -> Option<&str> {
        self.text(field)
    }

    /// The lead's country.
    pub(super) fn country(&self) -> &str {
        self.text("country").unwrap_or("")
    }

    fn json(&self) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id.to_string()));
        out.insert("direction".into(), json!("inbound"));
        out.insert("status".into(), json!(self.status));
        out.insert("vendor".into(), json!(self.vendor.to_string()));
        out.insert("vendor_name".into(), json!(self.vendor_name));
        out.insert(
            "partner".into(),
            json!(self.partner.as_ref().map(|p| p.to_string())),
        );
        out.insert("partner_name".into(), json!(self.partner_name));
        for key in [
            "company",
            "country",
            "region",
            "contact_name",
            "contact_email",
            "note",
            "reason",
        ] {
            out.insert(key.into(), json!(self.text(key)));
        }
        out.insert("tags".into(), json!(tags_of(self.text("tags"))));
        out.insert("respond_by".into(), json!(self.respond_by_ms.map(rfc3339)));
        out.insert("offered_at".into(), json!(rfc3339(self.created_at_ms)));
        out.insert("history".into(), Value::Array(self.history.clone()));
        Value::Object(out)
    }
}

fn tags_of(text: Option<&str>) -> Vec<&str> {
    text.map(|t| t.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// Every lead document held here.
pub(super) fn offers(deals: &Deals) -> Vec<OfferDoc> {
    declared::docs(deals, KIND)
        .into_iter()
        .map(|d| {
            let partner = d
                .member_with(None)
                .map(|m| (m.node.clone(), m.name.clone()));
            let respond_by_ms = d.text("respond_by_ms").and_then(|t| t.parse().ok());
            OfferDoc {
                id: d.id,
                vendor_name: d.name_of(d.origin.as_str()).unwrap_or_default(),
                vendor: d.origin.clone(),
                partner_name: partner.as_ref().map(|p| p.1.clone()).unwrap_or_default(),
                partner: partner.map(|p| p.0),
                status: d.status,
                respond_by_ms,
                created_at_ms: d.created_at_ms,
                history: d.history_json(),
                fields: d.fields,
            }
        })
        .collect()
}

/// The offer document `id`.
pub(super) fn offer(deals: &Deals, id: DealId) -> Result<OfferDoc, DealsError> {
    offers(deals)
        .into_iter()
        .find(|o| o.id == id)
        .ok_or_else(|| DealsError::NotFound(format!("no lead offer with id {id}")))
}

fn lead_json(
    lead: &Lead,
    offers: &HashMap<String, &OfferDoc>,
    names: &dyn Fn(&str) -> String,
) -> Value {
    let offer = lead.offer.as_ref();
    let doc = offer.and_then(|o| offers.get(&o.doc));
    let status = match (offer, doc) {
        (None, _) if lead.unroutable.is_some() => "unroutable",
        (None, _) => "new",
        (Some(_), Some(d)) => d.status.unwrap_or("offered"),
        (Some(_), None) => "offered",
    };
    json!({
        "id": lead.id,
        "direction": "outbound",
        "status": status,
        "company": lead.company,
        "country": lead.country,
        "region": lead.region,
        "tags": lead.tags,
        "contact_name": lead.contact_name,
        "contact_email": lead.contact_email,
        "note": lead.note,
        "source": lead.source,
        "created_at": rfc3339(lead.created_ms),
        "partner": offer.map(|o| o.partner.clone()),
        "partner_name": offer.map(|o| names(&o.partner)),
        "offer": offer.map(|o| o.doc.clone()),
        "respond_by": offer.map(|o| rfc3339(o.respond_by_ms)),
        "reason": doc.and_then(|d| d.text("reason")).or(lead.unroutable.as_deref()),
        "tried": lead.tried.iter().map(|p| json!({"partner": p, "partner_name": names(p)})).collect::<Vec<_>>(),
    })
}

fn partner_name(deals: &Deals, id: &str) -> String {
    crate::store::shared::partner(deals.store(), id)
        .ok()
        .flatten()
        .map(|p| p.name)
        .unwrap_or_default()
}

/// Every lead: the ones this node routes (oldest first), then the ones offered to it; only
/// those in `status` when given.
pub fn list(deals: &Deals, status: Option<&str>) -> Result<Vec<Value>, DealsError> {
    let docs = offers(deals);
    let by_id: HashMap<String, &OfferDoc> = docs.iter().map(|d| (d.id.to_string(), d)).collect();
    let names = |id: &str| partner_name(deals, id);
    let mut out: Vec<Value> = stored(deals)?
        .iter()
        .map(|l| lead_json(l, &by_id, &names))
        .collect();
    out.extend(
        docs.iter()
            .filter(|d| d.vendor != *deals.me())
            .map(OfferDoc::json),
    );
    if let Some(s) = status {
        out.retain(|v| v["status"] == s);
    }
    Ok(out)
}

/// One lead: a stored lead by its id, or an offer document by its id (or a unique prefix of at
/// least 4 hex digits of either).
pub fn get(deals: &Deals, id: &str) -> Result<Value, DealsError> {
    let want = id.trim().to_ascii_lowercase();
    let shown: String = want.chars().take(80).collect();
    if want.len() < 4 || !want.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(DealsError::NotFound(format!(
            "no lead with id {shown} (give the id or a unique prefix of at least 4 characters)"
        )));
    }
    let mut found: Vec<Value> = list(deals, None)?
        .into_iter()
        .filter(|v| v["id"].as_str().is_some_and(|i| i.starts_with(&want)))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(DealsError::NotFound(format!(
            "no lead with an id starting {shown}"
        ))),
        n => Err(DealsError::Conflict(format!(
            "{n} leads have ids starting {shown}: give more characters"
        ))),
    }
}

/// The offer document offered to this node whose id is `text` or starts with it.
pub fn resolve_offer(deals: &Deals, text: &str) -> Result<DealId, DealsError> {
    let me = deals.me().clone();
    declared::resolve(deals, KIND, text, "lead offered to this node", |d| {
        d.origin != me
    })
}
