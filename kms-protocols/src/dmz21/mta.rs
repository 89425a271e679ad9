//! The CL-based multiplicative-to-additive conversion of DMZ21 signing, replacing
//! GG18's Paillier MtA.
//!
//! Alice (signer j) has broadcast `C_j = Enc_j(k_j)` with its promise proof. Bob (signer
//! i) turns his input `b` (`γ_i`, or `w_i` for the checked conversion) into
//!
//! `C' = C_j^(b + t) · Enc_j(-β)`, and sends `C'`, `t mod q` (and `B = β·G` when checked),
//!
//! with `t` uniform below `B_CL·q` (the CL exponent bound times `q`) and `β` uniform in
//! `Z/qZ`. Alice decrypts `μ = k_j·(b + t) - β mod q` and removes `k_j·(t mod q)`:
//! `α = k_j·b - β`, so `α + β = k_j·b`. No range proof is needed on either side: the
//! plaintext space is exactly `Z/qZ`.
//!
//! Why the mask `t`: the promise proof does not rule out that `C_j` carries an extra
//! element of small order (below `2^128`, see [`super::proofs`]); raising it to `b`
//! alone would put `b` modulo that order into what Alice decrypts. Raised to `b + t`,
//! with `t` spread `2^40` times wider than the class number, it shows nothing of `b`
//! (statistical distance below `2^-40`). This is DMZ21's simulation of homomorphic
//! operations on a possibly invalid ciphertext.
//!
//! The checked conversion binds Bob's input to his public `W_i`: Alice checks `α·G + B
//! = k_j·W_i` and names Bob otherwise. A ciphertext that does not decrypt under
//! Alice's key is a [`Fault::Ban`]: whether it decrypts can depend on Alice's long-lived
//! CL secret key (modulo a small order hidden in `C'`), so the sender must not get to
//! try again.

use crate::class_group::cl_hsm::{Ciphertext, ClParams, PublicKey, SecretKey};
use crate::error::Fault;
use crate::gg18::bigint::BigInt;
use crate::gg18::mta::{bigint_to_scalar, scalar_to_bigint};
use crate::gg18::secp256k1::{decode_point, encode_point, Secp256k1};
use crate::group::{decode_scalar, Group};
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// Bob's answer to one conversion.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MtaAnswer {
    /// `C' = C^(b + t)·Enc(-β)`, encoded (two forms).
    pub(crate) cipher: Vec<u8>,
    /// `t mod q`, 32 bytes.
    pub(crate) t_mod_q: Vec<u8>,
    /// `B = β·G` for the checked conversion (`None` for the plain one).
    pub(crate) big_b: Option<Vec<u8>>,
}

/// Bob's side: answer Alice's ciphertext `c` (under her key `alice_pk`) for input `b`,
/// with `B = β·G` if `checked`. Returns the answer and Bob's share `β`.
pub fn bob_answer<R: RngCore + CryptoRng>(
    params: &ClParams,
    alice_pk: &PublicKey,
    c: &Ciphertext,
    b: &Scalar,
    checked: bool,
    rng: &mut R,
) -> (MtaAnswer, Scalar) {
    let g = params.group();
    let mask_bound = params.exponent_bound() * params.q();
    let mut t = BigInt::random_below(rng, &mask_bound);
    let mut exponent = &scalar_to_bigint(b) + &t;
    let beta = Secp256k1::random_scalar(rng);
    let mut r = params.random_exponent(rng);
    let enc = params.encrypt_with(alice_pk, &scalar_to_bigint(&(-beta)), &r);
    let c1 = g.compose(&g.pow(c.c1(), &exponent), enc.c1());
    let c2 = g.compose(&g.pow(c.c2(), &exponent), enc.c2());
    let t_mod_q = bigint_to_scalar(&t);
    exponent.zeroize();
    t.zeroize();
    r.zeroize();
    let mut cipher = g.encode(&c1);
    cipher.extend_from_slice(&g.encode(&c2));
    let answer = MtaAnswer {
        cipher,
        t_mod_q: Secp256k1::scalar_to_bytes(&t_mod_q),
        big_b: checked.then(|| encode_point(&Secp256k1::mul_base(&beta))),
    };
    (answer, beta)
}

/// Alice's side: decrypt Bob's answer to her ciphertext of `k` and return her share
/// `α`. With `check = Some(W)`, also check `α·G + B = k·W`. A fault means Bob
/// misbehaved.
pub fn alice_finish(
    params: &ClParams,
    sk: &SecretKey,
    k: &Scalar,
    answer: &MtaAnswer,
    check: Option<&ProjectivePoint>,
) -> Result<Scalar, Fault> {
    let cipher = params
        .decode_ciphertext(&answer.cipher)
        .map_err(|e| Fault::InvalidElement(format!("MtA ciphertext: {e}")))?;
    let t = decode_scalar::<Secp256k1>(&answer.t_mod_q, "MtA t mod q")?;
    let big_b = match (check, &answer.big_b) {
        (Some(_), Some(b)) => Some(decode_point(b, "MtA B")?),
        (None, None) => None,
        _ => {
            return Err(Fault::Malformed(
                "MtA answer: B present iff the conversion is checked".into(),
            ))
        }
    };
    let mut mu = params.decrypt(sk, &cipher).map_err(|_| {
        Fault::Ban(
            "MtA ciphertext does not decrypt under our CL key (its outcome can depend on the key)".into(),
        )
    })?;
    let mut alpha = bigint_to_scalar(&mu) - *k * t;
    mu.zeroize();
    if let (Some(w), Some(b)) = (check, big_b) {
        if Secp256k1::mul_base(&alpha) + b != *w * *k {
            alpha.zeroize();
            return Err(Fault::Other("MtAwc check failed: alpha·G + B != k·W".into()));
        }
    }
    Ok(alpha)
}
