//! Typed values of the client API: a key's [`PublicKey`], a [`Signature`] and what to
//! sign ([`SignInput`]), each in its standard encoding and checked when it is built, so
//! a wrong length or an invalid point is refused at the caller's edge with an
//! [`EncodingError`] that says what was wrong, not deep in a protocol run.
//!
//! ```
//! use kms_client::{EncodingError, SignInput};
//!
//! let hash = [7u8; 32];
//! let input = SignInput::prehash(&hash).unwrap();
//! assert_eq!(input.as_bytes(), &hash);
//! assert!(matches!(
//!     SignInput::prehash(b"not a hash"),
//!     Err(EncodingError::Length { what: "prehash", got: 10, .. })
//! ));
//! ```

use kms_core::schemes::InputKind;
use kms_core::{Curve, KmsError};
use std::fmt;

/// Why bytes are not a valid value of their kind. `what` names the value
/// (`"secp256k1 public key"`, `"ECDSA signature"`, `"prehash"`, ...).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// The length is not one the encoding allows.
    #[error("{what}: expected {expected} bytes, got {got}")]
    Length {
        /// The value.
        what: &'static str,
        /// The lengths allowed, as text (`"33 or 65"`).
        expected: &'static str,
        /// The length given.
        got: usize,
    },
    /// The length is right but the content is not a valid value (not a point on the
    /// curve, the identity, a scalar out of range, a high-s ECDSA signature, ...).
    #[error("{what}: {reason}")]
    Invalid {
        /// The value.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Hex text that does not decode.
    #[error("{what}: not hex")]
    NotHex {
        /// The value.
        what: &'static str,
    },
}

impl From<EncodingError> for KmsError {
    fn from(e: EncodingError) -> Self {
        KmsError::InvalidRequest(e.to_string())
    }
}

fn length(what: &'static str, expected: &'static str, got: usize) -> EncodingError {
    EncodingError::Length { what, expected, got }
}

fn invalid(what: &'static str, reason: &'static str) -> EncodingError {
    EncodingError::Invalid { what, reason }
}

fn unhex(what: &'static str, text: &str) -> Result<Vec<u8>, EncodingError> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EncodingError::NotHex { what });
    }
    Ok((0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap_or_default())
        .collect())
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key's public key in its curve's standard encoding, checked when built: a
/// secp256k1 point (SEC1, 33 bytes compressed or 65 uncompressed; kept compressed), an
/// Ed25519 point (32 bytes, not of small order) or a BLS12-381 G1 point (48 bytes
/// compressed, in the subgroup). The identity is refused on every curve.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    curve: Curve,
    /// The standard (compressed) encoding.
    bytes: Vec<u8>,
}

impl PublicKey {
    /// A secp256k1 public key from SEC1 bytes (33 compressed or 65 uncompressed).
    pub fn secp256k1(sec1: &[u8]) -> Result<Self, EncodingError> {
        const WHAT: &str = "secp256k1 public key";
        if sec1.len() != 33 && sec1.len() != 65 {
            return Err(length(WHAT, "33 or 65", sec1.len()));
        }
        let point = k256::PublicKey::from_sec1_bytes(sec1)
            .map_err(|_| invalid(WHAT, "not a point of the curve (or the identity)"))?;
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        Ok(Self {
            curve: Curve::Secp256k1,
            bytes: point.to_encoded_point(true).as_bytes().to_vec(),
        })
    }

    /// An Ed25519 public key from its 32-byte encoding.
    pub fn ed25519(bytes: &[u8]) -> Result<Self, EncodingError> {
        const WHAT: &str = "Ed25519 public key";
        let arr: [u8; 32] = bytes.try_into().map_err(|_| length(WHAT, "32", bytes.len()))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map_err(|_| invalid(WHAT, "does not decode to a point"))?;
        if key.is_weak() {
            return Err(invalid(WHAT, "a point of small order"));
        }
        Ok(Self {
            curve: Curve::Ed25519,
            bytes: arr.to_vec(),
        })
    }

    /// A BLS12-381 public key (G1, 48 bytes compressed; the Ethereum 2.0 form).
    pub fn bls12_381(bytes: &[u8]) -> Result<Self, EncodingError> {
        const WHAT: &str = "BLS12-381 public key";
        if bytes.len() != 48 {
            return Err(length(WHAT, "48", bytes.len()));
        }
        blst::min_pk::PublicKey::key_validate(bytes)
            .map_err(|_| invalid(WHAT, "not a G1 point of the subgroup (or the identity)"))?;
        Ok(Self {
            curve: Curve::Bls12_381,
            bytes: bytes.to_vec(),
        })
    }

    /// A public key on `curve` from its standard encoding.
    pub fn from_bytes(curve: Curve, bytes: &[u8]) -> Result<Self, EncodingError> {
        match curve {
            Curve::Secp256k1 => Self::secp256k1(bytes),
            Curve::Ed25519 => Self::ed25519(bytes),
            Curve::Bls12_381 => Self::bls12_381(bytes),
            _ => Err(invalid("public key", "no encoding known for this curve")),
        }
    }

    /// A public key on `curve` from hex (as in [`kms_core::KeyMetadata::public_key`]).
    pub fn from_hex(curve: Curve, text: &str) -> Result<Self, EncodingError> {
        Self::from_bytes(curve, &unhex("public key", text)?)
    }

    /// The curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The standard encoding (secp256k1: 33 bytes compressed).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The 65-byte uncompressed SEC1 form of a secp256k1 key (`None` on other curves).
    pub fn to_uncompressed(&self) -> Option<[u8; 65]> {
        if self.curve != Curve::Secp256k1 {
            return None;
        }
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        let point = k256::PublicKey::from_sec1_bytes(&self.bytes).ok()?;
        point.to_encoded_point(false).as_bytes().try_into().ok()
    }

    /// The standard encoding as lowercase hex.
    pub fn to_hex(&self) -> String {
        to_hex(&self.bytes)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.curve.as_str(), self.to_hex())
    }
}

/// An ECDSA signature over secp256k1 as `r || s || v` (65 bytes), low-s, with the
/// recovery id; `v` is 27 + recovery id, as the service answers.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EcdsaSignature {
    bytes: [u8; 65],
}

impl EcdsaSignature {
    /// From the 65 bytes `r || s || v`: `r` and `s` in 1..n, `s` low (at most n/2), and
    /// `v` 27..=30 (recovery ids 0..=3; 0 and 1 in practice).
    pub fn from_rsv(bytes: &[u8]) -> Result<Self, EncodingError> {
        const WHAT: &str = "ECDSA signature";
        let arr: [u8; 65] = bytes
            .try_into()
            .map_err(|_| length(WHAT, "65 (r || s || v)", bytes.len()))?;
        let sig = k256::ecdsa::Signature::from_slice(&arr[..64])
            .map_err(|_| invalid(WHAT, "r or s is zero or not below the group order"))?;
        if sig.normalize_s().is_some() {
            return Err(invalid(WHAT, "s is high (the service signs low-s only)"));
        }
        if !(27..=30).contains(&arr[64]) {
            return Err(invalid(WHAT, "v is not 27 + a recovery id"));
        }
        Ok(Self { bytes: arr })
    }

    /// `r`, 32 bytes big-endian.
    pub fn r(&self) -> [u8; 32] {
        self.bytes[..32].try_into().unwrap_or_default()
    }

    /// `s`, 32 bytes big-endian (low).
    pub fn s(&self) -> [u8; 32] {
        self.bytes[32..64].try_into().unwrap_or_default()
    }

    /// `v` = 27 + recovery id.
    pub fn v(&self) -> u8 {
        self.bytes[64]
    }

    /// The recovery id (`v - 27`).
    pub fn recovery_id(&self) -> u8 {
        self.bytes[64] - 27
    }

    /// The 65 bytes `r || s || v`.
    pub fn to_bytes(&self) -> [u8; 65] {
        self.bytes
    }
}

impl fmt::Debug for EcdsaSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcdsaSignature({})", to_hex(&self.bytes))
    }
}

/// A signature in its algorithm's standard encoding, checked when built.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signature {
    /// ECDSA over secp256k1 (GG18, DMZ21, DKLS23): `r || s || v`.
    Ecdsa(EcdsaSignature),
    /// Ed25519: `R || S`, 64 bytes, `S` canonical.
    Ed25519([u8; 64]),
    /// BLS12-381 (Ethereum 2.0): a G2 point, 96 bytes compressed, in the subgroup.
    Bls([u8; 96]),
}

impl Signature {
    /// An ECDSA signature from `r || s || v` (see [`EcdsaSignature::from_rsv`]).
    pub fn ecdsa(bytes: &[u8]) -> Result<Self, EncodingError> {
        EcdsaSignature::from_rsv(bytes).map(Signature::Ecdsa)
    }

    /// An Ed25519 signature from its 64 bytes.
    pub fn ed25519(bytes: &[u8]) -> Result<Self, EncodingError> {
        const WHAT: &str = "Ed25519 signature";
        let arr: [u8; 64] = bytes.try_into().map_err(|_| length(WHAT, "64", bytes.len()))?;
        let s: [u8; 32] = arr[32..]
            .try_into()
            .map_err(|_| length(WHAT, "64", bytes.len()))?;
        if bool::from(curve25519_dalek::Scalar::from_canonical_bytes(s).is_none()) {
            return Err(invalid(WHAT, "S is not below the group order"));
        }
        if curve25519_dalek::edwards::CompressedEdwardsY(arr[..32].try_into().unwrap_or_default())
            .decompress()
            .is_none()
        {
            return Err(invalid(WHAT, "R does not decode to a point"));
        }
        Ok(Signature::Ed25519(arr))
    }

    /// A BLS signature from its 96 bytes (G2 compressed).
    pub fn bls(bytes: &[u8]) -> Result<Self, EncodingError> {
        const WHAT: &str = "BLS signature";
        let arr: [u8; 96] = bytes.try_into().map_err(|_| length(WHAT, "96", bytes.len()))?;
        blst::min_pk::Signature::sig_validate(&arr, true)
            .map_err(|_| invalid(WHAT, "not a G2 point of the subgroup (or the identity)"))?;
        Ok(Signature::Bls(arr))
    }

    /// A signature of a key on `curve` from its standard encoding.
    pub fn from_bytes(curve: Curve, bytes: &[u8]) -> Result<Self, EncodingError> {
        match curve {
            Curve::Secp256k1 => Self::ecdsa(bytes),
            Curve::Ed25519 => Self::ed25519(bytes),
            Curve::Bls12_381 => Self::bls(bytes),
            _ => Err(invalid("signature", "no encoding known for this curve")),
        }
    }

    /// The standard encoding.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Signature::Ecdsa(s) => &s.bytes,
            Signature::Ed25519(b) => b,
            Signature::Bls(b) => b,
        }
    }

    /// The ECDSA form, if it is one.
    pub fn as_ecdsa(&self) -> Option<&EcdsaSignature> {
        match self {
            Signature::Ecdsa(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signature::Ecdsa(s) => write!(f, "Signature::{s:?}"),
            Signature::Ed25519(b) => write!(f, "Signature::Ed25519({})", to_hex(b)),
            Signature::Bls(b) => write!(f, "Signature::Bls({})", to_hex(b)),
        }
    }
}

/// What to sign: a message (EdDSA and BLS sign the message itself) or a 32-byte
/// prehash (ECDSA signs a digest the caller made, e.g. Keccak-256 or double SHA-256).
/// The backend checks the kind against the key's scheme before any protocol starts.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SignInput {
    /// A message, any length.
    Message(Vec<u8>),
    /// A 32-byte digest.
    Prehash([u8; 32]),
}

impl SignInput {
    /// A message to sign as it is.
    pub fn message(bytes: impl Into<Vec<u8>>) -> Self {
        SignInput::Message(bytes.into())
    }

    /// A 32-byte prehash; anything else is refused.
    pub fn prehash(bytes: &[u8]) -> Result<Self, EncodingError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| length("prehash", "32", bytes.len()))?;
        Ok(SignInput::Prehash(arr))
    }

    /// Which kind it is.
    pub fn kind(&self) -> InputKind {
        match self {
            SignInput::Message(_) => InputKind::Message,
            SignInput::Prehash(_) => InputKind::Prehash,
        }
    }

    /// The bytes handed to the scheme.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SignInput::Message(m) => m,
            SignInput::Prehash(h) => h,
        }
    }
}

impl fmt::Debug for SignInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignInput::Message(m) => write!(f, "SignInput::Message({} bytes)", m.len()),
            SignInput::Prehash(h) => write!(f, "SignInput::Prehash({})", to_hex(h)),
        }
    }
}

/// A caller's idempotency key for a mutating call: 1 to 128 characters of
/// `[A-Za-z0-9_.:-]` (a UUID, an order number). With the same key and the same request
/// the backend answers the first call's answer again; with another request it refuses
/// ([`KmsError::IdempotencyConflict`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Check and wrap a key.
    pub fn new(key: impl Into<String>) -> Result<Self, EncodingError> {
        const WHAT: &str = "idempotency key";
        let key = key.into();
        if key.is_empty() || key.len() > 128 {
            return Err(length(WHAT, "1 to 128", key.len()));
        }
        if !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
        {
            return Err(invalid(WHAT, "only [A-Za-z0-9_.:-] are allowed"));
        }
        Ok(Self(key))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
