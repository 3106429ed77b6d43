//! Backup and restore of a whole node: the store as of one read transaction, plus the identity
//! key, the settings, the admin token and the CRM connection (with its credential) and sync
//! state, in the framed, checksummed format of
//! [`crate::store::backup`]. `cosell backup` runs [`write_backup`] itself when the node is
//! stopped, and through `GET /api/v1/backup` (the same function, inside the node) while it
//! serves: redb admits one process, and a read transaction there is a consistent snapshot
//! while imports and partner syncs go on writing.

use crate::app::config::Config;
use crate::app::datadir::{write_atomic, write_private, DataDir};
use crate::app::identity::Identity;
use crate::store::backup::{self, Manifest, FILE_NAMES};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Writes a backup of the node in `dir`, whose store is `store`, to `out`. The snapshot goes
/// through a temporary redb file beside the database (removed again, also on failure).
pub fn write_backup(
    dir: &DataDir,
    store: &Store,
    now_ms: u64,
    out: &mut dyn Write,
) -> Result<(Manifest, u64)> {
    let identity = Identity::load(&dir.identity_key())?;
    let config_text = std::fs::read_to_string(dir.config())
        .with_context(|| format!("cannot read {}", dir.config().display()))?;
    let name = toml::from_str::<Config>(&config_text)
        .map(|c| c.name)
        .unwrap_or_default();
    let mut files = Vec::new();
    for name in FILE_NAMES {
        let path = dir.root().join(name);
        match std::fs::read(&path) {
            Ok(bytes) => files.push((name, bytes)),
            // The identity key and the settings are a node; the admin token may have been
            // moved away, and a node without a CRM has no CRM files.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && !matches!(name, "identity.key" | "cosell.toml") => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    let snapshot_path = dir.root().join(format!(
        ".backup-{}.redb.tmp",
        ulid::Ulid::new().to_string().to_lowercase()
    ));
    let result = (|| {
        backup::snapshot(store, &snapshot_path)?;
        let snapshot = Store::open(&snapshot_path)?;
        let [accounts, opportunities, deals, partners] = backup::totals(&snapshot)?;
        drop(snapshot);
        let mut contains = vec!["database".to_string()];
        contains.extend(files.iter().map(|(n, _)| n.to_string()));
        let manifest = Manifest {
            format: backup::format_for(&files),
            cosell_version: env!("CARGO_PKG_VERSION").to_string(),
            schema_version: crate::store::SCHEMA_VERSION,
            node_id: identity.node_id(),
            name,
            created_at_ms: now_ms,
            contains,
            accounts,
            opportunities,
            deals,
            partners,
        };
        let written = backup::write(&manifest, &files, &snapshot_path, out)?;
        Ok((manifest, written))
    })();
    let _ = std::fs::remove_file(&snapshot_path);
    result
}

/// Checks the backup `file` whole (format, every frame, checksum) without writing anything.
pub fn verify(file: &Path) -> Result<backup::Contents> {
    let source = file.display().to_string();
    let mut input = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {source}"))?,
    );
    backup::read(&source, &mut input, None)
}

/// Restores the backup `file` into `target`, which must not exist or be empty: first the whole
/// file is checked, then written; on any failure everything restore wrote is removed again.
/// The restored node has the backup's id; its run counter is moved past any run the original
/// may have made since the backup (invariant 5), its per-partner sync states are dropped (so
/// its partners send what changed since), and its store is migrated to this build.
pub fn restore(file: &Path, target: &DataDir, now_ms: u64) -> Result<Manifest> {
    let root = target.root();
    let created = match std::fs::read_dir(root) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: restore writes a new data directory; name a new or empty one",
                    root.display()
                );
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", root.display())),
    };
    let source = file.display().to_string();
    let contents = verify(file)?;
    backup::check_restorable(&source, &contents)?;
    if created {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_context(|| format!("cannot create {}", root.display()))?;
    }
    let result = (|| -> Result<Manifest> {
        // Second pass: the database into place (the checksum is checked again on the way).
        let db_path = target.database();
        let mut db = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&db_path)
            .with_context(|| format!("cannot create {}", db_path.display()))?;
        let mut input = std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {source}"))?,
        );
        let again = backup::read(&source, &mut input, Some(&mut db))?;
        db.sync_all()?;
        drop(db);
        for (name, bytes) in &again.files {
            let path = root.join(name);
            if name == "cosell.toml" {
                write_atomic(&path, bytes, 0o644)?;
            } else {
                write_private(&path, bytes)?;
            }
        }
        let identity = Identity::load(&target.identity_key())?;
        if identity.node_id() != again.manifest.node_id {
            bail!(
                "{source} is inconsistent: its identity key is node {}, its manifest says {}",
                identity.node_id(),
                again.manifest.node_id
            );
        }
        Config::load(&target.config())?;
        let store = Store::open(&db_path)?;
        crate::store::ensure_tables(&store)?;
        store.raise_run_counter(now_ms)?;
        backup::forget_sync_states(&store)?;
        Ok(again.manifest)
    })();
    if result.is_err() {
        if created {
            let _ = std::fs::remove_dir_all(root);
        } else if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    result
}
