//! `fleetscan plan`: the accounts, role ARNs and regions a scan would use.
//! Calls Organizations (when enabled) and nothing else: no role is assumed.

use std::path::PathBuf;

use anyhow::Context as _;
use fleetscan_scan::planner;
use serde::Serialize;

use super::ListFormat;
use crate::GlobalArgs;
use crate::exit::ExitStatus;
use crate::render::{Table, or_dash};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Configuration file (default: ./fleetscan.yaml if present, else built-in defaults).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
}

#[derive(Serialize)]
struct PlanOutput<'a> {
    management_account_id: Option<&'a str>,
    targets: &'a [planner::Target],
    skipped: &'a [planner::SkippedAccount],
    regions: Regions<'a>,
    collectors: Vec<&'static str>,
}

#[derive(Serialize)]
struct Regions<'a> {
    /// `["*"]` for every enabled region of each account.
    include: Vec<&'a str>,
    exclude: Vec<&'a str>,
}

pub fn run(args: PlanArgs, _global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let config = super::load_config(args.config.as_deref())?;
    let plan = super::runtime()?.block_on(async {
        let base = fleetscan_scan::session::load_base(&config).await;
        planner::plan(&config, &base).await
    });
    let plan = match plan {
        Ok(plan) => plan,
        Err(planner::PlanError::Config(err)) => return Err(err.into()),
        Err(err) => return Err(err).context("could not list the organization's accounts"),
    };
    let regions = Regions {
        include: config.regions.include.as_ref().map_or_else(
            || vec!["*"],
            |list| list.iter().map(String::as_str).collect(),
        ),
        exclude: config.regions.exclude.iter().map(String::as_str).collect(),
    };
    let output = PlanOutput {
        management_account_id: plan.management_account_id.as_deref(),
        targets: &plan.targets,
        skipped: &plan.skipped,
        regions,
        collectors: config.collectors.iter().map(|c| c.name).collect(),
    };
    match args.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&output)?),
        ListFormat::Table => {
            let mut table = Table::new(["ACCOUNT", "NAME", "OU PATH", "ROLE ARN"]);
            for target in &plan.targets {
                table.row([
                    &target.account_id,
                    or_dash(target.name.as_deref()),
                    or_dash(target.ou_path.as_deref()),
                    &target.role_arn,
                ]);
            }
            print!("{}", table.render());
            println!();
            println!("{} account(s) to scan", plan.targets.len());
            let include = if output.regions.include == ["*"] {
                "every enabled region".to_string()
            } else {
                output.regions.include.join(", ")
            };
            let exclude = if output.regions.exclude.is_empty() {
                String::new()
            } else {
                format!(" except {}", output.regions.exclude.join(", "))
            };
            println!("regions: {include}{exclude}");
            println!("collectors: {}", output.collectors.join(", "));
            if !plan.skipped.is_empty() {
                println!();
                let mut skipped = Table::new(["SKIPPED", "NAME", "REASON"]);
                for account in &plan.skipped {
                    skipped.row([
                        &account.account_id,
                        or_dash(account.name.as_deref()),
                        &account.reason,
                    ]);
                }
                print!("{}", skipped.render());
            }
        }
    }
    Ok(ExitStatus::Success)
}
