//! Quickstart: four TSS nodes in one process, a (2,3) key of each algorithm made by
//! DKG (EdDSA, BLS, GG18, DMZ21), a signature from each, verified with the standard verifiers
//! (ed25519-dalek `verify_strict`, blst, k256 with public-key recovery).
//!
//! ```text
//! cargo run --release --example quickstart            # plain words
//! cargo run --release --example quickstart -- --json  # one JSON object per signature
//! cargo run --release --example quickstart -- --data-dir DIR
//!     # keep the nodes' encrypted stores under DIR (password from KMS_DEK_PASSWORD or
//!     # a prompt); a second run signs again with the keys of the first
//! ```

use ed25519_dalek::{Signature as EdSignature, VerifyingKey};
use kms_client::{GenerateKey, InProcessCluster, KmsClient};
use kms_core::{Algorithm, KeyMetadata, KeyStatus, SignatureOutput};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::ExitCode;
use zeroize::Zeroizing;

struct Output {
    json: bool,
    data_dir: Option<PathBuf>,
}

impl Output {
    fn say(&self, line: impl AsRef<str>) {
        if !self.json {
            println!("{}", line.as_ref());
        }
    }
}

fn verify(key: &KeyMetadata, message: &[u8], sig: &SignatureOutput) -> Result<(), String> {
    let pk = hex::decode(&key.public_key).map_err(|e| e.to_string())?;
    match key.spec.algo_type {
        Algorithm::Eddsa => {
            let vk = VerifyingKey::from_bytes(pk.as_slice().try_into().map_err(|_| "public key length")?)
                .map_err(|e| e.to_string())?;
            let s = EdSignature::from_slice(&sig.signature).map_err(|e| e.to_string())?;
            vk.verify_strict(message, &s).map_err(|e| e.to_string())
        }
        Algorithm::Bls => {
            use blst::min_pk::{PublicKey, Signature};
            let pk = PublicKey::key_validate(&pk).map_err(|e| format!("{e:?}"))?;
            let s = Signature::sig_validate(&sig.signature, true).map_err(|e| format!("{e:?}"))?;
            match s.verify(true, message, kms_protocols::bls::SIG_DST, &[], &pk, true) {
                blst::BLST_ERROR::BLST_SUCCESS => Ok(()),
                e => Err(format!("{e:?}")),
            }
        }
        Algorithm::Gg18 | Algorithm::Dmz21 | Algorithm::Dkls23 => {
            use k256::ecdsa::signature::hazmat::PrehashVerifier;
            use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
            let vk = VerifyingKey::from_sec1_bytes(&pk).map_err(|e| e.to_string())?;
            let rsv = &sig.signature;
            let s =
                Signature::from_slice(rsv.get(..64).ok_or("short signature")?).map_err(|e| e.to_string())?;
            vk.verify_prehash(message, &s).map_err(|e| e.to_string())?;
            let recid = rsv
                .get(64)
                .and_then(|v| v.checked_sub(27))
                .and_then(RecoveryId::from_byte);
            let recovered = recid.and_then(|id| VerifyingKey::recover_from_prehash(message, &s, id).ok());
            if recovered != Some(vk) {
                return Err("v does not recover the public key".into());
            }
            Ok(())
        }
        other => Err(format!("no verifier for {other:?} in this example")),
    }
}

/// The threshold-ECDSA algorithms: they sign a 32-byte hash and answer r || s || v.
fn is_ecdsa(algorithm: Algorithm) -> bool {
    matches!(algorithm, Algorithm::Gg18 | Algorithm::Dmz21 | Algorithm::Dkls23)
}

fn json_line(key: &KeyMetadata, message: &[u8], sig: &SignatureOutput) -> serde_json::Value {
    let mut line = json_fields(key, message, sig);
    line["addresses"] =
        serde_json::to_value(kms_client::addresses(key).expect("the key's public key is valid"))
            .expect("addresses serialize");
    line
}

fn json_fields(key: &KeyMetadata, message: &[u8], sig: &SignatureOutput) -> serde_json::Value {
    if is_ecdsa(key.spec.algo_type) {
        let rsv = &sig.signature;
        return json!({
            "algorithm": key.spec.algo_type.as_str(),
            "curve": key.spec.curve.as_str(),
            "key_id": key.key_id.as_str(),
            "public_key": key.public_key,
            "hash": hex::encode(message),
            "r": hex::encode(&rsv[..32]),
            "s": hex::encode(&rsv[32..64]),
            "recovery_id": rsv[64] - 27,
            "signature": hex::encode(rsv),
            "signers": sig.signers.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        });
    }
    json!({
        "algorithm": key.spec.algo_type.as_str(),
        "curve": key.spec.curve.as_str(),
        "key_id": key.key_id.as_str(),
        "public_key": key.public_key,
        "message": hex::encode(message),
        "signature": hex::encode(&sig.signature),
        "signers": sig.signers.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
    })
}

fn password() -> Result<Zeroizing<String>, String> {
    if let Ok(p) = std::env::var("KMS_DEK_PASSWORD") {
        return Ok(Zeroizing::new(p));
    }
    rpassword::prompt_password("Password for the nodes' data-encryption keys: ")
        .map(Zeroizing::new)
        .map_err(|e| format!("no password: set KMS_DEK_PASSWORD or run on a terminal ({e})"))
}

fn signers(sig: &SignatureOutput) -> String {
    sig.signers
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
}

fn names(nodes: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    nodes
        .into_iter()
        .map(|n| n.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn run(out: &Output) -> Result<(), Box<dyn std::error::Error>> {
    let builder = InProcessCluster::builder().nodes(4);
    let cluster = match &out.data_dir {
        None => builder.build(),
        Some(dir) => builder.persistent(dir, password()?).open().await?,
    };
    let client = KmsClient::new(cluster.clone());
    let storage = match &out.data_dir {
        Some(d) => format!(", each with its encrypted store under {}", d.display()),
        None => " (in memory)".to_string(),
    };
    out.say(format!(
        "Started {} TSS nodes in this process: {}{storage}.",
        cluster.nodes().len(),
        names(cluster.nodes().iter().map(|n| n.as_str()))
    ));
    let existing = client.list_keys().await?;
    let message = b"Hello from a key that never existed whole.";
    for algorithm in [
        Algorithm::Eddsa,
        Algorithm::Bls,
        Algorithm::Gg18,
        Algorithm::Dmz21,
        Algorithm::Dkls23,
    ] {
        let reused = existing
            .iter()
            .find(|k| k.spec.algo_type == algorithm && k.status == KeyStatus::Active);
        let (key, how) = match reused {
            Some(key) => (key.clone(), "reused from an earlier run; its shards are on"),
            None => {
                if algorithm == Algorithm::Gg18 {
                    out.say(
                        "\nGG18: the holders first make their Paillier and ring-Pedersen keys (safe primes) \
                         and verify each other's proofs; this takes a few seconds, once per node.",
                    );
                }
                if algorithm == Algorithm::Dkls23 {
                    out.say(
                        "\nDKLS23: after the DKG every pair of holders runs its oblivious-transfer setup; \
                         signing is three rounds with no Paillier and no range proofs.",
                    );
                }
                if algorithm == Algorithm::Dmz21 {
                    out.say(
                        "\nDMZ21: no node setup; the key generation proves every holder's class-group \
                         key, and signing runs four offline rounds then five online ones.",
                    );
                }
                (
                    client.generate_key(GenerateKey::new(algorithm)).await?,
                    "made by DKG on",
                )
            }
        };
        out.say(format!(
            "\n{} key {} ({}): {how} {}; any 2 of its 3 shards sign.",
            algorithm.as_str(),
            key.key_id,
            key.spec.curve.as_str(),
            names(key.holders.iter().map(|h| h.node.as_str()))
        ));
        out.say(format!("  public key {}", key.public_key));
        // ECDSA signs a 32-byte hash; EdDSA and BLS sign the message itself.
        let hash: [u8; 32] = Sha256::digest(message).into();
        let payload: &[u8] = if is_ecdsa(algorithm) { &hash } else { message };
        let what = if is_ecdsa(algorithm) {
            "the SHA-256 hash of "
        } else {
            ""
        };
        let sig = client.sign(&key.key_id, payload).await?;
        verify(&key, payload, &sig)
            .map_err(|e| format!("{} signature does not verify: {e}", algorithm.as_str()))?;
        out.say(format!(
            "  signed {what}{:?} with the shards on {}; the standard verifier accepts it.",
            std::str::from_utf8(message).unwrap_or("<bytes>"),
            signers(&sig)
        ));
        out.say(format!("  signature {}", hex::encode(&sig.signature)));
        if out.json {
            println!("{}", json_line(&key, payload, &sig));
        }

        // Take one holder down: the other two still sign.
        let down = key.holders[0].node.clone();
        cluster.stop_node(&down);
        let sig2 = client.sign(&key.key_id, payload).await?;
        verify(&key, payload, &sig2).map_err(|e| format!("signature with {down} down: {e}"))?;
        cluster.start_node(&down);
        out.say(format!(
            "  with {down} down, {} signed again; the signature verifies.",
            signers(&sig2)
        ));
        if out.json {
            println!("{}", json_line(&key, payload, &sig2));
        }
        if algorithm == Algorithm::Gg18 {
            sign_chain_inputs(&client, &key, out).await?;
        }
    }
    out.say("\nNo private key was ever assembled: each node only ever held its own shard.");
    Ok(())
}

/// What an EVM chain asks a key to sign: a personal_sign message, EIP-712 typed data and
/// an EIP-1559 transaction, each answered in the form that goes on chain.
async fn sign_chain_inputs(
    client: &KmsClient,
    key: &KeyMetadata,
    out: &Output,
) -> Result<(), Box<dyn std::error::Error>> {
    use kms_client::kms_chains::DataType;
    let address = kms_client::addresses(key)?.evm.unwrap_or_default();
    out.say(format!("  its EVM address is {address}."));
    let inputs = [
        (
            DataType::Eip191,
            json!({"message": "Hello from a key that never existed whole."}),
        ),
        (
            DataType::Eip712,
            json!({
                "types": {
                    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                     {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
                    "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
                    "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"}, {"name": "contents", "type": "string"}]
                },
                "primaryType": "Mail",
                "domain": {"name": "Ether Mail", "version": "1", "chainId": 1,
                           "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
                "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                            "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                            "contents": "Hello, Bob!"}
            }),
        ),
        (
            DataType::EthTx,
            json!({"type": 2, "chain_id": 1, "nonce": 0, "gas": 21000,
                   "to": "0x3535353535353535353535353535353535353535", "value": "1000000000000000",
                   "data": "0x", "max_priority_fee_per_gas": 1000000000u64, "max_fee_per_gas": 30000000000u64,
                   "access_list": []}),
        ),
    ];
    for (data_type, data) in inputs {
        // sign_data verifies each signature against the key before it answers.
        let answer = client.sign_data(&key.key_id, data_type, &data).await?;
        out.say(format!(
            "  signed an {data_type} input: digest {}{}",
            answer["digest"].as_str().unwrap_or(""),
            answer
                .get("raw_transaction")
                .map(|raw| format!(", raw transaction {raw}"))
                .unwrap_or_default()
        ));
        if out.json {
            let mut line = json!({
                "algorithm": key.spec.algo_type.as_str(),
                "key_id": key.key_id.as_str(),
                "data_type": data_type.as_str(),
                "data": data,
                "address": address,
            });
            for (k, v) in answer {
                line[k] = v;
            }
            println!("{line}");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut json = false;
    let mut data_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--data-dir" => match args.next() {
                Some(d) => data_dir = Some(PathBuf::from(d)),
                None => {
                    eprintln!("quickstart: --data-dir needs a directory");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("usage: quickstart [--json] [--data-dir DIR]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("quickstart: unknown argument {other:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    match run(&Output { json, data_dir }).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}
