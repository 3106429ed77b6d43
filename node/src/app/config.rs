//! `cosell.toml`: the node's settings. Each key can be overridden by an environment variable
//! `COSELL_<KEY>` (upper case), and the `serve` flags override both.

use anyhow::{Context, Result};
use protocol::records::Currency;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Default HTTP listen address: loopback only, so a fresh node is not reachable from outside.
pub const HTTP_ADDR_DEFAULT: &str = "127.0.0.1:7600";
/// Default libp2p listen addresses: TCP and QUIC on port 7601 (QUIC runs over UDP, so the two
/// share the number). A partner dials every address it knows at once and keeps the first that
/// connects, so a firewall that blocks UDP only costs the QUIC attempt.
pub const P2P_ADDRS_DEFAULT: [&str; 2] = ["/ip4/0.0.0.0/tcp/7601", "/ip4/0.0.0.0/udp/7601/quic-v1"];

/// Longest account-mapping schedule interval: a year (longer is as good as off, and the hours
/// must fit a `Duration`).
pub const MAPPING_INTERVAL_HOURS_MAX: f64 = 24.0 * 366.0;

/// Longest audit retention: a thousand years (longer is as good as keeping everything, and the
/// milliseconds must fit a u64).
pub const AUDIT_RETENTION_DAYS_MAX: f64 = 365_000.0;

/// The settings in `cosell.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The company's name, as partners see it. Env: `COSELL_NAME`.
    pub name: String,
    /// HTTP API and web UI listen address. Env: `COSELL_HTTP`.
    #[serde(default = "http_default")]
    pub http: String,
    /// libp2p listen multiaddrs. Env: `COSELL_P2P` (comma-separated).
    #[serde(default = "p2p_default")]
    pub p2p: Vec<String>,
    /// Currency for amounts that name none (CSV imports). Env: `COSELL_DEFAULT_CURRENCY`.
    #[serde(default = "currency_default")]
    pub default_currency: String,
    /// First wait before a failed webhook delivery is retried, in milliseconds (doubles each
    /// time). Env: `COSELL_WEBHOOK_RETRY_BASE_MS`.
    #[serde(default = "webhook_retry_base_ms_default")]
    pub webhook_retry_base_ms: u64,
    /// Let webhooks reach the node's own host and private networks (loopback, private, link-local,
    /// CGNAT addresses; default false: such URLs are refused, also when a name resolves to one
    /// at delivery time). Env: `COSELL_WEBHOOK_ALLOW_PRIVATE`.
    #[serde(default)]
    pub webhook_allow_private: bool,
    /// Days an invitation to a deal waits for an answer before it expires (fractions allowed).
    /// Env: `COSELL_INVITATION_EXPIRY_DAYS`.
    #[serde(default = "invitation_expiry_days_default")]
    pub invitation_expiry_days: f64,
    /// Days an approved deal registration protects its partner. Env:
    /// `COSELL_REGISTRATION_PROTECTION_DAYS`.
    #[serde(default = "registration_protection_days_default")]
    pub registration_protection_days: f64,
    /// Hours a vendor has to answer a deal registration before it is flagged overdue. Env:
    /// `COSELL_REGISTRATION_SLA_HOURS`.
    #[serde(default = "registration_sla_hours_default")]
    pub registration_sla_hours: f64,
    /// Accept every invitation to a deal from a partner as it arrives (default false: the
    /// inbox shows a redacted summary until someone accepts). Env:
    /// `COSELL_AUTO_ACCEPT_INVITATIONS`.
    #[serde(default)]
    pub auto_accept_invitations: bool,
    /// Hours between scheduled account-mapping runs with each connected partner (fractions
    /// allowed; 0 = no schedule). Env: `COSELL_MAPPING_INTERVAL_HOURS`.
    #[serde(default = "mapping_interval_hours_default")]
    pub mapping_interval_hours: f64,
    /// Account-mapping runs per partner per hour, counted for runs either side starts: 1 to
    /// 12 (a node may be stricter than the default, never laxer). Env:
    /// `COSELL_MAPPING_RUNS_PER_HOUR`.
    #[serde(default = "mapping_runs_per_hour_default")]
    pub mapping_runs_per_hour: usize,
    /// Memory redb may use to cache database pages, in MiB (8 to 65536). A large import is one
    /// transaction whose indexes outgrow a small cache; more cache makes it faster at the cost
    /// of the node's resident memory (BENCHMARKS.md has the trade-off). Env: `COSELL_CACHE_MB`.
    #[serde(default = "cache_mb_default")]
    pub cache_mb: u64,
    /// The SMTP server for e-mail notifications: `smtp://host:port` (a local relay, no TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465`.
    /// None: no e-mail. Env: `COSELL_SMTP_URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    /// The From address of notification mails. Env: `COSELL_SMTP_FROM`.
    #[serde(default = "smtp_from_default")]
    pub smtp_from: String,
    /// The web UI's address as users reach it, for the links in mails (default: the HTTP
    /// listen address). Env: `COSELL_PUBLIC_URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Minutes between digest mails, for users who chose a digest (default a day). Env:
    /// `COSELL_DIGEST_INTERVAL_MINUTES`.
    #[serde(default = "digest_interval_minutes_default")]
    pub digest_interval_minutes: f64,
    /// PEM certificate chain for HTTPS; with `tls_key`, the HTTP API and web UI speak HTTPS
    /// only (a relative path is under the data directory). Env: `COSELL_TLS_CERT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert`. Env: `COSELL_TLS_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
    /// Milliseconds a stopping node keeps serving with `/readyz` answering 503 before it stops
    /// accepting requests, so a load balancer or Kubernetes takes it out of rotation first
    /// (0 to 60000). Env: `COSELL_SHUTDOWN_DELAY_MS`.
    #[serde(default)]
    pub shutdown_delay_ms: u64,
    /// Addresses partners reach this node at from outside, announced in invites: a forwarded
    /// port or a DNS name (`/dns4/cosell.example.com/tcp/7601`, resolved by the partner at each
    /// dial). Env: `COSELL_EXTERNAL` (comma-separated).
    #[serde(default)]
    pub external: Vec<String>,
    /// Relay connections for this node's partners that cannot reach each other directly (both
    /// behind NATs): partners only, never anyone else. Env: `COSELL_RELAY`.
    #[serde(default)]
    pub relay: bool,
    /// Relayed connections at once (1 to 1024). Env: `COSELL_RELAY_MAX_CIRCUITS`.
    #[serde(default = "relay_max_circuits_default")]
    pub relay_max_circuits: usize,
    /// MiB one relayed connection may carry before the relay closes it (1 to 1048576). Env:
    /// `COSELL_RELAY_CIRCUIT_MB`.
    #[serde(default = "relay_circuit_mb_default")]
    pub relay_circuit_mb: u64,
    /// Minutes one relayed connection may last (1 to 10080); the partners reconnect after.
    /// Env: `COSELL_RELAY_CIRCUIT_MINUTES`.
    #[serde(default = "relay_circuit_minutes_default")]
    pub relay_circuit_minutes: u64,
    /// Seconds a request to a partner may wait for its answer (5 to 3600). Sync requests are
    /// sized to a share of it from each partner's measured delivery rate, so the default
    /// suits slow links too. Env: `COSELL_SYNC_REQUEST_TIMEOUT_SECS`.
    #[serde(default = "sync_request_timeout_secs_default")]
    pub sync_request_timeout_secs: u64,
    /// Days the audit log keeps an entry (fractions allowed); older ones are removed on a
    /// timer, under a signed checkpoint that later exports carry (SECURITY.md, "Audit
    /// retention"). 0: keep every entry. Env: `COSELL_AUDIT_RETENTION_DAYS`.
    #[serde(default)]
    pub audit_retention_days: f64,
    /// Host other companies' workspaces in this process (`cosell workspace …`, `/w/NAME/`;
    /// ARCHITECTURE.md "Hosted workspaces"). Env: `COSELL_HOSTING`.
    #[serde(default)]
    pub hosting: bool,
    /// Username + password sign-in to the web UI (default true). False: people sign in with
    /// single sign-on only; API tokens still work. Env: `COSELL_LOCAL_PASSWORDS`.
    #[serde(default = "local_passwords_default")]
    pub local_passwords: bool,
    /// OpenID Connect single sign-on for the web UI (`[oidc]`); None: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<crate::domain::oidc::OidcConfig>,
    /// Identity-provider groups → roles (`[roles]`), for SSO claims and SCIM groups.
    #[serde(default)]
    pub roles: crate::domain::oidc::RoleMap,
}

fn local_passwords_default() -> bool {
    true
}

fn relay_max_circuits_default() -> usize {
    crate::net::nat::RELAY_CIRCUITS_DEFAULT
}
fn relay_circuit_mb_default() -> u64 {
    crate::net::nat::RELAY_CIRCUIT_BYTES_DEFAULT / (1024 * 1024)
}
fn relay_circuit_minutes_default() -> u64 {
    crate::net::nat::RELAY_CIRCUIT_DURATION_DEFAULT.as_secs() / 60
}
fn sync_request_timeout_secs_default() -> u64 {
    crate::net::REQUEST_TIMEOUT.as_secs()
}

fn smtp_from_default() -> String {
    "cosell@localhost".to_string()
}
fn digest_interval_minutes_default() -> f64 {
    24.0 * 60.0
}

/// Longest [`Config::shutdown_delay_ms`].
pub const SHUTDOWN_DELAY_MS_MAX: u64 = 60_000;

/// Bounds of [`Config::cache_mb`].
pub const CACHE_MB_RANGE: std::ops::RangeInclusive<u64> = 8..=65536;

fn cache_mb_default() -> u64 {
    (crate::store::STORE_CACHE_BYTES / (1024 * 1024)) as u64
}

fn mapping_interval_hours_default() -> f64 {
    24.0
}
fn mapping_runs_per_hour_default() -> usize {
    crate::domain::mapping::RUNS_PER_HOUR_MAX
}

fn invitation_expiry_days_default() -> f64 {
    14.0
}
fn registration_protection_days_default() -> f64 {
    90.0
}
fn registration_sla_hours_default() -> f64 {
    48.0
}

fn webhook_retry_base_ms_default() -> u64 {
    1000
}

fn http_default() -> String {
    HTTP_ADDR_DEFAULT.to_string()
}
fn p2p_default() -> Vec<String> {
    P2P_ADDRS_DEFAULT.iter().map(|a| a.to_string()).collect()
}
fn currency_default() -> String {
    "USD".to_string()
}

impl Config {
    /// The settings for a new node.
    pub fn new(name: &str) -> Config {
        Config {
            name: name.to_string(),
            http: http_default(),
            p2p: p2p_default(),
            default_currency: currency_default(),
            webhook_retry_base_ms: webhook_retry_base_ms_default(),
            webhook_allow_private: false,
            invitation_expiry_days: invitation_expiry_days_default(),
            registration_protection_days: registration_protection_days_default(),
            registration_sla_hours: registration_sla_hours_default(),
            auto_accept_invitations: false,
            mapping_interval_hours: mapping_interval_hours_default(),
            mapping_runs_per_hour: mapping_runs_per_hour_default(),
            cache_mb: cache_mb_default(),
            smtp_url: None,
            smtp_from: smtp_from_default(),
            public_url: None,
            digest_interval_minutes: digest_interval_minutes_default(),
            tls_cert: None,
            tls_key: None,
            shutdown_delay_ms: 0,
            external: Vec::new(),
            relay: false,
            relay_max_circuits: relay_max_circuits_default(),
            relay_circuit_mb: relay_circuit_mb_default(),
            relay_circuit_minutes: relay_circuit_minutes_default(),
            sync_request_timeout_secs: sync_request_timeout_secs_default(),
            audit_retention_days: 0.0,
            hosting: false,
            local_passwords: true,
            oidc: None,
            roles: crate::domain::oidc::RoleMap::default(),
        }
    }

    /// The relay these settings offer partners, if any.
    pub fn relay_limits(&self) -> Option<crate::net::RelayLimits> {
        self.relay.then(|| crate::net::RelayLimits {
            max_circuits: self.relay_max_circuits,
            circuit_bytes: self.relay_circuit_mb.saturating_mul(1024 * 1024),
            circuit_duration: std::time::Duration::from_secs(self.relay_circuit_minutes * 60),
        })
    }

    /// Reads `cosell.toml`, then applies `COSELL_*` environment overrides, then validates.
    /// Nothing here is process-wide: `serve` hands each setting to the service that uses it
    /// (`webhook_allow_private` to webhook creation and delivery).
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        config.apply_env(|k| std::env::var(k).ok())?;
        config
            .validate()
            .with_context(|| format!("{} is not valid", path.display()))?;
        Ok(config)
    }

    /// Reads and validates `cosell.toml` alone, without `COSELL_*` overrides: a hosted
    /// workspace's settings are its own, not the host process's environment.
    pub fn load_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let config: Config =
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        config
            .validate()
            .with_context(|| format!("{} is not valid", path.display()))?;
        Ok(config)
    }

    /// Applies the `COSELL_*` overrides `var` gives; a value that does not parse is an error
    /// naming the variable, never silently ignored.
    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<()> {
        fn parsed<T: std::str::FromStr>(key: &str, value: String) -> Result<T> {
            value.trim().parse().map_err(|_| {
                anyhow::anyhow!("environment variable {key}={value:?} is not a valid number")
            })
        }
        if let Some(v) = var("COSELL_NAME") {
            self.name = v;
        }
        if let Some(v) = var("COSELL_HTTP") {
            self.http = v;
        }
        if let Some(v) = var("COSELL_P2P") {
            self.p2p = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = var("COSELL_DEFAULT_CURRENCY") {
            self.default_currency = v;
        }
        if let Some(v) = var("COSELL_WEBHOOK_RETRY_BASE_MS") {
            self.webhook_retry_base_ms = parsed("COSELL_WEBHOOK_RETRY_BASE_MS", v)?;
        }
        if let Some(v) = var("COSELL_INVITATION_EXPIRY_DAYS") {
            self.invitation_expiry_days = parsed("COSELL_INVITATION_EXPIRY_DAYS", v)?;
        }
        if let Some(v) = var("COSELL_REGISTRATION_PROTECTION_DAYS") {
            self.registration_protection_days = parsed("COSELL_REGISTRATION_PROTECTION_DAYS", v)?;
        }
        if let Some(v) = var("COSELL_REGISTRATION_SLA_HOURS") {
            self.registration_sla_hours = parsed("COSELL_REGISTRATION_SLA_HOURS", v)?;
        }
        fn flag(key: &str, value: String) -> Result<bool> {
            match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => Ok(true),
                "0" | "false" | "no" | "" => Ok(false),
                _ => anyhow::bail!("environment variable {key}={value:?} must be true or false"),
            }
        }
        if let Some(v) = var("COSELL_AUTO_ACCEPT_INVITATIONS") {
            self.auto_accept_invitations = flag("COSELL_AUTO_ACCEPT_INVITATIONS", v)?;
        }
        if let Some(v) = var("COSELL_WEBHOOK_ALLOW_PRIVATE") {
            self.webhook_allow_private = flag("COSELL_WEBHOOK_ALLOW_PRIVATE", v)?;
        }
        if let Some(v) = var("COSELL_MAPPING_INTERVAL_HOURS") {
            self.mapping_interval_hours = parsed("COSELL_MAPPING_INTERVAL_HOURS", v)?;
        }
        if let Some(v) = var("COSELL_MAPPING_RUNS_PER_HOUR") {
            self.mapping_runs_per_hour = parsed("COSELL_MAPPING_RUNS_PER_HOUR", v)?;
        }
        if let Some(v) = var("COSELL_CACHE_MB") {
            self.cache_mb = parsed("COSELL_CACHE_MB", v)?;
        }
        if let Some(v) = var("COSELL_SMTP_URL") {
            self.smtp_url = Some(v).filter(|v| !v.trim().is_empty());
        }
        if let Some(v) = var("COSELL_SMTP_FROM") {
            self.smtp_from = v;
        }
        if let Some(v) = var("COSELL_PUBLIC_URL") {
            self.public_url = Some(v).filter(|v| !v.trim().is_empty());
        }
        if let Some(v) = var("COSELL_DIGEST_INTERVAL_MINUTES") {
            self.digest_interval_minutes = parsed("COSELL_DIGEST_INTERVAL_MINUTES", v)?;
        }
        let path = |v: String| Some(v.trim().to_string()).filter(|p| !p.is_empty());
        if let Some(v) = var("COSELL_TLS_CERT") {
            self.tls_cert = path(v);
        }
        if let Some(v) = var("COSELL_TLS_KEY") {
            self.tls_key = path(v);
        }
        if let Some(v) = var("COSELL_SHUTDOWN_DELAY_MS") {
            self.shutdown_delay_ms = parsed("COSELL_SHUTDOWN_DELAY_MS", v)?;
        }
        if let Some(v) = var("COSELL_EXTERNAL") {
            self.external = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = var("COSELL_HOSTING") {
            self.hosting = flag("COSELL_HOSTING", v)?;
        }
        if let Some(v) = var("COSELL_RELAY") {
            self.relay = flag("COSELL_RELAY", v)?;
        }
        if let Some(v) = var("COSELL_RELAY_MAX_CIRCUITS") {
            self.relay_max_circuits = parsed("COSELL_RELAY_MAX_CIRCUITS", v)?;
        }
        if let Some(v) = var("COSELL_RELAY_CIRCUIT_MB") {
            self.relay_circuit_mb = parsed("COSELL_RELAY_CIRCUIT_MB", v)?;
        }
        if let Some(v) = var("COSELL_RELAY_CIRCUIT_MINUTES") {
            self.relay_circuit_minutes = parsed("COSELL_RELAY_CIRCUIT_MINUTES", v)?;
        }
        if let Some(v) = var("COSELL_SYNC_REQUEST_TIMEOUT_SECS") {
            self.sync_request_timeout_secs = parsed("COSELL_SYNC_REQUEST_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = var("COSELL_AUDIT_RETENTION_DAYS") {
            self.audit_retention_days = parsed("COSELL_AUDIT_RETENTION_DAYS", v)?;
        }
        if let Some(v) = var("COSELL_LOCAL_PASSWORDS") {
            self.local_passwords = flag("COSELL_LOCAL_PASSWORDS", v)?;
        }
        Ok(())
    }

    /// Checks values a typo could break.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            anyhow::bail!("name must not be empty");
        }
        if let Some(oidc) = &self.oidc {
            oidc.validate()?;
        }
        self.roles.validate()?;
        self.default_currency()?;
        for (key, v) in [
            ("invitation_expiry_days", self.invitation_expiry_days),
            (
                "registration_protection_days",
                self.registration_protection_days,
            ),
            ("registration_sla_hours", self.registration_sla_hours),
        ] {
            if !v.is_finite() || v <= 0.0 {
                anyhow::bail!("{key} must be a positive number, not {v}");
            }
        }
        let days = self.audit_retention_days;
        if !days.is_finite() || !(0.0..=AUDIT_RETENTION_DAYS_MAX).contains(&days) {
            anyhow::bail!(
                "audit_retention_days must be 0 (keep every entry) or a positive number of days \
                 up to {AUDIT_RETENTION_DAYS_MAX}, not {days}"
            );
        }
        let hours = self.mapping_interval_hours;
        if !hours.is_finite() || !(0.0..=MAPPING_INTERVAL_HOURS_MAX).contains(&hours) {
            anyhow::bail!(
                "mapping_interval_hours must be 0 (off) or a positive number up to \
                 {MAPPING_INTERVAL_HOURS_MAX}, not {hours}"
            );
        }
        let runs = self.mapping_runs_per_hour;
        if !(1..=crate::domain::mapping::RUNS_PER_HOUR_MAX).contains(&runs) {
            anyhow::bail!(
                "mapping_runs_per_hour must be 1 to {}, not {runs}",
                crate::domain::mapping::RUNS_PER_HOUR_MAX
            );
        }
        if let Some(url) = &self.smtp_url {
            let scheme = url.split("://").next().unwrap_or_default();
            if !matches!(scheme, "smtp" | "smtps") || !url.contains("://") {
                anyhow::bail!(
                    "smtp_url must start with smtp:// or smtps:// (e.g. smtp://127.0.0.1:25), not {url:?}"
                );
            }
        }
        if self.smtp_from.parse::<lettre::Address>().is_err() {
            anyhow::bail!(
                "smtp_from must be an e-mail address, not {:?}",
                self.smtp_from
            );
        }
        let minutes = self.digest_interval_minutes;
        if !minutes.is_finite() || !(0.05..=MAPPING_INTERVAL_HOURS_MAX * 60.0).contains(&minutes) {
            anyhow::bail!(
                "digest_interval_minutes must be a positive number of minutes, not {minutes}"
            );
        }
        if !CACHE_MB_RANGE.contains(&self.cache_mb) {
            anyhow::bail!(
                "cache_mb must be {} to {} (MiB), not {}",
                CACHE_MB_RANGE.start(),
                CACHE_MB_RANGE.end(),
                self.cache_mb
            );
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                anyhow::bail!("tls_cert is set but tls_key is not: HTTPS needs both")
            }
            (None, Some(_)) => {
                anyhow::bail!("tls_key is set but tls_cert is not: HTTPS needs both")
            }
            _ => {}
        }
        if self.shutdown_delay_ms > SHUTDOWN_DELAY_MS_MAX {
            anyhow::bail!(
                "shutdown_delay_ms must be 0 to {SHUTDOWN_DELAY_MS_MAX}, not {}",
                self.shutdown_delay_ms
            );
        }
        for a in &self.external {
            crate::net::dial_addr(a).context("external")?;
        }
        for (key, v, max) in [
            ("relay_max_circuits", self.relay_max_circuits as u64, 1024),
            ("relay_circuit_mb", self.relay_circuit_mb, 1024 * 1024),
            (
                "relay_circuit_minutes",
                self.relay_circuit_minutes,
                7 * 24 * 60,
            ),
        ] {
            if !(1..=max).contains(&v) {
                anyhow::bail!("{key} must be 1 to {max}, not {v}");
            }
        }
        if !(5..=3600).contains(&self.sync_request_timeout_secs) {
            anyhow::bail!(
                "sync_request_timeout_secs must be 5 to 3600, not {}",
                self.sync_request_timeout_secs
            );
        }
        Ok(())
    }

    /// The HTTPS certificate and key files, when both are set; a relative path is taken under
    /// the data directory `root`.
    pub fn tls_files(&self, root: &Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
        let (cert, key) = (self.tls_cert.as_ref()?, self.tls_key.as_ref()?);
        Some((root.join(cert), root.join(key)))
    }

    /// The database page cache these settings give, in bytes.
    pub fn cache_bytes(&self) -> usize {
        usize::try_from(self.cache_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// The workflow windows these settings give.
    pub fn windows(&self) -> crate::domain::deals::Windows {
        crate::domain::deals::Windows::from_settings(
            self.invitation_expiry_days,
            self.registration_protection_days,
            self.registration_sla_hours,
        )
    }

    /// How long the audit log keeps an entry, when it removes old ones.
    pub fn audit_retention(&self) -> Option<std::time::Duration> {
        (self.audit_retention_days > 0.0)
            .then(|| std::time::Duration::from_secs_f64(self.audit_retention_days * 86_400.0))
    }

    /// The account-mapping settings these give.
    pub fn mapping(&self) -> crate::domain::mapping::MappingSettings {
        let interval = (self.mapping_interval_hours > 0.0)
            .then(|| std::time::Duration::from_secs_f64(self.mapping_interval_hours * 3600.0));
        crate::domain::mapping::MappingSettings {
            runs_per_hour: self.mapping_runs_per_hour,
            interval,
        }
    }

    /// The default currency, parsed.
    pub fn default_currency(&self) -> Result<Currency> {
        Currency::parse(&self.default_currency)
            .map_err(|e| anyhow::anyhow!("default_currency: {e}"))
    }

    /// The file's text, with a comment on every key.
    pub fn to_toml(&self) -> String {
        let p2p = self
            .p2p
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "# cosell node settings. Each key can be overridden by the environment variable\n\
             # COSELL_<KEY> (e.g. COSELL_HTTP); `cosell serve` flags override both.\n\n\
             # The company's name, as partners see it.\n\
             name = {:?}\n\n\
             # HTTP API and web UI listen address (port 0 = any free port).\n\
             http = {:?}\n\n\
             # libp2p listen multiaddrs for partner connections: TCP (/ip4/ADDR/tcp/PORT)\n\
             # and QUIC (/ip4/ADDR/udp/PORT/quic-v1).\n\
             p2p = [{p2p}]\n\n\
             # ISO 4217 currency for imported amounts that name none.\n\
             default_currency = {:?}\n\n\
             # First wait before a failed webhook delivery is retried (ms); it doubles each time.\n\
             webhook_retry_base_ms = {}\n\n\
             # Let webhooks reach this host and private networks (127.0.0.1, 10.x, 192.168.x,\n\
             # link-local, CGNAT…). Off by default: a webhook is a request the node makes\n\
             # wherever an admin points it.\n\
             webhook_allow_private = {}\n\n\
             # Days an invitation to a deal waits for an answer before it expires.\n\
             invitation_expiry_days = {:?}\n\n\
             # Days an approved deal registration protects its partner (renewed on re-approval).\n\
             registration_protection_days = {:?}\n\n\
             # Hours a vendor has to answer a deal registration before it is flagged overdue.\n\
             registration_sla_hours = {:?}\n\n\
             # Accept every invitation to a deal from a partner as it arrives (otherwise the\n\
             # inbox holds a redacted summary until someone accepts).\n\
             auto_accept_invitations = {}\n\n\
             # Hours between scheduled account-mapping runs with each connected partner\n\
             # (0 = only on demand, `cosell map PARTNER`).\n\
             mapping_interval_hours = {:?}\n\n\
             # Account-mapping runs per partner per hour, whichever side starts them (1 to 12).\n\
             mapping_runs_per_hour = {}\n\n\
             # Memory for the database page cache, in MiB (8 to 65536). More makes large\n\
             # imports faster and the node's resident memory larger.\n\
             cache_mb = {}\n\n\
             # Milliseconds a stopping node keeps answering with /readyz 503 before it stops\n\
             # taking requests, so a load balancer drains it first (0 to 60000).\n\
             shutdown_delay_ms = {}\n\n\
             # HTTPS: a PEM certificate chain and its key (a relative path is under the data\n\
             # directory). With both set, the API and web UI speak HTTPS only.\n\
             {}\n\n\
             # Addresses partners reach this node at from outside, put in invites: a forwarded\n\
             # port or a DNS name, e.g. [\"/dns4/cosell.example.com/tcp/7601\"] (the partner\n\
             # resolves the name each time it dials). Empty: the listen addresses, what\n\
             # partners observe, and relays.\n\
             external = [{}]\n\n\
             # Relay connections between this node's partners that cannot reach each other\n\
             # (both behind NATs): for partners only, never anyone else. Turn on for a node\n\
             # with a public address.\n\
             relay = {}\n\n\
             # Relay limits: connections at once, MiB and minutes per connection.\n\
             relay_max_circuits = {}\n\
             relay_circuit_mb = {}\n\
             relay_circuit_minutes = {}\n\n\
             # Seconds a request to a partner may wait for its answer (5 to 3600); sync\n\
             # requests are sized from each partner's measured rate to finish well within it.\n\
             sync_request_timeout_secs = {}\n\n\
             # Days the audit log keeps an entry; older ones are removed under a signed\n\
             # checkpoint that later exports carry (0 = keep every entry).\n\
             audit_retention_days = {:?}\n",
            self.name,
            self.http,
            self.default_currency,
            self.webhook_retry_base_ms,
            self.webhook_allow_private,
            self.invitation_expiry_days,
            self.registration_protection_days,
            self.registration_sla_hours,
            self.auto_accept_invitations,
            self.mapping_interval_hours,
            self.mapping_runs_per_hour,
            self.cache_mb,
            self.shutdown_delay_ms,
            match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => format!("tls_cert = {cert:?}\ntls_key = {key:?}"),
                _ => "# tls_cert = \"tls/cert.pem\"\n# tls_key = \"tls/key.pem\"".to_string(),
            },
            self.external
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.relay,
            self.relay_max_circuits,
            self.relay_circuit_mb,
            self.relay_circuit_minutes,
            self.sync_request_timeout_secs,
            self.audit_retention_days
        ) + &self.mail_toml()
            + &format!(
                "\n# Host other companies' workspaces in this process (`cosell workspace create`).\nhosting = {}\n",
                self.hosting
            )
    }

    /// The e-mail part of [`Config::to_toml`]: off until `smtp_url` is set.
    fn mail_toml(&self) -> String {
        let optional = |key: &str, value: &Option<String>, example: &str| match value {
            Some(v) => format!("{key} = {v:?}\n"),
            None => format!("# {key} = {example:?}\n"),
        };
        format!(
            "\n# E-mail notifications (each user opts in on the web UI's \"My e-mail\" page). The\n\
             # SMTP server: smtp://host:port (a local relay, no TLS),\n\
             # smtp://user:pass@host:587?tls=required (STARTTLS) or smtps://user:pass@host:465.\n\
             {}\
             # The From address of the mails.\n\
             smtp_from = {:?}\n\
             # The web UI's address as users reach it, for links in the mails.\n\
             {}\
             # Minutes between digest mails, for users who chose a digest.\n\
             digest_interval_minutes = {:?}\n",
            optional("smtp_url", &self.smtp_url, "smtp://127.0.0.1:25"),
            self.smtp_from,
            optional("public_url", &self.public_url, "https://cosell.example.com"),
            self.digest_interval_minutes,
        )
    }

    /// How people sign in ([`crate::domain::oidc::SignInSettings`]): reads the OIDC client
    /// secret file (relative to `data`), which must not be readable by group or others; `http`
    /// is the node's HTTP address (the redirect URI's default base when `public_url` is unset).
    pub fn sign_in(&self, data: &Path, http: &str) -> Result<crate::domain::oidc::SignInSettings> {
        let public_url = self.public_url.clone().unwrap_or_else(|| http.to_string());
        let oidc = match &self.oidc {
            None => None,
            Some(o) => {
                let secret = match &o.client_secret_file {
                    None => None,
                    Some(file) => {
                        let path = data.join(file);
                        #[cfg(unix)]
                        {
                            use std::os::unix::fs::PermissionsExt;
                            let mode = std::fs::metadata(&path)
                                .with_context(|| {
                                    format!("oidc.client_secret_file {}", path.display())
                                })?
                                .permissions()
                                .mode();
                            if mode & 0o077 != 0 {
                                anyhow::bail!(
                                    "oidc.client_secret_file {} is readable by others (mode {:o}): chmod 600 it",
                                    path.display(),
                                    mode & 0o777
                                );
                            }
                        }
                        let secret = std::fs::read_to_string(&path).with_context(|| {
                            format!("oidc.client_secret_file {}", path.display())
                        })?;
                        if secret.trim().is_empty() {
                            anyhow::bail!("oidc.client_secret_file {} is empty", path.display());
                        }
                        Some(secret)
                    }
                };
                Some(crate::domain::oidc::Provider::new(
                    o.clone(),
                    secret,
                    &public_url,
                ))
            }
        };
        if !self.local_passwords && oidc.is_none() {
            tracing::warn!(
                "local_passwords = false and no [oidc]: nobody can sign in to the web UI (API tokens still work)"
            );
        }
        Ok(crate::domain::oidc::SignInSettings {
            local_passwords: self.local_passwords,
            oidc,
            roles: self.roles.clone(),
            public_url: Some(public_url),
        })
    }

    /// The mail settings for [`crate::domain::notify`], when `smtp_url` is set; `http` is the
    /// HTTP address the node listens on (the links' default base).
    pub fn mail(&self, http: &str) -> Option<crate::domain::notify::MailSettings> {
        let smtp_url = self.smtp_url.clone()?;
        Some(crate::domain::notify::MailSettings {
            smtp_url,
            from: self.smtp_from.clone(),
            public_url: self.public_url.clone().unwrap_or_else(|| http.to_string()),
            node_name: self.name.clone(),
            digest_interval: std::time::Duration::from_secs_f64(
                self.digest_interval_minutes * 60.0,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_config_reads_back_and_env_overrides_it() {
        let c = Config::new("Acme \"Cloud\"");
        let mut back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back.name, "Acme \"Cloud\"");
        back.apply_env(|k| (k == "COSELL_HTTP").then(|| "127.0.0.1:0".to_string()))
            .expect("env");
        assert_eq!(back.http, "127.0.0.1:0");
        assert_eq!(back.p2p, P2P_ADDRS_DEFAULT.to_vec());
        assert_eq!(back.registration_sla_hours, 48.0);
        back.apply_env(|k| (k == "COSELL_REGISTRATION_SLA_HOURS").then(|| "0.001".to_string()))
            .expect("env");
        assert_eq!(back.registration_sla_hours, 0.001);
        assert_eq!(back.windows().registration_sla_ms, 3600);
        assert!(back.validate().is_ok());
        back.invitation_expiry_days = 0.0;
        assert!(back.validate().is_err());
    }

    #[test]
    fn mail_is_off_until_an_smtp_url_is_set_and_a_bad_one_is_refused() {
        let written = Config::new("Acme").to_toml();
        assert!(
            written.contains("\n# smtp_url = \"smtp://127.0.0.1:25\"\n"),
            "{written}"
        );
        let mut c: Config = toml::from_str(&written).expect("toml");
        assert!(c.mail("http://127.0.0.1:7600").is_none());
        c.apply_env(|k| match k {
            "COSELL_SMTP_URL" => Some("smtp://127.0.0.1:2525".into()),
            "COSELL_PUBLIC_URL" => Some("https://cosell.example.com".into()),
            _ => None,
        })
        .expect("env");
        assert!(c.validate().is_ok());
        let mail = c.mail("http://127.0.0.1:7600").expect("mail on");
        assert_eq!(mail.public_url, "https://cosell.example.com");
        assert_eq!(
            mail.digest_interval,
            std::time::Duration::from_secs(24 * 3600)
        );
        // The written file keeps the server.
        let back: Config = toml::from_str(&c.to_toml()).expect("toml");
        assert_eq!(back.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
        c.smtp_url = Some("mail.example.com".into());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("smtp_url must start with smtp://"));
        c.smtp_url = None;
        c.smtp_from = "not an address".into();
        assert!(c.validate().unwrap_err().to_string().contains("smtp_from"));
    }

    #[test]
    fn private_webhooks_are_off_by_default_and_the_file_or_the_environment_turns_them_on() {
        let written = Config::new("Acme").to_toml();
        assert!(
            written.contains("\nwebhook_allow_private = false\n"),
            "{written}"
        );
        let mut c: Config = toml::from_str(&written).expect("toml");
        assert!(!c.webhook_allow_private);
        let on: Config = toml::from_str(&written.replace(
            "webhook_allow_private = false",
            "webhook_allow_private = true",
        ))
        .expect("toml");
        assert!(on.webhook_allow_private);
        c.apply_env(|k| (k == "COSELL_WEBHOOK_ALLOW_PRIVATE").then(|| "true".to_string()))
            .expect("env");
        assert!(c.webhook_allow_private);
        let err = c
            .apply_env(|k| (k == "COSELL_WEBHOOK_ALLOW_PRIVATE").then(|| "maybe".to_string()))
            .expect_err("not a flag");
        assert!(err.to_string().contains("must be true or false"), "{err}");
    }

    #[test]
    fn mapping_schedule_defaults_to_daily_and_zero_turns_it_off() {
        let mut c: Config = toml::from_str(&Config::new("Acme").to_toml()).unwrap();
        assert_eq!(
            c.mapping().interval,
            Some(std::time::Duration::from_secs(24 * 3600))
        );
        assert_eq!(
            c.mapping().runs_per_hour,
            crate::domain::mapping::RUNS_PER_HOUR_MAX
        );
        c.apply_env(|k| (k == "COSELL_MAPPING_INTERVAL_HOURS").then(|| "0".to_string()))
            .expect("env");
        assert_eq!(c.mapping().interval, None);
        assert!(c.validate().is_ok());
        c.mapping_interval_hours = -1.0;
        assert!(c.validate().is_err());
        c.mapping_interval_hours = 1e300;
        assert!(c.validate().is_err(), "would overflow a Duration");
        c.mapping_interval_hours = 1.0;
        c.apply_env(|k| (k == "COSELL_MAPPING_RUNS_PER_HOUR").then(|| "2".to_string()))
            .expect("env");
        assert_eq!(c.mapping().runs_per_hour, 2);
        c.mapping_runs_per_hour = crate::domain::mapping::RUNS_PER_HOUR_MAX + 1;
        assert!(
            c.validate().is_err(),
            "a node may not be laxer than the limit"
        );
        c.mapping_runs_per_hour = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn tls_needs_both_files_and_reads_back() {
        let mut c = Config::new("Acme");
        assert!(c.tls_files(Path::new("/d")).is_none());
        c.apply_env(|k| (k == "COSELL_TLS_CERT").then(|| "tls/cert.pem".to_string()))
            .expect("env");
        let err = c.validate().expect_err("no key");
        assert!(err.to_string().contains("tls_key is not"), "{err}");
        c.tls_key = Some("/etc/cosell/key.pem".into());
        c.validate().expect("both");
        let (cert, key) = c.tls_files(Path::new("/d")).expect("files");
        assert_eq!(cert, Path::new("/d/tls/cert.pem"));
        assert_eq!(key, Path::new("/etc/cosell/key.pem"));
        let back: Config = toml::from_str(&c.to_toml()).expect("reads back");
        assert_eq!(back.tls_cert, c.tls_cert);
        let plain: Config = toml::from_str(&Config::new("A").to_toml()).expect("reads back");
        assert_eq!((plain.tls_cert, plain.shutdown_delay_ms), (None, 0));
        c.shutdown_delay_ms = SHUTDOWN_DELAY_MS_MAX + 1;
        assert!(c.validate().is_err());
    }

    #[test]
    fn relay_and_external_addresses_are_settings_checked_before_start() {
        let c: Config = toml::from_str(&Config::new("Acme").to_toml()).expect("reads back");
        assert!(!c.relay && c.relay_limits().is_none() && c.external.is_empty());
        let mut c = c;
        c.apply_env(|k| match k {
            "COSELL_RELAY" => Some("true".into()),
            "COSELL_EXTERNAL" => {
                Some("/dns4/cosell.example.com/tcp/7601, /ip4/203.0.113.7/udp/7601/quic-v1".into())
            }
            _ => None,
        })
        .expect("env");
        assert!(c.validate().is_ok());
        assert_eq!(c.external.len(), 2);
        let limits = c.relay_limits().expect("relay on");
        assert_eq!(limits.circuit_bytes, 1024 * 1024 * 1024);
        let back: Config = toml::from_str(&c.to_toml()).expect("reads back");
        assert_eq!(back.external, c.external);
        assert!(back.relay);
        c.external = vec!["/ip4/0.0.0.0/tcp/7601".into()];
        let err = format!("{:#}", c.validate().expect_err("unspecified"));
        assert!(err.contains("external") && err.contains("0.0.0.0"), "{err}");
        c.external.clear();
        c.relay_max_circuits = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("name = \"x\"\nhttpp = \"a\"\n").is_err());
    }

    #[test]
    fn the_page_cache_size_is_a_setting_with_bounds() {
        let mut c = Config::new("Acme");
        assert_eq!(c.cache_bytes(), crate::store::STORE_CACHE_BYTES);
        c.apply_env(|k| (k == "COSELL_CACHE_MB").then(|| "256".to_string()))
            .expect("env");
        assert_eq!(c.cache_bytes(), 256 * 1024 * 1024);
        let back: Config = toml::from_str(&c.to_toml()).expect("reads back");
        assert_eq!(back.cache_mb, 256);
        c.cache_mb = 4;
        let err = c.validate().expect_err("too small");
        assert!(
            err.to_string().contains("cache_mb must be 8 to 65536"),
            "{err}"
        );
    }

    #[test]
    fn an_environment_override_that_is_not_a_number_is_an_error_naming_it() {
        let mut c = Config::new("Acme");
        let err = c
            .apply_env(|k| (k == "COSELL_CACHE_MB").then(|| "lots".to_string()))
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "environment variable COSELL_CACHE_MB=\"lots\" is not a valid number"
        );
        assert_eq!(c.cache_mb, Config::new("Acme").cache_mb, "left as it was");
    }
}
