//! Tests of the storage review's findings on files at rest (L1, M6), each named after
//! its finding.

use super::*;
use crate::contract::{fingerprint, node_config, password};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

#[test]
fn review_storage_l1_stale_tmp_cannot_widen_dek_mode() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss1");
    files::create_private_dir(&cfg.certs_dir).unwrap();
    // A world-readable temporary file left where the old code wrote its fixed tmp name.
    let stale = cfg.certs_dir.join("tss1.dek.tmp");
    std::fs::write(&stale, b"").unwrap();
    chmod(&stale, 0o644);
    drop(NodeStorage::open(cfg.clone(), &password("pw")).unwrap());
    assert_eq!(
        mode(&cfg.dek_path()),
        0o600,
        "the new DEK file inherited a wider mode"
    );

    // A symlink planted at a temporary name is never followed: the target is untouched.
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss1");
    files::create_private_dir(&cfg.certs_dir).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"untouched").unwrap();
    std::os::unix::fs::symlink(&victim, cfg.certs_dir.join("tss1.dek.tmp")).unwrap();
    drop(NodeStorage::open(cfg.clone(), &password("pw")).unwrap());
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
    assert!(!std::fs::symlink_metadata(cfg.dek_path())
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(mode(&cfg.dek_path()), 0o600);

    // Two writers of one file never share a temporary file, and none is left behind.
    let target = dir.path().join("certs").join("other.bin");
    files::write_private_atomic(&target, b"one").unwrap();
    files::write_private_atomic(&target, b"two").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"two");
    let leftovers: Vec<_> = std::fs::read_dir(&cfg.certs_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("other.bin") && n != "other.bin")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn review_storage_l1_wide_mode_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss1");
    drop(NodeStorage::open(cfg.clone(), &password("pw")).unwrap());
    let cases: [(&Path, u32, u32); 4] = [
        (&cfg.dek_path(), 0o644, 0o600),
        (&cfg.db_path(), 0o640, 0o600),
        (&cfg.certs_dir, 0o755, 0o700),
        (&cfg.data_dir, 0o750, 0o700),
    ];
    for (path, wide, good) in cases {
        chmod(path, wide);
        let before = fingerprint(dir.path());
        let err = NodeStorage::open(cfg.clone(), &password("pw")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains(&format!("{wide:o}")),
            "{}: {msg}",
            path.display()
        );
        assert_eq!(fingerprint(dir.path()), before, "a refused open changed a file");
        assert_eq!(mode(path), wide, "the mode was silently changed");
        chmod(path, good);
    }
    // Narrower than required is fine (a read-only DEK file, say).
    chmod(&cfg.dek_path(), 0o400);
    drop(NodeStorage::open(cfg.clone(), &password("pw")).unwrap());

    // A new node in an existing, too-open directory is refused before anything is made.
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss2");
    std::fs::create_dir_all(&cfg.certs_dir).unwrap();
    chmod(&cfg.certs_dir, 0o777);
    let err = NodeStorage::open(cfg.clone(), &password("pw")).unwrap_err();
    assert!(
        err.to_string().contains(&cfg.certs_dir.display().to_string()),
        "{err}"
    );
    assert!(!cfg.dek_path().exists());
}

/// The raw stored bytes of `key`'s current record.
fn raw_current(db: &EmbeddedDb, key: &str) -> Vec<u8> {
    use redb::ReadableDatabase;
    let txn = db.raw().begin_read().unwrap();
    let t = txn.open_table(SHARDS_CURRENT).unwrap();
    let v = t.get(key).unwrap().unwrap().value().to_vec();
    v
}

fn file_holds(path: &Path, needle: &[u8]) -> bool {
    // The AES-GCM body of the record (past its header and nonce) is what must go.
    let body = &needle[needle.len() - 48..];
    std::fs::read(path)
        .unwrap()
        .windows(body.len())
        .any(|w| w == body)
}

#[tokio::test]
async fn review_storage_m6_no_superseded_shard_in_file() {
    use kms_core::ports::{ShardRecord, ShardStore};
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss1");
    let node = NodeStorage::open(cfg.clone(), &password("pw")).unwrap();
    let s = node.shards();
    let rec = |v: u64| ShardRecord {
        algorithm: kms_core::Algorithm::Eddsa,
        version: v,
        data: zeroize::Zeroizing::new(vec![v as u8; 200]),
    };
    let (refreshed, destroyed) = (
        crate::contract::key("refreshed"),
        crate::contract::key("destroyed"),
    );
    let mut gone = Vec::new();
    // A refresh: epoch 1, 2 and 3 of one key, each replaced by the next.
    s.put(&refreshed, &rec(1)).await.unwrap();
    for v in 2..=3 {
        gone.push(raw_current(node.db(), "refreshed"));
        let session = kms_core::ports::SessionId([v as u8; 32]);
        s.stage(&refreshed, &session, &rec(v)).await.unwrap();
        s.commit_staged(&refreshed, &session, v).await.unwrap();
    }
    let kept = raw_current(node.db(), "refreshed");
    // A destroy, of a key that also had a staged record.
    s.put(&destroyed, &rec(1)).await.unwrap();
    gone.push(raw_current(node.db(), "destroyed"));
    s.stage(&destroyed, &kms_core::ports::SessionId([9; 32]), &rec(2))
        .await
        .unwrap();
    assert!(s.delete(&destroyed).await.unwrap());
    for (i, old) in gone.iter().enumerate() {
        assert!(
            !file_holds(&cfg.db_path(), old),
            "superseded record {i} is still in the file"
        );
    }
    // The test can see a record: the current one is found.
    assert!(file_holds(&cfg.db_path(), &kept));
    drop(s);
    drop(node);
    for old in &gone {
        assert!(!file_holds(&cfg.db_path(), old));
    }
}

/// A stand-in for a hardware KEK: the wrapping key never leaves it, and it can be
/// "unplugged". It seals the DEK with AES-256-GCM bound to the node id, as a token
/// doing AES-GCM inside the device would.
struct DeviceKek {
    key: crate::crypto::SecretKey,
    present: bool,
}

impl crate::keyring::KeyEncryptionKey for DeviceKek {
    fn wrap_dek(
        &self,
        node_id: &str,
        dek: &crate::crypto::SecretKey,
    ) -> Result<Vec<u8>, kms_core::StorageError> {
        if !self.present {
            return Err(kms_core::StorageError::Backend("device not present".into()));
        }
        Ok(crate::crypto::seal(&self.key, node_id.as_bytes(), dek.expose()))
    }

    fn unwrap_dek(
        &self,
        node_id: &str,
        file: &[u8],
    ) -> Result<crate::crypto::SecretKey, kms_core::StorageError> {
        if !self.present {
            return Err(kms_core::StorageError::Backend("device not present".into()));
        }
        let dek = crate::crypto::open(&self.key, node_id.as_bytes(), file)
            .map_err(|_| kms_core::StorageError::WrongPassword(node_id.to_string()))?;
        let bytes: [u8; 32] = dek.as_slice().try_into().unwrap();
        Ok(crate::crypto::SecretKey::from_bytes(&bytes))
    }
}

#[tokio::test]
async fn keys_in_hardware_kek_port_wraps_the_dek() {
    use kms_core::ports::{ShardRecord, ShardStore};
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss1");
    let device = DeviceKek {
        key: crate::crypto::SecretKey::from_bytes(&[0x5a; 32]),
        present: true,
    };
    // A device missing at the very first start: refused, and no file is made.
    let unplugged = DeviceKek {
        key: crate::crypto::SecretKey::from_bytes(&[0x5a; 32]),
        present: false,
    };
    assert!(NodeStorage::open_with_kek(cfg.clone(), &unplugged).is_err());
    assert!(!cfg.dek_path().exists() && !cfg.db_path().exists());

    let k = crate::contract::key("hw");
    let rec = ShardRecord {
        algorithm: kms_core::Algorithm::Eddsa,
        version: 1,
        data: zeroize::Zeroizing::new(vec![7u8; 64]),
    };
    {
        let node = NodeStorage::open_with_kek(cfg.clone(), &device).unwrap();
        node.shards().put(&k, &rec).await.unwrap();
    }
    let node = NodeStorage::open_with_kek(cfg.clone(), &device).unwrap();
    assert_eq!(*node.shards().get(&k).await.unwrap().unwrap().data, *rec.data);
    drop(node);

    // Device missing, another device, or the password: refused, no file changed.
    let before = fingerprint(dir.path());
    let other = DeviceKek {
        key: crate::crypto::SecretKey::from_bytes(&[0x5b; 32]),
        present: true,
    };
    assert!(NodeStorage::open_with_kek(cfg.clone(), &unplugged).is_err());
    assert!(matches!(
        NodeStorage::open_with_kek(cfg.clone(), &other),
        Err(kms_core::StorageError::WrongPassword(n)) if n == "tss1"
    ));
    assert!(NodeStorage::open(cfg.clone(), &password("pw")).is_err());
    assert_eq!(fingerprint(dir.path()), before);

    // The password KEK through the same port keeps the documented 107-byte format.
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss2");
    let kek = crate::keyring::PasswordKek::new(password("pw"), cfg.pbkdf2_iterations);
    assert!(!format!("{kek:?}").contains("pw\""));
    drop(NodeStorage::open_with_kek(cfg.clone(), &kek).unwrap());
    assert_eq!(
        std::fs::read(cfg.dek_path()).unwrap().len(),
        crate::keyring::DEK_FILE_LEN
    );
    drop(NodeStorage::open(cfg, &password("pw")).unwrap());
}
