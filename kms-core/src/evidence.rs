//! Evidence behind an accusation, and how the coordinator judges it.
//!
//! A node that names a culprit hands the coordinator the accused's messages of the
//! session as it received them (each signed by the accused) and, for a point-to-point
//! message, the [`OpeningKey`] of that one direction in that one session. The
//! coordinator believes nothing it cannot check:
//!
//! 1. every message must be signed by the accused's pinned identity, for this session,
//!    as the accused's party, and (point-to-point) addressed to the accuser and opened
//!    by the disclosed key. Evidence that fails any of this is forged: the accusation
//!    is **refuted** and the accuser is to blame;
//! 2. two different signed messages of the accused for the same round and recipient
//!    prove equivocation: **verified**, the accused is to blame;
//! 3. each message is re-checked on its own by the scheme's pure hook
//!    ([`kms_protocols::recheck`]): one that does not decode or carries an invalid
//!    scalar or point is **verified**, the accused is to blame; if the accuser claimed
//!    exactly that kind of fault ([`FaultKind::Malformed`]) and every message passes,
//!    the accusation is **refuted**;
//! 4. otherwise the fault lies in a check that needs state the coordinator does not
//!    hold (a proof under the accuser's own parameters, a share against commitments,
//!    an equation over several parties' values). The accusation is **disputed**: one
//!    of the two is dishonest (honest nodes never accuse each other, and relay faults
//!    are reported as such), so the coordinator never puts the two in one signer set
//!    again for that operation, and excludes neither.

use crate::domain::NodeId;
use crate::identity::PeerDirectory;
use crate::seal::{self, OpeningKey, SealedMessage};
use kms_protocols::recheck::{recheck, Recheck};
use kms_protocols::{Envelope, Fault, PartyIndex, ProtocolError, Recipient, SessionId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What kind of fault the accuser claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FaultKind {
    /// A payload does not decode, or carries an invalid scalar or group element:
    /// checkable from the message alone.
    Malformed,
    /// Two different messages for one round: checkable from the two signed messages.
    Equivocation,
    /// A check that needs more than the message (a proof, a share against
    /// commitments, an echo, a confirmation).
    Check,
}

impl FaultKind {
    /// The kind of a protocol fault.
    pub fn of(fault: &Fault) -> Self {
        match fault {
            Fault::Malformed(_) | Fault::InvalidElement(_) | Fault::InvalidScalar(_) => FaultKind::Malformed,
            Fault::Duplicate { .. } => FaultKind::Equivocation,
            _ => FaultKind::Check,
        }
    }
}

/// One message of the accused, as the accuser received it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evidence {
    /// The sealed message, signature included.
    pub sealed: SealedMessage,
    /// The key that opens it, for a point-to-point message.
    pub opening: Option<OpeningKey>,
}

/// A node's claim that a party of the session misbehaved, with its evidence.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Accusation {
    /// The accused party.
    pub accused: PartyIndex,
    /// The kind of fault claimed.
    pub kind: FaultKind,
    /// The protocol error as the accuser saw it (never secret material).
    pub message: String,
    /// The accused's messages of the session.
    pub evidence: Vec<Evidence>,
}

impl Accusation {
    /// The accusation a node makes from a protocol error that blames `accused`.
    pub fn from_error(accused: PartyIndex, error: &ProtocolError, evidence: Vec<Evidence>) -> Self {
        Self {
            accused,
            kind: error.fault().map_or(FaultKind::Check, FaultKind::of),
            message: error.to_string(),
            evidence,
        }
    }
}

/// How the coordinator judged an accusation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The evidence proves the accused misbehaved.
    Verified {
        /// The node to exclude.
        culprit: NodeId,
        /// What the evidence shows.
        reason: String,
    },
    /// The evidence is forged or contradicts the claim: the accuser misbehaved.
    Refuted {
        /// The accuser, to exclude.
        accuser: NodeId,
        /// Why the evidence does not hold.
        reason: String,
    },
    /// The claim is about a check the coordinator cannot re-run: one of the two is
    /// dishonest, and they never sign together again in this operation.
    Disputed {
        /// The accuser.
        accuser: NodeId,
        /// The accused.
        accused: NodeId,
        /// The claim.
        reason: String,
    },
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Verified { culprit, reason } => write!(f, "verified: {culprit} misbehaved: {reason}"),
            Verdict::Refuted { accuser, reason } => {
                write!(f, "refuted: {accuser} made an unproven accusation: {reason}")
            }
            Verdict::Disputed {
                accuser,
                accused,
                reason,
            } => write!(
                f,
                "disputed: {accuser} accuses {accused} of a fault the coordinator cannot check: {reason}"
            ),
        }
    }
}

/// Judge `accusation`, made by `accuser` in `session` among `parties` (see the module
/// documentation). Without a peer directory no signature can be checked, so nothing
/// is verified or refuted beyond the routing data: at most a dispute.
pub fn judge(
    directory: Option<&PeerDirectory>,
    session: &SessionId,
    parties: &BTreeMap<PartyIndex, NodeId>,
    accuser: &NodeId,
    accusation: &Accusation,
) -> Verdict {
    let refuted = |reason: String| Verdict::Refuted {
        accuser: accuser.clone(),
        reason,
    };
    let Some(accused) = parties.get(&accusation.accused) else {
        return refuted(format!(
            "accuses {}, not a party of the session",
            accusation.accused
        ));
    };
    if accused == accuser {
        return refuted("accuses itself".into());
    }
    let accuser_party = parties.iter().find(|(_, n)| *n == accuser).map(|(p, _)| *p);
    let disputed = |reason: String| Verdict::Disputed {
        accuser: accuser.clone(),
        accused: accused.clone(),
        reason,
    };
    let Some(directory) = directory else {
        return disputed(format!(
            "{} (no peer directory to check evidence with)",
            accusation.message
        ));
    };
    if accusation.evidence.is_empty() {
        return refuted(format!("no evidence for: {}", accusation.message));
    }
    let mut opened: Vec<Envelope> = Vec::new();
    for item in &accusation.evidence {
        let s = &item.sealed;
        if &s.from != accused || s.envelope.sender != accusation.accused {
            return refuted("evidence is a message of another party".into());
        }
        if &s.envelope.session != session {
            return refuted("evidence is a message of another session".into());
        }
        if seal::verify_sender(directory, s).is_err() {
            return refuted(format!("evidence is not signed by {accused}"));
        }
        if let Recipient::One(p) = s.envelope.recipient {
            if Some(p) != accuser_party || s.to.as_ref() != Some(accuser) {
                return refuted("evidence is a message to another party".into());
            }
        }
        match seal::open_disclosed(s, item.opening.as_ref()) {
            Ok(env) => opened.push(env),
            Err(_) => return refuted("the disclosed key does not open the evidence".into()),
        }
    }
    for (i, a) in opened.iter().enumerate() {
        for b in &opened[i + 1..] {
            if a.round == b.round && a.recipient == b.recipient && a.payload != b.payload {
                return Verdict::Verified {
                    culprit: accused.clone(),
                    reason: format!("signed two different messages for round {}", a.round),
                };
            }
        }
    }
    let mut all_known = true;
    for env in &opened {
        match recheck(env) {
            Recheck::Faulty(fault) => {
                return Verdict::Verified {
                    culprit: accused.clone(),
                    reason: format!("its signed round-{} message: {fault}", env.round),
                }
            }
            Recheck::WellFormed => {}
            Recheck::Unknown => all_known = false,
        }
    }
    match accusation.kind {
        FaultKind::Malformed if all_known => refuted(format!(
            "claims a malformed message, but every message of {accused} decodes: {}",
            accusation.message
        )),
        FaultKind::Equivocation => refuted(format!(
            "claims equivocation without two different messages of {accused}"
        )),
        _ => disputed(accusation.message.clone()),
    }
}
