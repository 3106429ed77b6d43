//! What a CRM connection is made of, as stored: the connection (`crm.json`, mode 0600, holding
//! the secret) and the sync state (`crm-state.json`, cursors, counts, failures). Both live in
//! the data directory, written atomically; neither is ever returned whole by the API (the
//! secret never is: [`Secret`]'s `Debug` hides it, and [`Connection::public_json`] leaves it out).

use super::Vendor;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The connection file in the data directory.
pub const CONNECTION_FILE: &str = "crm.json";
/// The sync state file in the data directory.
pub const STATE_FILE: &str = "crm-state.json";
/// Bad records kept for `crm status` (the newest); the rest are counted.
pub const FAILURES_KEPT_MAX: usize = 100;
/// Shortest schedule: a CRM's API budget is daily, and a sync reads every change since the
/// last one anyway.
pub const INTERVAL_SECS_MIN: u64 = 1;
/// Default schedule: every 5 minutes.
pub const INTERVAL_SECS_DEFAULT: u64 = 300;

/// A credential. Its `Debug` never shows the value, so it cannot reach a log line by accident.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    /// The credential, for the one request header or form field that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// How the node signs in to the CRM.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credentials {
    /// Salesforce OAuth 2.0 JWT bearer flow: a connected app's consumer key, the user to act
    /// as, and the PEM (PKCS#8) private key whose certificate the app holds.
    SalesforceJwt {
        /// The connected app's consumer key (`iss`).
        client_id: String,
        /// The Salesforce username (`sub`).
        username: String,
        /// The RSA private key, PEM.
        private_key: Secret,
    },
    /// Salesforce OAuth 2.0 refresh-token flow.
    SalesforceRefresh {
        /// The connected app's consumer key.
        client_id: String,
        /// The consumer secret, when the app requires it.
        client_secret: Option<Secret>,
        /// The refresh token.
        refresh_token: Secret,
    },
    /// A HubSpot private app's access token.
    HubspotToken {
        /// The token (`pat-…`).
        token: Secret,
    },
}

/// What to write back to the CRM for a deal shared from one of its opportunities.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WriteBack {
    /// Co-sell fact → the CRM field (Salesforce Opportunity field, HubSpot deal property).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Also (or only) record the facts as a Salesforce Task / HubSpot note on the record.
    #[serde(default)]
    pub activity: bool,
}

/// The co-sell facts a write-back can carry, with what each holds.
pub const FACTS: &[(&str, &str)] = &[
    ("partners", "the partners the deal is shared with"),
    (
        "partner_status",
        "each partner's answer: invited, accepted, declined, expired",
    ),
    ("partner_stages", "each partner's own stage of the deal"),
    (
        "attribution",
        "the agreed attribution (sourced by, influenced by)",
    ),
    ("registration", "the deal registration's status"),
];

/// One CRM connection, as `crm.json` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Connection {
    /// Which CRM.
    pub vendor: Vendor,
    /// Salesforce: the login server (`https://login.salesforce.com`, a My Domain or a test
    /// server). HubSpot: the API server (`https://api.hubapi.com`).
    pub base_url: String,
    /// How to sign in.
    pub credentials: Credentials,
    /// Seconds between scheduled syncs.
    pub interval_secs: u64,
    /// Field mapping over the defaults: `opportunity.next_step` → `Next_Step__c`; an empty
    /// value unmaps the field.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Stage mapping over the CSV import's table: CRM stage label (or HubSpot stage id) → ACE
    /// stage.
    #[serde(default)]
    pub stages: BTreeMap<String, String>,
    /// Write-back of co-sell facts.
    #[serde(default)]
    pub write_back: WriteBack,
    /// When it was connected (ms).
    pub connected_at_ms: u64,
}

impl Connection {
    /// The connection as the API shows it: everything but the credential's secret part.
    pub fn public_json(&self) -> serde_json::Value {
        let auth = match &self.credentials {
            Credentials::SalesforceJwt {
                client_id,
                username,
                ..
            } => serde_json::json!({"flow": "jwt", "client_id": client_id, "username": username}),
            Credentials::SalesforceRefresh { client_id, .. } => {
                serde_json::json!({"flow": "refresh_token", "client_id": client_id})
            }
            Credentials::HubspotToken { .. } => serde_json::json!({"flow": "private_app_token"}),
        };
        serde_json::json!({
            "vendor": self.vendor.as_str(),
            "base_url": self.base_url,
            "auth": auth,
            "interval_secs": self.interval_secs,
            "fields": self.fields,
            "stages": self.stages,
            "write_back": {"fields": self.write_back.fields, "activity": self.write_back.activity},
        })
    }
}

/// A CRM record that could not be taken, as `crm status` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failure {
    /// `account`, `opportunity` or `write_back`.
    pub object: String,
    /// The record's id in the CRM.
    pub crm_id: String,
    /// The CRM field at fault (empty when the record as a whole is).
    pub field: String,
    /// Why.
    pub message: String,
    /// When (ms).
    pub at_ms: u64,
}

/// Record counts of a connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Accounts created or changed from the CRM.
    pub accounts: u64,
    /// Opportunities created or changed from the CRM.
    pub opportunities: u64,
    /// Opportunities deleted because the CRM deleted them.
    pub deleted: u64,
    /// Records refused (each listed in `failures`, the newest first).
    pub failed: u64,
    /// Write-backs done.
    pub written_back: u64,
}

/// The sync state, `crm-state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Newest modification stamp taken, per object (`account`, `opportunity`, `deleted`), in
    /// the CRM's own format.
    #[serde(default)]
    pub cursors: BTreeMap<String, String>,
    /// Whether the initial load finished.
    #[serde(default)]
    pub initial_done: bool,
    /// Totals since the connection was made.
    #[serde(default)]
    pub counts: Counts,
    /// When the last sync ended (ms), successfully or not.
    pub last_sync_at_ms: Option<u64>,
    /// When the last successful sync ended (ms).
    pub last_success_at_ms: Option<u64>,
    /// Why the last sync failed; `None` after a success.
    pub last_error: Option<String>,
    /// Syncs failed in a row (the backoff's exponent).
    #[serde(default)]
    pub failures_in_row: u32,
    /// The newest refused records.
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// The facts last written back, per CRM opportunity id, to write only what changed.
    #[serde(default)]
    pub written: BTreeMap<String, String>,
}

impl State {
    /// Records a refused record (newest first, at most [`FAILURES_KEPT_MAX`]).
    pub fn fail(&mut self, failure: Failure) {
        self.counts.failed += 1;
        self.failures.insert(0, failure);
        self.failures.truncate(FAILURES_KEPT_MAX);
    }
}

/// Reads a JSON file of the data directory; `None` when it does not exist.
pub fn read<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> Result<Option<T>> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).with_context(|| format!("cannot read {name}"))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {name}")),
    }
}

/// Writes a JSON file of the data directory atomically with mode 0600 (a temporary file,
/// fsynced, renamed over the old one).
pub fn write<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let tmp: PathBuf = dir.join(format!(".{name}.tmp"));
    let bytes = serde_json::to_vec_pretty(value)?;
    // A temporary file left by a crash is removed; the new one is created new, never through
    // a link planted at its path (as `app::datadir` writes the key files).
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .with_context(|| format!("cannot write {name}"))?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {name}"))?;
    Ok(())
}

/// Removes a file of the data directory (absent is fine).
pub fn remove(dir: &Path, name: &str) -> Result<()> {
    match std::fs::remove_file(dir.join(name)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {name}")),
    }
}
