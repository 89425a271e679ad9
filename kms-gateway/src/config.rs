//! The gateway's configuration: a TOML file, then `KMS_GATEWAY_*` environment
//! variables over it. Secret values (`mysql_url`, `redis_url`) may be written
//! `enc:v1:...` (see [`crate::secrets`], `kms-gateway encrypt-secret`); they are opened
//! with the start password.
//!
//! ```toml
//! listen = "0.0.0.0:8080"            # default 127.0.0.1:8080
//! data_dir = "/var/lib/kms-gateway"  # access keys, and the in-process cluster's stores
//! mysql_url = "enc:v1:600000:..."    # absent: embedded stores
//! redis_url = "enc:v1:600000:..."    # absent: in-process limits, nonces, idempotency
//! trusted_proxies = ["10.0.0.0/8"]   # X-Forwarded-For is read only from these peers
//!
//! [cluster]                          # absent: in-process nodes under data_dir
//! nodes = [{ node = "tss1", addr = "10.0.1.1:9001" }]
//! ca = "pki/ca.cert"
//! cert = "pki/gateway/gateway.cert"
//! key = "pki/gateway/gateway.key"
//! peers = "peers.json"
//!
//! [limits.access_keys.default]       # per access key, by the key's limit class
//! requests = 600
//! window_seconds = 60
//! mode = "sliding"                   # or "fixed"
//! [limits.keys.default]              # per key id, by algorithm (EDDSA, GG18, ...) or default
//! requests = 120
//! window_seconds = 60
//! ```
//!
//! Environment overrides: `KMS_GATEWAY_LISTEN`, `KMS_GATEWAY_DATA_DIR`,
//! `KMS_GATEWAY_MYSQL_URL`, `KMS_GATEWAY_MYSQL_TABLE_PREFIX`, `KMS_GATEWAY_REDIS_URL`,
//! `KMS_GATEWAY_REDIS_PREFIX`, `KMS_GATEWAY_TRUSTED_PROXIES` (comma separated),
//! `KMS_GATEWAY_PBKDF2_ITERATIONS`, `KMS_GATEWAY_MIN_READY_NODES`,
//! `KMS_GATEWAY_NODES`, `KMS_GATEWAY_GG18_AUX_DIR`.

use crate::limits::{Limit, WindowMode};
use crate::secrets;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Why the configuration was refused (names the setting; never shows a secret).
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// A node daemon.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeAddr {
    /// Its id (`tss1`).
    pub node: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Node daemons over gRPC with mutual TLS.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The nodes.
    pub nodes: Vec<NodeAddr>,
    /// The CA certificate.
    pub ca: PathBuf,
    /// The gateway's client certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The nodes' pinned identities (`peers.json`).
    pub peers: PathBuf,
}

/// Rate limits by class.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Per access key, by its limit class (`default` for keys without one).
    #[serde(default = "default_access_key_limits")]
    pub access_keys: BTreeMap<String, Limit>,
    /// Per key id, by the key's algorithm (`EDDSA`, `GG18`, ...), else `default`.
    #[serde(default = "default_key_limits")]
    pub keys: BTreeMap<String, Limit>,
}

fn default_access_key_limits() -> BTreeMap<String, Limit> {
    BTreeMap::from([(
        "default".to_string(),
        Limit {
            requests: 600,
            window_seconds: 60,
            mode: WindowMode::Sliding,
        },
    )])
}

fn default_key_limits() -> BTreeMap<String, Limit> {
    BTreeMap::from([(
        "default".to_string(),
        Limit {
            requests: 300,
            window_seconds: 60,
            mode: WindowMode::Sliding,
        },
    )])
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            access_keys: default_access_key_limits(),
            keys: default_key_limits(),
        }
    }
}

impl LimitsConfig {
    /// The limit of an access key's class (its own, else `default`, else none).
    pub fn for_access_key(&self, class: &str) -> Option<&Limit> {
        self.access_keys
            .get(class)
            .or_else(|| self.access_keys.get("default"))
    }

    /// The per-key limit of an algorithm.
    pub fn for_key(&self, algorithm: &str) -> Option<&Limit> {
        self.keys.get(algorithm).or_else(|| self.keys.get("default"))
    }
}

/// The configuration file as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    mysql_url: Option<String>,
    mysql_table_prefix: Option<String>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    #[serde(default)]
    trusted_proxies: Vec<IpNet>,
    pbkdf2_iterations: Option<u32>,
    min_ready_nodes: Option<usize>,
    nodes: Option<usize>,
    gg18_aux_dir: Option<PathBuf>,
    max_body_bytes: Option<usize>,
    cluster: Option<ClusterConfig>,
    risk_rules: Option<PathBuf>,
    #[serde(default)]
    limits: LimitsConfig,
}

/// The gateway's settings, secrets opened. `Debug` hides the URLs' credentials.
#[derive(Clone)]
pub struct Config {
    /// Where to listen (default `127.0.0.1:8080`; `0.0.0.0:8080` in production).
    pub listen: SocketAddr,
    /// The gateway's own files.
    pub data_dir: PathBuf,
    /// MySQL/MariaDB for access keys (and, with node daemons, key metadata and audit).
    pub mysql_url: Option<Zeroizing<String>>,
    /// Prefix of the gateway's tables.
    pub mysql_table_prefix: String,
    /// Redis for nonces, rate limits and idempotency keys.
    pub redis_url: Option<Zeroizing<String>>,
    /// Prefix of every Redis key (default `kms:`).
    pub redis_prefix: String,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// PBKDF2 count for new stores (never below 10 000).
    pub pbkdf2_iterations: u32,
    /// `/health` is ready only when at least this many nodes answer (default 3: enough
    /// for the default 2-of-3 key).
    pub min_ready_nodes: usize,
    /// In-process cluster: number of nodes (default 4).
    pub nodes: usize,
    /// In-process cluster: GG18 aux files `tssN.json` (as `kms-node --gg18-aux-file`).
    pub gg18_aux_dir: Option<PathBuf>,
    /// Largest request body accepted (default 1 MiB).
    pub max_body_bytes: usize,
    /// Node daemons; `None`: in-process nodes.
    pub cluster: Option<ClusterConfig>,
    /// Rate limits.
    pub limits: LimitsConfig,
    /// The risk rule file (JSON, or TOML by its `.toml` name; see `docs/policy.md`);
    /// `None`: no rules, everything authorised runs.
    pub risk_rules: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("mysql_url", &self.mysql_url.as_ref().map(|_| "<redacted>"))
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<redacted>"))
            .field("trusted_proxies", &self.trusted_proxies)
            .field("cluster", &self.cluster)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The default listen address (loopback; production configs say `0.0.0.0:8080`).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

fn env(name: &str, get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    get(&format!("KMS_GATEWAY_{name}")).filter(|v| !v.is_empty())
}

fn parse_env<T: std::str::FromStr>(
    name: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    env(name, get)
        .map(|v| {
            v.parse()
                .map_err(|e| ConfigError(format!("KMS_GATEWAY_{name}: {e}")))
        })
        .transpose()
}

impl Config {
    /// Read `file` (if given), apply the process environment, open secrets with
    /// `password`.
    pub fn load(file: Option<&Path>, password: &str) -> Result<Config, ConfigError> {
        let text = match file {
            Some(p) => {
                std::fs::read_to_string(p).map_err(|e| ConfigError(format!("{}: {e}", p.display())))?
            }
            None => String::new(),
        };
        Self::from_parts(&text, &|k| std::env::var(k).ok(), password)
    }

    /// Parse TOML `text`, apply the variables `get` returns, open secrets.
    pub fn from_parts(
        text: &str,
        get: &dyn Fn(&str) -> Option<String>,
        password: &str,
    ) -> Result<Config, ConfigError> {
        let mut f: FileConfig = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        if let Some(v) = parse_env("LISTEN", get)? {
            f.listen = Some(v);
        }
        if let Some(v) = env("DATA_DIR", get) {
            f.data_dir = Some(v.into());
        }
        if let Some(v) = env("MYSQL_URL", get) {
            f.mysql_url = Some(v);
        }
        if let Some(v) = env("MYSQL_TABLE_PREFIX", get) {
            f.mysql_table_prefix = Some(v);
        }
        if let Some(v) = env("REDIS_URL", get) {
            f.redis_url = Some(v);
        }
        if let Some(v) = env("REDIS_PREFIX", get) {
            f.redis_prefix = Some(v);
        }
        if let Some(v) = env("TRUSTED_PROXIES", get) {
            f.trusted_proxies = v
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .map_err(|e| ConfigError(format!("KMS_GATEWAY_TRUSTED_PROXIES {s:?}: {e}")))
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = parse_env("PBKDF2_ITERATIONS", get)? {
            f.pbkdf2_iterations = Some(v);
        }
        if let Some(v) = parse_env("MIN_READY_NODES", get)? {
            f.min_ready_nodes = Some(v);
        }
        if let Some(v) = parse_env("NODES", get)? {
            f.nodes = Some(v);
        }
        if let Some(v) = env("GG18_AUX_DIR", get) {
            f.gg18_aux_dir = Some(v.into());
        }
        if let Some(v) = env("RISK_RULES", get) {
            f.risk_rules = Some(v.into());
        }
        let open = |name: &str, v: Option<String>| -> Result<Option<Zeroizing<String>>, ConfigError> {
            match v {
                None => Ok(None),
                Some(v) if secrets::is_encrypted(&v) => secrets::decrypt_value(password, &v)
                    .map(Some)
                    .map_err(|e| ConfigError(format!("{name}: {e}"))),
                Some(v) => Ok(Some(Zeroizing::new(v))),
            }
        };
        let pbkdf2_iterations = f.pbkdf2_iterations.unwrap_or(secrets::DEFAULT_PBKDF2_ITERATIONS);
        if pbkdf2_iterations < secrets::MIN_PBKDF2_ITERATIONS {
            return Err(ConfigError(format!(
                "pbkdf2_iterations {pbkdf2_iterations} is below {}",
                secrets::MIN_PBKDF2_ITERATIONS
            )));
        }
        let data_dir = f
            .data_dir
            .ok_or_else(|| ConfigError("data_dir is required (or KMS_GATEWAY_DATA_DIR)".into()))?;
        Ok(Config {
            listen: f
                .listen
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            data_dir,
            mysql_url: open("mysql_url", f.mysql_url)?,
            mysql_table_prefix: f.mysql_table_prefix.unwrap_or_default(),
            redis_url: open("redis_url", f.redis_url)?,
            redis_prefix: f.redis_prefix.unwrap_or_else(|| "kms:".into()),
            trusted_proxies: f.trusted_proxies,
            pbkdf2_iterations,
            min_ready_nodes: f.min_ready_nodes.unwrap_or(3),
            nodes: f.nodes.unwrap_or(4),
            gg18_aux_dir: f.gg18_aux_dir,
            max_body_bytes: f.max_body_bytes.unwrap_or(1 << 20),
            cluster: f.cluster,
            limits: f.limits,
            risk_rules: f.risk_rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_the_file_and_encrypted_values_open() {
        let sealed = secrets::encrypt_value("pw", "redis://127.0.0.1:6379", 10_000).unwrap();
        let text = format!(
            "data_dir = \"/tmp/x\"\nredis_url = \"{sealed}\"\n[limits.access_keys.default]\nrequests = 5\nwindow_seconds = 1\n"
        );
        let env = |k: &str| (k == "KMS_GATEWAY_LISTEN").then(|| "127.0.0.1:9999".to_string());
        let c = Config::from_parts(&text, &env, "pw").unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.redis_url.as_ref().unwrap().as_str(), "redis://127.0.0.1:6379");
        assert_eq!(c.limits.for_access_key("x").unwrap().requests, 5);
        assert!(!format!("{c:?}").contains("6379"));
        let err = Config::from_parts(&text, &env, "wrong").unwrap_err();
        assert!(err.0.starts_with("redis_url:"), "{err}");
        assert!(Config::from_parts("nonsense = 1\ndata_dir=\"/x\"", &env, "pw").is_err());
    }
}
