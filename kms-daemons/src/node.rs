//! What the `kms-node` daemon is made of, as functions a custodian's own daemon can call:
//! the home directory's layout, reading the DEK password, opening the node (encrypted
//! storage, identity, pinned peers, GG18 aux material) and serving it over gRPC.
//!
//! A node's home (the spec's `/opt/kms/tss-server`):
//!
//! ```text
//! HOME/certs/ca.cert                 the internal CA (from `kms pki init`)
//! HOME/certs/{node}.cert|key         the node's TLS certificate and key
//! HOME/certs/{node}.dek              its DEK, wrapped under the password (made on first start)
//! HOME/certs/peers.json              the pinned identities of every node (see below)
//! HOME/data/{node}.redb              shards and secrets, encrypted under the DEK
//! ```
//!
//! `peers.json` is a [`PeerDirectory`] in JSON: each node's Ed25519 message key and X25519
//! sealing key. A node's identity is derived from its DEK, so it is printed by
//! `kms-node identity` (which unlocks the storage, creating the DEK the first time); the
//! operator gathers the four into one `peers.json` and installs it in every home and on
//! the coordinator. The node refuses to start if its own entry differs from its identity.

use kms_core::audit::{AuditEvent, AuditEventType, AuditResult};
use kms_core::identity::{NodeIdentityPublic, PeerDirectory};
use kms_core::node::TssNode;
use kms_core::ports::{AuditLog, Clock, SystemClock};
use kms_core::schemes::Material;
use kms_core::{Algorithm, NodeId, StorageError};
use kms_protocols::gg18::aux_info::AuxSecret;
pub use kms_storage::NodeHome;
use kms_storage::{HomeError, NodeStorage, OpenedHome};
use kms_transport::tls::CertFiles;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The environment variable a password may come from (for automation).
pub const PASSWORD_ENV: &str = "KMS_DEK_PASSWORD";

/// Why the daemon could not start or stopped with an error. Each names the node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The node's storage could not be opened (a wrong password is
    /// [`StorageError::WrongPassword`]; no file was changed).
    #[error("node {node}: storage: {source}")]
    Storage {
        /// The node.
        node: NodeId,
        /// Why.
        source: StorageError,
    },
    /// No password could be read.
    #[error("node {node}: password: {reason}")]
    Password {
        /// The node.
        node: NodeId,
        /// Why.
        reason: String,
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
    /// The GG18 aux material file is unusable.
    #[error("node {node}: GG18 aux file {path}: {reason}")]
    Aux {
        /// The node.
        node: NodeId,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A backup file could not be written or read, or is not a backup.
    #[error("node {node}: backup file {path}: {reason}")]
    Backup {
        /// The node.
        node: NodeId,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// TLS material is unusable.
    #[error("node {node}: TLS: {reason}")]
    Tls {
        /// The node.
        node: NodeId,
        /// Why.
        reason: String,
    },
    /// The listener or the server failed.
    #[error("node {node}: server: {reason}")]
    Server {
        /// The node.
        node: NodeId,
        /// Why.
        reason: String,
    },
}

impl DaemonError {
    /// Whether the password was wrong.
    pub fn is_wrong_password(&self) -> bool {
        matches!(
            self,
            DaemonError::Storage {
                source: StorageError::WrongPassword(_),
                ..
            }
        )
    }
}

/// The node's TLS material in its home (`HOME/certs/ca.cert`, `{node}.cert|key`).
pub fn tls_files(home: &NodeHome) -> CertFiles {
    CertFiles {
        ca: home.ca_cert_file(),
        cert: home.cert_file(),
        key: home.key_file(),
    }
}

impl From<HomeError> for DaemonError {
    fn from(e: HomeError) -> Self {
        match e {
            HomeError::Storage { node, source } => DaemonError::Storage { node, source },
            HomeError::Peers { node, path, reason } => DaemonError::Peers { node, path, reason },
            // HomeError is non_exhaustive: a later variant is still a failure to open
            // the node's storage, and still names the node.
            other => DaemonError::Storage {
                node: other.node().clone(),
                source: StorageError::Backend(other.to_string()),
            },
        }
    }
}

/// The DEK password: from `file` if given (its first line), else from
/// [`PASSWORD_ENV`], else asked on the terminal.
pub fn read_password(node: &NodeId, file: Option<&Path>) -> Result<Zeroizing<String>, DaemonError> {
    let err = |reason: String| DaemonError::Password {
        node: node.clone(),
        reason,
    };
    let password = if let Some(path) = file {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| err(format!("{}: {e}", path.display())))?);
        let text =
            std::str::from_utf8(&bytes).map_err(|_| err(format!("{} is not UTF-8", path.display())))?;
        Zeroizing::new(text.lines().next().unwrap_or("").to_string())
    } else if let Ok(p) = std::env::var(PASSWORD_ENV) {
        Zeroizing::new(p)
    } else {
        Zeroizing::new(
            rpassword::prompt_password(format!("DEK password of {node}: "))
                .map_err(|e| err(format!("cannot read from the terminal: {e}")))?,
        )
    };
    if password.is_empty() {
        return Err(err("empty password".into()));
    }
    Ok(password)
}

/// Open the node from its home with `password`: its encrypted storage (creating the
/// DEK and database on first use) and its identity, derived from the DEK
/// ([`NodeHome::open_async`]). A wrong password changes no file.
pub async fn open_storage(
    home: &NodeHome,
    password: Zeroizing<String>,
    iterations: u32,
) -> Result<OpenedHome, DaemonError> {
    Ok(home.open_async(password, iterations).await?)
}

/// Read `peers.json` and check that the node's own entry is its identity
/// ([`NodeHome::load_peers`]).
pub fn load_peers(home: &NodeHome, me: &NodeIdentityPublic) -> Result<PeerDirectory, DaemonError> {
    Ok(home.load_peers(me)?)
}

/// The GG18 aux material a node is given instead of generating it, as read from an aux
/// file (see [`load_gg18_aux`]).
pub struct Gg18AuxFile {
    /// The node's own material.
    pub own: AuxSecret,
    /// Fresh material for key refreshes, one per refresh.
    pub refresh: Vec<AuxSecret>,
}

/// Load pre-generated GG18 aux material from a JSON file:
///
/// ```json
/// { "own": {"paillier_p": "hex", "paillier_q": "hex", "rp_p": "hex", "rp_q": "hex"},
///   "refresh": [ {"paillier_p": ...}, ... ] }
/// ```
///
/// `own` is the node's Paillier key (two Blum primes) and ring-Pedersen parameters (two
/// safe primes), 2048-bit moduli; `refresh` (optional) is fresh material for key
/// refreshes, used once each. Every prime is tested (Blum or safe), so the file saves
/// only the search, never strength. For tests and for primes made offline; a node
/// without this file generates its material itself.
pub fn load_gg18_aux(node: &NodeId, path: &Path) -> Result<Gg18AuxFile, DaemonError> {
    let err = |reason: String| DaemonError::Aux {
        node: node.clone(),
        path: path.to_owned(),
        reason,
    };
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| err(e.to_string()))?);
    let (own, refresh) = kms_core::schemes::parse_gg18_aux_file(&bytes).map_err(err)?;
    Ok(Gg18AuxFile { own, refresh })
}

/// An opened node: its storage and the runtime over it.
pub struct OpenedNode {
    /// The node's storage.
    pub storage: NodeStorage,
    /// The node.
    pub node: Arc<TssNode>,
}

/// Build the node over its opened home: its identity, peers pinned from `peers.json`,
/// shards and secrets in the encrypted store, optional GG18 aux material.
pub fn build_node(
    home: &NodeHome,
    opened: OpenedHome,
    aux: Option<Gg18AuxFile>,
) -> Result<OpenedNode, DaemonError> {
    let OpenedHome { storage, identity } = opened;
    let directory = load_peers(home, &identity.public())?;
    let mut node =
        TssNode::new(identity, directory, Arc::new(storage.shards())).with_vault(Arc::new(storage.vault()));
    if let Some(aux) = aux {
        node = node.with_setup(Algorithm::Gg18, Arc::new(aux.own));
        if !aux.refresh.is_empty() {
            let ready = aux.refresh.into_iter().map(|a| Arc::new(a) as Material).collect();
            node = node.with_refresh_setup(Algorithm::Gg18, ready);
        }
    }
    Ok(OpenedNode {
        storage,
        node: Arc::new(node),
    })
}

/// Append a node lifecycle event (NODE_START, NODE_STOP) to the node's own audit log.
pub async fn audit_node_event(
    storage: &NodeStorage,
    event_type: AuditEventType,
    operator: &str,
    trail: &str,
) -> Result<(), DaemonError> {
    let event = AuditEvent {
        event_type,
        user_id: operator.to_string(),
        key_id: None,
        operation: "kms-node".into(),
        result: AuditResult::Success,
        created_time: SystemClock.now_ms(),
        service_name: "kms-node".into(),
        node_id: Some(storage.node_id().to_string()),
        duration_ms: 0,
        data_hash: String::new(),
        audit_trail: trail.into(),
    };
    storage
        .audit()
        .append(event)
        .await
        .map(|_| ())
        .map_err(|source| DaemonError::Storage {
            node: storage.node_id().clone(),
            source,
        })
}
