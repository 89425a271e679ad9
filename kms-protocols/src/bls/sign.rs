//! Threshold BLS signing: one broadcast round of partial signatures.
//!
//! Each signer i broadcasts sigma_i = x_i * H(m) in G2 together with its share's epoch
//! and a digest of what it signs (domain separation tag and message). Every receiver
//! checks each partial on its own, as it arrives, with a pairing, e(X_i, H(m)) == e(g1, sigma_i), using
//! the signer's public share X_i, so a bad partial names its signer. The partials are
//! then combined with Lagrange coefficients at zero, sigma = sum lambda_i * sigma_i =
//! x * H(m), and the result is checked against the group public key with blst's
//! standard verifier before it is returned.
//!
//! # Why there is no echo round
//!
//! Elsewhere an echo makes every honest party act on the same view of a broadcast
//! before anything irrevocable depends on it. Here nothing does: the run changes no
//! state and its only output is a signature that is unique. Since G2 has prime order
//! and the pairing is non-degenerate, x_i * H(m) is the only G2 element that passes the
//! check against X_i, and the Lagrange combination of valid partials is the only valid
//! signature on m under the group key. A signer that sends different payloads to
//! different peers can therefore achieve only this: peers that got its one valid partial
//! finish with the same signature as everyone else, and peers that got anything else
//! (another point, another epoch, another digest, bad bytes) abort naming it. No two
//! honest parties can output different signatures, and the equivocator is identified,
//! which is all an echo round would give.

use super::{verify_with_dst, Bls12381G1, BlsKeyShare, Fr, G1, G2, POP_DST, SIG_DST};
use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::message::{Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId};
use crate::transcript::Transcript;
use crate::vss::lagrange_at_zero;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::Zeroize;

const VERSION: u16 = 1;

/// The round-1 broadcast.
#[derive(Serialize, Deserialize)]
pub struct Partial {
    /// The epoch of the share that made the partial; shares of different epochs never
    /// combine (they lie on different polynomials).
    pub(super) epoch: u64,
    /// Digest of the domain separation tag and the message, so that a signer given a
    /// different message is named as such rather than as a bad signer.
    pub(super) statement: [u8; 32],
    /// sigma_i, compressed (96 bytes).
    pub(super) signature: Vec<u8>,
}

round_messages! {
    /// The messages of BLS signing: one round of partial signatures.
    #[non_exhaustive]
    pub enum SignMsg {
        1 Broadcast Partial(Partial),
    }
}

/// A threshold BLS signing run (or proof-of-possession run) for one signer.
pub type Signing = Driver<SigningRounds>;

/// The round logic of BLS signing. It holds no secret: the local partial signature is
/// computed when the run starts, and the secret share is not kept.
pub struct SigningRounds {
    signers: Vec<PartyIndex>,
    epoch: u64,
    dst: &'static [u8],
    message: Vec<u8>,
    statement: [u8; 32],
    public_key: G1,
    public_shares: BTreeMap<PartyIndex, G1>,
    partials: BTreeMap<PartyIndex, G2>,
}

/// Start signing `message` with `share`, together with `signers` (which include this
/// party, at least `threshold` parties of the key, no duplicates). Returns the run and
/// the partial signature to broadcast; the output is the 96-byte compressed signature,
/// verifiable with [`super::verify`] against [`super::public_key_bytes`].
///
/// `rng` is not used: BLS signing is deterministic. It is taken so that every `start_*`
/// function of the crate has the same shape.
pub fn start_sign<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &BlsKeyShare,
    signers: &[PartyIndex],
    message: &[u8],
    rng: &mut R,
) -> Result<(Signing, Vec<Envelope>), ProtocolError> {
    let _ = rng;
    SigningRounds::start(session, share, signers, message.to_vec(), SIG_DST)
}

/// Start producing a proof of possession of the group public key: a threshold
/// signature of the 48-byte compressed key under [`POP_DST`], verifiable with
/// [`super::verify_pop`]. Same parameters and rounds as [`start_sign`].
pub fn start_pop<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &BlsKeyShare,
    signers: &[PartyIndex],
    rng: &mut R,
) -> Result<(Signing, Vec<Envelope>), ProtocolError> {
    let _ = rng;
    let message = super::public_key_bytes(share).to_vec();
    SigningRounds::start(session, share, signers, message, POP_DST)
}

fn statement_digest(dst: &[u8], message: &[u8]) -> [u8; 32] {
    let mut t = Transcript::new(b"kms-bls-sign-statement");
    t.append(b"dst", dst);
    t.append(b"message", message);
    let c = t.challenge(b"statement");
    let mut out = [0u8; 32];
    out.copy_from_slice(&c[..32]);
    out
}

impl SigningRounds {
    fn start(
        session: SessionId,
        share: &BlsKeyShare,
        signers: &[PartyIndex],
        message: Vec<u8>,
        dst: &'static [u8],
    ) -> Result<(Signing, Vec<Envelope>), ProtocolError> {
        let threshold = share.threshold();
        let me = share.index();
        let set = threshold.signer_set(signers)?;
        let protocol = ProtocolId {
            scheme: Scheme::Bls,
            phase: Phase::Sign,
            version: VERSION,
        };
        let mut secret: Fr = *share.secret();
        let own = G2::hash(&message, dst) * secret;
        secret.zeroize();

        let statement = statement_digest(dst, &message);
        let public_shares = set
            .iter()
            .filter_map(|p| share.public_shares().get(p).map(|x| (*p, *x)))
            .collect();
        Driver::new(protocol, session, me, &set, |io| {
            io.broadcast::<1>(&Partial {
                epoch: share.epoch(),
                statement,
                signature: own.to_compressed().to_vec(),
            });
            Ok(Self {
                signers: set.iter().copied().collect(),
                epoch: share.epoch(),
                dst,
                message,
                statement,
                public_key: *share.public_key(),
                public_shares,
                partials: BTreeMap::from([(me, own)]),
            })
        })
    }

    /// Check one received partial signature, blaming its sender for any fault.
    fn check_partial(&self, from: PartyIndex, p: &Partial) -> Result<G2, ProtocolError> {
        let blame = |f| ProtocolError::culprit(from, f);
        if p.epoch != self.epoch {
            return Err(blame(Fault::Other(format!(
                "partial signature from a share of epoch {}, this share is of epoch {}; \
                 shares of different epochs never sign together",
                p.epoch, self.epoch
            ))));
        }
        if p.statement != self.statement {
            return Err(blame(Fault::Other(
                "partial signature of a different message or domain".into(),
            )));
        }
        let sigma = G2::from_compressed(&p.signature).ok_or_else(|| {
            blame(Fault::InvalidElement(format!(
                "partial signature: not a valid compressed G2 point ({} bytes)",
                p.signature.len()
            )))
        })?;
        if sigma.is_identity() {
            return Err(blame(Fault::InvalidElement("partial signature: identity".into())));
        }
        let public_share = self
            .public_shares
            .get(&from)
            .ok_or_else(|| blame(Fault::UnknownSender))?;
        // e(X_i, H(m)) == e(g1, sigma_i): a standard single-key BLS verification with
        // the public share as the public key.
        if !verify_with_dst(
            &public_share.to_compressed(),
            &self.message,
            &sigma.to_compressed(),
            self.dst,
        ) {
            return Err(blame(Fault::InvalidPartialSignature));
        }
        Ok(sigma)
    }

    /// Combine the partials of every signer (all verified) and check the result.
    fn aggregate(&self) -> Result<[u8; 96], ProtocolError> {
        if self.partials.len() != self.signers.len() {
            return Err(ProtocolError::Internal("a signer's partial is missing".into()));
        }
        let mut signature = G2::identity();
        for (p, sigma) in &self.partials {
            let lambda = lagrange_at_zero::<Bls12381G1>(*p, &self.signers)
                .ok_or_else(|| ProtocolError::Internal("Lagrange coefficient of a signer".into()))?;
            signature = signature + *sigma * lambda;
        }
        let bytes = signature.to_compressed();
        // Every partial verified, so the aggregate must; a failure here is local.
        if !verify_with_dst(&self.public_key.to_compressed(), &self.message, &bytes, self.dst) {
            return Err(ProtocolError::Internal(
                "aggregate signature does not verify against the group public key".into(),
            ));
        }
        Ok(bytes)
    }
}

impl Rounds for SigningRounds {
    type Msg = SignMsg;
    type Output = [u8; 96];

    /// Each partial is checked as it arrives (on its own, against its signer's public
    /// share), so a fault is reported at once, not when the last partial is in.
    fn on_arrival(&mut self, from: PartyIndex, msg: &SignMsg) -> Result<(), ProtocolError> {
        let SignMsg::Partial(p) = msg;
        let sigma = self.check_partial(from, p)?;
        self.partials.insert(from, sigma);
        Ok(())
    }

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        _round: u16,
        _msgs: Incoming<SignMsg>,
        _io: &mut Io<'_, SignMsg>,
        _rng: &mut R,
    ) -> Result<Option<[u8; 96]>, ProtocolError> {
        self.aggregate().map(Some)
    }
}

/// The stand-alone checks of one BLS signing (or proof-of-possession) message, for
/// [`crate::recheck`]: `None` for a round this run does not have.
pub(super) fn recheck_payload(round: u16, payload: &[u8]) -> Option<Result<(), Fault>> {
    match round {
        1 => Some(crate::recheck::decodes::<Partial>(payload).map(|_| ())),
        _ => None,
    }
}
