//! Big-integer backend comparison for the GG18 Paillier layer (see docs/bigint.md).
//!
//! The operations that dominate GG18 with 2048-bit Paillier:
//! - `r^N mod N^2`: a 4096-bit modulus with a 2048-bit exponent (encryption, proofs);
//! - CRT decryption: two 2048-bit moduli (p^2, q^2) with 1024-bit secret exponents;
//! - ring-Pedersen commitments: a 2048-bit modulus with a 2048-bit exponent.
//!
//! Operands are random odd numbers of the right sizes: modexp timing does not depend on
//! whether the modulus is a product of primes.

use criterion::{criterion_group, criterion_main, Criterion};
use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Encoding, U2048, U4096};
use gmp::mpz::Mpz;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

fn random_bytes(rng: &mut ChaCha20Rng, bits: usize, odd: bool) -> Vec<u8> {
    let mut b = vec![0u8; bits / 8];
    rng.fill_bytes(&mut b);
    b[0] |= 0x80;
    if odd {
        let last = b.len() - 1;
        b[last] |= 1;
    }
    b
}

fn left_pad<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out[N - b.len()..].copy_from_slice(b);
    out
}

struct Case {
    name: &'static str,
    modulus: Vec<u8>,
    base: Vec<u8>,
    exp: Vec<u8>,
}

fn cases(rng: &mut ChaCha20Rng) -> Vec<Case> {
    vec![
        Case {
            name: "4096-bit mod, 2048-bit exp (r^N mod N^2)",
            modulus: random_bytes(rng, 4096, true),
            base: random_bytes(rng, 4088, false),
            exp: random_bytes(rng, 2048, false),
        },
        Case {
            name: "2048-bit mod, 2048-bit exp (ring-Pedersen)",
            modulus: random_bytes(rng, 2048, true),
            base: random_bytes(rng, 2040, false),
            exp: random_bytes(rng, 2048, false),
        },
        Case {
            name: "2048-bit mod, 1024-bit exp (CRT half of decryption)",
            modulus: random_bytes(rng, 2048, true),
            base: random_bytes(rng, 2040, false),
            exp: random_bytes(rng, 1024, false),
        },
    ]
}

fn bench_modexp(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for case in cases(&mut rng) {
        let mut g = c.benchmark_group(case.name);
        g.sample_size(10);
        let (m, b, e) = (
            Mpz::from(&case.modulus[..]),
            Mpz::from(&case.base[..]),
            Mpz::from(&case.exp[..]),
        );
        g.bench_function("gmp mpz_powm", |bch| bch.iter(|| b.powm(&e, &m)));
        g.bench_function("gmp mpz_powm_sec", |bch| bch.iter(|| b.powm_sec(&e, &m)));

        let (nm, nb, ne) = (
            num_bigint::BigUint::from_bytes_be(&case.modulus),
            num_bigint::BigUint::from_bytes_be(&case.base),
            num_bigint::BigUint::from_bytes_be(&case.exp),
        );
        g.bench_function("num-bigint modpow", |bch| bch.iter(|| nb.modpow(&ne, &nm)));

        let exp_bits = case.exp.len() * 8;
        if case.modulus.len() == 512 {
            let params = DynResidueParams::new(&U4096::from_be_bytes(left_pad(&case.modulus)));
            let base = DynResidue::new(&U4096::from_be_bytes(left_pad(&case.base)), params);
            let exp = U4096::from_be_bytes(left_pad(&case.exp));
            g.bench_function("crypto-bigint 0.5 (constant-time)", |bch| {
                bch.iter(|| base.pow_bounded_exp(&exp, exp_bits))
            });
        } else {
            let params = DynResidueParams::new(&U2048::from_be_bytes(left_pad(&case.modulus)));
            let base = DynResidue::new(&U2048::from_be_bytes(left_pad(&case.base)), params);
            let exp = U2048::from_be_bytes(left_pad(&case.exp));
            g.bench_function("crypto-bigint 0.5 (constant-time)", |bch| {
                bch.iter(|| base.pow_bounded_exp(&exp, exp_bits))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_modexp);
criterion_main!(benches);
