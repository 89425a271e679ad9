//! Tests of threshold BLS: DKG, signing, refresh, proofs of possession, bad input, and
//! known answers of the Ethereum 2.0 ciphersuite.

use super::sign::Partial;
use super::*;
use crate::error::Fault;
use crate::message::{decode_payload, encode, Recipient};
use crate::state_machine::StateMachine;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::{BTreeMap, VecDeque};

fn p(i: u16) -> PartyIndex {
    PartyIndex::new(i).unwrap()
}

fn parties(ids: &[u16]) -> Vec<PartyIndex> {
    ids.iter().map(|i| p(*i)).collect()
}

/// What a pumped set of runs ended with: outputs and errors, by party.
struct Outcome<O> {
    outputs: BTreeMap<PartyIndex, O>,
    errors: BTreeMap<PartyIndex, ProtocolError>,
}

/// Deliver messages in FIFO order until none are left. `intercept` sees every delivery
/// `(receiver, envelope)` and may change it (to play a malicious sender or relay). A run
/// that fails stops receiving; the others go on.
fn pump<M: StateMachine>(
    runs: &mut BTreeMap<PartyIndex, M>,
    first: Vec<Envelope>,
    rng: &mut ChaCha20Rng,
    mut intercept: impl FnMut(PartyIndex, Envelope) -> Envelope,
) -> Outcome<M::Output> {
    let mut queue: VecDeque<Envelope> = first.into();
    let mut outcome = Outcome {
        outputs: BTreeMap::new(),
        errors: BTreeMap::new(),
    };
    while let Some(env) = queue.pop_front() {
        let targets: Vec<PartyIndex> = match env.recipient {
            Recipient::All => runs.keys().copied().filter(|q| *q != env.sender).collect(),
            Recipient::One(q) => vec![q],
        };
        for to in targets {
            if outcome.errors.contains_key(&to) {
                continue;
            }
            let Some(run) = runs.get_mut(&to) else { continue };
            match run.handle(intercept(to, env.clone()), rng) {
                Ok(step) => {
                    queue.extend(step.outgoing);
                    if let Some(o) = step.output {
                        assert!(outcome.outputs.insert(to, o).is_none(), "{to} output twice");
                    }
                }
                Err(e) => {
                    outcome.errors.insert(to, e);
                }
            }
        }
    }
    outcome
}

fn honest(_: PartyIndex, env: Envelope) -> Envelope {
    env
}

fn dkg(t: u16, n: u16, seed: u64) -> BTreeMap<PartyIndex, BlsKeyShare> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let session = SessionId::random(&mut rng);
    let threshold = Threshold::new(t, n).unwrap();
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for me in PartyIndex::range(n) {
        let (run, msgs) = start_dkg(session, threshold, me, &mut rng).unwrap();
        runs.insert(me, run);
        first.extend(msgs);
    }
    let out = pump(&mut runs, first, &mut rng, honest);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.outputs.len(), usize::from(n));
    out.outputs
}

fn refresh(shares: &BTreeMap<PartyIndex, BlsKeyShare>, seed: u64) -> BTreeMap<PartyIndex, BlsKeyShare> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let session = SessionId::random(&mut rng);
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for (me, share) in shares {
        let (run, msgs) = start_refresh(session, share.clone(), &mut rng).unwrap();
        runs.insert(*me, run);
        first.extend(msgs);
    }
    let out = pump(&mut runs, first, &mut rng, honest);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.outputs.len(), shares.len());
    out.outputs
}

/// Start a signing run for each signer, with the share each one uses and the message
/// each one was given.
fn start_all(
    shares: &BTreeMap<PartyIndex, &BlsKeyShare>,
    messages: &BTreeMap<PartyIndex, &[u8]>,
    pop: bool,
) -> (BTreeMap<PartyIndex, Signing>, Vec<Envelope>) {
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let session = SessionId::derive(b"bls-sign-test");
    let signers: Vec<PartyIndex> = shares.keys().copied().collect();
    let mut runs = BTreeMap::new();
    let mut first = Vec::new();
    for (me, share) in shares {
        let (run, msgs) = if pop {
            start_pop(session, share, &signers, &mut rng).unwrap()
        } else {
            start_sign(session, share, &signers, messages[me], &mut rng).unwrap()
        };
        assert_eq!(run.party(), *me);
        runs.insert(*me, run);
        first.extend(msgs);
    }
    (runs, first)
}

fn sign_with(
    shares: &BTreeMap<PartyIndex, BlsKeyShare>,
    signers: &[PartyIndex],
    message: &[u8],
    intercept: impl FnMut(PartyIndex, Envelope) -> Envelope,
) -> Outcome<[u8; 96]> {
    let chosen = signers.iter().map(|s| (*s, &shares[s])).collect();
    let messages = signers.iter().map(|s| (*s, message)).collect();
    let (mut runs, first) = start_all(&chosen, &messages, false);
    pump(&mut runs, first, &mut ChaCha20Rng::seed_from_u64(1), intercept)
}

/// Sign honestly and return the one signature every signer output.
fn sign(shares: &BTreeMap<PartyIndex, BlsKeyShare>, signers: &[PartyIndex], message: &[u8]) -> [u8; 96] {
    let out = sign_with(shares, signers, message, honest);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.outputs.len(), signers.len());
    let sig = out.outputs.values().next().copied().unwrap();
    assert!(out.outputs.values().all(|s| *s == sig), "signers disagree");
    sig
}

fn group_key(shares: &BTreeMap<PartyIndex, BlsKeyShare>) -> [u8; 48] {
    let pk = public_key_bytes(shares.values().next().unwrap());
    assert!(shares.values().all(|s| public_key_bytes(s) == pk));
    pk
}

/// A change to one sender's partial signature as `receiver` sees it.
fn tamper_partial(
    culprit: PartyIndex,
    f: impl Fn(&mut Partial),
) -> impl FnMut(PartyIndex, Envelope) -> Envelope {
    move |_, mut env| {
        if env.sender == culprit {
            let mut partial: Partial = decode_payload(&env.payload).unwrap();
            f(&mut partial);
            env.payload = encode(&partial);
        }
        env
    }
}

/// Assert that every signer other than `culprit` failed, blaming `culprit`, and return
/// one of the faults. (The culprit itself got honest partials and may finish.)
fn all_blame(out: &Outcome<[u8; 96]>, signers: &[PartyIndex], culprit: PartyIndex) -> Fault {
    assert!(
        out.outputs.keys().all(|s| *s == culprit),
        "only the culprit may output: {:?}",
        out.outputs.keys()
    );
    for s in signers.iter().filter(|s| **s != culprit) {
        let e = out.errors.get(s).unwrap_or_else(|| panic!("{s} did not fail"));
        assert_eq!(e.blamed(), Some(culprit), "{s}: {e}");
    }
    out.errors[&signers.iter().copied().find(|s| *s != culprit).unwrap()]
        .fault()
        .cloned()
        .unwrap()
}

/// A compressed point on the twist curve outside the prime-order subgroup G2.
fn non_subgroup_g2() -> Vec<u8> {
    let g = G2::generator().to_compressed();
    for x in 1u8..=255 {
        let mut b = [0u8; 96];
        b[0] = 0x80;
        b[95] = x;
        // Decoding without the subgroup check is what blst's Signature::from_bytes does;
        // it succeeds exactly for points on the curve.
        if blst::min_pk::Signature::from_bytes(&b).is_ok() {
            assert!(G2::from_compressed(&b).is_none());
            assert_ne!(b, g);
            return b.to_vec();
        }
    }
    panic!("no small x on the curve");
}

#[test]
fn dkg_2_of_3_every_subset_signs_the_same_bytes() {
    let shares = dkg(2, 3, 1);
    let pk = group_key(&shares);
    assert!(blst::min_pk::PublicKey::key_validate(&pk).is_ok());
    for share in shares.values() {
        assert_eq!(share.epoch(), 0);
        assert_eq!(share.threshold(), Threshold::new(2, 3).unwrap());
    }
    let message = b"transfer 1 ETH to 0xabc";
    let subsets: [&[u16]; 4] = [&[1, 2], &[1, 3], &[2, 3], &[1, 2, 3]];
    let sigs: Vec<[u8; 96]> = subsets
        .iter()
        .map(|s| sign(&shares, &parties(s), message))
        .collect();
    for sig in &sigs {
        assert!(verify(&pk, message, sig));
        let blst_sig = blst::min_pk::Signature::sig_validate(sig, true).unwrap();
        let blst_pk = blst::min_pk::PublicKey::key_validate(&pk).unwrap();
        assert_eq!(
            blst_sig.verify(true, message, SIG_DST, &[], &blst_pk, true),
            blst::BLST_ERROR::BLST_SUCCESS
        );
        assert_eq!(*sig, sigs[0], "every subset produces identical bytes");
    }
    assert!(!verify(&pk, b"transfer 2 ETH to 0xabc", &sigs[0]));
    let other = group_key(&dkg(2, 3, 2));
    assert!(!verify(&other, message, &sigs[0]));
}

#[test]
fn dkg_3_of_5_signs() {
    let shares = dkg(3, 5, 3);
    let pk = group_key(&shares);
    let message = b"";
    let a = sign(&shares, &parties(&[1, 3, 5]), message);
    let b = sign(&shares, &parties(&[2, 3, 4, 5]), message);
    let c = sign(&shares, &parties(&[5, 4, 2]), message);
    assert!(verify(&pk, message, &a));
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn signer_order_does_not_matter_and_parameters_are_checked() {
    let shares = dkg(2, 3, 4);
    let s = &shares[&p(1)];
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let session = SessionId::derive(b"params");
    let bad = |signers: &[u16]| {
        let signers = parties(signers);
        match start_sign(session, s, &signers, b"m", &mut ChaCha20Rng::seed_from_u64(0)) {
            Err(ProtocolError::InvalidParameters(_)) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("accepted signers {signers:?}"),
        }
    };
    bad(&[1]);
    bad(&[1, 1]);
    bad(&[1, 1, 2]);
    bad(&[1, 4]);
    bad(&[2, 3]);
    bad(&[]);
    assert!(start_sign(session, s, &parties(&[2, 1]), b"m", &mut rng).is_ok());
    assert!(start_pop(session, s, &parties(&[3]), &mut rng).is_err());
}

#[test]
fn refresh_keeps_the_key_and_the_signature() {
    let old = dkg(2, 3, 5);
    let new = refresh(&old, 6);
    let pk = group_key(&old);
    assert_eq!(group_key(&new), pk);
    for (i, share) in &new {
        let before = &old[i];
        assert_eq!(share.epoch(), before.epoch() + 1);
        assert_eq!(share.index(), *i);
        assert!(share.secret() != before.secret(), "{i}: share unchanged");
        assert_ne!(share.public_shares()[i], before.public_shares()[i]);
        assert_ne!(share.to_bytes().to_vec(), before.to_bytes().to_vec());
    }
    let message = b"after refresh";
    let sig_old = sign(&old, &parties(&[1, 2]), message);
    let sig_new = sign(&new, &parties(&[2, 3]), message);
    assert!(verify(&pk, message, &sig_new));
    assert_eq!(sig_old, sig_new);
    let newer = refresh(&new, 7);
    assert!(newer.values().all(|s| s.epoch() == 2));
    assert_eq!(sign(&newer, &parties(&[1, 3]), message), sig_old);
}

#[test]
fn mixed_epochs_are_rejected_naming_the_other_party() {
    let old = dkg(2, 3, 8);
    let new = refresh(&old, 9);
    let shares = BTreeMap::from([(p(1), &new[&p(1)]), (p(2), &old[&p(2)])]);
    let messages = BTreeMap::from([(p(1), &b"m"[..]), (p(2), &b"m"[..])]);
    let (mut runs, first) = start_all(&shares, &messages, false);
    let out = pump(&mut runs, first, &mut ChaCha20Rng::seed_from_u64(0), honest);
    assert!(out.outputs.is_empty());
    for (me, other) in [(p(1), p(2)), (p(2), p(1))] {
        let e = &out.errors[&me];
        assert_eq!(e.blamed(), Some(other), "{e}");
        assert!(
            matches!(e.fault(), Some(Fault::Other(m)) if m.contains("epoch")),
            "{e}"
        );
    }
}

#[test]
fn proof_of_possession() {
    let shares = dkg(2, 3, 10);
    let pk = group_key(&shares);
    let mut pops = Vec::new();
    for subset in [[1, 2], [2, 3]] {
        let chosen: BTreeMap<_, _> = parties(&subset).into_iter().map(|s| (s, &shares[&s])).collect();
        let (mut runs, first) = start_all(&chosen, &BTreeMap::new(), true);
        let out = pump(&mut runs, first, &mut ChaCha20Rng::seed_from_u64(0), honest);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.outputs.len(), 2);
        pops.extend(out.outputs.into_values());
    }
    assert!(pops.iter().all(|x| *x == pops[0]));
    let pop = pops[0];
    assert!(verify_pop(&pk, &pop));
    // blst's standard verifier under the POP tag agrees.
    let blst_pk = blst::min_pk::PublicKey::key_validate(&pk).unwrap();
    let blst_pop = blst::min_pk::Signature::sig_validate(&pop, true).unwrap();
    assert_eq!(
        blst_pop.verify(true, &pk, POP_DST, &[], &blst_pk, true),
        blst::BLST_ERROR::BLST_SUCCESS
    );
    // Domain separation: a proof is no message signature and the converse.
    assert!(!verify(&pk, &pk, &pop));
    let sig_of_pk = sign(&shares, &parties(&[1, 3]), &pk);
    assert!(verify(&pk, &pk, &sig_of_pk));
    assert!(!verify_pop(&pk, &sig_of_pk));
    assert!(!verify_pop(&group_key(&dkg(2, 3, 11)), &pop));
}

#[test]
fn tampered_partial_names_its_signer() {
    let shares = dkg(2, 3, 12);
    let signers = parties(&[1, 2, 3]);
    // A valid G2 point that is not the signer's partial.
    let out = sign_with(
        &shares,
        &signers,
        b"m",
        tamper_partial(p(2), |x| {
            let sigma = G2::from_compressed(&x.signature).unwrap();
            x.signature = (sigma + G2::generator()).to_compressed().to_vec();
        }),
    );
    assert_eq!(all_blame(&out, &signers, p(2)), Fault::InvalidPartialSignature);
    // Another signer's valid partial, replayed as its own.
    let theirs = {
        let (_, first) = start_all(
            &BTreeMap::from([(p(1), &shares[&p(1)]), (p(3), &shares[&p(3)])]),
            &BTreeMap::from([(p(1), &b"m"[..]), (p(3), &b"m"[..])]),
            false,
        );
        decode_payload::<Partial>(&first[1].payload).unwrap().signature
    };
    let out = sign_with(&shares, &signers, b"m", move |_, mut env| {
        if env.sender == p(1) {
            let mut x: Partial = decode_payload(&env.payload).unwrap();
            x.signature = theirs.clone();
            env.payload = encode(&x);
        }
        env
    });
    assert_eq!(all_blame(&out, &signers, p(1)), Fault::InvalidPartialSignature);
}

#[test]
fn invalid_g2_bytes_name_the_sender() {
    let shares = dkg(2, 3, 13);
    let signers = parties(&[1, 2, 3]);
    let mut x_too_big = vec![0xffu8; 96];
    x_too_big[0] = 0x9f;
    let mut identity = vec![0u8; 96];
    identity[0] = 0xc0;
    let cases: Vec<Vec<u8>> = vec![
        x_too_big,
        non_subgroup_g2(),
        identity,
        vec![0u8; 96],
        G2::generator().to_compressed()[..95].to_vec(),
        Vec::new(),
        G1::generator().to_compressed().to_vec(),
    ];
    for bytes in cases {
        let out = sign_with(
            &shares,
            &signers,
            b"m",
            tamper_partial(p(3), move |x| x.signature = bytes.clone()),
        );
        let fault = all_blame(&out, &signers, p(3));
        assert!(matches!(fault, Fault::InvalidElement(_)), "{fault}");
    }
}

#[test]
fn different_message_names_the_sender() {
    let shares = dkg(2, 3, 14);
    let chosen = BTreeMap::from([(p(1), &shares[&p(1)]), (p(2), &shares[&p(2)])]);
    let messages = BTreeMap::from([(p(1), &b"pay alice"[..]), (p(2), &b"pay mallory"[..])]);
    let (mut runs, first) = start_all(&chosen, &messages, false);
    let out = pump(&mut runs, first, &mut ChaCha20Rng::seed_from_u64(0), honest);
    assert!(out.outputs.is_empty());
    assert_eq!(out.errors[&p(1)].blamed(), Some(p(2)));
    assert_eq!(out.errors[&p(2)].blamed(), Some(p(1)));
    // A partial of the right statement digest over another message is still caught by
    // the pairing check.
    let signers = parties(&[1, 2]);
    let forged = {
        let messages = BTreeMap::from([(p(1), &b"x"[..]), (p(2), &b"other"[..])]);
        let (_, first) = start_all(&chosen, &messages, false);
        decode_payload::<Partial>(&first[1].payload).unwrap().signature
    };
    let out = sign_with(&shares, &signers, b"x", move |_, mut env| {
        if env.sender == p(2) {
            let mut x: Partial = decode_payload(&env.payload).unwrap();
            x.signature = forged.clone();
            env.payload = encode(&x);
        }
        env
    });
    assert_eq!(all_blame(&out, &signers, p(2)), Fault::InvalidPartialSignature);
}

#[test]
fn a_signer_that_equivocates_is_named_and_cannot_split_the_output() {
    let shares = dkg(2, 3, 15);
    let signers = parties(&[1, 2, 3]);
    let message = b"m";
    // P3 sends its valid partial to P1 and a wrong one to P2.
    let out = sign_with(&shares, &signers, message, |to, mut env| {
        if env.sender == p(3) && to == p(2) {
            let mut x: Partial = decode_payload(&env.payload).unwrap();
            x.signature = G2::generator().to_compressed().to_vec();
            env.payload = encode(&x);
        }
        env
    });
    assert_eq!(out.errors[&p(2)].blamed(), Some(p(3)));
    assert_eq!(out.errors.len(), 1);
    let expected = sign(&shares, &parties(&[1, 2]), message);
    assert_eq!(out.outputs[&p(1)], expected);
    assert_eq!(out.outputs[&p(3)], expected);
}

#[test]
fn bad_envelopes_name_the_sender() {
    let shares = dkg(2, 3, 16);
    let chosen = BTreeMap::from([
        (p(1), &shares[&p(1)]),
        (p(2), &shares[&p(2)]),
        (p(3), &shares[&p(3)]),
    ]);
    let messages = [(p(1), &b"m"[..]), (p(2), &b"m"[..]), (p(3), &b"m"[..])].into();
    let (runs, first) = start_all(&chosen, &messages, false);
    drop(runs);
    let from2 = first.iter().find(|e| e.sender == p(2)).unwrap().clone();
    let from3 = first.iter().find(|e| e.sender == p(3)).unwrap().clone();
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let fresh = || start_all(&chosen, &messages, false).0.remove(&p(1)).unwrap();
    let expect = |run: &mut Signing, env: Envelope, culprit: PartyIndex, check: &dyn Fn(&Fault) -> bool| {
        let e = run.handle(env, &mut ChaCha20Rng::seed_from_u64(0)).unwrap_err();
        assert_eq!(e.blamed(), Some(culprit), "{e}");
        assert!(check(e.fault().unwrap()), "{e}");
    };
    let malformed = |f: &Fault| matches!(f, Fault::Malformed(_));

    // Truncated payload, and trailing bytes.
    let mut run = fresh();
    let mut env = from2.clone();
    env.payload.truncate(env.payload.len() - 10);
    expect(&mut run, env, p(2), &malformed);
    let mut run = fresh();
    let mut env = from2.clone();
    env.payload.push(0);
    expect(&mut run, env, p(2), &malformed);
    let mut run = fresh();
    let mut env = from2.clone();
    env.payload.clear();
    expect(&mut run, env, p(2), &malformed);

    // Duplicate: the second copy is refused, and the run is aborted: it refuses
    // everything after, even the partial it still lacked.
    let mut run = fresh();
    assert!(run.handle(from2.clone(), &mut rng).unwrap().is_waiting());
    expect(&mut run, from2.clone(), p(2), &|f| {
        matches!(f, Fault::Duplicate { round: 1 })
    });
    assert_eq!(
        run.handle(from3.clone(), &mut rng).unwrap_err(),
        ProtocolError::Finished
    );
    // Without the duplicate, the same messages make the signature.
    let mut run = fresh();
    assert!(run.handle(from2.clone(), &mut rng).unwrap().is_waiting());
    let step = run.handle(from3.clone(), &mut rng).unwrap();
    let sig = step.output.unwrap();
    assert!(verify(&public_key_bytes(&shares[&p(1)]), b"m", &sig));
    assert_eq!(
        run.handle(from2.clone(), &mut rng).unwrap_err(),
        ProtocolError::Finished
    );

    // Wrong round (there is only round 1).
    for round in [0, 2, u16::MAX] {
        let mut run = fresh();
        let mut env = from2.clone();
        env.round = round;
        expect(&mut run, env, p(2), &|f| matches!(f, Fault::WrongRound { .. }));
    }

    // Unknown sender: a key holder outside the signer set, someone outside the key, and
    // a message claiming to be from ourselves.
    let two = BTreeMap::from([(p(1), &shares[&p(1)]), (p(2), &shares[&p(2)])]);
    let fresh_pair = || start_all(&two, &messages, false).0.remove(&p(1)).unwrap();
    expect(&mut fresh_pair(), from3.clone(), p(3), &|f| {
        *f == Fault::UnknownSender
    });
    for sender in [p(7), p(1)] {
        let mut env = from2.clone();
        env.sender = sender;
        expect(&mut fresh_pair(), env, sender, &|f| *f == Fault::UnknownSender);
    }

    // Another session or protocol phase, and point-to-point addressing; each aborts
    // the run it is fed to.
    let mut env = from2.clone();
    env.session = SessionId::derive(b"another run");
    expect(&mut fresh(), env, p(2), &|f| matches!(f, Fault::WrongSession(_)));
    let mut env = from2.clone();
    env.protocol.phase = crate::message::Phase::Dkg;
    expect(&mut fresh(), env, p(2), &|f| matches!(f, Fault::WrongSession(_)));
    let mut env = from2.clone();
    env.recipient = Recipient::One(p(1));
    let mut run = fresh();
    expect(&mut run, env, p(2), &|f| matches!(f, Fault::WrongRecipient(_)));
    assert_eq!(
        run.handle(from2.clone(), &mut rng).unwrap_err(),
        ProtocolError::Finished
    );
}

#[test]
fn seeded_runs_are_deterministic() {
    let a = dkg(2, 3, 17);
    let b = dkg(2, 3, 17);
    for (i, share) in &a {
        assert_eq!(share.to_bytes().to_vec(), b[i].to_bytes().to_vec());
    }
    assert_eq!(
        sign(&a, &parties(&[1, 2]), b"m"),
        sign(&b, &parties(&[1, 2]), b"m")
    );
    assert_ne!(group_key(&a), group_key(&dkg(2, 3, 18)));
    let ra = refresh(&a, 19);
    let rb = refresh(&b, 19);
    for (i, share) in &ra {
        assert_eq!(share.to_bytes().to_vec(), rb[i].to_bytes().to_vec());
    }
}

#[test]
fn share_storage_round_trip_and_redaction() {
    let shares = dkg(2, 3, 20);
    let share = &shares[&p(2)];
    let back = BlsKeyShare::from_bytes(&share.to_bytes()).unwrap();
    assert_eq!(back.public_key(), share.public_key());
    assert!(back.secret() == share.secret());
    assert_eq!(back.epoch(), share.epoch());
    let debug = format!("{share:?}");
    assert!(debug.contains("<redacted>"));
    assert!(!debug.contains(&hex::encode(share.secret().to_bytes())));
}

/// Ethereum 2.0 `sign` vectors (ethereum/bls12-381-tests v0.1.2, the consensus-specs
/// `bls/sign` handler, CC0-1.0): (privkey, message, signature).
const ETH2_SIGN_VECTORS: [(&str, &str, &str); 9] = [
    (
        "47b8192d77bf871b62e87859d653922725724a5c031afeabc60bcef5ff665138",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "b23c46be3a001c63ca711f87a005c200cc550b9429d5f4eb38d74322144f1b63926da3388979e5321012fb1a0526bcd1\
         00b5ef5fe72628ce4cd5e904aeaa3279527843fae5ca9ca675f4f51ed8f83bbf7155da9ecc9663100a885d5dc6df96d9",
    ),
    (
        "47b8192d77bf871b62e87859d653922725724a5c031afeabc60bcef5ff665138",
        "5656565656565656565656565656565656565656565656565656565656565656",
        "af1390c3c47acdb37131a51216da683c509fce0e954328a59f93aebda7e4ff974ba208d9a4a2a2389f892a9d418d6184\
         18dd7f7a6bc7aa0da999a9d3a5b815bc085e14fd001f6a1948768a3f4afefc8b8240dda329f984cb345c6363272ba4fe",
    ),
    (
        "47b8192d77bf871b62e87859d653922725724a5c031afeabc60bcef5ff665138",
        "abababababababababababababababababababababababababababababababab",
        "9674e2228034527f4c083206032b020310face156d4a4685e2fcaec2f6f3665aa635d90347b6ce124eb879266b1e801d\
         185de36a0a289b85e9039662634f2eea1e02e670bc7ab849d006a70b2f93b84597558a05b879c8d445f387a5d5b653df",
    ),
    (
        "328388aff0d4a5b7dc9205abd374e7e98f3cd9f3418edb4eafda5fb16473d216",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "948a7cb99f76d616c2c564ce9bf4a519f1bea6b0a624a02276443c245854219fabb8d4ce061d255af5330b078d538068\
         1751aa7053da2c98bae898edc218c75f07e24d8802a17cd1f6833b71e58f5eb5b94208b4d0bb3848cecb075ea21be115",
    ),
    (
        "328388aff0d4a5b7dc9205abd374e7e98f3cd9f3418edb4eafda5fb16473d216",
        "abababababababababababababababababababababababababababababababab",
        "ae82747ddeefe4fd64cf9cedb9b04ae3e8a43420cd255e3c7cd06a8d88b7c7f8638543719981c5d16fa3527c468c25f0\
         026704a6951bde891360c7e8d12ddee0559004ccdbe6046b55bae1b257ee97f7cdb955773d7cf29adf3ccbb9975e4eb9",
    ),
    (
        "328388aff0d4a5b7dc9205abd374e7e98f3cd9f3418edb4eafda5fb16473d216",
        "5656565656565656565656565656565656565656565656565656565656565656",
        "a4efa926610b8bd1c8330c918b7a5e9bf374e53435ef8b7ec186abf62e1b1f65aeaaeb365677ac1d1172a1f5b44b4e6d\
         022c252c58486c0a759fbdc7de15a756acc4d343064035667a594b4c2a6f0b0b421975977f297dba63ee2f63ffe47bb6",
    ),
    (
        "263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "b6ed936746e01f8ecf281f020953fbf1f01debd5657c4a383940b020b26507f6076334f91e2366c96e9ab279fb515809\
         0352ea1c5b0c9274504f4f0e7053af24802e51e4568d164fe986834f41e55c8e850ce1f98458c0cfc9ab380b55285a55",
    ),
    (
        "263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3",
        "5656565656565656565656565656565656565656565656565656565656565656",
        "882730e5d03f6b42c3abc26d3372625034e1d871b65a8a6b900a56dae22da98abbe1b68f85e49fe7652a55ec3d0591c2\
         0767677e33e5cbb1207315c41a9ac03be39c2e7668edc043d6cb1d9fd93033caa8a1c5b0e84bedaeb6c64972503a43eb",
    ),
    (
        "263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3",
        "abababababababababababababababababababababababababababababababab",
        "91347bccf740d859038fcdcaf233eeceb2a436bcaaee9b2aa3bfb70efe29dfb2677562ccbea1c8e061fb9971b0753c24\
         0622fab78489ce96768259fc01360346da5b9f579e5da0d941e4c6ba18a0e64906082375394f337fa1af2b7127b0d121",
    ),
];

#[test]
fn eth2_sign_vectors_match_our_hash_and_encoding() {
    for (sk_hex, msg_hex, sig_hex) in ETH2_SIGN_VECTORS {
        let sk_bytes = hex::decode(sk_hex).unwrap();
        let message = hex::decode(msg_hex).unwrap();
        let expected = hex::decode(sig_hex).unwrap();
        let sk = Fr::from_bytes(&sk_bytes).unwrap();
        // Our path: x * H(m) with our Fr, G2 and hash-to-curve.
        let ours = (G2::hash(&message, SIG_DST) * sk).to_compressed();
        assert_eq!(
            hex::encode(ours),
            hex::encode(&expected),
            "sk {sk_hex}, msg {msg_hex}"
        );
        // blst's own signer agrees.
        let blst_sk = blst::min_pk::SecretKey::from_bytes(&sk_bytes).unwrap();
        assert_eq!(blst_sk.sign(&message, SIG_DST, &[]).to_bytes(), ours);
        let pk = (G1::generator() * sk).to_compressed();
        assert_eq!(blst_sk.sk_to_pk().to_bytes(), pk);
        assert!(verify(&pk, &message, &ours));
    }
    // The public key of the first consensus-specs test key.
    let sk = Fr::from_bytes(&hex::decode(ETH2_SIGN_VECTORS[6].0).unwrap()).unwrap();
    assert_eq!(
        hex::encode((G1::generator() * sk).to_compressed()),
        "a491d1b0ecd9bb917989f0e74f0dea0422eac4a873e5e2644f368dffb9a6e20fd6e10c1b77654d067c0618f6e5a7f79a"
    );
}

#[test]
fn our_arithmetic_matches_blst_signing_for_random_keys() {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    for len in [0usize, 1, 32, 100] {
        let sk = Fr::random(&mut rng);
        let message: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let blst_sk = blst::min_pk::SecretKey::from_bytes(&sk.to_bytes()).unwrap();
        for dst in [SIG_DST, POP_DST] {
            let ours = (G2::hash(&message, dst) * sk).to_compressed();
            assert_eq!(blst_sk.sign(&message, dst, &[]).to_bytes(), ours);
        }
        let pk = blst_sk.sk_to_pk().to_bytes();
        assert_eq!((G1::generator() * sk).to_compressed(), pk);
        let pop = (G2::hash(&pk, POP_DST) * sk).to_compressed();
        assert!(verify_pop(&pk, &pop));
    }
}

#[test]
fn verify_rejects_bad_inputs() {
    let mut rng = ChaCha20Rng::seed_from_u64(22);
    let sk = Fr::random(&mut rng);
    let pk = (G1::generator() * sk).to_compressed();
    let sig = (G2::hash(b"m", SIG_DST) * sk).to_compressed();
    assert!(verify(&pk, b"m", &sig));
    assert!(!verify(&pk, b"n", &sig));
    let mut identity_pk = [0u8; 48];
    identity_pk[0] = 0xc0;
    let mut identity_sig = [0u8; 96];
    identity_sig[0] = 0xc0;
    assert!(!verify(&identity_pk, b"m", &identity_sig));
    assert!(!verify(&pk, b"m", &identity_sig));
    assert!(!verify(&[0u8; 48], b"m", &sig));
    assert!(!verify(&pk, b"m", &[0u8; 96]));
    let not_in_g2: [u8; 96] = non_subgroup_g2().try_into().unwrap();
    assert!(!verify(&pk, b"m", &not_in_g2));
    let mut flipped = sig;
    flipped[0] ^= 0x20;
    assert!(!verify(&pk, b"m", &flipped));
}
