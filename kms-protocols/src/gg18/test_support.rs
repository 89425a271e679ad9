//! In-process delivery of protocol messages for the tests, with a hook to tamper with
//! messages in flight (to play a cheating sender).

use crate::message::{decode_payload, encode, Envelope, Recipient};
use crate::party::PartyIndex;
use crate::state_machine::StateMachine;
use crate::ProtocolError;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// A tamper hook sees each message as it is delivered to one recipient; it may modify
/// that copy (so a broadcast can be equivocated) and return extra messages to deliver
/// to the same recipient after it (for duplicate/wrong-round tests).
pub(crate) type Tamper<'a> = dyn FnMut(&mut Envelope, PartyIndex) -> Vec<Envelope> + 'a;

/// The error a run stopped with, and the party that reported it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) reporter: PartyIndex,
    pub(crate) error: ProtocolError,
}

/// Deliver every message until all runs output, or an honest one fails. The runs of
/// `cheaters` (whose messages the tamper hook rewrites) are dropped when they fail: a
/// cheater's own view is not what the test is about.
pub(crate) fn run<S: StateMachine>(
    mut runs: BTreeMap<PartyIndex, S>,
    first: Vec<Envelope>,
    seed: u64,
    cheaters: &[PartyIndex],
    tamper: &mut Tamper<'_>,
) -> Result<BTreeMap<PartyIndex, S::Output>, Failure> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut queue: VecDeque<Envelope> = first.into();
    let mut outputs = BTreeMap::new();
    while let Some(env) = queue.pop_front() {
        let recipients: Vec<PartyIndex> = match env.recipient {
            Recipient::All => runs.keys().copied().filter(|p| *p != env.sender).collect(),
            Recipient::One(p) => vec![p],
        };
        for to in recipients {
            let mut copy = env.clone();
            let extra = tamper(&mut copy, to);
            for e in std::iter::once(copy).chain(extra) {
                let Some(r) = runs.get_mut(&to) else { continue };
                let step = match r.handle(e.clone(), &mut rng) {
                    Ok(step) => step,
                    Err(_) if cheaters.contains(&to) => {
                        runs.remove(&to);
                        break;
                    }
                    Err(error) => return Err(Failure { reporter: to, error }),
                };
                queue.extend(step.outgoing);
                if let Some(o) = step.output {
                    outputs.insert(to, o);
                }
            }
        }
    }
    if outputs.len() != runs.len() {
        return Err(Failure {
            reporter: *runs.keys().next().expect("at least one party"),
            error: ProtocolError::Internal(format!("only {} of {} runs finished", outputs.len(), runs.len())),
        });
    }
    Ok(outputs)
}

/// No tampering.
pub(crate) fn honest(_: &mut Envelope, _: PartyIndex) -> Vec<Envelope> {
    Vec::new()
}

/// Rewrite the payload of `sender`'s round-`round` messages (as type `T`) on their way
/// to every recipient.
pub(crate) fn rewrite<T: Serialize + DeserializeOwned>(
    sender: u16,
    round: u16,
    mut f: impl FnMut(&mut T, &Envelope),
) -> impl FnMut(&mut Envelope, PartyIndex) -> Vec<Envelope> {
    move |env: &mut Envelope, _to: PartyIndex| {
        if env.sender.get() == sender && env.round == round {
            let mut v: T = decode_payload(&env.payload).expect("own test payload decodes");
            f(&mut v, env);
            env.payload = encode(&v);
        }
        Vec::new()
    }
}

/// Party index shorthand.
pub(crate) fn p(i: u16) -> PartyIndex {
    PartyIndex::new(i).expect("non-zero")
}

/// The echo hash of a broadcast payload (as `crate::inbox` computes it), for tests
/// that rewrite a cheater's broadcast and must keep the cheater's own echo coherent.
pub(crate) fn echo_hash(payload: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"kms-broadcast-echo/v1");
    h.update(payload);
    h.finalize().into()
}

/// Set `party`'s entry of an echo to the hash of `payload`.
pub(crate) fn set_echo(echo: &mut crate::inbox::Echo, party: PartyIndex, payload: &[u8]) {
    for (p, h) in &mut echo.0 {
        if *p == party {
            *h = echo_hash(payload);
        }
    }
}

/// The fixture file made by the math layer's `examples/gg18_fixtures.rs`.
pub(crate) fn fixture_json() -> serde_json::Value {
    serde_json::from_str(include_str!("../../tests/data/gg18_fixtures.json")).expect("fixture json")
}

/// A fixture integer by JSON value.
pub(crate) fn fixture_int(v: &serde_json::Value) -> crate::gg18::bigint::BigInt {
    crate::gg18::bigint::BigInt::from_hex(v.as_str().expect("hex")).expect("hex")
}

/// The aux secrets of the first `n` fixture nodes (2048-bit moduli), deterministic.
pub(crate) fn fixture_secrets(n: u16) -> Vec<crate::gg18::aux_info::AuxSecret> {
    fixture_set("parties", n)
}

/// Fresh aux secrets for the first `n` fixture nodes to refresh with: other primes
/// than [`fixture_secrets`], of the same size.
pub(crate) fn fixture_refresh_secrets(n: u16) -> Vec<crate::gg18::aux_info::AuxSecret> {
    fixture_set("refresh_parties", n)
}

fn fixture_set(set: &str, n: u16) -> Vec<crate::gg18::aux_info::AuxSecret> {
    let json = fixture_json();
    let nodes = json[set].as_array().expect("fixture set");
    assert!(
        usize::from(n) <= nodes.len(),
        "only {} fixture nodes",
        nodes.len()
    );
    let mut rng = ChaCha20Rng::seed_from_u64(0xA0A0);
    nodes[..usize::from(n)]
        .iter()
        .map(|f| {
            crate::gg18::aux_info::AuxSecret::from_primes(
                &mut rng,
                fixture_int(&f["paillier_p"]),
                fixture_int(&f["paillier_q"]),
                fixture_int(&f["rp_p"]),
                fixture_int(&f["rp_q"]),
            )
            .expect("fixture primes")
        })
        .collect()
}

/// The identity context of fixture node `k` (0-based).
pub(crate) fn node_context(k: usize) -> Vec<u8> {
    format!("test-node-{}", k + 1).into_bytes()
}

/// Aux material for `n` parties from the fixture nodes (party i is node i - 1), with
/// every proof made and verified as a deployment would: Πmod and Πprm once per node
/// (bound to the node's identity, not to a party index), Πfac per (prover, verifier)
/// pair; each verified peer is then labelled with its party index in the key.
/// Returns each party's secret and its map of verified peers.
pub(crate) fn fixture_aux(
    n: u16,
) -> Vec<(
    crate::gg18::aux_info::AuxSecret,
    BTreeMap<PartyIndex, crate::gg18::aux_info::PeerAux>,
)> {
    let secrets = fixture_secrets(n);
    let mut rng = ChaCha20Rng::seed_from_u64(0xA0A1);
    let publics: Vec<_> = secrets
        .iter()
        .enumerate()
        .map(|(k, s)| s.prove_for_node(&mut rng, &node_context(k)).expect("aux proofs"))
        .collect();
    // Every node sees the same material of every node: verified once per node.
    let seen: Vec<_> = publics
        .iter()
        .enumerate()
        .map(|(k, public)| public.verify_for_node(&node_context(k)).expect("aux verifies"))
        .collect();
    let mut out = Vec::new();
    for (k, own) in secrets.iter().enumerate() {
        let mut peers = BTreeMap::new();
        for (l, prover) in secrets.iter().enumerate() {
            if l == k {
                continue;
            }
            // The peer proves no small factor to us under our (verified) parameters.
            let fac = prover
                .prove_no_small_factor_for_node(&mut rng, &node_context(l), &seen[k])
                .expect("fac proof");
            let peer = seen[l]
                .clone()
                .accept_no_small_factor(&node_context(l), &fac, own)
                .expect("fac verifies");
            peers.insert(p(l as u16 + 1), peer.with_party(p(l as u16 + 1)));
        }
        out.push((own.clone(), peers));
    }
    out
}
