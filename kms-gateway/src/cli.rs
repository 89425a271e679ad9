//! The command lines shared by `kms-gateway` and `kms` (`kms access-key ...` runs the
//! same code): access-key management and the start password.

use crate::access_keys::{AccessKeyStore, AccessKeys, FileStore, MySqlStore, NewAccessKey, Permission};
use crate::config::Config;
use clap::{Parser, Subcommand};
use ipnet::IpNet;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use zeroize::Zeroizing;

/// `access-key ...`.
#[derive(Debug, Subcommand)]
pub enum AccessKeyCommand {
    /// Create an access key. Prints `{"access_key":"...","secret_key":"..."}` (HMAC), or
    /// `{"access_key":"...","public_key":"..."}` with --ed25519-public-key. The secret is
    /// shown only here.
    Create {
        /// The owner (the audit's user_id).
        #[arg(long)]
        owner: String,
        /// Allowed client networks (CIDR; a bare address is /32 or /128).
        #[arg(long = "allow-ip", num_args = 1.., required = true)]
        allow_ip: Vec<String>,
        /// Comma separated: generate, sign, read, status, approve, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        permissions: Vec<String>,
        /// Make an Ed25519 key with this public key (64 hex characters); the gateway
        /// keeps only the public key and no secret is printed.
        #[arg(long)]
        ed25519_public_key: Option<String>,
        /// Rate-limit class (`[limits.access_keys.<class>]`).
        #[arg(long)]
        limit_class: Option<String>,
    },
    /// List the access keys (one JSON object per line; no secrets).
    List,
    /// Disable an access key: every later request with it is refused.
    Disable {
        /// The access key.
        access_key: String,
    },
    /// New secret for an HMAC key (printed once), or a new public key for an Ed25519 key.
    Rotate {
        /// The access key.
        access_key: String,
        /// The new Ed25519 public key (Ed25519 keys only).
        #[arg(long)]
        ed25519_public_key: Option<String>,
    },
}

/// The start password: the file's first line, else `KMS_GATEWAY_PASSWORD`, else a
/// prompt on the terminal.
pub fn read_password(file: Option<&Path>) -> Result<Zeroizing<String>, String> {
    if let Some(f) = file {
        let text = Zeroizing::new(std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?);
        let line = text.lines().next().unwrap_or("").to_string();
        return Ok(Zeroizing::new(line));
    }
    if let Ok(p) = std::env::var("KMS_GATEWAY_PASSWORD") {
        if !p.is_empty() {
            return Ok(Zeroizing::new(p));
        }
    }
    rpassword::prompt_password("kms-gateway start password: ")
        .map(Zeroizing::new)
        .map_err(|e| format!("cannot read the password: {e}"))
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("--allow-ip {s:?}: not a CIDR or an address"))
}

/// Open the access keys the configuration names (MySQL when `mysql_url` is set, else
/// `data_dir/access_keys.json`).
pub async fn open_access_keys(config: &Config, password: &str) -> Result<AccessKeys, String> {
    let store: Arc<dyn AccessKeyStore> = match &config.mysql_url {
        Some(url) => Arc::new(
            MySqlStore::connect(url, &config.mysql_table_prefix)
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => Arc::new(FileStore::new(config.data_dir.join("access_keys.json"))),
    };
    AccessKeys::open(store, password, config.pbkdf2_iterations)
        .await
        .map_err(|e| e.to_string())
}

/// Run an `access-key` command over the configuration in `config_file` (and the
/// `KMS_GATEWAY_*` environment); returns the lines to print.
pub async fn run_access_key(
    config_file: Option<&Path>,
    password_file: Option<&Path>,
    command: AccessKeyCommand,
) -> Result<Vec<String>, String> {
    let password = read_password(password_file)?;
    let config = Config::load(config_file, &password).map_err(|e| e.to_string())?;
    let keys = open_access_keys(&config, &password).await?;
    match command {
        AccessKeyCommand::Create {
            owner,
            allow_ip,
            permissions,
            ed25519_public_key,
            limit_class,
        } => {
            let allow_ips = allow_ip
                .iter()
                .flat_map(|s| s.split(','))
                .filter(|s| !s.is_empty())
                .map(parse_net)
                .collect::<Result<Vec<_>, _>>()?;
            let permissions = permissions
                .iter()
                .map(|p| p.trim().parse::<Permission>())
                .collect::<Result<Vec<_>, _>>()?;
            let created = keys
                .create(NewAccessKey {
                    owner,
                    permissions,
                    allow_ips,
                    ed25519_public_key,
                    limit_class,
                })
                .await
                .map_err(|e| e.to_string())?;
            Ok(vec![created.to_json()])
        }
        AccessKeyCommand::List => Ok(keys
            .list()
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| r.public_view().to_string())
            .collect()),
        AccessKeyCommand::Disable { access_key } => {
            let rec = keys.disable(&access_key).await.map_err(|e| e.to_string())?;
            Ok(vec![rec.public_view().to_string()])
        }
        AccessKeyCommand::Rotate {
            access_key,
            ed25519_public_key,
        } => {
            let created = keys
                .rotate(&access_key, ed25519_public_key)
                .await
                .map_err(|e| e.to_string())?;
            Ok(vec![created.to_json()])
        }
    }
}

/// The default configuration file, if `KMS_GATEWAY_CONFIG` names one.
pub fn config_from_env() -> Option<PathBuf> {
    std::env::var_os("KMS_GATEWAY_CONFIG").map(PathBuf::from)
}

/// The command line of `kms-gateway` (and of `kms gateway`).
#[derive(Parser)]
#[command(
    name = "kms-gateway",
    version,
    about = "The HTTP gateway of the MPC key-management service"
)]
pub struct Cli {
    /// The TOML configuration (default: $KMS_GATEWAY_CONFIG; KMS_GATEWAY_* variables override it).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// A file whose first line is the start password.
    #[arg(long, global = true)]
    pub password_file: Option<PathBuf>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Encrypt a configuration value (read from stdin) under the start password; prints
    /// `enc:v1:...` to put in the file in its place.
    EncryptSecret {
        /// PBKDF2 iterations (at least 10 000).
        #[arg(long, default_value_t = crate::secrets::DEFAULT_PBKDF2_ITERATIONS)]
        pbkdf2_iterations: u32,
    },
    /// Print the OpenAPI 3 document of the API (`docs/openapi.json`).
    Openapi,
    /// Manage access keys.
    AccessKey {
        /// The access-key command.
        #[command(subcommand)]
        command: AccessKeyCommand,
    },
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested: finishing requests under way");
}

/// Serve the API until SIGTERM or Ctrl-C (prints `kms-gateway listening on ADDR`).
pub async fn serve(config_file: Option<PathBuf>, password_file: Option<PathBuf>) -> Result<(), String> {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let password = read_password(password_file.as_deref())?;
    let config = Config::load(config_file.as_deref(), &password).map_err(|e| e.to_string())?;
    let listen = config.listen;
    let state = crate::server::build_state(config, &password).await?;
    drop(password);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, "listening");
    println!("kms-gateway listening on {addr}");
    crate::server::serve(listener, state, shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<(), String> {
    let config = cli.config.or_else(config_from_env);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => rt.block_on(serve(config, cli.password_file)),
        Command::EncryptSecret { pbkdf2_iterations } => {
            let password = read_password(cli.password_file.as_deref())?;
            let mut value = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut value)
                .map_err(|e| format!("stdin: {e}"))?;
            let value = value.trim_end_matches(['\r', '\n']);
            let sealed = crate::secrets::encrypt_value(&password, value, pbkdf2_iterations)
                .map_err(|e| e.to_string())?;
            println!("{sealed}");
            Ok(())
        }
        Command::Openapi => {
            println!("{}", crate::openapi::document());
            Ok(())
        }
        Command::AccessKey { command } => {
            for line in rt.block_on(run_access_key(
                config.as_deref(),
                cli.password_file.as_deref(),
                command,
            ))? {
                println!("{line}");
            }
            Ok(())
        }
    }
}

/// Parse `args` (the program name first) and run; the exit code of the process.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kms-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}
