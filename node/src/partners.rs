//! Partnerships: signed one-time invite tokens, the join handshake's checks on both sides,
//! partner lookup by id or name, and per-partner policies with every version kept.
//!
//! An invite token is `hex(payload) "." hex(signature)`: the payload is JSON
//! `{"v":1,"inviter","name","addrs":[…],"secret","expires_ms"}`, signed by the inviter's node key
//! over [`INVITE_SIGNING_CONTEXT`] followed by the payload bytes. The joiner checks the signature
//! (a tampered token fails) and the expiry before dialing; the inviter checks that it issued the
//! token (a foreign token fails), that the secret is one it stored, unused and unexpired, and
//! marks it used in the same transaction that records the partnership.

use crate::audit::{self, kind};
use crate::store::Store;
use crate::store_net::{self, InviteRecord, PartnerRecord, PolicyVersion};
use anyhow::{anyhow, Result};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use policy::Policy;
use protocol::deal::Role;
use protocol::identity::NodeId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain separation for invite signatures.
pub const INVITE_SIGNING_CONTEXT: &[u8] = b"cosell/invite/v1\0";
/// How long an invite is valid when the caller names no expiry: 7 days.
pub const INVITE_TTL_MS_DEFAULT: u64 = 7 * 24 * 3600 * 1000;
/// Longest invite validity accepted: 90 days.
pub const INVITE_TTL_MS_MAX: u64 = 90 * 24 * 3600 * 1000;
/// Longest token accepted (bytes of text): bounds parsing work on input from anyone.
pub const INVITE_TOKEN_BYTES_MAX: usize = 8 * 1024;
/// Partner types, as `--type` takes them.
pub const PARTNER_TYPES: [&str; 7] = [
    "reseller",
    "distributor",
    "si",
    "isv",
    "msp",
    "referral",
    "vendor",
];

/// The signed content of an invite token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InvitePayload {
    /// Format version (1).
    pub v: u32,
    /// The inviter's node id.
    pub inviter: String,
    /// The inviter's company name.
    pub name: String,
    /// Where to dial the inviter.
    pub addrs: Vec<String>,
    /// 32 random bytes, hex: proves the joiner holds this token.
    pub secret: String,
    /// When the invite stops being accepted.
    pub expires_ms: u64,
}

/// Why a join was refused. Each message is the sentence the user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("this is not a cosell invite token (it may be cut short or mistyped)")]
    Malformed,
    #[error("the invite token was altered: its signature does not match its content")]
    Tampered,
    #[error("the invite expired on {0}; ask the inviter for a new one")]
    Expired(String),
    #[error("this invite was issued by another node, not by this one")]
    Foreign,
    #[error("this invite is not known to the inviting node")]
    Unknown,
    #[error("this invite has already been used")]
    Used,
    #[error("this is this node's own invite; give it to the partner who should join")]
    Own,
}

/// Checks a partner type name.
pub fn parse_partner_type(value: &str) -> Result<String> {
    let v = value.trim().to_lowercase();
    if PARTNER_TYPES.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(anyhow!(
            "'{value}' is not a partner type (one of {})",
            PARTNER_TYPES.join(", ")
        ))
    }
}

/// The deal role of a partner of this type.
pub fn role_of_type(partner_type: Option<&str>) -> Role {
    match partner_type {
        Some("distributor") => Role::Distributor,
        Some("si") => Role::Services,
        Some("isv") => Role::Software,
        Some("msp") => Role::Msp,
        Some("referral") => Role::Referral,
        Some("vendor") => Role::Vendor,
        _ => Role::Reseller,
    }
}

/// What an invite says beside its secret.
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// The inviter's node id.
    pub inviter: String,
    /// The inviter's company name.
    pub name: String,
    /// Where to dial the inviter.
    pub addrs: Vec<String>,
    /// What the joiner will be to the inviter.
    pub partner_type: Option<String>,
    /// How long the invite is valid.
    pub ttl_ms: u64,
}

/// Makes and stores a new invite; returns the token.
pub fn create_invite(
    store: &Store,
    key: &SigningKey,
    invite: NewInvite,
    now_ms: u64,
) -> Result<String> {
    let NewInvite {
        inviter,
        name,
        addrs,
        partner_type,
        ttl_ms,
    } = invite;
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let payload = InvitePayload {
        v: 1,
        inviter,
        name,
        addrs,
        secret: hex::encode(secret),
        expires_ms: now_ms + ttl_ms,
    };
    let bytes = serde_json::to_vec(&payload)?;
    let signature = key.sign(&signing_bytes(&bytes));
    let txn = store.write()?;
    store_net::put_invite_in(
        &txn,
        &secret_hash(&payload.secret),
        &InviteRecord {
            created_ms: now_ms,
            expires_ms: payload.expires_ms,
            partner_type,
            used_by: None,
            used_ms: None,
        },
    )?;
    audit::record_in(
        &txn,
        now_ms,
        kind::PARTNER,
        None,
        format!(
            "issued an invite valid until {}",
            audit::rfc3339(payload.expires_ms)
        ),
        serde_json::json!({"expires_ms": payload.expires_ms}),
    )?;
    txn.commit()?;
    Ok(format!(
        "{}.{}",
        hex::encode(&bytes),
        hex::encode(signature.to_bytes())
    ))
}

fn signing_bytes(payload: &[u8]) -> Vec<u8> {
    let mut out = INVITE_SIGNING_CONTEXT.to_vec();
    out.extend_from_slice(payload);
    out
}

fn secret_hash(secret_hex: &str) -> String {
    hex::encode(Sha256::digest(secret_hex.as_bytes()))
}

/// Parses a token and checks its signature and expiry (what the joiner can check alone).
pub fn read_token(token: &str, now_ms: u64) -> Result<InvitePayload, InviteError> {
    let token = token.trim();
    if token.len() > INVITE_TOKEN_BYTES_MAX {
        return Err(InviteError::Malformed);
    }
    let (payload_hex, sig_hex) = token.split_once('.').ok_or(InviteError::Malformed)?;
    let payload_bytes = hex::decode(payload_hex).map_err(|_| InviteError::Malformed)?;
    let sig: [u8; 64] = hex::decode(sig_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(InviteError::Malformed)?;
    let payload: InvitePayload =
        serde_json::from_slice(&payload_bytes).map_err(|_| InviteError::Tampered)?;
    if payload.v != 1 {
        return Err(InviteError::Malformed);
    }
    let inviter = NodeId::parse(&payload.inviter).map_err(|_| InviteError::Tampered)?;
    let key = VerifyingKey::from_bytes(&inviter.public_key()).map_err(|_| InviteError::Tampered)?;
    key.verify(
        &signing_bytes(&payload_bytes),
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .map_err(|_| InviteError::Tampered)?;
    if payload.expires_ms <= now_ms {
        return Err(InviteError::Expired(audit::rfc3339(payload.expires_ms)));
    }
    Ok(payload)
}

/// What the joiner tells the inviter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The invite token.
    pub token: String,
    /// The joiner's company name.
    pub name: String,
    /// Where to dial the joiner.
    pub addrs: Vec<String>,
}

/// The inviter's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinAnswer {
    /// `None` when accepted; otherwise why not.
    pub error: Option<String>,
    /// The inviter's company name.
    pub name: String,
}

/// The inviter's side of a join: checks the token against what it issued, then records the
/// partnership and marks the invite used, in one transaction.
pub fn accept_join(
    store: &Store,
    me: &str,
    joiner: &str,
    request: &JoinRequest,
    now_ms: u64,
) -> Result<PartnerRecord, InviteError> {
    let payload = read_token(&request.token, now_ms)?;
    if payload.inviter != me {
        return Err(InviteError::Foreign);
    }
    if joiner == me {
        return Err(InviteError::Own);
    }
    let hash = secret_hash(&payload.secret);
    let done = (|| -> Result<Result<PartnerRecord, InviteError>> {
        let txn = store.write()?;
        let Some(mut invite) = store_net::invite_in(&txn, &hash)? else {
            return Ok(Err(InviteError::Unknown));
        };
        if invite.used_by.is_some() {
            return Ok(Err(InviteError::Used));
        }
        if invite.expires_ms <= now_ms {
            return Ok(Err(InviteError::Expired(audit::rfc3339(invite.expires_ms))));
        }
        invite.used_by = Some(joiner.to_string());
        invite.used_ms = Some(now_ms);
        store_net::put_invite_in(&txn, &hash, &invite)?;
        let record = PartnerRecord {
            id: joiner.to_string(),
            name: clean_name(&request.name, joiner),
            partner_type: invite.partner_type.clone(),
            status: "active".into(),
            since_ms: now_ms,
            last_seen_ms: Some(now_ms),
            addrs: request.addrs.iter().take(16).cloned().collect(),
            removed_ms: None,
        };
        store_net::put_partner_in(&txn, &record)?;
        audit::record_in(
            &txn,
            now_ms,
            kind::PARTNER,
            Some(joiner),
            format!("{} joined as a partner", record.name),
            serde_json::json!({"event": "joined", "name": record.name, "type": record.partner_type}),
        )?;
        txn.commit()?;
        Ok(Ok(record))
    })();
    match done {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot record a join");
            Err(InviteError::Unknown)
        }
    }
}

/// The joiner's side once the inviter accepted: records the partnership.
pub fn record_joined(
    store: &Store,
    payload: &InvitePayload,
    inviter_name: &str,
    partner_type: Option<String>,
    now_ms: u64,
) -> Result<PartnerRecord> {
    let record = PartnerRecord {
        id: payload.inviter.clone(),
        name: clean_name(inviter_name, &payload.inviter),
        partner_type,
        status: "active".into(),
        since_ms: now_ms,
        last_seen_ms: Some(now_ms),
        addrs: payload.addrs.iter().take(16).cloned().collect(),
        removed_ms: None,
    };
    let txn = store.write()?;
    store_net::put_partner_in(&txn, &record)?;
    audit::record_in(
        &txn,
        now_ms,
        kind::PARTNER,
        Some(&record.id),
        format!("joined {} as a partner", record.name),
        serde_json::json!({"event": "joined", "name": record.name, "type": record.partner_type}),
    )?;
    txn.commit()?;
    Ok(record)
}

fn clean_name(name: &str, fallback: &str) -> String {
    let n: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if n.is_empty() {
        fallback.to_string()
    } else {
        n
    }
}

/// Finds a partner by node id or unique name (case-insensitive). Removed partners are found too.
pub fn resolve(store: &Store, wanted: &str) -> Result<PartnerRecord> {
    let wanted = wanted.trim();
    let all = store_net::partners(store)?;
    if let Some(p) = all.iter().find(|p| p.id == wanted) {
        return Ok(p.clone());
    }
    let by_name: Vec<&PartnerRecord> = all
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case(wanted))
        .collect();
    match by_name.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(anyhow!("no partner with id or name '{wanted}'")),
        _ => Err(anyhow!(
            "several partners are named '{wanted}'; use the node id"
        )),
    }
}

/// Ends a partnership: the partner is refused from now on.
pub fn remove(store: &Store, id: &str, now_ms: u64) -> Result<PartnerRecord> {
    let Some(mut record) = store_net::partner(store, id)? else {
        return Err(anyhow!("no partner with id {id}"));
    };
    record.status = "removed".into();
    record.removed_ms = Some(now_ms);
    let txn = store.write()?;
    store_net::put_partner_in(&txn, &record)?;
    audit::record_in(
        &txn,
        now_ms,
        kind::PARTNER,
        Some(id),
        format!("removed partner {}", record.name),
        serde_json::json!({"event": "removed", "name": record.name}),
    )?;
    txn.commit()?;
    Ok(record)
}

/// The policy in force for a partner: its newest version, or deny-all.
pub fn policy_for(store: &Store, partner: &str) -> Result<Policy> {
    match store_net::latest_policy(store, partner)? {
        Some(v) => Policy::from_toml(&v.text)
            .map_err(|e| anyhow!("the stored policy for {partner} no longer parses: {e:?}")),
        None => Ok(Policy::deny_all()),
    }
}

/// Stores a new policy version for a partner (with the diff from the previous one) and audits
/// it. Returns the stored version.
pub fn set_policy(
    store: &Store,
    partner: &PartnerRecord,
    policy: &Policy,
    by: &str,
    now_ms: u64,
) -> Result<PolicyVersion> {
    let previous = store_net::latest_policy(store, &partner.id)?;
    let old = match &previous {
        Some(v) => Policy::from_toml(&v.text).unwrap_or_else(|_| Policy::deny_all()),
        None => Policy::deny_all(),
    };
    let diff: Vec<String> = policy::diff(&old, policy)
        .iter()
        .map(|c| c.to_string())
        .collect();
    let version = PolicyVersion {
        version: previous.map(|v| v.version + 1).unwrap_or(1),
        at_ms: now_ms,
        by: by.to_string(),
        text: policy.to_canonical_toml(),
        diff: diff.clone(),
    };
    let txn = store.write()?;
    store_net::put_policy_in(&txn, &partner.id, &version)?;
    audit::record_in(
        &txn,
        now_ms,
        kind::POLICY,
        Some(&partner.id),
        format!(
            "policy for {} set to version {} ({} change{})",
            partner.name,
            version.version,
            diff.len(),
            if diff.len() == 1 { "" } else { "s" }
        ),
        serde_json::json!({"version": version.version, "diff": diff}),
    )?;
    txn.commit()?;
    Ok(version)
}

/// A one-line summary of a policy, for partner lists.
pub fn policy_summary(store: &Store, partner: &str) -> Result<String> {
    Ok(match store_net::latest_policy(store, partner)? {
        None => "none (nothing shared)".to_string(),
        Some(v) => {
            let p = Policy::from_toml(&v.text).unwrap_or_else(|_| Policy::deny_all());
            let fields: Vec<&str> = p
                .opportunities()
                .fields()
                .iter()
                .map(|f| f.as_str())
                .collect();
            format!(
                "v{}: {} opportunity field(s){}; accounts {}",
                v.version,
                fields.len(),
                if fields.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", fields.join(", "))
                },
                p.accounts().sharing().as_str()
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (SigningKey, String) {
        let k = SigningKey::from_bytes(&[7u8; 32]);
        let id = NodeId::from_public_key(&k.verifying_key().to_bytes())
            .unwrap()
            .to_string();
        (k, id)
    }

    fn token(ttl_ms: u64, now_ms: u64) -> (tempfile::TempDir, Store, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store_net::ensure_tables(&store).unwrap();
        let (k, id) = key();
        let invite = NewInvite {
            inviter: id.clone(),
            name: "Vendor".into(),
            addrs: vec![],
            partner_type: None,
            ttl_ms,
        };
        let t = create_invite(&store, &k, invite, now_ms).unwrap();
        (dir, store, id, t)
    }

    fn join(t: &str) -> JoinRequest {
        JoinRequest {
            token: t.to_string(),
            name: "Reseller".into(),
            addrs: vec![],
        }
    }

    #[test]
    fn invite_is_accepted_once_then_refused_as_used() {
        let (_d, store, me, t) = token(1000, 10);
        let joiner = NodeId::from_public_key(
            &SigningKey::from_bytes(&[9u8; 32])
                .verifying_key()
                .to_bytes(),
        )
        .unwrap()
        .to_string();
        assert!(accept_join(&store, &me, &joiner, &join(&t), 20).is_ok());
        assert_eq!(
            accept_join(&store, &me, &joiner, &join(&t), 21),
            Err(InviteError::Used)
        );
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_are_refused() {
        let (_d, store, me, t) = token(1000, 10);
        let mut bad = t.clone().into_bytes();
        bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(matches!(
            read_token(&bad, 20),
            Err(InviteError::Tampered | InviteError::Malformed)
        ));
        assert!(matches!(read_token(&t, 5000), Err(InviteError::Expired(_))));
        assert_eq!(
            accept_join(&store, "12D3KooWother", "x", &join(&t), 20).unwrap_err(),
            InviteError::Foreign
        );
        assert_eq!(
            accept_join(&store, &me, &me, &join(&t), 20).unwrap_err(),
            InviteError::Own
        );
        assert_eq!(read_token("garbage", 0), Err(InviteError::Malformed));
    }
}
