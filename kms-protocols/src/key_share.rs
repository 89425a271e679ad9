//! A party's share of a threshold key, for the groups of the generic protocols.

use crate::codec::{CodecError, Reader, Writer};
use crate::error::ProtocolError;
use crate::group::Group;
use crate::party::{PartyIndex, Threshold};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

const SHARE_KIND: &str = "kms/key-share";

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
        validate_share::<G>(
            "key share",
            self.threshold,
            self.index,
            &self.secret,
            &self.public_key,
            &self.public_shares,
        )
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
    /// The secret share, for signing code (this crate's, or a scheme plugged in from
    /// outside it). Never log it or copy it out of a zeroizing container.
    pub fn secret(&self) -> &G::Scalar {
        &self.secret
    }

    /// Serialise for storage, as a [`crate::codec`] record of kind `kms/key-share`:
    /// group name, t, n, index, epoch, secret, public key, then every party's index and
    /// public share. The result holds the secret, so it is zeroized on drop (and built
    /// in a buffer sized up front, so no reallocation leaves a copy); storage encrypts
    /// it before it touches a disk.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let n = self.public_shares.len();
        let capacity = 4
            + G::NAME.len()
            + 6
            + 8
            + (4 + G::SCALAR_LEN)
            + (4 + G::ELEMENT_LEN)
            + 2
            + n * (2 + 4 + G::ELEMENT_LEN);
        let mut w = Writer::new(SHARE_KIND, capacity);
        w.bytes(G::NAME.as_bytes())
            .u16(self.threshold.threshold)
            .u16(self.threshold.parties)
            .u16(self.index.get())
            .u64(self.epoch);
        let secret = Zeroizing::new(G::scalar_to_bytes(&self.secret));
        w.bytes(&secret);
        w.bytes(&G::element_to_bytes(&self.public_key));
        w.u16(n as u16);
        for (p, x) in &self.public_shares {
            w.u16(p.get()).bytes(&G::element_to_bytes(x));
        }
        w.finish()
    }

    /// Parse and validate a stored share. A record of an unknown codec version, another
    /// kind or another group is refused, and so is any share [`KeyShare::new`] refuses.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let bad = |m: String| ProtocolError::InvalidParameters(format!("stored key share: {m}"));
        let codec = |e: CodecError| bad(e.to_string());
        let mut r = Reader::open(SHARE_KIND, bytes).map_err(codec)?;
        let group = r.bytes("group").map_err(codec)?;
        if group != G::NAME.as_bytes() {
            return Err(bad(format!(
                "share of group {}, expected {}",
                String::from_utf8_lossy(group),
                G::NAME
            )));
        }
        let threshold = Threshold {
            threshold: r.u16("threshold").map_err(codec)?,
            parties: r.u16("parties").map_err(codec)?,
        };
        let index = PartyIndex::new(r.u16("index").map_err(codec)?).ok_or_else(|| bad("index 0".into()))?;
        let epoch = r.u64("epoch").map_err(codec)?;
        let secret =
            G::scalar_from_bytes(r.bytes("secret").map_err(codec)?).ok_or_else(|| bad("secret".into()))?;
        let public_key = G::element_from_bytes(r.bytes("public key").map_err(codec)?)
            .ok_or_else(|| bad("public key".into()))?;
        let mut public_shares = BTreeMap::new();
        for _ in 0..r.u16("public share count").map_err(codec)? {
            let p = PartyIndex::new(r.u16("party").map_err(codec)?).ok_or_else(|| bad("party 0".into()))?;
            let x = G::element_from_bytes(r.bytes("public share").map_err(codec)?)
                .ok_or_else(|| bad(format!("public share of {p}")))?;
            if public_shares.insert(p, x).is_some() {
                return Err(bad(format!("two public shares of {p}")));
            }
        }
        r.finish().map_err(codec)?;
        Self::new(threshold, index, secret, public_key, public_shares, epoch)
    }
}

/// The checks every key share of this crate passes, whatever its scheme (the generic
/// [`KeyShare`] and GG18's share both call it): a valid (t, n), the index one of the n
/// parties, one public share per party and none the identity, a public key that is not
/// the identity, and a non-zero secret that matches its own public share. `what` names
/// the share in the error.
pub(crate) fn validate_share<G: Group>(
    what: &str,
    threshold: Threshold,
    index: PartyIndex,
    secret: &G::Scalar,
    public_key: &G::Element,
    public_shares: &BTreeMap<PartyIndex, G::Element>,
) -> Result<(), ProtocolError> {
    let bad = |m: &str| Err(ProtocolError::InvalidParameters(format!("{what}: {m}")));
    Threshold::new(threshold.threshold, threshold.parties)?;
    if !threshold.contains(index) {
        return bad("index outside 1..=n");
    }
    if public_shares.len() != usize::from(threshold.parties)
        || PartyIndex::range(threshold.parties).any(|p| !public_shares.contains_key(&p))
    {
        return bad("public shares do not cover exactly parties 1..=n");
    }
    if *public_key == G::identity() || public_shares.values().any(|x| *x == G::identity()) {
        return bad("identity public key or public share");
    }
    if G::is_zero(secret) {
        return bad("zero secret share");
    }
    if G::mul_base(secret) != public_shares[&index] {
        return bad("secret does not match its public share");
    }
    Ok(())
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
