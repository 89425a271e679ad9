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
    fn input_kind(&self) -> super::InputKind {
        super::InputKind::Prehash
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

#[cfg(test)]
mod tests {
    use super::*;
    use kms_protocols::{Recipient, SessionId, Threshold};
    use rand_core::SeedableRng;
    use std::collections::{BTreeMap, VecDeque};

    fn p(i: u16) -> PartyIndex {
        PartyIndex::new(i).unwrap()
    }

    /// Messages waiting for each party, in sending order.
    type Queues = BTreeMap<PartyIndex, VecDeque<Envelope>>;

    fn post(queues: &mut Queues, msgs: Vec<Envelope>) {
        for m in msgs {
            let to: Vec<PartyIndex> = match m.recipient {
                Recipient::All => queues.keys().copied().filter(|q| *q != m.sender).collect(),
                Recipient::One(q) => vec![q],
            };
            for q in to {
                queues.get_mut(&q).unwrap().push_back(m.clone());
            }
        }
    }

    /// Run to the end. `pick` chooses which of a party's waiting messages it takes
    /// next, or `None` to let the other parties go first (when no other party has
    /// anything waiting, the party takes its oldest message).
    fn run(
        runs: BTreeMap<PartyIndex, Started>,
        rng: &mut ChaCha20Rng,
        pick: impl Fn(PartyIndex, &VecDeque<Envelope>) -> Option<usize>,
    ) -> BTreeMap<PartyIndex, RunOutput> {
        let mut queues: Queues = runs.keys().map(|q| (*q, VecDeque::new())).collect();
        let mut active = BTreeMap::new();
        for (q, (run, first)) in runs {
            post(&mut queues, first);
            active.insert(q, run);
        }
        let mut outputs = BTreeMap::new();
        loop {
            let waiting: Vec<PartyIndex> = queues
                .iter()
                .filter(|(_, m)| !m.is_empty())
                .map(|(q, _)| *q)
                .collect();
            let Some(first) = waiting.first().copied() else {
                break;
            };
            let (q, i) = waiting
                .iter()
                .find_map(|q| pick(*q, &queues[q]).map(|i| (*q, i)))
                .unwrap_or((first, 0));
            let msg = queues.get_mut(&q).unwrap().remove(i).unwrap();
            let (out, done) = active.get_mut(&q).unwrap().handle(msg, rng).unwrap();
            post(&mut queues, out);
            if let Some(done) = done {
                outputs.insert(q, done);
            }
        }
        outputs
    }

    fn fifo(_: PartyIndex, _: &VecDeque<Envelope>) -> Option<usize> {
        Some(0)
    }

    fn shares(rng: &mut ChaCha20Rng) -> BTreeMap<PartyIndex, Vec<u8>> {
        let th = Threshold::new(2, 3).unwrap();
        let session = SessionId::derive(b"dmz21-scheme-test");
        let runs = PartyIndex::range(3)
            .map(|me| {
                let run = started(dmz21::start_keygen(params(), session, th, me, rng).unwrap());
                (me, run)
            })
            .collect();
        run(runs, rng, fifo)
            .into_iter()
            .map(|(q, out)| match out {
                RunOutput::Share { data, .. } => (q, data.to_vec()),
                _ => panic!("keygen gave no share"),
            })
            .collect()
    }

    fn start(share: &[u8], signers: &[PartyIndex], hash: &[u8; 32], rng: &mut ChaCha20Rng) -> Started {
        let session = SessionId::derive(b"dmz21-scheme-sign");
        Dmz21
            .start_sign(
                SignInput {
                    session,
                    share,
                    signers,
                    message: hash,
                    pool: None,
                },
                rng,
            )
            .unwrap()
    }

    /// A signer that is still in its offline rounds when a faster signer's round-5
    /// message arrives holds it and hands it to its online rounds: the signature
    /// verifies. A round-6 message, or a second round-5 one, while offline is refused
    /// naming its sender.
    #[test]
    fn early_online_messages_are_held_and_the_signature_verifies() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let shares = shares(&mut rng);
        let public_key = {
            let s = Dmz21KeyShare::from_bytes(params(), &shares[&p(1)]).unwrap();
            Secp256k1::element_to_bytes(s.public_key())
        };
        let signers = [p(1), p(3)];
        let hash = [0x17; 32];
        let runs = signers
            .iter()
            .map(|q| (*q, start(&shares[q], &signers, &hash, &mut rng)))
            .collect();
        // Party 1 leaves party 3's round-4 message waiting until party 3's round 5 has
        // come, and takes that first: it arrives while party 1 is still offline.
        let held = std::cell::Cell::new(false);
        let outputs = run(runs, &mut rng, |q, waiting| {
            if q != p(1) {
                return Some(0);
            }
            let round4 = waiting.iter().position(|m| m.round == 4);
            match waiting.iter().position(|m| m.round == FIRST_ONLINE_ROUND) {
                Some(i) => {
                    held.set(held.get() || round4.is_some());
                    Some(i)
                }
                None => waiting.iter().position(|m| m.round != 4),
            }
        });
        assert!(
            held.get(),
            "a round-5 message came before party 1 finished round 4"
        );
        assert_eq!(outputs.len(), 2);
        for out in outputs.values() {
            let RunOutput::Signature(sig) = out else {
                panic!("no signature");
            };
            assert!(Dmz21.verify(&public_key, &hash, sig));
        }

        // While offline: round 6 from a signer, and a second round 5, are refused.
        let (mut run1, _) = start(&shares[&p(1)], &signers, &hash, &mut rng);
        let (_, first3) = start(&shares[&p(3)], &signers, &hash, &mut rng);
        let mut msg = first3[0].clone();
        msg.round = 6;
        match run1.handle(msg.clone(), &mut rng) {
            Err(ProtocolError::Culprit { party, fault }) => {
                assert_eq!(party, p(3));
                assert!(matches!(fault, Fault::WrongRound { got: 6, .. }), "{fault:?}");
            }
            other => panic!("round 6 while offline: {:?}", other.map(|_| ())),
        }
        let (mut run1, _) = start(&shares[&p(1)], &signers, &hash, &mut rng);
        msg.round = FIRST_ONLINE_ROUND;
        run1.handle(msg.clone(), &mut rng).unwrap();
        match run1.handle(msg, &mut rng) {
            Err(ProtocolError::Culprit { party, fault }) => {
                assert_eq!(party, p(3));
                assert_eq!(
                    fault,
                    Fault::Duplicate {
                        round: FIRST_ONLINE_ROUND
                    }
                );
            }
            other => panic!("a second round 5: {:?}", other.map(|_| ())),
        }
    }
}
