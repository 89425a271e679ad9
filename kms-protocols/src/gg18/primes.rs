//! Generation of the secret primes: Blum primes (p = 3 mod 4) for the Paillier modulus
//! and safe primes (p = 2p' + 1, p' prime) for the ring-Pedersen modulus.
//!
//! Candidates are sieved by small primes (for safe primes, both p' and 2p' + 1), then
//! tested with Miller-Rabin using bases drawn from the caller's RNG. All exponentiations
//! on candidates are constant-time (`mpz_powm_sec`): the accepted primes are secret.
//! Safe primes of 1024 bits take seconds to minutes, so callers get progress reports.

use super::bigint::{BigInt, Modulus};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

/// Miller-Rabin rounds with random bases for a secret candidate. The candidates are
/// random, not adversarial, so the error is far below 2^-128 at this size.
pub const MILLER_RABIN_ROUNDS: usize = 40;

/// Which kind of prime is being searched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrimeKind {
    /// p = 3 mod 4 (for a Paillier-Blum modulus).
    Blum,
    /// p = 2p' + 1 with p' prime (for a ring-Pedersen modulus).
    Safe,
}

/// A progress report of prime generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The kind of prime being searched for.
    pub kind: PrimeKind,
    /// Primes of all kinds found so far in this generation.
    pub found: usize,
    /// Primes of all kinds needed in this generation.
    pub needed: usize,
    /// Candidates that passed the sieve and were tested for the current prime.
    pub candidates_tested: u64,
}

/// Receives progress reports (roughly every 64 tested candidates and at each prime).
pub type ProgressFn<'a> = &'a mut dyn FnMut(Progress);

/// Odd primes below 2^13 used for sieving.
fn small_primes() -> Vec<u64> {
    const LIMIT: usize = 8192;
    let mut composite = vec![false; LIMIT];
    let mut out = Vec::new();
    for i in 3..LIMIT {
        if !composite[i] {
            out.push(i as u64);
            let mut j = i * i;
            while j < LIMIT {
                composite[j] = true;
                j += i;
            }
        }
    }
    out
}

/// Miller-Rabin with `rounds` random bases; `n` must be odd and > 3.
pub fn miller_rabin<R: RngCore + CryptoRng>(rng: &mut R, n: &BigInt, rounds: usize) -> bool {
    let Some(m) = Modulus::new(n.clone()) else {
        return false;
    };
    if *n <= BigInt::from_u64(3) {
        return *n == BigInt::from_u64(3);
    }
    let n_minus_1 = n - &BigInt::one();
    let mut s = 0usize;
    while !n_minus_1.bit(s) {
        s += 1;
    }
    let d = match n_minus_1.div_floor(&BigInt::pow2(s)) {
        Some(d) => d,
        None => return false,
    };
    let range = n - &BigInt::from_u64(3);
    'rounds: for _ in 0..rounds {
        let a = BigInt::random_below(rng, &range) + BigInt::from_u64(2);
        let Some(mut x) = m.pow_sec(&a, &d) else {
            return false;
        };
        if x == BigInt::one() || x == n_minus_1 {
            continue;
        }
        for _ in 1..s {
            x = m.mul(&x, &x);
            if x == n_minus_1 {
                continue 'rounds;
            }
            if x == BigInt::one() {
                return false;
            }
        }
        return false;
    }
    true
}

/// A random prime of exactly `bits` bits (top two bits set, so a product of two has
/// exactly `2 * bits` bits) with p = 3 mod 4.
pub fn blum_prime<R: RngCore + CryptoRng>(
    rng: &mut R,
    bits: usize,
    progress: ProgressFn<'_>,
    found: usize,
    needed: usize,
) -> BigInt {
    search(rng, bits, PrimeKind::Blum, progress, found, needed)
}

/// A random safe prime p = 2p' + 1 of exactly `bits` bits (top two bits set), p' prime.
/// Also p = 3 mod 4 (as p' is odd).
pub fn safe_prime<R: RngCore + CryptoRng>(
    rng: &mut R,
    bits: usize,
    progress: ProgressFn<'_>,
    found: usize,
    needed: usize,
) -> BigInt {
    search(rng, bits, PrimeKind::Safe, progress, found, needed)
}

fn search<R: RngCore + CryptoRng>(
    rng: &mut R,
    bits: usize,
    kind: PrimeKind,
    progress: ProgressFn<'_>,
    found: usize,
    needed: usize,
) -> BigInt {
    let sieve = small_primes();
    let mut tested = 0u64;
    loop {
        // Random start with the top two bits set and p = 3 mod 4; walk p by 4 so both
        // properties hold, re-drawing before the walk could leave the bit length.
        let mut start = BigInt::random_bits(rng, bits);
        start = start.clone() + BigInt::pow2(bits - 1);
        if !start.bit(bits - 2) {
            start = start + BigInt::pow2(bits - 2);
        }
        let low = start.rem_u64(4);
        start = start + BigInt::from_u64((3 + 4 - low) % 4);
        let mut rems: Vec<u64> = sieve.iter().map(|&s| start.rem_u64(s)).collect();
        let mut offset = 0u64;
        while offset < (1 << 20) {
            let passes = sieve.iter().zip(&rems).all(|(&s, &r)| {
                let r = (r + offset) % s;
                match kind {
                    PrimeKind::Blum => r != 0,
                    // p' = (p - 1) / 2 is divisible by s iff p = 1 mod s.
                    PrimeKind::Safe => r != 0 && r != 1,
                }
            });
            if passes {
                let mut cand = &start + &BigInt::from_u64(offset);
                if cand.bits() != bits {
                    cand.zeroize();
                    break;
                }
                tested += 1;
                if tested.is_multiple_of(64) {
                    progress(Progress {
                        kind,
                        found,
                        needed,
                        candidates_tested: tested,
                    });
                }
                if is_kind(rng, &cand, kind) {
                    progress(Progress {
                        kind,
                        found: found + 1,
                        needed,
                        candidates_tested: tested,
                    });
                    start.zeroize();
                    rems.zeroize();
                    return cand;
                }
                cand.zeroize();
            }
            offset += 4;
        }
        start.zeroize();
        rems.zeroize();
    }
}

fn is_kind<R: RngCore + CryptoRng>(rng: &mut R, p: &BigInt, kind: PrimeKind) -> bool {
    let Some(m) = Modulus::new(p.clone()) else {
        return false;
    };
    let p_minus_1 = p - &BigInt::one();
    // Fermat base 2 first: cheap, and rejects almost every composite.
    if m.pow_sec(&BigInt::from_u64(2), &p_minus_1) != Some(BigInt::one()) {
        return false;
    }
    match kind {
        PrimeKind::Blum => miller_rabin(rng, p, MILLER_RABIN_ROUNDS),
        PrimeKind::Safe => {
            // With p' prime, 2^(p-1) = 1 mod p and gcd(2^2 - 1, p) = 1 prove p prime
            // (Pocklington), so only p' needs Miller-Rabin.
            let Some(pp) = p_minus_1.div_floor(&BigInt::from_u64(2)) else {
                return false;
            };
            miller_rabin(rng, &pp, MILLER_RABIN_ROUNDS)
        }
    }
}

/// Whether `p` is a safe prime, for checking fixtures and caller-supplied primes.
pub fn is_safe_prime<R: RngCore + CryptoRng>(rng: &mut R, p: &BigInt) -> bool {
    p.rem_u64(4) == 3 && p.bits() > 3 && is_kind(rng, p, PrimeKind::Safe)
}

/// Whether `p` is a prime = 3 mod 4, for checking fixtures and caller-supplied primes.
pub fn is_blum_prime<R: RngCore + CryptoRng>(rng: &mut R, p: &BigInt) -> bool {
    p.rem_u64(4) == 3 && p.bits() > 2 && is_kind(rng, p, PrimeKind::Blum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn miller_rabin_known_values() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        // 2^127 - 1 is prime; 561 and 2^127 + 1 are not (561 is a Carmichael number).
        let m127 = BigInt::pow2(127) - BigInt::one();
        assert!(miller_rabin(&mut rng, &m127, 20));
        assert!(!miller_rabin(&mut rng, &BigInt::from_u64(561), 20));
        assert!(!miller_rabin(&mut rng, &(BigInt::pow2(127) + BigInt::one()), 20));
    }

    #[test]
    fn small_safe_and_blum_primes_with_progress() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let mut reports = Vec::new();
        let p = safe_prime(&mut rng, 256, &mut |pr| reports.push(pr), 0, 2);
        let q = blum_prime(&mut rng, 256, &mut |pr| reports.push(pr), 1, 2);
        assert_eq!(p.bits(), 256);
        assert_eq!(q.bits(), 256);
        assert!(is_safe_prime(&mut rng, &p));
        assert!(is_blum_prime(&mut rng, &q));
        assert_eq!(reports.last().map(|r| r.found), Some(2));
        assert!(reports.iter().any(|r| r.kind == PrimeKind::Safe));
    }
}
