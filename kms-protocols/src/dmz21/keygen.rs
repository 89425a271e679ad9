//! DMZ21 key generation at (t, n): every holder's CL key setup (checked with the promise
//! proof [`ClKeyProof`]) and EC-ElGamal key, together with a Feldman-VSS DKG of the
//! secp256k1 key (commit-then-reveal, proofs of knowledge, a confirmation round), in
//! three rounds on the round driver:
//!
//! 1. broadcast: `pk̂_i`, `pk_i = pk̂_i^q` with the CL key proof, `Y_i` with a Schnorr
//!    proof, and a hash commitment to the dealer's Feldman commitments and its proof of
//!    knowledge of the constant term;
//! 2. point-to-point: the reveal, the share `f_i(j)` and an echo of round 1 (so a CL key
//!    shown differently to two holders is caught as an equivocation);
//! 3. broadcast: a hash of the whole public outcome (every holder's keys, commitments,
//!    public key and public shares); the share is output only if every holder agrees.

use super::key_share::{Dmz21KeyShare, PartyKeys};
use super::proofs::{ClKeyProof, ClKeyStatement};
use super::PROTOCOL_VERSION;
use crate::class_group::cl_hsm::{ClParams, SecretKey};
use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::gg18::secp256k1::{decode_point, encode_point, Secp256k1};
use crate::group::Group;
use crate::inbox::Echo;
use crate::key_share::KeyShare;
use crate::message::{Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId, Threshold};
use crate::schnorr::SchnorrProof;
use crate::transcript::Transcript;
use crate::vss::{check_opening, commitment_hash, deal_share, receive_share, Commitments, Polynomial};
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::Zeroize;

const COMMITMENT_DOMAIN: &[u8] = b"dmz21-keygen-commitment";
const ELGAMAL_CONTEXT: &[u8] = b"dmz21-keygen-elgamal-key";

/// Round 1: the holder's public keys with their proofs, and the VSS commitment hash.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeygenRound1 {
    pub(crate) cl_pk_hat: Vec<u8>,
    pub(crate) cl_pk: Vec<u8>,
    pub(crate) cl_proof: ClKeyProof,
    pub(crate) elgamal: Vec<u8>,
    pub(crate) elgamal_proof: SchnorrProof,
    pub(crate) commitment: [u8; 32],
}

/// Round 2: the dealer's reveal, its share for the recipient, and its view of round 1.
/// Zeroized on drop (it carries a secret share).
#[derive(Clone, Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
pub struct KeygenRound2 {
    #[zeroize(skip)]
    pub(crate) commitments: Vec<Vec<u8>>,
    #[zeroize(skip)]
    pub(crate) proof: SchnorrProof,
    pub(crate) blind: [u8; 32],
    pub(crate) share: Vec<u8>,
    #[zeroize(skip)]
    pub(crate) echo: Echo,
}

/// Round 3: the confirmation of the public outcome.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeygenRound3 {
    pub(crate) confirmation: [u8; 32],
}

round_messages! {
    /// The messages of DMZ21 key generation, one variant per round.
    #[non_exhaustive]
    pub enum KeygenMsg {
        1 Broadcast Keys(KeygenRound1),
        2 P2p Deal(KeygenRound2) echoes 1,
        3 Broadcast Confirm(KeygenRound3),
    }
}

/// A DMZ21 key generation run; its output is the party's [`Dmz21KeyShare`].
pub type Dmz21Keygen = Driver<KeygenRounds>;

/// The round logic of one holder's key generation.
pub struct KeygenRounds {
    params: ClParams,
    threshold: Threshold,
    cl_secret: Option<SecretKey>,
    elgamal_secret: Scalar,
    keys: BTreeMap<PartyIndex, PartyKeys>,
    polynomial: Option<Polynomial<Secp256k1>>,
    commitments_raw: Vec<Vec<u8>>,
    proof: SchnorrProof,
    blind: [u8; 32],
    hashes: BTreeMap<PartyIndex, [u8; 32]>,
    commitments: BTreeMap<PartyIndex, Commitments<Secp256k1>>,
    share_sum: Scalar,
    result: Option<Dmz21KeyShare>,
    confirmation: [u8; 32],
}

impl Drop for KeygenRounds {
    fn drop(&mut self) {
        self.elgamal_secret.zeroize();
        self.share_sum.zeroize();
        self.blind.zeroize();
    }
}

/// The protocol id of DMZ21 key generation.
pub fn protocol() -> ProtocolId {
    ProtocolId {
        scheme: Scheme::Dmz21,
        phase: Phase::Dkg,
        version: PROTOCOL_VERSION,
    }
}

/// What the round-1 hash binds besides the Feldman commitments: the run, (t, n) and
/// the proof of knowledge of the constant term.
fn commitment_context(threshold: Threshold, proof: &SchnorrProof) -> Vec<u8> {
    crate::message::encode(&("DMZ21/keygen", threshold.threshold, threshold.parties, proof))
}

fn pok_context(c: &Commitments<Secp256k1>) -> Vec<u8> {
    c.to_bytes().concat()
}

/// Start key generation for holder `me` of `threshold` with the CL parameters
/// `params`. Returns the run and its round-1 message.
pub fn start_keygen<R: RngCore + CryptoRng>(
    params: &ClParams,
    session: SessionId,
    threshold: Threshold,
    me: PartyIndex,
    rng: &mut R,
) -> Result<(Dmz21Keygen, Vec<Envelope>), ProtocolError> {
    Threshold::new(threshold.threshold, threshold.parties)?;
    if !threshold.contains(me) {
        return Err(ProtocolError::InvalidParameters(format!("{me} is not a holder")));
    }
    let parties = PartyIndex::range(threshold.parties).collect();
    Driver::new(protocol(), session, me, &parties, |io| {
        let (cl_secret, mut cl_public) = params.keygen(rng);
        let statement = ClKeyStatement::for_secret(params, cl_secret.exponent());
        let cl_proof = ClKeyProof::prove(params, &statement, cl_secret.exponent(), &session, me, rng);
        cl_public.precompute(params);
        let elgamal_secret = Secp256k1::random_scalar(rng);
        let elgamal = Secp256k1::mul_base(&elgamal_secret);
        let elgamal_proof = SchnorrProof::prove::<Secp256k1, R>(
            &elgamal_secret,
            &elgamal,
            ELGAMAL_CONTEXT,
            &session,
            me,
            rng,
        );

        let secret = Secp256k1::random_scalar(rng);
        let polynomial = Polynomial::<Secp256k1>::random(secret, threshold.threshold, rng);
        let commitments = polynomial.commit();
        let proof = SchnorrProof::prove::<Secp256k1, R>(
            polynomial.constant(),
            &commitments.constant(),
            &pok_context(&commitments),
            &session,
            me,
            rng,
        );
        let mut blind = [0u8; 32];
        rng.fill_bytes(&mut blind);
        let commitments_raw = commitments.to_bytes();
        let commitment = commitment_hash(
            COMMITMENT_DOMAIN,
            &session,
            me,
            &commitment_context(threshold, &proof),
            &commitments_raw,
            &blind,
        );
        let g = params.group();
        io.broadcast::<1>(&KeygenRound1 {
            cl_pk_hat: g.encode(&statement.pk_hat),
            cl_pk: g.encode(&statement.pk),
            cl_proof,
            elgamal: encode_point(&elgamal),
            elgamal_proof,
            commitment,
        });
        Ok(KeygenRounds {
            params: params.clone(),
            threshold,
            cl_secret: Some(cl_secret),
            elgamal_secret,
            keys: BTreeMap::from([(
                me,
                PartyKeys {
                    cl: cl_public,
                    elgamal,
                },
            )]),
            polynomial: Some(polynomial),
            commitments_raw,
            proof,
            blind,
            hashes: BTreeMap::new(),
            commitments: BTreeMap::from([(me, commitments)]),
            share_sum: Scalar::ZERO,
            result: None,
            confirmation: [0; 32],
        })
    })
}

impl KeygenRounds {
    /// Check one holder's public keys and their proofs.
    fn check_keys(
        &self,
        session: &SessionId,
        from: PartyIndex,
        r1: &KeygenRound1,
    ) -> Result<PartyKeys, Fault> {
        let params = &self.params;
        let g = params.group();
        let element = |b: &[u8], what: &str| {
            g.decode(b)
                .map_err(|e| Fault::InvalidElement(format!("{what}: {e}")))
        };
        let statement = ClKeyStatement {
            pk_hat: element(&r1.cl_pk_hat, "CL pk_hat")?,
            pk: element(&r1.cl_pk, "CL public key")?,
        };
        r1.cl_proof.verify(params, &statement, session, from)?;
        let elgamal = decode_point(&r1.elgamal, "EC-ElGamal key")?;
        r1.elgamal_proof
            .verify::<Secp256k1>(&elgamal, ELGAMAL_CONTEXT, session, from)?;
        let mut cl = params.public_key_from_form(statement.pk);
        cl.precompute(params);
        Ok(PartyKeys { cl, elgamal })
    }

    /// Every holder's keys and commitment are in: check the keys, reveal, deal shares.
    fn round1(
        &mut self,
        msgs: BTreeMap<PartyIndex, KeygenRound1>,
        io: &mut Io<'_, KeygenMsg>,
    ) -> Result<(), ProtocolError> {
        let session = io.session();
        for (from, r1) in msgs {
            let keys = self
                .check_keys(&session, from, &r1)
                .map_err(|f| ProtocolError::culprit(from, f))?;
            if keys.cl == self.keys[&io.me()].cl || keys.elgamal == self.keys[&io.me()].elgamal {
                return Err(ProtocolError::culprit(
                    from,
                    Fault::Other("replays our own public key".into()),
                ));
            }
            self.keys.insert(from, keys);
            self.hashes.insert(from, r1.commitment);
        }
        let poly = self.polynomial.as_ref().ok_or(ProtocolError::Finished)?;
        self.share_sum = poly.evaluate(io.me());
        let echo = io.echo(1);
        for to in io.peers() {
            let share = deal_share(poly, to);
            io.send::<2>(
                to,
                &KeygenRound2 {
                    commitments: self.commitments_raw.clone(),
                    proof: self.proof.clone(),
                    blind: self.blind,
                    share: share.to_vec(),
                    echo: echo.clone(),
                },
            );
        }
        Ok(())
    }

    /// Every reveal and share is in: check them, compute the share and confirm.
    fn round2(
        &mut self,
        msgs: BTreeMap<PartyIndex, KeygenRound2>,
        io: &mut Io<'_, KeygenMsg>,
    ) -> Result<(), ProtocolError> {
        let session = io.session();
        let me = io.me();
        for (from, r2) in msgs {
            let blame = |f| ProtocolError::culprit(from, f);
            let expected = self
                .hashes
                .get(&from)
                .ok_or_else(|| ProtocolError::Internal(format!("no round-1 commitment of {from}")))?;
            check_opening(
                COMMITMENT_DOMAIN,
                &session,
                from,
                &commitment_context(self.threshold, &r2.proof),
                &r2.commitments,
                &r2.blind,
                expected,
            )
            .map_err(blame)?;
            let c = Commitments::<Secp256k1>::from_bytes(&r2.commitments, self.threshold.threshold, false)
                .map_err(blame)?;
            r2.proof
                .verify::<Secp256k1>(&c.constant(), &pok_context(&c), &session, from)
                .map_err(blame)?;
            let mut share = receive_share::<Secp256k1>(me, from, &r2.share, Some(&c), false)?;
            self.share_sum += share;
            share.zeroize();
            self.commitments.insert(from, c);
        }
        self.polynomial = None;
        let combined = |at: PartyIndex| {
            self.commitments
                .values()
                .fold(ProjectivePoint::IDENTITY, |acc, c| acc + c.evaluate(at))
        };
        let public_key = self
            .commitments
            .values()
            .fold(ProjectivePoint::IDENTITY, |acc, c| acc + c.constant());
        let public_shares = PartyIndex::range(self.threshold.parties)
            .map(|p| (p, combined(p)))
            .collect();
        let share = KeyShare::new(self.threshold, me, self.share_sum, public_key, public_shares, 0)
            .map_err(|e| ProtocolError::Internal(format!("resulting share: {e}")))?;
        self.share_sum.zeroize();
        let cl_secret = self.cl_secret.take().ok_or(ProtocolError::Finished)?;
        let out = Dmz21KeyShare {
            share,
            cl_secret,
            elgamal_secret: self.elgamal_secret,
            keys: std::mem::take(&mut self.keys),
        };
        self.confirmation = confirmation_hash(&self.params, &session, &self.commitments, &out);
        self.result = Some(out);
        io.broadcast::<3>(&KeygenRound3 {
            confirmation: self.confirmation,
        });
        Ok(())
    }

    fn round3(&mut self, msgs: BTreeMap<PartyIndex, KeygenRound3>) -> Result<Dmz21KeyShare, ProtocolError> {
        for (from, r3) in msgs {
            if r3.confirmation != self.confirmation {
                return Err(ProtocolError::culprit(from, Fault::BadConfirmation));
            }
        }
        self.result.take().ok_or(ProtocolError::Finished)
    }
}

/// The hash of everything public the holders must agree on.
fn confirmation_hash(
    params: &ClParams,
    session: &SessionId,
    commitments: &BTreeMap<PartyIndex, Commitments<Secp256k1>>,
    out: &Dmz21KeyShare,
) -> [u8; 32] {
    let g = params.group();
    let mut t = Transcript::new(b"dmz21-keygen-confirmation");
    t.append(b"session", &session.0);
    t.append(b"discriminant", &g.discriminant().to_bytes_be());
    let th = out.threshold();
    t.append_u64(b"t", u64::from(th.threshold));
    t.append_u64(b"n", u64::from(th.parties));
    for (p, k) in &out.keys {
        t.append_u64(b"holder", u64::from(p.get()));
        t.append(b"cl-pk", &g.encode(k.cl.form()));
        t.append(b"elgamal", &encode_point(&k.elgamal));
    }
    for (dealer, c) in commitments {
        t.append_u64(b"dealer", u64::from(dealer.get()));
        for e in &c.0 {
            t.append(b"commitment", &encode_point(e));
        }
    }
    t.append(b"public-key", &encode_point(out.public_key()));
    for (p, x) in out.public_shares() {
        t.append_u64(b"party", u64::from(p.get()));
        t.append(b"public-share", &encode_point(x));
    }
    let c = t.challenge(b"confirmation");
    let mut h = [0u8; 32];
    h.copy_from_slice(&c[..32]);
    h
}

impl Rounds for KeygenRounds {
    type Msg = KeygenMsg;
    type Output = Dmz21KeyShare;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<KeygenMsg>,
        io: &mut Io<'_, KeygenMsg>,
        _rng: &mut R,
    ) -> Result<Option<Dmz21KeyShare>, ProtocolError> {
        match round {
            1 => self.round1(msgs.take::<1>()?, io).map(|()| None),
            2 => self.round2(msgs.take::<2>()?, io).map(|()| None),
            _ => self.round3(msgs.take::<3>()?).map(Some),
        }
    }
}
