//! Proactive refresh of a GG18 key among all of its holders.
//!
//! Every holder deals a Feldman sharing of zero (its constant commitment must be the
//! identity, exactly t commitments), shares go point-to-point, round 1 is echoed, and
//! the new shares are output only after every holder confirmed the same public state:
//! the generic refresh of [`crate::dkg`] run for secp256k1 under `Scheme::Gg18`. The
//! public key stays, every share and public share changes, and the epoch goes up by
//! one; signing refuses to mix epochs, so old shares are useless with new ones.
//!
//! The aux material (Paillier keys, ring-Pedersen parameters) is carried over as is.

use super::key_share::KeyShareOf;
use super::mta_backend::MtaBackend;
use super::secp256k1::Secp256k1;
use crate::dkg::Dkg;
use crate::error::ProtocolError;
use crate::key_share::KeyShare;
use crate::message::{Envelope, Scheme};
use crate::party::{PartyIndex, SessionId};
use crate::state_machine::{StateMachine, Step};
use rand_core::{CryptoRng, RngCore};
use std::sync::Arc;

/// A refresh run for one holder.
pub struct RefreshOf<M: MtaBackend> {
    inner: Dkg<Secp256k1>,
    old: KeyShareOf<M>,
}

impl<M: MtaBackend> RefreshOf<M> {
    /// Start refreshing `share` with all other holders of the key.
    pub fn start<R: RngCore + CryptoRng>(
        session: SessionId,
        share: &KeyShareOf<M>,
        rng: &mut R,
    ) -> Result<(Self, Vec<Envelope>), ProtocolError> {
        let generic = KeyShare::<Secp256k1>::new(
            share.threshold,
            share.index,
            share.secret,
            share.public_key,
            share.public_shares.clone(),
            share.epoch,
        )?;
        let (inner, msgs) = crate::dkg::start_refresh(Scheme::Gg18, session, generic, rng)?;
        Ok((
            Self {
                inner,
                old: share.clone(),
            },
            msgs,
        ))
    }
}

impl<M: MtaBackend> StateMachine for RefreshOf<M> {
    type Output = KeyShareOf<M>;

    fn party(&self) -> PartyIndex {
        self.inner.party()
    }

    fn handle<R: RngCore + CryptoRng>(
        &mut self,
        msg: Envelope,
        rng: &mut R,
    ) -> Result<Step<KeyShareOf<M>>, ProtocolError> {
        let step = self.inner.handle(msg, rng)?;
        let Some(new) = step.output else {
            return Ok(Step::send(step.outgoing));
        };
        let share = KeyShareOf::new(
            new.threshold(),
            new.index(),
            *new.secret(),
            *new.public_key(),
            new.public_shares().clone(),
            new.epoch(),
            Arc::clone(&self.old.aux_secret),
            Arc::clone(&self.old.aux_peers),
        )
        .map_err(|e| ProtocolError::Internal(format!("refreshed share: {e}")))?;
        Ok(Step::done(step.outgoing, share))
    }
}
