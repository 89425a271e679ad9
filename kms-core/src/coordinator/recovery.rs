//! Crash recovery and reconciliation between the metadata store and what the nodes
//! hold.
//!
//! The rule that keeps it safe: recovery removes a shard only when something that
//! knows the key says so. A node's own pending mark (its generation never completed), a
//! key the metadata says is DESTROYING or DESTROYED, or a shard older than the key's
//! epoch (a refresh moved on without it). A shard nobody can account for is reported
//! and kept; a metadata store that does not belong to the nodes' cluster stops recovery
//! before anything changes; a lost metadata store is rebuilt from what the holders
//! record about their keys.

use super::*;
use crate::audit::AuditEventType;
use crate::rpc::{HeldKey, HeldKeyReport};

/// How [`Coordinator::recover_with`] may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// Rebuild the metadata of keys their holders know and the store does not (a lost
    /// or emptied store). Rebuilt keys come back FROZEN: a lost database must not
    /// unfreeze or un-archive a key, so an operator re-activates them. When false, such
    /// keys stop recovery with [`KmsError::MetadataMismatch`] if the store holds no
    /// cluster id, and are reported in `unknown_shards` otherwise.
    pub rebuild_missing: bool,
    /// Work out and report what recovery would do; change nothing.
    pub report_only: bool,
    /// Act on keys whose lease is live (held by another coordinator instance). Only for
    /// a coordinator that knows it is alone, e.g. an in-process cluster that holds the
    /// exclusive lock of its database file; otherwise leased keys are left for a later
    /// pass and listed in `busy`.
    pub break_leases: bool,
}

impl Default for RecoveryOptions {
    fn default() -> Self {
        Self {
            rebuild_missing: true,
            report_only: false,
            break_leases: false,
        }
    }
}

impl RecoveryOptions {
    /// Report only: nothing is changed anywhere.
    pub fn report_only() -> Self {
        Self {
            report_only: true,
            ..Self::default()
        }
    }
}

/// What [`Coordinator::recover`] found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The cluster's id (recorded in the store and on every reachable node).
    pub cluster: Option<ClusterId>,
    /// Generations that never completed, now removed everywhere.
    pub abandoned_generations: Vec<KeyId>,
    /// Generations every holder had stored and one had confirmed: finished to ACTIVE.
    pub completed_generations: Vec<KeyId>,
    /// Generations whose holders could not all be reached; still `GENERATING`.
    pub pending: Vec<KeyId>,
    /// Shards a node itself marked pending, of a key without metadata: removed.
    pub orphan_shards: Vec<(NodeId, KeyId)>,
    /// Shards nobody can account for (no metadata, no pending mark, not rebuildable, or
    /// on a node that is not a holder): kept, for an operator to look at.
    pub unknown_shards: Vec<(NodeId, KeyId)>,
    /// Keys whose metadata was rebuilt from their holders (as FROZEN).
    pub rebuilt: Vec<KeyId>,
    /// Holders whose staged refresh was committed to match the key's epoch.
    pub rolled_forward: Vec<(NodeId, KeyId)>,
    /// Shards older than their key's epoch (e.g. from a restored backup): removed, and
    /// the node taken off the key's holders.
    pub stale_shards_removed: Vec<(NodeId, KeyId)>,
    /// Shards of DESTROYING or DESTROYED keys found on a node (a destroy that did not
    /// reach it, or a restored backup): removed.
    pub destroyed_shards_removed: Vec<(NodeId, KeyId)>,
    /// Destroys finished: DESTROYING keys now DESTROYED.
    pub destroyed: Vec<KeyId>,
    /// Keys left alone because another operation holds their lease.
    pub busy: Vec<KeyId>,
}

/// What each reachable node reported.
type Holdings = BTreeMap<NodeId, BTreeMap<KeyId, HeldKeyReport>>;

impl Coordinator {
    /// Remove what a failed generation left: shards on every holder, then the metadata.
    pub(super) async fn discard_key(&self, key_id: &KeyId, parties: &Parties) {
        for node in parties.values() {
            if let Err(e) = self
                .call(
                    node,
                    NodeRequest::DeleteShard {
                        key_id: key_id.clone(),
                    },
                )
                .await
            {
                warn!(node = %node, key = %key_id, error = %e, "could not remove shard of failed generation");
            }
        }
        if let Err(e) = self.metadata.delete(key_id).await {
            warn!(key = %key_id, error = %e, "could not remove metadata of failed generation");
        }
    }

    /// [`Coordinator::recover_with`] with the default options: rebuild lost metadata,
    /// finish what crashes interrupted, remove only what the rule above allows. Call it
    /// when the coordinator starts, before it serves requests.
    pub async fn recover(&self) -> Result<RecoveryReport, KmsError> {
        self.recover_with(RecoveryOptions::default()).await
    }

    /// Reconcile the metadata store with the reachable nodes:
    /// - check that store and nodes belong to one cluster (else
    ///   [`KmsError::MetadataMismatch`], nothing changed), recording the id where missing;
    /// - rebuild metadata the store lost from the holders' records (as FROZEN);
    /// - a `GENERATING` key is finished if every holder stored its shard and one
    ///   confirmed it, else its shards are removed where their node marked them pending;
    /// - a holder left behind by an interrupted refresh commits its staged shard; a
    ///   shard older than its key's epoch with nothing to commit is removed (audited);
    /// - a `DESTROYING` key is destroyed on every holder, then marked `DESTROYED`; a
    ///   shard of a destroyed key found again (a restored backup) is removed (audited).
    ///
    /// Nodes unreachable now are left for a later pass.
    pub async fn recover_with(&self, options: RecoveryOptions) -> Result<RecoveryReport, KmsError> {
        let mut report = RecoveryReport::default();
        let mut keys: BTreeMap<KeyId, KeyMetadata> = self
            .metadata
            .list()
            .await?
            .into_iter()
            .map(|m| (m.key_id.clone(), m))
            .collect();
        let mut holdings: Holdings = BTreeMap::new();
        let mut clusters: BTreeMap<NodeId, Option<ClusterId>> = BTreeMap::new();
        for node in &self.healthy_nodes().await {
            match self.call(node, NodeRequest::HeldKeys).await {
                Ok(NodeResponse::HeldKeys { cluster, keys: held }) => {
                    clusters.insert(node.clone(), cluster);
                    holdings.insert(
                        node.clone(),
                        held.into_iter().map(|r| (r.key_id.clone(), r)).collect(),
                    );
                }
                other => warn!(node = %node, answer = ?other, "node did not list its keys; skipped"),
            }
        }

        let cluster = self.check_cluster(&keys, &holdings, &clusters, options).await?;
        report.cluster = cluster.clone();
        if let (Some(cluster), false) = (&cluster, options.report_only) {
            for (node, joined) in &clusters {
                if joined.is_none() {
                    match self
                        .call(
                            node,
                            NodeRequest::JoinCluster {
                                cluster: cluster.clone(),
                            },
                        )
                        .await?
                    {
                        NodeResponse::Ack => {}
                        other => return Err(unexpected(node, &other)),
                    }
                }
            }
        }

        if options.rebuild_missing {
            for meta in self.rebuildable(&keys, &holdings) {
                if !options.report_only {
                    self.metadata.insert(&meta).await?;
                    self.record_recovery(
                        AuditEventType::KeyStatusChange,
                        &meta.key_id,
                        None,
                        "metadata rebuilt from its holders (FROZEN)",
                    )
                    .await?;
                }
                report.rebuilt.push(meta.key_id.clone());
                keys.insert(meta.key_id.clone(), meta);
            }
        }

        for meta in keys.values() {
            if self.lease_is_live_for_recovery(meta, options) {
                report.busy.push(meta.key_id.clone());
                continue;
            }
            match meta.status {
                KeyStatus::Generating => {
                    self.recover_generation(meta, &holdings, options, &mut report)
                        .await?
                }
                KeyStatus::Destroying => self.finish_destroy(meta, options, &mut report).await?,
                KeyStatus::Destroyed => {
                    self.purge_destroyed(meta, &holdings, options, &mut report)
                        .await?
                }
                KeyStatus::Active | KeyStatus::Frozen | KeyStatus::Archived => {
                    self.reconcile_epochs(meta, &holdings, options, &mut report)
                        .await?
                }
            }
            // A shard on a node that is not one of the key's holders: nobody placed it.
            let holders: BTreeSet<&NodeId> = meta.holders.iter().map(|h| &h.node).collect();
            for (node, held) in &holdings {
                if !holders.contains(node) && held.get(&meta.key_id).is_some_and(|r| r.version.is_some()) {
                    report.unknown_shards.push((node.clone(), meta.key_id.clone()));
                }
            }
        }

        // Shards of keys the store does not know (and that were not rebuilt).
        for (node, held) in &holdings {
            for (key_id, r) in held.iter().filter(|(k, _)| !keys.contains_key(*k)) {
                match &r.info {
                    Some(info) if info.pending => {
                        if !options.report_only {
                            if !self
                                .node_acks(
                                    node,
                                    NodeRequest::DiscardPending {
                                        key_id: key_id.clone(),
                                    },
                                )
                                .await
                            {
                                continue;
                            }
                            self.record_recovery(
                                AuditEventType::KeyGenerate,
                                key_id,
                                Some(node),
                                "shard of an unfinished generation removed (marked pending by its node)",
                            )
                            .await?;
                        }
                        if r.version.is_some() {
                            report.orphan_shards.push((node.clone(), key_id.clone()));
                        }
                    }
                    _ if r.version.is_some() => report.unknown_shards.push((node.clone(), key_id.clone())),
                    _ => {}
                }
            }
        }
        Ok(report)
    }

    fn lease_is_live_for_recovery(&self, meta: &KeyMetadata, options: RecoveryOptions) -> bool {
        !options.break_leases && self.lease_is_live(&meta.lease)
    }

    /// Establish the cluster id: the store's and every node's must agree.
    async fn check_cluster(
        &self,
        keys: &BTreeMap<KeyId, KeyMetadata>,
        holdings: &Holdings,
        clusters: &BTreeMap<NodeId, Option<ClusterId>>,
        options: RecoveryOptions,
    ) -> Result<Option<ClusterId>, KmsError> {
        let stored = self.metadata.cluster_id().await?;
        let mut on_nodes: BTreeMap<&ClusterId, &NodeId> = BTreeMap::new();
        for (node, c) in clusters {
            if let Some(c) = c {
                on_nodes.entry(c).or_insert(node);
            }
        }
        if on_nodes.len() > 1 {
            let seen: Vec<String> = on_nodes.iter().map(|(c, n)| format!("{n}: {c}")).collect();
            return Err(KmsError::MetadataMismatch {
                node: on_nodes.values().nth(1).map(|n| (*n).clone()),
                reason: format!(
                    "the nodes belong to different clusters ({}); nothing was changed",
                    seen.join(", ")
                ),
            });
        }
        let node_cluster = on_nodes.keys().next().map(|c| (*c).clone());
        match (stored, node_cluster) {
            (Some(s), Some(n)) if s != n => Err(KmsError::MetadataMismatch {
                node: on_nodes.values().next().map(|n| (*n).clone()),
                reason: format!(
                    "the metadata store belongs to cluster {s}, the nodes to cluster {n}: wrong \
                     database or wrong nodes? Nothing was changed"
                ),
            }),
            (Some(s), _) => Ok(Some(s)),
            (None, Some(n)) => {
                let held_known = holdings.values().any(|h| h.keys().any(|k| keys.contains_key(k)));
                let node_keys = holdings.values().any(|h| h.values().any(|r| r.version.is_some()));
                if !keys.is_empty() && !held_known && node_keys {
                    return Err(KmsError::MetadataMismatch {
                        node: on_nodes.values().next().map(|n| (*n).clone()),
                        reason: format!(
                            "the metadata store records no cluster and none of the nodes' keys, \
                             the nodes belong to cluster {n}: a foreign database? Nothing was changed"
                        ),
                    });
                }
                if keys.is_empty() && node_keys && !options.rebuild_missing {
                    return Err(KmsError::MetadataMismatch {
                        node: None,
                        reason: format!(
                            "the metadata store is empty but the nodes of cluster {n} hold keys: \
                             the database was lost or replaced. Restore it, or recover with \
                             rebuild_missing to rebuild it from the nodes. Nothing was changed"
                        ),
                    });
                }
                if options.report_only {
                    return Ok(Some(n));
                }
                Ok(Some(self.metadata.init_cluster_id(&n).await?))
            }
            (None, None) => {
                let fresh = self.with_rng_do(ClusterId::random);
                if options.report_only {
                    return Ok(None);
                }
                Ok(Some(self.metadata.init_cluster_id(&fresh).await?))
            }
        }
    }

    /// Metadata for the keys the holders record and the store lacks. A key is rebuilt
    /// only if at least `threshold` of its listed holders report it, all with the same
    /// record, none pending; its epoch is the highest committed version among them.
    fn rebuildable(&self, keys: &BTreeMap<KeyId, KeyMetadata>, holdings: &Holdings) -> Vec<KeyMetadata> {
        let mut seen: BTreeMap<&KeyId, Vec<(&NodeId, &HeldKey, u64)>> = BTreeMap::new();
        for (node, held) in holdings {
            for (key_id, r) in held.iter().filter(|(k, _)| !keys.contains_key(*k)) {
                if let (Some(info), Some(v)) = (&r.info, r.version) {
                    seen.entry(key_id).or_default().push((node, info, v));
                }
            }
        }
        let now = self.clock.now_ms();
        let mut out = Vec::new();
        for (key_id, records) in seen {
            let (_, first, _) = records[0];
            let agree = records.iter().all(|(_, i, _)| {
                !i.pending
                    && i.algorithm == first.algorithm
                    && i.public_key == first.public_key
                    && i.shards == first.shards
                    && i.holders == first.holders
            });
            let listed = records
                .iter()
                .filter(|(node, _, _)| first.holders.iter().any(|h| h.node == **node))
                .count();
            if !agree || listed < usize::from(first.shards.threshold) || first.public_key.is_empty() {
                warn!(key = %key_id, "holders' records disagree or too few: not rebuilt");
                continue;
            }
            out.push(KeyMetadata {
                key_id: key_id.clone(),
                spec: KeySpec::for_algorithm(first.algorithm),
                shards: first.shards,
                public_key: first.public_key.clone(),
                holders: first.holders.clone(),
                status: KeyStatus::Frozen,
                epoch: records.iter().map(|(_, _, v)| *v).max().unwrap_or(0),
                created_at: now,
                updated_at: now,
                revision: 0,
                lease: None,
            });
        }
        out
    }

    async fn recover_generation(
        &self,
        meta: &KeyMetadata,
        holdings: &Holdings,
        options: RecoveryOptions,
        report: &mut RecoveryReport,
    ) -> Result<(), KmsError> {
        let reports: Vec<Option<&HeldKeyReport>> = meta
            .holders
            .iter()
            .map(|h| holdings.get(&h.node).map(|held| held.get(&meta.key_id)))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default();
        if reports.len() != meta.holders.len() {
            report.pending.push(meta.key_id.clone());
            return Ok(());
        }
        let stored: Vec<&HeldKeyReport> = reports
            .iter()
            .flatten()
            .filter(|r| r.version.is_some())
            .copied()
            .collect();
        let confirmed = stored.iter().any(|r| r.info.as_ref().is_some_and(|i| !i.pending));
        let public_keys: BTreeSet<&str> = stored
            .iter()
            .filter_map(|r| r.info.as_ref().map(|i| i.public_key.as_str()))
            .collect();
        if confirmed && stored.len() == meta.holders.len() && public_keys.len() == 1 {
            // Every holder stored its shard and the coordinator had begun confirming:
            // the generation reached its end; finish it rather than lose the key.
            if !options.report_only {
                let parties: Parties = meta
                    .holders
                    .iter()
                    .filter_map(|h| Some((PartyIndex::new(h.party)?, h.node.clone())))
                    .collect();
                self.confirm_holders(&meta.key_id, &parties).await?;
                let mut m = meta.clone();
                m.public_key = public_keys.into_iter().next().unwrap_or_default().to_string();
                m.status = KeyStatus::Active;
                m.updated_at = self.clock.now_ms();
                self.swap(&mut m).await?;
            }
            report.completed_generations.push(meta.key_id.clone());
            return Ok(());
        }
        if options.report_only {
            report.abandoned_generations.push(meta.key_id.clone());
            return Ok(());
        }
        let mut all_removed = true;
        for h in &meta.holders {
            let has = holdings
                .get(&h.node)
                .and_then(|held| held.get(&meta.key_id))
                .is_some();
            if !has {
                continue;
            }
            let req = NodeRequest::DiscardPending {
                key_id: meta.key_id.clone(),
            };
            if !self.node_acks(&h.node, req).await {
                all_removed = false;
            }
        }
        if all_removed {
            self.metadata.delete(&meta.key_id).await?;
            report.abandoned_generations.push(meta.key_id.clone());
        } else {
            report.pending.push(meta.key_id.clone());
        }
        Ok(())
    }

    async fn finish_destroy(
        &self,
        meta: &KeyMetadata,
        options: RecoveryOptions,
        report: &mut RecoveryReport,
    ) -> Result<(), KmsError> {
        if options.report_only {
            return Ok(());
        }
        let mut m = meta.clone();
        if !self.delete_on_holders(&m).await.is_empty() {
            return Ok(());
        }
        m.status = KeyStatus::Destroyed;
        m.lease = None;
        m.updated_at = self.clock.now_ms();
        self.swap(&mut m).await?;
        self.record_recovery(
            AuditEventType::KeyDestroy,
            &m.key_id,
            None,
            "destroy finished on every holder",
        )
        .await?;
        report.destroyed.push(m.key_id.clone());
        Ok(())
    }

    async fn purge_destroyed(
        &self,
        meta: &KeyMetadata,
        holdings: &Holdings,
        options: RecoveryOptions,
        report: &mut RecoveryReport,
    ) -> Result<(), KmsError> {
        for (node, held) in holdings {
            let Some(r) = held.get(&meta.key_id) else { continue };
            if r.version.is_none() && r.staged.is_none() && r.info.is_none() {
                continue;
            }
            if !options.report_only {
                let req = NodeRequest::DeleteShard {
                    key_id: meta.key_id.clone(),
                };
                if !self.node_acks(node, req).await {
                    continue;
                }
                self.record_recovery(
                    AuditEventType::KeyDestroy,
                    &meta.key_id,
                    Some(node),
                    "shard of a destroyed key found again (restored backup?) and removed",
                )
                .await?;
            }
            report
                .destroyed_shards_removed
                .push((node.clone(), meta.key_id.clone()));
        }
        Ok(())
    }

    /// Bring every reachable holder to the key's epoch: commit a staged shard of that
    /// epoch; remove a shard older than it with nothing to commit (it can never sign
    /// with the others again, and old shards of t holders would rebuild the old key).
    async fn reconcile_epochs(
        &self,
        meta: &KeyMetadata,
        holdings: &Holdings,
        options: RecoveryOptions,
        report: &mut RecoveryReport,
    ) -> Result<(), KmsError> {
        let mut dropped = Vec::new();
        for h in &meta.holders {
            let Some(r) = holdings.get(&h.node).and_then(|held| held.get(&meta.key_id)) else {
                continue;
            };
            let Some(version) = r.version else { continue };
            if version >= meta.epoch {
                if version > meta.epoch {
                    warn!(key = %meta.key_id, node = %h.node, version, epoch = meta.epoch,
                        "holder is ahead of the metadata (an old metadata backup?); left alone");
                }
                continue;
            }
            if let Some((staged, session)) = r.staged.filter(|(v, _)| *v == meta.epoch) {
                if !options.report_only {
                    let req = NodeRequest::CommitRefresh {
                        key_id: meta.key_id.clone(),
                        version: staged,
                        session,
                    };
                    if !self.node_acks(&h.node, req).await {
                        continue;
                    }
                }
                report.rolled_forward.push((h.node.clone(), meta.key_id.clone()));
                continue;
            }
            if !options.report_only {
                let req = NodeRequest::DropStale {
                    key_id: meta.key_id.clone(),
                    epoch: meta.epoch,
                };
                if !self.node_acks(&h.node, req).await {
                    continue;
                }
                let trail = format!(
                    "shard of epoch {version} removed: the key is at epoch {}",
                    meta.epoch
                );
                self.record_recovery(AuditEventType::KeyRefresh, &meta.key_id, Some(&h.node), &trail)
                    .await?;
            }
            report
                .stale_shards_removed
                .push((h.node.clone(), meta.key_id.clone()));
            dropped.push(h.node.clone());
        }
        if !dropped.is_empty() && !options.report_only {
            // The node no longer holds a shard of this key: signing must not pick it.
            let mut m = meta.clone();
            m.holders.retain(|h| !dropped.contains(&h.node));
            m.updated_at = self.clock.now_ms();
            self.swap(&mut m).await?;
        }
        Ok(())
    }

    async fn node_acks(&self, node: &NodeId, request: NodeRequest) -> bool {
        match self.call(node, request).await {
            Ok(NodeResponse::Ack) => true,
            other => {
                warn!(node = %node, answer = ?other, "recovery step refused or failed");
                false
            }
        }
    }

    async fn record_recovery(
        &self,
        event_type: AuditEventType,
        key_id: &KeyId,
        node: Option<&NodeId>,
        trail: &str,
    ) -> Result<(), KmsError> {
        let event = AuditEvent {
            event_type,
            user_id: "recovery".into(),
            key_id: Some(key_id.to_string()),
            operation: "recover".into(),
            result: AuditResult::Success,
            created_time: self.clock.now_ms(),
            service_name: self.config.service_name.clone(),
            node_id: node.map(|n| n.to_string()),
            duration_ms: 0,
            data_hash: String::new(),
            audit_trail: trail.to_string(),
        };
        self.audit.append(event).await?;
        Ok(())
    }
}
