//! The storage review's lifecycle findings (H1 recovery, H2 concurrency, M4 destroy,
//! M5 restored backups), each demonstrated end to end on an in-process cluster and
//! checked with the schemes' standard verifiers.

use async_trait::async_trait;
use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::ports::NodeTransport;
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::{Algorithm, KeyId, KeyMetadata, KeyStatus, KmsError, NodeId, TransportError};
use kms_transport::memory::InMemoryBus;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zeroize::Zeroizing;

/// Passes every call to the bus; holds `CommitRefresh` to one node back for a while, so
/// the window in which holders disagree on the epoch is wide open.
struct SlowCommitTo {
    bus: Arc<InMemoryBus>,
    node: Option<NodeId>,
    delay: Duration,
}

#[async_trait]
impl NodeTransport for SlowCommitTo {
    async fn call(&self, node: &NodeId, request: NodeRequest) -> Result<NodeResponse, TransportError> {
        if matches!(request, NodeRequest::CommitRefresh { .. }) && self.node.as_ref() == Some(node) {
            tokio::time::sleep(self.delay).await;
        }
        NodeTransport::call(&*self.bus, node, request).await
    }
}

/// Network jitter that differs per run: messages of the first refresh session reach
/// tss1 late, those of the second reach tss2 late, so each holder sees the two runs
/// finish in a different order.
struct JitterByRun {
    bus: Arc<InMemoryBus>,
    runs: Mutex<Vec<kms_protocols::SessionId>>,
}

#[async_trait]
impl NodeTransport for JitterByRun {
    async fn call(&self, node: &NodeId, request: NodeRequest) -> Result<NodeResponse, TransportError> {
        let late = match &request {
            NodeRequest::StartRefresh { session, .. } => {
                let mut runs = self.runs.lock().unwrap();
                if !runs.contains(session) {
                    runs.push(*session);
                }
                None
            }
            NodeRequest::Deliver { session, .. } => {
                let runs = self.runs.lock().unwrap();
                let run = runs.iter().position(|s| s == session);
                match (run, node.as_str()) {
                    (Some(0), "tss1") | (Some(1), "tss2") => Some(Duration::from_millis(200)),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(d) = late {
            tokio::time::sleep(d).await;
        }
        NodeTransport::call(&*self.bus, node, request).await
    }
}

type BusSlot = Arc<Mutex<Option<Arc<InMemoryBus>>>>;

/// A transport wrapper that keeps a handle on the bus, so a test can ask nodes directly.
fn capture(slot: &BusSlot) -> impl FnOnce(Arc<InMemoryBus>) -> Arc<dyn NodeTransport> + 'static {
    let slot = slot.clone();
    move |bus| {
        *slot.lock().unwrap() = Some(bus.clone());
        bus
    }
}

async fn held_by(slot: &BusSlot, node: &NodeId) -> Vec<KeyId> {
    let bus = slot.lock().unwrap().clone().expect("bus captured");
    match NodeTransport::call(&*bus, node, NodeRequest::ListShards).await {
        Ok(NodeResponse::Shards { keys }) => keys,
        other => panic!("ListShards on {node}: {other:?}"),
    }
}

async fn open_persistent(dir: &Path, slot: &BusSlot) -> Result<Arc<InProcessCluster>, KmsError> {
    InProcessCluster::builder()
        .nodes(4)
        .persistent(dir, Zeroizing::new("review".to_string()))
        .pbkdf2_iterations(10_000)
        .wrap_transport(capture(slot))
        .open()
        .await
}

fn verifies(key: &KeyMetadata, message: &[u8], signature: &[u8]) -> bool {
    kms_core::schemes::verify_signature(
        key.spec.algo_type,
        &hex::decode(&key.public_key).unwrap(),
        message,
        signature,
    )
}

/// Sign with every subset of `t = 2` holders (the others stopped) and verify each.
async fn every_pair_signs(cluster: &Arc<InProcessCluster>, key: &KeyMetadata, message: &[u8]) {
    let client = KmsClient::new(cluster.clone());
    let holders: Vec<NodeId> = key.holders.iter().map(|h| h.node.clone()).collect();
    for (i, a) in holders.iter().enumerate() {
        for b in &holders[i + 1..] {
            let down: Vec<NodeId> = cluster
                .nodes()
                .iter()
                .filter(|n| *n != a && *n != b)
                .cloned()
                .collect();
            for n in &down {
                cluster.stop_node(n);
            }
            let sig = client.sign(&key.key_id, message).await;
            for n in &down {
                cluster.start_node(n);
            }
            let sig = sig.unwrap_or_else(|e| panic!("{a}+{b} cannot sign: {e}"));
            assert!(verifies(key, message, &sig.signature), "{a}+{b}: bad signature");
        }
    }
}

fn node(name: &str) -> NodeId {
    NodeId::new(name).unwrap()
}

async fn version_on(slot: &BusSlot, node: &NodeId, key: &KeyId) -> Option<u64> {
    let bus = slot.lock().unwrap().clone().expect("bus captured");
    let req = NodeRequest::ShardVersion { key_id: key.clone() };
    match NodeTransport::call(&*bus, node, req).await {
        Ok(NodeResponse::Version { version }) => version,
        other => panic!("ShardVersion on {node}: {other:?}"),
    }
}

/// Replace node `holder`'s data with the backup in `backup` (the node is not running).
fn restore(dir: &Path, holder: &NodeId, backup: &Path) {
    let node_dir = dir.join(holder.as_str());
    std::fs::remove_dir_all(node_dir.join("data")).unwrap();
    let mut config = kms_storage::NodeStorageConfig::under_root(holder.clone(), &node_dir);
    config.pbkdf2_iterations = 10_000;
    kms_storage::NodeStorage::restore(backup, &config, &Zeroizing::new("review".into())).unwrap();
}

/// H1: losing `coordinator.redb` must not cost a key. The keys come back (rebuilt from
/// what their holders know) and sign again; no shard is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_storage_h1_lost_coordinator_db_keeps_keys() {
    let dir = tempfile::tempdir().unwrap();
    let slot = BusSlot::default();
    let keys = {
        let cluster = open_persistent(dir.path(), &slot).await.unwrap();
        let client = KmsClient::new(cluster.clone());
        let mut keys = Vec::new();
        for algorithm in [Algorithm::Eddsa, Algorithm::Bls] {
            keys.push(client.generate_key(GenerateKey::new(algorithm)).await.unwrap());
        }
        // One refresh, so the rebuilt epoch is not trivially 0.
        keys[0] = client.refresh(&keys[0].key_id).await.unwrap();
        keys
    };
    // The captured bus keeps the nodes (and their open databases) alive.
    drop(slot);
    std::fs::remove_file(dir.path().join("coordinator").join("coordinator.redb")).unwrap();

    let slot = BusSlot::default();
    let cluster = open_persistent(dir.path(), &slot)
        .await
        .expect("reopening after losing the coordinator database");
    let client = KmsClient::new(cluster.clone());
    for key in &keys {
        for h in &key.holders {
            assert!(
                held_by(&slot, &h.node).await.contains(&key.key_id),
                "{}: shard of {} deleted",
                h.node,
                key.key_id
            );
        }
        let found = client
            .get_key(&key.key_id)
            .await
            .unwrap_or_else(|e| panic!("key {} lost: {e}", key.key_id));
        assert_eq!(found.public_key, key.public_key);
        assert_eq!(found.holders, key.holders);
        assert_eq!(found.spec, key.spec);
        assert_eq!(found.shards, key.shards);
        assert_eq!(found.epoch, key.epoch);
        // Rebuilt keys come back FROZEN: a lost database must not unfreeze a key.
        assert_eq!(found.status, KeyStatus::Frozen);
    }
    assert_eq!(client.list_keys().await.unwrap().len(), keys.len());
    let audit = cluster.audit_log().records().await.unwrap();
    for key in &keys {
        assert!(
            audit
                .iter()
                .any(|r| r.event.key_id.as_deref() == Some(key.key_id.as_str())
                    && r.event.audit_trail.contains("rebuilt")),
            "the rebuild of {} is audited",
            key.key_id
        );
        // An operator re-activates; the key signs with every pair of holders.
        let active = client.set_status(&key.key_id, KeyStatus::Active).await.unwrap();
        every_pair_signs(&cluster, &active, b"after losing the database").await;
    }
}

/// H1: a metadata store of another cluster is refused with a clear error, before
/// anything changes; the nodes keep every shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_storage_h1_foreign_metadata_is_refused() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let key = {
        let cluster = open_persistent(ours.path(), &BusSlot::default()).await.unwrap();
        KmsClient::new(cluster)
            .generate_key(GenerateKey::new(Algorithm::Eddsa))
            .await
            .unwrap()
    };
    {
        let cluster = open_persistent(theirs.path(), &BusSlot::default()).await.unwrap();
        KmsClient::new(cluster)
            .generate_key(GenerateKey::new(Algorithm::Bls))
            .await
            .unwrap();
    }
    let db = |d: &Path| d.join("coordinator").join("coordinator.redb");
    std::fs::copy(db(theirs.path()), db(ours.path())).unwrap();
    let slot = BusSlot::default();
    // Two independent defences refuse a foreign store: its audit head is signed by another
    // coordinator's key (checked when the log opens), and its cluster id differs from the
    // nodes' (checked by recovery). Whichever runs first must refuse, saying why.
    match open_persistent(ours.path(), &slot).await {
        Err(KmsError::MetadataMismatch { reason, .. }) => {
            assert!(reason.contains("cluster"), "{reason}")
        }
        Err(e @ KmsError::Storage(kms_core::StorageError::Corrupt(_))) => {
            let text = e.to_string();
            assert!(
                text.contains("audit log") && text.contains("does not verify"),
                "{text}"
            )
        }
        Err(e) => panic!("expected MetadataMismatch or a refused audit head, got {e}"),
        Ok(_) => panic!("a foreign metadata store was accepted"),
    }
    // Copy our own database back: everything is still there and signs.
    drop(slot);
    std::fs::remove_file(db(ours.path())).unwrap();
    let slot = BusSlot::default();
    let cluster = open_persistent(ours.path(), &slot).await.unwrap();
    for h in &key.holders {
        assert!(held_by(&slot, &h.node).await.contains(&key.key_id));
    }
    let client = KmsClient::new(cluster.clone());
    let key = client.set_status(&key.key_id, KeyStatus::Active).await.unwrap();
    every_pair_signs(&cluster, &key, b"ours").await;
}

/// H2: two refreshes of one key at once commit one epoch between them; every signer
/// subset still signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_storage_h2_concurrent_refreshes_commit_one_epoch() {
    let cluster = InProcessCluster::builder()
        .nodes(3)
        .wrap_transport(|bus| {
            Arc::new(JitterByRun {
                bus,
                runs: Mutex::new(Vec::new()),
            })
        })
        .build();
    let client = KmsClient::new(cluster.clone());
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let (a, b) = tokio::join!(client.refresh(&key.key_id), client.refresh(&key.key_id));
    let committed = [&a, &b].iter().filter(|r| r.is_ok()).count() as u64;
    assert!(committed >= 1, "neither refresh went through: {a:?} {b:?}");
    let now = client.get_key(&key.key_id).await.unwrap();
    assert_eq!(
        now.epoch, committed,
        "one epoch per committed refresh: {a:?} {b:?}"
    );
    every_pair_signs(&cluster, &now, b"after two refreshes").await;
}

/// H2: signing runs while a refresh commits holder by holder; every signature verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_storage_h2_signing_during_refresh() {
    let cluster = InProcessCluster::builder()
        .nodes(3)
        .wrap_transport(|bus| {
            Arc::new(SlowCommitTo {
                bus,
                node: Some(node("tss2")),
                delay: Duration::from_millis(400),
            })
        })
        .build();
    let client = KmsClient::new(cluster.clone());
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..50u64 {
        let client = client.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(15 * i)).await;
            let message = format!("payment {i}");
            let sig = client.sign(&key.key_id, message.as_bytes()).await;
            (message, sig)
        }));
    }
    let refresher = {
        let client = client.clone();
        let key = key.key_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            client.refresh(&key).await
        })
    };
    for t in tasks {
        let (message, sig) = t.await.unwrap();
        let sig = sig.unwrap_or_else(|e| panic!("{message}: {e}"));
        assert!(verifies(&key, message.as_bytes(), &sig.signature), "{message}");
    }
    assert_eq!(refresher.await.unwrap().unwrap().epoch, 1);
}

/// M4: a destroy that cannot reach every holder leaves the key visibly DESTROYING (never
/// ACTIVE with shards missing); recovery completes it once the holder is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_storage_m4_destroy_with_holder_down_is_destroying() {
    let slot = BusSlot::default();
    let cluster = InProcessCluster::builder()
        .nodes(4)
        .wrap_transport(capture(&slot))
        .build();
    let client = KmsClient::new(cluster.clone());
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let third = key.holders[2].node.clone();
    cluster.stop_node(&third);
    match client.set_status(&key.key_id, KeyStatus::Destroyed).await {
        Err(KmsError::DestroyIncomplete { pending, .. }) => assert_eq!(pending, vec![third.clone()]),
        other => panic!("expected DestroyIncomplete, got {other:?}"),
    }
    let status = client.get_key(&key.key_id).await.unwrap().status;
    assert_ne!(
        status,
        KeyStatus::Active,
        "shards are gone but the key looks usable"
    );
    assert_eq!(status, KeyStatus::Destroying);
    assert!(client.sign(&key.key_id, b"no").await.is_err());

    cluster.start_node(&third);
    cluster.coordinator().recover().await.unwrap();
    assert_eq!(
        client.get_key(&key.key_id).await.unwrap().status,
        KeyStatus::Destroyed
    );
    for h in &key.holders {
        assert!(
            !held_by(&slot, &h.node).await.contains(&key.key_id),
            "{} still holds the destroyed key",
            h.node
        );
    }
}

/// M5: restoring a node backup taken before a destroy does not bring the key's shard
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_storage_m5_restore_after_destroy_does_not_resurrect() {
    let dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b");
    let key = {
        let cluster = open_persistent(dir.path(), &BusSlot::default()).await.unwrap();
        let client = KmsClient::new(cluster.clone());
        let key = client
            .generate_key(GenerateKey::new(Algorithm::Eddsa))
            .await
            .unwrap();
        cluster.backup_node(&key.holders[0].node, &backup).await.unwrap();
        client
            .set_status(&key.key_id, KeyStatus::Destroyed)
            .await
            .unwrap();
        key
    };
    let restored = key.holders[0].node.clone();
    restore(dir.path(), &restored, &backup);

    let slot = BusSlot::default();
    let cluster = open_persistent(dir.path(), &slot).await.unwrap();
    assert!(
        !held_by(&slot, &restored).await.contains(&key.key_id),
        "the restored backup resurrected a destroyed key's shard"
    );
    let client = KmsClient::new(cluster.clone());
    assert_eq!(
        client.get_key(&key.key_id).await.unwrap().status,
        KeyStatus::Destroyed
    );
}

/// M5: restoring a node backup taken before a refresh does not bring the old epoch's
/// shard back into use (old shards of t holders would rebuild the key); the key keeps
/// signing with the holders at the current epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_storage_m5_restore_after_refresh_drops_old_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b");
    let key = {
        let cluster = open_persistent(dir.path(), &BusSlot::default()).await.unwrap();
        let client = KmsClient::new(cluster.clone());
        let key = client
            .generate_key(GenerateKey::new(Algorithm::Eddsa))
            .await
            .unwrap();
        cluster.backup_node(&key.holders[0].node, &backup).await.unwrap();
        client.refresh(&key.key_id).await.unwrap()
    };
    let restored = key.holders[0].node.clone();
    restore(dir.path(), &restored, &backup);

    let slot = BusSlot::default();
    let cluster = open_persistent(dir.path(), &slot).await.unwrap();
    assert_eq!(
        version_on(&slot, &restored, &key.key_id).await,
        None,
        "the restored node kept its epoch-0 shard of a key at epoch 1"
    );
    let client = KmsClient::new(cluster.clone());
    let now = client.get_key(&key.key_id).await.unwrap();
    assert_eq!(now.epoch, 1);
    every_pair_signs(&cluster, &now, b"after restore").await;
}

/// The node enforces the removal rules itself, whatever the coordinator asks: it keeps a
/// confirmed shard asked to be discarded as pending, a current shard asked to be
/// dropped as stale, a staged shard committed or aborted by another session, and its
/// cluster when told to join another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_storage_nodes_refuse_unsafe_removals() {
    let slot = BusSlot::default();
    let cluster = InProcessCluster::builder()
        .nodes(3)
        .wrap_transport(capture(&slot))
        .build();
    cluster.coordinator().recover().await.unwrap();
    let client = KmsClient::new(cluster.clone());
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let bus = slot.lock().unwrap().clone().unwrap();
    let holder = key.holders[0].node.clone();
    let ask = |request: NodeRequest| {
        let bus = bus.clone();
        let holder = holder.clone();
        async move { NodeTransport::call(&*bus, &holder, request).await.unwrap() }
    };
    let refused = |r: &NodeResponse| matches!(r, NodeResponse::Error { culprit: None, .. });

    let r = ask(NodeRequest::DiscardPending {
        key_id: key.key_id.clone(),
    })
    .await;
    assert!(refused(&r), "discarded a confirmed shard: {r:?}");
    let r = ask(NodeRequest::DropStale {
        key_id: key.key_id.clone(),
        epoch: 0,
    })
    .await;
    assert!(refused(&r), "dropped a current shard: {r:?}");
    let r = ask(NodeRequest::CommitRefresh {
        key_id: key.key_id.clone(),
        version: 1,
        session: kms_protocols::SessionId([9; 32]),
    })
    .await;
    assert!(refused(&r), "committed nothing staged: {r:?}");
    let r = ask(NodeRequest::JoinCluster {
        cluster: kms_core::ClusterId::parse("someone-else").unwrap(),
    })
    .await;
    assert!(refused(&r), "joined a second cluster: {r:?}");
    let r = ask(NodeRequest::StartSign {
        key_id: key.key_id.clone(),
        session: kms_protocols::SessionId([8; 32]),
        signers: vec![kms_protocols::PartyIndex::new(key.holders[0].party).unwrap()],
        message: b"m".to_vec(),
        parties: vec![(
            kms_protocols::PartyIndex::new(key.holders[0].party).unwrap(),
            holder.clone(),
        )],
        epoch: 5,
    })
    .await;
    assert!(
        matches!(
            r,
            NodeResponse::WrongEpoch {
                have: Some(0),
                want: 5
            }
        ),
        "{r:?}"
    );
    assert!(held_by(&slot, &holder).await.contains(&key.key_id));
    let sig = client.sign(&key.key_id, b"still here").await.unwrap();
    assert!(verifies(&key, b"still here", &sig.signature));
}
