//! HubSpot (CRM v3): a private app's token; companies and deals through the search API
//! (`POST /crm/v3/objects/{companies|deals}/search`) filtered and sorted by
//! `hs_lastmodifieddate`, paged by `paging.next.after` (search stops at 10,000 results per
//! query, so a longer read starts a new query from the newest stamp seen); each deal's
//! company from the v4 associations batch read; stage ids and labels from the pipelines API;
//! archived deals from the object list with `archived=true`. Write-back: a PATCH of deal
//! properties, or a note associated with the deal.
//!
//! Errors as HubSpot sends them: `{"status": "error", "message", "correlationId", "category"}`;
//! `429` (with `Retry-After` when HubSpot says how long) is waited out and retried a few times;
//! `401` is retried once, then a clear error (a private-app token cannot be refreshed).

use super::config::Secret;
use super::engine::{Object, Record};
use super::fields::FieldMap;
use super::remote::{self, Body, Failure, RATE_LIMIT_RETRIES_MAX, RETRY_AFTER_SECS_MAX};
use super::StageMap;
use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Results per search page (HubSpot's most).
pub const SEARCH_PAGE_MAX: usize = 200;
/// Results one search query pages through at most (HubSpot's limit).
pub const SEARCH_RESULTS_MAX: usize = 10_000;
/// Inputs per associations batch read.
const ASSOCIATIONS_BATCH_MAX: usize = 1_000;
/// Pages read per object before giving up.
const PAGES_MAX: usize = 100_000;
/// The wait after a 429 without `Retry-After`.
const RATE_LIMIT_WAIT_DEFAULT_SECS: u64 = 10;
/// HubSpot's association type id of a note → deal association.
const NOTE_TO_DEAL: u32 = 214;
/// HubSpot's association type id of a deal → company "Primary" association.
const DEAL_TO_PRIMARY_COMPANY: u64 = 5;

/// A HubSpot account reached with a private app's token.
pub struct Hubspot {
    agent: ureq::Agent,
    base_url: String,
    token: Secret,
}

fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> Failure {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let message = match (v["category"].as_str(), v["message"].as_str()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (None, Some(m)) => m.to_string(),
        _ => body.to_string(),
    };
    match status {
        401 => Failure::Unauthorized(message),
        429 => Failure::RateLimited {
            retry_after,
            message,
        },
        _ => Failure::Refused { status, message },
    }
}

/// A page of search results.
pub struct Page {
    /// The objects, as HubSpot sent them.
    pub results: Vec<Value>,
    /// `total` of the query.
    pub total: u64,
}

impl Hubspot {
    /// A connector for the account behind `token`.
    pub fn new(base_url: &str, token: Secret) -> Self {
        Hubspot {
            agent: remote::agent(),
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
        }
    }

    /// One API call: 429s waited out (at most [`RATE_LIMIT_RETRIES_MAX`] times, each wait at
    /// most [`RETRY_AFTER_SECS_MAX`]), a 401 retried once.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut unauthorized = 0;
        let mut limited = 0;
        loop {
            let request = self
                .agent
                .request(method, &format!("{}{}", self.base_url, path))
                .set("Authorization", &format!("Bearer {}", self.token.expose()));
            let b = match body {
                Some(v) => Body::Json(v.clone()),
                None => Body::None,
            };
            match remote::send(request, b, classify) {
                Ok(v) => return Ok(v),
                Err(Failure::Unauthorized(why)) => {
                    unauthorized += 1;
                    if unauthorized > 1 {
                        return Err(anyhow!(
                            "HubSpot refused the private app token ({why}); make a new token (Settings > Integrations > Private Apps) and run `cosell crm connect hubspot` again"
                        ));
                    }
                }
                Err(Failure::RateLimited {
                    retry_after,
                    message,
                }) => {
                    limited += 1;
                    let wait =
                        retry_after.unwrap_or(Duration::from_secs(RATE_LIMIT_WAIT_DEFAULT_SECS));
                    if limited > RATE_LIMIT_RETRIES_MAX
                        || wait > Duration::from_secs(RETRY_AFTER_SECS_MAX)
                    {
                        return Err(Failure::RateLimited {
                            retry_after,
                            message,
                        }
                        .into());
                    }
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        "HubSpot rate limit; waiting"
                    );
                    std::thread::sleep(wait);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Checks the token (reads the deal pipelines).
    pub fn check(&self) -> Result<()> {
        self.call("GET", "/crm/v3/pipelines/deals", None)
            .map(|_| ())
    }

    /// Deal stages of every pipeline: stage id → (label, ACE stage guessed from its metadata
    /// when the label maps to none).
    pub fn stages(&self) -> Result<BTreeMap<String, (String, Option<&'static str>)>> {
        let v = self.call("GET", "/crm/v3/pipelines/deals", None)?;
        let mut out = BTreeMap::new();
        for p in v["results"].as_array().into_iter().flatten() {
            for s in p["stages"].as_array().into_iter().flatten() {
                let (Some(id), Some(label)) = (s["id"].as_str(), s["label"].as_str()) else {
                    continue;
                };
                let closed = s["metadata"]["isClosed"].as_str() == Some("true");
                let probability = s["metadata"]["probability"]
                    .as_str()
                    .and_then(|p| p.parse::<f64>().ok());
                let guess = match (closed, probability) {
                    (true, Some(p)) if p >= 1.0 => Some("launched"),
                    (true, _) => Some("closed_lost"),
                    _ => None,
                };
                out.insert(id.to_string(), (label.to_string(), guess));
            }
        }
        Ok(out)
    }

    /// Searches `object`'s records modified since `since_ms` (all, without), oldest first,
    /// handing each page to `each`; returns the newest `hs_lastmodifieddate` seen (ms).
    pub fn search(
        &self,
        object: Object,
        properties: &[String],
        since_ms: Option<u64>,
        each: &mut dyn FnMut(Page) -> Result<()>,
    ) -> Result<Option<u64>> {
        let path = match object {
            Object::Account => "/crm/v3/objects/companies/search",
            Object::Opportunity => "/crm/v3/objects/deals/search",
        };
        let mut newest = since_ms;
        let mut from = since_ms;
        let mut after: Option<String> = None;
        let mut read_in_query = 0usize;
        for _ in 0..PAGES_MAX {
            let mut body = json!({
                "sorts": ["hs_lastmodifieddate"],
                "properties": properties,
                "limit": SEARCH_PAGE_MAX,
            });
            if let Some(ms) = from {
                body["filterGroups"] = json!([{"filters": [{
                    "propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": ms.to_string()}]}]);
            }
            if let Some(a) = &after {
                body["after"] = json!(a);
            }
            let v = self.call("POST", path, Some(&body))?;
            let results = v["results"].as_array().cloned().unwrap_or_default();
            read_in_query += results.len();
            for r in &results {
                if let Some(ms) = r["properties"]["hs_lastmodifieddate"]
                    .as_str()
                    .and_then(iso_ms)
                {
                    newest = Some(newest.map_or(ms, |n| n.max(ms)));
                }
            }
            let total = v["total"].as_u64().unwrap_or(0);
            let next = v["paging"]["next"]["after"].as_str().map(str::to_string);
            each(Page { results, total })?;
            match next {
                None => return Ok(newest),
                Some(_) if read_in_query + SEARCH_PAGE_MAX > SEARCH_RESULTS_MAX => {
                    // Search pages no further than 10,000 results: go on from the newest stamp
                    // read (records of that millisecond come again; upserts take them twice).
                    from = newest;
                    after = None;
                    read_in_query = 0;
                }
                Some(a) => after = Some(a),
            }
        }
        Err(anyhow!("a HubSpot search had more than {PAGES_MAX} pages"))
    }

    /// Each deal's company: the primary association, else the first.
    pub fn deal_companies(&self, deal_ids: &[String]) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for chunk in deal_ids.chunks(ASSOCIATIONS_BATCH_MAX) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({"id": id})).collect();
            let v = self.call(
                "POST",
                "/crm/v4/associations/deals/companies/batch/read",
                Some(&json!({"inputs": inputs})),
            )?;
            for r in v["results"].as_array().into_iter().flatten() {
                let Some(from) = r["from"]["id"].as_str() else {
                    continue;
                };
                let to = r["to"].as_array().cloned().unwrap_or_default();
                let primary = to.iter().find(|t| {
                    t["associationTypes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|a| a["typeId"].as_u64() == Some(DEAL_TO_PRIMARY_COMPANY))
                });
                if let Some(company) = primary
                    .or(to.first())
                    .and_then(|t| id_text(&t["toObjectId"]))
                {
                    out.insert(from.to_string(), company);
                }
            }
        }
        Ok(out)
    }

    /// Deals archived since `since_ms`: (id, archived at ms).
    pub fn archived_deals(&self, since_ms: Option<u64>) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..PAGES_MAX {
            let mut path = "/crm/v3/objects/deals?archived=true&limit=100".to_string();
            if let Some(a) = &after {
                path.push_str("&after=");
                path.extend(url::form_urlencoded::byte_serialize(a.as_bytes()));
            }
            let v = self.call("GET", &path, None)?;
            for r in v["results"].as_array().into_iter().flatten() {
                let (Some(id), Some(at)) =
                    (r["id"].as_str(), r["archivedAt"].as_str().and_then(iso_ms))
                else {
                    continue;
                };
                if since_ms.is_none_or(|s| at >= s) {
                    out.push((id.to_string(), at));
                }
            }
            match v["paging"]["next"]["after"].as_str() {
                Some(a) => after = Some(a.to_string()),
                None => return Ok(out),
            }
        }
        Err(anyhow!(
            "the archived deals had more than {PAGES_MAX} pages"
        ))
    }

    /// Writes `properties` into deal `id`.
    pub fn update_deal(&self, id: &str, properties: Value) -> Result<()> {
        check_id(id)?;
        self.call(
            "PATCH",
            &format!("/crm/v3/objects/deals/{id}"),
            Some(&json!({"properties": properties})),
        )
        .map(|_| ())
    }

    /// Adds a note with `text` to deal `id`.
    pub fn add_note(&self, id: &str, text: &str, now_iso: &str) -> Result<()> {
        check_id(id)?;
        let body = json!({
            "properties": {"hs_timestamp": now_iso, "hs_note_body": text},
            "associations": [{"to": {"id": id}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_DEAL}]}],
        });
        self.call("POST", "/crm/v3/objects/notes", Some(&body))
            .map(|_| ())
    }
}

fn check_id(id: &str) -> Result<()> {
    if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(anyhow!("'{id}' is not a HubSpot record id"))
    }
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A HubSpot object as a record for the engine (`companies`: the deal → company map).
pub fn record(
    object: Object,
    o: &Value,
    map: &FieldMap,
    stages: &StageMap,
    companies: &BTreeMap<String, String>,
) -> Record {
    let crm_id = o["id"].as_str().unwrap_or_default().to_string();
    let mapped = match object {
        Object::Account => &map.account,
        Object::Opportunity => &map.opportunity,
    };
    let props = &o["properties"];
    let mut r = Record {
        account_crm_id: companies.get(&crm_id).cloned(),
        crm_id,
        ..Record::default()
    };
    for (field, property) in mapped {
        let mut value = props[property.as_str()]
            .as_str()
            .map(str::to_string)
            .filter(|v| !v.is_empty());
        match *field {
            "stage" => value = value.map(|v| stages.label(&v)),
            // HubSpot dates are midnight UTC timestamps (`2026-03-31T00:00:00Z`).
            "close_date" => value = value.map(|v| v.get(..10).unwrap_or(&v).to_string()),
            _ => {}
        }
        r.values.push((field, value));
    }
    if object == Object::Opportunity && r.account_crm_id.is_none() {
        r.problem = Some((
            "associations.companies".to_string(),
            "the deal is associated with no company".to_string(),
        ));
    }
    r
}

/// `2026-03-01T10:00:00.123Z` → milliseconds since the epoch; `None` when not that shape.
pub fn iso_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let ms = match b.get(19) {
        Some(b'.') => {
            let digits: String = s[20..].chars().take_while(|c| c.is_ascii_digit()).collect();
            let padded = format!("{digits:0<3}");
            padded.get(..3)?.parse::<u64>().ok()?
        }
        _ => 0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3_600 + mm * 60 + ss) * 1_000) + ms)
}

/// Milliseconds since the epoch → `2026-03-01T10:00:00.123Z`.
pub fn ms_iso(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_timestamps_read_and_write_the_same_instant() {
        assert_eq!(iso_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(iso_ms("2026-03-01T10:00:00.123Z"), Some(1_772_359_200_123));
        assert_eq!(ms_iso(1_772_359_200_123), "2026-03-01T10:00:00.123Z");
        assert_eq!(iso_ms("yesterday"), None);
    }
}
