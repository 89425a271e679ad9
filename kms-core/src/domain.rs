//! The domain model of the service: keys, their specification, shard placement,
//! status, and sign requests/responses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A key's identifier (random, 128 bits, hex).
///
/// Deserializing validates like [`KeyId::parse`]: a key id names table rows and
/// flows into messages, so one read from the wire or a file is checked as one typed by
/// a caller is.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl TryFrom<String> for KeyId {
    type Error = crate::KmsError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.0
    }
}

impl KeyId {
    /// A fresh random key id.
    pub fn random<R: rand_core::RngCore>(rng: &mut R) -> Self {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        Self(hex::encode(b))
    }

    /// Parse a key id given by a caller: 1 to 64 characters of `[A-Za-z0-9_-]`.
    pub fn parse(s: &str) -> Result<Self, crate::KmsError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(crate::KmsError::InvalidRequest(format!("invalid key id {s:?}")))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// A TSS node's name, e.g. `tss1`.
///
/// Deserializing validates like [`NodeId::new`]: node ids become file names
/// (`{node}.dek`, `{node}.redb`), so `"../x"` from a message or a file must never
/// become a `NodeId`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

impl TryFrom<String> for NodeId {
    type Error = crate::KmsError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<NodeId> for String {
    fn from(n: NodeId) -> String {
        n.0
    }
}

impl NodeId {
    /// A node id (1 to 64 characters of `[A-Za-z0-9_-]`).
    pub fn new(s: impl Into<String>) -> Result<Self, crate::KmsError> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s))
        } else {
            Err(crate::KmsError::InvalidRequest(format!("invalid node id {s:?}")))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The signature family of a key (the spec's `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA.
    Ecdsa,
    /// EdDSA.
    Eddsa,
    /// BLS.
    Bls,
    /// Schnorr (BIP-340 style, secp256k1).
    Schnorr,
}

/// The curve of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Curve {
    /// secp256k1 (Bitcoin, EVM, TRON).
    #[serde(rename = "SECP256K1")]
    Secp256k1,
    /// Ed25519 (Solana).
    #[serde(rename = "ED25519")]
    Ed25519,
    /// BLS12-381 (Ethereum 2.0 validators).
    #[serde(rename = "BLS12_381")]
    Bls12_381,
}

impl Curve {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Curve::Secp256k1 => "SECP256K1",
            Curve::Ed25519 => "ED25519",
            Curve::Bls12_381 => "BLS12_381",
        }
    }
}

/// The threshold protocol of a key (the spec's `algo_type`), by its wire name.
///
/// An open set: the built-in algorithms are associated constants defined beside their
/// schemes in [`crate::schemes`] (`Algorithm::Eddsa`, ...), and a host's own scheme
/// names its algorithm with [`Algorithm::named`] and registers it with
/// [`crate::schemes::register`]. Which algorithms exist, and what each one's
/// curve and key type are, is the scheme registry's business ([`crate::schemes`]).
/// On the wire and on disk an algorithm is its name (`"EDDSA"`); the name is checked
/// when read (1 to 16 characters of `[A-Z0-9_]`), so it fits inline and `Algorithm`
/// stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Algorithm {
    name: [u8; ALGORITHM_NAME_MAX],
    len: u8,
}

/// The longest algorithm name.
const ALGORITHM_NAME_MAX: usize = 16;

const fn algorithm_name_ok(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > ALGORITHM_NAME_MAX {
        return false;
    }
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
            return false;
        }
        i += 1;
    }
    true
}

impl Algorithm {
    /// The algorithm called `name` (1 to 16 characters of `[A-Z0-9_]`), for a scheme's
    /// constant. Panics on a bad name, which in a `const` is a compile error; names
    /// read from the wire go through [`Algorithm::parse`].
    pub const fn named(name: &'static str) -> Algorithm {
        let bytes = name.as_bytes();
        assert!(
            algorithm_name_ok(bytes),
            "an algorithm name is 1 to 16 characters of [A-Z0-9_]"
        );
        let mut out = [0u8; ALGORITHM_NAME_MAX];
        let mut i = 0;
        while i < bytes.len() {
            out[i] = bytes[i];
            i += 1;
        }
        Algorithm {
            name: out,
            len: bytes.len() as u8,
        }
    }

    /// Parse an algorithm name read from the wire or a file. A well-formed name of an
    /// algorithm this process does not know parses; using it is refused later as
    /// [`crate::KmsError::Unsupported`].
    pub fn parse(name: &str) -> Result<Algorithm, crate::KmsError> {
        let bytes = name.as_bytes();
        if !algorithm_name_ok(bytes) {
            return Err(crate::KmsError::InvalidRequest(format!(
                "invalid algorithm name {name:?}"
            )));
        }
        let mut out = [0u8; ALGORITHM_NAME_MAX];
        out[..bytes.len()].copy_from_slice(bytes);
        Ok(Algorithm {
            name: out,
            len: bytes.len() as u8,
        })
    }

    /// The name used on the wire.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked by `named` and `parse`).
        std::str::from_utf8(&self.name[..usize::from(self.len)]).unwrap_or("")
    }

    /// The curve this algorithm works on, per its registered scheme.
    pub fn curve(self) -> Result<Curve, crate::KmsError> {
        Ok(crate::schemes::scheme(self)?.curve())
    }

    /// The key type this algorithm produces, per its registered scheme.
    pub fn key_type(self) -> Result<KeyType, crate::KmsError> {
        Ok(crate::schemes::scheme(self)?.key_type())
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Algorithm::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// What key to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    /// Signature family.
    #[serde(rename = "type")]
    pub key_type: KeyType,
    /// Curve.
    pub curve: Curve,
    /// Threshold protocol.
    pub algo_type: Algorithm,
    /// Private key size in bits.
    pub size: u16,
}

impl KeySpec {
    /// The spec of a key made by `algorithm`. An algorithm without a registered
    /// scheme gets secp256k1/ECDSA, a spec that [`KeySpec::validate`] refuses.
    pub fn for_algorithm(algorithm: Algorithm) -> Self {
        let (key_type, curve) = crate::schemes::scheme(algorithm)
            .map(|s| (s.key_type(), s.curve()))
            .unwrap_or((KeyType::Ecdsa, Curve::Secp256k1));
        Self {
            key_type,
            curve,
            algo_type: algorithm,
            size: 256,
        }
    }

    /// Check that the algorithm has a scheme and that type, curve, algorithm and size
    /// agree.
    pub fn validate(&self) -> Result<(), crate::KmsError> {
        crate::schemes::scheme(self.algo_type)?;
        let expected = Self::for_algorithm(self.algo_type);
        if *self != expected {
            return Err(crate::KmsError::InvalidRequest(format!(
                "key spec {:?}/{}/{} size {} is inconsistent: {} keys are {:?}/{} size {}",
                self.key_type,
                self.curve.as_str(),
                self.algo_type.as_str(),
                self.size,
                self.algo_type.as_str(),
                expected.key_type,
                expected.curve.as_str(),
                expected.size
            )));
        }
        Ok(())
    }
}

impl Default for KeySpec {
    fn default() -> Self {
        Self::for_algorithm(Algorithm::default())
    }
}

/// How a key is split: `shard_count` shards, any `threshold` of which sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardProperties {
    /// Number of shards (n).
    pub shard_count: u16,
    /// Shards needed to sign (t).
    pub threshold: u16,
}

impl Default for ShardProperties {
    fn default() -> Self {
        Self {
            shard_count: 3,
            threshold: 2,
        }
    }
}

/// The life-cycle state of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum KeyStatus {
    /// DKG under way or shards not yet all durable: not usable.
    Generating,
    /// Usable for signing.
    Active,
    /// Temporarily blocked; can be re-activated.
    Frozen,
    /// Retired; kept for reference, never signs again.
    Archived,
    /// Being destroyed: set before the first shard is deleted, so a destroy that could
    /// not reach every holder is visible (and never signs again); recovery finishes it.
    Destroying,
    /// Shards removed from every holder.
    Destroyed,
}

impl KeyStatus {
    /// Whether an administrator may move a key from `self` to `to`.
    pub fn can_become(self, to: KeyStatus) -> bool {
        use KeyStatus::*;
        matches!(
            (self, to),
            (Active, Frozen)
                | (Frozen, Active)
                | (Active, Archived)
                | (Frozen, Archived)
                | (Active, Destroyed)
                | (Frozen, Destroyed)
                | (Archived, Destroyed)
                | (Destroying, Destroyed)
        )
    }
}

/// Which node holds which shard (party index within the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHolder {
    /// The node.
    pub node: NodeId,
    /// The shard's party index (its x-coordinate), from 1.
    pub party: u16,
}

/// Everything the service knows about a key, except shard content (which never
/// leaves its node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMetadata {
    /// The key.
    pub key_id: KeyId,
    /// Its specification.
    pub spec: KeySpec,
    /// Its split.
    pub shards: ShardProperties,
    /// The public key in the curve's standard encoding, hex.
    pub public_key: String,
    /// Which node holds which shard.
    pub holders: Vec<ShardHolder>,
    /// Life-cycle state.
    pub status: KeyStatus,
    /// How many refreshes the shards have been through.
    pub epoch: u64,
    /// Creation time, Unix milliseconds.
    pub created_at: u64,
    /// Last change, Unix milliseconds.
    pub updated_at: u64,
    /// The record's revision. A [`MetadataStore::update`](crate::ports::MetadataStore::update)
    /// succeeds only if the stored revision still equals this one (compare-and-swap),
    /// and stores it incremented; so two writers can never both act on one version.
    #[serde(default)]
    pub revision: u64,
    /// The mutating operation (refresh, status change, destroy) that holds the key, if
    /// any. Taken and released by compare-and-swap, so it works across processes.
    #[serde(default)]
    pub lease: Option<KeyLease>,
}

/// A time-bounded claim on a key by one mutating operation of one coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLease {
    /// The coordinator instance that holds it (random per instance).
    pub owner: String,
    /// What it is doing (`refresh`, `set_status`, `destroy`).
    pub operation: String,
    /// When it lapses, Unix milliseconds: a crashed holder blocks the key no longer.
    pub expires_at: u64,
}

/// The id of a cluster, recorded in its metadata store and on every node, so recovery
/// can tell a lost or foreign metadata store from its own.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClusterId(String);

impl ClusterId {
    /// A fresh random cluster id (128 bits, hex).
    pub fn random<R: rand_core::RngCore>(rng: &mut R) -> Self {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        Self(hex::encode(b))
    }

    /// Parse a cluster id: 1 to 64 characters of `[A-Za-z0-9_-]`.
    pub fn parse(s: &str) -> Result<Self, crate::KmsError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(crate::KmsError::InvalidRequest(format!(
                "invalid cluster id {s:?}"
            )))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClusterId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).map_err(|e| e.to_string())
    }
}

impl From<ClusterId> for String {
    fn from(c: ClusterId) -> String {
        c.0
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterId({})", self.0)
    }
}

/// A signature made by the service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureOutput {
    /// The key that signed.
    pub key_id: KeyId,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The signature in the standard encoding: Ed25519 R||S (64 bytes), BLS G2
    /// compressed (96 bytes), ECDSA r||s||v (65 bytes, v = 27 + recovery id).
    pub signature: Vec<u8>,
    /// The nodes whose shards signed.
    pub signers: Vec<NodeId>,
}
