//! The cluster the gateway serves keys from: in-process nodes under the data directory
//! (no `[cluster]` configured), or node daemons over gRPC with mutual TLS.

use crate::config::Config;
use kms_client::{GrpcCluster, InProcessCluster, KmsApi};
use kms_core::coordinator::Coordinator;
use kms_core::identity::PeerDirectory;
use kms_core::ports::AuditLog;
use kms_core::NodeId;
use kms_protocols::gg18::aux_info::AuxSecret;
use kms_transport::grpc::NodeEndpoint;
use kms_transport::tls::CertFiles;
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The coordinator's cluster.
#[derive(Clone)]
pub enum Backend {
    /// Nodes in this process, persistent under `data_dir/cluster`.
    InProcess(Arc<InProcessCluster>),
    /// Node daemons.
    Grpc(Arc<GrpcCluster>),
}

impl Backend {
    /// Open the configured cluster. `audit_secret` signs the audit head of a MySQL audit
    /// log (the same for every instance sharing the database).
    pub async fn open(
        config: &Config,
        password: &str,
        audit_secret: Zeroizing<[u8; 32]>,
    ) -> Result<Backend, String> {
        let password = Zeroizing::new(password.to_string());
        match &config.cluster {
            None => {
                let mut b = InProcessCluster::builder()
                    .nodes(config.nodes)
                    .persistent(config.data_dir.join("cluster"), password)
                    .pbkdf2_iterations(config.pbkdf2_iterations);
                if let Some(dir) = &config.gg18_aux_dir {
                    for i in 1..=config.nodes {
                        let node = format!("tss{i}");
                        let (own, refresh) = load_gg18_aux(&dir.join(format!("{node}.json")))
                            .map_err(|e| format!("GG18 aux of {node}: {e}"))?;
                        b = b.gg18_aux(&node, own).gg18_refresh_aux(&node, refresh);
                    }
                }
                Ok(Backend::InProcess(b.open().await.map_err(|e| e.to_string())?))
            }
            Some(c) => {
                let peers = std::fs::read(&c.peers).map_err(|e| format!("{}: {e}", c.peers.display()))?;
                let directory: PeerDirectory =
                    serde_json::from_slice(&peers).map_err(|e| format!("{}: {e}", c.peers.display()))?;
                let nodes = c
                    .nodes
                    .iter()
                    .map(|n| {
                        Ok(NodeEndpoint {
                            node: NodeId::new(n.node.as_str()).map_err(|e| e.to_string())?,
                            addr: n.addr,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let tls = CertFiles {
                    ca: c.ca.clone(),
                    cert: c.cert.clone(),
                    key: c.key.clone(),
                };
                let mut b = GrpcCluster::builder(nodes, tls, directory);
                b = match &config.mysql_url {
                    Some(url) => {
                        let mut mc = kms_storage::mysql::MySqlConfig::new(url.as_str());
                        mc.table_prefix = config.mysql_table_prefix.clone();
                        let store = kms_storage::mysql::MySqlStore::connect(&mc)
                            .await
                            .map_err(|e| e.to_string())?;
                        let signer = kms_core::audit::AuditSigner::from_secret("kms-gateway", &audit_secret);
                        let audit = store.audit(Arc::new(signer)).await.map_err(|e| e.to_string())?;
                        b.stores(Arc::new(store.metadata()), Arc::new(audit))
                    }
                    None => b
                        .embedded_store(config.data_dir.join("coordinator"), password)
                        .pbkdf2_iterations(config.pbkdf2_iterations),
                };
                Ok(Backend::Grpc(b.open().await.map_err(|e| e.to_string())?))
            }
        }
    }

    /// The API the handlers call.
    pub fn api(&self) -> Arc<dyn KmsApi> {
        match self {
            Backend::InProcess(c) => c.clone(),
            Backend::Grpc(c) => c.clone(),
        }
    }

    /// The coordinator (health, node count).
    pub fn coordinator(&self) -> &Coordinator {
        match self {
            Backend::InProcess(c) => c.coordinator(),
            Backend::Grpc(c) => c.coordinator(),
        }
    }

    /// The audit log.
    pub fn audit_log(&self) -> &Arc<dyn AuditLog> {
        match self {
            Backend::InProcess(c) => c.audit_log(),
            Backend::Grpc(c) => c.audit_log(),
        }
    }
}

/// Read a GG18 aux file (`{"own": {...}, "refresh": [...]}`, the format of
/// `kms-node --gg18-aux-file`), checking every prime (Blum for Paillier, safe for
/// ring-Pedersen, 2048-bit moduli): a file saves the search, never strength.
pub fn load_gg18_aux(path: &Path) -> Result<(AuxSecret, Vec<AuxSecret>), String> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
    kms_core::schemes::parse_gg18_aux_file(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
