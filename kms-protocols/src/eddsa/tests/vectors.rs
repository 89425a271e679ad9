//! Known-answer tests: RFC 9591 Appendix E.1 (FROST(Ed25519, SHA-512)) and RFC 8032
//! section 7.1 (the verifier).

use super::*;
use crate::eddsa::group::{point_from_bytes, point_to_bytes, Ed25519};
use crate::eddsa::sign::{
    binding_factor_prefix, binding_factors, nonce_generate, start_sign_with_randomness, CommitmentList,
    NonceCommitment,
};
use crate::group::Group;
use crate::key_share::KeyShare;
use crate::message::Recipient;
use crate::vss::lagrange_at_zero;
use curve25519_dalek::{EdwardsPoint, Scalar};
use std::cell::RefCell;
use std::collections::BTreeMap;

// RFC 9591, Appendix E.1. The group secret key of the vector is deliberately not used:
// only the participant shares enter the protocol.
const GROUP_PUBLIC_KEY: &str = "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673";
const MESSAGE: &str = "74657374";
const PARTICIPANT_SHARES: [&str; 3] = [
    "929dcc590407aae7d388761cddb0c0db6f5627aea8e217f4a033f2ec83d93509",
    "a91e66e012e4364ac9aaa405fcafd370402d9859f7b6685c07eed76bf409e80d",
    "d3cb090a075eb154e82fdb4b3cb507f110040905468bb9c46da8bdea643a9a02",
];
const FINAL_SIGNATURE: &str = "154fb694ee7fcb37bf2381d94488c2a84b03b3352ad085feca81ad26d45852b7\
                               ecfe971ce4da95c4a95db93ac376b053897fca212ef85f99cf696bffeb178f07";
const BINDING_FACTOR_PREFIX: &str = "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673\
     504df914fa965023fb75c25ded4bb260f417de6d32e5c442c6ba313791cc9a49\
     48d6273e8d3511f93348ea7a708a9b862bc73ba2a79cfdfe07729a193751cbc9\
     3df7739fd1223d8697dfc21b1679435bafda1f92815944f28d2faf21ded33ae9\
     4a16100090ae7d83555c9b2d961e3d5d1b62828e8cb58a88a73cda404f8f725a";

struct Signer {
    id: u16,
    hiding_randomness: &'static str,
    binding_randomness: &'static str,
    hiding_nonce: &'static str,
    binding_nonce: &'static str,
    hiding_commitment: &'static str,
    binding_commitment: &'static str,
    binding_factor: &'static str,
    sig_share: &'static str,
}

const SIGNERS: [Signer; 2] = [
    Signer {
        id: 1,
        hiding_randomness: "06894e04ee4aceec8619d5f6a0a180e2f47194d2ac306cba586b555e7c48d765",
        binding_randomness: "40d6f879ff22e22409f7d808fed81f37118e7d3e4af71c0f44c60207553bcbce",
        hiding_nonce: "ef6599dea4010581a72b3018c37c29a4341d7cab0773e8687ca74dcf14009701",
        binding_nonce: "2baadfa0c69aa60d517ad4751de372a73f9d89cfc39026601f18458cdec12605",
        hiding_commitment: "9b116f12589591a7e23fe8048059ab10ab48e67739e7a2fb3890f61a7999478c",
        binding_commitment: "c39b66b7dfccb122da24f13587f9a08c4347cae70046ca15169adf90ba65854d",
        binding_factor: "ff960a65374e216a0918729b153466016664fa980d409bc3f308daa7acb30d0d",
        sig_share: "60997f0142e43e8005027fe5ab7447dac00d22c2d7ddd9571a02613ba7d81c08",
    },
    Signer {
        id: 3,
        hiding_randomness: "fa5d950626782aade9e33fa781376d4888c2d1de7c37518bc248eb818ed0cdde",
        binding_randomness: "7459a4d14ded0e365b085271be8dc6600d5b88f3978a2174297ffa32001a5afc",
        hiding_nonce: "80f8d9a4b8f9366e1a0b618107c907cd3ee29fa9bb40b4691cc1bde696240005",
        binding_nonce: "2610b664a5a187b4855e87d2ff485bebdf043dc2f161fcd4854cd01dc0276404",
        hiding_commitment: "e679a2a971748ccfaabead4dbe8ac1def61275c186c79d471e1e45091ad1e687",
        binding_commitment: "b2a942478453fabb6bd3181c56ba657413447b4136e1daea2484d396d1a516b3",
        binding_factor: "279d48ec56f16d234c09ea62f3d02ab776ee38e03f66b20f939f1316e13df10f",
        sig_share: "79390e78bc59699c7af831f8f5fb478ec871a85f561a8641b5670ac4443f720f",
    },
];

fn bytes32(h: &str) -> [u8; 32] {
    hex::decode(h).unwrap().try_into().unwrap()
}

fn bytes64(h: &str) -> [u8; 64] {
    hex::decode(h).unwrap().try_into().unwrap()
}

fn scalar(h: &str) -> Scalar {
    Ed25519::scalar_from_bytes(&bytes32(h)).expect("canonical vector scalar")
}

fn point(h: &str) -> EdwardsPoint {
    point_from_bytes(&bytes32(h)).expect("valid vector point")
}

/// The vector's (2, 3) key shares, built from the participant shares and their public
/// shares X_i = x_i G.
fn vector_shares() -> Vec<EddsaKeyShare> {
    let secrets: Vec<Scalar> = PARTICIPANT_SHARES.iter().map(|h| scalar(h)).collect();
    let public_shares: BTreeMap<PartyIndex, EdwardsPoint> = secrets
        .iter()
        .enumerate()
        .map(|(i, x)| (p(i as u16 + 1), Ed25519::mul_base(x)))
        .collect();
    let threshold = Threshold::new(2, 3).unwrap();
    secrets
        .iter()
        .enumerate()
        .map(|(i, x)| {
            KeyShare::new(
                threshold,
                p(i as u16 + 1),
                *x,
                point(GROUP_PUBLIC_KEY),
                public_shares.clone(),
                0,
            )
            .unwrap()
        })
        .collect()
}

#[test]
fn rfc9591_vector_shares_interpolate_to_the_group_key() {
    // Checked in the exponent: the secret is never reassembled.
    let shares = vector_shares();
    let x = shares[0].public_shares();
    for set in [[1, 2], [1, 3], [2, 3]] {
        let set = parties(&set);
        let pk = set.iter().fold(Ed25519::identity(), |acc, i| {
            acc + x[i] * lagrange_at_zero::<Ed25519>(*i, &set).unwrap()
        });
        assert_eq!(point_to_bytes(&pk), bytes32(GROUP_PUBLIC_KEY));
    }
}

#[test]
fn rfc9591_nonces_commitments_and_binding_factors() {
    let shares = vector_shares();
    let pk = point(GROUP_PUBLIC_KEY);
    let msg = hex::decode(MESSAGE).unwrap();
    let mut list = CommitmentList::new();
    for s in &SIGNERS {
        let secret = shares[usize::from(s.id) - 1].secret();
        let hiding = nonce_generate(&bytes32(s.hiding_randomness), secret);
        let binding = nonce_generate(&bytes32(s.binding_randomness), secret);
        assert_eq!(
            hex::encode(hiding.to_bytes()),
            s.hiding_nonce,
            "P{} hiding nonce",
            s.id
        );
        assert_eq!(
            hex::encode(binding.to_bytes()),
            s.binding_nonce,
            "P{} binding nonce",
            s.id
        );
        let d = Ed25519::mul_base(&hiding);
        let e = Ed25519::mul_base(&binding);
        assert_eq!(
            hex::encode(point_to_bytes(&d)),
            s.hiding_commitment,
            "P{} D",
            s.id
        );
        assert_eq!(
            hex::encode(point_to_bytes(&e)),
            s.binding_commitment,
            "P{} E",
            s.id
        );
        list.insert(
            p(s.id),
            NonceCommitment {
                hiding: d,
                binding: e,
            },
        );
    }
    // binding_factor_input = prefix || SerializeScalar(identifier), as in the vector.
    let prefix = binding_factor_prefix(&pk, &list, &msg);
    assert_eq!(hex::encode(&prefix), BINDING_FACTOR_PREFIX);
    let factors = binding_factors(&pk, &list, &msg);
    assert_eq!(factors.len(), 2);
    for s in &SIGNERS {
        assert_eq!(
            hex::encode(factors[&p(s.id)].to_bytes()),
            s.binding_factor,
            "P{} binding factor",
            s.id
        );
    }
}

#[test]
fn rfc9591_signing_run_reproduces_the_vector() {
    let shares = vector_shares();
    let msg = hex::decode(MESSAGE).unwrap();
    let signers = parties(&[1, 3]);
    let session = SessionId::derive(b"rfc9591 e.1");
    let mut starts = Vec::new();
    for s in &SIGNERS {
        let (run, first) = start_sign_with_randomness(
            session,
            &shares[usize::from(s.id) - 1],
            &signers,
            &msg,
            &bytes32(s.hiding_randomness),
            &bytes32(s.binding_randomness),
        )
        .unwrap();
        // Round 1 carries exactly the vector's commitments.
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].recipient, Recipient::All);
        let r1: SignRound1 = decode_payload(&first[0].payload).unwrap();
        assert_eq!(hex::encode(r1.hiding), s.hiding_commitment);
        assert_eq!(hex::encode(r1.binding), s.binding_commitment);
        assert_eq!(r1.epoch, 0);
        starts.push((run, first));
    }
    let seen_shares = RefCell::new(BTreeMap::new());
    let mut net = Network::new(starts);
    let mut rng = rng(0);
    net.run_with(&mut rng, |_, env| {
        if env.round == 2 {
            let r2: SignRound2 = decode_payload(&env.payload).unwrap();
            seen_shares.borrow_mut().insert(env.sender, r2.share);
        }
        Some(env)
    });
    assert!(net.errors().is_empty(), "{:?}", net.errors());
    let seen_shares = seen_shares.into_inner();
    for s in &SIGNERS {
        assert_eq!(
            hex::encode(seen_shares[&p(s.id)]),
            s.sig_share,
            "P{} signature share",
            s.id
        );
    }
    let outputs = net.into_outputs();
    assert_eq!(outputs.len(), 2);
    for sig in outputs.values() {
        assert_eq!(hex::encode(sig), FINAL_SIGNATURE);
        assert!(verify(&bytes32(GROUP_PUBLIC_KEY), &msg, sig));
    }
    assert_eq!(outputs[&p(1)], bytes64(FINAL_SIGNATURE));
}

/// RFC 8032, section 7.1, TEST 1 and TEST 2: (secret, public, message, signature).
const RFC8032: [(&str, &str, &str, &str); 2] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
];

#[test]
fn rfc8032_vectors_pass_the_verifier() {
    use ed25519_dalek::{Signer as _, SigningKey};
    for (secret, public, msg, sig) in RFC8032 {
        let msg = hex::decode(msg).unwrap();
        let public = bytes32(public);
        let sig = bytes64(sig);
        // Single-party RFC 8032 signing, only to confirm the vector and the wiring of
        // `verify`; the threshold protocol never holds a whole key.
        let key = SigningKey::from_bytes(&bytes32(secret));
        assert_eq!(key.verifying_key().to_bytes(), public);
        assert_eq!(key.sign(&msg).to_bytes(), sig);

        assert!(verify(&public, &msg, &sig));
        let mut wrong_msg = msg.clone();
        wrong_msg.push(0);
        assert!(!verify(&public, &wrong_msg, &sig));
        for i in [0, 31, 32, 63] {
            let mut bad = sig;
            bad[i] ^= 1;
            assert!(!verify(&public, &msg, &bad), "flipped byte {i}");
        }
        // S + l is the same scalar, but not canonical: strict verification refuses it.
        let s_plus_l = plus_order(sig[32..].try_into().unwrap());
        let mut malleated = sig;
        malleated[32..].copy_from_slice(&s_plus_l);
        assert!(!verify(&public, &msg, &malleated));
    }
}

#[test]
fn verifier_refuses_small_order_and_invalid_keys() {
    let (_, public, msg, sig) = RFC8032[1];
    let msg = hex::decode(msg).unwrap();
    let sig = bytes64(sig);
    assert!(verify(&bytes32(public), &msg, &sig));
    // The identity (y = 1) as public key, with R = identity and S = 0, satisfies the
    // cofactorless equation for every message; strict verification refuses it.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut trivial = [0u8; 64];
    trivial[0] = 1;
    assert!(!verify(&identity, &msg, &trivial));
    // A y that is not on the curve.
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    assert!(curve25519_dalek::edwards::CompressedEdwardsY(off_curve)
        .decompress()
        .is_none());
    assert!(!verify(&off_curve, &msg, &sig));
}
