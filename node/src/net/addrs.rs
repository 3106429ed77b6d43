//! Partner addresses: the listen addresses `serve` accepts ([`listen_addr`]) and the stored
//! dial addresses of partners and inviters ([`parse_addrs`]).

use super::PARTNER_ADDRS_MAX;
use anyhow::{anyhow, Result};
use libp2p::Multiaddr;

/// Parses stored addresses, skipping bad ones and any `/p2p/` suffix.
pub fn parse_addrs(addrs: &[String]) -> Vec<Multiaddr> {
    addrs
        .iter()
        .filter_map(|a| a.parse::<Multiaddr>().ok())
        .map(|mut a| {
            if matches!(a.iter().last(), Some(libp2p::multiaddr::Protocol::P2p(_))) {
                a.pop();
            }
            a
        })
        .take(PARTNER_ADDRS_MAX)
        .collect()
}

/// The address shapes the node listens on, for the errors of [`listen_addr`].
const LISTEN_SHAPES: &str =
    "use /ip4/ADDRESS/tcp/PORT or /ip4/ADDRESS/udp/PORT/quic-v1 (or /ip6/…)";

/// `addr` as an address this node can listen on for partners: `/ip4|ip6/…/tcp/PORT` or
/// `/ip4|ip6/…/udp/PORT/quic-v1`. The one rule for listen addresses (`--p2p`, `COSELL_P2P`,
/// `p2p` in cosell.toml). Any other text is refused here, before start-up, with one sentence
/// naming the address and what is wrong with it (a port out of range, the protocol the node
/// does not run, the old `/quic` spelling with the new one), never the multiaddr parser's own
/// words: the address is read part by part here and the multiaddr built from the parts.
pub fn listen_addr(addr: &str) -> Result<Multiaddr> {
    listen_addr_parts(addr).map_err(|why| anyhow!("'{addr}' is not a listen address: {why}"))
}

/// What is wrong with `addr` as a listen address, or its multiaddr (see [`listen_addr`]).
fn listen_addr_parts(addr: &str) -> std::result::Result<Multiaddr, String> {
    let port = |text: &str| {
        text.parse::<u16>()
            .map_err(|_| format!("{text} is not a port number (0 to 65535; 0 picks a free one)"))
    };
    // A bad port is named first, wherever it is: that is what its writer meant to give.
    let parts: Vec<&str> = addr.split('/').collect();
    for pair in parts.windows(2) {
        if matches!(pair[0], "tcp" | "udp") && !pair[1].is_empty() {
            port(pair[1])?;
        }
    }
    if addr.trim().is_empty() {
        return Err(format!("it is empty; {LISTEN_SHAPES}"));
    }
    let Some(rest) = addr.strip_prefix('/') else {
        return Err(format!("it must start with /; {LISTEN_SHAPES}"));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Err(format!("it names no address; {LISTEN_SHAPES}"));
    }
    if rest.split('/').any(str::is_empty) {
        return Err(format!(
            "it has an empty part between two /; {LISTEN_SHAPES}"
        ));
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let (ip, transport) = parts.split_at(parts.len().min(2));
    let ip = listen_ip(ip)?;
    let transport = listen_transport(transport, port)?;
    Ok(std::iter::once(ip).chain(transport).collect())
}

/// The IP part of a listen address (its first two parts), or what is wrong with it.
fn listen_ip(parts: &[&str]) -> std::result::Result<libp2p::multiaddr::Protocol<'static>, String> {
    use libp2p::multiaddr::Protocol;
    Ok(match parts {
        ["ip4", a] => Protocol::Ip4(
            a.parse()
                .map_err(|_| format!("{a} is not an IPv4 address (e.g. 0.0.0.0 or 127.0.0.1)"))?,
        ),
        ["ip6", a] => Protocol::Ip6(
            a.parse()
                .map_err(|_| format!("{a} is not an IPv6 address (e.g. :: or ::1)"))?,
        ),
        [ip @ ("ip4" | "ip6")] => {
            return Err(format!("{ip} needs an address after it; {LISTEN_SHAPES}"))
        }
        [dns @ ("dns" | "dns4" | "dns6" | "dnsaddr"), ..] => {
            return Err(format!(
                "a name ({dns}) cannot be listened on, only an IP address; {LISTEN_SHAPES}"
            ))
        }
        [transport @ ("tcp" | "udp"), ..] => {
            return Err(format!(
                "it has no IP address before /{transport}; {LISTEN_SHAPES}"
            ))
        }
        [other, ..] => {
            return Err(format!(
                "{other} is not a protocol the node listens on; {LISTEN_SHAPES}"
            ))
        }
        [] => return Err(format!("it names no address; {LISTEN_SHAPES}")),
    })
}

/// The transport part of a listen address (the parts after the IP), or what is wrong with it;
/// `port` reads a port number.
fn listen_transport(
    parts: &[&str],
    port: impl Fn(&str) -> std::result::Result<u16, String>,
) -> std::result::Result<Vec<libp2p::multiaddr::Protocol<'static>>, String> {
    use libp2p::multiaddr::Protocol;
    // An address copied from node.json or an invite ends in the node's id: say so.
    let after = |port: &str, more: &[&str]| match more {
        ["p2p", ..] => format!(
            "a listen address ends at the port, without the node's id (/{})",
            more.join("/")
        ),
        _ => format!(
            "/{} after /{port} is not something the node listens on; {LISTEN_SHAPES}",
            more.join("/")
        ),
    };
    Ok(match parts {
        [] => return Err("it has no port; add /tcp/PORT or /udp/PORT/quic-v1".to_string()),
        ["tcp", p] => vec![Protocol::Tcp(port(p)?)],
        ["udp", p, "quic-v1"] => vec![Protocol::Udp(port(p)?), Protocol::QuicV1],
        ["udp", p, "quic"] => {
            return Err(format!(
                "it uses the old QUIC draft; write /udp/{p}/quic-v1"
            ))
        }
        ["udp", p] => return Err(format!("UDP needs QUIC; write /udp/{p}/quic-v1")),
        [transport @ ("tcp" | "udp")] => {
            return Err(format!(
                "{transport} needs a port after it (0 picks a free one)"
            ))
        }
        ["tcp", p, more @ ..] => return Err(after(&format!("tcp/{p}"), more)),
        ["udp", p, "quic-v1", more @ ..] => return Err(after(&format!("udp/{p}/quic-v1"), more)),
        ["udp", p, more @ ..] => return Err(after(&format!("udp/{p}"), more)),
        [other, ..] => {
            return Err(format!(
                "{other} is not a transport the node listens on; {LISTEN_SHAPES}"
            ))
        }
    })
}

/// The deepest source of `error`: the sentence that says what went wrong (`Cannot assign
/// requested address (os error 99)`), without the wrappers that each repeat it.
pub(super) fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// The address shapes partners dial, for the errors of [`dial_addr`].
const DIAL_SHAPES: &str = "use /ip4/ADDRESS/tcp/PORT, /dns4/NAME/tcp/PORT or \
     /dns4/NAME/udp/PORT/quic-v1 (also /ip6, /dns6, /dns)";

/// `addr` as an address partners can dial this node at (the `external` setting): an IP address
/// or a DNS name (`/dns4/node.example.com/tcp/7601`, resolved by the dialling partner each time
/// it dials), then `/tcp/PORT` or `/udp/PORT/quic-v1`, with a real port. Anything else is
/// refused with one sentence naming the address and what is wrong.
pub fn dial_addr(addr: &str) -> Result<Multiaddr> {
    dial_addr_parts(addr)
        .map_err(|why| anyhow!("'{addr}' is not an address partners can dial: {why}"))
}

fn dial_addr_parts(addr: &str) -> std::result::Result<Multiaddr, String> {
    use libp2p::multiaddr::Protocol;
    let parsed: Multiaddr = addr
        .trim()
        .parse()
        .map_err(|_| format!("it is no multiaddr; {DIAL_SHAPES}"))?;
    let parts: Vec<Protocol> = parsed.iter().collect();
    match parts.first() {
        Some(Protocol::Ip4(ip)) if ip.is_unspecified() => {
            return Err("0.0.0.0 names no host; give the address partners reach".into())
        }
        Some(Protocol::Ip6(ip)) if ip.is_unspecified() => {
            return Err(":: names no host; give the address partners reach".into())
        }
        Some(
            Protocol::Ip4(_)
            | Protocol::Ip6(_)
            | Protocol::Dns(_)
            | Protocol::Dns4(_)
            | Protocol::Dns6(_),
        ) => {}
        _ => {
            return Err(format!(
                "it must start with an IP address or a name; {DIAL_SHAPES}"
            ))
        }
    }
    match &parts[1..] {
        [Protocol::Tcp(0)] | [Protocol::Udp(0), Protocol::QuicV1] => {
            Err("port 0 cannot be dialled; give the port partners reach".into())
        }
        [Protocol::Tcp(_)] | [Protocol::Udp(_), Protocol::QuicV1] => Ok(parsed),
        _ => Err(format!(
            "it must end in /tcp/PORT or /udp/PORT/quic-v1; {DIAL_SHAPES}"
        )),
    }
}

#[cfg(test)]
mod dial_tests {
    use super::dial_addr;

    #[test]
    fn names_and_ips_with_a_port_are_dial_addresses_and_the_rest_is_explained() {
        for ok in [
            "/dns4/node.example.com/tcp/7601",
            "/dns/node.example.com/udp/7601/quic-v1",
            "/ip4/203.0.113.5/tcp/7601",
        ] {
            assert!(dial_addr(ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("/ip4/0.0.0.0/tcp/7601", "0.0.0.0 names no host"),
            ("/dns4/node.example.com/tcp/0", "port 0"),
            ("/dns4/node.example.com", "must end in /tcp/PORT"),
            ("/tcp/7601", "must start with an IP address or a name"),
            ("node.example.com:7601", "no multiaddr"),
        ] {
            let e = dial_addr(bad).expect_err(bad).to_string();
            assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
        }
    }
}
