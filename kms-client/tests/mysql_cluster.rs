//! The in-process cluster with its key metadata and audit log in MySQL/MariaDB
//! (`--features mysql`; the server at `KMS_TEST_MYSQL_URL`, default
//! mysql://root@127.0.0.1:3306/test): keys become ACTIVE only after DKG, status rules
//! hold, and the audit chain in `t_key_operation_log` verifies.
#![cfg(feature = "mysql")]

use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::audit::{verify_chain, AuditEventType};
use kms_core::ports::{AuditLog, MetadataStore};
use kms_core::{Algorithm, KeyStatus, KmsError};
use kms_storage::mysql::{MySqlConfig, MySqlStore};
use rand_core::{OsRng, RngCore};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_audit_in_mysql() {
    let url = std::env::var("KMS_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string());
    let mut config = MySqlConfig::new(url);
    let prefix = format!("kc{:08x}_", OsRng.next_u32());
    config.table_prefix = prefix.clone();
    let store = MySqlStore::connect(&config)
        .await
        .expect("MySQL/MariaDB must be running for --features mysql");
    let metadata = Arc::new(store.metadata());
    let signer = kms_core::audit::AuditSigner::generate("gateway", &mut OsRng);
    let audit = Arc::new(store.audit(Arc::new(signer)).await.expect("audit log verifies"));
    let cluster = InProcessCluster::builder()
        .nodes(4)
        .metadata(metadata.clone())
        .audit(audit.clone())
        .build();
    let client = KmsClient::new(cluster.clone());

    let key = client
        .generate_key(GenerateKey::new(Algorithm::Bls))
        .await
        .unwrap();
    let stored = metadata.get(&key.key_id).await.unwrap().unwrap();
    assert_eq!(stored, key);
    assert_eq!(stored.status, KeyStatus::Active);
    client.sign(&key.key_id, b"mysql").await.unwrap();
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
    client
        .set_status(&key.key_id, KeyStatus::Destroyed)
        .await
        .unwrap();

    let records = audit.records().await.unwrap();
    let kinds: Vec<AuditEventType> = records.iter().map(|r| r.event.event_type).collect();
    assert_eq!(
        kinds,
        [
            AuditEventType::KeyGenerate,
            AuditEventType::KeySign,
            AuditEventType::KeyStatusChange,
            AuditEventType::KeySign,
            AuditEventType::KeyDestroy
        ]
    );
    verify_chain(&records, &audit.anchor().await.unwrap()).unwrap();

    for t in [
        "t_key_metadata",
        "t_key_operation_log",
        "t_key_operation_log_head",
        "t_kms_schema_migrations",
        "t_kms_cluster",
    ] {
        sqlx::query(&format!("DROP TABLE IF EXISTS `{prefix}{t}`"))
            .execute(store.pool())
            .await
            .unwrap();
    }
}

/// Two coordinators (two gateways) over one MySQL store and the same nodes: the store's
/// compare-and-swap lets exactly one refresh a key at a time; the other is told the key
/// is busy, and every pair of holders signs at the one committed epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_coordinators_on_one_mysql_store_take_turns() {
    use kms_core::coordinator::Coordinator;
    use kms_core::ports::NodeTransport;
    let url = std::env::var("KMS_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string());
    let mut config = MySqlConfig::new(url);
    let prefix = format!("kl{:08x}_", OsRng.next_u32());
    config.table_prefix = prefix.clone();
    let store = MySqlStore::connect(&config)
        .await
        .expect("MySQL/MariaDB must be running for --features mysql");
    let metadata = Arc::new(store.metadata());
    // Both coordinators append to one log under the service's one audit key.
    let signer = kms_core::audit::AuditSigner::generate("gateway", &mut OsRng);
    let audit = Arc::new(store.audit(Arc::new(signer)).await.expect("audit log verifies"));
    let bus_slot: Arc<std::sync::Mutex<Option<Arc<dyn NodeTransport>>>> = Default::default();
    let slot = bus_slot.clone();
    let cluster = InProcessCluster::builder()
        .nodes(3)
        .metadata(metadata.clone())
        .audit(audit.clone())
        .wrap_transport(move |bus| {
            let t: Arc<dyn NodeTransport> = bus;
            *slot.lock().unwrap() = Some(t.clone());
            t
        })
        .build();
    let client = KmsClient::new(cluster.clone());
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let bus = bus_slot.lock().unwrap().clone().unwrap();
    let other = Coordinator::new(cluster.nodes().to_vec(), bus, metadata.clone(), audit.clone());
    let (gateway_a, gateway_b) = (
        kms_core::Principal::new("gateway-a"),
        kms_core::Principal::new("gateway-b"),
    );
    let (a, b) = tokio::join!(
        cluster.coordinator().refresh(&gateway_a, &key.key_id),
        other.refresh(&gateway_b, &key.key_id)
    );
    let ok = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one refresh wins: {a:?} {b:?}");
    let loser = if a.is_ok() { b } else { a };
    assert!(matches!(loser, Err(KmsError::KeyBusy { .. })), "{loser:?}");
    let now = metadata.get(&key.key_id).await.unwrap().unwrap();
    assert_eq!((now.epoch, now.lease.clone()), (1, None));
    for down in cluster.nodes().to_vec() {
        cluster.stop_node(&down);
        let sig = client.sign(&key.key_id, b"one epoch").await.unwrap();
        cluster.start_node(&down);
        assert!(kms_core::schemes::verify_signature(
            Algorithm::Eddsa,
            &hex::decode(&key.public_key).unwrap(),
            b"one epoch",
            &sig.signature
        ));
    }
    for t in [
        "t_key_metadata",
        "t_key_operation_log",
        "t_key_operation_log_head",
        "t_kms_schema_migrations",
        "t_kms_cluster",
    ] {
        sqlx::query(&format!("DROP TABLE IF EXISTS `{prefix}{t}`"))
            .execute(store.pool())
            .await
            .unwrap();
    }
}
