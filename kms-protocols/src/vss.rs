//! Feldman verifiable secret sharing, the commit-then-reveal of dealers' commitments,
//! and Lagrange interpolation: the foundation every DKG of this crate is built on.

use crate::error::{Fault, ProtocolError};
use crate::group::{decode_element, decode_scalar, Group};
use crate::inbox::Echo;
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

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

/// A dealer's point-to-point share f(j), with the dealer's echo of the broadcast round
/// that came before it. Zeroized on drop.
#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
pub struct ShareMessage {
    /// The encoded share.
    pub share: Vec<u8>,
    /// The dealer's view of the previous broadcast round.
    #[zeroize(skip)]
    pub echo: Echo,
}

/// f(to), encoded for the wire, in a buffer that is zeroized on drop.
pub fn deal_share<G: Group>(poly: &Polynomial<G>, to: PartyIndex) -> Zeroizing<Vec<u8>> {
    let mut share = poly.evaluate(to);
    let bytes = Zeroizing::new(G::scalar_to_bytes(&share));
    share.zeroize();
    bytes
}

/// Check a share `from` dealt to `me`: a canonical scalar, non-zero unless `allow_zero`
/// (a fresh key's dealer that sends zero is planting a known share; refresh sub-shares
/// may be anything), consistent with the dealer's `commitments`. Every failure names
/// the dealer. The caller zeroizes the result.
pub fn receive_share<G: Group>(
    me: PartyIndex,
    from: PartyIndex,
    share: &[u8],
    commitments: Option<&Commitments<G>>,
    allow_zero: bool,
) -> Result<G::Scalar, ProtocolError> {
    let blame = |f| ProtocolError::culprit(from, f);
    let mut share = decode_scalar::<G>(share, "secret share").map_err(blame)?;
    if !allow_zero && G::is_zero(&share) {
        return Err(blame(Fault::InvalidScalar("zero secret share".into())));
    }
    if !commitments.is_some_and(|c| c.verify_share(me, &share)) {
        share.zeroize();
        return Err(blame(Fault::InvalidShare));
    }
    Ok(share)
}

/// The hash commitment a dealer broadcasts before it reveals its Feldman commitments
/// (commit-then-reveal): bound to `domain`, the session, the dealer, a `context` that
/// names the run, the encoded commitments and a random `blind`. No dealer sees another
/// dealer's commitments before it has fixed its own, so none can bias the key.
pub fn commitment_hash(
    domain: &'static [u8],
    session: &SessionId,
    dealer: PartyIndex,
    context: &[u8],
    vss: &[Vec<u8>],
    blind: &[u8; 32],
) -> [u8; 32] {
    let mut t = Transcript::for_proof(domain, session, dealer);
    t.append(b"context", context);
    t.append_u64(b"len", vss.len() as u64);
    for c in vss {
        t.append(b"vss", c);
    }
    t.append(b"blind", blind);
    let c = t.challenge(b"commitment");
    let mut out = [0u8; 32];
    out.copy_from_slice(&c[..32]);
    out
}

/// Check that a revealed `(vss, blind)` opens `expected` (constant-time comparison).
pub fn check_opening(
    domain: &'static [u8],
    session: &SessionId,
    dealer: PartyIndex,
    context: &[u8],
    vss: &[Vec<u8>],
    blind: &[u8; 32],
    expected: &[u8; 32],
) -> Result<(), Fault> {
    let opened = commitment_hash(domain, session, dealer, context, vss, blind);
    if bool::from(opened.ct_eq(expected)) {
        Ok(())
    } else {
        Err(Fault::BadDecommitment)
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
