//! Per-run message intake: validation, buffering of early messages, duplicate and
//! addressing checks, and the echo check that makes broadcasts consistent.
//!
//! Every protocol run in this crate has one [`Inbox`], owned by its
//! [`crate::driver::Driver`]. It answers the generic questions ("is this sender in the
//! session? is this the right round? have we seen it?") so the protocol code only deals
//! with payloads. It keeps no payload: the driver stores the decoded messages.

use crate::error::{Fault, ProtocolError};
use crate::message::{encode, Envelope, ProtocolId, Recipient};
use crate::party::{PartyIndex, SessionId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// How a round's messages travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoundKind {
    /// Each party sends one message to all.
    Broadcast,
    /// Each party sends one message to each other party.
    P2p,
}

/// A party's view of one round's broadcasts: the hash of each party's payload.
/// Sent in the following round so that equivocation is caught.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo(pub Vec<(PartyIndex, [u8; 32])>);

/// Message intake for one run.
#[derive(Debug)]
pub struct Inbox {
    protocol: ProtocolId,
    session: SessionId,
    me: PartyIndex,
    peers: BTreeSet<PartyIndex>,
    rounds: &'static [RoundKind],
    current: u16,
    /// Who has sent a message of each round not yet advanced past.
    seen: BTreeMap<u16, BTreeSet<PartyIndex>>,
    own_broadcasts: BTreeMap<u16, Vec<u8>>,
    broadcast_hashes: BTreeMap<u16, BTreeMap<PartyIndex, [u8; 32]>>,
    finished: bool,
}

impl Inbox {
    /// A new inbox for `me` among `parties` (which must include `me`).
    pub fn new(
        protocol: ProtocolId,
        session: SessionId,
        me: PartyIndex,
        parties: &BTreeSet<PartyIndex>,
        rounds: &'static [RoundKind],
    ) -> Result<Self, ProtocolError> {
        if !parties.contains(&me) {
            return Err(ProtocolError::InvalidParameters(format!(
                "{me} is not among the session's parties"
            )));
        }
        let peers = parties.iter().copied().filter(|p| *p != me).collect();
        Ok(Self {
            protocol,
            session,
            me,
            peers,
            rounds,
            current: 1,
            seen: BTreeMap::new(),
            own_broadcasts: BTreeMap::new(),
            broadcast_hashes: BTreeMap::new(),
            finished: false,
        })
    }

    /// The local party.
    pub fn me(&self) -> PartyIndex {
        self.me
    }

    /// The other parties.
    pub fn peers(&self) -> &BTreeSet<PartyIndex> {
        &self.peers
    }

    /// The session id.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The round whose messages are being collected.
    pub fn current_round(&self) -> u16 {
        self.current
    }

    /// Mark the run finished: every later message is refused.
    pub fn finish(&mut self) {
        self.finished = true;
        self.seen.clear();
    }

    /// Whether the run is finished.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Build an outgoing message of `round`. Broadcast payloads are remembered for the
    /// echo check.
    pub fn envelope<T: Serialize>(&mut self, round: u16, to: Recipient, payload: &T) -> Envelope {
        let payload = encode(payload);
        if to == Recipient::All {
            self.broadcast_hashes
                .entry(round)
                .or_default()
                .insert(self.me, hash_payload(&payload));
            self.own_broadcasts.insert(round, payload.clone());
        }
        Envelope {
            protocol: self.protocol,
            session: self.session,
            round,
            sender: self.me,
            recipient: to,
            payload,
        }
    }

    /// The kind of `round` (1-based), if the protocol has that round.
    pub fn kind(&self, round: u16) -> Option<RoundKind> {
        usize::from(round)
            .checked_sub(1)
            .and_then(|i| self.rounds.get(i))
            .copied()
    }

    /// Validate one message and record it (its sender for the duplicate check, its hash
    /// for the echo check of a broadcast). Returns an error naming the sender for any
    /// message that does not belong here. The payload is the caller's to keep.
    pub fn admit(&mut self, msg: &Envelope) -> Result<(), ProtocolError> {
        if self.finished {
            return Err(ProtocolError::Finished);
        }
        let from = msg.sender;
        let blame = |fault| ProtocolError::culprit(from, fault);
        if !self.peers.contains(&from) {
            return Err(blame(Fault::UnknownSender));
        }
        if msg.protocol != self.protocol {
            return Err(blame(Fault::WrongSession(format!(
                "protocol {:?}, expected {:?}",
                msg.protocol, self.protocol
            ))));
        }
        if msg.session != self.session {
            return Err(blame(Fault::WrongSession(format!("{:?}", msg.session))));
        }
        let round = msg.round;
        let kind = match self.kind(round) {
            Some(kind) if round >= self.current => kind,
            _ => {
                return Err(blame(Fault::WrongRound {
                    got: round,
                    expected: self.current,
                }))
            }
        };
        match (kind, msg.recipient) {
            (RoundKind::Broadcast, Recipient::All) => {}
            (RoundKind::P2p, Recipient::One(to)) if to == self.me => {}
            (RoundKind::P2p, Recipient::One(_)) => {
                return Err(blame(Fault::WrongRecipient("addressed to another party")))
            }
            (RoundKind::Broadcast, Recipient::One(_)) => {
                return Err(blame(Fault::WrongRecipient("round is a broadcast")))
            }
            (RoundKind::P2p, Recipient::All) => {
                return Err(blame(Fault::WrongRecipient("round is point-to-point")))
            }
        }
        if !self.seen.entry(round).or_default().insert(from) {
            return Err(blame(Fault::Duplicate { round }));
        }
        if kind == RoundKind::Broadcast {
            self.broadcast_hashes
                .entry(round)
                .or_default()
                .insert(from, hash_payload(&msg.payload));
        }
        Ok(())
    }

    /// Whether every peer's message for the current round is in.
    pub fn current_complete(&self) -> bool {
        self.seen
            .get(&self.current)
            .is_some_and(|m| m.len() == self.peers.len())
    }

    /// Move to the next round. Call only when [`Inbox::current_complete`] is true.
    pub fn advance(&mut self) {
        self.seen.remove(&self.current);
        self.current += 1;
    }

    /// Our view of a broadcast round, to be sent in a later round.
    pub fn echo(&self, round: u16) -> Echo {
        Echo(
            self.broadcast_hashes
                .get(&round)
                .map(|m| m.iter().map(|(p, h)| (*p, *h)).collect())
                .unwrap_or_default(),
        )
    }

    /// Compare `reporter`'s view of a broadcast round with ours, and name the party
    /// that equivocated if they differ.
    pub fn check_echo(&self, round: u16, reporter: PartyIndex, echo: &Echo) -> Result<(), ProtocolError> {
        let mine = self.echo(round);
        if mine.0.len() != echo.0.len() || mine.0.iter().zip(&echo.0).any(|(a, b)| a.0 != b.0) {
            return Err(ProtocolError::culprit(
                reporter,
                Fault::Malformed(format!("echo of round {round} lists the wrong parties")),
            ));
        }
        for ((party, h_mine), (_, h_theirs)) in mine.0.iter().zip(&echo.0) {
            if h_mine != h_theirs {
                // If the difference concerns our own broadcast or the reporter's own, the
                // reporter is lying or equivocated itself; otherwise the origin equivocated.
                let culprit = if *party == self.me || *party == reporter {
                    reporter
                } else {
                    *party
                };
                return Err(ProtocolError::culprit(
                    culprit,
                    Fault::InconsistentBroadcast { reporter },
                ));
            }
        }
        Ok(())
    }
}

/// The hash of a broadcast payload that echoes carry.
pub(crate) fn hash_payload(payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kms-broadcast-echo/v1");
    h.update(payload);
    h.finalize().into()
}
