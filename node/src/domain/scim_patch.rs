//! RFC 7644 3.5.2 PATCH over a resource's JSON: `add`, `replace`, `remove`, with paths `attr`,
//! `attr.sub`, `attr[sub eq "v"]` and `attr[sub eq "v"].sub` (optionally prefixed with the
//! schema URN), or no path (the value is an object of attributes).

use super::ScimError;
use serde_json::{Map, Value};

const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A parsed PATCH path.
#[derive(Debug, PartialEq)]
struct Path {
    attr: String,
    filter: Option<(String, String)>,
    sub: Option<String>,
}

fn parse_path(raw: &str) -> Result<Path, ScimError> {
    let bad = || ScimError::bad("invalidPath", format!("cannot use the path {raw:?}"));
    let mut s = raw.trim();
    // A schema URN prefix: `urn:…:User:userName`.
    if s.starts_with("urn:") {
        let before_filter = s.split('[').next().unwrap_or(s);
        let cut = before_filter.rfind(':').ok_or_else(bad)?;
        s = &s[cut + 1..];
    }
    let (head, filter, rest) = match s.find('[') {
        Some(open) => {
            let close = s.find(']').ok_or_else(bad)?;
            if close < open {
                return Err(bad());
            }
            let inner = &s[open + 1..close];
            let mut parts = inner.splitn(3, ' ');
            let (a, op, v) = (parts.next(), parts.next(), parts.next());
            let (Some(a), Some(op), Some(v)) = (a, op, v) else {
                return Err(ScimError::bad(
                    "invalidFilter",
                    format!("cannot use the filter {inner:?}"),
                ));
            };
            if !op.eq_ignore_ascii_case("eq") {
                return Err(ScimError::bad(
                    "invalidFilter",
                    format!("only `eq` filters work in a path, not {op:?}"),
                ));
            }
            let v = v.trim().trim_matches('"').to_string();
            (
                &s[..open],
                Some((a.to_string(), v)),
                s[close + 1..].strip_prefix('.'),
            )
        }
        None => match s.split_once('.') {
            Some((h, sub)) => (h, None, Some(sub)),
            None => (s, None, None),
        },
    };
    if head.is_empty() || !head.chars().all(|c| c.is_ascii_alphanumeric() || c == '$') {
        return Err(bad());
    }
    Ok(Path {
        attr: head.to_string(),
        filter,
        sub: rest.map(str::to_string),
    })
}

/// The key of `obj` that names `attr` (case-insensitively), or `attr` itself.
fn key(obj: &Map<String, Value>, attr: &str) -> String {
    obj.keys()
        .find(|k| k.eq_ignore_ascii_case(attr))
        .cloned()
        .unwrap_or_else(|| attr.to_string())
}

fn matches(item: &Value, (attr, value): &(String, String)) -> bool {
    item.as_object()
        .is_some_and(|o| match o.get(&key(o, attr)) {
            Some(Value::String(s)) => s == value,
            Some(Value::Bool(b)) => b.to_string() == value.to_lowercase(),
            Some(other) => serde_json::from_str::<Value>(value).is_ok_and(|v| v == *other),
            None => false,
        })
}

/// Applies a PatchOp body to `resource`.
pub fn apply_patch(resource: &mut Value, body: &Value) -> Result<(), ScimError> {
    let schemas_ok = body["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|v| v == PATCH_SCHEMA));
    if !schemas_ok {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("a PATCH body names the schema {PATCH_SCHEMA}"),
        ));
    }
    let Some(ops) = body["Operations"].as_array() else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "a PATCH body has a list of Operations",
        ));
    };
    for op in ops {
        let name = op["op"].as_str().unwrap_or_default().to_ascii_lowercase();
        let path = op["path"].as_str();
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        match (name.as_str(), path) {
            ("add" | "replace", None) => {
                let Value::Object(attrs) = value else {
                    return Err(ScimError::bad(
                        "invalidValue",
                        "an operation without a path needs an object value",
                    ));
                };
                for (k, v) in attrs {
                    // `{"urn:…:User:active": false}` style keys name the attribute last.
                    let attr = k.rsplit(':').next().unwrap_or(&k).to_string();
                    let p = parse_path(&attr)?;
                    apply_one(resource, &name, &p, v)?;
                }
            }
            ("add" | "replace" | "remove", Some(raw)) => {
                let p = parse_path(raw)?;
                apply_one(resource, &name, &p, value)?;
            }
            ("remove", None) => {
                return Err(ScimError::bad("noTarget", "remove needs a path"));
            }
            (other, _) => {
                return Err(ScimError::bad(
                    "invalidSyntax",
                    format!("unknown operation {other:?} (add, replace or remove)"),
                ))
            }
        }
    }
    Ok(())
}

fn apply_one(resource: &mut Value, op: &str, p: &Path, value: Value) -> Result<(), ScimError> {
    let obj = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::bad("invalidSyntax", "not an object"))?;
    let k = key(obj, &p.attr);
    if matches!(k.as_str(), "id" | "meta" | "schemas" | "groups") {
        return Err(ScimError {
            status: 400,
            scim_type: Some("mutability"),
            detail: format!("{k} cannot be changed"),
        });
    }
    match (&p.filter, &p.sub) {
        (None, None) => match op {
            "remove" => {
                obj.remove(&k);
            }
            "add" => match (obj.get_mut(&k), value) {
                (Some(Value::Array(existing)), Value::Array(new)) => {
                    for v in new {
                        if !existing.contains(&v) {
                            existing.push(v);
                        }
                    }
                }
                (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
                (_, v) => {
                    obj.insert(k, v);
                }
            },
            _ => {
                obj.insert(k, value);
            }
        },
        (None, Some(sub)) => {
            let target = obj
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(inner) = target else {
                return Err(ScimError::bad(
                    "invalidPath",
                    format!("{k} has no sub-attributes"),
                ));
            };
            let sk = key(inner, sub);
            if op == "remove" {
                inner.remove(&sk);
            } else {
                inner.insert(sk, value);
            }
        }
        (Some(filter), sub) => {
            let Some(Value::Array(items)) = obj.get_mut(&k) else {
                return match op {
                    "remove" => Ok(()),
                    _ => Err(ScimError::bad(
                        "noTarget",
                        format!("{k} has no value that matches the filter"),
                    )),
                };
            };
            let mut hit = false;
            if op == "remove" && sub.is_none() {
                items.retain(|i| !matches(i, filter));
                return Ok(());
            }
            for item in items.iter_mut().filter(|i| matches(i, filter)) {
                hit = true;
                let Value::Object(inner) = item else { continue };
                match sub {
                    Some(s) => {
                        let sk = key(inner, s);
                        if op == "remove" {
                            inner.remove(&sk);
                        } else {
                            inner.insert(sk, value.clone());
                        }
                    }
                    None => {
                        if let Value::Object(new) = &value {
                            if op == "replace" {
                                inner.clear();
                            }
                            inner.extend(new.clone());
                        }
                    }
                }
            }
            if !hit && op != "remove" {
                return Err(ScimError::bad(
                    "noTarget",
                    format!("{k} has no value that matches the filter"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(resource: &mut Value, ops: Value) -> Result<(), ScimError> {
        apply_patch(
            resource,
            &json!({"schemas": [PATCH_SCHEMA], "Operations": ops}),
        )
    }

    #[test]
    fn paths_parse_with_filters_sub_attributes_and_schema_prefixes() {
        let p = parse_path("emails[type eq \"work\"].value").expect("path");
        assert_eq!(p.attr, "emails");
        assert_eq!(p.filter, Some(("type".into(), "work".into())));
        assert_eq!(p.sub.as_deref(), Some("value"));
        let p = parse_path("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName").expect("p");
        assert_eq!(
            (p.attr.as_str(), p.sub.as_deref()),
            ("name", Some("givenName"))
        );
        assert!(parse_path("emails[type ne \"x\"]").is_err());
        assert!(parse_path("bad path").is_err());
    }

    #[test]
    fn add_replace_and_remove_change_what_they_name() {
        let mut u = json!({"userName": "ana", "active": true,
            "emails": [{"value": "a@x.io", "type": "work"}],
            "name": {"givenName": "Ana"}});
        patch(
            &mut u,
            json!([{"op": "Replace", "path": "active", "value": false}]),
        )
        .expect("r");
        assert_eq!(u["active"], json!(false));
        patch(
            &mut u,
            json!([{"op": "replace", "value": {"name.familyName": "Li", "displayName": "Ana Li"}}]),
        )
        .expect("no path");
        assert_eq!(u["name"], json!({"givenName": "Ana", "familyName": "Li"}));
        assert_eq!(u["displayName"], json!("Ana Li"));
        patch(&mut u, json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.io", "type": "home"}]}])).expect("add");
        assert_eq!(u["emails"].as_array().map(Vec::len), Some(2));
        patch(
            &mut u,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "c@x.io"}]),
        )
        .expect("filter");
        assert_eq!(u["emails"][0]["value"], json!("c@x.io"));
        patch(
            &mut u,
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
        )
        .expect("rm");
        assert_eq!(u["emails"].as_array().map(Vec::len), Some(1));
        patch(&mut u, json!([{"op": "remove", "path": "name.givenName"}])).expect("rm sub");
        assert_eq!(u["name"], json!({"familyName": "Li"}));
        let e = patch(&mut u, json!([{"op": "remove"}])).expect_err("no target");
        assert_eq!(e.scim_type, Some("noTarget"));
        let e = patch(
            &mut u,
            json!([{"op": "replace", "path": "id", "value": "x"}]),
        )
        .expect_err("id");
        assert_eq!(e.scim_type, Some("mutability"));
        let e = apply_patch(&mut u, &json!({"Operations": []})).expect_err("schema");
        assert_eq!(e.scim_type, Some("invalidSyntax"));
    }
}
