//! GG18 arithmetic layer: big integers, Paillier, ring-Pedersen parameters, the
//! zero-knowledge proofs that harden GG18 (CGGMP21 Πmod, Πfac, Πprm; GG18 appendix A
//! range proofs) and MtA / MtAwc.
//!
//! A node's auxiliary material ([`aux_info::AuxSecret`], [`aux_info::AuxPublic`]) is made
//! once and reused for every key; a peer's is verified once ([`aux_info::PeerAux`]).
//! Every verifier step returns a [`crate::Fault`], so the protocol layer can name the
//! sender. The backend is GMP (see docs/bigint.md); all code uses it through [`bigint`].
//!
//! The protocol runs (GG18 threshold ECDSA on secp256k1, Gennaro-Goldfeder 2018) sit on
//! top: [`keygen`] (DKG), [`sign`] (signing phases 1-6), [`refresh`], with the key share
//! in [`key_share`] and the output signature in [`signature`].

pub mod bigint;
pub mod paillier;
pub mod primes;
pub mod ring_pedersen;

pub mod key_share;
pub mod keygen;
pub mod mta_backend;
mod phase5;
pub mod refresh;
pub mod secp256k1;
pub mod sign;
pub mod signature;
#[cfg(test)]
mod test_support;
