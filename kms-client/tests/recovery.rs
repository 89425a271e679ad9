//! Recovery after a crash part-way through key generation: nothing usable-looking and no
//! orphan shard remains, and completed keys are untouched.

use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::ports::{MetadataStore, ShardRecord, ShardStore};
use kms_core::{Algorithm, KeyId, KeyMetadata, KeySpec, KeyStatus, NodeId, ShardHolder, ShardProperties};
use kms_storage::memory::{MemoryMetadataStore, MemoryShardStore};
use std::collections::BTreeSet;
use std::sync::Arc;
use zeroize::Zeroizing;

fn record() -> ShardRecord {
    ShardRecord {
        algorithm: Algorithm::Eddsa,
        version: 0,
        data: Zeroizing::new(vec![1, 2, 3]),
    }
}

/// While armed, loses every `ConfirmKey` and `DeleteShard`: a coordinator that died after
/// the holders stored their shards and before it confirmed or cleaned up.
struct DiesBeforeConfirm {
    bus: Arc<kms_transport::memory::InMemoryBus>,
    armed: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl kms_core::ports::NodeTransport for DiesBeforeConfirm {
    async fn call(
        &self,
        node: &NodeId,
        request: kms_core::rpc::NodeRequest,
    ) -> Result<kms_core::rpc::NodeResponse, kms_core::TransportError> {
        use kms_core::rpc::NodeRequest::{ConfirmKey, DeleteShard};
        if matches!(request, ConfirmKey { .. } | DeleteShard { .. })
            && self.armed.load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(kms_core::TransportError::Unreachable(
                node.clone(),
                "coordinator crashed".into(),
            ));
        }
        kms_core::ports::NodeTransport::call(&*self.bus, node, request).await
    }
}

async fn holders_of(stores: &[Arc<MemoryShardStore>], key: &KeyId) -> Vec<ShardHolder> {
    let mut out = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        if s.list().await.unwrap().contains(key) {
            out.push(ShardHolder {
                node: NodeId::new(format!("tss{}", i + 1)).unwrap(),
                party: out.len() as u16 + 1,
            });
        }
    }
    out
}

async fn all_keys(stores: &[Arc<MemoryShardStore>]) -> BTreeSet<KeyId> {
    let mut out = BTreeSet::new();
    for s in stores {
        out.extend(s.list().await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_removes_only_what_nodes_marked_pending() {
    let metadata = Arc::new(MemoryMetadataStore::new());
    let stores: Vec<Arc<MemoryShardStore>> = (0..4).map(|_| Arc::new(MemoryShardStore::new())).collect();
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let switch = armed.clone();
    let mut builder = InProcessCluster::builder()
        .nodes(4)
        .metadata(metadata.clone())
        .wrap_transport(move |bus| Arc::new(DiesBeforeConfirm { bus, armed: switch }));
    for (i, s) in stores.iter().enumerate() {
        builder = builder.shard_store(&format!("tss{}", i + 1), s.clone());
    }
    let cluster = builder.build();
    let client = KmsClient::new(cluster.clone());
    let good = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();

    // Two generations die after every holder stored its (pending) shard. The first
    // crash left its GENERATING record; the second one's record is gone too.
    armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let before = all_keys(&stores).await;
    assert!(client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .is_err());
    let crashed = all_keys(&stores)
        .await
        .difference(&before)
        .next()
        .cloned()
        .unwrap();
    let before = all_keys(&stores).await;
    assert!(client
        .generate_key(GenerateKey::new(Algorithm::Bls))
        .await
        .is_err());
    let orphaned = all_keys(&stores)
        .await
        .difference(&before)
        .next()
        .cloned()
        .unwrap();
    armed.store(false, std::sync::atomic::Ordering::SeqCst);
    metadata
        .insert(&KeyMetadata {
            key_id: crashed.clone(),
            spec: KeySpec::for_algorithm(Algorithm::Eddsa),
            shards: ShardProperties::default(),
            public_key: String::new(),
            holders: holders_of(&stores, &crashed).await,
            status: KeyStatus::Generating,
            epoch: 0,
            created_at: 0,
            updated_at: 0,
            revision: 0,
            lease: None,
        })
        .await
        .unwrap();
    let orphan_holders = holders_of(&stores, &orphaned).await;
    // A shard nobody marked (no metadata, no record on its node): never deleted.
    let unknown = KeyId::parse("unknown").unwrap();
    stores[3].put(&unknown, &record()).await.unwrap();

    let report = cluster.coordinator().recover().await.unwrap();
    assert_eq!(report.abandoned_generations, vec![crashed.clone()]);
    let mut orphans = report.orphan_shards.clone();
    orphans.sort();
    let expected: Vec<(NodeId, KeyId)> = orphan_holders
        .iter()
        .map(|h| (h.node.clone(), orphaned.clone()))
        .collect();
    assert_eq!(orphans, expected);
    assert_eq!(report.unknown_shards, vec![(node(4), unknown.clone())]);
    assert!(report.pending.is_empty());
    assert!(metadata.get(&crashed).await.unwrap().is_none());
    for s in &stores {
        let held = s.list().await.unwrap();
        assert!(!held.contains(&crashed) && !held.contains(&orphaned));
    }
    assert!(stores[3].list().await.unwrap().contains(&unknown), "kept");
    // The completed key is untouched and signs.
    assert_eq!(
        client.get_key(&good.key_id).await.unwrap().status,
        KeyStatus::Active
    );
    client.sign(&good.key_id, b"after recovery").await.unwrap();
}

fn node(i: usize) -> NodeId {
    NodeId::new(format!("tss{i}")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_waits_for_unreachable_holders() {
    let metadata = Arc::new(MemoryMetadataStore::new());
    let cluster = InProcessCluster::builder()
        .nodes(4)
        .metadata(metadata.clone())
        .build();
    let crashed = KeyId::parse("crashed").unwrap();
    metadata
        .insert(&KeyMetadata {
            key_id: crashed.clone(),
            spec: KeySpec::for_algorithm(Algorithm::Bls),
            shards: ShardProperties::default(),
            public_key: String::new(),
            holders: (1..=3)
                .map(|i| ShardHolder {
                    node: NodeId::new(format!("tss{i}")).unwrap(),
                    party: i as u16,
                })
                .collect(),
            status: KeyStatus::Generating,
            epoch: 0,
            created_at: 0,
            updated_at: 0,
            revision: 0,
            lease: None,
        })
        .await
        .unwrap();
    let tss2 = NodeId::new("tss2").unwrap();
    cluster.stop_node(&tss2);
    let report = cluster.coordinator().recover().await.unwrap();
    assert_eq!(report.pending, vec![crashed.clone()]);
    assert!(
        metadata.get(&crashed).await.unwrap().is_some(),
        "kept until every holder is reachable"
    );
    cluster.start_node(&tss2);
    let report = cluster.coordinator().recover().await.unwrap();
    assert_eq!(report.abandoned_generations, vec![crashed]);
}

/// Refuses `CommitRefresh` to one node, as if the coordinator crashed before reaching it.
struct LosesCommitTo {
    bus: Arc<kms_transport::memory::InMemoryBus>,
    node: NodeId,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl kms_core::ports::NodeTransport for LosesCommitTo {
    async fn call(
        &self,
        node: &NodeId,
        request: kms_core::rpc::NodeRequest,
    ) -> Result<kms_core::rpc::NodeResponse, kms_core::TransportError> {
        use std::sync::atomic::Ordering;
        if matches!(request, kms_core::rpc::NodeRequest::CommitRefresh { .. })
            && *node == self.node
            && self.armed.swap(false, Ordering::SeqCst)
        {
            return Err(kms_core::TransportError::Unreachable(
                node.clone(),
                "coordinator crashed".into(),
            ));
        }
        kms_core::ports::NodeTransport::call(&*self.bus, node, request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_refresh_is_rolled_forward() {
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls] {
        // Keys land on tss1..tss3 of a 3-node cluster; the commit to tss3 is lost.
        let last = NodeId::new("tss3").unwrap();
        let target = last.clone();
        let cluster = InProcessCluster::builder()
            .nodes(3)
            .wrap_transport(move |bus| {
                Arc::new(LosesCommitTo {
                    bus,
                    node: target,
                    armed: std::sync::atomic::AtomicBool::new(true),
                })
            })
            .build();
        let client = KmsClient::new(cluster.clone());
        let key = client.generate_key(GenerateKey::new(algorithm)).await.unwrap();
        assert!(
            client.refresh(&key.key_id).await.is_err(),
            "the commit to tss3 was lost"
        );
        assert_eq!(
            client.get_key(&key.key_id).await.unwrap().epoch,
            1,
            "the epoch moved at the commit point"
        );

        let report = cluster.coordinator().recover().await.unwrap();
        assert_eq!(report.rolled_forward, vec![(last.clone(), key.key_id.clone())]);
        // Every pair, including the rolled-forward holder, now signs with one epoch.
        for excluded in cluster.nodes().to_vec() {
            cluster.stop_node(&excluded);
            let sig = client.sign(&key.key_id, b"rolled forward").await.unwrap();
            assert!(kms_core::schemes::verify_signature(
                algorithm,
                &hex::decode(&key.public_key).unwrap(),
                b"rolled forward",
                &sig.signature
            ));
            cluster.start_node(&excluded);
        }
        assert!(
            cluster
                .coordinator()
                .recover()
                .await
                .unwrap()
                .rolled_forward
                .is_empty(),
            "idempotent"
        );
    }
}
