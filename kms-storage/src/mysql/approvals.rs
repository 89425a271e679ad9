//! Requests waiting for approval in `{prefix}t_kms_approval_request`, shared by every
//! gateway instance over the database.

use super::{sql_err, MySqlStore};
use async_trait::async_trait;
use kms_core::policy::{ApprovalStore, PendingRequest};
use kms_core::StorageError;
use sqlx::Row;

/// An [`ApprovalStore`] in MySQL.
#[derive(Clone, Debug)]
pub struct MySqlApprovalStore {
    store: MySqlStore,
}

impl MySqlApprovalStore {
    pub(super) fn new(store: MySqlStore) -> Self {
        Self { store }
    }

    fn table(&self) -> String {
        self.store.table("t_kms_approval_request")
    }
}

fn encode(request: &PendingRequest) -> Result<String, StorageError> {
    serde_json::to_string(request)
        .map_err(|e| StorageError::Backend(format!("approval request {}: {e}", request.request_id)))
}

#[async_trait]
impl ApprovalStore for MySqlApprovalStore {
    async fn insert(&self, request: &PendingRequest) -> Result<(), StorageError> {
        let result = sqlx::query(&format!(
            "INSERT INTO {} (request_id, key_id, requester, state, version, created_ms, doc) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            self.table()
        ))
        .bind(&request.request_id)
        .bind(&request.key_id)
        .bind(&request.requester)
        .bind(request.state.as_str())
        .bind(request.version)
        .bind(request.created_ms)
        .bind(encode(request)?)
        .execute(self.store.pool())
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StorageError::AlreadyExists(
                format!("approval request {}", request.request_id),
            )),
            Err(e) => Err(sql_err(e)),
        }
    }

    async fn get(&self, request_id: &str) -> Result<Option<PendingRequest>, StorageError> {
        let row = sqlx::query(&format!("SELECT doc FROM {} WHERE request_id = ?", self.table()))
            .bind(request_id)
            .fetch_optional(self.store.pool())
            .await
            .map_err(sql_err)?;
        row.map(|r| {
            let doc: String = r.try_get("doc").map_err(sql_err)?;
            serde_json::from_str(&doc)
                .map_err(|e| StorageError::Corrupt(format!("approval request {request_id}: {e}")))
        })
        .transpose()
    }

    async fn compare_and_swap(
        &self,
        expected_version: u64,
        request: &PendingRequest,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET state = ?, version = ?, doc = ? WHERE request_id = ? AND version = ?",
            self.table()
        ))
        .bind(request.state.as_str())
        .bind(request.version)
        .bind(encode(request)?)
        .bind(&request.request_id)
        .bind(expected_version)
        .execute(self.store.pool())
        .await
        .map_err(sql_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdb::TestDb;
    use crate::contract::approval_store_contract;

    #[tokio::test]
    async fn mysql_approval_store_keeps_the_contract() {
        let db = TestDb::new().await;
        approval_store_contract(&db.store.approvals()).await;
        db.drop_tables().await;
    }
}
