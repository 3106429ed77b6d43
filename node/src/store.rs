//! The node's redb database: its own accounts and opportunities, their indexes, API tokens and
//! metadata. Table layout and encodings are written down in `docs/storage.md`; keep the two in
//! step. Every public write is one durable redb transaction: it is all there after a crash, or
//! none of it is.

use anyhow::{anyhow, bail, Context, Result};
use protocol::records::{Account, Opportunity, Stage};
use redb::{
    Database, DatabaseError, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use std::path::Path;

mod codec;

/// Schema version this build writes. Bump it with a migration step in [`Store::migrate`].
/// 1: records as JSON; 2: records in [`codec`]'s binary encoding.
pub const SCHEMA_VERSION: u64 = 2;

/// Records re-encoded per step of a migration, so a step holds a bounded batch in memory.
const MIGRATION_BATCH_RECORDS: usize = 1024;

/// redb's page cache: read cache and write buffer together. redb's default (1 GiB) let a large
/// import's write transaction hold ~half its database in memory; with a bound, redb writes the
/// excess dirty pages to free space in the file before commit (still invisible until the commit,
/// so an import stays all or nothing) and the node's memory no longer grows with the file.
pub const STORE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Small key → value metadata (`schema_version`, `run_counter`).
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Account id → account as JSON.
pub(crate) const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
/// CRM external id → account id.
pub(crate) const ACCOUNTS_BY_EXTERNAL: TableDefinition<&str, &str> =
    TableDefinition::new("accounts_by_external_id");
/// (normalized domain, account id) → () — several accounts may share a domain.
pub(crate) const ACCOUNTS_BY_DOMAIN: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("accounts_by_domain");
/// (exact name, account id) → ().
pub(crate) const ACCOUNTS_BY_NAME: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("accounts_by_name");
/// Opportunity id → opportunity as JSON.
pub(crate) const OPPORTUNITIES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("opportunities");
/// CRM external id → opportunity id.
pub(crate) const OPPORTUNITIES_BY_EXTERNAL: TableDefinition<&str, &str> =
    TableDefinition::new("opportunities_by_external_id");
/// (stage, opportunity id) → ().
pub(crate) const OPPORTUNITIES_BY_STAGE: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("opportunities_by_stage");
/// (account id, opportunity id) → ().
pub(crate) const OPPORTUNITIES_BY_ACCOUNT: TableDefinition<(&str, &str), ()> =
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

impl Store {
    /// Opens (or creates) the database at `path`, refusing one that another process holds or
    /// that a newer cosell wrote, and migrating an older one.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with_cache(path, STORE_CACHE_BYTES)
    }

    /// [`Store::open`] with a page cache of `cache_bytes` (`cache_mb` in `cosell.toml`).
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store> {
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
            Some(1) => migrate_1_to_2(&txn)?,
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
        let range = match cursor {
            Some(c) => {
                table.range::<&str>((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded))?
            }
            None => table.range::<&str>(..)?,
        };
        let mut more = false;
        for entry in range {
            let (k, v) = entry?;
            let account = codec::decode_account(k.value(), v.value())?;
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
        let after = cursor.unwrap_or("");
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
        if let Some(account_id) = &filter.account_id {
            let index = txn.open_table(OPPORTUNITIES_BY_ACCOUNT)?;
            for entry in index.range((account_id.as_str(), after)..)? {
                let (k, _) = entry?;
                let (acc, id) = k.value();
                if acc != account_id {
                    break;
                }
                if id == after {
                    continue;
                }
                if let Some(opp) = get_opportunity(&table, id)? {
                    if !consider(opp, &mut items) {
                        break;
                    }
                }
            }
        } else if let Some(stage) = filter.stage {
            let index = txn.open_table(OPPORTUNITIES_BY_STAGE)?;
            for entry in index.range((stage.as_str(), after)..)? {
                let (k, _) = entry?;
                let (s, id) = k.value();
                if s != stage.as_str() {
                    break;
                }
                if id == after {
                    continue;
                }
                if let Some(opp) = get_opportunity(&table, id)? {
                    if !consider(opp, &mut items) {
                        break;
                    }
                }
            }
        } else {
            let range = match cursor {
                Some(c) => table
                    .range::<&str>((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded))?,
                None => table.range::<&str>(..)?,
            };
            for entry in range {
                let (k, v) = entry?;
                if !consider(codec::decode_opportunity(k.value(), v.value())?, &mut items) {
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
        for entry in opportunities.range::<&str>(..)? {
            let (k, v) = entry?;
            let opp = codec::decode_opportunity(k.value(), v.value())?;
            if cached.as_ref().map(|a| a.id.as_str()) != Some(opp.account_id.as_str()) {
                cached = get_account(&accounts, &opp.account_id)?;
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

fn get_account(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Option<Account>> {
    table
        .get(id)?
        .map(|v| codec::decode_account(id, v.value()))
        .transpose()
}

fn get_opportunity(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Option<Opportunity>> {
    table
        .get(id)?
        .map(|v| codec::decode_opportunity(id, v.value()))
        .transpose()
}

/// Schema 1 → 2: account and opportunity values from JSON to [`codec`]'s encoding, in batches of
/// [`MIGRATION_BATCH_RECORDS`] inside the caller's transaction.
fn migrate_1_to_2(txn: &WriteTransaction) -> Result<()> {
    reencode(txn, ACCOUNTS, |json| {
        let account: Account =
            serde_json::from_slice(json).context("a stored account is corrupt")?;
        let mut out = Vec::new();
        codec::encode_account(&account, &mut out);
        Ok(out)
    })?;
    reencode(txn, OPPORTUNITIES, |json| {
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

/// The record tables opened inside one write transaction, so a batch (an import) reuses them.
pub struct WriteTables<'txn> {
    accounts: redb::Table<'txn, &'static str, &'static [u8]>,
    accounts_by_external: redb::Table<'txn, &'static str, &'static str>,
    accounts_by_domain: redb::Table<'txn, (&'static str, &'static str), ()>,
    accounts_by_name: redb::Table<'txn, (&'static str, &'static str), ()>,
    opportunities: redb::Table<'txn, &'static str, &'static [u8]>,
    opportunities_by_external: redb::Table<'txn, &'static str, &'static str>,
    opportunities_by_stage: redb::Table<'txn, (&'static str, &'static str), ()>,
    opportunities_by_account: redb::Table<'txn, (&'static str, &'static str), ()>,
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
    by_external: redb::ReadOnlyTable<&'static str, &'static str>,
    by_domain: redb::ReadOnlyTable<(&'static str, &'static str), ()>,
    by_name: redb::ReadOnlyTable<(&'static str, &'static str), ()>,
}

impl AccountIndexes {
    /// Opens the account indexes of `txn`'s snapshot.
    pub fn open(txn: &ReadTransaction) -> Result<Self> {
        Ok(AccountIndexes {
            by_external: txn.open_table(ACCOUNTS_BY_EXTERNAL)?,
            by_domain: txn.open_table(ACCOUNTS_BY_DOMAIN)?,
            by_name: txn.open_table(ACCOUNTS_BY_NAME)?,
        })
    }

    /// The id of the account with this CRM external id.
    pub fn account_id_by_external(&self, external_id: &str) -> Result<Option<String>> {
        Ok(self
            .by_external
            .get(external_id)?
            .map(|v| v.value().to_string()))
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
    index: &mut redb::Table<'_, &'static str, &'static str>,
    external_id: &str,
    id: &str,
) -> Result<Option<String>> {
    let Some(previous) = index
        .insert(external_id, id)?
        .map(|v| v.value().to_string())
    else {
        return Ok(None);
    };
    index.insert(external_id, previous.as_str())?;
    Ok(Some(previous))
}

/// Index entries an import buffers per (key, id) index before inserting them in key order.
/// Rows arrive in file order, which scatters the entries of an index like (account id,
/// opportunity id) over the whole B-tree; inserted sorted, a batch touches each page once, in
/// order. Bounded, so an import's memory does not grow with the file (~100 bytes an entry).
pub const INDEX_PENDING_ENTRIES_MAX: usize = 32 * 1024;

/// See [`WriteTables::pending`].
#[derive(Default)]
struct PendingIndexes {
    accounts_by_domain: Vec<(String, String)>,
    accounts_by_name: Vec<(String, String)>,
    opportunities_by_stage: Vec<(&'static str, String)>,
    opportunities_by_account: Vec<(String, String)>,
}

/// Inserts `pending` into `index` in key order and empties it.
fn insert_sorted<K: AsRef<str> + Ord>(
    index: &mut redb::Table<'_, (&'static str, &'static str), ()>,
    pending: &mut Vec<(K, String)>,
) -> Result<()> {
    pending.sort_unstable();
    for (key, id) in pending.drain(..) {
        index.insert((key.as_ref(), id.as_str()), ())?;
    }
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
        insert_sorted(
            &mut self.accounts_by_domain,
            &mut self.pending.accounts_by_domain,
        )?;
        insert_sorted(
            &mut self.accounts_by_name,
            &mut self.pending.accounts_by_name,
        )
    }

    fn flush_opportunities(&mut self) -> Result<()> {
        insert_sorted(
            &mut self.opportunities_by_stage,
            &mut self.pending.opportunities_by_stage,
        )?;
        insert_sorted(
            &mut self.opportunities_by_account,
            &mut self.pending.opportunities_by_account,
        )
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
            .map(|v| v.value().to_string()))
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
        claim(&mut self.accounts_by_external, external_id, id)
    }

    /// [`WriteTables::claim_account_external_id`] for opportunities.
    pub fn claim_opportunity_external_id(
        &mut self,
        external_id: &str,
        id: &str,
    ) -> Result<Option<String>> {
        claim(&mut self.opportunities_by_external, external_id, id)
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
            .map(|v| v.value().to_string()))
    }

    /// The ids of this account's opportunities (at most `max`).
    pub fn opportunity_ids_by_account(
        &mut self,
        account_id: &str,
        max: usize,
    ) -> Result<Vec<String>> {
        self.flush_opportunities()?;
        prefix_ids(&self.opportunities_by_account, account_id, max)
    }

    /// Writes an account and keeps its indexes in step.
    pub fn put_account(&mut self, account: &Account) -> Result<Upsert> {
        account
            .validate()
            .map_err(|e| anyhow!("account {}: {} {}", account.id, e.field, e.message))?;
        self.flush_accounts()?;
        let previous = self.account(&account.id)?;
        if previous.as_ref() == Some(account) {
            return Ok(Upsert::Unchanged);
        }
        if let Some(old) = &previous {
            if let Some(x) = &old.external_id {
                self.accounts_by_external.remove(x.as_str())?;
            }
            if let Some(d) = &old.domain {
                self.accounts_by_domain
                    .remove((d.as_str(), old.id.as_str()))?;
            }
            self.accounts_by_name
                .remove((old.name.as_str(), old.id.as_str()))?;
        }
        if let Some(x) = &account.external_id {
            if let Some(other) = self.accounts_by_external.get(x.as_str())? {
                if other.value() != account.id {
                    bail!(
                        "external id {x} already belongs to account {}",
                        other.value()
                    );
                }
            }
            self.accounts_by_external
                .insert(x.as_str(), account.id.as_str())?;
        }
        if let Some(d) = &account.domain {
            self.accounts_by_domain
                .insert((d.as_str(), account.id.as_str()), ())?;
        }
        self.accounts_by_name
            .insert((account.name.as_str(), account.id.as_str()), ())?;
        let mut bytes = Vec::with_capacity(128);
        codec::encode_account(account, &mut bytes);
        self.accounts
            .insert(account.id.as_str(), bytes.as_slice())?;
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
        if let (Some(x), NewExternalId::Insert) = (&account.external_id, external_id) {
            if let Some(other) = self
                .accounts_by_external
                .insert(x.as_str(), account.id.as_str())?
            {
                bail!(
                    "external id {x} already belongs to account {}",
                    other.value()
                );
            }
        }
        let pending = &mut self.pending;
        if let Some(d) = &account.domain {
            pending
                .accounts_by_domain
                .push((d.as_str().to_string(), account.id.clone()));
        }
        pending
            .accounts_by_name
            .push((account.name.clone(), account.id.clone()));
        if pending.accounts_by_name.len() >= INDEX_PENDING_ENTRIES_MAX {
            self.flush_accounts()?;
        }
        let mut bytes = Vec::with_capacity(128);
        codec::encode_account(account, &mut bytes);
        if self
            .accounts
            .insert(account.id.as_str(), bytes.as_slice())?
            .is_some()
        {
            bail!("account {} already exists", account.id);
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
        if let (Some(x), NewExternalId::Insert) = (&opp.external_id, external_id) {
            if let Some(other) = self
                .opportunities_by_external
                .insert(x.as_str(), opp.id.as_str())?
            {
                bail!(
                    "external id {x} already belongs to opportunity {}",
                    other.value()
                );
            }
        }
        let pending = &mut self.pending;
        pending
            .opportunities_by_stage
            .push((opp.stage.as_str(), opp.id.clone()));
        pending
            .opportunities_by_account
            .push((opp.account_id.clone(), opp.id.clone()));
        if pending.opportunities_by_account.len() >= INDEX_PENDING_ENTRIES_MAX {
            self.flush_opportunities()?;
        }
        let mut bytes = Vec::with_capacity(160);
        codec::encode_opportunity(opp, &mut bytes);
        if self
            .opportunities
            .insert(opp.id.as_str(), bytes.as_slice())?
            .is_some()
        {
            bail!("opportunity {} already exists", opp.id);
        }
        Ok(())
    }

    /// Writes an opportunity and keeps its indexes in step.
    pub fn put_opportunity(&mut self, opp: &Opportunity) -> Result<Upsert> {
        opp.validate()
            .map_err(|e| anyhow!("opportunity {}: {} {}", opp.id, e.field, e.message))?;
        self.flush_opportunities()?;
        let previous = self.opportunity(&opp.id)?;
        if previous.as_ref() == Some(opp) {
            return Ok(Upsert::Unchanged);
        }
        if let Some(old) = &previous {
            if let Some(x) = &old.external_id {
                self.opportunities_by_external.remove(x.as_str())?;
            }
            self.opportunities_by_stage
                .remove((old.stage.as_str(), old.id.as_str()))?;
            self.opportunities_by_account
                .remove((old.account_id.as_str(), old.id.as_str()))?;
        }
        if let Some(x) = &opp.external_id {
            if let Some(other) = self.opportunities_by_external.get(x.as_str())? {
                if other.value() != opp.id {
                    bail!(
                        "external id {x} already belongs to opportunity {}",
                        other.value()
                    );
                }
            }
            self.opportunities_by_external
                .insert(x.as_str(), opp.id.as_str())?;
        }
        self.opportunities_by_stage
            .insert((opp.stage.as_str(), opp.id.as_str()), ())?;
        self.opportunities_by_account
            .insert((opp.account_id.as_str(), opp.id.as_str()), ())?;
        let mut bytes = Vec::with_capacity(160);
        codec::encode_opportunity(opp, &mut bytes);
        self.opportunities
            .insert(opp.id.as_str(), bytes.as_slice())?;
        Ok(if previous.is_some() {
            Upsert::Updated
        } else {
            Upsert::Inserted
        })
    }
}

fn prefix_ids(
    index: &impl ReadableTable<(&'static str, &'static str), ()>,
    prefix: &str,
    max: usize,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in index.range((prefix, "")..)? {
        let (k, _) = entry?;
        let (p, id) = k.value();
        if p != prefix || out.len() == max {
            break;
        }
        out.push(id.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::records::{AccountStatus, Amount, Currency, Date, Domain};

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

    /// Writes a schema-1 file the way a version-1 build did: every table, JSON record values.
    fn write_schema_1(path: &Path, accounts: &[Account], opportunities: &[Opportunity]) {
        let db = Database::create(path).expect("create");
        let txn = db.begin_write().expect("write");
        {
            let mut meta = txn.open_table(META).expect("meta");
            meta.insert("schema_version", 1u64.to_be_bytes().as_slice())
                .expect("version");
            let mut tables = WriteTables::open(&txn).expect("tables");
            for a in accounts {
                let json = serde_json::to_vec(a).expect("json");
                tables
                    .accounts
                    .insert(a.id.as_str(), json.as_slice())
                    .expect("insert");
                if let Some(x) = &a.external_id {
                    tables
                        .accounts_by_external
                        .insert(x.as_str(), a.id.as_str())
                        .expect("index");
                }
            }
            for o in opportunities {
                let json = serde_json::to_vec(o).expect("json");
                tables
                    .opportunities
                    .insert(o.id.as_str(), json.as_slice())
                    .expect("insert");
                tables
                    .opportunities_by_account
                    .insert((o.account_id.as_str(), o.id.as_str()), ())
                    .expect("index");
            }
            txn.open_table(TOKENS).expect("tokens");
        }
        txn.commit().expect("commit");
    }

    #[test]
    fn a_schema_1_file_with_json_records_opens_migrated_with_every_record_intact() {
        // Goal: a database written before the binary record encoding (schema 1, JSON values)
        // opens in this build with every record as it was, more records than one migration
        // batch, and is schema 2 afterwards.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cosell.redb");
        let n = MIGRATION_BATCH_RECORDS * 2 + 7;
        let accounts: Vec<Account> = (0..n).map(account).collect();
        let opportunities: Vec<Opportunity> = (0..n)
            .map(|i| opportunity(i, &accounts[i % 10].id))
            .collect();
        write_schema_1(&path, &accounts, &opportunities);

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
                .claim_account_external_id(&x, "01OTHER")
                .expect("claim"),
            Some(first.id.clone())
        );
        assert_eq!(
            tables.account_id_by_external(&x).expect("lookup"),
            Some(first.id.clone())
        );
        assert_eq!(
            tables
                .claim_opportunity_external_id("OPP-1", "01A")
                .expect("claim"),
            None
        );
        assert_eq!(
            tables
                .claim_opportunity_external_id("OPP-1", "01B")
                .expect("claim"),
            Some("01A".to_string())
        );
        assert_eq!(
            tables.opportunity_id_by_external("OPP-1").expect("lookup"),
            Some("01A".to_string())
        );
    }
}
