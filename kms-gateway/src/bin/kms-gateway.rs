//! `kms-gateway`: the HTTP gateway of the KMS (wiring only; the logic is the library).
//!
//! ```text
//! kms-gateway [--config FILE] [--password-file FILE] [serve]
//! kms-gateway encrypt-secret [--pbkdf2-iterations N]        (the value on stdin)
//! kms-gateway [--config FILE] access-key create --owner NAME --allow-ip CIDR... --permissions sign,read
//! kms-gateway [--config FILE] access-key list | disable AK | rotate AK
//! ```
//!
//! The start password comes from `--password-file`, else `KMS_GATEWAY_PASSWORD`, else a
//! prompt. `serve` prints `kms-gateway listening on ADDR` on stdout once it listens and
//! logs JSON lines on stderr; SIGTERM or Ctrl-C stops it after the requests under way.

fn main() -> std::process::ExitCode {
    kms_gateway::cli::main_with_args(std::env::args_os())
}
