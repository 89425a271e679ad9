//! The audit log in the embedded database: seq -> JSON of the sealed record, and at
//! the reserved key 0 the JSON of the log's [`SignedHead`]. redb admits one write
//! transaction at a time, and each append reads the head and the last record, checks
//! that they agree, and writes the next record and the newly signed head inside one,
//! so the chain cannot fork and a cut or rewritten tail is never extended.
//!
//! Keeping the head in the same table means backups and restores carry it with the
//! records they sign.

use super::{db_err, EmbeddedDb, AUDIT_LOG};
use async_trait::async_trait;
use kms_core::audit::{
    verify_chain, AuditAnchor, AuditChainError, AuditEvent, AuditRecord, AuditSigner, SignedHead,
};
use kms_core::ports::AuditLog;
use kms_core::StorageError;
use redb::{ReadableDatabase, ReadableTable};
use std::sync::Arc;

/// The key of the signed head in the audit table (records start at seq 1).
const HEAD_KEY: u64 = 0;

/// An [`AuditLog`] in an embedded database, its head signed by the writer's key.
#[derive(Clone, Debug)]
pub struct EmbeddedAuditLog {
    db: EmbeddedDb,
    signer: Arc<AuditSigner>,
}

fn from_json(seq: u64, bytes: &[u8]) -> Result<AuditRecord, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt(format!("audit record {seq}: {e}")))
}

fn head_from_json(bytes: &[u8]) -> Result<SignedHead, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt(format!("audit log head: {e}")))
}

fn chain_err(signer: &AuditSigner, e: AuditChainError) -> StorageError {
    StorageError::Corrupt(format!("audit log {}: {e}", signer.log_id()))
}

type AuditTable<'t> = redb::Table<'t, u64, &'static [u8]>;

/// The stored head and the last record, checked against each other: the head must be
/// signed by `signer` for its log and sit exactly at the last record.
fn checked_tip(
    t: &impl ReadableTable<u64, &'static [u8]>,
    signer: &AuditSigner,
) -> Result<SignedHead, StorageError> {
    let last = match t.range(1..).map_err(db_err)?.next_back() {
        Some(e) => {
            let (k, v) = e.map_err(db_err)?;
            Some(from_json(k.value(), v.value())?)
        }
        None => None,
    };
    let head = match t.get(HEAD_KEY).map_err(db_err)? {
        Some(v) => head_from_json(v.value())?,
        None => {
            let last_seq = last.as_ref().map_or(0, |r| r.seq);
            return Err(chain_err(signer, AuditChainError::HeadMissing { last_seq }));
        }
    };
    signer.check(&head).map_err(|e| chain_err(signer, e))?;
    let (last_seq, last_hash) = last
        .as_ref()
        .map_or((0, kms_core::audit::GENESIS_HASH), |r| (r.seq, r.hash.as_str()));
    let err = if head.seq > last_seq {
        Some(AuditChainError::Truncated {
            head_seq: head.seq,
            last_seq,
        })
    } else if head.seq < last_seq {
        Some(AuditChainError::Unanchored {
            head_seq: head.seq,
            last_seq,
        })
    } else if head.hash != last_hash {
        Some(AuditChainError::Rewritten { seq: last_seq })
    } else {
        None
    };
    match err {
        Some(e) => Err(chain_err(signer, e)),
        None => Ok(head),
    }
}

fn put_head(t: &mut AuditTable<'_>, head: &SignedHead) -> Result<(), StorageError> {
    let json =
        serde_json::to_vec(head).map_err(|e| StorageError::Backend(format!("encode audit head: {e}")))?;
    t.insert(HEAD_KEY, json.as_slice()).map_err(db_err)?;
    Ok(())
}

fn read_all(db: &EmbeddedDb) -> Result<(Vec<AuditRecord>, Option<SignedHead>), StorageError> {
    let txn = db.raw().begin_read().map_err(db_err)?;
    let t = txn.open_table(AUDIT_LOG).map_err(db_err)?;
    let mut out = Vec::new();
    for entry in t.range(1..).map_err(db_err)? {
        let (k, v) = entry.map_err(db_err)?;
        out.push(from_json(k.value(), v.value())?);
    }
    let head = match t.get(HEAD_KEY).map_err(db_err)? {
        Some(v) => Some(head_from_json(v.value())?),
        None => None,
    };
    Ok((out, head))
}

impl EmbeddedAuditLog {
    /// Open the audit log in `db`, written (and its head signed) by `signer`, and
    /// verify it: every link, the head's signature, and that the log ends at the head
    /// ([`verify_chain`]). A new, empty log gets its signed genesis head. A log cut
    /// short, rewritten, extended without the key, or whose head is gone is refused
    /// with [`StorageError::Corrupt`] saying which.
    pub fn open(db: EmbeddedDb, signer: Arc<AuditSigner>) -> Result<Self, StorageError> {
        let (records, head) = read_all(&db)?;
        let head = match head {
            Some(h) => h,
            None if records.is_empty() => {
                let txn = db.begin_write()?;
                {
                    let mut t = txn.open_table(AUDIT_LOG).map_err(db_err)?;
                    if t.get(HEAD_KEY).map_err(db_err)?.is_none()
                        && t.range(1..).map_err(db_err)?.next().is_none()
                    {
                        put_head(&mut t, &signer.genesis())?;
                    }
                }
                txn.commit().map_err(db_err)?;
                return Ok(Self { db, signer });
            }
            None => {
                let last_seq = records.last().map_or(0, |r| r.seq);
                return Err(chain_err(&signer, AuditChainError::HeadMissing { last_seq }));
            }
        };
        signer.check(&head).map_err(|e| chain_err(&signer, e))?;
        verify_chain(&records, &signer.anchor(head)).map_err(|e| chain_err(&signer, e))?;
        Ok(Self { db, signer })
    }

    /// A log already verified by [`EmbeddedAuditLog::open`] in this process.
    pub(crate) fn verified(db: EmbeddedDb, signer: Arc<AuditSigner>) -> Self {
        Self { db, signer }
    }

    /// The writer's public key (hex), for whoever verifies the log later.
    pub fn public_key(&self) -> String {
        self.signer.public_key()
    }
}

#[async_trait]
impl AuditLog for EmbeddedAuditLog {
    async fn append(&self, event: AuditEvent) -> Result<AuditRecord, StorageError> {
        let signer = self.signer.clone();
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                let record = {
                    let mut t = txn.open_table(AUDIT_LOG).map_err(db_err)?;
                    // Never extend a chain whose tail was cut or rewritten.
                    let head = checked_tip(&t, &signer)?;
                    let record = AuditRecord::seal(head.seq + 1, event, &head.hash);
                    let json = serde_json::to_vec(&record)
                        .map_err(|e| StorageError::Backend(format!("encode audit record: {e}")))?;
                    t.insert(record.seq, json.as_slice()).map_err(db_err)?;
                    put_head(&mut t, &signer.sign(record.seq, &record.hash))?;
                    record
                };
                txn.commit().map_err(db_err)?;
                Ok(record)
            })
            .await
    }

    async fn records(&self) -> Result<Vec<AuditRecord>, StorageError> {
        self.db.blocking(|db| read_all(db).map(|(r, _)| r)).await
    }

    async fn anchor(&self) -> Result<AuditAnchor, StorageError> {
        let signer = self.signer.clone();
        let head = self
            .db
            .blocking(|db| read_all(db).map(|(_, h)| h))
            .await?
            .ok_or_else(|| chain_err(&signer, AuditChainError::HeadMissing { last_seq: 0 }))?;
        Ok(signer.anchor(head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;
    use kms_core::audit::{verify_links, AuditChainError};
    use std::path::Path;

    fn signer() -> Arc<AuditSigner> {
        Arc::new(AuditSigner::from_secret("tss1", &[9u8; 32]))
    }

    fn open_log(db: &EmbeddedDb) -> Result<EmbeddedAuditLog, StorageError> {
        EmbeddedAuditLog::open(db.clone(), signer())
    }

    async fn filled(path: &Path) {
        let log = open_log(&EmbeddedDb::open(path).unwrap()).unwrap();
        for i in 1..=5 {
            log.append(contract::audit_event(i)).await.unwrap();
        }
    }

    /// Rewrite the records (not the signed head) as an attacker with the file would;
    /// `by_position` stores them at keys 1, 2, ... in their new order, else at their seq.
    fn rewrite(db: &EmbeddedDb, by_position: bool, f: impl FnOnce(&mut Vec<AuditRecord>)) {
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(AUDIT_LOG).unwrap();
            let mut recs: Vec<AuditRecord> = t
                .range(1..)
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    from_json(k.value(), v.value()).unwrap()
                })
                .collect();
            t.retain(|k, _| k == HEAD_KEY).unwrap();
            f(&mut recs);
            for (i, r) in recs.iter().enumerate() {
                let json = serde_json::to_vec(r).unwrap();
                let key = if by_position { i as u64 + 1 } else { r.seq };
                t.insert(key, json.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
    }

    fn tamper_db(db: &EmbeddedDb, f: impl FnOnce(&mut Vec<AuditRecord>)) {
        rewrite(db, false, f)
    }

    fn tamper(path: &Path, f: impl FnOnce(&mut Vec<AuditRecord>)) {
        rewrite(&EmbeddedDb::open(path).unwrap(), true, f)
    }

    async fn verdict(path: &Path) -> AuditChainError {
        let db = EmbeddedDb::open(path).unwrap();
        let (records, _) = read_all(&db).unwrap();
        verify_links(&records).unwrap_err()
    }

    fn assert_refused(r: Result<impl std::fmt::Debug, StorageError>, what: &str) {
        match r {
            Err(StorageError::Corrupt(m)) => assert!(m.contains("audit log tss1") && m.contains(what), "{m}"),
            other => panic!("expected a Corrupt audit log naming {what:?}, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn review_storage_m1_truncated_tail_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = EmbeddedDb::open(&dir.path().join("audit.redb")).unwrap();
        let log = open_log(&db).unwrap();
        for i in 1..=5 {
            log.append(contract::audit_event(i)).await.unwrap();
        }
        let anchor = log.anchor().await.unwrap();
        tamper_db(&db, |r| r.truncate(3));
        let records = log.records().await.unwrap();
        // The links alone cannot see it...
        assert_eq!(verify_links(&records), Ok(()));
        // ...the signed head can, from the store's own head and from an exported one.
        for a in [log.anchor().await.unwrap(), anchor] {
            assert_eq!(
                verify_chain(&records, &a),
                Err(AuditChainError::Truncated {
                    head_seq: 5,
                    last_seq: 3
                })
            );
        }
        // The next append refuses to continue from the cut head, and so does a restart.
        assert_refused(
            log.append(contract::audit_event(6)).await,
            "seq 4 to 5 were cut off",
        );
        assert_refused(open_log(&db), "seq 4 to 5 were cut off");
        // Deleting the head too does not hide the cut.
        let txn = db.begin_write().unwrap();
        txn.open_table(AUDIT_LOG).unwrap().remove(HEAD_KEY).unwrap();
        txn.commit().unwrap();
        assert_refused(open_log(&db), "no signed head");
    }

    #[tokio::test]
    async fn review_storage_m1_rewritten_chain_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = EmbeddedDb::open(&dir.path().join("audit.redb")).unwrap();
        let log = open_log(&db).unwrap();
        for i in 1..=5 {
            log.append(contract::audit_event(i)).await.unwrap();
        }
        // Edit seq 3 and re-hash it and every record after it.
        tamper_db(&db, |r| {
            r[2].event.user_id = "mallory".into();
            for i in 2..r.len() {
                let prev = r[i - 1].hash.clone();
                r[i] = AuditRecord::seal(r[i].seq, r[i].event.clone(), &prev);
            }
        });
        let records = log.records().await.unwrap();
        assert_eq!(verify_links(&records), Ok(()));
        assert_eq!(
            verify_chain(&records, &log.anchor().await.unwrap()),
            Err(AuditChainError::Rewritten { seq: 5 })
        );
        assert_refused(log.append(contract::audit_event(6)).await, "rewritten");
        assert_refused(open_log(&db), "rewritten");
        // A head re-signed with another key is no better.
        let forger = AuditSigner::from_secret("tss1", &[1u8; 32]);
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(AUDIT_LOG).unwrap();
            let last = records.last().unwrap();
            put_head(&mut t, &forger.sign(last.seq, &last.hash)).unwrap();
        }
        txn.commit().unwrap();
        assert_refused(open_log(&db), "does not verify");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn audit_log_contract_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.redb");
        let log = Arc::new(open_log(&EmbeddedDb::open(&path).unwrap()).unwrap());
        contract::audit_log(log.clone()).await;
        drop(log);
        let log = open_log(&EmbeddedDb::open(&path).unwrap()).unwrap();
        let next = log.append(contract::audit_event(18)).await.unwrap();
        assert_eq!(next.seq, 18);
        verify_chain(&log.records().await.unwrap(), &log.anchor().await.unwrap()).unwrap();
        // Another writer's key does not open it.
        drop(log);
        let other = Arc::new(AuditSigner::from_secret("tss1", &[2u8; 32]));
        assert!(EmbeddedAuditLog::open(EmbeddedDb::open(&path).unwrap(), other).is_err());
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
