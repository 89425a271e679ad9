//! The node's offline operations, run on a stopped node (a running daemon holds its
//! database's lock): `kms-node backup`, `restore` and `rotate-password`.
//!
//! A backup is kms-storage's encrypted, manifest-checked backup
//! ([`kms_storage::BackupManifest`]: a snapshot sealed under a key derived from the DEK,
//! the wrapped DEK, a SHA-256 and HMAC manifest) packed into one file so it can be
//! copied off the host as a unit. The file is a JSON bundle
//! `{"format": "mpc-kms-node-backup-file", "version": 1, "files": [{"name", "hex"}]}`
//! of the backup directory's files; it adds no protection of its own and needs none:
//! restoring unpacks it and lets [`kms_storage::NodeStorage::restore`] check every
//! file's hash, the password, the manifest's MAC and every shard record before anything
//! is written.
//!
//! Every operation is audited in the node's own log: BACKUP_CREATE, BACKUP_RESTORE, and
//! CONFIG_CHANGE for a password rotation.

use crate::node::{audit_node_event, open_storage, DaemonError, NodeHome};
use kms_core::audit::AuditEventType;
use kms_core::{NodeId, StorageError};
use kms_storage::files::{create_private_dir, write_private_atomic};
use kms_storage::keyring::DekFile;
use kms_storage::{BackupManifest, NodeStorage};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const BUNDLE_FORMAT: &str = "mpc-kms-node-backup-file";
const BUNDLE_VERSION: u32 = 1;
/// A backup file larger than this is refused before it is parsed.
const MAX_BUNDLE_BYTES: u64 = 4 << 30;

#[derive(Serialize, Deserialize)]
struct Bundle {
    format: String,
    version: u32,
    files: Vec<BundleFile>,
}

#[derive(Serialize, Deserialize)]
struct BundleFile {
    name: String,
    hex: String,
}

fn storage_err(node: &NodeId) -> impl Fn(StorageError) -> DaemonError + '_ {
    move |source| DaemonError::Storage {
        node: node.clone(),
        source,
    }
}

fn backup_err(node: &NodeId, path: &Path, reason: impl Into<String>) -> DaemonError {
    DaemonError::Backup {
        node: node.clone(),
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// A scratch directory beside `near` (0700), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn beside(near: &Path, node: &NodeId) -> Result<Scratch, DaemonError> {
        let parent = near
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let name: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let dir = parent.join(format!(".kms-backup-{node}-{name}"));
        create_private_dir(&dir).map_err(storage_err(node))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Back the node up into the single file `out` (which must not exist), then audit
/// BACKUP_CREATE by `operator`. The node must be stopped.
pub async fn backup(
    home: &NodeHome,
    password: Zeroizing<String>,
    iterations: u32,
    out: &Path,
    operator: &str,
) -> Result<BackupManifest, DaemonError> {
    let node = home.node().clone();
    if out.exists() {
        return Err(backup_err(&node, out, "already exists; choose a new file"));
    }
    let storage = open_storage(home, password, iterations).await?.storage;
    let scratch = Scratch::beside(out, &node)?;
    let dir = scratch.0.join("backup");
    let manifest = storage.backup(&dir).map_err(storage_err(&node))?;
    let mut files = Vec::new();
    for f in &manifest.files {
        files.push(read_for_bundle(&node, &dir, &f.name)?);
    }
    files.push(read_for_bundle(&node, &dir, "manifest.json")?);
    let bundle = Bundle {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        files,
    };
    let json = serde_json::to_vec(&bundle).map_err(|e| backup_err(&node, out, e.to_string()))?;
    write_private_atomic(out, &json).map_err(storage_err(&node))?;
    audit_node_event(
        &storage,
        AuditEventType::BackupCreate,
        operator,
        &format!(
            "backup {} to {}: {} shards, {} audit records",
            manifest.backup_id,
            out.display(),
            manifest.shard_count,
            manifest.audit_records
        ),
    )
    .await?;
    Ok(manifest)
}

fn read_for_bundle(node: &NodeId, dir: &Path, name: &str) -> Result<BundleFile, DaemonError> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| backup_err(node, &path, e.to_string()))?;
    Ok(BundleFile {
        name: name.into(),
        hex: hex::encode(bytes),
    })
}

/// A bundle's file name: one plain component, so unpacking cannot write outside the
/// scratch directory.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Restore the node from the backup file `input` into its home, whose database must
/// not exist (remove it first: a restore never overwrites a live store), then audit
/// BACKUP_RESTORE by `operator`. `password` is the one the backup's DEK is wrapped
/// under. Nothing is written unless every check passes.
pub async fn restore(
    home: &NodeHome,
    password: Zeroizing<String>,
    iterations: u32,
    input: &Path,
    operator: &str,
) -> Result<BackupManifest, DaemonError> {
    let node = home.node().clone();
    let size = std::fs::metadata(input)
        .map_err(|e| backup_err(&node, input, e.to_string()))?
        .len();
    if size > MAX_BUNDLE_BYTES {
        return Err(backup_err(&node, input, format!("{size} bytes is too large")));
    }
    let bytes = std::fs::read(input).map_err(|e| backup_err(&node, input, e.to_string()))?;
    let bundle: Bundle = serde_json::from_slice(&bytes)
        .map_err(|e| backup_err(&node, input, format!("not a kms-node backup file: {e}")))?;
    if bundle.format != BUNDLE_FORMAT || bundle.version != BUNDLE_VERSION {
        return Err(backup_err(
            &node,
            input,
            format!(
                "format {} version {} (expected {BUNDLE_FORMAT} version {BUNDLE_VERSION})",
                bundle.format, bundle.version
            ),
        ));
    }
    let scratch = Scratch::beside(input, &node)?;
    let dir = scratch.0.join("backup");
    create_private_dir(&dir).map_err(storage_err(&node))?;
    for f in &bundle.files {
        if !safe_name(&f.name) {
            return Err(backup_err(&node, input, format!("bad file name {:?}", f.name)));
        }
        let content =
            hex::decode(&f.hex).map_err(|_| backup_err(&node, input, format!("{} is not hex", f.name)))?;
        write_private_atomic(&dir.join(&f.name), &content).map_err(storage_err(&node))?;
    }
    let config = home.storage_config(iterations);
    let manifest = NodeStorage::restore(&dir, &config, &password).map_err(storage_err(&node))?;
    drop(scratch);
    let storage = open_storage(home, password, iterations).await?.storage;
    audit_node_event(
        &storage,
        AuditEventType::BackupRestore,
        operator,
        &format!(
            "backup {} (made at {} ms) from {}: {} shards",
            manifest.backup_id,
            manifest.created_at_ms,
            input.display(),
            manifest.shard_count
        ),
    )
    .await?;
    Ok(manifest)
}

/// Re-wrap the node's DEK under `new` (fresh salt, the file's iteration count) after
/// proving `old`, then audit CONFIG_CHANGE by `operator`. The DEK itself is unchanged,
/// so every shard and secret stays as it is; the old password stops working. The node
/// must be stopped. A wrong `old` changes no file.
pub async fn rotate_password(
    home: &NodeHome,
    old: Zeroizing<String>,
    new: Zeroizing<String>,
    iterations: u32,
    operator: &str,
) -> Result<(), DaemonError> {
    let node = home.node().clone();
    if *old == *new {
        return Err(DaemonError::Password {
            node,
            reason: "the new password is the old one".into(),
        });
    }
    // Opening the store proves the old password and takes the database's lock, so no
    // daemon runs on this home while its DEK file is replaced.
    let storage = open_storage(home, old.clone(), iterations).await?.storage;
    let config = home.storage_config(iterations);
    let path = config.dek_path();
    let bytes = std::fs::read(&path).map_err(|e| DaemonError::Storage {
        node: node.clone(),
        source: StorageError::Backend(format!("{}: {e}", path.display())),
    })?;
    let file = DekFile::parse(node.as_str(), &bytes).map_err(storage_err(&node))?;
    let dek = file.unwrap_dek(node.as_str(), &old).map_err(storage_err(&node))?;
    let rewrapped =
        DekFile::wrap(node.as_str(), &new, file.iterations(), &dek).map_err(storage_err(&node))?;
    // Checked before the old file is replaced: the new one opens with the new password.
    DekFile::parse(node.as_str(), &rewrapped.to_bytes())
        .and_then(|f| f.unwrap_dek(node.as_str(), &new))
        .map_err(storage_err(&node))?;
    write_private_atomic(&path, &rewrapped.to_bytes()).map_err(storage_err(&node))?;
    audit_node_event(
        &storage,
        AuditEventType::ConfigChange,
        operator,
        "DEK password rotated (DEK re-wrapped, shards unchanged)",
    )
    .await
}
