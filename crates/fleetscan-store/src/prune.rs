//! Retention: `prune` keeps the newest usable snapshots, deletes the others
//! with all their rows (the only deletion the triggers of 0003 allow) and
//! gives the space back to the file system.

use rusqlite::params;
use serde::Serialize;

use crate::error::{SqliteContext, StoreError};
use crate::store::Store;

/// What a prune did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Usable snapshots kept, newest first.
    pub kept: Vec<i64>,
    /// Snapshots deleted with all their rows, oldest first.
    pub deleted: Vec<i64>,
    /// Snapshots left alone because they are still `running`.
    pub running: Vec<i64>,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

impl Store {
    /// Keeps the `keep` newest usable (`complete`/`partial`) snapshots and
    /// deletes every other finished one (older usable ones, `failed`,
    /// `aborted`). Takes the scan lock, so it never runs beside a scan: a
    /// snapshot still `running` when prune takes the lock belongs to a dead
    /// run and is marked `aborted` first, as the next scan would (and as
    /// `fleetscan snapshots` already shows it). One this handle is writing
    /// itself (it held the lock already) is left alone.
    pub fn prune(&mut self, keep: usize) -> Result<PruneReport, StoreError> {
        let had_lock = self.lock.is_some();
        self.ensure_lock()?;
        if !had_lock {
            self.abort_dead_runs()?;
        }
        let bytes_before = self.file_bytes();
        let usable = self.usable_snapshot_ids()?;
        let kept: Vec<i64> = usable.iter().copied().take(keep).collect();
        let (deleted, running) = {
            let mut statement = self
                .conn
                .prepare("SELECT id, status FROM snapshots ORDER BY id")
                .context(&self.path, "list snapshots in")?;
            let all = statement
                .query_map([], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .context(&self.path, "list snapshots in")?
                .collect::<Result<Vec<_>, _>>()
                .context(&self.path, "list snapshots in")?;
            let running: Vec<i64> = all
                .iter()
                .filter(|(_, status)| status == "running")
                .map(|(id, _)| *id)
                .collect();
            let deleted: Vec<i64> = all
                .iter()
                .filter(|(id, status)| status != "running" && !kept.contains(id))
                .map(|(id, _)| *id)
                .collect();
            (deleted, running)
        };

        if !deleted.is_empty() {
            let tx = self.conn.transaction().context(&self.path, "prune")?;
            for id in &deleted {
                // `pruning` is the one status from which the triggers allow a
                // delete; it never outlives this transaction.
                tx.execute(
                    "UPDATE snapshots SET status = 'pruning' WHERE id = ?1",
                    params![id],
                )
                .context(&self.path, format!("mark snapshot {id} for deletion in"))?;
                tx.execute("DELETE FROM snapshots WHERE id = ?1", params![id])
                    .context(&self.path, format!("delete snapshot {id} from"))?;
            }
            tx.commit().context(&self.path, "commit the prune of")?;
            // Deleted pages only become free space inside the file; VACUUM
            // rewrites it compactly, the checkpoint empties the WAL.
            self.conn
                .execute_batch("VACUUM")
                .context(&self.path, "reclaim space (VACUUM) in")?;
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .context(&self.path, "checkpoint")?;
        }
        Ok(PruneReport {
            kept,
            deleted,
            running,
            bytes_before,
            bytes_after: self.file_bytes(),
        })
    }

    /// `PRAGMA integrity_check`: `ok`, or SQLite's description of the damage.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let mut statement = self
            .conn
            .prepare("PRAGMA integrity_check")
            .context(&self.path, "check")?;
        let lines = statement
            .query_map([], |row| row.get::<_, String>(0))
            .context(&self.path, "check")?
            .collect::<Result<Vec<_>, _>>()
            .context(&self.path, "check")?;
        Ok(lines.join("\n"))
    }

    /// Size of the database plus its WAL.
    fn file_bytes(&self) -> u64 {
        let wal = {
            let mut name = self.path.as_os_str().to_owned();
            name.push("-wal");
            std::path::PathBuf::from(name)
        };
        [self.path.as_path(), wal.as_path()]
            .iter()
            .filter_map(|path| std::fs::metadata(path).ok())
            .map(|metadata| metadata.len())
            .sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::rows::*;
    use crate::store::{SnapshotStatus, Store};
    use crate::testing::*;
    use crate::{RESOURCE_TABLES, StoreError};

    const A: &str = "111111111111";

    fn fleet(instances: usize) -> Vec<Row> {
        let mut rows = vec![account(A, AccountStatus::Ok)];
        rows.extend(ok_units(A, "eu-west-1"));
        rows.extend(
            (0..instances)
                .map(|index| Row::Ec2Instance(instance(A, "eu-west-1", &format!("i-{index}")))),
        );
        rows.push(Row::Ec2SecurityGroup(security_group(
            A,
            "eu-west-1",
            "sg-1",
        )));
        rows.push(Row::Ec2SecurityGroupRule(rule(A, "eu-west-1", "sg-1", 22)));
        rows.push(Row::Ec2Volume(volume(A, "eu-west-1", "vol-1")));
        rows.push(Row::S3Bucket(bucket(A, "b")));
        rows.push(Row::S3AccountPublicAccessBlock(account_block(
            A,
            Some(true),
        )));
        rows
    }

    fn rows_of(store: &Store, id: i64) -> i64 {
        RESOURCE_TABLES
            .iter()
            .chain(&["accounts", "scan_units"])
            .map(|table| {
                store
                    .connection()
                    .query_row(
                        &format!("SELECT count(*) FROM {table} WHERE snapshot_id = ?1"),
                        [id],
                        |row| row.get::<_, i64>(0),
                    )
                    .unwrap()
            })
            .sum()
    }

    #[test]
    fn prune_keeps_the_newest_usable_and_never_the_running_one() {
        let (_dir, path) = temp_db();
        let store = Store::open_for_scan(&path).unwrap();
        let (store, oldest) = write_snapshot(store, fleet(300));
        let (store, failed) = write_snapshot(store, vec![account(A, AccountStatus::AssumeFailed)]);
        let (store, middle) = write_snapshot(store, fleet(300));
        let (mut store, newest) = write_snapshot(store, fleet(300));
        assert_eq!(
            store.snapshot(failed).unwrap().status,
            SnapshotStatus::Failed
        );
        let running = store.begin_snapshot(&meta()).unwrap();

        let report = store.prune(2).unwrap();
        assert_eq!(report.kept, vec![newest, middle]);
        assert_eq!(report.deleted, vec![oldest, failed]);
        assert_eq!(report.running, vec![running]);
        assert!(report.bytes_after < report.bytes_before, "{report:?}");
        let listed: Vec<i64> = store
            .list_snapshots()
            .unwrap()
            .iter()
            .map(|summary| summary.id)
            .collect();
        assert_eq!(listed, vec![middle, newest, running]);
        assert_eq!(
            rows_of(&store, oldest),
            0,
            "every row of a deleted snapshot goes"
        );
        assert!(rows_of(&store, newest) > 300);
        assert_eq!(store.integrity_check().unwrap(), "ok");
        let violations: i64 = store
            .connection()
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(violations, 0);

        // Pruning again with the same N changes nothing.
        let again = store.prune(2).unwrap();
        assert!(again.deleted.is_empty());
    }

    #[test]
    fn prune_aborts_and_deletes_the_snapshot_of_a_dead_run() {
        let (_dir, path) = temp_db();
        let (store, done) = write_snapshot(Store::open_for_scan(&path).unwrap(), fleet(10));
        let mut dying = store;
        let dead = dying.begin_snapshot(&meta()).unwrap();
        // The process dies: its lock goes with it, the snapshot stays `running`.
        drop(dying);

        let mut pruner = Store::open_existing(&path).unwrap();
        let report = pruner.prune(5).unwrap();
        assert_eq!(report.running, Vec::<i64>::new());
        assert_eq!(report.kept, vec![done]);
        assert_eq!(report.deleted, vec![dead]);
        assert!(matches!(
            pruner.snapshot(dead),
            Err(StoreError::UnknownSnapshot { .. })
        ));
    }

    #[test]
    fn prune_refuses_while_a_scan_holds_the_lock() {
        let (_dir, path) = temp_db();
        let (scan, _) = write_snapshot(Store::open_for_scan(&path).unwrap(), fleet(1));
        let mut pruner = Store::open_existing(&path).unwrap();
        assert!(matches!(pruner.prune(0), Err(StoreError::Locked { .. })));
        drop(scan);
        assert_eq!(pruner.prune(0).unwrap().deleted.len(), 1);
    }

    fn expect_refused(store: &Store, sql: &str) {
        let err = store
            .connection()
            .execute_batch(sql)
            .err()
            .unwrap_or_else(|| panic!("accepted: {sql}"));
        assert!(err.to_string().contains("fleetscan:"), "{sql}: {err}");
    }

    #[test]
    fn finished_snapshots_are_immutable() {
        let (_dir, path) = temp_db();
        let (store, id) = write_snapshot(Store::open_for_scan(&path).unwrap(), fleet(2));
        for sql in [
            format!("UPDATE ec2_instances SET public_ip = '1.2.3.4' WHERE snapshot_id = {id}"),
            format!("DELETE FROM ec2_instances WHERE snapshot_id = {id}"),
            format!("UPDATE accounts SET status = 'ok' WHERE snapshot_id = {id}"),
            format!("DELETE FROM scan_units WHERE snapshot_id = {id}"),
            format!("UPDATE s3_buckets SET policy_is_public = 1 WHERE snapshot_id = {id}"),
            format!("DELETE FROM ec2_security_group_rules WHERE snapshot_id = {id}"),
            format!("UPDATE ec2_volumes SET encrypted = 0 WHERE snapshot_id = {id}"),
            format!("DELETE FROM s3_account_public_access_block WHERE snapshot_id = {id}"),
            format!("UPDATE ec2_security_groups SET snapshot_id = 99 WHERE snapshot_id = {id}"),
            format!("INSERT INTO ec2_volumes (snapshot_id, account_id, region, volume_id) VALUES ({id}, 'x', 'y', 'z')"),
            format!("UPDATE snapshots SET status = 'partial' WHERE id = {id}"),
            format!("UPDATE snapshots SET status = 'running' WHERE id = {id}"),
            format!("UPDATE snapshots SET accounts_ok = 0 WHERE id = {id}"),
            format!("UPDATE snapshots SET status = 'pruning', error = 'x' WHERE id = {id}"),
            format!("DELETE FROM snapshots WHERE id = {id}"),
            "INSERT INTO snapshots (started_at, status, tool_version, config_digest) VALUES ('t', 'complete', 'v', 'd')"
                .to_owned(),
        ] {
            expect_refused(&store, &sql);
        }
        assert_eq!(rows_of(&store, id), fleet(2).len() as i64);
    }

    /// A hand-typed insert of one row into each table, for `snapshot_id`.
    fn insert_into_every_table(snapshot_id: i64) -> Vec<String> {
        [
            "accounts (snapshot_id, account_id, role_arn, status) VALUES (?, 'x', 'r', 'ok')",
            "scan_units (snapshot_id, account_id, region, collector, status) VALUES (?, 'x', 'r', 'c', 'ok')",
            "ec2_instances (snapshot_id, account_id, region, instance_id) VALUES (?, 'x', 'r', 'i')",
            "ec2_security_groups (snapshot_id, account_id, region, group_id) VALUES (?, 'x', 'r', 'g')",
            "ec2_security_group_rules (snapshot_id, account_id, region, group_id, direction, protocol) \
             VALUES (?, 'x', 'r', 'g', 'ingress', '-1')",
            "ec2_volumes (snapshot_id, account_id, region, volume_id) VALUES (?, 'x', 'r', 'v')",
            "s3_buckets (snapshot_id, account_id, bucket_name) VALUES (?, 'x', 'b')",
            "s3_account_public_access_block (snapshot_id, account_id) VALUES (?, 'x')",
        ]
        .iter()
        .map(|insert| format!("INSERT INTO {}", insert.replace('?', &snapshot_id.to_string())))
        .collect()
    }

    #[test]
    fn no_table_takes_rows_of_a_finished_or_unknown_snapshot_even_without_foreign_keys() {
        let (_dir, path) = temp_db();
        let (store, id) = write_snapshot(Store::open_for_scan(&path).unwrap(), fleet(2));
        let before = rows_of(&store, id);
        // The guards alone refuse a snapshot that does not exist, as the writer relies on.
        store
            .connection()
            .execute_batch("PRAGMA foreign_keys = OFF")
            .unwrap();
        for snapshot_id in [id, id + 1] {
            for sql in insert_into_every_table(snapshot_id) {
                expect_refused(&store, &sql);
            }
        }
        // A statement that copies rows into a finished snapshot adds none of them.
        expect_refused(
            &store,
            &format!(
                "INSERT INTO ec2_volumes SELECT {id}, account_id, region, volume_id || '-copy', size_gib, \
                 volume_type, encrypted, kms_key_id, state, availability_zone, attached_instance_ids, \
                 create_time, tags FROM ec2_volumes"
            ),
        );
        assert_eq!(rows_of(&store, id), before);
        assert_eq!(rows_of(&store, id + 1), 0);
    }

    #[test]
    fn a_statement_refused_midway_keeps_only_rows_of_running_snapshots() {
        // The insert guards stop a statement with FAIL (migration 0005): rows
        // it wrote before the refused one stay, and they are rows of a
        // running snapshot, which the guards allow.
        let (_dir, path) = temp_db();
        let (mut store, finished) = write_snapshot(Store::open_for_scan(&path).unwrap(), fleet(1));
        let running = store.begin_snapshot(&meta()).unwrap();
        expect_refused(
            &store,
            &format!(
                "INSERT INTO ec2_volumes (snapshot_id, account_id, region, volume_id) \
                 VALUES ({running}, 'x', 'r', 'v-1'), ({finished}, 'x', 'r', 'v-2')"
            ),
        );
        let volumes = |snapshot_id: i64| -> Vec<String> {
            let mut statement = store
                .connection()
                .prepare("SELECT volume_id FROM ec2_volumes WHERE snapshot_id = ?1 ORDER BY 1")
                .unwrap();
            statement
                .query_map([snapshot_id], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(volumes(running), vec!["v-1".to_owned()]);
        assert_eq!(volumes(finished), vec!["vol-1".to_owned()]);
    }

    #[test]
    fn running_snapshots_accept_rows_and_move_only_forward() {
        let (_dir, path) = temp_db();
        let mut store = Store::open_for_scan(&path).unwrap();
        let id = store.begin_snapshot(&meta()).unwrap();
        let conn = store.connection();
        conn.execute_batch(&format!(
            "INSERT INTO ec2_volumes (snapshot_id, account_id, region, volume_id) VALUES ({id}, 'a', 'r', 'v');
             UPDATE ec2_volumes SET encrypted = 1 WHERE snapshot_id = {id};
             DELETE FROM ec2_volumes WHERE snapshot_id = {id};"
        ))
        .unwrap();
        expect_refused(
            &store,
            &format!("UPDATE snapshots SET status = 'pruning' WHERE id = {id}"),
        );
        expect_refused(
            &store,
            &format!("UPDATE snapshots SET status = 'bogus' WHERE id = {id}"),
        );
        store.finish_snapshot(id).unwrap();
    }
}
