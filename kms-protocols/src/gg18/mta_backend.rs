//! The narrow interface the protocol runs need from the MtA and aux layer, and its
//! implementation over [`super::mta`] (Paillier with the GG18 appendix-A proofs).
//!
//! GG18 signing runs, for every ordered pair of signers (i, j), two multiplicative-to-
//! additive conversions with i as Alice (holding k_i) and j as Bob: one for k_i * gamma_j
//! and one, "with check", for k_i * w_j where Bob proves his input matches the public
//! W_j = w_j * G. Alice encrypts k_i once under her Paillier key and proves its range to
//! each verifier separately (the range proof uses the verifier's ring-Pedersen
//! parameters). The signing code is written against this trait only.

use super::aux_info::{AuxSecret, PeerAux};
use super::mta::{self, AliceEncryption, AliceMessage, BobMessage, BobNonces, MtaContext};
use super::paillier::Ciphertext;
use crate::error::Fault;
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{de::DeserializeOwned, Serialize};

/// Which conversion of a signing run: bound into every MtA proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtaKind {
    /// k_i * gamma_j (plain MtA).
    KGamma,
    /// k_i * w_j (MtAwc, Bob's input checked against W_j).
    KW,
}

impl MtaKind {
    fn tag(self) -> &'static [u8] {
        match self {
            MtaKind::KGamma => b"gg18-sign/k*gamma",
            MtaKind::KW => b"gg18-sign/k*w",
        }
    }
}

/// Who proves what to whom in which run.
#[derive(Clone, Copy, Debug)]
pub struct MtaRun {
    /// The signing session.
    pub session: SessionId,
    /// The party holding k (Alice).
    pub alice: PartyIndex,
    /// The responding party (Bob).
    pub bob: PartyIndex,
    /// Which conversion.
    pub kind: MtaKind,
}

/// Multiplicative-to-additive conversion with range proofs on both sides.
pub trait MtaBackend {
    /// The local party's aux secret (Paillier private key, ring-Pedersen trapdoor).
    type Secret;
    /// A peer's verified aux public data (Paillier key, ring-Pedersen parameters).
    type Public;
    /// Alice's ciphertext Enc_A(a), broadcast to every Bob.
    type Cipher: Clone + Serialize + DeserializeOwned;
    /// Alice's secret state for her ciphertext (plaintext and nonce); zeroized on drop.
    type AliceState;
    /// Alice's range proof for one verifier and one conversion.
    type AliceProof: Serialize + DeserializeOwned;
    /// Bob's answer with its proof.
    type BobMsg: Serialize + DeserializeOwned;

    /// The party a peer's verified material was proven under.
    fn public_party(public: &Self::Public) -> PartyIndex;

    /// A digest of a peer's aux public data, bound into the DKG so all parties agree on
    /// every party's Paillier key and ring-Pedersen parameters.
    fn public_digest(public: &Self::Public) -> [u8; 32];

    /// The digest of the local party's own aux public data.
    fn own_digest(own: &Self::Secret) -> [u8; 32];

    /// Alice encrypts `a` under her own key.
    fn alice_encrypt<R: RngCore + CryptoRng>(
        own: &Self::Secret,
        a: &Scalar,
        rng: &mut R,
    ) -> (Self::Cipher, Self::AliceState);

    /// Alice's range proof for her ciphertext, for Bob of `run`.
    fn alice_prove<R: RngCore + CryptoRng>(
        own: &Self::Secret,
        bob: &Self::Public,
        state: &Self::AliceState,
        run: MtaRun,
        rng: &mut R,
    ) -> Self::AliceProof;

    /// Bob checks Alice's ciphertext and range proof and answers for his input `b`;
    /// with `check` (MtAwc) his proof also shows `b * G`. Returns Bob's message and
    /// his share beta. A fault means Alice misbehaved.
    #[allow(clippy::too_many_arguments)]
    fn bob_respond<R: RngCore + CryptoRng>(
        own: &Self::Secret,
        alice: &Self::Public,
        cipher: &Self::Cipher,
        proof: Self::AliceProof,
        b: &Scalar,
        check: bool,
        run: MtaRun,
        rng: &mut R,
    ) -> Result<(Self::BobMsg, Scalar), Fault>;

    /// Alice checks Bob's proof (with `check = Some(B)` also against B) and decrypts
    /// her share alpha. A fault means Bob misbehaved.
    fn alice_finish(
        own: &Self::Secret,
        cipher: &Self::Cipher,
        msg: &Self::BobMsg,
        check: Option<&ProjectivePoint>,
        run: MtaRun,
    ) -> Result<Scalar, Fault>;
}

/// MtA over Paillier with the hardened GG18 proofs ([`super::mta`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaillierMta;

fn context(run: &MtaRun) -> MtaContext<'static> {
    MtaContext {
        session: run.session,
        alice: run.alice,
        bob: run.bob,
        tag: run.kind.tag(),
    }
}

fn digest(n: &super::bigint::BigInt, rp: &super::ring_pedersen::RingPedersen) -> [u8; 32] {
    let mut t = Transcript::new(b"gg18-aux-digest");
    n.append_to(&mut t, b"paillier-n");
    rp.append_to(&mut t, b"ring-pedersen");
    let c = t.challenge(b"digest");
    let mut out = [0u8; 32];
    out.copy_from_slice(&c[..32]);
    out
}

impl MtaBackend for PaillierMta {
    type Secret = AuxSecret;
    type Public = PeerAux;
    type Cipher = Ciphertext;
    type AliceState = AliceEncryption;
    type AliceProof = super::zk::mta_range::AliceRangeProof;
    type BobMsg = BobMessage;

    fn public_party(public: &PeerAux) -> PartyIndex {
        public.party()
    }

    fn public_digest(public: &PeerAux) -> [u8; 32] {
        digest(public.paillier().n(), public.ring_pedersen())
    }

    fn own_digest(own: &AuxSecret) -> [u8; 32] {
        digest(own.paillier().public().n(), own.ring_pedersen())
    }

    fn alice_encrypt<R: RngCore + CryptoRng>(
        own: &AuxSecret,
        a: &Scalar,
        rng: &mut R,
    ) -> (Ciphertext, AliceEncryption) {
        let enc = AliceEncryption::new(rng, own, a);
        (enc.ciphertext().clone(), enc)
    }

    fn alice_prove<R: RngCore + CryptoRng>(
        own: &AuxSecret,
        bob: &PeerAux,
        state: &AliceEncryption,
        run: MtaRun,
        rng: &mut R,
    ) -> Self::AliceProof {
        mta::alice_start(rng, &context(&run), own, state, bob).proof
    }

    fn bob_respond<R: RngCore + CryptoRng>(
        own: &AuxSecret,
        alice: &PeerAux,
        cipher: &Ciphertext,
        proof: Self::AliceProof,
        b: &Scalar,
        check: bool,
        run: MtaRun,
        rng: &mut R,
    ) -> Result<(BobMessage, Scalar), Fault> {
        let msg = AliceMessage {
            ciphertext: cipher.clone(),
            proof,
        };
        let nonces = BobNonces::precompute(rng, alice);
        mta::bob_respond(&context(&run), own, alice, &msg, b, nonces, check)
    }

    fn alice_finish(
        own: &AuxSecret,
        cipher: &Ciphertext,
        msg: &BobMessage,
        check: Option<&ProjectivePoint>,
        run: MtaRun,
    ) -> Result<Scalar, Fault> {
        mta::alice_finish(&context(&run), own, cipher, msg, check)
    }
}
