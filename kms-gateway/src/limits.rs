//! Rate limits: per access key (by its limit class) and per key id (by the key's
//! algorithm), each a fixed or a sliding window.
//!
//! With Redis configured the count lives in Redis and is updated by one Lua script per
//! request (atomic on the server), so every gateway instance sees the same budget. Without
//! Redis the count is in this process: correct for a single instance only.

use crate::redis::{RedisClient, Value};
use async_trait::async_trait;
use kms_core::ports::{Clock, SystemClock};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// How a window counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowMode {
    /// Counts reset at the end of each window (one counter, cheapest).
    #[default]
    Fixed,
    /// Counts the requests of the last `window_seconds` (a log of timestamps): no burst
    /// of twice the limit across a window boundary.
    Sliding,
}

/// One limit: at most `requests` per `window_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Requests allowed per window.
    pub requests: u64,
    /// The window, seconds.
    pub window_seconds: u64,
    /// Fixed or sliding.
    #[serde(default)]
    pub mode: WindowMode,
}

/// The outcome of one counted request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Within the limit (and counted).
    Allowed,
    /// Over the limit: retry after this many milliseconds.
    Limited {
        /// Milliseconds until the window has room.
        retry_after_ms: u64,
    },
}

/// Counts requests against limits.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Count one request in `bucket` against `limit`.
    async fn hit(&self, bucket: &str, limit: &Limit) -> Result<Decision, String>;
}

/// In-process limiter (single instance only).
#[derive(Default)]
pub struct MemoryRateLimiter {
    buckets: std::sync::Mutex<HashMap<String, Bucket>>,
}

enum Bucket {
    Fixed { start: u64, count: u64 },
    Sliding(VecDeque<u64>),
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(&self, bucket: &str, limit: &Limit) -> Result<Decision, String> {
        let now = SystemClock.now_ms();
        let window = limit.window_seconds.max(1) * 1000;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| match b {
                Bucket::Fixed { start, .. } => *start + window > now,
                Bucket::Sliding(q) => q.back().is_some_and(|t| *t + window > now),
            });
        }
        let b = buckets
            .entry(bucket.to_string())
            .or_insert_with(|| match limit.mode {
                WindowMode::Fixed => Bucket::Fixed { start: now, count: 0 },
                WindowMode::Sliding => Bucket::Sliding(VecDeque::new()),
            });
        match b {
            Bucket::Fixed { start, count } => {
                if now >= *start + window {
                    *start = now;
                    *count = 0;
                }
                if *count >= limit.requests {
                    return Ok(Decision::Limited {
                        retry_after_ms: *start + window - now,
                    });
                }
                *count += 1;
                Ok(Decision::Allowed)
            }
            Bucket::Sliding(q) => {
                while q.front().is_some_and(|t| *t + window <= now) {
                    q.pop_front();
                }
                if q.len() as u64 >= limit.requests {
                    let oldest = q.front().copied().unwrap_or(now);
                    return Ok(Decision::Limited {
                        retry_after_ms: (oldest + window).saturating_sub(now),
                    });
                }
                q.push_back(now);
                Ok(Decision::Allowed)
            }
        }
    }
}

/// Fixed window: one counter that expires with its window. Returns {allowed, retry ms}.
const FIXED_SCRIPT: &str = r#"
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
if c > tonumber(ARGV[1]) then return {0, ttl} end
return {1, 0}
"#;

/// Sliding window: a sorted set of request times (the server's clock, so instances
/// with skewed clocks agree). Returns {allowed, retry ms}.
const SLIDING_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local retry = window
  if oldest[2] then retry = tonumber(oldest[2]) + window - now end
  if retry < 1 then retry = 1 end
  return {0, retry}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0}
"#;

/// Redis limiter: shared by every instance.
pub struct RedisRateLimiter {
    redis: Arc<RedisClient>,
    prefix: String,
}

impl RedisRateLimiter {
    /// Over `redis`, keys under `prefix`.
    pub fn new(redis: Arc<RedisClient>, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, bucket: &str, limit: &Limit) -> Result<Decision, String> {
        let window = (limit.window_seconds.max(1) * 1000).to_string();
        let requests = limit.requests.to_string();
        let key = format!("{}rl:{bucket}", self.prefix);
        let reply = match limit.mode {
            WindowMode::Fixed => {
                self.redis
                    .eval(FIXED_SCRIPT, &key, &[requests.as_bytes(), window.as_bytes()])
                    .await
            }
            WindowMode::Sliding => {
                let mut member = [0u8; 12];
                rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut member);
                let member = hex::encode(member);
                self.redis
                    .eval(
                        SLIDING_SCRIPT,
                        &key,
                        &[requests.as_bytes(), window.as_bytes(), member.as_bytes()],
                    )
                    .await
            }
        }
        .map_err(|e| format!("rate limiter: {e}"))?;
        match reply {
            Value::Array(Some(v)) => match v.as_slice() {
                [Value::Int(1), _] => Ok(Decision::Allowed),
                [Value::Int(0), Value::Int(ms)] => Ok(Decision::Limited {
                    retry_after_ms: (*ms).max(1) as u64,
                }),
                other => Err(format!("rate limiter: unexpected reply {other:?}")),
            },
            other => Err(format!("rate limiter: unexpected reply {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_limiter_counts_both_modes() {
        for mode in [WindowMode::Fixed, WindowMode::Sliding] {
            let l = MemoryRateLimiter::default();
            let limit = Limit {
                requests: 2,
                window_seconds: 60,
                mode,
            };
            assert_eq!(l.hit("a", &limit).await.unwrap(), Decision::Allowed);
            assert_eq!(l.hit("a", &limit).await.unwrap(), Decision::Allowed);
            match l.hit("a", &limit).await.unwrap() {
                Decision::Limited { retry_after_ms } => assert!(retry_after_ms <= 60_000),
                d => panic!("{mode:?}: {d:?}"),
            }
            assert_eq!(l.hit("b", &limit).await.unwrap(), Decision::Allowed);
        }
    }
}
