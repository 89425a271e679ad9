//! The narrow interface the signing run needs from the MtA layer.
//!
//! GG18 signing runs, for every ordered pair of signers (i, j), two multiplicative-to-
//! additive conversions with i as Alice (holding k_i) and j as Bob: one for k_i * gamma_j
//! and one, "with check", for k_i * w_j where Bob proves his input matches the public
//! W_j = w_j * G. Alice encrypts k_i once under her Paillier key and proves its range to
//! each verifier separately (the range proof uses the verifier's ring-Pedersen
//! parameters). This trait is that shape; [`super::mta`] provides the Paillier
//! implementation and the signing code is written against the trait only.

use crate::error::Fault;
use crate::party::{PartyIndex, SessionId};
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{de::DeserializeOwned, Serialize};

/// Who proves to whom in which run: bound into every Fiat-Shamir challenge.
#[derive(Clone, Copy, Debug)]
pub struct ProofContext<'a> {
    /// The signing session.
    pub session: &'a SessionId,
    /// The party making the proof.
    pub prover: PartyIndex,
    /// The party checking it.
    pub verifier: PartyIndex,
    /// Extra public data of the run (e.g. the signer set and message digest).
    pub extra: &'a [u8],
}

/// Multiplicative-to-additive conversion over Paillier with range proofs.
pub trait MtaBackend {
    /// The local party's aux secret (Paillier private key and ring-Pedersen trapdoor).
    type Secret;
    /// A peer's verified aux public data (Paillier key, ring-Pedersen parameters).
    type Public;
    /// Alice's ciphertext Enc_A(a), sent to every Bob.
    type Cipher: Clone + Serialize + DeserializeOwned;
    /// Alice's secret state for her ciphertext (plaintext and randomness); zeroized.
    type AliceState;
    /// Alice's range proof for one verifier.
    type AliceProof: Serialize + DeserializeOwned;
    /// Bob's response with its proof.
    type BobMsg: Serialize + DeserializeOwned;

    /// A digest of a party's aux public data, bound into the DKG so that all parties
    /// agree on every party's Paillier key and ring-Pedersen parameters.
    fn public_digest(public: &Self::Public) -> [u8; 32];

    /// The digest of the local party's own aux public data.
    fn own_digest(own: &Self::Secret) -> [u8; 32];

    /// Encode the local aux secret for storage inside a key share.
    fn secret_to_bytes(own: &Self::Secret) -> zeroize::Zeroizing<Vec<u8>>;

    /// Decode a stored aux secret (local, authenticated storage: re-checked for form,
    /// not re-proven).
    fn secret_from_bytes(bytes: &[u8]) -> Result<Self::Secret, String>;

    /// Encode a peer's verified aux public data for storage.
    fn public_to_bytes(public: &Self::Public) -> Vec<u8>;

    /// Decode stored, previously verified aux public data of a peer.
    fn public_from_bytes(bytes: &[u8]) -> Result<Self::Public, String>;

    /// Alice encrypts `a` under her own key.
    fn alice_encrypt<R: RngCore + CryptoRng>(
        own: &Self::Secret,
        a: &Scalar,
        rng: &mut R,
    ) -> (Self::Cipher, Self::AliceState);

    /// Alice's range proof for her ciphertext, for `verifier`.
    fn alice_prove<R: RngCore + CryptoRng>(
        own: &Self::Secret,
        verifier: &Self::Public,
        cipher: &Self::Cipher,
        state: &Self::AliceState,
        ctx: ProofContext<'_>,
        rng: &mut R,
    ) -> Self::AliceProof;

    /// Bob checks Alice's ciphertext and her range proof made for him.
    fn bob_check(
        own: &Self::Secret,
        alice: &Self::Public,
        cipher: &Self::Cipher,
        proof: &Self::AliceProof,
        ctx_alice: ProofContext<'_>,
    ) -> Result<(), Fault>;

    /// Bob answers a checked ciphertext for his input `b`. With `check = Some(B)`
    /// (MtAwc), Bob's proof also shows `B = b * G`. Returns Bob's message and his
    /// additive share beta.
    fn bob_respond<R: RngCore + CryptoRng>(
        own: &Self::Secret,
        alice: &Self::Public,
        cipher: &Self::Cipher,
        b: &Scalar,
        check: Option<&ProjectivePoint>,
        ctx_bob: ProofContext<'_>,
        rng: &mut R,
    ) -> Result<(Self::BobMsg, Scalar), Fault>;

    /// Alice checks Bob's proof (with `check = Some(B)`, also against B) and decrypts
    /// her additive share alpha.
    fn alice_finish(
        own: &Self::Secret,
        bob: &Self::Public,
        cipher: &Self::Cipher,
        msg: &Self::BobMsg,
        check: Option<&ProjectivePoint>,
        ctx_bob: ProofContext<'_>,
    ) -> Result<Scalar, Fault>;
}
