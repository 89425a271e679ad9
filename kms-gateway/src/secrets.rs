//! Secrets at rest: values in the configuration file (database and Redis passwords) and
//! access-key secrets, AES-256-GCM encrypted under keys derived from the gateway's start
//! password with PBKDF2-HMAC-SHA256.
//!
//! A configuration value is self-contained, so `kms-gateway encrypt-secret` needs only
//! the password:
//!
//! ```text
//! enc:v1:<pbkdf2 iterations>:<salt, 16 bytes hex>:<nonce, 12 bytes hex>:<ciphertext+tag hex>
//! ```
//!
//! ```
//! use kms_gateway::secrets::{decrypt_value, encrypt_value};
//! let sealed = encrypt_value("start password", "db-password", 10_000).unwrap();
//! assert!(sealed.starts_with("enc:v1:"));
//! assert_eq!(decrypt_value("start password", &sealed).unwrap().as_str(), "db-password");
//! assert!(decrypt_value("wrong", &sealed).is_err());
//! ```

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

/// The prefix of an encrypted configuration value.
pub const ENC_PREFIX: &str = "enc:v1:";
/// The least PBKDF2 count accepted (the same floor as the node's DEK files).
pub const MIN_PBKDF2_ITERATIONS: u32 = 10_000;
/// The most PBKDF2 iterations read from a value or a store header, so a doctored file
/// cannot stall the start for hours.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The default PBKDF2 count of new values (as the node's DEK files).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = kms_storage::keyring::DEFAULT_PBKDF2_ITERATIONS;

/// The AAD of configuration values: a value sealed for the configuration cannot be
/// passed off as an access-key secret, or the other way round.
const CONFIG_AAD: &[u8] = b"kms-gateway config secret v1";

/// Why a secret could not be sealed or opened. Never holds the secret or the password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// Not of the `enc:v1:` form; says which part is wrong.
    #[error("malformed encrypted value: {0}")]
    Malformed(&'static str),
    /// The PBKDF2 count is outside the accepted range.
    #[error("PBKDF2 iterations {0} outside {MIN_PBKDF2_ITERATIONS}..={MAX_PBKDF2_ITERATIONS}")]
    Iterations(u32),
    /// The authentication tag does not verify: wrong password, or the value was edited.
    #[error("wrong password, or the encrypted value was altered")]
    WrongPasswordOrTampered,
}

/// A 256-bit AES key. `Debug` shows nothing of it; zeroized on drop.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// PBKDF2-HMAC-SHA256 of `password` with `salt`.
    pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Result<SecretKey, SecretError> {
        if !(MIN_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
            return Err(SecretError::Iterations(iterations));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, key.as_mut());
        Ok(SecretKey(key))
    }

    /// A key for another purpose, derived with HMAC-SHA256 under `label`; knowing it
    /// reveals nothing of this key.
    pub fn subkey(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.0.as_ref()).expect("any key length");
        mac.update(b"kms-gateway subkey v1:");
        mac.update(label);
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// Encrypt `plaintext` bound to `aad`: hex of nonce (12 bytes) then ciphertext and tag.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> String {
        let cipher = Aes256Gcm::new_from_slice(self.0.as_ref()).expect("32-byte key");
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad })
            .expect("AES-GCM encryption of a bounded buffer");
        format!("{}{}", hex::encode(nonce), hex::encode(ct))
    }

    /// Decrypt what [`SecretKey::seal`] made with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let bytes = hex::decode(sealed).map_err(|_| SecretError::Malformed("not hex"))?;
        if bytes.len() < 12 + 16 {
            return Err(SecretError::Malformed("too short"));
        }
        let (nonce, ct) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| SecretError::Malformed("nonce"))?;
        let cipher = Aes256Gcm::new_from_slice(self.0.as_ref()).expect("32-byte key");
        cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
            .map(Zeroizing::new)
            .map_err(|_| SecretError::WrongPasswordOrTampered)
    }
}

/// Encrypt a configuration value (what `kms-gateway encrypt-secret` prints).
pub fn encrypt_value(password: &str, plaintext: &str, iterations: u32) -> Result<String, SecretError> {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let key = SecretKey::derive(password, &salt, iterations)?;
    Ok(format!(
        "{ENC_PREFIX}{iterations}:{}:{}",
        hex::encode(salt),
        key.seal(CONFIG_AAD, plaintext.as_bytes())
    ))
}

/// Decrypt a configuration value written by [`encrypt_value`].
pub fn decrypt_value(password: &str, value: &str) -> Result<Zeroizing<String>, SecretError> {
    let rest = value
        .strip_prefix(ENC_PREFIX)
        .ok_or(SecretError::Malformed("does not start with enc:v1:"))?;
    let mut parts = rest.splitn(3, ':');
    let iterations: u32 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(SecretError::Malformed("iterations"))?;
    let salt = parts
        .next()
        .and_then(|s| hex::decode(s).ok())
        .filter(|s| s.len() == 16)
        .ok_or(SecretError::Malformed("salt"))?;
    let sealed = parts.next().ok_or(SecretError::Malformed("ciphertext"))?;
    let key = SecretKey::derive(password, &salt, iterations)?;
    let plain = key.open(CONFIG_AAD, sealed)?;
    String::from_utf8(plain.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| SecretError::Malformed("plaintext is not UTF-8"))
}

/// Whether a configuration value is encrypted (else it is used as written).
pub fn is_encrypted(value: &str) -> bool {
    value.starts_with(ENC_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_value_or_a_wrong_password_is_refused() {
        let v = encrypt_value("pw", "secret", MIN_PBKDF2_ITERATIONS).unwrap();
        assert_eq!(decrypt_value("pw", &v).unwrap().as_str(), "secret");
        assert_eq!(
            decrypt_value("other", &v).unwrap_err(),
            SecretError::WrongPasswordOrTampered
        );
        let mut t = v.clone().into_bytes();
        let last = t.len() - 1;
        t[last] = if t[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            decrypt_value("pw", std::str::from_utf8(&t).unwrap()).unwrap_err(),
            SecretError::WrongPasswordOrTampered
        );
        let low = v.replacen("enc:v1:10000:", "enc:v1:10:", 1);
        assert_eq!(
            decrypt_value("pw", &low).unwrap_err(),
            SecretError::Iterations(10)
        );
        assert!(matches!(
            decrypt_value("pw", "plain"),
            Err(SecretError::Malformed(_))
        ));
    }
}
