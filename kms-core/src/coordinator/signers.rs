//! Choosing signers, and trying again when a signing fails.
//!
//! A signing that fails is held against whom the coordinator can show is at fault
//! ([`relay::Blame`]): a node proven to cheat, or that accused without evidence, is
//! excluded; two nodes in an unprovable dispute never sign together again; an abort
//! that names nobody (a final check that cannot name a party, a relay fault) rules out only that signer set.
//! The next set is drawn at random among the admissible ones that overlap least with
//! the sets that failed, so one anonymous saboteur cannot block a key while an honest
//! quorum is up: it is routed around within a few attempts. Every failed attempt is
//! audited.

use super::relay::{Blame, Failure};
use super::*;

/// At most this many signing sessions are run for one request.
const MAX_SIGN_ATTEMPTS: usize = 12;
/// Up to this many t-subsets of the healthy holders are enumerated; beyond, candidate
/// sets are sampled.
const MAX_ENUMERATED_SETS: u128 = 4096;
/// How many random sets are sampled when there are too many to enumerate.
const SAMPLED_SETS: usize = 256;

type SignerSet = BTreeSet<NodeId>;

fn binomial(n: usize, k: usize) -> u128 {
    (0..k).fold(1u128, |acc, i| {
        acc.saturating_mul((n - i) as u128) / (i as u128 + 1)
    })
}

/// Every k-subset of `items` (which has few enough of them).
fn subsets(items: &[NodeId], k: usize) -> Vec<SignerSet> {
    let mut out = Vec::new();
    let mut idx: Vec<usize> = (0..k).collect();
    if k == 0 || k > items.len() {
        return out;
    }
    loop {
        out.push(idx.iter().map(|&i| items[i].clone()).collect());
        // Advance to the next combination in lexicographic order.
        let mut i = k;
        while i > 0 && idx[i - 1] == items.len() - k + i - 1 {
            i -= 1;
        }
        if i == 0 {
            return out;
        }
        idx[i - 1] += 1;
        for j in i..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

fn in_dispute(set: &SignerSet, disputes: &BTreeSet<(NodeId, NodeId)>) -> bool {
    disputes.iter().any(|(a, b)| set.contains(a) && set.contains(b))
}

fn ordered(a: NodeId, b: NodeId) -> (NodeId, NodeId) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Coordinator {
    /// A random admissible set of `t` of the `healthy` holders: not tried before, with
    /// no two nodes in dispute, and overlapping least with the sets that failed.
    fn choose_signers(
        &self,
        healthy: &[NodeId],
        t: usize,
        disputes: &BTreeSet<(NodeId, NodeId)>,
        failed: &[SignerSet],
    ) -> Option<SignerSet> {
        let candidates: Vec<SignerSet> = if binomial(healthy.len(), t) <= MAX_ENUMERATED_SETS {
            subsets(healthy, t)
        } else {
            self.with_rng_do(|rng| {
                (0..SAMPLED_SETS)
                    .map(|_| {
                        let mut pool = healthy.to_vec();
                        for i in 0..t {
                            let j = i + (rng.next_u32() as usize) % (pool.len() - i);
                            pool.swap(i, j);
                        }
                        pool.truncate(t);
                        pool.into_iter().collect()
                    })
                    .collect()
            })
        };
        let overlap = |s: &SignerSet| -> usize { failed.iter().map(|f| s.intersection(f).count()).sum() };
        let admissible: Vec<(usize, SignerSet)> = candidates
            .into_iter()
            .filter(|s| !failed.contains(s) && !in_dispute(s, disputes))
            .map(|s| (overlap(&s), s))
            .collect();
        let best = admissible.iter().map(|(o, _)| *o).min()?;
        let mut best: Vec<SignerSet> = admissible
            .into_iter()
            .filter(|(o, _)| *o == best)
            .map(|(_, s)| s)
            .collect();
        let pick = self.with_rng_do(|rng| rng.next_u32() as usize) % best.len();
        Some(best.swap_remove(pick))
    }

    async fn audit_failed_attempt(
        &self,
        meta: &KeyMetadata,
        message: &[u8],
        attempt: usize,
        signers: &SignerSet,
        failure: &Failure,
    ) -> Result<(), KmsError> {
        let event = AuditEvent {
            event_type: AuditEventType::KeySign,
            user_id: "coordinator".into(),
            key_id: Some(meta.key_id.to_string()),
            operation: "sign_attempt".into(),
            result: AuditResult::Failure,
            created_time: self.clock.now_ms(),
            service_name: self.config.service_name.clone(),
            node_id: None,
            duration_ms: 0,
            data_hash: hex::encode(Sha256::digest(message)),
            audit_trail: format!("attempt {attempt} with {signers:?}: {}", failure.error),
        };
        self.audit.append(event).await?;
        Ok(())
    }

    /// Sign with `threshold` healthy holders, failing over as the module documentation
    /// describes.
    pub(super) async fn sign_with_failover(
        &self,
        meta: &KeyMetadata,
        message: &[u8],
        public_key: &[u8],
    ) -> Result<SignatureOutput, KmsError> {
        let key_id = &meta.key_id;
        let t = usize::from(meta.shards.threshold);
        let holder_nodes: Vec<NodeId> = meta.holders.iter().map(|h| h.node.clone()).collect();
        let mut excluded: BTreeSet<NodeId> = BTreeSet::new();
        let mut disputes: BTreeSet<(NodeId, NodeId)> = BTreeSet::new();
        let mut failed: Vec<SignerSet> = Vec::new();
        let mut last_error = None;
        for attempt in 1..=MAX_SIGN_ATTEMPTS {
            let candidates: Vec<NodeId> = holder_nodes
                .iter()
                .filter(|n| !excluded.contains(*n))
                .cloned()
                .collect();
            let healthy = self.healthy_among(&candidates).await;
            if healthy.len() < t {
                return Err(last_error.unwrap_or(KmsError::NotEnoughNodes {
                    needed: t,
                    available: healthy.len(),
                }));
            }
            let Some(chosen) = self.choose_signers(&healthy, t, &disputes, &failed) else {
                return Err(last_error.unwrap_or(KmsError::NotEnoughNodes {
                    needed: t,
                    available: 0,
                }));
            };
            let parties: Parties = meta
                .holders
                .iter()
                .filter(|h| chosen.contains(&h.node))
                .filter_map(|h| Some((PartyIndex::new(h.party)?, h.node.clone())))
                .collect();
            match self.sign_with(meta, &parties, message, public_key).await {
                Ok(sig) => return Ok(sig),
                // A refresh committed meanwhile: nobody failed; the caller starts again at
                // the key's new epoch.
                Err(failure) if matches!(failure.error, KmsError::EpochMismatch { .. }) => {
                    return Err(failure.error);
                }
                Err(failure) => {
                    warn!(key = %key_id, attempt, signers = ?chosen, error = %failure.error,
                        "signing attempt failed; trying another signer set");
                    self.audit_failed_attempt(meta, message, attempt, &chosen, &failure)
                        .await?;
                    match failure.blame {
                        Blame::Node(node) => {
                            excluded.insert(node);
                        }
                        Blame::Pair(a, b) => {
                            disputes.insert(ordered(a, b));
                        }
                        Blame::Nobody => {}
                    }
                    failed.push(chosen);
                    last_error = Some(failure.error);
                }
            }
        }
        Err(last_error.unwrap_or(KmsError::NotEnoughNodes {
            needed: t,
            available: 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<NodeId> {
        (1..=n).map(|i| NodeId::new(format!("tss{i}")).unwrap()).collect()
    }

    #[test]
    fn subsets_are_every_combination_once() {
        let items = ids(5);
        let all = subsets(&items, 3);
        assert_eq!(all.len() as u128, binomial(5, 3));
        let unique: BTreeSet<&SignerSet> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert!(all.iter().all(|s| s.len() == 3));
        assert_eq!(subsets(&items, 5).len(), 1);
        assert!(subsets(&items, 6).is_empty());
        assert_eq!(binomial(64, 32), 1_832_624_140_942_590_534);
    }
}
