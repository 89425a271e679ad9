//! Chain inputs through the client: a key's addresses, and signing what a chain asks to
//! be signed (see [`kms_chains`]) with the same code on every backend.

use crate::KmsClient;
use kms_chains::{prepare, Addresses, ChainError, DataType, KeyKind};
use kms_core::{Curve, KeyId, KeyMetadata, KmsError};
use serde_json::{Map, Value};

/// Why a chain sign request failed: the input (or the service's signature) did not fit
/// the chain, or the service refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainSignError {
    /// The input is malformed or does not fit the key; names the field.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The service refused or failed.
    #[error(transparent)]
    Kms(#[from] KmsError),
}

/// The chain-encoding kind of a key's curve (a curve no chain here uses is
/// `Unsupported`).
pub fn key_kind(curve: Curve) -> Result<KeyKind, ChainSignError> {
    match curve {
        Curve::Secp256k1 => Ok(KeyKind::Secp256k1),
        Curve::Ed25519 => Ok(KeyKind::Ed25519),
        Curve::Bls12_381 => Ok(KeyKind::Bls12381),
        other => Err(ChainSignError::Kms(KmsError::Unsupported(format!(
            "no chain encodings for curve {}",
            other.as_str()
        )))),
    }
}

fn public_key(meta: &KeyMetadata) -> Result<Vec<u8>, ChainSignError> {
    hex::decode(&meta.public_key)
        .map_err(|_| ChainSignError::Kms(KmsError::InvalidRequest("the key's public key is not hex".into())))
}

/// A key's addresses on every chain its curve serves.
pub fn addresses(meta: &KeyMetadata) -> Result<Addresses, ChainSignError> {
    Ok(Addresses::for_key(
        key_kind(meta.spec.curve)?,
        &public_key(meta)?,
    )?)
}

impl KmsClient {
    /// Sign a chain input (`data_type` with its JSON `data`, as the HTTP API takes them):
    /// the input is checked, each payload is signed by threshold signing, each signature
    /// verified against the key, and the answer holds the chain's signed form (raw
    /// transaction, PSBT, …) with the signature fields.
    ///
    /// ```no_run
    /// # async fn demo(client: kms_client::KmsClient, key: kms_core::KeyId) -> Result<(), kms_client::ChainSignError> {
    /// use kms_chains::DataType;
    /// let answer = client
    ///     .sign_data(&key, DataType::Eip191, &serde_json::json!({"message": "Hello World"}))
    ///     .await?;
    /// println!("{}", answer["signature"]);
    /// # Ok(()) }
    /// ```
    pub async fn sign_data(
        &self,
        key_id: &KeyId,
        data_type: DataType,
        data: &Value,
    ) -> Result<Map<String, Value>, ChainSignError> {
        let meta = self.get_key(key_id).await?;
        let prepared = prepare(data_type, data, key_kind(meta.spec.curve)?, &public_key(&meta)?)?;
        let mut signatures = Vec::with_capacity(prepared.payloads().len());
        for payload in prepared.payloads() {
            signatures.push(self.sign(key_id, payload.as_bytes()).await?.signature);
        }
        Ok(prepared.finish(&signatures)?)
    }
}
