//! Pairwise zero sharing (the paper's Functionality 3.4): one seed per pair of holders,
//! agreed at setup by commit-and-open, and per signing the shares `ζ_i` with
//! `Σ_{i∈S} ζ_i = 0`. See docs/dkls23.md §5.

use super::hash::Tagged;
use crate::party::PartyIndex;
use k256::Scalar;
use rand_core::{CryptoRng, RngCore};
use std::collections::BTreeMap;

/// A fresh 32-byte contribution to a pair's seed.
pub fn contribution<R: RngCore + CryptoRng>(rng: &mut R) -> [u8; 32] {
    let mut c = [0u8; 32];
    rng.fill_bytes(&mut c);
    c
}

/// The commitment `from` sends `to` for its contribution (hiding: the contribution is
/// 256 random bits; binding: SHA-256).
pub fn commit(sid: &[u8; 32], from: PartyIndex, to: PartyIndex, contribution: &[u8; 32]) -> [u8; 32] {
    Tagged::new("zero-commit")
        .item(sid)
        .u64(u64::from(from.get()))
        .u64(u64::from(to.get()))
        .item(contribution)
        .finish()
}

/// The pair's seed from both contributions, taken in index order so both sides agree.
pub fn seed(
    sid: &[u8; 32],
    me: PartyIndex,
    mine: &[u8; 32],
    peer: PartyIndex,
    theirs: &[u8; 32],
) -> [u8; 32] {
    let (first, second) = if me < peer { (mine, theirs) } else { (theirs, mine) };
    Tagged::new("zero-seed")
        .item(sid)
        .item(first)
        .item(second)
        .finish()
}

/// `ζ_me` for one signing among `signers` (which include `me`), from the seeds shared
/// with each other signer: `+z` toward higher indices, `−z` toward lower ones.
pub fn zeta(
    me: PartyIndex,
    seeds: &BTreeMap<PartyIndex, [u8; 32]>,
    signers: &[PartyIndex],
    sign_sid: &[u8; 32],
) -> Option<Scalar> {
    let mut z = Scalar::ZERO;
    for j in signers.iter().filter(|j| **j != me) {
        let term = Tagged::new("zero").item(seeds.get(j)?).item(sign_sid).scalar();
        if me < *j {
            z += term;
        } else {
            z -= term;
        }
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn shares_sum_to_zero_for_every_subset() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let sid = [1u8; 32];
        let parties: Vec<PartyIndex> = PartyIndex::range(5).collect();
        let contrib: BTreeMap<PartyIndex, [u8; 32]> =
            parties.iter().map(|p| (*p, contribution(&mut rng))).collect();
        let seeds = |me: PartyIndex| -> BTreeMap<PartyIndex, [u8; 32]> {
            parties
                .iter()
                .filter(|p| **p != me)
                .map(|p| (*p, seed(&sid, me, &contrib[&me], *p, &contrib[p])))
                .collect()
        };
        for mask in 1u32..32 {
            let set: Vec<PartyIndex> = parties
                .iter()
                .copied()
                .filter(|p| mask & (1 << (p.get() - 1)) != 0)
                .collect();
            if set.len() < 2 {
                continue;
            }
            let sum = set
                .iter()
                .map(|p| zeta(*p, &seeds(*p), &set, &[9u8; 32]).unwrap())
                .fold(Scalar::ZERO, |a, b| a + b);
            assert_eq!(sum, Scalar::ZERO);
            let one = zeta(set[0], &seeds(set[0]), &set, &[9u8; 32]).unwrap();
            assert_ne!(one, Scalar::ZERO);
            assert_ne!(
                one,
                zeta(set[0], &seeds(set[0]), &set, &[8u8; 32]).unwrap(),
                "fresh per session"
            );
        }
        // The commitment binds the contribution and the direction.
        let (a, b) = (parties[0], parties[1]);
        assert_ne!(commit(&sid, a, b, &contrib[&a]), commit(&sid, b, a, &contrib[&a]));
    }
}
