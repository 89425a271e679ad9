//! Key metadata in `{prefix}t_key_metadata`: one row per key, the spec and status as
//! their wire names, the holders as JSON.

use super::{sql_err, MySqlStore};
use async_trait::async_trait;
use kms_core::ports::MetadataStore;
use kms_core::{KeyId, KeyMetadata, KeySpec, ShardHolder, ShardProperties, StorageError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::mysql::MySqlRow;
use sqlx::Row;

/// A [`MetadataStore`] in MySQL.
#[derive(Clone, Debug)]
pub struct MySqlMetadataStore {
    store: MySqlStore,
}

const COLUMNS: &str = "key_id, key_type, curve, algo_type, key_size, shard_count, threshold, \
                       public_key, holders, status, epoch, created_at, updated_at";

/// The wire name of a unit enum (`"ECDSA"`, `"ACTIVE"`, ...).
fn name_of<T: Serialize>(v: &T) -> Result<String, StorageError> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StorageError::Backend("enum without a string name".into())),
    }
}

fn parse_name<T: DeserializeOwned>(key: &str, col: &str, s: String) -> Result<T, StorageError> {
    serde_json::from_value(serde_json::Value::String(s))
        .map_err(|e| StorageError::Corrupt(format!("metadata of key {key}: column {col}: {e}")))
}

fn from_row(row: &MySqlRow) -> Result<KeyMetadata, StorageError> {
    let key: String = row.try_get("key_id").map_err(sql_err)?;
    let get_s = |col: &str| row.try_get::<String, _>(col).map_err(sql_err);
    let get_u16 = |col: &str| row.try_get::<u16, _>(col).map_err(sql_err);
    let get_u64 = |col: &str| row.try_get::<u64, _>(col).map_err(sql_err);
    let holders: Vec<ShardHolder> = serde_json::from_str(&get_s("holders")?)
        .map_err(|e| StorageError::Corrupt(format!("metadata of key {key}: holders: {e}")))?;
    Ok(KeyMetadata {
        key_id: KeyId::parse(&key)
            .map_err(|_| StorageError::Corrupt(format!("metadata: bad key id {key:?}")))?,
        spec: KeySpec {
            key_type: parse_name(&key, "key_type", get_s("key_type")?)?,
            curve: parse_name(&key, "curve", get_s("curve")?)?,
            algo_type: parse_name(&key, "algo_type", get_s("algo_type")?)?,
            size: get_u16("key_size")?,
        },
        shards: ShardProperties {
            shard_count: get_u16("shard_count")?,
            threshold: get_u16("threshold")?,
        },
        public_key: get_s("public_key")?,
        holders,
        status: parse_name(&key, "status", get_s("status")?)?,
        epoch: get_u64("epoch")?,
        created_at: get_u64("created_at")?,
        updated_at: get_u64("updated_at")?,
    })
}

impl MySqlMetadataStore {
    pub(crate) fn new(store: MySqlStore) -> Self {
        Self { store }
    }

    fn table(&self) -> String {
        self.store.table("t_key_metadata")
    }
}

/// Bind the columns after `key_id`, in [`COLUMNS`] order.
fn bind_fields<'q>(
    q: sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    m: &'q KeyMetadata,
) -> Result<sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>, StorageError> {
    let holders = serde_json::to_string(&m.holders)
        .map_err(|e| StorageError::Backend(format!("encode holders: {e}")))?;
    Ok(q.bind(name_of(&m.spec.key_type)?)
        .bind(name_of(&m.spec.curve)?)
        .bind(name_of(&m.spec.algo_type)?)
        .bind(m.spec.size)
        .bind(m.shards.shard_count)
        .bind(m.shards.threshold)
        .bind(&m.public_key)
        .bind(holders)
        .bind(name_of(&m.status)?)
        .bind(m.epoch)
        .bind(m.created_at)
        .bind(m.updated_at))
}

#[async_trait]
impl MetadataStore for MySqlMetadataStore {
    async fn insert(&self, meta: &KeyMetadata) -> Result<(), StorageError> {
        let sql = format!(
            "INSERT INTO {} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.table()
        );
        let q = sqlx::query(&sql).bind(meta.key_id.as_str());
        match bind_fields(q, meta)?.execute(self.store.pool()).await {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StorageError::AlreadyExists(format!("key {}", meta.key_id)))
            }
            Err(e) => Err(sql_err(e)),
        }
    }

    async fn get(&self, key_id: &KeyId) -> Result<Option<KeyMetadata>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM {} WHERE key_id = ?", self.table());
        let row = sqlx::query(&sql)
            .bind(key_id.as_str())
            .fetch_optional(self.store.pool())
            .await
            .map_err(sql_err)?;
        row.as_ref().map(from_row).transpose()
    }

    async fn update(&self, meta: &KeyMetadata) -> Result<(), StorageError> {
        let sql = format!(
            "UPDATE {} SET key_type = ?, curve = ?, algo_type = ?, key_size = ?, shard_count = ?, \
             threshold = ?, public_key = ?, holders = ?, status = ?, epoch = ?, created_at = ?, \
             updated_at = ? WHERE key_id = ?",
            self.table()
        );
        // sqlx's MySQL connections report matched rows (CLIENT_FOUND_ROWS), so an
        // update that changes nothing still counts its row.
        let done = bind_fields(sqlx::query(&sql), meta)?
            .bind(meta.key_id.as_str())
            .execute(self.store.pool())
            .await
            .map_err(sql_err)?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound(format!("key {}", meta.key_id)));
        }
        Ok(())
    }

    async fn delete(&self, key_id: &KeyId) -> Result<bool, StorageError> {
        let sql = format!("DELETE FROM {} WHERE key_id = ?", self.table());
        let done = sqlx::query(&sql)
            .bind(key_id.as_str())
            .execute(self.store.pool())
            .await
            .map_err(sql_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list(&self) -> Result<Vec<KeyMetadata>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM {} ORDER BY key_id", self.table());
        let rows = sqlx::query(&sql)
            .fetch_all(self.store.pool())
            .await
            .map_err(sql_err)?;
        rows.iter().map(from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdb::TestDb;
    use crate::contract;
    use kms_core::ports::MetadataStore;

    #[tokio::test]
    async fn metadata_store_contract() {
        let db = TestDb::new().await;
        contract::metadata_store(&db.store.metadata(), "my").await;
        // Same values again: still found.
        let m = contract::metadata("same", 1);
        let s = db.store.metadata();
        s.insert(&m).await.unwrap();
        s.update(&m).await.unwrap();
        db.drop_tables().await;
    }
}
