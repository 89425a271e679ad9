//! The published vectors of every encoding, each test naming its source. Where a
//! vector gives a signature, the test feeds that signature in as the signing service's
//! answer and checks the chain form byte for byte; where it gives a private key, the
//! signing is done here with k256 (test-only: the service never holds a whole key).

use alloy_primitives::keccak256;
use k256::ecdsa::SigningKey;
use kms_chains::evm::tx::EthTransaction;
use kms_chains::{prepare, tron_address, Addresses, ChainError, DataType, KeyKind, Payload};
use serde_json::{json, Value};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

fn pubkey(sk: &SigningKey) -> Vec<u8> {
    sk.verifying_key().to_encoded_point(true).as_bytes().to_vec()
}

fn prehash(p: &kms_chains::Prepared) -> [u8; 32] {
    match &p.payloads()[0] {
        Payload::Prehash(d) => *d,
        other => panic!("expected a prehash, got {other:?}"),
    }
}

/// A signing service answer (r||s||v) made with a local key, for vectors that give a
/// private key.
fn local_sign(sk: &SigningKey, digest: &[u8; 32]) -> Vec<u8> {
    let (sig, recid) = sk.sign_prehash_recoverable(digest).unwrap();
    let mut out = sig.to_vec();
    out.push(27 + recid.to_byte());
    out
}

// ---- addresses -----------------------------------------------------------------

/// BIP-173's P2WPKH example is the generator point's key hash (mainnet and testnet);
/// the EVM address of the private key 1 is well known, and its P2PKH is the classic
/// `1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH`.
#[test]
fn addresses_of_the_generator_match_bip173_and_evm() {
    let g = unhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
    let a = Addresses::for_key(KeyKind::Secp256k1, &g).unwrap();
    assert_eq!(
        a.address.as_deref(),
        Some("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")
    );
    assert_eq!(
        a.evm.as_deref(),
        Some("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")
    );
    assert_eq!(
        a.btc_p2wpkh.as_deref(),
        Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    );
    assert_eq!(
        a.btc_p2wpkh_testnet.as_deref(),
        Some("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx")
    );
    assert_eq!(a.btc_p2pkh.as_deref(), Some("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"));
    assert_eq!(
        a.btc_p2pkh_testnet.as_deref(),
        Some("mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r")
    );
    // The uncompressed encoding of the same key has the same addresses.
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&g).unwrap();
    let long = Addresses::for_key(KeyKind::Secp256k1, vk.to_encoded_point(false).as_bytes()).unwrap();
    assert_eq!(long, a);
    // The JSON has exactly the API's names.
    let v = serde_json::to_value(&a).unwrap();
    let mut names: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "address",
            "btc_p2pkh",
            "btc_p2pkh_testnet",
            "btc_p2wpkh",
            "btc_p2wpkh_testnet",
            "evm",
            "tron"
        ]
    );
}

/// TRON's documented address pair (developers.tron.network, account address format).
#[test]
fn tron_address_matches_the_documented_pair() {
    let evm = alloy_primitives::Address::from_slice(&unhex("8840E6C55B9ADA326D211D818C34A994AECED808"));
    assert_eq!(tron_address(&evm), "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL");
    // The EIP-155 example key (derived locally, not published): EVM and TRON agree.
    let sk = SigningKey::from_slice(&[0x46; 32]).unwrap();
    let a = Addresses::for_key(KeyKind::Secp256k1, &pubkey(&sk)).unwrap();
    assert_eq!(
        a.evm.as_deref(),
        Some("0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F")
    );
    assert_eq!(a.tron.as_deref(), Some("TQLCsShbQNXMTVCjprY64qZmEA4rBarpQp"));
}

#[test]
fn solana_and_eth2_addresses() {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let pk = sk.verifying_key().to_bytes();
    let a = Addresses::for_key(KeyKind::Ed25519, &pk).unwrap();
    assert_eq!(a.solana.as_deref(), Some(bs58::encode(pk).into_string().as_str()));
    assert_eq!(a.address, a.solana.clone());
    let bls = [0x97u8; 48];
    let b = Addresses::for_key(KeyKind::Bls12381, &bls).unwrap();
    assert_eq!(
        b.eth2_pubkey.as_deref(),
        Some(format!("0x{}", "97".repeat(48)).as_str())
    );
    assert!(matches!(
        Addresses::for_key(KeyKind::Ed25519, &[1; 31]),
        Err(ChainError::BadPublicKey(_))
    ));
    assert!(matches!(
        Addresses::for_key(KeyKind::Secp256k1, &[&[2u8][..], &[0xff; 32]].concat()),
        Err(ChainError::BadPublicKey(_))
    ));
}

// ---- EVM -----------------------------------------------------------------------

fn eip155_tx() -> Value {
    json!({"type": 0, "chain_id": 1, "nonce": 9, "gas_price": "20000000000", "gas": 21000,
           "to": "0x3535353535353535353535353535353535353535", "value": "1000000000000000000", "data": "0x"})
}

/// EIP-155's example: signing data, its hash, and (with the published r and s as the
/// service's answer) the signed transaction byte for byte, v = 37.
#[test]
fn eip155_example_transaction() {
    let sk = SigningKey::from_slice(&[0x46; 32]).unwrap();
    let tx = EthTransaction::from_json(&eip155_tx()).unwrap();
    assert_eq!(
        hex::encode(tx.signing_payload()),
        "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080"
    );
    let p = prepare(DataType::EthTx, &eip155_tx(), KeyKind::Secp256k1, &pubkey(&sk)).unwrap();
    assert_eq!(
        hex::encode(prehash(&p)),
        "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
    );
    let mut service = unhex("28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276");
    service.extend(unhex(
        "67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83",
    ));
    let a = p.finish(&[service]).unwrap();
    assert_eq!(
        a["raw_transaction"],
        "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    );
    assert_eq!(a["v"], 27); // the API's v is 27 + recovery id; the raw transaction's is 37
    assert_eq!(
        a["tx_hash"].as_str().unwrap(),
        format!(
            "0x{}",
            hex::encode(keccak256(unhex(a["raw_transaction"].as_str().unwrap())))
        )
    );
}

/// web3.js `hashMessage("Hello World")`, also alloy-primitives' own test.
#[test]
fn eip191_hello_world() {
    let sk = SigningKey::from_slice(&[0x46; 32]).unwrap();
    let want = "a1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2";
    for data in [
        json!({"message": "Hello World"}),
        json!({"message_hex": hex::encode("Hello World")}),
    ] {
        let p = prepare(DataType::Eip191, &data, KeyKind::Secp256k1, &pubkey(&sk)).unwrap();
        assert_eq!(hex::encode(prehash(&p)), want);
    }
}

fn mail() -> Value {
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}
            ],
            "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
            "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"}, {"name": "contents", "type": "string"}]
        },
        "primaryType": "Mail",
        "domain": {"name": "Ether Mail", "version": "1", "chainId": 1, "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
        "message": {
            "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
            "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
            "contents": "Hello, Bob!"
        }
    })
}

/// EIP-712's Mail example (ethereum/EIPs assets/eip-712/Example.js at 68b7c485):
/// domain separator, struct hash, digest, and the signature of keccak256("cow").
#[test]
fn eip712_mail_example() {
    let sk = SigningKey::from_slice(&keccak256("cow").0).unwrap();
    let p = prepare(DataType::Eip712, &mail(), KeyKind::Secp256k1, &pubkey(&sk)).unwrap();
    assert_eq!(
        hex::encode(prehash(&p)),
        "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
    );
    assert_eq!(p.decoded()["domain"]["name"], "Ether Mail");
    let digest = prehash(&p);
    let a = p.finish(&[local_sign(&sk, &digest)]).unwrap();
    assert_eq!(
        a["domain_separator"],
        "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f"
    );
    assert_eq!(
        a["struct_hash"],
        "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e"
    );
    assert_eq!(
        a["r"],
        "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
    );
    assert_eq!(
        a["s"],
        "0x07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"
    );
    assert_eq!(a["v"], 28);
}

#[test]
fn eip712_accepts_nested_arrays_bytes_and_every_integer_width() {
    let sk = SigningKey::from_slice(&[3; 32]).unwrap();
    let doc = json!({
        "types": {
            "EIP712Domain": [{"name": "chainId", "type": "uint256"}, {"name": "salt", "type": "bytes32"}],
            "Leg": [{"name": "amount", "type": "int64"}, {"name": "tag", "type": "bytes4"}],
            "Order": [
                {"name": "legs", "type": "Leg[]"}, {"name": "grid", "type": "uint8[2][]"},
                {"name": "blob", "type": "bytes"}, {"name": "ok", "type": "bool"},
                {"name": "big", "type": "uint256"}, {"name": "neg", "type": "int256"}
            ]
        },
        "primaryType": "Order",
        "domain": {"chainId": "137", "salt": format!("0x{}", "11".repeat(32))},
        "message": {
            "legs": [{"amount": -5, "tag": "0xdeadbeef"}, {"amount": "9223372036854775807", "tag": "01020304"}],
            "grid": [[1, 2], [255, 0]],
            "blob": "0x", "ok": true,
            "big": "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            "neg": "-57896044618658097711785492504343953926634992332820282019728792003956564819968"
        }
    });
    let p = prepare(DataType::Eip712, &doc, KeyKind::Secp256k1, &pubkey(&sk)).unwrap();
    let digest = prehash(&p);
    let a = p.finish(&[local_sign(&sk, &digest)]).unwrap();
    assert_eq!(
        a["digest"].as_str().unwrap(),
        format!("0x{}", hex::encode(digest))
    );
}

#[test]
fn malformed_typed_data_names_the_field() {
    let sk = SigningKey::from_slice(&[3; 32]).unwrap();
    let pk = pubkey(&sk);
    let case = |edit: &dyn Fn(&mut Value)| {
        let mut doc = mail();
        edit(&mut doc);
        match prepare(DataType::Eip712, &doc, KeyKind::Secp256k1, &pk) {
            Err(ChainError::Field { field, reason }) => (field, reason),
            other => panic!("expected a field error, got {other:?}"),
        }
    };
    let (f, _) = case(&|d| {
        d["message"]["to"].as_object_mut().unwrap().remove("wallet");
    });
    assert_eq!(f, "data.message.to.wallet");
    let (f, r) = case(&|d| d["types"]["Person"][1]["type"] = "adress".into());
    assert_eq!(f, "data.types.Person[1].type");
    assert!(r.contains("unknown type"), "{r}");
    let (f, r) = case(&|d| d["types"]["Person"][1] = json!({"name": "boss", "type": "Mail"}));
    assert!(f.starts_with("data.types."), "{f}");
    assert!(r.contains("cycle"), "{r}");
    let (f, _) = case(&|d| {
        d["types"]["Person"][1] = json!({"name": "wallet", "type": "uint8"});
        d["message"]["from"]["wallet"] = 256.into();
    });
    assert_eq!(f, "data.message.from.wallet");
    let (f, _) = case(&|d| d["message"]["from"]["wallet"] = "0x1234".into());
    assert_eq!(f, "data.message.from.wallet");
    let (f, r) = case(&|d| d["message"]["cc"] = "eve".into());
    assert_eq!((f.as_str(), r.as_str()), ("data.message.cc", "unknown field"));
    let (f, _) = case(&|d| d["primaryType"] = "Letter".into());
    assert_eq!(f, "data.primaryType");
    let (f, _) = case(&|d| d["domain"]["chainId"] = "one".into());
    assert_eq!(f, "data.domain.chainId");
}

#[test]
fn eth_transactions_of_every_type_decode_back() {
    let sk = SigningKey::from_slice(&[0x46; 32]).unwrap();
    let common = json!({"chain_id": "137", "nonce": 7, "gas": 90000, "value": "123456789012345678901234",
                        "data": "a9059cbb"});
    let mut types = Vec::new();
    for (ty, extra) in [
        (0, json!({"gas_price": 1, "to": null})),
        (
            1,
            json!({"gas_price": 2, "to": "0x3535353535353535353535353535353535353535",
                   "access_list": [{"address": "0x1111111111111111111111111111111111111111",
                                    "storage_keys": [format!("0x{}", "22".repeat(32))]}]}),
        ),
        (
            2,
            json!({"max_priority_fee_per_gas": "1000000000", "max_fee_per_gas": 30000000000u64,
                   "to": "3535353535353535353535353535353535353535", "access_list": []}),
        ),
    ] {
        let mut data = common.clone();
        data["type"] = ty.into();
        data.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let want = EthTransaction::from_json(&data).unwrap();
        let p = prepare(DataType::EthTx, &data, KeyKind::Secp256k1, &pubkey(&sk)).unwrap();
        let digest = prehash(&p);
        let a = p.finish(&[local_sign(&sk, &digest)]).unwrap();
        let raw = unhex(a["raw_transaction"].as_str().unwrap());
        let (back, parity, r, s) = EthTransaction::decode_signed(&raw).unwrap();
        assert_eq!(back, want);
        assert_eq!(u64::from(parity) + 27, a["v"].as_u64().unwrap());
        assert_eq!(format!("0x{}", hex::encode(r.to_be_bytes::<32>())), a["r"]);
        assert_eq!(format!("0x{}", hex::encode(s.to_be_bytes::<32>())), a["s"]);
        // Every prefix of the raw transaction is refused with a typed error.
        for cut in 0..raw.len() {
            assert!(matches!(
                EthTransaction::decode_signed(&raw[..cut]),
                Err(ChainError::Field { .. })
            ));
        }
        types.push(raw[0]);
    }
    assert!(types[0] >= 0xc0);
    assert_eq!(&types[1..], &[1, 2]);
}

#[test]
fn bad_eth_transactions_are_typed_errors() {
    let sk = SigningKey::from_slice(&[0x46; 32]).unwrap();
    let pk = pubkey(&sk);
    let field = |data: Value| match prepare(DataType::EthTx, &data, KeyKind::Secp256k1, &pk) {
        Err(ChainError::Field { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    };
    let with = |k: &str, v: Value| {
        let mut d = eip155_tx();
        d[k] = v;
        d
    };
    assert_eq!(field(with("type", 3.into())), "data.type");
    assert_eq!(field(with("chain_id", "abc".into())), "data.chain_id");
    assert_eq!(field(with("chain_id", 1.5.into())), "data.chain_id");
    assert_eq!(field(with("chain_id", (-1).into())), "data.chain_id");
    assert_eq!(field(with("to", "0x3535".into())), "data.to");
    assert_eq!(
        field(with("value", format!("1{}", "0".repeat(80)).into())),
        "data.value"
    );
    assert_eq!(field(with("max_fee_per_gas", 1.into())), "data.max_fee_per_gas"); // not a type 0 field
    assert_eq!(field(with("data", "0xzz".into())), "data.data");
    let mut d = eip155_tx();
    d.as_object_mut().unwrap().remove("nonce");
    assert_eq!(field(d), "data.nonce");
    // An Ed25519 key cannot sign an Ethereum transaction.
    let ed = ed25519_dalek::SigningKey::from_bytes(&[1; 32])
        .verifying_key()
        .to_bytes();
    assert!(matches!(
        prepare(DataType::EthTx, &eip155_tx(), KeyKind::Ed25519, &ed),
        Err(ChainError::WrongKey {
            data_type: "ETH_TX",
            ..
        })
    ));
}

#[test]
fn a_signature_for_another_digest_or_key_is_refused() {
    let sk = SigningKey::from_slice(&[0x46; 32]).unwrap();
    let p = prepare(
        DataType::Hash,
        &json!("11".repeat(32)),
        KeyKind::Secp256k1,
        &pubkey(&sk),
    )
    .unwrap();
    let other = SigningKey::from_slice(&[0x47; 32]).unwrap();
    assert!(matches!(
        p.clone().finish(&[local_sign(&other, &[0x11; 32])]),
        Err(ChainError::BadSignature(_))
    ));
    assert!(matches!(
        p.clone().finish(&[local_sign(&sk, &[0x12; 32])]),
        Err(ChainError::BadSignature(_))
    ));
    assert!(matches!(
        p.clone().finish(&[vec![0; 65]]),
        Err(ChainError::BadSignature(_))
    ));
    assert!(matches!(p.clone().finish(&[]), Err(ChainError::BadSignature(_))));
    // A high-s signature is normalised to low-s, and v follows.
    let (sig, _) = sk.sign_prehash_recoverable(&[0x11; 32]).unwrap();
    let (r, s) = sig.split_scalars();
    let high = k256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    let a = p.finish(&[high.to_vec()]).unwrap();
    assert_eq!(
        a["s"].as_str().unwrap(),
        format!("0x{}", hex::encode(sig.s().to_bytes()))
    );
}

// ---- Bitcoin -------------------------------------------------------------------

/// BIP-143's native P2WPKH example: input 1 (6 BTC) is the key's; input 0 (P2PK) is not.
fn bip143_psbt() -> (SigningKey, String) {
    use bitcoin::consensus::deserialize;
    let tx: bitcoin::Transaction = deserialize(&unhex(
        "0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac11000000",
    ))
    .unwrap();
    let mut psbt = bitcoin::Psbt::from_unsigned_tx(tx).unwrap();
    psbt.inputs[0].witness_utxo = Some(bitcoin::TxOut {
        value: bitcoin::Amount::from_sat(625_000_000),
        script_pubkey: bitcoin::ScriptBuf::from_bytes(unhex(
            "2103c9f4836b9a4f77fc0d81f7bcb01b7f1b35916864b9476c241ce9fc198bd25432ac",
        )),
    });
    psbt.inputs[1].witness_utxo = Some(bitcoin::TxOut {
        value: bitcoin::Amount::from_sat(600_000_000),
        script_pubkey: bitcoin::ScriptBuf::from_bytes(unhex("00141d0f172a0ecb48aee1be1f2687d2963ae33f71a1")),
    });
    let sk = SigningKey::from_slice(&unhex(
        "619c335025c7f4012e556c2a58b2506e30b8511b53ade95ea316fd8c3286feb9",
    ))
    .unwrap();
    (sk, psbt.to_string())
}

#[test]
fn bip143_native_p2wpkh_sighash_and_signature() {
    let (sk, b64) = bip143_psbt();
    assert_eq!(
        hex::encode(pubkey(&sk)),
        "025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee6357"
    );
    let p = prepare(
        DataType::BtcPsbt,
        &json!({"psbt": b64, "finalize": false}),
        KeyKind::Secp256k1,
        &pubkey(&sk),
    )
    .unwrap();
    assert_eq!(p.payloads().len(), 1);
    assert_eq!(
        hex::encode(prehash(&p)),
        "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670"
    );
    let digest = prehash(&p);
    let a = p.finish(&[local_sign(&sk, &digest)]).unwrap();
    assert_eq!(a["signed_inputs"], json!([1]));
    assert_eq!(a["skipped_inputs"], json!([0]));
    // RFC 6979 makes the signature BIP-143's, byte for byte.
    assert_eq!(
        a["signatures"][0]["der"],
        "0x304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee01"
    );
    let signed: bitcoin::Psbt = a["psbt"].as_str().unwrap().parse().unwrap();
    assert_eq!(signed.inputs[1].partial_sigs.len(), 1);
    assert!(signed.inputs[0].partial_sigs.is_empty());
    // Finalizing needs every input final; input 0 is someone else's.
    let p = prepare(
        DataType::BtcPsbt,
        &json!({"psbt": b64, "finalize": true}),
        KeyKind::Secp256k1,
        &pubkey(&sk),
    )
    .unwrap();
    match p.finish(&[local_sign(&sk, &digest)]) {
        Err(ChainError::Field { field, .. }) => assert_eq!(field, "data.psbt.inputs[0]"),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_psbt_without_an_input_of_the_key_is_refused() {
    let (_, b64) = bip143_psbt();
    let stranger = SigningKey::from_slice(&[9; 32]).unwrap();
    assert_eq!(
        prepare(
            DataType::BtcPsbt,
            &json!({"psbt": b64}),
            KeyKind::Secp256k1,
            &pubkey(&stranger)
        )
        .unwrap_err(),
        ChainError::NoInputOfKey
    );
    for bad in [
        json!({"psbt": "cHNidP8="}),
        json!({"psbt": "not base64!"}),
        json!({"psbt": b64[..40].to_string()}),
    ] {
        match prepare(DataType::BtcPsbt, &bad, KeyKind::Secp256k1, &pubkey(&stranger)) {
            Err(ChainError::Field { field, .. }) => assert_eq!(field, "data.psbt"),
            other => panic!("expected a field error, got {other:?}"),
        }
    }
}

// ---- TRON ----------------------------------------------------------------------

/// A TransferContract raw_data, protobuf-encoded by hand (field numbers from TRON's
/// Tron.proto / balance_contract.proto).
pub fn tron_transfer(from: &[u8; 21], to: &[u8; 21], amount: u64) -> Vec<u8> {
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn bytes(field: u64, b: &[u8], out: &mut Vec<u8>) {
        varint(field << 3 | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }
    let mut transfer = Vec::new();
    bytes(1, from, &mut transfer);
    bytes(2, to, &mut transfer);
    varint(3 << 3, &mut transfer);
    varint(amount, &mut transfer);
    let mut any = Vec::new();
    bytes(1, b"type.googleapis.com/protocol.TransferContract", &mut any);
    bytes(2, &transfer, &mut any);
    let mut contract = Vec::new();
    varint(1 << 3, &mut contract);
    varint(1, &mut contract);
    bytes(2, &any, &mut contract);
    let mut raw = Vec::new();
    bytes(1, &[0xab, 0xcd], &mut raw); // ref_block_bytes
    bytes(4, &[0x11; 8], &mut raw); // ref_block_hash
    varint(8 << 3, &mut raw);
    varint(1_700_000_060_000, &mut raw); // expiration
    bytes(11, &contract, &mut raw);
    varint(14 << 3, &mut raw);
    varint(1_700_000_000_000, &mut raw); // timestamp
    raw
}

#[test]
fn tron_transfer_is_decoded_and_signed_over_its_sha256() {
    use sha2::Digest;
    let sk = SigningKey::from_slice(&[0x46; 32]).unwrap();
    let mut to = [0x41; 21];
    to[1..].copy_from_slice(&unhex("8840E6C55B9ADA326D211D818C34A994AECED808"));
    let raw = tron_transfer(&[0x41; 21], &to, 1_000_000);
    let p = prepare(
        DataType::TronTx,
        &json!({"raw_data_hex": hex::encode(&raw)}),
        KeyKind::Secp256k1,
        &pubkey(&sk),
    )
    .unwrap();
    assert_eq!(p.decoded()["to"], "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL");
    assert_eq!(p.decoded()["amount"], 1_000_000);
    assert_eq!(prehash(&p), <[u8; 32]>::from(sha2::Sha256::digest(&raw)));
    let digest = prehash(&p);
    let a = p.finish(&[local_sign(&sk, &digest)]).unwrap();
    assert_eq!(a["tx_id"], hex::encode(digest));
    // Truncations and garbage are refused.
    for cut in [1, 5, raw.len() - 1] {
        assert!(prepare(
            DataType::TronTx,
            &json!({"raw_data_hex": hex::encode(&raw[..cut])}),
            KeyKind::Secp256k1,
            &pubkey(&sk)
        )
        .is_err());
    }
    assert!(prepare(
        DataType::TronTx,
        &json!({"raw_data_hex": "ffffffff"}),
        KeyKind::Secp256k1,
        &pubkey(&sk)
    )
    .is_err());
}

// ---- Solana --------------------------------------------------------------------

/// A legacy message: the key pays and sends `lamports` to `to` (system transfer).
pub fn solana_transfer(from: &[u8; 32], to: &[u8; 32], lamports: u64) -> Vec<u8> {
    let mut m = vec![1, 0, 1, 3];
    m.extend_from_slice(from);
    m.extend_from_slice(to);
    m.extend_from_slice(&[0; 32]); // the system program
    m.extend_from_slice(&[0x5a; 32]); // recent blockhash
    m.extend_from_slice(&[1, 2, 2, 0, 1, 12]);
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&lamports.to_le_bytes());
    m
}

#[test]
fn solana_transaction_is_signed_in_the_keys_slot() {
    use bitcoin::base64::{engine::general_purpose::STANDARD, Engine};
    use ed25519_dalek::Signer;
    let sk = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let pk = sk.verifying_key().to_bytes();
    let msg = solana_transfer(&pk, &[8; 32], 42);
    let p = prepare(
        DataType::SolanaTx,
        &json!({"message": STANDARD.encode(&msg)}),
        KeyKind::Ed25519,
        &pk,
    )
    .unwrap();
    assert_eq!(p.decoded()["transfers"][0]["lamports"], 42);
    assert_eq!(p.payloads(), &[Payload::Message(msg.clone())]);
    let sig = sk.sign(&msg).to_bytes();
    let a = p.finish(&[sig.to_vec()]).unwrap();
    let tx = STANDARD.decode(a["transaction"].as_str().unwrap()).unwrap();
    assert_eq!(tx[0], 1);
    assert_eq!(&tx[1..65], &sig);
    assert_eq!(&tx[65..], &msg[..]);
    // Not a signer; truncated; a wrong signature.
    let other = ed25519_dalek::SigningKey::from_bytes(&[6; 32])
        .verifying_key()
        .to_bytes();
    assert!(prepare(
        DataType::SolanaTx,
        &json!({"message": STANDARD.encode(&msg)}),
        KeyKind::Ed25519,
        &other
    )
    .is_err());
    assert!(prepare(
        DataType::SolanaTx,
        &json!({"message": STANDARD.encode(&msg[..msg.len() - 1])}),
        KeyKind::Ed25519,
        &pk
    )
    .is_err());
    let p = prepare(
        DataType::SolanaTx,
        &json!({"message": STANDARD.encode(&msg)}),
        KeyKind::Ed25519,
        &pk,
    )
    .unwrap();
    assert!(matches!(
        p.finish(&[vec![0; 64]]),
        Err(ChainError::BadSignature(_))
    ));
}

/// The off-chain message preamble of the proposal (docs.anza.xyz proposals/
/// off-chain-message-signing): the layout at the documented offsets, the format chosen
/// by content, and the length limits.
#[test]
fn solana_offchain_message_preamble() {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let pk = sk.verifying_key().to_bytes();
    let bytes = |text: &str| match prepare(
        DataType::SolanaMessage,
        &json!({"message": text}),
        KeyKind::Ed25519,
        &pk,
    ) {
        Ok(p) => Ok(p.payloads()[0].as_bytes().to_vec()),
        Err(e) => Err(e),
    };
    let b = bytes("hello").unwrap();
    assert_eq!(&b[..16], b"\xffsolana offchain");
    assert_eq!(b[0x10], 0); // header version
    assert_eq!(&b[0x11..0x31], &[0; 32]); // application domain
    assert_eq!(b[0x31], 0); // restricted ASCII
    assert_eq!(b[0x32], 1); // one signer
    assert_eq!(&b[0x33..0x53], &pk);
    assert_eq!(&b[0x53..0x55], &5u16.to_le_bytes());
    assert_eq!(&b[0x55..], b"hello");
    assert_eq!(bytes("h\u{e9}llo").unwrap()[0x31], 1);
    assert_eq!(bytes(&"a".repeat(1213)).unwrap()[0x31], 2);
    assert!(bytes(&"a".repeat(65516)).is_err());
    assert!(bytes("").is_err());
}

#[test]
fn unknown_data_types_and_wrong_keys() {
    assert_eq!(
        "SIGN_ANYTHING".parse::<DataType>().unwrap_err(),
        ChainError::UnknownDataType("SIGN_ANYTHING".into())
    );
    for d in DataType::ALL {
        assert_eq!(d.as_str().parse::<DataType>().unwrap(), d);
    }
    let bls = [0x97u8; 48];
    assert!(matches!(
        prepare(
            DataType::SolanaTx,
            &json!({"message": ""}),
            KeyKind::Bls12381,
            &bls
        ),
        Err(ChainError::WrongKey { .. })
    ));
    assert!(matches!(
        prepare(
            DataType::Hash,
            &json!("11"),
            KeyKind::Secp256k1,
            &pubkey(&SigningKey::from_slice(&[1; 32]).unwrap())
        ),
        Err(ChainError::Field { .. })
    ));
}
