//! `cosell serve`: opens the store, binds the HTTP API, writes `node.json` once ready, and stops
//! cleanly on SIGINT or SIGTERM (in-flight requests finish, the database closes, `node.json` goes).

use crate::app::config::Config;
use crate::app::datadir::{write_atomic, DataDir};
use crate::app::identity::Identity;
use crate::clock::Clock;
use crate::http::metrics::Metrics;
use crate::http::{self, AppState, NodeInfo};
use crate::store::Store;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `cosell serve`, overriding `cosell.toml` and the environment.
#[derive(Debug, Default, Clone)]
pub struct ServeOptions {
    /// HTTP listen address.
    pub http: Option<String>,
    /// libp2p listen multiaddrs.
    pub p2p: Vec<String>,
}

/// A node holds a connection per partner connected (a hub: 1,000 and more, two for a moment
/// when both sides dial at once), a database file, listeners and its HTTP clients' sockets;
/// hosting adds a file and a listener per workspace. The soft limit on open files is often
/// 1,024 of a hard limit of 500,000 or more: lift it to the hard one.
pub(crate) fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("cannot raise the limit on open files");
            }
        }
    }
}

/// Runs the node until a stop signal.
pub async fn serve(dir: &DataDir, options: ServeOptions) -> Result<()> {
    dir.require_initialized()?;
    fixed_mmap_threshold();
    raise_open_files_limit();
    let mut config = Config::load(&dir.config())?;
    if let Some(http) = options.http {
        config.http = http;
    }
    if !options.p2p.is_empty() {
        config.p2p = options.p2p;
    }
    // Bad or busy addresses fail before anything starts (and logs). No address at all would
    // start a node no partner can reach, whose invites could never be used.
    if config.p2p.is_empty() {
        anyhow::bail!(
            "no address to listen on for partners: set p2p in cosell.toml, COSELL_P2P or --p2p (e.g. /ip4/0.0.0.0/tcp/7601)"
        );
    }
    for addr in &config.p2p {
        let multiaddr = crate::net::listen_addr(addr)?;
        tcp_port_is_free(&multiaddr)
            .with_context(|| format!("cannot listen for partners on {addr}"))?;
    }
    // HTTPS files are read before anything starts, so a bad one stops `serve` at once.
    let tls = match config.tls_files(dir.root()) {
        Some((cert, key)) => Some(tls_config(&cert, &key)?),
        None => None,
    };
    let identity = Identity::load(&dir.identity_key())?;
    // The database first: a second `serve` on this directory is told the directory is in use,
    // not that the port is.
    let store = Arc::new(Store::open_with_cache(
        &dir.database(),
        config.cache_bytes(),
    )?);
    // Holding the database lock, no other `serve` runs here: a node.json left by a killed one
    // is stale and would point clients at a dead address if this start failed too.
    match std::fs::remove_file(dir.node_json()) {
        Ok(()) => tracing::info!("removed node.json left by a node that did not stop cleanly"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context("cannot remove the stale node.json"),
    }
    let listener = tokio::net::TcpListener::bind(&config.http)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", config.http))?;
    let http_addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let running = start_node(
        dir,
        &config,
        store,
        identity,
        &format!("{scheme}://{http_addr}"),
    )
    .await?;
    let mut state = running.state;
    let node = state.node.clone();
    let state_events = state.events.clone();
    let lifecycle = state.lifecycle.clone();
    if config.hosting {
        // Workspaces are reached under the host's public address (their SSO redirect URIs).
        let base = config.public_url.as_deref().unwrap_or(&node.http);
        let host =
            crate::cli::hosting::Host::start(dir, &config, base.trim_end_matches('/')).await?;
        state.hosting = Some(host);
    }
    let hosted = state.hosting.clone();
    let app = http::router(state, web_ui_dir());
    let node_json = serde_json::to_vec_pretty(&serde_json::json!({
        "id": node.id, "name": node.name, "http": node.http, "p2p": node.p2p,
    }))?;
    write_atomic(&dir.node_json(), &node_json, 0o644)?;
    tracing::info!(id = %node.id, http = %node.http, "node ready");
    notify_systemd("READY=1");
    let closing = state_events.clone();
    let delay = std::time::Duration::from_millis(config.shutdown_delay_ms);
    // On a stop signal: `/readyz` answers 503 at once, requests are still served for
    // `shutdown_delay_ms` (a load balancer takes the node out of rotation meanwhile), then open
    // event streams end, no new connection is taken and in-flight requests finish.
    let stopping = async move {
        stop_signal().await;
        notify_systemd("STOPPING=1");
        lifecycle.stop();
        if let Some(hosted) = &hosted {
            hosted.close();
        }
        if !delay.is_zero() {
            tracing::info!(delay_ms = delay.as_millis() as u64, "draining before stop");
            tokio::time::sleep(delay).await;
        }
        closing.close();
    };
    let served = match tls {
        None => axum::serve(listener, app)
            .with_graceful_shutdown(stopping)
            .await
            .map_err(anyhow::Error::from),
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                stopping.await;
                stopper.graceful_shutdown(None);
            });
            axum_server::from_tcp_rustls(listener.into_std()?, tls)?
                .handle(handle)
                .serve(app)
                .await
                .map_err(anyhow::Error::from)
        }
    };
    let _ = std::fs::remove_file(dir.node_json());
    served.context("the HTTP server failed")?;
    tracing::info!("node stopped");
    Ok(())
}

/// Large allocations (from 1 MiB) are mapped and given back to the system when freed. glibc's
/// default raises that threshold to the largest block freed so far, so after the first
/// password hash (Argon2 takes 19 MiB) every later one came from a malloc arena that keeps the
/// memory: a host with 100 workspaces grew by 17 MiB per workspace once each had signed a user
/// in (1,889 MiB; 148 MiB with the threshold fixed; BENCHMARKS.md "Hosted workspaces").
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters; called before the runtime's
    // worker threads allocate much, and glibc serializes it with allocations anyway.
    unsafe {
        if libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) != 1 {
            tracing::warn!("cannot set the allocator's mmap threshold");
        }
    }
}

/// One node's running services: the state its HTTP routes serve, and the tasks the composition
/// root spawned for it (stopped with [`Running::stop`] when a hosted workspace is suspended,
/// deleted or moved out).
pub struct Running {
    /// What the node's routes serve.
    pub state: AppState,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops the node's network (connections and listeners close), its background tasks and
    /// its event streams. The store closes once the last request using it ends.
    pub async fn stop(self) {
        self.state.lifecycle.stop();
        self.state.network.handle.stop().await;
        for task in self.tasks {
            task.abort();
        }
        self.state.events.close();
    }
}

/// Builds and starts every service of the node in `dir` (its store open as `store`): deals,
/// the network and its peers service, webhooks, registrations, mapping, e-mail. `http` is the
/// base URL its API and UI are reached at. `serve` runs one; a host (`hosting = true`) runs one
/// per workspace as well.
pub async fn start_node(
    dir: &DataDir,
    config: &Config,
    store: Arc<Store>,
    identity: Identity,
    http: &str,
) -> Result<Running> {
    crate::store::ensure_tables(&store)?;
    let run_counter = store.next_run_counter()?;
    // The one clock of the node's services: each is given it, none reads the time itself.
    let clock = Clock::system();
    let events = Arc::new(crate::domain::events::EventBus::new(clock.clone()));
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(crate::domain::webhooks::run_dispatcher(
        store.clone(),
        events.clone(),
        std::time::Duration::from_millis(config.webhook_retry_base_ms),
        clock.clone(),
        config.webhook_allow_private,
    )));
    let deals = Arc::new(crate::domain::deals::Deals::open(
        store.clone(),
        identity.secret_bytes(),
        run_counter,
        &config.name,
        clock.clone(),
    )?);
    deals.set_events(events.clone());
    deals.set_windows(config.windows());
    deals.set_auto_accept(config.auto_accept_invitations);
    {
        // Invitations a crash left unanswered, before partners connect (the first sync round
        // then carries the acceptances).
        let deals = deals.clone();
        let now = clock.now_ms();
        let accepted =
            tokio::task::spawn_blocking(move || deals.accept_waiting_invitations(now)).await?;
        if !accepted.is_empty() {
            tracing::info!(
                count = accepted.len(),
                "accepted invitations left waiting at the last stop"
            );
        }
    }
    // The network, and the peers service that answers it with the deal engine.
    let network = Arc::new(
        crate::domain::peers::start(
            crate::net::NetConfig {
                secret: identity.secret_bytes(),
                listen: config.p2p.clone(),
                external: config.external.clone(),
                relay: config.relay_limits(),
                request_timeout: std::time::Duration::from_secs(config.sync_request_timeout_secs),
            },
            store.clone(),
            deals,
            clock.clone(),
        )
        .await?,
    );
    if let Some(keep) = config.audit_retention() {
        tasks.push(tokio::spawn(crate::domain::audit_retention::run(
            store.clone(),
            identity.secret_bytes(),
            keep,
            clock.clone(),
        )));
    }
    tasks.push(tokio::spawn(crate::domain::registrations::watch(
        network.deals.clone(),
        network.handle.clone(),
        clock.clone(),
    )));
    tasks.push(tokio::spawn(crate::domain::program::tiers::watch(
        store.clone(),
        network.deals.clone(),
        events.clone(),
        network.handle.clone(),
        clock.clone(),
    )));
    tasks.push(tokio::spawn(crate::domain::plans::watch(
        network.deals.clone(),
        clock.clone(),
    )));
    tasks.push(tokio::spawn(crate::domain::leads::watch(
        network.deals.clone(),
        network.handle.clone(),
        clock.clone(),
    )));
    let mapping = crate::domain::mapping::Mapper::new(
        store.clone(),
        network.clone(),
        config.mapping(),
        clock.clone(),
    )?;
    mapping.spawn_responder();
    tasks.extend(mapping.spawn_schedule());
    let node = Arc::new(NodeInfo {
        id: identity.node_id(),
        name: config.name.clone(),
        version: env!("CARGO_PKG_VERSION"),
        http: http.to_string(),
        p2p: network.listen.clone(),
    });
    // E-mail notifications, when an SMTP server is configured.
    if let Some(mail) = config.mail(&node.http) {
        tasks.push(tokio::spawn(crate::domain::notify::run(
            store.clone(),
            events.clone(),
            network.deals.clone(),
            mail,
        )));
    }
    let crm = crate::domain::crm::Crm::new(
        dir.root().to_path_buf(),
        network.deals.clone(),
        network.handle.clone(),
        clock.clone(),
        config.default_currency()?,
    );
    tasks.extend(crm.spawn_schedule(events.clone()));
    let sign_in = Arc::new(config.sign_in(dir.root(), &node.http)?);
    let state = AppState {
        data: dir.clone(),
        lifecycle: Arc::new(crate::http::health::Lifecycle::default()),
        store,
        node,
        metrics: Arc::new(Metrics::default()),
        default_currency: config.default_currency()?,
        events,
        network,
        mapping,
        mail_configured: config.smtp_url.is_some(),
        crm,
        webhook_allow_private: config.webhook_allow_private,
        hosting: None,
        sign_in,
    };
    Ok(Running { state, tasks })
}

/// The HTTPS settings from the PEM files `cert` (chain, leaf first) and `key`; every error
/// names the file and what is wrong with it.
fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<axum_server::tls_rustls::RustlsConfig> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("cannot read the TLS file {}", path.display()))
    };
    let cert_pem = read(cert)?;
    let chain: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .with_context(|| format!("tls_cert {} is not a valid PEM file", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!(
            "tls_cert {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            cert.display()
        );
    }
    let key_pem = read(key)?;
    let private = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .with_context(|| format!("tls_key {} is not a valid PEM file", key.display()))?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "tls_key {} holds no private key (expected -----BEGIN PRIVATE KEY-----)",
                key.display()
            )
        })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup failed")?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .with_context(|| {
            format!(
                "tls_key {} does not fit tls_cert {}, or is of a kind not supported",
                key.display(),
                cert.display()
            )
        })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(server),
    ))
}

/// Tells systemd (a `Type=notify` unit: `NOTIFY_SOCKET` is set) how the node is doing:
/// `READY=1` once it serves, `STOPPING=1` on a stop signal. Without systemd, nothing happens.
fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = (|| -> std::io::Result<()> {
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let socket = UnixDatagram::unbound()?;
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name)?
            }
            None => SocketAddr::from_pathname(&path)?,
        };
        socket.send_to_addr(state.as_bytes(), &addr)?;
        Ok(())
    })();
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Where the web UI's static files are: `COSELL_WEB_UI`, else `web-ui/` beside the executable's
/// install prefix or the source tree.
pub fn web_ui_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("COSELL_WEB_UI") {
        return Some(PathBuf::from(dir));
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        for ancestor in exe.ancestors().skip(1).take(4) {
            candidates.push(ancestor.join("web-ui"));
            candidates.push(ancestor.join("share/cosell/web-ui"));
        }
    }
    candidates.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../web-ui"
    )));
    candidates
        .into_iter()
        .find(|c| c.join("index.html").is_file())
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("stop signal received");
}

/// Fails when `addr` is a TCP address whose port another process listens on. libp2p's TCP
/// listener sets SO_REUSEPORT, so a second node on the same port would start without a word
/// and the kernel would hand each partner connection to either node at random; a plain bind
/// (without that option) tells. Port 0 and non-TCP addresses pass.
fn tcp_port_is_free(addr: &libp2p::Multiaddr) -> Result<()> {
    use libp2p::multiaddr::Protocol;
    let mut parts = addr.iter();
    let ip: std::net::IpAddr = match parts.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    match parts.next() {
        Some(Protocol::Tcp(port)) if port != 0 => {
            let probe = std::net::TcpListener::bind((ip, port)).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    anyhow::anyhow!(
                        "port {port} is in use (is another cosell node running on this host? \
                         choose another --p2p port)"
                    )
                } else {
                    anyhow::Error::from(e)
                }
            })?;
            drop(probe);
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    fn open_files_limit() -> (libc::rlim_t, libc::rlim_t) {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct passed.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        (limit.rlim_cur, limit.rlim_max)
    }

    #[test]
    fn serving_lifts_the_soft_limit_on_open_files_to_the_hard_one() {
        let (_, hard) = open_files_limit();
        // A shell's usual soft limit (lowering it needs no privilege); the test process gets
        // its own limit back from the call under test.
        let low = libc::rlimit {
            rlim_cur: hard.min(1024),
            rlim_max: hard,
        };
        // SAFETY: setrlimit only reads the struct passed.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
        super::raise_open_files_limit();
        assert_eq!(open_files_limit(), (hard, hard));
    }
}
