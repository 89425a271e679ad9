//! Declarative risk rules: what a key may sign, how often, when, and within which
//! limits on the decoded payload; each rule denies or asks for approval.
//!
//! Rules are data (TOML or JSON through serde), so an operator changes them without a
//! build, and a change is one digest the audit log records (`CONFIG_CHANGE`). The
//! engine is pure: the host supplies the operation, the decoded payload (from
//! `kms-chains`' `Prepared::decoded()`), the clock and the signing counts, and gets a
//! [`Decision`] naming the rules that decided it.
//!
//! ```
//! use kms_core::policy::{Decision, Operation, RuleSet, SignContext};
//!
//! let rules: RuleSet = serde_json::from_value(serde_json::json!({"rules": [
//!     {"name": "eth-value-cap", "data_types": ["ETH_TX"],
//!      "check": {"field_max": {"field": "/value", "max": "1000000000000000000"}},
//!      "action": {"require_approval": {"approvals": 2}}}
//! ]})).unwrap();
//! let decoded = serde_json::json!({"chain_id": 1, "value": "5000000000000000000"});
//! let ctx = SignContext::new("key-1", "GG18", Operation::sign("ETH_TX", Some(&decoded)), 0);
//! match rules.evaluate(&ctx) {
//!     Decision::RequireApproval { rules, approvals } => {
//!         assert_eq!(rules, ["eth-value-cap"]);
//!         assert_eq!(approvals, 2);
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::fmt;

/// Milliseconds in an hour and a day: the windows of the counting checks.
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// The most approvals a rule may ask for; more is a configuration error, not a policy.
pub const MAX_APPROVALS: u8 = 16;

/// An ordered list of rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// The rules, evaluated in order; every one that applies and is violated counts.
    #[serde(default)]
    pub rules: Vec<RiskRule>,
}

/// One rule: where it applies, what it checks, and what a violation does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskRule {
    /// The name a denial or an approval request quotes.
    pub name: String,
    /// Key ids it applies to (empty: every key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_ids: Vec<String>,
    /// Algorithms (`GG18`, `EDDSA`, ...) it applies to (empty: every algorithm).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
    /// Sign data types (`HASH`, `ETH_TX`, ...) it applies to (empty: every sign request).
    /// A rule with data types never applies to a status change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_types: Vec<String>,
    /// What it checks.
    pub check: Check,
    /// What a violation does.
    pub action: Action,
}

/// What a rule checks. Every check describes what is allowed; the rule is violated when
/// the operation falls outside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Check {
    /// Signing is allowed only for these data types.
    AllowedDataTypes(Vec<String>),
    /// At most this many signings of the key in the last hour (this one included).
    MaxSignsPerHour(u64),
    /// At most this many signings of the key in the last 24 hours (this one included).
    MaxSignsPerDay(u64),
    /// Signing only inside this daily window, in UTC minutes since midnight
    /// (`from` inclusive, `to` exclusive; `from > to` wraps past midnight).
    TimeWindowUtc {
        /// Start, minutes after 00:00 UTC.
        from_minute: u16,
        /// End, minutes after 00:00 UTC.
        to_minute: u16,
    },
    /// A decoded field (a JSON pointer such as `/value`) is a non-negative integer
    /// (number or decimal string) no greater than `max`. A missing field violates it: a
    /// limit that cannot be checked does not pass.
    FieldMax {
        /// JSON pointer into the decoded payload.
        field: String,
        /// Largest allowed value, decimal.
        max: String,
    },
    /// A decoded field equals one of `values` (strings compare case-insensitively, so
    /// checksummed and lower-case addresses match). A missing field violates it.
    FieldOneOf {
        /// JSON pointer into the decoded payload.
        field: String,
        /// Allowed values.
        values: Vec<Value>,
    },
    /// A status change to one of these statuses (`FROZEN`, `DESTROYED`, ...) is a
    /// violation: pair it with `require_approval` to make such changes need approval.
    StatusChangeTo(Vec<String>),
}

/// What a violated rule does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Action {
    /// Refuse (403 `RISK_REJECTED`, naming the rule).
    Deny,
    /// Run only once this many approvers (never the requester) approved.
    RequireApproval {
        /// Approvals needed, 1 to [`MAX_APPROVALS`].
        approvals: u8,
    },
}

/// The operation a rule judges.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Operation<'a> {
    /// A signing of `data_type`, with the payload as the chain layer decoded it.
    Sign {
        /// The API's data type name.
        data_type: &'a str,
        /// The decoded payload, when the data type has one.
        decoded: Option<&'a Value>,
    },
    /// A change of the key's status to `to` (`ACTIVE`, `FROZEN`, `ARCHIVED`, `DESTROYED`).
    SetStatus {
        /// The status asked for.
        to: &'a str,
    },
}

impl<'a> Operation<'a> {
    /// A signing.
    pub fn sign(data_type: &'a str, decoded: Option<&'a Value>) -> Self {
        Self::Sign { data_type, decoded }
    }

    /// A status change.
    pub fn set_status(to: &'a str) -> Self {
        Self::SetStatus { to }
    }
}

/// Everything a rule may look at.
#[derive(Clone, Debug)]
pub struct SignContext<'a> {
    /// The key.
    pub key_id: &'a str,
    /// Its algorithm's name.
    pub algorithm: &'a str,
    /// What is asked.
    pub operation: Operation<'a>,
    /// Now, Unix milliseconds.
    pub now_ms: u64,
    /// Signings of the key in the last hour, before this one.
    pub signs_last_hour: u64,
    /// Signings of the key in the last 24 hours, before this one.
    pub signs_last_day: u64,
}

impl<'a> SignContext<'a> {
    /// A context with zero counts.
    pub fn new(key_id: &'a str, algorithm: &'a str, operation: Operation<'a>, now_ms: u64) -> Self {
        Self {
            key_id,
            algorithm,
            operation,
            now_ms,
            signs_last_hour: 0,
            signs_last_day: 0,
        }
    }

    /// With the key's signing counts (from [`SigningHistory`] or the host's counters).
    pub fn with_counts(mut self, last_hour: u64, last_day: u64) -> Self {
        self.signs_last_hour = last_hour;
        self.signs_last_day = last_day;
        self
    }
}

/// What the rules decided.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused by `rule` because `reason`.
    Deny {
        /// The first denying rule.
        rule: String,
        /// What the operation did that the rule does not allow (no secret in it).
        reason: String,
    },
    /// Needs `approvals` approvals, asked for by `rules`.
    RequireApproval {
        /// Every rule that asked.
        rules: Vec<String>,
        /// The most any of them asked for.
        approvals: u8,
    },
}

/// A rule set that cannot be used as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("risk rule {rule:?}: {problem}")]
pub struct RuleError {
    /// The rule's name (or its position when it has none).
    pub rule: String,
    /// What is wrong.
    pub problem: String,
}

impl RuleSet {
    /// Check the set once, when it is loaded, so evaluation never meets a malformed
    /// rule: names unique and non-empty, approvals within 1..=16, pointers well formed,
    /// maxima decimal, windows inside a day.
    pub fn validate(&self) -> Result<(), RuleError> {
        let mut names = std::collections::BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let err = |problem: String| RuleError {
                rule: if rule.name.is_empty() {
                    format!("#{i}")
                } else {
                    rule.name.clone()
                },
                problem,
            };
            if rule.name.trim().is_empty() {
                return Err(err("has no name".into()));
            }
            if !names.insert(rule.name.as_str()) {
                return Err(err("is named twice".into()));
            }
            if let Action::RequireApproval { approvals } = rule.action {
                if approvals == 0 || approvals > MAX_APPROVALS {
                    return Err(err(format!(
                        "asks for {approvals} approvals (1 to {MAX_APPROVALS})"
                    )));
                }
            }
            match &rule.check {
                Check::FieldMax { field, max } => {
                    check_pointer(field).map_err(err)?;
                    if parse_decimal(max).is_none() {
                        return Err(err(format!("max {max:?} is not a decimal integer")));
                    }
                }
                Check::FieldOneOf { field, values } => {
                    check_pointer(field).map_err(err)?;
                    if values.is_empty() {
                        return Err(err("allows no value".into()));
                    }
                }
                Check::TimeWindowUtc {
                    from_minute,
                    to_minute,
                } if *from_minute >= 1440 || *to_minute >= 1440 || from_minute == to_minute => {
                    return Err(err(format!(
                        "window {from_minute}..{to_minute} is not inside one day"
                    )));
                }
                Check::StatusChangeTo(statuses) if !rule.data_types.is_empty() => {
                    return Err(err(format!(
                        "checks status changes but is limited to data types {statuses:?}"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The SHA-256 of the canonical JSON of the set, hex: what the audit records
    /// when the rules change.
    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }

    /// Judge `ctx`: the first denial wins; otherwise every rule asking for approval is
    /// named and the largest count asked for is required.
    pub fn evaluate(&self, ctx: &SignContext<'_>) -> Decision {
        let mut asking = Vec::new();
        let mut approvals = 0u8;
        for rule in &self.rules {
            if !rule.applies_to(ctx) {
                continue;
            }
            let Some(reason) = rule.check.violation(ctx) else {
                continue;
            };
            match rule.action {
                Action::Deny => {
                    return Decision::Deny {
                        rule: rule.name.clone(),
                        reason,
                    }
                }
                Action::RequireApproval { approvals: n } => {
                    asking.push(rule.name.clone());
                    approvals = approvals.max(n);
                }
            }
        }
        if asking.is_empty() {
            Decision::Allow
        } else {
            Decision::RequireApproval {
                rules: asking,
                approvals,
            }
        }
    }
}

impl RiskRule {
    fn applies_to(&self, ctx: &SignContext<'_>) -> bool {
        let listed = |list: &[String], value: &str| {
            list.is_empty() || list.iter().any(|v| v.eq_ignore_ascii_case(value))
        };
        if !listed(&self.key_ids, ctx.key_id) || !listed(&self.algorithms, ctx.algorithm) {
            return false;
        }
        match ctx.operation {
            Operation::Sign { data_type, .. } => listed(&self.data_types, data_type),
            Operation::SetStatus { .. } => self.data_types.is_empty(),
        }
    }
}

impl Check {
    /// Why `ctx` falls outside what this check allows, or `None` when it passes (or
    /// does not concern this kind of operation).
    fn violation(&self, ctx: &SignContext<'_>) -> Option<String> {
        if let Check::StatusChangeTo(statuses) = self {
            return match ctx.operation {
                Operation::SetStatus { to } if statuses.iter().any(|s| s.eq_ignore_ascii_case(to)) => {
                    Some(format!("a change to {to}"))
                }
                _ => None,
            };
        }
        let Operation::Sign { data_type, decoded } = ctx.operation else {
            return None;
        };
        match self {
            Check::AllowedDataTypes(allowed) => (!allowed.iter().any(|a| a.eq_ignore_ascii_case(data_type)))
                .then(|| format!("data type {data_type} is not allowed for this key")),
            Check::MaxSignsPerHour(max) => (ctx.signs_last_hour >= *max).then(|| {
                format!(
                    "{} signings in the last hour (at most {max})",
                    ctx.signs_last_hour
                )
            }),
            Check::MaxSignsPerDay(max) => (ctx.signs_last_day >= *max)
                .then(|| format!("{} signings in the last 24 h (at most {max})", ctx.signs_last_day)),
            Check::TimeWindowUtc {
                from_minute,
                to_minute,
            } => {
                let minute = ((ctx.now_ms % DAY_MS) / 60_000) as u16;
                let inside = if from_minute < to_minute {
                    (*from_minute..*to_minute).contains(&minute)
                } else {
                    minute >= *from_minute || minute < *to_minute
                };
                (!inside).then(|| {
                    format!(
                        "{} UTC is outside {} to {}",
                        hhmm(minute),
                        hhmm(*from_minute),
                        hhmm(*to_minute)
                    )
                })
            }
            Check::FieldMax { field, max } => {
                let Some(value) = decoded.and_then(|d| d.pointer(field)) else {
                    return Some(format!("{field} is missing from the {data_type} payload"));
                };
                let limit = parse_decimal(max)?;
                match value_decimal(value) {
                    None => Some(format!("{field} is not a non-negative integer")),
                    Some(v) if compare_decimal(&v, &limit) == Ordering::Greater => {
                        Some(format!("{field} {v} is above {max}"))
                    }
                    Some(_) => None,
                }
            }
            Check::FieldOneOf { field, values } => {
                let Some(value) = decoded.and_then(|d| d.pointer(field)) else {
                    return Some(format!("{field} is missing from the {data_type} payload"));
                };
                (!values.iter().any(|allowed| same_value(allowed, value)))
                    .then(|| format!("{field} {value} is not among the allowed values"))
            }
            Check::StatusChangeTo(_) => None,
        }
    }
}

/// Values compare as JSON, except strings (case-insensitive) and a number against its
/// decimal string (chain ids arrive as either).
fn same_value(allowed: &Value, actual: &Value) -> bool {
    match (allowed, actual) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Value::Number(_), Value::String(_)) | (Value::String(_), Value::Number(_)) => {
            match (value_decimal(allowed), value_decimal(actual)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
        }
        _ => allowed == actual,
    }
}

fn check_pointer(field: &str) -> Result<(), String> {
    if field.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "field {field:?} is not a JSON pointer (it starts with '/')"
        ))
    }
}

/// A non-negative decimal integer of any size, without leading zeros.
fn parse_decimal(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 100 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = s.trim_start_matches('0');
    Some(if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.into()
    })
}

fn value_decimal(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) => parse_decimal(s),
        _ => None,
    }
}

/// Compare two normalised decimals: a longer one is larger, then digit by digit.
fn compare_decimal(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The signing times of one key, for the counting checks of a single process (the
/// gateway keeps them in Redis when it runs as several instances).
#[derive(Clone, Debug, Default)]
pub struct SigningHistory {
    times_ms: std::collections::VecDeque<u64>,
}

impl SigningHistory {
    /// Record a signing at `now_ms`, forgetting what is older than a day.
    pub fn record(&mut self, now_ms: u64) {
        while self
            .times_ms
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) >= DAY_MS)
        {
            self.times_ms.pop_front();
        }
        self.times_ms.push_back(now_ms);
    }

    /// Signings in the last hour and the last day before `now_ms`.
    pub fn counts(&self, now_ms: u64) -> (u64, u64) {
        // A signing at `t` is inside the window while `now - t < window`.
        let since = |window: u64| {
            self.times_ms
                .iter()
                .filter(|&&t| t <= now_ms && now_ms - t < window)
                .count() as u64
        };
        (since(HOUR_MS), since(DAY_MS))
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow => f.write_str("allowed"),
            Decision::Deny { rule, reason } => write!(f, "denied by rule {rule}: {reason}"),
            Decision::RequireApproval { rules, approvals } => {
                write!(f, "{approvals} approval(s) required by {}", rules.join(", "))
            }
        }
    }
}
