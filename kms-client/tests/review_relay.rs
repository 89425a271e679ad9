//! The review findings about randomness, blame and the relay (gg18 review H2, M1, M2;
//! storage review M2, M3), each against the real node runtime and coordinator.
//!
//! - H2/M3: a persistent cluster never replays its randomness, and `seed` (the
//!   simulator's determinism) cannot be combined with persistence.
//! - M1: an accusation is checked, not believed: a false accuser is routed around, a
//!   proven cheater is excluded.
//! - M2: a holder that breaks the run without being identifiable cannot block signing.
//! - storage M2: a replayed message is the relay's fault, never its signer's.

use async_trait::async_trait;
use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::audit::{AuditEventType, AuditResult};
use kms_core::coordinator::Coordinator;
use kms_core::identity::{NodeIdentity, PeerDirectory};
use kms_core::node::TssNode;
use kms_core::ports::{AuditLog, NodeService, NodeTransport};
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::seal::{self, SealedMessage, SessionParties};
use kms_core::{Algorithm, KeyMetadata, KeySpec, KmsError, NodeId, ShardProperties, TransportError};
use kms_protocols::{Envelope, PartyIndex, Phase, Recipient};
use kms_storage::memory::{MemoryAuditLog, MemoryMetadataStore, MemoryShardStore};
use kms_transport::memory::InMemoryBus;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::path::Path;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

mod common;
use common::fixture_aux;

fn tss(i: usize) -> NodeId {
    NodeId::new(format!("tss{i}")).unwrap()
}

// ---------------------------------------------------------------------------------------
// H2 / storage M3: randomness never replays.
// ---------------------------------------------------------------------------------------

fn persistent(dir: &Path) -> kms_client::InProcessClusterBuilder {
    let mut builder = InProcessCluster::builder()
        .nodes(3)
        .persistent(dir, Zeroizing::new("correct horse".to_string()))
        .pbkdf2_iterations(10_000);
    for (i, aux) in fixture_aux().into_iter().take(3).enumerate() {
        builder = builder.gg18_aux(&format!("tss{}", i + 1), aux);
    }
    builder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_h2_persistent_reopen_signs_with_fresh_r() {
    let dir = tempfile::tempdir().unwrap();
    let key = {
        let cluster = persistent(dir.path()).open().await.unwrap();
        KmsClient::new(cluster)
            .generate_key(GenerateKey::new(Algorithm::Gg18))
            .await
            .unwrap()
    };
    let mut rs = Vec::new();
    for hash in [[1u8; 32], [2u8; 32]] {
        // Each run reopens the cluster from disk, as after a restart.
        let cluster = persistent(dir.path()).open().await.unwrap();
        let sig = KmsClient::new(cluster).sign(&key.key_id, &hash).await.unwrap();
        rs.push(sig.signature[..32].to_vec());
    }
    assert_ne!(
        rs[0], rs[1],
        "two signatures after two restarts share r: the nonce was replayed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_h2_seed_with_persistent_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for builder in [
        persistent(dir.path()).seed([9; 32]),
        InProcessCluster::builder()
            .seed([9; 32])
            .persistent(dir.path(), Zeroizing::new("pw".into())),
    ] {
        match builder.open().await {
            Ok(_) => panic!("a seeded cluster was opened on persistent storage"),
            Err(KmsError::InvalidConfiguration(why)) => {
                assert!(why.contains("seed") && why.contains("persistent"), "{why}")
            }
            Err(other) => panic!("expected InvalidConfiguration, got {other}"),
        }
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing was written"
    );
}

// ---------------------------------------------------------------------------------------
// A harness of three nodes, one of which may cheat.
// ---------------------------------------------------------------------------------------

/// How the cheating node misbehaves.
#[derive(Clone, Copy)]
enum Cheat {
    /// Answer every delivery of a signing with an accusation of its peer, with no
    /// evidence (the old response shape).
    BareAccusation,
    /// Accuse its peer, handing the peer's genuine messages as "evidence".
    AccuseWithGenuineMessages(kms_core::evidence::FaultKind),
    /// Rewrite its own signing broadcasts of a round (and re-sign them with its own
    /// identity key, as a compromised node can).
    Rewrite { round: u16, edit: fn(&mut Vec<u8>) },
}

struct CheatingNode {
    cheat: Cheat,
    inner: TssNode,
    identity: NodeIdentity,
    directory: PeerDirectory,
    parties: Mutex<SessionParties>,
    /// Messages received in the current signing session.
    received: Mutex<Vec<SealedMessage>>,
    accusations: Mutex<usize>,
}

impl CheatingNode {
    fn peer_party(&self) -> Option<PartyIndex> {
        let me = self.inner.node_id().clone();
        self.parties
            .lock()
            .unwrap()
            .iter()
            .find(|(_, n)| **n != me)
            .map(|(p, _)| *p)
    }
}

#[async_trait]
impl NodeService for CheatingNode {
    fn node_id(&self) -> &NodeId {
        self.inner.node_id()
    }

    async fn handle(&self, request: NodeRequest) -> NodeResponse {
        if let NodeRequest::StartSign { parties, .. } = &request {
            *self.parties.lock().unwrap() = parties.iter().cloned().collect();
            self.received.lock().unwrap().clear();
        }
        let signing = !self.parties.lock().unwrap().is_empty();
        if let NodeRequest::Deliver { messages, .. } = &request {
            self.received.lock().unwrap().extend(messages.iter().cloned());
            if signing {
                match self.cheat {
                    Cheat::BareAccusation => {
                        *self.accusations.lock().unwrap() += 1;
                        return NodeResponse::Error {
                            culprit: self.peer_party(),
                            code: kms_core::error::ErrorCode::Protocol,
                            message: "invalid proof".into(),
                        };
                    }
                    Cheat::AccuseWithGenuineMessages(kind) => {
                        *self.accusations.lock().unwrap() += 1;
                        let accused = self.peer_party().unwrap();
                        let evidence = self
                            .received
                            .lock()
                            .unwrap()
                            .iter()
                            .map(|m| kms_core::evidence::Evidence {
                                sealed: m.clone(),
                                opening: None,
                            })
                            .collect();
                        return NodeResponse::Accusation(kms_core::evidence::Accusation {
                            accused,
                            kind,
                            message: "invalid proof".into(),
                            evidence,
                        });
                    }
                    Cheat::Rewrite { .. } => {}
                }
            }
        }
        let mut response = self.inner.handle(request).await;
        if let (Cheat::Rewrite { round, edit }, NodeResponse::Progress { outgoing, .. }) =
            (self.cheat, &mut response)
        {
            let parties = self.parties.lock().unwrap().clone();
            for sealed in outgoing.iter_mut() {
                let env = &sealed.envelope;
                if env.protocol.phase == Phase::Sign && env.round == round && env.recipient == Recipient::All
                {
                    let mut env: Envelope = env.clone();
                    edit(&mut env.payload);
                    let mut rng = ChaCha20Rng::from_seed([3; 32]);
                    *sealed = seal::seal(&self.identity, &self.directory, &parties, env, &mut rng).unwrap();
                }
            }
        }
        response
    }
}

struct Net {
    coordinator: Coordinator,
    audit: Arc<MemoryAuditLog>,
    cheater: Option<Arc<CheatingNode>>,
}

/// Three nodes (GG18 aux from the fixture primes); node `tss{k+1}` cheats if given.
fn net(cheat: Option<(usize, Cheat)>, seed: u8) -> Net {
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let identities: Vec<NodeIdentity> = (1..=3)
        .map(|i| NodeIdentity::generate(tss(i), &mut rng))
        .collect();
    let directory = PeerDirectory::new(identities.iter().map(|i| i.public()));
    let bus = Arc::new(InMemoryBus::new());
    let mut aux = fixture_aux().into_iter();
    let mut cheater = None;
    for (k, identity) in identities.into_iter().enumerate() {
        let secrets = identity.secrets();
        let copy = NodeIdentity::from_secrets(
            identity.node().clone(),
            secrets[..32].try_into().unwrap(),
            secrets[32..].try_into().unwrap(),
        );
        let node = TssNode::new(identity, directory.clone(), Arc::new(MemoryShardStore::new())).with_setup(
            kms_core::Algorithm::Gg18,
            std::sync::Arc::new(aux.next().unwrap()),
        );
        match cheat.filter(|(c, _)| *c == k) {
            Some((_, cheat)) => {
                let c = Arc::new(CheatingNode {
                    cheat,
                    inner: node,
                    identity: copy,
                    directory: directory.clone(),
                    parties: Mutex::new(Default::default()),
                    received: Mutex::new(Vec::new()),
                    accusations: Mutex::new(0),
                });
                cheater = Some(c.clone());
                bus.register(c);
            }
            None => bus.register(Arc::new(node)),
        }
    }
    let audit = Arc::new(MemoryAuditLog::new());
    let coordinator = Coordinator::new(
        bus.nodes(),
        bus,
        Arc::new(MemoryMetadataStore::new()),
        audit.clone(),
    )
    .with_directory(directory)
    .with_rng(ChaCha20Rng::from_seed([seed; 32]));
    Net {
        coordinator,
        audit,
        cheater,
    }
}

async fn key(net: &Net, algorithm: Algorithm, shards: (u16, u16)) -> KeyMetadata {
    net.coordinator
        .generate_key(
            &kms_core::Principal::new("test"),
            KeySpec::for_algorithm(algorithm),
            ShardProperties {
                shard_count: shards.0,
                threshold: shards.1,
            },
        )
        .await
        .unwrap()
}

/// The audit records of failed signing attempts.
async fn failed_attempts(audit: &MemoryAuditLog) -> Vec<String> {
    audit
        .records()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.event.event_type == AuditEventType::KeySign
                && r.event.operation == "sign_attempt"
                && r.event.result == AuditResult::Failure
        })
        .map(|r| r.event.audit_trail)
        .collect()
}

// ---------------------------------------------------------------------------------------
// M1: blame is checked, not believed.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_m1_false_accuser_is_excluded() {
    // tss1 accuses whichever peer it signs with, without evidence. Before: the accused
    // was excluded every time until too few holders were left.
    let net = net(Some((0, Cheat::BareAccusation)), 1);
    let k = key(&net, Algorithm::Eddsa, (3, 2)).await;
    for i in 0..4u8 {
        let sig = net
            .coordinator
            .sign(&kms_core::Principal::new("test"), &k.key_id, &[i; 32])
            .await
            .unwrap();
        assert!(!sig.signers.contains(&tss(1)), "the liar signed");
        assert!(kms_core::schemes::verify_signature(
            Algorithm::Eddsa,
            &hex::decode(&k.public_key).unwrap(),
            &[i; 32],
            &sig.signature
        ));
    }
    let liar = net.cheater.as_ref().unwrap();
    let lies = *liar.accusations.lock().unwrap();
    let attempts = failed_attempts(&net.audit).await;
    assert_eq!(attempts.len(), lies, "each failed attempt is audited");
    for trail in &attempts {
        assert!(trail.contains("tss1") && trail.contains("unproven"), "{trail}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_m1_false_accuser_with_genuine_messages_is_routed_around() {
    use kms_core::evidence::FaultKind;
    // The liar hands the honest peer's real, signed messages as evidence. Claiming they
    // do not decode is refuted by the coordinator's own decoding; claiming a check that
    // needs the liar's state cannot be refuted, so the pair is never used together
    // again, and the honest pair signs.
    for kind in [FaultKind::Malformed, FaultKind::Check] {
        let net = net(Some((0, Cheat::AccuseWithGenuineMessages(kind))), 2);
        let k = key(&net, Algorithm::Eddsa, (3, 2)).await;
        for i in 0..3u8 {
            let sig = net
                .coordinator
                .sign(&kms_core::Principal::new("test"), &k.key_id, &[i; 32])
                .await
                .unwrap();
            assert!(!sig.signers.contains(&tss(1)), "{kind:?}: the liar signed");
        }
        for trail in failed_attempts(&net.audit).await {
            let expected = match kind {
                FaultKind::Malformed => "refuted",
                _ => "disputed",
            };
            assert!(trail.contains(expected), "{kind:?}: {trail}");
            assert!(!trail.contains("verified"), "{kind:?}: {trail}");
        }
    }
}

/// Append a byte: the payload no longer decodes (trailing bytes), which anyone can
/// check from the signed message alone.
fn trailing_byte(payload: &mut Vec<u8>) {
    payload.push(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_m1_true_accusation_excludes_cheater() {
    // tss1 signs a round-1 broadcast that does not decode. Its peer's accusation comes
    // with that signed message; the coordinator checks the signature and decodes it
    // itself before it excludes tss1.
    let cheat = Cheat::Rewrite {
        round: 1,
        edit: trailing_byte,
    };
    let net = net(Some((0, cheat)), 1);
    let k = key(&net, Algorithm::Eddsa, (3, 2)).await;
    let mut i = 0u8;
    while failed_attempts(&net.audit).await.is_empty() {
        assert!(i < 16, "the cheater was never chosen");
        let sig = net
            .coordinator
            .sign(&kms_core::Principal::new("test"), &k.key_id, &[i; 32])
            .await
            .unwrap();
        assert!(!sig.signers.contains(&tss(1)) || failed_attempts(&net.audit).await.is_empty());
        i += 1;
    }
    for trail in failed_attempts(&net.audit).await {
        assert!(trail.contains("verified") && trail.contains("tss1"), "{trail}");
    }
    // Where no honest quorum remains, the proven cheater is the one named.
    let k3 = key(&net, Algorithm::Eddsa, (3, 3)).await;
    match net
        .coordinator
        .sign(&kms_core::Principal::new("test"), &k3.key_id, b"m")
        .await
        .unwrap_err()
    {
        KmsError::Protocol { culprit, .. } => assert_eq!(culprit, Some(tss(1))),
        other => panic!("expected a protocol error naming tss1, got {other}"),
    }
}

// ---------------------------------------------------------------------------------------
// M2: an abort without a culprit does not block a key.
// ---------------------------------------------------------------------------------------

/// Flip the last byte of GG18's round-4 broadcast: delta_i itself.
#[allow(clippy::ptr_arg)] // one signature for every edit, some of which grow the payload
fn flip_last(payload: &mut Vec<u8>) {
    let last = payload.len() - 1;
    payload[last] ^= 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_m2_round4_cheater_cannot_block_signing() {
    let cheat = Cheat::Rewrite {
        round: 4,
        edit: flip_last,
    };
    let net = net(Some((0, cheat)), 1);
    let k = key(&net, Algorithm::Gg18, (3, 2)).await;
    let pk = hex::decode(&k.public_key).unwrap();
    for i in 0..2u8 {
        let sig = net
            .coordinator
            .sign(&kms_core::Principal::new("test"), &k.key_id, &[i; 32])
            .await
            .unwrap();
        assert!(!sig.signers.contains(&tss(1)), "the cheater signed");
        assert!(kms_core::schemes::verify_signature(
            Algorithm::Gg18,
            &pk,
            &[i; 32],
            &sig.signature
        ));
    }
}

/// A relay in front of the bus that makes `tss1` answer every signing delivery with
/// an abort naming nobody, as GG18's phase 5D does.
struct UnattributableAborts {
    bus: Arc<InMemoryBus>,
    signing: Mutex<bool>,
}

#[async_trait]
impl NodeTransport for UnattributableAborts {
    async fn call(&self, node: &NodeId, request: NodeRequest) -> Result<NodeResponse, TransportError> {
        if matches!(request, NodeRequest::StartSign { .. }) {
            *self.signing.lock().unwrap() = true;
        }
        let deliver = matches!(request, NodeRequest::Deliver { .. });
        let response = self.bus.call(node, request).await?;
        if deliver && *self.signing.lock().unwrap() && node == &tss(1) {
            return Ok(NodeResponse::Error {
                culprit: None,
                code: kms_core::error::ErrorCode::Protocol,
                message: "aborted, culprit not identifiable: phase 5D check".into(),
            });
        }
        Ok(response)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_m2_unattributable_abort_retries_other_subsets() {
    let cluster = InProcessCluster::builder()
        .nodes(3)
        .wrap_transport(|bus| {
            Arc::new(UnattributableAborts {
                bus,
                signing: Mutex::new(false),
            })
        })
        .build();
    let client = KmsClient::new(cluster.clone());
    let k = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    for i in 0..4u8 {
        let sig = client.sign(&k.key_id, &[i; 32]).await.unwrap();
        assert!(!sig.signers.contains(&tss(1)));
    }
}

// ---------------------------------------------------------------------------------------
// Storage M2: replays are the relay's fault.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Replay {
    /// Relay faithfully, remembering every message.
    Record,
    /// Deliver the first message of the next delivery twice.
    Duplicate,
    /// Add a message recorded in an earlier session to the next delivery.
    OtherSession,
}

struct ReplayingRelay {
    bus: Arc<InMemoryBus>,
    state: Arc<Mutex<(Replay, Vec<SealedMessage>)>>,
}

#[async_trait]
impl NodeTransport for ReplayingRelay {
    async fn call(&self, node: &NodeId, mut request: NodeRequest) -> Result<NodeResponse, TransportError> {
        if let NodeRequest::Deliver { messages, .. } = &mut request {
            let mut state = self.state.lock().unwrap();
            match state.0 {
                Replay::Record => state.1.extend(messages.iter().cloned()),
                Replay::Duplicate => {
                    messages.push(messages[0].clone());
                    state.0 = Replay::Record;
                }
                Replay::OtherSession => {
                    let old = state
                        .1
                        .iter()
                        .find(|m| &m.from != node && m.envelope.recipient == Recipient::All)
                        .cloned()
                        .expect("a recorded broadcast of a peer");
                    messages.insert(0, old);
                    state.0 = Replay::Record;
                }
            }
        }
        self.bus.call(node, request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_storage_m2_replay_cannot_frame_sender() {
    let state = Arc::new(Mutex::new((Replay::Record, Vec::new())));
    let relay_state = state.clone();
    let cluster = InProcessCluster::builder()
        .nodes(2)
        .wrap_transport(move |bus| {
            Arc::new(ReplayingRelay {
                bus,
                state: relay_state,
            })
        })
        .build();
    let client = KmsClient::new(cluster.clone());
    // A (2,2) key: excluding either holder would make signing impossible.
    let k = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa).with_shards(2, 2))
        .await
        .unwrap();
    client.sign(&k.key_id, b"recorded").await.unwrap();
    for replay in [Replay::Duplicate, Replay::OtherSession] {
        state.lock().unwrap().0 = replay;
        let msg = format!("{replay:?}");
        let sig = client
            .sign(&k.key_id, msg.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{replay:?}: the replay was blamed on a node: {e}"));
        assert_eq!(sig.signers.len(), 2);
        assert_eq!(state.lock().unwrap().0, Replay::Record, "{replay:?} happened");
    }
}
