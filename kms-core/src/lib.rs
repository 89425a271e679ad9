#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! The core of the MPC key-management service: the domain model, the ports (traits
//! for transport, shard/metadata/audit storage, clock), the node runtime that drives
//! protocol runs of `kms-protocols` over a transport, and the coordinator that places
//! shards, relays protocol messages between nodes and schedules signing.
//!
//! kms-core defines traits; the adapters in `kms-storage` and `kms-transport` implement
//! them. kms-core imports no adapter.

pub mod audit;
pub mod coordinator;
pub mod domain;
pub mod error;
pub mod evidence;
pub mod identity;
pub mod node;
pub mod ports;
pub mod principal;
pub mod rpc;
pub mod schemes;
pub mod seal;

pub use domain::*;
pub use error::{KmsError, StorageError, TransportError};
pub use principal::Principal;
