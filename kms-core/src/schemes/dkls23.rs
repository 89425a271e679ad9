//! DKLS23 threshold ECDSA on secp256k1 from oblivious transfer: the generic DKG followed
//! by a pairwise OT setup (kept inside each key's share, so it needs no node setup
//! material), three signing rounds, and a refresh that renews shares and setup.

use super::gg18::verify_ecdsa_rsv;
use super::{
    started, DkgInput, IntoRunOutput, RefreshInput, RunOutput, Scheme, SchemeRun, SignInput, Started,
};
use crate::domain::{Algorithm, Curve, KeyType};
use crate::KmsError;
use kms_protocols::dkls23::{self, Dkls23KeyShare};
use kms_protocols::gg18::secp256k1::Secp256k1;
use kms_protocols::group::Group;
use kms_protocols::message::Phase;
use kms_protocols::{Envelope, ProtocolError, SessionId, StateMachine};
use rand_chacha::ChaCha20Rng;

/// The DKLS23 scheme.
pub(super) struct Dkls23;

impl IntoRunOutput for Dkls23KeyShare {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Share {
            data: self.to_bytes(),
            public_key: Secp256k1::element_to_bytes(self.public_key()),
            version: self.epoch(),
        }
    }
}

/// A key generation or refresh run, seen under one session id. Its pairwise setup runs
/// under a session id derived from the run's ([`dkls23::setup_session`]); the node and
/// the relay admit one session id per run (and the seal binds it), so setup messages
/// leave under the run's session and are given back the derived one on the way in.
struct OneSession {
    run: dkls23::Dkls23Keygen,
    session: SessionId,
    setup: SessionId,
}

impl OneSession {
    fn start((run, first): (dkls23::Dkls23Keygen, Vec<Envelope>), session: SessionId) -> Started {
        let this = Self {
            run,
            session,
            setup: dkls23::setup_session(&session),
        };
        let first = this.outward(first);
        (Box::new(this), first)
    }

    fn outward(&self, outgoing: Vec<Envelope>) -> Vec<Envelope> {
        outgoing
            .into_iter()
            .map(|mut e| {
                if e.session == self.setup {
                    e.session = self.session;
                }
                e
            })
            .collect()
    }
}

impl SchemeRun for OneSession {
    fn handle(
        &mut self,
        mut msg: Envelope,
        rng: &mut ChaCha20Rng,
    ) -> Result<(Vec<Envelope>, Option<RunOutput>), ProtocolError> {
        // The DKG's phases are Dkg and Refresh; only the setup is Aux.
        if msg.protocol.phase == Phase::Aux && msg.session == self.session {
            msg.session = self.setup;
        }
        let step = StateMachine::handle(&mut self.run, msg, rng)?;
        Ok((
            self.outward(step.outgoing),
            step.output.map(IntoRunOutput::into_run_output),
        ))
    }
}

impl Scheme for Dkls23 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Dkls23
    }
    fn curve(&self) -> Curve {
        Curve::Secp256k1
    }
    fn key_type(&self) -> KeyType {
        KeyType::Ecdsa
    }
    fn check_message(&self, message: &[u8]) -> Result<(), KmsError> {
        super::gg18::prehash(message).map(|_| ())
    }
    fn input_kind(&self) -> super::InputKind {
        super::InputKind::Prehash
    }
    fn start_dkg(&self, i: DkgInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Ok(OneSession::start(
            dkls23::start_dkg(i.session, i.threshold, i.me, rng)?,
            i.session,
        ))
    }
    fn start_sign(&self, i: SignInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let share = Dkls23KeyShare::from_bytes(i.share)?;
        let hash = super::gg18::prehash(i.message)?;
        Ok(started(dkls23::start_sign(
            i.session, &share, i.signers, hash, rng,
        )?))
    }
    fn start_refresh(&self, i: RefreshInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let share = Dkls23KeyShare::from_bytes(i.share)?;
        Ok(OneSession::start(
            dkls23::start_refresh(i.session, &share, rng)?,
            i.session,
        ))
    }
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        verify_ecdsa_rsv(public_key, message, signature)
    }
}
