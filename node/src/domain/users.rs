//! People who sign in to the web UI: users with a role and an argon2 password hash, and their
//! browser sessions. A session is a random id in an HttpOnly, SameSite=Strict cookie (Secure when
//! the node is served over HTTPS); the database keeps only its SHA-256, with the user, role,
//! expiry and a CSRF token that every write made with the cookie must echo in `X-CSRF-Token`.

use crate::domain::auth::{token_hash, Role};
use crate::store::tables::{
    MAPPING_VIEWS, NOTIFY_DIGEST, NOTIFY_SENT, NOTIFY_SETTINGS, SESSIONS, USERS,
};
use crate::store::Store;
use anyhow::{anyhow, bail, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

/// How long a session lasts without signing in again.
pub const SESSION_LIFETIME_MS: u64 = 12 * 60 * 60 * 1000;
/// Shortest password accepted.
pub const PASSWORD_CHARS_MIN: usize = 10;
/// Longest password accepted (argon2 cost is linear in it).
pub const PASSWORD_BYTES_MAX: usize = 1024;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cosell_session";

/// A user, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// Sign-in name: lowercase letters, digits, `.`, `-`, `_`, `@`.
    pub username: String,
    /// What the user may do.
    pub role: Role,
    /// PHC-format argon2id hash.
    password_hash: String,
    /// When the user was created.
    pub created_at_ms: u64,
    /// False for a user deactivated (over SCIM): they cannot sign in.
    #[serde(default = "yes")]
    pub active: bool,
    /// Who manages the user: `local` (an admin, with a password), `oidc` (created at their
    /// first single sign-on) or `scim` (the identity provider, over SCIM).
    #[serde(default)]
    pub source: Source,
    /// The identity provider's `sub` for this user, once they signed in with SSO: a later
    /// SSO sign-in under the same name with another `sub` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

fn yes() -> bool {
    true
}

/// Who manages a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Created by an admin, signs in with a password.
    #[default]
    Local,
    /// Created at their first single sign-on.
    Oidc,
    /// Provisioned by the identity provider over SCIM.
    Scim,
}

/// A signed-in browser session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Who.
    pub username: String,
    /// Their role when they signed in.
    pub role: Role,
    /// Must come back in `X-CSRF-Token` on every write made with this session's cookie.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at_ms: u64,
    /// The ID token of a single sign-on, sent back to the provider at sign-out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

fn random_hex(bytes: usize) -> String {
    let mut raw = zeroize::Zeroizing::new(vec![0u8; bytes]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, raw.as_mut_slice());
    hex::encode(raw.as_slice())
}

/// Checks a username's shape.
pub fn validate_username(name: &str) -> Result<String, String> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.len() > 64 {
        return Err("a username has 1 to 64 characters".to_string());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
    {
        return Err("a username has only letters, digits, '.', '-', '_' and '@'".to_string());
    }
    Ok(name)
}

/// Checks a password's length.
pub fn validate_password(password: &str) -> Result<(), String> {
    if password.chars().count() < PASSWORD_CHARS_MIN {
        return Err(format!(
            "a password has at least {PASSWORD_CHARS_MIN} characters"
        ));
    }
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(format!("a password has at most {PASSWORD_BYTES_MAX} bytes"));
    }
    Ok(())
}

/// Creates a user (refusing an existing name).
pub fn create_user(
    store: &Store,
    username: &str,
    password: &str,
    role: Role,
    now_ms: u64,
) -> Result<User> {
    let username = validate_username(username).map_err(|e| anyhow!(e))?;
    validate_password(password).map_err(|e| anyhow!(e))?;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let password_hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow!("cannot hash the password: {e}"))?
        .to_string();
    let user = User {
        username: username.clone(),
        role,
        password_hash,
        created_at_ms: now_ms,
        active: true,
        source: Source::Local,
        subject: None,
    };
    let txn = store.write()?;
    {
        let mut table = txn.open_table(USERS)?;
        if table.get(username.as_str())?.is_some() {
            bail!("a user named {username} already exists");
        }
        table.insert(username.as_str(), serde_json::to_vec(&user)?.as_slice())?;
    }
    txn.commit()?;
    Ok(user)
}

/// Every user, by name.
pub fn list_users(store: &Store) -> Result<Vec<User>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, USERS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.range::<&str>(..)? {
        out.push(serde_json::from_slice(entry?.1.value())?);
    }
    Ok(out)
}

/// Removes a user and ends their sessions; false when there was none.
pub fn delete_user(store: &Store, username: &str) -> Result<bool> {
    let username = username.trim().to_lowercase();
    let txn = store.write()?;
    let existed = {
        let existed = txn.open_table(USERS)?.remove(username.as_str())?.is_some();
        forget(&txn, &username)?;
        existed
    };
    txn.commit()?;
    Ok(existed)
}

/// Removes, in `txn`, what the node keeps for `username` besides the user itself: sessions,
/// saved mapping views, e-mail settings (the address), digest items waiting and the record of
/// what was mailed. A deleted user (API, CLI or SCIM) leaves nothing behind, and a later user
/// of the same name starts empty.
pub(crate) fn forget(txn: &redb::WriteTransaction, username: &str) -> Result<()> {
    end_sessions(txn, username)?;
    {
        let mut views = txn.open_table(MAPPING_VIEWS)?;
        let names: Vec<String> = views
            .range((username, "")..)?
            .map_while(|e| {
                let (k, _) = e.ok()?;
                let (user, name) = k.value();
                (user == username).then(|| name.to_string())
            })
            .collect();
        for name in names {
            views.remove((username, name.as_str()))?;
        }
    }
    txn.open_table(NOTIFY_SETTINGS)?.remove(username)?;
    // Keys `"<username>\0…"`: the range from `username\0` to `username\x01`.
    let (from, to) = (format!("{username}\u{0}"), format!("{username}\u{1}"));
    txn.open_table(NOTIFY_DIGEST)?
        .retain_in::<&str, _>(from.as_str()..to.as_str(), |_, _| false)?;
    txn.open_table(NOTIFY_SENT)?
        .retain_in::<&str, _>(from.as_str()..to.as_str(), |_, _| false)?;
    Ok(())
}

/// Moves a renamed user's saved mapping views and e-mail settings to the new name (what
/// waits for a digest and the record of what was mailed are dropped with the old name).
fn rename_kept(txn: &redb::WriteTransaction, old: &str, new: &str) -> Result<()> {
    let views: Vec<(String, Vec<u8>)> = txn
        .open_table(MAPPING_VIEWS)?
        .range((old, "")..)?
        .map_while(|e| {
            let (k, v) = e.ok()?;
            let (user, name) = k.value();
            (user == old).then(|| (name.to_string(), v.value().to_vec()))
        })
        .collect();
    let settings = txn
        .open_table(NOTIFY_SETTINGS)?
        .get(old)?
        .map(|v| v.value().to_vec());
    forget(txn, old)?;
    let mut table = txn.open_table(MAPPING_VIEWS)?;
    for (name, view) in &views {
        table.insert((new, name.as_str()), view.as_slice())?;
    }
    if let Some(settings) = settings {
        txn.open_table(NOTIFY_SETTINGS)?
            .insert(new, settings.as_slice())?;
    }
    Ok(())
}

/// Ends every session of `username` in `txn`.
pub(crate) fn end_sessions(txn: &redb::WriteTransaction, username: &str) -> Result<()> {
    let mut sessions = txn.open_table(SESSIONS)?;
    let ended: Vec<String> = sessions
        .range::<&str>(..)?
        .filter_map(|e| e.ok())
        .filter_map(|(k, v)| {
            let s: Session = serde_json::from_slice(v.value()).ok()?;
            (s.username == username).then(|| k.value().to_string())
        })
        .collect();
    for key in ended {
        sessions.remove(key.as_str())?;
    }
    Ok(())
}

/// The user named `username`, if any.
pub fn get_user(store: &Store, username: &str) -> Result<Option<User>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, USERS)? else {
        return Ok(None);
    };
    let found = table.get(username.trim().to_lowercase().as_str())?;
    Ok(match found {
        Some(v) => Some(serde_json::from_slice(v.value())?),
        None => None,
    })
}

/// Creates or replaces a user managed by the identity provider (`source` `oidc` or `scim`; no
/// password), renaming from `previous` when the name changed; `role` None keeps the user's role
/// (a new user starts as viewer). A user who is deactivated,
/// renamed or whose role changes loses their sessions: the next request signs in again with
/// the new facts.
pub fn put_managed_user(
    txn: &redb::WriteTransaction,
    previous: Option<&str>,
    username: &str,
    role: Option<Role>,
    active: bool,
    source: Source,
    now_ms: u64,
) -> Result<()> {
    let mut table = txn.open_table(USERS)?;
    let old_name = previous.unwrap_or(username);
    let old: Option<User> = match table.get(old_name)? {
        Some(v) => Some(serde_json::from_slice(v.value())?),
        None => None,
    };
    if old_name != username {
        if table.get(username)?.is_some() {
            bail!("a user named {username} already exists");
        }
        table.remove(old_name)?;
        rename_kept(txn, old_name, username)?;
    }
    let role = role
        .or(old.as_ref().map(|o| o.role))
        .unwrap_or(Role::Viewer);
    let changed = old
        .as_ref()
        .is_none_or(|o| o.role != role || !active || old_name != username);
    let user = User {
        username: username.to_string(),
        role,
        password_hash: String::new(),
        created_at_ms: old.as_ref().map_or(now_ms, |o| o.created_at_ms),
        active,
        source,
        subject: old.and_then(|o| o.subject),
    };
    table.insert(username, serde_json::to_vec(&user)?.as_slice())?;
    drop(table);
    if changed {
        end_sessions(txn, old_name)?;
    }
    Ok(())
}

/// Signs in someone the identity provider vouched for, as `role` (from their groups; `None`:
/// no group gives access). With `jit`, an unknown user is created and a known one's role
/// updated; otherwise (SCIM provisioning) only a provisioned, active user gets in, with the
/// role SCIM gave them. `Err(message)` says why the person may not sign in.
pub fn sso_sign_in(
    store: &Store,
    identity: &crate::domain::oidc::Identity,
    role: Option<Role>,
    jit: bool,
    now_ms: u64,
) -> Result<Result<(String, Session), String>> {
    let existing = get_user(store, &identity.username)?;
    if let Some(u) = &existing {
        if !u.active {
            return Ok(Err("this account is deactivated".to_string()));
        }
        if u.subject.as_deref().is_some_and(|s| s != identity.subject) {
            return Ok(Err(format!(
                "the cosell user {} belongs to another identity at the provider",
                u.username
            )));
        }
    }
    let role = match (&existing, jit) {
        (Some(u), _) if u.source == Source::Scim => u.role,
        (None, false) => {
            return Ok(Err(format!(
                "no cosell account for {} has been provisioned: ask your administrator",
                identity.username
            )))
        }
        _ => match role {
            Some(r) => r,
            None => {
                return Ok(Err(
                    "none of your groups at the identity provider gives access to cosell"
                        .to_string(),
                ))
            }
        },
    };
    let txn = store.write()?;
    {
        let mut table = txn.open_table(USERS)?;
        let user = User {
            username: identity.username.clone(),
            role,
            password_hash: existing
                .as_ref()
                .map(|u| u.password_hash.clone())
                .unwrap_or_default(),
            created_at_ms: existing.as_ref().map_or(now_ms, |u| u.created_at_ms),
            active: true,
            source: existing.as_ref().map_or(Source::Oidc, |u| u.source),
            subject: Some(identity.subject.clone()),
        };
        table.insert(
            user.username.as_str(),
            serde_json::to_vec(&user)?.as_slice(),
        )?;
    }
    let started = start_session(
        &txn,
        &identity.username,
        role,
        Some(identity.id_token.clone()),
        now_ms,
    )?;
    txn.commit()?;
    Ok(Ok(started))
}

/// Stores a new session in `txn`; returns its id (for the cookie) and the session.
fn start_session(
    txn: &redb::WriteTransaction,
    username: &str,
    role: Role,
    id_token: Option<String>,
    now_ms: u64,
) -> Result<(String, Session)> {
    let id = random_hex(32);
    let session = Session {
        username: username.to_string(),
        role,
        csrf_token: random_hex(16),
        expires_at_ms: now_ms + SESSION_LIFETIME_MS,
        id_token,
    };
    txn.open_table(SESSIONS)?.insert(
        token_hash(&id).as_str(),
        serde_json::to_vec(&session)?.as_slice(),
    )?;
    Ok((id, session))
}

/// The argon2 hash (this build's parameters) of a random password nobody knows: sign-in
/// verifies against it when the username is unknown, so an unknown name costs the same work as
/// a wrong password and the answer's timing does not tell which names exist.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(random_hex(32).as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Checks a username and password; on success starts a session and returns its id (for the
/// cookie) and the session. A wrong name and a wrong password get the same answer, after the
/// same argon2 work.
pub fn sign_in(
    store: &Store,
    username: &str,
    password: &str,
    now_ms: u64,
) -> Result<Option<(String, Session)>> {
    if password.len() > PASSWORD_BYTES_MAX {
        return Ok(None);
    }
    let username = username.trim().to_lowercase();
    let user: Option<User> = {
        let txn = store.read()?;
        match crate::store::open_table_if_exists(&txn, USERS)? {
            Some(table) => match table.get(username.as_str())? {
                Some(v) => Some(serde_json::from_slice(v.value())?),
                None => None,
            },
            None => None,
        }
    };
    let Some(user) = user.filter(|u| u.active && !u.password_hash.is_empty()) else {
        if let Ok(parsed) = PasswordHash::new(unknown_user_hash()) {
            let _ = Argon2::default().verify_password(password.as_bytes(), &parsed);
        }
        return Ok(None);
    };
    let parsed = PasswordHash::new(&user.password_hash).map_err(|e| anyhow!("stored hash: {e}"))?;
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Ok(None);
    }
    let txn = store.write()?;
    let started = start_session(&txn, &user.username, user.role, None, now_ms)?;
    txn.commit()?;
    Ok(Some(started))
}

/// The live session with this cookie value, if any.
pub fn session(store: &Store, id: &str, now_ms: u64) -> Result<Option<Session>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, SESSIONS)? else {
        return Ok(None);
    };
    let found = table.get(token_hash(id).as_str())?;
    let Some(v) = found else { return Ok(None) };
    let session: Session = serde_json::from_slice(v.value())?;
    Ok((session.expires_at_ms > now_ms).then_some(session))
}

/// Ends a session (sign-out).
pub fn sign_out(store: &Store, id: &str) -> Result<()> {
    let txn = store.write()?;
    txn.open_table(SESSIONS)?.remove(token_hash(id).as_str())?;
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn an_unknown_username_costs_the_same_password_check_as_a_wrong_password() {
        // Security review (issue 19, low): an unknown name was answered at once and a wrong
        // password after an argon2 verification, so the time told which names exist.
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        create_user(&store, "vera", "correct horse battery", Role::Viewer, 1).expect("user");
        let fastest = |name: &str| -> Duration {
            (0..3)
                .map(|_| {
                    let started = Instant::now();
                    let answer = sign_in(&store, name, "wrong password", 2).expect("sign in");
                    assert!(answer.is_none(), "{name}");
                    started.elapsed()
                })
                .min()
                .expect("three runs")
        };
        let known = fastest("vera");
        let unknown = fastest("nobody");
        assert!(
            unknown * 3 >= known,
            "an unknown name took {unknown:?}, a wrong password {known:?}"
        );
    }
}
