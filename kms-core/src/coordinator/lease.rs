//! Per-key leases: one mutating operation (refresh, status change, destroy) per key at
//! a time, across coordinator processes. The metadata store is the arbiter: a lease is
//! taken and released by compare-and-swap on the key's revision, so of two coordinators
//! that read the same revision exactly one gets the key. Signing takes no lease.

use super::*;
use crate::error::StorageError;

/// A random name for this coordinator instance, written into the leases it holds.
pub(super) fn instance_name() -> String {
    let mut b = [0u8; 8];
    OsRng.fill_bytes(&mut b);
    format!("coordinator-{}", hex::encode(b))
}

impl Coordinator {
    /// Write `meta` by compare-and-swap and keep the caller's copy current.
    pub(super) async fn swap(&self, meta: &mut KeyMetadata) -> Result<(), KmsError> {
        self.metadata.update(meta).await?;
        meta.revision += 1;
        Ok(())
    }

    pub(super) fn lease_is_live(&self, lease: &Option<KeyLease>) -> bool {
        lease.as_ref().is_some_and(|l| l.expires_at > self.clock.now_ms())
    }

    /// Take the lease on a key for `operation`. Fails with [`KmsError::KeyBusy`] while
    /// another operation's lease is live, or if another writer wins the swap.
    pub(super) async fn take_lease(&self, key_id: &KeyId, operation: &str) -> Result<KeyMetadata, KmsError> {
        let mut meta = self.get_key(key_id).await?;
        if self.lease_is_live(&meta.lease) {
            let held = meta
                .lease
                .as_ref()
                .map(|l| l.operation.clone())
                .unwrap_or_default();
            return Err(KmsError::KeyBusy {
                key: key_id.clone(),
                operation: held,
            });
        }
        let ttl = u64::try_from(self.config.lease_ttl.as_millis()).unwrap_or(u64::MAX);
        meta.lease = Some(KeyLease {
            owner: self.instance.clone(),
            operation: operation.to_string(),
            expires_at: self.clock.now_ms().saturating_add(ttl),
        });
        match self.swap(&mut meta).await {
            Ok(()) => Ok(meta),
            Err(KmsError::Storage(StorageError::Conflict(_))) => Err(KmsError::KeyBusy {
                key: key_id.clone(),
                operation: "another operation".into(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Release the lease, writing `meta` (whatever the operation changed) with it, and
    /// hand back the operation's result. An operation that failed keeps its error; a
    /// release that fails after a success is the error (the write did not happen).
    pub(super) async fn release_lease<T>(
        &self,
        meta: &mut KeyMetadata,
        result: Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        meta.lease = None;
        let released = self.swap(meta).await;
        match (result, released) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(e),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(release)) => {
                warn!(key = %meta.key_id, error = %release, "could not release the lease; it lapses");
                Err(e)
            }
        }
    }

    /// Tell every holder of a new key that all shards are stored (clears its pending
    /// mark).
    pub(super) async fn confirm_holders(&self, key_id: &KeyId, parties: &Parties) -> Result<(), KmsError> {
        for node in parties.values() {
            let req = NodeRequest::ConfirmKey {
                key_id: key_id.clone(),
            };
            match self.call(node, req).await? {
                NodeResponse::Ack => {}
                other => return Err(unexpected(node, &other)),
            }
        }
        Ok(())
    }

    /// Delete a key's shard on every holder it reaches; the holders not reached.
    pub(super) async fn delete_on_holders(&self, meta: &KeyMetadata) -> Vec<NodeId> {
        let mut pending = Vec::new();
        for h in &meta.holders {
            let req = NodeRequest::DeleteShard {
                key_id: meta.key_id.clone(),
            };
            match self.call(&h.node, req).await {
                Ok(NodeResponse::Ack) => {}
                other => {
                    warn!(key = %meta.key_id, node = %h.node, answer = ?other, "shard not deleted");
                    pending.push(h.node.clone());
                }
            }
        }
        pending
    }
}
