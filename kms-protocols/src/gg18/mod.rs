//! GG18 arithmetic layer: big integers, Paillier, ring-Pedersen parameters, the
//! zero-knowledge proofs that harden GG18 (CGGMP21 Πmod, Πfac, Πprm; GG18 appendix A
//! range proofs) and MtA / MtAwc.
//!
//! A node's auxiliary material ([`aux_info::AuxSecret`], [`aux_info::AuxPublic`]) is made
//! once and reused for every key; a peer's is verified once ([`aux_info::PeerAux`]).
//! Every verifier step returns a [`crate::Fault`], so the protocol layer can name the
//! sender. The backend is GMP (see docs/bigint.md); all code uses it through [`bigint`].

pub mod aux_info;
pub mod bigint;
pub mod mta;
pub mod paillier;
pub mod primes;
pub mod ring_pedersen;
pub mod zk;
