#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! Transport adapters for the ports of kms-core: the in-memory bus for in-process
//! clusters (gRPC over mTLS and the HTTP gateway sit behind their own features).

#[cfg(feature = "grpc")]
pub mod grpc;
pub mod memory;
#[cfg(feature = "tls")]
pub mod tls;
