//! Generates the GG18 test fixtures: for each of 4 parties two 1024-bit Blum primes
//! (Paillier, 2048-bit N) and two 1024-bit safe primes (ring-Pedersen, 2048-bit N~);
//! plus the primes for the crafted attack moduli of the soundness tests.
//!
//! Run once: `cargo run --release --example gg18_fixtures > kms-protocols/tests/data/gg18_fixtures.json`
//! The primes are from the OS RNG and are for tests only: never use them for real keys.

use kms_protocols::gg18::bigint::BigInt;
use kms_protocols::gg18::primes::{blum_prime, safe_prime, Progress};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use std::thread;

const PARTIES: usize = 4;

fn hex(v: &BigInt) -> String {
    format!("\"{}\"", v.to_hex())
}

fn main() {
    let report = |label: String| {
        move |p: Progress| {
            if p.candidates_tested.is_multiple_of(1024) || p.found == p.needed {
                eprintln!("{label}: {p:?}");
            }
        }
    };
    // Safe primes dominate: split them over two threads.
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let mut cb = report(format!("safe/{t}"));
            thread::spawn(move || {
                let mut rng = ChaCha20Rng::from_rng(OsRng).expect("os rng");
                let n = PARTIES; // 2 * PARTIES primes over 2 threads
                (0..n)
                    .map(|i| safe_prime(&mut rng, 1024, &mut cb, i, n))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut rng = ChaCha20Rng::from_rng(OsRng).expect("os rng");
    let mut cb = report("blum".into());
    let blum: Vec<BigInt> = (0..2 * PARTIES)
        .map(|i| blum_prime(&mut rng, 1024, &mut cb, i, 2 * PARTIES))
        .collect();
    // Crafted moduli: a 1024-bit prime = 1 mod 4 (non-Blum modulus), and a 1988-bit
    // Blum prime to pair with the Mersenne prime 2^61 - 1 (a Blum modulus of 2048 bits
    // with a small factor).
    let non_blum = loop {
        let c = BigInt::random_bits(&mut rng, 1024) + BigInt::pow2(1023) + BigInt::pow2(1022);
        let c = &(&c - &BigInt::from_u64(c.rem_u64(4))) + &BigInt::one();
        if c.bits() == 1024 && kms_protocols::gg18::primes::miller_rabin(&mut rng, &c, 40) {
            break c;
        }
    };
    let big = blum_prime(&mut rng, 1988, &mut cb, 0, 1);
    let safe: Vec<BigInt> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    println!("{{");
    println!("  \"note\": \"Test-only primes from examples/gg18_fixtures.rs (OS RNG, GMP). Never use for real keys.\",");
    println!("  \"parties\": [");
    for i in 0..PARTIES {
        let comma = if i + 1 < PARTIES { "," } else { "" };
        println!(
            "    {{\"paillier_p\": {}, \"paillier_q\": {}, \"rp_p\": {}, \"rp_q\": {}}}{comma}",
            hex(&blum[2 * i]),
            hex(&blum[2 * i + 1]),
            hex(&safe[2 * i]),
            hex(&safe[2 * i + 1])
        );
    }
    println!("  ],");
    println!(
        "  \"small_factor_p\": {},",
        hex(&(BigInt::pow2(61) - BigInt::one()))
    );
    println!("  \"small_factor_q\": {},", hex(&big));
    println!("  \"non_blum_p\": {}", hex(&non_blum));
    println!("}}");
}
