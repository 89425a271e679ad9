#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! Storage adapters for the ports of kms-core.

pub mod memory;
