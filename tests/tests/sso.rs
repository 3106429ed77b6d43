//! Enterprise sign-in: OpenID Connect single sign-on against a real OpenID provider (npm
//! `oidc-provider`, `tests/browser/oidc-idp.mjs`) driven through Chromium
//! (`tests/browser/sso-flow.mjs`), and SCIM 2.0 provisioning checked by `scim2-tester` (PyPI,
//! `tests/scim/check.py`) against a real node.
//!
//! Needs `chromium`, `tests/browser/node_modules` and `scim2-tester[httpx2]` (`.ci/run` installs
//! them); fails without them. `COSELL_BROWSER_TESTS=0` skips the browser part.

use cosell_e2e::{wait_bounded, Node};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

const FLOW_TIMEOUT: Duration = Duration::from_secs(300);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// The test OpenID provider; killed on drop.
struct Idp {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    port: u16,
}

impl Idp {
    fn start() -> Idp {
        let mut child = Command::new("node")
            .arg("oidc-idp.mjs")
            .current_dir(browser_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start `node oidc-idp.mjs` (install Node.js 20+ and npm ci in tests/browser)");
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first: Value = serde_json::from_str(&lines.next().expect("port line").expect("read"))
            .expect("port JSON");
        let port = first["port"].as_u64().expect("port") as u16;
        Idp {
            child,
            stdin,
            lines,
            port,
        }
    }

    fn issuer(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// Registers the node's redirect URIs; returns once the provider answers.
    fn configure(&mut self, node_url: &str) {
        self.register(
            json!({"redirect_uri": format!("{node_url}/auth/oidc/callback"),
                             "post_logout_redirect_uri": format!("{node_url}/")}),
        );
    }

    /// Registers one client per `(client_id, base URL)` (hosted workspaces).
    fn configure_clients(&mut self, clients: &[(&str, &str)]) {
        let clients: Vec<Value> = clients
            .iter()
            .map(|(id, url)| {
                json!({"client_id": id, "redirect_uri": format!("{url}/auth/oidc/callback"),
                       "post_logout_redirect_uri": format!("{url}/")})
            })
            .collect();
        self.register(json!({ "clients": clients }));
    }

    fn register(&mut self, line: Value) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write to the provider");
        let ready: Value =
            serde_json::from_str(&self.lines.next().expect("ready line").expect("read"))
                .expect("ready JSON");
        assert_eq!(ready["issuer"], json!(self.issuer()));
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node with `[oidc]` pointing at `issuer`, `[roles]`, local passwords off, and the client
/// secret in a 0600 file.
fn sso_node(issuer: &str) -> Node {
    let node = Node::init("Vendor");
    configure_sso(&node.dir(), issuer, "cosell", "local_passwords = false\n");
    node
}

/// Writes `[oidc]` (client `client_id`, secret in a 0600 file) and `[roles]` into the
/// `cosell.toml` of the node data directory `dir`, `top` before its other settings.
fn configure_sso(dir: &Path, issuer: &str, client_id: &str, top: &str) {
    let secret = dir.join("oidc-client-secret");
    std::fs::write(&secret, "cosell-test-secret\n").expect("secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let path = dir.join("cosell.toml");
    let text = std::fs::read_to_string(&path).expect("cosell.toml");
    std::fs::write(
        &path,
        format!(
            "{top}{text}\n[oidc]\nissuer = \"{issuer}\"\nclient_id = \"{client_id}\"\n\
             client_secret_file = \"oidc-client-secret\"\ndisplay_name = \"Test IdP\"\n\n\
             [roles]\nadmin = [\"cosell-admins\"]\nmanager = [\"sales\"]\nviewer = [\"staff\"]\n"
        ),
    )
    .expect("write cosell.toml");
}

/// Runs the browser flow `script` (in `tests/browser`) with `envs`; on failure, the test fails
/// with `node`'s log.
fn run_flow(script: &str, envs: &[(&str, String)], node: &Node) {
    let mut flow = Command::new("node")
        .args([
            "--test",
            "--test-concurrency=1",
            "--test-reporter=spec",
            script,
        ])
        .current_dir(browser_dir())
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .spawn()
        .expect("cannot start node");
    let status = wait_bounded(&mut flow, FLOW_TIMEOUT).unwrap_or_else(|| {
        let _ = flow.kill();
        let _ = flow.wait();
        panic!("{script} did not finish within {FLOW_TIMEOUT:?}")
    });
    assert!(
        status.success(),
        "{script} failed ({status}); node log:\n{}",
        node.log()
    );
}

#[test]
fn single_sign_on_through_a_real_openid_provider_in_chromium() {
    if std::env::var("COSELL_BROWSER_TESTS").as_deref() == Ok("0") {
        println!("browser tests skipped: COSELL_BROWSER_TESTS=0");
        return;
    }
    let chromium = std::env::var("COSELL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut idp = Idp::start();
    let mut node = sso_node(&idp.issuer());
    node.serve();
    idp.configure(node.url());

    // Password sign-in is off; API tokens still work.
    let created = node.post(
        "/api/v1/users",
        &json!({"username": "local", "password": "a long local password", "role": "admin"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let signin = cosell_e2e::http(
        "POST",
        &format!("{}/api/v1/session", node.url()),
        None,
        Some("application/json"),
        Some(br#"{"username": "local", "password": "a long local password"}"#),
    );
    assert_eq!(signin.status, 403, "{}", signin.text);
    assert!(signin.text.contains("single sign-on"), "{}", signin.text);
    let methods = node.get("/api/v1/sign-in");
    assert_eq!(
        methods.json,
        json!({"local_passwords": false, "sso": {"name": "Test IdP", "login_url": "/auth/oidc/login"}})
    );

    // The SCIM token, made with the CLI; it is not an API token.
    let out = node.cli(&["scim", "token", "--name", "test idp"]);
    assert!(out.ok(), "{}", out.stderr);
    let scim_token = out.stdout.trim().to_string();
    assert!(scim_token.starts_with("cosell_scim_"), "{scim_token}");
    let as_api = cosell_e2e::http(
        "GET",
        &format!("{}/api/v1/node", node.url()),
        Some(&scim_token),
        None,
        None,
    );
    assert_eq!(as_api.status, 401);

    let shots = std::env::temp_dir().join("cosell-sso-screenshots");
    run_flow(
        "sso-flow.mjs",
        &[
            ("COSELL_URL", node.url().to_string()),
            ("COSELL_IDP", idp.issuer()),
            ("COSELL_SCIM_TOKEN", scim_token.clone()),
            ("COSELL_CHROMIUM", chromium),
            ("COSELL_SCREENSHOTS", shots.display().to_string()),
        ],
        &node,
    );
    // Every sign-in and refusal left its trace; the audit log names the SSO sign-ins.
    let audit = node.get("/api/v1/audit?limit=1000");
    assert!(
        audit.text.contains("signed in with single sign-on"),
        "{}",
        audit.text
    );
}

#[test]
fn scim_provisioning_passes_the_scim2_tester_checks() {
    let probe = Command::new("python3")
        .args(["-c", "import scim2_tester, httpx2"])
        .status()
        .expect("python3");
    assert!(
        probe.success(),
        "scim2-tester is not installed: python3 -m pip install 'scim2-tester[httpx2]'"
    );
    let mut node = Node::init("Vendor");
    node.serve();
    let created = node.post("/api/v1/scim/tokens", &json!({"name": "tester"}));
    assert_eq!(created.status, 201, "{}", created.text);
    let token = created.json["token"].as_str().expect("token").to_string();
    // Without the token, or with an API token: the RFC's error shape, 401.
    for bearer in [None, Some(node.token())] {
        let r = cosell_e2e::http(
            "GET",
            &format!("{}/scim/v2/Users", node.url()),
            bearer.as_deref(),
            None,
            None,
        );
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json["schemas"][0],
            json!("urn:ietf:params:scim:api:messages:2.0:Error")
        );
        assert_eq!(r.json["status"], json!("401"));
    }
    let check = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scim/check.py"))
        .env("COSELL_SCIM_URL", format!("{}/scim/v2", node.url()))
        .env("COSELL_SCIM_TOKEN", &token)
        .output()
        .expect("python3");
    let report = String::from_utf8_lossy(&check.stdout);
    println!("{report}");
    assert!(
        check.status.success(),
        "scim2-tester found errors:\n{report}\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&check.stderr),
        node.log()
    );

    // Filter and pagination as an identity provider uses them.
    let scim = |method: &str, path: &str, body: Option<Value>| {
        let bytes = body.map(|b| serde_json::to_vec(&b).expect("json"));
        cosell_e2e::http(
            method,
            &format!("{}/scim/v2{path}", node.url()),
            Some(&token),
            Some("application/scim+json"),
            bytes.as_deref(),
        )
    };
    for name in ["p1", "p2", "p3"] {
        let r = scim("POST", "/Users", Some(json!({"userName": name})));
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let page = scim("GET", "/Users?filter=userName%20eq%20%22P2%22", None);
    assert_eq!(page.json["totalResults"], json!(1), "{}", page.text);
    assert_eq!(page.json["Resources"][0]["userName"], json!("p2"));
    let page = scim(
        "GET",
        "/Users?startIndex=2&count=1&filter=userName%20sw%20%22p%22",
        None,
    );
    assert_eq!(
        (
            &page.json["totalResults"],
            &page.json["startIndex"],
            &page.json["itemsPerPage"]
        ),
        (&json!(3), &json!(2), &json!(1)),
        "{}",
        page.text
    );
    let bad = scim("GET", "/Users?filter=userName%20eq", None);
    assert_eq!(
        (bad.status, &bad.json["scimType"]),
        (400, &json!("invalidFilter"))
    );
    let dup = scim("POST", "/Users", Some(json!({"userName": "P1"})));
    assert_eq!(
        (dup.status, &dup.json["scimType"]),
        (409, &json!("uniqueness"))
    );
    // The users list of the API shows the provisioned users.
    let users = node.get("/api/v1/users");
    assert!(users.text.contains("\"p3\""), "{}", users.text);
}

/// A workspace admin's credentials as the browser gets them: the session cookie and its CSRF
/// token, from signing in with a password under `/w/NAME/`.
fn workspace_session(base: &str, username: &str, password: &str) -> (String, String) {
    let signed = ureq::post(&format!("{base}/api/v1/session"))
        .send_json(json!({"username": username, "password": password}))
        .expect("sign in to the workspace");
    let cookie = signed.header("set-cookie").expect("a cookie").to_string();
    let session: Value = signed.into_json().expect("session json");
    let pair = cookie.split(';').next().expect("cookie pair").to_string();
    (
        pair,
        session["csrf_token"].as_str().expect("csrf").to_string(),
    )
}

/// A SCIM token made by a workspace's admin in that workspace.
fn workspace_scim_token(base: &str, username: &str, password: &str) -> String {
    let (cookie, csrf) = workspace_session(base, username, password);
    let made: Value = ureq::post(&format!("{base}/api/v1/scim/tokens"))
        .set("Cookie", &cookie)
        .set("X-CSRF-Token", &csrf)
        .send_json(json!({"name": "idp"}))
        .expect("scim token")
        .into_json()
        .expect("token json");
    made["token"].as_str().expect("token").to_string()
}

/// Goal: on a host (`hosting = true`), each workspace has its own identity provider settings,
/// SCIM tokens and users; nothing of one signs into or provisions another. Method: two
/// workspaces, each with its own client at one real OpenID provider; Chromium onboards the
/// first user of `acme` through its onboarding link (axe clean), signs in to `beta` with SSO,
/// and hands a callback meant for `beta` to `acme` (refused); SCIM tokens are tried across.
#[test]
fn hosted_workspaces_each_have_their_own_sso_and_scim() {
    if std::env::var("COSELL_BROWSER_TESTS").as_deref() == Ok("0") {
        println!("browser tests skipped: COSELL_BROWSER_TESTS=0");
        return;
    }
    let chromium = std::env::var("COSELL_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut idp = Idp::start();
    let mut host = Node::init("Host Co");
    cosell_e2e::set_setting(&host, "hosting", "true");
    host.serve();
    let mut links = Vec::new();
    for name in ["acme", "beta"] {
        let out = host.cli(&["workspace", "create", name]);
        assert!(out.ok(), "workspace create: {}", out.stderr);
        links.push(out.stdout.trim().to_string());
        // The host's operator puts the company's IdP settings in the workspace's own
        // cosell.toml; a resume reads them.
        let dir = host.dir().join("workspaces").join(name);
        configure_sso(&dir, &idp.issuer(), name, "");
        for step in ["suspend", "resume"] {
            let r = host.post(&format!("/api/v1/workspaces/{name}/{step}"), &json!({}));
            assert_eq!(r.status, 200, "{step}: {}\n{}", r.text, host.log());
        }
    }
    let base = |name: &str| format!("{}/w/{name}", host.url());
    idp.configure_clients(&[("acme", &base("acme")), ("beta", &base("beta"))]);
    for name in ["acme", "beta"] {
        let methods = cosell_e2e::http(
            "GET",
            &format!("{}/api/v1/sign-in", base(name)),
            None,
            None,
            None,
        );
        assert_eq!(
            methods.json["sso"]["login_url"],
            json!(format!("/w/{name}/auth/oidc/login")),
            "{}",
            methods.text
        );
    }
    // beta's first user by its link, through the API.
    let code = links[1].split_once("#onboarding=").expect("link").1;
    let onboarded = cosell_e2e::http(
        "POST",
        &format!("{}/api/v1/onboarding", base("beta")),
        None,
        Some("application/json"),
        Some(
            json!({"code": code, "username": "bea", "password": "beta password 123"})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(onboarded.status, 201, "{}", onboarded.text);

    let shots = std::env::temp_dir().join("cosell-workspace-screenshots");
    run_flow(
        "workspace-flow.mjs",
        &[
            ("COSELL_HOST", host.url().to_string()),
            ("COSELL_ONBOARDING", links[0].clone()),
            ("COSELL_IDP", idp.issuer()),
            ("COSELL_CHROMIUM", chromium),
            ("COSELL_SCREENSHOTS", shots.display().to_string()),
        ],
        &host,
    );

    // SCIM: each workspace's token provisions that workspace only.
    let acme_token = workspace_scim_token(&base("acme"), "owner", "acme owner password");
    let beta_token = workspace_scim_token(&base("beta"), "bea", "beta password 123");
    let scim = |name: &str, token: &str, method: &str, path: &str, body: Option<Value>| {
        let bytes = body.map(|b| serde_json::to_vec(&b).expect("json"));
        cosell_e2e::http(
            method,
            &format!("{}/scim/v2{path}", base(name)),
            Some(token),
            Some("application/scim+json"),
            bytes.as_deref(),
        )
    };
    let made = scim(
        "beta",
        &beta_token,
        "POST",
        "/Users",
        Some(json!({"userName": "sue"})),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.json["id"].as_str().expect("scim id");
    for (path, method) in [
        ("/Users", "GET"),
        (&format!("/Users/{id}")[..], "GET"),
        ("/Users", "POST"),
    ] {
        let across = scim(
            "acme",
            &beta_token,
            method,
            path,
            Some(json!({"userName": "eve"})),
        );
        assert_eq!(
            across.status, 404,
            "beta's token on acme {method} {path}: {}",
            across.text
        );
    }
    let in_acme = scim("acme", &acme_token, "GET", "/Users", None);
    assert_eq!(
        (in_acme.status, &in_acme.json["totalResults"]),
        (200, &json!(0)),
        "{}",
        in_acme.text
    );
    // The users of each: acme its onboarded owner only; beta its first user, the SSO user and
    // the SCIM user.
    for (name, login, password, expected) in [
        ("acme", "owner", "acme owner password", vec!["owner"]),
        (
            "beta",
            "bea",
            "beta password 123",
            vec!["ana", "bea", "sue"],
        ),
    ] {
        let (cookie, _) = workspace_session(&base(name), login, password);
        let users: Value = ureq::get(&format!("{}/api/v1/users", base(name)))
            .set("Cookie", &cookie)
            .call()
            .expect("users")
            .into_json()
            .expect("users json");
        let mut names: Vec<&str> = users["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|u| u["username"].as_str())
            .collect();
        names.sort();
        assert_eq!(names, expected, "the users of {name}");
    }
}
