//! What a node records about the keys it holds, beyond the shard itself: the public
//! facts of each key (so lost metadata can be rebuilt from the holders), whether the
//! key's generation is still pending (the only shards recovery may remove), and the
//! cluster the node belongs to (so a foreign metadata store is recognised).
//!
//! Records live in the node's vault when it has one (encrypted and authenticated under
//! its DEK, persisted and backed up with the shards), otherwise in memory.

use super::{lock, TssNode};
use crate::domain::{ClusterId, KeyId};
use crate::error::{KmsError, StorageError};
use crate::ports::ShardRecord;
use crate::rpc::{HeldKey, HeldKeyReport, NodeResponse};
use kms_protocols::SessionId;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use tracing::{info, warn};

const CLUSTER: &str = "lifecycle/cluster-id";
const KEY_PREFIX: &str = "lifecycle/key/";
/// Vault entry listing the keys that have a record (the vault has no listing).
const INDEX: &str = "lifecycle/key-index";

fn key_name(key_id: &KeyId) -> String {
    format!("{KEY_PREFIX}{key_id}")
}

/// The node's lifecycle state that is not in its shard store.
#[derive(Default)]
pub(super) struct Lifecycle {
    /// Records when the node has no vault.
    memory: Mutex<BTreeMap<String, Vec<u8>>>,
    /// The record of each running DKG, written when its shard is stored.
    pub(super) drafts: Mutex<HashMap<SessionId, HeldKey>>,
    /// Serialises read-modify-write of the key index.
    index: tokio::sync::Mutex<()>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> KmsError {
    KmsError::Storage(StorageError::Corrupt(format!("node record {what}: {e}")))
}

impl TssNode {
    async fn get_record(&self, name: &str) -> Result<Option<Vec<u8>>, KmsError> {
        Ok(match &self.vault {
            Some(v) => v.get_secret(name).await?.map(|z| z.to_vec()),
            None => lock(&self.lifecycle.memory).get(name).cloned(),
        })
    }

    async fn put_record(&self, name: &str, bytes: &[u8]) -> Result<(), KmsError> {
        match &self.vault {
            Some(v) => v.put_secret(name, bytes).await?,
            None => {
                lock(&self.lifecycle.memory).insert(name.to_string(), bytes.to_vec());
            }
        }
        Ok(())
    }

    async fn delete_record(&self, name: &str) -> Result<(), KmsError> {
        match &self.vault {
            Some(v) => {
                v.delete_secret(name).await?;
            }
            None => {
                lock(&self.lifecycle.memory).remove(name);
            }
        }
        Ok(())
    }

    async fn indexed_keys(&self) -> Result<BTreeSet<KeyId>, KmsError> {
        match self.get_record(INDEX).await? {
            None => Ok(BTreeSet::new()),
            Some(b) => serde_json::from_slice(&b).map_err(|e| corrupt("index", e)),
        }
    }

    async fn write_index(&self, keys: &BTreeSet<KeyId>) -> Result<(), KmsError> {
        let bytes = serde_json::to_vec(keys).map_err(|e| corrupt("index", e))?;
        self.put_record(INDEX, &bytes).await
    }

    /// The node's record of a key.
    pub(super) async fn held_key(&self, key_id: &KeyId) -> Result<Option<HeldKey>, KmsError> {
        match self.get_record(&key_name(key_id)).await? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| corrupt(key_id.as_str(), e)),
        }
    }

    async fn put_held_key(&self, info: &HeldKey) -> Result<(), KmsError> {
        let _guard = self.lifecycle.index.lock().await;
        let mut index = self.indexed_keys().await?;
        if index.insert(info.key_id.clone()) {
            self.write_index(&index).await?;
        }
        let bytes = serde_json::to_vec(info).map_err(|e| corrupt(info.key_id.as_str(), e))?;
        self.put_record(&key_name(&info.key_id), &bytes).await
    }

    /// Forget a key's record (its shard is gone).
    pub(super) async fn forget_key(&self, key_id: &KeyId) -> Result<(), KmsError> {
        let _guard = self.lifecycle.index.lock().await;
        self.delete_record(&key_name(key_id)).await?;
        let mut index = self.indexed_keys().await?;
        if index.remove(key_id) {
            self.write_index(&index).await?;
        }
        Ok(())
    }

    /// Keep the record a DKG session will write when its shard is stored.
    pub(super) fn draft_key(&self, session: SessionId, info: HeldKey) {
        lock(&self.lifecycle.drafts).insert(session, info);
    }

    /// Store a new key's shard, its record written first and marked pending: a crash
    /// in between leaves a record without a shard (harmless), never a shard that looks
    /// confirmed.
    pub(super) async fn store_new_shard(
        &self,
        session: SessionId,
        key_id: &KeyId,
        record: &ShardRecord,
        public_key: &[u8],
    ) -> Result<(), KmsError> {
        let draft = lock(&self.lifecycle.drafts).remove(&session);
        if let Some(mut info) = draft {
            info.public_key = hex::encode(public_key);
            info.pending = true;
            self.put_held_key(&info).await?;
        }
        self.shards.put(key_id, record).await?;
        Ok(())
    }

    /// The shard to sign with at `epoch`: the current one, or the staged one when the
    /// metadata already committed the refresh that staged it but this node's commit is
    /// still on its way. `None` if the node has neither.
    pub(super) async fn shard_at(
        &self,
        key_id: &KeyId,
        epoch: u64,
    ) -> Result<Result<ShardRecord, Option<u64>>, KmsError> {
        let current = self.shards.get(key_id).await?;
        let have = current.as_ref().map(|r| r.version);
        if let Some(r) = current.filter(|r| r.version == epoch) {
            return Ok(Ok(r));
        }
        if have.is_some_and(|v| v < epoch) {
            if let Some((_, staged)) = self.shards.staged(key_id).await? {
                if staged.version == epoch {
                    return Ok(Ok(staged));
                }
            }
        }
        if have.is_none() {
            return Err(KmsError::KeyNotFound(key_id.clone()));
        }
        Ok(Err(have))
    }

    pub(super) async fn held_keys(&self) -> Result<NodeResponse, KmsError> {
        let mut keys: BTreeSet<KeyId> = self.shards.list().await?.into_iter().collect();
        keys.extend(self.indexed_keys().await?);
        let mut out = Vec::new();
        for key_id in keys {
            let version = self.shards.get(&key_id).await?.map(|r| r.version);
            let staged = self.shards.staged(&key_id).await?.map(|(s, r)| (r.version, s));
            let info = self.held_key(&key_id).await?;
            out.push(HeldKeyReport {
                key_id,
                version,
                staged,
                info,
            });
        }
        Ok(NodeResponse::HeldKeys {
            cluster: self.cluster_id().await?,
            keys: out,
        })
    }

    pub(super) async fn confirm_key(&self, key_id: &KeyId) -> Result<NodeResponse, KmsError> {
        if self.shards.get(key_id).await?.is_none() {
            return Err(KmsError::KeyNotFound(key_id.clone()));
        }
        if let Some(mut info) = self.held_key(key_id).await? {
            if info.pending {
                info.pending = false;
                self.put_held_key(&info).await?;
            }
        }
        Ok(NodeResponse::Ack)
    }

    pub(super) async fn discard_pending(&self, key_id: &KeyId) -> Result<NodeResponse, KmsError> {
        match self.held_key(key_id).await? {
            Some(info) if info.pending => {
                self.delete_shard(key_id).await?;
                info!(node = %self.id, key = %key_id, "removed the shard of an unfinished generation");
                Ok(NodeResponse::Ack)
            }
            Some(_) => Err(KmsError::InvalidRequest(format!(
                "key {key_id} is confirmed on this node: refusing to discard it as pending"
            ))),
            None if self.shards.get(key_id).await?.is_none() => Ok(NodeResponse::Ack),
            None => Err(KmsError::InvalidRequest(format!(
                "key {key_id} has no pending mark on this node: refusing to discard it"
            ))),
        }
    }

    pub(super) async fn drop_stale(&self, key_id: &KeyId, epoch: u64) -> Result<NodeResponse, KmsError> {
        let Some(current) = self.shards.get(key_id).await? else {
            return Ok(NodeResponse::Ack);
        };
        if current.version >= epoch {
            return Err(KmsError::InvalidRequest(format!(
                "shard of key {key_id} is at version {}, not older than epoch {epoch}: refusing to drop it",
                current.version
            )));
        }
        if let Some((_, staged)) = self.shards.staged(key_id).await? {
            if staged.version == epoch {
                return Err(KmsError::InvalidRequest(format!(
                    "shard of key {key_id} at epoch {epoch} is staged: commit it instead"
                )));
            }
        }
        warn!(node = %self.id, key = %key_id, version = current.version, epoch, "dropping a stale shard");
        self.delete_shard(key_id).await?;
        Ok(NodeResponse::Ack)
    }

    /// Remove a key's shard (current and staged), its record and its signing pool.
    pub(super) async fn delete_shard(&self, key_id: &KeyId) -> Result<(), KmsError> {
        lock(&self.pools).remove(key_id);
        self.shards.delete(key_id).await?;
        self.forget_key(key_id).await
    }

    pub(super) async fn cluster_id(&self) -> Result<Option<ClusterId>, KmsError> {
        match self.get_record(CLUSTER).await? {
            None => Ok(None),
            Some(b) => std::str::from_utf8(&b)
                .ok()
                .and_then(|s| ClusterId::parse(s).ok())
                .map(Some)
                .ok_or_else(|| corrupt("cluster id", "not a cluster id")),
        }
    }

    pub(super) async fn join_cluster(&self, cluster: &ClusterId) -> Result<NodeResponse, KmsError> {
        let _guard = self.lifecycle.index.lock().await;
        match self.cluster_id().await? {
            Some(c) if c == *cluster => Ok(NodeResponse::Ack),
            Some(c) => Err(KmsError::InvalidRequest(format!(
                "this node belongs to cluster {c}, not {cluster}"
            ))),
            None => {
                self.put_record(CLUSTER, cluster.as_str().as_bytes()).await?;
                Ok(NodeResponse::Ack)
            }
        }
    }
}
