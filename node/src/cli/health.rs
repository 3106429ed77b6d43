//! `cosell health`: asks the node serving a data directory whether it is ready (`/readyz`) or
//! alive (`--live`, `/healthz`); exit 0 or 1. Docker's `HEALTHCHECK` runs it, so the image
//! needs no curl. Also the pinned-certificate TLS the CLI uses to reach its own HTTPS node.

use crate::app::config::Config;
use crate::app::datadir::DataDir;
use anyhow::{anyhow, bail, Context, Result};
use std::sync::Arc;
use std::time::Duration;

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the check; `Ok` means healthy (printed on stdout), an error says why not.
pub fn run(dir: &DataDir, live: bool) -> Result<()> {
    dir.require_initialized()?;
    let base = node_url(dir)?;
    let route = if live { "/healthz" } else { "/readyz" };
    let agent = agent(dir, CHECK_TIMEOUT)?;
    match agent
        .get(&format!("{base}{route}"))
        .timeout(CHECK_TIMEOUT)
        .call()
    {
        Ok(_) => {
            println!("{}", if live { "alive" } else { "ready" });
            Ok(())
        }
        Err(ureq::Error::Status(status, response)) => {
            let body: serde_json::Value = response.into_json().unwrap_or_default();
            let said = body["status"].as_str().unwrap_or("no reason given");
            bail!(
                "the node at {base} is not {}: HTTP {status} ({said})",
                if live { "alive" } else { "ready" }
            )
        }
        Err(ureq::Error::Transport(t)) => bail!("cannot reach the node at {base}: {t}"),
    }
}

/// The running node's base URL from `node.json`.
fn node_url(dir: &DataDir) -> Result<String> {
    let path = dir.node_json();
    let text = std::fs::read_to_string(&path).map_err(|_| {
        anyhow!(
            "the node is not running (no {}; `cosell serve` writes it once ready)",
            path.display()
        )
    })?;
    let info: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    Ok(info["http"]
        .as_str()
        .ok_or_else(|| anyhow!("{} has no http address", path.display()))?
        .trim_end_matches('/')
        .to_string())
}

/// An HTTP agent for the node of `dir`. When the node serves HTTPS from its own `tls_cert`,
/// the agent accepts exactly that certificate (pinned: it is the node's own file, whatever
/// names it carries and whoever signed it) and no other.
pub fn agent(dir: &DataDir, connect_timeout: Duration) -> Result<ureq::Agent> {
    let builder = ureq::AgentBuilder::new().timeout_connect(connect_timeout);
    let config = Config::load(&dir.config())?;
    let Some((cert, _)) = config.tls_files(dir.root()) else {
        return Ok(builder.build());
    };
    let pem = std::fs::read(&cert)
        .with_context(|| format!("cannot read the TLS file {}", cert.display()))?;
    let leaf = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .ok_or_else(|| anyhow!("tls_cert {} holds no certificate", cert.display()))?
        .with_context(|| format!("tls_cert {} is not a valid PEM file", cert.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS setup failed")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            leaf: leaf.as_ref().to_vec(),
            provider,
        }))
        .with_no_client_auth();
    Ok(builder.tls_config(Arc::new(tls)).build())
}

/// Accepts one certificate, byte for byte, and checks the handshake signatures made with it.
#[derive(Debug)]
struct Pinned {
    leaf: Vec<u8>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_slice() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not this node's tls_cert".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
