//! `cosell backup FILE` and `cosell restore FILE`: the whole node in one checksummed file
//! ([`crate::app::backup`]). While the node serves, the backup comes from its API (the node
//! holds the database, and a read transaction there is a consistent snapshot); when it is
//! stopped, this process opens the store itself.

use crate::app::datadir::DataDir;
use crate::cli::client::Client;
use crate::clock::now_ms;
use crate::store::backup::Manifest;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `cosell backup FILE` (`-`: standard output). A file is written beside its final name,
/// checked whole, then renamed into place: FILE is a complete backup or untouched.
pub fn backup(dir: &DataDir, file: &Path) -> Result<()> {
    dir.require_initialized()?;
    if file.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let bytes = take(dir, &mut out)?;
        out.flush()?;
        eprintln!("backup written to standard output: {bytes} bytes");
        return Ok(());
    }
    if file.is_dir() {
        bail!(
            "{} is a directory; name the backup file to write",
            file.display()
        );
    }
    let partial = {
        let mut name = file.as_os_str().to_owned();
        name.push(".partial");
        std::path::PathBuf::from(name)
    };
    let result = (|| -> Result<(Manifest, u64)> {
        let _ = std::fs::remove_file(&partial);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut out = std::io::BufWriter::new(f);
        let bytes = take(dir, &mut out)?;
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        let contents = crate::app::backup::verify(&partial)
            .context("the backup just written does not read back")?;
        std::fs::rename(&partial, file)
            .with_context(|| format!("cannot move the backup to {}", file.display()))?;
        Ok((contents.manifest, bytes))
    })();
    let (m, bytes) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    eprintln!(
        "backup of node {} (\"{}\") written to {}: {} bytes; {} accounts, {} opportunities, \
         {} deals, {} partners; it holds {} (keep it as private as the data directory)",
        m.node_id,
        m.name,
        file.display(),
        bytes,
        m.accounts,
        m.opportunities,
        m.deals,
        m.partners,
        m.contains.join(", ")
    );
    Ok(())
}

/// Writes a backup of the node to `out`: from the running node's API, or from the store.
fn take(dir: &DataDir, out: &mut dyn Write) -> Result<u64> {
    if dir.node_json().exists() {
        let client = Client::for_data_dir(dir)?;
        return client.download("/backup", out);
    }
    let store = Store::open(&dir.database()).with_context(|| {
        "the node is not serving (no node.json), so the backup reads the database itself"
    })?;
    let (_, bytes) = crate::app::backup::write_backup(dir, &store, now_ms(), out)?;
    Ok(bytes)
}

/// `cosell restore FILE --data NEWDIR`.
pub fn restore(file: &Path, dir: &DataDir) -> Result<()> {
    let m = crate::app::backup::restore(file, dir, now_ms())?;
    println!("{}", m.node_id);
    eprintln!(
        "restored node \"{}\" ({} accounts, {} opportunities, {} deals, {} partners; backup of \
         cosell {}) into {}; start it with `cosell serve --data {}`: partners send it every \
         shared change made since the backup",
        m.name,
        m.accounts,
        m.opportunities,
        m.deals,
        m.partners,
        m.cosell_version,
        dir.root().display(),
        dir.root().display()
    );
    Ok(())
}
