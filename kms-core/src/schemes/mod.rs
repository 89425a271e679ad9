//! Dispatch from an [`Algorithm`] to the protocol runs of `kms-protocols`, behind one
//! object-safe interface so the node runtime drives every scheme the same way.

use crate::domain::Algorithm;
use crate::KmsError;
use kms_protocols::dkg::Dkg;
use kms_protocols::gg18::aux_info::{AuxSecret, PeerAux};
use kms_protocols::group::Group;
use kms_protocols::{bls, eddsa, gg18};
use kms_protocols::{Envelope, KeyShare, PartyIndex, ProtocolError, SessionId, StateMachine, Threshold};
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// What a finished run hands to the node.
pub(crate) enum RunOutput {
    /// Every other party's verified GG18 aux material (an aux exchange).
    PeerAux(BTreeMap<PartyIndex, PeerAux>),
    /// A new (or refreshed) share to store, with the public key and share version.
    Share {
        data: Zeroizing<Vec<u8>>,
        public_key: Vec<u8>,
        version: u64,
    },
    /// A signature in the scheme's standard encoding.
    Signature(Vec<u8>),
}

/// A protocol run with its output type erased.
pub(crate) trait ErasedRun: Send + Sync {
    fn handle(
        &mut self,
        msg: Envelope,
        rng: &mut ChaCha20Rng,
    ) -> Result<(Vec<Envelope>, Option<RunOutput>), ProtocolError>;
}

/// Outputs of protocol runs, as the node handles them.
pub(crate) trait IntoRunOutput {
    fn into_run_output(self) -> RunOutput;
}

/// Every run whose output the node understands is driven the same way.
impl<S> ErasedRun for S
where
    S: StateMachine + Send + Sync,
    S::Output: IntoRunOutput,
{
    fn handle(
        &mut self,
        msg: Envelope,
        rng: &mut ChaCha20Rng,
    ) -> Result<(Vec<Envelope>, Option<RunOutput>), ProtocolError> {
        let step = StateMachine::handle(self, msg, rng)?;
        Ok((step.outgoing, step.output.map(IntoRunOutput::into_run_output)))
    }
}

/// Groups whose keys the generic DKG produces, with their public key encoding.
pub(crate) trait SchemeGroup: Group {
    fn public_key_bytes(share: &KeyShare<Self>) -> Vec<u8>;
}

impl SchemeGroup for eddsa::Ed25519 {
    fn public_key_bytes(share: &KeyShare<Self>) -> Vec<u8> {
        eddsa::public_key_bytes(share).to_vec()
    }
}

impl SchemeGroup for bls::Bls12381G1 {
    fn public_key_bytes(share: &KeyShare<Self>) -> Vec<u8> {
        bls::public_key_bytes(share).to_vec()
    }
}

impl<G: SchemeGroup> IntoRunOutput for KeyShare<G> {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Share {
            data: self.to_bytes(),
            public_key: G::public_key_bytes(&self),
            version: self.epoch(),
        }
    }
}

impl IntoRunOutput for gg18::Gg18KeyShare {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Share {
            data: self.to_bytes(),
            public_key: self.public_key_bytes(),
            version: self.epoch(),
        }
    }
}

/// Ed25519 (64 bytes) and BLS (96 bytes) signatures.
impl<const N: usize> IntoRunOutput for [u8; N] {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Signature(self.to_vec())
    }
}

/// ECDSA leaves the node as r || s || v.
impl IntoRunOutput for gg18::EcdsaSignature {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Signature(self.to_rsv().to_vec())
    }
}

impl IntoRunOutput for BTreeMap<PartyIndex, PeerAux> {
    fn into_run_output(self) -> RunOutput {
        RunOutput::PeerAux(self)
    }
}

type Started = (Box<dyn ErasedRun>, Vec<Envelope>);

/// What a GG18 DKG needs beyond the common parameters: the node's aux secret and every
/// other party's verified aux material, labelled with its party index in this key.
pub(crate) struct Gg18Inputs {
    pub aux: AuxSecret,
    pub peers: BTreeMap<PartyIndex, PeerAux>,
}

/// Start an aux exchange among `parties` (identity contexts bind each party's proofs
/// to its node).
pub(crate) fn start_aux_exchange(
    session: SessionId,
    me: PartyIndex,
    contexts: BTreeMap<PartyIndex, Vec<u8>>,
    aux: &AuxSecret,
    rng: &mut ChaCha20Rng,
) -> Result<Started, KmsError> {
    let parties: Vec<PartyIndex> = contexts.keys().copied().collect();
    let (run, msgs) = gg18::start_aux_exchange(session, me, &parties, contexts, aux, rng)?;
    Ok((Box::new(run), msgs))
}

fn unsupported(a: Algorithm) -> KmsError {
    KmsError::Unsupported(a.as_str())
}

/// Start a DKG (`gg18` must be given for GG18 keys).
pub(crate) fn start_dkg(
    algorithm: Algorithm,
    session: SessionId,
    threshold: Threshold,
    me: PartyIndex,
    gg18: Option<Gg18Inputs>,
    rng: &mut ChaCha20Rng,
) -> Result<Started, KmsError> {
    fn boxed<G: SchemeGroup>(r: (Dkg<G>, Vec<Envelope>)) -> Started {
        (Box::new(r.0), r.1)
    }
    Ok(match algorithm {
        Algorithm::Eddsa => boxed(eddsa::start_dkg(session, threshold, me, rng)?),
        Algorithm::Bls => boxed(bls::start_dkg(session, threshold, me, rng)?),
        Algorithm::Gg18 => {
            let inputs = gg18.ok_or(KmsError::Unsupported("GG18 without aux material"))?;
            let (run, msgs) = gg18::start_dkg(session, threshold, me, inputs.aux, inputs.peers, rng)?;
            (Box::new(run), msgs)
        }
        other => return Err(unsupported(other)),
    })
}

/// Start a signing run with a stored share.
pub(crate) fn start_sign(
    algorithm: Algorithm,
    share: &[u8],
    session: SessionId,
    signers: &[PartyIndex],
    message: &[u8],
    gg18_pool: Option<&mut gg18::Gg18Precomputed>,
    rng: &mut ChaCha20Rng,
) -> Result<Started, KmsError> {
    fn boxed<S: ErasedRun + 'static>(run: S, msgs: Vec<Envelope>) -> Started {
        (Box::new(run), msgs)
    }
    Ok(match algorithm {
        Algorithm::Eddsa => {
            let share = KeyShare::<eddsa::Ed25519>::from_bytes(share)?;
            let (run, msgs) = eddsa::start_sign(session, &share, signers, message, rng)?;
            boxed(run, msgs)
        }
        Algorithm::Bls => {
            let share = KeyShare::<bls::Bls12381G1>::from_bytes(share)?;
            let (run, msgs) = bls::start_sign(session, &share, signers, message, rng)?;
            boxed(run, msgs)
        }
        Algorithm::Gg18 => {
            let share = gg18::Gg18KeyShare::from_bytes(share)?;
            let hash: [u8; 32] = message
                .try_into()
                .map_err(|_| KmsError::InvalidRequest("ECDSA signs a 32-byte hash".into()))?;
            let (run, msgs) = gg18::start_sign_with(session, &share, signers, hash, gg18_pool, rng)?;
            boxed(run, msgs)
        }
        other => return Err(unsupported(other)),
    })
}

/// What a GG18 refresh needs: this holder's fresh aux secret (a refresh re-keys every
/// holder's Paillier key and ring-Pedersen parameters) and every holder's identity
/// context, by party index.
pub(crate) struct Gg18RefreshInputs {
    pub aux: AuxSecret,
    pub identities: BTreeMap<PartyIndex, Vec<u8>>,
}

/// Start a refresh of a stored share (`gg18` must be given for GG18 keys).
pub(crate) fn start_refresh(
    algorithm: Algorithm,
    share: &[u8],
    session: SessionId,
    gg18: Option<Gg18RefreshInputs>,
    rng: &mut ChaCha20Rng,
) -> Result<Started, KmsError> {
    fn boxed<G: SchemeGroup>(r: (Dkg<G>, Vec<Envelope>)) -> Started {
        (Box::new(r.0), r.1)
    }
    Ok(match algorithm {
        Algorithm::Eddsa => boxed(eddsa::start_refresh(session, KeyShare::from_bytes(share)?, rng)?),
        Algorithm::Bls => boxed(bls::start_refresh(session, KeyShare::from_bytes(share)?, rng)?),
        Algorithm::Gg18 => {
            let inputs = gg18.ok_or(KmsError::Unsupported("GG18 refresh without fresh aux material"))?;
            let share = gg18::Gg18KeyShare::from_bytes(share)?;
            let (run, msgs) = gg18::start_refresh(session, &share, inputs.aux, &inputs.identities, rng)?;
            (Box::new(run), msgs)
        }
        other => return Err(unsupported(other)),
    })
}

/// Verify a finished signature with the scheme's standard verifier.
pub fn verify_signature(algorithm: Algorithm, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    match algorithm {
        Algorithm::Eddsa => match (
            <&[u8; 32]>::try_from(public_key),
            <&[u8; 64]>::try_from(signature),
        ) {
            (Ok(pk), Ok(sig)) => eddsa::verify(pk, message, sig),
            _ => false,
        },
        Algorithm::Bls => match (
            <&[u8; 48]>::try_from(public_key),
            <&[u8; 96]>::try_from(signature),
        ) {
            (Ok(pk), Ok(sig)) => bls::verify(pk, message, sig),
            _ => false,
        },
        Algorithm::Gg18 => verify_ecdsa_rsv(public_key, message, signature),
        _ => false,
    }
}

/// Check a 65-byte r||s||v ECDSA signature over a 32-byte hash with k256: valid, low-s,
/// and v = 27 + the recovery id that recovers `public_key`.
fn verify_ecdsa_rsv(public_key: &[u8], hash: &[u8], rsv: &[u8]) -> bool {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
    if rsv.len() != 65 || hash.len() != 32 {
        return false;
    }
    let (Ok(vk), [rs @ .., v]) = (VerifyingKey::from_sec1_bytes(public_key), rsv) else {
        return false;
    };
    let (Ok(sig), Some(recid)) = (
        Signature::from_slice(rs),
        v.checked_sub(27).and_then(RecoveryId::from_byte),
    ) else {
        return false;
    };
    sig.normalize_s().is_none()
        && vk.verify_prehash(hash, &sig).is_ok()
        && VerifyingKey::recover_from_prehash(hash, &sig, recid).is_ok_and(|k| k == vk)
}
