//! What the web UI needs beyond the record routes: `GET /needs-me` (what waits for the signed-in
//! user, with counts for the navigation's badges) and `GET /share-preview` (exactly the fields a
//! deal shared with several partners would carry: the projection under the intersection of
//! their policies, as `POST /deals` computes it).

use super::query::{query_params, Params, Takes};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::audit::rfc3339;
use crate::domain::auth::Role;
use axum::extract::{Extension, State};
use axum::Json;
use serde_json::{json, Value};

/// Most items each list of `GET /needs-me` holds (the counts are always complete).
pub const NEEDS_ME_ITEMS_MAX: usize = 50;

query_params! {
    /// What `GET /api/v1/needs-me` takes.
    pub struct NeedsMeQuery {
        since: Option<u64> = Takes::Number { min: 0, max: u64::MAX },
            "The caller's last visit, milliseconds since the Unix epoch: deals partners changed \
             and mappings run after it count as new (absent: the last 7 days)";
    }
}

/// How far back "new" reaches when the caller names no last visit.
const SINCE_DEFAULT_MS: u64 = 7 * 24 * 3600 * 1000;

pub async fn needs_me(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<NeedsMeQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let now = now_ms();
    let since = query
        .since
        .unwrap_or_else(|| now.saturating_sub(SINCE_DEFAULT_MS));
    let answer = blocking(move || Ok(needs_me_json(&state, since, now)?)).await?;
    Ok(Json(answer))
}

fn needs_me_json(state: &AppState, since: u64, now: u64) -> anyhow::Result<Value> {
    let deals = &state.network.deals;
    let me = deals.me().to_string();
    let invitations = crate::domain::inbox::list(deals, Some("invited"), now);
    let registrations =
        crate::domain::registrations::list(deals, now).map_err(|e| anyhow::anyhow!("{e}"))?;
    let is = |r: &Value, key: &str| r[key].as_str() == Some(me.as_str());
    let pending = |r: &Value| r["status"] == "pending";
    let to_decide: Vec<&Value> = registrations
        .iter()
        .filter(|r| is(r, "vendor") && (pending(r) || r["changed_after_decision"] == true))
        .collect();
    let waiting: Vec<&Value> = registrations
        .iter()
        .filter(|r| is(r, "partner") && pending(r))
        .collect();
    let overdue: Vec<&Value> = registrations
        .iter()
        .filter(|r| pending(r) && r["overdue"] == true)
        .collect();

    // Deals partners changed after `since`: the signed history says who wrote what when (the
    // timeline's times are RFC 3339 of one fixed width, so text order is time order).
    let since_text = rfc3339(since);
    let mut changed = Vec::new();
    for id in deals.ids() {
        let Some(view) = deals.view(id, true)? else {
            continue;
        };
        let names: std::collections::BTreeMap<String, String> = view["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p["id"].as_str()?.to_string(),
                    p["name"].as_str()?.to_string(),
                ))
            })
            .collect();
        let theirs: Vec<&Value> = view["history"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                c["author"].as_str().is_some_and(|a| a != me)
                    && c["at"].as_str().is_some_and(|at| at > since_text.as_str())
            })
            .collect();
        let Some(last) = theirs.last() else { continue };
        let mut by: Vec<String> = theirs
            .iter()
            .filter_map(|c| c["author"].as_str())
            .map(|a| names.get(a).cloned().unwrap_or_else(|| a.to_string()))
            .collect();
        by.sort();
        by.dedup();
        changed.push(json!({
            "deal_id": view["id"], "name": view["fields"]["name"], "by": by,
            "changes": theirs.len(), "last_change_at": last["at"], "last_change": last["summary"],
        }));
    }
    changed.sort_by(|a, b| {
        b["last_change_at"]
            .as_str()
            .cmp(&a["last_change_at"].as_str())
    });

    // Mappings computed after `since` that found accounts in common.
    let mut overlaps = Vec::new();
    for partner in crate::store::shared::partners(&state.store)? {
        if !partner.is_active() {
            continue;
        }
        let Some(stored) = crate::domain::mapping::latest_matrix(&state.store, &partner.id)? else {
            continue;
        };
        let m = &stored.matrix;
        let computed = m["computed_at"].as_str().unwrap_or_default();
        if computed <= since_text.as_str() {
            continue;
        }
        let domains: std::collections::BTreeSet<&str> = m["cells"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["overlaps"].as_array().into_iter().flatten())
            .filter_map(|o| o["domain"].as_str())
            .collect();
        if domains.is_empty() {
            continue;
        }
        overlaps.push(json!({
            "partner": partner.id, "partner_name": partner.name,
            "computed_at": computed, "accounts": domains.len(),
        }));
    }

    // This company's own plan tasks past their due date: only it can do (or close) them.
    let tasks_overdue: Vec<Value> = crate::domain::plans::overdue_tasks(deals, now)
        .into_iter()
        .filter(|(_, t)| t["owner"].as_str() == Some(me.as_str()))
        .map(|(p, t)| {
            json!({"plan": p["id"], "account_domain": p["account_domain"], "task": t["id"],
                   "title": t["title"], "person": t["person"], "due": t["due"]})
        })
        .collect();

    let unread = crate::domain::program::announcements::unread(deals);
    let short = |r: &&Value| {
        json!({"id": r["id"], "account_name": r["account_name"], "account_domain": r["account_domain"],
               "partner_name": r["partner_name"], "vendor_name": r["vendor_name"],
               "status": r["status"], "respond_by": r["respond_by"], "overdue": r["overdue"],
               "submitted_at": r["submitted_at"]})
    };
    let list = |xs: &[&Value]| {
        xs.iter()
            .take(NEEDS_ME_ITEMS_MAX)
            .map(short)
            .collect::<Vec<_>>()
    };
    let counts = json!({
        "invitations": invitations.len(),
        "registrations_to_decide": to_decide.len(),
        "registrations_waiting": waiting.len(),
        "overdue": overdue.len(),
        "new_overlaps": overlaps.len(),
        "deals_changed": changed.len(),
        "plan_tasks_overdue": tasks_overdue.len(),
        "announcements_unread": unread,
        "total": invitations.len() + to_decide.len() + overdue.len() + overlaps.len() + changed.len()
            + tasks_overdue.len() + unread,
    });
    Ok(json!({
        "since": rfc3339(since),
        "counts": counts,
        "invitations": invitations.into_iter().take(NEEDS_ME_ITEMS_MAX).collect::<Vec<_>>(),
        "registrations_to_decide": list(&to_decide),
        "registrations_waiting": list(&waiting),
        "overdue": list(&overdue),
        "new_overlaps": overlaps,
        "deals_changed": changed.into_iter().take(NEEDS_ME_ITEMS_MAX).collect::<Vec<_>>(),
        "plan_tasks_overdue": tasks_overdue.into_iter().take(NEEDS_ME_ITEMS_MAX).collect::<Vec<_>>(),
    }))
}

query_params! {
    /// What `GET /api/v1/share-preview` takes.
    pub struct SharePreviewQuery {
        opportunity_id: Option<String> = super::query::NOT_BLANK, "The opportunity to share (required)";
        partners: Option<String> = super::query::NOT_BLANK_LIST,
            "The partners to share with, comma-separated node ids or unique names (required)";
    }
}

pub async fn share_preview(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<SharePreviewQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let opportunity = query
        .opportunity_id
        .filter(|o| !o.trim().is_empty())
        .ok_or_else(|| {
            super::query::bad("opportunity_id", "name the opportunity to share".into())
        })?;
    let wanted: Vec<String> = query
        .partners
        .unwrap_or_default()
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if wanted.is_empty() {
        return Err(super::query::bad(
            "partners",
            "name at least one partner to share with".into(),
        ));
    }
    let answer = blocking(move || {
        let mut policies = Vec::new();
        for p in &wanted {
            let partner = crate::domain::partners::resolve(&state.store, p)
                .map_err(|e| ApiError::not_found(e.to_string()))?;
            policies.push(crate::domain::partners::policy_for(
                &state.store,
                &partner.id,
            )?);
        }
        let refs: Vec<&policy::Policy> = policies.iter().collect();
        let combined = policy::Policy::intersect(&refs);
        super::policy::preview_json(&state.store, &combined, Some(opportunity.trim()), 1)
    })
    .await?;
    Ok(Json(answer))
}

/// The signed-in user's name: notification settings belong to a person, not to an API token.
fn person(caller: &Caller) -> Result<String, ApiError> {
    caller.username.clone().ok_or_else(|| {
        ApiError::forbidden(
            "e-mail notifications belong to a user: sign in with a username (an API token has none)",
        )
    })
}

fn settings_json(s: &crate::domain::notify::Settings, mail_on: bool) -> Value {
    json!({
        "email": s.email,
        "events": s.events,
        "digest": s.digest,
        "available": crate::domain::notify::NOTIFICATIONS
            .iter()
            .map(|(name, text)| json!({"name": name, "description": text}))
            .collect::<Vec<_>>(),
        "smtp_configured": mail_on,
    })
}

pub async fn get_notifications(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let user = person(&caller)?;
    let mail_on = state.mail_configured;
    let s = blocking(move || Ok(crate::domain::notify::settings(&state.store, &user)?)).await?;
    Ok(Json(settings_json(&s, mail_on)))
}

/// What `PUT /me/notifications` takes.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsInput {
    email: Option<String>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    digest: bool,
}

pub async fn put_notifications(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NotificationsInput>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let user = person(&caller)?;
    let Json(body) = body?;
    let s = crate::domain::notify::Settings {
        email: body
            .email
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty()),
        events: body
            .events
            .into_iter()
            .map(|e| e.trim().to_string())
            .collect(),
        digest: body.digest,
    };
    if let Err(e) = s.validate() {
        let field = if matches!(e, crate::domain::notify::SettingsError::Email(_)) {
            "email"
        } else {
            "events"
        };
        return Err(ApiError::unprocessable(
            format!("invalid notification settings: {e}"),
            vec![json!({"field": field, "message": e.to_string()})],
        ));
    }
    let mail_on = state.mail_configured;
    let saved = s.clone();
    blocking(move || {
        Ok(crate::domain::notify::set_settings(
            &state.store,
            &user,
            &saved,
        )?)
    })
    .await?;
    Ok(Json(settings_json(&s, mail_on)))
}
