-- 0002: what issue 3 added after schema v1: public ACL grants per bucket,
-- account-level S3 Block Public Access, and the audit views.

-- Grants of the bucket ACL to the public groups, as a JSON array of
-- "AllUsers:READ" / "AuthenticatedUsers:WRITE" strings. '[]' means the ACL
-- grants nothing public; NULL means the ACL could not be read (and
-- fetch_errors says why) -- never "not public".
ALTER TABLE s3_buckets ADD COLUMN public_acl_grants TEXT;

-- S3 Block Public Access at the account level (S3 Control), which overrides
-- whatever each bucket says. Three states, as everywhere:
--   a row with values          -> configured;
--   a row with all four NULL   -> AWS says not configured;
--   no row for the account     -> could not be read (scan_units says why).
CREATE TABLE s3_account_public_access_block (
    snapshot_id             INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    account_id              TEXT    NOT NULL,
    block_public_acls       INTEGER CHECK (block_public_acls IN (0, 1)),
    ignore_public_acls      INTEGER CHECK (ignore_public_acls IN (0, 1)),
    block_public_policy     INTEGER CHECK (block_public_policy IN (0, 1)),
    restrict_public_buckets INTEGER CHECK (restrict_public_buckets IN (0, 1)),
    PRIMARY KEY (snapshot_id, account_id)
);

-- The newest snapshot a reader may trust: complete, or partial (whose failed
-- units are listed in scan_units). Running, failed and aborted runs are never
-- what an audit looks at.
CREATE VIEW latest_snapshot AS
SELECT *
FROM snapshots
WHERE status IN ('complete', 'partial')
ORDER BY id DESC
LIMIT 1;

-- Buckets exposed by their policy (GetBucketPolicyStatus says public) or by
-- their ACL (grants to AllUsers / AuthenticatedUsers), with the effective
-- Block Public Access flags beside them. A flag is effective when the bucket
-- OR the account sets it: 1 = on; 0 = off on both; NULL = unknown, because
-- the bucket's setting or the account's could not be read and the other side
-- does not switch it on.
-- `still_exposed` combines them: a public policy is neutralised by
-- restrict_public_buckets, public ACL grants by ignore_public_acls.
CREATE VIEW public_buckets AS
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
    JOIN latest_snapshot AS l ON b.snapshot_id = l.id
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

-- Ingress rules whose source is the whole internet (0.0.0.0/0 or ::/0), with
-- the group's name and VPC and how many instances of the snapshot (not
-- terminated) carry the group. Prefix lists and group references are never
-- "open" here, even when a prefix list happens to contain 0.0.0.0/0.
CREATE VIEW open_ingress_rules AS
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
JOIN latest_snapshot AS l ON r.snapshot_id = l.id
LEFT JOIN ec2_security_groups AS g
    ON g.snapshot_id = r.snapshot_id
   AND g.account_id = r.account_id
   AND g.region = r.region
   AND g.group_id = r.group_id
WHERE r.direction = 'ingress'
  AND r.cidr IN ('0.0.0.0/0', '::/0');

-- Running instances whose metadata service accepts tokenless (IMDSv1)
-- requests: http_tokens 'optional' and the endpoint not disabled (a missing
-- endpoint value is AWS's default, enabled). Stopped instances are left out:
-- they serve nothing until started, and the diff reports when they do.
CREATE VIEW imdsv1_instances AS
SELECT i.*
FROM ec2_instances AS i
JOIN latest_snapshot AS l ON i.snapshot_id = l.id
WHERE i.state = 'running'
  AND i.imds_http_tokens = 'optional'
  AND i.imds_http_endpoint IS NOT 'disabled';

-- Volumes known to be unencrypted. A volume whose encryption flag is NULL
-- (not reported) is not listed: unknown is not "unencrypted".
CREATE VIEW unencrypted_volumes AS
SELECT v.*
FROM ec2_volumes AS v
JOIN latest_snapshot AS l ON v.snapshot_id = l.id
WHERE v.encrypted = 0;
