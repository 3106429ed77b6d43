//! Webhooks: an admin registers a URL and the event kinds it wants; every matching event is
//! POSTed there as JSON, signed with HMAC-SHA256 over `"{timestamp}.{body}"` with the webhook's
//! secret (headers `X-Cosell-Event`, `X-Cosell-Delivery`, `X-Cosell-Timestamp`,
//! `X-Cosell-Signature: sha256=<hex>`). A failed delivery (connection error or non-2xx) is retried
//! with exponential backoff; every attempt is written to the delivery log in redb, with the body
//! while the delivery is pending, so a restart resumes it.
//!
//! A webhook is a request the node makes wherever an admin points it, so unless the node's
//! settings say `webhook_allow_private = true` it may not reach the node's own host or a private
//! network ([`forbidden_address`]): such a URL is refused when the webhook is created
//! ([`check_destination`]), and every delivery connects only to addresses that pass the same
//! check after DNS resolution (a name may resolve to 127.0.0.1, or change what it resolves to).
//! Redirects are not followed: a 3xx answer is a failed attempt.

use crate::clock::Clock;
use crate::domain::events::{pattern_matches, Event, EventBus};
use crate::store::tables::{WEBHOOKS, WEBHOOK_DELIVERIES};
use crate::store::Store;
use anyhow::{bail, Result};
use hmac::{Hmac, Mac};
use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Attempts per delivery, the first included.
pub const DELIVERY_ATTEMPTS_MAX: u32 = 6;
/// Longest wait between two attempts.
pub const RETRY_DELAY_MAX: Duration = Duration::from_secs(300);
/// Time one attempt may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries in flight at once, across all webhooks.
pub const DELIVERIES_IN_FLIGHT_MAX: usize = 16;
/// Webhooks one node may have.
pub const WEBHOOKS_MAX: usize = 100;
/// Deliveries kept in the log per webhook; older ones are removed.
pub const DELIVERIES_KEPT_MAX: usize = 1000;

/// A registered webhook, as stored (the secret included).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    /// Its id (ULID).
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// Event kinds or patterns (`deal.*`, `*`).
    pub events: Vec<String>,
    /// The HMAC key. Shown once, when the webhook is created; wiped from memory when dropped
    /// (every event loads every webhook).
    pub secret: Zeroizing<String>,
    /// When it was created.
    pub created_at_ms: u64,
}

/// One event's delivery to one webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id (ULID), also sent as `X-Cosell-Delivery`.
    pub id: String,
    /// The webhook.
    pub webhook_id: String,
    /// The event kind.
    pub event: String,
    /// `pending` (more attempts to come), `delivered` or `failed` (attempts exhausted).
    pub status: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// HTTP status of the last attempt, if it got an answer.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the last attempt was made.
    pub last_attempt_at_ms: u64,
    /// The body POSTed (the event as JSON), kept while the delivery is pending so a restart
    /// resumes its retries; dropped once it is delivered or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// What kind of address `ip` is, when a webhook may not go there by default: the node's own
/// host (loopback, unspecified), its networks (private, link-local, shared/CGNAT, unique local)
/// and addresses no single host answers (multicast, broadcast, reserved). IPv4 addresses
/// inside IPv6 (mapped, NAT64) are judged as IPv4.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match (a, b) {
        (127, _) => "loopback",
        (0, _) => "unspecified",
        (10, _) | (192, 168) => "private",
        (172, b) if (16..32).contains(&b) => "private",
        (169, 254) => "link-local",
        (100, b) if (64..128).contains(&b) => "shared (carrier-grade NAT)",
        (224..=239, _) => "multicast",
        (240..=255, _) => "reserved or broadcast",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let segments = ip.segments();
    // 64:ff9b::/96, NAT64: the IPv4 address in the last 32 bits is the one reached.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let o = ip.octets();
        return forbidden_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if segments[0] & 0xffc0 == 0xfe80 {
        "link-local"
    } else if segments[0] & 0xfe00 == 0xfc00 || segments[0] & 0xffc0 == 0xfec0 {
        "private (unique local)"
    } else if ip.is_multicast() {
        "multicast"
    } else {
        return None;
    })
}

/// The sentence for a destination refused as `why`.
fn refused(what: &str, ip: IpAddr, why: &str) -> String {
    format!(
        "{what} is {ip}, a {why} address: webhooks may not reach the node's own host or a \
         private network unless `webhook_allow_private = true` is set in cosell.toml \
         (or COSELL_WEBHOOK_ALLOW_PRIVATE=true)"
    )
}

/// Checks where a webhook URL points (after [`validate_url`]): unless `allow_private`, a URL
/// whose host is, or resolves to, a [`forbidden_address`] is refused with a sentence. Resolves
/// the host name (blocking). A name that does not resolve now passes: every delivery checks the
/// addresses it connects to again.
pub fn check_destination(url: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("'{url}' is not a valid URL: {e}"))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addrs: Vec<IpAddr> = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(url::Host::Domain(name)) => match (name, port).to_socket_addrs() {
            Ok(found) => found.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        },
        None => return Err(format!("'{url}' has no host")),
    };
    for ip in addrs {
        if let Some(why) = forbidden_address(ip) {
            let host = parsed.host_str().unwrap_or_default();
            let what = if host.trim_matches(['[', ']']) == ip.to_string() {
                "the host".to_string()
            } else {
                format!("an address of {host}")
            };
            return Err(refused(&what, ip, why));
        }
    }
    Ok(())
}

/// Resolves `netloc` (`host:port`) for a delivery, keeping only the addresses a webhook may
/// reach; an error naming the address when none is left. The agent connects only to what this
/// returns, so a name cannot pass a check and then resolve elsewhere.
fn resolve_for_delivery(netloc: &str, allow_private: bool) -> std::io::Result<Vec<SocketAddr>> {
    let found: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
    if allow_private {
        return Ok(found);
    }
    let mut first_refusal = None;
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| match forbidden_address(a.ip()) {
            Some(why) => {
                first_refusal.get_or_insert_with(|| {
                    let host = netloc.rsplit_once(':').map_or(netloc, |(h, _)| h);
                    refused(&format!("an address of {host}"), a.ip(), why)
                });
                false
            }
            None => true,
        })
        .collect();
    match (allowed.is_empty(), first_refusal) {
        (true, Some(sentence)) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            sentence,
        )),
        _ => Ok(allowed),
    }
}

/// The HTTP client of deliveries: a timeout, no redirects, and only the addresses
/// [`resolve_for_delivery`] lets through.
fn delivery_agent(allow_private: bool) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(DELIVERY_TIMEOUT)
        .redirects(0)
        .resolver(move |netloc: &str| resolve_for_delivery(netloc, allow_private))
        .build()
}

/// Checks a webhook URL: http or https, with a host.
pub fn validate_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("'{url}' is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("'{url}' has no host"));
    }
    if url.len() > 2048 {
        return Err("the URL is longer than 2048 characters".to_string());
    }
    Ok(())
}

/// Stores a new webhook, created at `now_ms`, and returns it (with its secret).
pub fn create(
    store: &Store,
    url: &str,
    events: Vec<String>,
    secret: Option<String>,
    now_ms: u64,
) -> Result<Webhook> {
    let secret = match secret.map(Zeroizing::new) {
        Some(s) if s.len() >= 16 => s,
        Some(_) => bail!("the secret must be at least 16 characters"),
        None => {
            let mut raw = Zeroizing::new([0u8; 24]);
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, raw.as_mut());
            Zeroizing::new(format!("whsec_{}", hex::encode(raw.as_slice())))
        }
    };
    let hook = Webhook {
        id: ulid::Ulid::new().to_string(),
        url: url.to_string(),
        events,
        secret,
        created_at_ms: now_ms,
    };
    let txn = store.write()?;
    {
        let mut table = txn.open_table(WEBHOOKS)?;
        if table.len()? as usize >= WEBHOOKS_MAX {
            bail!("this node already has {WEBHOOKS_MAX} webhooks");
        }
        table.insert(hook.id.as_str(), serde_json::to_vec(&hook)?.as_slice())?;
    }
    txn.commit()?;
    Ok(hook)
}

/// Every webhook.
pub fn list(store: &Store) -> Result<Vec<Webhook>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, WEBHOOKS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.range::<&str>(..)? {
        let (_, v) = entry?;
        out.push(serde_json::from_slice(v.value())?);
    }
    Ok(out)
}

/// Removes a webhook and its delivery log; false when there was none.
pub fn delete(store: &Store, id: &str) -> Result<bool> {
    let txn = store.write()?;
    let existed = {
        let mut hooks = txn.open_table(WEBHOOKS)?;
        let existed = hooks.remove(id)?.is_some();
        let mut deliveries = txn.open_table(WEBHOOK_DELIVERIES)?;
        let keys = delivery_ids(&deliveries, id)?;
        for d in keys {
            deliveries.remove((id, d.as_str()))?;
        }
        existed
    };
    txn.commit()?;
    Ok(existed)
}

/// The newest `limit` deliveries of a webhook, newest first.
pub fn deliveries(store: &Store, webhook_id: &str, limit: usize) -> Result<Vec<Delivery>> {
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, WEBHOOK_DELIVERIES)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.range((webhook_id, "")..)?.rev() {
        let (k, v) = entry?;
        if k.value().0 != webhook_id {
            continue;
        }
        out.push(serde_json::from_slice(v.value())?);
        if out.len() == limit {
            break;
        }
    }
    Ok(out)
}

/// The delivery ids of one webhook, oldest first.
fn delivery_ids(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    webhook_id: &str,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for entry in table.range((webhook_id, "")..)? {
        let (k, _) = entry?;
        let (hook, delivery) = k.value();
        if hook != webhook_id {
            break;
        }
        ids.push(delivery.to_string());
    }
    Ok(ids)
}

fn record(store: &Store, delivery: &Delivery) -> Result<()> {
    let txn = store.write()?;
    {
        let mut table = txn.open_table(WEBHOOK_DELIVERIES)?;
        table.insert(
            (delivery.webhook_id.as_str(), delivery.id.as_str()),
            serde_json::to_vec(delivery)?.as_slice(),
        )?;
        // Keep the log bounded: drop this webhook's oldest entries past the cap.
        let ids = delivery_ids(&table, &delivery.webhook_id)?;
        if ids.len() > DELIVERIES_KEPT_MAX {
            for old in &ids[..ids.len() - DELIVERIES_KEPT_MAX] {
                table.remove((delivery.webhook_id.as_str(), old.as_str()))?;
            }
        }
    }
    txn.commit()?;
    Ok(())
}

/// `sha256=<hex>` of HMAC-SHA256(secret, "{timestamp_ms}.{body}").
pub fn signature(secret: &str, timestamp_ms: u64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => return String::new(),
    };
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers every published event to the webhooks subscribed to it, until the bus closes;
/// `clock` stamps and signs each attempt. `allow_private` is the node's `webhook_allow_private`
/// setting, given by the serve wiring (nothing process-wide): whether a delivery may reach the
/// node's own host or a private network.
pub async fn run_dispatcher(
    store: Arc<Store>,
    bus: Arc<EventBus>,
    retry_base: Duration,
    clock: Clock,
    allow_private: bool,
) {
    let mut rx = bus.subscribe();
    let in_flight = Arc::new(Semaphore::new(DELIVERIES_IN_FLIGHT_MAX));
    // Deliveries a stop left pending go on where they were, after one retry delay.
    let resumed = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || pending(&store))
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("{e}")))
    };
    match resumed {
        Ok(pending) => {
            for (hook, delivery) in pending {
                let (store, in_flight, clock) = (store.clone(), in_flight.clone(), clock.clone());
                tokio::spawn(async move {
                    let Ok(_permit) = in_flight.acquire_owned().await else {
                        return;
                    };
                    let waited = retry_delay(retry_base, delivery.attempts.saturating_sub(1));
                    tokio::time::sleep(waited).await;
                    attempt(&store, &hook, delivery, retry_base, &clock, allow_private).await;
                });
            }
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "cannot resume pending webhook deliveries")
        }
    }
    loop {
        let event = match rx.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "webhook dispatcher fell behind; events were not delivered"
                );
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let hooks = {
            let store = store.clone();
            match tokio::task::spawn_blocking(move || list(&store)).await {
                Ok(Ok(h)) => h,
                _ => continue,
            }
        };
        for hook in hooks {
            if !hook
                .events
                .iter()
                .any(|p| pattern_matches(p, event.kind.as_str()))
            {
                continue;
            }
            let (store, event, in_flight) = (store.clone(), event.clone(), in_flight.clone());
            let clock = clock.clone();
            tokio::spawn(async move {
                let Ok(_permit) = in_flight.acquire_owned().await else {
                    return;
                };
                deliver(&store, &hook, &event, retry_base, &clock, allow_private).await;
            });
        }
    }
}

/// The wait after the `failed`-th failed attempt (0 for the first): `base`, doubling, at most
/// [`RETRY_DELAY_MAX`].
fn retry_delay(base: Duration, failed: u32) -> Duration {
    (base * 2u32.pow(failed.min(16))).min(RETRY_DELAY_MAX)
}

/// The pending deliveries of webhooks that still exist, each with its webhook.
fn pending(store: &Store) -> Result<Vec<(Webhook, Delivery)>> {
    let hooks = list(store)?;
    let txn = store.read()?;
    let Some(table) = crate::store::open_table_if_exists(&txn, WEBHOOK_DELIVERIES)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (_, v) = entry?;
        let delivery: Delivery = serde_json::from_slice(v.value())?;
        if delivery.status != "pending" || delivery.body.is_none() {
            continue;
        }
        if let Some(hook) = hooks.iter().find(|h| h.id == delivery.webhook_id) {
            out.push((hook.clone(), delivery));
        }
    }
    Ok(out)
}

async fn deliver(
    store: &Arc<Store>,
    hook: &Webhook,
    event: &Event,
    retry_base: Duration,
    clock: &Clock,
    allow_private: bool,
) {
    let id = ulid::Ulid::new().to_string();
    let body = serde_json::to_string(&serde_json::json!({
        "id": id, "event": event.kind.as_str(), "seq": event.seq, "at_ms": event.at_ms, "data": event.data,
    }))
    .unwrap_or_default();
    let delivery = Delivery {
        id,
        webhook_id: hook.id.clone(),
        event: event.kind.to_string(),
        status: "pending".to_string(),
        attempts: 0,
        last_status: None,
        last_error: None,
        last_attempt_at_ms: 0,
        body: Some(body),
    };
    attempt(store, hook, delivery, retry_base, clock, allow_private).await;
}

/// Makes the attempts `delivery` has left, recording each.
async fn attempt(
    store: &Arc<Store>,
    hook: &Webhook,
    mut delivery: Delivery,
    retry_base: Duration,
    clock: &Clock,
    allow_private: bool,
) {
    let body = delivery.body.clone().unwrap_or_default().into_bytes();
    while delivery.attempts < DELIVERY_ATTEMPTS_MAX {
        delivery.attempts += 1;
        let timestamp = clock.now_ms();
        let request = delivery_agent(allow_private)
            .post(&hook.url)
            .set("Content-Type", "application/json")
            .set("User-Agent", concat!("cosell/", env!("CARGO_PKG_VERSION")))
            .set("X-Cosell-Event", &delivery.event)
            .set("X-Cosell-Delivery", &delivery.id)
            .set("X-Cosell-Timestamp", &timestamp.to_string())
            .set(
                "X-Cosell-Signature",
                &signature(&hook.secret, timestamp, &body),
            );
        let payload = body.clone();
        let outcome =
            tokio::task::spawn_blocking(move || request.send_bytes(&payload).map_err(Box::new))
                .await;
        delivery.last_attempt_at_ms = clock.now_ms();
        match outcome {
            Ok(Ok(response)) if (200..300).contains(&response.status()) => {
                delivery.last_status = Some(response.status());
                delivery.last_error = None;
                delivery.status = "delivered".to_string();
            }
            Ok(Ok(response)) => {
                // A 3xx (redirects are not followed) or another answer that is no success.
                let code = response.status();
                delivery.last_status = Some(code);
                delivery.last_error = Some(format!(
                    "the endpoint answered HTTP {code} (redirects are not followed)"
                ));
            }
            Ok(Err(e)) if matches!(*e, ureq::Error::Status(..)) => {
                let code = match *e {
                    ureq::Error::Status(code, _) => code,
                    _ => 0,
                };
                delivery.last_status = Some(code);
                delivery.last_error = Some(format!("the endpoint answered HTTP {code}"));
            }
            Ok(Err(e)) => {
                delivery.last_status = None;
                delivery.last_error = Some(e.to_string());
            }
            Err(e) => delivery.last_error = Some(e.to_string()),
        }
        if delivery.status != "delivered" && delivery.attempts == DELIVERY_ATTEMPTS_MAX {
            delivery.status = "failed".to_string();
        }
        if delivery.status != "pending" {
            delivery.body = None;
        }
        let (s, d) = (store.clone(), delivery.clone());
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || record(&s, &d)).await {
            tracing::warn!(error = %e, "cannot write the webhook delivery log");
        }
        if delivery.status != "pending" {
            return;
        }
        tokio::time::sleep(retry_delay(retry_base, delivery.attempts - 1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231-style check against an independently computed value.
        let sig = signature("key", 1, b"{}");
        assert_eq!(sig.len(), "sha256=".len() + 64);
        assert_eq!(sig, signature("key", 1, b"{}"));
        assert_ne!(sig, signature("key", 2, b"{}"));
        assert_ne!(sig, signature("other", 1, b"{}"));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1.{}");
        assert_eq!(
            sig,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
    }

    #[test]
    fn loopback_private_link_local_cgnat_unspecified_and_multicast_addresses_are_forbidden() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("100.127.255.255", "shared (carrier-grade NAT)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved or broadcast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fd12:3456::1", "private (unique local)"),
            ("fc00::1", "private (unique local)"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
        ] {
            let parsed: IpAddr = ip.parse().expect("ip");
            assert_eq!(forbidden_address(parsed), Some(why), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
        ] {
            let parsed: IpAddr = ip.parse().expect("ip");
            assert_eq!(forbidden_address(parsed), None, "{ip}");
        }
    }

    #[test]
    fn a_destination_is_checked_after_resolution_unless_private_ones_are_allowed() {
        let refused = check_destination("http://localhost:9000/hook", false)
            .expect_err("localhost resolves to loopback");
        assert!(
            refused.contains("an address of localhost is")
                && refused.contains("loopback")
                && refused.contains("webhook_allow_private = true"),
            "{refused}"
        );
        let refused = check_destination("http://2130706433/", false).expect_err("127.0.0.1");
        assert!(
            refused.starts_with("the host is 127.0.0.1, a loopback address"),
            "{refused}"
        );
        assert!(check_destination("http://[::1]:80/", false).is_err());
        assert!(check_destination("http://93.184.216.34/", false).is_ok());
        assert!(check_destination("http://localhost:9000/hook", true).is_ok());

        let error = resolve_for_delivery("localhost:9000", false).expect_err("loopback only");
        assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(
            error.to_string().contains("webhook_allow_private"),
            "{error}"
        );
        let allowed = resolve_for_delivery("127.0.0.1:9000", true).expect("allowed");
        assert_eq!(allowed, vec![SocketAddr::from(([127, 0, 0, 1], 9000))]);
        assert_eq!(
            resolve_for_delivery("93.184.216.34:443", false).expect("public"),
            vec![SocketAddr::from(([93, 184, 216, 34], 443))]
        );
    }

    /// Compiles only for a type that wipes its memory when dropped.
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}

    #[test]
    fn a_webhook_secret_is_wiped_from_memory_when_dropped_and_stored_as_before() {
        // Security review (issue 19, low): every event loads every webhook, secret included;
        // the secrets stayed in freed memory.
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db")).expect("store");
        let hook = create(
            &store,
            "https://hooks.example.com/x",
            vec!["*".to_string()],
            Some("0123456789abcdef".to_string()),
            0,
        )
        .expect("webhook");
        wiped_on_drop(&hook.secret);
        let stored = serde_json::to_value(&hook).expect("JSON");
        assert_eq!(
            stored["secret"], "0123456789abcdef",
            "the stored form is unchanged"
        );
        let listed = list(&store).expect("list");
        assert_eq!(listed[0].secret.as_str(), "0123456789abcdef");
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(validate_url("https://hooks.example.com/cosell").is_ok());
        assert!(validate_url("http://127.0.0.1:9000/").is_ok());
        assert!(validate_url("ftp://x").is_err());
        assert!(validate_url("https://").is_err());
    }
}
