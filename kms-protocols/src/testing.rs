//! An in-memory network that pumps protocol runs, for tests and simulations.
//!
//! It delivers every outgoing envelope to its recipient(s) in FIFO order, so a run with
//! a seeded RNG is deterministic. A hook may rewrite or drop any message in flight,
//! which is how tests play a misbehaving party or relay.
//!
//! Available in this crate's tests and, with the `testing` feature, to other crates.

use crate::error::ProtocolError;
use crate::message::{Envelope, Recipient};
use crate::party::PartyIndex;
use crate::state_machine::StateMachine;
use rand_core::{CryptoRng, RngCore};
use std::collections::{BTreeMap, VecDeque};

/// A set of runs, one per party, connected by an in-memory queue.
pub struct Network<S: StateMachine> {
    machines: BTreeMap<PartyIndex, S>,
    queue: VecDeque<(PartyIndex, Envelope)>,
    outputs: BTreeMap<PartyIndex, S::Output>,
    errors: BTreeMap<PartyIndex, ProtocolError>,
}

impl<S: StateMachine> Default for Network<S> {
    fn default() -> Self {
        Self {
            machines: BTreeMap::new(),
            queue: VecDeque::new(),
            outputs: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }
}

impl<S: StateMachine> Network<S> {
    /// A network of the given runs, each with its first messages (what its protocol's
    /// `start` function returned) queued.
    pub fn new(starts: impl IntoIterator<Item = (S, Vec<Envelope>)>) -> Self {
        let mut net = Self::default();
        let mut first = Vec::new();
        for (machine, envelopes) in starts {
            net.machines.insert(machine.party(), machine);
            first.extend(envelopes);
        }
        for env in first {
            net.post(env);
        }
        net
    }

    /// Queue an envelope for its recipients: every other run for a broadcast, or the one
    /// addressed. Recipients that are not in the network are skipped.
    pub fn post(&mut self, env: Envelope) {
        match env.recipient {
            Recipient::All => {
                for to in self.machines.keys().copied().filter(|p| *p != env.sender) {
                    self.queue.push_back((to, env.clone()));
                }
            }
            Recipient::One(to) => {
                if self.machines.contains_key(&to) {
                    self.queue.push_back((to, env));
                }
            }
        }
    }

    /// Queue an envelope for one party, whatever its `recipient` says.
    pub fn deliver_to(&mut self, to: PartyIndex, env: Envelope) {
        self.queue.push_back((to, env));
    }

    /// Deliver until no message is left.
    pub fn run<R: RngCore + CryptoRng>(&mut self, rng: &mut R) {
        self.run_with(rng, |_, env| Some(env));
    }

    /// Deliver until no message is left, passing each through `hook(recipient, msg)`
    /// first: it returns the message to deliver, possibly changed, or `None` to drop it.
    ///
    /// A run that returns an error is recorded in [`Network::errors`] and gets no more
    /// messages; so is a run that produced its output.
    pub fn run_with<R, F>(&mut self, rng: &mut R, mut hook: F)
    where
        R: RngCore + CryptoRng,
        F: FnMut(PartyIndex, Envelope) -> Option<Envelope>,
    {
        while let Some((to, env)) = self.queue.pop_front() {
            if self.errors.contains_key(&to) || self.outputs.contains_key(&to) {
                continue;
            }
            let Some(env) = hook(to, env) else { continue };
            let Some(machine) = self.machines.get_mut(&to) else {
                continue;
            };
            match machine.handle(env, rng) {
                Ok(step) => {
                    for out in step.outgoing {
                        self.post(out);
                    }
                    if let Some(output) = step.output {
                        self.outputs.insert(to, output);
                    }
                }
                Err(e) => {
                    self.errors.insert(to, e);
                }
            }
        }
    }

    /// A party's run, e.g. to feed it a hand-made message.
    pub fn machine_mut(&mut self, party: PartyIndex) -> Option<&mut S> {
        self.machines.get_mut(&party)
    }

    /// The outputs produced so far, by party.
    pub fn outputs(&self) -> &BTreeMap<PartyIndex, S::Output> {
        &self.outputs
    }

    /// The outputs, consuming the network.
    pub fn into_outputs(self) -> BTreeMap<PartyIndex, S::Output> {
        self.outputs
    }

    /// The first error of each run that failed.
    pub fn errors(&self) -> &BTreeMap<PartyIndex, ProtocolError> {
        &self.errors
    }

    /// Whether every run produced its output.
    pub fn all_done(&self) -> bool {
        self.outputs.len() == self.machines.len()
    }
}

/// Run the given started runs to the end over an honest network. Returns every party's
/// output, or the first error (by party index) with the party that hit it; a run that
/// stalls without output is reported as an error too.
pub fn run_to_completion<S, R>(
    starts: impl IntoIterator<Item = (S, Vec<Envelope>)>,
    rng: &mut R,
) -> Result<BTreeMap<PartyIndex, S::Output>, (PartyIndex, ProtocolError)>
where
    S: StateMachine,
    R: RngCore + CryptoRng,
{
    let mut net = Network::new(starts);
    net.run(rng);
    if let Some((p, e)) = net.errors.iter().next() {
        return Err((*p, e.clone()));
    }
    if let Some(p) = net.machines.keys().find(|p| !net.outputs.contains_key(p)) {
        return Err((
            *p,
            ProtocolError::InvalidParameters(format!("{p} stalled: no more messages and no output")),
        ));
    }
    Ok(net.outputs)
}
