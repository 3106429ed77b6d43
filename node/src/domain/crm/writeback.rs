//! Write-back: a deal's co-sell facts (partners, their answers and stages, attribution,
//! registration) go back to the CRM record it was shared from, only for deals this node
//! originated (it owns the opportunity), and only when they changed since the last write.

use crate::domain::deals::Deals;
use crate::store::shared;
use anyhow::Result;
use serde_json::Value;
use std::collections::BTreeMap;

/// One opportunity's co-sell facts, fact name → text.
pub type Facts = BTreeMap<&'static str, String>;

/// The co-sell facts of every deal this node originated from an opportunity with a CRM id:
/// CRM id → facts (several deals of one opportunity are joined).
pub fn collect(deals: &Deals) -> Result<BTreeMap<String, Facts>> {
    let me = deals.me().to_string();
    let store = deals.store();
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for id in deals.ids() {
        let Some(view) = deals.view(id, false)? else {
            continue;
        };
        if view["origin"].as_str() != Some(me.as_str()) {
            continue;
        }
        let Some(opp_id) =
            shared::deal_meta(store, &id.to_string())?.and_then(|m| m.opportunity_id)
        else {
            continue;
        };
        let Some(crm_id) = store.opportunity(&opp_id)?.and_then(|o| o.external_id) else {
            continue;
        };
        out.entry(crm_id).or_default().push(view);
    }
    Ok(out
        .into_iter()
        .map(|(crm, views)| (crm, facts(&me, &views)))
        .collect())
}

/// The facts of one opportunity's deals.
fn facts(me: &str, views: &[Value]) -> Facts {
    let mut partners = Vec::new();
    let mut status = Vec::new();
    let mut stages = Vec::new();
    let mut attribution = Vec::new();
    let mut registration = Vec::new();
    for v in views {
        let names: BTreeMap<&str, &str> = v["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str().unwrap_or("?"))))
            .collect();
        let name = |id: &str| names.get(id).copied().unwrap_or(id).to_string();
        for p in v["participants"].as_array().into_iter().flatten() {
            let Some(id) = p["id"].as_str() else { continue };
            if id == me {
                continue;
            }
            partners.push(name(id));
            status.push(format!(
                "{}: {}",
                name(id),
                p["status"].as_str().unwrap_or("invited")
            ));
            if let Some(stage) = v["stages"][id].as_str() {
                stages.push(format!("{}: {stage}", name(id)));
            }
        }
        let agreed = &v["attribution"]["agreed"];
        if let Some(s) = agreed["sourced_by"].as_str() {
            let mut text = format!("sourced by {}", name(s));
            let influenced: Vec<String> = agreed["influenced_by"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i.as_str().map(&name))
                .collect();
            if !influenced.is_empty() {
                text.push_str(&format!("; influenced by {}", influenced.join(", ")));
            }
            attribution.push(text);
        } else if v["attribution"]["disputed"].as_bool() == Some(true) {
            attribution.push("disputed".to_string());
        }
        if let Some(s) = v["registration"]["status"].as_str() {
            registration.push(s.to_string());
        }
    }
    let join = |mut items: Vec<String>, empty: &str| {
        items.dedup();
        if items.is_empty() {
            empty.to_string()
        } else {
            items.join("; ")
        }
    };
    let mut f = Facts::new();
    f.insert("partners", join(partners, ""));
    f.insert("partner_status", join(status, ""));
    f.insert("partner_stages", join(stages, ""));
    f.insert("attribution", join(attribution, "none agreed"));
    f.insert("registration", join(registration, "none"));
    f
}

/// The facts as the text of a Task or note, one line each.
pub fn as_text(facts: &Facts) -> String {
    let mut out = String::from("Co-sell status from cosell\n");
    for (k, v) in facts {
        if !v.is_empty() {
            out.push_str(&format!("{}: {v}\n", k.replace('_', " ")));
        }
    }
    out
}

/// A stable fingerprint of the facts, to write only what changed.
pub fn fingerprint(facts: &Facts) -> String {
    serde_json::to_string(facts).unwrap_or_default()
}
