//! The wire envelope every protocol message travels in.

use crate::codec;
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
    /// DMZ21 threshold ECDSA on secp256k1 (CL encryption in a class group).
    Dmz21,
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

const ENVELOPE_KIND: &str = "kms/envelope";

impl Scheme {
    fn tag(self) -> u8 {
        match self {
            Scheme::Eddsa => 1,
            Scheme::Bls => 2,
            Scheme::Gg18 => 3,
            Scheme::Dkls23 => 4,
            Scheme::Dmz21 => 5,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        [
            Scheme::Eddsa,
            Scheme::Bls,
            Scheme::Gg18,
            Scheme::Dkls23,
            Scheme::Dmz21,
        ]
        .into_iter()
        .find(|s| s.tag() == tag)
    }
}

impl Phase {
    fn tag(self) -> u8 {
        match self {
            Phase::Dkg => 1,
            Phase::Sign => 2,
            Phase::Refresh => 3,
            Phase::Aux => 4,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        [Phase::Dkg, Phase::Sign, Phase::Refresh, Phase::Aux]
            .into_iter()
            .find(|p| p.tag() == tag)
    }
}

impl Envelope {
    /// Encode for the wire, as a [`crate::codec`] record: scheme and phase tags, the
    /// protocol version, session, round, sender, recipient (0 = all, 1 = one party
    /// followed by its index) and the length-prefixed payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = codec::Writer::new(ENVELOPE_KIND, 48 + self.payload.len());
        w.u8(self.protocol.scheme.tag())
            .u8(self.protocol.phase.tag())
            .u16(self.protocol.version)
            .fixed(&self.session.0)
            .u16(self.round)
            .u16(self.sender.get());
        match self.recipient {
            Recipient::All => w.u8(0),
            Recipient::One(p) => w.u8(1).u16(p.get()),
        };
        w.bytes(&self.payload);
        // An envelope holds no secret in the clear (point-to-point payloads are sealed
        // by the transport), so the buffer can leave its zeroizing wrapper.
        std::mem::take(&mut *w.finish())
    }

    /// Decode from the wire. The sender is not known yet, so a failure names nobody;
    /// transports attribute it to the authenticated peer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Fault> {
        Self::decode_record(bytes).map_err(|e| Fault::Malformed(format!("envelope: {e}")))
    }

    fn decode_record(bytes: &[u8]) -> Result<Self, codec::CodecError> {
        use codec::CodecError::Invalid;
        let mut r = codec::Reader::open(ENVELOPE_KIND, bytes)?;
        let scheme = Scheme::from_tag(r.u8("scheme")?).ok_or(Invalid("scheme"))?;
        let phase = Phase::from_tag(r.u8("phase")?).ok_or(Invalid("phase"))?;
        let version = r.u16("protocol version")?;
        let mut session = [0u8; 32];
        session.copy_from_slice(r.fixed(32, "session")?);
        let round = r.u16("round")?;
        let sender = PartyIndex::new(r.u16("sender")?).ok_or(Invalid("sender"))?;
        let recipient = match r.u8("recipient")? {
            0 => Recipient::All,
            1 => Recipient::One(PartyIndex::new(r.u16("recipient")?).ok_or(Invalid("recipient"))?),
            _ => return Err(Invalid("recipient")),
        };
        let payload = r.bytes("payload")?.to_vec();
        r.finish()?;
        Ok(Envelope {
            protocol: ProtocolId {
                scheme,
                phase,
                version,
            },
            session: SessionId(session),
            round,
            sender,
            recipient,
            payload,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_through_the_codec() {
        for (phase, recipient) in [
            (Phase::Dkg, Recipient::All),
            (Phase::Aux, Recipient::One(PartyIndex::new(3).unwrap())),
        ] {
            let env = Envelope {
                protocol: ProtocolId {
                    scheme: Scheme::Gg18,
                    phase,
                    version: 2,
                },
                session: SessionId([7; 32]),
                round: 4,
                sender: PartyIndex::new(2).unwrap(),
                recipient,
                payload: vec![1, 2, 3],
            };
            let bytes = env.to_bytes();
            assert_eq!(bytes[0], codec::CODEC_VERSION);
            assert_eq!(Envelope::from_bytes(&bytes).unwrap(), env);
            let mut future = bytes.clone();
            future[0] += 1;
            assert!(matches!(
                Envelope::from_bytes(&future),
                Err(Fault::Malformed(m)) if m.contains("version")
            ));
            let mut longer = bytes;
            longer.push(0);
            assert!(Envelope::from_bytes(&longer).is_err());
        }
    }
}
