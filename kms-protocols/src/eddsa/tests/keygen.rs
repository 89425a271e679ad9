//! Honest runs: DKG, signing with every signer set, refresh, epochs, determinism.

use super::*;
use crate::eddsa::group::Ed25519;
use crate::eddsa::public_key_bytes;
use crate::error::{Fault, ProtocolError};
use crate::group::Group;
use crate::key_share::KeyShare;

#[test]
fn dkg_2_of_3_then_every_signer_set_signs() {
    let mut rng = rng(1);
    let shares = dkg(2, 3, &mut rng);
    let pk = public_key_bytes(&shares[0]);
    for s in &shares {
        assert_eq!(public_key_bytes(s), pk);
        assert_eq!(s.public_shares(), shares[0].public_shares());
        assert_eq!(s.epoch(), 0);
        assert_eq!(s.threshold(), Threshold::new(2, 3).unwrap());
        assert_ne!(*s.public_key(), Ed25519::identity());
    }
    for set in [&[1, 2][..], &[1, 3], &[2, 3], &[1, 2, 3]] {
        let msg = format!("transfer for {set:?}");
        let sig = sign(&pick(&shares, set), msg.as_bytes(), &mut rng);
        assert!(verify(&pk, msg.as_bytes(), &sig), "signers {set:?}");
        // The same check, straight through ed25519-dalek.
        let key = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
        key.verify_strict(msg.as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
            .unwrap();
        assert!(!verify(&pk, b"another message", &sig));
    }
}

#[test]
fn signing_is_randomised_not_rfc8032_deterministic() {
    let mut rng = rng(2);
    let shares = dkg(2, 3, &mut rng);
    let a = sign(&pick(&shares, &[1, 2]), b"same", &mut rng);
    let b = sign(&pick(&shares, &[1, 2]), b"same", &mut rng);
    assert_ne!(a[..32], b[..32], "R repeated across signings");
    let pk = public_key_bytes(&shares[0]);
    assert!(verify(&pk, b"same", &a) && verify(&pk, b"same", &b));
}

#[test]
fn dkg_3_of_5_signs() {
    let mut rng = rng(3);
    let shares = dkg(3, 5, &mut rng);
    assert_eq!(shares.len(), 5);
    let pk = public_key_bytes(&shares[0]);
    assert!(shares.iter().all(|s| public_key_bytes(s) == pk));
    for set in [&[1, 2, 3][..], &[1, 3, 5], &[2, 4, 5], &[1, 2, 3, 4, 5]] {
        let sig = sign(&pick(&shares, set), b"3 of 5", &mut rng);
        assert!(verify(&pk, b"3 of 5", &sig), "signers {set:?}");
    }
}

#[test]
fn refresh_keeps_the_key_rotates_shares_and_new_shares_sign() {
    let mut rng = rng(4);
    let old = dkg(2, 3, &mut rng);
    let pk = public_key_bytes(&old[0]);
    let new = refresh(old.clone(), &mut rng);
    assert_eq!(new.len(), 3);
    for (o, n) in old.iter().zip(&new) {
        assert_eq!(o.index(), n.index());
        assert_eq!(public_key_bytes(n), pk);
        assert_eq!(n.epoch(), 1);
        assert_ne!(o.secret(), n.secret(), "{} kept its share", n.index());
        assert_ne!(o.public_shares()[&o.index()], n.public_shares()[&n.index()]);
        assert_eq!(n.public_shares(), new[0].public_shares());
    }
    for set in [&[1, 2][..], &[1, 3], &[2, 3], &[1, 2, 3]] {
        let sig = sign(&pick(&new, set), b"after refresh", &mut rng);
        assert!(verify(&pk, b"after refresh", &sig), "signers {set:?}");
    }
    let newer = refresh(new, &mut rng);
    assert!(newer.iter().all(|s| s.epoch() == 2 && public_key_bytes(s) == pk));
    let sig = sign(&pick(&newer, &[3, 1]), b"twice", &mut rng);
    assert!(verify(&pk, b"twice", &sig));
}

#[test]
fn shares_of_different_epochs_never_sign_together() {
    let mut rng = rng(5);
    let old = dkg(2, 3, &mut rng);
    let new = refresh(old.clone(), &mut rng);
    let mut net = signing_network(&[&old[0], &new[1]], b"mixed", &mut rng);
    net.run(&mut rng);
    assert!(net.outputs().is_empty());
    // Each side names the other: P1 (epoch 0) blames P2 (epoch 1) and the converse.
    for (me, other, theirs) in [(1, 2, 1), (2, 1, 0)] {
        let err = &net.errors()[&p(me)];
        assert_eq!(err.blamed(), Some(p(other)));
        match err.fault() {
            Some(Fault::Other(m)) => assert!(m.contains(&format!("epoch {theirs}")), "{m}"),
            f => panic!("unexpected fault {f:?}"),
        }
    }
}

#[test]
fn signer_sets_are_validated_locally() {
    let mut rng = rng(6);
    let shares = dkg(2, 3, &mut rng);
    let session = SessionId::random(&mut rng);
    for bad in [&[1][..], &[1, 1], &[2, 3], &[1, 4], &[], &[1, 2, 2]] {
        let err = start_sign(session, &shares[0], &parties(bad), b"m", &mut rng).unwrap_err();
        assert!(
            matches!(err, ProtocolError::InvalidParameters(_)),
            "{bad:?}: {err:?}"
        );
    }
    // Order does not matter.
    let (run, _) = start_sign(session, &shares[0], &parties(&[3, 1]), b"m", &mut rng).unwrap();
    assert_eq!(run.signers(), &parties(&[1, 3])[..]);
}

#[test]
fn seeded_runs_are_deterministic() {
    fn full_run(seed: u8) -> ([u8; 32], [u8; 64], Vec<u8>) {
        let mut rng = rng(seed);
        let shares = dkg(2, 3, &mut rng);
        let sig = sign(&pick(&shares, &[1, 3]), b"seeded", &mut rng);
        let stored = shares[1].to_bytes().to_vec();
        (public_key_bytes(&shares[0]), sig, stored)
    }
    let a = full_run(42);
    let b = full_run(42);
    assert_eq!(a, b);
    assert!(verify(&a.0, b"seeded", &a.1));
    let c = full_run(43);
    assert_ne!(a.0, c.0);
    assert_ne!(a.1, c.1);
}

#[test]
fn key_shares_survive_storage() {
    let mut rng = rng(7);
    let shares = dkg(2, 3, &mut rng);
    let restored: Vec<EddsaKeyShare> = shares
        .iter()
        .map(|s| KeyShare::from_bytes(&s.to_bytes()).unwrap())
        .collect();
    for (a, b) in shares.iter().zip(&restored) {
        assert_eq!(a.secret(), b.secret());
        assert_eq!(a.public_shares(), b.public_shares());
    }
    let sig = sign(&pick(&restored, &[2, 3]), b"restored", &mut rng);
    assert!(verify(&public_key_bytes(&shares[0]), b"restored", &sig));
    assert!(format!("{:?}", shares[0]).contains("<redacted>"));
}
