//! Quickstart: four TSS nodes in one process, a (2,3) key of each algorithm made by
//! DKG (EdDSA, BLS, GG18), a signature from each, verified with the standard verifiers
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
        Algorithm::Gg18 => {
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

fn json_line(key: &KeyMetadata, message: &[u8], sig: &SignatureOutput) -> serde_json::Value {
    if key.spec.algo_type == Algorithm::Gg18 {
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
    for algorithm in [Algorithm::Eddsa, Algorithm::Bls, Algorithm::Gg18] {
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
        let payload: &[u8] = if algorithm == Algorithm::Gg18 {
            &hash
        } else {
            message
        };
        let what = if algorithm == Algorithm::Gg18 {
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
    }
    out.say("\nNo private key was ever assembled: each node only ever held its own shard.");
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
