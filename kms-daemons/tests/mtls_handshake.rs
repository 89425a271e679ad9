//! Handshake refusals of a node's TLS server, over real loopback sockets: only a gateway
//! certificate of the internal CA, valid now, may call a node, and the gateway only accepts
//! the node it asked for.

use kms_core::NodeId;
use kms_daemons::pki::{self, PkiDir, Validity};
use kms_transport::tls::{gateway_client_config, node_server_config, CertFiles, Role};
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn nodes() -> Vec<NodeId> {
    (1..=4).map(|i| NodeId::new(format!("tss{i}")).unwrap()).collect()
}

fn tss(i: u8) -> Role {
    Role::Node(NodeId::new(format!("tss{i}")).unwrap())
}

fn gateway() -> Role {
    Role::Gateway("gateway".into())
}

/// Serves one connection of node `tss1` and reports whether the server side accepted the
/// handshake and read the client's ping.
async fn serve_once(files: CertFiles) -> (std::net::SocketAddr, tokio::task::JoinHandle<Result<(), String>>) {
    let acceptor = TlsAcceptor::from(Arc::new(node_server_config(&files).unwrap()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(b"pong").await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        Ok(())
    });
    (addr, task)
}

/// Dials `addr` asking for `server_name`, sends a ping and waits for the pong.
async fn dial(
    addr: std::net::SocketAddr,
    cfg: rustls::ClientConfig,
    server_name: &str,
) -> Result<(), String> {
    let connector = TlsConnector::from(Arc::new(cfg));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
    tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
    tls.flush().await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    Ok(())
}

struct Fixture {
    _tmp: tempfile::TempDir,
    pki: PkiDir,
    foreign: PkiDir,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki::init(&tmp.path().join("pki"), &nodes(), "gateway").unwrap();
    let foreign = pki::init(&tmp.path().join("other"), &nodes(), "gateway").unwrap();
    Fixture {
        _tmp: tmp,
        pki,
        foreign,
    }
}

async fn attempt(
    fx: &Fixture,
    client: rustls::ClientConfig,
    server_name: &str,
) -> (Result<(), String>, Result<(), String>) {
    let (addr, server) = serve_once(fx.pki.files(&tss(1))).await;
    let client = tokio::time::timeout(Duration::from_secs(10), dial(addr, client, server_name))
        .await
        .unwrap_or_else(|_| Err("client timed out".into()));
    let server = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .map(|j| j.unwrap())
        .unwrap_or_else(|_| Err("server timed out".into()));
    (client, server)
}

fn client_with(fx: &Fixture, ca_of: &PkiDir, cert_of: &PkiDir, role: &Role) -> rustls::ClientConfig {
    let files = CertFiles {
        ca: ca_of.ca_cert(),
        cert: cert_of.cert(role),
        key: cert_of.key(role),
    };
    let _ = fx;
    gateway_client_config(&files).unwrap()
}

#[tokio::test]
async fn gateway_certificate_is_accepted() {
    let fx = fixture();
    let cfg = client_with(&fx, &fx.pki, &fx.pki, &gateway());
    let (client, server) = attempt(&fx, cfg, "tss1.kms.internal").await;
    assert_eq!(client, Ok(()));
    assert_eq!(server, Ok(()));
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let fx = fixture();
    let roots = kms_transport::tls::load_roots(&fx.pki.ca_cert()).unwrap();
    let mut cfg =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let (client, server) = attempt(&fx, cfg, "tss1.kms.internal").await;
    assert!(server.is_err(), "server accepted a client without a certificate");
    assert!(client.is_err());
}

#[tokio::test]
async fn certificate_of_another_ca_is_refused() {
    let fx = fixture();
    // Trusts our CA for the server, but presents the foreign CA's gateway certificate.
    let cfg = client_with(&fx, &fx.pki, &fx.foreign, &gateway());
    let (client, server) = attempt(&fx, cfg, "tss1.kms.internal").await;
    let err = server.expect_err("server accepted a foreign CA's certificate");
    // Both CAs carry the same subject name, so the chain is refused on the CA's signature;
    // with another name it would be an unknown issuer.
    assert!(
        err.contains("BadSignature") || err.contains("UnknownIssuer"),
        "{err}"
    );
    assert!(client.is_err());
}

#[tokio::test]
async fn expired_gateway_certificate_is_refused() {
    let fx = fixture();
    let now = OffsetDateTime::now_utc();
    let expired = Validity {
        not_before: now - time::Duration::days(30),
        not_after: now - time::Duration::days(1),
    };
    pki::issue(fx.pki.ca_cert().parent().unwrap(), &gateway(), expired).unwrap();
    let cfg = client_with(&fx, &fx.pki, &fx.pki, &gateway());
    let (client, server) = attempt(&fx, cfg, "tss1.kms.internal").await;
    let err = server.expect_err("server accepted an expired certificate");
    assert!(err.to_lowercase().contains("expired"), "{err}");
    assert!(client.is_err());
}

#[tokio::test]
async fn node_certificate_as_client_is_refused() {
    let fx = fixture();
    let cfg = client_with(&fx, &fx.pki, &fx.pki, &tss(2));
    let (client, server) = attempt(&fx, cfg, "tss1.kms.internal").await;
    assert!(
        server.is_err(),
        "server accepted a node's certificate as a client"
    );
    assert!(client.is_err());
}

#[tokio::test]
async fn gateway_refuses_a_node_answering_for_another_name() {
    let fx = fixture();
    let cfg = client_with(&fx, &fx.pki, &fx.pki, &gateway());
    // The gateway means to reach tss2; tss1 answers.
    let (client, _server) = attempt(&fx, cfg, "tss2.kms.internal").await;
    let err = client.expect_err("client accepted the wrong node");
    assert!(
        err.contains("NotValidForName") || err.to_lowercase().contains("name"),
        "{err}"
    );
}

#[tokio::test]
async fn rotated_certificate_is_served_without_restart() {
    let fx = fixture();
    let files = fx.pki.files(&tss(1));
    let acceptor = TlsAcceptor::from(Arc::new(node_server_config(&files).unwrap()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut served = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await.unwrap();
            let (_, conn) = tls.get_ref();
            served.push(conn.peer_certificates().map(|c| c.len()).unwrap_or(0));
            tls.write_all(b"pong").await.unwrap();
            tls.flush().await.unwrap();
        }
        served
    });
    let cert_der = |pem: &[u8]| {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(pem)
            .unwrap()
            .to_vec()
    };
    let seen_by_client = |cfg: rustls::ClientConfig| async move {
        let connector = TlsConnector::from(Arc::new(cfg));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("tss1.kms.internal").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.unwrap();
        tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
    };
    let before = std::fs::read(&files.cert).unwrap();
    let first = seen_by_client(client_with(&fx, &fx.pki, &fx.pki, &gateway())).await;
    assert_eq!(first, cert_der(&before));
    // mtime granularity: make sure the rotated files carry a later time.
    tokio::time::sleep(Duration::from_millis(20)).await;
    pki::rotate(fx.pki.ca_cert().parent().unwrap(), &tss(1)).unwrap();
    let after = std::fs::read(&files.cert).unwrap();
    assert_ne!(before, after);
    let second = seen_by_client(client_with(&fx, &fx.pki, &fx.pki, &gateway())).await;
    assert_eq!(second, cert_der(&after), "the rotated certificate was not served");
    server.await.unwrap();
}
