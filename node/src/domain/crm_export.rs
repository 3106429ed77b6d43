//! CSV export of this node's opportunities back to a CRM (`cosell export opportunities
//! --format salesforce|hubspot`, `GET /api/v1/export/opportunities`): every opportunity with
//! its co-sell facts (partners, each partner's stage, where each stands on the deal,
//! attribution, registration status), in the column names the CRM's importer takes
//! (docs/crm-export.md). A cell that a spreadsheet would run as a formula (starting with `=`,
//! `+`, `-` or `@`) is written with a leading apostrophe, which spreadsheets show as text and
//! cosell's own CSV import drops again, so the file round-trips.

use crate::domain::deals::Deals;
use crate::store::{OpportunityFilter, Store};
use anyhow::Result;
use protocol::records::{Account, Opportunity, Stage};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;

/// The CRMs an export is shaped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmFormat {
    /// Salesforce Data Loader / Data Import Wizard: API field names, co-sell facts in custom
    /// fields (`Cosell_Partners__c`, …).
    Salesforce,
    /// HubSpot's import wizard: deal property labels, co-sell facts in custom properties.
    Hubspot,
}

impl CrmFormat {
    /// Every format's name.
    pub const NAMES: [&'static str; 2] = ["salesforce", "hubspot"];

    /// `salesforce` or `hubspot` (any case).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "salesforce" => Ok(CrmFormat::Salesforce),
            "hubspot" => Ok(CrmFormat::Hubspot),
            _ => Err(format!(
                "'{s}' is not an export format (salesforce or hubspot)"
            )),
        }
    }

    /// The header row.
    pub fn headers(self) -> &'static [&'static str] {
        match self {
            CrmFormat::Salesforce => &[
                "Id",
                "Name",
                "AccountId",
                "Account Name",
                "Website",
                "StageName",
                "Amount",
                "CurrencyIsoCode",
                "CloseDate",
                "Opportunity Owner",
                "NextStep",
                "Description",
                "Cosell_Partners__c",
                "Cosell_Partner_Stages__c",
                "Cosell_Deal_Status__c",
                "Cosell_Attribution__c",
                "Cosell_Registration_Status__c",
            ],
            CrmFormat::Hubspot => &[
                "Record ID",
                "Deal Name",
                "Associated Company",
                "Company Domain Name",
                "Deal Stage",
                "Amount",
                "Deal Currency Code",
                "Close Date",
                "Deal Owner",
                "Next Step",
                "Deal Description",
                "Co-sell Partners",
                "Co-sell Partner Stages",
                "Co-sell Deal Status",
                "Co-sell Attribution",
                "Co-sell Registration Status",
            ],
        }
    }

    /// The CRM's default stage name for an internal stage (each reads back to the same stage
    /// in cosell's CSV import).
    pub fn stage(self, stage: Stage) -> &'static str {
        let (sf, hs) = match stage {
            Stage::Prospect => ("Prospecting", "Appointment Scheduled"),
            Stage::Qualified => ("Qualification", "Qualified To Buy"),
            Stage::TechnicalValidation => ("Value Proposition", "Presentation Scheduled"),
            Stage::BusinessValidation => ("Proposal/Price Quote", "Decision Maker Bought-In"),
            Stage::Committed => ("Negotiation/Review", "Contract Sent"),
            Stage::Launched => ("Closed Won", "Closed Won"),
            Stage::ClosedLost => ("Closed Lost", "Closed Lost"),
        };
        match self {
            CrmFormat::Salesforce => sf,
            CrmFormat::Hubspot => hs,
        }
    }
}

/// The co-sell facts of one opportunity, each a `; `-joined text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CosellFacts {
    /// Partner names on its deals.
    pub partners: String,
    /// `Partner: stage` for each partner that shows one.
    pub partner_stages: String,
    /// `Partner: accepted|declined|invited|expired`, or `withdrawn` for a withdrawn deal.
    pub deal_status: String,
    /// `sourced by X; influenced by Y, Z` (agreed), or `proposed: …`, or `disputed`.
    pub attribution: String,
    /// The deals' registration status (`approved`, `pending`, …).
    pub registration_status: String,
}

/// The co-sell facts of the deals shared from opportunity `id` (none: all empty).
pub fn cosell_facts(deals: &Deals, id: &str) -> Result<CosellFacts> {
    let mut partners = Vec::new();
    let mut stages = Vec::new();
    let mut statuses = Vec::new();
    let mut attribution = Vec::new();
    let mut registration = Vec::new();
    let me = deals.me().to_string();
    for deal_id in crate::store::shared::deals_of_opportunity(deals.store(), id)? {
        let Ok(deal) = deals.resolve_id(&deal_id, false) else {
            continue;
        };
        let Some(view) = deals.view(deal, false)? else {
            continue;
        };
        if view["status"] == "withdrawn" || view["withdrawn"].is_object() {
            statuses.push("withdrawn".to_string());
            continue;
        }
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for p in view["participants"].as_array().into_iter().flatten() {
            let pid = p["id"].as_str().unwrap_or_default().to_string();
            let name = p["name"].as_str().unwrap_or(&pid).to_string();
            names.insert(pid.clone(), name.clone());
            if pid == me {
                continue;
            }
            push_unique(&mut partners, name.clone());
            if let Some(s) = p["status"].as_str() {
                push_unique(&mut statuses, format!("{name}: {s}"));
            }
            if let Some(stage) = view["stages"][&pid].as_str() {
                push_unique(&mut stages, format!("{name}: {stage}"));
            }
        }
        let name_of = |v: &Value| {
            v.as_str()
                .map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_string()))
        };
        let a = &view["attribution"];
        let describe = |p: &Value| {
            let mut parts = Vec::new();
            if let Some(s) = name_of(&p["sourced_by"]) {
                parts.push(format!("sourced by {s}"));
            }
            let influenced: Vec<String> = p["influenced_by"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(name_of)
                .collect();
            if !influenced.is_empty() {
                parts.push(format!("influenced by {}", influenced.join(", ")));
            }
            parts.join("; ")
        };
        if a["agreed"].is_object() {
            push_unique(&mut attribution, describe(&a["agreed"]));
        } else if a["disputed"] == true {
            push_unique(&mut attribution, "disputed".to_string());
        } else if let Some(first) = a["proposals"].as_array().and_then(|p| p.first()) {
            push_unique(&mut attribution, format!("proposed: {}", describe(first)));
        }
        if let Some(s) = view["registration"]["status"].as_str() {
            push_unique(&mut registration, s.to_string());
        }
    }
    Ok(CosellFacts {
        partners: partners.join("; "),
        partner_stages: stages.join("; "),
        deal_status: statuses.join("; "),
        attribution: attribution
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        registration_status: registration.join("; "),
    })
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// A cell as written: one a spreadsheet would run as a formula gets a leading apostrophe.
pub fn neutralised(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// One opportunity's row in `format`'s columns.
pub fn row(
    format: CrmFormat,
    opp: &Opportunity,
    account: &Account,
    facts: &CosellFacts,
) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let amount = opp.amount.map(|a| a.to_string()).unwrap_or_default();
    let currency = opp
        .currency
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    let close = opp.close_date.map(|d| d.to_string()).unwrap_or_default();
    let domain = account
        .domain
        .as_ref()
        .map(|d| d.as_str().to_string())
        .unwrap_or_default();
    let cosell = [
        facts.partners.clone(),
        facts.partner_stages.clone(),
        facts.deal_status.clone(),
        facts.attribution.clone(),
        facts.registration_status.clone(),
    ];
    let mut cells = match format {
        CrmFormat::Salesforce => vec![
            text(&opp.external_id),
            opp.name.clone(),
            text(&account.external_id),
            account.name.clone(),
            domain,
            format.stage(opp.stage).to_string(),
            amount,
            currency,
            close,
            text(&opp.owner),
            text(&opp.next_step),
            text(&opp.description),
        ],
        CrmFormat::Hubspot => vec![
            text(&opp.external_id),
            opp.name.clone(),
            account.name.clone(),
            domain,
            format.stage(opp.stage).to_string(),
            amount,
            currency,
            close,
            text(&opp.owner),
            text(&opp.next_step),
            text(&opp.description),
        ],
    };
    cells.extend(cosell);
    cells.iter().map(|c| neutralised(c)).collect()
}

/// Writes every opportunity of this node as CSV in `format` to `out`, page by page. Returns
/// the rows written.
pub fn write_csv(deals: &Deals, store: &Store, format: CrmFormat, out: impl Write) -> Result<u64> {
    let mut csv = csv::WriterBuilder::new().from_writer(out);
    csv.write_record(format.headers())?;
    let mut cursor: Option<String> = None;
    let mut rows = 0;
    let mut accounts: BTreeMap<String, Account> = BTreeMap::new();
    loop {
        let page =
            store.list_opportunities(&OpportunityFilter::default(), cursor.as_deref(), 500)?;
        for opp in &page.items {
            if !accounts.contains_key(&opp.account_id) {
                if accounts.len() > 10_000 {
                    accounts.clear();
                }
                let Some(account) = store.account(&opp.account_id)? else {
                    continue;
                };
                accounts.insert(opp.account_id.clone(), account);
            }
            let account = &accounts[&opp.account_id];
            let facts = cosell_facts(deals, &opp.id)?;
            csv.write_record(row(format, opp, account, &facts))?;
            rows += 1;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    csv.flush()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::records::{AccountStatus, Amount, Currency, Date, Domain};

    fn records(description: &str, next_step: &str) -> (Account, Opportunity) {
        let account = Account {
            id: "01J00000000000000000000000".into(),
            external_id: Some("001Dn00000AbCdE".into()),
            name: "=Müller & Søn".into(),
            domain: Some(Domain::parse("mueller.de").unwrap()),
            industry: None,
            country: None,
            status: AccountStatus::Customer,
            owner: None,
            tags: Vec::new(),
        };
        let opp = Opportunity {
            id: "01J00000000000000000000001".into(),
            external_id: Some("006Dn00000XyZaB".into()),
            account_id: account.id.clone(),
            name: "+Bäckerei 🍞 shop".into(),
            stage: Stage::BusinessValidation,
            amount: Some(Amount::parse("1200.5").unwrap()),
            currency: Currency::from_code("EUR"),
            close_date: Some(Date::parse("2026-03-31").unwrap()),
            owner: Some("@jane".into()),
            next_step: Some(next_step.into()),
            description: Some(description.into()),
            tags: Vec::new(),
        };
        (account, opp)
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1 555 0100", "'+1 555 0100"),
            ("-5", "'-5"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("Plain", "Plain"),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralised(cell), written);
        }
    }

    #[test]
    fn every_stage_name_reads_back_to_its_stage() {
        for format in [CrmFormat::Salesforce, CrmFormat::Hubspot] {
            for stage in Stage::ALL {
                assert_eq!(
                    crate::import::map_stage(format.stage(stage)),
                    Ok(stage),
                    "{format:?} {stage}"
                );
            }
        }
    }

    #[test]
    fn an_export_reads_back_through_the_csv_import() {
        let (account, opp) = records("=1+1 formula-looking", "-call the CFO");
        let facts = CosellFacts {
            partners: "Acme SI; =Evil Partner".into(),
            partner_stages: "Acme SI: committed".into(),
            deal_status: "Acme SI: accepted".into(),
            attribution: "sourced by Acme SI".into(),
            registration_status: "approved".into(),
        };
        for format in [CrmFormat::Salesforce, CrmFormat::Hubspot] {
            let mut csv = csv::Writer::from_writer(Vec::new());
            csv.write_record(format.headers()).unwrap();
            let cells = row(format, &opp, &account, &facts);
            assert_eq!(cells.len(), format.headers().len());
            assert!(
                cells.iter().all(|c| !c.starts_with(['=', '+', '-', '@'])),
                "{cells:?}"
            );
            assert!(
                cells.contains(&"'=Evil Partner".to_string())
                    || cells.iter().any(|c| c == "Acme SI; =Evil Partner")
            );
            csv.write_record(&cells).unwrap();
            let bytes = csv.into_inner().unwrap();
            let mut reader =
                crate::import::read_opportunities(bytes.as_slice()).expect("header read");
            let back = reader.next().expect("a row").expect("a good row");
            assert_eq!(back.external_id, opp.external_id, "{format:?}");
            assert_eq!(back.name, opp.name);
            assert_eq!(back.stage, opp.stage);
            assert_eq!(back.amount, opp.amount);
            assert_eq!(back.currency, opp.currency);
            assert_eq!(back.close_date, opp.close_date);
            assert_eq!(back.owner, opp.owner);
            assert_eq!(back.next_step, opp.next_step);
            assert_eq!(back.description, opp.description);
            assert_eq!(back.account_domain, account.domain);
            assert_eq!(back.account_name.as_deref(), Some(account.name.as_str()));
            if format == CrmFormat::Salesforce {
                assert_eq!(back.account_external_id, account.external_id);
            }
            assert!(reader.next().is_none());
        }
    }
}
