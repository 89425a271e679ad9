//! Crash recovery: abandoned generations, orphan shards, interrupted refreshes.

use super::*;

/// What [`Coordinator::recover`] cleaned up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Generations that never completed, now removed everywhere.
    pub abandoned_generations: Vec<KeyId>,
    /// Generations whose holders could not all be reached; still `GENERATING`.
    pub pending: Vec<KeyId>,
    /// Shards without metadata, removed from their node.
    pub orphan_shards: Vec<(NodeId, KeyId)>,
    /// Holders whose staged refresh was committed to match the key's epoch.
    pub rolled_forward: Vec<(NodeId, KeyId)>,
}

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

    /// Bring every reachable holder of an ACTIVE key to the key's epoch, committing the
    /// staged shard a crashed refresh left on it. Returns the holders moved forward.
    pub(super) async fn roll_forward(&self, meta: &KeyMetadata) -> Vec<NodeId> {
        let mut moved = Vec::new();
        for h in &meta.holders {
            let req = NodeRequest::ShardVersion {
                key_id: meta.key_id.clone(),
            };
            let Ok(NodeResponse::Version { version: Some(v) }) = self.call(&h.node, req).await else {
                continue;
            };
            if v < meta.epoch {
                let req = NodeRequest::CommitRefresh {
                    key_id: meta.key_id.clone(),
                    version: meta.epoch,
                };
                if let Ok(NodeResponse::Ack) = self.call(&h.node, req).await {
                    moved.push(h.node.clone());
                }
            }
        }
        moved
    }

    /// Clean up after a crash: a key left `GENERATING` never became usable, so its
    /// shards are removed from every holder and its metadata deleted; a holder left at
    /// an older version by an interrupted refresh commits its staged shard; a shard on a
    /// reachable node whose key has no metadata is an orphan of a failed generation and
    /// is removed. Keys whose holders are unreachable now are left for a later pass.
    /// Call it when the coordinator starts, before it serves requests.
    pub async fn recover(&self) -> Result<RecoveryReport, KmsError> {
        let mut report = RecoveryReport::default();
        let keys = self.metadata.list().await?;
        for meta in keys.iter().filter(|m| m.status == KeyStatus::Generating) {
            let mut all_removed = true;
            for h in &meta.holders {
                match self
                    .call(
                        &h.node,
                        NodeRequest::DeleteShard {
                            key_id: meta.key_id.clone(),
                        },
                    )
                    .await
                {
                    Ok(NodeResponse::Ack) => {}
                    _ => all_removed = false,
                }
            }
            if all_removed {
                self.metadata.delete(&meta.key_id).await?;
                report.abandoned_generations.push(meta.key_id.clone());
            } else {
                report.pending.push(meta.key_id.clone());
            }
        }
        for meta in keys
            .iter()
            .filter(|m| m.status == KeyStatus::Active && m.epoch > 0)
        {
            for node in self.roll_forward(meta).await {
                report.rolled_forward.push((node, meta.key_id.clone()));
            }
        }
        let known: BTreeSet<&KeyId> = keys
            .iter()
            .filter(|m| m.status != KeyStatus::Generating)
            .map(|m| &m.key_id)
            .collect();
        for node in &self.healthy_nodes().await {
            let Ok(NodeResponse::Shards { keys: held }) = self.call(node, NodeRequest::ListShards).await
            else {
                continue;
            };
            for key in held.into_iter().filter(|k| !known.contains(k)) {
                if let Ok(NodeResponse::Ack) = self
                    .call(node, NodeRequest::DeleteShard { key_id: key.clone() })
                    .await
                {
                    report.orphan_shards.push((node.clone(), key));
                }
            }
        }
        Ok(report)
    }
}
