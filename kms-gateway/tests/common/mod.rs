//! A real `kms-gateway` process for the tests, and a client that signs its requests
//! exactly as the documented scheme says.
#![allow(dead_code)]

use kms_gateway::auth::{hmac_signature, string_to_sign};
use rand_core::{OsRng, RngCore};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const PASSWORD: &str = "gateway test password";

pub fn gateway_bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kms-gateway"));
    c.env("KMS_GATEWAY_PASSWORD", PASSWORD)
        .env_remove("KMS_GATEWAY_CONFIG")
        .env_remove("KMS_GATEWAY_REDIS_URL")
        .env_remove("KMS_GATEWAY_MYSQL_URL");
    c
}

pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// GG18 aux files from the fixture primes (node i: fixture party i), as kms-node reads them.
pub fn write_aux_files(dir: &Path) -> PathBuf {
    let aux = dir.join("aux");
    std::fs::create_dir_all(&aux).unwrap();
    let json: serde_json::Value = serde_json::from_str(include_str!(
        "../../../kms-protocols/tests/data/gg18_fixtures.json"
    ))
    .unwrap();
    for i in 0..4 {
        let file = serde_json::json!({
            "own": json["parties"][i],
            "refresh": [json["refresh_parties"][i]],
        });
        std::fs::write(aux.join(format!("tss{}.json", i + 1)), file.to_string()).unwrap();
    }
    aux
}

/// A running gateway; stopped (SIGTERM, then waited for) on drop.
pub struct Gateway {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub addr: SocketAddr,
    pub child: Option<Child>,
    pub log: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Gateway {
    /// Start over a fresh data directory with `extra` TOML appended to the config.
    pub fn start(extra: &str) -> Gateway {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut g = Self::start_in(&dir, extra);
        g._tmp = Some(tmp);
        g
    }

    /// Start with its data in `dir` (kept by the caller).
    pub fn start_in(dir: &Path, extra: &str) -> Gateway {
        let data = dir.join("data");
        let config = dir.join(format!("gateway-{}.toml", random_hex(4)));
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\npbkdf2_iterations = 10000\n{extra}\n",
                data.display()
            ),
        )
        .unwrap();
        let log = dir.join(format!("gateway-{}.log", random_hex(4)));
        let mut child = gateway_bin()
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("kms-gateway listening on ") {
                    let _ = tx.send(a.trim().to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => a.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the gateway did not start: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        Gateway {
            dir: dir.to_path_buf(),
            config,
            addr,
            child: Some(child),
            log,
            _tmp: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Run `kms-gateway access-key ARGS` on this gateway's configuration.
    pub fn access_key(&self, args: &[&str]) -> std::process::Output {
        gateway_bin()
            .arg("--config")
            .arg(&self.config)
            .arg("access-key")
            .args(args)
            .output()
            .unwrap()
    }

    /// A new HMAC access key from 127.0.0.1 with `permissions`.
    pub fn create_key(&self, owner: &str, permissions: &str) -> Creds {
        let out = self.access_key(&[
            "create",
            "--owner",
            owner,
            "--allow-ip",
            "127.0.0.1/32",
            "--permissions",
            permissions,
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8(out.stdout).unwrap();
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(
            v.as_object().unwrap().len(),
            2,
            "exactly access_key and secret_key: {line}"
        );
        Creds {
            access_key: v["access_key"].as_str().unwrap().to_string(),
            secret: Secret::Hmac(v["secret_key"].as_str().unwrap().to_string()),
        }
    }

    /// SIGTERM and wait; returns the log.
    pub fn stop(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Clone)]
pub enum Secret {
    Hmac(String),
    Ed25519(ed25519_dalek::SigningKey),
}

#[derive(Clone)]
pub struct Creds {
    pub access_key: String,
    pub secret: Secret,
}

/// How to (mis)sign a request.
#[derive(Clone, Default)]
pub struct Opts {
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    /// Sign this body but send the real one.
    pub signed_body: Option<Vec<u8>>,
    pub idempotency_key: Option<String>,
    pub client: Option<reqwest::Client>,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Send a signed request; `path` may carry a query.
pub async fn call(
    g: &Gateway,
    creds: &Creds,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    opts: Opts,
) -> Answer {
    let body_bytes = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let ts = opts.timestamp.clone().unwrap_or_else(|| now_ms().to_string());
    let nonce = opts.nonce.clone().unwrap_or_else(|| random_hex(16));
    let signed = opts.signed_body.clone().unwrap_or_else(|| body_bytes.clone());
    let sts = string_to_sign(method, p, q, &ts, &nonce, &signed);
    let sig = match &creds.secret {
        Secret::Hmac(s) => hmac_signature(s.as_bytes(), &sts),
        Secret::Ed25519(k) => {
            use ed25519_dalek::Signer;
            hex::encode(k.sign(sts.as_bytes()).to_bytes())
        }
    };
    let client = opts.client.clone().unwrap_or_else(http);
    let mut rb = client
        .request(method.parse().unwrap(), g.url(path))
        .header("X-KMS-Access-Key", &creds.access_key)
        .header("X-KMS-Timestamp", ts)
        .header("X-KMS-Nonce", nonce)
        .header("X-KMS-Signature", sig)
        .header("User-Agent", "kms-gateway-tests/1");
    if let Some(k) = &opts.idempotency_key {
        rb = rb.header("Idempotency-Key", k);
    }
    if body.is_some() {
        rb = rb.header("content-type", "application/json").body(body_bytes);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

/// The error envelope's request id matches the header, and the code is `code`.
pub fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.code(), code, "{}", a.body);
    let rid = a.body["error"]["request_id"].as_str().unwrap();
    assert!(rid.starts_with("req_"), "{}", a.body);
    assert_eq!(a.headers["x-request-id"].to_str().unwrap(), rid);
    assert!(!a.body["error"]["message"].as_str().unwrap().is_empty());
}

/// Hex with or without `0x` (the chain answers write `0x`).
pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).unwrap()
}
