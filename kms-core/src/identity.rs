//! Node identity keys: an Ed25519 key that signs every protocol message a node emits,
//! and an X25519 key for the end-to-end sealing of point-to-point payloads. Peers'
//! public identities are pinned in a [`PeerDirectory`] given to each node at start, so
//! the relaying coordinator can neither read nor forge node-to-node traffic.

use crate::domain::NodeId;
use ed25519_dalek::SigningKey;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use x25519_dalek::{PublicKey as DhPublic, StaticSecret};

/// A node's secret identity. Zeroized on drop (both dalek types zeroize themselves).
pub struct NodeIdentity {
    node: NodeId,
    signing: SigningKey,
    dh: StaticSecret,
}

impl NodeIdentity {
    /// A fresh identity.
    pub fn generate<R: RngCore + CryptoRng>(node: NodeId, rng: &mut R) -> Self {
        let signing = SigningKey::generate(rng);
        let dh = StaticSecret::random_from_rng(&mut *rng);
        Self { node, signing, dh }
    }

    /// Restore an identity from its two 32-byte secrets (as kept by a node's encrypted store).
    pub fn from_secrets(node: NodeId, signing: &[u8; 32], dh: &[u8; 32]) -> Self {
        Self {
            node,
            signing: SigningKey::from_bytes(signing),
            dh: StaticSecret::from(*dh),
        }
    }

    /// The two secrets, for a node's encrypted store.
    pub fn secrets(&self) -> zeroize::Zeroizing<[u8; 64]> {
        let mut out = zeroize::Zeroizing::new([0u8; 64]);
        out[..32].copy_from_slice(&self.signing.to_bytes());
        out[32..].copy_from_slice(self.dh.as_bytes());
        out
    }

    /// The node.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// The public half, to be pinned by peers.
    pub fn public(&self) -> NodeIdentityPublic {
        NodeIdentityPublic {
            node: self.node.clone(),
            verifying_key: self.signing.verifying_key().to_bytes(),
            dh_public: DhPublic::from(&self.dh).to_bytes(),
        }
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub(crate) fn dh(&self) -> &StaticSecret {
        &self.dh
    }
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("node", &self.node)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

/// A node's public identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentityPublic {
    /// The node.
    pub node: NodeId,
    /// Ed25519 key that verifies the node's messages.
    pub verifying_key: [u8; 32],
    /// X25519 key for sealing payloads to the node.
    pub dh_public: [u8; 32],
}

/// The pinned public identities of the cluster's nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerDirectory(BTreeMap<NodeId, NodeIdentityPublic>);

impl PeerDirectory {
    /// A directory of the given identities.
    pub fn new(peers: impl IntoIterator<Item = NodeIdentityPublic>) -> Self {
        Self(peers.into_iter().map(|p| (p.node.clone(), p)).collect())
    }

    /// A node's identity.
    pub fn get(&self, node: &NodeId) -> Option<&NodeIdentityPublic> {
        self.0.get(node)
    }

    /// The nodes in the directory.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeId> {
        self.0.keys()
    }
}
