-- 0005: the guards of 0003 that refuse rows for a snapshot that is not
-- `running` now stop the statement with RAISE(FAIL) instead of RAISE(ABORT).
-- The condition, the message and the tables are unchanged.
--
-- Why: a statement that may ABORT after it wrote something must be undone on
-- its own, so SQLite gives every row the writer inserts a statement journal
-- (each page the row touches is copied first, then the copy is thrown away):
-- about a tenth of the writer's time. RAISE(FAIL) stops the statement without
-- undoing what it already wrote, so no journal is needed. Nothing changes for
-- what can be stored: the guard runs BEFORE each row, so a refused row is
-- never written, and every row a statement wrote before it was refused passed
-- the same guard (its snapshot was `running`). The one difference is for a
-- single statement that inserts rows into a running snapshot and then into a
-- finished one (a hand-typed INSERT ... SELECT): the rows of the running
-- snapshot stay. Rows of a finished snapshot still never appear.
--
-- The writer inserts with INSERT OR FAIL and with foreign keys off on its own
-- connection for the same reason (a UNIQUE, NOT NULL or immediate foreign-key
-- check that may ABORT brings the journal back); these triggers refuse a row
-- whose snapshot does not exist just as the foreign key does.
-- The UPDATE and DELETE guards keep RAISE(ABORT): they are not on the hot path.

DROP TRIGGER accounts_insert_while_running;
CREATE TRIGGER accounts_insert_while_running
BEFORE INSERT ON accounts
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(FAIL, 'fleetscan: rows can only be added to a running snapshot');
END;

DROP TRIGGER scan_units_insert_while_running;
CREATE TRIGGER scan_units_insert_while_running
BEFORE INSERT ON scan_units
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(FAIL, 'fleetscan: rows can only be added to a running snapshot');
END;

DROP TRIGGER ec2_instances_insert_while_running;
CREATE TRIGGER ec2_instances_insert_while_running
BEFORE INSERT ON ec2_instances
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(FAIL, 'fleetscan: rows can only be added to a running snapshot');
END;

DROP TRIGGER ec2_security_groups_insert_while_running;
CREATE TRIGGER ec2_security_groups_insert_while_running
BEFORE INSERT ON ec2_security_groups
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(FAIL, 'fleetscan: rows can only be added to a running snapshot');
END;

DROP TRIGGER ec2_security_group_rules_insert_while_running;
CREATE TRIGGER ec2_security_group_rules_insert_while_running
BEFORE INSERT ON ec2_security_group_rules
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(FAIL, 'fleetscan: rows can only be added to a running snapshot');
END;

DROP TRIGGER ec2_volumes_insert_while_running;
CREATE TRIGGER ec2_volumes_insert_while_running
BEFORE INSERT ON ec2_volumes
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(FAIL, 'fleetscan: rows can only be added to a running snapshot');
END;

DROP TRIGGER s3_buckets_insert_while_running;
CREATE TRIGGER s3_buckets_insert_while_running
BEFORE INSERT ON s3_buckets
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(FAIL, 'fleetscan: rows can only be added to a running snapshot');
END;

DROP TRIGGER s3_account_public_access_block_insert_while_running;
CREATE TRIGGER s3_account_public_access_block_insert_while_running
BEFORE INSERT ON s3_account_public_access_block
WHEN (SELECT status FROM snapshots WHERE id = NEW.snapshot_id) IS NOT 'running'
BEGIN
    SELECT RAISE(FAIL, 'fleetscan: rows can only be added to a running snapshot');
END;
