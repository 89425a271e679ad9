//! The service-level error type.

use crate::domain::{KeyId, KeyStatus, NodeId};
use kms_protocols::ProtocolError;

/// Errors of storage adapters.
#[derive(Debug, thiserror::Error)]
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
}

/// Errors of transports.
#[derive(Debug, thiserror::Error)]
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

/// Errors of the service API.
#[derive(Debug, thiserror::Error)]
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
        operation: &'static str,
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
    Unsupported(&'static str),
    /// A protocol run aborted; `culprit` is the node to blame if one was identified.
    #[error("protocol aborted{}: {error}", culprit.as_ref().map(|n| format!(" by {n}")).unwrap_or_default())]
    Protocol {
        /// The blamed node, if any.
        culprit: Option<NodeId>,
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
}

impl From<ProtocolError> for KmsError {
    fn from(e: ProtocolError) -> Self {
        KmsError::Protocol {
            culprit: None,
            error: e.to_string(),
        }
    }
}
