//! The scanner: accounts in a bounded `buffer_unordered` pool; inside each
//! account, (region × collector) units with their own bound. Every unit ends
//! with a recorded outcome; one failing unit or account never stops the others.
//! Only a failing writer (the database) stops the scan.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use fleetscan_store::rows::{AccountRow, AccountStatus, Row, ScanUnitRow, UnitStatus};
use fleetscan_store::{RowSink, StoreError};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::classify::AwsFailure;
use crate::collectors::{CollectorSpec, Emitter, GLOBAL_REGION, Scope, UnitContext, UnitError};
use crate::config::Config;
use crate::planner::Target;
use crate::regions;
use crate::session::{AccountSession, BaseAws, RoleRequest};

/// Name recorded in `scan_units.collector` for region discovery.
pub use fleetscan_store::rows::REGION_DISCOVERY;

/// Progress events, so the binary can draw bars or print log lines without the
/// library knowing which.
pub trait Reporter: Send + Sync {
    fn scan_started(&self, _accounts: usize) {}
    fn account_started(&self, _account_id: &str) {}
    fn unit_finished(&self, _unit: &ScanUnitRow) {}
    fn account_finished(&self, _account: &AccountRow) {}
}

/// A reporter that reports nothing.
pub struct NoReporter;
impl Reporter for NoReporter {}

/// What the scan learned beyond the rows it wrote.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// (account id, AssumeRole calls made for it).
    pub assume_calls: Vec<(String, u64)>,
    pub deadline_reached: bool,
    /// Accounts planned for the scan.
    pub accounts_total: usize,
    /// Accounts of which nothing was read (the role could not be assumed,
    /// or the deadline came first), by account id. Accounts with some failed
    /// units are not here: their units say what failed.
    pub failed_accounts: Vec<FailedAccount>,
    /// Units that ended `ok` or `region_disabled`.
    pub units_succeeded: u64,
    /// Units that ended otherwise.
    pub units_failed: u64,
    /// The first unit that failed, as `account region collector: code: message`.
    pub first_unit_failure: Option<String>,
}

/// An account of which nothing was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedAccount {
    pub account_id: String,
    /// `assume_failed` or `skipped`.
    pub status: AccountStatus,
    /// Why, as stored in `accounts.error`.
    pub error: Option<String>,
}

/// Longest example error quoted in [`ScanReport::nothing_read`].
const EXAMPLE_CHARS: usize = 300;

impl ScanReport {
    /// Why the snapshot holds nothing usable, when it does not: there were
    /// accounts to scan, something failed, and not one unit completed (the
    /// store's rule for a `failed` snapshot). Says what failed, with one
    /// example, so the snapshot and the run's summary carry the reason.
    pub fn nothing_read(&self) -> Option<String> {
        let failed = !self.failed_accounts.is_empty() || self.units_failed > 0;
        if self.accounts_total == 0 || self.units_succeeded > 0 || !failed {
            return None;
        }
        let example = |text: &str| -> String {
            let mut short: String = text.chars().take(EXAMPLE_CHARS).collect();
            if short.len() < text.len() {
                short.push('…');
            }
            short
        };
        let account_example = |account: &FailedAccount| {
            format!(
                "{}: {}",
                account.account_id,
                example(account.error.as_deref().unwrap_or("no error recorded"))
            )
        };
        let assume_failed: Vec<&FailedAccount> = self
            .failed_accounts
            .iter()
            .filter(|account| account.status == AccountStatus::AssumeFailed)
            .collect();
        let total = self.accounts_total;
        let reason = if assume_failed.len() == total {
            format!(
                "no account could be scanned: the role could not be assumed in any of the {total} account(s) (e.g. {})",
                account_example(assume_failed[0])
            )
        } else {
            let mut reason = format!(
                "no account could be scanned: not one unit of the {total} account(s) completed"
            );
            if !assume_failed.is_empty() {
                reason.push_str(&format!(
                    "; the role could not be assumed in {}",
                    assume_failed.len()
                ));
            }
            if let Some(unit) = &self.first_unit_failure {
                reason.push_str(&format!(" (e.g. {})", example(unit)));
            } else if let Some(account) = self.failed_accounts.first() {
                reason.push_str(&format!(" (e.g. {})", account_example(account)));
            }
            reason
        };
        Some(reason)
    }
}

/// Outcomes gathered while the scan runs, for the [`ScanReport`].
#[derive(Debug, Default)]
struct Outcomes {
    failed_accounts: Vec<FailedAccount>,
    units_succeeded: u64,
    units_failed: u64,
    first_unit_failure: Option<String>,
}

struct Scan {
    config: Arc<Config>,
    base: BaseAws,
    sink: RowSink,
    reporter: Arc<dyn Reporter>,
    session_name: String,
    deadline: Option<tokio::time::Instant>,
    outcomes: Mutex<Outcomes>,
}

/// Scans every target and writes accounts, units and resources to `sink`.
///
/// Units run as tasks of their own on the runtime's worker threads (parsing
/// responses is most of a scan's CPU time); dropping the returned future
/// cancels every unit still running.
pub async fn scan(
    config: Arc<Config>,
    base: BaseAws,
    targets: &[Target],
    snapshot_id: i64,
    sink: RowSink,
    reporter: Arc<dyn Reporter>,
) -> Result<ScanReport, StoreError> {
    let concurrency = config.concurrency.accounts;
    let scan = Arc::new(Scan {
        session_name: config.role.session_name_for(&snapshot_id.to_string()),
        deadline: config
            .timeouts
            .scan
            .map(|d| tokio::time::Instant::now() + d),
        config,
        base,
        sink,
        reporter,
        outcomes: Mutex::default(),
    });
    scan.reporter.scan_started(targets.len());
    let mut report = ScanReport::default();
    let mut accounts = futures::stream::iter(targets)
        .map(|target| scan.account(target))
        .buffer_unordered(concurrency);
    while let Some(result) = accounts.next().await {
        let (account_id, assume_calls, deadline_reached) = result?;
        report.assume_calls.push((account_id, assume_calls));
        report.deadline_reached |= deadline_reached;
    }
    report.assume_calls.sort();
    report.accounts_total = targets.len();
    let outcomes = std::mem::take(&mut *scan.outcomes());
    report.failed_accounts = outcomes.failed_accounts;
    report
        .failed_accounts
        .sort_by(|a, b| a.account_id.cmp(&b.account_id));
    report.units_succeeded = outcomes.units_succeeded;
    report.units_failed = outcomes.units_failed;
    report.first_unit_failure = outcomes.first_unit_failure;
    Ok(report)
}

/// Runs a future under the scan deadline, if there is one.
async fn within<F: Future>(deadline: Option<tokio::time::Instant>, fut: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, fut).await.ok(),
        None => Some(fut.await),
    }
}

/// A spawned task whose result is awaited like a future's; dropping it
/// aborts the task, so a cancelled scan leaves nothing running behind it.
struct OwnedTask<T>(tokio::task::JoinHandle<T>);

impl<T: Send + 'static> OwnedTask<T> {
    fn spawn(future: impl Future<Output = T> + Send + 'static) -> Self {
        OwnedTask(tokio::spawn(future))
    }
}

impl<T> Drop for OwnedTask<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for OwnedTask<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(value)) => Poll::Ready(value),
            // A panic in the task is a panic of the scan, as it was before
            // units became tasks.
            Poll::Ready(Err(err)) => match err.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(_) => panic!("a scan task was cancelled while the scan awaited it"),
            },
        }
    }
}

/// One unit to run.
struct UnitPlan {
    region: String,
    collector: &'static CollectorSpec,
}

impl Scan {
    async fn send(&self, row: Row) -> Result<(), StoreError> {
        self.sink.send(vec![row]).await
    }

    fn account_row(
        &self,
        target: &Target,
        status: AccountStatus,
        error: Option<String>,
    ) -> AccountRow {
        AccountRow {
            account_id: target.account_id.clone(),
            name: target.name.clone(),
            email: target.email.clone(),
            state: target.state.clone(),
            ou_path: target.ou_path.clone(),
            role_arn: target.role_arn.clone(),
            status,
            error,
        }
    }

    fn outcomes(&self) -> std::sync::MutexGuard<'_, Outcomes> {
        self.outcomes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn finish_account(&self, row: AccountRow) -> Result<(), StoreError> {
        self.reporter.account_finished(&row);
        if matches!(
            row.status,
            AccountStatus::AssumeFailed | AccountStatus::Skipped
        ) {
            self.outcomes().failed_accounts.push(FailedAccount {
                account_id: row.account_id.clone(),
                status: row.status,
                error: row.error.clone(),
            });
        }
        self.send(Row::Account(row)).await
    }

    async fn record_unit(&self, unit: ScanUnitRow) -> Result<bool, StoreError> {
        self.reporter.unit_finished(&unit);
        let ok = unit.status.is_success();
        {
            let mut outcomes = self.outcomes();
            if ok {
                outcomes.units_succeeded += 1;
            } else {
                outcomes.units_failed += 1;
                if outcomes.first_unit_failure.is_none() {
                    outcomes.first_unit_failure = Some(format!(
                        "{} {} {}: {}: {}",
                        unit.account_id,
                        unit.region,
                        unit.collector,
                        unit.error_code.as_deref().unwrap_or("-"),
                        unit.error_message.as_deref().unwrap_or("-")
                    ));
                }
            }
        }
        self.send(Row::Unit(unit)).await?;
        Ok(ok)
    }

    /// Scans one account; returns (account id, AssumeRole calls, deadline reached).
    async fn account(self: &Arc<Self>, target: &Target) -> Result<(String, u64, bool), StoreError> {
        let account_id = target.account_id.clone();
        self.reporter.account_started(&account_id);
        let request = RoleRequest {
            account_id: account_id.clone(),
            role_arn: target.role_arn.clone(),
            external_id: target.external_id.clone(),
            session_name: self.session_name.clone(),
            session_duration: self.config.role.session_duration,
            refresh_buffer: self.config.role.refresh_buffer,
        };
        let session = match within(self.deadline, AccountSession::assume(&self.base, &request))
            .await
        {
            None => {
                let row = self.account_row(
                    target,
                    AccountStatus::Skipped,
                    Some("the scan deadline was reached before this account was scanned".into()),
                );
                self.finish_account(row).await?;
                return Ok((account_id, 0, true));
            }
            Some(Err(failure)) => {
                tracing::warn!(account = %account_id, "{failure}");
                let row = self.account_row(
                    target,
                    AccountStatus::AssumeFailed,
                    Some(failure.to_string()),
                );
                self.finish_account(row).await?;
                return Ok((account_id, 1, false));
            }
            Some(Ok(session)) => Arc::new(session),
        };

        // Global units (S3) do not depend on the region list: they start at
        // once, beside region discovery and the regional units that follow
        // it. One semaphore keeps the account within `per_account` units.
        let permits = Arc::new(Semaphore::new(self.config.concurrency.per_account));
        let global: Vec<UnitPlan> = self
            .config
            .collectors
            .iter()
            .filter(|c| c.scope == Scope::Global)
            .map(|collector| UnitPlan {
                region: GLOBAL_REGION.to_string(),
                collector,
            })
            .collect();
        let (global, regional) = futures::join!(
            self.run_units(&session, global, &permits),
            self.regional(&session, &permits)
        );
        let (global_ok, global_deadline) = global?;
        let (regional_ok, regional_deadline) = regional?;
        let all_ok = global_ok && regional_ok;
        let status = if all_ok {
            AccountStatus::Ok
        } else {
            AccountStatus::Partial
        };
        let error = (!all_ok).then(|| "some units did not complete; see scan_units".to_string());
        self.finish_account(self.account_row(target, status, error))
            .await?;
        Ok((
            account_id,
            session.assume_calls(),
            global_deadline || regional_deadline,
        ))
    }

    /// Discovers the account's regions, records the discovery and the
    /// selected regions that are not enabled, then runs the regional units.
    /// Returns (every unit succeeded, deadline reached).
    async fn regional(
        self: &Arc<Self>,
        session: &Arc<AccountSession>,
        permits: &Arc<Semaphore>,
    ) -> Result<(bool, bool), StoreError> {
        let regional: Vec<&'static CollectorSpec> = self
            .config
            .collectors
            .iter()
            .copied()
            .filter(|c| c.scope == Scope::Regional)
            .collect();
        if regional.is_empty() {
            return Ok((true, false));
        }
        let account_id = &session.account_id;
        let started = Instant::now();
        let discovered = {
            let _permit = permits.acquire().await;
            within(self.deadline, regions::enabled_regions(session)).await
        };
        let (enabled, failure) = match discovered {
            None => (None, Some(deadline_failure())),
            Some(Ok(enabled)) => (Some(enabled), None),
            Some(Err(failure)) => (None, Some(failure)),
        };
        let choice = regions::choose(&self.config.regions, enabled.as_ref());
        let discovery = match &failure {
            None => unit_row(
                account_id,
                GLOBAL_REGION,
                REGION_DISCOVERY,
                UnitStatus::Ok,
                None,
                enabled.as_ref().map_or(0, |e| e.len() as u64),
                1,
                started,
            ),
            Some(failure) => {
                let message = if self.config.regions.include.is_some() {
                    format!(
                        "{}; scanned the configured regions instead",
                        failure.message
                    )
                } else {
                    format!(
                        "{}; no regional collector could run (list regions in `regions.include` to fall back to them)",
                        failure.message
                    )
                };
                let failure = AwsFailure::new(failure.class, failure.code.clone(), message);
                tracing::warn!(account = %account_id, region = GLOBAL_REGION, collector = REGION_DISCOVERY, "{failure}");
                unit_row(
                    account_id,
                    GLOBAL_REGION,
                    REGION_DISCOVERY,
                    failure.class.unit_status(),
                    Some(&failure),
                    0,
                    1,
                    started,
                )
            }
        };
        let mut all_ok = self.record_unit(discovery).await?;
        for region in &choice.not_enabled {
            for collector in &regional {
                let unit = ScanUnitRow {
                    account_id: account_id.clone(),
                    region: region.clone(),
                    collector: collector.name.to_string(),
                    status: UnitStatus::RegionDisabled,
                    error_code: None,
                    error_message: Some("the region is not enabled in this account".into()),
                    resources: 0,
                    api_calls: 0,
                    duration_ms: 0,
                };
                all_ok &= self.record_unit(unit).await?;
            }
        }
        let units = choice
            .scan
            .iter()
            .flat_map(|region| {
                regional.iter().map(move |collector| UnitPlan {
                    region: region.clone(),
                    collector,
                })
            })
            .collect();
        let (units_ok, deadline_reached) = self.run_units(session, units, permits).await?;
        Ok((
            all_ok && units_ok,
            deadline_reached || failure.as_ref().is_some_and(|f| f.code == "ScanDeadline"),
        ))
    }

    /// Runs units (each holding one of the account's permits) and records
    /// each as it ends. Returns (every unit succeeded, deadline reached).
    async fn run_units(
        self: &Arc<Self>,
        session: &Arc<AccountSession>,
        units: Vec<UnitPlan>,
        permits: &Arc<Semaphore>,
    ) -> Result<(bool, bool), StoreError> {
        let mut all_ok = true;
        let mut deadline_reached = false;
        // Each unit is a task of its own and records itself, so a unit
        // waiting for a slot in the writer channel never depends on this loop
        // being polled. (When units were plain futures driven by this loop
        // and the loop awaited the channel, a unit granted a slot but never
        // polled again kept it, and a 2,000-account scan stalled with the
        // channel full of nothing.)
        let mut running = futures::stream::iter(units)
            .map(|plan| {
                let (scan, session, permits) =
                    (Arc::clone(self), Arc::clone(session), Arc::clone(permits));
                OwnedTask::spawn(async move {
                    let _permit = permits.acquire().await;
                    let (unit, hit_deadline) = scan.unit(&session, plan).await?;
                    let ok = scan.record_unit(unit).await?;
                    Ok::<_, StoreError>((ok, hit_deadline))
                })
            })
            .buffer_unordered(self.config.concurrency.per_account);
        while let Some(result) = running.next().await {
            let (ok, hit_deadline) = result?;
            deadline_reached |= hit_deadline;
            all_ok &= ok;
        }
        Ok((all_ok, deadline_reached))
    }

    /// Runs one unit to its recorded outcome.
    async fn unit(
        &self,
        session: &AccountSession,
        plan: UnitPlan,
    ) -> Result<(ScanUnitRow, bool), StoreError> {
        let started = Instant::now();
        let context = UnitContext::new(
            session,
            &plan.region,
            &self.config,
            Emitter::new(self.sink.clone()),
        );
        let outcome = within(self.deadline, (plan.collector.collect)(&context)).await;
        let (outcome, hit_deadline) = match outcome {
            Some(result) => (result, false),
            None => (Err(UnitError::Aws(deadline_failure())), true),
        };
        // Rows gathered before a failure are kept: the unit's status says they are incomplete.
        match context.emitter.flush().await {
            Ok(()) => {}
            Err(UnitError::Sink(err)) => return Err(err),
            Err(UnitError::Aws(_)) => {}
        }
        let failure = match outcome {
            Ok(()) => context.take_degraded().map(|(worst, count)| {
                AwsFailure::new(
                    worst.class,
                    worst.code,
                    format!(
                        "{count} call(s) failed, e.g. {}; see fetch_errors",
                        worst.message
                    ),
                )
            }),
            Err(UnitError::Aws(failure)) => Some(failure),
            Err(UnitError::Sink(err)) => return Err(err),
        };
        let status = failure
            .as_ref()
            .map_or(UnitStatus::Ok, |f| f.class.unit_status());
        if let Some(failure) = &failure {
            tracing::warn!(account = %session.account_id, region = %plan.region, collector = plan.collector.name, "{failure}");
        }
        let row = unit_row(
            &session.account_id,
            &plan.region,
            plan.collector.name,
            status,
            failure.as_ref(),
            context.emitter.resources(),
            context.api_calls(),
            started,
        );
        Ok((row, hit_deadline))
    }
}

fn deadline_failure() -> AwsFailure {
    AwsFailure::new(
        crate::classify::ErrorClass::Error,
        "ScanDeadline",
        "the scan deadline (timeouts.scan) was reached",
    )
}

#[allow(clippy::too_many_arguments)]
fn unit_row(
    account_id: &str,
    region: &str,
    collector: &str,
    status: UnitStatus,
    failure: Option<&AwsFailure>,
    resources: u64,
    api_calls: u64,
    started: Instant,
) -> ScanUnitRow {
    ScanUnitRow {
        account_id: account_id.to_string(),
        region: region.to_string(),
        collector: collector.to_string(),
        status,
        error_code: failure.map(|f| f.code.clone()),
        error_message: failure.map(|f| f.message.clone()),
        resources,
        api_calls,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(account_id: &str) -> FailedAccount {
        FailedAccount {
            account_id: account_id.into(),
            status: AccountStatus::AssumeFailed,
            error: Some("AccessDenied: could not assume the role".into()),
        }
    }

    #[test]
    fn a_scan_that_read_nothing_says_why_and_one_that_read_something_does_not() {
        let every_role_denied = ScanReport {
            accounts_total: 2,
            failed_accounts: vec![denied("222200000000"), denied("222200000001")],
            ..ScanReport::default()
        };
        assert_eq!(
            every_role_denied.nothing_read().as_deref(),
            Some(
                "no account could be scanned: the role could not be assumed in any of the 2 account(s) \
                 (e.g. 222200000000: AccessDenied: could not assume the role)"
            )
        );

        let every_unit_failed = ScanReport {
            accounts_total: 2,
            failed_accounts: vec![denied("222200000000")],
            units_failed: 5,
            first_unit_failure: Some("222200000001 global ec2_regions: Timeout: no answer".into()),
            ..ScanReport::default()
        };
        assert_eq!(
            every_unit_failed.nothing_read().as_deref(),
            Some(
                "no account could be scanned: not one unit of the 2 account(s) completed; \
                 the role could not be assumed in 1 (e.g. 222200000001 global ec2_regions: Timeout: no answer)"
            )
        );

        let one_unit_read = ScanReport {
            units_succeeded: 1,
            ..every_unit_failed
        };
        assert_eq!(one_unit_read.nothing_read(), None);
        let nothing_failed = ScanReport {
            accounts_total: 1,
            ..ScanReport::default()
        };
        assert_eq!(nothing_failed.nothing_read(), None);
    }
}
