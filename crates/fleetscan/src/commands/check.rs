//! `fleetscan check`: the preflight an admin runs after deploying the member
//! role. For every planned account: assume the role, then one cheap read per
//! permission the enabled collectors need. Exit 0 when everything needed is
//! granted, 3 when something is denied or failed, 2 on a configuration error.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use fleetscan_scan::check::{self, CheckReport, Outcome};
use fleetscan_scan::planner;
use serde::Serialize;

use super::ListFormat;
use crate::GlobalArgs;
use crate::exit::ExitStatus;
use crate::render::{Table, or_dash};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Configuration file (default: ./fleetscan.yaml if present, else built-in defaults).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
    /// Show only the permissions that are denied or failed (table format).
    #[arg(long)]
    pub problems: bool,
}

#[derive(Serialize)]
struct CheckOutput<'a> {
    /// Every needed permission is granted in every account.
    ok: bool,
    caller_arn: &'a str,
    summary: Summary,
    #[serde(flatten)]
    report: &'a CheckReport,
    skipped: &'a [planner::SkippedAccount],
}

#[derive(Serialize)]
struct Summary {
    accounts: usize,
    accounts_ok: usize,
    /// Accounts whose role could not be assumed.
    assume_role_failed: usize,
    /// (account, permission) pairs by result.
    denied: usize,
    errors: usize,
    not_tested: usize,
}

fn summarize(report: &CheckReport) -> Summary {
    let results = || report.accounts.iter().flat_map(|a| a.results.iter());
    let count = |outcome: Outcome| results().filter(|r| r.result == outcome).count();
    Summary {
        accounts: report.accounts.len(),
        accounts_ok: report.accounts.iter().filter(|a| a.ok).count(),
        assume_role_failed: results()
            .filter(|r| r.permission == check::ASSUME_ROLE && r.result != Outcome::Ok)
            .count(),
        denied: count(Outcome::Denied),
        errors: count(Outcome::Error),
        not_tested: count(Outcome::NotTested),
    }
}

pub fn run(args: CheckArgs, _global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let config = super::load_config(args.config.as_deref())?;
    let runtime = super::runtime()?;
    let base = runtime.block_on(fleetscan_scan::session::load_base(&config));
    let caller_arn = runtime
        .block_on(fleetscan_scan::caller_arn(&base))
        .map_err(|failure| {
            anyhow!("the AWS credentials cannot be used (sts:GetCallerIdentity): {failure}")
        })?;
    tracing::info!(caller = %caller_arn, "planning");
    let plan = match runtime.block_on(planner::plan(&config, &base)) {
        Ok(plan) => plan,
        Err(planner::PlanError::Config(err)) => return Err(err.into()),
        Err(err) => {
            return Err(err).context(
                "could not list the organization's accounts (the scanning principal needs the \
                 organizations: actions of deploy/scanner-policy.json)",
            );
        }
    };
    if plan.targets.is_empty() {
        return Err(anyhow!(
            "the plan has no account to check ({} left out; run `fleetscan plan` to see why)",
            plan.skipped.len()
        ));
    }
    tracing::info!(accounts = plan.targets.len(), "checking");
    let report = runtime.block_on(check::check(&config, &base, &plan.targets));
    let summary = summarize(&report);
    match args.format {
        ListFormat::Json => {
            let output = CheckOutput {
                ok: report.all_ok(),
                caller_arn: &caller_arn,
                summary,
                report: &report,
                skipped: &plan.skipped,
            };
            println!("{}", serde_json::to_string_pretty(&output)?);
        }
        ListFormat::Table => print!("{}", render_table(&report, &summary, args.problems)),
    }
    Ok(if report.all_ok() {
        ExitStatus::Success
    } else {
        ExitStatus::Partial
    })
}

/// One row per account and permission, then a one-line verdict.
fn render_table(report: &CheckReport, summary: &Summary, problems_only: bool) -> String {
    let mut table = Table::new(["ACCOUNT", "NAME", "PERMISSION", "RESULT", "DETAIL"]);
    for account in &report.accounts {
        for result in &account.results {
            if problems_only && !result.result.is_problem() {
                continue;
            }
            let detail = match (&result.error_code, &result.detail) {
                (Some(code), Some(detail)) => format!("{code}: {detail}"),
                (Some(code), None) => code.clone(),
                (None, detail) => or_dash(detail.as_deref()).to_string(),
            };
            let detail = shorten(&detail, 160);
            table.row([
                account.account_id.as_str(),
                or_dash(account.name.as_deref()),
                result.permission,
                result.result.as_str(),
                &detail,
            ]);
        }
    }
    let mut text = table.render();
    text.push('\n');
    let denied_permissions = report
        .accounts
        .iter()
        .flat_map(|a| a.results.iter())
        .filter(|r| r.permission != check::ASSUME_ROLE && r.result == Outcome::Denied)
        .count();
    if report.all_ok() {
        text.push_str(&format!(
            "all {} account(s) have every permission fleetscan needs",
            summary.accounts
        ));
    } else {
        text.push_str(&format!(
            "{} of {} account(s) are missing something: {} role(s) could not be assumed, {} other permission(s) denied, {} error(s)",
            summary.accounts - summary.accounts_ok,
            summary.accounts,
            summary.assume_role_failed,
            denied_permissions,
            summary.errors,
        ));
    }
    if summary.not_tested > 0 {
        text.push_str(&format!("; {} not tested", summary.not_tested));
    }
    text.push('\n');
    text
}

/// At most `limit` characters, with an ellipsis when cut (the JSON has it all).
fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut short: String = text.chars().take(limit - 1).collect();
    short.push('…');
    short
}
