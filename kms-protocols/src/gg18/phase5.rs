//! The proofs and commitments of GG18 signing phases 4 and 5.

use super::secp256k1::{decode_point, encode_point, Secp256k1};
use crate::error::Fault;
use crate::group::{decode_scalar, Group};
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// A hash commitment to a list of points, bound to the session, the committing party
/// and what is committed (`domain`).
pub(crate) fn commit_points(
    domain: &'static [u8],
    session: &SessionId,
    party: PartyIndex,
    extra: &[u8],
    points: &[Vec<u8>],
    blind: &[u8; 32],
) -> [u8; 32] {
    let mut t = Transcript::for_proof(domain, session, party);
    t.append(b"extra", extra);
    t.append_u64(b"len", points.len() as u64);
    for p in points {
        t.append(b"point", p);
    }
    t.append(b"blind", blind);
    let c = t.challenge(b"commitment");
    let mut out = [0u8; 32];
    out.copy_from_slice(&c[..32]);
    out
}

#[allow(clippy::too_many_arguments)]
/// Check a decommitment and decode its points (each on the curve, not the identity).
pub(crate) fn open_points(
    domain: &'static [u8],
    session: &SessionId,
    party: PartyIndex,
    extra: &[u8],
    commitment: &[u8; 32],
    points: &[Vec<u8>],
    blind: &[u8; 32],
    expected_len: usize,
) -> Result<Vec<ProjectivePoint>, Fault> {
    if points.len() != expected_len {
        return Err(Fault::BadDecommitment);
    }
    let opened = commit_points(domain, session, party, extra, points, blind);
    if !bool::from(opened.ct_eq(commitment)) {
        return Err(Fault::BadDecommitment);
    }
    points
        .iter()
        .enumerate()
        .map(|(k, b)| decode_point(b, &format!("decommitted point {k}")))
        .collect()
}

/// Phase 5B: proof of knowledge of (s, l, rho) with V = s * R + l * G and A = rho * G.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Phase5bProof {
    alpha_v: Vec<u8>,
    alpha_a: Vec<u8>,
    z_s: Vec<u8>,
    z_l: Vec<u8>,
    z_rho: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
fn phase5b_challenge(
    session: &SessionId,
    prover: PartyIndex,
    extra: &[u8],
    big_r: &ProjectivePoint,
    v: &ProjectivePoint,
    a: &ProjectivePoint,
    alpha_v: &ProjectivePoint,
    alpha_a: &ProjectivePoint,
) -> Scalar {
    let mut t = Transcript::for_proof(b"gg18-sign-phase5b", session, prover);
    t.append(b"extra", extra);
    t.append(b"G", &encode_point(&ProjectivePoint::GENERATOR));
    t.append(b"R", &encode_point(big_r));
    t.append(b"V", &encode_point(v));
    t.append(b"A", &encode_point(a));
    t.append(b"alpha_v", &encode_point(alpha_v));
    t.append(b"alpha_a", &encode_point(alpha_a));
    Secp256k1::challenge(&mut t, b"e")
}

impl Phase5bProof {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn prove<R: RngCore + CryptoRng>(
        session: &SessionId,
        prover: PartyIndex,
        extra: &[u8],
        big_r: &ProjectivePoint,
        s: &Scalar,
        l: &Scalar,
        rho: &Scalar,
        v: &ProjectivePoint,
        a: &ProjectivePoint,
        rng: &mut R,
    ) -> Self {
        let mut ks = Secp256k1::random_scalar(rng);
        let mut kl = Secp256k1::random_scalar(rng);
        let mut kr = Secp256k1::random_scalar(rng);
        let alpha_v = *big_r * ks + Secp256k1::mul_base(&kl);
        let alpha_a = Secp256k1::mul_base(&kr);
        let e = phase5b_challenge(session, prover, extra, big_r, v, a, &alpha_v, &alpha_a);
        let proof = Self {
            alpha_v: encode_point(&alpha_v),
            alpha_a: encode_point(&alpha_a),
            z_s: Secp256k1::scalar_to_bytes(&(ks + e * s)),
            z_l: Secp256k1::scalar_to_bytes(&(kl + e * l)),
            z_rho: Secp256k1::scalar_to_bytes(&(kr + e * rho)),
        };
        ks.zeroize();
        kl.zeroize();
        kr.zeroize();
        proof
    }

    /// Break the proof (for the tests that play a cheating prover).
    #[cfg(test)]
    pub(crate) fn tamper_for_test(&mut self) {
        self.z_l = self.z_s.clone();
    }

    pub(crate) fn verify(
        &self,
        session: &SessionId,
        prover: PartyIndex,
        extra: &[u8],
        big_r: &ProjectivePoint,
        v: &ProjectivePoint,
        a: &ProjectivePoint,
    ) -> Result<(), Fault> {
        let alpha_v = decode_point(&self.alpha_v, "phase 5B proof")?;
        let alpha_a = decode_point(&self.alpha_a, "phase 5B proof")?;
        let z_s = decode_scalar::<Secp256k1>(&self.z_s, "phase 5B proof")?;
        let z_l = decode_scalar::<Secp256k1>(&self.z_l, "phase 5B proof")?;
        let z_rho = decode_scalar::<Secp256k1>(&self.z_rho, "phase 5B proof")?;
        let e = phase5b_challenge(session, prover, extra, big_r, v, a, &alpha_v, &alpha_a);
        let ok_v = *big_r * z_s + Secp256k1::mul_base(&z_l) == alpha_v + *v * e;
        let ok_a = Secp256k1::mul_base(&z_rho) == alpha_a + *a * e;
        if ok_v && ok_a {
            Ok(())
        } else {
            Err(Fault::InvalidProof(
                "phase 5B proof of knowledge of (s_i, l_i, rho_i)".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn phase5b_proof_verifies_and_binds() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let session = SessionId([9; 32]);
        let p = PartyIndex::new(2).unwrap();
        let big_r = Secp256k1::mul_base(&Secp256k1::random_scalar(&mut rng));
        let (s, l, rho) = (
            Secp256k1::random_scalar(&mut rng),
            Secp256k1::random_scalar(&mut rng),
            Secp256k1::random_scalar(&mut rng),
        );
        let v = big_r * s + Secp256k1::mul_base(&l);
        let a = Secp256k1::mul_base(&rho);
        let proof = Phase5bProof::prove(&session, p, b"x", &big_r, &s, &l, &rho, &v, &a, &mut rng);
        proof.verify(&session, p, b"x", &big_r, &v, &a).unwrap();
        let other = PartyIndex::new(3).unwrap();
        assert!(proof.verify(&session, other, b"x", &big_r, &v, &a).is_err());
        assert!(proof.verify(&session, p, b"y", &big_r, &v, &a).is_err());
        let wrong_v = v + ProjectivePoint::GENERATOR;
        assert!(proof.verify(&session, p, b"x", &big_r, &wrong_v, &a).is_err());
    }

    #[test]
    fn commitments_open_only_to_their_points() {
        let session = SessionId([1; 32]);
        let p = PartyIndex::new(1).unwrap();
        let pts = vec![encode_point(&ProjectivePoint::GENERATOR)];
        let blind = [5u8; 32];
        let c = commit_points(b"d", &session, p, b"", &pts, &blind);
        assert!(open_points(b"d", &session, p, b"", &c, &pts, &blind, 1).is_ok());
        assert_eq!(
            open_points(b"d", &session, p, b"", &c, &pts, &[6u8; 32], 1),
            Err(Fault::BadDecommitment)
        );
        let two = encode_point(&(ProjectivePoint::GENERATOR + ProjectivePoint::GENERATOR));
        assert_eq!(
            open_points(b"d", &session, p, b"", &c, &[two], &blind, 1),
            Err(Fault::BadDecommitment)
        );
    }
}
