//! Generic distributed key generation and proactive refresh over a [`Group`]:
//! Pedersen-style DKG with Feldman VSS and proofs of knowledge of each dealer's
//! constant term (the FROST DKG), plus an explicit confirmation round.
//!
//! Rounds:
//! 1. broadcast: the dealer's Feldman commitments (exactly `t` of them) and, for a fresh
//!    key, a Schnorr proof of knowledge of its constant term bound to the commitments,
//!    the session and the dealer;
//! 2. point-to-point: the share f_i(j) for each party j, with an echo of round 1;
//! 3. broadcast: a hash of the resulting public state. The share is output only when
//!    every party has confirmed the same state, so nobody replaces a share that a peer
//!    did not also accept.
//!
//! Refresh runs the same rounds with dealers sharing zero (their constant commitment
//! must be the identity), adds the sub-shares to the old share and increments the
//! epoch. The threshold comes from the old share and cannot change.

use crate::error::{Fault, ProtocolError};
use crate::group::Group;
use crate::inbox::{Inbox, RoundKind};
use crate::key_share::KeyShare;
use crate::message::{Envelope, Phase, ProtocolId, Recipient, Scheme};
use crate::party::{PartyIndex, SessionId, Threshold};
use crate::schnorr::SchnorrProof;
use crate::state_machine::{StateMachine, Step};
use crate::transcript::Transcript;
use crate::vss::{deal_shares, receive_share, Commitments, Polynomial};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::Zeroize;

const ROUNDS: &[RoundKind] = &[RoundKind::Broadcast, RoundKind::P2p, RoundKind::Broadcast];
const VERSION: u16 = 1;

#[derive(Serialize, Deserialize)]
struct Round1 {
    commitments: Vec<Vec<u8>>,
    proof: Option<SchnorrProof>,
}

#[derive(Serialize, Deserialize)]
struct Round3 {
    confirmation: [u8; 32],
}

enum Mode<G: Group> {
    Fresh,
    Refresh(KeyShare<G>),
}

/// A DKG or refresh run for one party.
pub struct Dkg<G: Group> {
    scheme: Scheme,
    threshold: Threshold,
    mode: Mode<G>,
    inbox: Inbox,
    polynomial: Option<Polynomial<G>>,
    commitments: BTreeMap<PartyIndex, Commitments<G>>,
    share_sum: G::Scalar,
    result: Option<KeyShare<G>>,
    confirmation: [u8; 32],
}

/// Start a DKG for party `me` of `threshold`. Returns the run and its round-1 messages.
pub fn start_dkg<G: Group, R: RngCore + CryptoRng>(
    scheme: Scheme,
    session: SessionId,
    threshold: Threshold,
    me: PartyIndex,
    rng: &mut R,
) -> Result<(Dkg<G>, Vec<Envelope>), ProtocolError> {
    Threshold::new(threshold.threshold, threshold.parties)?;
    let secret = G::random_scalar(rng);
    Dkg::start(
        scheme,
        Phase::Dkg,
        session,
        threshold,
        me,
        Mode::Fresh,
        secret,
        rng,
    )
}

/// Start a refresh of `share` among all of its holders.
pub fn start_refresh<G: Group, R: RngCore + CryptoRng>(
    scheme: Scheme,
    session: SessionId,
    share: KeyShare<G>,
    rng: &mut R,
) -> Result<(Dkg<G>, Vec<Envelope>), ProtocolError> {
    let threshold = share.threshold();
    let me = share.index();
    Dkg::start(
        scheme,
        Phase::Refresh,
        session,
        threshold,
        me,
        Mode::Refresh(share),
        G::zero(),
        rng,
    )
}

impl<G: Group> Dkg<G> {
    #[allow(clippy::too_many_arguments)]
    fn start<R: RngCore + CryptoRng>(
        scheme: Scheme,
        phase: Phase,
        session: SessionId,
        threshold: Threshold,
        me: PartyIndex,
        mode: Mode<G>,
        constant: G::Scalar,
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        let parties = PartyIndex::range(threshold.parties).collect();
        let protocol = ProtocolId {
            scheme,
            phase,
            version: VERSION,
        };
        let inbox = Inbox::new(protocol, session, me, &parties, ROUNDS)?;
        let polynomial = Polynomial::<G>::random(constant, threshold.threshold, rng);
        let commitments = polynomial.commit();
        let proof = match mode {
            Mode::Fresh => Some(SchnorrProof::prove::<G, R>(
                polynomial.constant(),
                &commitments.constant(),
                &proof_context::<G>(&commitments),
                &session,
                me,
                rng,
            )),
            Mode::Refresh(_) => None,
        };
        let mut run = Self {
            scheme,
            threshold,
            mode,
            inbox,
            polynomial: Some(polynomial),
            commitments: BTreeMap::new(),
            share_sum: G::zero(),
            result: None,
            confirmation: [0; 32],
        };
        let msg = run.inbox.envelope(
            1,
            Recipient::All,
            &Round1 {
                commitments: commitments.to_bytes(),
                proof,
            },
        );
        run.commitments.insert(me, commitments);
        Ok((run, vec![msg]))
    }

    fn is_refresh(&self) -> bool {
        matches!(self.mode, Mode::Refresh(_))
    }

    fn round1(&mut self, msgs: BTreeMap<PartyIndex, Envelope>) -> Result<Vec<Envelope>, ProtocolError> {
        let session = self.inbox.session();
        for (from, env) in msgs {
            let blame = |f| ProtocolError::culprit(from, f);
            let r1: Round1 = env.decode()?;
            let c =
                Commitments::<G>::from_bytes(&r1.commitments, self.threshold.threshold, self.is_refresh())
                    .map_err(blame)?;
            match (&self.mode, &r1.proof) {
                (Mode::Fresh, Some(p)) => p
                    .verify::<G>(&c.constant(), &proof_context::<G>(&c), &session, from)
                    .map_err(blame)?,
                (Mode::Fresh, None) => {
                    return Err(blame(Fault::InvalidProof("missing proof of knowledge".into())))
                }
                (Mode::Refresh(_), None) => {}
                (Mode::Refresh(_), Some(_)) => {
                    return Err(blame(Fault::Malformed("unexpected proof in refresh".into())))
                }
            }
            self.commitments.insert(from, c);
        }
        let poly = self.polynomial.as_ref().ok_or(ProtocolError::Finished)?;
        let me = self.inbox.me();
        self.share_sum = poly.evaluate(me);
        Ok(deal_shares(&mut self.inbox, 2, 1, poly))
    }

    fn round2(&mut self, msgs: BTreeMap<PartyIndex, Envelope>) -> Result<Vec<Envelope>, ProtocolError> {
        let me = self.inbox.me();
        for (from, env) in msgs {
            let mut share = receive_share(
                &self.inbox,
                1,
                &env,
                self.commitments.get(&from),
                self.is_refresh(),
            )?;
            self.share_sum = self.share_sum + share;
            share.zeroize();
        }
        self.polynomial = None;

        let combined = |at: PartyIndex| {
            self.commitments
                .values()
                .fold(G::identity(), |acc, c| acc + c.evaluate(at))
        };
        let (secret, public_key, public_shares, epoch) = match &self.mode {
            Mode::Fresh => {
                let pk = self
                    .commitments
                    .values()
                    .fold(G::identity(), |acc, c| acc + c.constant());
                let shares = PartyIndex::range(self.threshold.parties)
                    .map(|p| (p, combined(p)))
                    .collect();
                (self.share_sum, pk, shares, 0)
            }
            Mode::Refresh(old) => {
                let shares = old
                    .public_shares()
                    .iter()
                    .map(|(p, x)| (*p, *x + combined(*p)))
                    .collect();
                (
                    *old.secret() + self.share_sum,
                    *old.public_key(),
                    shares,
                    old.epoch() + 1,
                )
            }
        };
        self.share_sum.zeroize();
        let share = KeyShare::new(self.threshold, me, secret, public_key, public_shares, epoch)
            .map_err(|e| ProtocolError::Internal(format!("resulting share: {e}")))?;
        self.confirmation = self.confirmation_hash(&share);
        self.result = Some(share);
        let confirmation = self.confirmation;
        Ok(vec![self.inbox.envelope(
            3,
            Recipient::All,
            &Round3 { confirmation },
        )])
    }

    fn round3(&mut self, msgs: BTreeMap<PartyIndex, Envelope>) -> Result<KeyShare<G>, ProtocolError> {
        for (from, env) in msgs {
            let r3: Round3 = env.decode()?;
            if r3.confirmation != self.confirmation {
                return Err(ProtocolError::culprit(from, Fault::BadConfirmation));
            }
        }
        self.inbox.finish();
        self.result.take().ok_or(ProtocolError::Finished)
    }

    fn confirmation_hash(&self, share: &KeyShare<G>) -> [u8; 32] {
        let mut t = Transcript::new(b"kms-dkg-confirmation");
        t.append(b"scheme", format!("{:?}", self.scheme).as_bytes());
        t.append(b"group", G::NAME.as_bytes());
        t.append(b"session", &self.inbox.session().0);
        t.append_u64(b"t", u64::from(self.threshold.threshold));
        t.append_u64(b"n", u64::from(self.threshold.parties));
        t.append_u64(b"epoch", share.epoch());
        for (dealer, c) in &self.commitments {
            t.append_u64(b"dealer", u64::from(dealer.get()));
            for e in &c.0 {
                t.append(b"commitment", &G::element_to_bytes(e));
            }
        }
        t.append(b"public-key", &G::element_to_bytes(share.public_key()));
        for (p, x) in share.public_shares() {
            t.append_u64(b"party", u64::from(p.get()));
            t.append(b"public-share", &G::element_to_bytes(x));
        }
        let c = t.challenge(b"confirmation");
        let mut out = [0u8; 32];
        out.copy_from_slice(&c[..32]);
        out
    }
}

fn proof_context<G: Group>(c: &Commitments<G>) -> Vec<u8> {
    c.to_bytes().concat()
}

impl<G: Group> StateMachine for Dkg<G> {
    type Output = KeyShare<G>;

    fn party(&self) -> PartyIndex {
        self.inbox.me()
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        _rng: &mut R,
    ) -> Result<Step<KeyShare<G>>, ProtocolError> {
        self.inbox.accept(msg)?;
        let mut outgoing = Vec::new();
        while self.inbox.current_complete() {
            let round = self.inbox.current_round();
            let msgs = self.inbox.advance();
            let result = match round {
                1 => self.round1(msgs).map(|m| outgoing.extend(m)),
                2 => self.round2(msgs).map(|m| outgoing.extend(m)),
                _ => match self.round3(msgs) {
                    Ok(share) => return Ok(Step::done(outgoing, share)),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = result {
                // An aborted run takes no more messages and drops its secrets now.
                self.inbox.finish();
                self.polynomial = None;
                self.result = None;
                return Err(e);
            }
        }
        Ok(Step::send(outgoing))
    }
}

impl<G: Group> Drop for Dkg<G> {
    fn drop(&mut self) {
        self.share_sum.zeroize();
    }
}

/// The stand-alone checks of one generic DKG or refresh message, for
/// [`crate::recheck`]: `None` for a round this run does not have.
pub(crate) fn recheck_payload(round: u16, payload: &[u8]) -> Option<Result<(), Fault>> {
    Some(match round {
        1 => crate::recheck::decodes::<Round1>(payload).map(|_| ()),
        2 => crate::recheck::decodes::<crate::vss::ShareMessage>(payload).map(|_| ()),
        3 => crate::recheck::decodes::<Round3>(payload).map(|_| ()),
        _ => return None,
    })
}
