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
    /// The hash of a waiting onboarding code (`app::onboarding`), if any.
    pub fn onboarding_code(&self) -> PathBuf {
        self.root.join("onboarding.code")
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
/// The temporary file is always a new file, created with `mode` (O_CREAT | O_EXCL | O_NOFOLLOW):
/// whatever was at its path (a file a crash left, a symlink someone planted) is removed first,
/// never written through, so the contents cannot be sent elsewhere nor made readable by others.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let tmp = temporary(path);
    let create = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(mode)
            .open(&tmp)
    };
    {
        let mut f = match create() {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Removing a symlink removes the link itself, not what it points to.
                fs::remove_file(&tmp)
                    .and_then(|()| create())
                    .with_context(|| format!("cannot write {}", tmp.display()))?
            }
            created => created.with_context(|| format!("cannot write {}", tmp.display()))?,
        };
        // The umask may have narrowed `mode` at creation; it is never widened beyond `mode`.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_never_writes_through_a_symlink_planted_at_its_temporary_file() {
        // Security review (issue 19, low): the temporary file was opened with create + truncate,
        // which follows a symlink: whoever could write the directory could make the node write
        // its key (or truncate any file the node may write) elsewhere.
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep me").expect("victim");
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).expect("mode");
        let key = dir.path().join("identity.key");
        std::os::unix::fs::symlink(&victim, temporary(&key)).expect("symlink");
        write_private(&key, b"secret").expect("write");
        assert_eq!(fs::read_to_string(&victim).expect("victim"), "keep me");
        assert_eq!(
            fs::metadata(&victim).expect("victim").permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(fs::read_to_string(&key).expect("key"), "secret");
        let meta = fs::symlink_metadata(&key).expect("key");
        assert!(meta.file_type().is_file(), "a plain file, not the symlink");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(!temporary(&key).exists());
    }
}
