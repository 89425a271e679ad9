//! A holder killed with SIGKILL in the middle of a signing, on four real `kms-node`
//! processes: the coordinator fails over to the other holders and the signing completes;
//! restarted with its password, the node rejoins with its shards intact.
//!
//! The kill is placed exactly: a layer between the coordinator and the gRPC transport
//! lets the victim start the signing session (it answers `StartSign` with its first
//! round), then kills it before the next round is delivered to it. So the signing is
//! genuinely half-way when the node dies, on every run.

mod common;

use async_trait::async_trait;
use common::{holders, message_for, verify, Devnet};
use kms_client::{GenerateKey, KmsClient};
use kms_core::ports::NodeTransport;
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::{Algorithm, NodeId, TransportError};
use kms_protocols::SessionId;
use kms_transport::grpc::GrpcNodeTransport;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Who to kill, and who to put back in rotation once it is dead.
struct Arm {
    victim: NodeId,
    pid: u32,
    reinstate: NodeId,
}

#[derive(Default)]
struct KillState {
    armed: Option<Arm>,
    /// Signing sessions the victim has started.
    started: BTreeSet<SessionId>,
    /// Set once the victim has been killed half-way through a signing.
    killed_in: Option<SessionId>,
}

struct KillMidSigning {
    inner: Arc<GrpcNodeTransport>,
    state: Arc<Mutex<KillState>>,
}

fn kill9_and_wait(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {pid}");
    // Dead (a zombie until the test reaps it) within 5 s; its sockets are closed then.
    for _ in 0..500 {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state.is_empty()
            || state
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("process {pid} still alive 5 s after SIGKILL");
}

#[async_trait]
impl NodeTransport for KillMidSigning {
    async fn call(&self, node: &NodeId, request: NodeRequest) -> Result<NodeResponse, TransportError> {
        let session_to_cut = {
            let mut state = self.state.lock().unwrap();
            let is_victim = state.armed.as_ref().is_some_and(|a| &a.victim == node);
            match &request {
                NodeRequest::StartSign { session, .. } if is_victim => {
                    state.started.insert(*session);
                    None
                }
                NodeRequest::Deliver { session, .. } if is_victim && state.started.contains(session) => {
                    state.armed.take().map(|arm| (arm, *session))
                }
                _ => None,
            }
        };
        if let Some((arm, session)) = session_to_cut {
            tokio::task::spawn_blocking(move || kill9_and_wait(arm.pid))
                .await
                .unwrap();
            self.inner.set_out_of_rotation(&arm.reinstate, false);
            self.state.lock().unwrap().killed_in = Some(session);
        }
        self.inner.call(node, request).await
    }
}

/// Sign until the transport's backoff after an outage lets the node in again (bounded).
async fn sign_retrying(client: &KmsClient, key: &kms_core::KeyId, msg: &[u8]) -> kms_core::SignatureOutput {
    for _ in 0..40 {
        match client.sign(key, msg).await {
            Ok(sig) => return sig,
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    panic!("no signature within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_killed_mid_signing_is_failed_over_and_rejoins_with_its_shards() {
    let mut net = Devnet::new(4);
    net.start_all();
    let state = Arc::new(Mutex::new(KillState::default()));
    let layer = state.clone();
    let cluster = net
        .cluster_builder()
        .wrap_transport(move |inner| Arc::new(KillMidSigning { inner, state: layer }))
        .open()
        .await
        .unwrap();
    let client = KmsClient::new(cluster.clone());
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls, Algorithm::Gg18] {
        let key = client.generate_key(GenerateKey::new(algorithm)).await.unwrap();
        let h = holders(&key);
        let (victim, survivor, spare) = (h[0].clone(), h[1].clone(), h[2].clone());
        // The first attempt must be {victim, survivor}: the spare waits out of rotation
        // and comes back the moment the victim dies.
        cluster.transport().set_out_of_rotation(&spare, true);
        {
            let mut s = state.lock().unwrap();
            s.killed_in = None;
            s.armed = Some(Arm {
                victim: victim.clone(),
                pid: net.pid(&victim),
                reinstate: spare.clone(),
            });
        }
        let msg = message_for(algorithm);
        let sig = tokio::time::timeout(Duration::from_secs(120), client.sign(&key.key_id, &msg))
            .await
            .expect("the signing finishes in time")
            .unwrap_or_else(|e| panic!("{algorithm:?}: signing after a kill mid-way: {e}"));
        assert!(
            state.lock().unwrap().killed_in.is_some(),
            "{algorithm:?}: the victim died half-way through a signing"
        );
        let signers: BTreeSet<_> = sig.signers.iter().cloned().collect();
        assert_eq!(
            signers,
            BTreeSet::from([survivor.clone(), spare.clone()]),
            "{algorithm:?}: the coordinator failed over to the other holders"
        );
        verify(&key, &msg, &sig);
        let status = net.wait_exit(&victim);
        assert!(!status.success(), "{victim} was killed: {status}");

        // Restarted with its password it rejoins; with the survivor out of rotation the
        // signing must use it, so its shard of this key survived the kill.
        net.start(&victim);
        cluster.transport().set_out_of_rotation(&survivor, true);
        let sig = sign_retrying(&client, &key.key_id, &msg).await;
        cluster.transport().set_out_of_rotation(&survivor, false);
        assert!(
            sig.signers.contains(&victim),
            "{algorithm:?}: the restarted node signs"
        );
        verify(&key, &msg, &sig);
        assert_eq!(
            client.get_key(&key.key_id).await.unwrap().status,
            kms_core::KeyStatus::Active
        );
    }
}
