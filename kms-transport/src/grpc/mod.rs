//! The node service over gRPC with mutual TLS (feature `grpc`).
//!
//! - [`proto`]: the code generated from `proto/kms/node/v1/node.proto` (package
//!   `kms.node.v1`): one `Call` RPC, a versioned envelope with a request id, a deadline and
//!   typed error codes.
//! - [`wire`]: how a `NodeRequest`/`NodeResponse` travels inside that envelope (a
//!   versioned, length-checked record of `kms_protocols::codec`), and the limits.
//! - [`server`]: what a node daemon runs: tonic over rustls, a gateway certificate
//!   required of every caller, `grpc.health.v1`, draining on shutdown.
//! - [`client`]: [`GrpcNodeTransport`], the coordinator's side: one connection per node,
//!   reconnect with backoff, per-call deadlines, nodes that stop answering marked down
//!   and skipped, a concurrency limit per node.
//!
//! TLS is ours, not tonic's: the server and client configurations come from
//! [`crate::tls`] (rustls with the ring provider, TLS 1.3, roles bound to certificates).

pub mod client;
pub mod server;
pub mod wire;

/// Code generated from `node.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("kms.node.v1");
}

pub use client::{node_channel, GrpcNodeTransport, GrpcSetupError, GrpcTransportConfig, NodeEndpoint};
pub use server::{
    NodeServer, NodeServerConfig, PeerInfo, ServerError, ServerHandle, HTTP_HEALTH_PATH, SERVICE_NAME,
};
