//! GG18 arithmetic layer benches: aux verification (once per peer) and one MtA / MtAwc
//! round trip with all proofs on, at 2048-bit Paillier and ring-Pedersen moduli.
//!
//! Aux *generation* (safe primes) is too slow and too variable to sample repeatedly: it
//! is timed once and printed when `GG18_TIME_AUX_GENERATION=1` is set.

use criterion::{criterion_group, criterion_main, Criterion};
use k256::elliptic_curve::Field;
use k256::{ProjectivePoint, Scalar};
use kms_protocols::gg18::aux_info::{AuxPublic, AuxSecret, PeerAux};
use kms_protocols::gg18::bigint::BigInt;
use kms_protocols::gg18::mta::{
    alice_finish, alice_start, alice_start_with, bob_check_alice, bob_respond, AliceEncryption, BobNonces,
    MtaContext,
};
use kms_protocols::gg18::zk::mta_range::AliceProofPrecomputation;
use kms_protocols::{PartyIndex, SessionId};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::time::Instant;

fn node(rng: &mut ChaCha20Rng, i: usize) -> (AuxSecret, AuxPublic) {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../kms-protocols/tests/data/gg18_fixtures.json"))
            .expect("fixtures");
    let get = |k: &str| BigInt::from_hex(v["parties"][i][k].as_str().expect("hex")).expect("hex");
    let sec = AuxSecret::from_primes(
        rng,
        get("paillier_p"),
        get("paillier_q"),
        get("rp_p"),
        get("rp_q"),
    )
    .expect("fixture primes");
    let public = sec.prove(rng, &ctx_bytes(i), party(i)).expect("prove aux");
    (sec, public)
}

fn party(i: usize) -> PartyIndex {
    PartyIndex::new(i as u16 + 1).expect("non-zero")
}

fn ctx_bytes(i: usize) -> Vec<u8> {
    format!("bench/node-{i}").into_bytes()
}

fn peer(rng: &mut ChaCha20Rng, nodes: &[(AuxSecret, AuxPublic)], v: usize, p: usize) -> PeerAux {
    let seen = nodes[v].1.verify(&ctx_bytes(v), party(v)).expect("aux");
    let fac = nodes[p]
        .0
        .prove_no_small_factor(rng, &ctx_bytes(p), party(p), &seen)
        .expect("fac");
    nodes[p]
        .1
        .verify(&ctx_bytes(p), party(p))
        .expect("aux")
        .accept_no_small_factor(&ctx_bytes(p), &fac, &nodes[v].0)
        .expect("fac")
}

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    if std::env::var("GG18_TIME_AUX_GENERATION").is_ok() {
        let t = Instant::now();
        let mut reports = 0u64;
        let sec = AuxSecret::generate(&mut rng, &mut |_| reports += 1);
        let generated = t.elapsed();
        let t = Instant::now();
        let _public = sec.prove(&mut rng, b"bench/fresh", party(0)).expect("prove");
        eprintln!(
            "aux generation (2 Blum + 2 safe 1024-bit primes): {generated:?} ({reports} progress reports); Πmod+Πprm proving: {:?}",
            t.elapsed()
        );
    }
    let t = Instant::now();
    let nodes: Vec<_> = (0..2).map(|i| node(&mut rng, i)).collect();
    eprintln!(
        "aux from fixture primes + Πmod/Πprm proofs, 2 nodes: {:?}",
        t.elapsed()
    );

    let mut g = c.benchmark_group("gg18 aux");
    g.sample_size(10);
    g.bench_function("verify AuxPublic (sizes, Πmod, Πprm)", |b| {
        b.iter(|| nodes[1].1.verify(&ctx_bytes(1), party(1)).expect("aux"))
    });
    let seen = nodes[0].1.verify(&ctx_bytes(0), party(0)).expect("aux");
    g.bench_function("prove Πfac for one verifier", |b| {
        b.iter(|| {
            nodes[1]
                .0
                .prove_no_small_factor(&mut rng.clone(), &ctx_bytes(1), party(1), &seen)
                .expect("fac")
        })
    });
    let fac = nodes[1]
        .0
        .prove_no_small_factor(&mut rng, &ctx_bytes(1), party(1), &seen)
        .expect("fac");
    let pending = nodes[1].1.verify(&ctx_bytes(1), party(1)).expect("aux");
    g.bench_function("verify Πfac", |b| {
        b.iter(|| {
            pending
                .clone()
                .accept_no_small_factor(&ctx_bytes(1), &fac, &nodes[0].0)
                .expect("fac")
        })
    });
    g.finish();

    // Alice = node 0, Bob = node 1.
    let bob_seen_by_alice = peer(&mut rng, &nodes, 0, 1);
    let alice_seen_by_bob = peer(&mut rng, &nodes, 1, 0);
    let a = Scalar::random(&mut rng);
    let b_scalar = Scalar::random(&mut rng);
    let b_point = ProjectivePoint::GENERATOR * b_scalar;
    let ctx = MtaContext {
        session: SessionId::derive(b"bench"),
        alice: party(0),
        bob: party(1),
        tag: b"k*w",
    };
    let mut g = c.benchmark_group("gg18 MtA (2048-bit Paillier, proofs on)");
    g.sample_size(10);
    g.bench_function("Alice: encrypt a (CRT)", |bch| {
        bch.iter(|| AliceEncryption::new(&mut rng, &nodes[0].0, &a))
    });
    let enc = AliceEncryption::new(&mut rng, &nodes[0].0, &a);
    g.bench_function("Alice: range proof", |bch| {
        bch.iter(|| alice_start(&mut rng, &ctx, &nodes[0].0, &enc, &bob_seen_by_alice))
    });
    g.bench_function(
        "Alice: range proof precomputation (off the critical path)",
        |bch| {
            bch.iter(|| {
                AliceProofPrecomputation::new(
                    &mut rng,
                    nodes[0].0.paillier(),
                    bob_seen_by_alice.ring_pedersen(),
                )
            })
        },
    );
    g.bench_function("Alice: range proof, precomputed (online part)", |bch| {
        bch.iter_batched(
            || {
                AliceProofPrecomputation::new(
                    &mut rng.clone(),
                    nodes[0].0.paillier(),
                    bob_seen_by_alice.ring_pedersen(),
                )
            },
            |pre| alice_start_with(&ctx, &nodes[0].0, &enc, &bob_seen_by_alice, pre),
            criterion::BatchSize::PerIteration,
        )
    });
    let msg = alice_start(&mut rng, &ctx, &nodes[0].0, &enc, &bob_seen_by_alice);
    g.bench_function("Bob: check Alice's range proof (once per ciphertext)", |bch| {
        bch.iter(|| bob_check_alice(&ctx, &nodes[1].0, &alice_seen_by_bob, &msg).expect("ok"))
    });
    g.bench_function("Bob: precompute nonces (off the critical path)", |bch| {
        bch.iter(|| BobNonces::precompute(&mut rng, &alice_seen_by_bob))
    });
    for (name, check) in [("MtA", false), ("MtAwc", true)] {
        g.bench_function(
            format!("Bob: verify + respond ({name}, nonces precomputed)"),
            |bch| {
                bch.iter_batched(
                    || BobNonces::precompute(&mut rng.clone(), &alice_seen_by_bob),
                    |nonces| {
                        bob_respond(
                            &ctx,
                            &nodes[1].0,
                            &alice_seen_by_bob,
                            &msg,
                            &b_scalar,
                            nonces,
                            check,
                        )
                        .expect("respond")
                    },
                    criterion::BatchSize::PerIteration,
                )
            },
        );
        let nonces = BobNonces::precompute(&mut rng, &alice_seen_by_bob);
        let (reply, _beta) = bob_respond(
            &ctx,
            &nodes[1].0,
            &alice_seen_by_bob,
            &msg,
            &b_scalar,
            nonces,
            check,
        )
        .expect("respond");
        let bp = check.then_some(&b_point);
        g.bench_function(format!("Alice: verify + decrypt ({name})"), |bch| {
            bch.iter(|| alice_finish(&ctx, &nodes[0].0, &msg.ciphertext, &reply, bp).expect("ok"))
        });
    }
    g.bench_function("full MtAwc round trip (all steps, nonces included)", |bch| {
        bch.iter(|| {
            let enc = AliceEncryption::new(&mut rng, &nodes[0].0, &a);
            let msg = alice_start(&mut rng, &ctx, &nodes[0].0, &enc, &bob_seen_by_alice);
            let nonces = BobNonces::precompute(&mut rng, &alice_seen_by_bob);
            let (reply, _) = bob_respond(
                &ctx,
                &nodes[1].0,
                &alice_seen_by_bob,
                &msg,
                &b_scalar,
                nonces,
                true,
            )
            .expect("respond");
            alice_finish(&ctx, &nodes[0].0, &msg.ciphertext, &reply, Some(&b_point)).expect("ok")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
