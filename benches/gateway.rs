//! The gateway's costs: authentication plus rate limiting per request (string-to-sign,
//! HMAC verification, nonce cache, limiter; in-process stores), and an EdDSA signing end
//! to end over HTTP on loopback (signed request, gateway, in-process 2-of-3 cluster)
//! against the same cluster without HTTP.

use criterion::{criterion_group, criterion_main, Criterion};
use kms_client::GenerateKey;
use kms_core::{Algorithm, Principal};
use kms_gateway::access_keys::Verifier;
use kms_gateway::auth::{self, hmac_signature, string_to_sign, MemoryNonceCache, NonceCache};
use kms_gateway::config::Config;
use kms_gateway::limits::{Limit, MemoryRateLimiter, RateLimiter, WindowMode};
use std::sync::atomic::{AtomicU64, Ordering};

fn auth_and_limits(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let secret = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_vec();
    let verifier = Verifier::Hmac(zeroize::Zeroizing::new(secret.clone()));
    let nonces = MemoryNonceCache::default();
    let limiter = MemoryRateLimiter::default();
    let limit = Limit {
        requests: u64::MAX,
        window_seconds: 60,
        mode: WindowMode::Sliding,
    };
    let body = br#"{"data":"68656c6c6f","data_type":"MESSAGE"}"#;
    let n = AtomicU64::new(0);
    c.bench_function(
        "gateway/auth+rate_limit per request (HMAC, in-process stores)",
        |b| {
            b.iter(|| {
                let nonce = format!("bench-nonce-{:016}", n.fetch_add(1, Ordering::Relaxed));
                let ts = "1700000000000";
                let sts = string_to_sign("POST", "/api/v1/keys/k/sign", None, ts, &nonce, body);
                let sig = hmac_signature(&secret, &sts);
                // The gateway's side: rebuild, verify, spend the nonce, count.
                let sts = string_to_sign("POST", "/api/v1/keys/k/sign", None, ts, &nonce, body);
                assert!(auth::verify(&verifier, &sts, &sig));
                rt.block_on(async {
                    assert!(nonces.check_and_store("ak_bench", &nonce).await.unwrap());
                    limiter.hit("ak:ak_bench", &limit).await.unwrap();
                });
            })
        },
    );
}

fn http_sign(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let password = "bench password";
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\npbkdf2_iterations = 10000\n\
         [limits.access_keys.default]\nrequests = 1000000000\nwindow_seconds = 60\n\
         [limits.keys.default]\nrequests = 1000000000\nwindow_seconds = 60\n",
        dir.path().display()
    );
    let config = Config::from_parts(&text, &|_| None, password).unwrap();
    let (addr, state, creds) = rt.block_on(async {
        let state = kms_gateway::server::build_state(config, password).await.unwrap();
        let created = state
            .access_keys
            .create(kms_gateway::access_keys::NewAccessKey {
                owner: "bench".into(),
                permissions: vec![kms_gateway::access_keys::Permission::Admin],
                allow_ips: vec!["127.0.0.1/32".parse().unwrap()],
                ed25519_public_key: None,
                limit_class: None,
            })
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let s = state.clone();
        tokio::spawn(kms_gateway::server::serve(listener, s, std::future::pending()));
        (addr, state, created)
    });
    let api = state.backend.api();
    let key = rt
        .block_on(api.generate_key(&Principal::new("bench"), GenerateKey::new(Algorithm::Eddsa)))
        .unwrap();
    let http = reqwest::Client::new();
    let path = format!("/api/v1/keys/{}/sign", key.key_id);
    let body =
        serde_json::to_vec(&serde_json::json!({"data": "68656c6c6f", "data_type": "MESSAGE"})).unwrap();
    let secret = creds.secret_key.clone().unwrap();
    let n = AtomicU64::new(0);
    let mut group = c.benchmark_group("gateway/EdDSA sign 2-of-3");
    group.sample_size(30);
    group.bench_function("over HTTP (signed request, loopback)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    .to_string();
                let nonce = format!("bench-{:016}", n.fetch_add(1, Ordering::Relaxed));
                let sts = string_to_sign("POST", &path, None, &ts, &nonce, &body);
                let resp = http
                    .post(format!("http://{addr}{path}"))
                    .header("X-KMS-Access-Key", &creds.access_key)
                    .header("X-KMS-Timestamp", &ts)
                    .header("X-KMS-Nonce", &nonce)
                    .header("X-KMS-Signature", hmac_signature(secret.as_bytes(), &sts))
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                resp.bytes().await.unwrap();
            })
        })
    });
    group.bench_function("same cluster without HTTP", |b| {
        b.iter(|| {
            rt.block_on(api.sign(&Principal::new("bench"), &key.key_id, b"hello"))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, auth_and_limits, http_sign);
criterion_main!(benches);
