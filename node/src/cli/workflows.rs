//! `cosell inbox`, `cosell register` and `cosell registrations …`: thin shells over the running
//! node's API.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::cli::partners::segment;
use anyhow::Result;
use clap::Subcommand;
use serde_json::{json, Value};

/// Registration commands.
#[derive(Debug, Subcommand)]
pub enum RegistrationsCommand {
    /// Registrations made here or with this node as vendor (conflicts shown to the vendor).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One registration.
    Show {
        /// The registration id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a registration made with this node (vendor only).
    Approve {
        /// The registration id.
        id: String,
    },
    /// Change a pending registration this node made: each option given replaces that value; an
    /// empty value (`--close-date ""`) clears it.
    Change {
        /// The registration id.
        id: String,
        /// The customer's name.
        #[arg(long)]
        account_name: Option<String>,
        /// Expected amount.
        #[arg(long)]
        amount: Option<String>,
        /// ISO 4217 currency.
        #[arg(long)]
        currency: Option<String>,
        /// Expected close date, YYYY-MM-DD.
        #[arg(long)]
        close_date: Option<String>,
        /// Products, comma-separated.
        #[arg(long)]
        products: Option<String>,
    },
    /// Reject a registration made with this node, with a reason (vendor only).
    Reject {
        /// The registration id.
        id: String,
        /// Why (the partner sees it).
        #[arg(long)]
        reason: String,
    },
    /// Revoke an approved registration with a reason (vendor only): its protection ends now and
    /// the partner sees "revoked by VENDOR: reason".
    Revoke {
        /// The registration id.
        id: String,
        /// Why (the partner sees it).
        #[arg(long)]
        reason: String,
    },
}

/// What `cosell register` takes.
#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// The vendor partner (node id or name).
    #[arg(long)]
    pub vendor: String,
    /// The customer's domain.
    #[arg(long)]
    pub account_domain: String,
    /// The customer's name.
    #[arg(long)]
    pub account_name: String,
    /// Expected amount.
    #[arg(long)]
    pub amount: Option<String>,
    /// ISO 4217 currency (default: the node's).
    #[arg(long)]
    pub currency: Option<String>,
    /// Expected close date (YYYY-MM-DD).
    #[arg(long)]
    pub close_date: Option<String>,
    /// Products, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub products: Vec<String>,
    /// Notes for the vendor.
    #[arg(long)]
    pub notes: Option<String>,
}

/// Most pages a list command reads (at 1000 items each): a bound on a misbehaving server.
const LIST_PAGES_MAX: usize = 10_000;

/// Every item of a paged list route, as one `{"items": [...], "next_cursor": null}`.
fn all_pages(client: &Client, path: &str) -> Result<Value> {
    let join = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..LIST_PAGES_MAX {
        let mut url = format!("{path}{join}limit=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", segment(c)));
        }
        let page = client.json("GET", &url, None)?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) if Some(next) != cursor.as_deref() => cursor = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(json!({"items": items, "next_cursor": null}))
}

/// `cosell inbox`: invitations waiting for this node.
pub fn inbox(dir: &DataDir, json_out: bool, status: Option<String>) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    let path = match &status {
        Some(s) => format!("/inbox?status={}", segment(s)),
        None => "/inbox".to_string(),
    };
    let mut answer = all_pages(&client, &path)?;
    // Invitations from AWS ACE and Microsoft wait beside the partners' (`cosell hub accept`).
    let hub_path = path.replacen("/inbox", "/hub/invitations", 1);
    let hub = match &status {
        Some(s) if !crate::domain::hub::invitations::STATUSES.contains(&s.as_str()) => json!([]),
        _ => client.json("GET", &hub_path, None)?["items"].take(),
    };
    answer["hub_invitations"] = hub.clone();
    if json_out {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let items = answer["items"].as_array().cloned().unwrap_or_default();
    let hub = hub.as_array().cloned().unwrap_or_default();
    if items.is_empty() && hub.is_empty() {
        eprintln!("no invitations");
    }
    for i in &hub {
        println!(
            "{}  {:<9} from {} ({})  {}  {}  stage={}  expires {}",
            i["id"].as_str().unwrap_or("?"),
            i["status"].as_str().unwrap_or("?"),
            i["from"].as_str().unwrap_or("?"),
            i["hub"].as_str().unwrap_or("?"),
            i["title"].as_str().unwrap_or("(untitled)"),
            i["account_domain"].as_str().unwrap_or("-"),
            i["stage"].as_str().unwrap_or("-"),
            i["expires_at"].as_str().unwrap_or("-"),
        );
    }
    for i in items {
        println!(
            "{}  {:<9} from {}  {}  {}  stage={}  expires {}",
            i["deal_id"].as_str().unwrap_or("?"),
            i["status"].as_str().unwrap_or("?"),
            i["from_name"].as_str().unwrap_or("?"),
            i["title"].as_str().unwrap_or("(untitled)"),
            i["account_domain"].as_str().unwrap_or("-"),
            i["stage"].as_str().unwrap_or("-"),
            i["expires_at"].as_str().unwrap_or("-"),
        );
        if let Some(message) = i["message"].as_str() {
            println!("    message: {}", message.replace('\n', "\n             "));
        }
        if let Some(reason) = i["decline_reason"].as_str() {
            println!("    declined: {reason}");
        }
    }
    Ok(())
}

/// `cosell register …`: prints the registration id alone.
pub fn register(dir: &DataDir, a: RegisterArgs) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    let r = client.json(
        "POST",
        "/registrations",
        Some(&json!({
            "vendor": a.vendor, "account_domain": a.account_domain, "account_name": a.account_name,
            "amount": a.amount, "currency": a.currency, "close_date": a.close_date,
            "products": a.products, "notes": a.notes,
        })),
    )?;
    println!("{}", r["id"].as_str().unwrap_or_default());
    eprintln!(
        "registered {} with {}: {}",
        r["account_domain"].as_str().unwrap_or("?"),
        r["vendor_name"].as_str().unwrap_or("?"),
        r["status"].as_str().unwrap_or("?")
    );
    Ok(())
}

/// An amount with its currency, as `120000 USD`, or `-` without one.
fn amount_text(terms: &Value) -> String {
    match (terms["amount"].as_str(), terms["currency"].as_str()) {
        (Some(a), Some(c)) => format!("{a} {c}"),
        (Some(a), None) => a.to_string(),
        (None, _) => "-".into(),
    }
}

fn print_registration(r: &Value) {
    let mut flags = String::new();
    if r["overdue"] == true {
        flags.push_str("  OVERDUE");
    }
    if r["changed_after_decision"] == true {
        flags.push_str("  CHANGED AFTER DECISION");
    }
    println!(
        "{}  {:<8} {}  {} ({})  partner={}  vendor={}  submitted {}{}",
        r["id"].as_str().unwrap_or("?"),
        r["status"].as_str().unwrap_or("?"),
        r["account_name"].as_str().unwrap_or("?"),
        r["account_domain"].as_str().unwrap_or("?"),
        amount_text(r),
        r["partner_name"].as_str().unwrap_or("?"),
        r["vendor_name"].as_str().unwrap_or("?"),
        r["submitted_at"].as_str().unwrap_or("?"),
        flags,
    );
    if let Some(note) = r["note"].as_str() {
        println!("    {note}");
    } else if let Some(reason) = r["reason"].as_str() {
        println!("    reason: {reason}");
    }
    if r["changed_after_decision"] == true {
        let decided = &r["decided_terms"];
        let products = |t: &Value| {
            t["products"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        println!(
            "    decided on: {} '{}' amount {} close {} products [{}] (approve or reject again to decide the terms above)",
            r["status"].as_str().unwrap_or("?"),
            decided["account_name"].as_str().unwrap_or("?"),
            amount_text(decided),
            decided["close_date"].as_str().unwrap_or("-"),
            products(decided),
        );
    }
    for c in r["conflicts"].as_array().into_iter().flatten() {
        match c["kind"].as_str() {
            Some("opportunity") => println!(
                "    conflict: own opportunity {} '{}' ({})",
                c["opportunity_id"].as_str().unwrap_or("?"),
                c["name"].as_str().unwrap_or("?"),
                c["stage"].as_str().unwrap_or("?")
            ),
            Some("duplicate") => println!(
                "    duplicate: {} already registered this account ({}, {})",
                c["partner_name"].as_str().unwrap_or("?"),
                c["registration_id"].as_str().unwrap_or("?"),
                c["status"].as_str().unwrap_or("?")
            ),
            _ => println!(
                "    conflict: {} registered first ({}, {})",
                c["partner_name"].as_str().unwrap_or("?"),
                c["registration_id"].as_str().unwrap_or("?"),
                c["status"].as_str().unwrap_or("?")
            ),
        }
    }
}

/// Runs one registrations command.
pub fn registrations(dir: &DataDir, command: RegistrationsCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match command {
        RegistrationsCommand::List { json } => {
            let answer = all_pages(&client, "/registrations")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            for r in answer["items"].as_array().into_iter().flatten() {
                print_registration(r);
            }
        }
        RegistrationsCommand::Show { id, json } => {
            let r = client.json("GET", &format!("/registrations/{}", segment(&id)), None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_registration(&r);
            }
        }
        RegistrationsCommand::Approve { id } => {
            let r = client.json(
                "POST",
                &format!("/registrations/{}/approve", segment(&id)),
                None,
            )?;
            eprintln!("approved until {}", r["expires_at"].as_str().unwrap_or("?"));
        }
        RegistrationsCommand::Change {
            id,
            account_name,
            amount,
            currency,
            close_date,
            products,
        } => {
            let mut body = serde_json::Map::new();
            // An empty value clears (JSON null); an option not given is left out (kept).
            let text = |v: String| match v.trim() {
                "" => Value::Null,
                t => Value::from(t),
            };
            for (key, value) in [
                ("account_name", account_name),
                ("amount", amount),
                ("currency", currency),
                ("close_date", close_date),
            ] {
                if let Some(v) = value {
                    body.insert(key.into(), text(v));
                }
            }
            if let Some(p) = products {
                let list: Vec<&str> = p
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                body.insert("products".into(), json!(list));
            }
            if body.is_empty() {
                anyhow::bail!("nothing to change: give --amount, --currency, --close-date, --products or --account-name");
            }
            let r = client.json(
                "PATCH",
                &format!("/registrations/{}", segment(&id)),
                Some(&Value::Object(body)),
            )?;
            print_registration(&r);
        }
        RegistrationsCommand::Reject { id, reason } => {
            client.json(
                "POST",
                &format!("/registrations/{}/reject", segment(&id)),
                Some(&json!({ "reason": reason })),
            )?;
            eprintln!("rejected");
        }
        RegistrationsCommand::Revoke { id, reason } => {
            let r = client.json(
                "POST",
                &format!("/registrations/{}/revoke", segment(&id)),
                Some(&json!({ "reason": reason })),
            )?;
            eprintln!("{}", r["note"].as_str().unwrap_or("revoked"));
        }
    }
    Ok(())
}
