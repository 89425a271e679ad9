//! The node's clock is a port (like the coordinator's), and its failed answers carry a
//! stable error code; errors cross layers typed.

use kms_core::error::ErrorCode;
use kms_core::identity::{NodeIdentity, PeerDirectory};
use kms_core::node::TssNode;
use kms_core::ports::{Clock, NodeService};
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::{Algorithm, KeyId, KmsError, NodeId};
use kms_protocols::{PartyIndex, SessionId, Threshold};
use kms_storage::memory::MemoryShardStore;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A clock the test moves by hand.
#[derive(Default)]
struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn keygen(session: SessionId, key: &str) -> NodeRequest {
    let (p1, p2) = (PartyIndex::new(1).unwrap(), PartyIndex::new(2).unwrap());
    NodeRequest::StartKeygen {
        key_id: KeyId::parse(key).unwrap(),
        session,
        algorithm: Algorithm::Eddsa,
        threshold: Threshold::new(2, 2).unwrap(),
        party: p1,
        parties: vec![
            (p1, NodeId::new("tss1").unwrap()),
            (p2, NodeId::new("tss2").unwrap()),
        ],
    }
}

fn is_open(r: &NodeResponse) -> bool {
    matches!(r, NodeResponse::Progress { outcome: None, .. })
}

#[tokio::test]
async fn sessions_expire_by_the_nodes_clock_and_errors_carry_codes() {
    let mut rng = rand_core::OsRng;
    let me = NodeIdentity::generate(NodeId::new("tss1").unwrap(), &mut rng);
    let peer = NodeIdentity::generate(NodeId::new("tss2").unwrap(), &mut rng);
    let directory = PeerDirectory::new([me.public(), peer.public()]);
    let clock = Arc::new(ManualClock::default());
    let node = TssNode::new(me, directory, Arc::new(MemoryShardStore::new())).with_clock(clock.clone());

    let (first, second, third) = (SessionId([1; 32]), SessionId([2; 32]), SessionId([3; 32]));
    assert!(is_open(&node.handle(keygen(first, "k1")).await));
    let deliver = |session| NodeRequest::Deliver {
        session,
        messages: Vec::new(),
    };
    // Nine minutes later the first session is still open.
    clock.0.store(9 * 60 * 1000, Ordering::SeqCst);
    assert!(is_open(&node.handle(keygen(second, "k2")).await));
    assert!(is_open(&node.handle(deliver(first)).await));
    // Past the ten-minute TTL by the node's clock, the next opening drops it.
    clock.0.store(10 * 60 * 1000 + 1, Ordering::SeqCst);
    assert!(is_open(&node.handle(keygen(third, "k3")).await));
    match node.handle(deliver(first)).await {
        NodeResponse::Error {
            culprit,
            code,
            message,
        } => {
            assert_eq!((culprit, code), (None, ErrorCode::InvalidRequest), "{message}");
            assert!(message.contains("unknown session"), "{message}");
        }
        other => panic!("an expired session answered {other:?}"),
    }
    assert!(
        is_open(&node.handle(deliver(second)).await),
        "a younger session stays"
    );

    // An algorithm this process has no scheme for is refused with its own code.
    let mut unknown = keygen(SessionId([4; 32]), "k4");
    if let NodeRequest::StartKeygen { algorithm, .. } = &mut unknown {
        *algorithm = Algorithm::parse("NOT_REGISTERED").unwrap();
    }
    match node.handle(unknown).await {
        NodeResponse::Error { code, .. } => assert_eq!(code, ErrorCode::Unsupported),
        other => panic!("an unknown algorithm answered {other:?}"),
    }
}

#[test]
fn errors_serialize_for_the_wire() {
    let e = KmsError::from(kms_protocols::ProtocolError::culprit(
        PartyIndex::new(2).unwrap(),
        kms_protocols::Fault::InvalidPartialSignature,
    ));
    let KmsError::Protocol {
        fault: Some(fault), ..
    } = &e
    else {
        panic!("the structured fault is kept: {e:?}");
    };
    assert_eq!(fault.party, PartyIndex::new(2));
    let back: KmsError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(back.to_string(), e.to_string());
    assert_eq!(back.code(), ErrorCode::Protocol);
    match back {
        KmsError::Protocol { fault: Some(f), .. } => assert_eq!(f, *fault),
        other => panic!("{other:?}"),
    }
    // A code a newer peer added reads as Unknown; known codes keep their names.
    assert_eq!(
        serde_json::from_str::<ErrorCode>("\"SOMETHING_NEW\"").unwrap(),
        ErrorCode::Unknown
    );
    assert_eq!(
        serde_json::to_string(&ErrorCode::KeyNotFound).unwrap(),
        "\"KEY_NOT_FOUND\""
    );
    // Algorithm names are checked when read.
    assert!(serde_json::from_str::<Algorithm>("\"../x\"").is_err());
    assert_eq!(
        serde_json::from_str::<Algorithm>("\"GG18\"").unwrap(),
        Algorithm::Gg18
    );
}
