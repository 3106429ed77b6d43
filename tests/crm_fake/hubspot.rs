//! A fake HubSpot account: private app tokens, `POST /crm/v3/objects/{companies,deals}/search`
//! (a `hs_lastmodifieddate` GTE/GT filter, `limit` up to 200, `after` paging, and HubSpot's
//! refusal to page past 10,000 results), the deal pipelines, v4 deal → company associations
//! (207 with errors for deals without one, as HubSpot answers), archived deals
//! (`GET /crm/v3/objects/deals?archived=true`), PATCH of deal properties (unknown ones refused
//! with HubSpot's `VALIDATION_ERROR`), notes, `401 INVALID_AUTHENTICATION` and `429` with
//! `Retry-After`. A request body that HubSpot's OpenAPI document does not allow is refused
//! (400 `VALIDATION_ERROR`) and kept in `refused_bodies`. Every answer is logged by operation so a test can check it against HubSpot's
//! OpenAPI documents.

use super::{clock_text, openapi, serve, Running, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// HubSpot pages a search no further than this many results.
pub const SEARCH_RESULTS_MAX: usize = 10_000;

/// One object: properties, modification second, archived or not.
#[derive(Clone, Debug)]
pub struct Object {
    /// Properties as HubSpot names them (all strings).
    pub properties: BTreeMap<String, String>,
    /// Seconds after 2026-01-01 of the last change.
    pub stamp: u64,
    /// Archived (deleted) at this second.
    pub archived_at: Option<u64>,
    /// Associated company ids (deals).
    pub companies: Vec<String>,
}

/// The account's state.
#[derive(Default)]
pub struct Account {
    /// Companies by id.
    pub companies: BTreeMap<u64, Object>,
    /// Deals by id.
    pub deals: BTreeMap<u64, Object>,
    /// The modification clock (seconds).
    pub clock: u64,
    /// The private app token that works now.
    pub token: String,
    /// The next N calls answer 429 with `Retry-After: 1`.
    pub rate_limited: u32,
    /// 429s answered.
    pub rate_limits_sent: u32,
    /// The next N calls answer 401.
    pub unauthorized: u32,
    /// Deal properties that exist (custom ones included), for PATCH.
    pub deal_properties: BTreeSet<String>,
    /// PATCHes received: (deal id, properties).
    pub patches: Vec<(String, Value)>,
    /// Notes created.
    pub notes: Vec<Value>,
    /// Every answer: (operation, status, body), to check against HubSpot's OpenAPI.
    pub answers: Vec<(String, u16, Value)>,
    /// Search requests received (bodies).
    pub searches: Vec<Value>,
    /// Request bodies refused as not matching HubSpot's OpenAPI document: (operation, body,
    /// why).
    pub refused_bodies: Vec<(String, Value, String)>,
}

/// A fake HubSpot account on loopback.
pub struct FakeHubspot {
    /// The server.
    pub running: Running,
    /// The account.
    pub account: Shared<Account>,
}

impl FakeHubspot {
    /// An empty account that takes `token`.
    pub fn start(token: &str) -> Self {
        let mut account = Account {
            token: token.to_string(),
            ..Account::default()
        };
        for p in [
            "dealname",
            "dealstage",
            "amount",
            "closedate",
            "description",
            "hs_next_step",
            "pipeline",
            "deal_currency_code",
        ] {
            account.deal_properties.insert(p.to_string());
        }
        let account = Shared::new(account);
        let app = Router::new()
            .route("/crm/v3/pipelines/deals", get(pipelines))
            .route("/crm/v3/objects/companies/search", post(search_companies))
            .route("/crm/v3/objects/deals/search", post(search_deals))
            .route(
                "/crm/v4/associations/deals/companies/batch/read",
                post(associations),
            )
            .route("/crm/v3/objects/deals", get(list_deals))
            .route("/crm/v3/objects/deals/{id}", patch(update_deal))
            .route("/crm/v3/objects/notes", post(create_note))
            .with_state(account.clone());
        FakeHubspot {
            running: serve(app),
            account,
        }
    }

    /// The API base URL.
    pub fn url(&self) -> &str {
        &self.running.url
    }

    /// Adds companies and deals (deal `n` with company `n % companies`; the default pipeline's
    /// stages, and a custom pipeline's numeric stage ids for every seventh deal). Returns the
    /// deal ids.
    pub fn seed(&self, companies: usize, deals: usize) -> Vec<u64> {
        let mut a = self.account.lock();
        for c in 0..companies {
            a.clock += 1;
            let stamp = a.clock;
            let mut p = BTreeMap::new();
            p.insert("name".into(), format!("Company {c}"));
            p.insert("domain".into(), format!("company{c}.example.org"));
            p.insert("industry".into(), "COMPUTER_SOFTWARE".into());
            p.insert("country".into(), "France".into());
            p.insert("lifecyclestage".into(), "customer".into());
            a.companies.insert(
                company_id(c),
                Object {
                    properties: p,
                    stamp,
                    archived_at: None,
                    companies: vec![],
                },
            );
        }
        let stages = [
            "appointmentscheduled",
            "qualifiedtobuy",
            "presentationscheduled",
            "decisionmakerboughtin",
            "contractsent",
        ];
        let mut ids = Vec::new();
        for d in 0..deals {
            a.clock += 1;
            let stamp = a.clock;
            let mut p = BTreeMap::new();
            p.insert("dealname".into(), format!("Deal {d}"));
            let (pipeline, stage) = if d % 7 == 3 {
                ("13013", "13014")
            } else {
                ("default", stages[d % stages.len()])
            };
            p.insert("pipeline".into(), pipeline.into());
            p.insert("dealstage".into(), stage.into());
            p.insert("amount".into(), format!("{}", 500 + d));
            p.insert("deal_currency_code".into(), "EUR".into());
            p.insert("closedate".into(), "2026-10-31T00:00:00Z".into());
            let id = deal_id(d);
            a.deals.insert(
                id,
                Object {
                    properties: p,
                    stamp,
                    archived_at: None,
                    companies: vec![company_id(d % companies.max(1)).to_string()],
                },
            );
            ids.push(id);
        }
        ids
    }

    /// Sets a deal property as a user in HubSpot would.
    pub fn edit(&self, id: u64, property: &str, value: &str) {
        let mut a = self.account.lock();
        a.clock += 1;
        let stamp = a.clock;
        let d = a.deals.get_mut(&id).expect("deal");
        d.properties.insert(property.into(), value.into());
        d.stamp = stamp;
    }

    /// Archives (deletes) a deal.
    pub fn archive(&self, id: u64) {
        let mut a = self.account.lock();
        a.clock += 1;
        let stamp = a.clock;
        let d = a.deals.get_mut(&id).expect("deal");
        d.archived_at = Some(stamp);
    }
}

/// The id of company `n`.
pub fn company_id(n: usize) -> u64 {
    9_480_000_000 + n as u64
}

/// The id of deal `n`.
pub fn deal_id(n: usize) -> u64 {
    15_000_000_000 + n as u64
}

fn iso(seconds: u64) -> String {
    format!("{}.000Z", clock_text(seconds))
}

fn correlation(n: usize) -> String {
    format!("aeb5f871-7f07-4993-9211-{n:012}")
}

fn answer(a: &mut Account, op: &str, status: StatusCode, body: Value) -> Response {
    a.answers
        .push((op.to_string(), status.as_u16(), body.clone()));
    (status, Json(body)).into_response()
}

/// Checks the token, the rate limit and the 401s a test asked for: the refusal, or `None`.
fn admit(a: &mut Account, headers: &HeaderMap, op: &str) -> Option<Response> {
    let n = a.answers.len();
    if a.rate_limited > 0 {
        a.rate_limited -= 1;
        a.rate_limits_sent += 1;
        // HubSpot's 429 body (not its documented Error shape: it has no category).
        let body = json!({"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                          "errorType": "RATE_LIMIT", "correlationId": correlation(n), "policyName": "TEN_SECONDLY_ROLLING"});
        return Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("Retry-After", "1")],
                Json(body),
            )
                .into_response(),
        );
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if a.unauthorized > 0 || token != a.token {
        a.unauthorized = a.unauthorized.saturating_sub(1);
        let body = json!({"status": "error", "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                          "correlationId": correlation(n), "category": "INVALID_AUTHENTICATION"});
        return Some(answer(a, op, StatusCode::UNAUTHORIZED, body));
    }
    None
}

/// Refuses a request body HubSpot's OpenAPI document does not allow, as HubSpot does (400
/// `VALIDATION_ERROR`); `None` to go on.
fn refuse_body(a: &mut Account, op: &str, body: &Value) -> Option<Response> {
    let why = openapi::check_request(op, body).err()?;
    let n = a.answers.len();
    a.refused_bodies
        .push((op.to_string(), body.clone(), why.clone()));
    let b = json!({"status": "error", "message": format!("Invalid input JSON: {why}"),
                   "correlationId": correlation(n), "category": "VALIDATION_ERROR"});
    Some(answer(a, op, StatusCode::BAD_REQUEST, b))
}

fn object_json(id: u64, o: &Object, properties: &[String], created: u64) -> Value {
    let mut props = serde_json::Map::new();
    for p in properties {
        let v = match p.as_str() {
            "hs_lastmodifieddate" => Some(iso(o.stamp)),
            "hs_object_id" => Some(id.to_string()),
            "createdate" => Some(iso(created)),
            _ => o.properties.get(p).cloned(),
        };
        props.insert(p.clone(), v.map_or(Value::Null, Value::String));
    }
    let mut v = json!({"id": id.to_string(), "properties": props, "createdAt": iso(created),
                       "updatedAt": iso(o.stamp), "archived": o.archived_at.is_some()});
    if let Some(at) = o.archived_at {
        v["archivedAt"] = json!(iso(at));
    }
    v
}

async fn pipelines(State(s): State<Shared<Account>>, headers: HeaderMap) -> Response {
    let mut a = s.lock();
    if let Some(r) = admit(&mut a, &headers, "pipelines") {
        return r;
    }
    let stage = |id: &str, label: &str, order: u32, p: &str, closed: bool| {
        json!({"id": id, "label": label, "displayOrder": order, "metadata": {"isClosed": closed.to_string(), "probability": p},
               "createdAt": "1970-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z", "archived": false, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"})
    };
    let body = json!({"results": [
        {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": false,
         "createdAt": "1970-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z", "stages": [
            stage("appointmentscheduled", "Appointment Scheduled", 0, "0.2", false),
            stage("qualifiedtobuy", "Qualified To Buy", 1, "0.4", false),
            stage("presentationscheduled", "Presentation Scheduled", 2, "0.6", false),
            stage("decisionmakerboughtin", "Decision Maker Bought-In", 3, "0.8", false),
            stage("contractsent", "Contract Sent", 4, "0.9", false),
            stage("closedwon", "Closed Won", 5, "1.0", true),
            stage("closedlost", "Closed Lost", 6, "0.0", true)]},
        {"id": "13013", "label": "Partner Pipeline", "displayOrder": 1, "archived": false,
         "createdAt": "2025-05-01T09:00:00Z", "updatedAt": "2026-01-01T00:00:00Z", "stages": [
            stage("13014", "Technical Validation", 0, "0.5", false),
            stage("13015", "Won with partner", 1, "1.0", true)]}]});
    answer(&mut a, "pipelines", StatusCode::OK, body)
}

fn search(s: &Shared<Account>, headers: &HeaderMap, body: Value, deals: bool) -> Response {
    let op = if deals {
        "search_deals"
    } else {
        "search_companies"
    };
    let mut a = s.lock();
    if let Some(r) = admit(&mut a, headers, op) {
        return r;
    }
    if let Some(r) = refuse_body(&mut a, op, &body) {
        return r;
    }
    a.searches.push(body.clone());
    let n = a.answers.len();
    let limit = body["limit"].as_u64().unwrap_or(10) as usize;
    let after: usize = body["after"]
        .as_str()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    if limit > 200 || after + limit > SEARCH_RESULTS_MAX {
        let b = json!({"status": "error", "message": "There was a problem with the request.", "correlationId": correlation(n),
                       "category": "VALIDATION_ERROR", "errors": [{"message": format!("after + limit may not exceed {SEARCH_RESULTS_MAX}"), "in": "after"}]});
        return answer(&mut a, op, StatusCode::BAD_REQUEST, b);
    }
    let mut since: Option<(u64, bool)> = None;
    for f in body["filterGroups"][0]["filters"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if f["propertyName"] == "hs_lastmodifieddate" {
            let ms: u64 = f["value"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let secs = ms.saturating_sub(1_767_225_600_000) / 1000;
            since = Some((secs, f["operator"] == "GT"));
        }
    }
    let props: Vec<String> = body["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    let table = if deals { &a.deals } else { &a.companies };
    let mut rows: Vec<(&u64, &Object)> = table
        .iter()
        .filter(|(_, o)| o.archived_at.is_none())
        .filter(|(_, o)| {
            since.is_none_or(|(s, strict)| if strict { o.stamp > s } else { o.stamp >= s })
        })
        .collect();
    rows.sort_by_key(|(id, o)| (o.stamp, **id));
    let total = rows.len();
    let results: Vec<Value> = rows
        .iter()
        .skip(after)
        .take(limit)
        .map(|(id, o)| object_json(**id, o, &props, o.stamp))
        .collect();
    let mut out = json!({"total": total, "results": results});
    if after + limit < total {
        let next = (after + limit).to_string();
        out["paging"] = json!({"next": {"after": next, "link": format!("?after={next}")}});
    }
    answer(&mut a, op, StatusCode::OK, out)
}

async fn search_companies(
    State(s): State<Shared<Account>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    search(&s, &headers, body, false)
}

async fn search_deals(
    State(s): State<Shared<Account>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    search(&s, &headers, body, true)
}

async fn associations(
    State(s): State<Shared<Account>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut a = s.lock();
    if let Some(r) = admit(&mut a, &headers, "associations") {
        return r;
    }
    if let Some(r) = refuse_body(&mut a, "associations", &body) {
        return r;
    }
    let n = a.answers.len();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for input in body["inputs"].as_array().into_iter().flatten() {
        let id = input["id"].as_str().unwrap_or("").to_string();
        let deal = id.parse::<u64>().ok().and_then(|i| a.deals.get(&i));
        match deal.filter(|d| !d.companies.is_empty()) {
            Some(d) => results.push(json!({"from": {"id": id}, "to": d.companies.iter().map(|c| json!({
                "toObjectId": c.parse::<u64>().unwrap_or(0),
                "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
                                     {"category": "HUBSPOT_DEFINED", "typeId": 341}]})).collect::<Vec<_>>()})),
            None => errors.push(json!({"status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": {},
                                       "message": format!("No company is associated with deal {id}."), "context": {"fromObjectId": [id]},
                                       "errors": [], "links": {}})),
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let mut out = json!({"status": "COMPLETE", "results": results, "startedAt": "2026-01-01T00:00:00.000Z", "completedAt": "2026-01-01T00:00:00.100Z"});
    if !errors.is_empty() {
        out["numErrors"] = json!(errors.len());
        out["errors"] = json!(errors);
    }
    let _ = n;
    answer(&mut a, "associations", status, out)
}

async fn list_deals(
    State(s): State<Shared<Account>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut a = s.lock();
    if let Some(r) = admit(&mut a, &headers, "list_deals") {
        return r;
    }
    let archived = q.get("archived").map(String::as_str) == Some("true");
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(10)
        .min(100);
    let after: usize = q.get("after").and_then(|l| l.parse().ok()).unwrap_or(0);
    let rows: Vec<(&u64, &Object)> = a
        .deals
        .iter()
        .filter(|(_, o)| o.archived_at.is_some() == archived)
        .collect();
    let total = rows.len();
    let props = vec![
        "hs_object_id".to_string(),
        "hs_lastmodifieddate".to_string(),
        "createdate".to_string(),
    ];
    let results: Vec<Value> = rows
        .iter()
        .skip(after)
        .take(limit)
        .map(|(id, o)| object_json(**id, o, &props, o.stamp))
        .collect();
    let mut out = json!({"results": results});
    if after + limit < total {
        let next = (after + limit).to_string();
        out["paging"] = json!({"next": {"after": next, "link": format!("?after={next}")}});
    }
    answer(&mut a, "list_deals", StatusCode::OK, out)
}

async fn update_deal(
    State(s): State<Shared<Account>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut a = s.lock();
    if let Some(r) = admit(&mut a, &headers, "update_deal") {
        return r;
    }
    if let Some(r) = refuse_body(&mut a, "update_deal", &body) {
        return r;
    }
    let n = a.answers.len();
    let Some(key) = id.parse::<u64>().ok().filter(|k| a.deals.contains_key(k)) else {
        let b = json!({"status": "error", "message": "resource not found", "correlationId": correlation(n), "category": "OBJECT_NOT_FOUND"});
        return answer(&mut a, "update_deal", StatusCode::NOT_FOUND, b);
    };
    let props = body["properties"].as_object().cloned().unwrap_or_default();
    let unknown: Vec<&String> = props
        .keys()
        .filter(|k| !a.deal_properties.contains(*k))
        .collect();
    if !unknown.is_empty() {
        let errors: Vec<Value> = unknown.iter().map(|k| json!({"message": format!("Property \"{k}\" does not exist"), "code": "PROPERTY_DOESNT_EXIST",
                                                                 "context": {"propertyName": [k]}})).collect();
        let b = json!({"status": "error", "message": "Property values were not valid", "correlationId": correlation(n),
                       "category": "VALIDATION_ERROR", "errors": errors});
        return answer(&mut a, "update_deal", StatusCode::BAD_REQUEST, b);
    }
    a.clock += 1;
    let stamp = a.clock;
    let names: Vec<String> = props.keys().cloned().collect();
    if let Some(d) = a.deals.get_mut(&key) {
        for (k, v) in &props {
            d.properties
                .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
        d.stamp = stamp;
    }
    a.patches.push((id, Value::Object(props)));
    let deal = a.deals.get(&key).cloned().expect("deal");
    let out = object_json(key, &deal, &names, 1);
    answer(&mut a, "update_deal", StatusCode::OK, out)
}

async fn create_note(
    State(s): State<Shared<Account>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut a = s.lock();
    if let Some(r) = admit(&mut a, &headers, "create_note") {
        return r;
    }
    if let Some(r) = refuse_body(&mut a, "create_note", &body) {
        return r;
    }
    a.notes.push(body.clone());
    let id = 70_000_000_000 + a.notes.len() as u64;
    let stamp = a.clock;
    let props: BTreeMap<String, String> = body["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let names: Vec<String> = props.keys().cloned().collect();
    let note = Object {
        properties: props,
        stamp,
        archived_at: None,
        companies: vec![],
    };
    let out = object_json(id, &note, &names, stamp);
    answer(&mut a, "create_note", StatusCode::CREATED, out)
}
