//! The cryptography of secrets at rest: the node's data-encryption key (DEK), the
//! password-derived key-encryption key (KEK), AES-256-GCM sealing, and the
//! associated data that binds a shard ciphertext to its key, node and version.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

/// Length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Length of a 256-bit key.
pub const KEY_LEN: usize = 32;

/// A 256-bit symmetric key (the DEK, a KEK, or a key derived from the DEK). Zeroized
/// on drop; `Debug` shows nothing of it.
pub struct SecretKey(Zeroizing<[u8; KEY_LEN]>);

impl SecretKey {
    /// A fresh random key from the operating system's generator.
    pub fn random() -> Self {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(k.as_mut());
        Self(k)
    }

    /// Wrap key bytes (the caller's copy should itself be zeroized).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(*bytes))
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// KEK = PBKDF2-HMAC-SHA256(password, salt, iterations).
    pub fn derive_from_password(password: &[u8], salt: &[u8], iterations: u32) -> Self {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, k.as_mut());
        Self(k)
    }

    /// A subkey for one purpose: HKDF-SHA256 with `salt` and the purpose as info.
    pub fn derive_subkey(&self, salt: &[u8], purpose: &[u8]) -> Self {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        let hk = hkdf::Hkdf::<Sha256>::new(Some(salt), self.0.as_ref());
        // Expanding 32 bytes from SHA-256 is always within HKDF's limit.
        if hk.expand(purpose, k.as_mut()).is_err() {
            unreachable!("HKDF-SHA256 can expand 32 bytes");
        }
        Self(k)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// AES-GCM refused the ciphertext: wrong key, wrong associated data, or altered bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailed;

/// Encrypt under `key` with a fresh random nonce; returns `nonce || ciphertext || tag`.
pub fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.expose().into());
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let ct = match cipher.encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad }) {
        Ok(ct) => ct,
        // Only inputs beyond AES-GCM's 64 GiB limit fail; nothing stored comes close.
        Err(_) => unreachable!("AES-GCM plaintext within limits"),
    };
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Decrypt `nonce || ciphertext || tag` made by [`seal`].
pub fn open(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, AuthFailed> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(AuthFailed);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| AuthFailed)?;
    let cipher = Aes256Gcm::new(key.expose().into());
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| AuthFailed)
}

/// Builder of unambiguous byte strings: every field carries its length, so
/// `("ab", "c")` and `("a", "bc")` differ.
#[derive(Default)]
pub struct Encoder(Vec<u8>);

impl Encoder {
    /// An empty encoding.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a length-prefixed byte string.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(&(b.len() as u64).to_be_bytes());
        self.0.extend_from_slice(b);
        self
    }

    /// Append a u64.
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// The encoding.
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// The associated data of a shard ciphertext: the node that holds it, the key it
/// belongs to, its algorithm and its version. A ciphertext copied to another key,
/// another node, or relabelled with another version fails authentication.
pub fn shard_aad(node_id: &str, key_id: &str, algorithm: &str, version: u64) -> Vec<u8> {
    Encoder::new()
        .bytes(b"mpc-kms/shard/v1")
        .bytes(node_id.as_bytes())
        .bytes(key_id.as_bytes())
        .bytes(algorithm.as_bytes())
        .u64(version)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_bindings() {
        let k = SecretKey::random();
        let aad = shard_aad("tss1", "k1", "GG18", 1);
        let ct = seal(&k, &aad, b"share bytes");
        assert_eq!(
            open(&k, &aad, &ct).map(|p| p.to_vec()),
            Ok(b"share bytes".to_vec())
        );
        assert_eq!(
            open(&k, &shard_aad("tss1", "k2", "GG18", 1), &ct),
            Err(AuthFailed)
        );
        assert_eq!(
            open(&k, &shard_aad("tss2", "k1", "GG18", 1), &ct),
            Err(AuthFailed)
        );
        assert_eq!(
            open(&k, &shard_aad("tss1", "k1", "GG18", 2), &ct),
            Err(AuthFailed)
        );
        assert_eq!(open(&SecretKey::random(), &aad, &ct), Err(AuthFailed));
        let mut bad = ct.clone();
        bad[NONCE_LEN] ^= 1;
        assert_eq!(open(&k, &aad, &bad), Err(AuthFailed));
        assert_eq!(open(&k, &aad, &ct[..ct.len() - 1]), Err(AuthFailed));
        assert_eq!(open(&k, &aad, &ct[..5]), Err(AuthFailed));
    }

    #[test]
    fn aad_is_unambiguous() {
        assert_ne!(
            shard_aad("tss1", "k1", "GG18", 1),
            shard_aad("tss1k", "1", "GG18", 1)
        );
    }

    #[test]
    fn debug_redacts() {
        let k = SecretKey::from_bytes(&[0x41; KEY_LEN]);
        let s = format!("{k:?}");
        assert!(!s.contains("41") && !s.contains("65"), "{s}");
    }

    #[test]
    fn password_derivation_depends_on_every_input() {
        let a = SecretKey::derive_from_password(b"pw", b"salt-salt-salt-1", 10_000);
        let b = SecretKey::derive_from_password(b"pw", b"salt-salt-salt-2", 10_000);
        let c = SecretKey::derive_from_password(b"pw", b"salt-salt-salt-1", 10_001);
        let d = SecretKey::derive_from_password(b"pX", b"salt-salt-salt-1", 10_000);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.expose(), c.expose());
        assert_ne!(a.expose(), d.expose());
    }
}
