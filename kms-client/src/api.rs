//! The client API and the trait its backends implement.

use async_trait::async_trait;
use kms_core::{
    Algorithm, KeyId, KeyMetadata, KeySpec, KeyStatus, KmsError, Principal, ShardProperties, SignatureOutput,
};
use std::sync::Arc;

/// A key-generation request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerateKey {
    /// The key's specification (default: GG18 on secp256k1).
    pub spec: KeySpec,
    /// The split (default: 3 shards, 2 sign).
    pub shards: ShardProperties,
}

impl GenerateKey {
    /// A default-split key for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        Self {
            spec: KeySpec::for_algorithm(algorithm),
            shards: ShardProperties::default(),
        }
    }

    /// With another split.
    pub fn with_shards(mut self, shard_count: u16, threshold: u16) -> Self {
        self.shards = ShardProperties {
            shard_count,
            threshold,
        };
        self
    }
}

/// What a backend (in-process cluster, HTTP gateway) offers.
///
/// Every mutating call names the [`Principal`] it acts for: the backend records it
/// (its user id, and the request's origin when the host knows it) in the audit log.
#[async_trait]
pub trait KmsApi: Send + Sync {
    /// Create a key by DKG.
    async fn generate_key(
        &self,
        principal: &Principal,
        request: GenerateKey,
    ) -> Result<KeyMetadata, KmsError>;
    /// Sign a message (EdDSA, BLS) or a 32-byte hash (ECDSA).
    async fn sign(
        &self,
        principal: &Principal,
        key_id: &KeyId,
        message: &[u8],
    ) -> Result<SignatureOutput, KmsError>;
    /// Every key's metadata.
    async fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError>;
    /// Read a key's metadata.
    async fn get_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError>;
    /// Change a key's status.
    async fn set_status(
        &self,
        principal: &Principal,
        key_id: &KeyId,
        status: KeyStatus,
    ) -> Result<KeyMetadata, KmsError>;
    /// Refresh a key's shards.
    async fn refresh(&self, principal: &Principal, key_id: &KeyId) -> Result<KeyMetadata, KmsError>;
}

/// The client: a thin, cloneable handle over a backend, acting for one principal.
#[derive(Clone)]
pub struct KmsClient {
    backend: Arc<dyn KmsApi>,
    principal: Principal,
}

impl KmsClient {
    /// A client over a backend, acting as user `sdk`.
    pub fn new(backend: Arc<dyn KmsApi>) -> Self {
        Self {
            backend,
            principal: Principal::new("sdk"),
        }
    }

    /// Act as another user (recorded in the audit log), with no request origin.
    pub fn as_user(mut self, user: impl Into<String>) -> Self {
        self.principal = Principal::new(user);
        self
    }

    /// Act for `principal`, the caller the host authenticated, with its request's
    /// origin (client address, user agent, request id) for the audit log.
    ///
    /// ```no_run
    /// # use kms_client::{InProcessCluster, KmsClient};
    /// use kms_core::Principal;
    /// use std::net::{IpAddr, Ipv4Addr};
    /// let cluster = InProcessCluster::builder().nodes(4).build();
    /// let who = Principal::new("treasury-bot")
    ///     .with_client_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)))
    ///     .with_request_id("req-7");
    /// let client = KmsClient::new(cluster).for_principal(who);
    /// assert_eq!(client.principal().user_id(), "treasury-bot");
    /// ```
    pub fn for_principal(mut self, principal: Principal) -> Self {
        self.principal = principal;
        self
    }

    /// The principal this client acts for.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Create a key by DKG; returns once every shard is durably stored and the key is ACTIVE.
    pub async fn generate_key(&self, request: GenerateKey) -> Result<KeyMetadata, KmsError> {
        self.backend.generate_key(&self.principal, request).await
    }

    /// Sign with a key.
    pub async fn sign(&self, key_id: &KeyId, message: &[u8]) -> Result<SignatureOutput, KmsError> {
        self.backend.sign(&self.principal, key_id, message).await
    }

    /// Every key's metadata.
    pub async fn list_keys(&self) -> Result<Vec<KeyMetadata>, KmsError> {
        self.backend.list_keys().await
    }

    /// A key's metadata.
    pub async fn get_key(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.backend.get_key(key_id).await
    }

    /// Change a key's status (freeze, archive, destroy, re-activate).
    pub async fn set_status(&self, key_id: &KeyId, status: KeyStatus) -> Result<KeyMetadata, KmsError> {
        self.backend.set_status(&self.principal, key_id, status).await
    }

    /// Refresh a key's shards (same public key, new shares).
    pub async fn refresh(&self, key_id: &KeyId) -> Result<KeyMetadata, KmsError> {
        self.backend.refresh(&self.principal, key_id).await
    }
}
