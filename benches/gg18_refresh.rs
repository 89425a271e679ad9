//! GG18 key refresh through the whole stack (node runtime, sealing, coordinator relay,
//! in-memory bus), at (2,3) on 4 nodes.
//!
//! Since review H1 a refresh also re-keys every holder's Paillier key and ring-Pedersen
//! parameters. Fresh material comes from each node's pool; the two cases are:
//!
//! - **pool full**: every holder has ready material (here the fixture primes), so the
//!   refresh pays only for the proofs (Πmod, Πprm, Πfac) and the zero-sharing rounds;
//! - **pool empty**: every holder must search for safe primes during the refresh, which
//!   is what a node sees if refreshes come faster than its background refill.
//!
//! Each sample is one refresh of a fresh key on a fresh cluster (setup not timed), with
//! flat sampling so criterion runs exactly `sample_size` refreshes.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::{Algorithm, KeyId};
use kms_protocols::gg18::aux_info::AuxSecret;
use kms_protocols::gg18::bigint::BigInt;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::time::Duration;

/// The fixture primes of one set (`parties`: the nodes' own material; `refresh_parties`:
/// material a refresh moves to), so no bench run searches for safe primes by accident.
fn fixture_set(set: &str) -> Vec<AuxSecret> {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../kms-protocols/tests/data/gg18_fixtures.json")).unwrap();
    let int = |v: &serde_json::Value| BigInt::from_hex(v.as_str().unwrap()).unwrap();
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    json[set]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            AuxSecret::from_primes(
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

/// A fresh cluster with one GG18 key, its background precomputation finished.
/// `fresh` is each node's ready refresh material (empty: an empty pool).
fn cluster_with_key(
    rt: &tokio::runtime::Runtime,
    own: &[AuxSecret],
    fresh: &[AuxSecret],
) -> (KmsClient, KeyId) {
    let mut builder = InProcessCluster::builder().nodes(4).seed([5; 32]);
    for (i, aux) in own.iter().enumerate() {
        let name = format!("tss{}", i + 1);
        let ready = fresh.get(i).cloned().into_iter().collect();
        builder = builder
            .gg18_aux(&name, aux.clone())
            .gg18_refresh_aux(&name, ready);
    }
    let client = KmsClient::new(builder.build());
    let key = rt
        .block_on(client.generate_key(GenerateKey::new(Algorithm::Gg18)))
        .unwrap();
    // Let the nodes finish precomputing signing randomness for the new key.
    std::thread::sleep(Duration::from_millis(1500));
    (client, key.key_id)
}

fn bench_refresh(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("cluster/gg18 refresh (2,3)");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    let own = fixture_set("parties");
    let fresh = fixture_set("refresh_parties");
    for (name, ready) in [("pool full", &fresh[..]), ("pool empty", &[][..])] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || cluster_with_key(&rt, &own, ready),
                |(client, key)| rt.block_on(client.refresh(&key)).unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_refresh);
criterion_main!(benches);
