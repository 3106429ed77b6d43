//! Dates, and the day and month order of a file.

use super::*;

#[test]
fn dates_read_iso_us_european_named_months_and_excel_serials() {
    use DateOrder::{DayFirst, MonthFirst};
    for (cell, order, want) in [
        ("2026-11-23", MonthFirst, "2026-11-23"),
        ("2026/11/23", DayFirst, "2026-11-23"),
        ("2026.11.23", MonthFirst, "2026-11-23"),
        ("2026-11-23 10:00:00", MonthFirst, "2026-11-23"),
        ("2026-11-23T10:00:00Z", MonthFirst, "2026-11-23"),
        ("2026-11-23T10:00:00.000+02:00", MonthFirst, "2026-11-23"),
        ("11/23/2026", MonthFirst, "2026-11-23"),
        ("11/23/2026 10:00 AM", MonthFirst, "2026-11-23"),
        ("11/23/26", MonthFirst, "2026-11-23"),
        ("11-23-2026", MonthFirst, "2026-11-23"),
        ("03/04/2026", MonthFirst, "2026-03-04"),
        ("03/04/2026", DayFirst, "2026-04-03"),
        ("23/11/2026", DayFirst, "2026-11-23"),
        ("23.11.2026", MonthFirst, "2026-11-23"),
        ("3.4.2026", MonthFirst, "2026-04-03"),
        ("23.11.26", DayFirst, "2026-11-23"),
        ("Nov 23, 2026", MonthFirst, "2026-11-23"),
        ("November 23 2026", DayFirst, "2026-11-23"),
        ("Mon, Nov 23, 2026 10:00 AM", MonthFirst, "2026-11-23"),
        ("23 Nov 2026", MonthFirst, "2026-11-23"),
        ("23-Nov-2026", MonthFirst, "2026-11-23"),
        ("23-NOV-26", MonthFirst, "2026-11-23"),
        ("Sept 1, 2026", MonthFirst, "2026-09-01"),
        ("46349", MonthFirst, "2026-11-23"),
        ("1795392000", MonthFirst, "2026-11-23"),
        ("1795392000000", MonthFirst, "2026-11-23"),
    ] {
        assert_eq!(parse_date(cell, order).ok(), date(want), "{cell} {order:?}");
    }
    assert_eq!(
        parse_date("23/11/2026", MonthFirst).unwrap_err(),
        "'23/11/2026' is not a MM/DD/YYYY date (it reads as DD/MM/YYYY); write dates as \
         YYYY-MM-DD, or if the whole column is DD/MM/YYYY, import with --date-format \
         DD/MM/YYYY (API: ?date_format=DD/MM/YYYY) or name the column \
         \"Close Date (DD/MM/YYYY)\""
    );
    assert!(parse_date("11/23/2026", DayFirst)
        .unwrap_err()
        .contains("name the column \"Close Date (MM/DD/YYYY)\""));
    assert_eq!(
        parse_date("2026-02-30", MonthFirst).unwrap_err(),
        "'2026-02-30': 2026-02-30 is not a day of the calendar"
    );
    for cell in [
        "soon",
        "Q4 2026",
        "2026",
        "123",
        "99999",
        "11/23",
        "Nov 2026",
        "1/2/3/4",
        "11/23/2026 tomorrow",
        "31/31/2026",
    ] {
        let err = parse_date(cell, MonthFirst).unwrap_err();
        assert!(err.contains("is not a date"), "{cell}: {err}");
    }
}

#[test]
fn date_order_follows_the_header_then_the_separator() {
    // Month first by default; day first in a semicolon file (European Excel); a header
    // naming its format wins.
    let (rows, errors, _) = opportunities(
        b"name,stage,account_name,close_date
X,prospect,A,03/04/2026
",
    );
    assert_eq!((rows[0].close_date, errors), (date("2026-03-04"), vec![]));
    let (rows, _, _) = opportunities(
        b"name;stage;account_name;close_date
X;prospect;A;03/04/2026
",
    );
    assert_eq!(rows[0].close_date, date("2026-04-03"));
    let (rows, errors, _) = opportunities(
        b"name,stage,account_name,Close Date (DD/MM/YYYY)
X,prospect,A,03/04/2026
Y,prospect,A,23/11/2026
",
    );
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].close_date, date("2026-04-03"));
    assert_eq!(rows[1].close_date, date("2026-11-23"));
    let (rows, _, _) = opportunities(
        b"name;stage;account_name;Close Date [mm/dd/yy]
X;prospect;A;03/04/26
",
    );
    assert_eq!(rows[0].close_date, date("2026-03-04"));
    // A caller's setting is used when the header does not say.
    let reader = read_opportunities_with(
        &b"name,stage,account_name,close_date
X,prospect,A,03/04/2026
"[..],
        ImportOptions {
            date_order: Some(DateOrder::DayFirst),
            ..ImportOptions::default()
        },
    )
    .unwrap();
    let rows: Vec<_> = reader.map(|r| r.unwrap().close_date).collect();
    assert_eq!(rows, [date("2026-04-03")]);
    assert_eq!(
        DateOrder::from_format("d.m.yyyy"),
        Some(DateOrder::DayFirst)
    );
    assert_eq!(DateOrder::from_format("USD"), None);
}

#[test]
fn excel_serial_datetimes_and_compact_dates_are_read() {
    let read = |s: &str| parse_date(s, DateOrder::MonthFirst);
    // A date-time column formatted as a number: the fraction is the time of day.
    assert_eq!(read("46349.375"), Ok(Date::parse("2026-11-23").unwrap()));
    // YYYYMMDD, as ERP exports write it.
    assert_eq!(read("20261123"), Ok(Date::parse("2026-11-23").unwrap()));
    assert!(read("20261323").is_err());
    assert!(read("12345678").is_err());
    assert!(read("46349.").is_err());
}

#[test]
fn a_named_date_format_is_parsed_or_refused_listing_the_accepted_ones() {
    assert_eq!(
        DateOrder::parse_setting("DD/MM/YYYY"),
        Ok(DateOrder::DayFirst)
    );
    assert_eq!(
        DateOrder::parse_setting("mm-dd-yy"),
        Ok(DateOrder::MonthFirst)
    );
    assert_eq!(
        DateOrder::parse_setting("YYYY-MM-DD"),
        Ok(DateOrder::YearFirst)
    );
    assert_eq!(
        DateOrder::parse_setting("European"),
        Err(
            "'European' is not a date format this import knows; use DD/MM/YYYY (day \
             first), MM/DD/YYYY (month first) or YYYY-MM-DD"
                .to_string()
        )
    );
    // An ISO file: a date whose day and month could be either is refused, not guessed; one
    // that reads one way only is read; and a `Close Date (YYYY-MM-DD)` header is the close
    // date column.
    let options = ImportOptions {
        date_order: Some(DateOrder::YearFirst),
        ..ImportOptions::default()
    };
    let input = "name,account_name,stage,close_date\nA,X,won,2026-04-03\nB,X,won,23/11/2026\n\
                 C,X,won,03/04/2026\n";
    let (rows, errors) = opportunities_with(input.as_bytes(), options);
    let dates: Vec<_> = rows.iter().map(|r| r.close_date).collect();
    assert_eq!(dates, [date("2026-04-03"), date("2026-11-23")]);
    assert_eq!(
        errors,
        vec![error(
            3,
            4,
            "close_date",
            "'03/04/2026' is not a YYYY-MM-DD date, and its day and month could be either; \
             write it as YYYY-MM-DD, or name the file's date format with --date-format \
             (API: ?date_format=) DD/MM/YYYY or MM/DD/YYYY"
        )]
    );
    let (rows, _, ignored) = opportunities(
        "name,account_name,stage,Close Date (YYYY-MM-DD)\nA,X,won,2026-04-03\n".as_bytes(),
    );
    assert_eq!((rows[0].close_date, ignored), (date("2026-04-03"), vec![]));
}

#[test]
fn east_asian_dates_currency_picklist_labels_and_hubspot_stage_ids() {
    let read = |s: &str| parse_date(s, DateOrder::MonthFirst);
    let day = Ok(Date::parse("2026-01-15").unwrap());
    assert_eq!(read("2026年1月15日"), day);
    assert_eq!(read("2026年01月15日 10:00"), day);
    assert_eq!(read("2026. 1. 15."), day);
    assert!(read("2026年13月15日").is_err());
    // Salesforce and Dynamics picklist labels: the code, then its name.
    assert_eq!(parse_currency("USD - U.S. Dollar"), Ok(Currency::USD));
    assert_eq!(
        parse_currency("EUR (Euro)"),
        currency("EUR").ok_or(String::new())
    );
    assert_eq!(
        parse_currency("EUR - US Dollar").unwrap_err(),
        "'EUR - US Dollar' names two currencies, EUR and USD"
    );
    // … or its name, then the code.
    assert_eq!(parse_currency("US Dollar (USD)"), Ok(Currency::USD));
    assert_eq!(
        parse_currency("Euro (EUR)"),
        currency("EUR").ok_or(String::new())
    );
    assert_eq!(
        parse_currency("Euro (USD)").unwrap_err(),
        "'Euro (USD)' names two currencies, EUR and USD"
    );
    // A custom HubSpot pipeline's stage id says what it is.
    assert!(map_stage("12345678").unwrap_err().ends_with(
        "a number is a custom pipeline's stage id (HubSpot): export the stage \
                    labels, or replace the ids with the stages they stand for"
    ));
}
