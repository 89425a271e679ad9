//! Generic distributed key generation and proactive refresh over a [`Group`]:
//! Pedersen-style DKG with Feldman VSS, commit-then-reveal of every dealer's
//! commitments, and proofs of knowledge of each dealer's constant term (the FROST DKG
//! with the commitment round of GG18's), plus an explicit confirmation round.
//!
//! Rounds:
//! 1. broadcast: a hash commitment to the dealer's Feldman commitments (exactly `t` of
//!    them) and, for a fresh key, its Schnorr proof of knowledge of the constant term,
//!    bound to the session, the dealer, the scheme and (t, n), with a random blind.
//!    Nobody sees another dealer's commitments before it has fixed its own, so no
//!    dealer can bias the public key (or, in a refresh, the new shares);
//! 2. point-to-point: the reveal (commitments, proof, blind), the share f_i(j), and an
//!    echo of round 1. The reveal travels point-to-point with the share, yet a dealer
//!    cannot show two parties different commitments: each party checks the reveal
//!    against the round-1 hash, whose consistency the echo checks, so a different
//!    reveal is a [`Fault::BadDecommitment`] naming the dealer;
//! 3. broadcast: a hash of the resulting public state (every dealer's commitments,
//!    public key, public shares). The share is output only when every party has
//!    confirmed the same state, so nobody replaces a share that a peer did not also
//!    accept.
//!
//! Refresh runs the same rounds with dealers sharing zero (their constant commitment
//! must be the identity, and they send no proof), adds the sub-shares to the old share
//! and increments the epoch. The threshold comes from the old share and cannot change.

use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::group::Group;
use crate::inbox::Echo;
use crate::key_share::KeyShare;
use crate::message::{encode, Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId, Threshold};
use crate::schnorr::SchnorrProof;
use crate::transcript::Transcript;
use crate::vss::{check_opening, commitment_hash, deal_share, receive_share, Commitments, Polynomial};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::Zeroize;

const VERSION: u16 = 2;
const COMMITMENT_DOMAIN: &[u8] = b"kms-dkg-commitment";

/// Round 1: the hash commitment to the dealer's reveal.
#[derive(Serialize, Deserialize)]
pub struct Round1 {
    pub(crate) commitment: [u8; 32],
}

/// Round 2: the dealer's reveal, its share for the recipient, and its view of round 1.
/// Zeroized on drop (it carries a secret share).
#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
pub struct Round2 {
    /// The Feldman commitments.
    #[zeroize(skip)]
    pub(crate) commitments: Vec<Vec<u8>>,
    /// The proof of knowledge of the constant term (fresh keys only).
    #[zeroize(skip)]
    pub(crate) proof: Option<SchnorrProof>,
    pub(crate) blind: [u8; 32],
    pub(crate) share: Vec<u8>,
    #[zeroize(skip)]
    pub(crate) echo: Echo,
}

/// Round 3: the confirmation of the public outcome.
#[derive(Serialize, Deserialize)]
pub struct Round3 {
    pub(crate) confirmation: [u8; 32],
}

round_messages! {
    /// The messages of a DKG or refresh run, one variant per round.
    #[non_exhaustive]
    pub enum DkgMsg {
        1 Broadcast Commit(Round1),
        2 P2p Deal(Round2) echoes 1,
        3 Broadcast Confirm(Round3),
    }
}

enum Mode<G: Group> {
    Fresh,
    Refresh(KeyShare<G>),
}

/// What a dealer reveals in round 2 (the same to everyone).
struct Reveal {
    commitments: Vec<Vec<u8>>,
    proof: Option<SchnorrProof>,
    blind: [u8; 32],
}

/// The round logic of a DKG or refresh run for one party.
pub struct DkgRounds<G: Group> {
    scheme: Scheme,
    threshold: Threshold,
    mode: Mode<G>,
    polynomial: Option<Polynomial<G>>,
    reveal: Reveal,
    hashes: BTreeMap<PartyIndex, [u8; 32]>,
    commitments: BTreeMap<PartyIndex, Commitments<G>>,
    share_sum: G::Scalar,
    result: Option<KeyShare<G>>,
    confirmation: [u8; 32],
}

/// A DKG or refresh run for one party; its output is the party's [`KeyShare`].
pub type Dkg<G> = Driver<DkgRounds<G>>;

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
    start::<G, R>(
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
    start::<G, R>(
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

#[allow(clippy::too_many_arguments)]
fn start<G: Group, R: RngCore + CryptoRng>(
    scheme: Scheme,
    phase: Phase,
    session: SessionId,
    threshold: Threshold,
    me: PartyIndex,
    mode: Mode<G>,
    constant: G::Scalar,
    rng: &mut R,
) -> Result<(Dkg<G>, Vec<Envelope>), ProtocolError> {
    let parties = PartyIndex::range(threshold.parties).collect();
    let protocol = ProtocolId {
        scheme,
        phase,
        version: VERSION,
    };
    Driver::new(protocol, session, me, &parties, |io| {
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
        let mut blind = [0u8; 32];
        rng.fill_bytes(&mut blind);
        let reveal = Reveal {
            commitments: commitments.to_bytes(),
            proof,
            blind,
        };
        let context = commitment_context::<G>(scheme, phase, threshold, reveal.proof.as_ref());
        let commitment = commitment_hash(
            COMMITMENT_DOMAIN,
            &session,
            me,
            &context,
            &reveal.commitments,
            &reveal.blind,
        );
        io.broadcast::<1>(&Round1 { commitment });
        Ok(DkgRounds {
            scheme,
            threshold,
            mode,
            polynomial: Some(polynomial),
            reveal,
            hashes: BTreeMap::new(),
            commitments: BTreeMap::from([(me, commitments)]),
            share_sum: G::zero(),
            result: None,
            confirmation: [0; 32],
        })
    })
}

/// What the round-1 hash binds besides the commitments: the run (scheme, phase, group,
/// (t, n)) and the proof of knowledge, so the whole reveal is fixed in round 1.
fn commitment_context<G: Group>(
    scheme: Scheme,
    phase: Phase,
    threshold: Threshold,
    proof: Option<&SchnorrProof>,
) -> Vec<u8> {
    encode(&(
        format!("{scheme:?}/{phase:?}"),
        G::NAME,
        threshold.threshold,
        threshold.parties,
        proof,
    ))
}

impl<G: Group> DkgRounds<G> {
    fn is_refresh(&self) -> bool {
        matches!(self.mode, Mode::Refresh(_))
    }

    fn phase(&self) -> Phase {
        if self.is_refresh() {
            Phase::Refresh
        } else {
            Phase::Dkg
        }
    }

    /// Every commitment is in: reveal ours and deal our shares.
    fn round1(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round1>,
        io: &mut Io<'_, DkgMsg>,
    ) -> Result<(), ProtocolError> {
        for (from, r1) in msgs {
            self.hashes.insert(from, r1.commitment);
        }
        let poly = self.polynomial.as_ref().ok_or(ProtocolError::Finished)?;
        self.share_sum = poly.evaluate(io.me());
        let echo = io.echo(1);
        for to in io.peers() {
            let share = deal_share(poly, to);
            let msg = Round2 {
                commitments: self.reveal.commitments.clone(),
                proof: self.reveal.proof.clone(),
                blind: self.reveal.blind,
                share: share.to_vec(),
                echo: echo.clone(),
            };
            io.send::<2>(to, &msg);
        }
        Ok(())
    }

    /// Every reveal and share is in: check them, compute the share and confirm.
    fn round2(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round2>,
        io: &mut Io<'_, DkgMsg>,
    ) -> Result<(), ProtocolError> {
        let session = io.session();
        let me = io.me();
        for (from, r2) in msgs {
            let blame = |f| ProtocolError::culprit(from, f);
            let expected = self
                .hashes
                .get(&from)
                .ok_or_else(|| ProtocolError::Internal(format!("no round-1 commitment of {from}")))?;
            let context =
                commitment_context::<G>(self.scheme, self.phase(), self.threshold, r2.proof.as_ref());
            check_opening(
                COMMITMENT_DOMAIN,
                &session,
                from,
                &context,
                &r2.commitments,
                &r2.blind,
                expected,
            )
            .map_err(blame)?;
            let c =
                Commitments::<G>::from_bytes(&r2.commitments, self.threshold.threshold, self.is_refresh())
                    .map_err(blame)?;
            match (&self.mode, &r2.proof) {
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
            let mut share = receive_share::<G>(me, from, &r2.share, Some(&c), self.is_refresh())?;
            self.share_sum = self.share_sum + share;
            share.zeroize();
            self.commitments.insert(from, c);
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
        self.confirmation = self.confirmation_hash(&session, &share);
        self.result = Some(share);
        io.broadcast::<3>(&Round3 {
            confirmation: self.confirmation,
        });
        Ok(())
    }

    fn round3(&mut self, msgs: BTreeMap<PartyIndex, Round3>) -> Result<KeyShare<G>, ProtocolError> {
        for (from, r3) in msgs {
            if r3.confirmation != self.confirmation {
                return Err(ProtocolError::culprit(from, Fault::BadConfirmation));
            }
        }
        self.result.take().ok_or(ProtocolError::Finished)
    }

    fn confirmation_hash(&self, session: &SessionId, share: &KeyShare<G>) -> [u8; 32] {
        let mut t = Transcript::new(b"kms-dkg-confirmation");
        t.append(b"scheme", format!("{:?}", self.scheme).as_bytes());
        t.append(b"group", G::NAME.as_bytes());
        t.append(b"session", &session.0);
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

impl<G: Group> Rounds for DkgRounds<G> {
    type Msg = DkgMsg;
    type Output = KeyShare<G>;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<DkgMsg>,
        io: &mut Io<'_, DkgMsg>,
        _rng: &mut R,
    ) -> Result<Option<KeyShare<G>>, ProtocolError> {
        match round {
            1 => self.round1(msgs.take::<1>()?, io).map(|()| None),
            2 => self.round2(msgs.take::<2>()?, io).map(|()| None),
            _ => self.round3(msgs.take::<3>()?).map(Some),
        }
    }
}

fn proof_context<G: Group>(c: &Commitments<G>) -> Vec<u8> {
    c.to_bytes().concat()
}

impl<G: Group> Drop for DkgRounds<G> {
    fn drop(&mut self) {
        self.share_sum.zeroize();
        self.reveal.blind.zeroize();
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The round-1 hash a dealer commits with, for tests that play a dealer
    /// who changes its reveal and must keep its commitment matching.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn commitment_for<G: Group>(
        scheme: Scheme,
        phase: Phase,
        session: &SessionId,
        dealer: PartyIndex,
        threshold: Threshold,
        commitments: &[Vec<u8>],
        proof: Option<&SchnorrProof>,
        blind: &[u8; 32],
    ) -> [u8; 32] {
        let context = commitment_context::<G>(scheme, phase, threshold, proof);
        commitment_hash(COMMITMENT_DOMAIN, session, dealer, &context, commitments, blind)
    }
}
