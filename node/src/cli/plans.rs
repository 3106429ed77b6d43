//! `cosell plans …`: mutual account plans through the running node's API.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::cli::partners::segment;
use anyhow::Result;
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// Open a plan for an account with partners; prints the plan id.
    Create {
        /// The account's domain, e.g. acme.com.
        #[arg(long)]
        account_domain: String,
        /// The partners to plan with: node ids or unique names, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        with: Vec<String>,
        /// The account's name.
        #[arg(long)]
        account_name: Option<String>,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// This company's goals on a plan.
    Goal {
        #[command(subcommand)]
        what: GoalCommand,
    },
    /// This company's stakeholders on a plan (people: only when the policies share owner).
    Stakeholder {
        #[command(subcommand)]
        what: StakeholderCommand,
    },
    /// This company's tasks on a plan.
    Task {
        #[command(subcommand)]
        what: TaskCommand,
    },
    /// Add a note to a plan's timeline.
    Note {
        plan: String,
        #[arg(long)]
        text: String,
    },
    /// Every plan held here.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One plan: goals, stakeholders, tasks and timeline.
    Show {
        plan: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum GoalCommand {
    /// Add a goal.
    Add {
        plan: String,
        #[arg(long)]
        title: String,
        /// Target amount (exact decimal; needs --currency).
        #[arg(long)]
        amount: Option<String>,
        #[arg(long)]
        currency: Option<String>,
        /// Target date, YYYY-MM-DD.
        #[arg(long)]
        due: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StakeholderCommand {
    /// Add a stakeholder; prints the plan.
    Add {
        plan: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        company: Option<String>,
    },
    /// Remove one of this company's stakeholders.
    Remove { plan: String, stakeholder: String },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Add a task of this company; prints the task id.
    Add {
        plan: String,
        #[arg(long)]
        title: String,
        /// The person doing it (this company's).
        #[arg(long)]
        owner: Option<String>,
        /// Due date, YYYY-MM-DD.
        #[arg(long)]
        due: String,
    },
    /// Mark one of this company's tasks done.
    Done { plan: String, task: String },
}

pub fn run(dir: &DataDir, command: PlansCommand) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    let on = |id: &str, what: &str| format!("/plans/{}/{what}", segment(id));
    let plan = match command {
        PlansCommand::Create {
            account_domain,
            with,
            account_name,
            json,
        } => {
            let body = json!({"account_domain": account_domain, "account_name": account_name, "with": with});
            let p = client.json("POST", "/plans", Some(&body))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                println!("{}", p["id"].as_str().unwrap_or_default());
            }
            return Ok(());
        }
        PlansCommand::Goal {
            what:
                GoalCommand::Add {
                    plan,
                    title,
                    amount,
                    currency,
                    due,
                },
        } => {
            let body = json!({"title": title, "amount": amount, "currency": currency, "due": due});
            client.json("POST", &on(&plan, "goals"), Some(&body))?
        }
        PlansCommand::Stakeholder { what } => match what {
            StakeholderCommand::Add {
                plan,
                name,
                role,
                company,
            } => {
                let body = json!({"name": name, "role": role, "company": company});
                client.json("POST", &on(&plan, "stakeholders"), Some(&body))?
            }
            StakeholderCommand::Remove { plan, stakeholder } => client.json(
                "POST",
                &on(&plan, "stakeholders/remove"),
                Some(&json!({"stakeholder": stakeholder})),
            )?,
        },
        PlansCommand::Task { what } => match what {
            TaskCommand::Add {
                plan,
                title,
                owner,
                due,
            } => {
                let body = json!({"title": title, "owner": owner, "due": due});
                let r = client.json("POST", &on(&plan, "tasks"), Some(&body))?;
                println!("{}", r["task"].as_str().unwrap_or_default());
                return Ok(());
            }
            TaskCommand::Done { plan, task } => client.json(
                "POST",
                &on(&plan, "tasks/done"),
                Some(&json!({"task": task})),
            )?,
        },
        PlansCommand::Note { plan, text } => {
            client.json("POST", &on(&plan, "notes"), Some(&json!({"text": text})))?
        }
        PlansCommand::List { json } => {
            let page = client.json("GET", "/plans", None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                for p in page["items"].as_array().into_iter().flatten() {
                    print_summary(p);
                }
            }
            return Ok(());
        }
        PlansCommand::Show { plan, json } => {
            let p = client.json("GET", &format!("/plans/{}", segment(&plan)), None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&p)?);
                return Ok(());
            }
            p
        }
    };
    print_plan(&plan);
    Ok(())
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("-").to_string()
}

fn print_summary(p: &Value) {
    let companies: Vec<String> = p["companies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| s(c, "name"))
        .collect();
    let tasks = p["tasks"].as_array().map_or(0, Vec::len);
    println!(
        "{}  {:<24} {}  {} tasks, {} overdue",
        &s(p, "id")[..12.min(s(p, "id").len())],
        s(p, "account_domain"),
        companies.join(", "),
        tasks,
        p["overdue_tasks"].as_u64().unwrap_or(0)
    );
}

fn print_plan(p: &Value) {
    print_summary(p);
    for g in p["goals"].as_array().into_iter().flatten() {
        println!(
            "  goal  {}: {}  {} {}  by {}",
            s(g, "owner_name"),
            s(g, "title"),
            s(g, "amount"),
            s(g, "currency"),
            s(g, "due")
        );
    }
    for st in p["stakeholders"].as_array().into_iter().flatten() {
        println!(
            "  stakeholder  {}  {} ({}, {})  [{}]",
            s(st, "owner_name"),
            s(st, "name"),
            s(st, "role"),
            s(st, "company"),
            s(st, "id")
        );
    }
    for t in p["tasks"].as_array().into_iter().flatten() {
        let overdue = if t["overdue"] == true { " OVERDUE" } else { "" };
        println!(
            "  task  {} {}: {}  ({}) due {}{overdue}  [{}]",
            s(t, "status"),
            s(t, "owner_name"),
            s(t, "title"),
            s(t, "person"),
            s(t, "due"),
            s(t, "id")
        );
    }
    for e in p["timeline"].as_array().into_iter().flatten() {
        let mark = if e["applied"] == true { "" } else { " (stale)" };
        println!("  {} {}{mark}", s(e, "at"), s(e, "what"));
    }
}
