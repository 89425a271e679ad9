//! The form every chain wants an ECDSA signature in: low-s (EIP-2, BIP-62/146), with
//! the recovery id that makes it recover to the key.
//!
//! The signing service already answers r||s||v, but a wrong v or a high s would be
//! rejected by the chain after the fact, or worse, recover to another address. So the
//! signature is checked against the key and the digest, normalised, and its recovery
//! id recomputed here, at the edge where it leaves for the chain.

use crate::value::to_hex;
use crate::ChainError;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use serde_json::{Map, Value};

/// A verified, low-s, recoverable secp256k1 signature of one 32-byte digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcdsaSignature {
    signature: Signature,
    recovery_id: u8,
    digest: [u8; 32],
}

impl EcdsaSignature {
    /// Check the service's signature (r||s, optionally followed by v, which is ignored
    /// and recomputed) of `digest` against `key`; normalise s to the lower half.
    pub fn from_service(bytes: &[u8], digest: &[u8; 32], key: &VerifyingKey) -> Result<Self, ChainError> {
        if bytes.len() != 64 && bytes.len() != 65 {
            return Err(ChainError::BadSignature(format!(
                "expected 64 or 65 bytes, got {}",
                bytes.len()
            )));
        }
        let parsed = Signature::from_slice(&bytes[..64])
            .map_err(|_| ChainError::BadSignature("r or s is zero or not below the group order".into()))?;
        let signature = parsed.normalize_s().unwrap_or(parsed);
        let recovery_id = RecoveryId::trial_recovery_from_prehash(key, digest, &signature)
            .map_err(|_| ChainError::BadSignature("it does not verify for this key and digest".into()))?;
        Ok(Self {
            signature,
            recovery_id: recovery_id.to_byte(),
            digest: *digest,
        })
    }

    /// The recovery id (0 or 1: x-overflow ids cannot occur for keys of a real signer
    /// except with negligible probability, and are still carried faithfully).
    pub fn recovery_id(&self) -> u8 {
        self.recovery_id
    }

    /// r, big-endian.
    pub fn r(&self) -> [u8; 32] {
        self.signature.r().to_bytes().into()
    }

    /// s, big-endian, in the lower half of the group order.
    pub fn s(&self) -> [u8; 32] {
        self.signature.s().to_bytes().into()
    }

    /// `27 + recovery id`, as Ethereum's `personal_sign`, TRON and the API write v.
    pub fn v(&self) -> u8 {
        27 + self.recovery_id
    }

    /// The digest this signature signs.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// r || s || v (65 bytes, v = 27 + recovery id).
    pub fn to_rsv(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(&self.r());
        out[32..64].copy_from_slice(&self.s());
        out[64] = self.v();
        out
    }

    /// DER encoding (Bitcoin script signatures, before the sighash byte).
    pub fn to_der(&self) -> Vec<u8> {
        self.signature.to_der().as_bytes().to_vec()
    }

    /// The k256 signature (low-s).
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The fields every ECDSA answer has: `signature` (r||s||v hex), `r`, `s`, `v`,
    /// `digest`.
    pub fn answer(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("signature".into(), to_hex(self.to_rsv()).into());
        m.insert("r".into(), to_hex(self.r()).into());
        m.insert("s".into(), to_hex(self.s()).into());
        m.insert("v".into(), u64::from(self.v()).into());
        m.insert("digest".into(), to_hex(self.digest).into());
        m
    }
}

/// Parse a SEC1 secp256k1 public key (compressed or not).
pub fn verifying_key(public_key: &[u8]) -> Result<VerifyingKey, ChainError> {
    VerifyingKey::from_sec1_bytes(public_key).map_err(|_| ChainError::BadPublicKey("secp256k1"))
}
