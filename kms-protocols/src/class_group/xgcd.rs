//! The partial extended Euclidean algorithm that NUCOMP and NUDUPL spend most of their
//! time in, done Lehmer-style: the quotient sequence is computed on the leading 64 bits
//! of the operands and applied to the full numbers as one 2x2 matrix, so a run of about
//! 30 Euclidean steps costs eight multi-precision multiplications instead of thirty
//! divisions.
//!
//! The result is exactly that of the plain algorithm (the same quotients, the same stop):
//! a single-precision step is kept only when it is provably the step the full numbers
//! would take (the error bound below), and only while the full remainder is provably
//! still above the bound; otherwise one exact multi-precision step is done.
//!
//! Why the single-precision quotients are exact. Let `R2 = 2^h·x0 + p2`, `R1 = 2^h·y0 +
//! p1` with `0 <= p < 2^h`. The small sequence has remainders `a_i = s_i·x0 + t_i·y0`
//! and the full one `r_i = s_i·R2 + t_i·R1 = 2^h·a_i + e_i` with `e_i = s_i·p2 + t_i·p1`.
//! The cofactors `s_i`, `t_i` have opposite signs (Euclid's alternation), so `|e_i| <
//! 2^h·max(|s_i|, |t_i|)`, and likewise for `e_i - e_{i+1}` with the cofactor
//! differences. So the small quotient is the full one (`0 <= r_{i+1} < r_i`) whenever
//! `a_{i+1} >= max(|s_{i+1}|, |t_{i+1}|)` and `a_i - a_{i+1} >= max(|s_{i+1} - s_i|,
//! |t_{i+1} - t_i|)` (the conditions of Jebelean, "Improving the multiprecision
//! Euclidean algorithm", DISCO 1993, in a symmetric and slightly stricter form), and
//! `r_i > bound` whenever `a_i > floor(bound / 2^h) + max(|s_i|, |t_i|)`.

use gmp::mpz::Mpz;

/// The top bits of `x >> h` as a `u64` (`x >= 0` and `x >> h < 2^64`).
fn top_bits(x: &Mpz, h: usize, tmp: &mut Mpz) -> u64 {
    tmp.set(x);
    *tmp >>= h;
    Option::<u64>::from(&*tmp).unwrap_or(u64::MAX)
}

/// `out = x·cx + y·cy`.
fn lin(out: &mut Mpz, x: &Mpz, cx: i64, y: &Mpz, cy: i64, tmp: &mut Mpz) {
    out.set(x);
    *out *= cx;
    tmp.set(y);
    *tmp *= cy;
    *out += &*tmp;
}

/// One single-precision Lehmer pass on the leading words `(x, y)` of `(r2, r1)`, with
/// `lb` the leading word of the bound. Returns the matrix `(u2, v2, u1, v1)` with
/// `new r2 = u2·r2 + v2·r1`, `new r1 = u1·r2 + v1·r1`, or `None` if no step is provable.
fn lehmer_matrix(mut x: u64, mut y: u64, lb: u64) -> Option<(i64, i64, i64, i64)> {
    let (mut u2, mut v2, mut u1, mut v1) = (1i64, 0i64, 0i64, 1i64);
    let mut steps = 0u32;
    loop {
        if y == 0 {
            break;
        }
        // The full r_i (represented by y) must provably exceed the bound.
        let m = u1.unsigned_abs().max(v1.unsigned_abs());
        match y.checked_sub(m) {
            Some(rest) if rest > lb => {}
            _ => break,
        }
        let q = x / y;
        let r = x - q * y;
        let nu = i128::from(u2) - i128::from(q) * i128::from(u1);
        let nv = i128::from(v2) - i128::from(q) * i128::from(v1);
        let (Ok(nu), Ok(nv)) = (i64::try_from(nu), i64::try_from(nv)) else {
            break;
        };
        let need_r = nu.unsigned_abs().max(nv.unsigned_abs());
        let du = (i128::from(nu) - i128::from(u1)).unsigned_abs();
        let dv = (i128::from(nv) - i128::from(v1)).unsigned_abs();
        if u128::from(r) < u128::from(need_r) || u128::from(y - r) < du.max(dv) {
            break;
        }
        x = y;
        y = r;
        u2 = u1;
        v2 = v1;
        u1 = nu;
        v1 = nv;
        steps += 1;
    }
    (steps > 0).then_some((u2, v2, u1, v1))
}

/// Partial extended Euclid on `(r2, r1)`, `r2 > r1 >= 0`: the cofactors start at
/// `co2 = 0`, `co1 = -1` and follow `co_{i+1} = co_{i-1} - q·co_i`; it stops at the first
/// remainder `r1 <= bound` (or 0). Invariant used by NUCOMP: `r_i ≡ -co_i·r1_initial`
/// modulo `r2_initial`, with all `r_i >= 0`.
pub(super) fn partial_xgcd(r2: &mut Mpz, r1: &mut Mpz, co2: &mut Mpz, co1: &mut Mpz, bound: &Mpz) {
    *co2 = Mpz::zero();
    *co1 = Mpz::from(-1i64);
    let mut tmp = Mpz::new();
    let mut n2 = Mpz::new();
    let mut n1 = Mpz::new();
    let mut q = Mpz::new();
    while !r1.is_zero() && *r1 > *bound {
        let h = r2.bit_length().saturating_sub(64);
        let x = top_bits(r2, h, &mut tmp);
        let y = top_bits(r1, h, &mut tmp);
        let lb = top_bits(bound, h, &mut tmp);
        match lehmer_matrix(x, y, lb) {
            Some((u2, v2, u1, v1)) => {
                lin(&mut n2, r2, u2, r1, v2, &mut tmp);
                lin(&mut n1, r2, u1, r1, v1, &mut tmp);
                std::mem::swap(r2, &mut n2);
                std::mem::swap(r1, &mut n1);
                lin(&mut n2, co2, u2, co1, v2, &mut tmp);
                lin(&mut n1, co2, u1, co1, v1, &mut tmp);
                std::mem::swap(co2, &mut n2);
                std::mem::swap(co1, &mut n1);
                debug_assert!(*r1 >= Mpz::zero() && *r2 > *r1);
            }
            None => {
                // One exact step: (r2, r1) <- (r1, r2 mod r1).
                q.set(r2);
                q /= &*r1;
                tmp.set(&q);
                tmp *= &*r1;
                *r2 -= &tmp;
                std::mem::swap(r2, r1);
                tmp.set(&q);
                tmp *= &*co1;
                *co2 -= &tmp;
                std::mem::swap(co2, co1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gg18::bigint::BigInt;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// The textbook loop, one division per step.
    fn plain(mut r2: Mpz, mut r1: Mpz, bound: &Mpz) -> (Mpz, Mpz, Mpz, Mpz) {
        let mut co2 = Mpz::zero();
        let mut co1 = Mpz::from(-1i64);
        while !r1.is_zero() && r1 > *bound {
            let q = &r2 / &r1;
            let nr = &r2 - &(&q * &r1);
            let nc = &co2 - &(&q * &co1);
            r2 = std::mem::replace(&mut r1, nr);
            co2 = std::mem::replace(&mut co1, nc);
        }
        (r2, r1, co2, co1)
    }

    #[test]
    fn lehmer_matches_plain_euclid() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for bits in [40usize, 64, 65, 130, 600, 1200] {
            for _ in 0..20 {
                let a = BigInt::random_bits(&mut rng, bits) + BigInt::from_u64(3);
                let k = BigInt::random_below(&mut rng, &a);
                let bound = BigInt::random_bits(&mut rng, bits / 2);
                let (a, k, bound) = (a.as_mpz().clone(), k.as_mpz().clone(), bound.as_mpz().clone());
                let want = plain(a.clone(), k.clone(), &bound);
                let (mut r2, mut r1, mut co2, mut co1) = (a, k, Mpz::new(), Mpz::new());
                partial_xgcd(&mut r2, &mut r1, &mut co2, &mut co1, &bound);
                assert_eq!((r2, r1, co2, co1), want, "bits {bits}");
            }
        }
    }
}
