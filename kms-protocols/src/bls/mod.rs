//! Threshold BLS on BLS12-381 with the Ethereum 2.0 ciphersuite
//! `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_` (public keys in G1, 48 bytes;
//! signatures in G2, 96 bytes).
//!
//! - Key generation and refresh are the generic [`crate::dkg`] protocols over
//!   [`Bls12381G1`] ([`start_dkg`], [`start_refresh`]).
//! - Signing ([`start_sign`]) is one broadcast round of partial signatures, each checked
//!   against its signer's public share, combined with Lagrange coefficients in G2. BLS
//!   signatures are deterministic, so any signer subset produces the same bytes, which
//!   are exactly the signature a single holder of the key would produce.
//! - [`start_pop`] produces the proof of possession of the group key that the POP
//!   ciphersuite (and Ethereum deposits) require.
//! - [`verify`] and [`verify_pop`] check results with blst's standard verifier.
//!
//! All unsafe code of the crate is in the private module `ffi`, which wraps
//! blst's raw field and group arithmetic in the safe types [`Fr`], [`G1`] and [`G2`].

mod ffi;
mod sign;

#[cfg(test)]
mod tests;

pub use ffi::{Fr, G1, G2};
pub use sign::{start_pop, start_sign, Signing};

/// The stand-alone checks of one BLS signing message (see [`crate::recheck`]).
pub(crate) fn recheck_sign_payload(round: u16, payload: &[u8]) -> Option<Result<(), crate::error::Fault>> {
    sign::recheck_payload(round, payload)
}

use crate::dkg::{self, Dkg};
use crate::error::ProtocolError;
use crate::group::Group;
use crate::key_share::KeyShare;
use crate::message::{Envelope, Scheme};
use crate::party::{PartyIndex, SessionId, Threshold};
use blst::min_pk::{PublicKey, Signature};
use blst::BLST_ERROR;
use rand_core::{CryptoRng, RngCore};

/// Domain separation tag of message signatures (the Ethereum 2.0 ciphersuite).
pub const SIG_DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// Domain separation tag of proofs of possession.
pub const POP_DST: &[u8] = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// The group G1 of BLS12-381 with its scalar field: keys and shares live here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bls12381G1;

impl Group for Bls12381G1 {
    const NAME: &'static str = "BLS12_381_G1";
    const SCALAR_LEN: usize = Fr::BYTES;
    const ELEMENT_LEN: usize = G1::COMPRESSED_BYTES;

    type Scalar = Fr;
    type Element = G1;

    fn generator() -> G1 {
        G1::generator()
    }

    fn identity() -> G1 {
        G1::identity()
    }

    fn zero() -> Fr {
        Fr::zero()
    }

    fn scalar_from_u64(v: u64) -> Fr {
        Fr::from_u64(v)
    }

    fn invert(s: &Fr) -> Option<Fr> {
        s.invert()
    }

    fn random_scalar<R: RngCore + CryptoRng>(rng: &mut R) -> Fr {
        Fr::random(rng)
    }

    fn scalar_from_wide(bytes: &[u8; 64]) -> Fr {
        Fr::from_bytes_wide(bytes)
    }

    fn scalar_to_bytes(s: &Fr) -> Vec<u8> {
        s.to_bytes().to_vec()
    }

    fn scalar_from_bytes(b: &[u8]) -> Option<Fr> {
        Fr::from_bytes(b)
    }

    fn element_to_bytes(e: &G1) -> Vec<u8> {
        e.to_compressed().to_vec()
    }

    fn element_from_bytes(b: &[u8]) -> Option<G1> {
        G1::from_compressed(b)
    }

    fn is_zero(s: &Fr) -> bool {
        s.is_zero()
    }
}

/// A party's share of a threshold BLS key.
pub type BlsKeyShare = KeyShare<Bls12381G1>;

/// A BLS DKG or refresh run.
pub type BlsDkg = Dkg<Bls12381G1>;

/// Start a distributed key generation for party `me` of a `threshold` BLS key.
/// Returns the run and its first messages; the output is a [`BlsKeyShare`].
pub fn start_dkg<R: RngCore + CryptoRng>(
    session: SessionId,
    threshold: Threshold,
    me: PartyIndex,
    rng: &mut R,
) -> Result<(BlsDkg, Vec<Envelope>), ProtocolError> {
    dkg::start_dkg::<Bls12381G1, R>(Scheme::Bls, session, threshold, me, rng)
}

/// Start a proactive refresh of `share` among all its holders: the public key stays,
/// every share changes and the epoch increments.
pub fn start_refresh<R: RngCore + CryptoRng>(
    session: SessionId,
    share: BlsKeyShare,
    rng: &mut R,
) -> Result<(BlsDkg, Vec<Envelope>), ProtocolError> {
    dkg::start_refresh::<Bls12381G1, R>(Scheme::Bls, session, share, rng)
}

/// The group public key in its standard 48-byte compressed form.
pub fn public_key_bytes(share: &BlsKeyShare) -> [u8; 48] {
    share.public_key().to_compressed()
}

/// Verify a signature of the Ethereum 2.0 ciphersuite with blst's standard verifier
/// (public key validated: on the curve, in G1, not the identity; signature checked to
/// be in G2).
pub fn verify(public_key: &[u8; 48], message: &[u8], signature: &[u8; 96]) -> bool {
    verify_with_dst(public_key, message, signature, SIG_DST)
}

/// Verify a proof of possession of `public_key` (a signature of the 48-byte key under
/// [`POP_DST`]).
pub fn verify_pop(public_key: &[u8; 48], proof: &[u8; 96]) -> bool {
    verify_with_dst(public_key, public_key, proof, POP_DST)
}

pub(crate) fn verify_with_dst(public_key: &[u8], message: &[u8], signature: &[u8], dst: &[u8]) -> bool {
    let Ok(pk) = PublicKey::from_bytes(public_key) else {
        return false;
    };
    let Ok(sig) = Signature::from_bytes(signature) else {
        return false;
    };
    sig.verify(true, message, dst, &[], &pk, true) == BLST_ERROR::BLST_SUCCESS
}
