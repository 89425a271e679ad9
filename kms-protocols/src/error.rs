//! Typed errors. A fault caused by a remote party names that party.

use crate::party::PartyIndex;

/// What a party did wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The sender is not a participant of this session (or is ourselves).
    #[error("sender is not a participant of this session")]
    UnknownSender,
    /// The message belongs to another protocol, version or session.
    #[error("message for another protocol, version or session: {0}")]
    WrongSession(String),
    /// The message's round is not one this protocol expects now.
    #[error("message for round {got}, but round {expected} is current")]
    WrongRound {
        /// Round number in the message.
        got: u16,
        /// Current round of the receiver.
        expected: u16,
    },
    /// A second message from the same sender for the same round.
    #[error("duplicate message for round {round}")]
    Duplicate {
        /// The round.
        round: u16,
    },
    /// A broadcast was expected and a point-to-point message came, or the converse,
    /// or the message was addressed to someone else.
    #[error("wrong addressing: {0}")]
    WrongRecipient(&'static str),
    /// The payload does not decode.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// A group element is not a valid encoding, not on the curve, not in the prime-order
    /// subgroup, or is the identity where that is forbidden.
    #[error("invalid group element: {0}")]
    InvalidElement(String),
    /// A scalar is not canonical, or is zero where that is forbidden.
    #[error("invalid scalar: {0}")]
    InvalidScalar(String),
    /// A zero-knowledge proof does not verify.
    #[error("invalid proof: {0}")]
    InvalidProof(String),
    /// A secret share does not match the sender's public commitments.
    #[error("secret share does not match the sender's commitments")]
    InvalidShare,
    /// A commitment vector of the wrong length (an attempt to change the threshold).
    #[error("commitment vector has {got} entries, the threshold requires {expected}")]
    WrongCommitmentLength {
        /// Entries received.
        got: usize,
        /// Entries required (= threshold).
        expected: usize,
    },
    /// The party sent different broadcast contents to different parties. The
    /// `reporter` is the party whose echo revealed it.
    #[error("inconsistent broadcast (seen differently by {reporter})")]
    InconsistentBroadcast {
        /// The party whose view differed.
        reporter: PartyIndex,
    },
    /// A decommitment does not open the earlier commitment.
    #[error("decommitment does not match commitment")]
    BadDecommitment,
    /// A partial signature does not verify against the sender's public share.
    #[error("partial signature does not verify")]
    InvalidPartialSignature,
    /// The confirmation hash of the final state differs from ours.
    #[error("confirmation does not match the local transcript")]
    BadConfirmation,
    /// A modulus (Paillier N, ring-Pedersen N~) outside the accepted size: too small
    /// for security, or so large that every operation with it is a denial of service.
    #[error("{what} has {bits} bits, {min}..={max} accepted")]
    ModulusSize {
        /// Which modulus.
        what: &'static str,
        /// Its size.
        bits: usize,
        /// Smallest accepted size.
        min: usize,
        /// Largest accepted size.
        max: usize,
    },
    /// The party failed a check whose outcome can depend on a long-lived secret of ours
    /// (DKLS23's OT-extension and multiplication checks, its base-OT and setup checks):
    /// it must be banned. The node records the ban durably before answering, refuses
    /// every later session with this party under the same key setup, and works with it
    /// again only after the pair's setup is redone; retrying would let the party learn
    /// the secret bit by bit.
    #[error("ban this party: {0}")]
    Ban(String),
    /// Any other protocol-specific fault.
    #[error("{0}")]
    Other(String),
}

/// The error type of every protocol run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A remote party misbehaved (identifiable abort): the run cannot finish, and this
    /// party is to blame.
    #[error("{party} misbehaved: {fault}")]
    Culprit {
        /// The party to blame.
        party: PartyIndex,
        /// What it did.
        fault: Fault,
    },
    /// The local caller passed bad parameters or state.
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    /// The run already produced its output or aborted; it takes no more messages.
    #[error("the protocol run is finished")]
    Finished,
    /// The final self-check failed although every peer's messages verified; this points
    /// to a local bug or corrupted local state, never to a peer.
    #[error("internal consistency check failed: {0}")]
    Internal(String),
    /// A joint check failed in a way the protocol cannot attribute to one party (GG18's
    /// phase 5D: someone computed with wrong values without breaking a proof). The run is
    /// aborted before any secret-dependent value is revealed.
    #[error("aborted, culprit not identifiable: {0}")]
    Unattributable(String),
}

impl ProtocolError {
    /// Shorthand for a culprit error.
    pub fn culprit(party: PartyIndex, fault: Fault) -> Self {
        ProtocolError::Culprit { party, fault }
    }

    /// The party to blame, if a remote party caused this error.
    pub fn blamed(&self) -> Option<PartyIndex> {
        match self {
            ProtocolError::Culprit { party, .. } => Some(*party),
            _ => None,
        }
    }

    /// Whether this error demands that the culprit be banned ([`Fault::Ban`]).
    pub fn is_ban(&self) -> bool {
        matches!(
            self,
            ProtocolError::Culprit {
                fault: Fault::Ban(_),
                ..
            }
        )
    }

    /// The fault, if a remote party caused this error.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            ProtocolError::Culprit { fault, .. } => Some(fault),
            _ => None,
        }
    }
}
