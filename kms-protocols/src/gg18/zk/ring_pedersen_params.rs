//! Πprm (CGGMP21, fig. 17), both ways: h2 ∈ ⟨h1⟩ and h1 ∈ ⟨h2⟩.
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// N~ and p'q' from the first fixture party's safe primes, and p~, q~.
    fn fixture() -> (BigInt, BigInt, BigInt, BigInt) {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/data/gg18_fixtures.json")).expect("json");
        let get = |k: &str| BigInt::from_hex(v["parties"][0][k].as_str().expect("hex")).expect("hex");
        let (p, q) = (get("rp_p"), get("rp_q"));
        let two = BigInt::from_u64(2);
        let order = (&p - &BigInt::one()).div_floor(&two).expect("p")
            * (&q - &BigInt::one()).div_floor(&two).expect("q");
        (&p * &q, order, p, q)
    }

    fn session() -> SessionId {
        SessionId::derive(b"prm-test")
    }

    fn prover() -> PartyIndex {
        PartyIndex::new(1).expect("1")
    }

    /// Run the prover's algorithm on (possibly malformed) parameters with the claimed
    /// exponents, and verify as a peer would (form check included).
    fn forge_and_verify(
        rng: &mut ChaCha20Rng,
        h1: BigInt,
        h2: BigInt,
        lambda: BigInt,
        lambda_inv: BigInt,
    ) -> Result<(), Fault> {
        let (n, order, _, _) = fixture();
        // The forger reduces mod 2p'q' (a multiple of every element's order), so its
        // responses are right whenever it knows a true discrete log.
        let order = order * BigInt::from_u64(2);
        let secret = RingPedersenSecret::forged(n.clone(), h1.clone(), h2.clone(), order, lambda, lambda_inv);
        let proof = RingPedersenProof::prove(rng, &session(), prover(), &secret);
        let rp = RingPedersen::check(&crate::gg18::ring_pedersen::RingPedersenParams { n, h1, h2 })?;
        proof.verify(&session(), prover(), &rp)
    }

    fn qr_generator(rng: &mut ChaCha20Rng, n: &Modulus) -> BigInt {
        loop {
            let r = n.random_unit(rng);
            let h = n.mul(&r, &r);
            if (&h - &BigInt::one()).gcd(n.value()) == BigInt::one() {
                return h;
            }
        }
    }

    #[test]
    fn honest_parameters_pass_the_forger_harness() {
        // Guards the harness: with well-formed values the same path verifies.
        let mut rng = ChaCha20Rng::seed_from_u64(20);
        let (n, order, _, _) = fixture();
        let nm = Modulus::new(n).expect("odd");
        let om = Modulus::new(order).expect("odd");
        let h1 = qr_generator(&mut rng, &nm);
        let lambda = om.random_unit(&mut rng);
        let lambda_inv = om.inv(&lambda).expect("unit");
        let h2 = nm.pow(&h1, &lambda).expect("pow");
        forge_and_verify(&mut rng, h1, h2, lambda, lambda_inv).expect("honest verifies");
    }

    #[test]
    fn h2_outside_the_group_of_h1_is_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        let (n, order, _, _) = fixture();
        let nm = Modulus::new(n.clone()).expect("odd");
        let om = Modulus::new(order).expect("odd");
        let h1 = qr_generator(&mut rng, &nm);
        let lambda = om.random_unit(&mut rng);
        let lambda_inv = om.inv(&lambda).expect("unit");
        // h2 = -h1^λ: -1 is a non-residue mod a safe-prime product, so h2 ∉ ⟨h1⟩.
        let h2 = nm.mul(&nm.pow(&h1, &lambda).expect("pow"), &(&n - &BigInt::one()));
        let err = forge_and_verify(&mut rng, h1, h2, lambda, lambda_inv).unwrap_err();
        assert!(matches!(err, Fault::InvalidProof(_)), "{err}");
    }

    /// The element = 1 mod p~ and = -1 mod q~ (order 2, not ±1).
    fn order_two(p: &BigInt, q: &BigInt, nm: &Modulus) -> BigInt {
        let qm = Modulus::new(q.clone()).expect("odd");
        let k = qm.mul(&(-&BigInt::from_u64(2)), &qm.inv(p).expect("unit"));
        let x = nm.reduce(&(BigInt::one() + &(p * &k)));
        assert_eq!(nm.mul(&x, &x), BigInt::one());
        x
    }

    #[test]
    fn h1_of_small_order_is_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(22);
        let (n, order, p, q) = fixture();
        let nm = Modulus::new(n).expect("odd");
        // h1 of order 2 (not ±1, so the form check passes).
        let h1 = order_two(&p, &q, &nm);
        let h2 = qr_generator(&mut rng, &nm);
        let om = Modulus::new(order).expect("odd");
        let lambda = om.random_unit(&mut rng);
        let err = forge_and_verify(&mut rng, h1, h2, lambda.clone(), lambda).unwrap_err();
        assert!(matches!(err, Fault::InvalidProof(_)), "{err}");
    }

    #[test]
    fn known_small_order_h2_inside_the_group_of_h1_is_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(23);
        let (n, order, p, q) = fixture();
        let nm = Modulus::new(n).expect("odd");
        // h1 = x·g (x of order 2, g of order p'q') has order 2p'q'; h2 = h1^(p'q') = x
        // has order 2 and lies in ⟨h1⟩, so the prover knows λ = p'q' for "h2 ∈ ⟨h1⟩",
        // but cannot show h1 ∈ ⟨h2⟩.
        let x = order_two(&p, &q, &nm);
        let g = qr_generator(&mut rng, &nm);
        let h1 = nm.mul(&g, &x);
        let h2 = nm.pow(&h1, &order).expect("pow");
        assert_eq!(h2, x);
        let err = forge_and_verify(&mut rng, h1, h2, order.clone(), order).unwrap_err();
        assert!(
            matches!(err, Fault::InvalidProof(ref m) if m.contains("h1 is not shown")),
            "{err}"
        );
    }
}
