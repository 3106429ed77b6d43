//! MDF requests as the API shows them, read from their replayed steps.

use super::KIND;
use crate::domain::deals::{Deals, DealsError};
use crate::domain::declared;
use protocol::deal::{DealId, Role};
use protocol::identity::NodeId;
use protocol::kind::StepValue;
use protocol::records::Amount;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One MDF request as read.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub id: DealId,
    pub partner: NodeId,
    pub partner_name: String,
    pub vendor: NodeId,
    pub vendor_name: String,
    pub status: Option<&'static str>,
    pub fields: BTreeMap<String, StepValue>,
    pub created_at_ms: u64,
    pub history: Vec<Value>,
}

impl Request {
    pub fn text(&self, field: &str) -> Option<String> {
        self.fields
            .get(field)
            .and_then(StepValue::text)
            .map(str::to_string)
    }

    pub fn decimal(&self, field: &str) -> Option<Amount> {
        self.text(field).and_then(|t| Amount::parse(&t).ok())
    }

    fn json(&self) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id.to_string()));
        out.insert("vendor".into(), json!(self.vendor.to_string()));
        out.insert("vendor_name".into(), json!(self.vendor_name));
        out.insert("partner".into(), json!(self.partner.to_string()));
        out.insert("partner_name".into(), json!(self.partner_name));
        out.insert("status".into(), json!(self.status));
        for (key, field) in [
            ("activity", "activity"),
            ("activity_type", "activity_type"),
            ("period", "period"),
            ("start", "start"),
            ("end", "end"),
            ("requested", "requested"),
            ("approved_amount", "approved_amount"),
            ("currency", "currency"),
            ("expected_leads", "expected_leads"),
            ("expected_pipeline", "expected_pipeline"),
            ("reason", "reason"),
            ("results", "results"),
            ("reimbursed_amount", "reimbursed_amount"),
            ("reference", "reference"),
            ("paid_on", "paid_on"),
        ] {
            out.insert(key.into(), json!(self.text(field)));
        }
        let proof = match (self.text("proof_name"), self.text("proof_sha256")) {
            (Some(name), Some(sha256)) => {
                let bytes = match self.fields.get("proof") {
                    Some(StepValue::Bytes(b)) => b.len(),
                    _ => 0,
                };
                json!({"name": name, "sha256": sha256, "bytes": bytes})
            }
            _ => Value::Null,
        };
        out.insert("proof".into(), proof);
        out.insert(
            "created_at".into(),
            json!(crate::domain::audit::rfc3339(self.created_at_ms)),
        );
        out.insert("history".into(), Value::Array(self.history.clone()));
        Value::Object(out)
    }
}

/// Every MDF request held here (proposed here or to this vendor), oldest first.
pub(super) fn requests(deals: &Deals) -> Vec<Request> {
    declared::docs(deals, KIND)
        .into_iter()
        .filter_map(|d| {
            let vendor = d.member_with(Some(Role::Vendor))?.clone();
            let history = d.history_json();
            Some(Request {
                id: d.id,
                partner_name: d.name_of(d.origin.as_str()).unwrap_or_default(),
                partner: d.origin,
                vendor: vendor.node,
                vendor_name: vendor.name,
                status: d.status,
                fields: d.fields,
                created_at_ms: d.created_at_ms,
                history,
            })
        })
        .collect()
}

/// The request `id`.
pub(super) fn request(deals: &Deals, id: DealId) -> Result<Request, DealsError> {
    requests(deals)
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| DealsError::NotFound(format!("no MDF request with id {id}")))
}

/// Resolves an id or a unique prefix of one (at least 4 hex digits).
pub fn resolve(deals: &Deals, text: &str) -> Result<DealId, DealsError> {
    declared::resolve(deals, KIND, text, "MDF request", |_| true)
}

/// Every request, oldest first, optionally only those in `status`.
pub fn list(deals: &Deals, status: Option<&str>) -> Vec<Value> {
    requests(deals)
        .iter()
        .filter(|r| status.is_none_or(|s| r.status == Some(s)))
        .map(Request::json)
        .collect()
}

/// One request, if held here.
pub fn get(deals: &Deals, id: DealId) -> Result<Option<Value>, DealsError> {
    Ok(requests(deals)
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.json()))
}

/// The proof attachment of request `id`: its name, SHA-256 and bytes.
pub fn proof(deals: &Deals, id: DealId) -> Result<(String, String, Vec<u8>), DealsError> {
    let r = request(deals, id)?;
    match (
        r.text("proof_name"),
        r.text("proof_sha256"),
        r.fields.get("proof"),
    ) {
        (Some(name), Some(sha), Some(StepValue::Bytes(bytes))) => Ok((name, sha, bytes.clone())),
        _ => Err(DealsError::NotFound(format!(
            "MDF request {id} has no proof attached"
        ))),
    }
}
