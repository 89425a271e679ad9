//! The principal a host hands the client is what the audit log records: its user id in
//! `user_id`, its request's origin in `audit_trail`, on success and on failure alike.

use kms_client::{GenerateKey, InProcessCluster, KmsClient, Principal};
use kms_core::audit::{AuditEventType, AuditResult};
use kms_core::{Algorithm, KeyStatus};
use std::net::{IpAddr, Ipv4Addr};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_records_the_principal_and_its_origin() {
    let cluster = InProcessCluster::builder().nodes(4).build();
    let who = Principal::new("payments-service")
        .with_client_ip(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .with_user_agent("kms-test/1.0")
        .with_request_id("req-123");
    let client = KmsClient::new(cluster.clone()).for_principal(who);

    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    client.sign(&key.key_id, b"pay 1 BTC").await.unwrap();
    client.set_status(&key.key_id, KeyStatus::Frozen).await.unwrap();
    // A refused signing (the key is frozen) is recorded with the same principal.
    client.sign(&key.key_id, b"pay 2 BTC").await.unwrap_err();

    let records = cluster.audit_log().records().await.unwrap();
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.event.key_id.as_deref() == Some(key.key_id.as_str()))
        .filter(|r| r.event.operation != "sign_attempt")
        .collect();
    let kinds: Vec<_> = mine
        .iter()
        .map(|r| (r.event.event_type, r.event.result))
        .collect();
    assert_eq!(
        kinds,
        [
            (AuditEventType::KeyGenerate, AuditResult::Success),
            (AuditEventType::KeySign, AuditResult::Success),
            (AuditEventType::KeyStatusChange, AuditResult::Success),
            (AuditEventType::KeySign, AuditResult::Failure),
        ]
    );
    for record in mine {
        assert_eq!(record.event.user_id, "payments-service");
        assert!(
            record
                .event
                .audit_trail
                .ends_with("client_ip=127.0.0.2 user_agent=\"kms-test/1.0\" request_id=req-123"),
            "{}",
            record.event.audit_trail
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_user_leaves_the_trail_as_it_was() {
    let cluster = InProcessCluster::builder().nodes(4).build();
    let client = KmsClient::new(cluster.clone()).as_user("alice");
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let records = cluster.audit_log().records().await.unwrap();
    let generated = records
        .iter()
        .find(|r| r.event.event_type == AuditEventType::KeyGenerate)
        .unwrap();
    assert_eq!(generated.event.user_id, "alice");
    assert_eq!(generated.event.key_id.as_deref(), Some(key.key_id.as_str()));
    assert!(!generated.event.audit_trail.contains("client_ip="));
}
