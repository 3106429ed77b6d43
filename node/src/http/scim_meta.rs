//! SCIM discovery (RFC 7644 section 4: ServiceProviderConfig, ResourceTypes, Schemas — the
//! schemas name exactly the attributes cosell keeps), filters (RFC 7644 3.4.2.2: `eq`, `ne`,
//! `co`, `sw`, `ew`, `pr`, joined by `and` / `or` left to right, no parentheses) and attribute
//! projection (`attributes`, `excludedAttributes`).

use super::{base, scim_json, AppState, ScimError};
use crate::domain::scim::{GROUP_SCHEMA, USER_SCHEMA};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn listed(items: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        json!({"schemas": [LIST_SCHEMA], "totalResults": items.len(), "startIndex": 1,
               "itemsPerPage": items.len(), "Resources": items}),
    )
}

/// `GET /scim/v2/ServiceProviderConfig`.
pub async fn service_provider_config(State(state): State<AppState>) -> Response {
    let b = base(&state);
    scim_json(
        StatusCode::OK,
        json!({
            "schemas": [SPC_SCHEMA],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": super::COUNT_MAX},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "OAuth Bearer Token",
                "description": "A SCIM token from `cosell scim token`", "primary": true,
            }],
            "meta": {"resourceType": "ServiceProviderConfig",
                     "location": format!("{}/scim/v2/ServiceProviderConfig", b.trim_end_matches('/'))},
        }),
    )
}

fn resource_type_of(b: &str, name: &str) -> Option<Value> {
    let (endpoint, schema, description) = match name {
        "User" => ("/Users", USER_SCHEMA, "People who sign in to cosell"),
        "Group" => ("/Groups", GROUP_SCHEMA, "Groups; their names give roles"),
        _ => return None,
    };
    Some(json!({
        "schemas": [RT_SCHEMA], "id": name, "name": name, "endpoint": endpoint,
        "description": description, "schema": schema, "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType",
                 "location": format!("{}/scim/v2/ResourceTypes/{name}", b.trim_end_matches('/'))},
    }))
}

/// `GET /scim/v2/ResourceTypes`.
pub async fn resource_types(State(state): State<AppState>) -> Response {
    let b = base(&state);
    listed(
        ["User", "Group"]
            .iter()
            .filter_map(|n| resource_type_of(&b, n))
            .collect(),
    )
}

/// `GET /scim/v2/ResourceTypes/{id}`.
pub async fn resource_type(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    resource_type_of(&base(&state), &id)
        .map(|v| scim_json(StatusCode::OK, v))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {id}")))
}

/// One attribute definition (RFC 7643 7).
fn attr(name: &str, kind: &str, description: &str) -> Value {
    json!({"name": name, "type": kind, "multiValued": false, "description": description,
           "required": false, "caseExact": false, "mutability": "readWrite",
           "returned": "default", "uniqueness": "none"})
}

fn with(mut v: Value, changes: Value) -> Value {
    if let (Some(o), Value::Object(c)) = (v.as_object_mut(), changes) {
        o.extend(c);
    }
    v
}

fn schema_of(b: &str, id: &str) -> Option<Value> {
    let (name, description, attributes) = match id {
        USER_SCHEMA => (
            "User",
            "User Account",
            vec![
                with(
                    attr(
                        "userName",
                        "string",
                        "The cosell username (letters, digits, . - _ @)",
                    ),
                    json!({"required": true, "uniqueness": "server"}),
                ),
                attr("displayName", "string", "The name shown for the user"),
                with(
                    attr("name", "complex", "The user's name"),
                    json!({"subAttributes": [
                        attr("formatted", "string", "The full name"),
                        attr("familyName", "string", "Family name"),
                        attr("givenName", "string", "Given name"),
                    ]}),
                ),
                with(
                    attr("emails", "complex", "E-mail addresses"),
                    json!({"multiValued": true, "subAttributes": [
                        attr("value", "string", "The address"),
                        with(attr("type", "string", "work, home or other"),
                             json!({"canonicalValues": ["work", "home", "other"]})),
                        attr("primary", "boolean", "The primary address"),
                    ]}),
                ),
                attr(
                    "active",
                    "boolean",
                    "False: the user cannot sign in and their sessions end",
                ),
                with(
                    attr(
                        "groups",
                        "complex",
                        "The groups the user is in (set on the groups)",
                    ),
                    json!({"multiValued": true, "mutability": "readOnly", "subAttributes": [
                        with(attr("value", "string", "The group's id"), json!({"mutability": "readOnly"})),
                        with(attr("$ref", "reference", "The group's URI"),
                             json!({"mutability": "readOnly", "referenceTypes": ["Group"]})),
                        with(attr("display", "string", "The group's name"), json!({"mutability": "readOnly"})),
                        with(attr("type", "string", "direct"),
                             json!({"mutability": "readOnly", "canonicalValues": ["direct"]})),
                    ]}),
                ),
            ],
        ),
        GROUP_SCHEMA => (
            "Group",
            "Group",
            vec![
                with(
                    attr(
                        "displayName",
                        "string",
                        "The group's name; [roles] maps it to a role",
                    ),
                    json!({"required": true, "uniqueness": "server"}),
                ),
                with(
                    attr("members", "complex", "The group's members"),
                    json!({"multiValued": true, "subAttributes": [
                        with(attr("value", "string", "A user's or group's id"),
                             json!({"mutability": "immutable"})),
                        with(attr("$ref", "reference", "The member's URI"),
                             json!({"mutability": "immutable", "referenceTypes": ["User", "Group"]})),
                        with(attr("type", "string", "User or Group"),
                             json!({"mutability": "immutable", "canonicalValues": ["User", "Group"]})),
                        attr("display", "string", "The member's name"),
                    ]}),
                ),
            ],
        ),
        _ => return None,
    };
    Some(json!({
        "schemas": [SCHEMA_SCHEMA], "id": id, "name": name, "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema",
                 "location": format!("{}/scim/v2/Schemas/{id}", b.trim_end_matches('/'))},
    }))
}

/// `GET /scim/v2/Schemas`.
pub async fn schemas(State(state): State<AppState>) -> Response {
    let b = base(&state);
    listed(
        [USER_SCHEMA, GROUP_SCHEMA]
            .iter()
            .filter_map(|id| schema_of(&b, id))
            .collect(),
    )
}

/// `GET /scim/v2/Schemas/{id}`.
pub async fn schema(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    schema_of(&base(&state), &id)
        .map(|v| scim_json(StatusCode::OK, v))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id}")))
}

/// One comparison of a filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    path: Vec<String>,
    op: String,
    value: Value,
}

/// A filter: clauses joined left to right (`true` = `and`).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Vec<(bool, Clause)>);

fn tokens(s: &str) -> Result<Vec<String>, ScimError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut t = String::from("\"");
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => t.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => t.push(c),
                }
            }
            if !closed {
                return Err(ScimError::bad("invalidFilter", "an unclosed string"));
            }
            out.push(t);
        } else {
            let mut t = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                t.push(c);
                chars.next();
            }
            out.push(t);
        }
    }
    Ok(out)
}

/// Parses a filter (see the module doc for what is understood).
pub fn parse_filter(s: &str) -> Result<Filter, ScimError> {
    let bad = |why: &str| ScimError::bad("invalidFilter", format!("filter {s:?}: {why}"));
    let t = tokens(s)?;
    let mut clauses = Vec::new();
    let mut i = 0;
    let mut and = true;
    while i < t.len() {
        let path = t[i].rsplit(':').next().unwrap_or(&t[i]);
        if path.contains('(') || path.contains('[') {
            return Err(bad("parentheses and brackets are not supported"));
        }
        let path: Vec<String> = path.split('.').map(str::to_string).collect();
        let op = t.get(i + 1).ok_or_else(|| bad("an operator is missing"))?;
        let op = op.to_ascii_lowercase();
        let (value, used) = match op.as_str() {
            "pr" => (Value::Null, 2),
            "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le" => {
                let raw = t.get(i + 2).ok_or_else(|| bad("a value is missing"))?;
                let v = match raw.strip_prefix('"') {
                    Some(s) => Value::String(s.to_string()),
                    None => match raw.as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        "null" => Value::Null,
                        n => n
                            .parse::<f64>()
                            .map(|f| json!(f))
                            .map_err(|_| bad("a value must be quoted"))?,
                    },
                };
                (v, 3)
            }
            other => return Err(bad(&format!("unknown operator {other:?}"))),
        };
        clauses.push((and, Clause { path, op, value }));
        i += used;
        if i < t.len() {
            and = match t[i].to_ascii_lowercase().as_str() {
                "and" => true,
                "or" => false,
                other => return Err(bad(&format!("expected and/or, not {other:?}"))),
            };
            i += 1;
            if i >= t.len() {
                return Err(bad("nothing after and/or"));
            }
        }
    }
    if clauses.is_empty() {
        return Err(bad("empty"));
    }
    Ok(Filter(clauses))
}

fn values_at<'a>(r: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return vec![r];
    };
    let next = r
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(first)))
        .map(|(_, v)| v);
    match next {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().flat_map(|i| values_at(i, rest)).collect(),
        Some(v) => values_at(v, rest),
    }
}

fn compare(c: &Clause, v: &Value) -> bool {
    if c.op == "pr" {
        return !v.is_null();
    }
    let case_exact = c.path.first().is_some_and(|p| p == "id");
    match (v, &c.value) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match c.op.as_str() {
                "eq" => a == b,
                "ne" => a != b,
                "co" => a.contains(&b),
                "sw" => a.starts_with(&b),
                "ew" => a.ends_with(&b),
                "gt" => a > b,
                "ge" => a >= b,
                "lt" => a < b,
                "le" => a <= b,
                _ => false,
            }
        }
        (a, b) => match c.op.as_str() {
            "eq" => a == b,
            "ne" => a != b,
            _ => false,
        },
    }
}

/// Whether resource `r` matches filter `f`.
pub fn filter_matches(f: &Filter, r: &Value) -> bool {
    let mut result = true;
    for (i, (and, c)) in f.0.iter().enumerate() {
        let vals = values_at(r, &c.path);
        let hit = if c.op == "ne" {
            vals.iter().all(|v| compare(c, v))
        } else {
            vals.iter().any(|v| compare(c, v))
        };
        result = if i == 0 {
            hit
        } else if *and {
            result && hit
        } else {
            result || hit
        };
    }
    result
}

/// A resource with only `attrs` (plus `id`, `schemas`, `meta`), or without `excluded`.
pub fn project(r: &Value, attrs: &[String], excluded: &[String]) -> Value {
    let Some(obj) = r.as_object() else {
        return r.clone();
    };
    let always = |k: &str| matches!(k, "id" | "schemas" | "meta");
    let strip = |a: &str| a.rsplit(':').next().unwrap_or(a).to_string();
    let mut out = Map::new();
    for (k, v) in obj {
        let keep = if !attrs.is_empty() {
            always(k)
                || attrs.iter().any(|a| {
                    let a = strip(a);
                    a.eq_ignore_ascii_case(k)
                        || a.split('.')
                            .next()
                            .is_some_and(|p| p.eq_ignore_ascii_case(k))
                })
        } else {
            always(k) || !excluded.iter().any(|a| strip(a).eq_ignore_ascii_case(k))
        };
        if keep {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_what_they_say() {
        let u = json!({"id": "A1", "userName": "Ana@x.io", "active": true,
                       "emails": [{"value": "ana@x.io", "type": "work"}]});
        let yes = |f: &str| filter_matches(&parse_filter(f).expect(f), &u);
        assert!(yes("userName eq \"ana@x.io\""));
        assert!(!yes("userName eq \"bob@x.io\""));
        assert!(yes("emails.value co \"x.io\" and active eq true"));
        assert!(yes("userName eq \"nobody\" or userName sw \"ana\""));
        assert!(yes(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName pr"
        ));
        assert!(!yes("id eq \"a1\""), "ids compare case-exactly");
        assert!(parse_filter("userName eq").is_err());
        assert!(parse_filter("userName zz \"a\"").is_err());
        assert!(parse_filter("(userName eq \"a\")").is_err());
    }

    #[test]
    fn projection_keeps_the_named_attributes_and_the_always_returned_ones() {
        let u = json!({"id": "1", "schemas": [], "meta": {}, "userName": "a", "active": true});
        let p = project(&u, &["userName".into()], &[]);
        assert_eq!(
            p,
            json!({"id": "1", "schemas": [], "meta": {}, "userName": "a"})
        );
        let p = project(&u, &[], &["active".into(), "id".into()]);
        assert_eq!(
            p,
            json!({"id": "1", "schemas": [], "meta": {}, "userName": "a"})
        );
    }
}
