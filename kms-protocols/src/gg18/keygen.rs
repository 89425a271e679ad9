//! GG18 distributed key generation (Gennaro-Goldfeder 2018, section 4.1).
//!
//! Rounds (each party i, with a random u_i and a Feldman polynomial f_i, f_i(0) = u_i):
//! 1. broadcast: a hash commitment to the Feldman commitments of f_i (whose first entry
//!    is y_i = g^u_i), bound to the session, the dealer and the aux material of all
//!    parties. Nobody sees another dealer's y_i before it has fixed its own, so no
//!    dealer can bias the public key.
//! 2. broadcast: the decommitment (the Feldman commitments, exactly t of them, and the
//!    blinding), with an echo of round 1;
//! 3. point-to-point: the share f_i(j) for each party j, with an echo of round 2;
//! 4. broadcast: a Schnorr proof of knowledge of x_i for X_i = sum_j F_j(i);
//! 5. broadcast: a hash of the resulting public state with an echo of round 4. The
//!    share is output only when every party confirmed the same state.
//!
//! The aux material (Paillier keys, ring-Pedersen parameters, their proofs) is made
//! and verified before the DKG; this run binds a digest of it (`context`) into the
//! commitments and the confirmation so all parties agree on whose keys they hold.

use super::key_share::KeyShareOf;
use super::mta_backend::MtaBackend;
use super::secp256k1::Secp256k1;
use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::group::Group;
use crate::inbox::Echo;
use crate::message::{Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId, Threshold};
use crate::schnorr::SchnorrProof;
use crate::state_machine::{StateMachine, Step};
use crate::transcript::Transcript;
use crate::vss::{
    check_opening, commitment_hash, deal_share, receive_share, Commitments, Polynomial, ShareMessage,
};
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use zeroize::Zeroize;

const COMMITMENT_DOMAIN: &[u8] = b"gg18-keygen-commitment";
pub(crate) const VERSION: u16 = 1;

#[derive(Serialize, Deserialize)]
pub(crate) struct Round1 {
    pub(crate) commitment: [u8; 32],
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round2 {
    pub(crate) vss: Vec<Vec<u8>>,
    pub(crate) blind: [u8; 32],
    pub(crate) echo: Echo,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round4 {
    pub(crate) proof: SchnorrProof,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Round5 {
    pub(crate) confirmation: [u8; 32],
    pub(crate) echo: Echo,
}

round_messages! {
    /// The messages of the GG18 DKG, one variant per round.
    pub(crate) enum KeygenMsg {
        1 Broadcast Commit(Round1),
        2 Broadcast Reveal(Round2) echoes 1,
        3 P2p Deal(ShareMessage) echoes 2,
        4 Broadcast Prove(Round4),
        5 Broadcast Confirm(Round5) echoes 4,
    }
}

/// What the DKG core produces; the caller attaches the aux material.
pub(crate) struct KeygenOutput {
    pub(crate) secret: Scalar,
    pub(crate) public_key: ProjectivePoint,
    pub(crate) public_shares: BTreeMap<PartyIndex, ProjectivePoint>,
}

impl Drop for KeygenOutput {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// The commit/decommit + Feldman VSS + proof-of-knowledge core of the GG18 DKG.
pub(crate) type KeygenCore = Driver<KeygenRounds>;

/// The round logic of [`KeygenCore`].
pub(crate) struct KeygenRounds {
    threshold: Threshold,
    context: [u8; 32],
    session: SessionId,
    me: PartyIndex,
    polynomial: Option<Polynomial<Secp256k1>>,
    own_vss: Commitments<Secp256k1>,
    own_blind: [u8; 32],
    commitments: BTreeMap<PartyIndex, [u8; 32]>,
    vss: BTreeMap<PartyIndex, Commitments<Secp256k1>>,
    secret: Scalar,
    public_shares: BTreeMap<PartyIndex, ProjectivePoint>,
    public_key: ProjectivePoint,
    confirmation: [u8; 32],
}

/// The hash commitment of round 1.
pub(crate) fn commit(
    session: &SessionId,
    dealer: PartyIndex,
    context: &[u8; 32],
    vss: &[Vec<u8>],
    blind: &[u8; 32],
) -> [u8; 32] {
    commitment_hash(COMMITMENT_DOMAIN, session, dealer, context, vss, blind)
}

impl KeygenCore {
    /// Start the core for `me`; returns it with its round-1 message.
    pub(crate) fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        threshold: Threshold,
        me: PartyIndex,
        context: [u8; 32],
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        Threshold::new(threshold.threshold, threshold.parties)?;
        let parties = PartyIndex::range(threshold.parties).collect();
        let protocol = ProtocolId {
            scheme: Scheme::Gg18,
            phase: Phase::Dkg,
            version: VERSION,
        };
        Driver::new(protocol, session, me, &parties, |io| {
            let u = Secp256k1::random_scalar(rng);
            let polynomial = Polynomial::<Secp256k1>::random(u, threshold.threshold, rng);
            let own_vss = polynomial.commit();
            let mut own_blind = [0u8; 32];
            rng.fill_bytes(&mut own_blind);
            let commitment = commit(&session, me, &context, &own_vss.to_bytes(), &own_blind);
            io.broadcast::<1>(&Round1 { commitment });
            Ok(KeygenRounds {
                threshold,
                context,
                session,
                me,
                polynomial: Some(polynomial),
                own_vss,
                own_blind,
                commitments: BTreeMap::new(),
                vss: BTreeMap::new(),
                secret: Scalar::ZERO,
                public_shares: BTreeMap::new(),
                public_key: ProjectivePoint::IDENTITY,
                confirmation: [0; 32],
            })
        })
    }
}

impl KeygenRounds {
    fn round1(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round1>,
        io: &mut Io<'_, KeygenMsg>,
    ) -> Result<(), ProtocolError> {
        for (from, r1) in msgs {
            self.commitments.insert(from, r1.commitment);
        }
        io.broadcast::<2>(&Round2 {
            vss: self.own_vss.to_bytes(),
            blind: self.own_blind,
            echo: io.echo(1),
        });
        Ok(())
    }

    fn round2(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round2>,
        io: &mut Io<'_, KeygenMsg>,
    ) -> Result<(), ProtocolError> {
        let session = self.session;
        for (from, r2) in msgs {
            let blame = |f| ProtocolError::culprit(from, f);
            let expected = self
                .commitments
                .get(&from)
                .ok_or_else(|| ProtocolError::Internal("missing round-1 commitment".into()))?;
            check_opening(
                COMMITMENT_DOMAIN,
                &session,
                from,
                &self.context,
                &r2.vss,
                &r2.blind,
                expected,
            )
            .map_err(blame)?;
            // Length = t and no identity entry (so y_j = g^u_j is not the identity).
            let c = Commitments::<Secp256k1>::from_bytes(&r2.vss, self.threshold.threshold, false)
                .map_err(blame)?;
            self.vss.insert(from, c);
        }
        let me = self.me;
        self.vss.insert(me, self.own_vss.clone());
        let poly = self.polynomial.as_ref().ok_or(ProtocolError::Finished)?;
        self.secret = poly.evaluate(me);
        let echo = io.echo(2);
        for to in io.peers() {
            let msg = ShareMessage {
                share: deal_share(poly, to).to_vec(),
                echo: echo.clone(),
            };
            io.send::<3>(to, &msg);
        }
        Ok(())
    }

    fn round3<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, ShareMessage>,
        io: &mut Io<'_, KeygenMsg>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        let me = self.me;
        for (from, msg) in msgs {
            let mut share = receive_share(me, from, &msg.share, self.vss.get(&from), false)?;
            self.secret += share;
            share.zeroize();
        }
        self.polynomial = None;
        for p in PartyIndex::range(self.threshold.parties) {
            let x = self
                .vss
                .values()
                .fold(ProjectivePoint::IDENTITY, |acc, c| acc + c.evaluate(p));
            if x == ProjectivePoint::IDENTITY {
                // Only possible if the dealers' polynomials cancel at p; refuse rather
                // than output a key with a degenerate share.
                return Err(ProtocolError::Internal(format!(
                    "public share of {p} is the identity"
                )));
            }
            self.public_shares.insert(p, x);
        }
        self.public_key = self
            .vss
            .values()
            .fold(ProjectivePoint::IDENTITY, |acc, c| acc + c.constant());
        if self.public_key == ProjectivePoint::IDENTITY || Secp256k1::is_zero(&self.secret) {
            return Err(ProtocolError::Internal("degenerate key".into()));
        }
        let own = self.public_shares[&me];
        if Secp256k1::mul_base(&self.secret) != own {
            return Err(ProtocolError::Internal(
                "own share does not match its public share".into(),
            ));
        }
        let proof = SchnorrProof::prove::<Secp256k1, R>(
            &self.secret,
            &own,
            &self.pok_context(),
            &self.session,
            me,
            rng,
        );
        io.broadcast::<4>(&Round4 { proof });
        Ok(())
    }

    fn round4(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round4>,
        io: &mut Io<'_, KeygenMsg>,
    ) -> Result<(), ProtocolError> {
        let session = self.session;
        let context = self.pok_context();
        for (from, r4) in msgs {
            let x = self
                .public_shares
                .get(&from)
                .ok_or_else(|| ProtocolError::Internal("missing public share".into()))?;
            r4.proof
                .verify::<Secp256k1>(x, &context, &session, from)
                .map_err(|f| ProtocolError::culprit(from, f))?;
        }
        self.confirmation = self.confirmation_hash();
        io.broadcast::<5>(&Round5 {
            confirmation: self.confirmation,
            echo: io.echo(4),
        });
        Ok(())
    }

    fn round5(&mut self, msgs: BTreeMap<PartyIndex, Round5>) -> Result<KeygenOutput, ProtocolError> {
        for (from, r5) in msgs {
            if r5.confirmation != self.confirmation {
                return Err(ProtocolError::culprit(from, Fault::BadConfirmation));
            }
        }
        let out = KeygenOutput {
            secret: self.secret,
            public_key: self.public_key,
            public_shares: std::mem::take(&mut self.public_shares),
        };
        self.secret.zeroize();
        Ok(out)
    }

    /// The proof of knowledge of x_i is bound to the whole public outcome so far.
    fn pok_context(&self) -> Vec<u8> {
        let mut v = b"gg18-keygen-x_i".to_vec();
        v.extend_from_slice(&self.context);
        for c in self.vss.values() {
            for e in c.to_bytes() {
                v.extend_from_slice(&e);
            }
        }
        v
    }

    fn confirmation_hash(&self) -> [u8; 32] {
        let mut t = Transcript::new(b"gg18-keygen-confirmation");
        t.append(b"session", &self.session.0);
        t.append(b"context", &self.context);
        t.append_u64(b"t", u64::from(self.threshold.threshold));
        t.append_u64(b"n", u64::from(self.threshold.parties));
        for (dealer, c) in &self.vss {
            t.append_u64(b"dealer", u64::from(dealer.get()));
            for e in c.to_bytes() {
                t.append(b"vss", &e);
            }
        }
        t.append(b"public-key", &Secp256k1::element_to_bytes(&self.public_key));
        for (p, x) in &self.public_shares {
            t.append_u64(b"party", u64::from(p.get()));
            t.append(b"public-share", &Secp256k1::element_to_bytes(x));
        }
        let c = t.challenge(b"confirmation");
        let mut out = [0u8; 32];
        out.copy_from_slice(&c[..32]);
        out
    }
}

impl Rounds for KeygenRounds {
    type Msg = KeygenMsg;
    type Output = KeygenOutput;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<KeygenMsg>,
        io: &mut Io<'_, KeygenMsg>,
        rng: &mut R,
    ) -> Result<Option<KeygenOutput>, ProtocolError> {
        match round {
            1 => self.round1(msgs.take::<1>()?, io)?,
            2 => self.round2(msgs.take::<2>()?, io)?,
            3 => self.round3(msgs.take::<3>()?, io, rng)?,
            4 => self.round4(msgs.take::<4>()?, io)?,
            _ => return self.round5(msgs.take::<5>()?).map(Some),
        }
        Ok(None)
    }
}

impl Drop for KeygenRounds {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// A GG18 DKG run for one party over the aux backend `M`: the core above, plus the
/// aux material that goes into the resulting key share.
pub struct DkgOf<M: MtaBackend> {
    core: KeygenCore,
    threshold: Threshold,
    aux_secret: Arc<M::Secret>,
    aux_peers: Arc<BTreeMap<PartyIndex, M::Public>>,
}

/// The digest of every party's aux public data, in index order.
fn aux_context<M: MtaBackend>(
    me: PartyIndex,
    own: &M::Secret,
    peers: &BTreeMap<PartyIndex, M::Public>,
    parties: u16,
) -> Result<[u8; 32], ProtocolError> {
    let mut t = Transcript::new(b"gg18-keygen-aux");
    for p in PartyIndex::range(parties) {
        let d = if p == me {
            M::own_digest(own)
        } else {
            M::public_digest(peers.get(&p).ok_or_else(|| {
                ProtocolError::InvalidParameters(format!("no verified aux material of {p}"))
            })?)
        };
        t.append_u64(b"party", u64::from(p.get()));
        t.append(b"aux", &d);
    }
    let c = t.challenge(b"context");
    let mut out = [0u8; 32];
    out.copy_from_slice(&c[..32]);
    Ok(out)
}

impl<M: MtaBackend> DkgOf<M> {
    /// Start a DKG for `me`; `peers_aux` must hold the verified aux material of exactly
    /// the other n - 1 parties.
    pub fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        threshold: Threshold,
        me: PartyIndex,
        aux: M::Secret,
        peers_aux: BTreeMap<PartyIndex, M::Public>,
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        Threshold::new(threshold.threshold, threshold.parties)?;
        if !threshold.contains(me) {
            return Err(ProtocolError::InvalidParameters(format!(
                "{me} is not one of the parties"
            )));
        }
        let expected: Vec<PartyIndex> = PartyIndex::range(threshold.parties)
            .filter(|p| *p != me)
            .collect();
        if peers_aux.keys().copied().collect::<Vec<_>>() != expected {
            return Err(ProtocolError::InvalidParameters(
                "verified aux material must cover exactly the other parties".into(),
            ));
        }
        if let Some((p, _)) = peers_aux.iter().find(|(p, a)| M::public_party(a) != **p) {
            return Err(ProtocolError::InvalidParameters(format!(
                "the aux material given for {p} was proven under another party index"
            )));
        }
        let context = aux_context::<M>(me, &aux, &peers_aux, threshold.parties)?;
        let (core, msgs) = KeygenCore::start(session, threshold, me, context, rng)?;
        Ok((
            Self {
                core,
                threshold,
                aux_secret: Arc::new(aux),
                aux_peers: Arc::new(peers_aux),
            },
            msgs,
        ))
    }
}

impl<M: MtaBackend> StateMachine for DkgOf<M> {
    type Output = KeyShareOf<M>;

    fn party(&self) -> PartyIndex {
        self.core.party()
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<KeyShareOf<M>>, ProtocolError> {
        let step = self.core.handle(msg, rng)?;
        let Some(out) = step.output else {
            return Ok(Step::send(step.outgoing));
        };
        let share = KeyShareOf::new(
            self.threshold,
            self.core.party(),
            out.secret,
            out.public_key,
            out.public_shares.clone(),
            0,
            Arc::clone(&self.aux_secret),
            Arc::clone(&self.aux_peers),
        )
        .map_err(|e| ProtocolError::Internal(format!("resulting share: {e}")))?;
        Ok(Step::done(step.outgoing, share))
    }
}

/// The stand-alone checks of one GG18 DKG message, for [`crate::recheck`]: `None` for
/// a round this run does not have.
pub(crate) fn recheck_payload(round: u16, payload: &[u8]) -> Option<Result<(), Fault>> {
    use crate::recheck::decodes;
    Some(match round {
        1 => decodes::<Round1>(payload).map(|_| ()),
        2 => decodes::<Round2>(payload).map(|_| ()),
        3 => decodes::<crate::vss::ShareMessage>(payload).map(|_| ()),
        4 => decodes::<Round4>(payload).map(|_| ()),
        5 => decodes::<Round5>(payload).map(|_| ()),
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gg18::test_support::{honest, p, rewrite, run, set_echo, Failure, Tamper};
    use crate::message::Recipient;
    use crate::vss::lagrange_at_zero;
    use rand_chacha::rand_core::SeedableRng;

    pub(crate) const CONTEXT: [u8; 32] = [0xAA; 32];

    fn keygen(
        t: u16,
        n: u16,
        seed: u64,
        cheater: u16,
        tamper: &mut Tamper<'_>,
    ) -> Result<BTreeMap<PartyIndex, KeygenOutput>, Failure> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let session = SessionId([seed as u8; 32]);
        let th = Threshold::new(t, n).unwrap();
        let mut runs = BTreeMap::new();
        let mut first = Vec::new();
        for i in PartyIndex::range(n) {
            let (r, m) = KeygenCore::start(session, th, i, CONTEXT, &mut rng).unwrap();
            runs.insert(i, r);
            first.extend(m);
        }
        let cheaters: Vec<PartyIndex> = PartyIndex::new(cheater).into_iter().collect();
        run(runs, first, seed, &cheaters, tamper)
    }

    fn blamed(r: Result<BTreeMap<PartyIndex, KeygenOutput>, Failure>) -> (PartyIndex, Fault) {
        let f = r.err().expect("the run must fail");
        match f.error {
            ProtocolError::Culprit { party, fault } => (party, fault),
            e => panic!("expected a culprit, got {e:?}"),
        }
    }

    #[test]
    fn honest_run_agrees_and_interpolates_in_the_exponent() {
        let out = keygen(2, 3, 1, 0, &mut honest).unwrap();
        let first = &out[&p(1)];
        for o in out.values() {
            assert_eq!(o.public_key, first.public_key);
            assert_eq!(o.public_shares, first.public_shares);
        }
        for (i, o) in &out {
            assert_eq!(Secp256k1::mul_base(&o.secret), o.public_shares[i]);
        }
        // Any 2 public shares interpolate to the public key (no secret is combined).
        for set in [[p(1), p(2)], [p(1), p(3)], [p(2), p(3)]] {
            let y = set.iter().fold(ProjectivePoint::IDENTITY, |acc, j| {
                acc + first.public_shares[j] * lagrange_at_zero::<Secp256k1>(*j, &set).unwrap()
            });
            assert_eq!(y, first.public_key);
        }
    }

    #[test]
    fn seeded_runs_are_deterministic() {
        let a = keygen(2, 3, 5, 0, &mut honest).unwrap();
        let b = keygen(2, 3, 5, 0, &mut honest).unwrap();
        assert_eq!(a[&p(1)].public_key, b[&p(1)].public_key);
    }

    #[test]
    fn bad_decommitment_names_the_dealer() {
        let mut t = rewrite::<Round2>(2, 2, |m, _| m.blind[0] ^= 1);
        assert_eq!(blamed(keygen(2, 3, 2, 2, &mut t)), (p(2), Fault::BadDecommitment));
    }

    /// Replace party 2's Feldman commitments by `vss`, with a matching commitment, so
    /// the decommitment opens and the checks behind it are reached.
    fn replace_vss(vss: Vec<Vec<u8>>) -> impl FnMut(&mut Envelope, PartyIndex) -> Vec<Envelope> {
        move |env: &mut Envelope, _| {
            if env.sender == p(2) && env.round == 1 {
                let c = commit(&env.session, p(2), &CONTEXT, &vss, &[7; 32]);
                env.payload = crate::message::encode(&Round1 { commitment: c });
            }
            if env.sender == p(2) && env.round == 2 {
                let mut m: Round2 = crate::message::decode_payload(&env.payload).unwrap();
                m.vss = vss.clone();
                m.blind = [7; 32];
                let c = commit(&env.session, p(2), &CONTEXT, &vss, &[7; 32]);
                set_echo(
                    &mut m.echo,
                    p(2),
                    &crate::message::encode(&Round1 { commitment: c }),
                );
                env.payload = crate::message::encode(&m);
            }
            Vec::new()
        }
    }

    fn g(k: u64) -> Vec<u8> {
        Secp256k1::element_to_bytes(&Secp256k1::mul_base(&Scalar::from(k)))
    }

    #[test]
    fn wrong_length_vss_commitments_name_the_dealer() {
        let mut t = replace_vss(vec![g(1), g(2), g(3)]);
        assert_eq!(
            blamed(keygen(2, 3, 3, 2, &mut t)),
            (p(2), Fault::WrongCommitmentLength { got: 3, expected: 2 })
        );
        let mut t = replace_vss(vec![g(1)]);
        assert_eq!(
            blamed(keygen(2, 3, 3, 2, &mut t)),
            (p(2), Fault::WrongCommitmentLength { got: 1, expected: 2 })
        );
    }

    #[test]
    fn invalid_and_identity_points_name_the_dealer() {
        let mut off_curve = vec![0u8; 33];
        off_curve[0] = 2;
        off_curve[32] = 5;
        let mut t = replace_vss(vec![g(1), off_curve]);
        let (who, fault) = blamed(keygen(2, 3, 4, 2, &mut t));
        assert_eq!(who, p(2));
        assert!(matches!(fault, Fault::InvalidElement(_)), "{fault:?}");
        let mut t = replace_vss(vec![vec![0u8; 33], g(2)]);
        let (who, fault) = blamed(keygen(2, 3, 4, 2, &mut t));
        assert_eq!(who, p(2));
        assert!(matches!(fault, Fault::InvalidElement(_)), "{fault:?}");
    }

    #[test]
    fn share_not_matching_commitments_names_the_dealer() {
        let mut t = rewrite::<crate::vss::ShareMessage>(3, 3, |m, env| {
            if env.recipient == Recipient::One(p(1)) {
                let s = Secp256k1::scalar_from_bytes(&m.share).unwrap() + Scalar::ONE;
                m.share = Secp256k1::scalar_to_bytes(&s);
            }
        });
        assert_eq!(blamed(keygen(2, 3, 5, 3, &mut t)), (p(3), Fault::InvalidShare));
    }

    #[test]
    fn zero_share_names_the_dealer() {
        let mut t = rewrite::<crate::vss::ShareMessage>(3, 3, |m, _| m.share = vec![0; 32]);
        let (who, fault) = blamed(keygen(2, 3, 6, 3, &mut t));
        assert_eq!(who, p(3));
        assert!(matches!(fault, Fault::InvalidScalar(_)), "{fault:?}");
    }

    #[test]
    fn bad_proof_of_knowledge_names_the_prover() {
        let mut t = rewrite::<Round4>(1, 4, |m, _| {
            let z = Secp256k1::scalar_from_bytes(&m.proof.response).unwrap() + Scalar::ONE;
            m.proof.response = Secp256k1::scalar_to_bytes(&z);
        });
        let (who, fault) = blamed(keygen(2, 3, 7, 1, &mut t));
        assert_eq!(who, p(1));
        assert!(matches!(fault, Fault::InvalidProof(_)), "{fault:?}");
    }

    #[test]
    fn equivocated_broadcast_is_caught_by_the_echo() {
        // Party 2 shows party 3 a different round-1 commitment than party 1.
        let mut t = |env: &mut Envelope, to: PartyIndex| {
            if env.sender == p(2) && env.round == 1 && to == p(3) {
                env.payload = crate::message::encode(&Round1 { commitment: [1; 32] });
            }
            Vec::new()
        };
        let (who, fault) = blamed(keygen(2, 3, 8, 2, &mut t));
        assert_eq!(who, p(2));
        assert!(matches!(fault, Fault::InconsistentBroadcast { .. }) || fault == Fault::BadDecommitment);
    }

    #[test]
    fn duplicate_and_wrong_round_name_the_sender() {
        let mut t = |env: &mut Envelope, to: PartyIndex| {
            if env.sender == p(2) && env.round == 1 && to == p(1) {
                return vec![env.clone()];
            }
            Vec::new()
        };
        assert_eq!(
            blamed(keygen(2, 3, 9, 2, &mut t)),
            (p(2), Fault::Duplicate { round: 1 })
        );
        let mut t = |env: &mut Envelope, to: PartyIndex| {
            if env.sender == p(3) && env.round == 3 && to == p(1) {
                let mut stale = env.clone();
                stale.round = 1;
                stale.recipient = Recipient::All;
                return vec![stale];
            }
            Vec::new()
        };
        let (who, fault) = blamed(keygen(2, 3, 10, 3, &mut t));
        assert_eq!(who, p(3));
        assert!(matches!(fault, Fault::WrongRound { got: 1, .. }), "{fault:?}");
    }
}
