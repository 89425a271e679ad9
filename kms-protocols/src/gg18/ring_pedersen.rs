//! Ring-Pedersen parameters (N~, h1, h2): commitments `h1^x · h2^r mod N~` used by the
//! range proofs. N~ is a product of two safe primes; h1 generates the quadratic
//! residues (order p'q'), and h2 = h1^λ. The owner keeps (p~, q~, λ) secret; its peers
//! accept the parameters only with the proof of [`super::zk::ring_pedersen_params`].

use super::bigint::{BigInt, Modulus};
use super::paillier::{check_modulus_size, MIN_MODULUS_BITS};
use crate::error::Fault;
use crate::transcript::Transcript;
use crate::ProtocolError;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Ring-Pedersen parameters as sent on the wire (unchecked).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RingPedersenParams {
    /// N~, product of two safe primes.
    pub n: BigInt,
    /// h1, a generator of QR(N~).
    pub h1: BigInt,
    /// h2 = h1^λ.
    pub h2: BigInt,
}

/// Ring-Pedersen parameters whose form has been checked (size, units, not degenerate).
/// This alone does not make them safe to use: see
/// [`super::zk::ring_pedersen_params::RingPedersenProof`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RingPedersen {
    n: Modulus,
    h1: BigInt,
    h2: BigInt,
}

impl RingPedersen {
    /// Check the form: N~ odd with [`MIN_MODULUS_BITS`]..=
    /// [`super::paillier::MAX_MODULUS_BITS`] bits ([`Fault::ModulusSize`] otherwise);
    /// h1, h2 units in `[2, N~ - 2]` (so neither is ±1) and distinct.
    pub fn check(p: &RingPedersenParams) -> Result<Self, Fault> {
        let bad = |m: &str| Fault::InvalidProof(format!("ring-Pedersen parameters: {m}"));
        check_modulus_size("ring-Pedersen modulus N~", &p.n)?;
        let n = Modulus::new(p.n.clone()).ok_or_else(|| bad("N~ is even"))?;
        let minus_one = &p.n - &BigInt::one();
        for h in [&p.h1, &p.h2] {
            if !n.is_unit(h) {
                return Err(bad("h1 or h2 is not a unit mod N~"));
            }
            if *h == BigInt::one() || *h == minus_one {
                return Err(bad("h1 or h2 is +-1"));
            }
        }
        if p.h1 == p.h2 {
            return Err(bad("h1 = h2"));
        }
        Ok(Self {
            n,
            h1: p.h1.clone(),
            h2: p.h2.clone(),
        })
    }

    /// N~ as a modulus.
    pub fn modulus(&self) -> &Modulus {
        &self.n
    }

    /// h1.
    pub fn h1(&self) -> &BigInt {
        &self.h1
    }

    /// h2.
    pub fn h2(&self) -> &BigInt {
        &self.h2
    }

    /// The wire form.
    pub fn params(&self) -> RingPedersenParams {
        RingPedersenParams {
            n: self.n.value().clone(),
            h1: self.h1.clone(),
            h2: self.h2.clone(),
        }
    }

    /// `h1^x · h2^r mod N~` with secret x, r >= 0 (constant-time); `None` if either is
    /// negative.
    pub fn commit_sec(&self, x: &BigInt, r: &BigInt) -> Option<BigInt> {
        let a = self.n.pow_sec(&self.h1, x)?;
        let b = self.n.pow_sec(&self.h2, r)?;
        Some(self.n.mul(&a, &b))
    }

    /// `h1^x · h2^r mod N~` with public exponents of any sign (verifier side).
    pub fn commit_public(&self, x: &BigInt, r: &BigInt) -> Option<BigInt> {
        let a = self.n.pow(&self.h1, x)?;
        let b = self.n.pow(&self.h2, r)?;
        Some(self.n.mul(&a, &b))
    }

    /// Absorb (N~, h1, h2) into a transcript.
    pub fn append_to(&self, t: &mut Transcript, label: &'static [u8]) {
        t.append(b"ring-pedersen", label);
        self.n.value().append_to(t, b"N~");
        self.h1.append_to(t, b"h1");
        self.h2.append_to(t, b"h2");
    }
}

fn bad_primes(m: &str) -> ProtocolError {
    ProtocolError::InvalidParameters(format!("ring-Pedersen primes: {m}"))
}

/// (p~ - 1)/2 and (q~ - 1)/2, after checking the primes' shape.
fn halves(p: &BigInt, q: &BigInt) -> Result<(BigInt, BigInt), ProtocolError> {
    if p == q || p.bits() != q.bits() || p.rem_u64(4) != 3 || q.rem_u64(4) != 3 {
        return Err(bad_primes("must be distinct safe primes of equal size"));
    }
    let two = BigInt::from_u64(2);
    let pp = (p - &BigInt::one())
        .div_floor(&two)
        .ok_or_else(|| bad_primes("p"))?;
    let qp = (q - &BigInt::one())
        .div_floor(&two)
        .ok_or_else(|| bad_primes("q"))?;
    Ok((pp, qp))
}

/// Opens ring-Pedersen commitments for a verifier: `h1^x · h2^r mod N~` with public x, r
/// of any sign. The owner of the parameters does it faster with the trapdoor.
pub trait CommitmentOpener {
    /// The parameters.
    fn params(&self) -> &RingPedersen;
    /// `h1^x · h2^r mod N~`; `None` only on arithmetic failure (non-invertible base).
    fn open(&self, x: &BigInt, r: &BigInt) -> Option<BigInt>;
}

impl CommitmentOpener for RingPedersen {
    fn params(&self) -> &RingPedersen {
        self
    }
    fn open(&self, x: &BigInt, r: &BigInt) -> Option<BigInt> {
        self.commit_public(x, r)
    }
}

impl CommitmentOpener for RingPedersenSecret {
    fn params(&self) -> &RingPedersen {
        &self.public
    }
    fn open(&self, x: &BigInt, r: &BigInt) -> Option<BigInt> {
        self.open_with_trapdoor(x, r)
    }
}

/// The ring-Pedersen trapdoor: the safe primes and λ with h2 = h1^λ, λ·λ' = 1 mod p'q'.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RingPedersenSecret {
    p: BigInt,
    q: BigInt,
    /// p'q' = φ(N~)/4, the order of h1.
    order: BigInt,
    lambda: BigInt,
    lambda_inv: BigInt,
    /// p' = (p~ - 1)/2, q' = (q~ - 1)/2: the orders of h1 mod p~ and mod q~.
    p_half: BigInt,
    q_half: BigInt,
    /// h1 mod p~, h1 mod q~, q~^-1 mod p~: CRT form for the owner's fast opening.
    h1_p: BigInt,
    h1_q: BigInt,
    q_inv_p: BigInt,
    #[zeroize(skip)]
    public: RingPedersen,
}

impl fmt::Debug for RingPedersenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RingPedersenSecret(N~: {} bits, <redacted>)",
            self.public.n.bits()
        )
    }
}

impl RingPedersenSecret {
    /// Parameters from two distinct safe primes of equal size (primality is the caller's
    /// promise; see [`super::primes`]), with fresh h1, λ.
    pub fn from_safe_primes<R: RngCore + CryptoRng>(
        rng: &mut R,
        p: BigInt,
        q: BigInt,
    ) -> Result<Self, ProtocolError> {
        let n = Modulus::new(&p * &q).ok_or_else(|| bad_primes("even"))?;
        let (pp, qp) = halves(&p, &q)?;
        let order = Modulus::new(&pp * &qp).ok_or_else(|| bad_primes("p'q' must be odd"))?;
        // h1 = r^2 has order p'q' unless it is 1 modulo p~ or q~.
        let h1 = loop {
            let r = n.random_unit(rng);
            let h = n.mul(&r, &r);
            if (&h - &BigInt::one()).gcd(n.value()) == BigInt::one() {
                break h;
            }
        };
        let lambda = order.random_unit(rng);
        Self::from_parts(p, q, h1, lambda)
    }

    /// Rebuild from stored parts (the safe primes, h1 and λ), checking that they fit:
    /// h1 a quadratic residue of full order, λ invertible mod p'q'.
    pub fn from_parts(p: BigInt, q: BigInt, h1: BigInt, lambda: BigInt) -> Result<Self, ProtocolError> {
        let bad = bad_primes;
        let n = Modulus::new(&p * &q).ok_or_else(|| bad("even"))?;
        if n.bits() < MIN_MODULUS_BITS {
            return Err(bad("N~ shorter than 2048 bits"));
        }
        let (pp, qp) = halves(&p, &q)?;
        let order = &pp * &qp;
        let order_m = Modulus::new(order.clone()).ok_or_else(|| bad("p'q' must be odd"))?;
        if (&h1 - &BigInt::one()).gcd(n.value()) != BigInt::one() {
            return Err(bad("h1 does not have full order"));
        }
        let pm = Modulus::new(p.clone()).ok_or_else(|| bad("p"))?;
        let qm = Modulus::new(q.clone()).ok_or_else(|| bad("q"))?;
        // Euler's criterion: h1 must be a square mod p~ and q~ (so its order is p'q').
        if pm.pow_sec(&h1, &pp) != Some(BigInt::one()) || qm.pow_sec(&h1, &qp) != Some(BigInt::one()) {
            return Err(bad("h1 is not a quadratic residue"));
        }
        let lambda_inv = order_m.inv(&lambda).ok_or_else(|| bad("λ not invertible"))?;
        let h2 = n.pow_sec(&h1, &lambda).ok_or_else(|| bad("h2"))?;
        let public = RingPedersen::check(&RingPedersenParams {
            n: n.value().clone(),
            h1,
            h2,
        })
        .map_err(|f| ProtocolError::InvalidParameters(f.to_string()))?;
        let h1_p = pm.reduce(&public.h1);
        let h1_q = qm.reduce(&public.h1);
        let q_inv_p = pm.inv(&q).ok_or_else(|| bad("q mod p"))?;
        Ok(Self {
            p,
            q,
            order,
            lambda,
            lambda_inv,
            p_half: pp,
            q_half: qp,
            h1_p,
            h1_q,
            q_inv_p,
            public,
        })
    }

    /// The stored parts: (p~, q~, h1, λ).
    pub(crate) fn parts(&self) -> (&BigInt, &BigInt, &BigInt, &BigInt) {
        (&self.p, &self.q, &self.public.h1, &self.lambda)
    }

    /// `h1^x · h2^r mod N~` computed by the owner with the trapdoor: h2 = h1^λ, so this is
    /// h1^(x + λr), done mod p~ and q~ with the exponent reduced mod p' and q' (one
    /// half-size exponentiation per prime instead of two full ones). x, r may be of any
    /// sign. Constant-time, since the reduced exponents depend on the secret.
    pub fn open_with_trapdoor(&self, x: &BigInt, r: &BigInt) -> Option<BigInt> {
        let e = x + &(&self.lambda * r);
        let pm = Modulus::new(self.p.clone())?;
        let qm = Modulus::new(self.q.clone())?;
        let ap = pm.pow_sec(&self.h1_p, &e.rem_floor(&self.p_half)?)?;
        let aq = qm.pow_sec(&self.h1_q, &e.rem_floor(&self.q_half)?)?;
        let h = pm.mul(&(ap - &aq), &self.q_inv_p);
        Some(self.public.n.reduce(&(aq + &(h * &self.q))))
    }

    /// The public parameters.
    pub fn public(&self) -> &RingPedersen {
        &self.public
    }

    pub(crate) fn order(&self) -> &BigInt {
        &self.order
    }

    pub(crate) fn lambda(&self) -> &BigInt {
        &self.lambda
    }

    pub(crate) fn lambda_inv(&self) -> &BigInt {
        &self.lambda_inv
    }

    /// A secret with arbitrary (possibly malformed) public values, for soundness tests
    /// of the parameter proof: a cheating prover's view.
    #[cfg(test)]
    pub(crate) fn forged(
        n: BigInt,
        h1: BigInt,
        h2: BigInt,
        order: BigInt,
        lambda: BigInt,
        lambda_inv: BigInt,
    ) -> Self {
        let public = RingPedersen {
            n: Modulus::new(n).unwrap_or_else(|| unreachable!()),
            h1,
            h2,
        };
        Self {
            p: BigInt::zero(),
            q: BigInt::zero(),
            lambda_inv,
            order,
            lambda,
            p_half: BigInt::zero(),
            q_half: BigInt::zero(),
            h1_p: BigInt::zero(),
            h1_q: BigInt::zero(),
            q_inv_p: BigInt::zero(),
            public,
        }
    }
}
