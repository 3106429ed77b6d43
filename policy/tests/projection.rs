//! Projection, intersection, preview, canonical form, diff and templates, by example.

use policy::{
    diff, preview, project, project_account, templates, AmountTransform, DateTransform, Policy,
    Population, SharingLevel,
};
use protocol::records::{
    Account, AccountStatus, Amount, Currency, Date, Domain, Opportunity, Stage,
};

fn account() -> Account {
    Account {
        id: "acc1".into(),
        external_id: Some("SF-ACC-1".into()),
        name: "Acme".into(),
        domain: Some(Domain::parse("acme.com").unwrap()),
        industry: Some("Manufacturing".into()),
        country: Some("DE".into()),
        status: AccountStatus::Customer,
        owner: Some("Ada".into()),
        tags: vec!["strategic".into()],
    }
}

fn opportunity() -> Opportunity {
    Opportunity {
        id: "opp1".into(),
        external_id: Some("SF-OPP-1".into()),
        account_id: "acc1".into(),
        name: "Acme rollout".into(),
        stage: Stage::Qualified,
        amount: Some(Amount::parse("123456.78").unwrap()),
        currency: Some(Currency::USD),
        close_date: Some(Date::new(2026, 8, 17).unwrap()),
        owner: Some("Bob".into()),
        next_step: Some("call the CFO".into()),
        description: Some("secret pricing notes".into()),
        tags: vec!["cloud".into()],
    }
}

fn policy(toml: &str) -> Policy {
    Policy::from_toml(toml).unwrap_or_else(|e| panic!("{e}"))
}

fn json_of(p: &Policy) -> String {
    match project(p, &opportunity(), &account()) {
        Some(projection) => serde_json::to_string(&projection).unwrap(),
        None => "withheld".into(),
    }
}

#[test]
fn projection_holds_exactly_the_named_fields_with_transforms() {
    let p = policy(
        r#"[opportunities]
fields = ["name", "stage", "close_date", "amount", "account.name", "account.domain", "tags"]
amount = { round_to = 10000 }
close_date = "quarter"
"#,
    );
    assert_eq!(
        json_of(&p),
        r#"{"account.domain":"acme.com","account.name":"Acme","amount":"120000","close_date":"2026-Q3","name":"Acme rollout","stage":"qualified","tags":["cloud"]}"#
    );
}

#[test]
fn every_field_can_be_shared() {
    let all = policy::OpportunityField::ALL.map(|f| format!("{:?}", f.as_str()));
    let p = policy(&format!("[opportunities]\nfields = [{}]\n", all.join(", ")));
    assert_eq!(
        json_of(&p),
        r#"{"account.country":"DE","account.domain":"acme.com","account.industry":"Manufacturing","account.name":"Acme","account.owner":"Ada","account.status":"customer","account.tags":["strategic"],"amount":"123456.78","close_date":"2026-08-17","currency":"USD","description":"secret pricing notes","external_id":"SF-OPP-1","name":"Acme rollout","next_step":"call the CFO","owner":"Bob","stage":"qualified","tags":["cloud"]}"#
    );
}

#[test]
fn missing_record_values_are_left_out() {
    let p = policy("[opportunities]\nfields = [\"name\", \"amount\", \"owner\"]\n");
    let mut o = opportunity();
    o.amount = None;
    o.owner = None;
    let projection = project(&p, &o, &account()).unwrap();
    assert_eq!(
        serde_json::to_string(&projection).unwrap(),
        r#"{"name":"Acme rollout"}"#
    );
}

#[test]
fn no_policy_shares_nothing() {
    assert_eq!(json_of(&Policy::deny_all()), "withheld");
    assert_eq!(
        json_of(&policy("[opportunities]\nfields = []\n")),
        "withheld"
    );
    assert_eq!(project_account(&Policy::deny_all(), &account()), None);
    assert_eq!(
        Policy::deny_all().accounts().level_max(),
        SharingLevel::Hidden
    );
}

#[test]
fn each_row_filter_withholds_rows_outside_it() {
    let base = "[opportunities]\nfields = [\"name\"]\n";
    for (filter, shared) in [
        ("stages = [\"qualified\"]", true),
        ("stages = [\"committed\"]", false),
        ("amount_min = 100000", true),
        ("amount_min = 200000", false),
        ("amount_max = 123456.78", true),
        ("amount_max = 100000", false),
        ("account_statuses = [\"customer\"]", true),
        ("account_statuses = [\"prospect\"]", false),
        ("countries = [\"de\", \"FR\"]", true),
        ("countries = [\"FR\"]", false),
        ("owners = [\"bob\"]", true),
        ("owners = [\"Ada\"]", false),
        ("tags_include = [\"CLOUD\", \"x\"]", true),
        ("tags_include = [\"x\"]", false),
        ("tags_include = [[\"cloud\"], [\"x\"]]", false),
        ("tags_exclude = [\"x\"]", true),
        ("tags_exclude = [\"Cloud\"]", false),
    ] {
        let p = policy(&format!("{base}{filter}\n"));
        assert_eq!(json_of(&p) != "withheld", shared, "{filter}");
    }
}

#[test]
fn amount_filters_withhold_opportunities_without_amount() {
    let p = policy("[opportunities]\nfields = [\"name\"]\namount_max = 1000000\n");
    let mut o = opportunity();
    o.amount = None;
    assert_eq!(project(&p, &o, &account()), None);
}

#[test]
fn amounts_bucket_into_range_labels() {
    let p = policy(
        "[opportunities]\nfields = [\"amount\"]\namount = { buckets = [0, 50000, 100000, 500000] }\n",
    );
    assert_eq!(json_of(&p), r#"{"amount":"100000-500000"}"#);
}

#[test]
fn multi_partner_policy_is_what_every_partner_may_see() {
    let a = policy(
        r#"[opportunities]
fields = ["name", "amount", "close_date", "owner"]
stages = ["qualified", "committed"]
amount = { round_to = 10000 }
close_date = "month"
tags_include = ["cloud"]
[accounts]
sharing = "all"
fields = ["name", "domain"]
[accounts.populations]
customers = "counts"
"#,
    );
    let b = policy(
        r#"[opportunities]
fields = ["name", "amount", "close_date", "next_step"]
stages = ["qualified", "prospect"]
amount = { round_to = 25000 }
close_date = "quarter"
tags_include = ["aws"]
[accounts]
sharing = "overlaps"
fields = ["domain", "status"]
"#,
    );
    let both = Policy::intersect(&[&a, &b]);
    let o = both.opportunities();
    let fields: Vec<&str> = o.fields().iter().map(|f| f.as_str()).collect();
    assert_eq!(fields, ["name", "amount", "close_date"]);
    assert_eq!(o.stages().unwrap().len(), 1);
    assert_eq!(*o.amount_transform(), AmountTransform::RoundTo(50000));
    assert_eq!(o.close_date_transform(), DateTransform::Quarter);
    assert_eq!(both.accounts().sharing(), SharingLevel::Overlaps);
    assert_eq!(
        both.accounts().level_for(Population::Customers),
        SharingLevel::Counts
    );
    assert_eq!(both.accounts().fields().len(), 1);
    // Both tag filters apply: "cloud" alone is not enough.
    assert_eq!(json_of(&both), "withheld");
    let mut tagged = opportunity();
    tagged.tags.push("aws".into());
    let projection = project(&both, &tagged, &account()).unwrap();
    assert_eq!(
        serde_json::to_string(&projection).unwrap(),
        r#"{"amount":"100000","close_date":"2026-Q3","name":"Acme rollout"}"#
    );
    // The intersection is itself a policy: it writes and reads back.
    assert_eq!(Policy::from_toml(&both.to_canonical_toml()).unwrap(), both);
    assert_eq!(Policy::intersect(&[]), Policy::deny_all());
    assert_eq!(Policy::intersect(&[&a]), a);
}

#[test]
fn buckets_intersect_to_common_bounds_and_beat_rounding() {
    let a = policy(
        "[opportunities]\nfields = [\"amount\"]\namount = { buckets = [0, 50000, 100000] }\n",
    );
    let b = policy(
        "[opportunities]\nfields = [\"amount\"]\namount = { buckets = [0, 100000, 500000] }\n",
    );
    let r = policy("[opportunities]\nfields = [\"amount\"]\namount = { round_to = 1000 }\n");
    let ab = Policy::intersect(&[&a, &b]);
    assert_eq!(
        *ab.opportunities().amount_transform(),
        AmountTransform::Buckets(vec![0, 100000])
    );
    let ar = Policy::intersect(&[&a, &r]);
    assert_eq!(
        *ar.opportunities().amount_transform(),
        AmountTransform::Buckets(vec![0, 50000, 100000])
    );
    // No common bound: no bucketing is coarse enough for both, so the amount is withheld.
    let c =
        policy("[opportunities]\nfields = [\"amount\", \"name\"]\namount = { buckets = [7] }\n");
    let ac = Policy::intersect(&[&a, &c]);
    assert!(!ac.opportunities().shares(policy::OpportunityField::Amount));
}

#[test]
fn account_projection_follows_the_accounts_section() {
    let p = policy("[accounts]\nsharing = \"overlaps\"\nstatuses = [\"customer\"]\nfields = [\"name\", \"domain\", \"tags\"]\n");
    let projection = project_account(&p, &account()).unwrap();
    assert_eq!(
        serde_json::to_string(&projection).unwrap(),
        r#"{"domain":"acme.com","name":"Acme","tags":["strategic"]}"#
    );
    let mut prospect = account();
    prospect.status = AccountStatus::Prospect;
    assert_eq!(project_account(&p, &prospect), None);
    assert!(!p.accounts().admits(&prospect));
}

#[test]
fn preview_counts_everything_and_keeps_one_page() {
    let p = policy("[opportunities]\nfields = [\"name\"]\nstages = [\"qualified\"]\n");
    let acct = account();
    let opps: Vec<Opportunity> = (0..10)
        .map(|i| {
            let mut o = opportunity();
            o.id = format!("opp{i}");
            o.stage = if i % 2 == 0 {
                Stage::Qualified
            } else {
                Stage::Prospect
            };
            o
        })
        .collect();
    let result = preview(&p, opps.iter().map(|o| (o, &acct)), 3);
    assert_eq!((result.shared, result.withheld), (5, 5));
    assert_eq!(result.items.len(), 3);
    assert_eq!(result.opportunity_ids, ["opp0", "opp2", "opp4"]);
    let json = serde_json::to_string(&result).unwrap();
    assert!(
        json.starts_with(r#"{"shared":5,"withheld":5,"items":[{"name":"Acme rollout"}"#),
        "{json}"
    );
}

#[test]
fn templates_parse_cleanly_and_are_commented() {
    for name in templates::NAMES {
        let text = templates::get(name).unwrap();
        assert!(
            text.lines()
                .filter(|l| l.trim_start().starts_with('#'))
                .count()
                >= 3,
            "{name}"
        );
        let p = Policy::from_toml(text).unwrap_or_else(|e| panic!("template {name}: {e}"));
        assert!(!p.opportunities().fields().is_empty(), "{name}");
    }
    assert_eq!(templates::get("nope"), None);
}

#[test]
fn canonical_form_is_deterministic_and_reads_back() {
    let messy = r#"
[accounts]
fields = ["status", "name"]
sharing = "counts"
[accounts.populations]
prospects = "overlaps"
[opportunities]
close_date = "month"
stages = ["committed", "Qualified"]
fields = ["stage", "name", "close_date", "account.domain"]
tags_include = [["b", "a"], ["c"]]
countries = ["FR", "de"]
amount_min = "1,000.50"
"#;
    let p = policy(messy);
    let text = p.to_canonical_toml();
    assert_eq!(
        text,
        r#"version = 1

[opportunities]
fields = ["name", "stage", "close_date", "account.domain"]
stages = ["qualified", "committed"]
amount_min = "1000.5"
countries = ["FR", "de"]
tags_include = [["a", "b"], ["c"]]
close_date = "month"

[accounts]
sharing = "counts"
fields = ["name", "status"]

[accounts.populations]
prospects = "overlaps"
"#
    );
    assert_eq!(policy(&text), p);
    assert_eq!(policy(&text).to_canonical_toml(), text);
    let json = p.to_canonical_json();
    assert_eq!(
        json,
        r#"{"accounts":{"fields":["name","status"],"populations":{"prospects":"overlaps"},"sharing":"counts"},"opportunities":{"amount_min":"1000.5","close_date":"month","countries":["FR","de"],"fields":["name","stage","close_date","account.domain"],"stages":["qualified","committed"],"tags_include":[["a","b"],["c"]]},"version":1}"#
    );
    assert_eq!(Policy::from_json(&json).unwrap(), p);
    assert_eq!(Policy::deny_all().to_canonical_toml(), "version = 1\n");
}

#[test]
fn diff_lists_each_change_for_the_audit_log() {
    let old = policy(
        r#"[opportunities]
fields = ["name", "stage"]
stages = ["prospect", "qualified"]
countries = ["DE"]
[accounts]
sharing = "counts"
"#,
    );
    let new = policy(
        r#"[opportunities]
fields = ["name", "amount"]
stages = ["qualified", "committed"]
amount_min = 5000
amount = { round_to = 1000 }
tags_exclude = ["internal"]
[accounts]
sharing = "overlaps"
fields = ["domain"]
[accounts.populations]
customers = "hidden"
"#,
    );
    let lines: Vec<String> = diff(&old, &new).iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "opportunities.fields: + amount",
            "opportunities.fields: - stage",
            "opportunities.stages: - prospect",
            "opportunities.stages: + committed",
            "opportunities.amount_min: not set -> 5000",
            "opportunities.countries: DE -> any",
            "opportunities.tags_exclude: + internal",
            "opportunities.amount: exact -> round_to 1000",
            "accounts.sharing: counts -> overlaps",
            "accounts.fields: + domain",
            "accounts.populations.customers: not set -> hidden",
        ]
    );
    assert!(diff(&new, &new).is_empty());
    let from_nothing: Vec<String> = diff(&Policy::deny_all(), &old)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        from_nothing,
        [
            "opportunities.fields: + name",
            "opportunities.fields: + stage",
            "opportunities.stages: - technical_validation",
            "opportunities.stages: - business_validation",
            "opportunities.stages: - committed",
            "opportunities.stages: - launched",
            "opportunities.stages: - closed_lost",
            "opportunities.countries: any -> DE",
            "accounts.sharing: hidden -> counts",
        ]
    );
}

/// CRM exports write countries as names ("United States"), policies as codes ("US"): they match.
/// (A bug once withheld every Salesforce-exported US deal from a `countries = ["US"]` policy.)
#[test]
fn country_filters_match_crm_country_names_to_iso_codes() {
    let p = policy(
        r#"[opportunities]
fields = ["name"]
countries = ["US", "CA"]
"#,
    );
    for written in [
        "United States",
        "USA",
        "U.S.A.",
        "united states of america",
        "Canada",
    ] {
        let mut a = account();
        a.country = Some(written.into());
        assert!(project(&p, &opportunity(), &a).is_some(), "{written}");
    }
    let mut a = account();
    a.country = Some("Germany".into());
    assert!(project(&p, &opportunity(), &a).is_none());
}

/// The preview says which rule withholds each opportunity, so a policy is debugged by reading.
#[test]
fn preview_names_the_rule_that_withholds_each_opportunity() {
    let cases = [
        (
            "stages = [\"committed\"]",
            "its stage qualified is not in stages [committed]",
        ),
        ("amount_min = 200000", "below amount_min 200000"),
        (
            "countries = [\"FR\"]",
            "country \"DE\" is not in countries [FR]",
        ),
        ("tags_exclude = [\"cloud\"]", "tags_exclude"),
        ("tags_include = [\"partner-led\"]", "tags_include"),
        ("owners = [\"Eve\"]", "its owner \"Bob\" is not in owners"),
        (
            "account_statuses = [\"prospect\"]",
            "status customer is not in account_statuses",
        ),
    ];
    for (rule, reason) in cases {
        let p = policy(&format!("[opportunities]\nfields = [\"name\"]\n{rule}\n"));
        let (opp, acc) = (opportunity(), account());
        let shown = preview(&p, [(&opp, &acc)], 10);
        assert_eq!((shown.shared, shown.withheld), (0, 1), "{rule}");
        assert_eq!(shown.withheld_items.len(), 1, "{rule}");
        assert!(
            shown.withheld_items[0].reason.contains(reason),
            "{rule}: {}",
            shown.withheld_items[0].reason
        );
        assert_eq!(shown.withheld_items[0].opportunity_id, "opp1");
    }
    let none = policy("[opportunities]\nfields = []\n");
    let (opp, acc) = (opportunity(), account());
    let shown = preview(&none, [(&opp, &acc)], 10);
    assert_eq!(
        shown.withheld_items[0].reason,
        "the policy shares no opportunity fields"
    );
    let open = policy("[opportunities]\nfields = [\"name\"]\n");
    assert!(preview(&open, [(&opp, &acc)], 10).withheld_items.is_empty());
}
