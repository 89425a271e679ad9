//! The behaviour every backend of a storage port must show, written once and run
//! against each backend by its own tests.

use kms_core::audit::{verify_chain, AuditEvent, AuditEventType, AuditResult};
use kms_core::ports::{AuditLog, MetadataStore, SessionId, ShardRecord, ShardStore};
use kms_core::{
    Algorithm, ClusterId, KeyId, KeyLease, KeyMetadata, KeySpec, KeyStatus, NodeId, ShardHolder,
    ShardProperties, StorageError,
};
use std::sync::Arc;
use zeroize::Zeroizing;

pub fn key(s: &str) -> KeyId {
    KeyId::parse(s).expect("valid key id")
}

/// A recognisable fake serialized share.
pub fn shard(version: u64, fill: u8) -> ShardRecord {
    ShardRecord {
        algorithm: Algorithm::Eddsa,
        version,
        data: Zeroizing::new(vec![fill; 48 + version as usize]),
    }
}

fn same(a: &ShardRecord, b: &ShardRecord) -> bool {
    a.algorithm == b.algorithm && a.version == b.version && *a.data == *b.data
}

async fn current(s: &dyn ShardStore, k: &KeyId) -> Option<ShardRecord> {
    s.get(k).await.expect("get")
}

pub async fn shard_store(s: &dyn ShardStore) {
    let k1 = key("contract-k1");
    let k2 = key("contract-k2");
    let missing = key("contract-missing");
    const S1: SessionId = SessionId([1; 32]);
    const S2: SessionId = SessionId([2; 32]);

    assert!(current(s, &k1).await.is_none());
    assert!(s.list().await.unwrap().is_empty());
    assert!(!s.delete(&k1).await.unwrap());

    s.put(&k1, &shard(1, 0xA1)).await.unwrap();
    assert!(same(&current(s, &k1).await.unwrap(), &shard(1, 0xA1)));
    assert!(matches!(
        s.put(&k1, &shard(1, 0xEE)).await,
        Err(StorageError::AlreadyExists(_))
    ));
    assert!(same(&current(s, &k1).await.unwrap(), &shard(1, 0xA1)));
    s.put(&k2, &shard(1, 0xB1)).await.unwrap();
    assert_eq!(s.list().await.unwrap(), vec![k1.clone(), k2.clone()]);

    // Staging leaves the current version in place until commit.
    s.stage(&k1, &S1, &shard(2, 0xA2)).await.unwrap();
    assert!(same(&current(s, &k1).await.unwrap(), &shard(1, 0xA1)));
    assert!(matches!(
        s.commit_staged(&k1, &S1, 3).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(same(&current(s, &k1).await.unwrap(), &shard(1, 0xA1)));
    s.commit_staged(&k1, &S1, 2).await.unwrap();
    assert!(same(&current(s, &k1).await.unwrap(), &shard(2, 0xA2)));
    assert!(matches!(
        s.commit_staged(&k1, &S1, 2).await,
        Err(StorageError::NotFound(_))
    ));
    // Other keys are untouched.
    assert!(same(&current(s, &k2).await.unwrap(), &shard(1, 0xB1)));

    // A staged version must be newer than the current one.
    assert!(matches!(
        s.stage(&k1, &S1, &shard(2, 0xEE)).await,
        Err(StorageError::AlreadyExists(_))
    ));
    assert!(matches!(
        s.stage(&missing, &S1, &shard(2, 0xEE)).await,
        Err(StorageError::NotFound(_))
    ));

    // Discard drops the staged version.
    s.stage(&k1, &S1, &shard(3, 0xA3)).await.unwrap();
    s.discard_staged(&k1, &S1).await.unwrap();
    s.discard_staged(&k1, &S1).await.unwrap();
    assert!(matches!(
        s.commit_staged(&k1, &S1, 3).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(same(&current(s, &k1).await.unwrap(), &shard(2, 0xA2)));

    // A later stage replaces an earlier one.
    s.stage(&k1, &S1, &shard(5, 0xA5)).await.unwrap();
    s.stage(&k1, &S1, &shard(6, 0xA6)).await.unwrap();
    assert!(matches!(
        s.commit_staged(&k1, &S1, 5).await,
        Err(StorageError::NotFound(_))
    ));
    s.commit_staged(&k1, &S1, 6).await.unwrap();
    assert!(same(&current(s, &k1).await.unwrap(), &shard(6, 0xA6)));

    // Delete removes current and staged.
    s.stage(&k1, &S1, &shard(7, 0xA7)).await.unwrap();
    assert!(s.delete(&k1).await.unwrap());
    assert!(current(s, &k1).await.is_none());
    assert!(!s.delete(&k1).await.unwrap());
    assert_eq!(s.list().await.unwrap(), vec![k2.clone()]);
    s.put(&k1, &shard(1, 0xC1)).await.unwrap();
    assert!(matches!(
        s.commit_staged(&k1, &S1, 7).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(same(&current(s, &k1).await.unwrap(), &shard(1, 0xC1)));
    assert!(s.delete(&k1).await.unwrap());

    // A staged version belongs to its session: another session can neither commit nor
    // discard it, and the staged record reports who staged it.
    assert!(s.staged(&k2).await.unwrap().is_none());
    s.stage(&k2, &S1, &shard(2, 0xB2)).await.unwrap();
    let (by, staged) = s.staged(&k2).await.unwrap().expect("staged");
    assert_eq!(by, S1);
    assert!(same(&staged, &shard(2, 0xB2)));
    assert!(matches!(
        s.commit_staged(&k2, &S2, 2).await,
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        s.discard_staged(&k2, &S2).await,
        Err(StorageError::Conflict(_))
    ));
    assert!(same(&current(s, &k2).await.unwrap(), &shard(1, 0xB1)));
    assert!(s.staged(&k2).await.unwrap().is_some(), "kept for its own session");
    // A later run (the lease admits one at a time) replaces an abandoned staged version.
    s.stage(&k2, &S2, &shard(2, 0xC2)).await.unwrap();
    assert!(matches!(
        s.commit_staged(&k2, &S1, 2).await,
        Err(StorageError::Conflict(_))
    ));
    s.commit_staged(&k2, &S2, 2).await.unwrap();
    assert!(same(&current(s, &k2).await.unwrap(), &shard(2, 0xC2)));
    assert!(s.staged(&k2).await.unwrap().is_none());
    s.discard_staged(&k2, &S1).await.unwrap();

    assert!(s.delete(&k2).await.unwrap());
    assert!(s.list().await.unwrap().is_empty());
}

/// Metadata of a 2-of-3 key; `tag` keeps ids apart between tests sharing a database.
pub fn metadata(tag: &str, n: u64) -> KeyMetadata {
    let node = |s: &str| NodeId::new(s).expect("valid node id");
    KeyMetadata {
        key_id: key(&format!("{tag}-key-{n}")),
        spec: KeySpec::for_algorithm(Algorithm::Gg18),
        shards: ShardProperties::default(),
        public_key: format!("02{}", "ab".repeat(32)),
        holders: vec![
            ShardHolder {
                node: node("tss1"),
                party: 1,
            },
            ShardHolder {
                node: node("tss2"),
                party: 2,
            },
            ShardHolder {
                node: node("tss4"),
                party: 3,
            },
        ],
        status: KeyStatus::Generating,
        epoch: 0,
        created_at: 1_700_000_000_000 + n,
        updated_at: 1_700_000_000_000 + n,
        revision: 0,
        lease: None,
    }
}

pub async fn metadata_store(s: &dyn MetadataStore, tag: &str) {
    let a = metadata(tag, 1);
    let mut b = metadata(tag, 2);
    b.spec = KeySpec::for_algorithm(Algorithm::Bls);
    b.shards = ShardProperties {
        shard_count: 5,
        threshold: 3,
    };
    assert_eq!(s.get(&a.key_id).await.unwrap(), None);
    s.insert(&a).await.unwrap();
    s.insert(&b).await.unwrap();
    assert!(matches!(s.insert(&a).await, Err(StorageError::AlreadyExists(_))));
    assert_eq!(s.get(&a.key_id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.get(&b.key_id).await.unwrap(), Some(b.clone()));

    let mut a2 = a.clone();
    a2.status = KeyStatus::Active;
    a2.epoch = 3;
    a2.updated_at += 99;
    a2.holders.pop();
    a2.lease = Some(KeyLease {
        owner: "coordinator-a".into(),
        operation: "refresh".into(),
        expires_at: 1_700_000_600_000,
    });
    s.update(&a2).await.unwrap();
    // The store bumps the revision on every update.
    a2.revision += 1;
    assert_eq!(s.get(&a.key_id).await.unwrap(), Some(a2.clone()));

    // Compare-and-swap: an update based on the old revision (another writer read the
    // record before a2 was written) is refused and changes nothing.
    let mut late = a.clone();
    late.status = KeyStatus::Frozen;
    assert!(matches!(s.update(&late).await, Err(StorageError::Conflict(_))));
    assert_eq!(s.get(&a.key_id).await.unwrap(), Some(a2.clone()));
    // Of two writers from one revision, exactly one wins.
    let (mut x, mut y) = (a2.clone(), a2.clone());
    x.epoch = 4;
    y.epoch = 5;
    let (rx, ry) = tokio::join!(s.update(&x), s.update(&y));
    assert!(rx.is_ok() != ry.is_ok(), "{rx:?} {ry:?}");
    let winner = if rx.is_ok() { x } else { y };
    let stored = s.get(&a.key_id).await.unwrap().unwrap();
    assert_eq!((stored.epoch, stored.revision), (winner.epoch, a2.revision + 1));
    a2 = stored;
    a2.lease = None;
    s.update(&a2).await.unwrap();
    a2.revision += 1;
    assert_eq!(s.get(&a.key_id).await.unwrap(), Some(a2.clone()));
    let ghost = metadata(tag, 3);
    assert!(matches!(s.update(&ghost).await, Err(StorageError::NotFound(_))));
    assert_eq!(s.get(&ghost.key_id).await.unwrap(), None);

    let mut listed: Vec<KeyMetadata> = s
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.key_id.as_str().starts_with(&format!("{tag}-")))
        .collect();
    listed.sort_by(|x, y| x.key_id.cmp(&y.key_id));
    assert_eq!(listed, vec![a2.clone(), b.clone()]);

    assert!(s.delete(&a.key_id).await.unwrap());
    assert!(!s.delete(&a.key_id).await.unwrap());
    assert_eq!(s.get(&a.key_id).await.unwrap(), None);
    assert!(s.delete(&b.key_id).await.unwrap());
}

/// The cluster id: absent on a fresh store, then the first recorded one sticks.
pub async fn metadata_cluster_id(s: &dyn MetadataStore) {
    assert_eq!(s.cluster_id().await.unwrap(), None);
    let first = ClusterId::parse("cluster-one").unwrap();
    let second = ClusterId::parse("cluster-two").unwrap();
    assert_eq!(s.init_cluster_id(&first).await.unwrap(), first);
    assert_eq!(s.init_cluster_id(&second).await.unwrap(), first);
    assert_eq!(s.cluster_id().await.unwrap(), Some(first));
}

pub fn audit_event(i: u64) -> AuditEvent {
    AuditEvent {
        event_type: if i.is_multiple_of(2) {
            AuditEventType::KeySign
        } else {
            AuditEventType::KeyGenerate
        },
        user_id: format!("user-{i}"),
        key_id: (!i.is_multiple_of(3)).then(|| format!("key-{i}")),
        operation: format!("op {i}"),
        result: if i.is_multiple_of(5) {
            AuditResult::Failure
        } else {
            AuditResult::Success
        },
        created_time: 1_700_000_000_000 + i,
        service_name: "kms-test".into(),
        node_id: (!i.is_multiple_of(4)).then(|| "tss1".to_string()),
        duration_ms: 10 * i,
        data_hash: format!("{i:064x}"),
        audit_trail: format!("trail with unicode é {i}"),
    }
}

/// Appends from many tasks at once must still form one chain.
pub async fn audit_log(log: Arc<dyn AuditLog>) {
    let first = log.append(audit_event(1)).await.unwrap();
    assert_eq!(first.seq, 1);
    assert!(first.hash_is_valid());
    let mut tasks = Vec::new();
    for i in 2..=17 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move { log.append(audit_event(i)).await }));
    }
    for t in tasks {
        t.await.expect("task").expect("append");
    }
    let records = log.records().await.unwrap();
    assert_eq!(records.len(), 17);
    assert_eq!(records[0], first);
    let anchor = log.anchor().await.unwrap();
    assert_eq!(anchor.head.seq, 17);
    verify_chain(&records, &anchor).unwrap();
    let mut events: Vec<u64> = records.iter().map(|r| r.event.duration_ms / 10).collect();
    events.sort_unstable();
    assert_eq!(events, (1..=17).collect::<Vec<_>>());
}

/// A node configuration under `root` with the lowest PBKDF2 count, for speed.
#[cfg(feature = "embedded")]
pub fn node_config(root: &std::path::Path, node: &str) -> crate::NodeStorageConfig {
    let mut c = crate::NodeStorageConfig::under_root(NodeId::new(node).expect("node id"), root);
    c.pbkdf2_iterations = crate::keyring::MIN_PBKDF2_ITERATIONS;
    c
}

#[cfg(feature = "embedded")]
pub fn password(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_string())
}

#[cfg(feature = "embedded")]
/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(feature = "embedded")]
/// Bytes and modification time of every file under `dir`.
pub fn fingerprint(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            let mtime = std::fs::metadata(&p).and_then(|m| m.modified()).expect("mtime");
            (p, bytes, mtime)
        })
        .collect()
}

/// The approval store: insert once, read back, compare-and-swap on the version, and of
/// two racing updates from the same version exactly one lands.
pub async fn approval_store_contract(s: &dyn kms_core::policy::ApprovalStore) {
    use kms_core::policy::{ApprovalDecision, ApprovalState, PendingRequest};
    let id = format!("req-{}", rand_core::RngCore::next_u64(&mut rand_core::OsRng));
    let request = PendingRequest::new(
        id.clone(),
        "alice",
        Some("k1".into()),
        "sign",
        serde_json::json!({"data": "00", "data_type": "HASH"}),
        2,
        vec!["big".into()],
        1_000,
        60_000,
    );
    assert!(s.get(&id).await.unwrap().is_none());
    s.insert(&request).await.unwrap();
    assert!(matches!(
        s.insert(&request).await,
        Err(StorageError::AlreadyExists(_))
    ));
    assert_eq!(s.get(&id).await.unwrap().as_ref(), Some(&request));

    let mut bob = request.clone();
    bob.vote("bob", ApprovalDecision::Approve, 1_001).unwrap();
    let mut carol = request.clone();
    carol.vote("carol", ApprovalDecision::Approve, 1_002).unwrap();
    assert!(s.compare_and_swap(request.version, &bob).await.unwrap());
    assert!(
        !s.compare_and_swap(request.version, &carol).await.unwrap(),
        "a stale version must lose"
    );
    assert_eq!(s.get(&id).await.unwrap().unwrap().votes, bob.votes);

    // Through the retrying helper, carol's vote now lands on top of bob's.
    let after = kms_core::policy::vote_in(s, &id, "carol", ApprovalDecision::Approve, 1_003)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.state, ApprovalState::Approved);
    assert_eq!(s.get(&id).await.unwrap().unwrap().state, ApprovalState::Approved);

    // Two instances taking the approved request: exactly one wins.
    let (a, b) = tokio::join!(
        kms_core::policy::update_in(s, &id, |r| r.start()),
        kms_core::policy::update_in(s, &id, |r| r.start())
    );
    let wins = [a.unwrap().is_ok(), b.unwrap().is_ok()]
        .iter()
        .filter(|w| **w)
        .count();
    assert_eq!(wins, 1);
    assert!(matches!(
        kms_core::policy::vote_in(s, "no-such-request", "bob", ApprovalDecision::Approve, 1)
            .await
            .unwrap(),
        Err(kms_core::policy::ApprovalError::NotFound(_))
    ));
}
