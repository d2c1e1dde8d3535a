//! Tests of the diff: every change kind and security reason, scope honesty
//! (not-comparable units, accounts entering and leaving), cross-file diffs,
//! the three output formats and the query plans.
#![allow(clippy::unwrap_used)]

use super::render::{DiffHeader, JsonRender, MarkdownRender, Render, TextRender};
use super::*;
use crate::SnapshotMeta;
use crate::rows::*;
use crate::testing::*;

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
const D: &str = "444444444444";
const EU: &str = "eu-west-1";
const US: &str = "us-east-1";

fn base_account_a() -> Vec<Row> {
    let mut rows = vec![account(A, AccountStatus::Ok)];
    rows.extend(ok_units(A, EU));
    rows
}

fn old_fleet() -> Vec<Row> {
    let mut rows = base_account_a();
    rows.push(unit(A, US, "ec2_volumes", UnitStatus::Ok));
    rows.push(Row::Ec2Volume(volume(A, US, "vol-east")));
    rows.push(Row::Ec2Instance(instance(A, EU, "i-keep")));
    rows.push(Row::Ec2Instance(instance(A, EU, "i-terminate")));
    let mut web = instance(A, EU, "i-web");
    web.security_group_ids = vec!["sg-1".to_owned(), "sg-2".to_owned()];
    rows.push(Row::Ec2Instance(web));
    rows.push(Row::Ec2Instance(instance(A, EU, "i-retag")));
    rows.push(Row::Ec2SecurityGroup(security_group(A, EU, "sg-1")));
    rows.push(Row::Ec2SecurityGroupRule(rule(A, EU, "sg-1", 22)));
    rows.push(Row::Ec2Volume(volume(A, EU, "vol-1")));
    rows.push(Row::S3Bucket(bucket(A, "b-bpa")));
    rows.push(Row::S3Bucket(bucket(A, "b-version")));
    rows.push(Row::S3Bucket(bucket(A, "b-delete")));
    rows.push(Row::S3Bucket(bucket(A, "b-public")));
    rows.push(Row::S3Bucket(bucket(A, "b-acl")));
    rows.push(Row::S3Bucket(bucket(A, "b-enc")));
    rows.push(Row::S3Bucket(bucket(A, "b-unreadable")));
    rows.push(Row::S3AccountPublicAccessBlock(account_block(
        A,
        Some(true),
    )));
    // B: fine in the old snapshot, its role fails in the new one.
    rows.push(account(B, AccountStatus::Ok));
    rows.extend(ok_units(B, EU));
    rows.push(Row::Ec2Instance(instance(B, EU, "i-b")));
    // C: leaves the scope.
    rows.push(account(C, AccountStatus::Ok));
    rows.extend(ok_units(C, EU));
    rows.push(Row::Ec2Instance(instance(C, EU, "i-c")));
    rows
}

fn new_fleet() -> Vec<Row> {
    let mut rows = base_account_a();
    if let Row::Account(row) = &mut rows[0] {
        row.ou_path = Some("/Root/Sandbox".to_owned());
    }
    // The volumes unit of us-east-1 is denied now: vol-east must not be "removed".
    rows.push(unit(A, US, "ec2_volumes", UnitStatus::Denied));
    rows.push(Row::Ec2Instance(instance(A, EU, "i-keep")));
    rows.push(Row::Ec2Instance(instance(A, EU, "i-added")));
    let mut web = instance(A, EU, "i-web");
    web.security_group_ids = vec!["sg-2".to_owned(), "sg-1".to_owned()]; // same set, other order
    web.public_ip = Some("203.0.113.7".to_owned());
    web.imds_http_tokens = Some("optional".to_owned());
    rows.push(Row::Ec2Instance(web));
    let mut retag = instance(A, EU, "i-retag");
    retag.tags.insert("owner".to_owned(), "team-b".to_owned());
    retag.tags.insert("note".to_owned(), WEIRD.to_owned());
    rows.push(Row::Ec2Instance(retag));
    rows.push(Row::Ec2SecurityGroup(security_group(A, EU, "sg-1")));
    rows.push(Row::Ec2SecurityGroupRule(rule(A, EU, "sg-1", 22)));
    rows.push(Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
        cidr: Some("0.0.0.0/0".to_owned()),
        ..rule(A, EU, "sg-1", 22)
    }));
    rows.push(Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
        direction: RuleDirection::Egress,
        cidr: Some("::/0".to_owned()),
        ..rule(A, EU, "sg-1", 443)
    }));
    rows.push(Row::Ec2Volume(volume(A, EU, "vol-1")));
    rows.push(Row::Ec2Volume(Ec2VolumeRow {
        encrypted: Some(false),
        kms_key_id: None,
        ..volume(A, EU, "vol-plain")
    }));
    rows.push(Row::Ec2Volume(volume(A, EU, "vol-encrypted")));
    rows.push(Row::S3Bucket(S3BucketRow {
        block_public_acls: Some(false),
        ..bucket(A, "b-bpa")
    }));
    rows.push(Row::S3Bucket(S3BucketRow {
        versioning: Some("Suspended".to_owned()),
        ..bucket(A, "b-version")
    }));
    rows.push(Row::S3Bucket(S3BucketRow {
        policy_is_public: Some(true),
        ..bucket(A, "b-public")
    }));
    rows.push(Row::S3Bucket(S3BucketRow {
        public_acl_grants: Some(vec!["AllUsers:READ".to_owned()]),
        ..bucket(A, "b-acl")
    }));
    rows.push(Row::S3Bucket(S3BucketRow {
        sse_algorithm: None,
        kms_key_id: None,
        ..bucket(A, "b-enc")
    }));
    rows.push(Row::S3Bucket(S3BucketRow {
        block_public_acls: None,
        ignore_public_acls: None,
        block_public_policy: None,
        restrict_public_buckets: None,
        fetch_errors: [("GetPublicAccessBlock".to_owned(), "AccessDenied".to_owned())].into(),
        ..bucket(A, "b-unreadable")
    }));
    rows.push(Row::S3AccountPublicAccessBlock(
        S3AccountPublicAccessBlockRow {
            restrict_public_buckets: Some(false),
            ..account_block(A, Some(true))
        },
    ));
    rows.push(account(B, AccountStatus::AssumeFailed));
    // D: enters the scope.
    rows.push(account(D, AccountStatus::Ok));
    rows.extend(ok_units(D, EU));
    rows.push(Row::Ec2Instance(instance(D, EU, "i-d")));
    rows
}

/// One database with both snapshots.
fn two_snapshots() -> (tempfile::TempDir, Store, i64, i64) {
    let (dir, path) = temp_db();
    let (store, old) = write_snapshot(Store::open_for_scan(&path).unwrap(), old_fleet());
    let (store, new) = write_snapshot(store, new_fleet());
    (dir, store, old, new)
}

fn collect(store: &Store, old_db: Option<&Path>, old: i64, new: i64) -> (Vec<Change>, DiffOutcome) {
    let mut changes = Vec::new();
    let outcome = store
        .diff(old_db, old, new, &mut |change| {
            changes.push(change.clone());
            Ok(())
        })
        .unwrap();
    (changes, outcome)
}

fn brief(change: &Change) -> String {
    format!(
        "{} {} {} {}{}",
        change.account_id,
        change.change.as_str(),
        change.resource_type,
        change.resource_id,
        if change.reasons.is_empty() {
            String::new()
        } else {
            format!(" [{}]", change.reasons.join("; "))
        }
    )
}

fn expected_changes() -> Vec<String> {
    [
        "111111111111 modified account 111111111111",
        "111111111111 removed ec2_instance i-terminate",
        "111111111111 added ec2_instance i-added",
        "111111111111 modified ec2_instance i-retag",
        "111111111111 modified ec2_instance i-web [instance gained a public IP; IMDS tokens became optional (IMDSv1 allowed)]",
        "111111111111 added ec2_security_group_rule sg-1 egress tcp 443 to ::/0",
        "111111111111 added ec2_security_group_rule sg-1 ingress tcp 22 from 0.0.0.0/0 [ingress rule from 0.0.0.0/0 or ::/0 added]",
        "111111111111 added ec2_volume vol-encrypted",
        "111111111111 added ec2_volume vol-plain [new unencrypted volume]",
        "111111111111 removed s3_bucket b-delete",
        "111111111111 modified s3_bucket b-acl [bucket became public (ACL)]",
        "111111111111 modified s3_bucket b-bpa [block public access turned off or removed: block_public_acls (bucket)]",
        "111111111111 modified s3_bucket b-enc [encryption removed]",
        "111111111111 modified s3_bucket b-public [bucket became public (policy)]",
        "111111111111 modified s3_bucket b-unreadable",
        "111111111111 modified s3_bucket b-version [versioning suspended]",
        "111111111111 modified s3_account_public_access_block 111111111111 [block public access turned off or removed: restrict_public_buckets (account)]",
        "333333333333 removed account 333333333333",
        "444444444444 added account 444444444444",
    ]
    .iter()
    .map(|line| (*line).to_owned())
    .collect()
}

#[test]
fn diff_reports_exactly_the_changes_with_their_security_reasons() {
    let (_dir, store, old, new) = two_snapshots();
    let (changes, outcome) = collect(&store, None, old, new);
    assert_eq!(
        changes.iter().map(brief).collect::<Vec<_>>(),
        expected_changes()
    );

    let summary = &outcome.summary;
    assert_eq!(
        (summary.added, summary.removed, summary.modified),
        (5, 2, 9)
    );
    assert_eq!(
        (
            summary.accounts_entered,
            summary.accounts_left,
            summary.accounts_changed
        ),
        (1, 1, 1)
    );
    assert_eq!(summary.security, 9);
    assert!(summary.has_differences());
}

#[test]
fn an_account_whose_details_changed_is_counted_and_is_a_difference() {
    // Only the account's own details change: the summary must say so, and
    // `--exit-code` must see it.
    let (_dir, store, old, new) = two_snapshots();
    let (_, outcome) = collect(&store, None, old, new);
    let only_account = DiffSummary {
        accounts_changed: outcome.summary.accounts_changed,
        ..DiffSummary::default()
    };
    assert_eq!(only_account.accounts_changed, 1);
    assert!(only_account.has_differences());
    assert!(!DiffSummary::default().has_differences());
}

#[test]
fn modified_fields_compare_tags_by_key_and_sets_as_sets() {
    let (_dir, store, old, new) = two_snapshots();
    let (changes, _) = collect(&store, None, old, new);
    let find = |id: &str| {
        changes
            .iter()
            .find(|change| change.resource_id == id)
            .unwrap()
    };
    let retag = find("i-retag");
    assert_eq!(
        retag.fields,
        vec![
            FieldChange {
                field: "tags.note".to_owned(),
                old: Value::Null,
                new: Value::from(WEIRD)
            },
            FieldChange {
                field: "tags.owner".to_owned(),
                old: Value::from("team-a"),
                new: Value::from("team-b")
            },
        ]
    );
    let web = find("i-web");
    let fields: Vec<&str> = web
        .fields
        .iter()
        .map(|field| field.field.as_str())
        .collect();
    assert_eq!(
        fields,
        vec!["public_ip", "imds_http_tokens"],
        "reordered security groups are not a change"
    );
    let account_row = find(A);
    assert_eq!(account_row.fields[0].field, "ou_path");
    // A setting that could not be read is shown, but never flagged as removed.
    let unreadable = find("b-unreadable");
    assert!(!unreadable.security);
    assert_eq!(unreadable.fields[0].new, Value::Null);
    let acl = find("b-acl");
    assert_eq!(acl.fields[0].field, "public_acl_grants");
    assert_eq!(acl.fields[0].new, serde_json::json!(["AllUsers:READ"]));
}

#[test]
fn units_not_ok_in_both_are_not_comparable_and_nothing_of_them_is_removed() {
    let (_dir, store, old, new) = two_snapshots();
    let (changes, outcome) = collect(&store, None, old, new);
    assert!(
        changes
            .iter()
            .all(|change| change.resource_id != "vol-east"),
        "denied unit: no removal"
    );
    assert!(
        changes.iter().all(|change| change.account_id != B),
        "B's role failed: nothing of it compared"
    );
    assert!(
        changes
            .iter()
            .all(|change| change.resource_id != "i-c" && change.resource_id != "i-d")
    );
    let listed: Vec<String> = outcome
        .not_comparable
        .iter()
        .map(|unit| {
            format!(
                "{} {} {} {:?} {:?}",
                unit.account_id, unit.region, unit.collector, unit.old_status, unit.new_status
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            "111111111111 us-east-1 ec2_volumes Some(\"ok\") Some(\"denied\")",
            "222222222222 eu-west-1 ec2_instances Some(\"ok\") Some(\"assume_failed\")",
            "222222222222 eu-west-1 ec2_security_groups Some(\"ok\") Some(\"assume_failed\")",
            "222222222222 eu-west-1 ec2_volumes Some(\"ok\") Some(\"assume_failed\")",
            "222222222222 global s3_account_public_access_block Some(\"ok\") Some(\"assume_failed\")",
            "222222222222 global s3_buckets Some(\"ok\") Some(\"assume_failed\")",
        ]
    );
    assert_eq!(outcome.summary.not_comparable, 6);
}

#[test]
fn identical_snapshots_have_no_differences() {
    let (_dir, path) = temp_db();
    let (store, first) = write_snapshot(Store::open_for_scan(&path).unwrap(), old_fleet());
    let (store, second) = write_snapshot(store, old_fleet());
    let (changes, outcome) = collect(&store, None, first, second);
    assert!(
        changes.is_empty(),
        "{:?}",
        changes.iter().map(brief).collect::<Vec<_>>()
    );
    assert!(!outcome.summary.has_differences());
    assert!(outcome.not_comparable.is_empty());
}

#[test]
fn the_old_side_may_come_from_another_database_file() {
    let (_old_dir, old_path) = temp_db();
    let (old_store, old) = write_snapshot(Store::open_for_scan(&old_path).unwrap(), old_fleet());
    drop(old_store);
    let (_new_dir, new_path) = temp_db();
    let (new_store, new) = write_snapshot(Store::open_for_scan(&new_path).unwrap(), new_fleet());
    let (changes, _) = collect(&new_store, Some(&old_path), old, new);
    assert_eq!(
        changes.iter().map(brief).collect::<Vec<_>>(),
        expected_changes()
    );
    // Detached afterwards: a second diff attaches again.
    let (again, _) = collect(&new_store, Some(&old_path), old, new);
    assert_eq!(again.len(), changes.len());
}

#[test]
fn diff_gives_its_page_cache_back_even_when_it_fails() {
    let (_dir, store, old, new) = two_snapshots();
    let cache_size = || -> i64 {
        store
            .connection()
            .query_row("PRAGMA cache_size", [], |row| row.get(0))
            .unwrap()
    };
    let before = cache_size();
    assert_ne!(before, -DIFF_CACHE_KIB);
    let mut sizes_seen = Vec::new();
    store
        .diff(None, old, new, &mut |_| {
            sizes_seen.push(cache_size());
            Ok(())
        })
        .unwrap();
    assert!(sizes_seen.iter().all(|size| *size == -DIFF_CACHE_KIB));
    assert!(!sizes_seen.is_empty());
    assert_eq!(cache_size(), before);
    let failing = store.diff(None, old, new, &mut |_| {
        Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "reader went away",
        ))
    });
    assert!(matches!(failing, Err(StoreError::Output { .. })));
    assert_eq!(cache_size(), before);
}

#[test]
fn unknown_and_unusable_snapshots_are_refused() {
    let (_dir, mut store, old, _new) = two_snapshots();
    let running = store.begin_snapshot(&meta()).unwrap();
    let mut ignore = |_: &Change| Ok(());
    assert!(matches!(
        store.diff(None, old, 999, &mut ignore),
        Err(StoreError::UnknownSnapshot { id: 999, .. })
    ));
    assert!(matches!(
        store.diff(None, old, running, &mut ignore),
        Err(StoreError::UnusableSnapshot { status, .. }) if status == "running"
    ));
}

fn render(format: &str, security_only: bool) -> String {
    let (_dir, store, old, new) = two_snapshots();
    let header = DiffHeader {
        old_id: old,
        new_id: new,
        old_label: format!("snapshot {old}"),
        new_label: format!("snapshot {new}"),
    };
    let mut buffer = Vec::new();
    {
        let mut renderer: Box<dyn Render + '_> = match format {
            "text" => Box::new(TextRender::new(&mut buffer, security_only, false)),
            "markdown" => Box::new(MarkdownRender::new(&mut buffer, security_only)),
            _ => Box::new(JsonRender::new(&mut buffer, security_only)),
        };
        renderer.begin(&header).unwrap();
        let outcome = store
            .diff(None, old, new, &mut |change| renderer.change(change))
            .unwrap();
        renderer.finish(&outcome).unwrap();
    }
    String::from_utf8(buffer).unwrap()
}

#[test]
fn text_output() {
    let text = render("text", false);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "control characters are escaped"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn text_output_security_only() {
    insta::assert_snapshot!(render("text", true));
}

#[test]
fn markdown_output() {
    insta::assert_snapshot!(render("markdown", false));
}

#[test]
fn json_output_has_the_documented_shape() {
    let json: Value = serde_json::from_str(&render("json", false)).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        vec!["changes", "new", "not_comparable", "old", "summary"]
    );
    assert_eq!(json["old"], 1);
    assert_eq!(json["new"], 2);
    let change = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|change| change["resource_id"] == "i-web")
        .unwrap();
    assert_eq!(
        change,
        &serde_json::json!({
            "resource_type": "ec2_instance",
            "change": "modified",
            "account_id": A,
            "region": EU,
            "resource_id": "i-web",
            "fields": [
                {"field": "public_ip", "old": null, "new": "203.0.113.7"},
                {"field": "imds_http_tokens", "old": "required", "new": "optional"}
            ],
            "security": true,
            "reasons": ["instance gained a public IP", "IMDS tokens became optional (IMDSv1 allowed)"]
        })
    );
    assert_eq!(
        json["not_comparable"][0],
        serde_json::json!({"account_id": A, "region": US, "collector": "ec2_volumes", "old_status": "ok", "new_status": "denied"})
    );
    assert_eq!(json["summary"]["accounts_entered"], 1);
    let security_only: Value = serde_json::from_str(&render("json", true)).unwrap();
    assert_eq!(security_only["changes"].as_array().unwrap().len(), 9);
}

#[test]
fn markdown_code_spans_survive_backticks_and_control_characters() {
    assert_eq!(render::code_span("plain"), "`plain`");
    assert_eq!(render::code_span("a`b"), "``a`b``");
    assert_eq!(render::code_span("`x"), "`` `x ``");
    assert_eq!(
        render::code_span("line\nbreak\u{1b}[31m"),
        "`line\\nbreak\\u{1b}[31m`"
    );
    assert_eq!(render::escape("rtl\u{202e}txt"), "rtl\\u{202e}txt");
}

/// Every diff query walks an index: the row source by its snapshot and
/// account, the other side by its full key. Nothing scans a table.
#[test]
fn diff_queries_use_the_indexes() {
    let (_dir, store, _, _) = two_snapshots();
    store
        .connection()
        .execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS fleetscan_diff_comparable (
                 account_id TEXT NOT NULL, region TEXT NOT NULL, collector TEXT NOT NULL,
                 PRIMARY KEY (account_id, region, collector)) WITHOUT ROWID;",
        )
        .unwrap();
    for resource in REGISTRY {
        let queries = build_queries(resource, "main");
        for sql in [&queries.added, &queries.removed, &queries.modified] {
            let mut statement = store
                .connection()
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let plan: Vec<String> = statement
                .query_map([1, 2, 3], |row| row.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            println!("{}:\n  {}", resource.table, plan.join("\n  "));
            for line in &plan {
                assert!(
                    !line.starts_with("SCAN") || line.contains("USING"),
                    "{}: full scan in plan {plan:#?}\nof {sql}",
                    resource.table
                );
            }
            assert!(
                plan.iter().any(|line| line.contains("SEARCH x USING")),
                "{plan:#?}"
            );
        }
    }
}

/// One account scanned in `regions` (region discovery ok), with one
/// instance in each region after the first.
fn regions_fleet(regions: &[&str]) -> Vec<Row> {
    let mut rows = vec![
        account(A, AccountStatus::Ok),
        unit(A, "global", "ec2_regions", UnitStatus::Ok),
    ];
    for (index, region) in regions.iter().enumerate() {
        rows.extend(
            ok_units(A, region)
                .into_iter()
                .filter(|row| !matches!(row, Row::Unit(u) if u.region == "global" && index > 0)),
        );
        if index > 0 {
            rows.push(Row::Ec2Instance(instance(A, region, "i-new-region")));
        }
    }
    rows
}

#[test]
fn a_newly_enabled_region_is_compared_when_the_scope_is_the_same() {
    // `regions.include: ["*"]`: the region was not enabled at the old scan,
    // so it has no units there; its resources are new, not "not comparable".
    let (_dir, path) = temp_db();
    let store = Store::open_for_scan(&path).unwrap();
    let (store, old) = write_snapshot(store, regions_fleet(&[US]));
    let (store, new) = write_snapshot(store, regions_fleet(&[US, "af-south-1"]));
    let (changes, outcome) = collect(&store, None, old, new);
    assert_eq!(
        changes.iter().map(brief).collect::<Vec<_>>(),
        vec![format!("{A} added ec2_instance i-new-region")]
    );
    assert!(
        outcome.not_comparable.is_empty(),
        "{:?}",
        outcome.not_comparable
    );
    assert!(outcome.summary.has_differences());

    // Taken with another configuration, the region may have been left out
    // on purpose: not comparable, nothing reported as added.
    let other_scope = SnapshotMeta {
        config_digest: "sha256:other".to_owned(),
        ..meta()
    };
    let (store, other) =
        write_snapshot_with(store, &other_scope, regions_fleet(&[US, "af-south-1"]));
    let (changes, outcome) = collect(&store, None, old, other);
    assert!(changes.is_empty(), "{changes:?}");
    let regions: BTreeSet<&str> = outcome
        .not_comparable
        .iter()
        .map(|unit| unit.region.as_str())
        .collect();
    assert_eq!(regions, BTreeSet::from(["af-south-1"]));

    // A collector the old snapshot never ran (a newer fleetscan added it,
    // same configuration file): its resources are not comparable, not added.
    let mut without_volumes = regions_fleet(&[US]);
    without_volumes.retain(|row| !matches!(row, Row::Unit(u) if u.collector == "ec2_volumes"));
    let (store, before_volumes) = write_snapshot(store, without_volumes);
    let mut with_volume = regions_fleet(&[US, "af-south-1"]);
    with_volume.push(Row::Ec2Volume(volume(A, "af-south-1", "vol-new-collector")));
    let (store, after_volumes) = write_snapshot(store, with_volume);
    let (changes, outcome) = collect(&store, None, before_volumes, after_volumes);
    // The newly enabled region's instances are added; its volumes are not,
    // since the old snapshot never looked for volumes anywhere.
    assert_eq!(
        changes.iter().map(brief).collect::<Vec<_>>(),
        vec![format!("{A} added ec2_instance i-new-region")]
    );
    let volumes: BTreeSet<&str> = outcome
        .not_comparable
        .iter()
        .filter(|unit| unit.collector == "ec2_volumes")
        .map(|unit| unit.region.as_str())
        .collect();
    assert_eq!(volumes, BTreeSet::from([US, "af-south-1"]));

    // Without a successful region discovery on the old side, absence proves
    // nothing either.
    let mut undiscovered = regions_fleet(&[US]);
    undiscovered.retain(|row| !matches!(row, Row::Unit(u) if u.collector == "ec2_regions"));
    let (store, blind) = write_snapshot(store, undiscovered);
    let (_, outcome) = collect(&store, None, blind, new);
    assert!(
        outcome
            .not_comparable
            .iter()
            .any(|unit| unit.region == "af-south-1"),
        "{:?}",
        outcome.not_comparable
    );
}
