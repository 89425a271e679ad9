//! The coordinator-to-node protocol. Every type is serde so any transport (in-memory
//! bus, gRPC, HTTP) can carry it.

use crate::domain::{Algorithm, ClusterId, KeyId, NodeId, ShardHolder, ShardProperties};
use crate::seal::SealedMessage;
use kms_protocols::{PartyIndex, SessionId, Threshold};
use serde::{Deserialize, Serialize};

/// A request from the coordinator to a node.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
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
        /// The key's epoch in the metadata: every signer signs with its shard of exactly
        /// this version, so a signing never mixes shares across a refresh.
        #[serde(default)]
        epoch: u64,
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
    /// Exchange `algorithm`'s node setup material with the other nodes of `parties`
    /// (each proves its material, bound to its pinned identity); each node keeps what it
    /// verified, per peer node, for every later key of the algorithm.
    StartSetupExchange {
        /// The scheme whose material is exchanged.
        algorithm: Algorithm,
        /// The run.
        session: SessionId,
        /// Every party of the exchange and its node.
        parties: Vec<(PartyIndex, NodeId)>,
    },
    /// Which peers' setup material of `algorithm` this node has verified
    /// (answered with `SetupStatus`).
    SetupStatus {
        /// The scheme.
        algorithm: Algorithm,
    },
    /// Replace this node's own setup material of `algorithm` with newly generated
    /// material. Existing keys keep the material they were made with (it is part of
    /// their shares).
    RenewSetup {
        /// The scheme.
        algorithm: Algorithm,
    },
    /// Make sure fresh own setup material of `algorithm` is ready for a key refresh
    /// that re-keys it: start generating if the node's pool is empty, and answer at
    /// once with how many are ready (`SetupPoolReady`).
    PrepareRefreshSetup {
        /// The scheme.
        algorithm: Algorithm,
    },
    /// Drop the verified setup material of `node` (it was renewed); the next key with
    /// it exchanges anew.
    ForgetPeerSetup {
        /// The scheme.
        algorithm: Algorithm,
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
        /// The refresh session that staged it; a shard staged by another is not touched.
        session: SessionId,
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
    /// Every key this node holds a shard or a record of, with what it knows about each
    /// (for recovery and for rebuilding lost metadata).
    HeldKeys,
    /// Every holder stored its shard of a new key: clear this node's pending mark.
    ConfirmKey {
        /// The key.
        key_id: KeyId,
    },
    /// Remove this node's shard of a key only if the node itself marked it pending (a
    /// generation that never completed). The node refuses for any other shard.
    DiscardPending {
        /// The key.
        key_id: KeyId,
    },
    /// Remove this node's shard of a key only if it is older than `epoch` (left behind
    /// by a refresh, e.g. brought back by restoring an old backup) and no shard of
    /// `epoch` is staged. The node refuses for a current shard.
    DropStale {
        /// The key.
        key_id: KeyId,
        /// The key's epoch in the metadata.
        epoch: u64,
    },
    /// Record that this node belongs to `cluster`; refused if it belongs to another.
    JoinCluster {
        /// The cluster.
        cluster: ClusterId,
    },
}

/// What a holder records about a key next to its shard: public facts only, kept in the
/// node's vault (encrypted and authenticated under its DEK), so the cluster's key
/// metadata can be rebuilt from the holders if the coordinator's store is lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldKey {
    /// The key.
    pub key_id: KeyId,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The public key, hex, in the curve's standard encoding.
    pub public_key: String,
    /// Its split.
    pub shards: ShardProperties,
    /// Which node holds which shard.
    pub holders: Vec<ShardHolder>,
    /// Written `true` when the DKG stores the shard; cleared by `ConfirmKey` once every
    /// holder stored its own. Only a pending shard may be removed by recovery.
    pub pending: bool,
}

/// One entry of the answer to `HeldKeys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldKeyReport {
    /// The key.
    pub key_id: KeyId,
    /// Version of the current shard, if the node has one.
    pub version: Option<u64>,
    /// Version and session of a staged shard, if any.
    pub staged: Option<(u64, SessionId)>,
    /// The node's record of the key, if it has one (older data may have none).
    pub info: Option<HeldKey>,
}

/// How a session ended on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Setup exchange done; the peers' material is verified and kept.
    SetupExchanged,
    /// Refresh done; the new shard is staged with this version.
    RefreshStaged {
        /// New version.
        version: u64,
    },
}

/// A node's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Answer to `SetupStatus`: for each peer whose material this node holds, a
    /// fingerprint of the pair (this node's own material and the peer's as held). Two
    /// nodes hold matching material exactly when both report the same fingerprint for
    /// their pair, so stale material on either side is seen.
    SetupStatus {
        /// One fingerprint per peer.
        pairs: Vec<(NodeId, [u8; 32])>,
    },
    /// Answer to `PrepareRefreshSetup`: fresh own setup material ready in the pool.
    SetupPoolReady {
        /// Entries ready (0 while the first is being generated).
        ready: usize,
    },
    /// Answer to `ListShards`.
    Shards {
        /// Keys with a shard on the node.
        keys: Vec<KeyId>,
    },
    /// Answer to `HeldKeys`.
    HeldKeys {
        /// The cluster the node belongs to, if it joined one.
        cluster: Option<ClusterId>,
        /// What the node holds.
        keys: Vec<HeldKeyReport>,
    },
    /// Answer to `StartSign` when the node has no shard of the requested epoch (a
    /// refresh moved on, or the node lags): no party misbehaved; retry at the key's
    /// current epoch.
    WrongEpoch {
        /// The version the node holds, if any.
        have: Option<u64>,
        /// The epoch asked for.
        want: u64,
    },
    /// A protocol run aborted because a peer misbehaved: who, and the evidence, for the
    /// coordinator to check before it blames anyone (see [`crate::evidence`]).
    Accusation(crate::evidence::Accusation),
    /// The request failed. `culprit` is the party index to blame if a peer misbehaved;
    /// the coordinator does not believe a culprit named without evidence (see
    /// [`NodeResponse::Accusation`]): it blames the reporter instead.
    Error {
        /// The party to blame, if any.
        culprit: Option<PartyIndex>,
        /// The stable code of the failure.
        #[serde(default)]
        code: crate::error::ErrorCode,
        /// What went wrong (never secret material).
        message: String,
    },
}
