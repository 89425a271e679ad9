//! `kms-node`: a TSS node daemon. It answers gRPC calls over mutual TLS and never dials
//! out.
//!
//! ```text
//! kms-node --node-id tss1 --home DIR --listen 127.0.0.1:9001
//!          [--password-file FILE] [--log-format text|json] [--gg18-aux-file FILE]
//!          [--pbkdf2-iterations N] [--operator NAME]
//! kms-node identity --node-id tss1 --home DIR [--password-file FILE]
//! kms-node backup --out FILE --node-id tss1 --home DIR [--password-file FILE]
//! kms-node restore --in FILE --node-id tss1 --home DIR [--password-file FILE]
//! kms-node rotate-password --node-id tss1 --home DIR [--password-file FILE]
//!          [--new-password-file FILE]
//! ```
//!
//! `backup`, `restore` and `rotate-password` run on a stopped node (the daemon holds its
//! database's lock) and are audited in the node's log (BACKUP_CREATE, BACKUP_RESTORE,
//! CONFIG_CHANGE); see `kms_daemons::ops`. `restore` needs a home without a database
//! (remove `data/NODE.redb` first) and the password the backup was made under. The new
//! password of `rotate-password` comes from `--new-password-file`, else
//! `KMS_NEW_DEK_PASSWORD`, else the terminal (asked twice).
//!
//! The DEK password comes from `--password-file` (first line), else `KMS_DEK_PASSWORD`,
//! else the terminal. Once it serves, the daemon prints `kms-node NODE listening on ADDR`
//! on stdout (`--listen 127.0.0.1:0` picks a free port). SIGTERM or SIGINT drains it
//! (health NOT_SERVING, new calls refused, calls in flight answered) and it exits 0.
//! Exit status 2: wrong password (no file changed); 1: any other failure. Logs go to
//! stderr (`RUST_LOG` filters them) and never hold secrets.

use clap::{Parser, Subcommand, ValueEnum};
use kms_core::audit::AuditEventType;
use kms_core::NodeId;
use kms_daemons::node::{self, DaemonError, NodeHome};
use kms_daemons::ops;
use kms_transport::grpc::{NodeServer, NodeServerConfig};
use kms_transport::tls::node_server_config;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing::{error, info};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "kms-node",
    version,
    about = "A TSS node of the MPC key-management service"
)]
struct Cli {
    /// The node's id, e.g. tss1.
    #[arg(long, global = true)]
    node_id: Option<String>,
    /// The node's home (certs/, data/).
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    /// A file whose first line is the DEK password.
    #[arg(long, global = true)]
    password_file: Option<PathBuf>,
    /// PBKDF2 iterations for a new DEK file (an existing one keeps its own; at least 10 000).
    #[arg(long, global = true, default_value_t = kms_storage::keyring::DEFAULT_PBKDF2_ITERATIONS)]
    pbkdf2_iterations: u32,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Where to listen, e.g. 127.0.0.1:9001.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Pre-generated GG18 aux material (see kms_daemons::node::load_gg18_aux); without
    /// it the node generates its own (safe primes, minutes of CPU).
    #[arg(long)]
    gg18_aux_file: Option<PathBuf>,
    /// Who runs the node or the operation, for its audit record (default: $USER).
    #[arg(long, global = true)]
    operator: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Unlock the storage (creating the DEK on first use) and print the node's public
    /// identity as JSON, for the cluster's peers.json.
    Identity,
    /// Back the stopped node up into one file: the encrypted, manifest-checked backup
    /// of its store (shards, secrets, audit log) and its wrapped DEK.
    Backup {
        /// The backup file to write (must not exist; 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore the node from a backup file into a home without a database; every file,
    /// the password, the manifest's MAC and every shard are checked before anything is
    /// written.
    Restore {
        /// The backup file.
        #[arg(long = "in")]
        input: PathBuf,
    },
    /// Re-wrap the stopped node's DEK under a new password; the old one stops working,
    /// shards and secrets are unchanged.
    RotatePassword {
        /// A file whose first line is the new password.
        #[arg(long)]
        new_password_file: Option<PathBuf>,
    },
}

/// The environment variable the new password of `rotate-password` may come from.
const NEW_PASSWORD_ENV: &str = "KMS_NEW_DEK_PASSWORD";

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}

enum Failure {
    Usage(String),
    Daemon(DaemonError),
}

impl From<DaemonError> for Failure {
    fn from(e: DaemonError) -> Self {
        Failure::Daemon(e)
    }
}

async fn identity(cli: &Cli, home: &NodeHome) -> Result<(), Failure> {
    let password = node::read_password(home.node(), cli.password_file.as_deref())?;
    let opened = node::open_storage(home, password, cli.pbkdf2_iterations).await?;
    let public = opened.identity.public();
    println!(
        "{}",
        serde_json::to_string(&public).map_err(|e| Failure::Usage(e.to_string()))?
    );
    Ok(())
}

fn operator(cli: &Cli) -> String {
    cli.operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn new_password(home: &NodeHome, file: Option<&std::path::Path>) -> Result<Zeroizing<String>, Failure> {
    if file.is_some() {
        return Ok(node::read_password(home.node(), file)?);
    }
    let err = |reason: String| {
        Failure::Daemon(DaemonError::Password {
            node: home.node().clone(),
            reason,
        })
    };
    let password = match std::env::var(NEW_PASSWORD_ENV) {
        Ok(p) => Zeroizing::new(p),
        Err(_) => {
            let prompt = |what: &str| {
                rpassword::prompt_password(format!("{what} DEK password of {}: ", home.node()))
                    .map(Zeroizing::new)
                    .map_err(|e| err(format!("cannot read from the terminal: {e}")))
            };
            let first = prompt("New")?;
            if *prompt("Repeat the new")? != *first {
                return Err(err("the two new passwords differ".into()));
            }
            first
        }
    };
    if password.is_empty() {
        return Err(err("empty new password".into()));
    }
    Ok(password)
}

async fn offline(cli: &Cli, home: &NodeHome, command: &Command) -> Result<(), Failure> {
    if let Command::Identity = command {
        return identity(cli, home).await;
    }
    let password = node::read_password(home.node(), cli.password_file.as_deref())?;
    let iterations = cli.pbkdf2_iterations;
    let summary = |m: &kms_storage::BackupManifest| {
        serde_json::json!({
            "node": m.node_id,
            "backup_id": m.backup_id,
            "created_at_ms": m.created_at_ms,
            "shards": m.shard_count,
            "audit_records": m.audit_records,
        })
    };
    match command {
        Command::Identity => {}
        Command::Backup { out } => {
            let m = ops::backup(home, password, iterations, out, &operator(cli)).await?;
            info!(node = %home.node(), backup = %m.backup_id, file = %out.display(), "backup written");
            println!("{}", summary(&m));
        }
        Command::Restore { input } => {
            let m = ops::restore(home, password, iterations, input, &operator(cli)).await?;
            info!(node = %home.node(), backup = %m.backup_id, file = %input.display(), "backup restored");
            println!("{}", summary(&m));
        }
        Command::RotatePassword { new_password_file } => {
            let new = new_password(home, new_password_file.as_deref())?;
            ops::rotate_password(home, password, new, iterations, &operator(cli)).await?;
            info!(node = %home.node(), "DEK password rotated");
            println!("kms-node {}: DEK password rotated", home.node());
        }
    }
    Ok(())
}

async fn serve(cli: &Cli, home: &NodeHome) -> Result<(), Failure> {
    let id = home.node().clone();
    let listen = cli
        .listen
        .ok_or_else(|| Failure::Usage("--listen ADDR is required to serve".into()))?;
    let password = node::read_password(&id, cli.password_file.as_deref())?;
    let opened = node::open_storage(home, password, cli.pbkdf2_iterations).await?;
    info!(node = %id, "storage unlocked");
    let aux = match &cli.gg18_aux_file {
        Some(path) => {
            let aux = node::load_gg18_aux(&id, path)?;
            info!(node = %id, refresh = aux.refresh.len(), "GG18 aux material loaded from file");
            Some(aux)
        }
        None => None,
    };
    let opened = node::build_node(home, opened, aux)?;
    let tls = node_server_config(&node::tls_files(home)).map_err(|e| DaemonError::Tls {
        node: id.clone(),
        reason: e.to_string(),
    })?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| DaemonError::Server {
            node: id.clone(),
            reason: format!("cannot listen on {listen}: {e}"),
        })?;
    let bound = listener.local_addr().map_err(|e| DaemonError::Server {
        node: id.clone(),
        reason: e.to_string(),
    })?;
    let operator = operator(cli);
    node::audit_node_event(
        &opened.storage,
        AuditEventType::NodeStart,
        &operator,
        &format!("listening on {bound}"),
    )
    .await?;
    // Every scheme's setup material (GG18: the node's own Paillier and ring-Pedersen
    // keys, then the pool of fresh sets for refreshes) is made in the background from
    // the start (safe primes take minutes) and kept in the encrypted vault across
    // restarts. Material loaded from a file turns the pool's refill off.
    opened.node.start_setup();
    let server = NodeServer::new(opened.node.clone(), tls, NodeServerConfig::default());
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = term.recv() => info!(node = %id, "SIGTERM: draining"),
            _ = tokio::signal::ctrl_c() => info!(node = %id, "SIGINT: draining"),
        }
    };
    info!(node = %id, addr = %bound, "listening");
    println!("kms-node {id} listening on {bound}");
    server
        .serve(listener, shutdown)
        .await
        .map_err(|e| DaemonError::Server {
            node: id.clone(),
            reason: e.to_string(),
        })?;
    node::audit_node_event(
        &opened.storage,
        AuditEventType::NodeStop,
        &operator,
        "graceful shutdown",
    )
    .await?;
    info!(node = %id, "stopped");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let (Some(node_id), Some(home)) = (cli.node_id.clone(), cli.home.clone()) else {
        eprintln!("kms-node: --node-id and --home are required");
        return ExitCode::from(64);
    };
    let node_id = match NodeId::new(node_id) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("kms-node: {e}");
            return ExitCode::from(64);
        }
    };
    let home = NodeHome::new(node_id, home);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kms-node: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(ref command) => offline(&cli, &home, command).await,
            None => serve(&cli, &home).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("kms-node: {e}");
            ExitCode::from(64)
        }
        Err(Failure::Daemon(e)) => {
            error!(error = %e, "kms-node failed");
            eprintln!("kms-node: {e}");
            if e.is_wrong_password() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
