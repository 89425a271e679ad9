//! Storage encodings of a node's GG18 state: its aux secret ([`AuxSecret::to_bytes`]),
//! the aux material of its peers as it verified it ([`PeerAux::to_bytes`]), and key
//! shares ([`Gg18KeyShare::to_bytes`]).
//!
//! The node encrypts these bytes before they touch a disk (see the architecture brief);
//! this module only makes them. Every record is a [`crate::codec`] record of its kind
//! (version byte first, kind, the length-prefixed postcard body) followed by a SHA-256
//! checksum of it: the checksum catches truncation and corruption (it is not
//! authentication, which the encryption provides), the kind keeps one record from being
//! read as another, and the version is refused rather than guessed at. Loading re-checks
//! every relation that is cheap to check, so a decoded value is one the code could have
//! made itself.
//!
//! Secret records are built in buffers sized up front (no reallocation leaves copies of
//! secret bytes behind) and are returned as [`Zeroizing`].

use super::aux_info::{AuxSecret, AuxSecretRecord, PeerAux};
use super::bigint::BigInt;
use super::key_share::KeyShareOf;
use super::mta_backend::PaillierMta;
use super::paillier::PaillierPublic;
use super::ring_pedersen::{RingPedersen, RingPedersenParams};
use super::secp256k1::Secp256k1;
use super::Gg18KeyShare;
use crate::error::ProtocolError;
use crate::group::Group;
use crate::party::{PartyIndex, Threshold};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// The version of every record this module writes (and the only one it reads): the
/// [`crate::codec`] version.
pub const STORAGE_VERSION: u8 = crate::codec::CODEC_VERSION;

const AUX_SECRET_KIND: &str = "kms/gg18/aux-secret";
const PEER_AUX_KIND: &str = "kms/gg18/peer-aux";
const KEY_SHARE_KIND: &str = "kms/gg18/key-share";

/// Largest stored integer (8192 bits): far above the 2048-bit moduli in use, and low
/// enough that a corrupted length cannot make the loader work on absurd numbers.
const MAX_INT_BYTES: usize = 1024;

const CHECKSUM_LEN: usize = 32;

fn bad(what: &str, m: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::InvalidParameters(format!("stored {what}: {m}"))
}

fn checksum(record: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut h = Sha256::new();
    h.update(b"kms/gg18/storage-checksum/v1");
    h.update(record);
    h.finalize().into()
}

/// Serialise into a buffer of `capacity` bytes. Callers pass an upper bound of the
/// encoded size, so the buffer is never reallocated (a reallocation would leave a copy
/// of the secret bytes in freed memory).
fn encode_sized<T: Serialize>(value: &T, capacity: usize) -> Zeroizing<Vec<u8>> {
    let out = postcard::to_extend(value, Vec::with_capacity(capacity))
        .expect("serialising an in-memory value cannot fail");
    Zeroizing::new(out)
}

/// Wrap a body as a record of `kind` with its checksum.
fn seal(kind: &'static str, body: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    let mut w = crate::codec::Writer::new(kind, 4 + body.len() + CHECKSUM_LEN);
    w.bytes(&body);
    let mut out = w.finish();
    let sum = checksum(&out);
    // The writer sized the buffer for the checksum too: no reallocation copies it.
    out.extend_from_slice(&sum);
    out
}

/// Check the checksum, version and kind of a record and decode its body as `T`.
fn open<T: DeserializeOwned>(what: &str, kind: &'static str, bytes: &[u8]) -> Result<T, ProtocolError> {
    if bytes.len() < CHECKSUM_LEN {
        return Err(bad(what, "truncated"));
    }
    let (record, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if !bool::from(checksum(record).ct_eq(sum)) {
        return Err(bad(what, "checksum mismatch (truncated or altered)"));
    }
    let mut r = crate::codec::Reader::open(kind, record).map_err(|e| bad(what, e))?;
    let body = r.bytes("body").map_err(|e| bad(what, e))?;
    r.finish().map_err(|e| bad(what, e))?;
    crate::message::decode_payload(body).map_err(|e| bad(what, e))
}

/// A stored non-negative integer: minimal big-endian bytes, at most [`MAX_INT_BYTES`].
fn int(what: &str, field: &str, b: &[u8]) -> Result<BigInt, ProtocolError> {
    if b.len() > MAX_INT_BYTES || b.first() == Some(&0) {
        return Err(bad(what, format!("{field} is not a canonical integer")));
    }
    Ok(BigInt::from_bytes_be(b))
}

#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
struct StoredAuxSecret {
    paillier_n: Vec<u8>,
    paillier_p: Vec<u8>,
    paillier_q: Vec<u8>,
    rp_n: Vec<u8>,
    rp_p: Vec<u8>,
    rp_q: Vec<u8>,
    h1: Vec<u8>,
    h2: Vec<u8>,
    lambda: Vec<u8>,
}

impl StoredAuxSecret {
    fn len(&self) -> usize {
        [
            &self.paillier_n,
            &self.paillier_p,
            &self.paillier_q,
            &self.rp_n,
            &self.rp_p,
            &self.rp_q,
            &self.h1,
            &self.h2,
            &self.lambda,
        ]
        .iter()
        .map(|v| v.len() + 8)
        .sum()
    }
}

impl AuxSecret {
    /// Serialise for the node's storage: the Paillier primes, the ring-Pedersen primes,
    /// h1, h2 and λ, exactly as they are (the public parameters, and so every peer's
    /// verification of them, stay valid). The bytes hold secrets: they are zeroized on
    /// drop and must be encrypted before they are written.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let record = self.to_record();
        let rp = self.ring_pedersen();
        let stored = StoredAuxSecret {
            paillier_n: self.paillier().public().n().to_bytes_be(),
            paillier_p: record.p.to_bytes_be(),
            paillier_q: record.q.to_bytes_be(),
            rp_n: rp.modulus().value().to_bytes_be(),
            rp_p: record.p_tilde.to_bytes_be(),
            rp_q: record.q_tilde.to_bytes_be(),
            h1: record.h1.to_bytes_be(),
            h2: rp.h2().to_bytes_be(),
            lambda: record.lambda.to_bytes_be(),
        };
        let body = encode_sized(&stored, stored.len());
        seal(AUX_SECRET_KIND, body)
    }

    /// Parse and check stored material: the Paillier primes are distinct, of equal size,
    /// 3 mod 4 and multiply to the stored N (of at least 2048 bits); the ring-Pedersen
    /// trapdoor passes [`AuxSecret::from_record`] (h1 a residue of full order, λ a unit)
    /// and gives the stored N~ and h2. Primality is not re-tested (it is expensive, and
    /// the bytes are the node's own).
    pub fn from_bytes(bytes: &[u8]) -> Result<AuxSecret, ProtocolError> {
        const WHAT: &str = "aux secret";
        let s: StoredAuxSecret = open(WHAT, AUX_SECRET_KIND, bytes)?;
        let i = |field: &str, b: &[u8]| int(WHAT, field, b);
        let record = AuxSecretRecord {
            p: i("p", &s.paillier_p)?,
            q: i("q", &s.paillier_q)?,
            p_tilde: i("p~", &s.rp_p)?,
            q_tilde: i("q~", &s.rp_q)?,
            h1: i("h1", &s.h1)?,
            lambda: i("lambda", &s.lambda)?,
        };
        let aux = AuxSecret::from_record(&record).map_err(|e| bad(WHAT, e))?;
        if *aux.paillier().public().n() != i("N", &s.paillier_n)? {
            return Err(bad(WHAT, "p * q != N"));
        }
        let public = aux.ring_pedersen();
        if *public.modulus().value() != i("N~", &s.rp_n)? {
            return Err(bad(WHAT, "p~ * q~ != N~"));
        }
        if *public.h2() != i("h2", &s.h2)? {
            return Err(bad(WHAT, "h2 != h1^lambda"));
        }
        Ok(aux)
    }
}

#[derive(Serialize, Deserialize)]
struct StoredPeerAux {
    party: PartyIndex,
    paillier_n: Vec<u8>,
    rp_n: Vec<u8>,
    h1: Vec<u8>,
    h2: Vec<u8>,
}

impl PeerAux {
    /// Serialise a peer's verified material (its party label, Paillier modulus and
    /// ring-Pedersen parameters; the proofs are not kept) for the node's own storage.
    /// Read it back with [`PeerAux::from_trusted_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let rp = self.ring_pedersen();
        let stored = StoredPeerAux {
            party: self.party(),
            paillier_n: self.paillier().n().to_bytes_be(),
            rp_n: rp.modulus().value().to_bytes_be(),
            h1: rp.h1().to_bytes_be(),
            h2: rp.h2().to_bytes_be(),
        };
        let body = encode_sized(&stored, 4 * MAX_INT_BYTES);
        seal(PEER_AUX_KIND, body).to_vec()
    }

    /// Load material written by [`PeerAux::to_bytes`] **without re-verifying the
    /// proofs**. Only for bytes this node stored itself after verifying the peer
    /// (through [`super::start_aux_exchange`] or the `verify` / `accept_no_small_factor`
    /// steps), read back from its own (encrypted, authenticated) storage; never for bytes
    /// that came from the peer or any other party, which must go through the proofs.
    /// The form checks that are cheap are made again (sizes, odd moduli, h1 and h2 units
    /// other than +-1 and distinct).
    pub fn from_trusted_bytes(bytes: &[u8]) -> Result<PeerAux, ProtocolError> {
        const WHAT: &str = "peer aux";
        let s: StoredPeerAux = open(WHAT, PEER_AUX_KIND, bytes)?;
        let i = |field: &str, b: &[u8]| int(WHAT, field, b);
        let paillier = PaillierPublic::new(i("N", &s.paillier_n)?).map_err(|f| bad(WHAT, f))?;
        let ring_pedersen = RingPedersen::check(&RingPedersenParams {
            n: i("N~", &s.rp_n)?,
            h1: i("h1", &s.h1)?,
            h2: i("h2", &s.h2)?,
        })
        .map_err(|f| bad(WHAT, f))?;
        Ok(PeerAux::from_trusted_parts(s.party, paillier, ring_pedersen))
    }
}

#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
struct StoredShare {
    #[zeroize(skip)]
    threshold: Threshold,
    #[zeroize(skip)]
    index: PartyIndex,
    secret: Vec<u8>,
    public_key: Vec<u8>,
    #[zeroize(skip)]
    public_shares: Vec<(PartyIndex, Vec<u8>)>,
    epoch: u64,
    aux_secret: Vec<u8>,
    #[zeroize(skip)]
    aux_peers: Vec<Vec<u8>>,
}

impl KeyShareOf<PaillierMta> {
    /// Serialise for storage: threshold, index, secret share, public key and shares,
    /// epoch, the node's aux secret and every peer's verified aux material. The bytes
    /// hold secrets: zeroized on drop, to be encrypted before they are written.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let aux_secret = self.aux_secret.to_bytes();
        let stored = StoredShare {
            threshold: self.threshold,
            index: self.index,
            secret: Secp256k1::scalar_to_bytes(&self.secret),
            public_key: Secp256k1::element_to_bytes(&self.public_key),
            public_shares: self
                .public_shares
                .iter()
                .map(|(p, x)| (*p, Secp256k1::element_to_bytes(x)))
                .collect(),
            epoch: self.epoch,
            aux_secret: aux_secret.to_vec(),
            aux_peers: self.aux_peers.values().map(PeerAux::to_bytes).collect(),
        };
        let capacity = 256
            + stored.public_shares.len() * 48
            + stored.aux_secret.len()
            + stored.aux_peers.iter().map(|b| b.len() + 8).sum::<usize>();
        let body = encode_sized(&stored, capacity);
        seal(KEY_SHARE_KIND, body)
    }

    /// Parse and validate a stored share: the secret matches its own public share, one
    /// public share per party 1..=n and none (nor the public key) the identity, aux
    /// material of exactly the other parties, each labelled with its own index, and the
    /// aux secret's own checks ([`AuxSecret::from_bytes`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Gg18KeyShare, ProtocolError> {
        const WHAT: &str = "GG18 key share";
        let s: StoredShare = open(WHAT, KEY_SHARE_KIND, bytes)?;
        let secret = Secp256k1::scalar_from_bytes(&s.secret).ok_or_else(|| bad(WHAT, "secret share"))?;
        let secret = Zeroizing::new(secret);
        let public_key =
            Secp256k1::element_from_bytes(&s.public_key).ok_or_else(|| bad(WHAT, "public key"))?;
        let mut public_shares = BTreeMap::new();
        for (p, b) in &s.public_shares {
            let x =
                Secp256k1::element_from_bytes(b).ok_or_else(|| bad(WHAT, format!("public share of {p}")))?;
            if public_shares.insert(*p, x).is_some() {
                return Err(bad(WHAT, format!("two public shares for {p}")));
            }
        }
        let aux_secret = AuxSecret::from_bytes(&s.aux_secret)?;
        let mut aux_peers = BTreeMap::new();
        for b in &s.aux_peers {
            let peer = PeerAux::from_trusted_bytes(b)?;
            if aux_peers.insert(peer.party(), peer).is_some() {
                return Err(bad(WHAT, "two aux records for one party"));
            }
        }
        KeyShareOf::new(
            s.threshold,
            s.index,
            *secret,
            public_key,
            public_shares,
            s.epoch,
            Arc::new(aux_secret),
            Arc::new(aux_peers),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gg18::aux_info::NODE_PROVER;
    use crate::gg18::test_support::{fixture_aux, fixture_secrets, honest, p};
    use crate::gg18::tests::{check_signature, dkg, sign};

    /// Decode a record's body, change it, and seal it again with a valid checksum, so
    /// the loader's checks behind the checksum are reached.
    fn reseal<T: Serialize + DeserializeOwned>(
        kind: &'static str,
        bytes: &[u8],
        f: impl FnOnce(&mut T),
    ) -> Vec<u8> {
        let mut body: T = open("test", kind, bytes).unwrap();
        f(&mut body);
        seal(kind, Zeroizing::new(crate::message::encode(&body))).to_vec()
    }

    fn refused(r: Result<impl std::fmt::Debug, ProtocolError>, needle: &str) {
        match r {
            Err(ProtocolError::InvalidParameters(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected a refusal mentioning {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn aux_secret_round_trips_exactly() {
        let secret = fixture_secrets(1).remove(0);
        let bytes = secret.to_bytes();
        let back = AuxSecret::from_bytes(&bytes).unwrap();
        assert_eq!(back.paillier().public(), secret.paillier().public());
        assert_eq!(
            back.ring_pedersen(),
            secret.ring_pedersen(),
            "h1, h2 kept, not re-randomised"
        );
        assert_eq!(
            back.ring_pedersen_secret().lambda(),
            secret.ring_pedersen_secret().lambda()
        );
        assert_eq!(*back.to_bytes(), *bytes, "the encoding is deterministic");
        assert!(format!("{back:?}").contains("redacted"));
    }

    #[test]
    fn aux_secret_load_checks_the_cheap_relations() {
        let bytes = fixture_secrets(1).remove(0).to_bytes();
        let other = fixture_secrets(2).remove(1).to_bytes();
        let other: StoredAuxSecret = open("test", AUX_SECRET_KIND, &other).unwrap();
        let load = |f: &dyn Fn(&mut StoredAuxSecret)| {
            AuxSecret::from_bytes(&reseal::<StoredAuxSecret>(AUX_SECRET_KIND, &bytes, f))
        };
        refused(load(&|s| s.paillier_n = other.paillier_n.clone()), "p * q != N");
        refused(load(&|s| s.paillier_q = other.paillier_q.clone()), "p * q != N");
        refused(load(&|s| s.rp_n = other.rp_n.clone()), "N~");
        refused(load(&|s| s.h2 = other.h2.clone()), "h2");
        refused(load(&|s| s.lambda = vec![3]), "h2");
        // λ = p' is not a unit mod p'q'.
        refused(
            load(&|s| {
                let half = (&BigInt::from_bytes_be(&s.rp_p) - &BigInt::one()).div_floor(&BigInt::from_u64(2));
                s.lambda = half.unwrap().to_bytes_be();
            }),
            "λ",
        );
        refused(load(&|s| s.h1 = vec![1]), "h1");
        refused(load(&|s| s.paillier_p = s.paillier_q.clone()), "distinct");
        refused(load(&|s| s.rp_p = other.rp_p.clone()), "N~");
        refused(load(&|s| s.paillier_p = other.paillier_p.clone()), "p * q != N");
        refused(load(&|s| s.paillier_p = vec![0, 1]), "canonical");
        // The other record kinds are not aux secrets.
        let peer = fixture_aux(2).remove(0).1.remove(&p(2)).unwrap();
        refused(AuxSecret::from_bytes(&peer.to_bytes()), "expected");
    }

    #[test]
    fn peer_aux_round_trips_with_its_label() {
        let peer = fixture_aux(2).remove(0).1.remove(&p(2)).unwrap();
        let back = PeerAux::from_trusted_bytes(&peer.to_bytes()).unwrap();
        assert_eq!(back.party(), p(2));
        assert_eq!(back.paillier(), peer.paillier());
        assert_eq!(back.ring_pedersen(), peer.ring_pedersen());
        let node = PeerAux::from_trusted_bytes(&peer.with_party(NODE_PROVER).to_bytes()).unwrap();
        assert_eq!(node.party(), NODE_PROVER);
        assert_eq!(node.with_party(p(3)).paillier(), back.paillier());
        // The form checks still apply to trusted bytes.
        let bad_h = reseal::<StoredPeerAux>(PEER_AUX_KIND, &back.to_bytes(), |s| s.h1 = vec![1]);
        refused(PeerAux::from_trusted_bytes(&bad_h), "ring-Pedersen");
        let short_n =
            reseal::<StoredPeerAux>(PEER_AUX_KIND, &back.to_bytes(), |s| s.paillier_n.truncate(200));
        refused(PeerAux::from_trusted_bytes(&short_n), "2048");
    }

    #[test]
    fn restored_shares_sign() {
        let shares = dkg(2, 3, 70);
        let restored: BTreeMap<PartyIndex, Gg18KeyShare> = shares
            .iter()
            .map(|(i, s)| {
                let bytes = s.to_bytes();
                let back = Gg18KeyShare::from_bytes(&bytes).unwrap();
                assert_eq!(*back.to_bytes(), *bytes, "the encoding is deterministic");
                (*i, back)
            })
            .collect();
        for (i, s) in &restored {
            assert_eq!(s.public_key(), shares[i].public_key());
            assert_eq!(s.public_shares(), shares[i].public_shares());
            assert_eq!(
                (s.index(), s.threshold(), s.epoch()),
                (*i, shares[i].threshold(), 0)
            );
        }
        // A restored share signs with a share that never left memory, and restored ones
        // sign together.
        let mut mixed = BTreeMap::new();
        mixed.insert(p(1), restored[&p(1)].clone());
        mixed.insert(p(3), shares[&p(3)].clone());
        let sigs = sign(&mixed, &[p(1), p(3)], [5; 32], 71, &[], &mut honest).unwrap();
        check_signature(&shares[&p(1)], &[5; 32], &sigs[&p(1)]);
        let sigs = sign(&restored, &[p(2), p(3)], [6; 32], 72, &[], &mut honest).unwrap();
        check_signature(&shares[&p(2)], &[6; 32], &sigs[&p(2)]);
    }

    #[test]
    fn truncated_or_altered_share_bytes_are_refused() {
        let shares = dkg(2, 3, 73);
        let bytes = shares[&p(1)].to_bytes();
        for len in [0, 1, 31, 32, 33, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                Gg18KeyShare::from_bytes(&bytes[..len]).is_err(),
                "truncated to {len}"
            );
        }
        for pos in [0, 1, 10, 100, bytes.len() / 2, bytes.len() - 33, bytes.len() - 1] {
            let mut altered = bytes.to_vec();
            altered[pos] ^= 0x40;
            refused(Gg18KeyShare::from_bytes(&altered), "");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        refused(Gg18KeyShare::from_bytes(&longer), "");
        // Another record kind, and another version.
        refused(
            Gg18KeyShare::from_bytes(&shares[&p(1)].aux_secret().to_bytes()),
            "expected",
        );
        let mut future = bytes[..bytes.len() - CHECKSUM_LEN].to_vec();
        assert_eq!(future[0], STORAGE_VERSION);
        future[0] = 2;
        let sum = checksum(&future);
        future.extend_from_slice(&sum);
        refused(Gg18KeyShare::from_bytes(&future), "version 2");
    }

    #[test]
    fn share_load_validates_the_content() {
        let shares = dkg(2, 3, 74);
        let bytes = shares[&p(2)].to_bytes();
        let load = |f: &dyn Fn(&mut StoredShare)| {
            Gg18KeyShare::from_bytes(&reseal::<StoredShare>(KEY_SHARE_KIND, &bytes, f))
        };
        refused(
            load(&|s| {
                let x = Secp256k1::scalar_from_bytes(&s.secret).unwrap() + k256::Scalar::ONE;
                s.secret = Secp256k1::scalar_to_bytes(&x);
            }),
            "secret does not match",
        );
        refused(load(&|s| s.secret = vec![0; 32]), "");
        refused(load(&|s| s.secret = vec![0xFF; 32]), "secret share");
        refused(load(&|s| s.index = p(1)), "secret does not match");
        refused(load(&|s| s.index = p(4)), "index");
        refused(
            load(&|s| {
                s.public_shares.pop();
            }),
            "public shares",
        );
        refused(
            load(&|s| {
                let first = s.public_shares[0].clone();
                s.public_shares.push(first);
            }),
            "two public shares",
        );
        refused(load(&|s| s.public_shares[2].1 = vec![0]), "public share of");
        refused(load(&|s| s.public_key = vec![0]), "public key");
        refused(
            load(&|s| {
                s.threshold = Threshold {
                    threshold: 4,
                    parties: 3,
                }
            }),
            "threshold",
        );
        refused(
            load(&|s| {
                s.aux_peers.pop();
            }),
            "other parties",
        );
        refused(
            load(&|s| s.aux_peers.push(s.aux_peers[0].clone())),
            "two aux records",
        );
        let relabelled = |to: PartyIndex| {
            let peer = PeerAux::from_trusted_bytes(&bytes_of(&bytes, 0)).unwrap();
            peer.with_party(to).to_bytes()
        };
        let to_me = relabelled(p(2));
        refused(load(&|s| s.aux_peers[0] = to_me.clone()), "other parties");
        let own_secret = shares[&p(1)].aux_secret().to_bytes().to_vec();
        // Another node's aux secret is still an aux secret: storage does not know whose
        // it is, but a broken one is refused.
        assert!(load(&|s| s.aux_secret = own_secret.clone()).is_ok());
        refused(load(&|s| s.aux_secret.truncate(10)), "aux secret");
    }

    fn bytes_of(share: &[u8], peer: usize) -> Vec<u8> {
        let s: StoredShare = open("test", KEY_SHARE_KIND, share).unwrap();
        s.aux_peers[peer].clone()
    }

    #[test]
    fn debug_and_errors_do_not_show_the_secret() {
        let shares = dkg(2, 3, 75);
        let share = &shares[&p(3)];
        let secret_hex = hex::encode(Secp256k1::scalar_to_bytes(&share.secret));
        let p_hex = share.aux_secret().paillier().p().to_hex();
        let dbg = format!("{share:?} {:?}", share.aux_secret());
        assert!(dbg.contains("redacted"));
        assert!(!dbg.contains(&secret_hex) && !dbg.contains(&p_hex[..16]));
        let bytes = share.to_bytes();
        let err =
            Gg18KeyShare::from_bytes(&reseal::<StoredShare>(KEY_SHARE_KIND, &bytes, |s| s.index = p(1)))
                .unwrap_err()
                .to_string();
        assert!(!err.contains(&secret_hex), "{err}");
    }
}
