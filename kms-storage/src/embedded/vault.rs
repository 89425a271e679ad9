//! The node's other secrets, sealed under its DEK like shards. The associated data binds
//! node id and secret name, so a record moved to another name or node is refused.

use super::{db_err, EmbeddedDb, NODE_SECRETS};
use crate::crypto::{self, Encoder, SecretKey};
use async_trait::async_trait;
use kms_core::ports::SecretVault;
use kms_core::{NodeId, StorageError};
use redb::ReadableDatabase;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The embedded, encrypted [`SecretVault`] of one node.
#[derive(Clone)]
pub struct EncryptedVault {
    db: EmbeddedDb,
    node_id: NodeId,
    dek: Arc<SecretKey>,
}

impl EncryptedVault {
    pub(crate) fn new(db: EmbeddedDb, node_id: NodeId, dek: Arc<SecretKey>) -> Self {
        Self { db, node_id, dek }
    }

    fn aad(&self, name: &str) -> Vec<u8> {
        Encoder::new()
            .bytes(b"mpc-kms/node-secret/v1")
            .bytes(self.node_id.as_str().as_bytes())
            .bytes(name.as_bytes())
            .finish()
    }
}

#[async_trait]
impl SecretVault for EncryptedVault {
    async fn put_secret(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        let sealed = crypto::seal(&self.dek, &self.aad(name), data);
        let name = name.to_string();
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                {
                    let mut t = txn.open_table(NODE_SECRETS).map_err(db_err)?;
                    t.insert(name.as_str(), sealed.as_slice()).map_err(db_err)?;
                }
                txn.commit().map_err(db_err)
            })
            .await
    }

    async fn get_secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StorageError> {
        let key = name.to_string();
        let raw = self
            .db
            .blocking(move |db| {
                let txn = db.raw().begin_read().map_err(db_err)?;
                let t = txn.open_table(NODE_SECRETS).map_err(db_err)?;
                let v = t.get(key.as_str()).map_err(db_err)?;
                Ok(v.map(|g| g.value().to_vec()))
            })
            .await?;
        raw.map(|sealed| {
            crypto::open(&self.dek, &self.aad(name), &sealed)
                .map_err(|_| StorageError::Corrupt(format!("node secret {name:?} does not authenticate")))
        })
        .transpose()
    }

    async fn delete_secret(&self, name: &str) -> Result<bool, StorageError> {
        let name = name.to_string();
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                let existed = {
                    let mut t = txn.open_table(NODE_SECRETS).map_err(db_err)?;
                    let removed = t.remove(name.as_str()).map_err(db_err)?;
                    removed.is_some()
                };
                txn.commit().map_err(db_err)?;
                Ok(existed)
            })
            .await
    }
}
