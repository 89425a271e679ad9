//! Exponentiation in the class group: left-to-right wNAF for one base, interleaved
//! wNAF (Straus) for two bases, and a signed fixed-window table for a fixed base.
//!
//! Inversion is free in a class group (negate `b`), which is why signed digits pay:
//! a width-`w` NAF has one non-zero digit per `w + 1` bits on average and needs only
//! the odd powers `g, g³, …, g^(2^(w-1) - 1)`.

use super::{ClassGroup, QuadForm};
use crate::gg18::bigint::BigInt;
use gmp::mpz::Mpz;
use zeroize::Zeroize;

/// The width-`w` NAF of `|e|`, least significant digit first: every non-zero digit is
/// odd and below `2^(w-1)` in absolute value, and any `w` consecutive digits hold at
/// most one non-zero.
fn wnaf(e: &BigInt, w: u32) -> Vec<i32> {
    let mut k = e.as_mpz().abs();
    let modulus = 1i64 << w;
    let half = 1i64 << (w - 1);
    let mask = Mpz::from((modulus - 1) as u64);
    let mut out = Vec::with_capacity(e.bits() + 1);
    while !k.is_zero() {
        if k.tstbit(0) {
            let low = Option::<u64>::from(&(&k & &mask)).unwrap_or(0) as i64;
            let d = if low >= half { low - modulus } else { low };
            if d >= 0 {
                k -= d as u64;
            } else {
                k += (-d) as u64;
            }
            out.push(d as i32);
        } else {
            out.push(0);
        }
        k >>= 1;
    }
    out
}

fn window_for(bits: usize) -> u32 {
    match bits {
        0..=64 => 3,
        65..=256 => 4,
        257..=700 => 5,
        _ => 6,
    }
}

/// `[g, g³, g⁵, …]`, `count` entries.
fn odd_powers(group: &ClassGroup, g: &QuadForm, count: usize) -> Vec<QuadForm> {
    let mut out = Vec::with_capacity(count);
    out.push(g.clone());
    if count > 1 {
        let g2 = group.square(g);
        for i in 1..count {
            let next = group.compose(&out[i - 1], &g2);
            out.push(next);
        }
    }
    out
}

fn apply_digit(
    group: &ClassGroup,
    acc: Option<QuadForm>,
    d: i32,
    pos: &[QuadForm],
    neg: &mut [Option<QuadForm>],
) -> Option<QuadForm> {
    if d == 0 {
        return acc;
    }
    let idx = (d.unsigned_abs() as usize - 1) / 2;
    let term = if d > 0 {
        &pos[idx]
    } else {
        if neg[idx].is_none() {
            neg[idx] = Some(group.inverse(&pos[idx]));
        }
        neg[idx].as_ref().unwrap_or(&pos[idx])
    };
    Some(match acc {
        None => term.clone(),
        Some(a) => group.compose(&a, term),
    })
}

impl ClassGroup {
    /// `f^e` for any integer `e` (negative means the inverse), by left-to-right wNAF.
    /// Variable time in `e`.
    pub fn pow(&self, f: &QuadForm, e: &BigInt) -> QuadForm {
        let base = if e.is_negative() {
            self.inverse(f)
        } else {
            f.clone()
        };
        let w = window_for(e.bits());
        let mut digits = wnaf(e, w);
        let pos = odd_powers(self, &base, 1 << (w - 2));
        let mut neg = vec![None; pos.len()];
        let mut acc: Option<QuadForm> = None;
        for &d in digits.iter().rev() {
            if let Some(a) = acc.as_ref() {
                acc = Some(self.square(a));
            }
            acc = apply_digit(self, acc, d, &pos, &mut neg);
        }
        // The digits spell the (possibly secret) exponent.
        digits.zeroize();
        acc.unwrap_or_else(|| self.identity())
    }

    /// `f^e · g^k` with shared squarings (Straus' interleaved wNAF): about the cost of
    /// one exponentiation by the longer exponent. For proof verification.
    pub fn pow2(&self, f: &QuadForm, e: &BigInt, g: &QuadForm, k: &BigInt) -> QuadForm {
        let fb = if e.is_negative() {
            self.inverse(f)
        } else {
            f.clone()
        };
        let gb = if k.is_negative() {
            self.inverse(g)
        } else {
            g.clone()
        };
        let w = window_for(e.bits().max(k.bits())).min(5);
        let mut de = wnaf(e, w);
        let mut dk = wnaf(k, w);
        let pf = odd_powers(self, &fb, 1 << (w - 2));
        let pg = odd_powers(self, &gb, 1 << (w - 2));
        let mut nf = vec![None; pf.len()];
        let mut ng = vec![None; pg.len()];
        let mut acc: Option<QuadForm> = None;
        for i in (0..de.len().max(dk.len())).rev() {
            if let Some(a) = acc.as_ref() {
                acc = Some(self.square(a));
            }
            acc = apply_digit(self, acc, de.get(i).copied().unwrap_or(0), &pf, &mut nf);
            acc = apply_digit(self, acc, dk.get(i).copied().unwrap_or(0), &pg, &mut ng);
        }
        de.zeroize();
        dk.zeroize();
        acc.unwrap_or_else(|| self.identity())
    }
}

/// Precomputed powers of one fixed base for fast `base^e` with `0 <= e < 2^max_bits`:
/// `table[i][j] = base^((j + 1)·2^(w·i))` for `j < 2^(w-1)`. With the signed radix-`2^w`
/// digits of `e`, `base^e` is one composition per window and no squaring: about
/// `max_bits / w` compositions instead of `max_bits · (1 + 1/(w+1))`.
#[derive(Clone, Debug)]
pub struct FixedBaseTable {
    w: u32,
    max_bits: usize,
    table: Vec<Vec<QuadForm>>,
}

impl FixedBaseTable {
    /// Default window width: 4 (eight forms per window; about 0.9 MB of forms for a
    /// 960-bit exponent bound at the 128-bit CL parameters).
    pub const DEFAULT_WINDOW: u32 = 4;

    /// Precompute for exponents below `2^max_bits`, window width `w` in `2..=8`.
    pub fn new(group: &ClassGroup, base: &QuadForm, max_bits: usize, w: u32) -> Self {
        let w = w.clamp(2, 8);
        // One extra window for the carry out of the top signed digit.
        let windows = max_bits.div_ceil(w as usize) + 1;
        let per = 1usize << (w - 1);
        let mut table = Vec::with_capacity(windows);
        let mut b = base.clone();
        for i in 0..windows {
            let mut row = Vec::with_capacity(per);
            row.push(b.clone());
            if per > 1 {
                row.push(group.square(&b));
                for j in 2..per {
                    let next = group.compose(&row[j - 1], &b);
                    row.push(next);
                }
            }
            if i + 1 < windows {
                // base^(2^(w(i+1))) = (row[per-1])², since row[per-1] = b^(2^(w-1)).
                b = group.square(&row[per - 1]);
            }
            table.push(row);
        }
        Self { w, max_bits, table }
    }

    /// The largest exponent size (bits) the table covers.
    pub fn max_bits(&self) -> usize {
        self.max_bits
    }

    /// `base^e`. Exponents outside `[0, 2^max_bits)` fall back to generic
    /// exponentiation of the base (correct, only slower).
    pub fn pow(&self, group: &ClassGroup, e: &BigInt) -> QuadForm {
        if e.is_negative() || e.bits() > self.max_bits {
            return group.pow(&self.table[0][0], e);
        }
        let w = self.w as usize;
        let radix = 1i64 << w;
        let half = 1i64 << (w - 1);
        let mut acc: Option<QuadForm> = None;
        let mut carry = 0i64;
        for (i, row) in self.table.iter().enumerate() {
            let mut raw = carry;
            for bit in 0..w {
                if e.as_mpz().tstbit(i * w + bit) {
                    raw += 1 << bit;
                }
            }
            // Signed digit in [-2^(w-1), 2^(w-1)].
            let d = if raw > half { raw - radix } else { raw };
            carry = i64::from(raw > half);
            if d == 0 {
                continue;
            }
            let idx = d.unsigned_abs() as usize - 1;
            let term = if d > 0 {
                row[idx].clone()
            } else {
                group.inverse(&row[idx])
            };
            acc = Some(match acc {
                None => term,
                Some(a) => group.compose(&a, &term),
            });
        }
        acc.unwrap_or_else(|| group.identity())
    }
}
