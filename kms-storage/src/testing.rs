//! The storage ports' contract as a test suite (feature `testing`): the behaviour
//! kms-core's node and coordinator rely on, written once and run by this crate against
//! every backend it has (memory, embedded, MySQL, embedded under a PKCS#11 KEK), and by
//! anyone who writes a store of their own.
//!
//! Each suite takes a factory of fresh (empty) stores and runs every clause on a store
//! of its own, so a failure names one clause and one clause's leftovers never mask
//! another's. A failed clause panics with a message starting `contract:`; the suites are
//! meant for `#[tokio::test]` functions (the audit suite spawns tasks, so give it a
//! multi-threaded runtime to test real concurrency).
//!
//! ```no_run
//! use kms_storage::testing;
//! # use kms_storage::MemoryShardStore as MyShardStore;
//! # async fn demo() {
//! // In a test of your own store:
//! testing::shard_store_contract(|| async { MyShardStore::new() }).await;
//! # }
//! ```
//!
//! What the suites check, in the ports' words (see [`kms_core::ports`]):
//! - [`shard_store_contract`]: `put` stores a first version only; `get`/`list`/`delete`;
//!   refresh staging (a staged version stays invisible to `get` until its own session
//!   commits it with its own version; a staged version is newer than the current one;
//!   discard; a later stage replaces an abandoned one; another session can neither commit
//!   nor discard it); `delete` drops current and staged; shard bytes round-trip exactly;
//!   two concurrent `put`s of one key: exactly one wins.
//! - [`metadata_store_contract`]: insert/get/delete/list, update by compare-and-swap on
//!   the revision (the store bumps it; a stale writer gets `Conflict`; of two concurrent
//!   writers exactly one wins; an unknown key is `NotFound`), epochs and leases stored as
//!   given, and the cluster id (absent, then first writer wins).
//! - [`audit_log_contract`]: appends from concurrent tasks form one gap-free chain that
//!   [`verify_chain`] accepts against the log's signed anchor, every event kept once.
//! - [`secret_vault_contract`]: put/replace/get/delete of named secrets, names
//!   independent, exact bytes.
//!
//! The fixtures ([`shard`], [`metadata`], [`audit_event`]) are public so a backend's own
//! tests can reuse them.

use kms_core::audit::{verify_chain, AuditEvent, AuditEventType, AuditResult};
use kms_core::ports::{AuditLog, MetadataStore, SecretVault, SessionId, ShardRecord, ShardStore};
use kms_core::{
    Algorithm, ClusterId, KeyId, KeyLease, KeyMetadata, KeySpec, KeyStatus, NodeId, ShardHolder,
    ShardProperties, StorageError,
};
use std::future::Future;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A key id from a literal.
pub fn key(s: &str) -> KeyId {
    KeyId::parse(s).expect("contract: valid key id")
}

/// A recognisable fake serialized share of `version`, filled with `fill`.
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
    s.get(k).await.expect("contract: get")
}

#[track_caller]
fn is_current(got: Option<ShardRecord>, want: &ShardRecord, clause: &str) {
    match got {
        Some(r) if same(&r, want) => {}
        other => panic!(
            "contract: {clause}: expected version {} current, got {other:?}",
            want.version
        ),
    }
}

const S1: SessionId = SessionId([1; 32]);
const S2: SessionId = SessionId([2; 32]);

/// Run the whole [`ShardStore`] contract, each clause on a store from `fresh`.
pub async fn shard_store_contract<S, F, Fut>(mut fresh: F)
where
    S: ShardStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    shard_store_basics(&fresh().await).await;
    shard_store_staging(&fresh().await).await;
    shard_store_delete(&fresh().await).await;
    shard_store_sessions(&fresh().await).await;
    shard_store_bytes(&fresh().await).await;
    shard_store_racing_puts(&fresh().await).await;
}

/// put / get / list / delete on one store.
pub async fn shard_store_basics(s: &dyn ShardStore) {
    let k1 = key("contract-k1");
    let k2 = key("contract-k2");
    assert!(
        current(s, &k1).await.is_none(),
        "contract: a fresh store is empty"
    );
    assert!(
        s.list().await.unwrap().is_empty(),
        "contract: a fresh store lists nothing"
    );
    assert!(
        !s.delete(&k1).await.unwrap(),
        "contract: delete of nothing is false"
    );
    assert!(s.staged(&k1).await.unwrap().is_none());

    s.put(&k1, &shard(1, 0xA1)).await.unwrap();
    is_current(current(s, &k1).await, &shard(1, 0xA1), "put then get");
    assert!(
        matches!(
            s.put(&k1, &shard(1, 0xEE)).await,
            Err(StorageError::AlreadyExists(_))
        ),
        "contract: a second put of a key is AlreadyExists"
    );
    is_current(
        current(s, &k1).await,
        &shard(1, 0xA1),
        "a refused put changes nothing",
    );
    // Listed in key order, whatever the insertion order.
    s.put(&k2, &shard(1, 0xB1)).await.unwrap();
    s.put(&key("contract-k0"), &shard(1, 0xB0)).await.unwrap();
    assert_eq!(
        s.list().await.unwrap(),
        vec![key("contract-k0"), k1.clone(), k2.clone()],
        "contract: list is every key with a shard, in order"
    );
}

/// Refresh staging and its versions (epochs) on one store.
pub async fn shard_store_staging(s: &dyn ShardStore) {
    let k1 = key("contract-k1");
    let k2 = key("contract-k2");
    let missing = key("contract-missing");
    s.put(&k1, &shard(1, 0xA1)).await.unwrap();
    s.put(&k2, &shard(1, 0xB1)).await.unwrap();

    // Staging leaves the current version in place until commit.
    s.stage(&k1, &S1, &shard(2, 0xA2)).await.unwrap();
    is_current(
        current(s, &k1).await,
        &shard(1, 0xA1),
        "a staged version is not current",
    );
    assert!(
        matches!(s.commit_staged(&k1, &S1, 3).await, Err(StorageError::NotFound(_))),
        "contract: a commit naming another version is NotFound"
    );
    is_current(
        current(s, &k1).await,
        &shard(1, 0xA1),
        "a refused commit changes nothing",
    );
    s.commit_staged(&k1, &S1, 2).await.unwrap();
    is_current(
        current(s, &k1).await,
        &shard(2, 0xA2),
        "commit makes the staged version current",
    );
    assert!(
        matches!(s.commit_staged(&k1, &S1, 2).await, Err(StorageError::NotFound(_))),
        "contract: a second commit is NotFound"
    );
    assert!(
        s.staged(&k1).await.unwrap().is_none(),
        "contract: nothing staged after commit"
    );
    is_current(current(s, &k2).await, &shard(1, 0xB1), "other keys are untouched");

    // A staged version must be newer than the current one.
    assert!(
        matches!(
            s.stage(&k1, &S1, &shard(2, 0xEE)).await,
            Err(StorageError::AlreadyExists(_))
        ),
        "contract: staging the current version is AlreadyExists"
    );
    assert!(
        matches!(
            s.stage(&k1, &S1, &shard(1, 0xEE)).await,
            Err(StorageError::AlreadyExists(_))
        ),
        "contract: staging an older version is AlreadyExists"
    );
    assert!(
        matches!(
            s.stage(&missing, &S1, &shard(2, 0xEE)).await,
            Err(StorageError::NotFound(_))
        ),
        "contract: staging a key without a shard is NotFound"
    );

    // Discard drops the staged version, and is idempotent.
    s.stage(&k1, &S1, &shard(3, 0xA3)).await.unwrap();
    s.discard_staged(&k1, &S1).await.unwrap();
    s.discard_staged(&k1, &S1).await.unwrap();
    assert!(matches!(
        s.commit_staged(&k1, &S1, 3).await,
        Err(StorageError::NotFound(_))
    ));
    is_current(
        current(s, &k1).await,
        &shard(2, 0xA2),
        "discard keeps the current version",
    );

    // A later stage replaces an earlier one; versions may skip.
    s.stage(&k1, &S1, &shard(5, 0xA5)).await.unwrap();
    s.stage(&k1, &S1, &shard(6, 0xA6)).await.unwrap();
    assert!(
        matches!(s.commit_staged(&k1, &S1, 5).await, Err(StorageError::NotFound(_))),
        "contract: a replaced staged version cannot be committed"
    );
    s.commit_staged(&k1, &S1, 6).await.unwrap();
    is_current(
        current(s, &k1).await,
        &shard(6, 0xA6),
        "the later stage is committed",
    );
}

/// Delete removes current and staged versions on one store.
pub async fn shard_store_delete(s: &dyn ShardStore) {
    let k1 = key("contract-k1");
    let k2 = key("contract-k2");
    s.put(&k1, &shard(1, 0xA1)).await.unwrap();
    s.put(&k2, &shard(1, 0xB1)).await.unwrap();
    s.stage(&k1, &S1, &shard(7, 0xA7)).await.unwrap();
    assert!(
        s.delete(&k1).await.unwrap(),
        "contract: delete of a shard is true"
    );
    assert!(
        current(s, &k1).await.is_none(),
        "contract: a deleted shard is gone"
    );
    assert!(
        s.staged(&k1).await.unwrap().is_none(),
        "contract: delete drops the staged version"
    );
    assert!(
        !s.delete(&k1).await.unwrap(),
        "contract: a second delete is false"
    );
    assert_eq!(s.list().await.unwrap(), vec![k2.clone()]);
    // A new first version after delete does not revive the old staged one.
    s.put(&k1, &shard(1, 0xC1)).await.unwrap();
    assert!(
        matches!(s.commit_staged(&k1, &S1, 7).await, Err(StorageError::NotFound(_))),
        "contract: a staged version does not survive delete"
    );
    is_current(current(s, &k1).await, &shard(1, 0xC1), "put after delete");
    assert!(s.delete(&k1).await.unwrap());
    assert!(s.delete(&k2).await.unwrap());
    assert!(s.list().await.unwrap().is_empty());
}

/// A staged version belongs to its session, on one store.
pub async fn shard_store_sessions(s: &dyn ShardStore) {
    let k2 = key("contract-k2");
    s.put(&k2, &shard(1, 0xB1)).await.unwrap();
    assert!(s.staged(&k2).await.unwrap().is_none());
    s.stage(&k2, &S1, &shard(2, 0xB2)).await.unwrap();
    let (by, staged) = s.staged(&k2).await.unwrap().expect("contract: staged");
    assert_eq!(by, S1, "contract: the staged record names its session");
    assert!(
        same(&staged, &shard(2, 0xB2)),
        "contract: the staged record is the staged shard"
    );
    assert!(
        matches!(s.commit_staged(&k2, &S2, 2).await, Err(StorageError::Conflict(_))),
        "contract: another session's commit is Conflict"
    );
    assert!(
        matches!(s.discard_staged(&k2, &S2).await, Err(StorageError::Conflict(_))),
        "contract: another session's discard is Conflict"
    );
    is_current(
        current(s, &k2).await,
        &shard(1, 0xB1),
        "refused commit/discard change nothing",
    );
    assert!(
        s.staged(&k2).await.unwrap().is_some(),
        "contract: kept for its own session"
    );
    // A later run (the lease admits one at a time) replaces an abandoned staged version.
    s.stage(&k2, &S2, &shard(2, 0xC2)).await.unwrap();
    assert!(
        matches!(s.commit_staged(&k2, &S1, 2).await, Err(StorageError::Conflict(_))),
        "contract: the abandoned session can no longer commit"
    );
    s.commit_staged(&k2, &S2, 2).await.unwrap();
    is_current(
        current(s, &k2).await,
        &shard(2, 0xC2),
        "the later session's version",
    );
    assert!(s.staged(&k2).await.unwrap().is_none());
    s.discard_staged(&k2, &S1).await.unwrap();
}

/// Shard bytes and algorithm round-trip exactly (every byte value, a large share, one
/// algorithm per key), on one store.
pub async fn shard_store_bytes(s: &dyn ShardStore) {
    let big: Vec<u8> = (0..200_000u32)
        .map(|i| (i % 251) as u8 ^ (i >> 11) as u8)
        .collect();
    let records = [
        (
            key("contract-bytes-all"),
            ShardRecord {
                algorithm: Algorithm::Gg18,
                version: 1,
                data: Zeroizing::new((0..=255u8).collect()),
            },
        ),
        (
            key("contract-bytes-big"),
            ShardRecord {
                algorithm: Algorithm::Bls,
                version: 9,
                data: Zeroizing::new(big),
            },
        ),
        (
            key("contract-bytes-named"),
            ShardRecord {
                algorithm: Algorithm::named("CONTRACT_SCHEME"),
                version: u64::MAX - 1,
                data: Zeroizing::new(vec![0; 1]),
            },
        ),
    ];
    for (k, r) in &records {
        s.put(k, r).await.unwrap();
    }
    for (k, r) in &records {
        is_current(current(s, k).await, r, "bytes, algorithm and version round-trip");
    }
    let (k, r) = &records[0];
    let mut next = r.clone();
    next.version = 2;
    next.data = Zeroizing::new((0..=255u8).rev().collect());
    s.stage(k, &S1, &next).await.unwrap();
    let (_, staged) = s.staged(k).await.unwrap().expect("contract: staged");
    assert!(same(&staged, &next), "contract: a staged shard round-trips");
    s.commit_staged(k, &S1, 2).await.unwrap();
    is_current(current(s, k).await, &next, "a committed shard round-trips");
}

/// Two concurrent first `put`s of one key: exactly one succeeds, and its shard is the
/// one stored.
pub async fn shard_store_racing_puts(s: &dyn ShardStore) {
    let k = key("contract-race");
    let (a, b) = (shard(1, 0x01), shard(1, 0x02));
    let (ra, rb) = futures_join(s.put(&k, &a), s.put(&k, &b)).await;
    let winner = match (&ra, &rb) {
        (Ok(()), Err(StorageError::AlreadyExists(_))) => &a,
        (Err(StorageError::AlreadyExists(_)), Ok(())) => &b,
        _ => panic!("contract: of two racing puts exactly one wins: {ra:?} {rb:?}"),
    };
    is_current(current(s, &k).await, winner, "the winning put is stored");
}

async fn futures_join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    tokio::join!(a, b)
}

/// Metadata of a 2-of-3 key; `tag` keeps ids apart between tests sharing a database.
pub fn metadata(tag: &str, n: u64) -> KeyMetadata {
    let node = |s: &str| NodeId::new(s).expect("contract: valid node id");
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

/// Run the whole [`MetadataStore`] contract, each clause on a store from `fresh`.
pub async fn metadata_store_contract<S, F, Fut>(mut fresh: F)
where
    S: MetadataStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    metadata_store(&fresh().await, "contract").await;
    metadata_cluster_id(&fresh().await).await;
}

/// Insert / get / update by compare-and-swap / delete / list on one store, under ids
/// starting with `tag` (other keys in the store are ignored).
pub async fn metadata_store(s: &dyn MetadataStore, tag: &str) {
    let a = metadata(tag, 1);
    let mut b = metadata(tag, 2);
    b.spec = KeySpec::for_algorithm(Algorithm::Bls);
    b.shards = ShardProperties {
        shard_count: 5,
        threshold: 3,
    };
    assert_eq!(
        s.get(&a.key_id).await.unwrap(),
        None,
        "contract: unknown key is None"
    );
    s.insert(&a).await.unwrap();
    s.insert(&b).await.unwrap();
    assert!(
        matches!(s.insert(&a).await, Err(StorageError::AlreadyExists(_))),
        "contract: a second insert is AlreadyExists"
    );
    assert_eq!(
        s.get(&a.key_id).await.unwrap(),
        Some(a.clone()),
        "contract: insert then get"
    );
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
    assert_eq!(
        s.get(&a.key_id).await.unwrap(),
        Some(a2.clone()),
        "contract: update stores every field as given (epoch, lease, holders) and bumps the revision"
    );

    // Compare-and-swap: an update based on the old revision (another writer read the
    // record before a2 was written) is refused and changes nothing.
    let mut late = a.clone();
    late.status = KeyStatus::Frozen;
    assert!(
        matches!(s.update(&late).await, Err(StorageError::Conflict(_))),
        "contract: an update from a stale revision is Conflict"
    );
    assert_eq!(s.get(&a.key_id).await.unwrap(), Some(a2.clone()));
    // Of two writers from one revision, exactly one wins.
    let (mut x, mut y) = (a2.clone(), a2.clone());
    x.epoch = 4;
    y.epoch = 5;
    let (rx, ry) = tokio::join!(s.update(&x), s.update(&y));
    assert!(
        rx.is_ok() != ry.is_ok(),
        "contract: of two writers from one revision exactly one wins: {rx:?} {ry:?}"
    );
    let winner = if rx.is_ok() { x } else { y };
    let stored = s.get(&a.key_id).await.unwrap().unwrap();
    assert_eq!((stored.epoch, stored.revision), (winner.epoch, a2.revision + 1));
    a2 = stored;
    a2.lease = None;
    s.update(&a2).await.unwrap();
    a2.revision += 1;
    assert_eq!(
        s.get(&a.key_id).await.unwrap(),
        Some(a2.clone()),
        "contract: a lease is cleared"
    );
    let ghost = metadata(tag, 3);
    assert!(
        matches!(s.update(&ghost).await, Err(StorageError::NotFound(_))),
        "contract: an update of an unknown key is NotFound"
    );
    assert_eq!(
        s.get(&ghost.key_id).await.unwrap(),
        None,
        "contract: a refused update inserts nothing"
    );

    let mut listed: Vec<KeyMetadata> = s
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.key_id.as_str().starts_with(&format!("{tag}-")))
        .collect();
    listed.sort_by(|x, y| x.key_id.cmp(&y.key_id));
    assert_eq!(listed, vec![a2.clone(), b.clone()], "contract: list is every key");

    assert!(
        s.delete(&a.key_id).await.unwrap(),
        "contract: delete of a key is true"
    );
    assert!(
        !s.delete(&a.key_id).await.unwrap(),
        "contract: a second delete is false"
    );
    assert_eq!(s.get(&a.key_id).await.unwrap(), None);
    assert!(s.delete(&b.key_id).await.unwrap());
}

/// The cluster id on one fresh store: absent, then the first recorded one sticks.
pub async fn metadata_cluster_id(s: &dyn MetadataStore) {
    assert_eq!(
        s.cluster_id().await.unwrap(),
        None,
        "contract: a fresh store has no cluster id"
    );
    let first = ClusterId::parse("cluster-one").unwrap();
    let second = ClusterId::parse("cluster-two").unwrap();
    assert_eq!(s.init_cluster_id(&first).await.unwrap(), first);
    assert_eq!(
        s.init_cluster_id(&second).await.unwrap(),
        first,
        "contract: the first cluster id recorded wins"
    );
    assert_eq!(s.cluster_id().await.unwrap(), Some(first));
}

/// An audit event whose fields all vary with `i`.
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

/// Run the [`AuditLog`] contract on a log from `fresh`.
pub async fn audit_log_contract<A, F, Fut>(mut fresh: F)
where
    A: AuditLog + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = A>,
{
    audit_log(Arc::new(fresh().await)).await;
}

/// Appends from many tasks at once on one empty log must still form one chain.
pub async fn audit_log(log: Arc<dyn AuditLog>) {
    let first = log.append(audit_event(1)).await.unwrap();
    assert_eq!(first.seq, 1, "contract: the first record of a fresh log is seq 1");
    assert!(first.hash_is_valid(), "contract: a returned record is sealed");
    let mut tasks = Vec::new();
    for i in 2..=17 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move { log.append(audit_event(i)).await }));
    }
    for t in tasks {
        t.await.expect("contract: task").expect("contract: append");
    }
    let records = log.records().await.unwrap();
    assert_eq!(records.len(), 17, "contract: every append is kept");
    assert_eq!(records[0], first, "contract: records come back as appended");
    let anchor = log.anchor().await.unwrap();
    assert_eq!(anchor.head.seq, 17, "contract: the anchor signs the last record");
    verify_chain(&records, &anchor).expect("contract: the chain verifies against the anchor");
    let mut events: Vec<u64> = records.iter().map(|r| r.event.duration_ms / 10).collect();
    events.sort_unstable();
    assert_eq!(
        events,
        (1..=17).collect::<Vec<_>>(),
        "contract: each event is recorded once"
    );
}

/// Run the [`SecretVault`] contract on a vault from `fresh`.
pub async fn secret_vault_contract<V, F, Fut>(mut fresh: F)
where
    V: SecretVault,
    F: FnMut() -> Fut,
    Fut: Future<Output = V>,
{
    secret_vault(&fresh().await).await;
}

/// Named secrets on one empty vault: put, replace, get, delete.
pub async fn secret_vault(v: &dyn SecretVault) {
    assert!(
        v.get_secret("contract/a").await.unwrap().is_none(),
        "contract: a fresh vault is empty"
    );
    assert!(
        !v.delete_secret("contract/a").await.unwrap(),
        "contract: delete of nothing is false"
    );
    let all: Vec<u8> = (0..=255u8).collect();
    v.put_secret("contract/a", &all).await.unwrap();
    v.put_secret("contract/b", b"").await.unwrap();
    assert_eq!(
        v.get_secret("contract/a").await.unwrap().as_deref(),
        Some(&all),
        "contract: exact bytes"
    );
    assert_eq!(
        v.get_secret("contract/b")
            .await
            .unwrap()
            .as_deref()
            .map(|b| b.len()),
        Some(0),
        "contract: an empty secret is stored"
    );
    v.put_secret("contract/a", b"replaced").await.unwrap();
    assert_eq!(
        v.get_secret("contract/a")
            .await
            .unwrap()
            .as_deref()
            .map(|b| b.to_vec()),
        Some(b"replaced".to_vec()),
        "contract: put replaces"
    );
    assert!(
        v.delete_secret("contract/a").await.unwrap(),
        "contract: delete of a secret is true"
    );
    assert!(v.get_secret("contract/a").await.unwrap().is_none());
    assert!(
        v.get_secret("contract/b").await.unwrap().is_some(),
        "contract: names are independent"
    );
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
    let (a, b) = futures_join(
        kms_core::policy::update_in(s, &id, |r| r.start()),
        kms_core::policy::update_in(s, &id, |r| r.start()),
    )
    .await;
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
