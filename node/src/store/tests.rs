//! Unit tests of the store: records, indexes, migrations and file modes.

use super::migrate::{v2, v3};
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
    assert_search_index_exact(store);
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
                .insert_new_opportunity(&opportunity(i, &accounts[i % 3].id), NewExternalId::Insert)
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

/// The search indexes hold exactly the terms of the records there are: nothing missing,
/// nothing left from an old version or a deleted record.
fn assert_search_index_exact(store: &Store) {
    let txn = store.read().expect("read");
    let mut expected = std::collections::BTreeSet::new();
    for entry in txn.open_table(ACCOUNTS).expect("t").iter().expect("iter") {
        let (k, v) = entry.expect("entry");
        let a = codec::decode_account(&id_text(k.value()), v.value()).expect("decode");
        for t in search::account_terms(&a, search::TERM_BYTES_MAX) {
            expected.insert(("a", t, *k.value()));
        }
    }
    for entry in txn
        .open_table(OPPORTUNITIES)
        .expect("t")
        .iter()
        .expect("iter")
    {
        let (k, v) = entry.expect("entry");
        let o = codec::decode_opportunity(&id_text(k.value()), v.value()).expect("decode");
        for t in search::opportunity_terms(&o, search::TERM_BYTES_MAX) {
            expected.insert(("o", t, *k.value()));
        }
    }
    let mut actual = std::collections::BTreeSet::new();
    for (kind, table) in [("a", ACCOUNTS_SEARCH), ("o", OPPORTUNITIES_SEARCH)] {
        for entry in txn.open_table(table).expect("t").iter().expect("iter") {
            let (k, _) = entry.expect("entry");
            let (t, id) = k.value();
            actual.insert((kind, t.to_string(), *id));
        }
    }
    assert_eq!(actual, expected);
}

/// Every page of `q` (3 at a time, through the cursors), against the same filter applied to
/// every record by hand.
fn assert_search_pages(store: &Store, q: &str, stage: Option<Stage>) {
    let all = store
        .list_opportunities(&OpportunityFilter::default(), None, usize::MAX)
        .expect("all");
    let lower = search::normalize_query(q);
    let expected: Vec<String> = all
        .items
        .iter()
        .filter(|o| search::opportunity_matches(o, &lower))
        .filter(|o| stage.is_none_or(|s| o.stage == s))
        .map(|o| o.id.clone())
        .collect();
    let filter = OpportunityFilter {
        stage,
        q: Some(q.to_string()),
        ..Default::default()
    };
    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_opportunities(&filter, cursor.as_deref(), 3)
            .expect("page");
        got.extend(page.items.iter().map(|o| o.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got, expected, "q={q:?} stage={stage:?}");
}

#[test]
fn the_search_index_follows_every_write_and_answers_as_a_scan_would() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("db")).expect("store");
    let accounts: Vec<Account> = (0..10).map(account).collect();
    let mut opportunities = opportunities_of(&accounts, 60);
    opportunities[5].name = "Renewal - Platform Éclair".into();
    opportunities[6].owner = Some("Dana Smith".into());
    // An import's path (buffered entries) and the one-record path both write the index.
    let txn = store.write().expect("write");
    {
        let mut tables = WriteTables::open(&txn).expect("tables");
        for a in &accounts {
            tables
                .insert_new_account(a, NewExternalId::Insert)
                .expect("a");
        }
        for o in &opportunities[..40] {
            tables
                .insert_new_opportunity(o, NewExternalId::Insert)
                .expect("o");
        }
        for o in &opportunities[40..] {
            tables.put_opportunity(o).expect("o");
        }
        tables.flush().expect("flush");
    }
    txn.commit().expect("commit");
    assert_search_index_exact(&store);
    for q in [
        "deal 1", "DEAL 1", "platform", "éclair", "ÉCLAIR", "opp-4", "dana", "smith",
    ] {
        assert_search_pages(&store, q, None);
    }
    assert_search_pages(&store, "deal", Some(Stage::Launched));
    assert_eq!(
        store
            .list_opportunities(
                &OpportunityFilter {
                    q: Some("platform".into()),
                    ..Default::default()
                },
                None,
                10
            )
            .expect("list")
            .items
            .len(),
        1
    );
    // A word inside a word is not a word start; the old "contains" match is gone.
    let inner = OpportunityFilter {
        q: Some("latform".into()),
        ..Default::default()
    };
    assert!(store
        .list_opportunities(&inner, None, 10)
        .expect("list")
        .items
        .is_empty());

    // Update: the old terms go, the new ones come; delete: all go.
    let txn = store.write().expect("write");
    {
        let mut tables = WriteTables::open(&txn).expect("tables");
        let mut renamed = opportunities[5].clone();
        renamed.name = "Expansion 2027".into();
        tables.put_opportunity(&renamed).expect("put");
        tables
            .delete_opportunity(&opportunities[6].id)
            .expect("delete");
        let mut a = accounts[3].clone();
        a.domain = Some(Domain::parse("renamed.example").expect("domain"));
        a.name = "Globex Corporation".into();
        tables.put_account(&a).expect("put");
        tables.delete_account(&accounts[9].id).expect("delete");
    }
    txn.commit().expect("commit");
    assert_search_index_exact(&store);
    for q in ["platform", "expansion", "2027", "dana"] {
        assert_search_pages(&store, q, None);
    }
    let found = |q: &str| -> Vec<String> {
        store
            .list_accounts(Some(q), None, 100)
            .expect("accounts")
            .items
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    assert_eq!(found("corporation"), [accounts[3].id.clone()]);
    assert_eq!(found("renamed.ex"), [accounts[3].id.clone()]);
    assert!(found("company-3.example").is_empty());
    assert!(found("acc-9").is_empty());
    assert_eq!(found("ACC-2"), [accounts[2].id.clone()]);
}

#[test]
fn a_common_query_answers_from_the_records_the_same_pages() {
    // More matching entries than the index is read for: the records are scanned instead.
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("db")).expect("store");
    let accounts: Vec<Account> = (0..7).map(account).collect();
    let n = search::SEARCH_ENTRIES_MAX + 300;
    let opportunities = opportunities_of(&accounts, n);
    let txn = store.write().expect("write");
    {
        let mut tables = WriteTables::open(&txn).expect("tables");
        for a in &accounts {
            tables
                .insert_new_account(a, NewExternalId::Insert)
                .expect("a");
        }
        for o in &opportunities {
            tables
                .insert_new_opportunity(o, NewExternalId::Insert)
                .expect("o");
        }
        tables.flush().expect("flush");
    }
    txn.commit().expect("commit");
    let index_says = |q: &str| {
        let txn = store.read().expect("read");
        let index = txn.open_table(OPPORTUNITIES_SEARCH).expect("t");
        matches!(
            search::candidates(&index, q, Bound::Unbounded).expect("candidates"),
            search::Candidates::Common
        )
    };
    assert!(
        index_says("deal"),
        "'deal' should be too common for the index"
    );
    assert!(!index_says("deal 42"));
    let filter = |q: &str| OpportunityFilter {
        q: Some(q.into()),
        ..Default::default()
    };
    let first = store
        .list_opportunities(&filter("deal"), None, 100)
        .expect("page");
    let expected: Vec<&str> = opportunities[..100].iter().map(|o| o.id.as_str()).collect();
    let got: Vec<&str> = first.items.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(got, expected);
    let last = store
        .list_opportunities(&filter("deal"), Some(&opportunities[n - 3].id), 100)
        .expect("page");
    assert_eq!(last.items.len(), 2);
    assert_eq!(last.next_cursor, None);
    assert_search_pages(&store, "deal 42", None);
}

#[test]
fn a_schema_4_file_opens_with_its_search_indexes_built() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("db");
    let accounts: Vec<Account> = (0..10).map(account).collect();
    let opportunities = opportunities_of(&accounts, 2_500);
    {
        let store = Store::open(&path).expect("store");
        let txn = store.write().expect("write");
        {
            let mut tables = WriteTables::open(&txn).expect("tables");
            for a in &accounts {
                tables.put_account(a).expect("a");
            }
            for o in &opportunities {
                tables
                    .insert_new_opportunity(o, NewExternalId::Insert)
                    .expect("o");
            }
            tables.flush().expect("flush");
        }
        // What a schema 4 build left: no search tables.
        txn.delete_table(ACCOUNTS_SEARCH).expect("delete");
        txn.delete_table(OPPORTUNITIES_SEARCH).expect("delete");
        txn.open_table(META)
            .expect("meta")
            .insert("schema_version", 4u64.to_be_bytes().as_slice())
            .expect("version");
        txn.commit().expect("commit");
    }
    let store = Store::open(&path).expect("reopen");
    assert_eq!(stored_version(&store), Some(SCHEMA_VERSION));
    assert_search_index_exact(&store);
    assert_search_pages(&store, "deal 24", None);
    assert_indexes_match(&store, &accounts, &opportunities);
}
