//! Account mapping end to end: two real nodes with known overlapping accounts map each other by
//! private set intersection under their policies; each learns at most what the other's policy
//! allows, the vendor's non-matching (canary) accounts never reach the partner's disk nor any
//! frame a partner running its own code captures, and runs are rate-limited (across restarts)
//! and audited. Also the command line (`cosell map`, `cosell populations`), proposing a deal
//! from an overlap, and the schedule.

use cosell_e2e::{partner, put_policy, set_setting, wait, Node};
use serde_json::Value;
use std::time::Duration;

/// Accounts both sides have.
const SHARED: usize = 5;
/// Accounts only the vendor has: canary domains.
const CANARIES: usize = 3;
/// Accounts only the partner has.
const PARTNER_ONLY: usize = 4;
const CANARY: &str = "canary-vendor";

fn csv(rows: &[(String, String, &str)]) -> String {
    let mut s = String::from("external_id,name,domain,industry,country,status,owner\n");
    for (i, (name, domain, status)) in rows.iter().enumerate() {
        s.push_str(&format!(
            "x-{i},{name},{domain},Software,Germany,{status},\n"
        ));
    }
    s
}

fn import(node: &Node, rows: &[(String, String, &str)]) {
    let r = node.post_csv("/api/v1/import/accounts", csv(rows).as_bytes());
    assert_eq!(r.status, 200, "import: {}", r.text);
}

/// A vendor whose customers are shared-N and canaries; a partner whose prospects are shared-N
/// and its own. Partners, both serving.
fn pair() -> (Node, Node) {
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    vendor.serve();
    reseller.serve();
    let mut v = Vec::new();
    for i in 1..=SHARED {
        v.push((
            format!("Vendor view {i}"),
            format!("shared-{i}.example"),
            "customer",
        ));
    }
    for i in 1..=CANARIES {
        v.push((
            format!("Secret {i}"),
            format!("{CANARY}-{i}.example"),
            "customer",
        ));
    }
    import(&vendor, &v);
    let mut p = Vec::new();
    for i in 1..=SHARED {
        p.push((
            format!("Reseller view {i}"),
            format!("shared-{i}.example"),
            "prospect",
        ));
    }
    for i in 1..=PARTNER_ONLY {
        p.push((
            format!("Own {i}"),
            format!("partner-only-{i}.example"),
            "prospect",
        ));
    }
    import(&reseller, &p);
    partner(&vendor, &reseller, "reseller", "vendor");
    (vendor, reseller)
}

fn policy(level: &str) -> String {
    format!("version = 1\n\n[accounts]\nsharing = \"{level}\"\nfields = [\"name\", \"industry\"]\n")
}

fn set_levels(vendor: &Node, reseller: &Node, vendor_level: &str, reseller_level: &str) {
    put_policy(vendor, &reseller.id, &policy(vendor_level));
    put_policy(reseller, &vendor.id, &policy(reseller_level));
}

fn map(node: &Node, partner: &Node) -> Value {
    let r = node.post(
        &format!("/api/v1/partners/{}/map", partner.id),
        &Value::Null,
    );
    assert_eq!(r.status, 200, "map: {}", r.text);
    r.json
}

fn cell<'a>(matrix: &'a Value, mine: &str, theirs: &str) -> &'a Value {
    matrix["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|c| c["mine"] == mine && c["theirs"] == theirs)
        .unwrap_or_else(|| panic!("no cell {mine} x {theirs} in {matrix}"))
}

#[test]
fn counts_and_overlaps_at_each_level() {
    let (vendor, reseller) = pair();
    for level in ["hidden", "counts", "overlaps", "all"] {
        set_levels(&vendor, &reseller, level, level);
        let m = map(&vendor, &reseller);
        assert_eq!(m["partner"], reseller.id.as_str());
        assert!(m["computed_at"].is_string());
        let c = cell(&m, "customers", "prospects");
        assert_eq!(c["level"], level, "{c}");
        let overlaps = c["overlaps"].as_array().expect("overlaps");
        match level {
            "hidden" => {
                assert!(c["count"].is_null(), "{c}");
                assert!(overlaps.is_empty());
            }
            "counts" => {
                assert_eq!(c["count"], SHARED, "{c}");
                assert!(overlaps.is_empty(), "counts reveals no account: {c}");
            }
            _ => {
                assert_eq!(c["count"], SHARED, "{c}");
                let mut domains: Vec<&str> = overlaps
                    .iter()
                    .map(|o| o["domain"].as_str().expect("domain"))
                    .collect();
                domains.sort();
                let want: Vec<String> = (1..=SHARED)
                    .map(|i| format!("shared-{i}.example"))
                    .collect();
                assert_eq!(domains, want.iter().map(String::as_str).collect::<Vec<_>>());
                for o in overlaps {
                    let fields = o["partner"].as_object().expect("partner fields");
                    assert!(fields.contains_key("name"), "{level}: {c}");
                    assert!(
                        fields["name"]
                            .as_str()
                            .unwrap()
                            .starts_with("Reseller view"),
                        "{o}"
                    );
                    assert_eq!(fields["industry"], "Software");
                    assert!(
                        fields.get("domain").is_none() && fields.get("status").is_none(),
                        "only allowed fields: {o}"
                    );
                    assert!(o["opportunity_ids"].is_array());
                }
            }
        }
        if level == "all" {
            assert_eq!(
                c["partner_accounts"].as_array().map(Vec::len),
                Some(SHARED + PARTNER_ONLY)
            );
        }
        // Populations without members overlap in nothing.
        if level != "hidden" {
            assert_eq!(cell(&m, "prospects", "prospects")["count"], 0);
        }
        // The stored matrix is the one answered; the partner stored its own view.
        let got = vendor.get(&format!("/api/v1/partners/{}/map", reseller.id));
        assert_eq!(got.status, 200);
        assert_eq!(got.json["computed_at"], m["computed_at"]);
        assert!(got.json["signature"]
            .as_str()
            .is_some_and(|s| s.len() == 128));
        let theirs = reseller.get(&format!("/api/v1/partners/{}/map", vendor.id));
        assert_eq!(theirs.status, 200, "{}", theirs.text);
        assert_eq!(cell(&theirs.json, "prospects", "customers")["level"], level);
    }
    // Every run is in the audit on both sides.
    for node in [&vendor, &reseller] {
        let audit = node.get("/api/v1/audit?limit=1000");
        let runs = audit.json["items"]
            .as_array()
            .expect("audit items")
            .iter()
            .filter(|e| e["kind"] == "mapping")
            .count();
        assert_eq!(runs, 4, "{}", audit.text);
    }
}

#[test]
fn asymmetric_levels_reveal_the_lesser() {
    let (vendor, reseller) = pair();
    set_levels(&vendor, &reseller, "overlaps", "counts");
    let m = map(&vendor, &reseller);
    let c = cell(&m, "customers", "prospects");
    assert_eq!(c["level"], "counts", "{c}");
    assert_eq!(c["count"], SHARED);
    assert!(c["overlaps"].as_array().unwrap().is_empty(), "{c}");
    let theirs = reseller
        .get(&format!("/api/v1/partners/{}/map", vendor.id))
        .json;
    let c = cell(&theirs, "prospects", "customers");
    assert_eq!(c["count"], SHARED);
    assert!(c["overlaps"].as_array().unwrap().is_empty(), "{c}");
}

fn files_containing(dir: &std::path::Path, needle: &[u8], out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_containing(&path, needle, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                out.push(path.display().to_string());
            }
        }
    }
}

#[test]
fn canary_accounts_never_reach_the_partner() {
    let (vendor, mut reseller) = pair();
    set_levels(&vendor, &reseller, "overlaps", "overlaps");
    let m = map(&vendor, &reseller);
    assert_eq!(cell(&m, "customers", "prospects")["count"], SHARED);
    let theirs = map(&reseller, &vendor);
    let c = cell(&theirs, "prospects", "customers");
    assert_eq!(c["overlaps"].as_array().unwrap().len(), SHARED, "{c}");
    assert!(!theirs.to_string().contains(CANARY));
    reseller.stop();
    let mut hits = Vec::new();
    files_containing(&reseller.dir(), CANARY.as_bytes(), &mut hits);
    assert!(
        hits.is_empty(),
        "canary domains on the partner's disk: {hits:?}"
    );
}

#[test]
fn runs_are_rate_limited_per_partner() {
    let (vendor, reseller) = pair();
    set_levels(&vendor, &reseller, "counts", "counts");
    for _ in 0..12 {
        map(&vendor, &reseller);
    }
    let r = vendor.post(
        &format!("/api/v1/partners/{}/map", reseller.id),
        &Value::Null,
    );
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(
        r.text.contains("12 mapping runs per partner per hour"),
        "{}",
        r.text
    );
}

// ---- The command line, populations, proposing a deal, persistence and the schedule ----

/// A policy that shares opportunities (so a proposed deal has fields) and accounts at `level`.
fn deal_policy(level: &str) -> String {
    format!(
        "version = 1\n\n[opportunities]\nfields = [\"name\", \"stage\", \"account.domain\"]\n\n\
         [accounts]\nsharing = \"{level}\"\nfields = [\"name\", \"industry\"]\n"
    )
}

/// Imports opportunities on the vendor: (external id, account domain, stage).
fn import_opportunities(node: &Node, rows: &[(&str, &str, &str)]) {
    let mut csv = String::from("external_id,account_domain,name,stage\n");
    for (id, domain, stage) in rows {
        csv.push_str(&format!("{id},{domain},Deal {id},{stage}\n"));
    }
    let r = node.post_csv("/api/v1/import/opportunities", csv.as_bytes());
    assert_eq!(r.status, 200, "import opportunities: {}", r.text);
}

/// Waits until `node` sees `partner` connected (after a restart).
fn wait_connected(node: &Node, partner: &Node) {
    wait("the partner connected", || {
        node.get("/api/v1/partners").json["items"]
            .as_array()?
            .iter()
            .any(|p| p["id"] == partner.id.as_str() && p["connected"] == true)
            .then_some(())
    });
}

/// The command failed with one sentence on stderr that contains `needle`.
fn assert_fails_with(out: &cosell_e2e::Output, needle: &str) {
    assert!(!out.ok(), "expected a failure; stdout: {}", out.stdout);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error sentence: {}", out.stderr);
    assert!(lines[0].contains(needle), "{}", out.stderr);
}

#[test]
fn cli_map_prints_the_matrix_and_its_json_has_the_contract_shape() {
    let (vendor, mut reseller) = pair();
    set_levels(&vendor, &reseller, "overlaps", "overlaps");

    // By name, as people type it; the readable matrix.
    let out = vendor.cli(&["map", "Reseller Co"]);
    assert!(out.ok(), "map: {}", out.stderr);
    let text = &out.stdout;
    assert!(
        text.starts_with(&format!(
            "account mapping with Reseller Co ({})",
            reseller.id
        )),
        "{text}"
    );
    assert!(text.contains("mine \\ theirs"), "{text}");
    assert!(
        text.contains(&format!(
            "customers × prospects: {SHARED} in common (overlaps)"
        )),
        "{text}"
    );
    for i in 1..=SHARED {
        assert!(
            text.contains(&format!("shared-{i}.example  mine: Vendor view {i}")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "theirs: industry=Software, name=Reseller view {i}"
            )),
            "{text}"
        );
    }
    assert!(!text.contains(CANARY), "{text}");

    // --json: the contract's shape.
    let out = vendor.cli(&["map", &reseller.id, "--json"]);
    assert!(out.ok(), "map --json: {}", out.stderr);
    let m: Value = serde_json::from_str(&out.stdout).expect("map --json is JSON");
    assert_eq!(m["partner"], reseller.id.as_str());
    assert!(m["computed_at"].is_string(), "{m}");
    let cells = m["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 9, "3 built-in populations on each side: {m}");
    for c in cells {
        for key in ["mine", "theirs", "level"] {
            assert!(c[key].is_string(), "{key} in {c}");
        }
        assert!(c["count"].is_u64() || c["count"].is_null(), "{c}");
        assert!(c["overlaps"].is_array(), "{c}");
    }
    assert_eq!(cell(&m, "customers", "prospects")["count"], SHARED);

    // --show prints the stored matrix without a run.
    let out = vendor.cli(&["map", &reseller.id, "--show", "--json"]);
    assert!(out.ok(), "map --show: {}", out.stderr);
    let shown: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(shown["computed_at"], m["computed_at"]);
    assert!(shown["signature"].is_string());
    let runs = |node: &Node| {
        node.get("/api/v1/audit?kind=mapping&limit=1000").json["items"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(runs(&vendor), 2, "--show runs nothing");

    // Errors: one sentence, non-zero exit.
    assert_fails_with(
        &vendor.cli(&["map", "Nobody Inc"]),
        "no partner with id or name 'Nobody Inc'",
    );
    reseller.stop();
    wait("the vendor to see the reseller gone", || {
        vendor.get("/api/v1/partners").json["items"]
            .as_array()?
            .iter()
            .any(|p| p["id"] == reseller.id.as_str() && p["connected"] == false)
            .then_some(())
    });
    assert_fails_with(
        &vendor.cli(&["map", "Reseller Co"]),
        "Reseller Co is offline",
    );
    assert_eq!(runs(&vendor), 2, "an offline partner uses up no run");
}

#[test]
fn custom_populations_from_the_cli_and_open_opportunities_count_known_accounts() {
    let (vendor, reseller) = pair();
    set_levels(&vendor, &reseller, "overlaps", "overlaps");
    // The vendor also has a French account the reseller has too, and opportunities: open on
    // shared-1 and shared-2, lost on shared-3, launched on shared-4.
    let r = vendor.post(
        "/api/v1/accounts",
        &serde_json::json!({"name": "Paris SA", "domain": "partner-only-1.example",
                            "country": "France", "status": "prospect"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    import_opportunities(
        &vendor,
        &[
            ("o1", "shared-1.example", "qualified"),
            ("o2", "shared-2.example", "committed"),
            ("o3", "shared-3.example", "closed_lost"),
            ("o4", "shared-4.example", "launched"),
        ],
    );

    // One population by flags, one from a TOML file.
    let out = vendor.cli(&["populations", "set", "france", "--country", "FRANCE"]);
    assert!(out.ok(), "{}", out.stderr);
    let file = cosell_e2e::write_file(
        &vendor.scratch(),
        "done.toml",
        b"stages = [\"closed_lost\", \"launched\"]\nstatuses = [\"customer\"]\n",
    );
    let out = vendor.cli(&[
        "populations",
        "set",
        "done",
        "--file",
        file.to_str().expect("UTF-8 path"),
    ]);
    assert!(out.ok(), "{}", out.stderr);
    let out = vendor.cli(&["populations", "list"]);
    assert!(out.ok(), "{}", out.stderr);
    assert!(out.stdout.contains("france"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("statuses=customer; stages=closed_lost,launched"),
        "{}",
        out.stdout
    );
    let out = vendor.cli(&["populations", "list", "--json"]);
    let list: Value = serde_json::from_str(&out.stdout).expect("populations --json");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "customers",
            "prospects",
            "open_opportunities",
            "done",
            "france"
        ]
    );
    assert_fails_with(
        &vendor.cli(&["populations", "set", "bad", "--stage", "winning"]),
        "winning",
    );
    assert_fails_with(
        &vendor.cli(&["populations", "set", "customers", "--country", "Spain"]),
        "built-in",
    );

    let out = vendor.cli(&["map", &reseller.id, "--json"]);
    assert!(out.ok(), "{}", out.stderr);
    let m: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        cell(&m, "open_opportunities", "prospects")["count"],
        2,
        "{m}"
    );
    assert_eq!(cell(&m, "done", "prospects")["count"], 2, "{m}");
    let france = cell(&m, "france", "prospects");
    assert_eq!(france["count"], 1, "{m}");
    assert_eq!(france["overlaps"][0]["domain"], "partner-only-1.example");
    assert_eq!(france["overlaps"][0]["partner"]["name"], "Own 1");
    assert_eq!(cell(&m, "customers", "prospects")["count"], SHARED);
    // The reseller sees the vendor's custom populations by name, at its counts.
    let theirs = reseller.get(&format!("/api/v1/partners/{}/map", vendor.id));
    assert_eq!(cell(&theirs.json, "prospects", "france")["count"], 1);

    let out = vendor.cli(&["populations", "remove", "france"]);
    assert!(out.ok(), "{}", out.stderr);
    assert_fails_with(
        &vendor.cli(&["populations", "remove", "france"]),
        "no custom population",
    );
}

#[test]
fn an_overlap_becomes_a_deal_the_partner_finds_in_its_inbox() {
    let (vendor, reseller) = pair();
    put_policy(&vendor, &reseller.id, &deal_policy("overlaps"));
    put_policy(&reseller, &vendor.id, &deal_policy("overlaps"));
    import_opportunities(
        &vendor,
        &[
            ("o1", "shared-1.example", "qualified"),
            ("o3", "shared-3.example", "closed_lost"),
            ("c1", &format!("{CANARY}-1.example"), "qualified"),
            ("o2a", "shared-2.example", "qualified"),
            ("o2b", "shared-2.example", "committed"),
        ],
    );
    // Before any mapping there is no overlap to propose from.
    assert_fails_with(
        &vendor.cli(&["map", "Reseller Co", "--propose", "shared-1.example"]),
        "no account mapping with Reseller Co yet",
    );
    let out = vendor.cli(&["map", "Reseller Co"]);
    assert!(out.ok(), "{}", out.stderr);

    // Written as people paste it; normalized to the overlap's domain.
    let out = vendor.cli(&[
        "map",
        "Reseller Co",
        "--propose",
        "https://www.Shared-1.example/",
    ]);
    assert!(out.ok(), "propose: {}", out.stderr);
    let deal = out.stdout.trim().to_string();
    assert_eq!(deal.lines().count(), 1, "the deal id alone: {}", out.stdout);
    let shown = vendor.get(&format!("/api/v1/deals/{deal}"));
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.json["fields"]["name"], "Deal o1");
    let item = wait("the invitation in the reseller's inbox", || {
        reseller.get("/api/v1/inbox").json["items"]
            .as_array()?
            .iter()
            .find(|i| i["deal_id"] == deal.as_str())
            .cloned()
    });
    assert_eq!(item["account_domain"], "shared-1.example", "{item}");
    assert_eq!(item["from"], vendor.id.as_str());

    // Refusals name the reason.
    assert_fails_with(
        &vendor.cli(&["map", "Reseller Co", "--propose", "shared-1.example"]),
        "already shared with Reseller Co",
    );
    assert_fails_with(
        &vendor.cli(&["map", "Reseller Co", "--propose", "shared-3.example"]),
        "there is no open opportunity on shared-3.example",
    );
    assert_fails_with(
        &vendor.cli(&[
            "map",
            "Reseller Co",
            "--propose",
            &format!("{CANARY}-1.example"),
        ]),
        "is not an overlap",
    );
    assert_fails_with(
        &vendor.cli(&["map", "Reseller Co", "--propose", "shared-2.example"]),
        "2 open opportunities on shared-2.example",
    );
    let deals = vendor.get("/api/v1/deals").json["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(deals, 1, "refused proposals share nothing");

    // With several open opportunities on the account, the user names one.
    let o2b = vendor.get("/api/v1/opportunities?q=Deal%20o2b").json["items"][0]["id"]
        .as_str()
        .expect("o2b's id")
        .to_string();
    let out = vendor.cli(&[
        "map",
        "Reseller Co",
        "--propose",
        "shared-2.example",
        "--opportunity",
        &o2b,
    ]);
    assert!(out.ok(), "propose o2b: {}", out.stderr);
    let shown = vendor.get(&format!("/api/v1/deals/{}", out.stdout.trim()));
    assert_eq!(shown.json["fields"]["name"], "Deal o2b", "{}", shown.text);
}

#[test]
fn the_rate_limit_count_survives_a_restart_on_both_sides() {
    let (mut vendor, reseller) = pair();
    set_levels(&vendor, &reseller, "counts", "counts");
    vendor.stop();
    set_setting(&vendor, "mapping_runs_per_hour", "2");
    vendor.serve();
    wait_connected(&vendor, &reseller);
    map(&vendor, &reseller);
    map(&vendor, &reseller);
    assert_fails_with(
        &vendor.cli(&["map", "Reseller Co"]),
        "at most 2 mapping runs per partner per hour",
    );

    vendor.stop();
    vendor.serve();
    wait_connected(&vendor, &reseller);
    wait_connected(&reseller, &vendor);
    let out = vendor.cli(&["map", "Reseller Co"]);
    assert_fails_with(&out, "at most 2 mapping runs per partner per hour");
    // The vendor also refuses runs the reseller starts: both sides count every run.
    let r = reseller.post(&format!("/api/v1/partners/{}/map", vendor.id), &Value::Null);
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.text.contains("at most 2 mapping runs"), "{}", r.text);
}

#[test]
fn the_schedule_maps_connected_partners_without_being_asked() {
    let mut vendor = Node::init("Vendor Co");
    let mut reseller = Node::init("Reseller Co");
    // About two seconds.
    set_setting(&vendor, "mapping_interval_hours", "0.0006");
    vendor.serve();
    reseller.serve();
    import(
        &vendor,
        &[("V".into(), "shared-1.example".into(), "customer")],
    );
    import(
        &reseller,
        &[("R".into(), "shared-1.example".into(), "prospect")],
    );
    partner(&vendor, &reseller, "reseller", "vendor");
    set_levels(&vendor, &reseller, "counts", "counts");
    let mine = wait_for_matrix(&vendor, &reseller, Duration::from_secs(60));
    assert_eq!(mine["initiated_by"], "me", "{mine}");
    let theirs = wait_for_matrix(&reseller, &vendor, Duration::from_secs(10));
    assert_eq!(theirs["initiated_by"], "partner", "{theirs}");
    assert!(
        vendor.log().contains("scheduled account mapping done"),
        "{}",
        vendor.log()
    );
    // A run after the policies are in place counts the one common account.
    let counted = wait("a scheduled run under the policies", || {
        let m = vendor
            .get(&format!("/api/v1/partners/{}/map", reseller.id))
            .json;
        (cell(&m, "customers", "prospects")["count"] == 1).then_some(m)
    });
    assert_eq!(cell(&counted, "customers", "prospects")["level"], "counts");
}

fn wait_for_matrix(node: &Node, partner: &Node, timeout: Duration) -> Value {
    cosell_e2e::wait_for(timeout, || {
        let r = node.get(&format!("/api/v1/partners/{}/map", partner.id));
        (r.status == 200).then_some(r.json)
    })
    .unwrap_or_else(|| panic!("no scheduled matrix on {}; log:\n{}", node.name, node.log()))
}

// ---- What a partner's own code captures on the wire ----

use cosell::domain::mapping::wire::{self as map_wire, Header, Offer};
use cosell::net::codec::{frame, kind};
use cosell::net::testing::{framed, Answer, Multiaddr, PeerId, RawPeer};
use protocol::psi::{PsiLevel, PsiMessage, PsiOutcome, PsiSession};

/// The curious partner's node key.
const CURIOUS_SECRET: [u8; 32] = [0x55; 32];

/// A partner running its own code: it follows the mapping protocol against the vendor and keeps
/// every byte the vendor answers.
struct Curious {
    raw: RawPeer,
    id: String,
    captured: Vec<Vec<u8>>,
}

impl Curious {
    fn start() -> Curious {
        // It answers nothing the vendor asks (deal sync is not under test here).
        let answer: Answer =
            std::sync::Arc::new(|_: PeerId, _: Vec<u8>| frame(kind::REFUSED, b"no"));
        let raw = RawPeer::start(CURIOUS_SECRET, answer).expect("raw peer");
        let id = raw.peer_id.to_base58();
        Curious {
            raw,
            id,
            captured: Vec::new(),
        }
    }

    /// Sends a frame of `kind` to `node`; the answer's frame body, kept.
    fn send(&mut self, node: &Node, kind_byte: u8, payload: &[u8]) -> Vec<u8> {
        let info = node.node_json().expect("node.json");
        let addr = info["p2p"][0].as_str().expect("a p2p address");
        let addr: Multiaddr = cosell::net::parse_addrs(&[addr.to_string()])
            .pop()
            .expect("a multiaddr");
        let peer: PeerId = node.id.parse().expect("peer id");
        let answer = self
            .raw
            .request(peer, addr, framed(&frame(kind_byte, payload)))
            .expect("an answer");
        self.captured.push(answer.clone());
        answer
    }

    /// One mapping exchange: the vendor's answer header and PSI messages.
    fn map(
        &mut self,
        node: &Node,
        header: &Header,
        messages: &[Vec<u8>],
    ) -> (Header, Vec<Vec<u8>>) {
        let body = map_wire::encode(header, messages).expect("encode");
        let answer = self.send(node, kind::MAP, &body);
        assert_eq!(
            answer.first(),
            Some(&kind::MAP),
            "refused: {}",
            String::from_utf8_lossy(&answer)
        );
        map_wire::decode(&answer[1..]).expect("the vendor's answer decodes")
    }
}

#[test]
fn a_curious_partner_captures_no_canary_and_only_matched_records() {
    // Goal: what crosses the wire, not only what lands on disk. Method: a partner running its
    // own code (a raw peer) joins the vendor and runs account mapping itself at `overlaps` with
    // the domains the honest reseller has (5 shared, 4 its own); every answer frame the vendor
    // sends is kept. None may contain a canary domain or name; the records are the 5 matches.
    let (vendor, _reseller) = pair();
    let mut curious = Curious::start();
    let out = vendor.cli(&["partner", "invite", "--type", "reseller"]);
    assert!(out.ok(), "invite: {}", out.stderr);
    let payload = cosell::domain::partners::read_token(out.stdout.trim(), cosell::clock::now_ms())
        .expect("a valid token");
    let join =
        cosell::domain::partners::join_request(&payload, curious.id.as_str(), "Curious Co", vec![])
            .expect("a join request");
    let answer = curious.send(
        &vendor,
        kind::JOIN,
        &serde_json::to_vec(&join).expect("json"),
    );
    assert_eq!(
        answer.first(),
        Some(&kind::JOIN),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    put_policy(&vendor, &curious.id, &policy("overlaps"));

    let mut domains: Vec<Vec<u8>> = (1..=SHARED)
        .map(|i| format!("shared-{i}.example").into_bytes())
        .collect();
    domains.extend((1..=PARTNER_ONLY).map(|i| format!("partner-only-{i}.example").into_bytes()));
    let run = "01JCURIOUSRUN000000000000".to_string();
    let (opened, _) = curious.map(
        &vendor,
        &Header::Open {
            run: run.clone(),
            populations: vec![Offer {
                name: "prospects".into(),
                level: "overlaps".into(),
            }],
        },
        &[],
    );
    let Header::Opened { populations } = opened else {
        panic!("not an opening answer: {opened:?}");
    };
    let customers = populations
        .iter()
        .position(|p| p.name == "customers")
        .expect("the vendor offers customers");
    assert_eq!(populations[customers].level, "overlaps");
    // Cell index: my population × the vendor's (one population of mine).
    let cell_index = customers;

    let mut session = PsiSession::new(domains.clone(), PsiLevel::Overlaps, &mut rand::rngs::OsRng)
        .expect("session");
    let mut outbox = vec![session.hello().encode()];
    for _ in 0..100 {
        let (reply, messages) = curious.map(
            &vendor,
            &Header::Psi {
                run: run.clone(),
                cell: cell_index,
            },
            &std::mem::take(&mut outbox),
        );
        let Header::PsiReply { done, .. } = reply else {
            panic!("not a psi answer: {reply:?}");
        };
        for m in messages {
            let step = session
                .receive(PsiMessage::decode(&m).expect("a psi message"))
                .expect("the vendor's psi message is valid");
            let send = session.run_inline(step).expect("jobs");
            outbox.extend(send.iter().map(PsiMessage::encode));
        }
        if done && session.outcome().is_some() && outbox.is_empty() {
            break;
        }
    }
    let Some(PsiOutcome::Overlaps { matched, .. }) = session.outcome().cloned() else {
        panic!("no overlaps outcome: {:?}", session.outcome());
    };
    let mut matched: Vec<String> = matched
        .iter()
        .map(|&i| String::from_utf8(domains[i].clone()).expect("utf-8"))
        .collect();
    matched.sort();
    let want: Vec<String> = (1..=SHARED)
        .map(|i| format!("shared-{i}.example"))
        .collect();
    assert_eq!(matched, want);

    let (records, _) = curious.map(
        &vendor,
        &Header::Records {
            run: run.clone(),
            cell: cell_index,
            records: vec![],
        },
        &[],
    );
    let Header::RecordsReply { records } = records else {
        panic!("not a records answer: {records:?}");
    };
    let mut keys: Vec<String> = records.iter().filter_map(|r| r.key.clone()).collect();
    keys.sort();
    assert_eq!(keys, want, "records only for the matched accounts");
    for r in &records {
        let fields = r.fields.as_object().expect("fields");
        assert!(
            fields.keys().all(|k| k == "name" || k == "industry"),
            "only the policy's fields: {r:?}"
        );
    }
    curious.map(&vendor, &Header::Close { run }, &[]);

    assert!(
        curious.captured.len() >= 4,
        "captured {} frames",
        curious.captured.len()
    );
    for needle in [CANARY.as_bytes(), b"Secret "] {
        let hits = curious
            .captured
            .iter()
            .filter(|f| f.windows(needle.len()).any(|w| w == needle))
            .count();
        assert_eq!(
            hits,
            0,
            "{} captured frames hold {:?}",
            hits,
            String::from_utf8_lossy(needle)
        );
    }
    // The vendor logged the run as one started by the partner.
    let m = vendor.get(&format!("/api/v1/partners/{}/map", curious.id));
    assert_eq!(m.status, 200, "{}", m.text);
    assert_eq!(m.json["initiated_by"], "partner");
    assert_eq!(cell(&m.json, "customers", "prospects")["count"], SHARED);
}
