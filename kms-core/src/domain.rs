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
pub enum KeyType {
    /// ECDSA.
    Ecdsa,
    /// EdDSA.
    Eddsa,
    /// BLS.
    Bls,
}

/// The curve of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// The threshold protocol family of a key (the spec's `algo_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Algorithm {
    /// GG18 threshold ECDSA (the default).
    #[default]
    Gg18,
    /// DMZ21 threshold ECDSA from class groups.
    Dmz21,
    /// DKLS23 threshold ECDSA from oblivious transfer.
    Dkls23,
    /// FROST threshold Ed25519.
    Eddsa,
    /// Threshold BLS12-381.
    Bls,
}

impl Algorithm {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Gg18 => "GG18",
            Algorithm::Dmz21 => "DMZ21",
            Algorithm::Dkls23 => "DKLS23",
            Algorithm::Eddsa => "EDDSA",
            Algorithm::Bls => "BLS",
        }
    }

    /// The curve and key type this algorithm works on.
    pub fn curve(self) -> Curve {
        match self {
            Algorithm::Gg18 | Algorithm::Dmz21 | Algorithm::Dkls23 => Curve::Secp256k1,
            Algorithm::Eddsa => Curve::Ed25519,
            Algorithm::Bls => Curve::Bls12_381,
        }
    }

    /// The key type this algorithm produces.
    pub fn key_type(self) -> KeyType {
        match self {
            Algorithm::Gg18 | Algorithm::Dmz21 | Algorithm::Dkls23 => KeyType::Ecdsa,
            Algorithm::Eddsa => KeyType::Eddsa,
            Algorithm::Bls => KeyType::Bls,
        }
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
    /// The spec of a key made by `algorithm`.
    pub fn for_algorithm(algorithm: Algorithm) -> Self {
        Self {
            key_type: algorithm.key_type(),
            curve: algorithm.curve(),
            algo_type: algorithm,
            size: 256,
        }
    }

    /// Check that type, curve, algorithm and size agree.
    pub fn validate(&self) -> Result<(), crate::KmsError> {
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
