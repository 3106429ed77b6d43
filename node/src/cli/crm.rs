//! `cosell crm connect|status|sync|disconnect`: the CRM connection of the running node, through
//! `/api/v1/crm`. Credentials are read from files (or an environment variable), never from the
//! command line, where `ps` and shell history would show them.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often `crm sync` reads the progress.
const POLL_MS: u64 = 250;
/// How long `crm sync` waits for a sync to finish before it says it goes on in the background.
const SYNC_WAIT_SECS_MAX: u64 = 3_600;

/// `cosell crm …`.
#[derive(Debug, Subcommand)]
pub enum CrmCommand {
    /// Connect Salesforce or HubSpot (signs in first), then load its accounts and
    /// opportunities and keep them in sync.
    Connect {
        #[command(subcommand)]
        vendor: ConnectVendor,
    },
    /// The connection: last sync, counts, next run, last error, refused records.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sync now; shows progress and waits for the end (--no-wait: return at once).
    Sync {
        /// Return once the sync is asked for.
        #[arg(long)]
        no_wait: bool,
    },
    /// Disconnect: forget the credential and sync state (the records stay).
    Disconnect,
}

/// Which CRM to connect.
#[derive(Debug, Subcommand)]
pub enum ConnectVendor {
    /// Salesforce: a connected app with the JWT bearer flow (--client-id, --username,
    /// --private-key) or a refresh token (--client-id, --refresh-token-file).
    Salesforce(Box<SalesforceArgs>),
    /// HubSpot: a private app's token (--token-file, or COSELL_HUBSPOT_TOKEN).
    Hubspot(Box<HubspotArgs>),
}

/// Settings both CRMs take.
#[derive(Debug, Args)]
pub struct Common {
    /// Map a record field to a CRM field: `opportunity.next_step=Next_Step__c` (repeatable;
    /// an empty value unmaps).
    #[arg(long = "map", value_name = "FIELD=CRM_FIELD")]
    map: Vec<String>,
    /// Map a CRM stage (label, or HubSpot stage id) to an ACE stage: `Negotiation=committed`
    /// (repeatable).
    #[arg(long = "stage", value_name = "CRM_STAGE=ACE_STAGE")]
    stage: Vec<String>,
    /// Write a co-sell fact back to a CRM field: `partner_stages=Partner_Stage__c`
    /// (repeatable; facts: partners, partner_status, partner_stages, attribution,
    /// registration).
    #[arg(long = "write-back", value_name = "FACT=CRM_FIELD")]
    write_back: Vec<String>,
    /// Also write the co-sell facts as a Salesforce Task / HubSpot note on the record.
    #[arg(long)]
    write_back_activity: bool,
    /// Seconds between syncs (default 300).
    #[arg(long)]
    interval: Option<u64>,
}

/// `crm connect salesforce`.
#[derive(Debug, Args)]
pub struct SalesforceArgs {
    /// The login server (default https://login.salesforce.com; a My Domain or
    /// https://test.salesforce.com for a sandbox).
    #[arg(long)]
    login_url: Option<String>,
    /// The connected app's consumer key.
    #[arg(long)]
    client_id: String,
    /// JWT flow: the Salesforce username to act as.
    #[arg(long, requires = "private_key")]
    username: Option<String>,
    /// JWT flow: the PEM file of the RSA private key (PKCS#8) whose certificate the app has.
    #[arg(long, requires = "username", conflicts_with = "refresh_token_file")]
    private_key: Option<PathBuf>,
    /// Refresh-token flow: a file holding the refresh token.
    #[arg(long)]
    refresh_token_file: Option<PathBuf>,
    /// Refresh-token flow: a file holding the consumer secret, when the app requires it.
    #[arg(long, requires = "refresh_token_file")]
    client_secret_file: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// `crm connect hubspot`.
#[derive(Debug, Args)]
pub struct HubspotArgs {
    /// The API server (default https://api.hubapi.com).
    #[arg(long)]
    api_url: Option<String>,
    /// A file holding the private app token (else COSELL_HUBSPOT_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// Runs a `crm` command.
pub fn run(dir: &DataDir, command: CrmCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        CrmCommand::Connect { vendor } => connect(&client, vendor),
        CrmCommand::Status { json } => {
            let status = client.json("GET", "/crm", None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", render(&status));
            }
            Ok(())
        }
        CrmCommand::Sync { no_wait } => sync(&client, no_wait),
        CrmCommand::Disconnect => {
            client.json("DELETE", "/crm/connection", None)?;
            eprintln!(
                "disconnected the CRM; its credential and sync state are gone (the records stay)"
            );
            Ok(())
        }
    }
}

fn read_secret(path: &Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} from {}", path.display()))?;
    if text.trim().is_empty() {
        bail!("{} is empty: it should hold the {what}", path.display());
    }
    Ok(text.trim().to_string())
}

fn pairs(items: &[String], flag: &str) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for item in items {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| anyhow!("--{flag} {item}: expected NAME=VALUE"))?;
        out.insert(k.trim().to_string(), json!(v.trim()));
    }
    Ok(out)
}

fn connect(client: &Client, vendor: ConnectVendor) -> Result<()> {
    let (vendor_name, base_url, auth, common) = match vendor {
        ConnectVendor::Salesforce(a) => {
            let a = *a;
            let auth = match (&a.username, &a.private_key, &a.refresh_token_file) {
                (Some(user), Some(key), None) => json!({"flow": "jwt", "client_id": a.client_id,
                    "username": user, "private_key": read_secret(key, "private key")?}),
                (None, None, Some(file)) => {
                    let secret = match &a.client_secret_file {
                        Some(f) => Some(read_secret(f, "consumer secret")?),
                        None => None,
                    };
                    json!({"flow": "refresh_token", "client_id": a.client_id,
                           "refresh_token": read_secret(file, "refresh token")?, "client_secret": secret})
                }
                _ => bail!(
                    "give --username and --private-key (JWT bearer flow) or --refresh-token-file (refresh-token flow)"
                ),
            };
            ("salesforce", a.login_url, auth, a.common)
        }
        ConnectVendor::Hubspot(a) => {
            let a = *a;
            let token = match &a.token_file {
                Some(f) => read_secret(f, "private app token")?,
                None => std::env::var("COSELL_HUBSPOT_TOKEN")
                    .ok()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| anyhow!("give --token-file FILE or set COSELL_HUBSPOT_TOKEN"))?,
            };
            (
                "hubspot",
                a.api_url,
                json!({"flow": "private_app_token", "token": token.trim()}),
                a.common,
            )
        }
    };
    let body = json!({
        "vendor": vendor_name,
        "base_url": base_url,
        "auth": auth,
        "interval_secs": common.interval,
        "fields": pairs(&common.map, "map")?,
        "stages": pairs(&common.stage, "stage")?,
        "write_back": {"fields": pairs(&common.write_back, "write-back")?, "activity": common.write_back_activity},
    });
    client.json("PUT", "/crm/connection", Some(&body))?;
    eprintln!("connected {vendor_name}; the initial load runs now (`cosell crm sync` shows its progress, `cosell crm status` the outcome)");
    Ok(())
}

/// Asks for a sync and (unless `no_wait`) follows it to its end, with a progress bar on a
/// terminal; exits non-zero when it failed.
fn sync(client: &Client, no_wait: bool) -> Result<()> {
    let before = client.json("GET", "/crm", None)?;
    let last_before = before["last_sync_at"].clone();
    client.json("POST", "/crm/sync", None)?;
    if no_wait {
        eprintln!("sync asked for");
        return Ok(());
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    let started = Instant::now();
    let status = loop {
        std::thread::sleep(Duration::from_millis(POLL_MS));
        let s = client.json("GET", "/crm", None)?;
        if let (Some(bar), Some(p)) = (&bar, s["progress"].as_object()) {
            bar.set_message(format!(
                "syncing {}s",
                p["object"].as_str().unwrap_or("record")
            ));
            bar.set_length(p["total"].as_u64().unwrap_or(0));
            bar.set_position(p["done"].as_u64().unwrap_or(0));
        }
        if s["state"] != "syncing"
            && s["last_sync_at"] != last_before
            && !s["last_sync_at"].is_null()
        {
            break s;
        }
        if started.elapsed() > Duration::from_secs(SYNC_WAIT_SECS_MAX) {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            eprintln!("the sync goes on in the background; `cosell crm status` shows how it ends");
            return Ok(());
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    print!("{}", render(&status));
    match status["last_error"].as_str() {
        Some(e) => bail!("the sync failed: {e}"),
        None => Ok(()),
    }
}

/// The status as text for a terminal.
pub fn render(s: &Value) -> String {
    if s["connected"] != true {
        return "no CRM is connected (`cosell crm connect salesforce|hubspot …`)\n".to_string();
    }
    let t = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let c = &s["counts"];
    let mut out = String::new();
    out.push_str(&format!(
        "crm          {} ({})\n",
        t(&s["vendor"]),
        t(&s["connection"]["base_url"])
    ));
    out.push_str(&format!("state        {}\n", t(&s["state"])));
    out.push_str(&format!("last sync    {}\n", t(&s["last_sync_at"])));
    out.push_str(&format!("last success {}\n", t(&s["last_success_at"])));
    out.push_str(&format!("next run     {}\n", t(&s["next_run_at"])));
    out.push_str(&format!(
        "counts       {} accounts, {} opportunities, {} deleted, {} refused, {} written back\n",
        c["accounts"], c["opportunities"], c["deleted"], c["failed"], c["written_back"]
    ));
    if let Some(e) = s["last_error"].as_str() {
        out.push_str(&format!("last error   {e}\n"));
    }
    for f in s["failures"].as_array().into_iter().flatten().take(20) {
        out.push_str(&format!(
            "refused      {} {} {}: {}\n",
            t(&f["object"]),
            t(&f["crm_id"]),
            t(&f["field"]),
            t(&f["message"])
        ));
    }
    out
}
