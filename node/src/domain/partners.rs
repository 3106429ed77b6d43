//! Partnerships: signed one-time invite tokens, the join handshake's checks on both sides,
//! partner lookup by id or name, and per-partner policies with every version kept.
//!
//! An invite token is `hex(payload) "." hex(signature)`: the payload is JSON
//! `{"v":1,"inviter","name","addrs":[…],"secret","expires_ms"}`, signed by the inviter's node key
//! over [`INVITE_SIGNING_CONTEXT`] followed by the payload bytes. The joiner checks the signature
//! (a tampered token fails) and the expiry before dialing.
//!
//! The secret never travels in a join. Both sides derive an ed25519 *invite key* from it
//! ([`invite_key`]); the inviter stores only the invite's public key. The joiner sends that public
//! key (which invite), a fresh nonce, and a signature by the invite key over
//! [`JOIN_PROOF_CONTEXT`] ‖ inviter id ‖ joiner id ‖ nonce ([`join_request`]). The inviter takes
//! the joiner id from the Noise/TLS-authenticated connection, not from the request, so a proof
//! made for one node id is worthless to any other, and a passive reader learns neither the
//! secret nor anything that lets it join. The inviter checks that the request names it (a
//! foreign token fails), that it issued the invite, the proof, and that the invite is unused and
//! unexpired, and marks it used in the same transaction that records the partnership.

use crate::domain::audit::{self, AuditKind};
use crate::store::shared::{self, InviteRecord, PartnerRecord, PartnerStatus, PolicyVersion};
use crate::store::Store;
use anyhow::{anyhow, Result};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use policy::Policy;
use protocol::deal::Role;
use protocol::identity::NodeId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain separation for invite signatures.
pub const INVITE_SIGNING_CONTEXT: &[u8] = b"cosell/invite/v1\0";
/// Domain separation for deriving the invite key from the invite secret.
pub const INVITE_KEY_CONTEXT: &[u8] = b"cosell/invite-key/v1\0";
/// Domain separation for join proofs (signatures by the invite key).
pub const JOIN_PROOF_CONTEXT: &[u8] = b"cosell/join/v1\0";
/// Version of the join request this node sends and accepts.
pub const JOIN_REQUEST_VERSION: u32 = 2;
/// Bytes of the joiner's nonce.
pub const JOIN_NONCE_BYTES: usize = 32;
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
    #[error("the join proof does not match the invite: it was made for another node id, or the request was altered")]
    BadProof,
    #[error(
        "the joining node runs an older cosell that sends its invite secret; upgrade it to join"
    )]
    OldJoiner,
}

impl InviteError {
    /// `used`, `expired` or `unknown` when the invite can no longer be joined with (only a new
    /// invite helps); `None` for every other refusal.
    pub fn spent_code(&self) -> Option<&'static str> {
        match self {
            InviteError::Used => Some("used"),
            InviteError::Expired(_) => Some("expired"),
            InviteError::Unknown => Some("unknown"),
            _ => None,
        }
    }
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
    let mut secret = zeroize::Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, secret.as_mut());
    let payload = InvitePayload {
        v: 1,
        inviter,
        name,
        addrs,
        secret: hex::encode(secret.as_slice()),
        expires_ms: now_ms + ttl_ms,
    };
    let bytes = serde_json::to_vec(&payload)?;
    let signature = key.sign(&signing_bytes(&bytes));
    let txn = store.write()?;
    shared::put_invite_in(
        &txn,
        &hex::encode(invite_key(&secret).verifying_key().to_bytes()),
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
        AuditKind::Partner,
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

/// The ed25519 key both sides derive from an invite secret: the joiner signs its join proof with
/// it, and the inviter keeps only its public half (the invite's id in the `invites` table).
pub fn invite_key(secret: &[u8; 32]) -> SigningKey {
    let mut hasher = Sha256::new();
    hasher.update(INVITE_KEY_CONTEXT);
    hasher.update(secret);
    SigningKey::from_bytes(&hasher.finalize().into())
}

/// What the invite key signs to prove a join: both node ids and the joiner's nonce. Base58
/// node ids never contain a NUL byte, so the separators keep the fields apart.
fn join_proof_bytes(inviter: &str, joiner: &str, nonce: &[u8]) -> Vec<u8> {
    let mut out = JOIN_PROOF_CONTEXT.to_vec();
    out.extend_from_slice(inviter.as_bytes());
    out.push(0);
    out.extend_from_slice(joiner.as_bytes());
    out.push(0);
    out.extend_from_slice(nonce);
    out
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

/// The join request and answer are wire types of `net` (kind `JOIN`, JSON); what they prove and
/// when a join is accepted is decided here. The request carries no secret: see the module
/// comment.
pub use crate::net::wire::{JoinAnswer, JoinRequest};

/// The joiner's side: a join request for the invite in `payload`, proving the secret for the
/// node id `joiner` (this node's own id; the inviter checks it against the connection).
pub fn join_request(
    payload: &InvitePayload,
    joiner: &str,
    name: &str,
    addrs: Vec<String>,
) -> Result<JoinRequest, InviteError> {
    let decoded =
        zeroize::Zeroizing::new(hex::decode(&payload.secret).map_err(|_| InviteError::Malformed)?);
    let secret: zeroize::Zeroizing<[u8; 32]> = zeroize::Zeroizing::new(
        decoded
            .as_slice()
            .try_into()
            .map_err(|_| InviteError::Malformed)?,
    );
    let key = invite_key(&secret);
    let mut nonce = [0u8; JOIN_NONCE_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let proof = key.sign(&join_proof_bytes(&payload.inviter, joiner, &nonce));
    Ok(JoinRequest {
        v: JOIN_REQUEST_VERSION,
        inviter: payload.inviter.clone(),
        invite: hex::encode(key.verifying_key().to_bytes()),
        nonce: hex::encode(nonce),
        proof: hex::encode(proof.to_bytes()),
        name: name.to_string(),
        addrs,
    })
}

/// Reads a join request body. A body of the old format (which carried the whole token) is
/// refused with [`InviteError::OldJoiner`] without being kept or logged.
pub fn parse_join_request(body: &[u8]) -> Result<JoinRequest, InviteError> {
    match serde_json::from_slice::<JoinRequest>(body) {
        Ok(r) if r.v == JOIN_REQUEST_VERSION => Ok(r),
        Ok(_) => Err(InviteError::Malformed),
        Err(_) => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) if v.get("token").is_some() => Err(InviteError::OldJoiner),
            _ => Err(InviteError::Malformed),
        },
    }
}

/// The request's invite key, nonce and proof, decoded (any bad length is `Malformed`).
fn decode_proof(
    request: &JoinRequest,
) -> Result<(VerifyingKey, Vec<u8>, ed25519_dalek::Signature), InviteError> {
    let key: [u8; 32] = hex::decode(&request.invite)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(InviteError::Malformed)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| InviteError::Malformed)?;
    let nonce = hex::decode(&request.nonce).map_err(|_| InviteError::Malformed)?;
    if nonce.len() != JOIN_NONCE_BYTES {
        return Err(InviteError::Malformed);
    }
    let proof: [u8; 64] = hex::decode(&request.proof)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(InviteError::Malformed)?;
    Ok((key, nonce, ed25519_dalek::Signature::from_bytes(&proof)))
}

/// The inviter's side of a join: `joiner` is the node id the connection authenticated. Checks
/// that the request names this node, that this node issued the invite, the proof for `joiner`,
/// and that the invite is unused and unexpired; then records the partnership and marks the
/// invite used, in one transaction.
pub fn accept_join(
    store: &Store,
    me: &str,
    joiner: &str,
    request: &JoinRequest,
    now_ms: u64,
) -> Result<PartnerRecord, InviteError> {
    if request.inviter != me {
        return Err(InviteError::Foreign);
    }
    if joiner == me {
        return Err(InviteError::Own);
    }
    let (key, nonce, proof) = decode_proof(request)?;
    let id = hex::encode(key.to_bytes());
    let done = (|| -> Result<Result<PartnerRecord, InviteError>> {
        let txn = store.write()?;
        let Some(mut invite) = shared::invite_in(&txn, &id)? else {
            return Ok(Err(InviteError::Unknown));
        };
        // The proof comes before the invite's state: a node without the secret learns nothing
        // about whether the invite was used.
        if key
            .verify_strict(&join_proof_bytes(me, joiner, &nonce), &proof)
            .is_err()
        {
            return Ok(Err(InviteError::BadProof));
        }
        if invite.used_by.is_some() {
            return Ok(Err(InviteError::Used));
        }
        if invite.expires_ms <= now_ms {
            return Ok(Err(InviteError::Expired(audit::rfc3339(invite.expires_ms))));
        }
        invite.used_by = Some(joiner.to_string());
        invite.used_ms = Some(now_ms);
        shared::put_invite_in(&txn, &id, &invite)?;
        let record = PartnerRecord {
            id: joiner.to_string(),
            name: clean_name(&request.name, joiner),
            partner_type: invite.partner_type.clone(),
            status: PartnerStatus::Active,
            since_ms: now_ms,
            last_seen_ms: Some(now_ms),
            addrs: request.addrs.iter().take(16).cloned().collect(),
            removed_ms: None,
            ended_by_partner: false,
        };
        shared::put_partner_in(&txn, &record)?;
        let mut summary = format!("{} joined as a partner", record.name);
        if let Some(old) = previous_policy(store, joiner)? {
            summary.push_str(&format!("; {old}"));
        }
        audit::record_in(
            &txn,
            now_ms,
            AuditKind::Partner,
            Some(joiner),
            summary,
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
        status: PartnerStatus::Active,
        since_ms: now_ms,
        last_seen_ms: Some(now_ms),
        addrs: payload.addrs.iter().take(16).cloned().collect(),
        removed_ms: None,
        ended_by_partner: false,
    };
    let previous = previous_policy(store, &record.id)?;
    let txn = store.write()?;
    shared::put_partner_in(&txn, &record)?;
    let mut summary = format!("joined {} as a partner", record.name);
    if let Some(old) = &previous {
        summary.push_str(&format!("; {old}"));
    }
    audit::record_in(
        &txn,
        now_ms,
        AuditKind::Partner,
        Some(&record.id),
        summary,
        serde_json::json!({"event": "joined", "name": record.name, "type": record.partner_type}),
    )?;
    txn.commit()?;
    Ok(record)
}

/// What a partner that joins again finds: the policy this node kept for it from before, which
/// applies again at once (`None` for a first partnership, or one that never had a policy).
pub fn previous_policy(store: &Store, partner: &str) -> Result<Option<String>> {
    let versions = shared::policy_versions(store, partner)?;
    Ok(versions.last().map(|v| {
        format!(
            "the policy set for it before (version {}, set {} by {}) applies again: review it with `cosell policy show {partner}`",
            v.version,
            audit::rfc3339(v.at_ms),
            v.by
        )
    }))
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
    // An id is one lookup: a hub sharing with one of 1,000 partners does not read them all.
    if let Some(p) = shared::partner(store, wanted)? {
        return Ok(p);
    }
    let all = shared::partners(store)?;
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

/// Ends a partnership: the partner is refused from now on (and told so, by the network).
pub fn remove(store: &Store, id: &str, now_ms: u64) -> Result<PartnerRecord> {
    let Some(mut record) = shared::partner(store, id)? else {
        return Err(anyhow!("no partner with id {id}"));
    };
    end(store, &mut record, now_ms, false)?;
    Ok(record)
}

/// The partner told this node it ended the partnership: recorded as removed (by the partner),
/// so this node stops dialing it and shows the partnership as ended. `None` when `id` is no
/// active partner here (nothing to end).
pub fn ended_by_partner(store: &Store, id: &str, now_ms: u64) -> Result<Option<PartnerRecord>> {
    let Some(mut record) = shared::partner(store, id)?.filter(|p| p.is_active()) else {
        return Ok(None);
    };
    end(store, &mut record, now_ms, true)?;
    Ok(Some(record))
}

fn end(store: &Store, record: &mut PartnerRecord, now_ms: u64, by_partner: bool) -> Result<()> {
    record.status = PartnerStatus::Removed;
    record.removed_ms = Some(now_ms);
    record.ended_by_partner = by_partner;
    let (summary, event) = if by_partner {
        (
            format!("{} ended the partnership", record.name),
            "ended_by_partner",
        )
    } else {
        (format!("removed partner {}", record.name), "removed")
    };
    let txn = store.write()?;
    shared::put_partner_in(&txn, record)?;
    audit::record_in(
        &txn,
        now_ms,
        AuditKind::Partner,
        Some(&record.id),
        summary,
        serde_json::json!({"event": event, "name": record.name}),
    )?;
    txn.commit()?;
    Ok(())
}

/// The policy in force for a partner: its newest version, or deny-all.
pub fn policy_for(store: &Store, partner: &str) -> Result<Policy> {
    match shared::latest_policy(store, partner)? {
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
    let previous = shared::latest_policy(store, &partner.id)?;
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
    shared::put_policy_in(&txn, &partner.id, &version)?;
    audit::record_in(
        &txn,
        now_ms,
        AuditKind::Policy,
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
    Ok(match shared::latest_policy(store, partner)? {
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

    fn node(seed: u8) -> (SigningKey, String) {
        let k = SigningKey::from_bytes(&[seed; 32]);
        let id = NodeId::from_public_key(&k.verifying_key().to_bytes())
            .unwrap()
            .to_string();
        (k, id)
    }

    fn token(ttl_ms: u64, now_ms: u64) -> (tempfile::TempDir, Store, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        crate::store::ensure_tables(&store).unwrap();
        let (k, id) = node(7);
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

    /// A join request for token `t` made by node id `joiner`.
    fn join(t: &str, joiner: &str, now_ms: u64) -> JoinRequest {
        let payload = read_token(t, now_ms).unwrap();
        join_request(&payload, joiner, "Reseller", vec![]).unwrap()
    }

    #[test]
    fn invite_is_accepted_once_then_refused_as_used() {
        let (_d, store, me, t) = token(1000, 10);
        let (_, joiner) = node(9);
        assert!(accept_join(&store, &me, &joiner, &join(&t, &joiner, 20), 20).is_ok());
        assert_eq!(
            accept_join(&store, &me, &joiner, &join(&t, &joiner, 21), 21),
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
        let (_, joiner) = node(9);
        let request = join(&t, &joiner, 20);
        assert_eq!(
            accept_join(&store, "12D3KooWother", &joiner, &request, 20).unwrap_err(),
            InviteError::Foreign
        );
        assert_eq!(
            accept_join(&store, &me, &me, &join(&t, &me, 20), 20).unwrap_err(),
            InviteError::Own
        );
        // The inviter checks the expiry it stored, whatever the joiner's clock said.
        assert!(matches!(
            accept_join(&store, &me, &joiner, &request, 5000),
            Err(InviteError::Expired(_))
        ));
        assert_eq!(read_token("garbage", 0), Err(InviteError::Malformed));
    }

    #[test]
    fn a_join_proof_made_for_one_node_id_is_refused_from_another_and_leaves_the_invite_open() {
        let (_d, store, me, t) = token(1000, 10);
        let (_, joiner) = node(9);
        let (_, replayer) = node(11);
        let request = join(&t, &joiner, 20);
        assert_eq!(
            accept_join(&store, &me, &replayer, &request, 20),
            Err(InviteError::BadProof)
        );
        // Altering what was signed breaks the proof too.
        let mut other_nonce = request.clone();
        other_nonce.nonce = hex::encode([0u8; JOIN_NONCE_BYTES]);
        assert_eq!(
            accept_join(&store, &me, &joiner, &other_nonce, 20),
            Err(InviteError::BadProof)
        );
        // The invite is still open for the node it was made for.
        assert!(accept_join(&store, &me, &joiner, &request, 21).is_ok());
    }

    #[test]
    fn a_join_request_carries_neither_the_secret_nor_the_token() {
        let (_d, store, me, t) = token(1000, 10);
        let payload = read_token(&t, 20).unwrap();
        let (_, joiner) = node(9);
        let request = join(&t, &joiner, 20);
        let wire = String::from_utf8(serde_json::to_vec(&request).unwrap()).unwrap();
        assert!(!wire.contains(&payload.secret), "{wire}");
        let (payload_hex, _) = t.split_once('.').unwrap();
        assert!(!wire.contains(payload_hex), "{wire}");
        // Nor does the store keep it: the invite is filed under its public key.
        let txn = store.write().unwrap();
        assert!(shared::invite_in(&txn, &request.invite).unwrap().is_some());
        drop(txn);
        // A proof with a key this node never issued names an unknown invite.
        let mut stranger = request.clone();
        stranger.invite = hex::encode(invite_key(&[1u8; 32]).verifying_key().to_bytes());
        assert_eq!(
            accept_join(&store, &me, &joiner, &stranger, 20),
            Err(InviteError::Unknown)
        );
    }

    #[test]
    fn join_request_bodies_of_the_old_format_or_garbage_are_refused() {
        let old = br#"{"token":"aa.bb","name":"x","addrs":[]}"#;
        assert_eq!(parse_join_request(old).unwrap_err(), InviteError::OldJoiner);
        assert_eq!(
            parse_join_request(b"{").unwrap_err(),
            InviteError::Malformed
        );
        let mut request = JoinRequest {
            v: JOIN_REQUEST_VERSION,
            inviter: "a".into(),
            invite: "b".into(),
            nonce: "c".into(),
            proof: "d".into(),
            name: "n".into(),
            addrs: vec![],
        };
        let body = serde_json::to_vec(&request).unwrap();
        assert!(parse_join_request(&body).is_ok());
        request.v = 3;
        let body = serde_json::to_vec(&request).unwrap();
        assert_eq!(
            parse_join_request(&body).unwrap_err(),
            InviteError::Malformed
        );
    }
}
