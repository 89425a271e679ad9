//! Idempotency keys on mutating calls, kept on the coordinator's side: the first answer
//! to (principal, idempotency key) is kept for 24 hours and given again to a retry of
//! the same request, so a client that lost an answer (a timeout, a dropped connection)
//! retries without making a second key or a second signature. The same key with
//! another request is a conflict, never silently the old answer.

use kms_core::ports::{Clock, SystemClock};
use kms_core::{KeyMetadata, KmsError, SignatureOutput};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

pub use crate::types::IdempotencyKey;

/// How long an answer is kept: a day, the usual window for retries of payments APIs.
pub const IDEMPOTENCY_TTL_MS: u64 = 24 * 60 * 60 * 1000;

/// A kept answer.
#[derive(Clone, Debug)]
pub(crate) enum Answer {
    Key(KeyMetadata),
    Signature(SignatureOutput),
}

struct Entry {
    fingerprint: [u8; 32],
    created_ms: u64,
    /// Filled by the first call that succeeds; concurrent calls with the same key wait
    /// on it instead of running the operation again.
    answer: Arc<tokio::sync::OnceCell<Answer>>,
}

/// What identifies a request for idempotency: the operation and every field, hashed
/// with length prefixes so two different requests never encode alike.
pub(crate) fn fingerprint(operation: &str, fields: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kms-client/idempotency/v1");
    for part in std::iter::once(operation.as_bytes()).chain(fields.iter().copied()) {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// The answers of mutating calls by (principal, idempotency key), for
/// [`IDEMPOTENCY_TTL_MS`]. Failed calls keep nothing, so a retry after a failure runs
/// the operation again.
pub struct IdempotencyStore {
    clock: Arc<dyn Clock>,
    ttl_ms: u64,
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl Default for IdempotencyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl IdempotencyStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store on `clock` (tests move time).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            ttl_ms: IDEMPOTENCY_TTL_MS,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Run `op` once for (principal, key) and request `fingerprint`; give its answer
    /// again to a later call with the same three; refuse the same key with another
    /// request as [`KmsError::IdempotencyConflict`].
    pub(crate) async fn run<F, Fut>(
        &self,
        principal: &str,
        key: &IdempotencyKey,
        fingerprint: [u8; 32],
        op: F,
    ) -> Result<Answer, KmsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Answer, KmsError>>,
    {
        let now = self.clock.now_ms();
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.retain(|_, e| now.saturating_sub(e.created_ms) < self.ttl_ms);
            let entry = entries
                .entry((principal.to_string(), key.as_str().to_string()))
                .or_insert_with(|| Entry {
                    fingerprint,
                    created_ms: now,
                    answer: Arc::new(tokio::sync::OnceCell::new()),
                });
            if entry.fingerprint != fingerprint {
                return Err(KmsError::IdempotencyConflict {
                    key: key.as_str().to_string(),
                });
            }
            entry.answer.clone()
        };
        let result = cell.get_or_try_init(op).await.cloned();
        if result.is_err() {
            // A failure keeps nothing: not even the request's fingerprint, so the key
            // is free for any request again.
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (principal.to_string(), key.as_str().to_string());
            if entries
                .get(&slot)
                .is_some_and(|e| Arc::ptr_eq(&e.answer, &cell) && !e.answer.initialized())
            {
                entries.remove(&slot);
            }
        }
        result
    }

    /// How many answers are kept (expired ones are dropped at the next call).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    struct TestClock(AtomicU64);
    impl Clock for TestClock {
        fn now_ms(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    fn answer(n: u8) -> Answer {
        Answer::Signature(SignatureOutput {
            key_id: kms_core::KeyId::parse("k").unwrap(),
            algorithm: kms_core::Algorithm::Eddsa,
            signature: vec![n; 64],
            signers: vec![],
        })
    }

    fn sig(a: &Answer) -> u8 {
        match a {
            Answer::Signature(s) => s.signature[0],
            Answer::Key(_) => panic!("not a signature"),
        }
    }

    #[tokio::test]
    async fn one_run_per_key_and_request_for_a_day() {
        let clock = Arc::new(TestClock(AtomicU64::new(1_000)));
        let store = IdempotencyStore::with_clock(clock.clone());
        let runs = AtomicUsize::new(0);
        let key = IdempotencyKey::new("order-1").unwrap();
        let fp = fingerprint("sign", &[b"a"]);
        let op = |n| {
            runs.fetch_add(1, Ordering::Relaxed);
            async move { Ok(answer(n)) }
        };
        assert_eq!(sig(&store.run("alice", &key, fp, || op(1)).await.unwrap()), 1);
        assert_eq!(sig(&store.run("alice", &key, fp, || op(2)).await.unwrap()), 1);
        assert_eq!(runs.load(Ordering::Relaxed), 1, "the retry got the first answer");
        // Another principal's same key is another entry.
        assert_eq!(sig(&store.run("bob", &key, fp, || op(3)).await.unwrap()), 3);
        // Same key, other request: a conflict, and the kept answer stays.
        let other = fingerprint("sign", &[b"b"]);
        match store.run("alice", &key, other, || op(4)).await {
            Err(KmsError::IdempotencyConflict { key }) => assert_eq!(key, "order-1"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        // After 24 h the key is free again.
        clock.0.store(1_000 + IDEMPOTENCY_TTL_MS - 1, Ordering::Relaxed);
        assert_eq!(sig(&store.run("alice", &key, fp, || op(5)).await.unwrap()), 1);
        clock.0.store(1_000 + IDEMPOTENCY_TTL_MS, Ordering::Relaxed);
        assert_eq!(sig(&store.run("alice", &key, other, || op(6)).await.unwrap()), 6);
        assert_eq!(store.len(), 1, "expired entries are dropped");
    }

    #[tokio::test]
    async fn a_failure_keeps_nothing_and_concurrent_retries_run_once() {
        let store = IdempotencyStore::new();
        let key = IdempotencyKey::new("k-2").unwrap();
        let fp = fingerprint("generate_key", &[b"EDDSA"]);
        let failed = store
            .run("alice", &key, fp, || async {
                Err(KmsError::InvalidRequest("down".into()))
            })
            .await;
        assert!(failed.is_err());
        let runs = AtomicUsize::new(0);
        let op = || {
            runs.fetch_add(1, Ordering::Relaxed);
            async {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Ok(answer(9))
            }
        };
        let (a, b) = tokio::join!(store.run("alice", &key, fp, op), store.run("alice", &key, fp, op));
        assert_eq!((sig(&a.unwrap()), sig(&b.unwrap())), (9, 9));
        assert_eq!(runs.load(Ordering::Relaxed), 1, "the concurrent retry waited");
    }

    #[test]
    fn fingerprints_are_unambiguous() {
        assert_ne!(
            fingerprint("sign", &[b"ab", b"c"]),
            fingerprint("sign", &[b"a", b"bc"])
        );
        assert_ne!(fingerprint("sign", &[b"x"]), fingerprint("generate_key", &[b"x"]));
    }
}
