//! The ports: traits that adapters (kms-storage, kms-transport) implement. kms-core
//! depends on none of the adapters.

use crate::audit::{AuditEvent, AuditRecord};
use crate::domain::{Algorithm, ClusterId, KeyId, KeyMetadata, NodeId};
use crate::error::{StorageError, TransportError};
use crate::rpc::{NodeRequest, NodeResponse};
use async_trait::async_trait;
/// Re-exported so adapters name the session that staged a shard without depending on
/// kms-protocols.
pub use kms_protocols::SessionId;
use std::fmt;
use zeroize::Zeroizing;

/// A node's stored shard of one key: the serialised key share (secret), its version
/// (the refresh epoch) and algorithm.
pub struct ShardRecord {
    /// Algorithm of the key.
    pub algorithm: Algorithm,
    /// Share version; increases with every refresh.
    pub version: u64,
    /// The serialised share. Secret: zeroized on drop, never logged.
    pub data: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ShardRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardRecord")
            .field("algorithm", &self.algorithm)
            .field("version", &self.version)
            .field("data", &"<redacted>")
            .finish()
    }
}

impl Clone for ShardRecord {
    fn clone(&self) -> Self {
        Self {
            algorithm: self.algorithm,
            version: self.version,
            data: Zeroizing::new(self.data.to_vec()),
        }
    }
}

/// A node's shard storage. Every method that returns `Ok` after a write has made the
/// write durable.
///
/// Refresh is two-phase: a new version is first `stage`d, then `commit_staged` makes it
/// current (replacing the old one) once every holder has staged its own; until then
/// `get` returns the old version, so old and new shares are never mixed. A staged
/// version belongs to the refresh session that produced it: a commit or discard naming
/// another session is refused with [`StorageError::Conflict`], so a late message of one
/// run can never commit or drop another run's shard.
#[async_trait]
pub trait ShardStore: Send + Sync {
    /// Store the first version of a key's shard. Fails if one exists.
    async fn put(&self, key_id: &KeyId, shard: &ShardRecord) -> Result<(), StorageError>;
    /// The current shard of a key.
    async fn get(&self, key_id: &KeyId) -> Result<Option<ShardRecord>, StorageError>;
    /// Stage a new version made by refresh session `session`. Replaces an earlier
    /// staged version (of an abandoned run: the key's lease admits one refresh at a time).
    async fn stage(
        &self,
        key_id: &KeyId,
        session: &SessionId,
        shard: &ShardRecord,
    ) -> Result<(), StorageError>;
    /// Make the version `version` staged by `session` current. `NotFound` if none is
    /// staged with that version, `Conflict` if another session staged it.
    async fn commit_staged(
        &self,
        key_id: &KeyId,
        session: &SessionId,
        version: u64,
    ) -> Result<(), StorageError>;
    /// Drop the version staged by `session`, if any; `Conflict` if another session's
    /// version is staged (it is left in place).
    async fn discard_staged(&self, key_id: &KeyId, session: &SessionId) -> Result<(), StorageError>;
    /// The staged version of a key and the session that staged it, if any.
    async fn staged(&self, key_id: &KeyId) -> Result<Option<(SessionId, ShardRecord)>, StorageError>;
    /// Remove a key's shard (current and staged). Returns whether anything was removed.
    async fn delete(&self, key_id: &KeyId) -> Result<bool, StorageError>;
    /// Keys with a current shard on this node.
    async fn list(&self) -> Result<Vec<KeyId>, StorageError>;
}

/// A node's own long-lived secrets other than shards (its schemes' setup material, the peer
/// material it verified), kept encrypted like shards. Writes that return `Ok` are durable.
#[async_trait]
pub trait SecretVault: Send + Sync {
    /// Store (or replace) the secret called `name`.
    async fn put_secret(&self, name: &str, data: &[u8]) -> Result<(), StorageError>;
    /// The secret called `name`, if stored.
    async fn get_secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StorageError>;
    /// Remove the secret called `name`; whether it existed.
    async fn delete_secret(&self, name: &str) -> Result<bool, StorageError>;
}

/// Key metadata storage (never holds shard content).
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// Insert a new key's metadata. Fails if the key exists.
    async fn insert(&self, meta: &KeyMetadata) -> Result<(), StorageError>;
    /// A key's metadata.
    async fn get(&self, key_id: &KeyId) -> Result<Option<KeyMetadata>, StorageError>;
    /// Replace a key's metadata by compare-and-swap on its revision: succeeds only if the
    /// stored record's `revision` equals `meta.revision`, and then stores `meta` with
    /// `revision + 1` (the caller's copy is one behind afterwards). `NotFound` if the key
    /// does not exist, `Conflict` if another writer changed it since it was read. This is
    /// what makes two coordinators (two gateways) safe on one store.
    async fn update(&self, meta: &KeyMetadata) -> Result<(), StorageError>;
    /// Remove a key's metadata (used only to clean up a generation that never completed).
    async fn delete(&self, key_id: &KeyId) -> Result<bool, StorageError>;
    /// All keys.
    async fn list(&self) -> Result<Vec<KeyMetadata>, StorageError>;
    /// The cluster this store belongs to, if recorded.
    async fn cluster_id(&self) -> Result<Option<ClusterId>, StorageError>;
    /// Record `id` as the store's cluster unless one is recorded already (first writer
    /// wins, atomically); returns the recorded id.
    async fn init_cluster_id(&self, id: &ClusterId) -> Result<ClusterId, StorageError>;
}

/// The append-only audit log. Implementations chain each record to the previous one
/// (see [`crate::audit`]).
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Append an event; returns the sealed record.
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, StorageError>;
    /// Every record in order.
    async fn records(&self) -> Result<Vec<AuditRecord>, StorageError>;
    /// The log's signed head with its writer's public key: with [`Self::records`],
    /// the input of [`crate::audit::verify_chain`]. Export it to a place the store's
    /// administrator cannot write, so even a rollback of the whole store is found.
    async fn anchor(&self) -> Result<crate::audit::AuditAnchor, StorageError>;
}

/// How the coordinator reaches nodes. Nodes only answer requests; they open no
/// connections, so protocol messages between nodes are relayed through this port.
#[async_trait]
pub trait NodeTransport: Send + Sync {
    /// Send one request to a node and wait for its answer.
    async fn call(&self, node: &NodeId, request: NodeRequest) -> Result<NodeResponse, TransportError>;
}

/// What a node offers to transports (implemented by [`crate::node::TssNode`]).
#[async_trait]
pub trait NodeService: Send + Sync {
    /// The node's id.
    fn node_id(&self) -> &NodeId;
    /// Handle one request.
    async fn handle(&self, request: NodeRequest) -> NodeResponse;
}

/// Wall-clock time, injectable for tests.
pub trait Clock: Send + Sync {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}
