//! FROST(Ed25519, SHA-512): the generic DKG over Ed25519, RFC 9591 signing.

use super::{started, DkgInput, IntoRunOutput, RefreshInput, RunOutput, Scheme, SignInput, Started};
use crate::domain::{Algorithm, Curve, KeyType};
use crate::KmsError;
use kms_protocols::{eddsa, KeyShare};
use rand_chacha::ChaCha20Rng;

/// The EdDSA scheme.
pub(super) struct Eddsa;

impl IntoRunOutput for KeyShare<eddsa::Ed25519> {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Share {
            data: self.to_bytes(),
            public_key: eddsa::public_key_bytes(&self).to_vec(),
            version: self.epoch(),
        }
    }
}

impl Scheme for Eddsa {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Eddsa
    }
    fn curve(&self) -> Curve {
        Curve::Ed25519
    }
    fn key_type(&self) -> KeyType {
        KeyType::Eddsa
    }
    fn start_dkg(&self, i: DkgInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Ok(started(eddsa::start_dkg(i.session, i.threshold, i.me, rng)?))
    }
    fn start_sign(&self, i: SignInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let share = KeyShare::<eddsa::Ed25519>::from_bytes(i.share)?;
        Ok(started(eddsa::start_sign(
            i.session, &share, i.signers, i.message, rng,
        )?))
    }
    fn start_refresh(&self, i: RefreshInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Ok(started(eddsa::start_refresh(
            i.session,
            KeyShare::from_bytes(i.share)?,
            rng,
        )?))
    }
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        match (
            <&[u8; 32]>::try_from(public_key),
            <&[u8; 64]>::try_from(signature),
        ) {
            (Ok(pk), Ok(sig)) => eddsa::verify(pk, message, sig),
            _ => false,
        }
    }
}
