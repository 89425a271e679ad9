//! In-memory stores, for the simulator and tests. Nothing survives the process.

use async_trait::async_trait;
use kms_core::audit::{AuditEvent, AuditRecord};
use kms_core::ports::{AuditLog, MetadataStore, ShardRecord, ShardStore};
use kms_core::{KeyId, KeyMetadata, StorageError};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Shards in memory.
#[derive(Default)]
pub struct MemoryShardStore {
    shards: Mutex<BTreeMap<KeyId, (ShardRecord, Option<ShardRecord>)>>,
}

impl MemoryShardStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ShardStore for MemoryShardStore {
    async fn put(&self, key_id: &KeyId, shard: &ShardRecord) -> Result<(), StorageError> {
        let mut m = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        if m.contains_key(key_id) {
            return Err(StorageError::AlreadyExists(key_id.to_string()));
        }
        m.insert(key_id.clone(), (shard.clone(), None));
        Ok(())
    }
    async fn get(&self, key_id: &KeyId) -> Result<Option<ShardRecord>, StorageError> {
        Ok(self
            .shards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key_id)
            .map(|(s, _)| s.clone()))
    }
    async fn stage(&self, key_id: &KeyId, shard: &ShardRecord) -> Result<(), StorageError> {
        let mut m = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        let entry = m
            .get_mut(key_id)
            .ok_or_else(|| StorageError::NotFound(key_id.to_string()))?;
        entry.1 = Some(shard.clone());
        Ok(())
    }
    async fn commit_staged(&self, key_id: &KeyId, version: u64) -> Result<(), StorageError> {
        let mut m = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        let entry = m
            .get_mut(key_id)
            .ok_or_else(|| StorageError::NotFound(key_id.to_string()))?;
        match entry.1.take() {
            Some(s) if s.version == version => {
                entry.0 = s;
                Ok(())
            }
            other => {
                entry.1 = other;
                Err(StorageError::NotFound(format!(
                    "staged version {version} of {key_id}"
                )))
            }
        }
    }
    async fn discard_staged(&self, key_id: &KeyId) -> Result<(), StorageError> {
        if let Some(e) = self
            .shards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(key_id)
        {
            e.1 = None;
        }
        Ok(())
    }
    async fn delete(&self, key_id: &KeyId) -> Result<bool, StorageError> {
        Ok(self
            .shards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key_id)
            .is_some())
    }
    async fn list(&self) -> Result<Vec<KeyId>, StorageError> {
        Ok(self
            .shards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect())
    }
}

/// Metadata in memory.
#[derive(Default)]
pub struct MemoryMetadataStore {
    keys: Mutex<BTreeMap<KeyId, KeyMetadata>>,
}

impl MemoryMetadataStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl MetadataStore for MemoryMetadataStore {
    async fn insert(&self, meta: &KeyMetadata) -> Result<(), StorageError> {
        let mut m = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if m.contains_key(&meta.key_id) {
            return Err(StorageError::AlreadyExists(meta.key_id.to_string()));
        }
        m.insert(meta.key_id.clone(), meta.clone());
        Ok(())
    }
    async fn get(&self, key_id: &KeyId) -> Result<Option<KeyMetadata>, StorageError> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key_id)
            .cloned())
    }
    async fn update(&self, meta: &KeyMetadata) -> Result<(), StorageError> {
        let mut m = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let slot = m
            .get_mut(&meta.key_id)
            .ok_or_else(|| StorageError::NotFound(meta.key_id.to_string()))?;
        *slot = meta.clone();
        Ok(())
    }
    async fn delete(&self, key_id: &KeyId) -> Result<bool, StorageError> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key_id)
            .is_some())
    }
    async fn list(&self) -> Result<Vec<KeyMetadata>, StorageError> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect())
    }
}

/// Audit log in memory.
#[derive(Default)]
pub struct MemoryAuditLog {
    records: Mutex<Vec<AuditRecord>>,
}

impl MemoryAuditLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl AuditLog for MemoryAuditLog {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, StorageError> {
        let mut r = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let prev = r.last().map(|x| x.hash.clone()).unwrap_or_else(|| "0".repeat(64));
        let rec = AuditRecord {
            seq: r.len() as u64 + 1,
            event,
            prev_hash: prev,
            hash: String::new(),
        };
        r.push(rec.clone());
        Ok(rec)
    }
    async fn records(&self) -> Result<Vec<AuditRecord>, StorageError> {
        Ok(self.records.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
}
