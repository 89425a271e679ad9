//! The per-pair setup run after key generation and after every refresh: base OTs in
//! both directions, the punctured trees of SoftSpokenOT, and the zero-sharing seeds.
//! See docs/dkls23.md §6.
//!
//! Rounds: 1. p2p: base-OT messages of both directions, zero-seed commitment;
//! 2. p2p: tree ciphertexts and leaf commitments, zero-seed opening;
//! 3. broadcast: confirmation of the setup id. Material is output only when every
//! holder confirmed.

use super::hash::Tagged;
use super::ot::base::{OtReceiver, OtSender};
use super::ot::ext::{ReceiverSetup, SenderSetup, BLOCKS, KAPPA};
use super::ot::ggm::{self, Seed, DEPTH, LEAVES};
use super::{zero_share, Dkls23KeyShare, PairSetup, VERSION};
use crate::driver::{round_messages, Driver, Incoming, Io, Rounds};
use crate::error::{Fault, ProtocolError};
use crate::gg18::secp256k1::Secp256k1;
use crate::group::Group;
use crate::key_share::KeyShare;
use crate::message::{Envelope, Phase, ProtocolId, Scheme};
use crate::party::{PartyIndex, SessionId};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::{Zeroize, Zeroizing};

const CT_LEN: usize = BLOCKS * DEPTH * 2 * 32;
const HASHES_LEN: usize = BLOCKS * LEAVES * 32;

/// The protocol id of setup runs.
pub(crate) fn protocol() -> ProtocolId {
    ProtocolId {
        scheme: Scheme::Dkls23,
        phase: Phase::Aux,
        version: VERSION,
    }
}

/// Setup round 1.
#[derive(Serialize, Deserialize)]
pub struct Round1 {
    /// MR19 sender point, for the instance where the sender of this message is Bob.
    ot_sender: Vec<u8>,
    /// MR19 receiver pairs, for the instance where the sender of this message is Alice.
    ot_receiver: Vec<u8>,
    zero_commit: [u8; 32],
}

/// Setup round 2.
#[derive(Serialize, Deserialize)]
pub struct Round2 {
    ciphertexts: Vec<u8>,
    leaf_hashes: Vec<u8>,
    zero_open: [u8; 32],
}

/// Setup round 3.
#[derive(Serialize, Deserialize)]
pub struct Round3 {
    confirmation: [u8; 32],
}

/// The session id of a pair's OTs for the instance (Alice, Bob).
fn pair_sid(setup_sid: &[u8; 32], alice: PartyIndex, bob: PartyIndex) -> [u8; 32] {
    Tagged::new("pair-ot")
        .item(setup_sid)
        .u64(u64::from(alice.get()))
        .u64(u64::from(bob.get()))
        .finish()
}

/// The setup's session id: the caller's fresh session bound to the key and its epoch.
pub(crate) fn setup_sid(session: &SessionId, share: &KeyShare<Secp256k1>) -> [u8; 32] {
    let mut t = Tagged::new("setup");
    t.item(&session.0)
        .item(&Secp256k1::element_to_bytes(share.public_key()))
        .u64(share.epoch())
        .u64(u64::from(share.threshold().threshold))
        .u64(u64::from(share.threshold().parties));
    for (p, x) in share.public_shares() {
        t.u64(u64::from(p.get())).item(&Secp256k1::element_to_bytes(x));
    }
    t.finish()
}

struct Peer {
    delta: [u8; 32],
    ot_sender: OtSender,
    ot_receiver: Option<OtReceiver>,
    zero_mine: [u8; 32],
    zero_commit: Option<[u8; 32]>,
    chosen_keys: Option<Zeroizing<Vec<[u8; 32]>>>,
    bob_leaves: Option<Vec<[Seed; LEAVES]>>,
    done: Option<PairSetup>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.delta.zeroize();
        self.zero_mine.zeroize();
        if let Some(l) = self.bob_leaves.as_mut() {
            l.zeroize();
        }
    }
}

round_messages! {
    /// The messages of the setup, one variant per round.
    pub enum SetupMsg {
        1 P2p BaseOt(Round1),
        2 P2p Trees(Round2),
        3 Broadcast Confirm(Round3),
    }
}

/// One party's setup run: the shared [`Driver`] over [`SetupRounds`].
pub type Setup = Driver<SetupRounds>;

/// The round logic of the setup.
pub struct SetupRounds {
    me: PartyIndex,
    share: Option<KeyShare<Secp256k1>>,
    sid: [u8; 32],
    peers: BTreeMap<PartyIndex, Peer>,
    confirmation: [u8; 32],
}

impl std::fmt::Debug for SetupRounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupRounds")
            .field("party", &self.me)
            .finish_non_exhaustive()
    }
}

impl Setup {
    /// Start the setup of `share` among all of its holders.
    pub fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        share: KeyShare<Secp256k1>,
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        let me = share.index();
        let parties = PartyIndex::range(share.threshold().parties).collect();
        let sid = setup_sid(&session, &share);
        Driver::new(protocol(), session, me, &parties, |io| {
            let mut peers = BTreeMap::new();
            for j in io.peers() {
                let mut delta = [0u8; 32];
                rng.fill_bytes(&mut delta);
                let choices: Vec<u8> = (0..KAPPA)
                    .map(|l| ggm::choice(SenderSetup::delta_block(&delta, l / DEPTH), l % DEPTH + 1))
                    .collect();
                let (ot_receiver, ot_receiver_msg) = OtReceiver::new(&pair_sid(&sid, me, j), &choices, rng);
                let ot_sender = OtSender::new(rng);
                let zero_mine = zero_share::contribution(rng);
                let msg = Round1 {
                    ot_sender: ot_sender.message(),
                    ot_receiver: ot_receiver_msg,
                    zero_commit: zero_share::commit(&sid, me, j, &zero_mine),
                };
                io.send::<1>(j, &msg);
                peers.insert(
                    j,
                    Peer {
                        delta,
                        ot_sender,
                        ot_receiver: Some(ot_receiver),
                        zero_mine,
                        zero_commit: None,
                        chosen_keys: None,
                        bob_leaves: None,
                        done: None,
                    },
                );
            }
            Ok(SetupRounds {
                me,
                share: Some(share),
                sid,
                peers,
                confirmation: [0; 32],
            })
        })
    }
}

impl Rounds for SetupRounds {
    type Msg = SetupMsg;
    type Output = Dkls23KeyShare;

    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<SetupMsg>,
        io: &mut Io<'_, SetupMsg>,
        rng: &mut R,
    ) -> Result<Option<Dkls23KeyShare>, ProtocolError> {
        match round {
            1 => self.round1(msgs.take::<1>()?, io, rng).map(|()| None),
            2 => self.round2(msgs.take::<2>()?, io).map(|()| None),
            _ => self.round3(msgs.take::<3>()?).map(Some),
        }
    }
}

impl SetupRounds {
    fn round1<R: RngCore + CryptoRng>(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round1>,
        io: &mut Io<'_, SetupMsg>,
        rng: &mut R,
    ) -> Result<(), ProtocolError> {
        let me = self.me;
        for (from, r1) in msgs {
            let ban = |f: Fault| ProtocolError::culprit(from, Fault::Ban(f.to_string()));
            let peer = self
                .peers
                .get_mut(&from)
                .ok_or(ProtocolError::culprit(from, Fault::UnknownSender))?;
            // I am Bob toward `from`: its receiver pairs give me both keys of each OT.
            let keys = peer
                .ot_sender
                .keys(&pair_sid(&self.sid, from, me), &r1.ot_receiver, KAPPA)
                .map_err(ban)?;
            // I am Alice toward `from`: its point gives me my chosen keys.
            let receiver = peer.ot_receiver.take().ok_or(ProtocolError::Finished)?;
            peer.chosen_keys = Some(
                receiver
                    .keys(&pair_sid(&self.sid, me, from), &r1.ot_sender)
                    .map_err(ban)?,
            );
            peer.zero_commit = Some(r1.zero_commit);
            let tree_sid = pair_sid(&self.sid, from, me);
            let mut ciphertexts = Vec::with_capacity(CT_LEN);
            let mut leaf_hashes = Vec::with_capacity(HASHES_LEN);
            let mut leaves = Vec::with_capacity(BLOCKS);
            for b in 0..BLOCKS {
                let mut root = [0u8; 32];
                rng.fill_bytes(&mut root);
                let (l, cts, hashes) =
                    ggm::build(&tree_sid, b as u16, &root, &keys[DEPTH * b..DEPTH * (b + 1)]);
                root.zeroize();
                for level in &cts {
                    ciphertexts.extend_from_slice(&level[0]);
                    ciphertexts.extend_from_slice(&level[1]);
                }
                for h in &hashes {
                    leaf_hashes.extend_from_slice(h);
                }
                leaves.push(l);
            }
            peer.bob_leaves = Some(leaves);
            let msg = Round2 {
                ciphertexts,
                leaf_hashes,
                zero_open: peer.zero_mine,
            };
            io.send::<2>(from, &msg);
        }
        Ok(())
    }

    fn round2(
        &mut self,
        msgs: BTreeMap<PartyIndex, Round2>,
        io: &mut Io<'_, SetupMsg>,
    ) -> Result<(), ProtocolError> {
        let me = self.me;
        for (from, r2) in msgs {
            let blame = |f| ProtocolError::culprit(from, f);
            if r2.ciphertexts.len() != CT_LEN || r2.leaf_hashes.len() != HASHES_LEN {
                return Err(blame(Fault::Ban(
                    "setup: tree message of the wrong length".into(),
                )));
            }
            let peer = self.peers.get_mut(&from).ok_or(blame(Fault::UnknownSender))?;
            if zero_share::commit(&self.sid, from, me, &r2.zero_open) != peer.zero_commit.unwrap_or_default()
            {
                return Err(blame(Fault::BadDecommitment));
            }
            let keys = peer.chosen_keys.take().ok_or(ProtocolError::Finished)?;
            let tree_sid = pair_sid(&self.sid, me, from);
            let mut alice_leaves = Vec::with_capacity(BLOCKS);
            for b in 0..BLOCKS {
                let mut cts = [[[0u8; 32]; 2]; DEPTH];
                for (d, level) in cts.iter_mut().enumerate() {
                    for (bit, ct) in level.iter_mut().enumerate() {
                        let at = ((b * DEPTH + d) * 2 + bit) * 32;
                        ct.copy_from_slice(&r2.ciphertexts[at..at + 32]);
                    }
                }
                let hashes: [[u8; 32]; LEAVES] = std::array::from_fn(|x| {
                    let at = (b * LEAVES + x) * 32;
                    r2.leaf_hashes[at..at + 32].try_into().expect("32 bytes")
                });
                let alpha = SenderSetup::delta_block(&peer.delta, b);
                let leaves = ggm::puncture(
                    &tree_sid,
                    b as u16,
                    alpha,
                    &keys[DEPTH * b..DEPTH * (b + 1)],
                    &cts,
                    &hashes,
                )
                .ok_or_else(|| {
                    blame(Fault::Ban(
                        "setup: tree leaves do not match their commitments".into(),
                    ))
                })?;
                alice_leaves.push(leaves);
            }
            let bob_leaves = peer.bob_leaves.take().ok_or(ProtocolError::Finished)?;
            peer.done = Some(PairSetup {
                alice: SenderSetup {
                    delta: peer.delta,
                    leaves: alice_leaves,
                },
                bob: ReceiverSetup { leaves: bob_leaves },
                zero_seed: zero_share::seed(&self.sid, me, &peer.zero_mine, from, &r2.zero_open),
            });
        }
        self.confirmation = Tagged::new("setup-confirm")
            .item(&super::setup_id(&self.sid))
            .finish();
        let c = self.confirmation;
        io.broadcast::<3>(&Round3 { confirmation: c });
        Ok(())
    }

    fn round3(&mut self, msgs: BTreeMap<PartyIndex, Round3>) -> Result<Dkls23KeyShare, ProtocolError> {
        for (from, r3) in msgs {
            if r3.confirmation != self.confirmation {
                return Err(ProtocolError::culprit(from, Fault::BadConfirmation));
            }
        }
        let share = self.share.take().ok_or(ProtocolError::Finished)?;
        let mut pairs = BTreeMap::new();
        for (p, peer) in self.peers.iter_mut() {
            pairs.insert(*p, peer.done.take().ok_or(ProtocolError::Finished)?);
        }
        Ok(Dkls23KeyShare {
            share,
            setup_id: super::setup_id(&self.sid),
            pairs,
        })
    }
}
