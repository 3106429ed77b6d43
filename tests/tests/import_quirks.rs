//! CSV import of exports with real-world quirks, through the real binary: what a CRM, Excel or
//! copy-paste leaves in a file is either read right or refused naming row, line and column;
//! never imported as a wrong value.
//!
//! Goal: no quirk of a real export becomes a wrong stored value. Method: a real `cosell` process
//! on loopback imports small files written with one quirk each (by CLI and by API); the stored
//! values are checked through the HTTP API. docs/import.md describes each rule; node/src/import/
//! has a unit test per rule.

use cosell_e2e::{accounts_csv, cents, find_by_external_id, write_file, Node};
use serde_json::Value;

/// Runs `cosell import WHAT FILE [ARGS…]` and asserts it succeeded.
fn import_ok(node: &Node, what: &str, name: &str, csv: &str, args: &[&str]) {
    let file = write_file(&node.scratch(), name, csv.as_bytes());
    let mut argv = vec!["import", what, file.to_str().expect("utf-8 path")];
    argv.extend_from_slice(args);
    let out = node.cli(&argv);
    assert!(out.ok(), "import {what} {name} failed:\n{}", out.stderr);
}

#[test]
fn a_quirky_salesforce_report_type_export_imports_with_every_value_right() {
    // Goal: a Salesforce custom report type export (`Object: Field` headers), touched in Excel
    // and by copy-paste, imports through the CLI with every value as the CRM meant it.
    // Method: accounts then opportunities through `cosell import`, then read them back.
    let mut node = Node::init("Acme");
    node.serve();
    // Zero-width and no-break spaces around values; Excel's leading apostrophe on an id;
    // placeholders for "no value"; websites written every which way; a company email.
    let accounts = "\u{feff}Account: Account ID,Account: Account Name,Account: Website,\
        Account: Type,Account Owner: Full Name,Account: Billing Country,Account: Industry\r\n\
        '00123,\u{200b}Acme Corp\u{a0},http://WWW.Acme.example/about?x=1,Customer\u{a0}- Direct,Jane Doe,United States,NULL\r\n\
        A2,Globex,info@globex.example,Prospect,N/A,Germany,Manufacturing\r\n\
        A3,Münchner Bau,Münchner-Bau.example/,Channel Partner / Reseller,-,Germany,#N/A\r\n";
    import_ok(&node, "accounts", "sf-accounts.csv", accounts, &[]);
    let accs = node.list_all("/api/v1/accounts", "", 100);
    assert_eq!(accs.len(), 3, "{accs:?}");
    let acme = find_by_external_id(&accs, "00123");
    assert_eq!(acme["name"], "Acme Corp");
    assert_eq!(acme["domain"], "acme.example");
    assert_eq!(acme["status"], "customer");
    assert_eq!(acme["owner"], "Jane Doe");
    assert!(acme["industry"].is_null(), "NULL is no industry: {acme}");
    let globex = find_by_external_id(&accs, "A2");
    assert_eq!(globex["domain"], "globex.example");
    assert!(globex["owner"].is_null(), "N/A is no owner: {globex}");
    let bau = find_by_external_id(&accs, "A3");
    assert_eq!(bau["domain"], "xn--mnchner-bau-thb.example");
    assert_eq!(bau["status"], "partner");

    // Opportunities: dates as Excel and Salesforce write them (US date-time, month name, Excel
    // serial, ISO date-time), amounts with codes, symbols and decimal commas, stages in any
    // case with a probability, Excel's apostrophe on ids, placeholders in optional text.
    let opportunities = "Opportunity: Opportunity ID,Opportunity: Opportunity Name,\
        Account Name: Account Name,Account: Account ID,Opportunity: Stage,Opportunity: Amount,\
        Opportunity: Currency,Opportunity: Close Date,Opportunity Owner: Full Name,\
        Account Owner: Full Name,Opportunity: Next Step\r\n\
        '0065001,Acme platform,Acme Corp,'00123,closed won,\"USD 1,200.00\",USD,1/15/2026 9:30 AM,Sam Patel,Jane Doe,#N/A\r\n\
        0065002,Globex renewal,Globex,A2,Negotiation/Review - 90%,\"1.200,50 €\",EUR,15-Jan-2026,Sam Patel,,Call\u{a0}\r\n\
        0065003,Bau pilot,Münchner Bau,A3,Prospecting (10%),-,,46037,Sam Patel,,\r\n\
        0065004,Acme add-on,Acme Corp,00123,CLOSED-WON,\"$1,200\",,2026-01-15T23:30:00-08:00,Sam Patel,,\r\n";
    import_ok(&node, "opportunities", "sf-opps.csv", opportunities, &[]);
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    assert_eq!(opps.len(), 4, "{opps:?}");
    let o1 = find_by_external_id(&opps, "0065001");
    assert_eq!(o1["account_id"], acme["id"]);
    assert_eq!(o1["stage"], "launched");
    assert_eq!(
        (cents(&o1["amount"]), &o1["currency"]),
        (120_000, &"USD".into())
    );
    assert_eq!(o1["close_date"], "2026-01-15");
    assert_eq!(
        o1["owner"], "Sam Patel",
        "the opportunity's owner, not the account's"
    );
    assert!(o1["next_step"].is_null(), "#N/A is no next step: {o1}");
    let o2 = find_by_external_id(&opps, "0065002");
    assert_eq!(o2["account_id"], globex["id"]);
    assert_eq!(o2["stage"], "committed");
    assert_eq!(
        (cents(&o2["amount"]), &o2["currency"]),
        (120_050, &"EUR".into())
    );
    assert_eq!(o2["close_date"], "2026-01-15");
    assert_eq!(o2["next_step"], "Call");
    let o3 = find_by_external_id(&opps, "0065003");
    assert_eq!(o3["account_id"], bau["id"]);
    assert_eq!(o3["stage"], "prospect");
    assert!(o3["amount"].is_null(), "- is no amount: {o3}");
    assert_eq!(o3["close_date"], "2026-01-15", "Excel serial day 46037");
    let o4 = find_by_external_id(&opps, "0065004");
    assert_eq!(o4["account_id"], acme["id"]);
    // `$` on a node whose default currency is USD; the date as written, no time zone shift.
    assert_eq!(
        (cents(&o4["amount"]), &o4["currency"]),
        (120_000, &"USD".into())
    );
    assert_eq!(o4["close_date"], "2026-01-15");
}

#[test]
fn a_quirky_hubspot_export_imports_through_the_api() {
    // Goal: HubSpot company and deal exports (record ids, several associated company ids, the
    // pipeline after the stage, `1200.0` amounts, midnight date-times, a currency symbol in the
    // amount header) import through the API with the values HubSpot meant.
    let mut node = Node::init("Acme");
    node.serve();
    let companies =
        "Record ID,Company name,Company Domain Name,Website URL,Lifecycle Stage,Company owner\n\
        101,Initech\u{200b},initech.example,https://www.initech.example/,Customer,Ann Lee\n\
        102,Umbrella,,https://umbrella.example,marketingqualifiedlead,(blank)\n";
    let r = node.post_csv("/api/v1/import/accounts", companies.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["ignored_columns"],
        serde_json::json!(["Website URL"])
    );
    let deals = "Record ID,Deal Name,Deal Stage,Pipeline,Amount (€),Close Date,Deal owner,\
        Associated Company IDs,Associated Company\n\
        9001,Initech rollout,Appointment Scheduled (Sales Pipeline),Sales Pipeline,1200.0,2026-03-31 00:00,Ann Lee,\"101;102\",Initech\n\
        9002,Umbrella pilot,closedwon,Sales Pipeline,\"1.200,50\",2026-04-30 00:00,NULL,102,Umbrella\n";
    let r = node.post_csv("/api/v1/import/opportunities", deals.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ignored_columns"], serde_json::json!(["Pipeline"]));

    let accs = node.list_all("/api/v1/accounts", "", 100);
    let initech = find_by_external_id(&accs, "101");
    assert_eq!(initech["name"], "Initech");
    assert_eq!(initech["status"], "customer");
    let umbrella = find_by_external_id(&accs, "102");
    assert_eq!(umbrella["status"], "prospect");
    assert!(
        umbrella["owner"].is_null(),
        "(blank) is no owner: {umbrella}"
    );
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    let d1 = find_by_external_id(&opps, "9001");
    assert_eq!(
        d1["account_id"], initech["id"],
        "of the two associated company ids, the one the Associated Company column names"
    );
    assert_eq!(d1["stage"], "prospect");
    assert_eq!(
        (cents(&d1["amount"]), &d1["currency"]),
        (120_000, &"EUR".into())
    );
    assert_eq!(d1["close_date"], "2026-03-31");
    let d2 = find_by_external_id(&opps, "9002");
    assert_eq!(d2["account_id"], umbrella["id"]);
    assert_eq!(d2["stage"], "launched");
    assert_eq!(
        (cents(&d2["amount"]), &d2["currency"]),
        (120_050, &"EUR".into())
    );
    assert!(d2["owner"].is_null(), "NULL is no owner: {d2}");
}

#[test]
fn quirks_that_would_store_a_wrong_value_are_refused_naming_row_line_and_column() {
    // Goal: where a quirk leaves the value unknowable (a lost id, a currency the symbol does not
    // name, a personal email as the company's domain, a failed formula), the import refuses the
    // file, names each row, line and column with what to do, and writes nothing.
    let mut node = Node::init("Acme");
    node.serve();
    let accounts = "Account ID,Account Name,Website\n\
        A1,Acme,acme.example\n\
        A2,Jane's shop,jane@gmail.com\n\
        A3,Globex,https://www.linkedin.com/company/globex\n";
    let file = write_file(&node.scratch(), "bad-accounts.csv", accounts.as_bytes());
    let out = node.cli(&["import", "accounts", file.to_str().expect("utf-8 path")]);
    assert!(!out.ok());
    assert!(
        out.stderr.contains(
            "row 2 (line 3), column Website: 'jane@gmail.com' is a personal email address"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "row 3 (line 4), column Website: 'https://www.linkedin.com/company/globex' is a page \
             on linkedin.com"
        ),
        "{}",
        out.stderr
    );
    assert!(node.list_all("/api/v1/accounts", "", 100).is_empty());

    import_ok(
        &node,
        "accounts",
        "accounts.csv",
        "Account ID,Account Name\nA1,Acme\n",
        &[],
    );
    let opportunities = "Opportunity ID,Opportunity Name,Account ID,Stage,Amount,Next Step\n\
        O1,Yen deal,A1,Prospecting,\"¥120,000\",\n\
        1.23457E+11,Shortened id,A1,Prospecting,5,\n\
        O3,Credit note,A1,Prospecting,\"(1,200.00)\",\n\
        O4,Broken sheet,A1,Prospecting,5,#REF!\n\
        O5,Good,A1,Prospecting,5,\n";
    let r = node.post_csv("/api/v1/import/opportunities", opportunities.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text);
    let details = r.json["details"].as_array().expect("details");
    let at: Vec<(u64, u64, &str)> = details
        .iter()
        .map(|d| {
            (
                d["row"].as_u64().unwrap_or(0),
                d["line"].as_u64().unwrap_or(0),
                d["column"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        at,
        [
            (1, 2, "Amount"),
            (2, 3, "Opportunity ID"),
            (3, 4, "Amount"),
            (4, 5, "Next Step"),
        ],
        "{}",
        r.text
    );
    let message = |i: usize| details[i]["message"].as_str().unwrap_or("");
    assert!(message(0).contains("¥ may be JPY, CNY"), "{}", message(0));
    assert!(message(1).contains("scientific notation"), "{}", message(1));
    assert!(message(2).contains("negative"), "{}", message(2));
    assert!(message(3).contains("Excel error value"), "{}", message(3));
    assert!(node.list_all("/api/v1/opportunities", "", 100).is_empty());
}

#[test]
fn the_date_format_flag_reads_ambiguous_day_first_dates() {
    // Goal: a UK export whose dates are all ambiguous (day ≤ 12) imports right with
    // `--date-format DD/MM/YYYY`; `YYYY-MM-DD` refuses such dates instead of guessing; an unknown
    // format is a usage error (exit 2) from the CLI and a 400 from the API, naming the accepted
    // ones.
    let mut node = Node::init("Acme");
    node.serve();
    import_ok(
        &node,
        "accounts",
        "accounts.csv",
        "Account ID,Account Name\nA1,Acme\n",
        &[],
    );
    let uk = "Opportunity ID,Opportunity Name,Account ID,Stage,Close Date\n\
        O1,First,A1,Prospecting,03/04/2026\n\
        O2,Second,A1,Prospecting,01/02/2026\n\
        O3,Third,A1,Prospecting,12/11/26\n";
    let file = write_file(&node.scratch(), "uk.csv", uk.as_bytes());
    let path = file.to_str().expect("utf-8 path");

    let out = node.cli(&["import", "opportunities", path, "--date-format", "European"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("use DD/MM/YYYY (day first), MM/DD/YYYY (month first) or YYYY-MM-DD"),
        "{}",
        out.stderr
    );
    let r = node.post_csv(
        "/api/v1/import/opportunities?date_format=European",
        uk.as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.json["error"]
            .as_str()
            .is_some_and(|e| e.contains("date_format") && e.contains("DD/MM/YYYY")),
        "{}",
        r.text
    );

    let out = node.cli(&[
        "import",
        "opportunities",
        path,
        "--date-format",
        "YYYY-MM-DD",
    ]);
    assert!(!out.ok());
    assert!(
        out.stderr.contains(
            "row 1 (line 2), column Close Date: '03/04/2026' is not a YYYY-MM-DD date, and its \
             day and month could be either"
        ),
        "{}",
        out.stderr
    );
    assert!(node.list_all("/api/v1/opportunities", "", 100).is_empty());

    let out = node.cli(&[
        "import",
        "opportunities",
        path,
        "--date-format",
        "DD/MM/YYYY",
    ]);
    assert!(out.ok(), "{}", out.stderr);
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    let dates: Vec<&Value> = ["O1", "O2", "O3"]
        .iter()
        .map(|id| &find_by_external_id(&opps, id)["close_date"])
        .collect();
    assert_eq!(dates, ["2026-04-03", "2026-02-01", "2026-11-12"]);
}

#[test]
fn an_excel_for_mac_csv_and_asian_formats_import_with_their_values() {
    // Goal: Excel for Mac's "CSV (Macintosh)" (Mac OS Roman, lone CR line ends) keeps its
    // accents; Japanese and Korean Excel dates, Indian digit grouping and German "no cents"
    // amounts read as written.
    let mut node = Node::init("Acme");
    node.serve();
    let accounts: &[u8] =
        b"Account ID,Account Name,Billing Country\rA1,Soci\x8Et\x8E G\x8En\x8Erale,France\r";
    let r = node.post_csv("/api/v1/import/accounts", accounts);
    assert_eq!(r.status, 200, "{}", r.text);
    let accs = node.list_all("/api/v1/accounts", "", 100);
    assert_eq!(find_by_external_id(&accs, "A1")["name"], "Société Générale");

    let opportunities =
        "Opportunity ID,Opportunity Name,Account ID,Stage,Amount,Currency,Close Date\n\
        O1,Tokyo,A1,Prospecting,\"¥1,200,000\",JPY,2026年1月15日\n\
        O2,Seoul,A1,Prospecting,1200000,KRW,2026. 1. 15.\n\
        O3,Mumbai,A1,Prospecting,\"₹12,34,567.50\",,2026-01-15\n\
        O4,Köln,A1,Prospecting,\"1.200,- €\",,2026-01-15\n";
    let r = node.post_csv("/api/v1/import/opportunities", opportunities.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    let got: Vec<(i64, &Value, &Value)> = ["O1", "O2", "O3", "O4"]
        .iter()
        .map(|id| {
            let o = find_by_external_id(&opps, id);
            (cents(&o["amount"]), &o["currency"], &o["close_date"])
        })
        .collect();
    let day = Value::from("2026-01-15");
    assert_eq!(
        got,
        [
            (120_000_000, &Value::from("JPY"), &day),
            (120_000_000, &Value::from("KRW"), &day),
            (123_456_750, &Value::from("INR"), &day),
            (120_000, &Value::from("EUR"), &day),
        ]
    );
}

#[test]
fn salesforce_15_and_18_character_ids_name_the_same_record() {
    // Goal: Salesforce reports show 15-character ids, its data exports 18-character ones; a
    // file in either form finds the record imported in the other, never adds a duplicate.
    // Method: accounts with 18-character ids; opportunities naming them by 15; then both files
    // again in the other form.
    let mut node = Node::init("Acme");
    node.serve();
    let accounts = "Account ID,Account Name,Website\n\
        0015000000Gv7qJAAR,Acme Corp,acme.example\n\
        001500000AbCdEfAQK,Globex,globex.example\n";
    import_ok(&node, "accounts", "accounts-18.csv", accounts, &[]);
    let opportunities = "Opportunity ID,Opportunity Name,Account ID,Stage\n\
        0065000000XyZ12,Acme platform,0015000000Gv7qJ,Prospecting\n";
    import_ok(&node, "opportunities", "opps-15.csv", opportunities, &[]);
    let accs = node.list_all("/api/v1/accounts", "", 100);
    assert_eq!(accs.len(), 2, "{accs:?}");
    let acme_id = find_by_external_id(&accs, "0015000000Gv7qJAAR")["id"].clone();
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    assert_eq!(
        find_by_external_id(&opps, "0065000000XyZ12")["account_id"],
        acme_id
    );

    // The same records in the other forms: updated, not added.
    let accounts_15 =
        "Account ID,Account Name,Website\n0015000000Gv7qJ,Acme Corporation,acme.example\n";
    import_ok(&node, "accounts", "accounts-15.csv", accounts_15, &[]);
    let opportunities_18 = "Opportunity ID,Opportunity Name,Account ID,Stage\n\
        0065000000XyZ12AAF,Acme platform,0015000000Gv7qJAAR,Closed Won\n";
    import_ok(&node, "opportunities", "opps-18.csv", opportunities_18, &[]);
    let accs = node.list_all("/api/v1/accounts", "", 100);
    assert_eq!(accs.len(), 2, "{accs:?}");
    let acme = find_by_external_id(&accs, "0015000000Gv7qJ");
    assert_eq!(acme["id"], acme_id);
    assert_eq!(acme["name"], "Acme Corporation");
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    assert_eq!(opps.len(), 1, "{opps:?}");
    assert_eq!(opps[0]["external_id"], "0065000000XyZ12AAF");
    assert_eq!(opps[0]["stage"], "launched");
}

#[test]
fn an_account_that_matches_nothing_is_reported_under_the_files_own_column_header() {
    // Goal: the account lookup (done after parsing) names the column the way the file's header
    // writes it, like every other row error (`column Account ID`), in the CLI's message and in
    // the API's `details[].column`; never cosell's internal field name.
    let mut node = Node::init("Acme");
    node.serve();
    import_ok(
        &node,
        "accounts",
        "accounts.csv",
        "Account ID,Account Name,Website\nA1,Acme,acme.example\n",
        &[],
    );
    let by_id = "Opportunity ID,Opportunity Name,Account ID,Stage\nO1,Lost,A9,Prospecting\n";
    let file = write_file(&node.scratch(), "by-id.csv", by_id.as_bytes());
    let out = node.cli(&[
        "import",
        "opportunities",
        file.to_str().expect("utf-8 path"),
    ]);
    assert!(!out.ok());
    assert!(
        out.stderr.contains(
            "row 1 (line 2), column Account ID: no account with external id 'A9' (import \
             accounts first)"
        ),
        "{}",
        out.stderr
    );

    let by_domain_or_name = "Deal Name,Deal Stage,Company Domain Name,Associated Company\n\
        Lost by domain,Qualified To Buy,globex.example,\n\
        Lost by name,Qualified To Buy,,Globex\n";
    let r = node.post_csv("/api/v1/import/opportunities", by_domain_or_name.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text);
    let columns: Vec<&str> = r.json["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["column"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        columns,
        ["Company Domain Name", "Associated Company"],
        "{}",
        r.text
    );
    assert!(node.list_all("/api/v1/opportunities", "", 100).is_empty());
}

#[test]
fn a_decomposed_name_is_stored_composed_and_links_to_the_composed_account() {
    // Goal: macOS apps write `ü` decomposed (`u` + combining diaeresis, NFD); Windows and CRMs
    // write it composed (NFC). Both are the same name: stored composed, and an opportunity
    // naming its account in either form links to it.
    let mut node = Node::init("Acme");
    node.serve();
    let composed = "M\u{fc}ller GmbH";
    let decomposed = "Mu\u{308}ller GmbH";
    import_ok(
        &node,
        "accounts",
        "accounts.csv",
        &format!("Account ID,Account Name,Account Owner\nA1,{composed},Jo\nA2,Bu\u{308}ro AG,Jo\u{308}rg\n"),
        &[],
    );
    let accs = node.list_all("/api/v1/accounts", "", 100);
    let buero = find_by_external_id(&accs, "A2");
    assert_eq!(buero["name"], "B\u{fc}ro AG", "stored composed: {buero}");
    assert_eq!(buero["owner"], "J\u{f6}rg", "stored composed: {buero}");

    let opportunities = format!(
        "Opportunity ID,Opportunity Name,Account Name,Stage\nO1,Pilot,{decomposed},Prospecting\n"
    );
    import_ok(&node, "opportunities", "opps-nfd.csv", &opportunities, &[]);
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    assert_eq!(
        find_by_external_id(&opps, "O1")["account_id"],
        find_by_external_id(&accs, "A1")["id"]
    );
}

#[test]
fn importing_a_directory_says_it_is_a_directory_and_does_not_blame_the_node() {
    let mut node = Node::init("Acme");
    node.serve();
    let dir = node.scratch();
    let path = dir.to_str().expect("utf-8 path");
    let out = node.cli(&["import", "accounts", path]);
    assert!(!out.ok());
    assert_eq!(
        out.stderr.trim(),
        format!("error: {path} is a directory, not a CSV file"),
        "{}",
        out.stderr
    );
}

#[test]
fn title_lines_above_the_header_are_skipped_reported_and_do_not_shift_line_numbers() {
    // Goal: a report's title, an "Exported on" line, a blank line and a line of separators
    // above the header (Salesforce formatted reports, HubSpot, Pipedrive, files saved from
    // Excel) do not stop an import: the CLI and the API say which lines were skipped, and row
    // errors name the file's real lines. A file whose header names no known columns is still
    // refused, showing its first line.
    let mut node = Node::init("Acme");
    node.serve();
    let accounts = "Accounts by Type\n\
        Exported on 2026-11-02 by Jane\n\
        \n\
        ,,,\n\
        Account ID,Account Name,Website\n\
        A1,Acme,acme.example\n\
        A2,Globex,globex.example\n";
    let file = write_file(&node.scratch(), "titled-accounts.csv", accounts.as_bytes());
    let out = node.cli(&["import", "accounts", file.to_str().expect("utf-8 path")]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stderr.contains(": 2 rows, 2 inserted"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "skipped 2 lines above the header: \"Accounts by Type\", \"Exported on 2026-11-02 by \
             Jane\""
        ),
        "{}",
        out.stderr
    );
    assert_eq!(node.list_all("/api/v1/accounts", "", 100).len(), 2);

    // Through the API: the skipped lines are answered beside the ignored columns.
    let opportunities = "\"Opportunities by Stage\",,,\n\
        \"Filtered By:\",\"Stage equals Closed Won\",,\n\
        \n\
        Opportunity Name,Account ID,Stage,Amount\n\
        Acme platform,A1,Closed Won,100\n\
        Globex pilot,A2,Someday,5\n";
    let r = node.post_csv("/api/v1/import/opportunities", opportunities.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text);
    let detail = &r.json["details"][0];
    assert_eq!(
        (&detail["row"], &detail["line"], &detail["column"]),
        (&2.into(), &6.into(), &"Stage".into()),
        "{}",
        r.text
    );
    let fixed = opportunities.replace("Someday", "Prospecting");
    let r = node.post_csv("/api/v1/import/opportunities", fixed.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["inserted"], 2, "{}", r.text);
    assert_eq!(
        r.json["lines_above_header"],
        serde_json::json!([
            "Opportunities by Stage",
            "Filtered By: | Stage equals Closed Won"
        ])
    );
    assert_eq!(r.json["ignored_columns"], serde_json::json!([]));

    // No line names the account's name: the first line is shown as the header.
    let unknown = "Accounts by Type\nKonto,Webseite\nA3,initech.example\n";
    let file = write_file(&node.scratch(), "unknown-header.csv", unknown.as_bytes());
    let out = node.cli(&["import", "accounts", file.to_str().expect("utf-8 path")]);
    assert!(!out.ok());
    assert!(
        out.stderr.contains(
            "no column for the account name (expected one of: name, Account Name, Company \
             name, Company, …); the header (line 1, comma-separated) reads: Accounts by Type"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_dash_for_the_file_reads_the_csv_from_standard_input() {
    // Goal: `cosell import accounts -` and `cosell import opportunities -` read the CSV from a
    // pipe, as Unix tools do (`xsv select … | cosell import accounts -`): the summary names
    // the source `stdin`, options still apply, and a bad row is reported like a file's.
    let mut node = Node::init("Acme");
    node.serve();
    // Large enough to stream through the pipe in many pieces.
    let accounts = accounts_csv(20_000);
    let out = node.cli_with_stdin(&["import", "accounts", "-"], Some(accounts.into_bytes()));
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("imported stdin: 20000 rows, 20000 inserted, 0 updated, 0 unchanged"),
        "{}",
        out.stderr
    );
    let (accounts_stored, _) = node.counts();
    assert_eq!(accounts_stored, 20_000);

    let opportunities = "Opportunity Name,Account ID,Stage,Close Date\n\
        Platform,acc-1,Prospecting,03/04/2026\n\
        Renewal,acc-2,Someday,05/04/2026\n";
    let out = node.cli_with_stdin(
        &[
            "import",
            "opportunities",
            "-",
            "--date-format",
            "DD/MM/YYYY",
        ],
        Some(opportunities.as_bytes().to_vec()),
    );
    assert!(!out.ok());
    assert!(
        out.stderr.contains("row 2 (line 3), column Stage:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("error: stdin: 1 row is invalid; nothing was imported"),
        "{}",
        out.stderr
    );
    let fixed = opportunities.replace("Someday", "Qualification");
    let out = node.cli_with_stdin(
        &[
            "import",
            "opportunities",
            "-",
            "--date-format",
            "DD/MM/YYYY",
        ],
        Some(fixed.into_bytes()),
    );
    assert!(out.ok(), "{}", out.stderr);
    assert!(
        out.stderr.contains("imported stdin: 2 rows, 2 inserted"),
        "{}",
        out.stderr
    );
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    let platform = opps
        .iter()
        .find(|o| o["name"] == "Platform")
        .expect("imported");
    assert_eq!(
        platform["close_date"], "2026-04-03",
        "--date-format applies"
    );

    // Nothing on standard input is an empty file.
    let out = node.cli_with_stdin(&["import", "accounts", "-"], Some(Vec::new()));
    assert!(!out.ok());
    assert!(
        out.stderr.contains("error: stdin: the file is empty"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_hubspot_deal_listing_several_associated_companies_links_the_one_that_is_an_account() {
    // Goal: HubSpot writes every company a deal is associated with into one cell, `;`-separated.
    // When one of them is an account, the deal links to it; when several are, the import refuses
    // the row naming the column and the companies, and imports nothing.
    let mut node = Node::init("Acme");
    node.serve();
    let companies = "Record ID,Company name,Company Domain Name\n\
        123,Acme Inc,acme.example\n\
        456,Globex,globex.example\n";
    import_ok(&node, "accounts", "companies.csv", companies, &[]);
    let accs = node.list_all("/api/v1/accounts", "", 100);
    let acme = find_by_external_id(&accs, "123");
    let globex = find_by_external_id(&accs, "456");

    let two_accounts = "Record ID,Deal Name,Deal Stage,Associated Company IDs,Associated Company\n\
        D1,Platform,closedwon,123,Acme Inc\n\
        D2,Joint venture,closedwon,123;456,Acme Inc;Globex\n";
    let file = write_file(&node.scratch(), "deals.csv", two_accounts.as_bytes());
    let out = node.cli(&[
        "import",
        "opportunities",
        file.to_str().expect("utf-8 path"),
    ]);
    assert!(!out.ok());
    for line in [
        "row 2 (line 3), column Associated Company IDs: names 2 companies (123; 456); keep one",
        "row 2 (line 3), column Associated Company: names 2 companies (Acme Inc; Globex); keep one",
    ] {
        assert!(out.stderr.contains(line), "{line}\n{}", out.stderr);
    }
    assert!(node.list_all("/api/v1/opportunities", "", 100).is_empty());

    // One of the listed companies is an account here (Umbrella, 789 are not): it is the deal's.
    let one_account = "Record ID,Deal Name,Deal Stage,Associated Company IDs,Associated Company\n\
        D1,Platform,closedwon,123,Acme Inc\n\
        D2,Joint venture,closedwon,,Umbrella Corp; Globex\n\
        D3,Expansion,closedwon,789;123,\n";
    import_ok(&node, "opportunities", "deals.csv", one_account, &[]);
    let opps = node.list_all("/api/v1/opportunities", "", 100);
    assert_eq!(opps.len(), 3, "{opps:?}");
    assert_eq!(find_by_external_id(&opps, "D1")["account_id"], acme["id"]);
    assert_eq!(find_by_external_id(&opps, "D2")["account_id"], globex["id"]);
    assert_eq!(find_by_external_id(&opps, "D3")["account_id"], acme["id"]);
}
