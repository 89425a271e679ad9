//! The handlers of `/api/v1` and the JSON they speak.
//!
//! Bodies are read as bytes and parsed here, so a malformed body is a 400
//! `INVALID_REQUEST` naming the field, in the error envelope like every refusal.

use crate::access_keys::Permission;
use crate::errors::{ApiError, ErrorCode};
use crate::hooks::{Operation, PolicyRequest, Verdict};
use crate::idempotency::{Begin, StoredAnswer};
use crate::limits::Decision;
use crate::server::{AppState, Caller};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kms_client::{GenerateKey, KmsClient};
use kms_core::{
    Algorithm, Curve, KeyId, KeyMetadata, KeySpec, KeyStatus, KeyType, Principal, ShardProperties,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// `format` of a generate request; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatIn {
    /// `ECDSA`, `EDDSA`, `BLS`, `SCHNORR`.
    #[serde(rename = "type")]
    pub key_type: Option<KeyType>,
    /// `SECP256K1`, `ED25519`, `BLS12_381`.
    pub curve: Option<Curve>,
    /// `GG18` (default), `DMZ21`, `DKLS23`, `EDDSA`, `BLS`.
    pub algo_type: Option<String>,
    /// Private key size in bytes (32).
    pub size: Option<u16>,
}

/// `shard_properties` of a generate request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardsIn {
    /// Shards (n).
    pub shard_count: u16,
    /// Shards needed to sign (t).
    pub threshold: u16,
}

/// `POST /keys/generate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateIn {
    /// The key's format (default GG18 on secp256k1).
    pub format: Option<FormatIn>,
    /// The split (default 3 shards, 2 sign).
    pub shard_properties: Option<ShardsIn>,
}

/// `POST /keys/{id}/sign`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// What to sign: hex for `HASH` and `MESSAGE`, an object for the chain types.
    pub data: Value,
    /// `HASH`, `MESSAGE`, or a chain type (`EIP191`, `EIP712`, `ETH_TX`, `BTC_PSBT`,
    /// `TRON_TX`, `SOLANA_TX`, `SOLANA_MESSAGE`).
    pub data_type: String,
}

/// `PUT /keys/{id}/status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    /// `ACTIVE`, `FROZEN`, `ARCHIVED` or `DESTROYED`.
    pub status: String,
    /// Why (recorded in the audit log).
    #[serde(default)]
    pub reason: String,
}

/// `GET /keys` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Page size (default 50, at most 500).
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("request body: {e}")))
}

/// The key object of the API: `GET /keys/{id}` adds holders, version and updated_time.
pub fn key_view(meta: &KeyMetadata, detailed: bool) -> Value {
    let mut addresses = kms_client::addresses(meta)
        .ok()
        .and_then(|a| serde_json::to_value(a).ok())
        .unwrap_or_else(|| json!({}));
    let address = addresses
        .as_object_mut()
        .and_then(|m| m.remove("address"))
        .unwrap_or(Value::Null);
    let mut v = json!({
        "key_id": meta.key_id.as_str(),
        "public_key": meta.public_key,
        "address": address,
        "addresses": addresses,
        "status": meta.status,
        "format": {
            "type": meta.spec.key_type,
            "curve": meta.spec.curve,
            "algo_type": meta.spec.algo_type,
            "size": meta.spec.size / 8,
        },
        "shard_properties": {
            "shard_count": meta.shards.shard_count,
            "threshold": meta.shards.threshold,
        },
        "created_time": meta.created_at,
    });
    if detailed {
        let m = v.as_object_mut().expect("object");
        m.insert(
            "holders".into(),
            meta.holders
                .iter()
                .map(|h| h.node.as_str())
                .collect::<Vec<_>>()
                .into(),
        );
        m.insert("version".into(), meta.epoch.into());
        m.insert("updated_time".into(), meta.updated_at.into());
    }
    v
}

fn spec_of(format: Option<FormatIn>) -> Result<KeySpec, ApiError> {
    let f = format.unwrap_or_default();
    let algo = match (&f.algo_type, f.curve) {
        (Some(a), _) => {
            Algorithm::parse(a).map_err(|e| ApiError::invalid(format!("format.algo_type: {e}")))?
        }
        (None, Some(Curve::Ed25519)) => Algorithm::Eddsa,
        (None, Some(Curve::Bls12_381)) => Algorithm::Bls,
        (None, _) => Algorithm::Gg18,
    };
    kms_core::schemes::scheme(algo)
        .map_err(|_| ApiError::invalid(format!("format.algo_type: no algorithm {algo} in this gateway")))?;
    let spec = KeySpec::for_algorithm(algo);
    let mismatch =
        |field: &str, want: String| ApiError::invalid(format!("format.{field}: {algo} keys are {want}"));
    if f.key_type.is_some_and(|t| t != spec.key_type) {
        return Err(mismatch("type", format!("{:?}", spec.key_type).to_uppercase()));
    }
    if f.curve.is_some_and(|c| c != spec.curve) {
        return Err(mismatch("curve", spec.curve.as_str().into()));
    }
    if f.size.is_some_and(|s| u32::from(s) * 8 != u32::from(spec.size)) {
        return Err(mismatch("size", format!("{} bytes", spec.size / 8)));
    }
    Ok(spec)
}

fn status_name(s: KeyStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn key_id(raw: &str) -> Result<KeyId, ApiError> {
    KeyId::parse(raw).map_err(|_| ApiError::new(ErrorCode::KeyNotFound, format!("key {raw:?} not found")))
}

/// A client acting for the caller: the access key's owner as the audit's user_id, with
/// the client address, user agent and request id in the coordinator's audit trail.
fn client(state: &AppState, caller: &Caller) -> KmsClient {
    let principal = Principal::new(caller.access_key.owner.as_str())
        .with_client_ip(caller.client_ip)
        .with_user_agent(&caller.user_agent)
        .with_request_id(&caller.request_id);
    KmsClient::new(state.backend.api()).for_principal(principal)
}

async fn key_limit(state: &AppState, meta: &KeyMetadata) -> Result<(), ApiError> {
    let Some(limit) = state.config.limits.for_key(meta.spec.algo_type.as_str()) else {
        return Ok(());
    };
    match state
        .limiter
        .hit(&format!("key:{}", meta.key_id), limit)
        .await
        .map_err(ApiError::internal)?
    {
        Decision::Allowed => Ok(()),
        Decision::Limited { retry_after_ms } => Err(ApiError {
            code: ErrorCode::RateLimited,
            message: format!(
                "key {} allows {} requests per {} s",
                meta.key_id, limit.requests, limit.window_seconds
            ),
            retry_after_s: Some(retry_after_ms.div_ceil(1000)),
        }),
    }
}

async fn policy(
    state: &AppState,
    caller: &Caller,
    key: &KeyMetadata,
    operation: Operation<'_>,
) -> Result<(), ApiError> {
    let request = PolicyRequest {
        access_key: &caller.access_key,
        client_ip: caller.client_ip,
        request_id: &caller.request_id,
        key,
        operation,
    };
    match state.policy.check(&request).await {
        Verdict::Allow => Ok(()),
        Verdict::Deny { rule, reason } => Err(ApiError::new(
            ErrorCode::RiskRejected,
            format!("risk rule {rule} denies this: {reason}"),
        )),
        Verdict::NeedsApproval { rule } => Err(ApiError::new(
            ErrorCode::RiskRejected,
            format!("risk rule {rule} requires an approval, which this gateway does not serve yet"),
        )),
    }
}

/// Run a mutating operation under its `Idempotency-Key`, if the request has one.
async fn idempotent<F, Fut>(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &[u8],
    run: F,
) -> Response
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Value, ApiError>>,
{
    let Some(raw) = headers.get("idempotency-key") else {
        return match run().await {
            Ok(v) => Json(v).into_response(),
            Err(e) => e.into_response(),
        };
    };
    let key = match raw.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => k,
        _ => {
            return ApiError::invalid("Idempotency-Key: 1 to 255 printable ASCII characters").into_response()
        }
    };
    let scope = hex::encode(Sha256::digest(
        format!("{}\n{}", caller.access_key.access_key, key).as_bytes(),
    ));
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update(b"\n");
    h.update(uri.path().as_bytes());
    h.update(b"\n");
    h.update(body);
    let request_hash = hex::encode(h.finalize());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match state.idempotency.begin(&scope, &request_hash).await {
            Err(e) => return ApiError::internal(e).into_response(),
            Ok(Begin::Mismatch) => {
                return ApiError::new(
                    ErrorCode::IdempotencyConflict,
                    format!("Idempotency-Key {key:?} was used with another request"),
                )
                .into_response()
            }
            Ok(Begin::Replay(a)) => {
                let mut resp = (
                    StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK),
                    [("content-type", "application/json")],
                    a.body,
                )
                    .into_response();
                resp.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return resp;
            }
            Ok(Begin::Running) => {
                if Instant::now() > deadline {
                    return ApiError::new(
                        ErrorCode::IdempotencyConflict,
                        format!("Idempotency-Key {key:?}: the first request is still running; retry later"),
                    )
                    .into_response();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Begin::Fresh) => break,
        }
    }
    match run().await {
        Ok(v) => {
            let body = v.to_string();
            if let Err(e) = state
                .idempotency
                .complete(
                    &scope,
                    &request_hash,
                    StoredAnswer {
                        status: 200,
                        body: body.clone(),
                    },
                )
                .await
            {
                tracing::warn!(error = %e, "idempotency answer not kept");
            }
            ([("content-type", "application/json")], body).into_response()
        }
        Err(e) => {
            // The operation did not happen (or failed): a retry runs it again.
            if let Err(err) = state.idempotency.abandon(&scope).await {
                tracing::warn!(error = %err, "idempotency claim not released");
            }
            e.into_response()
        }
    }
}

/// `POST /api/v1/keys/generate`.
#[utoipa::path(post, path = "/api/v1/keys/generate", request_body = crate::openapi::GenerateBody, params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body within 24 h: the first answer again; other body: 409 IDEMPOTENCY_CONFLICT")),
    responses((status = 200, description = "The new key, ACTIVE", body = crate::openapi::KeyObject),
        (status = 409, description = "IDEMPOTENCY_CONFLICT", body = crate::openapi::ErrorEnvelope),
        (status = 400, description = "INVALID_REQUEST", body = crate::openapi::ErrorEnvelope),
        (status = 401, description = "SIGNATURE_MISMATCH, TIMESTAMP_OUT_OF_WINDOW, NONCE_REUSED, UNKNOWN_ACCESS_KEY", body = crate::openapi::ErrorEnvelope),
        (status = 403, description = "IP_NOT_ALLOWED, PERMISSION_DENIED, RISK_REJECTED", body = crate::openapi::ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = crate::openapi::ErrorEnvelope),
        (status = 503, description = "NOT_ENOUGH_NODES", body = crate::openapi::ErrorEnvelope)))]
pub async fn generate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = caller.require(Permission::Generate) {
        return e.into_response();
    }
    let input: GenerateIn = if body.iter().all(u8::is_ascii_whitespace) {
        GenerateIn::default()
    } else {
        match parse_body(&body) {
            Ok(v) => v,
            Err(e) => return e.into_response(),
        }
    };
    let spec = match spec_of(input.format) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let shards = input
        .shard_properties
        .map(|s| ShardProperties {
            shard_count: s.shard_count,
            threshold: s.threshold,
        })
        .unwrap_or_default();
    let c = client(&state, &caller);
    idempotent(&state, &caller, &headers, &method, &uri, &body, || async move {
        let meta = c.generate_key(GenerateKey { spec, shards }).await?;
        Ok(key_view(&meta, false))
    })
    .await
}

/// `GET /api/v1/keys/{key_id}`.
#[utoipa::path(get, path = "/api/v1/keys/{key_id}", params(("key_id" = String, Path, description = "The key")),
    responses((status = 200, description = "The key", body = crate::openapi::KeyObject),
        (status = 404, description = "KEY_NOT_FOUND", body = crate::openapi::ErrorEnvelope),
        (status = 400, description = "INVALID_REQUEST", body = crate::openapi::ErrorEnvelope),
        (status = 401, description = "SIGNATURE_MISMATCH, TIMESTAMP_OUT_OF_WINDOW, NONCE_REUSED, UNKNOWN_ACCESS_KEY", body = crate::openapi::ErrorEnvelope),
        (status = 403, description = "IP_NOT_ALLOWED, PERMISSION_DENIED, RISK_REJECTED", body = crate::openapi::ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = crate::openapi::ErrorEnvelope),
        (status = 503, description = "NOT_ENOUGH_NODES", body = crate::openapi::ErrorEnvelope)))]
pub async fn get_key(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    let meta = client(&state, &caller).get_key(&key_id(&id)?).await?;
    Ok(Json(key_view(&meta, true)))
}

/// `GET /api/v1/keys?limit=&cursor=`: keys by id; `next_cursor` is null on the last page.
#[utoipa::path(get, path = "/api/v1/keys",
    params(("limit" = Option<u32>, Query, description = "1 to 500, default 50"), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, description = "A page of keys by id", body = crate::openapi::KeyList),
        (status = 400, description = "INVALID_REQUEST", body = crate::openapi::ErrorEnvelope),
        (status = 401, description = "SIGNATURE_MISMATCH, TIMESTAMP_OUT_OF_WINDOW, NONCE_REUSED, UNKNOWN_ACCESS_KEY", body = crate::openapi::ErrorEnvelope),
        (status = 403, description = "IP_NOT_ALLOWED, PERMISSION_DENIED, RISK_REJECTED", body = crate::openapi::ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = crate::openapi::ErrorEnvelope),
        (status = 503, description = "NOT_ENOUGH_NODES", body = crate::openapi::ErrorEnvelope)))]
pub async fn list_keys(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Read)?;
    let limit = match q.limit.as_deref() {
        None | Some("") => 50,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::invalid("limit: a number from 1 to 500"))?,
    };
    let mut keys = client(&state, &caller).list_keys().await?;
    keys.sort_by(|a, b| a.key_id.as_str().cmp(b.key_id.as_str()));
    let start = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => keys.partition_point(|k| k.key_id.as_str() <= c),
        None => 0,
    };
    let page: Vec<&KeyMetadata> = keys.iter().skip(start).take(limit).collect();
    let next = (start + page.len() < keys.len())
        .then(|| page.last().map(|k| k.key_id.as_str().to_string()))
        .flatten();
    Ok(Json(json!({
        "keys": page.iter().map(|k| key_view(k, true)).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

/// `POST /api/v1/keys/{key_id}/sign`.
#[utoipa::path(post, path = "/api/v1/keys/{key_id}/sign", request_body = crate::openapi::SignBody,
    params(("key_id" = String, Path, description = "The key"), ("Idempotency-Key" = Option<String>, Header, description = "Same key and body within 24 h: the first answer again (no second signature)")),
    responses((status = 200, description = "The signature", body = crate::openapi::SignAnswer),
        (status = 404, description = "KEY_NOT_FOUND", body = crate::openapi::ErrorEnvelope),
        (status = 409, description = "KEY_NOT_ACTIVE, IDEMPOTENCY_CONFLICT", body = crate::openapi::ErrorEnvelope),
        (status = 422, description = "UNSUPPORTED_DATA_TYPE", body = crate::openapi::ErrorEnvelope),
        (status = 400, description = "INVALID_REQUEST", body = crate::openapi::ErrorEnvelope),
        (status = 401, description = "SIGNATURE_MISMATCH, TIMESTAMP_OUT_OF_WINDOW, NONCE_REUSED, UNKNOWN_ACCESS_KEY", body = crate::openapi::ErrorEnvelope),
        (status = 403, description = "IP_NOT_ALLOWED, PERMISSION_DENIED, RISK_REJECTED", body = crate::openapi::ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = crate::openapi::ErrorEnvelope),
        (status = 503, description = "NOT_ENOUGH_NODES", body = crate::openapi::ErrorEnvelope)))]
pub async fn sign(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let prepared = async {
        caller.require(Permission::Sign)?;
        let input: SignIn = parse_body(&body)?;
        let data_type = kms_client::kms_chains::DataType::from_str(&input.data_type).map_err(|_| {
            ApiError::new(
                ErrorCode::UnsupportedDataType,
                format!(
                    "data_type {:?} is not one of HASH, MESSAGE, EIP191, EIP712, ETH_TX, BTC_PSBT, TRON_TX, SOLANA_TX, SOLANA_MESSAGE",
                    input.data_type
                ),
            )
        })?;
        let id = key_id(&id)?;
        let c = client(&state, &caller);
        let meta = c.get_key(&id).await?;
        key_limit(&state, &meta).await?;
        policy(
            &state,
            &caller,
            &meta,
            Operation::Sign {
                data_type: data_type.as_str(),
                data: &input.data,
            },
        )
        .await?;
        Ok::<_, ApiError>((c, meta, data_type, input.data))
    }
    .await;
    let (c, meta, data_type, data) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let state2 = state.clone();
    idempotent(&state, &caller, &headers, &method, &uri, &body, || async move {
        let started = Instant::now();
        let answer = c.sign_data(&meta.key_id, data_type, &data).await;
        state2
            .metrics
            .sign_latency(meta.spec.algo_type.as_str(), started.elapsed().as_secs_f64());
        let answer = answer?;
        let mut out = Map::new();
        out.insert("key_id".into(), meta.key_id.as_str().into());
        out.extend(answer);
        out.insert("data_type".into(), data_type.as_str().into());
        Ok(Value::Object(out))
    })
    .await
}

/// `PUT /api/v1/keys/{key_id}/status`.
#[utoipa::path(put, path = "/api/v1/keys/{key_id}/status", request_body = crate::openapi::StatusBody,
    params(("key_id" = String, Path, description = "The key"), ("Idempotency-Key" = Option<String>, Header, description = "Same key and body within 24 h: the first answer again")),
    responses((status = 200, description = "The key after the change", body = crate::openapi::KeyObject),
        (status = 404, description = "KEY_NOT_FOUND", body = crate::openapi::ErrorEnvelope),
        (status = 409, description = "KEY_NOT_ACTIVE (not an allowed transition), KEY_BUSY, IDEMPOTENCY_CONFLICT", body = crate::openapi::ErrorEnvelope),
        (status = 400, description = "INVALID_REQUEST", body = crate::openapi::ErrorEnvelope),
        (status = 401, description = "SIGNATURE_MISMATCH, TIMESTAMP_OUT_OF_WINDOW, NONCE_REUSED, UNKNOWN_ACCESS_KEY", body = crate::openapi::ErrorEnvelope),
        (status = 403, description = "IP_NOT_ALLOWED, PERMISSION_DENIED, RISK_REJECTED", body = crate::openapi::ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = crate::openapi::ErrorEnvelope),
        (status = 503, description = "NOT_ENOUGH_NODES", body = crate::openapi::ErrorEnvelope)))]
pub async fn set_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let prepared = async {
        caller.require(Permission::Status)?;
        let input: StatusIn = parse_body(&body)?;
        let to = match input.status.as_str() {
            "ACTIVE" => KeyStatus::Active,
            "FROZEN" => KeyStatus::Frozen,
            "ARCHIVED" => KeyStatus::Archived,
            "DESTROYED" => KeyStatus::Destroyed,
            other => {
                return Err(ApiError::invalid(format!(
                    "status {other:?} is not one of ACTIVE, FROZEN, ARCHIVED, DESTROYED"
                )))
            }
        };
        if input.reason.len() > 1024 {
            return Err(ApiError::invalid("reason: at most 1024 bytes"));
        }
        let id = key_id(&id)?;
        let c = client(&state, &caller);
        let meta = c.get_key(&id).await?;
        if !meta.status.can_become(to) {
            return Err(ApiError::new(
                ErrorCode::KeyNotActive,
                format!(
                    "key {} is {}: it cannot become {}",
                    meta.key_id,
                    status_name(meta.status),
                    input.status
                ),
            ));
        }
        key_limit(&state, &meta).await?;
        policy(
            &state,
            &caller,
            &meta,
            Operation::StatusChange {
                to,
                reason: &input.reason,
            },
        )
        .await?;
        Ok::<_, ApiError>((c, id, to))
    }
    .await;
    let (c, id, to) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    idempotent(&state, &caller, &headers, &method, &uri, &body, || async move {
        let meta = c.set_status(&id, to).await?;
        Ok(key_view(&meta, true))
    })
    .await
}
