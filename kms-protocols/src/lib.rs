// `deny` rather than `forbid` so that `bls::ffi` can opt out to call blst's raw field
// and group arithmetic, and `gg18::bigint`'s limb wipe to overwrite GMP's limbs.
#![deny(unsafe_code)]
#![deny(missing_docs)]
//! Sans-IO threshold protocols for the MPC key-management service.
//!
//! Every protocol run is a pure state machine ([`StateMachine`]): it is started with its
//! parameters, fed `(sender, message)` pairs as [`Envelope`]s, and answers with messages
//! to send and finally its output. It performs no I/O, reads no clock and takes its
//! randomness as `&mut impl CryptoRng + RngCore`. A message from a party outside the
//! session, for the wrong round, sent twice, malformed, or failing a proof gives a
//! [`ProtocolError::Culprit`] naming that party.
//!
//! Building blocks: [`transcript`] (Fiat-Shamir), [`vss`] (Feldman VSS, Lagrange),
//! [`schnorr`] (proofs of knowledge), [`inbox`] (message intake and broadcast echo),
//! [`driver`] (the one round driver every run sits on), [`codec`] (the versioned
//! binary format of envelopes and stored shares),
//! [`dkg`] (generic DKG and refresh over a [`group::Group`]).

pub mod bls;
pub mod class_group;
pub mod codec;
pub mod dkg;
pub mod dkls23;
pub mod dmz21;
pub mod driver;
pub mod eddsa;
pub mod error;
pub mod gg18;
pub mod group;
pub mod inbox;
pub mod key_share;
pub mod message;
pub mod party;
pub mod recheck;
pub mod schnorr;
pub mod state_machine;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transcript;
pub mod vss;

pub use error::{Fault, ProtocolError};
pub use key_share::KeyShare;
pub use message::{Envelope, Phase, ProtocolId, Recipient, Scheme};
pub use party::{PartyIndex, SessionId, Threshold};
pub use state_machine::{StateMachine, Step};
