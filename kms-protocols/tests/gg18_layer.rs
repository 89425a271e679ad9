//! Tests of the GG18 arithmetic layer: Paillier, aux material and its proofs (complete and
//! sound against crafted attacks), MtA / MtAwc (correct, and every cheat caught).
//!
//! Keys come from the fixture primes in tests/data/gg18_fixtures.json (full production
//! size: 2048-bit N and N~), made by `examples/gg18_fixtures.rs`.

use k256::{ProjectivePoint, Scalar};
use kms_protocols::gg18::aux_info::{AuxPublic, AuxSecret, PeerAux};
use kms_protocols::gg18::bigint::BigInt;
use kms_protocols::gg18::mta::{
    alice_finish, alice_start, bob_respond, curve_order, decode_point, encode_point, scalar_to_bigint,
    AliceEncryption, AliceMessage, BobNonces, MtaContext,
};
use kms_protocols::gg18::paillier::{Ciphertext, PaillierPublic};
use kms_protocols::gg18::primes::{is_blum_prime, is_safe_prime};
use kms_protocols::gg18::zk::modulus::{ModulusProof, MOD_REPETITIONS};
use kms_protocols::gg18::zk::mta_range::AliceRangeProof;
use kms_protocols::gg18::zk::mta_respondent::{BobProof, BobProofPrecomputation, BobStatement, BobWitness};
use kms_protocols::gg18::zk::no_small_factor::NoSmallFactorProof;
use kms_protocols::gg18::zk::ring_pedersen_params::PRM_REPETITIONS;
use kms_protocols::{Fault, PartyIndex, SessionId};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::Deserialize;
use std::sync::OnceLock;

#[derive(Deserialize)]
struct PartyPrimes {
    paillier_p: BigInt,
    paillier_q: BigInt,
    rp_p: BigInt,
    rp_q: BigInt,
}

#[derive(Deserialize)]
struct Fixtures {
    parties: Vec<PartyPrimes>,
    refresh_parties: Vec<PartyPrimes>,
    small_factor_p: BigInt,
    small_factor_q: BigInt,
    non_blum_p: BigInt,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| serde_json::from_str(include_str!("data/gg18_fixtures.json")).expect("fixture json"))
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn party(i: u16) -> PartyIndex {
    PartyIndex::new(i).expect("non-zero")
}

fn context(i: u16) -> Vec<u8> {
    format!("test-deployment/node-{i}").into_bytes()
}

/// Node i's aux secret and public material, made once per test process (and only for
/// the nodes a test uses: nextest runs each test in its own process).
fn node(i: u16) -> &'static (AuxSecret, AuxPublic) {
    static NODES: [OnceLock<(AuxSecret, AuxPublic)>; 4] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    NODES[usize::from(i) - 1].get_or_init(|| {
        let pp = &fixtures().parties[usize::from(i) - 1];
        let mut r = rng(100 + u64::from(i));
        let sec = AuxSecret::from_primes(
            &mut r,
            pp.paillier_p.clone(),
            pp.paillier_q.clone(),
            pp.rp_p.clone(),
            pp.rp_q.clone(),
        )
        .expect("fixture primes");
        let public = sec.prove(&mut r, &context(i), party(i)).expect("prove");
        (sec, public)
    })
}

/// `verifier`'s fully verified view of `prover`.
fn peer(verifier: u16, prover: u16) -> PeerAux {
    let mut r = rng(200 + u64::from(verifier) * 10 + u64::from(prover));
    let (v_sec, v_pub) = node(verifier);
    let (p_sec, p_pub) = node(prover);
    // The prover checks the verifier's parameters before proving under them.
    let verifier_seen_by_prover = v_pub
        .verify(&context(verifier), party(verifier))
        .expect("verifier aux");
    let fac = p_sec
        .prove_no_small_factor(&mut r, &context(prover), party(prover), &verifier_seen_by_prover)
        .expect("fac");
    p_pub
        .verify(&context(prover), party(prover))
        .expect("aux verifies")
        .accept_no_small_factor(&context(prover), &fac, v_sec)
        .expect("fac verifies")
}

// ---------------------------------------------------------------- fixtures, constants

#[test]
fn fixture_primes_are_what_they_claim() {
    let mut r = rng(1);
    let f = fixtures();
    assert!(f.parties.len() >= 4);
    for pp in f.parties.iter().chain(&f.refresh_parties) {
        for p in [&pp.paillier_p, &pp.paillier_q] {
            assert_eq!(p.bits(), 1024);
            assert!(is_blum_prime(&mut r, p));
            assert!(p.is_probable_prime(30));
        }
        for p in [&pp.rp_p, &pp.rp_q] {
            assert_eq!(p.bits(), 1024);
            assert!(is_safe_prime(&mut r, p));
        }
    }
    assert!(f.small_factor_p.is_probable_prime(30));
    assert!(f.small_factor_q.is_probable_prime(30));
    assert!(f.non_blum_p.is_probable_prime(30));
    assert_eq!(f.non_blum_p.rem_u64(4), 1);
}

#[test]
fn repetition_counts_are_pinned_at_80_or_more() {
    // Lowering a constant below 80 stops this test from compiling...
    const { assert!(PRM_REPETITIONS >= 80, "Πprm repetitions lowered") };
    const { assert!(MOD_REPETITIONS >= 80, "Πmod repetitions lowered") };
    // ...and real proofs must carry at least 80 rounds.
    let (_, public) = node(1);
    for len in [
        public.prm_proof.commitments_12.len(),
        public.prm_proof.commitments_21.len(),
        public.mod_proof.z.len(),
    ] {
        assert!(len >= 80, "a proof carries only {len} repetitions");
    }
    assert_eq!(public.prm_proof.commitments_12.len(), PRM_REPETITIONS);
    assert_eq!(public.prm_proof.commitments_21.len(), PRM_REPETITIONS);
    assert_eq!(public.mod_proof.z.len(), MOD_REPETITIONS);
}

// ---------------------------------------------------------------- Paillier

#[test]
fn paillier_crt_decrypts_and_is_homomorphic() {
    let mut r = rng(2);
    let (sec, _) = node(1);
    let sk = sec.paillier();
    let pk = sk.public();
    let m1 = BigInt::random_below(&mut r, pk.n());
    let m2 = BigInt::from_u64(123_456_789);
    // Public-key path (no CRT) and own-key path (CRT) both decrypt correctly.
    let (c1, _) = pk.encrypt(&mut r, &m1);
    let (c2, n2) = sk.encrypt(&mut r, &m2);
    assert_eq!(sk.decrypt(&c1), m1);
    assert_eq!(sk.decrypt(&c2), m2);
    let _ = n2;
    let x = pk.n_modulus().random_unit(&mut r);
    assert_eq!(pk.power_n_sec(&x), sk.power_n_crt(&x));
    let sum = pk.add(&c1, &c2);
    assert_eq!(sk.decrypt(&sum), pk.n_modulus().add(&m1, &m2));
    let k = BigInt::from_u64(77);
    let prod = pk.mul_sec(&c2, &k).expect("k >= 0");
    assert_eq!(sk.decrypt(&prod), &m2 * &k);
}

#[test]
fn ciphertext_not_a_unit_is_rejected() {
    let (sec, _) = node(1);
    let pk = sec.paillier().public();
    let n = pk.n().clone();
    let nn = pk.nn().value().clone();
    for bad in [
        BigInt::zero(),
        n.clone(),
        &n * &BigInt::from_u64(5),
        nn.clone(),
        &nn + &BigInt::one(),
        -&BigInt::one(),
    ] {
        assert!(matches!(pk.validate(&Ciphertext(bad)), Err(Fault::Malformed(_))));
    }
    assert!(pk.validate(&Ciphertext(BigInt::from_u64(2))).is_ok());
}

#[test]
fn paillier_modulus_below_2048_bits_is_rejected() {
    let f = fixtures();
    let p = &f.parties[0].paillier_p;
    // A 2047-bit modulus is refused as a key, from a peer and locally.
    let small = p * &(BigInt::pow2(1022) + BigInt::from_u64(3));
    assert!(small.bits() < 2048);
    assert!(PaillierPublic::new(small).is_err());
    let mut public = node(1).1.clone();
    public.paillier_n = &f.parties[0].paillier_p * &BigInt::from_u64(3);
    assert!(public.verify(&context(1), party(1)).is_err());
    // Ring-Pedersen modulus too.
    let mut public = node(1).1.clone();
    public.ring_pedersen.n = f.parties[0].rp_p.clone();
    assert!(public.verify(&context(1), party(1)).is_err());
}

// ---------------------------------------------------------------- aux material

#[test]
fn aux_material_verifies_between_all_four_nodes() {
    for v in 1..=4u16 {
        for p in 1..=4u16 {
            if v != p {
                let peer = peer(v, p);
                assert_eq!(peer.party(), party(p));
                assert_eq!(peer.paillier().n(), node(p).0.paillier().public().n());
            }
        }
    }
}

#[test]
fn aux_public_round_trips_through_serde() {
    let (_, public) = node(2);
    let json = serde_json::to_string(public).expect("ser");
    let back: AuxPublic = serde_json::from_str(&json).expect("de");
    assert_eq!(&back, public);
    back.verify(&context(2), party(2)).expect("still verifies");
}

#[test]
fn aux_proofs_are_bound_to_context_and_prover() {
    let (_, public) = node(1);
    assert!(public.verify(&context(2), party(1)).is_err());
    assert!(public.verify(&context(1), party(2)).is_err());
    // Node 2's proofs presented as node 1's own material.
    let mut mixed = node(1).1.clone();
    mixed.mod_proof = node(2).1.mod_proof.clone();
    assert!(mixed.verify(&context(1), party(1)).is_err());
}

#[test]
fn aux_secret_debug_is_redacted() {
    let (sec, _) = node(1);
    let f = fixtures();
    let dbg = format!("{sec:?} {:?} {:?}", sec.paillier(), sec.ring_pedersen_secret());
    assert!(dbg.contains("redacted"));
    for p in [&f.parties[0].paillier_p, &f.parties[0].rp_p] {
        assert!(!dbg.contains(&p.to_hex()[..16]));
    }
}

#[test]
fn tampered_modulus_proof_is_rejected() {
    let mut public = node(1).1.clone();
    public.mod_proof.x[5] = &public.mod_proof.x[5] + &BigInt::one();
    let err = public.verify(&context(1), party(1)).unwrap_err();
    assert!(
        matches!(err, Fault::InvalidProof(ref m) if m.contains("modulus")),
        "{err}"
    );
    let mut public = node(1).1.clone();
    public.mod_proof.a[7] = !public.mod_proof.a[7];
    assert!(public.verify(&context(1), party(1)).is_err());
    let mut public = node(1).1.clone();
    public.mod_proof.z.pop();
    assert!(public.verify(&context(1), party(1)).is_err());
}

#[test]
fn tampered_ring_pedersen_proof_is_rejected() {
    let mut public = node(1).1.clone();
    let z = &public.prm_proof.responses_21[3];
    public.prm_proof.responses_21[3] = z + &BigInt::one();
    let err = public.verify(&context(1), party(1)).unwrap_err();
    assert!(
        matches!(err, Fault::InvalidProof(ref m) if m.contains("ring-Pedersen")),
        "{err}"
    );
    // Swapping h1 and h2 changes the statement: the challenges no longer match.
    let mut public = node(1).1.clone();
    std::mem::swap(&mut public.ring_pedersen.h1, &mut public.ring_pedersen.h2);
    assert!(public.verify(&context(1), party(1)).is_err());
}

#[test]
fn non_blum_modulus_is_rejected_by_modulus_proof() {
    let mut r = rng(3);
    let f = fixtures();
    let p = &f.non_blum_p; // p = 1 mod 4
    let q = &f.parties[0].paillier_q;
    let n = p * q;
    let session = SessionId::derive(b"non-blum");
    let proof = ModulusProof::prove(&mut r, &session, party(1), &n, p, q).expect("runs");
    let err = proof.verify(&session, party(1), &n).unwrap_err();
    assert!(matches!(err, Fault::InvalidProof(_)), "{err}");
    // A prime "modulus" is refused outright.
    let prime = f.parties[0].paillier_p.clone();
    assert!(proof.verify(&session, party(1), &prime).is_err());
}

#[test]
fn modulus_with_small_factor_is_caught_by_no_small_factor_proof() {
    let mut r = rng(4);
    let f = fixtures();
    let (p, q) = (&f.small_factor_p, &f.small_factor_q); // 61-bit and 1988-bit primes
    let n = p * q;
    assert!(n.bits() >= 2048);
    let session = SessionId::derive(b"small-factor");
    // It is a Blum modulus: Πmod alone would accept it...
    ModulusProof::prove(&mut r, &session, party(1), &n, p, q)
        .expect("runs")
        .verify(&session, party(1), &n)
        .expect("Blum modulus");
    // ...and Πfac catches the small factor, whichever way round the prover puts them.
    let verifier_rp = node(2).0.ring_pedersen();
    for (a, b) in [(p, q), (q, p)] {
        let proof =
            NoSmallFactorProof::prove(&mut r, &session, party(1), &n, a, b, verifier_rp).expect("runs");
        let err = proof.verify(&session, party(1), &n, verifier_rp).unwrap_err();
        assert!(
            matches!(err, Fault::InvalidProof(ref m) if m.contains("too small")),
            "{err}"
        );
    }
}

#[test]
fn honest_no_small_factor_proof_verifies_and_tampering_is_caught() {
    let mut r = rng(5);
    let (sec, _) = node(1);
    let session = SessionId::derive(b"fac");
    let n = sec.paillier().public().n();
    let fp = &fixtures().parties[0];
    let rp = node(3).0.ring_pedersen();
    let proof = NoSmallFactorProof::prove(&mut r, &session, party(1), n, &fp.paillier_p, &fp.paillier_q, rp)
        .expect("prove");
    proof.verify(&session, party(1), n, rp).expect("honest");
    // Under another verifier's parameters it does not verify.
    assert!(proof
        .verify(&session, party(1), n, node(4).0.ring_pedersen())
        .is_err());
    let mut bad = proof.clone();
    bad.v = &bad.v + &BigInt::one();
    assert!(bad.verify(&session, party(1), n, rp).is_err());
    let mut bad = proof.clone();
    bad.sigma = &bad.sigma + &BigInt::one();
    assert!(bad.verify(&session, party(1), n, rp).is_err());
    let mut bad = proof;
    bad.p_commit = BigInt::zero();
    assert!(bad.verify(&session, party(1), n, rp).is_err());
}

// ---------------------------------------------------------------- MtA

fn ctx(alice: u16, bob: u16, tag: &'static [u8]) -> MtaContext<'static> {
    MtaContext {
        session: SessionId::derive(b"mta-test-session"),
        alice: party(alice),
        bob: party(bob),
        tag,
    }
}

fn scalar(seed: u64) -> Scalar {
    use k256::elliptic_curve::Field;
    Scalar::random(&mut rng(seed))
}

/// Alice = node 1, Bob = node 2.
fn alice_message(r: &mut ChaCha20Rng, c: &MtaContext<'_>, a: &Scalar) -> AliceMessage {
    let enc = AliceEncryption::new(r, &node(1).0, a);
    alice_start(r, c, &node(1).0, &enc, &peer(1, 2))
}

#[test]
fn mta_end_to_end() {
    let mut r = rng(6);
    let c = ctx(1, 2, b"k*gamma");
    let (a, b) = (scalar(61), scalar(62));
    let msg = alice_message(&mut r, &c, &a);
    let alice_seen_by_bob = peer(2, 1);
    let nonces = BobNonces::precompute(&mut r, &alice_seen_by_bob);
    let (reply, beta) =
        bob_respond(&c, &node(2).0, &alice_seen_by_bob, &msg, &b, nonces, false).expect("Alice honest");
    let alpha = alice_finish(&c, &node(1).0, &msg.ciphertext, &reply, None).expect("Bob honest");
    assert_eq!(alpha + beta, a * b);
}

#[test]
fn mtawc_end_to_end_and_wrong_b_point_caught() {
    let mut r = rng(7);
    let c = ctx(1, 2, b"k*w");
    let (a, b) = (scalar(71), scalar(72));
    let msg = alice_message(&mut r, &c, &a);
    let alice_seen_by_bob = peer(2, 1);
    let nonces = BobNonces::precompute(&mut r, &alice_seen_by_bob);
    let (reply, beta) =
        bob_respond(&c, &node(2).0, &alice_seen_by_bob, &msg, &b, nonces, true).expect("Alice honest");
    let b_point = ProjectivePoint::GENERATOR * b;
    let alpha = alice_finish(&c, &node(1).0, &msg.ciphertext, &reply, Some(&b_point)).expect("Bob honest");
    assert_eq!(alpha + beta, a * b);
    let wrong = ProjectivePoint::GENERATOR * (b + Scalar::ONE);
    let err = alice_finish(&c, &node(1).0, &msg.ciphertext, &reply, Some(&wrong)).unwrap_err();
    assert!(matches!(err, Fault::InvalidProof(_)), "{err}");
    // A Bob who multiplies by b but claims B' = g^(b+1) (and hashes B' consistently)
    // passes the Paillier and ring-Pedersen equations and is caught by the curve check.
    let pk = node(1).0.paillier().public();
    let b_int = scalar_to_bigint(&b);
    let y = BigInt::from_u64(99);
    let c2 = pk.add(
        &pk.mul_sec(&msg.ciphertext, &b_int).expect("b >= 0"),
        &Ciphertext(pk.gamma_pow(&y)),
    );
    let st = BobStatement {
        pk,
        c1: &msg.ciphertext,
        c2: &c2,
        rp: node(1).0.ring_pedersen(),
        x_point: Some(&wrong),
    };
    let wit = BobWitness {
        x: &b_int,
        r: &BigInt::one(),
    };
    let pre = BobProofPrecomputation::new(&mut r, pk, node(1).0.ring_pedersen(), y.clone());
    let proof = BobProof::prove(&c, &st, &wit, pre);
    let err = proof.verify(&c, &st).unwrap_err();
    assert!(
        matches!(err, Fault::InvalidProof(ref m) if m.contains("g^b")),
        "{err}"
    );
    // A proof without the check does not pass as MtAwc, nor the converse.
    assert!(alice_finish(&c, &node(1).0, &msg.ciphertext, &reply, None).is_err());
}

#[test]
fn alice_plaintext_out_of_range_is_caught_by_her_range_proof() {
    let mut r = rng(8);
    let c = ctx(1, 2, b"k*gamma");
    let sk = node(1).0.paillier();
    let q = curve_order();
    for m in [q.pow(4), q.pow(3) + BigInt::pow2(600)] {
        // Enc(m; r = 1) = Γ^m: a known nonce, as the cheating prover needs r.
        let ct = Ciphertext(sk.public().gamma_pow(&m));
        let rp = node(2).0.ring_pedersen();
        let proof = AliceRangeProof::prove(&mut r, &c, sk, &ct, &m, &BigInt::one(), rp);
        let msg = AliceMessage {
            ciphertext: ct,
            proof,
        };
        let alice_seen_by_bob = peer(2, 1);
        let nonces = BobNonces::precompute(&mut r, &alice_seen_by_bob);
        let err = bob_respond(
            &c,
            &node(2).0,
            &alice_seen_by_bob,
            &msg,
            &scalar(1),
            nonces,
            false,
        )
        .unwrap_err();
        assert!(
            matches!(err, Fault::InvalidProof(ref m) if m.contains("s1 out of range")),
            "{err}"
        );
    }
}

#[test]
fn alice_range_proof_complete_and_bound() {
    let mut r = rng(9);
    let c = ctx(1, 2, b"k*gamma");
    let sk = node(1).0.paillier();
    let m = scalar_to_bigint(&scalar(91));
    let ct = Ciphertext(sk.public().gamma_pow(&m));
    let rp = node(2).0.ring_pedersen();
    let proof = AliceRangeProof::prove(&mut r, &c, sk, &ct, &m, &BigInt::one(), rp);
    proof.verify(&c, sk.public(), &ct, rp).expect("honest");
    // Bound to the context: another tag, another prover or another verifier fails.
    assert!(proof.verify(&ctx(1, 2, b"k*w"), sk.public(), &ct, rp).is_err());
    assert!(proof
        .verify(&ctx(3, 2, b"k*gamma"), sk.public(), &ct, rp)
        .is_err());
    assert!(proof
        .verify(&c, sk.public(), &ct, node(3).0.ring_pedersen())
        .is_err());
    let mut bad = proof.clone();
    bad.s2 = &bad.s2 + &BigInt::one();
    assert!(bad.verify(&c, sk.public(), &ct, rp).is_err());
    let mut bad = proof;
    bad.s = BigInt::zero();
    assert!(bad.verify(&c, sk.public(), &ct, rp).is_err());
}

#[test]
fn bob_proof_tampered_is_caught() {
    let mut r = rng(10);
    let c = ctx(1, 2, b"k*gamma");
    let (a, b) = (scalar(101), scalar(102));
    let msg = alice_message(&mut r, &c, &a);
    let alice_seen_by_bob = peer(2, 1);
    let nonces = BobNonces::precompute(&mut r, &alice_seen_by_bob);
    let (reply, _beta) =
        bob_respond(&c, &node(2).0, &alice_seen_by_bob, &msg, &b, nonces, false).expect("Alice honest");
    let finish = |reply: &kms_protocols::gg18::mta::BobMessage| {
        alice_finish(&c, &node(1).0, &msg.ciphertext, reply, None)
    };
    let mut bad = reply.clone();
    bad.proof.t1 = &bad.proof.t1 + &BigInt::one();
    assert!(matches!(finish(&bad), Err(Fault::InvalidProof(_))));
    let mut bad = reply.clone();
    bad.proof.s1 = &bad.proof.s1 + &BigInt::one();
    assert!(matches!(finish(&bad), Err(Fault::InvalidProof(_))));
    // Bob changes his ciphertext after proving (adds to Alice's share).
    let mut bad = reply.clone();
    let pk = node(1).0.paillier().public();
    bad.ciphertext = pk.add(&bad.ciphertext, &Ciphertext(pk.gamma_pow(&BigInt::one())));
    assert!(matches!(finish(&bad), Err(Fault::InvalidProof(_))));
    // A ciphertext that is not a unit is refused before any proof work.
    let mut bad = reply;
    bad.ciphertext = Ciphertext(pk.n().clone());
    assert!(matches!(finish(&bad), Err(Fault::Malformed(_))));
}

#[test]
fn bob_multiplicand_out_of_range_is_caught() {
    let mut r = rng(11);
    let c = ctx(1, 2, b"k*gamma");
    let msg = alice_message(&mut r, &c, &scalar(111));
    let pk = node(1).0.paillier().public();
    let q = curve_order();
    let x = q.pow(4); // b far above q^3
    let y = BigInt::from_u64(5);
    // Bob's answer with a known nonce r = 1 (the cheating prover needs r).
    let c2 = pk.add(
        &pk.mul_sec(&msg.ciphertext, &x).expect("x >= 0"),
        &Ciphertext(pk.gamma_pow(&y)),
    );
    let st_known = BobStatement {
        pk,
        c1: &msg.ciphertext,
        c2: &c2,
        rp: node(1).0.ring_pedersen(),
        x_point: None,
    };
    let pre = BobProofPrecomputation::new(&mut r, pk, node(1).0.ring_pedersen(), y.clone());
    let proof = BobProof::prove(
        &c,
        &st_known,
        &BobWitness {
            x: &x,
            r: &BigInt::one(),
        },
        pre,
    );
    let err = proof.verify(&c, &st_known).unwrap_err();
    assert!(
        matches!(err, Fault::InvalidProof(ref m) if m.contains("s1 out of range")),
        "{err}"
    );
}

#[test]
fn received_points_must_be_on_curve_and_not_identity() {
    assert!(matches!(decode_point(&[0u8]), Err(Fault::InvalidElement(_))));
    assert!(decode_point(&[2u8; 33]).is_err() || decode_point(&[3u8; 33]).is_err());
    let mut bytes = encode_point(&ProjectivePoint::GENERATOR);
    assert!(decode_point(&bytes).is_ok());
    bytes.truncate(20);
    assert!(decode_point(&bytes).is_err());
    // x = 5 is not the x-coordinate of a secp256k1 point.
    let mut not_on_curve = vec![2u8];
    not_on_curve.extend_from_slice(&[0u8; 31]);
    not_on_curve.push(5);
    assert!(decode_point(&not_on_curve).is_err());
}

// ---------------------------------------------------------------- owner-side fast paths

#[test]
fn owner_fast_paths_agree_with_public_computation() {
    use kms_protocols::gg18::paillier::PaillierExp;
    use kms_protocols::gg18::ring_pedersen::CommitmentOpener;
    let mut r = rng(12);
    let (sec, _) = node(1);
    let rps = sec.ring_pedersen_secret();
    let rp = sec.ring_pedersen();
    let sk = sec.paillier();
    let pk = sk.public();
    for _ in 0..4 {
        let x = BigInt::random_bits(&mut r, 3000);
        let y = -&BigInt::random_bits(&mut r, 2500);
        assert_eq!(rps.open(&x, &y), rp.open(&x, &y));
        assert_eq!(rps.open(&y, &x), rp.open(&y, &x));
        let base = pk.n_modulus().random_unit(&mut r);
        assert_eq!(sk.pow_nn(&base, &x), pk.pow_nn(&base, &x));
        assert_eq!(sk.pow_nn(&base, &y), pk.pow_nn(&base, &y));
    }
}

#[test]
fn bob_proof_verifies_the_same_with_public_values_and_owner_secrets() {
    let mut r = rng(13);
    let c = ctx(1, 2, b"k*w");
    let msg = alice_message(&mut r, &c, &scalar(131));
    let alice = &node(1).0;
    let pk = alice.paillier().public();
    let b = scalar_to_bigint(&scalar(132));
    let y = BigInt::from_u64(7);
    let c2 = pk.add(
        &pk.mul_sec(&msg.ciphertext, &b).expect("b >= 0"),
        &Ciphertext(pk.gamma_pow(&y)),
    );
    let b_point = ProjectivePoint::GENERATOR * scalar(132);
    let public = BobStatement {
        pk,
        c1: &msg.ciphertext,
        c2: &c2,
        rp: alice.ring_pedersen(),
        x_point: Some(&b_point),
    };
    let owner = BobStatement {
        pk: alice.paillier(),
        c1: &msg.ciphertext,
        c2: &c2,
        rp: alice.ring_pedersen_secret(),
        x_point: Some(&b_point),
    };
    let wit = BobWitness {
        x: &b,
        r: &BigInt::one(),
    };
    let pre = BobProofPrecomputation::new(&mut r, pk, alice.ring_pedersen(), y.clone());
    let proof = BobProof::prove(&c, &public, &wit, pre);
    proof.verify(&c, &public).expect("public path");
    proof.verify(&c, &owner).expect("owner path");
    let mut bad = proof;
    bad.t2 = &bad.t2 + &BigInt::one();
    assert!(bad.verify(&c, &public).is_err());
    assert!(bad.verify(&c, &owner).is_err());
}

#[test]
fn one_checked_ciphertext_serves_mta_and_mtawc() {
    use kms_protocols::gg18::mta::{bob_answer, bob_check_alice};
    let mut r = rng(14);
    let c_k = ctx(1, 2, b"k");
    let (k, gamma, w) = (scalar(141), scalar(142), scalar(143));
    let msg = alice_message(&mut r, &c_k, &k);
    let alice_seen_by_bob = peer(2, 1);
    let checked = bob_check_alice(&c_k, &node(2).0, &alice_seen_by_bob, &msg).expect("honest");
    for (tag, b, check) in [(&b"k*gamma"[..], gamma, false), (&b"k*w"[..], w, true)] {
        let c = MtaContext { tag, ..c_k };
        let nonces = BobNonces::precompute(&mut r, &alice_seen_by_bob);
        let (reply, beta) = bob_answer(&c, &alice_seen_by_bob, &checked, &b, nonces, check).expect("answer");
        let bp = ProjectivePoint::GENERATOR * b;
        let alpha =
            alice_finish(&c, &node(1).0, &msg.ciphertext, &reply, check.then_some(&bp)).expect("Bob honest");
        assert_eq!(alpha + beta, k * b);
        // The answer is bound to its MtA: presented under the other tag it fails.
        let other = MtaContext { tag: b"other", ..c_k };
        assert!(alice_finish(&other, &node(1).0, &msg.ciphertext, &reply, check.then_some(&bp)).is_err());
    }
}

#[test]
fn aux_secret_survives_storage_round_trip() {
    use kms_protocols::gg18::aux_info::AuxSecretRecord;
    let (sec, public) = node(3);
    let json = serde_json::to_string(&sec.to_record()).expect("ser");
    let record: AuxSecretRecord = serde_json::from_str(&json).expect("de");
    assert!(format!("{record:?}").contains("redacted"));
    let back = AuxSecret::from_record(&record).expect("rebuild");
    // Same public material: the cached AuxPublic still matches, and it decrypts.
    assert_eq!(back.paillier().public(), sec.paillier().public());
    assert_eq!(back.ring_pedersen(), sec.ring_pedersen());
    assert_eq!(&public.paillier_n, back.paillier().public().n());
    let (c, _) = sec.paillier().encrypt(&mut rng(15), &BigInt::from_u64(42));
    assert_eq!(back.paillier().decrypt(&c), BigInt::from_u64(42));
    // A record with λ not invertible mod p'q' (here 0) is refused.
    let mut bad = record.clone();
    bad.lambda = BigInt::zero();
    assert!(AuxSecret::from_record(&bad).is_err());
}

#[test]
fn precomputed_alice_proof_end_to_end() {
    use kms_protocols::gg18::mta::alice_start_with;
    use kms_protocols::gg18::zk::mta_range::AliceProofPrecomputation;
    let mut r = rng(16);
    let c = ctx(1, 2, b"k*gamma");
    let (a, b) = (scalar(161), scalar(162));
    let bob = peer(1, 2);
    let pre = AliceProofPrecomputation::new(&mut r, node(1).0.paillier(), bob.ring_pedersen());
    let enc = AliceEncryption::new(&mut r, &node(1).0, &a);
    let msg = alice_start_with(&c, &node(1).0, &enc, &bob, pre);
    let alice_seen_by_bob = peer(2, 1);
    let nonces = BobNonces::precompute(&mut r, &alice_seen_by_bob);
    let (reply, beta) = bob_respond(&c, &node(2).0, &alice_seen_by_bob, &msg, &b, nonces, false).expect("ok");
    let alpha = alice_finish(&c, &node(1).0, &msg.ciphertext, &reply, None).expect("ok");
    assert_eq!(alpha + beta, a * b);
}
