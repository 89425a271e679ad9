//! A local deployment of real `kms-node` processes on loopback for the process tests:
//! a fresh PKI, four node homes, their pinned identities, GG18 fixture material, and a
//! coordinator in the test's process talking to them over gRPC with mutual TLS.
#![allow(dead_code)]

use kms_client::{GrpcCluster, GrpcClusterBuilder};
use kms_core::identity::{NodeIdentityPublic, PeerDirectory};
use kms_core::{Algorithm, KeyMetadata, NodeId, SignatureOutput};
use kms_daemons::pki::{self, PkiDir};
use kms_transport::grpc::{GrpcTransportConfig, NodeEndpoint};
use kms_transport::tls::{CertFiles, Role};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// PBKDF2 iterations of the test's DEK files: the minimum the storage accepts, so the
/// many starts of a test stay quick.
pub const TEST_ITERATIONS: &str = "10000";
/// How long a node may take to unlock and listen.
const START_TIMEOUT: Duration = Duration::from_secs(120);

pub fn node_ids(n: usize) -> Vec<NodeId> {
    (1..=n).map(|i| NodeId::new(format!("tss{i}")).unwrap()).collect()
}

fn private_dir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn private_copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn private_write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

pub fn kms_node() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kms-node"))
}

/// Writes GG18 aux files from the fixture primes: node i gets fixture party i as its own
/// material and refresh party i for one refresh.
pub fn write_aux_files(root: &Path, nodes: &[NodeId]) -> BTreeMap<NodeId, PathBuf> {
    let dir = root.join("aux");
    private_dir(&dir);
    let json: serde_json::Value = serde_json::from_str(include_str!(
        "../../../kms-protocols/tests/data/gg18_fixtures.json"
    ))
    .unwrap();
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let file = serde_json::json!({
                "own": json["parties"][i],
                "refresh": [json["refresh_parties"][i]],
            });
            let path = dir.join(format!("{n}.json"));
            private_write(&path, serde_json::to_string(&file).unwrap().as_bytes());
            (n.clone(), path)
        })
        .collect()
}

pub struct Devnet {
    pub tmp: tempfile::TempDir,
    pub pki: PkiDir,
    pub nodes: Vec<NodeId>,
    pub password_file: PathBuf,
    pub directory: PeerDirectory,
    aux: BTreeMap<NodeId, PathBuf>,
    pub addrs: BTreeMap<NodeId, SocketAddr>,
    procs: BTreeMap<NodeId, Child>,
    /// A node's own password file, once it no longer uses the common one.
    pub password_files: BTreeMap<NodeId, PathBuf>,
    pub logs: BTreeMap<NodeId, PathBuf>,
}

impl Devnet {
    pub fn home(&self, node: &NodeId) -> PathBuf {
        self.tmp.path().join(node.as_str())
    }

    /// PKI, homes and identities of `n` nodes; no node runs yet.
    pub fn new(n: usize) -> Devnet {
        let tmp = tempfile::tempdir().unwrap();
        let nodes = node_ids(n);
        let pki = pki::init(&tmp.path().join("pki"), &nodes, "gateway").unwrap();
        let password_file = tmp.path().join("password");
        private_write(&password_file, b"correct horse battery staple\n");
        for node in &nodes {
            let home = tmp.path().join(node.as_str());
            private_dir(&home);
            private_dir(&home.join("certs"));
            let role = Role::Node(node.clone());
            private_copy(&pki.ca_cert(), &home.join("certs/ca.cert"));
            private_copy(&pki.cert(&role), &home.join(format!("certs/{node}.cert")));
            private_copy(&pki.key(&role), &home.join(format!("certs/{node}.key")));
        }
        // Every node's identity, exported the way an operator does.
        let exports: Vec<_> = nodes
            .iter()
            .map(|node| {
                kms_node()
                    .args(["identity", "--node-id", node.as_str(), "--home"])
                    .arg(tmp.path().join(node.as_str()))
                    .arg("--password-file")
                    .arg(&password_file)
                    .args(["--pbkdf2-iterations", TEST_ITERATIONS])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let identities: Vec<NodeIdentityPublic> = exports
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().unwrap();
                assert!(
                    out.status.success(),
                    "identity: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                serde_json::from_slice(&out.stdout).unwrap()
            })
            .collect();
        let directory = PeerDirectory::new(identities);
        let peers = serde_json::to_vec(&directory).unwrap();
        for node in &nodes {
            private_write(&tmp.path().join(node.as_str()).join("certs/peers.json"), &peers);
        }
        let aux = write_aux_files(tmp.path(), &nodes);
        Devnet {
            tmp,
            pki,
            nodes,
            password_file,
            directory,
            aux,
            addrs: BTreeMap::new(),
            procs: BTreeMap::new(),
            password_files: BTreeMap::new(),
            logs: BTreeMap::new(),
        }
    }

    /// The password file node `node` starts with.
    pub fn password_file_of(&self, node: &NodeId) -> PathBuf {
        self.password_files
            .get(node)
            .cloned()
            .unwrap_or_else(|| self.password_file.clone())
    }

    /// Start every node and wait until each listens.
    pub fn start_all(&mut self) {
        let nodes = self.nodes.clone();
        let starting: Vec<_> = nodes.iter().map(|n| self.spawn(n)).collect();
        for (n, (child, rx)) in nodes.iter().zip(starting) {
            self.wait_listening(n, child, rx);
        }
    }

    fn spawn(&mut self, node: &NodeId) -> (Child, std::sync::mpsc::Receiver<SocketAddr>) {
        let listen = self
            .addrs
            .get(node)
            .map_or("127.0.0.1:0".to_string(), |a| a.to_string());
        let log_path = self.tmp.path().join(format!("{node}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        self.logs.insert(node.clone(), log_path);
        let mut child = kms_node()
            .args(["--node-id", node.as_str(), "--home"])
            .arg(self.home(node))
            .args(["--listen", &listen])
            .arg("--password-file")
            .arg(self.password_file_of(node))
            .arg("--gg18-aux-file")
            .arg(&self.aux[node])
            .args([
                "--pbkdf2-iterations",
                TEST_ITERATIONS,
                "--log-format",
                "json",
                "--operator",
                "test",
            ])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split(" listening on ").nth(1) {
                    let _ = tx.send(addr.trim().parse().unwrap());
                }
            }
        });
        (child, rx)
    }

    fn wait_listening(&mut self, node: &NodeId, mut child: Child, rx: std::sync::mpsc::Receiver<SocketAddr>) {
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                self.addrs.insert(node.clone(), addr);
                self.procs.insert(node.clone(), child);
            }
            Err(_) => {
                let _ = child.kill();
                panic!("{node} did not start: {}", self.log(node));
            }
        }
    }

    /// Start (or restart) one node on its address.
    pub fn start(&mut self, node: &NodeId) {
        let (child, rx) = self.spawn(node);
        self.wait_listening(node, child, rx);
    }

    /// kill -9.
    pub fn kill9(&mut self, node: &NodeId) {
        let mut child = self.procs.remove(node).expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The process id of a running node.
    pub fn pid(&self, node: &NodeId) -> u32 {
        self.procs[node].id()
    }

    /// SIGTERM, then wait for the exit status (bounded).
    pub fn terminate(&mut self, node: &NodeId) -> std::process::ExitStatus {
        let pid = self.pid(node).to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        self.wait_exit(node)
    }

    /// Wait for a node to exit (bounded: 30 s).
    pub fn wait_exit(&mut self, node: &NodeId) -> std::process::ExitStatus {
        let mut child = self.procs.remove(node).expect("running");
        for _ in 0..600 {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("{node} did not stop within 30 s of SIGTERM");
    }

    pub fn log(&self, node: &NodeId) -> String {
        self.logs
            .get(node)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    pub fn endpoints(&self) -> Vec<NodeEndpoint> {
        self.nodes
            .iter()
            .map(|n| NodeEndpoint {
                node: n.clone(),
                addr: self.addrs[n],
            })
            .collect()
    }

    pub fn gateway_files(&self) -> CertFiles {
        self.pki.files(&Role::Gateway("gateway".into()))
    }

    /// A coordinator in this process over the running nodes.
    pub async fn cluster(&self) -> Arc<GrpcCluster> {
        self.cluster_builder().open().await.unwrap()
    }

    /// The builder of [`Devnet::cluster`], for a test that adds a layer to it.
    pub fn cluster_builder(&self) -> GrpcClusterBuilder {
        let password = zeroize::Zeroizing::new("coordinator password".to_string());
        GrpcCluster::builder(self.endpoints(), self.gateway_files(), self.directory.clone())
            .embedded_store(self.tmp.path().join("coordinator"), password)
            .pbkdf2_iterations(10_000)
            .transport_config(GrpcTransportConfig {
                backoff_max: Duration::from_millis(500),
                ..GrpcTransportConfig::default()
            })
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        for child in self.procs.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Checks a signature with the standard verifier of its algorithm (ed25519-dalek
/// `verify_strict`, blst, k256 with low-s and the recovery id).
pub fn verify(key: &KeyMetadata, message: &[u8], sig: &SignatureOutput) {
    let pk = hex::decode(&key.public_key).unwrap();
    match key.spec.algo_type {
        Algorithm::Eddsa => {
            let vk = ed25519_dalek::VerifyingKey::from_bytes(pk.as_slice().try_into().unwrap()).unwrap();
            let s = ed25519_dalek::Signature::from_slice(&sig.signature).unwrap();
            vk.verify_strict(message, &s).expect("Ed25519 signature verifies");
        }
        Algorithm::Bls => {
            use blst::min_pk::{PublicKey, Signature};
            let pk = PublicKey::key_validate(&pk).unwrap();
            let s = Signature::sig_validate(&sig.signature, true).unwrap();
            assert_eq!(
                s.verify(true, message, kms_protocols::bls::SIG_DST, &[], &pk, true),
                blst::BLST_ERROR::BLST_SUCCESS
            );
        }
        Algorithm::Gg18 => {
            use k256::ecdsa::signature::hazmat::PrehashVerifier;
            use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
            let vk = VerifyingKey::from_sec1_bytes(&pk).unwrap();
            let s = Signature::from_slice(&sig.signature[..64]).unwrap();
            assert!(s.normalize_s().is_none(), "low-s");
            vk.verify_prehash(message, &s).unwrap();
            let v = sig.signature[64];
            let recovered =
                VerifyingKey::recover_from_prehash(message, &s, RecoveryId::from_byte(v - 27).unwrap())
                    .unwrap();
            assert_eq!(recovered, vk);
        }
        other => panic!("no verifier for {other:?}"),
    }
}

pub fn message_for(algorithm: Algorithm) -> Vec<u8> {
    match algorithm {
        // ECDSA signs a 32-byte hash.
        Algorithm::Gg18 => vec![0x5a; 32],
        _ => b"signed by two node daemons over gRPC".to_vec(),
    }
}

pub fn holders(key: &KeyMetadata) -> Vec<NodeId> {
    key.holders.iter().map(|h| h.node.clone()).collect()
}
