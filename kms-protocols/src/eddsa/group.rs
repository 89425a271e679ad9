//! Ed25519 as a [`Group`]: the prime-order subgroup of edwards25519.
//!
//! Remote bytes enter only through [`Group::element_from_bytes`] and
//! [`Group::scalar_from_bytes`] (or the helpers below, which call them). They accept
//! exactly the canonical encodings of subgroup points and of reduced scalars, so every
//! value has one encoding and no small-order component reaches the protocols.

use crate::error::Fault;
use crate::group::{self, Group};
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, ED25519_BASEPOINT_TABLE};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::traits::Identity;
use curve25519_dalek::Scalar;
use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;

/// The edwards25519 prime-order subgroup with the Ed25519 base point, scalars modulo
/// its order l = 2^252 + 27742317777372353535851937790883648493.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ed25519;

impl Group for Ed25519 {
    const NAME: &'static str = "ED25519";
    const SCALAR_LEN: usize = 32;
    const ELEMENT_LEN: usize = 32;

    type Scalar = Scalar;
    type Element = EdwardsPoint;

    fn generator() -> EdwardsPoint {
        ED25519_BASEPOINT_POINT
    }

    fn identity() -> EdwardsPoint {
        EdwardsPoint::identity()
    }

    fn zero() -> Scalar {
        Scalar::ZERO
    }

    fn scalar_from_u64(v: u64) -> Scalar {
        Scalar::from(v)
    }

    fn invert(s: &Scalar) -> Option<Scalar> {
        if Self::is_zero(s) {
            None
        } else {
            Some(s.invert())
        }
    }

    fn random_scalar<R: RngCore + CryptoRng>(rng: &mut R) -> Scalar {
        // Zero comes up with probability 2^-252; looping keeps the contract exact.
        loop {
            let s = Scalar::random(rng);
            if !Self::is_zero(&s) {
                return s;
            }
        }
    }

    fn scalar_from_wide(bytes: &[u8; 64]) -> Scalar {
        Scalar::from_bytes_mod_order_wide(bytes)
    }

    fn scalar_to_bytes(s: &Scalar) -> Vec<u8> {
        s.to_bytes().to_vec()
    }

    fn scalar_from_bytes(b: &[u8]) -> Option<Scalar> {
        let bytes: [u8; 32] = b.try_into().ok()?;
        Option::from(Scalar::from_canonical_bytes(bytes))
    }

    fn element_to_bytes(e: &EdwardsPoint) -> Vec<u8> {
        e.compress().to_bytes().to_vec()
    }

    fn element_from_bytes(b: &[u8]) -> Option<EdwardsPoint> {
        let bytes: [u8; 32] = b.try_into().ok()?;
        point_from_bytes(&bytes)
    }

    fn mul_base(s: &Scalar) -> EdwardsPoint {
        ED25519_BASEPOINT_TABLE * s
    }

    fn is_zero(s: &Scalar) -> bool {
        s.ct_eq(&Scalar::ZERO).into()
    }
}

/// Decode a point of the prime-order subgroup (the identity included).
///
/// `None` if the bytes are not the canonical encoding of a curve point (y >= p, or a
/// "negative zero" x), or if the point has a torsion component.
pub fn point_from_bytes(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    let point = CompressedEdwardsY(*bytes).decompress()?;
    // curve25519-dalek reduces y modulo p and ignores the sign of x = 0, so the only
    // canonical-encoding check is that the point compresses back to the same bytes.
    if point.compress().as_bytes() != bytes {
        return None;
    }
    if !point.is_torsion_free() {
        return None;
    }
    Some(point)
}

/// Decode a point sent by a peer: a prime-order subgroup point, not the identity.
pub fn decode_point(bytes: &[u8; 32], what: &str) -> Result<EdwardsPoint, Fault> {
    group::decode_element::<Ed25519>(bytes, what)
}

/// Decode a scalar sent by a peer: canonical (below the group order); zero is allowed.
pub fn decode_scalar(bytes: &[u8; 32], what: &str) -> Result<Scalar, Fault> {
    group::decode_scalar::<Ed25519>(bytes, what)
}

/// The canonical encoding of a point.
pub fn point_to_bytes(point: &EdwardsPoint) -> [u8; 32] {
    point.compress().to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// p = 2^255 - 19, little-endian, plus `add` (add < 19 keeps it below 2^255).
    fn p_plus(add: u8) -> [u8; 32] {
        let mut b = [0xffu8; 32];
        b[0] = 0xed + add;
        b[31] = 0x7f;
        b
    }

    /// y = p - 1 = -1: the point (0, -1) of order 2.
    fn order_two_bytes() -> [u8; 32] {
        let mut b = p_plus(0);
        b[0] = 0xec;
        b
    }

    fn identity_bytes() -> [u8; 32] {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    }

    #[test]
    fn canonical_subgroup_points_round_trip() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        for _ in 0..16 {
            let p = Ed25519::mul_base(&Ed25519::random_scalar(&mut rng));
            let b = point_to_bytes(&p);
            assert_eq!(Ed25519::element_from_bytes(&b), Some(p));
            assert_eq!(decode_point(&b, "p"), Ok(p));
        }
        assert_eq!(
            Ed25519::element_from_bytes(&identity_bytes()),
            Some(EdwardsPoint::identity())
        );
    }

    #[test]
    fn mul_base_uses_the_standard_generator() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let s = Ed25519::random_scalar(&mut rng);
        assert_eq!(Ed25519::mul_base(&s), ED25519_BASEPOINT_POINT * s);
        assert_eq!(Ed25519::mul_base(&s), Ed25519::generator() * s);
    }

    #[test]
    fn identity_is_refused_by_the_peer_decoder() {
        assert!(matches!(
            decode_point(&identity_bytes(), "x"),
            Err(Fault::InvalidElement(_))
        ));
    }

    #[test]
    fn non_canonical_encodings_are_rejected() {
        // y = p + 1 decodes (after reduction) to the identity.
        assert!(CompressedEdwardsY(p_plus(1)).decompress().is_some());
        assert_eq!(Ed25519::element_from_bytes(&p_plus(1)), None);
        // x = 0 with the sign bit set ("negative zero") also decodes to the identity.
        let mut neg_zero = identity_bytes();
        neg_zero[31] |= 0x80;
        assert!(CompressedEdwardsY(neg_zero).decompress().is_some());
        assert_eq!(Ed25519::element_from_bytes(&neg_zero), None);
        // Every y in [p, 2^255) that decodes at all is refused.
        for add in 0..19 {
            assert_eq!(Ed25519::element_from_bytes(&p_plus(add)), None, "y = p + {add}");
        }
        assert_eq!(Ed25519::element_from_bytes(&[0u8; 31]), None);
        assert_eq!(Ed25519::element_from_bytes(&[0u8; 33]), None);
    }

    #[test]
    fn small_order_and_mixed_points_are_rejected() {
        let t2 = CompressedEdwardsY(order_two_bytes())
            .decompress()
            .expect("(0, -1) is on the curve");
        assert!(t2.is_small_order());
        assert_eq!(Ed25519::element_from_bytes(&order_two_bytes()), None);
        // y = 0 gives the points of order 4.
        assert_eq!(Ed25519::element_from_bytes(&[0u8; 32]), None);
        // A subgroup point plus a torsion point is on the curve and canonical, but has
        // a torsion component.
        let mixed = point_to_bytes(&(ED25519_BASEPOINT_POINT + t2));
        assert!(CompressedEdwardsY(mixed).decompress().is_some());
        assert_eq!(Ed25519::element_from_bytes(&mixed), None);
    }

    #[test]
    fn points_off_the_curve_are_rejected() {
        let mut off = 0;
        for y in 2u8..=255 {
            let mut b = [0u8; 32];
            b[0] = y;
            if CompressedEdwardsY(b).decompress().is_none() {
                assert_eq!(Ed25519::element_from_bytes(&b), None);
                assert!(matches!(decode_point(&b, "y"), Err(Fault::InvalidElement(_))));
                off += 1;
            }
        }
        // About half of all y values are not on the curve.
        assert!(off > 64, "only {off} off-curve candidates");
    }

    #[test]
    fn scalars_must_be_canonical() {
        // The group order l, little-endian.
        let l = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        ];
        assert_eq!(Ed25519::scalar_from_bytes(&l), None);
        assert_eq!(Ed25519::scalar_from_bytes(&[0xff; 32]), None);
        assert!(matches!(decode_scalar(&l, "s"), Err(Fault::InvalidScalar(_))));
        assert_eq!(Ed25519::scalar_from_bytes(&[0u8; 31]), None);
        let mut l_minus_one = l;
        l_minus_one[0] -= 1;
        assert_eq!(Ed25519::scalar_from_bytes(&l_minus_one), Some(-Scalar::ONE));
        assert_eq!(Ed25519::scalar_from_bytes(&[0u8; 32]), Some(Scalar::ZERO));
    }

    #[test]
    fn random_scalars_are_non_zero_and_invertible() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        for _ in 0..32 {
            let s = Ed25519::random_scalar(&mut rng);
            assert!(!Ed25519::is_zero(&s));
            let inv = Ed25519::invert(&s).expect("non-zero");
            assert_eq!(s * inv, Scalar::ONE);
        }
        assert_eq!(Ed25519::invert(&Scalar::ZERO), None);
    }
}
