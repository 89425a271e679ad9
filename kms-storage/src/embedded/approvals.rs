//! Requests waiting for approval in an embedded database (a single gateway, or an
//! application that applies the risk rules itself), one JSON document per request.

use super::{db_err, EmbeddedDb};
use async_trait::async_trait;
use kms_core::policy::{ApprovalStore, PendingRequest};
use kms_core::StorageError;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

/// request id -> JSON of the request. Created on first write, so databases made before
/// it need no migration.
const APPROVAL_REQUESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("approval_requests");

/// An [`ApprovalStore`] in an embedded database.
#[derive(Clone, Debug)]
pub struct EmbeddedApprovalStore {
    db: EmbeddedDb,
}

impl EmbeddedApprovalStore {
    /// The approval store in `db`.
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db }
    }

    /// Write `request` when the stored one is absent (`expected` `None`) or at version
    /// `expected`: the read and the write share one redb write transaction, and redb
    /// admits one writer at a time, so the check and the swap are atomic.
    async fn write(&self, request: &PendingRequest, expected: Option<u64>) -> Result<bool, StorageError> {
        let json = serde_json::to_vec(request)
            .map_err(|e| StorageError::Backend(format!("approval request {}: {e}", request.request_id)))?;
        let id = request.request_id.clone();
        self.db
            .blocking(move |db| {
                let txn = db.begin_write()?;
                let written = {
                    let mut t = txn.open_table(APPROVAL_REQUESTS).map_err(db_err)?;
                    let found = t
                        .get(id.as_str())
                        .map_err(db_err)?
                        .map(|g| decode(&id, g.value()))
                        .transpose()?;
                    let ok = match (found, expected) {
                        (Some(_), None) => {
                            return Err(StorageError::AlreadyExists(format!("approval request {id}")))
                        }
                        (None, None) => true,
                        (Some(f), Some(v)) => f.version == v,
                        (None, Some(_)) => false,
                    };
                    if ok {
                        t.insert(id.as_str(), json.as_slice()).map_err(db_err)?;
                    }
                    ok
                };
                txn.commit().map_err(db_err)?;
                Ok(written)
            })
            .await
    }
}

fn decode(id: &str, bytes: &[u8]) -> Result<PendingRequest, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt(format!("approval request {id}: {e}")))
}

#[async_trait]
impl ApprovalStore for EmbeddedApprovalStore {
    async fn insert(&self, request: &PendingRequest) -> Result<(), StorageError> {
        self.write(request, None).await.map(|_| ())
    }

    async fn get(&self, request_id: &str) -> Result<Option<PendingRequest>, StorageError> {
        let id = request_id.to_string();
        self.db
            .blocking(move |db| {
                let txn = db.raw().begin_read().map_err(db_err)?;
                let t = match txn.open_table(APPROVAL_REQUESTS) {
                    Ok(t) => t,
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                    Err(e) => return Err(db_err(e)),
                };
                let v = t.get(id.as_str()).map_err(db_err)?;
                v.map(|g| decode(&id, g.value())).transpose()
            })
            .await
    }

    async fn compare_and_swap(
        &self,
        expected_version: u64,
        request: &PendingRequest,
    ) -> Result<bool, StorageError> {
        self.write(request, Some(expected_version)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_approval_store_keeps_the_contract_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.redb");
        let db = EmbeddedDb::open(&path).unwrap();
        let store = EmbeddedApprovalStore::new(db.clone());
        crate::contract::approval_store_contract(&store).await;
        let request = PendingRequest::new(
            "kept",
            "alice",
            None,
            "set_status",
            serde_json::json!({}),
            1,
            vec![],
            0,
            1,
        );
        store.insert(&request).await.unwrap();
        drop(store);
        drop(db);
        let reopened = EmbeddedApprovalStore::new(EmbeddedDb::open(&path).unwrap());
        assert_eq!(reopened.get("kept").await.unwrap(), Some(request));
    }
}
