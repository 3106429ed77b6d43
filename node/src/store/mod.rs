//! The node's redb database: its own accounts and opportunities, their indexes, API tokens and
//! metadata. Table layout and encodings are written down in `docs/storage.md`; keep the two in
//! step. Every public write is one durable redb transaction: it is all there after a crash, or
//! none of it is.

use anyhow::{anyhow, bail, Context, Result};
use protocol::records::{Account, Opportunity, Stage};
use redb::{
    Database, DatabaseError, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, TableDefinition, TableHandle, WriteTransaction,
};
use std::ops::Bound;
use std::path::Path;

mod codec;
mod id_key;
pub mod shared;

use id_key::{
    entry_id, id_key, id_key_for_write, id_text, pair_entry, stage_entry, IdKey, PairEntry,
    StageEntry,
};

/// Schema version this build writes. Bump it with a migration step in [`Store::migrate`].
/// 1: records as JSON; 2: records in [`codec`]'s binary encoding; 3: ids in keys and index
/// values as 16 bytes ([`id_key`]), stages in the stage index as codes; 4: the (stage,
/// opportunity) and (account, opportunity) index entries as one fixed-width key each.
pub const SCHEMA_VERSION: u64 = 4;

/// Records re-encoded per step of a migration, so a step holds a bounded batch in memory.
const MIGRATION_BATCH_RECORDS: usize = 1024;

/// redb's page cache: read cache and write buffer together. redb's default (1 GiB) let a large
/// import's write transaction hold ~half its database in memory; with a bound, redb writes the
/// excess dirty pages to free space in the file before commit (still invisible until the commit,
/// so an import stays all or nothing) and the node's memory no longer grows with the file.
pub const STORE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Small key → value metadata (`schema_version`, `run_counter`).
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Account id → account record ([`codec`]).
pub(crate) const ACCOUNTS: TableDefinition<&IdKey, &[u8]> = TableDefinition::new("accounts");
/// CRM external id → account id.
pub(crate) const ACCOUNTS_BY_EXTERNAL: TableDefinition<&str, &IdKey> =
    TableDefinition::new("accounts_by_external_id");
/// (normalized domain, account id) → () — several accounts may share a domain.
pub(crate) const ACCOUNTS_BY_DOMAIN: TableDefinition<(&str, &IdKey), ()> =
    TableDefinition::new("accounts_by_domain");
/// (exact name, account id) → ().
pub(crate) const ACCOUNTS_BY_NAME: TableDefinition<(&str, &IdKey), ()> =
    TableDefinition::new("accounts_by_name");
/// Opportunity id → opportunity record ([`codec`]).
pub(crate) const OPPORTUNITIES: TableDefinition<&IdKey, &[u8]> =
    TableDefinition::new("opportunities");
/// CRM external id → opportunity id.
pub(crate) const OPPORTUNITIES_BY_EXTERNAL: TableDefinition<&str, &IdKey> =
    TableDefinition::new("opportunities_by_external_id");
/// stage code ‖ opportunity id → () ([`id_key::stage_entry`]; the codes are
/// [`codec::stage_code`]'s).
pub(crate) const OPPORTUNITIES_BY_STAGE: TableDefinition<&StageEntry, ()> =
    TableDefinition::new("opportunities_by_stage");
/// account id ‖ opportunity id → () ([`id_key::pair_entry`]).
pub(crate) const OPPORTUNITIES_BY_ACCOUNT: TableDefinition<&PairEntry, ()> =
    TableDefinition::new("opportunities_by_account");
/// SHA-256 of an API token (hex) → token record as JSON. The token itself is never stored.
pub(crate) const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");

/// The node's database handle. Cheap to share behind an `Arc`; redb serializes writers.
pub struct Store {
    db: Database,
}

/// How a write changed a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// A new record.
    Inserted,
    /// An existing record whose fields changed.
    Updated,
    /// An existing record that already held exactly these values.
    Unchanged,
}

/// A filter for listing opportunities.
#[derive(Debug, Default, Clone)]
pub struct OpportunityFilter {
    /// Only this stage.
    pub stage: Option<Stage>,
    /// Only this account's opportunities.
    pub account_id: Option<String>,
    /// Case-insensitive substring of the name (or account name, external id).
    pub q: Option<String>,
}

/// One page of a list, in id order (ULIDs: creation order).
#[derive(Debug)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Record totals, for the dashboard and `/metrics`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Counts {
    /// Accounts held.
    pub accounts: u64,
    /// Opportunities held.
    pub opportunities: u64,
}

/// Makes the database file readable by its owner only: it holds the company's CRM data and
/// token hashes. A file left group- or world-readable (as builds before 0.1 created it) is
/// tightened when the node opens it.
fn keep_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))
            .with_context(|| format!("cannot make {} private (mode 0600)", path.display()))?;
    }
    Ok(())
}

/// Creates the database file, empty and readable by its owner only (0600, whatever the umask),
/// unless it exists: redb then initializes the empty file, so there is no moment at which a
/// new database is readable by others. An existing file is left as it is ([`keep_private`]
/// tightens it).
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create database {}", path.display())),
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, refusing one that another process holds or
    /// that a newer cosell wrote, and migrating an older one.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with_cache(path, STORE_CACHE_BYTES)
    }

    /// [`Store::open`] with a page cache of `cache_bytes` (`cache_mb` in `cosell.toml`).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store> {
        create_private(path)?;
        let db = match redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
        {
            Ok(db) => db,
            Err(DatabaseError::DatabaseAlreadyOpen) => bail!(
                "database {} is in use by another cosell process (is `cosell serve` already running on this data directory?)",
                path.display()
            ),
            Err(e) => {
                return Err(anyhow!(e)).with_context(|| format!("cannot open database {}", path.display()))
            }
        };
        keep_private(path)?;
        let store = Store { db };
        store.migrate()?;
        Ok(store)
    }

    /// Brings the schema to [`SCHEMA_VERSION`]: creates every table, then runs each migration step
    /// from the stored version up. Refuses a database from a newer build rather than guess.
    fn migrate(&self) -> Result<()> {
        let txn = self.db.begin_write()?;
        let stored = {
            let meta = txn.open_table(META)?;
            let v = meta.get("schema_version")?.map(|v| decode_u64(v.value()));
            v
        };
        match stored {
            Some(v) if v > SCHEMA_VERSION => bail!(
                "the database was written by a newer cosell (schema version {v}; this build reads up to {SCHEMA_VERSION}): upgrade cosell"
            ),
            Some(v) if v == SCHEMA_VERSION => return Ok(()),
            // Each step in order, all in this one transaction.
            // Step 2 → 3 rebuilds every index in this build's layout, so 3 → 4 is not needed
            // after it.
            Some(1) => {
                migrate_1_to_2(&txn)?;
                migrate_2_to_3(&txn)?;
            }
            Some(2) => migrate_2_to_3(&txn)?,
            Some(3) => migrate_3_to_4(&txn)?,
            _ => {}
        }
        txn.open_table(ACCOUNTS)?;
        txn.open_table(ACCOUNTS_BY_EXTERNAL)?;
        txn.open_table(ACCOUNTS_BY_DOMAIN)?;
        txn.open_table(ACCOUNTS_BY_NAME)?;
        txn.open_table(OPPORTUNITIES)?;
        txn.open_table(OPPORTUNITIES_BY_EXTERNAL)?;
        txn.open_table(OPPORTUNITIES_BY_STAGE)?;
        txn.open_table(OPPORTUNITIES_BY_ACCOUNT)?;
        txn.open_table(TOKENS)?;
        txn.open_table(META)?
            .insert("schema_version", SCHEMA_VERSION.to_be_bytes().as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Starts a write transaction; callers commit it once, which makes it durable.
    pub fn write(&self) -> Result<WriteTransaction> {
        Ok(self.db.begin_write()?)
    }

    /// Starts a read transaction (a consistent snapshot).
    pub fn read(&self) -> Result<ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    /// Increments and returns the per-process-run counter that makes this run's Automerge actor
    /// ids unique (invariant 5 in DESIGN.md).
    pub fn next_run_counter(&self) -> Result<u64> {
        let txn = self.write()?;
        let next = {
            let mut meta = txn.open_table(META)?;
            let current = meta
                .get("run_counter")?
                .map(|v| decode_u64(v.value()))
                .unwrap_or(0);
            let next = current + 1;
            meta.insert("run_counter", next.to_be_bytes().as_slice())?;
            next
        };
        txn.commit()?;
        Ok(next)
    }

    /// Totals of each record kind.
    pub fn counts(&self) -> Result<Counts> {
        let txn = self.read()?;
        Ok(Counts {
            accounts: txn.open_table(ACCOUNTS)?.len()?,
            opportunities: txn.open_table(OPPORTUNITIES)?.len()?,
        })
    }

    /// One account by id.
    pub fn account(&self, id: &str) -> Result<Option<Account>> {
        let txn = self.read()?;
        get_account(&txn.open_table(ACCOUNTS)?, id)
    }

    /// One opportunity by id.
    pub fn opportunity(&self, id: &str) -> Result<Option<Opportunity>> {
        let txn = self.read()?;
        get_opportunity(&txn.open_table(OPPORTUNITIES)?, id)
    }

    /// A page of accounts after `cursor`, optionally only those whose name, domain or external
    /// id contains `q` (case-insensitive).
    pub fn list_accounts(
        &self,
        q: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Account>> {
        let txn = self.read()?;
        let table = txn.open_table(ACCOUNTS)?;
        let needle = q.map(str::to_lowercase);
        let mut items = Vec::new();
        let mut more = false;
        for entry in table.range::<&IdKey>((after_cursor(cursor)?.as_ref(), Bound::Unbounded))? {
            let (k, v) = entry?;
            let account = codec::decode_account(&id_text(k.value()), v.value())?;
            if let Some(n) = &needle {
                let hay = [
                    Some(account.name.as_str()),
                    account.domain.as_ref().map(|d| d.as_str()),
                    account.external_id.as_deref(),
                ];
                if !hay
                    .iter()
                    .flatten()
                    .any(|h| h.to_lowercase().contains(n.as_str()))
                {
                    continue;
                }
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(account);
        }
        Ok(page(items, more, |a| a.id.clone()))
    }

    /// A page of opportunities matching `filter`, after `cursor`.
    pub fn list_opportunities(
        &self,
        filter: &OpportunityFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Opportunity>> {
        let txn = self.read()?;
        let table = txn.open_table(OPPORTUNITIES)?;
        let needle = filter.q.as_deref().map(str::to_lowercase);
        let after = after_cursor(cursor)?;
        let mut items = Vec::new();
        let mut more = false;
        let mut consider = |opp: Opportunity, items: &mut Vec<Opportunity>| -> bool {
            if filter.stage.is_some_and(|s| s != opp.stage) {
                return true;
            }
            if filter
                .account_id
                .as_deref()
                .is_some_and(|a| a != opp.account_id)
            {
                return true;
            }
            if let Some(n) = &needle {
                let hay = [
                    Some(opp.name.as_str()),
                    opp.external_id.as_deref(),
                    opp.owner.as_deref(),
                ];
                if !hay
                    .iter()
                    .flatten()
                    .any(|h| h.to_lowercase().contains(n.as_str()))
                {
                    return true;
                }
            }
            if items.len() == limit {
                more = true;
                return false;
            }
            items.push(opp);
            true
        };
        // Use the narrowest index the filter allows, then check the rest of the filter per row.
        // (An index's entries after the cursor: from (prefix, cursor) on, skipping the cursor.)
        let from = match after {
            Bound::Excluded(id) => id,
            _ => [0; 16],
        };
        if let Some(account_id) = &filter.account_id {
            // No record has an id that is not a ULID: an empty page.
            if let Some(account) = id_key(account_id) {
                let index = txn.open_table(OPPORTUNITIES_BY_ACCOUNT)?;
                for entry in index.range::<&PairEntry>(&pair_entry(&account, &from)..)? {
                    let (k, _) = entry?;
                    let k = k.value();
                    if k[..16] != account {
                        break;
                    }
                    let id = entry_id(k);
                    if after == Bound::Excluded(id) {
                        continue;
                    }
                    if let Some(opp) = get_opportunity(&table, &id)? {
                        if !consider(opp, &mut items) {
                            break;
                        }
                    }
                }
            }
        } else if let Some(stage) = filter.stage {
            let index = txn.open_table(OPPORTUNITIES_BY_STAGE)?;
            let code = codec::stage_code(stage);
            for entry in index.range::<&StageEntry>(&stage_entry(code, &from)..)? {
                let (k, _) = entry?;
                let k = k.value();
                if k[0] != code {
                    break;
                }
                let id = entry_id(k);
                if after == Bound::Excluded(id) {
                    continue;
                }
                if let Some(opp) = get_opportunity(&table, &id)? {
                    if !consider(opp, &mut items) {
                        break;
                    }
                }
            }
        } else {
            for entry in table.range::<&IdKey>((after.as_ref(), Bound::Unbounded))? {
                let (k, v) = entry?;
                let opp = codec::decode_opportunity(&id_text(k.value()), v.value())?;
                if !consider(opp, &mut items) {
                    break;
                }
            }
        }
        Ok(page(items, more, |o| o.id.clone()))
    }

    /// Calls `visit` with every opportunity and its account, in id order, from one snapshot.
    /// Stops early when `visit` returns `false`.
    pub fn for_each_opportunity_with_account(
        &self,
        mut visit: impl FnMut(&Opportunity, &Account) -> bool,
    ) -> Result<()> {
        let txn = self.read()?;
        let opportunities = txn.open_table(OPPORTUNITIES)?;
        let accounts = txn.open_table(ACCOUNTS)?;
        let mut cached: Option<Account> = None;
        for entry in opportunities.range::<&IdKey>(..)? {
            let (k, v) = entry?;
            let opp = codec::decode_opportunity(&id_text(k.value()), v.value())?;
            if cached.as_ref().map(|a| a.id.as_str()) != Some(opp.account_id.as_str()) {
                cached = get_account(&accounts, opp.account_id.as_str())?;
            }
            let Some(account) = &cached else {
                bail!(
                    "opportunity {} refers to a missing account {}",
                    opp.id,
                    opp.account_id
                );
            };
            if !visit(&opp, account) {
                break;
            }
        }
        Ok(())
    }

    /// Stores a new or changed account in one durable transaction.
    pub fn put_account(&self, account: &Account) -> Result<Upsert> {
        let txn = self.write()?;
        let outcome = {
            let mut tables = WriteTables::open(&txn)?;
            tables.put_account(account)?
        };
        txn.commit()?;
        Ok(outcome)
    }

    /// Stores a new or changed opportunity in one durable transaction. Its account must exist.
    pub fn put_opportunity(&self, opportunity: &Opportunity) -> Result<Upsert> {
        let txn = self.write()?;
        let outcome = {
            let mut tables = WriteTables::open(&txn)?;
            if tables.account(&opportunity.account_id)?.is_none() {
                bail!("account {} does not exist", opportunity.account_id);
            }
            tables.put_opportunity(opportunity)?
        };
        txn.commit()?;
        Ok(outcome)
    }
}

fn page<T>(items: Vec<T>, more: bool, id: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if more { items.last().map(id) } else { None };
    Page { items, next_cursor }
}

fn decode_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[8 - n..].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(b)
}

/// Whether `id` can name a record: a ULID in its own spelling (a page's `next_cursor` is one).
pub fn is_record_id(id: &str) -> bool {
    id_key(id).is_some()
}

/// A list's range after `cursor` (a record id): everything when there is none. A cursor that is
/// not a ULID was never handed out: an error, not an empty page.
fn after_cursor(cursor: Option<&str>) -> Result<Bound<IdKey>> {
    Ok(match cursor {
        Some(c) => Bound::Excluded(
            id_key(c).ok_or_else(|| anyhow!("cursor '{c}' is not a record id from a page"))?,
        ),
        None => Bound::Unbounded,
    })
}

/// The account stored under `id` (text, or the key itself).
fn get_account(
    table: &impl ReadableTable<&'static IdKey, &'static [u8]>,
    id: impl IdRef,
) -> Result<Option<Account>> {
    let Some(key) = id.key() else {
        return Ok(None);
    };
    table
        .get(&key)?
        .map(|v| codec::decode_account(&id_text(&key), v.value()))
        .transpose()
}

/// The opportunity stored under `id` (text, or the key itself).
fn get_opportunity(
    table: &impl ReadableTable<&'static IdKey, &'static [u8]>,
    id: impl IdRef,
) -> Result<Option<Opportunity>> {
    let Some(key) = id.key() else {
        return Ok(None);
    };
    table
        .get(&key)?
        .map(|v| codec::decode_opportunity(&id_text(&key), v.value()))
        .transpose()
}

/// A record id as text (from a caller) or as a key (from an index).
trait IdRef {
    /// `None` for text that is not a ULID: no record has it.
    fn key(&self) -> Option<IdKey>;
}
impl IdRef for &str {
    fn key(&self) -> Option<IdKey> {
        id_key(self)
    }
}
impl IdRef for &IdKey {
    fn key(&self) -> Option<IdKey> {
        Some(**self)
    }
}

/// Schema 1 → 2: account and opportunity values from JSON to [`codec`]'s encoding, in batches of
/// [`MIGRATION_BATCH_RECORDS`] inside the caller's transaction.
fn migrate_1_to_2(txn: &WriteTransaction) -> Result<()> {
    reencode(txn, v2::ACCOUNTS, |json| {
        let account: Account =
            serde_json::from_slice(json).context("a stored account is corrupt")?;
        let mut out = Vec::new();
        codec::encode_account(&account, &mut out);
        Ok(out)
    })?;
    reencode(txn, v2::OPPORTUNITIES, |json| {
        let opp: Opportunity =
            serde_json::from_slice(json).context("a stored opportunity is corrupt")?;
        let mut out = Vec::new();
        codec::encode_opportunity(&opp, &mut out);
        Ok(out)
    })
}

/// Replaces every value of `table` by `convert(value)`, a batch at a time.
fn reencode(
    txn: &WriteTransaction,
    table: TableDefinition<&str, &[u8]>,
    convert: impl Fn(&[u8]) -> Result<Vec<u8>>,
) -> Result<()> {
    let mut table = txn.open_table(table)?;
    let mut after: Option<String> = None;
    loop {
        let batch: Vec<(String, Vec<u8>)> = {
            let range = match &after {
                Some(a) => table.range::<&str>((
                    std::ops::Bound::Excluded(a.as_str()),
                    std::ops::Bound::Unbounded,
                ))?,
                None => table.range::<&str>(..)?,
            };
            let mut batch = Vec::with_capacity(MIGRATION_BATCH_RECORDS);
            for entry in range.take(MIGRATION_BATCH_RECORDS) {
                let (k, v) = entry?;
                batch.push((k.value().to_string(), convert(v.value())?));
            }
            batch
        };
        let Some((last, _)) = batch.last() else {
            return Ok(());
        };
        after = Some(last.clone());
        for (k, v) in &batch {
            table.insert(k.as_str(), v.as_slice())?;
        }
    }
}

/// The record tables of schemas 1 and 2, which held ids as text; only migrations use them.
mod v2 {
    use redb::TableDefinition;
    pub(super) const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
    pub(super) const ACCOUNTS_BY_EXTERNAL: TableDefinition<&str, &str> =
        TableDefinition::new("accounts_by_external_id");
    pub(super) const ACCOUNTS_BY_DOMAIN: TableDefinition<(&str, &str), ()> =
        TableDefinition::new("accounts_by_domain");
    pub(super) const ACCOUNTS_BY_NAME: TableDefinition<(&str, &str), ()> =
        TableDefinition::new("accounts_by_name");
    pub(super) const OPPORTUNITIES: TableDefinition<&str, &[u8]> =
        TableDefinition::new("opportunities");
    pub(super) const OPPORTUNITIES_BY_EXTERNAL: TableDefinition<&str, &str> =
        TableDefinition::new("opportunities_by_external_id");
    pub(super) const OPPORTUNITIES_BY_STAGE: TableDefinition<(&str, &str), ()> =
        TableDefinition::new("opportunities_by_stage");
    pub(super) const OPPORTUNITIES_BY_ACCOUNT: TableDefinition<(&str, &str), ()> =
        TableDefinition::new("opportunities_by_account");
}

/// Schema 3's tables that schema 4 changed (for [`migrate_3_to_4`]).
mod v3 {
    use super::IdKey;
    use redb::TableDefinition;
    pub(super) const OPPORTUNITIES_BY_STAGE: TableDefinition<(u8, &IdKey), ()> =
        TableDefinition::new("opportunities_by_stage");
    pub(super) const OPPORTUNITIES_BY_ACCOUNT: TableDefinition<(&IdKey, &IdKey), ()> =
        TableDefinition::new("opportunities_by_account");
}

/// Schema 3 → 4: the (stage, opportunity) and (account, opportunity) indexes, from tuple keys
/// to one fixed-width key each, rebuilt from the opportunity records in the caller's
/// transaction (as [`migrate_2_to_3`] rebuilds every index).
fn migrate_3_to_4(txn: &WriteTransaction) -> Result<()> {
    txn.delete_table(v3::OPPORTUNITIES_BY_STAGE)?;
    txn.delete_table(v3::OPPORTUNITIES_BY_ACCOUNT)?;
    let mut tables = WriteTables::open(txn)?;
    reindex_opportunities(&mut tables, NewExternalId::Claimed)?;
    tables.flush()
}

/// Writes the index entries of every opportunity record, [`MIGRATION_BATCH_RECORDS`] at a time;
/// `external_id` says whether the external-id index is rebuilt too.
fn reindex_opportunities(tables: &mut WriteTables<'_>, external_id: NewExternalId) -> Result<()> {
    let mut after = Bound::Unbounded;
    while let Some((last, batch)) =
        record_batch(&tables.opportunities, after, codec::decode_opportunity)?
    {
        for (key, opp) in &batch {
            tables.index_opportunity(opp, key, external_id)?;
        }
        after = Bound::Excluded(last);
    }
    Ok(())
}

/// Schema 2 → 3: every record table and index re-keyed with 16-byte ids ([`id_key`]) and stage
/// codes. Each table is copied into a new one, which then takes the old one's name, inside the
/// caller's transaction. Indexes are rebuilt from the records, not copied, so the new ones hold
/// exactly what the records say. An id that is not a ULID stops the migration (nothing is
/// written): every build wrote ULIDs, so it would be a corrupt file.
fn migrate_2_to_3(txn: &WriteTransaction) -> Result<()> {
    for index in [v2::ACCOUNTS_BY_EXTERNAL, v2::OPPORTUNITIES_BY_EXTERNAL] {
        txn.delete_table(index)?;
    }
    for index in [
        v2::ACCOUNTS_BY_DOMAIN,
        v2::ACCOUNTS_BY_NAME,
        v2::OPPORTUNITIES_BY_STAGE,
        v2::OPPORTUNITIES_BY_ACCOUNT,
    ] {
        txn.delete_table(index)?;
    }
    rekey(txn, v2::ACCOUNTS, ACCOUNTS, "account")?;
    rekey(txn, v2::OPPORTUNITIES, OPPORTUNITIES, "opportunity")?;
    let mut tables = WriteTables::open(txn)?;
    let mut after = Bound::Unbounded;
    while let Some((last, batch)) = record_batch(&tables.accounts, after, codec::decode_account)? {
        for (key, account) in &batch {
            tables.index_account(account, key, NewExternalId::Insert)?;
        }
        after = Bound::Excluded(last);
    }
    reindex_opportunities(&mut tables, NewExternalId::Insert)?;
    tables.flush()
}

/// The next [`MIGRATION_BATCH_RECORDS`] records of `table` after `after`, decoded, with the last
/// one's key; `None` past the end.
#[allow(clippy::type_complexity)]
fn record_batch<T>(
    table: &impl ReadableTable<&'static IdKey, &'static [u8]>,
    after: Bound<IdKey>,
    decode: fn(&str, &[u8]) -> Result<T>,
) -> Result<Option<(IdKey, Vec<(IdKey, T)>)>> {
    let mut batch = Vec::with_capacity(MIGRATION_BATCH_RECORDS);
    for entry in table
        .range::<&IdKey>((after.as_ref(), Bound::Unbounded))?
        .take(MIGRATION_BATCH_RECORDS)
    {
        let (k, v) = entry?;
        let key = *k.value();
        batch.push((key, decode(&id_text(&key), v.value())?));
    }
    Ok(batch.last().map(|(k, _)| *k).map(|last| (last, batch)))
}

/// Copies `from` (text ids) into a new table of 16-byte ids, deletes `from` and gives the copy
/// its name: `what` names the record kind in the error for an id that is not a ULID.
fn rekey(
    txn: &WriteTransaction,
    from: TableDefinition<&str, &[u8]>,
    to: TableDefinition<&IdKey, &[u8]>,
    what: &str,
) -> Result<()> {
    let next = format!("{}.next", to.name());
    let next_def: TableDefinition<&IdKey, &[u8]> = TableDefinition::new(&next);
    {
        let old = txn.open_table(from)?;
        let mut new = txn.open_table(next_def)?;
        for entry in old.range::<&str>(..)? {
            let (k, v) = entry?;
            let key = id_key_for_write(what, k.value())
                .context("the database holds a record whose id is not a ULID")?;
            new.insert(&key, v.value())?;
        }
    }
    txn.delete_table(from)?;
    txn.rename_table(next_def, to)?;
    Ok(())
}

/// The record tables opened inside one write transaction, so a batch (an import) reuses them.
pub struct WriteTables<'txn> {
    accounts: redb::Table<'txn, &'static IdKey, &'static [u8]>,
    accounts_by_external: redb::Table<'txn, &'static str, &'static IdKey>,
    accounts_by_domain: redb::Table<'txn, (&'static str, &'static IdKey), ()>,
    accounts_by_name: redb::Table<'txn, (&'static str, &'static IdKey), ()>,
    opportunities: redb::Table<'txn, &'static IdKey, &'static [u8]>,
    opportunities_by_external: redb::Table<'txn, &'static str, &'static IdKey>,
    opportunities_by_stage: redb::Table<'txn, &'static StageEntry, ()>,
    opportunities_by_account: redb::Table<'txn, &'static PairEntry, ()>,
    /// Entries of the (key, id) indexes that `insert_new_*` wrote but that are not in their
    /// tables yet; see [`INDEX_PENDING_ENTRIES_MAX`]. Invariant: flushed before anything reads
    /// or removes from those tables, and by [`WriteTables::flush`] before the commit.
    pending: PendingIndexes,
}

/// The account indexes of one read snapshot: how an opportunity import finds the account a row
/// names on its parser thread, off the writer's critical path. An opportunity import writes no
/// account, so a snapshot taken right after its write transaction began sees exactly the
/// accounts that transaction sees.
pub struct AccountIndexes {
    by_external: redb::ReadOnlyTable<&'static str, &'static IdKey>,
    by_domain: redb::ReadOnlyTable<(&'static str, &'static IdKey), ()>,
    by_name: redb::ReadOnlyTable<(&'static str, &'static IdKey), ()>,
    /// Account ids by name in lower case, built on the first lookup that needs it (a name no
    /// account has as written), so an import whose names all match costs no memory for it.
    by_folded_name: std::cell::OnceCell<std::collections::HashMap<String, Vec<String>>>,
}

impl AccountIndexes {
    /// Opens the account indexes of `txn`'s snapshot.
    pub fn open(txn: &ReadTransaction) -> Result<Self> {
        Ok(AccountIndexes {
            by_external: txn.open_table(ACCOUNTS_BY_EXTERNAL)?,
            by_domain: txn.open_table(ACCOUNTS_BY_DOMAIN)?,
            by_name: txn.open_table(ACCOUNTS_BY_NAME)?,
            by_folded_name: std::cell::OnceCell::new(),
        })
    }

    /// Ids of the accounts (at most `max`) whose name is `name` ignoring case
    /// (`umbrella corp` = `Umbrella Corp`).
    pub fn account_ids_by_name_ignoring_case(&self, name: &str, max: usize) -> Result<Vec<String>> {
        if self.by_folded_name.get().is_none() {
            let mut folded: std::collections::HashMap<String, Vec<String>> =
                std::collections::HashMap::new();
            for entry in self.by_name.iter()? {
                let (k, _) = entry?;
                let (n, id) = k.value();
                folded
                    .entry(n.to_lowercase())
                    .or_default()
                    .push(id_text(id));
            }
            let _ = self.by_folded_name.set(folded);
        }
        Ok(self
            .by_folded_name
            .get()
            .and_then(|m| m.get(&name.to_lowercase()))
            .map(|ids| ids.iter().take(max).cloned().collect())
            .unwrap_or_default())
    }

    /// The id of the account with this CRM external id.
    pub fn account_id_by_external(&self, external_id: &str) -> Result<Option<String>> {
        Ok(self
            .by_external
            .get(external_id)?
            .map(|v| id_text(v.value())))
    }
    /// The ids of accounts with this normalized domain (at most `max`).
    pub fn account_ids_by_domain(&self, domain: &str, max: usize) -> Result<Vec<String>> {
        prefix_ids(&self.by_domain, domain, max)
    }
    /// The ids of accounts with exactly this name (at most `max`).
    pub fn account_ids_by_name(&self, name: &str, max: usize) -> Result<Vec<String>> {
        prefix_ids(&self.by_name, name, max)
    }
}

/// Whether [`WriteTables::insert_new_account`] / [`WriteTables::insert_new_opportunity`] map the
/// record's external id, or the caller did already with a `claim_*_external_id` that returned
/// `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewExternalId {
    /// Insert the external id → id entry (refusing an external id that is taken).
    Insert,
    /// The entry is in place: the caller claimed it for this record's id.
    Claimed,
}

/// See [`WriteTables::claim_account_external_id`].
fn claim(
    index: &mut redb::Table<'_, &'static str, &'static IdKey>,
    external_id: &str,
    id: &IdKey,
) -> Result<Option<String>> {
    let replaced = index.insert(external_id, id)?.map(|v| *v.value());
    let Some(previous) = replaced else {
        return Ok(None);
    };
    index.insert(external_id, &previous)?;
    Ok(Some(id_text(&previous)))
}

/// Maps `external_id` to `id` in `index`, refusing an external id another record has; `what`
/// names the record kind in that error.
fn insert_external_id(
    index: &mut redb::Table<'_, &'static str, &'static IdKey>,
    external_id: &str,
    id: &IdKey,
    what: &str,
) -> Result<()> {
    let replaced = index.insert(external_id, id)?.map(|v| *v.value());
    if let Some(other) = replaced {
        if other != *id {
            index.insert(external_id, &other)?;
            bail!(
                "external id {external_id} already belongs to {what} {}",
                id_text(&other)
            );
        }
    }
    Ok(())
}

/// Index entries an import buffers per (key, id) index before inserting them in key order.
/// Rows arrive in file order, which scatters the entries of an index like (account id,
/// opportunity id) over the whole B-tree; inserted sorted, a batch touches each page once, in
/// order. Bounded, so an import's memory does not grow with the file (~60 bytes an entry).
pub const INDEX_PENDING_ENTRIES_MAX: usize = 32 * 1024;

/// See [`WriteTables::pending`].
#[derive(Default)]
struct PendingIndexes {
    accounts_by_domain: Vec<(String, IdKey)>,
    accounts_by_name: Vec<(String, IdKey)>,
    opportunities_by_stage: Vec<StageEntry>,
    opportunities_by_account: Vec<PairEntry>,
}

/// Hands `pending`'s entries to `insert` in key order and empties it.
fn insert_sorted<E: Ord>(
    pending: &mut Vec<E>,
    mut insert: impl FnMut(&E) -> Result<(), redb::StorageError>,
) -> Result<()> {
    pending.sort_unstable();
    for entry in pending.iter() {
        insert(entry)?;
    }
    pending.clear();
    Ok(())
}

impl<'txn> WriteTables<'txn> {
    /// Opens every record table in `txn`.
    pub fn open(txn: &'txn WriteTransaction) -> Result<Self> {
        Ok(WriteTables {
            accounts: txn.open_table(ACCOUNTS)?,
            accounts_by_external: txn.open_table(ACCOUNTS_BY_EXTERNAL)?,
            accounts_by_domain: txn.open_table(ACCOUNTS_BY_DOMAIN)?,
            accounts_by_name: txn.open_table(ACCOUNTS_BY_NAME)?,
            opportunities: txn.open_table(OPPORTUNITIES)?,
            opportunities_by_external: txn.open_table(OPPORTUNITIES_BY_EXTERNAL)?,
            opportunities_by_stage: txn.open_table(OPPORTUNITIES_BY_STAGE)?,
            opportunities_by_account: txn.open_table(OPPORTUNITIES_BY_ACCOUNT)?,
            pending: PendingIndexes::default(),
        })
    }

    /// Inserts every buffered index entry. Call it before committing a transaction in which
    /// [`WriteTables::insert_new_account`] or [`WriteTables::insert_new_opportunity`] wrote.
    pub fn flush(&mut self) -> Result<()> {
        self.flush_accounts()?;
        self.flush_opportunities()
    }

    fn flush_accounts(&mut self) -> Result<()> {
        let by_domain = &mut self.accounts_by_domain;
        insert_sorted(&mut self.pending.accounts_by_domain, |(d, id)| {
            by_domain.insert((d.as_str(), id), ()).map(drop)
        })?;
        let by_name = &mut self.accounts_by_name;
        insert_sorted(&mut self.pending.accounts_by_name, |(n, id)| {
            by_name.insert((n.as_str(), id), ()).map(drop)
        })
    }

    fn flush_opportunities(&mut self) -> Result<()> {
        let by_stage = &mut self.opportunities_by_stage;
        insert_sorted(&mut self.pending.opportunities_by_stage, |entry| {
            by_stage.insert(entry, ()).map(drop)
        })?;
        let by_account = &mut self.opportunities_by_account;
        insert_sorted(&mut self.pending.opportunities_by_account, |entry| {
            by_account.insert(entry, ()).map(drop)
        })
    }

    /// An account by id, as of this transaction.
    pub fn account(&self, id: &str) -> Result<Option<Account>> {
        get_account(&self.accounts, id)
    }

    /// An opportunity by id, as of this transaction.
    pub fn opportunity(&self, id: &str) -> Result<Option<Opportunity>> {
        get_opportunity(&self.opportunities, id)
    }

    /// The id of the account with this CRM external id.
    pub fn account_id_by_external(&self, external_id: &str) -> Result<Option<String>> {
        Ok(self
            .accounts_by_external
            .get(external_id)?
            .map(|v| id_text(v.value())))
    }

    /// Maps `external_id` to `id` unless an account has it already; then the map is left as it
    /// was and the id of that account is returned. One B-tree descent where a lookup and then an
    /// insert take two: most rows of an import are new. After `None`, write the account with
    /// [`WriteTables::insert_new_account`] and [`NewExternalId::Claimed`].
    pub fn claim_account_external_id(
        &mut self,
        external_id: &str,
        id: &str,
    ) -> Result<Option<String>> {
        let key = id_key_for_write("account", id)?;
        claim(&mut self.accounts_by_external, external_id, &key)
    }

    /// [`WriteTables::claim_account_external_id`] for opportunities.
    pub fn claim_opportunity_external_id(
        &mut self,
        external_id: &str,
        id: &str,
    ) -> Result<Option<String>> {
        let key = id_key_for_write("opportunity", id)?;
        claim(&mut self.opportunities_by_external, external_id, &key)
    }

    /// The ids of accounts with this normalized domain (at most `max`).
    pub fn account_ids_by_domain(&mut self, domain: &str, max: usize) -> Result<Vec<String>> {
        self.flush_accounts()?;
        prefix_ids(&self.accounts_by_domain, domain, max)
    }

    /// The ids of accounts with exactly this name (at most `max`).
    pub fn account_ids_by_name(&mut self, name: &str, max: usize) -> Result<Vec<String>> {
        self.flush_accounts()?;
        prefix_ids(&self.accounts_by_name, name, max)
    }

    /// The id of the opportunity with this CRM external id.
    pub fn opportunity_id_by_external(&self, external_id: &str) -> Result<Option<String>> {
        Ok(self
            .opportunities_by_external
            .get(external_id)?
            .map(|v| id_text(v.value())))
    }

    /// The ids of this account's opportunities (at most `max`).
    pub fn opportunity_ids_by_account(
        &mut self,
        account_id: &str,
        max: usize,
    ) -> Result<Vec<String>> {
        self.flush_opportunities()?;
        let Some(account) = id_key(account_id) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in self
            .opportunities_by_account
            .range::<&PairEntry>(&pair_entry(&account, &[0u8; 16])..)?
        {
            let (k, _) = entry?;
            let k = k.value();
            if k[..16] != account || out.len() == max {
                break;
            }
            out.push(id_text(&entry_id(k)));
        }
        Ok(out)
    }

    /// Writes an account and keeps its indexes in step.
    pub fn put_account(&mut self, account: &Account) -> Result<Upsert> {
        account
            .validate()
            .map_err(|e| anyhow!("account {}: {} {}", account.id, e.field, e.message))?;
        let key = id_key_for_write("account", &account.id)?;
        self.flush_accounts()?;
        let previous = get_account(&self.accounts, &key)?;
        if previous.as_ref() == Some(account) {
            return Ok(Upsert::Unchanged);
        }
        if let Some(old) = &previous {
            if let Some(x) = &old.external_id {
                self.accounts_by_external.remove(x.as_str())?;
            }
            if let Some(d) = &old.domain {
                self.accounts_by_domain.remove((d.as_str(), &key))?;
            }
            self.accounts_by_name.remove((old.name.as_str(), &key))?;
        }
        if let Some(x) = &account.external_id {
            insert_external_id(&mut self.accounts_by_external, x, &key, "account")?;
        }
        if let Some(d) = &account.domain {
            self.accounts_by_domain.insert((d.as_str(), &key), ())?;
        }
        self.accounts_by_name
            .insert((account.name.as_str(), &key), ())?;
        let mut bytes = Vec::with_capacity(128);
        codec::encode_account(account, &mut bytes);
        self.accounts.insert(&key, bytes.as_slice())?;
        Ok(if previous.is_some() {
            Upsert::Updated
        } else {
            Upsert::Inserted
        })
    }

    /// Writes an account the caller knows is new (a fresh id, an external id no account has:
    /// an importer that just looked it up) with its indexes, without the reads of
    /// [`WriteTables::put_account`]. What the inserts replaced is still checked: a broken
    /// promise is an error (and the transaction must then be dropped), not a silent overwrite.
    /// Its (domain, id) and (name, id) index entries are buffered: call
    /// [`WriteTables::flush`] before the commit.
    pub fn insert_new_account(
        &mut self,
        account: &Account,
        external_id: NewExternalId,
    ) -> Result<()> {
        account
            .validate()
            .map_err(|e| anyhow!("account {}: {} {}", account.id, e.field, e.message))?;
        let key = id_key_for_write("account", &account.id)?;
        self.index_account(account, &key, external_id)?;
        let mut bytes = Vec::with_capacity(128);
        codec::encode_account(account, &mut bytes);
        if self.accounts.insert(&key, bytes.as_slice())?.is_some() {
            bail!("account {} already exists", account.id);
        }
        Ok(())
    }

    /// The index entries of `account` (stored under `key`): its external id now (unless
    /// claimed), its domain and name buffered.
    fn index_account(
        &mut self,
        account: &Account,
        key: &IdKey,
        external_id: NewExternalId,
    ) -> Result<()> {
        if let (Some(x), NewExternalId::Insert) = (&account.external_id, external_id) {
            insert_external_id(&mut self.accounts_by_external, x, key, "account")?;
        }
        let pending = &mut self.pending;
        if let Some(d) = &account.domain {
            pending
                .accounts_by_domain
                .push((d.as_str().to_string(), *key));
        }
        pending.accounts_by_name.push((account.name.clone(), *key));
        if pending.accounts_by_name.len() >= INDEX_PENDING_ENTRIES_MAX {
            self.flush_accounts()?;
        }
        Ok(())
    }

    /// Writes an opportunity the caller knows is new, like [`WriteTables::insert_new_account`].
    /// Its account must exist (the caller found it).
    pub fn insert_new_opportunity(
        &mut self,
        opp: &Opportunity,
        external_id: NewExternalId,
    ) -> Result<()> {
        opp.validate()
            .map_err(|e| anyhow!("opportunity {}: {} {}", opp.id, e.field, e.message))?;
        let key = id_key_for_write("opportunity", &opp.id)?;
        self.index_opportunity(opp, &key, external_id)?;
        let mut bytes = Vec::with_capacity(160);
        codec::encode_opportunity(opp, &mut bytes);
        if self.opportunities.insert(&key, bytes.as_slice())?.is_some() {
            bail!("opportunity {} already exists", opp.id);
        }
        Ok(())
    }

    /// The index entries of `opp` (stored under `key`): its external id now (unless claimed),
    /// its stage and account buffered.
    fn index_opportunity(
        &mut self,
        opp: &Opportunity,
        key: &IdKey,
        external_id: NewExternalId,
    ) -> Result<()> {
        let account = id_key_for_write("account", &opp.account_id)?;
        if let (Some(x), NewExternalId::Insert) = (&opp.external_id, external_id) {
            insert_external_id(&mut self.opportunities_by_external, x, key, "opportunity")?;
        }
        let pending = &mut self.pending;
        pending
            .opportunities_by_stage
            .push(stage_entry(codec::stage_code(opp.stage), key));
        pending
            .opportunities_by_account
            .push(pair_entry(&account, key));
        if pending.opportunities_by_account.len() >= INDEX_PENDING_ENTRIES_MAX {
            self.flush_opportunities()?;
        }
        Ok(())
    }

    /// Writes an opportunity and keeps its indexes in step.
    pub fn put_opportunity(&mut self, opp: &Opportunity) -> Result<Upsert> {
        opp.validate()
            .map_err(|e| anyhow!("opportunity {}: {} {}", opp.id, e.field, e.message))?;
        let key = id_key_for_write("opportunity", &opp.id)?;
        let account = id_key_for_write("account", &opp.account_id)?;
        self.flush_opportunities()?;
        let previous = get_opportunity(&self.opportunities, &key)?;
        if previous.as_ref() == Some(opp) {
            return Ok(Upsert::Unchanged);
        }
        if let Some(old) = &previous {
            if let Some(x) = &old.external_id {
                self.opportunities_by_external.remove(x.as_str())?;
            }
            self.opportunities_by_stage
                .remove(&stage_entry(codec::stage_code(old.stage), &key))?;
            if let Some(old_account) = id_key(&old.account_id) {
                self.opportunities_by_account
                    .remove(&pair_entry(&old_account, &key))?;
            }
        }
        if let Some(x) = &opp.external_id {
            insert_external_id(&mut self.opportunities_by_external, x, &key, "opportunity")?;
        }
        self.opportunities_by_stage
            .insert(&stage_entry(codec::stage_code(opp.stage), &key), ())?;
        self.opportunities_by_account
            .insert(&pair_entry(&account, &key), ())?;
        let mut bytes = Vec::with_capacity(160);
        codec::encode_opportunity(opp, &mut bytes);
        self.opportunities.insert(&key, bytes.as_slice())?;
        Ok(if previous.is_some() {
            Upsert::Updated
        } else {
            Upsert::Inserted
        })
    }
}

/// The ids after `prefix` in a (text, id) index (at most `max`).
fn prefix_ids(
    index: &impl ReadableTable<(&'static str, &'static IdKey), ()>,
    prefix: &str,
    max: usize,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in index.range((prefix, &[0u8; 16])..)? {
        let (k, _) = entry?;
        let (p, id) = k.value();
        if p != prefix || out.len() == max {
            break;
        }
        out.push(id_text(id));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::records::{AccountStatus, Amount, Currency, Date, Domain};

    #[test]
    fn the_database_file_is_never_readable_by_group_or_others_not_even_while_it_is_created() {
        // Security review (issue 19, low): redb created the file with the umask's mode and the
        // node tightened it afterwards, so for a moment others could open it. A watcher stats
        // the path as fast as it can while the store creates it.
        use std::os::unix::fs::PermissionsExt;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        // SAFETY: umask only sets the process's file-creation mask; 0o022 is the usual one.
        let previous = unsafe { libc::umask(0o022) };
        let dir = tempfile::tempdir().expect("dir");
        let mut seen = Vec::new();
        for i in 0..20 {
            let path = dir.path().join(format!("db-{i}"));
            let done = Arc::new(AtomicBool::new(false));
            let watcher = {
                let (path, done) = (path.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut modes = Vec::new();
                    while !done.load(Ordering::Relaxed) {
                        if let Ok(meta) = std::fs::metadata(&path) {
                            modes.push(meta.permissions().mode() & 0o777);
                        }
                    }
                    modes
                })
            };
            let store = Store::open(&path).expect("store");
            done.store(true, Ordering::Relaxed);
            seen.extend(watcher.join().expect("watcher"));
            drop(store);
            let mode = std::fs::metadata(&path).expect("db").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        // SAFETY: as above, restoring the mask the process had.
        unsafe { libc::umask(previous) };
        let open: std::collections::BTreeSet<String> = seen
            .iter()
            .filter(|m| *m & 0o077 != 0)
            .map(|m| format!("{m:o}"))
            .collect();
        assert!(
            open.is_empty(),
            "modes seen while the file was created: {open:?}"
        );
        assert!(!seen.is_empty(), "the watcher saw the file");
    }

    fn account(i: usize) -> Account {
        Account {
            id: format!("01J{i:023}"),
            external_id: Some(format!("acc-{i}")),
            name: format!("Company {i}"),
            domain: Some(Domain::parse(&format!("company-{i}.example")).expect("domain")),
            industry: Some("Software".into()),
            country: None,
            status: AccountStatus::Customer,
            owner: Some("Ana".into()),
            tags: vec!["a".into(), "b".into()],
        }
    }

    fn opportunity(i: usize, account_id: &str) -> Opportunity {
        Opportunity {
            id: format!("01K{i:023}"),
            external_id: if i.is_multiple_of(2) {
                Some(format!("opp-{i}"))
            } else {
                None
            },
            account_id: account_id.to_string(),
            name: format!("Deal {i}"),
            stage: Stage::Qualified,
            amount: Some(Amount::from_ten_thousandths(12_005_000).expect("amount")),
            currency: Some(Currency::USD),
            close_date: Some(Date::new(2026, 11, 9).expect("date")),
            owner: None,
            next_step: Some("Call".into()),
            description: None,
            tags: vec![],
        }
    }

    /// `n` opportunities over the first 7 of `accounts`, every third one launched: more
    /// records than a migration batch when `n` is, over several accounts and stages.
    fn opportunities_of(accounts: &[Account], n: usize) -> Vec<Opportunity> {
        (0..n)
            .map(|i| {
                let mut o = opportunity(i, &accounts[i % 7].id);
                if i % 3 == 0 {
                    o.stage = Stage::Launched;
                }
                o
            })
            .collect()
    }

    /// Writes a file the way a build of schema `version` (1 or 2) did: every table, ids as
    /// text, record values as JSON (1) or [`codec`] (2).
    fn write_old_schema(
        path: &Path,
        version: u64,
        accounts: &[Account],
        opportunities: &[Opportunity],
    ) {
        let db = Database::create(path).expect("create");
        let txn = db.begin_write().expect("write");
        {
            let mut meta = txn.open_table(META).expect("meta");
            meta.insert("schema_version", version.to_be_bytes().as_slice())
                .expect("version");
            let value = |json: Vec<u8>, binary: Vec<u8>| if version == 1 { json } else { binary };
            let mut records = txn.open_table(v2::ACCOUNTS).expect("table");
            let mut by_external = txn.open_table(v2::ACCOUNTS_BY_EXTERNAL).expect("table");
            let mut by_domain = txn.open_table(v2::ACCOUNTS_BY_DOMAIN).expect("table");
            let mut by_name = txn.open_table(v2::ACCOUNTS_BY_NAME).expect("table");
            for a in accounts {
                let mut binary = Vec::new();
                codec::encode_account(a, &mut binary);
                let bytes = value(serde_json::to_vec(a).expect("json"), binary);
                records
                    .insert(a.id.as_str(), bytes.as_slice())
                    .expect("insert");
                if let Some(x) = &a.external_id {
                    by_external
                        .insert(x.as_str(), a.id.as_str())
                        .expect("index");
                }
                if let Some(d) = &a.domain {
                    by_domain
                        .insert((d.as_str(), a.id.as_str()), ())
                        .expect("index");
                }
                by_name
                    .insert((a.name.as_str(), a.id.as_str()), ())
                    .expect("index");
            }
            let mut records = txn.open_table(v2::OPPORTUNITIES).expect("table");
            let mut by_external = txn
                .open_table(v2::OPPORTUNITIES_BY_EXTERNAL)
                .expect("table");
            let mut by_stage = txn.open_table(v2::OPPORTUNITIES_BY_STAGE).expect("table");
            let mut by_account = txn.open_table(v2::OPPORTUNITIES_BY_ACCOUNT).expect("table");
            for o in opportunities {
                let mut binary = Vec::new();
                codec::encode_opportunity(o, &mut binary);
                let bytes = value(serde_json::to_vec(o).expect("json"), binary);
                records
                    .insert(o.id.as_str(), bytes.as_slice())
                    .expect("insert");
                if let Some(x) = &o.external_id {
                    by_external
                        .insert(x.as_str(), o.id.as_str())
                        .expect("index");
                }
                by_stage
                    .insert((o.stage.as_str(), o.id.as_str()), ())
                    .expect("index");
                by_account
                    .insert((o.account_id.as_str(), o.id.as_str()), ())
                    .expect("index");
            }
            txn.open_table(TOKENS).expect("tokens");
        }
        txn.commit().expect("commit");
    }

    /// Every index of `store` answers for every record as the record says.
    fn assert_indexes_match(store: &Store, accounts: &[Account], opportunities: &[Opportunity]) {
        let txn = store.write().expect("write");
        let mut tables = WriteTables::open(&txn).expect("tables");
        for a in accounts {
            if let Some(x) = &a.external_id {
                assert_eq!(
                    tables.account_id_by_external(x).expect("get"),
                    Some(a.id.clone())
                );
            }
            if let Some(d) = &a.domain {
                let ids = tables.account_ids_by_domain(d.as_str(), 10).expect("get");
                assert!(ids.contains(&a.id), "{} not under its domain", a.id);
            }
            let ids = tables.account_ids_by_name(&a.name, 10).expect("get");
            assert!(ids.contains(&a.id), "{} not under its name", a.id);
        }
        for o in opportunities {
            if let Some(x) = &o.external_id {
                assert_eq!(
                    tables.opportunity_id_by_external(x).expect("get"),
                    Some(o.id.clone())
                );
            }
            let ids = tables
                .opportunity_ids_by_account(&o.account_id, usize::MAX)
                .expect("get");
            assert!(ids.contains(&o.id), "{} not under its account", o.id);
        }
        drop(tables);
        drop(txn);
        for stage in [Stage::Qualified, Stage::Launched, Stage::Prospect] {
            let listed = store
                .list_opportunities(
                    &OpportunityFilter {
                        stage: Some(stage),
                        ..Default::default()
                    },
                    None,
                    usize::MAX,
                )
                .expect("list");
            let expected: Vec<&str> = opportunities
                .iter()
                .filter(|o| o.stage == stage)
                .map(|o| o.id.as_str())
                .collect();
            let got: Vec<&str> = listed.items.iter().map(|o| o.id.as_str()).collect();
            assert_eq!(got, expected, "stage {stage:?}");
        }
    }

    fn stored_version(store: &Store) -> Option<u64> {
        let txn = store.read().expect("read");
        let meta = txn.open_table(META).expect("meta");
        let v = meta
            .get("schema_version")
            .expect("get")
            .map(|v| decode_u64(v.value()));
        v
    }

    #[test]
    fn a_schema_2_file_with_text_ids_opens_rekeyed_with_every_record_and_index_intact() {
        // Goal: a database of schema 2 (ids as text in keys) opens in this build with every
        // record as it was and every index answering for it, across more records than one
        // migration batch; it is schema 3 afterwards and opening it again changes nothing.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cosell.redb");
        let n = MIGRATION_BATCH_RECORDS + 300;
        let accounts: Vec<Account> = (0..n).map(account).collect();
        let opportunities = opportunities_of(&accounts, n);
        write_old_schema(&path, 2, &accounts, &opportunities);

        let store = Store::open(&path).expect("open migrates");
        assert_eq!(stored_version(&store), Some(SCHEMA_VERSION));
        for a in &accounts {
            assert_eq!(store.account(&a.id).expect("read").as_ref(), Some(a));
        }
        for o in &opportunities {
            assert_eq!(store.opportunity(&o.id).expect("read").as_ref(), Some(o));
        }
        assert_indexes_match(&store, &accounts, &opportunities);
        let counts = store.counts().expect("counts");
        assert_eq!(
            (counts.accounts, counts.opportunities),
            (n as u64, n as u64)
        );
        drop(store);
        let store = Store::open(&path).expect("reopen");
        assert_indexes_match(&store, &accounts, &opportunities);
    }

    #[test]
    fn a_schema_3_file_opens_with_its_stage_and_account_indexes_rebuilt_as_fixed_width_keys() {
        // Goal: a database written by schema 3 (tuple keys in the (stage, opportunity) and
        // (account, opportunity) indexes) opens with every record, and filters by stage and by
        // account answer as before, across more records than one migration batch.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cosell.redb");
        let n = MIGRATION_BATCH_RECORDS + 5;
        let accounts: Vec<Account> = (0..7).map(account).collect();
        let opportunities = opportunities_of(&accounts, n);
        {
            let db = Database::create(&path).expect("create");
            let txn = db.begin_write().expect("write");
            {
                txn.open_table(META)
                    .expect("meta")
                    .insert("schema_version", 3u64.to_be_bytes().as_slice())
                    .expect("version");
                // Accounts as every schema since 3 writes them.
                let mut tables = WriteTables::open(&txn).expect("tables");
                for a in &accounts {
                    tables.put_account(a).expect("account");
                }
                drop(tables);
                // Schema 3 had the tuple-keyed stage and account indexes under these names.
                txn.delete_table(OPPORTUNITIES_BY_STAGE).expect("delete");
                txn.delete_table(OPPORTUNITIES_BY_ACCOUNT).expect("delete");
                let mut records = txn.open_table(OPPORTUNITIES).expect("table");
                let mut by_stage = txn.open_table(v3::OPPORTUNITIES_BY_STAGE).expect("t");
                let mut by_account = txn.open_table(v3::OPPORTUNITIES_BY_ACCOUNT).expect("t");
                let mut by_external = txn.open_table(OPPORTUNITIES_BY_EXTERNAL).expect("t");
                for o in &opportunities {
                    let key = id_key(&o.id).expect("ulid");
                    if let Some(x) = &o.external_id {
                        by_external.insert(x.as_str(), &key).expect("index");
                    }
                    let account = id_key(&o.account_id).expect("ulid");
                    let mut bytes = Vec::new();
                    codec::encode_opportunity(o, &mut bytes);
                    records.insert(&key, bytes.as_slice()).expect("insert");
                    by_stage
                        .insert((codec::stage_code(o.stage), &key), ())
                        .expect("index");
                    by_account.insert((&account, &key), ()).expect("index");
                }
            }
            txn.commit().expect("commit");
        }
        let store = Store::open(&path).expect("open migrates");
        assert_eq!(stored_version(&store), Some(SCHEMA_VERSION));
        for o in &opportunities {
            assert_eq!(store.opportunity(&o.id).expect("read").as_ref(), Some(o));
        }
        assert_indexes_match(&store, &accounts, &opportunities);
    }

    #[test]
    fn a_schema_2_file_with_an_id_that_is_not_a_ulid_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cosell.redb");
        let mut odd = account(1);
        odd.id = "acc-1".into();
        write_old_schema(&path, 2, &[account(0), odd], &[]);
        let err = Store::open(&path).err().expect("refused");
        let text = format!("{err:#}");
        assert!(text.contains("account id 'acc-1' is not a ULID"), "{text}");
        // Nothing was written: the file is still schema 2 with its text-keyed accounts.
        let db = Database::create(&path).expect("open");
        let txn = db.begin_read().expect("read");
        let meta = txn.open_table(META).expect("meta");
        let version = meta
            .get("schema_version")
            .expect("get")
            .map(|v| decode_u64(v.value()));
        assert_eq!(version, Some(2));
        let old = txn.open_table(v2::ACCOUNTS).expect("text-keyed table");
        assert_eq!(old.len().expect("len"), 2);
    }

    #[test]
    fn a_schema_1_file_with_json_records_opens_migrated_with_every_record_intact() {
        // Goal: a database written before the binary record encoding (schema 1, JSON values)
        // opens in this build with every record as it was, more records than one migration
        // batch, and is the current schema afterwards (steps 1 → 2 → 3 in one go).
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cosell.redb");
        let n = MIGRATION_BATCH_RECORDS * 2 + 7;
        let accounts: Vec<Account> = (0..n).map(account).collect();
        let opportunities: Vec<Opportunity> = (0..n)
            .map(|i| opportunity(i, &accounts[i % 10].id))
            .collect();
        write_old_schema(&path, 1, &accounts, &opportunities);

        let store = Store::open(&path).expect("open migrates");
        for a in &accounts {
            assert_eq!(store.account(&a.id).expect("read").as_ref(), Some(a));
        }
        for o in &opportunities {
            assert_eq!(store.opportunity(&o.id).expect("read").as_ref(), Some(o));
        }
        let page = store
            .list_opportunities(
                &OpportunityFilter {
                    account_id: Some(accounts[3].id.clone()),
                    ..Default::default()
                },
                None,
                1000,
            )
            .expect("list");
        assert_eq!(page.items.len(), n / 10 + 1);
        let txn = store.read().expect("read");
        let version = txn
            .open_table(META)
            .expect("meta")
            .get("schema_version")
            .expect("get")
            .map(|v| decode_u64(v.value()));
        assert_eq!(version, Some(SCHEMA_VERSION));
        drop(txn);
        drop(store);
        // Opening again is a no-op, not a second migration of binary values.
        let store = Store::open(&path).expect("reopen");
        assert_eq!(
            store.account(&accounts[0].id).expect("read").as_ref(),
            Some(&accounts[0])
        );
    }

    #[test]
    fn buffered_index_entries_are_all_there_after_flush_and_an_update_leaves_no_stale_entry() {
        // Goal: entries `insert_new_opportunity` buffers (more than one batch of them) are in
        // the stage and account indexes once flushed, and a record updated in the same
        // transaction while its entries were still buffered is indexed only as it is now.
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("cosell.redb")).expect("open");
        let n = INDEX_PENDING_ENTRIES_MAX + 10;
        let accounts: Vec<Account> = (0..3).map(account).collect();
        let txn = store.write().expect("write");
        {
            let mut tables = WriteTables::open(&txn).expect("tables");
            for a in &accounts {
                tables
                    .insert_new_account(a, NewExternalId::Insert)
                    .expect("account");
            }
            for i in 0..n {
                tables
                    .insert_new_opportunity(
                        &opportunity(i, &accounts[i % 3].id),
                        NewExternalId::Insert,
                    )
                    .expect("opportunity");
            }
            let mut moved = opportunity(n - 1, &accounts[0].id);
            moved.stage = Stage::Launched;
            assert_eq!(
                tables.put_opportunity(&moved).expect("update"),
                Upsert::Updated
            );
            tables.flush().expect("flush");
        }
        txn.commit().expect("commit");
        let count = |filter: OpportunityFilter| {
            store
                .list_opportunities(&filter, None, 2 * n)
                .expect("list")
                .items
                .len()
        };
        let by_account = |i: usize| OpportunityFilter {
            account_id: Some(accounts[i].id.clone()),
            ..Default::default()
        };
        let by_stage = |stage| OpportunityFilter {
            stage: Some(stage),
            ..Default::default()
        };
        // The last one was account 2's; the update moved it to account 0.
        assert_eq!((n - 1) % 3, 2);
        assert_eq!(count(by_account(0)), n.div_ceil(3) + 1);
        assert_eq!(count(by_account(1)), (n + 1) / 3);
        assert_eq!(count(by_account(2)), n / 3 - 1);
        assert_eq!(count(by_stage(Stage::Qualified)), n - 1);
        assert_eq!(count(by_stage(Stage::Launched)), 1);
    }

    #[test]
    fn a_file_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cosell.redb");
        drop(Store::open(&path).expect("create"));
        {
            let db = Database::create(&path).expect("open");
            let txn = db.begin_write().expect("write");
            txn.open_table(META)
                .expect("meta")
                .insert(
                    "schema_version",
                    (SCHEMA_VERSION + 1).to_be_bytes().as_slice(),
                )
                .expect("version");
            txn.commit().expect("commit");
        }
        let err = Store::open(&path).err().expect("refused");
        assert!(err.to_string().contains("newer cosell"), "{err}");
    }

    #[test]
    fn a_new_record_written_without_lookups_refuses_an_external_id_that_is_taken() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("cosell.redb")).expect("open");
        let txn = store.write().expect("write");
        {
            let mut tables = WriteTables::open(&txn).expect("tables");
            tables
                .insert_new_account(&account(1), NewExternalId::Insert)
                .expect("first");
            let mut same_external = account(2);
            same_external.external_id = account(1).external_id;
            let err = tables
                .insert_new_account(&same_external, NewExternalId::Insert)
                .expect_err("refused");
            assert!(err.to_string().contains("already belongs"), "{err}");
            let err = tables
                .insert_new_account(&account(1), NewExternalId::Insert)
                .expect_err("refused");
            assert!(err.to_string().contains("already"), "{err}");
        }
    }

    #[test]
    fn claiming_a_taken_external_id_returns_its_owner_and_leaves_the_map_as_it_was() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("cosell.redb")).expect("open");
        let txn = store.write().expect("write");
        let mut tables = WriteTables::open(&txn).expect("tables");
        let first = account(1);
        let x = first.external_id.clone().expect("external id");
        assert_eq!(
            tables
                .claim_account_external_id(&x, &first.id)
                .expect("claim"),
            None
        );
        tables
            .insert_new_account(&first, NewExternalId::Claimed)
            .expect("insert");
        assert_eq!(
            tables
                .claim_account_external_id(&x, &account(2).id)
                .expect("claim"),
            Some(first.id.clone())
        );
        assert_eq!(
            tables.account_id_by_external(&x).expect("lookup"),
            Some(first.id.clone())
        );
        assert_eq!(
            tables
                .claim_opportunity_external_id("OPP-1", &opportunity(1, "x").id)
                .expect("claim"),
            None
        );
        assert_eq!(
            tables
                .claim_opportunity_external_id("OPP-1", &opportunity(2, "x").id)
                .expect("claim"),
            Some(opportunity(1, "x").id)
        );
        assert_eq!(
            tables.opportunity_id_by_external("OPP-1").expect("lookup"),
            Some(opportunity(1, "x").id)
        );
    }
}
