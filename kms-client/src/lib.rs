#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! The high-level API of the MPC key-management service: generate keys, sign, read and
//! manage them, over whichever transport the host chose.
//!
//! ```no_run
//! use kms_client::{InProcessCluster, KmsClient, GenerateKey};
//! use kms_core::Algorithm;
//!
//! # async fn demo() -> Result<(), kms_core::KmsError> {
//! let cluster = InProcessCluster::builder().nodes(4).build();
//! let client = KmsClient::new(cluster.clone());
//! let key = client.generate_key(GenerateKey::new(Algorithm::Eddsa)).await?;
//! let sig = client.sign(&key.key_id, b"hello").await?;
//! assert_eq!(sig.signature.len(), 64);
//! # Ok(()) }
//! ```

mod api;
#[cfg(feature = "chains")]
mod chains;
mod cluster;
#[cfg(feature = "grpc")]
mod remote;

pub use api::{GenerateKey, KmsApi, KmsClient};
#[cfg(feature = "chains")]
pub use chains::{addresses, key_kind, ChainSignError};
pub use cluster::{InProcessCluster, InProcessClusterBuilder};
#[cfg(feature = "chains")]
pub use kms_chains;
pub use kms_core::Principal;
#[cfg(feature = "grpc")]
pub use remote::{GrpcCluster, GrpcClusterBuilder};
