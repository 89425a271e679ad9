//! Resident memory of a `kms-node` daemon whose store holds 10 000 EdDSA key shards.
//!
//! A four-node devnet makes one real EdDSA key (DKG over gRPC); the nodes are stopped,
//! and one holder's shard of it is stored under 9 999 further key ids through the node's own
//! encrypted storage (each record sealed under the DEK for its key id, as a generation
//! stores it). Then that node is started alone and its VmRSS read from `/proc/PID/status`,
//! idle and after a coordinator listed its shards (`HeldKeys`).
//!
//! ```text
//! cargo build --release -p kms-daemons --bin kms-node
//! cargo run --release -p kms-daemons --example node_memory [-- KEYS]
//! ```
//!
//! It prints the numbers; it asserts nothing about them (memory depends on the
//! allocator and the machine).

use kms_client::{GenerateKey, GrpcCluster, KmsClient};
use kms_core::identity::PeerDirectory;
use kms_core::ports::{NodeTransport, ShardStore};
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::{Algorithm, KeyId, NodeId};
use kms_daemons::devnet::{self, DevnetOptions};
use kms_daemons::node::{self, NodeHome};
use kms_daemons::pki::PkiDir;
use kms_transport::grpc::{GrpcNodeTransport, GrpcTransportConfig, NodeEndpoint};
use kms_transport::tls::{gateway_client_config, Role};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn node_binary() -> PathBuf {
    if let Ok(p) = std::env::var("KMS_NODE_BIN") {
        return p.into();
    }
    // target/<profile>/examples/node_memory → target/<profile>/kms-node
    let exe = std::env::current_exe().expect("own path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("kms-node");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release -p kms-daemons --bin kms-node (or set KMS_NODE_BIN)",
        bin.display()
    );
    bin
}

/// `kms-node --gg18-aux-file` files from the test fixture primes, one per node.
fn write_aux_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../../kms-protocols/tests/data/gg18_fixtures.json"))
            .expect("fixtures");
    std::fs::create_dir_all(dir).expect("aux dir");
    for i in 0..4 {
        let file = serde_json::json!({ "own": json["parties"][i] });
        let path = dir.join(format!("tss{}.json", i + 1));
        std::fs::write(&path, serde_json::to_vec(&file).expect("json")).expect("aux file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("mode");
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn endpoints(info: &devnet::DevnetInfo) -> Vec<NodeEndpoint> {
    info.nodes
        .iter()
        .map(|(node, addr)| NodeEndpoint {
            node: node.clone(),
            addr: *addr,
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let keys: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("KEYS is a number"))
        .unwrap_or(10_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("net");
    let binary = node_binary();
    // The fixture GG18 primes, so no node spends minutes of CPU searching for its own
    // (which would also be measured).
    let aux_dir = tmp.path().join("aux");
    write_aux_dir(&aux_dir);
    let info = devnet::up(
        &dir,
        &DevnetOptions {
            nodes: 4,
            base_port: 0,
            node_binary: binary.clone(),
            gg18_aux_dir: Some(aux_dir.clone()),
            pbkdf2_iterations: 10_000,
            gateway_binary: None,
            gateway_port: 0,
        },
    )
    .expect("devnet up")
    .0;
    let directory: PeerDirectory =
        serde_json::from_slice(&std::fs::read(dir.join("peers.json")).expect("peers.json")).expect("peers");
    let gateway = PkiDir::new(&dir.join("pki")).files(&Role::Gateway("gateway".into()));
    let key = {
        let cluster = GrpcCluster::builder(endpoints(&info), gateway.clone(), directory)
            .embedded_store(tmp.path().join("coordinator"), "example".to_string().into())
            .pbkdf2_iterations(10_000)
            .open()
            .await
            .expect("coordinator");
        let client = KmsClient::new(cluster);
        client
            .generate_key(GenerateKey::new(Algorithm::Eddsa))
            .await
            .expect("EdDSA key")
    };
    devnet::down(&dir).expect("devnet down");

    // A node that holds a shard of the key (3 of the 4 do).
    let tss1: NodeId = key.holders[0].node.clone();
    let home = NodeHome::new(tss1.clone(), dir.join(tss1.as_str()));
    let password_file = dir.join("passwords").join(tss1.as_str());
    let started = Instant::now();
    {
        let password = node::read_password(&tss1, Some(&password_file)).expect("password");
        let storage = node::open_storage(&home, password, 10_000)
            .await
            .expect("storage");
        let shards = storage.storage.shards();
        let record = shards
            .get(&key.key_id)
            .await
            .expect("read")
            .expect("the holder's shard");
        let mut rng = rand_core::OsRng;
        for _ in 1..keys {
            shards
                .put(&KeyId::random(&mut rng), &record)
                .await
                .expect("store a shard");
        }
    }
    let db = std::fs::metadata(home.data_dir().join(format!("{tss1}.redb")))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "stored {keys} EdDSA shards in {:?}; database {:.1} MiB",
        started.elapsed(),
        db as f64 / 1048576.0
    );

    let mut child = Command::new(&binary)
        .args(["--node-id", tss1.as_str(), "--home"])
        .arg(home.data_dir().parent().expect("home"))
        .args(["--listen", "127.0.0.1:0", "--password-file"])
        .arg(&password_file)
        .args(["--pbkdf2-iterations", "10000", "--gg18-aux-file"])
        .arg(aux_dir.join(format!("{tss1}.json")))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("kms-node");
    let pid = child.id();
    let mut addr = String::new();
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(a) = line.split(" listening on ").nth(1) {
            addr = a.trim().to_string();
            break;
        }
    }
    assert!(!addr.is_empty(), "{tss1} did not start");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(pid);

    let tls = gateway_client_config(&gateway).expect("gateway TLS");
    let transport = GrpcNodeTransport::new(
        [NodeEndpoint {
            node: tss1.clone(),
            addr: addr.parse().expect("address"),
        }],
        tls,
        GrpcTransportConfig::default(),
    )
    .expect("transport");
    let listed = match transport.call(&tss1, NodeRequest::HeldKeys).await {
        Ok(NodeResponse::HeldKeys { keys, .. }) => keys.len(),
        Ok(other) => panic!("unexpected answer {other:?}"),
        Err(e) => panic!("HeldKeys: {e}"),
    };
    let after = rss_kib(pid);
    println!(
        "kms-node {tss1} holding {keys} EdDSA shards: VmRSS {:.1} MiB idle, {:.1} MiB after listing {listed} held keys",
        idle as f64 / 1024.0,
        after as f64 / 1024.0
    );
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = child.wait();
}
