//! DMZ21 threshold ECDSA on secp256k1 (Deng, Ma, Zhang et al., "Promise Σ-protocol:
//! How to Construct Efficient Threshold ECDSA from Encryptions Based on Class Groups",
//! ASIACRYPT 2021, eprint 2022/297): GG18's structure with the Paillier MtA replaced by
//! CL-HSM encryption in a class group ([`crate::class_group::cl_hsm`]), whose message
//! space is `Z/qZ` for the curve order `q`.
//!
//! - [`proofs`]: the promise Σ-protocols (CL key, round-1 promise ciphertext).

pub mod proofs;

#[cfg(test)]
use crate::class_group::cl_hsm::ClParams;

/// The 128-bit CL parameters, derived once per test binary and shared by every test.
#[cfg(test)]
pub(crate) fn test_params() -> &'static ClParams {
    static P: std::sync::OnceLock<ClParams> = std::sync::OnceLock::new();
    P.get_or_init(ClParams::secp256k1)
}
