//! The node's offline operations with the real binary: `kms-node backup --out FILE`,
//! `restore --in FILE` and `rotate-password`, on a node of a running four-node cluster
//! (stopped for the operation, as they require). Shards are checked by signing with a
//! pair that includes the node, verified with the standard verifier.

mod common;

use common::{holders, message_for, verify, Devnet};
use kms_client::{GenerateKey, KmsClient};
use kms_core::audit::AuditEventType;
use kms_core::ports::AuditLog;
use kms_core::{Algorithm, KeyMetadata, NodeId};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

fn run(net: &Devnet, node: &NodeId, password: &Path, args: &[&str]) -> Output {
    common::kms_node()
        .args(args)
        .args(["--node-id", node.as_str(), "--home"])
        .arg(net.home(node))
        .arg("--password-file")
        .arg(password)
        .args([
            "--pbkdf2-iterations",
            common::TEST_ITERATIONS,
            "--operator",
            "ops-test",
        ])
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sign with `node` and one other holder (the third out of rotation), retrying while the
/// transport's backoff from the node's outage runs out.
async fn signs_with(cluster: &kms_client::GrpcCluster, key: &KeyMetadata, node: &NodeId) {
    let others: Vec<NodeId> = holders(key).into_iter().filter(|n| n != node).collect();
    cluster.transport().set_out_of_rotation(&others[0], true);
    let msg = message_for(key.spec.algo_type);
    let mut signed = None;
    for _ in 0..40 {
        match cluster
            .coordinator()
            .sign(&kms_core::Principal::new("ops-test"), &key.key_id, &msg)
            .await
        {
            Ok(sig) => {
                signed = Some(sig);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    cluster.transport().set_out_of_rotation(&others[0], false);
    let sig = signed.unwrap_or_else(|| panic!("{node} does not sign {:?}", key.spec.algo_type));
    assert!(sig.signers.contains(node));
    verify(key, &msg, &sig);
}

/// The node's own audit log, read with its password (the node must be stopped).
async fn node_audit(net: &Devnet, node: &NodeId, password: &Path) -> Vec<AuditEventType> {
    let home = kms_daemons::node::NodeHome::new(node.clone(), net.home(node));
    let password = kms_daemons::node::read_password(node, Some(password)).unwrap();
    let opened = kms_daemons::node::open_storage(&home, password, 10_000)
        .await
        .unwrap();
    opened
        .storage
        .audit()
        .records()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event.event_type)
        .collect()
}

fn db_file(net: &Devnet, node: &NodeId) -> PathBuf {
    net.home(node).join("data").join(format!("{node}.redb"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_restore_and_password_rotation_keep_the_shards() {
    let mut net = Devnet::new(4);
    net.start_all();
    let cluster = net.cluster().await;
    let client = KmsClient::new(cluster.clone());
    let mut keys = Vec::new();
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls, Algorithm::Gg18] {
        keys.push(client.generate_key(GenerateKey::new(algorithm)).await.unwrap());
    }
    let node = net
        .nodes
        .iter()
        .find(|n| keys.iter().all(|k| holders(k).contains(n)))
        .cloned()
        .unwrap_or_else(|| holders(&keys[0])[0].clone());
    let password = net.password_file.clone();
    let held = keys.iter().filter(|k| holders(k).contains(&node)).count();

    // Backup of the stopped node: one 0600 file; the operation is audited.
    assert!(net.terminate(&node).success());
    let file = net.tmp.path().join("tss-backup.json");
    let out = run(
        &net,
        &node,
        &password,
        &["backup", "--out", file.to_str().unwrap()],
    );
    let summary: serde_json::Value = serde_json::from_str(ok(&out).trim()).unwrap();
    assert_eq!(summary["node"], node.as_str());
    assert_eq!(summary["shards"].as_u64(), Some(held as u64), "{summary}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A second backup never overwrites the first.
    let again = run(
        &net,
        &node,
        &password,
        &["backup", "--out", file.to_str().unwrap()],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert!(node_audit(&net, &node, &password)
        .await
        .contains(&AuditEventType::BackupCreate));

    // The node's disk is lost: the database goes. A tampered backup is refused and
    // writes nothing; the genuine one restores.
    std::fs::remove_file(db_file(&net, &node)).unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let mut tampered = bundle.clone();
    let snapshot = tampered["files"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["name"] == "snapshot.bin")
        .unwrap();
    let mut hex = snapshot["hex"].as_str().unwrap().to_string();
    let flipped = if hex.ends_with('0') { '1' } else { '0' };
    hex.pop();
    hex.push(flipped);
    snapshot["hex"] = hex.into();
    let bad = net.tmp.path().join("tampered.json");
    std::fs::write(&bad, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let out = run(
        &net,
        &node,
        &password,
        &["restore", "--in", bad.to_str().unwrap()],
    );
    assert!(!out.status.success(), "a tampered backup is refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(node.as_str()) && stderr.contains("snapshot.bin"),
        "{stderr}"
    );
    assert!(
        !db_file(&net, &node).exists(),
        "nothing restored from a tampered backup"
    );
    let out = run(
        &net,
        &node,
        &password,
        &["restore", "--in", file.to_str().unwrap()],
    );
    let restored: serde_json::Value = serde_json::from_str(ok(&out).trim()).unwrap();
    assert_eq!(restored["backup_id"], summary["backup_id"]);
    // Restoring over a live database is refused.
    let out = run(
        &net,
        &node,
        &password,
        &["restore", "--in", file.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let audit = node_audit(&net, &node, &password).await;
    assert!(audit.contains(&AuditEventType::BackupRestore), "{audit:?}");
    net.start(&node);
    for key in keys.iter().filter(|k| holders(k).contains(&node)) {
        signs_with(&cluster, key, &node).await;
    }

    // Password rotation: a wrong old password changes nothing; afterwards the old one
    // is refused (exit 2) and the new one opens the same shards.
    assert!(net.terminate(&node).success());
    let dek = net.home(&node).join(format!("certs/{node}.dek"));
    let dek_before = std::fs::read(&dek).unwrap();
    let new_password = net.tmp.path().join("new-password");
    std::fs::write(&new_password, "a brand new DEK password\n").unwrap();
    let wrong = net.tmp.path().join("wrong-password");
    std::fs::write(&wrong, "not it\n").unwrap();
    let out = run(
        &net,
        &node,
        &wrong,
        &[
            "rotate-password",
            "--new-password-file",
            new_password.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&dek).unwrap(),
        dek_before,
        "a wrong password changes no file"
    );
    let out = run(
        &net,
        &node,
        &password,
        &[
            "rotate-password",
            "--new-password-file",
            new_password.to_str().unwrap(),
        ],
    );
    ok(&out);
    assert_ne!(
        std::fs::read(&dek).unwrap(),
        dek_before,
        "the DEK file is re-wrapped"
    );
    let out = run(&net, &node, &password, &["identity"]);
    assert_eq!(out.status.code(), Some(2), "the old password stops working");
    let identity = ok(&run(&net, &node, &new_password, &["identity"]));
    let expected = serde_json::to_string(net.directory.get(&node).unwrap()).unwrap();
    assert_eq!(identity.trim(), expected, "same DEK, same identity");
    assert!(node_audit(&net, &node, &new_password)
        .await
        .contains(&AuditEventType::ConfigChange));
    net.password_files.insert(node.clone(), new_password);
    net.start(&node);
    for key in keys.iter().filter(|k| holders(k).contains(&node)) {
        signs_with(&cluster, key, &node).await;
    }
}
