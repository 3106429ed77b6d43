//! `cosell demo`: three real nodes on loopback — a vendor, a reseller and a systems integrator —
//! each a `cosell serve` child process with its own data directory, filled with generated CRM
//! data, made partners through invites, given per-partner policies, and sharing deals in several
//! states. Everything goes through the same HTTP API a user would call. Ctrl-C stops all three.

use crate::app::sample_data;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a node may take to write `node.json`.
const NODE_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to stop after SIGTERM before it is killed.
const NODE_STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long partners may take to see each other after a join, and deals to arrive.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Marks a data directory whose demo setup finished, so a rerun with `--data` only restarts.
const SETUP_DONE_FILE: &str = "demo-setup.done";

/// One demo company.
struct Company {
    key: &'static str,
    name: &'static str,
    prefix: &'static str,
    seed: u64,
    accounts: usize,
    opportunities: usize,
}

const COMPANIES: [Company; 3] = [
    Company {
        key: "vendor",
        name: "Northwind Cloud",
        prefix: "NWC",
        seed: 11,
        accounts: 300,
        opportunities: 400,
    },
    Company {
        key: "reseller",
        name: "Contoso Resellers",
        prefix: "CTR",
        seed: 22,
        accounts: 250,
        opportunities: 150,
    },
    Company {
        key: "si",
        name: "Fabrikam Integration",
        prefix: "FAB",
        seed: 33,
        accounts: 200,
        opportunities: 100,
    },
];

/// The vendor's policy for its reseller: enough to quote and close, amounts rounded.
const VENDOR_TO_RESELLER: &str = r#"# Northwind Cloud -> Contoso Resellers
[opportunities]
fields = ["name", "stage", "amount", "currency", "close_date", "next_step", "account.name", "account.domain", "account.country"]
stages = ["qualified", "technical_validation", "business_validation", "committed"]
tags_exclude = ["internal"]
amount = { round_to = 1000 }
close_date = "month"

[accounts]
sharing = "overlaps"
statuses = ["customer", "prospect"]
fields = ["name", "domain", "status"]
"#;

/// The vendor's policy for its SI: technical context, no money.
const VENDOR_TO_SI: &str = r#"# Northwind Cloud -> Fabrikam Integration
[opportunities]
fields = ["name", "stage", "close_date", "next_step", "account.name", "account.domain", "account.industry"]
stages = ["qualified", "technical_validation", "business_validation", "committed"]
tags_exclude = ["internal"]
close_date = "quarter"

[accounts]
sharing = "counts"
statuses = ["customer", "prospect"]
fields = ["name", "domain"]
"#;

/// What the partners share back with the vendor.
const PARTNER_TO_VENDOR: &str = r#"# shared back with Northwind Cloud
[opportunities]
fields = ["name", "stage", "close_date", "account.name", "account.domain"]
stages = ["prospect", "qualified", "technical_validation", "business_validation", "committed"]
close_date = "month"

[accounts]
sharing = "overlaps"
statuses = ["customer", "prospect"]
fields = ["name", "domain"]
"#;

/// A running demo node.
struct DemoNode {
    key: &'static str,
    name: &'static str,
    dir: PathBuf,
    child: Child,
    url: String,
    token: String,
    id: String,
}

impl DemoNode {
    fn call(&self, method: &str, path: &str, body: Option<(&str, String)>) -> Result<Value> {
        let request = ureq::request(method, &format!("{}/api/v1{path}", self.url))
            .set("Authorization", &format!("Bearer {}", self.token))
            .timeout(Duration::from_secs(120));
        let result = match body {
            Some((content_type, text)) => {
                request.set("Content-Type", content_type).send_string(&text)
            }
            None => request.call(),
        };
        match result {
            Ok(r) => Ok(r.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(status, r)) => {
                let body: Value = r.into_json().unwrap_or(Value::Null);
                bail!(
                    "{} ({}): {method} {path} answered {status}: {} {}",
                    self.name,
                    self.key,
                    body["error"].as_str().unwrap_or("?"),
                    body["details"]
                )
            }
            Err(e) => bail!("{} ({}): {method} {path} failed: {e}", self.name, self.key),
        }
    }

    fn post_json(&self, path: &str, body: Value) -> Result<Value> {
        self.call("POST", path, Some(("application/json", body.to_string())))
    }
}

/// Runs the demo until SIGINT/SIGTERM. `keep` is a directory to keep the data in; without it
/// the data lives in a temporary directory removed at the end.
pub fn run(keep: Option<PathBuf>) -> Result<()> {
    let (root, temporary) = match keep {
        Some(dir) => (dir, false),
        None => {
            let dir = std::env::temp_dir().join(format!("cosell-demo-{}", ulid::Ulid::new()));
            (dir, true)
        }
    };
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let mut nodes: Vec<DemoNode> = Vec::new();
    let outcome = (|| -> Result<()> {
        for company in &COMPANIES {
            nodes.push(start_node(&root, company)?);
        }
        if !root.join(SETUP_DONE_FILE).exists() {
            set_up(&nodes)?;
            std::fs::write(root.join(SETUP_DONE_FILE), b"ok\n")?;
        }
        print_addresses(&nodes, &root, temporary);
        wait_for_stop_signal()
    })();
    for node in &mut nodes {
        stop_node(node);
    }
    if temporary {
        let _ = std::fs::remove_dir_all(&root);
    }
    outcome
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the cosell executable")
}

fn start_node(root: &Path, company: &Company) -> Result<DemoNode> {
    let dir = root.join(company.key);
    if !dir.join("cosell.toml").exists() {
        let status = Command::new(exe()?)
            .args(["init", "--name", company.name, "--data"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            bail!(
                "cannot initialize the {} node in {}",
                company.key,
                dir.display()
            );
        }
        if company.key == "vendor" {
            // The demo's vendor owes an answer to a deal registration within an hour (not
            // 48 hours): an unanswered one shows as overdue the same afternoon, not within a
            // minute of starting the demo.
            let path = dir.join("cosell.toml");
            let text = std::fs::read_to_string(&path)?;
            let text = text
                .lines()
                .map(|l| {
                    if l.starts_with("registration_sla_hours") {
                        "registration_sla_hours = 1".to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(&path, text + "\n")?;
        }
    }
    let _ = std::fs::remove_file(dir.join("node.json"));
    let log = std::fs::File::create(dir.join("serve.log"))?;
    let child = Command::new(exe()?)
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--p2p",
            "/ip4/127.0.0.1/tcp/0",
            "--data",
        ])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start the {} node", company.key))?;
    let mut node = DemoNode {
        key: company.key,
        name: company.name,
        dir: dir.clone(),
        child,
        url: String::new(),
        token: std::fs::read_to_string(dir.join("admin.token"))?
            .trim()
            .to_string(),
        id: String::new(),
    };
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("node.json")) {
            if let Ok(info) = serde_json::from_str::<Value>(&text) {
                node.url = info["http"].as_str().unwrap_or_default().to_string();
                node.id = info["id"].as_str().unwrap_or_default().to_string();
                return Ok(node);
            }
        }
        if let Some(status) = node.child.try_wait()? {
            bail!(
                "the {} node exited ({status}) before it was ready; see {}",
                company.key,
                dir.join("serve.log").display()
            );
        }
        if started.elapsed() > NODE_START_TIMEOUT {
            stop_node(&mut node);
            bail!(
                "the {} node did not start within {:?}",
                company.key,
                NODE_START_TIMEOUT
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop_node(node: &mut DemoNode) {
    if let Ok(Some(_)) = node.child.try_wait() {
        return;
    }
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe {
        libc::kill(node.child.id() as libc::pid_t, libc::SIGTERM);
    }
    let started = Instant::now();
    while started.elapsed() < NODE_STOP_TIMEOUT {
        if let Ok(Some(_)) = node.child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = node.child.kill();
    let _ = node.child.wait();
}

/// Data, partnerships, policies and deals, all through the API.
fn set_up(nodes: &[DemoNode]) -> Result<()> {
    let [vendor, reseller, si] = nodes else {
        bail!("the demo needs three nodes");
    };
    for (node, company) in nodes.iter().zip(COMPANIES.iter()) {
        let data = sample_data::generate(
            company.seed,
            company.prefix,
            company.accounts,
            company.opportunities,
        );
        node.call(
            "POST",
            "/import/accounts",
            Some(("text/csv", data.accounts_csv)),
        )?;
        node.call(
            "POST",
            "/import/opportunities",
            Some(("text/csv", data.opportunities_csv)),
        )?;
        eprintln!(
            "demo: {} ({}) imported {} accounts and {} opportunities",
            node.name, node.key, company.accounts, company.opportunities
        );
    }
    // Each side records what the other is to it: the vendor's invite names the partner's type
    // (reseller, si), the partner's join names the inviter's (vendor).
    for (partner, partner_type) in [(reseller, "reseller"), (si, "si")] {
        let invite = vendor.post_json("/partners/invites", json!({ "type": partner_type }))?;
        let token = invite["token"]
            .as_str()
            .ok_or_else(|| anyhow!("the invite has no token"))?;
        partner.post_json("/partners/join", json!({"token": token, "type": "vendor"}))?;
        wait_for_partner(vendor, &partner.id)?;
        eprintln!("demo: {} and {} are partners", vendor.name, partner.name);
    }
    for (partner, policy) in [(reseller, VENDOR_TO_RESELLER), (si, VENDOR_TO_SI)] {
        vendor.call(
            "PUT",
            &format!("/partners/{}/policy", partner.id),
            Some(("application/toml", policy.to_string())),
        )?;
        partner.call(
            "PUT",
            &format!("/partners/{}/policy", vendor.id),
            Some(("application/toml", PARTNER_TO_VENDOR.to_string())),
        )?;
    }
    eprintln!("demo: policies set on all three nodes");
    share_deals(vendor, reseller, si)?;
    register_deals(vendor, reseller, si)?;
    Ok(())
}

/// Deal registrations with the vendor: one on an account the vendor already works (a conflict
/// with its own opportunity), the same account registered later by the SI (a conflict with the
/// reseller's, first to register wins), one approved, and one left unanswered (overdue soon).
fn register_deals(vendor: &DemoNode, reseller: &DemoNode, si: &DemoNode) -> Result<()> {
    let open = vendor.call("GET", "/opportunities?stage=qualified&limit=1", None)?;
    let account_id = open["items"][0]["account_id"]
        .as_str()
        .ok_or_else(|| anyhow!("the vendor has no qualified opportunity"))?
        .to_string();
    let account = vendor.call("GET", &format!("/accounts/{account_id}"), None)?;
    let contested = account["domain"]
        .as_str()
        .ok_or_else(|| anyhow!("the vendor's account has no domain"))?
        .to_string();
    let contested_name = account["name"].as_str().unwrap_or("Contested").to_string();
    let register = |node: &DemoNode, domain: &str, name: &str, amount: &str| -> Result<String> {
        let r = node.post_json(
            "/registrations",
            json!({"vendor": vendor.id, "account_domain": domain, "account_name": name,
                   "amount": amount, "close_date": "2027-06-30",
                   "products": ["platform", "support"], "notes": "met the buying committee"}),
        )?;
        Ok(r["id"].as_str().unwrap_or_default().to_string())
    };
    register(reseller, &contested, &contested_name, "180000")?;
    std::thread::sleep(Duration::from_millis(20));
    register(si, &contested, &contested_name, "95000")?;
    let approved = register(
        reseller,
        "northwind-demo.example",
        "Northwind Demo",
        "240000",
    )?;
    register(si, "fabrikam-demo.example", "Fabrikam Demo", "60000")?;
    let started = Instant::now();
    loop {
        if vendor
            .call("POST", &format!("/registrations/{approved}/approve"), None)
            .is_ok()
        {
            break;
        }
        if started.elapsed() > CONVERGE_TIMEOUT {
            bail!("registration {approved} never reached {}", vendor.name);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "demo: partners registered 4 deals with {} (one approved, two conflicting on {contested}, one left to go overdue)",
        vendor.name
    );
    Ok(())
}

fn wait_for_partner(node: &DemoNode, partner_id: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let partners = node.call("GET", "/partners", None)?;
        let found = partners["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["id"].as_str() == Some(partner_id));
        if found {
            return Ok(());
        }
        if started.elapsed() > CONVERGE_TIMEOUT {
            bail!("{} never saw partner {partner_id}", node.name);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Shares vendor opportunities that every chosen partner's policy lets through: two with the
/// reseller, two with the SI, two with both; then the partners accept some and decline one.
fn share_deals(vendor: &DemoNode, reseller: &DemoNode, si: &DemoNode) -> Result<()> {
    let committed = vendor.call("GET", "/opportunities?stage=committed&limit=200", None)?;
    let qualified = vendor.call(
        "GET",
        "/opportunities?stage=technical_validation&limit=200",
        None,
    )?;
    let candidates: Vec<String> = committed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(qualified["items"].as_array().into_iter().flatten())
        .filter(|o| {
            !o["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == "internal"))
        })
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect();
    let plans: [(&[&DemoNode], usize); 3] = [(&[reseller], 2), (&[si], 2), (&[reseller, si], 2)];
    let mut next = candidates.into_iter();
    let mut shared: Vec<(String, Vec<&DemoNode>)> = Vec::new();
    for (partners, count) in plans {
        let mut made = 0;
        for opportunity_id in next.by_ref() {
            if made == count {
                break;
            }
            let ids: Vec<&str> = partners.iter().map(|p| p.id.as_str()).collect();
            match vendor.post_json(
                "/deals",
                json!({"opportunity_id": opportunity_id, "partners": ids}),
            ) {
                Ok(deal) => {
                    let id = deal["id"].as_str().unwrap_or_default().to_string();
                    shared.push((id, partners.to_vec()));
                    made += 1;
                }
                // An opportunity a partner's policy withholds is skipped, as a user would.
                Err(e) if e.to_string().contains("answered 422") => continue,
                Err(e) => return Err(e),
            }
        }
        if made < count {
            bail!("the vendor's pipeline has too few opportunities its policies share");
        }
    }
    eprintln!("demo: {} shared {} deals", vendor.name, shared.len());
    // Invitations arrive over the network; answer some of them.
    for (i, (deal_id, partners)) in shared.iter().enumerate() {
        for partner in partners {
            wait_for_invitation(partner, deal_id)?;
            match i % 3 {
                0 => {
                    partner.post_json(&format!("/deals/{deal_id}/accept"), json!({}))?;
                    // The deal itself follows the acceptance.
                    wait_for_deal(partner, deal_id)?;
                }
                1 if i == 1 => {
                    partner.post_json(
                        &format!("/deals/{deal_id}/decline"),
                        json!({"reason": "no capacity this quarter"}),
                    )?;
                }
                _ => {}
            }
        }
    }
    eprintln!("demo: partners accepted some deals, declined one, left the rest in their inbox");
    Ok(())
}

fn wait_for_invitation(node: &DemoNode, deal_id: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let inbox = node.call("GET", "/inbox", None)?;
        if inbox["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["deal_id"].as_str() == Some(deal_id))
        {
            return Ok(());
        }
        if started.elapsed() > CONVERGE_TIMEOUT {
            bail!(
                "the invitation to deal {deal_id} never reached {}",
                node.name
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_for_deal(node: &DemoNode, deal_id: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        if node.call("GET", &format!("/deals/{deal_id}"), None).is_ok() {
            return Ok(());
        }
        if started.elapsed() > CONVERGE_TIMEOUT {
            bail!("deal {deal_id} never reached {}", node.name);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn print_addresses(nodes: &[DemoNode], root: &Path, temporary: bool) {
    println!("cosell demo: three nodes on loopback\n");
    for node in nodes {
        println!(
            "  {:<9} {:<22} {}/#token={}",
            node.key, node.name, node.url, node.token
        );
        println!(
            "  {:<9} {:<22} node id {}, data {}",
            "",
            "",
            node.id,
            node.dir.display()
        );
    }
    if temporary {
        println!(
            "\nData lives in {} and is removed when the demo stops (use --data DIR to keep it).",
            root.display()
        );
    } else {
        println!("\nData is kept in {}.", root.display());
    }
    println!("Open a link above in a browser (it signs you in), or use the API with the token. Ctrl-C stops all three.");
}

fn wait_for_stop_signal() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::cli::serve::stop_signal());
    eprintln!("demo: stopping the three nodes");
    Ok(())
}
