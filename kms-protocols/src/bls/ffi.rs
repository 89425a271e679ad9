//! Safe BLS12-381 arithmetic over blst's raw FFI: the scalar field [`Fr`], the groups
//! [`G1`] and [`G2`], and hash-to-G2.
//!
//! blst's safe Rust API covers whole signatures only; the field and group operations a
//! threshold protocol needs exist only as `extern "C"` functions. This module is the one
//! place in the crate allowed to call them. Every call is on values this module owns,
//! with buffers of the exact sizes blst's C header declares, so the safe wrappers below
//! uphold blst's preconditions for any input.
//!
//! Conventions: scalars are big-endian 32 bytes on the wire (the IETF/Ethereum
//! encoding); points use the ZCash compressed encoding (48 bytes for G1, 96 for G2).
//! Multiplication by a scalar always runs over 255 bits, the bit length of the group
//! order, never over the scalar's actual bit length, so its timing does not depend on a
//! secret scalar.
#![allow(unsafe_code)]

use blst::{
    blst_bendian_from_scalar, blst_fr, blst_fr_add, blst_fr_cneg, blst_fr_from_scalar, blst_fr_from_uint64,
    blst_fr_inverse, blst_fr_mul, blst_fr_sub, blst_hash_to_g2, blst_p1, blst_p1_add_or_double,
    blst_p1_affine, blst_p1_affine_in_g1, blst_p1_cneg, blst_p1_compress, blst_p1_from_affine,
    blst_p1_generator, blst_p1_is_inf, blst_p1_mult, blst_p1_uncompress, blst_p2, blst_p2_add_or_double,
    blst_p2_affine, blst_p2_affine_in_g2, blst_p2_cneg, blst_p2_compress, blst_p2_from_affine,
    blst_p2_generator, blst_p2_is_inf, blst_p2_mult, blst_p2_uncompress, blst_scalar, blst_scalar_fr_check,
    blst_scalar_from_be_bytes, blst_scalar_from_bendian, blst_scalar_from_fr, BLST_ERROR,
};
use rand_core::{CryptoRng, RngCore};
use std::fmt;
use std::ops::{Add, Mul, Neg, Sub};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Bit length of the group order r; every scalar multiplication runs over this many bits.
const SCALAR_BITS: usize = 255;

/// An element of the scalar field F_r of BLS12-381 (r is the order of G1 and G2).
///
/// Secret shares use this type: it zeroizes, compares in constant time and its `Debug`
/// is redacted.
#[derive(Clone, Copy, Default)]
pub struct Fr(blst_fr);

impl Fr {
    /// Length of the canonical encoding.
    pub const BYTES: usize = 32;

    /// Zero.
    pub fn zero() -> Self {
        Self(blst_fr::default())
    }

    /// One.
    pub fn one() -> Self {
        Self::from_u64(1)
    }

    /// A small integer.
    pub fn from_u64(v: u64) -> Self {
        let limbs = [v, 0, 0, 0];
        let mut out = blst_fr::default();
        // SAFETY: blst_fr_from_uint64 reads exactly four 64-bit limbs and writes one
        // blst_fr; both point to live values of those sizes.
        unsafe { blst_fr_from_uint64(&mut out, limbs.as_ptr()) };
        Self(out)
    }

    /// Canonical decoding: 32 big-endian bytes of an integer < r. Anything else (wrong
    /// length, value >= r) is `None`.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: &[u8; 32] = bytes.try_into().ok()?;
        let mut s = blst_scalar::default();
        // SAFETY: reads 32 bytes from `arr`, writes the 32-byte blst_scalar `s`.
        unsafe { blst_scalar_from_bendian(&mut s, arr.as_ptr()) };
        // SAFETY: reads the 32-byte blst_scalar `s`.
        let canonical = unsafe { blst_scalar_fr_check(&s) };
        let out = canonical.then(|| {
            let mut fr = blst_fr::default();
            // SAFETY: reads the blst_scalar `s` (< r, checked above), writes `fr`.
            unsafe { blst_fr_from_scalar(&mut fr, &s) };
            Self(fr)
        });
        s.zeroize();
        out
    }

    /// Canonical encoding: 32 big-endian bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut s = self.to_scalar();
        let mut out = [0u8; 32];
        // SAFETY: reads the 32-byte blst_scalar `s`, writes 32 bytes into `out`.
        unsafe { blst_bendian_from_scalar(out.as_mut_ptr(), &s) };
        s.zeroize();
        out
    }

    /// Reduce 64 big-endian bytes modulo r. With uniform input the bias is about 2^-257.
    pub fn from_bytes_wide(bytes: &[u8; 64]) -> Self {
        let mut s = blst_scalar::default();
        // SAFETY: reads exactly `bytes.len()` (64) bytes, writes the blst_scalar `s`. The
        // return value only says whether the result is zero, which `is_zero` answers.
        unsafe { blst_scalar_from_be_bytes(&mut s, bytes.as_ptr(), bytes.len()) };
        let mut fr = blst_fr::default();
        // SAFETY: `s` is fully reduced (< r) by blst_scalar_from_be_bytes; writes `fr`.
        unsafe { blst_fr_from_scalar(&mut fr, &s) };
        s.zeroize();
        Self(fr)
    }

    /// A uniformly random non-zero scalar.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut wide = [0u8; 64];
        loop {
            rng.fill_bytes(&mut wide);
            let s = Self::from_bytes_wide(&wide);
            if !s.is_zero() {
                wide.zeroize();
                return s;
            }
        }
    }

    /// Whether this is zero (constant time).
    pub fn is_zero(&self) -> bool {
        bool::from(limb_bytes(&self.0).ct_eq(&limb_bytes(&blst_fr::default())))
    }

    /// The multiplicative inverse; `None` for zero.
    pub fn invert(&self) -> Option<Self> {
        if self.is_zero() {
            return None;
        }
        let mut out = blst_fr::default();
        // SAFETY: reads and writes one blst_fr each; blst_fr_inverse is constant time.
        unsafe { blst_fr_inverse(&mut out, &self.0) };
        Some(Self(out))
    }

    /// The little-endian blst_scalar form that blst's point multiplication takes. The
    /// caller zeroizes it.
    fn to_scalar(self) -> blst_scalar {
        let mut s = blst_scalar::default();
        // SAFETY: reads one blst_fr, writes one 32-byte blst_scalar.
        unsafe { blst_scalar_from_fr(&mut s, &self.0) };
        s
    }
}

/// The limbs of a field element as bytes, for constant-time comparison. blst keeps F_r
/// elements fully reduced in Montgomery form, so equal values have equal limbs.
fn limb_bytes(f: &blst_fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, limb) in out.chunks_exact_mut(8).zip(f.l.iter()) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    out
}

impl PartialEq for Fr {
    fn eq(&self, other: &Self) -> bool {
        let (mut a, mut b) = (limb_bytes(&self.0), limb_bytes(&other.0));
        let eq = bool::from(a.ct_eq(&b));
        a.zeroize();
        b.zeroize();
        eq
    }
}

impl Eq for Fr {}

impl Zeroize for Fr {
    fn zeroize(&mut self) {
        self.0.l.zeroize();
    }
}

impl fmt::Debug for Fr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fr(<redacted>)")
    }
}

impl Add for Fr {
    type Output = Fr;
    fn add(self, rhs: Fr) -> Fr {
        let mut out = blst_fr::default();
        // SAFETY: reads two blst_fr values, writes a third.
        unsafe { blst_fr_add(&mut out, &self.0, &rhs.0) };
        Fr(out)
    }
}

impl Sub for Fr {
    type Output = Fr;
    fn sub(self, rhs: Fr) -> Fr {
        let mut out = blst_fr::default();
        // SAFETY: reads two blst_fr values, writes a third.
        unsafe { blst_fr_sub(&mut out, &self.0, &rhs.0) };
        Fr(out)
    }
}

impl Mul for Fr {
    type Output = Fr;
    fn mul(self, rhs: Fr) -> Fr {
        let mut out = blst_fr::default();
        // SAFETY: reads two blst_fr values, writes a third.
        unsafe { blst_fr_mul(&mut out, &self.0, &rhs.0) };
        Fr(out)
    }
}

impl Neg for Fr {
    type Output = Fr;
    fn neg(self) -> Fr {
        let mut out = blst_fr::default();
        // SAFETY: reads one blst_fr, writes another; the flag selects negation.
        unsafe { blst_fr_cneg(&mut out, &self.0, true) };
        Fr(out)
    }
}

/// A point of G1, the prime-order subgroup of E(F_p). Public keys and public shares
/// live here (the "minimal public key" variant used by Ethereum 2.0).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct G1(blst_p1);

impl G1 {
    /// Length of the compressed encoding.
    pub const COMPRESSED_BYTES: usize = 48;

    /// The standard generator.
    pub fn generator() -> Self {
        // SAFETY: blst_p1_generator returns a pointer to a static, initialised point.
        Self(unsafe { *blst_p1_generator() })
    }

    /// The point at infinity.
    pub fn identity() -> Self {
        // An all-zero Jacobian point (Z = 0) is blst's point at infinity.
        Self(blst_p1::default())
    }

    /// Whether this is the point at infinity.
    pub fn is_identity(&self) -> bool {
        // SAFETY: reads one blst_p1.
        unsafe { blst_p1_is_inf(&self.0) }
    }

    /// Compressed encoding (48 bytes, infinity as 0xc0 followed by zeros).
    pub fn to_compressed(&self) -> [u8; 48] {
        let mut out = [0u8; 48];
        // SAFETY: reads one blst_p1, writes exactly 48 bytes into `out`.
        unsafe { blst_p1_compress(out.as_mut_ptr(), &self.0) };
        out
    }

    /// Validated decoding of a compressed point: exactly 48 bytes, canonical (x < p,
    /// flags consistent), on the curve and in the prime-order subgroup. The identity is
    /// accepted in its one canonical encoding; callers that forbid it check
    /// [`G1::is_identity`].
    pub fn from_compressed(bytes: &[u8]) -> Option<Self> {
        let arr: &[u8; 48] = bytes.try_into().ok()?;
        let mut affine = blst_p1_affine::default();
        // SAFETY: reads 48 bytes from `arr`, writes one blst_p1_affine.
        if unsafe { blst_p1_uncompress(&mut affine, arr.as_ptr()) } != BLST_ERROR::BLST_SUCCESS {
            return None;
        }
        // SAFETY: reads one blst_p1_affine (on the curve, checked by uncompress).
        if !unsafe { blst_p1_affine_in_g1(&affine) } {
            return None;
        }
        let mut p = blst_p1::default();
        // SAFETY: reads one blst_p1_affine, writes one blst_p1.
        unsafe { blst_p1_from_affine(&mut p, &affine) };
        Some(Self(p))
    }
}

impl fmt::Debug for G1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "G1({})", hex::encode(self.to_compressed()))
    }
}

impl Add for G1 {
    type Output = G1;
    fn add(self, rhs: G1) -> G1 {
        let mut out = blst_p1::default();
        // SAFETY: reads two blst_p1 values, writes a third. The add_or_double variant
        // is complete: it handles equal inputs and infinity, which plain add does not.
        unsafe { blst_p1_add_or_double(&mut out, &self.0, &rhs.0) };
        G1(out)
    }
}

impl Neg for G1 {
    type Output = G1;
    fn neg(self) -> G1 {
        let mut p = self.0;
        // SAFETY: negates the blst_p1 `p` in place.
        unsafe { blst_p1_cneg(&mut p, true) };
        G1(p)
    }
}

impl Sub for G1 {
    type Output = G1;
    fn sub(self, rhs: G1) -> G1 {
        self + (-rhs)
    }
}

impl Mul<Fr> for G1 {
    type Output = G1;
    fn mul(self, rhs: Fr) -> G1 {
        let mut s = rhs.to_scalar();
        let mut out = blst_p1::default();
        // SAFETY: reads one blst_p1 and SCALAR_BITS / 8 rounded up (32) bytes of the
        // 32-byte scalar, writes one blst_p1. The bit count is fixed (constant time).
        unsafe { blst_p1_mult(&mut out, &self.0, s.b.as_ptr(), SCALAR_BITS) };
        s.zeroize();
        G1(out)
    }
}

/// A point of G2, the prime-order subgroup of the twist E'(F_p^2). Signatures and
/// hashed messages live here.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct G2(blst_p2);

impl G2 {
    /// Length of the compressed encoding.
    pub const COMPRESSED_BYTES: usize = 96;

    /// The standard generator.
    pub fn generator() -> Self {
        // SAFETY: blst_p2_generator returns a pointer to a static, initialised point.
        Self(unsafe { *blst_p2_generator() })
    }

    /// The point at infinity.
    pub fn identity() -> Self {
        Self(blst_p2::default())
    }

    /// Whether this is the point at infinity.
    pub fn is_identity(&self) -> bool {
        // SAFETY: reads one blst_p2.
        unsafe { blst_p2_is_inf(&self.0) }
    }

    /// Compressed encoding (96 bytes, infinity as 0xc0 followed by zeros).
    pub fn to_compressed(&self) -> [u8; 96] {
        let mut out = [0u8; 96];
        // SAFETY: reads one blst_p2, writes exactly 96 bytes into `out`.
        unsafe { blst_p2_compress(out.as_mut_ptr(), &self.0) };
        out
    }

    /// Validated decoding of a compressed point: exactly 96 bytes, canonical, on the
    /// curve and in the prime-order subgroup. The identity is accepted in its canonical
    /// encoding; callers that forbid it check [`G2::is_identity`].
    pub fn from_compressed(bytes: &[u8]) -> Option<Self> {
        let arr: &[u8; 96] = bytes.try_into().ok()?;
        let mut affine = blst_p2_affine::default();
        // SAFETY: reads 96 bytes from `arr`, writes one blst_p2_affine.
        if unsafe { blst_p2_uncompress(&mut affine, arr.as_ptr()) } != BLST_ERROR::BLST_SUCCESS {
            return None;
        }
        // SAFETY: reads one blst_p2_affine (on the curve, checked by uncompress).
        if !unsafe { blst_p2_affine_in_g2(&affine) } {
            return None;
        }
        let mut p = blst_p2::default();
        // SAFETY: reads one blst_p2_affine, writes one blst_p2.
        unsafe { blst_p2_from_affine(&mut p, &affine) };
        Some(Self(p))
    }

    /// Hash a message to G2 with the IETF hash-to-curve suite
    /// BLS12381G2_XMD:SHA-256_SSWU_RO_ under the domain separation tag `dst`.
    pub fn hash(message: &[u8], dst: &[u8]) -> Self {
        let mut out = blst_p2::default();
        let aug: [u8; 0] = [];
        // SAFETY: reads `message.len()` bytes of `message` and `dst.len()` bytes of
        // `dst` (slices, so valid for those lengths even when empty); no augmentation
        // (length 0, pointer never read); writes one blst_p2.
        unsafe {
            blst_hash_to_g2(
                &mut out,
                message.as_ptr(),
                message.len(),
                dst.as_ptr(),
                dst.len(),
                aug.as_ptr(),
                aug.len(),
            )
        };
        Self(out)
    }
}

impl fmt::Debug for G2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "G2({})", hex::encode(self.to_compressed()))
    }
}

impl Add for G2 {
    type Output = G2;
    fn add(self, rhs: G2) -> G2 {
        let mut out = blst_p2::default();
        // SAFETY: reads two blst_p2 values, writes a third (complete addition, as in G1).
        unsafe { blst_p2_add_or_double(&mut out, &self.0, &rhs.0) };
        G2(out)
    }
}

impl Neg for G2 {
    type Output = G2;
    fn neg(self) -> G2 {
        let mut p = self.0;
        // SAFETY: negates the blst_p2 `p` in place.
        unsafe { blst_p2_cneg(&mut p, true) };
        G2(p)
    }
}

impl Sub for G2 {
    type Output = G2;
    fn sub(self, rhs: G2) -> G2 {
        self + (-rhs)
    }
}

impl Mul<Fr> for G2 {
    type Output = G2;
    fn mul(self, rhs: Fr) -> G2 {
        let mut s = rhs.to_scalar();
        let mut out = blst_p2::default();
        // SAFETY: reads one blst_p2 and 32 bytes of the 32-byte scalar, writes one
        // blst_p2. The bit count is fixed (constant time).
        unsafe { blst_p2_mult(&mut out, &self.0, s.b.as_ptr(), SCALAR_BITS) };
        s.zeroize();
        G2(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// The group order r, big-endian.
    const R: [u8; 32] = [
        0x73, 0xed, 0xa7, 0x53, 0x29, 0x9d, 0x7d, 0x48, 0x33, 0x39, 0xd8, 0x08, 0x09, 0xa1, 0xd8, 0x05, 0x53,
        0xbd, 0xa4, 0x02, 0xff, 0xfe, 0x5b, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
    ];

    /// The base field modulus p, big-endian (48 bytes).
    const P_HEX: &str =
        "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab";

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(7)
    }

    fn r_plus(k: u8) -> [u8; 32] {
        let mut out = R;
        let mut carry = u16::from(k);
        for b in out.iter_mut().rev() {
            let v = u16::from(*b) + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        out
    }

    #[test]
    fn fr_ring_laws() {
        let mut rng = rng();
        for _ in 0..20 {
            let (a, b, c) = (Fr::random(&mut rng), Fr::random(&mut rng), Fr::random(&mut rng));
            assert_eq!(a + b, b + a);
            assert_eq!(a * b, b * a);
            assert_eq!((a + b) + c, a + (b + c));
            assert_eq!((a * b) * c, a * (b * c));
            assert_eq!(a * (b + c), a * b + a * c);
            assert_eq!(a - b, a + (-b));
            assert_eq!(a + Fr::zero(), a);
            assert_eq!(a * Fr::one(), a);
            assert_eq!(a - a, Fr::zero());
            assert!((a - a).is_zero());
            assert!(!a.is_zero());
            assert_eq!(a * a.invert().unwrap(), Fr::one());
            assert_ne!(a, b);
        }
        assert_eq!(Fr::zero().invert(), None);
        assert_eq!(-Fr::zero(), Fr::zero());
        assert_eq!(Fr::from_u64(6) * Fr::from_u64(7), Fr::from_u64(42));
        assert_eq!(Fr::from_u64(2) - Fr::from_u64(3), -Fr::one());
        assert_eq!(Fr::from_u64(3).invert().unwrap() * Fr::from_u64(3), Fr::one());
    }

    #[test]
    fn fr_encoding_round_trip_and_big_endian() {
        let mut rng = rng();
        for _ in 0..20 {
            let a = Fr::random(&mut rng);
            assert_eq!(Fr::from_bytes(&a.to_bytes()), Some(a));
        }
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(Fr::one().to_bytes(), one);
        assert_eq!(Fr::from_bytes(&one), Some(Fr::one()));
        assert_eq!(Fr::from_bytes(&[0u8; 32]), Some(Fr::zero()));
        let mut r_minus_1 = R;
        r_minus_1[31] = 0;
        assert_eq!(Fr::from_bytes(&r_minus_1), Some(-Fr::one()));
        assert_eq!((-Fr::one()).to_bytes(), r_minus_1);
    }

    #[test]
    fn fr_rejects_non_canonical_and_wrong_length() {
        assert_eq!(Fr::from_bytes(&R), None);
        assert_eq!(Fr::from_bytes(&r_plus(1)), None);
        assert_eq!(Fr::from_bytes(&[0xff; 32]), None);
        assert_eq!(Fr::from_bytes(&[1u8; 31]), None);
        assert_eq!(Fr::from_bytes(&[1u8; 33]), None);
        assert_eq!(Fr::from_bytes(&[]), None);
    }

    #[test]
    fn fr_wide_reduction() {
        let mut wide = [0u8; 64];
        wide[32..].copy_from_slice(&r_plus(5));
        assert_eq!(Fr::from_bytes_wide(&wide), Fr::from_u64(5));
        let mut wide = [0u8; 64];
        wide[32..].copy_from_slice(&R);
        assert!(Fr::from_bytes_wide(&wide).is_zero());
        // 2^256 mod r, via the high half: wide = 1 || 0^32.
        let mut wide = [0u8; 64];
        wide[31] = 1;
        let two_64 = Fr::from_u64(1 << 63) * Fr::from_u64(2);
        let two_128 = two_64 * two_64;
        let two_256 = two_128 * two_128;
        assert_eq!(Fr::from_bytes_wide(&wide), two_256);
    }

    #[test]
    fn fr_debug_is_redacted() {
        let a = Fr::from_u64(12345);
        assert_eq!(format!("{a:?}"), "Fr(<redacted>)");
        let mut b = a;
        b.zeroize();
        assert!(b.is_zero());
    }

    #[test]
    fn g1_group_laws() {
        let mut rng = rng();
        let g = G1::generator();
        let (a, b) = (Fr::random(&mut rng), Fr::random(&mut rng));
        let (pa, pb) = (g * a, g * b);
        assert_eq!(pa + pb, pb + pa);
        assert_eq!(pa + pb, g * (a + b));
        assert_eq!(pa + pa, pa * Fr::from_u64(2));
        assert_eq!(pa - pb, g * (a - b));
        assert_eq!(pa * b, pb * a);
        assert_eq!(pa - pa, G1::identity());
        assert!((pa - pa).is_identity());
        assert_eq!(pa + G1::identity(), pa);
        assert_eq!(G1::identity() + G1::identity(), G1::identity());
        assert_eq!(g * Fr::zero(), G1::identity());
        assert_eq!(g * -Fr::one(), -g);
        assert_eq!(G1::identity() * a, G1::identity());
        assert!(!g.is_identity());
    }

    #[test]
    fn g1_encoding() {
        let mut rng = rng();
        // The standard compressed generator (ZCash encoding, as in the IETF draft).
        assert_eq!(
            hex::encode(G1::generator().to_compressed()),
            "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
        );
        for _ in 0..10 {
            let p = G1::generator() * Fr::random(&mut rng);
            assert_eq!(G1::from_compressed(&p.to_compressed()), Some(p));
            assert_eq!(G1::from_compressed(&(-p).to_compressed()), Some(-p));
        }
        let mut inf = [0u8; 48];
        inf[0] = 0xc0;
        assert_eq!(G1::identity().to_compressed(), inf);
        assert_eq!(G1::from_compressed(&inf), Some(G1::identity()));
    }

    #[test]
    fn g1_rejects_invalid_encodings() {
        let good = G1::generator().to_compressed();
        assert_eq!(G1::from_compressed(&good[..47]), None);
        assert_eq!(G1::from_compressed(&[good.as_slice(), &[0]].concat()), None);
        assert_eq!(G1::from_compressed(&[]), None);
        // Compression flag missing.
        let mut b = good;
        b[0] &= 0x7f;
        assert_eq!(G1::from_compressed(&b), None);
        // Infinity with a non-zero coordinate, or with the sign flag.
        let mut b = [0u8; 48];
        b[0] = 0xc0;
        b[47] = 1;
        assert_eq!(G1::from_compressed(&b), None);
        b[47] = 0;
        b[0] = 0xe0;
        assert_eq!(G1::from_compressed(&b), None);
        // x = p (not reduced).
        let mut b: [u8; 48] = hex::decode(P_HEX).unwrap().try_into().unwrap();
        b[0] |= 0x80;
        assert_eq!(G1::from_compressed(&b), None);
        // An x with no point on the curve, and a point on the curve outside G1.
        let (mut off_curve, mut off_group) = (false, false);
        for x in 1u8..=255 {
            let mut b = [0u8; 48];
            b[0] = 0x80;
            b[47] = x;
            let mut affine = blst_p1_affine::default();
            // SAFETY: reads 48 bytes from `b`, writes one blst_p1_affine.
            let err = unsafe { blst_p1_uncompress(&mut affine, b.as_ptr()) };
            match err {
                BLST_ERROR::BLST_POINT_NOT_ON_CURVE => off_curve = true,
                BLST_ERROR::BLST_SUCCESS => {
                    // SAFETY: reads one blst_p1_affine.
                    assert!(!unsafe { blst_p1_affine_in_g1(&affine) }, "small x in G1");
                    off_group = true;
                }
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(G1::from_compressed(&b), None, "x = {x}");
        }
        assert!(off_curve && off_group, "both cases exercised");
        // (0, ±2) is on the curve but not in G1.
        let mut b = [0u8; 48];
        b[0] = 0x80;
        assert_eq!(G1::from_compressed(&b), None);
    }

    #[test]
    fn g2_group_laws() {
        let mut rng = rng();
        let g = G2::generator();
        let (a, b) = (Fr::random(&mut rng), Fr::random(&mut rng));
        let (pa, pb) = (g * a, g * b);
        assert_eq!(pa + pb, pb + pa);
        assert_eq!(pa + pb, g * (a + b));
        assert_eq!(pa + pa, pa * Fr::from_u64(2));
        assert_eq!(pa - pb, g * (a - b));
        assert_eq!(pa * b, pb * a);
        assert!((pa - pa).is_identity());
        assert_eq!(pa + G2::identity(), pa);
        assert_eq!(g * Fr::zero(), G2::identity());
        assert_eq!(g * -Fr::one(), -g);
        let h = G2::hash(b"msg", b"DST");
        assert!(!h.is_identity());
        assert_eq!(h, G2::hash(b"msg", b"DST"));
        assert_ne!(h, G2::hash(b"msg", b"DST2"));
        assert_ne!(h, G2::hash(b"msh", b"DST"));
    }

    #[test]
    fn g2_encoding() {
        let mut rng = rng();
        for _ in 0..10 {
            let p = G2::hash(b"x", b"DST") * Fr::random(&mut rng);
            assert_eq!(G2::from_compressed(&p.to_compressed()), Some(p));
            assert_eq!(G2::from_compressed(&(-p).to_compressed()), Some(-p));
        }
        let mut inf = [0u8; 96];
        inf[0] = 0xc0;
        assert_eq!(G2::identity().to_compressed(), inf);
        assert_eq!(G2::from_compressed(&inf), Some(G2::identity()));
    }

    #[test]
    fn g2_rejects_invalid_encodings() {
        let good = G2::generator().to_compressed();
        assert_eq!(G2::from_compressed(&good[..95]), None);
        assert_eq!(G2::from_compressed(&good[..48]), None);
        assert_eq!(G2::from_compressed(&[good.as_slice(), &[0]].concat()), None);
        let mut b = good;
        b[0] &= 0x7f;
        assert_eq!(G2::from_compressed(&b), None);
        let mut b = [0u8; 96];
        b[0] = 0xc0;
        b[95] = 1;
        assert_eq!(G2::from_compressed(&b), None);
        // The imaginary part of x = p (not reduced).
        let mut b = [0u8; 96];
        b[..48].copy_from_slice(&hex::decode(P_HEX).unwrap());
        b[0] |= 0x80;
        assert_eq!(G2::from_compressed(&b), None);
        let (mut off_curve, mut off_group) = (false, false);
        for x in 1u8..=255 {
            let mut b = [0u8; 96];
            b[0] = 0x80;
            b[95] = x;
            let mut affine = blst_p2_affine::default();
            // SAFETY: reads 96 bytes from `b`, writes one blst_p2_affine.
            let err = unsafe { blst_p2_uncompress(&mut affine, b.as_ptr()) };
            match err {
                BLST_ERROR::BLST_POINT_NOT_ON_CURVE => off_curve = true,
                BLST_ERROR::BLST_SUCCESS => {
                    // SAFETY: reads one blst_p2_affine.
                    assert!(!unsafe { blst_p2_affine_in_g2(&affine) }, "small x in G2");
                    off_group = true;
                }
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(G2::from_compressed(&b), None, "x = {x}");
        }
        assert!(off_curve && off_group, "both cases exercised");
    }
}
