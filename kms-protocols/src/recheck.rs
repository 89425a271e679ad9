//! Re-checking one message out of its run, for a party that did not take part in it.
//!
//! When a node names a culprit, the coordinator must not take its word for it: the
//! accuser hands over the accused's signed message, and the coordinator re-runs the
//! checks that need nothing but that message. [`recheck`] is that pure hook: it decodes
//! the payload as the type its protocol, phase and round carry (trailing bytes
//! included) and validates the scalars and group elements that stand on their own.
//!
//! What it cannot decide is any check that needs state the coordinator does not hold:
//! a share against the dealer's commitments, a proof under the verifier's own
//! ring-Pedersen parameters, a partial signature against a verification share, a
//! confirmation hash, GG18's phase-5 equations. Those come back as
//! [`Recheck::WellFormed`], which means "no fault found here", not "no fault".

use crate::error::Fault;
use crate::message::{decode_payload, Envelope, Phase, Scheme};
use serde::de::DeserializeOwned;

/// The outcome of re-checking one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recheck {
    /// The message is faulty by itself: it does not decode, or carries an invalid
    /// scalar or group element. The sender is to blame.
    Faulty(Fault),
    /// It decodes and every stand-alone value is valid; faults that depend on other
    /// state are not decided.
    WellFormed,
    /// This protocol, phase or round is not known to the hook.
    Unknown,
}

impl From<Result<(), Fault>> for Recheck {
    fn from(r: Result<(), Fault>) -> Self {
        match r {
            Ok(()) => Recheck::WellFormed,
            Err(f) => Recheck::Faulty(f),
        }
    }
}

/// Decode `payload` as `T`, refusing trailing bytes (as every run does).
pub(crate) fn decodes<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Fault> {
    decode_payload::<T>(payload)
}

/// Re-check `env` on its own (see the module documentation for what that covers).
pub fn recheck(env: &Envelope) -> Recheck {
    let p = &env.payload;
    let r = env.round;
    let checked = match (env.protocol.scheme, env.protocol.phase) {
        (Scheme::Eddsa, Phase::Sign) => crate::eddsa::sign::recheck_payload(r, p),
        (Scheme::Eddsa | Scheme::Bls, Phase::Dkg | Phase::Refresh) => crate::dkg::recheck_payload(r, p),
        (Scheme::Bls, Phase::Sign) => crate::bls::recheck_sign_payload(r, p),
        (Scheme::Gg18, Phase::Sign) => crate::gg18::sign::recheck_payload(r, p),
        (Scheme::Gg18, Phase::Dkg) => crate::gg18::keygen::recheck_payload(r, p),
        (Scheme::Gg18, Phase::Aux) => crate::gg18::aux_exchange::recheck_payload(r, p),
        _ => None,
    };
    checked.map_or(Recheck::Unknown, Recheck::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{encode, ProtocolId, Recipient};
    use crate::party::{PartyIndex, SessionId};

    fn env(scheme: Scheme, phase: Phase, round: u16, payload: Vec<u8>) -> Envelope {
        Envelope {
            protocol: ProtocolId {
                scheme,
                phase,
                version: 1,
            },
            session: SessionId([1; 32]),
            round,
            sender: PartyIndex::new(1).unwrap(),
            recipient: Recipient::All,
            payload,
        }
    }

    #[test]
    fn gg18_round4_delta_is_rechecked() {
        let good = encode(&crate::gg18::sign::Round4 { delta: vec![7; 32] });
        assert_eq!(
            recheck(&env(Scheme::Gg18, Phase::Sign, 4, good.clone())),
            Recheck::WellFormed
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            recheck(&env(Scheme::Gg18, Phase::Sign, 4, trailing)),
            Recheck::Faulty(Fault::Malformed(_))
        ));
        // n itself is not a canonical scalar.
        let over = encode(&crate::gg18::sign::Round4 {
            delta: vec![0xff; 32],
        });
        assert!(matches!(
            recheck(&env(Scheme::Gg18, Phase::Sign, 4, over)),
            Recheck::Faulty(Fault::InvalidScalar(_))
        ));
        assert_eq!(
            recheck(&env(Scheme::Gg18, Phase::Sign, 99, good)),
            Recheck::Unknown
        );
    }

    #[test]
    fn garbage_is_faulty_in_every_known_round() {
        for (scheme, phase, rounds) in [
            (Scheme::Eddsa, Phase::Sign, 2u16),
            (Scheme::Eddsa, Phase::Dkg, 3),
            (Scheme::Bls, Phase::Sign, 1),
            (Scheme::Gg18, Phase::Sign, 10),
            (Scheme::Gg18, Phase::Dkg, 5),
            (Scheme::Gg18, Phase::Aux, 2),
        ] {
            for round in 1..=rounds {
                let r = recheck(&env(scheme, phase, round, vec![0xff; 3]));
                assert!(
                    matches!(r, Recheck::Faulty(_)),
                    "{scheme:?} {phase:?} {round}: {r:?}"
                );
            }
        }
    }
}
