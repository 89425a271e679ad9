//! The gateway's HTTP API against a real `kms-gateway` process (in-process nodes under
//! its data directory): every endpoint, every error code it answers, request signing
//! refusals, rate limits, idempotent retries; signatures verified with ed25519-dalek,
//! blst and k256.

mod common;

use common::*;
use serde_json::json;

fn ed_verify(public_key_hex: &str, msg: &[u8], sig_hex: &str) {
    let vk =
        ed25519_dalek::VerifyingKey::from_bytes(&hex::decode(public_key_hex).unwrap().try_into().unwrap())
            .unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&unhex(sig_hex)).unwrap();
    vk.verify_strict(msg, &sig).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_generated_read_listed_signed_and_frozen() {
    let g = Gateway::start("");
    let admin = g.create_key("alice", "admin");

    // EdDSA key: the key object, exactly.
    let a = call(
        &g,
        &admin,
        "POST",
        "/api/v1/keys/generate",
        Some(
            &json!({"format": {"type": "EDDSA", "curve": "ED25519", "algo_type": "EDDSA", "size": 32},
                     "shard_properties": {"shard_count": 3, "threshold": 2}}),
        ),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let ed = a.body.clone();
    let id = ed["key_id"].as_str().unwrap().to_string();
    assert_eq!(ed["status"], "ACTIVE");
    assert_eq!(
        ed["format"],
        json!({"type": "EDDSA", "curve": "ED25519", "algo_type": "EDDSA", "size": 32})
    );
    assert_eq!(ed["shard_properties"], json!({"shard_count": 3, "threshold": 2}));
    assert_eq!(hex::decode(ed["public_key"].as_str().unwrap()).unwrap().len(), 32);
    assert_eq!(ed["address"], ed["addresses"]["solana"], "{ed}");
    assert!(ed["created_time"].as_u64().unwrap() > 1_600_000_000_000);
    assert!(ed.get("holders").is_none());

    // GET adds holders, version, updated_time.
    let a = call(
        &g,
        &admin,
        "GET",
        &format!("/api/v1/keys/{id}"),
        None,
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["holders"].as_array().unwrap().len(), 3);
    assert!(a.body["holders"][0].as_str().unwrap().starts_with("tss"));
    assert_eq!(a.body["version"], 0);
    assert!(a.body["updated_time"].is_u64());
    assert!(a.headers["x-request-id"].to_str().unwrap().starts_with("req_"));

    // Sign a message; verify strictly.
    let msg = b"pay 1 SOL to bob";
    let a = call(
        &g,
        &admin,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&json!({"data": hex::encode(msg), "data_type": "MESSAGE"})),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["key_id"], id.as_str());
    assert_eq!(a.body["data_type"], "MESSAGE");
    ed_verify(
        ed["public_key"].as_str().unwrap(),
        msg,
        a.body["signature"].as_str().unwrap(),
    );

    // A BLS key (format by algo_type alone, split omitted), signed and verified with blst.
    let a = call(
        &g,
        &admin,
        "POST",
        "/api/v1/keys/generate",
        Some(&json!({"format": {"algo_type": "BLS"}})),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let bls = a.body.clone();
    assert_eq!(bls["address"], serde_json::Value::Null);
    assert_eq!(bls["shard_properties"], json!({"shard_count": 3, "threshold": 2}));
    let bls_id = bls["key_id"].as_str().unwrap();
    let a = call(
        &g,
        &admin,
        "POST",
        &format!("/api/v1/keys/{bls_id}/sign"),
        Some(&json!({"data": hex::encode(b"attest"), "data_type": "MESSAGE"})),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let sig = unhex(a.body["signature"].as_str().unwrap());
    assert_eq!(sig.len(), 96);
    let pk = blst::min_pk::PublicKey::from_bytes(&hex::decode(bls["public_key"].as_str().unwrap()).unwrap())
        .unwrap();
    let sig = blst::min_pk::Signature::from_bytes(&sig).unwrap();
    assert_eq!(
        sig.verify(
            true,
            b"attest",
            b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_",
            &[],
            &pk,
            true
        ),
        blst::BLST_ERROR::BLST_SUCCESS
    );

    // List, paged.
    let a = call(&g, &admin, "GET", "/api/v1/keys?limit=1", None, Opts::default()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["keys"].as_array().unwrap().len(), 1);
    let cursor = a.body["next_cursor"].as_str().unwrap().to_string();
    let a2 = call(
        &g,
        &admin,
        "GET",
        &format!("/api/v1/keys?cursor={cursor}&limit=1"),
        None,
        Opts::default(),
    )
    .await;
    assert_eq!(a2.status, 200, "{}", a2.body);
    assert_eq!(a2.body["keys"].as_array().unwrap().len(), 1);
    assert_eq!(a2.body["next_cursor"], serde_json::Value::Null);
    let mut ids: Vec<String> = [&a.body, &a2.body]
        .iter()
        .map(|b| b["keys"][0]["key_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut want = vec![id.clone(), bls_id.to_string()];
    want.sort();
    assert_eq!(ids, want);
    let a = call(&g, &admin, "GET", "/api/v1/keys?limit=0", None, Opts::default()).await;
    assert_error(&a, 400, "INVALID_REQUEST");

    // Freeze: signing answers 409 KEY_NOT_ACTIVE; re-activate: it signs again.
    let status = |s: &str| json!({"status": s, "reason": "test"});
    let a = call(
        &g,
        &admin,
        "PUT",
        &format!("/api/v1/keys/{id}/status"),
        Some(&status("FROZEN")),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "FROZEN");
    let sign_body = json!({"data": hex::encode(msg), "data_type": "MESSAGE"});
    let a = call(
        &g,
        &admin,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&sign_body),
        Opts::default(),
    )
    .await;
    assert_error(&a, 409, "KEY_NOT_ACTIVE");
    let a = call(
        &g,
        &admin,
        "PUT",
        &format!("/api/v1/keys/{id}/status"),
        Some(&status("ACTIVE")),
        Opts::default(),
    )
    .await;
    assert_eq!(a.body["status"], "ACTIVE", "{}", a.body);
    let a = call(
        &g,
        &admin,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&sign_body),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Archived never comes back.
    let a = call(
        &g,
        &admin,
        "PUT",
        &format!("/api/v1/keys/{bls_id}/status"),
        Some(&status("ARCHIVED")),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = call(
        &g,
        &admin,
        "PUT",
        &format!("/api/v1/keys/{bls_id}/status"),
        Some(&status("ACTIVE")),
        Opts::default(),
    )
    .await;
    assert_error(&a, 409, "KEY_NOT_ACTIVE");
    let a = call(
        &g,
        &admin,
        "PUT",
        &format!("/api/v1/keys/{bls_id}/status"),
        Some(&status("DESTROYING")),
        Opts::default(),
    )
    .await;
    assert_error(&a, 400, "INVALID_REQUEST");
    let a = call(
        &g,
        &admin,
        "PUT",
        &format!("/api/v1/keys/{bls_id}/status"),
        Some(&status("DESTROYED")),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "DESTROYED");

    // Unknown key, unknown or unfitting data type, malformed bodies, unknown route.
    let a = call(
        &g,
        &admin,
        "GET",
        "/api/v1/keys/doesnotexist",
        None,
        Opts::default(),
    )
    .await;
    assert_error(&a, 404, "KEY_NOT_FOUND");
    let a = call(
        &g,
        &admin,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&json!({"data": "00", "data_type": "FAX"})),
        Opts::default(),
    )
    .await;
    assert_error(&a, 422, "UNSUPPORTED_DATA_TYPE");
    let a = call(
        &g,
        &admin,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&json!({"data": hex::encode([0u8; 32]), "data_type": "HASH"})),
        Opts::default(),
    )
    .await;
    assert_error(&a, 422, "UNSUPPORTED_DATA_TYPE");
    let a = call(
        &g,
        &admin,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&json!({"data": "zz", "data_type": "MESSAGE"})),
        Opts::default(),
    )
    .await;
    assert_error(&a, 400, "INVALID_REQUEST");
    let a = call(
        &g,
        &admin,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&json!({"nope": 1})),
        Opts::default(),
    )
    .await;
    assert_error(&a, 400, "INVALID_REQUEST");
    let a = call(
        &g,
        &admin,
        "POST",
        "/api/v1/keys/generate",
        Some(&json!({"format": {"algo_type": "EDDSA", "curve": "SECP256K1"}})),
        Opts::default(),
    )
    .await;
    assert_error(&a, 400, "INVALID_REQUEST");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("format.curve"),
        "{}",
        a.body
    );
    let a = call(&g, &admin, "GET", "/api/v1/nothing", None, Opts::default()).await;
    assert_error(&a, 404, "NOT_FOUND");

    // Health and metrics.
    let h = http().get(g.url("/health")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    let m = http()
        .get(g.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains(
            "kms_gateway_requests_total{method=\"POST\",route=\"/api/v1/keys/{key_id}/sign\",status=\"200\"}"
        ),
        "{m}"
    );
    assert!(
        m.contains("kms_gateway_sign_duration_seconds_count{algorithm=\"EDDSA\"}"),
        "{m}"
    );
    assert!(m.contains("kms_gateway_nodes_up 4"), "{m}");

    // The served OpenAPI document is the committed one.
    let served: serde_json::Value = http()
        .get(g.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        served, committed,
        "docs/openapi.json is stale: run `kms-gateway openapi > docs/openapi.json`"
    );
    assert!(served["paths"]["/api/v1/keys/{key_id}/sign"]["post"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_stale_times_replays_and_foreign_addresses_are_refused() {
    let mut g = Gateway::start("");
    let alice = g.create_key("alice", "generate,read");
    let ok = call(&g, &alice, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    // Stale and future timestamps.
    for ts in [now_ms() - 301_000, now_ms() + 301_000] {
        let a = call(
            &g,
            &alice,
            "GET",
            "/api/v1/keys",
            None,
            Opts {
                timestamp: Some(ts.to_string()),
                ..Opts::default()
            },
        )
        .await;
        assert_error(&a, 401, "TIMESTAMP_OUT_OF_WINDOW");
    }
    // A replayed nonce.
    let nonce = random_hex(12);
    let first = call(
        &g,
        &alice,
        "GET",
        "/api/v1/keys",
        None,
        Opts {
            nonce: Some(nonce.clone()),
            ..Opts::default()
        },
    )
    .await;
    assert_eq!(first.status, 200);
    let again = call(
        &g,
        &alice,
        "GET",
        "/api/v1/keys",
        None,
        Opts {
            nonce: Some(nonce),
            ..Opts::default()
        },
    )
    .await;
    assert_error(&again, 401, "NONCE_REUSED");
    // Malformed nonce.
    let a = call(
        &g,
        &alice,
        "GET",
        "/api/v1/keys",
        None,
        Opts {
            nonce: Some("short".into()),
            ..Opts::default()
        },
    )
    .await;
    assert_error(&a, 400, "INVALID_REQUEST");
    // The body changed after signing.
    let a = call(
        &g,
        &alice,
        "POST",
        "/api/v1/keys/generate",
        Some(&json!({"format": {"algo_type": "EDDSA"}})),
        Opts {
            signed_body: Some(br#"{"format":{"algo_type":"BLS"}}"#.to_vec()),
            ..Opts::default()
        },
    )
    .await;
    assert_error(&a, 401, "SIGNATURE_MISMATCH");
    // A wrong secret.
    let wrong = Creds {
        access_key: alice.access_key.clone(),
        secret: Secret::Hmac(random_hex(32)),
    };
    let a = call(&g, &wrong, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_error(&a, 401, "SIGNATURE_MISMATCH");
    // Unknown access key.
    let ghost = Creds {
        access_key: "ak_000000000000000000000000".into(),
        secret: alice.secret.clone(),
    };
    let a = call(&g, &ghost, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_error(&a, 401, "UNKNOWN_ACCESS_KEY");
    // No headers at all.
    let a = http().get(g.url("/api/v1/keys")).send().await.unwrap();
    assert_eq!(a.status(), 401);

    // Missing permission.
    let a = call(
        &g,
        &alice,
        "PUT",
        "/api/v1/keys/k/status",
        Some(&json!({"status": "FROZEN"})),
        Opts::default(),
    )
    .await;
    assert_error(&a, 403, "PERMISSION_DENIED");
    assert!(
        a.body["error"]["message"].as_str().unwrap().contains("status"),
        "{}",
        a.body
    );

    // A client outside the allow-list: the same signed request from 127.0.0.2.
    let from2 = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let a = call(
        &g,
        &alice,
        "GET",
        "/api/v1/keys",
        None,
        Opts {
            client: Some(from2),
            ..Opts::default()
        },
    )
    .await;
    assert_error(&a, 403, "IP_NOT_ALLOWED");
    assert!(
        a.body["error"]["message"].as_str().unwrap().contains("127.0.0.2"),
        "{}",
        a.body
    );

    // An Ed25519 access key: the gateway keeps only its public key.
    let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let out = g.access_key(&[
        "create",
        "--owner",
        "bob",
        "--allow-ip",
        "127.0.0.0/8",
        "--permissions",
        "read",
        "--ed25519-public-key",
        &hex::encode(sk.verifying_key().as_bytes()),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("secret_key").is_none(), "{v}");
    let bob = Creds {
        access_key: v["access_key"].as_str().unwrap().into(),
        secret: Secret::Ed25519(sk),
    };
    let a = call(&g, &bob, "GET", "/api/v1/keys?limit=5", None, Opts::default()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let other = Creds {
        access_key: bob.access_key.clone(),
        secret: Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[8u8; 32])),
    };
    let a = call(&g, &other, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_error(&a, 401, "SIGNATURE_MISMATCH");

    // Rotate: the old secret stops working, the new one works.
    let out = g.access_key(&["rotate", &alice.access_key]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rotated = Creds {
        access_key: alice.access_key.clone(),
        secret: Secret::Hmac(v["secret_key"].as_str().unwrap().into()),
    };
    let a = call(&g, &alice, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_error(&a, 401, "SIGNATURE_MISMATCH");
    let a = call(&g, &rotated, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Disabled: refused at once by the running gateway.
    let out = g.access_key(&["disable", &alice.access_key]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = call(&g, &rotated, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_error(&a, 401, "UNKNOWN_ACCESS_KEY");
    assert!(
        a.body["error"]["message"].as_str().unwrap().contains("disabled"),
        "{}",
        a.body
    );

    // The list shows no secret.
    let out = g.access_key(&["list"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!text.contains("sealed"), "{text}");
    if let Secret::Hmac(s) = &rotated.secret {
        assert!(!text.contains(s.as_str()));
        let store = std::fs::read_to_string(g.dir.join("data/access_keys.json")).unwrap();
        assert!(!store.contains(s.as_str()), "secret in clear in the store");
    }

    // Graceful stop: the log is JSON lines and ends with "stopped".
    let log = g.stop();
    let last = log.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["fields"]["message"], "stopped", "{log}");
    assert!(!log.contains(match &rotated.secret {
        Secret::Hmac(s) => s.as_str(),
        _ => unreachable!(),
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_429_with_retry_after() {
    let g = Gateway::start(
        "[limits.access_keys.default]\nrequests = 3\nwindow_seconds = 60\nmode = \"fixed\"\n\
         [limits.access_keys.bulk]\nrequests = 100\nwindow_seconds = 60\n\
         [limits.keys.default]\nrequests = 2\nwindow_seconds = 60\nmode = \"sliding\"\n",
    );
    let k = g.create_key("alice", "read");
    for _ in 0..3 {
        let a = call(&g, &k, "GET", "/api/v1/keys", None, Opts::default()).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let a = call(&g, &k, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_error(&a, 429, "RATE_LIMITED");
    let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // Per key id: a bulk access key still meets the key's own limit.
    let out = g.access_key(&[
        "create",
        "--owner",
        "svc",
        "--allow-ip",
        "127.0.0.1",
        "--permissions",
        "generate,sign",
        "--limit-class",
        "bulk",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bulk = Creds {
        access_key: v["access_key"].as_str().unwrap().into(),
        secret: Secret::Hmac(v["secret_key"].as_str().unwrap().into()),
    };
    let a = call(
        &g,
        &bulk,
        "POST",
        "/api/v1/keys/generate",
        Some(&json!({"format": {"algo_type": "EDDSA"}})),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["key_id"].as_str().unwrap().to_string();
    let body = json!({"data": "00", "data_type": "MESSAGE"});
    for _ in 0..2 {
        let a = call(
            &g,
            &bulk,
            "POST",
            &format!("/api/v1/keys/{id}/sign"),
            Some(&body),
            Opts::default(),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let a = call(
        &g,
        &bulk,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&body),
        Opts::default(),
    )
    .await;
    assert_error(&a, 429, "RATE_LIMITED");
    assert!(
        a.body["error"]["message"].as_str().unwrap().contains(&id),
        "{}",
        a.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retries_answer_the_first_result_and_never_run_twice() {
    let g = Gateway::start("");
    let k = g.create_key("alice", "generate,sign,read");
    let gen = json!({"format": {"algo_type": "EDDSA"}});
    let idem = |s: &str| Opts {
        idempotency_key: Some(s.to_string()),
        ..Opts::default()
    };

    // Two concurrent generates with one key: one key is made, both get it.
    let (a, b) = tokio::join!(
        call(&g, &k, "POST", "/api/v1/keys/generate", Some(&gen), idem("gen-1")),
        call(&g, &k, "POST", "/api/v1/keys/generate", Some(&gen), idem("gen-1")),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(a.body, b.body);
    let c = call(&g, &k, "POST", "/api/v1/keys/generate", Some(&gen), idem("gen-1")).await;
    assert_eq!(c.body, a.body);
    assert_eq!(c.headers["idempotent-replayed"], "true");
    let list = call(&g, &k, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_eq!(list.body["keys"].as_array().unwrap().len(), 1, "{}", list.body);

    // Same key, other body: 409.
    let d = call(
        &g,
        &k,
        "POST",
        "/api/v1/keys/generate",
        Some(&json!({"format": {"algo_type": "BLS"}})),
        idem("gen-1"),
    )
    .await;
    assert_error(&d, 409, "IDEMPOTENCY_CONFLICT");

    // Signing: FROST signatures are randomised, so an equal answer is the first one
    // replayed, not a second signing.
    let id = a.body["key_id"].as_str().unwrap();
    let body = json!({"data": hex::encode(b"once"), "data_type": "MESSAGE"});
    let s1 = call(
        &g,
        &k,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&body),
        idem("sig-1"),
    )
    .await;
    let s2 = call(
        &g,
        &k,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&body),
        idem("sig-1"),
    )
    .await;
    let s3 = call(
        &g,
        &k,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&body),
        Opts::default(),
    )
    .await;
    assert_eq!(s1.status, 200, "{}", s1.body);
    assert_eq!(s1.body, s2.body);
    assert_ne!(
        s1.body["signature"], s3.body["signature"],
        "without the key, a second signing"
    );
    ed_verify(
        a.body["public_key"].as_str().unwrap(),
        b"once",
        s1.body["signature"].as_str().unwrap(),
    );
    // The same idempotency key from another access key is another key.
    let other = g.create_key("carol", "sign");
    let s4 = call(
        &g,
        &other,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&body),
        idem("sig-1"),
    )
    .await;
    assert_eq!(s4.status, 200);
    assert_ne!(s4.body["signature"], s1.body["signature"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gg18_keys_sign_hashes_that_k256_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let aux = write_aux_files(tmp.path());
    let g = Gateway::start_in(tmp.path(), &format!("gg18_aux_dir = \"{}\"\n", aux.display()));
    let k = g.create_key("alice", "generate,sign");
    // Both parts omitted: GG18, (2,3).
    let a = call(
        &g,
        &k,
        "POST",
        "/api/v1/keys/generate",
        Some(&json!({})),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["format"],
        json!({"type": "ECDSA", "curve": "SECP256K1", "algo_type": "GG18", "size": 32})
    );
    let pk = hex::decode(a.body["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(pk.len(), 33, "compressed SEC1");
    assert!(a.body["address"].as_str().unwrap().starts_with("0x"));
    let id = a.body["key_id"].as_str().unwrap();
    let digest: [u8; 32] = sha2_digest(b"transfer");
    let s = call(
        &g,
        &k,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&json!({"data": hex::encode(digest), "data_type": "HASH"})),
        Opts::default(),
    )
    .await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(unhex(s.body["digest"].as_str().unwrap()), digest);
    let sig = unhex(s.body["signature"].as_str().unwrap());
    assert_eq!(sig.len(), 65);
    assert_eq!(&sig[..32], unhex(s.body["r"].as_str().unwrap()));
    assert_eq!(&sig[32..64], unhex(s.body["s"].as_str().unwrap()));
    assert_eq!(u64::from(sig[64]), s.body["v"].as_u64().unwrap());
    let signature = k256::ecdsa::Signature::from_slice(&sig[..64]).unwrap();
    assert!(signature.normalize_s().is_none(), "low-s");
    let recid = k256::ecdsa::RecoveryId::from_byte(sig[64] - 27).unwrap();
    let recovered = k256::ecdsa::VerifyingKey::recover_from_prehash(&digest, &signature, recid).unwrap();
    assert_eq!(recovered.to_encoded_point(true).as_bytes(), pk.as_slice());
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    recovered.verify_prehash(&digest, &signature).unwrap();
    // A chain type through the same endpoint.
    let e = call(
        &g,
        &k,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&json!({"data": {"message": "Hello World"}, "data_type": "EIP191"})),
        Opts::default(),
    )
    .await;
    assert_eq!(e.status, 200, "{}", e.body);
    assert_eq!(
        hex::encode(unhex(e.body["digest"].as_str().unwrap())),
        "a1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2"
    );
}

fn sha2_digest(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
