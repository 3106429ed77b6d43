//! HubSpot's published OpenAPI documents for the endpoints the connector calls (trimmed into
//! `tests/fixtures/hubspot-openapi/crm-subset.json`) and a validator for them: the fake HubSpot
//! refuses a request body that does not match (400 `VALIDATION_ERROR`, as HubSpot does), and
//! the tests check its answers against them, so neither the connector nor the fake can drift
//! from the real API.

use serde_json::Value;
use std::sync::OnceLock;

/// The trimmed spec: `operations` (operation → status → schema of the answer), `requests`
/// (operation → schema of the body) and `schemas`.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        serde_json::from_str(include_str!("../fixtures/hubspot-openapi/crm-subset.json"))
            .expect("the HubSpot OpenAPI subset is JSON")
    })
}

/// Checks `value` against the spec's schema `name`; the error names the JSON path.
pub fn check(name: &str, value: &Value) -> Result<(), String> {
    validate(
        spec(),
        &serde_json::json!({"$ref": format!("#/schemas/{name}")}),
        value,
        "$",
    )
}

/// Checks the request body of `operation` (when the spec gives its body a schema).
pub fn check_request(operation: &str, body: &Value) -> Result<(), String> {
    match spec()["requests"][operation].as_str() {
        Some(name) => check(name, body),
        None => Ok(()),
    }
}

/// Checks `operation`'s answer with `status` against the schema the spec gives it.
pub fn check_answer(operation: &str, status: u16, body: &Value) -> Result<(), String> {
    let name = spec()["operations"][operation][status.to_string()]
        .as_str()
        .ok_or_else(|| format!("HubSpot documents no {status} answer of {operation}"))?;
    check(name, body)
}

/// Checks `value` against an OpenAPI 3.0 schema (the subset HubSpot's documents use: `$ref`,
/// `type`, `required`, `properties`, `additionalProperties`, `items`, `enum`, `nullable`,
/// `format: date-time`); the error names the JSON path. Unknown properties are allowed, as
/// OpenAPI allows them unless `additionalProperties` says otherwise.
pub fn validate(spec: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/schemas/");
        let target = &spec["schemas"][name];
        if target.is_null() {
            return Err(format!("{path}: no schema {name}"));
        }
        return validate(spec, target, value, path);
    }
    if value.is_null() {
        return if schema["nullable"] == true || schema.get("type").is_none() {
            Ok(())
        } else {
            Err(format!("{path}: null where {} is required", schema["type"]))
        };
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            return Err(format!(
                "{path}: {value} is not one of {schema}",
                schema = schema["enum"]
            ));
        }
    }
    match schema["type"].as_str() {
        Some("object") => {
            let obj = value
                .as_object()
                .ok_or_else(|| format!("{path}: expected an object, got {value}"))?;
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap_or_default();
                if !obj.contains_key(r) {
                    return Err(format!("{path}: missing required {r}"));
                }
            }
            for (k, v) in obj {
                let p = format!("{path}.{k}");
                match schema["properties"].get(k) {
                    Some(s) => validate(spec, s, v, &p)?,
                    None => match &schema["additionalProperties"] {
                        Value::Object(_) => validate(spec, &schema["additionalProperties"], v, &p)?,
                        Value::Bool(false) => return Err(format!("{p}: not allowed")),
                        _ => {}
                    },
                }
            }
            Ok(())
        }
        Some("array") => {
            let items = value
                .as_array()
                .ok_or_else(|| format!("{path}: expected an array, got {value}"))?;
            for (i, v) in items.iter().enumerate() {
                validate(spec, &schema["items"], v, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Some("string") => {
            let s = value
                .as_str()
                .ok_or_else(|| format!("{path}: expected a string, got {value}"))?;
            if schema["format"] == "date-time" && cosell::domain::crm::iso_ms(s).is_none() {
                return Err(format!("{path}: '{s}' is not a date-time"));
            }
            Ok(())
        }
        Some("integer") => value
            .as_i64()
            .map(|_| ())
            .ok_or_else(|| format!("{path}: expected an integer, got {value}")),
        Some("boolean") => value
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| format!("{path}: expected a boolean, got {value}")),
        _ => Ok(()),
    }
}
