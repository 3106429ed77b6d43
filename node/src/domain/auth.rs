//! API tokens and roles. A token is 32 random bytes shown once (hex); the database keeps only its
//! SHA-256, so a stolen database file yields no usable token.

use crate::store::tables::TOKENS;
use crate::store::Store;
use anyhow::Result;
use redb::ReadableTable;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// What a token (or, later, a signed-in user) may do. Ordered: each role may do what the ones
/// before it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything the node shows.
    Viewer,
    /// Also shares opportunities, writes deals, answers registrations, imports records.
    Manager,
    /// Also changes policies, partnerships, users, tokens and webhooks.
    Admin,
}

/// What the database keeps about a token.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TokenRecord {
    /// A label for people ("admin token from init").
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// When it was made, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
}

/// The hex SHA-256 of a token, the key it is stored under.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// Whether two secrets are equal, compared in constant time: their SHA-256 digests (always 32
/// bytes, so not even the length tells) are compared with `subtle`.
pub fn digests_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.as_slice().ct_eq(b.as_slice()).into()
}

/// Makes a new random token with `role`, stores its hash, and returns the token (shown once;
/// its bytes are wiped from memory when it is dropped).
pub fn create_token(
    store: &Store,
    name: &str,
    role: Role,
    now_ms: u64,
) -> Result<Zeroizing<String>> {
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, raw.as_mut());
    let token = Zeroizing::new(format!("cosell_{}", hex::encode(raw.as_slice())));
    adopt_token(store, &token, name, role, now_ms)?;
    Ok(token)
}

/// Stores a token made elsewhere (an operator's secret, e.g. a Kubernetes Secret given to
/// `cosell init` as `COSELL_ADMIN_TOKEN`) with `role`. It must look like the ones
/// [`create_token`] makes, `cosell_` and 64 hex digits, so it is as hard to guess.
pub fn adopt_token(store: &Store, token: &str, name: &str, role: Role, now_ms: u64) -> Result<()> {
    let hex_part = token.strip_prefix("cosell_").unwrap_or("");
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!(
            "a token must be `cosell_` and 64 hex digits (32 random bytes), e.g. from `openssl rand -hex 32`"
        );
    }
    let record = TokenRecord {
        name: name.to_string(),
        role,
        created_at_ms: now_ms,
    };
    let txn = store.write()?;
    {
        let mut table = txn.open_table(TOKENS)?;
        let bytes = serde_json::to_vec(&record)?;
        table.insert(token_hash(token).as_str(), bytes.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// The record of a presented token, if it is one of ours.
pub fn lookup_token(store: &Store, token: &str) -> Result<Option<TokenRecord>> {
    let txn = store.read()?;
    let table = txn.open_table(TOKENS)?;
    let found = table.get(token_hash(token).as_str())?;
    Ok(match found {
        Some(v) => Some(serde_json::from_slice(v.value())?),
        None => None,
    })
}

/// Every stored token as `(id, record)`, oldest first. The id is the token's hex SHA-256: it names
/// the token to revoke it and cannot be used to sign in.
pub fn list_tokens(store: &Store) -> Result<Vec<(String, TokenRecord)>> {
    let txn = store.read()?;
    let table = txn.open_table(TOKENS)?;
    let mut out = Vec::new();
    for entry in table.range::<&str>(..)? {
        let (k, v) = entry?;
        out.push((k.value().to_string(), serde_json::from_slice(v.value())?));
    }
    out.sort_by(|a: &(String, TokenRecord), b| {
        (a.1.created_at_ms, &a.0).cmp(&(b.1.created_at_ms, &b.0))
    });
    Ok(out)
}

/// What revoking a token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The token no longer works.
    Done,
    /// There is no token with that id.
    NotFound,
    /// It is the only admin token left; revoking it would lock every script and the CLI out of
    /// the admin routes, so it is kept (create another admin token first).
    LastAdmin,
}

/// Revokes the token with `id` (its hex SHA-256), unless it is the last admin token.
pub fn revoke_token(store: &Store, id: &str) -> Result<Revoked> {
    let txn = store.write()?;
    let outcome = {
        let mut table = txn.open_table(TOKENS)?;
        let record: Option<TokenRecord> = match table.get(id.trim())? {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        };
        match record {
            None => Revoked::NotFound,
            Some(r) if r.role == Role::Admin => {
                let mut admins = 0usize;
                for entry in table.range::<&str>(..)? {
                    let (_, v) = entry?;
                    let other: TokenRecord = serde_json::from_slice(v.value())?;
                    admins += usize::from(other.role == Role::Admin);
                }
                if admins <= 1 {
                    Revoked::LastAdmin
                } else {
                    table.remove(id.trim())?;
                    Revoked::Done
                }
            }
            Some(_) => {
                table.remove(id.trim())?;
                Revoked::Done
            }
        }
    };
    if outcome == Revoked::Done {
        txn.commit()?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only for a type that wipes its memory when dropped.
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}

    #[test]
    fn a_new_token_is_wiped_from_memory_when_dropped() {
        // Security review (issue 19, low): a token's plaintext stayed in freed memory.
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let token = create_token(&store, "t", Role::Viewer, 1).expect("token");
        wiped_on_drop(&token);
        assert!(token.starts_with("cosell_") && token.len() == "cosell_".len() + 64);
        assert!(lookup_token(&store, &token).expect("lookup").is_some());
    }

    #[test]
    fn a_revoked_token_no_longer_signs_in_and_others_still_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let kept = create_token(&store, "kept", Role::Viewer, 1).unwrap();
        let revoked = create_token(&store, "revoked", Role::Admin, 2).unwrap();
        let listed = list_tokens(&store).unwrap();
        let names: Vec<&str> = listed.iter().map(|(_, r)| r.name.as_str()).collect();
        assert_eq!(names, ["kept", "revoked"]);
        assert_eq!(listed[1].0, token_hash(&revoked));

        // The only admin token stays: revoking it would lock the admin routes.
        assert_eq!(
            revoke_token(&store, &token_hash(&revoked)).unwrap(),
            Revoked::LastAdmin
        );
        assert!(lookup_token(&store, &revoked).unwrap().is_some());
        create_token(&store, "second admin", Role::Admin, 3).unwrap();

        assert_eq!(
            revoke_token(&store, &token_hash(&revoked)).unwrap(),
            Revoked::Done
        );
        assert!(lookup_token(&store, &revoked).unwrap().is_none());
        assert!(lookup_token(&store, &kept).unwrap().is_some());
        assert_eq!(
            revoke_token(&store, &token_hash(&revoked)).unwrap(),
            Revoked::NotFound
        );
        assert_eq!(
            revoke_token(&store, &token_hash(&kept)).unwrap(),
            Revoked::Done
        );
    }
}
