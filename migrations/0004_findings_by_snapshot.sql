-- 0004: one definition of each audit question, for every snapshot.
--
-- The views of 0002 answer the audit questions for the latest usable snapshot
-- only, so the HTML report (which shows any snapshot, and a trend over all of
-- them) had to repeat their SQL with a snapshot parameter, and two copies of a
-- security verdict drift. Here each question moves, unchanged, into a
-- `<view>_by_snapshot` view over every snapshot (readers filter on
-- `snapshot_id`), and the four views of 0002 become thin filters over them.
--
-- The views of 0002 are a public contract (the README documents their
-- columns): they are re-created with exactly the columns they had, in the same
-- order, and return the same rows. The `_by_snapshot` views have the same
-- columns too; `snapshot_id` was already the first of each.
--
-- SQLite has no CREATE OR REPLACE VIEW: the old views are dropped first and
-- re-created last, over the new ones.

DROP VIEW public_buckets;
DROP VIEW open_ingress_rules;
DROP VIEW imdsv1_instances;
DROP VIEW unencrypted_volumes;

-- The question of 0002's public_buckets, word for word, minus the join on
-- latest_snapshot. See 0002 for what the effective flags and still_exposed
-- mean.
CREATE VIEW public_buckets_by_snapshot AS
WITH effective AS (
    SELECT
        b.*,
        CASE
            WHEN b.block_public_acls = 1 OR a.block_public_acls = 1 THEN 1
            WHEN a.account_id IS NULL OR json_type(b.fetch_errors, '$.GetPublicAccessBlock') IS NOT NULL THEN NULL
            ELSE 0
        END AS effective_block_public_acls,
        CASE
            WHEN b.ignore_public_acls = 1 OR a.ignore_public_acls = 1 THEN 1
            WHEN a.account_id IS NULL OR json_type(b.fetch_errors, '$.GetPublicAccessBlock') IS NOT NULL THEN NULL
            ELSE 0
        END AS effective_ignore_public_acls,
        CASE
            WHEN b.block_public_policy = 1 OR a.block_public_policy = 1 THEN 1
            WHEN a.account_id IS NULL OR json_type(b.fetch_errors, '$.GetPublicAccessBlock') IS NOT NULL THEN NULL
            ELSE 0
        END AS effective_block_public_policy,
        CASE
            WHEN b.restrict_public_buckets = 1 OR a.restrict_public_buckets = 1 THEN 1
            WHEN a.account_id IS NULL OR json_type(b.fetch_errors, '$.GetPublicAccessBlock') IS NOT NULL THEN NULL
            ELSE 0
        END AS effective_restrict_public_buckets
    FROM s3_buckets AS b
    LEFT JOIN s3_account_public_access_block AS a
        ON a.snapshot_id = b.snapshot_id AND a.account_id = b.account_id
    WHERE b.policy_is_public = 1
       OR json_array_length(b.public_acl_grants) > 0
)
SELECT
    snapshot_id,
    account_id,
    bucket_name,
    region,
    policy_is_public,
    public_acl_grants,
    effective_block_public_acls,
    effective_ignore_public_acls,
    effective_block_public_policy,
    effective_restrict_public_buckets,
    CASE
        WHEN (policy_is_public = 1 AND effective_restrict_public_buckets = 0)
          OR (json_array_length(public_acl_grants) > 0 AND effective_ignore_public_acls = 0) THEN 1
        WHEN (policy_is_public = 1 AND effective_restrict_public_buckets IS NULL)
          OR (json_array_length(public_acl_grants) > 0 AND effective_ignore_public_acls IS NULL) THEN NULL
        ELSE 0
    END AS still_exposed,
    fetch_errors
FROM effective;

-- The question of 0002's open_ingress_rules, minus the join on
-- latest_snapshot: world-open ingress rules with their group and how many
-- instances of the same snapshot (not terminated) carry the group.
CREATE VIEW open_ingress_rules_by_snapshot AS
SELECT
    r.snapshot_id,
    r.account_id,
    r.region,
    r.group_id,
    g.group_name,
    g.vpc_id,
    r.protocol,
    r.from_port,
    r.to_port,
    r.cidr,
    r.description,
    (
        SELECT count(*)
        FROM ec2_instances AS i, json_each(i.security_group_ids) AS sg
        WHERE i.snapshot_id = r.snapshot_id
          AND i.account_id = r.account_id
          AND i.region = r.region
          AND sg.value = r.group_id
          AND i.state IS NOT 'terminated'
    ) AS instance_count
FROM ec2_security_group_rules AS r
LEFT JOIN ec2_security_groups AS g
    ON g.snapshot_id = r.snapshot_id
   AND g.account_id = r.account_id
   AND g.region = r.region
   AND g.group_id = r.group_id
WHERE r.direction = 'ingress'
  AND r.cidr IN ('0.0.0.0/0', '::/0');

-- The question of 0002's imdsv1_instances, minus the join on latest_snapshot.
CREATE VIEW imdsv1_instances_by_snapshot AS
SELECT i.*
FROM ec2_instances AS i
WHERE i.state = 'running'
  AND i.imds_http_tokens = 'optional'
  AND i.imds_http_endpoint IS NOT 'disabled';

-- The question of 0002's unencrypted_volumes, minus the join on
-- latest_snapshot.
CREATE VIEW unencrypted_volumes_by_snapshot AS
SELECT v.*
FROM ec2_volumes AS v
WHERE v.encrypted = 0;

-- The views of 0002, same names, same columns in the same order, same rows:
-- the latest usable snapshot's slice of the views above. The columns are
-- listed rather than `*` so that the contract is spelled out here; a column
-- later added to ec2_instances or ec2_volumes must be added to these two
-- views by that migration (a store test compares them with the tables).

CREATE VIEW public_buckets AS
SELECT
    snapshot_id,
    account_id,
    bucket_name,
    region,
    policy_is_public,
    public_acl_grants,
    effective_block_public_acls,
    effective_ignore_public_acls,
    effective_block_public_policy,
    effective_restrict_public_buckets,
    still_exposed,
    fetch_errors
FROM public_buckets_by_snapshot
WHERE snapshot_id = (SELECT id FROM latest_snapshot);

CREATE VIEW open_ingress_rules AS
SELECT
    snapshot_id,
    account_id,
    region,
    group_id,
    group_name,
    vpc_id,
    protocol,
    from_port,
    to_port,
    cidr,
    description,
    instance_count
FROM open_ingress_rules_by_snapshot
WHERE snapshot_id = (SELECT id FROM latest_snapshot);

CREATE VIEW imdsv1_instances AS
SELECT
    snapshot_id,
    account_id,
    region,
    instance_id,
    name,
    state,
    instance_type,
    image_id,
    launch_time,
    availability_zone,
    vpc_id,
    subnet_id,
    private_ip,
    public_ip,
    iam_instance_profile_arn,
    key_name,
    platform,
    imds_http_tokens,
    imds_http_endpoint,
    security_group_ids,
    tags
FROM imdsv1_instances_by_snapshot
WHERE snapshot_id = (SELECT id FROM latest_snapshot);

CREATE VIEW unencrypted_volumes AS
SELECT
    snapshot_id,
    account_id,
    region,
    volume_id,
    size_gib,
    volume_type,
    encrypted,
    kms_key_id,
    state,
    availability_zone,
    attached_instance_ids,
    create_time,
    tags
FROM unencrypted_volumes_by_snapshot
WHERE snapshot_id = (SELECT id FROM latest_snapshot);
