//! The writer thread: owns the connection during a scan, receives rows over a
//! bounded channel and inserts them with cached statements in batched
//! transactions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::{Connection, params};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use crate::error::{SqliteContext, StoreError};
use crate::rows::{
    AccountRow, Ec2InstanceRow, Ec2SecurityGroupRow, Ec2SecurityGroupRuleRow, Ec2VolumeRow, Row,
    S3AccountPublicAccessBlockRow, S3BucketRow, ScanUnitRow,
};
use crate::store::{Store, close_snapshot};

/// Rows per transaction: large enough that commits (an fsync each) are rare,
/// small enough that a crash loses little and readers are not starved.
const COMMIT_EVERY_ROWS: usize = 5_000;

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
        let (sender, receiver) = mpsc::channel(channel_capacity.max(1));
        let path = self.path.clone();
        let thread = std::thread::Builder::new()
            .name("fleetscan-writer".to_owned())
            .spawn(move || run_writer(self, snapshot_id, receiver));
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
) -> Result<Store, StoreError> {
    match write_all(&store.conn, &store.path, snapshot_id, &mut receiver) {
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

/// The batching loop: a transaction stays open while rows keep coming, and is
/// committed every [`COMMIT_EVERY_ROWS`] rows or as soon as the channel is
/// momentarily empty (so a slow scan's rows are durable early).
fn write_all(
    conn: &Connection,
    path: &Path,
    snapshot_id: i64,
    receiver: &mut mpsc::Receiver<Vec<Row>>,
) -> Result<(), StoreError> {
    let mut uncommitted = 0usize;
    let mut in_transaction = false;
    loop {
        let batch = if in_transaction {
            match receiver.try_recv() {
                Ok(batch) => Some(batch),
                Err(TryRecvError::Empty) => {
                    conn.execute_batch("COMMIT")
                        .context(path, "commit rows to")?;
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
            conn.execute_batch("BEGIN")
                .context(path, "start a transaction in")?;
            in_transaction = true;
        }
        for row in &batch {
            insert_row(conn, snapshot_id, row)
                .map_err(|source| StoreError::sqlite(path, describe(row), source))?;
        }
        uncommitted += batch.len();
        if uncommitted >= COMMIT_EVERY_ROWS {
            conn.execute_batch("COMMIT")
                .context(path, "commit rows to")?;
            in_transaction = false;
            uncommitted = 0;
        }
    }
    if in_transaction {
        conn.execute_batch("COMMIT")
            .context(path, "commit rows to")?;
    }
    Ok(())
}

/// What was being written, for the error message.
fn describe(row: &Row) -> String {
    match row {
        Row::Account(row) => format!("write account {}", row.account_id),
        Row::Unit(row) => format!(
            "write scan unit {}/{}/{}",
            row.account_id, row.region, row.collector
        ),
        Row::Ec2Instance(row) => {
            format!("write instance {} of {}", row.instance_id, row.account_id)
        }
        Row::Ec2SecurityGroup(row) => format!(
            "write security group {} of {}",
            row.group_id, row.account_id
        ),
        Row::Ec2SecurityGroupRule(row) => {
            format!("write a rule of {} of {}", row.group_id, row.account_id)
        }
        Row::Ec2Volume(row) => format!("write volume {} of {}", row.volume_id, row.account_id),
        Row::S3Bucket(row) => format!("write bucket {} of {}", row.bucket_name, row.account_id),
        Row::S3AccountPublicAccessBlock(row) => {
            format!(
                "write the account public access block of {}",
                row.account_id
            )
        }
    }
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}

/// Inserts one row of `snapshot_id` with a cached statement.
pub(crate) fn insert_row(conn: &Connection, snapshot_id: i64, row: &Row) -> rusqlite::Result<()> {
    match row {
        Row::Account(row) => insert_account(conn, snapshot_id, row),
        Row::Unit(row) => insert_unit(conn, snapshot_id, row),
        Row::Ec2Instance(row) => insert_instance(conn, snapshot_id, row),
        Row::Ec2SecurityGroup(row) => insert_security_group(conn, snapshot_id, row),
        Row::Ec2SecurityGroupRule(row) => insert_security_group_rule(conn, snapshot_id, row),
        Row::Ec2Volume(row) => insert_volume(conn, snapshot_id, row),
        Row::S3Bucket(row) => insert_bucket(conn, snapshot_id, row),
        Row::S3AccountPublicAccessBlock(row) => {
            insert_account_public_access_block(conn, snapshot_id, row)
        }
    }
}

fn insert_account(conn: &Connection, snapshot_id: i64, row: &AccountRow) -> rusqlite::Result<()> {
    // The scanner may write an account early and again with its final status:
    // the last write wins.
    conn.prepare_cached(
        "INSERT INTO accounts (snapshot_id, account_id, name, email, state, ou_path, role_arn, status, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (snapshot_id, account_id) DO UPDATE SET
             name = excluded.name, email = excluded.email, state = excluded.state, ou_path = excluded.ou_path,
             role_arn = excluded.role_arn, status = excluded.status, error = excluded.error",
    )?
    .execute(params![
        snapshot_id,
        row.account_id,
        row.name,
        row.email,
        row.state,
        row.ou_path,
        row.role_arn,
        row.status.as_str(),
        row.error,
    ])?;
    Ok(())
}

fn insert_unit(conn: &Connection, snapshot_id: i64, row: &ScanUnitRow) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO scan_units (snapshot_id, account_id, region, collector, status, error_code, error_message,
                                 resources, api_calls, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        snapshot_id,
        row.account_id,
        row.region,
        row.collector,
        row.status.as_str(),
        row.error_code,
        row.error_message,
        count(row.resources),
        count(row.api_calls),
        count(row.duration_ms),
    ])?;
    Ok(())
}

fn insert_instance(
    conn: &Connection,
    snapshot_id: i64,
    row: &Ec2InstanceRow,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO ec2_instances (snapshot_id, account_id, region, instance_id, name, state, instance_type, image_id,
                                    launch_time, availability_zone, vpc_id, subnet_id, private_ip, public_ip,
                                    iam_instance_profile_arn, key_name, platform, imds_http_tokens,
                                    imds_http_endpoint, security_group_ids, tags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
    )?
    .execute(params![
        snapshot_id,
        row.account_id,
        row.region,
        row.instance_id,
        row.name,
        row.state,
        row.instance_type,
        row.image_id,
        row.launch_time,
        row.availability_zone,
        row.vpc_id,
        row.subnet_id,
        row.private_ip,
        row.public_ip,
        row.iam_instance_profile_arn,
        row.key_name,
        row.platform,
        row.imds_http_tokens,
        row.imds_http_endpoint,
        json(&row.security_group_ids)?,
        json(&row.tags)?,
    ])?;
    Ok(())
}

fn insert_security_group(
    conn: &Connection,
    snapshot_id: i64,
    row: &Ec2SecurityGroupRow,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO ec2_security_groups (snapshot_id, account_id, region, group_id, group_name, description, vpc_id,
                                          tags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        snapshot_id,
        row.account_id,
        row.region,
        row.group_id,
        row.group_name,
        row.description,
        row.vpc_id,
        json(&row.tags)?,
    ])?;
    Ok(())
}

fn insert_security_group_rule(
    conn: &Connection,
    snapshot_id: i64,
    row: &Ec2SecurityGroupRuleRow,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO ec2_security_group_rules (snapshot_id, account_id, region, group_id, direction, protocol,
                                               from_port, to_port, cidr, prefix_list_id, referenced_group_id,
                                               description)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        snapshot_id,
        row.account_id,
        row.region,
        row.group_id,
        row.direction.as_str(),
        row.protocol,
        row.from_port,
        row.to_port,
        row.cidr,
        row.prefix_list_id,
        row.referenced_group_id,
        row.description,
    ])?;
    Ok(())
}

fn insert_volume(conn: &Connection, snapshot_id: i64, row: &Ec2VolumeRow) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO ec2_volumes (snapshot_id, account_id, region, volume_id, size_gib, volume_type, encrypted,
                                  kms_key_id, state, availability_zone, attached_instance_ids, create_time, tags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        snapshot_id,
        row.account_id,
        row.region,
        row.volume_id,
        row.size_gib,
        row.volume_type,
        row.encrypted,
        row.kms_key_id,
        row.state,
        row.availability_zone,
        json(&row.attached_instance_ids)?,
        row.create_time,
        json(&row.tags)?,
    ])?;
    Ok(())
}

fn insert_bucket(conn: &Connection, snapshot_id: i64, row: &S3BucketRow) -> rusqlite::Result<()> {
    let tags = row.tags.as_ref().map(json).transpose()?;
    let public_acl_grants = row.public_acl_grants.as_ref().map(json).transpose()?;
    conn.prepare_cached(
        "INSERT INTO s3_buckets (snapshot_id, account_id, bucket_name, region, creation_date, block_public_acls,
                                 ignore_public_acls, block_public_policy, restrict_public_buckets, policy_is_public,
                                 versioning, mfa_delete, sse_algorithm, kms_key_id, bucket_key_enabled,
                                 object_ownership, logging_target_bucket, tags, public_acl_grants, fetch_errors)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?
    .execute(params![
        snapshot_id,
        row.account_id,
        row.bucket_name,
        row.region,
        row.creation_date,
        row.block_public_acls,
        row.ignore_public_acls,
        row.block_public_policy,
        row.restrict_public_buckets,
        row.policy_is_public,
        row.versioning,
        row.mfa_delete,
        row.sse_algorithm,
        row.kms_key_id,
        row.bucket_key_enabled,
        row.object_ownership,
        row.logging_target_bucket,
        tags,
        public_acl_grants,
        json(&row.fetch_errors)?,
    ])?;
    Ok(())
}

fn insert_account_public_access_block(
    conn: &Connection,
    snapshot_id: i64,
    row: &S3AccountPublicAccessBlockRow,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO s3_account_public_access_block (snapshot_id, account_id, block_public_acls, ignore_public_acls,
                                                     block_public_policy, restrict_public_buckets)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        snapshot_id,
        row.account_id,
        row.block_public_acls,
        row.ignore_public_acls,
        row.block_public_policy,
        row.restrict_public_buckets,
    ])?;
    Ok(())
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
