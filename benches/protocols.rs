//! Criterion benches of the protocol runs at (2,3), in-process, every check on:
//! the pure state machines pumped in memory, and the whole stack (node runtime,
//! sealing, coordinator relay, in-memory bus) through `KmsClient`.

use criterion::{criterion_group, criterion_main, Criterion};
use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::Algorithm;
use kms_protocols::testing::run_to_completion;
use kms_protocols::{bls, eddsa, KeyShare, PartyIndex, SessionId, Threshold};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn parties(n: u16) -> Vec<PartyIndex> {
    PartyIndex::range(n).collect()
}

fn bench_eddsa(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let t = Threshold::new(2, 3).unwrap();
    c.bench_function("eddsa/dkg (2,3)", |b| {
        b.iter(|| {
            let session = SessionId::random(&mut rng);
            let starts: Vec<_> = parties(3)
                .into_iter()
                .map(|p| eddsa::start_dkg(session, t, p, &mut rng).unwrap())
                .collect();
            run_to_completion(starts, &mut rng).unwrap()
        })
    });
    let session = SessionId::random(&mut rng);
    let starts: Vec<_> = parties(3)
        .into_iter()
        .map(|p| eddsa::start_dkg(session, t, p, &mut rng).unwrap())
        .collect();
    let shares: Vec<KeyShare<eddsa::Ed25519>> = run_to_completion(starts, &mut rng)
        .unwrap()
        .into_values()
        .collect();
    let signers = parties(2);
    c.bench_function("eddsa/sign 2 of 3", |b| {
        b.iter(|| {
            let session = SessionId::random(&mut rng);
            let starts: Vec<_> = shares[..2]
                .iter()
                .map(|s| eddsa::start_sign(session, s, &signers, b"bench message", &mut rng).unwrap())
                .collect();
            run_to_completion(starts, &mut rng).unwrap()
        })
    });
}

fn bench_bls(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let t = Threshold::new(2, 3).unwrap();
    c.bench_function("bls/dkg (2,3)", |b| {
        b.iter(|| {
            let session = SessionId::random(&mut rng);
            let starts: Vec<_> = parties(3)
                .into_iter()
                .map(|p| bls::start_dkg(session, t, p, &mut rng).unwrap())
                .collect();
            run_to_completion(starts, &mut rng).unwrap()
        })
    });
    let session = SessionId::random(&mut rng);
    let starts: Vec<_> = parties(3)
        .into_iter()
        .map(|p| bls::start_dkg(session, t, p, &mut rng).unwrap())
        .collect();
    let shares: Vec<KeyShare<bls::Bls12381G1>> = run_to_completion(starts, &mut rng)
        .unwrap()
        .into_values()
        .collect();
    let signers = parties(2);
    c.bench_function("bls/sign 2 of 3", |b| {
        b.iter(|| {
            let session = SessionId::random(&mut rng);
            let starts: Vec<_> = shares[..2]
                .iter()
                .map(|s| bls::start_sign(session, s, &signers, b"bench message", &mut rng).unwrap())
                .collect();
            run_to_completion(starts, &mut rng).unwrap()
        })
    });
}

fn bench_cluster(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cluster = InProcessCluster::builder().nodes(4).seed([3; 32]).build();
    let client = KmsClient::new(cluster);
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls] {
        let name = algorithm.as_str().to_lowercase();
        c.bench_function(&format!("cluster/{name} generate_key (2,3) of 4 nodes"), |b| {
            b.iter(|| {
                rt.block_on(client.generate_key(GenerateKey::new(algorithm)))
                    .unwrap()
            })
        });
        let key = rt
            .block_on(client.generate_key(GenerateKey::new(algorithm)))
            .unwrap();
        c.bench_function(&format!("cluster/{name} sign"), |b| {
            b.iter(|| rt.block_on(client.sign(&key.key_id, b"bench message")).unwrap())
        });
    }
}

criterion_group!(benches, bench_eddsa, bench_bls, bench_cluster);
criterion_main!(benches);
