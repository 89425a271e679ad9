//! A node's GG18 material: its aux secret (generated once, kept in the vault), the
//! peers' aux material it verified (kept per peer node, relabelled per key), and the
//! pools of precomputed signing randomness.

use super::{lock, TssNode};
use crate::domain::{KeyId, NodeId};
use crate::error::KmsError;
use crate::ports::SecretVault;
use crate::seal::SessionParties;
use kms_protocols::gg18::aux_info::{AuxSecret, PeerAux};
use kms_protocols::gg18::mta_backend::MtaBackend;
use kms_protocols::gg18::{Gg18KeyShare, Gg18Precomputed, PaillierMta};
use kms_protocols::PartyIndex;
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::{info, warn};
use zeroize::Zeroizing;

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
        let mut rng = self.fork_rng();
        let node = self.id.clone();
        let aux = tokio::task::spawn_blocking(move || {
            info!(node = %node, "generating GG18 auxiliary material (Paillier and ring-Pedersen primes)");
            let mut found = 0;
            let mut progress = |p: kms_protocols::gg18::primes::Progress| {
                if p.found != found {
                    found = p.found;
                    info!(node = %node, found = p.found, needed = p.needed, "prime found");
                }
            };
            AuxSecret::generate(&mut rng, &mut progress)
        })
        .await
        .map_err(|e| KmsError::InvalidRequest(format!("aux generation failed: {e}")))?;
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
