//! `cosell share` and `cosell deals …`: thin shells over the running node's API.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::cli::partners::segment;
use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};

/// Deal commands.
#[derive(Debug, Subcommand)]
pub enum DealsCommand {
    /// List shared deals, and withdrawn ones (marked, with who withdrew them, when and why).
    List {
        /// Only `active` deals, only `withdrawn` ones, or `all` (default).
        #[arg(long, value_parser = ["active", "withdrawn", "all"], default_value = "all")]
        status: String,
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
    /// Accept this node's invitations to deals (one or many ids, or --all waiting ones).
    Accept {
        /// Deal ids (or unique prefixes).
        #[arg(required_unless_present = "all")]
        deals: Vec<String>,
        /// Every invitation still waiting for an answer.
        #[arg(long, conflicts_with = "deals")]
        all: bool,
    },
    /// Decline this node's invitations to deals (one or many ids, or --all waiting ones).
    Decline {
        /// Deal ids (or unique prefixes).
        #[arg(required_unless_present = "all")]
        deals: Vec<String>,
        /// Every invitation still waiting for an answer.
        #[arg(long, conflicts_with = "deals")]
        all: bool,
        /// Why, for the partner that invited (at most 500 characters).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Withdraw a deal this node shared: every participant keeps only who, when and why.
    Withdraw {
        /// The deal id.
        deal: String,
        /// Why (every participant sees it).
        #[arg(long)]
        reason: String,
    },
    /// Invite a partner again after its invitation expired or it declined (a new deal from the
    /// same opportunity); prints the new deal id.
    Reinvite {
        /// The deal id.
        deal: String,
        /// The partner (node id or name).
        #[arg(long)]
        partner: String,
    },
    /// Link a deal to one of this node's opportunities (or create one on the deal's account).
    Link {
        /// The deal id.
        deal: String,
        /// This node's opportunity id.
        #[arg(long, conflicts_with = "create")]
        opportunity: Option<String>,
        /// Create an opportunity, matched to an account by the deal's domain.
        #[arg(long)]
        create: bool,
        /// Link an opportunity on another account than the deal's.
        #[arg(long, requires = "opportunity")]
        force: bool,
    },
    /// Propose who sourced and who influenced a deal (participants by id or name).
    Attribute {
        /// The deal id.
        deal: String,
        /// The participant that sourced the deal.
        #[arg(long)]
        sourced_by: String,
        /// Participants that influenced it, comma-separated.
        #[arg(long, value_delimiter = ',')]
        influenced_by: Vec<String>,
    },
    /// Accept another participant's attribution proposal.
    AcceptAttribution {
        /// The deal id.
        deal: String,
        /// The proposer (needed when several proposed).
        #[arg(long)]
        proposer: Option<String>,
    },
}

/// `cosell deals accept|decline ID…|--all`: one deal through its own route (its answer's error
/// as it is), several in one bulk request, each failure named.
fn respond_many(
    client: &Client,
    deals: Vec<String>,
    all: bool,
    accept: bool,
    reason: Option<String>,
) -> Result<()> {
    let verb = if accept { "accept" } else { "decline" };
    let done = if accept { "accepted" } else { "declined" };
    if let [deal] = &deals[..] {
        let body = reason.as_ref().map(|r| json!({ "reason": r }));
        client.json(
            "POST",
            &format!("/deals/{}/{verb}", segment(deal)),
            body.as_ref(),
        )?;
        eprintln!("{done}");
        return Ok(());
    }
    let mut body = if all {
        json!({"all": true})
    } else {
        json!({ "deals": deals })
    };
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    let answer = client.json("POST", &format!("/inbox/{verb}"), Some(&body))?;
    for r in answer["results"].as_array().into_iter().flatten() {
        if r["ok"] == false {
            eprintln!(
                "{}: {}",
                r["deal"].as_str().unwrap_or("?"),
                r["error"].as_str().unwrap_or("failed")
            );
        }
    }
    let failed = answer["failed"].as_u64().unwrap_or(0);
    eprintln!(
        "{done} {} invitation(s){}",
        answer["answered"].as_u64().unwrap_or(0),
        if failed > 0 {
            format!("; {failed} failed (above)")
        } else {
            String::new()
        }
    );
    if failed > 0 {
        bail!("{failed} invitation(s) could not be {done}");
    }
    Ok(())
}

/// `cosell share OPP… --with P1,P2`: prints the new deal id alone (one per line for several
/// opportunities, each shared under its own policy check).
pub fn share(
    dir: &DataDir,
    opportunities: &[String],
    with: &[String],
    role: Option<String>,
    message: Option<String>,
) -> Result<()> {
    if with.is_empty() {
        bail!("name the partners to share with: --with PARTNER[,PARTNER…]");
    }
    let client = Client::for_data_dir(dir)?;
    let [opportunity] = opportunities else {
        let answer = client.json(
            "POST",
            "/deals/bulk",
            Some(
                &json!({"opportunity_ids": opportunities, "partners": with, "role": role,
                         "message": message}),
            ),
        )?;
        for r in answer["results"].as_array().into_iter().flatten() {
            match r["deal"].as_str() {
                Some(deal) => println!("{deal}"),
                None => eprintln!(
                    "{}: {}",
                    r["opportunity_id"].as_str().unwrap_or("?"),
                    r["error"].as_str().unwrap_or("not shared")
                ),
            }
        }
        let failed = answer["failed"].as_u64().unwrap_or(0);
        eprintln!(
            "shared {} opportunities{}",
            answer["shared"].as_u64().unwrap_or(0),
            if failed > 0 {
                format!("; {failed} not shared (above)")
            } else {
                String::new()
            }
        );
        if failed > 0 {
            bail!("{failed} opportunities could not be shared");
        }
        return Ok(());
    };
    let deal = client.json(
        "POST",
        "/deals",
        Some(
            &json!({"opportunity_id": opportunity, "partners": with, "role": role,
                     "message": message}),
        ),
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
        DealsCommand::List { status, json } => {
            let items = client.list_all(&format!("/deals?status={status}"))?;
            if json {
                let answer = serde_json::json!({"items": items, "next_cursor": null});
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            if items.is_empty() {
                eprintln!("no deals yet: `cosell share OPPORTUNITY --with PARTNER` makes one");
            }
            for d in &items {
                if d["status"] == "withdrawn" {
                    println!(
                        "{}  WITHDRAWN  {}",
                        d["id"].as_str().unwrap_or("?"),
                        d["note"].as_str().unwrap_or("withdrawn")
                    );
                    continue;
                }
                let names: Vec<String> = d["participants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let status = if p["partnership"] == "ended" {
                            "partnership ended"
                        } else {
                            p["status"].as_str().unwrap_or("?")
                        };
                        format!("{} ({status})", p["name"].as_str().unwrap_or("?"))
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
        DealsCommand::Accept { deals, all } => respond_many(&client, deals, all, true, None)?,
        DealsCommand::Decline { deals, all, reason } => {
            respond_many(&client, deals, all, false, reason)?
        }
        DealsCommand::Withdraw { deal, reason } => {
            let d = client.json(
                "POST",
                &format!("/deals/{}/withdraw", segment(&deal)),
                Some(&json!({ "reason": reason })),
            )?;
            eprintln!("{}", d["note"].as_str().unwrap_or("withdrawn"));
        }
        DealsCommand::Reinvite { deal, partner } => {
            let d = client.json(
                "POST",
                &format!("/deals/{}/reinvite", segment(&deal)),
                Some(&json!({ "partner": partner })),
            )?;
            println!("{}", d["id"].as_str().unwrap_or_default());
            eprintln!("invited {partner} again as a new deal");
        }
        DealsCommand::Link {
            deal,
            opportunity,
            create,
            force,
        } => {
            if opportunity.is_none() && !create {
                bail!("name the opportunity (--opportunity ID) or --create one");
            }
            let body = match opportunity {
                Some(o) => json!({ "opportunity_id": o, "force": force }),
                None => json!({ "create": true }),
            };
            let d = client.json(
                "POST",
                &format!("/deals/{}/link", segment(&deal)),
                Some(&body),
            )?;
            print_stages(&d);
        }
        DealsCommand::Attribute {
            deal,
            sourced_by,
            influenced_by,
        } => {
            let d = client.json(
                "POST",
                &format!("/deals/{}/attribution", segment(&deal)),
                Some(&json!({"sourced_by": sourced_by, "influenced_by": influenced_by})),
            )?;
            println!("{}", serde_json::to_string_pretty(&d["attribution"])?);
        }
        DealsCommand::AcceptAttribution { deal, proposer } => {
            let d = client.json(
                "POST",
                &format!("/deals/{}/attribution/accept", segment(&deal)),
                Some(&json!({ "proposer": proposer })),
            )?;
            println!("{}", serde_json::to_string_pretty(&d["attribution"])?);
        }
    }
    Ok(())
}

fn print_stages(d: &Value) {
    let names: std::collections::HashMap<&str, &str> = d["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    for (node, stage) in d["stages"].as_object().into_iter().flatten() {
        println!(
            "  {}: {}",
            names.get(node.as_str()).unwrap_or(&node.as_str()),
            stage.as_str().unwrap_or("-")
        );
    }
}

fn print_deal(d: &Value) {
    if d["status"] == "withdrawn" {
        println!("deal {}", d["id"].as_str().unwrap_or("?"));
        println!("{}", d["note"].as_str().unwrap_or("withdrawn"));
        return;
    }
    // People read names: every node id the answer holds is shown by its participant's name.
    let names: Vec<(String, String)> = d["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p["id"].as_str()?.to_string(),
                p["name"].as_str()?.to_string(),
            ))
        })
        .collect();
    let name = |id: &str| -> String {
        names
            .iter()
            .find(|(n, _)| n == id)
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let text = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
            Value::Null => "-".to_string(),
            other => other.to_string(),
        }
    };
    println!("deal {}", d["id"].as_str().unwrap_or("?"));
    println!(
        "shared by {}",
        d["origin"]
            .as_str()
            .map(&name)
            .unwrap_or_else(|| "?".into())
    );
    if let Some(note) = d["no_longer_shared"]["note"].as_str() {
        println!("{note}");
    }
    if let Some(closed) = d["closed"].as_str() {
        println!("{closed}");
    }
    println!("participants:");
    for p in d["participants"].as_array().into_iter().flatten() {
        let status = if p["partnership"] == "ended" {
            "partnership ended"
        } else {
            p["status"].as_str().unwrap_or("?")
        };
        println!(
            "  {}  ({}, {status})  {}",
            p["name"].as_str().unwrap_or("?"),
            p["role"].as_str().unwrap_or("?"),
            p["id"].as_str().unwrap_or("?"),
        );
        if p["status"] == "declined" {
            match p["decline_reason"].as_str() {
                Some(reason) => println!(
                    "    declined by {}: {reason}",
                    p["name"].as_str().unwrap_or("?")
                ),
                None => println!(
                    "    declined by {} (no reason given)",
                    p["name"].as_str().unwrap_or("?")
                ),
            }
        }
    }
    println!("fields:");
    for (k, v) in d["fields"].as_object().into_iter().flatten() {
        println!("  {k}: {}", text(v));
    }
    println!("stages:");
    print_stages(d);
    let a = &d["attribution"];
    if let Some(proposals) = a["proposals"].as_array().filter(|p| !p.is_empty()) {
        let state = if !a["agreed"].is_null() {
            "agreed"
        } else if a["disputed"] == true {
            "disputed"
        } else {
            "proposed"
        };
        println!("attribution ({state}):");
        for p in proposals {
            let influenced: Vec<String> = p["influenced_by"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(&name))
                .collect();
            let accepted: Vec<String> = p["accepted_by"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(&name))
                .collect();
            println!(
                "  {} proposes: sourced by {}; influenced by {}; accepted by {}",
                p["by"].as_str().map(&name).unwrap_or_default(),
                p["sourced_by"]
                    .as_str()
                    .map(&name)
                    .unwrap_or_else(|| "-".into()),
                if influenced.is_empty() {
                    "-".into()
                } else {
                    influenced.join(", ")
                },
                if accepted.is_empty() {
                    "-".into()
                } else {
                    accepted.join(", ")
                },
            );
        }
    }
    println!("sections:");
    for (node, s) in d["sections"].as_object().into_iter().flatten() {
        println!("  {}:", name(node));
        for (k, v) in s.as_object().into_iter().flatten() {
            if v.is_null() || v.as_array().is_some_and(|a| a.is_empty()) {
                continue;
            }
            println!("    {}: {}", k.replace('_', " "), text(v));
        }
    }
    println!("history:");
    for h in d["history"].as_array().into_iter().flatten() {
        let mut summary = h["summary"].as_str().unwrap_or("").to_string();
        for (id, n) in &names {
            summary = summary.replace(&format!("{}…", &id[..16.min(id.len())]), n);
        }
        println!(
            "  {}  {:<14} {}  ({}, change {})",
            h["at"].as_str().unwrap_or("?"),
            h["author"]
                .as_str()
                .map(&name)
                .unwrap_or_else(|| "?".into()),
            summary,
            if h["verified"].as_bool() == Some(true) {
                "signature ok"
            } else {
                "SIGNATURE BAD"
            },
            &h["change"].as_str().unwrap_or("?")
                [..12.min(h["change"].as_str().unwrap_or("").len())],
        );
    }
}
