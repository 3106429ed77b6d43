//! The host side of hosted workspaces (`hosting = true`; ARCHITECTURE.md "Hosted
//! workspaces"): every workspace is a node data directory under `DATA/workspaces/NAME/`, laid
//! out exactly as a plain node's, and runs the very services `serve` starts for a plain node
//! ([`start_node`]) in this process, with its own store, key, libp2p listener and router. The
//! host keeps no record of a workspace but its directory and, when suspended, a marker file
//! `DATA/workspaces/NAME.suspended` beside it.

use crate::app::config::Config;
use crate::app::datadir::DataDir;
use crate::app::identity::Identity;
use crate::cli::serve::{start_node, Running};
use crate::domain::error::DomainError;
use crate::http::workspaces::{HostFuture, Hosting, WorkspaceInfo};
use crate::store::Store;
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Workspaces started at once when the host starts (each binds a listener and opens a file).
const START_CONCURRENCY: usize = 64;
/// Database page cache of one workspace, in MiB: most are small companies, and a thousand of
/// them share one machine's memory.
const WORKSPACE_CACHE_MB: u64 = 8;

/// How long stopping a workspace waits for its services to let go of its store.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The workspaces of one host.
pub struct Host {
    root: PathBuf,
    base: String,
    p2p: Vec<String>,
    web_ui: Option<PathBuf>,
    slots: Mutex<BTreeMap<String, Slot>>,
    /// Create, suspend, delete, export and import one at a time.
    changing: tokio::sync::Mutex<()>,
}

struct Slot {
    node_id: String,
    running: Option<(Running, axum::Router)>,
}

impl Host {
    /// Starts every workspace under `dir/workspaces` that is not suspended; `base` is the
    /// host's HTTP base URL.
    pub async fn start(dir: &DataDir, config: &Config, base: &str) -> Result<Arc<dyn Hosting>> {
        let root = dir.root().join("workspaces");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        crate::cli::serve::raise_open_files_limit();
        let host = Arc::new(Host {
            root,
            base: base.to_string(),
            p2p: config.p2p.clone(),
            web_ui: crate::cli::serve::web_ui_dir(),
            slots: Mutex::new(BTreeMap::new()),
            changing: tokio::sync::Mutex::new(()),
        });
        let started = std::time::Instant::now();
        let names = host.names()?;
        let mut slots = Vec::new();
        // Opening a store is blocking file work (and an fsync): each start runs on a blocking
        // thread of its own, START_CONCURRENCY at a time, driving its async part from there.
        let runtime = tokio::runtime::Handle::current();
        for chunk in names.chunks(START_CONCURRENCY) {
            let starts: Vec<_> = chunk
                .iter()
                .map(|name| {
                    let (host, name, runtime) = (host.clone(), name.clone(), runtime.clone());
                    tokio::task::spawn_blocking(move || {
                        let slot = runtime.block_on(host.open(&name));
                        (name, slot)
                    })
                })
                .collect();
            for started in futures_util::future::join_all(starts).await {
                slots.push(started.context("a workspace's start panicked")?);
            }
        }
        for (name, slot) in slots {
            let slot = slot.with_context(|| format!("cannot start workspace {name}"))?;
            host.lock().insert(name, slot);
        }
        tracing::info!(
            workspaces = names.len(),
            ms = started.elapsed().as_millis() as u64,
            "workspaces started"
        );
        Ok(host)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The workspaces on disk, by name.
    fn names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.root)
            .with_context(|| format!("cannot read {}", self.root.display()))?
        {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if valid_name(&name).is_ok() && DataDir::new(entry.path()).is_initialized() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn dir(&self, name: &str) -> DataDir {
        DataDir::new(self.root.join(name))
    }

    fn suspended_marker(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.suspended"))
    }

    /// A workspace's slot: started unless suspended.
    async fn open(&self, name: &str) -> Result<Slot> {
        let dir = self.dir(name);
        let node_id = Identity::load(&dir.identity_key())?.node_id();
        let running = if self.suspended_marker(name).exists() {
            None
        } else {
            Some(self.run(name).await?)
        };
        Ok(Slot { node_id, running })
    }

    /// Starts workspace `name`'s node and builds its router.
    async fn run(&self, name: &str) -> Result<(Running, axum::Router)> {
        let dir = self.dir(name);
        let config = Config::load_file(&dir.config())?;
        let identity = Identity::load(&dir.identity_key())?;
        let store = Arc::new(Store::open_with_cache(
            &dir.database(),
            config.cache_bytes(),
        )?);
        let http = format!("{}/w/{name}", self.base);
        let running = start_node(&dir, &config, store, identity, &http).await?;
        let router = crate::http::app(running.state.clone(), self.web_ui.clone());
        Ok((running, router))
    }

    fn info(&self, name: &str, slot: &Slot) -> WorkspaceInfo {
        WorkspaceInfo {
            name: name.to_string(),
            node_id: slot.node_id.clone(),
            status: if slot.running.is_some() {
                "active"
            } else {
                "suspended"
            },
            http: format!("{}/w/{name}", self.base),
            p2p: slot
                .running
                .as_ref()
                .map(|(r, _)| r.state.node.p2p.clone())
                .unwrap_or_default(),
        }
    }

    fn info_of(&self, name: &str) -> Result<WorkspaceInfo, DomainError> {
        let slots = self.lock();
        let slot = slots.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.info(name, slot))
    }

    /// Takes a workspace's running node out of the host (requests to it answer 404 from now
    /// on) and stops it; answers its store, still open, for a last consistent copy.
    async fn stop(&self, name: &str) -> Result<Option<Arc<Store>>, DomainError> {
        let running = {
            let mut slots = self.lock();
            let slot = slots.get_mut(name).ok_or_else(|| not_found(name))?;
            slot.running.take()
        };
        let Some((running, router)) = running else {
            return Ok(None);
        };
        drop(router);
        let store = running.state.store.clone();
        running.stop().await;
        // The stopped services drop their handles on the store as their tasks wind down: wait
        // (bounded) until this is the last one, so a resume right after a suspend can open the
        // file again (it answered 500 "in use" before).
        let deadline = std::time::Instant::now() + STOP_WAIT;
        while Arc::strong_count(&store) > 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(Some(store))
    }

    /// Listen addresses for a new workspace: the host's TCP addresses, each on a port of its
    /// own (kept in the workspace's settings, so partners find it at the same one after a
    /// restart).
    fn fresh_p2p(&self) -> Result<Vec<String>, DomainError> {
        let mut addrs = Vec::new();
        for addr in &self.p2p {
            let parts: Vec<&str> = addr.split('/').collect();
            // ["", "ip4", IP, "tcp", PORT]
            if parts.len() == 5 && parts[3] == "tcp" && (parts[1] == "ip4" || parts[1] == "ip6") {
                let ip: std::net::IpAddr = parts[2]
                    .parse()
                    .map_err(|_| anyhow!("the host's p2p address {addr} has no IP address"))?;
                let port = std::net::TcpListener::bind((ip, 0))
                    .and_then(|l| l.local_addr())
                    .map_err(|e| anyhow!("no free port for a workspace on {ip}: {e}"))?
                    .port();
                addrs.push(format!("/{}/{}/tcp/{port}", parts[1], parts[2]));
            }
        }
        if addrs.is_empty() {
            return Err(DomainError::Unavailable(
                "the host listens for partners on no TCP address (p2p in cosell.toml), so a workspace has none to use"
                    .into(),
            ));
        }
        Ok(addrs)
    }

    /// Rewrites `dir`'s settings to listen on fresh host ports (an imported node).
    fn adopt_settings(&self, dir: &DataDir) -> Result<(), DomainError> {
        let mut config = Config::load_file(&dir.config())?;
        config.p2p = self.fresh_p2p()?;
        config.http = "127.0.0.1:0".into();
        config.cache_mb = WORKSPACE_CACHE_MB;
        config.hosting = false;
        config.tls_cert = None;
        config.tls_key = None;
        crate::app::datadir::write_atomic(&dir.config(), config.to_toml().as_bytes(), 0o644)?;
        Ok(())
    }

    async fn create_one(&self, name: String) -> Result<(WorkspaceInfo, String), DomainError> {
        let _one = self.changing.lock().await;
        valid_name(&name)?;
        let dir = self.dir(&name);
        if self.lock().contains_key(&name) || dir.root().exists() {
            return Err(DomainError::Conflict(format!(
                "a workspace named {name:?} exists already"
            )));
        }
        let mut config = Config::new(&name);
        config.p2p = self.fresh_p2p()?;
        config.http = "127.0.0.1:0".into();
        config.cache_mb = WORKSPACE_CACHE_MB;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir.root())
            .with_context(|| format!("cannot create {}", dir.root().display()))?;
        let written = (|| -> Result<String> {
            crate::cli::write_node_files(&dir, &config, false)?;
            crate::app::onboarding::issue(&dir)
        })();
        let code = match written {
            Ok(code) => code,
            Err(e) => {
                let _ = std::fs::remove_dir_all(dir.root());
                return Err(e.into());
            }
        };
        let slot = match self.open(&name).await {
            Ok(slot) => slot,
            Err(e) => {
                let _ = std::fs::remove_dir_all(dir.root());
                return Err(e.into());
            }
        };
        let info = self.info(&name, &slot);
        self.lock().insert(name.clone(), slot);
        tracing::info!(workspace = %name, node_id = %info.node_id, "workspace created");
        Ok((info, code))
    }

    async fn suspend_one(
        &self,
        name: String,
        suspended: bool,
    ) -> Result<WorkspaceInfo, DomainError> {
        let _one = self.changing.lock().await;
        self.info_of(&name)?;
        if suspended {
            crate::app::datadir::write_atomic(&self.suspended_marker(&name), b"", 0o600)?;
            self.stop(&name).await?;
        } else {
            let already = self.lock().get(&name).is_some_and(|s| s.running.is_some());
            if !already {
                let running = self.run(&name).await?;
                match self.lock().get_mut(&name) {
                    Some(slot) => slot.running = Some(running),
                    None => return Err(not_found(&name)),
                }
            }
            remove_if_there(&self.suspended_marker(&name))?;
        }
        tracing::info!(workspace = %name, suspended, "workspace status changed");
        self.info_of(&name)
    }

    async fn delete_one(&self, name: String) -> Result<(), DomainError> {
        let _one = self.changing.lock().await;
        self.info_of(&name)?;
        let store = self.stop(&name).await?;
        drop(store);
        self.lock().remove(&name);
        std::fs::remove_dir_all(self.dir(&name).root())
            .with_context(|| format!("cannot remove workspace {name}'s data"))?;
        remove_if_there(&self.suspended_marker(&name))?;
        tracing::info!(workspace = %name, "workspace deleted");
        Ok(())
    }

    async fn export_one(&self, name: String, out: PathBuf) -> Result<WorkspaceInfo, DomainError> {
        let _one = self.changing.lock().await;
        let info = self.info_of(&name)?;
        let target = DataDir::new(&out);
        if out.exists()
            && std::fs::read_dir(&out)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(DomainError::Conflict(format!(
                "{} exists and is not empty: export writes a new data directory",
                out.display()
            )));
        }
        let source = self.dir(&name);
        // Stopped first: nothing changes between the copy and the host forgetting it.
        let store = self.stop(&name).await?;
        let copied = (|| -> Result<()> {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            match &store {
                Some(store) => crate::store::backup::snapshot(store, &target.database())?,
                None => {
                    std::fs::copy(source.database(), target.database())
                        .context("cannot copy the database")?;
                }
            }
            std::fs::copy(source.identity_key(), target.identity_key())
                .context("cannot copy the identity key")?;
            std::fs::copy(source.config(), target.config()).context("cannot copy the settings")?;
            // The company's own admin token for its command line; the host keeps no copy.
            let exported = Store::open(&target.database())?;
            let token = crate::domain::auth::create_token(
                &exported,
                "admin token from workspace export",
                crate::domain::auth::Role::Admin,
                crate::clock::now_ms(),
            )?;
            drop(exported);
            crate::app::datadir::write_private(
                &target.admin_token(),
                format!("{}\n", token.as_str()).as_bytes(),
            )?;
            Ok(())
        })();
        drop(store);
        if let Err(e) = copied {
            // The workspace stays with the host, as it was.
            let _ = std::fs::remove_dir_all(&out);
            if let Ok(running) = self.run(&name).await {
                if let Some(slot) = self.lock().get_mut(&name) {
                    slot.running = Some(running);
                }
            }
            return Err(e.into());
        }
        self.lock().remove(&name);
        std::fs::remove_dir_all(source.root())
            .with_context(|| format!("cannot remove workspace {name}'s data after export"))?;
        remove_if_there(&self.suspended_marker(&name))?;
        tracing::info!(workspace = %name, dir = %out.display(), "workspace exported and forgotten");
        Ok(WorkspaceInfo {
            status: "exported",
            p2p: Vec::new(),
            ..info
        })
    }

    async fn import_one(&self, name: String, from: PathBuf) -> Result<WorkspaceInfo, DomainError> {
        let _one = self.changing.lock().await;
        valid_name(&name)?;
        let source = DataDir::new(&from);
        if !source.is_initialized() {
            return Err(DomainError::Invalid(format!(
                "{} is not a cosell data directory",
                from.display()
            )));
        }
        if source.node_json().exists() {
            return Err(DomainError::Conflict(format!(
                "a node is running in {} (node.json is there): stop it first",
                from.display()
            )));
        }
        let dir = self.dir(&name);
        if self.lock().contains_key(&name) || dir.root().exists() {
            return Err(DomainError::Conflict(format!(
                "a workspace named {name:?} exists already"
            )));
        }
        let node_id = Identity::load(&source.identity_key())?.node_id();
        if self.lock().values().any(|s| s.node_id == node_id) {
            return Err(DomainError::Conflict(format!(
                "node {node_id} is hosted here already"
            )));
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir.root())
            .with_context(|| format!("cannot create {}", dir.root().display()))?;
        let copied = (|| -> Result<(), DomainError> {
            // Opening the store proves no process holds it.
            let opened = Store::open(&source.database())
                .context("cannot open the node's database (is it still running?)")?;
            crate::store::backup::snapshot(&opened, &dir.database())?;
            drop(opened);
            std::fs::copy(source.identity_key(), dir.identity_key())
                .context("cannot copy the identity key")?;
            std::fs::copy(source.config(), dir.config()).context("cannot copy the settings")?;
            self.adopt_settings(&dir)
        })();
        if let Err(e) = copied {
            let _ = std::fs::remove_dir_all(dir.root());
            return Err(e);
        }
        let slot = match self.open(&name).await {
            Ok(slot) => slot,
            Err(e) => {
                let _ = std::fs::remove_dir_all(dir.root());
                return Err(e.into());
            }
        };
        let info = self.info(&name, &slot);
        self.lock().insert(name.clone(), slot);
        // The node now lives here: its old directory is not run again (two processes with one
        // key would split its history).
        std::fs::remove_dir_all(&from)
            .with_context(|| format!("imported, but cannot remove {}", from.display()))?;
        tracing::info!(workspace = %name, node_id = %info.node_id, "node imported as a workspace");
        Ok(info)
    }
}

impl Hosting for Host {
    fn list(&self) -> Vec<WorkspaceInfo> {
        self.lock()
            .iter()
            .map(|(name, slot)| self.info(name, slot))
            .collect()
    }
    fn create(&self, name: String) -> HostFuture<'_, (WorkspaceInfo, String)> {
        Box::pin(self.create_one(name))
    }
    fn set_suspended(&self, name: String, suspended: bool) -> HostFuture<'_, WorkspaceInfo> {
        Box::pin(self.suspend_one(name, suspended))
    }
    fn delete(&self, name: String) -> HostFuture<'_, ()> {
        Box::pin(self.delete_one(name))
    }
    fn export(&self, name: String, dir: PathBuf) -> HostFuture<'_, WorkspaceInfo> {
        Box::pin(self.export_one(name, dir))
    }
    fn import(&self, name: String, dir: PathBuf) -> HostFuture<'_, WorkspaceInfo> {
        Box::pin(self.import_one(name, dir))
    }
    fn onboarding(&self, name: String) -> HostFuture<'_, String> {
        Box::pin(async move {
            self.info_of(&name)?;
            Ok(crate::app::onboarding::issue(&self.dir(&name))?)
        })
    }
    fn router(&self, name: &str) -> Option<axum::Router> {
        self.lock()
            .get(name)
            .and_then(|s| s.running.as_ref())
            .map(|(_, router)| router.clone())
    }
    fn close(&self) {
        for slot in self.lock().values() {
            if let Some((running, _)) = &slot.running {
                running.state.lifecycle.stop();
                running.state.events.close();
            }
        }
    }
}

/// A workspace name: 1 to 63 of `a-z`, `0-9` and `-`, starting with a letter or digit (it is a
/// URL path segment and a directory name).
pub fn valid_name(name: &str) -> Result<(), DomainError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(DomainError::fields(vec![(
            "name",
            format!(
                "a workspace name is 1 to 63 of a-z, 0-9 and -, not starting with -; not {name:?}"
            ),
        )]))
    }
}

fn not_found(name: &str) -> DomainError {
    DomainError::NotFound(format!("no workspace named {name:?}"))
}

fn remove_if_there(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}
