//! Running a session: start it on every party's node and relay sealed messages
//! until every node reports its outcome.

use super::*;

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
        let result = self.relay(parties, starts).await;
        if result.is_err() {
            self.abort(session, parties).await;
        }
        result
    }

    pub(super) async fn relay(
        &self,
        parties: &Parties,
        mut requests: Vec<(NodeId, NodeRequest)>,
    ) -> Result<BTreeMap<NodeId, SessionOutcome>, KmsError> {
        let party_of: BTreeMap<&NodeId, PartyIndex> = parties.iter().map(|(p, n)| (n, *p)).collect();
        let session = match requests.first() {
            Some((_, NodeRequest::StartKeygen { session, .. }))
            | Some((_, NodeRequest::StartAuxExchange { session, .. }))
            | Some((_, NodeRequest::StartSign { session, .. }))
            | Some((_, NodeRequest::StartRefresh { session, .. })) => *session,
            _ => return Err(KmsError::InvalidRequest("no session to run".into())),
        };
        let mut outcomes = BTreeMap::new();
        while !requests.is_empty() {
            let calls = requests.drain(..).map(|(node, req)| async move {
                let r = self.call(&node, req).await;
                (node, r)
            });
            let mut inbound: BTreeMap<NodeId, Vec<SealedMessage>> = BTreeMap::new();
            for (node, response) in join_all(calls).await {
                let (outgoing, outcome) = match response? {
                    NodeResponse::Progress { outgoing, outcome } => (outgoing, outcome),
                    NodeResponse::Error { culprit, message } => {
                        let culprit = culprit.and_then(|p| parties.get(&p).cloned());
                        return Err(KmsError::Protocol {
                            culprit,
                            error: format!("{node}: {message}"),
                        });
                    }
                    NodeResponse::WrongEpoch { have, want } => {
                        return Err(KmsError::EpochMismatch { node, have, want })
                    }
                    other => return Err(unexpected(&node, &other)),
                };
                let sender = party_of[&node];
                for sealed in outgoing {
                    // The relay refuses to carry a message whose claimed sender is not
                    // the node that produced it (the receiving node checks the signature).
                    let env = &sealed.envelope;
                    if env.sender != sender || env.session != session || sealed.from != node {
                        return Err(KmsError::Protocol {
                            culprit: Some(node.clone()),
                            error: "emitted a message with a forged sender or session".into(),
                        });
                    }
                    let recipients: Vec<&NodeId> = match env.recipient {
                        Recipient::All => parties.values().filter(|n| **n != node).collect(),
                        Recipient::One(p) => match parties.get(&p) {
                            Some(n) if *n != node => vec![n],
                            _ => {
                                return Err(KmsError::Protocol {
                                    culprit: Some(node.clone()),
                                    error: format!("addressed a message to {p}, not a peer"),
                                })
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
            requests = inbound
                .into_iter()
                .map(|(node, messages)| (node, NodeRequest::Deliver { session, messages }))
                .collect();
        }
        if outcomes.len() != parties.len() {
            let missing: Vec<&NodeId> = parties.values().filter(|n| !outcomes.contains_key(*n)).collect();
            return Err(KmsError::Protocol {
                culprit: None,
                error: format!("session stalled; no outcome from {missing:?}"),
            });
        }
        Ok(outcomes)
    }
}
