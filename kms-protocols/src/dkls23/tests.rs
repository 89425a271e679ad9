//! Protocol-level tests: honest runs verified with k256, one malicious test per check,
//! a golden transcript, storage, redaction.
#![allow(clippy::type_complexity)]

use super::sign::{Round1, Round2, Round3};
use super::*;
use crate::message::{decode_payload, encode, Phase};
use crate::testing::{run_to_completion, Network};
use crate::vss::lagrange_at_zero;
use k256::ecdsa::{signature::hazmat::PrehashVerifier, RecoveryId, VerifyingKey};
use k256::{ProjectivePoint, Scalar};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

fn p(i: u16) -> PartyIndex {
    PartyIndex::new(i).unwrap()
}

fn keygen(t: u16, n: u16, seed: u64) -> BTreeMap<PartyIndex, Dkls23KeyShare> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let session = SessionId::random(&mut rng);
    let th = Threshold::new(t, n).unwrap();
    let starts: Vec<_> = PartyIndex::range(n)
        .map(|i| start_dkg(session, th, i, &mut rng).unwrap())
        .collect();
    run_to_completion(starts, &mut rng).unwrap()
}

fn check(share: &Dkls23KeyShare, hash: &[u8; 32], sig: &EcdsaSignature) {
    let vk = VerifyingKey::from_affine(share.public_key().to_affine()).unwrap();
    let ks = sig.to_k256().unwrap();
    assert!(ks.normalize_s().is_none(), "low-s");
    vk.verify_prehash(hash, &ks).unwrap();
    let rec = VerifyingKey::recover_from_prehash(hash, &ks, RecoveryId::from_byte(sig.recovery_id).unwrap())
        .unwrap();
    assert_eq!(rec, vk, "recovery id");
}

type SignResult = Result<BTreeMap<PartyIndex, EcdsaSignature>, BTreeMap<PartyIndex, ProtocolError>>;

fn sign_with_hook(
    shares: &BTreeMap<PartyIndex, Dkls23KeyShare>,
    signers: &[PartyIndex],
    hash: [u8; 32],
    seed: u64,
    hook: impl FnMut(PartyIndex, Envelope) -> Option<Envelope>,
    setup: impl FnOnce(&mut BTreeMap<PartyIndex, Sign>),
) -> SignResult {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let session = SessionId::random(&mut rng);
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for s in signers {
        let (run, out) = start_sign(session, &shares[s], signers, hash, &mut rng).unwrap();
        runs.insert(*s, run);
        first.push(out);
    }
    setup(&mut runs);
    let mut net = Network::new(runs.into_values().zip(first));
    net.run_with(&mut rng, hook);
    if !net.errors().is_empty() {
        return Err(net.errors().clone());
    }
    assert!(net.all_done());
    Ok(net.into_outputs())
}

fn sign(
    shares: &BTreeMap<PartyIndex, Dkls23KeyShare>,
    signers: &[PartyIndex],
    hash: [u8; 32],
    seed: u64,
) -> SignResult {
    sign_with_hook(shares, signers, hash, seed, |_, e| Some(e), |_| {})
}

fn subsets(n: u16, k: usize) -> Vec<Vec<PartyIndex>> {
    (0u32..(1 << n))
        .filter(|m| m.count_ones() as usize == k)
        .map(|m| {
            PartyIndex::range(n)
                .filter(|i| m & (1 << (i.get() - 1)) != 0)
                .collect()
        })
        .collect()
}

fn all_agree(
    shares: &BTreeMap<PartyIndex, Dkls23KeyShare>,
    sigs: &BTreeMap<PartyIndex, EcdsaSignature>,
    hash: &[u8; 32],
) {
    let any = shares.values().next().unwrap();
    let first = sigs.values().next().unwrap();
    for s in sigs.values() {
        assert_eq!(s, first);
        check(any, hash, s);
    }
}

#[test]
fn two_of_three_every_signer_subset() {
    let shares = keygen(2, 3, 1);
    let pk = *shares[&p(1)].public_key();
    assert!(shares
        .values()
        .all(|s| *s.public_key() == pk && s.setup_id() == shares[&p(1)].setup_id()));
    let mut sets = subsets(3, 2);
    sets.push(vec![p(1), p(2), p(3)]);
    for (k, set) in sets.iter().enumerate() {
        let hash: [u8; 32] = Sha256::digest(format!("message {k}")).into();
        let sigs = sign(&shares, set, hash, 100 + k as u64).unwrap();
        assert_eq!(sigs.len(), set.len());
        all_agree(&shares, &sigs, &hash);
    }
}

#[test]
fn three_of_five_every_signer_subset() {
    let shares = keygen(3, 5, 2);
    let mut sets = subsets(5, 3);
    sets.push(vec![p(1), p(2), p(4), p(5)]);
    sets.push(PartyIndex::range(5).collect());
    for (k, set) in sets.iter().enumerate() {
        let hash: [u8; 32] = Sha256::digest(format!("3 of 5, {k}")).into();
        let sigs = sign(&shares, set, hash, 200 + k as u64).unwrap();
        all_agree(&shares, &sigs, &hash);
    }
}

#[test]
fn presignature_then_one_online_round() {
    let shares = keygen(2, 3, 3);
    let signers = [p(1), p(3)];
    let mut rng = ChaCha20Rng::seed_from_u64(30);
    let session = SessionId::random(&mut rng);
    let starts: Vec<_> = signers
        .iter()
        .map(|s| start_presign(session, &shares[s], &signers, &mut rng).unwrap())
        .collect();
    let presigs = run_to_completion(starts, &mut rng).unwrap();
    let r = presigs[&p(1)].r();
    assert_eq!(r, presigs[&p(3)].r());
    assert!(format!("{:?}", presigs[&p(1)]).contains("<redacted>"));
    let hash: [u8; 32] = Sha256::digest(b"known only now").into();
    let starts: Vec<_> = presigs
        .into_values()
        .map(|ps| start_sign_with(ps, hash).unwrap())
        .collect();
    let sigs = run_to_completion(starts, &mut rng).unwrap();
    all_agree(&shares, &sigs, &hash);
    assert_eq!(sigs[&p(1)].r, r);
}

#[test]
fn refresh_keeps_the_key_and_renews_the_setup() {
    let shares = keygen(2, 3, 4);
    let mut rng = ChaCha20Rng::seed_from_u64(40);
    let session = SessionId::random(&mut rng);
    let starts: Vec<_> = shares
        .values()
        .map(|s| start_refresh(session, s, &mut rng).unwrap())
        .collect();
    let fresh = run_to_completion(starts, &mut rng).unwrap();
    for (i, s) in &fresh {
        assert_eq!(s.public_key(), shares[i].public_key());
        assert_eq!(s.epoch(), 1);
        assert_ne!(s.setup_id(), shares[i].setup_id());
        assert_ne!(s.key_share().secret(), shares[i].key_share().secret());
        assert_ne!(
            s.pairs[&if i.get() == 1 { p(2) } else { p(1) }].alice.delta,
            shares[i].pairs[&if i.get() == 1 { p(2) } else { p(1) }]
                .alice
                .delta
        );
    }
    let hash = [7u8; 32];
    let sigs = sign(&fresh, &[p(2), p(3)], hash, 41).unwrap();
    all_agree(&fresh, &sigs, &hash);
    // An old share and a new one never sign together, and nobody is banned for it.
    let mut mixed = BTreeMap::new();
    let mut fresh = fresh;
    let mut shares = shares;
    mixed.insert(p(1), shares.remove(&p(1)).unwrap());
    mixed.insert(p(2), fresh.remove(&p(2)).unwrap());
    let errs = sign(&mixed, &[p(1), p(2)], hash, 42).unwrap_err();
    for e in errs.values() {
        assert!(matches!(e.fault(), Some(Fault::WrongSession(_))), "{e}");
        assert!(!e.is_ban());
    }
}

#[test]
fn stored_share_round_trips_and_signs() {
    let shares = keygen(2, 3, 5);
    let restored: BTreeMap<_, _> = shares
        .iter()
        .map(|(i, s)| (*i, Dkls23KeyShare::from_bytes(&s.to_bytes()).unwrap()))
        .collect();
    let hash = [9u8; 32];
    all_agree(
        &restored,
        &sign(&restored, &[p(1), p(2)], hash, 50).unwrap(),
        &hash,
    );
    let bytes = shares[&p(1)].to_bytes();
    let mut bad = bytes.to_vec();
    let last = bad.len() - 40;
    bad[last] ^= 1;
    assert!(Dkls23KeyShare::from_bytes(&bad[..bad.len() - 1]).is_err());
    let dbg = format!("{:?}", shares[&p(1)]);
    assert!(dbg.contains("<redacted>"));
    let secret = hex::encode(shares[&p(1)].key_share().secret().to_bytes());
    assert!(!dbg.contains(&secret));
}

// ---- malicious parties -------------------------------------------------------------

/// Rewrite the payload of messages of `round` from `from` to `to` in a signing.
fn tamper<T: serde::Serialize + serde::de::DeserializeOwned>(
    round: u16,
    from: PartyIndex,
    to: Option<PartyIndex>,
    mut f: impl FnMut(&mut T),
) -> impl FnMut(PartyIndex, Envelope) -> Option<Envelope> {
    move |recipient, mut env| {
        if env.protocol.phase == Phase::Sign
            && env.round == round
            && env.sender == from
            && to.is_none_or(|t| t == recipient)
        {
            let mut m: T = decode_payload(&env.payload).unwrap();
            f(&mut m);
            env.payload = encode(&m);
        }
        Some(env)
    }
}

fn blamed(r: SignResult, victim: PartyIndex) -> ProtocolError {
    r.unwrap_err().remove(&victim).expect("the victim aborts")
}

fn assert_ban(e: &ProtocolError, culprit: PartyIndex) {
    assert_eq!(e.blamed(), Some(culprit), "{e}");
    assert!(e.is_ban(), "{e}");
}

fn other_point() -> Vec<u8> {
    Secp256k1::element_to_bytes(&(ProjectivePoint::GENERATOR * Scalar::from(12345u64)))
}

use crate::gg18::secp256k1::Secp256k1;
use crate::group::Group;

#[test]
fn each_tampered_ot_extension_field_is_a_ban() {
    let shares = keygen(2, 3, 6);
    let set = [p(1), p(2)];
    let cases: Vec<(&str, Box<dyn FnMut(&mut Round1)>)> = vec![
        (
            "correction",
            Box::new(|m: &mut Round1| m.ext.corrections[7] ^= 0x10),
        ),
        ("x", Box::new(|m: &mut Round1| m.ext.x[0] ^= 1)),
        ("t", Box::new(|m: &mut Round1| m.ext.t[20] ^= 2)),
    ];
    for (name, f) in cases {
        let e = blamed(
            sign_with_hook(&shares, &set, [1; 32], 60, tamper(1, p(2), None, f), |_| {}),
            p(1),
        );
        assert_ban(&e, p(2));
        let _ = name;
    }
    let e = blamed(
        sign_with_hook(
            &shares,
            &set,
            [1; 32],
            60,
            tamper(1, p(2), None, |m: &mut Round1| m.ext.corrections.truncate(10)),
            |_| {},
        ),
        p(1),
    );
    assert_eq!(e.blamed(), Some(p(2)));
}

#[test]
fn each_tampered_multiplication_value_is_a_ban() {
    let shares = keygen(2, 3, 7);
    let set = [p(1), p(3)];
    let cases: Vec<Box<dyn FnMut(&mut Round2)>> = vec![
        Box::new(|m: &mut Round2| {
            let v = Scalar::from_repr(<[u8; 32]>::try_from(&m.mul.tau[64..96]).unwrap().into()).unwrap()
                + Scalar::ONE;
            m.mul.tau[64..96].copy_from_slice(&v.to_bytes());
        }),
        Box::new(|m: &mut Round2| m.mul.a_tilde = Scalar::from(3u64).to_bytes().into()),
        Box::new(|m: &mut Round2| m.mul.mu[5] ^= 1),
        // Γ^u and Γ^v: other valid points.
        Box::new(|m: &mut Round2| m.gamma_u = other_point()),
        Box::new(|m: &mut Round2| m.gamma_v = other_point()),
    ];
    use k256::elliptic_curve::PrimeField;
    for f in cases {
        let e = blamed(
            sign_with_hook(&shares, &set, [2; 32], 70, tamper(2, p(3), None, f), |_| {}),
            p(1),
        );
        assert_ban(&e, p(3));
    }
}

#[test]
fn wrong_opening_and_bad_points_name_the_sender() {
    let shares = keygen(2, 3, 8);
    let set = [p(2), p(3)];
    let run = |f: Box<dyn FnMut(&mut Round2)>| {
        blamed(
            sign_with_hook(&shares, &set, [3; 32], 80, tamper(2, p(3), None, f), |_| {}),
            p(2),
        )
    };
    let e = run(Box::new(|m| m.salt[0] ^= 1));
    assert_eq!(e, ProtocolError::culprit(p(3), Fault::BadDecommitment));
    let e = run(Box::new(|m| m.big_r = other_point()));
    assert_eq!(e, ProtocolError::culprit(p(3), Fault::BadDecommitment));
    let e = run(Box::new(|m| m.pk = vec![0u8; 33]));
    assert!(
        matches!(e.fault(), Some(Fault::InvalidElement(_))) && e.blamed() == Some(p(3)),
        "{e}"
    );
    let e = run(Box::new(|m| {
        let mut off = vec![0u8; 33];
        off[0] = 2;
        off[32] = 5;
        m.gamma_u = off;
    }));
    assert!(
        matches!(e.fault(), Some(Fault::InvalidElement(_))) && e.blamed() == Some(p(3)),
        "{e}"
    );
    let e = run(Box::new(|m| m.psi = [0xff; 32]));
    assert!(
        matches!(e.fault(), Some(Fault::InvalidScalar(_))) && e.blamed() == Some(p(3)),
        "{e}"
    );
}

#[test]
fn consistent_but_wrong_share_fails_the_sum_check() {
    // The paper's second check, with pk_j (not λ_j·P(j), the typo): a signer that
    // shifts its share consistently passes it and the Γ checks, but not Σpk = PK.
    let shares = keygen(2, 3, 9);
    let set = [p(1), p(2)];
    let r = sign_with_hook(
        &shares,
        &set,
        [4; 32],
        90,
        |_, e| Some(e),
        |runs| {
            runs.get_mut(&p(2))
                .unwrap()
                .cheat_with_share_offset(Scalar::from(5u64))
        },
    );
    let e = blamed(r, p(1));
    assert_eq!(e.blamed(), Some(p(2)), "{e}");
    // With three signers the failure is seen but cannot be pinned on one party.
    let shares = keygen(2, 3, 10);
    let r = sign_with_hook(
        &shares,
        &[p(1), p(2), p(3)],
        [4; 32],
        91,
        |_, e| Some(e),
        |runs| {
            runs.get_mut(&p(2))
                .unwrap()
                .cheat_with_share_offset(Scalar::from(5u64))
        },
    );
    assert!(matches!(blamed(r, p(1)), ProtocolError::Unattributable(_)));
}

#[test]
fn second_check_uses_pk_j_not_the_papers_typo() {
    // In an honest run every pk_j differs from λ_j·X_j (the zero shares), so a check
    // written as in the paper would reject honest signers; ours accepts and verifies.
    let shares = keygen(2, 3, 11);
    let set = [p(1), p(2), p(3)];
    let public = shares[&p(1)].key_share().public_shares().clone();
    let mut seen = 0;
    let hook = |_: PartyIndex, env: Envelope| {
        if env.protocol.phase == Phase::Sign && env.round == 2 {
            let m: Round2 = decode_payload(&env.payload).unwrap();
            let lambda = lagrange_at_zero::<Secp256k1>(env.sender, &set).unwrap();
            assert_ne!(m.pk, Secp256k1::element_to_bytes(&(public[&env.sender] * lambda)));
            seen += 1;
        }
        Some(env)
    };
    let sigs = sign_with_hook(&shares, &set, [5; 32], 110, hook, |_| {}).unwrap();
    assert_eq!(seen, 6);
    all_agree(&shares, &sigs, &[5; 32]);
}

#[test]
fn round_three_equivocation_and_bad_shares() {
    let shares = keygen(2, 3, 12);
    let set = [p(1), p(2)];
    let e = blamed(
        sign_with_hook(
            &shares,
            &set,
            [6; 32],
            120,
            tamper(3, p(2), None, |m: &mut Round3| m.big_r = other_point()),
            |_| {},
        ),
        p(1),
    );
    assert_eq!(e.blamed(), Some(p(2)));
    assert!(matches!(e.fault(), Some(Fault::InconsistentBroadcast { .. })));
    let e = blamed(
        sign_with_hook(
            &shares,
            &set,
            [6; 32],
            121,
            tamper(3, p(2), None, |m: &mut Round3| {
                m.w = Scalar::ONE.to_bytes().into()
            }),
            |_| {},
        ),
        p(1),
    );
    assert!(matches!(e, ProtocolError::Unattributable(_)), "{e}");
}

#[test]
fn replay_from_another_session_is_refused() {
    let shares = keygen(2, 3, 13);
    let set = [p(1), p(2)];
    // Record p2's round-1 message to p1 in one session ...
    let mut old = None;
    sign_with_hook(
        &shares,
        &set,
        [7; 32],
        130,
        |to, env| {
            if env.round == 1 && env.sender == p(2) && to == p(1) {
                old = Some(env.clone());
            }
            Some(env)
        },
        |_| {},
    )
    .unwrap();
    let old = old.unwrap();
    // ... and replay it in another: as is, the envelope names the old session.
    let e = blamed(
        sign_with_hook(
            &shares,
            &set,
            [7; 32],
            131,
            |to, env| {
                Some(if env.round == 1 && env.sender == p(2) && to == p(1) {
                    old.clone()
                } else {
                    env
                })
            },
            |_| {},
        ),
        p(1),
    );
    assert!(matches!(e.fault(), Some(Fault::WrongSession(_))));
    // With the session id rewritten, the payload is still bound to the old session.
    let e = blamed(
        sign_with_hook(
            &shares,
            &set,
            [7; 32],
            131,
            |to, env| {
                Some(if env.round == 1 && env.sender == p(2) && to == p(1) {
                    let mut o = old.clone();
                    o.session = env.session;
                    o
                } else {
                    env
                })
            },
            |_| {},
        ),
        p(1),
    );
    assert_ban(&e, p(2));
}

// ---- setup -----------------------------------------------------------------------

fn keygen_with_hook(
    seed: u64,
    hook: impl FnMut(PartyIndex, Envelope) -> Option<Envelope>,
) -> BTreeMap<PartyIndex, ProtocolError> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let session = SessionId::random(&mut rng);
    let th = Threshold::new(2, 3).unwrap();
    let starts: Vec<_> = PartyIndex::range(3)
        .map(|i| start_dkg(session, th, i, &mut rng).unwrap())
        .collect();
    let mut net = Network::new(starts);
    net.run_with(&mut rng, hook);
    net.errors().clone()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SetupR1 {
    ot_sender: Vec<u8>,
    ot_receiver: Vec<u8>,
    zero_commit: [u8; 32],
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SetupR2 {
    ciphertexts: Vec<u8>,
    leaf_hashes: Vec<u8>,
    zero_open: [u8; 32],
}

fn setup_tamper<T: serde::Serialize + serde::de::DeserializeOwned>(
    round: u16,
    mut f: impl FnMut(&mut T),
) -> impl FnMut(PartyIndex, Envelope) -> Option<Envelope> {
    move |to, mut env| {
        if env.protocol.phase == Phase::Aux && env.round == round && env.sender == p(3) && to == p(1) {
            let mut m: T = decode_payload(&env.payload).unwrap();
            f(&mut m);
            env.payload = encode(&m);
        }
        Some(env)
    }
}

#[test]
fn adversarial_setup_messages_are_bans() {
    let id = vec![0u8; 33];
    let cases: Vec<Box<dyn FnMut(PartyIndex, Envelope) -> Option<Envelope>>> = vec![
        Box::new(setup_tamper(1, move |m: &mut SetupR1| {
            m.ot_sender = vec![0u8; 33]
        })),
        Box::new(setup_tamper(1, move |m: &mut SetupR1| {
            m.ot_receiver[..33].copy_from_slice(&id)
        })),
        // Both ciphertexts of one level (Alice uses one of them, by her choice bit).
        Box::new(setup_tamper(2, |m: &mut SetupR2| {
            m.ciphertexts[70] ^= 1;
            m.ciphertexts[100] ^= 1;
        })),
        // Two leaf commitments of one tree (at most one is Alice's punctured leaf).
        Box::new(setup_tamper(2, |m: &mut SetupR2| {
            m.leaf_hashes[0] ^= 1;
            m.leaf_hashes[32] ^= 1;
        })),
    ];
    for (k, hook) in cases.into_iter().enumerate() {
        let errs = keygen_with_hook(14, hook);
        let e = errs.get(&p(1)).unwrap_or_else(|| panic!("case {k}: {errs:?}"));
        assert_eq!(e.blamed(), Some(p(3)), "case {k}: {e}");
        assert!(e.is_ban(), "case {k}: {e}");
    }
    // A sender that swaps in another valid r_1 only spoils its own keys: the honest
    // base-OT sender cannot tell, completes its part and blames nobody; the cheater's
    // own check of the tree fails.
    let errs = keygen_with_hook(
        14,
        setup_tamper(1, |m: &mut SetupR1| {
            m.ot_receiver[33..66].copy_from_slice(&other_point())
        }),
    );
    assert!(!errs.contains_key(&p(1)), "{errs:?}");
    assert!(errs.contains_key(&p(3)));
    let errs = keygen_with_hook(15, setup_tamper(2, |m: &mut SetupR2| m.zero_open[0] ^= 1));
    assert_eq!(errs[&p(1)], ProtocolError::culprit(p(3), Fault::BadDecommitment));
}

#[test]
fn golden_transcript() {
    // Every message of a seeded (2,3) key generation, setup and signing, in delivery
    // order, hashed: any change to the wire format or the computation shows here.
    let mut h = Sha256::new();
    let mut rng = ChaCha20Rng::seed_from_u64(2023);
    let session = SessionId::random(&mut rng);
    let th = Threshold::new(2, 3).unwrap();
    let starts: Vec<_> = PartyIndex::range(3)
        .map(|i| start_dkg(session, th, i, &mut rng).unwrap())
        .collect();
    let mut net = Network::new(starts);
    net.run_with(&mut rng, |_, env| {
        h.update(env.to_bytes());
        Some(env)
    });
    let shares = net.into_outputs();
    let signers = [p(1), p(3)];
    let session = SessionId::random(&mut rng);
    let starts: Vec<_> = signers
        .iter()
        .map(|s| start_sign(session, &shares[s], &signers, [42; 32], &mut rng).unwrap())
        .collect();
    let mut net = Network::new(starts);
    net.run_with(&mut rng, |_, env| {
        h.update(env.to_bytes());
        Some(env)
    });
    let sig = net.outputs()[&p(1)];
    check(&shares[&p(1)], &[42; 32], &sig);
    let digest = hex::encode(h.finalize());
    assert_eq!(
        digest,
        "deafe63637b944a51ca10ef859c303deec0bd692d6a71eda477877aabf5541e3"
    );
}

#[test]
fn correlations_and_presignatures_are_not_clone() {
    trait AmbiguousIfClone<A> {
        fn check() {}
    }
    impl<T> AmbiguousIfClone<()> for T {}
    #[allow(dead_code)]
    struct IsClone;
    impl<T: Clone> AmbiguousIfClone<IsClone> for T {}
    // Each line fails to compile (ambiguous) if the type implements Clone.
    <Presignature as AmbiguousIfClone<_>>::check();
    <ot::ext::SenderOutput as AmbiguousIfClone<_>>::check();
    <ot::ext::ReceiverOutput as AmbiguousIfClone<_>>::check();
    <mul::BobMul as AmbiguousIfClone<_>>::check();
    <PairSetup as AmbiguousIfClone<_>>::check();
    <Dkls23KeyShare as AmbiguousIfClone<_>>::check();
}

#[test]
fn bytes_sent_per_signer() {
    let shares = keygen(2, 3, 16);
    let mut sent: BTreeMap<PartyIndex, usize> = BTreeMap::new();
    sign_with_hook(
        &shares,
        &[p(1), p(2)],
        [8; 32],
        160,
        |_, env| {
            *sent.entry(env.sender).or_default() += env.to_bytes().len();
            Some(env)
        },
        |_| {},
    )
    .unwrap();
    for (party, bytes) in &sent {
        println!("{party} sent {bytes} bytes in one 2-of-3 signing");
        assert!(*bytes < 60_000, "{party} sent {bytes} bytes");
    }
}
