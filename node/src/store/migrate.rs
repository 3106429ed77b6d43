//! Schema migrations of the store: each rewrites the tables of one schema version into the next,
//! inside the transaction that opens the store.

use super::*;

/// Schema 1 → 2: account and opportunity values from JSON to [`codec`]'s encoding, in batches of
/// [`MIGRATION_BATCH_RECORDS`] inside the caller's transaction.
pub(super) fn migrate_1_to_2(txn: &WriteTransaction) -> Result<()> {
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
pub(super) fn reencode(
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
pub(in crate::store) mod v2 {
    use redb::TableDefinition;
    pub(in crate::store) const ACCOUNTS: TableDefinition<&str, &[u8]> =
        TableDefinition::new("accounts");
    pub(in crate::store) const ACCOUNTS_BY_EXTERNAL: TableDefinition<&str, &str> =
        TableDefinition::new("accounts_by_external_id");
    pub(in crate::store) const ACCOUNTS_BY_DOMAIN: TableDefinition<(&str, &str), ()> =
        TableDefinition::new("accounts_by_domain");
    pub(in crate::store) const ACCOUNTS_BY_NAME: TableDefinition<(&str, &str), ()> =
        TableDefinition::new("accounts_by_name");
    pub(in crate::store) const OPPORTUNITIES: TableDefinition<&str, &[u8]> =
        TableDefinition::new("opportunities");
    pub(in crate::store) const OPPORTUNITIES_BY_EXTERNAL: TableDefinition<&str, &str> =
        TableDefinition::new("opportunities_by_external_id");
    pub(in crate::store) const OPPORTUNITIES_BY_STAGE: TableDefinition<(&str, &str), ()> =
        TableDefinition::new("opportunities_by_stage");
    pub(in crate::store) const OPPORTUNITIES_BY_ACCOUNT: TableDefinition<(&str, &str), ()> =
        TableDefinition::new("opportunities_by_account");
}

/// Schema 3's tables that schema 4 changed (for [`migrate_3_to_4`]).
pub(in crate::store) mod v3 {
    use super::IdKey;
    use redb::TableDefinition;
    pub(in crate::store) const OPPORTUNITIES_BY_STAGE: TableDefinition<(u8, &IdKey), ()> =
        TableDefinition::new("opportunities_by_stage");
    pub(in crate::store) const OPPORTUNITIES_BY_ACCOUNT: TableDefinition<(&IdKey, &IdKey), ()> =
        TableDefinition::new("opportunities_by_account");
}

/// Schema 3 → 4: the (stage, opportunity) and (account, opportunity) indexes, from tuple keys
/// to one fixed-width key each, rebuilt from the opportunity records in the caller's
/// transaction (as [`migrate_2_to_3`] rebuilds every index).
pub(super) fn migrate_3_to_4(txn: &WriteTransaction) -> Result<()> {
    txn.delete_table(v3::OPPORTUNITIES_BY_STAGE)?;
    txn.delete_table(v3::OPPORTUNITIES_BY_ACCOUNT)?;
    let mut tables = WriteTables::open(txn)?;
    reindex_opportunities(&mut tables, NewExternalId::Claimed)?;
    tables.flush()
}

/// Schema 4 → 5: the `?q=` search indexes ([`search`]), built from the records in the
/// caller's transaction. Any entries already there (a 3 → 4 step just rebuilt the opportunity
/// indexes) are dropped first, so each term is written once.
pub(super) fn migrate_4_to_5(txn: &WriteTransaction) -> Result<()> {
    txn.delete_table(ACCOUNTS_SEARCH)?;
    txn.delete_table(OPPORTUNITIES_SEARCH)?;
    let mut tables = WriteTables::open(txn)?;
    let mut after = Bound::Unbounded;
    while let Some((last, batch)) = record_batch(&tables.accounts, after, codec::decode_account)? {
        for (key, account) in &batch {
            tables.index_account_search(account, key)?;
        }
        after = Bound::Excluded(last);
    }
    let mut after = Bound::Unbounded;
    while let Some((last, batch)) =
        record_batch(&tables.opportunities, after, codec::decode_opportunity)?
    {
        for (key, opp) in &batch {
            tables.index_opportunity_search(opp, key)?;
        }
        after = Bound::Excluded(last);
    }
    tables.flush()
}

/// Writes the index entries of every opportunity record, [`MIGRATION_BATCH_RECORDS`] at a time;
/// `external_id` says whether the external-id index is rebuilt too.
pub(super) fn reindex_opportunities(
    tables: &mut WriteTables<'_>,
    external_id: NewExternalId,
) -> Result<()> {
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
pub(super) fn migrate_2_to_3(txn: &WriteTransaction) -> Result<()> {
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
pub(super) fn record_batch<T>(
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
pub(super) fn rekey(
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
