//! DMZ21 proactive refresh: every holder deals a sharing of zero with the generic
//! Feldman-VSS refresh ([`crate::dkg::start_refresh`], commit-then-reveal and a
//! confirmation round), and adds the sub-shares to its share. The public key stays; the
//! epoch goes up by one, and signing refuses to mix shares of different epochs, so old
//! shares stop combining with new ones.
//!
//! The CL and EC-ElGamal keys are kept: they were proven at key generation and are not
//! part of the secret being shared. (Re-keying them, as GG18's refresh does with its
//! Paillier keys, is not done here; see `docs/dmz21.md`.)

use super::key_share::Dmz21KeyShare;
use crate::dkg::{start_refresh as dkg_refresh, Dkg};
use crate::error::ProtocolError;
use crate::gg18::secp256k1::Secp256k1;
use crate::message::{Envelope, Scheme};
use crate::party::{PartyIndex, SessionId};
use crate::state_machine::{StateMachine, Step};
use rand_core::{CryptoRng, RngCore};

/// A refresh run of one holder; its output is the refreshed [`Dmz21KeyShare`].
pub struct Dmz21Refresh {
    inner: Dkg<Secp256k1>,
    base: Dmz21KeyShare,
}

impl std::fmt::Debug for Dmz21Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dmz21Refresh")
            .field("party", &self.base.index())
            .finish_non_exhaustive()
    }
}

/// Start a refresh of `share` with all of its other holders.
pub fn start_refresh<R: RngCore + CryptoRng>(
    session: SessionId,
    share: &Dmz21KeyShare,
    rng: &mut R,
) -> Result<(Dmz21Refresh, Vec<Envelope>), ProtocolError> {
    let (inner, first) = dkg_refresh::<Secp256k1, R>(Scheme::Dmz21, session, share.share.clone(), rng)?;
    Ok((
        Dmz21Refresh {
            inner,
            base: share.clone(),
        },
        first,
    ))
}

impl StateMachine for Dmz21Refresh {
    type Output = Dmz21KeyShare;

    fn party(&self) -> PartyIndex {
        self.base.index()
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<Dmz21KeyShare>, ProtocolError> {
        let step = self.inner.handle(msg, rng)?;
        Ok(Step {
            outgoing: step.outgoing,
            output: step.output.map(|s| self.base.with_share(s)),
        })
    }
}
