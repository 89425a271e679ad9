//! GG18 threshold ECDSA on secp256k1, hardened. Its node setup material is the aux
//! material: each node's Paillier key and ring-Pedersen parameters (safe primes,
//! seconds to minutes to generate), exchanged with proofs (Πmod, Πprm, Πfac) bound to
//! the node's pinned identity, kept per peer node and relabelled per key. A key
//! refresh re-keys every holder's aux material, so the node keeps a pool of fresh
//! sets; signing draws precomputed randomness from a per-key pool.

use super::{
    started, DkgInput, IntoRunOutput, Material, NodeSetup, PoolMap, Precomputed, RefreshInput, RunOutput,
    Scheme, SetupProgress, SignInput, Started,
};
use crate::domain::{Algorithm, Curve, KeyId, KeyType, NodeId};
use crate::identity::NodeIdentityPublic;
use crate::KmsError;
use kms_protocols::gg18::aux_info::{AuxSecret, PeerAux};
use kms_protocols::gg18::mta_backend::MtaBackend;
use kms_protocols::gg18::{self, Gg18KeyShare, Gg18Precomputed, PaillierMta};
use kms_protocols::{PartyIndex, SessionId};
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::warn;
use zeroize::Zeroizing;

/// How many sets of fresh aux material a node keeps ready for key refreshes.
const REFRESH_POOL: usize = 2;

/// How many signings' worth of randomness a node keeps ready per key.
const SIGN_POOL_TARGET: usize = 2;

/// The GG18 scheme.
pub(super) struct Gg18;

/// The GG18 aux material as node setup material.
struct Gg18Setup;

impl IntoRunOutput for Gg18KeyShare {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Share {
            data: self.to_bytes(),
            public_key: self.public_key_bytes(),
            version: self.epoch(),
        }
    }
}

/// ECDSA leaves the node as r || s || v.
impl IntoRunOutput for gg18::EcdsaSignature {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Signature(self.to_rsv().to_vec())
    }
}

impl IntoRunOutput for BTreeMap<PartyIndex, PeerAux> {
    fn into_run_output(self) -> RunOutput {
        RunOutput::Setup(
            self.into_iter()
                .map(|(p, aux)| (p, Arc::new(aux) as Material))
                .collect(),
        )
    }
}

fn wrong_material() -> KmsError {
    KmsError::InvalidConfiguration("GG18 setup material of another scheme".into())
}

fn own(m: &Material) -> Result<&AuxSecret, KmsError> {
    m.downcast_ref::<AuxSecret>().ok_or_else(wrong_material)
}

fn peer(m: &Material) -> Result<&PeerAux, KmsError> {
    m.downcast_ref::<PeerAux>().ok_or_else(wrong_material)
}

/// The context that binds a node's aux proofs to its pinned identity.
fn context(id: &NodeIdentityPublic) -> Vec<u8> {
    kms_protocols::message::encode(&(b"kms-gg18-aux-context/v1", &id.node, id.verifying_key))
}

fn contexts(identities: &BTreeMap<PartyIndex, NodeIdentityPublic>) -> BTreeMap<PartyIndex, Vec<u8>> {
    identities.iter().map(|(p, id)| (*p, context(id))).collect()
}

impl NodeSetup for Gg18Setup {
    fn generate(
        &self,
        rng: &mut ChaCha20Rng,
        progress: &mut dyn FnMut(SetupProgress),
    ) -> Result<Material, KmsError> {
        let aux = AuxSecret::generate(rng, &mut |p: gg18::primes::Progress| {
            progress(SetupProgress {
                done: p.found,
                needed: p.needed,
            })
        });
        Ok(Arc::new(aux))
    }

    fn encode_own(&self, m: &Material) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        Ok(own(m)?.to_bytes())
    }

    fn decode_own(&self, bytes: &[u8]) -> Result<Material, KmsError> {
        Ok(Arc::new(AuxSecret::from_bytes(bytes)?))
    }

    fn own_digest(&self, m: &Material) -> Result<[u8; 32], KmsError> {
        Ok(PaillierMta::own_digest(own(m)?))
    }

    fn start_exchange(
        &self,
        session: SessionId,
        me: PartyIndex,
        identities: &BTreeMap<PartyIndex, NodeIdentityPublic>,
        own_material: Option<&Material>,
        rng: &mut ChaCha20Rng,
    ) -> Result<Started, KmsError> {
        let aux = own(own_material.ok_or_else(wrong_material)?)?;
        let parties: Vec<PartyIndex> = identities.keys().copied().collect();
        Ok(started(gg18::start_aux_exchange(
            session,
            me,
            &parties,
            contexts(identities),
            aux,
            rng,
        )?))
    }

    fn encode_peer(&self, m: &Material) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        Ok(Zeroizing::new(peer(m)?.to_bytes()))
    }

    fn decode_peer(&self, bytes: &[u8]) -> Result<Material, KmsError> {
        Ok(Arc::new(PeerAux::from_trusted_bytes(bytes)?))
    }

    fn peer_digest(&self, m: &Material) -> Result<[u8; 32], KmsError> {
        Ok(PaillierMta::public_digest(peer(m)?))
    }

    fn refresh_pool(&self) -> usize {
        REFRESH_POOL
    }
}

impl Scheme for Gg18 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Gg18
    }
    fn curve(&self) -> Curve {
        Curve::Secp256k1
    }
    fn key_type(&self) -> KeyType {
        KeyType::Ecdsa
    }
    fn check_message(&self, message: &[u8]) -> Result<(), KmsError> {
        prehash(message).map(|_| ())
    }
    fn input_kind(&self) -> super::InputKind {
        super::InputKind::Prehash
    }
    fn setup(&self) -> Option<&dyn NodeSetup> {
        Some(&Gg18Setup)
    }
    fn heavy_steps(&self) -> bool {
        true
    }

    fn start_dkg(&self, i: DkgInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let setup = i
            .setup
            .ok_or(KmsError::Unsupported("GG18 without aux material".into()))?;
        let aux = own(setup.own.as_ref().ok_or_else(wrong_material)?)?.clone();
        let peers = setup
            .peers
            .iter()
            .map(|(p, m)| Ok((*p, peer(m)?.clone().with_party(*p))))
            .collect::<Result<_, KmsError>>()?;
        Ok(started(gg18::start_dkg(
            i.session,
            i.threshold,
            i.me,
            aux,
            peers,
            rng,
        )?))
    }

    fn start_sign(&self, i: SignInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let share = Gg18KeyShare::from_bytes(i.share)?;
        let hash = prehash(i.message)?;
        let pool = i.pool.and_then(|p| p.downcast_mut::<Gg18Precomputed>());
        Ok(started(gg18::start_sign_with(
            i.session, &share, i.signers, hash, pool, rng,
        )?))
    }

    fn start_refresh(&self, i: RefreshInput<'_>, rng: &mut ChaCha20Rng) -> Result<Started, KmsError> {
        let fresh = i.fresh_setup.ok_or(KmsError::Unsupported(
            "GG18 refresh without fresh aux material".into(),
        ))?;
        let aux = own(&fresh)?.clone();
        let share = Gg18KeyShare::from_bytes(i.share)?;
        Ok(started(gg18::start_refresh(
            i.session,
            &share,
            aux,
            &contexts(i.identities),
            rng,
        )?))
    }

    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        verify_ecdsa_rsv(public_key, message, signature)
    }

    /// Paillier nonces, MtA nonces and proof commitments, so signing does only its
    /// message-dependent work. Items live in memory only and each is used by one
    /// signing: a crash loses them, it cannot make the node reuse one.
    fn refill_pool(
        &self,
        node: &NodeId,
        key: &KeyId,
        share: Zeroizing<Vec<u8>>,
        pools: &PoolMap,
        mut rng: ChaCha20Rng,
    ) {
        let (pools, node, key_id) = (pools.clone(), node.clone(), key.clone());
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
            let available = |pool: Option<&Precomputed>| {
                pool.and_then(|p| p.downcast_ref::<Gg18Precomputed>())
                    .map_or(0, |p| p.available(&peers))
            };
            loop {
                let have = available(pools.lock().unwrap_or_else(|e| e.into_inner()).get(&key_id));
                if have >= SIGN_POOL_TARGET {
                    return;
                }
                let mut fresh = Gg18Precomputed::new(&share);
                if let Err(e) = fresh.fill(&share, &peers, 1, &mut rng) {
                    warn!(node = %node, key = %key_id, error = %e, "signing precomputation failed");
                    return;
                }
                let mut map = pools.lock().unwrap_or_else(|e| e.into_inner());
                let entry = map
                    .entry(key_id.clone())
                    .or_insert_with(|| Box::new(Gg18Precomputed::new(&share)));
                let merged = entry
                    .downcast_mut::<Gg18Precomputed>()
                    .is_some_and(|pool| pool.merge(fresh).is_ok());
                if !merged {
                    // The key's aux material changed: start a pool for the new material.
                    *entry = Box::new(Gg18Precomputed::new(&share));
                }
            }
        });
    }
}

pub(super) fn prehash(message: &[u8]) -> Result<[u8; 32], KmsError> {
    message.try_into().map_err(|_| {
        KmsError::InvalidRequest(format!("ECDSA signs a 32-byte hash, got {} bytes", message.len()))
    })
}

/// Check a 65-byte r||s||v ECDSA signature over a 32-byte hash with k256: valid, low-s,
/// and v = 27 + the recovery id that recovers `public_key`.
pub(crate) fn verify_ecdsa_rsv(public_key: &[u8], hash: &[u8], rsv: &[u8]) -> bool {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
    if rsv.len() != 65 || hash.len() != 32 {
        return false;
    }
    let (Ok(vk), [rs @ .., v]) = (VerifyingKey::from_sec1_bytes(public_key), rsv) else {
        return false;
    };
    let (Ok(sig), Some(recid)) = (
        Signature::from_slice(rs),
        v.checked_sub(27).and_then(RecoveryId::from_byte),
    ) else {
        return false;
    };
    sig.normalize_s().is_none()
        && vk.verify_prehash(hash, &sig).is_ok()
        && VerifyingKey::recover_from_prehash(hash, &sig, recid).is_ok_and(|k| k == vk)
}

/// Parse a GG18 aux file, the format `kms-node --gg18-aux-file` and the gateway's
/// `gg18_aux_dir` read:
///
/// ```json
/// { "own": {"paillier_p": "hex", "paillier_q": "hex", "rp_p": "hex", "rp_q": "hex"},
///   "refresh": [ {"paillier_p": ...}, ... ] }
/// ```
///
/// Returns the node's own material and the fresh material for refreshes (`refresh` is
/// optional). Every prime is tested, so a file saves only the search, never strength.
/// The error says which entry and which field is wrong, and holds no secret.
pub fn parse_aux_file(bytes: &[u8]) -> Result<(AuxSecret, Vec<AuxSecret>), String> {
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let own = aux_from_json(json.get("own").ok_or("no \"own\" entry")?).map_err(|e| format!("own: {e}"))?;
    let mut refresh = Vec::new();
    if let Some(list) = json.get("refresh") {
        let list = list.as_array().ok_or("\"refresh\" is not a list")?;
        for (i, v) in list.iter().enumerate() {
            refresh.push(aux_from_json(v).map_err(|e| format!("refresh[{i}]: {e}"))?);
        }
    }
    Ok((own, refresh))
}

fn aux_from_json(v: &serde_json::Value) -> Result<AuxSecret, String> {
    use kms_protocols::gg18::bigint::BigInt;
    use kms_protocols::gg18::primes::{is_blum_prime, is_safe_prime};
    let int = |name: &str| {
        v.get(name)
            .and_then(|x| x.as_str())
            .and_then(BigInt::from_hex)
            .ok_or_else(|| format!("{name}: missing or not hex"))
    };
    let (p, q, pt, qt) = (int("paillier_p")?, int("paillier_q")?, int("rp_p")?, int("rp_q")?);
    // The same bar as generated material: Blum primes for Paillier, safe primes for
    // ring-Pedersen, 2048-bit moduli. Material that is not is refused, never used.
    let mut rng = rand_core::OsRng;
    for (name, x) in [("paillier_p", &p), ("paillier_q", &q)] {
        if !is_blum_prime(&mut rng, x) {
            return Err(format!("{name} is not a Blum prime"));
        }
    }
    for (name, x) in [("rp_p", &pt), ("rp_q", &qt)] {
        if !is_safe_prime(&mut rng, x) {
            return Err(format!("{name} is not a safe prime"));
        }
    }
    if p.bits() + q.bits() < 2048 || pt.bits() + qt.bits() < 2048 {
        return Err("moduli below 2048 bits".into());
    }
    AuxSecret::from_primes(&mut rng, p, q, pt, qt).map_err(|e| e.to_string())
}

#[cfg(test)]
mod aux_file_tests {
    use super::parse_aux_file;

    fn err(json: &str) -> String {
        parse_aux_file(json.as_bytes()).expect_err("refused")
    }

    #[test]
    fn bad_aux_files_are_refused_naming_the_entry_and_field() {
        assert!(err("not json").contains("expected"));
        assert_eq!(err("{}"), "no \"own\" entry");
        assert_eq!(err(r#"{"own": {}}"#), "own: paillier_p: missing or not hex");
        // 15 = 3 * 5 is no prime: refused as such, not used.
        let small = r#"{"paillier_p": "0f", "paillier_q": "0f", "rp_p": "0f", "rp_q": "0f"}"#;
        assert_eq!(
            err(&format!(r#"{{"own": {small}}}"#)),
            "own: paillier_p is not a Blum prime"
        );
        // 7 and 11 are Blum primes but 23 and 47 safe primes too small for 2048-bit moduli.
        let tiny = r#"{"paillier_p": "07", "paillier_q": "0b", "rp_p": "17", "rp_q": "2f"}"#;
        assert_eq!(
            err(&format!(r#"{{"own": {tiny}}}"#)),
            "own: moduli below 2048 bits"
        );
    }
}
