//! GG18 keys through the service: the nodes exchange and verify their aux material once,
//! then DKG, signing by every pair of holders, failover and refresh. Signatures are
//! checked with k256 (verify, low-s, and recovery of the public key from r||s||v).
//!
//! The nodes' aux material comes from the 2048-bit fixture primes in
//! kms-protocols/tests/data (safe-prime generation would take seconds per node).

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::{Algorithm, KeyMetadata, KmsError, SignatureOutput};
use std::sync::Arc;

mod common;
use common::fixture_aux;

fn cluster(nodes: usize) -> (Arc<InProcessCluster>, KmsClient) {
    let mut builder = InProcessCluster::builder().nodes(nodes);
    for (i, aux) in fixture_aux().into_iter().take(nodes).enumerate() {
        builder = builder.gg18_aux(&format!("tss{}", i + 1), aux);
    }
    let c = builder.build();
    (c.clone(), KmsClient::new(c))
}

fn check(key: &KeyMetadata, hash: &[u8; 32], sig: &SignatureOutput) {
    let pk = hex::decode(&key.public_key).unwrap();
    assert_eq!(pk.len(), 33, "compressed SEC1 public key");
    let vk = VerifyingKey::from_sec1_bytes(&pk).unwrap();
    assert_eq!(sig.signature.len(), 65, "r || s || v");
    let s = Signature::from_slice(&sig.signature[..64]).unwrap();
    assert!(s.normalize_s().is_none(), "low-s");
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    vk.verify_prehash(hash, &s).unwrap();
    let v = sig.signature[64];
    assert!(v == 27 || v == 28, "v = 27 + recovery id");
    let recovered =
        VerifyingKey::recover_from_prehash(hash, &s, RecoveryId::from_byte(v - 27).unwrap()).unwrap();
    assert_eq!(recovered, vk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gg18_is_the_default_and_every_pair_signs() {
    let (c, client) = cluster(4);
    let key = client.generate_key(GenerateKey::default()).await.unwrap();
    assert_eq!(
        key.spec.algo_type,
        Algorithm::Gg18,
        "GG18 is the default algorithm"
    );
    let hash = [0x42u8; 32];
    for excluded in key.holders.iter().map(|h| h.node.clone()).collect::<Vec<_>>() {
        c.stop_node(&excluded);
        let sig = client.sign(&key.key_id, &hash).await.unwrap();
        c.start_node(&excluded);
        assert!(!sig.signers.contains(&excluded));
        check(&key, &hash, &sig);
    }
    let err = client.sign(&key.key_id, b"not a hash").await.unwrap_err();
    assert!(matches!(err, KmsError::InvalidRequest(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gg18_with_a_node_down_and_after_refresh() {
    let (c, client) = cluster(4);
    let down = c.nodes()[0].clone();
    c.stop_node(&down);
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Gg18))
        .await
        .unwrap();
    assert!(key.holders.iter().all(|h| h.node != down));
    c.start_node(&down);
    let hash = [7u8; 32];
    check(&key, &hash, &client.sign(&key.key_id, &hash).await.unwrap());
    let refreshed = client.refresh(&key.key_id).await.unwrap();
    assert_eq!(refreshed.public_key, key.public_key);
    assert_eq!(refreshed.epoch, 1);
    c.stop_node(&key.holders[0].node);
    check(&key, &hash, &client.sign(&key.key_id, &hash).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refreshes_its_aux_material_and_old_and_new_keys_sign() {
    let (c, client) = cluster(3);
    let hash = [5u8; 32];
    let old = client
        .generate_key(GenerateKey::new(Algorithm::Gg18))
        .await
        .unwrap();
    let tss1 = c.nodes()[0].clone();
    let tss2 = c.nodes()[1].clone();
    // tss2 is down while tss1 refreshes, so it is never told to forget the old material.
    c.stop_node(&tss2);
    c.coordinator().refresh_node_aux("admin", &tss1).await.unwrap();
    c.start_node(&tss2);
    assert!(
        !c.coordinator().gg18_aux_complete(c.nodes()).await.unwrap(),
        "tss2's copy of tss1's material is stale, and the digests show it"
    );
    // A new key exchanges tss1's new material; the old key keeps the material its
    // shares were made with.
    let new = client
        .generate_key(GenerateKey::new(Algorithm::Gg18))
        .await
        .unwrap();
    assert!(c.coordinator().gg18_aux_complete(c.nodes()).await.unwrap());
    for key in [&old, &new] {
        check(key, &hash, &client.sign(&key.key_id, &hash).await.unwrap());
    }
    let audit = c.audit_log().records().await.unwrap();
    assert!(audit
        .iter()
        .any(|r| r.event.event_type == kms_core::audit::AuditEventType::ConfigChange));
}
