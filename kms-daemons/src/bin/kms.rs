//! `kms`: the operator's command line.
//!
//! ```text
//! kms pki init   --dir DIR [--nodes tss1,tss2,tss3,tss4] [--gateway gateway]
//! kms pki issue  --dir DIR --node tssN | --gateway NAME [--days 365]
//! kms pki rotate --dir DIR NODE
//! kms devnet up   --dir D [--nodes 4] [--base-port 9001] [--gg18-aux-dir DIR]
//!                 [--gateway-port 8080] [--no-gateway]
//! kms devnet down --dir D
//! kms gateway ...            the HTTP gateway, as the `kms-gateway` binary
//! kms access-key ...         = kms gateway access-key ... (create, list, disable, rotate)
//! ```

use clap::{Parser, Subcommand};
use kms_core::NodeId;
use kms_daemons::devnet;
use kms_daemons::pki::{self, Validity, LEAF_VALIDITY_DAYS};
use kms_transport::tls::Role;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kms",
    version,
    about = "Operator tools of the MPC key-management service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The internal PKI: CA, gateway and node certificates.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// A local deployment on loopback for trying the service out.
    Devnet {
        #[command(subcommand)]
        command: DevnetCommand,
    },
}

#[derive(Subcommand)]
enum DevnetCommand {
    /// Make a PKI, node homes and passwords under DIR and start the node daemons.
    Up {
        /// The deployment's directory.
        #[arg(long)]
        dir: PathBuf,
        /// Number of nodes.
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        /// Port of tss1 (the others follow); 0 lets the system choose.
        #[arg(long, default_value_t = 9001)]
        base_port: u16,
        /// Pre-generated GG18 aux files tssN.json (default: each node makes its own).
        #[arg(long)]
        gg18_aux_dir: Option<PathBuf>,
        /// PBKDF2 iterations of the new DEK files.
        #[arg(long, default_value_t = kms_storage::keyring::DEFAULT_PBKDF2_ITERATIONS)]
        pbkdf2_iterations: u32,
        /// The gateway's port (default 8080, or system-chosen when --base-port is 0).
        #[arg(long)]
        gateway_port: Option<u16>,
        /// Start no gateway.
        #[arg(long)]
        no_gateway: bool,
    },
    /// Stop the node daemons of the deployment in DIR (its files stay).
    Down {
        /// The deployment's directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create the CA (10 years), the gateway's and every node's certificate (1 year).
    Init {
        /// Where the PKI lives (created 0700; files 0600).
        #[arg(long)]
        dir: PathBuf,
        /// The nodes, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "tss1,tss2,tss3,tss4")]
        nodes: Vec<String>,
        /// The gateway certificate's name.
        #[arg(long, default_value = "gateway")]
        gateway: String,
    },
    /// Issue (or re-issue with a fresh key) one certificate under the existing CA.
    Issue {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
        /// A node's certificate (server).
        #[arg(long, conflicts_with = "gateway", required_unless_present = "gateway")]
        node: Option<String>,
        /// A gateway's certificate (client of the nodes).
        #[arg(long)]
        gateway: Option<String>,
        /// Validity in days.
        #[arg(long, default_value_t = LEAF_VALIDITY_DAYS)]
        days: i64,
    },
    /// Replace a node's certificate and key; the node serves the new pair at its next
    /// handshake.
    Rotate {
        /// The PKI directory.
        #[arg(long)]
        dir: PathBuf,
        /// The node, e.g. tss1.
        node: String,
    },
}

fn node_role(name: &str) -> Result<Role, String> {
    NodeId::new(name).map(Role::Node).map_err(|e| e.to_string())
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Pki { command } => match command {
            PkiCommand::Init { dir, nodes, gateway } => {
                let nodes = nodes
                    .iter()
                    .map(|n| NodeId::new(n.as_str()).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                let layout = pki::init(&dir, &nodes, &gateway).map_err(|e| e.to_string())?;
                println!("CA certificate: {}", layout.ca_cert().display());
                Ok(())
            }
            PkiCommand::Issue {
                dir,
                node,
                gateway,
                days,
            } => {
                let role = match (node, gateway) {
                    (Some(n), _) => node_role(&n)?,
                    (None, Some(g)) => Role::Gateway(g),
                    (None, None) => return Err("name a --node or a --gateway".into()),
                };
                pki::issue(&dir, &role, Validity::days_from_now(days)).map_err(|e| e.to_string())?;
                println!("issued {}", pki::PkiDir::new(&dir).cert(&role).display());
                Ok(())
            }
            PkiCommand::Rotate { dir, node } => {
                let role = node_role(&node)?;
                pki::rotate(&dir, &role).map_err(|e| e.to_string())?;
                println!("rotated {}", pki::PkiDir::new(&dir).cert(&role).display());
                Ok(())
            }
        },
        Command::Devnet { command } => match command {
            DevnetCommand::Up {
                dir,
                nodes,
                base_port,
                gg18_aux_dir,
                pbkdf2_iterations,
                gateway_port,
                no_gateway,
            } => {
                // kms-node is installed next to kms; the gateway is this binary.
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                let node_binary = exe.with_file_name("kms-node");
                let opts = devnet::DevnetOptions {
                    nodes,
                    base_port,
                    node_binary,
                    gg18_aux_dir,
                    pbkdf2_iterations,
                    gateway_binary: (!no_gateway).then(|| exe.clone()),
                    gateway_port: gateway_port.unwrap_or(if base_port == 0 { 0 } else { 8080 }),
                };
                let (info, access) = devnet::up(&dir, &opts)?;
                for (node, addr) in &info.nodes {
                    println!("{node} listening on {addr}");
                }
                println!("passwords: {}", dir.join("passwords").display());
                println!("gateway certificate: {}", dir.join("pki/gateway").display());
                println!("peer identities: {}", dir.join("peers.json").display());
                if let Some(access) = access {
                    println!("gateway log: {}", dir.join("gateway.log").display());
                    // The last line, for scripts.
                    println!("{}", access.to_json());
                }
                Ok(())
            }
            DevnetCommand::Down { dir } => {
                for node in devnet::down(&dir)? {
                    println!("stopped {node}");
                }
                Ok(())
            }
        },
    }
}

fn main() -> ExitCode {
    // `kms gateway ...` and `kms access-key ...` are the gateway's own command line.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some("gateway") => {
            return kms_gateway::cli::main_with_args(
                std::iter::once("kms gateway".into()).chain(args[2..].iter().cloned()),
            )
        }
        Some("access-key") => {
            return kms_gateway::cli::main_with_args(
                std::iter::once("kms gateway".into()).chain(args[1..].iter().cloned()),
            )
        }
        _ => {}
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kms: {e}");
            ExitCode::FAILURE
        }
    }
}
