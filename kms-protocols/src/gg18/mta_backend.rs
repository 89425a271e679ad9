//! The narrow interface the protocol runs need from the MtA and aux layer, and its
//! implementation over [`super::mta`] (Paillier with the GG18 appendix-A proofs).
//!
//! GG18 signing runs, for every ordered pair of signers (i, j), two multiplicative-to-
//! additive conversions with i as Alice (holding k_i) and j as Bob: one for k_i * gamma_j
//! and one, "with check", for k_i * w_j where Bob proves his input matches the public
//! W_j = w_j * G. Alice encrypts k_i once under her Paillier key and proves its range
//! once to each verifier (the range proof uses the verifier's ring-Pedersen parameters);
//! both conversions multiply the same ciphertext, so Bob checks that proof once and
//! answers both. The signing code is written against this trait only.
//!
//! Every input-independent step (Alice's r^N, the masks of her range proof, Bob's β',
//! Enc(β') and most of his proof) is a separate call returning a one-use value, so it
//! can be done ahead of a signing.

use super::aux_info::{AuxSecret, PeerAux};
use super::mta::{self, AliceEncryption, BobMessage, BobNonces, CheckedAliceMessage, MtaContext};
use super::paillier::{Ciphertext, EncryptionNonce};
use super::zk::mta_range::AliceProofPrecomputation;
use crate::error::Fault;
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{de::DeserializeOwned, Serialize};

/// Alice's range proof on K_i = Enc(k_i) to one verifier: serves both conversions.
#[derive(Clone, Copy, Debug)]
pub struct MtaPair {
    /// The signing session.
    pub session: SessionId,
    /// The party holding k (Alice).
    pub alice: PartyIndex,
    /// The verifying party (Bob).
    pub bob: PartyIndex,
}

impl MtaPair {
    /// One of the two conversions between this pair.
    pub fn run(self, kind: MtaKind) -> MtaRun {
        MtaRun {
            session: self.session,
            alice: self.alice,
            bob: self.bob,
            kind,
        }
    }
}

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

    /// Alice's encryption randomness under her own key (r with r^N precomputed).
    /// Secret, used once.
    type AliceNonce;
    /// The input-independent part of Alice's range proof for one verifier. Secret,
    /// used once.
    type AliceProofPre;
    /// Bob's input-independent work for one conversion with one Alice (β', Enc(β'),
    /// the masks and most commitments of his proof). Secret, used once.
    type BobPre;
    /// Alice's ciphertext after Bob checked her range proof.
    type Checked;

    /// Precompute Alice's encryption randomness.
    fn alice_nonce<R: RngCore + CryptoRng>(own: &Self::Secret, rng: &mut R) -> Self::AliceNonce;

    /// Alice encrypts `a` under her own key with a precomputed nonce.
    fn alice_encrypt(
        own: &Self::Secret,
        a: &Scalar,
        nonce: Self::AliceNonce,
    ) -> (Self::Cipher, Self::AliceState);

    /// Precompute Alice's range proof for the verifier `bob`.
    fn alice_proof_pre<R: RngCore + CryptoRng>(
        own: &Self::Secret,
        bob: &Self::Public,
        rng: &mut R,
    ) -> Self::AliceProofPre;

    /// Alice's range proof for her ciphertext, for Bob of `pair` (one proof serves both
    /// conversions), with the precomputation made for the same key and verifier.
    fn alice_prove(
        own: &Self::Secret,
        bob: &Self::Public,
        state: &Self::AliceState,
        pre: Self::AliceProofPre,
        pair: MtaPair,
    ) -> Self::AliceProof;

    /// Precompute Bob's work for one conversion with `alice`.
    fn bob_pre<R: RngCore + CryptoRng>(alice: &Self::Public, rng: &mut R) -> Self::BobPre;

    /// Bob checks Alice's ciphertext and range proof, once for both conversions. A
    /// fault means Alice misbehaved.
    fn bob_check(
        own: &Self::Secret,
        alice: &Self::Public,
        cipher: &Self::Cipher,
        proof: &Self::AliceProof,
        pair: MtaPair,
    ) -> Result<Self::Checked, Fault>;

    /// Bob answers a checked ciphertext for his input `b`; with `check` (MtAwc) his
    /// proof also shows `b * G`. Returns Bob's message and his share beta.
    fn bob_answer(
        alice: &Self::Public,
        checked: &Self::Checked,
        b: &Scalar,
        check: bool,
        pre: Self::BobPre,
        run: MtaRun,
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

/// The range proof on K_i is bound to this tag (and the pair), not to a conversion.
const RANGE_TAG: &[u8] = b"gg18-sign/k-range";

fn range_context(pair: &MtaPair) -> MtaContext<'static> {
    MtaContext {
        session: pair.session,
        alice: pair.alice,
        bob: pair.bob,
        tag: RANGE_TAG,
    }
}

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

    type AliceNonce = EncryptionNonce;
    type AliceProofPre = AliceProofPrecomputation;
    type BobPre = BobNonces;
    type Checked = CheckedAliceMessage;

    fn alice_nonce<R: RngCore + CryptoRng>(own: &AuxSecret, rng: &mut R) -> EncryptionNonce {
        own.paillier().precompute_nonce(rng)
    }

    fn alice_encrypt(own: &AuxSecret, a: &Scalar, nonce: EncryptionNonce) -> (Ciphertext, AliceEncryption) {
        let enc = AliceEncryption::with_nonce(own, a, nonce);
        (enc.ciphertext().clone(), enc)
    }

    fn alice_proof_pre<R: RngCore + CryptoRng>(
        own: &AuxSecret,
        bob: &PeerAux,
        rng: &mut R,
    ) -> AliceProofPrecomputation {
        AliceProofPrecomputation::new(rng, own.paillier(), bob.ring_pedersen())
    }

    fn alice_prove(
        own: &AuxSecret,
        bob: &PeerAux,
        state: &AliceEncryption,
        pre: AliceProofPrecomputation,
        pair: MtaPair,
    ) -> Self::AliceProof {
        mta::alice_start_with(&range_context(&pair), own, state, bob, pre).proof
    }

    fn bob_pre<R: RngCore + CryptoRng>(alice: &PeerAux, rng: &mut R) -> BobNonces {
        BobNonces::precompute(rng, alice)
    }

    fn bob_check(
        own: &AuxSecret,
        alice: &PeerAux,
        cipher: &Ciphertext,
        proof: &Self::AliceProof,
        pair: MtaPair,
    ) -> Result<CheckedAliceMessage, Fault> {
        mta::bob_check_ciphertext(&range_context(&pair), own, alice, cipher, proof)
    }

    fn bob_answer(
        alice: &PeerAux,
        checked: &CheckedAliceMessage,
        b: &Scalar,
        check: bool,
        pre: BobNonces,
        run: MtaRun,
    ) -> Result<(BobMessage, Scalar), Fault> {
        mta::bob_answer(&context(&run), alice, checked, b, pre, check)
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
