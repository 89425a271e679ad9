//! DMZ21 keys through the service (issue 13's integration): the registered DMZ21
//! scheme generates a (2, 3) key on the 4-node in-process cluster, signs with all
//! holders up and with every pair of holders (the third one down), and a refresh moves
//! every holder to new shares of the same key, which sign again with every pair. Every
//! signature is checked with k256 (verify, low-s, and recovery of the public key from
//! r||s||v).

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::{Algorithm, KeyMetadata, KeyStatus, KeyType, KmsError, SignatureOutput};

fn check(key: &KeyMetadata, hash: &[u8; 32], sig: &SignatureOutput) {
    let pk = hex::decode(&key.public_key).unwrap();
    assert_eq!(pk.len(), 33, "compressed SEC1 public key");
    let vk = VerifyingKey::from_sec1_bytes(&pk).unwrap();
    assert_eq!(sig.signature.len(), 65, "r || s || v");
    let s = Signature::from_slice(&sig.signature[..64]).unwrap();
    assert!(s.normalize_s().is_none(), "low-s");
    vk.verify_prehash(hash, &s).unwrap();
    let v = sig.signature[64];
    assert!(v == 27 || v == 28, "v = 27 + recovery id");
    let recovered =
        VerifyingKey::recover_from_prehash(hash, &s, RecoveryId::from_byte(v - 27).unwrap()).unwrap();
    assert_eq!(recovered, vk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmz21_generates_every_pair_signs_and_refreshes() {
    let cluster = InProcessCluster::builder().nodes(4).build();
    let client = KmsClient::new(cluster.clone());
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Dmz21))
        .await
        .unwrap();
    assert_eq!(key.status, KeyStatus::Active);
    assert_eq!(key.spec.algo_type, Algorithm::Dmz21);
    assert_eq!(key.spec.key_type, KeyType::Ecdsa);
    let holders: Vec<_> = key.holders.iter().map(|h| h.node.clone()).collect();
    assert_eq!(holders.len(), 3);

    // All up: the coordinator picks two holders.
    let hash = [0x5a; 32];
    let sig = client.sign(&key.key_id, &hash).await.unwrap();
    assert_eq!(sig.signers.len(), 2);
    check(&key, &hash, &sig);

    // One holder down, each in turn: the other two sign, so every pair has signed.
    for (i, excluded) in holders.iter().enumerate() {
        let hash = [i as u8 + 1; 32];
        cluster.stop_node(excluded);
        let sig = client.sign(&key.key_id, &hash).await.unwrap();
        cluster.start_node(excluded);
        assert_eq!(sig.signers.len(), 2);
        assert!(!sig.signers.contains(excluded));
        check(&key, &hash, &sig);
    }
    // ECDSA signs a 32-byte prehash, checked before any node is asked.
    let err = client.sign(&key.key_id, b"not a hash").await.unwrap_err();
    assert!(matches!(err, KmsError::InvalidRequest(_)), "{err}");

    let refreshed = client.refresh(&key.key_id).await.unwrap();
    assert_eq!(refreshed.epoch, 1);
    assert_eq!(refreshed.public_key, key.public_key);
    for (i, excluded) in holders.iter().enumerate() {
        let hash = [0xe0 + i as u8; 32];
        cluster.stop_node(excluded);
        let sig = client.sign(&key.key_id, &hash).await.unwrap();
        cluster.start_node(excluded);
        assert_eq!(sig.signers.len(), 2);
        assert!(!sig.signers.contains(excluded));
        check(&key, &hash, &sig);
    }
}
