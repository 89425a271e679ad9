//! The embedded default backend: one redb database per node, holding the node's
//! encrypted shards, and (for a node or a single-process deployment) key metadata and
//! the audit log.
//!
//! redb is a copy-on-write B-tree store with checksummed commits: a commit that
//! returned is on disk (`Durability::Immediate`, set explicitly on every write), and a
//! crash leaves the last committed state. Its calls block (a commit syncs the
//! file), so every call from an async method runs on tokio's blocking pool.

mod approvals;
mod audit;
mod coordinator;
pub mod home;
mod metadata;
mod node;
pub(crate) mod shards;
mod vault;

pub use approvals::EmbeddedApprovalStore;
pub use audit::EmbeddedAuditLog;
pub use coordinator::CoordinatorStorage;
pub use home::{HomeError, NodeHome, OpenedHome};
pub use metadata::EmbeddedMetadataStore;
pub use node::{NodeStorage, NodeStorageConfig};
pub use shards::EncryptedShardStore;
pub use vault::EncryptedVault;

use crate::files;
use kms_core::StorageError;
use redb::{Database, Durability, TableDefinition, WriteTransaction};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Current shard of each key: key id -> encoded record (see `shards`).
pub(crate) const SHARDS_CURRENT: TableDefinition<&str, &[u8]> = TableDefinition::new("shards_current");
/// Staged (refreshed, not yet committed) shard of each key.
pub(crate) const SHARDS_STAGED: TableDefinition<&str, &[u8]> = TableDefinition::new("shards_staged");
/// Key metadata: key id -> JSON.
pub(crate) const KEY_METADATA: TableDefinition<&str, &[u8]> = TableDefinition::new("key_metadata");
/// Audit log: seq -> JSON of the sealed record.
pub(crate) const AUDIT_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_log");

/// A node's other secrets (see `vault`): name -> sealed bytes.
pub(crate) const NODE_SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("node_secrets");

/// Names of the string-keyed tables, in the order backups list them.
pub(crate) const STR_TABLES: [TableDefinition<&str, &[u8]>; 4] =
    [SHARDS_CURRENT, SHARDS_STAGED, KEY_METADATA, NODE_SECRETS];

pub(crate) fn db_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("embedded database: {e}"))
}

/// An open embedded database, shared by the stores that use it.
///
/// The database sits behind a lock only so that [`EmbeddedDb::compact`] can get it
/// alone: every other use clones the inner `Arc` out and lets the lock go at once, so
/// nothing ever waits on redb while holding it.
#[derive(Clone)]
pub struct EmbeddedDb {
    db: Arc<RwLock<Arc<Database>>>,
    path: PathBuf,
}

impl std::fmt::Debug for EmbeddedDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedDb").field("path", &self.path).finish()
    }
}

impl EmbeddedDb {
    /// Open the database at `path`, creating it (mode 0600) and its tables if needed.
    /// The parent directory must exist. A database already open (in this or another
    /// process) is an error.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        // Created by us first so the file never exists with a wider mode.
        drop(files::open_private_file(path)?);
        let db = Database::builder()
            .create(path)
            .map_err(|e| StorageError::Backend(format!("cannot open database {}: {e}", path.display())))?;
        let me = Self {
            db: Arc::new(RwLock::new(Arc::new(db))),
            path: path.to_path_buf(),
        };
        let txn = me.begin_write()?;
        for t in STR_TABLES {
            txn.open_table(t).map_err(db_err)?;
        }
        txn.open_table(AUDIT_LOG).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        // Nothing else holds it yet: clear anything an earlier, missed compaction left.
        me.compact_blocking()?;
        Ok(me)
    }

    /// Where the database file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn raw(&self) -> Arc<Database> {
        match self.db.read() {
            Ok(g) => g.clone(),
            // A panic while compacting leaves the database itself consistent.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A write transaction whose commit is durable when it returns.
    pub(crate) fn begin_write(&self) -> Result<WriteTransaction, StorageError> {
        begin_durable_write(&self.raw())
    }

    /// Compact the file so that pages freed by earlier commits (superseded or deleted
    /// shard ciphertext, under a DEK that does not rotate) are reused or cut off the
    /// end of the file rather than left in it: redb is copy-on-write, so a commit
    /// frees old pages without erasing them. Returns whether it ran: it needs a moment
    /// with no transaction open in this process, waits up to about a second for one,
    /// and otherwise leaves the work to the next compaction (the next shard
    /// replacement or deletion, or the next open).
    pub(crate) fn compact_blocking(&self) -> Result<bool, StorageError> {
        for _ in 0..50 {
            {
                let mut slot = match self.db.write() {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                };
                if let Some(db) = Arc::get_mut(&mut slot) {
                    match db.compact() {
                        Ok(_) => return Ok(true),
                        Err(redb::CompactionError::TransactionInProgress) => {}
                        Err(e) => return Err(db_err(e)),
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(false)
    }

    /// [`EmbeddedDb::compact_blocking`] on tokio's blocking pool.
    pub(crate) async fn compact(&self) -> Result<bool, StorageError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.compact_blocking())
            .await
            .map_err(|e| StorageError::Backend(format!("storage task failed: {e}")))?
    }

    /// Run blocking database work on tokio's blocking pool.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&EmbeddedDb) -> Result<T, StorageError> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| StorageError::Backend(format!("storage task failed: {e}")))?
    }
}

pub(crate) fn begin_durable_write(db: &Database) -> Result<WriteTransaction, StorageError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_durability(Durability::Immediate).map_err(db_err)?;
    Ok(txn)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hardening_tests;
