//! Cells: placeholders, Excel's markers and error values, invisible characters, ids, text limits.

use super::*;

#[test]
fn overlong_and_control_character_text_is_a_row_error() {
    let long = "x".repeat(NAME_CHARS_MAX + 1);
    let input = format!("name,owner\n{long},Jane\nAcme,\"Ja\u{7}ne\"\n");
    let (_, errors, _) = accounts(input.as_bytes());
    assert_eq!(
        errors,
        vec![
            error(1, 2, "name", "longer than 512 characters"),
            error(2, 3, "owner", "contains control characters"),
        ]
    );
}

#[test]
fn formula_looking_cells_are_kept_as_text_and_excel_text_wrappers_unwrapped() {
    let input = b"external_id,name\n=\"00123\",\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\n2,+1 555\n3,@SUM(A1)\n4,-2+3\n";
    let (rows, errors, _) = accounts(input);
    assert_eq!(errors, vec![]);
    let got: Vec<(Option<&str>, &str)> = rows
        .iter()
        .map(|r| (r.external_id.as_deref(), r.name.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("00123"), "=HYPERLINK(\"http://x\",\"y\")"),
            (Some("2"), "+1 555"),
            (Some("3"), "@SUM(A1)"),
            (Some("4"), "-2+3"),
        ]
    );
}

#[test]
fn tags_split_and_empty_tag_cells_are_none() {
    let (rows, _, _) = accounts(b"name,tags\nA,\"emea; strategic, emea\"\nB,\" ; \"\n");
    assert_eq!(
        rows[0].tags,
        Some(vec!["emea".to_string(), "strategic".to_string()])
    );
    assert_eq!(rows[1].tags, None);
}

#[test]
fn placeholders_repeated_headers_and_domain_lists_are_understood() {
    // `#N/A`, `N/A`, `NULL`, `-` in typed columns are no value; `$ -` is Excel's accounting
    // zero; a header repeated mid-file (concatenated exports) is skipped; a domain cell
    // listing several takes the first.
    let input = "name,stage,account_name,amount,close_date,currency,Website\n\
                 A,prospect,Acme,#N/A,N/A,NULL,\"acme.com; acme.de\"\n\
                 name,stage,account_name,amount,close_date,currency,Website\n\
                 B,prospect,Acme,$ -,-,,-\n\
                 C,-,Acme,,,,\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(
        errors,
        vec![error(
            3,
            5,
            "stage",
            "is empty; every opportunity needs a stage"
        )]
    );
    assert_eq!(rows.len(), 2);
    let a = &rows[0];
    assert_eq!(
        (a.amount, a.close_date, a.currency, a.account_domain.clone()),
        (None, None, None, domain("acme.com"))
    );
    let b = &rows[1];
    assert_eq!((b.row, b.amount, b.close_date), (2, amount("0"), None));
    assert_eq!(b.account_domain, None);
}

#[test]
fn invisible_characters_and_no_break_spaces_around_values_are_trimmed() {
    // Copy-paste from a web page leaves zero-width and no-break spaces around and inside
    // values; they are not part of the value, and a stage or status with a no-break space
    // between its words is still that stage.
    let input = "\u{200b}name\u{a0},\u{feff}account_name,stage,amount,account_domain\n\
                 Deal\u{200b},\u{200b}Acme\u{a0},Closed\u{a0}Won\u{200b},1200\u{200b},acme.com\u{200b}\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].name, "Deal");
    assert_eq!(rows[0].account_name, some("Acme"));
    assert_eq!(rows[0].stage, Stage::Launched);
    assert_eq!(rows[0].amount, amount("1200"));
    assert_eq!(rows[0].account_domain, domain("acme.com"));
    let (rows, errors, _) = accounts(
        "name,status\n\u{200b}\u{a0},customer\nAcme,Channel\u{a0}Partner / Reseller\n".as_bytes(),
    );
    assert_eq!(
        errors,
        vec![error(1, 2, "name", "is empty; every account needs a name")]
    );
    assert_eq!(rows[0].status, Some(AccountStatus::Partner));
    // Inside a name a no-break space is a space and a zero-width one nothing, so the name
    // matches the one written with plain spaces; free text keeps them.
    let (rows, errors, _) = opportunities(
        "name,account_name,stage,description\nA\u{a0}B,Acme\u{a0}Co\u{200b}rp,won,x\u{a0}y\n"
            .as_bytes(),
    );
    assert_eq!(errors, vec![]);
    assert_eq!(
        (rows[0].name.as_str(), rows[0].account_name.as_deref()),
        ("A B", Some("Acme Corp"))
    );
    assert_eq!(rows[0].description, some("x\u{a0}y"));
    // Other non-ASCII letters still match nothing: `Qualifié` is not `Qualifi`.
    assert!(map_stage("Qualifié").is_err());
}

#[test]
fn a_leading_apostrophe_is_excels_text_marker_in_typed_cells_and_ids() {
    let input = "Opportunity ID,Account ID,name,stage,amount,close_date,owner,next_step\n\
                 '00123,'0042,'Tis the season,'Closed Won,'1200,'2026-01-15,'Jo,'=SUM(A1)\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(errors, vec![]);
    let row = &rows[0];
    assert_eq!(row.external_id, some("00123"));
    assert_eq!(row.account_external_id, some("0042"));
    assert_eq!(row.stage, Stage::Launched);
    assert_eq!(row.amount, amount("1200"));
    assert_eq!(row.close_date, date("2026-01-15"));
    // Text may start with an apostrophe; only the guard before a formula-looking value
    // (`'=`, `'+`, `'-`, `'@`, as exports write to keep it from being evaluated) goes.
    assert_eq!(row.name, "'Tis the season");
    assert_eq!(row.owner, some("'Jo"));
    assert_eq!(row.next_step, some("=SUM(A1)"));
}

#[test]
fn excel_error_values_are_row_errors_in_any_cell() {
    let input = "name,account_name,stage,amount,close_date,next_step\n\
                 A,Acme,won,#VALUE!,#DIV/0!,#REF!\nB,#NAME?,won,1,,\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(rows, vec![]);
    let why = |v: &str| {
        format!(
            "'{v}' is an Excel error value (a formula that failed); fix the formula or \
             clear the cell in the spreadsheet, then export again"
        )
    };
    assert_eq!(
        errors,
        vec![
            error(1, 2, "amount", &why("#VALUE!")),
            error(1, 2, "close_date", &why("#DIV/0!")),
            error(1, 2, "next_step", &why("#REF!")),
            error(2, 3, "account_name", &why("#NAME?")),
        ]
    );
}

#[test]
fn placeholders_in_ids_and_optional_text_are_no_value() {
    // A `NULL` id would make every such row the same record; a `N/A` owner is nobody.
    let input = "Account ID,name,industry,country,owner\n\
                 NULL,Acme,(blank),N/A,-\n#N/A,N/A,nan,--,null\n";
    let (rows, errors, _) = accounts(input.as_bytes());
    assert_eq!(errors, vec![]);
    for row in &rows {
        assert_eq!(
            (&row.external_id, &row.industry, &row.country, &row.owner),
            (&None, &None, &None, &None)
        );
    }
    // A required name is never guessed to be missing: `N/A` is kept as written.
    assert_eq!(rows[1].name, "N/A");
    // pandas' `NaN` is no value; `Nan` is a name.
    let (rows, _, _) = accounts(
        "name,owner
A,NaN
B,Nan
"
        .as_bytes(),
    );
    assert_eq!((&rows[0].owner, &rows[1].owner), (&None, &some("Nan")));
}

#[test]
fn ids_in_scientific_notation_are_refused() {
    // Excel shows a long number such as a HubSpot record id as 1.23457E+11 and saves it
    // that way: the digits are gone, and different records would get one id.
    let input = "Record ID,Associated Company IDs,Deal Name,Deal Stage\n\
                 1.23457E+11,9876543210,A,closedwon\n1234567890,9.87654E+09,B,closedwon\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(rows, vec![]);
    let why = |v: &str| {
        format!(
            "'{v}' is an id Excel shortened to scientific notation, so different ids would \
             look alike; export again from the CRM, or in Excel format the column as Text \
             before saving"
        )
    };
    assert_eq!(
        errors,
        vec![
            error(1, 2, "Record ID", &why("1.23457E+11")),
            error(2, 3, "Associated Company IDs", &why("9.87654E+09")),
        ]
    );
    // Ids that merely contain an E are ids.
    assert!(!is_scientific("0015g00000E1AAA"));
    assert!(!is_scientific("1E"));
}

#[test]
fn numeric_ids_written_as_floats_are_the_integer_and_an_na_name_is_an_error() {
    // pandas writes an integer column with gaps as floats: `9001.0` is id 9001.
    let input = "Opportunity ID,Name,Account ID,Stage\n9001.0,A,101.00,won\n\
                 9002,#N/A,101,won\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(
        (
            rows[0].external_id.as_deref(),
            rows[0].account_external_id.as_deref()
        ),
        (Some("9001"), Some("101"))
    );
    assert_eq!(
        errors,
        vec![error(
            2,
            3,
            "Name",
            "is '#N/A', Excel's \"not found\" (a lookup formula that found nothing); every \
             opportunity needs a name"
        )]
    );
}

#[test]
fn a_line_break_or_tab_inside_a_name_is_one_space() {
    // Bug: "Acme\nCorp" was stored with its line break and never matched "Acme Corp".
    let (rows, errors, _) = accounts(
        b"Account Name,Website,Account Owner\n\"Acme\r\n  Corp\",acme.com,\"Jane\tDoe\"\n",
    );
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].name, "Acme Corp");
    assert_eq!(rows[0].owner.as_deref(), Some("Jane Doe"));
}

#[test]
fn text_limits_count_characters_so_a_salesforce_length_description_and_accented_names_fit() {
    // Salesforce's Description holds 32,000 characters; in UTF-8 each may take 4 bytes.
    let description = "𝄞".repeat(TEXT_CHARS_MAX);
    let name = "é".repeat(300);
    let input = format!(
        "Opportunity Name,Account Name,Stage,Description\n{name},Acme,Prospecting,{description}\n"
    );
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(errors, []);
    assert_eq!(rows[0].name, name);
    assert_eq!(rows[0].description.as_deref(), Some(description.as_str()));
    // One character more is refused, saying the unit.
    let input = format!(
        "Opportunity Name,Account Name,Stage,Description\nBig,Acme,Prospecting,{description}x\n"
    );
    let (_, errors, _) = opportunities(input.as_bytes());
    assert_eq!(
        errors,
        [error(1, 2, "Description", "longer than 32000 characters")]
    );
}
