#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! The processes of the KMS, as a library a custodian can reuse for their own daemon:
//! the internal PKI ([`pki`]) and the node daemon's parts ([`node`]). The binaries (`kms`,
//! `kms-node`) are wiring over them.

pub mod node;
pub mod pki;
