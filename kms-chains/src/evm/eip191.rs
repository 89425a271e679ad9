//! EIP-191 version 0x45 (`personal_sign`): keccak256("\x19Ethereum Signed Message:\n"
//! ‖ decimal length ‖ message).

use crate::value::{hex_bytes, object, only};
use crate::ChainError;
use serde_json::Value;

/// The bytes of an `EIP191` input: `{"message": "UTF-8 text"}` or
/// `{"message_hex": "hex bytes"}` (exactly one).
pub fn message(data: &Value) -> Result<Vec<u8>, ChainError> {
    let obj = object("data", data)?;
    only(obj, "data", &["message", "message_hex"])?;
    match (obj.get("message"), obj.get("message_hex")) {
        (Some(text), None) => text
            .as_str()
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| ChainError::field("data.message", "expected a UTF-8 string")),
        (None, Some(hex)) => hex_bytes("data.message_hex", hex),
        (Some(_), Some(_)) => Err(ChainError::field("data", "give message or message_hex, not both")),
        (None, None) => Err(ChainError::field("data.message", "missing (or give message_hex)")),
    }
}

/// The digest `personal_sign` signs.
pub fn digest(message: &[u8]) -> [u8; 32] {
    alloy_primitives::eip191_hash_message(message).0
}
