#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! The high-level API of the MPC key-management service: generate keys, sign, read and
//! manage them, over whichever transport the host chose.
//!
//! Features: `simulator` (default) is the in-process cluster ([`InProcessCluster`]);
//! `chains` (default) adds addresses and chain sign inputs; `grpc` a coordinator in
//! this process over node daemons. With `default-features = false` the crate is the
//! API ([`KmsClient`], [`KmsApi`] and their types) for a backend of the host's own.
//!
//! ```no_run
//! # #[cfg(feature = "simulator")] {
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
//! # }
//! ```

mod api;
#[cfg(feature = "chains")]
mod chains;
#[cfg(feature = "simulator")]
mod cluster;
#[cfg(any(feature = "simulator", feature = "grpc"))]
pub mod idempotency;
#[cfg(feature = "grpc")]
mod remote;
mod types;

pub use api::{GenerateKey, KmsApi, KmsClient, Signed};
#[cfg(feature = "chains")]
pub use chains::{addresses, key_kind, ChainSignError};
#[cfg(feature = "simulator")]
pub use cluster::{InProcessCluster, InProcessClusterBuilder};
#[cfg(feature = "chains")]
pub use kms_chains;
pub use kms_core::Principal;
#[cfg(feature = "grpc")]
pub use remote::{GrpcCluster, GrpcClusterBuilder};
pub use types::{EcdsaSignature, EncodingError, IdempotencyKey, PublicKey, SignInput, Signature};
