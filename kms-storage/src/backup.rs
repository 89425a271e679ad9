//! Node backups: a consistent snapshot of the node's database, encrypted and
//! authenticated, with a SHA-256 manifest.
//!
//! A backup directory holds:
//!
//! - `snapshot.bin`: every table of the node's database read in one read transaction,
//!   AES-256-GCM encrypted under a key derived (HKDF-SHA256) from the node's DEK, with
//!   node id, backup id and time as associated data. Shard records inside are
//!   still encrypted under the DEK.
//! - `{node_id}.dek`: a copy of the wrapped DEK, so the backup is restorable with the
//!   password alone.
//! - `manifest.json`: the size and SHA-256 of each file, and an HMAC-SHA256 (under
//!   another key derived from the DEK) over the manifest itself. Written last: a
//!   directory without it is not a backup.
//!
//! [`NodeStorage::restore`] checks everything (hashes, password, MAC, decryption, every
//! shard record's authentication) before it writes anything.

use crate::crypto::{self, Encoder, SecretKey};
use crate::embedded::{
    begin_durable_write, db_err, shards, NodeStorage, NodeStorageConfig, AUDIT_LOG, STR_TABLES,
};
use crate::files;
use crate::keyring::DekFile;
use hmac::{Hmac, Mac};
use kms_core::StorageError;
use rand_core::{OsRng, RngCore};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use zeroize::Zeroizing;

const FORMAT: &str = "mpc-kms-node-backup";
const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
const SNAPSHOT: &str = "snapshot.bin";
const SNAPSHOT_DOMAIN: &[u8] = b"mpc-kms/backup-snapshot/v1";

/// One file of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    /// File name inside the backup directory.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// The manifest of a backup (`manifest.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Always `mpc-kms-node-backup`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The node backed up.
    pub node_id: String,
    /// Random id of this backup, hex.
    pub backup_id: String,
    /// When it was taken, Unix milliseconds.
    pub created_at_ms: u64,
    /// Current shards in the snapshot.
    pub shard_count: u64,
    /// Audit records in the snapshot.
    pub audit_records: u64,
    /// The files and their hashes.
    pub files: Vec<BackupFile>,
    /// HMAC-SHA256 of the manifest with this field empty, hex.
    pub mac: String,
}

fn corrupt(why: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("backup: {why}"))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

struct BackupKeys {
    enc: SecretKey,
    mac: SecretKey,
}

impl BackupKeys {
    fn derive(dek: &SecretKey, backup_id: &str) -> Self {
        Self {
            enc: dek.derive_subkey(backup_id.as_bytes(), b"mpc-kms/backup/encrypt/v1"),
            mac: dek.derive_subkey(backup_id.as_bytes(), b"mpc-kms/backup/manifest-mac/v1"),
        }
    }
}

impl BackupManifest {
    fn mac_input(&self) -> Result<Vec<u8>, StorageError> {
        let mut body = self.clone();
        body.mac = String::new();
        serde_json::to_vec(&body).map_err(|e| corrupt(format!("encode manifest: {e}")))
    }

    fn compute_mac(&self, key: &SecretKey) -> Result<Vec<u8>, StorageError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose())
            .map_err(|e| corrupt(format!("HMAC key: {e}")))?;
        mac.update(&self.mac_input()?);
        Ok(mac.finalize().into_bytes().to_vec())
    }

    fn snapshot_aad(&self) -> Vec<u8> {
        Encoder::new()
            .bytes(b"mpc-kms/backup/v1")
            .bytes(self.node_id.as_bytes())
            .bytes(self.backup_id.as_bytes())
            .u64(self.created_at_ms)
            .finish()
    }
}

/// Entries of a string-keyed table: (key, value bytes).
type StrEntries = Vec<(String, Vec<u8>)>;

/// The tables of a node database, as raw key and value bytes.
#[derive(Default)]
struct Snapshot {
    /// (table name, entries) of the string-keyed tables, in [`STR_TABLES`] order.
    str_tables: Vec<(String, StrEntries)>,
    audit: Vec<(u64, Vec<u8>)>,
}

impl Snapshot {
    fn read(db: &redb::Database) -> Result<Snapshot, StorageError> {
        // One read transaction: every table as of the same commit.
        let txn = db.begin_read().map_err(db_err)?;
        let mut snap = Snapshot::default();
        for def in STR_TABLES {
            let t = txn.open_table(def).map_err(db_err)?;
            let mut entries = Vec::new();
            for e in t.iter().map_err(db_err)? {
                let (k, v) = e.map_err(db_err)?;
                entries.push((k.value().to_string(), v.value().to_vec()));
            }
            snap.str_tables
                .push((redb::TableHandle::name(&def).to_string(), entries));
        }
        let t = txn.open_table(AUDIT_LOG).map_err(db_err)?;
        for e in t.iter().map_err(db_err)? {
            let (k, v) = e.map_err(db_err)?;
            snap.audit.push((k.value(), v.value().to_vec()));
        }
        Ok(snap)
    }

    fn encode(&self) -> Vec<u8> {
        let mut enc = Encoder::new()
            .bytes(SNAPSHOT_DOMAIN)
            .u64(self.str_tables.len() as u64);
        for (name, entries) in &self.str_tables {
            enc = enc.bytes(name.as_bytes()).u64(entries.len() as u64);
            for (k, v) in entries {
                enc = enc.bytes(k.as_bytes()).bytes(v);
            }
        }
        enc = enc.u64(self.audit.len() as u64);
        for (k, v) in &self.audit {
            enc = enc.u64(*k).bytes(v);
        }
        enc.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Snapshot, StorageError> {
        let mut d = Decoder(bytes);
        if d.bytes()? != SNAPSHOT_DOMAIN {
            return Err(corrupt("snapshot has the wrong format"));
        }
        let mut snap = Snapshot::default();
        let tables = d.u64()?;
        if tables != STR_TABLES.len() as u64 {
            return Err(corrupt("snapshot has the wrong tables"));
        }
        for def in STR_TABLES {
            let name = String::from_utf8(d.bytes()?.to_vec()).map_err(corrupt)?;
            if name != redb::TableHandle::name(&def) {
                return Err(corrupt(format!("unexpected table {name:?}")));
            }
            let n = d.u64()?;
            let mut entries = Vec::new();
            for _ in 0..n {
                let k = String::from_utf8(d.bytes()?.to_vec()).map_err(corrupt)?;
                entries.push((k, d.bytes()?.to_vec()));
            }
            snap.str_tables.push((name, entries));
        }
        let n = d.u64()?;
        for _ in 0..n {
            let k = d.u64()?;
            snap.audit.push((k, d.bytes()?.to_vec()));
        }
        if !d.0.is_empty() {
            return Err(corrupt("trailing bytes in snapshot"));
        }
        Ok(snap)
    }

    fn table(&self, name: &str) -> &[(String, Vec<u8>)] {
        self.str_tables
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, e)| e.as_slice())
    }

    /// Decrypt every shard record (then drop the plaintext): a backup restores only if
    /// each of them authenticates under this node's DEK.
    fn check_shards(&self, node_id: &str, dek: &SecretKey) -> Result<(), StorageError> {
        for (key, value) in self.table(redb::TableHandle::name(&crate::embedded::SHARDS_CURRENT)) {
            drop(shards::decode(node_id, key, value, dek)?);
        }
        for (key, value) in self.table(redb::TableHandle::name(&crate::embedded::SHARDS_STAGED)) {
            drop(shards::decode_staged(node_id, key, value, dek)?);
        }
        Ok(())
    }

    fn write_into(&self, db: &redb::Database) -> Result<(), StorageError> {
        let txn = begin_durable_write(db)?;
        for def in STR_TABLES {
            let mut t = txn.open_table(def).map_err(db_err)?;
            for (k, v) in self.table(redb::TableHandle::name(&def)) {
                t.insert(k.as_str(), v.as_slice()).map_err(db_err)?;
            }
        }
        {
            let mut t = txn.open_table(AUDIT_LOG).map_err(db_err)?;
            for (k, v) in &self.audit {
                t.insert(*k, v.as_slice()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }
}

struct Decoder<'a>(&'a [u8]);

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StorageError> {
        if self.0.len() < n {
            return Err(corrupt("snapshot truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, StorageError> {
        let b = self.take(8)?;
        let arr: [u8; 8] = b.try_into().map_err(|_| corrupt("snapshot truncated"))?;
        Ok(u64::from_be_bytes(arr))
    }

    fn bytes(&mut self) -> Result<&'a [u8], StorageError> {
        let n = usize::try_from(self.u64()?).map_err(|_| corrupt("snapshot length"))?;
        self.take(n)
    }
}

fn file_entry(name: &str, bytes: &[u8]) -> BackupFile {
    BackupFile {
        name: name.to_string(),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

/// Read and check a backup's manifest and files: each listed file present with its size
/// and SHA-256. Needs no password.
fn read_verified(backup_dir: &Path) -> Result<(BackupManifest, StrEntries), StorageError> {
    let path = backup_dir.join(MANIFEST);
    let bytes = files::read_if_exists(&path)?.ok_or_else(|| corrupt("manifest.json is missing"))?;
    let manifest: BackupManifest =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("manifest.json: {e}")))?;
    if manifest.format != FORMAT || manifest.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "unknown format {} version {}",
            manifest.format, manifest.version
        )));
    }
    let mut contents = Vec::new();
    for f in &manifest.files {
        // Names come from the manifest: only plain names inside the backup directory.
        if f.name.contains('/') || f.name.starts_with('.') || f.name.is_empty() {
            return Err(corrupt(format!("bad file name {:?}", f.name)));
        }
        let data = files::read_if_exists(&backup_dir.join(&f.name))?
            .ok_or_else(|| corrupt(format!("{} is missing", f.name)))?;
        if data.len() as u64 != f.size || hex::encode(Sha256::digest(&data)) != f.sha256 {
            return Err(corrupt(format!(
                "{} does not match its SHA-256 in the manifest",
                f.name
            )));
        }
        contents.push((f.name.clone(), data));
    }
    Ok((manifest, contents))
}

impl NodeStorage {
    /// Write a backup of this node into `dir` (created 0700 if missing; it must not
    /// already hold a backup). The snapshot is consistent: all tables as of one commit.
    /// Blocks on file I/O.
    pub fn backup(&self, dir: &Path) -> Result<BackupManifest, StorageError> {
        if dir.join(MANIFEST).exists() {
            return Err(StorageError::AlreadyExists(format!(
                "backup in {}",
                dir.display()
            )));
        }
        let node = self.node_id().as_str().to_string();
        let dek_file = files::read_if_exists(&self.config().dek_path())?
            .ok_or_else(|| StorageError::NotFound(format!("{node}.dek")))?;
        let snap = Snapshot::read(&self.db().raw())?;

        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        let mut manifest = BackupManifest {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            node_id: node.clone(),
            backup_id: hex::encode(id),
            created_at_ms: now_ms(),
            shard_count: snap
                .table(redb::TableHandle::name(&crate::embedded::SHARDS_CURRENT))
                .len() as u64,
            // Key 0 of the audit table is its signed head, not a record.
            audit_records: snap.audit.iter().filter(|(seq, _)| *seq != 0).count() as u64,
            files: Vec::new(),
            mac: String::new(),
        };
        let keys = BackupKeys::derive(self.dek(), &manifest.backup_id);
        let sealed = crypto::seal(&keys.enc, &manifest.snapshot_aad(), &snap.encode());
        let dek_name = format!("{node}.dek");

        files::create_private_dir(dir)?;
        files::write_private_atomic(&dir.join(SNAPSHOT), &sealed)?;
        files::write_private_atomic(&dir.join(&dek_name), &dek_file)?;
        manifest.files = vec![file_entry(SNAPSHOT, &sealed), file_entry(&dek_name, &dek_file)];
        manifest.mac = hex::encode(manifest.compute_mac(&keys.mac)?);
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| StorageError::Backend(format!("encode manifest: {e}")))?;
        files::write_private_atomic(&dir.join(MANIFEST), &json)?;
        Ok(manifest)
    }

    /// Restore the backup in `backup_dir` to the node described by `target`, whose
    /// database must not exist (its `.dek`, if present, must be the backed-up one).
    ///
    /// Before writing anything it checks each file against the manifest's SHA-256,
    /// unwraps the DEK with `password` ([`StorageError::WrongPassword`]), checks the
    /// manifest's MAC, decrypts the snapshot and authenticates every shard record; a
    /// failed check is [`StorageError::Corrupt`]. Open the node afterwards with
    /// [`NodeStorage::open`].
    pub fn restore(
        backup_dir: &Path,
        target: &NodeStorageConfig,
        password: &Zeroizing<String>,
    ) -> Result<BackupManifest, StorageError> {
        target.validate()?;
        let node = target.node_id.as_str();
        let (manifest, contents) = read_verified(backup_dir)?;
        if manifest.node_id != node {
            return Err(corrupt(format!(
                "backup is of node {}, not {node}",
                manifest.node_id
            )));
        }
        let find = |name: &str| {
            contents
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.as_slice())
                .ok_or_else(|| corrupt(format!("manifest does not list {name}")))
        };
        let dek_bytes = find(&format!("{node}.dek"))?;
        let sealed = find(SNAPSHOT)?;

        let dek = DekFile::parse(node, dek_bytes)?.unwrap_dek(node, password)?;
        let keys = BackupKeys::derive(&dek, &manifest.backup_id);
        let expected = manifest.compute_mac(&keys.mac)?;
        let given = hex::decode(&manifest.mac).map_err(|_| corrupt("manifest MAC is not hex"))?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_slice(),
            given.as_slice(),
        )) {
            return Err(corrupt("manifest MAC does not verify"));
        }
        let plain = crypto::open(&keys.enc, &manifest.snapshot_aad(), sealed)
            .map_err(|_| corrupt("snapshot fails authentication"))?;
        let snap = Snapshot::decode(&plain)?;
        snap.check_shards(node, &dek)?;

        let db_path = target.db_path();
        if db_path.exists() {
            return Err(StorageError::AlreadyExists(format!(
                "database {} (remove it to restore)",
                db_path.display()
            )));
        }
        let dek_path = target.dek_path();
        match files::read_if_exists(&dek_path)? {
            Some(existing) if existing != dek_bytes => {
                return Err(StorageError::AlreadyExists(format!(
                    "{} differs from the backed-up DEK file",
                    dek_path.display()
                )))
            }
            Some(_) => {}
            None => {
                files::create_private_dir(&target.certs_dir)?;
                files::write_private_atomic(&dek_path, dek_bytes)?;
            }
        }

        // Build the database beside its final name, then rename: a crash leaves no
        // half-restored database under the real name.
        files::create_private_dir(&target.data_dir)?;
        let tmp = target.data_dir.join(format!("{node}.redb.restore"));
        if tmp.exists() {
            std::fs::remove_file(&tmp).map_err(|e| files::io_err("cannot remove", &tmp, e))?;
        }
        {
            let db = crate::embedded::EmbeddedDb::open(&tmp)?;
            snap.write_into(&db.raw())?;
        }
        std::fs::rename(&tmp, &db_path).map_err(|e| files::io_err("cannot rename into", &db_path, e))?;
        files::sync_dir(&target.data_dir)?;
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{self, fingerprint, key, node_config, password, shard};
    use kms_core::audit::verify_chain;
    use kms_core::ports::{AuditLog, MetadataStore, ShardStore};
    use std::path::PathBuf;

    const PW: &str = "node password";

    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        backup: PathBuf,
    }

    /// A node with two keys (one with a staged refresh), metadata and audit records,
    /// backed up; the node itself is closed.
    async fn backed_up() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("node");
        let backup = dir.path().join("backup");
        let node = NodeStorage::open(node_config(&root, "tss1"), &password(PW)).unwrap();
        let s = node.shards();
        s.put(&key("k1"), &shard(1, 0x11)).await.unwrap();
        s.put(&key("k2"), &shard(1, 0x22)).await.unwrap();
        s.stage(&key("k2"), &kms_core::ports::SessionId([7; 32]), &shard(2, 0x23))
            .await
            .unwrap();
        node.metadata()
            .insert(&contract::metadata("bk", 1))
            .await
            .unwrap();
        for i in 1..=3 {
            node.audit().append(contract::audit_event(i)).await.unwrap();
        }
        let manifest = node.backup(&backup).unwrap();
        assert_eq!(manifest.node_id, "tss1");
        assert_eq!((manifest.shard_count, manifest.audit_records), (2, 3));
        assert_eq!(manifest.files.len(), 2);
        // Writes after the backup are not in it.
        s.put(&key("k3"), &shard(1, 0x33)).await.unwrap();
        Fixture {
            _dir: dir,
            root,
            backup,
        }
    }

    /// Remove the node's data directory (the disaster).
    fn destroy_data(f: &Fixture) {
        std::fs::remove_dir_all(node_config(&f.root, "tss1").data_dir).unwrap();
    }

    fn restore(f: &Fixture) -> Result<BackupManifest, StorageError> {
        NodeStorage::restore(&f.backup, &node_config(&f.root, "tss1"), &password(PW))
    }

    /// Restoring must fail with nothing written under the node's root.
    fn assert_refused_untouched(f: &Fixture, pred: impl Fn(&StorageError) -> bool) {
        let before = fingerprint(&f.root);
        let err = restore(f).unwrap_err();
        assert!(pred(&err), "{err:?}");
        assert_eq!(fingerprint(&f.root), before);
        assert!(!node_config(&f.root, "tss1").data_dir.exists());
    }

    fn corrupt_err(e: &StorageError) -> bool {
        matches!(e, StorageError::Corrupt(_))
    }

    #[tokio::test]
    async fn round_trip_restores_shards_metadata_and_audit() {
        let f = backed_up().await;
        destroy_data(&f);
        let manifest = restore(&f).unwrap();
        assert_eq!(manifest.shard_count, 2);
        let node = NodeStorage::open(node_config(&f.root, "tss1"), &password(PW)).unwrap();
        let s = node.shards();
        assert_eq!(s.list().await.unwrap(), vec![key("k1"), key("k2")]);
        assert_eq!(
            *s.get(&key("k1")).await.unwrap().unwrap().data,
            *shard(1, 0x11).data
        );
        s.commit_staged(&key("k2"), &kms_core::ports::SessionId([7; 32]), 2)
            .await
            .unwrap();
        assert_eq!(
            *s.get(&key("k2")).await.unwrap().unwrap().data,
            *shard(2, 0x23).data
        );
        assert_eq!(
            node.metadata()
                .get(&contract::metadata("bk", 1).key_id)
                .await
                .unwrap(),
            Some(contract::metadata("bk", 1))
        );
        let records = node.audit().records().await.unwrap();
        assert_eq!(records.len(), 3);
        verify_chain(&records, &node.audit().anchor().await.unwrap()).unwrap();
        let mode = std::fs::metadata(node_config(&f.root, "tss1").db_path())
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap();
        assert_eq!(mode, 0o600);
    }

    #[tokio::test]
    async fn restore_also_recreates_a_lost_dek_file() {
        let f = backed_up().await;
        destroy_data(&f);
        std::fs::remove_dir_all(node_config(&f.root, "tss1").certs_dir).unwrap();
        restore(&f).unwrap();
        let node = NodeStorage::open(node_config(&f.root, "tss1"), &password(PW)).unwrap();
        assert!(node.shards().get(&key("k1")).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn flipped_byte_in_snapshot_is_refused() {
        let f = backed_up().await;
        destroy_data(&f);
        let p = f.backup.join(SNAPSHOT);
        let mut b = std::fs::read(&p).unwrap();
        b[40] ^= 0x01;
        std::fs::write(&p, &b).unwrap();
        assert_refused_untouched(&f, corrupt_err);
    }

    #[tokio::test]
    async fn flipped_byte_with_matching_manifest_hash_is_refused() {
        // An attacker who also rewrites the SHA-256 in the manifest is stopped by the
        // manifest MAC.
        let f = backed_up().await;
        destroy_data(&f);
        let p = f.backup.join(SNAPSHOT);
        let mut b = std::fs::read(&p).unwrap();
        b[40] ^= 0x01;
        std::fs::write(&p, &b).unwrap();
        let mp = f.backup.join(MANIFEST);
        let mut m: BackupManifest = serde_json::from_slice(&std::fs::read(&mp).unwrap()).unwrap();
        m.files[0].sha256 = hex::encode(Sha256::digest(&b));
        std::fs::write(&mp, serde_json::to_vec(&m).unwrap()).unwrap();
        assert_refused_untouched(&f, |e| matches!(e, StorageError::Corrupt(m) if m.contains("MAC")));
    }

    #[tokio::test]
    async fn missing_file_is_refused() {
        let f = backed_up().await;
        destroy_data(&f);
        std::fs::remove_file(f.backup.join("tss1.dek")).unwrap();
        assert_refused_untouched(
            &f,
            |e| matches!(e, StorageError::Corrupt(m) if m.contains("missing")),
        );
        let g = backed_up().await;
        destroy_data(&g);
        std::fs::remove_file(g.backup.join(MANIFEST)).unwrap();
        assert_refused_untouched(&g, corrupt_err);
    }

    #[tokio::test]
    async fn edited_manifest_is_refused() {
        let f = backed_up().await;
        destroy_data(&f);
        let mp = f.backup.join(MANIFEST);
        let mut m: BackupManifest = serde_json::from_slice(&std::fs::read(&mp).unwrap()).unwrap();
        m.created_at_ms += 1;
        std::fs::write(&mp, serde_json::to_vec(&m).unwrap()).unwrap();
        assert_refused_untouched(&f, corrupt_err);
    }

    #[tokio::test]
    async fn wrong_password_is_refused() {
        let f = backed_up().await;
        destroy_data(&f);
        let before = fingerprint(&f.root);
        let err =
            NodeStorage::restore(&f.backup, &node_config(&f.root, "tss1"), &password("nope")).unwrap_err();
        assert!(matches!(err, StorageError::WrongPassword(_)), "{err:?}");
        assert_eq!(fingerprint(&f.root), before);
    }

    #[tokio::test]
    async fn restore_never_overwrites_a_database() {
        let f = backed_up().await;
        let before = fingerprint(&f.root);
        assert!(matches!(restore(&f), Err(StorageError::AlreadyExists(_))));
        assert_eq!(fingerprint(&f.root), before);
    }

    #[tokio::test]
    async fn backup_of_another_node_is_refused() {
        let f = backed_up().await;
        let other = node_config(&f.root, "tss2");
        let err = NodeStorage::restore(&f.backup, &other, &password(PW)).unwrap_err();
        assert!(matches!(err, StorageError::Corrupt(m) if m.contains("tss1")));
        assert!(!other.db_path().exists());
    }

    #[tokio::test]
    async fn backup_does_not_overwrite_a_backup() {
        let f = backed_up().await;
        let node = NodeStorage::open(node_config(&f.root, "tss1"), &password(PW)).unwrap();
        assert!(matches!(
            node.backup(&f.backup),
            Err(StorageError::AlreadyExists(_))
        ));
    }
}
