//! The backup file: one consistent snapshot of the store plus the data directory's small files
//! (identity key, settings, admin token, the CRM connection and its sync state), framed with a header, a format version and a SHA-256
//! checksum, so a restore can tell a complete backup from a truncated or damaged one before it
//! writes anything. Layout (`docs/operations.md`, "Backup file format", says the same):
//!
//! ```text
//! "COSELL-BACKUP\n"   14 bytes, the magic
//! format version      u32 big-endian (FORMAT_VERSION)
//! frames, each:       kind (1 byte) ‖ length (u64 big-endian) ‖ that many bytes
//!   'M' manifest      JSON (Manifest), always first
//!   'F' file          name length (u16 BE) ‖ name ‖ contents  (one of FILE_NAMES)
//!   'D' database      a complete redb file holding every table, copied in one read transaction
//!   'E' end           SHA-256 of every byte before this frame; always last
//! ```
//!
//! The database travels as a redb file of the schema version that wrote it: a later cosell
//! opens it with [`Store::open`], which migrates it like any older data directory.

use super::{tables, Store, SCHEMA_VERSION};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

/// The first bytes of every backup.
pub const MAGIC: &[u8; 14] = b"COSELL-BACKUP\n";
/// The newest framing this build writes and reads: format 2 adds the CRM files to the names
/// of format 1 ([`format_for`]).
pub const FORMAT_VERSION: u32 = 2;
/// The data directory files a backup may carry; a restore writes no other name. Format 1 knows
/// the first [`FORMAT_1_FILES`]; `crm.json` holds the CRM credential (as secret as the identity
/// key), `crm-state.json` the sync cursors and what was written back (so a restored node goes
/// on incrementally and writes nothing back twice).
pub const FILE_NAMES: [&str; 5] = [
    "identity.key",
    "cosell.toml",
    "admin.token",
    "crm.json",
    "crm-state.json",
];
/// How many of [`FILE_NAMES`] format 1 knows.
const FORMAT_1_FILES: usize = 3;
/// Largest manifest or small file in a backup (they are a few hundred bytes).
const SMALL_FRAME_MAX: u64 = 1024 * 1024;

const KIND_MANIFEST: u8 = b'M';
const KIND_FILE: u8 = b'F';
const KIND_DATABASE: u8 = b'D';
const KIND_END: u8 = b'E';

/// What a backup says about itself, first thing in the file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// The cosell version that wrote it.
    pub cosell_version: String,
    /// The store's schema version ([`SCHEMA_VERSION`] of the writer).
    pub schema_version: u64,
    /// The node id the identity key in the backup belongs to.
    pub node_id: String,
    /// The company's name.
    pub name: String,
    /// When the snapshot was taken (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// What the backup holds: "database" and the names of [`FILE_NAMES`] it carries.
    pub contains: Vec<String>,
    /// Record totals at the snapshot, for the restore's summary.
    pub accounts: u64,
    /// Opportunities at the snapshot.
    pub opportunities: u64,
    /// Shared deals at the snapshot.
    pub deals: u64,
    /// Partners at the snapshot.
    pub partners: u64,
}

/// What [`read`] found in a complete, intact backup.
#[derive(Debug)]
pub struct Contents {
    /// The manifest.
    pub manifest: Manifest,
    /// The small files, by name.
    pub files: Vec<(String, Vec<u8>)>,
    /// Size of the database in bytes.
    pub database_bytes: u64,
}

/// Copies the store, as of one read transaction, into a new redb file at `path` (which must
/// not exist). Writers go on meanwhile; none of their later commits is in the copy.
pub fn snapshot(store: &Store, path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let copy = redb::Database::create(path)
        .with_context(|| format!("cannot create the snapshot database {}", path.display()))?;
    let from = store.read()?;
    let to = copy.begin_write()?;
    tables::copy_all(&from, &to)?;
    to.commit()?;
    Ok(())
}

/// The marker that asks for the database at `db` to be rewritten at its next open.
fn rewrite_marker(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".rewrite");
    std::path::PathBuf::from(name)
}

/// Asks for the database file at `db` to be rewritten at its next open ([`rewrite`]).
pub fn ask_rewrite(db: &Path) -> Result<()> {
    std::fs::write(rewrite_marker(db), b"asked by an erasure\n")
        .with_context(|| format!("cannot write {}", rewrite_marker(db).display()))
}

/// Whether a rewrite of the database at `db` was asked for.
pub fn rewrite_asked(db: &Path) -> bool {
    rewrite_marker(db).exists()
}

/// Rewrites the open `store`'s file: every table is copied into a new file ([`snapshot`]),
/// which replaces the old one, so no page the old file freed (which may hold erased values)
/// survives; then opens it again. The old file is replaced only by a complete copy.
pub fn rewrite(store: Store, cache_bytes: usize) -> Result<Store> {
    let path = store.path().to_path_buf();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".rewriting");
    let tmp = std::path::PathBuf::from(tmp);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", tmp.display())),
    }
    snapshot(&store, &tmp)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", tmp.display()))?;
    drop(store);
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("cannot replace {} by its rewrite", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    std::fs::remove_file(rewrite_marker(&path))
        .with_context(|| format!("cannot remove {}", rewrite_marker(&path).display()))?;
    tracing::info!(database = %path.display(), "rewrote the database file after an erasure");
    Store::open_with_cache(&path, cache_bytes)
}

/// Record totals of a snapshot, for the manifest.
pub fn totals(store: &Store) -> Result<[u64; 4]> {
    use redb::ReadableTableMetadata;
    let txn = store.read()?;
    let len = |n: Option<u64>| n.unwrap_or(0);
    Ok([
        len(super::open_table_if_exists(&txn, tables::ACCOUNTS)?
            .map(|t| t.len())
            .transpose()?),
        len(super::open_table_if_exists(&txn, tables::OPPORTUNITIES)?
            .map(|t| t.len())
            .transpose()?),
        len(super::open_table_if_exists(&txn, tables::DEALS)?
            .map(|t| t.len())
            .transpose()?),
        len(super::open_table_if_exists(&txn, tables::PARTNERS)?
            .map(|t| t.len())
            .transpose()?),
    ])
}

/// The oldest format that can carry `files` (so a backup without a CRM connection still
/// restores on a build that reads format 1 only).
pub fn format_for<T>(files: &[(&str, T)]) -> u32 {
    if files
        .iter()
        .all(|(n, _)| FILE_NAMES[..FORMAT_1_FILES].contains(n))
    {
        1
    } else {
        FORMAT_VERSION
    }
}

/// Writes a backup: the manifest, `files`, then the database snapshot at `snapshot_path`
/// (made by [`snapshot`]), then the checksum. Returns the bytes written.
pub fn write(
    manifest: &Manifest,
    files: &[(&str, Vec<u8>)],
    snapshot_path: &Path,
    out: &mut dyn Write,
) -> Result<u64> {
    let mut out = Hashing::new(out);
    out.write_all(MAGIC)?;
    out.write_all(&format_for(files).to_be_bytes())?;
    frame(&mut out, KIND_MANIFEST, &serde_json::to_vec(manifest)?)?;
    for (name, contents) in files {
        if !FILE_NAMES.contains(name) {
            bail!("{name} is not a file a backup carries");
        }
        let mut payload = Vec::with_capacity(2 + name.len() + contents.len());
        payload.extend_from_slice(&(name.len() as u16).to_be_bytes());
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(contents);
        frame(&mut out, KIND_FILE, &payload)?;
    }
    let mut db = std::fs::File::open(snapshot_path)
        .with_context(|| format!("cannot read {}", snapshot_path.display()))?;
    let len = db.metadata()?.len();
    out.write_all(&[KIND_DATABASE])?;
    out.write_all(&len.to_be_bytes())?;
    let copied = std::io::copy(&mut (&mut db).take(len), &mut out)?;
    if copied != len {
        bail!(
            "the snapshot {} changed while it was read",
            snapshot_path.display()
        );
    }
    let digest = out.hasher.clone().finalize();
    out.write_all(&[KIND_END])?;
    out.write_all(&32u64.to_be_bytes())?;
    out.write_all(&digest)?;
    out.flush()?;
    Ok(out.written)
}

fn frame(out: &mut dyn Write, kind: u8, payload: &[u8]) -> Result<()> {
    out.write_all(&[kind])?;
    out.write_all(&(payload.len() as u64).to_be_bytes())?;
    out.write_all(payload)?;
    Ok(())
}

/// Reads a backup from `input` to its end, checking the magic, the format version, every
/// frame and the checksum; the database bytes go to `database` (or nowhere: a check only).
/// `source` names the input in errors. Nothing is trusted before the checksum has matched:
/// callers write the database where a failure can remove it.
pub fn read(
    source: &str,
    input: &mut dyn Read,
    mut database: Option<&mut dyn Write>,
) -> Result<Contents> {
    let mut input = Reading {
        inner: input,
        hasher: Sha256::new(),
        offset: 0,
    };
    let mut magic = [0u8; 14];
    let got = input.fill(&mut magic)?;
    if got < MAGIC.len() && MAGIC.starts_with(&magic[..got]) {
        bail!("{source} is truncated: it ends after {got} bytes, inside the backup header");
    }
    if &magic != MAGIC {
        bail!("{source} is not a cosell backup (it does not begin with \"COSELL-BACKUP\")");
    }
    let mut version = [0u8; 4];
    input.exact(&mut version, source, "the backup header")?;
    let version = u32::from_be_bytes(version);
    if version > FORMAT_VERSION {
        bail!(
            "{source} was written by a newer cosell (backup format {version}; this build reads up to {FORMAT_VERSION}): restore it with that version or later"
        );
    }
    if version == 0 {
        bail!("{source} is corrupt: backup format 0 does not exist");
    }
    let mut manifest: Option<Manifest> = None;
    let mut files = Vec::new();
    let mut database_bytes = None;
    loop {
        let at = input.offset;
        let digest_before = input.hasher.clone().finalize();
        let mut head = [0u8; 9];
        let got = input.fill(&mut head)?;
        if got == 0 {
            bail!(
                "{source} is truncated: it ends at byte {at} without its checksum (the backup did not finish)"
            );
        }
        if got < head.len() {
            bail!(
                "{source} is truncated: it ends at byte {} inside a frame header",
                at + got as u64
            );
        }
        let kind = head[0];
        let mut len = [0u8; 8];
        len.copy_from_slice(&head[1..]);
        let len = u64::from_be_bytes(len);
        let what = match kind {
            KIND_MANIFEST => "the manifest",
            KIND_FILE => "a file",
            KIND_DATABASE => "the database",
            KIND_END => "the checksum",
            other => bail!("{source} is corrupt: unknown frame kind {other:#04x} at byte {at}"),
        };
        if manifest.is_none() && kind != KIND_MANIFEST {
            bail!("{source} is corrupt: {what} at byte {at} comes before the manifest");
        }
        match kind {
            KIND_END => {
                if len != 32 {
                    bail!("{source} is corrupt: the checksum frame at byte {at} has length {len}, not 32");
                }
                let mut stored = [0u8; 32];
                input.exact(&mut stored, source, what)?;
                if stored.as_slice() != digest_before.as_slice() {
                    bail!("{source} is corrupt: its SHA-256 checksum does not match its contents");
                }
                let mut rest = [0u8; 1];
                if input.fill(&mut rest)? != 0 {
                    bail!(
                        "{source} is corrupt: bytes follow the checksum at byte {}",
                        input.offset - 1
                    );
                }
                let Some(database_bytes) = database_bytes else {
                    bail!("{source} is corrupt: it holds no database");
                };
                let manifest = manifest.ok_or_else(|| anyhow!("{source} has no manifest"))?;
                return Ok(Contents {
                    manifest,
                    files,
                    database_bytes,
                });
            }
            KIND_DATABASE => {
                if database_bytes.is_some() {
                    bail!("{source} is corrupt: a second database at byte {at}");
                }
                let mut remaining = len;
                let mut buf = vec![0u8; 256 * 1024];
                while remaining > 0 {
                    let n = remaining.min(buf.len() as u64) as usize;
                    input.exact(&mut buf[..n], source, what)?;
                    if let Some(db) = database.as_mut() {
                        db.write_all(&buf[..n])?;
                    }
                    remaining -= n as u64;
                }
                database_bytes = Some(len);
            }
            _ => {
                if len > SMALL_FRAME_MAX {
                    bail!("{source} is corrupt: {what} at byte {at} claims {len} bytes");
                }
                let mut payload = vec![0u8; len as usize];
                input.exact(&mut payload, source, what)?;
                if kind == KIND_MANIFEST {
                    if manifest.is_some() {
                        bail!("{source} is corrupt: a second manifest at byte {at}");
                    }
                    manifest = Some(serde_json::from_slice(&payload).with_context(|| {
                        format!("{source} is corrupt: its manifest is not valid")
                    })?);
                } else {
                    if payload.len() < 2 {
                        bail!("{source} is corrupt: the file frame at byte {at} is too short");
                    }
                    let name_len = u16::from_be_bytes([payload[0], payload[1]]) as usize;
                    let name = payload
                        .get(2..2 + name_len)
                        .and_then(|n| std::str::from_utf8(n).ok())
                        .ok_or_else(|| anyhow!("{source} is corrupt: the file frame at byte {at} has no valid name"))?
                        .to_string();
                    if !FILE_NAMES.contains(&name.as_str()) {
                        bail!("{source} is corrupt: it carries a file named {name:?}, which is no data directory file");
                    }
                    files.push((name, payload[2 + name_len..].to_vec()));
                }
            }
        }
    }
}

/// Forgets what the store knew of each partner's copy of each deal (the per-peer sync states).
/// A restored store's states are as old as the backup, and both sides may believe the other
/// already holds everything: each would wait for the other and the changes made since the
/// backup would never come back. Without states, the first round with each partner compares
/// every deal afresh (as with a new partner) and fetches what is missing.
pub fn forget_sync_states(store: &Store) -> Result<()> {
    let txn = store.write()?;
    txn.delete_table(tables::SYNC_STATES)?;
    txn.open_table(tables::SYNC_STATES)?;
    txn.commit()?;
    Ok(())
}

/// Checks what a complete backup holds against this build: a newer schema is refused.
pub fn check_restorable(source: &str, contents: &Contents) -> Result<()> {
    let m = &contents.manifest;
    if m.schema_version > SCHEMA_VERSION {
        bail!(
            "{source} holds a database of schema version {} written by cosell {}; this build reads up to schema version {SCHEMA_VERSION}: restore it with cosell {} or later",
            m.schema_version,
            m.cosell_version,
            m.cosell_version
        );
    }
    for needed in ["identity.key", "cosell.toml"] {
        if !contents.files.iter().any(|(n, _)| n == needed) {
            bail!("{source} does not hold {needed}, which a node needs");
        }
    }
    Ok(())
}

/// A writer that hashes and counts what passes through.
struct Hashing<'a> {
    inner: &'a mut dyn Write,
    hasher: Sha256,
    written: u64,
}

impl<'a> Hashing<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts what it reads.
struct Reading<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    offset: u64,
}

impl Reading<'_> {
    /// Reads until `buf` is full or the input ends; the count read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("cannot read the backup"),
            }
        }
        self.hasher.update(&buf[..got]);
        self.offset += got as u64;
        Ok(got)
    }

    /// Reads exactly `buf.len()` bytes of `what`, or says where the input ended.
    fn exact(&mut self, buf: &mut [u8], source: &str, what: &str) -> Result<()> {
        let got = self.fill(buf)?;
        if got < buf.len() {
            bail!(
                "{source} is truncated: it ends at byte {} inside {what}",
                self.offset
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT_VERSION,
            cosell_version: "0.1.0".into(),
            schema_version: SCHEMA_VERSION,
            node_id: "12D3KooW".into(),
            name: "Acme".into(),
            created_at_ms: 1,
            contains: vec!["database".into(), "identity.key".into()],
            accounts: 0,
            opportunities: 0,
            deals: 0,
            partners: 0,
        }
    }

    fn sample() -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        super::super::ensure_tables(&store).unwrap();
        let snap = dir.path().join("snap.redb");
        snapshot(&store, &snap).unwrap();
        let mut out = Vec::new();
        let files = [
            ("identity.key", vec![7u8; 32]),
            ("cosell.toml", b"name = \"Acme\"\n".to_vec()),
        ];
        let n = write(&manifest(), &files, &snap, &mut out).unwrap();
        assert_eq!(n, out.len() as u64);
        (dir, out)
    }

    #[test]
    fn a_backup_reads_back_whole() {
        let (_dir, bytes) = sample();
        let mut db = Vec::new();
        let c = read("b", &mut bytes.as_slice(), Some(&mut db)).unwrap();
        assert_eq!(c.manifest, manifest());
        assert_eq!(c.files.len(), 2);
        assert_eq!(c.database_bytes, db.len() as u64);
        check_restorable("b", &c).unwrap();
    }

    #[test]
    fn a_backup_with_a_crm_connection_is_format_2_and_one_without_stays_format_1() {
        let (_dir, bytes) = sample();
        assert_eq!(bytes[14..18], 1u32.to_be_bytes());
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        super::super::ensure_tables(&store).unwrap();
        let snap = dir.path().join("snap.redb");
        snapshot(&store, &snap).unwrap();
        let files = [
            ("identity.key", vec![7u8; 32]),
            ("cosell.toml", b"name = \"Acme\"\n".to_vec()),
            ("crm.json", b"{}".to_vec()),
        ];
        let mut out = Vec::new();
        write(&manifest(), &files, &snap, &mut out).unwrap();
        assert_eq!(out[14..18], 2u32.to_be_bytes());
        let c = read("b", &mut out.as_slice(), None).unwrap();
        assert_eq!(c.files[2], ("crm.json".to_string(), b"{}".to_vec()));
    }

    #[test]
    fn every_truncation_is_refused_as_truncated() {
        let (_dir, bytes) = sample();
        for cut in (0..bytes.len()).step_by(97).chain([bytes.len() - 1, 1, 13]) {
            let err = read("b", &mut &bytes[..cut], None).unwrap_err().to_string();
            assert!(err.contains("is truncated"), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn a_flipped_byte_is_refused() {
        let (_dir, bytes) = sample();
        for at in [20usize, 200, bytes.len() / 2, bytes.len() - 3] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            let err = read("b", &mut bad.as_slice(), None)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("corrupt") || err.contains("truncated"),
                "byte {at}: {err}"
            );
        }
    }

    #[test]
    fn other_files_and_newer_versions_are_refused_clearly() {
        let err = read("x.csv", &mut b"name,domain\n".as_slice(), None).unwrap_err();
        assert!(err.to_string().contains("is not a cosell backup"), "{err}");
        let (_dir, mut bytes) = sample();
        bytes[14..18].copy_from_slice(&(FORMAT_VERSION + 1).to_be_bytes());
        let err = read("b", &mut bytes.as_slice(), None).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "newer cosell (backup format {}",
                FORMAT_VERSION + 1
            )),
            "{err}"
        );
        let (_dir, bytes) = sample();
        let mut c = read("b", &mut bytes.as_slice(), None).unwrap();
        c.manifest.schema_version = SCHEMA_VERSION + 1;
        let err = check_restorable("b", &c).unwrap_err();
        assert!(
            err.to_string()
                .contains("this build reads up to schema version"),
            "{err}"
        );
    }
}
