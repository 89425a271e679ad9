//! GG18 keys through the service: the nodes exchange and verify their aux material once,
//! then DKG, signing by every pair of holders, failover and refresh. Signatures are
//! checked with k256 (verify, low-s, and recovery of the public key from r||s||v).
//!
//! The nodes' aux material comes from the 2048-bit fixture primes in
//! kms-protocols/tests/data (safe-prime generation would take seconds per node).

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use kms_client::{GenerateKey, InProcessCluster, InProcessClusterBuilder, KmsClient};
use kms_core::ports::ShardStore;
use kms_core::{Algorithm, KeyMetadata, KmsError, SignatureOutput};
use kms_protocols::gg18::Gg18KeyShare;
use kms_storage::memory::MemoryShardStore;
use std::sync::Arc;

mod common;
use common::{fixture_aux, fixture_refresh_aux};

/// Nodes with fixture aux material, and one set of fresh fixture material each for a
/// key refresh (which re-keys every holder's Paillier key).
fn builder(nodes: usize) -> InProcessClusterBuilder {
    let mut builder = InProcessCluster::builder().nodes(nodes);
    let fresh = fixture_refresh_aux();
    for (i, (aux, fresh)) in fixture_aux().into_iter().zip(fresh).take(nodes).enumerate() {
        let name = format!("tss{}", i + 1);
        builder = builder.gg18_aux(&name, aux).gg18_refresh_aux(&name, vec![fresh]);
    }
    builder
}

fn cluster(nodes: usize) -> (Arc<InProcessCluster>, KmsClient) {
    let c = builder(nodes).build();
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
    c.coordinator()
        .renew_node_setup(
            &kms_core::Principal::new("admin"),
            kms_core::Algorithm::Gg18,
            &tss1,
        )
        .await
        .unwrap();
    c.start_node(&tss2);
    assert!(
        !c.coordinator()
            .setup_complete(kms_core::Algorithm::Gg18, c.nodes())
            .await
            .unwrap(),
        "tss2's copy of tss1's material is stale, and the digests show it"
    );
    // A new key exchanges tss1's new material; the old key keeps the material its
    // shares were made with.
    let new = client
        .generate_key(GenerateKey::new(Algorithm::Gg18))
        .await
        .unwrap();
    assert!(c
        .coordinator()
        .setup_complete(kms_core::Algorithm::Gg18, c.nodes())
        .await
        .unwrap());
    for key in [&old, &new] {
        check(key, &hash, &client.sign(&key.key_id, &hash).await.unwrap());
    }
    let audit = c.audit_log().records().await.unwrap();
    assert!(audit
        .iter()
        .any(|r| r.event.event_type == kms_core::audit::AuditEventType::ConfigChange));
}

/// The Paillier N and ring-Pedersen N~ (hex) of a holder's share, and those of every
/// peer as the holder verified them.
async fn moduli(store: &MemoryShardStore, key: &KeyMetadata) -> (String, String, Vec<String>) {
    let record = store.get(&key.key_id).await.unwrap().expect("a shard");
    let share = Gg18KeyShare::from_bytes(&record.data).unwrap();
    let own = share.aux_secret();
    (
        own.paillier().public().n().to_hex(),
        own.ring_pedersen().modulus().value().to_hex(),
        share
            .aux_peers()
            .values()
            .map(|p| p.paillier().n().to_hex())
            .collect(),
    )
}

/// Review H1 through the service: a refresh of a GG18 key re-keys every holder's
/// Paillier key and ring-Pedersen parameters (every holder then knows every peer's new
/// N), the public key stays, and every pair of holders signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_h1_gg18_cluster_refresh_rekeys_then_every_pair_signs() {
    let stores: Vec<Arc<MemoryShardStore>> = (0..3).map(|_| Arc::new(MemoryShardStore::new())).collect();
    let mut b = builder(3);
    for (i, store) in stores.iter().enumerate() {
        b = b.shard_store(&format!("tss{}", i + 1), store.clone());
    }
    let c = b.build();
    let client = KmsClient::new(c.clone());
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Gg18))
        .await
        .unwrap();
    let mut before = Vec::new();
    for s in &stores {
        before.push(moduli(s, &key).await);
    }
    let refreshed = client.refresh(&key.key_id).await.unwrap();
    assert_eq!(refreshed.public_key, key.public_key);
    assert_eq!(refreshed.epoch, 1);
    let mut after = Vec::new();
    for s in &stores {
        after.push(moduli(s, &key).await);
    }
    let new_ns: Vec<&String> = after.iter().map(|m| &m.0).collect();
    for (old, new) in before.iter().zip(&after) {
        assert_ne!(old.0, new.0, "N re-keyed");
        assert_ne!(old.1, new.1, "N~ re-keyed");
        for peer_n in &new.2 {
            assert!(new_ns.contains(&peer_n), "peers' new N known");
            assert!(!before.iter().any(|b| &b.0 == peer_n), "no old N left");
        }
    }
    let hash = [0x48u8; 32];
    for excluded in key.holders.iter().map(|h| h.node.clone()).collect::<Vec<_>>() {
        c.stop_node(&excluded);
        let sig = client.sign(&key.key_id, &hash).await.unwrap();
        c.start_node(&excluded);
        assert!(!sig.signers.contains(&excluded));
        check(&key, &hash, &sig);
    }
}
