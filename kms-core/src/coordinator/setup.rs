//! GG18 aux material across the cluster: whether holders know each other's, the
//! exchange that fixes it, a node's refresh of its own, and the fresh material every
//! holder needs before a key refresh (which re-keys each holder's Paillier key).

use super::*;

/// How long a key refresh waits for its holders to have fresh aux material (safe-prime
/// generation on a busy node can take minutes).
const REFRESH_AUX_WAIT: Duration = Duration::from_secs(30 * 60);
/// How often the holders are asked while the coordinator waits.
const REFRESH_AUX_POLL: Duration = Duration::from_millis(250);

impl Coordinator {
    /// Whether each of `nodes` holds verified GG18 aux material of every other one.
    pub async fn gg18_aux_complete(&self, nodes: &[NodeId]) -> Result<bool, KmsError> {
        let mut own = BTreeMap::new();
        let mut held = BTreeMap::new();
        for node in nodes {
            match self.call(node, NodeRequest::AuxStatus).await? {
                NodeResponse::AuxPeers { own: o, peers } => {
                    own.insert(node, o);
                    held.insert(node, peers.into_iter().collect::<BTreeMap<NodeId, [u8; 32]>>());
                }
                other => return Err(unexpected(node, &other)),
            }
        }
        // Complete when every node holds, for every other one, exactly the material
        // that node has now (a refreshed node's old material does not count).
        Ok(nodes.iter().all(|a| {
            nodes
                .iter()
                .filter(|b| *b != a)
                .all(|b| match (own.get(b), held.get(a)) {
                    (Some(Some(current)), Some(known)) => known.get(b) == Some(current),
                    _ => false,
                })
        }))
    }

    /// Replace a node's GG18 aux material (its Paillier key and ring-Pedersen
    /// parameters) and make every other node forget the old one, so the next key with
    /// this node exchanges anew. Keys made before keep signing with the material in
    /// their shares.
    pub async fn refresh_node_aux(&self, user: &str, node: &NodeId) -> Result<(), KmsError> {
        let started = Instant::now();
        let result = self.refresh_node_aux_inner(node).await;
        let op = Operation {
            event_type: AuditEventType::ConfigChange,
            name: "refresh_node_aux",
            user,
            key: None,
            data: node.as_str().as_bytes(),
        };
        self.audited(op, started, result, |_| {
            format!("GG18 aux material of {node} replaced")
        })
        .await
    }

    pub(super) async fn refresh_node_aux_inner(&self, node: &NodeId) -> Result<(), KmsError> {
        if !self.nodes.contains(node) {
            return Err(KmsError::InvalidRequest(format!(
                "{node} is not a node of this cluster"
            )));
        }
        match self.call(node, NodeRequest::RefreshAux).await? {
            NodeResponse::Ack => {}
            other => return Err(unexpected(node, &other)),
        }
        // Telling the peers saves a round trip; a peer that misses it is caught anyway,
        // because completeness compares digests of the material each node holds now.
        for peer in self.nodes.iter().filter(|n| *n != node) {
            if let Err(e) = self
                .call(peer, NodeRequest::ForgetPeerAux { node: node.clone() })
                .await
            {
                warn!(node = %peer, error = %e, "could not tell a node to forget refreshed aux material");
            }
        }
        Ok(())
    }

    /// Wait until every holder of a GG18 key has fresh aux material ready for the
    /// refresh (normally at once: nodes keep a pool, filled in the background; an empty
    /// pool starts generating when asked), logging progress. The node calls stay short,
    /// so slow prime generation never hits the call timeout.
    pub(super) async fn ensure_gg18_refresh_aux(&self, parties: &Parties) -> Result<(), KmsError> {
        let started = Instant::now();
        let mut last_report = Instant::now();
        loop {
            let mut waiting = Vec::new();
            for node in parties.values() {
                match self.call(node, NodeRequest::PrepareRefreshAux).await? {
                    NodeResponse::AuxPoolReady { ready } if ready > 0 => {}
                    NodeResponse::AuxPoolReady { .. } => waiting.push(node.clone()),
                    other => return Err(unexpected(node, &other)),
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if started.elapsed() > REFRESH_AUX_WAIT {
                return Err(KmsError::Node {
                    node: waiting[0].clone(),
                    message: "no fresh GG18 aux material for the refresh in time".into(),
                });
            }
            if last_report.elapsed() >= Duration::from_secs(10) || started.elapsed() < REFRESH_AUX_POLL {
                info!(waiting = ?waiting, elapsed_s = started.elapsed().as_secs(), "key refresh waits for fresh GG18 aux material");
                last_report = Instant::now();
            }
            tokio::time::sleep(REFRESH_AUX_POLL).await;
        }
    }

    /// Make sure every holder of a new GG18 key has verified every other holder's aux
    /// material (done once per pair of nodes, then reused for every key); if any pair
    /// is missing, the holders run an aux exchange.
    pub(super) async fn ensure_gg18_aux(&self, parties: &Parties) -> Result<(), KmsError> {
        let nodes: Vec<NodeId> = parties.values().cloned().collect();
        if self.gg18_aux_complete(&nodes).await? {
            return Ok(());
        }
        info!(nodes = ?parties.values().collect::<Vec<_>>(), "exchanging GG18 aux material");
        let session = self.with_rng_do(SessionId::random);
        let starts = parties
            .values()
            .map(|n| {
                (
                    n.clone(),
                    NodeRequest::StartAuxExchange {
                        session,
                        parties: session_parties(parties),
                    },
                )
            })
            .collect();
        let outcomes = self.run_session(session, parties, starts).await?;
        match outcomes.iter().find(|(_, o)| **o != SessionOutcome::AuxExchanged) {
            Some((node, _)) => Err(node_error(node, "answered an aux exchange with another outcome")),
            None => Ok(()),
        }
    }
}
