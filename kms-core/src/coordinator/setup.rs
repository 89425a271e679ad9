//! Node setup material across the cluster, for every scheme that has some: whether
//! holders know each other's, the exchange that fixes it, a node's renewal of its own,
//! and the fresh material every holder needs before a key refresh that re-keys it.

use super::*;
use crate::schemes::Scheme;

/// How long a key refresh waits for its holders to have fresh setup material (e.g.
/// safe-prime generation on a busy node can take minutes).
const REFRESH_SETUP_WAIT: Duration = Duration::from_secs(30 * 60);
/// How often the holders are asked while the coordinator waits.
const REFRESH_SETUP_POLL: Duration = Duration::from_millis(250);

impl Coordinator {
    /// Whether each of `nodes` holds verified setup material of `algorithm` of every
    /// other one, matching what that node holds now (a renewed node's old material does
    /// not count).
    pub async fn setup_complete(&self, algorithm: Algorithm, nodes: &[NodeId]) -> Result<bool, KmsError> {
        let mut held = BTreeMap::new();
        for node in nodes {
            match self.call(node, NodeRequest::SetupStatus { algorithm }).await? {
                NodeResponse::SetupStatus { pairs } => {
                    held.insert(node, pairs.into_iter().collect::<BTreeMap<NodeId, [u8; 32]>>());
                }
                other => return Err(unexpected(node, &other)),
            }
        }
        // Complete when both sides of every pair report the same fingerprint of it.
        Ok(nodes.iter().all(|a| {
            nodes.iter().filter(|b| *b != a).all(|b| {
                match (
                    held.get(a).and_then(|h| h.get(b)),
                    held.get(b).and_then(|h| h.get(a)),
                ) {
                    (Some(x), Some(y)) => x == y,
                    _ => false,
                }
            })
        }))
    }

    /// Replace a node's own setup material of `algorithm` and make every other node
    /// forget the old one, so the next key with this node exchanges anew. Keys made
    /// before keep signing with the material in their shares.
    pub async fn renew_node_setup(
        &self,
        user: &Principal,
        algorithm: Algorithm,
        node: &NodeId,
    ) -> Result<(), KmsError> {
        let started = Instant::now();
        let result = self.renew_node_setup_inner(algorithm, node).await;
        let op = Operation {
            event_type: AuditEventType::ConfigChange,
            name: "renew_node_setup",
            user,
            key: None,
            data: node.as_str().as_bytes(),
        };
        self.audited(op, started, result, |_| {
            format!("{algorithm} setup material of {node} replaced")
        })
        .await
    }

    async fn renew_node_setup_inner(&self, algorithm: Algorithm, node: &NodeId) -> Result<(), KmsError> {
        if !self.nodes.contains(node) {
            return Err(KmsError::InvalidRequest(format!(
                "{node} is not a node of this cluster"
            )));
        }
        match self.call(node, NodeRequest::RenewSetup { algorithm }).await? {
            NodeResponse::Ack => {}
            other => return Err(unexpected(node, &other)),
        }
        // Telling the peers saves a round trip; a peer that misses it is caught anyway,
        // because completeness compares fingerprints of the material each side holds.
        for peer in self.nodes.iter().filter(|n| *n != node) {
            let req = NodeRequest::ForgetPeerSetup {
                algorithm,
                node: node.clone(),
            };
            if let Err(e) = self.call(peer, req).await {
                warn!(node = %peer, error = %e, "could not tell a node to forget renewed setup material");
            }
        }
        Ok(())
    }

    /// Wait until every holder of a key has fresh setup material ready for a refresh
    /// that re-keys it (normally at once: nodes keep a pool, filled in the background;
    /// an empty pool starts generating when asked), logging progress. The node calls
    /// stay short, so slow generation never hits the call timeout.
    pub(super) async fn ensure_refresh_setup(
        &self,
        scheme: &dyn Scheme,
        parties: &Parties,
    ) -> Result<(), KmsError> {
        if scheme.setup().is_none_or(|s| s.refresh_pool() == 0) {
            return Ok(());
        }
        let algorithm = scheme.algorithm();
        let started = Instant::now();
        let mut last_report = Instant::now();
        loop {
            let mut waiting = Vec::new();
            for node in parties.values() {
                match self
                    .call(node, NodeRequest::PrepareRefreshSetup { algorithm })
                    .await?
                {
                    NodeResponse::SetupPoolReady { ready } if ready > 0 => {}
                    NodeResponse::SetupPoolReady { .. } => waiting.push(node.clone()),
                    other => return Err(unexpected(node, &other)),
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if started.elapsed() > REFRESH_SETUP_WAIT {
                return Err(KmsError::Node {
                    node: waiting[0].clone(),
                    message: format!("no fresh {algorithm} setup material for the refresh in time"),
                });
            }
            if last_report.elapsed() >= Duration::from_secs(10) || started.elapsed() < REFRESH_SETUP_POLL {
                info!(waiting = ?waiting, %algorithm, elapsed_s = started.elapsed().as_secs(), "key refresh waits for fresh setup material");
                last_report = Instant::now();
            }
            tokio::time::sleep(REFRESH_SETUP_POLL).await;
        }
    }

    /// Make sure every holder of a new key has verified every other holder's setup
    /// material (done once per pair of nodes, then reused for every key); if any pair
    /// is missing, the holders run a setup exchange.
    pub(super) async fn ensure_setup(&self, scheme: &dyn Scheme, parties: &Parties) -> Result<(), KmsError> {
        if scheme.setup().is_none() {
            return Ok(());
        }
        let algorithm = scheme.algorithm();
        let nodes: Vec<NodeId> = parties.values().cloned().collect();
        if self.setup_complete(algorithm, &nodes).await? {
            return Ok(());
        }
        info!(nodes = ?nodes, %algorithm, "exchanging node setup material");
        let session = self.with_rng_do(SessionId::random);
        let starts = parties
            .values()
            .map(|n| {
                (
                    n.clone(),
                    NodeRequest::StartSetupExchange {
                        algorithm,
                        session,
                        parties: session_parties(parties),
                    },
                )
            })
            .collect();
        let outcomes = self.run_session(session, parties, starts).await?;
        match outcomes
            .iter()
            .find(|(_, o)| **o != SessionOutcome::SetupExchanged)
        {
            Some((node, _)) => Err(node_error(node, "answered a setup exchange with another outcome")),
            None => Ok(()),
        }
    }
}
