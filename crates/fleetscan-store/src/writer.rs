//! The writer thread: owns the connection during a scan, receives rows over a
//! bounded channel and inserts them with cached statements in batched
//! transactions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use crate::checkpoint::{Checkpointer, WAL_PAGES_LIMIT};
use crate::error::{SqliteContext, StoreError};
use crate::insert::{self, TableRow, insert_sql};
use crate::rows::{
    AccountRow, Ec2InstanceRow, Ec2SecurityGroupRow, Ec2SecurityGroupRuleRow, Ec2VolumeRow, Row,
    S3AccountPublicAccessBlockRow, S3BucketRow, ScanUnitRow,
};
use crate::store::{Store, close_snapshot};

/// Rows per transaction. Every commit writes each page the transaction
/// dirtied to the WAL; rows of many accounts arrive interleaved, so their
/// primary-key inserts land all over the index and a small transaction
/// rewrites nearly the same index pages again and again (5,000 rows per
/// commit cost about a third of the writer's time). Readers are never
/// starved in WAL mode, and a crash loses nothing that mattered: an
/// unfinished snapshot ends `aborted` either way.
const COMMIT_EVERY_ROWS: usize = 50_000;

/// Page cache of the connection while it writes, sized to the primary-key
/// indexes of the rows written so far and capped. Those indexes are the hot
/// set: rows of many accounts arrive interleaved, so consecutive inserts
/// land all over them, and when they do not fit SQLite's default cache
/// (2,000 KiB) each insert reads a page back from the file and evicts a dirty
/// one (a third of the writer's time at 200,000 instances, more beyond).
/// Never below SQLite's default, never above the cap.
///
/// The cap is what keeps a scan's memory flat whatever the fleet: SQLite
/// keeps every page it touched until the cache is full, so a larger cap is
/// memory that grows with the rows written. At 8 MiB the 2,000-account
/// memory benchmark stays within 1.3× of the 200-account one (with 64 MiB it
/// did not). The cache matters most when every row lands somewhere else in
/// the index (store_bench's worst-case order: about 80,000 instance rows/s
/// at 1,000,000 rows when the cap was set, 64 MiB gave 110,000); in the order
/// a scan sends rows, a batch of one account and region at a time, the
/// index pages a batch touches are few and stay cached.
const WRITER_CACHE_MIN_KIB: i64 = 2_000;
const WRITER_CACHE_MAX_KIB: i64 = 8 * 1024;
/// Primary-key index bytes per row: snapshot id, account, region, resource
/// id and rowid, plus the slack of B-tree pages filled in random order.
const INDEX_BYTES_PER_ROW: i64 = 80;

/// The writer's page cache in KiB for a transaction that starts after
/// `rows_written` rows: room for the index as it will be when it commits.
fn writer_cache_kib(rows_written: u64) -> i64 {
    let rows = i64::try_from(rows_written)
        .unwrap_or(i64::MAX)
        .saturating_add(COMMIT_EVERY_ROWS as i64);
    let index_kib = rows.saturating_mul(INDEX_BYTES_PER_ROW) / 1024;
    index_kib.clamp(WRITER_CACHE_MIN_KIB, WRITER_CACHE_MAX_KIB)
}

/// The scanner's end of the channel. Cheap to clone: one per task.
#[derive(Clone)]
pub struct RowSink {
    sender: mpsc::Sender<Vec<Row>>,
    path: Arc<PathBuf>,
}

impl RowSink {
    /// Queues rows for the writer, waiting while the channel is full
    /// (backpressure: a fast scan never buffers the fleet in memory).
    /// Fails when the writer thread has stopped (full disk, ...); its own
    /// error comes out of [`WriterHandle::join`].
    pub async fn send(&self, rows: Vec<Row>) -> Result<(), StoreError> {
        self.sender
            .send(rows)
            .await
            .map_err(|_| StoreError::WriterGone {
                path: self.path.as_ref().clone(),
                reason: "the writer thread has stopped; its error is reported when the scan ends"
                    .to_owned(),
            })
    }
}

/// The scan's handle on the writer thread.
pub struct WriterHandle {
    thread: JoinHandle<Result<Store, StoreError>>,
    path: PathBuf,
}

impl WriterHandle {
    /// Waits until every [`RowSink`] is dropped and the last rows are
    /// committed, then gives the store back for `finish_snapshot`.
    ///
    /// When the writer failed (full disk, ...) this returns its error; the
    /// writer has then already marked the snapshot `failed` if it still could
    /// (otherwise the next scan marks it `aborted`). Rows committed before
    /// the failure stay, earlier snapshots are untouched.
    pub fn join(self) -> Result<Store, StoreError> {
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => Err(StoreError::WriterGone {
                path: self.path,
                reason: "the writer thread panicked".to_owned(),
            }),
        }
    }
}

impl Store {
    /// Moves the connection to a dedicated writer thread fed by a bounded
    /// channel of `channel_capacity` batches.
    pub fn spawn_writer(
        self,
        snapshot_id: i64,
        channel_capacity: usize,
    ) -> (RowSink, WriterHandle) {
        self.spawn_writer_with_wal_limit(snapshot_id, channel_capacity, WAL_PAGES_LIMIT)
    }

    /// [`Store::spawn_writer`] with the WAL bounded to `wal_pages_limit`
    /// pages (plus one commit) instead of [`WAL_PAGES_LIMIT`].
    pub(crate) fn spawn_writer_with_wal_limit(
        self,
        snapshot_id: i64,
        channel_capacity: usize,
        wal_pages_limit: i64,
    ) -> (RowSink, WriterHandle) {
        let (sender, receiver) = mpsc::channel(channel_capacity.max(1));
        let path = self.path.clone();
        let thread = std::thread::Builder::new()
            .name("fleetscan-writer".to_owned())
            .spawn(move || run_writer(self, snapshot_id, receiver, wal_pages_limit));
        let thread = match thread {
            Ok(thread) => thread,
            // The OS refused a thread: report it through join like any writer failure.
            Err(err) => {
                let reason = format!("cannot start the writer thread: {err}");
                let failed_path = path.clone();
                std::thread::spawn(move || {
                    Err(StoreError::WriterGone {
                        path: failed_path,
                        reason,
                    })
                })
            }
        };
        (
            RowSink {
                sender,
                path: Arc::new(path.clone()),
            },
            WriterHandle { thread, path },
        )
    }
}

fn run_writer(
    mut store: Store,
    snapshot_id: i64,
    mut receiver: mpsc::Receiver<Vec<Row>>,
    wal_pages_limit: i64,
) -> Result<Store, StoreError> {
    let result = with_writer_settings(&store.conn, &store.path, || {
        write_all(
            &store.conn,
            &store.path,
            snapshot_id,
            &mut receiver,
            wal_pages_limit,
        )
    });
    match result {
        Ok(()) => Ok(store),
        Err(err) => {
            // Stop accepting rows first, so senders fail fast instead of waiting.
            receiver.close();
            let _ = store.conn.execute_batch("ROLLBACK");
            tracing::error!(path = %store.path.display(), error = %err, "database writer stopped");
            if let Err(close_err) = close_snapshot(
                &mut store.conn,
                &store.path,
                snapshot_id,
                Some(&err.to_string()),
            ) {
                tracing::warn!(error = %close_err, "could not mark the snapshot failed; the next scan marks it aborted");
            }
            Err(err)
        }
    }
}

/// Runs `write` with the connection set up for writing, then sets it back:
/// the page cache it grew is given back, and foreign keys are on again.
///
/// Foreign keys are off while the writer inserts: with them on, every insert
/// counts its foreign key and checks the count when the statement ends, which
/// may abort it after the row is written and so costs a statement journal per
/// row (see `migrations/0005_insert_guards_fail.sql`). Nothing the writer
/// inserts escapes the check: the guard trigger of each table refuses a row
/// whose snapshot is not `running`, and a snapshot that does not exist is not
/// `running`. The writer never deletes, so no cascade is missed.
fn with_writer_settings(
    conn: &Connection,
    path: &Path,
    write: impl FnOnce() -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let previous_cache: i64 = conn
        .query_row("PRAGMA cache_size", [], |row| row.get(0))
        .context(path, "configure")?;
    set_foreign_keys(conn, path, false)?;
    let result = write();
    // The pragma does nothing inside a transaction: end a failed one first.
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    // Shrinking the cache frees its pages; a failure here costs memory, not data.
    if let Err(err) = conn.pragma_update(None, "cache_size", previous_cache) {
        tracing::debug!(error = %err, "could not restore the page cache size");
    }
    // Prune relies on foreign keys to delete a snapshot's rows: a store
    // handed back without them is an error, not a log line.
    let restored = set_foreign_keys(conn, path, true);
    result.and(restored)
}

/// Turns foreign key enforcement on or off and checks that it took (SQLite
/// ignores the pragma inside a transaction).
fn set_foreign_keys(conn: &Connection, path: &Path, on: bool) -> Result<(), StoreError> {
    conn.pragma_update(None, "foreign_keys", on)
        .context(path, "configure")?;
    let now: bool = conn
        .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
        .context(path, "configure")?;
    if now == on {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "could not turn foreign keys {} for the writer",
                if on { "on" } else { "off" }
            ),
        })
    }
}

/// The batching loop: a transaction stays open while rows keep coming, and is
/// committed every [`COMMIT_EVERY_ROWS`] rows or as soon as the channel is
/// momentarily empty (so a slow scan's rows are durable early).
fn write_all(
    conn: &Connection,
    path: &Path,
    snapshot_id: i64,
    receiver: &mut mpsc::Receiver<Vec<Row>>,
    wal_pages_limit: i64,
) -> Result<(), StoreError> {
    let sql = WriterSql::new();
    let mut checkpointer = Checkpointer::start(conn, path, wal_pages_limit);
    let mut json = Vec::new();
    let mut uncommitted = 0usize;
    let mut in_transaction = false;
    let mut rows_written = 0u64;
    let mut cache_kib = 0i64;
    loop {
        let batch = if in_transaction {
            match receiver.try_recv() {
                Ok(batch) => Some(batch),
                Err(TryRecvError::Empty) => {
                    conn.execute_batch("COMMIT")
                        .context(path, "commit rows to")?;
                    checkpointer.committed(uncommitted);
                    in_transaction = false;
                    uncommitted = 0;
                    continue;
                }
                Err(TryRecvError::Disconnected) => None,
            }
        } else {
            receiver.blocking_recv()
        };
        let Some(batch) = batch else { break };
        if batch.is_empty() {
            continue;
        }
        if !in_transaction {
            let wanted = writer_cache_kib(rows_written);
            if wanted != cache_kib {
                // A larger cache only makes writing faster: failing to grow
                // it costs speed, not data, so the rows are written anyway.
                if let Err(err) = conn.pragma_update(None, "cache_size", -wanted) {
                    tracing::debug!(error = %err, "could not grow the page cache");
                }
                cache_kib = wanted;
            }
            checkpointer.before_transaction();
            conn.execute_batch("BEGIN")
                .context(path, "start a transaction in")?;
            in_transaction = true;
        }
        insert_batch(conn, path, &sql, snapshot_id, &batch, &mut json)?;
        uncommitted += batch.len();
        rows_written += batch.len() as u64;
        if uncommitted >= COMMIT_EVERY_ROWS || checkpointer.wants_commit() {
            conn.execute_batch("COMMIT")
                .context(path, "commit rows to")?;
            checkpointer.committed(uncommitted);
            in_transaction = false;
            uncommitted = 0;
        }
    }
    if in_transaction {
        conn.execute_batch("COMMIT")
            .context(path, "commit rows to")?;
    }
    checkpointer.finish();
    Ok(())
}

/// The `INSERT` of every row type, built once per writer.
struct WriterSql {
    account: String,
    unit: String,
    instance: String,
    security_group: String,
    security_group_rule: String,
    volume: String,
    bucket: String,
    account_block: String,
}

impl WriterSql {
    fn new() -> WriterSql {
        WriterSql {
            account: insert_sql::<AccountRow>(),
            unit: insert_sql::<ScanUnitRow>(),
            instance: insert_sql::<Ec2InstanceRow>(),
            security_group: insert_sql::<Ec2SecurityGroupRow>(),
            security_group_rule: insert_sql::<Ec2SecurityGroupRuleRow>(),
            volume: insert_sql::<Ec2VolumeRow>(),
            bucket: insert_sql::<S3BucketRow>(),
            account_block: insert_sql::<S3AccountPublicAccessBlockRow>(),
        }
    }
}

/// Inserts a batch of rows of `snapshot_id`, each run of rows of one type
/// with one prepared statement (a statement-cache lookup per row costs as
/// much as binding the row).
fn insert_batch(
    conn: &Connection,
    path: &Path,
    sql: &WriterSql,
    snapshot_id: i64,
    batch: &[Row],
    json: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let mut rest = batch;
    while let Some(first) = rest.first() {
        type Run =
            fn(&Connection, &Path, &str, i64, &[Row], &mut Vec<u8>) -> Result<usize, StoreError>;
        let (sql, run): (&String, Run) = match first {
            Row::Account(_) => (&sql.account, insert_run::<AccountRow>),
            Row::Unit(_) => (&sql.unit, insert_run::<ScanUnitRow>),
            Row::Ec2Instance(_) => (&sql.instance, insert_run::<Ec2InstanceRow>),
            Row::Ec2SecurityGroup(_) => (&sql.security_group, insert_run::<Ec2SecurityGroupRow>),
            Row::Ec2SecurityGroupRule(_) => (
                &sql.security_group_rule,
                insert_run::<Ec2SecurityGroupRuleRow>,
            ),
            Row::Ec2Volume(_) => (&sql.volume, insert_run::<Ec2VolumeRow>),
            Row::S3Bucket(_) => (&sql.bucket, insert_run::<S3BucketRow>),
            Row::S3AccountPublicAccessBlock(_) => (
                &sql.account_block,
                insert_run::<S3AccountPublicAccessBlockRow>,
            ),
        };
        let inserted = run(conn, path, sql, snapshot_id, rest, json)?;
        rest = &rest[inserted.max(1)..];
    }
    Ok(())
}

/// Inserts the leading run of `T` rows of `rows`; returns how many it took.
fn insert_run<T: TableRow>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    snapshot_id: i64,
    rows: &[Row],
    json: &mut Vec<u8>,
) -> Result<usize, StoreError> {
    let run: Vec<&T> = rows.iter().map_while(T::from_row).collect();
    insert::insert_all(conn, sql, snapshot_id, &run, json, |row, source| {
        StoreError::sqlite(path, row.describe(), source)
    })?;
    Ok(run.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rows::{AccountStatus, RuleDirection, Tags, UnitStatus};
    use crate::store::SnapshotStatus;
    use crate::testing::*;

    /// One of every row type, with every optional field set (weird strings
    /// included) and, for a second copy, every optional field empty.
    fn every_row_type(account_id: &str) -> Vec<Row> {
        let mut rows = vec![account(account_id, AccountStatus::Ok)];
        rows.extend(ok_units(account_id, "eu-west-1"));
        let mut full = instance(account_id, "eu-west-1", "i-full");
        full.name = Some(WEIRD.to_owned());
        full.public_ip = Some("203.0.113.7".to_owned());
        full.iam_instance_profile_arn = Some("arn:aws:iam::1:instance-profile/x".to_owned());
        full.platform = Some("windows".to_owned());
        full.security_group_ids = vec!["sg-b".to_owned(), "sg-a".to_owned()];
        full.tags = tags(&[(WEIRD, WEIRD), ("empty", "")]);
        rows.push(Row::Ec2Instance(full));
        rows.push(Row::Ec2Instance(Ec2InstanceRow {
            account_id: account_id.to_owned(),
            region: "eu-west-1".to_owned(),
            instance_id: "i-bare".to_owned(),
            name: None,
            state: None,
            instance_type: None,
            image_id: None,
            launch_time: None,
            availability_zone: None,
            vpc_id: None,
            subnet_id: None,
            private_ip: None,
            public_ip: None,
            iam_instance_profile_arn: None,
            key_name: None,
            platform: None,
            imds_http_tokens: None,
            imds_http_endpoint: None,
            security_group_ids: Vec::new(),
            tags: Tags::new(),
        }));
        let mut group = security_group(account_id, "eu-west-1", "sg-a");
        group.description = Some(WEIRD.to_owned());
        rows.push(Row::Ec2SecurityGroup(group));
        let mut open = rule(account_id, "eu-west-1", "sg-a", 22);
        open.cidr = Some("::/0".to_owned());
        open.description = Some(WEIRD.to_owned());
        rows.push(Row::Ec2SecurityGroupRule(open));
        rows.push(Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
            direction: RuleDirection::Egress,
            protocol: "-1".to_owned(),
            from_port: None,
            to_port: None,
            cidr: None,
            prefix_list_id: Some("pl-1".to_owned()),
            ..rule(account_id, "eu-west-1", "sg-a", 0)
        }));
        rows.push(Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
            cidr: None,
            referenced_group_id: Some("sg-b".to_owned()),
            ..rule(account_id, "eu-west-1", "sg-a", 443)
        }));
        let mut unencrypted = volume(account_id, "eu-west-1", "vol-1");
        unencrypted.encrypted = Some(false);
        unencrypted.kms_key_id = None;
        unencrypted.attached_instance_ids = vec!["i-2".to_owned(), "i-1".to_owned()];
        unencrypted.tags = tags(&[("k", WEIRD)]);
        rows.push(Row::Ec2Volume(unencrypted));
        rows.push(Row::Ec2Volume(Ec2VolumeRow {
            encrypted: None,
            ..volume(account_id, "eu-west-1", "vol-2")
        }));
        let mut weird_bucket = bucket(account_id, "weird-bucket");
        weird_bucket.tags = Some(tags(&[(WEIRD, "1")]));
        weird_bucket.public_acl_grants = Some(vec!["AllUsers:READ".to_owned()]);
        weird_bucket.fetch_errors =
            [("GetBucketLogging".to_owned(), "AccessDenied".to_owned())].into();
        rows.push(Row::S3Bucket(weird_bucket));
        rows.push(Row::S3Bucket(S3BucketRow {
            account_id: account_id.to_owned(),
            bucket_name: "bare".to_owned(),
            ..S3BucketRow::default()
        }));
        rows.push(Row::S3AccountPublicAccessBlock(account_block(
            account_id,
            Some(true),
        )));
        rows
    }

    #[test]
    fn writer_round_trips_every_row_type_verbatim() {
        let (_dir, path) = temp_db();
        let mut rows = every_row_type("111111111111");
        rows.extend(every_row_type("222222222222"));
        rows.push(Row::S3AccountPublicAccessBlock(account_block(
            "333333333333",
            None,
        )));
        let (store, id) = write_snapshot(Store::open_for_scan(&path).unwrap(), rows.clone());
        let mut expected = rows;
        sort_rows(&mut expected);
        assert_eq!(read_rows(&store.conn, id), expected);
    }

    #[test]
    fn account_written_again_keeps_its_last_version_within_and_across_batches() {
        let (_dir, path) = temp_db();
        let early = |status| {
            let Row::Account(mut row) = account("111111111111", status) else {
                unreachable!("account() builds an account row")
            };
            row.name = Some(format!("{status:?}"));
            Row::Account(row)
        };
        let mut store = Store::open_for_scan(&path).unwrap();
        let id = store.begin_snapshot(&meta()).unwrap();
        let (sink, handle) = store.spawn_writer(id, 4);
        futures::executor::block_on(async {
            // The same run of account rows holds it twice, then a later batch a third time.
            sink.send(vec![
                early(AccountStatus::Skipped),
                early(AccountStatus::Partial),
            ])
            .await
            .unwrap();
            sink.send(vec![
                Row::Ec2Instance(instance("111111111111", "eu-west-1", "i-1")),
                early(AccountStatus::Ok),
            ])
            .await
            .unwrap();
        });
        drop(sink);
        let store = handle.join().unwrap();
        let (name, status, count): (String, String, i64) = store
            .conn
            .query_row(
                "SELECT max(name), max(status), count(*) FROM accounts WHERE snapshot_id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .unwrap();
        assert_eq!((name.as_str(), status.as_str(), count), ("Ok", "ok", 1));
    }

    #[test]
    fn writer_cache_follows_the_rows_written_between_bounds() {
        let next_commit = COMMIT_EVERY_ROWS as i64;
        assert_eq!(
            writer_cache_kib(0),
            (next_commit * INDEX_BYTES_PER_ROW / 1024).max(WRITER_CACHE_MIN_KIB)
        );
        assert_eq!(
            writer_cache_kib(20_000),
            (20_000 + next_commit) * INDEX_BYTES_PER_ROW / 1024
        );
        assert!(writer_cache_kib(20_000) < writer_cache_kib(40_000));
        assert_eq!(writer_cache_kib(200_000), WRITER_CACHE_MAX_KIB);
        assert_eq!(writer_cache_kib(1_000_000), WRITER_CACHE_MAX_KIB);
        assert_eq!(writer_cache_kib(u64::MAX), WRITER_CACHE_MAX_KIB);
    }

    #[test]
    fn writer_gives_its_page_cache_back_when_it_ends() {
        let (_dir, path) = temp_db();
        let mut store = Store::open_for_scan(&path).unwrap();
        let before: i64 = store
            .conn
            .query_row("PRAGMA cache_size", [], |row| row.get(0))
            .unwrap();
        let id = store.begin_snapshot(&meta()).unwrap();
        let (sink, handle) = store.spawn_writer(id, 1);
        // Enough rows for the cache to grow past the default.
        let rows = 2 * COMMIT_EVERY_ROWS;
        assert!(writer_cache_kib(rows as u64) > -before);
        futures::executor::block_on(async {
            for chunk in 0..rows / 1000 {
                let batch = (0..1000)
                    .map(|index| {
                        let instance_id = format!("i-{chunk}-{index}");
                        Row::Ec2Instance(instance("111111111111", "eu-west-1", &instance_id))
                    })
                    .collect();
                sink.send(batch).await.unwrap();
            }
        });
        drop(sink);
        let store = handle.join().unwrap();
        let after: i64 = store
            .conn
            .query_row("PRAGMA cache_size", [], |row| row.get(0))
            .unwrap();
        assert_eq!(after, before);
    }

    /// `(opcode, p2)` of every instruction of `sql`, its trigger programs included.
    fn opcodes(conn: &Connection, sql: &str) -> Vec<(String, i64)> {
        let mut statement = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
        let mut rows = statement.raw_query();
        let mut opcodes = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            opcodes.push((row.get(1).unwrap(), row.get(3).unwrap()));
        }
        opcodes
    }

    #[test]
    fn writer_inserts_cannot_abort_after_writing_so_need_no_statement_journal() {
        // SQLite keeps a statement journal for a statement that is a
        // multi-write (the guard trigger makes every insert one) and may
        // ABORT: a constraint or RAISE halting with OE_Abort (p2 = 2) or an
        // immediate foreign key counted until the statement ends (FkCounter).
        const OE_ABORT: i64 = 2;
        let (_dir, path) = temp_db();
        let store = Store::open_for_scan(&path).unwrap();
        let sql = WriterSql::new();
        // Accounts are an upsert whose UPDATE guard may abort; there are few of them.
        let per_row = [
            &sql.unit,
            &sql.instance,
            &sql.security_group,
            &sql.security_group_rule,
            &sql.volume,
            &sql.bucket,
            &sql.account_block,
        ];
        with_writer_settings(&store.conn, &store.path, || {
            for insert in per_row {
                let opcodes = opcodes(&store.conn, insert);
                assert!(
                    opcodes.iter().any(|(opcode, _)| opcode == "Program"),
                    "the guard trigger runs: {insert}"
                );
                for (opcode, p2) in opcodes {
                    assert!(
                        opcode != "FkCounter"
                            && !((opcode == "Halt" || opcode == "HaltIfNull") && p2 == OE_ABORT),
                        "{opcode} {p2} may abort: {insert}"
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn writer_hands_the_store_back_with_foreign_keys_on() {
        let (_dir, path) = temp_db();
        let (store, first) = write_snapshot(
            Store::open_for_scan(&path).unwrap(),
            every_row_type("111111111111"),
        );
        let foreign_keys: bool = store
            .conn
            .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
            .unwrap();
        assert!(foreign_keys);
        let (mut store, _) = write_snapshot(store, every_row_type("111111111111"));
        // Pruning with the same handle deletes the rows with the snapshot.
        assert!(store.prune(1).unwrap().deleted.contains(&first));
        let left: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM ec2_instances WHERE snapshot_id = ?1",
                [first],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn writer_refuses_rows_of_a_finished_or_unknown_snapshot() {
        let (_dir, path) = temp_db();
        let rows = every_row_type("111111111111");
        let (mut store, finished) =
            write_snapshot(Store::open_for_scan(&path).unwrap(), rows.clone());
        let unknown = finished + 100;
        for snapshot_id in [finished, unknown] {
            // One row of each type, each alone in its batch: every table's guard is reached.
            for row in &rows {
                let (sink, handle) = store.spawn_writer(snapshot_id, 1);
                let _ = futures::executor::block_on(sink.send(vec![row.clone()]));
                drop(sink);
                let err = handle.join().err().unwrap();
                assert!(
                    err.to_string()
                        .contains("rows can only be added to a running snapshot"),
                    "{row:?}: {err}"
                );
                store = Store::open_for_scan(&path).unwrap();
            }
        }
        let mut expected = rows;
        sort_rows(&mut expected);
        assert_eq!(read_rows(&store.conn, finished), expected);
        assert_eq!(read_rows(&store.conn, unknown), Vec::new());
        assert_eq!(
            store.snapshot(finished).unwrap().status,
            SnapshotStatus::Complete
        );
    }

    #[test]
    fn writer_checkpoints_beside_itself_and_keeps_the_wal_bounded() {
        let (_dir, path) = temp_db();
        let mut store = Store::open_for_scan(&path).unwrap();
        let id = store.begin_snapshot(&meta()).unwrap();
        let limit_pages = 64;
        let (sink, handle) = store.spawn_writer_with_wal_limit(id, 1, limit_pages);
        let reader = Connection::open(&path).unwrap();
        // Checkpoints are asked for every CHECKPOINT_EVERY_ROWS rows, and at
        // every commit once the WAL is past its limit: it stays near that,
        // far below the snapshot.
        let total = 20_000;
        futures::executor::block_on(async {
            for chunk in 0..total / 500 {
                let batch = (0..500)
                    .map(|index| {
                        let mut row = instance(
                            "111111111111",
                            "eu-west-1",
                            &format!("i-{chunk:03}-{index:03}"),
                        );
                        row.tags = tags(&[("padding", &"x".repeat(500))]);
                        Row::Ec2Instance(row)
                    })
                    .collect();
                sink.send(batch).await.unwrap();
                // One commit per batch: the writer commits once the channel
                // is empty, the next batch waits until it has.
                let sent = (chunk + 1) * 500;
                while reader
                    .query_row("SELECT count(*) FROM ec2_instances", [], |row| {
                        row.get::<_, i64>(0)
                    })
                    .unwrap()
                    < sent
                {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        });
        drop(sink);
        let store = handle.join().unwrap();
        let database = std::fs::metadata(&path).unwrap().len();
        let wal = std::fs::metadata(format!("{}-wal", path.display()))
            .unwrap()
            .len();
        // The WAL file never shrinks: its size is the most it ever held.
        assert!(database > 10_000_000, "{database}");
        assert!(wal < 5_000_000, "WAL grew to {wal} bytes");
        // Everything is in the database file, and the connection checkpoints
        // by itself again.
        let (frames, copied): (i64, i64) = store
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })
            .unwrap();
        assert_eq!(frames, copied);
        let auto_checkpoint: i64 = store
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
            .unwrap();
        assert_eq!(auto_checkpoint, 1000);
        let count: i64 = store
            .conn
            .query_row("SELECT count(*) FROM ec2_instances", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, total);
    }

    #[test]
    fn writer_commits_in_batches_and_keeps_every_row() {
        let (_dir, path) = temp_db();
        let mut store = Store::open_for_scan(&path).unwrap();
        let id = store.begin_snapshot(&meta()).unwrap();
        let (sink, handle) = store.spawn_writer(id, 2);
        let total = COMMIT_EVERY_ROWS * 2 + 17;
        let reader = Connection::open(&path).unwrap();
        futures::executor::block_on(async {
            let rows: Vec<Row> = (0..total)
                .map(|index| {
                    Row::Ec2Instance(instance(
                        "111111111111",
                        "eu-west-1",
                        &format!("i-{index:06}"),
                    ))
                })
                .collect();
            for chunk in rows.chunks(500) {
                sink.send(chunk.to_vec()).await.unwrap();
            }
        });
        // Another sender clone keeps the writer alive; rows sent so far are
        // committed in batches and therefore visible to another connection
        // before the writer ends.
        let second = sink.clone();
        drop(sink);
        let mut seen = 0i64;
        for _ in 0..200 {
            seen = reader
                .query_row("SELECT count(*) FROM ec2_instances", [], |row| row.get(0))
                .unwrap();
            if seen as usize == total {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(seen as usize, total, "committed while the channel was idle");
        drop(second);
        let mut store = handle.join().unwrap();
        let summary = store.finish_snapshot(id).unwrap();
        assert_eq!(summary.resources["ec2_instances"], total as u64);
    }

    #[test]
    fn duplicate_row_stops_the_writer_with_an_error_naming_the_row() {
        let (_dir, path) = temp_db();
        let mut store = Store::open_for_scan(&path).unwrap();
        let id = store.begin_snapshot(&meta()).unwrap();
        let (sink, handle) = store.spawn_writer(id, 1);
        let row = Row::Ec2Instance(instance("111111111111", "eu-west-1", "i-dup"));
        let sent = futures::executor::block_on(async {
            let mut results = Vec::new();
            for _ in 0..5 {
                results.push(sink.send(vec![row.clone(), row.clone()]).await);
            }
            results
        });
        drop(sink);
        assert!(
            sent.iter().any(Result::is_err),
            "senders notice the writer is gone"
        );
        let err = handle.join().err().unwrap();
        assert!(
            err.to_string()
                .contains("write instance i-dup of 111111111111"),
            "{err}"
        );
        let reader = Store::open_existing(&path).unwrap();
        assert_eq!(reader.snapshot(id).unwrap().status, SnapshotStatus::Failed);
    }

    #[test]
    fn disk_full_is_a_clear_error_and_earlier_snapshots_stay_intact() {
        let (_dir, path) = temp_db();
        let first_rows = every_row_type("111111111111");
        let (store, first) =
            write_snapshot(Store::open_for_scan(&path).unwrap(), first_rows.clone());
        let page_count: i64 = store
            .conn
            .query_row("PRAGMA page_count", [], |row| row.get(0))
            .unwrap();
        store
            .conn
            .pragma_update(None, "max_page_count", page_count + 8)
            .unwrap();
        let mut store = store;
        let second = store.begin_snapshot(&meta()).unwrap();
        let (sink, handle) = store.spawn_writer(second, 4);
        futures::executor::block_on(async {
            for batch in 0..200 {
                let rows = (0..100)
                    .map(|index| {
                        let mut row =
                            instance("111111111111", "eu-west-1", &format!("i-{batch}-{index}"));
                        row.tags = tags(&[("padding", &"x".repeat(200))]);
                        Row::Ec2Instance(row)
                    })
                    .collect();
                if sink.send(rows).await.is_err() {
                    break;
                }
            }
        });
        drop(sink);
        let err = handle.join().err().unwrap();
        assert!(err.is_disk_full(), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("fleet.db") && message.contains("full"),
            "{message}"
        );

        let reader = Store::open_existing(&path).unwrap();
        let mut expected = first_rows;
        sort_rows(&mut expected);
        assert_eq!(read_rows(&reader.conn, first), expected);
        assert_eq!(
            reader.snapshot(first).unwrap().status,
            SnapshotStatus::Complete
        );
        let integrity: String = reader
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
        assert_ne!(
            reader.snapshot(second).unwrap().status,
            SnapshotStatus::Complete
        );
    }

    #[test]
    fn unit_status_parsing_covers_every_variant() {
        for status in [
            UnitStatus::Ok,
            UnitStatus::Denied,
            UnitStatus::RegionDisabled,
            UnitStatus::Throttled,
            UnitStatus::Error,
        ] {
            assert_eq!(
                crate::store::parse_unit_status(status.as_str()),
                Some(status)
            );
        }
    }
}
