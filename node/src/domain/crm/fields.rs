//! Field mapping: which CRM field fills which record field. The defaults are the fields the CSV
//! import's Salesforce and HubSpot aliases name (`import::fields`: `Website` → domain,
//! `StageName`/`Stage` → stage, `dealname`/`Deal Name` → name, …); a connection's `fields`
//! setting overrides them, custom fields (`Partner_Tier__c`, `my_property`) included.

use super::Vendor;
use std::collections::BTreeMap;

/// The account fields a CRM field can fill (the record's id always comes from the CRM's id).
pub const ACCOUNT_FIELDS: &[&str] = &["name", "domain", "industry", "country", "status", "owner"];

/// The opportunity fields a CRM field can fill (the account comes from the CRM's account id or,
/// in HubSpot, the deal's company association).
pub const OPPORTUNITY_FIELDS: &[&str] = &[
    "name",
    "stage",
    "amount",
    "currency",
    "close_date",
    "owner",
    "next_step",
    "description",
];

/// Default Salesforce fields (dotted names follow a relationship: `Owner.Name`).
const SALESFORCE: &[(&str, &str)] = &[
    ("account.name", "Name"),
    ("account.domain", "Website"),
    ("account.industry", "Industry"),
    ("account.country", "BillingCountry"),
    ("account.status", "Type"),
    ("account.owner", "Owner.Name"),
    ("opportunity.name", "Name"),
    ("opportunity.stage", "StageName"),
    ("opportunity.amount", "Amount"),
    ("opportunity.close_date", "CloseDate"),
    ("opportunity.owner", "Owner.Name"),
    ("opportunity.next_step", "NextStep"),
    ("opportunity.description", "Description"),
];

/// Default HubSpot properties.
const HUBSPOT: &[(&str, &str)] = &[
    ("account.name", "name"),
    ("account.domain", "domain"),
    ("account.industry", "industry"),
    ("account.country", "country"),
    ("account.status", "lifecyclestage"),
    ("opportunity.name", "dealname"),
    ("opportunity.stage", "dealstage"),
    ("opportunity.amount", "amount"),
    ("opportunity.currency", "deal_currency_code"),
    ("opportunity.close_date", "closedate"),
    ("opportunity.next_step", "hs_next_step"),
    ("opportunity.description", "description"),
];

/// The mapping in force: per object, (record field, CRM field) in the record's field order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap {
    /// Account fields.
    pub account: Vec<(&'static str, String)>,
    /// Opportunity fields.
    pub opportunity: Vec<(&'static str, String)>,
}

impl FieldMap {
    /// The CRM field that fills `field` of `object`, if mapped.
    pub fn crm_field(&self, object: &str, field: &str) -> Option<&str> {
        let list = if object == "account" {
            &self.account
        } else {
            &self.opportunity
        };
        list.iter()
            .find(|(f, _)| *f == field)
            .map(|(_, c)| c.as_str())
    }
}

/// Whether `name` may be a CRM field name: letters, digits, `_` and `.` only (it goes into a
/// SOQL query or a property list as it is).
pub fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 120
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !name.starts_with('.')
        && !name.ends_with('.')
}

/// The mapping for `vendor` with `overrides` (`object.field` → CRM field; empty unmaps). Errors
/// name the bad key or value.
pub fn field_map(
    vendor: Vendor,
    overrides: &BTreeMap<String, String>,
) -> Result<FieldMap, Vec<(String, String)>> {
    let defaults = match vendor {
        Vendor::Salesforce => SALESFORCE,
        Vendor::Hubspot => HUBSPOT,
    };
    let mut chosen: BTreeMap<String, String> = defaults
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut problems = Vec::new();
    for (key, value) in overrides {
        let known = key
            .split_once('.')
            .map(|(object, field)| match object {
                "account" => ACCOUNT_FIELDS.contains(&field),
                "opportunity" => OPPORTUNITY_FIELDS.contains(&field),
                _ => false,
            })
            .unwrap_or(false);
        if !known {
            problems.push((
                format!("fields.{key}"),
                format!(
                    "'{key}' is not a mappable field (use account.{} or opportunity.{})",
                    ACCOUNT_FIELDS.join("|"),
                    OPPORTUNITY_FIELDS.join("|")
                ),
            ));
            continue;
        }
        if value.is_empty() {
            chosen.remove(key);
        } else if !is_field_name(value) {
            problems.push((
                format!("fields.{key}"),
                format!("'{value}' is not a CRM field name (letters, digits, _ and . only)"),
            ));
        } else {
            chosen.insert(key.clone(), value.clone());
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let pick = |object: &str, fields: &[&'static str]| -> Vec<(&'static str, String)> {
        fields
            .iter()
            .filter_map(|f| {
                chosen
                    .get(&format!("{object}.{f}"))
                    .map(|c| (*f, c.clone()))
            })
            .collect()
    };
    Ok(FieldMap {
        account: pick("account", ACCOUNT_FIELDS),
        opportunity: pick("opportunity", OPPORTUNITY_FIELDS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_defaults_follow_the_csv_aliases_and_take_custom_fields() {
        let mut o = BTreeMap::new();
        o.insert(
            "opportunity.next_step".to_string(),
            "Next_Step__c".to_string(),
        );
        o.insert("opportunity.description".to_string(), String::new());
        let m = field_map(Vendor::Salesforce, &o).unwrap();
        assert_eq!(m.crm_field("opportunity", "stage"), Some("StageName"));
        assert_eq!(m.crm_field("account", "domain"), Some("Website"));
        assert_eq!(
            m.crm_field("opportunity", "next_step"),
            Some("Next_Step__c")
        );
        assert_eq!(m.crm_field("opportunity", "description"), None);
    }

    #[test]
    fn a_bad_mapping_names_its_key() {
        let mut o = BTreeMap::new();
        o.insert("opportunity.colour".to_string(), "X".to_string());
        o.insert("account.name".to_string(), "Name; DROP".to_string());
        let e = field_map(Vendor::Hubspot, &o).unwrap_err();
        let keys: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["fields.account.name", "fields.opportunity.colour"]);
    }
}
