//! Tests of a node's encrypted storage on disk.

use super::*;
use crate::contract::{self, files_under, fingerprint, key, node_config, password};
use crate::keyring::DEFAULT_PBKDF2_ITERATIONS;
use kms_core::ports::{AuditLog, MetadataStore, ShardRecord, ShardStore};
use kms_core::{Algorithm, NodeId};
use redb::ReadableTable;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use zeroize::Zeroizing;

/// The refresh session the tests stage under.
const S: kms_core::ports::SessionId = kms_core::ports::SessionId([7; 32]);

fn open(root: &Path) -> NodeStorage {
    NodeStorage::open(node_config(root, "tss1"), &password("node password")).unwrap()
}

/// A share whose bytes cannot occur by chance in a file.
fn secret_share(version: u64) -> ShardRecord {
    let data: Vec<u8> = (0..96u32)
        .map(|i| (i.wrapping_mul(151).wrapping_add(version as u32 * 7) % 251) as u8)
        .collect();
    ShardRecord {
        algorithm: Algorithm::Gg18,
        version,
        data: Zeroizing::new(data),
    }
}

/// Edit one stored shard record as an attacker with the file would.
fn edit_record(
    root: &Path,
    table: redb::TableDefinition<&str, &[u8]>,
    f: impl FnOnce(&mut redb::Table<&str, &[u8]>),
) {
    let db = EmbeddedDb::open(&node_config(root, "tss1").db_path()).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(table).unwrap();
        f(&mut t);
    }
    txn.commit().unwrap();
}

fn raw(t: &redb::Table<&str, &[u8]>, k: &str) -> Vec<u8> {
    t.get(k).unwrap().unwrap().value().to_vec()
}

fn assert_corrupt_naming(r: Result<Option<ShardRecord>, kms_core::StorageError>, key_id: &str) {
    match r {
        Err(kms_core::StorageError::Corrupt(msg)) => {
            assert!(msg.contains(&format!("key {key_id}")), "{msg}")
        }
        other => panic!("expected Corrupt naming {key_id}, got {other:?}"),
    }
}

/// A factory of fresh node storages, each in its own directory under `root`.
fn fresh_nodes(root: &Path) -> impl FnMut() -> std::future::Ready<NodeStorage> + '_ {
    let mut n = 0;
    move || {
        n += 1;
        std::future::ready(open(&root.join(format!("fresh{n}"))))
    }
}

#[tokio::test]
async fn shard_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = fresh_nodes(dir.path());
    contract::shard_store_contract(|| {
        let node = fresh();
        async move { node.await.shards() }
    })
    .await;
}

#[tokio::test]
async fn secret_vault_contract() {
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = fresh_nodes(dir.path());
    contract::secret_vault_contract(|| {
        let node = fresh();
        async move { node.await.vault() }
    })
    .await;
}

#[tokio::test]
async fn metadata_store_contract_on_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = fresh_nodes(dir.path());
    contract::metadata_store_contract(|| {
        let node = fresh();
        async move { node.await.metadata() }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_contract_on_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = fresh_nodes(dir.path());
    contract::audit_log_contract(|| {
        let node = fresh();
        async move { node.await.audit() }
    })
    .await;
}

#[tokio::test]
async fn writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let k = key("durable");
    {
        let node = open(dir.path());
        node.shards().put(&k, &secret_share(1)).await.unwrap();
        node.shards().stage(&k, &S, &secret_share(2)).await.unwrap();
        node.metadata()
            .insert(&contract::metadata("durable", 1))
            .await
            .unwrap();
        node.audit().append(contract::audit_event(1)).await.unwrap();
    }
    let node = open(dir.path());
    let s = node.shards();
    let got = s.get(&k).await.unwrap().unwrap();
    assert_eq!((got.version, got.algorithm), (1, Algorithm::Gg18));
    assert_eq!(*got.data, *secret_share(1).data);
    s.commit_staged(&k, &S, 2).await.unwrap();
    assert_eq!(*s.get(&k).await.unwrap().unwrap().data, *secret_share(2).data);
    assert!(node
        .metadata()
        .get(&contract::metadata("durable", 1).key_id)
        .await
        .unwrap()
        .is_some());
    assert_eq!(node.audit().records().await.unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_password_is_typed_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let node = open(dir.path());
        node.shards().put(&key("k"), &secret_share(1)).await.unwrap();
    }
    let before = fingerprint(dir.path());
    assert!(before.len() >= 2);
    // Let a second pass so a rewritten file would show a new mtime.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let err = NodeStorage::open(node_config(dir.path(), "tss1"), &password("guess")).unwrap_err();
    assert!(
        matches!(&err, kms_core::StorageError::WrongPassword(n) if n == "tss1"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "wrong password for node tss1");
    assert_eq!(fingerprint(dir.path()), before);
}

#[tokio::test]
async fn tampered_ciphertext_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path())
        .shards()
        .put(&key("victim"), &secret_share(1))
        .await
        .unwrap();
    edit_record(dir.path(), SHARDS_CURRENT, |t| {
        let mut v = raw(t, "victim");
        let last = v.len() - 20;
        v[last] ^= 0x01;
        t.insert("victim", v.as_slice()).unwrap();
    });
    assert_corrupt_naming(open(dir.path()).shards().get(&key("victim")).await, "victim");
}

#[tokio::test]
async fn truncated_record_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path())
        .shards()
        .put(&key("short"), &secret_share(1))
        .await
        .unwrap();
    for cut in [1usize, 30, 90] {
        edit_record(dir.path(), SHARDS_CURRENT, |t| {
            let v = raw(t, "short");
            t.insert("short", &v[..v.len() - cut]).unwrap();
        });
        assert_corrupt_naming(open(dir.path()).shards().get(&key("short")).await, "short");
    }
    edit_record(dir.path(), SHARDS_CURRENT, |t| {
        t.insert("short", b"KS".as_slice()).unwrap();
    });
    assert_corrupt_naming(open(dir.path()).shards().get(&key("short")).await, "short");
}

#[tokio::test]
async fn record_moved_to_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path()).shards();
        s.put(&key("alice"), &secret_share(1)).await.unwrap();
        s.put(&key("bob"), &secret_share(5)).await.unwrap();
    }
    edit_record(dir.path(), SHARDS_CURRENT, |t| {
        let v = raw(t, "alice");
        t.insert("bob", v.as_slice()).unwrap();
    });
    let s = open(dir.path()).shards();
    assert_corrupt_naming(s.get(&key("bob")).await, "bob");
    assert!(s.get(&key("alice")).await.unwrap().is_some());
}

#[tokio::test]
async fn relabelled_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path())
        .shards()
        .put(&key("ver"), &secret_share(1))
        .await
        .unwrap();
    edit_record(dir.path(), SHARDS_CURRENT, |t| {
        let mut v = raw(t, "ver");
        // Header: magic (4), algorithm length (1), "GG18" (4), then the version.
        let at = 4 + 1 + 4;
        v[at..at + 8].copy_from_slice(&2u64.to_be_bytes());
        t.insert("ver", v.as_slice()).unwrap();
    });
    assert_corrupt_naming(open(dir.path()).shards().get(&key("ver")).await, "ver");
}

#[tokio::test]
async fn tampered_staged_record_is_not_committed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path()).shards();
        s.put(&key("st"), &secret_share(1)).await.unwrap();
        s.stage(&key("st"), &S, &secret_share(2)).await.unwrap();
    }
    edit_record(dir.path(), SHARDS_STAGED, |t| {
        let mut v = raw(t, "st");
        let n = v.len() - 1;
        v[n] ^= 0x80;
        t.insert("st", v.as_slice()).unwrap();
    });
    let s = open(dir.path()).shards();
    let err = s.commit_staged(&key("st"), &S, 2).await.unwrap_err();
    assert!(
        matches!(&err, kms_core::StorageError::Corrupt(m) if m.contains("key st")),
        "{err:?}"
    );
    assert_eq!(s.get(&key("st")).await.unwrap().unwrap().version, 1);
}

#[tokio::test]
async fn no_plaintext_share_byte_reaches_disk() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup");
    let shares = [secret_share(1), secret_share(2), secret_share(3)];
    {
        let node = open(dir.path());
        let s = node.shards();
        s.put(&key("scan"), &shares[0]).await.unwrap();
        s.stage(&key("scan"), &S, &shares[1]).await.unwrap();
        s.commit_staged(&key("scan"), &S, 2).await.unwrap();
        s.stage(&key("scan"), &S, &shares[2]).await.unwrap();
        node.backup(&backup).unwrap();
    }
    let files = files_under(dir.path());
    assert!(files.len() >= 5, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for share in &shares {
            // Any 16-byte window of the share would betray it.
            for window in share.data.windows(16) {
                assert!(
                    !bytes.windows(16).any(|w| w == window),
                    "plaintext share bytes in {}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn files_are_0600_and_directories_0700() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("node");
    let node = open(&root);
    let backup = dir.path().join("backup");
    node.backup(&backup).unwrap();
    let cfg = node_config(&root, "tss1");
    for d in [&cfg.certs_dir, &cfg.data_dir, &backup] {
        let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    let mut files = files_under(&root);
    files.extend(files_under(&backup));
    assert!(files.contains(&cfg.dek_path()) && files.contains(&cfg.db_path()));
    for f in files {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
}

#[test]
fn iteration_counts_below_the_floor_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = node_config(dir.path(), "tss1");
    cfg.pbkdf2_iterations = 9_999;
    assert!(NodeStorage::open(cfg.clone(), &password("p")).is_err());
    assert!(!cfg.dek_path().exists());

    drop(open(dir.path()));
    let path = node_config(dir.path(), "tss1").dek_path();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10..14].copy_from_slice(&9_999u32.to_be_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = NodeStorage::open(node_config(dir.path(), "tss1"), &password("node password")).unwrap_err();
    assert!(
        matches!(&err, kms_core::StorageError::Corrupt(m) if m.contains("9999")),
        "{err:?}"
    );
}

#[test]
fn default_config_uses_production_iterations() {
    let cfg = NodeStorageConfig::under_root(NodeId::new("tss1").unwrap(), "/srv/kms");
    assert!(cfg.pbkdf2_iterations >= 600_000);
    assert_eq!(cfg.pbkdf2_iterations, DEFAULT_PBKDF2_ITERATIONS);
    assert_eq!(cfg.dek_path(), Path::new("/srv/kms/certs/tss1.dek"));
    assert_eq!(cfg.db_path(), Path::new("/srv/kms/data/tss1.redb"));
}

#[test]
fn recorded_iteration_count_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = node_config(dir.path(), "tss1");
    cfg.pbkdf2_iterations = 12_345;
    drop(NodeStorage::open(cfg.clone(), &password("p")).unwrap());
    let bytes = std::fs::read(cfg.dek_path()).unwrap();
    assert_eq!(&bytes[10..14], &12_345u32.to_be_bytes());
    // A later configuration does not change how the existing file is read.
    cfg.pbkdf2_iterations = 10_000;
    drop(NodeStorage::open(cfg, &password("p")).unwrap());
}

#[test]
fn missing_dek_with_existing_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let cfg = node_config(dir.path(), "tss1");
    std::fs::remove_file(cfg.dek_path()).unwrap();
    let err = NodeStorage::open(cfg.clone(), &password("node password")).unwrap_err();
    assert!(matches!(err, kms_core::StorageError::NotFound(_)), "{err:?}");
    assert!(!cfg.dek_path().exists());
}

#[test]
fn certs_and_data_must_differ() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = node_config(dir.path(), "tss1");
    cfg.data_dir = cfg.certs_dir.clone();
    assert!(NodeStorage::open(cfg, &password("p")).is_err());
}

#[test]
fn a_node_is_opened_once() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path());
    assert!(NodeStorage::open(node_config(dir.path(), "tss1"), &password("node password")).is_err());
}

#[tokio::test]
async fn debug_output_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let s = format!("{node:?} {:?} {:?}", node.shards(), secret_share(1));
    assert!(s.contains("redacted"));
    assert!(!s.contains("node password"));
}
