//! AWS Partner Central Selling API (2022-07-26) opportunities, as docs/hubs.md maps them:
//! `read` takes a GetOpportunity answer, a Create/Update request (what `write` makes), an
//! engagement invitation (`Payload.OpportunityInvitation`) or a resource snapshot
//! (`Payload.OpportunitySummary`, lifecycle spelled `Lifecycle`); `write` makes the
//! Create (or, for an opportunity that came from ACE, Update) request; `validate` checks a
//! request against the model's required fields, enums, lengths and formats.

use super::path::{check_country_code, export_problem, one_of, At, Problem};
use super::{
    blank_records, check_records, country_code, is_email, Collect, Hub, InvitationFrom, Mapped,
    Source,
};
use protocol::records::{Account, Opportunity, Stage};
use serde_json::{json, Map, Value};

/// ACE's stages and the internal stage each is: one to one.
pub const STAGES: [(&str, Stage); 7] = [
    ("Prospect", Stage::Prospect),
    ("Qualified", Stage::Qualified),
    ("Technical Validation", Stage::TechnicalValidation),
    ("Business Validation", Stage::BusinessValidation),
    ("Committed", Stage::Committed),
    ("Launched", Stage::Launched),
    ("Closed Lost", Stage::ClosedLost),
];

/// The model's `Industry` enum.
pub const INDUSTRIES: [&str; 28] = [
    "Aerospace",
    "Agriculture",
    "Automotive",
    "Computers and Electronics",
    "Consumer Goods",
    "Education",
    "Energy - Oil and Gas",
    "Energy - Power and Utilities",
    "Financial Services",
    "Gaming",
    "Government",
    "Healthcare",
    "Hospitality",
    "Life Sciences",
    "Manufacturing",
    "Marketing and Advertising",
    "Media and Entertainment",
    "Mining",
    "Non-Profit Organization",
    "Professional Services",
    "Real Estate and Construction",
    "Retail",
    "Software and Internet",
    "Telecommunications",
    "Transportation and Logistics",
    "Travel",
    "Wholesale and Distribution",
    "Other",
];

/// The model's `ClosedLostReason` enum.
pub const CLOSED_LOST_REASONS: [&str; 19] = [
    "Customer Deficiency",
    "Delay / Cancellation of Project",
    "Legal / Tax / Regulatory",
    "Lost to Competitor - Google",
    "Lost to Competitor - Microsoft",
    "Lost to Competitor - SoftLayer",
    "Lost to Competitor - VMWare",
    "Lost to Competitor - Other",
    "No Opportunity",
    "On Premises Deployment",
    "Partner Gap",
    "Price",
    "Security / Compliance",
    "Technical Limitations",
    "Customer Experience",
    "Other",
    "People/Relationship/Governance",
    "Product/Technology",
    "Financial/Commercial",
];

/// The model's `OpportunityType` enum.
pub const OPPORTUNITY_TYPES: [&str; 3] = ["Net New Business", "Flat Renewal", "Expansion"];

/// Currencies ACE takes for `ExpectedCustomerSpend` (the docs: USD and EUR only).
pub const SPEND_CURRENCIES: [&str; 2] = ["USD", "EUR"];

/// The ACE stage named `name` (any case).
pub fn stage_from_ace(name: &str) -> Option<Stage> {
    STAGES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, s)| *s)
}

/// The ACE name of an internal stage.
pub fn stage_to_ace(stage: Stage) -> &'static str {
    STAGES
        .iter()
        .find(|(_, s)| *s == stage)
        .map_or("Prospect", |(n, _)| n)
}

/// Extra fields kept in the source for the export.
const KEPT: [&str; 2] = ["Catalog", "OpportunityType"];

/// Reads one ACE item (see the module doc).
pub fn read(item: &Value, path: &str) -> Result<Mapped, Vec<Problem>> {
    let root = At::root(item, path);
    if !item.is_object() {
        return Err(vec![root.problem("is not a JSON object")]);
    }
    let payload = root.field("Payload");
    if !payload.field("OpportunityInvitation").is_absent() {
        return read_invitation(&root);
    }
    let mut c = Collect::default();
    let (mut account, mut opp) = blank_records();
    let snapshot = payload.field("OpportunitySummary");
    let is_snapshot = !snapshot.is_absent();
    let body = if is_snapshot { snapshot } else { root.clone() };
    let id = if is_snapshot {
        c.take(root.field("ResourceId").required_text())
    } else if root.field("Id").is_absent() {
        c.take(root.field("Identifier").text())
            .ok_or_else(|| {
                root.field("Id")
                    .problem("is required (the ACE opportunity id)")
            })
            .unwrap_or_else(|p| {
                c.push(p);
                String::new()
            })
    } else {
        c.take(root.field("Id").required_text())
    };
    let version = if is_snapshot {
        match root.field("Revision").value {
            Value::Number(n) => Some(n.to_string()),
            _ => c.take(root.field("Revision").text()),
        }
    } else {
        c.take(root.field("LastModifiedDate").text())
    };
    let customer = body.field("Customer");
    let acc = customer.field("Account");
    account.name = c.take(acc.field("CompanyName").required_text());
    account.domain = c.take(acc.field("WebsiteUrl").website());
    let industry = c.take(acc.field("Industry").text());
    let other = c.take(acc.field("OtherIndustry").text());
    account.industry = match industry.as_deref() {
        Some(i) if i.eq_ignore_ascii_case("Other") => other.or(industry),
        _ => industry,
    };
    account.country = c.take(acc.field("Address").field("CountryCode").text());

    let lifecycle = if is_snapshot {
        body.field("Lifecycle")
    } else {
        body.field("LifeCycle")
    };
    let stage = lifecycle.field("Stage");
    if let Some(name) = c.take(stage.text()) {
        match stage_from_ace(&name) {
            Some(s) => opp.stage = s,
            None => c.push(stage.problem(format!(
                "\"{name}\" is no ACE stage (one of: {})",
                STAGES.map(|(n, _)| n).join(", ")
            ))),
        }
    }
    opp.close_date = c.take(lifecycle.field("TargetCloseDate").date());
    opp.next_step = c.take(lifecycle.field("NextSteps").text());
    let project = body.field("Project");
    opp.name = c
        .take(project.field("Title").text())
        .unwrap_or_else(|| id.clone());
    opp.description = c.take(project.field("CustomerBusinessProblem").text());
    let spend = project.field("ExpectedCustomerSpend");
    if !spend.is_absent() && !spend.value.is_array() {
        c.push(spend.problem("is not an array"));
    }
    let first = spend.index(0);
    opp.amount = c.take(first.field("Amount").amount());
    opp.currency = c.take(first.field("CurrencyCode").currency());
    let team = body.field("OpportunityTeam");
    opp.owner = c.take(team.index(0).field("Email").text());
    opp.external_id = c.take(body.field("PartnerOpportunityIdentifier").text());

    let mut extra = Map::new();
    for key in KEPT {
        if let Some(v) = c
            .take(body.field(key).text())
            .or_else(|| c.take(root.field(key).text()))
        {
            extra.insert(key.to_string(), Value::String(v));
        }
    }
    if let Some(reason) = c.take(lifecycle.field("ClosedLostReason").text()) {
        extra.insert("ClosedLostReason".into(), Value::String(reason));
    }
    check_records(&account, &opp, path, &mut c);
    if !c.0.is_empty() {
        return Err(c.0);
    }
    Ok(Mapped {
        account,
        opportunity: opp,
        source: Source {
            format: Hub::Ace,
            external_id: id,
            version,
            extra,
        },
        invitation: None,
    })
}

/// An engagement invitation (GetEngagementInvitation): the opportunity it offers, held back.
fn read_invitation(root: &At) -> Result<Mapped, Vec<Problem>> {
    let mut c = Collect::default();
    let (mut account, mut opp) = blank_records();
    let id = c.take(root.field("Id").required_text());
    let payload = root.field("Payload");
    let inv = payload.field("OpportunityInvitation");
    let customer = inv.field("Customer");
    account.name = c.take(customer.field("CompanyName").required_text());
    account.domain = c.take(customer.field("WebsiteUrl").website());
    account.industry = c.take(customer.field("Industry").text());
    account.country = c.take(customer.field("CountryCode").text());
    let project = inv.field("Project");
    opp.name = c
        .take(project.field("Title").text())
        .unwrap_or_else(|| id.clone());
    opp.description = c.take(project.field("BusinessProblem").text());
    opp.close_date = c.take(project.field("TargetCompletionDate").date());
    let spend = project.field("ExpectedCustomerSpend");
    let first = spend.index(0);
    opp.amount = c.take(first.field("Amount").amount());
    opp.currency = c.take(first.field("CurrencyCode").currency());
    let from = c
        .take(root.field("SenderCompanyName").text())
        .unwrap_or_else(|| "AWS".to_string());
    let invited_at = c.take(root.field("InvitationDate").text());
    let expires_at = c.take(root.field("ExpirationDate").text());
    let mut extra = Map::new();
    if let Some(catalog) = c.take(root.field("Catalog").text()) {
        extra.insert("Catalog".into(), Value::String(catalog));
    }
    check_records(&account, &opp, &root.path(), &mut c);
    if !c.0.is_empty() {
        return Err(c.0);
    }
    Ok(Mapped {
        account,
        opportunity: opp,
        source: Source {
            format: Hub::Ace,
            external_id: id,
            version: None,
            extra,
        },
        invitation: Some(InvitationFrom {
            from,
            invited_at,
            expires_at,
        }),
    })
}

/// Whether `id` is an ACE opportunity id (`O` and 1–19 digits): an opportunity that came from
/// ACE with one is exported as an Update, else as a Create.
pub fn is_opportunity_id(id: &str) -> bool {
    id.len() >= 2
        && id.len() <= 20
        && id.starts_with('O')
        && id[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The Create (or Update) request for `opp`. Nothing is checked here: [`validate`] does.
pub fn write(opp: &Opportunity, account: &Account, source: Option<&Source>) -> Value {
    let extra = source.map(|s| &s.extra);
    let kept = |key: &str| extra.and_then(|e| e.get(key)).cloned();
    let mut out = Map::new();
    out.insert(
        "Catalog".into(),
        kept("Catalog").unwrap_or_else(|| json!("AWS")),
    );
    match source.filter(|s| is_opportunity_id(&s.external_id)) {
        Some(s) => {
            out.insert("Identifier".into(), json!(s.external_id));
            out.insert("LastModifiedDate".into(), json!(s.version));
        }
        None => {
            out.insert("ClientToken".into(), json!(opp.id));
        }
    }
    out.insert(
        "PartnerOpportunityIdentifier".into(),
        json!(opp.external_id.as_deref().unwrap_or(&opp.id)),
    );
    if let Some(t) = kept("OpportunityType") {
        out.insert("OpportunityType".into(), t);
    }
    let mut acc = Map::new();
    acc.insert("CompanyName".into(), json!(account.name));
    if let Some(d) = &account.domain {
        acc.insert(
            "WebsiteUrl".into(),
            json!(format!("https://{}", d.as_str())),
        );
    }
    if let Some(industry) = &account.industry {
        match INDUSTRIES.iter().find(|i| i.eq_ignore_ascii_case(industry)) {
            Some(i) => {
                acc.insert("Industry".into(), json!(i));
            }
            None => {
                acc.insert("Industry".into(), json!("Other"));
                acc.insert("OtherIndustry".into(), json!(industry));
            }
        }
    }
    if let Some(country) = &account.country {
        let code = country_code(country).unwrap_or_else(|| country.clone());
        acc.insert("Address".into(), json!({"CountryCode": code}));
    }
    out.insert("Customer".into(), json!({"Account": acc}));
    let mut life = Map::new();
    life.insert("Stage".into(), json!(stage_to_ace(opp.stage)));
    if let Some(d) = opp.close_date {
        life.insert("TargetCloseDate".into(), json!(d.to_string()));
    }
    if let Some(n) = &opp.next_step {
        life.insert("NextSteps".into(), json!(n));
    }
    if opp.stage == Stage::ClosedLost {
        life.insert(
            "ClosedLostReason".into(),
            kept("ClosedLostReason").unwrap_or_else(|| json!("Other")),
        );
    }
    out.insert("LifeCycle".into(), Value::Object(life));
    let mut project = Map::new();
    project.insert("Title".into(), json!(opp.name));
    if let Some(d) = &opp.description {
        project.insert("CustomerBusinessProblem".into(), json!(d));
    }
    if let Some(a) = opp.amount {
        project.insert(
            "ExpectedCustomerSpend".into(),
            json!([{"Amount": a.to_string(), "CurrencyCode": opp.currency.map(|c| c.as_str().to_string()),
                    "Frequency": "Monthly", "TargetCompany": "AWS"}]),
        );
    }
    out.insert("Project".into(), Value::Object(project));
    if let Some(owner) = opp.owner.as_deref().filter(|o| is_email(o)) {
        out.insert("OpportunityTeam".into(), json!([{"Email": owner}]));
    }
    Value::Object(out)
}

/// A text field of a Create/Update request: its JSON path, whether ACE requires it, and the
/// characters it takes (min, max).
type TextRule = (&'static [&'static str], bool, usize, usize);

/// The request's text fields as the model limits them (the spend and team lists are checked
/// per item; `ClientToken` only on a Create).
const TEXT_RULES: [TextRule; 7] = [
    (&["PartnerOpportunityIdentifier"], false, 0, 64),
    (&["Customer", "Account", "CompanyName"], true, 1, 120),
    (&["Customer", "Account", "OtherIndustry"], false, 0, 255),
    (&["Customer", "Account", "WebsiteUrl"], true, 4, 255),
    (&["LifeCycle", "NextSteps"], false, 0, 255),
    (&["Project", "Title"], true, 1, 255),
    (&["Project", "CustomerBusinessProblem"], true, 20, 2000),
];

/// An enum field of a Create/Update request: its JSON path, the values the model allows, and
/// whether ACE requires it.
type EnumRule = (&'static [&'static str], &'static [&'static str], bool);

/// The request's enum fields (and `LifeCycle.Stage`, one of [`STAGES`]).
const ENUM_RULES: [EnumRule; 4] = [
    (&["Catalog"], &["AWS", "Sandbox"], true),
    (&["OpportunityType"], &OPPORTUNITY_TYPES, false),
    (&["Customer", "Account", "Industry"], &INDUSTRIES, true),
    (
        &["LifeCycle", "ClosedLostReason"],
        &CLOSED_LOST_REASONS,
        false,
    ),
];

/// The value at `path` below `root`.
fn at_path<'a>(root: &At<'a>, path: &[&str]) -> At<'a> {
    path.iter().fold(root.clone(), |at, key| at.field(key))
}

/// Checks a Create or Update request against the ACE model (what the API refuses and what the
/// docs require for submission): every problem with its JSON path.
pub fn validate(request: &Value) -> Vec<Problem> {
    let root = At::root(request, "");
    let mut p = Vec::new();
    for (path, allowed, required) in ENUM_RULES {
        one_of(&at_path(&root, path), allowed, required, "ACE", &mut p);
    }
    for (path, required, min, max) in TEXT_RULES {
        text_field(&at_path(&root, path), required, min, max, &mut p);
    }
    if root.field("Identifier").is_absent() {
        text_field(&root.field("ClientToken"), true, 1, 64, &mut p);
    } else {
        check_update_identity(&root, &mut p);
    }
    let acc = root.field("Customer").field("Account");
    if acc.field("Industry").value.as_str() == Some("Other") {
        need(&acc.field("OtherIndustry"), &mut p);
    }
    check_country_code(&acc.field("Address").field("CountryCode"), "ACE", &mut p);
    let life = root.field("LifeCycle");
    let stage = life.field("Stage");
    one_of(&stage, &STAGES.map(|(n, _)| n), true, "ACE", &mut p);
    if stage.value.as_str() == Some("Closed Lost") {
        need(&life.field("ClosedLostReason"), &mut p);
    }
    let close = life.field("TargetCloseDate");
    if let Some(d) = close.value.as_str() {
        if d.len() != 10 || protocol::records::Date::parse(d).is_err() {
            p.push(export_problem(
                &close,
                &format!("\"{d}\" is not YYYY-MM-DD"),
            ));
        }
    }
    let spends = root.field("Project").field("ExpectedCustomerSpend");
    for i in 0..spends.value.as_array().map_or(0, Vec::len) {
        check_spend(&spends.index(i), &mut p);
    }
    let team = root.field("OpportunityTeam");
    for i in 0..team.value.as_array().map_or(0, Vec::len) {
        let email = team.index(i).field("Email");
        match email.value.as_str() {
            Some(e) if is_email(e) && e.len() <= 80 && e == e.to_lowercase() => {}
            Some(e) => p.push(export_problem(
                &email,
                &format!("\"{e}\" is not a lowercase e-mail address of at most 80 characters"),
            )),
            None => {}
        }
    }
    p
}

/// An Update names the ACE opportunity and the `LastModifiedDate` ACE last gave.
fn check_update_identity(root: &At, p: &mut Vec<Problem>) {
    let id = root.field("Identifier");
    if !id.value.as_str().is_some_and(is_opportunity_id) {
        p.push(export_problem(
            &id,
            "is not an ACE opportunity id (O and 1-19 digits)",
        ));
    }
    let modified = root.field("LastModifiedDate");
    if !modified
        .value
        .as_str()
        .is_some_and(|t| super::path::utc_date(t).is_some() && t.len() > 10)
    {
        p.push(export_problem(
            &modified,
            "is required on an update: the ISO-8601 time ACE last gave (the concurrency token)",
        ));
    }
}

/// One `ExpectedCustomerSpend` item: a decimal amount, USD or EUR, monthly, a target company.
fn check_spend(s: &At, p: &mut Vec<Problem>) {
    let amount = s.field("Amount");
    match amount.value.as_str() {
        Some(a) if is_two_decimals(a) => {}
        Some(a) => p.push(export_problem(
            &amount,
            &format!("\"{a}\" is not a decimal string with at most 2 decimals"),
        )),
        None => p.push(export_problem(
            &amount,
            "is required by ACE (a decimal string)",
        )),
    }
    one_of(&s.field("CurrencyCode"), &SPEND_CURRENCIES, true, "ACE", p);
    one_of(&s.field("Frequency"), &["Monthly"], true, "ACE", p);
    text_field(&s.field("TargetCompany"), true, 1, 80, p);
}

/// A text field: there when `required` ([`need`]), and `min` to `max` characters when it is a
/// string.
fn text_field(at: &At, required: bool, min: usize, max: usize, p: &mut Vec<Problem>) {
    if required {
        need(at, p);
    }
    if let Value::String(s) = at.value {
        let n = s.chars().count();
        if n < min || n > max {
            p.push(export_problem(
                at,
                &format!("has {n} characters; ACE takes {min} to {max}"),
            ));
        }
    }
}

/// A problem unless `at` holds a text that is not blank.
fn need(at: &At, p: &mut Vec<Problem>) {
    if at.text().ok().flatten().is_none() {
        p.push(export_problem(at, "is required by ACE"));
    }
}

/// `123`, `123.4`, `123.45`: ACE's amount strings.
fn is_two_decimals(a: &str) -> bool {
    let (whole, frac) = a.split_once('.').unwrap_or((a, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 2
        && frac.bytes().all(|b| b.is_ascii_digit())
        && a.contains('.') != frac.is_empty()
}
