//! Every redb table of the node, in one list: its name, key and value types, and what it holds.
//! `docs/storage.md` lists the same tables (a test below checks it names each one); keep the two
//! in step. The tables of older schema versions, which only a migration step opens, stay beside
//! that step in `store/mod.rs`.
//!
//! Keys and values: `&str` are UTF-8; `IdKey` is a record id's 16 bytes ([`super::id_key`]);
//! JSON values are serde of the named storage type.

use super::id_key::{IdKey, PairEntry, StageEntry};
use anyhow::Result;
use redb::{TableDefinition, WriteTransaction};

/// Declares the tables, [`NAMES`] and [`create_all`] from one list.
macro_rules! tables {
    ($($(#[$doc:meta])* $name:ident: $key:ty => $value:ty = $table:literal;)*) => {
        $($(#[$doc])* pub(crate) const $name: TableDefinition<$key, $value> =
            TableDefinition::new($table);)*

        /// The name of every table, in the order of this file.
        pub const NAMES: &[&str] = &[$($table),*];

        /// Creates every table that is not there yet (opening an existing one changes nothing).
        pub(crate) fn create_all(txn: &WriteTransaction) -> Result<()> {
            $(txn.open_table($name)?;)*
            Ok(())
        }

        /// Copies every table from the snapshot `from` into `to` (a new, empty database), for
        /// a backup: one read transaction, so the copy is one consistent moment of the store.
        pub(crate) fn copy_all(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<()> {
            $(copy_table(from, to, $name)?;)*
            Ok(())
        }
    };
}

/// Copies one table entry by entry (keys come in order, which is redb's fastest insert).
fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &redb::ReadTransaction,
    to: &WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<()> {
    use redb::ReadableTable;
    let Some(source) = super::open_table_if_exists(from, table)? else {
        return Ok(());
    };
    let mut target = to.open_table(table)?;
    for entry in source.iter()? {
        let (k, v) = entry?;
        target.insert(k.value(), v.value())?;
    }
    Ok(())
}

tables! {
    // The node's own records (schema version: `store::SCHEMA_VERSION`).

    /// Small key → value metadata: `schema_version` and `run_counter`, each a u64 big-endian;
    /// `audit_checkpoint`, the audit retention checkpoint as JSON (`domain::audit_retention`).
    META: &str => &[u8] = "meta";
    /// Account id → account record ([`super::codec`]'s binary encoding).
    ACCOUNTS: &IdKey => &[u8] = "accounts";
    /// CRM external id → account id: the upsert key of imports.
    ACCOUNTS_BY_EXTERNAL: &str => &IdKey = "accounts_by_external_id";
    /// (normalized domain, account id) → () — several accounts may share a domain.
    ACCOUNTS_BY_DOMAIN: (&str, &IdKey) => () = "accounts_by_domain";
    /// (exact name, account id) → ().
    ACCOUNTS_BY_NAME: (&str, &IdKey) => () = "accounts_by_name";
    /// Opportunity id → opportunity record ([`super::codec`]'s binary encoding).
    OPPORTUNITIES: &IdKey => &[u8] = "opportunities";
    /// CRM external id → opportunity id: the upsert key of imports.
    OPPORTUNITIES_BY_EXTERNAL: &str => &IdKey = "opportunities_by_external_id";
    /// stage code ‖ opportunity id → () ([`super::id_key::stage_entry`]; the codes are
    /// [`super::codec::stage_code`]'s).
    OPPORTUNITIES_BY_STAGE: &StageEntry => () = "opportunities_by_stage";
    /// account id ‖ opportunity id → () ([`super::id_key::pair_entry`]).
    OPPORTUNITIES_BY_ACCOUNT: &PairEntry => () = "opportunities_by_account";
    /// (search term, account id) → (): the `?q=` index of accounts ([`super::search`]): the
    /// lower-case name and each word of it, domain and external id, each cut to 32 bytes.
    ACCOUNTS_SEARCH: (&str, &IdKey) => () = "accounts_search";
    /// (search term, opportunity id) → (): the `?q=` index of opportunities: the lower-case
    /// name and each word of it, external id and owner, each cut to 32 bytes.
    OPPORTUNITIES_SEARCH: (&str, &IdKey) => () = "opportunities_search";
    /// SHA-256 of an API token (hex) → token record as JSON. The token itself is never stored.
    TOKENS: &str => &[u8] = "api_tokens";

    // The network side ([`super::shared`]).

    /// Node id → [`super::shared::PartnerRecord`] as JSON.
    PARTNERS: &str => &[u8] = "partners";
    /// The invite's public key (hex; `partners::invite_key`, derived from the secret) →
    /// [`super::shared::InviteRecord`] as JSON. Neither the secret nor anything that can prove it
    /// is kept. (Rows of older versions are keyed by SHA-256 of the secret: no join proof finds
    /// them.)
    INVITES: &str => &[u8] = "invites";
    /// (partner node id, version) → [`super::shared::PolicyVersion`] as JSON. Versions start at
    /// 1; none = deny all.
    POLICIES: (&str, u64) => &[u8] = "partner_policies";
    /// Deal id (hex) → [`super::shared::DealMeta`] as JSON.
    DEALS: &str => &[u8] = "deals";
    /// (deal id, change hash), both hex → the signed envelope's canonical bytes, encrypted with
    /// the deal's key in [`DEAL_KEYS`] (`CSE1` ‖ nonce ‖ ciphertext; older rows are plain).
    DEAL_CHANGES: (&str, &str) => &[u8] = "deal_changes";
    /// Deal id (hex) → the 32-byte key its stored changes are encrypted with. Deleting it when a
    /// deal is withdrawn leaves no readable copy of the deal's content in the file, even in
    /// pages redb freed but has not overwritten yet (SECURITY.md, "Withdrawing a deal").
    DEAL_KEYS: &str => &[u8] = "deal_keys";
    /// Deal (or invitation) id (hex) → [`super::shared::Tombstone`] as JSON: all that stays of a
    /// withdrawn deal (who, when, why).
    DEAL_TOMBSTONES: &str => &[u8] = "deal_tombstones";
    /// (opportunity id, deal id) → (): the deals this node shared from an opportunity.
    DEALS_BY_OPPORTUNITY: (&str, &str) => () = "deals_by_opportunity";
    /// (deal id, peer node id) → the peer's sync state as `PeerSync::encode` writes it.
    SYNC_STATES: (&str, &str) => &[u8] = "sync_states";
    /// Sequence number → [`super::shared::AuditEntry`] as JSON, in the order things happened.
    AUDIT: u64 => &[u8] = "audit";
    /// `"<event kind>/<document id>"` → ms since the epoch: the workflow events published once
    /// for good (`registration.overdue`; `registration.changed_after_decision/<id>/<decided
    /// at>/<terms digest>`), recorded before publishing (`domain::registrations`); and
    /// `erasure/<deal>/<digest>/<at>`: an origin's erasure request applied once (`domain::erase`).
    EVENTS_PUBLISHED: &str => u64 = "workflow_events_published";

    // Account mapping (`domain::mapping`).

    /// Name → `PopulationDef` as JSON (custom populations only).
    MAPPING_POPULATIONS: &str => &[u8] = "mapping_populations";
    /// Partner node id → `StoredMatrix` as JSON: the latest run.
    MAPPING_MATRICES: &str => &[u8] = "mapping_matrices";
    /// Partner node id → the start times (ms since the epoch, a JSON array) of the runs with it
    /// in the last hour: the rate limit's count, kept across restarts.
    MAPPING_RUNS: &str => &[u8] = "mapping_runs";
    /// Partner node id → ms since the epoch of the last finished run with it (either side) or
    /// the last scheduled attempt: what the schedule compares with its interval.
    MAPPING_LAST_RUN: &str => u64 = "mapping_last_run";

    // Market development funds (`domain::mdf`).

    /// (partner node id, period `YYYY-QN`) → `Allocation` as JSON: the fund the vendor sets
    /// aside for that partner and quarter. The requests themselves are shared documents.
    MDF_ALLOCATIONS: (&str, &str) => &[u8] = "mdf_allocations";

    // Lead distribution (`domain::leads`).

    /// Lead id → `Lead` as JSON: the vendor's inbound leads and their current offer.
    LEADS: &str => &[u8] = "leads";
    /// `rules` → the routing rules file as written; `cursor` → the round robin's last index.
    LEAD_SETTINGS: &str => &[u8] = "lead_settings";

    // People and hooks (`domain::users`, `domain::webhooks`).

    /// Username (lowercase) → `User` as JSON (with its argon2id password hash).
    USERS: &str => &[u8] = "users";
    /// SHA-256 of the session id (hex) → `Session` as JSON. The cookie value is never stored.
    SESSIONS: &str => &[u8] = "sessions";
    /// SHA-256 of an OIDC sign-in's `state` (hex) → the pending sign-in (nonce, PKCE
    /// verifier, browser binding hash, expiry) as JSON (`domain::oidc`).
    OIDC_PENDING: &str => &[u8] = "oidc_pending";
    /// SHA-256 of a SCIM bearer token (hex) → token record as JSON (`domain::scim`).
    SCIM_TOKENS: &str => &[u8] = "scim_tokens";
    /// SCIM user id → the SCIM User resource as JSON; its `userName` names a `users` entry.
    SCIM_USERS: &str => &[u8] = "scim_users";
    /// SCIM group id → the SCIM Group resource as JSON (members, and the role its name gives).
    SCIM_GROUPS: &str => &[u8] = "scim_groups";
    /// Webhook id → `Webhook` as JSON (with its HMAC secret).
    WEBHOOKS: &str => &[u8] = "webhooks";
    /// (webhook id, delivery id) → `Delivery` as JSON: the delivery log.
    WEBHOOK_DELIVERIES: (&str, &str) => &[u8] = "webhook_deliveries";

    // E-mail notifications (`domain::notify`).

    /// Username → `notify::Settings` as JSON: the address, the notifications wanted, digest.
    NOTIFY_SETTINGS: &str => &[u8] = "notify_settings";
    /// `"<username>\0<notification>\0<subject>"` → ms since the epoch: what was mailed (or
    /// queued) once, so an event seen again sends nothing.
    NOTIFY_SENT: &str => u64 = "notify_sent";
    /// `"<username>\0<ms, 20 digits>\0<n>"` → `notify::Item` as JSON: items waiting for the
    /// user's next digest.
    NOTIFY_DIGEST: &str => &[u8] = "notify_digest";

    // The partner program (`domain::program`).

    /// Version (from 1) → `program::StoredProgram` as JSON: every program file set, the newest
    /// in force.
    PROGRAM_VERSIONS: u64 => &[u8] = "program_versions";
    /// Attestation id (32 hex digits) → `program::attestations::Issued` as JSON: the signed
    /// file this node issued, and its revocation if any.
    ATTESTATIONS: &str => &[u8] = "attestations";

    // Hub interchange (`domain::hub`).

    /// Opportunity id → `hub::Source` as JSON: the AWS ACE or Microsoft record it came from.
    HUB_SOURCES: &str => &[u8] = "hub_sources";
    /// `"<hub>/<hub id>"` (`ace/O1234`) → opportunity id: the upsert key of hub imports.
    HUB_BY_SOURCE: &str => &str = "hub_by_source";
    /// Invitation id (a ULID) → `hub::invitations::Invitation` as JSON: ACE opportunity
    /// invitations and incoming MS referrals, until answered (and after, with the answer).
    HUB_INVITATIONS: &str => &[u8] = "hub_invitations";

    /// Partner node id → the tier it was last computed at (`""`: below the first tier): a
    /// change publishes `program.tier_changed` once (`domain::program::tiers`).
    PROGRAM_TIERS: &str => &str = "program_tiers";
    /// Partner node id → its region (free text an admin sets, e.g. `EMEA`): the `region:R`
    /// audience of announcements (`domain::program::announcements`).
    PARTNER_REGIONS: &str => &str = "partner_regions";
    /// Announcement id (a ULID) → `program::announcements::Sent` as JSON: what the vendor
    /// announced, to which audience, and the document sent to each partner in it.
    ANNOUNCEMENTS: &str => &[u8] = "announcements";

    // Saved views of the mapping matrix (`domain::mapping_views`).

    /// (username, view name) → `mapping_views::Saved` as JSON: the view and when it was saved.
    MAPPING_VIEWS: (&str, &str) => &[u8] = "mapping_views";
}

#[cfg(test)]
mod tests {
    use super::NAMES;

    #[test]
    fn docs_storage_lists_every_table_once() {
        let doc = include_str!("../../../docs/storage.md");
        for name in NAMES {
            let row = format!("| `{name}` |");
            assert_eq!(
                doc.matches(&row).count(),
                1,
                "docs/storage.md has no single row for table `{name}`"
            );
        }
        let mut sorted = NAMES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), NAMES.len(), "a table name is declared twice");
    }
}
