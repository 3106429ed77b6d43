//! Writing rows: each record once per file, rows without an id matched on their key.

use super::support::*;
use crate::import::{self, write::*};
use crate::store::Store;
use protocol::records::{Account, Currency, Opportunity};

#[test]
fn an_external_id_twice_in_one_file_is_an_error_on_the_later_row_naming_the_earlier() {
    // Bug: the later row silently overwrote the earlier one ("1 inserted, 1 updated").
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("db")).expect("store");
    let errors = accounts_into(
        &store,
        "Account ID,Account Name,Website\nX1,One,one.com\nX2,Two,two.com\n X1 ,Three,three.com\n",
    )
    .expect_err("a repeated id");
    assert_eq!(
        errors,
        [
            "row 3 (line 4), column Account ID: 'X1' is the id of row 1 too; a file may hold \
          each record once, so merge the two rows or remove one"
        ]
    );
    assert_eq!(
        store.counts().expect("counts").accounts,
        0,
        "nothing written"
    );

    // A Salesforce id in its 15- and 18-character forms is one id.
    let (_dir, store) = store_with(COMPANIES);
    let long = import::salesforce_id_other_form("0065g00000AbCdE").expect("18 characters");
    let errors = link(
        &store,
        &format!(
            "Opportunity ID,Opportunity Name,Account ID,Stage\n\
             0065g00000AbCdE,A,123,Prospecting\n{long},B,123,Prospecting\n"
        ),
    )
    .expect_err("one id in two forms");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let expected =
        format!("row 2 (line 3), column Opportunity ID: '{long}' is the id of row 1 too");
    assert!(errors[0].starts_with(&expected), "{errors:?}");
}

#[test]
fn a_reimport_that_repeats_an_id_names_both_rows_and_every_repeat_after_a_bad_row() {
    // Records that exist before the import are counted too (a re-import with a repeated
    // row), and a bad row earlier in the file does not hide a later repeat.
    let (_dir, store) = store_with(COMPANIES);
    let errors = accounts_into(
        &store,
        "Record ID,Company name,Company Domain Name\n\
         123,Acme Inc,acme.example\n\
         456,Globex,not a domain\n\
         789,Initech,initech.example\n\
         123,Acme Again,acme.example\n\
         N1,New,new.example\n\
         N1,New again,new.example\n",
    )
    .expect_err("repeats");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("row 2 (line 3), column Company Domain Name"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("row 4 (line 5), column Record ID: '123' is the id of row 1 too"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("row 6 (line 7), column Record ID: 'N1' is the id of row 5 too"),
        "{errors:?}"
    );
    let acme = account_with_external_id(&store, "123");
    assert_eq!(acme.name, "Acme Inc", "nothing written");
    assert_eq!(store.counts().expect("counts").accounts, 3);

    // The same file without the repeats imports, and again changes nothing.
    let clean = "Record ID,Company name,Company Domain Name\n\
         123,Acme Inc,acme.example\n\
         N1,New,new.example\n";
    let first = accounts_into(&store, clean).expect("imports");
    assert_eq!((first.inserted, first.updated), (1, 1));
    let again = accounts_into(&store, clean).expect("imports");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 2, 2));
}

#[test]
fn rows_without_an_id_that_repeat_a_domain_or_name_are_an_error_on_the_later_row() {
    // Bug: without an external id, the second row with the same domain (or, with no
    // domain either, the same exact name) silently updated the account the first row
    // inserted ("1 inserted, 1 updated"), so one of the two companies was lost.
    let (_dir, store) = empty_store();
    let errors = accounts_into(
        &store,
        "Account Name,Website,Industry\n\
         Acme,acme.com,Software\n\
         Globex,globex.com,\n\
         Acme Europe,https://www.ACME.com/de,Retail\n\
         Initech,,\n\
         Initech,,Banking\n",
    )
    .expect_err("repeated keys");
    assert_eq!(
        errors,
        [
            "row 3 (line 4), column Website: 'acme.com' is the domain of row 1 too, and \
             neither row has an id; a file may hold each account once, so merge the two \
             rows, remove one or give each row its own id",
            "row 5 (line 6), column Account Name: 'Initech' is the name of row 4 too, and \
             neither row has an id or a domain; a file may hold each account once, so \
             merge the two rows, remove one or give each row its own id",
        ]
    );
    assert_eq!(
        store.counts().expect("counts").accounts,
        0,
        "nothing written"
    );
}

#[test]
fn a_row_without_an_id_that_matches_an_account_an_earlier_row_wrote_names_that_row() {
    // The earlier row had an id (or matched on another key): the later row would still
    // overwrite what it wrote.
    let (_dir, store) = empty_store();
    let errors = accounts_into(
        &store,
        "Account ID,Account Name,Website\nX1,Acme,acme.com\n,Acme Again,acme.com\n",
    )
    .expect_err("one account twice");
    assert_eq!(
        errors,
        [
            "row 2 (line 3), column Website: 'acme.com' is the domain of row 1's account \
             too; a file may hold each account once, so merge the two rows, remove one or \
             give each row its own id"
        ]
    );
    let errors = accounts_into(
        &store,
        "Account Name,Website\nInitech,initech.com\nInitech,\n",
    )
    .expect_err("matched by name");
    assert_eq!(
        errors,
        [
            "row 2 (line 3), column Account Name: 'Initech' is the name of row 1's account \
             too; a file may hold each account once, so merge the two rows, remove one or \
             give each row its own id"
        ]
    );
    assert_eq!(
        store.counts().expect("counts").accounts,
        0,
        "nothing written"
    );

    // An id-less row that updated a stored account, then a row naming that account by id.
    accounts_into(
        &store,
        "Account ID,Account Name,Website\nX1,Acme,acme.com\n",
    )
    .expect("imports");
    let errors = accounts_into(
        &store,
        "Account ID,Account Name,Website\n,Acme Inc,acme.com\nX1,Acme Corp,\n",
    )
    .expect_err("one account twice");
    assert_eq!(
        errors,
        [
            "row 2 (line 3), column Account ID: 'X1' is the id of the account row 1 \
             updated; a file may hold each record once, so merge the two rows or remove one"
        ]
    );
}

#[test]
fn a_file_without_ids_updates_what_it_matches_and_imports_again_as_no_change() {
    // Rows matching stored accounts (by domain, by name) still update them, once each.
    let (_dir, store) = empty_store();
    let file = "Account Name,Website,Industry\nAcme,acme.com,\nGlobex,,\nInitech,initech.com,\n";
    let first = accounts_into(&store, file).expect("imports");
    assert_eq!((first.inserted, first.updated), (3, 0));
    let changed = "Account Name,Website,Industry\nAcme,acme.com,Software\nGlobex,,Retail\n\
                   Initech,initech.com,\n";
    let second = accounts_into(&store, changed).expect("imports");
    assert_eq!(
        (second.inserted, second.updated, second.unchanged),
        (0, 3, 1)
    );
    let again = accounts_into(&store, changed).expect("imports");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 3, 3));

    let opportunities = "Opportunity Name,Account Name,Stage\nRenewal,Acme,Prospecting\n\
                         Renewal,Globex,Prospecting\n";
    for inserted in [2, 0] {
        let summary = import_opportunities(
            &store,
            opportunities.as_bytes(),
            Currency::USD,
            import::ImportOptions::default(),
        )
        .map_err(|e| format!("{e:?}"))
        .expect("imports");
        assert_eq!(
            (summary.inserted, summary.updated),
            (inserted, 2 - inserted)
        );
    }
}

#[test]
fn opportunity_rows_without_an_id_that_repeat_a_name_in_one_account_are_an_error() {
    // Bug: the second `Renewal` of Acme silently updated the one the first row inserted.
    // The same name for another account is another opportunity.
    let (_dir, store) = store_with(COMPANIES);
    let errors = link(
        &store,
        "Opportunity Name,Company Domain,Stage\n\
         Renewal,acme.example,Prospecting\n\
         Renewal,globex.example,Prospecting\n\
         Renewal,acme.example,Closed Won\n",
    )
    .expect_err("one opportunity twice");
    assert_eq!(
        errors,
        [
            "row 3 (line 4), column Opportunity Name: 'Renewal' is the name of row 1 too, for \
          the same account, and neither row has an id; a file may hold each opportunity \
          once, so merge the two rows, remove one or give each row its own id"
        ]
    );
    assert_eq!(
        store.counts().expect("counts").opportunities,
        0,
        "nothing written"
    );
}

#[test]
fn a_row_without_an_id_whose_domain_several_accounts_have_is_an_error_naming_them() {
    // Bug: such a row matched none of them and inserted another account on every
    // re-import ("inserted: 1" each time).
    let (_dir, store) =
        store_with("Account ID,Account Name,Website\nDD-A,Dupe A,dupe.com\nDD-B,Dupe B,dupe.com\n");
    for _ in 0..2 {
        let errors = accounts_into(
            &store,
            "Account Name,Website,Industry\nDupe,dupe.com,Tech\n",
        )
        .expect_err("ambiguous domain");
        assert_eq!(
            errors,
            [
                "row 1 (line 2), column Website: several accounts have domain 'dupe.com' \
                 ('Dupe A', external id DD-A; 'Dupe B', external id DD-B): give the row the \
                 external id of the one it updates"
            ]
        );
    }
    assert_eq!(
        store.counts().expect("counts").accounts,
        2,
        "nothing written"
    );
}

#[test]
fn accounts_sharing_a_domain_without_external_ids_are_listed_with_their_ids_and_how_to_give_one() {
    // The API lets two accounts have one domain and no external id: the row can name
    // neither until one gets an external id.
    let (_dir, store) = empty_store();
    let mut ids = Vec::new();
    for name in ["Twin A", "Twin B"] {
        let id = ulid::Ulid::new().to_string();
        store
            .put_account(&Account {
                id: id.clone(),
                external_id: None,
                name: name.into(),
                domain: Some(protocol::records::Domain::parse("twin.com").expect("domain")),
                industry: None,
                country: None,
                status: Default::default(),
                owner: None,
                tags: Vec::new(),
            })
            .expect("put");
        ids.push(id);
    }
    ids.sort();
    let errors = accounts_into(&store, "Account Name,Website\nTwin,twin.com\n")
        .expect_err("ambiguous domain");
    let named = |id: &str| store.account(id).expect("read").expect("account").name;
    assert_eq!(
        errors,
        [format!(
            "row 1 (line 2), column Website: several accounts have domain 'twin.com' \
             ('{}', id {}, no external id; '{}', id {}, no external id): give the row the \
             external id of the one it updates (give one without an external id its own \
             through PATCH /api/v1/accounts/{{id}})",
            named(&ids[0]),
            ids[0],
            named(&ids[1]),
            ids[1]
        )]
    );
    assert_eq!(
        store.counts().expect("counts").accounts,
        2,
        "nothing written"
    );
}

#[test]
fn a_names_only_row_updates_the_one_account_of_that_name_also_when_it_has_an_external_id() {
    // Bug: only an account without an external id was matched by name, so a names-only
    // file inserted another "Acme Corp" on every re-import.
    let (_dir, store) = store_with("Account ID,Account Name\nSF-1,Acme Corp\n");
    let file = "Account Name,Industry\nAcme Corp,Tech\n";
    let first = accounts_into(&store, file).expect("imports");
    assert_eq!((first.inserted, first.updated, first.unchanged), (0, 1, 0));
    for _ in 0..2 {
        let again = accounts_into(&store, file).expect("imports");
        assert_eq!((again.inserted, again.updated, again.unchanged), (0, 1, 1));
    }
    let accounts = store.list_accounts(None, None, 10).expect("list").items;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].external_id.as_deref(), Some("SF-1"));
    assert_eq!(accounts[0].industry.as_deref(), Some("Tech"));

    // Two accounts of that name: the row is an error naming both.
    accounts_into(&store, "Account ID,Account Name\nSF-2,Acme Corp\n").expect("imports");
    let errors = accounts_into(&store, file).expect_err("ambiguous name");
    assert_eq!(
        errors,
        [
            "row 1 (line 2), column Account Name: several accounts are named 'Acme Corp' \
             ('Acme Corp', external id SF-1; 'Acme Corp', external id SF-2): give the row \
             the external id of the one it updates"
        ]
    );
    assert_eq!(store.counts().expect("counts").accounts, 2);
}

#[test]
fn an_opportunity_row_without_an_id_naming_two_opportunities_of_its_account_is_an_error() {
    // Bug: the row silently updated one of the two ("updated: 1"), whichever came first.
    let (_dir, store) = store_with(COMPANIES);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = ulid::Ulid::new().to_string();
        let account = account_with_external_id(&store, "123");
        store
            .put_opportunity(&Opportunity {
                id: id.clone(),
                external_id: None,
                account_id: account.id,
                name: "Twin".into(),
                stage: protocol::records::Stage::Prospect,
                amount: None,
                currency: None,
                close_date: None,
                owner: None,
                next_step: None,
                description: None,
                tags: Vec::new(),
            })
            .expect("put");
        ids.push(id);
    }
    ids.sort();
    let errors = link(
        &store,
        "Opportunity Name,Account ID,Stage\nTwin,123,Qualification\n",
    )
    .expect_err("ambiguous name");
    assert_eq!(
        errors,
        [format!(
            "row 1 (line 2), column Opportunity Name: several opportunities of this account \
             are named 'Twin' (id {}, no external id; id {}, no external id): give the row \
             the external id of the one it updates (give one without an external id its \
             own through PATCH /api/v1/opportunities/{{id}})",
            ids[0], ids[1]
        )]
    );
    for id in &ids {
        let stage = store.opportunity(id).expect("read").expect("stored").stage;
        assert_eq!(stage, protocol::records::Stage::Prospect, "nothing written");
    }
}

#[test]
fn an_opportunity_row_without_an_id_updates_the_one_of_its_name_also_when_it_has_an_external_id() {
    // As for accounts: a re-import of the id-less file must not add it again each time.
    let (_dir, store) = store_with(COMPANIES);
    link(
        &store,
        "Opportunity ID,Opportunity Name,Account ID,Stage\nO1,Renewal,123,Prospecting\n",
    )
    .expect("imports");
    for _ in 0..2 {
        let linked = link(
            &store,
            "Opportunity Name,Account ID,Stage\nRenewal,123,Qualification\n",
        )
        .expect("imports");
        assert_eq!(linked, pairs(&[("O1", "123")]));
    }
}
