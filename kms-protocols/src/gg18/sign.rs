//! GG18 threshold signing (Gennaro-Goldfeder 2018, section 4.2, phases 1-6).
//!
//! Signers S (at least t holders) turn their shares into additive ones,
//! w_i = lambda_i(S) * x_i with public W_i = lambda_i(S) * X_i, and run:
//!
//! 1. broadcast (phase 1): a commitment to Gamma_i = gamma_i * G and Alice's ciphertext
//!    K_i = Enc_i(k_i), with the share's epoch;
//! 2. point-to-point: Alice's range proof for K_i made for each verifier (one proof
//!    serves both conversions: they multiply the same K_i), with an echo of round 1;
//! 3. point-to-point (phase 2): Bob's answers, for k_j * gamma_i (MtA) and k_j * w_i
//!    (MtAwc, Bob proves his input matches W_i), each with Bob's proof;
//! 4. broadcast (phase 3): delta_i = k_i gamma_i + sum(alpha + beta);
//! 5. broadcast (phase 4): the opening of Gamma_i with a proof of knowledge of gamma_i;
//!    everyone computes R = (sum Gamma_j) * delta^-1, r = R.x and
//!    s_i = m k_i + r sigma_i;
//! 6. broadcast (5A): a commitment to V_i = s_i R + l_i G, A_i = rho_i G;
//! 7. broadcast (5B): their opening with a proof of knowledge of (s_i, l_i, rho_i);
//! 8. broadcast (5C): a commitment to U_i = rho_i V, T_i = l_i A, where
//!    V = -m G - r Y + sum V_j and A = sum A_j;
//! 9. broadcast (5D): their opening; sum U_j must equal sum T_j;
//! 10. broadcast (5E): s_i, with l_i so each s_j is checked against V_j (naming a
//!     signer whose s_j does not open its V_j); the signature (r, sum s_j) is checked
//!     against the public key before it is returned.
//!
//! Every broadcast round after the first carries an echo of the previous broadcast.
//!
//! Known limit of GG18: if every proof and opening verifies but a signer fed wrong
//! values into the arithmetic (e.g. a wrong delta_i or an MtA input that is not
//! gamma_i), the 5D check fails without naming the signer; the run then aborts with
//! [`ProtocolError::Unattributable`] and no signature share is revealed.

use super::key_share::KeyShareOf;
use super::mta_backend::{MtaBackend, MtaKind, MtaPair};
use super::phase5::{commit_points, open_points, Phase5bProof};
use super::precompute::{PeerWork, PrecomputedOf};
use super::secp256k1::{encode_point, scalar_from_digest, x_coordinate, Secp256k1};
use super::signature::EcdsaSignature;
use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::group::{decode_scalar, Group};
use crate::inbox::Echo;
use crate::message::{Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId};
use crate::schnorr::SchnorrProof;
use crate::transcript::Transcript;
use crate::vss::lagrange_at_zero;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use zeroize::Zeroize;

const VERSION: u16 = 1;

pub(crate) const GAMMA_COMMIT: &[u8] = b"gg18-sign-gamma-commitment";
const VA_COMMIT: &[u8] = b"gg18-sign-5a-commitment";
const UT_COMMIT: &[u8] = b"gg18-sign-5c-commitment";

/// Phase 1: the commitment to Gamma_i and Alice's ciphertext K_i, with the epoch.
#[derive(Serialize, Deserialize)]
pub struct Round1<C> {
    pub(crate) epoch: u64,
    pub(crate) gamma_commitment: [u8; 32],
    pub(crate) cipher: C,
}

/// Alice's range proof for K_i, made for the recipient, with an echo of round 1.
#[derive(Serialize, Deserialize)]
pub struct Round2<P> {
    pub(crate) proof: P,
    pub(crate) echo: Echo,
}

/// Bob's answers to both conversions (MtA for gamma, MtAwc for w).
#[derive(Serialize, Deserialize)]
pub struct Round3<B> {
    pub(crate) mta_gamma: B,
    pub(crate) mta_w: B,
}

/// Phase 3: delta_i.
#[derive(Serialize, Deserialize)]
pub struct Round4 {
    pub(crate) delta: Vec<u8>,
}

/// Phase 4: the opening of Gamma_i with a proof of knowledge of gamma_i.
#[derive(Serialize, Deserialize)]
pub struct Round5 {
    pub(crate) gamma_point: Vec<u8>,
    pub(crate) blind: [u8; 32],
    pub(crate) proof: SchnorrProof,
    pub(crate) echo: Echo,
}

/// Phases 5A and 5C: a commitment, with an echo of the previous broadcast.
#[derive(Serialize, Deserialize)]
pub struct Commit {
    pub(crate) commitment: [u8; 32],
    pub(crate) echo: Echo,
}

/// Phase 5B: the opening of V_i, A_i with its proof.
#[derive(Serialize, Deserialize)]
pub struct Round7 {
    pub(crate) v: Vec<u8>,
    pub(crate) a: Vec<u8>,
    pub(crate) blind: [u8; 32],
    pub(crate) proof: Phase5bProof,
    pub(crate) echo: Echo,
}

/// Phase 5D: the opening of U_i, T_i.
#[derive(Serialize, Deserialize)]
pub struct Round9 {
    pub(crate) u: Vec<u8>,
    pub(crate) t: Vec<u8>,
    pub(crate) blind: [u8; 32],
    pub(crate) echo: Echo,
}

/// Phase 5E: s_i and l_i.
#[derive(Serialize, Deserialize)]
pub struct Round10 {
    pub(crate) s: Vec<u8>,
    pub(crate) l: Vec<u8>,
    pub(crate) echo: Echo,
}

round_messages! {
    /// The messages of GG18 signing, one variant per round.
    #[non_exhaustive]
    pub enum SignMsg<M: MtaBackend> {
        1 Broadcast Phase1(Round1<M::Cipher>),
        2 P2p RangeProof(Round2<M::AliceProof>) echoes 1,
        3 P2p Mta(Round3<M::BobMsg>),
        4 Broadcast Delta(Round4),
        5 Broadcast OpenGamma(Round5) echoes 4,
        6 Broadcast CommitVa(Commit) echoes 5,
        7 Broadcast OpenVa(Round7) echoes 6,
        8 Broadcast CommitUt(Commit) echoes 7,
        9 Broadcast OpenUt(Round9) echoes 8,
        10 Broadcast Reveal(Round10) echoes 9,
    }
}

/// The run's secret values, zeroized on drop and on abort.
#[derive(Default, Zeroize)]
#[zeroize(drop)]
struct Secrets {
    k: Scalar,
    gamma: Scalar,
    w: Scalar,
    beta_gamma: Scalar,
    beta_w: Scalar,
    delta: Scalar,
    sigma: Scalar,
    s: Scalar,
    l: Scalar,
    rho: Scalar,
}

/// One signer's GG18 signing run.
pub type SignRun<M> = Driver<SignRounds<M>>;

/// The round logic of one signer's GG18 signing run.
pub struct SignRounds<M: MtaBackend> {
    key: KeyShareOf<M>,
    session: SessionId,
    signers: Vec<PartyIndex>,
    hash: [u8; 32],
    m: Scalar,
    extra: Vec<u8>,
    secrets: Secrets,
    alice_state: Option<M::AliceState>,
    /// Precomputed MtA randomness per peer, taken from a pool; consumed in rounds 1-2.
    work: BTreeMap<PartyIndex, PeerWork<M>>,
    own_cipher: M::Cipher,
    ciphers: BTreeMap<PartyIndex, M::Cipher>,
    big_w: BTreeMap<PartyIndex, ProjectivePoint>,
    gamma_point: ProjectivePoint,
    gamma_blind: [u8; 32],
    gamma_commitments: BTreeMap<PartyIndex, [u8; 32]>,
    delta_sum: Scalar,
    big_r: ProjectivePoint,
    r: Scalar,
    r_reduced: bool,
    r_odd: bool,
    v_own: ProjectivePoint,
    a_own: ProjectivePoint,
    va_blind: [u8; 32],
    va_commitments: BTreeMap<PartyIndex, [u8; 32]>,
    v_points: BTreeMap<PartyIndex, ProjectivePoint>,
    u_own: ProjectivePoint,
    t_own: ProjectivePoint,
    ut_blind: [u8; 32],
    ut_commitments: BTreeMap<PartyIndex, [u8; 32]>,
}

fn culprit(from: PartyIndex) -> impl Fn(Fault) -> ProtocolError {
    move |f| ProtocolError::culprit(from, f)
}

fn missing(what: &str) -> ProtocolError {
    ProtocolError::Internal(format!("missing {what}"))
}

/// GG18 aborts without a culprit when the values behind valid proofs are inconsistent.
fn unattributable(what: &str) -> ProtocolError {
    ProtocolError::Unattributable(format!(
        "{what}: a signer deviated without breaking a proof; GG18 cannot identify it"
    ))
}

impl<M: MtaBackend> SignRounds<M> {
    /// Start a run; returns it with its round-1 message. Precomputed randomness for
    /// this signing is taken from `pool` if given; what it lacks is computed inline.
    pub(crate) fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        key: KeyShareOf<M>,
        signers: &[PartyIndex],
        hash: [u8; 32],
        pool: Option<&mut PrecomputedOf<M>>,
        rng: &mut R,
    ) -> Result<(SignRun<M>, Vec<Envelope>), ProtocolError> {
        let set: BTreeSet<PartyIndex> = signers.iter().copied().collect();
        let bad = |m: String| Err(ProtocolError::InvalidParameters(m));
        if set.len() != signers.len() {
            return bad("duplicate signer".into());
        }
        if set.len() < usize::from(key.threshold.threshold) {
            return bad(format!(
                "{} signers, the key needs {}",
                set.len(),
                key.threshold.threshold
            ));
        }
        if let Some(p) = set.iter().find(|p| !key.threshold.contains(**p)) {
            return bad(format!("{p} does not hold a share of this key"));
        }
        if !set.contains(&key.index) {
            return bad(format!("{} is not among the signers", key.index));
        }
        if let Some(p) = set
            .iter()
            .find(|p| **p != key.index && !key.aux_peers.contains_key(p))
        {
            return bad(format!("no aux material for {p}"));
        }
        let signers: Vec<PartyIndex> = set.iter().copied().collect();
        let protocol = ProtocolId {
            scheme: Scheme::Gg18,
            phase: Phase::Sign,
            version: VERSION,
        };
        let me = key.index;

        let mut big_w = BTreeMap::new();
        let mut secrets = Secrets::default();
        for p in &signers {
            let lambda = lagrange_at_zero::<Secp256k1>(*p, &signers)
                .ok_or_else(|| ProtocolError::InvalidParameters("signer set".into()))?;
            let x = key
                .public_shares
                .get(p)
                .ok_or_else(|| ProtocolError::InvalidParameters(format!("no public share of {p}")))?;
            big_w.insert(*p, *x * lambda);
            if *p == me {
                secrets.w = key.secret * lambda;
            }
        }
        let extra = run_context(&session, &key, &signers, &hash);
        secrets.k = Secp256k1::random_scalar(rng);
        secrets.gamma = Secp256k1::random_scalar(rng);
        let gamma_point = Secp256k1::mul_base(&secrets.gamma);
        let mut gamma_blind = [0u8; 32];
        rng.fill_bytes(&mut gamma_blind);
        let gamma_commitment = commit_points(
            GAMMA_COMMIT,
            &session,
            me,
            &extra,
            &[encode_point(&gamma_point)],
            &gamma_blind,
        );
        let taken = pool.map(|p| p.take(&key, &signers)).unwrap_or_default();
        let nonce = match taken.own {
            Some(n) => n,
            None => M::alice_nonce(&key.aux_secret, rng),
        };
        let (own_cipher, alice_state) = M::alice_encrypt(&key.aux_secret, &secrets.k, nonce);
        let epoch = key.epoch;
        let run = Self {
            key,
            session,
            signers,
            hash,
            m: scalar_from_digest(&hash),
            extra,
            secrets,
            alice_state: Some(alice_state),
            work: taken.peers,
            own_cipher: own_cipher.clone(),
            ciphers: BTreeMap::new(),
            big_w,
            gamma_point,
            gamma_blind,
            gamma_commitments: BTreeMap::new(),
            delta_sum: Scalar::ZERO,
            big_r: ProjectivePoint::IDENTITY,
            r: Scalar::ZERO,
            r_reduced: false,
            r_odd: false,
            v_own: ProjectivePoint::IDENTITY,
            a_own: ProjectivePoint::IDENTITY,
            va_blind: [0; 32],
            va_commitments: BTreeMap::new(),
            v_points: BTreeMap::new(),
            u_own: ProjectivePoint::IDENTITY,
            t_own: ProjectivePoint::IDENTITY,
            ut_blind: [0; 32],
            ut_commitments: BTreeMap::new(),
        };
        Driver::new(protocol, session, me, &set, |io| {
            io.broadcast::<1>(&Round1 {
                epoch,
                gamma_commitment,
                cipher: own_cipher,
            });
            Ok(run)
        })
    }

    fn me(&self) -> PartyIndex {
        self.key.index
    }

    /// Phase 1 received: check epochs, keep ciphertexts, prove our range to each peer.
    fn round1<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round1<M::Cipher>>,
        io: &mut Io<'_, SignMsg<M>>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        for (from, r1) in msgs {
            if r1.epoch != self.key.epoch {
                return Err(ProtocolError::culprit(
                    from,
                    Fault::Other(format!(
                        "signs with a key share of epoch {}, ours is epoch {}",
                        r1.epoch, self.key.epoch
                    )),
                ));
            }
            self.gamma_commitments.insert(from, r1.gamma_commitment);
            self.ciphers.insert(from, r1.cipher);
        }
        let echo = io.echo(1);
        let state = self.alice_state.as_ref().ok_or(ProtocolError::Finished)?;
        let session = self.session;
        let me = self.me();
        for to in self.signers.clone().into_iter().filter(|p| *p != me) {
            let bob = self
                .key
                .aux_peers
                .get(&to)
                .ok_or_else(|| missing("aux material"))?;
            let pair = MtaPair {
                session,
                alice: me,
                bob: to,
            };
            let pre = match self.work.get_mut(&to).and_then(|w| w.alice.take()) {
                Some(pre) => pre,
                None => M::alice_proof_pre(&self.key.aux_secret, bob, rng),
            };
            let r2 = Round2 {
                proof: M::alice_prove(&self.key.aux_secret, bob, state, pre, pair),
                echo: echo.clone(),
            };
            io.send::<2>(to, &r2);
        }
        Ok(())
    }

    /// Alice's range proofs received: as Bob, answer both conversions for each peer.
    fn round2<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round2<M::AliceProof>>,
        io: &mut Io<'_, SignMsg<M>>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        let session = self.session;
        let me = self.me();
        for (from, r2) in msgs {
            let blame = culprit(from);
            let cipher = self.ciphers.get(&from).ok_or_else(|| missing("ciphertext"))?;
            let alice = self
                .key
                .aux_peers
                .get(&from)
                .ok_or_else(|| missing("aux material"))?;
            let pair = MtaPair {
                session,
                alice: from,
                bob: me,
            };
            // One check of Alice's range proof serves both conversions on her K_j.
            let checked =
                M::bob_check(&self.key.aux_secret, alice, cipher, &r2.proof, pair).map_err(&blame)?;
            let mut work = self.work.remove(&from).unwrap_or_default();
            let pre_gamma = match work.bob_gamma.take() {
                Some(pre) => pre,
                None => M::bob_pre(alice, rng),
            };
            let (mta_gamma, mut beta_g) = M::bob_answer(
                alice,
                &checked,
                &self.secrets.gamma,
                false,
                pre_gamma,
                pair.run(MtaKind::KGamma),
            )
            .map_err(&blame)?;
            let pre_w = match work.bob_w.take() {
                Some(pre) => pre,
                None => M::bob_pre(alice, rng),
            };
            let (mta_w, mut beta_w) = M::bob_answer(
                alice,
                &checked,
                &self.secrets.w,
                true,
                pre_w,
                pair.run(MtaKind::KW),
            )
            .map_err(&blame)?;
            self.secrets.beta_gamma += beta_g;
            self.secrets.beta_w += beta_w;
            beta_g.zeroize();
            beta_w.zeroize();
            io.send::<3>(from, &Round3 { mta_gamma, mta_w });
        }
        Ok(())
    }

    /// Bob's answers received: as Alice, check and decrypt; broadcast delta_i.
    fn round3(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round3<M::BobMsg>>,
        io: &mut Io<'_, SignMsg<M>>,
    ) -> Result<(), ProtocolError> {
        let session = self.session;
        let me = self.me();
        let s = &mut self.secrets;
        s.delta = s.k * s.gamma + s.beta_gamma;
        s.sigma = s.k * s.w + s.beta_w;
        for (from, r3) in msgs {
            let blame = culprit(from);
            let big_w = self.big_w.get(&from).ok_or_else(|| missing("W"))?;
            let run = |kind| {
                MtaPair {
                    session,
                    alice: me,
                    bob: from,
                }
                .run(kind)
            };
            let secret = &self.key.aux_secret;
            let mut alpha_g = M::alice_finish(
                secret,
                &self.own_cipher,
                &r3.mta_gamma,
                None,
                run(MtaKind::KGamma),
            )
            .map_err(&blame)?;
            let mut alpha_w =
                M::alice_finish(secret, &self.own_cipher, &r3.mta_w, Some(big_w), run(MtaKind::KW))
                    .map_err(&blame)?;
            self.secrets.delta += alpha_g;
            self.secrets.sigma += alpha_w;
            alpha_g.zeroize();
            alpha_w.zeroize();
        }
        self.secrets.beta_gamma.zeroize();
        self.secrets.beta_w.zeroize();
        self.alice_state = None;
        self.delta_sum = self.secrets.delta;
        let delta = Secp256k1::scalar_to_bytes(&self.secrets.delta);
        io.broadcast::<4>(&Round4 { delta });
        Ok(())
    }

    /// All delta_j in: open Gamma_i with a proof of knowledge of gamma_i.
    fn round4<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round4>,
        io: &mut Io<'_, SignMsg<M>>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        for (from, r4) in msgs {
            let d = decode_scalar::<Secp256k1>(&r4.delta, "delta").map_err(culprit(from))?;
            self.delta_sum += d;
        }
        let me = self.me();
        let proof = SchnorrProof::prove::<Secp256k1, R>(
            &self.secrets.gamma,
            &self.gamma_point,
            &self.extra,
            &self.session,
            me,
            rng,
        );
        let r5 = Round5 {
            gamma_point: encode_point(&self.gamma_point),
            blind: self.gamma_blind,
            proof,
            echo: io.echo(4),
        };
        io.broadcast::<5>(&r5);
        Ok(())
    }

    /// Gamma_j opened: compute R, r and s_i; commit to V_i, A_i (phase 5A).
    fn round5<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round5>,
        io: &mut Io<'_, SignMsg<M>>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        let session = self.session;
        let mut gamma_sum = self.gamma_point;
        for (from, r5) in msgs {
            let blame = culprit(from);
            let c = self
                .gamma_commitments
                .get(&from)
                .ok_or_else(|| missing("commitment"))?;
            let pts = open_points(
                GAMMA_COMMIT,
                &session,
                from,
                &self.extra,
                c,
                &[r5.gamma_point],
                &r5.blind,
                1,
            )
            .map_err(&blame)?;
            r5.proof
                .verify::<Secp256k1>(&pts[0], &self.extra, &session, from)
                .map_err(&blame)?;
            gamma_sum += pts[0];
        }
        let delta_inv = Secp256k1::invert(&self.delta_sum).ok_or_else(|| unattributable("delta is zero"))?;
        self.big_r = gamma_sum * delta_inv;
        let (r, reduced, odd) =
            x_coordinate(&self.big_r).ok_or_else(|| unattributable("R is the identity"))?;
        if Secp256k1::is_zero(&r) {
            return Err(unattributable("r is zero"));
        }
        (self.r, self.r_reduced, self.r_odd) = (r, reduced, odd);
        let s = &mut self.secrets;
        s.s = self.m * s.k + r * s.sigma;
        s.l = Secp256k1::random_scalar(rng);
        s.rho = Secp256k1::random_scalar(rng);
        self.v_own = self.big_r * s.s + Secp256k1::mul_base(&s.l);
        self.a_own = Secp256k1::mul_base(&s.rho);
        rng.fill_bytes(&mut self.va_blind);
        let me = self.me();
        let commitment = commit_points(
            VA_COMMIT,
            &session,
            me,
            &self.extra,
            &[encode_point(&self.v_own), encode_point(&self.a_own)],
            &self.va_blind,
        );
        let msg = Commit {
            commitment,
            echo: io.echo(5),
        };
        io.broadcast::<6>(&msg);
        Ok(())
    }

    /// 5A commitments in: open V_i, A_i with the 5B proof.
    fn round6<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, Commit>,
        io: &mut Io<'_, SignMsg<M>>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        for (from, c) in msgs {
            self.va_commitments.insert(from, c.commitment);
        }
        let s = &self.secrets;
        let proof = Phase5bProof::prove(
            &self.session,
            self.me(),
            &self.extra,
            &self.big_r,
            &s.s,
            &s.l,
            &s.rho,
            &self.v_own,
            &self.a_own,
            rng,
        );
        let r7 = Round7 {
            v: encode_point(&self.v_own),
            a: encode_point(&self.a_own),
            blind: self.va_blind,
            proof,
            echo: io.echo(6),
        };
        io.broadcast::<7>(&r7);
        Ok(())
    }

    /// V_j, A_j opened and proven: compute V, A and commit to U_i, T_i (5C).
    fn round7<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round7>,
        io: &mut Io<'_, SignMsg<M>>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        let session = self.session;
        let mut v_sum = self.v_own;
        let mut a_sum = self.a_own;
        for (from, r7) in msgs {
            let blame = culprit(from);
            let c = self
                .va_commitments
                .get(&from)
                .ok_or_else(|| missing("commitment"))?;
            let pts = open_points(
                VA_COMMIT,
                &session,
                from,
                &self.extra,
                c,
                &[r7.v, r7.a],
                &r7.blind,
                2,
            )
            .map_err(&blame)?;
            r7.proof
                .verify(&session, from, &self.extra, &self.big_r, &pts[0], &pts[1])
                .map_err(&blame)?;
            v_sum += pts[0];
            a_sum += pts[1];
            self.v_points.insert(from, pts[0]);
        }
        let v = v_sum - Secp256k1::mul_base(&self.m) - self.key.public_key * self.r;
        self.u_own = v * self.secrets.rho;
        self.t_own = a_sum * self.secrets.l;
        rng.fill_bytes(&mut self.ut_blind);
        let commitment = commit_points(
            UT_COMMIT,
            &session,
            self.me(),
            &self.extra,
            &[encode_point(&self.u_own), encode_point(&self.t_own)],
            &self.ut_blind,
        );
        let msg = Commit {
            commitment,
            echo: io.echo(7),
        };
        io.broadcast::<8>(&msg);
        Ok(())
    }

    /// 5C commitments in: open U_i, T_i (5D).
    fn round8(
        &mut self,
        msgs: BTreeMap<PartyIndex, Commit>,
        io: &mut Io<'_, SignMsg<M>>,
    ) -> Result<(), ProtocolError> {
        for (from, c) in msgs {
            self.ut_commitments.insert(from, c.commitment);
        }
        let r9 = Round9 {
            u: encode_point(&self.u_own),
            t: encode_point(&self.t_own),
            blind: self.ut_blind,
            echo: io.echo(8),
        };
        io.broadcast::<9>(&r9);
        Ok(())
    }

    /// U_j, T_j opened: the 5D check, then reveal s_i (5E).
    fn round9(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round9>,
        io: &mut Io<'_, SignMsg<M>>,
    ) -> Result<(), ProtocolError> {
        let session = self.session;
        let mut u_sum = self.u_own;
        let mut t_sum = self.t_own;
        for (from, r9) in msgs {
            let c = self
                .ut_commitments
                .get(&from)
                .ok_or_else(|| missing("commitment"))?;
            let pts = open_points(
                UT_COMMIT,
                &session,
                from,
                &self.extra,
                c,
                &[r9.u, r9.t],
                &r9.blind,
                2,
            )
            .map_err(culprit(from))?;
            u_sum += pts[0];
            t_sum += pts[1];
        }
        if u_sum != t_sum {
            return Err(unattributable("phase 5D check (sum U_i != sum T_i)"));
        }
        // Only now may s_i leave: the 5D check showed that the s_j add up to a valid
        // signature. l_i is revealed with it so each s_j can be checked against V_j.
        let r10 = Round10 {
            s: Secp256k1::scalar_to_bytes(&self.secrets.s),
            l: Secp256k1::scalar_to_bytes(&self.secrets.l),
            echo: io.echo(9),
        };
        io.broadcast::<10>(&r10);
        Ok(())
    }

    /// s_j in: check each against V_j, add, verify the signature.
    fn round10(&mut self, msgs: BTreeMap<PartyIndex, Round10>) -> Result<EcdsaSignature, ProtocolError> {
        let mut s_sum = self.secrets.s;
        for (from, r10) in msgs {
            let blame = culprit(from);
            let s = decode_scalar::<Secp256k1>(&r10.s, "s_i").map_err(&blame)?;
            let l = decode_scalar::<Secp256k1>(&r10.l, "l_i").map_err(&blame)?;
            let v = self.v_points.get(&from).ok_or_else(|| missing("V_j"))?;
            if self.big_r * s + Secp256k1::mul_base(&l) != *v {
                return Err(blame(Fault::Other("s_i does not open the committed V_i".into())));
            }
            s_sum += s;
        }
        if Secp256k1::is_zero(&s_sum) {
            return Err(unattributable("s is zero"));
        }
        let sig = EcdsaSignature::normalised(&self.r, &s_sum, self.r_odd, self.r_reduced);
        verify(&self.key.public_key, &self.hash, &sig)?;
        Ok(sig)
    }
}

/// The final check: the signature verifies under the public key with k256.
fn verify(pk: &ProjectivePoint, hash: &[u8; 32], sig: &EcdsaSignature) -> Result<(), ProtocolError> {
    let fail = |m: &str| ProtocolError::Internal(format!("final signature check: {m}"));
    let vk = k256::ecdsa::VerifyingKey::from_affine(pk.to_affine()).map_err(|_| fail("public key"))?;
    let s = sig.to_k256().map_err(|_| fail("encoding"))?;
    vk.verify_prehash(hash, &s).map_err(|_| fail("does not verify"))
}

/// Everything public that identifies this signing: bound into every commitment and proof.
pub(crate) fn run_context<M: MtaBackend>(
    session: &SessionId,
    key: &KeyShareOf<M>,
    signers: &[PartyIndex],
    hash: &[u8; 32],
) -> Vec<u8> {
    let mut t = Transcript::new(b"gg18-sign-context");
    t.append(b"session", &session.0);
    t.append(b"public-key", &encode_point(&key.public_key));
    t.append_u64(b"epoch", key.epoch);
    t.append_u64(b"t", u64::from(key.threshold.threshold));
    t.append_u64(b"n", u64::from(key.threshold.parties));
    for p in signers {
        t.append_u64(b"signer", u64::from(p.get()));
        if let Some(x) = key.public_shares.get(p) {
            t.append(b"public-share", &encode_point(x));
        }
    }
    t.append(b"hash", hash);
    t.challenge(b"context")[..32].to_vec()
}

impl<M: MtaBackend> Rounds for SignRounds<M> {
    type Msg = SignMsg<M>;
    type Output = EcdsaSignature;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<SignMsg<M>>,
        io: &mut Io<'_, SignMsg<M>>,
        rng: &mut R,
    ) -> Result<Option<EcdsaSignature>, ProtocolError> {
        match round {
            1 => self.round1(msgs.take::<1>()?, io, rng)?,
            2 => self.round2(msgs.take::<2>()?, io, rng)?,
            3 => self.round3(msgs.take::<3>()?, io)?,
            4 => self.round4(msgs.take::<4>()?, io, rng)?,
            5 => self.round5(msgs.take::<5>()?, io, rng)?,
            6 => self.round6(msgs.take::<6>()?, io, rng)?,
            7 => self.round7(msgs.take::<7>()?, io, rng)?,
            8 => self.round8(msgs.take::<8>()?, io)?,
            9 => self.round9(msgs.take::<9>()?, io)?,
            _ => return self.round10(msgs.take::<10>()?).map(Some),
        }
        Ok(None)
    }
}

/// The stand-alone checks of one GG18 signing message (with the Paillier MtA the node
/// runs), for [`crate::recheck`]: `None` for a round this run does not have.
pub(crate) fn recheck_payload(round: u16, payload: &[u8]) -> Option<Result<(), Fault>> {
    use super::mta_backend::PaillierMta as M;
    use super::secp256k1::decode_point;
    use crate::recheck::decodes;
    type R1 = Round1<<M as MtaBackend>::Cipher>;
    type R2 = Round2<<M as MtaBackend>::AliceProof>;
    type R3 = Round3<<M as MtaBackend>::BobMsg>;
    Some(match round {
        1 => decodes::<R1>(payload).map(|_| ()),
        2 => decodes::<R2>(payload).map(|_| ()),
        3 => decodes::<R3>(payload).map(|_| ()),
        4 => decodes::<Round4>(payload)
            .and_then(|r4| decode_scalar::<Secp256k1>(&r4.delta, "delta").map(|_| ())),
        5 => decodes::<Round5>(payload).and_then(|r5| decode_point(&r5.gamma_point, "Gamma_i").map(|_| ())),
        6 | 8 => decodes::<Commit>(payload).map(|_| ()),
        7 => decodes::<Round7>(payload).map(|_| ()),
        9 => decodes::<Round9>(payload).map(|_| ()),
        10 => {
            decodes::<Round10>(payload).and_then(|r10| decode_scalar::<Secp256k1>(&r10.s, "s_i").map(|_| ()))
        }
        _ => return None,
    })
}
