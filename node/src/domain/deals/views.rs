//! Deals and invitations in the API's shape.

use super::attribution::attribution_json;
use super::invitations::late_acceptance;
use super::projection::{LIST_FIELDS, TEXT_FORMS};
use super::timeline::history;
use super::{Deals, DocKind, Inner, EXPIRES_KEY, MESSAGE_KEY};
use crate::domain::audit;
use crate::store::shared;
use anyhow::Result;
use protocol::deal::{DealDoc, DealId, DealView, ParticipantStatus};
use protocol::identity::NodeId;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Which deals a list shows by their status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStatus {
    /// Deals still shared.
    Active,
    /// Withdrawn deals (their tombstones).
    Withdrawn,
}

/// The filters of a deal list page.
#[derive(Debug, Default)]
pub struct ListFilter<'a> {
    /// Only deals of this status; both when `None`.
    pub status: Option<ListStatus>,
    /// Only active deals whose shared stage is this.
    pub stage: Option<&'a str>,
    /// Only deals with this participant (withdrawn: withdrawn by it).
    pub participant: Option<&'a str>,
}

impl Deals {
    /// A deal in the API's shape, or `None`.
    pub fn view(&self, id: DealId, with_history: bool) -> Result<Option<Value>> {
        if let Some(withdrawn) = self.withdrawn_view(id)? {
            return Ok(Some(withdrawn));
        }
        let meta = if with_history {
            shared::deal_meta(&self.store, &id.to_string())?
        } else {
            None
        };
        let opportunity_id = meta.as_ref().and_then(|m| m.opportunity_id.clone());
        let names = self.partner_names();
        let inner = self.lock();
        if inner.info.get(&id).map(|i| i.kind) != Some(DocKind::Deal) {
            return Ok(None);
        }
        let Some(doc) = inner.docs.get(&id).filter(|d| d.is_initialized()) else {
            return Ok(None);
        };
        let mut v = deal_json(doc, with_history);
        self.overlay(&inner, id, &mut v, &names);
        if let Some(o) = opportunity_id {
            v["opportunity_id"] = json!(o);
        }
        // Changes an erasure found holding a person's data show as erased (SECURITY.md).
        let redacted = meta.map(|m| m.redacted).unwrap_or_default();
        if let Some(history) = v["history"].as_array_mut().filter(|_| !redacted.is_empty()) {
            for h in history {
                if h["change"]
                    .as_str()
                    .is_some_and(|c| redacted.iter().any(|r| r == c))
                {
                    h["summary"] = json!("(content erased)");
                }
            }
        }
        Ok(Some(v))
    }

    /// Every deal (without history), in id order.
    pub fn list(&self) -> Vec<Value> {
        let names = self.partner_names();
        let inner = self.lock();
        let mut ids: Vec<&DealId> = inner.docs.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter(|id| inner.info.get(id).map(|i| i.kind) == Some(DocKind::Deal))
            .filter_map(|id| inner.docs.get(id))
            .filter(|d| d.is_initialized())
            .map(|d| {
                let mut v = deal_json(d, false);
                self.overlay(&inner, d.id(), &mut v, &names);
                v
            })
            .collect()
    }

    /// One page of deals in id order: the deals here and the withdrawn ones (their tombstones,
    /// `status: "withdrawn"` with who, when and why), filtered by `status` (`active`,
    /// `withdrawn`, or both when `None`), shared stage (a withdrawn deal has none) and
    /// participant (for a withdrawn deal: the node that withdrew it).
    pub fn list_page(
        &self,
        after: Option<DealId>,
        limit: usize,
        filter: &ListFilter<'_>,
    ) -> Result<(Vec<Value>, Option<String>)> {
        let names = self.partner_names();
        let want_active = filter.status != Some(ListStatus::Withdrawn);
        let want_withdrawn = filter.status != Some(ListStatus::Active) && filter.stage.is_none();
        let mut withdrawn: HashMap<DealId, Value> = HashMap::new();
        for (id, v) in self.withdrawn_deals()? {
            withdrawn.insert(id, v);
        }
        let inner = self.lock();
        let mut ids: Vec<DealId> = inner
            .docs
            .keys()
            .chain(withdrawn.keys())
            .filter(|id| after.is_none_or(|a| **id > a))
            .copied()
            .collect();
        ids.sort();
        ids.dedup();
        let mut items = Vec::new();
        let mut more = false;
        for id in ids {
            let v = if let Some(w) = withdrawn.remove(&id) {
                if !want_withdrawn
                    || filter
                        .participant
                        .is_some_and(|p| w["withdrawn"]["by_node"].as_str() != Some(p))
                {
                    continue;
                }
                w
            } else {
                if !want_active || inner.info.get(&id).map(|i| i.kind) != Some(DocKind::Deal) {
                    continue;
                }
                let Some(doc) = inner.docs.get(&id).filter(|d| d.is_initialized()) else {
                    continue;
                };
                let v = deal_json(doc, false);
                if filter.stage.is_some_and(|s| v["stage"].as_str() != Some(s)) {
                    continue;
                }
                let has = |p: &str| {
                    v["participants"]
                        .as_array()
                        .is_some_and(|all| all.iter().any(|x| x["id"].as_str() == Some(p)))
                };
                if filter.participant.is_some_and(|p| !has(p)) {
                    continue;
                }
                v
            };
            if items.len() == limit {
                more = true;
                break;
            }
            let mut v = v;
            if v["status"] != "withdrawn" {
                self.overlay(&inner, id, &mut v, &names);
            }
            items.push(v);
        }
        let next = more
            .then(|| {
                items
                    .last()
                    .and_then(|v| v["id"].as_str().map(str::to_string))
            })
            .flatten();
        Ok((items, next))
    }

    /// The names this node knows its partners by (its own records), by node id.
    fn partner_names(&self) -> HashMap<String, String> {
        let mut names: HashMap<String, String> = shared::partners(&self.store)
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        names.insert(self.me.to_string(), self.name.clone());
        names
    }

    /// What only this node knows about a deal: the answers to the invitations it made (an
    /// invitee that has not the deal yet answered in its invitation), expired invitations, and
    /// the names it knows the participants by (a name the origin wrote could impersonate).
    fn overlay(&self, inner: &Inner, id: DealId, v: &mut Value, names: &HashMap<String, String>) {
        if let Some(list) = v["participants"].as_array_mut() {
            for p in list {
                if let Some(name) = p["id"].as_str().and_then(|n| names.get(n)) {
                    p["name"] = json!(name);
                }
            }
        }
        let now = self.clock.now_ms();
        type Answer = (Option<ParticipantStatus>, Option<u64>, Option<String>);
        let mut answers: HashMap<String, Answer> = HashMap::new();
        for (inv, invitee) in Self::invitations_of(inner, id) {
            let Some(doc) = inner.docs.get(&inv) else {
                continue;
            };
            let view = doc.read_view();
            let expires = view
                .shared
                .other
                .get(EXPIRES_KEY)
                .and_then(|e| e.parse::<u64>().ok());
            let mut status = view.participants.get(&invitee).and_then(|p| p.status);
            let reason = view
                .participants
                .get(&invitee)
                .and_then(|p| p.decline_reason.clone());
            if status == Some(ParticipantStatus::Accepted)
                && late_acceptance(doc, &invitee).is_some()
            {
                status = Some(ParticipantStatus::Expired);
            }
            answers.insert(invitee.to_string(), (status, expires, reason));
        }
        // A participant whose partnership with this node ended: shown so (its status in the
        // document never changes again: neither side sends the other anything more).
        let origin = v["origin"].as_str().map(str::to_string);
        let mut ended_origin: Option<String> = None;
        if let Some(list) = v["participants"].as_array_mut() {
            let ended: Vec<(String, String)> = list
                .iter()
                .filter_map(|p| {
                    Some((
                        p["id"].as_str()?.to_string(),
                        p["name"].as_str()?.to_string(),
                    ))
                })
                .filter(|(node, _)| node != self.me.as_str())
                .filter(|(node, _)| {
                    shared::partner(&self.store, node)
                        .ok()
                        .flatten()
                        .is_some_and(|r| !r.is_active())
                })
                .collect();
            for p in list.iter_mut() {
                let node = p["id"].as_str().unwrap_or("").to_string();
                if ended.iter().any(|(n, _)| *n == node) {
                    p["partnership"] = json!("ended");
                }
            }
            if let Some((_, name)) = ended.iter().find(|(n, _)| Some(n) == origin.as_ref()) {
                ended_origin = Some(name.clone());
                for p in list.iter_mut().filter(|p| p["id"] == self.me.as_str()) {
                    p["partnership"] = json!("ended");
                }
            }
        }
        if let Some(name) = ended_origin {
            v["closed"] = json!(format!(
                "the partnership with {name}, which shared this deal, ended: the deal no longer changes"
            ));
        }
        if let Some(list) = v["participants"].as_array_mut() {
            for p in list {
                let Some(node) = p["id"].as_str().map(str::to_string) else {
                    continue;
                };
                let Some((status, expires, reason)) = answers.get(&node) else {
                    continue;
                };
                if p["status"] != "invited" {
                    continue;
                }
                match status {
                    Some(ParticipantStatus::Invited) | None => {
                        if let Some(e) = expires {
                            p["expires_at"] = json!(audit::rfc3339(*e));
                            if now >= *e {
                                p["status"] = json!("expired");
                            }
                        }
                    }
                    Some(s) => {
                        p["status"] = json!(s.as_str());
                        if *s == ParticipantStatus::Declined {
                            p["decline_reason"] = json!(reason.as_deref().map(shown_text));
                        }
                    }
                }
            }
        }
    }
}

/// A deal in the contract's shape.
pub fn deal_json(doc: &DealDoc, with_history: bool) -> Value {
    let view = doc.read_view();
    let participants: Vec<Value> = view
        .participants
        .iter()
        .map(|(id, p)| {
            json!({"id": id.to_string(), "name": shown_name(&p.name), "role": p.role.map(|r| r.as_str()),
                   "status": p.status.map(|s| s.as_str()),
                   "decline_reason": p.decline_reason.as_deref()
                       .filter(|_| p.status == Some(ParticipantStatus::Declined)).map(shown_text)})
        })
        .collect();
    let s = &view.shared;
    let mut fields = serde_json::Map::new();
    let mut list_fields: Vec<(String, Value)> = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            fields.insert(k.to_string(), Value::String(v));
        }
    };
    put("name", s.title.clone());
    put("stage", s.stage.map(|x| x.as_str().to_string()));
    put("amount", s.amount.map(|x| x.to_string()));
    put("currency", s.currency.map(|x| x.as_str().to_string()));
    put("close_date", s.close_date.map(|x| x.to_string()));
    put("account.name", s.account_name.clone());
    put(
        "account.domain",
        s.account_domain.as_ref().map(|x| x.as_str().to_string()),
    );
    let mut withheld: Option<Value> = None;
    for (k, v) in &s.other {
        if k == super::ERASURE_KEY {
            continue;
        }
        if k == super::WITHHELD_KEY {
            let by = view
                .origin
                .as_ref()
                .and_then(|o| view.participants.get(o))
                .map(|p| p.name.clone())
                .unwrap_or_default();
            let mut note = format!("no longer shared by {by}");
            if !v.is_empty() {
                note.push_str(&format!(" (outcome: {})", v.replace('_', " ")));
            }
            withheld = Some(
                json!({"by": by, "outcome": (!v.is_empty()).then(|| v.clone()), "note": note}),
            );
            continue;
        }
        // A transformed value (a quarter for a date, a range for an amount) travels under its
        // own key beside the typed slot; the API names it by its field, as a policy preview does.
        let field = TEXT_FORMS
            .iter()
            .find(|(_, text_key)| text_key == k)
            .map_or(k.as_str(), |(field, _)| field);
        if LIST_FIELDS.contains(&field) {
            // Travels joined (`apac, priority`); a list, as the policy preview shows it.
            let items: Vec<&str> = v.split(", ").filter(|t| !t.is_empty()).collect();
            list_fields.push((field.to_string(), json!(items)));
        } else {
            put(field, Some(v.clone()));
        }
    }
    fields.extend(list_fields);
    let sections: serde_json::Map<String, Value> = view
        .sections
        .iter()
        .map(|(id, sec)| {
            (
                id.to_string(),
                json!({"notes": sec.notes, "next_step": sec.next_step, "contacts": sec.contacts,
                       "contribution": sec.contribution, "stage": sec.stage.map(|x| x.as_str()),
                       "linked_opportunity": sec.linked_opportunity}),
            )
        })
        .collect();
    let r = &view.registration;
    let registration = json!({
        "registered_by": r.registered_by.as_ref().map(|n| n.to_string()),
        "status": r.status.map(|x| x.as_str()),
        "claims": r.claims.iter().map(|(n, c)| (n.to_string(), json!({
            "vendor": c.vendor.as_ref().map(|v| v.to_string()),
            "registered_at_ms": c.registered_at_ms, "notes": c.notes}))).collect::<serde_json::Map<_, _>>(),
    });
    // Each participant's own stage side by side: its section's stage (from its linked
    // opportunity), the origin's falling back to the shared stage.
    let mut stages = serde_json::Map::new();
    for id in view.participants.keys() {
        let own = view.sections.get(id).and_then(|s| s.stage);
        let stage = own.or_else(|| {
            (view.origin.as_ref() == Some(id))
                .then_some(s.stage)
                .flatten()
        });
        stages.insert(id.to_string(), json!(stage.map(|x| x.as_str())));
    }
    let mut out = json!({
        "id": doc.id().to_string(),
        "status": "active",
        "origin": view.origin.as_ref().map(|o| o.to_string()),
        "created_at": view.created_at_ms.map(audit::rfc3339),
        "participants": participants,
        "fields": fields,
        "stage": s.stage.map(|x| x.as_str()),
        "sections": sections,
        "registration": registration,
        "stages": stages,
        "attribution": attribution_json(&view),
        "changes": doc.automerge().get_changes(&[]).len(),
    });
    if let Some(w) = withheld {
        out["no_longer_shared"] = w;
    }
    if with_history {
        out["history"] = Value::Array(history(doc));
    }
    out
}

/// A name written into a shared document by another node, as shown: without the bidirectional
/// and other invisible formatting characters (and control characters) that could make it read
/// as another name, e.g. `Acme\u{202E}oc` (issue 19, low).
pub(crate) fn shown_name(name: &str) -> String {
    name.chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(
                    *c,
                    '\u{00AD}'
                        | '\u{061C}'
                        | '\u{180E}'
                        | '\u{200B}'..='\u{200F}'
                        | '\u{202A}'..='\u{202E}'
                        | '\u{2060}'..='\u{2064}'
                        | '\u{2066}'..='\u{206F}'
                        | '\u{FEFF}'
                        | '\u{FFF9}'..='\u{FFFB}'
                )
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A text another node wrote (an invitation message, a decline reason), as shown: without the
/// invisible formatting characters [`shown_name`] drops, keeping line breaks and tabs.
pub(crate) fn shown_text(text: &str) -> String {
    text.lines()
        .map(|line| shown_name(&line.replace('\t', " ")))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// An invitation as the inbox shows it: who invites, to what (the redacted summary), and
/// where this node stands (`expired` once past its expiry unanswered).
pub fn invitation_json(view: &DealView, deal: DealId, invitee: &NodeId, now_ms: u64) -> Value {
    let from = view.origin.as_ref();
    let expires = view
        .shared
        .other
        .get(EXPIRES_KEY)
        .and_then(|e| e.parse::<u64>().ok());
    let mut status = view
        .participants
        .get(invitee)
        .and_then(|p| p.status)
        .unwrap_or(ParticipantStatus::Invited);
    if status == ParticipantStatus::Invited && expires.is_some_and(|e| now_ms >= e) {
        status = ParticipantStatus::Expired;
    }
    json!({
        "deal_id": deal.to_string(),
        "from": from.map(|f| f.to_string()),
        "from_name": from.and_then(|f| view.participants.get(f)).map(|p| shown_name(&p.name)),
        "title": view.shared.title,
        "account_domain": view.shared.account_domain.as_ref().map(|d| d.as_str()),
        "stage": view.shared.stage.map(|s| s.as_str()),
        "status": status.as_str(),
        "invited_at": view.created_at_ms.map(audit::rfc3339),
        "expires_at": expires.map(audit::rfc3339),
        "message": view.shared.other.get(MESSAGE_KEY).map(|m| shown_text(m)).filter(|m| !m.is_empty()),
        "decline_reason": view.participants.get(invitee)
            .filter(|p| p.status == Some(ParticipantStatus::Declined))
            .and_then(|p| p.decline_reason.as_deref()).map(shown_text),
    })
}
