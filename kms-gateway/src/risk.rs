//! The risk rules of `kms_core::policy` behind the gateway's [`PolicyHook`].
//!
//! The rules come from the file named by `risk_rules` in the configuration (JSON, or TOML
//! when the name ends in `.toml`; the format is in `docs/policy.md`). They are checked
//! when loaded, so a malformed rule stops the gateway at start rather than letting a
//! request through. A sign request's payload is decoded with `kms_chains` (the same
//! decoding the signing uses) so rules can limit values, recipients, chain ids and
//! EIP-712 domains.
//!
//! Signing counts for `max_signs_per_hour` / `max_signs_per_day` are kept in this
//! process: with several gateway instances each counts its own signings, so configure
//! those limits per instance (or use the Redis rate limits, which are global).

use crate::hooks::{Operation, PolicyHook, PolicyRequest, Verdict};
use async_trait::async_trait;
use kms_client::kms_chains::{self, DataType};
use kms_core::audit::{AuditEvent, AuditEventType, AuditResult};
use kms_core::policy::{self, Decision, RuleSet, SignContext, SigningHistory};
use kms_core::ports::AuditLog;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

/// The operation name of the audit record written when the rules in force change.
pub const RULES_AUDIT_OPERATION: &str = "risk_rules";

/// Read and check the rule file.
pub fn load_rules(path: &Path) -> Result<RuleSet, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("risk rules {}: {e}", path.display()))?;
    let rules: RuleSet = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).map_err(|e| format!("risk rules {}: {e}", path.display()))?
    } else {
        serde_json::from_str(&text).map_err(|e| format!("risk rules {}: {e}", path.display()))?
    };
    rules
        .validate()
        .map_err(|e| format!("risk rules {}: {e}", path.display()))?;
    Ok(rules)
}

/// Record a `CONFIG_CHANGE` when the rules in force differ from the last ones the audit
/// log recorded (so a restart with the same file writes nothing, and any edit is seen).
pub async fn audit_if_changed(audit: &dyn AuditLog, rules: &RuleSet, now_ms: u64) -> Result<bool, String> {
    let digest = rules.digest();
    let records = audit.records().await.map_err(|e| e.to_string())?;
    let last = records.iter().rev().find(|r| {
        r.event.event_type == AuditEventType::ConfigChange && r.event.operation == RULES_AUDIT_OPERATION
    });
    if last.is_some_and(|r| r.event.data_hash == digest) {
        return Ok(false);
    }
    let names: Vec<&str> = rules.rules.iter().map(|r| r.name.as_str()).collect();
    audit
        .append(AuditEvent {
            event_type: AuditEventType::ConfigChange,
            user_id: "kms-gateway".into(),
            key_id: None,
            operation: RULES_AUDIT_OPERATION.into(),
            result: AuditResult::Success,
            created_time: now_ms,
            service_name: "kms-gateway".into(),
            node_id: None,
            duration_ms: 0,
            data_hash: digest,
            audit_trail: format!("{} risk rule(s) in force: {}", names.len(), names.join(", ")),
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(true)
}

/// A [`PolicyHook`] that applies a [`RuleSet`].
pub struct RulesHook {
    rules: RuleSet,
    history: Mutex<HashMap<String, SigningHistory>>,
    clock: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for RulesHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesHook")
            .field("rules", &self.rules.rules.len())
            .finish_non_exhaustive()
    }
}

impl RulesHook {
    /// Apply `rules` (already validated), on the system clock.
    pub fn new(rules: RuleSet) -> Self {
        Self::with_clock(rules, Box::new(now_ms))
    }

    /// Apply `rules` on another clock (tests of time windows).
    pub fn with_clock(rules: RuleSet, clock: Box<dyn Fn() -> u64 + Send + Sync>) -> Self {
        Self {
            rules,
            history: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn counts(&self, key: &str, now: u64) -> (u64, u64) {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.get(key).map(|h| h.counts(now)).unwrap_or((0, 0))
    }

    fn record(&self, key: &str, now: u64) {
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.entry(key.to_string()).or_default().record(now);
    }
}

/// The payload as the chain layer decodes it, when it decodes; a payload that does not
/// decode is refused by the signing itself, and rules on its fields fail closed.
fn decode(
    request: &PolicyRequest<'_>,
    data_type: &str,
    data: &serde_json::Value,
) -> Option<serde_json::Value> {
    let data_type = DataType::from_str(data_type).ok()?;
    let kind = kms_client::key_kind(request.key.spec.curve).ok()?;
    let public_key = hex::decode(&request.key.public_key).ok()?;
    kms_chains::prepare(data_type, data, kind, &public_key)
        .ok()
        .map(|p| p.decoded().clone())
}

#[async_trait]
impl PolicyHook for RulesHook {
    async fn check(&self, request: &PolicyRequest<'_>) -> Verdict {
        let now = (self.clock)();
        let key_id = request.key.key_id.to_string();
        let algorithm = request.key.spec.algo_type.as_str().to_string();
        let status;
        let decoded;
        let operation = match request.operation {
            Operation::Sign { data_type, data } => {
                decoded = decode(request, data_type, data);
                policy::Operation::sign(data_type, decoded.as_ref())
            }
            Operation::StatusChange { to, .. } => {
                // The API's name (`DESTROYED`), as the rules write it.
                status = serde_json::to_value(to)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                policy::Operation::set_status(&status)
            }
        };
        let (hour, day) = self.counts(&key_id, now);
        let ctx = SignContext::new(&key_id, &algorithm, operation, now).with_counts(hour, day);
        match self.rules.evaluate(&ctx) {
            Decision::Allow => {
                if matches!(request.operation, Operation::Sign { .. }) {
                    // Counted when allowed, before it runs: a signing that then fails still
                    // counts, which errs on the side of the limit.
                    self.record(&key_id, now);
                }
                Verdict::Allow
            }
            Decision::Deny { rule, reason } => Verdict::Deny { rule, reason },
            Decision::RequireApproval { rules, approvals } => Verdict::NeedsApproval {
                rule: format!("{} ({approvals} approval(s))", rules.join(", ")),
            },
            _ => Verdict::Deny {
                rule: "policy".into(),
                reason: "the rules gave an answer this gateway does not know".into(),
            },
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(max: u64) -> RuleSet {
        serde_json::from_value(serde_json::json!({"rules": [
            {"name": "hourly", "check": {"max_signs_per_hour": max}, "action": "deny"}
        ]}))
        .unwrap()
    }

    #[tokio::test]
    async fn a_change_of_rules_is_audited_once() {
        let log = kms_storage::MemoryAuditLog::default();
        assert!(audit_if_changed(&log, &rules(1), 1).await.unwrap());
        assert!(
            !audit_if_changed(&log, &rules(1), 2).await.unwrap(),
            "same rules: nothing new"
        );
        assert!(audit_if_changed(&log, &rules(2), 3).await.unwrap());
        let records = log.records().await.unwrap();
        assert_eq!(records.len(), 2);
        let last = &records[1].event;
        assert_eq!(last.event_type, AuditEventType::ConfigChange);
        assert_eq!(last.data_hash, rules(2).digest());
        assert!(last.audit_trail.contains("hourly"), "{}", last.audit_trail);
    }

    #[test]
    fn toml_and_json_rule_files_load_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let toml_file = dir.path().join("rules.toml");
        std::fs::write(
            &toml_file,
            "[[rules]]\nname = \"hourly\"\naction = \"deny\"\n[rules.check]\nmax_signs_per_hour = 5\n",
        )
        .unwrap();
        assert_eq!(load_rules(&toml_file).unwrap(), rules(5));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"rules": [{"name": "x", "check": {"max_signs_per_hour": 1}, "action": {"require_approval": {"approvals": 0}}}]}"#).unwrap();
        let err = load_rules(&bad).unwrap_err();
        assert!(err.contains("\"x\"") && err.contains("approvals"), "{err}");
        assert!(load_rules(&dir.path().join("missing.json"))
            .unwrap_err()
            .contains("missing.json"));
    }
}
