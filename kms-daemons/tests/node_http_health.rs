//! The spec's plain HTTP `GET /health` on the node's own mutual-TLS port, beside gRPC;
//! and an expired gateway certificate refused by a live `kms-node` at the gRPC level.

mod common;

use common::Devnet;
use kms_core::ports::NodeTransport;
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_core::TransportError;
use kms_daemons::pki::{self, PkiDir, Validity};
use kms_transport::grpc::{
    GrpcNodeTransport, GrpcTransportConfig, NodeEndpoint, NodeServer, NodeServerConfig,
};
use kms_transport::tls::{gateway_client_config, node_server_config, CertFiles, Role};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// `GET /health` over HTTP/1.1 with client certificate `files`; the status code and body.
async fn get_health(addr: SocketAddr, files: &CertFiles, node: &str) -> Result<(u16, String), String> {
    let mut cfg = gateway_client_config(files).map_err(|e| e.to_string())?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = TlsConnector::from(Arc::new(cfg));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(format!("{node}.kms.internal")).unwrap();
    let mut tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8(raw).map_err(|e| e.to_string())?;
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {text:?}"))?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

async fn health(addr: SocketAddr, files: &CertFiles, node: &str) -> Result<(u16, String), String> {
    tokio::time::timeout(Duration::from_secs(10), get_health(addr, files, node))
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_node_answers_http_health_on_its_grpc_port_and_refuses_an_expired_certificate() {
    let mut net = Devnet::new(1);
    net.start_all();
    let tss1 = net.nodes[0].clone();
    let addr = net.addrs[&tss1];
    let gateway = net.gateway_files();
    let (status, body) = health(addr, &gateway, tss1.as_str()).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json, serde_json::json!({"status": "SERVING"}));
    // Plain HTTP needs the same mutual TLS: an HTTP client without a gateway
    // certificate of the CA gets no answer.
    let foreign = pki::init(&net.tmp.path().join("foreign"), &net.nodes, "gateway").unwrap();
    let mut foreign_files = foreign.files(&Role::Gateway("gateway".into()));
    foreign_files.ca = gateway.ca.clone();
    assert!(health(addr, &foreign_files, tss1.as_str()).await.is_err());

    // gRPC on the same port still works, and an expired gateway certificate of the right
    // CA is refused before any call is handled.
    let ep = NodeEndpoint {
        node: tss1.clone(),
        addr,
    };
    let ping = |files: CertFiles| {
        let ep = ep.clone();
        async move {
            let cfg = GrpcTransportConfig {
                call_timeout: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(5),
                ..GrpcTransportConfig::default()
            };
            let t =
                GrpcNodeTransport::new([ep.clone()], gateway_client_config(&files).unwrap(), cfg).unwrap();
            t.call(&ep.node, NodeRequest::Ping).await
        }
    };
    assert!(matches!(
        ping(gateway.clone()).await,
        Ok(NodeResponse::Pong { .. })
    ));
    let expired_dir = net.tmp.path().join("expired-pki");
    // The same CA in a second directory (0700, as the PKI wants it), so the gateway's
    // good certificate stays as it is.
    std::fs::create_dir_all(&expired_dir).unwrap();
    std::fs::set_permissions(&expired_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    for f in ["ca.cert", "ca.key"] {
        let to = expired_dir.join(f);
        std::fs::copy(net.pki.ca_cert().parent().unwrap().join(f), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let now = time::OffsetDateTime::now_utc();
    pki::issue(
        &expired_dir,
        &Role::Gateway("gateway".into()),
        Validity {
            not_before: now - time::Duration::days(30),
            not_after: now - time::Duration::days(1),
        },
    )
    .unwrap();
    let expired = PkiDir::new(&expired_dir).files(&Role::Gateway("gateway".into()));
    let r = ping(expired.clone()).await;
    assert!(
        matches!(
            r,
            Err(TransportError::Unreachable(..) | TransportError::Timeout(_))
        ),
        "an expired certificate: {r:?}"
    );
    assert!(health(addr, &expired, tss1.as_str()).await.is_err());
    let log = net.log(&tss1);
    assert!(
        log.lines()
            .any(|l| l.contains("refused a TLS handshake") && l.to_lowercase().contains("expired")),
        "the refusal is logged with its reason: {log}"
    );
    assert!(
        matches!(ping(gateway).await, Ok(NodeResponse::Pong { .. })),
        "still serving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_health_is_503_not_serving_while_the_node_drains() {
    // A real node (its encrypted storage, identity and peers) served in this process, so
    // the test can hold it in the draining state.
    let net = Devnet::new(1);
    let tss1 = net.nodes[0].clone();
    let home = kms_daemons::node::NodeHome::new(tss1.clone(), net.home(&tss1));
    let password = kms_daemons::node::read_password(&tss1, Some(&net.password_file)).unwrap();
    let storage = kms_daemons::node::open_storage(&home, password, 10_000)
        .await
        .unwrap();
    let opened = kms_daemons::node::build_node(&home, storage, None).unwrap();
    let tls = node_server_config(&kms_daemons::node::tls_files(&home)).unwrap();
    let server = NodeServer::new(opened.node.clone(), tls, NodeServerConfig::default());
    let handle = server.handle();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    let gateway = net.gateway_files();
    let mut first = Err(String::new());
    for _ in 0..50 {
        first = health(addr, &gateway, tss1.as_str()).await;
        if matches!(first, Ok((200, _))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(first.unwrap().0, 200);
    handle.drain().await;
    let (status, body) = health(addr, &gateway, tss1.as_str()).await.unwrap();
    assert_eq!(status, 503);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json, serde_json::json!({"status": "NOT_SERVING"}));
    handle.set_serving().await;
    assert_eq!(health(addr, &gateway, tss1.as_str()).await.unwrap().0, 200);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}
