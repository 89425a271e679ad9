//! `kms devnet up` / `kms devnet down`: a whole local deployment from one command, used
//! by a coordinator in this process.

mod common;

use kms_client::{GenerateKey, GrpcCluster, KmsClient};
use kms_core::identity::PeerDirectory;
use kms_core::Algorithm;
use kms_daemons::devnet::DevnetInfo;
use kms_transport::grpc::NodeEndpoint;
use kms_transport::tls::CertFiles;
use std::process::Command;

fn kms() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kms"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_up_serves_a_coordinator_and_down_stops_every_node() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let aux = common::write_aux_files(tmp.path(), &common::node_ids(4));
    let aux_dir = aux.values().next().unwrap().parent().unwrap().to_path_buf();
    let out = kms()
        .args(["devnet", "up", "--dir"])
        .arg(&dir)
        .args([
            "--base-port",
            "0",
            "--pbkdf2-iterations",
            common::TEST_ITERATIONS,
            "--gg18-aux-dir",
        ])
        .arg(&aux_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("passwords: "), "{stdout}");
    // The last line: the gateway and an access key with every permission.
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let obj = last.as_object().unwrap();
    assert_eq!(obj.len(), 3, "{last}");
    let gateway_url = last["gateway_url"].as_str().unwrap().to_string();
    assert!(gateway_url.starts_with("http://127.0.0.1:"), "{last}");
    let access_key = last["access_key"].as_str().unwrap().to_string();
    let secret_key = last["secret_key"].as_str().unwrap().to_string();
    gateway_signs_over_http(&gateway_url, &access_key, &secret_key).await;

    let info: DevnetInfo = serde_json::from_slice(&std::fs::read(dir.join("devnet.json")).unwrap()).unwrap();
    assert_eq!(info.nodes.len(), 4);
    let directory: PeerDirectory =
        serde_json::from_slice(&std::fs::read(dir.join("peers.json")).unwrap()).unwrap();
    let endpoints = info.nodes.iter().map(|(node, addr)| NodeEndpoint {
        node: node.clone(),
        addr: *addr,
    });
    let tls = CertFiles {
        ca: dir.join("pki/ca.cert"),
        cert: dir.join("pki/gateway/gateway.cert"),
        key: dir.join("pki/gateway/gateway.key"),
    };
    let cluster = GrpcCluster::builder(endpoints, tls, directory)
        .embedded_store(
            tmp.path().join("coordinator"),
            zeroize::Zeroizing::new("pw".into()),
        )
        .pbkdf2_iterations(10_000)
        .open()
        .await
        .unwrap();
    let client = KmsClient::new(cluster);
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let sig = client.sign(&key.key_id, b"devnet").await.unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(
        hex::decode(&key.public_key)
            .unwrap()
            .as_slice()
            .try_into()
            .unwrap(),
    )
    .unwrap();
    vk.verify_strict(
        b"devnet",
        &ed25519_dalek::Signature::from_slice(&sig.signature).unwrap(),
    )
    .unwrap();

    let out = kms()
        .args(["devnet", "down", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("stopped tss")
            .count(),
        4
    );
    for (node, _) in &info.nodes {
        let log = std::fs::read_to_string(dir.join(format!("{node}.log"))).unwrap();
        assert!(log.contains("\"stopped\""), "{node} stopped gracefully: {log}");
    }
    let log = std::fs::read_to_string(dir.join("gateway.log")).unwrap();
    assert!(
        log.contains("\"stopped\""),
        "the gateway stopped gracefully: {log}"
    );
    assert!(!log.contains(&secret_key));
}

/// A signed request to the devnet's gateway: ready, an EdDSA key made over the nodes,
/// a signature that verifies.
async fn gateway_signs_over_http(url: &str, access_key: &str, secret_key: &str) {
    let http = reqwest::Client::new();
    let health = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let call = |method: &'static str, path: String, body: serde_json::Value| {
        let http = http.clone();
        let (url, ak, sk) = (url.to_string(), access_key.to_string(), secret_key.to_string());
        async move {
            let bytes = serde_json::to_vec(&body).unwrap();
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                .to_string();
            let nonce = format!("devnet-{ts}-{}", path.len());
            let sts = kms_gateway::auth::string_to_sign(method, &path, None, &ts, &nonce, &bytes);
            let resp = http
                .request(method.parse().unwrap(), format!("{url}{path}"))
                .header("X-KMS-Access-Key", ak)
                .header("X-KMS-Timestamp", &ts)
                .header("X-KMS-Nonce", &nonce)
                .header(
                    "X-KMS-Signature",
                    kms_gateway::auth::hmac_signature(sk.as_bytes(), &sts),
                )
                .body(bytes)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let v: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(status, 200, "{v}");
            v
        }
    };
    let key = call(
        "POST",
        "/api/v1/keys/generate".into(),
        serde_json::json!({"format": {"algo_type": "EDDSA"}}),
    )
    .await;
    let id = key["key_id"].as_str().unwrap();
    let sig = call(
        "POST",
        format!("/api/v1/keys/{id}/sign"),
        serde_json::json!({"data": hex::encode(b"via gateway"), "data_type": "MESSAGE"}),
    )
    .await;
    let sig_hex = sig["signature"].as_str().unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(
        hex::decode(key["public_key"].as_str().unwrap())
            .unwrap()
            .as_slice()
            .try_into()
            .unwrap(),
    )
    .unwrap();
    vk.verify_strict(
        b"via gateway",
        &ed25519_dalek::Signature::from_slice(&hex::decode(sig_hex.trim_start_matches("0x")).unwrap())
            .unwrap(),
    )
    .unwrap();
}
