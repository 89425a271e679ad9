//! Class-group layer at the 128-bit CL-HSM parameters for secp256k1 (|Δ_K| = 1827
//! bits, |Δ| = 2339 bits): NUCOMP, NUDUPL, a 950-bit exponentiation, the generator's
//! fixed-base exponentiation, CL encryption and decryption.
//!
//! For scale on the reference machine (2-core AMD EPYC VM): the C++ BICYCL library
//! takes about 12.8 µs per NUCOMP, 11.5 µs per NUDUPL, 17.5 ms per 950-bit
//! exponentiation, 15-17 ms per encryption and 17-20 ms per decryption.

use criterion::{criterion_group, criterion_main, Criterion};
use kms_protocols::class_group::cl_hsm::ClParams;
use kms_protocols::gg18::bigint::BigInt;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let p = ClParams::secp256k1();
    let g = p.group();
    let x = p.h_pow(&p.random_exponent(&mut rng));
    let y = p.h_pow(&p.random_exponent(&mut rng));
    let e950 = BigInt::random_bits(&mut rng, 950) + BigInt::pow2(949);
    let (sk, pk) = p.keygen(&mut rng);
    let mut pk_pre = pk.clone();
    pk_pre.precompute(&p);
    let m = BigInt::random_below(&mut rng, p.q());
    let ct = p.encrypt(&pk, &m, &mut rng);
    let s = BigInt::random_below(&mut rng, p.q());

    let mut grp = c.benchmark_group("class_group");
    grp.bench_function("nucomp", |b| b.iter(|| g.compose(black_box(&x), black_box(&y))));
    grp.bench_function("nudupl", |b| b.iter(|| g.square(black_box(&x))));
    grp.bench_function("pow_950_bits", |b| {
        b.iter(|| g.pow(black_box(&x), black_box(&e950)))
    });
    grp.bench_function("h_pow_fixed_base_950_bits", |b| {
        b.iter(|| p.h_pow(black_box(&e950)))
    });
    grp.bench_function("encrypt", |b| b.iter(|| p.encrypt(&pk, black_box(&m), &mut rng)));
    grp.bench_function("encrypt_precomputed_key", |b| {
        b.iter(|| p.encrypt(&pk_pre, black_box(&m), &mut rng))
    });
    grp.bench_function("decrypt", |b| b.iter(|| p.decrypt(&sk, black_box(&ct))));
    grp.bench_function("scal_256_bits", |b| {
        b.iter(|| p.scal(black_box(&ct), black_box(&s)))
    });
    grp.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
