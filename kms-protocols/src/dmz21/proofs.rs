//! The promise Σ-protocols of DMZ21, non-interactive by Fiat-Shamir over the project's
//! [`Transcript`], each with a 128-bit challenge (one run, no repetition).
//!
//! In a group of unknown order a Σ-protocol with a large challenge does not extract a
//! witness outright: from two accepting transcripts one only learns `X^(e-e') =
//! g^(z-z')`, so `X` is a valid statement up to an element whose order divides `e -
//! e' < 2^128`. DMZ21 calls this *promise* extractability and builds the protocol so
//! that it suffices: the signing MtA masks every exponent it applies to a peer's
//! ciphertext (see [`super::presign`]) so that such a low-order part reveals nothing.
//!
//! Integer responses `z = s + e·w` use masks `s` uniform below `W·2^(128+40)` for a
//! witness below `W`, so `z` hides `w` within statistical distance `2^-40`; verifiers
//! reject any `z` above `W·(2^(128+40) + 2^128)`. Proofs are sent in compact form `(e,
//! z…)`: the verifier recomputes the commitments and checks that they hash to `e`,
//! which saves two class-group elements (590 bytes) per proof.
//!
//! - [`ClKeyProof`]: a CL public key is `pk = pk̂^q` with knowledge of `x` such that
//!   `pk̂ = ĥ^x` (and so `pk = h^x`, since `ĥ^q = h`). The `q`-th power puts `pk` in
//!   the subgroup of `q`-th powers: it has no component in `F`, so nobody can publish a
//!   key that shifts the plaintexts encrypted to it.
//! - [`EncProof`]: a CL ciphertext `(c1, c2) = (h^r, f^k·pk^r)` encrypts the same `k`
//!   as an EC-ElGamal ciphertext `(E1, E2) = (ρ·G, k·G + ρ·Y)` under the prover's own
//!   EC key `Y`: the "promise ciphertext" of signing round 1.

use crate::class_group::cl_hsm::{ClParams, PublicKey, DISTANCE_BITS};
use crate::class_group::QuadForm;
use crate::error::Fault;
use crate::gg18::bigint::BigInt;
use crate::gg18::mta::{bigint_to_scalar, scalar_to_bigint};
use crate::gg18::secp256k1::{encode_point, Secp256k1};
use crate::group::{decode_scalar, Group};
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Bits of every challenge.
pub const CHALLENGE_BITS: usize = 128;

/// Bits by which a mask exceeds `witness bound · 2^CHALLENGE_BITS`.
pub const MASK_SLACK_BITS: usize = DISTANCE_BITS;

/// The bound of a mask for witnesses below `w_bound`: `w_bound·2^(128+40)`.
fn mask_bound(w_bound: &BigInt) -> BigInt {
    w_bound.shl(CHALLENGE_BITS + MASK_SLACK_BITS)
}

/// The largest response an honest prover can make for witnesses below `w_bound`.
pub(crate) fn response_bound(w_bound: &BigInt) -> BigInt {
    mask_bound(w_bound) + w_bound.shl(CHALLENGE_BITS)
}

/// The 128-bit challenge of a transcript, as bytes.
fn challenge(t: &mut Transcript) -> [u8; 16] {
    let c = t.challenge(b"promise-sigma-challenge");
    let mut e = [0u8; 16];
    e.copy_from_slice(&c[..16]);
    e
}

/// A non-negative integer response, decoded and checked against its bound.
fn decode_response(bytes: &[u8], bound: &BigInt, what: &str) -> Result<BigInt, Fault> {
    let max_len = bound.bits().div_ceil(8);
    if bytes.len() > max_len || bytes.first() == Some(&0) {
        return Err(Fault::InvalidProof(format!(
            "{what}: not a canonical integer below its bound"
        )));
    }
    let z = BigInt::from_bytes_be(bytes);
    if z > *bound {
        return Err(Fault::InvalidProof(format!("{what}: response above its bound")));
    }
    Ok(z)
}

fn encode_response(z: &BigInt) -> Vec<u8> {
    if z.is_zero() {
        Vec::new()
    } else {
        z.to_bytes_be()
    }
}

fn check_challenge(expected: &[u8; 16], got: &[u8; 16], what: &str) -> Result<(), Fault> {
    if bool::from(expected.ct_eq(got)) {
        Ok(())
    } else {
        Err(Fault::InvalidProof(what.into()))
    }
}

/// The public statement of a [`ClKeyProof`]: `pk̂` and `pk = pk̂^q`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClKeyStatement {
    /// `pk̂ = ĥ^x`.
    pub pk_hat: QuadForm,
    /// `pk = pk̂^q = h^x`, the encryption key.
    pub pk: QuadForm,
}

impl ClKeyStatement {
    /// The statement for secret key `x`.
    pub fn for_secret(params: &ClParams, x: &BigInt) -> Self {
        let pk_hat = params.group().pow(params.h_hat(), x);
        let pk = params.group().pow(&pk_hat, params.q());
        Self { pk_hat, pk }
    }

    fn absorb(&self, params: &ClParams, t: &mut Transcript) {
        let g = params.group();
        t.append(b"discriminant", &g.discriminant().to_bytes_be());
        t.append(b"h-hat", &g.encode(params.h_hat()));
        t.append(b"pk-hat", &g.encode(&self.pk_hat));
        t.append(b"pk", &g.encode(&self.pk));
    }
}

/// Proof of knowledge of `x < B` with `pk̂ = ĥ^x`, for a key with `pk = pk̂^q`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClKeyProof {
    /// The challenge `e` (128 bits).
    pub(crate) e: [u8; 16],
    /// `z = s + e·x`, big-endian.
    pub(crate) z: Vec<u8>,
}

impl ClKeyProof {
    /// Prove for secret key `x` (below the parameters' exponent bound).
    pub fn prove<R: RngCore + CryptoRng>(
        params: &ClParams,
        statement: &ClKeyStatement,
        x: &BigInt,
        session: &SessionId,
        prover: PartyIndex,
        rng: &mut R,
    ) -> Self {
        let mut s = BigInt::random_below(rng, &mask_bound(params.exponent_bound()));
        let commitment = params.group().pow(params.h_hat(), &s);
        let e = Self::challenge(params, statement, &commitment, session, prover);
        let z = &s + &(BigInt::from_bytes_be(&e) * x);
        zeroize::Zeroize::zeroize(&mut s);
        Self {
            e,
            z: encode_response(&z),
        }
    }

    fn challenge(
        params: &ClParams,
        statement: &ClKeyStatement,
        commitment: &QuadForm,
        session: &SessionId,
        prover: PartyIndex,
    ) -> [u8; 16] {
        let mut t = Transcript::for_proof(b"dmz21/cl-key-proof", session, prover);
        statement.absorb(params, &mut t);
        t.append(b"commitment", &params.group().encode(commitment));
        challenge(&mut t)
    }

    /// Verify: the promise relation `pk = pk̂^q` and the proof of knowledge.
    pub fn verify(
        &self,
        params: &ClParams,
        statement: &ClKeyStatement,
        session: &SessionId,
        prover: PartyIndex,
    ) -> Result<(), Fault> {
        let g = params.group();
        if g.is_identity(&statement.pk) {
            return Err(Fault::InvalidElement("CL public key is the identity".into()));
        }
        if g.pow(&statement.pk_hat, params.q()) != statement.pk {
            return Err(Fault::InvalidProof("CL public key: pk != pk_hat^q".into()));
        }
        let z = decode_response(&self.z, &response_bound(params.exponent_bound()), "CL key proof")?;
        let neg_e = -&BigInt::from_bytes_be(&self.e);
        let commitment = g.pow2(params.h_hat(), &z, &statement.pk_hat, &neg_e);
        let e = Self::challenge(params, statement, &commitment, session, prover);
        check_challenge(&e, &self.e, "CL key proof of knowledge")
    }
}

/// The public statement of an [`EncProof`].
#[derive(Clone, Debug)]
pub struct EncStatement<'a> {
    /// The prover's CL public key.
    pub pk: &'a PublicKey,
    /// `c1 = h^r`.
    pub c1: &'a QuadForm,
    /// `c2 = f^k·pk^r`.
    pub c2: &'a QuadForm,
    /// The prover's EC-ElGamal key `Y`.
    pub y: &'a ProjectivePoint,
    /// `E1 = ρ·G`.
    pub e1: &'a ProjectivePoint,
    /// `E2 = k·G + ρ·Y`.
    pub e2: &'a ProjectivePoint,
    /// Everything else the proof is bound to (the signing run's context).
    pub context: &'a [u8],
}

impl EncStatement<'_> {
    fn absorb(&self, params: &ClParams, t: &mut Transcript) {
        let g = params.group();
        t.append(b"discriminant", &g.discriminant().to_bytes_be());
        t.append(b"context", self.context);
        t.append(b"pk", &g.encode(self.pk.form()));
        t.append(b"c1", &g.encode(self.c1));
        t.append(b"c2", &g.encode(self.c2));
        t.append(b"y", &encode_point(self.y));
        t.append(b"e1", &encode_point(self.e1));
        t.append(b"e2", &encode_point(self.e2));
    }
}

/// The witness of an [`EncProof`]: CL randomness `r < B`, the scalar `k` and the
/// ElGamal randomness `ρ`. Borrowed; the caller owns (and zeroizes) them.
pub struct EncWitness<'a> {
    /// CL encryption randomness.
    pub r: &'a BigInt,
    /// The encrypted scalar.
    pub k: &'a Scalar,
    /// EC-ElGamal randomness.
    pub rho: &'a Scalar,
}

/// Proof that a CL ciphertext and an EC-ElGamal ciphertext encrypt the same scalar
/// (the promise proof of signing round 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncProof {
    pub(crate) e: [u8; 16],
    /// `z_r = s_r + e·r` (integer), big-endian.
    pub(crate) z_r: Vec<u8>,
    /// `z_k = s_k + e·k mod q`.
    pub(crate) z_k: Vec<u8>,
    /// `z_ρ = s_ρ + e·ρ mod q`.
    pub(crate) z_rho: Vec<u8>,
}

/// The four commitments of an [`EncProof`].
struct EncCommitments {
    t1: QuadForm,
    t2: QuadForm,
    a1: ProjectivePoint,
    a2: ProjectivePoint,
}

impl EncProof {
    /// Prove the statement with its witness.
    pub fn prove<R: RngCore + CryptoRng>(
        params: &ClParams,
        st: &EncStatement<'_>,
        w: &EncWitness<'_>,
        session: &SessionId,
        prover: PartyIndex,
        rng: &mut R,
    ) -> Self {
        let g = params.group();
        let mut s_r = BigInt::random_below(rng, &mask_bound(params.exponent_bound()));
        let s_k = Secp256k1::random_scalar(rng);
        let s_rho = Secp256k1::random_scalar(rng);
        // Through the key's table when it has one (every key proven at key generation).
        let pk_sr = st.pk.pow(params, &s_r);
        let com = EncCommitments {
            t1: params.h_pow(&s_r),
            t2: g.compose(&params.f_pow(&scalar_to_bigint(&s_k)), &pk_sr),
            a1: Secp256k1::mul_base(&s_rho),
            a2: Secp256k1::mul_base(&s_k) + *st.y * s_rho,
        };
        let e = Self::challenge(params, st, &com, session, prover);
        let e_int = BigInt::from_bytes_be(&e);
        let e_sc = bigint_to_scalar(&e_int);
        let z_r = &s_r + &(&e_int * w.r);
        zeroize::Zeroize::zeroize(&mut s_r);
        let z_k = s_k + e_sc * w.k;
        let z_rho = s_rho + e_sc * w.rho;
        Self {
            e,
            z_r: encode_response(&z_r),
            z_k: Secp256k1::scalar_to_bytes(&z_k),
            z_rho: Secp256k1::scalar_to_bytes(&z_rho),
        }
    }

    fn challenge(
        params: &ClParams,
        st: &EncStatement<'_>,
        com: &EncCommitments,
        session: &SessionId,
        prover: PartyIndex,
    ) -> [u8; 16] {
        let g = params.group();
        let mut t = Transcript::for_proof(b"dmz21/enc-proof", session, prover);
        st.absorb(params, &mut t);
        t.append(b"t1", &g.encode(&com.t1));
        t.append(b"t2", &g.encode(&com.t2));
        t.append(b"a1", &encode_point(&com.a1));
        t.append(b"a2", &encode_point(&com.a2));
        challenge(&mut t)
    }

    /// Verify the proof for the statement, made by `prover` in `session`.
    pub fn verify(
        &self,
        params: &ClParams,
        st: &EncStatement<'_>,
        session: &SessionId,
        prover: PartyIndex,
    ) -> Result<(), Fault> {
        let g = params.group();
        let z_r = decode_response(
            &self.z_r,
            &response_bound(params.exponent_bound()),
            "encryption proof",
        )?;
        let z_k = decode_scalar::<Secp256k1>(&self.z_k, "encryption proof z_k")?;
        let z_rho = decode_scalar::<Secp256k1>(&self.z_rho, "encryption proof z_rho")?;
        let e_int = BigInt::from_bytes_be(&self.e);
        let e_sc = bigint_to_scalar(&e_int);
        let neg_e = -&e_int;
        // T1 = h^z_r · c1^-e; T2 = f^z_k · pk^z_r · c2^-e; A1 = z_ρ·G - e·E1;
        // A2 = z_k·G + z_ρ·Y - e·E2.
        let com = EncCommitments {
            t1: g.compose(&params.h_pow(&z_r), &g.pow(st.c1, &neg_e)),
            t2: g.compose(
                &g.compose(&params.f_pow(&scalar_to_bigint(&z_k)), &st.pk.pow(params, &z_r)),
                &g.pow(st.c2, &neg_e),
            ),
            a1: Secp256k1::mul_base(&z_rho) - *st.e1 * e_sc,
            a2: Secp256k1::mul_base(&z_k) + *st.y * z_rho - *st.e2 * e_sc,
        };
        let e = Self::challenge(params, st, &com, session, prover);
        check_challenge(&e, &self.e, "promise proof of the round-1 ciphertexts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dmz21::test_params;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn p(i: u16) -> PartyIndex {
        PartyIndex::new(i).unwrap()
    }

    #[test]
    fn cl_key_proof_verifies_and_every_tampering_fails() {
        let params = test_params();
        assert!(params.check_h_hat(), "the published relation ĥ^q = h");
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let session = SessionId([5; 32]);
        let (sk, pk) = params.keygen(&mut rng);
        let st = ClKeyStatement::for_secret(params, sk.exponent());
        assert_eq!(&st.pk, pk.form(), "pk̂^q is the CL public key h^x");
        let proof = ClKeyProof::prove(params, &st, sk.exponent(), &session, p(1), &mut rng);
        proof.verify(params, &st, &session, p(1)).unwrap();

        // Another prover or session: the challenge no longer matches.
        assert!(proof.verify(params, &st, &session, p(2)).is_err());
        assert!(proof.verify(params, &st, &SessionId([6; 32]), p(1)).is_err());
        // A tampered response or challenge.
        let mut bad = proof.clone();
        *bad.z.last_mut().unwrap() ^= 1;
        assert!(matches!(
            bad.verify(params, &st, &session, p(1)),
            Err(Fault::InvalidProof(_))
        ));
        let mut bad = proof.clone();
        bad.e[0] ^= 1;
        assert!(bad.verify(params, &st, &session, p(1)).is_err());
        // A response above the bound is refused before any group operation.
        let mut bad = proof.clone();
        bad.z = vec![0xff; response_bound(params.exponent_bound()).bits().div_ceil(8) + 1];
        assert!(bad.verify(params, &st, &session, p(1)).is_err());
        // The promise relation: pk must be pk̂^q. A key shifted by f (so that it would
        // shift plaintexts) fails it.
        let shifted = ClKeyStatement {
            pk_hat: st.pk_hat.clone(),
            pk: params.group().compose(&st.pk, params.f()),
        };
        assert_eq!(
            proof.verify(params, &shifted, &session, p(1)),
            Err(Fault::InvalidProof("CL public key: pk != pk_hat^q".into()))
        );
        // A different pk̂ (with its own pk) under the old proof.
        let (sk2, _) = params.keygen(&mut rng);
        let other = ClKeyStatement::for_secret(params, sk2.exponent());
        assert!(proof.verify(params, &other, &session, p(1)).is_err());
    }

    #[test]
    fn encryption_proof_verifies_and_every_tampering_fails() {
        let params = test_params();
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let session = SessionId([7; 32]);
        let (_sk, pk) = params.keygen(&mut rng);
        let k = Secp256k1::random_scalar(&mut rng);
        let rho = Secp256k1::random_scalar(&mut rng);
        let y_sec = Secp256k1::random_scalar(&mut rng);
        let y = Secp256k1::mul_base(&y_sec);
        let r = params.random_exponent(&mut rng);
        let ct = params.encrypt_with(&pk, &scalar_to_bigint(&k), &r);
        let e1 = Secp256k1::mul_base(&rho);
        let e2 = Secp256k1::mul_base(&k) + y * rho;
        let st = EncStatement {
            pk: &pk,
            c1: ct.c1(),
            c2: ct.c2(),
            y: &y,
            e1: &e1,
            e2: &e2,
            context: b"ctx",
        };
        let w = EncWitness {
            r: &r,
            k: &k,
            rho: &rho,
        };
        let proof = EncProof::prove(params, &st, &w, &session, p(3), &mut rng);
        proof.verify(params, &st, &session, p(3)).unwrap();
        assert!(
            proof.verify(params, &st, &session, p(1)).is_err(),
            "bound to the prover"
        );

        // Each response tampered.
        for field in 0..4 {
            let mut bad = proof.clone();
            match field {
                0 => *bad.z_r.last_mut().unwrap() ^= 1,
                1 => bad.z_k[31] ^= 1,
                2 => bad.z_rho[31] ^= 1,
                _ => bad.e[15] ^= 1,
            }
            assert!(bad.verify(params, &st, &session, p(3)).is_err(), "field {field}");
        }
        // The EC-ElGamal ciphertext of another scalar: the ciphertexts disagree.
        let e2_other = e2 + Secp256k1::generator();
        let st_other = EncStatement {
            e2: &e2_other,
            ..st.clone()
        };
        assert!(proof.verify(params, &st_other, &session, p(3)).is_err());
        // A CL ciphertext shifted by f (an encryption of k + 1).
        let c2_other = params.group().compose(ct.c2(), params.f());
        let st_other = EncStatement {
            c2: &c2_other,
            ..st.clone()
        };
        assert!(proof.verify(params, &st_other, &session, p(3)).is_err());
        // Another context (signing run).
        let st_other = EncStatement {
            context: b"other",
            ..st
        };
        assert!(proof.verify(params, &st_other, &session, p(3)).is_err());
    }
}
