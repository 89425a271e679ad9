//! A party's GG18 key share: its Shamir share of the ECDSA key, the public data of the
//! key, and the aux material (own Paillier secret, every peer's verified Paillier key
//! and ring-Pedersen parameters) that signing needs.

use super::mta_backend::MtaBackend;
use super::secp256k1::Secp256k1;

use crate::error::ProtocolError;
use crate::group::Group;
use crate::party::{PartyIndex, Threshold};
use k256::{ProjectivePoint, Scalar};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroize;

/// One holder's share of a GG18 key over the aux backend `M`.
///
/// The secret share is zeroized on drop and never printed. Cloning is cheap: the aux
/// material is shared behind `Arc`s.
pub struct KeyShareOf<M: MtaBackend> {
    pub(crate) threshold: Threshold,
    pub(crate) index: PartyIndex,
    pub(crate) secret: Scalar,
    pub(crate) public_key: ProjectivePoint,
    pub(crate) public_shares: BTreeMap<PartyIndex, ProjectivePoint>,
    pub(crate) epoch: u64,
    pub(crate) aux_secret: Arc<M::Secret>,
    pub(crate) aux_peers: Arc<BTreeMap<PartyIndex, M::Public>>,
}

impl<M: MtaBackend> KeyShareOf<M> {
    /// Assemble and check a share: the secret matches its public share, the public
    /// shares cover 1..=n, nothing is the identity or zero, and there is aux material
    /// for every other party.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        threshold: Threshold,
        index: PartyIndex,
        secret: Scalar,
        public_key: ProjectivePoint,
        public_shares: BTreeMap<PartyIndex, ProjectivePoint>,
        epoch: u64,
        aux_secret: Arc<M::Secret>,
        aux_peers: Arc<BTreeMap<PartyIndex, M::Public>>,
    ) -> Result<Self, ProtocolError> {
        let share = Self {
            threshold,
            index,
            secret,
            public_key,
            public_shares,
            epoch,
            aux_secret,
            aux_peers,
        };
        share.validate()?;
        Ok(share)
    }

    fn validate(&self) -> Result<(), ProtocolError> {
        let bad = |m: &str| Err(ProtocolError::InvalidParameters(format!("GG18 key share: {m}")));
        crate::key_share::validate_share::<Secp256k1>(
            "GG18 key share",
            self.threshold,
            self.index,
            &self.secret,
            &self.public_key,
            &self.public_shares,
        )?;
        let peers: Vec<PartyIndex> = PartyIndex::range(self.threshold.parties)
            .filter(|p| *p != self.index)
            .collect();
        if self.aux_peers.keys().copied().collect::<Vec<_>>() != peers {
            return bad("aux material does not cover exactly the other parties");
        }
        if self.aux_peers.iter().any(|(p, a)| M::public_party(a) != *p) {
            return bad("aux material labelled with another party index");
        }
        Ok(())
    }

    /// (t, n) of the key.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }
    /// This party's index.
    pub fn index(&self) -> PartyIndex {
        self.index
    }
    /// The ECDSA public key.
    pub fn public_key(&self) -> &ProjectivePoint {
        &self.public_key
    }
    /// The public key, SEC1 compressed (33 bytes).
    pub fn public_key_bytes(&self) -> Vec<u8> {
        Secp256k1::element_to_bytes(&self.public_key)
    }
    /// Every party's public share X_j.
    pub fn public_shares(&self) -> &BTreeMap<PartyIndex, ProjectivePoint> {
        &self.public_shares
    }
    /// How many refreshes this share has been through; shares of different epochs
    /// never sign together.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    /// Every other party's verified aux public data.
    pub fn aux_peers(&self) -> &BTreeMap<PartyIndex, M::Public> {
        &self.aux_peers
    }
    /// The local aux secret.
    pub fn aux_secret(&self) -> &M::Secret {
        &self.aux_secret
    }
}

impl<M: MtaBackend> Clone for KeyShareOf<M> {
    fn clone(&self) -> Self {
        Self {
            threshold: self.threshold,
            index: self.index,
            secret: self.secret,
            public_key: self.public_key,
            public_shares: self.public_shares.clone(),
            epoch: self.epoch,
            aux_secret: Arc::clone(&self.aux_secret),
            aux_peers: Arc::clone(&self.aux_peers),
        }
    }
}

impl<M: MtaBackend> Drop for KeyShareOf<M> {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl<M: MtaBackend> fmt::Debug for KeyShareOf<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gg18KeyShare")
            .field("threshold", &self.threshold)
            .field("index", &self.index)
            .field("secret", &"<redacted>")
            .field("public_key", &hex::encode(self.public_key_bytes()))
            .field("epoch", &self.epoch)
            .finish()
    }
}
