//! GG18 arithmetic layer: big integers, Paillier, ring-Pedersen parameters, the
//! zero-knowledge proofs that harden GG18 (CGGMP21 Πmod, Πfac, Πprm; GG18 appendix A
//! range proofs) and MtA / MtAwc.
//!
//! A node's auxiliary material ([`aux_info::AuxSecret`], [`aux_info::AuxPublic`]) is made
//! once and reused for every new key; a peer's is verified once ([`aux_info::PeerAux`]).
//! A [`refresh`] replaces it, for the refreshed key, by fresh material of every holder.
//! Every verifier step returns a [`crate::Fault`], so the protocol layer can name the
//! sender. The backend is GMP (see docs/bigint.md); all code uses it through [`bigint`].
//!
//! The protocol runs (GG18 threshold ECDSA on secp256k1, Gennaro-Goldfeder 2018) sit on
//! top: [`keygen`] (DKG), [`sign`] (signing phases 1-6), [`refresh`], with the key share
//! in [`key_share`] and the output signature in [`signature`]. Before any key, the nodes
//! exchange and verify their aux material once ([`aux_exchange`]); [`storage`] holds the
//! encodings a node keeps on disk (aux secret, verified peers, key shares).

pub mod aux_info;
pub mod bigint;
pub mod mta;
pub mod paillier;
pub mod primes;
pub mod ring_pedersen;
pub mod zk;

pub mod aux_exchange;
pub mod key_share;
pub mod keygen;
pub mod mta_backend;
pub(crate) mod phase5;
pub mod precompute;
pub mod refresh;
pub mod secp256k1;
pub mod sign;
pub mod signature;
pub mod storage;
#[cfg(test)]
mod test_support;

use crate::error::ProtocolError;
use crate::message::Envelope;
use crate::party::{PartyIndex, SessionId, Threshold};
use rand_core::{CryptoRng, RngCore};
use std::collections::BTreeMap;

pub use aux_exchange::AuxExchange;
pub use mta_backend::PaillierMta;
pub use signature::EcdsaSignature;

/// A party's GG18 key share (secret share, public shares, public key, own aux secret,
/// every peer's verified aux public data).
pub type Gg18KeyShare = key_share::KeyShareOf<PaillierMta>;
/// A GG18 DKG run.
pub type Gg18Dkg = keygen::DkgOf<PaillierMta>;
/// A GG18 signing run; its output is an [`EcdsaSignature`].
pub type Gg18Sign = sign::SignRun<PaillierMta>;
/// A pool of precomputed GG18 signing randomness for one node's aux material
/// (see [`precompute`]): filled off the critical path, taken by [`start_sign_with`].
pub type Gg18Precomputed = precompute::PrecomputedOf<PaillierMta>;
pub use refresh::Gg18Refresh;

/// Start an aux exchange (`Phase::Aux`) for party `me` among `parties`. `contexts`
/// holds each party's identity context (e.g. its node id: the proofs are bound to it, not
/// to `me`), `aux` is this node's aux secret. The output maps every other party to its
/// fully verified [`aux_info::PeerAux`], labelled with its index here; cache it per peer
/// node and relabel it per key with [`aux_info::PeerAux::with_party`]. A bad proof or
/// message is a [`ProtocolError::Culprit`] naming its sender.
pub fn start_aux_exchange<R: RngCore + CryptoRng>(
    session: SessionId,
    me: PartyIndex,
    parties: &[PartyIndex],
    contexts: BTreeMap<PartyIndex, Vec<u8>>,
    aux: &aux_info::AuxSecret,
    rng: &mut R,
) -> Result<(AuxExchange, Vec<Envelope>), ProtocolError> {
    AuxExchange::start(session, me, parties, contexts, aux, rng)
}

/// Start the GG18 DKG (section 4.1) for party `me` of `threshold`. `aux` is this node's
/// aux secret; `peers_aux` holds the fully verified aux material of exactly the other
/// parties. Returns the run and its first messages; the output is a [`Gg18KeyShare`].
pub fn start_dkg<R: RngCore + CryptoRng>(
    session: SessionId,
    threshold: Threshold,
    me: PartyIndex,
    aux: aux_info::AuxSecret,
    peers_aux: BTreeMap<PartyIndex, aux_info::PeerAux>,
    rng: &mut R,
) -> Result<(Gg18Dkg, Vec<Envelope>), ProtocolError> {
    Gg18Dkg::start(session, threshold, me, aux, peers_aux, rng)
}

/// Start GG18 signing (section 4.2) of the 32-byte digest `hash32` by `signers` (at
/// least t holders, including this one). The output is a low-s [`EcdsaSignature`] that
/// has been verified against the public key.
pub fn start_sign<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &Gg18KeyShare,
    signers: &[PartyIndex],
    hash32: [u8; 32],
    rng: &mut R,
) -> Result<(Gg18Sign, Vec<Envelope>), ProtocolError> {
    sign::SignRounds::start(session, share.clone(), signers, hash32, None, rng)
}

/// [`start_sign`] taking this signing's precomputed randomness from `pool` (Paillier
/// nonces, range-proof masks, Bob's β' and proof precomputations for each other signer).
/// The items are removed from the pool and used by this run only; whatever the pool
/// lacks, or everything with `None`, is computed inline.
pub fn start_sign_with<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &Gg18KeyShare,
    signers: &[PartyIndex],
    hash32: [u8; 32],
    pool: Option<&mut Gg18Precomputed>,
    rng: &mut R,
) -> Result<(Gg18Sign, Vec<Envelope>), ProtocolError> {
    sign::SignRounds::start(session, share.clone(), signers, hash32, pool, rng)
}

/// Start a proactive refresh of `share` with all other holders: same public key, new
/// shares, new aux material for every holder (`new_aux` is this holder's, fresh; see
/// [`refresh`]), epoch + 1. `identities` holds every holder's identity context by
/// party index (as for [`start_aux_exchange`]); the new aux proofs are bound to it, to
/// the session and to the key.
pub fn start_refresh<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &Gg18KeyShare,
    new_aux: aux_info::AuxSecret,
    identities: &BTreeMap<PartyIndex, Vec<u8>>,
    rng: &mut R,
) -> Result<(Gg18Refresh, Vec<Envelope>), ProtocolError> {
    Gg18Refresh::start(session, share, new_aux, identities, rng)
}
#[cfg(test)]
mod tests;
