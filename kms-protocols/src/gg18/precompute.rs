//! Precomputed randomness for GG18 signing, made off the critical path.
//!
//! Everything GG18 signing spends its time on before the message is known is
//! input-independent: the r^N of Alice's encryption of k_i, the masks and commitments of
//! her range proof for each verifier, and, as Bob, β', Enc(β') and two thirds of his
//! proof for each conversion. A [`PrecomputedOf`] pool holds such items, made by
//! [`PrecomputedOf::fill`] (on any thread: the node can fill a pool in the background
//! and [`PrecomputedOf::merge`] it into the one it signs with), and
//! [`crate::gg18::start_sign_with`] takes what one signing needs.
//!
//! Why an item can never serve twice:
//! - it is *taken*: the pool hands it out by value and forgets it, and the signing run
//!   consumes it (the item types are neither `Clone` nor `Copy`);
//! - it is *never persisted*: nothing here is `Serialize`; the pool lives in memory
//!   only, so a crash loses the items instead of replaying them after a restart (reuse
//!   of Bob's β' or a proof mask across two runs would leak his input or Alice's k);
//! - every item is secret and wiped when dropped (unused items too, e.g. on an abort).
//!
//! Items are bound to the aux material they were made for (our Paillier key, the
//! peer's Paillier key and ring-Pedersen parameters, by digest): an item for material
//! that no longer matches the key share is not used, and the run computes inline.

use super::key_share::KeyShareOf;
use super::mta_backend::MtaBackend;
use crate::error::ProtocolError;
use crate::party::PartyIndex;
use rand_core::{CryptoRng, RngCore};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// A pool of precomputed signing randomness for one node's aux material.
pub struct PrecomputedOf<M: MtaBackend> {
    me: PartyIndex,
    own_digest: [u8; 32],
    own: VecDeque<M::AliceNonce>,
    peers: BTreeMap<PartyIndex, PeerStock<M>>,
}

/// Items for signings with one peer: one range-proof precomputation and two Bob
/// precomputations (k*gamma, k*w) per signing.
struct PeerStock<M: MtaBackend> {
    digest: [u8; 32],
    alice: VecDeque<M::AliceProofPre>,
    bob: VecDeque<M::BobPre>,
}

/// What one signing took from a pool for one peer; `None` where the pool had nothing.
pub(crate) struct PeerWork<M: MtaBackend> {
    pub(crate) alice: Option<M::AliceProofPre>,
    pub(crate) bob_gamma: Option<M::BobPre>,
    pub(crate) bob_w: Option<M::BobPre>,
}

impl<M: MtaBackend> Default for PeerWork<M> {
    fn default() -> Self {
        Self {
            alice: None,
            bob_gamma: None,
            bob_w: None,
        }
    }
}

/// What one signing took from a pool.
pub(crate) struct Taken<M: MtaBackend> {
    pub(crate) own: Option<M::AliceNonce>,
    pub(crate) peers: BTreeMap<PartyIndex, PeerWork<M>>,
}

impl<M: MtaBackend> Default for Taken<M> {
    fn default() -> Self {
        Self {
            own: None,
            peers: BTreeMap::new(),
        }
    }
}

impl<M: MtaBackend> fmt::Debug for PrecomputedOf<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peers: BTreeMap<u16, (usize, usize)> = self
            .peers
            .iter()
            .map(|(p, s)| (p.get(), (s.alice.len(), s.bob.len())))
            .collect();
        f.debug_struct("Precomputed")
            .field("party", &self.me.get())
            .field("own_nonces", &self.own.len())
            .field("peers (range-proof, bob items)", &peers)
            .finish()
    }
}

impl<M: MtaBackend> PrecomputedOf<M> {
    /// An empty pool for the aux material of `share` (our Paillier key and our peers').
    pub fn new(share: &KeyShareOf<M>) -> Self {
        Self {
            me: share.index,
            own_digest: M::own_digest(&share.aux_secret),
            own: VecDeque::new(),
            peers: share
                .aux_peers
                .iter()
                .map(|(p, aux)| {
                    let stock = PeerStock {
                        digest: M::public_digest(aux),
                        alice: VecDeque::new(),
                        bob: VecDeque::new(),
                    };
                    (*p, stock)
                })
                .collect(),
        }
    }

    /// Whether `share` uses the aux material this pool was made for.
    fn serves(&self, share: &KeyShareOf<M>) -> bool {
        share.index == self.me
            && M::own_digest(&share.aux_secret) == self.own_digest
            && share.aux_peers.iter().all(|(p, aux)| {
                self.peers
                    .get(p)
                    .is_some_and(|s| s.digest == M::public_digest(aux))
            })
    }

    /// Precompute `signings` signings with `peers` (the other signers) and add them.
    /// This is the expensive part (about 90 ms per peer and signing on a 2048-bit key);
    /// run it where the latency does not matter.
    pub fn fill<R: RngCore + CryptoRng>(
        &mut self,
        share: &KeyShareOf<M>,
        peers: &[PartyIndex],
        signings: usize,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        if !self.serves(share) {
            return Err(ProtocolError::InvalidParameters(
                "precomputation pool was made for other aux material".into(),
            ));
        }
        let mut auxes = Vec::with_capacity(peers.len());
        for p in peers {
            let aux = share
                .aux_peers
                .get(p)
                .ok_or_else(|| ProtocolError::InvalidParameters(format!("no aux material for {p}")))?;
            auxes.push((*p, aux));
        }
        for _ in 0..signings {
            self.own.push_back(M::alice_nonce(&share.aux_secret, rng));
            for (p, aux) in &auxes {
                let alice = M::alice_proof_pre(&share.aux_secret, aux, rng);
                let bob_gamma = M::bob_pre(aux, rng);
                let bob_w = M::bob_pre(aux, rng);
                if let Some(s) = self.peers.get_mut(p) {
                    s.alice.push_back(alice);
                    s.bob.push_back(bob_gamma);
                    s.bob.push_back(bob_w);
                }
            }
        }
        Ok(())
    }

    /// Move every item of `other` (e.g. filled on a background thread) into this pool.
    /// Both must be for the same aux material.
    pub fn merge(&mut self, mut other: Self) -> Result<(), ProtocolError> {
        let same = other.me == self.me
            && other.own_digest == self.own_digest
            && other.peers.len() == self.peers.len()
            && other
                .peers
                .iter()
                .all(|(p, s)| self.peers.get(p).is_some_and(|t| t.digest == s.digest));
        if !same {
            return Err(ProtocolError::InvalidParameters(
                "precomputation pools for different aux material".into(),
            ));
        }
        self.own.append(&mut other.own);
        for (p, s) in &mut self.peers {
            if let Some(o) = other.peers.get_mut(p) {
                s.alice.append(&mut o.alice);
                s.bob.append(&mut o.bob);
            }
        }
        Ok(())
    }

    /// How many complete signings with `peers` (the other signers) the pool can serve.
    pub fn available(&self, peers: &[PartyIndex]) -> usize {
        peers
            .iter()
            .filter(|p| **p != self.me)
            .map(|p| {
                self.peers
                    .get(p)
                    .map_or(0, |s| s.alice.len().min(s.bob.len() / 2))
            })
            .fold(self.own.len(), usize::min)
    }

    /// Remove every item (they are wiped as they drop).
    pub fn clear(&mut self) {
        self.own.clear();
        for s in self.peers.values_mut() {
            s.alice.clear();
            s.bob.clear();
        }
    }

    /// Take what one signing of `share` by `signers` needs; whatever the pool lacks,
    /// or everything if it was made for other aux material, is `None` (computed inline).
    pub(crate) fn take(&mut self, share: &KeyShareOf<M>, signers: &[PartyIndex]) -> Taken<M> {
        if !self.serves(share) {
            return Taken::default();
        }
        let mut taken = Taken {
            own: self.own.pop_front(),
            peers: BTreeMap::new(),
        };
        for p in signers.iter().filter(|p| **p != self.me) {
            if let Some(s) = self.peers.get_mut(p) {
                let work = PeerWork {
                    alice: s.alice.pop_front(),
                    bob_gamma: s.bob.pop_front(),
                    bob_w: s.bob.pop_front(),
                };
                taken.peers.insert(*p, work);
            }
        }
        taken
    }
}
