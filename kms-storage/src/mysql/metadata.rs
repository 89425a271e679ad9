//! Key metadata in `{prefix}t_key_metadata`: one row per key, the spec and status as
//! their wire names, the holders as JSON.

use super::{sql_err, MySqlStore};
use crate::memory::stale_revision;
use async_trait::async_trait;
use kms_core::ports::MetadataStore;
use kms_core::{
    ClusterId, KeyId, KeyLease, KeyMetadata, KeySpec, ShardHolder, ShardProperties, StorageError,
};
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
                       public_key, holders, status, epoch, created_at, updated_at, revision, lease";

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
    let lease: Option<KeyLease> = row
        .try_get::<Option<String>, _>("lease")
        .map_err(sql_err)?
        .map(|j| serde_json::from_str(&j))
        .transpose()
        .map_err(|e| StorageError::Corrupt(format!("metadata of key {key}: lease: {e}")))?;
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
        revision: get_u64("revision")?,
        lease,
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

/// The lease column: JSON, or NULL when no operation holds the key.
fn lease_json(m: &KeyMetadata) -> Result<Option<String>, StorageError> {
    m.lease
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StorageError::Backend(format!("encode lease: {e}")))
}

#[async_trait]
impl MetadataStore for MySqlMetadataStore {
    async fn insert(&self, meta: &KeyMetadata) -> Result<(), StorageError> {
        let sql = format!(
            "INSERT INTO {} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.table()
        );
        let q = sqlx::query(&sql).bind(meta.key_id.as_str());
        let q = bind_fields(q, meta)?.bind(meta.revision).bind(lease_json(meta)?);
        match q.execute(self.store.pool()).await {
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
        // Compare-and-swap in one statement: the row changes only if its revision is
        // still the one the caller read; InnoDB's row lock orders concurrent writers.
        let sql = format!(
            "UPDATE {} SET key_type = ?, curve = ?, algo_type = ?, key_size = ?, shard_count = ?, \
             threshold = ?, public_key = ?, holders = ?, status = ?, epoch = ?, created_at = ?, \
             updated_at = ?, lease = ?, revision = revision + 1 WHERE key_id = ? AND revision = ?",
            self.table()
        );
        // sqlx's MySQL connections report matched rows (CLIENT_FOUND_ROWS); the revision
        // changes anyway, so 0 rows means the key is missing or the swap lost.
        let done = bind_fields(sqlx::query(&sql), meta)?
            .bind(lease_json(meta)?)
            .bind(meta.key_id.as_str())
            .bind(meta.revision)
            .execute(self.store.pool())
            .await
            .map_err(sql_err)?;
        if done.rows_affected() == 0 {
            let sql = format!("SELECT revision FROM {} WHERE key_id = ?", self.table());
            let found: Option<u64> = sqlx::query_scalar(&sql)
                .bind(meta.key_id.as_str())
                .fetch_optional(self.store.pool())
                .await
                .map_err(sql_err)?;
            return Err(match found {
                None => StorageError::NotFound(format!("key {}", meta.key_id)),
                Some(r) => stale_revision(&meta.key_id, meta.revision, r),
            });
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

    async fn cluster_id(&self) -> Result<Option<ClusterId>, StorageError> {
        let sql = format!(
            "SELECT cluster_id FROM {} WHERE id = 1",
            self.store.table("t_kms_cluster")
        );
        let found: Option<String> = sqlx::query_scalar(&sql)
            .fetch_optional(self.store.pool())
            .await
            .map_err(sql_err)?;
        found
            .map(|s| {
                ClusterId::parse(&s)
                    .map_err(|_| StorageError::Corrupt("metadata store: bad cluster id".into()))
            })
            .transpose()
    }

    async fn init_cluster_id(&self, id: &ClusterId) -> Result<ClusterId, StorageError> {
        // The primary key makes the first insert win; later ones are ignored.
        let sql = format!(
            "INSERT IGNORE INTO {} (id, cluster_id) VALUES (1, ?)",
            self.store.table("t_kms_cluster")
        );
        sqlx::query(&sql)
            .bind(id.as_str())
            .execute(self.store.pool())
            .await
            .map_err(sql_err)?;
        self.cluster_id()
            .await?
            .ok_or_else(|| StorageError::Backend("mysql: cluster id not recorded".into()))
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
        contract::metadata_cluster_id(&db.store.metadata()).await;
        // Same values again: still found.
        let m = contract::metadata("same", 1);
        let s = db.store.metadata();
        s.insert(&m).await.unwrap();
        s.update(&m).await.unwrap();
        let mut m = s.get(&m.key_id).await.unwrap().unwrap();
        assert_eq!(m.revision, 1);
        s.update(&m).await.unwrap();
        m.revision += 1;
        assert_eq!(s.get(&m.key_id).await.unwrap(), Some(m));
        db.drop_tables().await;
    }

    /// The contract suite, each clause on tables of its own.
    #[tokio::test]
    async fn metadata_store_contract_on_fresh_tables() {
        let dbs = std::sync::Mutex::new(Vec::new());
        let held = &dbs;
        contract::metadata_store_contract(move || async move {
            let db = TestDb::new().await;
            let store = db.store.metadata();
            held.lock().unwrap().push(db);
            store
        })
        .await;
        for db in dbs.into_inner().unwrap() {
            db.drop_tables().await;
        }
    }
}
