//! The ECDSA signature a GG18 signing run outputs.

use k256::elliptic_curve::scalar::IsHigh;
use k256::Scalar;
use serde::{Deserialize, Serialize};

/// An ECDSA signature over secp256k1 with its recovery id, always low-s.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcdsaSignature {
    /// r, 32 bytes big-endian.
    pub r: [u8; 32],
    /// s, 32 bytes big-endian, at most n/2.
    pub s: [u8; 32],
    /// Recovery id (0..=3): bit 0 is the parity of R.y, bit 1 whether R.x >= n.
    pub recovery_id: u8,
}

impl EcdsaSignature {
    /// Build from r, s and the nonce point's y parity and x overflow, normalising s to
    /// the lower half: replacing s by n - s corresponds to negating R, so the parity
    /// bit of the recovery id flips.
    pub(crate) fn normalised(r: &Scalar, s: &Scalar, y_odd: bool, x_reduced: bool) -> Self {
        let mut recovery_id = u8::from(y_odd) | (u8::from(x_reduced) << 1);
        let s = if bool::from(s.is_high()) {
            recovery_id ^= 1;
            -*s
        } else {
            *s
        };
        Self {
            r: r.to_bytes().into(),
            s: s.to_bytes().into(),
            recovery_id,
        }
    }

    /// The 65-byte `r || s || v` form with `v = 27 + recovery id` (Ethereum's legacy
    /// encoding; callers that need EIP-155 `v` derive it from the recovery id).
    pub fn to_rsv(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(&self.r);
        out[32..64].copy_from_slice(&self.s);
        out[64] = 27 + self.recovery_id;
        out
    }

    /// As a k256 signature, for verification with standard tools.
    pub fn to_k256(&self) -> Result<k256::ecdsa::Signature, k256::ecdsa::Error> {
        k256::ecdsa::Signature::from_scalars(self.r, self.s)
    }

    /// The recovery id as k256's type.
    pub fn k256_recovery_id(&self) -> Option<k256::ecdsa::RecoveryId> {
        k256::ecdsa::RecoveryId::from_byte(self.recovery_id)
    }
}

impl std::fmt::Debug for EcdsaSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdsaSignature")
            .field("r", &hex::encode(self.r))
            .field("s", &hex::encode(self.s))
            .field("recovery_id", &self.recovery_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gg18::secp256k1::{scalar_from_digest, x_coordinate, Secp256k1};
    use crate::group::Group;
    use k256::ecdsa::{signature::hazmat::PrehashVerifier, VerifyingKey};
    use rand_chacha::rand_core::SeedableRng;

    // A single-key ECDSA signature computed by hand (the test's own key, not a
    // threshold key) checks the normalisation and recovery-id logic on its own.
    #[test]
    fn normalisation_and_recovery_against_k256() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        for _ in 0..16 {
            let x = Secp256k1::random_scalar(&mut rng);
            let pk = Secp256k1::mul_base(&x);
            let hash = [0x42u8; 32];
            let m = scalar_from_digest(&hash);
            let k = Secp256k1::random_scalar(&mut rng);
            let big_r = Secp256k1::mul_base(&k);
            let (r, reduced, odd) = x_coordinate(&big_r).unwrap();
            let s = Secp256k1::invert(&k).unwrap() * (m + r * x);
            let sig = EcdsaSignature::normalised(&r, &s, odd, reduced);
            let ks = sig.to_k256().unwrap();
            assert!(ks.normalize_s().is_none(), "low-s");
            let vk = VerifyingKey::from_affine(pk.to_affine()).unwrap();
            vk.verify_prehash(&hash, &ks).unwrap();
            let rec =
                VerifyingKey::recover_from_prehash(&hash, &ks, sig.k256_recovery_id().unwrap()).unwrap();
            assert_eq!(rec, vk);
            let rsv = sig.to_rsv();
            assert_eq!(rsv[64], 27 + sig.recovery_id);
        }
    }
}
