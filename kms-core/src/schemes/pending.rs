//! Algorithms the domain names but this build does not implement yet: they keep their
//! curve and key type (so specs validate and stored metadata reads back), and every
//! run is refused as unsupported.

use super::{DkgInput, RefreshInput, Scheme, SignInput, Started};
use crate::domain::{Algorithm, Curve, KeyType};
use crate::KmsError;
use rand_chacha::ChaCha20Rng;

/// A named algorithm without an implementation.
pub(super) struct Pending {
    algorithm: Algorithm,
    curve: Curve,
    key_type: KeyType,
}

impl Pending {
    pub(super) fn new(algorithm: Algorithm, curve: Curve, key_type: KeyType) -> Self {
        Self {
            algorithm,
            curve,
            key_type,
        }
    }

    fn refuse(&self) -> KmsError {
        KmsError::Unsupported(self.algorithm.as_str().to_string())
    }
}

impl Scheme for Pending {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    fn curve(&self) -> Curve {
        self.curve
    }
    fn key_type(&self) -> KeyType {
        self.key_type
    }
    fn implemented(&self) -> bool {
        false
    }
    fn start_dkg(&self, _: DkgInput<'_>, _: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Err(self.refuse())
    }
    fn start_sign(&self, _: SignInput<'_>, _: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Err(self.refuse())
    }
    fn start_refresh(&self, _: RefreshInput<'_>, _: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        Err(self.refuse())
    }
    fn verify(&self, _: &[u8], _: &[u8], _: &[u8]) -> bool {
        false
    }
}
