//! Bob's proof for MtA (GG18 appendix A.2) and MtAwc (A.3): for Alice's ciphertext c1
//! and Bob's answer c2 = c1^x Γ^y r^N mod N^2 (Alice's key N), x <= q^3 and y <= q^7;
//! with the check, also X = g^x on secp256k1. Uses the verifier's (Alice's)
//! ring-Pedersen parameters.
//!
//! Prover: α ∈ [0, q^3), ρ, σ ∈ [0, q·N~), ρ', τ ∈ [0, q^3·N~), β ∈ Z_N^*,
//! γ ∈ [0, q^7); z = h1^x h2^ρ, z' = h1^α h2^ρ', t = h1^y h2^σ, v = c1^α Γ^γ β^N,
//! w = h1^γ h2^τ, (u = g^α); e = H(...) mod q; s = r^e β mod N, s1 = e·x + α,
//! s2 = e·ρ + ρ', t1 = e·y + γ, t2 = e·σ + τ.
//! Verifier: 0 <= s1 <= q^3, 0 <= t1 <= q^7; h1^s1 h2^s2 = z^e z';
//! h1^t1 h2^t2 = t^e w; c1^s1 s^N Γ^t1 = c2^e v mod N^2; (g^s1 = X^e u).

use crate::error::Fault;
use crate::gg18::bigint::{challenge_below, BigInt};
use crate::gg18::mta::{bigint_to_scalar, curve_order, decode_point, encode_point, MtaContext};
use crate::gg18::paillier::{Ciphertext, EncryptionNonce, PaillierExp, PaillierPublic};
use crate::gg18::ring_pedersen::{CommitmentOpener, RingPedersen};
use k256::ProjectivePoint;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

const DOMAIN: &[u8] = b"kms/gg18/zk/mta-respondent/v1";

/// Bob's proof (with the curve check when `u` is present).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BobProof {
    /// z = h1^x h2^ρ mod N~.
    pub z: BigInt,
    /// z' = h1^α h2^ρ' mod N~.
    pub z_prime: BigInt,
    /// t = h1^y h2^σ mod N~.
    pub t: BigInt,
    /// v = c1^α Γ^γ β^N mod N^2.
    pub v: BigInt,
    /// w = h1^γ h2^τ mod N~.
    pub w: BigInt,
    /// u = g^α (SEC1 compressed), only in MtAwc.
    pub u: Option<Vec<u8>>,
    /// s = r^e β mod N.
    pub s: BigInt,
    /// s1 = e·x + α.
    pub s1: BigInt,
    /// s2 = e·ρ + ρ'.
    pub s2: BigInt,
    /// t1 = e·y + γ.
    pub t1: BigInt,
    /// t2 = e·σ + τ.
    pub t2: BigInt,
}

/// The public statement of Bob's proof. `pk` and `rp` are Alice's Paillier key and
/// ring-Pedersen parameters; when Alice verifies she passes her secrets in their place
/// (same public values, faster checks through CRT and the trapdoor).
pub struct BobStatement<'a, K: PaillierExp, O: CommitmentOpener> {
    /// Alice's Paillier key.
    pub pk: &'a K,
    /// Alice's ciphertext.
    pub c1: &'a Ciphertext,
    /// Bob's answer.
    pub c2: &'a Ciphertext,
    /// The verifier's (Alice's) ring-Pedersen parameters.
    pub rp: &'a O,
    /// X = g^x for MtAwc; `None` for plain MtA.
    pub x_point: Option<&'a ProjectivePoint>,
}

/// Bob's secret witness (y, β' in MtA, sits in the precomputation).
pub struct BobWitness<'a> {
    /// x (Bob's multiplicand b), in [0, q).
    pub x: &'a BigInt,
    /// The encryption nonce r of Γ^y r^N.
    pub r: &'a BigInt,
}

/// Everything of Bob's proof that does not depend on x or on Alice's ciphertext, made
/// off the critical path: the masks, β^N, and the commitments z', t, w, the h2^ρ half
/// of z, Γ^γ β^N and g^α. About two thirds of the prover's work. Use once (it is
/// consumed), with the Paillier key and ring-Pedersen parameters it was made for.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct BobProofPrecomputation {
    y: BigInt,
    alpha: BigInt,
    rho: BigInt,
    rho_p: BigInt,
    sigma: BigInt,
    gamma: BigInt,
    tau: BigInt,
    beta_nonce: EncryptionNonce,
    h2_rho: BigInt,
    gamma_beta_n: BigInt,
    #[zeroize(skip)]
    z_prime: BigInt,
    #[zeroize(skip)]
    t: BigInt,
    #[zeroize(skip)]
    w: BigInt,
    #[zeroize(skip)]
    u: Vec<u8>,
}

impl std::fmt::Debug for BobProofPrecomputation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BobProofPrecomputation(<redacted>)")
    }
}

impl BobProofPrecomputation {
    /// Precompute for a proof under Alice's key `pk` and parameters `rp`, for the witness
    /// part y (β' in MtA; secret, >= 0).
    pub fn new<R: RngCore + CryptoRng>(
        rng: &mut R,
        pk: &PaillierPublic,
        rp: &RingPedersen,
        y: BigInt,
    ) -> Self {
        let q = curve_order();
        let q3 = q.pow(3);
        let q7 = q.pow(7);
        let nt = rp.modulus().value();
        let qn = &q * nt;
        let q3n = &q3 * nt;
        let alpha = BigInt::random_below(rng, &q3);
        let rho = BigInt::random_below(rng, &qn);
        let rho_p = BigInt::random_below(rng, &q3n);
        let sigma = BigInt::random_below(rng, &qn);
        let gamma = BigInt::random_below(rng, &q7);
        let tau = BigInt::random_below(rng, &q3n);
        let beta_nonce = pk.precompute_nonce(rng);
        // Exponents are >= 0 by construction: the commitments cannot fail.
        let commit = |a: &BigInt, b: &BigInt| rp.commit_sec(a, b).unwrap_or_else(BigInt::zero);
        let h2_rho = rp.modulus().pow_sec(rp.h2(), &rho).unwrap_or_else(BigInt::zero);
        let gamma_beta_n = pk.nn().mul(&pk.gamma_pow(&gamma), &beta_nonce.rn);
        let mut a = bigint_to_scalar(&alpha);
        let u = encode_point(&(ProjectivePoint::GENERATOR * a));
        a.zeroize();
        Self {
            z_prime: commit(&alpha, &rho_p),
            t: commit(&y, &sigma),
            w: commit(&gamma, &tau),
            y,
            alpha,
            rho,
            rho_p,
            sigma,
            gamma,
            tau,
            beta_nonce,
            h2_rho,
            gamma_beta_n,
            u,
        }
    }

    /// The witness part y this was made for.
    pub fn y(&self) -> &BigInt {
        &self.y
    }

    /// A cheating Bob's precomputation for a y of any sign (the honest one takes
    /// y >= 0): t = h1^y h2^σ through the public-exponent commitment, and γ drawn from
    /// [q·|y|, q^7) so that t1 = e·y + γ stays inside the verifier's [0, q^7].
    #[cfg(test)]
    pub(crate) fn forged_signed_y<R: RngCore + CryptoRng>(
        rng: &mut R,
        pk: &PaillierPublic,
        rp: &RingPedersen,
        y: BigInt,
    ) -> Self {
        let q = curve_order();
        let q3 = q.pow(3);
        let q7 = q.pow(7);
        let nt = rp.modulus().value();
        let qn = &q * nt;
        let q3n = &q3 * nt;
        let alpha = BigInt::random_below(rng, &q3);
        let rho = BigInt::random_below(rng, &qn);
        let rho_p = BigInt::random_below(rng, &q3n);
        let sigma = BigInt::random_below(rng, &qn);
        let floor = &q * &y.abs();
        let gamma = &floor + &BigInt::random_below(rng, &(&q7 - &floor));
        let tau = BigInt::random_below(rng, &q3n);
        let beta_nonce = pk.precompute_nonce(rng);
        let commit = |a: &BigInt, b: &BigInt| rp.commit_public(a, b).expect("units");
        let h2_rho = rp.modulus().pow(rp.h2(), &rho).expect("unit");
        let gamma_beta_n = pk.nn().mul(&pk.gamma_pow(&gamma), &beta_nonce.rn);
        let u = encode_point(&(ProjectivePoint::GENERATOR * bigint_to_scalar(&alpha)));
        Self {
            z_prime: commit(&alpha, &rho_p),
            t: commit(&y, &sigma),
            w: commit(&gamma, &tau),
            y,
            alpha,
            rho,
            rho_p,
            sigma,
            gamma,
            tau,
            beta_nonce,
            h2_rho,
            gamma_beta_n,
            u,
        }
    }
}

fn challenge<K: PaillierExp, O: CommitmentOpener>(
    ctx: &MtaContext<'_>,
    st: &BobStatement<'_, K, O>,
    pr: &BobProof,
) -> BigInt {
    let mut t = ctx.transcript(DOMAIN, ctx.bob);
    st.pk.public_key().n().append_to(&mut t, b"N");
    st.c1.0.append_to(&mut t, b"c1");
    st.c2.0.append_to(&mut t, b"c2");
    st.rp.params().append_to(&mut t, b"verifier");
    match st.x_point {
        Some(x) => t.append(b"X", &encode_point(x)),
        None => t.append(b"X", b"none"),
    }
    for (label, v) in [
        (&b"z"[..], &pr.z),
        (b"z'", &pr.z_prime),
        (b"t", &pr.t),
        (b"v", &pr.v),
        (b"w", &pr.w),
    ] {
        v.append_to(&mut t, label);
    }
    t.append(b"u", pr.u.as_deref().unwrap_or(b"none"));
    challenge_below(&mut t, b"e", &curve_order())
}

impl BobProof {
    /// Prove the statement with a precomputation made for the same key, parameters and y.
    /// The witness is not checked (tests use this to cheat).
    pub fn prove<K: PaillierExp, O: CommitmentOpener>(
        ctx: &MtaContext<'_>,
        st: &BobStatement<'_, K, O>,
        wit: &BobWitness<'_>,
        pre: BobProofPrecomputation,
    ) -> Self {
        let pk = st.pk.public_key();
        let rp = st.rp.params();
        let nt = rp.modulus();
        let nn = pk.nn();
        // The online part: h1^x, c1^α, the challenge and the responses.
        let h1_x = nt.pow_sec(rp.h1(), wit.x).unwrap_or_else(BigInt::zero);
        let c1_alpha = nn.pow_sec(&st.c1.0, &pre.alpha).unwrap_or_else(BigInt::zero);
        let mut proof = Self {
            z: nt.mul(&h1_x, &pre.h2_rho),
            z_prime: pre.z_prime.clone(),
            t: pre.t.clone(),
            v: nn.mul(&c1_alpha, &pre.gamma_beta_n),
            w: pre.w.clone(),
            u: st.x_point.map(|_| pre.u.clone()),
            s: BigInt::zero(),
            s1: BigInt::zero(),
            s2: BigInt::zero(),
            t1: BigInt::zero(),
            t2: BigInt::zero(),
        };
        let e = challenge(ctx, st, &proof);
        let n = pk.n_modulus();
        proof.s = n.mul(
            &n.pow_sec(wit.r, &e).unwrap_or_else(BigInt::zero),
            &pre.beta_nonce.r,
        );
        proof.s1 = &(&e * wit.x) + &pre.alpha;
        proof.s2 = &(&e * &pre.rho) + &pre.rho_p;
        proof.t1 = &(&e * &pre.y) + &pre.gamma;
        proof.t2 = &(&e * &pre.sigma) + &pre.tau;
        proof
    }

    /// Verify, as Alice. `st.c1` is Alice's own ciphertext; `st.c2` is validated here.
    pub fn verify<K: PaillierExp, O: CommitmentOpener>(
        &self,
        ctx: &MtaContext<'_>,
        st: &BobStatement<'_, K, O>,
    ) -> Result<(), Fault> {
        let bad = |m: &str| Fault::InvalidProof(format!("MtA respondent proof (Bob): {m}"));
        let pk = st.pk.public_key();
        pk.validate(st.c2)?;
        let q = curve_order();
        let q3 = q.pow(3);
        let q7 = q.pow(7);
        let nt = st.rp.params().modulus();
        if self.s1.is_negative() || self.s1 > q3 {
            return Err(bad("s1 out of range: b not shown below q^3"));
        }
        if self.t1.is_negative() || self.t1 > q7 {
            return Err(bad("t1 out of range: beta' not shown below q^7"));
        }
        let cap = (&q3 * nt.value()).shl(1);
        if self.s2.is_negative() || self.s2 > cap || self.t2.is_negative() || self.t2 > cap {
            return Err(bad("s2 or t2 out of range"));
        }
        for c in [&self.z, &self.z_prime, &self.t, &self.w] {
            if !nt.is_unit(c) {
                return Err(bad("commitment is not a unit mod N~"));
            }
        }
        if !pk.n_modulus().is_unit(&self.s) || !pk.nn().is_unit(&self.v) {
            return Err(bad("s or v is not a unit"));
        }
        let e = challenge(ctx, st, self);
        let pw = |m: &crate::gg18::bigint::Modulus, b: &BigInt, x: &BigInt| {
            m.pow(b, x).ok_or_else(|| bad("exponentiation"))
        };
        // h1^s1 h2^s2 = z^e z'
        let lhs = st
            .rp
            .open(&self.s1, &self.s2)
            .ok_or_else(|| bad("exponentiation"))?;
        if lhs != nt.mul(&pw(nt, &self.z, &e)?, &self.z_prime) {
            return Err(bad("commitment to b does not open"));
        }
        // h1^t1 h2^t2 = t^e w
        let lhs = st
            .rp
            .open(&self.t1, &self.t2)
            .ok_or_else(|| bad("exponentiation"))?;
        if lhs != nt.mul(&pw(nt, &self.t, &e)?, &self.w) {
            return Err(bad("commitment to beta' does not open"));
        }
        // c1^s1 s^N Γ^t1 = c2^e v mod N^2
        let nn = pk.nn();
        let pn = |b: &BigInt, x: &BigInt| st.pk.pow_nn(b, x).ok_or_else(|| bad("exponentiation"));
        let lhs = nn.mul(
            &nn.mul(&pn(&st.c1.0, &self.s1)?, &pn(&self.s, pk.n())?),
            &pk.gamma_pow(&self.t1),
        );
        if lhs != nn.mul(&pn(&st.c2.0, &e)?, &self.v) {
            return Err(bad("Paillier equation fails"));
        }
        match (st.x_point, &self.u) {
            (None, None) => Ok(()),
            (Some(x), Some(u)) => {
                let u = decode_point(u)?;
                let e_s = bigint_to_scalar(&e);
                let s1 = bigint_to_scalar(&self.s1);
                if ProjectivePoint::GENERATOR * s1 != *x * e_s + u {
                    return Err(bad("g^b does not match B"));
                }
                Ok(())
            }
            _ => Err(bad("curve check present in one of statement and proof only")),
        }
    }
}
