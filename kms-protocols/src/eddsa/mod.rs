//! Threshold EdDSA over Ed25519.
//!
//! - Key generation and refresh are the generic [`crate::dkg`] over [`Ed25519`] (the
//!   FROST DKG: Feldman VSS with proofs of knowledge, plus a confirmation round).
//! - Signing is FROST(Ed25519, SHA-512) from RFC 9591 ([`sign`]); its output is a
//!   standard RFC 8032 signature, checked with [`verify`].
//!
//! ```text
//! start_dkg(session, (t, n), me, rng)   -> KeyShare<Ed25519>   (every party 1..=n)
//! start_sign(session, &share, signers, msg, rng) -> [u8; 64]   (t or more parties)
//! start_refresh(session, share, rng)    -> KeyShare<Ed25519>   (same key, epoch + 1)
//! ```

pub mod group;
pub mod sign;

pub use group::Ed25519;
pub use sign::{start_sign, verify, Signing};

use crate::dkg::{self, Dkg};
use crate::error::ProtocolError;
use crate::key_share::KeyShare;
use crate::message::{Envelope, Scheme};
use crate::party::{PartyIndex, SessionId, Threshold};
use rand_core::{CryptoRng, RngCore};

/// A share of an Ed25519 key.
pub type EddsaKeyShare = KeyShare<Ed25519>;

/// A DKG or refresh run over Ed25519.
pub type EddsaDkg = Dkg<Ed25519>;

/// Start an Ed25519 DKG for party `me`; every party 1..=n takes part.
pub fn start_dkg<R: RngCore + CryptoRng>(
    session: SessionId,
    threshold: Threshold,
    me: PartyIndex,
    rng: &mut R,
) -> Result<(EddsaDkg, Vec<Envelope>), ProtocolError> {
    dkg::start_dkg(Scheme::Eddsa, session, threshold, me, rng)
}

/// Start a refresh of an Ed25519 share among all of its holders: same public key, new
/// shares, epoch + 1.
pub fn start_refresh<R: RngCore + CryptoRng>(
    session: SessionId,
    share: EddsaKeyShare,
    rng: &mut R,
) -> Result<(EddsaDkg, Vec<Envelope>), ProtocolError> {
    dkg::start_refresh(Scheme::Eddsa, session, share, rng)
}

/// The group public key in its standard 32-byte Ed25519 encoding.
pub fn public_key_bytes(share: &EddsaKeyShare) -> [u8; 32] {
    group::point_to_bytes(share.public_key())
}

#[cfg(test)]
mod tests;
