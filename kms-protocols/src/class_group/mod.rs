//! The class group of an imaginary quadratic order, as reduced binary quadratic forms.
//!
//! A form `(a, b, c)` stands for `a·x² + b·x·y + c·y²`; its discriminant is `Δ = b² -
//! 4ac < 0`. The classes of primitive positive definite forms of discriminant `Δ` make a
//! finite abelian group whose order nobody can compute for large `|Δ|`, which is what
//! class-group cryptography (here CL-HSM encryption, [`cl_hsm`]) rests on. Every class
//! has exactly one *reduced* form (`|b| <= a <= c`, and `b >= 0` if `|b| = a` or `a =
//! c`), so reduced forms are the canonical representatives used everywhere here.
//!
//! Sources (papers and books; no code was copied):
//! - H. Cohen, *A Course in Computational Algebraic Number Theory*, GTM 138: reduction
//!   (Alg. 5.4.2), composition (Alg. 5.4.7), NUDUPL and NUCOMP (Alg. 5.4.8, 5.4.9,
//!   after Shanks and Atkin).
//! - M. J. Jacobson, A. J. van der Poorten, "Computational aspects of NUCOMP", ANTS-V
//!   2002: the bound `L = floor((|Δ|/4)^(1/4))` for the partial reduction.
//! - T. Jebelean, "Improving the multiprecision Euclidean algorithm", DISCO 1993: the
//!   exactness condition for Lehmer's single-precision steps ([`xgcd`]).
//! - B. King, "wNAF*, an efficient left-to-right signed digit recoding algorithm",
//!   ACNS 2008 (signed-digit exponentiation, [`exp`]).
//!
//! Untrusted input: a form received from a peer is only ever built through
//! [`ClassGroup::decode`] or [`ClassGroup::form_from_ab`], which check that `a > 0`,
//! that `b² ≡ Δ (mod 4a)` (so that `c` exists and the discriminant is right), that the
//! form is reduced (so the encoding is canonical) and primitive (so it is a group
//! element), and that the sizes are those of a reduced form. A [`QuadForm`] value is
//! therefore always a valid reduced element of the group it was made in.
//!
//! Timing: like every known class-group implementation, this arithmetic is not constant
//! time: the extended GCDs inside composition depend on the values. See
//! `docs/security.md` (section "Class-group arithmetic") for what callers with secret exponents do about it.

pub mod cl_hsm;
mod exp;
mod xgcd;

pub use exp::FixedBaseTable;

use crate::gg18::bigint::BigInt;
use gmp::mpz::Mpz;
use gmp::sign::Sign;
use std::fmt;

/// Why bytes or integers are not a valid reduced form of the group.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The discriminant is not negative or not `≡ 0, 1 (mod 4)`.
    #[error("invalid discriminant")]
    InvalidDiscriminant,
    /// The encoding has the wrong length or a bad sign byte.
    #[error("malformed form encoding")]
    Malformed,
    /// `a <= 0`, or a coefficient is larger than a reduced form allows.
    #[error("form coefficient out of range")]
    OutOfRange,
    /// `b² - Δ` is not divisible by `4a`: no form with this `(a, b)` has discriminant Δ.
    #[error("form has the wrong discriminant")]
    WrongDiscriminant,
    /// The form is not reduced (so its encoding would not be canonical).
    #[error("form is not reduced")]
    NotReduced,
    /// `gcd(a, b, c) != 1`: not an element of the class group.
    #[error("form is not primitive")]
    NotPrimitive,
}

/// A reduced, primitive, positive definite binary quadratic form `(a, b, c)`.
///
/// Values of this type are made only by a [`ClassGroup`] (arithmetic or validated
/// decoding), so they are always reduced elements of that group. The form itself is
/// public data; secret exponents never live in it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct QuadForm {
    a: Mpz,
    b: Mpz,
    c: Mpz,
}

impl QuadForm {
    /// The coefficient `a`.
    pub fn a(&self) -> BigInt {
        BigInt::from_mpz(self.a.clone())
    }

    /// The coefficient `b`.
    pub fn b(&self) -> BigInt {
        BigInt::from_mpz(self.b.clone())
    }

    /// The coefficient `c`.
    pub fn c(&self) -> BigInt {
        BigInt::from_mpz(self.c.clone())
    }
}

impl fmt::Debug for QuadForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QuadForm(a: {:?}, b: {:?})", self.a(), self.b())
    }
}

/// The class group `Cl(Δ)` for one negative discriminant: composition, squaring,
/// inversion, exponentiation, encoding and validation of forms.
#[derive(Clone)]
pub struct ClassGroup {
    disc: Mpz,
    /// `floor((|Δ|/4)^(1/4))`, where NUCOMP's partial reduction stops.
    l: Mpz,
    /// Bytes of each of `a` and `|b|` in the canonical encoding.
    elem_bytes: usize,
}

impl fmt::Debug for ClassGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClassGroup(|Δ| of {} bits)", self.disc.bit_length())
    }
}

fn is_neg(x: &Mpz) -> bool {
    x.sign() == Sign::Negative
}

/// `x mod m` in `[0, m)` for `m > 0`.
fn fmod(x: &Mpz, m: &Mpz) -> Mpz {
    x.modulus(m)
}

impl ClassGroup {
    /// The group of discriminant `disc`, which must be negative and `≡ 0, 1 (mod 4)`.
    pub fn new(disc: &BigInt) -> Result<Self, FormError> {
        let d = disc.as_mpz().clone();
        let r4 = disc.rem_u64(4); // |Δ| mod 4
        if !is_neg(&d) || !(r4 == 0 || r4 == 3) || disc.bits() > crate::gg18::bigint::MAX_DECODED_BITS {
            return Err(FormError::InvalidDiscriminant);
        }
        let abs = d.abs();
        let quarter = &abs >> 2;
        let l = quarter.root(4);
        // A reduced form has a <= sqrt(|Δ|/3) and |b| <= a.
        let amax = (&abs / 3u64).sqrt();
        let elem_bytes = amax.bit_length().div_ceil(8).max(1);
        Ok(Self {
            disc: d,
            l,
            elem_bytes,
        })
    }

    /// The discriminant Δ.
    pub fn discriminant(&self) -> BigInt {
        BigInt::from_mpz(self.disc.clone())
    }

    /// Length of [`Self::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        1 + 2 * self.elem_bytes
    }

    /// The neutral element, the principal form `(1, Δ mod 2, (Δ mod 2 - Δ)/4)`.
    pub fn identity(&self) -> QuadForm {
        let b = if self.disc.tstbit(0) {
            Mpz::one()
        } else {
            Mpz::zero()
        };
        let c = (&(&b * &b) - &self.disc) >> 2;
        QuadForm { a: Mpz::one(), b, c }
    }

    /// Whether `f` is the neutral element.
    pub fn is_identity(&self, f: &QuadForm) -> bool {
        f.a == Mpz::one()
    }

    /// The inverse class, `(a, -b, c)` reduced.
    pub fn inverse(&self, f: &QuadForm) -> QuadForm {
        let mut g = QuadForm {
            a: f.a.clone(),
            b: -&f.b,
            c: f.c.clone(),
        };
        reduce(&mut g);
        g
    }

    /// Build a form from `a` and `b` received from elsewhere, checking everything a
    /// group element needs (see the module documentation).
    pub fn form_from_ab(&self, a: &BigInt, b: &BigInt) -> Result<QuadForm, FormError> {
        self.validate(a.as_mpz().clone(), b.as_mpz().clone())
    }

    fn validate(&self, a: Mpz, b: Mpz) -> Result<QuadForm, FormError> {
        let limit = self.elem_bytes * 8;
        if a <= Mpz::zero() || a.bit_length() > limit || b.bit_length() > limit {
            return Err(FormError::OutOfRange);
        }
        let four_a = &a << 2;
        let num = &(&b * &b) - &self.disc;
        if !num.is_multiple_of(&four_a) {
            return Err(FormError::WrongDiscriminant);
        }
        let c = &num / &four_a;
        let f = QuadForm { a, b, c };
        if !is_reduced(&f) {
            return Err(FormError::NotReduced);
        }
        if f.a.gcd(&f.b).gcd(&f.c) != Mpz::one() {
            return Err(FormError::NotPrimitive);
        }
        Ok(f)
    }

    /// The canonical encoding: a sign byte for `b` (0 or 1), then `a` and `|b|`
    /// big-endian, each padded to the size bound of a reduced form. `c` is implied.
    pub fn encode(&self, f: &QuadForm) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push(u8::from(is_neg(&f.b)));
        for x in [&f.a, &f.b] {
            let bytes: Vec<u8> = Vec::<u8>::from(x);
            let bytes = if x.is_zero() { Vec::new() } else { bytes };
            out.extend(std::iter::repeat_n(
                0u8,
                self.elem_bytes.saturating_sub(bytes.len()),
            ));
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Decode and validate an encoding made by [`Self::encode`]. The encoding is
    /// canonical: exactly one byte string decodes to each element.
    pub fn decode(&self, bytes: &[u8]) -> Result<QuadForm, FormError> {
        if bytes.len() != self.encoded_len() {
            return Err(FormError::Malformed);
        }
        let neg = match bytes[0] {
            0 => false,
            1 => true,
            _ => return Err(FormError::Malformed),
        };
        let a = Mpz::from(&bytes[1..1 + self.elem_bytes]);
        let babs = Mpz::from(&bytes[1 + self.elem_bytes..]);
        if neg && babs.is_zero() {
            return Err(FormError::Malformed);
        }
        let b = if neg { -babs } else { babs };
        self.validate(a, b)
    }

    /// Composition `f·g` by NUCOMP (Cohen Alg. 5.4.9), then reduction.
    pub fn compose(&self, f: &QuadForm, g: &QuadForm) -> QuadForm {
        let mut r = self.nucomp(f, g);
        reduce(&mut r);
        r
    }

    /// Squaring `f²` by NUDUPL (Cohen Alg. 5.4.8), then reduction.
    pub fn square(&self, f: &QuadForm) -> QuadForm {
        let mut r = self.nudupl(f);
        reduce(&mut r);
        r
    }

    /// Composition by the textbook algorithm (Cohen Alg. 5.4.7): full-size
    /// intermediate values, then reduction. Slower than [`Self::compose`]; kept as the
    /// independent reference the fast path is tested against.
    pub fn compose_textbook(&self, f1: &QuadForm, f2: &QuadForm) -> QuadForm {
        let (f1, f2) = if f1.a > f2.a { (f2, f1) } else { (f1, f2) };
        let s = &(&f1.b + &f2.b) >> 1;
        let n = &f2.b - &s;
        // u·a2 + v·a1 = d = gcd(a2, a1)
        let (y1, d) = if f2.a.is_multiple_of(&f1.a) {
            (Mpz::zero(), f1.a.clone())
        } else {
            let (d, u, _v) = f2.a.gcdext(&f1.a);
            (u, d)
        };
        // x2·s + y2·d = d1 = gcd(s, d)
        let (x2, y2, d1) = if s.is_multiple_of(&d) {
            (Mpz::zero(), Mpz::from(-1i64), d)
        } else {
            let (d1, x2, y2) = s.gcdext(&d);
            (x2, -y2, d1)
        };
        let v1 = &f1.a / &d1;
        let v2 = &f2.a / &d1;
        let r = fmod(&(&(&(&y1 * &y2) * &n) - &(&x2 * &f2.c)), &v1);
        let v2r = &v2 * &r;
        let b3 = &f2.b + &(&v2r << 1);
        let a3 = &v1 * &v2;
        let c3 = &(&(&f2.c * &d1) + &(&r * &(&f2.b + &v2r))) / &v1;
        let mut out = QuadForm { a: a3, b: b3, c: c3 };
        reduce(&mut out);
        out
    }

    /// NUCOMP without the final reduction (the output is almost reduced).
    fn nucomp(&self, f: &QuadForm, g: &QuadForm) -> QuadForm {
        // Order so that a1 <= a2.
        let (f, g) = if f.a > g.a { (g, f) } else { (f, g) };
        let mut a1 = f.a.clone();
        let mut a2 = g.a.clone();
        let mut c2 = g.c.clone();
        let ss = &(&f.b + &g.b) >> 1;
        let m = &(&f.b - &g.b) >> 1;

        // sp = gcd(a2, a1) = v1·a2 + (.)·a1
        let t = fmod(&a2, &a1);
        let (sp, v1) = if t.is_zero() {
            (a1.clone(), Mpz::zero())
        } else {
            let (sp, v1, _) = t.gcdext(&a1);
            (sp, v1)
        };
        // k is Cohen's r (Alg. 5.4.7 step 4): B = b2 + 2·a2·k after a1, a2 are divided
        // by d1 = gcd(a1, a2, (b1 + b2)/2) and c2 multiplied by it.
        let mut k = fmod(&(&m * &v1), &a1);
        if sp != Mpz::one() {
            // d1 = gcd(ss, sp) = v2·ss + u2·sp
            let (d1, v2, u2) = ss.gcdext(&sp);
            k = &(&k * &u2) - &(&v2 * &c2);
            if d1 != Mpz::one() {
                a1 = &a1 / &d1;
                a2 = &a2 / &d1;
                c2 = &c2 * &d1;
            }
            k = fmod(&k, &a1);
        }
        if a1 < self.l {
            let t = &a2 * &k;
            let a = &a2 * &a1;
            let b = &(&t << 1) + &g.b;
            let c = &(&(&(&g.b + &t) * &k) + &c2) / &a1;
            return QuadForm { a, b, c };
        }
        let mut r2 = a1.clone();
        let mut r1 = k;
        let mut co2 = Mpz::new();
        let mut co1 = Mpz::new();
        xgcd::partial_xgcd(&mut r2, &mut r1, &mut co2, &mut co1, &self.l);

        let t = &a2 * &r1;
        let m1 = &(&(&m * &co1) + &t) / &a1;
        let m2 = &(&(&ss * &r1) - &(&c2 * &co1)) / &a1;
        let x = &(&r1 * &m1) - &(&co1 * &m2);
        let mut a = if is_neg(&co1) { x } else { -x };
        let num = &(&(&t - &(&a * &co2)) << 1) / &co1;
        let b = (&num - &g.b).mod_floor(&(&a << 1));
        let mut c = &(&(&b * &b) - &self.disc) / &a;
        c >>= 2;
        if is_neg(&a) {
            a = -a;
            c = -c;
        }
        QuadForm { a, b, c }
    }

    /// NUDUPL without the final reduction.
    fn nudupl(&self, f: &QuadForm) -> QuadForm {
        // s = gcd(b, a) = v2·b + (.)·a
        let (s, v2, _) = f.b.gcdext(&f.a);
        // k = -c·(b/s)^-1 mod a/s, from the original c (Cohen's r with f1 = f2); then
        // a1 = a/s and c1 = c·s as in the composition.
        let mut a1 = f.a.clone();
        let mut c1 = f.c.clone();
        if s != Mpz::one() {
            a1 = &a1 / &s;
            c1 = &c1 * &s;
        }
        let k = fmod(&-(&v2 * &f.c), &a1);
        if a1 < self.l {
            let t = &a1 * &k;
            let a = &a1 * &a1;
            let b = &(&t << 1) + &f.b;
            let c = &(&(&(&f.b + &t) * &k) + &c1) / &a1;
            return QuadForm { a, b, c };
        }
        let mut r2 = a1.clone();
        let mut r1 = k;
        let mut co2 = Mpz::new();
        let mut co1 = Mpz::new();
        xgcd::partial_xgcd(&mut r2, &mut r1, &mut co2, &mut co1, &self.l);

        let m2 = &(&(&f.b * &r1) - &(&c1 * &co1)) / &a1;
        let x = &(&r1 * &r1) - &(&co1 * &m2);
        let mut a = if is_neg(&co1) { x } else { -x };
        let num = &(&(&(&a1 * &r1) - &(&a * &co2)) << 1) / &co1;
        let b = (&num - &f.b).mod_floor(&(&a << 1));
        let mut c = &(&(&b * &b) - &self.disc) / &a;
        c >>= 2;
        if is_neg(&a) {
            a = -a;
            c = -c;
        }
        QuadForm { a, b, c }
    }

    /// The prime form of norm `p` for a small prime `p` that splits (or ramifies):
    /// `(p, b, c)` with the smallest `b >= 0` such that `b² ≡ Δ (mod 4p)`, reduced.
    /// `None` if `Δ` is not a square modulo `4p`.
    pub fn prime_form(&self, p: u64) -> Option<QuadForm> {
        if !(2..=(1 << 24)).contains(&p) {
            return None;
        }
        let four_p = 4 * p;
        let dmod = fmod(&self.disc, &Mpz::from(four_p));
        let dmod = Option::<u64>::from(&dmod)?;
        let b = (0..2 * p).find(|b| (b * b) % four_p == dmod)?;
        let b = Mpz::from(b);
        let c = &(&(&b * &b) - &self.disc) / &Mpz::from(four_p);
        let mut f = QuadForm {
            a: Mpz::from(p),
            b,
            c,
        };
        if f.a.gcd(&f.b).gcd(&f.c) != Mpz::one() {
            return None;
        }
        reduce(&mut f);
        Some(f)
    }
}

/// Whether `f` is reduced: `|b| <= a <= c`, and `b >= 0` if `|b| = a` or `a = c`.
fn is_reduced(f: &QuadForm) -> bool {
    let babs = f.b.abs();
    if babs > f.a || f.a > f.c {
        return false;
    }
    if (babs == f.a || f.a == f.c) && is_neg(&f.b) {
        return false;
    }
    true
}

/// Normalise: bring `b` into `(-a, a]` by `x -> x + r·y` (Cohen §5.4).
fn normalize(f: &mut QuadForm) {
    let in_range = if is_neg(&f.b) { -&f.b < f.a } else { f.b <= f.a };
    if in_range {
        return;
    }
    // r = floor((a - b) / 2a); b' = b + 2ar; c' = a r² + b r + c.
    let two_a = &f.a << 1;
    let r = (&f.a - &f.b).div_floor(&two_a);
    let ar = &f.a * &r;
    let t = &f.b + &ar;
    f.c += &(&r * &t);
    f.b += &(&ar << 1);
}

/// Reduce a positive definite form (Cohen Alg. 5.4.2).
fn reduce(f: &mut QuadForm) {
    normalize(f);
    while f.a > f.c {
        std::mem::swap(&mut f.a, &mut f.c);
        let b = std::mem::replace(&mut f.b, Mpz::new());
        f.b = -b;
        normalize(f);
    }
    if f.a == f.c && is_neg(&f.b) {
        let b = std::mem::replace(&mut f.b, Mpz::new());
        f.b = -b;
    }
}

#[cfg(test)]
mod tests;
