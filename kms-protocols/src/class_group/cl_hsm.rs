//! CL-HSM encryption (Castagnos–Laguillaumie, CT-RSA 2015; the "HSM" variant of
//! Castagnos, Catalano, Laguillaumie, Savasta, Tucker, CRYPTO 2019) with message space
//! `Z/qZ` for `q` the secp256k1 group order.
//!
//! The group is `Cl(Δ)` with `Δ = q²·Δ_K` and `Δ_K = -q·p̃`, `p̃` prime, `q·p̃ ≡ 3 (mod
//! 4)` (so `Δ_K ≡ 1 (mod 4)` is a fundamental discriminant) and `(q/p̃) = -1`. It holds a
//! cyclic subgroup `F = <f>` of order `q`, `f = (q², q, ·)`, in which discrete
//! logarithms are easy: `f^m = (q², L·q, ·)` with `L` the odd representative in `(-q,
//! q)` of `m^-1 mod q`. A second element `h` (a small split prime form, squared, raised
//! to `q`) generates the subgroup of `q`-th powers, where discrete logarithms are hard.
//!
//! - key: `x` uniform below the exponent bound `B`, `pk = h^x`;
//! - encryption of `m`: `r` uniform below `B`, `(c1, c2) = (h^r, f^m·pk^r)`;
//! - decryption: `f^m = c2·c1^(-x)`, then `m` is read off the form;
//! - additively homomorphic: `(c1·c1', c2·c2')` encrypts `m + m'`, `(c1^s, c2^s)`
//!   encrypts `s·m`; rerandomisation multiplies by a fresh encryption of 0.
//!
//! Parameters come from a published seed: `p̃` is found by hashing the seed and
//! incrementing (see [`ClParams::from_seed`]), so anyone can re-derive and check them;
//! there is no trusted setup. For 128-bit security `|Δ_K|` has 1827 bits, the size the
//! BICYCL library chooses for that level.

use super::{ClassGroup, FixedBaseTable, FormError, QuadForm};
use crate::gg18::bigint::BigInt;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroize;

/// Bits of `|Δ_K|` for 128-bit security (BICYCL's choice for that level).
pub const DELTA_K_BITS_128: usize = 1827;

/// The published seed of the default parameters (secp256k1 order, 128-bit security).
pub const SECP256K1_SEED: &[u8] = b"mpc-kms CL-HSM parameters for secp256k1, 128-bit security, v1";

/// Statistical distance parameter: exponents are drawn below `2^40` times a bound on
/// the class number, so `h^r` is within `2^-40` of uniform in `<h>`.
pub const DISTANCE_BITS: usize = 40;

/// How far above the exponent bound `B` the fixed-base tables reach: proof masks are
/// drawn below `B·2^(128+40)` (a 128-bit challenge, 40 bits of statistical hiding),
/// and these go through the tables too.
pub const TABLE_SLACK_BITS: usize = 128 + DISTANCE_BITS + 8;

/// How many `+4` increments are tried from one hashed starting point before the next
/// counter value is hashed.
const INCREMENTS_PER_COUNTER: u64 = 1 << 16;

/// Hash-derivation domain of `p̃`.
const P_TILDE_DOMAIN: &[u8] = b"mpc-kms/cl-hsm/p-tilde/v1";

/// Errors of the CL-HSM layer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClError {
    /// The parameters requested are not usable (even or tiny `q`, too small `Δ_K`).
    #[error("invalid CL parameters: {0}")]
    InvalidParameters(&'static str),
    /// A received form (public key or ciphertext part) is not a valid group element.
    #[error("invalid class-group element: {0}")]
    InvalidForm(#[from] FormError),
    /// The ciphertext does not decrypt to an element of F under this key: it was not
    /// made for this key, or it is not an honest ciphertext.
    #[error("ciphertext does not decrypt under this key")]
    NotDecryptable,
}

/// Public CL-HSM parameters: the group, the generators and the exponent bound.
#[derive(Clone)]
pub struct ClParams {
    q: BigInt,
    p_tilde: BigInt,
    delta_k: BigInt,
    group: ClassGroup,
    f: QuadForm,
    h: QuadForm,
    /// `ĥ = P_r²`, with `ĥ^q = h`.
    h_hat: QuadForm,
    exp_bound: BigInt,
    h_table: Arc<FixedBaseTable>,
    counter: u64,
    increment: u64,
}

impl fmt::Debug for ClParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ClParams(|Δ_K| {} bits, |Δ| {} bits, bound {} bits)",
            self.delta_k.bits(),
            self.group.discriminant().bits(),
            self.exp_bound.bits()
        )
    }
}

/// `floor(sqrt(|Δ_K|))·ceil(ln|Δ_K|/π) + 1`, an upper bound on the class number
/// `h(Δ_K) < (1/π)·ln|Δ_K|·sqrt|Δ_K|` of the fundamental discriminant Δ_K.
fn class_number_bound(delta_k: &BigInt) -> BigInt {
    let bits = delta_k.bits() as u64;
    // ln|Δ_K|/π <= bits·ln(2)/π < bits·0.2207
    let factor = (bits * 2207).div_ceil(10_000) + 1;
    delta_k.sqrt_floor() * BigInt::from_u64(factor) + BigInt::one()
}

/// Legendre symbol `(a/p)` for an odd prime `p` by Euler's criterion: 1, -1 or 0.
fn legendre(a: &BigInt, p: &BigInt) -> i32 {
    let Some(m) = crate::gg18::bigint::Modulus::new(p.clone()) else {
        return 0;
    };
    let e = (p - &BigInt::one())
        .div_floor(&BigInt::from_u64(2))
        .unwrap_or_else(BigInt::zero);
    match m.pow(a, &e) {
        Some(v) if v == BigInt::one() => 1,
        Some(v) if v.is_zero() => 0,
        _ => -1,
    }
}

/// The hashed starting point for counter `ctr`: `bits` bits of SHA-256 output blocks
/// `SHA-256(domain ‖ len(seed) ‖ seed ‖ ctr ‖ block)`, top two bits set (so `q·p̃` has
/// its full size) and the low two bits set to `3·q mod 4` (so `q·p̃ ≡ 3 mod 4`).
fn p_tilde_start(seed: &[u8], ctr: u64, bits: usize, q: &BigInt) -> BigInt {
    let mut bytes = Vec::with_capacity(bits.div_ceil(8) + 32);
    let mut block = 0u32;
    while bytes.len() * 8 < bits {
        let mut h = Sha256::new();
        h.update(P_TILDE_DOMAIN);
        h.update((seed.len() as u64).to_be_bytes());
        h.update(seed);
        h.update(ctr.to_be_bytes());
        h.update(block.to_be_bytes());
        bytes.extend_from_slice(&h.finalize());
        block += 1;
    }
    let v = BigInt::from_bytes_be(&bytes);
    let v = v.rem_floor(&BigInt::pow2(bits)).unwrap_or_else(BigInt::zero);
    let top = BigInt::pow2(bits - 1) + BigInt::pow2(bits - 2);
    let v = (v.rem_floor(&BigInt::pow2(bits - 2)).unwrap_or_else(BigInt::zero)) + top;
    let low = v.rem_u64(4);
    let want = (3 * q.rem_u64(4)) % 4;
    v - BigInt::from_u64(low) + BigInt::from_u64(want)
}

impl ClParams {
    /// The default parameters: `q` the secp256k1 order, `|Δ_K|` of 1827 bits,
    /// [`SECP256K1_SEED`]. Deriving them takes about a second (a prime search and the
    /// generator's precomputation table); build them once and share them.
    pub fn secp256k1() -> Self {
        let q = crate::gg18::mta::curve_order();
        match Self::from_seed(SECP256K1_SEED, &q, DELTA_K_BITS_128) {
            Ok(p) => p,
            // The inputs are constants that are known to be valid.
            Err(_) => unreachable!("default CL parameters are valid"),
        }
    }

    /// Parameters for an odd prime `q` (not checked prime here: it is the curve order
    /// the caller chose) and `|Δ_K|` of `delta_k_bits` bits, derived from `seed`.
    ///
    /// `p̃` is the first value `start(ctr) + 4·i` (`ctr = 0, 1, …`, `i < 2^16`) that is a
    /// probable prime with `(q/p̃) = -1` and `|q·p̃|` of exactly `delta_k_bits` bits,
    /// where `start` is [`p_tilde_start`]'s hash of the seed. The generator `h` is
    /// `(P_r²)^q` for the prime form `P_r` of the smallest prime `r` for which one exists.
    pub fn from_seed(seed: &[u8], q: &BigInt, delta_k_bits: usize) -> Result<Self, ClError> {
        if !q.is_odd() || q.bits() < 16 {
            return Err(ClError::InvalidParameters(
                "q must be an odd prime of at least 16 bits",
            ));
        }
        if delta_k_bits < 2 * q.bits() + 8 || delta_k_bits > 8192 {
            return Err(ClError::InvalidParameters("|Δ_K| must exceed q² by a margin"));
        }
        let pbits = delta_k_bits - q.bits();
        let four = BigInt::from_u64(4);
        for counter in 0u64.. {
            let mut p = p_tilde_start(seed, counter, pbits, q);
            for increment in 0..INCREMENTS_PER_COUNTER {
                if (q * &p).bits() == delta_k_bits && p.is_probable_prime(40) && legendre(q, &p) == -1 {
                    return Self::from_p_tilde(q, &p, counter, increment);
                }
                p = p + &four;
            }
        }
        Err(ClError::InvalidParameters("no p̃ found"))
    }

    fn from_p_tilde(q: &BigInt, p: &BigInt, counter: u64, increment: u64) -> Result<Self, ClError> {
        let delta_k = -&(q * p);
        let disc = &delta_k * &(q * q);
        let group = ClassGroup::new(&disc)?;
        let q2 = q * q;
        let f = group.form_from_ab(&q2, q)?;
        let mut gen = None;
        for r in 2u64..10_000 {
            if !BigInt::from_u64(r).is_probable_prime(20) || q.rem_u64(r) == 0 {
                continue;
            }
            if let Some(pf) = group.prime_form(r) {
                gen = Some(pf);
                break;
            }
        }
        let pr = gen.ok_or(ClError::InvalidParameters("no small split prime"))?;
        let h_hat = group.square(&pr);
        let h = group.pow(&h_hat, q);
        if group.is_identity(&h) {
            return Err(ClError::InvalidParameters("generator is trivial"));
        }
        let exp_bound = class_number_bound(&delta_k).shl(DISTANCE_BITS);
        let h_table = Arc::new(FixedBaseTable::new(
            &group,
            &h,
            exp_bound.bits() + TABLE_SLACK_BITS,
            FixedBaseTable::DEFAULT_WINDOW,
        ));
        Ok(Self {
            q: q.clone(),
            p_tilde: p.clone(),
            delta_k,
            group,
            f,
            h,
            h_hat,
            exp_bound,
            h_table,
            counter,
            increment,
        })
    }

    /// The message modulus `q`.
    pub fn q(&self) -> &BigInt {
        &self.q
    }

    /// The prime `p̃`.
    pub fn p_tilde(&self) -> &BigInt {
        &self.p_tilde
    }

    /// The fundamental discriminant `Δ_K = -q·p̃`.
    pub fn delta_k(&self) -> &BigInt {
        &self.delta_k
    }

    /// Where the derivation stopped: (counter, increment), for anyone re-deriving.
    pub fn derivation(&self) -> (u64, u64) {
        (self.counter, self.increment)
    }

    /// The class group `Cl(q²·Δ_K)`.
    pub fn group(&self) -> &ClassGroup {
        &self.group
    }

    /// The generator `f` of the subgroup `F` of order `q`.
    pub fn f(&self) -> &QuadForm {
        &self.f
    }

    /// The generator `h` of the hard subgroup.
    pub fn h(&self) -> &QuadForm {
        &self.h
    }

    /// `ĥ`, the square of the small prime form `h` was made from: `ĥ^q = h`. Anyone
    /// can check that relation ([`Self::check_h_hat`]); DMZ21 proves knowledge of
    /// logarithms to the base `ĥ` and publishes their `q`-th powers (logarithms to `h`).
    pub fn h_hat(&self) -> &QuadForm {
        &self.h_hat
    }

    /// Whether the published relation `ĥ^q = h` holds for these parameters.
    pub fn check_h_hat(&self) -> bool {
        self.group.pow(&self.h_hat, &self.q) == self.h
    }

    /// The bound `B` below which secret keys and encryption randomness are drawn.
    pub fn exponent_bound(&self) -> &BigInt {
        &self.exp_bound
    }

    /// `h^e` through the precomputed table (for `0 <= e < 2^(bits(B) + TABLE_SLACK_BITS)`;
    /// other exponents fall back to generic exponentiation).
    pub fn h_pow(&self, e: &BigInt) -> QuadForm {
        self.h_table.pow(&self.group, e)
    }

    /// `f^m`, computed directly: `(q², L·q, ·)` with `L` the odd representative of
    /// `m^-1 mod q` in `(-q, q)`, the identity for `m ≡ 0`.
    pub fn f_pow(&self, m: &BigInt) -> QuadForm {
        let Some(inv) = m.invert_mod(&self.q) else {
            return self.group.identity();
        };
        let l = if inv.is_odd() { inv } else { inv - &self.q };
        let q2 = &self.q * &self.q;
        match self.group.form_from_ab(&q2, &(&l * &self.q)) {
            Ok(f) => f,
            // (q², L·q) with L odd and |L| < q is a reduced form of Δ by construction.
            Err(_) => unreachable!("f^m is a reduced form"),
        }
    }

    /// The discrete logarithm of `x` to the base `f`, if `x` is in `F`.
    pub fn f_log(&self, x: &QuadForm) -> Option<BigInt> {
        if self.group.is_identity(x) {
            return Some(BigInt::zero());
        }
        if x.a() != &self.q * &self.q {
            return None;
        }
        let b = x.b();
        if b.rem_floor(&self.q)? != BigInt::zero() {
            return None;
        }
        let l = b.div_floor(&self.q)?;
        l.invert_mod(&self.q)
    }

    /// A fresh exponent uniform below the bound `B`.
    pub fn random_exponent<R: RngCore + CryptoRng>(&self, rng: &mut R) -> BigInt {
        BigInt::random_below(rng, &self.exp_bound)
    }

    /// A fresh key pair.
    pub fn keygen<R: RngCore + CryptoRng>(&self, rng: &mut R) -> (SecretKey, PublicKey) {
        let sk = SecretKey {
            x: self.random_exponent(rng),
        };
        let pk = self.public_key(&sk);
        (sk, pk)
    }

    /// The public key `h^x` of a secret key.
    pub fn public_key(&self, sk: &SecretKey) -> PublicKey {
        PublicKey {
            pk: self.h_pow(&sk.x),
            table: None,
        }
    }

    /// Accept a public key received from elsewhere (already a validated form). Whether
    /// it really is in `<h>` cannot be checked; protocols prove it (DMZ21 checks
    /// `ĥ^q = h`-style relations or proofs of knowledge of the key).
    pub fn public_key_from_form(&self, pk: QuadForm) -> PublicKey {
        PublicKey { pk, table: None }
    }

    /// Decode and validate a public key.
    pub fn decode_public_key(&self, bytes: &[u8]) -> Result<PublicKey, ClError> {
        Ok(PublicKey {
            pk: self.group.decode(bytes)?,
            table: None,
        })
    }

    /// Encrypt `m mod q` with fresh randomness.
    pub fn encrypt<R: RngCore + CryptoRng>(&self, pk: &PublicKey, m: &BigInt, rng: &mut R) -> Ciphertext {
        let mut r = self.random_exponent(rng);
        let ct = self.encrypt_with(pk, m, &r);
        r.zeroize();
        ct
    }

    /// Encrypt with given randomness `r` (for proofs that need to know it):
    /// `(h^r, f^m·pk^r)`.
    pub fn encrypt_with(&self, pk: &PublicKey, m: &BigInt, r: &BigInt) -> Ciphertext {
        let c1 = self.h_pow(r);
        let pkr = match &pk.table {
            Some(t) => t.pow(&self.group, r),
            None => self.group.pow(&pk.pk, r),
        };
        let c2 = self.group.compose(&self.f_pow(m), &pkr);
        Ciphertext { c1, c2 }
    }

    /// Decrypt: `m` in `[0, q)`, or [`ClError::NotDecryptable`].
    pub fn decrypt(&self, sk: &SecretKey, ct: &Ciphertext) -> Result<BigInt, ClError> {
        let mut neg_x = -&sk.x;
        let mask = self.group.pow(&ct.c1, &neg_x);
        neg_x.zeroize();
        let fm = self.group.compose(&ct.c2, &mask);
        self.f_log(&fm).ok_or(ClError::NotDecryptable)
    }

    /// Homomorphic addition: an encryption of `m + m'`.
    pub fn add(&self, x: &Ciphertext, y: &Ciphertext) -> Ciphertext {
        Ciphertext {
            c1: self.group.compose(&x.c1, &y.c1),
            c2: self.group.compose(&x.c2, &y.c2),
        }
    }

    /// Homomorphic scalar multiplication: an encryption of `s·m` (any integer `s`).
    /// The result's randomness is `s·r`; rerandomise it before sending it anywhere.
    pub fn scal(&self, x: &Ciphertext, s: &BigInt) -> Ciphertext {
        Ciphertext {
            c1: self.group.pow(&x.c1, s),
            c2: self.group.pow(&x.c2, s),
        }
    }

    /// Multiply by a fresh encryption of 0: same plaintext, fresh randomness.
    pub fn rerandomize<R: RngCore + CryptoRng>(
        &self,
        pk: &PublicKey,
        x: &Ciphertext,
        rng: &mut R,
    ) -> Ciphertext {
        let zero = self.encrypt(pk, &BigInt::zero(), rng);
        self.add(x, &zero)
    }

    /// Canonical encoding of a ciphertext: `c1 ‖ c2`.
    pub fn encode_ciphertext(&self, ct: &Ciphertext) -> Vec<u8> {
        let mut out = self.group.encode(&ct.c1);
        out.extend_from_slice(&self.group.encode(&ct.c2));
        out
    }

    /// Decode and validate a ciphertext (both forms checked).
    pub fn decode_ciphertext(&self, bytes: &[u8]) -> Result<Ciphertext, ClError> {
        let n = self.group.encoded_len();
        if bytes.len() != 2 * n {
            return Err(ClError::InvalidForm(FormError::Malformed));
        }
        Ok(Ciphertext {
            c1: self.group.decode(&bytes[..n])?,
            c2: self.group.decode(&bytes[n..])?,
        })
    }
}

/// A CL-HSM secret key `x`. Zeroized on drop; `Debug` does not show it.
#[derive(Clone)]
pub struct SecretKey {
    x: BigInt,
}

impl SecretKey {
    /// Wrap a secret exponent (for key material restored from storage).
    pub fn from_exponent(x: BigInt) -> Self {
        Self { x }
    }

    /// The secret exponent, for proofs of knowledge and storage.
    pub fn exponent(&self) -> &BigInt {
        &self.x
    }
}

impl Zeroize for SecretKey {
    fn zeroize(&mut self) {
        self.x.zeroize();
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A CL-HSM public key `h^x`, optionally with a precomputed table for encryption.
#[derive(Clone, Debug)]
pub struct PublicKey {
    pk: QuadForm,
    table: Option<Arc<FixedBaseTable>>,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.pk == other.pk
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// The form `h^x`.
    pub fn form(&self) -> &QuadForm {
        &self.pk
    }

    /// Precompute powers of the key so that later encryptions under it cost about a
    /// quarter as much (worth it for a key used more than a few times).
    pub fn precompute(&mut self, params: &ClParams) {
        self.table = Some(Arc::new(FixedBaseTable::new(
            &params.group,
            &self.pk,
            params.exp_bound.bits() + TABLE_SLACK_BITS,
            FixedBaseTable::DEFAULT_WINDOW,
        )));
    }

    /// `pk^e`, through the precomputed table if there is one (for `0 <= e < 2^(bits(B)
    /// + TABLE_SLACK_BITS)`), else by generic exponentiation.
    pub fn pow(&self, params: &ClParams, e: &BigInt) -> QuadForm {
        match &self.table {
            Some(t) => t.pow(&params.group, e),
            None => params.group.pow(&self.pk, e),
        }
    }

    /// Canonical encoding.
    pub fn encode(&self, params: &ClParams) -> Vec<u8> {
        params.group.encode(&self.pk)
    }
}

/// A CL-HSM ciphertext `(c1, c2) = (h^r, f^m·pk^r)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ciphertext {
    c1: QuadForm,
    c2: QuadForm,
}

impl Ciphertext {
    /// `c1 = h^r`.
    pub fn c1(&self) -> &QuadForm {
        &self.c1
    }

    /// `c2 = f^m·pk^r`.
    pub fn c2(&self) -> &QuadForm {
        &self.c2
    }
}

#[cfg(test)]
mod tests;
