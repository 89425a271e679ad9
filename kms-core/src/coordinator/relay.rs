//! Running a session: start it on every party's node and relay sealed messages
//! until every node reports its outcome.
//!
//! The relay is trusted to route, not to judge: when a node accuses a peer, the
//! accusation is checked against its evidence ([`crate::evidence::judge`]) before anyone
//! is blamed, and a culprit named without evidence counts against the node that named
//! it.

use super::*;
use crate::evidence::{self, Verdict};

/// Whom a failed session is held against, after the coordinator's own checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Blame {
    /// One node: it failed to answer, emitted a message the relay refuses, was proven
    /// to cheat by evidence, or made an accusation its evidence does not support.
    Node(NodeId),
    /// Two nodes, one of which is dishonest: an accusation about a check the
    /// coordinator cannot re-run.
    Pair(NodeId, NodeId),
    /// Nobody identifiable (an abort without culprit, a relay fault, a local error).
    Nobody,
}

/// A failed session: the error to report and whom it is held against.
pub(super) struct Failure {
    pub(super) error: KmsError,
    pub(super) blame: Blame,
}

impl Failure {
    fn nobody(error: KmsError) -> Self {
        Self {
            error,
            blame: Blame::Nobody,
        }
    }

    /// Identified blame first, then a dispute, then none.
    fn rank(&self) -> u8 {
        match self.blame {
            Blame::Node(_) => 0,
            Blame::Pair(..) => 1,
            Blame::Nobody => 2,
        }
    }
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        let blame = match &e {
            TransportError::Unreachable(n, _) | TransportError::Timeout(n) => Blame::Node(n.clone()),
            TransportError::BadMessage(..) => Blame::Nobody,
        };
        Self {
            error: KmsError::Transport(e),
            blame,
        }
    }
}

impl Coordinator {
    pub(super) async fn abort(&self, session: SessionId, parties: &Parties) {
        for node in parties.values() {
            let _ = self.call(node, NodeRequest::Abort { session }).await;
        }
    }

    /// Run one session to the end: start it on every party's node, then relay each
    /// outgoing message to its recipients until every node reports an outcome.
    pub(super) async fn run_session(
        &self,
        session: SessionId,
        parties: &Parties,
        starts: Vec<(NodeId, NodeRequest)>,
    ) -> Result<BTreeMap<NodeId, SessionOutcome>, KmsError> {
        self.run_session_judged(session, parties, starts)
            .await
            .map_err(|f| f.error)
    }

    /// [`Coordinator::run_session`], telling whom a failure is held against.
    pub(super) async fn run_session_judged(
        &self,
        session: SessionId,
        parties: &Parties,
        starts: Vec<(NodeId, NodeRequest)>,
    ) -> Result<BTreeMap<NodeId, SessionOutcome>, Failure> {
        let result = self.relay_judged(parties, starts).await;
        if result.is_err() {
            self.abort(session, parties).await;
        }
        result
    }

    /// The failure a node's accusation amounts to, once its evidence is judged.
    fn judge_accusation(
        &self,
        session: &SessionId,
        parties: &Parties,
        accuser: &NodeId,
        accusation: &evidence::Accusation,
    ) -> Failure {
        let verdict = evidence::judge(self.directory.as_ref(), session, parties, accuser, accusation);
        let fault = Some(crate::error::ProtocolFault {
            kind: accusation.kind,
            party: Some(accusation.accused),
            detail: accusation.message.clone(),
        });
        warn!(accuser = %accuser, verdict = %verdict, "accusation judged");
        let error = format!("{accuser}: {}; {verdict}", accusation.message);
        match verdict {
            Verdict::Verified { culprit, .. } => Failure {
                error: KmsError::Protocol {
                    culprit: Some(culprit.clone()),
                    fault,
                    error,
                },
                blame: Blame::Node(culprit),
            },
            Verdict::Refuted { accuser, .. } => Failure {
                error: KmsError::Protocol {
                    culprit: Some(accuser.clone()),
                    fault,
                    error,
                },
                blame: Blame::Node(accuser),
            },
            Verdict::Disputed { accuser, accused, .. } => Failure {
                error: KmsError::Protocol {
                    culprit: None,
                    fault,
                    error,
                },
                blame: Blame::Pair(accuser, accused),
            },
        }
    }

    pub(super) async fn relay_judged(
        &self,
        parties: &Parties,
        mut requests: Vec<(NodeId, NodeRequest)>,
    ) -> Result<BTreeMap<NodeId, SessionOutcome>, Failure> {
        let party_of: BTreeMap<&NodeId, PartyIndex> = parties.iter().map(|(p, n)| (n, *p)).collect();
        let session = match requests.first() {
            Some((_, NodeRequest::StartKeygen { session, .. }))
            | Some((_, NodeRequest::StartSetupExchange { session, .. }))
            | Some((_, NodeRequest::StartSign { session, .. }))
            | Some((_, NodeRequest::StartRefresh { session, .. })) => *session,
            _ => {
                return Err(Failure::nobody(KmsError::InvalidRequest(
                    "no session to run".into(),
                )))
            }
        };
        let mut outcomes = BTreeMap::new();
        while !requests.is_empty() {
            let calls = requests.drain(..).map(|(node, req)| async move {
                let r = self.call(&node, req).await;
                (node, r)
            });
            let mut inbound: BTreeMap<NodeId, Vec<SealedMessage>> = BTreeMap::new();
            // Every answer of the step is looked at before giving up, so that a proven
            // culprit is not hidden behind another node's unprovable accusation.
            let mut failures: Vec<Failure> = Vec::new();
            for (node, response) in join_all(calls).await {
                let (outgoing, outcome) = match response {
                    Err(e) => {
                        failures.push(e.into());
                        continue;
                    }
                    Ok(NodeResponse::Progress { outgoing, outcome }) => (outgoing, outcome),
                    Ok(NodeResponse::Accusation(a)) => {
                        failures.push(self.judge_accusation(&session, parties, &node, &a));
                        continue;
                    }
                    Ok(NodeResponse::Error {
                        culprit: Some(p),
                        message,
                        ..
                    }) => {
                        // A culprit named without evidence is not believed: the claim
                        // itself is the fault (honest nodes accuse with evidence).
                        let bare = evidence::Accusation {
                            accused: p,
                            kind: evidence::FaultKind::Check,
                            message,
                            evidence: Vec::new(),
                        };
                        failures.push(self.judge_accusation(&session, parties, &node, &bare));
                        continue;
                    }
                    Ok(NodeResponse::Error {
                        culprit: None,
                        message,
                        ..
                    }) => {
                        failures.push(Failure::nobody(KmsError::Protocol {
                            culprit: None,
                            fault: None,
                            error: format!("{node}: {message}"),
                        }));
                        continue;
                    }
                    Ok(NodeResponse::WrongEpoch { have, want }) => {
                        return Err(Failure::nobody(KmsError::EpochMismatch { node, have, want }))
                    }
                    Ok(other) => {
                        failures.push(Failure::nobody(unexpected(&node, &other)));
                        continue;
                    }
                };
                let sender = party_of[&node];
                for sealed in outgoing {
                    // The relay refuses to carry a message whose claimed sender is not
                    // the node that produced it (the receiving node checks the signature).
                    let env = &sealed.envelope;
                    if env.sender != sender || env.session != session || sealed.from != node {
                        failures.push(Failure {
                            error: KmsError::Protocol {
                                culprit: Some(node.clone()),
                                fault: None,
                                error: "emitted a message with a forged sender or session".into(),
                            },
                            blame: Blame::Node(node.clone()),
                        });
                        break;
                    }
                    let recipients: Vec<&NodeId> = match env.recipient {
                        Recipient::All => parties.values().filter(|n| **n != node).collect(),
                        Recipient::One(p) => match parties.get(&p) {
                            Some(n) if *n != node => vec![n],
                            _ => {
                                failures.push(Failure {
                                    error: KmsError::Protocol {
                                        culprit: Some(node.clone()),
                                        fault: None,
                                        error: format!("addressed a message to {p}, not a peer"),
                                    },
                                    blame: Blame::Node(node.clone()),
                                });
                                break;
                            }
                        },
                    };
                    for r in recipients {
                        inbound.entry(r.clone()).or_default().push(sealed.clone());
                    }
                }
                if let Some(o) = outcome {
                    outcomes.insert(node, o);
                }
            }
            if let Some(worst) = failures.into_iter().min_by_key(Failure::rank) {
                return Err(worst);
            }
            requests = inbound
                .into_iter()
                .map(|(node, messages)| (node, NodeRequest::Deliver { session, messages }))
                .collect();
        }
        if outcomes.len() != parties.len() {
            let missing: Vec<&NodeId> = parties.values().filter(|n| !outcomes.contains_key(*n)).collect();
            return Err(Failure::nobody(KmsError::Protocol {
                culprit: None,
                fault: None,
                error: format!("session stalled; no outcome from {missing:?}"),
            }));
        }
        Ok(outcomes)
    }
}
