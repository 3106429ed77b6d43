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

pub mod backup;
mod codec;
mod id_key;
mod migrate;
use migrate::{migrate_1_to_2, migrate_2_to_3, migrate_3_to_4, migrate_4_to_5};
mod search;
pub mod shared;
pub mod tables;

use id_key::{
    entry_id, id_key, id_key_for_write, id_text, pair_entry, stage_entry, IdKey, PairEntry,
    StageEntry,
};
use tables::{
    ACCOUNTS, ACCOUNTS_BY_DOMAIN, ACCOUNTS_BY_EXTERNAL, ACCOUNTS_BY_NAME, ACCOUNTS_SEARCH, META,
    OPPORTUNITIES, OPPORTUNITIES_BY_ACCOUNT, OPPORTUNITIES_BY_EXTERNAL, OPPORTUNITIES_BY_STAGE,
    OPPORTUNITIES_SEARCH, TOKENS,
};

/// Schema version this build writes. Bump it with a migration step in [`Store::migrate`].
/// 1: records as JSON; 2: records in [`codec`]'s binary encoding; 3: ids in keys and index
/// values as 16 bytes ([`id_key`]), stages in the stage index as codes; 4: the (stage,
/// opportunity) and (account, opportunity) index entries as one fixed-width key each; 5: the
/// `?q=` search indexes ([`search`]).
pub const SCHEMA_VERSION: u64 = 5;

/// Records re-encoded per step of a migration, so a step holds a bounded batch in memory.
const MIGRATION_BATCH_RECORDS: usize = 1024;

/// redb's page cache: read cache and write buffer together. redb's default (1 GiB) let a large
/// import's write transaction hold ~half its database in memory; with a bound, redb writes the
/// excess dirty pages to free space in the file before commit (still invisible until the commit,
/// so an import stays all or nothing) and the node's memory no longer grows with the file.
pub const STORE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Creates every table of [`tables`] that is not there yet, in one transaction (`cosell serve`
/// calls it at start; [`Store::open`] has already brought the schema up to date).
pub fn ensure_tables(store: &Store) -> Result<()> {
    let txn = store.write()?;
    tables::create_all(&txn)?;
    txn.commit()?;
    Ok(())
}

/// Opens a table to read, or `None` when it was never created (a file from before the table
/// existed, or a store on which [`ensure_tables`] has not run): the caller answers as for an
/// empty table.
pub fn open_table_if_exists<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>> {
    match txn.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The node's database handle. Cheap to share behind an `Arc`; redb serializes writers.
pub struct Store {
    db: Database,
    path: std::path::PathBuf,
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

/// One page of a list, in id order (ULIDs: creation order). Serializes as the API's list answer,
/// `{"items": [...], "next_cursor": ...}`.
#[derive(Debug, serde::Serialize)]
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
        let store = Store {
            db,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        if backup::rewrite_asked(path) {
            return backup::rewrite(store, cache_bytes);
        }
        Ok(store)
    }

    /// Asks for the database file to be rewritten at the next open (after an erasure): redb
    /// does not overwrite the pages it frees, so an erased value can survive in them until then.
    pub fn ask_rewrite(&self) -> Result<()> {
        backup::ask_rewrite(&self.path)
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
            // Step 2 → 3 rebuilds every index in this build's layout (the search indexes
            // included), so 3 → 4 and 4 → 5 are not needed after it.
            Some(1) => {
                migrate_1_to_2(&txn)?;
                migrate_2_to_3(&txn)?;
            }
            Some(2) => migrate_2_to_3(&txn)?,
            Some(3) => {
                migrate_3_to_4(&txn)?;
                migrate_4_to_5(&txn)?;
            }
            Some(4) => migrate_4_to_5(&txn)?,
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
        txn.open_table(ACCOUNTS_SEARCH)?;
        txn.open_table(OPPORTUNITIES_SEARCH)?;
        txn.open_table(TOKENS)?;
        txn.open_table(META)?
            .insert("schema_version", SCHEMA_VERSION.to_be_bytes().as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the run counter up to at least `floor` (a restored store: the node may have run
    /// more often since its backup than the backup knows, and a reused run counter would make
    /// a reused Automerge actor, invariant 5).
    pub fn raise_run_counter(&self, floor: u64) -> Result<()> {
        let txn = self.write()?;
        {
            let mut meta = txn.open_table(META)?;
            let current = meta
                .get("run_counter")?
                .map(|v| decode_u64(v.value()))
                .unwrap_or(0);
            if current < floor {
                meta.insert("run_counter", floor.to_be_bytes().as_slice())?;
            }
        }
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
    /// ids unique (invariant 5 in ARCHITECTURE.md).
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
        let needle = q.map(search::normalize_query);
        let after = after_cursor(cursor)?;
        let mut items = Vec::new();
        let mut more = false;
        if let Some(q) = &needle {
            let index = txn.open_table(ACCOUNTS_SEARCH)?;
            if let search::Candidates::Ids(ids) = search::candidates(&index, q, after)? {
                for id in ids {
                    let Some(account) = get_account(&table, &id)? else {
                        continue;
                    };
                    if !search::account_matches(&account, q) {
                        continue;
                    }
                    if items.len() == limit {
                        more = true;
                        break;
                    }
                    items.push(account);
                }
                return Ok(page(items, more, |a| a.id.clone()));
            }
        }
        for entry in table.range::<&IdKey>((after.as_ref(), Bound::Unbounded))? {
            let (k, v) = entry?;
            let account = codec::decode_account(&id_text(k.value()), v.value())?;
            if needle
                .as_deref()
                .is_some_and(|q| !search::account_matches(&account, q))
            {
                continue;
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
        let needle = filter.q.as_deref().map(search::normalize_query);
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
            if needle
                .as_deref()
                .is_some_and(|q| !search::opportunity_matches(&opp, q))
            {
                return true;
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
        let searched = match (&filter.account_id, &needle) {
            (None, Some(q)) => {
                search::candidates(&txn.open_table(OPPORTUNITIES_SEARCH)?, q, after)?
            }
            _ => search::Candidates::Common,
        };
        if let search::Candidates::Ids(ids) = searched {
            for id in ids {
                if let Some(opp) = get_opportunity(&table, &id)? {
                    if !consider(opp, &mut items) {
                        break;
                    }
                }
            }
        } else if let Some(account_id) = &filter.account_id {
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
    accounts_search: redb::Table<'txn, (&'static str, &'static IdKey), ()>,
    opportunities_search: redb::Table<'txn, (&'static str, &'static IdKey), ()>,
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
    accounts_search: Vec<(String, IdKey)>,
    opportunities_search: Vec<(String, IdKey)>,
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
            accounts_search: txn.open_table(ACCOUNTS_SEARCH)?,
            opportunities_search: txn.open_table(OPPORTUNITIES_SEARCH)?,
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
        })?;
        let search = &mut self.accounts_search;
        insert_sorted(&mut self.pending.accounts_search, |(t, id)| {
            search.insert((t.as_str(), id), ()).map(drop)
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
        })?;
        let search = &mut self.opportunities_search;
        insert_sorted(&mut self.pending.opportunities_search, |(t, id)| {
            search.insert((t.as_str(), id), ()).map(drop)
        })
    }

    /// Buffers the search index entries of `account` (stored under `key`).
    fn index_account_search(&mut self, account: &Account, key: &IdKey) -> Result<()> {
        let pending = &mut self.pending.accounts_search;
        pending.extend(
            search::account_terms(account, search::TERM_BYTES_MAX)
                .into_iter()
                .map(|t| (t, *key)),
        );
        if pending.len() >= INDEX_PENDING_ENTRIES_MAX {
            self.flush_accounts()?;
        }
        Ok(())
    }

    /// Buffers the search index entries of `opp` (stored under `key`).
    fn index_opportunity_search(&mut self, opp: &Opportunity, key: &IdKey) -> Result<()> {
        let pending = &mut self.pending.opportunities_search;
        pending.extend(
            search::opportunity_terms(opp, search::TERM_BYTES_MAX)
                .into_iter()
                .map(|t| (t, *key)),
        );
        if pending.len() >= INDEX_PENDING_ENTRIES_MAX {
            self.flush_opportunities()?;
        }
        Ok(())
    }

    /// Removes the search index entries of `account` (stored under `key`); the pending
    /// entries are flushed already.
    fn unindex_account_search(&mut self, account: &Account, key: &IdKey) -> Result<()> {
        for t in search::account_terms(account, search::TERM_BYTES_MAX) {
            self.accounts_search.remove((t.as_str(), key))?;
        }
        Ok(())
    }

    /// Removes the search index entries of `opp` (stored under `key`); the pending entries are
    /// flushed already.
    fn unindex_opportunity_search(&mut self, opp: &Opportunity, key: &IdKey) -> Result<()> {
        for t in search::opportunity_terms(opp, search::TERM_BYTES_MAX) {
            self.opportunities_search.remove((t.as_str(), key))?;
        }
        Ok(())
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
            self.unindex_account_search(old, &key)?;
        }
        if let Some(x) = &account.external_id {
            insert_external_id(&mut self.accounts_by_external, x, &key, "account")?;
        }
        self.index_account_search(account, &key)?;
        self.flush_accounts()?;
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
        self.index_account_search(account, key)
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
        self.index_opportunity_search(opp, key)
    }

    /// Removes an account and its index entries; `None` when there is none with that id. The
    /// caller checks first that no opportunity names it.
    pub fn delete_account(&mut self, id: &str) -> Result<Option<Account>> {
        let Some(key) = id_key(id) else {
            return Ok(None);
        };
        self.flush_accounts()?;
        let Some(old) = get_account(&self.accounts, &key)? else {
            return Ok(None);
        };
        if let Some(x) = &old.external_id {
            self.accounts_by_external.remove(x.as_str())?;
        }
        if let Some(d) = &old.domain {
            self.accounts_by_domain.remove((d.as_str(), &key))?;
        }
        self.accounts_by_name.remove((old.name.as_str(), &key))?;
        self.unindex_account_search(&old, &key)?;
        self.accounts.remove(&key)?;
        Ok(Some(old))
    }

    /// Removes an opportunity and its index entries; `None` when there is none with that id.
    pub fn delete_opportunity(&mut self, id: &str) -> Result<Option<Opportunity>> {
        let Some(key) = id_key(id) else {
            return Ok(None);
        };
        self.flush_opportunities()?;
        let Some(old) = get_opportunity(&self.opportunities, &key)? else {
            return Ok(None);
        };
        if let Some(x) = &old.external_id {
            self.opportunities_by_external.remove(x.as_str())?;
        }
        self.opportunities_by_stage
            .remove(&stage_entry(codec::stage_code(old.stage), &key))?;
        if let Some(account) = id_key(&old.account_id) {
            self.opportunities_by_account
                .remove(&pair_entry(&account, &key))?;
        }
        self.unindex_opportunity_search(&old, &key)?;
        self.opportunities.remove(&key)?;
        Ok(Some(old))
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
            self.unindex_opportunity_search(old, &key)?;
        }
        if let Some(x) = &opp.external_id {
            insert_external_id(&mut self.opportunities_by_external, x, &key, "opportunity")?;
        }
        self.opportunities_by_stage
            .insert(&stage_entry(codec::stage_code(opp.stage), &key), ())?;
        self.opportunities_by_account
            .insert(&pair_entry(&account, &key), ())?;
        self.index_opportunity_search(opp, &key)?;
        self.flush_opportunities()?;
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
mod tests;
