//! Two gateway processes over one MariaDB (access keys) and one Redis (nonces, rate
//! limits, idempotency keys): what one instance saw, the other refuses or replays. The
//! Redis URL is written encrypted (`kms-gateway encrypt-secret`) in both configs.
//! Needs the local MariaDB (127.0.0.1:3306, root, database `test`) and Redis
//! (127.0.0.1:6379), as `.ci/run` starts them.

mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::process::Stdio;

fn mysql_url() -> String {
    std::env::var("KMS_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn encrypt(value: &str) -> String {
    let mut child = gateway_bin()
        .args(["encrypt-secret", "--pbkdf2-iterations", "10000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(value.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(line.starts_with("enc:v1:10000:"), "{line}");
    assert!(!line.contains(value));
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_access_keys_nonces_limits_and_idempotency() {
    let tag = random_hex(4);
    let redis = encrypt("redis://127.0.0.1:6379");
    let mysql = encrypt(&mysql_url());
    let extra = format!(
        "mysql_url = \"{mysql}\"\nmysql_table_prefix = \"gw{tag}_\"\nredis_url = \"{redis}\"\nredis_prefix = \"kmstest:{tag}:\"\n\
         [limits.access_keys.default]\nrequests = 5\nwindow_seconds = 60\nmode = \"sliding\"\n"
    );
    let a = Gateway::start(&extra);
    let b = Gateway::start(&extra);
    // Created through A's config, in MySQL: B knows it at once.
    let k = a.create_key("alice", "generate,read");

    // A nonce used on A is refused on B.
    let nonce = random_hex(12);
    let r = call(
        &a,
        &k,
        "GET",
        "/api/v1/keys",
        None,
        Opts {
            nonce: Some(nonce.clone()),
            ..Opts::default()
        },
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &b,
        &k,
        "GET",
        "/api/v1/keys",
        None,
        Opts {
            nonce: Some(nonce),
            ..Opts::default()
        },
    )
    .await;
    assert_error(&r, 401, "NONCE_REUSED");

    // An idempotency key used on A is answered by B with A's answer: no second key.
    let gen = json!({"format": {"algo_type": "EDDSA"}});
    let idem = Opts {
        idempotency_key: Some(format!("shared-{tag}")),
        ..Opts::default()
    };
    let first = call(&a, &k, "POST", "/api/v1/keys/generate", Some(&gen), idem.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = call(&b, &k, "POST", "/api/v1/keys/generate", Some(&gen), idem).await;
    assert_eq!(again.body, first.body);
    let listed = call(&b, &k, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_eq!(
        listed.body["keys"].as_array().unwrap().len(),
        0,
        "B made no key: {}",
        listed.body
    );

    // 4 requests counted so far (the replayed nonce was refused before counting) against
    // a global limit of 5: one more passes, then both instances refuse.
    let r = call(&b, &k, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for g in [&a, &b] {
        let r = call(g, &k, "GET", "/api/v1/keys", None, Opts::default()).await;
        assert_error(&r, 429, "RATE_LIMITED");
        assert!(r.headers.contains_key("retry-after"));
    }

    // Disabled through B: refused by A.
    let out = b.access_key(&["disable", &k.access_key]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = call(&a, &k, "GET", "/api/v1/keys", None, Opts::default()).await;
    assert_error(&r, 401, "UNKNOWN_ACCESS_KEY");

    // Clean up the tables of this test.
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&mysql_url())
        .await
        .unwrap();
    for t in ["gateway_access_keys", "gateway_settings"] {
        sqlx::query(&format!("DROP TABLE IF EXISTS `gw{tag}_{t}`"))
            .execute(&pool)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_start_password_is_named_and_nothing_starts() {
    let g = Gateway::start("");
    let out = gateway_bin()
        .env("KMS_GATEWAY_PASSWORD", "not the password")
        .arg("--config")
        .arg(&g.config)
        .args(["access-key", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("start password"), "{err}");
}
