//! The audit log in `{prefix}t_key_operation_log`.
//!
//! Appends are serialised by a single-row head table, `{prefix}t_key_operation_log_head`
//! (last seq and hash): each append runs in one transaction that locks the head row
//! with `SELECT ... FOR UPDATE`, inserts the next record and moves the head. Locking
//! one existing row, rather than the log's last row, also serialises the very first
//! appends, when there is no row to lock.

use super::{sql_err, MySqlStore};
use async_trait::async_trait;
use kms_core::audit::{AuditEvent, AuditEventType, AuditRecord, AuditResult};
use kms_core::ports::AuditLog;
use kms_core::StorageError;
use sqlx::mysql::MySqlRow;
use sqlx::Row;

const COLUMNS: &str = "seq, event_type, user_id, key_id, operation, result, created_time, \
                       service_name, node_id, duration_ms, data_hash, audit_trail, prev_hash, hash";

/// An [`AuditLog`] in MySQL.
#[derive(Clone, Debug)]
pub struct MySqlAuditLog {
    store: MySqlStore,
}

fn from_row(row: &MySqlRow) -> Result<AuditRecord, StorageError> {
    let seq: u64 = row.try_get("seq").map_err(sql_err)?;
    let s = |col: &str| row.try_get::<String, _>(col).map_err(sql_err);
    let o = |col: &str| row.try_get::<Option<String>, _>(col).map_err(sql_err);
    let n = |col: &str| row.try_get::<u64, _>(col).map_err(sql_err);
    let bad = |col: &str| StorageError::Corrupt(format!("audit record {seq}: bad {col}"));
    Ok(AuditRecord {
        seq,
        event: AuditEvent {
            event_type: AuditEventType::parse(&s("event_type")?).ok_or_else(|| bad("event_type"))?,
            user_id: s("user_id")?,
            key_id: o("key_id")?,
            operation: s("operation")?,
            result: AuditResult::parse(&s("result")?).ok_or_else(|| bad("result"))?,
            created_time: n("created_time")?,
            service_name: s("service_name")?,
            node_id: o("node_id")?,
            duration_ms: n("duration_ms")?,
            data_hash: s("data_hash")?,
            audit_trail: s("audit_trail")?,
        },
        prev_hash: s("prev_hash")?,
        hash: s("hash")?,
    })
}

impl MySqlAuditLog {
    pub(crate) fn new(store: MySqlStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl AuditLog for MySqlAuditLog {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, StorageError> {
        let head = self.store.table("t_key_operation_log_head");
        let log = self.store.table("t_key_operation_log");
        let mut tx = self.store.pool().begin().await.map_err(sql_err)?;
        let row = sqlx::query(&format!("SELECT seq, hash FROM {head} WHERE id = 1 FOR UPDATE"))
            .fetch_one(&mut *tx)
            .await
            .map_err(sql_err)?;
        let last_seq: u64 = row.try_get("seq").map_err(sql_err)?;
        let last_hash: String = row.try_get("hash").map_err(sql_err)?;
        let record = AuditRecord::seal(last_seq + 1, event, &last_hash);
        let e = &record.event;
        sqlx::query(&format!(
            "INSERT INTO {log} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(record.seq)
        .bind(e.event_type.as_str())
        .bind(&e.user_id)
        .bind(&e.key_id)
        .bind(&e.operation)
        .bind(e.result.as_str())
        .bind(e.created_time)
        .bind(&e.service_name)
        .bind(&e.node_id)
        .bind(e.duration_ms)
        .bind(&e.data_hash)
        .bind(&e.audit_trail)
        .bind(&record.prev_hash)
        .bind(&record.hash)
        .execute(&mut *tx)
        .await
        .map_err(sql_err)?;
        sqlx::query(&format!("UPDATE {head} SET seq = ?, hash = ? WHERE id = 1"))
            .bind(record.seq)
            .bind(&record.hash)
            .execute(&mut *tx)
            .await
            .map_err(sql_err)?;
        tx.commit().await.map_err(sql_err)?;
        Ok(record)
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} ORDER BY seq",
            self.store.table("t_key_operation_log")
        );
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
    use kms_core::audit::{verify_chain, AuditChainError, AuditRecord};
    use kms_core::ports::AuditLog;
    use std::sync::Arc;

    async fn filled() -> TestDb {
        let db = TestDb::new().await;
        let log = db.store.audit();
        for i in 1..=5 {
            log.append(contract::audit_event(i)).await.unwrap();
        }
        verify_chain(&log.records().await.unwrap()).unwrap();
        db
    }

    async fn verdict(db: &TestDb) -> AuditChainError {
        verify_chain(&db.store.audit().records().await.unwrap()).unwrap_err()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn audit_log_contract() {
        let db = TestDb::new().await;
        contract::audit_log(Arc::new(db.store.audit())).await;
        db.drop_tables().await;
    }

    #[tokio::test]
    async fn sql_update_is_found() {
        let db = filled().await;
        db.exec("UPDATE `{p}t_key_operation_log` SET user_id = 'mallory' WHERE seq = 3")
            .await;
        assert_eq!(
            verdict(&db).await,
            AuditChainError::Altered { position: 2, seq: 3 }
        );
        db.drop_tables().await;
    }

    #[tokio::test]
    async fn sql_delete_is_found() {
        let db = filled().await;
        db.exec("DELETE FROM `{p}t_key_operation_log` WHERE seq = 2")
            .await;
        assert_eq!(
            verdict(&db).await,
            AuditChainError::Missing {
                position: 1,
                expected_seq: 2,
                found_seq: 3
            }
        );
        db.drop_tables().await;
    }

    #[tokio::test]
    async fn sql_swap_is_found() {
        let db = filled().await;
        db.exec("UPDATE `{p}t_key_operation_log` SET seq = 100 WHERE seq = 3")
            .await;
        db.exec("UPDATE `{p}t_key_operation_log` SET seq = 3 WHERE seq = 4")
            .await;
        db.exec("UPDATE `{p}t_key_operation_log` SET seq = 4 WHERE seq = 100")
            .await;
        assert_eq!(
            verdict(&db).await,
            AuditChainError::OutOfOrder {
                position: 2,
                expected_seq: 3,
                found_seq: 4
            }
        );
        db.drop_tables().await;
    }

    #[tokio::test]
    async fn sql_insert_is_found() {
        let db = filled().await;
        let records = db.store.audit().records().await.unwrap();
        // Make room at seq 3 and insert a well-formed forgery there.
        db.exec("UPDATE `{p}t_key_operation_log` SET seq = seq + 1 WHERE seq >= 3 ORDER BY seq DESC")
            .await;
        let forged = AuditRecord::seal(3, contract::audit_event(33), &records[1].hash);
        let e = &forged.event;
        sqlx::query(&format!(
            "INSERT INTO {} (seq, event_type, user_id, key_id, operation, result, created_time, \
             service_name, node_id, duration_ms, data_hash, audit_trail, prev_hash, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            db.store.table("t_key_operation_log")
        ))
        .bind(forged.seq)
        .bind(e.event_type.as_str())
        .bind(&e.user_id)
        .bind(&e.key_id)
        .bind(&e.operation)
        .bind(e.result.as_str())
        .bind(e.created_time)
        .bind(&e.service_name)
        .bind(&e.node_id)
        .bind(e.duration_ms)
        .bind(&e.data_hash)
        .bind(&e.audit_trail)
        .bind(&forged.prev_hash)
        .bind(&forged.hash)
        .execute(db.store.pool())
        .await
        .unwrap();
        assert_eq!(
            verdict(&db).await,
            AuditChainError::Inserted { position: 2, seq: 3 }
        );
        db.drop_tables().await;
    }
}
