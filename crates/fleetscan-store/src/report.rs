//! The read model of `fleetscan report`: one snapshot's header facts, its
//! coverage (accounts × regions with the worst unit status), its findings,
//! and the trend of resource and finding counts over the retained snapshots.
//!
//! The findings are read from the `*_by_snapshot` audit views
//! (`migrations/0004`), the single definition that the latest-snapshot views
//! (`public_buckets`, ...) also filter, so any snapshot can be reported. Nothing
//! here is HTML: the binary renders these types.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::error::{SqliteContext, StoreError};
use crate::rows::{GLOBAL_REGION, UnitStatus};
use crate::store::{SnapshotStatus, SnapshotSummary, Store, parse_unit_status};

/// What the header of a report says about a snapshot beyond its summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotHeader {
    pub summary: SnapshotSummary,
    pub tool_version: String,
    pub caller_arn: Option<String>,
    /// Regions with at least one scan unit, sorted (`global` left out).
    pub regions: Vec<String>,
}

/// The accounts × regions map of one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// The columns: `global` first (when present), then regions sorted.
    pub regions: Vec<String>,
    /// Sorted by OU path, then account id.
    pub accounts: Vec<CoverageAccount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageAccount {
    pub account_id: String,
    pub name: Option<String>,
    pub ou_path: Option<String>,
    /// `accounts.status` (ok, partial, assume_failed, skipped).
    pub status: String,
    pub error: Option<String>,
    /// One per entry of [`Coverage::regions`], in that order.
    pub cells: Vec<CoverageCell>,
}

impl CoverageAccount {
    /// Whether everything planned for the account was read: the account is
    /// `ok` and no unit ended other than `ok` or `region_disabled`.
    pub fn is_clean(&self) -> bool {
        self.status == "ok"
            && self
                .cells
                .iter()
                .all(|cell| cell.status.is_none_or(UnitStatus::is_success))
    }
}

/// One account in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageCell {
    /// The worst status of the units recorded there; `None` when no unit was
    /// recorded (the account was not reached, or the region not scanned for it).
    pub status: Option<UnitStatus>,
    /// The units that did not end `ok` / `region_disabled`, with their errors.
    pub problems: Vec<UnitProblem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitProblem {
    pub collector: String,
    pub status: UnitStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// How bad a unit status is, for "the worst status of a cell".
pub fn severity(status: UnitStatus) -> u8 {
    match status {
        UnitStatus::Ok => 0,
        UnitStatus::RegionDisabled => 1,
        UnitStatus::Throttled => 2,
        UnitStatus::Denied => 3,
        UnitStatus::Error => 4,
    }
}

/// Finding counts of one snapshot: the row counts of the four audit views.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FindingCounts {
    pub public_buckets: u64,
    pub open_ingress_rules: u64,
    pub imdsv1_instances: u64,
    pub unencrypted_volumes: u64,
}

/// The findings of one snapshot, each list cut at the caller's limit (the
/// counts are always the full ones).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Findings {
    pub counts: FindingCounts,
    pub public_buckets: Vec<PublicBucket>,
    pub open_ingress_rules: Vec<OpenIngressRule>,
    pub imdsv1_instances: Vec<Imdsv1Instance>,
    pub unencrypted_volumes: Vec<UnencryptedVolume>,
}

/// A row of `public_buckets`. Effective flags: `Some(true)` when the bucket or
/// the account sets them, `Some(false)` when neither does, `None` unknown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicBucket {
    pub account_id: String,
    pub account_name: Option<String>,
    pub bucket_name: String,
    pub region: Option<String>,
    pub policy_is_public: Option<bool>,
    /// `None` when the ACL could not be read.
    pub public_acl_grants: Option<Vec<String>>,
    pub effective_block_public_acls: Option<bool>,
    pub effective_ignore_public_acls: Option<bool>,
    pub effective_block_public_policy: Option<bool>,
    pub effective_restrict_public_buckets: Option<bool>,
    /// Whether Block Public Access fails to neutralise the exposure.
    pub still_exposed: Option<bool>,
    pub fetch_errors: BTreeMap<String, String>,
}

/// A row of `open_ingress_rules`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenIngressRule {
    pub account_id: String,
    pub account_name: Option<String>,
    pub region: String,
    pub group_id: String,
    pub group_name: Option<String>,
    pub vpc_id: Option<String>,
    pub protocol: String,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
    pub cidr: String,
    pub description: Option<String>,
    pub instance_count: u64,
}

/// A row of `imdsv1_instances`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Imdsv1Instance {
    pub account_id: String,
    pub account_name: Option<String>,
    pub region: String,
    pub instance_id: String,
    pub name: Option<String>,
    pub instance_type: Option<String>,
    pub public_ip: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A row of `unencrypted_volumes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnencryptedVolume {
    pub account_id: String,
    pub account_name: Option<String>,
    pub region: String,
    pub volume_id: String,
    pub size_gib: Option<i64>,
    pub volume_type: Option<String>,
    pub state: Option<String>,
    pub attached_instance_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// One point of the trend: a usable snapshot with its counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub snapshot_id: i64,
    pub started_at: String,
    pub status: SnapshotStatus,
    /// Resource table -> rows.
    pub resources: BTreeMap<String, u64>,
    pub findings: FindingCounts,
}

// The four audit questions, asked of the `*_by_snapshot` views of
// migrations/0004 (the same definitions the latest-snapshot views filter), for
// the snapshot `?1`. Only the columns the report shows are read, plus the
// account's name; nothing here restates a WHERE clause of a view.

const PUBLIC_BUCKETS: &str = "
SELECT
    f.account_id,
    acc.name,
    f.bucket_name,
    f.region,
    f.policy_is_public,
    f.public_acl_grants,
    f.effective_block_public_acls,
    f.effective_ignore_public_acls,
    f.effective_block_public_policy,
    f.effective_restrict_public_buckets,
    f.still_exposed,
    f.fetch_errors
FROM public_buckets_by_snapshot AS f
LEFT JOIN accounts AS acc ON acc.snapshot_id = f.snapshot_id AND acc.account_id = f.account_id
WHERE f.snapshot_id = ?1
ORDER BY f.account_id, f.bucket_name";

// The view carries no rule id, so ties within a group are ordered by the
// rule's own fields rather than by insertion order.
const OPEN_INGRESS_RULES: &str = "
SELECT
    f.account_id,
    acc.name,
    f.region,
    f.group_id,
    f.group_name,
    f.vpc_id,
    f.protocol,
    f.from_port,
    f.to_port,
    f.cidr,
    f.description,
    f.instance_count
FROM open_ingress_rules_by_snapshot AS f
LEFT JOIN accounts AS acc ON acc.snapshot_id = f.snapshot_id AND acc.account_id = f.account_id
WHERE f.snapshot_id = ?1
ORDER BY f.account_id, f.region, f.group_id, f.protocol, f.from_port, f.to_port, f.cidr,
         f.description";

const IMDSV1_INSTANCES: &str = "
SELECT f.account_id, acc.name, f.region, f.instance_id, f.name, f.instance_type, f.public_ip, f.tags
FROM imdsv1_instances_by_snapshot AS f
LEFT JOIN accounts AS acc ON acc.snapshot_id = f.snapshot_id AND acc.account_id = f.account_id
WHERE f.snapshot_id = ?1
ORDER BY f.account_id, f.region, f.instance_id";

const UNENCRYPTED_VOLUMES: &str = "
SELECT f.account_id, acc.name, f.region, f.volume_id, f.size_gib, f.volume_type, f.state,
       f.attached_instance_ids, f.tags
FROM unencrypted_volumes_by_snapshot AS f
LEFT JOIN accounts AS acc ON acc.snapshot_id = f.snapshot_id AND acc.account_id = f.account_id
WHERE f.snapshot_id = ?1
ORDER BY f.account_id, f.region, f.volume_id";

impl Store {
    /// The header facts of one snapshot.
    pub fn report_header(&self, snapshot_id: i64) -> Result<SnapshotHeader, StoreError> {
        let summary = self.snapshot(snapshot_id)?;
        let (tool_version, caller_arn) = self
            .conn
            .query_row(
                "SELECT tool_version, caller_arn FROM snapshots WHERE id = ?1",
                [snapshot_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .context(&self.path, "read snapshots from")?;
        let regions = regions_of(&self.conn, &self.path, snapshot_id)?
            .into_iter()
            .filter(|region| region != GLOBAL_REGION)
            .collect();
        Ok(SnapshotHeader {
            summary,
            tool_version,
            caller_arn,
            regions,
        })
    }

    /// Accounts × regions of one snapshot, each cell with its worst unit status.
    pub fn report_coverage(&self, snapshot_id: i64) -> Result<Coverage, StoreError> {
        let path = &self.path;
        let regions = regions_of(&self.conn, path, snapshot_id)?;
        let column: BTreeMap<&str, usize> = regions
            .iter()
            .enumerate()
            .map(|(index, region)| (region.as_str(), index))
            .collect();
        let empty_cells = vec![
            CoverageCell {
                status: None,
                problems: Vec::new(),
            };
            regions.len()
        ];

        let mut accounts: Vec<CoverageAccount> = Vec::new();
        let mut index_of: BTreeMap<String, usize> = BTreeMap::new();
        let mut statement = self
            .conn
            .prepare(
                "SELECT account_id, name, ou_path, status, error FROM accounts
                 WHERE snapshot_id = ?1 ORDER BY ou_path, account_id",
            )
            .context(path, "read accounts from")?;
        let rows = statement
            .query_map([snapshot_id], |row| {
                Ok(CoverageAccount {
                    account_id: row.get(0)?,
                    name: row.get(1)?,
                    ou_path: row.get(2)?,
                    status: row.get(3)?,
                    error: row.get(4)?,
                    cells: Vec::new(),
                })
            })
            .context(path, "read accounts from")?;
        for row in rows {
            let mut account = row.context(path, "read accounts from")?;
            account.cells = empty_cells.clone();
            index_of.insert(account.account_id.clone(), accounts.len());
            accounts.push(account);
        }

        let mut statement = self
            .conn
            .prepare(
                "SELECT account_id, region, collector, status, error_code, error_message
                 FROM scan_units WHERE snapshot_id = ?1 ORDER BY account_id, region, collector",
            )
            .context(path, "read scan units from")?;
        let mut rows = statement
            .query([snapshot_id])
            .context(path, "read scan units from")?;
        while let Some(row) = rows.next().context(path, "read scan units from")? {
            let account_id: String = row.get(0).context(path, "read scan units from")?;
            let region: String = row.get(1).context(path, "read scan units from")?;
            let collector: String = row.get(2).context(path, "read scan units from")?;
            let status_text: String = row.get(3).context(path, "read scan units from")?;
            let status = parse_unit_status(&status_text).ok_or_else(|| StoreError::Invalid {
                path: path.clone(),
                message: format!(
                    "scan unit {account_id}/{region}/{collector} has an unknown status {status_text:?}"
                ),
            })?;
            let Some(&column) = column.get(region.as_str()) else {
                continue;
            };
            // A unit of an account the accounts table does not list still
            // belongs on the map: show it rather than drop it.
            let index = match index_of.get(&account_id) {
                Some(&index) => index,
                None => {
                    index_of.insert(account_id.clone(), accounts.len());
                    accounts.push(CoverageAccount {
                        account_id: account_id.clone(),
                        name: None,
                        ou_path: None,
                        status: "unknown".to_owned(),
                        error: None,
                        cells: empty_cells.clone(),
                    });
                    accounts.len() - 1
                }
            };
            let cell = &mut accounts[index].cells[column];
            if cell
                .status
                .is_none_or(|worst| severity(status) > severity(worst))
            {
                cell.status = Some(status);
            }
            if !status.is_success() {
                cell.problems.push(UnitProblem {
                    collector,
                    status,
                    error_code: row.get(4).context(path, "read scan units from")?,
                    error_message: row.get(5).context(path, "read scan units from")?,
                });
            }
        }
        Ok(Coverage { regions, accounts })
    }

    /// The four findings of one snapshot, each list holding at most `limit` rows.
    pub fn report_findings(&self, snapshot_id: i64, limit: usize) -> Result<Findings, StoreError> {
        let conn = &self.conn;
        let path = &self.path;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let limited = |sql: &str| format!("{sql} LIMIT ?2");
        let bool_of = |value: Option<i64>| value.map(|value| value != 0);

        let mut statement = conn
            .prepare(&limited(PUBLIC_BUCKETS))
            .context(path, "find public buckets in")?;
        let public_buckets = statement
            .query_map(params![snapshot_id, limit], |row| {
                let grants: Option<String> = row.get(5)?;
                let fetch_errors: String = row.get(11)?;
                Ok(PublicBucket {
                    account_id: row.get(0)?,
                    account_name: row.get(1)?,
                    bucket_name: row.get(2)?,
                    region: row.get(3)?,
                    policy_is_public: bool_of(row.get(4)?),
                    public_acl_grants: grants.map(|text| json_or_default(&text)),
                    effective_block_public_acls: bool_of(row.get(6)?),
                    effective_ignore_public_acls: bool_of(row.get(7)?),
                    effective_block_public_policy: bool_of(row.get(8)?),
                    effective_restrict_public_buckets: bool_of(row.get(9)?),
                    still_exposed: bool_of(row.get(10)?),
                    fetch_errors: json_or_default(&fetch_errors),
                })
            })
            .context(path, "find public buckets in")?
            .collect::<Result<Vec<_>, _>>()
            .context(path, "find public buckets in")?;

        let mut statement = conn
            .prepare(&limited(OPEN_INGRESS_RULES))
            .context(path, "find open ingress rules in")?;
        let open_ingress_rules = statement
            .query_map(params![snapshot_id, limit], |row| {
                Ok(OpenIngressRule {
                    account_id: row.get(0)?,
                    account_name: row.get(1)?,
                    region: row.get(2)?,
                    group_id: row.get(3)?,
                    group_name: row.get(4)?,
                    vpc_id: row.get(5)?,
                    protocol: row.get(6)?,
                    from_port: row.get(7)?,
                    to_port: row.get(8)?,
                    cidr: row.get(9)?,
                    description: row.get(10)?,
                    instance_count: u64::try_from(row.get::<_, i64>(11)?).unwrap_or(0),
                })
            })
            .context(path, "find open ingress rules in")?
            .collect::<Result<Vec<_>, _>>()
            .context(path, "find open ingress rules in")?;

        let mut statement = conn
            .prepare(&limited(IMDSV1_INSTANCES))
            .context(path, "find IMDSv1 instances in")?;
        let imdsv1_instances = statement
            .query_map(params![snapshot_id, limit], |row| {
                let tags: String = row.get(7)?;
                Ok(Imdsv1Instance {
                    account_id: row.get(0)?,
                    account_name: row.get(1)?,
                    region: row.get(2)?,
                    instance_id: row.get(3)?,
                    name: row.get(4)?,
                    instance_type: row.get(5)?,
                    public_ip: row.get(6)?,
                    tags: json_or_default(&tags),
                })
            })
            .context(path, "find IMDSv1 instances in")?
            .collect::<Result<Vec<_>, _>>()
            .context(path, "find IMDSv1 instances in")?;

        let mut statement = conn
            .prepare(&limited(UNENCRYPTED_VOLUMES))
            .context(path, "find unencrypted volumes in")?;
        let unencrypted_volumes = statement
            .query_map(params![snapshot_id, limit], |row| {
                let attached: String = row.get(7)?;
                let tags: String = row.get(8)?;
                Ok(UnencryptedVolume {
                    account_id: row.get(0)?,
                    account_name: row.get(1)?,
                    region: row.get(2)?,
                    volume_id: row.get(3)?,
                    size_gib: row.get(4)?,
                    volume_type: row.get(5)?,
                    state: row.get(6)?,
                    attached_instance_ids: json_or_default(&attached),
                    tags: json_or_default(&tags),
                })
            })
            .context(path, "find unencrypted volumes in")?
            .collect::<Result<Vec<_>, _>>()
            .context(path, "find unencrypted volumes in")?;

        Ok(Findings {
            counts: self.finding_counts(snapshot_id)?,
            public_buckets,
            open_ingress_rules,
            imdsv1_instances,
            unencrypted_volumes,
        })
    }

    /// How many rows each audit question returns for one snapshot.
    pub fn finding_counts(&self, snapshot_id: i64) -> Result<FindingCounts, StoreError> {
        let count = |view: &str| -> Result<u64, StoreError> {
            let count: i64 = self
                .conn
                .query_row(
                    &format!("SELECT count(*) FROM {view} WHERE snapshot_id = ?1"),
                    [snapshot_id],
                    |row| row.get(0),
                )
                .context(&self.path, "count findings in")?;
            Ok(u64::try_from(count).unwrap_or(0))
        };
        Ok(FindingCounts {
            public_buckets: count("public_buckets_by_snapshot")?,
            open_ingress_rules: count("open_ingress_rules_by_snapshot")?,
            imdsv1_instances: count("imdsv1_instances_by_snapshot")?,
            unencrypted_volumes: count("unencrypted_volumes_by_snapshot")?,
        })
    }

    /// The usable snapshots up to and including `up_to`, oldest first, at
    /// most the `max_points` newest of them, with their counts.
    pub fn report_trend(
        &self,
        up_to: i64,
        max_points: usize,
    ) -> Result<Vec<TrendPoint>, StoreError> {
        let mut usable: Vec<SnapshotSummary> = self
            .list_snapshots()?
            .into_iter()
            .filter(|summary| summary.status.is_usable() && summary.id <= up_to)
            .collect();
        let skip = usable.len().saturating_sub(max_points);
        usable.drain(..skip);
        usable
            .into_iter()
            .map(|summary| {
                Ok(TrendPoint {
                    findings: self.finding_counts(summary.id)?,
                    snapshot_id: summary.id,
                    started_at: summary.started_at,
                    status: summary.status,
                    resources: summary.resources,
                })
            })
            .collect()
    }
}

/// Regions with units in the snapshot: `global` first, then sorted.
fn regions_of(
    conn: &Connection,
    path: &std::path::Path,
    snapshot_id: i64,
) -> Result<Vec<String>, StoreError> {
    let mut statement = conn
        .prepare(
            "SELECT DISTINCT region FROM scan_units WHERE snapshot_id = ?1
             ORDER BY region != 'global', region",
        )
        .context(path, "read scan units from")?;
    statement
        .query_map([snapshot_id], |row| row.get(0))
        .context(path, "read scan units from")?
        .collect::<Result<Vec<String>, _>>()
        .context(path, "read scan units from")
}

/// JSON columns written by the writer are always valid; a hand-edited one
/// that is not shows as empty rather than failing the whole report.
fn json_or_default<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rows::*;
    use crate::testing::*;

    const A: &str = "111111111111";
    const B: &str = "222222222222";
    const REGION: &str = "eu-west-1";

    fn world_rule(group_id: &str, port: i64, cidr: &str) -> Row {
        Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
            cidr: Some(cidr.to_owned()),
            ..rule(A, REGION, group_id, port)
        })
    }

    /// Offenders of every kind next to clean resources, and one throttled unit.
    fn fleet(extra_open_rule: bool) -> Vec<Row> {
        let mut rows = vec![
            account(A, AccountStatus::Ok),
            account(B, AccountStatus::Partial),
        ];
        rows.extend(ok_units(A, REGION));
        rows.push(unit(B, REGION, "ec2_instances", UnitStatus::Throttled));
        rows.push(unit(B, REGION, "ec2_volumes", UnitStatus::Denied));
        rows.push(unit(
            B,
            "us-east-1",
            "ec2_instances",
            UnitStatus::RegionDisabled,
        ));
        rows.push(Row::Ec2SecurityGroup(security_group(A, REGION, "sg-open")));
        rows.push(Row::Ec2SecurityGroup(security_group(
            A,
            REGION,
            "sg-closed",
        )));
        rows.push(world_rule("sg-open", 22, "0.0.0.0/0"));
        rows.push(world_rule("sg-closed", 22, "10.0.0.0/8"));
        if extra_open_rule {
            rows.push(world_rule("sg-open", 3389, "::/0"));
        }
        let mut v1 = instance(A, REGION, "i-v1");
        v1.imds_http_tokens = Some("optional".to_owned());
        v1.security_group_ids = vec!["sg-open".to_owned()];
        let mut v1_stopped = instance(A, REGION, "i-v1-stopped");
        v1_stopped.imds_http_tokens = Some("optional".to_owned());
        v1_stopped.state = Some("stopped".to_owned());
        rows.push(Row::Ec2Instance(v1));
        rows.push(Row::Ec2Instance(v1_stopped));
        rows.push(Row::Ec2Instance(instance(A, REGION, "i-v2")));
        let mut plain = volume(A, REGION, "vol-plain");
        plain.encrypted = Some(false);
        let mut unknown = volume(A, REGION, "vol-unknown");
        unknown.encrypted = None;
        rows.push(Row::Ec2Volume(plain));
        rows.push(Row::Ec2Volume(unknown));
        rows.push(Row::Ec2Volume(volume(A, REGION, "vol-ok")));
        let mut by_policy = bucket(A, "public-policy");
        by_policy.policy_is_public = Some(true);
        by_policy.restrict_public_buckets = Some(false);
        let mut by_acl = bucket(A, "public-acl");
        by_acl.public_acl_grants = Some(vec!["AllUsers:READ".to_owned()]);
        rows.push(Row::S3Bucket(by_policy));
        rows.push(Row::S3Bucket(by_acl));
        rows.push(Row::S3Bucket(bucket(A, "private")));
        rows.push(Row::S3AccountPublicAccessBlock(account_block(A, None)));
        rows
    }

    fn view_keys(store: &Store, sql: &str) -> Vec<String> {
        let mut statement = store.conn.prepare(sql).unwrap();
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    /// Rows of `left` that `right` lacks, and the other way round, compared
    /// whole (`EXCEPT` treats NULLs as equal), plus both row counts.
    fn difference(store: &Store, left: &str, right: &str) -> (i64, i64, i64, i64) {
        let count = |sql: String| -> i64 {
            store
                .conn
                .query_row(&format!("SELECT count(*) FROM ({sql})"), [], |row| {
                    row.get(0)
                })
                .unwrap()
        };
        (
            count(format!("{left} EXCEPT {right}")),
            count(format!("{right} EXCEPT {left}")),
            count(left.to_owned()),
            count(right.to_owned()),
        )
    }

    #[test]
    fn findings_of_the_latest_snapshot_match_the_audit_views() {
        let (_dir, path) = temp_db();
        let (store, old) = write_snapshot(Store::open_for_scan(&path).unwrap(), fleet(false));
        let (store, new) = write_snapshot(store, fleet(true));
        let findings = store.report_findings(new, 100).unwrap();

        // The per-snapshot views, filtered on the latest snapshot, are the
        // latest views row for row; filtered on the older one, they are not.
        for (view, rows) in [
            ("public_buckets", 2),
            ("open_ingress_rules", 2),
            ("imdsv1_instances", 1),
            ("unencrypted_volumes", 1),
        ] {
            assert_eq!(
                difference(
                    &store,
                    &format!("SELECT * FROM {view}_by_snapshot WHERE snapshot_id = {new}"),
                    &format!("SELECT * FROM {view}"),
                ),
                (0, 0, rows, rows),
                "{view}"
            );
        }
        assert_eq!(
            difference(
                &store,
                &format!("SELECT * FROM open_ingress_rules_by_snapshot WHERE snapshot_id = {old}"),
                "SELECT * FROM open_ingress_rules",
            ),
            (1, 2, 1, 2),
            "the older snapshot has one open rule, of its own snapshot id"
        );

        let buckets: Vec<String> = findings
            .public_buckets
            .iter()
            .map(|row| {
                format!(
                    "{}/{}/{:?}",
                    row.account_id, row.bucket_name, row.still_exposed
                )
            })
            .collect();
        assert_eq!(
            buckets,
            view_keys(
                &store,
                "SELECT account_id || '/' || bucket_name || '/' ||
                        CASE still_exposed WHEN 1 THEN 'Some(true)' WHEN 0 THEN 'Some(false)' ELSE 'None' END
                 FROM public_buckets ORDER BY account_id, bucket_name"
            )
        );
        assert_eq!(buckets.len(), 2);

        let rules: Vec<String> = findings
            .open_ingress_rules
            .iter()
            .map(|row| {
                format!(
                    "{}/{}/{}/{}",
                    row.group_id,
                    row.cidr,
                    row.from_port.unwrap(),
                    row.instance_count
                )
            })
            .collect();
        let mut from_view = view_keys(
            &store,
            "SELECT group_id || '/' || cidr || '/' || from_port || '/' || instance_count FROM open_ingress_rules",
        );
        from_view.sort();
        let mut sorted = rules.clone();
        sorted.sort();
        assert_eq!(sorted, from_view);
        assert_eq!(sorted, ["sg-open/0.0.0.0/0/22/1", "sg-open/::/0/3389/1"]);

        let instances: Vec<&str> = findings
            .imdsv1_instances
            .iter()
            .map(|row| row.instance_id.as_str())
            .collect();
        assert_eq!(
            instances,
            view_keys(
                &store,
                "SELECT instance_id FROM imdsv1_instances ORDER BY instance_id"
            )
        );
        assert_eq!(instances, ["i-v1"]);

        let volumes: Vec<&str> = findings
            .unencrypted_volumes
            .iter()
            .map(|row| row.volume_id.as_str())
            .collect();
        assert_eq!(
            volumes,
            view_keys(
                &store,
                "SELECT volume_id FROM unencrypted_volumes ORDER BY volume_id"
            )
        );
        assert_eq!(volumes, ["vol-plain"]);
        assert_eq!(
            findings.counts,
            FindingCounts {
                public_buckets: 2,
                open_ingress_rules: 2,
                imdsv1_instances: 1,
                unencrypted_volumes: 1
            }
        );
        assert_eq!(
            findings.imdsv1_instances[0].account_name.as_deref(),
            Some("account 111111111111")
        );
    }

    #[test]
    fn findings_lists_are_cut_at_the_limit_but_counts_are_not() {
        let (_dir, path) = temp_db();
        let (store, id) = write_snapshot(Store::open_for_scan(&path).unwrap(), fleet(true));
        let findings = store.report_findings(id, 1).unwrap();
        assert_eq!(findings.open_ingress_rules.len(), 1);
        assert_eq!(findings.public_buckets.len(), 1);
        assert_eq!(findings.counts.open_ingress_rules, 2);
        assert_eq!(findings.counts.public_buckets, 2);
    }

    #[test]
    fn coverage_cells_hold_the_worst_status_and_its_errors() {
        let (_dir, path) = temp_db();
        let (store, id) = write_snapshot(Store::open_for_scan(&path).unwrap(), fleet(false));
        let coverage = store.report_coverage(id).unwrap();
        assert_eq!(coverage.regions, ["global", "eu-west-1", "us-east-1"]);
        let a = &coverage.accounts[0];
        assert_eq!(a.account_id, A);
        assert!(a.is_clean());
        assert_eq!(a.cells[1].status, Some(UnitStatus::Ok));
        assert_eq!(a.cells[2].status, None, "A was not scanned in us-east-1");
        let b = &coverage.accounts[1];
        assert!(!b.is_clean());
        assert_eq!(b.cells[0].status, None);
        assert_eq!(
            b.cells[1].status,
            Some(UnitStatus::Denied),
            "denied is worse than throttled"
        );
        assert_eq!(
            b.cells[1]
                .problems
                .iter()
                .map(|p| p.collector.as_str())
                .collect::<Vec<_>>(),
            ["ec2_instances", "ec2_volumes"]
        );
        assert_eq!(
            b.cells[1].problems[0].error_code.as_deref(),
            Some("UnauthorizedOperation")
        );
        assert_eq!(b.cells[2].status, Some(UnitStatus::RegionDisabled));
        assert!(b.cells[2].problems.is_empty());

        let header = store.report_header(id).unwrap();
        assert_eq!(header.regions, ["eu-west-1", "us-east-1"]);
        assert_eq!(header.tool_version, "0.1.0-test");
    }

    #[test]
    fn trend_has_one_point_per_usable_snapshot_up_to_the_reported_one() {
        let (_dir, path) = temp_db();
        let (store, first) = write_snapshot(Store::open_for_scan(&path).unwrap(), fleet(false));
        let (mut store, second) = write_snapshot(store, fleet(true));
        let failed = store.begin_snapshot(&meta()).unwrap();
        store.fail_snapshot(failed, "test").unwrap();
        let (store, third) = write_snapshot(store, fleet(true));

        let trend = store.report_trend(second, 10).unwrap();
        assert_eq!(
            trend
                .iter()
                .map(|point| point.snapshot_id)
                .collect::<Vec<_>>(),
            [first, second]
        );
        assert_eq!(trend[0].findings.open_ingress_rules, 1);
        assert_eq!(trend[1].findings.open_ingress_rules, 2);
        assert_eq!(trend[1].resources["ec2_instances"], 3);

        let newest_two = store.report_trend(third, 2).unwrap();
        assert_eq!(
            newest_two
                .iter()
                .map(|point| point.snapshot_id)
                .collect::<Vec<_>>(),
            [second, third]
        );
    }
}
