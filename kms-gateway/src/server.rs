//! The HTTP server: routes, the request layer (request id, error envelope, metrics,
//! JSON log line), authentication of `/api/v1`, `/health`, `/metrics`, and serving with
//! graceful shutdown.

use crate::access_keys::{AccessKeyRecord, AccessKeys, Permission};
use crate::auth::{self, NonceCache};
use crate::backend::Backend;
use crate::config::Config;
use crate::errors::{ApiError, ErrorCode};
use crate::hooks::PolicyHook;
use crate::idempotency::IdempotencyStore;
use crate::limits::{Decision, RateLimiter};
use crate::metrics::Metrics;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use kms_core::ports::{Clock, SystemClock};
use rand_core::{OsRng, RngCore};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<Config>,
    /// The cluster.
    pub backend: Backend,
    /// The access keys.
    pub access_keys: Arc<AccessKeys>,
    /// Nonces seen.
    pub nonces: Arc<dyn NonceCache>,
    /// Rate limits.
    pub limiter: Arc<dyn RateLimiter>,
    /// Idempotency keys.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// The policy hook (risk rules, approvals).
    pub policy: Arc<dyn PolicyHook>,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Its access key.
    pub access_key: Arc<AccessKeyRecord>,
    /// The client address (the peer, or from a trusted proxy's X-Forwarded-For).
    pub client_ip: IpAddr,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The request id.
    pub request_id: String,
}

impl Caller {
    /// 403 `PERMISSION_DENIED` unless the key has `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.access_key.has(p) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "access key {} (owner {}) lacks the {} permission",
                    self.access_key.access_key,
                    self.access_key.owner,
                    p.as_str()
                ),
            ))
        }
    }
}

/// The request id (in the extensions of every request).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn new_request_id() -> String {
    let mut b = [0u8; 12];
    OsRng.fill_bytes(&mut b);
    format!("req_{}", hex::encode(b))
}

/// The routes over `state`.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/keys/generate", post(crate::api::generate))
        .route("/api/v1/keys", get(crate::api::list_keys))
        .route("/api/v1/keys/{key_id}", get(crate::api::get_key))
        .route("/api/v1/keys/{key_id}/sign", post(crate::api::sign))
        .route("/api/v1/keys/{key_id}/status", put(crate::api::set_status))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(api)
        .route("/api/v1/openapi.json", get(openapi))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), request_layer))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "the route does not take this method")
}

/// Request id, error envelope, metrics and the log line of every request.
async fn request_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let mut resp = next.run(req).await;
    if let Some(err) = resp.extensions().get::<ApiError>().cloned() {
        resp = err.to_response(&request_id);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16();
    state.metrics.request(method.as_str(), &route, status);
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = %route,
        status,
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Authentication and the per-access-key rate limit of `/api/v1` (see [`crate::auth`]).
async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn check(state: &AppState, req: Request) -> Result<Request, ApiError> {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let ak = header(&req, auth::HEADER_ACCESS_KEY)
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownAccessKey, "missing X-KMS-Access-Key header"))?
        .to_string();
    if ak.len() > 64 {
        return Err(ApiError::new(
            ErrorCode::UnknownAccessKey,
            "X-KMS-Access-Key is too long",
        ));
    }
    let record = state
        .access_keys
        .get(&ak)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownAccessKey, format!("no access key {ak:?}")))?;
    if !record.enabled {
        return Err(ApiError::new(
            ErrorCode::UnknownAccessKey,
            format!("access key {ak} is disabled"),
        ));
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .ok_or_else(|| ApiError::internal("no peer address"))?;
    let client_ip = auth::client_ip(
        peer,
        header(&req, "x-forwarded-for"),
        &state.config.trusted_proxies,
    );
    if !record.allows(client_ip) {
        return Err(ApiError::new(
            ErrorCode::IpNotAllowed,
            format!("client address {client_ip} is not on the allow-list of access key {ak}"),
        ));
    }
    let timestamp = header(&req, auth::HEADER_TIMESTAMP)
        .ok_or_else(|| ApiError::invalid("missing X-KMS-Timestamp header"))?
        .to_string();
    auth::check_timestamp(&timestamp, SystemClock.now_ms())?;
    let nonce = header(&req, auth::HEADER_NONCE)
        .ok_or_else(|| ApiError::invalid("missing X-KMS-Nonce header"))?
        .to_string();
    auth::check_nonce_form(&nonce)?;
    let signature = header(&req, auth::HEADER_SIGNATURE)
        .ok_or_else(|| ApiError::invalid("missing X-KMS-Signature header"))?
        .to_string();
    let user_agent = header(&req, "user-agent")
        .unwrap_or("")
        .chars()
        .take(256)
        .collect();
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is larger than {} bytes", state.config.max_body_bytes),
            )
        })?;
    let sts = auth::string_to_sign(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &timestamp,
        &nonce,
        &body,
    );
    let verifier = state
        .access_keys
        .verifier(&record)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if !auth::verify(&verifier, &sts, &signature) {
        return Err(ApiError::new(
            ErrorCode::SignatureMismatch,
            format!("the X-KMS-Signature does not match the request for access key {ak}"),
        ));
    }
    drop(verifier);
    if !state.nonces.check_and_store(&ak, &nonce).await? {
        return Err(ApiError::new(
            ErrorCode::NonceReused,
            format!("nonce {nonce} was already used by access key {ak} within 10 minutes"),
        ));
    }
    if let Some(limit) = state.config.limits.for_access_key(&record.limit_class) {
        match state
            .limiter
            .hit(&format!("ak:{ak}"), limit)
            .await
            .map_err(ApiError::internal)?
        {
            Decision::Allowed => {}
            Decision::Limited { retry_after_ms } => {
                return Err(ApiError {
                    code: ErrorCode::RateLimited,
                    message: format!(
                        "access key {ak} allows {} requests per {} s",
                        limit.requests, limit.window_seconds
                    ),
                    retry_after_s: Some(retry_after_ms.div_ceil(1000)),
                })
            }
        }
    }
    let mut req = Request::from_parts(parts, Body::from(body));
    req.extensions_mut().insert(Caller {
        access_key: Arc::new(record),
        client_ip,
        user_agent,
        request_id,
    });
    Ok(req)
}

/// `GET /health`: 200 `{"status":"ready",...}` when at least `min_ready_nodes` nodes
/// answer, else 503 `NOT_ENOUGH_NODES`.
async fn health(State(state): State<AppState>) -> Response {
    let coordinator = state.backend.coordinator();
    let up = coordinator.healthy_nodes().await.len();
    let total = coordinator.nodes().len();
    let need = state.config.min_ready_nodes;
    if up >= need {
        axum::Json(serde_json::json!({"status": "ready", "nodes_up": up, "nodes_total": total}))
            .into_response()
    } else {
        ApiError::new(
            ErrorCode::NotEnoughNodes,
            format!("{up} of {total} nodes answer; {need} are needed"),
        )
        .into_response()
    }
}

/// `GET /api/v1/openapi.json` (unauthenticated: it is the public contract).
async fn openapi() -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        crate::openapi::document(),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text.
async fn metrics(State(state): State<AppState>) -> Response {
    let coordinator = state.backend.coordinator();
    let up = coordinator.healthy_nodes().await.len();
    let text = state.metrics.render(up, coordinator.nodes().len());
    (
        StatusCode::OK,
        [("content-type", "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}

/// Build the state from `config`: the cluster, the access-key store, and Redis or
/// in-process limits, nonces and idempotency keys.
pub async fn build_state(config: Config, password: &str) -> Result<AppState, String> {
    let store: Arc<dyn crate::access_keys::AccessKeyStore> = match &config.mysql_url {
        Some(url) => Arc::new(
            crate::access_keys::MySqlStore::connect(url, &config.mysql_table_prefix)
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => Arc::new(crate::access_keys::FileStore::new(
            config.data_dir.join("access_keys.json"),
        )),
    };
    let access_keys = Arc::new(
        AccessKeys::open(store, password, config.pbkdf2_iterations)
            .await
            .map_err(|e| e.to_string())?,
    );
    let (nonces, limiter, idempotency): (
        Arc<dyn NonceCache>,
        Arc<dyn RateLimiter>,
        Arc<dyn IdempotencyStore>,
    ) = match &config.redis_url {
        Some(url) => {
            let redis = Arc::new(crate::redis::RedisClient::new(url).map_err(|e| e.to_string())?);
            redis.ping().await.map_err(|e| e.to_string())?;
            let p = &config.redis_prefix;
            (
                Arc::new(auth::RedisNonceCache::new(redis.clone(), p)),
                Arc::new(crate::limits::RedisRateLimiter::new(redis.clone(), p)),
                Arc::new(crate::idempotency::RedisIdempotencyStore::new(redis, p)),
            )
        }
        None => (
            Arc::new(auth::MemoryNonceCache::default()),
            Arc::new(crate::limits::MemoryRateLimiter::default()),
            Arc::new(crate::idempotency::MemoryIdempotencyStore::default()),
        ),
    };
    let backend = Backend::open(&config, password, access_keys.subkey(b"audit signer")).await?;
    let policy: Arc<dyn PolicyHook> = match &config.risk_rules {
        Some(path) => {
            let rules = crate::risk::load_rules(path)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            crate::risk::audit_if_changed(backend.audit_log().as_ref(), &rules, now).await?;
            tracing::info!(rules = rules.rules.len(), digest = %rules.digest(), "risk rules in force");
            Arc::new(crate::risk::RulesHook::new(rules))
        }
        None => Arc::new(crate::hooks::AllowAll),
    };
    Ok(AppState {
        config: Arc::new(config),
        backend,
        access_keys,
        nonces,
        limiter,
        idempotency,
        policy,
        metrics: Arc::new(Metrics::default()),
    })
}

/// Serve `state` on `listener` until `shutdown` resolves, then finish the requests
/// under way (graceful shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
