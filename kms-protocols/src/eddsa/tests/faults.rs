//! Misbehaving parties and relays: every fault names its culprit.

use super::*;
use crate::dkg::Dkg;
use crate::eddsa::group::{point_to_bytes, Ed25519};
use crate::eddsa::EddsaDkg;
use crate::error::{Fault, ProtocolError};
use crate::group::Group;
use crate::message::{Phase, Recipient, Scheme};
use crate::state_machine::StateMachine;
use curve25519_dalek::Scalar;

fn identity_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
}

/// y = -1: the point of order 2.
fn small_order_bytes() -> [u8; 32] {
    let mut b = [0xffu8; 32];
    b[0] = 0xec;
    b[31] = 0x7f;
    b
}

/// y = p + 1: a non-canonical encoding of the identity.
fn non_canonical_bytes() -> [u8; 32] {
    let mut b = [0xffu8; 32];
    b[0] = 0xee;
    b[31] = 0x7f;
    b
}

/// A y that is not on the curve.
fn off_curve_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0] = 2;
    b
}

fn base_bytes() -> Vec<u8> {
    point_to_bytes(&Ed25519::generator()).to_vec()
}

fn add_one(bytes: &mut [u8]) {
    let s = Scalar::from_canonical_bytes(bytes.try_into().unwrap()).unwrap() + Scalar::ONE;
    bytes.copy_from_slice(&s.to_bytes());
}

fn dkg_starts(t: u16, n: u16, rng: &mut ChaCha20Rng) -> Vec<(EddsaDkg, Vec<Envelope>)> {
    let session = SessionId::random(rng);
    let threshold = Threshold::new(t, n).unwrap();
    PartyIndex::range(n)
        .map(|me| start_dkg(session, threshold, me, rng).unwrap())
        .collect()
}

/// A (2, 3) DKG in which `hook` may rewrite P1's messages (to `to`); returns the
/// network after it ran.
fn dkg_with_p1<F>(rng: &mut ChaCha20Rng, mut hook: F) -> Network<EddsaDkg>
where
    F: FnMut(PartyIndex, Envelope) -> Envelope,
{
    let mut net = Network::new(dkg_starts(2, 3, rng));
    net.run_with(rng, |to, env| {
        Some(if env.sender == p(1) { hook(to, env) } else { env })
    });
    net
}

/// A (2, 3) DKG (or, with `refresh`, a refresh of those shares) in which P1 reveals
/// `change(its real reveal)` in round 2 and keeps its round-1 commitment opening: P1's
/// round-1 hash is held back until its reveal exists, then recomputed for the changed
/// reveal (with P1's own echo of it), so the checks behind the opening are reached.
fn dkg_with_p1_reveal(
    rng: &mut ChaCha20Rng,
    refresh: Option<Vec<EddsaKeyShare>>,
    change: impl Fn(&mut DkgRound2),
) -> Network<EddsaDkg> {
    let threshold = Threshold::new(2, 3).unwrap();
    let (phase, starts) = match refresh {
        None => (Phase::Dkg, dkg_starts(2, 3, rng)),
        Some(shares) => {
            let session = SessionId::random(rng);
            let starts = shares
                .into_iter()
                .map(|s| start_refresh(session, s, rng).unwrap())
                .collect();
            (Phase::Refresh, starts)
        }
    };
    let mut net = Network::new(starts);
    let mut held = Vec::new();
    net.run_with(rng, |to, env| {
        if env.sender == p(1) && env.round <= 2 {
            held.push((to, env));
            return None;
        }
        Some(env)
    });
    let round1 = held.iter().find(|(_, e)| e.round == 1).unwrap().1.clone();
    let mut reveals: Vec<(PartyIndex, Envelope)> = held.into_iter().filter(|(_, e)| e.round == 2).collect();
    assert_eq!(reveals.len(), 2, "P1 dealt to both peers");
    let mut first: DkgRound2 = decode_payload(&reveals[0].1.payload).unwrap();
    change(&mut first);
    let commitment = crate::dkg::tests::commitment_for::<Ed25519>(
        Scheme::Eddsa,
        phase,
        &round1.session,
        p(1),
        threshold,
        &first.commitments,
        first.proof.as_ref(),
        &first.blind,
    );
    let mut round1 = round1;
    round1.payload = encode(&DkgRound1 { commitment });
    for to in [p(2), p(3)] {
        net.deliver_to(to, round1.clone());
    }
    for (to, env) in &mut reveals {
        let mut r2: DkgRound2 = decode_payload(&env.payload).unwrap();
        change(&mut r2);
        for (party, h) in &mut r2.echo.0 {
            if *party == p(1) {
                *h = crate::inbox::hash_payload(&round1.payload);
            }
        }
        env.payload = encode(&r2);
        net.deliver_to(*to, env.clone());
    }
    net.run(rng);
    net
}

/// Assert that every honest party in `honest` failed blaming `culprit` with `fault`.
fn assert_blamed<S: StateMachine>(net: &Network<S>, honest: &[u16], culprit: u16, fault: &Fault) {
    for h in honest {
        assert!(!net.outputs().contains_key(&p(*h)), "P{h} finished");
        let err = net
            .errors()
            .get(&p(*h))
            .unwrap_or_else(|| panic!("P{h} did not fail"));
        assert_eq!(err, &ProtocolError::culprit(p(culprit), fault.clone()), "at P{h}");
    }
}

fn assert_blamed_with<S: StateMachine>(
    net: &Network<S>,
    honest: &[u16],
    culprit: u16,
    is_fault: impl Fn(&Fault) -> bool,
) {
    for h in honest {
        let err = net
            .errors()
            .get(&p(*h))
            .unwrap_or_else(|| panic!("P{h} did not fail"));
        assert_eq!(err.blamed(), Some(p(culprit)), "at P{h}: {err:?}");
        assert!(is_fault(err.fault().unwrap()), "at P{h}: {err:?}");
        assert!(!net.outputs().contains_key(&p(*h)));
    }
}

// ----------------------------------------------------------------------------------
// DKG
// ----------------------------------------------------------------------------------

#[test]
fn dkg_tampered_proof_of_knowledge_names_the_dealer() {
    let mut rng = rng(20);
    let net = dkg_with_p1_reveal(&mut rng, None, |r2| {
        add_one(&mut r2.proof.as_mut().unwrap().response);
    });
    assert_blamed_with(&net, &[2, 3], 1, |f| matches!(f, Fault::InvalidProof(_)));
}

#[test]
fn dkg_missing_proof_of_knowledge_names_the_dealer() {
    let mut rng = rng(21);
    let net = dkg_with_p1_reveal(&mut rng, None, |r2| r2.proof = None);
    assert_blamed_with(&net, &[2, 3], 1, |f| matches!(f, Fault::InvalidProof(_)));
}

#[test]
fn dkg_commitment_vector_of_length_t_plus_one_is_refused() {
    let mut rng = rng(22);
    let net = dkg_with_p1_reveal(&mut rng, None, |r2| r2.commitments.push(base_bytes()));
    assert_blamed(
        &net,
        &[2, 3],
        1,
        &Fault::WrongCommitmentLength { got: 3, expected: 2 },
    );
}

#[test]
fn dkg_share_not_matching_commitments_is_refused() {
    let mut rng = rng(23);
    let net = dkg_with_p1(&mut rng, |to, env| {
        if env.round != 2 || to != p(2) {
            return env;
        }
        rewrite(env, |r2: &mut DkgRound2| add_one(&mut r2.share))
    });
    assert_blamed(&net, &[2], 1, &Fault::InvalidShare);
    // P3 got a good share; it stops at the confirmation, which P2 never sends.
    assert!(net.outputs().is_empty());
}

#[test]
fn dkg_zero_share_is_refused() {
    let mut rng = rng(24);
    let net = dkg_with_p1(&mut rng, |to, env| {
        if env.round != 2 || to != p(3) {
            return env;
        }
        rewrite(env, |r2: &mut DkgRound2| r2.share = vec![0; 32])
    });
    assert_blamed_with(&net, &[3], 1, |f| matches!(f, Fault::InvalidScalar(_)));
}

#[test]
fn dkg_non_canonical_share_is_refused() {
    let mut rng = rng(25);
    let net = dkg_with_p1(&mut rng, |to, env| {
        if env.round != 2 || to != p(3) {
            return env;
        }
        rewrite(env, |r2: &mut DkgRound2| r2.share = ORDER.to_vec())
    });
    assert_blamed_with(&net, &[3], 1, |f| matches!(f, Fault::InvalidScalar(_)));
}

#[test]
fn dkg_invalid_commitment_points_are_refused() {
    let cases: [(&str, [u8; 32]); 4] = [
        ("identity", identity_bytes()),
        ("non-canonical", non_canonical_bytes()),
        ("small order", small_order_bytes()),
        ("off curve", off_curve_bytes()),
    ];
    for (seed, (what, bad)) in cases.into_iter().enumerate() {
        // In the constant term (which the proof covers) and in a higher coefficient.
        for k in 0..2 {
            let mut rng = rng(30 + seed as u8);
            let net = dkg_with_p1_reveal(&mut rng, None, |r2| r2.commitments[k] = bad.to_vec());
            for h in [2, 3] {
                let err = &net.errors()[&p(h)];
                assert_eq!(err.blamed(), Some(p(1)), "{what}, coefficient {k}");
                assert!(
                    matches!(err.fault(), Some(Fault::InvalidElement(_))),
                    "{what}, coefficient {k}: {err:?}"
                );
            }
        }
    }
}

#[test]
fn dkg_truncated_payload_is_malformed() {
    let mut rng = rng(26);
    let net = dkg_with_p1(&mut rng, |to, mut env| {
        if env.round == 1 && to == p(2) {
            env.payload.pop();
        }
        env
    });
    assert_blamed_with(&net, &[2], 1, |f| matches!(f, Fault::Malformed(_)));
    // P2 aborted before sending its echo, so P3 waits: nobody finishes.
    assert!(net.outputs().is_empty());
}

#[test]
fn dkg_trailing_bytes_are_malformed() {
    let mut rng = rng(27);
    let net = dkg_with_p1(&mut rng, |_, mut env| {
        if env.round == 2 {
            env.payload.push(0);
        }
        env
    });
    assert_blamed_with(&net, &[2, 3], 1, |f| matches!(f, Fault::Malformed(_)));
}

#[test]
fn dkg_equivocating_broadcast_names_the_equivocator() {
    let mut rng = rng(28);
    let mut starts = dkg_starts(2, 3, &mut rng);
    let session = starts[0].1[0].session;
    // A second, different but valid round-1 message of P1 in the same session.
    let (_, other) = start_dkg(session, Threshold::new(2, 3).unwrap(), p(1), &mut rng).unwrap();
    let other_payload = other[0].payload.clone();
    assert_ne!(other_payload, starts[0].1[0].payload);
    let mut net = Network::new(starts.drain(..));
    net.run_with(&mut rng, |to, mut env| {
        if env.sender == p(1) && env.round == 1 && to == p(3) {
            env.payload = other_payload.clone();
        }
        Some(env)
    });
    for h in [2, 3] {
        let err = &net.errors()[&p(h)];
        assert_eq!(err.blamed(), Some(p(1)), "at P{h}: {err:?}");
        assert!(
            matches!(err.fault(), Some(Fault::InconsistentBroadcast { .. })),
            "{err:?}"
        );
    }
    assert_eq!(
        net.errors()[&p(2)],
        ProtocolError::culprit(p(1), Fault::InconsistentBroadcast { reporter: p(3) })
    );
}

#[test]
fn dkg_bad_confirmation_names_the_sender() {
    let mut rng = rng(29);
    let net = dkg_with_p1(&mut rng, |_, mut env| {
        if env.round == 3 {
            env.payload[0] ^= 1;
        }
        env
    });
    assert_blamed(&net, &[2, 3], 1, &Fault::BadConfirmation);
}

#[test]
fn refresh_commitment_with_non_identity_constant_is_refused() {
    let mut rng = rng(40);
    let shares = dkg(2, 3, &mut rng);
    let net = dkg_with_p1_reveal(&mut rng, Some(shares), |r2| {
        // Sharing a non-zero value would shift the key by it.
        assert_eq!(r2.commitments[0], identity_bytes().to_vec());
        assert!(r2.proof.is_none());
        r2.commitments[0] = base_bytes();
    });
    assert_blamed_with(&net, &[2, 3], 1, |f| matches!(f, Fault::InvalidElement(_)));
}

#[test]
fn dkg_reveal_that_does_not_open_the_commitment_names_the_dealer() {
    // P1 reveals other commitments than it committed to in round 1 (here: to P2 only,
    // with its share to match them, so only the opening can catch it).
    let mut rng = rng(41);
    let net = dkg_with_p1(&mut rng, |to, env| {
        if env.round != 2 || to != p(2) {
            return env;
        }
        rewrite(env, |r2: &mut DkgRound2| {
            let mut poly = [Scalar::from(5u64), Scalar::from(7u64)];
            r2.commitments = poly
                .iter()
                .map(|c| point_to_bytes(&Ed25519::mul_base(c)).to_vec())
                .collect();
            r2.share = (poly[0] + poly[1] * Scalar::from(2u64)).to_bytes().to_vec();
            poly.iter_mut().for_each(|c| *c = Scalar::ZERO);
        })
    });
    assert_blamed(&net, &[2], 1, &Fault::BadDecommitment);
}

// ----------------------------------------------------------------------------------
// Message intake, shared by both protocols.
// ----------------------------------------------------------------------------------

/// Check the intake of a fresh run. `fresh()` gives a run of P2 and a valid round-1
/// message to it from P1, in a session of three parties. Every bad message aborts the
/// run it is fed to: the run then refuses everything, the valid message included.
fn check_intake<S: StateMachine>(mut fresh: impl FnMut() -> (S, Envelope), rng: &mut ChaCha20Rng)
where
    S::Output: std::fmt::Debug,
{
    let culprit = |who: u16, f: Fault| ProtocolError::culprit(p(who), f);
    // Feed `change(valid message)` to a fresh run, check the error, and check that the
    // run is over.
    let mut refused = |change: &dyn Fn(&mut Envelope), check: &dyn Fn(ProtocolError)| {
        let (mut run, env) = fresh();
        let mut m = env.clone();
        change(&mut m);
        check(run.handle(m, rng).unwrap_err());
        assert_eq!(run.handle(env, rng).unwrap_err(), ProtocolError::Finished);
    };

    // A sender outside the session.
    refused(&|m| m.sender = p(9), &|e| {
        assert_eq!(e, culprit(9, Fault::UnknownSender))
    });
    // Ourselves as sender.
    refused(&|m| m.sender = p(2), &|e| {
        assert_eq!(e, culprit(2, Fault::UnknownSender))
    });

    // Another session, another protocol.
    refused(&|m| m.session = SessionId::derive(b"another session"), &|e| {
        assert!(matches!(e.fault(), Some(Fault::WrongSession(_))))
    });
    refused(&|m| m.protocol.phase = Phase::Aux, &|e| {
        assert_eq!(e.blamed(), Some(p(1)));
        assert!(matches!(e.fault(), Some(Fault::WrongSession(_))));
    });

    // A round the protocol does not have.
    for round in [0, 9] {
        refused(&|m| m.round = round, &|e| {
            assert_eq!(
                e,
                culprit(
                    1,
                    Fault::WrongRound {
                        got: round,
                        expected: 1
                    }
                )
            )
        });
    }

    // A broadcast round sent point to point.
    refused(&|m| m.recipient = Recipient::One(p(2)), &|e| {
        assert!(matches!(
            e,
            ProtocolError::Culprit { party, fault: Fault::WrongRecipient(_) } if party == p(1)
        ))
    });

    // The real message is accepted; a second copy is a duplicate, and so is a changed
    // one.
    let changes: [fn(&mut Envelope); 2] = [|_| {}, |m| m.payload.push(0)];
    for change in changes {
        let (mut run, env) = fresh();
        let step = run.handle(env.clone(), rng).unwrap();
        assert!(step.is_waiting());
        let mut again = env.clone();
        change(&mut again);
        assert_eq!(
            run.handle(again, rng).unwrap_err(),
            culprit(1, Fault::Duplicate { round: 1 })
        );
        assert_eq!(run.handle(env, rng).unwrap_err(), ProtocolError::Finished);
    }
}

#[test]
fn dkg_intake_names_the_sender() {
    let mut rng = rng(50);
    let mut seed_rng = rng.clone();
    check_intake(
        || {
            let mut starts = dkg_starts(2, 3, &mut seed_rng);
            let from_p1 = starts[0].1[0].clone();
            (starts.swap_remove(1).0, from_p1)
        },
        &mut rng,
    );
}

#[test]
fn signing_intake_names_the_sender() {
    let mut rng = rng(51);
    let shares = dkg(2, 3, &mut rng);
    let mut seed_rng = rng.clone();
    check_intake(
        || {
            let session = SessionId::random(&mut seed_rng);
            let signers = parties(&[1, 2, 3]);
            let (_, from_p1) = start_sign(session, &shares[0], &signers, b"m", &mut seed_rng).unwrap();
            let (run, _) = start_sign(session, &shares[1], &signers, b"m", &mut seed_rng).unwrap();
            (run, from_p1[0].clone())
        },
        &mut rng,
    );
}

#[test]
fn dkg_replayed_round_is_a_wrong_round() {
    let mut rng = rng(52);
    let starts = dkg_starts(2, 3, &mut rng);
    let from_p1 = starts[0].1[0].clone();
    let from_p3 = starts[2].1[0].clone();
    let mut runs: Vec<Dkg<Ed25519>> = starts.into_iter().map(|(r, _)| r).collect();
    let p2 = &mut runs[1];
    assert!(p2.handle(from_p1.clone(), &mut rng).unwrap().is_waiting());
    let step = p2.handle(from_p3, &mut rng).unwrap();
    assert_eq!(step.outgoing.len(), 2, "P2's shares for P1 and P3");
    assert_eq!(
        p2.handle(from_p1, &mut rng).unwrap_err(),
        ProtocolError::culprit(p(1), Fault::WrongRound { got: 1, expected: 2 })
    );
}

// ----------------------------------------------------------------------------------
// Signing
// ----------------------------------------------------------------------------------

/// Signing by P1, P2, P3 of a (2, 3) key where `hook` may rewrite P1's messages.
fn sign_with_p1<F>(rng: &mut ChaCha20Rng, mut hook: F) -> Network<Signing>
where
    F: FnMut(PartyIndex, Envelope) -> Envelope,
{
    let shares = dkg(2, 3, rng);
    let mut net = signing_network(&pick(&shares, &[1, 2, 3]), b"pay 1 coin", rng);
    net.run_with(rng, |to, env| {
        Some(if env.sender == p(1) { hook(to, env) } else { env })
    });
    net
}

#[test]
fn signing_tampered_share_names_its_signer() {
    let mut rng = rng(60);
    let net = sign_with_p1(&mut rng, |_, env| {
        if env.round != 2 {
            return env;
        }
        rewrite(env, |r2: &mut SignRound2| add_one(&mut r2.share))
    });
    assert_blamed(&net, &[2, 3], 1, &Fault::InvalidPartialSignature);
}

#[test]
fn signing_tampered_share_names_its_signer_among_two() {
    let mut rng = rng(61);
    let shares = dkg(2, 3, &mut rng);
    let mut net = signing_network(&pick(&shares, &[2, 3]), b"m", &mut rng);
    net.run_with(&mut rng, |_, env| {
        Some(if env.sender == p(3) && env.round == 2 {
            rewrite(env, |r2: &mut SignRound2| r2.share = [0; 32])
        } else {
            env
        })
    });
    assert_blamed(&net, &[2], 3, &Fault::InvalidPartialSignature);
}

#[test]
fn signing_non_canonical_share_is_refused() {
    let mut rng = rng(62);
    let net = sign_with_p1(&mut rng, |_, env| {
        if env.round != 2 {
            return env;
        }
        rewrite(env, |r2: &mut SignRound2| r2.share = plus_order(&r2.share))
    });
    assert_blamed_with(&net, &[2, 3], 1, |f| matches!(f, Fault::InvalidScalar(_)));
}

#[test]
fn signing_invalid_nonce_commitments_are_refused() {
    let cases: [(&str, [u8; 32]); 4] = [
        ("identity", identity_bytes()),
        ("non-canonical", non_canonical_bytes()),
        ("small order", small_order_bytes()),
        ("off curve", off_curve_bytes()),
    ];
    for (seed, (what, bad)) in cases.into_iter().enumerate() {
        for hiding in [true, false] {
            let mut rng = rng(70 + seed as u8);
            let net = sign_with_p1(&mut rng, |_, env| {
                if env.round != 1 {
                    return env;
                }
                rewrite(env, |r1: &mut SignRound1| {
                    if hiding {
                        r1.hiding = bad;
                    } else {
                        r1.binding = bad;
                    }
                })
            });
            for h in [2, 3] {
                let err = &net.errors()[&p(h)];
                assert_eq!(err.blamed(), Some(p(1)), "{what}, hiding {hiding}");
                assert!(
                    matches!(err.fault(), Some(Fault::InvalidElement(_))),
                    "{what}, hiding {hiding}: {err:?}"
                );
            }
        }
    }
}

#[test]
fn signing_equivocating_commitments_name_the_equivocator() {
    let mut rng = rng(63);
    let shares = dkg(2, 3, &mut rng);
    let session = SessionId::random(&mut rng);
    let signers = parties(&[1, 2, 3]);
    let starts: Vec<_> = shares
        .iter()
        .map(|s| start_sign(session, s, &signers, b"m", &mut rng).unwrap())
        .collect();
    // P1 shows P3 other (valid) commitments than P2.
    let (_, other) = start_sign(session, &shares[0], &signers, b"m", &mut rng).unwrap();
    let other_payload = other[0].payload.clone();
    let mut net = Network::new(starts);
    net.run_with(&mut rng, |to, mut env| {
        if env.sender == p(1) && env.round == 1 && to == p(3) {
            env.payload = other_payload.clone();
        }
        Some(env)
    });
    assert!(net.outputs().is_empty());
    assert_eq!(
        net.errors()[&p(2)],
        ProtocolError::culprit(p(1), Fault::InconsistentBroadcast { reporter: p(3) })
    );
    assert_eq!(
        net.errors()[&p(3)],
        ProtocolError::culprit(p(1), Fault::InconsistentBroadcast { reporter: p(1) })
    );
}

#[test]
fn signing_truncated_payload_is_malformed() {
    for round in [1, 2] {
        let mut rng = rng(64 + round as u8);
        let net = sign_with_p1(&mut rng, |_, mut env| {
            if env.round == round {
                env.payload.truncate(env.payload.len() / 2);
            }
            env
        });
        assert_blamed_with(&net, &[2, 3], 1, |f| matches!(f, Fault::Malformed(_)));
    }
}

#[test]
fn signing_with_a_different_message_names_the_signer() {
    let mut rng = rng(66);
    let shares = dkg(2, 3, &mut rng);
    let session = SessionId::random(&mut rng);
    let signers = parties(&[1, 2]);
    let a = start_sign(session, &shares[0], &signers, b"pay Alice", &mut rng).unwrap();
    let b = start_sign(session, &shares[1], &signers, b"pay Mallory", &mut rng).unwrap();
    let mut net = Network::new([a, b]);
    net.run(&mut rng);
    assert!(net.outputs().is_empty());
    assert_blamed(&net, &[1], 2, &Fault::InvalidPartialSignature);
    assert_blamed(&net, &[2], 1, &Fault::InvalidPartialSignature);
}
