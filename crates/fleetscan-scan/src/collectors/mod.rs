//! The collectors: one file per resource type, all with the same shape. Given
//! an account's session and a region, a collector pages through the API and
//! emits typed rows; it never touches SQLite or the terminal.
//!
//! Adding a resource type: one collector file, one migration, one line in
//! [`REGISTRY`], one line in the diff registry of the store.

mod ec2_instances;
mod ec2_security_groups;
mod ec2_volumes;
mod s3_account_public_access_block;
mod s3_buckets;

use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use fleetscan_store::StoreError;
use fleetscan_store::rows::{Row, Tags};
use futures::future::BoxFuture;

use crate::classify::AwsFailure;
use crate::config::Config;
use crate::session::AccountSession;

/// Whether a collector runs once per region or once per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Regional,
    /// Recorded with region `global`.
    Global,
}

/// Region name recorded for global collectors.
pub use fleetscan_store::rows::GLOBAL_REGION;

pub type CollectFn = for<'a> fn(&'a UnitContext<'a>) -> BoxFuture<'a, Result<(), UnitError>>;

/// One collector: its name (as in the config and `scan_units.collector`), scope and entry point.
pub struct CollectorSpec {
    pub name: &'static str,
    pub scope: Scope,
    /// The IAM actions it needs (documented in the README and deploy/).
    pub actions: &'static [&'static str],
    pub collect: CollectFn,
}

impl std::fmt::Debug for CollectorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorSpec")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Every collector, in the order units are started. Grep here first.
pub static REGISTRY: &[CollectorSpec] = &[
    ec2_instances::SPEC,
    ec2_security_groups::SPEC,
    ec2_volumes::SPEC,
    s3_buckets::SPEC,
    s3_account_public_access_block::SPEC,
];

/// Why a unit did not finish.
#[derive(Debug)]
pub enum UnitError {
    /// An AWS call failed; the unit is recorded with this failure.
    Aws(AwsFailure),
    /// The writer is gone (disk full, …): the whole scan must stop.
    Sink(StoreError),
}

impl From<AwsFailure> for UnitError {
    fn from(failure: AwsFailure) -> Self {
        UnitError::Aws(failure)
    }
}

/// What one (account, region, collector) unit works with.
pub struct UnitContext<'a> {
    pub session: &'a AccountSession,
    pub region: &'a str,
    pub config: &'a Config,
    pub emitter: Emitter,
    api_calls: AtomicU64,
    /// A unit that read what it could but not everything (e.g. some bucket
    /// settings) reports its worst failure here while still emitting rows.
    degraded: std::sync::Mutex<Option<(AwsFailure, usize)>>,
}

impl<'a> UnitContext<'a> {
    pub fn new(
        session: &'a AccountSession,
        region: &'a str,
        config: &'a Config,
        emitter: Emitter,
    ) -> Self {
        UnitContext {
            session,
            region,
            config,
            emitter,
            api_calls: AtomicU64::new(0),
            degraded: std::sync::Mutex::new(None),
        }
    }

    /// Counts one API call (a logical call; the SDK's retries are not counted).
    pub fn call(&self) {
        self.api_calls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn api_calls(&self) -> u64 {
        self.api_calls.load(Ordering::Relaxed)
    }

    /// Records a failure that did not stop the unit; the worst one is kept
    /// and the number of such failures counted.
    pub fn degrade(&self, failure: AwsFailure) {
        let mut slot = self.degraded.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_mut() {
            Some((worst, count)) => {
                *count += 1;
                if failure.class.severity() > worst.class.severity() {
                    *worst = failure;
                }
            }
            None => *slot = Some((failure, 1)),
        }
    }

    pub fn take_degraded(&self) -> Option<(AwsFailure, usize)> {
        self.degraded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

/// Buffers a unit's rows and hands them to the writer in batches; counts them.
pub struct Emitter {
    sink: fleetscan_store::RowSink,
    buffer: tokio::sync::Mutex<Vec<Row>>,
    resources: AtomicU64,
}

const EMIT_BATCH: usize = 256;

impl Emitter {
    pub fn new(sink: fleetscan_store::RowSink) -> Self {
        Emitter {
            sink,
            buffer: tokio::sync::Mutex::new(Vec::new()),
            resources: AtomicU64::new(0),
        }
    }

    /// Queues one row; sends a batch when enough have gathered.
    pub async fn emit(&self, row: Row) -> Result<(), UnitError> {
        self.resources.fetch_add(1, Ordering::Relaxed);
        let full = {
            let mut buffer = self.buffer.lock().await;
            buffer.push(row);
            if buffer.len() >= EMIT_BATCH {
                Some(std::mem::take(&mut *buffer))
            } else {
                None
            }
        };
        match full {
            Some(batch) => self.sink.send(batch).await.map_err(UnitError::Sink),
            None => Ok(()),
        }
    }

    /// Sends whatever is buffered.
    pub async fn flush(&self) -> Result<(), UnitError> {
        let batch = std::mem::take(&mut *self.buffer.lock().await);
        if batch.is_empty() {
            Ok(())
        } else {
            self.sink.send(batch).await.map_err(UnitError::Sink)
        }
    }

    /// Rows emitted so far.
    pub fn resources(&self) -> u64 {
        self.resources.load(Ordering::Relaxed)
    }
}

/// RFC 3339 UTC text, as every timestamp column holds.
pub(crate) fn rfc3339(value: Option<&DateTime>) -> Option<String> {
    value.and_then(|dt| dt.fmt(Format::DateTime).ok())
}

/// Key/value pairs into a sorted map; pairs without a key are dropped.
pub(crate) fn tags<'t, I>(pairs: I) -> Tags
where
    I: IntoIterator<Item = (Option<&'t str>, Option<&'t str>)>,
{
    pairs
        .into_iter()
        .filter_map(|(key, value)| Some((key?.to_string(), value.unwrap_or_default().to_string())))
        .collect()
}

/// A response that lacks an identifier is an error, not an empty string.
pub(crate) fn required<'v>(value: Option<&'v str>, what: &str) -> Result<&'v str, AwsFailure> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        AwsFailure::new(
            crate::classify::ErrorClass::Error,
            "MalformedResponse",
            format!("the response has a {what} without an id"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_known_by_scope() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        assert_eq!(
            REGISTRY.iter().filter(|c| c.scope == Scope::Global).count(),
            2
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let dt = DateTime::from_secs(1_700_000_000);
        assert_eq!(rfc3339(Some(&dt)).as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(rfc3339(None), None);
    }

    #[test]
    fn tags_keep_values_verbatim_and_drop_keyless_pairs() {
        let t = tags([
            (Some("Name"), Some("it's \"quoted\" ✓")),
            (None, Some("orphan")),
            (Some("empty"), None),
        ]);
        assert_eq!(t.len(), 2);
        assert_eq!(t["Name"], "it's \"quoted\" ✓");
        assert_eq!(t["empty"], "");
    }

    #[test]
    fn identifiers_are_required() {
        assert!(required(Some(""), "instance").is_err());
        assert!(required(None, "instance").is_err());
        assert_eq!(required(Some("i-1"), "instance").ok(), Some("i-1"));
    }
}
