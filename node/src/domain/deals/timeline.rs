//! A deal's history: each change with its author, time, whether its signature verifies, and
//! what it did in words.

use super::HISTORY_ENTRIES_MAX;
use crate::domain::audit;
use protocol::deal::DealDoc;
use protocol::envelope::SignedChange;
use serde_json::{json, Value};

/// Each change with its author, time, what it touched and whether its signature verifies.
pub(super) fn history(doc: &DealDoc) -> Vec<Value> {
    let am = doc.automerge();
    let changes = am.get_changes(&[]);
    let skip = changes.len().saturating_sub(HISTORY_ENTRIES_MAX);
    changes
        .iter()
        .skip(skip)
        .map(|change| {
            let hash = change.hash();
            let envelope = doc.envelope(&hash);
            let verified = envelope.is_some_and(|e| verify_envelope(e, &hash));
            let summary = if change.deps().is_empty() {
                "created the deal".to_string()
            } else {
                summarize(am, change.deps(), hash)
            };
            json!({
                "change": hash.to_string(),
                "author": envelope.map(|e| e.author().to_string()),
                "at": audit::rfc3339(u64::try_from(change.timestamp()).unwrap_or(0)),
                "summary": summary,
                "verified": verified,
            })
        })
        .collect()
}

fn verify_envelope(envelope: &SignedChange, hash: &automerge::ChangeHash) -> bool {
    use ed25519_dalek::Verifier;
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&envelope.author().public_key()) else {
        return false;
    };
    let message = protocol::envelope::signing_message(hash);
    key.verify(
        &message,
        &ed25519_dalek::Signature::from_bytes(envelope.signature()),
    )
    .is_ok()
}

/// What one change did, in words for the timeline ("accepted the deal", "updated shared
/// fields: stage, amount", "added a note"), read from the paths and values it wrote.
pub(super) fn summarize(
    am: &automerge::Automerge,
    deps: &[automerge::ChangeHash],
    hash: automerge::ChangeHash,
) -> String {
    use automerge::{PatchAction, Prop};
    let mut phrases: Vec<String> = Vec::new();
    let mut shared: Vec<String> = Vec::new();
    let mut unshared: Vec<String> = Vec::new();
    for patch in am.diff(deps, &[hash]) {
        let mut parts: Vec<String> = patch
            .path
            .iter()
            .filter_map(|(_, p)| match p {
                Prop::Map(k) => Some(k.clone()),
                Prop::Seq(_) => None,
            })
            .collect();
        let mut value = None;
        let mut made_container = false;
        match &patch.action {
            PatchAction::PutMap { key, value: v, .. } => {
                parts.push(key.clone());
                match &v.0 {
                    automerge::Value::Scalar(s) => value = s.as_str().map(str::to_string),
                    automerge::Value::Object(_) => made_container = true,
                }
            }
            PatchAction::DeleteMap { key } => parts.push(key.clone()),
            _ => {}
        }
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        // A node's first section write makes its section and an empty notes list to append
        // to: neither is something it did. What goes into them comes as patches of their own
        // (a note appended is an insert into the list).
        if made_container && matches!(parts.as_slice(), ["sections", _] | ["sections", _, "notes"])
        {
            continue;
        }
        if let ["shared", field, rest @ ..] = parts.as_slice() {
            // A whole field deleted is no longer shared (the policy stopped sharing it, or the
            // opportunity left its filter); anything else written under it is an update.
            let withdrawn =
                rest.is_empty() && matches!(patch.action, PatchAction::DeleteMap { .. });
            let list = if withdrawn {
                &mut unshared
            } else {
                &mut shared
            };
            let field = field.to_string();
            if !list.contains(&field) {
                list.push(field);
            }
            continue;
        }
        if let Some(p) = phrase(&parts, value.as_deref()) {
            if !phrases.contains(&p) {
                phrases.push(p);
            }
        }
    }
    if !unshared.is_empty() {
        phrases.insert(0, format!("no longer shared: {}", unshared.join(", ")));
    }
    if !shared.is_empty() {
        phrases.insert(0, format!("updated shared fields: {}", shared.join(", ")));
    }
    if phrases.is_empty() {
        return "no visible change".to_string();
    }
    let more = phrases.len().saturating_sub(4);
    phrases.truncate(4);
    let mut s = phrases.join("; ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

/// One written path (and its value, when a scalar) in words.
pub(super) fn phrase(parts: &[&str], value: Option<&str>) -> Option<String> {
    Some(match parts {
        [] => return None,
        ["participants", _, "status"] => match value {
            Some("accepted") => "accepted the deal".into(),
            Some("declined") => "declined the deal".into(),
            Some("invited") => "invited a participant".into(),
            Some(v) => format!("set a participant's status to {v}"),
            None => "changed a participant's status".into(),
        },
        ["participants", id] | ["participants", id, ..] => {
            format!("added participant {}", short(id))
        }
        ["sections", _, "notes", ..] => "added a note".into(),
        ["sections", _, "stage"] => match value {
            Some(v) => format!("set its own stage to {v}"),
            None => "changed its own stage".into(),
        },
        ["sections", _, "linked_opportunity", ..] => "linked the deal to its own pipeline".into(),
        ["sections", _, "next_step"] => "updated its next step".into(),
        ["sections", _, field, ..] => format!("updated its {}", field.replace('_', " ")),
        ["registration", "claims", ..] => "registered the deal".into(),
        ["registration", "decisions", ..] => "decided on the registration".into(),
        ["registration", ..] => "updated the registration".into(),
        ["attribution", "proposals", ..] => "proposed an attribution".into(),
        ["attribution", "acceptances", ..] => "accepted an attribution".into(),
        ["attribution", ..] => "updated the attribution".into(),
        other => format!(
            "wrote {}",
            other
                .iter()
                .take(3)
                .map(|k| short(k))
                .collect::<Vec<_>>()
                .join(".")
        ),
    })
}

fn short(key: &str) -> String {
    if key.starts_with("12D3KooW") && key.len() > 16 {
        format!("{}…", &key[..16])
    } else {
        key.to_string()
    }
}
