//! Region discovery: which regions are enabled in an account
//! (`DescribeRegions`, filtered client-side on the opt-in status), and which
//! of them the configuration selects.

use std::collections::BTreeSet;

use crate::classify::{AwsFailure, classify};
use crate::config::RegionSelection;
use crate::session::AccountSession;

/// Opt-in statuses of regions an account can use.
const ENABLED_STATUSES: &[&str] = &["opt-in-not-required", "opted-in"];

/// The enabled regions of the account, asked in its home region.
pub async fn enabled_regions(session: &AccountSession) -> Result<BTreeSet<String>, AwsFailure> {
    let answer = session
        .ec2(&session.home_region)
        .describe_regions()
        .all_regions(true)
        .send()
        .await
        .map_err(|e| classify(&e))?;
    Ok(answer
        .regions()
        .iter()
        // A region without an opt-in status predates opt-in regions: enabled.
        .filter(|r| {
            r.opt_in_status()
                .is_none_or(|s| ENABLED_STATUSES.contains(&s))
        })
        .filter_map(|r| r.region_name().map(str::to_string))
        .collect())
}

/// The regions to scan, and the explicitly selected ones that are not enabled
/// (recorded as `region_disabled` without calling them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionChoice {
    pub scan: Vec<String>,
    pub not_enabled: Vec<String>,
}

/// Intersects the selection with the enabled regions. With `enabled` unknown
/// (discovery denied), an explicit list is scanned as configured and `"*"`
/// selects nothing.
pub fn choose(selection: &RegionSelection, enabled: Option<&BTreeSet<String>>) -> RegionChoice {
    let kept = |region: &String| !selection.exclude.contains(region);
    match (&selection.include, enabled) {
        (None, Some(enabled)) => RegionChoice {
            scan: enabled.iter().filter(|r| kept(r)).cloned().collect(),
            not_enabled: vec![],
        },
        (None, None) => RegionChoice::default(),
        (Some(list), Some(enabled)) => {
            let (scan, not_enabled) = list
                .iter()
                .filter(|r| kept(r))
                .cloned()
                .partition(|r| enabled.contains(r));
            RegionChoice { scan, not_enabled }
        }
        (Some(list), None) => RegionChoice {
            scan: list.iter().filter(|r| kept(r)).cloned().collect(),
            not_enabled: vec![],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(include: Option<&[&str]>, exclude: &[&str]) -> RegionSelection {
        RegionSelection {
            include: include.map(|l| l.iter().map(|s| s.to_string()).collect()),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn star_means_every_enabled_region_minus_excludes() {
        let enabled = set(&["eu-west-1", "us-east-1", "us-west-2"]);
        let choice = choose(&selection(None, &["us-west-2"]), Some(&enabled));
        assert_eq!(choice.scan, ["eu-west-1", "us-east-1"]);
        assert!(choice.not_enabled.is_empty());
    }

    #[test]
    fn explicit_regions_not_enabled_are_reported_not_scanned() {
        let enabled = set(&["us-east-1"]);
        let choice = choose(
            &selection(Some(&["us-east-1", "af-south-1"]), &[]),
            Some(&enabled),
        );
        assert_eq!(choice.scan, ["us-east-1"]);
        assert_eq!(choice.not_enabled, ["af-south-1"]);
    }

    #[test]
    fn unknown_enabled_set_falls_back_to_the_explicit_list() {
        let choice = choose(
            &selection(Some(&["us-east-1", "eu-west-1"]), &["eu-west-1"]),
            None,
        );
        assert_eq!(choice.scan, ["us-east-1"]);
        assert_eq!(choose(&selection(None, &[]), None), RegionChoice::default());
    }
}
