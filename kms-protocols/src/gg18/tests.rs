//! End-to-end tests of the GG18 runs with the 2048-bit fixture aux material: DKG,
//! signing by every t-subset (checked with k256), refresh, and one test per proof or
//! opening that, tampered, must name its sender.

use super::phase5::commit_points;
use super::sign::{Round1, Round2, Round3, Round5, Round7, Round9};
use super::test_support::{fixture_aux, p, rewrite, run, set_echo, Failure, Tamper};
use super::*;
use crate::error::Fault;
use crate::message::{encode, Recipient};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::VerifyingKey;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

type Cipher = super::paillier::Ciphertext;
type AliceProof = super::zk::mta_range::AliceRangeProof;
type BobMsg = super::mta::BobMessage;

pub(crate) fn dkg(t: u16, n: u16, seed: u64) -> BTreeMap<PartyIndex, Gg18KeyShare> {
    let aux = fixture_aux(n)
        .into_iter()
        .enumerate()
        .map(|(k, a)| (p(k as u16 + 1), a))
        .collect();
    dkg_with(t, seed, aux)
}

/// A DKG whose parties hold the given aux material (own secret, verified peers).
pub(crate) fn dkg_with(
    t: u16,
    seed: u64,
    aux: BTreeMap<PartyIndex, (aux_info::AuxSecret, BTreeMap<PartyIndex, aux_info::PeerAux>)>,
) -> BTreeMap<PartyIndex, Gg18KeyShare> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let session = SessionId::derive(format!("dkg-{seed}").as_bytes());
    let th = Threshold::new(t, aux.len() as u16).unwrap();
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for (me, (secret, peers)) in aux {
        let (r, m) = start_dkg(session, th, me, secret, peers, &mut rng).unwrap();
        runs.insert(me, r);
        first.extend(m);
    }
    run(runs, first, seed, &[], &mut super::test_support::honest).unwrap()
}

pub(crate) fn sign(
    shares: &BTreeMap<PartyIndex, Gg18KeyShare>,
    signers: &[PartyIndex],
    hash: [u8; 32],
    seed: u64,
    cheaters: &[PartyIndex],
    tamper: &mut Tamper<'_>,
) -> Result<BTreeMap<PartyIndex, EcdsaSignature>, Failure> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let session = SessionId::derive(format!("sign-{seed}").as_bytes());
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for s in signers {
        let (r, m) = start_sign(session, &shares[s], signers, hash, &mut rng).unwrap();
        runs.insert(*s, r);
        first.extend(m);
    }
    run(runs, first, seed, cheaters, tamper)
}

pub(crate) fn check_signature(share: &Gg18KeyShare, hash: &[u8; 32], sig: &EcdsaSignature) {
    let vk = VerifyingKey::from_affine(share.public_key().to_affine()).unwrap();
    let k = sig.to_k256().unwrap();
    vk.verify_prehash(hash, &k).expect("verifies with k256");
    assert!(k.normalize_s().is_none(), "low-s");
    let rec = VerifyingKey::recover_from_prehash(hash, &k, sig.k256_recovery_id().unwrap()).unwrap();
    assert_eq!(rec, vk, "recovers the public key");
    let rsv = sig.to_rsv();
    assert_eq!(&rsv[..32], &sig.r);
    assert_eq!(&rsv[32..64], &sig.s);
    assert_eq!(rsv[64], 27 + sig.recovery_id);
}

fn blamed(r: Result<BTreeMap<PartyIndex, EcdsaSignature>, Failure>) -> (PartyIndex, Fault) {
    let Err(f) = r else { panic!("the run must fail") };
    match f.error {
        ProtocolError::Culprit { party, fault } => (party, fault),
        e => panic!("expected a culprit, got {e:?} (reported by {})", f.reporter),
    }
}

#[test]
fn dkg_2_of_3_then_every_pair_signs() {
    let shares = dkg(2, 3, 1);
    let pk = *shares[&p(1)].public_key();
    assert!(shares.values().all(|s| *s.public_key() == pk && s.epoch() == 0));
    for (k, pair) in [[p(1), p(2)], [p(1), p(3)], [p(2), p(3)]].iter().enumerate() {
        let hash = [k as u8 + 1; 32];
        let sigs = sign(
            &shares,
            pair,
            hash,
            10 + k as u64,
            &[],
            &mut super::test_support::honest,
        )
        .unwrap();
        let first = sigs[&pair[0]];
        assert!(
            sigs.values().all(|s| *s == first),
            "all signers output the same signature"
        );
        check_signature(&shares[&pair[0]], &hash, &first);
    }
    // All three may sign too (more than t).
    let all = [p(1), p(2), p(3)];
    let sigs = sign(&shares, &all, [9; 32], 20, &[], &mut super::test_support::honest).unwrap();
    check_signature(&shares[&p(1)], &[9; 32], &sigs[&p(1)]);
}

#[test]
fn seeded_signing_is_deterministic() {
    let shares = dkg(2, 3, 2);
    let pair = [p(1), p(3)];
    let a = sign(&shares, &pair, [3; 32], 5, &[], &mut super::test_support::honest).unwrap();
    let b = sign(&shares, &pair, [3; 32], 5, &[], &mut super::test_support::honest).unwrap();
    assert_eq!(a[&p(1)], b[&p(1)]);
}

fn sign_with_pools(
    shares: &BTreeMap<PartyIndex, Gg18KeyShare>,
    signers: &[PartyIndex],
    hash: [u8; 32],
    seed: u64,
    pools: &mut BTreeMap<PartyIndex, Gg18Precomputed>,
) -> BTreeMap<PartyIndex, EcdsaSignature> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let session = SessionId::derive(format!("sign-pool-{seed}").as_bytes());
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for s in signers {
        let (r, m) = start_sign_with(session, &shares[s], signers, hash, pools.get_mut(s), &mut rng).unwrap();
        runs.insert(*s, r);
        first.extend(m);
    }
    run(runs, first, seed, &[], &mut super::test_support::honest).unwrap()
}

#[test]
fn precomputed_randomness_is_taken_once_and_inline_fills_the_gaps() {
    let shares = dkg(2, 3, 6);
    let pair = [p(1), p(3)];
    let mut rng = ChaCha20Rng::seed_from_u64(60);
    let mut pools = BTreeMap::new();
    for (me, peer) in [(p(1), p(3)), (p(3), p(1))] {
        let mut pool = Gg18Precomputed::new(&shares[&me]);
        // Filled in two parts, as a background worker would, then merged.
        let mut more = Gg18Precomputed::new(&shares[&me]);
        pool.fill(&shares[&me], &[peer], 1, &mut rng).unwrap();
        more.fill(&shares[&me], &[peer], 1, &mut rng).unwrap();
        pool.merge(more).unwrap();
        assert_eq!(pool.available(&pair), 2);
        assert_eq!(pool.available(&[p(1), p(2), p(3)]), 0, "nothing for party 2");
        pools.insert(me, pool);
    }
    for (round, hash) in [[1u8; 32], [2; 32]].into_iter().enumerate() {
        let sigs = sign_with_pools(&shares, &pair, hash, 61 + round as u64, &mut pools);
        check_signature(&shares[&p(1)], &hash, &sigs[&p(1)]);
        for pool in pools.values() {
            assert_eq!(pool.available(&pair), 1 - round, "one signing's worth taken");
        }
    }
    // Empty pools, and party 1 with none at all: everything is computed inline.
    pools.remove(&p(1));
    let sigs = sign_with_pools(&shares, &pair, [3; 32], 63, &mut pools);
    check_signature(&shares[&p(1)], &[3; 32], &sigs[&p(1)]);
    // Only party 1 holds a partial pool (its own nonce and party 3's items).
    let mut pools = BTreeMap::new();
    let mut pool = Gg18Precomputed::new(&shares[&p(1)]);
    pool.fill(&shares[&p(1)], &[p(3)], 1, &mut rng).unwrap();
    pools.insert(p(1), pool);
    let sigs = sign_with_pools(&shares, &pair, [4; 32], 64, &mut pools);
    check_signature(&shares[&p(1)], &[4; 32], &sigs[&p(1)]);
    assert_eq!(pools[&p(1)].available(&pair), 0);
}

#[test]
fn precomputation_pool_is_bound_to_its_aux_material() {
    let shares = dkg(2, 3, 7);
    let mut rng = ChaCha20Rng::seed_from_u64(70);
    let mut pool = Gg18Precomputed::new(&shares[&p(1)]);
    // Another party's share, a peer without aux material, and a foreign pool are refused.
    assert!(pool.fill(&shares[&p(2)], &[p(1)], 1, &mut rng).is_err());
    assert!(pool.fill(&shares[&p(1)], &[p(1)], 1, &mut rng).is_err());
    assert!(pool.merge(Gg18Precomputed::new(&shares[&p(2)])).is_err());
    pool.fill(&shares[&p(1)], &[p(2)], 1, &mut rng).unwrap();
    assert_eq!(pool.available(&[p(1), p(2)]), 1);
    let debug = format!("{pool:?}");
    assert!(debug.contains("own_nonces: 1"), "{debug}");
    // Party 2 cannot take party 1's items: its signing falls back to inline and the
    // pool keeps them.
    let (_run, _msgs) = start_sign_with(
        SessionId::derive(b"other"),
        &shares[&p(2)],
        &[p(1), p(2)],
        [0; 32],
        Some(&mut pool),
        &mut rng,
    )
    .unwrap();
    assert_eq!(pool.available(&[p(1), p(2)]), 1);
    pool.clear();
    assert_eq!(pool.available(&[p(1), p(2)]), 0);
}

#[test]
fn refresh_keeps_the_key_new_shares_sign_and_epochs_do_not_mix() {
    let shares = dkg(2, 3, 3);
    let mut rng = ChaCha20Rng::seed_from_u64(33);
    let session = SessionId::derive(b"refresh-1");
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    let fresh = super::test_support::fixture_refresh_secrets(3);
    let ids = super::refresh::tests::identities(3);
    for (i, s) in &shares {
        let aux = fresh[usize::from(i.get()) - 1].clone();
        let (r, m) = start_refresh(session, s, aux, &ids, &mut rng).unwrap();
        runs.insert(*i, r);
        first.extend(m);
    }
    let new = run(runs, first, 34, &[], &mut super::test_support::honest).unwrap();
    for (i, s) in &new {
        assert_eq!(s.public_key(), shares[i].public_key());
        assert_eq!(s.epoch(), 1);
        assert_ne!(s.public_shares()[i], shares[i].public_shares()[i]);
    }
    let sigs = sign(
        &new,
        &[p(2), p(3)],
        [4; 32],
        35,
        &[],
        &mut super::test_support::honest,
    )
    .unwrap();
    check_signature(&new[&p(2)], &[4; 32], &sigs[&p(2)]);

    // An old share with a new one: the holder of the new share names the old one.
    let mut mixed = BTreeMap::new();
    mixed.insert(p(1), new[&p(1)].clone());
    mixed.insert(p(2), shares[&p(2)].clone());
    let mixed_run = sign(
        &mixed,
        &[p(1), p(2)],
        [4; 32],
        36,
        &[],
        &mut super::test_support::honest,
    );
    let Err(err) = mixed_run else {
        panic!("mixed epochs must fail")
    };
    let party = err.error.blamed().expect("a culprit");
    assert_ne!(party, err.reporter);
    assert!(
        matches!(err.error.fault(), Some(Fault::Other(m)) if m.contains("epoch")),
        "{:?}",
        err.error
    );
}

const PAIR: [PartyIndex; 2] = [
    match PartyIndex::new(1) {
        Some(x) => x,
        None => unreachable!(),
    },
    match PartyIndex::new(2) {
        Some(x) => x,
        None => unreachable!(),
    },
];

fn tampered(seed: u64, tamper: &mut Tamper<'_>) -> (PartyIndex, Fault) {
    let shares = dkg(2, 3, seed);
    blamed(sign(&shares, &PAIR, [7; 32], seed, &[p(2)], tamper))
}

fn is_proof(f: &Fault) -> bool {
    matches!(f, Fault::InvalidProof(_))
}

#[test]
fn bad_alice_range_proof_names_alice() {
    let mut t = rewrite::<Round2<AliceProof>>(2, 2, |m, _| {
        m.proof.s1 = &m.proof.s1 + &super::bigint::BigInt::one()
    });
    let (who, fault) = tampered(40, &mut t);
    assert_eq!(who, p(2));
    assert!(is_proof(&fault), "{fault:?}");
}

#[test]
fn bad_bob_proof_names_bob() {
    let mut t = rewrite::<Round3<BobMsg>>(2, 3, |m, _| m.mta_gamma.ciphertext = m.mta_w.ciphertext.clone());
    let (who, fault) = tampered(41, &mut t);
    assert_eq!(who, p(2));
    assert!(is_proof(&fault), "{fault:?}");
}

#[test]
fn mtawc_input_not_matching_public_share_names_bob() {
    // Party 2 signs with a secret that does not match the public share the others
    // hold for it (its own copy is made consistent so its local checks pass): its
    // MtAwc answer cannot be proven against W_2.
    let mut shares = dkg(2, 3, 42);
    let mut s2 = shares[&p(2)].clone();
    s2.secret += k256::Scalar::ONE;
    let x2 = <super::secp256k1::Secp256k1 as crate::group::Group>::mul_base(&s2.secret);
    s2.public_shares.insert(p(2), x2);
    shares.insert(p(2), s2);
    let (who, fault) = blamed(sign(
        &shares,
        &PAIR,
        [7; 32],
        42,
        &[p(2)],
        &mut super::test_support::honest,
    ));
    assert_eq!(who, p(2));
    assert!(is_proof(&fault), "{fault:?}");
}

#[test]
fn bad_gamma_decommitment_and_pok_name_the_signer() {
    let mut t = rewrite::<Round5>(2, 5, |m, _| m.blind[0] ^= 1);
    assert_eq!(tampered(43, &mut t), (p(2), Fault::BadDecommitment));
    let mut t = rewrite::<Round5>(2, 5, |m, _| m.proof.response[31] ^= 1);
    let (who, fault) = tampered(44, &mut t);
    assert_eq!(who, p(2));
    assert!(
        is_proof(&fault) || matches!(fault, Fault::InvalidScalar(_)),
        "{fault:?}"
    );
}

#[test]
fn phase5_inconsistent_openings_name_the_signer() {
    let mut t = rewrite::<Round7>(2, 7, |m, _| m.blind[0] ^= 1);
    assert_eq!(tampered(45, &mut t), (p(2), Fault::BadDecommitment));
    let mut t = rewrite::<Round9>(2, 9, |m, _| std::mem::swap(&mut m.u, &mut m.t));
    assert_eq!(tampered(46, &mut t), (p(2), Fault::BadDecommitment));
}

#[test]
fn bad_phase5b_proof_names_the_signer() {
    let mut t = rewrite::<Round7>(2, 7, |m, _| m.proof.tamper_for_test());
    let (who, fault) = tampered(47, &mut t);
    assert_eq!(who, p(2));
    assert!(
        is_proof(&fault) || matches!(fault, Fault::InvalidScalar(_)),
        "{fault:?}"
    );
}

#[test]
fn identity_gamma_names_the_signer() {
    // Party 2 commits to the identity as Gamma_2 in round 1 and opens it in round 5;
    // its own echo of round 1 (sent in round 2) is kept coherent with what it sent.
    let shares = dkg(2, 3, 48);
    let extra = super::sign::run_context(&SessionId::derive(b"sign-48"), &shares[&p(2)], &PAIR, &[7; 32]);
    let identity = vec![0u8; 33];
    let blind = [3u8; 32];
    let session = SessionId::derive(b"sign-48");
    let commitment = commit_points(
        super::sign::GAMMA_COMMIT,
        &session,
        p(2),
        &extra,
        std::slice::from_ref(&identity),
        &blind,
    );
    let mut round1_payload = Vec::new();
    let mut original = Vec::new();
    let mut t = |env: &mut crate::message::Envelope, to: PartyIndex| {
        // The cheater's own run keeps its original view of round 1; the echo it gets
        // back is made to match it, so the cheater carries on to round 5.
        if env.round == 2 && to == p(2) {
            let mut m: Round2<AliceProof> = crate::message::decode_payload(&env.payload).unwrap();
            set_echo(&mut m.echo, p(2), &original);
            env.payload = encode(&m);
        }
        if env.sender == p(2) && env.round == 1 {
            original = env.payload.clone();
            let mut m: Round1<Cipher> = crate::message::decode_payload(&env.payload).unwrap();
            m.gamma_commitment = commitment;
            env.payload = encode(&m);
            round1_payload = env.payload.clone();
        }
        if env.sender == p(2) && env.round == 2 {
            let mut m: Round2<AliceProof> = crate::message::decode_payload(&env.payload).unwrap();
            set_echo(&mut m.echo, p(2), &round1_payload);
            env.payload = encode(&m);
        }
        if env.sender == p(2) && env.round == 5 {
            let mut m: Round5 = crate::message::decode_payload(&env.payload).unwrap();
            m.gamma_point = identity.clone();
            m.blind = blind;
            env.payload = encode(&m);
        }
        Vec::new()
    };
    let (who, fault) = blamed(sign(&shares, &PAIR, [7; 32], 48, &[p(2)], &mut t));
    assert_eq!(who, p(2));
    assert!(matches!(fault, Fault::InvalidElement(_)), "{fault:?}");
}

#[test]
fn duplicate_and_wrong_round_name_the_sender() {
    let shares = dkg(2, 3, 49);
    // With three signers party 1 still waits for party 3 when the copy arrives.
    let mut t = |env: &mut crate::message::Envelope, to: PartyIndex| {
        if env.sender == p(2) && env.round == 1 && to == p(1) {
            return vec![env.clone()];
        }
        Vec::new()
    };
    assert_eq!(
        blamed(sign(&shares, &[p(1), p(2), p(3)], [7; 32], 49, &[p(2)], &mut t)),
        (p(2), Fault::Duplicate { round: 1 })
    );
    let mut t = |env: &mut crate::message::Envelope, to: PartyIndex| {
        if env.sender == p(2) && env.round == 6 && to == p(1) {
            let mut stale = env.clone();
            stale.round = 2;
            stale.recipient = Recipient::One(p(1));
            return vec![stale];
        }
        Vec::new()
    };
    let (who, fault) = blamed(sign(&shares, &PAIR, [7; 32], 50, &[p(2)], &mut t));
    assert_eq!(who, p(2));
    assert!(matches!(fault, Fault::WrongRound { got: 2, .. }), "{fault:?}");
}

#[test]
fn equivocated_ciphertext_is_caught_by_the_echo() {
    let shares = dkg(2, 3, 51);
    let all = [p(1), p(2), p(3)];
    // Party 2 shows party 3 another round-1 broadcast than party 1.
    let mut t = |env: &mut crate::message::Envelope, to: PartyIndex| {
        if env.sender == p(2) && env.round == 1 && to == p(3) {
            let mut m: Round1<Cipher> = crate::message::decode_payload(&env.payload).unwrap();
            m.gamma_commitment[0] ^= 1;
            env.payload = encode(&m);
        }
        Vec::new()
    };
    let (who, fault) = blamed(sign(&shares, &all, [7; 32], 51, &[p(2)], &mut t));
    assert_eq!(who, p(2));
    assert!(matches!(fault, Fault::InconsistentBroadcast { .. }), "{fault:?}");
}

#[test]
fn signer_set_is_checked_locally() {
    let shares = dkg(2, 3, 52);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let s = SessionId([0; 32]);
    assert!(start_sign(s, &shares[&p(1)], &[p(1)], [0; 32], &mut rng).is_err());
    assert!(start_sign(s, &shares[&p(1)], &[p(2), p(3)], [0; 32], &mut rng).is_err());
    assert!(start_sign(s, &shares[&p(1)], &[p(1), p(1)], [0; 32], &mut rng).is_err());
    assert!(start_sign(s, &shares[&p(1)], &[p(1), p(4)], [0; 32], &mut rng).is_err());
}

#[test]
fn dkg_refuses_aux_not_labelled_with_the_party_index() {
    let mut rng = ChaCha20Rng::seed_from_u64(60);
    let th = Threshold::new(2, 3).unwrap();
    let s = SessionId([6; 32]);
    let (secret, peers) = fixture_aux(3).swap_remove(0);
    // As verified, before relabelling: the node label, not an index of this key.
    let mut unlabelled = peers.clone();
    let two = unlabelled.remove(&p(2)).unwrap();
    unlabelled.insert(p(2), two.clone().with_party(aux_info::NODE_PROVER));
    let err = start_dkg(s, th, p(1), secret.clone(), unlabelled, &mut rng)
        .err()
        .expect("refused");
    assert!(
        matches!(err, ProtocolError::InvalidParameters(ref m) if m.contains("party index")),
        "{err}"
    );
    // Party 2's material labelled as party 3's.
    let mut swapped = peers.clone();
    swapped.insert(p(2), two.with_party(p(3)));
    assert!(start_dkg(s, th, p(1), secret.clone(), swapped, &mut rng).is_err());
    // Correctly labelled, it starts.
    assert!(start_dkg(s, th, p(1), secret, peers, &mut rng).is_ok());
}
