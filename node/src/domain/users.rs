//! People who sign in to the web UI: users with a role and an argon2 password hash, and their
//! browser sessions. A session is a random id in an HttpOnly, SameSite=Strict cookie (Secure when
//! the node is served over HTTPS); the database keeps only its SHA-256, with the user, role,
//! expiry and a CSRF token that every write made with the cookie must echo in `X-CSRF-Token`.

use crate::domain::auth::{token_hash, Role};
use crate::store::tables::{SESSIONS, USERS};
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
        existed
    };
    txn.commit()?;
    Ok(existed)
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
    let Some(user) = user else {
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
    let id = random_hex(32);
    let session = Session {
        username: user.username,
        role: user.role,
        csrf_token: random_hex(16),
        expires_at_ms: now_ms + SESSION_LIFETIME_MS,
    };
    let txn = store.write()?;
    {
        let mut sessions = txn.open_table(SESSIONS)?;
        sessions.insert(
            token_hash(&id).as_str(),
            serde_json::to_vec(&session)?.as_slice(),
        )?;
    }
    txn.commit()?;
    Ok(Some((id, session)))
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
