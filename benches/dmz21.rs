//! DMZ21 at (2,3): key generation (with every holder's CL key setup), the offline
//! rounds (presignature) and the online rounds, for two signers. All parties run
//! in-process on one thread, so a figure is the total computation of every party of
//! the run. The bytes each signer sends per signing are printed once.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use kms_protocols::class_group::cl_hsm::ClParams;
use kms_protocols::dmz21::{start_keygen, start_online, start_presign, Dmz21KeyShare, Presignature};
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

fn keygen(params: &ClParams, seed: u64) -> BTreeMap<PartyIndex, Dmz21KeyShare> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let th = Threshold::new(2, 3).expect("2 of 3");
    let session = SessionId::random(&mut rng);
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for me in PartyIndex::range(3) {
        let (r, m) = start_keygen(params, session, th, me, &mut rng).expect("start");
        runs.insert(me, r);
        first.extend(m);
    }
    drive(runs, first, &mut rng, &mut BTreeMap::new())
}

fn presign(
    params: &ClParams,
    shares: &BTreeMap<PartyIndex, Dmz21KeyShare>,
    rng: &mut ChaCha20Rng,
    sent: &mut BTreeMap<PartyIndex, usize>,
) -> BTreeMap<PartyIndex, Presignature> {
    let signers = [p(1), p(2)];
    let session = SessionId::random(rng);
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for s in signers {
        let (r, m) = start_presign(params, session, &shares[&s], &signers, rng).expect("start");
        runs.insert(s, r);
        first.extend(m);
    }
    drive(runs, first, rng, sent)
}

fn online(
    presigs: BTreeMap<PartyIndex, Presignature>,
    rng: &mut ChaCha20Rng,
    sent: &mut BTreeMap<PartyIndex, usize>,
) {
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for (s, ps) in presigs {
        let (r, m) = start_online(ps, [9u8; 32], rng).expect("start");
        runs.insert(s, r);
        first.extend(m);
    }
    assert_eq!(drive(runs, first, rng, sent).len(), 2);
}

/// CPU time of this thread so far, in milliseconds (utime + stime of
/// /proc/thread-self/stat, in clock ticks of 10 ms): on a loaded machine wall-clock
/// medians measure the load as much as the code.
fn thread_cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14, 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10)
}

fn bench(c: &mut Criterion) {
    let params = ClParams::secp256k1();
    let shares = keygen(&params, 1);
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut sent = BTreeMap::new();
    let presigs = presign(&params, &shares, &mut rng, &mut sent);
    let offline = sent.clone();
    online(presigs, &mut rng, &mut sent);
    for (party, bytes) in &sent {
        println!(
            "dmz21 (2,3) sign: {party} sends {bytes} bytes per signing ({} offline)",
            offline[party]
        );
    }

    // CPU time, all parties on this thread, mean of a few runs.
    const RUNS: u64 = 4;
    if let Some(start) = thread_cpu_ms() {
        let _ = keygen(&params, 4);
        let after_keygen = thread_cpu_ms().unwrap_or(start);
        let mut online_ms = 0;
        for _ in 0..RUNS {
            let pre = presign(&params, &shares, &mut rng, &mut BTreeMap::new());
            let t = thread_cpu_ms().unwrap_or(0);
            online(pre, &mut rng, &mut BTreeMap::new());
            online_ms += thread_cpu_ms().unwrap_or(t) - t;
        }
        let total = thread_cpu_ms().unwrap_or(after_keygen) - after_keygen;
        println!(
            "dmz21 (2,3) CPU time, both signers together: keygen {} ms (3 holders), offline {} ms, online {} ms",
            after_keygen - start,
            (total - online_ms) / RUNS,
            online_ms / RUNS
        );
    }

    let mut g = c.benchmark_group("dmz21 (2,3)");
    g.sample_size(10);
    g.bench_function("keygen with CL key setup", |b| b.iter(|| keygen(&params, 3)));
    g.bench_function("offline (presignature), 2 signers", |b| {
        b.iter(|| presign(&params, &shares, &mut rng, &mut BTreeMap::new()))
    });
    g.bench_function("online, 2 signers", |b| {
        b.iter_batched(
            || presign(&params, &shares, &mut rng, &mut BTreeMap::new()),
            |presigs| online(presigs, &mut ChaCha20Rng::seed_from_u64(5), &mut BTreeMap::new()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
