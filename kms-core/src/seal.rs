//! Sealing of relayed protocol messages between nodes.
//!
//! Every message a node emits is signed with its identity key over a domain-separated
//! encoding of the whole envelope and routing data. Point-to-point payloads are also
//! encrypted end to end: AES-256-GCM under a key derived by HKDF-SHA256 from the X25519
//! shared secret of the two node identities, salted with the session id and bound to the
//! direction (sender, receiver); the AAD binds protocol, session, round, sender and
//! receiver. The coordinator relays sealed messages and learns only routing data.

use crate::domain::NodeId;
use crate::identity::{NodeIdentity, PeerDirectory};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use hkdf::Hkdf;
use kms_protocols::{Envelope, PartyIndex, Recipient, SessionId};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use x25519_dalek::PublicKey as DhPublic;
use zeroize::Zeroizing;

/// A protocol message as relayed: the envelope (its payload encrypted if it is
/// point-to-point), the sending and receiving nodes, and the sender's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedMessage {
    /// The envelope; for point-to-point messages `payload` is the AES-GCM ciphertext.
    pub envelope: Envelope,
    /// The sending node.
    pub from: NodeId,
    /// The receiving node (point-to-point only).
    pub to: Option<NodeId>,
    /// AES-GCM nonce (point-to-point only).
    pub nonce: Option<[u8; 12]>,
    /// Ed25519 signature of the sending node over everything above.
    pub signature: Vec<u8>,
}

/// Why a relayed message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// A node of the session has no pinned identity.
    #[error("no pinned identity for node {0}")]
    UnknownNode(NodeId),
    /// The message's party does not belong to the node it claims to come from, or is
    /// not in the session.
    #[error("routing data of a message claimed from {0} is inconsistent: {1}")]
    Routing(NodeId, &'static str),
    /// The signature does not verify: the relay or someone on the path altered it.
    #[error("signature of a message claimed from {0} does not verify")]
    BadSignature(NodeId),
    /// The payload does not decrypt under the pairwise key.
    #[error("payload of a message claimed from {0} does not decrypt")]
    BadCiphertext(NodeId),
}

/// The parties of one session and the node of each.
pub type SessionParties = BTreeMap<PartyIndex, NodeId>;

fn signed_bytes(
    envelope: &Envelope,
    from: &NodeId,
    to: &Option<NodeId>,
    nonce: &Option<[u8; 12]>,
) -> Vec<u8> {
    let mut out = b"kms-relay-signature/v1".to_vec();
    let body = kms_protocols::message::encode(&(envelope, from, to, nonce));
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn aad(envelope: &Envelope, from: &NodeId, to: &NodeId) -> Vec<u8> {
    kms_protocols::message::encode(&(
        b"kms-p2p-aad/v1",
        envelope.protocol,
        envelope.session,
        envelope.round,
        envelope.sender,
        envelope.recipient,
        from,
        to,
    ))
}

fn pairwise_key(
    me: &NodeIdentity,
    peer_dh: &[u8; 32],
    session: &SessionId,
    from: &NodeId,
    to: &NodeId,
) -> Zeroizing<[u8; 32]> {
    let shared = me.dh().diffie_hellman(&DhPublic::from(*peer_dh));
    let hk = Hkdf::<Sha256>::new(Some(&session.0), shared.as_bytes());
    let info = kms_protocols::message::encode(&(b"kms-p2p-key/v1", from, to));
    let mut key = Zeroizing::new([0u8; 32]);
    hk.expand(&info, key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 length");
    key
}

/// Seal an outgoing envelope of `me` for the session's `parties`.
pub fn seal<R: RngCore + CryptoRng>(
    me: &NodeIdentity,
    directory: &PeerDirectory,
    parties: &SessionParties,
    mut envelope: Envelope,
    rng: &mut R,
) -> Result<SealedMessage, SealError> {
    let from = me.node().clone();
    let (to, nonce) = match envelope.recipient {
        Recipient::All => (None, None),
        Recipient::One(p) => {
            let to = parties
                .get(&p)
                .ok_or(SealError::Routing(from.clone(), "recipient not in session"))?;
            let peer = directory
                .get(to)
                .ok_or_else(|| SealError::UnknownNode(to.clone()))?;
            let key = pairwise_key(me, &peer.dh_public, &envelope.session, &from, to);
            let mut nonce = [0u8; 12];
            rng.fill_bytes(&mut nonce);
            let cipher = Aes256Gcm::new_from_slice(key.as_ref()).expect("32-byte key");
            let aad = aad(&envelope, &from, to);
            let ct = cipher
                .encrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: &envelope.payload,
                        aad: &aad,
                    },
                )
                .expect("AES-GCM encryption of a bounded message cannot fail");
            envelope.payload = ct;
            (Some(to.clone()), Some(nonce))
        }
    };
    let signature = me
        .signing_key()
        .sign(&signed_bytes(&envelope, &from, &to, &nonce))
        .to_bytes()
        .to_vec();
    Ok(SealedMessage {
        envelope,
        from,
        to,
        nonce,
        signature,
    })
}

/// Check and open a relayed message addressed to `me`.
pub fn open(
    me: &NodeIdentity,
    directory: &PeerDirectory,
    parties: &SessionParties,
    sealed: SealedMessage,
) -> Result<Envelope, SealError> {
    let from = sealed.from.clone();
    if parties.get(&sealed.envelope.sender) != Some(&from) {
        return Err(SealError::Routing(
            from,
            "sender party is not held by the sending node",
        ));
    }
    let peer = directory
        .get(&from)
        .ok_or_else(|| SealError::UnknownNode(from.clone()))?;
    let vk =
        VerifyingKey::from_bytes(&peer.verifying_key).map_err(|_| SealError::UnknownNode(from.clone()))?;
    let sig = Signature::from_slice(&sealed.signature).map_err(|_| SealError::BadSignature(from.clone()))?;
    vk.verify_strict(
        &signed_bytes(&sealed.envelope, &from, &sealed.to, &sealed.nonce),
        &sig,
    )
    .map_err(|_| SealError::BadSignature(from.clone()))?;
    let mut envelope = sealed.envelope;
    match (envelope.recipient, sealed.to, sealed.nonce) {
        (Recipient::All, None, None) => Ok(envelope),
        (Recipient::One(p), Some(to), Some(nonce)) => {
            if &to != me.node() || parties.get(&p) != Some(&to) {
                return Err(SealError::Routing(
                    from,
                    "point-to-point message for another node",
                ));
            }
            let key = pairwise_key(me, &peer.dh_public, &envelope.session, &from, &to);
            let cipher = Aes256Gcm::new_from_slice(key.as_ref()).expect("32-byte key");
            let aad = aad(&envelope, &from, &to);
            envelope.payload = cipher
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: &envelope.payload,
                        aad: &aad,
                    },
                )
                .map_err(|_| SealError::BadCiphertext(from))?;
            Ok(envelope)
        }
        _ => Err(SealError::Routing(from, "recipient and sealing data disagree")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kms_protocols::{Phase, ProtocolId, Scheme};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn setup() -> (Vec<NodeIdentity>, PeerDirectory, SessionParties, ChaCha20Rng) {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let ids: Vec<NodeIdentity> = (1..=3)
            .map(|i| NodeIdentity::generate(NodeId::new(format!("tss{i}")).unwrap(), &mut rng))
            .collect();
        let dir = PeerDirectory::new(ids.iter().map(|i| i.public()));
        let parties = ids
            .iter()
            .enumerate()
            .map(|(k, i)| (PartyIndex::new(k as u16 + 1).unwrap(), i.node().clone()))
            .collect();
        (ids, dir, parties, rng)
    }

    fn envelope(to: Recipient) -> Envelope {
        Envelope {
            protocol: ProtocolId {
                scheme: Scheme::Eddsa,
                phase: Phase::Dkg,
                version: 1,
            },
            session: SessionId([9; 32]),
            round: 2,
            sender: PartyIndex::new(1).unwrap(),
            recipient: to,
            payload: b"secret share bytes".to_vec(),
        }
    }

    #[test]
    fn p2p_round_trip_hides_the_payload() {
        let (ids, dir, parties, mut rng) = setup();
        let env = envelope(Recipient::One(PartyIndex::new(2).unwrap()));
        let sealed = seal(&ids[0], &dir, &parties, env.clone(), &mut rng).unwrap();
        assert!(
            !sealed.envelope.payload.windows(6).any(|w| w == b"secret"),
            "relay sees ciphertext only"
        );
        assert_eq!(open(&ids[1], &dir, &parties, sealed.clone()).unwrap(), env);
        // The third node cannot open it.
        assert!(matches!(
            open(&ids[2], &dir, &parties, sealed),
            Err(SealError::Routing(..))
        ));
    }

    #[test]
    fn tampering_is_caught() {
        let (ids, dir, parties, mut rng) = setup();
        let sealed = seal(
            &ids[0],
            &dir,
            &parties,
            envelope(Recipient::One(PartyIndex::new(2).unwrap())),
            &mut rng,
        )
        .unwrap();
        let mut flipped = sealed.clone();
        flipped.envelope.payload[0] ^= 1;
        assert_eq!(
            open(&ids[1], &dir, &parties, flipped),
            Err(SealError::BadSignature(ids[0].node().clone()))
        );
        let mut rerouted = sealed.clone();
        rerouted.envelope.round = 3;
        assert!(matches!(
            open(&ids[1], &dir, &parties, rerouted),
            Err(SealError::BadSignature(_))
        ));
        let broadcast = seal(&ids[0], &dir, &parties, envelope(Recipient::All), &mut rng).unwrap();
        let mut forged = broadcast.clone();
        forged.envelope.payload = b"forged".to_vec();
        assert!(matches!(
            open(&ids[2], &dir, &parties, forged),
            Err(SealError::BadSignature(_))
        ));
        assert_eq!(
            open(&ids[2], &dir, &parties, broadcast).unwrap(),
            envelope(Recipient::All)
        );
        // A message claiming another node's party.
        let mut impostor = seal(&ids[2], &dir, &parties, envelope(Recipient::All), &mut rng).unwrap();
        impostor.from = ids[2].node().clone();
        assert!(matches!(
            open(&ids[1], &dir, &parties, impostor),
            Err(SealError::Routing(..))
        ));
    }
}
