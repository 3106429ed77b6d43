//! Account mapping end to end: two real nodes with known overlapping accounts map each other by
//! private set intersection under their policies; each learns at most what the other's policy
//! allows, the vendor's non-matching (canary) accounts never reach the partner's disk, and runs
//! are rate-limited and audited.

mod workflows_common;

use cosell_e2e::Node;
use serde_json::Value;
use workflows_common::{partner, put_policy};

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
