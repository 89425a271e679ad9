//! Approvals: an operation the risk rules hold back waits for a quorum of approvers,
//! none of them the requester, then runs once.
//!
//! A [`PendingRequest`] is a small state machine (`PENDING_APPROVAL` → `APPROVED` →
//! `EXECUTING` → `COMPLETED` | `FAILED`, or `REJECTED` / `EXPIRED`); the store behind
//! [`ApprovalStore`] arbitrates between gateway instances with a compare-and-swap on the
//! request's version, so two approvers racing, or two instances both seeing the quorum,
//! still run the operation once.
//!
//! ```
//! use kms_core::policy::{ApprovalDecision, ApprovalState, PendingRequest};
//!
//! let mut req = PendingRequest::new("req-1", "alice", Some("key-1".into()), "sign",
//!     serde_json::json!({"data": "00"}), 2, vec!["big-value".into()], 0, 3_600_000);
//! assert!(req.vote("alice", ApprovalDecision::Approve, 1).is_err()); // no self-approval
//! req.vote("bob", ApprovalDecision::Approve, 2).unwrap();
//! assert_eq!(req.state, ApprovalState::PendingApproval);
//! req.vote("carol", ApprovalDecision::Approve, 3).unwrap();
//! assert_eq!(req.state, ApprovalState::Approved);
//! ```

use crate::error::StorageError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Where a held-back request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ApprovalState {
    /// Waiting for approvers.
    PendingApproval,
    /// The quorum approved; not yet run.
    Approved,
    /// One instance took it to run (no other may).
    Executing,
    /// It ran; `result` holds the answer.
    Completed,
    /// It ran and failed; `result` holds the error.
    Failed,
    /// An approver rejected it.
    Rejected,
    /// Nobody decided in time.
    Expired,
}

impl ApprovalState {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingApproval => "PENDING_APPROVAL",
            Self::Approved => "APPROVED",
            Self::Executing => "EXECUTING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Rejected => "REJECTED",
            Self::Expired => "EXPIRED",
        }
    }

    /// No vote can change it any more.
    pub fn is_decided(self) -> bool {
        !matches!(self, Self::PendingApproval)
    }
}

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An approver's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApprovalDecision {
    /// Let it run.
    Approve,
    /// Refuse it (one rejection decides).
    Reject,
}

/// One recorded vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Who voted (an access key's owner).
    pub approver: String,
    /// What they said.
    pub decision: ApprovalDecision,
    /// When, Unix milliseconds.
    pub at_ms: u64,
}

/// Why a vote or a transition was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// The requester tried to approve their own request.
    #[error("{approver} asked for request {request_id} and cannot approve it")]
    SelfApproval {
        /// The request.
        request_id: String,
        /// The requester.
        approver: String,
    },
    /// The approver already voted.
    #[error("{approver} already voted on request {request_id}")]
    AlreadyVoted {
        /// The request.
        request_id: String,
        /// The approver.
        approver: String,
    },
    /// The request is no longer open to this step.
    #[error("request {request_id} is {state}")]
    NotPending {
        /// The request.
        request_id: String,
        /// Its state.
        state: ApprovalState,
    },
    /// No such request.
    #[error("no request {0}")]
    NotFound(String),
    /// Another instance changed the request first; read it again.
    #[error("request {0} changed meanwhile")]
    Conflict(String),
}

/// A held-back operation and its votes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingRequest {
    /// The id the requester was given (202 `request_id`).
    pub request_id: String,
    /// Who asked (an access key's owner).
    pub requester: String,
    /// The key concerned.
    pub key_id: Option<String>,
    /// The operation (`sign`, `set_status`).
    pub operation: String,
    /// The request as received, to run once approved (no secret: sign data is what
    /// the key will sign, which the approvers must see).
    pub body: Value,
    /// Approvals needed.
    pub required: u8,
    /// The rules that asked for approval.
    pub rules: Vec<String>,
    /// Votes so far.
    pub votes: Vec<Vote>,
    /// Where it stands.
    pub state: ApprovalState,
    /// The answer (or error) once run.
    pub result: Option<Value>,
    /// Created, Unix milliseconds.
    pub created_ms: u64,
    /// Expires (undecided), Unix milliseconds.
    pub expires_ms: u64,
    /// Bumped by every change; the store's compare-and-swap checks it.
    pub version: u64,
}

impl PendingRequest {
    /// A request waiting for `required` approvals, open for `ttl_ms`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        request_id: impl Into<String>,
        requester: impl Into<String>,
        key_id: Option<String>,
        operation: impl Into<String>,
        body: Value,
        required: u8,
        rules: Vec<String>,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Self {
        Self {
            request_id: request_id.into(),
            requester: requester.into(),
            key_id,
            operation: operation.into(),
            body,
            required: required.max(1),
            rules,
            votes: Vec::new(),
            state: ApprovalState::PendingApproval,
            result: None,
            created_ms: now_ms,
            expires_ms: now_ms.saturating_add(ttl_ms),
            version: 0,
        }
    }

    /// Approvals so far.
    pub fn approvals(&self) -> usize {
        self.votes
            .iter()
            .filter(|v| v.decision == ApprovalDecision::Approve)
            .count()
    }

    /// Record `approver`'s vote: the requester may not vote, nobody votes twice, and
    /// only a pending, unexpired request takes votes. One rejection rejects; the
    /// `required`-th approval approves.
    pub fn vote(
        &mut self,
        approver: &str,
        decision: ApprovalDecision,
        now_ms: u64,
    ) -> Result<ApprovalState, ApprovalError> {
        self.expire_if_due(now_ms);
        if self.state != ApprovalState::PendingApproval {
            return Err(self.not_pending());
        }
        if approver == self.requester {
            return Err(ApprovalError::SelfApproval {
                request_id: self.request_id.clone(),
                approver: approver.into(),
            });
        }
        if self.votes.iter().any(|v| v.approver == approver) {
            return Err(ApprovalError::AlreadyVoted {
                request_id: self.request_id.clone(),
                approver: approver.into(),
            });
        }
        self.votes.push(Vote {
            approver: approver.into(),
            decision,
            at_ms: now_ms,
        });
        self.state = match decision {
            ApprovalDecision::Reject => ApprovalState::Rejected,
            ApprovalDecision::Approve if self.approvals() >= usize::from(self.required) => {
                ApprovalState::Approved
            }
            ApprovalDecision::Approve => ApprovalState::PendingApproval,
        };
        self.version += 1;
        Ok(self.state)
    }

    /// Take an approved request to run it: only from `APPROVED`, so of two instances
    /// that both try, the store's compare-and-swap lets one through.
    pub fn start(&mut self) -> Result<(), ApprovalError> {
        if self.state != ApprovalState::Approved {
            return Err(self.not_pending());
        }
        self.state = ApprovalState::Executing;
        self.version += 1;
        Ok(())
    }

    /// Record the outcome of the run.
    pub fn finish(&mut self, ok: bool, result: Value) -> Result<(), ApprovalError> {
        if self.state != ApprovalState::Executing {
            return Err(self.not_pending());
        }
        self.state = if ok {
            ApprovalState::Completed
        } else {
            ApprovalState::Failed
        };
        self.result = Some(result);
        self.version += 1;
        Ok(())
    }

    /// Turn a pending request past its expiry into `EXPIRED`; true if it changed.
    pub fn expire_if_due(&mut self, now_ms: u64) -> bool {
        if self.state == ApprovalState::PendingApproval && now_ms >= self.expires_ms {
            self.state = ApprovalState::Expired;
            self.version += 1;
            true
        } else {
            false
        }
    }

    fn not_pending(&self) -> ApprovalError {
        ApprovalError::NotPending {
            request_id: self.request_id.clone(),
            state: self.state,
        }
    }
}

/// Where pending requests live: shared by every gateway instance (MySQL), or in this
/// process (memory, single instance).
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Store a new request (its id must be new).
    async fn insert(&self, request: &PendingRequest) -> Result<(), StorageError>;
    /// Read a request.
    async fn get(&self, request_id: &str) -> Result<Option<PendingRequest>, StorageError>;
    /// Replace the request if its stored version is still `expected_version`; false
    /// when someone else changed it first.
    async fn compare_and_swap(
        &self,
        expected_version: u64,
        request: &PendingRequest,
    ) -> Result<bool, StorageError>;
}

/// Vote through a store: read, vote, compare-and-swap, retrying a few times when
/// another approver's vote lands in between.
pub async fn vote_in(
    store: &dyn ApprovalStore,
    request_id: &str,
    approver: &str,
    decision: ApprovalDecision,
    now_ms: u64,
) -> Result<Result<PendingRequest, ApprovalError>, StorageError> {
    update_in(store, request_id, |r| {
        r.vote(approver, decision, now_ms).map(|_| ())
    })
    .await
}

/// Apply `change` through the store with compare-and-swap, retrying up to 8 times on a
/// lost race. The outer error is the store's; the inner one the state machine's.
pub async fn update_in(
    store: &dyn ApprovalStore,
    request_id: &str,
    mut change: impl FnMut(&mut PendingRequest) -> Result<(), ApprovalError>,
) -> Result<Result<PendingRequest, ApprovalError>, StorageError> {
    for _ in 0..8 {
        let Some(mut request) = store.get(request_id).await? else {
            return Ok(Err(ApprovalError::NotFound(request_id.into())));
        };
        let before = request.version;
        if let Err(e) = change(&mut request) {
            return Ok(Err(e));
        }
        if store.compare_and_swap(before, &request).await? {
            return Ok(Ok(request));
        }
    }
    Ok(Err(ApprovalError::Conflict(request_id.into())))
}
