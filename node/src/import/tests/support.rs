//! A store and imports into it, for the writer's tests.

use crate::import::{self, write::*};
use crate::store::{OpportunityFilter, Store};
use protocol::records::{Account, Currency};

/// A store holding the accounts of `accounts_csv`.
pub(super) fn store_with(accounts_csv: &str) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("db")).expect("store");
    import_accounts(&store, accounts_csv.as_bytes())
        .map_err(|e| format!("{e:?}"))
        .expect("accounts import");
    (dir, store)
}

/// Imports `csv` as opportunities: each one's external id and its account's external id,
/// or the row errors as the CLI prints them.
pub(super) fn link(store: &Store, csv: &str) -> Result<Vec<(String, String)>, Vec<String>> {
    match import_opportunities(
        store,
        csv.as_bytes(),
        Currency::USD,
        import::ImportOptions::default(),
    ) {
        Ok(_) => {}
        Err(ImportFailure::Rows { errors, .. }) => {
            return Err(errors.iter().map(ToString::to_string).collect())
        }
        Err(other) => panic!("{other:?}"),
    }
    let page = store
        .list_opportunities(&OpportunityFilter::default(), None, 1000)
        .expect("list");
    let mut linked: Vec<(String, String)> = page
        .items
        .into_iter()
        .map(|o| {
            let account = store
                .account(&o.account_id)
                .expect("read")
                .expect("account");
            (
                o.external_id.unwrap_or_default(),
                account.external_id.unwrap_or_default(),
            )
        })
        .collect();
    linked.sort();
    Ok(linked)
}

pub(super) const COMPANIES: &str = "Record ID,Company name,Company Domain Name\n\
    123,Acme Inc,acme.example\n\
    456,Globex,globex.example\n\
    789,Initech,initech.example\n";

pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The stored account with this external id (among the first ten).
pub(super) fn account_with_external_id(store: &Store, external_id: &str) -> Account {
    store
        .list_accounts(None, None, 10)
        .expect("list")
        .items
        .into_iter()
        .find(|a| a.external_id.as_deref() == Some(external_id))
        .expect("the account")
}

/// Imports `csv` as accounts into `store`: the summary, or the row errors as the CLI prints
/// them.
pub(super) fn accounts_into(store: &Store, csv: &str) -> Result<ImportSummary, Vec<String>> {
    match import_accounts(store, csv.as_bytes()) {
        Ok(summary) => Ok(summary),
        Err(ImportFailure::Rows { errors, .. }) => {
            Err(errors.iter().map(ToString::to_string).collect())
        }
        Err(other) => panic!("{other:?}"),
    }
}

/// A store with nothing in it.
pub(super) fn empty_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("db")).expect("store");
    (dir, store)
}
