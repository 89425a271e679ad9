//! The JSON conventions of sign inputs: hex with or without `0x`, integers as JSON
//! numbers or decimal strings (values beyond 2^53 do not survive a JavaScript number).

use crate::ChainError;
use alloy_primitives::U256;
use serde_json::{Map, Value};

/// Decode hex with an optional `0x` prefix.
pub fn hex_bytes(field: &str, v: &Value) -> Result<Vec<u8>, ChainError> {
    let s = v
        .as_str()
        .ok_or_else(|| ChainError::field(field, "expected a hex string"))?;
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    hex::decode(digits).map_err(|e| ChainError::field(field, format!("not hex: {e}")))
}

/// Decode hex of exactly `N` bytes.
pub fn hex_array<const N: usize>(field: &str, v: &Value) -> Result<[u8; N], ChainError> {
    let bytes = hex_bytes(field, v)?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| ChainError::field(field, format!("expected {N} bytes, got {len}")))
}

/// An unsigned integer up to 256 bits: a JSON number (exact integers only) or a decimal
/// string. Hex strings (`0x…`) are accepted too, as Ethereum tooling writes them.
pub fn uint(field: &str, v: &Value) -> Result<U256, ChainError> {
    match v {
        Value::Number(n) => n.as_u64().map(U256::from).ok_or_else(|| {
            ChainError::field(
                field,
                "expected a non-negative integer (use a decimal string for large values)",
            )
        }),
        Value::String(s) => {
            let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) if !h.is_empty() => U256::from_str_radix(h, 16),
                _ if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => U256::from_str_radix(s, 10),
                _ => return Err(ChainError::field(field, "expected a decimal integer string")),
            };
            parsed.map_err(|_| ChainError::field(field, "integer does not fit in 256 bits"))
        }
        _ => Err(ChainError::field(
            field,
            "expected an integer (number or decimal string)",
        )),
    }
}

/// An unsigned integer that must fit in 64 bits.
pub fn uint64(field: &str, v: &Value) -> Result<u64, ChainError> {
    let n = uint(field, v)?;
    u64::try_from(n).map_err(|_| ChainError::field(field, "integer does not fit in 64 bits"))
}

/// The object a data type's input must be.
pub fn object<'a>(field: &str, v: &'a Value) -> Result<&'a Map<String, Value>, ChainError> {
    v.as_object()
        .ok_or_else(|| ChainError::field(field, "expected a JSON object"))
}

/// A required member of an object.
pub fn member<'a>(obj: &'a Map<String, Value>, parent: &str, name: &str) -> Result<&'a Value, ChainError> {
    obj.get(name)
        .ok_or_else(|| ChainError::field(format!("{parent}.{name}"), "missing"))
}

/// Refuse members the data type does not define: a field the caller thinks is signed
/// but is silently ignored is worse than an error.
pub fn only(obj: &Map<String, Value>, parent: &str, allowed: &[&str]) -> Result<(), ChainError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ChainError::field(format!("{parent}.{k}"), "unknown field")),
        None => Ok(()),
    }
}

/// A required string member.
pub fn string<'a>(obj: &'a Map<String, Value>, parent: &str, name: &str) -> Result<&'a str, ChainError> {
    member(obj, parent, name)?
        .as_str()
        .ok_or_else(|| ChainError::field(format!("{parent}.{name}"), "expected a string"))
}

/// `0x`-prefixed lower-case hex.
pub fn to_hex(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes))
}
