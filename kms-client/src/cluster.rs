//! An in-process cluster: nodes, bus, stores and coordinator in one process. The
//! simulator for researchers, the test bed, and the quickstart's engine.

use crate::api::{GenerateKey, KmsApi};
use async_trait::async_trait;
use kms_core::coordinator::Coordinator;
use kms_core::identity::{NodeIdentity, PeerDirectory};
use kms_core::node::TssNode;
use kms_core::ports::{AuditLog, MetadataStore, ShardStore};
use kms_core::{KeyId, KeyMetadata, KeyStatus, KmsError, NodeId, SignatureOutput};
use kms_storage::memory::{MemoryAuditLog, MemoryMetadataStore, MemoryShardStore};
use kms_transport::memory::InMemoryBus;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Builder for [`InProcessCluster`].
pub struct InProcessClusterBuilder {
    nodes: usize,
    seed: Option<[u8; 32]>,
    shard_stores: BTreeMap<String, Arc<dyn ShardStore>>,
    metadata: Option<Arc<dyn MetadataStore>>,
    audit: Option<Arc<dyn AuditLog>>,
}

impl InProcessClusterBuilder {
    /// Number of nodes (default 4), named `tss1`, `tss2`, ...
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// Seed every CSPRNG of the cluster from one seed: runs become reproducible.
    pub fn seed(mut self, seed: [u8; 32]) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Use `store` as the shard store of node `name` (default: in memory).
    pub fn shard_store(mut self, name: &str, store: Arc<dyn ShardStore>) -> Self {
        self.shard_stores.insert(name.to_string(), store);
        self
    }

    /// Use another metadata store (default: in memory).
    pub fn metadata(mut self, store: Arc<dyn MetadataStore>) -> Self {
        self.metadata = Some(store);
        self
    }

    /// Use another audit log (default: in memory).
    pub fn audit(mut self, log: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(log);
        self
    }

    /// Build the cluster.
    pub fn build(mut self) -> Arc<InProcessCluster> {
        let mut master = match self.seed {
            Some(s) => ChaCha20Rng::from_seed(s),
            None => ChaCha20Rng::from_rng(OsRng).expect("OS entropy"),
        };
        let mut child = || {
            let mut s = [0u8; 32];
            master.fill_bytes(&mut s);
            ChaCha20Rng::from_seed(s)
        };
        let bus = Arc::new(InMemoryBus::new());
        let identities: Vec<NodeIdentity> = (1..=self.nodes)
            .map(|i| {
                NodeIdentity::generate(
                    NodeId::new(format!("tss{i}")).expect("valid node name"),
                    &mut child(),
                )
            })
            .collect();
        let directory = PeerDirectory::new(identities.iter().map(|i| i.public()));
        let mut node_ids = Vec::new();
        for identity in identities {
            let id = identity.node().clone();
            let store = self
                .shard_stores
                .remove(id.as_str())
                .unwrap_or_else(|| Arc::new(MemoryShardStore::new()));
            bus.register(Arc::new(TssNode::with_rng(
                identity,
                directory.clone(),
                store,
                child(),
            )));
            node_ids.push(id);
        }
        let metadata = self
            .metadata
            .unwrap_or_else(|| Arc::new(MemoryMetadataStore::new()));
        let audit = self.audit.unwrap_or_else(|| Arc::new(MemoryAuditLog::new()));
        let coordinator = Coordinator::new(node_ids, bus.clone(), metadata, audit.clone()).with_rng(child());
        Arc::new(InProcessCluster {
            bus,
            coordinator,
            audit,
        })
    }
}

/// Nodes, bus and coordinator in one process.
pub struct InProcessCluster {
    bus: Arc<InMemoryBus>,
    coordinator: Coordinator,
    audit: Arc<dyn AuditLog>,
}

impl InProcessCluster {
    /// A builder (4 nodes, in-memory stores, OS randomness).
    pub fn builder() -> InProcessClusterBuilder {
        InProcessClusterBuilder {
            nodes: 4,
            seed: None,
            shard_stores: BTreeMap::new(),
            metadata: None,
            audit: None,
        }
    }

    /// The node ids.
    pub fn nodes(&self) -> &[NodeId] {
        self.coordinator.nodes()
    }

    /// Simulate a node outage.
    pub fn stop_node(&self, node: &NodeId) {
        self.bus.set_down(node, true);
    }

    /// End a simulated outage.
    pub fn start_node(&self, node: &NodeId) {
        self.bus.set_down(node, false);
    }

    /// The coordinator.
    pub fn coordinator(&self) -> &Coordinator {
        &self.coordinator
    }

    /// The audit log.
    pub fn audit_log(&self) -> &Arc<dyn AuditLog> {
        &self.audit
    }
}

#[async_trait]
impl KmsApi for InProcessCluster {
    async fn generate_key(&self, user: &str, request: GenerateKey) -> Result<KeyMetadata, KmsError> {
        self.coordinator
            .generate_key(user, request.spec, request.shards)
            .await
    }
    async fn sign(&self, user: &str, key_id: &KeyId, message: &[u8]) -> Result<SignatureOutput, KmsError> {
        self.coordinator.sign(user, key_id, message).await
    }
    async fn get_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.coordinator.get_key(key_id).await
    }
    async fn set_status(
        &self,
        user: &str,
        key_id: &KeyId,
        status: KeyStatus,
    ) -> Result<KeyMetadata, KmsError> {
        self.coordinator.set_status(user, key_id, status).await
    }
    async fn refresh(&self, user: &str, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.coordinator.refresh(user, key_id).await
    }
}
