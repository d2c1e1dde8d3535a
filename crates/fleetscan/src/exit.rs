//! Exit codes, the same for every command (a public contract, see README).

use std::process::ExitCode;

/// What a command tells the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success.
    Success,
    /// 1: runtime failure; nothing usable was written.
    Failure,
    /// 2: usage or configuration error, found before any AWS call.
    Usage,
    /// 3: the scan finished but the snapshot is `partial` (or `check` found gaps).
    Partial,
    /// 4: `diff --exit-code` found differences.
    Differences,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(match status {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Partial => 3,
            ExitStatus::Differences => 4,
        })
    }
}

/// A usage error found by a command itself (a bad combination of flags, a
/// snapshot id that does not exist): exit 2 rather than 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Maps an error to its exit code: configuration and usage errors are 2,
/// everything else is a runtime failure.
pub fn classify(err: &anyhow::Error) -> ExitStatus {
    for cause in err.chain() {
        if cause.is::<UsageError>()
            || cause.is::<crate::paths::OutputConflict>()
            || cause.is::<fleetscan_scan::config::ConfigError>()
        {
            return ExitStatus::Usage;
        }
    }
    ExitStatus::Failure
}
