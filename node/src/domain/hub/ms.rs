//! Microsoft Partner Center referrals (`/v1.0/engagements/referrals`), as docs/hubs.md maps
//! them: `read` takes a Referral; `write` makes one; `validate` checks one against the model
//! (required members, the status/substatus pairs, enums, formats). An incoming referral still
//! New is an invitation to answer.

use super::path::{check_country_code, export_problem, one_of, At, Problem};
use super::{
    blank_records, check_records, country_code, is_email, Collect, Hub, InvitationFrom, Mapped,
    Source,
};
use protocol::records::{Account, Currency, Domain, Opportunity, Stage};
use serde_json::{json, Map, Value};

/// `status` values.
pub const STATUSES: [&str; 3] = ["New", "Active", "Closed"];
/// `substatus` values allowed with each status.
pub const SUBSTATUSES: [(&str, &[&str]); 3] = [
    ("New", &["Pending", "Received"]),
    ("Active", &["Accepted"]),
    ("Closed", &["Won", "Lost", "Declined", "Expired"]),
];
/// `type` values.
pub const TYPES: [&str; 2] = ["Shared", "Independent"];
/// `qualification` values.
pub const QUALIFICATIONS: [&str; 4] = ["None", "Direct", "MarketingQualified", "SalesQualified"];
/// `salesStage` values of an Active referral and the internal stage each is.
pub const SALES_STAGES: [(&str, Stage); 4] = [
    ("Qualify", Stage::Qualified),
    ("Develop", Stage::TechnicalValidation),
    ("Propose", Stage::BusinessValidation),
    ("Close", Stage::Committed),
];

/// The internal stage of a referral's status, substatus and sales stage (docs/hubs.md): New is
/// prospect; Active is its sales stage's (none or one this table lacks, e.g. `"100"`: qualified);
/// Closed/Won is launched; Closed with Lost, Declined or Expired is closed_lost. `None` for a
/// pair the model does not allow.
pub fn stage_from_ms(
    status: &str,
    substatus: Option<&str>,
    sales_stage: Option<&str>,
) -> Option<Stage> {
    match (status, substatus) {
        ("New", None | Some("Pending" | "Received")) => Some(Stage::Prospect),
        ("Active", None | Some("Accepted")) => Some(
            sales_stage
                .and_then(|s| SALES_STAGES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)))
                .map_or(Stage::Qualified, |(_, st)| *st),
        ),
        ("Closed", Some("Won")) => Some(Stage::Launched),
        ("Closed", Some("Lost" | "Declined" | "Expired")) => Some(Stage::ClosedLost),
        _ => None,
    }
}

/// The status, substatus and sales stage an internal stage is exported as.
pub fn stage_to_ms(stage: Stage) -> (&'static str, &'static str, Option<&'static str>) {
    match stage {
        Stage::Prospect => ("New", "Pending", None),
        Stage::Launched => ("Closed", "Won", None),
        Stage::ClosedLost => ("Closed", "Lost", None),
        other => (
            "Active",
            "Accepted",
            SALES_STAGES
                .iter()
                .find(|(_, s)| *s == other)
                .map(|(n, _)| *n),
        ),
    }
}

/// Members kept in the source for the export.
const KEPT: [&str; 5] = [
    "type",
    "qualification",
    "consent",
    "statusReason",
    "direction",
];

/// Reads one referral.
pub fn read(item: &Value, path: &str) -> Result<Mapped, Vec<Problem>> {
    let root = At::root(item, path);
    if !item.is_object() {
        return Err(vec![root.problem("is not a JSON object")]);
    }
    let mut c = Collect::default();
    let (mut account, mut opp) = blank_records();
    let id = c.take(root.field("id").required_text());
    let version = c.take(root.field("eTag").text());
    let profile = root.field("customerProfile");
    account.name = c.take(profile.field("name").required_text());
    account.country = c.take(profile.field("address").field("country").text());
    // No website field: the domain of the customer's first contact, unless a mail provider's.
    if let Some(email) = c.take(profile.field("team").index(0).field("email").text()) {
        account.domain = Domain::parse_company(&email)
            .ok()
            .filter(|_| email.contains('@'));
    }
    let details = root.field("details");
    let industry = details.field("requirements").field("industries").index(0);
    account.industry = match industry.value {
        Value::String(_) => c.take(industry.text()),
        _ => c.take(industry.field("id").text()),
    };
    opp.name = c
        .take(root.field("name").text())
        .unwrap_or_else(|| id.clone());
    opp.external_id = c.take(root.field("externalReferenceId").text());
    let status_at = root.field("status");
    let status = c.take(status_at.text());
    let substatus_at = root.field("substatus");
    let substatus = c.take(substatus_at.text());
    let sales_stage = c.take(root.field("salesStage").text());
    match status.as_deref() {
        None => {}
        Some(s) if !STATUSES.contains(&s) => c.push(status_at.problem(format!(
            "\"{s}\" is no referral status (one of: {})",
            STATUSES.join(", ")
        ))),
        Some(s) => match stage_from_ms(s, substatus.as_deref(), sales_stage.as_deref()) {
            Some(stage) => opp.stage = stage,
            None => c.push(substatus_at.problem(format!(
                    "\"{}\" is not a substatus of {s} (one of: {})",
                    substatus.as_deref().unwrap_or(""),
                    SUBSTATUSES
                        .iter()
                        .find(|(st, _)| *st == s)
                        .map_or(String::new(), |(_, subs)| subs.join(", "))
                ))),
        },
    }
    opp.amount = c.take(details.field("dealValue").amount());
    opp.currency = c.take(details.field("currency").currency());
    opp.close_date = c.take(details.field("closingDateTime").date());
    opp.description = c.take(details.field("notes").text());
    opp.owner = c.take(root.field("team").index(0).field("email").text());
    let mut extra = Map::new();
    for key in KEPT {
        let v = root.field(key).value;
        if !v.is_null() {
            extra.insert(key.to_string(), v.clone());
        }
    }
    check_records(&account, &opp, path, &mut c);
    if !c.0.is_empty() {
        return Err(c.0);
    }
    let incoming =
        item["direction"].as_str() == Some("Incoming") && status.as_deref() == Some("New");
    let invitation = incoming.then(|| InvitationFrom {
        from: item["inviteContext"]["invitedBy"]["name"]
            .as_str()
            .map_or_else(|| "Microsoft".to_string(), str::to_string),
        invited_at: item["createdDateTime"].as_str().map(str::to_string),
        expires_at: item["expirationDateTime"].as_str().map(str::to_string),
    });
    Ok(Mapped {
        account,
        opportunity: opp,
        source: Source {
            format: Hub::Ms,
            external_id: id,
            version,
            extra,
        },
        invitation,
    })
}

/// The referral for `opp`. Nothing is checked here: [`validate`] does.
pub fn write(opp: &Opportunity, account: &Account, source: Option<&Source>) -> Value {
    let extra = source.map(|s| &s.extra);
    let kept = |key: &str| extra.and_then(|e| e.get(key)).cloned();
    let mut out = Map::new();
    if let Some(s) = source {
        out.insert("id".into(), json!(s.external_id));
        if let Some(v) = &s.version {
            out.insert("eTag".into(), json!(v));
        }
    }
    out.insert("name".into(), json!(opp.name));
    out.insert(
        "externalReferenceId".into(),
        json!(opp.external_id.as_deref().unwrap_or(&opp.id)),
    );
    // Private unless the referral came with other terms: not shared with Microsoft sellers.
    out.insert(
        "type".into(),
        kept("type").unwrap_or_else(|| json!("Independent")),
    );
    if let Some(q) = kept("qualification") {
        out.insert("qualification".into(), q);
    }
    let (status, substatus, sales_stage) = stage_to_ms(opp.stage);
    out.insert("status".into(), json!(status));
    out.insert("substatus".into(), json!(substatus));
    if let Some(s) = sales_stage {
        out.insert("salesStage".into(), json!(s));
    }
    if opp.stage == Stage::ClosedLost {
        if let Some(reason) = kept("statusReason") {
            out.insert("statusReason".into(), reason);
        }
    }
    if let Some(d) = kept("direction") {
        out.insert("direction".into(), d);
    }
    let mut profile = Map::new();
    profile.insert("name".into(), json!(account.name));
    if let Some(country) = &account.country {
        let code = country_code(country).unwrap_or_else(|| country.clone());
        profile.insert("address".into(), json!({"country": code}));
    }
    out.insert("customerProfile".into(), Value::Object(profile));
    out.insert(
        "consent".into(),
        kept("consent").unwrap_or_else(|| {
            json!({"consentToToShareInfoWithOthers": false, "consentToContact": false,
                   "consentToShareReferralWithMicrosoftSellers": false})
        }),
    );
    let mut details = Map::new();
    if let Some(n) = &opp.description {
        details.insert("notes".into(), json!(n));
    }
    if let Some(a) = opp.amount {
        // A JSON number whose shortest spelling is the amount's decimal text.
        let number: Value = serde_json::from_str(&a.to_string()).unwrap_or(Value::Null);
        details.insert("dealValue".into(), number);
        details.insert(
            "currency".into(),
            json!(opp.currency.map(|c| c.as_str().to_string())),
        );
    }
    if let Some(d) = opp.close_date {
        details.insert("closingDateTime".into(), json!(format!("{d}T00:00:00Z")));
    }
    if let Some(industry) = &account.industry {
        details.insert(
            "requirements".into(),
            json!({"industries": [{"id": industry}]}),
        );
    }
    out.insert("details".into(), Value::Object(details));
    if let Some(owner) = opp.owner.as_deref().filter(|o| is_email(o)) {
        out.insert("team".into(), json!([{"email": owner}]));
    }
    Value::Object(out)
}

/// Checks a referral against the Partner Center model: every problem with its JSON path.
pub fn validate(referral: &Value) -> Vec<Problem> {
    let root = At::root(referral, "");
    let mut p = Vec::new();
    if let Some(id) = root.field("id").value.as_str() {
        if !is_guid(id) {
            p.push(export_problem(
                &root.field("id"),
                &format!("\"{id}\" is not a GUID"),
            ));
        }
    }
    one_of(&root.field("type"), &TYPES, true, "Partner Center", &mut p);
    one_of(
        &root.field("qualification"),
        &QUALIFICATIONS,
        false,
        "Partner Center",
        &mut p,
    );
    let status = root.field("status");
    one_of(&status, &STATUSES, false, "Partner Center", &mut p);
    if let Some(s) = status.value.as_str() {
        let allowed = SUBSTATUSES
            .iter()
            .find(|(st, _)| *st == s)
            .map_or(&[][..], |(_, subs)| *subs);
        one_of(
            &root.field("substatus"),
            allowed,
            false,
            "Partner Center",
            &mut p,
        );
    }
    let sales = root.field("salesStage");
    if !sales.is_absent() && status.value.as_str() != Some("Active") {
        p.push(export_problem(&sales, "is only for an Active referral"));
    }
    one_of(
        &sales,
        &SALES_STAGES.map(|(n, _)| n),
        false,
        "Partner Center",
        &mut p,
    );
    let profile = root.field("customerProfile");
    if !profile.value.is_object() {
        p.push(export_problem(&profile, "is required by Partner Center"));
    }
    let name = profile.field("name");
    if name.text().ok().flatten().is_none() {
        p.push(export_problem(&name, "is required by Partner Center"));
    }
    check_country_code(
        &profile.field("address").field("country"),
        "Partner Center",
        &mut p,
    );
    let consent = root.field("consent");
    if !consent.value.is_object() {
        p.push(export_problem(&consent, "is required by Partner Center"));
    } else {
        for key in [
            "consentToToShareInfoWithOthers",
            "consentToContact",
            "consentToShareReferralWithMicrosoftSellers",
        ] {
            let flag = consent.field(key);
            if !flag.value.is_boolean() && !flag.is_absent() {
                p.push(export_problem(&flag, "is not true or false"));
            }
        }
    }
    let details = root.field("details");
    if !details.value.is_object() {
        p.push(export_problem(&details, "is required by Partner Center"));
    }
    let value = details.field("dealValue");
    match value.value {
        Value::Null => {}
        Value::Number(n) if n.as_f64().is_some_and(|f| f >= 0.0 && f.is_finite()) => {
            if details.field("currency").is_absent() {
                p.push(export_problem(
                    &details.field("currency"),
                    "is required with a dealValue",
                ));
            }
        }
        other => p.push(export_problem(
            &value,
            &format!("{other} is not a deal value (a number, not negative)"),
        )),
    }
    let currency = details.field("currency");
    if let Some(code) = currency.value.as_str() {
        if Currency::from_code(code).is_none()
            || code.len() != 3
            || code != code.to_ascii_uppercase()
        {
            p.push(export_problem(
                &currency,
                &format!("\"{code}\" is no ISO 4217 code"),
            ));
        }
    } else if !currency.is_absent() {
        p.push(export_problem(&currency, "is not an ISO 4217 code"));
    }
    let closing = details.field("closingDateTime");
    if let Some(t) = closing.value.as_str() {
        if !(t.len() > 10 && t.ends_with('Z') && super::path::utc_date(t).is_some()) {
            p.push(export_problem(
                &closing,
                &format!("\"{t}\" is not an ISO-8601 UTC time (2025-05-30T00:00:00Z)"),
            ));
        }
    }
    if let Value::Array(team) = root.field("team").value {
        let list = root.field("team");
        for i in 0..team.len() {
            let member = list.index(i);
            let email = member.field("email");
            if let Some(e) = email.value.as_str() {
                if !is_email(e) {
                    p.push(export_problem(
                        &email,
                        &format!("\"{e}\" is not an e-mail address"),
                    ));
                }
            }
        }
    }
    p
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}
