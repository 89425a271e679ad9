//! DMZ21 threshold ECDSA on secp256k1 (Deng, Ma, Zhang et al., "Promise Σ-protocol:
//! How to Construct Efficient Threshold ECDSA from Encryptions Based on Class Groups",
//! ASIACRYPT 2021, eprint 2022/297): GG18's structure with the Paillier MtA replaced by
//! CL-HSM encryption in a class group ([`crate::class_group::cl_hsm`]), whose message
//! space is `Z/qZ` for the curve order `q`. No range proofs and no trusted setup: the
//! CL parameters come from a published seed.
//!
//! - [`proofs`]: the promise Σ-protocols (CL key, round-1 promise ciphertext);
//! - [`keygen`]: key generation at (t, n), with every holder's CL key setup;
//! - [`presign`]: the offline signing rounds, producing a single-use [`Presignature`];
//! - [`mta`]: the CL-based MtA those rounds use;
//! - [`online`]: the online rounds (GG18 phase 5) on a presignature;
//! - [`refresh`]: zero-sharing re-share of the secp256k1 key;
//! - [`key_share`]: what a holder keeps, and `storage` its storage encoding
//!   ([`Dmz21KeyShare::to_bytes`]).
//!
//! Every run is a [`crate::driver::Driver`] and names the culprit of every bad message.
//! The protocol as implemented, round by round with every check, is in `docs/dmz21.md`.

pub mod key_share;
pub mod keygen;
pub mod mta;
pub mod online;
pub mod presign;
pub mod proofs;
pub mod refresh;
mod storage;

pub use key_share::{Dmz21KeyShare, PartyKeys};
pub use keygen::{start_keygen, Dmz21Keygen};
pub use online::{start_online, Dmz21Online};
pub use presign::{start_presign, Dmz21Presign, Presignature};
pub use refresh::{start_refresh, Dmz21Refresh};

/// Wire version of every DMZ21 run.
pub const PROTOCOL_VERSION: u16 = 1;

#[cfg(test)]
use crate::class_group::cl_hsm::ClParams;

/// The 128-bit CL parameters, derived once per test binary and shared by every test.
#[cfg(test)]
pub(crate) fn test_params() -> &'static ClParams {
    static P: std::sync::OnceLock<ClParams> = std::sync::OnceLock::new();
    P.get_or_init(ClParams::secp256k1)
}

#[cfg(test)]
mod tests;
