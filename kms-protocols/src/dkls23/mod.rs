//! DKLS23: threshold ECDSA on secp256k1 in three rounds from oblivious transfer
//! (Doerner, Kondi, Lee, shelat, IEEE S&P 2024, eprint 2023/765).
//!
//! The construction, with every check and the reason for it, is specified in
//! `docs/dkls23.md`; module docs point to its sections. In short: Masny-Rindal endemic
//! base OT, SoftSpokenOT (k = 4) with a Fiat-Shamir KOS check, the paper's random VOLE
//! with forced reuse (Protocol 5.2), pairwise zero sharing, and the three-round signing
//! of Protocol 3.6 whose first two rounds form a [`Presignature`].
//!
//! What a node does with it:
//! 1. key generation: [`start_dkg`] (the crate's generic DKG, then the pairwise
//!    [`setup`]), output a [`Dkls23KeyShare`]; store it with [`Dkls23KeyShare::to_bytes`];
//! 2. signing: [`start_sign`] (three rounds), or [`start_presign`] then
//!    [`start_sign_with`] (one round once the message is known);
//! 3. refresh: [`start_refresh`] (new shares of the same key, then a new setup).
//!
//! A `ProtocolError` whose fault is [`crate::Fault::Ban`] ([`ProtocolError::is_ban`])
//! names a peer the node must ban durably before answering, for every later session
//! of this key's setup, until the pair's setup is redone. A session id must be fresh
//! for every run, and a crashed session is abandoned, never resumed.

mod gf128;
mod hash;
pub mod mul;
pub mod ot;
pub mod setup;
pub mod sign;
pub mod zero_share;

#[cfg(test)]
mod tests;

use crate::dkg::Dkg;
use crate::error::{Fault, ProtocolError};
use crate::gg18::secp256k1::Secp256k1;
use crate::key_share::KeyShare;
use crate::message::{Envelope, Scheme};
use crate::party::{PartyIndex, SessionId, Threshold};
use crate::state_machine::{StateMachine, Step};
use hash::Tagged;
use ot::ext::{ReceiverSetup, SenderSetup, BLOCKS};
use ot::ggm::{Seed, LEAVES};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::{Zeroize, Zeroizing};

pub use crate::gg18::signature::EcdsaSignature;
pub use setup::Setup;
pub use sign::{OnlineSign, Presign, Presignature, Sign};

/// Wire and storage version of DKLS23 in this crate.
pub const VERSION: u16 = 1;

/// The material one holder keeps toward one other holder: its OT-extension sender side
/// (it is Alice toward the peer), receiver side (Bob toward the peer) and the pair's
/// zero-sharing seed. Not `Clone`: copies exist only inside a signing run.
pub struct PairSetup {
    pub(crate) alice: SenderSetup,
    pub(crate) bob: ReceiverSetup,
    pub(crate) zero_seed: [u8; 32],
}

impl SenderSetup {
    /// A copy for one signing run (the material is long-lived by design; what is
    /// single-use is each session's extension output, which has no copy).
    pub(crate) fn duplicate(&self) -> Self {
        Self {
            delta: self.delta,
            leaves: self.leaves.clone(),
        }
    }
}

impl Drop for PairSetup {
    fn drop(&mut self) {
        self.zero_seed.zeroize();
    }
}

impl std::fmt::Debug for PairSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairSetup(<redacted>)")
    }
}

/// A holder's DKLS23 key share: its Shamir share of the key (with the public data
/// every holder agrees on), the setup id, and the pairwise setup material toward every
/// other holder. Secrets are zeroized on drop and never printed.
pub struct Dkls23KeyShare {
    pub(crate) share: KeyShare<Secp256k1>,
    pub(crate) setup_id: [u8; 32],
    pub(crate) pairs: BTreeMap<PartyIndex, PairSetup>,
}

impl std::fmt::Debug for Dkls23KeyShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dkls23KeyShare")
            .field("share", &self.share)
            .field("setup_id", &hex::encode(self.setup_id))
            .field("pairs", &"<redacted>")
            .finish()
    }
}

/// The setup id from the setup's session id.
pub(crate) fn setup_id(setup_sid: &[u8; 32]) -> [u8; 32] {
    Tagged::new("setup-id").item(setup_sid).finish()
}

const STORAGE_TAG: &str = "kms-dkls23-share";

#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
struct StoredPair {
    peer: u16,
    delta: [u8; 32],
    alice_leaves: Vec<u8>,
    bob_leaves: Vec<u8>,
    zero_seed: [u8; 32],
}

#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
struct Stored {
    tag: String,
    version: u16,
    share: Vec<u8>,
    setup_id: [u8; 32],
    pairs: Vec<StoredPair>,
}

fn leaves_to_bytes(leaves: &[[Seed; LEAVES]]) -> Vec<u8> {
    leaves.iter().flat_map(|t| t.iter().flatten().copied()).collect()
}

fn leaves_from_bytes(b: &[u8]) -> Option<Vec<[Seed; LEAVES]>> {
    if b.len() != BLOCKS * LEAVES * 32 {
        return None;
    }
    Some(
        b.chunks_exact(LEAVES * 32)
            .map(|t| std::array::from_fn(|x| t[32 * x..32 * x + 32].try_into().expect("32 bytes")))
            .collect(),
    )
}

impl Dkls23KeyShare {
    /// The Shamir share and the key's public data.
    pub fn key_share(&self) -> &KeyShare<Secp256k1> {
        &self.share
    }

    /// This holder's index.
    pub fn index(&self) -> PartyIndex {
        self.share.index()
    }

    /// (t, n) of the key.
    pub fn threshold(&self) -> Threshold {
        self.share.threshold()
    }

    /// The public key.
    pub fn public_key(&self) -> &k256::ProjectivePoint {
        self.share.public_key()
    }

    /// Refresh epoch of the share.
    pub fn epoch(&self) -> u64 {
        self.share.epoch()
    }

    /// The id of the setup the pairwise material comes from; bound into every signing.
    pub fn setup_id(&self) -> [u8; 32] {
        self.setup_id
    }

    /// Serialise for storage (versioned). The result holds secrets and is zeroized on
    /// drop; storage encrypts it before it touches a disk.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let share = self.share.to_bytes();
        let stored = Stored {
            tag: STORAGE_TAG.into(),
            version: VERSION,
            share: share.to_vec(),
            setup_id: self.setup_id,
            pairs: self
                .pairs
                .iter()
                .map(|(p, m)| StoredPair {
                    peer: p.get(),
                    delta: m.alice.delta,
                    alice_leaves: leaves_to_bytes(&m.alice.leaves),
                    bob_leaves: leaves_to_bytes(&m.bob.leaves),
                    zero_seed: m.zero_seed,
                })
                .collect(),
        };
        Zeroizing::new(crate::message::encode(&stored))
    }

    /// Parse and validate a stored share: version, the Shamir share's own checks, one
    /// pair of material per other holder, each of the right size, and Alice's trees
    /// punctured exactly at Δ.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let bad = |m: &str| ProtocolError::InvalidParameters(format!("stored DKLS23 share: {m}"));
        let stored: Stored = crate::message::decode_payload(bytes).map_err(|e| bad(&e.to_string()))?;
        if stored.tag != STORAGE_TAG || stored.version != VERSION {
            return Err(bad("unknown tag or version"));
        }
        let share = KeyShare::<Secp256k1>::from_bytes(&stored.share)?;
        let mut pairs = BTreeMap::new();
        for p in &stored.pairs {
            let peer = PartyIndex::new(p.peer).ok_or_else(|| bad("peer 0"))?;
            let alice = leaves_from_bytes(&p.alice_leaves).ok_or_else(|| bad("sender leaves"))?;
            let bob = leaves_from_bytes(&p.bob_leaves).ok_or_else(|| bad("receiver leaves"))?;
            let punctured_at_delta = alice
                .iter()
                .enumerate()
                .all(|(j, t)| t[usize::from(SenderSetup::delta_block(&p.delta, j))] == [0u8; 32]);
            if !punctured_at_delta {
                return Err(bad("sender trees not punctured at Δ"));
            }
            let m = PairSetup {
                alice: SenderSetup {
                    delta: p.delta,
                    leaves: alice,
                },
                bob: ReceiverSetup { leaves: bob },
                zero_seed: p.zero_seed,
            };
            if pairs.insert(peer, m).is_some() {
                return Err(bad("duplicate peer"));
            }
        }
        let expected: Vec<PartyIndex> = PartyIndex::range(share.threshold().parties)
            .filter(|p| *p != share.index())
            .collect();
        if pairs.keys().copied().collect::<Vec<_>>() != expected {
            return Err(bad("material does not cover exactly the other holders"));
        }
        Ok(Self {
            share,
            setup_id: stored.setup_id,
            pairs,
        })
    }
}

enum Stage {
    Dkg(Box<Dkg<Secp256k1>>),
    Setup(Box<Setup>),
    Done,
}

/// Key generation or refresh followed by the pairwise setup, as one run.
pub struct Dkls23Keygen {
    stage: Stage,
    session: SessionId,
    me: PartyIndex,
    parties: u16,
    early: Vec<Envelope>,
}

impl std::fmt::Debug for Dkls23Keygen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dkls23Keygen")
            .field("party", &self.me)
            .finish_non_exhaustive()
    }
}

/// The session id of the setup that follows a key generation or refresh started with
/// `session` (its messages carry it). Public so a runtime that admits one session id
/// per run can map the setup's messages to and from the run's session.
pub fn setup_session(session: &SessionId) -> SessionId {
    SessionId(Tagged::new("setup-session").item(&session.0).finish())
}

impl Dkls23Keygen {
    fn from_dkg(session: SessionId, me: PartyIndex, parties: u16, dkg: Dkg<Secp256k1>) -> Self {
        Self {
            stage: Stage::Dkg(Box::new(dkg)),
            session,
            me,
            parties,
            early: Vec::new(),
        }
    }

    fn start_setup<R: RngCore + CryptoRng>(
        &mut self,
        share: KeyShare<Secp256k1>,
        rng: &mut R,
    ) -> Result<Step<Dkls23KeyShare>, ProtocolError> {
        let (mut run, mut outgoing) = Setup::start(setup_session(&self.session), share, rng)?;
        let mut output = None;
        for env in std::mem::take(&mut self.early) {
            let step = run.handle(env, rng)?;
            outgoing.extend(step.outgoing);
            output = output.or(step.output);
        }
        self.stage = if output.is_some() {
            Stage::Done
        } else {
            Stage::Setup(Box::new(run))
        };
        Ok(Step { outgoing, output })
    }
}

impl StateMachine for Dkls23Keygen {
    type Output = Dkls23KeyShare;

    fn party(&self) -> PartyIndex {
        self.me
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<Dkls23KeyShare>, ProtocolError> {
        let result = self.step(msg, rng);
        if result.is_err() {
            // As in every driver run: whatever the error, the run is over, and the
            // DKG or setup state (with its secrets) goes with it.
            self.stage = Stage::Done;
            self.early.clear();
        }
        result
    }
}

impl Dkls23Keygen {
    /// One message: to the DKG's driver, then to the setup's (early setup messages
    /// are held until the setup starts, then fed to its driver in arrival order).
    fn step<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<Dkls23KeyShare>, ProtocolError> {
        let is_setup = msg.protocol == setup::protocol();
        match &mut self.stage {
            Stage::Setup(run) if is_setup => {
                let step = run.handle(msg, rng)?;
                if step.output.is_some() {
                    self.stage = Stage::Done;
                }
                Ok(step)
            }
            Stage::Dkg(_) if is_setup => {
                // A faster peer's setup messages: hold them until our DKG is done. At
                // most two rounds per peer can come early; more is a flood.
                let from = msg.sender;
                if msg.session != setup_session(&self.session) {
                    return Err(ProtocolError::culprit(
                        from,
                        Fault::WrongSession(format!("{:?}", msg.session)),
                    ));
                }
                if self.early.iter().filter(|e| e.sender == from).count() >= 3 || from.get() > self.parties {
                    return Err(ProtocolError::culprit(
                        from,
                        Fault::Duplicate { round: msg.round },
                    ));
                }
                self.early.push(msg);
                Ok(Step::wait())
            }
            Stage::Dkg(dkg) => {
                let step = dkg.handle(msg, rng)?;
                match step.output {
                    None => Ok(Step::send(step.outgoing)),
                    Some(share) => {
                        let mut next = self.start_setup(share, rng)?;
                        let mut outgoing = step.outgoing;
                        outgoing.append(&mut next.outgoing);
                        Ok(Step {
                            outgoing,
                            output: next.output,
                        })
                    }
                }
            }
            Stage::Setup(run) => run.handle(msg, rng),
            Stage::Done => Err(ProtocolError::Finished),
        }
    }
}

/// Start key generation for party `me`: the generic DKG over secp256k1, then the
/// pairwise setup. Returns the run and its first messages.
pub fn start_dkg<R: RngCore + CryptoRng>(
    session: SessionId,
    threshold: Threshold,
    me: PartyIndex,
    rng: &mut R,
) -> Result<(Dkls23Keygen, Vec<Envelope>), ProtocolError> {
    let (dkg, out) = crate::dkg::start_dkg::<Secp256k1, R>(Scheme::Dkls23, session, threshold, me, rng)?;
    Ok((Dkls23Keygen::from_dkg(session, me, threshold.parties, dkg), out))
}

/// Start a refresh: new shares of the same key (epoch + 1), then a new setup with fresh
/// OT material and zero-sharing seeds. The old share stays valid until the run's output
/// replaces it.
pub fn start_refresh<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &Dkls23KeyShare,
    rng: &mut R,
) -> Result<(Dkls23Keygen, Vec<Envelope>), ProtocolError> {
    let (dkg, out) =
        crate::dkg::start_refresh::<Secp256k1, R>(Scheme::Dkls23, session, share.share.clone(), rng)?;
    Ok((
        Dkls23Keygen::from_dkg(session, share.index(), share.threshold().parties, dkg),
        out,
    ))
}

/// Start a setup alone for an existing Shamir share (e.g. to redo the setup after a
/// ban), among all holders.
pub fn start_setup<R: RngCore + CryptoRng>(
    session: SessionId,
    share: KeyShare<Secp256k1>,
    rng: &mut R,
) -> Result<(Setup, Vec<Envelope>), ProtocolError> {
    Setup::start(session, share, rng)
}

/// Start a three-round signing of the 32-byte message digest `hash32` by `signers`.
pub fn start_sign<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &Dkls23KeyShare,
    signers: &[PartyIndex],
    hash32: [u8; 32],
    rng: &mut R,
) -> Result<(Sign, Vec<Envelope>), ProtocolError> {
    Sign::start(session, share, signers, hash32, rng)
}

/// Start presigning (rounds 1-2, independent of the message) by `signers`.
pub fn start_presign<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &Dkls23KeyShare,
    signers: &[PartyIndex],
    rng: &mut R,
) -> Result<(Presign, Vec<Envelope>), ProtocolError> {
    Presign::start(session, share, signers, rng)
}

/// Sign `hash32` with a presignature, in one broadcast round. The presignature is
/// consumed; the caller must have marked it used durably before the message leaves.
pub fn start_sign_with(
    presignature: Presignature,
    hash32: [u8; 32],
) -> Result<(OnlineSign, Vec<Envelope>), ProtocolError> {
    OnlineSign::start(presignature, hash32)
}
