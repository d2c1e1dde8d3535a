-- 0001_init.sql: schema v1, the public contract described in DESIGN.md.
--
-- Released migrations are never edited: later changes go in new files.
-- Conventions used throughout:
--   * timestamps are RFC 3339 UTC text ("2025-01-31T02:00:00Z"), so they sort
--     as text and work with SQLite's date functions;
--   * booleans are 0/1 integers (CHECKed), NULL where AWS says "not configured";
--   * JSON columns hold JSON text usable with json_extract / json_each;
--   * every row of a snapshot points at `snapshots` with ON DELETE CASCADE, so
--     deleting a snapshot (prune) removes all of its rows in one statement;
--   * every resource table's primary key starts with snapshot_id: the same index
--     serves "all rows of a snapshot" (views, cascade deletes) and the keyed
--     lookups of the diff.

-- One row per run. `status` is a small state machine (running -> complete,
-- partial, failed or aborted); the allowed values and moves are enforced by the
-- triggers of 0003 rather than a CHECK, because a CHECK cannot express a move.
CREATE TABLE snapshots (
    id              INTEGER PRIMARY KEY,
    started_at      TEXT    NOT NULL,
    finished_at     TEXT,
    status          TEXT    NOT NULL,
    tool_version    TEXT    NOT NULL,
    -- sha256 of the configuration the run used: tells whether two snapshots
    -- were taken with the same scope.
    config_digest   TEXT    NOT NULL,
    -- The identity the scan ran as (never credentials).
    caller_arn      TEXT,
    -- Filled when the snapshot finishes; NULL while running.
    accounts_total  INTEGER,
    accounts_ok     INTEGER,
    accounts_failed INTEGER,
    -- JSON object: table name -> row count, computed once when the snapshot
    -- finishes so that listing snapshots never counts a million rows again.
    resource_counts TEXT,
    -- Why a snapshot ended `failed` (e.g. the writer hit a full disk).
    error           TEXT
);

-- The accounts a run planned, with how each one fared.
CREATE TABLE accounts (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    account_id  TEXT    NOT NULL,
    name        TEXT,
    email       TEXT,
    -- Organizations state (ACTIVE, ...), NULL for statically listed accounts.
    state       TEXT,
    ou_path     TEXT,
    role_arn    TEXT    NOT NULL,
    -- ok, partial, assume_failed, skipped
    status      TEXT    NOT NULL,
    error       TEXT,
    PRIMARY KEY (snapshot_id, account_id)
);

-- One row per (account, region, collector): the honest record of what was and
-- was not read. Global collectors (S3) use region 'global'. A unit that is not
-- ok or region_disabled means its resources in this snapshot are incomplete.
CREATE TABLE scan_units (
    snapshot_id   INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    account_id    TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    collector     TEXT    NOT NULL,
    -- ok, denied, region_disabled, throttled, error
    status        TEXT    NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    resources     INTEGER NOT NULL DEFAULT 0,
    api_calls     INTEGER NOT NULL DEFAULT 0,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (snapshot_id, account_id, region, collector)
);

CREATE TABLE ec2_instances (
    snapshot_id              INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    account_id               TEXT    NOT NULL,
    region                   TEXT    NOT NULL,
    instance_id              TEXT    NOT NULL,
    name                     TEXT,
    state                    TEXT,
    instance_type            TEXT,
    image_id                 TEXT,
    launch_time              TEXT,
    availability_zone        TEXT,
    vpc_id                   TEXT,
    subnet_id                TEXT,
    private_ip               TEXT,
    public_ip                TEXT,
    iam_instance_profile_arn TEXT,
    key_name                 TEXT,
    platform                 TEXT,
    -- 'required' (IMDSv2 only) or 'optional' (tokenless v1 requests accepted).
    imds_http_tokens         TEXT,
    -- 'enabled' or 'disabled'.
    imds_http_endpoint       TEXT,
    -- JSON array of group ids; its order carries no meaning.
    security_group_ids       TEXT    NOT NULL DEFAULT '[]',
    -- JSON object key -> value.
    tags                     TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (snapshot_id, account_id, region, instance_id)
);

CREATE TABLE ec2_security_groups (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    account_id  TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    group_id    TEXT    NOT NULL,
    group_name  TEXT,
    description TEXT,
    vpc_id      TEXT,
    tags        TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (snapshot_id, account_id, region, group_id)
);

-- One row per rule x source: each IPv4 range, IPv6 range, prefix list and
-- referenced group of a rule is its own row, so "open to the world" is a plain
-- WHERE cidr IN (...). Exactly one of cidr / prefix_list_id /
-- referenced_group_id is set. Rules have no natural id, hence the rowid.
CREATE TABLE ec2_security_group_rules (
    id                  INTEGER PRIMARY KEY,
    snapshot_id         INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    account_id          TEXT    NOT NULL,
    region              TEXT    NOT NULL,
    group_id            TEXT    NOT NULL,
    -- ingress, egress
    direction           TEXT    NOT NULL,
    -- '-1' for all protocols, else tcp, udp, icmp, ... or a number.
    protocol            TEXT    NOT NULL,
    from_port           INTEGER,
    to_port             INTEGER,
    cidr                TEXT,
    prefix_list_id      TEXT,
    referenced_group_id TEXT,
    description         TEXT
);
-- Rules are compared as a set per group (diff) and joined to their group
-- (views): both walk this index.
CREATE INDEX ec2_security_group_rules_by_group
    ON ec2_security_group_rules (snapshot_id, account_id, region, group_id, direction);
-- The audit question "what is open to 0.0.0.0/0" filters on the source.
CREATE INDEX ec2_security_group_rules_by_cidr
    ON ec2_security_group_rules (snapshot_id, cidr);

CREATE TABLE ec2_volumes (
    snapshot_id           INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    account_id            TEXT    NOT NULL,
    region                TEXT    NOT NULL,
    volume_id             TEXT    NOT NULL,
    size_gib              INTEGER,
    volume_type           TEXT,
    encrypted             INTEGER CHECK (encrypted IN (0, 1)),
    kms_key_id            TEXT,
    state                 TEXT,
    availability_zone     TEXT,
    -- JSON array of instance ids; order carries no meaning.
    attached_instance_ids TEXT    NOT NULL DEFAULT '[]',
    create_time           TEXT,
    tags                  TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (snapshot_id, account_id, region, volume_id)
);

-- Buckets are global per account; `region` is where the bucket lives.
-- NULL in a posture column means AWS said "not configured"; a setting that
-- could not be read is NULL *and* named in fetch_errors, so the two states
-- never blur into each other (or into false).
CREATE TABLE s3_buckets (
    snapshot_id             INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    account_id              TEXT    NOT NULL,
    bucket_name             TEXT    NOT NULL,
    region                  TEXT,
    creation_date           TEXT,
    block_public_acls       INTEGER CHECK (block_public_acls IN (0, 1)),
    ignore_public_acls      INTEGER CHECK (ignore_public_acls IN (0, 1)),
    block_public_policy     INTEGER CHECK (block_public_policy IN (0, 1)),
    restrict_public_buckets INTEGER CHECK (restrict_public_buckets IN (0, 1)),
    policy_is_public        INTEGER CHECK (policy_is_public IN (0, 1)),
    -- 'Enabled', 'Suspended', NULL when never enabled.
    versioning              TEXT,
    mfa_delete              TEXT,
    sse_algorithm           TEXT,
    kms_key_id              TEXT,
    bucket_key_enabled      INTEGER CHECK (bucket_key_enabled IN (0, 1)),
    object_ownership        TEXT,
    logging_target_bucket   TEXT,
    -- JSON object, NULL when the bucket has no tag set.
    tags                    TEXT,
    -- JSON object: API call -> error code, '{}' when everything was read.
    fetch_errors            TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (snapshot_id, account_id, bucket_name)
);
