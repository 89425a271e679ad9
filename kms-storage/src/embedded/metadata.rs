//! Key metadata in the embedded database, one JSON document per key.

use super::{db_err, EmbeddedDb, KEY_METADATA};
use async_trait::async_trait;
use kms_core::ports::MetadataStore;
use kms_core::{KeyId, KeyMetadata, StorageError};
use redb::{ReadableDatabase, ReadableTable};

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

    async fn write(&self, meta: &KeyMetadata, must_exist: bool) -> Result<(), StorageError> {
        let json = to_json(meta)?;
        let key = meta.key_id.clone();
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                {
                    let mut t = txn.open_table(KEY_METADATA).map_err(db_err)?;
                    let exists = t.get(key.as_str()).map_err(db_err)?.is_some();
                    if exists && !must_exist {
                        return Err(StorageError::AlreadyExists(format!("key {key}")));
                    }
                    if !exists && must_exist {
                        return Err(StorageError::NotFound(format!("key {key}")));
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
        let m = contract::metadata("persist", 1);
        store.insert(&m).await.unwrap();
        drop(store);
        let store = EmbeddedMetadataStore::new(EmbeddedDb::open(&path).unwrap());
        assert_eq!(store.get(&m.key_id).await.unwrap(), Some(m));
    }
}
