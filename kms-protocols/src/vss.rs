//! Feldman verifiable secret sharing and Lagrange interpolation.

use crate::error::Fault;
use crate::group::{decode_element, Group};
use crate::party::PartyIndex;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

/// A secret polynomial f(x) = a_0 + a_1 x + ... + a_{t-1} x^{t-1}; zeroized on drop.
pub struct Polynomial<G: Group> {
    coefficients: Vec<G::Scalar>,
}

impl<G: Group> Polynomial<G> {
    /// A random polynomial of degree `threshold - 1` with the given constant term.
    pub fn random<R: RngCore + CryptoRng>(constant: G::Scalar, threshold: u16, rng: &mut R) -> Self {
        let mut coefficients = Vec::with_capacity(usize::from(threshold));
        coefficients.push(constant);
        for _ in 1..threshold {
            coefficients.push(G::random_scalar(rng));
        }
        Self { coefficients }
    }

    /// The constant term f(0).
    pub fn constant(&self) -> &G::Scalar {
        &self.coefficients[0]
    }

    /// f(i) for a party index, by Horner's rule.
    pub fn evaluate(&self, at: PartyIndex) -> G::Scalar {
        let x = G::scalar_from_u64(u64::from(at.get()));
        let mut acc = G::zero();
        for c in self.coefficients.iter().rev() {
            acc = acc * x + *c;
        }
        acc
    }

    /// Feldman commitments a_k * G.
    pub fn commit(&self) -> Commitments<G> {
        Commitments(self.coefficients.iter().map(G::mul_base).collect())
    }
}

impl<G: Group> Drop for Polynomial<G> {
    fn drop(&mut self) {
        for c in &mut self.coefficients {
            c.zeroize();
        }
    }
}

/// Public Feldman commitments to a polynomial's coefficients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitments<G: Group>(pub Vec<G::Element>);

impl<G: Group> Commitments<G> {
    /// Encode each element.
    pub fn to_bytes(&self) -> Vec<Vec<u8>> {
        self.0.iter().map(G::element_to_bytes).collect()
    }

    /// Decode commitments received from a dealer, checking the length equals the
    /// threshold (a longer vector would silently raise the threshold) and that every
    /// element is valid. With `zero_constant`, the first entry must be the identity
    /// (refresh); otherwise no entry may be.
    pub fn from_bytes(raw: &[Vec<u8>], threshold: u16, zero_constant: bool) -> Result<Self, Fault> {
        if raw.len() != usize::from(threshold) {
            return Err(Fault::WrongCommitmentLength {
                got: raw.len(),
                expected: usize::from(threshold),
            });
        }
        let mut out = Vec::with_capacity(raw.len());
        for (k, b) in raw.iter().enumerate() {
            if k == 0 && zero_constant {
                let e = G::element_from_bytes(b)
                    .ok_or_else(|| Fault::InvalidElement("commitment 0: not a valid element".into()))?;
                if e != G::identity() {
                    return Err(Fault::InvalidElement(
                        "refresh commitment must share zero (constant term is not the identity)".into(),
                    ));
                }
                out.push(e);
            } else {
                out.push(decode_element::<G>(b, &format!("commitment {k}"))?);
            }
        }
        Ok(Self(out))
    }

    /// The committed value of f(i) * G.
    pub fn evaluate(&self, at: PartyIndex) -> G::Element {
        let x = G::scalar_from_u64(u64::from(at.get()));
        let mut acc = G::identity();
        for c in self.0.iter().rev() {
            acc = acc * x + *c;
        }
        acc
    }

    /// Check a received share against the commitments.
    pub fn verify_share(&self, at: PartyIndex, share: &G::Scalar) -> bool {
        G::mul_base(share) == self.evaluate(at)
    }

    /// The committed constant term a_0 * G.
    pub fn constant(&self) -> G::Element {
        self.0[0]
    }
}

/// Lagrange coefficient at 0 of party `i` within `signers`.
///
/// Returns `None` if `i` is not among `signers` or the set has a duplicate.
pub fn lagrange_at_zero<G: Group>(i: PartyIndex, signers: &[PartyIndex]) -> Option<G::Scalar> {
    if !signers.contains(&i) {
        return None;
    }
    let xi = G::scalar_from_u64(u64::from(i.get()));
    let mut num = G::scalar_from_u64(1);
    let mut den = G::scalar_from_u64(1);
    for j in signers {
        if *j == i {
            continue;
        }
        let xj = G::scalar_from_u64(u64::from(j.get()));
        num = num * xj;
        den = den * (xj - xi);
    }
    Some(num * G::invert(&den)?)
}
