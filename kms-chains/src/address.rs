//! The addresses of a key on each chain, under the names the API uses.
//!
//! P2TR (Taproot) is deliberately absent: spending a key-path output needs a BIP-340
//! Schnorr signature under the tweaked key, and none of the service's protocols
//! (GG18, DMZ21, DKLS23 produce ECDSA; EdDSA is Ed25519) produce one. An address the
//! service could receive to but never spend from would lose funds.

use crate::ecdsa::verifying_key;
use crate::{ChainError, KeyKind};
use alloy_primitives::{keccak256, Address};
use bitcoin::{CompressedPublicKey, KnownHrp, NetworkKind};
use serde::{Deserialize, Serialize};

/// A key's addresses. Only the members of the key's kind are present; `address` is the
/// primary one: EVM for secp256k1, Solana for Ed25519, none for BLS (a validator key
/// is not an account address; it is in `eth2_pubkey`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addresses {
    /// The primary address (none for BLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// EIP-55 checksummed `0x…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evm: Option<String>,
    /// TRON base58check `T…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tron: Option<String>,
    /// Bitcoin mainnet P2PKH (`1…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btc_p2pkh: Option<String>,
    /// Bitcoin mainnet P2WPKH (`bc1q…`, BIP-173).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btc_p2wpkh: Option<String>,
    /// Bitcoin testnet P2PKH (`m…`/`n…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btc_p2pkh_testnet: Option<String>,
    /// Bitcoin testnet P2WPKH (`tb1q…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btc_p2wpkh_testnet: Option<String>,
    /// Solana: base58 of the Ed25519 public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solana: Option<String>,
    /// Ethereum 2.0 validator key: `0x` + the 48-byte compressed BLS public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eth2_pubkey: Option<String>,
}

impl Addresses {
    /// The addresses of a public key (in its curve's standard encoding: SEC1 for
    /// secp256k1, 32 bytes for Ed25519, 48-byte compressed G1 for BLS).
    ///
    /// ```
    /// use kms_chains::{Addresses, KeyKind};
    /// // The public key of the private key 1 (the secp256k1 generator).
    /// let g = hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").unwrap();
    /// let a = Addresses::for_key(KeyKind::Secp256k1, &g).unwrap();
    /// assert_eq!(a.address.as_deref(), Some("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"));
    /// assert_eq!(a.btc_p2wpkh.as_deref(), Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
    /// ```
    pub fn for_key(kind: KeyKind, public_key: &[u8]) -> Result<Self, ChainError> {
        match kind {
            KeyKind::Secp256k1 => secp256k1(public_key),
            KeyKind::Ed25519 => {
                let key: [u8; 32] = public_key
                    .try_into()
                    .map_err(|_| ChainError::BadPublicKey("Ed25519"))?;
                ed25519_dalek::VerifyingKey::from_bytes(&key)
                    .map_err(|_| ChainError::BadPublicKey("Ed25519"))?;
                let solana = bs58::encode(key).into_string();
                Ok(Self {
                    address: Some(solana.clone()),
                    solana: Some(solana),
                    ..Self::default()
                })
            }
            KeyKind::Bls12381 => {
                if public_key.len() != 48 {
                    return Err(ChainError::BadPublicKey("BLS12-381 G1"));
                }
                let eth2 = crate::value::to_hex(public_key);
                Ok(Self {
                    eth2_pubkey: Some(eth2),
                    ..Self::default()
                })
            }
        }
    }
}

/// The 20-byte EVM address of a secp256k1 key: the last 20 bytes of the Keccak-256 of
/// the uncompressed point without its 0x04 prefix.
pub fn evm_address(key: &k256::ecdsa::VerifyingKey) -> Address {
    let point = key.to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

/// TRON's address: base58check of 0x41 followed by the EVM address bytes.
pub fn tron_address(evm: &Address) -> String {
    let mut raw = Vec::with_capacity(21);
    raw.push(0x41);
    raw.extend_from_slice(evm.as_slice());
    bs58::encode(raw).with_check().into_string()
}

fn secp256k1(public_key: &[u8]) -> Result<Addresses, ChainError> {
    let key = verifying_key(public_key)?;
    let evm_raw = evm_address(&key);
    let evm = evm_raw.to_checksum(None);
    let compressed = CompressedPublicKey::from_slice(key.to_encoded_point(true).as_bytes())
        .map_err(|_| ChainError::BadPublicKey("secp256k1"))?;
    Ok(Addresses {
        address: Some(evm.clone()),
        evm: Some(evm),
        tron: Some(tron_address(&evm_raw)),
        btc_p2pkh: Some(bitcoin::Address::p2pkh(compressed, NetworkKind::Main).to_string()),
        btc_p2wpkh: Some(bitcoin::Address::p2wpkh(&compressed, KnownHrp::Mainnet).to_string()),
        btc_p2pkh_testnet: Some(bitcoin::Address::p2pkh(compressed, NetworkKind::Test).to_string()),
        btc_p2wpkh_testnet: Some(bitcoin::Address::p2wpkh(&compressed, KnownHrp::Testnets).to_string()),
        ..Addresses::default()
    })
}
