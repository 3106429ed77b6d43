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
    let (base, code) = link
        .split_once("/#onboarding=")
        .expect("an onboarding link");
    assert_eq!(base, format!("{}/w/{name}", host.url()));
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
        base: base.to_string(),
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
    let acme = onboard(&host, &create(&host, "acme"), "acme");
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
    // Public on every node: the document itself, signing in and out, onboarding.
    let public = [
        "/openapi.json",
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
