//! Chain inputs end to end through the in-process cluster: a GG18 key signs EIP-191,
//! EIP-712, Ethereum transactions, a PSBT and a TRON transaction; an EdDSA key signs a
//! Solana transaction and off-chain message. Every result is checked independently of
//! the code that built it: ECDSA signatures recover (k256) to the key's own address,
//! raw transactions decode back to their fields, PSBT signatures verify against
//! sighashes recomputed from the extracted transaction, Ed25519 with `verify_strict`.

mod common;

use alloy_primitives::keccak256;
use bitcoin::base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use common::fixture_aux;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use kms_chains::evm::tx::EthTransaction;
use kms_chains::{evm_address, DataType};
use kms_client::{addresses, ChainSignError, GenerateKey, InProcessCluster, KmsClient};
use kms_core::{Algorithm, KeyMetadata};
use serde_json::{json, Map, Value};

fn client() -> KmsClient {
    let mut builder = InProcessCluster::builder().nodes(4);
    for (i, aux) in fixture_aux().into_iter().enumerate() {
        builder = builder.gg18_aux(&format!("tss{}", i + 1), aux);
    }
    KmsClient::new(builder.build())
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

/// The EVM address the answer's r, s, v recover to over the answer-independent digest.
fn recovered(answer: &Map<String, Value>, digest: &[u8; 32]) -> String {
    let sig = Signature::from_slice(&unhex(&answer["signature"])[..64]).unwrap();
    assert!(sig.normalize_s().is_none(), "low-s");
    let v = answer["v"].as_u64().unwrap();
    let recid = RecoveryId::from_byte((v - 27) as u8).unwrap();
    let key = VerifyingKey::recover_from_prehash(digest, &sig, recid).unwrap();
    evm_address(&key).to_checksum(None)
}

fn evm(meta: &KeyMetadata) -> String {
    addresses(meta).unwrap().evm.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gg18_key_signs_what_evm_chains_ask_and_it_recovers_to_its_address() {
    let client = client();
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Gg18))
        .await
        .unwrap();
    let me = evm(&key);
    let a = addresses(&key).unwrap();
    assert_eq!(a.address.as_deref(), Some(me.as_str()));
    assert!(a.btc_p2wpkh.as_deref().unwrap().starts_with("bc1q"));

    // EIP-191: the digest is recomputed here from the text.
    let msg = "I control this address";
    let answer = client
        .sign_data(&key.key_id, DataType::Eip191, &json!({"message": msg}))
        .await
        .unwrap();
    let prefixed = format!("\x19Ethereum Signed Message:\n{}{msg}", msg.len());
    let digest = keccak256(prefixed.as_bytes()).0;
    assert_eq!(unhex(&answer["digest"]), digest);
    assert_eq!(recovered(&answer, &digest), me);

    // EIP-712: the published Mail document.
    let mail = json!({
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
            "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"}, {"name": "contents", "type": "string"}]
        },
        "primaryType": "Mail",
        "domain": {"name": "Ether Mail", "version": "1", "chainId": 1, "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
        "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                    "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"}, "contents": "Hello, Bob!"}
    });
    let answer = client
        .sign_data(&key.key_id, DataType::Eip712, &mail)
        .await
        .unwrap();
    let digest: [u8; 32] = hex::decode("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(recovered(&answer, &digest), me);

    // Transactions of type 2 and 0: decode the raw transaction back, recover its sender.
    for data in [
        json!({"type": 2, "chain_id": 1, "nonce": 3, "gas": 21000, "to": "0x3535353535353535353535353535353535353535",
               "value": "1000000000000000000", "data": "0x", "max_priority_fee_per_gas": 1000000000u64,
               "max_fee_per_gas": 40000000000u64, "access_list": []}),
        json!({"type": 0, "chain_id": 56, "nonce": 0, "gas": 60000, "to": null, "value": 0,
               "data": "6080604052", "gas_price": "5000000000"}),
    ] {
        let answer = client
            .sign_data(&key.key_id, DataType::EthTx, &data)
            .await
            .unwrap();
        let raw = unhex(&answer["raw_transaction"]);
        assert_eq!(unhex(&answer["tx_hash"]), keccak256(&raw).0);
        let (tx, parity, _, _) = EthTransaction::decode_signed(&raw).unwrap();
        assert_eq!(tx, EthTransaction::from_json(&data).unwrap());
        assert_eq!(u64::from(parity) + 27, answer["v"].as_u64().unwrap());
        assert_eq!(recovered(&answer, &tx.signing_hash()), me);
    }

    // TRON: signed over the SHA-256 of the raw data, recovering to the key's TRON address.
    let raw = common_tron_transfer();
    let answer = client
        .sign_data(
            &key.key_id,
            DataType::TronTx,
            &json!({"raw_data_hex": hex::encode(&raw)}),
        )
        .await
        .unwrap();
    use sha2::Digest;
    let txid: [u8; 32] = sha2::Sha256::digest(&raw).into();
    assert_eq!(answer["tx_id"], hex::encode(txid));
    let signer = recovered(&answer, &txid);
    let signer = alloy_primitives::Address::from_slice(&hex::decode(&signer[2..]).unwrap());
    assert_eq!(Some(kms_chains::tron_address(&signer)), a.tron);

    // Bad input is a typed error naming the field, and nothing is signed.
    match client
        .sign_data(
            &key.key_id,
            DataType::EthTx,
            &json!({"type": 2, "chain_id": "one"}),
        )
        .await
    {
        Err(ChainSignError::Chain(kms_chains::ChainError::Field { field, .. })) => {
            assert_eq!(field, "data.chain_id")
        }
        other => panic!("expected a field error, got {other:?}"),
    }
}

/// A TRON TransferContract raw_data (protobuf by hand).
fn common_tron_transfer() -> Vec<u8> {
    fn bytes(field: u8, b: &[u8], out: &mut Vec<u8>) {
        out.push(field << 3 | 2);
        out.push(b.len() as u8);
        out.extend_from_slice(b);
    }
    let mut transfer = Vec::new();
    bytes(1, &[0x41; 21], &mut transfer);
    bytes(2, &[0x41; 21], &mut transfer);
    transfer.extend_from_slice(&[3 << 3, 100]);
    let mut any = Vec::new();
    bytes(1, b"type.googleapis.com/protocol.TransferContract", &mut any);
    bytes(2, &transfer, &mut any);
    let mut contract = vec![1 << 3, 1];
    bytes(2, &any, &mut contract);
    let mut raw = Vec::new();
    bytes(1, &[0xab, 0xcd], &mut raw);
    bytes(11, &contract, &mut raw);
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gg18_key_signs_a_psbt_whose_signatures_verify_against_recomputed_sighashes() {
    use bitcoin::sighash::{EcdsaSighashType, SighashCache};
    use bitcoin::{
        absolute, transaction, Amount, CompressedPublicKey, OutPoint, ScriptBuf, Sequence, Transaction, TxIn,
        TxOut, Witness,
    };
    let client = client();
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Gg18))
        .await
        .unwrap();
    let pk = CompressedPublicKey::from_slice(&hex::decode(&key.public_key).unwrap()).unwrap();
    let p2wpkh = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
    let p2pkh = ScriptBuf::new_p2pkh(&pk.pubkey_hash());
    // A previous transaction paying the key twice (P2WPKH and P2PKH).
    let prev = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(70_000),
                script_pubkey: p2wpkh.clone(),
            },
            TxOut {
                value: Amount::from_sat(30_000),
                script_pubkey: p2pkh.clone(),
            },
        ],
    };
    let spend = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: (0..2)
            .map(|vout| TxIn {
                previous_output: OutPoint {
                    txid: prev.compute_txid(),
                    vout,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: vec![TxOut {
            value: Amount::from_sat(99_000),
            script_pubkey: ScriptBuf::new_p2wpkh(&pk.wpubkey_hash()),
        }],
    };
    let mut psbt = bitcoin::Psbt::from_unsigned_tx(spend).unwrap();
    psbt.inputs[0].witness_utxo = Some(prev.output[0].clone());
    psbt.inputs[1].non_witness_utxo = Some(prev.clone());
    let answer = client
        .sign_data(
            &key.key_id,
            DataType::BtcPsbt,
            &json!({"psbt": psbt.to_string(), "finalize": true}),
        )
        .await
        .unwrap();
    assert_eq!(answer["signed_inputs"], json!([0, 1]));
    assert_eq!(answer["skipped_inputs"], json!([]));
    let tx: Transaction = bitcoin::consensus::deserialize(&unhex(&answer["raw_transaction"])).unwrap();
    let vk = VerifyingKey::from_sec1_bytes(&pk.to_bytes()).unwrap();
    let mut cache = SighashCache::new(&tx);
    // Input 0: witness [sig||01, pubkey] over the BIP-143 sighash.
    let witness: Vec<&[u8]> = tx.input[0].witness.iter().collect();
    assert_eq!(witness[1], &pk.to_bytes()[..]);
    let sighash = cache
        .p2wpkh_signature_hash(0, &p2wpkh, Amount::from_sat(70_000), EcdsaSighashType::All)
        .unwrap();
    let (der, ty) = witness[0].split_at(witness[0].len() - 1);
    assert_eq!(ty, [1]);
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    vk.verify_prehash(sighash.as_ref(), &Signature::from_der(der).unwrap())
        .unwrap();
    // Input 1: scriptSig <sig||01> <pubkey> over the legacy sighash.
    let pushes: Vec<Vec<u8>> = tx.input[1]
        .script_sig
        .instructions()
        .map(|i| i.unwrap().push_bytes().unwrap().as_bytes().to_vec())
        .collect();
    assert_eq!(pushes[1], pk.to_bytes());
    let sighash = cache.legacy_signature_hash(1, &p2pkh, 1).unwrap();
    let (der, ty) = pushes[0].split_at(pushes[0].len() - 1);
    assert_eq!(ty, [1]);
    vk.verify_prehash(sighash.as_ref(), &Signature::from_der(der).unwrap())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eddsa_key_signs_a_solana_transaction_and_offchain_message() {
    let client = client();
    let key = client
        .generate_key(GenerateKey::new(Algorithm::Eddsa))
        .await
        .unwrap();
    let pk: [u8; 32] = hex::decode(&key.public_key).unwrap().try_into().unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
    assert_eq!(
        addresses(&key).unwrap().solana,
        Some(bs58::encode(pk).into_string())
    );
    // A system transfer paid by the key.
    let mut msg = vec![1, 0, 1, 3];
    msg.extend_from_slice(&pk);
    msg.extend_from_slice(&[8; 32]);
    msg.extend_from_slice(&[0; 32]);
    msg.extend_from_slice(&[0x5a; 32]);
    msg.extend_from_slice(&[1, 2, 2, 0, 1, 12, 2, 0, 0, 0]);
    msg.extend_from_slice(&1_000u64.to_le_bytes());
    let answer = client
        .sign_data(
            &key.key_id,
            DataType::SolanaTx,
            &json!({"message": BASE64.encode(&msg)}),
        )
        .await
        .unwrap();
    let tx = BASE64.decode(answer["transaction"].as_str().unwrap()).unwrap();
    assert_eq!((tx[0], &tx[65..]), (1, &msg[..]));
    let sig = ed25519_dalek::Signature::from_slice(&tx[1..65]).unwrap();
    vk.verify_strict(&msg, &sig).unwrap();
    assert_eq!(unhex(&answer["signature"]), tx[1..65].to_vec());

    let answer = client
        .sign_data(
            &key.key_id,
            DataType::SolanaMessage,
            &json!({"message": "sign in to example.com"}),
        )
        .await
        .unwrap();
    let signed = unhex(&answer["signed_bytes"]);
    assert!(signed.starts_with(b"\xffsolana offchain"));
    assert!(signed.ends_with(b"sign in to example.com"));
    let sig = ed25519_dalek::Signature::from_slice(&unhex(&answer["signature"])).unwrap();
    vk.verify_strict(&signed, &sig).unwrap();
    // An Ed25519 key cannot sign an Ethereum transaction.
    assert!(matches!(
        client.sign_data(&key.key_id, DataType::EthTx, &json!({})).await,
        Err(ChainSignError::Chain(kms_chains::ChainError::WrongKey { .. }))
    ));
}
