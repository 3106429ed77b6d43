//! Every validation error message, word for word: they are UI text (CLI and HTTP API).

use policy::{Policy, PolicyError};

/// Parses `toml` and asserts the displayed errors are exactly `expected`, in order.
#[track_caller]
fn check(toml: &str, expected: &[&str]) {
    let errors = Policy::from_toml(toml).expect_err("policy should be invalid");
    let shown: Vec<String> = errors.errors().iter().map(ToString::to_string).collect();
    assert_eq!(shown, expected, "for policy:\n{toml}");
}

/// Like [`check`] for JSON (no lines, except for syntax errors).
#[track_caller]
fn check_json(json: &str, expected: &[&str]) {
    let errors = Policy::from_json(json).expect_err("policy should be invalid");
    let shown: Vec<String> = errors.errors().iter().map(ToString::to_string).collect();
    assert_eq!(shown, expected, "for policy:\n{json}");
}

#[test]
fn the_contract_example_is_valid() {
    let text = r#"# Shared with this partner; everything not named here stays on this node.
[opportunities]
fields = ["name", "stage", "close_date", "amount", "account.name", "account.domain"]
stages = ["qualified", "technical_validation", "business_validation", "committed"]  # optional row filter
amount = { round_to = 10000 }        # optional transform: bucket the amount

[accounts]
sharing = "overlaps"                 # hidden | counts | overlaps | all  (account mapping)
statuses = ["customer", "prospect"]
fields = ["name", "domain", "status"]
"#;
    let p = Policy::from_toml(text).unwrap();
    assert_eq!(p.opportunities().fields().len(), 6);
}

#[test]
fn an_empty_file_shares_nothing() {
    assert_eq!(Policy::from_toml("").unwrap(), Policy::deny_all());
    assert_eq!(Policy::from_json("{}").unwrap(), Policy::deny_all());
}

#[test]
fn unknown_field_names_the_line_key_and_closest_field() {
    check(
        "[opportunities]\nfields = [\"name\",\n  \"amout\"]\n",
        &[r#"line 3, key opportunities.fields: unknown field "amout" (did you mean "amount"?)"#],
    );
}

#[test]
fn account_field_without_prefix_suggests_the_prefixed_name() {
    check(
        "[opportunities]\nfields = [\"domain\"]\n",
        &[
            r#"line 2, key opportunities.fields: unknown field "domain" (did you mean "account.domain"?)"#,
        ],
    );
}

#[test]
fn unknown_field_far_from_any_lists_the_fields() {
    check(
        "[opportunities]\nfields = [\"contact_email\"]\n",
        &["line 2, key opportunities.fields: unknown field \"contact_email\" (one of: name, stage, \
           amount, currency, close_date, owner, next_step, description, tags, external_id, \
           account.name, account.domain, account.industry, account.country, account.status, \
           account.owner, account.tags)"],
    );
}

#[test]
fn duplicate_field_is_an_error() {
    check(
        "[opportunities]\nfields = [\"name\", \"name\"]\n",
        &[r#"line 2, key opportunities.fields: "name" is listed twice"#],
    );
}

#[test]
fn unknown_keys_at_every_level() {
    check(
        "opportunity = 1\n[opportunities]\nfields = []\nstage = [\"qualified\"]\n[accounts]\nsharing = \"all\"\nfield = []\n",
        &[
            r#"line 1: unknown key "opportunity" (did you mean "opportunities"?)"#,
            r#"line 4, key opportunities: unknown key "stage" (did you mean "stages"?)"#,
            r#"line 7, key accounts: unknown key "field" (did you mean "fields"?)"#,
        ],
    );
    check(
        "[opportunities]\nfields = [\"amount\"]\namount = { round = 10 }\n",
        &[
            "line 3, key opportunities.amount: expected round_to or buckets",
            r#"line 3, key opportunities.amount: unknown key "round" (did you mean "round_to"?)"#,
        ],
    );
    check(
        "[secrets]\n",
        &[r#"line 1: unknown key "secrets" (one of: version, opportunities, accounts)"#],
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    check(
        "version = \"1\"\n[opportunities]\nfields = \"name\"\n",
        &[
            "line 1, key version: expected an integer, found a string",
            "line 3, key opportunities.fields: expected a list of strings, found a string",
        ],
    );
    check(
        "opportunities = 3\n",
        &["line 1, key opportunities: expected a table, found an integer"],
    );
    check(
        "[opportunities]\nfields = [\"name\", 3, true, 1.5, [], {}]\n",
        &[
            "line 2, key opportunities.fields: expected a string, found an integer",
            "line 2, key opportunities.fields: expected a string, found a boolean",
            "line 2, key opportunities.fields: expected a string, found a float",
            "line 2, key opportunities.fields: expected a string, found a list",
            "line 2, key opportunities.fields: expected a string, found a table",
        ],
    );
    check(
        "[opportunities]\nfields = []\namount_min = true\n",
        &["line 3, key opportunities.amount_min: expected an amount (a number or a decimal string), found a boolean"],
    );
    check(
        "[opportunities]\nfields = [\"close_date\"]\nclose_date = 3\n",
        &["line 3, key opportunities.close_date: expected a string, found an integer"],
    );
    check(
        "[accounts]\nsharing = [\"all\"]\n[accounts.populations]\n",
        &["line 2, key accounts.sharing: expected a string, found a list"],
    );
    check(
        "[accounts]\nsharing = \"all\"\npopulations = 1\n",
        &["line 3, key accounts.populations: expected a table, found an integer"],
    );
}

#[test]
fn unsupported_version() {
    check(
        "version = 2\n",
        &["line 1, key version: unsupported policy version 2 (this node reads version 1)"],
    );
}

#[test]
fn missing_required_keys() {
    check(
        "[opportunities]\nstages = [\"qualified\"]\n",
        &[
            r#"line 1, key opportunities: missing key "fields" (use fields = [] to share no opportunity data)"#,
        ],
    );
    check(
        "[accounts]\nfields = [\"name\"]\n",
        &[r#"line 1, key accounts: missing key "sharing" (one of: hidden, counts, overlaps, all)"#],
    );
}

#[test]
fn unknown_stage_and_status_names() {
    check(
        "[opportunities]\nfields = [\"name\"]\nstages = [\"qualifed\", \"won\"]\naccount_statuses = [\"custmer\"]\n",
        &[
            r#"line 3, key opportunities.stages: unknown stage "qualifed" (did you mean "qualified"?)"#,
            r#"line 3, key opportunities.stages: unknown stage "won" (one of: prospect, qualified, technical_validation, business_validation, committed, launched, closed_lost)"#,
            r#"line 4, key opportunities.account_statuses: unknown account status "custmer" (did you mean "customer"?)"#,
        ],
    );
    check(
        "[accounts]\nsharing = \"all\"\nstatuses = [\"lead\"]\n",
        &[
            r#"line 3, key accounts.statuses: unknown account status "lead" (one of: customer, prospect, partner, other)"#,
        ],
    );
}

#[test]
fn stage_names_are_read_like_crm_exports_write_them() {
    let p = Policy::from_toml(
        "[opportunities]\nfields = [\"name\"]\nstages = [\"Technical Validation\", \"closed-lost\"]\n",
    )
    .unwrap();
    let names: Vec<&str> = p
        .opportunities()
        .stages()
        .unwrap()
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(names, ["technical_validation", "closed_lost"]);
    check(
        "[opportunities]\nfields = [\"name\"]\nstages = [\"qualified\", \"Qualified\"]\n",
        &[r#"line 3, key opportunities.stages: "Qualified" is listed twice"#],
    );
}

#[test]
fn empty_filter_lists_would_share_nothing() {
    check(
        "[opportunities]\nfields = [\"name\"]\nstages = []\ncountries = []\nowners = []\ntags_include = []\naccount_statuses = []\n",
        &[
            "line 3, key opportunities.stages: empty list matches no opportunity (remove the key to allow all)",
            "line 4, key opportunities.countries: empty list matches no opportunity (remove the key to allow all)",
            "line 5, key opportunities.owners: empty list matches no opportunity (remove the key to allow all)",
            "line 6, key opportunities.tags_include: empty list matches no opportunity (remove the key to allow all)",
            "line 7, key opportunities.account_statuses: empty list matches no opportunity (remove the key to allow all)",
        ],
    );
    check(
        "[accounts]\nsharing = \"all\"\nstatuses = []\n",
        &["line 3, key accounts.statuses: empty list matches no account (remove the key to allow all)"],
    );
    // An empty exclusion list excludes nothing: harmless.
    Policy::from_toml("[opportunities]\nfields = [\"name\"]\ntags_exclude = []\n").unwrap();
}

#[test]
fn bad_list_values() {
    check(
        "[opportunities]\nfields = [\"name\"]\ncountries = [\" \", \"DE\", \"de\"]\n",
        &[
            "line 3, key opportunities.countries: empty value",
            r#"line 3, key opportunities.countries: "de" is listed twice"#,
        ],
    );
    let long = "x".repeat(513);
    check(
        &format!("[opportunities]\nfields = [\"name\"]\nowners = [\"{long}\"]\n"),
        &["line 3, key opportunities.owners: longer than 512 characters"],
    );
    let many: Vec<String> = (0..1001).map(|i| format!("\"t{i}\"")).collect();
    check(
        &format!(
            "[opportunities]\nfields = [\"name\"]\ntags_exclude = [{}]\n",
            many.join(",")
        ),
        &["line 3, key opportunities.tags_exclude: more than 1000 entries"],
    );
}

#[test]
fn impossible_amounts() {
    check(
        "[opportunities]\nfields = [\"name\"]\namount_min = 50000\namount_max = 10000\n",
        &["line 3, key opportunities.amount_min: amount_min 50000 is greater than amount_max 10000"],
    );
    check(
        "[opportunities]\nfields = [\"name\"]\namount_min = -5\namount_max = \"12,5x\"\n",
        &[
            "line 3, key opportunities.amount_min: amount must not be negative",
            "line 4, key opportunities.amount_max: '12,5x' is not an amount (expected a number like 1200.50)",
        ],
    );
    check(
        "[opportunities]\nfields = [\"name\"]\namount_min = \"1.23456\"\n",
        &["line 3, key opportunities.amount_min: '1.23456' has more than 4 decimal places"],
    );
    let p = Policy::from_toml(
        "[opportunities]\nfields = [\"name\"]\namount_min = 1200.5\namount_max = \"$1,500.25\"\n",
    )
    .unwrap();
    assert_eq!(p, Policy::from_toml(&p.to_canonical_toml()).unwrap());
}

#[test]
fn transforms_need_their_field_shared() {
    check(
        "[opportunities]\nfields = [\"name\"]\namount = { round_to = 1000 }\nclose_date = \"month\"\n",
        &[
            r#"line 3, key opportunities.amount: transforms a field that is not shared (add "amount" to fields)"#,
            r#"line 4, key opportunities.close_date: transforms a field that is not shared (add "close_date" to fields)"#,
        ],
    );
}

#[test]
fn impossible_amount_transforms() {
    let base = "[opportunities]\nfields = [\"amount\"]\n";
    check(
        &format!("{base}amount = {{ round_to = 0 }}\n"),
        &["line 3, key opportunities.amount.round_to: must not be zero or less"],
    );
    check(
        &format!("{base}amount = {{ round_to = 2000000000000 }}\n"),
        &["line 3, key opportunities.amount.round_to: must not be more than 1000000000000"],
    );
    check(
        &format!("{base}amount = {{ round_to = 10.5 }}\n"),
        &["line 3, key opportunities.amount.round_to: expected a whole number, found a float"],
    );
    check(
        &format!("{base}amount = {{ round_to = 10, buckets = [0] }}\n"),
        &["line 3, key opportunities.amount: use either round_to or buckets, not both"],
    );
    check(
        &format!("{base}amount = {{ buckets = [0, 100, 100] }}\n"),
        &["line 3, key opportunities.amount.buckets: bucket bounds must be strictly increasing"],
    );
    check(
        &format!("{base}amount = {{ buckets = [] }}\n"),
        &["line 3, key opportunities.amount.buckets: expected at least one bucket bound"],
    );
    check(
        &format!("{base}amount = {{ buckets = [-1, 5] }}\n"),
        &["line 3, key opportunities.amount.buckets: must not be negative"],
    );
    check(
        &format!("{base}amount = {{ buckets = 5 }}\n"),
        &["line 3, key opportunities.amount.buckets: expected a list of whole numbers, found an integer"],
    );
    let many: Vec<String> = (0..33).map(|i| i.to_string()).collect();
    check(
        &format!("{base}amount = {{ buckets = [{}] }}\n", many.join(",")),
        &["line 3, key opportunities.amount.buckets: more than 32 bucket bounds"],
    );
    check(
        &format!("{base}amount = \"rounded\"\n"),
        &["line 3, key opportunities.amount: expected a table, found a string"],
    );
}

#[test]
fn unknown_close_date_coarsening() {
    check(
        "[opportunities]\nfields = [\"close_date\"]\nclose_date = \"months\"\n",
        &[
            r#"line 3, key opportunities.close_date: unknown close_date coarsening "months" (did you mean "month"?)"#,
        ],
    );
    check(
        "[opportunities]\nfields = [\"close_date\"]\nclose_date = \"week\"\n",
        &[
            r#"line 3, key opportunities.close_date: unknown close_date coarsening "week" (one of: day, month, quarter, year)"#,
        ],
    );
}

#[test]
fn tag_both_included_and_excluded() {
    check(
        "[opportunities]\nfields = [\"name\"]\ntags_include = [\"cloud\"]\ntags_exclude = [\"Cloud\"]\n",
        &[r#"line 4, key opportunities.tags_exclude: tag "Cloud" is also in tags_include"#],
    );
    check(
        "[opportunities]\nfields = [\"name\"]\ntags_include = [[\"a\"], []]\n",
        &["line 3, key opportunities.tags_include: empty list matches no opportunity (remove the key to allow all)"],
    );
}

#[test]
fn account_section_errors() {
    check(
        "[accounts]\nsharing = \"overlap\"\nfields = [\"nmae\", \"email\"]\n[accounts.populations]\ncustomer = \"all\"\nprospects = \"everything\"\n",
        &[
            r#"line 2, key accounts.sharing: unknown sharing level "overlap" (did you mean "overlaps"?)"#,
            r#"line 3, key accounts.fields: unknown field "nmae" (did you mean "name"?)"#,
            r#"line 3, key accounts.fields: unknown field "email" (one of: name, domain, status, industry, country, owner, tags)"#,
            r#"line 5, key accounts.populations: unknown population "customer" (did you mean "customers"?)"#,
            r#"line 6, key accounts.populations.prospects: unknown sharing level "everything" (one of: hidden, counts, overlaps, all)"#,
        ],
    );
    // `account.`-prefixed names are accepted in [accounts] too.
    let p =
        Policy::from_toml("[accounts]\nsharing = \"all\"\nfields = [\"account.name\"]\n").unwrap();
    assert_eq!(p.accounts().fields().len(), 1);
}

#[test]
fn syntax_errors_name_the_line() {
    check(
        "[opportunities\nfields = []\n",
        &["line 1: invalid table header; expected `.`, `]`"],
    );
    check(
        "[opportunities]\nfields = [\"name\"]\nfields = []\n",
        &["line 3: duplicate key `fields` in table `opportunities`"],
    );
    check(
        "[opportunities]\nfields = [\"name\"]\nwhen = 2026-01-01\n",
        &["line 3: unexpected date-time value (policies use none)"],
    );
}

#[test]
fn oversized_policy_is_refused_before_parsing() {
    let text = format!("# {}\n", "x".repeat(64 * 1024));
    check(&text, &["policy is larger than 65536 bytes"]);
}

#[test]
fn json_errors_name_the_key() {
    check_json(
        r#"{"opportunities": {"fields": ["nme"], "amount": {"round_to": 0}}, "acounts": {}}"#,
        &[
            r#"unknown key "acounts" (did you mean "accounts"?)"#,
            r#"key opportunities.fields: unknown field "nme" (did you mean "name"?)"#,
            r#"key opportunities.amount: transforms a field that is not shared (add "amount" to fields)"#,
            "key opportunities.amount.round_to: must not be zero or less",
        ],
    );
    check_json(
        r#"{"x": "#,
        &["line 1: invalid JSON: EOF while parsing a value"],
    );
    check_json("[1]", &["expected a table, found a list"]);
}

#[test]
fn errors_display_one_per_line() {
    let errors = Policy::from_toml("a = 1\nb = 2\n").unwrap_err();
    assert_eq!(
        errors.to_string(),
        "line 1: unknown key \"a\" (one of: version, opportunities, accounts)\n\
         line 2: unknown key \"b\" (one of: version, opportunities, accounts)"
    );
    let e = PolicyError {
        line: None,
        key: String::new(),
        message: "x".into(),
    };
    assert_eq!(e.to_string(), "x");
}

#[test]
fn json_and_toml_read_the_same_policy() {
    let toml = policy::templates::get("reseller").unwrap();
    let p = Policy::from_toml(toml).unwrap();
    let from_json = Policy::from_json(&p.to_canonical_json()).unwrap();
    assert_eq!(p, from_json);
}

#[test]
fn counts_may_be_refused_and_then_maps_as_hidden() {
    use policy::{Population, SharingLevel};
    let refused = Policy::from_toml(
        "[accounts]\nsharing = \"counts\"\ncounts = \"refused\"\n[accounts.populations]\nprospects = \"overlaps\"\n",
    )
    .unwrap();
    let a = refused.accounts();
    assert!(a.counts_refused());
    assert_eq!(a.level_for(Population::Customers), SharingLevel::Hidden);
    assert_eq!(a.sharing(), SharingLevel::Hidden);
    assert_eq!(a.level_for(Population::Prospects), SharingLevel::Overlaps);
    // It survives both written forms, and a change to it is a diff line.
    let toml = refused.to_canonical_toml();
    assert!(toml.contains("counts = \"refused\""), "{toml}");
    assert_eq!(Policy::from_toml(&toml).unwrap(), refused);
    assert_eq!(
        Policy::from_json(&refused.to_canonical_json()).unwrap(),
        refused
    );
    let allowed = Policy::from_toml("[accounts]\nsharing = \"counts\"\ncounts = \"allowed\"\n[accounts.populations]\nprospects = \"overlaps\"\n").unwrap();
    assert_eq!(
        allowed.accounts().level_for(Population::Customers),
        SharingLevel::Counts
    );
    let changes = policy::diff(&allowed, &refused);
    assert!(
        changes
            .iter()
            .any(|c| c.key == "accounts.counts" && c.description == "allowed -> refused"),
        "{changes:?}"
    );
    check(
        "[accounts]\nsharing = \"counts\"\ncounts = \"refuse\"\n",
        &["line 3, key accounts.counts: unknown counts choice \"refuse\" (did you mean \"refused\"?)"],
    );
}
