//! `cosell announce --to AUDIENCE --title T --body B` (send), `announce list [--json]` (sent with
//! read counts, received with read state), `announce read ID` (the partner's read receipt).

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::cli::policy::url_escape;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

/// `cosell announce …`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AnnounceArgs {
    #[command(subcommand)]
    what: Option<AnnounceCommand>,
    /// Who gets it: all, tier:T (the program's tier now), type:T (partner type), region:R.
    #[arg(long)]
    to: Option<String>,
    /// The title (at most 200 characters).
    #[arg(long)]
    title: Option<String>,
    /// The text (at most 10,000 characters).
    #[arg(long)]
    body: Option<String>,
}

/// `cosell announce list|read`.
#[derive(Debug, Subcommand)]
pub enum AnnounceCommand {
    /// Announcements sent (with how many partners read them) and received (read or not).
    List {
        /// Only `sent` or only `received`.
        #[arg(long, value_parser = ["sent", "received"])]
        direction: Option<String>,
        /// Print the API's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Mark a received announcement read (the vendor sees the read receipt).
    Read {
        /// The announcement's id (from `announce list`).
        id: String,
    },
}

/// Runs `cosell announce …`.
pub fn run(dir: &DataDir, args: AnnounceArgs) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    match args.what {
        Some(AnnounceCommand::List { direction, json }) => {
            let path = match &direction {
                Some(d) => format!("/announcements?direction={d}"),
                None => "/announcements".to_string(),
            };
            let answer = client.json("GET", &path, None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            let items = answer["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("no announcements");
            }
            for a in &items {
                print_item(a);
            }
        }
        Some(AnnounceCommand::Read { id }) => {
            let a = client.json(
                "POST",
                &format!("/announcements/{}/read", url_escape(&id)),
                None,
            )?;
            eprintln!(
                "read '{}' from {}",
                a["title"].as_str().unwrap_or(""),
                a["from"]["name"].as_str().unwrap_or("?")
            );
        }
        None => {
            let (Some(to), Some(title), Some(body)) = (args.to, args.title, args.body) else {
                bail!("announce needs --to, --title and --body (or `announce list` / `announce read ID`)");
            };
            let a = client.json(
                "POST",
                "/announcements",
                Some(&json!({"to": to, "title": title, "body": body})),
            )?;
            println!("{}", a["id"].as_str().unwrap_or(""));
            eprintln!(
                "announced '{}' to {} partner(s) ({}); partners offline now get it when they reconnect",
                a["title"].as_str().unwrap_or(""),
                a["recipients"],
                a["audience"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

fn print_item(a: &Value) {
    let s = |k: &str| a[k].as_str().unwrap_or("").to_string();
    if a["direction"] == "sent" {
        println!(
            "{}  sent {}  to {}  read by {} of {}  {}",
            s("id"),
            s("sent_at"),
            s("audience"),
            a["read_count"],
            a["recipients"],
            s("title")
        );
    } else {
        println!(
            "{}  from {}  {}  {}  {}",
            s("id"),
            a["from"]["name"].as_str().unwrap_or("?"),
            s("sent_at"),
            if a["read"] == true { "read" } else { "UNREAD" },
            s("title")
        );
        println!("    {}", s("body").replace('\n', "\n    "));
    }
}
