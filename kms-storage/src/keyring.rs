//! The `{node_id}.dek` file: the node's random data-encryption key, wrapped with
//! AES-256-GCM under a key derived from the node's password by PBKDF2-HMAC-SHA256.
//!
//! Layout (107 bytes, integers big-endian):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 8 | magic `MPCKMDEK` |
//! | 8 | 2 | format version (1) |
//! | 10 | 4 | PBKDF2 iteration count (>= [`MIN_PBKDF2_ITERATIONS`]) |
//! | 14 | 1 | salt length (32) |
//! | 15 | 32 | salt |
//! | 47 | 12 | AES-GCM nonce |
//! | 59 | 48 | wrapped DEK and tag |
//!
//! The header (bytes 0..47) and the node id are the associated data of the wrapping,
//! so a changed iteration count or salt, or the file copied to another node's name,
//! fails to unwrap.

use crate::crypto::{self, Encoder, SecretKey, KEY_LEN, NONCE_LEN, TAG_LEN};
use kms_core::StorageError;
use rand_core::{OsRng, RngCore};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The lowest PBKDF2 iteration count accepted, in a new file or an existing one.
pub const MIN_PBKDF2_ITERATIONS: u32 = 10_000;
/// The highest PBKDF2 iteration count accepted, in a new file or an existing one:
/// about 16 times the default, some seconds of derivation. The count is read from the
/// file before the file can be authenticated (the KEK it authenticates with depends on
/// it), so without a cap an edited count of 0xFFFFFFFF would hang `open` for hours.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The iteration count used for a new DEK unless configured otherwise (OWASP's 2023
/// figure for PBKDF2-HMAC-SHA256).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;

// The production default must never drop below the floor.
const _: () = assert!(DEFAULT_PBKDF2_ITERATIONS >= 600_000);

const MAGIC: &[u8; 8] = b"MPCKMDEK";
const FORMAT_VERSION: u16 = 1;
const SALT_LEN: usize = 32;
const HEADER_LEN: usize = 8 + 2 + 4 + 1 + SALT_LEN;
/// Total length of a `.dek` file.
pub const DEK_FILE_LEN: usize = HEADER_LEN + NONCE_LEN + KEY_LEN + TAG_LEN;

/// Where a node's `.dek` file lives.
pub fn dek_path(certs_dir: &Path, node_id: &str) -> PathBuf {
    certs_dir.join(format!("{node_id}.dek"))
}

/// A parsed `.dek` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DekFile {
    iterations: u32,
    salt: [u8; SALT_LEN],
    wrapped: Vec<u8>,
}

fn check_iterations(node_id: &str, iterations: u32) -> Result<(), StorageError> {
    if iterations < MIN_PBKDF2_ITERATIONS {
        return Err(StorageError::Corrupt(format!(
            "{node_id}.dek: PBKDF2 iteration count {iterations} is below the minimum {MIN_PBKDF2_ITERATIONS}"
        )));
    }
    if iterations > MAX_PBKDF2_ITERATIONS {
        return Err(StorageError::Corrupt(format!(
            "{node_id}.dek: PBKDF2 iteration count {iterations} is above the maximum {MAX_PBKDF2_ITERATIONS}"
        )));
    }
    Ok(())
}

impl DekFile {
    /// A fresh random DEK wrapped under `password`; returns the file and the DEK.
    pub fn create(
        node_id: &str,
        password: &Zeroizing<String>,
        iterations: u32,
    ) -> Result<(DekFile, SecretKey), StorageError> {
        let dek = SecretKey::random();
        let file = Self::wrap(node_id, password, iterations, &dek)?;
        Ok((file, dek))
    }

    /// `dek` wrapped under `password` with a fresh salt.
    pub fn wrap(
        node_id: &str,
        password: &Zeroizing<String>,
        iterations: u32,
        dek: &SecretKey,
    ) -> Result<DekFile, StorageError> {
        check_iterations(node_id, iterations)?;
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let mut file = DekFile {
            iterations,
            salt,
            wrapped: Vec::new(),
        };
        let kek = SecretKey::derive_from_password(password.as_bytes(), &salt, iterations);
        file.wrapped = crypto::seal(&kek, &file.aad(node_id), dek.expose());
        Ok(file)
    }

    /// Parse the bytes of a `.dek` file. A file with an iteration count below
    /// [`MIN_PBKDF2_ITERATIONS`] or above [`MAX_PBKDF2_ITERATIONS`] is refused here,
    /// before any derivation runs.
    pub fn parse(node_id: &str, bytes: &[u8]) -> Result<DekFile, StorageError> {
        let corrupt = |why: &str| StorageError::Corrupt(format!("{node_id}.dek: {why}"));
        if bytes.len() != DEK_FILE_LEN {
            return Err(corrupt(&format!(
                "length {} instead of {DEK_FILE_LEN}",
                bytes.len()
            )));
        }
        if bytes.get(..8) != Some(MAGIC.as_slice()) {
            return Err(corrupt("not a DEK file (bad magic)"));
        }
        let version = u16::from_be_bytes([bytes[8], bytes[9]]);
        if version != FORMAT_VERSION {
            return Err(corrupt(&format!("unknown format version {version}")));
        }
        let iterations = u32::from_be_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]);
        check_iterations(node_id, iterations)?;
        if usize::from(bytes[14]) != SALT_LEN {
            return Err(corrupt("bad salt length"));
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[15..HEADER_LEN]);
        Ok(DekFile {
            iterations,
            salt,
            wrapped: bytes[HEADER_LEN..].to_vec(),
        })
    }

    fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(HEADER_LEN);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        h.extend_from_slice(&self.iterations.to_be_bytes());
        h.push(SALT_LEN as u8);
        h.extend_from_slice(&self.salt);
        h
    }

    fn aad(&self, node_id: &str) -> Vec<u8> {
        Encoder::new()
            .bytes(b"mpc-kms/dek/v1")
            .bytes(&self.header())
            .bytes(node_id.as_bytes())
            .finish()
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.wrapped);
        out
    }

    /// The PBKDF2 iteration count recorded in the file.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Unwrap the DEK. A wrong password (or a file that belongs to another node) is
    /// [`StorageError::WrongPassword`].
    pub fn unwrap_dek(&self, node_id: &str, password: &Zeroizing<String>) -> Result<SecretKey, StorageError> {
        let kek = SecretKey::derive_from_password(password.as_bytes(), &self.salt, self.iterations);
        let dek = crypto::open(&kek, &self.aad(node_id), &self.wrapped)
            .map_err(|_| StorageError::WrongPassword(node_id.to_string()))?;
        let bytes: &[u8; KEY_LEN] = dek
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::Corrupt(format!("{node_id}.dek: bad DEK length")))?;
        Ok(SecretKey::from_bytes(bytes))
    }
}

/// The root of a node's key hierarchy: the key-encryption key (KEK) that wraps the
/// node's DEK into its `.dek` file. This is the port through which the root can move
/// into hardware (an HSM or a PKCS#11 token doing the wrapping inside the device): the
/// rest of the storage only ever sees the DEK it unwraps.
///
/// Contract: [`KeyEncryptionKey::unwrap_dek`] authenticates the file's bytes, bound to
/// the node id, and fails with a typed error ([`StorageError::WrongPassword`] for a
/// wrong credential, [`StorageError::Corrupt`] for a damaged file, another variant for
/// an unreachable device) without writing anything; [`KeyEncryptionKey::wrap_dek`] is
/// called before any file of a new node is written, so a KEK that cannot wrap leaves
/// no file behind.
pub trait KeyEncryptionKey: Send + Sync {
    /// Wrap `dek` for node `node_id`: the bytes of its `.dek` file.
    fn wrap_dek(&self, node_id: &str, dek: &SecretKey) -> Result<Vec<u8>, StorageError>;
    /// Unwrap the DEK of node `node_id` from the bytes of its `.dek` file.
    fn unwrap_dek(&self, node_id: &str, file: &[u8]) -> Result<SecretKey, StorageError>;
}

/// The default KEK: PBKDF2-HMAC-SHA256 of the node's password ([`DekFile`]'s format).
/// The password is zeroized on drop and never shown by `Debug`.
pub struct PasswordKek {
    password: Zeroizing<String>,
    iterations: u32,
}

impl std::fmt::Debug for PasswordKek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordKek")
            .field("password", &"<redacted>")
            .field("iterations", &self.iterations)
            .finish()
    }
}

impl PasswordKek {
    /// The KEK of `password`; a new `.dek` file gets `iterations` (an existing file
    /// records its own count).
    pub fn new(password: Zeroizing<String>, iterations: u32) -> Self {
        Self { password, iterations }
    }
}

impl KeyEncryptionKey for PasswordKek {
    fn wrap_dek(&self, node_id: &str, dek: &SecretKey) -> Result<Vec<u8>, StorageError> {
        Ok(DekFile::wrap(node_id, &self.password, self.iterations, dek)?.to_bytes())
    }

    fn unwrap_dek(&self, node_id: &str, file: &[u8]) -> Result<SecretKey, StorageError> {
        DekFile::parse(node_id, file)?.unwrap_dek(node_id, &self.password)
    }
}

/// The random secret key of a service other than a node (the coordinator, a gateway),
/// kept like a node's DEK: `{certs_dir}/{name}.dek`, wrapped under `password`. Made on
/// first use; a wrong password is [`StorageError::WrongPassword`] and changes no file.
/// The service derives what it needs from it (such as its audit-head signing key).
pub fn load_or_create_service_key(
    certs_dir: &Path,
    name: &str,
    password: &Zeroizing<String>,
    iterations: u32,
) -> Result<SecretKey, StorageError> {
    let path = dek_path(certs_dir, name);
    if certs_dir.exists() {
        crate::files::check_private_dir(certs_dir)?;
    }
    if let Some(bytes) = crate::files::read_private_if_exists(&path)? {
        return DekFile::parse(name, &bytes)?.unwrap_dek(name, password);
    }
    let (file, key) = DekFile::create(name, password, iterations)?;
    crate::files::create_private_dir(certs_dir)?;
    crate::files::write_private_atomic(&path, &file.to_bytes())?;
    Ok(key)
}

/// The Ed25519 secret that signs the audit-log head of the service whose key is
/// `service_key` ([`load_or_create_service_key`]).
pub fn audit_signing_secret(service_key: &SecretKey) -> SecretKey {
    service_key.derive_subkey(b"kms-service-derived-secret/v1", b"audit-head/ed25519")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_string())
    }

    #[test]
    fn default_iterations_are_production_strength() {
        let (file, _) = DekFile::create("tss1", &pw("x"), DEFAULT_PBKDF2_ITERATIONS).unwrap();
        let bytes = file.to_bytes();
        let recorded = u32::from_be_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]);
        assert!(recorded >= 600_000, "{recorded}");
        assert!(DekFile::create("tss1", &pw("x"), 9_999).is_err());
        assert!(DekFile::create("tss1", &pw("x"), 10_000).is_ok());
    }

    #[test]
    fn round_trip_and_wrong_password() {
        let (file, dek) = DekFile::create("tss1", &pw("correct horse"), 10_000).unwrap();
        let bytes = file.to_bytes();
        assert_eq!(bytes.len(), DEK_FILE_LEN);
        let parsed = DekFile::parse("tss1", &bytes).unwrap();
        assert_eq!(parsed.iterations(), 10_000);
        let again = parsed.unwrap_dek("tss1", &pw("correct horse")).unwrap();
        assert_eq!(again.expose(), dek.expose());
        assert!(matches!(
            parsed.unwrap_dek("tss1", &pw("wrong")),
            Err(StorageError::WrongPassword(n)) if n == "tss1"
        ));
        // Bound to the node it was made for.
        assert!(matches!(
            parsed.unwrap_dek("tss2", &pw("correct horse")),
            Err(StorageError::WrongPassword(_))
        ));
    }

    #[test]
    fn low_iteration_counts_are_refused() {
        assert!(matches!(
            DekFile::create("tss1", &pw("x"), 9_999),
            Err(StorageError::Corrupt(_))
        ));
        let (file, _) = DekFile::create("tss1", &pw("x"), 10_000).unwrap();
        let mut bytes = file.to_bytes();
        bytes[10..14].copy_from_slice(&9_999u32.to_be_bytes());
        let err = DekFile::parse("tss1", &bytes).unwrap_err();
        assert!(err.to_string().contains("9999"), "{err}");
    }

    #[test]
    fn review_storage_l2_iteration_count_capped() {
        // The count is read before the header is authenticated, so a file edited to
        // 0xFFFFFFFF must be refused before any derivation runs (it would take hours).
        let (file, _) = DekFile::create("tss1", &pw("x"), 10_000).unwrap();
        let mut bytes = file.to_bytes();
        for huge in [u32::MAX, MAX_PBKDF2_ITERATIONS + 1] {
            bytes[10..14].copy_from_slice(&huge.to_be_bytes());
            let started = std::time::Instant::now();
            let err = DekFile::parse("tss1", &bytes).unwrap_err();
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
            assert!(
                matches!(&err, StorageError::Corrupt(m) if m.contains("tss1.dek") && m.contains(&huge.to_string())),
                "{err:?}"
            );
        }
        // The cap is far above the default, so no honest file is refused...
        bytes[10..14].copy_from_slice(&MAX_PBKDF2_ITERATIONS.to_be_bytes());
        assert!(DekFile::parse("tss1", &bytes).is_ok());
        // ...and a new file cannot be made above it either.
        assert!(matches!(
            DekFile::create("tss1", &pw("x"), MAX_PBKDF2_ITERATIONS + 1),
            Err(StorageError::Corrupt(_))
        ));
    }

    #[test]
    fn raised_iteration_count_fails_to_unwrap() {
        // The header is authenticated: editing it cannot go unnoticed.
        let (file, _) = DekFile::create("tss1", &pw("x"), 10_000).unwrap();
        let mut bytes = file.to_bytes();
        bytes[10..14].copy_from_slice(&10_001u32.to_be_bytes());
        let parsed = DekFile::parse("tss1", &bytes).unwrap();
        assert!(parsed.unwrap_dek("tss1", &pw("x")).is_err());
    }

    #[test]
    fn malformed_files_are_refused() {
        let (file, _) = DekFile::create("tss1", &pw("x"), 10_000).unwrap();
        let bytes = file.to_bytes();
        assert!(DekFile::parse("tss1", &bytes[..bytes.len() - 1]).is_err());
        let mut bad = bytes.clone();
        bad[0] ^= 1;
        assert!(DekFile::parse("tss1", &bad).is_err());
        let mut bad = bytes;
        bad[9] = 2;
        assert!(DekFile::parse("tss1", &bad).is_err());
    }
}
