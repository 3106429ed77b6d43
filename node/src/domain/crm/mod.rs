//! CRM connectors: this node's pipeline flows in live from Salesforce or HubSpot, and the
//! co-sell status of what it shares flows back. One connection per node.
//!
//! - `salesforce`, `hubspot`: one module per vendor (sign-in, paging, deletes, write-back,
//!   each CRM's error bodies and rate limits).
//! - `engine`: records → the CSV import's rows → `Deals::write_records`, one transaction per
//!   page; a bad record is refused with its CRM id and field and the rest of the page written.
//! - `fields`: the field mapping (defaults = the CSV import's Salesforce and HubSpot aliases).
//! - `writeback`: a deal's co-sell facts for the CRM record it came from.
//! - `config`: `crm.json` (0600, with the secret) and `crm-state.json` (cursors, counts).
//! - `remote`: the blocking HTTP agent and the failure kinds.
//!
//! [`Crm`] is the service: `connect`, `disconnect`, `status`, `request_sync`, and a schedule
//! task (`spawn_schedule`) that syncs every `interval_secs`, backs off after a failure
//! (doubling, at most [`BACKOFF_SECS_MAX`]), and writes back soon after a deal changes.

pub mod config;
mod engine;
pub mod fields;
mod hubspot;
mod remote;
mod salesforce;
mod writeback;

pub use config::{Connection, Credentials, Secret, WriteBack, FACTS};
pub use hubspot::{iso_ms, ms_iso};

use crate::clock::Clock;
use crate::domain::audit;
use crate::domain::deals::Deals;
use crate::domain::error::DomainError;
use crate::domain::events::{EventBus, EventKind};
use crate::net::NetHandle;
use crate::store::shared::AuditKind;
use anyhow::{anyhow, Result};
use config::{Failure, State, CONNECTION_FILE, STATE_FILE};
use engine::{apply_page, Object, Record};
use protocol::deal::DealId;
use protocol::records::Currency;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The longest wait between retries after failed syncs.
pub const BACKOFF_SECS_MAX: u64 = 3_600;
/// How soon after a deal change the co-sell facts are written back (changes in a burst go in
/// one pass).
pub const WRITE_BACK_DELAY_MS: u64 = 500;

/// Which CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    /// Salesforce (REST API).
    Salesforce,
    /// HubSpot (CRM v3).
    Hubspot,
}

impl Vendor {
    /// The name in the API and CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Salesforce => "salesforce",
            Vendor::Hubspot => "hubspot",
        }
    }
    /// The default server: Salesforce's login server, HubSpot's API.
    pub fn default_url(self) -> &'static str {
        match self {
            Vendor::Salesforce => "https://login.salesforce.com",
            Vendor::Hubspot => "https://api.hubapi.com",
        }
    }
}

/// Stage mapping: the connection's own table first, then (HubSpot) the pipeline stage's label,
/// then the CSV import's table (`import::map_stage`), then (HubSpot) a closed stage's outcome.
pub struct StageMap {
    custom: BTreeMap<String, String>,
    hubspot: BTreeMap<String, (String, Option<&'static str>)>,
}

impl StageMap {
    fn new(custom: &BTreeMap<String, String>) -> Self {
        StageMap {
            custom: custom
                .iter()
                .map(|(k, v)| (k.to_lowercase(), v.clone()))
                .collect(),
            hubspot: BTreeMap::new(),
        }
    }

    /// The stage text the import reads for a CRM stage value.
    pub fn label(&self, value: &str) -> String {
        if let Some(ace) = self.custom.get(&value.to_lowercase()) {
            return ace.clone();
        }
        let Some((label, guess)) = self.hubspot.get(value) else {
            return value.to_string();
        };
        if let Some(ace) = self.custom.get(&label.to_lowercase()) {
            return ace.clone();
        }
        if crate::import::map_stage(label).is_ok() || crate::import::map_stage(value).is_ok() {
            return if crate::import::map_stage(label).is_ok() {
                label.clone()
            } else {
                value.to_string()
            };
        }
        guess.map_or_else(|| label.clone(), str::to_string)
    }
}

/// What a sync is doing now, for `crm status` and the UI's progress bar.
#[derive(Debug, Clone, Default)]
struct Live {
    running: bool,
    /// A sync was asked for (`crm sync`) and has not started yet: one asked for while another
    /// runs starts when that one ends (it may have read the CRM before the change the user
    /// wants), and the status says `syncing` until it has run.
    requested: bool,
    object: Option<&'static str>,
    done: u64,
    total: u64,
    next_run_ms: Option<u64>,
}

/// The CRM connection service.
pub struct Crm {
    dir: PathBuf,
    deals: Arc<Deals>,
    net: NetHandle,
    clock: Clock,
    default_currency: Currency,
    live: Mutex<Live>,
    wake: tokio::sync::Notify,
    /// Held for the whole of a sync (and by connect/disconnect): one at a time.
    running: Mutex<()>,
    /// Set by `disconnect`: a running sync stops after its current page.
    cancel: std::sync::atomic::AtomicBool,
}

/// What a connect request carries (the HTTP layer parses JSON into it).
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// Which CRM.
    pub vendor: Vendor,
    /// Login server (Salesforce) or API server (HubSpot); `None` = the vendor's default.
    pub base_url: Option<String>,
    /// How to sign in.
    pub credentials: Credentials,
    /// Seconds between syncs.
    pub interval_secs: Option<u64>,
    /// Field mapping over the defaults.
    pub fields: BTreeMap<String, String>,
    /// Stage mapping over the import's table.
    pub stages: BTreeMap<String, String>,
    /// Write-back settings.
    pub write_back: WriteBack,
}

impl Crm {
    /// The service for the node whose data directory is `dir`.
    pub fn new(
        dir: PathBuf,
        deals: Arc<Deals>,
        net: NetHandle,
        clock: Clock,
        default_currency: Currency,
    ) -> Arc<Self> {
        Arc::new(Crm {
            dir,
            deals,
            net,
            clock,
            default_currency,
            live: Mutex::new(Live::default()),
            wake: tokio::sync::Notify::new(),
            running: Mutex::new(()),
            cancel: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connection(&self) -> Result<Option<Connection>> {
        config::read(&self.dir, CONNECTION_FILE)
    }

    fn state(&self) -> Result<State> {
        Ok(config::read(&self.dir, STATE_FILE)?.unwrap_or_default())
    }

    /// Checks `request`, signs in to the CRM with it (so bad credentials are refused now, not
    /// at the first sync), stores it (0600) with a fresh sync state, audits it (never the
    /// secret), and starts the initial load. Blocking.
    pub fn connect(&self, request: ConnectRequest) -> Result<Value, DomainError> {
        let now_ms = self.clock.now_ms();
        let base_url = request
            .base_url
            .clone()
            .unwrap_or_else(|| request.vendor.default_url().to_string());
        let mut problems = Vec::new();
        match url::Url::parse(&base_url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => {}
            _ => problems.push((
                "base_url".to_string(),
                format!("'{base_url}' is not an http(s) URL"),
            )),
        }
        let credentials_fit = matches!(
            (request.vendor, &request.credentials),
            (Vendor::Salesforce, Credentials::SalesforceJwt { .. })
                | (Vendor::Salesforce, Credentials::SalesforceRefresh { .. })
                | (Vendor::Hubspot, Credentials::HubspotToken { .. })
        );
        if !credentials_fit {
            problems.push((
                "auth".to_string(),
                format!(
                    "{} takes {}",
                    request.vendor.as_str(),
                    match request.vendor {
                        Vendor::Salesforce => "a JWT (client_id, username, private_key) or a refresh token (client_id, refresh_token)",
                        Vendor::Hubspot => "a private app token",
                    }
                ),
            ));
        }
        let interval_secs = request
            .interval_secs
            .unwrap_or(config::INTERVAL_SECS_DEFAULT);
        if interval_secs < config::INTERVAL_SECS_MIN {
            problems.push((
                "interval_secs".to_string(),
                format!("must be at least {}", config::INTERVAL_SECS_MIN),
            ));
        }
        if let Err(p) = fields::field_map(request.vendor, &request.fields) {
            problems.extend(p);
        }
        for (label, ace) in &request.stages {
            if ace.parse::<protocol::records::Stage>().is_err() {
                problems.push((
                    format!("stages.{label}"),
                    format!("'{ace}' is not an ACE stage (prospect, qualified, technical_validation, business_validation, committed, launched, closed_lost)"),
                ));
            }
        }
        for (fact, field) in &request.write_back.fields {
            if !FACTS.iter().any(|(f, _)| f == fact) {
                let known: Vec<&str> = FACTS.iter().map(|(f, _)| *f).collect();
                problems.push((
                    format!("write_back.fields.{fact}"),
                    format!("'{fact}' is not a co-sell fact ({})", known.join(", ")),
                ));
            } else if !fields::is_field_name(field) {
                problems.push((
                    format!("write_back.fields.{fact}"),
                    format!("'{field}' is not a CRM field name (letters, digits, _ and . only)"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(DomainError::InvalidFields(problems));
        }
        let connection = Connection {
            vendor: request.vendor,
            base_url,
            credentials: request.credentials,
            interval_secs,
            fields: request.fields,
            stages: request.stages,
            write_back: request.write_back,
            connected_at_ms: now_ms,
        };
        let _one = self.running.lock().unwrap_or_else(|e| e.into_inner());
        // A refused sign-in or an unreachable server is a value of the request that does not
        // work (422 naming it), not a fault of this node.
        check_sign_in(&connection, now_ms).map_err(|e| {
            let unreachable = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<remote::Failure>(),
                    Some(remote::Failure::Transport(_))
                )
            });
            let field = if unreachable { "base_url" } else { "auth" };
            DomainError::InvalidFields(vec![(
                field.to_string(),
                format!(
                    "{} refused the connection: {e:#}",
                    connection.vendor.as_str()
                ),
            )])
        })?;
        config::write(&self.dir, CONNECTION_FILE, &connection)?;
        config::write(&self.dir, STATE_FILE, &State::default())?;
        audit::record(
            self.deals.store(),
            now_ms,
            AuditKind::Access,
            None,
            format!(
                "connected the CRM ({}, {})",
                connection.vendor.as_str(),
                connection.base_url
            ),
            json!({"event": "crm_connected", "connection": connection.public_json()}),
        )?;
        drop(_one);
        self.live().next_run_ms = Some(now_ms);
        self.wake.notify_one();
        Ok(self.status()?)
    }

    /// Forgets the connection, its secret and its sync state. The records it brought stay.
    pub fn disconnect(&self) -> Result<(), DomainError> {
        let now_ms = self.clock.now_ms();
        // A running sync stops after its page (each page is whole), then the files go.
        self.cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        let _one = self.running.lock().unwrap_or_else(|e| e.into_inner());
        self.cancel
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let Some(connection) = self.connection()? else {
            return Err(DomainError::NotFound("no CRM is connected".to_string()));
        };
        config::remove(&self.dir, CONNECTION_FILE)?;
        config::remove(&self.dir, STATE_FILE)?;
        *self.live() = Live::default();
        audit::record(
            self.deals.store(),
            now_ms,
            AuditKind::Access,
            None,
            format!("disconnected the CRM ({})", connection.vendor.as_str()),
            json!({"event": "crm_disconnected", "vendor": connection.vendor.as_str()}),
        )?;
        Ok(())
    }

    /// The connection (without its secret), the last sync, counts, the next run, the last
    /// error, the newest refused records and a running sync's progress.
    pub fn status(&self) -> Result<Value> {
        let Some(connection) = self.connection()? else {
            return Ok(json!({"connected": false}));
        };
        let state = self.state()?;
        let live = self.live().clone();
        let at = |ms: Option<u64>| ms.map(audit::rfc3339);
        let progress = live
            .object
            .filter(|_| live.running)
            .map(|o| json!({"object": o, "done": live.done, "total": live.total}));
        let failures: Vec<Value> = state
            .failures
            .iter()
            .map(|f| {
                json!({"object": f.object, "crm_id": f.crm_id, "field": f.field,
                            "message": f.message, "at": audit::rfc3339(f.at_ms)})
            })
            .collect();
        Ok(json!({
            "connected": true,
            "vendor": connection.vendor.as_str(),
            "connection": connection.public_json(),
            "connected_at": audit::rfc3339(connection.connected_at_ms),
            "state": if live.running || live.requested { "syncing" } else if state.failures_in_row > 0 { "backing_off" } else { "idle" },
            "initial_load_done": state.initial_done,
            "last_sync_at": at(state.last_sync_at_ms),
            "last_success_at": at(state.last_success_at_ms),
            "next_run_at": at(live.next_run_ms.filter(|_| !live.running)),
            "last_error": state.last_error,
            "counts": {
                "accounts": state.counts.accounts, "opportunities": state.counts.opportunities,
                "deleted": state.counts.deleted, "failed": state.counts.failed,
                "written_back": state.counts.written_back,
            },
            "progress": progress,
            "failures": failures,
        }))
    }

    /// Asks the schedule for a sync now; `Ok(false)` when none is connected.
    pub fn request_sync(&self) -> Result<bool> {
        if self.connection()?.is_none() {
            return Ok(false);
        }
        {
            let mut live = self.live();
            live.next_run_ms = Some(self.clock.now_ms());
            live.requested = true;
        }
        self.wake.notify_one();
        Ok(true)
    }

    /// Starts the schedule: a sync at each `next_run`, on request, and a write-back pass soon
    /// after a deal changes. Returns the tasks, for the node to stop them (a hosted
    /// workspace that is suspended must let go of its store).
    pub fn spawn_schedule(
        self: &Arc<Self>,
        events: Arc<EventBus>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let crm = self.clone();
        let mut rx = events.subscribe();
        let watcher = self.clone();
        let write_back = tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) if is_deal_event(e.kind) => {
                        tokio::time::sleep(std::time::Duration::from_millis(WRITE_BACK_DELAY_MS))
                            .await;
                        // A burst of events is one pass.
                        while rx.try_recv().is_ok() {}
                        let w = watcher.clone();
                        let _ = tokio::task::spawn_blocking(move || w.write_back_pass()).await;
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        });
        let schedule = tokio::spawn(async move {
            {
                let now = crm.clock.now_ms();
                crm.live().next_run_ms = Some(now);
            }
            loop {
                let wait_ms = {
                    let live = crm.live();
                    live.next_run_ms
                        .map(|n| n.saturating_sub(crm.clock.now_ms()))
                        .unwrap_or(60_000)
                };
                if wait_ms > 0 {
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_millis(wait_ms)) => {}
                        _ = crm.wake.notified() => {}
                    }
                    let due = crm
                        .live()
                        .next_run_ms
                        .is_some_and(|n| n <= crm.clock.now_ms());
                    if !due {
                        continue;
                    }
                }
                let c = crm.clone();
                let changed = tokio::task::spawn_blocking(move || c.sync_once())
                    .await
                    .unwrap_or_default();
                if !changed.is_empty() {
                    let _ = crm.net.sync(changed).await;
                }
            }
        });
        vec![write_back, schedule]
    }

    /// One sync, its outcome recorded; returns the deals it changed. Blocking.
    fn sync_once(&self) -> Vec<DealId> {
        let _one = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let Ok(Some(connection)) = self.connection() else {
            let mut live = self.live();
            live.next_run_ms = None;
            live.requested = false;
            return Vec::new();
        };
        let mut state = self.state().unwrap_or_default();
        {
            let mut live = self.live();
            live.running = true;
            live.requested = false;
            live.object = None;
            live.done = 0;
            live.total = 0;
        }
        let mut changed = Vec::new();
        let outcome = self.sync(&connection, &mut state, &mut changed);
        let now_ms = self.clock.now_ms();
        state.last_sync_at_ms = Some(now_ms);
        let next_secs = match &outcome {
            Ok(()) => {
                state.last_success_at_ms = Some(now_ms);
                state.last_error = None;
                state.failures_in_row = 0;
                connection.interval_secs
            }
            Err(e) => {
                let sentence = format!("{e:#}");
                tracing::warn!(vendor = connection.vendor.as_str(), error = %sentence, "CRM sync failed");
                state.last_error = Some(sentence);
                state.failures_in_row = state.failures_in_row.saturating_add(1);
                let doubled = connection
                    .interval_secs
                    .saturating_mul(1u64 << state.failures_in_row.min(20));
                doubled
                    .min(BACKOFF_SECS_MAX)
                    .max(connection.interval_secs.min(BACKOFF_SECS_MAX))
            }
        };
        // A disconnect while syncing is waited for (`running`), so the connection is still
        // the one this sync began with.
        if let Err(e) = config::write(&self.dir, STATE_FILE, &state) {
            tracing::error!(error = %format!("{e:#}"), "cannot save the CRM sync state");
        }
        let mut live = self.live();
        live.running = false;
        live.next_run_ms = Some(if live.requested {
            now_ms
        } else {
            now_ms + next_secs * 1000
        });
        changed
    }

    fn sync(&self, c: &Connection, state: &mut State, changed: &mut Vec<DealId>) -> Result<()> {
        let map = fields::field_map(c.vendor, &c.fields)
            .map_err(|p| anyhow!("the field mapping is wrong: {}", p[0].1))?;
        let mut stages = StageMap::new(&c.stages);
        match (&c.vendor, &c.credentials) {
            (Vendor::Salesforce, creds) => {
                let mut sf = salesforce::Salesforce::new(&c.base_url, creds.clone());
                self.sync_salesforce(&mut sf, &map, &stages, state, changed)?;
                self.write_back(c, state, &mut Target::Salesforce(&mut sf))?;
            }
            (Vendor::Hubspot, Credentials::HubspotToken { token }) => {
                let hs = hubspot::Hubspot::new(&c.base_url, token.clone());
                stages.hubspot = hs.stages()?;
                self.sync_hubspot(&hs, &map, &stages, state, changed)?;
                self.write_back(c, state, &mut Target::Hubspot(&hs))?;
            }
            (Vendor::Hubspot, _) => return Err(anyhow!("HubSpot needs a private app token")),
        }
        state.initial_done = true;
        Ok(())
    }

    /// Applies one page; counts, failures and the deals it changed are recorded.
    fn take_page(
        &self,
        object: Object,
        records: &[Record],
        map: &fields::FieldMap,
        state: &mut State,
        changed: &mut Vec<DealId>,
    ) -> Result<()> {
        if self.cancel.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(anyhow!("the CRM was disconnected during the sync"));
        }
        let now_ms = self.clock.now_ms();
        let applied = apply_page(
            &self.deals,
            object,
            records,
            map,
            self.default_currency,
            now_ms,
        )?;
        match object {
            Object::Account => state.counts.accounts += applied.written,
            Object::Opportunity => state.counts.opportunities += applied.written,
        }
        for f in applied.refused {
            tracing::warn!(object = %f.object, crm_id = %f.crm_id, field = %f.field, why = %f.message, "CRM record refused");
            state.fail(f);
        }
        self.push(applied.changed_deals, changed);
        let mut live = self.live();
        live.object = Some(object.as_str());
        live.done += records.len() as u64;
        Ok(())
    }

    /// Offers changed deals to their participants now (from a blocking thread), keeping the
    /// list for the end of the sync when no runtime is at hand.
    fn push(&self, deals: Vec<DealId>, changed: &mut Vec<DealId>) {
        if deals.is_empty() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let _ = handle.block_on(self.net.sync(deals));
            }
            Err(_) => changed.extend(deals),
        }
    }

    /// Deletes the opportunities (or accounts) the CRM deleted; one the node cannot delete (a
    /// live deal was shared from it) is a refused record naming why.
    fn delete(&self, object: Object, crm_ids: &[String], state: &mut State) -> Result<()> {
        let now_ms = self.clock.now_ms();
        for crm_id in crm_ids {
            let Some(id) = self.local_id(object, crm_id)? else {
                continue;
            };
            let outcome = match object {
                Object::Opportunity => {
                    crate::domain::records::delete_opportunity(&self.deals, &id, now_ms)
                }
                Object::Account => crate::domain::records::delete_account(&self.deals, &id, now_ms),
            };
            match outcome {
                Ok(_) => state.counts.deleted += 1,
                Err(e) => state.fail(Failure {
                    object: object.as_str().to_string(),
                    crm_id: crm_id.clone(),
                    field: "IsDeleted".to_string(),
                    message: format!("deleted in the CRM but kept here: {e}"),
                    at_ms: now_ms,
                }),
            }
        }
        Ok(())
    }

    fn local_id(&self, object: Object, crm_id: &str) -> Result<Option<String>> {
        let store = self.deals.store();
        let txn = store.write()?;
        let tables = crate::store::WriteTables::open(&txn)?;
        let id = match object {
            Object::Opportunity => tables.opportunity_id_by_external(crm_id)?,
            Object::Account => tables.account_id_by_external(crm_id)?,
        };
        drop(tables);
        txn.abort()?;
        Ok(id)
    }

    fn sync_salesforce(
        &self,
        sf: &mut salesforce::Salesforce,
        map: &fields::FieldMap,
        stages: &StageMap,
        state: &mut State,
        changed: &mut Vec<DealId>,
    ) -> Result<()> {
        let mut deleted_accounts = Vec::new();
        for object in [Object::Account, Object::Opportunity] {
            let key = object.as_str();
            let since = state.cursors.get(key).cloned();
            let soql = salesforce::soql(object, map, since.as_deref(), state.initial_done);
            let now_ms = self.clock.now_ms();
            sf.query(&soql, now_ms, &mut |page| {
                self.live().total = page.total;
                let (gone, live): (Vec<&Value>, Vec<&Value>) = page
                    .records
                    .iter()
                    .partition(|r| r["IsDeleted"].as_bool() == Some(true));
                let records: Vec<Record> = live
                    .iter()
                    .map(|r| salesforce::record(object, r, map, stages))
                    .collect();
                self.take_page(object, &records, map, state, changed)?;
                let gone: Vec<String> = gone
                    .iter()
                    .filter_map(|r| r["Id"].as_str().map(str::to_string))
                    .collect();
                match object {
                    Object::Opportunity => self.delete(object, &gone, state)?,
                    Object::Account => deleted_accounts.extend(gone),
                }
                if let Some(stamp) = page
                    .records
                    .last()
                    .and_then(|r| r["SystemModstamp"].as_str())
                {
                    state.cursors.insert(key.to_string(), stamp.to_string());
                }
                config::write(&self.dir, STATE_FILE, &*state)
            })?;
        }
        self.delete(Object::Account, &deleted_accounts, state)
    }

    fn sync_hubspot(
        &self,
        hs: &hubspot::Hubspot,
        map: &fields::FieldMap,
        stages: &StageMap,
        state: &mut State,
        changed: &mut Vec<DealId>,
    ) -> Result<()> {
        let no_companies = BTreeMap::new();
        for object in [Object::Account, Object::Opportunity] {
            let key = object.as_str();
            let since = state.cursors.get(key).and_then(|c| c.parse::<u64>().ok());
            let mapped = match object {
                Object::Account => &map.account,
                Object::Opportunity => &map.opportunity,
            };
            let mut properties: Vec<String> = mapped.iter().map(|(_, p)| p.clone()).collect();
            properties.push("hs_lastmodifieddate".to_string());
            if object == Object::Opportunity {
                properties.push("pipeline".to_string());
            }
            let newest = hs.search(object, &properties, since, &mut |page| {
                self.live().total = page.total;
                let companies = match object {
                    Object::Opportunity => {
                        let ids: Vec<String> = page
                            .results
                            .iter()
                            .filter_map(|r| r["id"].as_str().map(str::to_string))
                            .collect();
                        hs.deal_companies(&ids)?
                    }
                    Object::Account => BTreeMap::new(),
                };
                let companies = if object == Object::Account {
                    &no_companies
                } else {
                    &companies
                };
                let records: Vec<Record> = page
                    .results
                    .iter()
                    .map(|r| hubspot::record(object, r, map, stages, companies))
                    .collect();
                self.take_page(object, &records, map, state, changed)?;
                if let Some(ms) = page
                    .results
                    .iter()
                    .filter_map(|r| {
                        r["properties"]["hs_lastmodifieddate"]
                            .as_str()
                            .and_then(iso_ms)
                    })
                    .max()
                {
                    state.cursors.insert(key.to_string(), ms.to_string());
                }
                config::write(&self.dir, STATE_FILE, &*state)
            })?;
            if let Some(ms) = newest {
                state.cursors.insert(key.to_string(), ms.to_string());
            }
        }
        if state.initial_done {
            let since = state
                .cursors
                .get("deleted")
                .and_then(|c| c.parse::<u64>().ok());
            let archived = hs.archived_deals(since)?;
            let newest = archived.iter().map(|(_, at)| *at).max();
            let ids: Vec<String> = archived.into_iter().map(|(id, _)| id).collect();
            self.delete(Object::Opportunity, &ids, state)?;
            if let Some(ms) = newest {
                state.cursors.insert("deleted".to_string(), ms.to_string());
            }
        } else if let Some(newest) = state.cursors.get("opportunity").cloned() {
            // Deals archived before the initial load never arrived: deletes count from the
            // newest change it read, on HubSpot's clock (not this node's).
            state.cursors.insert("deleted".to_string(), newest);
        }
        Ok(())
    }

    /// A write-back pass outside a sync (after a deal changed).
    fn write_back_pass(&self) {
        let _one = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let Ok(Some(c)) = self.connection() else {
            return;
        };
        if c.write_back.fields.is_empty() && !c.write_back.activity {
            return;
        }
        let mut state = self.state().unwrap_or_default();
        let outcome = match (&c.vendor, &c.credentials) {
            (Vendor::Salesforce, creds) => {
                let mut sf = salesforce::Salesforce::new(&c.base_url, creds.clone());
                self.write_back(&c, &mut state, &mut Target::Salesforce(&mut sf))
            }
            (Vendor::Hubspot, Credentials::HubspotToken { token }) => {
                let hs = hubspot::Hubspot::new(&c.base_url, token.clone());
                self.write_back(&c, &mut state, &mut Target::Hubspot(&hs))
            }
            _ => Ok(()),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %format!("{e:#}"), "CRM write-back failed");
            state.last_error = Some(format!("write-back: {e:#}"));
        }
        if let Err(e) = config::write(&self.dir, STATE_FILE, &state) {
            tracing::error!(error = %format!("{e:#}"), "cannot save the CRM sync state");
        }
    }

    /// Writes each changed opportunity's co-sell facts to the CRM; a record the CRM refuses is
    /// a failure naming it, the others go on; a rate limit or sign-in failure ends the pass.
    fn write_back(&self, c: &Connection, state: &mut State, target: &mut Target<'_>) -> Result<()> {
        if c.write_back.fields.is_empty() && !c.write_back.activity {
            return Ok(());
        }
        for (crm_id, facts) in writeback::collect(&self.deals)? {
            let fp = writeback::fingerprint(&facts);
            if state.written.get(&crm_id) == Some(&fp) {
                continue;
            }
            let now_ms = self.clock.now_ms();
            let values: serde_json::Map<String, Value> = c
                .write_back
                .fields
                .iter()
                .filter_map(|(fact, field)| {
                    facts.get(fact.as_str()).map(|v| (field.clone(), json!(v)))
                })
                .collect();
            let text = writeback::as_text(&facts);
            let outcome = target.write(&crm_id, values, c.write_back.activity, &text, now_ms);
            match outcome {
                Ok(()) => {
                    state.written.insert(crm_id, fp);
                    state.counts.written_back += 1;
                }
                Err(e) => {
                    if e.downcast_ref::<remote::Failure>().is_some_and(|f| {
                        matches!(
                            f,
                            remote::Failure::RateLimited { .. } | remote::Failure::Transport(_)
                        )
                    }) || format!("{e}").contains("refused the")
                    {
                        return Err(e);
                    }
                    let field = c
                        .write_back
                        .fields
                        .values()
                        .next()
                        .cloned()
                        .unwrap_or_else(|| match c.vendor {
                            Vendor::Salesforce => "Task".to_string(),
                            Vendor::Hubspot => "note".to_string(),
                        });
                    state.fail(Failure {
                        object: "write_back".to_string(),
                        crm_id,
                        field,
                        message: format!("{e:#}"),
                        at_ms: now_ms,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Where a write-back goes.
enum Target<'a> {
    Salesforce(&'a mut salesforce::Salesforce),
    Hubspot(&'a hubspot::Hubspot),
}

impl Target<'_> {
    fn write(
        &mut self,
        crm_id: &str,
        values: serde_json::Map<String, Value>,
        activity: bool,
        text: &str,
        now_ms: u64,
    ) -> Result<()> {
        match self {
            Target::Salesforce(sf) => {
                if !values.is_empty() {
                    sf.update_opportunity(crm_id, Value::Object(values), now_ms)?;
                }
                if activity {
                    sf.add_task(crm_id, text, now_ms)?;
                }
            }
            Target::Hubspot(hs) => {
                if !values.is_empty() {
                    hs.update_deal(crm_id, Value::Object(values))?;
                }
                if activity {
                    hs.add_note(crm_id, text, &ms_iso(now_ms))?;
                }
            }
        }
        Ok(())
    }
}

fn is_deal_event(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::DealAccepted
            | EventKind::DealDeclined
            | EventKind::DealStageChanged
            | EventKind::DealUpdated
            | EventKind::RegistrationApproved
            | EventKind::RegistrationRejected
    )
}

/// Signs in with a connection's credentials, to refuse bad ones at connect.
fn check_sign_in(c: &Connection, now_ms: u64) -> Result<()> {
    match (&c.vendor, &c.credentials) {
        (Vendor::Salesforce, creds) => {
            salesforce::Salesforce::new(&c.base_url, creds.clone()).sign_in(now_ms)
        }
        (Vendor::Hubspot, Credentials::HubspotToken { token }) => {
            hubspot::Hubspot::new(&c.base_url, token.clone()).check()
        }
        (Vendor::Hubspot, _) => Err(anyhow!("HubSpot needs a private app token")),
    }
}
