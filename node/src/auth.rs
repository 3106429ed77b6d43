//! API tokens and roles. A token is 32 random bytes shown once (hex); the database keeps only its
//! SHA-256, so a stolen database file yields no usable token.

use crate::store::{Store, TOKENS};
use anyhow::Result;
use sha2::{Digest, Sha256};

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

/// Makes a new random token with `role`, stores its hash, and returns the token (shown once).
pub fn create_token(store: &Store, name: &str, role: Role, now_ms: u64) -> Result<String> {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let token = format!("cosell_{}", hex::encode(raw));
    let record = TokenRecord {
        name: name.to_string(),
        role,
        created_at_ms: now_ms,
    };
    let txn = store.write()?;
    {
        let mut table = txn.open_table(TOKENS)?;
        let bytes = serde_json::to_vec(&record)?;
        table.insert(token_hash(&token).as_str(), bytes.as_slice())?;
    }
    txn.commit()?;
    Ok(token)
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
