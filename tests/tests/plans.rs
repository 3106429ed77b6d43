//! Mutual account plans between three real nodes: the vendor opens a plan for an account with
//! two partners; each company adds its own goals and tasks through the CLI; one company trying
//! to complete another's task is refused by its node; an overdue task reaches "needs you" of its
//! owner and the other companies' events; a stakeholder passes its company's policy and `cosell
//! erase` removes it from every node.
//!
//! Goal: a plan is one document co-edited by three companies, each changing only its own items.
//! Method: three `cosell` processes on loopback, every step through the CLI as users run it,
//! each node's API read after the steps.

use cosell_e2e::{expect_event, hook, partner, put_policy, wait, Node};
use serde_json::Value;

fn cli_ok(node: &Node, args: &[&str]) -> String {
    let out = node.cli(args);
    assert!(out.ok(), "{args:?}: {}", out.stderr);
    out.stdout.trim().to_string()
}

fn plan(node: &Node, id: &str) -> Option<Value> {
    let r = node.get(&format!("/api/v1/plans/{id}"));
    (r.status == 200).then_some(r.json)
}

fn wait_plan(node: &Node, id: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    wait(&format!("{} to see {what}", node.name), || {
        plan(node, id).filter(|p| f(p))
    })
}

fn task<'a>(p: &'a Value, id: &str) -> &'a Value {
    p["tasks"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["id"] == id))
        .unwrap_or(&Value::Null)
}

#[test]
fn a_plan_co_edited_by_three_companies_each_changing_only_its_own_items() {
    let mut vendor = Node::init("Vendor Co");
    let mut alpha = Node::init("Alpha Resell");
    let mut beta = Node::init("Beta SI");
    vendor.serve();
    alpha.serve();
    beta.serve();
    partner(&vendor, &alpha, "reseller", "vendor");
    partner(&vendor, &beta, "si", "vendor");
    partner(&alpha, &beta, "si", "reseller");
    let events = hook(&vendor, &["plan.*"]);

    let with = format!("{},Beta SI", alpha.id);
    let id = cli_ok(
        &vendor,
        &[
            "plans",
            "create",
            "--account-domain",
            "acme.example",
            "--with",
            &with,
        ],
    );
    assert_eq!(id.len(), 64, "an id: {id}");
    // One plan per account per set of companies.
    assert!(!vendor
        .cli(&[
            "plans",
            "create",
            "--account-domain",
            "ACME.example",
            "--with",
            &with
        ])
        .ok());
    for n in [&alpha, &beta] {
        wait_plan(n, &id, "the plan", |p| {
            p["companies"].as_array().map(Vec::len) == Some(3)
        });
    }
    cli_ok(
        &vendor,
        &[
            "plans",
            "goal",
            "add",
            &id,
            "--title",
            "Close the platform deal",
            "--amount",
            "250000",
            "--currency",
            "EUR",
            "--due",
            "2027-06-30",
        ],
    );
    let alpha_task = cli_ok(
        &alpha,
        &[
            "plans",
            "task",
            "add",
            &id,
            "--title",
            "Run the discovery workshop",
            "--owner",
            "Ana",
            "--due",
            "2020-01-31",
        ],
    );
    let beta_task = cli_ok(
        &beta,
        &[
            "plans",
            "task",
            "add",
            &id,
            "--title",
            "Send the integration quote",
            "--owner",
            "Ben",
            "--due",
            "2999-01-01",
        ],
    );
    let vendor_task = cli_ok(
        &vendor,
        &[
            "plans",
            "task",
            "add",
            &id,
            "--title",
            "Exec sponsor call",
            "--due",
            "2999-02-01",
        ],
    );
    for n in [&vendor, &alpha, &beta] {
        let p = wait_plan(n, &id, "three tasks and the goal", |p| {
            p["tasks"].as_array().map(Vec::len) == Some(3)
                && p["goals"].as_array().map(Vec::len) == Some(1)
        });
        assert_eq!(task(&p, &alpha_task)["owner_name"], "Alpha Resell", "{p}");
        assert_eq!(task(&p, &alpha_task)["overdue"], true, "{p}");
        assert_eq!(p["goals"][0]["amount"], "250000");
    }
    // Beta cannot complete Alpha's task: its own node refuses, naming the owner.
    let refused = beta.cli(&["plans", "task", "done", &id, &alpha_task]);
    assert!(!refused.ok());
    assert!(
        refused.stderr.contains("belongs to Alpha Resell"),
        "{}",
        refused.stderr
    );
    // The overdue task needs its owner, and the other companies hear of it.
    let needs = alpha.get("/api/v1/needs-me").json;
    assert_eq!(needs["counts"]["plan_tasks_overdue"], 1, "{needs}");
    assert_eq!(needs["plan_tasks_overdue"][0]["task"], alpha_task.as_str());
    assert_eq!(
        beta.get("/api/v1/needs-me").json["counts"]["plan_tasks_overdue"],
        0
    );
    let overdue = expect_event(&events, "plan.task_overdue");
    assert_eq!(overdue["data"]["task"], alpha_task.as_str(), "{overdue}");

    cli_ok(&alpha, &["plans", "task", "done", &id, &alpha_task]);
    cli_ok(&beta, &["plans", "task", "done", &id, &beta_task]);
    for n in [&vendor, &alpha, &beta] {
        let p = wait_plan(n, &id, "both partners' tasks done", |p| {
            task(p, &alpha_task)["status"] == "done" && task(p, &beta_task)["status"] == "done"
        });
        assert_eq!(task(&p, &vendor_task)["status"], "open");
        assert_eq!(p["overdue_tasks"], 0);
    }

    // A stakeholder is a person: refused until Alpha's policies share people, then erasable.
    let person = [
        "plans",
        "stakeholder",
        "add",
        &id,
        "--name",
        "Dana Canary",
        "--role",
        "CFO",
    ];
    let refused = alpha.cli(&person);
    assert!(!refused.ok());
    assert!(
        refused.stderr.contains("does not share people"),
        "{}",
        refused.stderr
    );
    for other in [&vendor, &beta] {
        put_policy(&alpha, &other.id, "[opportunities]\nfields = [\"owner\"]\n");
    }
    cli_ok(&alpha, &person);
    for n in [&vendor, &beta] {
        wait_plan(n, &id, "the stakeholder", |p| {
            p["stakeholders"][0]["name"] == "Dana Canary"
        });
    }
    cli_ok(&alpha, &["erase", "--name", "Dana Canary"]);
    for n in [&vendor, &alpha, &beta] {
        let p = wait_plan(n, &id, "the stakeholder erased", |p| {
            p["stakeholders"].as_array().is_some_and(Vec::is_empty)
        });
        assert!(!p.to_string().contains("Dana"), "{p}");
    }
    let listed: Value = serde_json::from_str(&cli_ok(&beta, &["plans", "list", "--json"])).unwrap();
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let steps: Vec<&str> = listed["items"][0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["step"].as_str())
        .collect();
    assert_eq!(steps.first(), Some(&"create"));
    assert_eq!(steps.last(), Some(&"stakeholder_removed"));
}
