//! An in-memory bus: the coordinator reaches in-process nodes through it.
//!
//! Every request and response is encoded to bytes and decoded again on the way, so an
//! in-process cluster exercises exactly what a network transport carries. Nodes can be
//! marked down to simulate outages.

use async_trait::async_trait;
use kms_core::ports::{NodeService, NodeTransport};
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::{NodeId, TransportError};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

/// The bus.
///
/// ```
/// use kms_transport::memory::InMemoryBus;
/// let bus = InMemoryBus::new();
/// assert!(bus.nodes().is_empty());
/// ```
#[derive(Default)]
pub struct InMemoryBus {
    nodes: RwLock<BTreeMap<NodeId, Arc<dyn NodeService>>>,
    down: RwLock<BTreeSet<NodeId>>,
}

impl InMemoryBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attach a node.
    pub fn register(&self, node: Arc<dyn NodeService>) {
        let id = node.node_id().clone();
        self.nodes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, node);
    }

    /// The attached nodes.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.nodes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Simulate a node going down (`true`) or coming back (`false`).
    pub fn set_down(&self, node: &NodeId, down: bool) {
        let mut set = self.down.write().unwrap_or_else(|e| e.into_inner());
        if down {
            set.insert(node.clone());
        } else {
            set.remove(node);
        }
    }

    fn is_down(&self, node: &NodeId) -> bool {
        self.down.read().unwrap_or_else(|e| e.into_inner()).contains(node)
    }
}

fn through_wire<T: Serialize + DeserializeOwned>(node: &NodeId, value: &T) -> Result<T, TransportError> {
    let bytes =
        serde_json::to_vec(value).map_err(|e| TransportError::BadMessage(node.clone(), e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| TransportError::BadMessage(node.clone(), e.to_string()))
}

#[async_trait]
impl NodeTransport for InMemoryBus {
    async fn call(&self, node: &NodeId, request: NodeRequest) -> Result<NodeResponse, TransportError> {
        if self.is_down(node) {
            return Err(TransportError::Unreachable(node.clone(), "node is down".into()));
        }
        let service = self
            .nodes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .cloned()
            .ok_or_else(|| TransportError::Unreachable(node.clone(), "unknown node".into()))?;
        let request = through_wire(node, &request)?;
        // Each call runs as its own task so nodes compute in parallel, as they would on
        // separate machines.
        let response = tokio::spawn(async move { service.handle(request).await })
            .await
            .map_err(|e| TransportError::Unreachable(node.clone(), format!("node task failed: {e}")))?;
        if self.is_down(node) {
            return Err(TransportError::Unreachable(node.clone(), "node went down".into()));
        }
        through_wire(node, &response)
    }
}
