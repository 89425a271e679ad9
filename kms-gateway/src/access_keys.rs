//! Access keys: who may call the API, from where, with which permissions and limits.
//!
//! An HMAC access key has a secret key (32 random bytes, shown once as 64 lowercase hex
//! characters; the HMAC key is that text's bytes), stored AES-256-GCM encrypted under
//! the gateway's secret key (PBKDF2 of the start password with the store's salt) with the
//! access key's id as AAD. An Ed25519 access key keeps only the caller's public key.
//!
//! Stores: a JSON file (the embedded default, re-read when it changes, so
//! `kms-gateway access-key ...` takes effect on a running gateway) or a MySQL table
//! (`{prefix}gateway_access_keys`) shared by every instance.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kms_gateway::access_keys::AccessKeyError> {
//! use kms_gateway::access_keys::{AccessKeys, FileStore, NewAccessKey, Permission};
//! let keys = AccessKeys::open(
//!     std::sync::Arc::new(FileStore::new("data/access_keys.json")),
//!     "start password",
//!     600_000,
//! )
//! .await?;
//! let created = keys
//!     .create(NewAccessKey {
//!         owner: "payments".into(),
//!         permissions: vec![Permission::Sign, Permission::Read],
//!         allow_ips: vec!["10.0.0.0/8".parse().unwrap()],
//!         ed25519_public_key: None,
//!         limit_class: None,
//!     })
//!     .await?;
//! println!("{}", created.to_json());
//! # Ok(()) }
//! ```

use crate::secrets::{SecretError, SecretKey};
use async_trait::async_trait;
use ipnet::IpNet;
use kms_core::ports::{Clock, SystemClock};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What an access key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// `POST /keys/generate`.
    Generate,
    /// `POST /keys/{id}/sign`.
    Sign,
    /// `GET /keys`, `GET /keys/{id}`.
    Read,
    /// `PUT /keys/{id}/status`.
    Status,
    /// Deciding on approvals (another module).
    Approve,
    /// Everything.
    Admin,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 6] = [
        Permission::Generate,
        Permission::Sign,
        Permission::Read,
        Permission::Status,
        Permission::Approve,
        Permission::Admin,
    ];

    /// The name on the command line and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Generate => "generate",
            Permission::Sign => "sign",
            Permission::Read => "read",
            Permission::Status => "status",
            Permission::Approve => "approve",
            Permission::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unknown permission {s:?} (one of generate, sign, read, status, approve, admin)")
            })
    }
}

/// How a caller proves it holds the access key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credential {
    /// HMAC-SHA256 with the secret key, kept sealed (hex of nonce ‖ ciphertext ‖ tag).
    Hmac {
        /// The sealed secret key.
        sealed_secret: String,
    },
    /// Ed25519: the caller's 32-byte public key, hex.
    Ed25519 {
        /// The public key.
        public_key: String,
    },
}

/// One stored access key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    /// The id, `ak_` then 24 hex characters (sent in `X-KMS-Access-Key`).
    pub access_key: String,
    /// Who it belongs to: the audit's `user_id`.
    pub owner: String,
    /// What it may do.
    pub permissions: Vec<Permission>,
    /// The client addresses it may call from.
    pub allow_ips: Vec<IpNet>,
    /// How it authenticates.
    pub credential: Credential,
    /// A disabled key is refused (`UNKNOWN_ACCESS_KEY`, saying it is disabled).
    pub enabled: bool,
    /// The rate-limit class (`[limits.access_keys.<class>]`; default `default`).
    pub limit_class: String,
    /// Creation, Unix ms.
    pub created_time: u64,
    /// Last change, Unix ms.
    pub updated_time: u64,
}

impl AccessKeyRecord {
    /// Whether the key has `p` (admin has every permission).
    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p) || self.permissions.contains(&Permission::Admin)
    }

    /// Whether `ip` is on the allow-list (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.allow_ips.iter().any(|net| net.contains(&ip))
    }

    /// The record as `access-key list` shows it (no sealed secret).
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "access_key": self.access_key,
            "owner": self.owner,
            "kind": match self.credential { Credential::Hmac { .. } => "hmac", Credential::Ed25519 { .. } => "ed25519" },
            "permissions": self.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "allow_ips": self.allow_ips.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            "enabled": self.enabled,
            "limit_class": self.limit_class,
            "created_time": self.created_time,
            "updated_time": self.updated_time,
        })
    }
}

/// The parameters of the store's secret key: the PBKDF2 salt and count, and a check
/// value sealed under the key so a wrong start password is named at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfHeader {
    /// Salt, 16 bytes hex.
    pub salt: String,
    /// PBKDF2-HMAC-SHA256 iterations.
    pub iterations: u32,
    /// `seal(CHECK_AAD, CHECK_TEXT)`.
    pub check: String,
}

const CHECK_AAD: &[u8] = b"kms-gateway access-key store check v1";
const CHECK_TEXT: &[u8] = b"kms-gateway";
const SECRET_AAD_PREFIX: &str = "kms-gateway access-key secret v1:";

/// Why an access-key operation failed. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum AccessKeyError {
    /// The store could not be read or written.
    #[error("access-key store: {0}")]
    Store(String),
    /// The start password does not open the store's secret key.
    #[error("the start password does not open the access-key store (wrong password?)")]
    WrongPassword,
    /// A sealed secret or header is malformed or was altered.
    #[error("access-key store: {0}")]
    Secret(#[from] SecretError),
    /// No such access key.
    #[error("no access key {0}")]
    NotFound(String),
    /// The request is not acceptable (names what).
    #[error("{0}")]
    Invalid(String),
}

/// Where access keys live.
#[async_trait]
pub trait AccessKeyStore: Send + Sync {
    /// The store's key-derivation header, if one was written.
    async fn header(&self) -> Result<Option<KdfHeader>, AccessKeyError>;
    /// Write `header` unless one exists; returns the one in force (the first writer's).
    async fn init_header(&self, header: KdfHeader) -> Result<KdfHeader, AccessKeyError>;
    /// One key.
    async fn get(&self, access_key: &str) -> Result<Option<AccessKeyRecord>, AccessKeyError>;
    /// Insert or replace a key.
    async fn put(&self, record: &AccessKeyRecord) -> Result<(), AccessKeyError>;
    /// Every key, by id.
    async fn list(&self) -> Result<Vec<AccessKeyRecord>, AccessKeyError>;
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct FileContent {
    header: Option<KdfHeader>,
    keys: BTreeMap<String, AccessKeyRecord>,
}

/// The embedded store: one JSON file (0600), written atomically, re-read whenever its
/// modification time or size changes. One writer at a time (the CLI); the gateway
/// only reads it.
pub struct FileStore {
    path: PathBuf,
    cache: std::sync::Mutex<Option<(std::time::SystemTime, u64, Arc<FileContent>)>>,
}

impl FileStore {
    /// A store in `path` (created at the first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache: std::sync::Mutex::new(None),
        }
    }

    fn load(&self) -> Result<Arc<FileContent>, AccessKeyError> {
        let err = |e: &dyn std::fmt::Display| AccessKeyError::Store(format!("{}: {e}", self.path.display()));
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => return Err(err(&e)),
        };
        let stamp = (meta.modified().map_err(|e| err(&e))?, meta.len());
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((m, l, c)) = cache.as_ref() {
            if (*m, *l) == stamp {
                return Ok(c.clone());
            }
        }
        let bytes = std::fs::read(&self.path).map_err(|e| err(&e))?;
        let content: Arc<FileContent> = Arc::new(serde_json::from_slice(&bytes).map_err(|e| err(&e))?);
        *cache = Some((stamp.0, stamp.1, content.clone()));
        Ok(content)
    }

    fn save(&self, content: &FileContent) -> Result<(), AccessKeyError> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                kms_storage::files::create_private_dir(parent)
                    .map_err(|e| AccessKeyError::Store(e.to_string()))?;
            }
        }
        let bytes = serde_json::to_vec_pretty(content).map_err(|e| AccessKeyError::Store(e.to_string()))?;
        kms_storage::files::write_private_atomic(&self.path, &bytes)
            .map_err(|e| AccessKeyError::Store(e.to_string()))?;
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }
}

#[async_trait]
impl AccessKeyStore for FileStore {
    async fn header(&self) -> Result<Option<KdfHeader>, AccessKeyError> {
        Ok(self.load()?.header.clone())
    }
    async fn init_header(&self, header: KdfHeader) -> Result<KdfHeader, AccessKeyError> {
        let mut content = (*self.load()?).clone();
        if let Some(h) = content.header {
            return Ok(h);
        }
        content.header = Some(header.clone());
        self.save(&content)?;
        Ok(header)
    }
    async fn get(&self, access_key: &str) -> Result<Option<AccessKeyRecord>, AccessKeyError> {
        Ok(self.load()?.keys.get(access_key).cloned())
    }
    async fn put(&self, record: &AccessKeyRecord) -> Result<(), AccessKeyError> {
        let mut content = (*self.load()?).clone();
        content.keys.insert(record.access_key.clone(), record.clone());
        self.save(&content)
    }
    async fn list(&self) -> Result<Vec<AccessKeyRecord>, AccessKeyError> {
        Ok(self.load()?.keys.values().cloned().collect())
    }
}

/// The MySQL store: tables `{prefix}gateway_access_keys` (one JSON record per key) and
/// `{prefix}gateway_settings` (the key-derivation header). Nothing is cached, so a key
/// disabled through one instance is refused by every instance at its next request.
pub struct MySqlStore {
    pool: sqlx::MySqlPool,
    keys: String,
    settings: String,
}

fn sql(e: sqlx::Error) -> AccessKeyError {
    AccessKeyError::Store(format!("mysql: {e}"))
}

impl MySqlStore {
    /// Connect to `url` (a credential: never logged) and create the tables if missing.
    pub async fn connect(url: &str, table_prefix: &str) -> Result<Self, AccessKeyError> {
        if table_prefix.len() > 32
            || !table_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(AccessKeyError::Invalid(format!(
                "invalid table prefix {table_prefix:?}"
            )));
        }
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await
            .map_err(|e| AccessKeyError::Store(format!("mysql: cannot connect: {e}")))?;
        let store = Self {
            pool,
            keys: format!("`{table_prefix}gateway_access_keys`"),
            settings: format!("`{table_prefix}gateway_settings`"),
        };
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {} (access_key VARCHAR(64) NOT NULL PRIMARY KEY, \
             record TEXT NOT NULL, updated_time BIGINT UNSIGNED NOT NULL)",
            store.keys
        ))
        .execute(&store.pool)
        .await
        .map_err(sql)?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {} (name VARCHAR(64) NOT NULL PRIMARY KEY, value TEXT NOT NULL)",
            store.settings
        ))
        .execute(&store.pool)
        .await
        .map_err(sql)?;
        Ok(store)
    }

    fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, AccessKeyError> {
        serde_json::from_str(text).map_err(|e| AccessKeyError::Store(format!("{what}: {e}")))
    }
}

#[async_trait]
impl AccessKeyStore for MySqlStore {
    async fn header(&self) -> Result<Option<KdfHeader>, AccessKeyError> {
        let row: Option<(String,)> =
            sqlx::query_as(&format!("SELECT value FROM {} WHERE name = 'kdf'", self.settings))
                .fetch_optional(&self.pool)
                .await
                .map_err(sql)?;
        row.map(|(v,)| Self::parse("kdf header", &v)).transpose()
    }
    async fn init_header(&self, header: KdfHeader) -> Result<KdfHeader, AccessKeyError> {
        let text = serde_json::to_string(&header).map_err(|e| AccessKeyError::Store(e.to_string()))?;
        // The first instance's header wins; every other one reads it back.
        sqlx::query(&format!(
            "INSERT IGNORE INTO {} (name, value) VALUES ('kdf', ?)",
            self.settings
        ))
        .bind(text)
        .execute(&self.pool)
        .await
        .map_err(sql)?;
        self.header()
            .await?
            .ok_or_else(|| AccessKeyError::Store("kdf header missing after insert".into()))
    }
    async fn get(&self, access_key: &str) -> Result<Option<AccessKeyRecord>, AccessKeyError> {
        let row: Option<(String,)> =
            sqlx::query_as(&format!("SELECT record FROM {} WHERE access_key = ?", self.keys))
                .bind(access_key)
                .fetch_optional(&self.pool)
                .await
                .map_err(sql)?;
        row.map(|(r,)| Self::parse("access key record", &r)).transpose()
    }
    async fn put(&self, record: &AccessKeyRecord) -> Result<(), AccessKeyError> {
        let text = serde_json::to_string(record).map_err(|e| AccessKeyError::Store(e.to_string()))?;
        sqlx::query(&format!(
            "INSERT INTO {} (access_key, record, updated_time) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE record = VALUES(record), updated_time = VALUES(updated_time)",
            self.keys
        ))
        .bind(&record.access_key)
        .bind(text)
        .bind(record.updated_time)
        .execute(&self.pool)
        .await
        .map_err(sql)?;
        Ok(())
    }
    async fn list(&self) -> Result<Vec<AccessKeyRecord>, AccessKeyError> {
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT record FROM {} ORDER BY access_key", self.keys))
                .fetch_all(&self.pool)
                .await
                .map_err(sql)?;
        rows.iter()
            .map(|(r,)| Self::parse("access key record", r))
            .collect()
    }
}

/// What `create` needs.
#[derive(Clone, Debug)]
pub struct NewAccessKey {
    /// The owner (the audit's `user_id`): 1 to 64 characters of `[A-Za-z0-9_.@-]`.
    pub owner: String,
    /// Permissions (at least one).
    pub permissions: Vec<Permission>,
    /// Allowed client networks (at least one).
    pub allow_ips: Vec<IpNet>,
    /// For an Ed25519 key: the caller's public key, 64 hex characters. `None`: HMAC.
    pub ed25519_public_key: Option<String>,
    /// The rate-limit class (default `default`).
    pub limit_class: Option<String>,
}

/// A new (or rotated) key as shown once: `{"access_key":..,"secret_key":..}` for HMAC,
/// `{"access_key":..,"public_key":..}` for Ed25519. `Debug` hides the secret.
pub struct CreatedKey {
    /// The id.
    pub access_key: String,
    /// The HMAC secret (hex text), shown once.
    pub secret_key: Option<Zeroizing<String>>,
    /// The Ed25519 public key registered.
    pub public_key: Option<String>,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("public_key", &self.public_key)
            .finish()
    }
}

impl CreatedKey {
    /// The one line the CLI prints.
    pub fn to_json(&self) -> String {
        match (&self.secret_key, &self.public_key) {
            (Some(s), _) => serde_json::json!({"access_key": self.access_key, "secret_key": s.as_str()}),
            (None, Some(p)) => serde_json::json!({"access_key": self.access_key, "public_key": p}),
            (None, None) => serde_json::json!({"access_key": self.access_key}),
        }
        .to_string()
    }
}

/// What authenticates a request for one access key. `Debug` hides the secret.
pub enum Verifier {
    /// The HMAC key bytes.
    Hmac(Zeroizing<Vec<u8>>),
    /// The Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verifier::Hmac(_) => f.write_str("Verifier::Hmac(<redacted>)"),
            Verifier::Ed25519(k) => write!(f, "Verifier::Ed25519({})", hex::encode(k.as_bytes())),
        }
    }
}

/// The access keys of a gateway: a store and the secret key that seals their secrets.
pub struct AccessKeys {
    store: Arc<dyn AccessKeyStore>,
    key: SecretKey,
}

fn valid_owner(owner: &str) -> bool {
    (1..=64).contains(&owner.len())
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.@-".contains(&b))
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl AccessKeys {
    /// Open `store` with the start password: derive its secret key (the header's salt
    /// and count; a new store gets a fresh salt and `iterations`) and check it.
    pub async fn open(
        store: Arc<dyn AccessKeyStore>,
        password: &str,
        iterations: u32,
    ) -> Result<AccessKeys, AccessKeyError> {
        let header = match store.header().await? {
            Some(h) => h,
            None => {
                let salt = random_hex(16);
                let key = derive(password, &salt, iterations).await?;
                let check = key.seal(CHECK_AAD, CHECK_TEXT);
                store
                    .init_header(KdfHeader {
                        salt,
                        iterations,
                        check,
                    })
                    .await?
            }
        };
        let key = derive(password, &header.salt, header.iterations).await?;
        match key.open(CHECK_AAD, &header.check) {
            Ok(t) if t.as_slice() == CHECK_TEXT => Ok(AccessKeys { store, key }),
            Ok(_) | Err(SecretError::WrongPasswordOrTampered) => Err(AccessKeyError::WrongPassword),
            Err(e) => Err(e.into()),
        }
    }

    /// Create a key. HMAC: a fresh secret, returned once and stored sealed.
    pub async fn create(&self, new: NewAccessKey) -> Result<CreatedKey, AccessKeyError> {
        if !valid_owner(&new.owner) {
            return Err(AccessKeyError::Invalid(format!(
                "owner {:?}: 1 to 64 characters of [A-Za-z0-9_.@-]",
                new.owner
            )));
        }
        if new.permissions.is_empty() {
            return Err(AccessKeyError::Invalid("at least one permission".into()));
        }
        if new.allow_ips.is_empty() {
            return Err(AccessKeyError::Invalid(
                "at least one --allow-ip CIDR (an access key usable from anywhere is not offered)".into(),
            ));
        }
        let limit_class = new.limit_class.unwrap_or_else(|| "default".into());
        if !valid_owner(&limit_class) {
            return Err(AccessKeyError::Invalid(format!("limit class {limit_class:?}")));
        }
        let access_key = format!("ak_{}", random_hex(12));
        let (credential, secret, public) = match new.ed25519_public_key {
            Some(pk) => {
                let bytes: [u8; 32] = hex::decode(pk.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| AccessKeyError::Invalid("Ed25519 public key: 64 hex characters".into()))?;
                ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| AccessKeyError::Invalid("Ed25519 public key: not a valid point".into()))?;
                let pk = hex::encode(bytes);
                (
                    Credential::Ed25519 {
                        public_key: pk.clone(),
                    },
                    None,
                    Some(pk),
                )
            }
            None => {
                let secret = Zeroizing::new(random_hex(32));
                let sealed_secret = self.seal_secret(&access_key, &secret);
                (Credential::Hmac { sealed_secret }, Some(secret), None)
            }
        };
        let now = SystemClock.now_ms();
        let mut permissions = new.permissions;
        permissions.sort();
        permissions.dedup();
        let record = AccessKeyRecord {
            access_key: access_key.clone(),
            owner: new.owner,
            permissions,
            allow_ips: new.allow_ips,
            credential,
            enabled: true,
            limit_class,
            created_time: now,
            updated_time: now,
        };
        self.store.put(&record).await?;
        Ok(CreatedKey {
            access_key,
            secret_key: secret,
            public_key: public,
        })
    }

    fn seal_secret(&self, access_key: &str, secret: &str) -> String {
        self.key.seal(
            format!("{SECRET_AAD_PREFIX}{access_key}").as_bytes(),
            secret.as_bytes(),
        )
    }

    /// Every key.
    pub async fn list(&self) -> Result<Vec<AccessKeyRecord>, AccessKeyError> {
        self.store.list().await
    }

    /// One key.
    pub async fn get(&self, access_key: &str) -> Result<Option<AccessKeyRecord>, AccessKeyError> {
        self.store.get(access_key).await
    }

    /// Disable a key: every later request with it is refused.
    pub async fn disable(&self, access_key: &str) -> Result<AccessKeyRecord, AccessKeyError> {
        let mut rec = self
            .store
            .get(access_key)
            .await?
            .ok_or_else(|| AccessKeyError::NotFound(access_key.into()))?;
        rec.enabled = false;
        rec.updated_time = SystemClock.now_ms();
        self.store.put(&rec).await?;
        Ok(rec)
    }

    /// Give an HMAC key a new secret (the old one stops working at once), or an Ed25519
    /// key a new public key (`ed25519_public_key` required for those).
    pub async fn rotate(
        &self,
        access_key: &str,
        ed25519_public_key: Option<String>,
    ) -> Result<CreatedKey, AccessKeyError> {
        let mut rec = self
            .store
            .get(access_key)
            .await?
            .ok_or_else(|| AccessKeyError::NotFound(access_key.into()))?;
        let created = match (&rec.credential, ed25519_public_key) {
            (Credential::Hmac { .. }, None) => {
                let secret = Zeroizing::new(random_hex(32));
                rec.credential = Credential::Hmac {
                    sealed_secret: self.seal_secret(access_key, &secret),
                };
                CreatedKey {
                    access_key: access_key.into(),
                    secret_key: Some(secret),
                    public_key: None,
                }
            }
            (Credential::Ed25519 { .. }, Some(pk)) => {
                let bytes: [u8; 32] = hex::decode(pk.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| AccessKeyError::Invalid("Ed25519 public key: 64 hex characters".into()))?;
                ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| AccessKeyError::Invalid("Ed25519 public key: not a valid point".into()))?;
                rec.credential = Credential::Ed25519 {
                    public_key: hex::encode(bytes),
                };
                CreatedKey {
                    access_key: access_key.into(),
                    secret_key: None,
                    public_key: Some(hex::encode(bytes)),
                }
            }
            (Credential::Hmac { .. }, Some(_)) => {
                return Err(AccessKeyError::Invalid(format!(
                    "{access_key} is an HMAC key: rotate it without --ed25519-public-key"
                )))
            }
            (Credential::Ed25519 { .. }, None) => {
                return Err(AccessKeyError::Invalid(format!(
                    "{access_key} is an Ed25519 key: rotate it with --ed25519-public-key HEX"
                )))
            }
        };
        rec.updated_time = SystemClock.now_ms();
        self.store.put(&rec).await?;
        Ok(created)
    }

    /// A key derived from the store's secret key for another purpose (the MySQL audit
    /// log's signer): the same on every instance that shares the store and password.
    pub fn subkey(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        self.key.subkey(label)
    }

    /// What verifies a request signed with `record`.
    pub fn verifier(&self, record: &AccessKeyRecord) -> Result<Verifier, AccessKeyError> {
        match &record.credential {
            Credential::Hmac { sealed_secret } => {
                let aad = format!("{SECRET_AAD_PREFIX}{}", record.access_key);
                Ok(Verifier::Hmac(self.key.open(aad.as_bytes(), sealed_secret)?))
            }
            Credential::Ed25519 { public_key } => {
                let bytes: [u8; 32] = hex::decode(public_key)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| AccessKeyError::Store("stored Ed25519 key is not 32 bytes hex".into()))?;
                ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .map(Verifier::Ed25519)
                    .map_err(|_| AccessKeyError::Store("stored Ed25519 key is not a valid point".into()))
            }
        }
    }
}

async fn derive(password: &str, salt_hex: &str, iterations: u32) -> Result<SecretKey, AccessKeyError> {
    let salt = hex::decode(salt_hex).map_err(|_| AccessKeyError::Store("kdf salt is not hex".into()))?;
    let password = Zeroizing::new(password.to_string());
    // PBKDF2 takes about a second at the default count: off the async workers.
    tokio::task::spawn_blocking(move || SecretKey::derive(&password, &salt, iterations))
        .await
        .map_err(|e| AccessKeyError::Store(format!("kdf task: {e}")))?
        .map_err(AccessKeyError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_store_seals_secrets_and_refuses_a_wrong_password() {
        let dir = tempfile_dir();
        let store = Arc::new(FileStore::new(dir.join("ak.json")));
        let keys = AccessKeys::open(store.clone(), "pw", 10_000).await.unwrap();
        let created = keys
            .create(NewAccessKey {
                owner: "alice".into(),
                permissions: vec![Permission::Sign],
                allow_ips: vec!["127.0.0.1/32".parse().unwrap()],
                ed25519_public_key: None,
                limit_class: None,
            })
            .await
            .unwrap();
        let secret = created.secret_key.clone().unwrap();
        let text = std::fs::read_to_string(dir.join("ak.json")).unwrap();
        assert!(!text.contains(secret.as_str()), "secret stored in clear");
        let rec = keys.get(&created.access_key).await.unwrap().unwrap();
        match keys.verifier(&rec).unwrap() {
            Verifier::Hmac(k) => assert_eq!(k.as_slice(), secret.as_bytes()),
            other => panic!("{other:?}"),
        }
        assert!(rec.allows("127.0.0.1".parse().unwrap()));
        assert!(!rec.allows("127.0.0.2".parse().unwrap()));
        assert!(rec.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(matches!(
            AccessKeys::open(store, "wrong", 10_000).await,
            Err(AccessKeyError::WrongPassword)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("kms-gw-ak-{}", random_hex(8)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
