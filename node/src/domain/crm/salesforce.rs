//! Salesforce (REST API): OAuth 2.0 sign-in (JWT bearer flow with an RS256-signed assertion, or
//! the refresh-token flow), SOQL through `queryAll` ordered by `SystemModstamp` and paged by
//! `nextRecordsUrl`, deletes seen as `IsDeleted = true` rows of `queryAll`, write-back with a
//! PATCH of Opportunity fields or a Task on the opportunity.
//!
//! Errors as Salesforce sends them: a JSON array of `{"message", "errorCode"}`; an expired
//! session is `401 INVALID_SESSION_ID` (signed in again once, then a clear error); the org's
//! API budget spent is `403 REQUEST_LIMIT_EXCEEDED` (the sync stops and the schedule backs off).

use super::config::{Credentials, Secret};
use super::engine::{Object, Record};
use super::fields::FieldMap;
use super::remote::{self, Body, Failure};
use anyhow::{anyhow, Context, Result};
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::Duration;

/// The REST API version used.
pub const API_VERSION: &str = "v60.0";
/// Lifetime of a JWT assertion (Salesforce accepts at most 3 minutes).
const ASSERTION_SECS: u64 = 180;
/// Pages of one query read before giving up (2,000 records a page: 10 million records).
const PAGES_MAX: usize = 5_000;

/// A signed-in Salesforce session.
pub struct Salesforce {
    agent: ureq::Agent,
    login_url: String,
    credentials: Credentials,
    session: Option<Session>,
}

struct Session {
    access_token: Secret,
    instance_url: String,
}

/// A page of a query: the records, and how many the whole query has.
pub struct Page {
    /// The records, as Salesforce sent them.
    pub records: Vec<Value>,
    /// `totalSize`.
    pub total: u64,
}

fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> Failure {
    let (code, message) = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            let first = v.as_array()?.first()?.clone();
            Some((
                first["errorCode"].as_str().unwrap_or("").to_string(),
                first["message"].as_str().unwrap_or("").to_string(),
            ))
        })
        .or_else(|| {
            // The token endpoint answers `{"error", "error_description"}`.
            let v: Value = serde_json::from_str(body).ok()?;
            Some((
                v["error"].as_str()?.to_string(),
                v["error_description"].as_str().unwrap_or("").to_string(),
            ))
        })
        .unwrap_or_default();
    let text = if code.is_empty() {
        body.to_string()
    } else {
        format!("{code}: {message}")
    };
    match (status, code.as_str()) {
        (_, "REQUEST_LIMIT_EXCEEDED") => Failure::RateLimited {
            retry_after,
            message: text,
        },
        (401, _) | (_, "INVALID_SESSION_ID") => Failure::Unauthorized(text),
        _ => Failure::Refused {
            status,
            message: text,
        },
    }
}

impl Salesforce {
    /// A connector for the org behind `login_url`, not signed in yet.
    pub fn new(login_url: &str, credentials: Credentials) -> Self {
        Salesforce {
            agent: remote::agent(),
            login_url: login_url.trim_end_matches('/').to_string(),
            credentials,
            session: None,
        }
    }

    /// Signs in (again): the JWT bearer flow or the refresh-token flow.
    pub fn sign_in(&mut self, now_ms: u64) -> Result<()> {
        let url = format!("{}/services/oauth2/token", self.login_url);
        let request = self.agent.post(&url);
        let answer = match &self.credentials {
            Credentials::SalesforceJwt {
                client_id,
                username,
                private_key,
            } => {
                let audience = jwt_audience(&self.login_url);
                let assertion = jwt_assertion(client_id, username, &audience, private_key, now_ms)?;
                remote::send(
                    request,
                    Body::Form(&[
                        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                        ("assertion", &assertion),
                    ]),
                    classify,
                )
            }
            Credentials::SalesforceRefresh {
                client_id,
                client_secret,
                refresh_token,
            } => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("refresh_token", refresh_token.expose()),
                ];
                if let Some(s) = client_secret {
                    form.push(("client_secret", s.expose()));
                }
                remote::send(request, Body::Form(&form), classify)
            }
            Credentials::HubspotToken { .. } => {
                return Err(anyhow!("a HubSpot token cannot sign in to Salesforce"))
            }
        };
        let answer = answer.map_err(|e| sign_in_refused(&self.credentials, e))?;
        let token = answer["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("Salesforce sign-in answered without an access_token"))?;
        let instance = answer["instance_url"]
            .as_str()
            .ok_or_else(|| anyhow!("Salesforce sign-in answered without an instance_url"))?;
        self.session = Some(Session {
            access_token: Secret::new(token.to_string()),
            instance_url: instance.trim_end_matches('/').to_string(),
        });
        Ok(())
    }

    /// One API call on the instance, signed in again once when the session expired; rate
    /// limits end the call with [`Failure::RateLimited`] (the org's budget is daily: no point
    /// retrying within the sync).
    fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        now_ms: u64,
    ) -> Result<Value> {
        if self.session.is_none() {
            self.sign_in(now_ms)?;
        }
        for attempt in 0..2 {
            let s = self.session.as_ref().context("not signed in")?;
            let url = format!("{}{}", s.instance_url, path);
            let request = self.agent.request(method, &url).set(
                "Authorization",
                &format!("Bearer {}", s.access_token.expose()),
            );
            let body = match &body {
                Some(v) => Body::Json(v.clone()),
                None => Body::None,
            };
            match remote::send(request, body, classify) {
                Ok(v) => return Ok(v),
                Err(Failure::Unauthorized(why)) if attempt == 0 => {
                    tracing::info!(why = %why, "Salesforce session expired; signing in again");
                    self.sign_in(now_ms)?;
                }
                Err(Failure::Unauthorized(why)) => {
                    return Err(anyhow!(
                        "Salesforce refused the new session too ({why}); check the connected app and user, then run `cosell crm connect salesforce` again"
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Runs `soql` through `queryAll` and hands each page to `each`.
    pub fn query(
        &mut self,
        soql: &str,
        now_ms: u64,
        each: &mut dyn FnMut(Page) -> Result<()>,
    ) -> Result<()> {
        let mut path = format!(
            "/services/data/{API_VERSION}/queryAll/?q={}",
            url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>()
        );
        for _ in 0..PAGES_MAX {
            let page = self.call("GET", &path, None, now_ms)?;
            let records = page["records"]
                .as_array()
                .cloned()
                .ok_or_else(|| anyhow!("a Salesforce query answered without records"))?;
            let total = page["totalSize"].as_u64().unwrap_or(0);
            let done = page["done"].as_bool().unwrap_or(true);
            let next = page["nextRecordsUrl"].as_str().map(str::to_string);
            each(Page { records, total })?;
            match (done, next) {
                (false, Some(next)) => path = next,
                _ => return Ok(()),
            }
        }
        Err(anyhow!(
            "a Salesforce query had more than {PAGES_MAX} pages"
        ))
    }

    /// Writes `values` into Opportunity `id`.
    pub fn update_opportunity(&mut self, id: &str, values: Value, now_ms: u64) -> Result<()> {
        check_id(id)?;
        let path = format!("/services/data/{API_VERSION}/sobjects/Opportunity/{id}");
        self.call("PATCH", &path, Some(values), now_ms).map(|_| ())
    }

    /// Adds a completed Task with `text` on Opportunity `id`.
    pub fn add_task(&mut self, id: &str, text: &str, now_ms: u64) -> Result<()> {
        check_id(id)?;
        let path = format!("/services/data/{API_VERSION}/sobjects/Task");
        let body = json!({"WhatId": id, "Subject": "Co-sell update (cosell)", "Description": text,
                          "Status": "Completed", "Priority": "Normal"});
        self.call("POST", &path, Some(body), now_ms).map(|_| ())
    }
}

/// A failed sign-in as an error that says what to do: a refused JWT or refresh token needs the
/// admin (no retry helps), an unreachable server or a spent budget is the CRM's [`Failure`]
/// (kept in the chain, so the caller can tell them apart).
fn sign_in_refused(credentials: &Credentials, failure: Failure) -> anyhow::Error {
    match (credentials, &failure) {
        (_, Failure::Transport(_) | Failure::RateLimited { .. }) => {
            anyhow::Error::new(failure).context("Salesforce sign-in failed")
        }
        (Credentials::SalesforceRefresh { .. }, _) => anyhow!(
            "Salesforce refused the refresh token ({failure}): it was revoked or has expired; authorise the connected app again for a new refresh token and run `cosell crm connect salesforce --client-id ID --refresh-token-file FILE`"
        ),
        _ => anyhow!(
            "Salesforce refused the JWT sign-in ({failure}): check the consumer key, that the user is pre-authorised for the connected app and that the app holds the key's certificate, then run `cosell crm connect salesforce` again"
        ),
    }
}

fn check_id(id: &str) -> Result<()> {
    if (id.len() == 15 || id.len() == 18) && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(anyhow!("'{id}' is not a Salesforce record id"))
    }
}

/// The SOQL for one object's changes since `cursor` (a `SystemModstamp`), oldest first;
/// `with_deleted` keeps deleted rows (incremental syncs see deletes that way).
pub fn soql(object: Object, map: &FieldMap, cursor: Option<&str>, with_deleted: bool) -> String {
    let (table, mapped) = match object {
        Object::Account => ("Account", &map.account),
        Object::Opportunity => ("Opportunity", &map.opportunity),
    };
    let mut fields: Vec<&str> = vec!["Id", "SystemModstamp", "IsDeleted"];
    if object == Object::Opportunity {
        fields.push("AccountId");
    }
    for (_, f) in mapped {
        if !fields.contains(&f.as_str()) {
            fields.push(f);
        }
    }
    let mut conditions = Vec::new();
    if let Some(c) = cursor.and_then(soql_datetime) {
        conditions.push(format!("SystemModstamp >= {c}"));
    }
    if !with_deleted {
        conditions.push("IsDeleted = false".to_string());
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    format!(
        "SELECT {} FROM {table}{filter} ORDER BY SystemModstamp ASC, Id ASC",
        fields.join(", ")
    )
}

/// `2026-03-01T10:00:00.000+0000` (as Salesforce returns it) → `2026-03-01T10:00:00Z` (as SOQL
/// takes it; the second is read again with `>=`, which an upsert takes twice harmlessly).
fn soql_datetime(stamp: &str) -> Option<String> {
    let head = stamp.get(..19)?;
    let ok = head.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    ok.then(|| format!("{head}Z"))
}

/// A field of a Salesforce record by dotted name (`Owner.Name`), as text.
pub fn field_text(record: &Value, name: &str) -> Option<String> {
    let mut v = record;
    for part in name.split('.') {
        v = v.get(part)?;
    }
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A Salesforce row as a record for the engine.
pub fn record(object: Object, row: &Value, map: &FieldMap, stages: &super::StageMap) -> Record {
    let crm_id = row["Id"].as_str().unwrap_or_default().to_string();
    let mapped = match object {
        Object::Account => &map.account,
        Object::Opportunity => &map.opportunity,
    };
    let mut r = Record {
        crm_id,
        account_crm_id: row["AccountId"].as_str().map(str::to_string),
        ..Record::default()
    };
    for (field, crm) in mapped {
        let mut value = field_text(row, crm);
        if *field == "stage" {
            value = value.map(|v| stages.label(&v));
        }
        r.values.push((field, value));
    }
    if object == Object::Opportunity && r.account_crm_id.is_none() {
        r.problem = Some((
            "AccountId".to_string(),
            "the opportunity has no account".to_string(),
        ));
    }
    r
}

/// The RS256-signed JWT bearer assertion: `iss` the consumer key, `sub` the user, `aud` the
/// login server, `exp` three minutes on.
pub fn jwt_assertion(
    client_id: &str,
    username: &str,
    audience: &str,
    private_key_pem: &Secret,
    now_ms: u64,
) -> Result<String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = json!({"iss": client_id, "sub": username, "aud": audience,
                        "exp": now_ms / 1000 + ASSERTION_SECS});
    let claims = b64.encode(serde_json::to_vec(&claims)?);
    let signing_input = format!("{header}.{claims}");
    let der = pkcs8_der(private_key_pem.expose())?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .map_err(|e| anyhow!("the private key is not an RSA PKCS#8 key: {e}"))?;
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| anyhow!("cannot sign the JWT assertion"))?;
    Ok(format!("{signing_input}.{}", b64.encode(signature)))
}

/// The JWT's `aud`: Salesforce takes its login servers there, also when the token is asked
/// of a My Domain (`https://acme.my.salesforce.com`: `https://login.salesforce.com`; a sandbox's
/// `….sandbox.my.salesforce.com`: `https://test.salesforce.com`); any other server (an
/// Experience Cloud site, a test double) is its own audience.
fn jwt_audience(login_url: &str) -> String {
    let host = url::Url::parse(login_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    if host.ends_with(".sandbox.my.salesforce.com") {
        "https://test.salesforce.com".to_string()
    } else if host.ends_with(".my.salesforce.com") {
        "https://login.salesforce.com".to_string()
    } else {
        login_url.to_string()
    }
}

/// The DER bytes of a `-----BEGIN PRIVATE KEY-----` PEM.
fn pkcs8_der(pem: &str) -> Result<Vec<u8>> {
    let mut reader = std::io::BufReader::new(pem.as_bytes());
    for item in rustls_pemfile::read_all(&mut reader) {
        if let Ok(rustls_pemfile::Item::Pkcs8Key(key)) = item {
            return Ok(key.secret_pkcs8_der().to_vec());
        }
    }
    Err(anyhow!(
        "the private key file holds no PKCS#8 key (-----BEGIN PRIVATE KEY-----); convert one with `openssl pkcs8 -topk8 -nocrypt`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_soql_reads_deleted_rows_from_the_cursor_second() {
        let map =
            super::super::fields::field_map(super::super::Vendor::Salesforce, &Default::default())
                .unwrap();
        let q = soql(
            Object::Opportunity,
            &map,
            Some("2026-03-01T10:00:00.000+0000"),
            true,
        );
        assert!(q.starts_with("SELECT Id, SystemModstamp, IsDeleted, AccountId, Name, StageName"));
        assert!(q.contains("WHERE SystemModstamp >= 2026-03-01T10:00:00Z ORDER BY"));
        let initial = soql(Object::Account, &map, None, false);
        assert!(initial.contains("FROM Account WHERE IsDeleted = false ORDER BY"));
    }

    #[test]
    fn a_my_domain_signs_its_assertion_for_the_login_server() {
        assert_eq!(
            jwt_audience("https://acme.my.salesforce.com"),
            "https://login.salesforce.com"
        );
        assert_eq!(
            jwt_audience("https://acme--uat.sandbox.my.salesforce.com"),
            "https://test.salesforce.com"
        );
        assert_eq!(
            jwt_audience("https://login.salesforce.com"),
            "https://login.salesforce.com"
        );
    }

    #[test]
    fn relationship_fields_read_through_the_dots() {
        let row =
            json!({"Owner": {"attributes": {"type": "User"}, "Name": "Ana"}, "Amount": 1200.5});
        assert_eq!(field_text(&row, "Owner.Name").as_deref(), Some("Ana"));
        assert_eq!(field_text(&row, "Amount").as_deref(), Some("1200.5"));
        assert_eq!(field_text(&row, "Missing.Name"), None);
    }
}
