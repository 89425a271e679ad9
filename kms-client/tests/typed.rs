//! Typed values (PublicKey, Signature, SignInput), the input kind checked against the
//! key's scheme before any protocol starts, and idempotency keys on mutating calls.

use kms_client::{
    EncodingError, GenerateKey, IdempotencyKey, InProcessCluster, KmsClient, PublicKey, SignInput, Signature,
};
use kms_core::{Algorithm, Curve, KmsError};

#[test]
fn bad_encodings_are_refused_with_what_was_wrong() {
    assert!(matches!(
        SignInput::prehash(&[0u8; 31]),
        Err(EncodingError::Length {
            what: "prehash",
            got: 31,
            ..
        })
    ));
    assert!(SignInput::prehash(&[0u8; 33]).is_err());
    assert!(matches!(
        PublicKey::secp256k1(&[2u8; 32]),
        Err(EncodingError::Length { got: 32, .. })
    ));
    // x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p).
    let mut not_on_curve = [0u8; 33];
    not_on_curve[0] = 2;
    not_on_curve[32] = 5;
    assert!(matches!(
        PublicKey::secp256k1(&not_on_curve),
        Err(EncodingError::Invalid { .. })
    ));
    // The Ed25519 identity is of small order.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(matches!(
        PublicKey::ed25519(&identity),
        Err(EncodingError::Invalid { .. })
    ));
    assert!(PublicKey::bls12_381(&[0u8; 48]).is_err());
    assert!(PublicKey::from_hex(Curve::Ed25519, "zz").is_err());
    let mut high_s = [0u8; 65];
    high_s[31] = 1;
    high_s[32..64].copy_from_slice(&[0xff; 32]);
    high_s[64] = 27;
    assert!(Signature::ecdsa(&high_s).is_err(), "s >= n");
    let mut bad_v = [0u8; 65];
    bad_v[31] = 1;
    bad_v[63] = 1;
    bad_v[64] = 1;
    assert!(matches!(
        Signature::ecdsa(&bad_v),
        Err(EncodingError::Invalid { .. })
    ));
    bad_v[64] = 28;
    let sig = Signature::ecdsa(&bad_v).unwrap();
    let e = sig.as_ecdsa().unwrap();
    assert_eq!((e.v(), e.recovery_id(), e.r()[31], e.s()[31]), (28, 1, 1, 1));
    assert!(Signature::ed25519(&[0xff; 64]).is_err(), "S not canonical");
    assert!(Signature::bls(&[0u8; 95]).is_err());
    assert!(IdempotencyKey::new("").is_err());
    assert!(IdempotencyKey::new("a b").is_err());
    assert!(IdempotencyKey::new("x".repeat(129)).is_err());
    assert!(IdempotencyKey::new("order-42:retry.1_a").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_signing_checks_the_input_kind_before_any_protocol() {
    let cluster = InProcessCluster::builder().nodes(4).build();
    let client = KmsClient::new(cluster.clone());
    let ed = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let pk = client.public_key(&ed.key_id).await.unwrap();
    assert_eq!((pk.curve(), pk.as_bytes().len()), (Curve::Ed25519, 32));
    let before = cluster.audit_log().records().await.unwrap().len();
    match client
        .sign_input(&ed.key_id, SignInput::prehash(&[1u8; 32]).unwrap())
        .await
    {
        Err(KmsError::InvalidRequest(m)) => {
            assert!(
                m.contains(ed.key_id.as_str()) && m.contains("signs a message"),
                "{m}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        cluster.audit_log().records().await.unwrap().len(),
        before,
        "refused before any signing was attempted"
    );
    let signed = client
        .sign_input(&ed.key_id, SignInput::message(b"hello".to_vec()))
        .await
        .unwrap();
    let Signature::Ed25519(bytes) = signed.signature else {
        panic!("not Ed25519: {:?}", signed.signature)
    };
    let vk = ed25519_dalek::VerifyingKey::from_bytes(pk.as_bytes().try_into().unwrap()).unwrap();
    vk.verify_strict(b"hello", &ed25519_dalek::Signature::from_bytes(&bytes))
        .unwrap();

    let ec = client
        .generate_key(GenerateKey::new(Algorithm::Dkls23))
        .await
        .unwrap();
    assert!(matches!(
        client.sign_input(&ec.key_id, SignInput::message(vec![1u8; 32])).await,
        Err(KmsError::InvalidRequest(m)) if m.contains("signs a 32-byte prehash")
    ));
    let hash = [9u8; 32];
    let signed = client
        .sign_input(&ec.key_id, SignInput::prehash(&hash).unwrap())
        .await
        .unwrap();
    let sig = *signed.signature.as_ecdsa().expect("ECDSA");
    let pk = client.public_key(&ec.key_id).await.unwrap();
    let rs = k256::ecdsa::Signature::from_slice(&sig.to_bytes()[..64]).unwrap();
    let recid = k256::ecdsa::RecoveryId::from_byte(sig.recovery_id()).unwrap();
    let recovered = k256::ecdsa::VerifyingKey::recover_from_prehash(&hash, &rs, recid).unwrap();
    assert_eq!(recovered.to_sec1_bytes().as_ref(), pk.as_bytes());
    assert_eq!(pk.to_uncompressed().unwrap().len(), 65);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_give_the_first_answer_and_refuse_another_request() {
    let cluster = InProcessCluster::builder().nodes(4).build();
    let alice = KmsClient::new(cluster.clone()).as_user("alice");
    let bob = KmsClient::new(cluster.clone()).as_user("bob");
    let k = IdempotencyKey::new("create-1").unwrap();
    let req = GenerateKey::new(Algorithm::Eddsa);
    let first = alice.generate_key_idempotent(&k, req).await.unwrap();
    let again = alice.generate_key_idempotent(&k, req).await.unwrap();
    assert_eq!(first.key_id, again.key_id);
    assert_eq!(alice.list_keys().await.unwrap().len(), 1, "no second key");
    match alice
        .generate_key_idempotent(&k, GenerateKey::new(Algorithm::Bls))
        .await
    {
        Err(e @ KmsError::IdempotencyConflict { .. }) => {
            assert_eq!(e.code(), kms_core::error::ErrorCode::IdempotencyConflict)
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(alice.list_keys().await.unwrap().len(), 1);
    // Another principal's same key is its own.
    let bobs = bob.generate_key_idempotent(&k, req).await.unwrap();
    assert_ne!(bobs.key_id, first.key_id);

    // FROST signatures are randomised: equal bytes mean the first answer came back.
    let s = IdempotencyKey::new("sign-1").unwrap();
    let msg = SignInput::message(b"pay 1".to_vec());
    let a = alice
        .sign_idempotent(&s, &first.key_id, msg.clone())
        .await
        .unwrap();
    let b = alice
        .sign_idempotent(&s, &first.key_id, msg.clone())
        .await
        .unwrap();
    assert_eq!(a.signature, b.signature);
    let fresh = alice.sign_input(&first.key_id, msg).await.unwrap();
    assert_ne!(fresh.signature, a.signature, "without the key, a new signature");
    assert!(matches!(
        alice
            .sign_idempotent(&s, &first.key_id, SignInput::message(b"pay 2".to_vec()))
            .await,
        Err(KmsError::IdempotencyConflict { .. })
    ));
    // A wrong input kind is refused and keeps nothing.
    let bad = IdempotencyKey::new("sign-2").unwrap();
    let hash = SignInput::prehash(&[0u8; 32]).unwrap();
    assert!(alice.sign_idempotent(&bad, &first.key_id, hash).await.is_err());
    assert!(alice
        .sign_idempotent(&bad, &first.key_id, SignInput::message(b"ok".to_vec()))
        .await
        .is_ok());
}
