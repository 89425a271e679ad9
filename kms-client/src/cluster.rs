//! An in-process cluster: nodes, bus, stores and coordinator in one process. The
//! simulator for researchers, the test bed, and the quickstart's engine.

use crate::api::{GenerateKey, KmsApi};
use async_trait::async_trait;
use futures::future::join_all;
use kms_core::audit::{AuditEvent, AuditEventType, AuditResult};
use kms_core::coordinator::Coordinator;
use kms_core::identity::{NodeIdentity, PeerDirectory};
use kms_core::node::TssNode;
use kms_core::ports::{AuditLog, MetadataStore, NodeTransport, ShardStore};
use kms_core::ports::{Clock, SystemClock};
use kms_core::StorageError;
use kms_core::{KeyId, KeyMetadata, KeyStatus, KmsError, NodeId, SignatureOutput};
use kms_storage::memory::{MemoryAuditLog, MemoryMetadataStore, MemoryShardStore};
use kms_storage::{
    BackupManifest, EmbeddedAuditLog, EmbeddedDb, EmbeddedMetadataStore, NodeStorage, NodeStorageConfig,
};
use kms_transport::memory::InMemoryBus;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// Where a persistent cluster keeps its state, and the password that unlocks it.
struct Persistence {
    dir: PathBuf,
    password: Zeroizing<String>,
    pbkdf2_iterations: u32,
}

/// Wraps the bus the coordinator talks through (fault injection, latency, tracing).
type TransportWrapper = Box<dyn FnOnce(Arc<InMemoryBus>) -> Arc<dyn NodeTransport>>;

/// Builder for [`InProcessCluster`].
pub struct InProcessClusterBuilder {
    wrap_transport: Option<TransportWrapper>,
    persistence: Option<Persistence>,
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

    /// Put a layer between the coordinator and the bus, e.g. to inject faults or
    /// latency in a simulation.
    pub fn wrap_transport(
        mut self,
        wrap: impl FnOnce(Arc<InMemoryBus>) -> Arc<dyn NodeTransport> + 'static,
    ) -> Self {
        self.wrap_transport = Some(Box::new(wrap));
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

    /// Keep every node's shards (encrypted, in its own embedded database) and the
    /// coordinator's metadata and audit log under `dir`, unlocked by `password`; open
    /// with [`InProcessClusterBuilder::open`]. Layout: `dir/tssN/certs/tssN.dek`,
    /// `dir/tssN/data/tssN.redb`, `dir/coordinator/coordinator.redb`.
    pub fn persistent(mut self, dir: impl Into<PathBuf>, password: Zeroizing<String>) -> Self {
        self.persistence = Some(Persistence {
            dir: dir.into(),
            password,
            pbkdf2_iterations: kms_storage::keyring::DEFAULT_PBKDF2_ITERATIONS,
        });
        self
    }

    /// PBKDF2 iterations for DEK files created by a persistent cluster (existing files
    /// keep the count they record; never below 10 000).
    pub fn pbkdf2_iterations(mut self, iterations: u32) -> Self {
        if let Some(p) = &mut self.persistence {
            p.pbkdf2_iterations = iterations;
        }
        self
    }

    /// Open a persistent cluster: unlock every node's storage (in parallel: each
    /// PBKDF2 derivation takes about a second at the default count), derive each node's
    /// identity from its DEK, open the coordinator's store, and run crash recovery.
    ///
    /// A wrong password is `StorageError::WrongPassword` naming the node, and changes
    /// no file.
    pub async fn open(mut self) -> Result<Arc<InProcessCluster>, KmsError> {
        let Some(p) = self.persistence.take() else {
            return Ok(self.build());
        };
        let names: Vec<NodeId> = (1..=self.nodes)
            .map(|i| NodeId::new(format!("tss{i}")))
            .collect::<Result<_, _>>()?;
        let opens = names.iter().map(|id| {
            let mut config = NodeStorageConfig::under_root(id.clone(), p.dir.join(id.as_str()));
            config.pbkdf2_iterations = p.pbkdf2_iterations;
            NodeStorage::open_async(config, p.password.clone())
        });
        let mut storages = BTreeMap::new();
        for (id, opened) in names.iter().zip(join_all(opens).await) {
            storages.insert(id.clone(), opened?);
        }
        let coordinator_dir = p.dir.join("coordinator");
        kms_storage::files::create_private_dir(&coordinator_dir)?;
        let db = EmbeddedDb::open(&coordinator_dir.join("coordinator.redb"))?;
        self.metadata = Some(Arc::new(EmbeddedMetadataStore::new(db.clone())));
        self.audit = Some(Arc::new(EmbeddedAuditLog::new(db)));
        let mut identities = Vec::new();
        for (id, storage) in &storages {
            self.shard_stores
                .insert(id.to_string(), Arc::new(storage.shards()));
            let signing = storage.derive_secret("node-identity/ed25519");
            let dh = storage.derive_secret("node-identity/x25519");
            identities.push(NodeIdentity::from_secrets(
                id.clone(),
                signing.expose(),
                dh.expose(),
            ));
        }
        let cluster = self.assemble(identities, storages);
        for node in cluster.nodes() {
            cluster
                .record(
                    AuditEventType::NodeStart,
                    Some(node),
                    "open",
                    "node storage unlocked",
                )
                .await?;
        }
        cluster.coordinator.recover().await?;
        Ok(cluster)
    }

    /// Build an in-memory cluster (nothing persists).
    pub fn build(self) -> Arc<InProcessCluster> {
        // The identities come from the master's first draw, used as a seed of its own.
        let mut seed = [0u8; 32];
        self.master_rng().fill_bytes(&mut seed);
        let mut rng = ChaCha20Rng::from_seed(seed);
        let identities = (1..=self.nodes)
            .map(|i| {
                NodeIdentity::generate(NodeId::new(format!("tss{i}")).expect("valid node name"), &mut rng)
            })
            .collect();
        self.assemble(identities, BTreeMap::new())
    }

    fn master_rng(&self) -> ChaCha20Rng {
        match self.seed {
            Some(s) => ChaCha20Rng::from_seed(s),
            None => ChaCha20Rng::from_rng(OsRng).expect("OS entropy"),
        }
    }

    fn assemble(
        mut self,
        identities: Vec<NodeIdentity>,
        storages: BTreeMap<NodeId, NodeStorage>,
    ) -> Arc<InProcessCluster> {
        // Children of one master seed, so a seeded cluster is reproducible; the first
        // draw is skipped, as `build` spent it on the identities.
        let mut master = self.master_rng();
        let mut skip = [0u8; 32];
        master.fill_bytes(&mut skip);
        let mut child = || {
            let mut s = [0u8; 32];
            master.fill_bytes(&mut s);
            ChaCha20Rng::from_seed(s)
        };
        let bus = Arc::new(InMemoryBus::new());
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
        let transport: Arc<dyn NodeTransport> = match self.wrap_transport.take() {
            Some(wrap) => wrap(bus.clone()),
            None => bus.clone(),
        };
        let coordinator = Coordinator::new(node_ids, transport, metadata, audit.clone()).with_rng(child());
        Arc::new(InProcessCluster {
            storages,
            bus,
            coordinator,
            audit,
        })
    }
}

/// Nodes, bus and coordinator in one process.
pub struct InProcessCluster {
    storages: BTreeMap<NodeId, NodeStorage>,
    bus: Arc<InMemoryBus>,
    coordinator: Coordinator,
    audit: Arc<dyn AuditLog>,
}

impl InProcessCluster {
    /// A builder (4 nodes, in-memory stores, OS randomness).
    pub fn builder() -> InProcessClusterBuilder {
        InProcessClusterBuilder {
            wrap_transport: None,
            persistence: None,
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

    /// Back up a node's encrypted store (persistent clusters only) into `dir`.
    pub async fn backup_node(&self, node: &NodeId, dir: &Path) -> Result<BackupManifest, KmsError> {
        let storage = self
            .storages
            .get(node)
            .cloned()
            .ok_or_else(|| KmsError::InvalidRequest(format!("{node} has no persistent storage")))?;
        let target = dir.to_path_buf();
        let manifest = tokio::task::spawn_blocking(move || storage.backup(&target))
            .await
            .map_err(|e| KmsError::Storage(StorageError::Backend(format!("backup task failed: {e}"))))??;
        self.record(
            AuditEventType::BackupCreate,
            Some(node),
            "backup",
            &format!("to {}", dir.display()),
        )
        .await?;
        Ok(manifest)
    }

    async fn record(
        &self,
        event_type: AuditEventType,
        node: Option<&NodeId>,
        operation: &str,
        trail: &str,
    ) -> Result<(), KmsError> {
        let event = AuditEvent {
            event_type,
            user_id: "system".into(),
            key_id: None,
            operation: operation.into(),
            result: AuditResult::Success,
            created_time: SystemClock.now_ms(),
            service_name: "kms-in-process-cluster".into(),
            node_id: node.map(|n| n.to_string()),
            duration_ms: 0,
            data_hash: String::new(),
            audit_trail: trail.into(),
        };
        self.audit.append(event).await?;
        Ok(())
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
    async fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError> {
        self.coordinator.list_keys().await
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
