#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! Storage adapters of the MPC key-management service: they implement kms-core's
//! [`ShardStore`](kms_core::ports::ShardStore),
//! [`MetadataStore`](kms_core::ports::MetadataStore) and
//! [`AuditLog`](kms_core::ports::AuditLog).
//!
//! - [`memory`]: in-memory stores for the simulator and tests.
//! - [`embedded`] (feature `embedded`, default): one redb database per node; shards
//!   encrypted with AES-256-GCM under the node's DEK ([`crypto`], [`keyring`]);
//!   [`NodeStorage::open`](embedded::NodeStorage::open) is how a node opens it, and
//!   [`NodeHome::open`](embedded::NodeHome::open) opens a node's storage and identity
//!   from its home directory and password (what a node daemon calls first).
//! - [`backup`] (feature `embedded`): authenticated, manifest-checked node backups.
//! - `mysql` (feature `mysql`): key metadata and the audit log in MySQL/MariaDB.
//! - `pkcs11` (feature `pkcs11`): the KEK inside a PKCS#11 token (HSM).
//! - `testing` (feature `testing`): the storage ports' contract as a test suite, run
//!   here against every backend; run it against a store of your own.
//!
//! Shard content never enters a metadata store or the audit log.

pub mod crypto;
pub mod files;
pub mod keyring;
pub mod memory;

#[cfg(feature = "embedded")]
pub mod backup;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;

#[cfg(test)]
mod contract;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use memory::{
    MemoryApprovalStore, MemoryAuditLog, MemoryMetadataStore, MemorySecretVault, MemoryShardStore,
};

#[cfg(feature = "embedded")]
pub use backup::BackupManifest;
#[cfg(feature = "embedded")]
pub use embedded::{
    CoordinatorStorage, EmbeddedApprovalStore, EmbeddedAuditLog, EmbeddedDb, EmbeddedMetadataStore,
    EncryptedShardStore, EncryptedVault, HomeError, NodeHome, NodeStorage, NodeStorageConfig, OpenedHome,
};
