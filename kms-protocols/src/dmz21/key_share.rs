//! A party's DMZ21 key share: its secp256k1 share with the public data every holder
//! agrees on, its own CL and EC-ElGamal secret keys, and every holder's verified public
//! keys (checked once, at key generation, with the promise proofs).

use crate::class_group::cl_hsm::{PublicKey, SecretKey};
use crate::gg18::secp256k1::Secp256k1;
use crate::key_share::KeyShare;
use crate::party::{PartyIndex, Threshold};
use k256::{ProjectivePoint, Scalar};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroize;

/// One holder's public keys, verified at key generation.
#[derive(Clone, Debug)]
pub struct PartyKeys {
    /// Its CL-HSM encryption key `pk = h^x` (shown to be `pk̂^q` with knowledge of `x`),
    /// with a precomputed table (every signing encrypts to it).
    pub cl: PublicKey,
    /// Its EC-ElGamal key `Y = y·G` (with a proof of knowledge of `y`): the round-1
    /// promise ciphertext encrypts `k_i·G` under it.
    pub elgamal: ProjectivePoint,
}

/// A party's DMZ21 key share. Every secret (the secp256k1 share, the CL secret key,
/// the EC-ElGamal secret) is zeroized on drop; `Debug` shows none of them.
#[derive(Clone)]
pub struct Dmz21KeyShare {
    pub(crate) share: KeyShare<Secp256k1>,
    pub(crate) cl_secret: SecretKey,
    pub(crate) elgamal_secret: Scalar,
    pub(crate) keys: BTreeMap<PartyIndex, PartyKeys>,
}

impl Dmz21KeyShare {
    /// The ECDSA public key.
    pub fn public_key(&self) -> &ProjectivePoint {
        self.share.public_key()
    }

    /// This holder's index.
    pub fn index(&self) -> PartyIndex {
        self.share.index()
    }

    /// (t, n).
    pub fn threshold(&self) -> Threshold {
        self.share.threshold()
    }

    /// How many refreshes the share has been through.
    pub fn epoch(&self) -> u64 {
        self.share.epoch()
    }

    /// Every holder's public share `X_j = x_j·G`.
    pub fn public_shares(&self) -> &BTreeMap<PartyIndex, ProjectivePoint> {
        self.share.public_shares()
    }

    /// Every holder's verified public keys (this holder's own included).
    pub fn party_keys(&self) -> &BTreeMap<PartyIndex, PartyKeys> {
        &self.keys
    }

    /// The secp256k1 part of the share.
    pub fn secp256k1_share(&self) -> &KeyShare<Secp256k1> {
        &self.share
    }

    /// The same CL and ElGamal keys over a refreshed secp256k1 share.
    pub(crate) fn with_share(&self, share: KeyShare<Secp256k1>) -> Self {
        Self {
            share,
            cl_secret: self.cl_secret.clone(),
            elgamal_secret: self.elgamal_secret,
            keys: self.keys.clone(),
        }
    }
}

impl Drop for Dmz21KeyShare {
    fn drop(&mut self) {
        // The KeyShare and SecretKey zeroize themselves.
        self.elgamal_secret.zeroize();
    }
}

impl fmt::Debug for Dmz21KeyShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dmz21KeyShare")
            .field("share", &self.share)
            .field("cl_secret", &"<redacted>")
            .field("elgamal_secret", &"<redacted>")
            .field("holders", &self.keys.len())
            .finish()
    }
}
