//! A node's setup material, for every scheme that has some ([`NodeSetup`]): its own
//! (generated once, in the background at start or on first use, with progress in the
//! log, kept in the vault), the peers' material it verified in a setup exchange (kept
//! per peer node), and a pool of fresh own material for key refreshes that re-key it
//! (kept in the vault, one slot per entry, so a restart keeps what was generated).
//!
//! Vault names are `{algorithm}/aux-secret`, `{algorithm}/peer-aux/{node}` and
//! `{algorithm}/aux-pool/{slot}`, with the algorithm's name in lower case.
//! ("aux" for auxiliary: vaults already hold the first scheme's material under these
//! names, so existing vaults keep working.)

use super::{lock, TssNode};
use crate::domain::{Algorithm, NodeId};
use crate::error::KmsError;
use crate::identity::NodeIdentityPublic;
use crate::ports::SecretVault;
use crate::schemes::{self, Material, NodeSetup, Scheme, SetupFor, SetupProgress};
use crate::seal::SessionParties;
use kms_protocols::PartyIndex;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// Slots of entries given in memory only (fixtures), above every vault slot.
const MEMORY_SLOTS: usize = 1 << 16;

fn prefix(algorithm: Algorithm) -> String {
    algorithm.as_str().to_ascii_lowercase()
}

fn own_name(algorithm: Algorithm) -> String {
    format!("{}/aux-secret", prefix(algorithm))
}

fn peer_name(algorithm: Algorithm, node: &NodeId) -> String {
    format!("{}/peer-aux/{node}", prefix(algorithm))
}

fn pool_slot(algorithm: Algorithm, slot: usize) -> String {
    format!("{}/aux-pool/{slot}", prefix(algorithm))
}

fn setup_of(scheme: &dyn Scheme) -> Result<&dyn NodeSetup, KmsError> {
    scheme
        .setup()
        .ok_or_else(|| KmsError::InvalidRequest(format!("{} has no node setup material", scheme.algorithm())))
}

/// The node's setup material of every scheme, in memory (the vault holds the rest).
#[derive(Default)]
pub(super) struct SetupState {
    own: Arc<OwnMaterial>,
    peers: Mutex<HashMap<(Algorithm, NodeId), Material>>,
    pools: Mutex<HashMap<Algorithm, Arc<RefreshPool>>>,
}

/// The node's own material of every scheme, with a lock that serialises generating
/// and storing it (so memory and vault never hold different material).
#[derive(Default)]
struct OwnMaterial {
    current: Mutex<HashMap<Algorithm, Material>>,
    generation: tokio::sync::Mutex<()>,
}

impl OwnMaterial {
    fn get(&self, algorithm: Algorithm) -> Option<Material> {
        lock(&self.current).get(&algorithm).cloned()
    }

    /// Own material without generating it: memory, else vault.
    async fn load(
        &self,
        scheme: &dyn Scheme,
        vault: Option<&Arc<dyn SecretVault>>,
    ) -> Result<Option<Material>, KmsError> {
        let algorithm = scheme.algorithm();
        if let Some(m) = self.get(algorithm) {
            return Ok(Some(m));
        }
        let Some(vault) = vault else { return Ok(None) };
        let Some(bytes) = vault.get_secret(&own_name(algorithm)).await? else {
            return Ok(None);
        };
        let material = setup_of(scheme)?.decode_own(&bytes)?;
        Ok(Some(
            lock(&self.current).entry(algorithm).or_insert(material).clone(),
        ))
    }

    /// Generate fresh material, store it in the vault before anyone can see its public
    /// half, and make it current. With `keep`, material already there is kept.
    async fn generate(
        &self,
        scheme: Arc<dyn Scheme>,
        vault: Option<&Arc<dyn SecretVault>>,
        node: NodeId,
        rng: ChaCha20Rng,
        keep: bool,
    ) -> Result<Material, KmsError> {
        let _one_at_a_time = self.generation.lock().await;
        if keep {
            if let Some(m) = self.load(scheme.as_ref(), vault).await? {
                return Ok(m);
            }
        }
        let algorithm = scheme.algorithm();
        let material = generate(scheme.clone(), node, "node", rng).await?;
        if let Some(vault) = vault {
            let bytes = setup_of(scheme.as_ref())?.encode_own(&material)?;
            vault.put_secret(&own_name(algorithm), &bytes).await?;
        }
        lock(&self.current).insert(algorithm, material.clone());
        Ok(material)
    }
}

/// Fresh own material of one scheme, ready for key refreshes: in the vault, mirrored
/// in memory. An entry is removed from the vault before it is handed out, so it serves
/// at most one refresh even across a crash.
struct RefreshPool {
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
    entries: BTreeMap<usize, Material>,
}

impl Default for RefreshPool {
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
        scheme: &dyn Scheme,
        vault: Option<&Arc<dyn SecretVault>>,
    ) -> Result<&mut BTreeMap<usize, Material>, KmsError> {
        if !self.vault_loaded {
            if let Some(vault) = vault {
                let setup = setup_of(scheme)?;
                for slot in 0..setup.refresh_pool() {
                    if let Some(bytes) = vault.get_secret(&pool_slot(scheme.algorithm(), slot)).await? {
                        self.entries.insert(slot, setup.decode_own(&bytes)?);
                    }
                }
            }
            self.vault_loaded = true;
        }
        Ok(&mut self.entries)
    }
}

/// Generate own material on a blocking thread, with progress in the log.
async fn generate(
    scheme: Arc<dyn Scheme>,
    node: NodeId,
    purpose: &'static str,
    mut rng: ChaCha20Rng,
) -> Result<Material, KmsError> {
    tokio::task::spawn_blocking(move || {
        let algorithm = scheme.algorithm();
        info!(node = %node, %algorithm, purpose, "generating node setup material");
        let mut done = 0;
        let mut progress = |p: SetupProgress| {
            if p.done != done {
                done = p.done;
                info!(node = %node, %algorithm, purpose, done = p.done, needed = p.needed, "setup generation progress");
            }
        };
        let material = setup_of(scheme.as_ref())?.generate(&mut rng, &mut progress);
        info!(node = %node, %algorithm, purpose, "node setup material ready");
        material
    })
    .await
    .map_err(|e| KmsError::InvalidRequest(format!("setup generation failed: {e}")))?
}

/// Fill `pool` up to `want` entries, one generation at a time.
async fn fill_pool(
    scheme: Arc<dyn Scheme>,
    pool: &RefreshPool,
    vault: Option<Arc<dyn SecretVault>>,
    node: NodeId,
    mut rng: ChaCha20Rng,
    want: usize,
) -> Result<(), KmsError> {
    let algorithm = scheme.algorithm();
    let slots = setup_of(scheme.as_ref())?.refresh_pool();
    loop {
        if pool
            .state
            .lock()
            .await
            .load(scheme.as_ref(), vault.as_ref())
            .await?
            .len()
            >= want
        {
            return Ok(());
        }
        let next = super::fork(&mut rng);
        let material = generate(scheme.clone(), node.clone(), "refresh pool", next).await?;
        let mut state = pool.state.lock().await;
        let entries = state.load(scheme.as_ref(), vault.as_ref()).await?;
        let slot = (0..slots).find(|s| !entries.contains_key(s));
        match (slot, &vault) {
            (Some(slot), Some(vault)) => {
                // In the vault before it counts as ready: a restart keeps it.
                let bytes = setup_of(scheme.as_ref())?.encode_own(&material)?;
                vault.put_secret(&pool_slot(algorithm, slot), &bytes).await?;
                entries.insert(slot, material);
            }
            (Some(slot), None) => {
                entries.insert(slot, material);
            }
            (None, _) => {
                let slot = entries.keys().next_back().map_or(MEMORY_SLOTS, |s| s + 1);
                entries.insert(slot.max(MEMORY_SLOTS), material);
            }
        }
        info!(node = %node, %algorithm, ready = entries.len(), want, "refresh pool: fresh setup material ready");
    }
}

impl TssNode {
    fn refresh_pool(&self, algorithm: Algorithm) -> Arc<RefreshPool> {
        lock(&self.setup.pools).entry(algorithm).or_default().clone()
    }

    /// Give the node its own setup material of `algorithm` (e.g. loaded by the host,
    /// or test fixtures) instead of generating it on first use.
    pub fn with_setup(self, algorithm: Algorithm, own: Material) -> Self {
        lock(&self.setup.own.current).insert(algorithm, own);
        self
    }

    /// Give the node ready fresh setup material of `algorithm` for key refreshes
    /// (e.g. test fixtures), kept in memory only, and turn off the background
    /// generation that would otherwise refill the pool after each use. An empty pool
    /// still generates on demand when a refresh needs material.
    pub fn with_refresh_setup(self, algorithm: Algorithm, ready: Vec<Material>) -> Self {
        let pool = self.refresh_pool(algorithm);
        pool.background.store(false, Ordering::SeqCst);
        if let Ok(mut state) = pool.state.try_lock() {
            for material in ready {
                let slot = state.entries.keys().next_back().map_or(MEMORY_SLOTS, |s| s + 1);
                state.entries.insert(slot.max(MEMORY_SLOTS), material);
            }
        }
        self
    }

    /// Start, in the background, what every scheme's setup needs before its first key:
    /// the node's own material (loaded from the vault or generated) and the pool of
    /// fresh material for key refreshes, with progress in the log. A node daemon calls
    /// this after start; without it, material is generated on first use. Needs a
    /// Tokio runtime.
    pub fn start_setup(&self) {
        for scheme in schemes::with_setup() {
            let algorithm = scheme.algorithm();
            let pool = self.refresh_pool(algorithm);
            if !pool.background.load(Ordering::SeqCst) {
                continue;
            }
            let has_own = scheme.setup().is_some_and(|s| s.has_own());
            if has_own && self.setup.own.get(algorithm).is_none() {
                let (own, vault, node, rng) = (
                    self.setup.own.clone(),
                    self.vault.clone(),
                    self.id.clone(),
                    self.fork_rng(),
                );
                let scheme = scheme.clone();
                tokio::spawn(async move {
                    if let Err(e) = own
                        .generate(scheme, vault.as_ref(), node.clone(), rng, true)
                        .await
                    {
                        warn!(node = %node, %algorithm, error = %e, "setup material generation failed");
                    }
                });
            }
            self.fill_refresh_pool(scheme, None);
        }
    }

    /// Fill the refresh pool of `scheme` up to `want` (default: its target) in a
    /// background task, unless one is running.
    fn fill_refresh_pool(&self, scheme: Arc<dyn Scheme>, want: Option<usize>) {
        let Some(target) = scheme.setup().map(|s| s.refresh_pool()).filter(|n| *n > 0) else {
            return;
        };
        let want = want.unwrap_or(target);
        let algorithm = scheme.algorithm();
        let pool = self.refresh_pool(algorithm);
        if pool.filling.swap(true, Ordering::SeqCst) {
            return;
        }
        let vault = self.vault.clone();
        let node = self.id.clone();
        let rng = self.fork_rng();
        tokio::spawn(async move {
            let result = fill_pool(scheme, &pool, vault, node.clone(), rng, want).await;
            pool.filling.store(false, Ordering::SeqCst);
            if let Err(e) = result {
                warn!(node = %node, %algorithm, error = %e, "refresh pool: generation failed");
            }
        });
    }

    /// Answer `PrepareRefreshSetup`: how many entries are ready; if none, generation
    /// starts now (the coordinator polls until every holder has one).
    pub(super) async fn prepare_refresh_setup(&self, algorithm: Algorithm) -> Result<usize, KmsError> {
        let scheme = schemes::scheme(algorithm)?;
        setup_of(scheme.as_ref())?;
        let pool = self.refresh_pool(algorithm);
        let ready = pool
            .state
            .lock()
            .await
            .load(scheme.as_ref(), self.vault.as_ref())
            .await?
            .len();
        if pool.background.load(Ordering::SeqCst) {
            self.fill_refresh_pool(scheme, None);
        } else if ready == 0 {
            self.fill_refresh_pool(scheme, Some(1));
        }
        Ok(ready)
    }

    /// Take one entry of fresh own material for a refresh: from the pool (removed from
    /// the vault first, so it is never handed out twice), or generated now if the pool
    /// is empty. Then refill in the background.
    pub(super) async fn take_refresh_setup(&self, scheme: &Arc<dyn Scheme>) -> Result<Material, KmsError> {
        let algorithm = scheme.algorithm();
        let slots = setup_of(scheme.as_ref())?.refresh_pool();
        let pool = self.refresh_pool(algorithm);
        let taken = {
            let mut state = pool.state.lock().await;
            let entries = state.load(scheme.as_ref(), self.vault.as_ref()).await?;
            match entries.pop_first() {
                Some((slot, material)) => {
                    if let (true, Some(vault)) = (slot < slots, &self.vault) {
                        vault.delete_secret(&pool_slot(algorithm, slot)).await?;
                    }
                    info!(node = %self.id, %algorithm, left = entries.len(), "refresh pool: setup material taken for a refresh");
                    Some(material)
                }
                None => None,
            }
        };
        let material = match taken {
            Some(m) => m,
            None => {
                warn!(node = %self.id, %algorithm, "refresh pool empty: the refresh waits for fresh setup material");
                generate(scheme.clone(), self.id.clone(), "refresh", self.fork_rng()).await?
            }
        };
        if pool.background.load(Ordering::SeqCst) {
            self.fill_refresh_pool(scheme.clone(), None);
        }
        Ok(material)
    }

    /// Replace the node's own material of `algorithm` with fresh material, stored in
    /// the vault before anyone can see its public half.
    pub(super) async fn renew_setup(&self, algorithm: Algorithm) -> Result<(), KmsError> {
        let scheme = schemes::scheme(algorithm)?;
        setup_of(scheme.as_ref())?;
        self.setup
            .own
            .generate(
                scheme,
                self.vault.as_ref(),
                self.id.clone(),
                self.fork_rng(),
                false,
            )
            .await?;
        Ok(())
    }

    /// The node's own material of `scheme`: in memory, else from the vault, else
    /// generated now (off the async workers, with progress in the log).
    pub(super) async fn own_setup(&self, scheme: &Arc<dyn Scheme>) -> Result<Option<Material>, KmsError> {
        if !setup_of(scheme.as_ref())?.has_own() {
            return Ok(None);
        }
        if let Some(m) = self.setup.own.load(scheme.as_ref(), self.vault.as_ref()).await? {
            return Ok(Some(m));
        }
        let m = self
            .setup
            .own
            .generate(
                scheme.clone(),
                self.vault.as_ref(),
                self.id.clone(),
                self.fork_rng(),
                true,
            )
            .await?;
        Ok(Some(m))
    }

    /// A peer's verified material: from memory, else from the vault (bytes this node
    /// stored itself after verifying them).
    async fn peer_setup(&self, scheme: &dyn Scheme, node: &NodeId) -> Result<Option<Material>, KmsError> {
        let key = (scheme.algorithm(), node.clone());
        if let Some(m) = lock(&self.setup.peers).get(&key).cloned() {
            return Ok(Some(m));
        }
        let Some(vault) = &self.vault else { return Ok(None) };
        let Some(bytes) = vault.get_secret(&peer_name(key.0, node)).await? else {
            return Ok(None);
        };
        let material = setup_of(scheme)?.decode_peer(&bytes)?;
        lock(&self.setup.peers).insert(key, material.clone());
        Ok(Some(material))
    }

    /// Keep what a setup exchange verified, per peer node (vault first).
    pub(super) async fn keep_peer_setup(
        &self,
        algorithm: Algorithm,
        node: &NodeId,
        material: Material,
    ) -> Result<(), KmsError> {
        let scheme = schemes::scheme(algorithm)?;
        if let Some(vault) = &self.vault {
            let bytes = setup_of(scheme.as_ref())?.encode_peer(&material)?;
            vault.put_secret(&peer_name(algorithm, node), &bytes).await?;
        }
        lock(&self.setup.peers).insert((algorithm, node.clone()), material);
        Ok(())
    }

    /// Drop a peer's material (it renewed its own).
    pub(super) async fn forget_peer_setup(
        &self,
        algorithm: Algorithm,
        node: &NodeId,
    ) -> Result<(), KmsError> {
        lock(&self.setup.peers).remove(&(algorithm, node.clone()));
        if let Some(vault) = &self.vault {
            vault.delete_secret(&peer_name(algorithm, node)).await?;
        }
        Ok(())
    }

    /// What a key's DKG among `parties` needs: this node's own material and every
    /// other party's verified material, by party index.
    pub(super) async fn setup_for(
        &self,
        scheme: &Arc<dyn Scheme>,
        parties: &SessionParties,
        me: PartyIndex,
    ) -> Result<SetupFor, KmsError> {
        let own = self.own_setup(scheme).await?;
        let mut peers = BTreeMap::new();
        for (p, node) in parties.iter().filter(|(p, _)| **p != me) {
            let material = self.peer_setup(scheme.as_ref(), node).await?.ok_or_else(|| {
                KmsError::InvalidRequest(format!(
                    "no verified {} setup material of {node}: run a setup exchange",
                    scheme.algorithm()
                ))
            })?;
            peers.insert(*p, material);
        }
        Ok(SetupFor { own, peers })
    }

    /// Every party's pinned identity, by party index.
    pub(super) fn identities(
        &self,
        parties: &SessionParties,
    ) -> Result<BTreeMap<PartyIndex, NodeIdentityPublic>, KmsError> {
        parties
            .iter()
            .map(|(p, n)| {
                let id = self
                    .directory
                    .get(n)
                    .ok_or_else(|| KmsError::InvalidRequest(format!("node {n} has no pinned identity")))?;
                Ok((*p, id.clone()))
            })
            .collect()
    }

    /// Answer `SetupStatus`: a fingerprint per peer whose material this node holds,
    /// binding the node's own material (without generating it) to the peer's as held.
    pub(super) async fn setup_status(
        &self,
        algorithm: Algorithm,
    ) -> Result<Vec<(NodeId, [u8; 32])>, KmsError> {
        let scheme = schemes::scheme(algorithm)?;
        let setup = setup_of(scheme.as_ref())?;
        let own = match self.setup.own.load(scheme.as_ref(), self.vault.as_ref()).await? {
            Some(m) => Some(setup.own_digest(&m)?),
            None if setup.has_own() => return Ok(Vec::new()),
            None => None,
        };
        let mut pairs = Vec::new();
        for node in self.directory.nodes().filter(|n| **n != self.id) {
            if let Some(m) = self.peer_setup(scheme.as_ref(), node).await? {
                pairs.push((node.clone(), pair_fingerprint(own, setup.peer_digest(&m)?)));
            }
        }
        Ok(pairs)
    }
}

/// A pair's fingerprint as one side sees it: its own digest and its peer's, in a
/// canonical order, so both sides compute the same value exactly when each holds the
/// other's current material.
fn pair_fingerprint(own: Option<[u8; 32]>, peer: [u8; 32]) -> [u8; 32] {
    let own = own.unwrap_or([0; 32]);
    let (lo, hi) = if own <= peer { (own, peer) } else { (peer, own) };
    let mut h = Sha256::new();
    h.update(b"kms-setup-pair/v1");
    h.update(lo);
    h.update(hi);
    h.finalize().into()
}
