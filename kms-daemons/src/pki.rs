//! The internal PKI: one CA, one certificate per gateway and per TSS node.
//!
//! Layout of a PKI directory (the spec's hierarchy; every file 0600, every directory 0700):
//!
//! ```text
//! DIR/ca.cert  DIR/ca.key                 the CA (10 years)
//! DIR/gateway/gateway.cert|key            the application layer's client certificate (1 year)
//! DIR/tss1/tss1.cert|key ... tss4         the nodes' server certificates (1 year)
//! ```
//!
//! Roles are bound to certificates, not to addresses: see [`kms_transport::tls`] for the
//! names each certificate carries and how they are checked. Keys are ECDSA P-256.
//!
//! ```no_run
//! use kms_core::NodeId;
//! use kms_daemons::pki;
//! let nodes: Vec<NodeId> = ["tss1", "tss2", "tss3", "tss4"].iter().map(|n| NodeId::new(*n).unwrap()).collect();
//! let dir = pki::init(std::path::Path::new("/opt/kms/pki"), &nodes, "gateway").unwrap();
//! println!("CA at {}", dir.ca_cert().display());
//! ```

use kms_core::NodeId;
use kms_storage::files::{create_private_dir, write_private_atomic};
use kms_transport::tls::{CertFiles, Role};
use rand_core::{OsRng, RngCore};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

/// How long the CA certificate is valid.
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// How long a gateway or node certificate is valid.
pub const LEAF_VALIDITY_DAYS: i64 = 365;

/// Why a PKI operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// `init` found an existing CA and will not overwrite it.
    #[error("a CA already exists at {0}; refusing to overwrite it")]
    Exists(PathBuf),
    /// The CA's certificate or key is missing or unusable.
    #[error("cannot use the CA in {dir}: {reason}")]
    Ca {
        /// The PKI directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// Certificate generation failed.
    #[error("cannot generate the certificate of {role}: {reason}")]
    Generate {
        /// Whose certificate.
        role: String,
        /// Why.
        reason: String,
    },
    /// A file could not be written.
    #[error("{0}")]
    Io(String),
}

/// A PKI directory and where each file of it lives.
#[derive(Clone, Debug)]
pub struct PkiDir {
    dir: PathBuf,
}

impl PkiDir {
    /// The layout under `dir` (nothing is read or created).
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_owned() }
    }

    /// The CA certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.cert")
    }

    /// The CA private key.
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }

    /// The certificate of `role`.
    pub fn cert(&self, role: &Role) -> PathBuf {
        self.dir.join(role.name()).join(format!("{}.cert", role.name()))
    }

    /// The private key of `role`.
    pub fn key(&self, role: &Role) -> PathBuf {
        self.dir.join(role.name()).join(format!("{}.key", role.name()))
    }

    /// The CA, certificate and key paths of `role`, as the TLS configuration takes them.
    pub fn files(&self, role: &Role) -> CertFiles {
        CertFiles {
            ca: self.ca_cert(),
            cert: self.cert(role),
            key: self.key(role),
        }
    }
}

/// A certificate's validity window.
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    /// Not valid before.
    pub not_before: OffsetDateTime,
    /// Not valid after.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From an hour ago (clock skew between hosts) until `days` from now.
    pub fn days_from_now(days: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(days),
        }
    }
}

fn gen_err(role: &str, e: rcgen::Error) -> PkiError {
    PkiError::Generate {
        role: role.to_owned(),
        reason: e.to_string(),
    }
}

fn random_serial() -> SerialNumber {
    let mut s = [0u8; 16];
    OsRng.fill_bytes(&mut s);
    // A positive INTEGER with no leading zero octet: clear the top bit, set the next.
    s[0] = (s[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&s)
}

fn write_pair(
    dir: &PkiDir,
    role: &Role,
    cert_pem: &str,
    key_pem: &Zeroizing<String>,
) -> Result<(), PkiError> {
    let cert = dir.cert(role);
    let parent = cert.parent().expect("a role's files live in a subdirectory");
    create_private_dir(parent).map_err(|e| PkiError::Io(e.to_string()))?;
    // Key first: a crash between the two leaves the old certificate, which the new key does
    // not match, so the pair is refused at load rather than silently mixed.
    write_private_atomic(&dir.key(role), key_pem.as_bytes()).map_err(|e| PkiError::Io(e.to_string()))?;
    write_private_atomic(&cert, cert_pem.as_bytes()).map_err(|e| PkiError::Io(e.to_string()))
}

/// Creates a new PKI under `dir`: the CA, the gateway certificate `gateway` and one
/// certificate per node. Refuses to overwrite an existing CA.
pub fn init(dir: &Path, nodes: &[NodeId], gateway: &str) -> Result<PkiDir, PkiError> {
    let layout = PkiDir::new(dir);
    if layout.ca_key().exists() {
        return Err(PkiError::Exists(layout.ca_key()));
    }
    create_private_dir(dir).map_err(|e| PkiError::Io(e.to_string()))?;

    let ca_key = KeyPair::generate().map_err(|e| gen_err("ca", e))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kms internal CA");
    dn.push(DnType::OrganizationName, "mpc-kms");
    params.distinguished_name = dn;
    // Leaves only: the CA signs end entities directly, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let v = Validity::days_from_now(CA_VALIDITY_DAYS);
    params.not_before = v.not_before;
    params.not_after = v.not_after;
    params.serial_number = Some(random_serial());
    let ca_cert = params.self_signed(&ca_key).map_err(|e| gen_err("ca", e))?;
    let key_pem = Zeroizing::new(ca_key.serialize_pem());
    write_private_atomic(&layout.ca_key(), key_pem.as_bytes()).map_err(|e| PkiError::Io(e.to_string()))?;
    write_private_atomic(&layout.ca_cert(), ca_cert.pem().as_bytes())
        .map_err(|e| PkiError::Io(e.to_string()))?;

    issue(
        dir,
        &Role::Gateway(gateway.to_owned()),
        Validity::days_from_now(LEAF_VALIDITY_DAYS),
    )?;
    for node in nodes {
        issue(
            dir,
            &Role::Node(node.clone()),
            Validity::days_from_now(LEAF_VALIDITY_DAYS),
        )?;
    }
    Ok(layout)
}

/// Issues (or re-issues, with a fresh key) the certificate of `role` under the CA in `dir`.
///
/// A node certificate is for TLS servers only (extended key usage serverAuth) and a
/// gateway certificate for TLS clients only (clientAuth), so neither can stand in for the
/// other even before the role names are checked.
pub fn issue(dir: &Path, role: &Role, validity: Validity) -> Result<(), PkiError> {
    let layout = PkiDir::new(dir);
    let ca_err = |reason: String| PkiError::Ca {
        dir: dir.to_owned(),
        reason,
    };
    let ca_pem = std::fs::read_to_string(layout.ca_cert()).map_err(|e| ca_err(format!("ca.cert: {e}")))?;
    let ca_key_pem =
        Zeroizing::new(std::fs::read_to_string(layout.ca_key()).map_err(|e| ca_err(format!("ca.key: {e}")))?);
    let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(|e| ca_err(format!("ca.key: {e}")))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(|e| ca_err(format!("ca.cert: {e}")))?;

    let name = role.to_string();
    let key = KeyPair::generate().map_err(|e| gen_err(&name, e))?;
    let mut params = CertificateParams::new(vec![role.dns_name()]).map_err(|e| gen_err(&name, e))?;
    let uri = role.uri().try_into().map_err(|e| gen_err(&name, e))?;
    params.subject_alt_names.push(SanType::URI(uri));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, role.name());
    dn.push(DnType::OrganizationName, "mpc-kms");
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match role {
        Role::Node(_) => ExtendedKeyUsagePurpose::ServerAuth,
        _ => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params.serial_number = Some(random_serial());
    let cert = params.signed_by(&key, &issuer).map_err(|e| gen_err(&name, e))?;
    write_pair(&layout, role, &cert.pem(), &Zeroizing::new(key.serialize_pem()))
}

/// Replaces the certificate and key of `role` with new ones valid for a year. A node
/// picks the new pair up at its next handshake, without a restart.
pub fn rotate(dir: &Path, role: &Role) -> Result<(), PkiError> {
    if !PkiDir::new(dir).cert(role).exists() {
        return Err(PkiError::Io(format!(
            "{role} has no certificate in {} to rotate",
            dir.display()
        )));
    }
    issue(dir, role, Validity::days_from_now(LEAF_VALIDITY_DAYS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kms_transport::tls::{load_certified_key, role_of};
    use std::os::unix::fs::PermissionsExt;

    fn nodes() -> Vec<NodeId> {
        (1..=4).map(|i| NodeId::new(format!("tss{i}")).unwrap()).collect()
    }

    #[test]
    fn init_writes_the_spec_layout_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let layout = init(&dir, &nodes(), "gateway").unwrap();
        let mut files = vec![layout.ca_cert(), layout.ca_key()];
        let gw = Role::Gateway("gateway".into());
        files.extend([layout.cert(&gw), layout.key(&gw)]);
        for n in nodes() {
            let r = Role::Node(n);
            files.extend([layout.cert(&r), layout.key(&r)]);
        }
        for f in &files {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
        assert!(dir.join("tss3/tss3.cert").exists());
        assert!(dir.join("gateway/gateway.key").exists());
        // Each pair loads and carries exactly its role.
        for r in [gw, Role::Node(NodeId::new("tss2").unwrap())] {
            let ck = load_certified_key(&layout.cert(&r), &layout.key(&r)).unwrap();
            assert_eq!(role_of(&ck.cert[0]).unwrap(), r);
        }
        assert!(matches!(
            init(&dir, &nodes(), "gateway"),
            Err(PkiError::Exists(_))
        ));
    }

    #[test]
    fn rotate_replaces_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        // A directory `init` creates (0700): secret files are refused in a wider one.
        let dir = tmp.path().join("pki");
        let layout = init(&dir, &nodes(), "gateway").unwrap();
        let r = Role::Node(NodeId::new("tss1").unwrap());
        let before = std::fs::read(layout.key(&r)).unwrap();
        rotate(&dir, &r).unwrap();
        assert_ne!(before, std::fs::read(layout.key(&r)).unwrap());
        load_certified_key(&layout.cert(&r), &layout.key(&r)).unwrap();
        let stranger = Role::Node(NodeId::new("tss9").unwrap());
        assert!(rotate(&dir, &stranger).is_err());
    }
}
