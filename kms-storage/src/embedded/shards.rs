//! The encrypted shard store. Each record is
//!
//! `"KSH1" | algorithm length (1) | algorithm name | version (u64 BE) | nonce (12) | ciphertext | tag (16)`
//!
//! encrypted with AES-256-GCM under the node's DEK; the associated data binds node id,
//! key id, algorithm and version ([`crypto::shard_aad`]), so a record edited, cut
//! short, moved to another key or relabelled with another version is refused with
//! [`StorageError::Corrupt`] naming the key.

use super::{db_err, EmbeddedDb, SHARDS_CURRENT, SHARDS_STAGED};
use crate::crypto::{self, SecretKey};
use crate::memory::{not_staged, other_session, stale_version};
use async_trait::async_trait;
use kms_core::ports::{SessionId, ShardRecord, ShardStore};
use kms_core::{Algorithm, KeyId, NodeId, StorageError};
use redb::{ReadableDatabase, ReadableTable};
use std::sync::Arc;
use zeroize::Zeroizing;

const MAGIC: &[u8; 4] = b"KSH1";
/// A staged record is `"KST1" | refresh session id (32) | record`: the session that
/// produced it, so only that session commits or discards it.
const STAGED_MAGIC: &[u8; 4] = b"KST1";

fn encode_staged(session: &SessionId, record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 32 + record.len());
    out.extend_from_slice(STAGED_MAGIC);
    out.extend_from_slice(&session.0);
    out.extend_from_slice(record);
    out
}

/// Split a staged value into its session and record.
fn split_staged<'a>(key_id: &str, bytes: &'a [u8]) -> Result<(SessionId, &'a [u8]), StorageError> {
    let rest = bytes
        .strip_prefix(STAGED_MAGIC.as_slice())
        .ok_or_else(|| corrupt(key_id, "staged record without its session"))?;
    let session: [u8; 32] = rest
        .get(..32)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| corrupt(key_id, "staged record truncated"))?;
    Ok((SessionId(session), &rest[32..]))
}

/// The parsed, still encrypted form of a stored record.
pub(crate) struct SealedShard<'a> {
    pub algorithm: Algorithm,
    pub version: u64,
    pub sealed: &'a [u8],
}

fn corrupt(key_id: &str, why: &str) -> StorageError {
    StorageError::Corrupt(format!("shard of key {key_id}: {why}"))
}

fn encode(node_id: &NodeId, key_id: &KeyId, shard: &ShardRecord, dek: &SecretKey) -> Vec<u8> {
    let alg = shard.algorithm.as_str();
    let aad = crypto::shard_aad(node_id.as_str(), key_id.as_str(), alg, shard.version);
    let sealed = crypto::seal(dek, &aad, &shard.data);
    let mut out = Vec::with_capacity(4 + 1 + alg.len() + 8 + sealed.len());
    out.extend_from_slice(MAGIC);
    out.push(alg.len() as u8);
    out.extend_from_slice(alg.as_bytes());
    out.extend_from_slice(&shard.version.to_be_bytes());
    out.extend_from_slice(&sealed);
    out
}

/// Parse a record's header without decrypting it.
pub(crate) fn parse<'a>(key_id: &str, bytes: &'a [u8]) -> Result<SealedShard<'a>, StorageError> {
    let truncated = || corrupt(key_id, "record truncated");
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(|| {
        if bytes.len() < MAGIC.len() {
            truncated()
        } else {
            corrupt(key_id, "bad record magic")
        }
    })?;
    let (&alg_len, rest) = rest.split_first().ok_or_else(truncated)?;
    let alg_len = usize::from(alg_len);
    let alg = rest.get(..alg_len).ok_or_else(truncated)?;
    // Any well-formed name: schemes are plug-ins (`Algorithm::named`), so a host's own
    // scheme's shards must read back; the name is bound into the AAD, so an edited
    // one fails authentication below.
    let algorithm = std::str::from_utf8(alg)
        .ok()
        .and_then(|a| Algorithm::parse(a).ok())
        .ok_or_else(|| corrupt(key_id, "bad algorithm name"))?;
    let rest = &rest[alg_len..];
    let version = rest
        .get(..8)
        .and_then(|v| <[u8; 8]>::try_from(v).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(truncated)?;
    let sealed = &rest[8..];
    if sealed.len() < crypto::NONCE_LEN + crypto::TAG_LEN {
        return Err(truncated());
    }
    Ok(SealedShard {
        algorithm,
        version,
        sealed,
    })
}

/// Parse and decrypt a stored record.
pub(crate) fn decode(
    node_id: &str,
    key_id: &str,
    bytes: &[u8],
    dek: &SecretKey,
) -> Result<ShardRecord, StorageError> {
    let s = parse(key_id, bytes)?;
    let aad = crypto::shard_aad(node_id, key_id, s.algorithm.as_str(), s.version);
    let data = crypto::open(dek, &aad, s.sealed).map_err(|_| {
        corrupt(
            key_id,
            "authentication failed (tampered, moved from another key, or wrong version)",
        )
    })?;
    Ok(ShardRecord {
        algorithm: s.algorithm,
        version: s.version,
        data,
    })
}

/// Parse and decrypt a stored staged value: the session that staged it, and the record.
pub(crate) fn decode_staged(
    node_id: &str,
    key_id: &str,
    bytes: &[u8],
    dek: &SecretKey,
) -> Result<(SessionId, ShardRecord), StorageError> {
    let (session, record) = split_staged(key_id, bytes)?;
    Ok((session, decode(node_id, key_id, record, dek)?))
}

/// A node's [`ShardStore`] in its embedded database, encrypted under its DEK. Made by
/// [`NodeStorage::shards`](super::NodeStorage::shards).
#[derive(Clone)]
pub struct EncryptedShardStore {
    db: EmbeddedDb,
    node_id: NodeId,
    dek: Arc<SecretKey>,
}

impl std::fmt::Debug for EncryptedShardStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedShardStore")
            .field("node_id", &self.node_id)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl EncryptedShardStore {
    pub(crate) fn new(db: EmbeddedDb, node_id: NodeId, dek: Arc<SecretKey>) -> Self {
        Self { db, node_id, dek }
    }

    fn seal(&self, key_id: &KeyId, shard: &ShardRecord) -> Vec<u8> {
        encode(&self.node_id, key_id, shard, &self.dek)
    }
}

#[async_trait]
impl ShardStore for EncryptedShardStore {
    async fn put(&self, key_id: &KeyId, shard: &ShardRecord) -> Result<(), StorageError> {
        let record = self.seal(key_id, shard);
        let key = key_id.clone();
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                {
                    let mut t = txn.open_table(SHARDS_CURRENT).map_err(db_err)?;
                    if t.get(key.as_str()).map_err(db_err)?.is_some() {
                        return Err(StorageError::AlreadyExists(format!("shard of key {key}")));
                    }
                    t.insert(key.as_str(), record.as_slice()).map_err(db_err)?;
                }
                txn.commit().map_err(db_err)
            })
            .await
    }

    async fn get(&self, key_id: &KeyId) -> Result<Option<ShardRecord>, StorageError> {
        let key = key_id.clone();
        let raw = self
            .db
            .blocking(move |db| {
                let txn = db.raw().begin_read().map_err(db_err)?;
                let t = txn.open_table(SHARDS_CURRENT).map_err(db_err)?;
                let v = t.get(key.as_str()).map_err(db_err)?;
                Ok(v.map(|g| g.value().to_vec()))
            })
            .await?;
        raw.map(|bytes| decode(self.node_id.as_str(), key_id.as_str(), &bytes, &self.dek))
            .transpose()
    }

    async fn stage(
        &self,
        key_id: &KeyId,
        session: &SessionId,
        shard: &ShardRecord,
    ) -> Result<(), StorageError> {
        let record = encode_staged(session, &self.seal(key_id, shard));
        let key = key_id.clone();
        let version = shard.version;
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                {
                    let cur = txn.open_table(SHARDS_CURRENT).map_err(db_err)?;
                    let current = match cur.get(key.as_str()).map_err(db_err)? {
                        Some(g) => parse(key.as_str(), g.value())?.version,
                        None => return Err(StorageError::NotFound(format!("shard of key {key}"))),
                    };
                    if version <= current {
                        return Err(stale_version(&key, version, current));
                    }
                    let mut st = txn.open_table(SHARDS_STAGED).map_err(db_err)?;
                    st.insert(key.as_str(), record.as_slice()).map_err(db_err)?;
                }
                txn.commit().map_err(db_err)
            })
            .await
    }

    async fn commit_staged(
        &self,
        key_id: &KeyId,
        session: &SessionId,
        version: u64,
    ) -> Result<(), StorageError> {
        let key = key_id.clone();
        let session = *session;
        let node = self.node_id.clone();
        let dek = self.dek.clone();
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                {
                    let mut st = txn.open_table(SHARDS_STAGED).map_err(db_err)?;
                    let value: Zeroizing<Vec<u8>> = match st.get(key.as_str()).map_err(db_err)? {
                        Some(g) => Zeroizing::new(g.value().to_vec()),
                        None => return Err(not_staged(&key, version)),
                    };
                    let (by, staged) = split_staged(key.as_str(), &value)?;
                    if parse(key.as_str(), staged)?.version != version {
                        return Err(not_staged(&key, version));
                    }
                    if by != session {
                        return Err(other_session(&key, version));
                    }
                    // A staged record that fails authentication must not become current.
                    drop(decode(node.as_str(), key.as_str(), staged, &dek)?);
                    st.remove(key.as_str()).map_err(db_err)?;
                    let mut cur = txn.open_table(SHARDS_CURRENT).map_err(db_err)?;
                    cur.insert(key.as_str(), staged).map_err(db_err)?;
                }
                txn.commit().map_err(db_err)
            })
            .await?;
        // The superseded ciphertext must not stay in the file (storage review M6).
        self.db.compact().await.map(drop)
    }

    async fn discard_staged(&self, key_id: &KeyId, session: &SessionId) -> Result<(), StorageError> {
        let key = key_id.clone();
        let session = *session;
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                {
                    let mut st = txn.open_table(SHARDS_STAGED).map_err(db_err)?;
                    let other = match st.get(key.as_str()).map_err(db_err)? {
                        None => None,
                        Some(g) => {
                            let (by, staged) = split_staged(key.as_str(), g.value())?;
                            (by != session)
                                .then(|| parse(key.as_str(), staged).map(|s| s.version))
                                .transpose()?
                        }
                    };
                    if let Some(version) = other {
                        return Err(other_session(&key, version));
                    }
                    st.remove(key.as_str()).map_err(db_err)?;
                }
                txn.commit().map_err(db_err)
            })
            .await?;
        self.db.compact().await.map(drop)
    }

    async fn staged(&self, key_id: &KeyId) -> Result<Option<(SessionId, ShardRecord)>, StorageError> {
        let key = key_id.clone();
        let raw = self
            .db
            .blocking(move |db| {
                let txn = db.raw().begin_read().map_err(db_err)?;
                let t = txn.open_table(SHARDS_STAGED).map_err(db_err)?;
                let v = t.get(key.as_str()).map_err(db_err)?;
                Ok(v.map(|g| Zeroizing::new(g.value().to_vec())))
            })
            .await?;
        let Some(value) = raw else { return Ok(None) };
        decode_staged(self.node_id.as_str(), key_id.as_str(), &value, &self.dek).map(Some)
    }

    async fn delete(&self, key_id: &KeyId) -> Result<bool, StorageError> {
        let key = key_id.clone();
        let removed = self
            .db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                let removed = {
                    let mut cur = txn.open_table(SHARDS_CURRENT).map_err(db_err)?;
                    let a = cur.remove(key.as_str()).map_err(db_err)?.is_some();
                    let mut st = txn.open_table(SHARDS_STAGED).map_err(db_err)?;
                    let b = st.remove(key.as_str()).map_err(db_err)?.is_some();
                    a || b
                };
                txn.commit().map_err(db_err)?;
                Ok(removed)
            })
            .await?;
        // A destroyed shard's ciphertext must not stay in the file (storage review M6).
        self.db.compact().await?;
        Ok(removed)
    }

    async fn list(&self) -> Result<Vec<KeyId>, StorageError> {
        self.db
            .blocking(|db| {
                let txn = db.raw().begin_read().map_err(db_err)?;
                let t = txn.open_table(SHARDS_CURRENT).map_err(db_err)?;
                let mut out = Vec::new();
                for entry in t.iter().map_err(db_err)? {
                    let (k, _) = entry.map_err(db_err)?;
                    let id = KeyId::parse(k.value()).map_err(|_| {
                        StorageError::Corrupt(format!("shard table holds bad key id {:?}", k.value()))
                    })?;
                    out.push(id);
                }
                Ok(out)
            })
            .await
    }
}
