//! `Idempotency-Key` on mutating calls: the same key with the same body within 24 h gets
//! the first answer again (no second key, no second signature); with another body, 409
//! `IDEMPOTENCY_CONFLICT`. A duplicate that arrives while the first is still running
//! waits for its answer, so the operation never runs twice.
//!
//! A key is scoped to the access key that sent it (two callers cannot collide) and to the
//! method and path. An answer of 5xx is not kept (the operation did not happen, or may
//! not have), so a retry runs again. Stored in Redis when configured (shared by every
//! instance), otherwise in this process.

use crate::redis::RedisClient;
use async_trait::async_trait;
use kms_core::ports::{Clock, SystemClock};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// How long a finished answer is kept.
pub const ANSWER_TTL_MS: u64 = 24 * 3600 * 1000;
/// How long a "running" mark lives: a crashed instance's mark lapses after this.
pub const RUNNING_TTL_MS: u64 = 10 * 60 * 1000;

/// A kept answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

/// What is stored under an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// SHA-256 hex of the request (method, path, body).
    pub request_hash: String,
    /// The answer, once the first request finished.
    pub answer: Option<StoredAnswer>,
}

/// The outcome of [`IdempotencyStore::begin`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// First use: run the operation, then `complete` (or `abandon`).
    Fresh,
    /// Seen, finished: answer this.
    Replay(StoredAnswer),
    /// Seen with the same request, still running elsewhere.
    Running,
    /// Seen with another request.
    Mismatch,
}

/// Where idempotency keys live.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claim `key` for `request_hash`, or say what is there.
    async fn begin(&self, key: &str, request_hash: &str) -> Result<Begin, String>;
    /// Keep the answer of the claimed key for 24 h.
    async fn complete(&self, key: &str, request_hash: &str, answer: StoredAnswer) -> Result<(), String>;
    /// Release a claim whose operation did not finish (a retry runs again).
    async fn abandon(&self, key: &str) -> Result<(), String>;
}

fn outcome(entry: &Entry, request_hash: &str) -> Begin {
    if entry.request_hash != request_hash {
        return Begin::Mismatch;
    }
    match &entry.answer {
        Some(a) => Begin::Replay(a.clone()),
        None => Begin::Running,
    }
}

/// In-process store (single instance only).
#[derive(Default)]
pub struct MemoryIdempotencyStore {
    entries: std::sync::Mutex<HashMap<String, (Entry, u64)>>,
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn begin(&self, key: &str, request_hash: &str) -> Result<Begin, String> {
        let now = SystemClock.now_ms();
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, exp)| *exp > now);
        }
        if let Some((entry, exp)) = map.get(key) {
            if *exp > now {
                return Ok(outcome(entry, request_hash));
            }
        }
        map.insert(
            key.to_string(),
            (
                Entry {
                    request_hash: request_hash.to_string(),
                    answer: None,
                },
                now + RUNNING_TTL_MS,
            ),
        );
        Ok(Begin::Fresh)
    }
    async fn complete(&self, key: &str, request_hash: &str, answer: StoredAnswer) -> Result<(), String> {
        let now = SystemClock.now_ms();
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).insert(
            key.to_string(),
            (
                Entry {
                    request_hash: request_hash.to_string(),
                    answer: Some(answer),
                },
                now + ANSWER_TTL_MS,
            ),
        );
        Ok(())
    }
    async fn abandon(&self, key: &str) -> Result<(), String> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        Ok(())
    }
}

/// Redis store: the claim is `SET key {running} NX PX 600000`, so of two instances
/// receiving the same key at once exactly one runs the operation.
pub struct RedisIdempotencyStore {
    redis: Arc<RedisClient>,
    prefix: String,
}

impl RedisIdempotencyStore {
    /// Over `redis`, keys under `prefix`.
    pub fn new(redis: Arc<RedisClient>, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}idem:{key}", self.prefix)
    }
}

#[async_trait]
impl IdempotencyStore for RedisIdempotencyStore {
    async fn begin(&self, key: &str, request_hash: &str) -> Result<Begin, String> {
        let k = self.key(key);
        let claim = serde_json::to_vec(&Entry {
            request_hash: request_hash.to_string(),
            answer: None,
        })
        .map_err(|e| e.to_string())?;
        let err = |e: crate::redis::RedisError| format!("idempotency store: {e}");
        if self
            .redis
            .set_nx_px(&k, &claim, RUNNING_TTL_MS)
            .await
            .map_err(err)?
        {
            return Ok(Begin::Fresh);
        }
        match self.redis.get(&k).await.map_err(err)? {
            Some(bytes) => {
                let entry: Entry = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("idempotency store: malformed entry: {e}"))?;
                Ok(outcome(&entry, request_hash))
            }
            // Lapsed between the two calls: try once more.
            None => {
                if self
                    .redis
                    .set_nx_px(&k, &claim, RUNNING_TTL_MS)
                    .await
                    .map_err(err)?
                {
                    Ok(Begin::Fresh)
                } else {
                    Ok(Begin::Running)
                }
            }
        }
    }
    async fn complete(&self, key: &str, request_hash: &str, answer: StoredAnswer) -> Result<(), String> {
        let entry = serde_json::to_vec(&Entry {
            request_hash: request_hash.to_string(),
            answer: Some(answer),
        })
        .map_err(|e| e.to_string())?;
        self.redis
            .set_px(&self.key(key), &entry, ANSWER_TTL_MS)
            .await
            .map_err(|e| format!("idempotency store: {e}"))
    }
    async fn abandon(&self, key: &str) -> Result<(), String> {
        self.redis
            .del(&self.key(key))
            .await
            .map_err(|e| format!("idempotency store: {e}"))
    }
}
