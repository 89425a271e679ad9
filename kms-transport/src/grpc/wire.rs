//! The payloads inside the gRPC envelope, and the limits every call is held to.
//!
//! A request or response is a record of the project's codec
//! ([`kms_protocols::codec`]: version byte first, kind, body length, body), whose body is
//! one length-prefixed string holding the value's postcard encoding. So a reader checks
//! the format version before anything else, a request cannot be read as a response, and
//! truncated or trailing bytes are errors rather than guesses. The protocol messages
//! inside stay sealed end to end between nodes.

use super::proto::ErrorCode;
use kms_core::rpc::{NodeRequest, NodeResponse};
use kms_protocols::codec::{CodecError, Reader, Writer};
use serde::{de::DeserializeOwned, Serialize};

/// The envelope version this build writes and the only one it reads.
pub const ENVELOPE_VERSION: u32 = 1;
/// Default limit on one encoded gRPC message, each direction (8 MiB: a GG18 round with
/// every proof of four parties is well below it).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 8 << 20;
/// The largest deadline a caller may ask for (the node's session lifetime).
pub const MAX_DEADLINE_MS: u32 = 600_000;
/// Length of a request id.
pub const REQUEST_ID_LEN: usize = 16;

const REQUEST_KIND: &str = "kms.node.v1.request";
const RESPONSE_KIND: &str = "kms.node.v1.response";

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The codec record is malformed (version, kind, length).
    #[error("payload record: {0}")]
    Record(#[from] CodecError),
    /// The record's body does not decode as the expected value.
    #[error("payload body: {0}")]
    Body(String),
    /// The payload is larger than the limit.
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl WireError {
    /// The error code that reports this on the wire.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::Malformed
    }
}

fn encode<T: Serialize>(kind: &'static str, value: &T) -> Vec<u8> {
    let body = postcard::to_stdvec(value).expect("serialising an in-memory value cannot fail");
    let mut w = Writer::new(kind, body.len() + 4);
    w.bytes(&body);
    w.finish().to_vec()
}

fn decode<T: DeserializeOwned>(kind: &'static str, bytes: &[u8], max: usize) -> Result<T, WireError> {
    if bytes.len() > max {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let mut r = Reader::open(kind, bytes)?;
    let body = r.bytes("value")?;
    r.finish()?;
    let (value, rest) = postcard::take_from_bytes(body).map_err(|e| WireError::Body(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Body(format!("{} trailing bytes", rest.len())));
    }
    Ok(value)
}

/// Encode a request for [`super::proto::CallRequest::payload`].
pub fn encode_request(request: &NodeRequest) -> Vec<u8> {
    encode(REQUEST_KIND, request)
}

/// Decode a request; at most `max` bytes.
pub fn decode_request(bytes: &[u8], max: usize) -> Result<NodeRequest, WireError> {
    decode(REQUEST_KIND, bytes, max)
}

/// Encode a response for [`super::proto::CallResponse::payload`].
pub fn encode_response(response: &NodeResponse) -> Vec<u8> {
    encode(RESPONSE_KIND, response)
}

/// Decode a response; at most `max` bytes.
pub fn decode_response(bytes: &[u8], max: usize) -> Result<NodeResponse, WireError> {
    decode(RESPONSE_KIND, bytes, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kms_core::{KeyId, NodeId};

    #[test]
    fn requests_and_responses_round_trip() {
        let key_id = KeyId::random(&mut rand_core::OsRng);
        let req = NodeRequest::DeleteShard {
            key_id: key_id.clone(),
        };
        let bytes = encode_request(&req);
        assert!(matches!(
            decode_request(&bytes, 1 << 20).unwrap(),
            NodeRequest::DeleteShard { key_id: k } if k == key_id
        ));
        let node = NodeId::new("tss1").unwrap();
        let resp = NodeResponse::Pong { node: node.clone() };
        let bytes = encode_response(&resp);
        assert!(
            matches!(decode_response(&bytes, 1 << 20).unwrap(), NodeResponse::Pong { node: n } if n == node)
        );
    }

    #[test]
    fn malformed_payloads_are_typed_errors() {
        let bytes = encode_request(&NodeRequest::Ping);
        // A request is not a response.
        assert!(matches!(
            decode_response(&bytes, 1 << 20),
            Err(WireError::Record(CodecError::WrongKind { .. }))
        ));
        // Every truncation is refused.
        for cut in 0..bytes.len() {
            assert!(decode_request(&bytes[..cut], 1 << 20).is_err(), "cut at {cut}");
        }
        // Trailing bytes are refused.
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_request(&long, 1 << 20).is_err());
        // Another format version is refused before anything else is read.
        let mut other = bytes.clone();
        other[0] = 2;
        assert!(matches!(
            decode_request(&other, 1 << 20),
            Err(WireError::Record(CodecError::UnknownVersion { found: 2, .. }))
        ));
        // Over the limit.
        assert!(matches!(
            decode_request(&bytes, bytes.len() - 1),
            Err(WireError::TooLarge { .. })
        ));
    }
}
