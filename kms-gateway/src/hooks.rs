//! **The policy hook**: the one place where risk rules and approvals plug in. The
//! gateway calls [`PolicyHook::check`] after authentication and authorisation, before a
//! signing or a status change runs, and acts on the [`Verdict`]:
//!
//! - [`Verdict::Allow`]: the operation runs;
//! - [`Verdict::Deny`]: 403 `RISK_REJECTED` naming the rule;
//! - [`Verdict::NeedsApproval`]: the operation does not run. Until the approval flow is
//!   wired in, this answers 403 `RISK_REJECTED` saying which rule wants an approval.
//!
//! Two hooks exist: [`AllowAll`] when no rules are configured, and
//! [`crate::risk::RulesHook`], which applies the `risk_rules` file through kms-core's
//! `policy` module. The approval flow (202 `PENDING_APPROVAL`, `POST /approvals/{id}`) is
//! not served yet, so a rule that asks for approval refuses for now.

use crate::access_keys::AccessKeyRecord;
use async_trait::async_trait;
use kms_core::{KeyMetadata, KeyStatus};
use std::net::IpAddr;

/// What is about to happen.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    /// A signing: the data type and the request's `data` as sent.
    Sign {
        /// `HASH`, `MESSAGE`, `EIP191`, ...
        data_type: &'a str,
        /// The `data` field.
        data: &'a serde_json::Value,
    },
    /// A status change.
    StatusChange {
        /// The status asked for.
        to: KeyStatus,
        /// The reason given.
        reason: &'a str,
    },
}

/// Who asks, about which key, for what.
#[derive(Clone, Copy, Debug)]
pub struct PolicyRequest<'a> {
    /// The authenticated access key.
    pub access_key: &'a AccessKeyRecord,
    /// The client address.
    pub client_ip: IpAddr,
    /// The request id.
    pub request_id: &'a str,
    /// The key as read just before.
    pub key: &'a KeyMetadata,
    /// The operation.
    pub operation: Operation<'a>,
}

/// The hook's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Run it.
    Allow,
    /// Refuse it, naming the rule and why.
    Deny {
        /// The rule's name.
        rule: String,
        /// Why it denies.
        reason: String,
    },
    /// It needs an approval under `rule`.
    NeedsApproval {
        /// The rule's name.
        rule: String,
    },
}

/// Decides whether a signing or status change may run.
#[async_trait]
pub trait PolicyHook: Send + Sync {
    /// The verdict for `request`.
    async fn check(&self, request: &PolicyRequest<'_>) -> Verdict;
}

/// Allows everything (no rules configured).
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

#[async_trait]
impl PolicyHook for AllowAll {
    async fn check(&self, _request: &PolicyRequest<'_>) -> Verdict {
        Verdict::Allow
    }
}
