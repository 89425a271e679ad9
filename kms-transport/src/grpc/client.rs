//! [`GrpcNodeTransport`]: the coordinator's side of the node service.
//!
//! One HTTP/2 connection per node over mutual TLS (the gateway certificate), opened on
//! first use and re-opened after a failure. A node that cannot be reached or does not
//! answer in time is marked down for a backoff that doubles with each failure (up to a
//! ceiling); while it is down, calls to it fail at once, so the coordinator skips it
//! instead of waiting. The first call after the backoff tries the node again. Each node
//! has a limit on calls in flight, so one slow node cannot tie up the caller.

use super::proto::node_client::NodeClient;
use super::proto::{CallRequest, ErrorCode};
use super::wire::{self, DEFAULT_MAX_MESSAGE_BYTES, ENVELOPE_VERSION, MAX_DEADLINE_MS, REQUEST_ID_LEN};
use crate::tls::Role;
use async_trait::async_trait;
use kms_core::ports::NodeTransport;
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::{NodeId, TransportError};
use rand_core::{OsRng, RngCore};
use rustls::pki_types::ServerName;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, warn};

/// Where a node listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEndpoint {
    /// The node (its certificate must name it: `{node}.kms.internal`).
    pub node: NodeId,
    /// Its address.
    pub addr: SocketAddr,
}

/// Limits and timings of [`GrpcNodeTransport`].
#[derive(Clone, Debug)]
pub struct GrpcTransportConfig {
    /// Deadline of one call (sent to the node, and enforced here). A GG18 step that
    /// generates safe primes can take minutes, hence the generous default.
    pub call_timeout: Duration,
    /// Deadline of a TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Largest encoded message sent or accepted.
    pub max_message_bytes: usize,
    /// Calls in flight to one node; more wait (within their deadline).
    pub max_in_flight_per_node: usize,
    /// Backoff after the first failure.
    pub backoff_initial: Duration,
    /// Ceiling of the backoff.
    pub backoff_max: Duration,
}

impl Default for GrpcTransportConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(5),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_in_flight_per_node: 32,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// What this side knows of a node's availability.
#[derive(Debug, Default)]
struct Availability {
    /// Taken out of rotation by the operator.
    out_of_rotation: bool,
    failures: u32,
    down_until: Option<Instant>,
}

struct NodeConn {
    client: NodeClient<Channel>,
    in_flight: Arc<Semaphore>,
    availability: Mutex<Availability>,
}

/// The coordinator's transport to node daemons over gRPC with mutual TLS.
pub struct GrpcNodeTransport {
    nodes: BTreeMap<NodeId, NodeConn>,
    config: GrpcTransportConfig,
}

impl std::fmt::Debug for GrpcNodeTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcNodeTransport")
            .field("nodes", &self.nodes.keys().collect::<Vec<_>>())
            .field("config", &self.config)
            .finish()
    }
}

/// Why a transport could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GrpcSetupError {
    /// A node's name is not a valid TLS server name.
    #[error("node {0}: invalid server name: {1}")]
    ServerName(NodeId, String),
    /// A node is listed twice.
    #[error("node {0} is listed twice")]
    Duplicate(NodeId),
    /// The endpoint could not be made.
    #[error("node {0}: {1}")]
    Endpoint(NodeId, String),
}

impl GrpcNodeTransport {
    /// A transport to `nodes`, presenting the client configuration `tls` (from
    /// [`crate::tls::gateway_client_config`]). Connects lazily: no node need be up yet.
    /// Must be called inside a Tokio runtime.
    pub fn new(
        nodes: impl IntoIterator<Item = NodeEndpoint>,
        tls: rustls::ClientConfig,
        config: GrpcTransportConfig,
    ) -> Result<Self, GrpcSetupError> {
        let tls = Arc::new(tls);
        let mut map = BTreeMap::new();
        for ep in nodes {
            let channel = node_channel(&ep, tls.clone(), config.connect_timeout)?;
            let client = NodeClient::new(channel)
                .max_decoding_message_size(config.max_message_bytes)
                .max_encoding_message_size(config.max_message_bytes);
            let conn = NodeConn {
                client,
                in_flight: Arc::new(Semaphore::new(config.max_in_flight_per_node.max(1))),
                availability: Mutex::new(Availability::default()),
            };
            if map.insert(ep.node.clone(), conn).is_some() {
                return Err(GrpcSetupError::Duplicate(ep.node));
            }
        }
        Ok(Self { nodes: map, config })
    }

    /// The nodes this transport reaches.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.nodes.keys().cloned().collect()
    }

    /// Whether `node` is currently marked down (its backoff has not run out).
    pub fn is_marked_down(&self, node: &NodeId) -> bool {
        self.nodes.get(node).is_some_and(|c| {
            lock(&c.availability)
                .down_until
                .is_some_and(|t| t > Instant::now())
        })
    }

    /// Take `node` out of rotation (`true`): calls to it fail at once as unreachable, as
    /// for a node in maintenance, so the coordinator works around it; `false` puts it
    /// back. Returns whether the node is known.
    pub fn set_out_of_rotation(&self, node: &NodeId, out: bool) -> bool {
        match self.nodes.get(node) {
            Some(c) => {
                lock(&c.availability).out_of_rotation = out;
                true
            }
            None => false,
        }
    }

    fn failed(&self, node: &NodeId, conn: &NodeConn, why: &str) {
        let mut a = lock(&conn.availability);
        a.failures = a.failures.saturating_add(1);
        let factor = 1u32 << a.failures.saturating_sub(1).min(16);
        let backoff = self
            .config
            .backoff_initial
            .saturating_mul(factor)
            .min(self.config.backoff_max);
        a.down_until = Some(Instant::now() + backoff);
        warn!(node = %node, failures = a.failures, backoff_ms = backoff.as_millis() as u64, reason = why,
            "node marked down");
    }

    fn succeeded(&self, node: &NodeId, conn: &NodeConn) {
        let mut a = lock(&conn.availability);
        if a.failures > 0 {
            debug!(node = %node, "node answers again");
        }
        a.failures = 0;
        a.down_until = None;
    }
}

/// A lazily connected gRPC channel to one node over mutual TLS, checking that the
/// server's certificate names `endpoint.node`. [`GrpcNodeTransport`] makes one per node;
/// it is public for other clients of the node's port (`grpc.health.v1`, tools). Must be
/// called inside a Tokio runtime.
pub fn node_channel(
    endpoint: &NodeEndpoint,
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
) -> Result<Channel, GrpcSetupError> {
    let name = ServerName::try_from(Role::Node(endpoint.node.clone()).dns_name())
        .map_err(|e| GrpcSetupError::ServerName(endpoint.node.clone(), e.to_string()))?;
    let connector = TlsConnector::from(tls);
    let addr = endpoint.addr;
    let connect = tower::service_fn(move |_uri: tonic::transport::Uri| {
        let (connector, name) = (connector.clone(), name.clone());
        async move {
            let dial = async {
                let tcp = TcpStream::connect(addr).await?;
                tcp.set_nodelay(true)?;
                connector.connect(name, tcp).await
            };
            let tls = tokio::time::timeout(connect_timeout, dial)
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    // The URI is only a label: the connector above dials the address with TLS.
    Ok(Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| GrpcSetupError::Endpoint(endpoint.node.clone(), e.to_string()))?
        .connect_timeout(connect_timeout)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(20))
        .connect_with_connector_lazy(connect))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a failed call is reported, and whether it counts against the node's availability.
fn status_error(node: &NodeId, status: &tonic::Status) -> (TransportError, bool) {
    use tonic::Code;
    let mut detail = status.message().to_string();
    let mut source = std::error::Error::source(status);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    match status.code() {
        Code::DeadlineExceeded | Code::Cancelled => (TransportError::Timeout(node.clone()), true),
        Code::Unavailable | Code::Unknown => (TransportError::Unreachable(node.clone(), detail), true),
        code => (
            TransportError::BadMessage(node.clone(), format!("{code:?}: {detail}")),
            false,
        ),
    }
}

#[async_trait]
impl NodeTransport for GrpcNodeTransport {
    async fn call(&self, node: &NodeId, request: NodeRequest) -> Result<NodeResponse, TransportError> {
        let conn = self
            .nodes
            .get(node)
            .ok_or_else(|| TransportError::Unreachable(node.clone(), "unknown node".into()))?;
        let (out, down_until) = {
            let a = lock(&conn.availability);
            (a.out_of_rotation, a.down_until)
        };
        if out {
            return Err(TransportError::Unreachable(
                node.clone(),
                "out of rotation".into(),
            ));
        }
        if let Some(until) = down_until {
            let now = Instant::now();
            if until > now {
                return Err(TransportError::Unreachable(
                    node.clone(),
                    format!("marked down; next try in {} ms", (until - now).as_millis()),
                ));
            }
        }
        let started = Instant::now();
        let budget = self
            .config
            .call_timeout
            .min(Duration::from_millis(u64::from(MAX_DEADLINE_MS)));
        let permit = tokio::time::timeout(budget, conn.in_flight.clone().acquire_owned())
            .await
            .map_err(|_| TransportError::Timeout(node.clone()))?
            .map_err(|_| TransportError::Unreachable(node.clone(), "transport closed".into()))?;
        let remaining = budget.saturating_sub(started.elapsed());
        if remaining.is_zero() {
            return Err(TransportError::Timeout(node.clone()));
        }
        let mut request_id = vec![0u8; REQUEST_ID_LEN];
        OsRng.fill_bytes(&mut request_id);
        let call = CallRequest {
            version: ENVELOPE_VERSION,
            request_id: request_id.clone(),
            node_id: node.to_string(),
            deadline_ms: u32::try_from(remaining.as_millis())
                .unwrap_or(MAX_DEADLINE_MS)
                .max(1),
            payload: wire::encode_request(&request),
        };
        let mut grpc_request = tonic::Request::new(call);
        grpc_request.set_timeout(remaining);
        let mut client = conn.client.clone();
        let answer = tokio::time::timeout(remaining, client.call(grpc_request)).await;
        drop(permit);
        let reply = match answer {
            Err(_) => {
                self.failed(node, conn, "deadline exceeded");
                return Err(TransportError::Timeout(node.clone()));
            }
            Ok(Err(status)) => {
                let (err, counts) = status_error(node, &status);
                if counts {
                    self.failed(node, conn, &err.to_string());
                }
                return Err(err);
            }
            Ok(Ok(reply)) => reply.into_inner(),
        };
        if reply.version != ENVELOPE_VERSION {
            return Err(TransportError::BadMessage(
                node.clone(),
                format!("envelope version {}", reply.version),
            ));
        }
        if reply.request_id != request_id {
            return Err(TransportError::BadMessage(
                node.clone(),
                "the response is for another request".into(),
            ));
        }
        match ErrorCode::try_from(reply.error) {
            Ok(ErrorCode::None) => {}
            Ok(ErrorCode::DeadlineExceeded) => {
                self.failed(node, conn, "deadline exceeded on the node");
                return Err(TransportError::Timeout(node.clone()));
            }
            Ok(ErrorCode::Draining) => {
                self.failed(node, conn, "draining");
                return Err(TransportError::Unreachable(node.clone(), reply.error_message));
            }
            Ok(code) => {
                return Err(TransportError::BadMessage(
                    node.clone(),
                    format!("{}: {}", code.as_str_name(), reply.error_message),
                ))
            }
            Err(_) => {
                return Err(TransportError::BadMessage(
                    node.clone(),
                    format!("unknown error code {}: {}", reply.error, reply.error_message),
                ))
            }
        }
        let response = wire::decode_response(&reply.payload, self.config.max_message_bytes)
            .map_err(|e| TransportError::BadMessage(node.clone(), e.to_string()))?;
        self.succeeded(node, conn);
        Ok(response)
    }
}
