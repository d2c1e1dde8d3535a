//! `fleetscan check` against the fake endpoint: one account whose role cannot
//! be assumed, one whose role lacks a permission, one in order; the table, the
//! JSON and the exit codes (3 when anything is missing, 0 when nothing is, 2 for
//! a bad configuration).

#[path = "ops/common.rs"]
mod common;

use fleetscan_fakeaws::{CallFilter, Faults, Operation};
use serde_json::Value;

/// (denied account, account missing DescribeVolumes, healthy account), and the world.
fn world() -> (common::World, String, String, String) {
    let probe = common::World::start(Faults::none());
    let members = probe.active_members();
    assert!(members.len() >= 3, "the default fleet has 3 active members");
    let (denied, missing, healthy) = (members[0].clone(), members[1].clone(), members[2].clone());
    drop(probe);
    let faults = Faults::none().deny_assume_role(&denied).unauthorized(
        CallFilter::operation(Operation::DescribeVolumes)
            .account(&missing)
            .region("us-east-1"),
    );
    (common::World::start(faults), denied, missing, healthy)
}

fn results(account: &Value) -> Vec<(String, String)> {
    account["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["permission"].as_str().expect("permission").to_string(),
                r["result"].as_str().expect("result").to_string(),
            )
        })
        .collect()
}

#[test]
fn check_reports_a_denied_role_and_a_missing_permission_and_exits_3() {
    let (world, denied, missing, healthy) = world();
    let config = world.config("");
    let config = config.to_str().expect("path");

    let output = world
        .fleetscan
        .run(["check", "--config", config, "--format", "json"]);
    output.expect_code(3, "check with gaps");
    let json = output.json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["summary"]["accounts"], 3);
    assert_eq!(json["summary"]["accounts_ok"], 1);
    assert_eq!(json["summary"]["assume_role_failed"], 1);
    let permissions: Vec<&str> = json["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| p.as_str().expect("permission"))
        .collect();
    assert_eq!(permissions[..2], ["sts:AssumeRole", "ec2:DescribeRegions"]);
    assert_eq!(permissions.len(), 16, "{permissions:?}");

    let accounts = json["accounts"].as_array().expect("accounts");
    let account = |id: &str| {
        accounts
            .iter()
            .find(|a| a["account_id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {json}"))
    };

    // The denied role: AssumeRole denied, nothing else tried.
    let denied_account = account(&denied);
    assert_eq!(denied_account["ok"], false);
    assert_eq!(denied_account["results"][0]["error_code"], "AccessDenied");
    let denied_results = results(denied_account);
    assert_eq!(
        denied_results[0],
        ("sts:AssumeRole".into(), "denied".into())
    );
    assert!(
        denied_results[1..].iter().all(|(_, r)| r == "not_tested"),
        "{denied_results:?}"
    );

    // The role without ec2:DescribeVolumes: exactly that one denied.
    let missing_account = account(&missing);
    assert_eq!(missing_account["ok"], false);
    let not_ok: Vec<(String, String)> = results(missing_account)
        .into_iter()
        .filter(|(_, r)| r != "ok")
        .collect();
    assert_eq!(
        not_ok,
        [("ec2:DescribeVolumes".to_string(), "denied".to_string())]
    );
    let volumes = missing_account["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["permission"] == "ec2:DescribeVolumes")
        .expect("DescribeVolumes result");
    assert_eq!(volumes["error_code"], "UnauthorizedOperation");

    // The healthy account: every permission ok.
    let healthy_account = account(&healthy);
    assert_eq!(healthy_account["ok"], true);
    assert!(results(healthy_account).iter().all(|(_, r)| r == "ok"));

    // The table says the same, one row per account and permission.
    let output = world
        .fleetscan
        .run(["check", "--config", config, "--problems"]);
    output.expect_code(3, "check table");
    let rows: Vec<Vec<&str>> = output
        .stdout
        .lines()
        .skip(1)
        .take_while(|line| !line.is_empty())
        .map(|line| line.split_whitespace().collect())
        .collect();
    let row = |account: &str, permission: &str| {
        rows.iter()
            .find(|r| r.first() == Some(&account) && r.contains(&permission))
            .unwrap_or_else(|| panic!("no row {account} {permission} in\n{}", output.stdout))
    };
    assert!(row(&denied, "sts:AssumeRole").contains(&"denied"));
    assert!(
        rows.iter()
            .all(|r| !r.windows(2).any(|w| w == ["not", "tested"])),
        "--problems leaves out what was not tested:\n{}",
        output.stdout
    );
    assert!(row(&missing, "ec2:DescribeVolumes").contains(&"denied"));
    assert!(
        rows.iter().all(|r| r.first() != Some(&healthy.as_str())),
        "--problems shows only what is denied or failed:\n{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("2 of 3 account(s) are missing something"),
        "{}",
        output.stdout
    );
}

#[test]
fn check_exits_0_when_every_permission_is_granted() {
    let (world, denied, missing, _healthy) = world();
    let config = world.config(&format!("exclude_accounts: [{denied:?}, {missing:?}]\n"));
    let output = world
        .fleetscan
        .run(["check", "--config", config.to_str().expect("path")]);
    output.expect_code(0, "check of the healthy account");
    assert!(
        output
            .stdout
            .contains("all 1 account(s) have every permission fleetscan needs"),
        "{}",
        output.stdout
    );
    // One cheap read per permission: no EC2 or S3 call was repeated.
    let stats = world.fake.stats();
    for operation in [
        Operation::DescribeInstances,
        Operation::DescribeVolumes,
        Operation::ListBuckets,
        Operation::GetBucketAcl,
    ] {
        assert_eq!(
            stats.by_operation.get(&operation).copied(),
            Some(1),
            "{operation}"
        );
    }
}

#[test]
fn check_with_a_bad_configuration_exits_2_before_any_call() {
    let world = common::World::start(Faults::none());
    let config = world.config("collectors: [lambda]\n");
    let output = world
        .fleetscan
        .run(["check", "--config", config.to_str().expect("path")]);
    output.expect_code(2, "bad configuration");
    assert!(
        output.stderr.contains("unknown collector `lambda`"),
        "{}",
        output.stderr
    );
    assert_eq!(world.fake.stats().total_calls, 0);
}
