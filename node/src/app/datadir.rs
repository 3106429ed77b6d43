//! The files of one node's data directory, in one place so every command agrees on them.

use anyhow::{bail, Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The paths inside a node's data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (not checked).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }
    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The node's ed25519 secret key (32 bytes, mode 0600).
    pub fn identity_key(&self) -> PathBuf {
        self.root.join("identity.key")
    }
    /// The redb database.
    pub fn database(&self) -> PathBuf {
        self.root.join("cosell.redb")
    }
    /// The node's settings.
    pub fn config(&self) -> PathBuf {
        self.root.join("cosell.toml")
    }
    /// The admin API token (mode 0600).
    pub fn admin_token(&self) -> PathBuf {
        self.root.join("admin.token")
    }
    /// Written by `serve` when ready: id, name, addresses.
    pub fn node_json(&self) -> PathBuf {
        self.root.join("node.json")
    }

    /// Every file `init` writes, and the temporary file each atomic write goes through
    /// ([`write_atomic`]), in the order `init` writes them: `init` refuses to start when any of
    /// them exists, so it never replaces a file it did not write.
    pub fn init_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.database()];
        for written in [self.admin_token(), self.config(), self.identity_key()] {
            files.push(temporary(&written));
            files.push(written);
        }
        files
    }

    /// Whether `init` has run here: the settings and the key, which every command needs, are
    /// there. (A directory holding only some of `init`'s files is not a node; `init` refuses it
    /// naming the first such file, see [`DataDir::init_files`].)
    pub fn is_initialized(&self) -> bool {
        self.identity_key().exists() && self.config().exists()
    }

    /// Fails with a clear sentence unless `init` has run here.
    pub fn require_initialized(&self) -> Result<()> {
        if !self.is_initialized() {
            bail!(
                "{} is not a cosell data directory (run `cosell init --name NAME --data {}` first)",
                self.root.display(),
                self.root.display()
            );
        }
        Ok(())
    }

    /// Reads the admin token.
    pub fn read_admin_token(&self) -> Result<String> {
        let path = self.admin_token();
        let token = fs::read_to_string(&path)
            .with_context(|| format!("cannot read the admin token {}", path.display()))?;
        Ok(token.trim().to_string())
    }
}

/// Writes a file readable by its owner only (0600), through a temporary file and a rename so a
/// crash never leaves half a key behind.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    write_atomic(path, contents, 0o600)
}

/// The temporary file [`write_atomic`] writes `path` through.
fn temporary(path: &Path) -> PathBuf {
    path.with_extension("tmp")
}

/// Writes a file through a temporary file and a rename (readers see the old or the new content).
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let tmp = temporary(path);
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
