//! The one round driver every protocol run of this crate sits on.
//!
//! A protocol declares its rounds, each with its kind (broadcast or point-to-point) and
//! its typed message, with [`round_messages!`], and writes only its round logic, as an
//! implementation of [`Rounds`]. [`Driver`] owns everything a run repeats:
//!
//! - intake: every message goes through the run's [`Inbox`] (session, protocol
//!   version, sender, round, addressing, duplicates), is decoded as the type its round
//!   declares (a payload that does not decode names its sender) and is buffered until
//!   its round is due;
//! - the echo of broadcasts: a message type that carries an [`Echo`] says which round it
//!   echoes, and the driver checks every echo of a round before the round logic sees
//!   any of its messages (an equivocation is named as such, rather than surfacing later
//!   as someone's bad proof);
//! - advancing: when every peer's message of the current round is in, the round logic
//!   runs, and what it sends goes out with the round and addressing it declared;
//! - abort: on any error, intake errors included, the run is finished for good: its
//!   round state (with every secret in it, each zeroized by its `Drop`) is dropped
//!   before the error is returned, and every later message is refused with
//!   [`ProtocolError::Finished`]. The same happens once the output is produced.
//!
//! The caller-facing contract stays [`StateMachine`]: a `Driver` is one.
//!
//! # Writing a protocol on the driver
//!
//! ```
//! use kms_protocols::driver::{round_messages, Driver, Incoming, Io, Rounds};
//! use kms_protocols::inbox::Echo;
//! use kms_protocols::message::{Phase, ProtocolId, Scheme};
//! use kms_protocols::{PartyIndex, ProtocolError, Recipient, SessionId, StateMachine};
//! use rand_core::{CryptoRng, RngCore};
//! use serde::{Deserialize, Serialize};
//! use std::collections::{BTreeMap, BTreeSet, VecDeque};
//!
//! /// Round 1: a number.
//! #[derive(Serialize, Deserialize)]
//! pub struct Number { value: u64 }
//!
//! /// Round 2: the sender's view of round 1 (checked by the driver) and a thank-you.
//! #[derive(Serialize, Deserialize)]
//! pub struct Thanks { echo: Echo }
//!
//! round_messages! {
//!     /// The messages of the toy protocol, one variant per round.
//!     pub enum ToyMsg {
//!         1 Broadcast Number(Number),
//!         2 P2p Thanks(Thanks) echoes 1,
//!     }
//! }
//!
//! /// The toy protocol's state: the sum of everybody's numbers.
//! pub struct Toy { sum: u64 }
//!
//! impl Rounds for Toy {
//!     type Msg = ToyMsg;
//!     type Output = u64;
//!
//!     fn round<R: RngCore + CryptoRng>(
//!         &mut self,
//!         round: u16,
//!         msgs: Incoming<ToyMsg>,
//!         io: &mut Io<'_, ToyMsg>,
//!         _rng: &mut R,
//!     ) -> Result<Option<u64>, ProtocolError> {
//!         if round == 1 {
//!             for (_, n) in msgs.take::<1>()? {
//!                 self.sum += n.value;
//!             }
//!             let echo = io.echo(1);
//!             for to in io.peers() {
//!                 io.send::<2>(to, &Thanks { echo: echo.clone() });
//!             }
//!             return Ok(None);
//!         }
//!         msgs.take::<2>()?; // every echo has already been checked
//!         Ok(Some(self.sum))
//!     }
//! }
//!
//! let protocol = ProtocolId { scheme: Scheme::Eddsa, phase: Phase::Aux, version: 1 };
//! let session = SessionId::derive(b"toy");
//! let parties: BTreeSet<PartyIndex> = PartyIndex::range(3).collect();
//! let mut runs = BTreeMap::new();
//! let mut queue = VecDeque::new();
//! for me in &parties {
//!     let (run, first) = Driver::new(protocol, session, *me, &parties, |io| {
//!         let value = u64::from(me.get());
//!         io.broadcast::<1>(&Number { value });
//!         Ok(Toy { sum: value })
//!     })?;
//!     runs.insert(*me, run);
//!     queue.extend(first);
//! }
//! // A toy network: deliver every message to its recipients until none is left.
//! let mut rng = rand_core::OsRng;
//! let mut sums = Vec::new();
//! while let Some(env) = queue.pop_front() {
//!     let to: Vec<PartyIndex> = match env.recipient {
//!         Recipient::All => parties.iter().copied().filter(|p| *p != env.sender).collect(),
//!         Recipient::One(p) => vec![p],
//!     };
//!     for p in to {
//!         let step = runs.get_mut(&p).unwrap().handle(env.clone(), &mut rng)?;
//!         queue.extend(step.outgoing);
//!         sums.extend(step.output);
//!     }
//! }
//! assert_eq!(sums, [6, 6, 6]);
//! # Ok::<(), ProtocolError>(())
//! ```

use crate::error::{Fault, ProtocolError};
use crate::inbox::{Echo, Inbox, RoundKind};
use crate::message::{Envelope, ProtocolId, Recipient};
use crate::party::{PartyIndex, SessionId};
use crate::state_machine::{StateMachine, Step};
use rand_core::{CryptoRng, RngCore};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

/// The messages of one protocol: one type per round, usually an enum made by
/// [`round_messages!`] (one variant per round).
pub trait RoundMessage: Sized {
    /// The protocol's rounds, in order (round `r` is `ROUNDS[r - 1]`).
    const ROUNDS: &'static [RoundKind];

    /// Decode the payload of a message of `round` as the type that round declares.
    /// Trailing bytes are an error, so one message has one meaning.
    fn decode(round: u16, payload: &[u8]) -> Result<Self, Fault>;

    /// The echo this message carries, with the broadcast round it echoes.
    fn echo(&self) -> Option<(u16, &Echo)>;
}

/// The payload type of round `R` of a protocol's messages, so that round logic reads
/// and writes round `R` with its own type ([`Incoming::take`], [`Io::send`]).
pub trait RoundOf<const R: u16>: RoundMessage {
    /// What round `R` carries.
    type Payload: Serialize;

    /// The round-`R` payload, if this message is of round `R`.
    fn take(self) -> Option<Self::Payload>;
}

/// A protocol's round logic: everything that is not common to every run.
///
/// Implementors keep every secret in types that zeroize on drop: the driver drops the
/// whole value when the run aborts or finishes.
pub trait Rounds {
    /// The protocol's messages.
    type Msg: RoundMessage;
    /// What a successful run produces.
    type Output;

    /// Run round `round` with every peer's message of it (echoes already checked):
    /// send the next round's messages through `io`, and return the output after the
    /// last round (`None` to go on). An error aborts the run.
    fn round<R: RngCore + CryptoRng>(
        &mut self,
        round: u16,
        msgs: Incoming<Self::Msg>,
        io: &mut Io<'_, Self::Msg>,
        rng: &mut R,
    ) -> Result<Option<Self::Output>, ProtocolError>;

    /// Check one message as soon as it arrives, before its round is due (by default,
    /// nothing). A protocol whose rounds need no other message to check one (BLS
    /// partial signatures) reports a bad one at once. An error aborts the run.
    fn on_arrival(&mut self, from: PartyIndex, msg: &Self::Msg) -> Result<(), ProtocolError> {
        let _ = (from, msg);
        Ok(())
    }
}

/// Every peer's message of one round, by sender.
pub struct Incoming<M> {
    msgs: BTreeMap<PartyIndex, M>,
}

impl<M: RoundMessage> Incoming<M> {
    /// The messages as round `R`'s payloads.
    pub fn take<const R: u16>(self) -> Result<BTreeMap<PartyIndex, <M as RoundOf<R>>::Payload>, ProtocolError>
    where
        M: RoundOf<R>,
    {
        self.msgs
            .into_iter()
            .map(|(from, m)| {
                m.take().map(|p| (from, p)).ok_or_else(|| {
                    ProtocolError::Internal(format!("a message of another round in round {R}"))
                })
            })
            .collect()
    }

    /// The senders.
    pub fn senders(&self) -> impl Iterator<Item = PartyIndex> + '_ {
        self.msgs.keys().copied()
    }
}

/// What round logic sees of the run: who takes part, the echo of past broadcasts, and
/// the way out for its messages.
pub struct Io<'a, M> {
    inbox: &'a mut Inbox,
    outgoing: &'a mut Vec<Envelope>,
    _msg: PhantomData<fn() -> M>,
}

impl<M: RoundMessage> Io<'_, M> {
    /// The local party.
    pub fn me(&self) -> PartyIndex {
        self.inbox.me()
    }

    /// The session id.
    pub fn session(&self) -> SessionId {
        self.inbox.session()
    }

    /// The other parties, ascending.
    pub fn peers(&self) -> Vec<PartyIndex> {
        self.inbox.peers().iter().copied().collect()
    }

    /// Our view of broadcast round `round`, to send in a later round.
    pub fn echo(&self, round: u16) -> Echo {
        self.inbox.echo(round)
    }

    /// Broadcast `payload` as round `R`'s message (a broadcast round).
    pub fn broadcast<const R: u16>(&mut self, payload: &<M as RoundOf<R>>::Payload)
    where
        M: RoundOf<R>,
    {
        debug_assert_eq!(self.inbox.kind(R), Some(RoundKind::Broadcast), "round {R}");
        let env = self.inbox.envelope(R, Recipient::All, payload);
        self.outgoing.push(env);
    }

    /// Send `payload` to `to` as round `R`'s message (a point-to-point round).
    pub fn send<const R: u16>(&mut self, to: PartyIndex, payload: &<M as RoundOf<R>>::Payload)
    where
        M: RoundOf<R>,
    {
        debug_assert_eq!(self.inbox.kind(R), Some(RoundKind::P2p), "round {R}");
        let env = self.inbox.envelope(R, Recipient::One(to), payload);
        self.outgoing.push(env);
    }
}

/// One protocol run: the intake, round and abort logic shared by every protocol, over
/// the protocol's round logic `P`.
pub struct Driver<P: Rounds> {
    inbox: Inbox,
    /// The round state; `None` once the run has finished or aborted (which dropped,
    /// and so zeroized, every secret it held).
    rounds: Option<P>,
    /// Messages of the current and later rounds, decoded, by round and sender.
    pending: BTreeMap<u16, BTreeMap<PartyIndex, P::Msg>>,
}

impl<P: Rounds> Driver<P> {
    /// Start a run for `me` among `parties` (which include `me`). `init` builds the
    /// round state and sends the round-1 messages through its [`Io`]. Returns the run
    /// and those messages.
    pub fn new(
        protocol: ProtocolId,
        session: SessionId,
        me: PartyIndex,
        parties: &BTreeSet<PartyIndex>,
        init: impl FnOnce(&mut Io<'_, P::Msg>) -> Result<P, ProtocolError>,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        let mut inbox = Inbox::new(protocol, session, me, parties, P::Msg::ROUNDS)?;
        let mut outgoing = Vec::new();
        let rounds = init(&mut Io {
            inbox: &mut inbox,
            outgoing: &mut outgoing,
            _msg: PhantomData,
        })?;
        Ok((
            Self {
                inbox,
                rounds: Some(rounds),
                pending: BTreeMap::new(),
            },
            outgoing,
        ))
    }

    /// Start a run that takes up an earlier run's session at round `first_round`
    /// (rounds before it were that run's, and their messages are refused here as
    /// being of the wrong round): DKLS23's online signing round after its presigning
    /// run. `init` sends the messages of round `first_round`, as in [`Driver::new`].
    pub fn resume(
        protocol: ProtocolId,
        session: SessionId,
        me: PartyIndex,
        parties: &BTreeSet<PartyIndex>,
        first_round: u16,
        init: impl FnOnce(&mut Io<'_, P::Msg>) -> Result<P, ProtocolError>,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        if first_round == 0 || usize::from(first_round) > P::Msg::ROUNDS.len() {
            return Err(ProtocolError::Internal(format!(
                "no round {first_round} to resume at"
            )));
        }
        let mut inbox = Inbox::new(protocol, session, me, parties, P::Msg::ROUNDS)?;
        for _ in 1..first_round {
            inbox.advance();
        }
        let mut outgoing = Vec::new();
        let rounds = init(&mut Io {
            inbox: &mut inbox,
            outgoing: &mut outgoing,
            _msg: PhantomData,
        })?;
        Ok((
            Self {
                inbox,
                rounds: Some(rounds),
                pending: BTreeMap::new(),
            },
            outgoing,
        ))
    }

    /// The round state, while the run is going (`None` once it finished or aborted).
    pub fn rounds(&self) -> Option<&P> {
        self.rounds.as_ref()
    }

    /// Tests only: the round state, to make a party misbehave.
    #[cfg(test)]
    pub(crate) fn rounds_mut(&mut self) -> Option<&mut P> {
        self.rounds.as_mut()
    }

    /// Whether the run is over (output produced, or aborted): it takes no more messages.
    pub fn is_finished(&self) -> bool {
        self.rounds.is_none()
    }

    /// The session id.
    pub fn session(&self) -> SessionId {
        self.inbox.session()
    }

    /// The round whose messages are being collected.
    pub fn current_round(&self) -> u16 {
        self.inbox.current_round()
    }

    /// End the run: no more messages, every secret dropped.
    fn finish(&mut self) {
        self.inbox.finish();
        self.pending.clear();
        self.rounds = None;
    }

    fn step<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<P::Output>, ProtocolError> {
        let Some(rounds) = self.rounds.as_mut() else {
            return Err(ProtocolError::Finished);
        };
        let from = msg.sender;
        self.inbox.admit(&msg)?;
        let decoded = P::Msg::decode(msg.round, &msg.payload).map_err(|f| ProtocolError::culprit(from, f))?;
        rounds.on_arrival(from, &decoded)?;
        self.pending.entry(msg.round).or_default().insert(from, decoded);

        let mut outgoing = Vec::new();
        while self.inbox.current_complete() {
            let round = self.inbox.current_round();
            let msgs = self.pending.remove(&round).unwrap_or_default();
            self.inbox.advance();
            // Every echo first: a broadcast seen differently by two parties is the
            // fault, whatever else it breaks later.
            for (from, m) in &msgs {
                if let Some((echoed, echo)) = m.echo() {
                    self.inbox.check_echo(echoed, *from, echo)?;
                }
            }
            let mut io = Io {
                inbox: &mut self.inbox,
                outgoing: &mut outgoing,
                _msg: PhantomData,
            };
            if let Some(output) = rounds.round(round, Incoming { msgs }, &mut io, rng)? {
                self.finish();
                return Ok(Step::done(outgoing, output));
            }
            if usize::from(round) >= P::Msg::ROUNDS.len() {
                return Err(ProtocolError::Internal(format!(
                    "the last round ({round}) produced no output"
                )));
            }
        }
        Ok(Step::send(outgoing))
    }
}

impl<P: Rounds> StateMachine for Driver<P> {
    type Output = P::Output;

    fn party(&self) -> PartyIndex {
        self.inbox.me()
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<P::Output>, ProtocolError> {
        let result = self.step(msg, rng);
        if result.is_err() {
            // Whatever the error, the run is over: a half-run protocol must not be
            // continued, and its secrets must not outlive it.
            self.finish();
        }
        result
    }
}

impl<P: Rounds + fmt::Debug> fmt::Debug for Driver<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("party", &self.inbox.me())
            .field("session", &self.inbox.session())
            .field("round", &self.inbox.current_round())
            .field("rounds", &self.rounds)
            .finish()
    }
}

/// Declare a protocol's messages: an enum with one variant per round, each with the
/// round's number, kind (`Broadcast` or `P2p`) and payload type, and optionally the
/// broadcast round whose [`Echo`] the payload carries in its `echo` field. It
/// implements [`RoundMessage`] and [`RoundOf`] for every round; rounds must be
/// numbered 1, 2, ... in order (checked at compile time). The enum may have one generic
/// parameter with one bound. See the [module docs](self) for an example.
#[macro_export]
macro_rules! round_messages {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident < $g:ident : $bound:path > { $($body:tt)* }
    ) => {
        $crate::round_messages!(@main [$(#[$meta])*] $vis $name { $g : $bound } { $($body)* });
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($body:tt)* }
    ) => {
        $crate::round_messages!(@main [$(#[$meta])*] $vis $name {} { $($body)* });
    };
    (@main [$($meta:tt)*] $vis:vis $name:ident $gens:tt {
        $(
            $(#[$vmeta:meta])*
            $round:literal $kind:ident $variant:ident ( $payload:ty ) $(echoes $echo:literal)?
        ),+ $(,)?
    }) => {
        $crate::round_messages!(@enum [$($meta)*] $vis $name $gens { $( [$(#[$vmeta])*] $round $kind $variant($payload) )+ });
        $crate::round_messages!(@impl $name $gens {
            $( $round $kind $variant ($payload) [$($echo)?] )+
        });
        $( $crate::round_messages!(@round_of $name $gens $round $variant ($payload)); )+
        const _: () = {
            let rounds = [$($round),+];
            let mut i = 0;
            while i < rounds.len() {
                assert!(rounds[i] == i + 1, "rounds must be numbered 1, 2, ... in order");
                i += 1;
            }
        };
    };
    (@enum [$($meta:tt)*] $vis:vis $name:ident { $($g:ident : $bound:path)? } {
        $( [$($vmeta:tt)*] $round:literal $kind:ident $variant:ident ( $payload:ty ) )+
    }) => {
        $($meta)*
        $vis enum $name $(<$g: $bound>)? {
            $(
                #[doc = concat!("Round ", stringify!($round), " (", stringify!($kind), ").")]
                $($vmeta)*
                $variant($payload),
            )+
        }
    };
    (@impl $name:ident { $($g:ident : $bound:path)? } {
        $( $round:literal $kind:ident $variant:ident ( $payload:ty ) [$($echo:literal)?] )+
    }) => {
        impl<$($g: $bound)?> $crate::driver::RoundMessage for $name<$($g)?> {
            const ROUNDS: &'static [$crate::inbox::RoundKind] = &[$($crate::inbox::RoundKind::$kind),+];

            fn decode(round: u16, payload: &[u8]) -> ::core::result::Result<Self, $crate::error::Fault> {
                $(
                    if round == $round {
                        return $crate::message::decode_payload::<$payload>(payload).map(Self::$variant);
                    }
                )+
                Err($crate::error::Fault::Other(format!("the protocol has no round {round}")))
            }

            fn echo(&self) -> ::core::option::Option<(u16, &$crate::inbox::Echo)> {
                match self {
                    $( Self::$variant(_m) => $crate::round_messages!(@echo _m $($echo)?), )+
                }
            }
        }
    };
    (@echo $m:ident) => { None };
    (@echo $m:ident $echo:literal) => { Some(($echo, &$m.echo)) };
    (@round_of $name:ident { $($g:ident : $bound:path)? } $round:literal $variant:ident ( $payload:ty )) => {
        impl<$($g: $bound)?> $crate::driver::RoundOf<$round> for $name<$($g)?> {
            type Payload = $payload;

            fn take(self) -> ::core::option::Option<$payload> {
                #[allow(unreachable_patterns)]
                match self {
                    Self::$variant(m) => Some(m),
                    _ => None,
                }
            }
        }
    };
}

pub use crate::round_messages;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{encode, Phase, Scheme};
    use serde::Deserialize;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[derive(Serialize, Deserialize)]
    pub struct Number {
        value: u64,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Thanks {
        echo: Echo,
    }

    round_messages! {
        pub enum ToyMsg {
            1 Broadcast Number(Number),
            2 P2p Thanks(Thanks) echoes 1,
        }
    }

    /// A stand-in for a run's secrets: records that it was dropped (which is when the
    /// real ones zeroize).
    struct Secret(Arc<AtomicBool>);

    impl Drop for Secret {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    struct Toy {
        sum: u64,
        _secret: Secret,
    }

    impl Rounds for Toy {
        type Msg = ToyMsg;
        type Output = u64;

        fn round<R: RngCore + CryptoRng>(
            &mut self,
            round: u16,
            msgs: Incoming<ToyMsg>,
            io: &mut Io<'_, ToyMsg>,
            _rng: &mut R,
        ) -> Result<Option<u64>, ProtocolError> {
            if round == 1 {
                for (_, n) in msgs.take::<1>()? {
                    self.sum += n.value;
                }
                let echo = io.echo(1);
                for to in io.peers() {
                    io.send::<2>(to, &Thanks { echo: echo.clone() });
                }
                return Ok(None);
            }
            msgs.take::<2>()?;
            Ok(Some(self.sum))
        }
    }

    fn p(i: u16) -> PartyIndex {
        PartyIndex::new(i).unwrap()
    }

    /// P1's run among P1..P3, the flag its secret sets when dropped, and a valid
    /// round-1 message from P2.
    fn toy() -> (Driver<Toy>, Arc<AtomicBool>, Envelope) {
        let protocol = ProtocolId {
            scheme: Scheme::Eddsa,
            phase: Phase::Aux,
            version: 1,
        };
        let parties: BTreeSet<PartyIndex> = PartyIndex::range(3).collect();
        let dropped = Arc::new(AtomicBool::new(false));
        let secret = Secret(dropped.clone());
        let session = SessionId::derive(b"toy");
        let (run, _) = Driver::new(protocol, session, p(1), &parties, |io| {
            io.broadcast::<1>(&Number { value: 1 });
            Ok(Toy {
                sum: 1,
                _secret: secret,
            })
        })
        .unwrap();
        let from_p2 = Envelope {
            protocol,
            session,
            round: 1,
            sender: p(2),
            recipient: Recipient::All,
            payload: encode(&Number { value: 2 }),
        };
        (run, dropped, from_p2)
    }

    #[test]
    fn every_kind_of_bad_message_aborts_the_run_and_drops_its_secrets() {
        let mut rng = rand_core::OsRng;
        type Change = Box<dyn Fn(&mut Envelope)>;
        let cases: Vec<(&str, Change)> = vec![
            ("unknown sender", Box::new(|m| m.sender = p(9))),
            (
                "wrong session",
                Box::new(|m| m.session = SessionId::derive(b"other")),
            ),
            ("wrong round", Box::new(|m| m.round = 2)),
            (
                "wrong addressing",
                Box::new(|m| m.recipient = Recipient::One(p(1))),
            ),
            ("malformed payload", Box::new(|m| m.payload.push(0))),
        ];
        for (what, change) in cases {
            let (mut run, dropped, env) = toy();
            let mut bad = env.clone();
            change(&mut bad);
            assert!(run.handle(bad, &mut rng).is_err(), "{what}");
            assert!(dropped.load(Ordering::SeqCst), "{what}: secrets still held");
            assert!(run.is_finished() && run.rounds().is_none(), "{what}");
            assert_eq!(
                run.handle(env, &mut rng).unwrap_err(),
                ProtocolError::Finished,
                "{what}: the run must refuse everything after"
            );
        }
        // A duplicate, after a good message, too.
        let (mut run, dropped, env) = toy();
        assert!(run.handle(env.clone(), &mut rng).unwrap().is_waiting());
        assert!(!dropped.load(Ordering::SeqCst));
        assert_eq!(
            run.handle(env, &mut rng).unwrap_err(),
            ProtocolError::culprit(p(2), Fault::Duplicate { round: 1 })
        );
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn a_bad_echo_is_caught_before_the_round_logic_and_output_drops_the_state() {
        let mut rng = rand_core::OsRng;
        let (mut run, dropped, env) = toy();
        let from_p3 = Envelope {
            sender: p(3),
            payload: encode(&Number { value: 3 }),
            ..env.clone()
        };
        let _ = run.handle(env.clone(), &mut rng).unwrap();
        let step = run.handle(from_p3.clone(), &mut rng).unwrap();
        assert_eq!(step.outgoing.len(), 2);
        let echo = run.inbox.echo(1);
        let thanks = |from: u16, echo: &Echo| Envelope {
            round: 2,
            sender: p(from),
            recipient: Recipient::One(p(1)),
            payload: encode(&Thanks { echo: echo.clone() }),
            ..env.clone()
        };
        // P3 saw another round-1 message of P2 than we did: P2 equivocated.
        let mut other = echo.clone();
        other.0[1].1 = [0; 32];
        let _ = run.handle(thanks(2, &echo), &mut rng).unwrap();
        assert_eq!(
            run.handle(thanks(3, &other), &mut rng).unwrap_err(),
            ProtocolError::culprit(p(2), Fault::InconsistentBroadcast { reporter: p(3) })
        );
        assert!(dropped.load(Ordering::SeqCst));

        // The honest run outputs once and drops its state with it.
        let (mut run, dropped, env) = toy();
        let _ = run.handle(env.clone(), &mut rng).unwrap();
        let _ = run.handle(from_p3, &mut rng).unwrap();
        let echo = run.inbox.echo(1);
        let _ = run.handle(thanks(2, &echo), &mut rng).unwrap();
        let done = run.handle(thanks(3, &echo), &mut rng).unwrap();
        assert_eq!(done.output, Some(6));
        assert!(dropped.load(Ordering::SeqCst) && run.is_finished());
    }
}
