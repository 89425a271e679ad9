//! A node's home directory and the one call that opens a node from it: its encrypted
//! storage and its identity, unlocked by its password. This is what a TSS node daemon
//! needs before it can serve, kept here (beside the DEK and the database it opens) so a
//! custodian's own daemon calls it without the client crate, and `kms-node` and the
//! in-process simulator call the same code.
//!
//! ```text
//! HOME/certs/ca.cert                 the internal CA (from `kms pki init`)
//! HOME/certs/{node}.cert|key         the node's TLS certificate and key
//! HOME/certs/{node}.dek              its DEK, wrapped under the password (made on first open)
//! HOME/certs/peers.json              the pinned identities of every node
//! HOME/data/{node}.redb              shards and secrets, encrypted under the DEK
//! ```
//!
//! ```no_run
//! use kms_core::NodeId;
//! use kms_storage::NodeHome;
//! use zeroize::Zeroizing;
//!
//! # async fn demo() -> Result<(), kms_storage::HomeError> {
//! let home = NodeHome::new(NodeId::new("tss1").unwrap(), "/opt/kms/tss-server");
//! let opened = home
//!     .open_async(Zeroizing::new("the node's password".into()), kms_storage::keyring::DEFAULT_PBKDF2_ITERATIONS)
//!     .await?;
//! let peers = home.load_peers(&opened.identity.public())?;
//! // kms_core::node::TssNode::new(opened.identity, peers, Arc::new(opened.storage.shards()))
//! # Ok(()) }
//! ```

use super::{NodeStorage, NodeStorageConfig};
use crate::keyring::KeyEncryptionKey;
use kms_core::identity::{NodeIdentity, NodeIdentityPublic, PeerDirectory};
use kms_core::{NodeId, StorageError};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Why a node could not be opened from its home. Each names the node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HomeError {
    /// The node's storage could not be opened (a wrong password is
    /// [`StorageError::WrongPassword`]; no file was changed).
    #[error("node {node}: storage: {source}")]
    Storage {
        /// The node.
        node: NodeId,
        /// Why.
        source: StorageError,
    },
    /// The peer directory is missing, unreadable or inconsistent with the node.
    #[error("node {node}: peer directory {path}: {reason}")]
    Peers {
        /// The node.
        node: NodeId,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl HomeError {
    /// The node it is about.
    pub fn node(&self) -> &NodeId {
        match self {
            HomeError::Storage { node, .. } | HomeError::Peers { node, .. } => node,
        }
    }

    /// Whether the password (or other KEK credential) was wrong.
    pub fn is_wrong_password(&self) -> bool {
        matches!(
            self,
            HomeError::Storage {
                source: StorageError::WrongPassword(_),
                ..
            }
        )
    }
}

/// A node's home directory (see the module's layout). Naming it reads nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeHome {
    node: NodeId,
    root: PathBuf,
}

/// A node opened from its home: its storage and its identity (Ed25519 message signing,
/// X25519 sealing), the identity derived from the DEK so it is the same at every start
/// and has no file of its own.
pub struct OpenedHome {
    /// The node's storage (shards, vault, audit log).
    pub storage: NodeStorage,
    /// The node's secret identity; its public half is what peers pin.
    pub identity: NodeIdentity,
}

impl std::fmt::Debug for OpenedHome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Both fields redact their secrets.
        f.debug_struct("OpenedHome")
            .field("storage", &self.storage)
            .field("identity", &self.identity)
            .finish()
    }
}

impl NodeHome {
    /// The home of `node` at `root` (nothing is read or created).
    pub fn new(node: NodeId, root: impl Into<PathBuf>) -> Self {
        Self {
            node,
            root: root.into(),
        }
    }

    /// The node.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// The home directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `HOME/certs`.
    pub fn certs_dir(&self) -> PathBuf {
        self.root.join("certs")
    }

    /// `HOME/data`.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// `HOME/certs/ca.cert`.
    pub fn ca_cert_file(&self) -> PathBuf {
        self.certs_dir().join("ca.cert")
    }

    /// `HOME/certs/{node}.cert`.
    pub fn cert_file(&self) -> PathBuf {
        self.certs_dir().join(format!("{}.cert", self.node))
    }

    /// `HOME/certs/{node}.key`.
    pub fn key_file(&self) -> PathBuf {
        self.certs_dir().join(format!("{}.key", self.node))
    }

    /// `HOME/certs/peers.json`.
    pub fn peers_file(&self) -> PathBuf {
        self.certs_dir().join("peers.json")
    }

    /// The storage configuration (PBKDF2 `iterations` for a new DEK file; an existing
    /// file keeps its own count).
    pub fn storage_config(&self, iterations: u32) -> NodeStorageConfig {
        let mut c = NodeStorageConfig::under_root(self.node.clone(), &self.root);
        c.pbkdf2_iterations = iterations;
        c
    }

    fn storage_err(&self, source: StorageError) -> HomeError {
        HomeError::Storage {
            node: self.node.clone(),
            source,
        }
    }

    /// Open the node with its password: unlock (or, on first use, create) its DEK and
    /// database, and derive its identity. A wrong password is a [`HomeError::Storage`]
    /// with [`StorageError::WrongPassword`] and changes no file (see
    /// [`NodeStorage::open`]). Blocks for the PBKDF2 derivation: from async code use
    /// [`NodeHome::open_async`].
    pub fn open(&self, password: &Zeroizing<String>, iterations: u32) -> Result<OpenedHome, HomeError> {
        let storage =
            NodeStorage::open(self.storage_config(iterations), password).map_err(|e| self.storage_err(e))?;
        Ok(Self::identified(storage))
    }

    /// [`NodeHome::open`] on tokio's blocking pool.
    pub async fn open_async(
        &self,
        password: Zeroizing<String>,
        iterations: u32,
    ) -> Result<OpenedHome, HomeError> {
        let storage = NodeStorage::open_async(self.storage_config(iterations), password)
            .await
            .map_err(|e| self.storage_err(e))?;
        Ok(Self::identified(storage))
    }

    /// [`NodeHome::open`] with the DEK wrapped by another [`KeyEncryptionKey`] (a
    /// PKCS#11 token, say).
    pub fn open_with_kek(
        &self,
        kek: &dyn KeyEncryptionKey,
        iterations: u32,
    ) -> Result<OpenedHome, HomeError> {
        let storage = NodeStorage::open_with_kek(self.storage_config(iterations), kek)
            .map_err(|e| self.storage_err(e))?;
        Ok(Self::identified(storage))
    }

    fn identified(storage: NodeStorage) -> OpenedHome {
        let identity = storage.identity();
        OpenedHome { storage, identity }
    }

    /// Read `HOME/certs/peers.json` and check that the node's own entry is `me` (its
    /// identity): a directory made for another DEK, or one without this node, is refused.
    pub fn load_peers(&self, me: &NodeIdentityPublic) -> Result<PeerDirectory, HomeError> {
        let path = self.peers_file();
        let err = |reason: String| HomeError::Peers {
            node: self.node.clone(),
            path: path.clone(),
            reason,
        };
        let bytes = std::fs::read(&path).map_err(|e| err(e.to_string()))?;
        let directory: PeerDirectory = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
        match directory.get(&self.node) {
            Some(entry) if entry == me => Ok(directory),
            Some(_) => Err(err(
                "this node's entry is not its identity (another DEK?); re-export it with `kms-node identity`"
                    .into(),
            )),
            None => Err(err("no entry for this node".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::MIN_PBKDF2_ITERATIONS;
    use kms_core::ports::ShardStore;

    fn home(root: &Path, node: &str) -> NodeHome {
        NodeHome::new(NodeId::new(node).unwrap(), root.join(node))
    }

    fn pw(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_string())
    }

    #[tokio::test]
    async fn opens_the_same_identity_and_shards_at_every_start() {
        let dir = tempfile::tempdir().unwrap();
        let h = home(dir.path(), "tss1");
        let first = h.open_async(pw("pw one"), MIN_PBKDF2_ITERATIONS).await.unwrap();
        assert!(h.certs_dir().join("tss1.dek").exists());
        assert!(h.data_dir().join("tss1.redb").exists());
        let k = crate::testing::key("home-key");
        first
            .storage
            .shards()
            .put(&k, &crate::testing::shard(1, 9))
            .await
            .unwrap();
        let public = first.identity.public();
        drop(first);
        let again = h.open(&pw("pw one"), MIN_PBKDF2_ITERATIONS).unwrap();
        assert_eq!(again.identity.public(), public, "the identity comes from the DEK");
        assert!(again.storage.shards().get(&k).await.unwrap().is_some());
        // Another node's home has another identity.
        let other = home(dir.path(), "tss2")
            .open(&pw("pw one"), MIN_PBKDF2_ITERATIONS)
            .unwrap();
        assert_ne!(other.identity.public(), public);
        let shown = format!("{again:?}");
        assert!(shown.contains("tss1") && !shown.contains("pw one"), "{shown}");
    }

    #[tokio::test]
    async fn a_wrong_password_names_the_node_and_changes_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let h = home(dir.path(), "tss3");
        drop(h.open_async(pw("right"), MIN_PBKDF2_ITERATIONS).await.unwrap());
        let before = crate::contract::fingerprint(h.root());
        let err = h
            .open_async(pw("wrong"), MIN_PBKDF2_ITERATIONS)
            .await
            .unwrap_err();
        assert!(err.is_wrong_password(), "{err}");
        assert!(err.to_string().starts_with("node tss3: storage:"), "{err}");
        assert!(!err.to_string().contains("wrong\""), "{err}");
        assert_eq!(crate::contract::fingerprint(h.root()), before);
    }

    #[test]
    fn peers_must_pin_this_node_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let h = home(dir.path(), "tss1");
        let me = h.open(&pw("p"), MIN_PBKDF2_ITERATIONS).unwrap().identity.public();
        let other = home(dir.path(), "tss2")
            .open(&pw("p"), MIN_PBKDF2_ITERATIONS)
            .unwrap()
            .identity
            .public();
        let missing = h.load_peers(&me).unwrap_err();
        assert!(
            matches!(&missing, HomeError::Peers { path, .. } if *path == h.peers_file()),
            "{missing}"
        );
        let write = |entries: Vec<NodeIdentityPublic>| {
            let d = PeerDirectory::new(entries);
            std::fs::write(h.peers_file(), serde_json::to_vec(&d).unwrap()).unwrap();
        };
        write(vec![other.clone()]);
        assert!(h
            .load_peers(&me)
            .unwrap_err()
            .to_string()
            .contains("no entry for this node"));
        let mut forged = me.clone();
        forged.dh_public = other.dh_public;
        write(vec![forged, other.clone()]);
        assert!(h
            .load_peers(&me)
            .unwrap_err()
            .to_string()
            .contains("not its identity"));
        std::fs::write(h.peers_file(), b"{not json").unwrap();
        assert!(matches!(h.load_peers(&me), Err(HomeError::Peers { .. })));
        write(vec![me.clone(), other.clone()]);
        let d = h.load_peers(&me).unwrap();
        assert_eq!(d.get(h.node()), Some(&me));
    }
}
