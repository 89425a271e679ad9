//! Key metadata in the embedded database, one JSON document per key.

use super::{db_err, EmbeddedDb, KEY_METADATA};
use crate::memory::stale_revision;
use async_trait::async_trait;
use kms_core::ports::MetadataStore;
use kms_core::{ClusterId, KeyId, KeyMetadata, StorageError};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

/// Facts about the store itself: `"cluster_id"` -> the cluster's id. Created on first
/// write, so databases made before it need no migration.
const STORE_INFO: TableDefinition<&str, &[u8]> = TableDefinition::new("store_info");
const CLUSTER_ID: &str = "cluster_id";

/// A [`MetadataStore`] in an embedded database.
#[derive(Clone, Debug)]
pub struct EmbeddedMetadataStore {
    db: EmbeddedDb,
}

fn to_json(meta: &KeyMetadata) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(meta).map_err(|e| StorageError::Backend(format!("encode metadata: {e}")))
}

fn from_json(key: &str, bytes: &[u8]) -> Result<KeyMetadata, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt(format!("metadata of key {key}: {e}")))
}

impl EmbeddedMetadataStore {
    /// The metadata store in `db` (the node's, or a coordinator's own database).
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }

    /// Insert (`must_exist` false) or compare-and-swap update (`must_exist` true): the
    /// read of the stored revision and the write happen in one redb write transaction,
    /// and redb admits one writer at a time, so the swap is atomic.
    async fn write(&self, meta: &KeyMetadata, must_exist: bool) -> Result<(), StorageError> {
        let mut stored = meta.clone();
        if must_exist {
            stored.revision = meta.revision + 1;
        }
        let json = to_json(&stored)?;
        let key = meta.key_id.clone();
        let expected = meta.revision;
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                {
                    let mut t = txn.open_table(KEY_METADATA).map_err(db_err)?;
                    let found = t
                        .get(key.as_str())
                        .map_err(db_err)?
                        .map(|g| from_json(key.as_str(), g.value()))
                        .transpose()?;
                    match (found, must_exist) {
                        (Some(_), false) => return Err(StorageError::AlreadyExists(format!("key {key}"))),
                        (None, true) => return Err(StorageError::NotFound(format!("key {key}"))),
                        (Some(f), true) if f.revision != expected => {
                            return Err(stale_revision(&key, expected, f.revision))
                        }
                        _ => {}
                    }
                    t.insert(key.as_str(), json.as_slice()).map_err(db_err)?;
                }
                txn.commit().map_err(db_err)
            })
            .await
    }
}

#[async_trait]
impl MetadataStore for EmbeddedMetadataStore {
    async fn insert(&self, meta: &KeyMetadata) -> Result<(), StorageError> {
        self.write(meta, false).await
    }

    async fn get(&self, key_id: &KeyId) -> Result<Option<KeyMetadata>, StorageError> {
        let key = key_id.clone();
        self.db
            .blocking(move |db| {
                let txn = db.raw().begin_read().map_err(db_err)?;
                let t = txn.open_table(KEY_METADATA).map_err(db_err)?;
                let v = t.get(key.as_str()).map_err(db_err)?;
                v.map(|g| from_json(key.as_str(), g.value())).transpose()
            })
            .await
    }

    async fn update(&self, meta: &KeyMetadata) -> Result<(), StorageError> {
        self.write(meta, true).await
    }

    async fn delete(&self, key_id: &KeyId) -> Result<bool, StorageError> {
        let key = key_id.clone();
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                let removed = {
                    let mut t = txn.open_table(KEY_METADATA).map_err(db_err)?;
                    let r = t.remove(key.as_str()).map_err(db_err)?.is_some();
                    r
                };
                txn.commit().map_err(db_err)?;
                Ok(removed)
            })
            .await
    }

    async fn list(&self) -> Result<Vec<KeyMetadata>, StorageError> {
        self.db
            .blocking(|db| {
                let txn = db.raw().begin_read().map_err(db_err)?;
                let t = txn.open_table(KEY_METADATA).map_err(db_err)?;
                let mut out = Vec::new();
                for entry in t.iter().map_err(db_err)? {
                    let (k, v) = entry.map_err(db_err)?;
                    out.push(from_json(k.value(), v.value())?);
                }
                Ok(out)
            })
            .await
    }

    async fn cluster_id(&self) -> Result<Option<ClusterId>, StorageError> {
        self.db
            .blocking(|db| {
                let txn = db.raw().begin_read().map_err(db_err)?;
                let t = match txn.open_table(STORE_INFO) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                    Err(e) => return Err(db_err(e)),
                };
                let v = t.get(CLUSTER_ID).map_err(db_err)?;
                v.map(|g| parse_cluster_id(g.value())).transpose()
            })
            .await
    }

    async fn init_cluster_id(&self, id: &ClusterId) -> Result<ClusterId, StorageError> {
        let id = id.clone();
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                let recorded = {
                    let mut t = txn.open_table(STORE_INFO).map_err(db_err)?;
                    let found = t
                        .get(CLUSTER_ID)
                        .map_err(db_err)?
                        .map(|g| parse_cluster_id(g.value()))
                        .transpose()?;
                    match found {
                        Some(existing) => existing,
                        None => {
                            t.insert(CLUSTER_ID, id.as_str().as_bytes()).map_err(db_err)?;
                            id
                        }
                    }
                };
                txn.commit().map_err(db_err)?;
                Ok(recorded)
            })
            .await
    }
}

fn parse_cluster_id(bytes: &[u8]) -> Result<ClusterId, StorageError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| ClusterId::parse(s).ok())
        .ok_or_else(|| StorageError::Corrupt("metadata store: bad cluster id".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;

    #[tokio::test]
    async fn metadata_store_contract_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        let store = EmbeddedMetadataStore::new(EmbeddedDb::open(&path).unwrap());
        contract::metadata_store(&store, "emb").await;
        contract::metadata_cluster_id(&store).await;
        let m = contract::metadata("persist", 1);
        store.insert(&m).await.unwrap();
        drop(store);
        let store = EmbeddedMetadataStore::new(EmbeddedDb::open(&path).unwrap());
        assert_eq!(store.get(&m.key_id).await.unwrap(), Some(m));
        assert!(
            store.cluster_id().await.unwrap().is_some(),
            "the cluster id persists"
        );
    }
}
