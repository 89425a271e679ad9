//! GG18 at (2,3): DKG with cached aux material, and signing by two holders. All runs
//! are driven in-process (one thread plays every party), so a figure is the total
//! computation of all parties of the run.
//!
//! Signing is measured inline (every step computed during the run) and with each
//! signer's precomputed randomness taken from a `Gg18Precomputed` pool filled beforehand
//! (not timed; "precompute for one signing" times one party's fill).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use kms_protocols::gg18::aux_info::{AuxSecret, PeerAux};
use kms_protocols::gg18::bigint::BigInt;
use kms_protocols::gg18::{start_dkg, start_sign_with, Gg18KeyShare, Gg18Precomputed};
use kms_protocols::message::Recipient;
use kms_protocols::{Envelope, PartyIndex, SessionId, StateMachine, Threshold};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, VecDeque};

type Aux = Vec<(AuxSecret, BTreeMap<PartyIndex, PeerAux>)>;

fn p(i: u16) -> PartyIndex {
    PartyIndex::new(i).expect("non-zero")
}

/// Aux material from the test fixture primes, with every proof made and verified.
fn fixture_aux(n: u16) -> Aux {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../kms-protocols/tests/data/gg18_fixtures.json"))
            .expect("fixtures");
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let hex = |v: &serde_json::Value| BigInt::from_hex(v.as_str().expect("hex")).expect("hex");
    let secrets: Vec<AuxSecret> = json["parties"].as_array().expect("parties")[..usize::from(n)]
        .iter()
        .map(|f| {
            AuxSecret::from_primes(
                &mut rng,
                hex(&f["paillier_p"]),
                hex(&f["paillier_q"]),
                hex(&f["rp_p"]),
                hex(&f["rp_q"]),
            )
            .expect("fixture primes")
        })
        .collect();
    let ctx = |i: PartyIndex| format!("bench-node-{}", i.get()).into_bytes();
    let publics: Vec<_> = (0..n)
        .map(|k| {
            secrets[usize::from(k)]
                .prove(&mut rng, &ctx(p(k + 1)), p(k + 1))
                .expect("proofs")
        })
        .collect();
    (0..n)
        .map(|k| {
            let me = p(k + 1);
            let mut peers = BTreeMap::new();
            for l in (0..n).filter(|l| *l != k) {
                let peer = p(l + 1);
                let verified = publics[usize::from(l)]
                    .verify(&ctx(peer), peer)
                    .expect("verifies");
                let ours = publics[usize::from(k)].verify(&ctx(me), me).expect("verifies");
                let fac = secrets[usize::from(l)]
                    .prove_no_small_factor(&mut rng, &ctx(peer), peer, &ours)
                    .expect("fac");
                let accepted = verified
                    .accept_no_small_factor(&ctx(peer), &fac, &secrets[usize::from(k)])
                    .expect("fac verifies");
                peers.insert(peer, accepted);
            }
            (secrets[usize::from(k)].clone(), peers)
        })
        .collect()
}

fn drive<S: StateMachine>(
    mut runs: BTreeMap<PartyIndex, S>,
    first: Vec<Envelope>,
    rng: &mut ChaCha20Rng,
) -> BTreeMap<PartyIndex, S::Output> {
    let mut queue: VecDeque<Envelope> = first.into();
    let mut out = BTreeMap::new();
    while let Some(env) = queue.pop_front() {
        let to: Vec<PartyIndex> = match env.recipient {
            Recipient::All => runs.keys().copied().filter(|q| *q != env.sender).collect(),
            Recipient::One(q) => vec![q],
        };
        for q in to {
            let step = runs
                .get_mut(&q)
                .expect("party")
                .handle(env.clone(), rng)
                .expect("honest run");
            queue.extend(step.outgoing);
            if let Some(o) = step.output {
                out.insert(q, o);
            }
        }
    }
    out
}

fn dkg(aux: &Aux, seed: u64) -> BTreeMap<PartyIndex, Gg18KeyShare> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let th = Threshold::new(2, 3).expect("2 of 3");
    let session = SessionId::random(&mut rng);
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for (k, (s, peers)) in aux.iter().enumerate() {
        let me = p(k as u16 + 1);
        let (r, m) = start_dkg(session, th, me, s.clone(), peers.clone(), &mut rng).expect("start");
        runs.insert(me, r);
        first.extend(m);
    }
    drive(runs, first, &mut rng)
}

fn bench(c: &mut Criterion) {
    let aux = fixture_aux(3);
    let mut g = c.benchmark_group("gg18 (2,3)");
    g.sample_size(10);
    g.bench_function("dkg, aux cached", |b| b.iter(|| dkg(&aux, 7)));
    let shares = dkg(&aux, 8);
    let signers = [p(1), p(2)];
    let sign = |seed: u64, pools: &mut BTreeMap<PartyIndex, Gg18Precomputed>| {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let session = SessionId::random(&mut rng);
        let mut runs = BTreeMap::new();
        let mut first = Vec::new();
        for s in &signers {
            let (r, m) = start_sign_with(
                session,
                &shares[s],
                &signers,
                [0x5a; 32],
                pools.get_mut(s),
                &mut rng,
            )
            .expect("start");
            runs.insert(*s, r);
            first.extend(m);
        }
        drive(runs, first, &mut rng)
    };
    let fill = |seed: u64| {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        signers
            .iter()
            .map(|s| {
                let mut pool = Gg18Precomputed::new(&shares[s]);
                let peers: Vec<PartyIndex> = signers.iter().copied().filter(|q| q != s).collect();
                pool.fill(&shares[s], &peers, 1, &mut rng).expect("fill");
                (*s, pool)
            })
            .collect::<BTreeMap<_, _>>()
    };
    let mut seed = 0u64;
    g.bench_function("signing (inline), 2 signers", |b| {
        b.iter(|| {
            seed += 1;
            sign(seed, &mut BTreeMap::new())
        })
    });
    g.bench_function("signing (with precomputed randomness), 2 signers", |b| {
        b.iter_batched(
            || {
                seed += 1;
                (seed, fill(seed + 1_000_000))
            },
            |(seed, mut pools)| sign(seed, &mut pools),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("precompute for one signing, one party", |b| {
        let mut rng = ChaCha20Rng::seed_from_u64(99);
        let me = signers[0];
        b.iter(|| {
            let mut pool = Gg18Precomputed::new(&shares[&me]);
            pool.fill(&shares[&me], &signers[1..], 1, &mut rng).expect("fill");
            pool
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
