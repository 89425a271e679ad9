//! Audit records: every key operation leaves one. Records are chained: each carries
//! the hash of the previous record, so an edited, deleted or reordered record is found
//! by [`verify_chain`].

use serde::{Deserialize, Serialize};

/// The kinds of audited events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditEventType {
    /// A key was generated.
    KeyGenerate,
    /// A signature was requested.
    KeySign,
    /// Shards were refreshed.
    KeyRefresh,
    /// A key was destroyed.
    KeyDestroy,
    /// A key's status changed.
    KeyStatusChange,
    /// An approval was requested.
    ApprovalRequest,
    /// An approval was decided.
    ApprovalResult,
    /// An administrator logged in.
    AdminLogin,
    /// Configuration changed.
    ConfigChange,
    /// A node started.
    NodeStart,
    /// A node stopped.
    NodeStop,
    /// A backup was made.
    BackupCreate,
    /// A backup was restored.
    BackupRestore,
}

/// Outcome of an audited operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditResult {
    /// It succeeded.
    Success,
    /// It failed.
    Failure,
}

/// An event to be appended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Event type.
    pub event_type: AuditEventType,
    /// Who asked.
    pub user_id: String,
    /// The key concerned, if any.
    pub key_id: Option<String>,
    /// Free-form operation name.
    pub operation: String,
    /// Outcome.
    pub result: AuditResult,
    /// Event time, Unix milliseconds.
    pub created_time: u64,
    /// The service that acted.
    pub service_name: String,
    /// The node that acted, if any.
    pub node_id: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
    /// Hash of the request data (never the data itself), hex.
    pub data_hash: String,
    /// Human-readable detail (no secrets).
    pub audit_trail: String,
}

/// A stored, chained record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
    /// Hash of the previous record (zeros for the first), hex.
    pub prev_hash: String,
    /// This record's hash over seq, event and prev_hash, hex.
    pub hash: String,
}
