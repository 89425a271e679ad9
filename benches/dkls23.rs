//! DKLS23 at (2,3): key generation with the pairwise setup, and signing by two holders
//! (three rounds, and presignature + online round). All parties run in-process on one
//! thread, so a figure is the total computation of every party of the run. The bytes
//! each signer sends per signing are printed once.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use kms_protocols::dkls23::{start_dkg, start_presign, start_sign, start_sign_with, Dkls23KeyShare};
use kms_protocols::message::Recipient;
use kms_protocols::{Envelope, PartyIndex, SessionId, StateMachine, Threshold};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, VecDeque};

fn p(i: u16) -> PartyIndex {
    PartyIndex::new(i).expect("non-zero")
}

/// Deliver every message; `sent` counts the encoded bytes each party sends (a
/// broadcast counts once per recipient, as a relay carries it).
fn drive<S: StateMachine>(
    mut runs: BTreeMap<PartyIndex, S>,
    first: Vec<Envelope>,
    rng: &mut ChaCha20Rng,
    sent: &mut BTreeMap<PartyIndex, usize>,
) -> BTreeMap<PartyIndex, S::Output> {
    let mut queue: VecDeque<Envelope> = first.into();
    let mut out = BTreeMap::new();
    while let Some(env) = queue.pop_front() {
        let to: Vec<PartyIndex> = match env.recipient {
            Recipient::All => runs.keys().copied().filter(|q| *q != env.sender).collect(),
            Recipient::One(q) => vec![q],
        };
        for q in to {
            *sent.entry(env.sender).or_default() += env.to_bytes().len();
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

fn keygen(seed: u64) -> BTreeMap<PartyIndex, Dkls23KeyShare> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let th = Threshold::new(2, 3).expect("2 of 3");
    let session = SessionId::random(&mut rng);
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for me in PartyIndex::range(3) {
        let (r, m) = start_dkg(session, th, me, &mut rng).expect("start");
        runs.insert(me, r);
        first.extend(m);
    }
    drive(runs, first, &mut rng, &mut BTreeMap::new())
}

fn sign(
    shares: &BTreeMap<PartyIndex, Dkls23KeyShare>,
    rng: &mut ChaCha20Rng,
    sent: &mut BTreeMap<PartyIndex, usize>,
) {
    let signers = [p(1), p(2)];
    let session = SessionId::random(rng);
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for s in signers {
        let (r, m) = start_sign(session, &shares[&s], &signers, [7u8; 32], rng).expect("start");
        runs.insert(s, r);
        first.extend(m);
    }
    assert_eq!(drive(runs, first, rng, sent).len(), 2);
}

fn bench(c: &mut Criterion) {
    let shares = keygen(1);
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut sent = BTreeMap::new();
    sign(&shares, &mut rng, &mut sent);
    for (party, bytes) in &sent {
        println!("dkls23 (2,3) sign: {party} sends {bytes} bytes per signing");
    }

    let mut g = c.benchmark_group("dkls23 (2,3)");
    g.sample_size(10);
    g.bench_function("dkg with pairwise setup", |b| b.iter(|| keygen(3)));
    g.bench_function("sign 2 of 3", |b| {
        b.iter(|| sign(&shares, &mut rng, &mut BTreeMap::new()))
    });
    let signers = [p(1), p(2)];
    g.bench_function("online round with presignatures", |b| {
        b.iter_batched(
            || {
                let session = SessionId::random(&mut rng);
                let mut runs = BTreeMap::new();
                let mut first = Vec::new();
                for s in signers {
                    let (r, m) = start_presign(session, &shares[&s], &signers, &mut rng).expect("start");
                    runs.insert(s, r);
                    first.extend(m);
                }
                drive(runs, first, &mut rng, &mut BTreeMap::new())
            },
            |presigs| {
                let mut runs = BTreeMap::new();
                let mut first = Vec::new();
                for (s, ps) in presigs {
                    let (r, m) = start_sign_with(ps, [9u8; 32]).expect("start");
                    runs.insert(s, r);
                    first.extend(m);
                }
                let mut r2 = ChaCha20Rng::seed_from_u64(5);
                assert_eq!(drive(runs, first, &mut r2, &mut BTreeMap::new()).len(), 2);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
