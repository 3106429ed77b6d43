//! An opportunity row's account reference.

use super::*;

#[test]
fn an_opportunity_without_any_account_reference_is_a_row_error() {
    let input = "name,stage,Account ID,Account Name\nA,prospect,,\nB,prospect,001,\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(rows.len(), 1);
    assert_eq!(
        errors,
        vec![error(
            1,
            2,
            "Account ID",
            "no account: give Account ID or Account Name"
        )]
    );
}

#[test]
fn each_id_of_a_hubspot_associated_company_list_is_checked_and_kept() {
    // HubSpot's `Associated Company IDs` lists every company of a deal, `;`-separated:
    // each id is read like a single one (pandas' floats, spaces, empty parts), all
    // are kept for the importer to link the one that is an account, and one that Excel
    // shortened is an error, as alone.
    let input = "Deal Name,Deal Stage,Associated Company IDs,Associated Company\n\
                 A,won,\" 9001.0 ; 9002;;\",Acme Inc;Globex\n\
                 B,won,9003;1.23457E+11,\n\
                 C,won,9004,\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.account_external_id.as_deref(), r.account_name.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("9001;9002"), Some("Acme Inc;Globex")),
            (Some("9004"), None)
        ]
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].row, errors[0].column.as_str()),
        (2, "Associated Company IDs")
    );
    assert!(
        errors[0].message.contains("scientific notation"),
        "{errors:?}"
    );
}
