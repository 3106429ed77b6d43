//! Hosted workspaces (issue 25): one `cosell serve` with `hosting = true` runs many companies.
//!
//! Goal: a workspace is a full node on the network (own key, partners, deals), reached only
//! under its own `/w/NAME/`; nothing of one workspace answers a credential of another (404 on
//! every route the OpenAPI document lists); a workspace exported with `cosell workspace export`
//! runs as its own process and keeps its partnerships and deals. Method: real processes on
//! loopback, port 0: a host with two workspaces and one ordinary node.

use cosell_e2e::{
    http, opportunity, put_policy, share_deal, wait, Node, Response, NAME_STAGE_AND_DOMAIN,
};
use serde_json::{json, Value};

/// A workspace as its own admin reaches it: its base URL and an API token it made itself.
struct Ws {
    base: String,
    token: String,
    id: String,
}

impl Ws {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("json"));
        http(
            method,
            &format!("{}{path}", self.base),
            Some(&self.token),
            bytes.as_ref().map(|_| "application/json"),
            bytes.as_deref(),
        )
    }
    fn get(&self, path: &str) -> Response {
        self.call("GET", path, None)
    }
}

/// `cosell workspace create NAME` on the host; answers the onboarding link it prints.
fn create(host: &Node, name: &str) -> String {
    let out = host.cli(&["workspace", "create", name]);
    assert!(out.ok(), "workspace create: {}", out.stderr);
    out.stdout.trim().to_string()
}

/// What the browser does with an onboarding link: the first user sets a password, signs in,
/// and (here) makes an API token for the rest of the test.
fn onboard(host: &Node, link: &str, name: &str) -> Ws {
    let (at, code) = link
        .split_once("/#onboarding=")
        .expect("an onboarding link");
    assert!(at.ends_with(&format!("/w/{name}")), "{link}");
    // (The host may have restarted on another port since it printed the link.)
    let base = format!("{}/w/{name}", host.url());
    let body = json!({"code": code, "username": "first", "password": "correct horse battery"});
    let r = http(
        "POST",
        &format!("{base}/api/v1/onboarding"),
        None,
        Some("application/json"),
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 201, "onboarding: {}", r.text);
    let again = http(
        "POST",
        &format!("{base}/api/v1/onboarding"),
        None,
        Some("application/json"),
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(again.status, 404, "a used link: {}", again.text);
    // Sign in as the browser does: the session cookie is scoped to the workspace's path.
    let signed = ureq::post(&format!("{base}/api/v1/session"))
        .send_json(json!({"username": "first", "password": "correct horse battery"}))
        .expect("sign in");
    let cookie = signed.header("set-cookie").expect("a cookie").to_string();
    assert!(
        cookie.contains(&format!("Path=/w/{name}/;")),
        "cookie scoped to the workspace: {cookie}"
    );
    let session: Value = signed.into_json().expect("session json");
    let token: Value = ureq::post(&format!("{base}/api/v1/tokens"))
        .set("Cookie", cookie.split(';').next().expect("cookie pair"))
        .set(
            "X-CSRF-Token",
            session["csrf_token"].as_str().expect("csrf"),
        )
        .send_json(json!({"name": "test", "role": "admin"}))
        .expect("token")
        .into_json()
        .expect("token json");
    let token = token["token"].as_str().expect("token").to_string();
    let me = http(
        "GET",
        &format!("{base}/api/v1/node"),
        Some(&token),
        None,
        None,
    );
    assert_eq!(me.status, 200, "{}", me.text);
    Ws {
        base,
        token,
        id: me.json["id"].as_str().expect("node id").to_string(),
    }
}

fn workspaces(host: &Node) -> Vec<Value> {
    let out = host.cli(&["workspace", "list", "--json"]);
    assert!(out.ok(), "workspace list: {}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout).expect("list json");
    list["items"].as_array().expect("items").clone()
}

fn hosting_node(name: &str) -> Node {
    let mut host = Node::init(name);
    cosell_e2e::set_setting(&host, "hosting", "true");
    host.serve();
    host
}

fn notes(deal: &Value, author: &str) -> Vec<String> {
    deal["sections"][author]["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_workspace_co_sells_with_a_node_stays_isolated_and_moves_out_with_everything() {
    let host = hosting_node("Host Co");
    let link = create(&host, "acme");
    assert!(
        link.starts_with(&format!("{}/w/acme/#onboarding=", host.url())),
        "{link}"
    );
    let acme = onboard(&host, &link, "acme");
    let globex = onboard(&host, &create(&host, "globex"), "globex");
    let listed = workspaces(&host);
    let names: Vec<&str> = listed.iter().filter_map(|w| w["name"].as_str()).collect();
    assert_eq!(names, ["acme", "globex"]);
    assert_eq!(listed[0]["node_id"], acme.id.as_str());
    assert_ne!(acme.id, globex.id);
    assert_ne!(acme.id, host.id);

    // An ordinary node invites the workspace; the workspace joins through its own API.
    let mut vendor = Node::init("Vendor Co");
    vendor.serve();
    let invite = vendor.post("/api/v1/partners/invites", &json!({"type": "reseller"}));
    assert_eq!(invite.status, 201, "{}", invite.text);
    let joined = acme.call(
        "POST",
        "/api/v1/partners/join",
        Some(&json!({"token": invite.json["token"], "type": "vendor"})),
    );
    assert_eq!(joined.status, 200, "join: {}", joined.text);
    put_policy(&vendor, &acme.id, NAME_STAGE_AND_DOMAIN);
    // The workspace imports its CRM export and shares with the vendor under a template.
    let csv = "name,domain,status\nInitech,initech.example,customer\n";
    let imported = http(
        "POST",
        &format!("{}/api/v1/import/accounts", acme.base),
        Some(&acme.token),
        Some("text/csv"),
        Some(csv.as_bytes()),
    );
    assert_eq!(imported.status, 200, "import: {}", imported.text);

    // A deal from the node arrives in the workspace's inbox; it accepts and both co-write.
    let opp = opportunity(&vendor, "hosted.example", json!({}));
    let deal = share_deal(&vendor, &opp, &[&acme.id]);
    wait("the invitation in the workspace", || {
        acme.get("/api/v1/inbox").json["items"]
            .as_array()?
            .iter()
            .any(|i| i["deal_id"] == deal.as_str())
            .then_some(())
    });
    let accepted = acme.call(
        "POST",
        &format!("/api/v1/deals/{deal}/accept"),
        Some(&json!({})),
    );
    assert_eq!(accepted.status, 200, "accept: {}", accepted.text);
    wait("the deal in the workspace", || {
        (acme.get(&format!("/api/v1/deals/{deal}")).status == 200).then_some(())
    });
    let r = acme.call(
        "PATCH",
        &format!("/api/v1/deals/{deal}"),
        Some(&json!({"note": "from the workspace"})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = vendor.patch(
        &format!("/api/v1/deals/{deal}"),
        &json!({"note": "from the vendor"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    wait("both notes on both sides", || {
        let here = acme.get(&format!("/api/v1/deals/{deal}")).json;
        let there = vendor.get(&format!("/api/v1/deals/{deal}")).json;
        let done = |d: &Value| {
            notes(d, &acme.id) == ["from the workspace"]
                && notes(d, &vendor.id) == ["from the vendor"]
        };
        (done(&here) && done(&there)).then_some(())
    });

    // Isolation: every route of the OpenAPI document, under acme, with globex's token, with
    // the host admin's token and with none, answers 404; likewise globex with acme's token.
    let doc = http(
        "GET",
        &format!("{}/api/v1/openapi.json", host.url()),
        None,
        None,
        None,
    );
    assert_eq!(doc.status, 200);
    let account = acme.get("/api/v1/accounts").json["items"][0]["id"]
        .as_str()
        .expect("account")
        .to_string();
    // Public on every node: the document itself, how to sign in, signing in and out,
    // onboarding.
    let public = [
        "/openapi.json",
        "/sign-in",
        "/session POST",
        "/session DELETE",
        "/onboarding POST",
        "/healthz",
        "/readyz",
    ];
    let mut tried = 0;
    for (path, item) in doc.json["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            let method = method.to_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                continue;
            }
            let key = format!("{path} {method}");
            if public.iter().any(|p| *p == path.as_str() || *p == key) {
                continue;
            }
            let concrete = path
                .replace("{id}", &deal)
                .replace("{name}", "first")
                .replace("{partner}", &vendor.id);
            let concrete = if path.starts_with("/accounts/") {
                concrete.replace(&deal, &account)
            } else if path.starts_with("/opportunities/") {
                concrete.replace(&deal, &opp)
            } else {
                concrete
            };
            let route = if path.starts_with("/metrics") || path.starts_with("/healthz") {
                concrete
            } else {
                format!("/api/v1{concrete}")
            };
            for (target, token) in [
                (&acme.base, Some(globex.token.as_str())),
                (&acme.base, Some(host.token().as_str())),
                (&acme.base, None),
                (&globex.base, Some(acme.token.as_str())),
            ] {
                let r = http(
                    &method,
                    &format!("{target}{route}"),
                    token,
                    Some("application/json"),
                    (method != "GET" && method != "DELETE").then_some(b"{}".as_slice()),
                );
                assert_eq!(
                    r.status, 404,
                    "{method} {target}{route} with a foreign credential: {}",
                    r.text
                );
                tried += 1;
            }
        }
    }
    assert!(
        tried > 200,
        "only {tried} attempts: is the OpenAPI document whole?"
    );
    // The host's own routes do not take a workspace's token either.
    let r = http(
        "GET",
        &format!("{}/api/v1/deals", host.url()),
        Some(&acme.token),
        None,
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text);
    // The deal is still acme's: its own token reads it.
    assert_eq!(acme.get(&format!("/api/v1/deals/{deal}")).status, 200);

    // Moving out: the workspace becomes a node of its own, same identity, nothing lost.
    let mut moved = Node::uninitialized("Acme");
    let out = host.cli(&[
        "workspace",
        "export",
        "acme",
        moved.dir().to_str().expect("path"),
    ]);
    assert!(out.ok(), "export: {}", out.stderr);
    assert_eq!(out.stdout.trim(), acme.id);
    let names: Vec<String> = workspaces(&host)
        .iter()
        .filter_map(|w| w["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, ["globex"], "the host forgot acme");
    assert_eq!(acme.get("/api/v1/node").status, 404);
    assert!(!host.dir().join("workspaces/acme").exists());
    moved.serve();
    assert_eq!(moved.get("/api/v1/node").json["id"], acme.id.as_str());
    let partners = moved.get("/api/v1/partners").json;
    assert_eq!(partners["items"][0]["id"], vendor.id.as_str(), "{partners}");
    let r = moved.patch(
        &format!("/api/v1/deals/{deal}"),
        &json!({"note": "after the move"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = vendor.patch(
        &format!("/api/v1/deals/{deal}"),
        &json!({"note": "vendor after the move"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    wait("the moved node and the vendor converge", || {
        let here = moved.get(&format!("/api/v1/deals/{deal}")).json;
        let there = vendor.get(&format!("/api/v1/deals/{deal}")).json;
        let done = |d: &Value| {
            notes(d, &acme.id) == ["from the workspace", "after the move"]
                && notes(d, &vendor.id) == ["from the vendor", "vendor after the move"]
        };
        (done(&here) && done(&there)).then_some(())
    });
    assert_eq!(
        moved.get("/api/v1/accounts").json["items"][0]["id"],
        account.as_str()
    );

    // And back in: the stopped node becomes a workspace again, its own token still working.
    moved.stop();
    let out = host.cli(&[
        "workspace",
        "import",
        moved.dir().to_str().expect("path"),
        "--name",
        "acme-again",
    ]);
    assert!(out.ok(), "import: {}", out.stderr);
    let back = Ws {
        base: format!("{}/w/acme-again", host.url()),
        token: acme.token.clone(),
        id: acme.id.clone(),
    };
    assert_eq!(back.get("/api/v1/node").json["id"], back.id.as_str());
    assert_eq!(back.get(&format!("/api/v1/deals/{deal}")).status, 200);
}

#[test]
fn the_host_admin_suspends_resumes_and_deletes_a_workspace_and_reads_none_of_its_records() {
    let host = hosting_node("Host Co");
    let link = create(&host, "initech");
    let ws = onboard(&host, &link, "initech");
    assert_eq!(ws.get("/api/v1/deals").status, 200);
    // The host admin's token is no credential of the workspace.
    let r = http(
        "GET",
        &format!("{}/api/v1/deals", ws.base),
        Some(&host.token()),
        None,
        None,
    );
    assert_eq!(r.status, 404, "{}", r.text);
    // Names are checked; a second workspace of the same name is refused.
    let out = host.cli(&["workspace", "create", "Bad Name"]);
    assert!(!out.ok());
    assert!(out.stderr.contains("workspace name"), "{}", out.stderr);
    let r = host.post("/api/v1/workspaces", &json!({"name": "initech"}));
    assert_eq!(r.status, 409, "{}", r.text);

    let out = host.cli(&["workspace", "suspend", "initech"]);
    assert!(out.ok(), "suspend: {}", out.stderr);
    assert_eq!(workspaces(&host)[0]["status"], "suspended");
    assert_eq!(ws.get("/api/v1/deals").status, 404);
    let out = host.cli(&["workspace", "resume", "initech"]);
    assert!(out.ok(), "resume: {}", out.stderr);
    assert_eq!(ws.get("/api/v1/deals").status, 200);

    let out = host.cli(&["workspace", "delete", "initech"]);
    assert!(out.ok(), "delete: {}", out.stderr);
    assert!(workspaces(&host).is_empty());
    assert_eq!(ws.get("/api/v1/deals").status, 404);
    assert!(!host.dir().join("workspaces/initech").exists());

    // A node without hosting has no workspaces to manage.
    let mut plain = Node::init("Plain Co");
    plain.serve();
    let out = plain.cli(&["workspace", "list"]);
    assert!(!out.ok());
    assert!(out.stderr.contains("hosting = true"), "{}", out.stderr);
}

/// Resident memory of process `pid`, in KiB, and its CPU time (user + system) in clock ticks.
fn rss_and_cpu(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .expect("stat")
        .split_whitespace()
        .collect();
    let cpu = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    (rss, cpu)
}

/// Runs `f` over `items` on a few threads.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(8).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(|| part.iter().map(&f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    })
}

#[test]
#[ignore = "benchmark (minutes): COSELL_BENCH_WORKSPACES=1000 cargo test -p cosell-e2e --test hosting thousand_workspaces -- --ignored --nocapture"]
fn thousand_workspaces() {
    let n: usize = std::env::var("COSELL_BENCH_WORKSPACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let n = n + n % 2;
    let mut host = hosting_node("Host Co");
    let (rss_empty, _) = rss_and_cpu(host.pid());
    let names: Vec<String> = (0..n).map(|i| format!("w{i:04}")).collect();
    let started = std::time::Instant::now();
    let links = in_parallel(&names, |name| {
        let r = host.post("/api/v1/workspaces", &json!({"name": name}));
        assert_eq!(r.status, 201, "{}", r.text);
        r.json["onboarding_url"].as_str().expect("link").to_string()
    });
    let created = started.elapsed();
    let (rss_idle, cpu_before) = rss_and_cpu(host.pid());
    std::thread::sleep(std::time::Duration::from_secs(10));
    let (_, cpu_after) = rss_and_cpu(host.pid());
    let idle_cpu = (cpu_after - cpu_before) as f64 / 100.0 / 10.0;
    println!(
        "{n} workspaces created in {:.1} s; RSS {} MiB empty host, {} MiB with them ({} KiB per idle workspace); idle CPU {:.1}% of one core",
        created.as_secs_f64(),
        rss_empty / 1024,
        rss_idle / 1024,
        (rss_idle - rss_empty) / n as u64,
        idle_cpu * 100.0
    );

    // Start-up: stop and serve again with every workspace on disk.
    host.stop();
    let started = std::time::Instant::now();
    host.serve();
    let startup = started.elapsed();
    let (rss_restarted, _) = rss_and_cpu(host.pid());
    println!(
        "start-up with {n} workspaces: {:.1} s to ready; RSS {} MiB",
        startup.as_secs_f64(),
        rss_restarted / 1024
    );

    // Each workspace gets a user and a token; pairs become partners.
    let pairs: Vec<(usize, usize)> = (0..n).step_by(2).map(|i| (i, i + 1)).collect();
    let ws: Vec<Ws> = in_parallel(
        &names.iter().zip(&links).collect::<Vec<_>>(),
        |(name, link)| onboard(&host, link, name),
    );
    let (rss_users, _) = rss_and_cpu(host.pid());
    println!(
        "after a first user signed in to each: RSS {} MiB",
        rss_users / 1024
    );
    in_parallel(&pairs, |&(a, b)| {
        let invite = ws[a].call(
            "POST",
            "/api/v1/partners/invites",
            Some(&json!({"type": "reseller"})),
        );
        assert_eq!(invite.status, 201, "{}", invite.text);
        let joined = ws[b].call(
            "POST",
            "/api/v1/partners/join",
            Some(&json!({"token": invite.json["token"], "type": "vendor"})),
        );
        assert_eq!(joined.status, 200, "join: {}", joined.text);
    });
    let opps: Vec<String> = in_parallel(&(0..n).collect::<Vec<_>>(), |&i| {
        let partner = &ws[i ^ 1];
        let policy = ws[i].call(
            "PUT",
            &format!("/api/v1/partners/{}/policy", partner.id),
            Some(&json!({"opportunities": {"fields": ["name", "stage", "account.domain"]}})),
        );
        assert_eq!(policy.status, 200, "{}", policy.text);
        let account = ws[i].call(
            "POST",
            "/api/v1/accounts",
            Some(&json!({"name": "Account", "domain": format!("a{i}.example"), "status": "prospect"})),
        );
        assert_eq!(account.status, 201, "{}", account.text);
        let opp = ws[i].call(
            "POST",
            "/api/v1/opportunities",
            Some(&json!({"account_id": account.json["id"], "name": format!("Deal {i}"), "stage": "qualified"})),
        );
        assert_eq!(opp.status, 201, "{}", opp.text);
        opp.json["id"].as_str().expect("id").to_string()
    });

    // One new deal each, shared at once; time until every partner has it.
    let started = std::time::Instant::now();
    let deals: Vec<String> = in_parallel(&(0..n).collect::<Vec<_>>(), |&i| {
        let r = ws[i].call(
            "POST",
            "/api/v1/deals",
            Some(&json!({"opportunity_id": opps[i], "partners": [ws[i ^ 1].id]})),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.json["id"].as_str().expect("deal").to_string()
    });
    let shared = started.elapsed();
    in_parallel(&(0..n).collect::<Vec<_>>(), |&i| {
        let receiver = &ws[i ^ 1];
        cosell_e2e::wait_for(std::time::Duration::from_secs(600), || {
            receiver.get("/api/v1/inbox").json["items"]
                .as_array()?
                .iter()
                .any(|d| d["deal_id"] == deals[i].as_str())
                .then_some(())
        })
        .expect("every deal arrives within 10 minutes");
    });
    let synced = started.elapsed();
    let (rss_busy, _) = rss_and_cpu(host.pid());
    println!(
        "{n} new deals (one per workspace, {} partnerships): shared in {:.1} s, all in their partners' inboxes after {:.1} s; RSS {} MiB",
        pairs.len(),
        shared.as_secs_f64(),
        synced.as_secs_f64(),
        rss_busy / 1024
    );
}
