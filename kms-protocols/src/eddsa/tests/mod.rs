//! Tests of threshold EdDSA: RFC vectors, honest runs, and misbehaving parties.

mod faults;
mod keygen;
mod vectors;

use super::{start_dkg, start_refresh, start_sign, verify, EddsaKeyShare, Signing};
use crate::inbox::Echo;
use crate::message::{decode_payload, encode, Envelope};
use crate::party::{PartyIndex, SessionId, Threshold};
use crate::schnorr::SchnorrProof;
use crate::testing::{run_to_completion, Network};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn p(i: u16) -> PartyIndex {
    PartyIndex::new(i).expect("non-zero")
}

fn parties(ids: &[u16]) -> Vec<PartyIndex> {
    ids.iter().map(|i| p(*i)).collect()
}

/// An honest DKG; the shares in party order.
fn dkg(t: u16, n: u16, rng: &mut ChaCha20Rng) -> Vec<EddsaKeyShare> {
    let session = SessionId::random(rng);
    let threshold = Threshold::new(t, n).unwrap();
    let starts: Vec<_> = PartyIndex::range(n)
        .map(|me| start_dkg(session, threshold, me, rng).unwrap())
        .collect();
    let out = run_to_completion(starts, rng).unwrap();
    assert_eq!(out.len(), usize::from(n));
    out.into_values().collect()
}

/// An honest refresh of all shares; the new shares in party order.
fn refresh(shares: Vec<EddsaKeyShare>, rng: &mut ChaCha20Rng) -> Vec<EddsaKeyShare> {
    let session = SessionId::random(rng);
    let starts: Vec<_> = shares
        .into_iter()
        .map(|s| start_refresh(session, s, rng).unwrap())
        .collect();
    run_to_completion(starts, rng).unwrap().into_values().collect()
}

/// The signing runs of the holders of `shares`, over one message, not yet pumped.
fn signing_network(shares: &[&EddsaKeyShare], msg: &[u8], rng: &mut ChaCha20Rng) -> Network<Signing> {
    let session = SessionId::random(rng);
    let signers: Vec<PartyIndex> = shares.iter().map(|s| s.index()).collect();
    let starts: Vec<_> = shares
        .iter()
        .map(|s| start_sign(session, s, &signers, msg, rng).unwrap())
        .collect();
    Network::new(starts)
}

/// An honest signing by the holders of `shares`; every signer must output the same
/// signature, which is returned.
fn sign(shares: &[&EddsaKeyShare], msg: &[u8], rng: &mut ChaCha20Rng) -> [u8; 64] {
    let mut net = signing_network(shares, msg, rng);
    net.run(rng);
    assert!(net.errors().is_empty(), "{:?}", net.errors());
    assert!(net.all_done());
    let sigs: Vec<[u8; 64]> = net.into_outputs().into_values().collect();
    assert_eq!(sigs.len(), shares.len());
    assert!(sigs.windows(2).all(|w| w[0] == w[1]), "signers disagree");
    sigs[0]
}

/// The group order l, little-endian.
const ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// `s + l`: the same residue as `s` (< l), in a second, non-canonical encoding.
fn plus_order(s: &[u8; 32]) -> [u8; 32] {
    let mut sum = [0u8; 32];
    let mut carry = 0u16;
    for (i, out) in sum.iter_mut().enumerate() {
        let v = u16::from(s[i]) + u16::from(ORDER[i]) + carry;
        *out = v.to_le_bytes()[0];
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    sum
}

#[test]
fn order_constant_is_the_group_order() {
    use curve25519_dalek::Scalar;
    assert_eq!(Scalar::from_bytes_mod_order(ORDER), Scalar::ZERO);
    assert!(bool::from(Scalar::from_canonical_bytes(ORDER).is_none()));
    let mut below = ORDER;
    below[0] -= 1;
    assert_eq!(Scalar::from_canonical_bytes(below).unwrap(), -Scalar::ONE);
}

fn pick<'a>(shares: &'a [EddsaKeyShare], ids: &[u16]) -> Vec<&'a EddsaKeyShare> {
    ids.iter()
        .map(|i| shares.iter().find(|s| s.index() == p(*i)).unwrap())
        .collect()
}

// Mirrors of the wire payloads (postcard encodes by field order and type, so these
// decode and re-encode the real messages byte for byte); tests use them to play a
// misbehaving party.

#[derive(Serialize, Deserialize)]
struct DkgRound1 {
    commitment: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct DkgRound2 {
    commitments: Vec<Vec<u8>>,
    proof: Option<SchnorrProof>,
    blind: [u8; 32],
    share: Vec<u8>,
    echo: Echo,
}

#[derive(Serialize, Deserialize)]
struct SignRound1 {
    hiding: [u8; 32],
    binding: [u8; 32],
    epoch: u64,
}

#[derive(Serialize, Deserialize)]
struct SignRound2 {
    share: [u8; 32],
    echo: Echo,
}

/// Decode an envelope's payload as `T`, let `f` change it, re-encode.
fn rewrite<T: Serialize + DeserializeOwned>(mut env: Envelope, f: impl FnOnce(&mut T)) -> Envelope {
    let mut payload: T = decode_payload(&env.payload).expect("mirror type matches the wire");
    let before = encode(&payload);
    assert_eq!(before, env.payload, "mirror type re-encodes differently");
    f(&mut payload);
    env.payload = encode(&payload);
    env
}
