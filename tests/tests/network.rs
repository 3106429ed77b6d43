//! Partners over the network: real `cosell` processes on 127.0.0.1 (port 0) become partners,
//! share a deal under per-partner policies, co-write it and converge; nothing outside the
//! policies reaches a partner's disk; strangers and removed partners get nothing; an offline
//! partner catches up.
//!
//! Goal: a deal converges among its participants and reaches no one else. Method: two or
//! three real nodes partnered by invite; opportunities carry canary values no policy names; the
//! test waits for every participant's view of a deal to agree, then searches each node's data
//! directory for the canaries.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cosell-under-test");
/// How long a test waits for the network to converge.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

struct Node {
    dir: tempfile::TempDir,
    child: Option<Child>,
    http: String,
    token: String,
    id: String,
}

fn cosell(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--data")
        .arg(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("cosell runs")
}

impl Node {
    fn new(name: &str) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = cosell(dir.path(), &["init", "--name", name]);
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut node = Node {
            dir,
            child: None,
            http: String::new(),
            token: String::new(),
            id: String::new(),
        };
        node.start();
        node
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn start(&mut self) {
        let _ = std::fs::remove_file(self.dir.path().join("node.json"));
        let child = Command::new(BIN)
            .arg("--data")
            .arg(self.dir.path())
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--p2p",
                "/ip4/127.0.0.1/tcp/0",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts");
        self.child = Some(child);
        let info = wait_for("node.json", || {
            let text = std::fs::read_to_string(self.dir.path().join("node.json")).ok()?;
            serde_json::from_str::<Value>(&text).ok()
        });
        self.http = info["http"].as_str().unwrap().to_string();
        self.id = info["id"].as_str().unwrap().to_string();
        let p2p = info["p2p"].as_array().unwrap();
        assert!(!p2p.is_empty(), "node.json lists p2p addresses");
        assert!(p2p[0]
            .as_str()
            .unwrap()
            .ends_with(&format!("/p2p/{}", self.id)));
        self.token = std::fs::read_to_string(self.dir.path().join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = ureq::request(method, &format!("{}/api/v1{path}", self.http))
            .set("Authorization", &format!("Bearer {}", self.token));
        let result = match body {
            Some(b) => request.send_json(b),
            None => request.call(),
        };
        match result {
            Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path} -> {status}: {v}"
        );
        v
    }

    fn put_policy(&self, partner: &str, toml: &str) {
        let r = ureq::put(&format!("{}/api/v1/partners/{partner}/policy", self.http))
            .set("Authorization", &format!("Bearer {}", self.token))
            .set("Content-Type", "application/toml")
            .send_string(toml);
        assert!(
            r.is_ok(),
            "policy set: {:?}",
            r.err().map(|e| e.to_string())
        );
    }

    fn deal(&self, id: &str) -> Option<Value> {
        let (status, v) = self.call("GET", &format!("/deals/{id}"), None);
        (status == 200).then_some(v)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `inviter` invites, `joiner` joins; asserts the inviter lists the joiner; returns the token.
/// `cosell partner remove NAME` on `node`, which must succeed.
fn remove_partner(node: &Node, name: &str) {
    let out = cosell(&node.path(), &["partner", "remove", name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The vendor shares a new opportunity with the reseller under [`RESELLER_POLICY`], the
/// reseller accepts, and the deal arrives: the opportunity's and the deal's ids.
fn shared_with_reseller(vendor: &Node, reseller: &Node) -> (String, String) {
    let opp = vendor_opportunity(vendor);
    vendor.put_policy(&reseller.id, RESELLER_POLICY);
    let deal = vendor.ok(
        "POST",
        "/deals",
        Some(json!({"opportunity_id": opp, "partners": [reseller.id]})),
    );
    let deal = deal["id"].as_str().unwrap().to_string();
    accept(reseller, &deal);
    wait_for("the deal on the reseller", || reseller.deal(&deal));
    (opp, deal)
}

fn partner(inviter: &Node, joiner: &Node, joiner_type: &str) -> String {
    let out = cosell(
        &inviter.path(),
        &["partner", "invite", "--type", joiner_type],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = cosell(
        &joiner.path(),
        &["partner", "join", &token, "--type", "vendor"],
    );
    assert!(
        out.status.success(),
        "join: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = inviter.ok("GET", "/partners", None);
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == joiner.id.as_str() && p["status"] == "active"));
    // The token is one-time.
    let out = cosell(&joiner.path(), &["partner", "join", &token]);
    assert!(!out.status.success());
    token
}

const CANARIES: [&str; 3] = [
    "CANARY-DESCRIPTION-7f3a",
    "CANARY-OWNER-91bc",
    "CANARY-NEXTSTEP-44de",
];

fn vendor_opportunity(vendor: &Node) -> String {
    let account = vendor.ok(
        "POST",
        "/accounts",
        Some(json!({"name": "Acme Corp", "domain": "acme.example", "status": "prospect", "owner": "CANARY-OWNER-91bc"})),
    );
    let opp = vendor.ok(
        "POST",
        "/opportunities",
        Some(json!({
            "account_id": account["id"], "name": "Acme platform rollout", "stage": "qualified",
            "amount": "250000", "currency": "USD", "close_date": "2027-03-15",
            "owner": "CANARY-OWNER-91bc", "next_step": "CANARY-NEXTSTEP-44de",
            "description": "CANARY-DESCRIPTION-7f3a",
        })),
    );
    opp["id"].as_str().unwrap().to_string()
}

const RESELLER_POLICY: &str = r#"
[opportunities]
fields = ["name", "stage", "amount", "close_date", "account.name", "account.domain"]
"#;
const SI_POLICY: &str = r#"
[opportunities]
fields = ["name", "stage", "close_date", "account.name", "account.domain"]
"#;

/// Accepts `node`'s invitation to `deal` once it has arrived (until then the node holds only
/// the invitation's redacted summary, and the deal is not sent to it).
fn accept(node: &Node, deal: &str) {
    wait_for("the invitation", || {
        let (status, _) = node.call("POST", &format!("/deals/{deal}/accept"), None);
        (status == 200).then_some(())
    });
}

fn converged(nodes: &[&Node], deal: &str) -> Option<Value> {
    let views: Vec<Value> = nodes.iter().map(|n| n.deal(deal)).collect::<Option<_>>()?;
    let key = |v: &Value| json!([v["fields"], v["sections"], v["participants"], v["changes"]]);
    let first = key(&views[0]);
    views
        .iter()
        .all(|v| key(v) == first)
        .then(|| views[0].clone())
}

/// `cosell_sync_lag_seconds` for `partner` on `node`'s `/metrics` (`None` while not listed).
fn sync_lag(node: &Node, partner: &str) -> Option<f64> {
    let text = ureq::get(&format!("{}/metrics", node.http))
        .call()
        .ok()?
        .into_string()
        .ok()?;
    let prefix = format!("cosell_sync_lag_seconds{{partner=\"{partner}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn vendor_reseller_and_si_share_cowrite_and_converge_without_leaks() {
    // Goal: the whole vertical slice. Method: three nodes, two partnerships (vendor–reseller,
    // vendor–SI; reseller and SI are not partners, so their changes travel through the vendor),
    // policies, one share, a section write from each, an opportunity edit on the vendor; then a
    // scan of the partners' data directories for canary strings outside every policy.
    let vendor = Node::new("Vendor Inc");
    let reseller = Node::new("Reseller LLC");
    let si = Node::new("SI Partners");
    partner(&vendor, &reseller, "reseller");
    partner(&vendor, &si, "si");
    let opp = vendor_opportunity(&vendor);

    // Default deny: no policy, no share.
    let out = cosell(&vendor.path(), &["share", &opp, "--with", "Reseller LLC"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to share"));

    vendor.put_policy(&reseller.id, RESELLER_POLICY);
    vendor.put_policy(&si.id, SI_POLICY);
    let shown = vendor.ok("GET", &format!("/partners/{}/policy", reseller.id), None);
    assert_eq!(shown["version"], 1);
    let preview = vendor.ok(
        "GET",
        &format!("/partners/{}/policy/preview?opportunity_id={opp}", si.id),
        None,
    );
    assert_eq!(preview["shared"], 1);

    let out = cosell(
        &vendor.path(),
        &[
            "share",
            &opp,
            "--with",
            &format!("{},SI Partners", reseller.id),
        ],
    );
    assert!(
        out.status.success(),
        "share: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deal = String::from_utf8(out.stdout).unwrap().trim().to_string();

    accept(&reseller, &deal);
    accept(&si, &deal);
    // The intersection of both policies: no amount (the SI may not see it).
    let on_reseller = wait_for("the deal on the reseller", || reseller.deal(&deal));
    assert_eq!(on_reseller["fields"]["name"], "Acme platform rollout");
    assert!(
        on_reseller["fields"].get("amount").is_none(),
        "{}",
        on_reseller["fields"]
    );
    wait_for("the deal on the SI", || si.deal(&deal));

    reseller.ok(
        "PATCH",
        &format!("/deals/{deal}"),
        Some(json!({"note": "reseller: customer wants a POC"})),
    );
    si.ok(
        "PATCH",
        &format!("/deals/{deal}"),
        Some(json!({"note": "si: we can staff it", "contribution": "implementation"})),
    );
    vendor.ok(
        "PATCH",
        &format!("/deals/{deal}"),
        Some(json!({"next_step": "kickoff call"})),
    );
    reseller.ok("POST", &format!("/deals/{deal}/accept"), None);

    let view = wait_for("convergence", || {
        converged(&[&vendor, &reseller, &si], &deal)
            .filter(|v| v["sections"].as_object().map(|s| s.len()) == Some(3))
    });
    // The reseller's note reached the SI through the vendor, verified as the reseller's.
    let si_view = si.deal(&deal).unwrap();
    assert_eq!(
        si_view["sections"][&reseller.id]["notes"][0],
        "reseller: customer wants a POC"
    );
    let history = si_view["history"].as_array().unwrap();
    assert!(history.iter().all(|h| h["verified"] == true));
    assert!(history.iter().any(|h| h["author"] == reseller.id.as_str()));
    assert_eq!(view["participants"].as_array().unwrap().len(), 3);

    // An edit of the opportunity on the vendor flows, projected, to both.
    vendor.ok("PATCH", &format!("/opportunities/{opp}"), Some(json!({"name": "Acme platform rollout (phase 2)", "description": "CANARY-DESCRIPTION-7f3a again"})));
    for node in [&reseller, &si] {
        wait_for("the renamed deal", || {
            node.deal(&deal)
                .filter(|d| d["fields"]["name"] == "Acme platform rollout (phase 2)")
        });
    }
    wait_for("convergence after the edit", || {
        converged(&[&vendor, &reseller, &si], &deal)
    });

    // Audit: the share names the fields and the partners.
    let audit = vendor.ok("GET", "/audit?kind=share", None);
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);

    // Leak test: stop the partners so everything is on disk, then scan every file.
    let (mut reseller, mut si) = (reseller, si);
    reseller.stop();
    si.stop();
    for node in [&reseller, &si] {
        for file in files_under(&node.path()) {
            let bytes = std::fs::read(&file).unwrap();
            for canary in CANARIES {
                assert!(
                    !contains(&bytes, canary.as_bytes()),
                    "{canary} leaked into {}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn a_stranger_cannot_connect_and_receives_nothing() {
    let vendor = Node::new("Vendor Inc");
    let reseller = Node::new("Reseller LLC");
    let stranger = Node::new("Stranger");
    let used = partner(&vendor, &reseller, "reseller");
    shared_with_reseller(&vendor, &reseller);

    // A used token gets the stranger nowhere: the vendor answers its join with the reason and
    // closes the connection, counted as refused.
    let out = cosell(&stranger.path(), &["partner", "join", &used]);
    assert!(!out.status.success());
    let metrics = ureq::get(&format!("{}/metrics", vendor.http))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("cosell_connections_refused_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    // A tampered token is refused before dialing.
    let mut bad = used.clone();
    bad.replace_range(10..11, if &used[10..11] == "a" { "b" } else { "a" });
    let out = cosell(&stranger.path(), &["partner", "join", &bad]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("altered")
            || String::from_utf8_lossy(&out.stderr).contains("not a cosell invite")
    );
    std::thread::sleep(Duration::from_secs(1));
    let deals = stranger.ok("GET", "/deals", None);
    assert_eq!(deals["items"].as_array().unwrap().len(), 0);
    let partners = vendor.ok("GET", "/partners", None);
    assert!(!partners["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == stranger.id.as_str()));
}

#[test]
fn a_removed_partner_gets_no_further_changes_and_is_refused() {
    let vendor = Node::new("Vendor Inc");
    let reseller = Node::new("Reseller LLC");
    partner(&vendor, &reseller, "reseller");
    let (_, deal) = shared_with_reseller(&vendor, &reseller);

    remove_partner(&vendor, "Reseller LLC");
    vendor.ok(
        "PATCH",
        &format!("/deals/{deal}"),
        Some(json!({"note": "after removal"})),
    );
    std::thread::sleep(Duration::from_secs(4));
    let seen = reseller.deal(&deal).unwrap();
    assert!(
        seen["sections"].get(&vendor.id).is_none(),
        "{}",
        seen["sections"]
    );
    let listed = vendor.ok("GET", "/partners", None);
    let p = &listed["items"][0];
    assert_eq!(p["status"], "removed");
    assert_eq!(p["removed_by"], "this node");
    assert_eq!(p["connected"], false);
    // Connected until the removal, it was last seen then, not when it last connected.
    let audit = vendor.ok("GET", "/audit?kind=partner", None);
    let removed_at = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["summary"] == "removed partner Reseller LLC")
        .map(|e| e["at"].as_str().unwrap().to_string())
        .expect("the removal is audited");
    wait_for("last_seen at the removal", || {
        let listed = vendor.ok("GET", "/partners", None);
        let seen = listed["items"][0]["last_seen"].as_str()?.to_string();
        (seen >= removed_at).then_some(())
    });
    // The reseller was told: its node no longer shows the partnership as active.
    let ended = wait_for("the reseller learns the partnership ended", || {
        let listed = reseller.ok("GET", "/partners", None);
        let p = listed["items"][0].clone();
        (p["status"] == "removed").then_some(p)
    });
    assert_eq!(ended["removed_by"], "partner", "{ended}");
    let out = cosell(&reseller.path(), &["partner", "list"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ended by the partner"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let audit = reseller.ok("GET", "/audit?kind=partner", None);
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["summary"] == "Vendor Inc ended the partnership"),
        "{audit}"
    );
}

#[test]
fn a_partner_removed_from_a_three_party_deal_gets_nothing_more_through_the_other_partner() {
    // Bug: after the vendor removed the SI, the reseller — a partner of both — relayed the
    // vendor's later edits to the SI, and the SI's notes back to the vendor. Now the vendor
    // signs the SI `removed` in its deals, and the reseller stops relaying to and from it.
    let vendor = Node::new("Vendor Inc");
    let reseller = Node::new("Reseller LLC");
    let si = Node::new("SI Partners");
    partner(&vendor, &reseller, "reseller");
    partner(&vendor, &si, "si");
    partner(&reseller, &si, "si");
    let opp = vendor_opportunity(&vendor);
    vendor.put_policy(&reseller.id, RESELLER_POLICY);
    vendor.put_policy(&si.id, SI_POLICY);
    let deal = vendor.ok(
        "POST",
        "/deals",
        Some(json!({"opportunity_id": opp, "partners": [reseller.id, si.id]})),
    );
    let deal = deal["id"].as_str().unwrap().to_string();
    accept(&reseller, &deal);
    accept(&si, &deal);
    wait_for("the deal on the SI", || si.deal(&deal));
    // The SI writes in the deal: it evidently holds it, so a relay would send it the deal.
    si.ok(
        "PATCH",
        &format!("/deals/{deal}"),
        Some(json!({"note": "before"})),
    );
    wait_for("the SI's note everywhere", || {
        converged(&[&vendor, &reseller, &si], &deal)
            .filter(|v| v["sections"][&si.id]["notes"][0] == "before")
    });

    remove_partner(&vendor, "SI Partners");
    vendor.ok(
        "PATCH",
        &format!("/opportunities/{opp}"),
        Some(json!({"name": "Renamed after the SI left"})),
    );
    let seen = wait_for("the rename and the SI's removal on the reseller", || {
        reseller
            .deal(&deal)
            .filter(|v| v["fields"]["name"] == "Renamed after the SI left")
    });
    let status = seen["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == si.id.as_str())
        .map(|p| p["status"].clone());
    assert_eq!(status, Some(json!("removed")), "{}", seen["participants"]);
    // The SI's own node now refuses to write into a deal whose origin ended the partnership
    // (issue 20: the note could never be delivered, yet it said "section updated").
    let (status, refused) = si.call(
        "PATCH",
        &format!("/deals/{deal}"),
        Some(json!({"note": "after the removal"})),
    );
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or("")
            .contains("the partnership with Vendor Inc"),
        "{refused}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        si.deal(&deal).unwrap()["fields"]["name"],
        "Acme platform rollout",
        "nothing new reached the removed SI"
    );
    for node in [&vendor, &reseller] {
        let v = node.deal(&deal).unwrap();
        assert_eq!(
            v["sections"][&si.id]["notes"],
            json!(["before"]),
            "no later note of the removed SI"
        );
    }
}

#[test]
fn a_removed_partner_is_told_when_it_comes_back_and_may_join_again_with_a_new_invite() {
    // Goal: a partnership ended while the partner was offline ends on its node too when it
    // reconnects; a new invite makes them partners again (it used to be refused as "cannot
    // reach the inviting node"), and deals flow again.
    let vendor = Node::new("Vendor Inc");
    let mut reseller = Node::new("Reseller LLC");
    partner(&vendor, &reseller, "reseller");
    reseller.stop();
    remove_partner(&vendor, "Reseller LLC");
    // An invite open for someone else does not keep the news from the returning reseller.
    let out = cosell(&vendor.path(), &["partner", "invite", "--type", "si"]);
    assert!(out.status.success());
    reseller.start();
    let ended = wait_for(
        "the returning reseller learns the partnership ended",
        || {
            let listed = reseller.ok("GET", "/partners", None);
            let p = listed["items"][0].clone();
            (p["status"] == "removed").then_some(p)
        },
    );
    assert_eq!(ended["removed_by"], "partner");

    partner(&vendor, &reseller, "reseller");
    for node in [&vendor, &reseller] {
        let listed = node.ok("GET", "/partners", None);
        assert_eq!(listed["items"][0]["status"], "active", "{listed}");
        assert_eq!(listed["items"][0]["removed_by"], Value::Null, "{listed}");
    }
    // Deals flow again.
    shared_with_reseller(&vendor, &reseller);
}

#[test]
fn a_partner_that_was_offline_catches_up_after_restart() {
    // Goal: reconnect with persisted sync state, and the vendor's sync-lag gauge tells the
    // story. Method: once the reseller holds the deal its lag is 0; the reseller stops and the
    // vendor writes twice: the lag counts up (seconds since the reseller last held everything);
    // the reseller restarts on a new port, dials the vendor, converges, and the lag is 0 again.
    let vendor = Node::new("Vendor Inc");
    let mut reseller = Node::new("Reseller LLC");
    partner(&vendor, &reseller, "reseller");
    let (opp, deal) = shared_with_reseller(&vendor, &reseller);
    wait_for("the reseller caught up (lag 0)", || {
        (sync_lag(&vendor, &reseller.id) == Some(0.0)).then_some(())
    });
    reseller.stop();
    vendor.ok(
        "PATCH",
        &format!("/deals/{deal}"),
        Some(json!({"note": "while you were away"})),
    );
    vendor.ok(
        "PATCH",
        &format!("/opportunities/{opp}"),
        Some(json!({"stage": "committed"})),
    );
    let first = wait_for("the vendor reports lag for the offline reseller", || {
        sync_lag(&vendor, &reseller.id).filter(|s| *s > 0.0)
    });
    std::thread::sleep(Duration::from_millis(1200));
    let later = sync_lag(&vendor, &reseller.id).expect("the reseller is still listed");
    assert!(
        later >= first + 1.0,
        "the lag counts up: {first} then {later}"
    );
    reseller.start();
    let seen = wait_for("catch-up after restart", || {
        converged(&[&vendor, &reseller], &deal)
            .filter(|v| v["stage"] == "committed" && v["sections"].get(&vendor.id).is_some())
    });
    wait_for("the reseller caught up again (lag 0)", || {
        (sync_lag(&vendor, &reseller.id) == Some(0.0)).then_some(())
    });
    assert_eq!(
        seen["sections"][&vendor.id]["notes"][0],
        "while you were away"
    );
}
