//! A whole local deployment for trying the service out: `kms devnet up --dir D` makes a
//! PKI, one home per node, a random DEK password per node, and starts the node daemons on
//! loopback; `kms devnet down --dir D` stops them (SIGTERM: they drain and audit
//! NODE_STOP).
//!
//! Layout of `D`:
//!
//! ```text
//! D/pki/                     the CA, gateway and node certificates (`kms pki init`)
//! D/passwords/tssN           each node's DEK password (0600)
//! D/tssN/certs, D/tssN/data  each node's home
//! D/tssN.log, D/tssN.pid     its log (JSON) and process id
//! D/peers.json               the pinned node identities (also in every home)
//! D/devnet.json              the nodes' (and the gateway's) addresses (see below)
//! D/passwords/gateway        the gateway's start password (0600)
//! D/gateway/gateway.toml     the gateway's configuration (node daemons over gRPC + mTLS)
//! D/gateway/                 its data: access keys, the coordinator's embedded store
//! D/gateway.log, D/gateway.pid
//! ```
//!
//! With a gateway (the default of `kms devnet up`), an HTTP API on 127.0.0.1 serves the
//! nodes, and `up` returns an access key with every permission, allowed from 127.0.0.1
//! (`kms devnet up` prints it as its last line:
//! `{"gateway_url":"http://127.0.0.1:PORT","access_key":"...","secret_key":"..."}`).
//! A coordinator of one's own connects with `kms_client::GrpcCluster`: the endpoints of
//! `devnet.json`, the gateway certificate under `D/pki/gateway/`, and `D/peers.json`.

use crate::pki;
use kms_core::identity::{NodeIdentityPublic, PeerDirectory};
use kms_core::NodeId;
use kms_storage::files::{create_private_dir, write_private_atomic};
use kms_transport::tls::Role;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What `devnet up` wrote to `D/devnet.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DevnetInfo {
    /// Each node and the address it listens on.
    pub nodes: Vec<(NodeId, SocketAddr)>,
    /// Where the gateway listens, if one was started.
    #[serde(default)]
    pub gateway: Option<SocketAddr>,
}

/// The gateway's access key made by `up` (every permission, from 127.0.0.1). `Debug`
/// hides the secret.
pub struct GatewayAccess {
    /// `http://127.0.0.1:PORT`.
    pub gateway_url: String,
    /// The access key.
    pub access_key: String,
    /// Its HMAC secret key.
    pub secret_key: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for GatewayAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayAccess")
            .field("gateway_url", &self.gateway_url)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

impl GatewayAccess {
    /// The line `kms devnet up` prints last.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "gateway_url": self.gateway_url,
            "access_key": self.access_key,
            "secret_key": self.secret_key.as_str(),
        })
        .to_string()
    }
}

/// Options of `devnet up`.
#[derive(Clone, Debug)]
pub struct DevnetOptions {
    /// Number of nodes (`tss1`..).
    pub nodes: usize,
    /// Port of `tss1`; the others follow. 0: free ports chosen by the system.
    pub base_port: u16,
    /// The `kms-node` binary.
    pub node_binary: PathBuf,
    /// A directory of pre-generated GG18 aux files `tssN.json` (see
    /// [`crate::node::load_gg18_aux`]); without it each node makes its own in the
    /// background.
    pub gg18_aux_dir: Option<PathBuf>,
    /// PBKDF2 iterations of the new DEK files.
    pub pbkdf2_iterations: u32,
    /// A binary that runs the gateway as `BINARY gateway ...` (the `kms` binary); `None`:
    /// no gateway.
    pub gateway_binary: Option<PathBuf>,
    /// The gateway's port (0: chosen by the system).
    pub gateway_port: u16,
}

fn io(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

fn copy_private(from: &Path, to: &Path) -> Result<(), String> {
    let bytes = std::fs::read(from).map_err(|e| io(&from.display().to_string(), e))?;
    write_private_atomic(to, &bytes).map_err(|e| e.to_string())
}

/// Make the deployment under `dir` and start its nodes (and the gateway); returns where
/// they listen and the gateway's access key.
pub fn up(dir: &Path, opts: &DevnetOptions) -> Result<(DevnetInfo, Option<GatewayAccess>), String> {
    if dir.join("devnet.json").exists() {
        return Err(format!(
            "a devnet exists in {} (run `kms devnet down` first, or use another --dir)",
            dir.display()
        ));
    }
    create_private_dir(dir).map_err(|e| e.to_string())?;
    let nodes: Vec<NodeId> = (1..=opts.nodes)
        .map(|i| NodeId::new(format!("tss{i}")).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let pki_dir = dir.join("pki");
    let layout = if pki_dir.join("ca.cert").exists() {
        pki::PkiDir::new(&pki_dir)
    } else {
        pki::init(&pki_dir, &nodes, "gateway").map_err(|e| e.to_string())?
    };
    create_private_dir(&dir.join("passwords")).map_err(|e| e.to_string())?;
    for node in &nodes {
        let certs = dir.join(node.as_str()).join("certs");
        create_private_dir(&dir.join(node.as_str())).map_err(|e| e.to_string())?;
        create_private_dir(&certs).map_err(|e| e.to_string())?;
        let role = Role::Node(node.clone());
        copy_private(&layout.ca_cert(), &certs.join("ca.cert"))?;
        copy_private(&layout.cert(&role), &certs.join(format!("{node}.cert")))?;
        copy_private(&layout.key(&role), &certs.join(format!("{node}.key")))?;
        let password_file = dir.join("passwords").join(node.as_str());
        if !password_file.exists() {
            let mut raw = zeroize::Zeroizing::new([0u8; 24]);
            OsRng.fill_bytes(raw.as_mut());
            let text = zeroize::Zeroizing::new(format!("{}\n", hex_encode(raw.as_ref())));
            write_private_atomic(&password_file, text.as_bytes()).map_err(|e| e.to_string())?;
        }
    }
    let node_cmd = |node: &NodeId| {
        let mut c = Command::new(&opts.node_binary);
        c.args(["--node-id", node.as_str(), "--home"])
            .arg(dir.join(node.as_str()))
            .arg("--password-file")
            .arg(dir.join("passwords").join(node.as_str()))
            .args(["--pbkdf2-iterations", &opts.pbkdf2_iterations.to_string()]);
        c
    };
    let mut identities = Vec::new();
    for node in &nodes {
        let out = node_cmd(node)
            .arg("identity")
            .output()
            .map_err(|e| io("kms-node identity", e))?;
        if !out.status.success() {
            return Err(format!(
                "kms-node identity {node}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let id: NodeIdentityPublic =
            serde_json::from_slice(&out.stdout).map_err(|e| io(&format!("identity of {node}"), e))?;
        identities.push(id);
    }
    let peers = serde_json::to_vec_pretty(&PeerDirectory::new(identities)).map_err(|e| e.to_string())?;
    write_private_atomic(&dir.join("peers.json"), &peers).map_err(|e| e.to_string())?;
    let mut info = DevnetInfo {
        nodes: Vec::new(),
        gateway: None,
    };
    for (i, node) in nodes.iter().enumerate() {
        write_private_atomic(&dir.join(node.as_str()).join("certs/peers.json"), &peers)
            .map_err(|e| e.to_string())?;
        let port = if opts.base_port == 0 {
            0
        } else {
            opts.base_port + i as u16
        };
        let log = std::fs::File::create(dir.join(format!("{node}.log"))).map_err(|e| io("log", e))?;
        let mut cmd = node_cmd(node);
        cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(aux) = &opts.gg18_aux_dir {
            cmd.arg("--gg18-aux-file").arg(aux.join(format!("{node}.json")));
        }
        let mut child = cmd.spawn().map_err(|e| io("kms-node", e))?;
        std::fs::write(dir.join(format!("{node}.pid")), child.id().to_string())
            .map_err(|e| io("pid file", e))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Reads until the daemon closes stdout, so it never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split(" listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(120)).map_err(|_| {
            format!(
                "{node} did not start; see {}",
                dir.join(format!("{node}.log")).display()
            )
        })?;
        let addr: SocketAddr = addr.parse().map_err(|e| io("address", e))?;
        info.nodes.push((node.clone(), addr));
    }
    let access = match &opts.gateway_binary {
        Some(bin) => {
            let (addr, access) = start_gateway(dir, bin, opts, &info)?;
            info.gateway = Some(addr);
            Some(access)
        }
        None => None,
    };
    let json = serde_json::to_vec_pretty(&info).map_err(|e| e.to_string())?;
    write_private_atomic(&dir.join("devnet.json"), &json).map_err(|e| e.to_string())?;
    Ok((info, access))
}

/// Write the gateway's configuration and password, start it over the nodes, and make
/// an access key with every permission allowed from 127.0.0.1.
fn start_gateway(
    dir: &Path,
    bin: &Path,
    opts: &DevnetOptions,
    info: &DevnetInfo,
) -> Result<(SocketAddr, GatewayAccess), String> {
    let home = dir.join("gateway");
    create_private_dir(&home).map_err(|e| e.to_string())?;
    let password_file = dir.join("passwords").join("gateway");
    if !password_file.exists() {
        let mut raw = zeroize::Zeroizing::new([0u8; 24]);
        OsRng.fill_bytes(raw.as_mut());
        let text = zeroize::Zeroizing::new(format!("{}\n", hex_encode(raw.as_ref())));
        write_private_atomic(&password_file, text.as_bytes()).map_err(|e| e.to_string())?;
    }
    let toml_str = |p: &Path| serde_json::to_string(&p.display().to_string()).unwrap_or_default();
    let nodes: Vec<String> = info
        .nodes
        .iter()
        .map(|(n, a)| format!("{{ node = \"{n}\", addr = \"{a}\" }}"))
        .collect();
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = {data}\npbkdf2_iterations = {iters}\nmin_ready_nodes = {ready}\n\n\
         [cluster]\nnodes = [{nodes}]\nca = {ca}\ncert = {cert}\nkey = {key}\npeers = {peers}\n",
        port = opts.gateway_port,
        data = toml_str(&home),
        iters = opts.pbkdf2_iterations,
        ready = info.nodes.len().min(3),
        nodes = nodes.join(", "),
        ca = toml_str(&dir.join("pki/ca.cert")),
        cert = toml_str(&dir.join("pki/gateway/gateway.cert")),
        key = toml_str(&dir.join("pki/gateway/gateway.key")),
        peers = toml_str(&dir.join("peers.json")),
    );
    let config_file = home.join("gateway.toml");
    write_private_atomic(&config_file, config.as_bytes()).map_err(|e| e.to_string())?;
    let gateway_cmd = || {
        let mut c = Command::new(bin);
        c.arg("gateway")
            .arg("--config")
            .arg(&config_file)
            .arg("--password-file")
            .arg(&password_file)
            .env_remove("KMS_GATEWAY_CONFIG");
        c
    };
    let log = std::fs::File::create(dir.join("gateway.log")).map_err(|e| io("gateway log", e))?;
    let mut child = gateway_cmd()
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| io("kms gateway", e))?;
    std::fs::write(dir.join("gateway.pid"), child.id().to_string()).map_err(|e| io("pid file", e))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("kms-gateway listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(120)).map_err(|_| {
        format!(
            "the gateway did not start; see {}",
            dir.join("gateway.log").display()
        )
    })?;
    let addr: SocketAddr = addr.parse().map_err(|e| io("gateway address", e))?;
    let out = gateway_cmd()
        .args([
            "access-key",
            "create",
            "--owner",
            "devnet",
            "--allow-ip",
            "127.0.0.1/32",
            "--permissions",
            "generate,sign,read,status,approve,admin",
        ])
        .output()
        .map_err(|e| io("kms gateway access-key create", e))?;
    if !out.status.success() {
        return Err(format!(
            "access-key create: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let created: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| io("access-key create output", e))?;
    let field = |name: &str| {
        created[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("access-key create printed no {name}"))
    };
    Ok((
        addr,
        GatewayAccess {
            gateway_url: format!("http://{addr}"),
            access_key: field("access_key")?,
            secret_key: zeroize::Zeroizing::new(field("secret_key")?),
        },
    ))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stop the nodes of the deployment under `dir` (SIGTERM, then wait up to 30 s each).
/// Homes, PKI and passwords stay, so `up` on the same directory restarts the same nodes.
pub fn down(dir: &Path) -> Result<Vec<NodeId>, String> {
    let bytes = std::fs::read(dir.join("devnet.json")).map_err(|e| io("devnet.json", e))?;
    let info: DevnetInfo = serde_json::from_slice(&bytes).map_err(|e| io("devnet.json", e))?;
    // The gateway first, so it does not see its nodes go.
    let gateway_pid = dir.join("gateway.pid");
    if let Ok(pid) = std::fs::read_to_string(&gateway_pid) {
        let pid = pid.trim().to_string();
        if pid.parse::<u32>().is_ok() {
            let sent = Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .map_err(|e| io("kill", e))?;
            if sent.success() {
                let deadline = Instant::now() + Duration::from_secs(30);
                while Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(&pid) {
                    if Instant::now() > deadline {
                        return Err(format!("the gateway (pid {pid}) did not stop within 30 s"));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        let _ = std::fs::remove_file(&gateway_pid);
    }
    let mut stopped = Vec::new();
    for (node, _) in &info.nodes {
        let pid_file = dir.join(format!("{node}.pid"));
        let Ok(pid) = std::fs::read_to_string(&pid_file) else {
            continue;
        };
        let pid = pid.trim().to_string();
        if pid.parse::<u32>().is_err() {
            return Err(format!("{}: not a process id", pid_file.display()));
        }
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(|e| io("kill", e))?;
        if sent.success() {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(&pid) {
                if Instant::now() > deadline {
                    return Err(format!("{node} (pid {pid}) did not stop within 30 s"));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            stopped.push(node.clone());
        }
        let _ = std::fs::remove_file(&pid_file);
    }
    std::fs::remove_file(dir.join("devnet.json")).map_err(|e| io("devnet.json", e))?;
    Ok(stopped)
}

fn is_zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}
