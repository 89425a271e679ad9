#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! The KMS gateway: the HTTP API of the key-management service (`/api/v1`), for business
//! systems in any language. Requests are signed with access keys (HMAC-SHA256 or
//! Ed25519, [`auth`]), checked against each key's IP allow-list and permissions
//! ([`access_keys`]), rate limited ([`limits`]), made safe to retry with
//! `Idempotency-Key` ([`idempotency`]), and served by a coordinator over in-process nodes
//! or node daemons ([`backend`]). Every refusal is a typed error with a fixed code
//! ([`errors`]). Risk rules and approvals plug in at one hook ([`hooks`]).
//!
//! The binary `kms-gateway` is wiring over [`server`]; see `docs/gateway.md`.

pub mod access_keys;
pub mod api;
pub mod auth;
pub mod backend;
pub mod cli;
pub mod config;
pub mod errors;
pub mod hooks;
pub mod idempotency;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod redis;
pub mod risk;
pub mod secrets;
pub mod server;
