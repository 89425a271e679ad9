//! The exported contract suite (`kms_storage::testing`, feature `testing`) used the way
//! a custodian uses it: from outside the crate, against this crate's public stores and
//! against a `ShardStore` written outside it.
#![cfg(feature = "testing")]

use async_trait::async_trait;
use kms_core::ports::{SessionId, ShardRecord, ShardStore};
use kms_core::{KeyId, NodeId, StorageError};
use kms_storage::testing;
use kms_storage::MemoryShardStore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A custom store: delegates to the memory store and counts calls (what a store of
/// one's own might wrap: a cache, a remote service).
#[derive(Default)]
struct Counting {
    inner: MemoryShardStore,
    calls: Arc<AtomicUsize>,
}

impl Counting {
    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl ShardStore for Counting {
    async fn put(&self, k: &KeyId, s: &ShardRecord) -> Result<(), StorageError> {
        self.tick();
        self.inner.put(k, s).await
    }
    async fn get(&self, k: &KeyId) -> Result<Option<ShardRecord>, StorageError> {
        self.tick();
        self.inner.get(k).await
    }
    async fn stage(&self, k: &KeyId, by: &SessionId, s: &ShardRecord) -> Result<(), StorageError> {
        self.tick();
        self.inner.stage(k, by, s).await
    }
    async fn commit_staged(&self, k: &KeyId, by: &SessionId, v: u64) -> Result<(), StorageError> {
        self.tick();
        self.inner.commit_staged(k, by, v).await
    }
    async fn discard_staged(&self, k: &KeyId, by: &SessionId) -> Result<(), StorageError> {
        self.tick();
        self.inner.discard_staged(k, by).await
    }
    async fn staged(&self, k: &KeyId) -> Result<Option<(SessionId, ShardRecord)>, StorageError> {
        self.tick();
        self.inner.staged(k).await
    }
    async fn delete(&self, k: &KeyId) -> Result<bool, StorageError> {
        self.tick();
        self.inner.delete(k).await
    }
    async fn list(&self) -> Result<Vec<KeyId>, StorageError> {
        self.tick();
        self.inner.list().await
    }
}

#[tokio::test]
async fn a_custom_shard_store_runs_the_suite() {
    let calls = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let (c, m) = (calls.clone(), made.clone());
    testing::shard_store_contract(move || {
        m.fetch_add(1, Ordering::Relaxed);
        let calls = c.clone();
        async move {
            Counting {
                inner: MemoryShardStore::new(),
                calls,
            }
        }
    })
    .await;
    assert!(made.load(Ordering::Relaxed) >= 6, "one fresh store per clause");
    assert!(calls.load(Ordering::Relaxed) > 50, "the suite drove the store");
}

/// A store that breaks the contract in one place: `get` of a staged key answers the
/// staged version early (mixing old and new shares). The suite must catch it.
struct LeaksStaged(MemoryShardStore);

#[async_trait]
impl ShardStore for LeaksStaged {
    async fn put(&self, k: &KeyId, s: &ShardRecord) -> Result<(), StorageError> {
        self.0.put(k, s).await
    }
    async fn get(&self, k: &KeyId) -> Result<Option<ShardRecord>, StorageError> {
        match self.0.staged(k).await? {
            Some((_, staged)) => Ok(Some(staged)),
            None => self.0.get(k).await,
        }
    }
    async fn stage(&self, k: &KeyId, by: &SessionId, s: &ShardRecord) -> Result<(), StorageError> {
        self.0.stage(k, by, s).await
    }
    async fn commit_staged(&self, k: &KeyId, by: &SessionId, v: u64) -> Result<(), StorageError> {
        self.0.commit_staged(k, by, v).await
    }
    async fn discard_staged(&self, k: &KeyId, by: &SessionId) -> Result<(), StorageError> {
        self.0.discard_staged(k, by).await
    }
    async fn staged(&self, k: &KeyId) -> Result<Option<(SessionId, ShardRecord)>, StorageError> {
        self.0.staged(k).await
    }
    async fn delete(&self, k: &KeyId) -> Result<bool, StorageError> {
        self.0.delete(k).await
    }
    async fn list(&self) -> Result<Vec<KeyId>, StorageError> {
        self.0.list().await
    }
}

#[tokio::test]
async fn the_suite_fails_a_store_that_shows_staged_shards_early() {
    let run = tokio::spawn(testing::shard_store_contract(|| async {
        LeaksStaged(MemoryShardStore::new())
    }));
    let err = run.await.expect_err("the suite must fail this store");
    let msg = err
        .into_panic()
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(msg.contains("a staged version is not current"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stores_run_every_suite() {
    testing::shard_store_contract(|| async { MemoryShardStore::new() }).await;
    testing::metadata_store_contract(|| async { kms_storage::MemoryMetadataStore::new() }).await;
    testing::audit_log_contract(|| async { kms_storage::MemoryAuditLog::new() }).await;
    testing::secret_vault_contract(|| async { kms_storage::MemorySecretVault::new() }).await;
}

#[cfg(feature = "embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_node_storage_runs_every_suite() {
    use kms_storage::{NodeStorage, NodeStorageConfig};
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    let open = || {
        let i = n.fetch_add(1, Ordering::Relaxed);
        let mut config =
            NodeStorageConfig::under_root(NodeId::new("tss1").unwrap(), dir.path().join(format!("n{i}")));
        config.pbkdf2_iterations = kms_storage::keyring::MIN_PBKDF2_ITERATIONS;
        NodeStorage::open_async(config, zeroize::Zeroizing::new("contract password".into()))
    };
    testing::shard_store_contract(|| {
        let o = open();
        async move { o.await.unwrap().shards() }
    })
    .await;
    testing::metadata_store_contract(|| {
        let o = open();
        async move { o.await.unwrap().metadata() }
    })
    .await;
    testing::audit_log_contract(|| {
        let o = open();
        async move { o.await.unwrap().audit() }
    })
    .await;
    testing::secret_vault_contract(|| {
        let o = open();
        async move { o.await.unwrap().vault() }
    })
    .await;
}
