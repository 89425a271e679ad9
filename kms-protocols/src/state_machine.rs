//! The sans-IO contract every protocol run implements.

use crate::error::ProtocolError;
use crate::message::Envelope;
use crate::party::PartyIndex;
use rand_core::{CryptoRng, RngCore};

/// What a run answers after being fed a message: messages to send and, at the end,
/// its output. No messages and no output means "waiting".
#[derive(Debug)]
#[must_use = "outgoing messages must be delivered"]
pub struct Step<O> {
    /// Messages to deliver, each addressed by its `recipient`.
    pub outgoing: Vec<Envelope>,
    /// The run's result, once; after it the run takes no more messages.
    pub output: Option<O>,
}

impl<O> Step<O> {
    /// Nothing to do until more messages arrive.
    pub fn wait() -> Self {
        Step {
            outgoing: Vec::new(),
            output: None,
        }
    }

    /// Messages to send, no output yet.
    pub fn send(outgoing: Vec<Envelope>) -> Self {
        Step {
            outgoing,
            output: None,
        }
    }

    /// The final output (possibly with last messages).
    pub fn done(outgoing: Vec<Envelope>, output: O) -> Self {
        Step {
            outgoing,
            output: Some(output),
        }
    }

    /// Whether this step neither sends nor finishes.
    pub fn is_waiting(&self) -> bool {
        self.outgoing.is_empty() && self.output.is_none()
    }
}

/// A protocol run: a pure state machine pumped by its caller.
///
/// A run is created by its protocol's `start` function, which returns the run together
/// with its first messages. The caller then feeds every received message to
/// [`StateMachine::handle`] and delivers what comes back, until an output appears.
/// Messages may arrive early (for a later round) and are buffered; nothing a remote
/// party sends can panic the run: bad input is a [`ProtocolError::Culprit`].
pub trait StateMachine {
    /// What a successful run produces.
    type Output;

    /// The local party.
    fn party(&self) -> PartyIndex;

    /// Feed one received message.
    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<Self::Output>, ProtocolError>;
}
