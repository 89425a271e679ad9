//! The coordinator-to-node protocol. Every type is serde so any transport (in-memory
//! bus, gRPC, HTTP) can carry it.

use crate::domain::{Algorithm, KeyId, NodeId};
use crate::seal::SealedMessage;
use kms_protocols::{PartyIndex, SessionId, Threshold};
use serde::{Deserialize, Serialize};

/// A request from the coordinator to a node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum NodeRequest {
    /// Liveness check.
    Ping,
    /// Start a DKG for a new key, as party `party` of `threshold`.
    StartKeygen {
        /// The new key.
        key_id: KeyId,
        /// The run.
        session: SessionId,
        /// Algorithm.
        algorithm: Algorithm,
        /// (t, n).
        threshold: Threshold,
        /// This node's party index.
        party: PartyIndex,
        /// Every party of the session and its node.
        parties: Vec<(PartyIndex, NodeId)>,
    },
    /// Start signing `message` with this node's shard of `key_id`, among `signers`.
    StartSign {
        /// The key.
        key_id: KeyId,
        /// The run.
        session: SessionId,
        /// Party indices of the signers (this node's included).
        signers: Vec<PartyIndex>,
        /// What to sign: the message (EdDSA, BLS) or the 32-byte hash (ECDSA).
        message: Vec<u8>,
        /// Every party of the session and its node.
        parties: Vec<(PartyIndex, NodeId)>,
    },
    /// Start a refresh of this node's shard of `key_id`.
    StartRefresh {
        /// The key.
        key_id: KeyId,
        /// The run.
        session: SessionId,
        /// Every party of the session and its node.
        parties: Vec<(PartyIndex, NodeId)>,
    },
    /// Exchange GG18 auxiliary material (Paillier and ring-Pedersen keys with their
    /// proofs) with the other nodes of `parties`; each node keeps what it verified, per
    /// peer node, for every later GG18 key.
    StartAuxExchange {
        /// The run.
        session: SessionId,
        /// Every party of the exchange and its node.
        parties: Vec<(PartyIndex, NodeId)>,
    },
    /// Which peers' GG18 aux material this node has verified.
    AuxStatus,
    /// Replace this node's GG18 aux material with newly generated material. Existing
    /// keys keep the material they were made with (it is part of their shares).
    RefreshAux,
    /// Make sure fresh GG18 aux material is ready for a key refresh (a refresh re-keys
    /// every holder's Paillier key): start generating it if the node's pool is empty,
    /// and answer at once with how many are ready (`AuxPoolReady`).
    PrepareRefreshAux,
    /// Drop the verified GG18 aux material of `node` (it was refreshed); the next key
    /// with it exchanges anew.
    ForgetPeerAux {
        /// The node whose material is stale.
        node: NodeId,
    },
    /// Messages relayed from other nodes for a running session.
    Deliver {
        /// The run.
        session: SessionId,
        /// The sealed messages, in the order they were produced.
        messages: Vec<SealedMessage>,
    },
    /// Make a staged refresh result current.
    CommitRefresh {
        /// The key.
        key_id: KeyId,
        /// The new version.
        version: u64,
    },
    /// Drop a session (and a staged refresh result of it, if any).
    Abort {
        /// The run.
        session: SessionId,
    },
    /// List the keys this node holds a shard of (for recovery).
    ListShards,
    /// The version of this node's current shard of a key (for recovery).
    ShardVersion {
        /// The key.
        key_id: KeyId,
    },
    /// Remove this node's shard of a key.
    DeleteShard {
        /// The key.
        key_id: KeyId,
    },
}

/// How a session ended on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionOutcome {
    /// DKG done and the shard durably stored.
    KeyGenerated {
        /// Public key in the curve's standard encoding.
        public_key: Vec<u8>,
    },
    /// Signature made (and verified by the node).
    Signed {
        /// Signature in the standard encoding.
        signature: Vec<u8>,
    },
    /// Aux exchange done; the peers' material is verified and kept.
    AuxExchanged,
    /// Refresh done; the new shard is staged with this version.
    RefreshStaged {
        /// New version.
        version: u64,
    },
}

/// A node's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum NodeResponse {
    /// Answer to `Ping`.
    Pong {
        /// The node.
        node: NodeId,
    },
    /// Messages to relay, and the outcome when the session has finished on this node.
    Progress {
        /// Sealed messages to relay to other parties.
        outgoing: Vec<SealedMessage>,
        /// Set once the node's run is complete.
        outcome: Option<SessionOutcome>,
    },
    /// Done, nothing to report.
    Ack,
    /// Answer to `ShardVersion`; `None` if the node holds no shard of the key.
    Version {
        /// The current shard's version.
        version: Option<u64>,
    },
    /// Answer to `AuxStatus`: digests of the node's own GG18 aux material (if it has
    /// any yet) and of each peer's material it verified, so stale material is seen.
    AuxPeers {
        /// Digest of the node's own material.
        own: Option<[u8; 32]>,
        /// Digest of each peer's material as the node holds it.
        peers: Vec<(NodeId, [u8; 32])>,
    },
    /// Answer to `PrepareRefreshAux`: fresh GG18 aux material ready in the node's pool.
    AuxPoolReady {
        /// Entries ready (0 while the first is being generated).
        ready: usize,
    },
    /// Answer to `ListShards`.
    Shards {
        /// Keys with a shard on the node.
        keys: Vec<KeyId>,
    },
    /// The request failed. `culprit` is the party index to blame if a peer misbehaved.
    Error {
        /// The party to blame, if any.
        culprit: Option<PartyIndex>,
        /// What went wrong (never secret material).
        message: String,
    },
}
