//! TRON: a transaction's `raw_data` (protobuf) is signed over its SHA-256, which is
//! also the transaction id. The raw data is parsed (a small protobuf walk) so that
//! garbage is refused and risk rules see the contract, the recipient and the amount.

use crate::address::tron_address;
use crate::value::{hex_bytes, object, only, to_hex};
use crate::ChainError;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A parsed `TRON_TX` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TronTransaction {
    /// The serialized `Transaction.raw` message.
    pub raw_data: Vec<u8>,
    /// The contract type number (1 = TransferContract, 31 = TriggerSmartContract, …).
    pub contract_type: u64,
    /// The recipient (TransferContract) or the called contract (TriggerSmartContract),
    /// base58check.
    pub to: Option<String>,
    /// Sun sent (TransferContract amount, TriggerSmartContract call_value).
    pub amount: Option<u64>,
}

impl TronTransaction {
    /// Parse `{"raw_data_hex": "..."}`.
    pub fn from_json(data: &Value) -> Result<Self, ChainError> {
        let obj = object("data", data)?;
        only(obj, "data", &["raw_data_hex"])?;
        let raw = hex_bytes(
            "data.raw_data_hex",
            obj.get("raw_data_hex")
                .ok_or_else(|| ChainError::field("data.raw_data_hex", "missing"))?,
        )?;
        let field = "data.raw_data_hex";
        let mut contracts = Vec::new();
        for f in fields(&raw, field)? {
            if let (11, Wire::Bytes(c)) = (f.0, f.1) {
                contracts.push(c);
            }
        }
        let [contract] = contracts[..] else {
            return Err(ChainError::field(
                field,
                format!("expected exactly one contract, found {}", contracts.len()),
            ));
        };
        let mut contract_type = None;
        let mut value = None;
        for (num, wire) in fields(contract, field)? {
            match (num, wire) {
                (1, Wire::Varint(t)) => contract_type = Some(t),
                (2, Wire::Bytes(any)) => {
                    for (n, w) in fields(any, field)? {
                        if let (2, Wire::Bytes(v)) = (n, w) {
                            value = Some(v);
                        }
                    }
                }
                _ => {}
            }
        }
        let contract_type = contract_type.ok_or_else(|| ChainError::field(field, "contract has no type"))?;
        let (mut to, mut amount) = (None, None);
        if let (1 | 31, Some(v)) = (contract_type, value) {
            for (n, w) in fields(v, field)? {
                match (n, w) {
                    (2, Wire::Bytes(a)) if a.len() == 21 && a[0] == 0x41 => {
                        to = Some(tron_address(&alloy_primitives::Address::from_slice(&a[1..])));
                    }
                    (3, Wire::Varint(x)) => amount = Some(x),
                    _ => {}
                }
            }
        }
        Ok(Self {
            raw_data: raw,
            contract_type,
            to,
            amount,
        })
    }

    /// SHA-256 of the raw data: the digest to sign and the transaction id.
    pub fn tx_id(&self) -> [u8; 32] {
        Sha256::digest(&self.raw_data).into()
    }

    /// The fields, as risk rules read them.
    pub fn summary(&self) -> Value {
        json!({"contract_type": self.contract_type, "to": self.to, "amount": self.amount, "tx_id": to_hex(self.tx_id())})
    }
}

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The top-level fields of a protobuf message; any malformed key, varint or length is
/// an error (unknown field numbers are kept, unknown wire types are refused).
fn fields<'a>(mut buf: &'a [u8], field: &str) -> Result<Vec<(u64, Wire<'a>)>, ChainError> {
    let bad = |why: &str| ChainError::field(field, format!("not a TRON raw_data protobuf: {why}"));
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf).ok_or_else(|| bad("truncated key"))?;
        let (num, wire) = (key >> 3, key & 7);
        if num == 0 {
            return Err(bad("field number 0"));
        }
        let value = match wire {
            0 => Wire::Varint(varint(&mut buf).ok_or_else(|| bad("truncated varint"))?),
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if buf.len() < n {
                    return Err(bad("truncated fixed field"));
                }
                buf = &buf[n..];
                Wire::Fixed
            }
            2 => {
                let len = varint(&mut buf).ok_or_else(|| bad("truncated length"))?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|l| *l <= buf.len())
                    .ok_or_else(|| bad("length beyond the data"))?;
                let (b, rest) = buf.split_at(len);
                buf = rest;
                Wire::Bytes(b)
            }
            _ => return Err(bad("unsupported wire type")),
        };
        out.push((num, value));
    }
    Ok(out)
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}
