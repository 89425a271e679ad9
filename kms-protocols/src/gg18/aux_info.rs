//! A node's auxiliary material for GG18: its Paillier key and ring-Pedersen parameters,
//! with the proofs its peers need before they use them.
//!
//! The material belongs to the node, not to a key: generate it once
//! ([`AuxSecret::generate`], slow: safe primes), publish [`AuxPublic`] (made once with
//! [`AuxSecret::prove`]), and reuse it for every key. Refresh = generate anew.
//!
//! A peer's material is accepted in two steps, once per peer:
//! 1. [`AuxPublic::verify`] checks sizes, the Paillier-Blum modulus proof (Πmod) and the
//!    ring-Pedersen parameter proof (Πprm), giving a [`VerifiedAux`]. Its ring-Pedersen
//!    parameters are then safe for proving things *to* that peer, in particular
//! 2. the no-small-factor proof (Πfac), which each node makes for each verifier under
//!    the verifier's parameters ([`AuxSecret::prove_no_small_factor`]) and which the
//!    verifier checks with [`VerifiedAux::accept_no_small_factor`], giving a [`PeerAux`]:
//!    the only form in which a peer's Paillier key is handed to MtA.
//!
//! The proofs are bound to a `context` (the node's identity, e.g. its identity public
//! key and the deployment id) and to a prover label. A node's material is reused for
//! every key while its party index differs per key, so node material is proven under
//! the fixed label [`NODE_PROVER`] ([`AuxSecret::prove_for_node`],
//! [`AuxPublic::verify_for_node`], [`AuxSecret::prove_no_small_factor_for_node`]): the
//! identity is carried by the context, a peer is verified once, and
//! [`PeerAux::with_party`] labels the result with the index the peer has in a key.
//! The forms taking a `prover` bind material to one party index instead.

use super::bigint::BigInt;
use super::paillier::{PaillierPublic, PaillierSecret};
use super::primes::{blum_prime, safe_prime, ProgressFn};
use super::ring_pedersen::{RingPedersen, RingPedersenParams, RingPedersenSecret};
use super::zk::modulus::ModulusProof;
use super::zk::no_small_factor::NoSmallFactorProof;
use super::zk::ring_pedersen_params::RingPedersenProof;
use crate::error::Fault;
use crate::party::{PartyIndex, SessionId};
use crate::ProtocolError;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Size of each prime: 1024 bits, so N and N~ have 2048 bits.
pub const PRIME_BITS: usize = 1024;

/// The prover label of node-level aux material: not a party index of any key
/// (those are at most [`crate::party::Threshold::MAX_PARTIES`]), so proofs made for a
/// node never verify as proofs made under a key's party index, nor the converse.
pub const NODE_PROVER: PartyIndex = match PartyIndex::new(u16::MAX) {
    Some(p) => p,
    None => unreachable!(),
};

/// The session id under which aux proofs are made: derived from the context.
pub(crate) fn aux_session(context: &[u8]) -> SessionId {
    let mut label = b"kms/gg18/aux/v1:".to_vec();
    label.extend_from_slice(context);
    SessionId::derive(&label)
}

/// A node's secret auxiliary material: the Paillier primes (with CRT precomputation)
/// and the ring-Pedersen trapdoor. Zeroized on drop (through its parts); Debug redacts.
#[derive(Clone)]
pub struct AuxSecret {
    paillier: PaillierSecret,
    ring_pedersen: RingPedersenSecret,
}

impl fmt::Debug for AuxSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuxSecret(<redacted>)")
    }
}

impl AuxSecret {
    /// Generate fresh material: two 1024-bit Blum primes and two 1024-bit safe primes.
    /// Takes seconds to minutes; `progress` is called as candidates are tested.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R, progress: ProgressFn<'_>) -> Self {
        loop {
            let p = blum_prime(rng, PRIME_BITS, &mut *progress, 0, 4);
            let q = blum_prime(rng, PRIME_BITS, &mut *progress, 1, 4);
            let pt = safe_prime(rng, PRIME_BITS, &mut *progress, 2, 4);
            let qt = safe_prime(rng, PRIME_BITS, &mut *progress, 3, 4);
            // Equal primes are a 2^-1000 event; retry rather than fail.
            if let Ok(s) = Self::from_primes(rng, p, q, pt, qt) {
                return s;
            }
        }
    }

    /// Material from given primes (fixtures, or primes made elsewhere): `p`, `q` distinct
    /// Blum primes, `p_tilde`, `q_tilde` distinct safe primes, all of equal size with
    /// 2048-bit products. Primality is not re-tested here.
    pub fn from_primes<R: RngCore + CryptoRng>(
        rng: &mut R,
        p: BigInt,
        q: BigInt,
        p_tilde: BigInt,
        q_tilde: BigInt,
    ) -> Result<Self, ProtocolError> {
        if p.rem_u64(4) != 3 || q.rem_u64(4) != 3 {
            return Err(ProtocolError::InvalidParameters(
                "Paillier primes must be 3 mod 4".into(),
            ));
        }
        let paillier = PaillierSecret::from_primes(p, q)?;
        let ring_pedersen = RingPedersenSecret::from_safe_primes(rng, p_tilde, q_tilde)?;
        Ok(Self {
            paillier,
            ring_pedersen,
        })
    }

    /// The storable form (to persist the material: generation is slow).
    pub fn to_record(&self) -> AuxSecretRecord {
        let (p_tilde, q_tilde, h1, lambda) = self.ring_pedersen.parts();
        AuxSecretRecord {
            p: self.paillier.p().clone(),
            q: self.paillier.q().clone(),
            p_tilde: p_tilde.clone(),
            q_tilde: q_tilde.clone(),
            h1: h1.clone(),
            lambda: lambda.clone(),
        }
    }

    /// Rebuild from a stored record (same public material as before, so the cached
    /// [`AuxPublic`] and the peers' verification stay valid).
    pub fn from_record(record: &AuxSecretRecord) -> Result<Self, ProtocolError> {
        if record.p.rem_u64(4) != 3 || record.q.rem_u64(4) != 3 {
            return Err(ProtocolError::InvalidParameters(
                "Paillier primes must be 3 mod 4".into(),
            ));
        }
        Ok(Self {
            paillier: PaillierSecret::from_primes(record.p.clone(), record.q.clone())?,
            ring_pedersen: RingPedersenSecret::from_parts(
                record.p_tilde.clone(),
                record.q_tilde.clone(),
                record.h1.clone(),
                record.lambda.clone(),
            )?,
        })
    }

    /// The Paillier secret key.
    pub fn paillier(&self) -> &PaillierSecret {
        &self.paillier
    }

    /// The ring-Pedersen secret.
    pub fn ring_pedersen_secret(&self) -> &RingPedersenSecret {
        &self.ring_pedersen
    }

    /// Our own ring-Pedersen parameters (peers prove to us under these).
    pub fn ring_pedersen(&self) -> &RingPedersen {
        self.ring_pedersen.public()
    }

    /// Make the public material with its proofs (Πmod, Πprm), bound to `context` and
    /// `prover`. Done once per node (about a second); the result is cached and sent.
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        context: &[u8],
        prover: PartyIndex,
    ) -> Result<AuxPublic, ProtocolError> {
        let session = aux_session(context);
        let pk = self.paillier.public();
        let mod_proof = ModulusProof::prove(
            rng,
            &session,
            prover,
            pk.n(),
            self.paillier.p(),
            self.paillier.q(),
        )?;
        let prm_proof = RingPedersenProof::prove(rng, &session, prover, &self.ring_pedersen);
        Ok(AuxPublic {
            paillier_n: pk.n().clone(),
            ring_pedersen: self.ring_pedersen.public().params(),
            mod_proof,
            prm_proof,
        })
    }

    /// Πfac for one verifier, under that verifier's (verified) ring-Pedersen parameters.
    pub fn prove_no_small_factor<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        context: &[u8],
        prover: PartyIndex,
        verifier: &VerifiedAux,
    ) -> Result<NoSmallFactorProof, ProtocolError> {
        NoSmallFactorProof::prove(
            rng,
            &aux_session(context),
            prover,
            self.paillier.public().n(),
            self.paillier.p(),
            self.paillier.q(),
            &verifier.ring_pedersen,
        )
    }

    /// [`AuxSecret::prove`] for node-level material: bound to the node's identity
    /// `context` and the label [`NODE_PROVER`], valid under any party index.
    pub fn prove_for_node<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        context: &[u8],
    ) -> Result<AuxPublic, ProtocolError> {
        self.prove(rng, context, NODE_PROVER)
    }

    /// [`AuxSecret::prove_no_small_factor`] for node-level material (label
    /// [`NODE_PROVER`]); `verifier` comes from [`AuxPublic::verify_for_node`].
    pub fn prove_no_small_factor_for_node<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        context: &[u8],
        verifier: &VerifiedAux,
    ) -> Result<NoSmallFactorProof, ProtocolError> {
        self.prove_no_small_factor(rng, context, NODE_PROVER, verifier)
    }
}

/// The storable form of an [`AuxSecret`]: the primes, h1 and λ. Secret: the node's
/// storage encrypts it like a shard. Zeroized on drop; Debug redacts.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct AuxSecretRecord {
    /// Paillier prime p.
    pub p: BigInt,
    /// Paillier prime q.
    pub q: BigInt,
    /// Ring-Pedersen safe prime p~.
    pub p_tilde: BigInt,
    /// Ring-Pedersen safe prime q~.
    pub q_tilde: BigInt,
    /// h1.
    pub h1: BigInt,
    /// λ with h2 = h1^λ.
    pub lambda: BigInt,
}

impl fmt::Debug for AuxSecretRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuxSecretRecord(<redacted>)")
    }
}

/// A node's public auxiliary material with the proofs every peer checks.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AuxPublic {
    /// The Paillier modulus N.
    pub paillier_n: BigInt,
    /// The ring-Pedersen parameters (N~, h1, h2).
    pub ring_pedersen: RingPedersenParams,
    /// Πmod: N is a Paillier-Blum modulus.
    pub mod_proof: ModulusProof,
    /// Πprm: (N~, h1, h2) well formed.
    pub prm_proof: RingPedersenProof,
}

impl AuxPublic {
    /// Verify a peer's material (sizes >= 2048 bits, Πmod, Πprm). `context` and `prover`
    /// are the peer's identity context and party index. The error names what failed; the
    /// caller names the peer.
    pub fn verify(&self, context: &[u8], prover: PartyIndex) -> Result<VerifiedAux, Fault> {
        let session = aux_session(context);
        let paillier = PaillierPublic::new(self.paillier_n.clone())?;
        let ring_pedersen = RingPedersen::check(&self.ring_pedersen)?;
        self.mod_proof.verify(&session, prover, paillier.n())?;
        self.prm_proof.verify(&session, prover, &ring_pedersen)?;
        Ok(VerifiedAux {
            prover,
            paillier,
            ring_pedersen,
        })
    }

    /// [`AuxPublic::verify`] of node-level material: `context` is the peer node's
    /// identity, the label [`NODE_PROVER`]. Done once per peer, whatever its indices.
    pub fn verify_for_node(&self, context: &[u8]) -> Result<VerifiedAux, Fault> {
        self.verify(context, NODE_PROVER)
    }
}

/// A peer's material after [`AuxPublic::verify`]: its ring-Pedersen parameters are safe
/// to prove to; its Paillier key awaits the no-small-factor proof.
#[derive(Clone, Debug)]
pub struct VerifiedAux {
    prover: PartyIndex,
    paillier: PaillierPublic,
    ring_pedersen: RingPedersen,
}

impl VerifiedAux {
    /// The peer's party index.
    pub fn party(&self) -> PartyIndex {
        self.prover
    }

    /// The peer's ring-Pedersen parameters.
    pub fn ring_pedersen(&self) -> &RingPedersen {
        &self.ring_pedersen
    }

    /// Check the peer's Πfac made for us (under `own`'s ring-Pedersen parameters).
    pub fn accept_no_small_factor(
        self,
        context: &[u8],
        proof: &NoSmallFactorProof,
        own: &AuxSecret,
    ) -> Result<PeerAux, Fault> {
        proof.verify(
            &aux_session(context),
            self.prover,
            self.paillier.n(),
            own.ring_pedersen_secret(),
        )?;
        Ok(PeerAux {
            party: self.prover,
            paillier: self.paillier,
            ring_pedersen: self.ring_pedersen,
        })
    }
}

/// A peer's fully verified material (Πmod, Πprm, Πfac): store it and reuse it for every
/// key and signing session with that peer.
#[derive(Clone, Debug)]
pub struct PeerAux {
    party: PartyIndex,
    paillier: PaillierPublic,
    ring_pedersen: RingPedersen,
}

impl PeerAux {
    /// The peer's party index.
    pub fn party(&self) -> PartyIndex {
        self.party
    }

    /// The peer's Paillier public key.
    pub fn paillier(&self) -> &PaillierPublic {
        &self.paillier
    }

    /// The peer's ring-Pedersen parameters.
    pub fn ring_pedersen(&self) -> &RingPedersen {
        &self.ring_pedersen
    }

    /// The same material under another party index: node-level material is verified
    /// once (label [`NODE_PROVER`]) and relabelled with the index the peer has in each
    /// key. Relabelling only: the proofs do not depend on the index.
    pub fn with_party(self, party: PartyIndex) -> PeerAux {
        PeerAux { party, ..self }
    }

    /// Assemble without proofs: only for material the node itself verified and stored
    /// (see the storage decoder, which documents this).
    pub(crate) fn from_trusted_parts(
        party: PartyIndex,
        paillier: PaillierPublic,
        ring_pedersen: RingPedersen,
    ) -> Self {
        Self {
            party,
            paillier,
            ring_pedersen,
        }
    }
}
