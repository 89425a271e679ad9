//! The wire envelope every protocol message travels in.

use crate::error::{Fault, ProtocolError};
use crate::party::{PartyIndex, SessionId};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The signature scheme family of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scheme {
    /// Threshold Ed25519 (FROST, RFC 9591).
    Eddsa,
    /// Threshold BLS12-381 (Ethereum 2.0 ciphersuite).
    Bls,
    /// GG18 threshold ECDSA on secp256k1.
    Gg18,
    /// DKLS23 threshold ECDSA on secp256k1 (OT-based, three rounds).
    Dkls23,
}

/// What a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Distributed key generation.
    Dkg,
    /// Threshold signing.
    Sign,
    /// Proactive share refresh.
    Refresh,
    /// Auxiliary material exchange (e.g. Paillier keys and their proofs).
    Aux,
}

/// Identifies the protocol a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProtocolId {
    /// Scheme family.
    pub scheme: Scheme,
    /// Which run of that scheme.
    pub phase: Phase,
    /// Wire version; a mismatch is rejected rather than guessed at.
    pub version: u16,
}

/// Where a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Recipient {
    /// Every other participant (a broadcast; its consistency is checked by echo).
    All,
    /// One participant (point-to-point; the transport seals it end to end).
    One(PartyIndex),
}

/// One protocol message. The payload is the protocol's own serde type, encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Protocol, phase and version.
    pub protocol: ProtocolId,
    /// The run.
    pub session: SessionId,
    /// Round number, from 1.
    pub round: u16,
    /// Who sent it.
    pub sender: PartyIndex,
    /// Who it is for.
    pub recipient: Recipient,
    /// Encoded round payload.
    pub payload: Vec<u8>,
}

impl Envelope {
    /// Encode for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decode from the wire. The sender is not known yet, so a failure names nobody;
    /// transports attribute it to the authenticated peer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Fault> {
        postcard::from_bytes(bytes).map_err(|e| Fault::Malformed(format!("envelope: {e}")))
    }

    /// Decode the payload as `T`, blaming the sender if it does not decode.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ProtocolError> {
        decode_payload(&self.payload).map_err(|e| ProtocolError::culprit(self.sender, e))
    }
}

/// Encode a payload (infallible for the types of this crate).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("serialising an in-memory value cannot fail")
}

/// Decode a payload; trailing bytes are an error so one message has one meaning.
pub fn decode_payload<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Fault> {
    let (v, rest) = postcard::take_from_bytes(bytes).map_err(|e| Fault::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(Fault::Malformed(format!("{} trailing bytes", rest.len())));
    }
    Ok(v)
}
