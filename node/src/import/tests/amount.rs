//! Amounts in every locale's form, and their currency.

use super::*;
use proptest::prelude::*;

#[test]
fn semicolon_files_from_european_excel_are_read_with_decimal_commas() {
    // European Excel separates with `;` and writes the decimal mark as a comma, so a dot
    // groups thousands and `1,200` could be either.
    let input = "name;stage;account_name;amount\nA;prospect;Acme;1.200,50\nB;prospect;Acme;1.200\nC;prospect;Acme;900\nD;prospect;Acme;1,200\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(rows[0].amount, amount("1200.50"));
    assert_eq!(rows[1].amount, amount("1200"));
    assert_eq!(rows[2].amount, amount("900"));
    assert_eq!(
        errors,
        vec![error(
            4,
            5,
            "amount",
            "'1,200' is ambiguous (a thousands separator or a decimal point?); write it \
             without a thousands separator, e.g. 1200 or 1.2"
        )]
    );
}

#[test]
fn amounts_read_us_european_and_currency_tagged_forms() {
    for (cell, want, want_currency) in [
        ("1200", "1200", None),
        ("$1,200.50", "1200.50", None),
        ("USD 1,200.50", "1200.50", Some("USD")),
        ("1,200,000", "1200000", None),
        ("1200,5", "1200.5", None),
        ("1.200,50 €", "1200.50", Some("EUR")),
        ("£900", "900", Some("GBP")),
        ("1.200.000", "1200000", None),
        ("1.5", "1.5", None),
        ("900 eur", "900", Some("EUR")),
        // Spaces (also no-break and narrow no-break) and apostrophes group thousands.
        ("1 200,50", "1200.50", None),
        ("1\u{a0}200,50\u{a0}€", "1200.50", Some("EUR")),
        ("1\u{202f}200,50", "1200.50", None),
        ("CHF 1'200.50", "1200.50", Some("CHF")),
        ("$ 1,200.50", "1200.50", None),
        ("US$1,200", "1200", Some("USD")),
        ("R$ 1.200,00", "1200.00", Some("BRL")),
        ("EUR1.200,00", "1200.00", Some("EUR")),
        ("1200.00 USD", "1200.00", Some("USD")),
        ("₹120,000", "120000", Some("INR")),
        ("0.125", "0.125", None),
        ("1234.567", "1234.567", None),
    ] {
        let (got, got_currency) = parse_amount(cell, false).unwrap();
        assert_eq!(Some(got), amount(want), "{cell}");
        assert_eq!(got_currency, want_currency.and_then(currency), "{cell}");
    }
    for (cell, message) in [
        (
            "1,2,3",
            "'1,2,3' is ambiguous: use a dot for decimals and commas only between \
             thousands (1,200.50)",
        ),
        (
            "ten",
            "'ten' is not an amount (expected a number like 1200.50)",
        ),
        ("1.23456", "'1.23456' has more than 4 decimal places"),
        (
            "(1,200.00)",
            "'(1,200.00)' is negative; amounts must not be negative",
        ),
        (
            "1.200,00-",
            "'1.200,00-' is negative; amounts must not be negative",
        ),
        (
            "1.2M",
            "'1.2M' is abbreviated; write the whole amount (e.g. 1200000, not 1.2M)",
        ),
        (
            "15k",
            "'15k' is abbreviated; write the whole amount (e.g. 1200000, not 1.2M)",
        ),
        (
            "1.2E+06",
            "'1.2E+06' is in scientific notation, which may have lost digits; format the \
             column as a number before exporting",
        ),
        ("€100 USD", "'€100 USD' names two currencies, USD and EUR"),
        (
            "1.200",
            "'1.200' is ambiguous (a thousands separator or a decimal point?); write it \
             without a thousands separator, e.g. 1200 or 1.2",
        ),
        (
            "$1.500",
            "'$1.500' is ambiguous (a thousands separator or a decimal point?); write it \
             without a thousands separator, e.g. 1200 or 1.2",
        ),
        (
            "1.2.3",
            "'1.2.3' is not an amount (expected a number like 1200.50)",
        ),
    ] {
        assert_eq!(parse_amount(cell, false).unwrap_err(), message, "{cell}");
    }
    // `1,200` is 1200 in a comma-separated file, ambiguous in a semicolon one.
    assert_eq!(
        parse_amount("1,200", false).unwrap().0,
        Amount::parse("1200").unwrap()
    );
    assert!(parse_amount("1,200", true).is_err());
    assert_eq!(
        parse_amount("1,2", true).unwrap().0,
        Amount::parse("1.2").unwrap()
    );
}

#[test]
fn a_zero_before_a_decimal_comma_is_never_a_thousands_separator() {
    // `0,125` groups nothing: it is 0.125 in any file (it used to read as 125).
    for semicolons in [false, true] {
        assert_eq!(
            parse_amount("0,125", semicolons).unwrap().0,
            Amount::parse("0.125").unwrap()
        );
    }
    // An en dash before a number is a minus sign too.
    assert_eq!(
        parse_amount("–1200", false).unwrap_err(),
        "'–1200' is negative; amounts must not be negative"
    );
}

#[test]
fn ambiguous_currency_symbols_must_agree_with_the_currency_or_the_default() {
    // `¥` is JPY or CNY, `kr` SEK, NOK, DKK or ISK, `$` a dozen currencies: without a
    // currency column the node's default currency (USD unless set) would apply, which is
    // only right when the symbol can mean it.
    let input = "name,account_name,stage,amount\nA,X,won,\"¥120,000\"\nB,X,won,1 200 kr\n\
                 C,X,won,\"$1,200\"\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].amount, rows[0].currency), (amount("1200"), None));
    assert_eq!(
        errors,
        vec![
            error(
                1,
                2,
                "amount",
                "'¥120,000' does not say which currency (¥ may be JPY, CNY) and the default \
                 currency is USD; add a currency column, or write the code, e.g. JPY 120000"
            ),
            error(
                2,
                3,
                "amount",
                "'1 200 kr' does not say which currency (kr may be SEK, NOK, DKK, ISK) and \
                 the default currency is USD; add a currency column, or write the code, e.g. \
                 SEK 1200"
            ),
        ]
    );
    // A node whose default is EUR refuses `$`, and accepts `kr` with a currency column.
    let options = ImportOptions {
        default_currency: currency("EUR"),
        ..ImportOptions::default()
    };
    let (_, errors) = opportunities_with(input.as_bytes(), options);
    assert_eq!(errors.len(), 3);
    let (rows, errors) = opportunities_with(
        "name,account_name,stage,amount,currency\nB,X,won,1 200 kr,SEK\nC,X,won,$5,JPY\n"
            .as_bytes(),
        options,
    );
    assert_eq!(rows[0].currency, currency("SEK"));
    assert_eq!(
        errors,
        vec![error(
            2,
            3,
            "amount",
            "'$5' is in $ (USD, CAD, AUD, NZD, SGD, HKD, MXN, ARS, CLP, COP, TWD) but the \
             currency column says JPY"
        )]
    );
    // A currency cell holding only an ambiguous symbol says what to write instead.
    assert_eq!(
        parse_currency("¥").unwrap_err(),
        "'¥' names no single currency (¥ may be JPY, CNY); write its ISO code, e.g. JPY"
    );
}

#[test]
fn no_cents_dashes_and_indian_grouping_are_amounts() {
    let read = |s: &str| parse_amount(s, false).map(|(a, _)| a.to_string());
    // `,-` and `.–` are German and Swiss for "no cents", not a minus sign.
    assert_eq!(read("1.200,- €"), Ok("1200".to_string()));
    assert_eq!(read("1'200.–"), Ok("1200".to_string()));
    assert_eq!(read("1200,-"), Ok("1200".to_string()));
    // SAP's trailing minus is still negative.
    assert!(read("1.200,00-").unwrap_err().contains("negative"));
    // Lakh and crore grouping (India) reads one way only.
    assert_eq!(read("12,34,567.50"), Ok("1234567.5".to_string()));
    assert_eq!(read("₹1,23,456"), Ok("123456".to_string()));
    assert!(read("12,34,56").is_err());
}

#[test]
fn the_plain_us_amount_shortcut_takes_the_common_forms_and_leaves_the_rest() {
    let read = |s: &str| plain_us_amount(s).map(|a| a.ten_thousandths());
    assert_eq!(read("12,345.50"), Some(123_455_000));
    assert_eq!(read("1200"), Some(12_000_000));
    assert_eq!(read("1,200,000.5"), Some(12_000_005_000));
    assert_eq!(read("0.99"), Some(9_900));
    for other in [
        "1.200",
        "1,2345",
        "12,34",
        ",123",
        "1.2345",
        "1,200,",
        "",
        ".5",
        "99999999999999999999",
    ] {
        assert_eq!(read(other), None, "{other}");
    }
}

proptest! {
    #[test]
    fn the_plain_amount_shortcut_reads_a_cell_as_the_full_search_does(
        cell in "[ ]?[$]?[0-9.,]{0,12}[ ]?"
    ) {
        // Goal: skipping the currency search for `12,345.50` and `$12,345.50` changes no
        // result, only the time.
        prop_assert_eq!(strip_currency(&cell), strip_currency_marks(&cell, cell.trim()));
    }

    #[test]
    fn the_plain_us_amount_shortcut_reads_a_cell_as_the_general_path_does(
        cell in "[0-9]{0,4}(,[0-9]{0,4}){0,3}(\\.[0-9]{0,3})?|[0-9]{1,20}(\\.[0-9]{1,2})?|[0-9]{1,3}(,[0-9]{3}){0,3}(\\.[0-9]{1,2})?"
    ) {
        // Goal: the allocation-free reading of `12,345.50` changes no result, only the time.
        if let Some(fast) = plain_us_amount(&cell) {
            prop_assert_eq!(Ok((fast, None)), parse_amount_body(&cell, &cell, None, false));
        }
    }
}
