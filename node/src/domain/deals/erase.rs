//! Erasure in shared deals (GDPR art. 17, SECURITY.md "Erasure"): where a deal's current state
//! holds a person's data, this node overwrites what it wrote itself — the shared fields of the
//! deals it started, its own section in every deal — with a signed change every participant
//! applies, and reports what others wrote (their sections; the shared fields of a deal a partner
//! started) so that they can be asked. The signed history keeps the old values (see the
//! SECURITY.md limits: the new-epoch rewrite of the history is not built yet).

use super::projection::shared_update;
use super::timeline::summarize;
use super::{Deals, DealsError, DocKind, ERASURE_KEY};
use crate::domain::erase::Needle;
use crate::store::shared;
use protocol::deal::{DealId, SectionUpdate, SharedFields};
use serde_json::{json, Value};

/// What erasure found (and, unless a dry run, did) in one deal.
#[derive(Debug, Clone)]
pub struct DealErasure {
    /// The deal.
    pub id: DealId,
    /// Whether this node started it.
    pub origin: bool,
    /// Paths this node overwrote (or would): `shared/<field>`, `sections/<this node>/<field>`.
    pub erased: Vec<String>,
    /// Paths other participants wrote that hold the value, with who wrote them: this node
    /// cannot change them.
    pub kept: Vec<(String, String)>,
    /// Changes of the signed history whose content holds the value (hashes, hex): the views
    /// show them as erased from now on; their bytes stay, encrypted at rest, until a new epoch.
    pub history: Vec<String>,
    /// This node started the deal and signed an erasure request into it (a digest of the
    /// value) that the other participants' honest nodes apply.
    pub request_sent: bool,
}

/// The key of a participant's own section under which it asks the origin to erase a value
/// (the same `{"kind", "words", "digest", "at"}` list as [`ERASURE_KEY`]).
pub const SECTION_REQUEST_KEY: &str = "cosell.erasure";

impl DealErasure {
    /// The report's JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "role": if self.origin { "origin" } else { "participant" },
            "erased": self.erased,
            "kept": self.kept.iter()
                .map(|(path, by)| json!({"path": path, "by": by})).collect::<Vec<_>>(),
            "history_changes": self.history.len(),
            "request_sent": self.request_sent,
        })
    }
}

impl Deals {
    /// Finds every deal (or only deal `only`) whose state or history holds `needle` and, unless
    /// `dry_run`, overwrites what this node wrote; in the deals it started (not when `only`: an
    /// erasure request from their origin) it signs an erasure request for the other
    /// participants. Returns one entry per deal found, and the ids changed (to offer them to the
    /// participants).
    pub fn erase(
        &self,
        needle: &Needle,
        dry_run: bool,
        now_ms: u64,
        only: Option<DealId>,
    ) -> Result<(Vec<DealErasure>, Vec<DealId>), DealsError> {
        type Found = (
            DealErasure,
            Option<SharedFields>,
            Option<SectionUpdate>,
            Option<String>,
        );
        let found: Vec<Found> = {
            let inner = self.lock();
            let mut ids: Vec<DealId> = inner
                .docs
                .iter()
                .filter(|(id, d)| {
                    only.is_none_or(|o| o == **id)
                        && d.is_initialized()
                        && matches!(
                            inner.info.get(id).map(|i| i.kind),
                            Some(DocKind::Deal | DocKind::Registration)
                        )
                })
                .map(|(id, _)| *id)
                .collect();
            ids.sort();
            let mut out = Vec::new();
            for id in ids {
                let Some(doc) = inner.docs.get(&id) else {
                    continue;
                };
                let view = doc.read_view();
                let origin = view.origin.as_ref() == Some(&self.me);
                let name_of = |n: &protocol::identity::NodeId| {
                    view.participants
                        .get(n)
                        .map(|p| format!("{} ({n})", p.name))
                        .unwrap_or_else(|| n.to_string())
                };
                let mut e = DealErasure {
                    id,
                    origin,
                    erased: Vec::new(),
                    kept: Vec::new(),
                    history: Vec::new(),
                    request_sent: false,
                };
                let am = doc.automerge();
                for change in am.get_changes(&[]) {
                    if change.deps().is_empty() {
                        continue;
                    }
                    let summary = summarize(am, change.deps(), change.hash());
                    if needle.scrub(&summary).is_some() {
                        e.history.push(change.hash().to_string());
                    }
                }
                // Shared fields: the origin's to change.
                let s = &view.shared;
                let mut new = SharedFields {
                    title: s.title.clone(),
                    stage: s.stage,
                    amount: s.amount,
                    currency: s.currency,
                    close_date: s.close_date,
                    account_name: s.account_name.clone(),
                    account_domain: s.account_domain.clone(),
                    other: s
                        .other
                        .iter()
                        .map(|(k, v)| (k.clone(), Some(v.clone())))
                        .collect(),
                    ..SharedFields::default()
                };
                let mut shared_paths = Vec::new();
                for (field, slot) in [
                    ("name", &mut new.title),
                    ("account.name", &mut new.account_name),
                ] {
                    if let Some(v) = slot.as_mut() {
                        if let Some(clean) = needle.scrub(v) {
                            *v = clean;
                            shared_paths.push(format!("shared/{field}"));
                        }
                    }
                }
                for (k, v) in new.other.iter_mut() {
                    if let Some(text) = v.as_mut() {
                        if let Some(clean) = needle.scrub(text) {
                            *text = clean;
                            shared_paths.push(format!("shared/{k}"));
                        }
                    }
                }
                let shared_change = if shared_paths.is_empty() {
                    None
                } else if origin {
                    e.erased.extend(shared_paths);
                    Some(shared_update(s, &new))
                } else {
                    let by = view.origin.as_ref().map(name_of).unwrap_or_default();
                    e.kept
                        .extend(shared_paths.into_iter().map(|p| (p, by.clone())));
                    None
                };
                // Sections: each node's own.
                let mut section_change = None;
                for (node, sec) in &view.sections {
                    let mine = node == &self.me;
                    let mut paths = Vec::new();
                    let mut update = SectionUpdate::default();
                    if let Some(clean) = sec.next_step.as_deref().and_then(|t| needle.scrub(t)) {
                        paths.push("next_step");
                        update.next_step = Some(clean);
                    }
                    if let Some(clean) = sec.contribution.as_deref().and_then(|t| needle.scrub(t)) {
                        paths.push("contribution");
                        update.contribution = Some(clean);
                    }
                    if sec.contacts.iter().any(|c| needle.scrub(c).is_some()) {
                        paths.push("contacts");
                        // A contact that is the person goes; one that mentions it is scrubbed.
                        update.contacts = Some(
                            sec.contacts
                                .iter()
                                .filter(|c| !needle.is(c))
                                .map(|c| needle.scrub(c).unwrap_or_else(|| c.clone()))
                                .collect(),
                        );
                    }
                    let notes_hold = sec.notes.iter().any(|n| needle.scrub(n).is_some());
                    let section = |f: &str| format!("sections/{node}/{f}");
                    if mine {
                        e.erased.extend(paths.iter().map(|f| section(f)));
                        if !paths.is_empty() {
                            section_change = Some(update);
                        }
                        if notes_hold {
                            // Notes are append-only in the signed document: only a new epoch
                            // removes one (not built yet).
                            e.kept
                                .push((section("notes"), "this node's signed notes".into()));
                        }
                    } else {
                        let by = name_of(node);
                        e.kept
                            .extend(paths.iter().map(|f| (section(f), by.clone())));
                        if notes_hold {
                            e.kept.push((section("notes"), by.clone()));
                        }
                    }
                }
                let found = !e.erased.is_empty() || !e.kept.is_empty() || !e.history.is_empty();
                let others = view.participants.keys().any(|n| n != &self.me);
                let mut shared_change = shared_change;
                let mut own_request = None;
                if found && !origin && only.is_none() {
                    // A participant asks the origin, in its own section, to erase what the
                    // origin wrote (the shared fields) and to pass the request on.
                    let mut asked: Vec<Value> = doc
                        .section_text(&self.me, SECTION_REQUEST_KEY)
                        .and_then(|v| serde_json::from_str(&v).ok())
                        .unwrap_or_default();
                    asked.push(needle.request(now_ms));
                    own_request = Some(Value::Array(asked).to_string());
                    e.request_sent = true;
                }
                // The origin signs the request for the participants (also when it applies one a
                // participant made: the others learn of it from the origin).
                if found && origin && others {
                    // The request travels in the same signed change (or one of its own).
                    let mut asked: Vec<Value> = s
                        .other
                        .get(ERASURE_KEY)
                        .and_then(|v| serde_json::from_str(v).ok())
                        .unwrap_or_default();
                    asked.push(needle.request(now_ms));
                    new.other
                        .insert(ERASURE_KEY.into(), Some(Value::Array(asked).to_string()));
                    shared_change = Some(shared_update(s, &new));
                    e.request_sent = true;
                }
                if found {
                    out.push((e, shared_change, section_change, own_request));
                }
            }
            out
        };
        let mut changed = Vec::new();
        let mut report = Vec::new();
        for (e, shared_change, section_change, own_request) in found {
            if !dry_run {
                if let Some(update) = shared_change {
                    self.edit(e.id, now_ms, |doc, signer| {
                        doc.set_shared(signer, now_ms, &update)
                    })?;
                    changed.push(e.id);
                }
                if let Some(update) = section_change {
                    self.edit(e.id, now_ms, |doc, signer| {
                        doc.update_section(signer, now_ms, &update)
                    })?;
                    changed.push(e.id);
                }
                if let Some(list) = own_request {
                    self.edit(e.id, now_ms, |doc, signer| {
                        doc.set_section_text(signer, now_ms, SECTION_REQUEST_KEY, &list)
                    })?;
                    changed.push(e.id);
                }
                if !e.history.is_empty() {
                    let txn = self.store.write()?;
                    if let Some(mut meta) = shared::deal_meta_in(&txn, &e.id.to_string())? {
                        for h in &e.history {
                            if !meta.redacted.contains(h) {
                                meta.redacted.push(h.clone());
                            }
                        }
                        shared::put_deal_meta_in(&txn, &meta)?;
                    }
                    txn.commit().map_err(anyhow::Error::from)?;
                }
            }
            report.push(e);
        }
        changed.dedup();
        Ok((report, changed))
    }

    /// The erasure requests in `changed` deals: `(deal, who asked, request)` for each request in
    /// the deal's signed [`ERASURE_KEY`] when another node started it (verified like every
    /// change: only the origin writes shared fields), and, on the origin, in each participant's
    /// own section ([`SECTION_REQUEST_KEY`]: only that participant writes it).
    pub fn erasure_requests(&self, changed: &[DealId]) -> Vec<(DealId, String, Value)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for id in changed {
            let Some(doc) = inner.docs.get(id).filter(|d| d.is_initialized()) else {
                continue;
            };
            let view = doc.read_view();
            let Some(origin) = view.origin.as_ref() else {
                continue;
            };
            let name_of = |n: &protocol::identity::NodeId| {
                view.participants
                    .get(n)
                    .map(|p| format!("{} ({n})", p.name))
                    .unwrap_or_else(|| n.to_string())
            };
            // From the origin, in the shared fields only it writes; on the origin, from each
            // participant's own section.
            let mut lists: Vec<(String, String)> = Vec::new();
            if origin != &self.me {
                if let Some(list) = view.shared.other.get(ERASURE_KEY) {
                    lists.push((name_of(origin), list.clone()));
                }
            } else {
                for node in view.participants.keys().filter(|n| *n != &self.me) {
                    if let Some(list) = doc.section_text(node, SECTION_REQUEST_KEY) {
                        lists.push((name_of(node), list));
                    }
                }
            }
            for (name, list) in lists {
                let requests: Vec<Value> = serde_json::from_str(&list).unwrap_or_default();
                out.extend(requests.into_iter().map(|r| (*id, name.clone(), r)));
            }
        }
        out
    }
}
