//! `cosell share` and `cosell deals …`: thin shells over the running node's API.

use crate::client::Client;
use crate::datadir::DataDir;
use crate::partner_cli::segment;
use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};

/// Deal commands.
#[derive(Debug, Subcommand)]
pub enum DealsCommand {
    /// List shared deals.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one deal with each change's author, time and signature check.
    Show {
        /// The deal id.
        deal: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write this node's own section of a deal.
    Note {
        /// The deal id.
        deal: String,
        /// A note to append.
        #[arg(long)]
        note: Option<String>,
        /// This node's next step.
        #[arg(long)]
        next_step: Option<String>,
        /// This node's contribution.
        #[arg(long)]
        contribution: Option<String>,
    },
    /// Accept this node's invitation to a deal.
    Accept {
        /// The deal id.
        deal: String,
    },
    /// Decline this node's invitation to a deal.
    Decline {
        /// The deal id.
        deal: String,
    },
}

/// `cosell share OPP --with P1,P2`: prints the new deal id alone.
pub fn share(
    dir: &DataDir,
    opportunity: &str,
    with: &[String],
    role: Option<String>,
) -> Result<()> {
    if with.is_empty() {
        bail!("name the partners to share with: --with PARTNER[,PARTNER…]");
    }
    let client = Client::for_data_dir(dir)?;
    let deal = client.json(
        "POST",
        "/deals",
        Some(&json!({"opportunity_id": opportunity, "partners": with, "role": role})),
    )?;
    println!("{}", deal["id"].as_str().unwrap_or_default());
    let fields: Vec<&str> = deal["fields"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    eprintln!("shared fields: {}", fields.join(", "));
    Ok(())
}

/// Runs one deals command.
pub fn run(dir: &DataDir, command: DealsCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        DealsCommand::List { json } => {
            let answer = client.json("GET", "/deals", None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            for d in answer["items"].as_array().into_iter().flatten() {
                let names: Vec<String> = d["participants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        format!(
                            "{} ({})",
                            p["name"].as_str().unwrap_or("?"),
                            p["status"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                println!(
                    "{}  {}  stage={}  with {}",
                    d["id"].as_str().unwrap_or("?"),
                    d["fields"]["name"].as_str().unwrap_or("(untitled)"),
                    d["stage"].as_str().unwrap_or("-"),
                    names.join(", ")
                );
            }
        }
        DealsCommand::Show { deal, json } => {
            let d = client.json("GET", &format!("/deals/{}", segment(&deal)), None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print_deal(&d);
            }
        }
        DealsCommand::Note {
            deal,
            note,
            next_step,
            contribution,
        } => {
            client.json(
                "PATCH",
                &format!("/deals/{}", segment(&deal)),
                Some(&json!({"note": note, "next_step": next_step, "contribution": contribution})),
            )?;
            eprintln!("section updated");
        }
        DealsCommand::Accept { deal } => {
            client.json("POST", &format!("/deals/{}/accept", segment(&deal)), None)?;
            eprintln!("accepted");
        }
        DealsCommand::Decline { deal } => {
            client.json("POST", &format!("/deals/{}/decline", segment(&deal)), None)?;
            eprintln!("declined");
        }
    }
    Ok(())
}

fn print_deal(d: &Value) {
    println!("deal {}", d["id"].as_str().unwrap_or("?"));
    println!("origin {}", d["origin"].as_str().unwrap_or("?"));
    println!("participants:");
    for p in d["participants"].as_array().into_iter().flatten() {
        println!(
            "  {}  {}  {}  {}",
            p["id"].as_str().unwrap_or("?"),
            p["name"].as_str().unwrap_or("?"),
            p["role"].as_str().unwrap_or("?"),
            p["status"].as_str().unwrap_or("?")
        );
    }
    println!("fields:");
    for (k, v) in d["fields"].as_object().into_iter().flatten() {
        println!("  {k}: {}", v.as_str().unwrap_or_default());
    }
    println!("sections:");
    for (node, s) in d["sections"].as_object().into_iter().flatten() {
        println!("  {node}: {s}");
    }
    println!("history:");
    for h in d["history"].as_array().into_iter().flatten() {
        println!(
            "  {}  {}  {}  {}  {}",
            h["at"].as_str().unwrap_or("?"),
            &h["change"].as_str().unwrap_or("?")
                [..12.min(h["change"].as_str().unwrap_or("").len())],
            h["author"].as_str().unwrap_or("?"),
            if h["verified"].as_bool() == Some(true) {
                "signature ok"
            } else {
                "SIGNATURE BAD"
            },
            h["summary"].as_str().unwrap_or("")
        );
    }
}
