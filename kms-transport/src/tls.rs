//! Mutual TLS between the application layer and the TSS nodes, with roles bound to
//! certificates rather than to addresses.
//!
//! Every certificate of the internal CA names its holder twice:
//! - a DNS name `{name}.kms.internal`, which the TLS client checks as the server name (so a
//!   gateway that dials `tss2` and reaches `tss1` refuses the connection);
//! - a URI `spiffe://kms.internal/{kind}/{name}` ([`Role::uri`]), which the node checks on the
//!   client: only a certificate whose URI says `gateway` may call a node. A node's
//!   certificate is refused as a client twice over: its extended key usage is serverAuth only,
//!   and its URI says `node`.
//!
//! Nodes reload their own certificate and key from disk when the files change
//! ([`ReloadingCertResolver`]), so a rotated certificate is used by the next handshake
//! without a restart. Only the `ring` provider is used and only TLS 1.3 is offered.

use kms_core::NodeId;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The trust domain of the internal CA: the suffix of every DNS name it certifies.
pub const TRUST_DOMAIN: &str = "kms.internal";

/// ALPN protocol of gRPC (HTTP/2).
const ALPN_H2: &[u8] = b"h2";
/// ALPN protocol of HTTP/1.1, offered by a node's server after `h2` only for the plain
/// `GET /health` check of the spec (see `grpc::server`).
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Who a certificate belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// An application-layer instance (gateway, coordinator) allowed to call nodes.
    Gateway(String),
    /// A TSS node.
    Node(NodeId),
}

impl Role {
    /// The certificate's URI subject alternative name, e.g.
    /// `spiffe://kms.internal/node/tss1`.
    pub fn uri(&self) -> String {
        match self {
            Role::Gateway(name) => format!("spiffe://{TRUST_DOMAIN}/gateway/{name}"),
            Role::Node(id) => format!("spiffe://{TRUST_DOMAIN}/node/{id}"),
        }
    }

    /// The certificate's DNS name, e.g. `tss1.kms.internal`: the TLS server name a client
    /// must ask for.
    pub fn dns_name(&self) -> String {
        format!("{}.{TRUST_DOMAIN}", self.name())
    }

    /// The holder's short name (`gateway`, `tss1`).
    pub fn name(&self) -> &str {
        match self {
            Role::Gateway(name) => name,
            Role::Node(id) => id.as_str(),
        }
    }

    /// Parses a URI written by [`Role::uri`]; anything else is `None`.
    pub fn from_uri(uri: &str) -> Option<Role> {
        let rest = uri.strip_prefix("spiffe://")?.strip_prefix(TRUST_DOMAIN)?;
        let rest = rest.strip_prefix('/')?;
        let (kind, name) = rest.split_once('/')?;
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return None;
        }
        match kind {
            "gateway" => Some(Role::Gateway(name.to_owned())),
            "node" => NodeId::new(name).ok().map(Role::Node),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Gateway(name) => write!(f, "gateway {name}"),
            Role::Node(id) => write!(f, "node {id}"),
        }
    }
}

/// Why TLS material could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot load {what} from {path}: {reason}")]
    Load {
        /// What was being loaded (certificate, key, CA).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A certificate carries no role of the internal CA, or several.
    #[error("certificate has no single kms role: {0}")]
    NoRole(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The roles named in a DER certificate's URI subject alternative names.
pub fn roles_of(cert: &CertificateDer<'_>) -> Result<Vec<Role>, TlsError> {
    use x509_parser::extensions::GeneralName;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| TlsError::NoRole(format!("unparsable certificate: {e}")))?;
    let san = parsed
        .subject_alternative_name()
        .map_err(|e| TlsError::NoRole(format!("bad subjectAltName: {e}")))?;
    let mut roles = Vec::new();
    if let Some(san) = san {
        for name in &san.value.general_names {
            if let GeneralName::URI(uri) = name {
                if let Some(role) = Role::from_uri(uri) {
                    roles.push(role);
                }
            }
        }
    }
    Ok(roles)
}

/// The single role of a certificate; none or several is an error.
pub fn role_of(cert: &CertificateDer<'_>) -> Result<Role, TlsError> {
    let mut roles = roles_of(cert)?;
    match roles.len() {
        1 => Ok(roles.remove(0)),
        0 => Err(TlsError::NoRole("no kms role URI".into())),
        n => Err(TlsError::NoRole(format!("{n} kms role URIs"))),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Load {
        what,
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn parse_certs(
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Load {
            what,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Load {
            what,
            path: path.to_owned(),
            reason: "no certificate in file".into(),
        });
    }
    Ok(certs)
}

/// Loads a certificate chain and its private key from PEM files into a rustls
/// [`CertifiedKey`].
pub fn load_certified_key(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, TlsError> {
    let certs = parse_certs("certificate", cert_path, &read("certificate", cert_path)?)?;
    let key_pem = zeroize::Zeroizing::new(read("private key", key_path)?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Load {
        what: "private key",
        path: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    let signer = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Load {
            what: "private key",
            path: key_path.to_owned(),
            reason: e.to_string(),
        })?;
    let ck = CertifiedKey::new(certs, signer);
    ck.keys_match().map_err(|e| TlsError::Load {
        what: "private key",
        path: key_path.to_owned(),
        reason: format!("does not match the certificate: {e}"),
    })?;
    Ok(ck)
}

/// A root store holding the internal CA's certificate(s) from a PEM file.
pub fn load_roots(ca_path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs("CA certificate", ca_path, &read("CA certificate", ca_path)?)? {
        roots.add(cert).map_err(|e| TlsError::Load {
            what: "CA certificate",
            path: ca_path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// The paths of one holder's certificate and key.
#[derive(Clone, Debug)]
pub struct CertFiles {
    /// The internal CA's certificate.
    pub ca: PathBuf,
    /// The holder's certificate (PEM).
    pub cert: PathBuf,
    /// The holder's private key (PEM, PKCS#8).
    pub key: PathBuf,
}

/// Serves a node's certificate, reloading it from disk when the certificate or key file
/// changes: a rotation takes effect at the next handshake. A reload that fails (a
/// half-written pair, a key that does not match) keeps the previous pair and is logged.
pub struct ReloadingCertResolver {
    cert: PathBuf,
    key: PathBuf,
    current: Mutex<(Option<SystemTime>, Option<SystemTime>, Arc<CertifiedKey>)>,
}

impl fmt::Debug for ReloadingCertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCertResolver")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl ReloadingCertResolver {
    /// Loads the pair now; fails if it cannot be used.
    pub fn new(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let ck = load_certified_key(cert, key)?;
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: Mutex::new((mtime(cert), mtime(key), Arc::new(ck))),
        })
    }

    /// The pair in use, reloaded first if a file changed since it was loaded.
    pub fn current(&self) -> Arc<CertifiedKey> {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let (c, k) = (mtime(&self.cert), mtime(&self.key));
        if (c, k) != (cur.0, cur.1) {
            match load_certified_key(&self.cert, &self.key) {
                Ok(ck) => {
                    tracing::info!(cert = %self.cert.display(), "reloaded TLS certificate");
                    *cur = (c, k, Arc::new(ck));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TLS certificate changed on disk but cannot be used; keeping the previous one");
                    // Remember the times so a broken pair is not re-parsed on every handshake.
                    cur.0 = c;
                    cur.1 = k;
                }
            }
        }
        cur.2.clone()
    }
}

impl ResolvesServerCert for ReloadingCertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// A client-certificate verifier that accepts only chains to the internal CA whose end
/// entity carries one of the `allowed` roles. Refusals are logged with the reason.
#[derive(Debug)]
pub struct RoleVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    allow: fn(&Role) -> bool,
    what: &'static str,
}

impl RoleVerifier {
    /// Accepts gateway certificates of the CA in `roots`, and nothing else.
    pub fn gateways_only(roots: RootCertStore) -> Result<Self, TlsError> {
        let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(Self {
            inner,
            allow: |r| matches!(r, Role::Gateway(_)),
            what: "gateway",
        })
    }
}

impl ClientCertVerifier for RoleVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
            .inspect_err(|e| {
                tracing::warn!(error = %e, "refused a client certificate at the handshake");
            })?;
        match role_of(end_entity) {
            Ok(role) if (self.allow)(&role) => Ok(verified),
            Ok(role) => {
                tracing::warn!(%role, expected = self.what, "refused a client certificate of the wrong role");
                Err(rustls::Error::General(format!(
                    "a {role} certificate may not call this service"
                )))
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused a client certificate without a kms role");
                Err(rustls::Error::General(e.to_string()))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The TLS configuration of a node's server: its own certificate (reloaded on change),
/// clients must present a gateway certificate of the internal CA, TLS 1.3, ALPN `h2`
/// (and `http/1.1` for a plain HTTP `GET /health`; no gRPC call is served over it).
pub fn node_server_config(files: &CertFiles) -> Result<rustls::ServerConfig, TlsError> {
    let verifier = RoleVerifier::gateways_only(load_roots(&files.ca)?)?;
    let resolver = ReloadingCertResolver::new(&files.cert, &files.key)?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    Ok(cfg)
}

/// The TLS configuration of an application-layer client of the nodes: it trusts only the
/// internal CA and presents its own (gateway) certificate. The server name to check is
/// given per connection ([`Role::dns_name`] of the node dialled).
pub fn gateway_client_config(files: &CertFiles) -> Result<rustls::ClientConfig, TlsError> {
    let roots = load_roots(&files.ca)?;
    // Loading through `load_certified_key` first checks that the key matches the chain.
    let ck = load_certified_key(&files.cert, &files.key)?;
    let key_pem = zeroize::Zeroizing::new(read("private key", &files.key)?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Load {
        what: "private key",
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(ck.cert.clone(), key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_uris_round_trip_and_refuse_lookalikes() {
        let node = Role::Node(NodeId::new("tss1").unwrap());
        assert_eq!(node.uri(), "spiffe://kms.internal/node/tss1");
        assert_eq!(Role::from_uri(&node.uri()), Some(node.clone()));
        assert_eq!(node.dns_name(), "tss1.kms.internal");
        let gw = Role::Gateway("gateway".into());
        assert_eq!(Role::from_uri(&gw.uri()), Some(gw));
        for bad in [
            "spiffe://kms.internal.evil/node/tss1",
            "spiffe://evil/kms.internal/node/tss1",
            "spiffe://kms.internal/admin/root",
            "spiffe://kms.internal/node/",
            "spiffe://kms.internal/node/../x",
            "spiffe://kms.internal/node/a/b",
            "https://kms.internal/node/tss1",
        ] {
            assert_eq!(Role::from_uri(bad), None, "{bad}");
        }
    }
}
