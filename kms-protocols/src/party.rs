//! Who takes part in a run: party indices and session identifiers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A party's index within one key: 1-based, and the x-coordinate of its share.
///
/// Index 0 would be the secret itself (f(0)), so it is never a valid party.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct PartyIndex(u16);

impl PartyIndex {
    /// A party index; `None` for 0.
    pub const fn new(i: u16) -> Option<Self> {
        if i == 0 {
            None
        } else {
            Some(Self(i))
        }
    }

    /// The index as an integer (>= 1).
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Parties 1..=n.
    pub fn range(n: u16) -> impl Iterator<Item = PartyIndex> {
        (1..=n).map(PartyIndex)
    }
}

impl TryFrom<u16> for PartyIndex {
    type Error = &'static str;
    fn try_from(v: u16) -> Result<Self, Self::Error> {
        PartyIndex::new(v).ok_or("party index 0 is not a party")
    }
}

impl From<PartyIndex> for u16 {
    fn from(p: PartyIndex) -> u16 {
        p.0
    }
}

impl fmt::Debug for PartyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.0)
    }
}

impl fmt::Display for PartyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "party {}", self.0)
    }
}

/// A unique id for one protocol run. Every message and every Fiat-Shamir challenge is
/// bound to it, so nothing from one run can be replayed into another.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionId(pub [u8; 32]);

impl SessionId {
    /// A fresh random session id.
    pub fn random<R: rand_core::RngCore + rand_core::CryptoRng>(rng: &mut R) -> Self {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        Self(b)
    }

    /// A session id derived from a label (for callers that agree on ids out of band).
    pub fn derive(label: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"kms-session-id/v1");
        h.update((label.len() as u64).to_be_bytes());
        h.update(label);
        Self(h.finalize().into())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", hex::encode(&self.0[..8]))
    }
}

/// The threshold parameters of a key: `threshold` of `parties` shares sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Threshold {
    /// How many shares are needed to sign (t). The sharing polynomial has degree t - 1.
    pub threshold: u16,
    /// How many shares exist (n).
    pub parties: u16,
}

impl Threshold {
    /// The largest number of shares this crate supports in one key.
    pub const MAX_PARTIES: u16 = 256;

    /// Checked constructor: 2 <= t <= n <= MAX_PARTIES.
    pub fn new(threshold: u16, parties: u16) -> Result<Self, crate::ProtocolError> {
        if threshold < 2 || threshold > parties || parties > Self::MAX_PARTIES {
            return Err(crate::ProtocolError::InvalidParameters(format!(
                "threshold {threshold} of {parties} parties (need 2 <= t <= n <= {})",
                Self::MAX_PARTIES
            )));
        }
        Ok(Self { threshold, parties })
    }

    /// Check that `p` is one of the n parties.
    pub fn contains(&self, p: PartyIndex) -> bool {
        p.get() <= self.parties
    }

    /// Validate a signer set for this key: no duplicate, every signer a holder, at least
    /// `threshold` of them. (Whether the local party is in it is the inbox's check.)
    pub fn signer_set(
        &self,
        signers: &[PartyIndex],
    ) -> Result<std::collections::BTreeSet<PartyIndex>, crate::ProtocolError> {
        let set: std::collections::BTreeSet<PartyIndex> = signers.iter().copied().collect();
        let bad = |m: String| Err(crate::ProtocolError::InvalidParameters(m));
        if set.len() != signers.len() {
            return bad("signer set has a duplicate".into());
        }
        if let Some(p) = set.iter().find(|p| !self.contains(**p)) {
            return bad(format!("{p} does not hold a share of this key"));
        }
        if set.len() < usize::from(self.threshold) {
            return bad(format!("{} signers, the key needs {}", set.len(), self.threshold));
        }
        Ok(set)
    }
}
