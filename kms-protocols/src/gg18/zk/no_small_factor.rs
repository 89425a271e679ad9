//! Πfac (CGGMP21, fig. 28): the Paillier modulus N0 = p·q has no factor below about
//! 2^(bits(N0)/2 - ELL - EPSILON - 1) (2^254 for a 2048-bit N0).
//!
//! Commitments use the *verifier's* ring-Pedersen parameters (N^, s, t), so the proof is
//! made for one verifier. The prover commits to p and q, and proves
//! z1 = α + e·p, z2 = β + e·q within ±2^(ELL+EPSILON+1)·√N0, which a factorisation with
//! one small factor cannot meet, and that N0 = p·q inside the commitments.
//!
//! Masks are drawn from non-negative ranges (of the paper's widths) so that the prover's
//! constant-time exponentiation never needs to branch on a sign.

use crate::error::Fault;
use crate::gg18::bigint::{abs_le, challenge_below, BigInt};
use crate::gg18::ring_pedersen::{CommitmentOpener, RingPedersen};
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// Challenge size in bits (ℓ).
pub const ELL: usize = 256;
/// Statistical slack in bits (ε): every secret is masked with 2^-(EPSILON - ELL) distance.
pub const EPSILON: usize = 512;

const DOMAIN: &[u8] = b"kms/gg18/zk/fac/v1";

/// The no-small-factor proof (for one verifier).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NoSmallFactorProof {
    /// P = s^p t^μ.
    pub p_commit: BigInt,
    /// Q = s^q t^ν.
    pub q_commit: BigInt,
    /// A = s^α t^x.
    pub a: BigInt,
    /// B = s^β t^y.
    pub b: BigInt,
    /// T = Q^α t^r.
    pub t: BigInt,
    /// σ (public randomness of R = s^N0 t^σ).
    pub sigma: BigInt,
    /// z1 = α + e·p.
    pub z1: BigInt,
    /// z2 = β + e·q.
    pub z2: BigInt,
    /// w1 = x + e·μ.
    pub w1: BigInt,
    /// w2 = y + e·ν.
    pub w2: BigInt,
    /// v = r + e·(σ - ν·p).
    pub v: BigInt,
}

struct Bounds {
    sqrt_n0: BigInt,
    /// 2^(ℓ+ε)·√N0
    alpha: BigInt,
    /// 2^ℓ·N^
    mu: BigInt,
    /// 2^ℓ·N0·N^
    sigma: BigInt,
    /// 2^(ℓ+ε)·N0·N^
    r: BigInt,
    /// 2^(ℓ+ε)·N^
    x: BigInt,
}

impl Bounds {
    fn new(n0: &BigInt, rp: &RingPedersen) -> Self {
        let nh = rp.modulus().value();
        let sqrt_n0 = n0.sqrt_floor() + BigInt::one();
        Self {
            alpha: sqrt_n0.shl(ELL + EPSILON),
            mu: nh.shl(ELL),
            sigma: (n0 * nh).shl(ELL),
            r: (n0 * nh).shl(ELL + EPSILON),
            x: nh.shl(ELL + EPSILON),
            sqrt_n0,
        }
    }
}

fn challenge(
    session: &SessionId,
    prover: PartyIndex,
    n0: &BigInt,
    rp: &RingPedersen,
    proof: &NoSmallFactorProof,
) -> BigInt {
    let mut t = Transcript::for_proof(DOMAIN, session, prover);
    n0.append_to(&mut t, b"N0");
    rp.append_to(&mut t, b"verifier");
    for (label, v) in [
        (&b"P"[..], &proof.p_commit),
        (b"Q", &proof.q_commit),
        (b"A", &proof.a),
        (b"B", &proof.b),
        (b"T", &proof.t),
        (b"sigma", &proof.sigma),
    ] {
        v.append_to(&mut t, label);
    }
    challenge_below(&mut t, b"e", &BigInt::pow2(ELL))
}

impl NoSmallFactorProof {
    /// Prove that `n0 = p·q` has no small factor, to the verifier with parameters `rp`.
    /// `p`, `q` are not checked (a test uses this to try to cheat).
    pub fn prove<R: RngCore + CryptoRng>(
        rng: &mut R,
        session: &SessionId,
        prover: PartyIndex,
        n0: &BigInt,
        p: &BigInt,
        q: &BigInt,
        rp: &RingPedersen,
    ) -> Result<Self, crate::ProtocolError> {
        let bad = || crate::ProtocolError::InvalidParameters("Πfac prover: bad input".into());
        let bd = Bounds::new(n0, rp);
        let nh = rp.modulus();
        let mut alpha = BigInt::random_below(rng, &bd.alpha);
        let mut beta = BigInt::random_below(rng, &bd.alpha);
        let mut mu = BigInt::random_below(rng, &bd.mu);
        let mut nu = BigInt::random_below(rng, &bd.mu);
        let sigma = BigInt::random_below(rng, &bd.sigma);
        let mut r = BigInt::random_below(rng, &bd.r);
        let mut x = BigInt::random_below(rng, &bd.x);
        let mut y = BigInt::random_below(rng, &bd.x);
        let p_commit = rp.commit_sec(p, &mu).ok_or_else(bad)?;
        let q_commit = rp.commit_sec(q, &nu).ok_or_else(bad)?;
        let a = rp.commit_sec(&alpha, &x).ok_or_else(bad)?;
        let b = rp.commit_sec(&beta, &y).ok_or_else(bad)?;
        let t = nh.mul(
            &nh.pow_sec(&q_commit, &alpha).ok_or_else(bad)?,
            &nh.pow_sec(rp.h2(), &r).ok_or_else(bad)?,
        );
        let mut proof = Self {
            p_commit,
            q_commit,
            a,
            b,
            t,
            sigma,
            z1: BigInt::zero(),
            z2: BigInt::zero(),
            w1: BigInt::zero(),
            w2: BigInt::zero(),
            v: BigInt::zero(),
        };
        let e = challenge(session, prover, n0, rp, &proof);
        proof.z1 = &alpha + &(&e * p);
        proof.z2 = &beta + &(&e * q);
        proof.w1 = &x + &(&e * &mu);
        proof.w2 = &y + &(&e * &nu);
        let mut sigma_hat = &proof.sigma - &(&nu * p);
        proof.v = &r + &(&e * &sigma_hat);
        for s in [
            &mut alpha,
            &mut beta,
            &mut mu,
            &mut nu,
            &mut r,
            &mut x,
            &mut y,
            &mut sigma_hat,
        ] {
            s.zeroize();
        }
        Ok(proof)
    }

    /// Verify, as the verifier owning the ring-Pedersen parameters of `opener` (our own;
    /// pass the secret to open commitments with the trapdoor), that `n0` has no small
    /// factor.
    pub fn verify(
        &self,
        session: &SessionId,
        prover: PartyIndex,
        n0: &BigInt,
        opener: &impl CommitmentOpener,
    ) -> Result<(), Fault> {
        let rp = opener.params();
        let bad = |m: &str| Fault::InvalidProof(format!("no-small-factor proof: {m}"));
        let nh = rp.modulus();
        let bd = Bounds::new(n0, rp);
        for v in [&self.p_commit, &self.q_commit, &self.a, &self.b, &self.t] {
            if !nh.is_unit(v) {
                return Err(bad("commitment is not a unit mod N^"));
            }
        }
        // The range checks that carry the soundness: a factor below the bound forces the
        // other factor, and so z1 or z2, above it.
        let z_bound = bd.sqrt_n0.shl(ELL + EPSILON + 1);
        if !abs_le(&self.z1, &z_bound) || !abs_le(&self.z2, &z_bound) {
            return Err(bad("z1 or z2 out of range (a factor is too small)"));
        }
        // Size caps on the other responses (honest values are well inside).
        if self.sigma.is_negative()
            || self.sigma >= bd.sigma
            || !abs_le(&self.w1, &bd.x.shl(1))
            || !abs_le(&self.w2, &bd.x.shl(1))
            || !abs_le(&self.v, &bd.r.shl(1))
        {
            return Err(bad("response out of range"));
        }
        let e = challenge(session, prover, n0, rp, self);
        let pw = |b: &BigInt, x: &BigInt| nh.pow(b, x).ok_or_else(|| bad("exponentiation"));
        let lhs1 = rp
            .commit_public(&self.z1, &self.w1)
            .ok_or_else(|| bad("exponentiation"))?;
        let rhs1 = nh.mul(&self.a, &pw(&self.p_commit, &e)?);
        if lhs1 != rhs1 {
            return Err(bad("commitment to p does not open"));
        }
        let lhs2 = rp
            .commit_public(&self.z2, &self.w2)
            .ok_or_else(|| bad("exponentiation"))?;
        let rhs2 = nh.mul(&self.b, &pw(&self.q_commit, &e)?);
        if lhs2 != rhs2 {
            return Err(bad("commitment to q does not open"));
        }
        let r_commit = rp
            .commit_public(n0, &self.sigma)
            .ok_or_else(|| bad("exponentiation"))?;
        let lhs3 = nh.mul(&pw(&self.q_commit, &self.z1)?, &pw(rp.h2(), &self.v)?);
        let rhs3 = nh.mul(&self.t, &pw(&r_commit, &e)?);
        if lhs3 != rhs3 {
            return Err(bad("N0 is not the product of the committed factors"));
        }
        Ok(())
    }
}
