//! A party's share of a threshold key, for the groups of the generic protocols.

use crate::error::ProtocolError;
use crate::group::Group;
use crate::party::{PartyIndex, Threshold};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// One party's share of a key: its secret share x_i, and the public data every holder
/// agrees on (group public key, every party's public share X_j = x_j * G).
///
/// The secret is zeroized on drop and never printed.
pub struct KeyShare<G: Group> {
    threshold: Threshold,
    index: PartyIndex,
    secret: G::Scalar,
    public_key: G::Element,
    public_shares: BTreeMap<PartyIndex, G::Element>,
    epoch: u64,
}

impl<G: Group> KeyShare<G> {
    /// Assemble a share, checking that it is consistent: the secret matches the public
    /// share of `index`, there is one public share per party, none is the identity, and
    /// the public key is not the identity.
    pub fn new(
        threshold: Threshold,
        index: PartyIndex,
        secret: G::Scalar,
        public_key: G::Element,
        public_shares: BTreeMap<PartyIndex, G::Element>,
        epoch: u64,
    ) -> Result<Self, ProtocolError> {
        let share = Self {
            threshold,
            index,
            secret,
            public_key,
            public_shares,
            epoch,
        };
        share.validate()?;
        Ok(share)
    }

    fn validate(&self) -> Result<(), ProtocolError> {
        let bad = |m: &str| Err(ProtocolError::InvalidParameters(format!("key share: {m}")));
        if !self.threshold.contains(self.index) {
            return bad("index outside 1..=n");
        }
        if self.public_shares.len() != usize::from(self.threshold.parties)
            || PartyIndex::range(self.threshold.parties).any(|p| !self.public_shares.contains_key(&p))
        {
            return bad("public shares do not cover exactly parties 1..=n");
        }
        if self.public_key == G::identity() || self.public_shares.values().any(|x| *x == G::identity()) {
            return bad("identity public key or public share");
        }
        if G::is_zero(&self.secret) {
            return bad("zero secret share");
        }
        if G::mul_base(&self.secret) != self.public_shares[&self.index] {
            return bad("secret does not match its public share");
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
    /// The group public key.
    pub fn public_key(&self) -> &G::Element {
        &self.public_key
    }
    /// Every party's public share.
    pub fn public_shares(&self) -> &BTreeMap<PartyIndex, G::Element> {
        &self.public_shares
    }
    /// How many refreshes this share has been through. Shares of different epochs
    /// never sign together.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    /// The secret share; only protocol code of this crate reads it.
    pub(crate) fn secret(&self) -> &G::Scalar {
        &self.secret
    }

    /// Serialise for storage. The result holds the secret, so it is zeroized on drop;
    /// storage encrypts it before it touches a disk.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut secret = G::scalar_to_bytes(&self.secret);
        let stored = StoredShare {
            group: G::NAME.to_string(),
            threshold: self.threshold,
            index: self.index,
            secret: secret.clone(),
            public_key: G::element_to_bytes(&self.public_key),
            public_shares: self
                .public_shares
                .iter()
                .map(|(p, x)| (*p, G::element_to_bytes(x)))
                .collect(),
            epoch: self.epoch,
        };
        secret.zeroize();
        let out = Zeroizing::new(crate::message::encode(&stored));
        drop(stored);
        out
    }

    /// Parse and validate a stored share.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let bad = |m: String| ProtocolError::InvalidParameters(format!("stored key share: {m}"));
        let stored: StoredShare = crate::message::decode_payload(bytes).map_err(|e| bad(e.to_string()))?;
        if stored.group != G::NAME {
            return Err(bad(format!(
                "share of group {}, expected {}",
                stored.group,
                G::NAME
            )));
        }
        let secret = G::scalar_from_bytes(&stored.secret).ok_or_else(|| bad("secret".into()))?;
        let public_key = G::element_from_bytes(&stored.public_key).ok_or_else(|| bad("public key".into()))?;
        let mut public_shares = BTreeMap::new();
        for (p, b) in &stored.public_shares {
            public_shares.insert(
                *p,
                G::element_from_bytes(b).ok_or_else(|| bad(format!("public share of {p}")))?,
            );
        }
        Self::new(
            stored.threshold,
            stored.index,
            secret,
            public_key,
            public_shares,
            stored.epoch,
        )
    }
}

impl<G: Group> Clone for KeyShare<G> {
    fn clone(&self) -> Self {
        Self {
            threshold: self.threshold,
            index: self.index,
            secret: self.secret,
            public_key: self.public_key,
            public_shares: self.public_shares.clone(),
            epoch: self.epoch,
        }
    }
}

impl<G: Group> Drop for KeyShare<G> {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl<G: Group> fmt::Debug for KeyShare<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyShare")
            .field("group", &G::NAME)
            .field("threshold", &self.threshold)
            .field("index", &self.index)
            .field("secret", &"<redacted>")
            .field("public_key", &self.public_key)
            .field("epoch", &self.epoch)
            .finish()
    }
}

#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
struct StoredShare {
    group: String,
    #[zeroize(skip)]
    threshold: Threshold,
    #[zeroize(skip)]
    index: PartyIndex,
    secret: Vec<u8>,
    public_key: Vec<u8>,
    #[zeroize(skip)]
    public_shares: Vec<(PartyIndex, Vec<u8>)>,
    epoch: u64,
}
