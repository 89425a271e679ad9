//! The business rules in front of the keys: risk rules that allow, deny or hold back an
//! operation, and approvals that release a held-back one.
//!
//! Both are pure logic plus one storage port ([`ApprovalStore`]); the gateway (or any
//! host) supplies the request, the decoded payload, the clock and the counts, and runs
//! what they allow. They live here rather than in the gateway so a Rust service that
//! links the SDK directly applies the same rules.

mod approvals;
mod rules;

pub use approvals::{
    update_in, vote_in, ApprovalDecision, ApprovalError, ApprovalState, ApprovalStore, PendingRequest, Vote,
};
pub use rules::{
    Action, Check, Decision, Operation, RiskRule, RuleError, RuleSet, SignContext, SigningHistory,
    MAX_APPROVALS,
};

#[cfg(test)]
mod tests;
