//! `cosell network`: how the running node reaches its partners and is reached (a thin shell
//! over `GET /api/v1/network`).

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use anyhow::Result;
use serde_json::Value;

/// Prints the network view: addresses, NAT status, relays, and per partner the connection
/// type, address, round-trip time and last error (`json`: the API's answer as it is).
pub fn run(dir: &DataDir, json: bool) -> Result<()> {
    let client = Client::for_data_dir(dir)?;
    let view = client.json("GET", "/network", None)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    print!("{}", render(&view));
    Ok(())
}

fn list(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect()
}

/// The view as text for a terminal.
pub fn render(view: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let mut out = String::new();
    out.push_str(&format!("node       {}\n", s(&view["id"])));
    let nat = match view["nat_address"].as_str() {
        Some(a) => format!("{} (reachable at {a})", s(&view["nat"])),
        None => match view["nat"].as_str() {
            Some("private") => {
                "private (behind a NAT or firewall: partners reach it through relays)".into()
            }
            Some("unknown") => "unknown (no partner has checked it yet)".into(),
            other => other.unwrap_or("-").to_string(),
        },
    };
    out.push_str(&format!("nat        {nat}\n"));
    for (label, key) in [
        ("listen", "listen"),
        ("external", "external"),
        ("observed", "observed"),
        ("invites", "advertised"),
    ] {
        let items = list(&view[key]);
        if items.is_empty() {
            out.push_str(&format!("{label:<10} -\n"));
        }
        for (i, a) in items.iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            out.push_str(&format!("{label:<10} {a}\n"));
        }
    }
    let relays = view["relays"].as_array().cloned().unwrap_or_default();
    if relays.is_empty() {
        out.push_str("relays     none used\n");
    }
    for r in relays {
        let error = r["last_error"]
            .as_str()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "relays     {} via {}{error}\n",
            s(&r["state"]),
            s(&r["address"])
        ));
    }
    let server = &view["relay_server"];
    if server["enabled"].as_bool() == Some(true) {
        out.push_str(&format!(
            "relaying   for partners: {} reservations, {} of {} circuits, {} refused (limits: {} MiB, {} s per circuit)\n",
            server["reservations"],
            server["circuits"],
            server["max_circuits"],
            server["denied"],
            server["circuit_bytes"].as_u64().unwrap_or(0) / (1024 * 1024),
            server["circuit_seconds"]
        ));
    } else {
        out.push_str("relaying   off (relay = false)\n");
    }
    let partners = view["partners"].as_array().cloned().unwrap_or_default();
    if partners.is_empty() {
        out.push_str("partners   none\n");
    }
    for p in partners {
        let rtt = p["rtt_ms"]
            .as_f64()
            .map(|r| format!("  rtt={r:.1}ms"))
            .unwrap_or_default();
        let addr = p["address"]
            .as_str()
            .map(|a| format!("  via {a}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "partner    {}  {}  {}{rtt}{addr}\n",
            s(&p["name"]),
            s(&p["id"]),
            s(&p["connection"])
        ));
        if let Some(e) = p["last_error"].as_str() {
            out.push_str(&format!(
                "           last error {}: {e}\n",
                s(&p["last_error_at"])
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;
    use serde_json::json;

    #[test]
    fn the_view_names_nat_status_relays_and_each_partners_connection() {
        let text = render(&json!({
            "id": "12D3KooWnode",
            "nat": "private",
            "nat_address": null,
            "listen": ["/ip4/10.2.0.2/tcp/7601"],
            "external": [],
            "observed": ["/ip4/198.18.0.102/tcp/40000"],
            "advertised": ["/ip4/10.2.0.2/tcp/7601", "/ip4/198.18.0.11/tcp/7601/p2p/12D3KooWrelay/p2p-circuit"],
            "relays": [{"relay": "12D3KooWrelay", "address": "/ip4/198.18.0.11/tcp/7601/p2p/12D3KooWrelay/p2p-circuit", "state": "reserved", "last_error": null}],
            "relay_server": {"enabled": false},
            "partners": [
                {"id": "12D3KooWa", "name": "Vendor", "connection": "direct", "address": "/ip4/198.18.0.11/tcp/7601", "rtt_ms": 100.4, "last_error": null},
                {"id": "12D3KooWb", "name": "SI", "connection": "relayed", "address": null, "rtt_ms": null, "last_error": "hole punching failed", "last_error_at": "2026-01-01T00:00:00Z"}
            ]
        }));
        assert!(text.contains("nat        private (behind a NAT"), "{text}");
        assert!(
            text.contains("relays     reserved via /ip4/198.18.0.11"),
            "{text}"
        );
        assert!(
            text.contains("partner    Vendor  12D3KooWa  direct  rtt=100.4ms"),
            "{text}"
        );
        assert!(text.contains("partner    SI  12D3KooWb  relayed"), "{text}");
        assert!(
            text.contains("last error 2026-01-01T00:00:00Z: hole punching failed"),
            "{text}"
        );
        assert!(text.contains("relaying   off"), "{text}");
    }
}
