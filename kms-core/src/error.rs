//! The service-level error type.

use crate::domain::{KeyId, KeyStatus, NodeId};
use crate::evidence::FaultKind;
use kms_protocols::{PartyIndex, ProtocolError};
use serde::{Deserialize, Serialize};

/// Errors of storage adapters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StorageError {
    /// The record does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A record with that id exists already.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// Stored data failed its integrity check (tampered, truncated, wrong key).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The password does not unlock the node's data-encryption key.
    #[error("wrong password for node {0}")]
    WrongPassword(String),
    /// The backend failed (I/O, database).
    #[error("storage backend: {0}")]
    Backend(String),
    /// A secret file or its directory is open to other accounts (group or other mode
    /// bits); the message names the path, its mode and the fix.
    #[error("insecure permissions: {0}")]
    InsecurePermissions(String),
    /// A compare-and-swap lost: the record changed since it was read (another writer,
    /// possibly in another process), or a staged shard belongs to another session.
    #[error("conflict: {0}")]
    Conflict(String),
}

/// Errors of transports.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TransportError {
    /// The node cannot be reached (down, refused, unknown).
    #[error("node {0} unreachable: {1}")]
    Unreachable(NodeId, String),
    /// The node did not answer in time.
    #[error("node {0} timed out")]
    Timeout(NodeId),
    /// Bytes on the wire could not be decoded or authenticated.
    #[error("bad message from {0}: {1}")]
    BadMessage(NodeId, String),
}

/// A protocol fault as it crosses layers: what kind, which party of the session it
/// names, and the protocol's own description (never secret material).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolFault {
    /// The kind of fault.
    pub kind: FaultKind,
    /// The party the protocol blames, by its index in the session.
    pub party: Option<PartyIndex>,
    /// The fault as the protocol describes it.
    pub detail: String,
}

impl ProtocolFault {
    /// The structured fault of a protocol error, if it names one.
    pub fn of(e: &ProtocolError) -> Option<Self> {
        e.fault().map(|f| Self {
            kind: FaultKind::of(f),
            party: e.blamed(),
            detail: f.to_string(),
        })
    }
}

/// Errors of the service API. Serializable, so a remote backend hands the same typed
/// error to its caller.
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum KmsError {
    /// The request is malformed or inconsistent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No such key.
    #[error("key {0} not found")]
    KeyNotFound(KeyId),
    /// The key's status forbids the operation.
    #[error("key {key} is {status:?}: {operation} not allowed")]
    KeyNotUsable {
        /// The key.
        key: KeyId,
        /// Its status.
        status: KeyStatus,
        /// What was attempted.
        operation: String,
    },
    /// Too few healthy nodes for the operation.
    #[error("not enough healthy nodes: need {needed}, have {available}")]
    NotEnoughNodes {
        /// Needed.
        needed: usize,
        /// Available.
        available: usize,
    },
    /// The algorithm is not available in this build.
    #[error("algorithm {0} is not supported")]
    Unsupported(String),
    /// A protocol run aborted; `culprit` is the node to blame if one was identified.
    #[error("protocol aborted{}: {error}", culprit.as_ref().map(|n| format!(" by {n}")).unwrap_or_default())]
    Protocol {
        /// The blamed node, if any.
        culprit: Option<NodeId>,
        /// The structured fault, when the protocol named one.
        #[serde(default)]
        fault: Option<ProtocolFault>,
        /// The protocol error as reported.
        error: String,
    },
    /// The configuration asked for is unsafe or contradictory (e.g. a seeded
    /// simulator on persistent storage); the message says why.
    #[error("invalid configuration: {0}")]
    InvalidConfiguration(String),
    /// A node reported an error.
    #[error("node {node}: {message}")]
    Node {
        /// The node.
        node: NodeId,
        /// What it said.
        message: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Another mutating operation holds the key (its lease has not lapsed).
    #[error("key {key} is busy: {operation} in progress")]
    KeyBusy {
        /// The key.
        key: KeyId,
        /// The operation holding it.
        operation: String,
    },
    /// A destroy deleted some shards but could not reach every holder: the key stays
    /// `DESTROYING` (never signs again) and recovery finishes it.
    #[error("destroy of key {key} incomplete: holders {pending:?} not reached; the key is DESTROYING")]
    DestroyIncomplete {
        /// The key.
        key: KeyId,
        /// The holders whose shard may remain.
        pending: Vec<NodeId>,
    },
    /// A signer holds no shard of the key's epoch (a refresh committed in between); the
    /// coordinator retries at the current epoch.
    #[error("node {node} holds no shard of epoch {want} (has {have:?})")]
    EpochMismatch {
        /// The node.
        node: NodeId,
        /// Its current shard version, if any.
        have: Option<u64>,
        /// The epoch asked for.
        want: u64,
    },
    /// Recovery refused to act because the metadata store does not belong to the cluster
    /// (lost, replaced, or another cluster's); nothing was changed.
    #[error("recovery refused: {reason}")]
    MetadataMismatch {
        /// The node whose records disagree with the metadata store, if one does.
        node: Option<NodeId>,
        /// What disagrees, and what to do.
        reason: String,
    },
    /// An idempotency key came back with another request than the one it was first
    /// used for (within its 24 hours); nothing was done.
    #[error("idempotency key {key} was used for another request")]
    IdempotencyConflict {
        /// The idempotency key.
        key: String,
    },
}

impl From<ProtocolError> for KmsError {
    fn from(e: ProtocolError) -> Self {
        KmsError::Protocol {
            culprit: None,
            fault: ProtocolFault::of(&e),
            error: e.to_string(),
        }
    }
}

/// The stable code of an error, carried in node answers (and by any wire protocol)
/// so a caller can act on the kind of failure without parsing its message. Codes are
/// never renamed; new ones may be added, and a reader that does not know a code reads
/// it as [`ErrorCode::Unknown`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is malformed or inconsistent.
    InvalidRequest,
    /// No such key.
    KeyNotFound,
    /// The key's status forbids the operation.
    KeyNotUsable,
    /// Too few healthy nodes.
    NotEnoughNodes,
    /// The algorithm is not available.
    Unsupported,
    /// A protocol run aborted.
    Protocol,
    /// The configuration is unsafe or contradictory.
    InvalidConfiguration,
    /// A node reported an error.
    Node,
    /// Storage failed.
    Storage,
    /// Transport failed.
    Transport,
    /// Another mutating operation holds the key.
    KeyBusy,
    /// A destroy could not reach every holder.
    DestroyIncomplete,
    /// A signer holds no shard of the requested epoch.
    EpochMismatch,
    /// The metadata store does not belong to the cluster.
    MetadataMismatch,
    /// A relayed message failed authentication or addressing (the relay's fault).
    RelayFault,
    /// An idempotency key was reused with another request.
    IdempotencyConflict,
    /// A code this reader does not know (a newer peer's).
    #[default]
    #[serde(other)]
    Unknown,
}

impl KmsError {
    /// The error's stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            KmsError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            KmsError::KeyNotFound(_) => ErrorCode::KeyNotFound,
            KmsError::KeyNotUsable { .. } => ErrorCode::KeyNotUsable,
            KmsError::NotEnoughNodes { .. } => ErrorCode::NotEnoughNodes,
            KmsError::Unsupported(_) => ErrorCode::Unsupported,
            KmsError::Protocol { .. } => ErrorCode::Protocol,
            KmsError::InvalidConfiguration(_) => ErrorCode::InvalidConfiguration,
            KmsError::Node { .. } => ErrorCode::Node,
            KmsError::Storage(_) => ErrorCode::Storage,
            KmsError::Transport(_) => ErrorCode::Transport,
            KmsError::KeyBusy { .. } => ErrorCode::KeyBusy,
            KmsError::DestroyIncomplete { .. } => ErrorCode::DestroyIncomplete,
            KmsError::EpochMismatch { .. } => ErrorCode::EpochMismatch,
            KmsError::MetadataMismatch { .. } => ErrorCode::MetadataMismatch,
            KmsError::IdempotencyConflict { .. } => ErrorCode::IdempotencyConflict,
        }
    }
}
