//! Row errors as the readers report them, and input that makes no reader panic.

use super::*;
use proptest::prelude::*;

#[test]
fn bad_rows_report_every_error_with_row_line_column_and_message() {
    let input = "\"Opportunity Name\",\"Account Name\",Stage,Amount,Currency,\"Close Date\"
Good,Acme,Prospecting,100,USD,2026-01-31
,Acme,Launched,-5,usd,31/02/2026
Fine,Acme,Closed Won,\"EUR 900\",USD,
";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(rows.len(), 1);
    assert_eq!(
        errors,
        vec![
            error(
                2,
                3,
                "Opportunity Name",
                "is empty; every opportunity needs a name"
            ),
            error(
                2,
                3,
                "Amount",
                "'-5' is negative; amounts must not be negative"
            ),
            error(
                2,
                3,
                "Close Date",
                "'31/02/2026' is not a date (expected YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY or Nov 23, 2026)"
            ),
            error(
                3,
                4,
                "Amount",
                "'EUR 900' is in EUR but the currency column says USD"
            ),
        ]
    );
    assert_eq!(
        errors[2].to_string(),
        "row 2 (line 3), column Close Date: '31/02/2026' is not a date \
         (expected YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY or Nov 23, 2026)"
    );
}

#[test]
fn account_row_errors_name_each_bad_cell() {
    let input = "external_id,name,domain,status,owner
a1,Acme,acme.com,customer,Jane
a2,,globex,partner-ish,
a3,Initech,initech.com,,
";
    let (rows, errors, _) = accounts(input.as_bytes());
    assert_eq!(rows.len(), 2);
    assert_eq!(
        errors,
        vec![
            error(2, 3, "name", "is empty; every account needs a name"),
            error(
                2,
                3,
                "domain",
                "'globex' is not a valid domain: it needs a dot, as in example.com"
            ),
            error(
                2,
                3,
                "status",
                "'partner-ish' is not a known account status (use customer, prospect, \
                 partner or other, a Salesforce account type or a HubSpot lifecycle stage)"
            ),
        ]
    );
}

#[test]
fn stage_is_required_per_row() {
    let (_, errors, _) = opportunities(b"name,stage,account_name\nA, ,Acme\n");
    assert_eq!(
        errors,
        vec![error(
            1,
            2,
            "stage",
            "is empty; every opportunity needs a stage"
        )]
    );
}

proptest! {
    #[test]
    fn value_parsers_never_panic(cell in "\\PC{0,40}", semicolons in any::<bool>()) {
        let _ = parse_amount(&cell, semicolons);
        let _ = parse_date(&cell, DateOrder::MonthFirst);
        let _ = parse_date(&cell, DateOrder::DayFirst);
        let _ = parse_currency(&cell);
        let _ = map_stage(&cell);
        let _ = map_outcome(&cell);
        let _ = map_status(&cell);
        let _ = split_unit(&cell);
        let _ = DateOrder::from_format(&cell);
        let _ = first_listed(&cell);
    }

    #[test]
    fn arbitrary_bytes_never_panic_either_reader(input in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(reader) = read_accounts(&input[..]) {
            for item in reader {
                let _ = item;
            }
        }
        if let Ok(reader) = read_opportunities(&input[..]) {
            for item in reader {
                let _ = item;
            }
        }
    }
}
