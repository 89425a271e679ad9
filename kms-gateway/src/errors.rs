//! The error envelope: every refusal is
//! `{"error":{"code":"...","message":"...","request_id":"..."}}` with a fixed code and
//! HTTP status, and the request id also in the `X-Request-Id` header.
//!
//! Handlers return [`ApiError`]; the request layer (see [`crate::server`]) fills in the
//! request id, so no handler can forget it.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kms_core::KmsError;
use serde::Serialize;

/// The fixed error codes of the API. Codes are never renamed; new ones may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// 400: malformed JSON, a missing or malformed field or header.
    InvalidRequest,
    /// 401: the request signature does not verify.
    SignatureMismatch,
    /// 401: `X-KMS-Timestamp` is more than 300 s from the gateway's clock.
    TimestampOutOfWindow,
    /// 401: the nonce was already used by this access key within 10 minutes.
    NonceReused,
    /// 401: no such access key, or it is disabled.
    UnknownAccessKey,
    /// 403: the client address is not on the access key's allow-list.
    IpNotAllowed,
    /// 403: the access key lacks the permission the call needs.
    PermissionDenied,
    /// 403: a risk rule denied the operation; the message names the rule.
    RiskRejected,
    /// 404: no such key.
    KeyNotFound,
    /// 404: no such route.
    NotFound,
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 409: the key's status forbids the operation (frozen, archived, ...), or the
    /// status change is not an allowed transition.
    KeyNotActive,
    /// 409: another mutating operation holds the key; retry later.
    KeyBusy,
    /// 409: the `Idempotency-Key` was used with another request body, or is still running.
    IdempotencyConflict,
    /// 413: the body is larger than the gateway accepts.
    PayloadTooLarge,
    /// 422: the `data_type` is unknown or does not fit the key.
    UnsupportedDataType,
    /// 429: a rate limit is exhausted; `Retry-After` says when to retry.
    RateLimited,
    /// 500: an internal failure (the message says which component).
    InternalError,
    /// 503: too few TSS nodes answer.
    NotEnoughNodes,
}

impl ErrorCode {
    /// The HTTP status of the code.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            InvalidRequest => StatusCode::BAD_REQUEST,
            SignatureMismatch | TimestampOutOfWindow | NonceReused | UnknownAccessKey => {
                StatusCode::UNAUTHORIZED
            }
            IpNotAllowed | PermissionDenied | RiskRejected => StatusCode::FORBIDDEN,
            KeyNotFound | NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            KeyNotActive | KeyBusy | IdempotencyConflict => StatusCode::CONFLICT,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedDataType => StatusCode::UNPROCESSABLE_ENTITY,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            NotEnoughNodes => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code as written on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "INVALID_REQUEST",
            SignatureMismatch => "SIGNATURE_MISMATCH",
            TimestampOutOfWindow => "TIMESTAMP_OUT_OF_WINDOW",
            NonceReused => "NONCE_REUSED",
            UnknownAccessKey => "UNKNOWN_ACCESS_KEY",
            IpNotAllowed => "IP_NOT_ALLOWED",
            PermissionDenied => "PERMISSION_DENIED",
            RiskRejected => "RISK_REJECTED",
            KeyNotFound => "KEY_NOT_FOUND",
            NotFound => "NOT_FOUND",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            KeyNotActive => "KEY_NOT_ACTIVE",
            KeyBusy => "KEY_BUSY",
            IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            UnsupportedDataType => "UNSUPPORTED_DATA_TYPE",
            RateLimited => "RATE_LIMITED",
            InternalError => "INTERNAL_ERROR",
            NotEnoughNodes => "NOT_ENOUGH_NODES",
        }
    }
}

/// A refusal: its code, a message saying what was wrong (never a secret), and for 429
/// the seconds to wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The code.
    pub code: ErrorCode,
    /// What was wrong, and with which field, header or key.
    pub message: String,
    /// For `RATE_LIMITED`: seconds until a retry can succeed (the `Retry-After` header).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// A refusal with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// 400 INVALID_REQUEST.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// 500 INTERNAL_ERROR.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<KmsError> for ApiError {
    fn from(e: KmsError) -> Self {
        let code = match &e {
            KmsError::InvalidRequest(_) | KmsError::Unsupported(_) => ErrorCode::InvalidRequest,
            KmsError::KeyNotFound(_) => ErrorCode::KeyNotFound,
            KmsError::KeyNotUsable { .. } => ErrorCode::KeyNotActive,
            KmsError::NotEnoughNodes { .. } => ErrorCode::NotEnoughNodes,
            KmsError::KeyBusy { .. } => ErrorCode::KeyBusy,
            KmsError::Transport(_) => ErrorCode::NotEnoughNodes,
            _ => ErrorCode::InternalError,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<kms_client::ChainSignError> for ApiError {
    fn from(e: kms_client::ChainSignError) -> Self {
        use kms_client::kms_chains::ChainError;
        match e {
            kms_client::ChainSignError::Kms(k) => k.into(),
            kms_client::ChainSignError::Chain(c) => {
                let code = match &c {
                    ChainError::UnknownDataType(_) | ChainError::WrongKey { .. } => {
                        ErrorCode::UnsupportedDataType
                    }
                    ChainError::BadSignature(_) | ChainError::BadPublicKey(_) => ErrorCode::InternalError,
                    _ => ErrorCode::InvalidRequest,
                };
                ApiError::new(code, c.to_string())
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// The JSON body of an error answer.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The fields of [`ErrorBody`].
#[derive(Clone, Debug, Serialize)]
pub struct ErrorDetail {
    /// The fixed code.
    pub code: ErrorCode,
    /// What was wrong.
    pub message: String,
    /// The request's id (as in `X-Request-Id`).
    pub request_id: String,
}

impl ApiError {
    /// The full answer for request `request_id`.
    pub fn to_response(&self, request_id: &str) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                request_id: request_id.to_string(),
            },
        };
        let mut resp = (self.code.status(), axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(s.max(1)));
        }
        resp
    }
}

impl IntoResponse for ApiError {
    /// The request layer rewrites this into [`ApiError::to_response`] with the request
    /// id; the error travels in the response's extensions until then.
    fn into_response(self) -> Response {
        let mut resp = self.to_response("");
        resp.extensions_mut().insert(self);
        resp
    }
}
