//! DMZ21 threshold ECDSA on secp256k1 from class groups: key generation that proves
//! every holder's CL and EC-ElGamal keys (kept inside each key's share, so the scheme
//! needs no node setup material), signing as the offline rounds 1-4 followed in the
//! same session by the online rounds 5-9, and a refresh of the secp256k1 share.
//!
//! Every run uses the published 128-bit CL parameters ([`ClParams::secp256k1`]),
//! derived once per process on first use (about a second).

use super::gg18::{prehash, verify_ecdsa_rsv};
use super::{
    started, DkgInput, IntoRunOutput, RefreshInput, RunOutput, Scheme, SchemeRun, SignInput, Started,
};
use crate::domain::{Algorithm, Curve, KeyType};
use crate::KmsError;
use kms_protocols::class_group::cl_hsm::ClParams;
use kms_protocols::dmz21::{self, Dmz21KeyShare, Dmz21Online, Dmz21Presign};
use kms_protocols::gg18::secp256k1::Secp256k1;
use kms_protocols::group::Group;
use kms_protocols::{Envelope, Fault, PartyIndex, ProtocolError, StateMachine};
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The first online round: a faster signer may send it before this one has finished
/// the offline rounds.
const FIRST_ONLINE_ROUND: u16 = 5;

/// The DMZ21 scheme.
pub(super) struct Dmz21;

/// The CL parameters every DMZ21 run of this process uses.
fn params() -> &'static ClParams {
    static PARAMS: OnceLock<ClParams> = OnceLock::new();
    PARAMS.get_or_init(ClParams::secp256k1)
}

impl IntoRunOutput for Dmz21KeyShare {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Share {
            data: self.to_bytes(params()),
            public_key: Secp256k1::element_to_bytes(self.public_key()),
            version: self.epoch(),
        }
    }
}

enum Stage {
    Offline(Box<Dmz21Presign>),
    Online(Box<Dmz21Online>),
    Done,
}

/// One signing session: the offline rounds, then the online rounds on the
/// presignature they produce (which is consumed there and never leaves memory).
struct Dmz21Sign {
    stage: Stage,
    hash: [u8; 32],
    me: PartyIndex,
    signers: BTreeSet<PartyIndex>,
    /// Round-5 messages that came before the offline rounds finished here: at most
    /// one per other signer.
    early: Vec<Envelope>,
}

impl Dmz21Sign {
    /// Hold an early round-5 message, or refuse a message no honest signer sends
    /// while this one is still offline.
    fn hold(&mut self, msg: Envelope, expected: u16) -> Result<(), ProtocolError> {
        let from = msg.sender;
        if from == self.me || !self.signers.contains(&from) {
            return Err(ProtocolError::culprit(from, Fault::UnknownSender));
        }
        if msg.round != FIRST_ONLINE_ROUND {
            return Err(ProtocolError::culprit(
                from,
                Fault::WrongRound {
                    got: msg.round,
                    expected,
                },
            ));
        }
        if self.early.iter().any(|e| e.sender == from) {
            return Err(ProtocolError::culprit(
                from,
                Fault::Duplicate { round: msg.round },
            ));
        }
        self.early.push(msg);
        Ok(())
    }
}

impl SchemeRun for Dmz21Sign {
    fn handle(
        &mut self,
        msg: Envelope,
        rng: &mut ChaCha20Rng,
    ) -> Result<(Vec<Envelope>, Option<RunOutput>), ProtocolError> {
        match &mut self.stage {
            Stage::Offline(run) => {
                if msg.round >= FIRST_ONLINE_ROUND {
                    let current = run.current_round();
                    self.hold(msg, current)?;
                    return Ok((Vec::new(), None));
                }
                let step = StateMachine::handle(run.as_mut(), msg, rng)?;
                let mut outgoing = step.outgoing;
                let Some(presignature) = step.output else {
                    return Ok((outgoing, None));
                };
                let (mut online, first) = dmz21::start_online(presignature, self.hash, rng)?;
                outgoing.extend(first);
                let mut output = None;
                for early in std::mem::take(&mut self.early) {
                    let step = StateMachine::handle(&mut online, early, rng)?;
                    outgoing.extend(step.outgoing);
                    output = output.or(step.output);
                }
                if let Some(sig) = output {
                    self.stage = Stage::Done;
                    return Ok((outgoing, Some(sig.into_run_output())));
                }
                self.stage = Stage::Online(Box::new(online));
                Ok((outgoing, None))
            }
            Stage::Online(run) => {
                let step = StateMachine::handle(run.as_mut(), msg, rng)?;
                if step.output.is_some() {
                    self.stage = Stage::Done;
                }
                Ok((step.outgoing, step.output.map(IntoRunOutput::into_run_output)))
            }
            Stage::Done => Err(ProtocolError::Finished),
        }
    }
}

impl Scheme for Dmz21 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Dmz21
    }
    fn curve(&self) -> Curve {
        Curve::Secp256k1
    }
    fn key_type(&self) -> KeyType {
        KeyType::Ecdsa
    }
    fn check_message(&self, message: &[u8]) -> Result<(), KmsError> {
        prehash(message).map(|_| ())
    }
    /// Class-group proofs take a noticeable time to make and check.
    fn heavy_steps(&self) -> bool {
        true
    }
    fn start_dkg(&self, i: DkgInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Ok(started(dmz21::start_keygen(
            params(),
            i.session,
            i.threshold,
            i.me,
            rng,
        )?))
    }
    fn start_sign(&self, i: SignInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let share = Dmz21KeyShare::from_bytes(params(), i.share)?;
        let hash = prehash(i.message)?;
        let (run, first) = dmz21::start_presign(params(), i.session, &share, i.signers, rng)?;
        let run = Dmz21Sign {
            stage: Stage::Offline(Box::new(run)),
            hash,
            me: share.index(),
            signers: i.signers.iter().copied().collect(),
            early: Vec::new(),
        };
        Ok((Box::new(run), first))
    }
    fn start_refresh(&self, i: RefreshInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let share = Dmz21KeyShare::from_bytes(params(), i.share)?;
        Ok(started(dmz21::start_refresh(i.session, &share, rng)?))
    }
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        verify_ecdsa_rsv(public_key, message, signature)
    }
}
