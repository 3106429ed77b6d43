//! The header mapped: aliases in any spelling, required columns, units in headers, Salesforce
//! report type headers.

use super::*;

#[test]
fn missing_required_columns_are_header_errors_naming_the_accepted_names() {
    assert_eq!(
        read_accounts(&b"domain,industry\nacme.com,Retail\n"[..]).err(),
        Some(ImportError::Header(
            "no column for the account name (expected one of: name, Account Name, \
             Company name, Company, …); the header (line 1, comma-separated) reads: \
             domain | industry"
                .into()
        ))
    );
    assert_eq!(
        read_opportunities(&b"Deal Name,Amount\nX,1\n"[..]).err(),
        Some(ImportError::Header(
            "no column for the stage (expected one of: stage, Deal Stage, Stage Name, \
             Opportunity Stage, …); no column for the account (expected Account ID, \
             account domain or Account Name, e.g. account_external_id, Website, \
             Company name, Associated Company); the header (line 1, comma-separated) \
             reads: Deal Name | Amount"
                .into()
        ))
    );
}

#[test]
fn headers_match_ignoring_case_spacing_and_punctuation() {
    let input = " CLOSE_DATE ,Name,stage,AccountName,closedate,Close-Date,Favourite Color,\n\
                 2026-01-01,A,prospect,Acme,x,y,blue,\n";
    let mut reader = read_opportunities(input.as_bytes()).unwrap();
    assert_eq!(
        reader.ignored_columns(),
        ["closedate", "Close-Date", "Favourite Color"]
    );
    assert_eq!(
        reader.fields(),
        ["account_name", "name", "stage", "close_date"]
    );
    let row = reader.next().unwrap().unwrap();
    assert_eq!(row.close_date, date("2026-01-01"));
    assert!(reader.next().is_none());
}

#[test]
fn the_same_header_means_different_fields_in_accounts_and_opportunities() {
    let header = "Record ID,Account ID,Account Name,Name,Stage,Website\n";
    let accounts = read_accounts(header.as_bytes()).unwrap();
    // In an accounts file, Account ID is the record's own id (Record ID comes first here).
    assert_eq!(accounts.fields(), ["external_id", "name", "domain"]);
    assert_eq!(accounts.ignored_columns(), ["Account ID", "Name", "Stage"]);
    let opportunities = read_opportunities(header.as_bytes()).unwrap();
    assert_eq!(
        opportunities.fields(),
        [
            "external_id",
            "account_external_id",
            "account_domain",
            "account_name",
            "name",
            "stage"
        ]
    );
    assert!(opportunities.ignored_columns().is_empty());
}

#[test]
fn a_currency_in_the_amount_header_applies_to_every_row() {
    let input = "name,stage,account_name,Amount (EUR),Amount (converted),Expected Revenue\n\
                 X,prospect,A,\"1.200,50\",9,9\nY,prospect,A,$5,9,9\nZ,prospect,A,£5,9,9\n";
    let (rows, errors, ignored) = opportunities(input.as_bytes());
    assert_eq!(ignored, ["Amount (converted)", "Expected Revenue"]);
    assert_eq!(rows[0].amount, amount("1200.50"));
    assert_eq!(rows[0].currency, currency("EUR"));
    // `$` is never EUR: a dollar amount under a euro header contradicts it like `£` does.
    assert_eq!(rows.len(), 1);
    assert_eq!(
        errors,
        vec![
            error(
                2,
                3,
                "Amount (EUR)",
                "'$5' is in $ (USD, CAD, AUD, NZD, SGD, HKD, MXN, ARS, CLP, COP, TWD) but \
                 the currency column says EUR"
            ),
            error(
                3,
                4,
                "Amount (EUR)",
                "'£5' is in GBP but the currency column says EUR"
            )
        ]
    );
}

#[test]
fn salesforce_report_type_headers_name_object_and_field() {
    // Custom report types prefix each column with its object. The opportunity's own
    // fields, its owner's name and its account's name, id and website are used; the
    // account's owner and other account fields are not the opportunity's.
    let input = "Opportunity: Opportunity Name,Account Name: Account Name,Account: Account ID,\
                 Account: Website,Opportunity: Stage,Opportunity Owner: Full Name,\
                 Account Owner: Full Name,Account: Industry,Opportunity: Amount\n\
                 Deal,Acme,001A,www.acme.com,Closed Won,Jane,Sam,Retail,100\n";
    let (rows, errors, ignored) = opportunities(input.as_bytes());
    assert_eq!(errors, vec![]);
    assert_eq!(ignored, ["Account Owner: Full Name", "Account: Industry"]);
    let row = &rows[0];
    assert_eq!(
        (
            row.name.as_str(),
            row.account_name.as_deref(),
            row.account_external_id.as_deref(),
            row.account_domain.clone(),
            row.owner.as_deref(),
            row.amount
        ),
        (
            "Deal",
            Some("Acme"),
            Some("001A"),
            domain("acme.com"),
            Some("Jane"),
            amount("100")
        )
    );
    let input = "Account: Account Name,Account: Website,Account Owner: Full Name,\
                 Parent Account: Account Name,Account: Type\nAcme,acme.com,Jane,Holding,Customer\n";
    let (rows, errors, ignored) = accounts(input.as_bytes());
    assert_eq!(errors, vec![]);
    assert_eq!(ignored, ["Parent Account: Account Name"]);
    assert_eq!(rows[0].name, "Acme");
    assert_eq!(rows[0].owner, some("Jane"));
    assert_eq!(rows[0].status, Some(AccountStatus::Customer));
}

#[test]
fn a_currency_symbol_or_time_zone_in_a_header_is_a_unit() {
    let input =
        "name,account_name,stage,Amount (€),Close Date (UTC)\nA,X,won,\"1.200,50\",2026-01-15\n";
    let (rows, errors, ignored) = opportunities(input.as_bytes());
    assert_eq!((errors, ignored), (vec![], Vec::<String>::new()));
    assert_eq!(rows[0].currency, currency("EUR"));
    assert_eq!(rows[0].amount, amount("1200.50"));
    assert_eq!(rows[0].close_date, date("2026-01-15"));
    // `$` names no single currency: the column is the amount, its cells decide.
    let (rows, errors, _) =
        opportunities("name,account_name,stage,Amount ($)\nA,X,won,5\nB,X,won,CAD 5\n".as_bytes());
    assert_eq!(errors, vec![]);
    assert_eq!(
        (rows[0].currency, rows[1].currency),
        (None, currency("CAD"))
    );
}

#[test]
fn a_wide_header_maps_in_time_linear_in_its_columns() {
    // A CRM export with 20,000 columns (custom fields): each column is mapped with one lookup,
    // not one comparison per alias. This took 18 s (debug build) when every column
    // was compared with every alias's key, each rebuilt for the comparison.
    let mut input = String::from("name,domain");
    for i in 0..20_000 {
        input.push_str(&format!(",Custom {i}"));
    }
    input.push_str("\nAcme,acme.example");
    input.push_str(&",".repeat(20_000));
    input.push('\n');
    let started = std::time::Instant::now();
    let reader = read_accounts(input.as_bytes()).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(reader.ignored_columns().len(), 20_000);
    assert_eq!(reader.ignored_columns()[19_999], "Custom 19999");
    assert_eq!(
        reader
            .map(Result::unwrap)
            .map(|r| r.name)
            .collect::<Vec<_>>(),
        ["Acme"]
    );
    assert!(
        elapsed < std::time::Duration::from_secs(3),
        "opening a file with a 20,000-column header took {elapsed:?}"
    );
}
