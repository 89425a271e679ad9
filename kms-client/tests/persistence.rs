//! A persistent cluster: shards encrypted in each node's embedded store, metadata and
//! audit in the coordinator's; keys survive a restart; a wrong password names the node
//! and changes nothing; a node restored from backup signs.

use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::audit::{verify_chain, AuditEventType};
use kms_core::{Algorithm, KmsError, NodeId, StorageError};
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

async fn open(dir: &Path, password: &str) -> Result<Arc<InProcessCluster>, KmsError> {
    InProcessCluster::builder()
        .nodes(4)
        .persistent(dir, Zeroizing::new(password.to_string()))
        .pbkdf2_iterations(10_000)
        .open()
        .await
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_survive_a_restart_and_a_wrong_password_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (eddsa, bls) = {
        let cluster = open(dir.path(), "correct horse").await.unwrap();
        let client = KmsClient::new(cluster.clone());
        let e = client
            .generate_key(GenerateKey::new(Algorithm::Eddsa))
            .await
            .unwrap();
        let b = client
            .generate_key(GenerateKey::new(Algorithm::Bls))
            .await
            .unwrap();
        (e, b)
    };
    let before = snapshot(dir.path());
    match open(dir.path(), "wrong password").await {
        Err(KmsError::Storage(StorageError::WrongPassword(node))) => {
            assert!(node.starts_with("tss"), "{node}")
        }
        Err(other) => panic!("expected WrongPassword, got {other}"),
        Ok(_) => panic!("a wrong password opened the cluster"),
    }
    assert_eq!(snapshot(dir.path()), before, "a wrong password changed a file");

    let cluster = open(dir.path(), "correct horse").await.unwrap();
    let client = KmsClient::new(cluster.clone());
    for key in [&eddsa, &bls] {
        let again = client.get_key(&key.key_id).await.unwrap();
        assert_eq!(again.public_key, key.public_key);
        let sig = client.sign(&key.key_id, b"after restart").await.unwrap();
        assert!(kms_core::schemes::verify_signature(
            key.spec.algo_type,
            &hex::decode(&key.public_key).unwrap(),
            b"after restart",
            &sig.signature
        ));
    }
    let records = cluster.audit_log().records().await.unwrap();
    let kinds: Vec<AuditEventType> = records.iter().map(|r| r.event.event_type).collect();
    let starts = vec![AuditEventType::NodeStart; 4];
    let expected: Vec<AuditEventType> = [
        starts.clone(),
        vec![AuditEventType::KeyGenerate, AuditEventType::KeyGenerate],
        starts,
        vec![AuditEventType::KeySign, AuditEventType::KeySign],
    ]
    .concat();
    assert_eq!(kinds, expected, "every operation, across restarts, in one chain");
    verify_chain(&records, &cluster.audit_log().anchor().await.unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restored_from_backup_signs() {
    let dir = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let key = {
        let cluster = open(dir.path(), "pw").await.unwrap();
        let client = KmsClient::new(cluster.clone());
        let key = client
            .generate_key(GenerateKey::new(Algorithm::Eddsa))
            .await
            .unwrap();
        let node = &key.holders[0].node;
        cluster.backup_node(node, &backup.path().join("b")).await.unwrap();
        key
    };
    let restored: NodeId = key.holders[0].node.clone();
    let node_dir = dir.path().join(restored.as_str());
    std::fs::remove_dir_all(node_dir.join("data")).unwrap();
    let mut config = kms_storage::NodeStorageConfig::under_root(restored.clone(), &node_dir);
    config.pbkdf2_iterations = 10_000;
    kms_storage::NodeStorage::restore(&backup.path().join("b"), &config, &Zeroizing::new("pw".into()))
        .unwrap();

    let cluster = open(dir.path(), "pw").await.unwrap();
    let client = KmsClient::new(cluster.clone());
    // Only the restored node and one other holder are up.
    cluster.stop_node(&key.holders[1].node);
    let sig = client.sign(&key.key_id, b"restored").await.unwrap();
    assert!(sig.signers.contains(&restored));
    let records = cluster.audit_log().records().await.unwrap();
    assert!(records
        .iter()
        .any(|r| r.event.event_type == AuditEventType::BackupCreate
            && r.event.node_id.as_deref() == Some(restored.as_str())));
    let vk = ed25519_dalek::VerifyingKey::from_bytes(
        hex::decode(&key.public_key)
            .unwrap()
            .as_slice()
            .try_into()
            .unwrap(),
    )
    .unwrap();
    vk.verify_strict(
        b"restored",
        &ed25519_dalek::Signature::from_slice(&sig.signature).unwrap(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gg18_aux_material_is_generated_and_verified_once() {
    let dir = tempfile::tempdir().unwrap();
    let hash = [3u8; 32];
    let (key, holders) = {
        let cluster = open(dir.path(), "pw").await.unwrap();
        let client = KmsClient::new(cluster.clone());
        // No fixtures here: the nodes generate their Paillier and ring-Pedersen primes.
        let key = client
            .generate_key(GenerateKey::new(Algorithm::Gg18))
            .await
            .unwrap();
        let holders: Vec<NodeId> = key.holders.iter().map(|h| h.node.clone()).collect();
        assert!(cluster
            .coordinator()
            .setup_complete(kms_core::Algorithm::Gg18, &holders)
            .await
            .unwrap());
        (key, holders)
    };
    let cluster = open(dir.path(), "pw").await.unwrap();
    // After a restart the material and the peers' verified material come from each
    // node's encrypted vault: no new exchange is needed.
    assert!(cluster
        .coordinator()
        .setup_complete(kms_core::Algorithm::Gg18, &holders)
        .await
        .unwrap());
    let client = KmsClient::new(cluster.clone());
    let sig = client.sign(&key.key_id, &hash).await.unwrap();
    assert!(kms_core::schemes::verify_signature(
        Algorithm::Gg18,
        &hex::decode(&key.public_key).unwrap(),
        &hash,
        &sig.signature
    ));
    let tss4 = NodeId::new("tss4").unwrap();
    assert!(
        !cluster
            .coordinator()
            .setup_complete(kms_core::Algorithm::Gg18, &[holders[0].clone(), tss4])
            .await
            .unwrap()
            || holders.contains(&NodeId::new("tss4").unwrap())
    );
}
