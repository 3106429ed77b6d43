//! `cosell partner …` and `cosell audit`: thin shells over the running node's API.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use anyhow::Result;
use clap::Subcommand;
use serde_json::{json, Value};

/// Partner commands.
#[derive(Debug, Subcommand)]
pub enum PartnerCommand {
    /// Print a one-time invite token (alone on stdout) for a partner to join with.
    Invite {
        /// What the joiner will be to this node: reseller, distributor, si, isv, msp, referral, vendor.
        #[arg(long = "type")]
        partner_type: Option<String>,
        /// Days until the invite expires (default 7).
        #[arg(long)]
        expires_in_days: Option<u64>,
    },
    /// Join the node that issued TOKEN; both sides record an active partnership.
    Join {
        /// The invite token.
        token: String,
        /// What the inviter is to this node: reseller, distributor, si, isv, msp, referral, vendor.
        #[arg(long = "type")]
        partner_type: Option<String>,
    },
    /// List partners with status, last seen and policy summary.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a partner's region (the `region:R` audience of `cosell announce`); without REGION,
    /// clear it.
    Region {
        /// Node id or unique partner name.
        partner: String,
        /// The region, e.g. EMEA.
        region: Option<String>,
    },
    /// End a partnership: closes the connection and refuses the partner from then on.
    Remove {
        /// Node id or unique partner name.
        partner: String,
    },
}

/// Escapes a path segment.
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs one partner command.
pub fn run(dir: &DataDir, command: PartnerCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        PartnerCommand::Invite {
            partner_type,
            expires_in_days,
        } => {
            let answer = client.json(
                "POST",
                "/partners/invites",
                Some(&json!({"type": partner_type, "expires_in_days": expires_in_days})),
            )?;
            println!("{}", answer["token"].as_str().unwrap_or_default());
            if let Some(w) = answer["warning"].as_str() {
                eprintln!("warning: {w}");
            }
            eprintln!(
                "invite valid until {}; the partner runs `cosell partner join TOKEN`",
                answer["expires_at"].as_str().unwrap_or("?")
            );
        }
        PartnerCommand::Join {
            token,
            partner_type,
        } => {
            let p = client.json(
                "POST",
                "/partners/join",
                Some(&json!({"token": token, "type": partner_type})),
            )?;
            println!("{}", p["id"].as_str().unwrap_or_default());
            eprintln!(
                "now partners with {}",
                p["name"].as_str().unwrap_or_default()
            );
            if let Some(old) = p["previous_policy"].as_str() {
                eprintln!("note: you were partners before; {old}");
            }
        }
        PartnerCommand::List { json } => {
            let items = client.list_all("/partners")?;
            if json {
                let answer = json!({"items": items, "next_cursor": null});
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            if items.is_empty() {
                eprintln!("no partners yet: `cosell partner invite` makes a token to give one");
            }
            for p in items {
                print_partner(&p);
            }
        }
        PartnerCommand::Region { partner, region } => {
            let p = client.json(
                "PUT",
                &format!("/partners/{}/region", segment(&partner)),
                Some(&json!({ "region": region })),
            )?;
            match p["region"].as_str() {
                Some(r) => eprintln!("region of {} is now {r}", partner),
                None => eprintln!("region of {} cleared", partner),
            }
        }
        PartnerCommand::Remove { partner } => {
            let p = client.json("DELETE", &format!("/partners/{}", segment(&partner)), None)?;
            eprintln!(
                "removed partner {} ({}); its connections are refused from now on",
                p["name"].as_str().unwrap_or_default(),
                p["id"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn print_partner(p: &Value) {
    let s = |k: &str| p[k].as_str().unwrap_or("-").to_string();
    let status = match (p["connected"].as_bool(), p["removed_by"].as_str()) {
        (_, Some("partner")) => format!("{} (ended by the partner)", s("status")),
        (Some(true), None) => match p["connection"].as_str() {
            Some(via @ ("relayed" | "hole-punched" | "direct")) => format!("connected ({via})"),
            _ => "connected".to_string(),
        },
        _ => s("status"),
    };
    println!(
        "{}  {}  type={}  region={}  status={}  since={}  last_seen={}\n    policy: {}",
        s("id"),
        s("name"),
        s("type"),
        s("region"),
        status,
        s("since"),
        s("last_seen"),
        s("policy")
    );
}

/// `cosell audit`.
pub fn audit(dir: &DataDir, json: bool, kind: Option<String>, limit: usize) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    let mut path = format!("/audit?limit={limit}");
    if let Some(k) = kind {
        path.push_str(&format!("&kind={}", segment(&k)));
    }
    let answer = client.json("GET", &path, None)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    for e in answer["items"].as_array().into_iter().flatten() {
        println!(
            "{}  {:<12} {}  [by {}]",
            e["at"].as_str().unwrap_or("?"),
            e["kind"].as_str().unwrap_or("?"),
            e["summary"].as_str().unwrap_or(""),
            e["actor"].as_str().unwrap_or("unrecorded")
        );
    }
    Ok(())
}
