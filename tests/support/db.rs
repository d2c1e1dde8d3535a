//! Reads snapshots back out of a fleetscan database, in the shapes of the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, Row};

use crate::manifest::{Bucket, Instance, second_precision};

/// A read-only connection: tests look, they never touch.
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub id: i64,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub accounts_total: Option<i64>,
    pub accounts_ok: Option<i64>,
    pub accounts_failed: Option<i64>,
    pub caller_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub account_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub state: Option<String>,
    pub ou_path: Option<String>,
    pub role_arn: String,
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRecord {
    pub account_id: String,
    pub region: String,
    pub collector: String,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub resources: i64,
    pub api_calls: i64,
}

/// Account id → region → instances sorted by id (regions without instances absent).
pub type InstancesByAccount = BTreeMap<String, BTreeMap<String, Vec<Instance>>>;

impl Db {
    pub fn open(path: &Path) -> Db {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .unwrap_or_else(|err| panic!("open {} read-only: {err}", path.display()));
        Db {
            conn,
            path: path.to_path_buf(),
        }
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// `PRAGMA integrity_check`'s answer, `ok` when the file is sound.
    pub fn integrity_check(&self) -> String {
        let rows: Vec<String> = self.strings("PRAGMA integrity_check", []);
        rows.join("\n")
    }

    /// One integer from a query such as `SELECT count(*) ...`.
    pub fn count(&self, sql: &str, params: impl rusqlite::Params) -> i64 {
        self.conn
            .query_row(sql, params, |row| row.get(0))
            .unwrap_or_else(|err| panic!("{sql} on {}: {err}", self.path.display()))
    }

    pub fn strings(&self, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
        self.rows(sql, params, |row| row.get(0))
    }

    pub fn snapshots(&self) -> Vec<SnapshotRecord> {
        self.rows(
            "SELECT id, status, started_at, finished_at, accounts_total, accounts_ok, accounts_failed, caller_arn
             FROM snapshots ORDER BY id",
            [],
            |row| {
                Ok(SnapshotRecord {
                    id: row.get(0)?,
                    status: row.get(1)?,
                    started_at: row.get(2)?,
                    finished_at: row.get(3)?,
                    accounts_total: row.get(4)?,
                    accounts_ok: row.get(5)?,
                    accounts_failed: row.get(6)?,
                    caller_arn: row.get(7)?,
                })
            },
        )
    }

    pub fn accounts(&self, snapshot_id: i64) -> Vec<AccountRecord> {
        self.rows(
            "SELECT account_id, name, email, state, ou_path, role_arn, status, error
             FROM accounts WHERE snapshot_id = ?1 ORDER BY account_id",
            [snapshot_id],
            |row| {
                Ok(AccountRecord {
                    account_id: row.get(0)?,
                    name: row.get(1)?,
                    email: row.get(2)?,
                    state: row.get(3)?,
                    ou_path: row.get(4)?,
                    role_arn: row.get(5)?,
                    status: row.get(6)?,
                    error: row.get(7)?,
                })
            },
        )
    }

    pub fn scan_units(&self, snapshot_id: i64) -> Vec<UnitRecord> {
        self.rows(
            "SELECT account_id, region, collector, status, error_code, error_message, resources, api_calls
             FROM scan_units WHERE snapshot_id = ?1 ORDER BY account_id, region, collector",
            [snapshot_id],
            |row| {
                Ok(UnitRecord {
                    account_id: row.get(0)?,
                    region: row.get(1)?,
                    collector: row.get(2)?,
                    status: row.get(3)?,
                    error_code: row.get(4)?,
                    error_message: row.get(5)?,
                    resources: row.get(6)?,
                    api_calls: row.get(7)?,
                })
            },
        )
    }

    pub fn instances(&self, snapshot_id: i64) -> InstancesByAccount {
        let rows: Vec<(String, String, Instance)> = self.rows(
            "SELECT account_id, region, instance_id, name, state, instance_type, image_id, launch_time,
                    availability_zone, vpc_id, subnet_id, private_ip, public_ip, iam_instance_profile_arn,
                    key_name, platform, imds_http_tokens, imds_http_endpoint, security_group_ids, tags
             FROM ec2_instances WHERE snapshot_id = ?1 ORDER BY account_id, region, instance_id",
            [snapshot_id],
            |row| {
                let mut security_group_ids: Vec<String> = json_column(row, 18)?;
                security_group_ids.sort();
                let launch_time: Option<String> = row.get(7)?;
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    Instance {
                        instance_id: row.get(2)?,
                        name: row.get(3)?,
                        state: row.get(4)?,
                        instance_type: row.get(5)?,
                        image_id: row.get(6)?,
                        launch_time: launch_time.map(|value| second_precision(&value)),
                        availability_zone: row.get(8)?,
                        vpc_id: row.get(9)?,
                        subnet_id: row.get(10)?,
                        private_ip: row.get(11)?,
                        public_ip: row.get(12)?,
                        iam_instance_profile_arn: row.get(13)?,
                        key_name: row.get(14)?,
                        platform: row.get(15)?,
                        imds_http_tokens: row.get(16)?,
                        imds_http_endpoint: row.get(17)?,
                        security_group_ids,
                        tags: json_column(row, 19)?,
                    },
                ))
            },
        );
        let mut by_account = InstancesByAccount::new();
        for (account_id, region, instance) in rows {
            by_account
                .entry(account_id)
                .or_default()
                .entry(region)
                .or_default()
                .push(instance);
        }
        by_account
    }

    /// Account id → buckets sorted by name, with each bucket's `fetch_errors` JSON beside it.
    pub fn buckets(&self, snapshot_id: i64) -> BTreeMap<String, Vec<(Bucket, serde_json::Value)>> {
        let rows: Vec<(String, Bucket, serde_json::Value)> = self.rows(
            "SELECT account_id, bucket_name, region, creation_date, block_public_acls, ignore_public_acls,
                    block_public_policy, restrict_public_buckets, policy_is_public, versioning, mfa_delete,
                    sse_algorithm, kms_key_id, bucket_key_enabled, object_ownership, logging_target_bucket,
                    tags, public_acl_grants, fetch_errors
             FROM s3_buckets WHERE snapshot_id = ?1 ORDER BY account_id, bucket_name",
            [snapshot_id],
            |row| {
                let creation_date: Option<String> = row.get(3)?;
                let public_acl_grants: Option<Vec<String>> = optional_json_column(row, 17)?;
                Ok((
                    row.get(0)?,
                    Bucket {
                        bucket_name: row.get(1)?,
                        region: row.get(2)?,
                        creation_date: creation_date.map(|value| second_precision(&value)),
                        block_public_acls: bool_column(row, 4)?,
                        ignore_public_acls: bool_column(row, 5)?,
                        block_public_policy: bool_column(row, 6)?,
                        restrict_public_buckets: bool_column(row, 7)?,
                        policy_is_public: bool_column(row, 8)?,
                        versioning: row.get(9)?,
                        mfa_delete: row.get(10)?,
                        sse_algorithm: row.get(11)?,
                        kms_key_id: row.get(12)?,
                        bucket_key_enabled: bool_column(row, 13)?,
                        object_ownership: row.get(14)?,
                        logging_target_bucket: row.get(15)?,
                        tags: optional_json_column(row, 16)?,
                        public_acl_grants: public_acl_grants.map(|mut grants| {
                            grants.sort();
                            grants
                        }),
                    },
                    json_column(row, 18)?,
                ))
            },
        );
        let mut by_account: BTreeMap<String, Vec<(Bucket, serde_json::Value)>> = BTreeMap::new();
        for (account_id, bucket, fetch_errors) in rows {
            by_account
                .entry(account_id)
                .or_default()
                .push((bucket, fetch_errors));
        }
        by_account
    }

    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        let mut statement = self
            .conn
            .prepare(sql)
            .unwrap_or_else(|err| panic!("prepare {sql} on {}: {err}", self.path.display()));
        let rows = statement
            .query_map(params, map)
            .unwrap_or_else(|err| panic!("{sql} on {}: {err}", self.path.display()));
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .unwrap_or_else(|err| panic!("{sql} on {}: {err}", self.path.display()))
    }
}

fn bool_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<bool>> {
    let value: Option<i64> = row.get(index)?;
    Ok(value.map(|value| value != 0))
}

fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(err))
    })
}

fn optional_json_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                Box::new(err),
            )
        })
    })
    .transpose()
}
