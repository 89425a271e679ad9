//! Threshold BLS12-381 (Ethereum 2.0 ciphersuite): the generic DKG over G1, verifiable partial signatures.

use super::{started, DkgInput, IntoRunOutput, RefreshInput, RunOutput, Scheme, SignInput, Started};
use crate::domain::{Algorithm, Curve, KeyType};
use crate::KmsError;
use kms_protocols::{bls, KeyShare};
use rand_chacha::ChaCha20Rng;

/// The BLS scheme.
pub(super) struct Bls;

impl IntoRunOutput for KeyShare<bls::Bls12381G1> {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Share {
            data: self.to_bytes(),
            public_key: bls::public_key_bytes(&self).to_vec(),
            version: self.epoch(),
        }
    }
}

impl Scheme for Bls {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Bls
    }
    fn curve(&self) -> Curve {
        Curve::Bls12_381
    }
    fn key_type(&self) -> KeyType {
        KeyType::Bls
    }
    fn start_dkg(&self, i: DkgInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Ok(started(bls::start_dkg(i.session, i.threshold, i.me, rng)?))
    }
    fn start_sign(&self, i: SignInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let share = KeyShare::<bls::Bls12381G1>::from_bytes(i.share)?;
        Ok(started(bls::start_sign(
            i.session, &share, i.signers, i.message, rng,
        )?))
    }
    fn start_refresh(&self, i: RefreshInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Ok(started(bls::start_refresh(
            i.session,
            KeyShare::from_bytes(i.share)?,
            rng,
        )?))
    }
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        match (
            <&[u8; 48]>::try_from(public_key),
            <&[u8; 96]>::try_from(signature),
        ) {
            (Ok(pk), Ok(sig)) => bls::verify(pk, message, sig),
            _ => false,
        }
    }
}
