//! The big-integer backend (GMP through `rust-gmp-kzen`), wrapped so that nothing a
//! remote party sends can make GMP abort the process.
//!
//! Raw GMP aborts on a zero modulus, on a negative exponent whose base has no inverse,
//! and misbehaves in `mpz_powm_sec` with an even modulus or a non-positive exponent. Here
//! every modular operation takes a [`Modulus`], which is checked odd and > 1 when it is
//! made, and exponentiation with a negative exponent returns `None` when the inverse
//! does not exist. The rest of the GG18 code uses only this module (see docs/bigint.md).
//!
//! Secret exponents go through [`Modulus::pow_sec`] (GMP `mpz_powm_sec`, constant time
//! for odd moduli); [`Modulus::pow`] is for public values only.

use crate::transcript::Transcript;
use gmp::mpz::Mpz;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Mul, Neg, Sub};
use zeroize::Zeroize;

/// Largest integer (in bits) accepted from serialized input. Every value in the GG18
/// layer is far below it (the largest are ~5000-bit proof responses); the cap keeps a
/// peer from making us parse or exponentiate absurdly large numbers.
pub const MAX_DECODED_BITS: usize = 16_384;

/// An arbitrary-precision signed integer.
///
/// Every value is wiped when dropped (all of GMP's allocated limbs are overwritten with
/// zeros before the memory goes back to the allocator), because secrets pass through
/// countless temporaries that no owner could wipe one by one. `Debug` shows only the
/// bit length, so a stray `{:?}` on a secret prints nothing of its value.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BigInt(Mpz);

/// The memory layout of GMP's `mpz_t` (`__mpz_struct` in gmp.h: allocated limbs, signed
/// size in limbs, limb pointer), which the binding keeps private.
#[repr(C)]
struct RawMpz {
    alloc: std::os::raw::c_int,
    size: std::os::raw::c_int,
    limbs: *mut usize,
}

/// Overwrite every allocated limb of `m` (not only the live ones: limbs above the
/// current size may hold an earlier, larger value) and leave it the value 0.
///
/// The binding's own `Drop` overwrites only `size * 4` bytes (it writes `c_int`s over
/// 8-byte limbs), so half of every value would otherwise survive in freed memory.
#[allow(unsafe_code)]
fn wipe_limbs(m: &mut Mpz) {
    // SAFETY: `inner_mut` points at the live `mpz_t` of `m`, whose layout is `RawMpz`.
    // GMP guarantees `alloc` limbs behind `limbs` (with lazy allocation, `alloc` is 0
    // and the pointer is a shared read-only dummy limb, so nothing is written).
    // Size 0 with any allocation is the canonical representation of 0.
    unsafe {
        let raw = m.inner_mut() as *mut RawMpz;
        let alloc = usize::try_from((*raw).alloc).unwrap_or(0);
        let limbs = (*raw).limbs;
        if !limbs.is_null() {
            for i in 0..alloc {
                std::ptr::write_volatile(limbs.add(i), 0);
            }
        }
        (*raw).size = 0;
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

impl Drop for BigInt {
    fn drop(&mut self) {
        wipe_limbs(&mut self.0);
    }
}

impl BigInt {
    /// 0.
    pub fn zero() -> Self {
        Self(Mpz::zero())
    }

    /// 1.
    pub fn one() -> Self {
        Self(Mpz::one())
    }

    /// From an unsigned machine integer.
    pub fn from_u64(v: u64) -> Self {
        Self(Mpz::from(v))
    }

    /// From big-endian magnitude bytes (the result is >= 0).
    pub fn from_bytes_be(bytes: &[u8]) -> Self {
        Self(Mpz::from(bytes))
    }

    /// Big-endian magnitude bytes, minimal length (empty for 0). The sign is dropped.
    pub fn to_bytes_be(&self) -> Vec<u8> {
        if self.is_zero() {
            return Vec::new();
        }
        Vec::<u8>::from(&self.0)
    }

    /// Big-endian magnitude left-padded to `len` bytes; `None` if it does not fit.
    pub fn to_bytes_be_padded(&self, len: usize) -> Option<Vec<u8>> {
        let b = self.to_bytes_be();
        if b.len() > len {
            return None;
        }
        let mut out = vec![0u8; len - b.len()];
        out.extend_from_slice(&b);
        Some(out)
    }

    /// Parse `[-]hex` (lower or upper case, no prefix).
    pub fn from_hex(s: &str) -> Option<Self> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        if digits.is_empty()
            || digits.len() > MAX_DECODED_BITS / 4
            || !digits.bytes().all(|c| c.is_ascii_hexdigit())
        {
            return None;
        }
        let v = Mpz::from_str_radix(digits, 16).ok()?;
        Some(if neg { Self(-v) } else { Self(v) })
    }

    /// `[-]hex`, lower case.
    pub fn to_hex(&self) -> String {
        self.0.to_str_radix(16)
    }

    /// Number of bits of |self| (0 for 0).
    pub fn bits(&self) -> usize {
        if self.is_zero() {
            0
        } else {
            self.0.abs().bit_length()
        }
    }

    /// Whether the value is 0.
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Whether the value is < 0.
    pub fn is_negative(&self) -> bool {
        self.0 < Mpz::zero()
    }

    /// Whether the value is odd.
    pub fn is_odd(&self) -> bool {
        self.0.tstbit(0)
    }

    /// Bit `i` of |self|.
    pub fn bit(&self, i: usize) -> bool {
        self.0.abs().tstbit(i)
    }

    /// |self|.
    pub fn abs(&self) -> Self {
        Self(self.0.abs())
    }

    /// 2^bits.
    pub fn pow2(bits: usize) -> Self {
        let mut m = Mpz::zero();
        m.setbit(bits);
        Self(m)
    }

    /// self^e over the integers.
    pub fn pow(&self, e: u32) -> Self {
        Self(self.0.pow(e))
    }

    /// self << bits.
    pub fn shl(&self, bits: usize) -> Self {
        Self(&self.0 << bits)
    }

    /// Floor of the square root of |self|.
    pub fn sqrt_floor(&self) -> Self {
        Self(self.0.abs().sqrt())
    }

    /// |self| mod d for a small non-zero divisor (0 for d = 0).
    pub fn rem_u64(&self, d: u64) -> u64 {
        if d == 0 {
            return 0;
        }
        Option::<u64>::from(&(self.0.abs().modulus(&Mpz::from(d)))).unwrap_or(0)
    }

    /// Greatest common divisor of |self| and |other|.
    pub fn gcd(&self, other: &Self) -> Self {
        Self(self.0.gcd(&other.0))
    }

    /// Exact quotient floor(self / d) for d > 0; `None` for d <= 0.
    pub fn div_floor(&self, d: &Self) -> Option<Self> {
        if d.0 <= Mpz::zero() {
            return None;
        }
        Some(Self(self.0.div_floor(&d.0)))
    }

    /// self mod m in `[0, m)` for any m > 0 (also even); `None` for m <= 0.
    pub fn rem_floor(&self, m: &Self) -> Option<Self> {
        if m.0 <= Mpz::zero() {
            return None;
        }
        Some(Self(self.0.modulus(&m.0)))
    }

    /// self^-1 mod m for any m > 1 (also even); `None` if not invertible.
    pub fn invert_mod(&self, m: &Self) -> Option<Self> {
        if m.0 <= Mpz::one() {
            return None;
        }
        let r = self.0.modulus(&m.0);
        if r.is_zero() {
            return None;
        }
        r.invert(&m.0).map(Self)
    }

    /// Probable-primality test (GMP's Baillie-PSW plus `reps` Miller-Rabin rounds with
    /// GMP's deterministic bases). For checking public values; [`super::primes`] tests
    /// secret candidates with random bases.
    pub fn is_probable_prime(&self, reps: u32) -> bool {
        !self.is_negative()
            && !matches!(
                self.0.probab_prime(reps.min(64) as i32),
                gmp::mpz::ProbabPrimeResult::NotPrime
            )
    }

    /// A uniform integer in `[0, 2^bits)`.
    pub fn random_bits<R: RngCore + CryptoRng>(rng: &mut R, bits: usize) -> Self {
        let mut buf = vec![0u8; bits.div_ceil(8)];
        rng.fill_bytes(&mut buf);
        let extra = buf.len() * 8 - bits;
        if extra > 0 {
            if let Some(b) = buf.first_mut() {
                *b &= 0xff >> extra;
            }
        }
        let v = Self::from_bytes_be(&buf);
        buf.zeroize();
        v
    }

    /// A uniform integer in `[0, upper)` (rejection sampling); 0 if `upper <= 0`.
    pub fn random_below<R: RngCore + CryptoRng>(rng: &mut R, upper: &Self) -> Self {
        if upper.0 <= Mpz::zero() {
            return Self::zero();
        }
        let bits = upper.bits();
        loop {
            let v = Self::random_bits(rng, bits);
            if v < *upper {
                return v;
            }
        }
    }

    /// Extended GCD: `(g, s, t)` with `g = gcd(self, other) = s*self + t*other`, g >= 0.
    pub fn gcdext(&self, other: &Self) -> (Self, Self, Self) {
        let (g, s, t) = self.0.gcdext(&other.0);
        (Self(g), Self(s), Self(t))
    }

    /// The GMP integer inside, for arithmetic layers (the class group) that need
    /// GMP's in-place operations to avoid an allocation per step.
    pub(crate) fn as_mpz(&self) -> &Mpz {
        &self.0
    }

    /// Wrap a GMP integer.
    pub(crate) fn from_mpz(m: Mpz) -> Self {
        Self(m)
    }

    /// Absorb into a transcript: a sign byte then the minimal magnitude bytes, so the
    /// encoding is injective (the transcript length-prefixes the item).
    pub fn append_to(&self, t: &mut Transcript, label: &[u8]) {
        let mut enc = Vec::with_capacity(self.bits() / 8 + 2);
        enc.push(u8::from(self.is_negative()));
        enc.extend_from_slice(&self.to_bytes_be());
        t.append(label, &enc);
    }
}

impl Zeroize for BigInt {
    /// Overwrites every allocated limb in place with zeros and leaves the value 0 (the
    /// same wipe as on drop). GMP's internal scratch memory (mostly on the stack at
    /// these sizes) is not reachable from here; see docs/bigint.md.
    fn zeroize(&mut self) {
        wipe_limbs(&mut self.0);
    }
}

/// Only the size: any value may be a secret.
impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BigInt(<{} bits>)", self.bits())
    }
}

impl Serialize for BigInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BigInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BigInt::from_hex(&s).ok_or_else(|| serde::de::Error::custom("invalid big integer"))
    }
}

macro_rules! binop {
    ($tr:ident, $m:ident) => {
        impl $tr<&BigInt> for &BigInt {
            type Output = BigInt;
            fn $m(self, rhs: &BigInt) -> BigInt {
                BigInt((&self.0).$m(&rhs.0))
            }
        }
        impl $tr<BigInt> for BigInt {
            type Output = BigInt;
            fn $m(self, rhs: BigInt) -> BigInt {
                BigInt((&self.0).$m(&rhs.0))
            }
        }
        impl $tr<&BigInt> for BigInt {
            type Output = BigInt;
            fn $m(self, rhs: &BigInt) -> BigInt {
                BigInt((&self.0).$m(&rhs.0))
            }
        }
    };
}
binop!(Add, add);
binop!(Sub, sub);
binop!(Mul, mul);

impl Neg for &BigInt {
    type Output = BigInt;
    fn neg(self) -> BigInt {
        BigInt(-&self.0)
    }
}

impl From<u64> for BigInt {
    fn from(v: u64) -> Self {
        Self::from_u64(v)
    }
}

/// A modulus for modular arithmetic: odd and > 1, checked once when it is made.
///
/// Every modulus of the GG18 layer (N, N^2, N~, p, p^2, ...) is odd, and the constant-time
/// exponentiation requires it, so an even modulus is refused here rather than handled.
/// Secret moduli (p, p^2, ...) are wiped on drop like every [`BigInt`]; `Debug` shows
/// the bit length only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Modulus {
    m: BigInt,
}

impl fmt::Debug for Modulus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Modulus(<{} bits>)", self.bits())
    }
}

impl Modulus {
    /// `None` unless `m` is odd and > 1.
    pub fn new(m: BigInt) -> Option<Self> {
        if m.is_odd() && m > BigInt::one() {
            Some(Self { m })
        } else {
            None
        }
    }

    /// The modulus as an integer.
    pub fn value(&self) -> &BigInt {
        &self.m
    }

    /// Wipe a secret modulus before it is dropped. The value is left 0, which breaks the
    /// invariant, so this is only for `Drop` impls of the owners of secret moduli.
    pub(crate) fn wipe(&mut self) {
        self.m.zeroize();
    }

    /// Its bit length.
    pub fn bits(&self) -> usize {
        self.m.bits()
    }

    /// x mod m, in `[0, m)`.
    pub fn reduce(&self, x: &BigInt) -> BigInt {
        BigInt(x.0.modulus(&self.m.0))
    }

    /// a * b mod m.
    pub fn mul(&self, a: &BigInt, b: &BigInt) -> BigInt {
        self.reduce(&(a * b))
    }

    /// a + b mod m.
    pub fn add(&self, a: &BigInt, b: &BigInt) -> BigInt {
        self.reduce(&(a + b))
    }

    /// a - b mod m.
    pub fn sub(&self, a: &BigInt, b: &BigInt) -> BigInt {
        self.reduce(&(a - b))
    }

    /// a^-1 mod m, `None` if a is not a unit.
    pub fn inv(&self, a: &BigInt) -> Option<BigInt> {
        let r = self.reduce(a);
        if r.is_zero() {
            return None;
        }
        r.0.invert(&self.m.0).map(BigInt)
    }

    /// Whether `x` is in `[1, m)` and coprime to m: a unit in its canonical range.
    pub fn is_unit(&self, x: &BigInt) -> bool {
        !x.is_negative() && !x.is_zero() && *x < self.m && x.gcd(&self.m) == BigInt::one()
    }

    /// base^exp mod m for public values (variable time). A negative exponent uses the
    /// inverse of the base; `None` if that does not exist.
    pub fn pow(&self, base: &BigInt, exp: &BigInt) -> Option<BigInt> {
        if exp.is_negative() {
            let inv = self.inv(base)?;
            return Some(BigInt(inv.0.powm(&exp.abs().0, &self.m.0)));
        }
        Some(BigInt(base.0.powm(&exp.0, &self.m.0)))
    }

    /// base^exp mod m in constant time with respect to the exponent and base values
    /// (GMP `mpz_powm_sec`; timing depends only on the sizes). For secret exponents.
    /// The exponent must be >= 0 (callers sample secret exponents from non-negative
    /// ranges so that no sign has to be branched on); `None` for a negative exponent.
    pub fn pow_sec(&self, base: &BigInt, exp: &BigInt) -> Option<BigInt> {
        if exp.is_negative() {
            return None;
        }
        if exp.is_zero() {
            return Some(self.reduce(&BigInt::one()));
        }
        let b = self.reduce(base);
        Some(BigInt(b.0.powm_sec(&exp.0, &self.m.0)))
    }

    /// A uniform unit of Z_m^*.
    pub fn random_unit<R: RngCore + CryptoRng>(&self, rng: &mut R) -> BigInt {
        loop {
            let r = BigInt::random_below(rng, &self.m);
            if self.is_unit(&r) {
                return r;
            }
        }
    }
}

/// Reduce a transcript's challenge bytes to an integer in `[0, bound)`, drawing as many
/// 64-byte challenges as needed for `bound`'s size plus 128 bits (so the bias is
/// below 2^-128).
pub fn challenge_below(t: &mut Transcript, label: &[u8], bound: &BigInt) -> BigInt {
    let need = bound.bits().div_ceil(8) + 16;
    let mut bytes = Vec::with_capacity(need + 64);
    let mut i = 0u64;
    while bytes.len() < need {
        t.append_u64(b"challenge-block", i);
        bytes.extend_from_slice(&t.challenge(label));
        i += 1;
    }
    bytes.truncate(need);
    let v = BigInt::from_bytes_be(&bytes);
    match Modulus::new(bound.clone()) {
        Some(m) => m.reduce(&v),
        None => BigInt(v.0.modulus(&bound.0.abs().max(Mpz::one()))),
    }
}

/// `n` challenge bits from a transcript.
pub fn challenge_bits(t: &mut Transcript, label: &[u8], n: usize) -> Vec<bool> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let c = t.challenge(label);
        for byte in c {
            for k in 0..8 {
                if out.len() < n {
                    out.push((byte >> k) & 1 == 1);
                }
            }
        }
    }
    out
}

/// Compare magnitudes only where a sign is irrelevant (bounds checks use this).
pub fn abs_le(x: &BigInt, bound: &BigInt) -> bool {
    x.abs().cmp(bound) != Ordering::Greater
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn modulus_rejects_even_zero_and_one() {
        assert!(Modulus::new(BigInt::zero()).is_none());
        assert!(Modulus::new(BigInt::one()).is_none());
        assert!(Modulus::new(BigInt::from_u64(10)).is_none());
        assert!(Modulus::new(BigInt::from_u64(11)).is_some());
    }

    #[test]
    fn negative_exponent_without_inverse_is_none_not_abort() {
        let m = Modulus::new(BigInt::from_u64(15)).unwrap();
        assert!(m.pow(&BigInt::from_u64(5), &BigInt::from_u64(3).neg()).is_none());
        assert_eq!(
            m.pow(&BigInt::from_u64(2), &(-&BigInt::one())),
            Some(BigInt::from_u64(8))
        );
        assert!(m.pow_sec(&BigInt::from_u64(2), &(-&BigInt::one())).is_none());
    }

    #[test]
    fn pow_sec_matches_pow() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let m =
            Modulus::new(BigInt::random_bits(&mut rng, 512) * BigInt::from_u64(2) + BigInt::one()).unwrap();
        for _ in 0..8 {
            let b = BigInt::random_bits(&mut rng, 600);
            let e = BigInt::random_bits(&mut rng, 300);
            assert_eq!(m.pow(&b, &e), m.pow_sec(&b, &e));
        }
        assert_eq!(
            m.pow_sec(&BigInt::from_u64(5), &BigInt::zero()),
            Some(BigInt::one())
        );
    }

    #[test]
    fn hex_round_trip_and_limits() {
        let v = -&BigInt::from_u64(0xabcdef);
        assert_eq!(BigInt::from_hex(&v.to_hex()), Some(v));
        assert!(BigInt::from_hex("").is_none());
        assert!(BigInt::from_hex("-").is_none());
        assert!(BigInt::from_hex("0x12").is_none());
        assert!(BigInt::from_hex(&"f".repeat(MAX_DECODED_BITS / 4 + 1)).is_none());
    }

    #[test]
    fn zeroize_clears() {
        let mut v = BigInt::from_hex("123456789abcdef0123456789abcdef").unwrap();
        v.zeroize();
        assert!(v.is_zero());
    }

    /// The limbs a value occupied, read through GMP's raw `mpz_t` (allocated count and
    /// pointer): what the allocator would get back on drop.
    #[allow(unsafe_code)]
    fn allocated_limbs(v: &mut BigInt) -> Vec<usize> {
        // SAFETY: reads `alloc` limbs of a live mpz_t (see `wipe_limbs`).
        unsafe {
            let raw = v.0.inner_mut() as *mut RawMpz;
            let alloc = usize::try_from((*raw).alloc).unwrap_or(0);
            (0..alloc)
                .map(|i| std::ptr::read_volatile((*raw).limbs.add(i)))
                .collect()
        }
    }

    /// Review L3: the wipe that runs on drop (and on `zeroize`) overwrites every
    /// allocated limb with zeros, including limbs above the live size that hold what
    /// an earlier, larger value left there.
    #[test]
    fn review_l3_secret_limbs_are_wiped_before_free() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut v = BigInt::random_bits(&mut rng, 1024) + BigInt::pow2(1023);
        // Shrink in place: the allocation keeps 16 limbs, the live size drops to 1, and
        // the upper limbs still hold the old secret.
        v.0.set(&Mpz::from(0xdead_beef_u64));
        let before = allocated_limbs(&mut v);
        assert!(before.len() >= 16 && before[1..].iter().any(|l| *l != 0));
        v.zeroize();
        assert!(v.is_zero());
        let after = allocated_limbs(&mut v);
        assert_eq!(
            after.len(),
            before.len(),
            "the allocation is reused, not replaced"
        );
        assert!(after.iter().all(|l| *l == 0), "a limb survived the wipe");
    }

    /// Review I1: no value bits in `Debug`, neither of an integer nor of a modulus.
    #[test]
    fn review_i1_debug_shows_no_value_bits() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let p = BigInt::random_bits(&mut rng, 1024) * BigInt::from_u64(2) + BigInt::one();
        let hex = p.to_hex();
        let m = Modulus::new(p.clone()).unwrap();
        for dbg in [format!("{:?}", m), format!("{p:?}"), format!("{:?}", Some(&p))] {
            assert!(!dbg.contains(&hex[..8]), "{dbg} shows p's hex prefix");
            assert!(!dbg.contains(&hex[hex.len() - 8..]), "{dbg} shows p's hex suffix");
            assert!(dbg.contains(&format!("{} bits", p.bits())), "{dbg}");
        }
        assert!(!format!("{:?}", BigInt::from_u64(0xabcdef)).contains("abcdef"));
    }
}
