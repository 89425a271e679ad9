#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! The processes of the KMS, as a library a custodian can reuse for their own daemon:
//! the internal PKI ([`pki`]). The binaries (`kms`, and the node daemon) are wiring over it.

pub mod pki;
