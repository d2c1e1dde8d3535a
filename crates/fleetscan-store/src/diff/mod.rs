//! The diff of two snapshots: keyed per resource type (see [`registry`]),
//! computed in SQL over the primary-key indexes, account by account, and
//! streamed to a callback so that neither snapshot is ever held in memory.
//!
//! Scope honesty: a unit (account, region, collector) that was not `ok` (or
//! `region_disabled`) in both snapshots is reported as not comparable and
//! none of its rows is compared; an account present in only one snapshot is
//! reported as having entered or left the scope, not as mass additions.

pub mod classify;
pub mod registry;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use crate::error::{SqliteContext, StoreError};
use crate::rows::{GLOBAL_REGION, REGION_DISCOVERY};
use crate::store::Store;
use registry::{Gate, METADATA_COLUMNS, REGISTRY, ResourceType};

/// Schema name under which another database file is attached.
const OLD_SCHEMA: &str = "fleetscan_old";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Modified => "modified",
        }
    }
}

/// One changed field: for tags, `tags.<key>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// One added, removed or modified resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub resource_type: &'static str,
    pub change: ChangeKind,
    pub account_id: String,
    pub region: Option<String>,
    pub resource_id: String,
    /// Modified: the fields that differ. Added/removed: the row's values.
    pub fields: Vec<FieldChange>,
    pub security: bool,
    pub reasons: Vec<String>,
}

/// A unit whose data cannot be compared; a missing status means the unit
/// was not recorded in that snapshot at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotComparable {
    pub account_id: String,
    pub region: String,
    pub collector: String,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeCounts {
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiffSummary {
    /// Resources (not accounts) added, removed, modified.
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    /// Changes carrying at least one security reason.
    pub security: u64,
    pub not_comparable: u64,
    pub accounts_entered: u64,
    pub accounts_left: u64,
    /// Accounts in both snapshots whose own details changed (name, e-mail,
    /// state, OU path, role, status): `account` changes that are neither an
    /// entry nor a departure.
    pub accounts_changed: u64,
    pub by_resource_type: BTreeMap<String, ChangeCounts>,
}

impl DiffSummary {
    /// Whether anything differs (what `--exit-code` reports).
    pub fn has_differences(&self) -> bool {
        self.added
            + self.removed
            + self.modified
            + self.accounts_entered
            + self.accounts_left
            + self.accounts_changed
            > 0
    }

    fn count(&mut self, change: &Change) {
        let counts = self
            .by_resource_type
            .entry(change.resource_type.to_owned())
            .or_default();
        match change.change {
            ChangeKind::Added => counts.added += 1,
            ChangeKind::Removed => counts.removed += 1,
            ChangeKind::Modified => counts.modified += 1,
        }
        if change.resource_type == "account" {
            match change.change {
                ChangeKind::Added => self.accounts_entered += 1,
                ChangeKind::Removed => self.accounts_left += 1,
                ChangeKind::Modified => self.accounts_changed += 1,
            }
        } else {
            match change.change {
                ChangeKind::Added => self.added += 1,
                ChangeKind::Removed => self.removed += 1,
                ChangeKind::Modified => self.modified += 1,
            }
        }
        if change.security {
            self.security += 1;
        }
    }
}

/// What remains after the changes have been streamed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiffOutcome {
    pub not_comparable: Vec<NotComparable>,
    pub summary: DiffSummary,
}

/// One side of a row: column names and their values as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    columns: Vec<&'static str>,
    values: Vec<Value>,
    id_columns: &'static [&'static str],
}

impl Record {
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.columns
            .iter()
            .position(|name| *name == column)
            .map(|index| &self.values[index])
    }

    pub fn text(&self, column: &str) -> Option<&str> {
        self.get(column).and_then(Value::as_str)
    }

    pub fn integer(&self, column: &str) -> Option<i64> {
        self.get(column).and_then(Value::as_i64)
    }

    /// The id columns' values as text (NULLs left out).
    pub fn id_parts(&self) -> Vec<String> {
        self.id_columns
            .iter()
            .filter_map(|column| match self.get(column)? {
                Value::Null => None,
                Value::String(text) => Some(text.clone()),
                other => Some(other.to_string()),
            })
            .collect()
    }
}

/// The columns that identify a row within its snapshot.
fn key_columns(resource: &ResourceType) -> Vec<&'static str> {
    let mut columns = vec!["account_id"];
    if resource.regional {
        columns.push("region");
    }
    columns.extend(resource.id_columns);
    columns
}

/// The three queries of one resource type, for one pair of schemas.
struct Queries {
    added: String,
    removed: String,
    modified: String,
}

fn gate_clause(resource: &ResourceType, alias: &str) -> String {
    let unit = |region: String, collector: &str| {
        format!(
            "EXISTS (SELECT 1 FROM temp.fleetscan_diff_comparable AS c \
             WHERE c.account_id = {alias}.account_id AND c.region = {region} AND c.collector = '{collector}')"
        )
    };
    match resource.gate {
        Gate::None => "1".to_owned(),
        Gate::Regional(collector) => unit(format!("{alias}.region"), collector),
        Gate::Global(collector) => unit("'global'".to_owned(), collector),
    }
}

/// Parameters: ?1 = the snapshot rows are read from, ?2 = the other one,
/// ?3 = account id. Every lookup goes through the primary key (or, for
/// rules, the by-group index), which starts with snapshot_id, account_id.
fn build_queries(resource: &ResourceType, old_schema: &str) -> Queries {
    let keys = key_columns(resource);
    let select = |alias: &str| {
        keys.iter()
            .chain(resource.compared)
            .map(|column| format!("{alias}.{column}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let matches = |left: &str, right: &str| {
        keys.iter()
            .map(|column| format!("{left}.{column} IS {right}.{column}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let order = keys
        .iter()
        .map(|column| format!("x.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let table = resource.table;
    let one_side = |from_schema: &str, other_schema: &str| {
        format!(
            "SELECT {columns} FROM {from_schema}.{table} AS x \
             WHERE x.snapshot_id = ?1 AND x.account_id = ?3 AND {gate} \
               AND NOT EXISTS (SELECT 1 FROM {other_schema}.{table} AS y \
                               WHERE y.snapshot_id = ?2 AND {matched}) \
             ORDER BY {order}",
            columns = select("x"),
            gate = gate_clause(resource, "x"),
            matched = matches("y", "x"),
        )
    };
    let differs = resource
        .compared
        .iter()
        .filter(|column| !METADATA_COLUMNS.contains(column))
        .map(|column| format!("y.{column} IS NOT x.{column}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let old_compared = resource
        .compared
        .iter()
        .map(|column| format!("y.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let modified = format!(
        "SELECT {columns}, {old_compared} FROM main.{table} AS x \
         JOIN {old_schema}.{table} AS y ON y.snapshot_id = ?2 AND {matched} \
         WHERE x.snapshot_id = ?1 AND x.account_id = ?3 AND {gate} AND ({differs}) \
         ORDER BY {order}",
        columns = select("x"),
        matched = matches("y", "x"),
        gate = gate_clause(resource, "x"),
    );
    Queries {
        added: one_side("main", old_schema),
        removed: one_side(old_schema, "main"),
        modified,
    }
}

fn to_json(resource: &ResourceType, column: &str, value: SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(number) if resource.booleans.contains(&column) => {
            Value::Bool(number != 0)
        }
        SqlValue::Integer(number) => Value::from(number),
        SqlValue::Real(number) => Value::from(number),
        SqlValue::Text(text) if resource.is_json(column) || METADATA_COLUMNS.contains(&column) => {
            // Stored by fleetscan as JSON; anything else is shown verbatim.
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
        SqlValue::Text(text) => Value::String(text),
        SqlValue::Blob(bytes) => Value::String(format!("<{} bytes>", bytes.len())),
    }
}

/// Sorted, de-duplicated elements of a JSON array (`NULL` = empty).
fn as_set(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map_or_else(|| item.to_string(), str::to_owned)
            })
            .collect(),
        _ => Vec::new(),
    };
    items.sort();
    items.dedup();
    items
}

fn as_tags(value: &Value) -> BTreeMap<String, Value> {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The differing fields of a row present on both sides: tags key by key,
/// JSON sets as sets, everything else by value.
fn changed_fields(resource: &ResourceType, old: &Record, new: &Record) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    for column in resource.compared {
        if METADATA_COLUMNS.contains(column) {
            continue;
        }
        let (Some(old_value), Some(new_value)) = (old.get(column), new.get(column)) else {
            continue;
        };
        if resource.tags == Some(*column) {
            let (old_tags, new_tags) = (as_tags(old_value), as_tags(new_value));
            let keys: BTreeSet<&String> = old_tags.keys().chain(new_tags.keys()).collect();
            for key in keys {
                let (before, after) = (old_tags.get(key), new_tags.get(key));
                if before != after {
                    fields.push(FieldChange {
                        field: format!("{column}.{key}"),
                        old: before.cloned().unwrap_or(Value::Null),
                        new: after.cloned().unwrap_or(Value::Null),
                    });
                }
            }
        } else if resource.json_sets.contains(column) {
            // NULL (could not be read) and [] differ; order never matters.
            let same = match (old_value, new_value) {
                (Value::Null, Value::Null) => true,
                (Value::Null, _) | (_, Value::Null) => false,
                _ => as_set(old_value) == as_set(new_value),
            };
            if !same {
                fields.push(FieldChange {
                    field: (*column).to_owned(),
                    old: old_value.clone(),
                    new: new_value.clone(),
                });
            }
        } else if old_value != new_value {
            fields.push(FieldChange {
                field: (*column).to_owned(),
                old: old_value.clone(),
                new: new_value.clone(),
            });
        }
    }
    fields
}

/// The non-null values of a row that appeared or disappeared.
fn present_fields(resource: &ResourceType, record: &Record, kind: ChangeKind) -> Vec<FieldChange> {
    resource
        .compared
        .iter()
        .filter(|column| !METADATA_COLUMNS.contains(column))
        .filter_map(|column| {
            let value = record.get(column)?.clone();
            let empty = match &value {
                Value::Null => true,
                Value::Object(map) => map.is_empty(),
                Value::Array(items) => items.is_empty() && !resource.json_sets.contains(column),
                _ => false,
            };
            if empty {
                return None;
            }
            let (old, new) = if kind == ChangeKind::Added {
                (Value::Null, value)
            } else {
                (value, Value::Null)
            };
            Some(FieldChange {
                field: (*column).to_owned(),
                old,
                new,
            })
        })
        .collect()
}

/// Page cache of the connection during a diff, in KiB (SQLite's default is
/// 2,000). The diff walks accounts in sorted order and fetches each row by
/// key; rows of accounts scanned side by side share table pages, so the
/// next account mostly needs the pages the previous one read. With the
/// default cache they were already evicted and every row cost a read from
/// the file (at 1,000,000 instances a side, a third of the diff's time).
/// Fixed, so the diff's memory stays flat whatever the snapshot size.
const DIFF_CACHE_KIB: i64 = 16 * 1024;

/// Gives the diff's page cache back when the diff ends, whatever happens.
struct CacheSize<'a> {
    conn: &'a Connection,
    previous: i64,
}

impl<'a> CacheSize<'a> {
    fn set(conn: &'a Connection, path: &Path, kib: i64) -> Result<CacheSize<'a>, StoreError> {
        let previous: i64 = conn
            .query_row("PRAGMA cache_size", [], |row| row.get(0))
            .context(path, "configure")?;
        conn.pragma_update(None, "cache_size", -kib)
            .context(path, "configure")?;
        Ok(CacheSize { conn, previous })
    }
}

impl Drop for CacheSize<'_> {
    fn drop(&mut self) {
        // Shrinking frees the pages; failing to costs memory, not results.
        let _ = self.conn.pragma_update(None, "cache_size", self.previous);
    }
}

/// Detaches the other database file when the diff ends, whatever happens.
struct Attachment<'a> {
    conn: &'a Connection,
    attached: bool,
}

impl Drop for Attachment<'_> {
    fn drop(&mut self) {
        if self.attached {
            let _ = self
                .conn
                .execute_batch(&format!("DETACH DATABASE {OLD_SCHEMA}"));
        }
    }
}

impl Store {
    /// Compares snapshot `old_id` (of `old_db`, or of this database) with
    /// snapshot `new_id` of this database. Changes are passed to `on_change`
    /// one at a time, grouped by account (sorted), then by resource type in
    /// registry order; what is returned is the not-comparable list and the
    /// summary.
    pub fn diff(
        &self,
        old_db: Option<&Path>,
        old_id: i64,
        new_id: i64,
        on_change: &mut dyn FnMut(&Change) -> io::Result<()>,
    ) -> Result<DiffOutcome, StoreError> {
        let path = self.path.as_path();
        let _cache = CacheSize::set(&self.conn, path, DIFF_CACHE_KIB)?;
        let (old_schema, old_path, _attachment) = self.attach_old(old_db)?;
        if old_schema != "main" {
            // The attached file has a cache of its own, freed when it is detached.
            self.conn
                .execute_batch(&format!(
                    "PRAGMA {old_schema}.cache_size = {}",
                    -DIFF_CACHE_KIB
                ))
                .context(&old_path, "configure")?;
        }
        self.check_usable("main", path, new_id)?;
        self.check_usable(old_schema, &old_path, old_id)?;
        let same_scope = self.config_digest(old_schema, &old_path, old_id)?
            == self.config_digest("main", path, new_id)?;

        self.conn
            .execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS fleetscan_diff_comparable (
                     account_id TEXT NOT NULL, region TEXT NOT NULL, collector TEXT NOT NULL,
                     PRIMARY KEY (account_id, region, collector)) WITHOUT ROWID;
                 DELETE FROM temp.fleetscan_diff_comparable;",
            )
            .context(path, "prepare the diff in")?;

        let queries: Vec<Queries> = REGISTRY
            .iter()
            .map(|resource| build_queries(resource, old_schema))
            .collect();
        let old_accounts = self.account_statuses(old_schema, &old_path, old_id)?;
        let new_accounts = self.account_statuses("main", path, new_id)?;
        let account_ids: BTreeSet<&String> =
            old_accounts.keys().chain(new_accounts.keys()).collect();

        let mut outcome = DiffOutcome::default();
        let mut emit = |change: Change, summary: &mut DiffSummary| -> Result<(), StoreError> {
            summary.count(&change);
            on_change(&change).map_err(|source| StoreError::Output { source })
        };
        for account_id in account_ids {
            let (old_status, new_status) =
                (old_accounts.get(account_id), new_accounts.get(account_id));
            if old_status.is_none() || new_status.is_none() {
                // Entered or left the scope: the account row itself is the change.
                let account_queries = &queries[0];
                let (sql, kind) = if old_status.is_none() {
                    (&account_queries.added, ChangeKind::Added)
                } else {
                    (&account_queries.removed, ChangeKind::Removed)
                };
                let (from, other) = if kind == ChangeKind::Added {
                    (new_id, old_id)
                } else {
                    (old_id, new_id)
                };
                self.run_one_sided(
                    &REGISTRY[0],
                    sql,
                    kind,
                    from,
                    other,
                    account_id,
                    &mut |change| emit(change, &mut outcome.summary),
                )?;
                continue;
            }
            self.mark_comparable(
                old_schema,
                &old_path,
                old_id,
                new_id,
                account_id,
                (old_status, new_status),
                same_scope,
                &mut outcome,
            )?;
            for (resource, sql) in REGISTRY.iter().zip(&queries) {
                self.run_one_sided(
                    resource,
                    &sql.removed,
                    ChangeKind::Removed,
                    old_id,
                    new_id,
                    account_id,
                    &mut |change| emit(change, &mut outcome.summary),
                )?;
                self.run_one_sided(
                    resource,
                    &sql.added,
                    ChangeKind::Added,
                    new_id,
                    old_id,
                    account_id,
                    &mut |change| emit(change, &mut outcome.summary),
                )?;
                self.run_modified(
                    resource,
                    &sql.modified,
                    old_id,
                    new_id,
                    account_id,
                    &mut |change| emit(change, &mut outcome.summary),
                )?;
            }
        }
        outcome.summary.not_comparable = outcome.not_comparable.len() as u64;
        Ok(outcome)
    }

    /// Attaches `old_db` unless it is this very file; returns the schema to
    /// read the old snapshot from and its path.
    fn attach_old(
        &self,
        old_db: Option<&Path>,
    ) -> Result<(&'static str, std::path::PathBuf, Attachment<'_>), StoreError> {
        let not_attached = Attachment {
            conn: &self.conn,
            attached: false,
        };
        let Some(old_db) = old_db else {
            return Ok(("main", self.path.clone(), not_attached));
        };
        let same_file = match (
            std::fs::canonicalize(old_db),
            std::fs::canonicalize(&self.path),
        ) {
            (Ok(left), Ok(right)) => left == right,
            _ => false,
        };
        if same_file {
            return Ok(("main", self.path.clone(), not_attached));
        }
        // Open it on its own first: that gives the clear errors (missing, not
        // a database, too new) and migrates an archive written by an older
        // fleetscan, so both sides have the same schema.
        drop(Store::open_existing(old_db)?);
        let name = old_db.to_str().ok_or_else(|| StoreError::Invalid {
            path: old_db.to_path_buf(),
            message: "the path is not valid UTF-8".to_owned(),
        })?;
        self.conn
            .execute(&format!("ATTACH DATABASE ?1 AS {OLD_SCHEMA}"), [name])
            .context(old_db, "attach")?;
        Ok((
            OLD_SCHEMA,
            old_db.to_path_buf(),
            Attachment {
                conn: &self.conn,
                attached: true,
            },
        ))
    }

    /// The digest of the configuration a snapshot was taken with.
    fn config_digest(&self, schema: &str, path: &Path, id: i64) -> Result<String, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT config_digest FROM {schema}.snapshots WHERE id = ?1"),
                [id],
                |row| row.get(0),
            )
            .context(path, "read snapshots from")
    }

    fn check_usable(&self, schema: &str, path: &Path, id: i64) -> Result<(), StoreError> {
        let status: Option<String> = self
            .conn
            .query_row(
                &format!("SELECT status FROM {schema}.snapshots WHERE id = ?1"),
                [id],
                |row| row.get(0),
            )
            .optional()
            .context(path, "read snapshots from")?;
        match status.as_deref() {
            None => Err(StoreError::UnknownSnapshot {
                path: path.to_path_buf(),
                id,
            }),
            Some("complete" | "partial") => Ok(()),
            Some(other) => Err(StoreError::UnusableSnapshot {
                path: path.to_path_buf(),
                id,
                status: other.to_owned(),
            }),
        }
    }

    fn account_statuses(
        &self,
        schema: &str,
        path: &Path,
        id: i64,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT account_id, status FROM {schema}.accounts WHERE snapshot_id = ?1"
            ))
            .context(path, "read accounts from")?;
        statement
            .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))
            .context(path, "read accounts from")?
            .collect::<Result<_, _>>()
            .context(path, "read accounts from")
    }

    /// Decides which units of an account are comparable (ok or
    /// region_disabled on both sides), records them in the temp table the
    /// queries gate on, and lists the others.
    ///
    /// `same_scope`: both snapshots were taken with the same configuration.
    /// Then a region that one side scanned and the other has no unit for, in
    /// an account whose region discovery succeeded on that other side, was
    /// not enabled there (with `regions.include: ["*"]` regions that are not
    /// enabled get no units): it is compared like `region_disabled`, so the
    /// resources of a newly enabled region are added, not hidden as "not
    /// comparable". With another configuration the region may have been
    /// left out by `regions.include`/`exclude` instead, and stays not
    /// comparable.
    #[allow(clippy::too_many_arguments)]
    fn mark_comparable(
        &self,
        old_schema: &str,
        old_path: &Path,
        old_id: i64,
        new_id: i64,
        account_id: &str,
        (old_account_status, new_account_status): (Option<&String>, Option<&String>),
        same_scope: bool,
        outcome: &mut DiffOutcome,
    ) -> Result<(), StoreError> {
        let units = |schema: &str,
                     path: &Path,
                     id: i64|
         -> Result<BTreeMap<(String, String), String>, StoreError> {
            let mut statement = self
                .conn
                .prepare_cached(&format!(
                    "SELECT region, collector, status FROM {schema}.scan_units WHERE snapshot_id = ?1 AND account_id = ?2"
                ))
                .context(path, "read scan units from")?;
            statement
                .query_map(params![id, account_id], |row| {
                    Ok(((row.get(0)?, row.get(1)?), row.get(2)?))
                })
                .context(path, "read scan units from")?
                .collect::<Result<_, _>>()
                .context(path, "read scan units from")
        };
        let old_units = units(old_schema, old_path, old_id)?;
        let new_units = units("main", &self.path, new_id)?;
        let usable = |status: Option<&String>| {
            matches!(status.map(String::as_str), Some("ok" | "region_disabled"))
        };
        // A unit missing on one side of an account that could not be read at
        // all shows that account's status instead (e.g. assume_failed).
        let fallback = |account_status: Option<&String>| {
            account_status
                .filter(|status| status.as_str() != "ok")
                .cloned()
        };

        self.conn
            .execute("DELETE FROM temp.fleetscan_diff_comparable", [])
            .context(&self.path, "prepare the diff in")?;
        let mut insert = self
            .conn
            .prepare_cached("INSERT INTO temp.fleetscan_diff_comparable (account_id, region, collector) VALUES (?1, ?2, ?3)")
            .context(&self.path, "prepare the diff in")?;
        // A regional unit one side lacks is "region not enabled" there only
        // if that side discovered its regions, has no unit at all in that
        // region, and ran the same collector elsewhere: a collector that a
        // newer fleetscan added (same configuration file, every collector
        // by default) has no units anywhere in the older snapshot, and its
        // resources must not come out as added.
        fn not_enabled(
            units: &BTreeMap<(String, String), String>,
            same_scope: bool,
        ) -> impl Fn(&(String, String)) -> bool + '_ {
            let discovered = same_scope
                && units
                    .get(&(GLOBAL_REGION.to_owned(), REGION_DISCOVERY.to_owned()))
                    .is_some_and(|status| status == "ok");
            let regions: BTreeSet<&str> = units.keys().map(|(region, _)| region.as_str()).collect();
            let collectors: BTreeSet<&str> = units
                .keys()
                .filter(|(region, _)| region != GLOBAL_REGION)
                .map(|(_, collector)| collector.as_str())
                .collect();
            move |(region, collector): &(String, String)| {
                discovered
                    && region != GLOBAL_REGION
                    && !regions.contains(region.as_str())
                    && collectors.contains(collector.as_str())
            }
        }
        let (old_not_enabled, new_not_enabled) = (
            not_enabled(&old_units, same_scope),
            not_enabled(&new_units, same_scope),
        );
        let keys: BTreeSet<&(String, String)> = old_units.keys().chain(new_units.keys()).collect();
        for key in keys {
            let (old_status, new_status) = (old_units.get(key), new_units.get(key));
            let old_usable = usable(old_status) || (old_status.is_none() && old_not_enabled(key));
            let new_usable = usable(new_status) || (new_status.is_none() && new_not_enabled(key));
            if old_usable && new_usable {
                insert
                    .execute(params![account_id, key.0, key.1])
                    .context(&self.path, "prepare the diff in")?;
            } else {
                outcome.not_comparable.push(NotComparable {
                    account_id: account_id.to_owned(),
                    region: key.0.clone(),
                    collector: key.1.clone(),
                    old_status: old_status.cloned().or_else(|| fallback(old_account_status)),
                    new_status: new_status.cloned().or_else(|| fallback(new_account_status)),
                });
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn run_one_sided(
        &self,
        resource: &'static ResourceType,
        sql: &str,
        kind: ChangeKind,
        from_id: i64,
        other_id: i64,
        account_id: &str,
        emit: &mut dyn FnMut(Change) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let operation = format!("compare {}", resource.table);
        let mut statement = self
            .conn
            .prepare_cached(sql)
            .context(&self.path, &operation)?;
        let columns: Vec<&'static str> = key_columns(resource)
            .into_iter()
            .chain(resource.compared.iter().copied())
            .collect();
        let mut rows = statement
            .query(params![from_id, other_id, account_id])
            .context(&self.path, &operation)?;
        while let Some(row) = rows.next().context(&self.path, &operation)? {
            let mut values = Vec::with_capacity(columns.len());
            for (index, column) in columns.iter().enumerate() {
                values.push(to_json(
                    resource,
                    column,
                    row.get(index).context(&self.path, &operation)?,
                ));
            }
            let record = Record {
                columns: columns.clone(),
                values,
                id_columns: resource.id_columns,
            };
            let (old, new) = if kind == ChangeKind::Added {
                (None, Some(&record))
            } else {
                (Some(&record), None)
            };
            let fields = present_fields(resource, &record, kind);
            let reasons = (resource.classify)(kind, old, new, &fields);
            emit(make_change(resource, kind, &record, fields, reasons))?;
        }
        Ok(())
    }

    fn run_modified(
        &self,
        resource: &'static ResourceType,
        sql: &str,
        old_id: i64,
        new_id: i64,
        account_id: &str,
        emit: &mut dyn FnMut(Change) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let operation = format!("compare {}", resource.table);
        let mut statement = self
            .conn
            .prepare_cached(sql)
            .context(&self.path, &operation)?;
        let keys = key_columns(resource);
        let columns: Vec<&'static str> = keys
            .iter()
            .copied()
            .chain(resource.compared.iter().copied())
            .collect();
        let mut rows = statement
            .query(params![new_id, old_id, account_id])
            .context(&self.path, &operation)?;
        while let Some(row) = rows.next().context(&self.path, &operation)? {
            let mut new_values = Vec::with_capacity(columns.len());
            for (index, column) in columns.iter().enumerate() {
                new_values.push(to_json(
                    resource,
                    column,
                    row.get(index).context(&self.path, &operation)?,
                ));
            }
            let mut old_values: Vec<Value> = new_values[..keys.len()].to_vec();
            for (offset, column) in resource.compared.iter().enumerate() {
                let value = row
                    .get(columns.len() + offset)
                    .context(&self.path, &operation)?;
                old_values.push(to_json(resource, column, value));
            }
            let new = Record {
                columns: columns.clone(),
                values: new_values,
                id_columns: resource.id_columns,
            };
            let old = Record {
                columns: columns.clone(),
                values: old_values,
                id_columns: resource.id_columns,
            };
            let fields = changed_fields(resource, &old, &new);
            if fields.is_empty() {
                continue; // only the order of a set, or JSON spelling, changed
            }
            let reasons =
                (resource.classify)(ChangeKind::Modified, Some(&old), Some(&new), &fields);
            emit(make_change(
                resource,
                ChangeKind::Modified,
                &new,
                fields,
                reasons,
            ))?;
        }
        Ok(())
    }
}

fn make_change(
    resource: &'static ResourceType,
    kind: ChangeKind,
    record: &Record,
    fields: Vec<FieldChange>,
    reasons: Vec<String>,
) -> Change {
    let region_column = if resource.regional {
        Some("region")
    } else {
        resource.region_column
    };
    Change {
        resource_type: resource.name,
        change: kind,
        account_id: record.text("account_id").unwrap_or_default().to_owned(),
        region: region_column
            .and_then(|column| record.text(column))
            .map(str::to_owned),
        resource_id: (resource.format_id)(record),
        fields,
        security: !reasons.is_empty(),
        reasons,
    }
}

#[cfg(test)]
mod tests;
