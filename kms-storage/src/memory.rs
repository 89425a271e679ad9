//! In-memory stores for the simulator and tests. Nothing is persisted; shard bytes are
//! held as given (zeroized when dropped), not encrypted.

use async_trait::async_trait;
use kms_core::audit::{AuditAnchor, AuditEvent, AuditRecord, AuditSigner, SignedHead, GENESIS_HASH};
use kms_core::ports::SessionId;
use kms_core::ports::{AuditLog, MetadataStore, ShardRecord, ShardStore};
use kms_core::{ClusterId, KeyId, KeyMetadata, StorageError};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use zeroize::Zeroizing;

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, StorageError> {
    m.lock()
        .map_err(|_| StorageError::Backend("in-memory store lock poisoned".into()))
}

/// The error for staging a version that is not newer than the current one.
pub(crate) fn stale_version(key_id: &KeyId, staged: u64, current: u64) -> StorageError {
    StorageError::AlreadyExists(format!(
        "version {staged} of key {key_id}: current version is {current}, a staged one must be newer"
    ))
}

/// The error for committing a version that is not staged.
pub(crate) fn not_staged(key_id: &KeyId, version: u64) -> StorageError {
    StorageError::NotFound(format!("staged version {version} of key {key_id}"))
}

/// The error for a commit or discard naming another session than the one that staged.
pub(crate) fn other_session(key_id: &KeyId, version: u64) -> StorageError {
    StorageError::Conflict(format!(
        "staged version {version} of key {key_id} belongs to another refresh session"
    ))
}

/// The error for an update based on a stale revision (compare-and-swap lost).
pub(crate) fn stale_revision(key_id: &KeyId, expected: u64, found: u64) -> StorageError {
    StorageError::Conflict(format!(
        "metadata of key {key_id} changed: revision {found}, update was based on {expected}"
    ))
}

#[derive(Default)]
struct Slot {
    current: Option<ShardRecord>,
    staged: Option<(SessionId, ShardRecord)>,
}

/// A [`ShardStore`] in memory.
#[derive(Default)]
pub struct MemoryShardStore {
    slots: Mutex<BTreeMap<KeyId, Slot>>,
}

impl MemoryShardStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for MemoryShardStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryShardStore")
    }
}

#[async_trait]
impl ShardStore for MemoryShardStore {
    async fn put(&self, key_id: &KeyId, shard: &ShardRecord) -> Result<(), StorageError> {
        let mut slots = lock(&self.slots)?;
        let slot = slots.entry(key_id.clone()).or_default();
        if slot.current.is_some() {
            return Err(StorageError::AlreadyExists(format!("shard of key {key_id}")));
        }
        slot.current = Some(shard.clone());
        Ok(())
    }

    async fn get(&self, key_id: &KeyId) -> Result<Option<ShardRecord>, StorageError> {
        let slots = lock(&self.slots)?;
        Ok(slots.get(key_id).and_then(|s| s.current.clone()))
    }

    async fn stage(
        &self,
        key_id: &KeyId,
        session: &SessionId,
        shard: &ShardRecord,
    ) -> Result<(), StorageError> {
        let mut slots = lock(&self.slots)?;
        let slot = slots
            .get_mut(key_id)
            .filter(|s| s.current.is_some())
            .ok_or_else(|| StorageError::NotFound(format!("shard of key {key_id}")))?;
        let current = slot.current.as_ref().map_or(0, |c| c.version);
        if shard.version <= current {
            return Err(stale_version(key_id, shard.version, current));
        }
        slot.staged = Some((*session, shard.clone()));
        Ok(())
    }

    async fn commit_staged(
        &self,
        key_id: &KeyId,
        session: &SessionId,
        version: u64,
    ) -> Result<(), StorageError> {
        let mut slots = lock(&self.slots)?;
        let slot = slots
            .get_mut(key_id)
            .filter(|s| s.staged.as_ref().is_some_and(|(_, st)| st.version == version))
            .ok_or_else(|| not_staged(key_id, version))?;
        if slot.staged.as_ref().is_some_and(|(s, _)| s != session) {
            return Err(other_session(key_id, version));
        }
        slot.current = slot.staged.take().map(|(_, st)| st);
        Ok(())
    }

    async fn discard_staged(&self, key_id: &KeyId, session: &SessionId) -> Result<(), StorageError> {
        let mut slots = lock(&self.slots)?;
        if let Some(slot) = slots.get_mut(key_id) {
            match &slot.staged {
                Some((s, st)) if s != session => return Err(other_session(key_id, st.version)),
                _ => slot.staged = None,
            }
        }
        Ok(())
    }

    async fn staged(&self, key_id: &KeyId) -> Result<Option<(SessionId, ShardRecord)>, StorageError> {
        let slots = lock(&self.slots)?;
        Ok(slots.get(key_id).and_then(|s| s.staged.clone()))
    }

    async fn delete(&self, key_id: &KeyId) -> Result<bool, StorageError> {
        let mut slots = lock(&self.slots)?;
        Ok(slots
            .remove(key_id)
            .is_some_and(|s| s.current.is_some() || s.staged.is_some()))
    }

    async fn list(&self) -> Result<Vec<KeyId>, StorageError> {
        let slots = lock(&self.slots)?;
        Ok(slots
            .iter()
            .filter(|(_, s)| s.current.is_some())
            .map(|(k, _)| k.clone())
            .collect())
    }
}

/// A [`MetadataStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryMetadataStore {
    keys: Mutex<BTreeMap<KeyId, KeyMetadata>>,
    cluster: Mutex<Option<ClusterId>>,
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
        let mut keys = lock(&self.keys)?;
        if keys.contains_key(&meta.key_id) {
            return Err(StorageError::AlreadyExists(format!("key {}", meta.key_id)));
        }
        keys.insert(meta.key_id.clone(), meta.clone());
        Ok(())
    }

    async fn get(&self, key_id: &KeyId) -> Result<Option<KeyMetadata>, StorageError> {
        Ok(lock(&self.keys)?.get(key_id).cloned())
    }

    async fn update(&self, meta: &KeyMetadata) -> Result<(), StorageError> {
        let mut keys = lock(&self.keys)?;
        let slot = keys
            .get_mut(&meta.key_id)
            .ok_or_else(|| StorageError::NotFound(format!("key {}", meta.key_id)))?;
        if slot.revision != meta.revision {
            return Err(stale_revision(&meta.key_id, meta.revision, slot.revision));
        }
        *slot = meta.clone();
        slot.revision = meta.revision + 1;
        Ok(())
    }

    async fn delete(&self, key_id: &KeyId) -> Result<bool, StorageError> {
        Ok(lock(&self.keys)?.remove(key_id).is_some())
    }

    async fn list(&self) -> Result<Vec<KeyMetadata>, StorageError> {
        Ok(lock(&self.keys)?.values().cloned().collect())
    }

    async fn cluster_id(&self) -> Result<Option<ClusterId>, StorageError> {
        Ok(lock(&self.cluster)?.clone())
    }

    async fn init_cluster_id(&self, id: &ClusterId) -> Result<ClusterId, StorageError> {
        Ok(lock(&self.cluster)?.get_or_insert_with(|| id.clone()).clone())
    }
}

/// An [`AuditLog`] in memory. Appends are serialised by one lock, so the chain
/// cannot fork. Its head is signed like a persistent log's, by a key made at random
/// for the log's lifetime, so code written against [`AuditLog::anchor`] runs
/// unchanged on it.
#[derive(Debug)]
pub struct MemoryAuditLog {
    records: Mutex<Vec<AuditRecord>>,
    head: Mutex<SignedHead>,
    signer: AuditSigner,
}

impl Default for MemoryAuditLog {
    fn default() -> Self {
        let signer = AuditSigner::generate("memory", &mut rand_core::OsRng);
        Self {
            records: Mutex::new(Vec::new()),
            head: Mutex::new(signer.genesis()),
            signer,
        }
    }
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
        let mut records = lock(&self.records)?;
        let (seq, prev) = match records.last() {
            Some(r) => (r.seq + 1, r.hash.clone()),
            None => (1, GENESIS_HASH.to_string()),
        };
        let record = AuditRecord::seal(seq, event, &prev);
        let head = self.signer.sign(record.seq, &record.hash);
        records.push(record.clone());
        *lock(&self.head)? = head;
        Ok(record)
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, StorageError> {
        Ok(lock(&self.records)?.clone())
    }

    async fn anchor(&self) -> Result<AuditAnchor, StorageError> {
        let _records = lock(&self.records)?;
        Ok(self.signer.anchor(lock(&self.head)?.clone()))
    }
}

/// An [`ApprovalStore`](kms_core::policy::ApprovalStore) in memory: one process only
/// (a gateway that runs as several instances uses the MySQL one).
#[derive(Debug, Default)]
pub struct MemoryApprovalStore {
    requests: Mutex<BTreeMap<String, kms_core::policy::PendingRequest>>,
}

impl MemoryApprovalStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl kms_core::policy::ApprovalStore for MemoryApprovalStore {
    async fn insert(&self, request: &kms_core::policy::PendingRequest) -> Result<(), StorageError> {
        let mut map = lock(&self.requests)?;
        if map.contains_key(&request.request_id) {
            return Err(StorageError::AlreadyExists(format!(
                "approval request {}",
                request.request_id
            )));
        }
        map.insert(request.request_id.clone(), request.clone());
        Ok(())
    }

    async fn get(&self, request_id: &str) -> Result<Option<kms_core::policy::PendingRequest>, StorageError> {
        Ok(lock(&self.requests)?.get(request_id).cloned())
    }

    async fn compare_and_swap(
        &self,
        expected_version: u64,
        request: &kms_core::policy::PendingRequest,
    ) -> Result<bool, StorageError> {
        let mut map = lock(&self.requests)?;
        match map.get_mut(&request.request_id) {
            Some(stored) if stored.version == expected_version => {
                *stored = request.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;
    use kms_core::audit::{verify_links, AuditChainError};

    #[tokio::test]
    async fn shard_store_contract() {
        contract::shard_store_contract(|| async { MemoryShardStore::new() }).await;
    }

    #[tokio::test]
    async fn approval_store_contract() {
        contract::approval_store_contract(&MemoryApprovalStore::new()).await;
    }

    #[tokio::test]
    async fn metadata_store_contract() {
        contract::metadata_store_contract(|| async { MemoryMetadataStore::new() }).await;
        contract::metadata_store(&MemoryMetadataStore::new(), "mem").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn audit_log_contract() {
        contract::audit_log_contract(|| async { MemoryAuditLog::new() }).await;
    }

    #[tokio::test]
    async fn secret_vault_contract() {
        contract::secret_vault_contract(|| async { MemorySecretVault::new() }).await;
    }

    async fn filled_log() -> MemoryAuditLog {
        let log = MemoryAuditLog::new();
        for i in 1..=5 {
            log.append(contract::audit_event(i)).await.unwrap();
        }
        log
    }

    #[tokio::test]
    async fn audit_tampering_is_found() {
        let log = filled_log().await;
        lock(&log.records).unwrap()[2].event.operation = "nothing to see".into();
        let err = verify_links(&log.records().await.unwrap()).unwrap_err();
        assert_eq!(err, AuditChainError::Altered { position: 2, seq: 3 });

        let log = filled_log().await;
        lock(&log.records).unwrap().remove(1);
        let err = verify_links(&log.records().await.unwrap()).unwrap_err();
        assert!(
            matches!(err, AuditChainError::Missing { expected_seq: 2, .. }),
            "{err:?}"
        );

        let log = filled_log().await;
        lock(&log.records).unwrap().swap(3, 4);
        let err = verify_links(&log.records().await.unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                AuditChainError::OutOfOrder {
                    position: 3,
                    found_seq: 5,
                    ..
                }
            ),
            "{err:?}"
        );

        let log = filled_log().await;
        {
            let mut r = lock(&log.records).unwrap();
            let forged = AuditRecord::seal(2, contract::audit_event(66), &r[0].hash);
            r.insert(1, forged);
        }
        let err = verify_links(&log.records().await.unwrap()).unwrap_err();
        assert_eq!(err, AuditChainError::Inserted { position: 1, seq: 2 });
    }
}

/// A node's other secrets, in memory.
#[derive(Default)]
pub struct MemorySecretVault {
    secrets: Mutex<BTreeMap<String, Zeroizing<Vec<u8>>>>,
}

impl MemorySecretVault {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl kms_core::ports::SecretVault for MemorySecretVault {
    async fn put_secret(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        lock(&self.secrets)?.insert(name.to_string(), Zeroizing::new(data.to_vec()));
        Ok(())
    }
    async fn get_secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StorageError> {
        Ok(lock(&self.secrets)?.get(name).cloned())
    }
    async fn delete_secret(&self, name: &str) -> Result<bool, StorageError> {
        Ok(lock(&self.secrets)?.remove(name).is_some())
    }
}
