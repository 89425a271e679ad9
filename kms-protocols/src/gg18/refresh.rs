//! Proactive refresh of a GG18 key among all of its holders: new shares **and new aux
//! material** (review H1).
//!
//! A refresh that only re-shares x leaves proactive security void for GG18: the
//! signing broadcasts K_i = Enc_{N_i}(k_i), so whoever obtains the Paillier secret of
//! enough holders at any time (one node per epoch, an old backup) and one signing
//! transcript decrypts every k_i and computes x. So, as in CGGMP21's refresh, every
//! holder also replaces its Paillier key and ring-Pedersen parameters, and a share of
//! the new epoch only ever works with the new material.
//!
//! The run is two sub-runs in parallel over one session, then a confirmation:
//! - the shares: the generic refresh of [`crate::dkg`] for secp256k1 under
//!   `Scheme::Gg18` (every holder deals a Feldman sharing of zero, exactly t
//!   commitments, identity constant term; shares point-to-point, round 1 echoed,
//!   confirmation of the public state) on `Phase::Refresh` rounds 1-3;
//! - the aux material: an [`AuxExchange`] of each holder's fresh [`AuxSecret`]
//!   (`Phase::Aux`, Πmod and Πprm broadcast, Πfac for each verifier under its new
//!   ring-Pedersen parameters, round 1 echoed), with every proof bound to a context
//!   derived from the holder's identity, this session and the key, so proofs of one
//!   refresh never verify in another. A holder whose "new" N or N~ equals its old one
//!   is named: re-keying is not optional.
//! - round 4 (`Phase::Refresh`, broadcast): a hash of the whole new public state (the
//!   session, epoch, public key, every public share, and the digest of every holder's
//!   new N, N~, h1, h2). The new share is output only when every holder confirmed the
//!   same hash, so nobody stages a share whose aux material a peer did not accept.
//!
//! The public key stays; shares, public shares, Paillier keys and ring-Pedersen
//! parameters all change, and the epoch goes up by one. Signing refuses to mix epochs.

use super::aux_exchange::AuxExchange;
use super::aux_info::{AuxSecret, PeerAux};
use super::key_share::KeyShareOf;
use super::mta_backend::{MtaBackend, PaillierMta};
use super::secp256k1::Secp256k1;
use super::Gg18KeyShare;
use crate::dkg::Dkg;
use crate::error::{Fault, ProtocolError};
use crate::group::Group;
use crate::key_share::KeyShare;
use crate::message::{Envelope, Phase, ProtocolId, Recipient, Scheme};
use crate::party::{PartyIndex, SessionId};
use crate::state_machine::{StateMachine, Step};
use crate::transcript::Transcript;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// The round of the final confirmation, after the generic refresh's three rounds.
pub const CONFIRM_ROUND: u16 = 4;

/// The protocol id of the shares' sub-run and of the confirmation.
const REFRESH_PROTOCOL: ProtocolId = ProtocolId {
    scheme: Scheme::Gg18,
    phase: Phase::Refresh,
    version: 1,
};

/// Round 4: the hash of the whole new public state.
#[derive(Serialize, Deserialize)]
pub(crate) struct Confirm {
    pub(crate) hash: [u8; 32],
}

/// The context that binds a holder's new aux proofs to this refresh: its identity
/// context, the session and the key.
fn refresh_context(session: &SessionId, public_key: &[u8], identity: &[u8]) -> Vec<u8> {
    crate::message::encode(&(b"kms/gg18/refresh-aux/v1", session.0, public_key, identity))
}

/// A GG18 refresh run for one holder; its output is the new share with the new aux
/// material (own secret, every peer's verified public data).
pub struct Gg18Refresh {
    session: SessionId,
    me: PartyIndex,
    peers: BTreeSet<PartyIndex>,
    old: Gg18KeyShare,
    new_aux: Arc<AuxSecret>,
    shares: Dkg<Secp256k1>,
    aux: AuxExchange,
    shares_out: Option<KeyShare<Secp256k1>>,
    aux_out: Option<BTreeMap<PartyIndex, PeerAux>>,
    own_hash: Option<[u8; 32]>,
    confirmations: BTreeMap<PartyIndex, [u8; 32]>,
    finished: bool,
}

impl fmt::Debug for Gg18Refresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gg18Refresh")
            .field("me", &self.me)
            .field("shares_done", &self.shares_out.is_some())
            .field("aux_done", &self.aux_out.is_some())
            .field("confirmations", &self.confirmations.len())
            .finish_non_exhaustive()
    }
}

impl Gg18Refresh {
    /// Start refreshing `share` with all other holders of the key. `new_aux` is fresh
    /// aux material of this holder (never used before: see the node's pool), and
    /// `identities` holds every holder's identity context (e.g. its node identity, as
    /// for [`super::start_aux_exchange`]), by party index.
    pub fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        share: &Gg18KeyShare,
        new_aux: AuxSecret,
        identities: &BTreeMap<PartyIndex, Vec<u8>>,
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        let bad = |m: &str| Err(ProtocolError::InvalidParameters(format!("GG18 refresh: {m}")));
        let parties: BTreeSet<PartyIndex> = PartyIndex::range(share.threshold.parties).collect();
        if !identities.keys().eq(parties.iter()) {
            return bad("the identity contexts must cover exactly the key's holders");
        }
        if new_aux.paillier().public() == share.aux_secret.paillier().public()
            || new_aux.ring_pedersen().modulus() == share.aux_secret.ring_pedersen().modulus()
        {
            return bad("the new aux material must replace both N and N~ of the old");
        }
        Self::start_unchecked(session, share, new_aux, identities, rng)
    }

    /// [`Gg18Refresh::start`] without the check that the material is new (for a test's
    /// cheating holder).
    fn start_unchecked<R: RngCore + CryptoRng>(
        session: SessionId,
        share: &Gg18KeyShare,
        new_aux: AuxSecret,
        identities: &BTreeMap<PartyIndex, Vec<u8>>,
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        let parties: BTreeSet<PartyIndex> = PartyIndex::range(share.threshold.parties).collect();
        let pk = share.public_key_bytes();
        let contexts: BTreeMap<PartyIndex, Vec<u8>> = identities
            .iter()
            .map(|(p, id)| (*p, refresh_context(&session, &pk, id)))
            .collect();
        let generic = KeyShare::<Secp256k1>::new(
            share.threshold,
            share.index,
            share.secret,
            share.public_key,
            share.public_shares.clone(),
            share.epoch,
        )?;
        let (shares, mut msgs) = crate::dkg::start_refresh(Scheme::Gg18, session, generic, rng)?;
        let all: Vec<PartyIndex> = parties.iter().copied().collect();
        let (aux, aux_msgs) = AuxExchange::start(session, share.index, &all, contexts, &new_aux, rng)?;
        msgs.extend(aux_msgs);
        let me = share.index;
        Ok((
            Self {
                session,
                me,
                peers: parties.into_iter().filter(|p| *p != me).collect(),
                old: share.clone(),
                new_aux: Arc::new(new_aux),
                shares,
                aux,
                shares_out: None,
                aux_out: None,
                own_hash: None,
                confirmations: BTreeMap::new(),
                finished: false,
            },
            msgs,
        ))
    }

    /// A holder must bring material other than its old one (a holder that "refreshes"
    /// with its old N or N~ would keep the old Paillier secret alive).
    fn check_renewed(&self, peers: &BTreeMap<PartyIndex, PeerAux>) -> Result<(), ProtocolError> {
        for (p, new) in peers {
            let Some(old) = self.old.aux_peers.get(p) else {
                return Err(ProtocolError::Internal(format!("no old aux material of {p}")));
            };
            if new.paillier() == old.paillier()
                || new.ring_pedersen().modulus() == old.ring_pedersen().modulus()
            {
                return Err(ProtocolError::culprit(
                    *p,
                    Fault::Other("refresh with the old Paillier key or ring-Pedersen modulus".into()),
                ));
            }
        }
        Ok(())
    }

    /// The hash of the new public state that every holder confirms.
    fn state_hash(&self, share: &KeyShare<Secp256k1>, peers: &BTreeMap<PartyIndex, PeerAux>) -> [u8; 32] {
        let mut t = Transcript::new(b"kms/gg18/refresh-confirm/v1");
        t.append(b"session", &self.session.0);
        t.append_u64(b"epoch", share.epoch());
        t.append(b"public key", &Secp256k1::element_to_bytes(share.public_key()));
        for (p, x) in share.public_shares() {
            t.append_u64(b"party", u64::from(p.get()));
            t.append(b"public share", &Secp256k1::element_to_bytes(x));
            let aux = if *p == self.me {
                PaillierMta::own_digest(&self.new_aux)
            } else {
                peers.get(p).map(PaillierMta::public_digest).unwrap_or([0; 32])
            };
            t.append(b"aux digest", &aux);
        }
        let c = t.challenge(b"confirmation");
        let mut out = [0u8; 32];
        out.copy_from_slice(&c[..32]);
        out
    }

    /// Both sub-runs are done: confirm the new state (once).
    fn confirm(&mut self) -> Result<Vec<Envelope>, ProtocolError> {
        let (Some(share), Some(peers)) = (&self.shares_out, &self.aux_out) else {
            return Ok(Vec::new());
        };
        if self.own_hash.is_some() {
            return Ok(Vec::new());
        }
        let hash = self.state_hash(share, peers);
        self.own_hash = Some(hash);
        Ok(vec![Envelope {
            protocol: REFRESH_PROTOCOL,
            session: self.session,
            round: CONFIRM_ROUND,
            sender: self.me,
            recipient: Recipient::All,
            payload: crate::message::encode(&Confirm { hash }),
        }])
    }

    fn accept_confirmation(&mut self, msg: Envelope) -> Result<(), ProtocolError> {
        let from = msg.sender;
        let blame = |f| ProtocolError::culprit(from, f);
        if !self.peers.contains(&from) {
            return Err(blame(Fault::UnknownSender));
        }
        if msg.protocol != REFRESH_PROTOCOL || msg.session != self.session {
            return Err(blame(Fault::WrongSession(format!("{:?}", msg.protocol))));
        }
        if msg.recipient != Recipient::All {
            return Err(blame(Fault::WrongRecipient("round is a broadcast")));
        }
        let c: Confirm = msg.decode()?;
        if self.confirmations.insert(from, c.hash).is_some() {
            return Err(blame(Fault::Duplicate { round: CONFIRM_ROUND }));
        }
        Ok(())
    }

    /// The new share, once every peer confirmed our hash.
    fn output(&mut self) -> Result<Option<Gg18KeyShare>, ProtocolError> {
        let Some(own) = self.own_hash else { return Ok(None) };
        if let Some((p, _)) = self.confirmations.iter().find(|(_, h)| **h != own) {
            return Err(ProtocolError::culprit(*p, Fault::BadConfirmation));
        }
        if self.confirmations.len() != self.peers.len() {
            return Ok(None);
        }
        let (Some(new), Some(peers)) = (self.shares_out.take(), self.aux_out.take()) else {
            return Err(ProtocolError::Internal(
                "refresh confirmed without its results".into(),
            ));
        };
        let share = KeyShareOf::new(
            new.threshold(),
            new.index(),
            *new.secret(),
            *new.public_key(),
            new.public_shares().clone(),
            new.epoch(),
            Arc::clone(&self.new_aux),
            Arc::new(peers),
        )
        .map_err(|e| ProtocolError::Internal(format!("refreshed share: {e}")))?;
        Ok(Some(share))
    }

    fn step<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<Gg18KeyShare>, ProtocolError> {
        let mut outgoing = Vec::new();
        if msg.protocol.phase == Phase::Aux {
            let step = self.aux.handle(msg, rng)?;
            outgoing.extend(step.outgoing);
            if let Some(peers) = step.output {
                self.check_renewed(&peers)?;
                self.aux_out = Some(peers);
            }
        } else if msg.round == CONFIRM_ROUND {
            self.accept_confirmation(msg)?;
        } else {
            let step = self.shares.handle(msg, rng)?;
            outgoing.extend(step.outgoing);
            if let Some(share) = step.output {
                self.shares_out = Some(share);
            }
        }
        outgoing.extend(self.confirm()?);
        match self.output()? {
            Some(share) => {
                self.finished = true;
                Ok(Step::done(outgoing, share))
            }
            None => Ok(Step::send(outgoing)),
        }
    }
}

impl StateMachine for Gg18Refresh {
    type Output = Gg18KeyShare;

    fn party(&self) -> PartyIndex {
        self.me
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<Gg18KeyShare>, ProtocolError> {
        if self.finished {
            return Err(ProtocolError::Finished);
        }
        let result = self.step(msg, rng);
        if result.is_err() {
            // An aborted run takes nothing more; its secrets go with it.
            self.finished = true;
            self.shares_out = None;
            self.aux_out = None;
        }
        result
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gg18::aux_exchange::Round1 as AuxRound1;
    use crate::gg18::bigint::BigInt;
    use crate::gg18::test_support::{
        fixture_refresh_secrets, honest, node_context, p, rewrite, run, Failure, Tamper,
    };
    use crate::gg18::tests::{check_signature, dkg, sign};
    use crate::message::{decode_payload, encode};
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// The identity contexts of fixture nodes 1..=n as parties 1..=n.
    pub(crate) fn identities(n: u16) -> BTreeMap<PartyIndex, Vec<u8>> {
        (1..=n)
            .map(|i| (p(i), node_context(usize::from(i) - 1)))
            .collect()
    }

    type Shares = BTreeMap<PartyIndex, Gg18KeyShare>;

    /// Refresh `shares` with the refresh fixtures as new material; `old_aux_of` holders
    /// (cheaters) bring their old material instead.
    fn refresh(
        shares: &Shares,
        seed: u64,
        old_aux_of: &[PartyIndex],
        cheaters: &[PartyIndex],
        tamper: &mut Tamper<'_>,
    ) -> Result<Shares, Failure> {
        let n = shares.len() as u16;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let session = SessionId::derive(format!("refresh-{seed}").as_bytes());
        let fresh = fixture_refresh_secrets(n);
        let ids = identities(n);
        let mut runs = BTreeMap::new();
        let mut first = Vec::new();
        for (i, s) in shares {
            let (r, m) = if old_aux_of.contains(i) {
                Gg18Refresh::start_unchecked(session, s, s.aux_secret().clone(), &ids, &mut rng).unwrap()
            } else {
                let aux = fresh[usize::from(i.get()) - 1].clone();
                Gg18Refresh::start(session, s, aux, &ids, &mut rng).unwrap()
            };
            runs.insert(*i, r);
            first.extend(m);
        }
        run(runs, first, seed, cheaters, tamper)
    }

    /// Rewrite `sender`'s round-1 aux broadcast (the shares' round 1 is left alone).
    fn rewrite_aux(
        sender: u16,
        mut f: impl FnMut(&mut AuxRound1),
    ) -> impl FnMut(&mut Envelope, PartyIndex) -> Vec<Envelope> {
        move |env: &mut Envelope, _to: PartyIndex| {
            if env.sender == p(sender) && env.round == 1 && env.protocol.phase == Phase::Aux {
                let mut m: AuxRound1 = decode_payload(&env.payload).expect("own payload");
                f(&mut m);
                env.payload = encode(&m);
            }
            Vec::new()
        }
    }

    fn blamed(r: Result<Shares, Failure>) -> (PartyIndex, Fault) {
        let Err(f) = r else {
            panic!("the refresh must fail")
        };
        match f.error {
            ProtocolError::Culprit { party, fault } => (party, fault),
            e => panic!("expected a culprit, got {e:?} (reported by {})", f.reporter),
        }
    }

    /// Review H1: a refresh re-keys every holder's Paillier key and ring-Pedersen
    /// parameters; every holder ends with every peer's new material; the public key
    /// stays and every signer pair signs (k256-verified).
    #[test]
    fn review_h1_refresh_rekeys_paillier() {
        let shares = dkg(2, 3, 0x4801);
        let new = refresh(&shares, 0x4802, &[], &[], &mut honest).unwrap();
        let fresh = fixture_refresh_secrets(3);
        for (i, s) in &new {
            let old = &shares[i];
            assert_eq!(s.public_key(), old.public_key());
            assert_eq!(s.epoch(), old.epoch() + 1);
            assert_ne!(
                s.aux_secret().paillier().public(),
                old.aux_secret().paillier().public()
            );
            assert_ne!(
                s.aux_secret().ring_pedersen().modulus(),
                old.aux_secret().ring_pedersen().modulus()
            );
            assert_eq!(
                s.aux_secret().paillier().public(),
                fresh[usize::from(i.get()) - 1].paillier().public()
            );
            for (j, peer) in s.aux_peers() {
                assert_eq!(peer.party(), *j);
                assert_eq!(peer.paillier(), new[j].aux_secret().paillier().public());
                assert_eq!(peer.ring_pedersen(), new[j].aux_secret().ring_pedersen());
                assert_ne!(peer.paillier(), old.aux_peers()[j].paillier());
            }
        }
        for (k, pair) in [[p(1), p(2)], [p(1), p(3)], [p(2), p(3)]].iter().enumerate() {
            let hash = [0x40 + k as u8; 32];
            let sigs = sign(&new, pair, hash, 0x4810 + k as u64, &[], &mut honest).unwrap();
            check_signature(&new[&pair[0]], &hash, &sigs[&pair[1]]);
        }
        // The refreshed shares survive storage with their own material.
        let back = Gg18KeyShare::from_bytes(&new[&p(2)].to_bytes()).unwrap();
        assert_eq!(
            back.aux_secret().paillier().public(),
            new[&p(2)].aux_secret().paillier().public()
        );
    }

    #[test]
    fn refresh_with_the_old_material_is_refused_locally() {
        let shares = dkg(2, 3, 0x4820);
        let s = &shares[&p(1)];
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let r = Gg18Refresh::start(
            SessionId::derive(b"old"),
            s,
            s.aux_secret().clone(),
            &identities(3),
            &mut rng,
        );
        assert!(matches!(r, Err(ProtocolError::InvalidParameters(m)) if m.contains("replace")));
        let mut two = identities(3);
        two.remove(&p(3));
        let r = Gg18Refresh::start(
            SessionId::derive(b"ids"),
            s,
            fixture_refresh_secrets(1).remove(0),
            &two,
            &mut rng,
        );
        assert!(matches!(r, Err(ProtocolError::InvalidParameters(_))));
    }

    #[test]
    fn a_holder_that_keeps_its_old_material_is_named() {
        let shares = dkg(2, 3, 0x4830);
        let (who, fault) = blamed(refresh(&shares, 0x4831, &[p(2)], &[p(2)], &mut honest));
        assert_eq!(who, p(2));
        assert!(
            matches!(fault, Fault::Other(m) if m.contains("old Paillier")),
            "names the reuse"
        );
    }

    #[test]
    fn a_bad_modulus_proof_in_the_refresh_names_the_sender() {
        let shares = dkg(2, 3, 0x4840);
        let mut t = rewrite_aux(3, |m| {
            m.aux.mod_proof.z[0] = &m.aux.mod_proof.z[0] + &BigInt::one()
        });
        let (who, fault) = blamed(refresh(&shares, 0x4841, &[], &[p(3)], &mut t));
        assert_eq!(who, p(3));
        assert!(matches!(fault, Fault::InvalidProof(m) if m.contains("modulus")));
    }

    #[test]
    fn proofs_from_another_refresh_do_not_verify() {
        // Holder 2 replays its material proven for another refresh of the same key (a
        // valid proof, under another session): bound to the session, it fails here.
        let shares = dkg(2, 3, 0x4850);
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let other = SessionId::derive(b"another refresh");
        let ctx = refresh_context(&other, &shares[&p(2)].public_key_bytes(), &node_context(1));
        let fresh = fixture_refresh_secrets(3);
        let replay = fresh[1].prove_for_node(&mut rng, &ctx).unwrap();
        let mut t = rewrite_aux(2, move |m| m.aux = replay.clone());
        let (who, fault) = blamed(refresh(&shares, 0x4851, &[], &[p(2)], &mut t));
        assert_eq!(who, p(2));
        assert!(matches!(fault, Fault::InvalidProof(_)), "{fault:?}");
    }

    #[test]
    fn a_wrong_confirmation_names_the_sender() {
        let shares = dkg(2, 3, 0x4860);
        let mut t = rewrite::<Confirm>(1, CONFIRM_ROUND, |m, _| m.hash[0] ^= 1);
        let (who, fault) = blamed(refresh(&shares, 0x4861, &[], &[p(1)], &mut t));
        assert_eq!(who, p(1));
        assert_eq!(fault, Fault::BadConfirmation);
    }

    #[test]
    fn confirmation_messages_are_checked() {
        let shares = dkg(2, 3, 0x4870);
        // A duplicate confirmation from holder 3.
        let mut t = |env: &mut Envelope, _to: PartyIndex| {
            if env.sender == p(3) && env.round == CONFIRM_ROUND {
                vec![env.clone()]
            } else {
                Vec::new()
            }
        };
        let (who, fault) = blamed(refresh(&shares, 0x4871, &[], &[p(3)], &mut t));
        assert_eq!(who, p(3));
        assert!(
            matches!(fault, Fault::Duplicate { round: CONFIRM_ROUND }),
            "{fault:?}"
        );
    }
}
