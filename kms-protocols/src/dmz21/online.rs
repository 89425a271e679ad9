//! DMZ21 signing, online part: GG18's phase 5 on a [`Presignature`], as rounds 5-9 of
//! the signing session (the offline run was rounds 1-4).
//!
//! With `s_i = m·k_i + r·σ_i`:
//!
//! 5. broadcast (5A): the presignature id (each signer checks it is the one it holds,
//!    so all sign with the same `R`) and a commitment to `V_i = s_i·R + l_i·G`,
//!    `A_i = ρ_i·G`;
//! 6. broadcast (5B): their opening with a proof of knowledge of `(s_i, l_i, ρ_i)`;
//! 7. broadcast (5C): a commitment to `U_i = ρ_i·V`, `T_i = l_i·A`, where
//!    `V = -m·G - r·Y + ΣV_j` and `A = ΣA_j`;
//! 8. broadcast (5D): their opening; `ΣU_j` must equal `ΣT_j`;
//! 9. broadcast (5E): `s_i` with `l_i`, each checked against `V_j` (naming a signer
//!    whose `s_j` does not open it); the signature `(r, Σs_j)` is verified against the
//!    public key before it is returned.
//!
//! Every broadcast after round 5 carries an echo of the previous one.

use super::presign::{
    protocol, unattributable, Presignature, SignCommit, SignMsg, SignRound5, SignRound6, SignRound8,
    SignRound9,
};
use crate::driver::{Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::gg18::phase5::{commit_points, open_points, Phase5bProof};
use crate::gg18::secp256k1::{encode_point, scalar_from_digest, Secp256k1};
use crate::gg18::signature::EcdsaSignature;
use crate::group::{decode_scalar, Group};
use crate::message::Envelope;
use crate::transcript::Transcript;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::{ProjectivePoint, Scalar};
use rand_core::{CryptoRng, RngCore};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroize;

const VA_COMMIT: &[u8] = b"dmz21-sign-5a-commitment";
const UT_COMMIT: &[u8] = b"dmz21-sign-5c-commitment";

/// One signer's online run; its output is a low-s [`EcdsaSignature`] verified against
/// the public key.
pub type Dmz21Online = Driver<OnlineRounds>;

#[derive(Default, Zeroize)]
#[zeroize(drop)]
struct Secrets {
    s: Scalar,
    l: Scalar,
    rho: Scalar,
}

/// The round logic of the online rounds.
pub struct OnlineRounds {
    presig: Presignature,
    hash: [u8; 32],
    m: Scalar,
    extra: Vec<u8>,
    secrets: Secrets,
    v_own: ProjectivePoint,
    a_own: ProjectivePoint,
    va_blind: [u8; 32],
    va_commitments: BTreeMap<crate::party::PartyIndex, [u8; 32]>,
    v_points: BTreeMap<crate::party::PartyIndex, ProjectivePoint>,
    u_own: ProjectivePoint,
    t_own: ProjectivePoint,
    ut_blind: [u8; 32],
    ut_commitments: BTreeMap<crate::party::PartyIndex, [u8; 32]>,
}

impl fmt::Debug for OnlineRounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnlineRounds")
            .field("presignature", &self.presig)
            .finish_non_exhaustive()
    }
}

fn culprit(from: crate::party::PartyIndex) -> impl Fn(Fault) -> ProtocolError {
    move |f| ProtocolError::culprit(from, f)
}

fn missing(what: &str) -> ProtocolError {
    ProtocolError::Internal(format!("missing {what}"))
}

/// Sign the 32-byte digest `hash32` with a presignature, which this consumes. Returns
/// the run (continuing the presignature's session at round 5) and its first message.
pub fn start_online<R: RngCore + CryptoRng>(
    presig: Presignature,
    hash32: [u8; 32],
    rng: &mut R,
) -> Result<(Dmz21Online, Vec<Envelope>), ProtocolError> {
    let parties = presig.signers.iter().copied().collect();
    let (session, me) = (presig.session, presig.me);
    Driver::resume(protocol(), session, me, &parties, 5, |io| {
        let m = scalar_from_digest(&hash32);
        let mut t = Transcript::new(b"dmz21-online-context");
        t.append(b"presignature", &presig.id);
        t.append(b"hash", &hash32);
        let extra = t.challenge(b"context")[..32].to_vec();
        let secrets = Secrets {
            s: m * presig.k + presig.r * presig.sigma,
            l: Secp256k1::random_scalar(rng),
            rho: Secp256k1::random_scalar(rng),
        };
        let v_own = presig.big_r * secrets.s + Secp256k1::mul_base(&secrets.l);
        let a_own = Secp256k1::mul_base(&secrets.rho);
        let mut va_blind = [0u8; 32];
        rng.fill_bytes(&mut va_blind);
        let commitment = commit_points(
            VA_COMMIT,
            &session,
            me,
            &extra,
            &[encode_point(&v_own), encode_point(&a_own)],
            &va_blind,
        );
        io.broadcast::<5>(&SignRound5 {
            presignature: presig.id,
            commitment,
        });
        let run = OnlineRounds {
            presig,
            hash: hash32,
            m,
            extra,
            secrets,
            v_own,
            a_own,
            va_blind,
            va_commitments: BTreeMap::new(),
            v_points: BTreeMap::new(),
            u_own: ProjectivePoint::IDENTITY,
            t_own: ProjectivePoint::IDENTITY,
            ut_blind: [0; 32],
            ut_commitments: BTreeMap::new(),
        };
        Ok(run)
    })
}

impl OnlineRounds {
    /// 5A in: check every signer holds our presignature; open `V_i, A_i` (5B).
    fn round5<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<crate::party::PartyIndex, SignRound5>,
        io: &mut Io<'_, SignMsg>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        for (from, r5) in msgs {
            if r5.presignature != self.presig.id {
                return Err(ProtocolError::culprit(
                    from,
                    Fault::Other("signs with another presignature".into()),
                ));
            }
            self.va_commitments.insert(from, r5.commitment);
        }
        let s = &self.secrets;
        let proof = Phase5bProof::prove(
            &self.presig.session,
            self.presig.me,
            &self.extra,
            &self.presig.big_r,
            &s.s,
            &s.l,
            &s.rho,
            &self.v_own,
            &self.a_own,
            rng,
        );
        io.broadcast::<6>(&SignRound6 {
            v: encode_point(&self.v_own),
            a: encode_point(&self.a_own),
            blind: self.va_blind,
            proof,
            echo: io.echo(5),
        });
        Ok(())
    }

    /// `V_j, A_j` opened and proven: commit to `U_i, T_i` (5C).
    fn round6<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<crate::party::PartyIndex, SignRound6>,
        io: &mut Io<'_, SignMsg>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        let session = self.presig.session;
        let mut v_sum = self.v_own;
        let mut a_sum = self.a_own;
        for (from, r6) in msgs {
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
                &[r6.v, r6.a],
                &r6.blind,
                2,
            )
            .map_err(&blame)?;
            r6.proof
                .verify(&session, from, &self.extra, &self.presig.big_r, &pts[0], &pts[1])
                .map_err(&blame)?;
            v_sum += pts[0];
            a_sum += pts[1];
            self.v_points.insert(from, pts[0]);
        }
        let v = v_sum - Secp256k1::mul_base(&self.m) - self.presig.public_key * self.presig.r;
        self.u_own = v * self.secrets.rho;
        self.t_own = a_sum * self.secrets.l;
        rng.fill_bytes(&mut self.ut_blind);
        let commitment = commit_points(
            UT_COMMIT,
            &session,
            self.presig.me,
            &self.extra,
            &[encode_point(&self.u_own), encode_point(&self.t_own)],
            &self.ut_blind,
        );
        io.broadcast::<7>(&SignCommit {
            commitment,
            echo: io.echo(6),
        });
        Ok(())
    }

    /// 5C commitments in: open `U_i, T_i` (5D).
    fn round7(
        &mut self,
        msgs: BTreeMap<crate::party::PartyIndex, SignCommit>,
        io: &mut Io<'_, SignMsg>,
    ) -> Result<(), ProtocolError> {
        for (from, c) in msgs {
            self.ut_commitments.insert(from, c.commitment);
        }
        io.broadcast::<8>(&SignRound8 {
            u: encode_point(&self.u_own),
            t: encode_point(&self.t_own),
            blind: self.ut_blind,
            echo: io.echo(7),
        });
        Ok(())
    }

    /// `U_j, T_j` opened: the 5D check, then reveal `s_i` (5E).
    fn round8(
        &mut self,
        msgs: BTreeMap<crate::party::PartyIndex, SignRound8>,
        io: &mut Io<'_, SignMsg>,
    ) -> Result<(), ProtocolError> {
        let session = self.presig.session;
        let mut u_sum = self.u_own;
        let mut t_sum = self.t_own;
        for (from, r8) in msgs {
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
                &[r8.u, r8.t],
                &r8.blind,
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
        // signature. l_i goes with it so each s_j can be checked against V_j.
        io.broadcast::<9>(&SignRound9 {
            s: Secp256k1::scalar_to_bytes(&self.secrets.s),
            l: Secp256k1::scalar_to_bytes(&self.secrets.l),
            echo: io.echo(8),
        });
        Ok(())
    }

    /// `s_j` in: check each against `V_j`, add, verify the signature.
    fn round9(
        &mut self,
        msgs: BTreeMap<crate::party::PartyIndex, SignRound9>,
    ) -> Result<EcdsaSignature, ProtocolError> {
        let mut s_sum = self.secrets.s;
        for (from, r9) in msgs {
            let blame = culprit(from);
            let s = decode_scalar::<Secp256k1>(&r9.s, "s_i").map_err(&blame)?;
            let l = decode_scalar::<Secp256k1>(&r9.l, "l_i").map_err(&blame)?;
            let v = self.v_points.get(&from).ok_or_else(|| missing("V_j"))?;
            if self.presig.big_r * s + Secp256k1::mul_base(&l) != *v {
                return Err(blame(Fault::Other("s_i does not open the committed V_i".into())));
            }
            s_sum += s;
        }
        if Secp256k1::is_zero(&s_sum) {
            return Err(unattributable("s is zero"));
        }
        let sig =
            EcdsaSignature::normalised(&self.presig.r, &s_sum, self.presig.r_odd, self.presig.r_reduced);
        let fail = |m: &str| ProtocolError::Internal(format!("final signature check: {m}"));
        let vk = k256::ecdsa::VerifyingKey::from_affine(self.presig.public_key.to_affine())
            .map_err(|_| fail("public key"))?;
        let k256_sig = sig.to_k256().map_err(|_| fail("encoding"))?;
        vk.verify_prehash(&self.hash, &k256_sig)
            .map_err(|_| fail("does not verify"))?;
        Ok(sig)
    }
}

impl Rounds for OnlineRounds {
    type Msg = SignMsg;
    type Output = EcdsaSignature;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<SignMsg>,
        io: &mut Io<'_, SignMsg>,
        rng: &mut R,
    ) -> Result<Option<EcdsaSignature>, ProtocolError> {
        match round {
            5 => self.round5(msgs.take::<5>()?, io, rng)?,
            6 => self.round6(msgs.take::<6>()?, io, rng)?,
            7 => self.round7(msgs.take::<7>()?, io)?,
            8 => self.round8(msgs.take::<8>()?, io)?,
            9 => return self.round9(msgs.take::<9>()?).map(Some),
            _ => {
                return Err(ProtocolError::Internal(format!(
                    "round {round} is not an online round"
                )))
            }
        }
        Ok(None)
    }
}
