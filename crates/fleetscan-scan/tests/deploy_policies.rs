//! Keeps the IAM documents in `deploy/` in step with the code: the member
//! role's policy grants exactly what the collectors declare (plus region
//! discovery) and nothing by wildcard, the CloudFormation template carries the
//! same list, and the scanning principal may assume only that role.
//! (Which operations a scan really calls is checked end to end in
//! `tests/e2e/ops_policy.rs`.)

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use fleetscan_scan::check::{self, DESCRIBE_REGIONS};
use fleetscan_scan::collectors::REGISTRY;
use serde_json::Value;

const MEMBER_POLICY: &str = include_str!("../../../deploy/member-role-policy.json");
const TRUST_POLICY: &str = include_str!("../../../deploy/member-role-trust-policy.json");
const SCANNER_POLICY: &str = include_str!("../../../deploy/scanner-policy.json");
const TEMPLATE: &str = include_str!("../../../deploy/member-role.cfn.yaml");

/// Every action of every Allow statement (a string or a list).
fn allowed_actions(policy: &Value) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().unwrap() {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        match &statement["Action"] {
            Value::String(action) => {
                actions.insert(action.clone());
            }
            Value::Array(list) => {
                for action in list {
                    actions.insert(action.as_str().unwrap().to_string());
                }
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    actions
}

fn registry_actions() -> BTreeSet<String> {
    REGISTRY
        .iter()
        .flat_map(|c| c.actions.iter())
        .chain(std::iter::once(&DESCRIBE_REGIONS))
        .map(|a| a.to_string())
        .collect()
}

#[test]
fn the_member_policy_grants_exactly_the_registry_actions_without_wildcards() {
    let policy: Value = serde_json::from_str(MEMBER_POLICY).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    let granted = allowed_actions(&policy);
    for action in &granted {
        assert!(!action.contains('*'), "wildcard action {action}");
        assert!(
            check::has_probe(action),
            "{action} is granted but `fleetscan check` cannot probe it"
        );
    }
    assert_eq!(granted, registry_actions());
}

#[test]
fn the_cloudformation_template_carries_the_same_policy() {
    let template: Value = serde_saphyr::from_str(TEMPLATE).unwrap();
    let role = &template["Resources"]["FleetscanRole"]["Properties"];
    let policies = role["Policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1);
    let member: Value = serde_json::from_str(MEMBER_POLICY).unwrap();
    assert_eq!(
        allowed_actions(&policies[0]["PolicyDocument"]),
        allowed_actions(&member)
    );
    // The trust policy: the scanning principal, only from this organization,
    // with the external id when one is given.
    let statement = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(statement["Action"], "sts:AssumeRole");
    assert_eq!(statement["Principal"]["AWS"]["Ref"], "ScanningPrincipalArn");
    let branches = statement["Condition"]["Fn::If"].as_array().unwrap();
    assert_eq!(branches[0], "HasExternalId");
    assert_eq!(
        branches[1]["StringEquals"]["sts:ExternalId"]["Ref"],
        "ExternalId"
    );
    for branch in &branches[1..] {
        assert_eq!(
            branch["StringEquals"]["aws:PrincipalOrgID"]["Ref"],
            "OrganizationId"
        );
    }
    assert_eq!(template["Parameters"]["ExternalId"]["NoEcho"], true);
}

#[test]
fn the_trust_policy_requires_the_organization() {
    let trust: Value = serde_json::from_str(TRUST_POLICY).unwrap();
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Action"], "sts:AssumeRole");
    assert!(
        statement["Principal"]["AWS"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::")
    );
    assert!(
        statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"]
            .as_str()
            .unwrap()
            .starts_with("o-")
    );
}

#[test]
fn the_scanner_may_assume_only_the_member_role() {
    let scanner: Value = serde_json::from_str(SCANNER_POLICY).unwrap();
    let template: Value = serde_saphyr::from_str(TEMPLATE).unwrap();
    let parameters = &template["Parameters"];
    let role = format!(
        "arn:aws:iam::*:role{}{}",
        parameters["RolePath"]["Default"].as_str().unwrap(),
        parameters["RoleName"]["Default"].as_str().unwrap()
    );
    let mut assume_statements = 0;
    for statement in scanner["Statement"].as_array().unwrap() {
        let actions = allowed_actions(&serde_json::json!({ "Statement": [statement] }));
        if actions.contains("sts:AssumeRole") {
            assume_statements += 1;
            assert_eq!(
                actions.len(),
                1,
                "AssumeRole shares a statement: {actions:?}"
            );
            assert_eq!(statement["Resource"], role.as_str());
        } else {
            assert!(
                actions
                    .iter()
                    .all(|a| a.starts_with("organizations:") && !a.contains('*')),
                "{actions:?}"
            );
        }
    }
    assert_eq!(assume_statements, 1);
}

#[test]
fn the_terraform_module_grants_the_scanner_the_same_actions() {
    const TERRAFORM: &str = include_str!("../../../deploy/terraform/main.tf");
    let quoted: BTreeSet<String> = TERRAFORM
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("organizations:") || s.starts_with("sts:"))
        .map(str::to_string)
        .collect();
    let scanner: Value = serde_json::from_str(SCANNER_POLICY).unwrap();
    assert_eq!(quoted, allowed_actions(&scanner));
    assert!(TERRAFORM.contains("file(\"${path.module}/../member-role.cfn.yaml\")"));
}
