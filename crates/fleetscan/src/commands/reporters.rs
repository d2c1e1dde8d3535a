//! Progress reporting, the only place that knows indicatif. On a terminal: a
//! bar with accounts done, resources found, errors so far and the accounts in
//! flight. Elsewhere (cron, pipes) or with `--no-progress`: plain log lines.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use fleetscan_scan::scanner::Reporter;
use fleetscan_store::rows::{AccountRow, ScanUnitRow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar currently drawn, if any: log lines are printed "around" it.
static ACTIVE_BAR: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();

fn active_bar() -> &'static Mutex<Option<ProgressBar>> {
    ACTIVE_BAR.get_or_init(|| Mutex::new(None))
}

/// stderr for `tracing`, suspending the progress bar while a line is written.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = active_bar().lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Whether a bar should be drawn.
pub fn wants_bar(no_progress: bool) -> bool {
    !no_progress
        && std::io::stderr().is_terminal()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// Reports a scan.
pub struct ScanReporter {
    bar: Option<ProgressBar>,
    resources: AtomicU64,
    errors: AtomicU64,
    in_flight: Mutex<BTreeSet<String>>,
}

impl ScanReporter {
    pub fn new(draw_bar: bool) -> Self {
        let bar = draw_bar.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} accounts  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            if let Ok(mut active) = active_bar().lock() {
                *active = Some(bar.clone());
            }
            bar
        });
        ScanReporter {
            bar,
            resources: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            in_flight: Mutex::new(BTreeSet::new()),
        }
    }

    fn refresh(&self) {
        let Some(bar) = &self.bar else { return };
        let in_flight = self
            .in_flight
            .lock()
            .map(|set| set.iter().take(3).cloned().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        bar.set_message(format!(
            "{} resources, {} errors  {in_flight}",
            self.resources.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed)
        ));
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            if let Ok(mut active) = active_bar().lock() {
                *active = None;
            }
        }
    }
}

impl Reporter for ScanReporter {
    fn scan_started(&self, accounts: usize) {
        match &self.bar {
            Some(bar) => bar.set_length(accounts as u64),
            None => tracing::info!("scanning {accounts} account(s)"),
        }
    }

    fn account_started(&self, account_id: &str) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.insert(account_id.to_string());
        }
        self.refresh();
    }

    fn unit_finished(&self, unit: &ScanUnitRow) {
        self.resources.fetch_add(unit.resources, Ordering::Relaxed);
        if !unit.status.is_success() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.refresh();
    }

    fn account_finished(&self, account: &AccountRow) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.remove(&account.account_id);
        }
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                self.refresh();
            }
            None => {
                tracing::info!(account = %account.account_id, status = account.status.as_str(), "account done")
            }
        }
    }
}
