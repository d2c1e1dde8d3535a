//! Logging to stderr with `tracing`: plain lines for people and cron, JSON for
//! log shippers. Data never goes here; it goes to stdout.

use tracing_subscriber::EnvFilter;

use crate::GlobalArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber. `FLEETSCAN_LOG` (an `EnvFilter` string)
/// overrides the level chosen by `-v`.
pub fn init(global: &GlobalArgs) {
    // Everywhere: aws-config's own warning about a refused AssumeRole is the
    // SDK's debug dump of the error (the raw HTTP response included); the
    // scan logs the refusal itself, as the STS code and message.
    const QUIET_ASSUME_ROLE: &str = "aws_config::sts::assume_role=error";
    let default_level = match global.verbose {
        0 => format!(
            "fleetscan=info,fleetscan_scan=info,fleetscan_store=info,warn,{QUIET_ASSUME_ROLE}"
        ),
        1 => format!(
            "fleetscan=debug,fleetscan_scan=debug,fleetscan_store=debug,info,{QUIET_ASSUME_ROLE}"
        ),
        // Everything, except the AWS SDK crates that print credentials when
        // verbose: SigV4's canonical request (session tokens), the
        // orchestrator's identity and endpoint parameters, AssumeRole's new
        // keys (access key ids). Those stay at info.
        _ => format!(
            "trace,aws_smithy_runtime=info,aws_sigv4=info,aws_config=info,aws_credential_types=info,{QUIET_ASSUME_ROLE}"
        ),
    };
    let filter =
        EnvFilter::try_from_env("FLEETSCAN_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::commands::reporters::LogWriter)
        .with_target(false);
    let _ = match global.log_format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
