//! A live `kms-node` process at the gRPC level: handshake refusals (no client
//! certificate, a foreign CA, a node's certificate as client, the wrong server name),
//! health (`grpc.health.v1` SERVING, NOT_SERVING while it drains), and bad input on the
//! wire (wrong version, truncated, oversized, unknown session, 10 000 random and
//! mutated frames): typed errors, no panic, and the node keeps serving.

mod common;

use common::Devnet;
use kms_core::ports::NodeTransport;
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::{NodeId, TransportError};
use kms_daemons::pki;
use kms_transport::grpc::proto::node_client::NodeClient;
use kms_transport::grpc::proto::{CallRequest, ErrorCode};
use kms_transport::grpc::{node_channel, wire, GrpcNodeTransport, GrpcTransportConfig, NodeEndpoint};
use kms_transport::tls::{gateway_client_config, load_roots, Role};
use rand_core::{OsRng, RngCore};
use std::sync::Arc;
use std::time::Duration;

fn quick() -> GrpcTransportConfig {
    GrpcTransportConfig {
        call_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(5),
        ..GrpcTransportConfig::default()
    }
}

async fn ping(ep: NodeEndpoint, tls: rustls::ClientConfig) -> Result<NodeResponse, TransportError> {
    let node = ep.node.clone();
    let t = GrpcNodeTransport::new([ep], tls, quick()).unwrap();
    t.call(&node, NodeRequest::Ping).await
}

fn alpn(mut cfg: rustls::ClientConfig) -> rustls::ClientConfig {
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_without_a_gateway_certificate_of_the_ca_are_refused_and_logged() {
    let mut net = Devnet::new(2);
    net.start_all();
    let tss1 = net.nodes[0].clone();
    let ep = NodeEndpoint {
        node: tss1.clone(),
        addr: net.addrs[&tss1],
    };
    let gateway = net.gateway_files();
    // Control: the gateway certificate is accepted.
    let ok = ping(ep.clone(), gateway_client_config(&gateway).unwrap()).await;
    assert!(
        matches!(ok, Ok(NodeResponse::Pong { ref node }) if *node == tss1),
        "{ok:?}"
    );

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let no_cert = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(load_roots(&gateway.ca).unwrap())
        .with_no_client_auth();
    let foreign_dir = net.tmp.path().join("foreign");
    let foreign = pki::init(&foreign_dir, &net.nodes, "gateway").unwrap();
    let mut foreign_files = foreign.files(&Role::Gateway("gateway".into()));
    foreign_files.ca = gateway.ca.clone();
    let node_as_client = net.pki.files(&Role::Node(net.nodes[1].clone()));
    for (what, cfg) in [
        ("no client certificate", alpn(no_cert)),
        (
            "a gateway certificate of another CA",
            gateway_client_config(&foreign_files).unwrap(),
        ),
        (
            "a node's certificate",
            gateway_client_config(&node_as_client).unwrap(),
        ),
    ] {
        // TLS 1.3 sends the client certificate after the server's Finished, so the
        // client may see its connection fail (unreachable) or never answered (timeout);
        // either way no request reaches the node.
        let r = ping(ep.clone(), cfg).await;
        assert!(
            matches!(
                r,
                Err(TransportError::Unreachable(..) | TransportError::Timeout(_))
            ),
            "{what}: {r:?}"
        );
    }
    // The gateway refuses a node that presents another node's certificate.
    let wrong_name = NodeEndpoint {
        node: net.nodes[1].clone(),
        addr: net.addrs[&tss1],
    };
    let r = ping(wrong_name, gateway_client_config(&gateway).unwrap()).await;
    assert!(
        matches!(r, Err(TransportError::Unreachable(..))),
        "wrong server name: {r:?}"
    );
    // Still serving.
    assert!(ping(ep, gateway_client_config(&gateway).unwrap()).await.is_ok());
    let log = net.log(&tss1);
    // One logged refusal per attempt, with its reason.
    for reason in [
        "peer sent no certificates",
        "BadSignature",
        "does not allow extended key usage for client authentication",
        "received fatal alert: BadCertificate",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("refused a TLS handshake") && l.contains(reason)),
            "{reason}: {log}"
        );
    }
}

fn call(node: &NodeId, payload: Vec<u8>) -> CallRequest {
    let mut request_id = vec![0u8; 16];
    OsRng.fill_bytes(&mut request_id);
    CallRequest {
        version: wire::ENVELOPE_VERSION,
        request_id,
        node_id: node.to_string(),
        deadline_ms: 10_000,
        payload,
    }
}

fn code(r: &kms_transport::grpc::proto::CallResponse) -> ErrorCode {
    ErrorCode::try_from(r.error).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_typed_errors_and_the_node_keeps_serving() {
    let mut net = Devnet::new(1);
    net.start_all();
    let tss1 = net.nodes[0].clone();
    let ep = NodeEndpoint {
        node: tss1.clone(),
        addr: net.addrs[&tss1],
    };
    let tls = Arc::new(gateway_client_config(&net.gateway_files()).unwrap());
    let channel = node_channel(&ep, tls, Duration::from_secs(5)).unwrap();
    let mut client = NodeClient::new(channel)
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    let ping = wire::encode_request(&NodeRequest::Ping);

    let ok = client.call(call(&tss1, ping.clone())).await.unwrap().into_inner();
    assert_eq!(code(&ok), ErrorCode::None);
    assert!(matches!(
        wire::decode_response(&ok.payload, 1 << 20).unwrap(),
        NodeResponse::Pong { .. }
    ));

    let mut v2 = call(&tss1, ping.clone());
    v2.version = 2;
    let r = client.call(v2).await.unwrap().into_inner();
    assert_eq!(code(&r), ErrorCode::UnsupportedVersion);

    let r = client
        .call(call(&tss1, ping[..ping.len() - 1].to_vec()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code(&r), ErrorCode::Malformed, "truncated");

    let mut record_v2 = ping.clone();
    record_v2[0] = 2;
    let r = client.call(call(&tss1, record_v2)).await.unwrap().into_inner();
    assert_eq!(code(&r), ErrorCode::Malformed, "record of another codec version");

    let mut bad_id = call(&tss1, ping.clone());
    bad_id.request_id.truncate(3);
    let r = client.call(bad_id).await.unwrap().into_inner();
    assert_eq!(code(&r), ErrorCode::BadRequestId);

    let r = client
        .call(call(&NodeId::new("tss9").unwrap(), ping.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code(&r), ErrorCode::WrongNode);

    let mut no_deadline = call(&tss1, ping.clone());
    no_deadline.deadline_ms = 0;
    let r = client.call(no_deadline).await.unwrap().into_inner();
    assert_eq!(code(&r), ErrorCode::Malformed);

    // Over the 8 MiB limit: refused by gRPC before it is decoded.
    let huge = client.call(call(&tss1, vec![0u8; 9 << 20])).await;
    let status = huge.unwrap_err();
    assert!(
        matches!(
            status.code(),
            tonic::Code::ResourceExhausted | tonic::Code::OutOfRange
        ),
        "{status:?}"
    );

    // A well-formed message for a session the node does not know.
    let mut sid = [0u8; 32];
    OsRng.fill_bytes(&mut sid);
    let deliver = NodeRequest::Deliver {
        session: kms_core::ports::SessionId(sid),
        messages: Vec::new(),
    };
    let r = client
        .call(call(&tss1, wire::encode_request(&deliver)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code(&r), ErrorCode::None);
    assert!(matches!(
        wire::decode_response(&r.payload, 1 << 20).unwrap(),
        NodeResponse::Error { .. }
    ));

    // Random and mutated frames.
    let samples = [ping.clone(), wire::encode_request(&deliver)];
    let mut rng = OsRng;
    for i in 0..10_000u32 {
        let payload = if i.is_multiple_of(3) {
            let mut b = vec![0u8; (rng.next_u32() % 256) as usize];
            rng.fill_bytes(&mut b);
            b
        } else {
            let mut b = samples[(i % 2) as usize].clone();
            for _ in 0..1 + rng.next_u32() % 4 {
                let at = (rng.next_u32() as usize) % b.len();
                b[at] ^= 1 << (rng.next_u32() % 8);
            }
            if rng.next_u32().is_multiple_of(4) {
                b.truncate((rng.next_u32() as usize) % b.len());
            }
            b
        };
        let r = client.call(call(&tss1, payload)).await.unwrap().into_inner();
        assert!(
            matches!(code(&r), ErrorCode::None | ErrorCode::Malformed),
            "frame {i}: {:?}",
            code(&r)
        );
    }
    let ok = client.call(call(&tss1, ping)).await.unwrap().into_inner();
    assert_eq!(code(&ok), ErrorCode::None, "the node still serves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_serving_then_not_serving_while_the_node_drains() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let mut net = Devnet::new(1);
    net.start_all();
    let tss1 = net.nodes[0].clone();
    let ep = NodeEndpoint {
        node: tss1.clone(),
        addr: net.addrs[&tss1],
    };
    let tls = Arc::new(gateway_client_config(&net.gateway_files()).unwrap());
    let mut health = HealthClient::new(node_channel(&ep, tls, Duration::from_secs(5)).unwrap());
    let service = kms_transport::grpc::SERVICE_NAME.to_string();
    let status = health
        .check(HealthCheckRequest {
            service: service.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    let mut watch = health
        .watch(HealthCheckRequest { service })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    let pid = net.pid(&tss1);
    let term = std::thread::spawn(move || {
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
    });
    let next = tokio::time::timeout(Duration::from_secs(20), watch.message())
        .await
        .expect("an update before the drain ends")
        .unwrap()
        .unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    assert!(term.join().unwrap().success());
    let status = net.wait_exit(&tss1);
    assert!(status.success(), "graceful exit: {status}");
}
