//! A coordinator in the caller's process that reaches node daemons (`kms-node`) over
//! gRPC with mutual TLS (feature `grpc`). The same [`crate::KmsClient`] code drives it
//! and the in-process simulator.
//!
//! ```no_run
//! use kms_client::{GrpcCluster, KmsClient, GenerateKey};
//! use kms_core::{Algorithm, NodeId};
//! use kms_transport::grpc::NodeEndpoint;
//! use kms_transport::tls::CertFiles;
//! # async fn demo(directory: kms_core::identity::PeerDirectory) -> Result<(), kms_core::KmsError> {
//! let nodes = (1..=4).map(|i| NodeEndpoint {
//!     node: NodeId::new(format!("tss{i}")).unwrap(),
//!     addr: format!("127.0.0.1:900{i}").parse().unwrap(),
//! });
//! let tls = CertFiles {
//!     ca: "pki/ca.cert".into(),
//!     cert: "pki/gateway/gateway.cert".into(),
//!     key: "pki/gateway/gateway.key".into(),
//! };
//! let cluster = GrpcCluster::builder(nodes, tls, directory)
//!     .embedded_store("coordinator", zeroize::Zeroizing::new("password".into()))
//!     .open()
//!     .await?;
//! let client = KmsClient::new(cluster);
//! let key = client.generate_key(GenerateKey::new(Algorithm::Eddsa)).await?;
//! # Ok(()) }
//! ```

use crate::api::{GenerateKey, KmsApi};
use async_trait::async_trait;
use kms_core::coordinator::{Coordinator, CoordinatorConfig, RecoveryOptions};
use kms_core::identity::PeerDirectory;
use kms_core::ports::{AuditLog, MetadataStore};
use kms_core::{KeyId, KeyMetadata, KeyStatus, KmsError, NodeId, Principal, SignatureOutput, StorageError};
use kms_storage::CoordinatorStorage;
use kms_transport::grpc::{GrpcNodeTransport, GrpcTransportConfig, NodeEndpoint};
use kms_transport::tls::{gateway_client_config, CertFiles};
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

enum Store {
    Embedded {
        dir: PathBuf,
        password: Zeroizing<String>,
        iterations: u32,
    },
    Given {
        metadata: Arc<dyn MetadataStore>,
        audit: Arc<dyn AuditLog>,
    },
}

/// Builder of a [`GrpcCluster`].
pub struct GrpcClusterBuilder {
    nodes: Vec<NodeEndpoint>,
    tls: CertFiles,
    directory: PeerDirectory,
    store: Option<Store>,
    transport: GrpcTransportConfig,
    coordinator: CoordinatorConfig,
    recovery: Option<RecoveryOptions>,
}

impl GrpcClusterBuilder {
    /// Keep the coordinator's metadata and audit log in an embedded database under
    /// `dir` (see [`kms_storage::CoordinatorStorage`]), unlocked by `password`.
    pub fn embedded_store(mut self, dir: impl Into<PathBuf>, password: Zeroizing<String>) -> Self {
        self.store = Some(Store::Embedded {
            dir: dir.into(),
            password,
            iterations: kms_storage::keyring::DEFAULT_PBKDF2_ITERATIONS,
        });
        self
    }

    /// PBKDF2 iterations for a new embedded store's key file (never below 10 000).
    pub fn pbkdf2_iterations(mut self, n: u32) -> Self {
        if let Some(Store::Embedded { iterations, .. }) = &mut self.store {
            *iterations = n;
        }
        self
    }

    /// Use these stores (MySQL, say) for metadata and audit.
    pub fn stores(mut self, metadata: Arc<dyn MetadataStore>, audit: Arc<dyn AuditLog>) -> Self {
        self.store = Some(Store::Given { metadata, audit });
        self
    }

    /// Timings and limits of the gRPC transport.
    pub fn transport_config(mut self, config: GrpcTransportConfig) -> Self {
        self.transport = config;
        self
    }

    /// The coordinator's configuration.
    pub fn coordinator_config(mut self, config: CoordinatorConfig) -> Self {
        self.coordinator = config;
        self
    }

    /// How [`GrpcClusterBuilder::open`] recovers (default: as
    /// [`RecoveryOptions::default`], and with an embedded store, whose file this process
    /// locks, leases left by a crash are taken over).
    pub fn recovery(mut self, options: RecoveryOptions) -> Self {
        self.recovery = Some(options);
        self
    }

    /// Load the TLS material, open the store and run crash recovery against the nodes
    /// that answer (others are left for a later pass). No node need be up.
    pub async fn open(self) -> Result<Arc<GrpcCluster>, KmsError> {
        let tls = gateway_client_config(&self.tls)
            .map_err(|e| KmsError::InvalidConfiguration(format!("gateway TLS material: {e}")))?;
        let node_ids: Vec<NodeId> = self.nodes.iter().map(|n| n.node.clone()).collect();
        if let Some(n) = node_ids.iter().find(|n| self.directory.get(n).is_none()) {
            return Err(KmsError::InvalidConfiguration(format!(
                "node {n} has no identity in the peer directory"
            )));
        }
        let transport = Arc::new(
            GrpcNodeTransport::new(self.nodes, tls, self.transport)
                .map_err(|e| KmsError::InvalidConfiguration(e.to_string()))?,
        );
        let (metadata, audit, alone): (Arc<dyn MetadataStore>, Arc<dyn AuditLog>, bool) = match self.store {
            Some(Store::Embedded {
                dir,
                password,
                iterations,
            }) => {
                let store = tokio::task::spawn_blocking(move || {
                    CoordinatorStorage::open(&dir, &password, iterations)
                })
                .await
                .map_err(|e| StorageError::Backend(format!("storage task failed: {e}")))??;
                (Arc::new(store.metadata), Arc::new(store.audit), true)
            }
            Some(Store::Given { metadata, audit }) => (metadata, audit, false),
            None => {
                return Err(KmsError::InvalidConfiguration(
                    "a GrpcCluster needs a store for metadata and audit: embedded_store() or stores()".into(),
                ))
            }
        };
        let coordinator = Coordinator::new(node_ids, transport.clone(), metadata, audit.clone())
            .with_config(self.coordinator)
            .with_directory(self.directory);
        let options = self.recovery.unwrap_or(RecoveryOptions {
            break_leases: alone,
            ..RecoveryOptions::default()
        });
        coordinator.recover_with(options).await?;
        Ok(Arc::new(GrpcCluster {
            coordinator,
            transport,
            audit,
        }))
    }
}

/// A coordinator in this process over node daemons reached by gRPC.
pub struct GrpcCluster {
    coordinator: Coordinator,
    transport: Arc<GrpcNodeTransport>,
    audit: Arc<dyn AuditLog>,
}

impl GrpcCluster {
    /// A builder over `nodes`, presenting the gateway certificate `tls`, with the nodes'
    /// pinned identities `directory` (the same file the nodes are started with).
    pub fn builder(
        nodes: impl IntoIterator<Item = NodeEndpoint>,
        tls: CertFiles,
        directory: PeerDirectory,
    ) -> GrpcClusterBuilder {
        GrpcClusterBuilder {
            nodes: nodes.into_iter().collect(),
            tls,
            directory,
            store: None,
            transport: GrpcTransportConfig::default(),
            coordinator: CoordinatorConfig::default(),
            recovery: None,
        }
    }

    /// The coordinator.
    pub fn coordinator(&self) -> &Coordinator {
        &self.coordinator
    }

    /// The transport (availability of each node, taking one out of rotation).
    pub fn transport(&self) -> &Arc<GrpcNodeTransport> {
        &self.transport
    }

    /// The audit log.
    pub fn audit_log(&self) -> &Arc<dyn AuditLog> {
        &self.audit
    }
}

#[async_trait]
impl KmsApi for GrpcCluster {
    async fn generate_key(
        &self,
        principal: &Principal,
        request: GenerateKey,
    ) -> Result<KeyMetadata, KmsError> {
        self.coordinator
            .generate_key(principal, request.spec, request.shards)
            .await
    }
    async fn sign(
        &self,
        principal: &Principal,
        key_id: &KeyId,
        message: &[u8],
    ) -> Result<SignatureOutput, KmsError> {
        self.coordinator.sign(principal, key_id, message).await
    }
    async fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError> {
        self.coordinator.list_keys().await
    }
    async fn get_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.coordinator.get_key(key_id).await
    }
    async fn set_status(
        &self,
        principal: &Principal,
        key_id: &KeyId,
        status: KeyStatus,
    ) -> Result<KeyMetadata, KmsError> {
        self.coordinator.set_status(principal, key_id, status).await
    }
    async fn refresh(&self, principal: &Principal, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.coordinator.refresh(principal, key_id).await
    }
}
