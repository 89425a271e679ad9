//! Ethereum transactions: legacy (signed as EIP-155), EIP-2930 (type 1) and EIP-1559
//! (type 2), RLP-encoded with alloy-rlp.
//!
//! alloy-consensus would do this too, but needs a newer Rust than the workspace's
//! MSRV; the encodings are short, fixed by the EIPs, and pinned here by the EIP-155
//! vector and by decoding every signed transaction back.

use crate::ecdsa::EcdsaSignature;
use crate::value::{hex_array, hex_bytes, member, object, only, to_hex, uint, uint64};
use crate::ChainError;
use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_rlp::{Decodable, Encodable, Header};
use serde_json::{json, Value};

/// One access-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessListItem {
    /// The account.
    pub address: Address,
    /// Its storage slots.
    pub storage_keys: Vec<B256>,
}

/// The fee fields, by transaction type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fees {
    /// Types 0 and 1.
    GasPrice(U256),
    /// Type 2.
    Eip1559 {
        /// `max_priority_fee_per_gas`.
        max_priority_fee_per_gas: U256,
        /// `max_fee_per_gas`.
        max_fee_per_gas: U256,
    },
}

/// An unsigned Ethereum transaction, as the `ETH_TX` input describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthTransaction {
    /// 0 (legacy, EIP-155), 1 (EIP-2930) or 2 (EIP-1559).
    pub tx_type: u8,
    /// The chain id (also in a legacy transaction's v, by EIP-155).
    pub chain_id: u64,
    /// The sender's nonce.
    pub nonce: u64,
    /// The gas limit.
    pub gas: u64,
    /// The recipient; `None` creates a contract.
    pub to: Option<Address>,
    /// Wei sent.
    pub value: U256,
    /// Call data.
    pub data: Vec<u8>,
    /// The fee fields.
    pub fees: Fees,
    /// Types 1 and 2 only.
    pub access_list: Vec<AccessListItem>,
}

impl EthTransaction {
    /// Parse an `ETH_TX` input.
    pub fn from_json(data: &Value) -> Result<Self, ChainError> {
        let obj = object("data", data)?;
        let tx_type = uint64("data.type", member(obj, "data", "type")?)?;
        let tx_type = match tx_type {
            0..=2 => tx_type as u8,
            _ => return Err(ChainError::field("data.type", "must be 0, 1 or 2")),
        };
        let mut allowed = vec!["type", "chain_id", "nonce", "gas", "to", "value", "data"];
        allowed.extend(match tx_type {
            0 => &["gas_price"][..],
            1 => &["gas_price", "access_list"][..],
            _ => &["max_priority_fee_per_gas", "max_fee_per_gas", "access_list"][..],
        });
        only(obj, "data", &allowed)?;
        let chain_id = uint64("data.chain_id", member(obj, "data", "chain_id")?)?;
        if chain_id == 0 {
            return Err(ChainError::field("data.chain_id", "must be positive"));
        }
        if tx_type == 0 && chain_id > (u64::MAX - 36) / 2 {
            return Err(ChainError::field("data.chain_id", "too large for an EIP-155 v"));
        }
        let to = match member(obj, "data", "to")? {
            Value::Null => None,
            v => Some(Address::from(hex_array::<20>("data.to", v)?)),
        };
        let fees = if tx_type == 2 {
            let max_priority_fee_per_gas = uint(
                "data.max_priority_fee_per_gas",
                member(obj, "data", "max_priority_fee_per_gas")?,
            )?;
            let max_fee_per_gas = uint("data.max_fee_per_gas", member(obj, "data", "max_fee_per_gas")?)?;
            if max_priority_fee_per_gas > max_fee_per_gas {
                return Err(ChainError::field(
                    "data.max_priority_fee_per_gas",
                    "exceeds max_fee_per_gas",
                ));
            }
            Fees::Eip1559 {
                max_priority_fee_per_gas,
                max_fee_per_gas,
            }
        } else {
            Fees::GasPrice(uint("data.gas_price", member(obj, "data", "gas_price")?)?)
        };
        let access_list = match obj.get("access_list") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => access_list(v)?,
        };
        Ok(Self {
            tx_type,
            chain_id,
            nonce: uint64("data.nonce", member(obj, "data", "nonce")?)?,
            gas: uint64("data.gas", member(obj, "data", "gas")?)?,
            to,
            value: uint("data.value", member(obj, "data", "value")?)?,
            data: match obj.get("data") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => hex_bytes("data.data", v)?,
            },
            fees,
            access_list,
        })
    }

    /// The fields, as risk rules read them.
    pub fn summary(&self) -> Value {
        let mut v = json!({
            "type": self.tx_type,
            "chain_id": self.chain_id,
            "nonce": self.nonce,
            "gas": self.gas,
            "to": self.to.map(|a| a.to_checksum(None)),
            "value": self.value.to_string(),
            "data_len": self.data.len(),
        });
        match &self.fees {
            Fees::GasPrice(p) => v["gas_price"] = p.to_string().into(),
            Fees::Eip1559 {
                max_priority_fee_per_gas,
                max_fee_per_gas,
            } => {
                v["max_priority_fee_per_gas"] = max_priority_fee_per_gas.to_string().into();
                v["max_fee_per_gas"] = max_fee_per_gas.to_string().into();
            }
        }
        v
    }

    /// The bytes whose Keccak-256 is signed.
    pub fn signing_payload(&self) -> Vec<u8> {
        let mut fields = Vec::new();
        self.encode_fields(&mut fields);
        if self.tx_type == 0 {
            // EIP-155: chain id, then two empty values, in place of v, r, s.
            self.chain_id.encode(&mut fields);
            0u8.encode(&mut fields);
            0u8.encode(&mut fields);
        }
        self.envelope(&fields)
    }

    /// The digest to sign.
    pub fn signing_hash(&self) -> [u8; 32] {
        keccak256(self.signing_payload()).0
    }

    /// The signed transaction, ready for `eth_sendRawTransaction`.
    pub fn signed(&self, sig: &EcdsaSignature) -> Vec<u8> {
        let mut fields = Vec::new();
        self.encode_fields(&mut fields);
        let parity = u64::from(sig.recovery_id() & 1);
        if self.tx_type == 0 {
            (parity + 35 + 2 * self.chain_id).encode(&mut fields);
        } else {
            parity.encode(&mut fields);
        }
        U256::from_be_bytes(sig.r()).encode(&mut fields);
        U256::from_be_bytes(sig.s()).encode(&mut fields);
        self.envelope(&fields)
    }

    fn encode_fields(&self, out: &mut Vec<u8>) {
        if self.tx_type != 0 {
            self.chain_id.encode(out);
        }
        self.nonce.encode(out);
        match &self.fees {
            Fees::GasPrice(p) => p.encode(out),
            Fees::Eip1559 {
                max_priority_fee_per_gas,
                max_fee_per_gas,
            } => {
                max_priority_fee_per_gas.encode(out);
                max_fee_per_gas.encode(out);
            }
        }
        self.gas.encode(out);
        match &self.to {
            Some(a) => a.encode(out),
            // Contract creation: the empty string.
            None => out.push(alloy_rlp::EMPTY_STRING_CODE),
        }
        self.value.encode(out);
        self.data.as_slice().encode(out);
        if self.tx_type != 0 {
            let mut items = Vec::new();
            for item in &self.access_list {
                let mut entry = Vec::new();
                item.address.encode(&mut entry);
                let mut keys = Vec::new();
                for k in &item.storage_keys {
                    k.encode(&mut keys);
                }
                list(&keys, &mut entry);
                list(&entry, &mut items);
            }
            list(&items, out);
        }
    }

    fn envelope(&self, fields: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(fields.len() + 4);
        if self.tx_type != 0 {
            out.push(self.tx_type);
        }
        list(fields, &mut out);
        out
    }

    /// Decode a signed transaction (as [`signed`](Self::signed) writes it) back into its
    /// fields and the signature's (recovery id, r, s). Truncated or trailing bytes,
    /// non-canonical integers and unknown types are typed errors.
    pub fn decode_signed(raw: &[u8]) -> Result<(Self, u8, U256, U256), ChainError> {
        let bad = |e: alloy_rlp::Error| ChainError::field("raw_transaction", format!("RLP: {e}"));
        let (tx_type, mut body) = match raw.first() {
            Some(&t @ (1 | 2)) => (t, &raw[1..]),
            Some(&b) if b >= 0xc0 => (0, raw),
            Some(_) => return Err(ChainError::field("raw_transaction", "unknown transaction type")),
            None => return Err(ChainError::field("raw_transaction", "empty")),
        };
        let header = Header::decode(&mut body).map_err(bad)?;
        if !header.list || header.payload_length != body.len() {
            return Err(ChainError::field("raw_transaction", "not exactly one RLP list"));
        }
        let b = &mut body;
        let chain_id_field = if tx_type != 0 {
            Some(u64::decode(b).map_err(bad)?)
        } else {
            None
        };
        let nonce = u64::decode(b).map_err(bad)?;
        let fees = if tx_type == 2 {
            Fees::Eip1559 {
                max_priority_fee_per_gas: U256::decode(b).map_err(bad)?,
                max_fee_per_gas: U256::decode(b).map_err(bad)?,
            }
        } else {
            Fees::GasPrice(U256::decode(b).map_err(bad)?)
        };
        let gas = u64::decode(b).map_err(bad)?;
        let to_bytes = alloy_primitives::Bytes::decode(b).map_err(bad)?;
        let to = match to_bytes.len() {
            0 => None,
            20 => Some(Address::from_slice(&to_bytes)),
            _ => return Err(ChainError::field("raw_transaction.to", "not 20 bytes")),
        };
        let value = U256::decode(b).map_err(bad)?;
        let data = alloy_primitives::Bytes::decode(b).map_err(bad)?.to_vec();
        let mut access_list = Vec::new();
        if tx_type != 0 {
            let h = Header::decode(b).map_err(bad)?;
            let (mut items, rest) = b.split_at(h.payload_length.min(b.len()));
            if !h.list || items.len() != h.payload_length {
                return Err(ChainError::field("raw_transaction.access_list", "malformed"));
            }
            *b = rest;
            while !items.is_empty() {
                let eh = Header::decode(&mut items).map_err(bad)?;
                if !eh.list || eh.payload_length > items.len() {
                    return Err(ChainError::field(
                        "raw_transaction.access_list",
                        "malformed entry",
                    ));
                }
                let (mut entry, rest) = items.split_at(eh.payload_length);
                items = rest;
                let address = Address::decode(&mut entry).map_err(bad)?;
                let storage_keys = Vec::<B256>::decode(&mut entry).map_err(bad)?;
                access_list.push(AccessListItem {
                    address,
                    storage_keys,
                });
            }
        }
        let v = u64::decode(b).map_err(bad)?;
        let r = U256::decode(b).map_err(bad)?;
        let s = U256::decode(b).map_err(bad)?;
        if !b.is_empty() {
            return Err(ChainError::field("raw_transaction", "trailing fields"));
        }
        let (chain_id, parity) = match chain_id_field {
            Some(id) if v <= 1 => (id, v as u8),
            Some(_) => return Err(ChainError::field("raw_transaction.y_parity", "must be 0 or 1")),
            None if v >= 35 => ((v - 35) / 2, ((v - 35) % 2) as u8),
            None => return Err(ChainError::field("raw_transaction.v", "not an EIP-155 v")),
        };
        Ok((
            Self {
                tx_type,
                chain_id,
                nonce,
                gas,
                to,
                value,
                data,
                fees,
                access_list,
            },
            parity,
            r,
            s,
        ))
    }
}

fn list(payload: &[u8], out: &mut Vec<u8>) {
    Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(out);
    out.extend_from_slice(payload);
}

fn access_list(v: &Value) -> Result<Vec<AccessListItem>, ChainError> {
    let items = v
        .as_array()
        .ok_or_else(|| ChainError::field("data.access_list", "expected an array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("data.access_list[{i}]");
            let obj = object(&path, item)?;
            only(obj, &path, &["address", "storage_keys"])?;
            let address = Address::from(hex_array::<20>(
                &format!("{path}.address"),
                member(obj, &path, "address")?,
            )?);
            let keys = member(obj, &path, "storage_keys")?
                .as_array()
                .ok_or_else(|| ChainError::field(format!("{path}.storage_keys"), "expected an array"))?;
            let storage_keys = keys
                .iter()
                .enumerate()
                .map(|(j, k)| hex_array::<32>(&format!("{path}.storage_keys[{j}]"), k).map(B256::from))
                .collect::<Result<_, _>>()?;
            Ok(AccessListItem {
                address,
                storage_keys,
            })
        })
        .collect()
}

/// The answer fields an `ETH_TX` adds: `raw_transaction` and `tx_hash`.
pub fn answer_fields(tx: &EthTransaction, sig: &EcdsaSignature) -> serde_json::Map<String, Value> {
    let raw = tx.signed(sig);
    let mut m = serde_json::Map::new();
    m.insert("tx_hash".into(), to_hex(keccak256(&raw)).into());
    m.insert("raw_transaction".into(), to_hex(&raw).into());
    m
}
