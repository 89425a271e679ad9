//! Sealing of relayed protocol messages between nodes.
//!
//! Every message a node emits is signed with its identity key over a domain-separated
//! encoding of the whole envelope and routing data. Point-to-point payloads are also
//! encrypted end to end: AES-256-GCM under a key derived by HKDF-SHA256 from the X25519
//! shared secret of the two node identities, salted with the session id and bound to the
//! direction (sender, receiver); the AAD binds protocol, session, round, sender and
//! receiver. The coordinator relays sealed messages; it cannot read or forge
//! point-to-point payloads (it does see broadcast payloads, which are signed only).
//!
//! Opening checks the session the receiver expects, so a message recorded in another
//! session is refused as [`SealError::WrongSession`] (a relay fault, never the signer's:
//! the signer did sign it, for its own session). Exact duplicates are the receiving
//! node's to drop (see the node runtime).
//!
//! A node that blames the sender of a point-to-point message can disclose the
//! [`OpeningKey`] of that one direction in that one session (never its identity
//! secret), so that the coordinator can check the accusation with
//! [`open_disclosed`].

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
#[non_exhaustive]
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
    /// The message was signed for another session than the one being run: a replay by
    /// the relay or the network, not a fault of its signer.
    #[error("relay fault: a message signed by {0} for another session was delivered")]
    WrongSession(NodeId),
}

/// The AES-256-GCM key of one direction (sender to receiver) of one session, as a
/// receiver discloses it to back an accusation. It opens only the point-to-point
/// messages of that sender to that receiver in that session; the node identity secrets
/// stay private. Zeroized on drop; Debug is redacted.
#[derive(Clone, Serialize, Deserialize)]
pub struct OpeningKey([u8; 32]);

impl OpeningKey {
    fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for OpeningKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl std::fmt::Debug for OpeningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpeningKey(<redacted>)")
    }
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

/// Check and open a relayed message addressed to `me` in session `expected`.
pub fn open(
    me: &NodeIdentity,
    directory: &PeerDirectory,
    parties: &SessionParties,
    expected: &SessionId,
    sealed: SealedMessage,
) -> Result<Envelope, SealError> {
    open_with_key(me, directory, parties, expected, sealed).map(|(e, _)| e)
}

/// Verify the sending node's signature over a sealed message (nothing else): the
/// message was produced, as it is, by `sealed.from`.
pub fn verify_sender(directory: &PeerDirectory, sealed: &SealedMessage) -> Result<(), SealError> {
    let from = &sealed.from;
    let peer = directory
        .get(from)
        .ok_or_else(|| SealError::UnknownNode(from.clone()))?;
    let vk =
        VerifyingKey::from_bytes(&peer.verifying_key).map_err(|_| SealError::UnknownNode(from.clone()))?;
    let sig = Signature::from_slice(&sealed.signature).map_err(|_| SealError::BadSignature(from.clone()))?;
    vk.verify_strict(
        &signed_bytes(&sealed.envelope, from, &sealed.to, &sealed.nonce),
        &sig,
    )
    .map_err(|_| SealError::BadSignature(from.clone()))
}

/// [`open`], also handing back the key that opened a point-to-point payload, so the
/// receiver can later disclose it as evidence.
pub fn open_with_key(
    me: &NodeIdentity,
    directory: &PeerDirectory,
    parties: &SessionParties,
    expected: &SessionId,
    sealed: SealedMessage,
) -> Result<(Envelope, Option<OpeningKey>), SealError> {
    let from = sealed.from.clone();
    if parties.get(&sealed.envelope.sender) != Some(&from) {
        return Err(SealError::Routing(
            from,
            "sender party is not held by the sending node",
        ));
    }
    verify_sender(directory, &sealed)?;
    // Checked after the signature: only a message its sender really signed, for
    // another session, is a replay (anything else is tampering).
    if &sealed.envelope.session != expected {
        return Err(SealError::WrongSession(from));
    }
    let peer = directory
        .get(&from)
        .ok_or_else(|| SealError::UnknownNode(from.clone()))?;
    let envelope = sealed.envelope;
    match (envelope.recipient, sealed.to, sealed.nonce) {
        (Recipient::All, None, None) => Ok((envelope, None)),
        (Recipient::One(p), Some(to), Some(nonce)) => {
            if &to != me.node() || parties.get(&p) != Some(&to) {
                return Err(SealError::Routing(
                    from,
                    "point-to-point message for another node",
                ));
            }
            let key = pairwise_key(me, &peer.dh_public, &envelope.session, &from, &to);
            let key = OpeningKey(*key);
            let envelope = decrypt(envelope, &from, &to, &nonce, &key)?;
            Ok((envelope, Some(key)))
        }
        _ => Err(SealError::Routing(from, "recipient and sealing data disagree")),
    }
}

fn decrypt(
    mut envelope: Envelope,
    from: &NodeId,
    to: &NodeId,
    nonce: &[u8; 12],
    key: &OpeningKey,
) -> Result<Envelope, SealError> {
    let cipher = Aes256Gcm::new_from_slice(key.bytes()).expect("32-byte key");
    let aad = aad(&envelope, from, to);
    envelope.payload = cipher
        .decrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: &envelope.payload,
                aad: &aad,
            },
        )
        .map_err(|_| SealError::BadCiphertext(from.clone()))?;
    Ok(envelope)
}

/// Open a sealed message with a disclosed key, as the coordinator does to check an
/// accusation: a broadcast comes back as it is; a point-to-point payload is decrypted
/// with `key` (AES-GCM's tag shows the key is the one the sender encrypted under:
/// finding another key under which an honest sender's ciphertext and tag verify is a
/// 2^128 search). The signature is not checked here: see [`verify_sender`].
pub fn open_disclosed(sealed: &SealedMessage, key: Option<&OpeningKey>) -> Result<Envelope, SealError> {
    let from = &sealed.from;
    match (sealed.envelope.recipient, &sealed.to, &sealed.nonce, key) {
        (Recipient::All, None, None, _) => Ok(sealed.envelope.clone()),
        (Recipient::One(_), Some(to), Some(nonce), Some(key)) => {
            decrypt(sealed.envelope.clone(), from, to, nonce, key)
        }
        (Recipient::One(_), Some(_), Some(_), None) => Err(SealError::BadCiphertext(from.clone())),
        _ => Err(SealError::Routing(
            from.clone(),
            "recipient and sealing data disagree",
        )),
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

    const S: SessionId = SessionId([9; 32]);

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
        assert_eq!(open(&ids[1], &dir, &parties, &S, sealed.clone()).unwrap(), env);
        // The third node cannot open it.
        assert!(matches!(
            open(&ids[2], &dir, &parties, &S, sealed),
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
            open(&ids[1], &dir, &parties, &S, flipped),
            Err(SealError::BadSignature(ids[0].node().clone()))
        );
        let mut rerouted = sealed.clone();
        rerouted.envelope.round = 3;
        assert!(matches!(
            open(&ids[1], &dir, &parties, &S, rerouted),
            Err(SealError::BadSignature(_))
        ));
        let broadcast = seal(&ids[0], &dir, &parties, envelope(Recipient::All), &mut rng).unwrap();
        let mut forged = broadcast.clone();
        forged.envelope.payload = b"forged".to_vec();
        assert!(matches!(
            open(&ids[2], &dir, &parties, &S, forged),
            Err(SealError::BadSignature(_))
        ));
        assert_eq!(
            open(&ids[2], &dir, &parties, &S, broadcast).unwrap(),
            envelope(Recipient::All)
        );
        // A message claiming another node's party.
        let mut impostor = seal(&ids[2], &dir, &parties, envelope(Recipient::All), &mut rng).unwrap();
        impostor.from = ids[2].node().clone();
        assert!(matches!(
            open(&ids[1], &dir, &parties, &S, impostor),
            Err(SealError::Routing(..))
        ));
    }

    #[test]
    fn review_storage_m2_a_message_of_another_session_is_a_relay_fault() {
        let (ids, dir, parties, mut rng) = setup();
        let sealed = seal(&ids[0], &dir, &parties, envelope(Recipient::All), &mut rng).unwrap();
        // Validly signed by tss1, but for session 9: delivered into session 8 it is a
        // replay, named as such, not as a bad signature of its sender.
        assert_eq!(
            open(&ids[1], &dir, &parties, &SessionId([8; 32]), sealed),
            Err(SealError::WrongSession(ids[0].node().clone()))
        );
    }

    #[test]
    fn a_disclosed_key_opens_that_one_payload_and_no_other_key_does() {
        let (ids, dir, parties, mut rng) = setup();
        let env = envelope(Recipient::One(PartyIndex::new(2).unwrap()));
        let sealed = seal(&ids[0], &dir, &parties, env.clone(), &mut rng).unwrap();
        let (opened, key) = open_with_key(&ids[1], &dir, &parties, &S, sealed.clone()).unwrap();
        assert_eq!(opened, env);
        let key = key.expect("point-to-point messages have a key");
        assert_eq!(format!("{key:?}"), "OpeningKey(<redacted>)");
        assert_eq!(open_disclosed(&sealed, Some(&key)).unwrap(), env);
        assert!(verify_sender(&dir, &sealed).is_ok());
        let wrong = OpeningKey([7; 32]);
        assert_eq!(
            open_disclosed(&sealed, Some(&wrong)),
            Err(SealError::BadCiphertext(ids[0].node().clone()))
        );
        assert!(open_disclosed(&sealed, None).is_err());
        // The key of the other direction does not open it either.
        let back = seal(
            &ids[1],
            &dir,
            &parties,
            Envelope {
                sender: PartyIndex::new(2).unwrap(),
                recipient: Recipient::One(PartyIndex::new(1).unwrap()),
                ..env.clone()
            },
            &mut rng,
        )
        .unwrap();
        let (_, back_key) = open_with_key(&ids[0], &dir, &parties, &S, back).unwrap();
        assert!(open_disclosed(&sealed, back_key.as_ref()).is_err());
        let mut forged = sealed.clone();
        forged.signature[0] ^= 1;
        assert!(verify_sender(&dir, &forged).is_err());
    }
}
