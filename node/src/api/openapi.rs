//! `GET /api/v1/openapi.json`, generated from [`ROUTES`], the table that documents every route
//! the router serves. A test (`every_routed_path_is_documented`) checks the two agree, so the
//! document cannot drift from the code.

use axum::Json;
use serde_json::{json, Map, Value};

/// One documented route.
pub struct RouteDoc {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path under `/api/v1`, with `{param}` segments.
    pub path: &'static str,
    /// One line for people.
    pub summary: &'static str,
    /// Least role that may call it; `None` for public routes.
    pub role: Option<&'static str>,
    /// Request body: (content type, schema name).
    pub request: Option<(&'static str, &'static str)>,
    /// Success status and schema name of the answer.
    pub response: (u16, &'static str),
}

macro_rules! route {
    ($m:literal $p:literal, $s:literal, $role:expr, $req:expr, $resp:expr) => {
        RouteDoc {
            method: $m,
            path: $p,
            summary: $s,
            role: $role,
            request: $req,
            response: $resp,
        }
    };
}

/// Every route under `/api/v1`.
pub const ROUTES: &[RouteDoc] = &[
    route!("get" "/node", "This node: id, name, version, addresses", Some("viewer"), None, (200, "Node")),
    route!("get" "/accounts", "List accounts (q, limit, cursor)", Some("viewer"), None, (200, "AccountPage")),
    route!("post" "/accounts", "Create an account", Some("manager"), Some(("application/json", "AccountInput")), (201, "Account")),
    route!("get" "/accounts/{id}", "One account", Some("viewer"), None, (200, "Account")),
    route!("get" "/opportunities", "List opportunities (stage, account_id, q, limit, cursor)", Some("viewer"), None, (200, "OpportunityPage")),
    route!("post" "/opportunities", "Create an opportunity", Some("manager"), Some(("application/json", "OpportunityInput")), (201, "Opportunity")),
    route!("get" "/opportunities/{id}", "One opportunity", Some("viewer"), None, (200, "Opportunity")),
    route!("patch" "/opportunities/{id}", "Change fields of an opportunity (null clears)", Some("manager"), Some(("application/json", "OpportunityInput")), (200, "Opportunity")),
    route!("post" "/import/accounts", "Import accounts from CSV, all or nothing", Some("manager"), Some(("text/csv", "Csv")), (200, "ImportSummary")),
    route!("post" "/import/opportunities", "Import opportunities from CSV, all or nothing", Some("manager"), Some(("text/csv", "Csv")), (200, "ImportSummary")),
    route!("post" "/policy/preview", "What a partner under this policy (TOML or JSON body) would receive (opportunity_id, limit)", Some("viewer"), Some(("application/toml", "PolicyText")), (200, "PolicyPreview")),
    route!("get" "/openapi.json", "This document", None, None, (200, "OpenApi")),
];

fn string() -> Value {
    json!({"type": "string"})
}
fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

fn schemas() -> Value {
    let stage = json!({"type": "string", "enum": ["prospect", "qualified", "technical_validation", "business_validation", "committed", "launched", "closed_lost"]});
    let status = json!({"type": "string", "enum": ["customer", "prospect", "partner", "other"]});
    let tags = json!({"type": "array", "items": {"type": "string"}});
    let account = json!({"type": "object", "required": ["id", "name", "status", "tags"], "properties": {
        "id": string(), "external_id": nullable_string(), "name": string(),
        "domain": {"type": ["string", "null"], "description": "normalized: lowercase, no scheme, no www., no path"},
        "industry": nullable_string(), "country": nullable_string(), "status": status, "owner": nullable_string(), "tags": tags}});
    let opportunity = json!({"type": "object", "required": ["id", "account_id", "name", "stage", "tags"], "properties": {
        "id": string(), "external_id": nullable_string(), "account_id": string(), "name": string(), "stage": stage,
        "amount": {"type": ["string", "null"], "description": "exact decimal as a string, e.g. \"1200.5\""},
        "currency": {"type": ["string", "null"], "description": "ISO 4217"},
        "close_date": {"type": ["string", "null"], "format": "date"},
        "owner": nullable_string(), "next_step": nullable_string(), "description": nullable_string(), "tags": tags}});
    let page = |item: &str| {
        json!({"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
        "next_cursor": nullable_string()}})
    };
    json!({
        "Error": {"type": "object", "required": ["error", "details"], "properties": {"error": string(), "details": {"type": "array", "items": {}}}},
        "Node": {"type": "object", "properties": {"id": string(), "name": string(), "version": string(), "http": string(), "p2p": {"type": "array", "items": string()}}},
        "Account": account,
        "AccountInput": {"type": "object", "required": ["name"], "description": "Account fields; id is assigned"},
        "AccountPage": page("Account"),
        "Opportunity": opportunity,
        "OpportunityInput": {"type": "object", "description": "Opportunity fields; account by account_id or account_domain"},
        "OpportunityPage": page("Opportunity"),
        "Csv": {"type": "string", "description": "CSV with a header row; Salesforce and HubSpot export headers are accepted"},
        "ImportSummary": {"type": "object", "properties": {"rows": {"type": "integer"}, "inserted": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"}, "ignored_columns": {"type": "array", "items": string()}}},
        "OpenApi": {"type": "object"},
        "PolicyText": {"type": "string", "description": "A policy file (TOML); or the same structure as JSON with Content-Type application/json"},
        "PolicyPreview": {"type": "object", "required": ["shared", "withheld", "items"], "properties": {"shared": {"type": "integer"}, "withheld": {"type": "integer"}, "items": {"type": "array", "items": {"type": "object", "additionalProperties": true}}, "opportunity_ids": {"type": "array", "items": string()}}},
    })
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in ROUTES {
        let mut op = json!({
            "summary": r.summary,
            "responses": {
                r.response.0.to_string(): {"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", r.response.1)}}}},
                "default": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if let Some(role) = r.role {
            op["security"] = json!([{"bearer": []}]);
            op["x-role"] = json!(role);
        } else {
            op["security"] = json!([]);
        }
        if let Some((content_type, schema)) = r.request {
            op["requestBody"] = json!({"required": true, "content": {content_type: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "cosell node API", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}
