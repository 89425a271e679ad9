#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! Chain encodings for KMS keys, without I/O and without the signing service: a key's
//! addresses on EVM chains, Bitcoin, TRON and Solana, and for each thing a chain asks
//! to be signed (a hash, an EIP-191 message, EIP-712 typed data, an Ethereum
//! transaction, a PSBT, a TRON or Solana transaction, a Solana off-chain message) the
//! digest the key signs and, from the signature, the form that goes on chain.
//!
//! A service links this crate at its edge (the gateway, a client): [`prepare`] checks
//! the input and says what to sign and what it means (for risk rules); the signatures
//! come from the threshold service; [`Prepared::finish`] verifies them against the key
//! and builds the answer.
//!
//! ```
//! use kms_chains::{prepare, DataType, KeyKind};
//! use k256::ecdsa::SigningKey;
//! # let sk = SigningKey::from_slice(&[0x46; 32]).unwrap();
//! # let public_key = sk.verifying_key().to_encoded_point(true).as_bytes().to_vec();
//! // An EIP-1559 transfer of 1 ETH.
//! let data = serde_json::json!({
//!     "type": 2, "chain_id": 1, "nonce": 0, "gas": 21000,
//!     "to": "0x3535353535353535353535353535353535353535", "value": "1000000000000000000",
//!     "max_priority_fee_per_gas": 1000000000, "max_fee_per_gas": 30000000000u64,
//!     "access_list": [], "data": "0x"
//! });
//! let prepared = prepare(DataType::EthTx, &data, KeyKind::Secp256k1, &public_key).unwrap();
//! assert_eq!(prepared.decoded()["to"], "0x3535353535353535353535353535353535353535");
//! // ... the threshold service signs prepared.payloads()[0] as a prehash ...
//! # let (sig, recid) = sk.sign_prehash_recoverable(prepared.payloads()[0].as_bytes()).unwrap();
//! # let mut service_sig = sig.to_vec(); service_sig.push(27 + recid.to_byte());
//! let answer = prepared.finish(&[service_sig]).unwrap();
//! assert!(answer["raw_transaction"].as_str().unwrap().starts_with("0x02"));
//! ```

mod address;
pub mod btc;
mod ecdsa;
mod error;
pub mod evm;
mod request;
pub mod solana;
pub mod tron;
pub mod value;

pub use address::{evm_address, tron_address, Addresses};
pub use ecdsa::{verifying_key, EcdsaSignature};
pub use error::ChainError;
pub use request::{prepare, DataType, Payload, Prepared};

/// The kinds of public key the service makes, by curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// ECDSA on secp256k1 (GG18, DMZ21, DKLS23).
    Secp256k1,
    /// Ed25519 (EdDSA).
    Ed25519,
    /// BLS12-381, public keys in G1 (Ethereum 2.0 style).
    Bls12381,
}

impl KeyKind {
    /// A name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secp256k1 => "secp256k1",
            Self::Ed25519 => "Ed25519",
            Self::Bls12381 => "BLS12-381",
        }
    }
}
