//! Finding an opportunity's account, and a record by a Salesforce id in either form.

use super::support::*;
use crate::import;
use crate::store::{OpportunityFilter, Store};
use protocol::records::Account;

#[test]
fn a_hubspot_deal_listing_several_companies_links_the_one_that_is_an_account() {
    // HubSpot writes every company a deal is associated with into one cell, `;`-separated.
    // The one part that names an account is the deal's account, in the name or the id column.
    let (_dir, store) = store_with(COMPANIES);
    let deals = "Record ID,Deal Name,Deal Stage,Associated Company\n\
        D1,By name,closedwon,Acme Inc;Umbrella Corp\n\
        D2,Spaces and case as written,closedwon, Umbrella Corp ;  Globex \n\
        D3,Whole name,closedwon,Initech\n";
    assert_eq!(
        link(&store, deals),
        Ok(pairs(&[("D1", "123"), ("D2", "456"), ("D3", "789")]))
    );
    let deals = "Record ID,Deal Name,Deal Stage,Associated Company IDs\n\
        D4,By id,closedwon,999;456\n\
        D5,The same id twice,closedwon,123;123\n";
    assert_eq!(
        link(&store, deals),
        Ok(pairs(&[
            ("D1", "123"),
            ("D2", "456"),
            ("D3", "789"),
            ("D4", "456"),
            ("D5", "123")
        ]))
    );
}

#[test]
fn a_hubspot_deal_naming_several_accounts_is_a_row_error_naming_the_column_and_parts() {
    let (_dir, store) = store_with(COMPANIES);
    // Both companies are accounts here: which one the deal belongs to is not the import's
    // to guess. Each list naming several is reported; nothing is imported.
    let deals = "Record ID,Deal Name,Deal Stage,Associated Company IDs,Associated Company\n\
        D1,Fine,closedwon,123,Acme Inc\n\
        D2,Two,closedwon,123;456,Acme Inc;Globex\n\
        D3,Two of three,closedwon,,Acme Inc; Umbrella Corp; Globex\n\
        D4,None,closedwon,998;999,Umbrella Corp;Hooli\n";
    assert_eq!(
        link(&store, deals),
        Err(vec![
            "row 2 (line 3), column Associated Company IDs: names 2 companies (123; 456); \
             keep one"
                .to_string(),
            "row 2 (line 3), column Associated Company: names 2 companies (Acme Inc; \
             Globex); keep one"
                .to_string(),
            "row 3 (line 4), column Associated Company: names 2 companies (Acme Inc; \
             Globex); keep one"
                .to_string(),
            "row 4 (line 5), column Associated Company: no account named 'Umbrella \
             Corp;Hooli' (import accounts first)"
                .to_string(),
        ])
    );
    assert!(store
        .list_opportunities(&OpportunityFilter::default(), None, 10)
        .expect("list")
        .items
        .is_empty());
    let by_id = "Deal Name,Deal Stage,Associated Company IDs\nD,closedwon,998;999\n";
    assert_eq!(
        link(&store, by_id),
        Err(vec![
            "row 1 (line 2), column Associated Company IDs: no account with external id \
             '998;999' (import accounts first)"
                .to_string()
        ])
    );
}

#[test]
fn another_account_column_settles_a_list_only_by_naming_one_of_its_companies() {
    let (_dir, store) = store_with(COMPANIES);
    // The ids list two accounts; the single name (or domain) says which of them.
    let deals =
        "Record ID,Deal Name,Deal Stage,Associated Company IDs,Company Domain,Associated Company\n\
        D1,Named,closedwon,123;456,,Globex\n\
        D2,By domain,closedwon,123;456,acme.example,\n";
    assert_eq!(
        link(&store, deals),
        Ok(pairs(&[("D1", "456"), ("D2", "123")]))
    );
    // A name that is neither of them settles nothing.
    let deals = "Record ID,Deal Name,Deal Stage,Associated Company IDs,Associated Company\n\
        D3,Elsewhere,closedwon,123;456,Initech\n";
    assert_eq!(
        link(&store, deals),
        Err(vec![
            "row 1 (line 2), column Associated Company IDs: names 2 companies (123; 456); \
             keep one"
                .to_string()
        ])
    );
}

#[test]
fn an_account_whose_name_holds_a_semicolon_is_linked_by_its_whole_name() {
    let (_dir, store) =
        store_with("Record ID,Company name\n1,Smith;Jones LLP\n2,Smith\n3,Jones LLP\n");
    let deals =
        "Record ID,Deal Name,Deal Stage,Associated Company\nD1,Law,closedwon,Smith;Jones LLP\n";
    assert_eq!(link(&store, deals), Ok(pairs(&[("D1", "1")])));
}

#[test]
fn an_account_name_written_in_another_case_links_the_one_account_that_has_it() {
    // Bug: `umbrella corp` was "no account named …" while `Umbrella Corp` existed.
    let (_dir, store) = store_with("Account ID,Account Name\n1,Umbrella Corp\n2,ACME\n3,Acme\n");
    let deals =
        "Opportunity ID,Opportunity Name,Stage,Account Name\nD1,Big,Qualification,umbrella corp\n";
    assert_eq!(link(&store, deals), Ok(pairs(&[("D1", "1")])));
    // Written exactly, a name settles it; ignoring case, `acme` names two accounts.
    let exact = "Opportunity ID,Opportunity Name,Stage,Account Name\nD2,Small,Qualification,Acme\n";
    assert_eq!(link(&store, exact), Ok(pairs(&[("D1", "1"), ("D2", "3")])));
    let folded = "Opportunity ID,Opportunity Name,Stage,Account Name\nD3,Odd,Qualification,acme\n";
    let errors = link(&store, folded).unwrap_err();
    assert!(
        errors[0].contains("several accounts are named 'acme'"),
        "{errors:?}"
    );
}

#[test]
fn a_salesforce_id_stored_in_both_forms_on_two_records_updates_the_one_with_the_files_form() {
    // Bug: with `0015000000GV7QJ` on one account and its 18-character form on another
    // (the API used to allow that), every import of the 15-character file failed with an
    // internal error: the row took the other form's record and tried to move the id onto it.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("db")).expect("store");
    let file = "Account ID,Account Name,Website\n0015000000GV7QJ,Globex,globex.com\n";
    accounts_into(&store, file).expect("first import");
    let long = import::salesforce_id_other_form("0015000000GV7QJ").expect("18 characters");
    store
        .put_account(&Account {
            id: ulid::Ulid::new().to_string(),
            external_id: Some(long.clone()),
            name: "Other Co".into(),
            domain: None,
            industry: None,
            country: None,
            status: Default::default(),
            owner: None,
            tags: Vec::new(),
        })
        .expect("the other form on another account");
    let again = accounts_into(&store, file).expect("imports");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 1, 1));
    let long_file = format!("Account ID,Account Name\n{long},Other Co\n");
    let other = accounts_into(&store, &long_file).expect("imports");
    assert_eq!((other.inserted, other.unchanged), (0, 1));
}
