//! Schemes as plug-ins: one [`Scheme`] per algorithm (its key share, DKG, signing,
//! refresh, optional node setup material, encodings and verification), and the
//! registry that maps an [`Algorithm`] to its scheme.
//!
//! The node runtime and the coordinator drive every algorithm through this trait and
//! name none. The registry is the only place that knows which schemes exist: the
//! built-in ones are listed in its `builtin` list, and a host (or a test) adds its own with
//! [`register`].
//!
//! A scheme's runs are `kms-protocols` state machines behind [`SchemeRun`]. What the
//! node keeps for a scheme beyond shards is *setup material* ([`NodeSetup`]): a node's
//! own long-lived secret (GG18's Paillier and ring-Pedersen keys, DMZ21's class-group
//! key) and what it verified of each peer (their public halves, or DKLS23-style
//! pairwise seeds), exchanged over the relay, kept in the vault, renewed, and pooled
//! fresh for key refreshes that re-key it.

use crate::domain::{Algorithm, Curve, KeyId, KeyType, NodeId};
use crate::identity::NodeIdentityPublic;
use crate::KmsError;
use kms_protocols::{Envelope, PartyIndex, ProtocolError, SessionId, StateMachine, Threshold};
use rand_chacha::ChaCha20Rng;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use zeroize::Zeroizing;

mod bls;
mod dkls23;
mod dmz21;
mod eddsa;
mod gg18;

pub use gg18::parse_aux_file as parse_gg18_aux_file;

/// Setup material held in memory, typed by the scheme that made it (which downcasts
/// it). Secret material zeroizes itself on drop.
pub type Material = Arc<dyn Any + Send + Sync>;

/// A scheme's per-key signing precomputation (e.g. GG18's Paillier nonces), typed by
/// the scheme. Each item is used by one signing and lives in memory only.
pub type Precomputed = Box<dyn Any + Send>;

/// The node's per-key precomputation pools, shared with the scheme's refill task.
pub type PoolMap = Arc<Mutex<HashMap<KeyId, Precomputed>>>;

/// What a finished run hands to the node.
#[non_exhaustive]
pub enum RunOutput {
    /// Every other party's verified setup material (a setup exchange), by party.
    Setup(BTreeMap<PartyIndex, Material>),
    /// A new (or refreshed) share to store, with the public key and share version.
    Share {
        /// The serialized share (secret).
        data: Zeroizing<Vec<u8>>,
        /// The public key in the scheme's standard encoding.
        public_key: Vec<u8>,
        /// The share's version (its refresh epoch).
        version: u64,
    },
    /// A signature in the scheme's standard encoding.
    Signature(Vec<u8>),
}

/// A protocol run with its output type erased, as the node drives it.
pub trait SchemeRun: Send + Sync {
    /// Feed one opened message; answer with the messages to send and, once finished,
    /// the output.
    fn handle(
        &mut self,
        msg: Envelope,
        rng: &mut ChaCha20Rng,
    ) -> Result<(Vec<Envelope>, Option<RunOutput>), ProtocolError>;
}

/// Outputs of protocol runs, as the node handles them.
pub trait IntoRunOutput {
    /// The output in the node's terms.
    fn into_run_output(self) -> RunOutput;
}

/// Every state machine whose output the node understands is a run.
impl<S> SchemeRun for S
where
    S: StateMachine + Send + Sync,
    S::Output: IntoRunOutput,
{
    fn handle(
        &mut self,
        msg: Envelope,
        rng: &mut ChaCha20Rng,
    ) -> Result<(Vec<Envelope>, Option<RunOutput>), ProtocolError> {
        let step = StateMachine::handle(self, msg, rng)?;
        Ok((step.outgoing, step.output.map(IntoRunOutput::into_run_output)))
    }
}

/// A started run and its first messages.
pub type Started = (Box<dyn SchemeRun>, Vec<Envelope>);

/// Box a state machine and its first messages.
pub fn started<S: SchemeRun + 'static>((run, msgs): (S, Vec<Envelope>)) -> Started {
    (Box::new(run), msgs)
}

/// A node's setup material for one key's session: its own, and what it verified of
/// each other party (by party index in this session).
pub struct SetupFor {
    /// This node's own material (if the scheme has any).
    pub own: Option<Material>,
    /// Every other party's material.
    pub peers: BTreeMap<PartyIndex, Material>,
}

/// What a DKG starts from.
pub struct DkgInput<'a> {
    /// The run.
    pub session: SessionId,
    /// (t, n).
    pub threshold: Threshold,
    /// This node's party index.
    pub me: PartyIndex,
    /// Every party's pinned identity.
    pub identities: &'a BTreeMap<PartyIndex, NodeIdentityPublic>,
    /// Setup material, for a scheme with [`Scheme::setup`].
    pub setup: Option<SetupFor>,
}

/// What a signing starts from.
pub struct SignInput<'a> {
    /// The run.
    pub session: SessionId,
    /// The stored share (secret).
    pub share: &'a [u8],
    /// The signers (this node's index included).
    pub signers: &'a [PartyIndex],
    /// The message (or prehash, per [`Scheme::check_message`]).
    pub message: &'a [u8],
    /// The key's precomputation pool, if the scheme keeps one and it has items.
    pub pool: Option<&'a mut Precomputed>,
}

/// What a refresh starts from.
pub struct RefreshInput<'a> {
    /// The run.
    pub session: SessionId,
    /// The stored share (secret).
    pub share: &'a [u8],
    /// Every holder's pinned identity.
    pub identities: &'a BTreeMap<PartyIndex, NodeIdentityPublic>,
    /// Fresh own setup material for a scheme whose refresh re-keys it
    /// ([`NodeSetup::refresh_pool`] > 0).
    pub fresh_setup: Option<Material>,
}

/// Progress of a slow setup generation, for the log.
#[derive(Clone, Copy, Debug)]
pub struct SetupProgress {
    /// Steps done (e.g. primes found).
    pub done: usize,
    /// Steps needed.
    pub needed: usize,
}

/// A scheme's node setup material: a node's own long-lived secret, and what it keeps,
/// per peer node, after verifying that peer in a setup exchange over the relay.
///
/// The node stores both in its vault (under the scheme's lower-case algorithm name),
/// generates its own in the background or on demand, renews it on request, and keeps
/// a pool of fresh own material for refreshes that re-key it.
pub trait NodeSetup: Send + Sync {
    /// Whether the node has its own material (else only per-peer material).
    fn has_own(&self) -> bool {
        true
    }
    /// Generate own material (slow: run on a blocking thread), reporting progress.
    fn generate(
        &self,
        rng: &mut ChaCha20Rng,
        progress: &mut dyn FnMut(SetupProgress),
    ) -> Result<Material, KmsError>;
    /// Own material as vault bytes (secret).
    fn encode_own(&self, own: &Material) -> Result<Zeroizing<Vec<u8>>, KmsError>;
    /// Own material from vault bytes.
    fn decode_own(&self, bytes: &[u8]) -> Result<Material, KmsError>;
    /// A digest of the public half of own material, as peers will hold it.
    fn own_digest(&self, own: &Material) -> Result<[u8; 32], KmsError>;
    /// Start a setup exchange among `identities` (every party's identity; the proofs
    /// are bound to the nodes, not to party indices). The output is
    /// [`RunOutput::Setup`] with every other party's verified material.
    fn start_exchange(
        &self,
        session: SessionId,
        me: PartyIndex,
        identities: &BTreeMap<PartyIndex, NodeIdentityPublic>,
        own: Option<&Material>,
        rng: &mut ChaCha20Rng,
    ) -> Result<Started, KmsError>;
    /// A peer's verified material as vault bytes.
    fn encode_peer(&self, peer: &Material) -> Result<Zeroizing<Vec<u8>>, KmsError>;
    /// A peer's material from bytes this node stored after verifying them.
    fn decode_peer(&self, bytes: &[u8]) -> Result<Material, KmsError>;
    /// A digest of a peer's material as held: equal to that peer's
    /// [`NodeSetup::own_digest`] (or, for pairwise material, to the peer's digest of
    /// its side of the pair) when both hold the same material.
    fn peer_digest(&self, peer: &Material) -> Result<[u8; 32], KmsError>;
    /// How many sets of fresh own material to keep ready for key refreshes (0: a
    /// refresh does not re-key the setup material).
    fn refresh_pool(&self) -> usize {
        0
    }
}

/// What a scheme signs: the message itself (EdDSA, BLS, Schnorr) or a 32-byte digest
/// the caller made of it (ECDSA). A client's typed sign input is checked against it
/// before any protocol run starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum InputKind {
    /// The message, any length.
    Message,
    /// A 32-byte prehash.
    Prehash,
}

impl InputKind {
    /// How it reads in an error message.
    pub fn describe(self) -> &'static str {
        match self {
            InputKind::Message => "a message",
            InputKind::Prehash => "a 32-byte prehash",
        }
    }
}

/// One algorithm: its key share, DKG, signing, refresh, optional setup material,
/// encodings and verification.
pub trait Scheme: Send + Sync + 'static {
    /// The algorithm it implements.
    fn algorithm(&self) -> Algorithm;
    /// Its curve.
    fn curve(&self) -> Curve;
    /// Its signature family.
    fn key_type(&self) -> KeyType;
    /// Whether the algorithm is implemented (a placeholder for an algorithm the domain
    /// names but this build lacks answers `false`, and a real scheme may replace it).
    fn implemented(&self) -> bool {
        true
    }
    /// Check what a caller asks to sign (a 32-byte prehash for ECDSA).
    fn check_message(&self, _message: &[u8]) -> Result<(), KmsError> {
        Ok(())
    }
    /// Whether it signs messages or 32-byte prehashes (default: messages).
    fn input_kind(&self) -> InputKind {
        InputKind::Message
    }
    /// Its node setup material, if it has any.
    fn setup(&self) -> Option<&dyn NodeSetup> {
        None
    }
    /// Whether a step of its runs may take long (seconds of proof verification): the
    /// node runs those steps off the async workers.
    fn heavy_steps(&self) -> bool {
        false
    }
    /// Start a DKG.
    fn start_dkg(&self, input: DkgInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError>;
    /// Start a signing with a stored share.
    fn start_sign(&self, input: SignInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError>;
    /// Start a refresh of a stored share.
    fn start_refresh(&self, input: RefreshInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError>;
    /// Verify a finished signature with the scheme's standard verifier.
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool;
    /// Top up, in the background, the key's precomputed signing randomness in `pools`
    /// (called after the key is stored and after each signing). Default: none kept.
    fn refill_pool(
        &self,
        _node: &NodeId,
        _key: &KeyId,
        _share: Zeroizing<Vec<u8>>,
        _pools: &PoolMap,
        _rng: ChaCha20Rng,
    ) {
    }
}

// The built-in algorithms, named here beside their schemes. The constants keep the
// names the variants of the former enum had, so callers read `Algorithm::Eddsa` and
// may match on it.
#[allow(non_upper_case_globals)]
impl Algorithm {
    /// GG18 threshold ECDSA (the default).
    pub const Gg18: Algorithm = Algorithm::named("GG18");
    /// DMZ21 threshold ECDSA from class groups.
    pub const Dmz21: Algorithm = Algorithm::named("DMZ21");
    /// DKLS23 threshold ECDSA from oblivious transfer.
    pub const Dkls23: Algorithm = Algorithm::named("DKLS23");
    /// FROST threshold Ed25519.
    pub const Eddsa: Algorithm = Algorithm::named("EDDSA");
    /// Threshold BLS12-381.
    pub const Bls: Algorithm = Algorithm::named("BLS");
}

/// The default algorithm of a key spec.
impl Default for Algorithm {
    fn default() -> Self {
        Algorithm::Gg18
    }
}

fn registry() -> &'static RwLock<Vec<Arc<dyn Scheme>>> {
    static REGISTRY: OnceLock<RwLock<Vec<Arc<dyn Scheme>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(builtin()))
}

/// The schemes this build has: one line each.
fn builtin() -> Vec<Arc<dyn Scheme>> {
    vec![
        Arc::new(gg18::Gg18),
        Arc::new(eddsa::Eddsa),
        Arc::new(bls::Bls),
        Arc::new(dmz21::Dmz21),
        Arc::new(dkls23::Dkls23),
    ]
}

/// Add a scheme to the process's registry (e.g. a host's own algorithm). Refused if
/// its algorithm already has an implemented scheme; a built-in placeholder (an
/// algorithm named but not yet implemented) is replaced.
pub fn register(scheme: Arc<dyn Scheme>) -> Result<(), KmsError> {
    let mut all = registry().write().unwrap_or_else(|e| e.into_inner());
    let name = scheme.algorithm();
    if let Some(i) = all.iter().position(|s| s.algorithm() == name) {
        if all[i].implemented() {
            return Err(KmsError::InvalidConfiguration(format!(
                "algorithm {name} already has a scheme"
            )));
        }
        all.remove(i);
    }
    all.push(scheme);
    Ok(())
}

/// The scheme of `algorithm`, or `Unsupported`.
pub fn scheme(algorithm: Algorithm) -> Result<Arc<dyn Scheme>, KmsError> {
    registry()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|s| s.algorithm() == algorithm)
        .cloned()
        .ok_or_else(|| KmsError::Unsupported(algorithm.as_str().to_string()))
}

/// The algorithms known to this process (implemented or not).
pub fn algorithms() -> Vec<Algorithm> {
    registry()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|s| s.algorithm())
        .collect()
}

/// The algorithms whose scheme has node setup material.
pub fn with_setup() -> Vec<Arc<dyn Scheme>> {
    registry()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|s| s.setup().is_some())
        .cloned()
        .collect()
}

/// Verify a finished signature with the scheme's standard verifier (`false` for an
/// algorithm this process does not know).
pub fn verify_signature(algorithm: Algorithm, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    scheme(algorithm).is_ok_and(|s| s.verify(public_key, message, signature))
}

/// Signatures of fixed length leave the node as their bytes.
impl<const N: usize> IntoRunOutput for [u8; N] {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Signature(self.to_vec())
    }
}

#[cfg(test)]
mod input_kind_tests {
    use super::*;

    /// What a scheme says it signs agrees with what it accepts: a prehash scheme takes
    /// exactly 32 bytes, a message scheme any length.
    #[test]
    fn input_kind_matches_check_message() {
        for algorithm in algorithms() {
            let s = scheme(algorithm).unwrap();
            let (short, hash, long) = (vec![1u8; 31], vec![1u8; 32], vec![1u8; 100]);
            assert!(s.check_message(&hash).is_ok(), "{algorithm}");
            match s.input_kind() {
                InputKind::Prehash => {
                    assert!(s.check_message(&short).is_err(), "{algorithm}");
                    assert!(s.check_message(&long).is_err(), "{algorithm}");
                }
                _ => {
                    assert!(s.check_message(&short).is_ok(), "{algorithm}");
                    assert!(s.check_message(&long).is_ok(), "{algorithm}");
                }
            }
        }
        assert_eq!(scheme(Algorithm::Gg18).unwrap().input_kind(), InputKind::Prehash);
        assert_eq!(
            scheme(Algorithm::Dkls23).unwrap().input_kind(),
            InputKind::Prehash
        );
        assert_eq!(scheme(Algorithm::Dmz21).unwrap().input_kind(), InputKind::Prehash);
        assert_eq!(scheme(Algorithm::Eddsa).unwrap().input_kind(), InputKind::Message);
        assert_eq!(scheme(Algorithm::Bls).unwrap().input_kind(), InputKind::Message);
    }
}
