//! Πprm (CGGMP21, fig. 17), both ways: h2 ∈ <h1> and h1 ∈ <h2>.
//!
//! For s = t^λ mod N~ the prover shows knowledge of λ with [`PRM_REPETITIONS`]
//! binary-challenge rounds: A_i = t^{a_i}, challenge bits e_i from all A_i at once,
//! z_i = a_i + e_i·λ mod p'q', checked as t^{z_i} = A_i · s^{e_i}. Proving it in both
//! directions (λ and λ^-1) means h1 and h2 generate the same group, so neither can have
//! a small order the other lacks, and commitments under these parameters hide
//! statistically.

use crate::error::Fault;
use crate::gg18::bigint::{challenge_bits, BigInt, Modulus};
use crate::gg18::ring_pedersen::{RingPedersen, RingPedersenSecret};
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// Binary-challenge repetitions per direction (soundness error 2^-80 each).
pub const PRM_REPETITIONS: usize = 80;

const DOMAIN: &[u8] = b"kms/gg18/zk/prm/v1";

/// The proof that (N~, h1, h2) is well formed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RingPedersenProof {
    /// A_i = h1^{a_i} (statement h2 = h1^λ).
    pub commitments_12: Vec<BigInt>,
    /// z_i for the statement h2 = h1^λ.
    pub responses_12: Vec<BigInt>,
    /// A_i = h2^{a_i} (statement h1 = h2^λ').
    pub commitments_21: Vec<BigInt>,
    /// z_i for the statement h1 = h2^λ'.
    pub responses_21: Vec<BigInt>,
}

fn transcript(session: &SessionId, prover: PartyIndex, rp: &RingPedersen) -> Transcript {
    let mut t = Transcript::for_proof(DOMAIN, session, prover);
    rp.append_to(&mut t, b"statement");
    t.append_u64(b"repetitions", PRM_REPETITIONS as u64);
    t
}

fn challenges(mut t: Transcript, commitments_12: &[BigInt], commitments_21: &[BigInt]) -> Vec<bool> {
    for a in commitments_12 {
        a.append_to(&mut t, b"A12");
    }
    for a in commitments_21 {
        a.append_to(&mut t, b"A21");
    }
    challenge_bits(&mut t, b"e", 2 * PRM_REPETITIONS)
}

impl RingPedersenProof {
    /// Prove the parameters of `secret` well formed.
    pub fn prove<R: RngCore + CryptoRng>(
        rng: &mut R,
        session: &SessionId,
        prover: PartyIndex,
        secret: &RingPedersenSecret,
    ) -> Self {
        let rp = secret.public();
        let n = rp.modulus();
        let order = secret.order();
        let mut a12: Vec<BigInt> = (0..PRM_REPETITIONS)
            .map(|_| BigInt::random_below(rng, order))
            .collect();
        let mut a21: Vec<BigInt> = (0..PRM_REPETITIONS)
            .map(|_| BigInt::random_below(rng, order))
            .collect();
        let commit = |base: &BigInt, a: &[BigInt]| -> Vec<BigInt> {
            a.iter()
                .map(|ai| n.pow_sec(base, ai).unwrap_or_else(BigInt::zero))
                .collect()
        };
        let commitments_12 = commit(rp.h1(), &a12);
        let commitments_21 = commit(rp.h2(), &a21);
        let e = challenges(transcript(session, prover, rp), &commitments_12, &commitments_21);
        // `order` = p'q' is odd (a product of odd primes), so it is a valid Modulus.
        let respond = |a: &[BigInt], lambda: &BigInt, bits: &[bool]| -> Vec<BigInt> {
            a.iter()
                .zip(bits)
                .map(|(ai, &ei)| {
                    // Compute both branches so the time does not depend on the bit.
                    let with = ai + lambda;
                    let mut sum = if ei { with.clone() } else { ai.clone() };
                    let z = sum.rem_floor(order).unwrap_or_else(BigInt::zero);
                    sum.zeroize();
                    let mut with = with;
                    with.zeroize();
                    z
                })
                .collect()
        };
        let responses_12 = respond(&a12, secret.lambda(), &e[..PRM_REPETITIONS]);
        let responses_21 = respond(&a21, secret.lambda_inv(), &e[PRM_REPETITIONS..]);
        a12.zeroize();
        a21.zeroize();
        Self {
            commitments_12,
            responses_12,
            commitments_21,
            responses_21,
        }
    }

    /// Verify the proof for `rp` (whose form the caller has checked with
    /// [`RingPedersen::check`]).
    pub fn verify(&self, session: &SessionId, prover: PartyIndex, rp: &RingPedersen) -> Result<(), Fault> {
        let bad = |m: &str| Fault::InvalidProof(format!("ring-Pedersen parameter proof: {m}"));
        for v in [
            &self.commitments_12,
            &self.responses_12,
            &self.commitments_21,
            &self.responses_21,
        ] {
            if v.len() != PRM_REPETITIONS {
                return Err(bad("wrong number of repetitions"));
            }
        }
        let n = rp.modulus();
        let e = challenges(
            transcript(session, prover, rp),
            &self.commitments_12,
            &self.commitments_21,
        );
        let check = |t: &BigInt, s: &BigInt, a: &[BigInt], z: &[BigInt], bits: &[bool]| {
            for ((ai, zi), &ei) in a.iter().zip(z).zip(bits) {
                check_round(n, t, s, ai, zi, ei)?;
            }
            Ok::<(), Fault>(())
        };
        check(
            rp.h1(),
            rp.h2(),
            &self.commitments_12,
            &self.responses_12,
            &e[..PRM_REPETITIONS],
        )
        .map_err(|_| bad("h2 is not shown to be in the group of h1"))?;
        check(
            rp.h2(),
            rp.h1(),
            &self.commitments_21,
            &self.responses_21,
            &e[PRM_REPETITIONS..],
        )
        .map_err(|_| bad("h1 is not shown to be in the group of h2"))
    }
}

fn check_round(n: &Modulus, t: &BigInt, s: &BigInt, a: &BigInt, z: &BigInt, e: bool) -> Result<(), Fault> {
    if !n.is_unit(a) || z.is_negative() || z >= n.value() {
        return Err(Fault::InvalidProof("value out of range".into()));
    }
    let lhs = n
        .pow(t, z)
        .ok_or_else(|| Fault::InvalidProof("exponentiation".into()))?;
    let rhs = if e { n.mul(a, s) } else { a.clone() };
    if lhs != rhs {
        return Err(Fault::InvalidProof("equation".into()));
    }
    Ok(())
}
