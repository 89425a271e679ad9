//! The aux-exchange run (`Phase::Aux` of `Scheme::Gg18`): a set of nodes exchange and
//! verify their node-level aux material, once, before any key is made among them.
//!
//! Rounds (each party i, with identity context ctx_i, e.g. its node id):
//! 1. broadcast: i's [`AuxPublic`], proven under ctx_i and [`super::aux_info::NODE_PROVER`] (Πmod: N_i is
//!    a Paillier-Blum modulus; Πprm: i's ring-Pedersen parameters are well formed);
//! 2. point-to-point: for each j, after verifying j's round-1 material, Πfac for N_i under
//!    j's ring-Pedersen parameters, with an echo of round 1 (so all parties hold the same
//!    material of everyone);
//!
//! and the output: every other party's [`PeerAux`], fully verified (Πmod, Πprm, Πfac),
//! labelled with its index in this run. The proofs depend on the contexts, not on the
//! indices, so the caller caches the result per peer node and relabels it with
//! [`PeerAux::with_party`] for the index the peer has in each key.

use super::aux_info::{AuxPublic, AuxSecret, PeerAux, VerifiedAux};
use super::zk::no_small_factor::NoSmallFactorProof;
use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::ProtocolError;
use crate::inbox::Echo;
use crate::message::{Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId, Threshold};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) const VERSION: u16 = 1;

/// Round 1: the sender's public aux material with Πmod and Πprm.
#[derive(Serialize, Deserialize)]
pub struct Round1 {
    pub(crate) aux: AuxPublic,
}

/// Round 2: Πfac for the recipient, and the sender's view of round 1.
#[derive(Serialize, Deserialize)]
pub struct Round2 {
    pub(crate) fac: NoSmallFactorProof,
    pub(crate) echo: Echo,
}

round_messages! {
    /// The messages of the aux exchange, one variant per round.
    #[non_exhaustive]
    pub enum AuxMsg {
        1 Broadcast Material(Round1),
        2 P2p NoSmallFactor(Round2) echoes 1,
    }
}

/// One party's aux-exchange run; its output is every other party's verified
/// [`PeerAux`], by index.
pub type AuxExchange = Driver<AuxRounds>;

/// The round logic of the aux exchange.
pub struct AuxRounds {
    me: PartyIndex,
    contexts: BTreeMap<PartyIndex, Vec<u8>>,
    aux: AuxSecret,
    verified: BTreeMap<PartyIndex, VerifiedAux>,
}

impl std::fmt::Debug for AuxRounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuxRounds")
            .field("me", &self.me)
            .field("aux", &self.aux)
            .finish()
    }
}

impl AuxExchange {
    /// Start the exchange for `me` among `parties`; see [`super::start_aux_exchange`].
    pub fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        me: PartyIndex,
        parties: &[PartyIndex],
        contexts: BTreeMap<PartyIndex, Vec<u8>>,
        aux: &AuxSecret,
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        let bad = |m: String| Err(ProtocolError::InvalidParameters(format!("aux exchange: {m}")));
        let set: BTreeSet<PartyIndex> = parties.iter().copied().collect();
        if set.len() != parties.len() {
            return bad("a party is listed twice".into());
        }
        if set.len() < 2 || set.len() > usize::from(Threshold::MAX_PARTIES) {
            return bad(format!(
                "{} parties (need 2..={})",
                set.len(),
                Threshold::MAX_PARTIES
            ));
        }
        if !contexts.keys().eq(set.iter()) {
            return bad("the identity contexts must cover exactly the parties".into());
        }
        let distinct: BTreeSet<&Vec<u8>> = contexts.values().collect();
        if distinct.len() != contexts.len() || contexts.values().any(Vec::is_empty) {
            return bad("identity contexts must be non-empty and distinct".into());
        }
        let protocol = ProtocolId {
            scheme: Scheme::Gg18,
            phase: Phase::Aux,
            version: VERSION,
        };
        Driver::new(protocol, session, me, &set, |io| {
            let own_context = contexts
                .get(&me)
                .ok_or_else(|| ProtocolError::InvalidParameters(format!("{me} is not one of the parties")))?;
            let public = aux.prove_for_node(rng, own_context)?;
            io.broadcast::<1>(&Round1 { aux: public });
            Ok(AuxRounds {
                me,
                contexts,
                aux: aux.clone(),
                verified: BTreeMap::new(),
            })
        })
    }
}

impl AuxRounds {
    fn context(&self, party: PartyIndex) -> Result<&[u8], ProtocolError> {
        self.contexts
            .get(&party)
            .map(Vec::as_slice)
            .ok_or_else(|| ProtocolError::Internal(format!("no context for {party}")))
    }

    fn round1<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round1>,
        io: &mut Io<'_, AuxMsg>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        for (from, r1) in msgs {
            let verified = r1
                .aux
                .verify_for_node(self.context(from)?)
                .map_err(|f| ProtocolError::culprit(from, f))?;
            self.verified.insert(from, verified);
        }
        let me = self.me;
        let echo = io.echo(1);
        for (to, peer) in &self.verified {
            let fac = self
                .aux
                .prove_no_small_factor_for_node(rng, self.context(me)?, peer)?;
            let r2 = Round2 {
                fac,
                echo: echo.clone(),
            };
            io.send::<2>(*to, &r2);
        }
        Ok(())
    }

    fn round2(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round2>,
    ) -> Result<BTreeMap<PartyIndex, PeerAux>, ProtocolError> {
        let mut out = BTreeMap::new();
        for (from, r2) in msgs {
            let verified = self
                .verified
                .remove(&from)
                .ok_or_else(|| ProtocolError::Internal(format!("no round-1 material of {from}")))?;
            let peer = verified
                .accept_no_small_factor(self.context(from)?, &r2.fac, &self.aux)
                .map_err(|f| ProtocolError::culprit(from, f))?;
            out.insert(from, peer.with_party(from));
        }
        Ok(out)
    }
}

impl Rounds for AuxRounds {
    type Msg = AuxMsg;
    type Output = BTreeMap<PartyIndex, PeerAux>;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<AuxMsg>,
        io: &mut Io<'_, AuxMsg>,
        rng: &mut R,
    ) -> Result<Option<Self::Output>, ProtocolError> {
        match round {
            1 => self.round1(msgs.take::<1>()?, io, rng).map(|()| None),
            _ => self.round2(msgs.take::<2>()?).map(Some),
        }
    }
}

/// The stand-alone checks of one aux-exchange message, for [`crate::recheck`]: `None`
/// for a round this run does not have.
pub(crate) fn recheck_payload(round: u16, payload: &[u8]) -> Option<Result<(), crate::error::Fault>> {
    Some(match round {
        1 => crate::recheck::decodes::<Round1>(payload).map(|_| ()),
        2 => crate::recheck::decodes::<Round2>(payload).map(|_| ()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Fault;
    use crate::gg18::aux_info::{aux_session, NODE_PROVER};
    use crate::gg18::bigint::BigInt;
    use crate::gg18::start_aux_exchange;
    use crate::gg18::test_support::{
        fixture_int, fixture_json, fixture_secrets, honest, node_context, p, rewrite, run, set_echo, Failure,
        Tamper,
    };
    use crate::gg18::tests::{check_signature, dkg_with, sign};
    use crate::gg18::zk::modulus::ModulusProof;
    use crate::message::Recipient;
    use crate::message::{decode_payload, encode};
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    type Outputs = BTreeMap<PartyIndex, BTreeMap<PartyIndex, PeerAux>>;

    fn contexts(n: u16) -> BTreeMap<PartyIndex, Vec<u8>> {
        (0..usize::from(n))
            .map(|k| (p(k as u16 + 1), node_context(k)))
            .collect()
    }

    /// An exchange among fixture nodes 1..=n (node k as party k).
    fn exchange(
        n: u16,
        seed: u64,
        cheaters: &[PartyIndex],
        tamper: &mut Tamper<'_>,
    ) -> Result<Outputs, Failure> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let session = SessionId::derive(format!("aux-{seed}").as_bytes());
        let parties: Vec<PartyIndex> = PartyIndex::range(n).collect();
        let mut runs = BTreeMap::new();
        let mut first = Vec::new();
        for (k, secret) in fixture_secrets(n).iter().enumerate() {
            let me = p(k as u16 + 1);
            let (r, m) = start_aux_exchange(session, me, &parties, contexts(n), secret, &mut rng).unwrap();
            runs.insert(me, r);
            first.extend(m);
        }
        run(runs, first, seed, cheaters, tamper)
    }

    fn blamed(r: Result<Outputs, Failure>) -> (PartyIndex, Fault) {
        let Err(f) = r else {
            panic!("the exchange must fail")
        };
        match f.error {
            ProtocolError::Culprit { party, fault } => (party, fault),
            e => panic!("expected a culprit, got {e:?} (reported by {})", f.reporter),
        }
    }

    fn proof_fault(f: &Fault, needle: &str) -> bool {
        matches!(f, Fault::InvalidProof(m) if m.contains(needle))
    }

    /// Check an honest exchange's outputs against the nodes' own material.
    fn check_outputs(out: &Outputs, secrets: &[AuxSecret]) {
        for (me, peers) in out {
            let expected: Vec<PartyIndex> = out.keys().copied().filter(|q| q != me).collect();
            assert_eq!(peers.keys().copied().collect::<Vec<_>>(), expected);
            for (j, peer) in peers {
                let node = &secrets[usize::from(j.get()) - 1];
                assert_eq!(peer.party(), *j, "labelled with its index in the exchange");
                assert_eq!(peer.paillier(), node.paillier().public());
                assert_eq!(peer.ring_pedersen(), node.ring_pedersen());
            }
        }
    }

    #[test]
    fn three_nodes_exchange_then_make_a_key_and_sign() {
        let out = exchange(3, 1, &[], &mut honest).unwrap();
        let secrets = fixture_secrets(3);
        check_outputs(&out, &secrets);
        let aux = out
            .into_iter()
            .map(|(i, peers)| (i, (secrets[usize::from(i.get()) - 1].clone(), peers)))
            .collect();
        let shares = dkg_with(2, 80, aux);
        let sigs = sign(&shares, &[p(1), p(3)], [8; 32], 81, &[], &mut honest).unwrap();
        check_signature(&shares[&p(1)], &[8; 32], &sigs[&p(3)]);
    }

    #[test]
    fn four_nodes_exchange_once_and_a_key_on_three_relabels_the_cached_result() {
        let out = exchange(4, 2, &[], &mut honest).unwrap();
        let secrets = fixture_secrets(4);
        check_outputs(&out, &secrets);
        // The service caches each verified peer by node (here: node k = party k of the
        // exchange) and makes a key on nodes 4, 2, 3 as its parties 1, 2, 3.
        let key_nodes = [p(4), p(2), p(3)];
        let index_in_key =
            |node: PartyIndex| p(key_nodes.iter().position(|n| *n == node).unwrap() as u16 + 1);
        let mut aux = BTreeMap::new();
        for node in key_nodes {
            let cache = &out[&node];
            let peers = key_nodes
                .iter()
                .filter(|n| **n != node)
                .map(|n| (index_in_key(*n), cache[n].clone().with_party(index_in_key(*n))))
                .collect();
            aux.insert(
                index_in_key(node),
                (secrets[usize::from(node.get()) - 1].clone(), peers),
            );
        }
        let shares = dkg_with(2, 82, aux);
        let sigs = sign(&shares, &[p(1), p(2)], [9; 32], 83, &[], &mut honest).unwrap();
        check_signature(&shares[&p(1)], &[9; 32], &sigs[&p(2)]);
    }

    #[test]
    fn tampered_modulus_proof_names_the_sender() {
        let mut t = rewrite::<Round1>(2, 1, |m, _| {
            m.aux.mod_proof.x[3] = &m.aux.mod_proof.x[3] + &BigInt::one()
        });
        let (who, fault) = blamed(exchange(3, 3, &[p(2)], &mut t));
        assert_eq!(who, p(2));
        assert!(proof_fault(&fault, "modulus"), "{fault:?}");
    }

    #[test]
    fn tampered_ring_pedersen_proof_names_the_sender() {
        let mut t = rewrite::<Round1>(3, 1, |m, _| {
            let z = &m.aux.prm_proof.responses_12[0];
            m.aux.prm_proof.responses_12[0] = z + &BigInt::one();
        });
        let (who, fault) = blamed(exchange(3, 4, &[p(3)], &mut t));
        assert_eq!(who, p(3));
        assert!(proof_fault(&fault, "ring-Pedersen"), "{fault:?}");
    }

    #[test]
    fn tampered_no_small_factor_proof_names_the_sender() {
        let mut t = rewrite::<Round2>(2, 2, |m, env| {
            if env.recipient == Recipient::One(p(3)) {
                m.fac.w1 = &m.fac.w1 + &BigInt::one();
            }
        });
        let (who, fault) = blamed(exchange(3, 5, &[p(2)], &mut t));
        assert_eq!(who, p(2));
        assert!(proof_fault(&fault, "no-small-factor"), "{fault:?}");
    }

    #[test]
    fn malformed_messages_name_the_sender() {
        let mut t = |env: &mut Envelope, _: PartyIndex| {
            if env.sender == p(1) && env.round == 1 {
                env.payload.truncate(env.payload.len() / 2);
            }
            Vec::new()
        };
        let (who, fault) = blamed(exchange(3, 6, &[p(1)], &mut t));
        assert_eq!(who, p(1));
        assert!(matches!(fault, Fault::Malformed(_)), "{fault:?}");
        // An N below 2048 bits, with its proof: refused before any proof is checked.
        let mut t = rewrite::<Round1>(3, 1, |m, _| m.aux.paillier_n = BigInt::pow2(1024) + BigInt::one());
        let (who, fault) = blamed(exchange(3, 7, &[p(3)], &mut t));
        assert_eq!(who, p(3));
        assert!(
            matches!(fault, Fault::ModulusSize { bits: 1025, .. }),
            "{fault:?}"
        );
    }

    #[test]
    fn material_proven_for_another_node_names_the_sender() {
        // Node 2 presents node 1's (valid) material as its own: the proofs are bound to
        // node 1's identity, so they fail under node 2's.
        let mut stolen = None;
        let mut t = |env: &mut Envelope, _: PartyIndex| {
            if env.sender == p(1) && env.round == 1 {
                stolen = Some(env.payload.clone());
            }
            if env.sender == p(2) && env.round == 1 {
                if let Some(s) = &stolen {
                    env.payload = s.clone();
                }
            }
            Vec::new()
        };
        let (who, fault) = blamed(exchange(3, 8, &[p(2)], &mut t));
        assert_eq!(who, p(2));
        assert!(matches!(fault, Fault::InvalidProof(_)), "{fault:?}");
    }

    #[test]
    fn modulus_with_a_small_factor_is_refused() {
        // Node 2 uses N = p q with a 61-bit p (a Blum modulus, so its Πmod is honest and
        // passes) and makes every proof honestly from those primes; Πfac must refuse it.
        let json = fixture_json();
        let (sp, sq) = (
            fixture_int(&json["small_factor_p"]),
            fixture_int(&json["small_factor_q"]),
        );
        let n = &sp * &sq;
        let ctx2 = node_context(1);
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let secrets = fixture_secrets(3);
        let mod_proof =
            ModulusProof::prove(&mut rng, &aux_session(&ctx2), NODE_PROVER, &n, &sp, &sq).unwrap();
        let mut crafted_round1: Option<Vec<u8>> = None;
        let mut t = |env: &mut Envelope, to: PartyIndex| {
            if env.sender == p(2) && env.round == 1 {
                let payload = crafted_round1.get_or_insert_with(|| {
                    let mut m: Round1 = decode_payload(&env.payload).unwrap();
                    m.aux.paillier_n = n.clone();
                    m.aux.mod_proof = mod_proof.clone();
                    encode(&m)
                });
                env.payload = payload.clone();
            }
            if env.sender == p(2) && env.round == 2 {
                let mut m: Round2 = decode_payload(&env.payload).unwrap();
                let verifier = secrets[usize::from(to.get()) - 1].ring_pedersen();
                m.fac = NoSmallFactorProof::prove(
                    &mut rng,
                    &aux_session(&ctx2),
                    NODE_PROVER,
                    &n,
                    &sp,
                    &sq,
                    verifier,
                )
                .unwrap();
                set_echo(&mut m.echo, p(2), crafted_round1.as_ref().unwrap());
                env.payload = encode(&m);
            }
            Vec::new()
        };
        let (who, fault) = blamed(exchange(3, 9, &[p(2)], &mut t));
        assert_eq!(who, p(2));
        assert!(proof_fault(&fault, "too small"), "{fault:?}");
    }

    #[test]
    fn equivocated_material_is_caught_by_the_echo() {
        // Node 3 shows node 1 other (valid, its own freshly proven) material than node 2.
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        let other = fixture_secrets(3)[2]
            .prove_for_node(&mut rng, &node_context(2))
            .unwrap();
        let mut t = |env: &mut Envelope, to: PartyIndex| {
            if env.sender == p(3) && env.round == 1 && to == p(1) {
                env.payload = encode(&Round1 { aux: other.clone() });
            }
            Vec::new()
        };
        let (who, fault) = blamed(exchange(3, 10, &[p(3)], &mut t));
        assert_eq!(who, p(3));
        assert!(matches!(fault, Fault::InconsistentBroadcast { .. }), "{fault:?}");
    }

    #[test]
    fn parameters_are_checked_locally() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let secret = fixture_secrets(1).remove(0);
        let s = SessionId([1; 32]);
        let three = [p(1), p(2), p(3)];
        let refused = |r: Result<(AuxExchange, Vec<Envelope>), ProtocolError>| {
            matches!(r, Err(ProtocolError::InvalidParameters(_)))
        };
        assert!(refused(start_aux_exchange(
            s,
            p(1),
            &[p(1), p(1), p(2)],
            contexts(2),
            &secret,
            &mut rng
        )));
        assert!(refused(start_aux_exchange(
            s,
            p(1),
            &[p(1)],
            contexts(1),
            &secret,
            &mut rng
        )));
        assert!(refused(start_aux_exchange(
            s,
            p(4),
            &three,
            contexts(3),
            &secret,
            &mut rng
        )));
        assert!(refused(start_aux_exchange(
            s,
            p(1),
            &three,
            contexts(2),
            &secret,
            &mut rng
        )));
        let mut same = contexts(3);
        same.insert(p(3), node_context(0));
        assert!(refused(start_aux_exchange(
            s,
            p(1),
            &three,
            same,
            &secret,
            &mut rng
        )));
        let mut empty = contexts(3);
        empty.insert(p(2), Vec::new());
        assert!(refused(start_aux_exchange(
            s,
            p(1),
            &three,
            empty,
            &secret,
            &mut rng
        )));
    }
}
