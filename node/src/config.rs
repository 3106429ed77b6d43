//! `cosell.toml`: the node's settings. Each key can be overridden by an environment variable
//! `COSELL_<KEY>` (upper case), and the `serve` flags override both.

use anyhow::{Context, Result};
use protocol::records::Currency;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Default HTTP listen address: loopback only, so a fresh node is not reachable from outside.
pub const HTTP_ADDR_DEFAULT: &str = "127.0.0.1:7600";
/// Default libp2p listen address.
pub const P2P_ADDR_DEFAULT: &str = "/ip4/0.0.0.0/tcp/7601";

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
}

fn webhook_retry_base_ms_default() -> u64 {
    1000
}

fn http_default() -> String {
    HTTP_ADDR_DEFAULT.to_string()
}
fn p2p_default() -> Vec<String> {
    vec![P2P_ADDR_DEFAULT.to_string()]
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
        }
    }

    /// Reads `cosell.toml`, then applies `COSELL_*` environment overrides, then validates.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        config.apply_env(|k| std::env::var(k).ok());
        config
            .validate()
            .with_context(|| format!("{} is not valid", path.display()))?;
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
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
        if let Some(v) = var("COSELL_WEBHOOK_RETRY_BASE_MS").and_then(|v| v.parse().ok()) {
            self.webhook_retry_base_ms = v;
        }
    }

    /// Checks values a typo could break.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            anyhow::bail!("name must not be empty");
        }
        self.default_currency()?;
        Ok(())
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
             # libp2p listen multiaddrs for partner connections.\n\
             p2p = [{p2p}]\n\n\
             # ISO 4217 currency for imported amounts that name none.\n\
             default_currency = {:?}\n\n\
             # First wait before a failed webhook delivery is retried (ms); it doubles each time.\n\
             webhook_retry_base_ms = {}\n",
            self.name, self.http, self.default_currency, self.webhook_retry_base_ms
        )
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
        back.apply_env(|k| (k == "COSELL_HTTP").then(|| "127.0.0.1:0".to_string()));
        assert_eq!(back.http, "127.0.0.1:0");
        assert_eq!(back.p2p, vec![P2P_ADDR_DEFAULT.to_string()]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("name = \"x\"\nhttpp = \"a\"\n").is_err());
    }
}
