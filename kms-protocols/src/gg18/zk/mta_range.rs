//! Alice's range proof for MtA (GG18 appendix A.1): the plaintext m of
//! c = Γ^m r^N mod N^2 (N is Alice's key) satisfies m <= q^3, using the verifier's
//! (Bob's) ring-Pedersen parameters.
//!
//! Prover: α ∈ [0, q^3), β ∈ Z_N^*, γ ∈ [0, q^3·N~), ρ ∈ [0, q·N~);
//! z = h1^m h2^ρ, u = Γ^α β^N mod N^2, w = h1^α h2^γ; e = H(...) mod q;
//! s = r^e β mod N, s1 = e·m + α, s2 = e·ρ + γ.
//! Verifier: 0 <= s1 <= q^3; Γ^s1 s^N = u c^e mod N^2; h1^s1 h2^s2 = w z^e mod N~.

use crate::error::Fault;
use crate::gg18::bigint::{challenge_below, BigInt};
use crate::gg18::mta::{curve_order, MtaContext};
use crate::gg18::paillier::{Ciphertext, PaillierExp, PaillierPublic, PaillierSecret};
use crate::gg18::ring_pedersen::{CommitmentOpener, RingPedersen};
use crate::transcript::Transcript;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

const DOMAIN: &[u8] = b"kms/gg18/zk/mta-range/v1";

/// The input-independent part of Alice's range proof, made off the critical path for
/// one verifier's parameters: the masks α, β, γ, ρ, and h2^ρ, u = Γ^α β^N (CRT), w.
/// Secret; use once (it is consumed).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AliceProofPrecomputation {
    alpha: BigInt,
    beta: BigInt,
    gamma: BigInt,
    rho: BigInt,
    h2_rho: BigInt,
    #[zeroize(skip)]
    u: BigInt,
    #[zeroize(skip)]
    w: BigInt,
}

impl std::fmt::Debug for AliceProofPrecomputation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AliceProofPrecomputation(<redacted>)")
    }
}

impl AliceProofPrecomputation {
    /// Precompute for a proof under our own key `sk` to the verifier with parameters `rp`.
    pub fn new<R: RngCore + CryptoRng>(rng: &mut R, sk: &PaillierSecret, rp: &RingPedersen) -> Self {
        let pk = sk.public();
        let q = curve_order();
        let q3 = q.pow(3);
        let nt = rp.modulus();
        let alpha = BigInt::random_below(rng, &q3);
        let beta = pk.n_modulus().random_unit(rng);
        let gamma = BigInt::random_below(rng, &(&q3 * nt.value()));
        let rho = BigInt::random_below(rng, &(&q * nt.value()));
        // All exponents are >= 0 by construction, so the commitments cannot fail.
        let h2_rho = nt.pow_sec(rp.h2(), &rho).unwrap_or_else(BigInt::zero);
        let u = pk.nn().mul(&pk.gamma_pow(&alpha), &sk.power_n_crt(&beta));
        let w = rp.commit_sec(&alpha, &gamma).unwrap_or_else(BigInt::zero);
        Self {
            alpha,
            beta,
            gamma,
            rho,
            h2_rho,
            u,
            w,
        }
    }
}

/// Alice's range proof.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AliceRangeProof {
    /// z = h1^m h2^ρ mod N~.
    pub z: BigInt,
    /// u = Γ^α β^N mod N^2.
    pub u: BigInt,
    /// w = h1^α h2^γ mod N~.
    pub w: BigInt,
    /// s = r^e β mod N.
    pub s: BigInt,
    /// s1 = e·m + α.
    pub s1: BigInt,
    /// s2 = e·ρ + γ.
    pub s2: BigInt,
}

fn challenge(
    ctx: &MtaContext<'_>,
    pk: &PaillierPublic,
    c: &Ciphertext,
    rp: &RingPedersen,
    z: &BigInt,
    u: &BigInt,
    w: &BigInt,
) -> BigInt {
    let mut t: Transcript = ctx.transcript(DOMAIN, ctx.alice);
    pk.n().append_to(&mut t, b"N");
    c.0.append_to(&mut t, b"c");
    rp.append_to(&mut t, b"verifier");
    z.append_to(&mut t, b"z");
    u.append_to(&mut t, b"u");
    w.append_to(&mut t, b"w");
    challenge_below(&mut t, b"e", &curve_order())
}

impl AliceRangeProof {
    /// Prove that `c` = Enc(m; r) under Alice's own key `sk` has m <= q^3, to the
    /// verifier with ring-Pedersen parameters `rp`. `m` is not checked (tests use this
    /// to try to cheat with an out-of-range m).
    pub fn prove<R: RngCore + CryptoRng>(
        rng: &mut R,
        ctx: &MtaContext<'_>,
        sk: &PaillierSecret,
        c: &Ciphertext,
        m: &BigInt,
        r: &BigInt,
        rp: &RingPedersen,
    ) -> Self {
        let pre = AliceProofPrecomputation::new(rng, sk, rp);
        Self::prove_with(ctx, sk, c, m, r, rp, pre)
    }

    /// [`AliceRangeProof::prove`] with the input-independent part precomputed (for the
    /// same key and verifier parameters). Online cost: h1^m, r^e and hashing.
    pub fn prove_with(
        ctx: &MtaContext<'_>,
        sk: &PaillierSecret,
        c: &Ciphertext,
        m: &BigInt,
        r: &BigInt,
        rp: &RingPedersen,
        pre: AliceProofPrecomputation,
    ) -> Self {
        let pk = sk.public();
        let nt = rp.modulus();
        let h1_m = nt.pow_sec(rp.h1(), m).unwrap_or_else(BigInt::zero);
        let z = nt.mul(&h1_m, &pre.h2_rho);
        let e = challenge(ctx, pk, c, rp, &z, &pre.u, &pre.w);
        let n = pk.n_modulus();
        let s = n.mul(&n.pow_sec(r, &e).unwrap_or_else(BigInt::zero), &pre.beta);
        let s1 = &(&e * m) + &pre.alpha;
        let s2 = &(&e * &pre.rho) + &pre.gamma;
        Self {
            z,
            u: pre.u.clone(),
            w: pre.w.clone(),
            s,
            s1,
            s2,
        }
    }

    /// Verify that `c` (under Alice's key) encrypts m <= q^3. `key` is Alice's public key;
    /// `opener` is the verifier's ring-Pedersen parameters (the owner passes its
    /// [`crate::gg18::ring_pedersen::RingPedersenSecret`] to open commitments faster).
    pub fn verify(
        &self,
        ctx: &MtaContext<'_>,
        key: &impl PaillierExp,
        c: &Ciphertext,
        opener: &impl CommitmentOpener,
    ) -> Result<(), Fault> {
        let pk = key.public_key();
        let rp = opener.params();
        let bad = |m: &str| Fault::InvalidProof(format!("MtA range proof (Alice): {m}"));
        pk.validate(c)?;
        let q = curve_order();
        let q3 = q.pow(3);
        let nt = rp.modulus();
        if self.s1.is_negative() || self.s1 > q3 {
            return Err(bad("s1 out of range: plaintext not shown below q^3"));
        }
        if self.s2.is_negative() || self.s2 > (&q3 * nt.value()).shl(1) {
            return Err(bad("s2 out of range"));
        }
        if !nt.is_unit(&self.z) || !nt.is_unit(&self.w) {
            return Err(bad("commitment is not a unit mod N~"));
        }
        if !pk.n_modulus().is_unit(&self.s) || !pk.nn().is_unit(&self.u) {
            return Err(bad("s or u is not a unit"));
        }
        let e = challenge(ctx, pk, c, rp, &self.z, &self.u, &self.w);
        let nn = pk.nn();
        let lhs = nn.mul(
            &pk.gamma_pow(&self.s1),
            &nn.pow(&self.s, pk.n()).ok_or_else(|| bad("exponentiation"))?,
        );
        let rhs = nn.mul(&self.u, &nn.pow(&c.0, &e).ok_or_else(|| bad("exponentiation"))?);
        if lhs != rhs {
            return Err(bad("Paillier equation fails"));
        }
        let lhs = opener
            .open(&self.s1, &self.s2)
            .ok_or_else(|| bad("exponentiation"))?;
        let rhs = nt.mul(
            &self.w,
            &nt.pow(&self.z, &e).ok_or_else(|| bad("exponentiation"))?,
        );
        if lhs != rhs {
            return Err(bad("ring-Pedersen equation fails"));
        }
        Ok(())
    }
}
