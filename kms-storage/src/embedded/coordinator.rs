//! The coordinator's own store when it runs embedded (in an application's process or a
//! single gateway): key metadata and a signed audit log in one redb database.
//!
//! Layout under the coordinator's directory `DIR`:
//!
//! ```text
//! DIR/certs/coordinator.dek     its service key, wrapped under the password
//! DIR/coordinator.redb          metadata and audit log
//! ```
//!
//! The audit head is signed with a key derived from the service key, so it is unlocked
//! by the same password and as durable as the `.dek` file.

use super::{EmbeddedAuditLog, EmbeddedDb, EmbeddedMetadataStore};
use crate::{files, keyring};
use kms_core::audit::AuditSigner;
use kms_core::StorageError;
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The coordinator's metadata store and audit log, open.
#[derive(Clone, Debug)]
pub struct CoordinatorStorage {
    /// Key metadata.
    pub metadata: EmbeddedMetadataStore,
    /// The signed, chained audit log.
    pub audit: EmbeddedAuditLog,
}

impl CoordinatorStorage {
    /// Open (or create) the coordinator's store under `dir` with `password`; a new
    /// service key is wrapped with `iterations` of PBKDF2. The service key is unwrapped
    /// before the database is opened, so a wrong password
    /// ([`StorageError::WrongPassword`]) changes no file. Blocks (PBKDF2, file sync): from
    /// async code, run it on the blocking pool.
    pub fn open(dir: &Path, password: &Zeroizing<String>, iterations: u32) -> Result<Self, StorageError> {
        files::create_private_dir(dir)?;
        let service_key =
            keyring::load_or_create_service_key(&dir.join("certs"), "coordinator", password, iterations)?;
        let db = EmbeddedDb::open(&dir.join("coordinator.redb"))?;
        let secret = keyring::audit_signing_secret(&service_key);
        let signer = AuditSigner::from_secret("coordinator", secret.expose());
        Ok(Self {
            metadata: EmbeddedMetadataStore::new(db.clone()),
            audit: EmbeddedAuditLog::open(db, Arc::new(signer))?,
        })
    }
}
