//! A misbehaving node and a tampering relay, against the real node runtime and
//! coordinator: the node is named and routed around; the relay's tampering aborts the
//! run, blames no node, and leaves no key behind.

use async_trait::async_trait;
use kms_core::coordinator::Coordinator;
use kms_core::identity::{NodeIdentity, PeerDirectory};
use kms_core::node::TssNode;
use kms_core::ports::{MetadataStore, NodeService, NodeTransport, ShardStore};
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::seal::{self, SessionParties};
use kms_core::Algorithm;
use kms_core::{KeySpec, KmsError, NodeId, ShardProperties, TransportError};
use kms_protocols::{Phase, Recipient, Scheme};
use kms_storage::memory::{MemoryAuditLog, MemoryMetadataStore, MemoryShardStore};
use kms_transport::memory::InMemoryBus;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::sync::{Arc, Mutex};

mod common;
use common::fixture_aux;

/// A node that corrupts the signing broadcast carrying its signature share (round 2 of
/// FROST, round 1 of BLS) and re-signs it with its own identity key, as a compromised
/// node could. `flip` picks the byte to flip from the payload length.
struct CorruptingNode {
    flip: Flip,
    inner: TssNode,
    identity: NodeIdentity,
    directory: PeerDirectory,
    parties: Mutex<SessionParties>,
}

#[async_trait]
impl NodeService for CorruptingNode {
    fn node_id(&self) -> &NodeId {
        self.inner.node_id()
    }

    async fn handle(&self, request: NodeRequest) -> NodeResponse {
        if let NodeRequest::StartSign { parties, .. } = &request {
            *self.parties.lock().unwrap() = parties.iter().cloned().collect();
        }
        let mut response = self.inner.handle(request).await;
        if let NodeResponse::Progress { outgoing, .. } = &mut response {
            let parties = self.parties.lock().unwrap().clone();
            for sealed in outgoing.iter_mut() {
                let env = &sealed.envelope;
                // The round that carries the signer's own contribution: BLS's partial, FROST's
                // z_i, GG18's opening of Gamma_i with its proof of knowledge, DMZ21's s_i.
                let share_round = match env.protocol.scheme {
                    Scheme::Bls => 1,
                    Scheme::Eddsa => 2,
                    Scheme::Gg18 => 5,
                    Scheme::Dkls23 => 3,
                    Scheme::Dmz21 => 9,
                };
                if env.protocol.phase == Phase::Sign
                    && env.round == share_round
                    && env.recipient == Recipient::All
                {
                    let mut env = env.clone();
                    let at = (self.flip)(env.payload.len());
                    env.payload[at] ^= 0x01;
                    let mut rng = ChaCha20Rng::from_seed([3; 32]);
                    *sealed = seal::seal(&self.identity, &self.directory, &parties, env, &mut rng).unwrap();
                }
            }
        }
        response
    }
}

struct Setup {
    coordinator: Coordinator,
    stores: Vec<Arc<MemoryShardStore>>,
    metadata: Arc<MemoryMetadataStore>,
}

/// Picks which payload byte a corrupting node flips, from the payload length.
type Flip = fn(usize) -> usize;

/// Flip a byte of the signature share (just after the length prefix).
fn in_share(_len: usize) -> usize {
    5
}

/// Flip a byte at the end of the payload: in FROST's round 2, the echo of round 1.
fn in_echo(len: usize) -> usize {
    len - 5
}

fn setup(
    transport: impl FnOnce(Arc<InMemoryBus>) -> Arc<dyn NodeTransport>,
    corrupt: Option<(usize, Flip)>,
) -> Setup {
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let identities: Vec<NodeIdentity> = (1..=3)
        .map(|i| NodeIdentity::generate(NodeId::new(format!("tss{i}")).unwrap(), &mut rng))
        .collect();
    let directory = PeerDirectory::new(identities.iter().map(|i| i.public()));
    let bus = Arc::new(InMemoryBus::new());
    let mut aux = fixture_aux().into_iter();
    let mut stores = Vec::new();
    for (k, identity) in identities.into_iter().enumerate() {
        let store = Arc::new(MemoryShardStore::new());
        stores.push(store.clone());
        let secrets = identity.secrets();
        let copy = NodeIdentity::from_secrets(
            identity.node().clone(),
            secrets[..32].try_into().unwrap(),
            secrets[32..].try_into().unwrap(),
        );
        let node = TssNode::new(identity, directory.clone(), store).with_setup(
            kms_core::Algorithm::Gg18,
            std::sync::Arc::new(aux.next().unwrap()),
        );
        if let Some((_, flip)) = corrupt.filter(|(c, _)| *c == k) {
            bus.register(Arc::new(CorruptingNode {
                flip,
                inner: node,
                identity: copy,
                directory: directory.clone(),
                parties: Mutex::new(Default::default()),
            }));
        } else {
            bus.register(Arc::new(node));
        }
    }
    let metadata = Arc::new(MemoryMetadataStore::new());
    let coordinator = Coordinator::new(
        bus.nodes(),
        transport(bus),
        metadata.clone(),
        Arc::new(MemoryAuditLog::new()),
    )
    .with_directory(directory);
    Setup {
        coordinator,
        stores,
        metadata,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupting_node_is_named_and_signing_goes_on_without_it() {
    for algorithm in [
        Algorithm::Eddsa,
        Algorithm::Bls,
        Algorithm::Gg18,
        Algorithm::Dmz21,
    ] {
        let s = setup(|bus| bus, Some((0, in_share)));
        let key = s
            .coordinator
            .generate_key(
                &kms_core::Principal::new("test"),
                KeySpec::for_algorithm(algorithm),
                ShardProperties::default(),
            )
            .await
            .unwrap();
        // tss1 is among the first two holders tried; its corrupt partial is caught, it is
        // blamed, and the other two holders sign.
        let sig = s
            .coordinator
            .sign(&kms_core::Principal::new("test"), &key.key_id, &[7u8; 32])
            .await
            .unwrap();
        let tss1 = NodeId::new("tss1").unwrap();
        assert!(
            !sig.signers.contains(&tss1),
            "{algorithm:?}: the culprit must not be a signer"
        );
        assert_eq!(sig.signers.len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_no_honest_quorum_remains_the_corrupting_node_is_reported() {
    // A (3,3) key: every signing needs tss1, so its corruption (of its share, or of its
    // echo, where it claims another party equivocated) ends the run naming tss1. Both
    // faults need state the coordinator does not hold to be re-checked, so tss1 is
    // named as one side of a dispute (blame is checked, not believed), never acquitted
    // and never replaced by an honest node.
    for flip in [in_share as Flip, in_echo] {
        let s = setup(|bus| bus, Some((0, flip)));
        let key = s
            .coordinator
            .generate_key(
                &kms_core::Principal::new("test"),
                KeySpec::for_algorithm(Algorithm::Eddsa),
                ShardProperties::default(),
            )
            .await
            .unwrap();
        let key3 = s
            .coordinator
            .generate_key(
                &kms_core::Principal::new("test"),
                KeySpec::for_algorithm(Algorithm::Eddsa),
                ShardProperties {
                    shard_count: 3,
                    threshold: 3,
                },
            )
            .await
            .unwrap();
        let err = s
            .coordinator
            .sign(&kms_core::Principal::new("test"), &key3.key_id, b"message")
            .await
            .unwrap_err();
        match err {
            KmsError::Protocol { culprit: Some(c), .. } => assert_eq!(c, NodeId::new("tss1").unwrap()),
            KmsError::Protocol {
                culprit: None, error, ..
            } => {
                assert!(error.contains("disputed"), "{error}");
                assert!(error.contains("tss1"), "{error}");
            }
            other => panic!("expected a protocol error naming tss1, got {other}"),
        }
        s.coordinator
            .sign(
                &kms_core::Principal::new("test"),
                &key.key_id,
                b"the 2-of-3 key still signs",
            )
            .await
            .unwrap();
    }
}

/// A relay that flips one byte of the first relayed message.
struct TamperingRelay {
    bus: Arc<InMemoryBus>,
}

#[async_trait]
impl NodeTransport for TamperingRelay {
    async fn call(&self, node: &NodeId, mut request: NodeRequest) -> Result<NodeResponse, TransportError> {
        if let NodeRequest::Deliver { messages, .. } = &mut request {
            if let Some(m) = messages.first_mut() {
                let last = m.envelope.payload.len() - 1;
                m.envelope.payload[last] ^= 0x80;
            }
        }
        self.bus.call(node, request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampering_relay_aborts_generation_blames_no_node_and_leaves_nothing() {
    let s = setup(|bus| Arc::new(TamperingRelay { bus }), None);
    let err = s
        .coordinator
        .generate_key(
            &kms_core::Principal::new("test"),
            KeySpec::for_algorithm(Algorithm::Eddsa),
            ShardProperties::default(),
        )
        .await
        .unwrap_err();
    match &err {
        KmsError::Protocol {
            culprit: None, error, ..
        } => assert!(error.contains("does not verify"), "{error}"),
        other => panic!("expected an unattributed protocol error, got {other}"),
    }
    assert!(
        s.metadata.list().await.unwrap().is_empty(),
        "no key metadata remains"
    );
    for store in &s.stores {
        assert!(store.list().await.unwrap().is_empty(), "no shard remains");
    }
}
