//! The CSV layer: row and line numbers, row shapes, blank rows, lines above the header, long
//! rows, read errors.

use super::*;
use proptest::prelude::*;

#[test]
fn bom_crlf_and_blank_lines_do_not_shift_row_or_line_numbers() {
    let input = "\u{feff}name,domain\r\nAcme,acme.com\r\n\r\n,\r\nGlobex,globex\r\n\r\n";
    let (rows, errors, _) = accounts(input.as_bytes());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "Acme");
    assert_eq!(
        errors,
        vec![error(
            2,
            5,
            "domain",
            "'globex' is not a valid domain: it needs a dot, as in example.com"
        )]
    );
}

#[test]
fn quoted_newlines_count_toward_the_line_of_the_next_row() {
    let input = "name,stage,account_name,description\n\
                 A,prospect,Acme,\"one\ntwo\nthree\"\n\
                 B,won-ish,Acme,\n";
    let (rows, errors, _) = opportunities(input.as_bytes());
    assert_eq!(rows[0].description.as_deref(), Some("one\ntwo\nthree"));
    assert_eq!(
        errors,
        vec![error(
            2,
            5,
            "stage",
            "'won-ish' is not a known stage (use an ACE stage: prospect, qualified, \
             technical_validation, business_validation, committed, launched, closed_lost; \
             or a Salesforce, HubSpot, Pipedrive, Dynamics or Zoho default stage)"
        )]
    );
}

#[test]
fn last_row_without_final_newline_has_its_own_line() {
    let (_, errors, _) = accounts(b"name,domain\nA,a.com\nB,nope");
    assert_eq!(errors[0].line, 3);
}

#[test]
fn ragged_rows_are_row_errors_but_a_trailing_empty_field_is_fine() {
    let input =
        "name,domain,industry\nA,a.com\nB,b.com,Retail,extra\nC,c.com,Retail,\nD,d.com,Retail\n";
    let (rows, errors, _) = accounts(input.as_bytes());
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["C", "D"]);
    assert_eq!(
        errors,
        vec![
            error(
                1,
                2,
                "",
                "has 2 fields but the header has 3 (is a quote unbalanced, or a line break \
                 inside an unquoted field?)"
            ),
            error(
                2,
                3,
                "",
                "has 4 fields but the header has 3: field 4 holds 'extra' and has no column \
                 (is a quote unbalanced or a separator unquoted?)"
            ),
        ]
    );
    assert_eq!(
        errors[0].to_string(),
        "row 1 (line 2): has 2 fields but the header has 3 (is a quote unbalanced, or a \
         line break inside an unquoted field?)"
    );
}

#[test]
fn a_row_longer_than_the_limit_stops_the_import_with_a_clear_error() {
    // An unbalanced quote swallows the rest of the file into one field.
    let mut input = b"name,domain\nAcme,acme.com\n\"Runaway,x\n".to_vec();
    let line = b"Zed,zed.com\n";
    while input.len() < ROW_BYTES_MAX + 3 * CSV_BUFFER_BYTES {
        input.extend_from_slice(line);
    }
    let reader = read_accounts(&input[..]).unwrap();
    let items: Vec<_> = reader.collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let errors = items[1].as_ref().unwrap_err();
    assert_eq!((errors[0].row, errors[0].line), (2, 3));
    assert!(
        errors[0]
            .message
            .starts_with("is longer than 1 MiB; is a quote unbalanced?"),
        "{}",
        errors[0].message
    );
    // A long but legal cell in a column the import ignores is fine.
    let notes = "n".repeat(200_000);
    let input = format!("name,notes\nAcme,\"{notes}\"\n");
    let (rows, errors, _) = accounts(input.as_bytes());
    assert_eq!((rows.len(), errors), (1, vec![]));
}

#[test]
fn lines_with_text_above_the_header_are_skipped_and_reported() {
    // A title line above the header: the header is the first line naming the account's
    // name; the title is skipped and reported, and lines keep the file's numbering.
    let mut reader =
        read_accounts(&b"Accounts export 2026-11-23\nname,domain\nAcme,acme.com\nB,\"x\n"[..])
            .expect("the header on line 2 is found");
    assert_eq!(reader.lines_above_header(), ["Accounts export 2026-11-23"]);
    let first = reader.next().expect("a row").expect("a good row");
    assert_eq!((first.row, first.name.as_str()), (1, "Acme"));
    assert_eq!(reader.next().expect("a row").map_err(|e| e[0].line), Err(4));

    // A Salesforce formatted report, and what HubSpot, Pipedrive and Excel leave: a title,
    // an export note, a blank line and a line of separators above the header. Only the
    // lines with text are reported; row errors name the file's real lines.
    let report = "Opportunities by Stage\r\n\
        \"Exported on 2026-11-02 by Jane\",,,,\r\n\
        \r\n\
        ,,,,\r\n\
        Opportunity Name,Account Name,Stage,Amount,Close Date\r\n\
        Acme platform,Acme,Closed Won,100,2026-01-15\r\n\
        Globex pilot,Globex,Someday,,\r\n";
    let mut reader = read_opportunities(report.as_bytes()).expect("header on line 5");
    assert_eq!(
        reader.lines_above_header(),
        ["Opportunities by Stage", "Exported on 2026-11-02 by Jane"]
    );
    let rows: Vec<_> = reader.by_ref().collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].as_ref().map(|r| r.name.as_str()),
        Ok("Acme platform")
    );
    let errors = rows[1].clone().expect_err("an unknown stage");
    assert_eq!((errors[0].row, errors[0].line), (2, 7));
    assert_eq!(errors[0].column, "Stage");

    // A title above a `;`-separated header (European Excel): the separator is the
    // header's, even when the title holds a comma.
    let (rows, errors, _) = accounts(
        "Report: Q3, EMEA\nAccount Name;Website;Industry\nSociété, SA;societe.example;Banking\n"
            .as_bytes(),
    );
    assert_eq!(errors, vec![]);
    assert_eq!(rows[0].name, "Société, SA");
    assert_eq!(rows[0].industry, some("Banking"));
    // After Excel's `sep=;` line too.
    let (rows, errors, _) = accounts(b"sep=;\nCompanies\nname;domain\nAcme;acme.com\nB;b;x\n");
    assert_eq!(rows[0].name, "Acme");
    assert_eq!(errors[0].line, 5);

    // An opportunities header needs the name and an account column to be found; found,
    // the rest of the header check names its own line.
    assert_eq!(
        read_opportunities(&b"Pipeline\nDeal Name,Company,Amount\nX,Acme,1\n"[..])
            .err()
            .map(|e| e.to_string()),
        Some(
            "no column for the stage (expected one of: stage, Deal Stage, Stage Name, \
             Opportunity Stage, …); the header (line 2, comma-separated) reads: Deal Name | \
             Company | Amount"
                .into()
        )
    );

    // The header is looked for among the first lines with text only: one below them
    // is not found, and the error shows the first line, as when no line names the columns.
    let titles = "Title\n".repeat(HEADER_SEARCH_LINES);
    let late = format!("{titles}name,domain\nAcme,acme.com\n");
    let refused = read_accounts(late.as_bytes()).err().map(|e| e.to_string());
    assert!(
        refused.is_some_and(|e| e.ends_with("the header (line 1, comma-separated) reads: Title")),
        "{late}"
    );
    let titles = "Title\n\n".repeat(HEADER_SEARCH_LINES - 1);
    let last = format!("{titles}name,domain\nAcme,acme.com\n");
    let mut reader = read_accounts(last.as_bytes()).expect("the 10th line with text");
    assert_eq!(reader.lines_above_header().len(), HEADER_SEARCH_LINES - 1);
    assert_eq!(
        reader.next().and_then(Result::ok).map(|r| r.name),
        some("Acme")
    );

    // Only title-like lines are passed over: a header without a name column is not
    // skipped for a row below it that happens to read like one (`Company`).
    let refused =
        read_accounts(&b"Firma,Website,Type\nAcme,acme.com,Customer\nCompany,c.com,Other\n"[..])
            .err()
            .map(|e| e.to_string());
    assert!(refused
        .is_some_and(|e| e.ends_with("(line 1, comma-separated) reads: Firma | Website | Type")),);
    // A file with no text at all is empty.
    assert_eq!(
        read_accounts(&b"\n,,,\n;;\n"[..])
            .err()
            .map(|e| e.to_string()),
        Some("the file is empty (expected a header row naming the columns)".into())
    );
    // A file that starts right at its header skips nothing.
    let reader = read_accounts(&b"name\nAcme\n"[..]).expect("header");
    assert!(reader.lines_above_header().is_empty());

    // Lone-CR line ends (Excel for Mac): lines are estimated from the header's.
    let (_, errors, _) = accounts(b"Accounts\rname,domain\rA,a.com\rB,b.com,x\r");
    assert_eq!((errors[0].row, errors[0].line), (2, 4));
}

#[test]
fn blank_rows_trailing_empty_cells_and_varied_header_spelling_are_accepted() {
    let input = b"\xEF\xBB\xBF\"Account Name \",ACCOUNT NAME,account_name,\" Website\",,\r\n\r\nAcme,x,y,ACME.COM,,\r\n,,,,,\r\n\r\n  ;  \r\nGlobex,x,y,info@globex.com,,,,\r\n\r\n\r\n";
    let (rows, errors, ignored) = accounts(input);
    assert_eq!(errors.len(), 1, "{errors:?}");
    // `  ;  ` is a row with one non-empty cell: too few fields.
    assert_eq!((errors[0].row, errors[0].line), (2, 6));
    assert_eq!(ignored, ["ACCOUNT NAME", "account_name"]);
    let got: Vec<(&str, Option<Domain>)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.domain.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("Acme", domain("acme.com")),
            ("Globex", domain("globex.com"))
        ]
    );
    assert_eq!(rows[1].row, 3);
}

/// Generates `rows` account rows on the fly, so the test holds no file in memory.
struct Generated {
    rows: u64,
    next: u64,
    pending: Vec<u8>,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_empty() {
            if self.next > self.rows {
                return Ok(0);
            }
            self.pending = if self.next == 0 {
                b"external_id,name,country\r\n".to_vec()
            } else {
                format!("ext-{0},\"Company {0}, Ltd.\",Norway\r\n", self.next).into_bytes()
            };
            self.next += 1;
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

#[test]
fn a_large_file_streams_row_by_row() {
    let rows = 200_000;
    let reader = read_accounts(Generated {
        rows,
        next: 0,
        pending: Vec::new(),
    })
    .unwrap();
    let mut count = 0;
    let mut last = 0;
    for item in reader {
        let row = item.unwrap();
        count += 1;
        last = row.row;
    }
    assert_eq!(count, rows);
    assert_eq!(last, rows);
}

#[test]
fn a_read_error_mid_file_fails_the_import() {
    struct Broken(Vec<u8>);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("connection reset"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }
    let reader = read_accounts(Broken(b"name\nAcme\nGlob".to_vec())).unwrap();
    let items: Vec<_> = reader.collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let errors = items[1].as_ref().unwrap_err();
    assert_eq!(
        errors[0].message,
        "could not read the file: connection reset"
    );
}

#[test]
fn nul_padding_and_a_ctrl_z_end_of_file_mark_are_blank() {
    let (rows, errors, _) = accounts(b"name,domain\r\nAcme,acme.com\r\n\x1A");
    assert_eq!((rows.len(), errors), (1, vec![]));
    let (rows, errors, _) = accounts(b"name,domain\nAcme,acme.com\n\0\0\0\0");
    assert_eq!((rows.len(), errors), (1, vec![]));
    // A NUL inside a value is still refused.
    let (_, errors, _) = accounts(b"name,domain\nAc\0me,acme.com\n");
    assert_eq!(
        errors,
        vec![error(1, 2, "name", "contains control characters")]
    );
}

#[test]
fn a_header_ending_in_a_separator_does_not_make_rows_one_field_short() {
    let (rows, errors, ignored) =
        accounts(b"Account ID,Account Name,Website,\nTC1,n,tc1.com\nTC2,m,tc2.com,\n");
    assert_eq!(errors, []);
    assert_eq!(ignored, Vec::<String>::new());
    assert_eq!(
        rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["n", "m"]
    );
    assert_eq!(rows[0].domain, domain("tc1.com"));
    // A row short of a named column is still an error.
    let (_, errors, _) = accounts(b"Account ID,Account Name,Website,\nTC1,n\n");
    assert_eq!(
        errors,
        [error(
            1,
            2,
            "",
            "has 2 fields but the header has 3 (is a quote unbalanced, or a line break \
             inside an unquoted field?)"
        )]
    );
}

#[test]
fn a_field_named_by_two_columns_is_read_from_the_second_where_the_first_is_empty() {
    // Bug: `…,Amount,Amount` with `,500` imported no amount: the second column was ignored
    // outright. HubSpot company exports have both `Company Domain Name` and `Website URL`.
    let (rows, errors, ignored) = accounts(
        b"Account Name,Website URL,Company Domain Name\nAcme,,acme.com\nBeta,beta.com,other.com\n",
    );
    assert_eq!(errors, []);
    let domains: Vec<Option<&str>> = rows
        .iter()
        .map(|r| r.domain.as_ref().map(|d| d.as_str()))
        .collect();
    assert_eq!(
        domains,
        [Some("acme.com"), Some("beta.com")],
        "the first column wins"
    );
    assert_eq!(ignored, ["Company Domain Name"]);
    let (rows, errors, _) = opportunities(
        b"Opportunity Name,Account ID,Stage,Amount,Amount,Currency\nBig,A1,Qualification,,500,USD\n",
    );
    assert_eq!(errors, []);
    assert_eq!(
        rows[0].amount.map(|a| a.to_string()).as_deref(),
        Some("500")
    );
}

proptest! {
    #[test]
    fn csv_like_input_never_panics_and_numbers_rows_in_order(
        body in "[a-z0-9,;\"\r\n\t .$€/-]{0,400}"
    ) {
        let input = format!("name,stage,account_name,amount,close_date,Website\n{body}");
        let reader = read_opportunities(input.as_bytes()).unwrap();
        let mut last_row = 0;
        let mut last_line = 1;
        for item in reader {
            let (row, line) = match item {
                Ok(r) => (r.row, None),
                Err(e) => (e[0].row, Some(e[0].line)),
            };
            prop_assert!(row > last_row);
            last_row = row;
            if let Some(line) = line {
                prop_assert!(line > last_line);
                last_line = line;
            }
        }
    }
}
