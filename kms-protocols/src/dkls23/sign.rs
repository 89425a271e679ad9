//! Three-round signing (the paper's Protocol 3.6), with rounds 1-2 usable as a
//! presignature. See docs/dkls23.md §7.
//!
//! Each round is a small function over typed messages (`Round1`, `Round2`, `Round3`);
//! [`Presign`], [`Sign`] and [`OnlineSign`] are the crate's one round [`Driver`] over
//! them (the online round resumes the presigning run's session at round 3).

use super::hash::Tagged;
use super::mul::{self, BobMul, MulMessage};
use super::ot::ext::{self, ExtMessage, SenderSetup};
use super::{zero_share, Dkls23KeyShare, VERSION};
use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::gg18::secp256k1::{scalar_from_digest, x_coordinate, Secp256k1};
use crate::gg18::signature::EcdsaSignature;
use crate::group::Group;
use crate::message::{Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId};
use crate::vss::lagrange_at_zero;
use k256::elliptic_curve::PrimeField;
use k256::{FieldBytes, ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::{Zeroize, Zeroizing};

fn protocol() -> ProtocolId {
    ProtocolId {
        scheme: Scheme::Dkls23,
        phase: Phase::Sign,
        version: VERSION,
    }
}

/// Round 1, to each other signer: a commitment to `R_i` and Bob's OT extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round1 {
    /// The sender's setup id: a peer on another setup or epoch is told apart from one
    /// that fails the OT-extension check (which would be a ban).
    pub setup_id: [u8; 32],
    /// `H(sign_sid, i, R_i, salt)`.
    pub commitment: [u8; 32],
    /// Bob's OT-extension message for the instance (Alice = recipient, Bob = sender).
    pub ext: ExtMessage,
}

/// Round 2, to each other signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round2 {
    /// The opening of the round-1 commitment: `R_i` ...
    pub big_r: Vec<u8>,
    /// ... and its salt.
    pub salt: [u8; 32],
    /// `pk_i = sk_i·G` for this signing's additive share.
    pub pk: Vec<u8>,
    /// `Γ^u = c^u·G`.
    pub gamma_u: Vec<u8>,
    /// `Γ^v = c^v·G`.
    pub gamma_v: Vec<u8>,
    /// `ψ_ij = φ_i − b_ij`.
    pub psi: [u8; 32],
    /// Alice's multiplication message.
    pub mul: MulMessage,
}

/// Round 3, broadcast: the signature shares, and `R_i`, `pk_i` again so that a signer
/// that opened different values to different peers is caught.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round3 {
    /// `u_i`.
    pub u: [u8; 32],
    /// `w_i = H(m)·φ_i + r_x·v_i`.
    pub w: [u8; 32],
    /// `R_i`.
    pub big_r: Vec<u8>,
    /// `pk_i`.
    pub pk: Vec<u8>,
}

fn esid(sign_sid: &[u8; 32], alice: PartyIndex, bob: PartyIndex) -> [u8; 32] {
    Tagged::new("cote")
        .item(sign_sid)
        .u64(u64::from(alice.get()))
        .u64(u64::from(bob.get()))
        .finish()
}

fn commit_r(sign_sid: &[u8; 32], i: PartyIndex, big_r: &[u8], salt: &[u8; 32]) -> [u8; 32] {
    Tagged::new("commit-R")
        .item(sign_sid)
        .u64(u64::from(i.get()))
        .item(big_r)
        .item(salt)
        .finish()
}

/// The signing session id: the caller's fresh session bound to the key's setup, its
/// epoch and the signer set.
pub(crate) fn sign_sid(session: &SessionId, share: &Dkls23KeyShare, signers: &[PartyIndex]) -> [u8; 32] {
    let mut t = Tagged::new("sign");
    t.item(&session.0).item(&share.setup_id).u64(share.share.epoch());
    for s in signers {
        t.u64(u64::from(s.get()));
    }
    t.finish()
}

fn scalar(b: &[u8; 32], what: &str) -> Result<Scalar, Fault> {
    Option::from(Scalar::from_repr(FieldBytes::from(*b)))
        .ok_or_else(|| Fault::InvalidScalar(format!("{what}: not canonical")))
}

fn point(b: &[u8], what: &str) -> Result<ProjectivePoint, Fault> {
    crate::group::decode_element::<Secp256k1>(b, what)
}

struct PeerState {
    alice: SenderSetup,
    bob: Option<BobMul>,
    b: Scalar,
    commitment: [u8; 32],
    c: Zeroizing<[Scalar; 2]>,
}

impl Drop for PeerState {
    fn drop(&mut self) {
        self.b.zeroize();
    }
}

/// The state of rounds 1-2 for one signer.
struct Core {
    session: SessionId,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    sid: [u8; 32],
    setup_id: [u8; 32],
    public_key: ProjectivePoint,
    lambda_x: Scalar,
    zero_seeds: BTreeMap<PartyIndex, [u8; 32]>,
    r: Scalar,
    phi: Scalar,
    sk: Scalar,
    big_r: Vec<u8>,
    pk: Vec<u8>,
    salt: [u8; 32],
    peers: BTreeMap<PartyIndex, PeerState>,
    /// Tests only: a malicious signer that shifts its additive share consistently.
    #[cfg(test)]
    cheat_sk: Scalar,
}

impl Drop for Core {
    fn drop(&mut self) {
        self.lambda_x.zeroize();
        self.r.zeroize();
        self.phi.zeroize();
        self.sk.zeroize();
        self.zero_seeds.values_mut().for_each(|s| s.zeroize());
    }
}

impl Core {
    fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        share: &Dkls23KeyShare,
        signers: &[PartyIndex],
        rng: &mut R,
    ) -> Result<(Self, Vec<(PartyIndex, Round1)>), ProtocolError> {
        let set = share.share.threshold().signer_set(signers)?;
        let me = share.share.index();
        if !set.contains(&me) {
            return Err(ProtocolError::InvalidParameters(format!("{me} is not a signer")));
        }
        let signers: Vec<PartyIndex> = set.into_iter().collect();
        let sid = sign_sid(&session, share, &signers);
        let lambda = lagrange_at_zero::<Secp256k1>(me, &signers)
            .ok_or_else(|| ProtocolError::InvalidParameters("signer set".into()))?;
        let r = Secp256k1::random_scalar(rng);
        let phi = Secp256k1::random_scalar(rng);
        let big_r = Secp256k1::element_to_bytes(&Secp256k1::mul_base(&r));
        let mut salt = [0u8; 32];
        rng.fill_bytes(&mut salt);
        let commitment = commit_r(&sid, me, &big_r, &salt);
        let mut peers = BTreeMap::new();
        let mut zero_seeds = BTreeMap::new();
        let mut out = Vec::new();
        for j in signers.iter().copied().filter(|j| *j != me) {
            let pair = share
                .pairs
                .get(&j)
                .ok_or_else(|| ProtocolError::InvalidParameters(format!("no setup material for {j}")))?;
            let (ot, ext) = ext::receive(&pair.bob, &esid(&sid, j, me));
            let bob = BobMul::new(ot, &mul::gadget(&share.setup_id, j, me));
            zero_seeds.insert(j, pair.zero_seed);
            peers.insert(
                j,
                PeerState {
                    alice: pair.alice.duplicate(),
                    b: *bob.b(),
                    bob: Some(bob),
                    commitment: [0; 32],
                    c: Zeroizing::new([Scalar::ZERO; 2]),
                },
            );
            out.push((
                j,
                Round1 {
                    setup_id: share.setup_id,
                    commitment,
                    ext,
                },
            ));
        }
        let core = Self {
            session,
            me,
            signers,
            sid,
            setup_id: share.setup_id,
            public_key: *share.share.public_key(),
            lambda_x: lambda * share.share.secret(),
            zero_seeds,
            r,
            phi,
            sk: Scalar::ZERO,
            big_r,
            pk: Vec::new(),
            salt,
            peers,
            #[cfg(test)]
            cheat_sk: Scalar::ZERO,
        };
        Ok((core, out))
    }

    /// Round 1 received: check each Bob's extension (ban), then act as Alice.
    fn round1<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round1>,
        rng: &mut R,
    ) -> Result<Vec<(PartyIndex, Round2)>, ProtocolError> {
        let me = self.me;
        let zeta = zero_share::zeta(me, &self.zero_seeds, &self.signers, &self.sid)
            .ok_or_else(|| ProtocolError::Internal("zero-share seed missing".into()))?;
        self.sk = self.lambda_x + zeta;
        #[cfg(test)]
        {
            self.sk += self.cheat_sk;
        }
        self.pk = Secp256k1::element_to_bytes(&Secp256k1::mul_base(&self.sk));
        let mut out = Vec::new();
        for (j, m) in msgs {
            let blame = |f| ProtocolError::culprit(j, f);
            if m.setup_id != self.setup_id {
                return Err(blame(Fault::WrongSession(
                    "another setup or epoch of this key".into(),
                )));
            }
            let peer = self.peers.get_mut(&j).ok_or(blame(Fault::UnknownSender))?;
            let e = esid(&self.sid, me, j);
            let ot = ext::send(&peer.alice, &e, &m.ext).map_err(blame)?;
            peer.commitment = m.commitment;
            let (c, mul) = mul::alice(
                ot,
                &e,
                &mul::gadget(&self.setup_id, me, j),
                &[self.r, self.sk],
                rng,
            );
            let mut psi = self.phi - peer.b;
            out.push((
                j,
                Round2 {
                    big_r: self.big_r.clone(),
                    salt: self.salt,
                    pk: self.pk.clone(),
                    gamma_u: Secp256k1::element_to_bytes(&Secp256k1::mul_base(&c[0])),
                    gamma_v: Secp256k1::element_to_bytes(&Secp256k1::mul_base(&c[1])),
                    psi: psi.to_bytes().into(),
                    mul,
                },
            ));
            psi.zeroize();
            peer.c = c;
        }
        Ok(out)
    }

    /// Round 2 received: the consistency checks, then the presignature.
    fn round2(mut self, msgs: BTreeMap<PartyIndex, Round2>) -> Result<Presignature, ProtocolError> {
        let me = self.me;
        let mut phi_sum = self.phi;
        let mut u_cross = Scalar::ZERO;
        let mut v_cross = Scalar::ZERO;
        let mut big_r = Secp256k1::mul_base(&self.r);
        let mut pk_sum = Secp256k1::mul_base(&self.sk);
        let mut views = BTreeMap::new();
        for (j, m) in msgs {
            let blame = |f| ProtocolError::culprit(j, f);
            let ban = |what: &str| ProtocolError::culprit(j, Fault::Ban(what.into()));
            let peer = self.peers.get_mut(&j).ok_or(blame(Fault::UnknownSender))?;
            if commit_r(&self.sid, j, &m.big_r, &m.salt) != peer.commitment {
                return Err(blame(Fault::BadDecommitment));
            }
            let r_j = point(&m.big_r, "R_j").map_err(blame)?;
            let pk_j = point(&m.pk, "pk_j").map_err(blame)?;
            let gamma_u = point(&m.gamma_u, "Γ^u").map_err(blame)?;
            let gamma_v = point(&m.gamma_v, "Γ^v").map_err(blame)?;
            let psi = scalar(&m.psi, "ψ").map_err(blame)?;
            let bob = peer.bob.take().ok_or(ProtocolError::Finished)?;
            let d = bob
                .finish(
                    &esid(&self.sid, j, me),
                    &mul::gadget(&self.setup_id, j, me),
                    &m.mul,
                )
                .map_err(blame)?;
            // j's multiplication inputs must be the r_j and sk_j behind R_j and pk_j.
            if r_j * peer.b != Secp256k1::mul_base(&d[0]) + gamma_u {
                return Err(ban("Γ^u inconsistent with R_j"));
            }
            // The paper prints λ_j·P(j) here; with the zero shares that is not j's
            // additive share, so the check is against pk_j (the authors' correction).
            if pk_j * peer.b != Secp256k1::mul_base(&d[1]) + gamma_v {
                return Err(ban("Γ^v inconsistent with pk_j"));
            }
            phi_sum += psi;
            u_cross += peer.c[0] + d[0];
            v_cross += peer.c[1] + d[1];
            big_r += r_j;
            pk_sum += pk_j;
            views.insert(j, (m.big_r, m.pk));
        }
        if pk_sum != self.public_key {
            let msg = "the signers' pk_i do not sum to the public key";
            return Err(match self.peers.keys().collect::<Vec<_>>()[..] {
                [only] => ProtocolError::culprit(*only, Fault::Other(msg.into())),
                _ => ProtocolError::Unattributable(msg.into()),
            });
        }
        let (r_x, x_reduced, y_odd) =
            x_coordinate(&big_r).ok_or_else(|| ProtocolError::Unattributable("R is the identity".into()))?;
        let u = self.r * phi_sum + u_cross;
        let v = self.sk * phi_sum + v_cross;
        phi_sum.zeroize();
        u_cross.zeroize();
        v_cross.zeroize();
        Ok(Presignature {
            session: self.session,
            me,
            signers: std::mem::take(&mut self.signers),
            public_key: self.public_key,
            r_x,
            x_reduced,
            y_odd,
            u,
            v,
            phi: self.phi,
            big_r_i: std::mem::take(&mut self.big_r),
            pk_i: std::mem::take(&mut self.pk),
            views,
        })
    }
}

/// The output of rounds 1-2: everything a signer needs to sign one message in one more
/// round. Use it once: two messages signed with one presignature reveal the key. It is
/// consumed by [`start_sign_with`], is not `Clone`, and the caller must mark it consumed
/// durably before the round-3 message leaves.
pub struct Presignature {
    session: SessionId,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    public_key: ProjectivePoint,
    r_x: Scalar,
    x_reduced: bool,
    y_odd: bool,
    u: Scalar,
    v: Scalar,
    phi: Scalar,
    big_r_i: Vec<u8>,
    pk_i: Vec<u8>,
    views: BTreeMap<PartyIndex, (Vec<u8>, Vec<u8>)>,
}

impl Presignature {
    /// The session it was made in (its round-3 messages carry this session id).
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The signers it was made for.
    pub fn signers(&self) -> &[PartyIndex] {
        &self.signers
    }

    /// The nonce point's x-coordinate (r of the signature), public.
    pub fn r(&self) -> [u8; 32] {
        self.r_x.to_bytes().into()
    }

    fn round3(&self, hash: &[u8; 32]) -> Round3 {
        let mut w = scalar_from_digest(hash) * self.phi + self.r_x * self.v;
        let out = Round3 {
            u: self.u.to_bytes().into(),
            w: w.to_bytes().into(),
            big_r: self.big_r_i.clone(),
            pk: self.pk_i.clone(),
        };
        w.zeroize();
        out
    }

    fn combine(
        &self,
        hash: &[u8; 32],
        msgs: BTreeMap<PartyIndex, Round3>,
    ) -> Result<EcdsaSignature, ProtocolError> {
        let own = self.round3(hash);
        let mut u_sum = self.u;
        let mut w_sum = scalar(&own.w, "w").map_err(|f| ProtocolError::Internal(f.to_string()))?;
        for (j, m) in msgs {
            let blame = |f| ProtocolError::culprit(j, f);
            let (big_r, pk) = self.views.get(&j).ok_or(blame(Fault::UnknownSender))?;
            if *big_r != m.big_r || *pk != m.pk {
                return Err(blame(Fault::InconsistentBroadcast { reporter: self.me }));
            }
            u_sum += scalar(&m.u, "u").map_err(blame)?;
            w_sum += scalar(&m.w, "w").map_err(blame)?;
        }
        let inv = Option::<Scalar>::from(u_sum.invert())
            .ok_or_else(|| ProtocolError::Unattributable("Σu is zero".into()))?;
        let s = w_sum * inv;
        let sig = EcdsaSignature::normalised(&self.r_x, &s, self.y_odd, self.x_reduced);
        verify(&self.public_key, hash, &sig)
            .map_err(|_| ProtocolError::Unattributable("the combined signature does not verify".into()))?;
        Ok(sig)
    }
}

/// Verify with k256's standard verifier (also used by the tests).
pub(crate) fn verify(pk: &ProjectivePoint, hash: &[u8; 32], sig: &EcdsaSignature) -> Result<(), ()> {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    let vk = k256::ecdsa::VerifyingKey::from_affine(pk.to_affine()).map_err(|_| ())?;
    let s = sig.to_k256().map_err(|_| ())?;
    vk.verify_prehash(hash, &s).map_err(|_| ())
}

impl Drop for Presignature {
    fn drop(&mut self) {
        self.u.zeroize();
        self.v.zeroize();
        self.phi.zeroize();
    }
}

impl std::fmt::Debug for Presignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presignature")
            .field("session", &self.session)
            .field("party", &self.me)
            .field("signers", &self.signers)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

round_messages! {
    /// The messages of signing, one variant per round: rounds 1-2 are presigning,
    /// round 3 the online round.
    pub enum SignMsg {
        1 P2p Commit(Round1),
        2 P2p Open(Round2),
        3 Broadcast Online(Round3),
    }
}

/// The round logic of presigning (rounds 1-2): outputs a [`Presignature`].
pub struct PresignRounds {
    me: PartyIndex,
    core: Option<Core>,
}

impl std::fmt::Debug for PresignRounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignRounds")
            .field("party", &self.me)
            .finish_non_exhaustive()
    }
}

impl PresignRounds {
    /// A run of rounds 1-2 (the messages of round 3 are buffered by the driver).
    fn start<P: Rounds<Msg = SignMsg>, R: RngCore + CryptoRng>(
        session: SessionId,
        share: &Dkls23KeyShare,
        signers: &[PartyIndex],
        rng: &mut R,
        wrap: impl FnOnce(Self) -> P,
    ) -> Result<(Driver<P>, Vec<Envelope>), ProtocolError> {
        let (core, msgs) = Core::start(session, share, signers, rng)?;
        let parties = core.signers.iter().copied().collect();
        let me = core.me;
        Driver::new(protocol(), session, me, &parties, |io| {
            for (j, m) in &msgs {
                io.send::<1>(*j, m);
            }
            Ok(wrap(Self { me, core: Some(core) }))
        })
    }

    /// Rounds 1 and 2; the presignature after round 2.
    fn pre_round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<SignMsg>,
        io: &mut Io<'_, SignMsg>,
        rng: &mut R,
    ) -> Result<Option<Presignature>, ProtocolError> {
        match round {
            1 => {
                let msgs = msgs.take::<1>()?;
                let core = self.core.as_mut().ok_or(ProtocolError::Finished)?;
                for (j, m) in core.round1(msgs, rng)? {
                    io.send::<2>(j, &m);
                }
                Ok(None)
            }
            2 => {
                let msgs = msgs.take::<2>()?;
                let core = self.core.take().ok_or(ProtocolError::Finished)?;
                core.round2(msgs).map(Some)
            }
            _ => Err(ProtocolError::Internal(format!(
                "presigning has no round {round}"
            ))),
        }
    }
}

impl Rounds for PresignRounds {
    type Msg = SignMsg;
    type Output = Presignature;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<SignMsg>,
        io: &mut Io<'_, SignMsg>,
        rng: &mut R,
    ) -> Result<Option<Presignature>, ProtocolError> {
        self.pre_round(round, msgs, io, rng)
    }
}

/// A presigning run (rounds 1-2): outputs a [`Presignature`].
pub type Presign = Driver<PresignRounds>;

impl Presign {
    pub(crate) fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        share: &Dkls23KeyShare,
        signers: &[PartyIndex],
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        PresignRounds::start(session, share, signers, rng, |pre| pre)
    }
}

/// The round logic of the online round (round 3) for one message.
pub struct OnlineRounds {
    presig: Option<Presignature>,
    hash: [u8; 32],
}

impl std::fmt::Debug for OnlineRounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineRounds")
            .field("presignature", &self.presig)
            .finish_non_exhaustive()
    }
}

impl OnlineRounds {
    /// Send our round-3 message and keep what combining needs.
    fn start(presig: Presignature, hash: [u8; 32], io: &mut Io<'_, SignMsg>) -> Self {
        io.broadcast::<3>(&presig.round3(&hash));
        Self {
            presig: Some(presig),
            hash,
        }
    }

    fn online_round(&mut self, round: u16, msgs: Incoming<SignMsg>) -> Result<EcdsaSignature, ProtocolError> {
        if round != 3 {
            return Err(ProtocolError::Internal(format!(
                "the online round is 3, not {round}"
            )));
        }
        let msgs = msgs.take::<3>()?;
        let presig = self.presig.take().ok_or(ProtocolError::Finished)?;
        presig.combine(&self.hash, msgs)
    }
}

impl Rounds for OnlineRounds {
    type Msg = SignMsg;
    type Output = EcdsaSignature;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<SignMsg>,
        _io: &mut Io<'_, SignMsg>,
        _rng: &mut R,
    ) -> Result<Option<EcdsaSignature>, ProtocolError> {
        self.online_round(round, msgs).map(Some)
    }
}

/// The online round (round 3) for one message.
pub type OnlineSign = Driver<OnlineRounds>;

impl OnlineSign {
    pub(crate) fn start(
        presig: Presignature,
        hash: [u8; 32],
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        let parties = presig.signers.iter().copied().collect();
        // Rounds 1-2 were the presigning run's; this run takes round 3 only.
        Driver::resume(protocol(), presig.session, presig.me, &parties, 3, |io| {
            Ok(OnlineRounds::start(presig, hash, io))
        })
    }
}

/// The round logic of a full signing: presigning, then the online round, in one
/// session.
pub struct SignRounds {
    pre: PresignRounds,
    hash: [u8; 32],
    online: Option<OnlineRounds>,
}

impl std::fmt::Debug for SignRounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignRounds")
            .field("party", &self.pre.me)
            .finish_non_exhaustive()
    }
}

impl Rounds for SignRounds {
    type Msg = SignMsg;
    type Output = EcdsaSignature;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<SignMsg>,
        io: &mut Io<'_, SignMsg>,
        rng: &mut R,
    ) -> Result<Option<EcdsaSignature>, ProtocolError> {
        if let Some(online) = self.online.as_mut() {
            return online.online_round(round, msgs).map(Some);
        }
        if let Some(presig) = self.pre.pre_round(round, msgs, io, rng)? {
            self.online = Some(OnlineRounds::start(presig, self.hash, io));
        }
        Ok(None)
    }
}

/// A full signing run: rounds 1-3 for one message.
pub type Sign = Driver<SignRounds>;

impl Sign {
    pub(crate) fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        share: &Dkls23KeyShare,
        signers: &[PartyIndex],
        hash: [u8; 32],
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        PresignRounds::start(session, share, signers, rng, |pre| SignRounds {
            pre,
            hash,
            online: None,
        })
    }
}

#[cfg(test)]
impl Sign {
    /// Tests only: make this signer add `offset` to its additive share everywhere.
    pub(crate) fn cheat_with_share_offset(&mut self, offset: Scalar) {
        if let Some(core) = self.rounds_mut().and_then(|r| r.pre.core.as_mut()) {
            core.cheat_sk = offset;
        }
    }
}
