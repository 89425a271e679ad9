//! A node's GG18 material: its aux secret (generated once, kept in the vault), the
//! peers' aux material it verified (kept per peer node, relabelled per key), and the
//! pools of precomputed signing randomness.

use super::{lock, TssNode};
use crate::domain::{KeyId, NodeId};
use crate::error::KmsError;
use crate::ports::SecretVault;
use crate::schemes::Gg18RefreshInputs;
use crate::seal::SessionParties;
use kms_protocols::gg18::aux_info::{AuxSecret, PeerAux};
use kms_protocols::gg18::mta_backend::MtaBackend;
use kms_protocols::gg18::{Gg18KeyShare, Gg18Precomputed, PaillierMta};
use kms_protocols::PartyIndex;
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tracing::{info, warn};
use zeroize::Zeroizing;

/// How many sets of fresh aux material a node keeps ready for key refreshes (each
/// refresh of a GG18 key re-keys every holder's Paillier key and ring-Pedersen
/// parameters, and safe primes take seconds to minutes).
pub const GG18_AUX_POOL_TARGET: usize = 2;

/// Vault name of aux pool slot `slot` (slots `0..GG18_AUX_POOL_TARGET`).
fn aux_pool_slot(slot: usize) -> String {
    format!("gg18/aux-pool/{slot}")
}

/// Slots of entries given in memory only (fixtures), above every vault slot.
const MEMORY_SLOTS: usize = 1 << 16;

/// Fresh GG18 aux material, ready for key refreshes: in the node's encrypted vault
/// (one slot per entry, so a restart keeps what was generated), mirrored in memory.
/// An entry is removed from the vault before it is handed out, so it serves at most one
/// refresh even across a crash.
pub(super) struct AuxPool {
    state: tokio::sync::Mutex<PoolState>,
    /// A background fill is running.
    filling: AtomicBool,
    /// Refill automatically after start and after each use (off for fixture material
    /// in tests: generation would take the CPU).
    background: AtomicBool,
}

#[derive(Default)]
struct PoolState {
    vault_loaded: bool,
    entries: BTreeMap<usize, AuxSecret>,
}

impl Default for AuxPool {
    fn default() -> Self {
        Self {
            state: tokio::sync::Mutex::new(PoolState::default()),
            filling: AtomicBool::new(false),
            background: AtomicBool::new(true),
        }
    }
}

impl PoolState {
    /// The entries, with the vault's slots read in on first use.
    async fn load(
        &mut self,
        vault: Option<&Arc<dyn SecretVault>>,
    ) -> Result<&mut BTreeMap<usize, AuxSecret>, KmsError> {
        if !self.vault_loaded {
            if let Some(vault) = vault {
                for slot in 0..GG18_AUX_POOL_TARGET {
                    if let Some(bytes) = vault.get_secret(&aux_pool_slot(slot)).await? {
                        self.entries.insert(slot, AuxSecret::from_bytes(&bytes)?);
                    }
                }
            }
            self.vault_loaded = true;
        }
        Ok(&mut self.entries)
    }
}

/// Run `f` (a step of a GG18 run: proof verification takes up to seconds of CPU)
/// without stalling the async workers: on a multi-threaded Tokio runtime through
/// `block_in_place`, which hands this worker's other tasks to another thread first;
/// inline otherwise (a current-thread runtime has no other worker to hand them to).
pub(super) fn off_the_workers<T>(gg18: bool, f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if gg18 && h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Generate aux material (safe primes) on a blocking thread, with progress in the log.
async fn generate_aux(
    node: NodeId,
    purpose: &'static str,
    mut rng: ChaCha20Rng,
) -> Result<(AuxSecret, ChaCha20Rng), KmsError> {
    tokio::task::spawn_blocking(move || {
        info!(node = %node, purpose, "generating GG18 auxiliary material (Paillier and ring-Pedersen primes)");
        let mut found = 0;
        let mut progress = |p: kms_protocols::gg18::primes::Progress| {
            if p.found != found {
                found = p.found;
                info!(node = %node, purpose, found = p.found, needed = p.needed, "prime found");
            }
        };
        let aux = AuxSecret::generate(&mut rng, &mut progress);
        (aux, rng)
    })
    .await
    .map_err(|e| KmsError::InvalidRequest(format!("aux generation failed: {e}")))
}

/// Fill `pool` up to `want` entries, one generation at a time.
async fn fill_pool(
    pool: &AuxPool,
    vault: Option<Arc<dyn SecretVault>>,
    node: NodeId,
    mut rng: ChaCha20Rng,
    want: usize,
) -> Result<(), KmsError> {
    loop {
        if pool.state.lock().await.load(vault.as_ref()).await?.len() >= want {
            return Ok(());
        }
        let (aux, back) = generate_aux(node.clone(), "refresh pool", rng).await?;
        rng = back;
        let mut state = pool.state.lock().await;
        let entries = state.load(vault.as_ref()).await?;
        let slot = (0..GG18_AUX_POOL_TARGET).find(|s| !entries.contains_key(s));
        match (slot, &vault) {
            (Some(slot), Some(vault)) => {
                // In the vault before it counts as ready: a restart keeps it.
                vault.put_secret(&aux_pool_slot(slot), &aux.to_bytes()).await?;
                entries.insert(slot, aux);
            }
            (Some(slot), None) => {
                entries.insert(slot, aux);
            }
            (None, _) => {
                let slot = entries.keys().next_back().map_or(MEMORY_SLOTS, |s| s + 1);
                entries.insert(slot.max(MEMORY_SLOTS), aux);
            }
        }
        info!(node = %node, ready = entries.len(), want, "GG18 aux pool: fresh material ready");
    }
}

/// How many GG18 signings' worth of randomness a node keeps ready per key.
const GG18_POOL_TARGET: usize = 2;

/// Vault names of the node's GG18 material.
const AUX_SECRET: &str = "gg18/aux-secret";
pub(super) fn peer_aux_name(node: &NodeId) -> String {
    format!("gg18/peer-aux/{node}")
}

impl TssNode {
    /// Top up, in the background, the precomputed signing randomness of a GG18 key
    /// (Paillier nonces, MtA nonces and proof commitments) so that signing does only
    /// its message-dependent work. Items live in memory only and each is used by one
    /// signing: a crash loses them, it cannot make the node reuse one.
    pub(super) fn refill_gg18_pool(&self, key_id: KeyId, share: Zeroizing<Vec<u8>>) {
        let pools = self.gg18_pools.clone();
        let mut rng = self.fork_rng();
        let node = self.id.clone();
        tokio::task::spawn_blocking(move || {
            let Ok(share) = Gg18KeyShare::from_bytes(&share) else {
                return;
            };
            let peers: Vec<PartyIndex> = share
                .public_shares()
                .keys()
                .filter(|p| **p != share.index())
                .copied()
                .collect();
            loop {
                let have = lock(&pools).get(&key_id).map_or(0, |p| p.available(&peers));
                if have >= GG18_POOL_TARGET {
                    return;
                }
                let mut fresh = Gg18Precomputed::new(&share);
                if let Err(e) = fresh.fill(&share, &peers, 1, &mut rng) {
                    warn!(node = %node, key = %key_id, error = %e, "GG18 precomputation failed");
                    return;
                }
                let mut map = lock(&pools);
                let pool = map
                    .entry(key_id.clone())
                    .or_insert_with(|| Gg18Precomputed::new(&share));
                if pool.merge(fresh).is_err() {
                    // The key's aux material changed: start a pool for the new material.
                    *pool = Gg18Precomputed::new(&share);
                }
            }
        });
    }

    /// Give the node ready fresh aux material for GG18 key refreshes (e.g. test
    /// fixtures), kept in memory only, and turn off the background generation that
    /// would otherwise refill the pool after each use. An empty pool still generates on
    /// demand when a refresh needs material.
    pub fn with_gg18_refresh_aux(self, ready: Vec<AuxSecret>) -> Self {
        self.gg18_aux_pool.background.store(false, Ordering::SeqCst);
        if let Ok(mut state) = self.gg18_aux_pool.state.try_lock() {
            for aux in ready {
                let slot = state.entries.keys().next_back().map_or(MEMORY_SLOTS, |s| s + 1);
                state.entries.insert(slot.max(MEMORY_SLOTS), aux);
            }
        }
        self
    }

    /// Start filling the pool of fresh aux material for GG18 key refreshes in the
    /// background (up to [`GG18_AUX_POOL_TARGET`] entries, kept in the vault), with
    /// progress in the log. A node daemon calls this after start; the node also refills
    /// after each refresh that used an entry. Needs a Tokio runtime.
    pub fn start_gg18_aux_pool(&self) {
        if self.gg18_aux_pool.background.load(Ordering::SeqCst) {
            self.fill_gg18_aux_pool(GG18_AUX_POOL_TARGET);
        }
    }

    /// Fill the pool up to `want` in a background task, unless one is running.
    fn fill_gg18_aux_pool(&self, want: usize) {
        let pool = self.gg18_aux_pool.clone();
        if pool.filling.swap(true, Ordering::SeqCst) {
            return;
        }
        let vault = self.vault.clone();
        let node = self.id.clone();
        let rng = self.fork_rng();
        tokio::spawn(async move {
            let result = fill_pool(&pool, vault, node.clone(), rng, want).await;
            pool.filling.store(false, Ordering::SeqCst);
            if let Err(e) = result {
                warn!(node = %node, error = %e, "GG18 aux pool: generation failed");
            }
        });
    }

    /// Answer `PrepareRefreshAux`: how many entries are ready; if none, generation
    /// starts now (the coordinator polls until every holder has one).
    pub(super) async fn prepare_refresh_aux(&self) -> Result<usize, KmsError> {
        let ready = self
            .gg18_aux_pool
            .state
            .lock()
            .await
            .load(self.vault.as_ref())
            .await?
            .len();
        if self.gg18_aux_pool.background.load(Ordering::SeqCst) {
            self.fill_gg18_aux_pool(GG18_AUX_POOL_TARGET);
        } else if ready == 0 {
            self.fill_gg18_aux_pool(1);
        }
        Ok(ready)
    }

    /// Take one entry of fresh aux material for a refresh: from the pool (removed from
    /// the vault first, so it is never handed out twice), or generated now if the pool
    /// is empty. Then refill in the background.
    async fn take_refresh_aux(&self) -> Result<AuxSecret, KmsError> {
        let taken = {
            let mut state = self.gg18_aux_pool.state.lock().await;
            let entries = state.load(self.vault.as_ref()).await?;
            match entries.pop_first() {
                Some((slot, aux)) => {
                    if let (true, Some(vault)) = (slot < GG18_AUX_POOL_TARGET, &self.vault) {
                        vault.delete_secret(&aux_pool_slot(slot)).await?;
                    }
                    info!(node = %self.id, left = entries.len(), "GG18 aux pool: material taken for a refresh");
                    Some(aux)
                }
                None => None,
            }
        };
        let aux = match taken {
            Some(aux) => aux,
            None => {
                warn!(node = %self.id, "GG18 aux pool empty: the refresh waits for fresh material");
                generate_aux(self.id.clone(), "refresh", self.fork_rng()).await?.0
            }
        };
        self.start_gg18_aux_pool();
        Ok(aux)
    }

    /// What a GG18 refresh of a key among `parties` needs from this node: fresh aux
    /// material and every holder's identity context.
    pub(super) async fn gg18_refresh_inputs(
        &self,
        parties: &SessionParties,
    ) -> Result<Gg18RefreshInputs, KmsError> {
        let identities = parties
            .iter()
            .map(|(p, n)| Ok((*p, self.aux_context(n)?)))
            .collect::<Result<_, KmsError>>()?;
        let aux = self.take_refresh_aux().await?;
        Ok(Gg18RefreshInputs { aux, identities })
    }

    /// Keep the node's GG18 aux secret and the peer material it verified in `vault`, so
    /// they are generated and verified once, not at every start.
    pub fn with_vault(mut self, vault: Arc<dyn SecretVault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Give the node its GG18 auxiliary material (e.g. loaded from its store, or test
    /// fixtures) instead of generating it on first use.
    pub fn with_gg18_aux(self, aux: AuxSecret) -> Self {
        *lock(&self.gg18_aux) = Some(Arc::new(aux));
        self
    }

    /// The node's GG18 aux secret, generated on first use (safe primes: seconds of CPU,
    /// off the async workers, with progress in the log).
    /// Generate fresh GG18 aux material (safe primes, off the async workers), store it
    /// in the vault before anyone can see its public half, and make it current.
    pub(super) async fn generate_gg18_aux(&self) -> Result<Arc<AuxSecret>, KmsError> {
        let (aux, _) = generate_aux(self.id.clone(), "node", self.fork_rng()).await?;
        if let Some(vault) = &self.vault {
            vault.put_secret(AUX_SECRET, &aux.to_bytes()).await?;
        }
        let aux = Arc::new(aux);
        *lock(&self.gg18_aux) = Some(aux.clone());
        Ok(aux)
    }

    pub(super) async fn gg18_aux(&self) -> Result<Arc<AuxSecret>, KmsError> {
        if let Some(aux) = lock(&self.gg18_aux).clone() {
            return Ok(aux);
        }
        if let Some(vault) = &self.vault {
            if let Some(bytes) = vault.get_secret(AUX_SECRET).await? {
                let aux = Arc::new(AuxSecret::from_bytes(&bytes)?);
                return Ok(lock(&self.gg18_aux).get_or_insert(aux).clone());
            }
        }
        self.generate_gg18_aux().await
    }

    /// The context that binds a node's GG18 aux proofs to its pinned identity.
    pub(super) fn aux_context(&self, node: &NodeId) -> Result<Vec<u8>, KmsError> {
        let id = self
            .directory
            .get(node)
            .ok_or_else(|| KmsError::InvalidRequest(format!("node {node} has no pinned identity")))?;
        Ok(kms_protocols::message::encode(&(
            b"kms-gg18-aux-context/v1",
            &id.node,
            id.verifying_key,
        )))
    }

    /// The verified aux material of every other party of a GG18 key, relabelled with
    /// the party index each peer has in this key.
    pub(super) async fn gg18_peers(
        &self,
        parties: &SessionParties,
        me: PartyIndex,
    ) -> Result<BTreeMap<PartyIndex, PeerAux>, KmsError> {
        let mut out = BTreeMap::new();
        for (p, node) in parties.iter().filter(|(p, _)| **p != me) {
            let aux = self.peer_aux_of(node).await?.ok_or_else(|| {
                KmsError::InvalidRequest(format!(
                    "no verified GG18 aux material of {node}: run an aux exchange"
                ))
            })?;
            out.insert(*p, aux.with_party(*p));
        }
        Ok(out)
    }

    /// A peer's verified aux material: from memory, else from the vault (bytes this node
    /// stored itself after verifying them).
    pub(super) async fn peer_aux_of(&self, node: &NodeId) -> Result<Option<PeerAux>, KmsError> {
        if let Some(aux) = lock(&self.peer_aux).get(node).cloned() {
            return Ok(Some(aux));
        }
        let Some(vault) = &self.vault else { return Ok(None) };
        let Some(bytes) = vault.get_secret(&peer_aux_name(node)).await? else {
            return Ok(None);
        };
        let aux = PeerAux::from_trusted_bytes(&bytes)?;
        lock(&self.peer_aux).insert(node.clone(), aux.clone());
        Ok(Some(aux))
    }

    /// Digests of this node's own aux material (without generating it) and of every
    /// peer's material it holds (memory or vault).
    pub(super) async fn aux_digests(&self) -> Result<(Option<[u8; 32]>, Vec<(NodeId, [u8; 32])>), KmsError> {
        let current = lock(&self.gg18_aux).clone();
        let own = match current {
            Some(aux) => Some(PaillierMta::own_digest(&aux)),
            None => match &self.vault {
                Some(vault) => match vault.get_secret(AUX_SECRET).await? {
                    Some(bytes) => Some(PaillierMta::own_digest(&AuxSecret::from_bytes(&bytes)?)),
                    None => None,
                },
                None => None,
            },
        };
        let mut peers = Vec::new();
        for node in self.directory.nodes().filter(|n| **n != self.id) {
            if let Some(aux) = self.peer_aux_of(node).await? {
                peers.push((node.clone(), PaillierMta::public_digest(&aux)));
            }
        }
        Ok((own, peers))
    }
}
