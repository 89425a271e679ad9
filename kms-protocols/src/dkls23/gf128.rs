//! GF(2^128) = GF(2)[X] / (X^128 + X^7 + X^2 + X + 1), for the OT-extension check.
//!
//! Elements are `u128` with bit i the coefficient of X^i. Products are accumulated
//! unreduced (256 bits) and reduced once, since reduction is linear. The left operand
//! of [`Wide::mul_acc`] must be public (it drives table indices); the right one may be
//! secret (the table is built from it and read at public positions only).

/// An unreduced sum of products (up to 255 bits).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Wide {
    lo: u128,
    hi: u128,
}

impl Wide {
    /// `self += public * secret` (carry-less).
    pub(crate) fn mul_acc(&mut self, public: u128, secret: u128) {
        // table[n] = secret * n for the 16 polynomials n of degree < 4.
        let mut table = [(0u128, 0u128); 16];
        table[1] = (secret, 0);
        for n in 1..8 {
            let (lo, hi) = table[n];
            table[2 * n] = (lo << 1, (hi << 1) | (lo >> 127));
            table[2 * n + 1] = (table[2 * n].0 ^ secret, table[2 * n].1);
        }
        let (mut lo, mut hi) = (0u128, 0u128);
        for nib in (0..32).rev() {
            hi = (hi << 4) | (lo >> 124);
            lo <<= 4;
            let (tl, th) = table[((public >> (4 * nib)) & 15) as usize];
            lo ^= tl;
            hi ^= th;
        }
        self.lo ^= lo;
        self.hi ^= hi;
    }

    /// Reduce modulo X^128 + X^7 + X^2 + X + 1.
    pub(crate) fn reduce(self) -> u128 {
        // X^128 = X^7 + X^2 + X + 1: fold the high half, then the few bits that overflow.
        let h = self.hi;
        let folded = h ^ (h << 1) ^ (h << 2) ^ (h << 7);
        let over = (h >> 127) ^ (h >> 126) ^ (h >> 121);
        self.lo ^ folded ^ over ^ (over << 1) ^ (over << 2) ^ (over << 7)
    }
}

/// `a * b` reduced (a public).
#[cfg(test)]
pub(crate) fn mul(a: u128, b: u128) -> u128 {
    let mut w = Wide::default();
    w.mul_acc(a, b);
    w.reduce()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bit-by-bit reference multiplication, reducing as it goes.
    fn naive(mut a: u128, mut b: u128) -> u128 {
        let mut r = 0u128;
        while a != 0 {
            if a & 1 == 1 {
                r ^= b;
            }
            a >>= 1;
            let carry = b >> 127;
            b <<= 1;
            if carry == 1 {
                b ^= 0x87;
            }
        }
        r
    }

    #[test]
    fn matches_reference_and_field_laws() {
        let mut x: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        let mut next = || {
            // xorshift, deterministic
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        assert_eq!(mul(1 << 127, 2), 0x87);
        for _ in 0..200 {
            let (a, b, c) = (next(), next(), next());
            assert_eq!(mul(a, b), naive(a, b));
            assert_eq!(mul(a, b), mul(b, a));
            assert_eq!(mul(a, b ^ c), mul(a, b) ^ mul(a, c));
            assert_eq!(mul(mul(a, b), c), mul(a, mul(b, c)));
            let mut w = Wide::default();
            w.mul_acc(a, b);
            w.mul_acc(c, b);
            assert_eq!(w.reduce(), mul(a ^ c, b));
        }
    }
}
