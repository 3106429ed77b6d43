//! The network side's redb tables: partnerships, invites, per-partner policy versions, shared
//! deals (their signed changes and per-peer sync state) and the audit log. Every function here
//! is one durable transaction unless it takes a transaction from its caller. Encodings are
//! written down in `docs/storage.md`.
//!
//! Values are JSON (storage types in this module only derive serde); signed change envelopes
//! and sync states are stored as the protocol crate encodes them.

use crate::store::tables::{
    AUDIT, DEALS, DEALS_BY_OPPORTUNITY, DEAL_CHANGES, DEAL_KEYS, DEAL_TOMBSTONES, INVITES, META,
    PARTNERS, POLICIES, SYNC_STATES,
};
use crate::store::Store;
use anyhow::{Context, Result};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// Where a partnership stands; stored and shown as `active` or `removed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerStatus {
    /// The partnership is on.
    Active,
    /// The partnership ended (by this node, or by the partner: [`PartnerRecord::ended_by_partner`]).
    Removed,
}

impl PartnerStatus {
    /// The status's name, as stored and as the API shows it.
    pub const fn as_str(self) -> &'static str {
        match self {
            PartnerStatus::Active => "active",
            PartnerStatus::Removed => "removed",
        }
    }
}

impl std::fmt::Display for PartnerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A partnership as this node records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartnerRecord {
    /// The partner's node id.
    pub id: String,
    /// The partner's company name, as it told us when joining.
    pub name: String,
    /// What the partner is to this node: reseller, distributor, si, isv, msp, referral, vendor.
    #[serde(default)]
    pub partner_type: Option<String>,
    /// `active` or `removed` (by this node, or — [`Self::ended_by_partner`] — by the partner).
    pub status: PartnerStatus,
    /// When the partnership started (ms since the epoch).
    pub since_ms: u64,
    /// When the partner was last connected.
    #[serde(default)]
    pub last_seen_ms: Option<u64>,
    /// Where to dial the partner (multiaddrs, without the `/p2p/` suffix).
    #[serde(default)]
    pub addrs: Vec<String>,
    /// When the partnership was removed.
    #[serde(default)]
    pub removed_ms: Option<u64>,
    /// The partner ended the partnership (it told this node so), rather than this node.
    #[serde(default)]
    pub ended_by_partner: bool,
}

impl PartnerRecord {
    /// Whether the partnership is active.
    pub fn is_active(&self) -> bool {
        self.status == PartnerStatus::Active
    }
}

/// An invite this node issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteRecord {
    /// When it was issued.
    pub created_ms: u64,
    /// When it stops being accepted.
    pub expires_ms: u64,
    /// What the joiner will be to this node.
    #[serde(default)]
    pub partner_type: Option<String>,
    /// Who used it, once used.
    #[serde(default)]
    pub used_by: Option<String>,
    /// When it was used.
    #[serde(default)]
    pub used_ms: Option<u64>,
}

/// One stored version of the policy for one partner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// 1, 2, 3…
    pub version: u64,
    /// When it was set.
    pub at_ms: u64,
    /// Who set it (the API caller's role or token label).
    pub by: String,
    /// The policy in canonical TOML.
    pub text: String,
    /// What changed from the previous version, one line each.
    pub diff: Vec<String>,
}

/// What this node keeps about a deal beside its document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DealMeta {
    /// The deal id (hex).
    pub id: String,
    /// The local opportunity the deal was shared from (origin only; never leaves the node).
    #[serde(default)]
    pub opportunity_id: Option<String>,
    /// When this node first stored the deal.
    pub stored_ms: u64,
    /// Changes (hashes, hex) whose content an erasure removed from this node's views: the
    /// history shows them as erased (SECURITY.md, "Erasure").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

/// What stays of a withdrawn deal (table `deal_tombstones`, keyed by its id): who withdrew it,
/// when, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The origin's company name.
    pub by: String,
    /// The origin's node id.
    pub by_node: String,
    /// When the origin signed the withdrawal (ms since the epoch).
    pub at_ms: u64,
    /// The reason the origin gave.
    pub why: String,
    /// The deal this was an invitation to, for an invitation document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_deal: Option<String>,
}

/// The kind of an audit entry; stored and shown as its snake_case name (`share`, `share_update`,
/// `policy`, `partner`, `rejected`, `mapping`, `registration`, `access`, `record`, `withdraw`,
/// `erasure`, `retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A deal was created from an opportunity and sent to partners.
    Share,
    /// The origin's opportunity changed and new shared fields went out.
    ShareUpdate,
    /// A partner's policy was set.
    Policy,
    /// A partnership started or ended, or an invite was issued or refused.
    Partner,
    /// An incoming change or message was refused.
    Rejected,
    /// An account mapping run finished.
    Mapping,
    /// A registration was submitted, changed, approved, rejected, revoked or lapsed (and its
    /// terms changed after its vendor decided on them).
    Registration,
    /// A sign-in or sign-out, a user or API token made or removed.
    Access,
    /// A local record (account, opportunity) was deleted.
    Record,
    /// A deal was withdrawn by its origin.
    Withdraw,
    /// A person's data was erased.
    Erasure,
    /// The partner program changed: a program file set, an attestation issued or revoked.
    Program,
    /// Entries older than the retention setting were removed, under a signed checkpoint.
    Retention,
    /// A market-development-fund request moved (`domain::mdf`), or an allocation was set.
    Mdf,
    /// A lead was imported, routed, offered, accepted, rejected or withdrawn (`domain::leads`).
    Lead,
    /// An account plan was opened or changed by this node (`domain::plans`).
    Plan,
}

impl AuditKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: &'static [AuditKind] = &[
        AuditKind::Share,
        AuditKind::ShareUpdate,
        AuditKind::Policy,
        AuditKind::Partner,
        AuditKind::Rejected,
        AuditKind::Mapping,
        AuditKind::Registration,
        AuditKind::Access,
        AuditKind::Record,
        AuditKind::Withdraw,
        AuditKind::Erasure,
        AuditKind::Program,
        AuditKind::Retention,
        AuditKind::Mdf,
        AuditKind::Lead,
        AuditKind::Plan,
    ];

    /// The names of [`AuditKind::ALL`], in the same order.
    pub const NAMES: &'static [&'static str] = &[
        AuditKind::Share.as_str(),
        AuditKind::ShareUpdate.as_str(),
        AuditKind::Policy.as_str(),
        AuditKind::Partner.as_str(),
        AuditKind::Rejected.as_str(),
        AuditKind::Mapping.as_str(),
        AuditKind::Registration.as_str(),
        AuditKind::Access.as_str(),
        AuditKind::Record.as_str(),
        AuditKind::Withdraw.as_str(),
        AuditKind::Erasure.as_str(),
        AuditKind::Program.as_str(),
        AuditKind::Retention.as_str(),
        AuditKind::Mdf.as_str(),
        AuditKind::Lead.as_str(),
        AuditKind::Plan.as_str(),
    ];

    /// The kind's name, as stored and as the API shows it.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditKind::Share => "share",
            AuditKind::ShareUpdate => "share_update",
            AuditKind::Policy => "policy",
            AuditKind::Partner => "partner",
            AuditKind::Rejected => "rejected",
            AuditKind::Mapping => "mapping",
            AuditKind::Registration => "registration",
            AuditKind::Access => "access",
            AuditKind::Record => "record",
            AuditKind::Withdraw => "withdraw",
            AuditKind::Erasure => "erasure",
            AuditKind::Program => "program",
            AuditKind::Retention => "retention",
            AuditKind::Mdf => "mdf",
            AuditKind::Lead => "lead",
            AuditKind::Plan => "plan",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<AuditKind> {
        AuditKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log.
    pub seq: u64,
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// What kind of entry (stored as its name, e.g. `share`).
    pub kind: AuditKind,
    /// The partner concerned, if one.
    #[serde(default)]
    pub peer: Option<String>,
    /// Who acted: `user 'ana' (admin)`, `token 'ci' (manager)`, `partner node X` or `this node`
    /// (entries written before actors were recorded have none).
    #[serde(default)]
    pub actor: Option<String>,
    /// One sentence for people.
    pub summary: String,
    /// Structured details.
    #[serde(default)]
    pub details: serde_json::Value,
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).context("a stored network record is corrupt")
}

/// Every partner record (active and removed), in id order.
pub fn partners(store: &Store) -> Result<Vec<PartnerRecord>> {
    let txn = store.read()?;
    let table = txn.open_table(PARTNERS)?;
    let mut out = Vec::new();
    for entry in table.range::<&str>(..)? {
        let (_, v) = entry?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

/// At most `limit` partner records in node id order, after the node id `after` (a previous
/// page's `next_cursor`).
pub fn partners_page(
    store: &Store,
    after: Option<&str>,
    limit: usize,
) -> Result<crate::store::Page<PartnerRecord>> {
    use std::ops::Bound;
    let txn = store.read()?;
    let table = txn.open_table(PARTNERS)?;
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut items: Vec<PartnerRecord> = Vec::new();
    let mut more = false;
    for entry in table.range::<&str>((start, Bound::Unbounded))? {
        if items.len() == limit {
            more = true;
            break;
        }
        let (_, v) = entry?;
        items.push(decode(v.value())?);
    }
    let next_cursor = if more {
        items.last().map(|p| p.id.clone())
    } else {
        None
    };
    Ok(crate::store::Page { items, next_cursor })
}

/// One partner record.
pub fn partner(store: &Store, id: &str) -> Result<Option<PartnerRecord>> {
    let txn = store.read()?;
    let table = txn.open_table(PARTNERS)?;
    table.get(id)?.map(|v| decode(v.value())).transpose()
}

/// Writes a partner record inside `txn`.
pub fn put_partner_in(txn: &WriteTransaction, record: &PartnerRecord) -> Result<()> {
    let bytes = serde_json::to_vec(record)?;
    txn.open_table(PARTNERS)?
        .insert(record.id.as_str(), bytes.as_slice())?;
    Ok(())
}

/// Updates a partner's last-seen time and (when given) its addresses.
pub fn touch_partner(
    store: &Store,
    id: &str,
    now_ms: u64,
    addrs: Option<Vec<String>>,
) -> Result<()> {
    let txn = store.write()?;
    {
        let mut table = txn.open_table(PARTNERS)?;
        let current: Option<PartnerRecord> =
            table.get(id)?.map(|v| decode(v.value())).transpose()?;
        let Some(mut record) = current else {
            return Ok(());
        };
        record.last_seen_ms = Some(now_ms);
        if let Some(a) = addrs.filter(|a| !a.is_empty()) {
            record.addrs = a;
        }
        let bytes = serde_json::to_vec(&record)?;
        table.insert(id, bytes.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// Stores a new invite.
pub fn put_invite(store: &Store, invite_id: &str, record: &InviteRecord) -> Result<()> {
    let txn = store.write()?;
    put_invite_in(&txn, invite_id, record)?;
    txn.commit()?;
    Ok(())
}

/// Writes an invite inside `txn`.
pub fn put_invite_in(txn: &WriteTransaction, invite_id: &str, record: &InviteRecord) -> Result<()> {
    let bytes = serde_json::to_vec(record)?;
    txn.open_table(INVITES)?
        .insert(invite_id, bytes.as_slice())?;
    Ok(())
}

/// An invite inside `txn`.
pub fn invite_in(txn: &WriteTransaction, invite_id: &str) -> Result<Option<InviteRecord>> {
    let table = txn.open_table(INVITES)?;
    let v = table.get(invite_id)?.map(|v| decode(v.value())).transpose();
    v
}

/// Whether any invite is unused and unexpired (a stranger may then connect to join).
pub fn has_open_invite(store: &Store, now_ms: u64) -> Result<bool> {
    let txn = store.read()?;
    let table = txn.open_table(INVITES)?;
    for entry in table.range::<&str>(..)? {
        let (_, v) = entry?;
        let invite: InviteRecord = decode(v.value())?;
        if invite.used_by.is_none() && invite.expires_ms > now_ms {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether this node has issued any invite, open, used or expired (a stranger presenting one
/// then gets told why it cannot join rather than a closed connection).
pub fn has_issued_invites(store: &Store) -> Result<bool> {
    let txn = store.read()?;
    let table = txn.open_table(INVITES)?;
    let first = table.range::<&str>(..)?.next().transpose()?;
    Ok(first.is_some())
}

/// Every stored policy version for one partner, oldest first.
pub fn policy_versions(store: &Store, partner: &str) -> Result<Vec<PolicyVersion>> {
    let txn = store.read()?;
    let table = txn.open_table(POLICIES)?;
    let mut out = Vec::new();
    for entry in table.range((partner, 0u64)..=(partner, u64::MAX))? {
        let (_, v) = entry?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

/// The newest policy version for one partner.
pub fn latest_policy(store: &Store, partner: &str) -> Result<Option<PolicyVersion>> {
    let txn = store.read()?;
    let table = txn.open_table(POLICIES)?;
    let last = table
        .range((partner, 0u64)..=(partner, u64::MAX))?
        .next_back()
        .transpose()?;
    last.map(|(_, v)| decode(v.value())).transpose()
}

/// Appends a policy version inside `txn`.
pub fn put_policy_in(txn: &WriteTransaction, partner: &str, version: &PolicyVersion) -> Result<()> {
    let bytes = serde_json::to_vec(version)?;
    txn.open_table(POLICIES)?
        .insert((partner, version.version), bytes.as_slice())?;
    Ok(())
}

/// Appends an audit entry inside `txn` (its `seq` is assigned here).
pub fn audit_in(txn: &WriteTransaction, mut entry: AuditEntry) -> Result<()> {
    let mut table = txn.open_table(AUDIT)?;
    let next = table.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
    entry.seq = next;
    let bytes = serde_json::to_vec(&entry)?;
    table.insert(next, bytes.as_slice())?;
    Ok(())
}

/// The entries at the start of the audit log written before `before_ms`, oldest first, at most
/// `limit`: the scan stops at the first newer entry, so what stays is one contiguous tail.
pub fn audit_leading_before_in(
    txn: &WriteTransaction,
    before_ms: u64,
    limit: usize,
) -> Result<Vec<AuditEntry>> {
    let table = txn.open_table(AUDIT)?;
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (_, v) = entry?;
        let entry: AuditEntry = decode(v.value())?;
        if entry.at_ms >= before_ms || out.len() == limit {
            break;
        }
        out.push(entry);
    }
    Ok(out)
}

/// Removes the audit entries up to and including `last_seq` inside `txn`.
pub fn audit_remove_through_in(txn: &WriteTransaction, last_seq: u64) -> Result<()> {
    txn.open_table(AUDIT)?
        .retain_in(..=last_seq, |_, _| false)?;
    Ok(())
}

/// The value of `key` in the node's small metadata table.
pub fn meta_get(store: &Store, key: &str) -> Result<Option<Vec<u8>>> {
    let txn = store.read()?;
    let table = txn.open_table(META)?;
    let value = table.get(key)?.map(|v| v.value().to_vec());
    Ok(value)
}

/// The value of `key` in the node's small metadata table, inside `txn`.
pub fn meta_get_in(txn: &WriteTransaction, key: &str) -> Result<Option<Vec<u8>>> {
    let table = txn.open_table(META)?;
    let value = table.get(key)?.map(|v| v.value().to_vec());
    Ok(value)
}

/// Sets `key` in the node's small metadata table inside `txn`.
pub fn meta_put_in(txn: &WriteTransaction, key: &str, value: &[u8]) -> Result<()> {
    txn.open_table(META)?.insert(key, value)?;
    Ok(())
}

/// Audit entries after `after` (a seq), oldest first, at most `limit`.
pub fn audit_page(store: &Store, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
    let txn = store.read()?;
    let table = txn.open_table(AUDIT)?;
    let mut out = Vec::new();
    for entry in table.range((after + 1)..)? {
        let (_, v) = entry?;
        out.push(decode(v.value())?);
        if out.len() == limit {
            break;
        }
    }
    Ok(out)
}

/// Every deal's metadata, in id order.
pub fn deal_metas(store: &Store) -> Result<Vec<DealMeta>> {
    let txn = store.read()?;
    let table = txn.open_table(DEALS)?;
    let mut out = Vec::new();
    for entry in table.range::<&str>(..)? {
        let (_, v) = entry?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

/// One deal's metadata.
pub fn deal_meta(store: &Store, id: &str) -> Result<Option<DealMeta>> {
    let txn = store.read()?;
    let table = txn.open_table(DEALS)?;
    let v = table.get(id)?.map(|v| decode(v.value())).transpose();
    v
}

/// A deal's metadata, read inside `txn`.
pub fn deal_meta_in(txn: &WriteTransaction, id: &str) -> Result<Option<DealMeta>> {
    let table = txn.open_table(DEALS)?;
    let found = match table.get(id)? {
        Some(v) => Some(decode(v.value())?),
        None => None,
    };
    Ok(found)
}

/// Writes a deal's metadata inside `txn`, and its opportunity link.
pub fn put_deal_meta_in(txn: &WriteTransaction, meta: &DealMeta) -> Result<()> {
    let bytes = serde_json::to_vec(meta)?;
    txn.open_table(DEALS)?
        .insert(meta.id.as_str(), bytes.as_slice())?;
    if let Some(opp) = &meta.opportunity_id {
        txn.open_table(DEALS_BY_OPPORTUNITY)?
            .insert((opp.as_str(), meta.id.as_str()), ())?;
    }
    Ok(())
}

/// The deals shared from one opportunity.
pub fn deals_of_opportunity(store: &Store, opportunity_id: &str) -> Result<Vec<String>> {
    let txn = store.read()?;
    let table = txn.open_table(DEALS_BY_OPPORTUNITY)?;
    let mut out = Vec::new();
    for entry in table.range((opportunity_id, "")..)? {
        let (k, _) = entry?;
        let (opp, deal) = k.value();
        if opp != opportunity_id {
            break;
        }
        out.push(deal.to_string());
    }
    Ok(out)
}

/// Every stored envelope of one deal (decrypted).
pub fn deal_changes(store: &Store, deal: &str) -> Result<Vec<Vec<u8>>> {
    let txn = store.read()?;
    let table = txn.open_table(DEAL_CHANGES)?;
    let key = crate::store::open_table_if_exists(&txn, DEAL_KEYS)?
        .map(|keys| keys.get(deal).map(|v| v.map(|v| v.value().to_vec())))
        .transpose()?
        .flatten();
    let mut out = Vec::new();
    for entry in table.range((deal, "")..)? {
        let (k, v) = entry?;
        let (d, hash) = k.value();
        if d != deal {
            break;
        }
        out.push(at_rest::open(key.as_deref(), deal, hash, v.value())?);
    }
    Ok(out)
}

/// Every stored change of every deal, decrypted, as (deal id, envelope bytes): for
/// `cosell debug stored-changes`, which lets tests look for text in what is stored as they
/// look for it in the files (the files hold it encrypted).
pub fn all_changes(store: &Store) -> Result<Vec<(String, Vec<u8>)>> {
    let deals: Vec<String> = {
        let txn = store.read()?;
        let table = txn.open_table(DEAL_CHANGES)?;
        let mut ids: Vec<String> = Vec::new();
        for entry in table.range::<(&str, &str)>(..)? {
            let (k, _) = entry?;
            let d = k.value().0;
            if ids.last().map(String::as_str) != Some(d) {
                ids.push(d.to_string());
            }
        }
        ids
    };
    let mut out = Vec::new();
    for d in deals {
        for bytes in deal_changes(store, &d)? {
            out.push((d.clone(), bytes));
        }
    }
    Ok(out)
}

/// Writes one envelope inside `txn`, encrypted with the deal's key (made on its first change).
pub fn put_change_in(
    txn: &WriteTransaction,
    deal: &str,
    hash: &str,
    envelope: &[u8],
) -> Result<()> {
    let key = {
        let mut keys = txn.open_table(DEAL_KEYS)?;
        let found = keys.get(deal)?.map(|v| v.value().to_vec());
        match found {
            Some(k) => k,
            None => {
                let k = at_rest::new_key();
                keys.insert(deal, k.as_slice())?;
                k.to_vec()
            }
        }
    };
    let sealed = at_rest::seal(&key, deal, hash, envelope)?;
    txn.open_table(DEAL_CHANGES)?
        .insert((deal, hash), sealed.as_slice())?;
    Ok(())
}

/// The tombstone of a withdrawn deal (or invitation), if it was withdrawn.
pub fn tombstone(store: &Store, deal: &str) -> Result<Option<Tombstone>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, DEAL_TOMBSTONES)? else {
        return Ok(None);
    };
    let v = table.get(deal)?.map(|v| decode(v.value())).transpose();
    v
}

/// Every tombstone, as (document id, tombstone).
pub fn tombstones(store: &Store) -> Result<Vec<(String, Tombstone)>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, DEAL_TOMBSTONES)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.range::<&str>(..)? {
        let (k, v) = entry?;
        out.push((k.value().to_string(), decode(v.value())?));
    }
    Ok(out)
}

/// Replaces a document by its tombstone inside `txn`: its content goes ([`forget_deal_in`]),
/// its metadata row too, and the tombstone stays.
pub fn put_tombstone_in(txn: &WriteTransaction, deal: &str, tomb: &Tombstone) -> Result<()> {
    forget_deal_in(txn, deal)?;
    txn.open_table(DEALS)?.remove(deal)?;
    let bytes = serde_json::to_vec(tomb)?;
    txn.open_table(DEAL_TOMBSTONES)?
        .insert(deal, bytes.as_slice())?;
    Ok(())
}

/// Drops everything this node holds of a deal's content inside `txn`: its key, its changes and
/// its peers' sync states (what a withdrawal or an erasure leaves is its [`DealMeta`]).
pub fn forget_deal_in(txn: &WriteTransaction, deal: &str) -> Result<()> {
    txn.open_table(DEAL_KEYS)?.remove(deal)?;
    let mut changes = txn.open_table(DEAL_CHANGES)?;
    let hashes: Vec<String> = changes
        .range((deal, "")..)?
        .map_while(|e| {
            e.ok().and_then(|(k, _)| {
                let (d, h) = k.value();
                (d == deal).then(|| h.to_string())
            })
        })
        .collect();
    for h in &hashes {
        changes.remove((deal, h.as_str()))?;
    }
    let mut states = txn.open_table(SYNC_STATES)?;
    let peers: Vec<String> = states
        .range((deal, "")..)?
        .map_while(|e| {
            e.ok().and_then(|(k, _)| {
                let (d, p) = k.value();
                (d == deal).then(|| p.to_string())
            })
        })
        .collect();
    for p in &peers {
        states.remove((deal, p.as_str()))?;
    }
    Ok(())
}

/// Encryption of stored deal changes with a per-deal key (XChaCha20-Poly1305, the deal id and
/// change hash as associated data): deleting the key makes what the file still holds of the
/// deal unreadable.
mod at_rest {
    use anyhow::{anyhow, Result};
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};

    const MAGIC: &[u8; 4] = b"CSE1";
    const NONCE: usize = 24;

    pub(super) fn new_key() -> [u8; 32] {
        let mut k = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
        k
    }

    fn cipher(key: &[u8]) -> Result<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(key).map_err(|_| anyhow!("a stored deal key is corrupt"))
    }

    pub(super) fn seal(key: &[u8], deal: &str, hash: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let aad = format!("{deal}/{hash}");
        let sealed = cipher(key)?
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("cannot encrypt a deal change"))?;
        let mut out = Vec::with_capacity(4 + NONCE + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub(super) fn open(
        key: Option<&[u8]>,
        deal: &str,
        hash: &str,
        stored: &[u8],
    ) -> Result<Vec<u8>> {
        let Some(rest) = stored.strip_prefix(MAGIC.as_slice()) else {
            // Written before changes were encrypted.
            return Ok(stored.to_vec());
        };
        let key = key.ok_or_else(|| anyhow!("deal {deal} has encrypted changes but no key"))?;
        if rest.len() < NONCE {
            return Err(anyhow!("a stored change of deal {deal} is cut short"));
        }
        let (nonce, sealed) = rest.split_at(NONCE);
        let aad = format!("{deal}/{hash}");
        cipher(key)?
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("a stored change of deal {deal} does not decrypt"))
    }
}

/// A peer's stored sync state for a deal.
pub fn sync_state(store: &Store, deal: &str, peer: &str) -> Result<Option<Vec<u8>>> {
    let txn = store.read()?;
    let table = txn.open_table(SYNC_STATES)?;
    let v = table.get((deal, peer))?.map(|v| v.value().to_vec());
    Ok(v)
}

/// Writes a peer's sync state inside `txn`.
pub fn put_sync_state_in(
    txn: &WriteTransaction,
    deal: &str,
    peer: &str,
    state: &[u8],
) -> Result<()> {
    txn.open_table(SYNC_STATES)?.insert((deal, peer), state)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{AuditKind, PartnerRecord, PartnerStatus};

    #[test]
    fn a_partner_record_stores_its_status_as_the_same_string() {
        let stored = br#"{"id":"p","name":"P","partner_type":null,"status":"removed","since_ms":1,"last_seen_ms":null,"addrs":[],"removed_ms":2,"ended_by_partner":false}"#;
        let record: PartnerRecord = serde_json::from_slice(stored).unwrap();
        assert_eq!(record.status, PartnerStatus::Removed);
        assert!(!record.is_active());
        assert_eq!(serde_json::to_vec(&record).unwrap(), stored.to_vec());
        let active = PartnerRecord {
            status: PartnerStatus::Active,
            ..record
        };
        assert!(active.is_active());
        assert!(serde_json::to_string(&active)
            .unwrap()
            .contains(r#""status":"active""#));
        assert_eq!(PartnerStatus::Active.as_str(), "active");
        assert_eq!(AuditKind::ShareUpdate.as_str(), "share_update");
    }
}
