//! The TSS node runtime: holds shards, runs protocol sessions on request, and answers
//! with the messages to relay. A node opens no connection; it only answers.

use crate::domain::{KeyId, NodeId};
use crate::error::{ErrorCode, KmsError};
use crate::evidence::{Accusation, Evidence};
use crate::identity::{NodeIdentity, PeerDirectory};
use crate::ports::{Clock, NodeService, SecretVault, ShardRecord, ShardStore, SystemClock};
use crate::rpc::{HeldKey, NodeRequest, NodeResponse, SessionOutcome};
use crate::schemes::{self, DkgInput, PoolMap, RefreshInput, RunOutput, Scheme, SchemeRun, SignInput};
use crate::seal::{self, SealError, SealedMessage, SessionParties};
use async_trait::async_trait;
use kms_protocols::{Envelope, Fault, PartyIndex, ProtocolError, SessionId};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tracing::{debug, warn};

mod lifecycle;
mod setup;

/// A session not finished within this time (milliseconds of the node's clock) was
/// abandoned by its coordinator; its state (nonces included) is dropped when the next
/// session opens.
const SESSION_TTL_MS: u64 = 600_000;
/// More open sessions than this on one node is refused (memory bound).
const MAX_SESSIONS: usize = 10_000;

/// The kind of run a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionKind {
    SetupExchange,
    Keygen,
    Sign,
    Refresh,
}

struct Session {
    /// When it opened, by the node's clock.
    opened_ms: u64,
    parties: SessionParties,
    /// The key the run is about (none for a setup exchange).
    key_id: Option<KeyId>,
    scheme: Arc<dyn Scheme>,
    kind: SessionKind,
    run: Box<dyn SchemeRun>,
}

/// What a session has taken in so far, kept beside it (the session runs without it).
#[derive(Default)]
struct Intake {
    /// Digests of the sealed messages taken in: an exact duplicate is the relay's
    /// doing (replay), so it is dropped rather than blamed on its signer.
    seen: HashSet<[u8; 32]>,
    /// Every message taken in, with the key that opened it, as evidence should this
    /// node have to accuse its sender.
    received: Vec<Evidence>,
}

/// The RNG of one session step: a draw of the node's stream mixed with fresh OS
/// entropy. The node's stream alone may be reproducible (a seeded simulator, a cloned
/// VM, a restored snapshot); the OS draw makes sure no two steps ever share nonces.
fn fork(node_rng: &mut ChaCha20Rng) -> ChaCha20Rng {
    let mut node_part = zeroize::Zeroizing::new([0u8; 32]);
    node_rng.fill_bytes(node_part.as_mut());
    let mut os_part = zeroize::Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(os_part.as_mut());
    let mut h = Sha256::new();
    h.update(b"kms-node-session-rng/v1");
    h.update(node_part.as_ref());
    h.update(os_part.as_ref());
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&h.finalize());
    ChaCha20Rng::from_seed(*seed)
}

fn message_digest(sealed: &SealedMessage) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kms-relayed-message/v1");
    h.update(kms_protocols::message::encode(sealed));
    h.finalize().into()
}

/// A TSS node.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use kms_core::{node::TssNode, NodeId, ports::ShardStore, identity::*};
/// # fn demo(store: Arc<dyn ShardStore>) {
/// let identity = NodeIdentity::generate(NodeId::new("tss1").unwrap(), &mut rand_core::OsRng);
/// let directory = PeerDirectory::new([identity.public()]);
/// let node = TssNode::new(identity, directory, store);
/// # }
/// ```
pub struct TssNode {
    id: NodeId,
    identity: NodeIdentity,
    directory: PeerDirectory,
    shards: Arc<dyn ShardStore>,
    sessions: Mutex<HashMap<SessionId, Session>>,
    rng: Mutex<ChaCha20Rng>,
    clock: Arc<dyn Clock>,
    vault: Option<Arc<dyn SecretVault>>,
    /// Every scheme's node setup material.
    setup: setup::SetupState,
    /// Per-key signing precomputation, for schemes that keep some.
    pools: PoolMap,
    lifecycle: lifecycle::Lifecycle,
    intake: Mutex<HashMap<SessionId, Intake>>,
}

impl TssNode {
    /// A node with its identity, the pinned identities of its peers, and its shard
    /// store; randomness is seeded from the operating system.
    pub fn new(identity: NodeIdentity, directory: PeerDirectory, shards: Arc<dyn ShardStore>) -> Self {
        Self::with_rng(
            identity,
            directory,
            shards,
            ChaCha20Rng::from_rng(OsRng).expect("OS entropy"),
        )
    }

    /// A node with a given CSPRNG. It seeds the node's own stream (identities and
    /// placement stay reproducible in a seeded simulator), but every session step
    /// mixes fresh OS entropy into it, so no nonce is ever reproducible (a restart, a
    /// cloned VM or a reused seed never replays one).
    pub fn with_rng(
        identity: NodeIdentity,
        directory: PeerDirectory,
        shards: Arc<dyn ShardStore>,
        rng: ChaCha20Rng,
    ) -> Self {
        Self {
            id: identity.node().clone(),
            identity,
            directory,
            shards,
            sessions: Mutex::new(HashMap::new()),
            rng: Mutex::new(rng),
            clock: Arc::new(SystemClock),
            vault: None,
            setup: setup::SetupState::default(),
            pools: Arc::new(Mutex::new(HashMap::new())),
            lifecycle: lifecycle::Lifecycle::default(),
            intake: Mutex::new(HashMap::new()),
        }
    }

    /// Replace the clock (it times out abandoned sessions), like the coordinator's.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Keep the node's setup material (its own and the peer material it verified) and
    /// its key records in `vault`, so they are generated and verified once, not at
    /// every start.
    pub fn with_vault(mut self, vault: Arc<dyn SecretVault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The node's shard store.
    pub fn shard_store(&self) -> &Arc<dyn ShardStore> {
        &self.shards
    }

    /// A child RNG for one session step: the node's RNG is locked only briefly.
    fn fork_rng(&self) -> ChaCha20Rng {
        fork(&mut self.rng.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn seal_all(
        &self,
        parties: &SessionParties,
        outgoing: Vec<Envelope>,
    ) -> Result<Vec<SealedMessage>, KmsError> {
        let mut rng = self.fork_rng();
        outgoing
            .into_iter()
            .map(|e| seal::seal(&self.identity, &self.directory, parties, e, &mut rng))
            .collect::<Result<_, _>>()
            .map_err(|e| KmsError::InvalidRequest(e.to_string()))
    }

    fn session_parties(
        &self,
        parties: Vec<(PartyIndex, NodeId)>,
        me: Option<PartyIndex>,
    ) -> Result<SessionParties, KmsError> {
        let map: SessionParties = parties.iter().cloned().collect();
        if map.len() != parties.len() {
            return Err(KmsError::InvalidRequest("a party is listed twice".into()));
        }
        if let Some(me) = me {
            if map.get(&me) != Some(&self.id) {
                return Err(KmsError::InvalidRequest(format!(
                    "{me} is not this node in the session"
                )));
            }
        }
        if let Some(n) = map.values().find(|n| self.directory.get(n).is_none()) {
            return Err(KmsError::InvalidRequest(format!(
                "node {n} has no pinned identity"
            )));
        }
        Ok(map)
    }

    fn open_session(
        &self,
        session: SessionId,
        s: Session,
        outgoing: Vec<Envelope>,
    ) -> Result<NodeResponse, KmsError> {
        let outgoing = self.seal_all(&s.parties, outgoing)?;
        let now = self.clock.now_ms();
        let mut map = self.sessions();
        map.retain(|_, s| now.saturating_sub(s.opened_ms) < SESSION_TTL_MS);
        lock(&self.intake).retain(|id, _| map.contains_key(id));
        if map.len() >= MAX_SESSIONS {
            return Err(KmsError::InvalidRequest(
                "too many open sessions on this node".into(),
            ));
        }
        if map.contains_key(&session) {
            return Err(KmsError::InvalidRequest("session id already in use".into()));
        }
        map.insert(session, s);
        Ok(NodeResponse::Progress {
            outgoing,
            outcome: None,
        })
    }

    async fn load_share(&self, key_id: &KeyId) -> Result<ShardRecord, KmsError> {
        self.shards
            .get(key_id)
            .await?
            .ok_or_else(|| KmsError::KeyNotFound(key_id.clone()))
    }

    async fn deliver(&self, session_id: SessionId, messages: Vec<SealedMessage>) -> NodeResponse {
        // Take the session out while it runs so other sessions are not blocked.
        let Some(mut session) = self.sessions().remove(&session_id) else {
            return error(None, ErrorCode::InvalidRequest, "unknown session");
        };
        let mut intake = lock(&self.intake).remove(&session_id).unwrap_or_default();
        let mut rng = self.fork_rng();
        let mut outgoing = Vec::new();
        let mut output = None;
        for sealed in messages {
            // Replays are the relay's (or the network's) doing, never the signer's: an
            // exact duplicate, or a message signed for another session, is dropped and
            // logged as a relay fault, and the run goes on.
            let digest = message_digest(&sealed);
            if intake.seen.contains(&digest) {
                warn!(node = %self.id, from = %sealed.from, round = sealed.envelope.round,
                    "relay fault: an exact duplicate was delivered; dropped");
                continue;
            }
            let opened = seal::open_with_key(
                &self.identity,
                &self.directory,
                &session.parties,
                &session_id,
                sealed.clone(),
            );
            // A message that fails authentication was altered on the relay path: the
            // session is aborted, but no party is blamed for it.
            let (msg, opening) = match opened {
                Ok(m) => m,
                Err(e @ SealError::WrongSession(_)) => {
                    warn!(node = %self.id, error = %e, "relay fault: dropped");
                    continue;
                }
                Err(e) => return error(None, ErrorCode::RelayFault, &e.to_string()),
            };
            intake.seen.insert(digest);
            if output.is_some() {
                // The run has everything it needs; a further (distinct, signed) message
                // cannot change its result.
                warn!(node = %self.id, from = %sealed.from, "message after the run finished; dropped");
                continue;
            }
            intake.received.push(Evidence { sealed, opening });
            let heavy = session.scheme.heavy_steps();
            match off_the_workers(heavy, || session.run.handle(msg, &mut rng)) {
                Ok((out, o)) => {
                    outgoing.extend(out);
                    output = o;
                }
                Err(e) => {
                    warn!(node = %self.id, key = ?session.key_id, error = %e, "session aborted");
                    return accuse(&session, &intake, &e);
                }
            }
        }
        let outgoing = match self.seal_all(&session.parties, outgoing) {
            Ok(o) => o,
            Err(e) => return error_of(&e),
        };
        let Some(output) = output else {
            self.sessions().insert(session_id, session);
            lock(&self.intake).insert(session_id, intake);
            return NodeResponse::Progress {
                outgoing,
                outcome: None,
            };
        };
        match self.finish(session_id, &session, output).await {
            Ok(outcome) => NodeResponse::Progress {
                outgoing,
                outcome: Some(outcome),
            },
            Err(e) => error_of(&e),
        }
    }

    /// Persist what a run produced before reporting success: a key counts as generated
    /// on this node only once its shard is durable.
    async fn finish(
        &self,
        session_id: SessionId,
        session: &Session,
        output: RunOutput,
    ) -> Result<SessionOutcome, KmsError> {
        match (session.kind, output) {
            (
                SessionKind::Keygen,
                RunOutput::Share {
                    data,
                    public_key,
                    version,
                },
            ) => {
                let record = ShardRecord {
                    algorithm: session.scheme.algorithm(),
                    version,
                    data,
                };
                let key_id = session_key(session)?;
                self.store_new_shard(session_id, key_id, &record, &public_key)
                    .await?;
                debug!(node = %self.id, key = %key_id, "shard stored");
                self.refill_pool(session.scheme.as_ref(), key_id, &record);
                Ok(SessionOutcome::KeyGenerated { public_key })
            }
            (SessionKind::Refresh, RunOutput::Share { data, version, .. }) => {
                let record = ShardRecord {
                    algorithm: session.scheme.algorithm(),
                    version,
                    data,
                };
                self.shards
                    .stage(session_key(session)?, &session_id, &record)
                    .await?;
                Ok(SessionOutcome::RefreshStaged { version })
            }
            (SessionKind::Sign, RunOutput::Signature(signature)) => Ok(SessionOutcome::Signed { signature }),
            (SessionKind::SetupExchange, RunOutput::Setup(peers)) => {
                for (p, material) in peers {
                    let node = session.parties.get(&p).ok_or_else(|| {
                        KmsError::from(ProtocolError::Internal(format!(
                            "setup material of {p}, not in the session"
                        )))
                    })?;
                    self.keep_peer_setup(session.scheme.algorithm(), node, material)
                        .await?;
                }
                Ok(SessionOutcome::SetupExchanged)
            }
            _ => Err(KmsError::from(ProtocolError::Internal(
                "run produced the wrong kind of output".into(),
            ))),
        }
    }

    async fn dispatch(&self, request: NodeRequest) -> Result<NodeResponse, KmsError> {
        Ok(match request {
            NodeRequest::Ping => NodeResponse::Pong {
                node: self.id.clone(),
            },
            NodeRequest::StartKeygen {
                key_id,
                session,
                algorithm,
                threshold,
                party,
                parties,
            } => {
                let parties = self.session_parties(parties, Some(party))?;
                if self.shards.get(&key_id).await?.is_some() {
                    return Err(KmsError::InvalidRequest(format!(
                        "key {key_id} already has a shard here"
                    )));
                }
                let scheme = schemes::scheme(algorithm)?;
                let setup = match scheme.setup() {
                    Some(_) => Some(self.setup_for(&scheme, &parties, party).await?),
                    None => None,
                };
                let identities = self.identities(&parties)?;
                let input = DkgInput {
                    session,
                    threshold,
                    me: party,
                    identities: &identities,
                    setup,
                };
                let (run, outgoing) = scheme.start_dkg(input, &mut self.fork_rng())?;
                self.draft_key(
                    session,
                    HeldKey {
                        key_id: key_id.clone(),
                        algorithm,
                        public_key: String::new(),
                        shards: crate::domain::ShardProperties {
                            shard_count: threshold.parties,
                            threshold: threshold.threshold,
                        },
                        holders: parties
                            .iter()
                            .map(|(p, n)| crate::domain::ShardHolder {
                                node: n.clone(),
                                party: p.get(),
                            })
                            .collect(),
                        pending: true,
                    },
                );
                let s = Session {
                    opened_ms: self.clock.now_ms(),
                    parties,
                    key_id: Some(key_id),
                    scheme,
                    kind: SessionKind::Keygen,
                    run,
                };
                self.open_session(session, s, outgoing)?
            }
            NodeRequest::StartSign {
                key_id,
                session,
                signers,
                message,
                parties,
                epoch,
            } => {
                let parties = self.session_parties(parties, None)?;
                if signers.iter().collect::<Vec<_>>() != parties.keys().collect::<Vec<_>>() {
                    return Err(KmsError::InvalidRequest(
                        "signers and session parties differ".into(),
                    ));
                }
                let record = match self.shard_at(&key_id, epoch).await? {
                    Ok(record) => record,
                    Err(have) => return Ok(NodeResponse::WrongEpoch { have, want: epoch }),
                };
                let scheme = schemes::scheme(record.algorithm)?;
                // The pool is taken out while the run starts (it consumes what it uses)
                // and put back; then refilled in the background.
                let mut pool = lock(&self.pools).remove(&key_id);
                let input = SignInput {
                    session,
                    share: &record.data,
                    signers: &signers,
                    message: &message,
                    pool: pool.as_mut(),
                };
                let started = scheme.start_sign(input, &mut self.fork_rng());
                if let Some(pool) = pool {
                    lock(&self.pools).entry(key_id.clone()).or_insert(pool);
                }
                self.refill_pool(scheme.as_ref(), &key_id, &record);
                let (run, outgoing) = started?;
                let s = Session {
                    opened_ms: self.clock.now_ms(),
                    parties,
                    key_id: Some(key_id),
                    scheme,
                    kind: SessionKind::Sign,
                    run,
                };
                self.open_session(session, s, outgoing)?
            }
            NodeRequest::StartRefresh {
                key_id,
                session,
                parties,
            } => {
                let parties = self.session_parties(parties, None)?;
                let record = self.load_share(&key_id).await?;
                let scheme = schemes::scheme(record.algorithm)?;
                let fresh_setup = match scheme.setup().map(|s| s.refresh_pool()) {
                    Some(n) if n > 0 => Some(self.take_refresh_setup(&scheme).await?),
                    _ => None,
                };
                let identities = self.identities(&parties)?;
                let (data, mut rng, run_scheme) = (record.data.clone(), self.fork_rng(), scheme.clone());
                // A refresh that re-keys setup material proves the new material (about
                // a second): off the async workers.
                let (run, outgoing) = tokio::task::spawn_blocking(move || {
                    let input = RefreshInput {
                        session,
                        share: &data,
                        identities: &identities,
                        fresh_setup,
                    };
                    run_scheme.start_refresh(input, &mut rng)
                })
                .await
                .map_err(|e| KmsError::InvalidRequest(format!("refresh task failed: {e}")))??;
                let s = Session {
                    opened_ms: self.clock.now_ms(),
                    parties,
                    key_id: Some(key_id),
                    scheme,
                    kind: SessionKind::Refresh,
                    run,
                };
                self.open_session(session, s, outgoing)?
            }
            NodeRequest::StartSetupExchange {
                algorithm,
                session,
                parties,
            } => {
                let scheme = schemes::scheme(algorithm)?;
                if scheme.setup().is_none() {
                    return Err(KmsError::InvalidRequest(format!(
                        "{algorithm} has no node setup material"
                    )));
                }
                let parties = self.session_parties(parties, None)?;
                let me = parties
                    .iter()
                    .find(|(_, n)| **n == self.id)
                    .map(|(p, _)| *p)
                    .ok_or_else(|| KmsError::InvalidRequest("this node is not in the exchange".into()))?;
                let identities = self.identities(&parties)?;
                let own = self.own_setup(&scheme).await?;
                let (mut rng, run_scheme) = (self.fork_rng(), scheme.clone());
                // Proving takes about a second of CPU: off the async workers.
                let (run, outgoing) = tokio::task::spawn_blocking(move || match run_scheme.setup() {
                    Some(setup) => setup.start_exchange(session, me, &identities, own.as_ref(), &mut rng),
                    None => Err(KmsError::InvalidRequest("no node setup material".into())),
                })
                .await
                .map_err(|e| KmsError::InvalidRequest(format!("setup exchange task failed: {e}")))??;
                let s = Session {
                    opened_ms: self.clock.now_ms(),
                    parties,
                    key_id: None,
                    scheme,
                    kind: SessionKind::SetupExchange,
                    run,
                };
                self.open_session(session, s, outgoing)?
            }
            NodeRequest::RenewSetup { algorithm } => {
                self.renew_setup(algorithm).await?;
                NodeResponse::Ack
            }
            NodeRequest::PrepareRefreshSetup { algorithm } => NodeResponse::SetupPoolReady {
                ready: self.prepare_refresh_setup(algorithm).await?,
            },
            NodeRequest::ForgetPeerSetup { algorithm, node } => {
                self.forget_peer_setup(algorithm, &node).await?;
                NodeResponse::Ack
            }
            NodeRequest::SetupStatus { algorithm } => NodeResponse::SetupStatus {
                pairs: self.setup_status(algorithm).await?,
            },
            NodeRequest::Deliver { session, messages } => self.deliver(session, messages).await,
            NodeRequest::CommitRefresh {
                key_id,
                version,
                session,
            } => {
                self.shards.commit_staged(&key_id, &session, version).await?;
                NodeResponse::Ack
            }
            NodeRequest::Abort { session } => {
                lock(&self.lifecycle.drafts).remove(&session);
                lock(&self.intake).remove(&session);
                let removed = self.sessions().remove(&session);
                if let Some(s) = removed {
                    if s.kind == SessionKind::Refresh {
                        // Only this session's staged shard goes; another run's stays.
                        match self.shards.discard_staged(session_key(&s)?, &session).await {
                            Ok(()) | Err(crate::error::StorageError::Conflict(_)) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                NodeResponse::Ack
            }
            NodeRequest::ShardVersion { key_id } => NodeResponse::Version {
                version: self.shards.get(&key_id).await?.map(|r| r.version),
            },
            NodeRequest::ListShards => NodeResponse::Shards {
                keys: self.shards.list().await?,
            },
            NodeRequest::DeleteShard { key_id } => {
                self.delete_shard(&key_id).await?;
                NodeResponse::Ack
            }
            NodeRequest::HeldKeys => self.held_keys().await?,
            NodeRequest::ConfirmKey { key_id } => self.confirm_key(&key_id).await?,
            NodeRequest::DiscardPending { key_id } => self.discard_pending(&key_id).await?,
            NodeRequest::DropStale { key_id, epoch } => self.drop_stale(&key_id, epoch).await?,
            NodeRequest::JoinCluster { cluster } => self.join_cluster(&cluster).await?,
        })
    }

    /// Let the key's scheme top up its signing precomputation in the background.
    fn refill_pool(&self, scheme: &dyn Scheme, key_id: &KeyId, record: &ShardRecord) {
        scheme.refill_pool(
            &self.id,
            key_id,
            record.data.clone(),
            &self.pools,
            self.fork_rng(),
        );
    }
}

/// Run `f` (a step of a run whose proof verification takes up to seconds of CPU)
/// without stalling the async workers: on a multi-threaded Tokio runtime through
/// `block_in_place`, which hands this worker's other tasks to another thread first;
/// inline otherwise (a current-thread runtime has no other worker to hand them to).
fn off_the_workers<T>(heavy: bool, f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if heavy && h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The party to blame for a protocol error, in this relay deployment.
///
/// The coordinator fans each signed broadcast out unchanged, and a second broadcast of
/// a round is refused as a duplicate, so a node cannot show different broadcasts to
/// different peers here. An echo that disagrees with ours therefore means the reporter
/// lied about what it saw: blame the reporter, not the party it accuses.
fn blame_in_relay(e: &ProtocolError) -> Option<PartyIndex> {
    match e.fault() {
        Some(Fault::InconsistentBroadcast { reporter }) => Some(*reporter),
        _ => e.blamed(),
    }
}

/// The answer to a run that failed: an accusation with the accused's messages (and
/// the keys that opened them) when a party is to blame, else a plain error.
fn accuse(session: &Session, intake: &Intake, e: &ProtocolError) -> NodeResponse {
    let Some(party) = blame_in_relay(e) else {
        return error(None, ErrorCode::Protocol, &e.to_string());
    };
    let Some(node) = session.parties.get(&party) else {
        return error(None, ErrorCode::Protocol, &e.to_string());
    };
    let evidence = intake
        .received
        .iter()
        .filter(|ev| &ev.sealed.from == node)
        .cloned()
        .collect();
    NodeResponse::Accusation(Accusation::from_error(party, e, evidence))
}

fn session_key(s: &Session) -> Result<&KeyId, KmsError> {
    s.key_id
        .as_ref()
        .ok_or_else(|| KmsError::from(ProtocolError::Internal("session has no key".into())))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn error(culprit: Option<PartyIndex>, code: ErrorCode, message: &str) -> NodeResponse {
    NodeResponse::Error {
        culprit,
        code,
        message: message.to_string(),
    }
}

/// The answer to a request that failed on this node (no peer is blamed).
fn error_of(e: &KmsError) -> NodeResponse {
    error(None, e.code(), &e.to_string())
}

#[async_trait]
impl NodeService for TssNode {
    fn node_id(&self) -> &NodeId {
        &self.id
    }

    async fn handle(&self, request: NodeRequest) -> NodeResponse {
        self.dispatch(request).await.unwrap_or_else(|e| error_of(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_h2_session_rngs_mix_os_entropy() {
        // Two nodes whose own streams are identical (one seed, a cloned VM, a restart
        // of a seeded process) still draw different session randomness.
        let mut a = ChaCha20Rng::from_seed([9; 32]);
        let mut b = ChaCha20Rng::from_seed([9; 32]);
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        fork(&mut a).fill_bytes(&mut x);
        fork(&mut b).fill_bytes(&mut y);
        assert_ne!(x, y);
    }
}
