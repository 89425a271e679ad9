//! Signing over gRPC with mutual TLS on loopback against four real `kms-node` processes,
//! beside the same signing through the in-process bus ([`InProcessCluster`]).
//!
//! - `sign latency/{eddsa,bls,gg18}/{in-process,grpc}`: one signing at a time, (2,3) key
//!   on 4 nodes, through `KmsClient` (coordinator, sealing, relay, node runtimes). GG18
//!   uses the fixture aux primes on both sides, so nothing searches for primes.
//! - `eddsa throughput/{in-process,grpc}/N`: N concurrent callers, each signing in a loop
//!   over 8 keys until the iteration budget is spent; criterion's `thrpt` line is
//!   signatures per second at that concurrency.
//!
//! Run it (it needs the release `kms-node`; if it is missing the bench builds it with
//! `cargo build --release -p kms-daemons --bin kms-node` into the same target dir, or set
//! `KMS_NODE_BIN` to a binary):
//!
//! ```text
//! cargo build --release -p kms-daemons --bin kms-node
//! cargo bench --bench cluster_grpc
//! ```
//!
//! The node processes run with PBKDF2 at the storage's minimum iteration count (startup
//! only; signing never touches the password) and are stopped with SIGTERM at the end.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use kms_client::{GenerateKey, GrpcCluster, InProcessCluster, KmsClient};
use kms_core::identity::PeerDirectory;
use kms_core::{Algorithm, KeyId};
use kms_daemons::devnet::{self, DevnetOptions};
use kms_daemons::pki::PkiDir;
use kms_protocols::gg18::aux_info::AuxSecret;
use kms_protocols::gg18::bigint::BigInt;
use kms_transport::grpc::NodeEndpoint;
use kms_transport::tls::Role;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIXTURES: &str = include_str!("../kms-protocols/tests/data/gg18_fixtures.json");

/// The fixture primes' own material of each node, for the in-process cluster.
fn fixture_aux() -> Vec<AuxSecret> {
    let json: serde_json::Value = serde_json::from_str(FIXTURES).unwrap();
    let int = |v: &serde_json::Value| BigInt::from_hex(v.as_str().unwrap()).unwrap();
    let mut rng = ChaCha20Rng::from_seed([7; 32]);
    json["parties"]
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

/// The same fixture primes as `kms-node --gg18-aux-file` files, one per node.
fn write_aux_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let json: serde_json::Value = serde_json::from_str(FIXTURES).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..4 {
        let file = serde_json::json!({
            "own": json["parties"][i],
            "refresh": [json["refresh_parties"][i]],
        });
        let path = dir.join(format!("tss{}.json", i + 1));
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The release `kms-node`: `KMS_NODE_BIN`, else next to this bench's executable
/// (`target/release/deps/..` → `target/release/kms-node`), built there if missing.
fn node_binary() -> PathBuf {
    if let Ok(p) = std::env::var("KMS_NODE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let release = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = release.join("kms-node");
    if !bin.exists() {
        eprintln!("{} is missing: building it", bin.display());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--release", "-p", "kms-daemons", "--bin", "kms-node"])
            .env("CARGO_TARGET_DIR", release.parent().unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "cargo build of kms-node failed");
    }
    bin
}

/// Four `kms-node` processes (a `kms devnet` under a temporary directory) and a
/// coordinator in this process over them. Stops the nodes when dropped.
struct Network {
    dir: tempfile::TempDir,
    client: KmsClient,
}

impl Network {
    fn up(rt: &tokio::runtime::Runtime) -> Network {
        let dir = tempfile::tempdir().unwrap();
        let aux = dir.path().join("aux");
        write_aux_dir(&aux);
        let net = dir.path().join("net");
        let info = devnet::up(
            &net,
            &DevnetOptions {
                nodes: 4,
                base_port: 0,
                node_binary: node_binary(),
                gg18_aux_dir: Some(aux),
                pbkdf2_iterations: 10_000,
                gateway_binary: None,
                gateway_port: 0,
            },
        )
        .unwrap()
        .0;
        let directory: PeerDirectory =
            serde_json::from_slice(&std::fs::read(net.join("peers.json")).unwrap()).unwrap();
        let endpoints: Vec<NodeEndpoint> = info
            .nodes
            .iter()
            .map(|(node, addr)| NodeEndpoint {
                node: node.clone(),
                addr: *addr,
            })
            .collect();
        let tls = PkiDir::new(&net.join("pki")).files(&Role::Gateway("gateway".into()));
        let password = zeroize::Zeroizing::new("bench coordinator".to_string());
        let cluster = rt
            .block_on(
                GrpcCluster::builder(endpoints, tls, directory)
                    .embedded_store(dir.path().join("coordinator"), password)
                    .pbkdf2_iterations(10_000)
                    .open(),
            )
            .unwrap();
        Network {
            dir,
            client: KmsClient::new(cluster),
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Err(e) = devnet::down(&self.dir.path().join("net")) {
            eprintln!("devnet down: {e}");
        }
    }
}

fn in_process() -> KmsClient {
    let mut builder = InProcessCluster::builder().nodes(4).seed([9; 32]);
    for (i, aux) in fixture_aux().into_iter().enumerate() {
        builder = builder.gg18_aux(&format!("tss{}", i + 1), aux);
    }
    KmsClient::new(builder.build())
}

fn message_for(algorithm: Algorithm) -> Vec<u8> {
    match algorithm {
        // ECDSA signs a 32-byte hash.
        Algorithm::Gg18 => vec![0x42; 32],
        _ => b"bench message".to_vec(),
    }
}

fn keys(rt: &tokio::runtime::Runtime, client: &KmsClient, algorithm: Algorithm, n: usize) -> Vec<KeyId> {
    let keys = (0..n)
        .map(|_| {
            rt.block_on(client.generate_key(GenerateKey::new(algorithm)))
                .unwrap()
                .key_id
        })
        .collect();
    // The nodes precompute signing randomness (GG18 presignatures) in the background
    // after a key generation; let that settle so it is not timed against the first
    // signings.
    std::thread::sleep(Duration::from_secs(2));
    keys
}

/// `callers` tasks sign in a loop until `total` signatures are made; the elapsed time.
async fn concurrent(client: &KmsClient, keys: &[KeyId], callers: usize, total: u64) -> Duration {
    let left = Arc::new(AtomicU64::new(total));
    let msg = message_for(Algorithm::Eddsa);
    let start = Instant::now();
    let tasks = (0..callers).map(|c| {
        let left = left.clone();
        let msg = msg.clone();
        async move {
            let mut i = c;
            while left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                client.sign(&keys[i % keys.len()], &msg).await.unwrap();
                i += callers;
            }
        }
    });
    futures::future::join_all(tasks).await;
    start.elapsed()
}

fn bench_cluster(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let net = Network::up(&rt);
    let local = in_process();
    let backends = [("in-process", &local), ("grpc", &net.client)];

    let mut group = c.benchmark_group("sign latency");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, algorithm) in [
        ("eddsa", Algorithm::Eddsa),
        ("bls", Algorithm::Bls),
        ("gg18", Algorithm::Gg18),
    ] {
        if algorithm == Algorithm::Gg18 {
            group.sampling_mode(SamplingMode::Flat);
        }
        for (backend, client) in backends {
            let key = keys(&rt, client, algorithm, 1).remove(0);
            let msg = message_for(algorithm);
            group.bench_function(format!("{name}/{backend}"), |b| {
                b.iter(|| rt.block_on(client.sign(&key, &msg)).unwrap())
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("eddsa throughput");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(1));
    for (backend, client) in backends {
        let keys = keys(&rt, client, Algorithm::Eddsa, 8);
        for callers in [1usize, 8, 32] {
            group.bench_function(format!("{backend}/{callers}"), |b| {
                b.iter_custom(|iters| rt.block_on(concurrent(client, &keys, callers, iters)))
            });
        }
    }
    group.finish();
    drop(net);
}

criterion_group!(benches, bench_cluster);
criterion_main!(benches);
