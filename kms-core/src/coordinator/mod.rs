//! The coordinator: authorises nothing itself (that is the gateway's job), but places
//! shards, runs and relays protocol sessions between nodes, writes metadata and audit
//! records, and fails over when a node is down or misbehaves.

use crate::audit::{AuditEvent, AuditEventType, AuditResult};
use crate::domain::*;
use crate::error::{KmsError, TransportError};
use crate::identity::PeerDirectory;
use crate::ports::{AuditLog, Clock, MetadataStore, NodeTransport, SystemClock};
use crate::principal::Principal;
use crate::rpc::{NodeRequest, NodeResponse, SessionOutcome};
use crate::schemes;
use crate::seal::SealedMessage;
use futures::future::join_all;
use kms_protocols::{PartyIndex, Recipient, SessionId, Threshold};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

mod lease;
mod recovery;
mod relay;
mod setup;
mod signers;

pub use recovery::{RecoveryOptions, RecoveryReport};

/// Coordinator settings.
#[derive(Clone, Debug)]
pub struct CoordinatorConfig {
    /// Name written into audit records.
    pub service_name: String,
    /// How long one node call may take before the node counts as down.
    pub call_timeout: Duration,
    /// How long a liveness check may take.
    pub ping_timeout: Duration,
    /// How long a mutating operation's lease on a key lasts: longer than any refresh or
    /// destroy takes, short enough that a crashed coordinator blocks the key no longer.
    pub lease_ttl: Duration,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self {
            service_name: "kms-coordinator".into(),
            call_timeout: Duration::from_secs(60),
            ping_timeout: Duration::from_secs(2),
            lease_ttl: Duration::from_secs(600),
        }
    }
}

/// The coordinator of a cluster of TSS nodes.
pub struct Coordinator {
    nodes: Vec<NodeId>,
    transport: Arc<dyn NodeTransport>,
    metadata: Arc<dyn MetadataStore>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    rng: Mutex<ChaCha20Rng>,
    config: CoordinatorConfig,
    /// Names this coordinator instance in the leases it takes.
    instance: String,
    /// The nodes' pinned identities, to check the evidence behind an accusation.
    directory: Option<PeerDirectory>,
}

/// Who took part in a session: party index to node.
type Parties = BTreeMap<PartyIndex, NodeId>;

impl Coordinator {
    /// A coordinator over `nodes`, reached through `transport`.
    pub fn new(
        nodes: Vec<NodeId>,
        transport: Arc<dyn NodeTransport>,
        metadata: Arc<dyn MetadataStore>,
        audit: Arc<dyn AuditLog>,
    ) -> Self {
        Self {
            nodes,
            transport,
            metadata,
            audit,
            clock: Arc::new(SystemClock),
            rng: Mutex::new(ChaCha20Rng::from_rng(OsRng).expect("OS entropy")),
            config: CoordinatorConfig::default(),
            instance: lease::instance_name(),
            directory: None,
        }
    }

    /// Pin the nodes' identities, so that the evidence behind a node's accusation can
    /// be checked (see [`crate::evidence`]). Without it no accusation is verified or
    /// refuted by its evidence: accuser and accused are only kept apart.
    pub fn with_directory(mut self, directory: PeerDirectory) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Replace the configuration.
    pub fn with_config(mut self, config: CoordinatorConfig) -> Self {
        self.config = config;
        self
    }

    /// Replace the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Seed the coordinator's randomness (key ids, session ids, placement, the choice of
    /// signers) for tests and memory-only simulation; never for a service whose state
    /// persists (session ids would repeat after a restart).
    pub fn with_rng(self, rng: ChaCha20Rng) -> Self {
        *self.rng.lock().unwrap_or_else(|e| e.into_inner()) = rng;
        self
    }

    /// The nodes of the cluster.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    fn with_rng_do<T>(&self, f: impl FnOnce(&mut ChaCha20Rng) -> T) -> T {
        f(&mut self.rng.lock().unwrap_or_else(|e| e.into_inner()))
    }

    async fn call(&self, node: &NodeId, request: NodeRequest) -> Result<NodeResponse, TransportError> {
        match tokio::time::timeout(self.config.call_timeout, self.transport.call(node, request)).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout(node.clone())),
        }
    }

    /// The nodes that answer a ping now.
    pub async fn healthy_nodes(&self) -> Vec<NodeId> {
        self.healthy_among(&self.nodes).await
    }

    async fn healthy_among(&self, candidates: &[NodeId]) -> Vec<NodeId> {
        let pings = candidates.iter().map(|n| async move {
            let r = tokio::time::timeout(
                self.config.ping_timeout,
                self.transport.call(n, NodeRequest::Ping),
            )
            .await;
            matches!(r, Ok(Ok(NodeResponse::Pong { .. }))).then(|| n.clone())
        });
        join_all(pings).await.into_iter().flatten().collect()
    }

    /// Write the audit record of an operation, then hand back its result. Fails
    /// closed: an operation whose record cannot be written returns the storage error
    /// instead of its result (a signature is withheld rather than left unaudited).
    async fn audited<T>(
        &self,
        op: Operation<'_>,
        started: Instant,
        result: Result<T, KmsError>,
        describe: impl FnOnce(&T) -> String,
    ) -> Result<T, KmsError> {
        let (outcome, trail, key) = match &result {
            Ok(v) => (
                AuditResult::Success,
                describe(v),
                op.key.as_ref().map(|k| k.to_string()),
            ),
            Err(e) => (
                AuditResult::Failure,
                e.to_string(),
                op.key.as_ref().map(|k| k.to_string()),
            ),
        };
        let event = AuditEvent {
            event_type: op.event_type,
            user_id: op.user.user_id().to_string(),
            key_id: key,
            operation: op.name.to_string(),
            result: outcome,
            created_time: self.clock.now_ms(),
            service_name: self.config.service_name.clone(),
            node_id: None,
            duration_ms: started.elapsed().as_millis() as u64,
            data_hash: hex::encode(Sha256::digest(op.data)),
            audit_trail: op.user.annotate(&trail),
        };
        if let Err(e) = self.audit.append(event).await {
            warn!(error = %e, operation = op.name, "audit append failed; withholding the result");
            return Err(KmsError::Storage(e));
        }
        result
    }

    /// Generate a key by DKG on `shards.shard_count` healthy nodes.
    ///
    /// The metadata is written as `GENERATING` first and turned `ACTIVE` only after every
    /// holder has reported its shard durably stored; a failed generation removes the
    /// shards that were stored and the metadata.
    pub async fn generate_key(
        &self,
        user: &Principal,
        spec: KeySpec,
        shards: ShardProperties,
    ) -> Result<KeyMetadata, KmsError> {
        let started = Instant::now();
        let result = self.generate_key_inner(spec, shards).await;
        let op = Operation {
            event_type: AuditEventType::KeyGenerate,
            name: "generate_key",
            user,
            key: result.as_ref().ok().map(|m| m.key_id.clone()),
            data: spec.algo_type.as_str().as_bytes(),
        };
        self.audited(op, started, result, |m| {
            format!("{} key on {:?}", spec.algo_type.as_str(), m.holders)
        })
        .await
    }

    async fn generate_key_inner(
        &self,
        spec: KeySpec,
        shards: ShardProperties,
    ) -> Result<KeyMetadata, KmsError> {
        spec.validate()?;
        let threshold = Threshold::new(shards.threshold, shards.shard_count)
            .map_err(|e| KmsError::InvalidRequest(e.to_string()))?;
        let n = usize::from(shards.shard_count);
        if n > self.nodes.len() {
            return Err(KmsError::InvalidRequest(format!(
                "{n} shards but only {} nodes",
                self.nodes.len()
            )));
        }
        let mut healthy = self.healthy_nodes().await;
        if healthy.len() < n {
            return Err(KmsError::NotEnoughNodes {
                needed: n,
                available: healthy.len(),
            });
        }
        // Spread keys over the healthy nodes rather than always using the first n.
        let skip = self.with_rng_do(|r| r.next_u32() as usize) % healthy.len();
        healthy.rotate_left(skip);
        healthy.truncate(n);
        healthy.sort();
        let parties: Parties = PartyIndex::range(shards.shard_count).zip(healthy).collect();

        let key_id = self.with_rng_do(KeyId::random);
        let now = self.clock.now_ms();
        let mut meta = KeyMetadata {
            key_id: key_id.clone(),
            spec,
            shards,
            public_key: String::new(),
            holders: parties
                .iter()
                .map(|(p, node)| ShardHolder {
                    node: node.clone(),
                    party: p.get(),
                })
                .collect(),
            status: KeyStatus::Generating,
            epoch: 0,
            created_at: now,
            updated_at: now,
            revision: 0,
            lease: None,
        };
        // Written first, as GENERATING, so a crash part-way leaves a record that recovery
        // can clean up rather than orphan shards nobody knows about.
        self.metadata.insert(&meta).await?;

        let prepared = match schemes::scheme(spec.algo_type) {
            Ok(scheme) => self.ensure_setup(scheme.as_ref(), &parties).await,
            Err(e) => Err(e),
        };
        if let Err(e) = prepared {
            self.discard_key(&key_id, &parties).await;
            return Err(e);
        }
        let session = self.with_rng_do(SessionId::random);
        let starts = parties
            .iter()
            .map(|(p, node)| {
                let req = NodeRequest::StartKeygen {
                    key_id: key_id.clone(),
                    session,
                    algorithm: spec.algo_type,
                    threshold,
                    party: *p,
                    parties: session_parties(&parties),
                };
                (node.clone(), req)
            })
            .collect();
        let outcome = self.run_session(session, &parties, starts).await;
        let public_key = match outcome.and_then(|o| agree_on_public_key(&o)) {
            Ok(pk) => pk,
            Err(e) => {
                self.discard_key(&key_id, &parties).await;
                return Err(e);
            }
        };
        // Every holder stored its shard marked pending; clear the marks before the key
        // turns ACTIVE, so a shard recovery may remove never belongs to a key anyone saw.
        if let Err(e) = self.confirm_holders(&key_id, &parties).await {
            self.discard_key(&key_id, &parties).await;
            return Err(e);
        }
        meta.public_key = hex::encode(&public_key);
        meta.status = KeyStatus::Active;
        meta.updated_at = self.clock.now_ms();
        self.swap(&mut meta).await?;
        info!(key = %key_id, algorithm = spec.algo_type.as_str(), "key generated");
        Ok(meta)
    }

    /// Every key's metadata.
    pub async fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError> {
        Ok(self.metadata.list().await?)
    }

    /// A key's metadata.
    pub async fn get_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.metadata
            .get(key_id)
            .await?
            .ok_or_else(|| KmsError::KeyNotFound(key_id.clone()))
    }

    /// Sign with a key: `message` is the message (EdDSA, BLS) or the 32-byte hash
    /// (ECDSA). Picks `threshold` healthy holders; if a run fails because a node is down
    /// or misbehaves, retries without that node while enough holders remain.
    pub async fn sign(
        &self,
        user: &Principal,
        key_id: &KeyId,
        message: &[u8],
    ) -> Result<SignatureOutput, KmsError> {
        let started = Instant::now();
        let result = self.sign_inner(key_id, message).await;
        let op = Operation {
            event_type: AuditEventType::KeySign,
            name: "sign",
            user,
            key: Some(key_id.clone()),
            data: message,
        };
        self.audited(op, started, result, |s| format!("signed by {:?}", s.signers))
            .await
    }

    async fn sign_inner(&self, key_id: &KeyId, message: &[u8]) -> Result<SignatureOutput, KmsError> {
        // A refresh may commit between reading the key's epoch and a signer starting:
        // the signer answers WrongEpoch (nobody is blamed) and the run starts again at
        // the epoch the metadata now holds.
        let mut attempts = 0;
        loop {
            match self.sign_at_current_epoch(key_id, message).await {
                Err(KmsError::EpochMismatch { node, have, want }) if attempts < 3 => {
                    attempts += 1;
                    info!(key = %key_id, node = %node, ?have, want, "epoch moved during signing; retrying");
                }
                other => return other,
            }
        }
    }

    async fn sign_at_current_epoch(
        &self,
        key_id: &KeyId,
        message: &[u8],
    ) -> Result<SignatureOutput, KmsError> {
        let meta = self.get_key(key_id).await?;
        if meta.status != KeyStatus::Active {
            return Err(KmsError::KeyNotUsable {
                key: key_id.clone(),
                status: meta.status,
                operation: "sign".into(),
            });
        }
        schemes::scheme(meta.spec.algo_type)?.check_message(message)?;
        let public_key = hex::decode(&meta.public_key)
            .map_err(|_| KmsError::InvalidRequest("stored public key".into()))?;
        self.sign_with_failover(&meta, message, &public_key).await
    }

    async fn sign_with(
        &self,
        meta: &KeyMetadata,
        parties: &Parties,
        message: &[u8],
        public_key: &[u8],
    ) -> Result<SignatureOutput, relay::Failure> {
        let session = self.with_rng_do(SessionId::random);
        let signers: Vec<PartyIndex> = parties.keys().copied().collect();
        let starts = parties
            .values()
            .map(|node| {
                let req = NodeRequest::StartSign {
                    key_id: meta.key_id.clone(),
                    session,
                    signers: signers.clone(),
                    message: message.to_vec(),
                    parties: session_parties(parties),
                    epoch: meta.epoch,
                };
                (node.clone(), req)
            })
            .collect();
        let outcomes = self.run_session_judged(session, parties, starts).await?;
        let failed = |error: KmsError, blame: relay::Blame| relay::Failure { error, blame };
        let mut signature: Option<Vec<u8>> = None;
        for (node, outcome) in &outcomes {
            let SessionOutcome::Signed { signature: s } = outcome else {
                return Err(failed(
                    node_error(node, "answered a signing with another outcome"),
                    relay::Blame::Node(node.clone()),
                ));
            };
            match &signature {
                None => signature = Some(s.clone()),
                Some(first) if first != s => {
                    return Err(failed(
                        node_error(node, "reported a different signature"),
                        relay::Blame::Node(node.clone()),
                    ))
                }
                Some(_) => {}
            }
        }
        let Some(signature) = signature else {
            return Err(failed(
                KmsError::Protocol {
                    culprit: None,
                    fault: None,
                    error: "no signer reported".into(),
                },
                relay::Blame::Nobody,
            ));
        };
        // Defence in depth: the nodes verified it; so does the coordinator, with the
        // scheme's standard verifier, before anything leaves the service.
        if !schemes::verify_signature(meta.spec.algo_type, public_key, message, &signature) {
            return Err(failed(
                KmsError::Protocol {
                    culprit: None,
                    fault: None,
                    error: "final signature does not verify".into(),
                },
                relay::Blame::Nobody,
            ));
        }
        Ok(SignatureOutput {
            key_id: meta.key_id.clone(),
            algorithm: meta.spec.algo_type,
            signature,
            signers: parties.values().cloned().collect(),
        })
    }

    /// Change a key's status. Destroying a key removes its shard from every holder first;
    /// the key is marked destroyed only when all holders confirmed.
    pub async fn set_status(
        &self,
        user: &Principal,
        key_id: &KeyId,
        status: KeyStatus,
    ) -> Result<KeyMetadata, KmsError> {
        let started = Instant::now();
        let result = self.set_status_inner(key_id, status).await;
        let event_type = if status == KeyStatus::Destroyed {
            AuditEventType::KeyDestroy
        } else {
            AuditEventType::KeyStatusChange
        };
        let data = format!("{status:?}");
        let op = Operation {
            event_type,
            name: "set_status",
            user,
            key: Some(key_id.clone()),
            data: data.as_bytes(),
        };
        self.audited(op, started, result, |_| format!("status -> {status:?}"))
            .await
    }

    async fn set_status_inner(&self, key_id: &KeyId, status: KeyStatus) -> Result<KeyMetadata, KmsError> {
        let operation = if status == KeyStatus::Destroyed {
            "destroy"
        } else {
            "set_status"
        };
        let mut meta = self.take_lease(key_id, operation).await?;
        let result = self.set_status_leased(&mut meta, status).await;
        self.release_lease(&mut meta, result).await?;
        Ok(meta)
    }

    /// Change the status of a key whose lease this coordinator holds. A destroy first
    /// marks the key DESTROYING (durably, before any shard is deleted), then deletes on
    /// every holder it reaches; it becomes DESTROYED only when every holder confirmed.
    async fn set_status_leased(&self, meta: &mut KeyMetadata, status: KeyStatus) -> Result<(), KmsError> {
        if !meta.status.can_become(status) {
            return Err(KmsError::InvalidRequest(format!(
                "cannot change status {:?} -> {status:?}",
                meta.status
            )));
        }
        if status == KeyStatus::Destroyed {
            if meta.status != KeyStatus::Destroying {
                meta.status = KeyStatus::Destroying;
                meta.updated_at = self.clock.now_ms();
                self.swap(meta).await?;
            }
            let pending = self.delete_on_holders(meta).await;
            if !pending.is_empty() {
                return Err(KmsError::DestroyIncomplete {
                    key: meta.key_id.clone(),
                    pending,
                });
            }
        }
        meta.status = status;
        meta.updated_at = self.clock.now_ms();
        Ok(())
    }

    /// Proactively refresh a key's shards on all its holders (all must be up). The new
    /// shards are staged on every holder and committed only when all staged them.
    pub async fn refresh(&self, user: &Principal, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        let started = Instant::now();
        let result = self.refresh_inner(key_id).await;
        let op = Operation {
            event_type: AuditEventType::KeyRefresh,
            name: "refresh",
            user,
            key: Some(key_id.clone()),
            data: key_id.as_str().as_bytes(),
        };
        self.audited(op, started, result, |m| format!("epoch -> {}", m.epoch))
            .await
    }

    async fn refresh_inner(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        let mut meta = self.take_lease(key_id, "refresh").await?;
        let result = self.refresh_leased(&mut meta).await;
        self.release_lease(&mut meta, result).await?;
        Ok(meta)
    }

    async fn refresh_leased(&self, meta: &mut KeyMetadata) -> Result<(), KmsError> {
        let key_id = meta.key_id.clone();
        if meta.status != KeyStatus::Active {
            return Err(KmsError::KeyNotUsable {
                key: key_id,
                status: meta.status,
                operation: "refresh".into(),
            });
        }
        let parties: Parties = meta
            .holders
            .iter()
            .filter_map(|h| Some((PartyIndex::new(h.party)?, h.node.clone())))
            .collect();
        let scheme = schemes::scheme(meta.spec.algo_type)?;
        self.ensure_refresh_setup(scheme.as_ref(), &parties).await?;
        let session = self.with_rng_do(SessionId::random);
        let starts = parties
            .values()
            .map(|n| {
                let parties = parties.iter().map(|(p, n)| (*p, n.clone())).collect();
                (
                    n.clone(),
                    NodeRequest::StartRefresh {
                        key_id: key_id.clone(),
                        session,
                        parties,
                    },
                )
            })
            .collect();
        let outcomes = self.run_session(session, &parties, starts).await?;
        let versions: BTreeSet<u64> = outcomes
            .values()
            .map(|o| match o {
                SessionOutcome::RefreshStaged { version } => *version,
                _ => u64::MAX,
            })
            .collect();
        let version = match versions.into_iter().collect::<Vec<_>>()[..] {
            [v] if v == meta.epoch + 1 => v,
            _ => {
                self.abort(session, &parties).await;
                return Err(KmsError::Protocol {
                    culprit: None,
                    fault: None,
                    error: "holders staged different versions".into(),
                });
            }
        };
        // The metadata write is the commit point: once every holder has staged the new
        // version, the key's epoch moves (by compare-and-swap: if this coordinator lost
        // its lease, nothing moves and the staged shards are dropped); holders are then
        // told to make it current, and `recover` finishes the job for any holder a crash
        // left behind. Until a holder commits, it signs at the new epoch with its staged
        // shard.
        meta.epoch = version;
        meta.updated_at = self.clock.now_ms();
        if let Err(e) = self.swap(meta).await {
            meta.epoch = version - 1;
            self.abort(session, &parties).await;
            return Err(e);
        }
        let mut first_error = None;
        for node in parties.values() {
            let req = NodeRequest::CommitRefresh {
                key_id: key_id.clone(),
                version,
                session,
            };
            let e = match self.call(node, req).await {
                Ok(NodeResponse::Ack) => continue,
                Ok(other) => unexpected(node, &other),
                Err(e) => e.into(),
            };
            warn!(key = %key_id, node = %node, error = %e, "holder did not commit; recovery will");
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn session_parties(parties: &Parties) -> Vec<(PartyIndex, NodeId)> {
    parties.iter().map(|(p, n)| (*p, n.clone())).collect()
}

fn agree_on_public_key(outcomes: &BTreeMap<NodeId, SessionOutcome>) -> Result<Vec<u8>, KmsError> {
    let mut pk: Option<&Vec<u8>> = None;
    for (node, o) in outcomes {
        let SessionOutcome::KeyGenerated { public_key } = o else {
            return Err(node_error(node, "answered a key generation with another outcome"));
        };
        match pk {
            None => pk = Some(public_key),
            Some(first) if first != public_key => {
                return Err(node_error(node, "reported a different public key"))
            }
            Some(_) => {}
        }
    }
    pk.cloned().ok_or_else(|| KmsError::Protocol {
        culprit: None,
        fault: None,
        error: "no holder reported".into(),
    })
}

fn node_error(node: &NodeId, message: &str) -> KmsError {
    KmsError::Node {
        node: node.clone(),
        message: message.to_string(),
    }
}

fn unexpected(node: &NodeId, response: &NodeResponse) -> KmsError {
    match response {
        NodeResponse::Error { message, .. } => node_error(node, message),
        other => node_error(node, &format!("unexpected answer {other:?}")),
    }
}

/// What an audited operation is.
struct Operation<'a> {
    event_type: AuditEventType,
    name: &'static str,
    user: &'a Principal,
    key: Option<KeyId>,
    /// Request data; only its hash is recorded.
    data: &'a [u8],
}
