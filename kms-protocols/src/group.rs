//! The prime-order group abstraction the generic protocols (VSS, DKG, refresh, Schnorr
//! proofs) are written against. Ed25519 and BLS12-381 G1 implement it.

use crate::error::Fault;
use crate::transcript::Transcript;
use rand_core::{CryptoRng, RngCore};
use std::fmt::Debug;
use std::ops::{Add, Mul, Neg, Sub};
use zeroize::Zeroize;

/// A prime-order group with its scalar field.
///
/// Decoding functions are the only entry for remote bytes: they must reject
/// non-canonical encodings, points off the curve and points outside the prime-order
/// subgroup. Whether the identity is acceptable is decided by the caller.
pub trait Group: Sized + Send + Sync + 'static {
    /// A name for error messages and domain separation, e.g. `"ED25519"`.
    const NAME: &'static str;
    /// Length of an encoded scalar.
    const SCALAR_LEN: usize;
    /// Length of an encoded element.
    const ELEMENT_LEN: usize;

    /// Field element modulo the group order. Secret values use this type, so it must
    /// zeroize (callers zeroize it on drop).
    type Scalar: Copy
        + Eq
        + Zeroize
        + Send
        + Sync
        + Add<Output = Self::Scalar>
        + Sub<Output = Self::Scalar>
        + Mul<Output = Self::Scalar>
        + Neg<Output = Self::Scalar>;

    /// Group element.
    type Element: Copy
        + Eq
        + Debug
        + Send
        + Sync
        + Add<Output = Self::Element>
        + Sub<Output = Self::Element>
        + Mul<Self::Scalar, Output = Self::Element>;

    /// The standard generator.
    fn generator() -> Self::Element;
    /// The neutral element.
    fn identity() -> Self::Element;
    /// Scalar 0.
    fn zero() -> Self::Scalar;
    /// Scalar from a small integer.
    fn scalar_from_u64(v: u64) -> Self::Scalar;
    /// Multiplicative inverse, `None` for zero.
    fn invert(s: &Self::Scalar) -> Option<Self::Scalar>;
    /// A uniformly random non-zero scalar.
    fn random_scalar<R: RngCore + CryptoRng>(rng: &mut R) -> Self::Scalar;
    /// Reduce 64 uniformly random bytes to a scalar (for Fiat-Shamir challenges).
    fn scalar_from_wide(bytes: &[u8; 64]) -> Self::Scalar;
    /// Canonical encoding.
    fn scalar_to_bytes(s: &Self::Scalar) -> Vec<u8>;
    /// Canonical decoding; `None` if not canonical or of the wrong length.
    fn scalar_from_bytes(b: &[u8]) -> Option<Self::Scalar>;
    /// Canonical (compressed) encoding.
    fn element_to_bytes(e: &Self::Element) -> Vec<u8>;
    /// Validated decoding: canonical, on the curve, in the prime-order subgroup.
    /// May return the identity.
    fn element_from_bytes(b: &[u8]) -> Option<Self::Element>;

    /// `s * G`. Implementations may use precomputed tables.
    fn mul_base(s: &Self::Scalar) -> Self::Element {
        Self::generator() * *s
    }

    /// Whether `s` is zero (constant time where the backend offers it).
    fn is_zero(s: &Self::Scalar) -> bool {
        *s == Self::zero()
    }

    /// A Fiat-Shamir challenge scalar.
    fn challenge(t: &mut Transcript, label: &[u8]) -> Self::Scalar {
        Self::scalar_from_wide(&t.challenge(label))
    }
}

/// Decode a group element sent by a peer, refusing the identity.
pub fn decode_element<G: Group>(b: &[u8], what: &str) -> Result<G::Element, Fault> {
    let e = G::element_from_bytes(b)
        .ok_or_else(|| Fault::InvalidElement(format!("{what}: not a valid {} element", G::NAME)))?;
    if e == G::identity() {
        return Err(Fault::InvalidElement(format!("{what}: identity")));
    }
    Ok(e)
}

/// Decode a scalar sent by a peer (zero allowed; callers decide).
pub fn decode_scalar<G: Group>(b: &[u8], what: &str) -> Result<G::Scalar, Fault> {
    G::scalar_from_bytes(b)
        .ok_or_else(|| Fault::InvalidScalar(format!("{what}: not a canonical {} scalar", G::NAME)))
}
