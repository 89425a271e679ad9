//! The server side a node daemon runs: the `kms.node.v1.Node` service and
//! `grpc.health.v1` over rustls, mutual TLS required.
//!
//! Every connection is a TLS 1.3 handshake with the configuration of
//! [`crate::tls::node_server_config`]: a client without a certificate, with one of
//! another CA, expired, or of the wrong role is refused at the handshake, and the refusal
//! is logged with the peer's address. The role read from the certificate travels with the
//! connection and every call checks it again before anything is decoded, so a
//! configuration mistake on the TLS side cannot let a node's certificate call a node.
//!
//! A node's work is never cancelled half-way: each request runs in its own task, and a
//! caller whose deadline passes gets `ERROR_CODE_DEADLINE_EXCEEDED` while the step
//! finishes and leaves the node's sessions consistent.

use super::proto::node_server::{Node, NodeServer as ProtoNodeServer};
use super::proto::{CallRequest, CallResponse, ErrorCode};
use super::wire::{self, DEFAULT_MAX_MESSAGE_BYTES, ENVELOPE_VERSION, MAX_DEADLINE_MS, REQUEST_ID_LEN};
use crate::tls::{role_of, Role};
use kms_core::ports::NodeService;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};
use tonic_health::server::HealthReporter;
use tracing::{debug, info, warn};

/// The name under which `grpc.health.v1` reports the node service.
pub const SERVICE_NAME: &str = "kms.node.v1.Node";

/// Limits of a node's server.
#[derive(Clone, Debug)]
pub struct NodeServerConfig {
    /// Largest encoded message accepted or sent, each direction.
    pub max_message_bytes: usize,
    /// Requests handled at once on one connection; more wait.
    pub concurrency_per_connection: usize,
    /// A TLS handshake not finished within this time is dropped.
    pub handshake_timeout: Duration,
    /// After shutdown starts, how long calls and streams in flight (a health watch
    /// never ends by itself) may run before the server closes their connections.
    pub drain_grace: Duration,
}

impl Default for NodeServerConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            concurrency_per_connection: 64,
            handshake_timeout: Duration::from_secs(10),
            drain_grace: Duration::from_secs(10),
        }
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Who is on the other end of a connection: its address and the role its certificate
/// carries.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// The peer's socket address (for the logs only; roles never come from addresses).
    pub addr: SocketAddr,
    /// The role of the client certificate, if it has exactly one.
    pub role: Option<Role>,
}

/// A TLS connection a handshake accepted, with its peer.
struct TlsConn {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    peer: PeerInfo,
}

impl Connected for TlsConn {
    type ConnectInfo = PeerInfo;
    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Controls a running server: health and draining.
#[derive(Clone)]
pub struct ServerHandle {
    health: HealthReporter,
    draining: Arc<AtomicBool>,
}

impl ServerHandle {
    /// Report the node service SERVING (and the server as a whole).
    pub async fn set_serving(&self) {
        self.draining.store(false, Ordering::SeqCst);
        self.health
            .set_service_status(SERVICE_NAME, tonic_health::ServingStatus::Serving)
            .await;
        self.health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
    }

    /// Start draining: health says NOT_SERVING and new calls are refused with
    /// `ERROR_CODE_DRAINING`; calls already running finish.
    pub async fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.health
            .set_service_status(SERVICE_NAME, tonic_health::ServingStatus::NotServing)
            .await;
        self.health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    }

    /// Whether the server is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// A node's gRPC server.
pub struct NodeServer {
    node: Arc<dyn NodeService>,
    tls: Arc<rustls::ServerConfig>,
    config: NodeServerConfig,
    handle: ServerHandle,
    health_service: tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService>,
}

impl NodeServer {
    /// A server for `node` with the TLS configuration `tls` (from
    /// [`crate::tls::node_server_config`]). Health starts NOT_SERVING until
    /// [`NodeServer::serve`] runs.
    pub fn new(node: Arc<dyn NodeService>, tls: rustls::ServerConfig, config: NodeServerConfig) -> Self {
        let health = HealthReporter::new();
        let health_service = tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(health.clone()),
        );
        Self {
            node,
            tls: Arc::new(tls),
            config,
            handle: ServerHandle {
                health,
                draining: Arc::new(AtomicBool::new(true)),
            },
            health_service,
        }
    }

    /// The handle that controls health and draining.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Serve on `listener` until `shutdown` completes; then drain (NOT_SERVING, new calls
    /// refused) and return once the calls in flight are answered.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<TlsConn, io::Error>>(64);
        let acceptor = TlsAcceptor::from(self.tls.clone());
        let handshake_timeout = self.config.handshake_timeout;
        let node_id = self.node.node_id().clone();
        let accept = tokio::spawn(async move {
            loop {
                let (tcp, addr) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(node = %node_id, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, tx, node_id) = (acceptor.clone(), tx.clone(), node_id.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let role = tls
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .and_then(|c| role_of(c).ok());
                            debug!(node = %node_id, peer = %addr, role = ?role, "TLS connection accepted");
                            let _ = tx
                                .send(Ok(TlsConn {
                                    inner: tls,
                                    peer: PeerInfo { addr, role },
                                }))
                                .await;
                        }
                        Ok(Err(e)) => {
                            warn!(node = %node_id, peer = %addr, error = %e, "refused a TLS handshake");
                        }
                        Err(_) => {
                            warn!(node = %node_id, peer = %addr, "TLS handshake timed out; connection dropped");
                        }
                    }
                });
            }
        });
        let handle = self.handle.clone();
        let service = NodeRpc {
            node: self.node.clone(),
            handle: handle.clone(),
            max_message_bytes: self.config.max_message_bytes,
        };
        let node_service = ProtoNodeServer::new(service)
            .max_decoding_message_size(self.config.max_message_bytes)
            .max_encoding_message_size(self.config.max_message_bytes);
        handle.set_serving().await;
        info!(node = %self.node.node_id(), "serving kms.node.v1 over mutual TLS");
        let drain = handle.clone();
        let drained = Arc::new(tokio::sync::Notify::new());
        let drained_tx = drained.clone();
        // The spec's load-balancer check, `GET /health` (HTTP/1.1 or HTTP/2), answered on
        // the same mutual-TLS port by the same router as the gRPC services: 200
        // `{"status":"SERVING"}`, or 503 `{"status":"NOT_SERVING"}` while draining.
        let http_health = handle.clone();
        let router = tonic::service::Routes::new(self.health_service)
            .add_service(node_service)
            .into_axum_router()
            .route(
                HTTP_HEALTH_PATH,
                axum::routing::get(move || {
                    let handle = http_health.clone();
                    async move { http_health_answer(&handle) }
                }),
            );
        let server = tonic::transport::Server::builder()
            .accept_http1(true)
            .concurrency_limit_per_connection(self.config.concurrency_per_connection)
            .add_routes(tonic::service::Routes::from(router))
            .serve_with_incoming_shutdown(tokio_stream::wrappers::ReceiverStream::new(rx), async move {
                shutdown.await;
                drain.drain().await;
                drained_tx.notify_one();
            });
        let grace = self.config.drain_grace;
        let node_id = self.node.node_id().clone();
        let result = tokio::select! {
            r = server => r,
            _ = async { drained.notified().await; tokio::time::sleep(grace).await } => {
                warn!(node = %node_id, grace_ms = grace.as_millis() as u64,
                    "calls still open after the drain grace; closing their connections");
                Ok(())
            }
        };
        accept.abort();
        Ok(result?)
    }
}

/// Path of the plain HTTP health check on a node's port.
pub const HTTP_HEALTH_PATH: &str = "/health";

fn http_health_answer(
    handle: &ServerHandle,
) -> (
    axum::http::StatusCode,
    [(axum::http::header::HeaderName, &'static str); 1],
    &'static str,
) {
    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
    if handle.is_draining() {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            json,
            r#"{"status":"NOT_SERVING"}"#,
        )
    } else {
        (axum::http::StatusCode::OK, json, r#"{"status":"SERVING"}"#)
    }
}

/// The `kms.node.v1.Node` service over one node.
struct NodeRpc {
    node: Arc<dyn NodeService>,
    handle: ServerHandle,
    max_message_bytes: usize,
}

fn refuse(request_id: Vec<u8>, code: ErrorCode, message: impl Into<String>) -> Response<CallResponse> {
    Response::new(CallResponse {
        version: ENVELOPE_VERSION,
        request_id,
        error: code as i32,
        error_message: message.into(),
        payload: Vec::new(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tonic::async_trait]
impl Node for NodeRpc {
    async fn call(&self, request: Request<CallRequest>) -> Result<Response<CallResponse>, Status> {
        let peer = request.extensions().get::<PeerInfo>().cloned();
        let call = request.into_inner();
        let me = self.node.node_id();
        let rid = hex(&call.request_id);
        // The role is checked before anything of the request is read.
        match peer.as_ref().and_then(|p| p.role.as_ref()) {
            Some(Role::Gateway(_)) => {}
            other => {
                warn!(node = %me, peer = ?peer.as_ref().map(|p| p.addr), role = ?other, "refused a call: not a gateway certificate");
                return Ok(refuse(
                    call.request_id,
                    ErrorCode::Forbidden,
                    "only a gateway certificate may call a node",
                ));
            }
        }
        if call.version != ENVELOPE_VERSION {
            warn!(node = %me, request = %rid, version = call.version, "refused a call of another envelope version");
            return Ok(refuse(
                call.request_id,
                ErrorCode::UnsupportedVersion,
                format!(
                    "envelope version {}, this node reads {ENVELOPE_VERSION}",
                    call.version
                ),
            ));
        }
        if call.request_id.len() != REQUEST_ID_LEN {
            warn!(node = %me, len = call.request_id.len(), "refused a call with a bad request id");
            return Ok(refuse(
                call.request_id,
                ErrorCode::BadRequestId,
                format!("request id of {REQUEST_ID_LEN} bytes expected"),
            ));
        }
        if self.handle.is_draining() {
            return Ok(refuse(
                call.request_id,
                ErrorCode::Draining,
                format!("node {me} is shutting down"),
            ));
        }
        if call.node_id != me.as_str() {
            warn!(node = %me, request = %rid, "refused a call meant for another node");
            return Ok(refuse(
                call.request_id,
                ErrorCode::WrongNode,
                format!("this is node {me}, not {:?}", call.node_id),
            ));
        }
        if call.deadline_ms == 0 || call.deadline_ms > MAX_DEADLINE_MS {
            return Ok(refuse(
                call.request_id,
                ErrorCode::Malformed,
                format!("deadline_ms must be 1..={MAX_DEADLINE_MS}"),
            ));
        }
        let node_request = match wire::decode_request(&call.payload, self.max_message_bytes) {
            Ok(r) => r,
            Err(e) => {
                warn!(node = %me, request = %rid, error = %e, "refused a malformed request");
                return Ok(refuse(call.request_id, e.code(), e.to_string()));
            }
        };
        debug!(node = %me, request = %rid, "call");
        let node = self.node.clone();
        // Its own task: a deadline or a dropped connection never cancels a step half-way.
        let task = tokio::spawn(async move { node.handle(node_request).await });
        let deadline = Duration::from_millis(u64::from(call.deadline_ms));
        match tokio::time::timeout(deadline, task).await {
            Ok(Ok(response)) => Ok(Response::new(CallResponse {
                version: ENVELOPE_VERSION,
                request_id: call.request_id,
                error: ErrorCode::None as i32,
                error_message: String::new(),
                payload: wire::encode_response(&response),
            })),
            Ok(Err(e)) => {
                warn!(node = %me, request = %rid, error = %e, "the request's task failed");
                Ok(refuse(
                    call.request_id,
                    ErrorCode::Internal,
                    "the node failed to answer",
                ))
            }
            Err(_) => {
                warn!(node = %me, request = %rid, deadline_ms = call.deadline_ms, "deadline passed before the node answered");
                Ok(refuse(
                    call.request_id,
                    ErrorCode::DeadlineExceeded,
                    "deadline exceeded",
                ))
            }
        }
    }
}
