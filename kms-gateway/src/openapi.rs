//! The OpenAPI 3 description of `/api/v1`, generated from the handlers' annotations and
//! these schema types (utoipa), served at `/api/v1/openapi.json` and kept in
//! `docs/openapi.json` (`kms-gateway openapi > docs/openapi.json`; a test fails when the
//! two differ).

use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The key object (`GET` adds `holders`, `version`, `updated_time`).
#[derive(Serialize, ToSchema)]
pub struct KeyObject {
    /// 32 hex characters.
    pub key_id: String,
    /// Hex, the curve's standard compressed encoding.
    pub public_key: String,
    /// The primary address: EVM for secp256k1, Solana for Ed25519, null for BLS.
    pub address: Option<String>,
    /// Every chain's address (`evm`, `tron`, `btc_p2pkh`, `btc_p2wpkh`, `solana`, `eth2_pubkey`, ...).
    #[schema(value_type = Object)]
    pub addresses: serde_json::Value,
    /// `ACTIVE`, `FROZEN`, `ARCHIVED`, `DESTROYING`, `DESTROYED`.
    pub status: String,
    /// The key's format.
    pub format: FormatOut,
    /// The split.
    pub shard_properties: ShardsOut,
    /// Unix ms.
    pub created_time: u64,
    /// The nodes holding shards (GET, list, status).
    pub holders: Option<Vec<String>>,
    /// The refresh epoch (GET, list, status).
    pub version: Option<u64>,
    /// Unix ms (GET, list, status).
    pub updated_time: Option<u64>,
}

/// A key's format.
#[derive(Serialize, ToSchema)]
pub struct FormatOut {
    /// `ECDSA`, `EDDSA`, `BLS`.
    #[serde(rename = "type")]
    pub key_type: String,
    /// `SECP256K1`, `ED25519`, `BLS12_381`.
    pub curve: String,
    /// `GG18`, `DMZ21`, `DKLS23`, `EDDSA`, `BLS`.
    pub algo_type: String,
    /// Private key size, bytes.
    pub size: u16,
}

/// A key's split.
#[derive(Serialize, ToSchema)]
pub struct ShardsOut {
    /// Shards.
    pub shard_count: u16,
    /// Shards needed to sign.
    pub threshold: u16,
}

/// `POST /keys/generate` (every part optional: GG18, (2,3)).
#[derive(Serialize, ToSchema)]
pub struct GenerateBody {
    /// `{"type","curve","algo_type","size"}`, each optional but consistent.
    pub format: Option<FormatOut>,
    /// `{"shard_count","threshold"}`.
    pub shard_properties: Option<ShardsOut>,
}

/// `POST /keys/{key_id}/sign`.
#[derive(Serialize, ToSchema)]
pub struct SignBody {
    /// Hex for HASH (32 bytes) and MESSAGE; an object for the chain types.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// `HASH`, `MESSAGE`, `EIP191`, `EIP712`, `ETH_TX`, `BTC_PSBT`, `TRON_TX`, `SOLANA_TX`, `SOLANA_MESSAGE`.
    pub data_type: String,
}

/// A signing's answer; chain types add their signed form (`raw_transaction`, ...).
#[derive(Serialize, ToSchema)]
pub struct SignAnswer {
    /// The key.
    pub key_id: String,
    /// As asked.
    pub data_type: String,
    /// `0x` hex: ECDSA 65 bytes r‖s‖v (low-s, v = 27 + recovery id), Ed25519 64, BLS 96.
    pub signature: String,
    /// ECDSA: `0x` hex of the 32 bytes signed.
    pub digest: Option<String>,
    /// ECDSA r.
    pub r: Option<String>,
    /// ECDSA s.
    pub s: Option<String>,
    /// ECDSA v.
    pub v: Option<u8>,
}

/// `PUT /keys/{key_id}/status`.
#[derive(Serialize, ToSchema)]
pub struct StatusBody {
    /// `ACTIVE`, `FROZEN`, `ARCHIVED`, `DESTROYED`.
    pub status: String,
    /// Why.
    pub reason: Option<String>,
}

/// `GET /keys`.
#[derive(Serialize, ToSchema)]
pub struct KeyList {
    /// The page.
    pub keys: Vec<KeyObject>,
    /// The next page's cursor; null on the last page.
    pub next_cursor: Option<String>,
}

/// Every refusal.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorFields,
}

/// The fields of an error.
#[derive(Serialize, ToSchema)]
pub struct ErrorFields {
    /// A fixed code (`INVALID_REQUEST`, `SIGNATURE_MISMATCH`, ...; see docs/gateway.md).
    pub code: String,
    /// What was wrong.
    pub message: String,
    /// The request id, as in `X-Request-Id`.
    pub request_id: String,
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, header) in [
            ("access_key", "X-KMS-Access-Key"),
            ("timestamp", "X-KMS-Timestamp"),
            ("nonce", "X-KMS-Nonce"),
            ("signature", "X-KMS-Signature"),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(header))),
            );
        }
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "KMS gateway", description = "The HTTP API of the MPC key-management service. Every request is signed: see docs/gateway.md."),
    paths(
        crate::api::generate,
        crate::api::get_key,
        crate::api::list_keys,
        crate::api::sign,
        crate::api::set_status
    ),
    components(schemas(KeyObject, FormatOut, ShardsOut, GenerateBody, SignBody, SignAnswer, StatusBody, KeyList, ErrorEnvelope, ErrorFields)),
    modifiers(&Security),
    security(("access_key" = [], "timestamp" = [], "nonce" = [], "signature" = []))
)]
pub struct ApiDoc;

/// The document as pretty JSON (what `docs/openapi.json` holds).
pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    // The crate version would make every release rewrite the file for nothing.
    doc.info.version = "v1".into();
    doc.to_pretty_json().expect("the OpenAPI document serialises")
}
