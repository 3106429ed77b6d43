//! A fake Salesforce org: the OAuth 2.0 token endpoint (JWT bearer, checking the RS256
//! signature, `iss`, `sub`, `aud` and `exp`; refresh token), SOQL `queryAll` over Account and
//! Opportunity (the SELECT list, `SystemModstamp >=`, `IsDeleted = false`, `ORDER BY
//! SystemModstamp`), 2,000-record batches with `nextRecordsUrl`, deleted rows with `IsDeleted:
//! true`, PATCH of Opportunity fields (unknown fields refused as `INVALID_FIELD`), Task
//! creation (only Task fields, restricted picklists checked, as Salesforce refuses others),
//! `INVALID_SESSION_ID` for an expired session (also after a set number of calls, to expire one
//! in the middle of a load) and `REQUEST_LIMIT_EXCEEDED`. Salesforce publishes no OpenAPI
//! document of the REST sObject resources to check bodies against (an org generates its own),
//! so the fake checks what the org would: field names, picklists, the record a Task is on.

use super::{clock_text, serve, Running, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Records per `queryAll` batch (Salesforce's default).
pub const BATCH: usize = 2000;
const API: &str = "/services/data/v60.0";

/// One record: its fields as Salesforce names them, its modification second, deleted or not.
#[derive(Clone, Debug)]
pub struct Row {
    /// Fields (`Name`, `StageName`, `Owner` as a relationship object…).
    pub fields: BTreeMap<String, Value>,
    /// Seconds after 2026-01-01 of the last change.
    pub stamp: u64,
    /// In the recycle bin.
    pub deleted: bool,
}

/// The org's state.
#[derive(Default)]
pub struct Org {
    /// Accounts by Id.
    pub accounts: BTreeMap<String, Row>,
    /// Opportunities by Id.
    pub opportunities: BTreeMap<String, Row>,
    /// The modification clock (seconds).
    pub clock: u64,
    /// Access tokens that are valid now.
    pub sessions: BTreeSet<String>,
    /// Every access token ever issued (a test checks none leaks).
    pub issued: Vec<String>,
    /// Token requests answered.
    pub sign_ins: u64,
    /// The next N API calls answer `REQUEST_LIMIT_EXCEEDED`.
    pub limit_exceeded: u32,
    /// Opportunity fields that exist (custom ones included), for PATCH.
    pub opportunity_fields: BTreeSet<String>,
    /// PATCHes received: (Opportunity Id, body).
    pub patches: Vec<(String, Value)>,
    /// Tasks created.
    pub tasks: Vec<Value>,
    /// Query locators: id → (the query's rows, as JSON, and where the next batch starts).
    locators: HashMap<String, (Arc<Vec<Value>>, usize)>,
    /// The connected app: consumer key, username, public key (PKCS#1 DER).
    app: Option<(String, String, Vec<u8>)>,
    /// A refresh token that is accepted (`None`: revoked, or none issued).
    pub refresh_token: Option<String>,
    /// Grant types of the token requests answered, in order.
    pub grants: Vec<String>,
    /// `INVALID_SESSION_ID` answers sent.
    pub session_refusals: u32,
    /// Records per query batch (Salesforce sends smaller batches than 2,000 when rows are
    /// wide); [`BATCH`] unless a test sets it.
    pub batch: usize,
    /// When set, every session ends after this many more API calls are answered (a session
    /// timing out in the middle of a load).
    pub expire_after_calls: Option<u32>,
    /// When set, the app's access is revoked after this many more API calls are answered (an
    /// admin in Setup: every session and the refresh token end together).
    pub revoke_after_calls: Option<u32>,
    /// Requests answered (path and query), for tests that look at paging.
    pub requests: Vec<String>,
}

/// A fake org served on loopback.
pub struct FakeSalesforce {
    /// The server; its URL is both the login server and the instance.
    pub running: Running,
    /// The org.
    pub org: Shared<Org>,
}

impl FakeSalesforce {
    /// An empty org whose connected app has `client_id`, acts for `username` and holds the
    /// public key `public_key_der` (PKCS#1 RSAPublicKey, DER).
    pub fn start(client_id: &str, username: &str, public_key_der: Vec<u8>) -> Self {
        let mut org = Org {
            app: Some((client_id.into(), username.into(), public_key_der)),
            batch: BATCH,
            ..Org::default()
        };
        for f in [
            "Name",
            "StageName",
            "Amount",
            "CloseDate",
            "NextStep",
            "Description",
        ] {
            org.opportunity_fields.insert(f.to_string());
        }
        let org = Shared::new(org);
        let app = Router::new()
            .route("/services/oauth2/token", post(token))
            .route(&format!("{API}/queryAll/"), get(query_all))
            .route(&format!("{API}/query/{{locator}}"), get(query_more))
            .route(
                &format!("{API}/sobjects/Opportunity/{{id}}"),
                patch(update_opportunity),
            )
            .route(&format!("{API}/sobjects/Task"), post(create_task))
            .with_state(org.clone());
        FakeSalesforce {
            running: serve(app),
            org,
        }
    }

    /// The base URL (login server and instance).
    pub fn url(&self) -> &str {
        &self.running.url
    }

    /// Adds `n` accounts (`001…`) and `per_account * n` opportunities over them, each its own
    /// second on the clock. Returns the opportunity ids in order.
    pub fn seed(&self, accounts: usize, opportunities: usize) -> Vec<String> {
        let mut org = self.org.lock();
        for a in 0..accounts {
            let id = account_id(a);
            org.clock += 1;
            let stamp = org.clock;
            let mut f = BTreeMap::new();
            f.insert("Name".into(), json!(format!("Account {a}")));
            f.insert(
                "Website".into(),
                json!(format!("https://www.account{a}.example.com/")),
            );
            f.insert("Industry".into(), json!("Software"));
            f.insert("BillingCountry".into(), json!("Germany"));
            f.insert("Type".into(), json!("Customer - Direct"));
            f.insert("Owner".into(), json!({"attributes": {"type": "User", "url": format!("{API}/sobjects/User/005000000000001AAA")}, "Name": "Ana Owner"}));
            org.accounts.insert(
                id,
                Row {
                    fields: f,
                    stamp,
                    deleted: false,
                },
            );
        }
        let stages = [
            "Prospecting",
            "Qualification",
            "Needs Analysis",
            "Proposal/Price Quote",
            "Negotiation/Review",
        ];
        let mut ids = Vec::new();
        for o in 0..opportunities {
            let id = opportunity_id(o);
            org.clock += 1;
            let stamp = org.clock;
            let mut f = BTreeMap::new();
            f.insert("Name".into(), json!(format!("Opportunity {o}")));
            f.insert("AccountId".into(), json!(account_id(o % accounts.max(1))));
            f.insert("StageName".into(), json!(stages[o % stages.len()]));
            f.insert("Amount".into(), json!(1000.0 + o as f64));
            f.insert("CloseDate".into(), json!("2026-09-30"));
            f.insert("NextStep".into(), Value::Null);
            f.insert("Description".into(), Value::Null);
            f.insert("Owner".into(), json!({"attributes": {"type": "User", "url": format!("{API}/sobjects/User/005000000000001AAA")}, "Name": "Ana Owner"}));
            org.opportunities.insert(
                id.clone(),
                Row {
                    fields: f,
                    stamp,
                    deleted: false,
                },
            );
            ids.push(id);
        }
        ids
    }

    /// Changes `field` of opportunity `id` as a user in Salesforce would (new SystemModstamp).
    pub fn edit(&self, id: &str, field: &str, value: Value) {
        let mut org = self.org.lock();
        org.clock += 1;
        let stamp = org.clock;
        let row = org.opportunities.get_mut(id).expect("opportunity");
        row.fields.insert(field.to_string(), value);
        row.stamp = stamp;
    }

    /// Deletes opportunity `id` (to the recycle bin: `queryAll` shows it with `IsDeleted`).
    pub fn delete(&self, id: &str) {
        let mut org = self.org.lock();
        org.clock += 1;
        let stamp = org.clock;
        let row = org.opportunities.get_mut(id).expect("opportunity");
        row.deleted = true;
        row.stamp = stamp;
    }

    /// Ends every session: the next API call answers `INVALID_SESSION_ID`.
    pub fn expire_sessions(&self) {
        self.org.lock().sessions.clear();
    }

    /// Issues `token` as the connected app's refresh token (what the OAuth web-server flow
    /// leaves the admin with); any earlier one stops working.
    pub fn issue_refresh_token(&self, token: &str) {
        self.org.lock().refresh_token = Some(token.to_string());
    }
}

/// The Id of account `n` (18 characters, Account key prefix 001).
pub fn account_id(n: usize) -> String {
    format!("001{n:012}AAA")
}

/// The Id of opportunity `n` (18 characters, Opportunity key prefix 006).
pub fn opportunity_id(n: usize) -> String {
    format!("006{n:012}AAA")
}

/// The Task fields the fake org has (a standard org's, without custom ones).
const TASK_FIELDS: [&str; 12] = [
    "WhatId",
    "WhoId",
    "Subject",
    "Description",
    "Status",
    "Priority",
    "ActivityDate",
    "OwnerId",
    "Type",
    "TaskSubtype",
    "ReminderDateTime",
    "IsReminderSet",
];
/// The standard Task Status picklist.
const TASK_STATUSES: [&str; 5] = [
    "Not Started",
    "In Progress",
    "Completed",
    "Waiting on someone else",
    "Deferred",
];
/// The standard Task Priority picklist.
const TASK_PRIORITIES: [&str; 3] = ["High", "Normal", "Low"];

fn sf_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!([{"message": message, "errorCode": code}])),
    )
        .into_response()
}

/// Counts one call off `calls`: true (and unset) when none was left.
fn count_down(calls: &mut Option<u32>) -> bool {
    match *calls {
        Some(0) => {
            *calls = None;
            true
        }
        Some(n) => {
            *calls = Some(n - 1);
            false
        }
        None => false,
    }
}

/// Checks the bearer session and the API budget: the refusal, or `None` to go on.
fn admit(org: &mut Org, headers: &HeaderMap) -> Option<Response> {
    if count_down(&mut org.expire_after_calls) {
        org.sessions.clear();
    }
    if count_down(&mut org.revoke_after_calls) {
        org.sessions.clear();
        org.refresh_token = None;
    }
    if org.limit_exceeded > 0 {
        org.limit_exceeded -= 1;
        return Some(sf_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !org.sessions.contains(token) {
        org.session_refusals += 1;
        return Some(sf_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ));
    }
    None
}

async fn token(State(org): State<Shared<Org>>, headers: HeaderMap, body: String) -> Response {
    let form = form_fields(&body);
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let instance = format!("http://{host}");
    let mut org = org.lock();
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    let refused = match grant.as_str() {
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            (!form.get("assertion").is_some_and(|a| {
                org.app
                    .as_ref()
                    .is_some_and(|app| assertion_holds(a, app, &instance))
            }))
            .then_some(("invalid_grant", "invalid assertion"))
        }
        "refresh_token" => {
            if org.app.as_ref().map(|app| &app.0) != form.get("client_id") {
                Some(("invalid_client_id", "client identifier invalid"))
            } else if org.refresh_token.is_none()
                || form.get("refresh_token") != org.refresh_token.as_ref()
            {
                Some(("invalid_grant", "expired access/refresh token"))
            } else {
                None
            }
        }
        _ => Some(("unsupported_grant_type", "grant type not supported")),
    };
    if let Some((error, description)) = refused {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response();
    }
    org.grants.push(grant);
    org.sign_ins += 1;
    let access = format!(
        "00D000000000001!AQ{}.fake{:08}",
        "x".repeat(20),
        org.sign_ins
    );
    org.sessions.insert(access.clone());
    org.issued.push(access.clone());
    Json(
        json!({"access_token": access, "scope": "api", "instance_url": instance,
                "id": format!("{instance}/id/00D000000000001AAA/005000000000001AAA"),
                "token_type": "Bearer", "issued_at": "1767225600000", "signature": "c2lnbmF0dXJl"}),
    )
    .into_response()
}

/// Checks a JWT bearer assertion: RS256 over `header.claims` with the app's key, and the
/// claims Salesforce checks.
fn assertion_holds(assertion: &str, app: &(String, String, Vec<u8>), audience: &str) -> bool {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return false;
    };
    let Ok(sig) = b64.decode(signature) else {
        return false;
    };
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &app.2,
    );
    if key
        .verify(format!("{header}.{claims}").as_bytes(), &sig)
        .is_err()
    {
        return false;
    }
    let Ok(claims) = b64
        .decode(claims)
        .map_err(|_| ())
        .and_then(|c| serde_json::from_slice::<Value>(&c).map_err(|_| ()))
    else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    claims["iss"] == app.0.as_str()
        && claims["sub"] == app.1.as_str()
        && claims["aud"] == audience
        && claims["exp"]
            .as_u64()
            .is_some_and(|e| e > now && e <= now + 300)
}

/// The parts of a SOQL query the connector sends.
struct Soql {
    fields: Vec<String>,
    object: String,
    since: Option<u64>,
    live_only: bool,
}

fn parse_soql(q: &str) -> Option<Soql> {
    let rest = q.strip_prefix("SELECT ")?;
    let (fields, rest) = rest.split_once(" FROM ")?;
    let (object, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let since = rest.split("SystemModstamp >= ").nth(1).and_then(|s| {
        let stamp = s.split_whitespace().next()?;
        seconds_of(stamp.trim_end_matches('Z'))
    });
    Some(Soql {
        fields: fields.split(", ").map(str::to_string).collect(),
        object: object.to_string(),
        since,
        live_only: rest.contains("IsDeleted = false"),
    })
}

/// Seconds after 2026-01-01 of `YYYY-MM-DDTHH:MM:SS`.
fn seconds_of(text: &str) -> Option<u64> {
    let ms = cosell::domain::crm::iso_ms(&format!("{}.000Z", text.get(..19)?))?;
    Some((ms - 1_767_225_600_000) / 1000)
}

fn stamp_text(seconds: u64) -> String {
    format!("{}.000+0000", clock_text(seconds))
}

fn row_json(object: &str, id: &str, row: &Row, fields: &[String]) -> Value {
    let mut out = serde_json::Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": object, "url": format!("{API}/sobjects/{object}/{id}")}),
    );
    for f in fields {
        let value = match f.as_str() {
            "Id" => json!(id),
            "SystemModstamp" => json!(stamp_text(row.stamp)),
            "IsDeleted" => json!(row.deleted),
            name => {
                let top = name.split('.').next().unwrap_or(name);
                row.fields.get(top).cloned().unwrap_or(Value::Null)
            }
        };
        let top = f.split('.').next().unwrap_or(f).to_string();
        out.insert(top, value);
    }
    Value::Object(out)
}

async fn query_all(
    State(org): State<Shared<Org>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut org = org.lock();
    if let Some(r) = admit(&mut org, &headers) {
        return r;
    }
    let text = q.get("q").cloned().unwrap_or_default();
    org.requests.push(format!("queryAll {text}"));
    let Some(soql) = parse_soql(&text) else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "unexpected token",
        );
    };
    let table = match soql.object.as_str() {
        "Account" => &org.accounts,
        "Opportunity" => &org.opportunities,
        other => {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_TYPE",
                &format!("sObject type '{other}' is not supported."),
            )
        }
    };
    let mut rows: Vec<(&String, &Row)> = table
        .iter()
        .filter(|(_, r)| soql.since.is_none_or(|s| r.stamp >= s) && !(soql.live_only && r.deleted))
        .collect();
    rows.sort_by(|a, b| (a.1.stamp, a.0).cmp(&(b.1.stamp, b.0)));
    let all: Vec<Value> = rows
        .iter()
        .map(|(id, r)| row_json(&soql.object, id, r, &soql.fields))
        .collect();
    page(&mut org, Arc::new(all), 0)
}

/// One batch of `rows` from `offset`, with a locator for the rest.
fn page(org: &mut Org, rows: Arc<Vec<Value>>, offset: usize) -> Response {
    let total = rows.len();
    let end = (offset + org.batch.max(1)).min(total);
    let done = end >= total;
    let mut body =
        json!({"totalSize": total, "done": done, "records": &rows[offset.min(total)..end]});
    if !done {
        let locator = format!("01g{:015}", org.locators.len() + 1);
        body["nextRecordsUrl"] = json!(format!("{API}/query/{locator}-{end}"));
        org.locators.insert(format!("{locator}-{end}"), (rows, end));
    }
    Json(body).into_response()
}

async fn query_more(
    State(org): State<Shared<Org>>,
    headers: HeaderMap,
    Path(locator): Path<String>,
) -> Response {
    let mut org = org.lock();
    if let Some(r) = admit(&mut org, &headers) {
        return r;
    }
    org.requests.push(format!("query {locator}"));
    let Some((rows, offset)) = org.locators.remove(&locator) else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        );
    };
    page(&mut org, rows, offset)
}

async fn update_opportunity(
    State(org): State<Shared<Org>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut org = org.lock();
    if let Some(r) = admit(&mut org, &headers) {
        return r;
    }
    if !org.opportunities.contains_key(&id) {
        return sf_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        );
    }
    for key in body.as_object().into_iter().flat_map(|o| o.keys()) {
        if !org.opportunity_fields.contains(key) {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                &format!("No such column '{key}' on sobject of type Opportunity"),
            );
        }
    }
    org.clock += 1;
    let stamp = org.clock;
    if let Some(row) = org.opportunities.get_mut(&id) {
        for (k, v) in body.as_object().into_iter().flatten() {
            row.fields.insert(k.clone(), v.clone());
        }
        row.stamp = stamp;
    }
    org.patches.push((id, body));
    StatusCode::NO_CONTENT.into_response()
}

async fn create_task(
    State(org): State<Shared<Org>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut org = org.lock();
    if let Some(r) = admit(&mut org, &headers) {
        return r;
    }
    for (key, value) in body.as_object().into_iter().flatten() {
        if !TASK_FIELDS.contains(&key.as_str()) {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                &format!("No such column '{key}' on sobject of type Task"),
            );
        }
        let allowed = match key.as_str() {
            "Status" => TASK_STATUSES.as_slice(),
            "Priority" => TASK_PRIORITIES.as_slice(),
            _ => continue,
        };
        if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                &format!("{key}: bad value for restricted picklist field: {value}"),
            );
        }
    }
    if body["WhatId"]
        .as_str()
        .is_none_or(|w| !org.opportunities.contains_key(w))
    {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "FIELD_INTEGRITY_EXCEPTION",
            "Related To ID: id value of incorrect type",
        );
    }
    org.tasks.push(body);
    let id = format!("00T{:015}", org.tasks.len());
    (
        StatusCode::CREATED,
        Json(json!({"id": id, "success": true, "errors": []})),
    )
        .into_response()
}

/// `application/x-www-form-urlencoded` fields.
fn form_fields(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
