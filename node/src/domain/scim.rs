//! SCIM 2.0 provisioning (RFC 7643 resources, RFC 7644 operations): the identity provider
//! creates, changes, deactivates and deletes users and groups; each write is mirrored into the
//! node's `users` table (name, role from the groups' names through `[roles]`, active). Resources
//! are kept as the JSON the provider sent (only the attributes the published schemas name), so
//! what the provider reads back is what it wrote.
//!
//! SCIM tokens are a kind of their own (`scim_tokens`): they work on `/scim/v2` only, and API
//! tokens do not work there.

use crate::domain::auth::{token_hash, Role};
use crate::domain::oidc::RoleMap;
use crate::domain::users::{self, Source};
use crate::store::tables::{SCIM_GROUPS, SCIM_TOKENS, SCIM_USERS};
use crate::store::Store;
use anyhow::Result;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

#[path = "scim_patch.rs"]
mod patch;
pub use patch::apply_patch;

/// The User schema's URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The Group schema's URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A SCIM failure, answered in the RFC 7644 3.12 error shape.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    /// HTTP status.
    pub status: u16,
    /// RFC 7644 `scimType`, for 400 and 409.
    pub scim_type: Option<&'static str>,
    /// What is wrong, for people.
    pub detail: String,
}

impl ScimError {
    /// 400 with a `scimType`.
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }
    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimError {
            status: 404,
            scim_type: None,
            detail: detail.into(),
        }
    }
    /// 409 `uniqueness`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        ScimError {
            status: 409,
            scim_type: Some("uniqueness"),
            detail: detail.into(),
        }
    }
    /// 500 (the details go to the log, not to the client).
    pub fn internal(e: anyhow::Error) -> Self {
        tracing::error!(error = %format!("{e:#}"), "SCIM request failed");
        ScimError {
            status: 500,
            scim_type: None,
            detail: "internal error".to_string(),
        }
    }
}

impl From<anyhow::Error> for ScimError {
    fn from(e: anyhow::Error) -> Self {
        ScimError::internal(e)
    }
}
impl From<redb::Error> for ScimError {
    fn from(e: redb::Error) -> Self {
        ScimError::internal(e.into())
    }
}
macro_rules! from_redb {
    ($($t:ty),*) => {$(impl From<$t> for ScimError {
        fn from(e: $t) -> Self { ScimError::internal(e.into()) }
    })*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    serde_json::Error
);

/// Users or groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl Kind {
    /// The resource type's name (`meta.resourceType`) and endpoint (`/Users`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
    fn schema(self) -> &'static str {
        match self {
            Kind::User => USER_SCHEMA,
            Kind::Group => GROUP_SCHEMA,
        }
    }
    fn table(self) -> redb::TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Kind::User => SCIM_USERS,
            Kind::Group => SCIM_GROUPS,
        }
    }
    /// The attributes a client may write (everything else it sends is dropped).
    fn writable(self) -> &'static [&'static str] {
        match self {
            Kind::User => &[
                "userName",
                "displayName",
                "name",
                "emails",
                "active",
                "externalId",
            ],
            Kind::Group => &["displayName", "members", "externalId"],
        }
    }
    /// The attribute that must be unique (case-insensitively) and present.
    fn unique(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Group => "displayName",
        }
    }
}

/// What the database keeps about a SCIM token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScimToken {
    /// A label for people ("Entra ID provisioning").
    pub name: String,
    /// When it was made.
    pub created_at_ms: u64,
}

/// Makes a SCIM bearer token (`cosell_scim_` and 64 hex digits), stores its hash and returns
/// it (shown once).
pub fn create_token(store: &Store, name: &str, now_ms: u64) -> Result<Zeroizing<String>> {
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, raw.as_mut());
    let token = Zeroizing::new(format!("cosell_scim_{}", hex::encode(raw.as_slice())));
    let record = ScimToken {
        name: name.to_string(),
        created_at_ms: now_ms,
    };
    let txn = store.write()?;
    txn.open_table(SCIM_TOKENS)?.insert(
        token_hash(&token).as_str(),
        serde_json::to_vec(&record)?.as_slice(),
    )?;
    txn.commit()?;
    Ok(token)
}

/// The record of a presented SCIM token, if it is one.
pub fn lookup_token(store: &Store, token: &str) -> Result<Option<ScimToken>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, SCIM_TOKENS)? else {
        return Ok(None);
    };
    let found = table.get(token_hash(token).as_str())?;
    Ok(match found {
        Some(v) => Some(serde_json::from_slice(v.value())?),
        None => None,
    })
}

/// Every SCIM token as `(id, record)`, oldest first (the id is the token's SHA-256).
pub fn list_tokens(store: &Store) -> Result<Vec<(String, ScimToken)>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, SCIM_TOKENS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.range::<&str>(..)? {
        let (k, v) = entry?;
        out.push((k.value().to_string(), serde_json::from_slice(v.value())?));
    }
    out.sort_by(|a: &(String, ScimToken), b| {
        (a.1.created_at_ms, &a.0).cmp(&(b.1.created_at_ms, &b.0))
    });
    Ok(out)
}

/// Revokes the SCIM token with `id`; false when there is none.
pub fn revoke_token(store: &Store, id: &str) -> Result<bool> {
    let txn = store.write()?;
    let existed = txn.open_table(SCIM_TOKENS)?.remove(id.trim())?.is_some();
    txn.commit()?;
    Ok(existed)
}

/// Where a resource lives (`meta.location`): `base` is the node's public address.
fn location(base: &str, kind: Kind, id: &str) -> String {
    format!(
        "{}/scim/v2/{}s/{id}",
        base.trim_end_matches('/'),
        kind.name()
    )
}

fn rfc3339(ms: u64) -> String {
    crate::domain::audit::rfc3339(ms)
}

fn read_all(store: &Store, kind: Kind) -> Result<Vec<Value>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, kind.table())? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.range::<&str>(..)? {
        out.push(serde_json::from_slice(entry?.1.value())?);
    }
    Ok(out)
}

/// Every resource of `kind` (with the `groups` of users filled in), oldest id first.
pub fn list(store: &Store, kind: Kind) -> Result<Vec<Value>> {
    let all = read_all(store, kind)?;
    if kind == Kind::Group {
        return Ok(all);
    }
    let groups = read_all(store, Kind::Group)?;
    Ok(all.into_iter().map(|u| with_groups(u, &groups)).collect())
}

/// One resource, if it exists.
pub fn get(store: &Store, kind: Kind, id: &str) -> Result<Option<Value>> {
    let found: Option<Value> = {
        let txn = store.read()?;
        let Some(table) = crate::store::open_table_if_exists(&txn, kind.table())? else {
            return Ok(None);
        };
        let v = table.get(id)?;
        match v {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        }
    };
    Ok(match (found, kind) {
        (Some(u), Kind::User) => Some(with_groups(u, &read_all(store, Kind::Group)?)),
        (found, _) => found,
    })
}

/// A user resource with its read-only `groups` (the groups that list it as a member).
fn with_groups(mut user: Value, groups: &[Value]) -> Value {
    let id = user["id"].as_str().unwrap_or_default().to_string();
    let mine: Vec<Value> = groups
        .iter()
        .filter(|g| member_ids(g).any(|m| m == id))
        .map(|g| {
            json!({"value": g["id"], "display": g["displayName"], "$ref": g["meta"]["location"],
                   "type": "direct"})
        })
        .collect();
    if !mine.is_empty() {
        user["groups"] = Value::Array(mine);
    }
    user
}

fn member_ids(group: &Value) -> impl Iterator<Item = &str> {
    group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str())
}

/// Keeps only the writable attributes of `body`, checks them, and returns the resource.
fn clean(kind: Kind, body: &Value) -> Result<Map<String, Value>, ScimError> {
    let Some(object) = body.as_object() else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    };
    let mut out = Map::new();
    for (k, v) in object {
        // Attribute names are case-insensitive (RFC 7643 2.1).
        if let Some(name) = kind.writable().iter().find(|w| w.eq_ignore_ascii_case(k)) {
            if !v.is_null() {
                out.insert(name.to_string(), v.clone());
            }
        }
    }
    let unique = kind.unique();
    match out.get(unique).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => {}
        _ => {
            return Err(ScimError::bad(
                "invalidValue",
                format!("{unique} is required and must be a non-empty string"),
            ))
        }
    }
    if kind == Kind::User {
        let name = out[unique].as_str().unwrap_or_default();
        users::validate_username(name)
            .map_err(|e| ScimError::bad("invalidValue", format!("userName {name:?}: {e}")))?;
        if let Some(active) = out.get("active") {
            let parsed = match active {
                Value::Bool(b) => *b,
                // Some providers (Entra ID) send "True"/"False".
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err(ScimError::bad("invalidValue", "active must be a boolean")),
            };
            out.insert("active".into(), Value::Bool(parsed));
        }
        for (attr, complex) in [("name", true), ("emails", false), ("displayName", false)] {
            let ok = match out.get(attr) {
                None => true,
                Some(v) if attr == "displayName" => v.is_string(),
                Some(v) if complex => v.is_object(),
                Some(v) => v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
            };
            if !ok {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!("{attr} has the wrong type"),
                ));
            }
        }
    }
    if kind == Kind::Group {
        match out.get("members") {
            None => {}
            Some(Value::Array(items)) if items.iter().all(|m| m["value"].as_str().is_some()) => {}
            Some(_) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    "members must be a list of objects with a value (a user or group id)",
                ))
            }
        }
    }
    if let Some(e) = out.get("externalId") {
        if !e.is_string() {
            return Err(ScimError::bad(
                "invalidValue",
                "externalId must be a string",
            ));
        }
    }
    Ok(out)
}

/// Creates a resource; returns it as stored.
pub fn create(
    store: &Store,
    roles: &RoleMap,
    kind: Kind,
    body: &Value,
    base: &str,
    now_ms: u64,
) -> Result<Value, ScimError> {
    let attrs = clean(kind, body)?;
    let id = ulid::Ulid::new().to_string().to_lowercase();
    let mut resource = Value::Object(attrs);
    resource["schemas"] = json!([kind.schema()]);
    resource["id"] = json!(id);
    resource["meta"] = json!({
        "resourceType": kind.name(), "created": rfc3339(now_ms), "lastModified": rfc3339(now_ms),
        "location": location(base, kind, &id), "version": version(now_ms),
    });
    save(store, roles, kind, None, resource, now_ms)
}

fn version(now_ms: u64) -> String {
    format!("W/\"{now_ms}\"")
}

/// Replaces a resource (PUT): every writable attribute is the body's.
pub fn replace(
    store: &Store,
    roles: &RoleMap,
    kind: Kind,
    id: &str,
    body: &Value,
    now_ms: u64,
) -> Result<Value, ScimError> {
    let old = stored(store, kind, id)?;
    let attrs = clean(kind, body)?;
    let mut resource = Value::Object(attrs);
    resource["schemas"] = json!([kind.schema()]);
    resource["id"] = json!(id);
    resource["meta"] = old["meta"].clone();
    resource["meta"]["lastModified"] = json!(rfc3339(now_ms));
    resource["meta"]["version"] = json!(version(now_ms));
    save(store, roles, kind, Some(&old), resource, now_ms)
}

/// Changes a resource with RFC 7644 3.5.2 PATCH operations.
pub fn patch(
    store: &Store,
    roles: &RoleMap,
    kind: Kind,
    id: &str,
    body: &Value,
    now_ms: u64,
) -> Result<Value, ScimError> {
    let old = stored(store, kind, id)?;
    let mut working = old.clone();
    apply_patch(&mut working, body)?;
    let attrs = clean(kind, &working)?;
    let mut resource = Value::Object(attrs);
    resource["schemas"] = json!([kind.schema()]);
    resource["id"] = json!(id);
    resource["meta"] = old["meta"].clone();
    resource["meta"]["lastModified"] = json!(rfc3339(now_ms));
    resource["meta"]["version"] = json!(version(now_ms));
    save(store, roles, kind, Some(&old), resource, now_ms)
}

/// Deletes a resource; a deleted user's cosell user and sessions go too.
pub fn delete(
    store: &Store,
    roles: &RoleMap,
    kind: Kind,
    id: &str,
    now_ms: u64,
) -> Result<(), ScimError> {
    let old = stored(store, kind, id)?;
    let txn = store.write()?;
    txn.open_table(kind.table())?.remove(id)?;
    if kind == Kind::User {
        let name = cosell_name(&old);
        txn.open_table(crate::store::tables::USERS)?
            .remove(name.as_str())?;
        users::forget(&txn, &name)?;
    }
    sync_roles(&txn, roles, now_ms)?;
    txn.commit()?;
    Ok(())
}

fn stored(store: &Store, kind: Kind, id: &str) -> Result<Value, ScimError> {
    let txn = store.read()?;
    let found = match crate::store::open_table_if_exists(&txn, kind.table())? {
        Some(table) => table
            .get(id)?
            .map(|v| serde_json::from_slice::<Value>(v.value())),
        None => None,
    };
    match found {
        Some(v) => Ok(v?),
        None => Err(ScimError::not_found(format!(
            "no {} with id {id}",
            kind.name()
        ))),
    }
}

fn cosell_name(user: &Value) -> String {
    users::validate_username(user["userName"].as_str().unwrap_or_default()).unwrap_or_default()
}

/// Writes `resource` (checking uniqueness and member references) and mirrors users and roles.
fn save(
    store: &Store,
    roles: &RoleMap,
    kind: Kind,
    old: Option<&Value>,
    resource: Value,
    now_ms: u64,
) -> Result<Value, ScimError> {
    let id = resource["id"].as_str().unwrap_or_default().to_string();
    let unique = kind.unique();
    let wanted = resource[unique].as_str().unwrap_or_default().to_lowercase();
    let txn = store.write()?;
    {
        let mut table = txn.open_table(kind.table())?;
        for entry in table.range::<&str>(..)? {
            let (k, v) = entry?;
            let other: Value = serde_json::from_slice(v.value())?;
            let same = other[unique].as_str().unwrap_or_default().to_lowercase() == wanted;
            if same && k.value() != id {
                return Err(ScimError::conflict(format!(
                    "a {} with {unique} {:?} already exists",
                    kind.name(),
                    resource[unique].as_str().unwrap_or_default()
                )));
            }
        }
        if kind == Kind::Group {
            let users_t = txn.open_table(SCIM_USERS)?;
            for m in member_ids(&resource) {
                if users_t.get(m)?.is_none() && table.get(m)?.is_none() {
                    return Err(ScimError::bad(
                        "invalidValue",
                        format!("members: no user or group with id {m}"),
                    ));
                }
            }
        }
        table.insert(id.as_str(), serde_json::to_vec(&resource)?.as_slice())?;
    }
    if kind == Kind::User {
        let name = cosell_name(&resource);
        let previous = old.map(cosell_name);
        // A local user of the same name is taken over by the provider only when nothing
        // else claims it: refuse instead of silently replacing a password account.
        if previous.as_deref() != Some(name.as_str()) {
            let users_t = txn.open_table(crate::store::tables::USERS)?;
            let taken = users_t.get(name.as_str())?.map(|v| v.value().to_vec());
            if let Some(bytes) = taken {
                let u: users::User = serde_json::from_slice(&bytes)?;
                if u.source == Source::Local {
                    return Err(ScimError::conflict(format!(
                        "a local cosell user named {name} already exists"
                    )));
                }
            }
        }
        let active = resource["active"].as_bool().unwrap_or(true);
        users::put_managed_user(
            &txn,
            previous.as_deref(),
            &name,
            None,
            active,
            Source::Scim,
            now_ms,
        )
        .map_err(|e| ScimError::conflict(e.to_string()))?;
    }
    sync_roles(&txn, roles, now_ms)?;
    txn.commit()?;
    get(store, kind, &id)?.ok_or_else(|| ScimError::not_found("gone"))
}

/// Gives every SCIM user the role their groups give (`[roles]`); a user no group gives a
/// role to (and `roles.default = "none"`) is kept inactive until one does.
fn sync_roles(txn: &redb::WriteTransaction, roles: &RoleMap, now_ms: u64) -> Result<()> {
    let groups: Vec<Value> = {
        let table = txn.open_table(SCIM_GROUPS)?;
        let mut out = Vec::new();
        for entry in table.range::<&str>(..)? {
            out.push(serde_json::from_slice(entry?.1.value())?);
        }
        out
    };
    let scim_users: Vec<Value> = {
        let table = txn.open_table(SCIM_USERS)?;
        let mut out = Vec::new();
        for entry in table.range::<&str>(..)? {
            out.push(serde_json::from_slice(entry?.1.value())?);
        }
        out
    };
    for u in scim_users {
        let id = u["id"].as_str().unwrap_or_default();
        let names: Vec<String> = groups
            .iter()
            .filter(|g| member_ids(g).any(|m| m == id))
            .filter_map(|g| g["displayName"].as_str().map(str::to_string))
            .collect();
        let role = roles.role(&names);
        let name = cosell_name(&u);
        let current: Option<users::User> = {
            let table = txn.open_table(crate::store::tables::USERS)?;
            let found = table.get(name.as_str())?;
            match found {
                Some(v) => Some(serde_json::from_slice(v.value())?),
                None => None,
            }
        };
        let active = u["active"].as_bool().unwrap_or(true) && role.is_some();
        let role = role.unwrap_or(Role::Viewer);
        if current
            .as_ref()
            .is_some_and(|c| c.role == role && c.active == active)
        {
            continue;
        }
        users::put_managed_user(txn, None, &name, Some(role), active, Source::Scim, now_ms)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "scim_tests.rs"]
mod tests;
