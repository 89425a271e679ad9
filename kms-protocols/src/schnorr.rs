//! Schnorr proof of knowledge of a discrete logarithm, non-interactive (Fiat-Shamir).

use crate::error::Fault;
use crate::group::{decode_element, decode_scalar, Group};
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// A proof that the prover knows `x` with `X = x * G`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchnorrProof {
    /// Commitment `R = k * G`, encoded.
    pub commitment: Vec<u8>,
    /// Response `z = k + c * x`, encoded.
    pub response: Vec<u8>,
}

fn challenge<G: Group>(
    context: &[u8],
    session: &SessionId,
    prover: PartyIndex,
    public: &G::Element,
    commitment: &G::Element,
) -> G::Scalar {
    let mut t = Transcript::for_proof(b"schnorr-pok", session, prover);
    t.append(b"group", G::NAME.as_bytes());
    t.append(b"context", context);
    t.append(b"generator", &G::element_to_bytes(&G::generator()));
    t.append(b"public", &G::element_to_bytes(public));
    t.append(b"commitment", &G::element_to_bytes(commitment));
    G::challenge(&mut t, b"c")
}

impl SchnorrProof {
    /// Prove knowledge of `secret` for `public = secret * G`. `context` binds the proof
    /// to its use (e.g. the dealer's whole commitment vector).
    pub fn prove<G: Group, R: RngCore + CryptoRng>(
        secret: &G::Scalar,
        public: &G::Element,
        context: &[u8],
        session: &SessionId,
        prover: PartyIndex,
        rng: &mut R,
    ) -> Self {
        let mut k = G::random_scalar(rng);
        let r = G::mul_base(&k);
        let c = challenge::<G>(context, session, prover, public, &r);
        let z = k + c * *secret;
        k.zeroize();
        Self {
            commitment: G::element_to_bytes(&r),
            response: G::scalar_to_bytes(&z),
        }
    }

    /// Verify the proof for `public`, made by `prover` in `session`.
    pub fn verify<G: Group>(
        &self,
        public: &G::Element,
        context: &[u8],
        session: &SessionId,
        prover: PartyIndex,
    ) -> Result<(), Fault> {
        let r = decode_element::<G>(&self.commitment, "schnorr commitment")?;
        let z = decode_scalar::<G>(&self.response, "schnorr response")?;
        let c = challenge::<G>(context, session, prover, public, &r);
        if G::mul_base(&z) != r + *public * c {
            return Err(Fault::InvalidProof("schnorr proof of knowledge".into()));
        }
        Ok(())
    }
}
