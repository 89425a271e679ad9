//! From a `data_type` and its `data` to what the key signs, and from the signatures
//! back to what goes on chain.

use crate::btc::PsbtSigning;
use crate::ecdsa::{verifying_key, EcdsaSignature};
use crate::evm::eip712::TypedDataHash;
use crate::evm::tx::{self, EthTransaction};
use crate::evm::{eip191, eip712};
use crate::solana::{self, SolanaTransaction};
use crate::tron::TronTransaction;
use crate::value::{hex_array, hex_bytes, to_hex};
use crate::{ChainError, KeyKind};
use serde_json::{json, Map, Value};
use std::fmt;
use std::str::FromStr;

/// What is to be signed, as the API's `data_type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataType {
    /// A 32-byte prehash (ECDSA keys).
    Hash,
    /// Message bytes (EdDSA and BLS keys).
    Message,
    /// An Ethereum `personal_sign` message.
    Eip191,
    /// `eth_signTypedData_v4` typed data.
    Eip712,
    /// An Ethereum transaction (legacy/EIP-155, EIP-2930, EIP-1559).
    EthTx,
    /// A Bitcoin PSBT.
    BtcPsbt,
    /// A TRON transaction's raw data.
    TronTx,
    /// A Solana transaction message.
    SolanaTx,
    /// A Solana off-chain message.
    SolanaMessage,
}

impl DataType {
    /// Every data type.
    pub const ALL: [DataType; 9] = [
        Self::Hash,
        Self::Message,
        Self::Eip191,
        Self::Eip712,
        Self::EthTx,
        Self::BtcPsbt,
        Self::TronTx,
        Self::SolanaTx,
        Self::SolanaMessage,
    ];

    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hash => "HASH",
            Self::Message => "MESSAGE",
            Self::Eip191 => "EIP191",
            Self::Eip712 => "EIP712",
            Self::EthTx => "ETH_TX",
            Self::BtcPsbt => "BTC_PSBT",
            Self::TronTx => "TRON_TX",
            Self::SolanaTx => "SOLANA_TX",
            Self::SolanaMessage => "SOLANA_MESSAGE",
        }
    }

    /// The kind of key the data type is signed with.
    pub fn key_kinds(self) -> &'static [KeyKind] {
        match self {
            Self::Message => &[KeyKind::Ed25519, KeyKind::Bls12381],
            Self::SolanaTx | Self::SolanaMessage => &[KeyKind::Ed25519],
            _ => &[KeyKind::Secp256k1],
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataType {
    type Err = ChainError;
    fn from_str(s: &str) -> Result<Self, ChainError> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| ChainError::UnknownDataType(s.to_string()))
    }
}

/// One thing the key signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A 32-byte digest, signed as an ECDSA prehash.
    Prehash([u8; 32]),
    /// Bytes signed as a message (Ed25519, BLS).
    Message(Vec<u8>),
}

impl Payload {
    /// The bytes handed to the signing service.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Prehash(d) => d,
            Self::Message(m) => m,
        }
    }
}

#[derive(Clone, Debug)]
enum State {
    Hash,
    Message,
    Eip191,
    Eip712(TypedDataHash),
    EthTx(EthTransaction),
    Psbt(Box<PsbtSigning>),
    Tron(TronTransaction),
    Solana(SolanaTransaction),
    SolanaMessage(Vec<u8>),
}

/// A checked sign request: the payloads to sign, the decoded content for risk rules,
/// and what is needed to build the answer.
#[derive(Clone, Debug)]
pub struct Prepared {
    data_type: DataType,
    kind: KeyKind,
    public_key: Vec<u8>,
    payloads: Vec<Payload>,
    decoded: Value,
    state: State,
}

/// Check `data` as a `data_type` input for a key of `kind` with `public_key`, and work
/// out what the key signs.
///
/// ```
/// use kms_chains::{prepare, DataType, KeyKind, Payload};
/// let g = hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").unwrap();
/// let p = prepare(DataType::Eip191, &serde_json::json!({"message": "Hello World"}), KeyKind::Secp256k1, &g).unwrap();
/// assert_eq!(
///     p.payloads(),
///     &[Payload::Prehash(hex_literal(b"a1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2"))]
/// );
/// # fn hex_literal(h: &[u8]) -> [u8; 32] { hex::decode(h).unwrap().try_into().unwrap() }
/// ```
pub fn prepare(
    data_type: DataType,
    data: &Value,
    kind: KeyKind,
    public_key: &[u8],
) -> Result<Prepared, ChainError> {
    if !data_type.key_kinds().contains(&kind) {
        return Err(ChainError::WrongKey {
            data_type: data_type.as_str(),
            needs: data_type.key_kinds()[0].as_str(),
            has: kind.as_str(),
        });
    }
    let ed_key = || -> Result<[u8; 32], ChainError> {
        public_key
            .try_into()
            .map_err(|_| ChainError::BadPublicKey("Ed25519"))
    };
    let (payloads, decoded, state) = match data_type {
        DataType::Hash => {
            let digest = hex_array::<32>("data", data)?;
            (vec![Payload::Prehash(digest)], json!({}), State::Hash)
        }
        DataType::Message => {
            let msg = hex_bytes("data", data)?;
            let decoded = json!({"length": msg.len()});
            (vec![Payload::Message(msg)], decoded, State::Message)
        }
        DataType::Eip191 => {
            let msg = eip191::message(data)?;
            let decoded = json!({"length": msg.len(), "text": std::str::from_utf8(&msg).ok()});
            (
                vec![Payload::Prehash(eip191::digest(&msg))],
                decoded,
                State::Eip191,
            )
        }
        DataType::Eip712 => {
            let h = eip712::hash(data)?;
            let decoded =
                json!({"domain": h.domain, "primary_type": h.primary_type, "message": data.get("message")});
            (vec![Payload::Prehash(h.digest)], decoded, State::Eip712(h))
        }
        DataType::EthTx => {
            let t = EthTransaction::from_json(data)?;
            (
                vec![Payload::Prehash(t.signing_hash())],
                t.summary(),
                State::EthTx(t),
            )
        }
        DataType::BtcPsbt => {
            let p = PsbtSigning::prepare(data, &verifying_key(public_key)?)?;
            let payloads = p.inputs.iter().map(|i| Payload::Prehash(i.sighash)).collect();
            (payloads, p.summary(), State::Psbt(Box::new(p)))
        }
        DataType::TronTx => {
            let t = TronTransaction::from_json(data)?;
            (vec![Payload::Prehash(t.tx_id())], t.summary(), State::Tron(t))
        }
        DataType::SolanaTx => {
            let t = SolanaTransaction::from_json(data, &ed_key()?)?;
            (
                vec![Payload::Message(t.message.clone())],
                t.summary(),
                State::Solana(t),
            )
        }
        DataType::SolanaMessage => {
            let bytes = solana::offchain_message(data, &ed_key()?)?;
            let decoded = json!({"length": bytes.len()});
            (
                vec![Payload::Message(bytes.clone())],
                decoded,
                State::SolanaMessage(bytes),
            )
        }
    };
    Ok(Prepared {
        data_type,
        kind,
        public_key: public_key.to_vec(),
        payloads,
        decoded,
        state,
    })
}

impl Prepared {
    /// The data type.
    pub fn data_type(&self) -> DataType {
        self.data_type
    }

    /// What the key signs, in order (a PSBT has one payload per input of the key).
    pub fn payloads(&self) -> &[Payload] {
        &self.payloads
    }

    /// The decoded content (recipient, value, chain id, EIP-712 domain, PSBT outputs…),
    /// for risk rules.
    pub fn decoded(&self) -> &Value {
        &self.decoded
    }

    /// Build the answer from the service's signatures, one per payload: every ECDSA
    /// signature is verified against the key, low-s normalised and its v recomputed,
    /// every Ed25519 signature verified strictly; then the chain's signed form.
    pub fn finish(self, signatures: &[Vec<u8>]) -> Result<Map<String, Value>, ChainError> {
        if signatures.len() != self.payloads.len() {
            return Err(ChainError::BadSignature(format!(
                "{} signatures for {} payloads",
                signatures.len(),
                self.payloads.len()
            )));
        }
        let ecdsa = |i: usize| -> Result<EcdsaSignature, ChainError> {
            let Payload::Prehash(d) = &self.payloads[i] else {
                return Err(ChainError::BadSignature(
                    "an ECDSA signature for a message payload".into(),
                ));
            };
            EcdsaSignature::from_service(&signatures[i], d, &verifying_key(&self.public_key)?)
        };
        let mut answer = match &self.state {
            State::Hash | State::Eip191 => ecdsa(0)?.answer(),
            State::Eip712(h) => {
                let mut a = ecdsa(0)?.answer();
                a.insert("domain_separator".into(), to_hex(h.domain_separator).into());
                a.insert("struct_hash".into(), to_hex(h.struct_hash).into());
                a
            }
            State::EthTx(t) => {
                let sig = ecdsa(0)?;
                let mut a = sig.answer();
                a.extend(tx::answer_fields(t, &sig));
                a
            }
            State::Tron(t) => {
                let mut a = ecdsa(0)?.answer();
                a.insert("tx_id".into(), hex::encode(t.tx_id()).into());
                a
            }
            State::Psbt(p) => (**p).clone().finish(signatures)?,
            State::Message => {
                self.check_message_signature(&signatures[0])?;
                let mut a = Map::new();
                a.insert("signature".into(), to_hex(&signatures[0]).into());
                a
            }
            State::Solana(t) => t.finish(&self.check_message_signature(&signatures[0])?),
            State::SolanaMessage(bytes) => {
                let sig = self.check_message_signature(&signatures[0])?;
                let mut a = Map::new();
                a.insert("signature".into(), to_hex(sig).into());
                a.insert("signature_base58".into(), bs58::encode(sig).into_string().into());
                a.insert("signed_bytes".into(), to_hex(bytes).into());
                a
            }
        };
        answer.insert("data_type".into(), self.data_type.as_str().into());
        Ok(answer)
    }

    /// Ed25519: verify strictly (the signature goes on chain as is). BLS: length only,
    /// the caller verifies with blst (this crate does not link it).
    fn check_message_signature(&self, sig: &[u8]) -> Result<[u8; 64], ChainError> {
        match self.kind {
            KeyKind::Ed25519 => {
                let key: [u8; 32] = self.public_key[..]
                    .try_into()
                    .map_err(|_| ChainError::BadPublicKey("Ed25519"))?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&key)
                    .map_err(|_| ChainError::BadPublicKey("Ed25519"))?;
                let sig: [u8; 64] = sig
                    .try_into()
                    .map_err(|_| ChainError::BadSignature(format!("expected 64 bytes, got {}", sig.len())))?;
                vk.verify_strict(
                    self.payloads[0].as_bytes(),
                    &ed25519_dalek::Signature::from_bytes(&sig),
                )
                .map_err(|_| ChainError::BadSignature("the Ed25519 signature does not verify".into()))?;
                Ok(sig)
            }
            _ => {
                if sig.len() != 96 {
                    return Err(ChainError::BadSignature(format!(
                        "expected 96 bytes, got {}",
                        sig.len()
                    )));
                }
                Ok([0; 64])
            }
        }
    }
}
