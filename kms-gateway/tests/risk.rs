//! Risk rules in a real `kms-gateway` process: a rule file is loaded at start, a
//! malformed one stops the start naming the rule, a denial answers 403 `RISK_REJECTED`
//! naming the rule, a rule on the decoded payload sees what the chain layer decoded, the
//! counting rules count, and a rule asking for approval holds the operation back.

mod common;

use common::*;
use serde_json::json;

const RULES: &str = r#"{"rules": [
  {"name": "ed25519-messages-only", "algorithms": ["EDDSA"],
   "check": {"allowed_data_types": ["MESSAGE"]}, "action": "deny"},
  {"name": "short-messages", "data_types": ["MESSAGE"],
   "check": {"field_max": {"field": "/length", "max": "32"}}, "action": "deny"},
  {"name": "three-an-hour", "check": {"max_signs_per_hour": 3}, "action": "deny"},
  {"name": "destroy-needs-approval", "check": {"status_change_to": ["DESTROYED"]},
   "action": {"require_approval": {"approvals": 2}}}
]}"#;

async fn sign(g: &Gateway, k: &Creds, id: &str, body: serde_json::Value) -> Answer {
    call(
        g,
        k,
        "POST",
        &format!("/api/v1/keys/{id}/sign"),
        Some(&body),
        Opts::default(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_deny_by_name_see_decoded_payloads_count_and_hold_back_destruction() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules.json");
    std::fs::write(&rules, RULES).unwrap();
    let g = Gateway::start(&format!("risk_rules = \"{}\"", rules.display()));
    let k = g.create_key("alice", "generate,sign,read,status");

    let a = call(
        &g,
        &k,
        "POST",
        "/api/v1/keys/generate",
        Some(&json!({"format": {"algo_type": "EDDSA"}})),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["key_id"].as_str().unwrap().to_string();

    // Another data type than the key's allowed one.
    let a = sign(
        &g,
        &k,
        &id,
        json!({"data_type": "SOLANA_MESSAGE", "data": {"message": "00"}}),
    )
    .await;
    assert_error(&a, 403, "RISK_REJECTED");
    let msg = a.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("ed25519-messages-only") && msg.contains("SOLANA_MESSAGE"),
        "{msg}"
    );

    // The decoded length of a 33-byte message is above the rule's maximum.
    let a = sign(
        &g,
        &k,
        &id,
        json!({"data_type": "MESSAGE", "data": "11".repeat(33)}),
    )
    .await;
    assert_error(&a, 403, "RISK_REJECTED");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("short-messages"),
        "{}",
        a.body
    );

    // Three signings an hour pass (refusals do not count), the fourth is denied.
    for i in 0..3u8 {
        let a = sign(
            &g,
            &k,
            &id,
            json!({"data_type": "MESSAGE", "data": hex::encode([i; 32])}),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let a = sign(&g, &k, &id, json!({"data_type": "MESSAGE", "data": "ff"})).await;
    assert_error(&a, 403, "RISK_REJECTED");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("three-an-hour"),
        "{}",
        a.body
    );

    // Freezing is not held back; destroying is, and the key is left as it was.
    let status = |s: &str| json!({"status": s, "reason": "test"});
    let a = call(
        &g,
        &k,
        "PUT",
        &format!("/api/v1/keys/{id}/status"),
        Some(&status("FROZEN")),
        Opts::default(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = call(
        &g,
        &k,
        "PUT",
        &format!("/api/v1/keys/{id}/status"),
        Some(&status("DESTROYED")),
        Opts::default(),
    )
    .await;
    assert_error(&a, 403, "RISK_REJECTED");
    let msg = a.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("destroy-needs-approval") && msg.contains("2 approval"),
        "{msg}"
    );
    let a = call(
        &g,
        &k,
        "GET",
        &format!("/api/v1/keys/{id}"),
        None,
        Opts::default(),
    )
    .await;
    assert_eq!(a.body["status"], "FROZEN", "{}", a.body);
}

#[test]
fn a_malformed_rule_file_stops_the_start_and_names_the_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"rules": [{"name": "cap", "check": {"field_max": {"field": "value", "max": "1"}}, "action": "deny"}]}"#,
    )
    .unwrap();
    let config = tmp.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\npbkdf2_iterations = 10000\nrisk_rules = \"{}\"\n",
            tmp.path().join("data").display(),
            rules.display()
        ),
    )
    .unwrap();
    let out = gateway_bin()
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"cap\"") && stderr.contains("JSON pointer"),
        "{stderr}"
    );
}
