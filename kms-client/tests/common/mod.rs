//! Shared by the integration tests of this crate.
#![allow(dead_code)]

use kms_protocols::gg18::aux_info::AuxSecret;
use kms_protocols::gg18::bigint::BigInt;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// GG18 aux material of four nodes from the 2048-bit fixture primes in
/// kms-protocols/tests/data (test-only primes: safe-prime search takes seconds a node).
pub fn fixture_aux() -> Vec<AuxSecret> {
    fixture_set("parties")
}

/// Fresh GG18 aux material of four nodes for key refreshes: other fixture primes.
pub fn fixture_refresh_aux() -> Vec<AuxSecret> {
    fixture_set("refresh_parties")
}

fn fixture_set(set: &str) -> Vec<AuxSecret> {
    let json: serde_json::Value = serde_json::from_str(include_str!(
        "../../../kms-protocols/tests/data/gg18_fixtures.json"
    ))
    .unwrap();
    let int = |v: &serde_json::Value| BigInt::from_hex(v.as_str().unwrap()).unwrap();
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    json[set]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            AuxSecret::from_primes(
                &mut rng,
                int(&f["paillier_p"]),
                int(&f["paillier_q"]),
                int(&f["rp_p"]),
                int(&f["rp_q"]),
            )
            .unwrap()
        })
        .collect()
}
