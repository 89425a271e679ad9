//! The in-process cluster end to end: DKG on 3 of 4 nodes, signing by every pair of
//! holders, outages, status changes, refresh, determinism. Signatures are checked with
//! the standard verifiers (ed25519-dalek `verify_strict`, blst).

use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::audit::AuditEventType;
use kms_core::{Algorithm, KeyMetadata, KeyStatus, KmsError, NodeId, SignatureOutput};
use std::sync::Arc;

fn verify(key: &KeyMetadata, message: &[u8], sig: &SignatureOutput) {
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
        other => panic!("no verifier for {other:?}"),
    }
}

fn cluster(nodes: usize) -> (Arc<InProcessCluster>, KmsClient) {
    let c = InProcessCluster::builder().nodes(nodes).build();
    let client = KmsClient::new(c.clone());
    (c, client)
}

fn holders(key: &KeyMetadata) -> Vec<NodeId> {
    key.holders.iter().map(|h| h.node.clone()).collect()
}

async fn every_pair_signs(algorithm: Algorithm) {
    let (c, client) = cluster(4);
    let key = client.generate_key(GenerateKey::new(algorithm)).await.unwrap();
    assert_eq!(key.status, KeyStatus::Active);
    assert_eq!(key.holders.len(), 3);
    let hs = holders(&key);
    let msg = b"every pair of holders signs";
    let mut signatures = Vec::new();
    for excluded in &hs {
        c.stop_node(excluded);
        let sig = client.sign(&key.key_id, msg).await.unwrap();
        c.start_node(excluded);
        assert_eq!(sig.signers.len(), 2);
        assert!(!sig.signers.contains(excluded), "a stopped node cannot sign");
        verify(&key, msg, &sig);
        signatures.push(sig.signature);
    }
    if algorithm == Algorithm::Bls {
        assert!(
            signatures.windows(2).all(|w| w[0] == w[1]),
            "BLS signatures are the same bytes for every pair"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_every_pair_of_holders_signs() {
    every_pair_signs(Algorithm::Eddsa).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bls_every_pair_of_holders_signs() {
    every_pair_signs(Algorithm::Bls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_node_down_keys_are_created_and_every_key_signs() {
    let (c, client) = cluster(4);
    let mut keys = Vec::new();
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls] {
        keys.push(client.generate_key(GenerateKey::new(algorithm)).await.unwrap());
    }
    for down in c.nodes().to_vec() {
        c.stop_node(&down);
        for algorithm in [Algorithm::Eddsa, Algorithm::Bls] {
            let k = client.generate_key(GenerateKey::new(algorithm)).await.unwrap();
            assert!(!holders(&k).contains(&down), "no shard is placed on a down node");
            keys.push(k);
        }
        for key in &keys {
            let sig = client.sign(&key.key_id, b"one node down").await.unwrap();
            verify(key, b"one node down", &sig);
        }
        c.start_node(&down);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_down_refuses_generation_without_leaving_a_key() {
    let (c, client) = cluster(4);
    c.stop_node(&c.nodes()[0].clone());
    c.stop_node(&c.nodes()[1].clone());
    let err = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            KmsError::NotEnoughNodes {
                needed: 3,
                available: 2
            }
        ),
        "{err}"
    );
    assert!(c
        .coordinator()
        .get_key(&kms_core::KeyId::parse("none").unwrap())
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_of_five() {
    let (c, client) = cluster(5);
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls] {
        let key = client
            .generate_key(GenerateKey::new(algorithm).with_shards(5, 3))
            .await
            .unwrap();
        assert_eq!(key.holders.len(), 5);
        let hs = holders(&key);
        c.stop_node(&hs[0]);
        c.stop_node(&hs[3]);
        let sig = client.sign(&key.key_id, b"three of five").await.unwrap();
        assert_eq!(sig.signers.len(), 3);
        verify(&key, b"three of five", &sig);
        c.start_node(&hs[0]);
        c.start_node(&hs[3]);
        // Two holders are not enough.
        c.stop_node(&hs[1]);
        c.stop_node(&hs[2]);
        c.stop_node(&hs[4]);
        let err = client.sign(&key.key_id, b"too few").await.unwrap_err();
        assert!(matches!(err, KmsError::NotEnoughNodes { needed: 3, .. }), "{err}");
        for h in &hs {
            c.start_node(h);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_active_keys_sign_and_destroy_removes_every_shard() {
    let (c, client) = cluster(4);
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    client.set_status(&key.key_id, KeyStatus::Frozen).await.unwrap();
    let err = client.sign(&key.key_id, b"frozen").await.unwrap_err();
    assert!(
        matches!(
            err,
            KmsError::KeyNotUsable {
                status: KeyStatus::Frozen,
                ..
            }
        ),
        "{err}"
    );
    client.set_status(&key.key_id, KeyStatus::Active).await.unwrap();
    client.sign(&key.key_id, b"thawed").await.unwrap();
    client.set_status(&key.key_id, KeyStatus::Archived).await.unwrap();
    assert!(
        client.set_status(&key.key_id, KeyStatus::Active).await.is_err(),
        "archived is final"
    );
    client
        .set_status(&key.key_id, KeyStatus::Destroyed)
        .await
        .unwrap();
    assert_eq!(
        client.get_key(&key.key_id).await.unwrap().status,
        KeyStatus::Destroyed
    );
    let err = client.sign(&key.key_id, b"gone").await.unwrap_err();
    assert!(
        matches!(
            err,
            KmsError::KeyNotUsable {
                status: KeyStatus::Destroyed,
                ..
            }
        ),
        "{err}"
    );
    let audit = c.audit_log().records().await.unwrap();
    assert!(audit
        .iter()
        .any(|r| r.event.event_type == AuditEventType::KeyDestroy));
    assert!(audit
        .iter()
        .any(|r| r.event.event_type == AuditEventType::KeyGenerate));
    assert_eq!(
        audit
            .iter()
            .filter(|r| r.event.event_type == AuditEventType::KeySign)
            .count(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_keeps_the_public_key_and_shares_still_sign() {
    let (c, client) = cluster(4);
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls] {
        let key = client.generate_key(GenerateKey::new(algorithm)).await.unwrap();
        let refreshed = client.refresh(&key.key_id).await.unwrap();
        assert_eq!(refreshed.public_key, key.public_key);
        assert_eq!(refreshed.epoch, 1);
        for excluded in holders(&key) {
            c.stop_node(&excluded);
            let sig = client.sign(&key.key_id, b"after refresh").await.unwrap();
            verify(&refreshed, b"after refresh", &sig);
            c.start_node(&excluded);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_with_a_holder_down_changes_nothing() {
    let (c, client) = cluster(4);
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    c.stop_node(&holders(&key)[1]);
    assert!(client.refresh(&key.key_id).await.is_err());
    c.start_node(&holders(&key)[1]);
    assert_eq!(client.get_key(&key.key_id).await.unwrap().epoch, 0);
    for excluded in holders(&key) {
        c.stop_node(&excluded);
        let sig = client.sign(&key.key_id, b"still epoch 0").await.unwrap();
        verify(&key, b"still epoch 0", &sig);
        c.start_node(&excluded);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_clusters_reproduce_ids_and_placement_but_never_nonces() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let c = InProcessCluster::builder().nodes(4).seed([7; 32]).build();
        let client = KmsClient::new(c);
        let mut out = Vec::new();
        for algorithm in [Algorithm::Eddsa, Algorithm::Bls] {
            let key = client.generate_key(GenerateKey::new(algorithm)).await.unwrap();
            let sig = client.sign(&key.key_id, b"seeded").await.unwrap();
            verify(&key, b"seeded", &sig);
            out.push((key.key_id, key.holders, key.public_key, sig.signature));
        }
        runs.push(out);
    }
    for (a, b) in runs[0].iter().zip(&runs[1]) {
        assert_eq!((&a.0, &a.1), (&b.0, &b.1), "ids and placement repeat");
        assert_ne!(a.2, b.2, "protocol randomness mixes OS entropy: keys differ");
        assert_ne!(a.3, b.3, "and so do signatures");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_typed_errors() {
    let (_c, client) = cluster(4);
    let err = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa).with_shards(3, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::InvalidRequest(_)), "{err}");
    let err = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa).with_shards(5, 2))
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::InvalidRequest(_)), "{err}");
    let mut bad = GenerateKey::new(Algorithm::Eddsa);
    bad.spec.curve = kms_core::Curve::Secp256k1;
    assert!(matches!(
        client.generate_key(bad).await.unwrap_err(),
        KmsError::InvalidRequest(_)
    ));
    let missing = kms_core::KeyId::parse("missing").unwrap();
    assert!(matches!(
        client.sign(&missing, b"x").await.unwrap_err(),
        KmsError::KeyNotFound(_)
    ));
}
