//! The `cosell` command line. Each command is a thin shell over the library; errors surface as
//! one sentence on stderr and a non-zero exit (see `main.rs`).

pub mod admin;
mod announce;
pub mod backup;
pub mod client;
mod crm;
pub mod deals;
pub mod demo;
pub mod erase;
pub mod health;
pub mod hosting;
pub mod hub;
pub mod leads;
pub mod mapping;
pub mod mdf;
pub mod network;
pub mod partners;
pub mod plans;
pub mod policy;
pub mod program;
pub mod scim;
pub mod serve;
pub mod workflows;
pub mod workspace;

use crate::app::config::Config;
use crate::app::datadir::{write_private, DataDir};
use crate::app::identity::Identity;
use crate::cli::client::Client;
use crate::clock::now_ms;
use crate::domain::auth::{create_token, Role};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

/// cosell: a self-hosted, peer-to-peer co-sell network node.
#[derive(Debug, Parser)]
#[command(name = "cosell", version, about)]
pub struct Cli {
    /// The node's data directory [default: ./cosell-data; for `demo`: a temporary directory].
    #[arg(long, global = true, env = "COSELL_DATA")]
    pub data: Option<PathBuf>,
    /// Log lines on stderr: `text` for people, `json` for log shippers (one JSON object per
    /// line: timestamp, level, target, message, fields).
    #[arg(long, global = true, env = "COSELL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where a node's data lives when neither `--data` nor `COSELL_DATA` says.
pub const DATA_DIR_DEFAULT: &str = "./cosell-data";

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start three nodes on loopback (a vendor, a reseller, an SI) with generated data,
    /// partnerships, policies and shared deals; print their web addresses; Ctrl-C stops all.
    Demo,
    /// Create a new node in the data directory: identity key, database, settings, admin token
    /// (`COSELL_ADMIN_TOKEN`, `cosell_` and 64 hex digits, when set; else a new random one).
    Init {
        /// The company's name, as partners will see it.
        #[arg(long)]
        name: String,
    },
    /// Run the node (HTTP API, web UI, partner connections) until SIGINT or SIGTERM.
    Serve {
        /// HTTP listen address (default from cosell.toml: 127.0.0.1:7600; port 0 = any).
        #[arg(long, env = "COSELL_HTTP")]
        http: Option<String>,
        /// libp2p listen multiaddr, TCP (`/ip4/…/tcp/PORT`) or QUIC (`/ip4/…/udp/PORT/quic-v1`);
        /// repeatable (default from cosell.toml: TCP and QUIC on 0.0.0.0 port 7601).
        #[arg(long)]
        p2p: Vec<String>,
    },
    /// Check the node serving the data directory: exit 0 when it is ready (`/readyz`), 1 when
    /// not (for container health checks and scripts).
    Health {
        /// Only check that it is alive (`/healthz`), not that it is ready.
        #[arg(long)]
        live: bool,
    },
    /// Write a backup of the whole node (database snapshot, identity key, settings, admin
    /// token) to FILE (`-`: standard output), while it serves or while it is stopped.
    Backup {
        /// The backup file to write (replaced only by a complete, checked backup).
        file: PathBuf,
    },
    /// Restore a backup into a new (or empty) data directory given by --data.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Erase one person's data on this node (GDPR art. 17): every record, audit entry,
    /// delivery, notification and what this node wrote in shared deals holding the e-mail
    /// address or name; prints what was erased where (admin).
    Erase(crate::cli::erase::EraseArgs),
    /// Data-sharing policies: write, check and preview what a partner receives.
    Policy {
        #[command(subcommand)]
        what: PolicyCommand,
    },
    /// Import a CRM export (CSV) through the running node, all or nothing. FILE `-` reads the
    /// CSV from standard input (`… | cosell import accounts -`).
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// AWS ACE and Microsoft Partner Center: import and export hub JSON, answer hub
    /// invitations (docs/hubs.md).
    Hub {
        #[command(subcommand)]
        what: crate::cli::hub::HubCommand,
    },
    /// Export records for a CRM's import: `export opportunities --format salesforce|hubspot`.
    Export {
        #[command(subcommand)]
        what: crate::cli::hub::ExportWhat,
    },
    /// Partnerships: invite, join, list, remove.
    Partner {
        #[command(subcommand)]
        what: crate::cli::partners::PartnerCommand,
    },
    /// Run account mapping with a partner now and print the matrix (--show: the latest one;
    /// --propose DOMAIN: share my open opportunity on an overlapping account as a deal).
    Map(crate::cli::mapping::MapArgs),
    /// Account-mapping populations: list, set, remove.
    Populations {
        #[command(subcommand)]
        what: crate::cli::mapping::PopulationsCommand,
    },
    /// Delete a local record: `delete account ID` (refused while opportunities name it) or
    /// `delete opportunity ID` (refused while deals shared from it are not withdrawn).
    Delete {
        /// account or opportunity.
        #[arg(value_parser = ["account", "opportunity"])]
        what: String,
        /// The record's id.
        id: String,
        /// For an opportunity shared as deals: withdraw them first.
        #[arg(long)]
        withdraw: bool,
    },
    /// Share opportunities with partners as co-sell deals (one deal each, each under its own
    /// policy check); prints each deal id.
    Share {
        /// The opportunity ids.
        #[arg(required = true)]
        opportunity: Vec<String>,
        /// Partners (node ids or names), comma-separated.
        #[arg(long, value_delimiter = ',')]
        with: Vec<String>,
        /// This node's role in the deal (default vendor).
        #[arg(long = "as")]
        role: Option<String>,
        /// A message to the partners, signed in their invitations (at most 1000 characters).
        #[arg(long)]
        message: Option<String>,
    },
    /// Invitations to deals waiting for this node (a redacted summary until accepted).
    Inbox {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only invitations in this state (invited, accepted, declined, expired).
        #[arg(long)]
        status: Option<String>,
    },
    /// Register a deal with a vendor partner; prints the registration id.
    Register(crate::cli::workflows::RegisterArgs),
    /// Deal registrations: list, show, approve, reject.
    Registrations {
        #[command(subcommand)]
        what: crate::cli::workflows::RegistrationsCommand,
    },
    /// Lead distribution: import, routing rules, route, accept, reject, list.
    Leads {
        #[command(subcommand)]
        what: crate::cli::leads::LeadsCommand,
    },
    /// Market development funds: allocate, propose, approve, reject, claim, reimburse, list.
    Mdf {
        #[command(subcommand)]
        what: crate::cli::mdf::MdfCommand,
    },
    /// Mutual account plans: create, goals, stakeholders, tasks, notes, list, show.
    Plans {
        #[command(subcommand)]
        what: crate::cli::plans::PlansCommand,
    },
    /// Shared deals: list, show, write this node's section, accept, decline.
    Deals {
        #[command(subcommand)]
        what: crate::cli::deals::DealsCommand,
    },
    /// Users who sign in to the web UI (admin).
    Users {
        #[command(subcommand)]
        what: crate::cli::admin::UsersCommand,
    },
    /// API tokens with a role (admin).
    Tokens {
        #[command(subcommand)]
        what: crate::cli::admin::TokensCommand,
    },
    /// Hosted workspaces on a node with `hosting = true` (host admin): create, list,
    /// suspend, resume, delete, export, import.
    Workspace {
        #[command(subcommand)]
        what: crate::cli::workspace::WorkspaceCommand,
    },
    /// SCIM provisioning tokens for an identity provider (admin).
    Scim {
        #[command(subcommand)]
        what: crate::cli::scim::ScimCommand,
    },
    /// Webhooks for node events, signed with HMAC-SHA256 (admin).
    Webhooks {
        #[command(subcommand)]
        what: crate::cli::admin::WebhooksCommand,
    },
    /// How this node reaches its partners: listen, external and observed addresses, NAT
    /// status, relays, and per partner the connection type (direct, hole-punched, relayed),
    /// round-trip time and last error.
    Network {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The partner program: `check` or `set` a program file (tiers, requirements, benefits,
    /// health weights, rates); `show` each partner's tier, health and what it lacks.
    Program {
        #[command(subcommand)]
        what: crate::cli::program::ProgramCommand,
    },
    /// Certifications as signed attestations: issue, verify offline, revoke, import from an
    /// LMS export, list, the signed revocation list.
    Attest {
        #[command(subcommand)]
        what: crate::cli::program::AttestCommand,
    },
    /// Announcements: send one to partners (`--to all|tier:T|type:T|region:R --title T --body
    /// B`), `list` them with read counts, `read ID` one received.
    Announce(crate::cli::announce::AnnounceArgs),
    /// Reports: `qbr PARTNER --quarter YYYY-QN --out DIR` (HTML with inline SVG charts + CSVs).
    Report {
        #[command(subcommand)]
        what: crate::cli::program::ReportCommand,
    },
    /// The CRM connection (Salesforce or HubSpot): connect, status, sync, disconnect.
    Crm {
        #[command(subcommand)]
        what: crate::cli::crm::CrmCommand,
    },
    /// Inspection of a stopped node's data (for tests and support).
    #[command(hide = true)]
    Debug {
        #[command(subcommand)]
        what: DebugCommand,
    },
    /// The audit log: who did what (shares, policies, partnerships, registrations, deletes,
    /// sign-ins, users and tokens, refused changes); `export` and `verify` a signed copy.
    Audit {
        #[command(subcommand)]
        what: Option<AuditCommand>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only entries of this kind (share, share_update, policy, partner, rejected, mapping,
        /// registration, access, record, withdraw, erasure, program).
        #[arg(long)]
        kind: Option<String>,
        /// Most entries.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

/// `cosell debug …` (hidden).
#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print every stored deal change, decrypted, as text (bytes that are not UTF-8 shown as
    /// U+FFFD), one per line after its deal id. The node must be stopped (the database is
    /// locked while it runs).
    StoredChanges,
}

/// `cosell audit export|verify`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write the entries of a period to FILE, hash-chained, the head signed by the node key.
    Export {
        /// First day (YYYY-MM-DD) or UTC time (YYYY-MM-DDTHH:MM:SSZ); default: the first entry.
        #[arg(long)]
        from: Option<String>,
        /// Last day (YYYY-MM-DD, inclusive) or UTC time; default: now.
        #[arg(long)]
        to: Option<String>,
        /// Where to write the export (refused if it exists).
        file: PathBuf,
    },
    /// Check an export offline: chain, order and the node's signature (no node needed).
    Verify {
        /// The export file.
        file: PathBuf,
        /// Also require that the node with this id signed it.
        #[arg(long)]
        node: Option<String>,
    },
}

/// Policy commands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print a commented policy template to start from (minimal, reseller, si).
    Init {
        /// Which template.
        #[arg(long, default_value = "minimal")]
        template: String,
    },
    /// Validate a policy file; errors name the line and key.
    Check {
        /// The policy file (TOML, or JSON by its .json extension).
        file: PathBuf,
    },
    /// Set the policy for a partner (validated; every version is kept).
    Set {
        /// Node id or unique partner name.
        partner: String,
        /// The policy file (TOML, or JSON by its .json extension).
        file: PathBuf,
    },
    /// Show the policy in force for a partner and its versions.
    Show {
        /// Node id or unique partner name.
        partner: String,
        /// Print the API's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Show what a partner receives: under a policy file, or (a partner name or id) under the
    /// policy set for that partner.
    Preview {
        /// A policy file, or a partner.
        file: PathBuf,
        /// Preview one opportunity only.
        #[arg(long)]
        opportunity: Option<String>,
        /// Print the API's JSON answer.
        #[arg(long)]
        json: bool,
    },
}

/// What an import file holds.
#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// Accounts (companies): Salesforce, HubSpot or cosell headers.
    Accounts {
        /// The CSV file, or `-` to read it from standard input (a file named `-`: `./-`).
        file: PathBuf,
    },
    /// Opportunities (deals): Salesforce, HubSpot or cosell headers.
    Opportunities {
        /// The CSV file, or `-` to read it from standard input (a file named `-`: `./-`).
        file: PathBuf,
        /// How the file writes dates like 03/04/2026: DD/MM/YYYY (day first), MM/DD/YYYY
        /// (month first) or YYYY-MM-DD (refuse dates whose day and month could be either).
        /// Default: month first, day first in a `;`-separated file; a close date header naming
        /// its format (`Close Date (DD/MM/YYYY)`) wins.
        #[arg(long, value_name = "FORMAT", value_parser = date_format)]
        date_format: Option<String>,
    },
}

/// `--date-format`: checked here (a usage error, exit 2), sent in the canonical spelling.
fn date_format(value: &str) -> std::result::Result<String, String> {
    crate::import::DateOrder::parse_setting(value).map(|order| order.format().to_string())
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let data = cli.data.clone();
    let dir = DataDir::new(cli.data.unwrap_or_else(|| PathBuf::from(DATA_DIR_DEFAULT)));
    // Every command that works on a node's data checks its settings and the `COSELL_*`
    // overrides first, as `serve` does: a bad value is named, never ignored by one command and
    // refused by another.
    let checks_settings = !matches!(
        cli.command,
        Command::Demo | Command::Init { .. } | Command::Serve { .. } | Command::Debug { .. }
    );
    if checks_settings && dir.config().exists() {
        Config::load(&dir.config())?;
    }
    match cli.command {
        Command::Demo => crate::cli::demo::run(data),
        Command::Init { name } => init(&dir, &name),
        Command::Serve { http, p2p } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(crate::cli::serve::serve(
                &dir,
                crate::cli::serve::ServeOptions { http, p2p },
            ))
        }
        Command::Health { live } => crate::cli::health::run(&dir, live),
        Command::Backup { file } => crate::cli::backup::backup(&dir, &file),
        Command::Restore { file } => crate::cli::backup::restore(&file, &dir),
        Command::Erase(args) => crate::cli::erase::run(&dir, args),
        Command::Policy { what } => crate::cli::policy::run(&dir, what),
        Command::Import { what } => match what {
            ImportWhat::Accounts { file } => import(&dir, "accounts", &file, None),
            ImportWhat::Opportunities { file, date_format } => {
                import(&dir, "opportunities", &file, date_format.as_deref())
            }
        },
        Command::Hub { what } => crate::cli::hub::run(&dir, what),
        Command::Export { what } => crate::cli::hub::export(&dir, what),
        Command::Partner { what } => crate::cli::partners::run(&dir, what),
        Command::Map(args) => crate::cli::mapping::map(&dir, args),
        Command::Populations { what } => crate::cli::mapping::populations(&dir, what),
        Command::Share {
            opportunity,
            with,
            role,
            message,
        } => crate::cli::deals::share(&dir, &opportunity, &with, role, message),
        Command::Deals { what } => crate::cli::deals::run(&dir, what),
        Command::Delete { what, id, withdraw } => delete(&dir, &what, &id, withdraw),
        Command::Debug {
            what: DebugCommand::StoredChanges,
        } => {
            dir.require_initialized()?;
            let store = Store::open(&dir.database())
                .context("cannot open the database (stop the node first)")?;
            for (deal, bytes) in crate::store::shared::all_changes(&store)? {
                println!("{deal} {}", String::from_utf8_lossy(&bytes));
            }
            Ok(())
        }
        Command::Inbox { json, status } => crate::cli::workflows::inbox(&dir, json, status),
        Command::Register(args) => crate::cli::workflows::register(&dir, args),
        Command::Registrations { what } => crate::cli::workflows::registrations(&dir, what),
        Command::Mdf { what } => crate::cli::mdf::run(&dir, what),
        Command::Plans { what } => crate::cli::plans::run(&dir, what),
        Command::Leads { what } => crate::cli::leads::run(&dir, what),
        Command::Users { what } => crate::cli::admin::users(&dir, what),
        Command::Tokens { what } => crate::cli::admin::tokens(&dir, what),
        Command::Scim { what } => crate::cli::scim::run(&dir, what),
        Command::Webhooks { what } => crate::cli::admin::webhooks(&dir, what),
        Command::Workspace { what } => crate::cli::workspace::run(&dir, what),
        Command::Network { json } => crate::cli::network::run(&dir, json),
        Command::Program { what } => crate::cli::program::program(&dir, what),
        Command::Attest { what } => crate::cli::program::attest(&dir, what),
        Command::Report { what } => crate::cli::program::report(&dir, what),
        Command::Announce(args) => crate::cli::announce::run(&dir, args),
        Command::Crm { what } => crate::cli::crm::run(&dir, what),
        Command::Audit {
            what: Some(what), ..
        } => crate::cli::admin::audit(&dir, what),
        Command::Audit {
            what: None,
            json,
            kind,
            limit,
        } => crate::cli::partners::audit(&dir, json, kind, limit),
    }
}

/// `cosell delete account|opportunity ID`.
fn delete(dir: &DataDir, what: &str, id: &str, withdraw: bool) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    let route = if what == "account" {
        "accounts"
    } else {
        "opportunities"
    };
    let query = if withdraw { "?withdraw=true" } else { "" };
    let answer = client.json(
        "DELETE",
        &format!("/{route}/{}{query}", crate::cli::partners::segment(id)),
        None,
    )?;
    for deal in answer["withdrawn_deals"].as_array().into_iter().flatten() {
        eprintln!("withdrew deal {}", deal.as_str().unwrap_or("?"));
    }
    eprintln!(
        "deleted {what} {} ({id})",
        answer["name"].as_str().unwrap_or("")
    );
    Ok(())
}

fn init(dir: &DataDir, name: &str) -> Result<()> {
    let config = Config::new(name.trim());
    config.validate()?;
    if dir.is_initialized() {
        bail!(
            "{} is already initialized (node files exist there); use another --data directory",
            dir.root().display()
        );
    }
    // A file init would write that is there already (an admin.token copied in, a leftover of
    // an interrupted write) is the user's: refused by name, never replaced. This also makes the
    // clean-up below, which removes what init wrote, remove nothing init did not write.
    if let Some(stray) = dir.init_files().into_iter().find(|f| f.exists()) {
        bail!(
            "{} already exists and init would replace it; move it away, or use another --data directory",
            stray.display()
        );
    }
    if !dir.root().exists() {
        // A directory cosell creates is its owner's alone: it holds the key and the CRM data.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.root())
            .with_context(|| format!("cannot create {}", dir.root().display()))?;
    }
    let result = write_node_files(dir, &config, true);
    match result {
        Ok(id) => {
            println!("{id}");
            eprintln!(
                "initialized node \"{}\" in {}; start it with `cosell serve --data {}`",
                config.name,
                dir.root().display(),
                dir.root().display()
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Writes a new node into the (existing, empty) directory `dir`: database, the admin token
/// (when `admin_token`; a hosted workspace has none, its first user comes from the onboarding
/// link), settings, and the identity key last: a directory counts as initialized once the
/// key is there, so a failure part-way removes what was written. Answers the node id.
pub(crate) fn write_node_files(
    dir: &DataDir,
    config: &Config,
    admin_token: bool,
) -> Result<String> {
    let result = (|| -> Result<String> {
        let store = Store::open(&dir.database())?;
        if admin_token {
            // An operator's own admin token (a Kubernetes Secret, a vault) when given; else a new one.
            let token = match std::env::var("COSELL_ADMIN_TOKEN") {
                Ok(given) if !given.trim().is_empty() => {
                    let given = zeroize::Zeroizing::new(given.trim().to_string());
                    crate::domain::auth::adopt_token(
                        &store,
                        &given,
                        "admin token from init (COSELL_ADMIN_TOKEN)",
                        Role::Admin,
                        now_ms(),
                    )
                    .context("COSELL_ADMIN_TOKEN")?;
                    given
                }
                _ => create_token(&store, "admin token from init", Role::Admin, now_ms())?,
            };
            let line = zeroize::Zeroizing::new(format!("{}\n", token.as_str()));
            write_private(&dir.admin_token(), line.as_bytes())?;
        }
        drop(store);
        crate::app::datadir::write_atomic(&dir.config(), config.to_toml().as_bytes(), 0o644)?;
        let identity = Identity::generate()?;
        identity.save(&dir.identity_key())?;
        Ok(identity.node_id())
    })();
    if result.is_err() {
        for path in dir.init_files() {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

/// `cosell import WHAT FILE`: streams the file (or standard input, FILE `-`) to the node's
/// import route, never holding it in memory whole, and prints the node's summary or every bad
/// row it names.
fn import(dir: &DataDir, what: &str, file: &PathBuf, date_format: Option<&str>) -> Result<()> {
    let from_stdin = file.as_os_str() == "-";
    let (source, input, size): (String, Box<dyn Read + Send>, Option<u64>) = if from_stdin {
        ("stdin".to_string(), Box::new(std::io::stdin()), None)
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        let metadata = f
            .metadata()
            .with_context(|| format!("cannot read {}", file.display()))?;
        // Opening a directory succeeds on Unix; reading it fails only once the upload has
        // begun, which would look like the node's fault.
        if metadata.is_dir() {
            bail!("{} is a directory, not a CSV file", file.display());
        }
        (
            file.display().to_string(),
            Box::new(std::io::BufReader::new(f)),
            Some(metadata.len()),
        )
    };
    let client = Client::for_data_dir(dir)?;
    let typing = from_stdin && std::io::stdin().is_terminal();
    if typing {
        eprintln!("reading {what} CSV from standard input; end it with Ctrl-D");
    }
    // A progress bar for a person watching (not over their typing): of the file's size, or of
    // the bytes sent so far from a pipe, whose size is unknown.
    let bar = if std::io::stderr().is_terminal() && !typing {
        let (bar, template) = match size {
            Some(size) => (
                indicatif::ProgressBar::new(size),
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            ),
            None => (
                indicatif::ProgressBar::new_spinner(),
                "{msg} {spinner} {bytes} ({bytes_per_sec})",
            ),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(format!("importing {what}"));
        Some(bar)
    } else {
        None
    };
    let reader: Box<dyn Read + Send> = match &bar {
        Some(bar) => Box::new(bar.wrap_read(input)),
        None => input,
    };
    let path = match date_format {
        // The canonical spellings (`DD/MM/YYYY`) need no escaping in a query.
        Some(format) => format!("/import/{what}?date_format={format}"),
        None => format!("/import/{what}"),
    };
    let answer = client.upload(&path, "text/csv", reader)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match answer {
        Ok(summary) => {
            let n = |k: &str| summary[k].as_u64().unwrap_or(0);
            let rows = n("rows");
            eprintln!(
                "imported {source}: {rows} {}, {} inserted, {} updated, {} unchanged",
                if rows == 1 { "row" } else { "rows" },
                n("inserted"),
                // The API's `updated` counts every matched row, `unchanged` the ones among them
                // that changed nothing: said as three parts that add up to the rows.
                n("updated").saturating_sub(n("unchanged")),
                n("unchanged")
            );
            if let Some(cols) = summary["ignored_columns"]
                .as_array()
                .filter(|c| !c.is_empty())
            {
                let names: Vec<&str> = cols.iter().filter_map(|c| c.as_str()).collect();
                eprintln!("ignored columns: {}", names.join(", "));
            }
            if let Some(lines) = summary["lines_above_header"]
                .as_array()
                .filter(|l| !l.is_empty())
            {
                let shown: Vec<String> = lines
                    .iter()
                    .filter_map(|l| l.as_str())
                    .map(|l| format!("\"{l}\""))
                    .collect();
                let noun = if lines.len() == 1 { "line" } else { "lines" };
                eprintln!(
                    "skipped {} {noun} above the header: {}",
                    lines.len(),
                    shown.join(", ")
                );
            }
            Ok(())
        }
        Err(failure) => {
            for d in &failure.details {
                let Some(message) = d["message"].as_str() else {
                    continue;
                };
                // Where: row (and line) and column when the node names them; a whole-row or
                // whole-file problem has no column.
                let mut at = Vec::new();
                match (d["row"].as_u64(), d["line"].as_u64()) {
                    (Some(row), Some(line)) => at.push(format!("row {row} (line {line})")),
                    (Some(row), None) => at.push(format!("row {row}")),
                    (None, Some(line)) => at.push(format!("line {line}")),
                    (None, None) => {}
                }
                if let Some(column) = d["column"].as_str().filter(|c| !c.trim().is_empty()) {
                    at.push(format!("column {column}"));
                }
                if at.is_empty() {
                    eprintln!("{message}");
                } else {
                    eprintln!("{}: {message}", at.join(", "));
                }
            }
            bail!("{source}: {}", failure.error)
        }
    }
}

/// The whole program: parses the command line, sets up logging (`RUST_LOG`), and turns any error
/// into one sentence on stderr with exit code 1.
pub fn main() {
    // Die quietly on a closed pipe (`cosell policy preview … | head`) as Unix tools do, instead
    // of panicking on the next print.
    // SAFETY: called first thing, before any other thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            // Colour codes only for a person at a terminal, not in a log file or a pipe.
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
        // The event's message and fields at the top level of the object, beside timestamp,
        // level and target: what log shippers index without a parsing rule.
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    if let Err(error) = run(cli) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
