//! MtA and MtAwc (GG18 §3, with the appendix A proofs always on).
//!
//! Alice holds a, Bob holds b; they end with α + β = a·b mod q.
//! 1. Alice: c_A = Enc_A(a) ([`AliceEncryption`], once per a, reused for every Bob), and
//!    per Bob a range proof under Bob's ring-Pedersen parameters ([`alice_start`]).
//! 2. Bob: verifies it ([`bob_check_alice`], once per ciphertext), answers
//!    c_B = c_A^b · Enc_A(β') with β' ∈ [0, q^5) and his proof under Alice's parameters;
//!    keeps β = -β' mod q ([`bob_answer`]; [`bob_respond`] does both). For MtAwc the
//!    proof also shows g^b = B. Most of Bob's work is precomputable ([`BobNonces`]).
//! 3. Alice: verifies Bob's proof, α = Dec_A(c_B) mod q ([`alice_finish`]).
//!
//! No value wraps mod N: a <= q^3, b < q (proven <= q^3), |β'| <= q^7 give
//! |a·b + β'| < 2q^7 < N/2 for N >= 2048 bits. Bob's proof bounds |β'| but not its
//! sign, so Alice decrypts to the centred residue in (-N/2, N/2], which is then the
//! exact integer a·b + β' whatever sign a cheating Bob chose.
//!
//! Every check returns a [`Fault`]: the caller knows who sent the message and names them.

use super::aux_info::{AuxSecret, PeerAux};
use super::bigint::BigInt;
use super::paillier::{Ciphertext, EncryptionNonce};
use super::zk::mta_range::{AliceProofPrecomputation, AliceRangeProof};
use super::zk::mta_respondent::{BobProof, BobProofPrecomputation, BobStatement, BobWitness};
use crate::error::Fault;
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::PrimeField;
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The secp256k1 group order q, big-endian.
const CURVE_ORDER_HEX: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

/// The secp256k1 group order q.
pub fn curve_order() -> BigInt {
    BigInt::from_hex(CURVE_ORDER_HEX).unwrap_or_else(BigInt::zero)
}

/// A scalar as a non-negative integer < q.
pub fn scalar_to_bigint(s: &Scalar) -> BigInt {
    let mut b = s.to_bytes();
    let v = BigInt::from_bytes_be(&b);
    b.zeroize();
    v
}

/// An integer reduced mod q, as a scalar.
pub fn bigint_to_scalar(v: &BigInt) -> Scalar {
    let q = curve_order();
    let r = v.rem_floor(&q).unwrap_or_else(BigInt::zero);
    let Some(mut bytes) = r.to_bytes_be_padded(32) else {
        return Scalar::ZERO;
    };
    let mut repr = k256::FieldBytes::default();
    repr.copy_from_slice(&bytes);
    bytes.zeroize();
    let s = Option::<Scalar>::from(Scalar::from_repr(repr)).unwrap_or(Scalar::ZERO);
    repr.zeroize();
    s
}

/// SEC1 compressed encoding of a point.
pub fn encode_point(p: &ProjectivePoint) -> Vec<u8> {
    p.to_affine().to_bytes().to_vec()
}

/// Decode a received point: a valid SEC1 encoding on the curve, not the identity.
pub fn decode_point(bytes: &[u8]) -> Result<ProjectivePoint, Fault> {
    let pk = k256::PublicKey::from_sec1_bytes(bytes)
        .map_err(|_| Fault::InvalidElement("not a point of secp256k1 (or identity)".into()))?;
    Ok(pk.to_projective())
}

/// Who runs this MtA and which one it is: every proof is bound to all of it.
#[derive(Clone, Copy, Debug)]
pub struct MtaContext<'a> {
    /// The signing session.
    pub session: SessionId,
    /// Alice (the party whose ciphertext is multiplied).
    pub alice: PartyIndex,
    /// Bob (the responding party).
    pub bob: PartyIndex,
    /// Which MtA of the session (e.g. `b"k*gamma"`, `b"k*w"`), so that two MtAs between
    /// the same parties cannot be swapped.
    pub tag: &'a [u8],
}

impl MtaContext<'_> {
    /// A transcript for a proof by `prover` in this MtA.
    pub(crate) fn transcript(&self, domain: &'static [u8], prover: PartyIndex) -> Transcript {
        let mut t = Transcript::for_proof(domain, &self.session, prover);
        t.append_u64(b"alice", u64::from(self.alice.get()));
        t.append_u64(b"bob", u64::from(self.bob.get()));
        t.append(b"tag", self.tag);
        t
    }
}

/// Alice's encrypted input: c_A = Enc(a; r) under her own key, with a and r kept for the
/// range proofs. Make it once per a; it serves every Bob.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AliceEncryption {
    a: BigInt,
    nonce: EncryptionNonce,
    #[zeroize(skip)]
    ciphertext: Ciphertext,
}

impl fmt::Debug for AliceEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliceEncryption")
            .field("ciphertext", &self.ciphertext)
            .finish_non_exhaustive()
    }
}

impl AliceEncryption {
    /// Encrypt `a` under our own Paillier key (CRT for r^N).
    pub fn new<R: RngCore + CryptoRng>(rng: &mut R, own: &AuxSecret, a: &Scalar) -> Self {
        let a = scalar_to_bigint(a);
        let (ciphertext, nonce) = own.paillier().encrypt(rng, &a);
        Self { a, nonce, ciphertext }
    }

    /// Encrypt `a` with a nonce precomputed under our own key
    /// ([`crate::gg18::paillier::PaillierSecret::precompute_nonce`]); the nonce is
    /// consumed, so it encrypts exactly one value.
    pub fn with_nonce(own: &AuxSecret, a: &Scalar, nonce: EncryptionNonce) -> Self {
        let a = scalar_to_bigint(a);
        let ciphertext = own.paillier().public().encrypt_with(&a, &nonce);
        Self { a, nonce, ciphertext }
    }

    /// c_A.
    pub fn ciphertext(&self) -> &Ciphertext {
        &self.ciphertext
    }
}

/// Alice's message to one Bob.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AliceMessage {
    /// c_A = Enc_A(a).
    pub ciphertext: Ciphertext,
    /// The range proof a <= q^3 under Bob's ring-Pedersen parameters.
    pub proof: AliceRangeProof,
}

/// Step 1 (Alice): the ciphertext with a range proof for Bob.
pub fn alice_start<R: RngCore + CryptoRng>(
    rng: &mut R,
    ctx: &MtaContext<'_>,
    own: &AuxSecret,
    enc: &AliceEncryption,
    bob: &PeerAux,
) -> AliceMessage {
    let proof = AliceRangeProof::prove(
        rng,
        ctx,
        own.paillier(),
        &enc.ciphertext,
        &enc.a,
        &enc.nonce.r,
        bob.ring_pedersen(),
    );
    AliceMessage {
        ciphertext: enc.ciphertext.clone(),
        proof,
    }
}

/// Step 1 (Alice) with the proof's input-independent part precomputed
/// ([`AliceProofPrecomputation::new`] for our key and Bob's parameters).
pub fn alice_start_with(
    ctx: &MtaContext<'_>,
    own: &AuxSecret,
    enc: &AliceEncryption,
    bob: &PeerAux,
    pre: AliceProofPrecomputation,
) -> AliceMessage {
    let proof = AliceRangeProof::prove_with(
        ctx,
        own.paillier(),
        &enc.ciphertext,
        &enc.a,
        &enc.nonce.r,
        bob.ring_pedersen(),
        pre,
    );
    AliceMessage {
        ciphertext: enc.ciphertext.clone(),
        proof,
    }
}

/// Bob's precomputation for one MtA with Alice, made off the critical path: β', the
/// encryption Enc_A(β'; r) (its r^N is the most expensive single step) and two thirds
/// of his proof ([`BobProofPrecomputation`]). Secret; use once (it is consumed).
pub struct BobNonces {
    encryption: EncryptionNonce,
    enc_beta_prime: Ciphertext,
    proof: BobProofPrecomputation,
}

impl fmt::Debug for BobNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BobNonces(<redacted>)")
    }
}

impl BobNonces {
    /// Precompute for an MtA with Alice (her verified aux material).
    pub fn precompute<R: RngCore + CryptoRng>(rng: &mut R, alice: &PeerAux) -> Self {
        let pk = alice.paillier();
        // β' ∈ [0, q^5): masks a·b < q^4 statistically, and leaves a·b + β' < N.
        let beta_prime = BigInt::random_below(rng, &curve_order().pow(5));
        let encryption = pk.precompute_nonce(rng);
        let enc_beta_prime = pk.encrypt_with(&beta_prime, &encryption);
        let proof = BobProofPrecomputation::new(rng, pk, alice.ring_pedersen(), beta_prime);
        Self {
            encryption,
            enc_beta_prime,
            proof,
        }
    }
}

/// Alice's ciphertext after Bob checked her range proof. One check serves every MtA
/// that multiplies the same ciphertext (GG18 uses Enc(k) for both k·γ and k·w).
#[derive(Clone, Debug)]
pub struct CheckedAliceMessage {
    ciphertext: Ciphertext,
}

impl CheckedAliceMessage {
    /// c_A.
    pub fn ciphertext(&self) -> &Ciphertext {
        &self.ciphertext
    }
}

/// Bob's answer.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BobMessage {
    /// c_B = c_A^b · Enc_A(β').
    pub ciphertext: Ciphertext,
    /// Bob's proof under Alice's ring-Pedersen parameters.
    pub proof: BobProof,
}

/// Step 2a (Bob): check Alice's ciphertext and range proof (made for our ring-Pedersen
/// parameters). A fault means Alice misbehaved.
pub fn bob_check_alice(
    ctx: &MtaContext<'_>,
    own: &AuxSecret,
    alice: &PeerAux,
    msg: &AliceMessage,
) -> Result<CheckedAliceMessage, Fault> {
    bob_check_ciphertext(ctx, own, alice, &msg.ciphertext, &msg.proof)
}

/// [`bob_check_alice`] for a ciphertext and proof received separately (GG18 signing
/// broadcasts the ciphertext and sends each verifier its proof).
pub fn bob_check_ciphertext(
    ctx: &MtaContext<'_>,
    own: &AuxSecret,
    alice: &PeerAux,
    ciphertext: &Ciphertext,
    proof: &AliceRangeProof,
) -> Result<CheckedAliceMessage, Fault> {
    proof.verify(ctx, alice.paillier(), ciphertext, own.ring_pedersen_secret())?;
    Ok(CheckedAliceMessage {
        ciphertext: ciphertext.clone(),
    })
}

/// Step 2b (Bob): answer a checked ciphertext and return Bob's share β = -β' mod q.
/// `with_check` selects MtAwc: the proof then also shows g^b = B, for the B that Alice
/// knows. `ctx` names this MtA (its tag may differ from the one Alice's proof used).
pub fn bob_answer(
    ctx: &MtaContext<'_>,
    alice: &PeerAux,
    checked: &CheckedAliceMessage,
    b: &Scalar,
    nonces: BobNonces,
    with_check: bool,
) -> Result<(BobMessage, Scalar), Fault> {
    let pk = alice.paillier();
    let mut b_int = scalar_to_bigint(b);
    let c_ab = pk
        .mul_sec(&checked.ciphertext, &b_int)
        .ok_or_else(|| Fault::Other("internal: negative multiplier".into()))?;
    let c_b = pk.add(&c_ab, &nonces.enc_beta_prime);
    let b_point = ProjectivePoint::GENERATOR * b;
    let statement = BobStatement {
        pk,
        c1: &checked.ciphertext,
        c2: &c_b,
        rp: alice.ring_pedersen(),
        x_point: with_check.then_some(&b_point),
    };
    let beta = -bigint_to_scalar(nonces.proof.y());
    let BobNonces {
        encryption,
        proof: pre,
        ..
    } = nonces;
    let proof = BobProof::prove(
        ctx,
        &statement,
        &BobWitness {
            x: &b_int,
            r: &encryption.r,
        },
        pre,
    );
    b_int.zeroize();
    Ok((
        BobMessage {
            ciphertext: c_b,
            proof,
        },
        beta,
    ))
}

/// Step 2 (Bob) in one call: [`bob_check_alice`] then [`bob_answer`].
#[allow(clippy::too_many_arguments)]
pub fn bob_respond(
    ctx: &MtaContext<'_>,
    own: &AuxSecret,
    alice: &PeerAux,
    msg: &AliceMessage,
    b: &Scalar,
    nonces: BobNonces,
    with_check: bool,
) -> Result<(BobMessage, Scalar), Fault> {
    let checked = bob_check_alice(ctx, own, alice, msg)?;
    bob_answer(ctx, alice, &checked, b, nonces, with_check)
}

/// Step 3 (Alice): verify Bob's answer to `sent` and return Alice's share α.
/// `b_point` is B = g^b for MtAwc, `None` for MtA. A fault means Bob misbehaved.
pub fn alice_finish(
    ctx: &MtaContext<'_>,
    own: &AuxSecret,
    sent: &Ciphertext,
    reply: &BobMessage,
    b_point: Option<&ProjectivePoint>,
) -> Result<Scalar, Fault> {
    let sk = own.paillier();
    // Our own secrets stand in for our public key and parameters: same statement,
    // checks through CRT and the ring-Pedersen trapdoor.
    let statement = BobStatement {
        pk: sk,
        c1: sent,
        c2: &reply.ciphertext,
        rp: own.ring_pedersen_secret(),
        x_point: b_point,
    };
    reply.proof.verify(ctx, &statement)?;
    let mut alpha_prime = sk.decrypt_centred(&reply.ciphertext);
    let alpha = bigint_to_scalar(&alpha_prime);
    alpha_prime.zeroize();
    Ok(alpha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gg18::test_support::{fixture_aux, p};
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// Review L1: Bob's proof bounds |β'| <= q^7 but not its sign, so a cheating Bob
    /// can answer with β' = -T. Decoded into [0, N), a·b - T < 0 became N + a·b - T and
    /// α + β != a·b (a selective-failure oracle on "a·b < T"); decoded to the centred
    /// residue, the shares add up to a·b whatever the sign.
    #[test]
    fn review_l1_alice_decrypts_to_the_centred_residue() {
        let mut rng = ChaCha20Rng::seed_from_u64(0x11);
        let mut aux = fixture_aux(2);
        let (bob_secret, bob_peers) = aux.pop().expect("two nodes");
        let (alice_secret, alice_peers) = aux.pop().expect("two nodes");
        let alice_for_bob = &bob_peers[&p(1)];
        let ctx = MtaContext {
            session: SessionId::derive(b"review-l1"),
            alice: p(1),
            bob: p(2),
            tag: b"k*gamma",
        };
        let q5 = curve_order().pow(5);
        let big_t = &q5 + &BigInt::random_below(&mut rng, &q5);
        let b = Scalar::from(7u64);
        // (a, T): a·b < T in the first and last case (the wrap the fix is about; before
        // it they decoded to N + a·b - T), a·b >= T in the middle one (fine either way).
        for (a, t) in [
            (Scalar::from(3u64), big_t.clone()),
            (Scalar::from(u64::MAX), BigInt::from_u64(5)),
            (-Scalar::ONE, big_t),
        ] {
            let enc = AliceEncryption::new(&mut rng, &alice_secret, &a);
            let msg = alice_start(&mut rng, &ctx, &alice_secret, &enc, &alice_peers[&p(2)]);
            let pk = alice_for_bob.paillier();
            let y = -&t;
            let encryption = pk.precompute_nonce(&mut rng);
            let enc_beta_prime = pk.encrypt_with(&y, &encryption);
            let proof =
                BobProofPrecomputation::forged_signed_y(&mut rng, pk, alice_for_bob.ring_pedersen(), y);
            let nonces = BobNonces {
                encryption,
                enc_beta_prime,
                proof,
            };
            let (reply, beta) = bob_respond(&ctx, &bob_secret, alice_for_bob, &msg, &b, nonces, false)
                .expect("Alice is honest");
            let alpha = alice_finish(&ctx, &alice_secret, enc.ciphertext(), &reply, None)
                .expect("the proof with a negative beta' verifies: its sign is not proven");
            assert_eq!(alpha + beta, a * b, "alpha + beta = a*b for a = {a:?}");
        }
    }
}
