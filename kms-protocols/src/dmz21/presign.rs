//! DMZ21 signing, offline part: four rounds that need no message and produce a
//! single-use [`Presignature`] `(k_i, σ_i, R)`, with GG18's phases 1-4 and the CL MtA
//! ([`super::mta`]) in place of Paillier.
//!
//! Signers S (at least t holders) use additive shares `w_i = λ_i(S)·x_i`, `W_i =
//! λ_i(S)·X_i`.
//!
//! 1. broadcast: the epoch, a hash commitment to `Γ_i = γ_i·G`, the promise ciphertext
//!    of `k_i` (CL `C_i = Enc_i(k_i)` and EC-ElGamal `E_i = (ρ·G, k_i·G + ρ·Y_i)`) and
//!    its promise proof ([`EncProof`]);
//! 2. point-to-point, with an echo of round 1: after checking the recipient's proof,
//!    Bob's two answers on its `C_j`, for `k_j·γ_i` and (checked against `W_i`) `k_j·w_i`;
//! 3. broadcast: `δ_i = k_i·γ_i + Σ(α + β)`, after each answer decrypted and the
//!    checked one passed `α·G + B = k_i·W_j`;
//! 4. broadcast, with an echo of round 3: the opening of `Γ_i` with a Schnorr proof of
//!    `γ_i`. Everyone computes `R = δ^-1·ΣΓ_j`, `δ = Σδ_j`.
//!
//! The online rounds ([`super::online`]) continue the same session at round 5.

use super::key_share::Dmz21KeyShare;
use super::mta::{alice_finish, bob_answer, MtaAnswer};
use super::proofs::{EncProof, EncStatement, EncWitness};
use super::PROTOCOL_VERSION;
use crate::class_group::cl_hsm::{Ciphertext, ClParams};
use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::gg18::mta::scalar_to_bigint;
use crate::gg18::phase5::{commit_points, open_points, Phase5bProof};
use crate::gg18::secp256k1::{decode_point, encode_point, x_coordinate, Secp256k1};
use crate::group::{decode_scalar, Group};
use crate::inbox::Echo;
use crate::message::{Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId};
use crate::schnorr::SchnorrProof;
use crate::transcript::Transcript;
use crate::vss::lagrange_at_zero;
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use zeroize::Zeroize;

const GAMMA_COMMIT: &[u8] = b"dmz21-sign-gamma-commitment";

/// Round 1: the epoch, the commitment to `Γ_i`, the promise ciphertext and its proof.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignRound1 {
    pub(crate) epoch: u64,
    pub(crate) gamma_commitment: [u8; 32],
    pub(crate) cl_cipher: Vec<u8>,
    pub(crate) e1: Vec<u8>,
    pub(crate) e2: Vec<u8>,
    pub(crate) proof: EncProof,
}

/// Round 2: Bob's answers for `k_j·γ_i` and `k_j·w_i`, with an echo of round 1.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignRound2 {
    pub(crate) mta_gamma: MtaAnswer,
    pub(crate) mta_w: MtaAnswer,
    pub(crate) echo: Echo,
}

/// Round 3: `δ_i`.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignRound3 {
    pub(crate) delta: Vec<u8>,
}

/// Round 4: the opening of `Γ_i` with its proof, with an echo of round 3.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignRound4 {
    pub(crate) gamma_point: Vec<u8>,
    pub(crate) blind: [u8; 32],
    pub(crate) proof: SchnorrProof,
    pub(crate) echo: Echo,
}

/// Round 5 (online 5A): the presignature both sides hold, and a commitment to `V_i, A_i`.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignRound5 {
    pub(crate) presignature: [u8; 32],
    pub(crate) commitment: [u8; 32],
}

/// Rounds 7 (online 5C): a commitment, with an echo of the previous broadcast.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignCommit {
    pub(crate) commitment: [u8; 32],
    pub(crate) echo: Echo,
}

/// Round 6 (online 5B): the opening of `V_i, A_i` with its proof.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignRound6 {
    pub(crate) v: Vec<u8>,
    pub(crate) a: Vec<u8>,
    pub(crate) blind: [u8; 32],
    pub(crate) proof: Phase5bProof,
    pub(crate) echo: Echo,
}

/// Round 8 (online 5D): the opening of `U_i, T_i`.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignRound8 {
    pub(crate) u: Vec<u8>,
    pub(crate) t: Vec<u8>,
    pub(crate) blind: [u8; 32],
    pub(crate) echo: Echo,
}

/// Round 9 (online 5E): `s_i` and `l_i`.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignRound9 {
    pub(crate) s: Vec<u8>,
    pub(crate) l: Vec<u8>,
    pub(crate) echo: Echo,
}

round_messages! {
    /// The messages of DMZ21 signing: rounds 1-4 offline, 5-9 online.
    #[non_exhaustive]
    pub enum SignMsg {
        1 Broadcast Promise(SignRound1),
        2 P2p Mta(SignRound2) echoes 1,
        3 Broadcast Delta(SignRound3),
        4 Broadcast OpenGamma(SignRound4) echoes 3,
        5 Broadcast CommitVa(SignRound5),
        6 Broadcast OpenVa(SignRound6) echoes 5,
        7 Broadcast CommitUt(SignCommit) echoes 6,
        8 Broadcast OpenUt(SignRound8) echoes 7,
        9 Broadcast Reveal(SignRound9) echoes 8,
    }
}

/// The protocol id of DMZ21 signing (both parts).
pub fn protocol() -> ProtocolId {
    ProtocolId {
        scheme: Scheme::Dmz21,
        phase: Phase::Sign,
        version: PROTOCOL_VERSION,
    }
}

/// The output of the offline rounds: this signer's `k_i` and `σ_i` for the nonce `R`.
///
/// Single use: it is not `Clone`, and [`super::online::start_online`] takes it by
/// value. A node that keeps presignatures across restarts must mark one consumed
/// durably before the online run's first message leaves, and never load it again:
/// two signatures with one presignature reveal the key. Secrets are zeroized on drop.
pub struct Presignature {
    pub(crate) session: SessionId,
    pub(crate) me: PartyIndex,
    pub(crate) signers: Vec<PartyIndex>,
    pub(crate) public_key: ProjectivePoint,
    pub(crate) epoch: u64,
    pub(crate) k: Scalar,
    pub(crate) sigma: Scalar,
    pub(crate) big_r: ProjectivePoint,
    pub(crate) r: Scalar,
    pub(crate) r_reduced: bool,
    pub(crate) r_odd: bool,
    pub(crate) id: [u8; 32],
}

impl Presignature {
    /// The signers this presignature is for.
    pub fn signers(&self) -> &[PartyIndex] {
        &self.signers
    }

    /// The nonce point `R`.
    pub fn big_r(&self) -> &ProjectivePoint {
        &self.big_r
    }

    /// The epoch of the key share it was made with.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The session the online run continues.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The identifier every signer derives alike (session, signers, key, `R`).
    pub fn id(&self) -> [u8; 32] {
        self.id
    }
}

impl Drop for Presignature {
    fn drop(&mut self) {
        self.k.zeroize();
        self.sigma.zeroize();
    }
}

impl fmt::Debug for Presignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presignature")
            .field("party", &self.me)
            .field("signers", &self.signers)
            .field("secrets", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The run's secret values, zeroized on drop and on abort.
#[derive(Default, Zeroize)]
#[zeroize(drop)]
struct Secrets {
    k: Scalar,
    gamma: Scalar,
    w: Scalar,
    rho: Scalar,
    beta_gamma: Scalar,
    beta_w: Scalar,
    delta: Scalar,
    sigma: Scalar,
}

/// One signer's offline run; its output is a [`Presignature`].
pub type Dmz21Presign = Driver<PresignRounds>;

/// The round logic of one signer's offline rounds.
pub struct PresignRounds {
    params: ClParams,
    key: Dmz21KeyShare,
    session: SessionId,
    signers: Vec<PartyIndex>,
    context: Vec<u8>,
    secrets: Secrets,
    ciphers: BTreeMap<PartyIndex, Ciphertext>,
    big_w: BTreeMap<PartyIndex, ProjectivePoint>,
    gamma_point: ProjectivePoint,
    gamma_blind: [u8; 32],
    gamma_commitments: BTreeMap<PartyIndex, [u8; 32]>,
    delta_sum: Scalar,
}

impl Drop for PresignRounds {
    fn drop(&mut self) {
        self.delta_sum.zeroize();
        self.gamma_blind.zeroize();
    }
}

impl fmt::Debug for PresignRounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignRounds")
            .field("party", &self.key.index())
            .finish_non_exhaustive()
    }
}

fn culprit(from: PartyIndex) -> impl Fn(Fault) -> ProtocolError {
    move |f| ProtocolError::culprit(from, f)
}

fn missing(what: &str) -> ProtocolError {
    ProtocolError::Internal(format!("missing {what}"))
}

/// GG18-style abort when the values behind valid proofs are inconsistent.
pub(crate) fn unattributable(what: &str) -> ProtocolError {
    ProtocolError::Unattributable(format!(
        "{what}: a signer deviated without breaking a proof; the culprit cannot be identified"
    ))
}

/// Everything public that identifies this signing: bound into every proof and commitment.
fn run_context(session: &SessionId, key: &Dmz21KeyShare, signers: &[PartyIndex]) -> Vec<u8> {
    let mut t = Transcript::new(b"dmz21-sign-context");
    t.append(b"session", &session.0);
    t.append(b"public-key", &encode_point(key.public_key()));
    t.append_u64(b"epoch", key.epoch());
    t.append_u64(b"t", u64::from(key.threshold().threshold));
    t.append_u64(b"n", u64::from(key.threshold().parties));
    for p in signers {
        t.append_u64(b"signer", u64::from(p.get()));
        if let Some(x) = key.public_shares().get(p) {
            t.append(b"public-share", &encode_point(x));
        }
    }
    t.challenge(b"context")[..32].to_vec()
}

/// Start the offline rounds of `key`'s holder among `signers` (at least t holders,
/// including this one). Returns the run and its round-1 message.
pub fn start_presign<R: RngCore + CryptoRng>(
    params: &ClParams,
    session: SessionId,
    key: &Dmz21KeyShare,
    signers: &[PartyIndex],
    rng: &mut R,
) -> Result<(Dmz21Presign, Vec<Envelope>), ProtocolError> {
    let set: BTreeSet<PartyIndex> = signers.iter().copied().collect();
    let bad = |m: String| Err(ProtocolError::InvalidParameters(m));
    let th = key.threshold();
    if set.len() != signers.len() {
        return bad("duplicate signer".into());
    }
    if set.len() < usize::from(th.threshold) {
        return bad(format!("{} signers, the key needs {}", set.len(), th.threshold));
    }
    if let Some(p) = set
        .iter()
        .find(|p| !th.contains(**p) || !key.keys.contains_key(p))
    {
        return bad(format!("{p} does not hold a share of this key"));
    }
    let me = key.index();
    if !set.contains(&me) {
        return bad(format!("{me} is not among the signers"));
    }
    let signers: Vec<PartyIndex> = set.iter().copied().collect();
    let mut secrets = Secrets::default();
    let mut big_w = BTreeMap::new();
    for p in &signers {
        let lambda = lagrange_at_zero::<Secp256k1>(*p, &signers)
            .ok_or_else(|| ProtocolError::InvalidParameters("signer set".into()))?;
        let x = key
            .public_shares()
            .get(p)
            .ok_or_else(|| ProtocolError::InvalidParameters(format!("no public share of {p}")))?;
        big_w.insert(*p, *x * lambda);
        if *p == me {
            secrets.w = *key.share.secret() * lambda;
        }
    }
    let context = run_context(&session, key, &signers);
    secrets.k = Secp256k1::random_scalar(rng);
    secrets.gamma = Secp256k1::random_scalar(rng);
    secrets.rho = Secp256k1::random_scalar(rng);
    let gamma_point = Secp256k1::mul_base(&secrets.gamma);
    let mut gamma_blind = [0u8; 32];
    rng.fill_bytes(&mut gamma_blind);
    let gamma_commitment = commit_points(
        GAMMA_COMMIT,
        &session,
        me,
        &context,
        &[encode_point(&gamma_point)],
        &gamma_blind,
    );

    let own = &key.keys[&me];
    let mut r = params.random_exponent(rng);
    let mut k_int = scalar_to_bigint(&secrets.k);
    let own_cipher = params.encrypt_with(&own.cl, &k_int, &r);
    k_int.zeroize();
    let e1 = Secp256k1::mul_base(&secrets.rho);
    let e2 = Secp256k1::mul_base(&secrets.k) + own.elgamal * secrets.rho;
    let statement = EncStatement {
        pk: &own.cl,
        c1: own_cipher.c1(),
        c2: own_cipher.c2(),
        y: &own.elgamal,
        e1: &e1,
        e2: &e2,
        context: &context,
    };
    let witness = EncWitness {
        r: &r,
        k: &secrets.k,
        rho: &secrets.rho,
    };
    let proof = EncProof::prove(params, &statement, &witness, &session, me, rng);
    r.zeroize();
    let round1 = SignRound1 {
        epoch: key.epoch(),
        gamma_commitment,
        cl_cipher: params.encode_ciphertext(&own_cipher),
        e1: encode_point(&e1),
        e2: encode_point(&e2),
        proof,
    };
    let run = PresignRounds {
        params: params.clone(),
        key: key.clone(),
        session,
        signers,
        context,
        secrets,
        ciphers: BTreeMap::new(),
        big_w,
        gamma_point,
        gamma_blind,
        gamma_commitments: BTreeMap::new(),
        delta_sum: Scalar::ZERO,
    };
    Driver::new(protocol(), session, me, &set, |io| {
        io.broadcast::<1>(&round1);
        Ok(run)
    })
}

impl PresignRounds {
    fn me(&self) -> PartyIndex {
        self.key.index()
    }

    /// Check one signer's round-1 message: epoch, elements, promise proof.
    fn check_round1(&self, from: PartyIndex, r1: &SignRound1) -> Result<Ciphertext, Fault> {
        if r1.epoch != self.key.epoch() {
            return Err(Fault::Other(format!(
                "signs with a key share of epoch {}, ours is epoch {}",
                r1.epoch,
                self.key.epoch()
            )));
        }
        let keys = self
            .key
            .keys
            .get(&from)
            .ok_or_else(|| Fault::Other("not a holder of this key".into()))?;
        let cipher = self
            .params
            .decode_ciphertext(&r1.cl_cipher)
            .map_err(|e| Fault::InvalidElement(format!("round-1 CL ciphertext: {e}")))?;
        let e1 = decode_point(&r1.e1, "round-1 E1")?;
        let e2 = decode_point(&r1.e2, "round-1 E2")?;
        let statement = EncStatement {
            pk: &keys.cl,
            c1: cipher.c1(),
            c2: cipher.c2(),
            y: &keys.elgamal,
            e1: &e1,
            e2: &e2,
            context: &self.context,
        };
        r1.proof.verify(&self.params, &statement, &self.session, from)?;
        Ok(cipher)
    }

    /// Round 1 in: check every promise proof, answer both conversions for each signer.
    fn round1<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, SignRound1>,
        io: &mut Io<'_, SignMsg>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        for (from, r1) in &msgs {
            let cipher = self.check_round1(*from, r1).map_err(culprit(*from))?;
            self.ciphers.insert(*from, cipher);
            self.gamma_commitments.insert(*from, r1.gamma_commitment);
        }
        let echo = io.echo(1);
        for (from, cipher) in &self.ciphers {
            let alice_pk = &self.key.keys.get(from).ok_or_else(|| missing("CL key"))?.cl;
            let (mta_gamma, mut beta_g) =
                bob_answer(&self.params, alice_pk, cipher, &self.secrets.gamma, false, rng);
            let (mta_w, mut beta_w) = bob_answer(&self.params, alice_pk, cipher, &self.secrets.w, true, rng);
            self.secrets.beta_gamma += beta_g;
            self.secrets.beta_w += beta_w;
            beta_g.zeroize();
            beta_w.zeroize();
            io.send::<2>(
                *from,
                &SignRound2 {
                    mta_gamma,
                    mta_w,
                    echo: echo.clone(),
                },
            );
        }
        Ok(())
    }

    /// Bob's answers in: decrypt, check the checked conversion, broadcast `δ_i`.
    fn round2(
        &mut self,
        msgs: BTreeMap<PartyIndex, SignRound2>,
        io: &mut Io<'_, SignMsg>,
    ) -> Result<(), ProtocolError> {
        let s = &mut self.secrets;
        s.delta = s.k * s.gamma + s.beta_gamma;
        s.sigma = s.k * s.w + s.beta_w;
        for (from, r2) in msgs {
            let blame = culprit(from);
            let big_w = self.big_w.get(&from).ok_or_else(|| missing("W"))?;
            let sk = &self.key.cl_secret;
            let mut alpha_g =
                alice_finish(&self.params, sk, &self.secrets.k, &r2.mta_gamma, None).map_err(&blame)?;
            let mut alpha_w =
                alice_finish(&self.params, sk, &self.secrets.k, &r2.mta_w, Some(big_w)).map_err(&blame)?;
            self.secrets.delta += alpha_g;
            self.secrets.sigma += alpha_w;
            alpha_g.zeroize();
            alpha_w.zeroize();
        }
        self.secrets.beta_gamma.zeroize();
        self.secrets.beta_w.zeroize();
        self.delta_sum = self.secrets.delta;
        io.broadcast::<3>(&SignRound3 {
            delta: Secp256k1::scalar_to_bytes(&self.secrets.delta),
        });
        Ok(())
    }

    /// Every `δ_j` in: open `Γ_i` with a proof of knowledge of `γ_i`.
    fn round3<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, SignRound3>,
        io: &mut Io<'_, SignMsg>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        for (from, r3) in msgs {
            self.delta_sum += decode_scalar::<Secp256k1>(&r3.delta, "delta").map_err(culprit(from))?;
        }
        let proof = SchnorrProof::prove::<Secp256k1, R>(
            &self.secrets.gamma,
            &self.gamma_point,
            &self.context,
            &self.session,
            self.me(),
            rng,
        );
        io.broadcast::<4>(&SignRound4 {
            gamma_point: encode_point(&self.gamma_point),
            blind: self.gamma_blind,
            proof,
            echo: io.echo(3),
        });
        Ok(())
    }

    /// Every `Γ_j` opened: `R = δ^-1·ΣΓ_j`; output the presignature.
    fn round4(&mut self, msgs: BTreeMap<PartyIndex, SignRound4>) -> Result<Presignature, ProtocolError> {
        let session = self.session;
        let mut gamma_sum = self.gamma_point;
        for (from, r4) in msgs {
            let blame = culprit(from);
            let c = self
                .gamma_commitments
                .get(&from)
                .ok_or_else(|| missing("commitment"))?;
            let pts = open_points(
                GAMMA_COMMIT,
                &session,
                from,
                &self.context,
                c,
                &[r4.gamma_point],
                &r4.blind,
                1,
            )
            .map_err(&blame)?;
            r4.proof
                .verify::<Secp256k1>(&pts[0], &self.context, &session, from)
                .map_err(&blame)?;
            gamma_sum += pts[0];
        }
        let delta_inv = Secp256k1::invert(&self.delta_sum).ok_or_else(|| unattributable("delta is zero"))?;
        let big_r = gamma_sum * delta_inv;
        let (r, r_reduced, r_odd) =
            x_coordinate(&big_r).ok_or_else(|| unattributable("R is the identity"))?;
        if Secp256k1::is_zero(&r) {
            return Err(unattributable("r is zero"));
        }
        let mut t = Transcript::new(b"dmz21-presignature");
        t.append(b"context", &self.context);
        t.append(b"R", &encode_point(&big_r));
        let mut id = [0u8; 32];
        id.copy_from_slice(&t.challenge(b"id")[..32]);
        let presig = Presignature {
            session,
            me: self.me(),
            signers: self.signers.clone(),
            public_key: *self.key.public_key(),
            epoch: self.key.epoch(),
            k: self.secrets.k,
            sigma: self.secrets.sigma,
            big_r,
            r,
            r_reduced,
            r_odd,
            id,
        };
        self.secrets.zeroize();
        Ok(presig)
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
        match round {
            1 => self.round1(msgs.take::<1>()?, io, rng)?,
            2 => self.round2(msgs.take::<2>()?, io)?,
            3 => self.round3(msgs.take::<3>()?, io, rng)?,
            4 => return self.round4(msgs.take::<4>()?).map(Some),
            _ => {
                return Err(ProtocolError::Internal(format!(
                    "round {round} is not an offline round"
                )))
            }
        }
        Ok(None)
    }
}

/// The number of bits of `B_CL·q`, the MtA masks' bound (for the docs and tests).
pub fn mta_mask_bits(params: &ClParams) -> usize {
    (params.exponent_bound() * params.q()).bits()
}
