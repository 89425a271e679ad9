//! FROST(Ed25519, SHA-512) threshold signing, as specified in RFC 9591, run without a
//! coordinator: every signer broadcasts, and every signer aggregates.
//!
//! Rounds:
//! 1. broadcast: the signer's hiding and binding nonce commitments (D_i, E_i) and the
//!    epoch of its share, so shares from before and after a refresh never mix;
//! 2. broadcast: the signature share z_i and an echo of round 1, so every signer knows
//!    the others computed with the same commitment list.
//!
//! Each signer then checks every z_j against D_j + rho_j E_j + c lambda_j X_j (a bad
//! share names its signer), sums them and checks the final signature against the group
//! public key before returning it. The output is a standard 64-byte Ed25519 signature
//! R || S that any RFC 8032 verifier accepts.
//!
//! Nonces come from RFC 9591 `nonce_generate` (32 fresh random bytes and the secret
//! share through H3): never RFC 8032's deterministic nonces, which would repeat across
//! signings of one message with different co-signers. They live only in memory in the
//! run, are taken out of it when the signature share is computed and zeroized then, so
//! one nonce pair serves one signing only.

use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::group::Group;
use crate::inbox::Echo;
use crate::key_share::KeyShare;
use crate::message::{Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId};
use crate::vss::lagrange_at_zero;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::traits::Identity;
use curve25519_dalek::Scalar;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::group::{decode_point, decode_scalar, point_to_bytes, Ed25519};

const VERSION: u16 = 1;

/// The RFC 9591 contextString of FROST(Ed25519, SHA-512).
const CONTEXT: &[u8] = b"FROST-ED25519-SHA512-v1";

// ---------------------------------------------------------------------------------------
// RFC 9591 ciphersuite functions (section 6.1) and the signing primitives (section 4/5).
// ---------------------------------------------------------------------------------------

fn hash_with_context(tag: &[u8], parts: &[&[u8]]) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(CONTEXT);
    h.update(tag);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// H1: binding factors.
fn h1(parts: &[&[u8]]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&hash_with_context(b"rho", parts))
}

/// H2: the Ed25519 challenge, plain SHA-512 with no context so that RFC 8032 verifiers
/// accept the result.
fn h2(parts: &[&[u8]]) -> Scalar {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// H3: nonce generation.
fn h3(parts: &[&[u8]]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&hash_with_context(b"nonce", parts))
}

/// H4: message digest.
fn h4(msg: &[u8]) -> [u8; 64] {
    hash_with_context(b"msg", &[msg])
}

/// H5: commitment-list digest.
fn h5(encoded: &[u8]) -> [u8; 64] {
    hash_with_context(b"com", &[encoded])
}

/// The identifier of a party as a scalar, encoded (RFC 9591 identifiers are the
/// x-coordinates of the shares, like our party indices).
fn identifier_bytes(p: PartyIndex) -> [u8; 32] {
    Scalar::from(u64::from(p.get())).to_bytes()
}

/// RFC 9591 `nonce_generate`: H3(random_bytes || SerializeScalar(secret)). The random
/// bytes make the nonce fresh; the secret protects against a weak RNG.
pub(crate) fn nonce_generate(random_bytes: &[u8; 32], secret: &Scalar) -> Scalar {
    let mut secret_enc = secret.to_bytes();
    let nonce = h3(&[random_bytes, &secret_enc]);
    secret_enc.zeroize();
    nonce
}

/// One signer's nonce commitments (D_i, E_i).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NonceCommitment {
    pub(crate) hiding: EdwardsPoint,
    pub(crate) binding: EdwardsPoint,
}

/// The commitment list, ordered by identifier as RFC 9591 requires.
pub(crate) type CommitmentList = BTreeMap<PartyIndex, NonceCommitment>;

/// RFC 9591 `encode_group_commitment_list`.
fn encode_commitment_list(list: &CommitmentList) -> Vec<u8> {
    let mut out = Vec::with_capacity(list.len() * 96);
    for (id, c) in list {
        out.extend_from_slice(&identifier_bytes(*id));
        out.extend_from_slice(&point_to_bytes(&c.hiding));
        out.extend_from_slice(&point_to_bytes(&c.binding));
    }
    out
}

/// RFC 9591 `compute_binding_factors`: the common prefix of every binding factor
/// input (encoded group public key, H4(msg), H5(encoded commitment list)).
pub(crate) fn binding_factor_prefix(public_key: &EdwardsPoint, list: &CommitmentList, msg: &[u8]) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(32 + 64 + 64);
    prefix.extend_from_slice(&point_to_bytes(public_key));
    prefix.extend_from_slice(&h4(msg));
    prefix.extend_from_slice(&h5(&encode_commitment_list(list)));
    prefix
}

/// RFC 9591 `compute_binding_factors`: rho_i = H1(prefix || SerializeScalar(i)).
pub(crate) fn binding_factors(
    public_key: &EdwardsPoint,
    list: &CommitmentList,
    msg: &[u8],
) -> BTreeMap<PartyIndex, Scalar> {
    let prefix = binding_factor_prefix(public_key, list, msg);
    list.keys()
        .map(|id| (*id, h1(&[&prefix, &identifier_bytes(*id)])))
        .collect()
}

/// RFC 9591 `compute_group_commitment`: R = sum of D_i + rho_i E_i.
fn group_commitment(list: &CommitmentList, factors: &BTreeMap<PartyIndex, Scalar>) -> Option<EdwardsPoint> {
    let mut r = EdwardsPoint::identity();
    for (id, c) in list {
        r += c.hiding + c.binding * factors.get(id)?;
    }
    Some(r)
}

/// RFC 9591 `compute_challenge` for Ed25519: H2(R || PK || msg).
fn challenge(r: &EdwardsPoint, public_key: &EdwardsPoint, msg: &[u8]) -> Scalar {
    h2(&[&point_to_bytes(r), &point_to_bytes(public_key), msg])
}

/// RFC 9591 `verify_signature_share`: z_i G == D_i + rho_i E_i + (c lambda_i) X_i.
fn verify_signature_share(
    z: &Scalar,
    commitment: &NonceCommitment,
    binding_factor: &Scalar,
    challenge: &Scalar,
    lambda: &Scalar,
    public_share: &EdwardsPoint,
) -> bool {
    let commitment_share = commitment.hiding + commitment.binding * binding_factor;
    Ed25519::mul_base(z) == commitment_share + public_share * (challenge * lambda)
}

/// Standard Ed25519 verification (RFC 8032, with the strict checks of ed25519-dalek's
/// `verify_strict`: canonical S, no small-order R or public key).
pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    key.verify_strict(message, &signature).is_ok()
}

// ---------------------------------------------------------------------------------------
// Secrets held by a run.
// ---------------------------------------------------------------------------------------

/// A hiding/binding nonce pair. Zeroized on drop, never printed.
#[derive(Zeroize, ZeroizeOnDrop)]
struct SigningNonces {
    hiding: Scalar,
    binding: Scalar,
}

impl SigningNonces {
    /// RFC 9591 `commit` with the nonce randomness given.
    fn from_randomness(hiding: &[u8; 32], binding: &[u8; 32], secret: &Scalar) -> Self {
        Self {
            hiding: nonce_generate(hiding, secret),
            binding: nonce_generate(binding, secret),
        }
    }

    fn commitment(&self) -> NonceCommitment {
        NonceCommitment {
            hiding: Ed25519::mul_base(&self.hiding),
            binding: Ed25519::mul_base(&self.binding),
        }
    }
}

/// The secret share, copied out of the key share for the run; zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct SecretShare(Scalar);

// ---------------------------------------------------------------------------------------
// Wire messages.
// ---------------------------------------------------------------------------------------

/// Round 1: the signer's nonce commitments (D_i, E_i) and its share's epoch.
#[derive(Serialize, Deserialize)]
pub struct Round1 {
    hiding: [u8; 32],
    binding: [u8; 32],
    epoch: u64,
}

/// Round 2: the signature share z_i and the signer's view of round 1.
#[derive(Serialize, Deserialize)]
pub struct Round2 {
    share: [u8; 32],
    echo: Echo,
}

round_messages! {
    /// The messages of FROST signing, one variant per round.
    #[non_exhaustive]
    pub enum SignMsg {
        1 Broadcast Commit(Round1),
        2 Broadcast Share(Round2) echoes 1,
    }
}

// ---------------------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------------------

/// What round 1 fixed: everything needed to check the peers' signature shares.
struct Aggregation {
    binding_factors: BTreeMap<PartyIndex, Scalar>,
    group_commitment: EdwardsPoint,
    challenge: Scalar,
    own_share: Scalar,
}

/// One signer's run of FROST(Ed25519, SHA-512). Output: the 64-byte signature R || S.
pub type Signing = Driver<SigningRounds>;

/// The round logic of one signer's FROST run.
pub struct SigningRounds {
    me: PartyIndex,
    epoch: u64,
    public_key: EdwardsPoint,
    /// X_j of every signer.
    public_shares: BTreeMap<PartyIndex, EdwardsPoint>,
    /// The signer set, ascending.
    signers: Vec<PartyIndex>,
    message: Vec<u8>,
    secret: Option<SecretShare>,
    nonces: Option<SigningNonces>,
    commitments: CommitmentList,
    aggregation: Option<Aggregation>,
}

/// Start signing `message` with `share` among `signers` (at least the threshold, all
/// distinct holders of the key, `share`'s holder among them). Returns the run and its
/// round-1 broadcast. Every signer must be started with the same session, signer set
/// and message.
pub fn start_sign<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &KeyShare<Ed25519>,
    signers: &[PartyIndex],
    message: &[u8],
    rng: &mut R,
) -> Result<(Signing, Vec<Envelope>), ProtocolError> {
    let mut hiding = [0u8; 32];
    let mut binding = [0u8; 32];
    rng.fill_bytes(&mut hiding);
    rng.fill_bytes(&mut binding);
    let started = start_sign_with_randomness(session, share, signers, message, &hiding, &binding);
    hiding.zeroize();
    binding.zeroize();
    started
}

/// [`start_sign`] with the nonce randomness given, so the RFC 9591 test vectors can be
/// reproduced. Crate-private: real runs always draw fresh randomness.
pub(crate) fn start_sign_with_randomness(
    session: SessionId,
    share: &KeyShare<Ed25519>,
    signers: &[PartyIndex],
    message: &[u8],
    hiding_randomness: &[u8; 32],
    binding_randomness: &[u8; 32],
) -> Result<(Signing, Vec<Envelope>), ProtocolError> {
    let me = share.index();
    let threshold = share.threshold();
    let set = threshold.signer_set(signers)?;
    let protocol = ProtocolId {
        scheme: Scheme::Eddsa,
        phase: Phase::Sign,
        version: VERSION,
    };
    let public_shares = set
        .iter()
        .map(|p| {
            share
                .public_shares()
                .get(p)
                .map(|x| (*p, *x))
                .ok_or_else(|| ProtocolError::InvalidParameters(format!("no public share of {p}")))
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    // Refuses a signer set without us.
    Driver::new(protocol, session, me, &set, |io| {
        let nonces = SigningNonces::from_randomness(hiding_randomness, binding_randomness, share.secret());
        let commitment = nonces.commitment();
        io.broadcast::<1>(&Round1 {
            hiding: point_to_bytes(&commitment.hiding),
            binding: point_to_bytes(&commitment.binding),
            epoch: share.epoch(),
        });
        let mut commitments = CommitmentList::new();
        commitments.insert(me, commitment);
        Ok(SigningRounds {
            me,
            epoch: share.epoch(),
            public_key: *share.public_key(),
            public_shares,
            signers: set.iter().copied().collect(),
            message: message.to_vec(),
            secret: Some(SecretShare(*share.secret())),
            nonces: Some(nonces),
            commitments,
            aggregation: None,
        })
    })
}

impl SigningRounds {
    /// The signer set, ascending.
    pub fn signers(&self) -> &[PartyIndex] {
        &self.signers
    }

    /// The message being signed.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    fn me(&self) -> PartyIndex {
        self.me
    }

    fn lambda(&self, p: PartyIndex) -> Result<Scalar, ProtocolError> {
        lagrange_at_zero::<Ed25519>(p, &self.signers)
            .ok_or_else(|| ProtocolError::Internal(format!("no Lagrange coefficient for {p}")))
    }

    /// Round 1 in: every peer's nonce commitments. Out: our signature share.
    fn round1(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round1>,
        io: &mut Io<'_, SignMsg>,
    ) -> Result<(), ProtocolError> {
        for (from, r1) in msgs {
            let blame = |f| ProtocolError::culprit(from, f);
            if r1.epoch != self.epoch {
                return Err(blame(Fault::Other(format!(
                    "signs with a share of epoch {}, ours is of epoch {}: shares from before \
                     and after a refresh never sign together",
                    r1.epoch, self.epoch
                ))));
            }
            let hiding = decode_point(&r1.hiding, "hiding nonce commitment").map_err(blame)?;
            let binding = decode_point(&r1.binding, "binding nonce commitment").map_err(blame)?;
            self.commitments.insert(from, NonceCommitment { hiding, binding });
        }

        let binding_factors = binding_factors(&self.public_key, &self.commitments, &self.message);
        let group_commitment = group_commitment(&self.commitments, &binding_factors)
            .ok_or_else(|| ProtocolError::Internal("binding factor missing".into()))?;
        let challenge = challenge(&group_commitment, &self.public_key, &self.message);

        let me = self.me();
        let lambda = self.lambda(me)?;
        let rho = *binding_factors
            .get(&me)
            .ok_or_else(|| ProtocolError::Internal("own binding factor missing".into()))?;
        // Taking the nonces out of the run is what makes them single-use: from here on
        // this run cannot produce another share, whatever happens next.
        let nonces = self.nonces.take().ok_or(ProtocolError::Finished)?;
        let secret = self.secret.take().ok_or(ProtocolError::Finished)?;
        let own_share = nonces.hiding + nonces.binding * rho + lambda * secret.0 * challenge;
        drop(nonces);
        drop(secret);

        io.broadcast::<2>(&Round2 {
            share: own_share.to_bytes(),
            echo: io.echo(1),
        });
        self.aggregation = Some(Aggregation {
            binding_factors,
            group_commitment,
            challenge,
            own_share,
        });
        Ok(())
    }

    /// Round 2 in: every peer's signature share and its view of round 1. Out: the
    /// signature.
    /// The driver has checked every echo first: if a broadcast was inconsistent, the
    /// shares computed over different commitment lists would fail too, and blame the
    /// wrong party.
    fn round2(&mut self, msgs: BTreeMap<PartyIndex, Round2>) -> Result<[u8; 64], ProtocolError> {
        let shares = msgs.into_iter().map(|(from, r2)| (from, r2.share));
        let agg = self
            .aggregation
            .as_ref()
            .ok_or_else(|| ProtocolError::Internal("round 2 before round 1".into()))?;
        let mut z = agg.own_share;
        for (from, bytes) in shares {
            let blame = |f| ProtocolError::culprit(from, f);
            let z_j = decode_scalar(&bytes, "signature share").map_err(blame)?;
            let (Some(commitment), Some(rho), Some(public_share)) = (
                self.commitments.get(&from),
                agg.binding_factors.get(&from),
                self.public_shares.get(&from),
            ) else {
                return Err(ProtocolError::Internal(format!("no round-1 state for {from}")));
            };
            let lambda = self.lambda(from)?;
            if !verify_signature_share(&z_j, commitment, rho, &agg.challenge, &lambda, public_share) {
                return Err(blame(Fault::InvalidPartialSignature));
            }
            z += z_j;
        }

        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&point_to_bytes(&agg.group_commitment));
        signature[32..].copy_from_slice(&z.to_bytes());
        if !verify(&point_to_bytes(&self.public_key), &self.message, &signature) {
            return Err(ProtocolError::Internal(
                "aggregated signature does not verify although every share did".into(),
            ));
        }
        Ok(signature)
    }
}

impl Signing {
    /// The signer set, ascending (empty once the run is over).
    pub fn signers(&self) -> &[PartyIndex] {
        self.rounds().map_or(&[], |r| r.signers())
    }

    /// The message being signed (empty once the run is over).
    pub fn message(&self) -> &[u8] {
        self.rounds().map_or(&[], |r| r.message())
    }
}

impl Rounds for SigningRounds {
    type Msg = SignMsg;
    type Output = [u8; 64];

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<SignMsg>,
        io: &mut Io<'_, SignMsg>,
        _rng: &mut R,
    ) -> Result<Option<[u8; 64]>, ProtocolError> {
        match round {
            1 => self.round1(msgs.take::<1>()?, io).map(|()| None),
            _ => self.round2(msgs.take::<2>()?).map(Some),
        }
    }
}

impl fmt::Debug for SigningRounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningRounds")
            .field("signers", &self.signers)
            .field("epoch", &self.epoch)
            .field("secret", &"<redacted>")
            .field("nonces", &"<redacted>")
            .finish()
    }
}

/// The stand-alone checks of one FROST signing message, for [`crate::recheck`]:
/// `None` for a round this run does not have.
pub(crate) fn recheck_payload(round: u16, payload: &[u8]) -> Option<Result<(), Fault>> {
    Some(match round {
        1 => crate::recheck::decodes::<Round1>(payload).and_then(|r1| {
            decode_point(&r1.hiding, "hiding nonce commitment")?;
            decode_point(&r1.binding, "binding nonce commitment").map(|_| ())
        }),
        2 => crate::recheck::decodes::<Round2>(payload)
            .and_then(|r2| decode_scalar(&r2.share, "signature share").map(|_| ())),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::{start_dkg, EddsaKeyShare};
    use crate::party::Threshold;
    use crate::state_machine::StateMachine;
    use crate::testing::run_to_completion;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn keys(rng: &mut ChaCha20Rng) -> Vec<EddsaKeyShare> {
        let session = SessionId::random(rng);
        let t = Threshold::new(2, 3).unwrap();
        let starts = PartyIndex::range(3)
            .map(|p| start_dkg(session, t, p, rng).unwrap())
            .collect::<Vec<_>>();
        run_to_completion(starts, rng).unwrap().into_values().collect()
    }

    #[test]
    fn nonces_are_taken_when_the_share_is_made() {
        let mut rng = ChaCha20Rng::from_seed([11; 32]);
        let shares = keys(&mut rng);
        let session = SessionId::random(&mut rng);
        let signers = [shares[0].index(), shares[1].index()];
        let (mut a, a1) = start_sign(session, &shares[0], &signers, b"m", &mut rng).unwrap();
        let (mut b, b1) = start_sign(session, &shares[1], &signers, b"m", &mut rng).unwrap();
        let secrets = |run: &Signing| {
            let r = run.rounds().expect("the run is going");
            (r.nonces.is_some(), r.secret.is_some())
        };
        assert_eq!(secrets(&a), (true, true));
        let step = a.handle(b1[0].clone(), &mut rng).unwrap();
        assert_eq!(step.outgoing.len(), 1);
        assert_eq!(secrets(&a), (false, false), "nonces stay in the run");
        // Replaying round 1 cannot make a run sign again: it aborts it, dropping every
        // secret it still held. (A second run of the same signer shows it, so that `a`
        // can finish below.)
        let (mut again, _) = start_sign(session, &shares[0], &signers, b"m", &mut rng).unwrap();
        let _ = again.handle(b1[0].clone(), &mut rng).unwrap();
        assert!(again.handle(b1[0].clone(), &mut rng).is_err());
        assert!(again.is_finished() && again.rounds().is_none());
        let step_b = b.handle(a1[0].clone(), &mut rng).unwrap();
        let done = a.handle(step_b.outgoing[0].clone(), &mut rng).unwrap();
        assert!(done.output.is_some());
        assert_eq!(
            a.handle(b1[0].clone(), &mut rng).unwrap_err(),
            ProtocolError::Finished
        );
    }

    #[test]
    fn runs_can_move_between_threads() {
        fn assert_send<T: Send + Sync>() {}
        assert_send::<Signing>();
    }

    #[test]
    fn debug_redacts_the_secrets() {
        let mut rng = ChaCha20Rng::from_seed([12; 32]);
        let shares = keys(&mut rng);
        let signers = [shares[0].index(), shares[2].index()];
        let (run, _) = start_sign(SessionId::random(&mut rng), &shares[0], &signers, b"m", &mut rng).unwrap();
        let nonces = run.rounds().unwrap().nonces.as_ref().unwrap();
        let text = format!("{run:?}");
        assert!(text.contains("<redacted>"));
        for secret in [nonces.hiding, nonces.binding, *shares[0].secret()] {
            assert!(!text.contains(&hex::encode(secret.to_bytes())));
        }
    }
}
