//! Request signing, exactly as any client implements it.
//!
//! Every `/api/v1` request carries `X-KMS-Access-Key`, `X-KMS-Timestamp` (Unix time in
//! milliseconds), `X-KMS-Nonce` (16 to 64 characters of `[A-Za-z0-9_-]`) and
//! `X-KMS-Signature`. The string-to-sign is these six lines joined with `\n` (no newline
//! at the end):
//!
//! 1. the method in upper case;
//! 2. the path as sent, without the query;
//! 3. the query parameters sorted by name (then value) as `name=value`, exactly as sent
//!    (not decoded), joined by `&`; empty if none;
//! 4. the timestamp as sent;
//! 5. the nonce;
//! 6. the lowercase hex SHA-256 of the body bytes (of the empty string when none).
//!
//! HMAC keys: `X-KMS-Signature` = lowercase hex of HMAC-SHA256(secret key text as bytes,
//! string-to-sign). Ed25519 keys: lowercase hex of the 64-byte Ed25519 signature of the
//! string-to-sign.
//!
//! ```
//! use kms_gateway::auth::{hmac_signature, string_to_sign};
//! let sts = string_to_sign("get", "/api/v1/keys", Some("limit=2&cursor=abc"), "1700000000000", "nonce-0123456789ab", b"");
//! assert_eq!(sts.lines().nth(2), Some("cursor=abc&limit=2"));
//! let sig = hmac_signature(b"secret", &sts);
//! assert_eq!(sig.len(), 64);
//! ```
//!
//! The gateway checks, in this order: the access key exists and is enabled, the client
//! address is on its allow-list, the timestamp is within 300 s of its clock, the
//! signature (compared in constant time), then records the nonce (refused if the key
//! used it within 10 minutes). Only a verified request can spend a nonce, so nobody can
//! burn another client's nonces.

use crate::access_keys::Verifier;
use crate::errors::{ApiError, ErrorCode};
use crate::redis::RedisClient;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The header naming the access key.
pub const HEADER_ACCESS_KEY: &str = "x-kms-access-key";
/// The header with the Unix time in milliseconds.
pub const HEADER_TIMESTAMP: &str = "x-kms-timestamp";
/// The header with the nonce.
pub const HEADER_NONCE: &str = "x-kms-nonce";
/// The header with the signature.
pub const HEADER_SIGNATURE: &str = "x-kms-signature";
/// How far a timestamp may be from the gateway's clock.
pub const TIMESTAMP_WINDOW_MS: u64 = 300_000;
/// How long a nonce is remembered per access key.
pub const NONCE_TTL_MS: u64 = 600_000;

/// The canonical query: `name=value` pairs as sent, sorted by name then value.
pub fn canonical_query(query: Option<&str>) -> String {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return String::new();
    };
    let mut pairs: Vec<(&str, &str)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The string-to-sign of a request (see the module documentation).
pub fn string_to_sign(
    method: &str,
    path: &str,
    query: Option<&str>,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        canonical_query(query),
        timestamp,
        nonce,
        hex::encode(Sha256::digest(body))
    )
}

/// Lowercase hex HMAC-SHA256 of `string_to_sign` under `secret`.
pub fn hmac_signature(secret: &[u8], string_to_sign: &str) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature_hex` signs `string_to_sign` for `verifier`. HMAC is compared in
/// constant time; Ed25519 is verified strictly (no malleable signatures).
pub fn verify(verifier: &Verifier, string_to_sign: &str, signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex) else {
        return false;
    };
    match verifier {
        Verifier::Hmac(secret) => {
            let mut mac = <Hmac<Sha256>>::new_from_slice(secret).expect("HMAC takes any key length");
            mac.update(string_to_sign.as_bytes());
            let expected: [u8; 32] = mac.finalize().into_bytes().into();
            given.len() == expected.len() && bool::from(expected[..].ct_eq(&given))
        }
        Verifier::Ed25519(vk) => match ed25519_dalek::Signature::from_slice(&given) {
            Ok(sig) => vk.verify_strict(string_to_sign.as_bytes(), &sig).is_ok(),
            Err(_) => false,
        },
    }
}

/// Check a nonce header's form.
pub fn check_nonce_form(nonce: &str) -> Result<(), ApiError> {
    if (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "X-KMS-Nonce: 16 to 64 characters of [A-Za-z0-9_-]",
        ))
    }
}

/// Check a timestamp header against `now_ms`.
pub fn check_timestamp(timestamp: &str, now_ms: u64) -> Result<(), ApiError> {
    let ts: u64 = timestamp
        .parse()
        .map_err(|_| ApiError::invalid("X-KMS-Timestamp: Unix time in milliseconds, digits only"))?;
    let skew = ts.abs_diff(now_ms);
    if skew > TIMESTAMP_WINDOW_MS {
        return Err(ApiError::new(
            ErrorCode::TimestampOutOfWindow,
            format!(
                "X-KMS-Timestamp {ts} is {} s from the gateway's clock ({now_ms}); at most 300 s is accepted",
                skew / 1000
            ),
        ));
    }
    Ok(())
}

/// Remembers nonces per access key.
#[async_trait]
pub trait NonceCache: Send + Sync {
    /// Record `nonce` for `access_key`; false if it was already recorded within the TTL.
    async fn check_and_store(&self, access_key: &str, nonce: &str) -> Result<bool, ApiError>;
}

/// In-process nonce cache: correct for one gateway instance only (two instances without
/// Redis would each accept a replay once).
#[derive(Default)]
pub struct MemoryNonceCache {
    seen: std::sync::Mutex<HashMap<(String, String), u64>>,
}

#[async_trait]
impl NonceCache for MemoryNonceCache {
    async fn check_and_store(&self, access_key: &str, nonce: &str) -> Result<bool, ApiError> {
        use kms_core::ports::{Clock, SystemClock};
        let now = SystemClock.now_ms();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: expired entries go whenever the map grows large.
        if seen.len() > 100_000 {
            seen.retain(|_, exp| *exp > now);
        }
        let k = (access_key.to_string(), nonce.to_string());
        match seen.get(&k) {
            Some(exp) if *exp > now => Ok(false),
            _ => {
                seen.insert(k, now + NONCE_TTL_MS);
                Ok(true)
            }
        }
    }
}

/// Redis nonce cache: `SET kms:nonce:<access key>:<nonce> 1 NX PX 600000`, shared by
/// every instance.
pub struct RedisNonceCache {
    redis: Arc<RedisClient>,
    prefix: String,
}

impl RedisNonceCache {
    /// Over `redis`, keys under `prefix` (e.g. `kms:`).
    pub fn new(redis: Arc<RedisClient>, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
        }
    }
}

#[async_trait]
impl NonceCache for RedisNonceCache {
    async fn check_and_store(&self, access_key: &str, nonce: &str) -> Result<bool, ApiError> {
        let key = format!("{}nonce:{access_key}:{nonce}", self.prefix);
        self.redis
            .set_nx_px(&key, b"1", NONCE_TTL_MS)
            .await
            .map_err(|e| ApiError::internal(format!("nonce cache: {e}")))
    }
}

/// The client's address: the socket peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let Some(xff) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in xff.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted(&ip) {
                    break;
                }
            }
            // A malformed hop: stop at the last address we could trust.
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_sign_is_the_six_lines() {
        let sts = string_to_sign(
            "post",
            "/api/v1/keys/k1/sign",
            None,
            "1700000000000",
            "abcdefghijklmnop",
            b"{}",
        );
        assert_eq!(
            sts,
            "POST\n/api/v1/keys/k1/sign\n\n1700000000000\nabcdefghijklmnop\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_signature(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.1.1.1".parse().unwrap();
        assert_eq!(
            client_ip(peer, Some("203.0.113.9, 10.2.2.2"), &proxies),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let outsider: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(outsider, Some("127.0.0.1"), &proxies), outsider);
    }

    #[test]
    fn timestamp_window_and_nonce_form() {
        assert!(check_timestamp("1000000", 1000000 + 300_000).is_ok());
        assert_eq!(
            check_timestamp("1000000", 1000000 + 300_001).unwrap_err().code,
            ErrorCode::TimestampOutOfWindow
        );
        assert!(check_nonce_form("short").is_err());
        assert!(check_nonce_form("0123456789abcdef").is_ok());
        assert!(check_nonce_form("0123456789abcde!").is_err());
    }
}
