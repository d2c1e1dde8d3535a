//! Opening the database (mode 0600, WAL, the scan lock, migrations) and the
//! snapshot lifecycle: begin, finish, fail, list.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;

use crate::error::{SqliteContext, StoreError};
use crate::migrate;
use crate::rows::{ScanUnitRow, UnitStatus};

/// Tables that hold a snapshot's resources, in the order summaries list them.
pub const RESOURCE_TABLES: &[&str] = &[
    "ec2_instances",
    "ec2_security_groups",
    "ec2_security_group_rules",
    "ec2_volumes",
    "s3_buckets",
    "s3_account_public_access_block",
];

/// Prepared statements kept per connection: every statement the writer and
/// the diff run over and over fits.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// The one SQLite file holding every snapshot.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    /// Held for the whole life of a scan (and during prune): the advisory lock
    /// on `<db>.lock` that keeps a second writer out.
    pub(crate) lock: Option<File>,
}

/// What a run records about itself when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub tool_version: String,
    pub config_digest: String,
    pub caller_arn: Option<String>,
}

/// `snapshots.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    Running,
    Complete,
    Partial,
    Failed,
    Aborted,
}

impl SnapshotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotStatus::Running => "running",
            SnapshotStatus::Complete => "complete",
            SnapshotStatus::Partial => "partial",
            SnapshotStatus::Failed => "failed",
            SnapshotStatus::Aborted => "aborted",
        }
    }

    /// Whether readers (diff, views) may use the snapshot.
    pub fn is_usable(self) -> bool {
        matches!(self, SnapshotStatus::Complete | SnapshotStatus::Partial)
    }

    fn parse(text: &str) -> Option<SnapshotStatus> {
        Some(match text {
            "running" => SnapshotStatus::Running,
            "complete" => SnapshotStatus::Complete,
            "partial" => SnapshotStatus::Partial,
            "failed" => SnapshotStatus::Failed,
            "aborted" => SnapshotStatus::Aborted,
            _ => return None,
        })
    }
}

impl std::fmt::Display for SnapshotStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One snapshot as `scan` reports it at the end and `snapshots` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotSummary {
    pub id: i64,
    pub status: SnapshotStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub accounts_total: u64,
    pub accounts_ok: u64,
    pub accounts_failed: u64,
    /// Resource table -> rows in this snapshot.
    pub resources: BTreeMap<String, u64>,
    /// Units that ended neither `ok` nor `region_disabled`.
    pub failed_units: Vec<ScanUnitRow>,
}

impl SnapshotSummary {
    /// Wall-clock duration in whole seconds, when the snapshot finished.
    pub fn duration_seconds(&self) -> Option<i64> {
        let started = parse_time(&self.started_at)?;
        let finished = parse_time(self.finished_at.as_deref()?)?;
        Some((finished - started).whole_seconds())
    }
}

fn parse_time(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// Now, as RFC 3339 UTC text with whole seconds (`2025-01-31T02:00:00Z`).
pub(crate) fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// `<db>.lock`, beside the database (the name gets a suffix, it is not
/// replaced). The database's real path is used when it exists, so that a
/// symlink to the file, or another spelling of its path, finds the same lock.
pub(crate) fn lock_path(path: &Path) -> PathBuf {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut name = real.into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// The file's permission bits when its group or others may read or write it.
fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Refuses the names SQLite does not treat as files: `:memory:` and the
/// empty name open a database that vanishes when fleetscan exits, and a
/// `file:` name would be read as a URI by tools that open it later.
fn require_file_path(path: &Path) -> Result<(), StoreError> {
    let text = path.to_string_lossy();
    if text.is_empty() || text == ":memory:" || text.starts_with("file:") {
        return Err(StoreError::Invalid {
            path: path.to_path_buf(),
            message: "not a file path: fleetscan keeps snapshots in a database file \
                      (an in-memory or URI database would vanish or be misread); \
                      give a path such as ./fleetscan.db"
                .to_owned(),
        });
    }
    Ok(())
}

fn io_error(path: &Path, operation: &'static str) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |cause| StoreError::Io {
        path,
        operation,
        cause,
    }
}

/// Takes the exclusive advisory lock without waiting.
pub(crate) fn acquire_lock(path: &Path) -> Result<File, StoreError> {
    let lock_path = lock_path(path);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io_error(&lock_path, "create the lock file"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: path.to_path_buf(),
            lock_path,
        }),
        Err(TryLockError::Error(cause)) => Err(StoreError::Io {
            path: lock_path,
            operation: "lock",
            cause,
        }),
    }
}

/// Whether another process (or another handle in this one) holds the lock.
fn lock_is_held_elsewhere(path: &Path) -> bool {
    // No lock file: no scan ever ran here, and readers do not create one.
    if !lock_path(path).exists() {
        return false;
    }
    match acquire_lock(path) {
        Ok(file) => {
            drop(file); // closing releases it
            false
        }
        Err(StoreError::Locked { .. }) => true,
        // Cannot tell (read-only folder, ...): assume nobody, the same
        // conclusion the next scan would reach.
        Err(_) => false,
    }
}

impl Store {
    /// Opens (creating it with mode 0600 if missing) the database a scan
    /// writes to: takes the scan lock, switches to WAL, migrates, and marks
    /// snapshots left `running` by a dead earlier run as `aborted`.
    pub fn open_for_scan(path: &Path) -> Result<Store, StoreError> {
        require_file_path(path)?;
        // Create the file ourselves so that its mode is 0600 from the first
        // byte: inventories name every account and public IP of the fleet.
        // SQLite gives the -wal and -shm files the same mode.
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io_error(path, "create or open"))?;
        // An existing file keeps the mode its owner gave it; say so when
        // others can read what this scan is about to write into it.
        if let Some(mode) = readable_by_others(path) {
            tracing::warn!(
                path = %path.display(),
                "the database is readable by others (mode {mode:04o}); it names every account, \
                 public IP and bucket of the fleet: consider chmod 600"
            );
        }
        // Lock before migrating so that two scans never race on a new file.
        let lock = acquire_lock(path)?;
        let mut store = Store::connect(path, Some(lock))?;
        store
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| {
                row.get::<_, String>(0)
            })
            .context(path, "enable WAL mode in")?;
        migrate::migrate(&mut store.conn, path)?;
        store.abort_dead_runs()?;
        Ok(store)
    }

    /// Marks snapshots left `running` as `aborted`. Only for a handle that
    /// has just taken the scan lock: no scan can be writing them then, so
    /// their process is gone.
    pub(crate) fn abort_dead_runs(&self) -> Result<(), StoreError> {
        let aborted = self
            .conn
            .execute(
                "UPDATE snapshots SET status = 'aborted',
                        error = coalesce(error, 'the scanning process ended without finishing this snapshot')
                 WHERE status = 'running'",
                [],
            )
            .context(&self.path, "mark unfinished snapshots aborted in")?;
        if aborted > 0 {
            tracing::warn!(path = %self.path.display(), snapshots = aborted, "marked snapshots of a dead earlier run as aborted");
        }
        Ok(())
    }

    /// Opens an existing database to list, diff or prune (prune takes the lock
    /// itself). Migrates it if it was written by an older fleetscan.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        require_file_path(path)?;
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => {
                return Err(StoreError::NotADatabase {
                    path: path.to_path_buf(),
                });
            }
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Missing {
                    path: path.to_path_buf(),
                });
            }
            Err(cause) => {
                return Err(StoreError::Io {
                    path: path.to_path_buf(),
                    operation: "inspect",
                    cause,
                });
            }
        }
        // SQLite reports an unreadable file vaguely; ask the OS first.
        File::open(path).map_err(io_error(path, "read"))?;
        let mut store = Store::connect(path, None)?;
        let found = migrate::schema_version(&store.conn, path)?;
        if found != migrate::latest_version() {
            migrate::migrate(&mut store.conn, path)?;
        }
        Ok(store)
    }

    fn connect(path: &Path, lock: Option<File>) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).context(path, "open")?;
        // A reader may meet a scan's write transaction: wait rather than fail.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .context(path, "configure")?;
        // The diff alone cycles through some thirty statements per account;
        // with rusqlite's default of 16 cached statements each of them was
        // parsed and planned again for every account.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        // The first statement is the one that notices a file that is not SQLite.
        migrate::schema_version(&conn, path)?;
        // Cascading deletes (prune) need foreign keys, which SQLite leaves off
        // per connection; NORMAL sync is durable enough in WAL mode.
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .context(path, "configure")?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying connection, for read-only queries (tests, ad-hoc tools).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Takes the scan lock if this handle does not hold it yet.
    pub(crate) fn ensure_lock(&mut self) -> Result<(), StoreError> {
        if self.lock.is_none() {
            self.lock = Some(acquire_lock(&self.path)?);
        }
        Ok(())
    }

    /// Starts a snapshot: status `running`, `started_at` now.
    pub fn begin_snapshot(&mut self, meta: &SnapshotMeta) -> Result<i64, StoreError> {
        self.ensure_lock()?;
        self.conn
            .execute(
                "INSERT INTO snapshots (started_at, status, tool_version, config_digest, caller_arn)
                 VALUES (?1, 'running', ?2, ?3, ?4)",
                params![now_rfc3339(), meta.tool_version, meta.config_digest, meta.caller_arn],
            )
            .context(&self.path, "start a snapshot in")?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a running snapshot: counts accounts and rows, decides the status
    /// from `accounts` and `scan_units`, sets `finished_at`.
    ///
    /// `complete` when every account is `ok` and every unit `ok` or
    /// `region_disabled`; `failed` when there were accounts but not one unit
    /// succeeded; `partial` otherwise.
    pub fn finish_snapshot(&mut self, snapshot_id: i64) -> Result<SnapshotSummary, StoreError> {
        close_snapshot(&mut self.conn, &self.path, snapshot_id, None)?;
        self.snapshot(snapshot_id)
    }

    /// Ends a running snapshot as `failed`, recording why.
    pub fn fail_snapshot(&mut self, snapshot_id: i64, reason: &str) -> Result<(), StoreError> {
        close_snapshot(&mut self.conn, &self.path, snapshot_id, Some(reason))
    }

    /// One snapshot's summary, or [`StoreError::UnknownSnapshot`].
    pub fn snapshot(&self, snapshot_id: i64) -> Result<SnapshotSummary, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(SUMMARY_SELECT_BY_ID)
            .context(&self.path, "read snapshots from")?;
        let raw = statement
            .query_row([snapshot_id], RawSnapshot::from_row)
            .optional()
            .context(&self.path, "read snapshots from")?
            .ok_or_else(|| StoreError::UnknownSnapshot {
                path: self.path.clone(),
                id: snapshot_id,
            })?;
        let running_is_alive = raw.status == "running" && self.running_is_alive();
        self.summarize(raw, running_is_alive)
    }

    /// Every snapshot, oldest first. A snapshot still marked `running` is shown
    /// `running` only while a scan holds the lock; otherwise its process died
    /// and it is shown `aborted` (the next scan records that).
    pub fn list_snapshots(&self) -> Result<Vec<SnapshotSummary>, StoreError> {
        let mut statement = self
            .conn
            .prepare(SUMMARY_SELECT_ALL)
            .context(&self.path, "list snapshots in")?;
        let raws = statement
            .query_map([], RawSnapshot::from_row)
            .context(&self.path, "list snapshots in")?
            .collect::<Result<Vec<_>, _>>()
            .context(&self.path, "list snapshots in")?;
        let running_is_alive =
            raws.iter().any(|raw| raw.status == "running") && self.running_is_alive();
        raws.into_iter()
            .map(|raw| self.summarize(raw, running_is_alive))
            .collect()
    }

    /// Ids of usable (`complete` or `partial`) snapshots, newest first.
    pub fn usable_snapshot_ids(&self) -> Result<Vec<i64>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id FROM snapshots WHERE status IN ('complete', 'partial') ORDER BY id DESC",
            )
            .context(&self.path, "list snapshots in")?;
        statement
            .query_map([], |row| row.get(0))
            .context(&self.path, "list snapshots in")?
            .collect::<Result<Vec<i64>, _>>()
            .context(&self.path, "list snapshots in")
    }

    fn running_is_alive(&self) -> bool {
        // Our own handle holds the lock: the running snapshot is ours.
        self.lock.is_some() || lock_is_held_elsewhere(&self.path)
    }

    fn summarize(
        &self,
        raw: RawSnapshot,
        running_is_alive: bool,
    ) -> Result<SnapshotSummary, StoreError> {
        let mut status = SnapshotStatus::parse(&raw.status).ok_or_else(|| StoreError::Invalid {
            path: self.path.clone(),
            message: format!("snapshot {} has an unknown status {:?}", raw.id, raw.status),
        })?;
        if status == SnapshotStatus::Running && !running_is_alive {
            status = SnapshotStatus::Aborted;
        }
        let resources = match raw
            .resource_counts
            .as_deref()
            .map(serde_json::from_str::<BTreeMap<String, u64>>)
        {
            Some(Ok(counts)) => counts,
            // Not finished (or not readable): count now.
            _ => count_resources(&self.conn, &self.path, raw.id)?,
        };
        let (accounts_total, accounts_ok, accounts_failed) =
            match (raw.accounts_total, raw.accounts_ok, raw.accounts_failed) {
                (Some(total), Some(ok), Some(failed)) => {
                    (to_u64(total), to_u64(ok), to_u64(failed))
                }
                _ => {
                    let counts = count_accounts(&self.conn, &self.path, raw.id)?;
                    (counts.total, counts.ok, counts.total - counts.ok)
                }
            };
        Ok(SnapshotSummary {
            id: raw.id,
            status,
            started_at: raw.started_at,
            finished_at: raw.finished_at,
            accounts_total,
            accounts_ok,
            accounts_failed,
            resources,
            failed_units: failed_units(&self.conn, &self.path, raw.id)?,
        })
    }
}

const SUMMARY_SELECT_BY_ID: &str = "SELECT id, status, started_at, finished_at, accounts_total, accounts_ok, \
     accounts_failed, resource_counts FROM snapshots WHERE id = ?1";
const SUMMARY_SELECT_ALL: &str = "SELECT id, status, started_at, finished_at, accounts_total, accounts_ok, \
     accounts_failed, resource_counts FROM snapshots ORDER BY id";

/// A `snapshots` row as stored (the column order of the two selects above).
struct RawSnapshot {
    id: i64,
    status: String,
    started_at: String,
    finished_at: Option<String>,
    accounts_total: Option<i64>,
    accounts_ok: Option<i64>,
    accounts_failed: Option<i64>,
    resource_counts: Option<String>,
}

impl RawSnapshot {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawSnapshot> {
        Ok(RawSnapshot {
            id: row.get(0)?,
            status: row.get(1)?,
            started_at: row.get(2)?,
            finished_at: row.get(3)?,
            accounts_total: row.get(4)?,
            accounts_ok: row.get(5)?,
            accounts_failed: row.get(6)?,
            resource_counts: row.get(7)?,
        })
    }
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

struct AccountCounts {
    total: u64,
    ok: u64,
}

fn count_accounts(
    conn: &Connection,
    path: &Path,
    snapshot_id: i64,
) -> Result<AccountCounts, StoreError> {
    let (total, ok): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE status = 'ok') FROM accounts WHERE snapshot_id = ?1",
            [snapshot_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .context(path, "count accounts in")?;
    Ok(AccountCounts {
        total: to_u64(total),
        ok: to_u64(ok),
    })
}

fn count_resources(
    conn: &Connection,
    path: &Path,
    snapshot_id: i64,
) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut counts = BTreeMap::new();
    for table in RESOURCE_TABLES {
        let rows: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE snapshot_id = ?1"),
                [snapshot_id],
                |row| row.get(0),
            )
            .context(path, format!("count {table} in"))?;
        counts.insert((*table).to_owned(), to_u64(rows));
    }
    Ok(counts)
}

fn failed_units(
    conn: &Connection,
    path: &Path,
    snapshot_id: i64,
) -> Result<Vec<ScanUnitRow>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT account_id, region, collector, status, error_code, error_message, resources, api_calls, duration_ms
             FROM scan_units
             WHERE snapshot_id = ?1 AND status NOT IN ('ok', 'region_disabled')
             ORDER BY account_id, region, collector",
        )
        .context(path, "read scan units from")?;
    let rows = statement
        .query_map([snapshot_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, i64>(7)?,
                row.get::<_, i64>(8)?,
            ))
        })
        .context(path, "read scan units from")?;
    let mut units = Vec::new();
    for row in rows {
        let (
            account_id,
            region,
            collector,
            status,
            error_code,
            error_message,
            resources,
            api_calls,
            duration_ms,
        ) = row.context(path, "read scan units from")?;
        let status = parse_unit_status(&status).ok_or_else(|| StoreError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "scan unit {account_id}/{region}/{collector} has an unknown status {status:?}"
            ),
        })?;
        units.push(ScanUnitRow {
            account_id,
            region,
            collector,
            status,
            error_code,
            error_message,
            resources: to_u64(resources),
            api_calls: to_u64(api_calls),
            duration_ms: to_u64(duration_ms),
        });
    }
    Ok(units)
}

pub(crate) fn parse_unit_status(text: &str) -> Option<UnitStatus> {
    Some(match text {
        "ok" => UnitStatus::Ok,
        "denied" => UnitStatus::Denied,
        "region_disabled" => UnitStatus::RegionDisabled,
        "throttled" => UnitStatus::Throttled,
        "error" => UnitStatus::Error,
        _ => return None,
    })
}

/// Sets the final status, counts and `finished_at` of a running snapshot;
/// `failure` forces `failed` with that reason. Shared by the store and the
/// writer thread (which fails the snapshot itself when it cannot write).
pub(crate) fn close_snapshot(
    conn: &mut Connection,
    path: &Path,
    snapshot_id: i64,
    failure: Option<&str>,
) -> Result<(), StoreError> {
    let tx = conn.transaction().context(path, "finish a snapshot in")?;
    let status: Option<String> = tx
        .query_row(
            "SELECT status FROM snapshots WHERE id = ?1",
            [snapshot_id],
            |row| row.get(0),
        )
        .optional()
        .context(path, "finish a snapshot in")?;
    match status.as_deref() {
        None => {
            return Err(StoreError::UnknownSnapshot {
                path: path.to_path_buf(),
                id: snapshot_id,
            });
        }
        Some("running") => {}
        Some(other) => {
            return Err(StoreError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "snapshot {snapshot_id} is already {other}; only a running snapshot can be finished"
                ),
            });
        }
    }
    let accounts = count_accounts(&tx, path, snapshot_id)?;
    let (units_failed, units_succeeded): (i64, i64) = tx
        .query_row(
            "SELECT count(*) FILTER (WHERE status NOT IN ('ok', 'region_disabled')),
                    count(*) FILTER (WHERE status IN ('ok', 'region_disabled'))
             FROM scan_units WHERE snapshot_id = ?1",
            [snapshot_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .context(path, "count scan units in")?;
    let status = if failure.is_some() {
        SnapshotStatus::Failed
    } else if accounts.ok == accounts.total && units_failed == 0 {
        SnapshotStatus::Complete
    } else if accounts.total > 0 && units_succeeded == 0 {
        SnapshotStatus::Failed
    } else {
        SnapshotStatus::Partial
    };
    let resources = count_resources(&tx, path, snapshot_id)?;
    let resource_counts = serde_json::to_string(&resources).map_err(|err| StoreError::Invalid {
        path: path.to_path_buf(),
        message: format!("cannot encode resource counts: {err}"),
    })?;
    tx.execute(
        "UPDATE snapshots
         SET status = ?2, finished_at = ?3, accounts_total = ?4, accounts_ok = ?5, accounts_failed = ?6,
             resource_counts = ?7, error = ?8
         WHERE id = ?1",
        params![
            snapshot_id,
            status.as_str(),
            now_rfc3339(),
            i64::try_from(accounts.total).unwrap_or(i64::MAX),
            i64::try_from(accounts.ok).unwrap_or(i64::MAX),
            i64::try_from(accounts.total - accounts.ok).unwrap_or(i64::MAX),
            resource_counts,
            failure,
        ],
    )
    .context(path, "finish a snapshot in")?;
    tx.commit().context(path, "finish a snapshot in")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rows::{AccountStatus, Row, UnitStatus};
    use crate::testing::*;

    #[test]
    fn fresh_file_is_created_0600_and_migrated() {
        let (_dir, path) = temp_db();
        let store = Store::open_for_scan(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&lock_path(&path)), 0o600);
        let version = migrate::schema_version(&store.conn, &path).unwrap();
        assert_eq!(version, migrate::latest_version());
        let journal: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
        for table in RESOURCE_TABLES
            .iter()
            .chain(&["snapshots", "accounts", "scan_units"])
        {
            let found: i64 = store
                .conn
                .query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [table],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(found, 1, "table {table}");
        }
    }

    #[test]
    fn a_database_others_can_read_is_noticed_and_its_mode_kept() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path) = temp_db();
        drop(Store::open_for_scan(&path).unwrap());
        assert_eq!(readable_by_others(&path), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(readable_by_others(&path), Some(0o644));
        // The owner's choice stands: the scan warns, it does not chmod.
        drop(Store::open_for_scan(&path).unwrap());
        assert_eq!(mode(&path), 0o644);
    }

    #[test]
    fn a_symlink_to_the_database_finds_the_scan_lock() {
        let (dir, path) = temp_db();
        let link = dir.path().join("link.db");
        let scan = Store::open_for_scan(&path).unwrap();
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(
            Store::open_for_scan(&link),
            Err(StoreError::Locked { .. })
        ));
        let mut pruner = Store::open_existing(&link).unwrap();
        assert!(matches!(pruner.prune(0), Err(StoreError::Locked { .. })));
        drop(scan);
        drop(pruner);
        assert!(Store::open_for_scan(&link).is_ok());
    }

    #[test]
    fn names_sqlite_does_not_treat_as_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in [":memory:", "", "file:x.db?mode=memory"] {
            for err in [
                Store::open_for_scan(Path::new(name)).err().unwrap(),
                Store::open_existing(Path::new(name)).err().unwrap(),
            ] {
                assert!(
                    err.to_string().contains("not a file path"),
                    "{name:?}: {err}"
                );
            }
        }
        // Nothing was created in the working directory or beside it.
        assert!(!Path::new(":memory:").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn sqlite_and_io_errors_say_their_cause_once() {
        use std::error::Error as _;
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".to_owned()),
        );
        let err = StoreError::sqlite(
            Path::new("/data/f.db"),
            "mark unfinished snapshots aborted in",
            busy,
        );
        let text = err.to_string();
        assert!(
            text.starts_with("cannot mark unfinished snapshots aborted in database /data/f.db: another process has held a write transaction"),
            "{text}"
        );
        let other = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            Some("disk I/O error".to_owned()),
        );
        let err = StoreError::sqlite(Path::new("/data/f.db"), "commit rows to", other);
        assert_eq!(
            err.to_string(),
            "cannot commit rows to database /data/f.db: disk I/O error"
        );
        // Printed as a chain (`{:#}` in the CLI), nothing is repeated.
        assert!(err.source().is_none());
        let missing = Store::open_for_scan(Path::new("/nonexistent-dir/x.db"))
            .err()
            .unwrap();
        assert!(missing.source().is_none());
        assert_eq!(
            missing
                .to_string()
                .matches("No such file or directory")
                .count(),
            1,
            "{missing}"
        );
    }

    #[test]
    fn reopening_is_idempotent() {
        let (_dir, path) = temp_db();
        let store = Store::open_for_scan(&path).unwrap();
        let (store, id) = write_snapshot(store, vec![account("111111111111", AccountStatus::Ok)]);
        drop(store);
        let store = Store::open_for_scan(&path).unwrap();
        drop(store);
        let store = Store::open_existing(&path).unwrap();
        assert_eq!(
            migrate::schema_version(&store.conn, &path).unwrap(),
            migrate::latest_version()
        );
        let summary = store.snapshot(id).unwrap();
        assert_eq!(summary.status, SnapshotStatus::Complete);
        assert_eq!(summary.accounts_total, 1);
    }

    #[test]
    fn newer_schema_version_is_refused() {
        let (_dir, path) = temp_db();
        drop(Store::open_for_scan(&path).unwrap());
        let newer = migrate::latest_version() + 1;
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", newer)
            .unwrap();
        for err in [
            Store::open_existing(&path).err().unwrap(),
            Store::open_for_scan(&path).err().unwrap(),
        ] {
            assert!(
                matches!(err, StoreError::TooNew { found, .. } if found == newer),
                "{err}"
            );
            let message = err.to_string();
            assert!(
                message.contains("fleet.db") && message.contains("upgrade fleetscan"),
                "{message}"
            );
        }
    }

    #[test]
    fn non_sqlite_file_is_a_clear_error() {
        let (_dir, path) = temp_db();
        std::fs::write(&path, "this is a text file, not a database\n".repeat(200)).unwrap();
        for err in [
            Store::open_existing(&path).err().unwrap(),
            Store::open_for_scan(&path).err().unwrap(),
        ] {
            assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
            assert!(err.to_string().contains("fleet.db"), "{err}");
        }
    }

    #[test]
    fn someone_elses_sqlite_file_is_refused() {
        let (_dir, path) = temp_db();
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE recipes (name TEXT)")
            .unwrap();
        let err = Store::open_for_scan(&path).err().unwrap();
        assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let (_dir, path) = temp_db();
        let err = Store::open_existing(&path).err().unwrap();
        assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains("fleet.db does not exist"), "{err}");
        assert!(!path.exists(), "reading must not create the file");
    }

    #[test]
    fn stale_running_snapshot_is_aborted_by_the_next_scan() {
        let (_dir, path) = temp_db();
        let mut store = Store::open_for_scan(&path).unwrap();
        let id = store.begin_snapshot(&meta()).unwrap();
        // The process "dies": the lock goes away with the handle.
        drop(store);
        let reader = Store::open_existing(&path).unwrap();
        assert_eq!(
            reader.snapshot(id).unwrap().status,
            SnapshotStatus::Aborted,
            "a dead run lists as aborted"
        );
        let stored: String = reader
            .conn
            .query_row("SELECT status FROM snapshots WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(stored, "running", "listing does not write");
        let store = Store::open_for_scan(&path).unwrap();
        let stored: String = store
            .conn
            .query_row("SELECT status FROM snapshots WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(stored, "aborted");
    }

    #[test]
    fn running_snapshot_of_a_live_scan_lists_as_running() {
        let (_dir, path) = temp_db();
        let mut store = Store::open_for_scan(&path).unwrap();
        let id = store.begin_snapshot(&meta()).unwrap();
        let reader = Store::open_existing(&path).unwrap();
        assert_eq!(
            reader.list_snapshots().unwrap()[0].status,
            SnapshotStatus::Running
        );
        assert_eq!(store.snapshot(id).unwrap().status, SnapshotStatus::Running);
    }

    #[test]
    fn second_scan_on_the_same_file_is_refused() {
        let (_dir, path) = temp_db();
        let first = Store::open_for_scan(&path).unwrap();
        let err = Store::open_for_scan(&path).err().unwrap();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("fleet.db") && message.contains("in use by another fleetscan"),
            "{message}"
        );
        drop(first);
        Store::open_for_scan(&path).unwrap();
    }

    fn status_of(rows: Vec<Row>) -> SnapshotSummary {
        let (_dir, path) = temp_db();
        let (store, id) = write_snapshot(Store::open_for_scan(&path).unwrap(), rows);
        store.snapshot(id).unwrap()
    }

    #[test]
    fn status_is_complete_when_every_account_and_unit_is_ok() {
        let mut rows = vec![account("111111111111", AccountStatus::Ok)];
        rows.extend(ok_units("111111111111", "eu-west-1"));
        rows.push(unit(
            "111111111111",
            "ap-east-1",
            "ec2_instances",
            UnitStatus::RegionDisabled,
        ));
        rows.push(Row::Ec2Instance(instance(
            "111111111111",
            "eu-west-1",
            "i-1",
        )));
        let summary = status_of(rows);
        assert_eq!(summary.status, SnapshotStatus::Complete);
        assert_eq!(
            (
                summary.accounts_total,
                summary.accounts_ok,
                summary.accounts_failed
            ),
            (1, 1, 0)
        );
        assert_eq!(summary.resources["ec2_instances"], 1);
        assert_eq!(summary.resources["s3_buckets"], 0);
        assert!(summary.failed_units.is_empty());
        assert!(summary.finished_at.is_some());
    }

    #[test]
    fn status_is_partial_when_some_units_or_accounts_failed() {
        let mut rows = vec![
            account("111111111111", AccountStatus::Partial),
            account("222222222222", AccountStatus::AssumeFailed),
        ];
        rows.extend(ok_units("111111111111", "eu-west-1"));
        rows.push(unit(
            "111111111111",
            "us-east-1",
            "ec2_volumes",
            UnitStatus::Denied,
        ));
        let summary = status_of(rows);
        assert_eq!(summary.status, SnapshotStatus::Partial);
        assert_eq!(
            (
                summary.accounts_total,
                summary.accounts_ok,
                summary.accounts_failed
            ),
            (2, 0, 2)
        );
        assert_eq!(summary.failed_units.len(), 1);
        assert_eq!(summary.failed_units[0].collector, "ec2_volumes");
        assert_eq!(summary.failed_units[0].status, UnitStatus::Denied);
    }

    #[test]
    fn status_is_failed_when_no_account_could_be_read() {
        let rows = vec![
            account("111111111111", AccountStatus::AssumeFailed),
            account("222222222222", AccountStatus::AssumeFailed),
        ];
        let summary = status_of(rows);
        assert_eq!(summary.status, SnapshotStatus::Failed);
        assert_eq!(summary.accounts_failed, 2);
    }

    #[test]
    fn fail_snapshot_records_the_reason_and_refuses_twice() {
        let (_dir, path) = temp_db();
        let mut store = Store::open_for_scan(&path).unwrap();
        let id = store.begin_snapshot(&meta()).unwrap();
        store
            .fail_snapshot(id, "planner: Organizations denied")
            .unwrap();
        let summary = store.snapshot(id).unwrap();
        assert_eq!(summary.status, SnapshotStatus::Failed);
        let error: String = store
            .conn
            .query_row("SELECT error FROM snapshots WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(error, "planner: Organizations denied");
        assert!(store.finish_snapshot(id).is_err());
        assert!(matches!(
            store.snapshot(id + 5),
            Err(StoreError::UnknownSnapshot { .. })
        ));
    }

    #[test]
    fn list_snapshots_shows_counts_oldest_first() {
        let (_dir, path) = temp_db();
        let store = Store::open_for_scan(&path).unwrap();
        let mut rows = vec![account("111111111111", AccountStatus::Ok)];
        rows.extend(ok_units("111111111111", "eu-west-1"));
        rows.push(Row::S3Bucket(bucket("111111111111", "logs")));
        let (store, first) = write_snapshot(store, rows.clone());
        let (store, second) = write_snapshot(store, rows);
        let listed = store.list_snapshots().unwrap();
        assert_eq!(
            listed.iter().map(|summary| summary.id).collect::<Vec<_>>(),
            vec![first, second]
        );
        assert_eq!(listed[1].resources["s3_buckets"], 1);
        assert!(listed[1].duration_seconds().is_some());
        assert_eq!(store.usable_snapshot_ids().unwrap(), vec![second, first]);
    }
}
