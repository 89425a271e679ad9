//! secp256k1 as a [`Group`], over k256: SEC1 compressed 33-byte points, 32-byte
//! big-endian canonical scalars.

use crate::error::Fault;
use crate::group::Group;
use k256::elliptic_curve::bigint::{U256, U512};
use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::ops::{MulByGenerator, Reduce};
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::{Field, PrimeField};
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};

/// The secp256k1 group of Bitcoin and Ethereum ECDSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secp256k1;

impl Group for Secp256k1 {
    const NAME: &'static str = "SECP256K1";
    const SCALAR_LEN: usize = 32;
    const ELEMENT_LEN: usize = 33;

    type Scalar = Scalar;
    type Element = ProjectivePoint;

    fn generator() -> ProjectivePoint {
        ProjectivePoint::GENERATOR
    }

    fn identity() -> ProjectivePoint {
        ProjectivePoint::IDENTITY
    }

    fn zero() -> Scalar {
        Scalar::ZERO
    }

    fn scalar_from_u64(v: u64) -> Scalar {
        Scalar::from(v)
    }

    fn invert(s: &Scalar) -> Option<Scalar> {
        Option::from(s.invert())
    }

    fn random_scalar<R: RngCore + CryptoRng>(rng: &mut R) -> Scalar {
        loop {
            let s = Scalar::random(&mut *rng);
            if !bool::from(s.is_zero()) {
                return s;
            }
        }
    }

    fn scalar_from_wide(bytes: &[u8; 64]) -> Scalar {
        <Scalar as Reduce<U512>>::reduce_bytes(&(*bytes).into())
    }

    fn scalar_to_bytes(s: &Scalar) -> Vec<u8> {
        s.to_bytes().to_vec()
    }

    fn scalar_from_bytes(b: &[u8]) -> Option<Scalar> {
        let arr: [u8; 32] = b.try_into().ok()?;
        Option::from(Scalar::from_repr(FieldBytes::from(arr)))
    }

    fn element_to_bytes(e: &ProjectivePoint) -> Vec<u8> {
        e.to_affine().to_bytes().to_vec()
    }

    /// SEC1 compressed (33 bytes); the identity is 33 zero bytes. Decoding
    /// decompresses, which checks the point is on the curve (the group has cofactor 1).
    fn element_from_bytes(b: &[u8]) -> Option<ProjectivePoint> {
        let arr: [u8; 33] = b.try_into().ok()?;
        let repr = k256::CompressedPoint::from(arr);
        Option::<AffinePoint>::from(AffinePoint::from_bytes(&repr)).map(ProjectivePoint::from)
    }

    fn mul_base(s: &Scalar) -> ProjectivePoint {
        ProjectivePoint::mul_by_generator(s)
    }

    fn is_zero(s: &Scalar) -> bool {
        bool::from(s.is_zero())
    }
}

/// Reduce a 32-byte message digest to a scalar the way ECDSA does (bits2int mod n).
pub fn scalar_from_digest(hash: &[u8; 32]) -> Scalar {
    <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*hash))
}

/// The x-coordinate of a point reduced mod n, whether the reduction changed it, and
/// the parity of y: what ECDSA needs of the nonce point R.
pub(crate) fn x_coordinate(p: &ProjectivePoint) -> Option<(Scalar, bool, bool)> {
    let a = p.to_affine();
    if *p == ProjectivePoint::IDENTITY {
        return None;
    }
    let x = a.x();
    let canonical: Option<Scalar> = Scalar::from_repr(x).into();
    let reduced = <Scalar as Reduce<U256>>::reduce_bytes(&x);
    Some((reduced, canonical.is_none(), bool::from(a.y_is_odd())))
}

/// Decode a peer's point, refusing invalid encodings and the identity.
pub(crate) fn decode_point(b: &[u8], what: &str) -> Result<ProjectivePoint, Fault> {
    crate::group::decode_element::<Secp256k1>(b, what)
}

/// Encode a point.
pub(crate) fn encode_point(p: &ProjectivePoint) -> Vec<u8> {
    Secp256k1::element_to_bytes(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn round_trips_and_rejects() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let s = Secp256k1::random_scalar(&mut rng);
        let p = Secp256k1::mul_base(&s);
        let b = Secp256k1::element_to_bytes(&p);
        assert_eq!(b.len(), 33);
        assert_eq!(Secp256k1::element_from_bytes(&b), Some(p));
        assert_eq!(
            Secp256k1::scalar_from_bytes(&Secp256k1::scalar_to_bytes(&s)),
            Some(s)
        );
        // Identity decodes (callers decide) but decode_point refuses it.
        let id = Secp256k1::element_to_bytes(&ProjectivePoint::IDENTITY);
        assert_eq!(id, vec![0u8; 33]);
        assert!(decode_point(&id, "x").is_err());
        // x = 5 is not the x-coordinate of a secp256k1 point (5^3 + 7 = 132 is a
        // non-residue mod p), so this is off the curve.
        let mut off = vec![0u8; 33];
        off[0] = 2;
        off[32] = 5;
        assert!(Secp256k1::element_from_bytes(&off).is_none());
        let mut bad_prefix = b.clone();
        bad_prefix[0] = 4;
        assert!(Secp256k1::element_from_bytes(&bad_prefix).is_none());
        assert!(Secp256k1::element_from_bytes(&b[..32]).is_none());
        // Non-canonical scalar (n itself).
        let n = hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").unwrap();
        assert!(Secp256k1::scalar_from_bytes(&n).is_none());
    }
}
