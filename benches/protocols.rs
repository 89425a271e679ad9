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
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls, Algorithm::Dkls23] {
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
        // ECDSA (DKLS23) signs a 32-byte hash; EdDSA and BLS the message itself.
        let payload: &[u8] = if algorithm == Algorithm::Dkls23 {
            &[9; 32]
        } else {
            b"bench message"
        };
        c.bench_function(&format!("cluster/{name} sign"), |b| {
            b.iter(|| rt.block_on(client.sign(&key.key_id, payload)).unwrap())
        });
    }
}

/// Fixture aux material (2048-bit moduli) so the bench does not search for safe primes.
fn fixture_aux() -> Vec<kms_protocols::gg18::aux_info::AuxSecret> {
    use kms_protocols::gg18::bigint::BigInt;
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../kms-protocols/tests/data/gg18_fixtures.json")).unwrap();
    let int = |v: &serde_json::Value| BigInt::from_hex(v.as_str().unwrap()).unwrap();
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    json["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            kms_protocols::gg18::aux_info::AuxSecret::from_primes(
                &mut rng,
                int(&f["paillier_p"]),
                int(&f["paillier_q"]),
                int(&f["rp_p"]),
                int(&f["rp_q"]),
            )
            .unwrap()
        })
        .collect()
}

/// GG18 through the whole stack. Nodes top up precomputed signing randomness in the
/// background after each signing; `iter_custom` times only the signing and leaves the
/// nodes time to refill between signings, as a service sees between requests.
fn bench_cluster_gg18(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut builder = InProcessCluster::builder().nodes(4).seed([5; 32]);
    for (i, aux) in fixture_aux().into_iter().enumerate() {
        builder = builder.gg18_aux(&format!("tss{}", i + 1), aux);
    }
    let cluster = builder.build();
    let client = KmsClient::new(cluster.clone());
    let key = rt
        .block_on(client.generate_key(GenerateKey::new(Algorithm::Gg18)))
        .unwrap();
    let mut group = c.benchmark_group("cluster/gg18");
    group.sample_size(10);
    // Every pair of nodes exchanges aux material once; make sure that is behind us.
    let all = cluster.nodes().to_vec();
    while !rt
        .block_on(
            cluster
                .coordinator()
                .setup_complete(kms_core::Algorithm::Gg18, &all),
        )
        .unwrap()
    {
        rt.block_on(client.generate_key(GenerateKey::new(Algorithm::Gg18)))
            .unwrap();
    }
    group.bench_function("generate_key (2,3), aux exchanged", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                // Let the nodes finish precomputing for the previous key first.
                std::thread::sleep(std::time::Duration::from_millis(1500));
                let start = std::time::Instant::now();
                rt.block_on(client.generate_key(GenerateKey::new(Algorithm::Gg18)))
                    .unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    group.bench_function("sign, randomness precomputed", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                std::thread::sleep(std::time::Duration::from_millis(800));
                let start = std::time::Instant::now();
                rt.block_on(client.sign(&key.key_id, &[9u8; 32])).unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench_eddsa, bench_bls, bench_cluster, bench_cluster_gg18);
criterion_main!(benches);
