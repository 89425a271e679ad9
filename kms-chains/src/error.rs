//! What can be wrong with a chain input, said so a caller can fix it.

/// An input that cannot be signed, or a signature that does not fit it. Every variant
/// names the offending field (a JSON path such as `data.access_list[0].address`) or the
/// party that produced the bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A field is missing, has the wrong type or an out-of-range value.
    #[error("{field}: {reason}")]
    Field {
        /// The JSON path of the field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The `data_type` is not one this crate knows.
    #[error("unknown data_type {0:?}")]
    UnknownDataType(String),
    /// The data type needs another kind of key (e.g. `ETH_TX` with an Ed25519 key).
    #[error("data_type {data_type} needs a {needs} key, this key is {has}")]
    WrongKey {
        /// The requested data type.
        data_type: &'static str,
        /// The key kind it needs.
        needs: &'static str,
        /// The key kind it got.
        has: &'static str,
    },
    /// The key's public key is not a valid point of its curve.
    #[error("the key's public key is not a valid {0} point")]
    BadPublicKey(&'static str),
    /// The PSBT has no input that spends one of the key's outputs.
    #[error("data.psbt: no input spends an output of this key (P2WPKH or P2PKH)")]
    NoInputOfKey,
    /// The signing service returned a signature that does not verify for this key and
    /// digest: the answer is refused rather than put on chain.
    #[error("the signing service returned a signature that does not verify: {0}")]
    BadSignature(String),
}

impl ChainError {
    /// A field error.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Field {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
