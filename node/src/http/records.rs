//! Accounts and opportunities: list, read, create and patch. Every write goes through
//! [`Deals::write_records`](crate::domain::deals::Deals::write_records), which brings the deals
//! shared from what it changed in step; the changed deals are then offered to their
//! participants.

use super::query::{query_params, Cursor, Params, Takes, CURSOR_DOC, LIMIT, LIMIT_DOC, STAGES};
use super::{blocking, ApiError, AppState, Caller, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use crate::domain::auth::Role;
use crate::domain::deals::RecordWrite;
use crate::import::write::external_id_owner;
use crate::store::{OpportunityFilter, Page, WriteTables};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use protocol::records::{
    clean_text, parse_tags, Account, AccountStatus, Amount, Currency, Date, Domain, FieldError,
    Opportunity, Stage, NAME_CHARS_MAX, TEXT_CHARS_MAX,
};
use serde_json::{json, Map, Value};

/// Checks a list request's `limit` (serde's `flatten` cannot carry numbers from a query string,
/// so each query struct has its own `limit` and `cursor`).
pub(crate) fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(PAGE_LIMIT_DEFAULT),
        Some(n) if (1..=PAGE_LIMIT_MAX).contains(&n) => Ok(n),
        Some(n) => Err(super::query::bad(
            "limit",
            format!("must be 1 to {PAGE_LIMIT_MAX}, not {n}"),
        )),
    }
}

/// A page as the API's list answer: `{"items": [...], "next_cursor": ...}`.
pub(crate) fn page_json<T: serde::Serialize>(page: Page<T>) -> Json<Value> {
    Json(json!({ "items": page.items, "next_cursor": page.next_cursor }))
}

query_params! {
    /// Filter and paging of `GET /api/v1/accounts`.
    pub struct AccountQuery {
        q: Option<String> = Takes::Text, "Only accounts whose name, domain or external id contains this text (any case)";
        limit: Option<usize> = LIMIT, LIMIT_DOC;
        cursor: Option<String> = Takes::Cursor(Cursor::RecordId), CURSOR_DOC;
    }
}

pub async fn list_accounts(
    State(state): State<AppState>,
    Params(query): Params<AccountQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_limit(query.limit)?;
    check_cursor(query.cursor.as_deref())?;
    let page = blocking(move || {
        Ok(state
            .store
            .list_accounts(query.q.as_deref(), query.cursor.as_deref(), limit)?)
    })
    .await?;
    Ok(page_json(page))
}

/// A `cursor` must be a `next_cursor` a page gave (a record id), not any text.
fn check_cursor(cursor: Option<&str>) -> Result<(), ApiError> {
    match cursor {
        Some(c) if !crate::store::is_record_id(c) => Err(ApiError::bad_request(format!(
            "cursor: '{c}' is not a next_cursor from a page"
        ))),
        _ => Ok(()),
    }
}

pub async fn get_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Account>, ApiError> {
    let found = blocking(move || Ok(state.store.account(&id).map(|a| (a, id))?)).await?;
    match found {
        (Some(a), _) => Ok(Json(a)),
        (None, id) => Err(ApiError::not_found(format!("no account with id {id}"))),
    }
}

query_params! {
    /// Filters and paging of `GET /api/v1/opportunities`.
    pub struct OpportunityQuery {
        stage: Option<String> = STAGES, "Only opportunities in this stage (any case; spaces or hyphens for underscores)";
        account_id: Option<String> = Takes::Text, "Only this account's opportunities";
        q: Option<String> = Takes::Text, "Only opportunities whose name, external id or owner contains this text (any case)";
        limit: Option<usize> = LIMIT, LIMIT_DOC;
        cursor: Option<String> = Takes::Cursor(Cursor::RecordId), CURSOR_DOC;
    }
}

pub async fn list_opportunities(
    State(state): State<AppState>,
    Params(query): Params<OpportunityQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_limit(query.limit)?;
    check_cursor(query.cursor.as_deref())?;
    let stage = query
        .stage
        .as_deref()
        .map(Stage::parse)
        .transpose()
        .map_err(|e| super::query::bad("stage", e.message().to_string()))?;
    let filter = OpportunityFilter {
        stage,
        account_id: query.account_id.filter(|s| !s.is_empty()),
        q: query.q.filter(|s| !s.is_empty()),
    };
    let page = blocking(move || {
        Ok(state
            .store
            .list_opportunities(&filter, query.cursor.as_deref(), limit)?)
    })
    .await?;
    Ok(page_json(page))
}

pub async fn get_opportunity(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Opportunity>, ApiError> {
    let found = blocking(move || Ok(state.store.opportunity(&id).map(|o| (o, id))?)).await?;
    match found {
        (Some(o), _) => Ok(Json(o)),
        (None, id) => Err(ApiError::not_found(format!("no opportunity with id {id}"))),
    }
}

/// `DELETE /api/v1/accounts/{id}`: refused (409) while opportunities name the account.
pub async fn delete_account(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let deals = state.network.deals.clone();
    let now = crate::clock::now_ms();
    let answer =
        blocking(move || Ok(crate::domain::records::delete_account(&deals, &id, now)?)).await?;
    Ok(Json(answer))
}

crate::http::query::query_params! {
    /// `DELETE /api/v1/opportunities/{id}`.
    pub struct DeleteOpportunityQuery {
        withdraw: Option<String> = crate::http::query::Takes::OneOf(&["true", "false"]), "true: withdraw the deals shared from it first";
    }
}

/// `DELETE /api/v1/opportunities/{id}[?withdraw=true]`: refused (409, naming them) while deals
/// shared from it hold its content at partners; `withdraw=true` withdraws them first.
pub async fn delete_opportunity(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    crate::http::query::Params(q): crate::http::query::Params<DeleteOpportunityQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let withdraw = match q.withdraw.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(crate::http::query::bad(
                "withdraw",
                format!("'{other}' is not true or false"),
            ))
        }
    };
    let deals = state.network.deals.clone();
    let now = crate::clock::now_ms();
    let (answer, to_sync) = blocking(move || {
        let mut withdrawn = Vec::new();
        let mut to_sync = Vec::new();
        if withdraw {
            for (deal, _) in crate::domain::records::live_deals_of(&deals, &id)? {
                to_sync.extend(deals.withdraw(deal, "its opportunity was deleted", now)?);
                withdrawn.push(deal.to_string());
            }
        }
        let mut answer = crate::domain::records::delete_opportunity(&deals, &id, now)?;
        answer["withdrawn_deals"] = json!(withdrawn);
        Ok((answer, to_sync))
    })
    .await?;
    state.network.handle.sync(to_sync).await?;
    Ok(Json(answer))
}

/// Collects field errors so one answer names all of them.
#[derive(Default)]
struct Problems(Vec<Value>);

impl Problems {
    fn add(&mut self, e: FieldError) {
        self.0
            .push(json!({ "field": e.field, "message": e.message }));
    }
    fn field(&mut self, field: &'static str, message: impl std::fmt::Display) {
        self.0
            .push(json!({ "field": field, "message": message.to_string() }));
    }
    /// Whether a problem with `field` is already listed.
    fn names(&self, field: &str) -> bool {
        self.0.iter().any(|e| e["field"] == field)
    }
    fn text(&mut self, field: &'static str, v: Option<&Value>, max: usize) -> Option<String> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match clean_text(field, Some(s), max) {
                Ok(t) => t,
                Err(e) => {
                    self.add(e);
                    None
                }
            },
            Some(other) => {
                self.field(field, format!("must be a string, not {other}"));
                None
            }
        }
    }
    fn parsed<T>(
        &mut self,
        field: &'static str,
        v: Option<&Value>,
        parse: impl Fn(&str) -> Result<T, protocol::records::ValueError>,
    ) -> Option<T> {
        let text = match v {
            None | Some(Value::Null) => return None,
            Some(Value::String(s)) if s.trim().is_empty() => return None,
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                self.field(field, format!("must be a string, not {other}"));
                return None;
            }
        };
        match parse(&text) {
            Ok(t) => Some(t),
            Err(e) => {
                self.field(field, e);
                None
            }
        }
    }
    fn tags(&mut self, v: Option<&Value>) -> Option<Vec<String>> {
        let joined = match v {
            None | Some(Value::Null) => return None,
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) => {
                let mut parts = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(s) => parts.push(s.replace([';', ',', '|'], " ")),
                        None => {
                            self.field("tags", "must be a list of strings");
                            return None;
                        }
                    }
                }
                parts.join(";")
            }
            Some(_) => {
                self.field("tags", "must be a list of strings");
                return None;
            }
        };
        match parse_tags(&joined) {
            Ok(t) => Some(t),
            Err(e) => {
                self.add(e);
                None
            }
        }
    }
    /// The record's own invariants ([`Account::validate`], [`Opportunity::validate`]), once
    /// every field read: what the fields' checks let through (a tag with a control character)
    /// is a 422 naming the field, never a store error (500). Not repeated for a field already
    /// named.
    fn check(&mut self, valid: Result<(), FieldError>) {
        if let Err(e) = valid {
            if !self.names(e.field) {
                self.add(e);
            }
        }
    }
    fn into_result(self, what: &str) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::unprocessable(format!("invalid {what}"), self.0))
        }
    }
}

const ACCOUNT_KEYS: &[&str] = &[
    "external_id",
    "name",
    "domain",
    "industry",
    "country",
    "status",
    "owner",
    "tags",
];
const OPPORTUNITY_KEYS: &[&str] = &[
    "external_id",
    "account_id",
    "account_domain",
    "name",
    "stage",
    "amount",
    "currency",
    "close_date",
    "owner",
    "next_step",
    "description",
    "tags",
];

fn object(body: Result<Json<Value>, JsonRejection>) -> Result<Map<String, Value>, ApiError> {
    let Json(value) = body?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request("the body must be a JSON object")),
    }
}

/// An optional JSON object body: `None` when it is empty, else the object
/// as `T`. A body that is not a JSON object is a 400; a field of the wrong shape or an unknown
/// key a 422 naming it (as every JSON route answers).
pub(super) fn optional_object<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    // White space alone is not a JSON document (found by .ci/api-fuzz): no body, or an object.
    let Some(first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(ApiError::bad_request(
            "invalid JSON body: only white space (send no body, or a JSON object)",
        ));
    };
    if *first != b'{' {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Err(e) => ApiError::bad_request(format!("invalid JSON body: {e}")),
                Ok(_) => ApiError::bad_request("the body must be a JSON object"),
            },
        );
    }
    let Json(value) = Json::<T>::from_bytes(body)?;
    Ok(Some(value))
}

fn check_keys(map: &Map<String, Value>, allowed: &[&str], problems: &mut Problems) {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) && key != "id" {
            problems.0.push(json!({
                "field": key,
                "message": format!("unknown field (known: {})", allowed.join(", ")),
            }));
        }
    }
}

pub async fn create_account(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    caller.require(Role::Manager)?;
    let map = object(body)?;
    let mut p = Problems::default();
    check_keys(&map, ACCOUNT_KEYS, &mut p);
    if !map.contains_key("name") {
        p.field("name", "is required");
    }
    let mut account = Account {
        id: ulid::Ulid::new().to_string(),
        external_id: None,
        name: String::new(),
        domain: None,
        industry: None,
        country: None,
        status: AccountStatus::default(),
        owner: None,
        tags: Vec::new(),
    };
    apply_account_fields(&mut account, &map, &mut p);
    p.check(account.validate());
    p.into_result("account")?;
    let deals = state.network.deals.clone();
    let (account, changed) = blocking(move || {
        deals.write_records(|store| {
            let txn = store.write()?;
            let outcome = {
                let mut tables = WriteTables::open(&txn)?;
                refuse_taken_account_external_id(&tables, &account)?;
                tables.put_account(&account)?
            };
            txn.commit().map_err(anyhow::Error::from)?;
            Ok((account, RecordWrite::Account(outcome)))
        })
    })
    .await?;
    let _ = state.network.handle.sync(changed).await;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Applies the editable account fields present in `map` (null clears an optional field).
fn apply_account_fields(account: &mut Account, map: &Map<String, Value>, p: &mut Problems) {
    for (key, value) in map {
        match key.as_str() {
            "external_id" => {
                account.external_id = p.text("external_id", Some(value), NAME_CHARS_MAX)
            }
            "name" => match p.text("name", Some(value), NAME_CHARS_MAX) {
                Some(n) => account.name = n,
                None if !p.names("name") => p.field("name", "must not be empty"),
                None => {}
            },
            "domain" => account.domain = p.parsed("domain", Some(value), Domain::parse_company),
            "industry" => account.industry = p.text("industry", Some(value), NAME_CHARS_MAX),
            "country" => account.country = p.text("country", Some(value), NAME_CHARS_MAX),
            // Status always has a value: null or empty is refused, as an opportunity's stage.
            "status" => match p.parsed("status", Some(value), AccountStatus::parse) {
                Some(s) => account.status = s,
                None if value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()) => p
                    .field(
                        "status",
                        "must not be empty (customer, prospect, partner or other)",
                    ),
                None => {}
            },
            "owner" => account.owner = p.text("owner", Some(value), NAME_CHARS_MAX),
            "tags" => account.tags = p.tags(Some(value)).unwrap_or_default(),
            _ => {}
        }
    }
}

/// A 409 when another account already has `account`'s external id (upserts match on it).
fn refuse_taken_account_external_id(
    tables: &WriteTables<'_>,
    account: &Account,
) -> Result<(), ApiError> {
    if let Some(x) = &account.external_id {
        let owner = external_id_owner(x, |o| tables.account_id_by_external(o))?;
        if let Some(existing) = owner {
            if existing != account.id {
                return Err(ApiError::conflict(format!(
                    "an account with external_id {x} already exists (id {existing})"
                )));
            }
        }
    }
    Ok(())
}

/// `PATCH /accounts/{id}`: changes the fields the body names (null clears an optional one).
/// Deals that share the account's fields follow the change, as they do an opportunity's.
pub async fn patch_account(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Account>, ApiError> {
    caller.require(Role::Manager)?;
    let map = object(body)?;
    let deals = state.network.deals.clone();
    let (account, changed) = blocking(move || {
        deals.write_records(|store| {
            let txn = store.write()?;
            let (account, outcome) = {
                let mut tables = WriteTables::open(&txn)?;
                let Some(mut account) = tables.account(&id)? else {
                    return Err(ApiError::not_found(format!("no account with id {id}")));
                };
                let mut p = Problems::default();
                check_keys(&map, ACCOUNT_KEYS, &mut p);
                refuse_other_id(&map, "account", &account.id, &mut p);
                apply_account_fields(&mut account, &map, &mut p);
                p.check(account.validate());
                p.into_result("account")?;
                refuse_taken_account_external_id(&tables, &account)?;
                let outcome = tables.put_account(&account)?;
                (account, outcome)
            };
            txn.commit().map_err(anyhow::Error::from)?;
            Ok((account, RecordWrite::Account(outcome)))
        })
    })
    .await?;
    let _ = state.network.handle.sync(changed).await;
    Ok(Json(account))
}

/// `id` may come back in a PATCH body as a GET gave it, but it names the record, it is not a
/// value: a different one is a problem.
fn refuse_other_id(map: &Map<String, Value>, what: &str, id: &str, p: &mut Problems) {
    // Ids are ULIDs, which read the same in either case (GET finds a lower-cased one too).
    let same = |v: &&Value| v.as_str().is_some_and(|g| g.eq_ignore_ascii_case(id));
    if let Some(given) = map.get("id").filter(|v| !same(v)) {
        p.0.push(json!({
            "field": "id",
            "message": format!("is read-only: this {what}'s id is {id}, not {given}"),
        }));
    }
}

pub async fn create_opportunity(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Opportunity>), ApiError> {
    caller.require(Role::Manager)?;
    let map = object(body)?;
    let mut p = Problems::default();
    check_keys(&map, OPPORTUNITY_KEYS, &mut p);
    let mut opp = Opportunity {
        id: ulid::Ulid::new().to_string(),
        external_id: None,
        account_id: String::new(),
        name: String::new(),
        stage: Stage::Prospect,
        amount: None,
        currency: None,
        close_date: None,
        owner: None,
        next_step: None,
        description: None,
        tags: Vec::new(),
    };
    if !map.contains_key("name") {
        p.field("name", "is required");
    }
    if !map.contains_key("stage") {
        p.field("stage", "is required");
    }
    let account_id = p.text("account_id", map.get("account_id"), NAME_CHARS_MAX);
    let account_domain = p.parsed("account_domain", map.get("account_domain"), Domain::parse);
    if account_id.is_none()
        && account_domain.is_none()
        && !p.0.iter().any(|e| {
            e["field"]
                .as_str()
                .is_some_and(|f| f.starts_with("account"))
        })
    {
        p.field("account_id", "is required (or give account_domain)");
    }
    apply_opportunity_fields(&mut opp, &map, &mut p);
    if opp.amount.is_some() && opp.currency.is_none() {
        opp.currency = Some(state.default_currency);
    }
    p.check(opp.validate());
    p.into_result("opportunity")?;
    let deals = state.network.deals.clone();
    let (opp, changed) = blocking(move || {
        deals.write_records(|store| {
            let txn = store.write()?;
            let outcome = {
                let mut tables = WriteTables::open(&txn)?;
                opp.account_id =
                    resolve_account(&mut tables, account_id.as_deref(), account_domain.as_ref())?;
                if let Some(x) = &opp.external_id {
                    if let Some(existing) =
                        external_id_owner(x, |o| tables.opportunity_id_by_external(o))?
                    {
                        return Err(ApiError::conflict(format!(
                            "an opportunity with external_id {x} already exists (id {existing})"
                        )));
                    }
                }
                tables.put_opportunity(&opp)?
            };
            txn.commit().map_err(anyhow::Error::from)?;
            let written = RecordWrite::Opportunity {
                id: opp.id.clone(),
                outcome,
            };
            Ok((opp, written))
        })
    })
    .await?;
    let _ = state.network.handle.sync(changed).await;
    Ok((StatusCode::CREATED, Json(opp)))
}

fn resolve_account(
    tables: &mut WriteTables<'_>,
    account_id: Option<&str>,
    domain: Option<&Domain>,
) -> Result<String, ApiError> {
    if let Some(id) = account_id {
        return match tables.account(id)? {
            Some(_) => Ok(id.to_string()),
            None => Err(ApiError::unprocessable(
                format!("no account with id {id}"),
                vec![json!({"field": "account_id", "message": format!("no account with id {id}")})],
            )),
        };
    }
    let Some(domain) = domain else {
        return Err(ApiError::unprocessable("account_id is required", vec![]));
    };
    let ids = tables.account_ids_by_domain(domain.as_str(), 2)?;
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ApiError::unprocessable(
            format!("no account with domain {domain}"),
            vec![
                json!({"field": "account_domain", "message": format!("no account with domain {domain}")}),
            ],
        )),
        _ => Err(ApiError::unprocessable(
            format!("several accounts have domain {domain}: give account_id"),
            vec![
                json!({"field": "account_domain", "message": "several accounts have this domain"}),
            ],
        )),
    }
}

/// Applies the editable fields present in `map` (null clears an optional field).
fn apply_opportunity_fields(opp: &mut Opportunity, map: &Map<String, Value>, p: &mut Problems) {
    for (key, value) in map {
        match key.as_str() {
            "external_id" => opp.external_id = p.text("external_id", Some(value), NAME_CHARS_MAX),
            "name" => match p.text("name", Some(value), NAME_CHARS_MAX) {
                Some(n) => opp.name = n,
                None if !p.names("name") => p.field("name", "must not be empty"),
                None => {}
            },
            "stage" => match p.parsed("stage", Some(value), Stage::parse) {
                Some(s) => opp.stage = s,
                None if value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()) => {
                    p.field("stage", "must not be empty")
                }
                None => {}
            },
            "amount" => opp.amount = p.parsed("amount", Some(value), Amount::parse),
            "currency" => opp.currency = p.parsed("currency", Some(value), Currency::parse),
            "close_date" => opp.close_date = p.parsed("close_date", Some(value), Date::parse),
            "owner" => opp.owner = p.text("owner", Some(value), NAME_CHARS_MAX),
            "next_step" => opp.next_step = p.text("next_step", Some(value), TEXT_CHARS_MAX),
            "description" => opp.description = p.text("description", Some(value), TEXT_CHARS_MAX),
            "tags" => opp.tags = p.tags(Some(value)).unwrap_or_default(),
            _ => {}
        }
    }
}

pub async fn patch_opportunity(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Opportunity>, ApiError> {
    caller.require(Role::Manager)?;
    let map = object(body)?;
    let deals = state.network.deals.clone();
    let currency = state.default_currency;
    let (opp, changed) = blocking(move || {
        deals.write_records(|store| {
            let txn = store.write()?;
            let (opp, outcome) = {
                let mut tables = WriteTables::open(&txn)?;
                let Some(mut opp) = tables.opportunity(&id)? else {
                    return Err(ApiError::not_found(format!("no opportunity with id {id}")));
                };
                let mut p = Problems::default();
                check_keys(&map, OPPORTUNITY_KEYS, &mut p);
                refuse_other_id(&map, "opportunity", &opp.id, &mut p);
                apply_opportunity_fields(&mut opp, &map, &mut p);
                if opp.amount.is_some() && opp.currency.is_none() {
                    opp.currency = Some(currency);
                }
                let account_id = p.text("account_id", map.get("account_id"), NAME_CHARS_MAX);
                let account_domain =
                    p.parsed("account_domain", map.get("account_domain"), Domain::parse);
                p.check(opp.validate());
                p.into_result("opportunity")?;
                if account_id.is_some() || account_domain.is_some() {
                    opp.account_id = resolve_account(
                        &mut tables,
                        account_id.as_deref(),
                        account_domain.as_ref(),
                    )?;
                }
                if let Some(x) = &opp.external_id {
                    if let Some(existing) =
                        external_id_owner(x, |o| tables.opportunity_id_by_external(o))?
                    {
                        if existing != opp.id {
                            return Err(ApiError::conflict(format!(
                            "an opportunity with external_id {x} already exists (id {existing})"
                        )));
                        }
                    }
                }
                let outcome = tables.put_opportunity(&opp)?;
                (opp, outcome)
            };
            txn.commit().map_err(anyhow::Error::from)?;
            let written = RecordWrite::Opportunity {
                id: opp.id.clone(),
                outcome,
            };
            Ok((opp, written))
        })
    })
    .await?;
    let _ = state.network.handle.sync(changed).await;
    Ok(Json(opp))
}
