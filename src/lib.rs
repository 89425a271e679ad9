//! Facade over the kms-* crates.
pub use kms_chains as chains;
pub use kms_client as client;
pub use kms_core as core;
pub use kms_protocols as protocols;
pub use kms_storage as storage;
pub use kms_transport as transport;
