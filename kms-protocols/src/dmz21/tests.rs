//! DMZ21 runs end to end at the 128-bit CL parameters: key generation, signing by
//! every 2-of-3 subset (verified with k256), refresh, and one tampering test per proof
//! and check, each naming its culprit. One honest key generation is shared by all
//! signing tests.

use super::keygen::{KeygenRound1, KeygenRound2, KeygenRound3};
use super::presign::{SignRound1, SignRound2, SignRound3, SignRound4, SignRound5, SignRound6, SignRound9};
use super::*;
use crate::error::{Fault, ProtocolError};
use crate::gg18::secp256k1::{encode_point, Secp256k1};
use crate::gg18::signature::EcdsaSignature;
use crate::group::Group;
use crate::message::{decode_payload, encode, Envelope, Recipient};
use crate::party::{PartyIndex, SessionId, Threshold};
use crate::testing::Network;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

fn p(i: u16) -> PartyIndex {
    PartyIndex::new(i).unwrap()
}

const HASH: [u8; 32] = [0x42; 32];

type Hook<'a> = Box<dyn FnMut(PartyIndex, Envelope) -> Option<Envelope> + 'a>;

fn honest<'a>() -> Hook<'a> {
    Box::new(|_, env| Some(env))
}

/// A hook that rewrites the round-`round` payload (as `T`) of `from`'s messages to `to`.
fn tamper<'a, T: Serialize + DeserializeOwned + 'a>(
    from: u16,
    to: u16,
    round: u16,
    mut change: impl FnMut(&mut T) + 'a,
) -> Hook<'a> {
    Box::new(move |recipient, mut env| {
        if env.sender == p(from) && recipient == p(to) && env.round == round {
            let mut msg: T = decode_payload(&env.payload).unwrap();
            change(&mut msg);
            env.payload = encode(&msg);
        }
        Some(env)
    })
}

fn run_keygen(seed: u64, hook: Hook<'_>) -> Network<Dmz21Keygen> {
    let params = test_params();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let th = Threshold::new(2, 3).unwrap();
    let session = SessionId::derive(&seed.to_be_bytes());
    let starts: Vec<_> = PartyIndex::range(3)
        .map(|me| start_keygen(params, session, th, me, &mut rng).unwrap())
        .collect();
    let mut net = Network::new(starts);
    net.run_with(&mut rng, hook);
    net
}

/// One honest (2, 3) key, shared by every signing test.
fn shares() -> &'static BTreeMap<PartyIndex, Dmz21KeyShare> {
    static S: OnceLock<BTreeMap<PartyIndex, Dmz21KeyShare>> = OnceLock::new();
    S.get_or_init(|| {
        let net = run_keygen(1, honest());
        assert!(net.errors().is_empty(), "{:?}", net.errors());
        net.into_outputs()
    })
}

/// The offline rounds among `signers`, through `hook`.
fn run_presign<'a>(
    shares: &BTreeMap<PartyIndex, Dmz21KeyShare>,
    signers: &[PartyIndex],
    seed: u64,
    hook: Hook<'a>,
) -> Network<Dmz21Presign> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let session = SessionId::random(&mut rng);
    let starts: Vec<_> = signers
        .iter()
        .map(|me| start_presign(test_params(), session, &shares[me], signers, &mut rng).unwrap())
        .collect();
    let mut net = Network::new(starts);
    net.run_with(&mut rng, hook);
    net
}

fn run_online(
    presigs: BTreeMap<PartyIndex, Presignature>,
    seed: u64,
    hook: Hook<'_>,
) -> Network<Dmz21Online> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let starts: Vec<_> = presigs
        .into_values()
        .map(|pre| start_online(pre, HASH, &mut rng).unwrap())
        .collect();
    let mut net = Network::new(starts);
    net.run_with(&mut rng, hook);
    net
}

fn presignatures(signers: &[PartyIndex], seed: u64) -> BTreeMap<PartyIndex, Presignature> {
    let net = run_presign(shares(), signers, seed, honest());
    assert!(net.errors().is_empty(), "{:?}", net.errors());
    net.into_outputs()
}

fn k256_verifies(share: &Dmz21KeyShare, sig: &EcdsaSignature) -> bool {
    let vk = k256::ecdsa::VerifyingKey::from_affine(share.public_key().to_affine()).unwrap();
    vk.verify_prehash(&HASH, &sig.to_k256().unwrap()).is_ok()
}

/// The error `victim` reported, which must name `culprit`.
fn blamed<S: crate::StateMachine>(net: &Network<S>, victim: u16) -> (PartyIndex, Fault) {
    match net.errors().get(&p(victim)) {
        Some(ProtocolError::Culprit { party, fault }) => (*party, fault.clone()),
        other => panic!("{victim} reported {other:?}"),
    }
}

#[test]
fn keygen_agrees_on_every_key_and_checks_the_cl_keys() {
    let shares = shares();
    assert_eq!(shares.len(), 3);
    let first = &shares[&p(1)];
    for s in shares.values() {
        assert_eq!(s.public_key(), first.public_key());
        assert_eq!(s.public_shares(), first.public_shares());
        assert_eq!(s.epoch(), 0);
        for (q, k) in s.party_keys() {
            assert_eq!(k.cl, first.party_keys()[q].cl);
            assert_eq!(k.elgamal, first.party_keys()[q].elgamal);
        }
        // Each holder's CL key is h^x for its own secret key.
        let own = test_params().public_key(&s.cl_secret);
        assert_eq!(own, s.party_keys()[&s.index()].cl);
        assert_eq!(
            s.party_keys()[&s.index()].elgamal,
            Secp256k1::mul_base(&s.elgamal_secret)
        );
    }
    assert!(!format!("{first:?}").contains(&format!("{:?}", first.elgamal_secret.to_bytes())));
}

#[test]
fn every_two_of_three_subset_signs_and_k256_verifies() {
    for (n, signers) in [[1, 2], [1, 3], [2, 3]].iter().enumerate() {
        let signers: Vec<PartyIndex> = signers.iter().map(|i| p(*i)).collect();
        let presigs = presignatures(&signers, 100 + n as u64);
        let r: Vec<_> = presigs.values().map(|pre| *pre.big_r()).collect();
        assert!(r.windows(2).all(|w| w[0] == w[1]), "one R for all signers");
        let net = run_online(presigs, 200 + n as u64, honest());
        assert!(net.errors().is_empty(), "{:?}", net.errors());
        let sigs: Vec<EcdsaSignature> = net.into_outputs().into_values().collect();
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[0], sigs[1]);
        assert!(k256_verifies(&shares()[&p(1)], &sigs[0]), "{signers:?}");
    }
}

#[test]
fn three_signers_sign_and_bytes_per_party_are_measured() {
    let signers: Vec<PartyIndex> = PartyIndex::range(3).collect();
    let mut sent: BTreeMap<(u16, u16), usize> = BTreeMap::new();
    let mut count = |env: &Envelope| {
        // A broadcast is counted once per recipient: what the sender puts on the wire.
        *sent.entry((env.sender.get(), env.round)).or_default() += env.to_bytes().len();
    };
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let session = SessionId::random(&mut rng);
    let starts: Vec<_> = signers
        .iter()
        .map(|me| start_presign(test_params(), session, &shares()[me], &signers, &mut rng).unwrap())
        .collect();
    let mut net = Network::new(starts);
    net.run_with(&mut rng, |_, env| {
        count(&env);
        Some(env)
    });
    assert!(net.errors().is_empty(), "{:?}", net.errors());
    let online = run_online(
        net.into_outputs(),
        8,
        Box::new(|_, env| {
            count(&env);
            Some(env)
        }),
    );
    assert!(online.errors().is_empty(), "{:?}", online.errors());
    let sig = online.outputs().values().next().unwrap();
    assert!(k256_verifies(&shares()[&p(1)], sig));
    let per_party: usize = sent.iter().filter(|((s, _), _)| *s == 1).map(|(_, b)| *b).sum();
    let offline: usize = sent
        .iter()
        .filter(|((s, r), _)| *s == 1 && *r <= 4)
        .map(|(_, b)| *b)
        .sum();
    // With 3 signers each party sends to 2 others: under 10 KB all told.
    eprintln!("DMZ21 signing by 3 signers: party 1 sent {per_party} bytes ({offline} offline)");
    assert!(per_party < 10_000, "{per_party} bytes");
}

#[test]
fn refresh_keeps_the_key_and_old_shares_stop_combining() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let session = SessionId::random(&mut rng);
    let starts: Vec<_> = shares()
        .values()
        .map(|s| start_refresh(session, s, &mut rng).unwrap())
        .collect();
    let mut net = Network::new(starts);
    net.run(&mut rng);
    assert!(net.errors().is_empty(), "{:?}", net.errors());
    let fresh = net.into_outputs();
    let old = shares();
    for (q, s) in &fresh {
        assert_eq!(s.public_key(), old[q].public_key());
        assert_eq!(s.epoch(), 1);
        assert_ne!(
            s.public_shares()[q],
            old[q].public_shares()[q],
            "the share changed"
        );
    }
    // New shares sign.
    let signers = [p(1), p(3)];
    let pre = run_presign(&fresh, &signers, 10, honest());
    assert!(pre.errors().is_empty(), "{:?}", pre.errors());
    let net = run_online(pre.into_outputs(), 11, honest());
    let sig = net.outputs().values().next().expect("signature");
    assert!(k256_verifies(&fresh[&p(1)], sig));
    // An old share with a new one: refused, naming the holder of the old one.
    let mixed: BTreeMap<PartyIndex, Dmz21KeyShare> =
        BTreeMap::from([(p(1), old[&p(1)].clone()), (p(3), fresh[&p(3)].clone())]);
    let net = run_presign(&mixed, &signers, 12, honest());
    let (who, fault) = blamed(&net, 3);
    assert_eq!(who, p(1));
    assert!(matches!(fault, Fault::Other(m) if m.contains("epoch")));
}

#[test]
fn stored_shares_round_trip_and_sign() {
    let params = test_params();
    let restored: BTreeMap<PartyIndex, Dmz21KeyShare> = shares()
        .iter()
        .map(|(q, s)| {
            let bytes = s.to_bytes(params);
            let back = Dmz21KeyShare::from_bytes(params, &bytes).unwrap();
            assert_eq!(back.public_key(), s.public_key());
            assert_eq!(back.public_shares(), s.public_shares());
            assert_eq!((back.index(), back.epoch()), (s.index(), s.epoch()));
            assert_eq!(back.secp256k1_share().secret(), s.secp256k1_share().secret());
            for (r, k) in back.party_keys() {
                assert_eq!(k.cl, s.party_keys()[r].cl);
                assert_eq!(k.elgamal, s.party_keys()[r].elgamal);
            }
            assert_eq!(*back.to_bytes(params), *bytes, "the encoding is deterministic");
            let shown = format!("{back:?}");
            assert!(shown.contains("redacted"), "{shown}");
            (*q, back)
        })
        .collect();
    // The restored shares sign (their CL keys and secrets are the ones keygen proved).
    let signers = [p(2), p(3)];
    let pre = run_presign(&restored, &signers, 30, honest());
    assert!(pre.errors().is_empty(), "{:?}", pre.errors());
    let net = run_online(pre.into_outputs(), 31, honest());
    assert!(net.errors().is_empty(), "{:?}", net.errors());
    assert!(k256_verifies(
        &restored[&p(2)],
        net.outputs().values().next().unwrap()
    ));
}

#[test]
fn stored_share_tampered_truncated_or_inconsistent_is_refused() {
    let params = test_params();
    let share = &shares()[&p(1)];
    let bytes = share.to_bytes(params).to_vec();
    let refused = |b: &[u8]| match Dmz21KeyShare::from_bytes(params, b) {
        Err(ProtocolError::InvalidParameters(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    };
    // Every cut, and a flip of a byte anywhere (header, secrets, another holder's CL
    // key, checksum), is refused.
    for cut in (0..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
        refused(&bytes[..cut]);
    }
    for at in (0..bytes.len()).step_by(61).chain([bytes.len() - 1]) {
        let mut b = bytes.clone();
        b[at] ^= 0x10;
        refused(&b);
    }
    let mut longer = bytes.clone();
    longer.push(0);
    refused(&longer);
    // Behind a valid checksum, the relations are checked too.
    let other = &shares()[&p(2)];
    let mut wrong_cl = share.clone();
    wrong_cl.cl_secret = other.cl_secret.clone();
    assert!(refused(&wrong_cl.to_bytes(params)).contains("CL secret"));
    let mut wrong_elgamal = share.clone();
    wrong_elgamal.elgamal_secret = other.elgamal_secret;
    assert!(refused(&wrong_elgamal.to_bytes(params)).contains("ElGamal secret"));
    let mut missing = share.clone();
    missing.keys.remove(&p(3));
    assert!(refused(&missing.to_bytes(params)).contains("cover"));
    // Another record kind is not a DMZ21 share.
    refused(&share.secp256k1_share().to_bytes());
}

// ---- key generation: each check, tampered, names its culprit ----

#[test]
fn keygen_bad_cl_key_proof_names_its_prover() {
    let net = run_keygen(
        20,
        tamper::<KeygenRound1>(2, 1, 1, |m| *m.cl_proof.z.last_mut().unwrap() ^= 1),
    );
    assert!(matches!(blamed(&net, 1), (who, Fault::InvalidProof(_)) if who == p(2)));
}

#[test]
fn keygen_cl_key_off_the_promise_relation_names_its_holder() {
    let params = test_params();
    let net = run_keygen(
        21,
        tamper::<KeygenRound1>(3, 1, 1, |m| {
            let g = params.group();
            let pk = g.decode(&m.cl_pk).unwrap();
            m.cl_pk = g.encode(&g.compose(&pk, params.f()));
        }),
    );
    assert_eq!(
        blamed(&net, 1),
        (p(3), Fault::InvalidProof("CL public key: pk != pk_hat^q".into()))
    );
}

#[test]
fn keygen_bad_elgamal_key_proof_names_its_prover() {
    let net = run_keygen(
        22,
        tamper::<KeygenRound1>(2, 1, 1, |m| m.elgamal = encode_point(&Secp256k1::generator())),
    );
    assert!(matches!(blamed(&net, 1), (who, Fault::InvalidProof(_)) if who == p(2)));
}

#[test]
fn keygen_bad_vss_share_names_its_dealer() {
    let net = run_keygen(
        23,
        tamper::<KeygenRound2>(3, 2, 2, |m| {
            let s = crate::group::decode_scalar::<Secp256k1>(&m.share, "s").unwrap();
            m.share = Secp256k1::scalar_to_bytes(&(s + k256::Scalar::ONE));
        }),
    );
    assert_eq!(blamed(&net, 2), (p(3), Fault::InvalidShare));
}

#[test]
fn keygen_reveal_that_does_not_open_names_its_dealer() {
    let net = run_keygen(24, tamper::<KeygenRound2>(1, 3, 2, |m| m.blind[0] ^= 1));
    assert_eq!(blamed(&net, 3), (p(1), Fault::BadDecommitment));
}

#[test]
fn keygen_cl_key_shown_differently_is_an_equivocation() {
    // P2 shows P1 another (valid, proven) round-1 message than P3 sees: P3's echo
    // reveals it to P1.
    let params = test_params();
    let mut rng = ChaCha20Rng::seed_from_u64(1025);
    let session = SessionId::derive(&25u64.to_be_bytes());
    let other = {
        let th = Threshold::new(2, 3).unwrap();
        let (_, first) = start_keygen(params, session, th, p(2), &mut rng).unwrap();
        first[0].payload.clone()
    };
    let hook: Hook<'_> = Box::new(move |to, mut env| {
        if env.sender == p(2) && to == p(1) && env.round == 1 {
            env.payload = other.clone();
        }
        Some(env)
    });
    let net = run_keygen(25, hook);
    // P2's own echo already shows the difference (its own message), so P2 is named.
    let got = blamed(&net, 1);
    assert!(
        matches!(got, (who, Fault::InconsistentBroadcast { .. }) if who == p(2)),
        "{got:?}"
    );
}

#[test]
fn keygen_bad_confirmation_names_its_sender() {
    let net = run_keygen(26, tamper::<KeygenRound3>(2, 1, 3, |m| m.confirmation[0] ^= 1));
    assert_eq!(blamed(&net, 1), (p(2), Fault::BadConfirmation));
}

// ---- offline signing: each check, tampered, names its culprit ----

fn two() -> Vec<PartyIndex> {
    vec![p(1), p(2)]
}

#[test]
fn presign_bad_promise_proof_names_its_prover() {
    let net = run_presign(
        shares(),
        &two(),
        30,
        tamper::<SignRound1>(2, 1, 1, |m| m.proof.z_k[31] ^= 1),
    );
    assert!(matches!(blamed(&net, 1), (who, Fault::InvalidProof(_)) if who == p(2)));
}

#[test]
fn presign_promise_ciphertext_of_another_value_names_its_sender() {
    // The CL ciphertext shifted by f (an encryption of k + 1) no longer matches the
    // EC-ElGamal one under the proof.
    let params = test_params();
    let net = run_presign(
        shares(),
        &two(),
        31,
        tamper::<SignRound1>(1, 2, 1, |m| {
            let ct = params.decode_ciphertext(&m.cl_cipher).unwrap();
            let g = params.group();
            let mut bytes = g.encode(ct.c1());
            bytes.extend(g.encode(&g.compose(ct.c2(), params.f())));
            m.cl_cipher = bytes;
        }),
    );
    assert!(matches!(blamed(&net, 2), (who, Fault::InvalidProof(_)) if who == p(1)));
}

#[test]
fn presign_malformed_cl_element_names_its_sender() {
    let net = run_presign(
        shares(),
        &two(),
        32,
        tamper::<SignRound1>(2, 1, 1, |m| m.cl_cipher[5] ^= 0x40),
    );
    assert!(matches!(blamed(&net, 1), (who, Fault::InvalidElement(_)) if who == p(2)));
}

#[test]
fn presign_bad_mtawc_check_names_bob() {
    let net = run_presign(
        shares(),
        &two(),
        33,
        tamper::<SignRound2>(2, 1, 2, |m| {
            m.mta_w.big_b = Some(encode_point(&Secp256k1::generator()));
        }),
    );
    assert!(matches!(blamed(&net, 1), (who, Fault::Other(m)) if who == p(2) && m.contains("MtAwc")));
}

#[test]
fn presign_tampered_mask_of_the_checked_conversion_names_bob() {
    let net = run_presign(
        shares(),
        &two(),
        34,
        tamper::<SignRound2>(1, 2, 2, |m| m.mta_w.t_mod_q[31] ^= 1),
    );
    assert!(matches!(blamed(&net, 2), (who, Fault::Other(m)) if who == p(1) && m.contains("MtAwc")));
}

#[test]
fn presign_undecryptable_mta_answer_bans_bob() {
    // A ciphertext whose second half is off F·<pk>: it does not decrypt, and since
    // whether it does can depend on our CL key, the sender is banned.
    let params = test_params();
    let net = run_presign(
        shares(),
        &two(),
        35,
        tamper::<SignRound2>(2, 1, 2, |m| {
            let ct = params.decode_ciphertext(&m.mta_gamma.cipher).unwrap();
            let g = params.group();
            let mut bytes = g.encode(ct.c1());
            bytes.extend(g.encode(&g.compose(ct.c2(), params.h_hat())));
            m.mta_gamma.cipher = bytes;
        }),
    );
    let err = net.errors()[&p(1)].clone();
    assert!(err.is_ban(), "{err:?}");
    assert_eq!(err.blamed(), Some(p(2)));
}

#[test]
fn presign_bad_delta_encoding_names_its_sender() {
    let net = run_presign(
        shares(),
        &two(),
        36,
        tamper::<SignRound3>(2, 1, 3, |m| m.delta = vec![0xff; 32]),
    );
    assert!(matches!(blamed(&net, 1), (who, Fault::InvalidScalar(_)) if who == p(2)));
}

#[test]
fn presign_gamma_opening_that_does_not_open_names_its_sender() {
    let net = run_presign(
        shares(),
        &two(),
        37,
        tamper::<SignRound4>(1, 2, 4, |m| m.blind[3] ^= 1),
    );
    assert_eq!(blamed(&net, 2), (p(1), Fault::BadDecommitment));
}

#[test]
fn presign_bad_gamma_proof_names_its_prover() {
    let net = run_presign(
        shares(),
        &two(),
        38,
        tamper::<SignRound4>(2, 1, 4, |m| {
            let last = m.proof.response.len() - 1;
            m.proof.response[last] ^= 1;
        }),
    );
    assert!(matches!(blamed(&net, 1), (who, Fault::InvalidProof(_)) if who == p(2)));
}

// ---- online signing: each check, tampered, names its culprit ----

#[test]
fn online_other_presignature_names_its_sender() {
    let presigs = presignatures(&two(), 40);
    let net = run_online(
        presigs,
        41,
        tamper::<SignRound5>(2, 1, 5, |m| m.presignature[0] ^= 1),
    );
    assert!(matches!(blamed(&net, 1), (who, Fault::Other(m)) if who == p(2) && m.contains("presignature")));
}

#[test]
fn online_bad_phase5b_proof_names_its_prover() {
    let presigs = presignatures(&two(), 42);
    let net = run_online(
        presigs,
        43,
        tamper::<SignRound6>(1, 2, 6, |m| m.proof.tamper_for_test()),
    );
    assert!(matches!(blamed(&net, 2), (who, Fault::InvalidProof(_)) if who == p(1)));
}

#[test]
fn online_va_opening_that_does_not_open_names_its_sender() {
    let presigs = presignatures(&two(), 44);
    let net = run_online(presigs, 45, tamper::<SignRound6>(2, 1, 6, |m| m.blind[0] ^= 1));
    assert_eq!(blamed(&net, 1), (p(2), Fault::BadDecommitment));
}

#[test]
fn online_s_share_off_its_commitment_names_its_sender() {
    let presigs = presignatures(&two(), 46);
    let net = run_online(
        presigs,
        47,
        tamper::<SignRound9>(2, 1, 9, |m| {
            let s = crate::group::decode_scalar::<Secp256k1>(&m.s, "s").unwrap();
            m.s = Secp256k1::scalar_to_bytes(&(s + k256::Scalar::ONE));
        }),
    );
    assert!(matches!(blamed(&net, 1), (who, Fault::Other(m)) if who == p(2) && m.contains("V_i")));
}

#[test]
fn presignature_secrets_are_redacted_and_start_checks_the_signers() {
    let presigs = presignatures(&two(), 48);
    let pre = presigs.values().next().unwrap();
    assert!(format!("{pre:?}").contains("redacted"));
    let mut rng = ChaCha20Rng::seed_from_u64(49);
    let s = SessionId([1; 32]);
    let params = test_params();
    assert!(
        start_presign(params, s, &shares()[&p(1)], &[p(1)], &mut rng).is_err(),
        "below t"
    );
    assert!(
        start_presign(params, s, &shares()[&p(1)], &[p(2), p(3)], &mut rng).is_err(),
        "not a signer"
    );
    assert!(
        start_presign(params, s, &shares()[&p(1)], &[p(1), p(1)], &mut rng).is_err(),
        "duplicate"
    );
    assert!(
        start_presign(params, s, &shares()[&p(1)], &[p(1), p(4)], &mut rng).is_err(),
        "not a holder"
    );
    // Broadcast rounds are broadcasts, and round 2 is point-to-point.
    let (_, first) = start_presign(params, s, &shares()[&p(1)], &two(), &mut rng).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].recipient, Recipient::All);
}
