//! `cosell hub import|export|invitations|accept|decline` and `cosell export opportunities`:
//! thin shells over the running node's API (docs/hubs.md, docs/crm-export.md).

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::cli::partners::segment;
use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::Value;
use std::path::PathBuf;

/// AWS ACE and Microsoft Partner Center interchange.
#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Import a hub's JSON (one object or an array) through the running node, all or nothing;
    /// prints per item the account id, opportunity id and source.
    Import {
        /// ace or ms.
        #[arg(value_parser = ["ace", "ms"])]
        hub: String,
        /// The JSON file, or `-` for standard input.
        file: PathBuf,
        /// Print the API's JSON answer (`items` with account_id, opportunity_id, source).
        #[arg(long)]
        json: bool,
    },
    /// Print an opportunity as the hub's JSON, checked against the hub's model.
    Export {
        /// ace or ms.
        #[arg(value_parser = ["ace", "ms"])]
        hub: String,
        /// The opportunity's id.
        #[arg(long)]
        opportunity: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Invitations from the hubs (ACE opportunity invitations, incoming MS referrals).
    Invitations {
        /// Only invited, accepted or declined ones.
        #[arg(long, value_parser = ["invited", "accepted", "declined"])]
        status: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Accept a hub invitation: its account and opportunity are created.
    Accept {
        /// The invitation's id.
        id: String,
    },
    /// Decline a hub invitation.
    Decline {
        /// The invitation's id.
        id: String,
    },
}

/// What `cosell export` writes.
#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// Every opportunity with its co-sell columns, as CSV for a CRM's import.
    Opportunities {
        /// salesforce or hubspot: whose import column names to write.
        #[arg(long, value_parser = ["salesforce", "hubspot"])]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs `cosell hub …`.
pub fn run(dir: &DataDir, what: HubCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match what {
        HubCommand::Import { hub, file, json } => {
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let body: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let answer = client.json("POST", &format!("/hub/{hub}/import"), Some(&body))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            for (i, item) in answer["items"].as_array().into_iter().flatten().enumerate() {
                let source = &item["source"];
                let from = format!(
                    "{} {}{}",
                    source["format"].as_str().unwrap_or(""),
                    source["external_id"].as_str().unwrap_or(""),
                    source["version"]
                        .as_str()
                        .map(|v| format!(" @ {v}"))
                        .unwrap_or_default()
                );
                match item["invitation_id"].as_str() {
                    Some(inv) => {
                        println!("[{i}] invitation {inv} from {from} (cosell hub accept {inv})")
                    }
                    None => println!(
                        "[{i}] {} account {} opportunity {} from {from}",
                        item["outcome"].as_str().unwrap_or(""),
                        item["account_id"].as_str().unwrap_or(""),
                        item["opportunity_id"].as_str().unwrap_or(""),
                    ),
                }
            }
            Ok(())
        }
        HubCommand::Export {
            hub,
            opportunity,
            out,
        } => {
            let answer = client.json(
                "GET",
                &format!("/hub/{hub}/opportunities/{}", segment(&opportunity)),
                None,
            )?;
            let text = serde_json::to_string_pretty(&answer)? + "\n";
            write_out(out, &text)
        }
        HubCommand::Invitations { status, json } => {
            let path = match &status {
                Some(s) => format!("/hub/invitations?status={s}"),
                None => "/hub/invitations".to_string(),
            };
            let answer = client.json("GET", &path, None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer["items"])?);
                return Ok(());
            }
            for inv in answer["items"].as_array().into_iter().flatten() {
                println!(
                    "{}  {:<8}  {:<3}  {}  {} ({})",
                    inv["id"].as_str().unwrap_or(""),
                    inv["status"].as_str().unwrap_or(""),
                    inv["hub"].as_str().unwrap_or(""),
                    inv["from"].as_str().unwrap_or(""),
                    inv["title"].as_str().unwrap_or(""),
                    inv["account_name"].as_str().unwrap_or(""),
                );
            }
            Ok(())
        }
        HubCommand::Accept { id } => answer(&client, &id, "accept"),
        HubCommand::Decline { id } => answer(&client, &id, "decline"),
    }
}

fn answer(client: &Client, id: &str, verb: &str) -> Result<()> {
    let inv = client.json(
        "POST",
        &format!("/hub/invitations/{}/{verb}", segment(id)),
        None,
    )?;
    match inv["opportunity_id"].as_str() {
        Some(opp) => println!("accepted: opportunity {opp}"),
        None => println!("{}", inv["status"].as_str().unwrap_or(verb)),
    }
    Ok(())
}

/// Runs `cosell export …`.
pub fn export(dir: &DataDir, what: ExportWhat) -> Result<()> {
    let ExportWhat::Opportunities { format, out } = what;
    let client = Client::for_data_dir(dir)?;
    let text = client.text(&format!("/export/opportunities?format={format}"))?;
    write_out(out, &text)
}

fn write_out(out: Option<PathBuf>, text: &str) -> Result<()> {
    match out {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
