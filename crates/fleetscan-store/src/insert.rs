//! How each row type becomes SQL: its table, its columns in binding order,
//! and how its values are bound. The writer prepares one statement per run
//! of rows of one type and binds each row straight into it.

use rusqlite::{Connection, Statement, ToSql};
use serde::Serialize;

use crate::rows::{
    AccountRow, Ec2InstanceRow, Ec2SecurityGroupRow, Ec2SecurityGroupRuleRow, Ec2VolumeRow, Row,
    S3AccountPublicAccessBlockRow, S3BucketRow, ScanUnitRow,
};

/// A row type the writer can insert.
pub(crate) trait TableRow: Sized {
    const TABLE: &'static str;
    /// The columns after `snapshot_id`, in the order [`TableRow::bind`] binds them.
    const COLUMNS: &'static [&'static str];
    /// Appended to the statement (the accounts' upsert).
    const ON_CONFLICT: &'static str = "";

    /// The row, when `row` is of this type.
    fn from_row(row: &Row) -> Option<&Self>;

    /// Binds the row's values, one per column of [`TableRow::COLUMNS`].
    fn bind(&self, values: &mut Binder<'_, '_>) -> rusqlite::Result<()>;

    /// What was being written, for error messages.
    fn describe(&self) -> String;
}

/// `INSERT OR FAIL INTO table (snapshot_id, columns...) VALUES (?1, ?2, ...)`.
///
/// `OR FAIL` rather than the default `ABORT`: a statement that may abort after
/// it wrote something needs a statement journal, which SQLite would keep for
/// every row (its guard trigger makes each insert a multi-write statement).
/// A row is checked before anything of it is written, so a refused row leaves
/// nothing behind either way, and the writer rolls its transaction back.
pub(crate) fn insert_sql<T: TableRow>() -> String {
    let parameters: Vec<String> = (1..=T::COLUMNS.len() + 1)
        .map(|index| format!("?{index}"))
        .collect();
    let mut sql = format!(
        "INSERT OR FAIL INTO {} (snapshot_id, {}) VALUES ({})",
        T::TABLE,
        T::COLUMNS.join(", "),
        parameters.join(", ")
    );
    if !T::ON_CONFLICT.is_empty() {
        sql.push(' ');
        sql.push_str(T::ON_CONFLICT);
    }
    sql
}

/// Binds values to consecutive parameters of one statement, encoding JSON
/// into a buffer reused across rows (SQLite copies what is bound).
pub(crate) struct Binder<'a, 'conn> {
    statement: &'a mut Statement<'conn>,
    next: usize,
    json: &'a mut Vec<u8>,
}

impl Binder<'_, '_> {
    pub(crate) fn value<V: ToSql>(&mut self, value: V) -> rusqlite::Result<()> {
        self.statement.raw_bind_parameter(self.next, value)?;
        self.next += 1;
        Ok(())
    }

    pub(crate) fn json<V: Serialize>(&mut self, value: &V) -> rusqlite::Result<()> {
        self.json.clear();
        serde_json::to_writer(&mut *self.json, value)
            .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
        let text = std::str::from_utf8(self.json)
            .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
        self.statement.raw_bind_parameter(self.next, text)?;
        self.next += 1;
        Ok(())
    }

    pub(crate) fn optional_json<V: Serialize>(
        &mut self,
        value: Option<&V>,
    ) -> rusqlite::Result<()> {
        match value {
            Some(value) => self.json(value),
            None => self.value(rusqlite::types::Null),
        }
    }
}

/// Inserts rows of `T` with one prepared statement: `on_error` names the
/// row SQLite refused.
pub(crate) fn insert_all<T: TableRow, E>(
    conn: &Connection,
    sql: &str,
    snapshot_id: i64,
    rows: &[&T],
    json: &mut Vec<u8>,
    on_error: impl Fn(&T, rusqlite::Error) -> E,
) -> Result<(), E> {
    let mut statement = match conn.prepare_cached(sql) {
        Ok(statement) => statement,
        Err(source) => {
            return match rows.first() {
                Some(first) => Err(on_error(first, source)),
                None => Ok(()),
            };
        }
    };
    for &row in rows {
        insert_one(&mut statement, snapshot_id, row, json)
            .map_err(|source| on_error(row, source))?;
    }
    Ok(())
}

fn insert_one<T: TableRow>(
    statement: &mut Statement<'_>,
    snapshot_id: i64,
    row: &T,
    json: &mut Vec<u8>,
) -> rusqlite::Result<()> {
    statement.raw_bind_parameter(1, snapshot_id)?;
    let mut binder = Binder {
        statement,
        next: 2,
        json,
    };
    row.bind(&mut binder)?;
    // A row type whose bind() and COLUMNS disagree would silently store NULLs.
    let bound = binder.next - 1;
    let expected = statement.parameter_count();
    if bound != expected {
        return Err(rusqlite::Error::InvalidParameterCount(bound, expected));
    }
    statement.raw_execute()?;
    Ok(())
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl TableRow for AccountRow {
    const TABLE: &'static str = "accounts";
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "name",
        "email",
        "state",
        "ou_path",
        "role_arn",
        "status",
        "error",
    ];
    // The scanner may write an account early and again with its final status:
    // the last write wins.
    const ON_CONFLICT: &'static str = "ON CONFLICT (snapshot_id, account_id) DO UPDATE SET \
         name = excluded.name, email = excluded.email, state = excluded.state, ou_path = excluded.ou_path, \
         role_arn = excluded.role_arn, status = excluded.status, error = excluded.error";

    fn from_row(row: &Row) -> Option<&Self> {
        match row {
            Row::Account(row) => Some(row),
            _ => None,
        }
    }

    fn bind(&self, values: &mut Binder<'_, '_>) -> rusqlite::Result<()> {
        values.value(&self.account_id)?;
        values.value(&self.name)?;
        values.value(&self.email)?;
        values.value(&self.state)?;
        values.value(&self.ou_path)?;
        values.value(&self.role_arn)?;
        values.value(self.status.as_str())?;
        values.value(&self.error)
    }

    fn describe(&self) -> String {
        format!("write account {}", self.account_id)
    }
}

impl TableRow for ScanUnitRow {
    const TABLE: &'static str = "scan_units";
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "region",
        "collector",
        "status",
        "error_code",
        "error_message",
        "resources",
        "api_calls",
        "duration_ms",
    ];

    fn from_row(row: &Row) -> Option<&Self> {
        match row {
            Row::Unit(row) => Some(row),
            _ => None,
        }
    }

    fn bind(&self, values: &mut Binder<'_, '_>) -> rusqlite::Result<()> {
        values.value(&self.account_id)?;
        values.value(&self.region)?;
        values.value(&self.collector)?;
        values.value(self.status.as_str())?;
        values.value(&self.error_code)?;
        values.value(&self.error_message)?;
        values.value(count(self.resources))?;
        values.value(count(self.api_calls))?;
        values.value(count(self.duration_ms))
    }

    fn describe(&self) -> String {
        format!(
            "write scan unit {}/{}/{}",
            self.account_id, self.region, self.collector
        )
    }
}

impl TableRow for Ec2InstanceRow {
    const TABLE: &'static str = "ec2_instances";
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "region",
        "instance_id",
        "name",
        "state",
        "instance_type",
        "image_id",
        "launch_time",
        "availability_zone",
        "vpc_id",
        "subnet_id",
        "private_ip",
        "public_ip",
        "iam_instance_profile_arn",
        "key_name",
        "platform",
        "imds_http_tokens",
        "imds_http_endpoint",
        "security_group_ids",
        "tags",
    ];

    fn from_row(row: &Row) -> Option<&Self> {
        match row {
            Row::Ec2Instance(row) => Some(row),
            _ => None,
        }
    }

    fn bind(&self, values: &mut Binder<'_, '_>) -> rusqlite::Result<()> {
        values.value(&self.account_id)?;
        values.value(&self.region)?;
        values.value(&self.instance_id)?;
        values.value(&self.name)?;
        values.value(&self.state)?;
        values.value(&self.instance_type)?;
        values.value(&self.image_id)?;
        values.value(&self.launch_time)?;
        values.value(&self.availability_zone)?;
        values.value(&self.vpc_id)?;
        values.value(&self.subnet_id)?;
        values.value(&self.private_ip)?;
        values.value(&self.public_ip)?;
        values.value(&self.iam_instance_profile_arn)?;
        values.value(&self.key_name)?;
        values.value(&self.platform)?;
        values.value(&self.imds_http_tokens)?;
        values.value(&self.imds_http_endpoint)?;
        values.json(&self.security_group_ids)?;
        values.json(&self.tags)
    }

    fn describe(&self) -> String {
        format!("write instance {} of {}", self.instance_id, self.account_id)
    }
}

impl TableRow for Ec2SecurityGroupRow {
    const TABLE: &'static str = "ec2_security_groups";
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "region",
        "group_id",
        "group_name",
        "description",
        "vpc_id",
        "tags",
    ];

    fn from_row(row: &Row) -> Option<&Self> {
        match row {
            Row::Ec2SecurityGroup(row) => Some(row),
            _ => None,
        }
    }

    fn bind(&self, values: &mut Binder<'_, '_>) -> rusqlite::Result<()> {
        values.value(&self.account_id)?;
        values.value(&self.region)?;
        values.value(&self.group_id)?;
        values.value(&self.group_name)?;
        values.value(&self.description)?;
        values.value(&self.vpc_id)?;
        values.json(&self.tags)
    }

    fn describe(&self) -> String {
        format!(
            "write security group {} of {}",
            self.group_id, self.account_id
        )
    }
}

impl TableRow for Ec2SecurityGroupRuleRow {
    const TABLE: &'static str = "ec2_security_group_rules";
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "region",
        "group_id",
        "direction",
        "protocol",
        "from_port",
        "to_port",
        "cidr",
        "prefix_list_id",
        "referenced_group_id",
        "description",
    ];

    fn from_row(row: &Row) -> Option<&Self> {
        match row {
            Row::Ec2SecurityGroupRule(row) => Some(row),
            _ => None,
        }
    }

    fn bind(&self, values: &mut Binder<'_, '_>) -> rusqlite::Result<()> {
        values.value(&self.account_id)?;
        values.value(&self.region)?;
        values.value(&self.group_id)?;
        values.value(self.direction.as_str())?;
        values.value(&self.protocol)?;
        values.value(self.from_port)?;
        values.value(self.to_port)?;
        values.value(&self.cidr)?;
        values.value(&self.prefix_list_id)?;
        values.value(&self.referenced_group_id)?;
        values.value(&self.description)
    }

    fn describe(&self) -> String {
        format!("write a rule of {} of {}", self.group_id, self.account_id)
    }
}

impl TableRow for Ec2VolumeRow {
    const TABLE: &'static str = "ec2_volumes";
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "region",
        "volume_id",
        "size_gib",
        "volume_type",
        "encrypted",
        "kms_key_id",
        "state",
        "availability_zone",
        "attached_instance_ids",
        "create_time",
        "tags",
    ];

    fn from_row(row: &Row) -> Option<&Self> {
        match row {
            Row::Ec2Volume(row) => Some(row),
            _ => None,
        }
    }

    fn bind(&self, values: &mut Binder<'_, '_>) -> rusqlite::Result<()> {
        values.value(&self.account_id)?;
        values.value(&self.region)?;
        values.value(&self.volume_id)?;
        values.value(self.size_gib)?;
        values.value(&self.volume_type)?;
        values.value(self.encrypted)?;
        values.value(&self.kms_key_id)?;
        values.value(&self.state)?;
        values.value(&self.availability_zone)?;
        values.json(&self.attached_instance_ids)?;
        values.value(&self.create_time)?;
        values.json(&self.tags)
    }

    fn describe(&self) -> String {
        format!("write volume {} of {}", self.volume_id, self.account_id)
    }
}

impl TableRow for S3BucketRow {
    const TABLE: &'static str = "s3_buckets";
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "bucket_name",
        "region",
        "creation_date",
        "block_public_acls",
        "ignore_public_acls",
        "block_public_policy",
        "restrict_public_buckets",
        "policy_is_public",
        "versioning",
        "mfa_delete",
        "sse_algorithm",
        "kms_key_id",
        "bucket_key_enabled",
        "object_ownership",
        "logging_target_bucket",
        "tags",
        "public_acl_grants",
        "fetch_errors",
    ];

    fn from_row(row: &Row) -> Option<&Self> {
        match row {
            Row::S3Bucket(row) => Some(row),
            _ => None,
        }
    }

    fn bind(&self, values: &mut Binder<'_, '_>) -> rusqlite::Result<()> {
        values.value(&self.account_id)?;
        values.value(&self.bucket_name)?;
        values.value(&self.region)?;
        values.value(&self.creation_date)?;
        values.value(self.block_public_acls)?;
        values.value(self.ignore_public_acls)?;
        values.value(self.block_public_policy)?;
        values.value(self.restrict_public_buckets)?;
        values.value(self.policy_is_public)?;
        values.value(&self.versioning)?;
        values.value(&self.mfa_delete)?;
        values.value(&self.sse_algorithm)?;
        values.value(&self.kms_key_id)?;
        values.value(self.bucket_key_enabled)?;
        values.value(&self.object_ownership)?;
        values.value(&self.logging_target_bucket)?;
        values.optional_json(self.tags.as_ref())?;
        values.optional_json(self.public_acl_grants.as_ref())?;
        values.json(&self.fetch_errors)
    }

    fn describe(&self) -> String {
        format!("write bucket {} of {}", self.bucket_name, self.account_id)
    }
}

impl TableRow for S3AccountPublicAccessBlockRow {
    const TABLE: &'static str = "s3_account_public_access_block";
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "block_public_acls",
        "ignore_public_acls",
        "block_public_policy",
        "restrict_public_buckets",
    ];

    fn from_row(row: &Row) -> Option<&Self> {
        match row {
            Row::S3AccountPublicAccessBlock(row) => Some(row),
            _ => None,
        }
    }

    fn bind(&self, values: &mut Binder<'_, '_>) -> rusqlite::Result<()> {
        values.value(&self.account_id)?;
        values.value(self.block_public_acls)?;
        values.value(self.ignore_public_acls)?;
        values.value(self.block_public_policy)?;
        values.value(self.restrict_public_buckets)
    }

    fn describe(&self) -> String {
        format!(
            "write the account public access block of {}",
            self.account_id
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statement_numbers_every_column() {
        assert_eq!(
            insert_sql::<S3AccountPublicAccessBlockRow>(),
            "INSERT OR FAIL INTO s3_account_public_access_block (snapshot_id, account_id, block_public_acls, \
             ignore_public_acls, block_public_policy, restrict_public_buckets) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        );
        assert!(insert_sql::<AccountRow>().ends_with("error = excluded.error"));
    }
}
