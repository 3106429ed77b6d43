//! `cosell leads …`: lead distribution through the running node's API.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::cli::partners::segment;
use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum LeadsCommand {
    /// Add inbound leads from a CSV file (company, country, region, tags separated by ';',
    /// contact_name, contact_email, note), all or nothing.
    Import { file: PathBuf },
    /// The routing rules file (TOML): check one, or set it (vendor).
    Rules {
        #[command(subcommand)]
        what: RulesCommand,
    },
    /// Route leads by the rules: withdraw offers past their SLA and offer every lead without
    /// one to the next partner.
    Route {
        /// Only say where the leads would go.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Accept a lead offered to this node (partner); --convert then converts it as `leads
    /// convert` does.
    Accept {
        id: String,
        /// Then turn it into an opportunity.
        #[arg(long)]
        convert: bool,
        /// With --convert: also share it with the vendor as a deal.
        #[arg(long, requires = "convert")]
        share: bool,
    },
    /// Reject a lead offered to this node (partner); the vendor routes it to another partner.
    Reject {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Turn a lead this node accepted into an opportunity (partner); with --share also a deal
    /// shared with the vendor, attributed to the vendor as source. Converting twice is refused.
    Convert {
        id: String,
        /// Also share the opportunity with the vendor as a co-sell deal.
        #[arg(long)]
        share: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Leads this node routes and leads offered to it.
    List {
        /// Only leads in this status (new, unroutable, offered, accepted, rejected, withdrawn).
        #[arg(long)]
        status: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One lead with its signed steps.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check a rules file without storing it; errors name line and key.
    Check { file: PathBuf },
    /// Check and store a rules file.
    Set { file: PathBuf },
    /// Print the stored rules file.
    Show,
}

fn read(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn send_text(
    client: &Client,
    method: &str,
    path: &str,
    kind: &str,
    bytes: Vec<u8>,
) -> Result<Value> {
    client
        .send(
            method,
            path,
            kind,
            Some(Box::new(std::io::Cursor::new(bytes))),
        )?
        .map_err(|f| anyhow!(f.sentence()))
}

pub fn run(dir: &DataDir, command: LeadsCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        LeadsCommand::Import { file } => {
            let r = send_text(&client, "POST", "/leads/import", "text/csv", read(&file)?)?;
            println!("imported {} leads", r["imported"]);
        }
        LeadsCommand::Rules { what } => match what {
            RulesCommand::Check { file } => {
                let r = send_text(
                    &client,
                    "POST",
                    "/leads/rules/check",
                    "application/toml",
                    read(&file)?,
                )?;
                println!("{}: valid", file.display());
                print_rules(&r);
            }
            RulesCommand::Set { file } => {
                let r = send_text(
                    &client,
                    "PUT",
                    "/leads/rules",
                    "application/toml",
                    read(&file)?,
                )?;
                println!("rules set");
                print_rules(&r);
            }
            RulesCommand::Show => {
                let r = client.json("GET", "/leads/rules", None)?;
                print!("{}", r["text"].as_str().unwrap_or_default());
            }
        },
        LeadsCommand::Route { dry_run, json } => {
            let path = if dry_run {
                "/leads/route?dry_run=true"
            } else {
                "/leads/route"
            };
            let r = client.json("POST", path, None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            let n = r["routed"].as_array().map_or(0, Vec::len);
            let verb = if dry_run { "would go" } else { "went" };
            println!("these {n} leads {verb} to:");
            for p in r["by_partner"].as_array().into_iter().flatten() {
                println!(
                    "  {:<30} {}",
                    p["partner_name"].as_str().unwrap_or("-"),
                    p["count"]
                );
            }
            if r["expired"].as_u64().unwrap_or(0) + r["rejected"].as_u64().unwrap_or(0) > 0 {
                println!(
                    "{} offers past their SLA withdrawn, {} rejected offers re-routed",
                    r["expired"], r["rejected"]
                );
            }
            for u in r["unroutable"].as_array().into_iter().flatten() {
                println!(
                    "  not routed: {} ({})",
                    u["company"].as_str().unwrap_or("-"),
                    u["reason"].as_str().unwrap_or("-")
                );
            }
        }
        LeadsCommand::Accept { id, convert, share } => {
            let r = client.json("POST", &format!("/leads/{}/accept", segment(&id)), None)?;
            print_lead(&r);
            if convert {
                // The offer's own id: `id` may be a prefix.
                let offer = r["id"].as_str().unwrap_or(&id).to_string();
                print_conversion(&client, &offer, share, false)?;
            }
        }
        LeadsCommand::Reject { id, reason } => {
            let body = json!({"reason": reason});
            let r = client.json(
                "POST",
                &format!("/leads/{}/reject", segment(&id)),
                Some(&body),
            )?;
            print_lead(&r);
        }
        LeadsCommand::Convert { id, share, json } => print_conversion(&client, &id, share, json)?,
        LeadsCommand::List { status, json } => {
            let path = match &status {
                Some(s) => format!("/leads?status={}", segment(s)),
                None => "/leads".to_string(),
            };
            let page = client.json("GET", &path, None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .for_each(print_lead);
            }
        }
        LeadsCommand::Show { id, json } => {
            let r = client.json("GET", &format!("/leads/{}", segment(&id)), None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_lead(&r);
                for h in r["history"].as_array().into_iter().flatten() {
                    let mark = if h["applied"] == true { "" } else { " (stale)" };
                    println!(
                        "  {} {} by {}{mark}",
                        h["at"].as_str().unwrap_or(""),
                        h["step"].as_str().unwrap_or(""),
                        h["by_name"].as_str().or(h["by"].as_str()).unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(())
}

fn print_rules(r: &Value) {
    println!("SLA {} s", r["sla_seconds"]);
    for p in r["partners"].as_array().into_iter().flatten() {
        println!("  {}", p["partner_name"].as_str().unwrap_or("-"));
    }
}

fn print_lead(r: &Value) {
    let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
    let id = s("id");
    let who = if r["direction"] == "inbound" {
        format!("from {}", s("vendor_name"))
    } else {
        format!("to {}", s("partner_name"))
    };
    println!(
        "{}  {:<10} {:<30} {:<3} {}",
        &id[..id.len().min(12)],
        s("status"),
        s("company"),
        s("country"),
        who
    );
}

/// Converts lead `id` (`POST /leads/{id}/convert`) and prints what it made.
fn print_conversion(client: &Client, id: &str, share: bool, json: bool) -> Result<()> {
    let path = format!("/leads/{}/convert?share={share}", segment(id));
    let r = client.json("POST", &path, None)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let account = if r["account_matched"] == true {
        "existing account"
    } else {
        "new account"
    };
    println!(
        "opportunity {} ({account} {})",
        r["opportunity_id"].as_str().unwrap_or("-"),
        r["account_id"].as_str().unwrap_or("-")
    );
    if let Some(deal) = r["deal_id"].as_str() {
        println!("deal {deal} shared with the vendor (sourced by the vendor)");
    }
    Ok(())
}
