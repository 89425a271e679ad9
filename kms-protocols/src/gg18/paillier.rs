//! Paillier encryption with generator Γ = N + 1.
//!
//! - Encryption `Γ^m · r^N mod N^2` with a precomputable nonce ([`EncryptionNonce`]), so
//!   the expensive `r^N` can be done off the critical path.
//! - Under one's own key ([`PaillierSecret`]) `r^N` and decryption run through CRT mod
//!   p^2 and q^2 (about 4x less work) with constant-time exponentiation.
//! - Received ciphertexts are validated: in `[1, N^2)` and a unit (gcd with N is 1).

use super::bigint::{BigInt, Modulus};
use crate::error::Fault;
use crate::ProtocolError;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Minimum size of a Paillier modulus (and of a ring-Pedersen modulus) in bits.
pub const MIN_MODULUS_BITS: usize = 2048;

/// Maximum size of a peer's Paillier or ring-Pedersen modulus in bits. Twice the size we
/// generate: room for a peer with larger keys, while a peer cannot make the aux proofs
/// and every signing it joins tens of times slower with an 8192-bit modulus.
pub const MAX_MODULUS_BITS: usize = 4096;

/// Refuse a modulus outside [`MIN_MODULUS_BITS`]..=[`MAX_MODULUS_BITS`].
pub(crate) fn check_modulus_size(what: &'static str, m: &BigInt) -> Result<(), Fault> {
    let bits = m.bits();
    if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
        return Err(Fault::ModulusSize {
            what,
            bits,
            min: MIN_MODULUS_BITS,
            max: MAX_MODULUS_BITS,
        });
    }
    Ok(())
}

/// A Paillier public key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaillierPublic {
    n: Modulus,
    nn: Modulus,
}

impl PaillierPublic {
    /// Accept a peer's modulus: odd, [`MIN_MODULUS_BITS`]..=[`MAX_MODULUS_BITS`] bits
    /// ([`Fault::ModulusSize`] otherwise). (Whether it is a Paillier-Blum modulus
    /// without small factors is for the proofs in `zk`.)
    pub fn new(n: BigInt) -> Result<Self, Fault> {
        check_modulus_size("Paillier modulus N", &n)?;
        let nn =
            Modulus::new(&n * &n).ok_or_else(|| Fault::InvalidProof("Paillier modulus is even".into()))?;
        let n = Modulus::new(n).ok_or_else(|| Fault::InvalidProof("Paillier modulus is even".into()))?;
        Ok(Self { n, nn })
    }

    /// N.
    pub fn n(&self) -> &BigInt {
        self.n.value()
    }

    /// N as a modulus.
    pub fn n_modulus(&self) -> &Modulus {
        &self.n
    }

    /// N^2 as a modulus.
    pub fn nn(&self) -> &Modulus {
        &self.nn
    }

    /// Γ^m mod N^2 = 1 + m·N (no exponentiation needed); `m` may be any integer.
    pub fn gamma_pow(&self, m: &BigInt) -> BigInt {
        self.nn
            .reduce(&(BigInt::one() + self.n.reduce(m) * self.n.value()))
    }

    /// A fresh nonce r with r^N mod N^2 precomputed (constant-time: r is secret).
    pub fn precompute_nonce<R: RngCore + CryptoRng>(&self, rng: &mut R) -> EncryptionNonce {
        let r = self.n.random_unit(rng);
        let rn = self.power_n_sec(&r);
        EncryptionNonce { r, rn }
    }

    /// x^N mod N^2 with x secret.
    pub fn power_n_sec(&self, x: &BigInt) -> BigInt {
        // N is odd and > 1, exponent N > 0: pow_sec cannot refuse.
        self.nn.pow_sec(x, self.n.value()).unwrap_or_else(BigInt::zero)
    }

    /// Encrypt `m` (reduced mod N) with a precomputed nonce.
    pub fn encrypt_with(&self, m: &BigInt, nonce: &EncryptionNonce) -> Ciphertext {
        Ciphertext(self.nn.mul(&self.gamma_pow(m), &nonce.rn))
    }

    /// Encrypt `m` with a fresh nonce; returns the nonce too (proofs need r).
    pub fn encrypt<R: RngCore + CryptoRng>(&self, rng: &mut R, m: &BigInt) -> (Ciphertext, EncryptionNonce) {
        let nonce = self.precompute_nonce(rng);
        (self.encrypt_with(m, &nonce), nonce)
    }

    /// Homomorphic addition: Enc(a + b).
    pub fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Ciphertext {
        Ciphertext(self.nn.mul(&a.0, &b.0))
    }

    /// Homomorphic multiplication by a secret scalar k >= 0: Enc(k·m), constant-time.
    /// `None` for a negative k.
    pub fn mul_sec(&self, c: &Ciphertext, k: &BigInt) -> Option<Ciphertext> {
        self.nn.pow_sec(&c.0, k).map(Ciphertext)
    }

    /// Check a received ciphertext: in `[1, N^2)` and a unit mod N^2.
    pub fn validate(&self, c: &Ciphertext) -> Result<(), Fault> {
        if c.0.is_negative() || c.0.is_zero() || c.0 >= *self.nn.value() {
            return Err(Fault::Malformed("ciphertext out of range [1, N^2)".into()));
        }
        if c.0.gcd(self.n.value()) != BigInt::one() {
            return Err(Fault::Malformed("ciphertext is not a unit mod N^2".into()));
        }
        Ok(())
    }
}

/// Exponentiation mod N^2 for a verifier with public base and exponent (any sign). The
/// owner of the key does it through CRT, about 4x faster.
pub trait PaillierExp {
    /// The public key.
    fn public_key(&self) -> &PaillierPublic;
    /// base^exp mod N^2; `None` if exp < 0 and base is not invertible. The base must be a
    /// unit (callers check received values first).
    fn pow_nn(&self, base: &BigInt, exp: &BigInt) -> Option<BigInt>;
}

impl PaillierExp for PaillierPublic {
    fn public_key(&self) -> &PaillierPublic {
        self
    }
    fn pow_nn(&self, base: &BigInt, exp: &BigInt) -> Option<BigInt> {
        self.nn.pow(base, exp)
    }
}

impl PaillierExp for PaillierSecret {
    fn public_key(&self) -> &PaillierPublic {
        &self.public
    }
    fn pow_nn(&self, base: &BigInt, exp: &BigInt) -> Option<BigInt> {
        let (b, e) = if exp.is_negative() {
            (self.public.nn.inv(base)?, exp.abs())
        } else {
            (base.clone(), exp.clone())
        };
        // Exponents reduce mod φ(p^2) = p(p-1) for a unit base; the reduced exponent
        // depends on p, so the exponentiation is the constant-time one.
        let c = &self.crt;
        let ep = e.rem_floor(&(&self.p * &c.p1))?;
        let eq = e.rem_floor(&(&self.q * &c.q1))?;
        let xp = c.pp.pow_sec(&b, &ep)?;
        let xq = c.qq.pow_sec(&b, &eq)?;
        let h = c.pp.mul(&(xp - &xq), &c.qq_inv_pp);
        Some(self.public.nn.reduce(&(xq + &(h * c.qq.value()))))
    }
}

/// A Paillier ciphertext (an element of Z_{N^2}^*).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Ciphertext(pub BigInt);

/// The encryption randomness r and r^N mod N^2. Secret: whoever knows r can decrypt.
///
/// Single use, so deliberately not `Clone`: two ciphertexts with one r are linked, and
/// with the response s = r^e·β of a proof the reuse leaks β. Whoever holds a nonce
/// spends it; it cannot be duplicated:
///
/// ```compile_fail
/// use kms_protocols::gg18::paillier::EncryptionNonce;
/// fn reuse(n: &EncryptionNonce) -> EncryptionNonce {
///     n.clone()
/// }
/// ```
///
/// (the same function without the clone compiles:)
///
/// ```
/// fn spend(n: kms_protocols::gg18::paillier::EncryptionNonce) {
///     drop(n);
/// }
/// ```
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct EncryptionNonce {
    pub(crate) r: BigInt,
    pub(crate) rn: BigInt,
}

impl fmt::Debug for EncryptionNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionNonce(<redacted>)")
    }
}

/// A Paillier secret key: the primes, with CRT precomputation.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PaillierSecret {
    p: BigInt,
    q: BigInt,
    #[zeroize(skip)]
    public: PaillierPublic,
    #[zeroize(skip)]
    crt: Crt,
}

/// CRT precomputation (all secret: wiped on drop).
#[derive(Clone)]
struct Crt {
    pp: Modulus,
    qq: Modulus,
    p_mod: Modulus,
    q_mod: Modulus,
    /// (p - 1), (q - 1): decryption exponents.
    p1: BigInt,
    q1: BigInt,
    /// L_p(Γ^(p-1) mod p^2)^-1 mod p, and the same for q.
    hp: BigInt,
    hq: BigInt,
    /// q^-1 mod p (plaintext recombination).
    q_inv_p: BigInt,
    /// (q^2)^-1 mod p^2 (ciphertext recombination).
    qq_inv_pp: BigInt,
    /// N mod p(p-1) and N mod q(q-1): exponents of r^N mod p^2, q^2.
    n_mod_phi_pp: BigInt,
    n_mod_phi_qq: BigInt,
    /// φ(N) = (p-1)(q-1).
    phi: BigInt,
}

impl Drop for Crt {
    fn drop(&mut self) {
        for v in [
            &mut self.p1,
            &mut self.q1,
            &mut self.hp,
            &mut self.hq,
            &mut self.q_inv_p,
            &mut self.qq_inv_pp,
            &mut self.n_mod_phi_pp,
            &mut self.n_mod_phi_qq,
            &mut self.phi,
        ] {
            v.zeroize();
        }
        for m in [&mut self.pp, &mut self.qq, &mut self.p_mod, &mut self.q_mod] {
            m.wipe();
        }
    }
}

impl fmt::Debug for PaillierSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PaillierSecret(N: {} bits, <redacted>)",
            self.public.n().bits()
        )
    }
}

fn l_function(x: &BigInt, d: &BigInt) -> Option<BigInt> {
    (x - &BigInt::one()).div_floor(d)
}

impl PaillierSecret {
    /// A key from two distinct odd primes of equal size giving a modulus of at least
    /// [`MIN_MODULUS_BITS`] bits. Primality is the caller's promise (fixtures are checked
    /// by tests; [`super::aux_info::AuxSecret::generate`] makes them).
    pub fn from_primes(p: BigInt, q: BigInt) -> Result<Self, ProtocolError> {
        let bad = |m: &str| ProtocolError::InvalidParameters(format!("Paillier primes: {m}"));
        if p == q || p.bits() != q.bits() {
            return Err(bad("must be distinct and of equal size"));
        }
        let public =
            PaillierPublic::new(&p * &q).map_err(|f| ProtocolError::InvalidParameters(f.to_string()))?;
        let p_mod = Modulus::new(p.clone()).ok_or_else(|| bad("p is even"))?;
        let q_mod = Modulus::new(q.clone()).ok_or_else(|| bad("q is even"))?;
        let pp = Modulus::new(&p * &p).ok_or_else(|| bad("p is even"))?;
        let qq = Modulus::new(&q * &q).ok_or_else(|| bad("q is even"))?;
        let p1 = &p - &BigInt::one();
        let q1 = &q - &BigInt::one();
        let gamma = public.n() + &BigInt::one();
        let hp = l_function(&pp.pow_sec(&gamma, &p1).ok_or_else(|| bad("p"))?, &p)
            .and_then(|l| p_mod.inv(&l))
            .ok_or_else(|| bad("p does not give an invertible L_p"))?;
        let hq = l_function(&qq.pow_sec(&gamma, &q1).ok_or_else(|| bad("q"))?, &q)
            .and_then(|l| q_mod.inv(&l))
            .ok_or_else(|| bad("q does not give an invertible L_q"))?;
        let q_inv_p = p_mod.inv(&q).ok_or_else(|| bad("q not invertible mod p"))?;
        let qq_inv_pp = pp
            .inv(qq.value())
            .ok_or_else(|| bad("q^2 not invertible mod p^2"))?;
        let n_mod_phi_pp = public.n().rem_floor(&(&p * &p1)).ok_or_else(|| bad("p"))?;
        let n_mod_phi_qq = public.n().rem_floor(&(&q * &q1)).ok_or_else(|| bad("q"))?;
        let phi = &p1 * &q1;
        if public.n().gcd(&phi) != BigInt::one() {
            return Err(bad("gcd(N, phi(N)) != 1"));
        }
        Ok(Self {
            p,
            q,
            public,
            crt: Crt {
                pp,
                qq,
                p_mod,
                q_mod,
                p1,
                q1,
                hp,
                hq,
                q_inv_p,
                qq_inv_pp,
                n_mod_phi_pp,
                n_mod_phi_qq,
                phi,
            },
        })
    }

    /// The public key.
    pub fn public(&self) -> &PaillierPublic {
        &self.public
    }

    pub(crate) fn p(&self) -> &BigInt {
        &self.p
    }

    pub(crate) fn q(&self) -> &BigInt {
        &self.q
    }

    /// Combine residues mod p and mod q into the residue mod N.
    pub(crate) fn crt_combine(&self, xp: &BigInt, xq: &BigInt) -> BigInt {
        let h = self.crt.p_mod.mul(&(xp - xq), &self.crt.q_inv_p);
        self.public.n_modulus().reduce(&(xq + &(h * &self.q)))
    }

    /// x^N mod N^2 through CRT, constant-time (x secret).
    pub fn power_n_crt(&self, x: &BigInt) -> BigInt {
        let c = &self.crt;
        let xp = c.pp.pow_sec(x, &c.n_mod_phi_pp).unwrap_or_else(BigInt::zero);
        let xq = c.qq.pow_sec(x, &c.n_mod_phi_qq).unwrap_or_else(BigInt::zero);
        let h = c.pp.mul(&(xp - &xq), &c.qq_inv_pp);
        self.public.nn().reduce(&(xq + &(h * c.qq.value())))
    }

    /// A nonce with r^N precomputed through CRT (for encryption under one's own key).
    pub fn precompute_nonce<R: RngCore + CryptoRng>(&self, rng: &mut R) -> EncryptionNonce {
        let r = self.public.n_modulus().random_unit(rng);
        let rn = self.power_n_crt(&r);
        EncryptionNonce { r, rn }
    }

    /// Encrypt under one's own key (CRT for r^N).
    pub fn encrypt<R: RngCore + CryptoRng>(&self, rng: &mut R, m: &BigInt) -> (Ciphertext, EncryptionNonce) {
        let nonce = self.precompute_nonce(rng);
        (self.public.encrypt_with(m, &nonce), nonce)
    }

    /// Decrypt through CRT with constant-time exponentiation (the exponents p-1, q-1
    /// are secret). The ciphertext should have been validated; a non-unit decrypts to
    /// garbage, never panics. The result is in `[0, N)`.
    pub fn decrypt(&self, c: &Ciphertext) -> BigInt {
        let k = &self.crt;
        let lp =
            k.pp.pow_sec(&c.0, &k.p1)
                .and_then(|x| l_function(&x, &self.p))
                .unwrap_or_else(BigInt::zero);
        let lq =
            k.qq.pow_sec(&c.0, &k.q1)
                .and_then(|x| l_function(&x, &self.q))
                .unwrap_or_else(BigInt::zero);
        let mp = k.p_mod.mul(&lp, &k.hp);
        let mq = k.q_mod.mul(&lq, &k.hq);
        self.crt_combine(&mp, &mq)
    }

    /// [`PaillierSecret::decrypt`] to the centred residue in (-N/2, N/2]: the exact
    /// plaintext of any ciphertext whose plaintext, as an integer, lies in that range.
    /// MtA needs this: a malicious Bob may add a negative β' (his proof bounds |β'|,
    /// not its sign), and decoding to `[0, N)` would turn a·b + β' < 0 into
    /// N + a·b + β', which is not a·b + β' mod q.
    pub fn decrypt_centred(&self, c: &Ciphertext) -> BigInt {
        let m = self.decrypt(c);
        // floor(N/2): N is odd, so m > N/2 exactly when m >= (N+1)/2.
        let half = self
            .public
            .n()
            .div_floor(&BigInt::from_u64(2))
            .unwrap_or_else(BigInt::zero);
        if m > half {
            &m - self.public.n()
        } else {
            m
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_small_modulus_rejected() {
        let n = BigInt::pow2(2046) + BigInt::one();
        assert!(matches!(
            PaillierPublic::new(n),
            Err(Fault::ModulusSize { bits: 2047, .. })
        ));
        assert!(PaillierPublic::new(BigInt::pow2(2047) + BigInt::one()).is_ok());
        assert!(PaillierPublic::new(BigInt::pow2(2047)).is_err());
    }

    /// Review L2: a peer's N and N~ have an upper bound too, so a peer cannot slow every
    /// proof and signing down with an absurd modulus; the refusal is typed.
    #[test]
    fn review_l2_peer_moduli_are_bounded() {
        use crate::gg18::ring_pedersen::{RingPedersen, RingPedersenParams};
        let odd = |bits: usize| BigInt::pow2(bits - 1) + BigInt::one();
        let rp = |n: BigInt| {
            RingPedersen::check(&RingPedersenParams {
                n,
                h1: BigInt::from_u64(4),
                h2: BigInt::from_u64(16),
            })
        };
        for bits in [8192, 4097, 2047] {
            let too = |r: Result<(), Fault>| matches!(r, Err(Fault::ModulusSize { bits: b, min: 2048, max: 4096, .. }) if b == bits);
            assert!(
                too(PaillierPublic::new(odd(bits)).map(|_| ())),
                "N of {bits} bits"
            );
            assert!(too(rp(odd(bits)).map(|_| ())), "N~ of {bits} bits");
        }
        for bits in [2048, 3072, 4096] {
            assert!(PaillierPublic::new(odd(bits)).is_ok(), "N of {bits} bits");
            assert!(rp(odd(bits)).is_ok(), "N~ of {bits} bits");
        }
        let err = PaillierPublic::new(odd(8192)).unwrap_err().to_string();
        assert!(err.contains("8192 bits") && err.contains("4096"), "{err}");
    }
}
