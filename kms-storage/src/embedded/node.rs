//! A node's storage: its wrapped DEK in the certs directory, its embedded database in
//! the data directory, opened with the node's password.

use super::{EmbeddedAuditLog, EmbeddedDb, EmbeddedMetadataStore, EncryptedShardStore};
use crate::crypto::SecretKey;
use crate::files;
use crate::keyring::{
    self, KeyEncryptionKey, PasswordKek, DEFAULT_PBKDF2_ITERATIONS, MAX_PBKDF2_ITERATIONS,
    MIN_PBKDF2_ITERATIONS,
};
use kms_core::audit::AuditSigner;
use kms_core::identity::NodeIdentity;
use kms_core::{NodeId, StorageError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// Where a node keeps its secrets at rest and how its DEK is protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStorageConfig {
    /// The node.
    pub node_id: NodeId,
    /// Directory of `{node_id}.dek` (with the node's TLS material, typically).
    pub certs_dir: PathBuf,
    /// Directory of the node's database `{node_id}.redb`. Must differ from
    /// `certs_dir`, so a copy of one does not carry the other.
    pub data_dir: PathBuf,
    /// PBKDF2 iterations for a new DEK file (an existing file records its own count).
    /// At least [`MIN_PBKDF2_ITERATIONS`].
    pub pbkdf2_iterations: u32,
}

impl NodeStorageConfig {
    /// A configuration with the default PBKDF2 iteration count.
    pub fn new(node_id: NodeId, certs_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            node_id,
            certs_dir: certs_dir.into(),
            data_dir: data_dir.into(),
            pbkdf2_iterations: DEFAULT_PBKDF2_ITERATIONS,
        }
    }

    /// The conventional layout under one root: `root/certs/{node}.dek` and
    /// `root/data/{node}.redb`.
    pub fn under_root(node_id: NodeId, root: impl AsRef<Path>) -> Self {
        let root = root.as_ref();
        Self::new(node_id, root.join("certs"), root.join("data"))
    }

    /// Path of the wrapped DEK.
    pub fn dek_path(&self) -> PathBuf {
        keyring::dek_path(&self.certs_dir, self.node_id.as_str())
    }

    /// Path of the database.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(format!("{}.redb", self.node_id))
    }

    pub(crate) fn validate(&self) -> Result<(), StorageError> {
        // Existing directories must be private before anything is read or made in
        // them (a missing one is created 0700 later).
        for dir in [&self.certs_dir, &self.data_dir] {
            if dir.exists() {
                files::check_private_dir(dir)?;
            }
        }
        if self.pbkdf2_iterations > MAX_PBKDF2_ITERATIONS {
            return Err(StorageError::Backend(format!(
                "node {}: configured PBKDF2 iteration count {} is above the maximum {MAX_PBKDF2_ITERATIONS}",
                self.node_id, self.pbkdf2_iterations
            )));
        }
        if self.pbkdf2_iterations < MIN_PBKDF2_ITERATIONS {
            return Err(StorageError::Backend(format!(
                "node {}: configured PBKDF2 iteration count {} is below the minimum {MIN_PBKDF2_ITERATIONS}",
                self.node_id, self.pbkdf2_iterations
            )));
        }
        if self.certs_dir == self.data_dir {
            return Err(StorageError::Backend(format!(
                "node {}: certs and data must be different directories ({})",
                self.node_id,
                self.data_dir.display()
            )));
        }
        Ok(())
    }
}

/// A node's open storage. Holds the DEK in memory (zeroized on drop) and the open
/// database; hands out the stores that use them. Clones share both.
#[derive(Clone)]
pub struct NodeStorage {
    config: NodeStorageConfig,
    db: EmbeddedDb,
    dek: Arc<SecretKey>,
    audit_signer: Arc<AuditSigner>,
}

impl std::fmt::Debug for NodeStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeStorage")
            .field("config", &self.config)
            .field("dek", &"<redacted>")
            .finish()
    }
}

/// Load the node's DEK through `kek`, or create one when the node is new. Touches no
/// file unless it creates the DEK.
pub(crate) fn load_or_create_dek_with(
    config: &NodeStorageConfig,
    kek: &dyn KeyEncryptionKey,
) -> Result<SecretKey, StorageError> {
    let node = config.node_id.as_str();
    let dek_path = config.dek_path();
    if let Some(bytes) = files::read_private_if_exists(&dek_path)? {
        return kek.unwrap_dek(node, &bytes);
    }
    // Data without its DEK cannot be read; a fresh DEK would hide that until a get.
    if config.db_path().exists() {
        return Err(StorageError::NotFound(format!(
            "{node}.dek in {} (the node's database exists: restore the DEK file or a backup)",
            config.certs_dir.display()
        )));
    }
    let dek = SecretKey::random();
    // Wrapped before anything is written: a KEK that cannot wrap leaves no file.
    let file = kek.wrap_dek(node, &dek)?;
    files::create_private_dir(&config.certs_dir)?;
    files::write_private_atomic(&dek_path, &file)?;
    Ok(dek)
}

/// The key that signs the head of a node's audit log, derived from its DEK, so it is
/// as durable as the `.dek` file and unlocked by the same password.
fn audit_signer(node: &NodeId, dek: &SecretKey) -> AuditSigner {
    let secret = dek.derive_subkey(b"kms-node-derived-secret/v1", b"audit-head/ed25519");
    AuditSigner::from_secret(node.as_str(), secret.expose())
}

impl NodeStorage {
    /// Open a node's storage with its password, creating the DEK and the database on
    /// first use (directories 0700, files 0600).
    ///
    /// A wrong password is [`StorageError::WrongPassword`] and changes no file: the
    /// DEK is unwrapped before the database is opened. A `.dek` file whose iteration
    /// count is outside [`MIN_PBKDF2_ITERATIONS`]..=[`MAX_PBKDF2_ITERATIONS`] is
    /// refused, and so is a `.dek` file, a database or a directory of them whose mode
    /// lets another account in ([`StorageError::InsecurePermissions`], naming the
    /// path); either way no file is changed. This blocks for the PBKDF2 derivation
    /// (about a second at the default count): from async code use
    /// [`NodeStorage::open_async`].
    pub fn open(
        config: NodeStorageConfig,
        password: &Zeroizing<String>,
    ) -> Result<NodeStorage, StorageError> {
        let kek = PasswordKek::new(password.clone(), config.pbkdf2_iterations);
        Self::open_with_kek(config, &kek)
    }

    /// [`NodeStorage::open`] with the DEK wrapped by any [`KeyEncryptionKey`] (a
    /// hardware-backed one, say) instead of the password. A KEK that refuses (wrong
    /// credential, device missing) fails here, before the database is opened, and no
    /// file is changed.
    pub fn open_with_kek(
        config: NodeStorageConfig,
        kek: &dyn KeyEncryptionKey,
    ) -> Result<NodeStorage, StorageError> {
        config.validate()?;
        let dek = load_or_create_dek_with(&config, kek)?;
        files::create_private_dir(&config.data_dir)?;
        let db = EmbeddedDb::open(&config.db_path())?;
        let audit_signer = Arc::new(audit_signer(&config.node_id, &dek));
        // The node's audit log is verified against its signed head at every start.
        EmbeddedAuditLog::open(db.clone(), audit_signer.clone())?;
        Ok(NodeStorage {
            config,
            db,
            dek: Arc::new(dek),
            audit_signer,
        })
    }

    /// [`NodeStorage::open`] on tokio's blocking pool.
    pub async fn open_async(
        config: NodeStorageConfig,
        password: Zeroizing<String>,
    ) -> Result<NodeStorage, StorageError> {
        tokio::task::spawn_blocking(move || NodeStorage::open(config, &password))
            .await
            .map_err(|e| StorageError::Backend(format!("storage task failed: {e}")))?
    }

    /// The node.
    pub fn node_id(&self) -> &NodeId {
        &self.config.node_id
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &NodeStorageConfig {
        &self.config
    }

    /// The node's shard store.
    pub fn shards(&self) -> EncryptedShardStore {
        EncryptedShardStore::new(self.db.clone(), self.config.node_id.clone(), self.dek.clone())
    }

    /// Key metadata in the node's database (for single-process deployments; a
    /// coordinator usually has its own store).
    pub fn metadata(&self) -> EmbeddedMetadataStore {
        EmbeddedMetadataStore::new(self.db.clone())
    }

    /// The node's other secrets (GG18 aux material), sealed under the DEK.
    pub fn vault(&self) -> super::EncryptedVault {
        super::EncryptedVault::new(self.db.clone(), self.config.node_id.clone(), self.dek.clone())
    }

    /// The node's audit log.
    pub fn audit(&self) -> EmbeddedAuditLog {
        EmbeddedAuditLog::verified(self.db.clone(), self.audit_signer.clone())
    }

    /// The public key (hex) that verifies the head of this node's audit log: publish
    /// it with the node's directory entry so a verifier pins it.
    pub fn audit_public_key(&self) -> String {
        self.audit_signer.public_key()
    }

    pub(crate) fn db(&self) -> &EmbeddedDb {
        &self.db
    }

    /// A 32-byte secret for one `purpose`, derived from the DEK by HKDF-SHA256. It is as
    /// durable as the `.dek` file and unlocked by the same password, so a node keeps its
    /// identity keys without another secret file on disk.
    pub fn derive_secret(&self, purpose: &str) -> SecretKey {
        self.dek
            .derive_subkey(b"kms-node-derived-secret/v1", purpose.as_bytes())
    }

    /// The node's identity keys (Ed25519 message signing, X25519 sealing), derived from
    /// its DEK: the same after every restart, unlocked by the same password, and never
    /// written to a file of their own. Peers pin the public half
    /// ([`NodeIdentity::public`]).
    pub fn identity(&self) -> NodeIdentity {
        let signing = self.derive_secret("node-identity/ed25519");
        let dh = self.derive_secret("node-identity/x25519");
        NodeIdentity::from_secrets(self.config.node_id.clone(), signing.expose(), dh.expose())
    }

    pub(crate) fn dek(&self) -> &SecretKey {
        &self.dek
    }
}
