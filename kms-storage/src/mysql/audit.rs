//! The audit log in `{prefix}t_key_operation_log`.
//!
//! Appends are serialised by a single-row head table, `{prefix}t_key_operation_log_head`
//! (last seq and hash, the log id and the writer's Ed25519 signature over them): each
//! append runs in one transaction that locks the head row with `SELECT ... FOR UPDATE`,
//! checks the head's signature and compares the head with the log's last record,
//! inserts the next record and moves and re-signs the head. Locking one existing row,
//! rather than the log's last row, also serialises the very first appends, when there
//! is no row to lock. A log whose last record does not match its signed head (cut
//! short, rewritten, extended by SQL) is never extended.

use super::{sql_err, MySqlStore};
use async_trait::async_trait;
use kms_core::audit::{
    verify_chain, AuditAnchor, AuditChainError, AuditEvent, AuditEventType, AuditRecord, AuditResult,
    AuditSigner, SignedHead, GENESIS_HASH,
};
use kms_core::ports::AuditLog;
use kms_core::StorageError;
use sqlx::mysql::MySqlRow;
use sqlx::Row;
use std::sync::Arc;

const COLUMNS: &str = "seq, event_type, user_id, key_id, operation, result, created_time, \
                       service_name, node_id, duration_ms, data_hash, audit_trail, prev_hash, hash";

/// An [`AuditLog`] in MySQL, its head signed by the writer's key.
#[derive(Clone, Debug)]
pub struct MySqlAuditLog {
    store: MySqlStore,
    signer: Arc<AuditSigner>,
}

fn chain_err(signer: &AuditSigner, e: AuditChainError) -> StorageError {
    StorageError::Corrupt(format!("audit log {}: {e}", signer.log_id()))
}

/// The head row: `None` when it was never signed (a fresh log, or one written before
/// heads were signed).
fn head_from_row(row: &MySqlRow) -> Result<(u64, String, Option<SignedHead>), StorageError> {
    let seq: u64 = row.try_get("seq").map_err(sql_err)?;
    let hash: String = row.try_get("hash").map_err(sql_err)?;
    let log_id: Option<String> = row.try_get("log_id").map_err(sql_err)?;
    let signature: Option<String> = row.try_get("signature").map_err(sql_err)?;
    let head = match (log_id, signature) {
        (Some(log_id), Some(signature)) => Some(SignedHead {
            log_id,
            seq,
            hash: hash.clone(),
            signature,
        }),
        _ => None,
    };
    Ok((seq, hash, head))
}

/// Compare a checked head with the last record (seq and hash; none for seq 0).
fn tip_matches(head: &SignedHead, last: Option<(u64, String)>) -> Result<(), AuditChainError> {
    let (last_seq, last_hash) = last.unwrap_or((0, GENESIS_HASH.to_string()));
    if head.seq > last_seq {
        Err(AuditChainError::Truncated {
            head_seq: head.seq,
            last_seq,
        })
    } else if head.seq < last_seq {
        Err(AuditChainError::Unanchored {
            head_seq: head.seq,
            last_seq,
        })
    } else if head.hash != last_hash {
        Err(AuditChainError::Rewritten { seq: last_seq })
    } else {
        Ok(())
    }
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
    /// Open the log written by `signer` and verify it: the head row's signature (a
    /// fresh log's genesis row is signed now), every link, and the head against the
    /// last record ([`verify_chain`]). A log cut short, rewritten, extended by SQL, or
    /// whose head is unsigned while records exist is refused with
    /// [`StorageError::Corrupt`] saying which.
    pub async fn open(store: MySqlStore, signer: Arc<AuditSigner>) -> Result<Self, StorageError> {
        let me = Self { store, signer };
        let head = me.table("t_key_operation_log_head");
        let genesis = me.signer.genesis();
        // Sign the genesis row of a log that has none yet (only ever at seq 0).
        sqlx::query(&format!(
            "UPDATE {head} SET log_id = ?, signature = ? WHERE id = 1 AND seq = 0 AND signature IS NULL"
        ))
        .bind(&genesis.log_id)
        .bind(&genesis.signature)
        .execute(me.store.pool())
        .await
        .map_err(sql_err)?;
        let anchor = me.anchor().await?;
        let records = me.records().await?;
        verify_chain(&records, &anchor).map_err(|e| chain_err(&me.signer, e))?;
        Ok(me)
    }

    fn table(&self, name: &str) -> String {
        self.store.table(name)
    }

    /// The writer's public key (hex), for whoever verifies the log later.
    pub fn public_key(&self) -> String {
        self.signer.public_key()
    }
}

#[async_trait]
impl AuditLog for MySqlAuditLog {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, StorageError> {
        let head = self.table("t_key_operation_log_head");
        let log = self.table("t_key_operation_log");
        let mut tx = self.store.pool().begin().await.map_err(sql_err)?;
        let row = sqlx::query(&format!(
            "SELECT seq, hash, log_id, signature FROM {head} WHERE id = 1 FOR UPDATE"
        ))
        .fetch_one(&mut *tx)
        .await
        .map_err(sql_err)?;
        let (_, _, signed) = head_from_row(&row)?;
        let last: Option<(u64, String)> =
            sqlx::query(&format!("SELECT seq, hash FROM {log} ORDER BY seq DESC LIMIT 1"))
                .fetch_optional(&mut *tx)
                .await
                .map_err(sql_err)?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get("seq")?, r.try_get("hash")?)))
                .transpose()
                .map_err(sql_err)?;
        // Never extend a chain whose head is unsigned, forged, or not at its last record.
        let current = match signed {
            Some(h) => h,
            None => {
                let last_seq = last.as_ref().map_or(0, |l| l.0);
                return Err(chain_err(&self.signer, AuditChainError::HeadMissing { last_seq }));
            }
        };
        self.signer
            .check(&current)
            .and_then(|()| tip_matches(&current, last))
            .map_err(|e| chain_err(&self.signer, e))?;
        let record = AuditRecord::seal(current.seq + 1, event, &current.hash);
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
        let next = self.signer.sign(record.seq, &record.hash);
        sqlx::query(&format!(
            "UPDATE {head} SET seq = ?, hash = ?, log_id = ?, signature = ? WHERE id = 1"
        ))
        .bind(next.seq)
        .bind(&next.hash)
        .bind(&next.log_id)
        .bind(&next.signature)
        .execute(&mut *tx)
        .await
        .map_err(sql_err)?;
        tx.commit().await.map_err(sql_err)?;
        Ok(record)
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} ORDER BY seq",
            self.table("t_key_operation_log")
        );
        let rows = sqlx::query(&sql)
            .fetch_all(self.store.pool())
            .await
            .map_err(sql_err)?;
        rows.iter().map(from_row).collect()
    }

    async fn anchor(&self) -> Result<AuditAnchor, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT seq, hash, log_id, signature FROM {} WHERE id = 1",
            self.table("t_key_operation_log_head")
        ))
        .fetch_one(self.store.pool())
        .await
        .map_err(sql_err)?;
        match head_from_row(&row)? {
            (_, _, Some(h)) => Ok(self.signer.anchor(h)),
            (seq, _, None) => Err(chain_err(
                &self.signer,
                AuditChainError::HeadMissing { last_seq: seq },
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdb::TestDb;
    use crate::contract;
    use kms_core::audit::{verify_chain, verify_links, AuditChainError, AuditRecord, AuditSigner};
    use kms_core::ports::AuditLog;
    use std::sync::Arc;

    fn signer() -> Arc<AuditSigner> {
        Arc::new(AuditSigner::from_secret("coordinator", &[5u8; 32]))
    }

    async fn log(db: &TestDb) -> super::MySqlAuditLog {
        super::MySqlAuditLog {
            store: db.store.clone(),
            signer: signer(),
        }
    }

    async fn filled() -> TestDb {
        let db = TestDb::new().await;
        let log = db.store.audit(signer()).await.unwrap();
        for i in 1..=5 {
            log.append(contract::audit_event(i)).await.unwrap();
        }
        verify_chain(&log.records().await.unwrap(), &log.anchor().await.unwrap()).unwrap();
        db
    }

    fn assert_refused<T: std::fmt::Debug>(r: Result<T, kms_core::StorageError>, what: &str) {
        match r {
            Err(kms_core::StorageError::Corrupt(m)) => {
                assert!(m.contains("audit log coordinator") && m.contains(what), "{m}")
            }
            other => panic!("expected a Corrupt audit log naming {what:?}, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn review_storage_m1_truncated_tail_is_named() {
        let db = filled().await;
        let anchor = log(&db).await.anchor().await.unwrap();
        db.exec("DELETE FROM `{p}t_key_operation_log` WHERE seq >= 4")
            .await;
        let records = log(&db).await.records().await.unwrap();
        assert_eq!(verify_links(&records), Ok(()));
        assert_eq!(
            verify_chain(&records, &anchor),
            Err(AuditChainError::Truncated {
                head_seq: 5,
                last_seq: 3
            })
        );
        assert_refused(
            log(&db).await.append(contract::audit_event(6)).await,
            "seq 4 to 5 were cut off",
        );
        assert_refused(db.store.audit(signer()).await, "seq 4 to 5 were cut off");
        // Moving the head row back does not help without the key.
        db.exec("UPDATE `{p}t_key_operation_log_head` SET seq = 3, hash = (SELECT hash FROM `{p}t_key_operation_log` WHERE seq = 3) WHERE id = 1")
            .await;
        assert_refused(db.store.audit(signer()).await, "does not verify");
        db.exec("UPDATE `{p}t_key_operation_log_head` SET signature = NULL WHERE id = 1")
            .await;
        assert_refused(db.store.audit(signer()).await, "no signed head");
        db.drop_tables().await;
    }

    #[tokio::test]
    async fn review_storage_m1_rewritten_chain_is_named() {
        let db = filled().await;
        let mut records = log(&db).await.records().await.unwrap();
        // Edit seq 3 and re-hash it and every record after it, in SQL.
        records[2].event.user_id = "mallory".into();
        for i in 2..records.len() {
            let prev = records[i - 1].hash.clone();
            records[i] = AuditRecord::seal(records[i].seq, records[i].event.clone(), &prev);
            sqlx::query(&format!(
                "UPDATE {} SET user_id = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                db.store.table("t_key_operation_log")
            ))
            .bind(&records[i].event.user_id)
            .bind(&records[i].prev_hash)
            .bind(&records[i].hash)
            .bind(records[i].seq)
            .execute(db.store.pool())
            .await
            .unwrap();
        }
        let stored = log(&db).await.records().await.unwrap();
        assert_eq!(stored, records);
        assert_eq!(verify_links(&stored), Ok(()));
        assert_eq!(
            verify_chain(&stored, &log(&db).await.anchor().await.unwrap()),
            Err(AuditChainError::Rewritten { seq: 5 })
        );
        assert_refused(log(&db).await.append(contract::audit_event(6)).await, "rewritten");
        assert_refused(db.store.audit(signer()).await, "rewritten");
        db.drop_tables().await;
    }

    async fn verdict(db: &TestDb) -> AuditChainError {
        verify_links(&log(db).await.records().await.unwrap()).unwrap_err()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn audit_log_contract() {
        let db = TestDb::new().await;
        let store = db.store.clone();
        contract::audit_log_contract(move || {
            let store = store.clone();
            async move { store.audit(signer()).await.unwrap() }
        })
        .await;
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
        let records = log(&db).await.records().await.unwrap();
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
