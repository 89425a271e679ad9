//! Bitcoin: signing the inputs of a PSBT (BIP-174) that spend the key's P2WPKH
//! (BIP-143 sighash) or P2PKH (legacy sighash) outputs, with rust-bitcoin's parser and
//! sighash code.

use crate::ecdsa::EcdsaSignature;
use crate::value::{object, only, to_hex};
use crate::ChainError;
use bitcoin::psbt::Psbt;
use bitcoin::script::PushBytesBuf;
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{CompressedPublicKey, ScriptBuf, TxOut, Witness};
use serde_json::{json, Map, Value};
use std::str::FromStr;

/// How a signed input spends the key's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpendKind {
    /// Native SegWit v0 pay-to-witness-public-key-hash.
    P2wpkh,
    /// Legacy pay-to-public-key-hash.
    P2pkh,
}

/// One input the key signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputToSign {
    /// Its index in the transaction.
    pub index: usize,
    /// How it spends.
    pub kind: SpendKind,
    /// The sighash type (from the PSBT, default ALL).
    pub sighash_type: EcdsaSighashType,
    /// The sighash: the digest to sign.
    pub sighash: [u8; 32],
}

/// A parsed `BTC_PSBT` input with the digests the key signs.
#[derive(Clone, Debug)]
pub struct PsbtSigning {
    psbt: Psbt,
    key: CompressedPublicKey,
    finalize: bool,
    /// The inputs the key signs, in order.
    pub inputs: Vec<InputToSign>,
    /// The inputs that are not the key's.
    pub skipped: Vec<usize>,
}

impl PsbtSigning {
    /// Parse `{"psbt": base64, "finalize": bool}` and compute the sighash of every input
    /// that spends one of `key`'s outputs.
    pub fn prepare(data: &Value, key: &k256::ecdsa::VerifyingKey) -> Result<Self, ChainError> {
        let obj = object("data", data)?;
        only(obj, "data", &["psbt", "finalize"])?;
        let b64 = crate::value::string(obj, "data", "psbt")?;
        let finalize = match obj.get("finalize") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ChainError::field("data.finalize", "expected true or false")),
        };
        let psbt =
            Psbt::from_str(b64).map_err(|e| ChainError::field("data.psbt", format!("not a PSBT: {e}")))?;
        let key = CompressedPublicKey::from_slice(key.to_encoded_point(true).as_bytes())
            .map_err(|_| ChainError::BadPublicKey("secp256k1"))?;
        let p2wpkh = ScriptBuf::new_p2wpkh(&key.wpubkey_hash());
        let p2pkh = ScriptBuf::new_p2pkh(&key.pubkey_hash());
        let tx = psbt.unsigned_tx.clone();
        let mut cache = SighashCache::new(&tx);
        let mut inputs = Vec::new();
        let mut skipped = Vec::new();
        for (index, input) in psbt.inputs.iter().enumerate() {
            let path = format!("data.psbt.inputs[{index}]");
            let Some(prevout) = spent_output(&psbt, index)? else {
                skipped.push(index);
                continue;
            };
            let kind = if prevout.script_pubkey == p2wpkh {
                SpendKind::P2wpkh
            } else if prevout.script_pubkey == p2pkh {
                if input.non_witness_utxo.is_none() {
                    // Legacy sighashes do not commit to amounts: only the full previous
                    // transaction proves what is spent.
                    return Err(ChainError::field(
                        path,
                        "a P2PKH input needs its non_witness_utxo",
                    ));
                }
                SpendKind::P2pkh
            } else {
                skipped.push(index);
                continue;
            };
            let sighash_type = match input.sighash_type {
                None => EcdsaSighashType::All,
                Some(t) => t
                    .ecdsa_hash_ty()
                    .map_err(|e| ChainError::field(format!("{path}.sighash_type"), e.to_string()))?,
            };
            let sighash: [u8; 32] = match kind {
                SpendKind::P2wpkh => *cache
                    .p2wpkh_signature_hash(index, &prevout.script_pubkey, prevout.value, sighash_type)
                    .map_err(|e| ChainError::field(&path, format!("sighash: {e}")))?
                    .as_ref(),
                SpendKind::P2pkh => *cache
                    .legacy_signature_hash(index, &prevout.script_pubkey, sighash_type.to_u32())
                    .map_err(|e| ChainError::field(&path, format!("sighash: {e}")))?
                    .as_ref(),
            };
            inputs.push(InputToSign {
                index,
                kind,
                sighash_type,
                sighash,
            });
        }
        if inputs.is_empty() {
            return Err(ChainError::NoInputOfKey);
        }
        Ok(Self {
            psbt,
            key,
            finalize,
            inputs,
            skipped,
        })
    }

    /// The outputs and amounts, as risk rules read them.
    pub fn summary(&self) -> Value {
        let outputs: Vec<Value> = self
            .psbt
            .unsigned_tx
            .output
            .iter()
            .map(|o| json!({"script_pubkey": to_hex(o.script_pubkey.as_bytes()), "value_sat": o.value.to_sat()}))
            .collect();
        json!({
            "inputs": self.psbt.unsigned_tx.input.len(),
            "signed_inputs": self.inputs.iter().map(|i| i.index).collect::<Vec<_>>(),
            "outputs": outputs,
        })
    }

    /// Add the signatures (one per [`inputs`](Self::inputs) entry, in order, as the
    /// service returned them) and, if asked, finalize and extract the transaction.
    pub fn finish(mut self, signatures: &[Vec<u8>]) -> Result<Map<String, Value>, ChainError> {
        if signatures.len() != self.inputs.len() {
            return Err(ChainError::BadSignature(format!(
                "{} signatures for {} inputs",
                signatures.len(),
                self.inputs.len()
            )));
        }
        let vk = crate::ecdsa::verifying_key(&self.key.to_bytes())?;
        let pubkey = bitcoin::PublicKey::from(self.key);
        let mut answers = Vec::new();
        for (input, raw) in self.inputs.iter().zip(signatures) {
            let sig = EcdsaSignature::from_service(raw, &input.sighash, &vk)?;
            let mut compact = [0u8; 64];
            compact[..32].copy_from_slice(&sig.r());
            compact[32..].copy_from_slice(&sig.s());
            let signature = bitcoin::secp256k1::ecdsa::Signature::from_compact(&compact)
                .map_err(|e| ChainError::BadSignature(e.to_string()))?;
            let btc_sig = bitcoin::ecdsa::Signature {
                signature,
                sighash_type: input.sighash_type,
            };
            let psbt_input = &mut self.psbt.inputs[input.index];
            psbt_input.partial_sigs.insert(pubkey, btc_sig);
            if self.finalize {
                match input.kind {
                    SpendKind::P2wpkh => {
                        psbt_input.final_script_witness = Some(Witness::p2wpkh(&btc_sig, &self.key.0));
                    }
                    SpendKind::P2pkh => {
                        let sig_push = PushBytesBuf::try_from(btc_sig.to_vec())
                            .map_err(|e| ChainError::BadSignature(e.to_string()))?;
                        psbt_input.final_script_sig = Some(
                            bitcoin::script::Builder::new()
                                .push_slice(sig_push)
                                .push_key(&pubkey)
                                .into_script(),
                        );
                    }
                }
                // BIP-174 finalizer: everything but the final scripts and UTXOs goes.
                psbt_input.partial_sigs.clear();
                psbt_input.sighash_type = None;
                psbt_input.redeem_script = None;
                psbt_input.witness_script = None;
                psbt_input.bip32_derivation.clear();
            }
            let mut a = sig.answer();
            a.insert("input".into(), input.index.into());
            a.insert("der".into(), to_hex(btc_sig.to_vec()).into());
            answers.push(Value::Object(a));
        }
        let mut m = Map::new();
        m.insert(
            "signed_inputs".into(),
            json!(self.inputs.iter().map(|i| i.index).collect::<Vec<_>>()),
        );
        m.insert("skipped_inputs".into(), json!(self.skipped));
        m.insert("signatures".into(), Value::Array(answers));
        if self.finalize {
            if let Some(open) = self
                .psbt
                .inputs
                .iter()
                .position(|i| i.final_script_sig.is_none() && i.final_script_witness.is_none())
            {
                return Err(ChainError::field(
                    format!("data.psbt.inputs[{open}]"),
                    "not this key's and not finalized: the transaction cannot be extracted (sign with finalize=false)",
                ));
            }
            let tx = self.psbt.clone().extract_tx_unchecked_fee_rate();
            m.insert(
                "raw_transaction".into(),
                bitcoin::consensus::encode::serialize_hex(&tx).into(),
            );
            m.insert("tx_id".into(), tx.compute_txid().to_string().into());
        }
        m.insert("psbt".into(), self.psbt.to_string().into());
        Ok(m)
    }
}

/// The output input `index` spends: from `witness_utxo`, or from `non_witness_utxo`
/// checked against the outpoint's txid (a mismatch would sign a different amount).
fn spent_output(psbt: &Psbt, index: usize) -> Result<Option<TxOut>, ChainError> {
    let input = &psbt.inputs[index];
    let outpoint = psbt.unsigned_tx.input[index].previous_output;
    let path = format!("data.psbt.inputs[{index}]");
    let from_full = match &input.non_witness_utxo {
        Some(prev) => {
            if prev.compute_txid() != outpoint.txid {
                return Err(ChainError::field(
                    path,
                    "non_witness_utxo does not match the outpoint's txid",
                ));
            }
            let out = prev.output.get(outpoint.vout as usize).cloned().ok_or_else(|| {
                ChainError::field(&path, "outpoint index beyond non_witness_utxo's outputs")
            })?;
            Some(out)
        }
        None => None,
    };
    match (&input.witness_utxo, from_full) {
        (Some(w), Some(f)) if *w != f => Err(ChainError::field(
            path,
            "witness_utxo and non_witness_utxo disagree",
        )),
        (Some(w), _) => Ok(Some(w.clone())),
        (None, f) => Ok(f),
    }
}
