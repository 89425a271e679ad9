//! Four real `kms-node` processes on loopback with a fresh PKI, driven by a coordinator in
//! the test's process over gRPC with mutual TLS. Signatures are checked with the standard
//! verifiers (k256, ed25519-dalek `verify_strict`, blst); no key is ever put together.

mod common;

use common::{holders, message_for, verify, Devnet};
use kms_client::{GenerateKey, KmsClient};
use kms_core::{Algorithm, KeyMetadata, KeyStatus, NodeId};

/// Signs with every pair of the key's holders: the third is taken out of rotation.
async fn every_pair_signs(cluster: &kms_client::GrpcCluster, client: &KmsClient, key: &KeyMetadata) {
    let msg = message_for(key.spec.algo_type);
    for excluded in holders(key) {
        cluster.transport().set_out_of_rotation(&excluded, true);
        let sig = client.sign(&key.key_id, &msg).await;
        cluster.transport().set_out_of_rotation(&excluded, false);
        let sig = sig.unwrap_or_else(|e| panic!("{:?} without {excluded}: {e}", key.spec.algo_type));
        assert_eq!(sig.signers.len(), 2);
        assert!(!sig.signers.contains(&excluded));
        verify(key, &msg, &sig);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_generates_signs_with_every_pair_refreshes_and_signs_again() {
    let mut net = Devnet::new(4);
    net.start_all();
    let cluster = net.cluster().await;
    let client = KmsClient::new(cluster.clone());
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls, Algorithm::Gg18] {
        let key = client.generate_key(GenerateKey::new(algorithm)).await.unwrap();
        assert_eq!(key.status, KeyStatus::Active);
        assert_eq!(key.holders.len(), 3);
        every_pair_signs(&cluster, &client, &key).await;
        let refreshed = client.refresh(&key.key_id).await.unwrap();
        assert_eq!(
            refreshed.public_key, key.public_key,
            "{algorithm:?}: refresh keeps the key"
        );
        assert_eq!(refreshed.epoch, key.epoch + 1);
        every_pair_signs(&cluster, &client, &refreshed).await;
    }
    // The nodes stop gracefully and audit it.
    for node in net.nodes.clone() {
        let status = net.terminate(&node);
        assert!(status.success(), "{node}: {status}");
        let log = net.log(&node);
        assert!(log.contains("draining"), "{node} logs its drain: {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_is_skipped_and_serves_again_after_restart() {
    let mut net = Devnet::new(4);
    net.start_all();
    let cluster = net.cluster().await;
    let client = KmsClient::new(cluster.clone());
    let mut keys = Vec::new();
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls, Algorithm::Gg18] {
        keys.push(client.generate_key(GenerateKey::new(algorithm)).await.unwrap());
    }
    // A node that holds a shard of every key (3 of 4 nodes hold each).
    let victim = net
        .nodes
        .iter()
        .find(|n| keys.iter().all(|k| holders(k).contains(n)))
        .cloned()
        .unwrap_or_else(|| holders(&keys[0])[0].clone());
    net.kill9(&victim);
    for key in &keys {
        let msg = message_for(key.spec.algo_type);
        let sig = client.sign(&key.key_id, &msg).await.unwrap();
        assert!(!sig.signers.contains(&victim), "a killed node cannot sign");
        verify(key, &msg, &sig);
    }
    // Restarted with its password, it serves again with its shards intact: with the
    // other holders but one out of rotation, it must sign.
    net.start(&victim);
    for key in keys.iter().filter(|k| holders(k).contains(&victim)) {
        let msg = message_for(key.spec.algo_type);
        let others: Vec<NodeId> = holders(key).into_iter().filter(|n| *n != victim).collect();
        cluster.transport().set_out_of_rotation(&others[0], true);
        let mut signed = None;
        // The transport's backoff from the outage runs out within a second.
        for _ in 0..40 {
            match client.sign(&key.key_id, &msg).await {
                Ok(sig) => {
                    signed = Some(sig);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            }
        }
        cluster.transport().set_out_of_rotation(&others[0], false);
        let sig = signed.expect("the restarted holder signs again");
        assert!(sig.signers.contains(&victim));
        verify(key, &msg, &sig);
    }
}

#[test]
fn a_wrong_password_exits_non_zero_naming_the_node_and_changes_no_file() {
    let net = Devnet::new(1);
    let node = &net.nodes[0];
    let home = net.home(node);
    let snapshot = |dir: &std::path::Path| {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let meta = e.metadata().unwrap();
                if meta.is_dir() {
                    stack.push(e.path());
                } else {
                    files.push((
                        e.path(),
                        std::fs::read(e.path()).unwrap(),
                        meta.modified().unwrap(),
                    ));
                }
            }
        }
        files.sort();
        files
    };
    let before = snapshot(&home);
    let wrong = net.tmp.path().join("wrong");
    std::fs::write(&wrong, "not the password\n").unwrap();
    let out = common::kms_node()
        .args(["--node-id", node.as_str(), "--home"])
        .arg(&home)
        .args(["--listen", "127.0.0.1:0", "--password-file"])
        .arg(&wrong)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("node tss1"), "names the node: {stderr}");
    assert!(!stderr.contains("not the password"), "never logs the password");
    assert_eq!(before, snapshot(&home), "no file changed");
}
