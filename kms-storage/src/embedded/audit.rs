//! The audit log in the embedded database: seq -> JSON of the sealed record. redb
//! admits one write transaction at a time, and each append reads the last record and
//! writes the next inside one, so the chain cannot fork.

use super::{db_err, EmbeddedDb, AUDIT_LOG};
use async_trait::async_trait;
use kms_core::audit::{AuditEvent, AuditRecord, GENESIS_HASH};
use kms_core::ports::AuditLog;
use kms_core::StorageError;
use redb::{ReadableDatabase, ReadableTable};

/// An [`AuditLog`] in an embedded database.
#[derive(Clone, Debug)]
pub struct EmbeddedAuditLog {
    db: EmbeddedDb,
}

fn from_json(seq: u64, bytes: &[u8]) -> Result<AuditRecord, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt(format!("audit record {seq}: {e}")))
}

impl EmbeddedAuditLog {
    /// The audit log in `db`.
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AuditLog for EmbeddedAuditLog {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, StorageError> {
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                let record = {
                    let mut t = txn.open_table(AUDIT_LOG).map_err(db_err)?;
                    let last = match t.last().map_err(db_err)? {
                        Some((k, v)) => Some(from_json(k.value(), v.value())?),
                        None => None,
                    };
                    let (seq, prev) = match last {
                        Some(r) => (r.seq + 1, r.hash),
                        None => (1, GENESIS_HASH.to_string()),
                    };
                    let record = AuditRecord::seal(seq, event, &prev);
                    let json = serde_json::to_vec(&record)
                        .map_err(|e| StorageError::Backend(format!("encode audit record: {e}")))?;
                    t.insert(seq, json.as_slice()).map_err(db_err)?;
                    record
                };
                txn.commit().map_err(db_err)?;
                Ok(record)
            })
            .await
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, StorageError> {
        self.db
            .blocking(|db| {
                let txn = db.raw().begin_read().map_err(db_err)?;
                let t = txn.open_table(AUDIT_LOG).map_err(db_err)?;
                let mut out = Vec::new();
                for entry in t.iter().map_err(db_err)? {
                    let (k, v) = entry.map_err(db_err)?;
                    out.push(from_json(k.value(), v.value())?);
                }
                Ok(out)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;
    use kms_core::audit::{verify_chain, AuditChainError};
    use std::path::Path;
    use std::sync::Arc;

    async fn filled(path: &Path) {
        let log = EmbeddedAuditLog::new(EmbeddedDb::open(path).unwrap());
        for i in 1..=5 {
            log.append(contract::audit_event(i)).await.unwrap();
        }
    }

    /// Rewrite the table as an attacker with the file would.
    fn tamper(path: &Path, f: impl FnOnce(&mut Vec<AuditRecord>)) {
        let db = EmbeddedDb::open(path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(AUDIT_LOG).unwrap();
            let mut recs: Vec<AuditRecord> = t
                .iter()
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    from_json(k.value(), v.value()).unwrap()
                })
                .collect();
            t.retain(|_, _| false).unwrap();
            f(&mut recs);
            for (i, r) in recs.iter().enumerate() {
                let json = serde_json::to_vec(r).unwrap();
                t.insert(i as u64 + 1, json.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
    }

    async fn verdict(path: &Path) -> AuditChainError {
        let log = EmbeddedAuditLog::new(EmbeddedDb::open(path).unwrap());
        verify_chain(&log.records().await.unwrap()).unwrap_err()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn audit_log_contract_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.redb");
        let log = Arc::new(EmbeddedAuditLog::new(EmbeddedDb::open(&path).unwrap()));
        contract::audit_log(log.clone()).await;
        drop(log);
        let log = EmbeddedAuditLog::new(EmbeddedDb::open(&path).unwrap());
        let next = log.append(contract::audit_event(18)).await.unwrap();
        assert_eq!(next.seq, 18);
        verify_chain(&log.records().await.unwrap()).unwrap();
    }

    #[tokio::test]
    async fn tampering_is_found() {
        let dir = tempfile::tempdir().unwrap();

        let p = dir.path().join("edit.redb");
        filled(&p).await;
        tamper(&p, |r| r[2].event.user_id = "mallory".into());
        assert_eq!(
            verdict(&p).await,
            AuditChainError::Altered { position: 2, seq: 3 }
        );

        let p = dir.path().join("delete.redb");
        filled(&p).await;
        tamper(&p, |r| {
            r.remove(3);
        });
        assert!(matches!(
            verdict(&p).await,
            AuditChainError::Missing {
                expected_seq: 4,
                found_seq: 5,
                ..
            }
        ));

        let p = dir.path().join("swap.redb");
        filled(&p).await;
        tamper(&p, |r| r.swap(0, 1));
        assert_eq!(
            verdict(&p).await,
            AuditChainError::OutOfOrder {
                position: 0,
                expected_seq: 1,
                found_seq: 2
            }
        );

        let p = dir.path().join("insert.redb");
        filled(&p).await;
        tamper(&p, |r| {
            let forged = AuditRecord::seal(4, contract::audit_event(40), &r[2].hash);
            r.insert(3, forged);
        });
        assert_eq!(
            verdict(&p).await,
            AuditChainError::Inserted { position: 3, seq: 4 }
        );
    }
}
