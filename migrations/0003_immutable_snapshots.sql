-- 0003: rows of a finished snapshot never change, enforced by the database
-- itself so that neither a bug nor a hand-typed UPDATE in the sqlite3 shell can
-- rewrite history that security reviews rely on.
--
-- The rules:
--   * a snapshot is created `running`;
--   * its status only moves running -> complete | partial | failed | aborted,
--     and from a finished status only to the transient `pruning`, with nothing
--     else about it changing;
--   * a snapshot row may be deleted only while `pruning`: `fleetscan prune`
--     sets it and deletes it in the same transaction, so `pruning` is never
--     committed and prune stays the only way to delete;
--   * rows of accounts, units and resources may be inserted or updated only
--     while their snapshot is `running`, and deleted only while it is
--     `running` or `pruning`. (When the snapshot row itself is deleted, SQLite
--     runs the ON DELETE CASCADE after removing it, so the lookup finds no
--     snapshot and the cascade passes.)
--
-- These guard against mistakes, not against someone with write access to the
-- file, who can drop a trigger.

CREATE TRIGGER snapshots_start_running
BEFORE INSERT ON snapshots
WHEN NEW.status IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: a snapshot must start as running');
END;

CREATE TRIGGER snapshots_finished_are_immutable
BEFORE UPDATE ON snapshots
WHEN NOT (
        (OLD.status = 'running'
         AND NEW.status IN ('running', 'complete', 'partial', 'failed', 'aborted')
         AND NEW.id = OLD.id)
     OR (OLD.status IN ('complete', 'partial', 'failed', 'aborted')
         AND NEW.status = 'pruning'
         AND NEW.id = OLD.id
         AND NEW.started_at IS OLD.started_at
         AND NEW.finished_at IS OLD.finished_at
         AND NEW.tool_version IS OLD.tool_version
         AND NEW.config_digest IS OLD.config_digest
         AND NEW.caller_arn IS OLD.caller_arn
         AND NEW.accounts_total IS OLD.accounts_total
         AND NEW.accounts_ok IS OLD.accounts_ok
         AND NEW.accounts_failed IS OLD.accounts_failed
         AND NEW.resource_counts IS OLD.resource_counts
         AND NEW.error IS OLD.error)
)
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: a finished snapshot cannot be changed (status moves only from running)');
END;

CREATE TRIGGER snapshots_delete_only_by_prune
BEFORE DELETE ON snapshots
WHEN OLD.status IS NOT 'pruning'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: snapshots are deleted only by fleetscan prune');
END;

CREATE TRIGGER accounts_insert_while_running
BEFORE INSERT ON accounts
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows can only be added to a running snapshot');
END;

CREATE TRIGGER accounts_update_while_running
BEFORE UPDATE ON accounts
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) IS NOT 'running'
  OR NEW.snapshot_id IS NOT OLD.snapshot_id
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot cannot be changed');
END;

CREATE TRIGGER accounts_delete_while_running_or_pruning
BEFORE DELETE ON accounts
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) NOT IN ('running', 'pruning')
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot are deleted only by fleetscan prune');
END;

CREATE TRIGGER scan_units_insert_while_running
BEFORE INSERT ON scan_units
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows can only be added to a running snapshot');
END;

CREATE TRIGGER scan_units_update_while_running
BEFORE UPDATE ON scan_units
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) IS NOT 'running'
  OR NEW.snapshot_id IS NOT OLD.snapshot_id
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot cannot be changed');
END;

CREATE TRIGGER scan_units_delete_while_running_or_pruning
BEFORE DELETE ON scan_units
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) NOT IN ('running', 'pruning')
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot are deleted only by fleetscan prune');
END;

CREATE TRIGGER ec2_instances_insert_while_running
BEFORE INSERT ON ec2_instances
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows can only be added to a running snapshot');
END;

CREATE TRIGGER ec2_instances_update_while_running
BEFORE UPDATE ON ec2_instances
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) IS NOT 'running'
  OR NEW.snapshot_id IS NOT OLD.snapshot_id
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot cannot be changed');
END;

CREATE TRIGGER ec2_instances_delete_while_running_or_pruning
BEFORE DELETE ON ec2_instances
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) NOT IN ('running', 'pruning')
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot are deleted only by fleetscan prune');
END;

CREATE TRIGGER ec2_security_groups_insert_while_running
BEFORE INSERT ON ec2_security_groups
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows can only be added to a running snapshot');
END;

CREATE TRIGGER ec2_security_groups_update_while_running
BEFORE UPDATE ON ec2_security_groups
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) IS NOT 'running'
  OR NEW.snapshot_id IS NOT OLD.snapshot_id
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot cannot be changed');
END;

CREATE TRIGGER ec2_security_groups_delete_while_running_or_pruning
BEFORE DELETE ON ec2_security_groups
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) NOT IN ('running', 'pruning')
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot are deleted only by fleetscan prune');
END;

CREATE TRIGGER ec2_security_group_rules_insert_while_running
BEFORE INSERT ON ec2_security_group_rules
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows can only be added to a running snapshot');
END;

CREATE TRIGGER ec2_security_group_rules_update_while_running
BEFORE UPDATE ON ec2_security_group_rules
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) IS NOT 'running'
  OR NEW.snapshot_id IS NOT OLD.snapshot_id
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot cannot be changed');
END;

CREATE TRIGGER ec2_security_group_rules_delete_while_running_or_pruning
BEFORE DELETE ON ec2_security_group_rules
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) NOT IN ('running', 'pruning')
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot are deleted only by fleetscan prune');
END;

CREATE TRIGGER ec2_volumes_insert_while_running
BEFORE INSERT ON ec2_volumes
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows can only be added to a running snapshot');
END;

CREATE TRIGGER ec2_volumes_update_while_running
BEFORE UPDATE ON ec2_volumes
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) IS NOT 'running'
  OR NEW.snapshot_id IS NOT OLD.snapshot_id
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot cannot be changed');
END;

CREATE TRIGGER ec2_volumes_delete_while_running_or_pruning
BEFORE DELETE ON ec2_volumes
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) NOT IN ('running', 'pruning')
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot are deleted only by fleetscan prune');
END;

CREATE TRIGGER s3_buckets_insert_while_running
BEFORE INSERT ON s3_buckets
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows can only be added to a running snapshot');
END;

CREATE TRIGGER s3_buckets_update_while_running
BEFORE UPDATE ON s3_buckets
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) IS NOT 'running'
  OR NEW.snapshot_id IS NOT OLD.snapshot_id
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot cannot be changed');
END;

CREATE TRIGGER s3_buckets_delete_while_running_or_pruning
BEFORE DELETE ON s3_buckets
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) NOT IN ('running', 'pruning')
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot are deleted only by fleetscan prune');
END;

CREATE TRIGGER s3_account_public_access_block_insert_while_running
BEFORE INSERT ON s3_account_public_access_block
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows can only be added to a running snapshot');
END;

CREATE TRIGGER s3_account_public_access_block_update_while_running
BEFORE UPDATE ON s3_account_public_access_block
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) IS NOT 'running'
  OR NEW.snapshot_id IS NOT OLD.snapshot_id
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot cannot be changed');
END;

CREATE TRIGGER s3_account_public_access_block_delete_while_running_or_pruning
BEFORE DELETE ON s3_account_public_access_block
WHEN (SELECT status FROM snapshots WHERE id = OLD.snapshot_id) NOT IN ('running', 'pruning')
BEGIN
    SELECT RAISE(ABORT, 'fleetscan: rows of a finished snapshot are deleted only by fleetscan prune');
END;
