//! `cosell mdf …`: market development funds through the running node's API.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::cli::partners::segment;
use anyhow::{Context, Result};
use base64::Engine;
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Debug, Subcommand)]
pub enum MdfCommand {
    /// Set a partner's fund for a quarter (vendor).
    Allocate {
        /// The partner: node id or unique name.
        partner: String,
        /// The quarter, YYYY-QN.
        #[arg(long)]
        period: String,
        /// Exact decimal amount.
        #[arg(long)]
        amount: String,
        /// ISO 4217 currency.
        #[arg(long)]
        currency: String,
    },
    /// Allocations per partner and quarter with their balances.
    Balances {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Propose a marketing activity to a vendor (partner); prints the request id.
    Propose {
        /// The vendor partner: node id or unique name.
        #[arg(long)]
        vendor: String,
        /// What the activity is.
        #[arg(long)]
        activity: String,
        /// event, webinar, digital, content, training, telemarketing or other.
        #[arg(long = "type")]
        activity_type: Option<String>,
        /// Requested amount (exact decimal).
        #[arg(long)]
        amount: String,
        /// ISO 4217 currency.
        #[arg(long)]
        currency: String,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        start: String,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        end: String,
        /// The fund's quarter, YYYY-QN (default: the quarter of --start).
        #[arg(long)]
        period: Option<String>,
        /// Expected leads.
        #[arg(long)]
        expected_leads: Option<String>,
        /// Expected pipeline (exact decimal).
        #[arg(long)]
        expected_pipeline: Option<String>,
    },
    /// Approve a request (vendor), for less than requested with --amount.
    Approve {
        id: String,
        #[arg(long)]
        amount: Option<String>,
    },
    /// Reject a request with a reason (vendor).
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Ask the partner for changes, with a reason (vendor).
    AskChanges {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Claim an approved request with proof of execution (partner).
    Claim {
        id: String,
        /// The proof attachment (at most 48 KiB).
        #[arg(long)]
        proof: std::path::PathBuf,
        /// Results of the activity.
        #[arg(long)]
        results: Option<String>,
    },
    /// Record the reimbursement of a claimed request (vendor).
    Reimburse {
        id: String,
        #[arg(long)]
        amount: String,
        /// Payment reference.
        #[arg(long)]
        reference: String,
        /// Payment date, YYYY-MM-DD (default today).
        #[arg(long)]
        paid_on: Option<String>,
    },
    /// Save a claim's proof attachment to FILE (its SHA-256 is checked against the signed one).
    Proof { id: String, out: std::path::PathBuf },
    /// MDF requests proposed here or to this vendor.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One request with its signed steps.
    Show {
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(dir: &DataDir, command: MdfCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    let on = |id: &str, what: &str| format!("/mdf/{}/{what}", segment(id));
    let shown = match command {
        MdfCommand::Allocate {
            partner,
            period,
            amount,
            currency,
        } => {
            let body = json!({"partner": partner, "period": period, "amount": amount, "currency": currency});
            let a = client.json("POST", "/mdf/allocations", Some(&body))?;
            print_balance(&a);
            return Ok(());
        }
        MdfCommand::Balances { json } => {
            let page = client.json("GET", "/mdf/allocations", None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .for_each(print_balance);
            }
            return Ok(());
        }
        MdfCommand::Propose {
            vendor,
            activity,
            activity_type,
            amount,
            currency,
            start,
            end,
            period,
            expected_leads,
            expected_pipeline,
        } => {
            let body = json!({"vendor": vendor, "activity": activity, "activity_type": activity_type,
                              "amount": amount, "currency": currency, "start": start, "end": end,
                              "period": period, "expected_leads": expected_leads,
                              "expected_pipeline": expected_pipeline});
            let r = client.json("POST", "/mdf", Some(&body))?;
            println!("{}", r["id"].as_str().unwrap_or_default());
            return Ok(());
        }
        MdfCommand::Approve { id, amount } => client.json(
            "POST",
            &on(&id, "approve"),
            Some(&json!({"amount": amount})),
        )?,
        MdfCommand::Reject { id, reason } => {
            client.json("POST", &on(&id, "reject"), Some(&json!({"reason": reason})))?
        }
        MdfCommand::AskChanges { id, reason } => client.json(
            "POST",
            &on(&id, "ask-changes"),
            Some(&json!({"reason": reason})),
        )?,
        MdfCommand::Claim { id, proof, results } => {
            let bytes = std::fs::read(&proof)
                .with_context(|| format!("cannot read the proof {}", proof.display()))?;
            let name = proof
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "proof".into());
            let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let body = json!({"proof_name": name, "proof_base64": encoded, "results": results});
            client.json("POST", &on(&id, "claim"), Some(&body))?
        }
        MdfCommand::Reimburse {
            id,
            amount,
            reference,
            paid_on,
        } => {
            let body = json!({"amount": amount, "reference": reference, "paid_on": paid_on});
            client.json("POST", &on(&id, "reimburse"), Some(&body))?
        }
        MdfCommand::Proof { id, out } => {
            let r = client.json("GET", &format!("/mdf/{}", segment(&id)), None)?;
            let mut bytes = Vec::new();
            client.download(&on(&id, "proof"), &mut bytes)?;
            let signed = r["proof"]["sha256"].as_str().unwrap_or_default();
            if protocol::kind::sha256_hex(&bytes) != signed {
                anyhow::bail!("the proof's bytes do not match the SHA-256 signed in request {id}");
            }
            std::fs::write(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "saved {} bytes (sha256 {signed}) to {}",
                bytes.len(),
                out.display()
            );
            return Ok(());
        }
        MdfCommand::List { json } => {
            let page = client.json("GET", "/mdf", None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .for_each(print_request);
            }
            return Ok(());
        }
        MdfCommand::Show { id, json } => {
            let r = client.json("GET", &format!("/mdf/{}", segment(&id)), None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            r
        }
    };
    print_request(&shown);
    for h in shown["history"].as_array().into_iter().flatten() {
        let mark = if h["applied"] == true { "" } else { " (stale)" };
        println!(
            "  {} {} by {}{mark}",
            h["at"].as_str().unwrap_or(""),
            h["step"].as_str().unwrap_or(""),
            h["by_name"].as_str().or(h["by"].as_str()).unwrap_or("")
        );
    }
    Ok(())
}

fn print_request(r: &Value) {
    let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
    println!(
        "{}  {:<17} {} → {}  {}  requested {} approved {} {}  {}",
        &s("id")[..12.min(s("id").len())],
        s("status"),
        s("partner_name"),
        s("vendor_name"),
        s("period"),
        s("requested"),
        s("approved_amount"),
        s("currency"),
        s("activity")
    );
}

fn print_balance(a: &Value) {
    let s = |k: &str| a[k].as_str().unwrap_or("-").to_string();
    println!(
        "{:<20} {}  allocated {} committed {} reimbursed {} available {} {}",
        s("partner_name"),
        s("period"),
        s("allocated"),
        s("committed"),
        s("reimbursed"),
        s("available"),
        s("currency")
    );
}
