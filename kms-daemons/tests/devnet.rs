//! `kms devnet up` / `kms devnet down`: a whole local deployment from one command, used
//! by a coordinator in this process.

mod common;

use kms_client::{GenerateKey, GrpcCluster, KmsClient};
use kms_core::identity::PeerDirectory;
use kms_core::Algorithm;
use kms_daemons::devnet::DevnetInfo;
use kms_transport::grpc::NodeEndpoint;
use kms_transport::tls::CertFiles;
use std::process::Command;

fn kms() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kms"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_up_serves_a_coordinator_and_down_stops_every_node() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let aux = common::write_aux_files(tmp.path(), &common::node_ids(4));
    let aux_dir = aux.values().next().unwrap().parent().unwrap().to_path_buf();
    let out = kms()
        .args(["devnet", "up", "--dir"])
        .arg(&dir)
        .args([
            "--base-port",
            "0",
            "--pbkdf2-iterations",
            common::TEST_ITERATIONS,
            "--gg18-aux-dir",
        ])
        .arg(&aux_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("passwords: "), "{stdout}");

    let info: DevnetInfo = serde_json::from_slice(&std::fs::read(dir.join("devnet.json")).unwrap()).unwrap();
    assert_eq!(info.nodes.len(), 4);
    let directory: PeerDirectory =
        serde_json::from_slice(&std::fs::read(dir.join("peers.json")).unwrap()).unwrap();
    let endpoints = info.nodes.iter().map(|(node, addr)| NodeEndpoint {
        node: node.clone(),
        addr: *addr,
    });
    let tls = CertFiles {
        ca: dir.join("pki/ca.cert"),
        cert: dir.join("pki/gateway/gateway.cert"),
        key: dir.join("pki/gateway/gateway.key"),
    };
    let cluster = GrpcCluster::builder(endpoints, tls, directory)
        .embedded_store(
            tmp.path().join("coordinator"),
            zeroize::Zeroizing::new("pw".into()),
        )
        .pbkdf2_iterations(10_000)
        .open()
        .await
        .unwrap();
    let client = KmsClient::new(cluster);
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let sig = client.sign(&key.key_id, b"devnet").await.unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(
        hex::decode(&key.public_key)
            .unwrap()
            .as_slice()
            .try_into()
            .unwrap(),
    )
    .unwrap();
    vk.verify_strict(
        b"devnet",
        &ed25519_dalek::Signature::from_slice(&sig.signature).unwrap(),
    )
    .unwrap();

    let out = kms()
        .args(["devnet", "down", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("stopped tss")
            .count(),
        4
    );
    for (node, _) in &info.nodes {
        let log = std::fs::read_to_string(dir.join(format!("{node}.log"))).unwrap();
        assert!(log.contains("\"stopped\""), "{node} stopped gracefully: {log}");
    }
}
