//! The embedded default backend: one redb database per node, holding the node's
//! encrypted shards, and (for a node or a single-process deployment) key metadata and
//! the audit log.
//!
//! redb is a copy-on-write B-tree store with checksummed commits: a commit that
//! returned is on disk (`Durability::Immediate`, set explicitly on every write), and a
//! crash leaves the last committed state. Its calls block (a commit syncs the
//! file), so every call from an async method runs on tokio's blocking pool.

mod audit;
mod metadata;
mod node;
pub(crate) mod shards;
mod vault;

pub use audit::EmbeddedAuditLog;
pub use metadata::EmbeddedMetadataStore;
pub use node::{NodeStorage, NodeStorageConfig};
pub use shards::EncryptedShardStore;
pub use vault::EncryptedVault;

use crate::files;
use kms_core::StorageError;
use redb::{Database, Durability, TableDefinition, WriteTransaction};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
#[derive(Clone)]
pub struct EmbeddedDb {
    db: Arc<Database>,
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
            db: Arc::new(db),
            path: path.to_path_buf(),
        };
        let txn = me.begin_write()?;
        for t in STR_TABLES {
            txn.open_table(t).map_err(db_err)?;
        }
        txn.open_table(AUDIT_LOG).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(me)
    }

    /// Where the database file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn raw(&self) -> &Database {
        &self.db
    }

    /// A write transaction whose commit is durable when it returns.
    pub(crate) fn begin_write(&self) -> Result<WriteTransaction, StorageError> {
        begin_durable_write(&self.db)
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
