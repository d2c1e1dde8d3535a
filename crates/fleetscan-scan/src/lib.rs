//! fleetscan's scan pipeline: configuration, planner, per-account sessions,
//! region discovery, collectors and the scanner. No terminal, no SQLite: rows
//! go to the store's writer through a channel, progress to a [`scanner::Reporter`].

pub mod check;
pub mod classify;
pub mod collectors;
pub mod config;
pub mod endpoint_cache;
pub mod paginate;
pub mod planner;
pub mod regions;
pub mod scanner;
pub mod session;

pub use session::BaseAws;

/// Looks up who the base credentials belong to (`sts:GetCallerIdentity`), the
/// first AWS call of a scan: it fails fast and clearly on missing or invalid
/// credentials.
pub async fn caller_arn(base: &BaseAws) -> Result<String, classify::AwsFailure> {
    let answer = aws_sdk_sts::Client::new(&base.sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| classify::classify(&e))?;
    Ok(answer.arn().unwrap_or_default().to_string())
}
