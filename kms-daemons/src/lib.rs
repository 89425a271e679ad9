#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! The processes of the KMS, as a library a custodian can reuse for their own daemon:
//! the internal PKI ([`pki`]), the node daemon's parts ([`node`]), its offline operations ([`ops`]) and a local deployment
//! ([`devnet`]). The binaries (`kms`,
//! `kms-node`) are wiring over them.

pub mod devnet;
pub mod node;
pub mod ops;
pub mod pki;
