"""Baseline for the benchmarks: the seed's approach in Python/boto3.

This file owns a small scanner written the way the botocore auto-refreshing
assumed-role recipe suggests, so fleetscan can be measured against it on the
same fake fleet in the same run:

- one session per account whose credentials come from botocore's
  AssumeRoleCredentialFetcher wrapped in DeferredRefreshableCredentials
  (refreshed automatically before expiry);
- a thread pool over accounts, as large as fleetscan's account concurrency;
- the same collectors (EC2 instances, security groups, volumes per region;
  S3 buckets with the same eight posture calls; account-level S3 Block Public
  Access), written to SQLite.

    python boto3_scanner.py --endpoint URL --db FILE --threads N

It is a baseline, not a product: errors are counted, not classified.
"""

import argparse
import json
import socket
import sqlite3
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

ROLE_NAME = "OrganizationAccountAccessRole"


def resolve_account_prefixed_hosts(endpoint_host):
    """S3 Control puts the account id in front of the endpoint's host; map such
    names back to the endpoint, as fleetscan's own resolver does."""
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith("." + endpoint_host):
            host = endpoint_host
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def account_session(base, endpoint, role_arn):
    """One auto-refreshing assumed-role session, as in the recipe."""

    def client_creator(service, **kwargs):
        return base.create_client(service, endpoint_url=endpoint, **kwargs)

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=client_creator,
        source_credentials=base.get_credentials(),
        role_arn=role_arn,
        extra_args={"RoleSessionName": "boto3-baseline"},
    )
    credentials = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
    session = botocore.session.Session()
    session._credentials = credentials  # the recipe's way of attaching them
    return boto3.Session(botocore_session=session, region_name="us-east-1")


def paginate(client, operation, key, **kwargs):
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def scan_account(base, endpoint, account_id, writer, errors):
    session = account_session(base, endpoint, f"arn:aws:iam::{account_id}:role/{ROLE_NAME}")
    cfg = Config(retries={"mode": "standard", "max_attempts": 5}, s3={"addressing_style": "path"})
    ec2 = session.client("ec2", endpoint_url=endpoint, config=cfg)
    regions = [
        r["RegionName"]
        for r in ec2.describe_regions(AllRegions=True)["Regions"]
        if r.get("OptInStatus", "opt-in-not-required") in ("opt-in-not-required", "opted-in")
    ]
    rows = []
    for region in regions:
        client = session.client("ec2", endpoint_url=endpoint, region_name=region, config=cfg)
        for reservation in paginate(client, "describe_instances", "Reservations", MaxResults=1000):
            for instance in reservation.get("Instances", []):
                rows.append(("ec2_instance", account_id, region, instance["InstanceId"], json.dumps(instance, default=str)))
        for group in paginate(client, "describe_security_groups", "SecurityGroups", MaxResults=1000):
            rows.append(("ec2_security_group", account_id, region, group["GroupId"], json.dumps(group, default=str)))
        for volume in paginate(client, "describe_volumes", "Volumes", MaxResults=500):
            rows.append(("ec2_volume", account_id, region, volume["VolumeId"], json.dumps(volume, default=str)))
    s3 = session.client("s3", endpoint_url=endpoint, config=cfg)
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        region = bucket.get("BucketRegion") or "us-east-1"
        client = session.client("s3", endpoint_url=endpoint, region_name=region, config=cfg)
        posture = {}
        for call in (
            "get_public_access_block",
            "get_bucket_policy_status",
            "get_bucket_encryption",
            "get_bucket_versioning",
            "get_bucket_ownership_controls",
            "get_bucket_logging",
            "get_bucket_tagging",
            "get_bucket_acl",
        ):
            try:
                answer = getattr(client, call)(Bucket=name)
                answer.pop("ResponseMetadata", None)
                posture[call] = answer
            except client.exceptions.ClientError as err:
                posture[call] = {"error": err.response.get("Error", {}).get("Code")}
        rows.append(("s3_bucket", account_id, region, name, json.dumps(posture, default=str)))
    control = session.client("s3control", endpoint_url=endpoint, config=cfg)
    try:
        block = control.get_public_access_block(AccountId=account_id)
        block.pop("ResponseMetadata", None)
        rows.append(("s3_account_block", account_id, "global", account_id, json.dumps(block)))
    except control.exceptions.ClientError as err:
        rows.append(("s3_account_block", account_id, "global", account_id, json.dumps({"error": err.response["Error"]["Code"]})))
    writer(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    resolve_account_prefixed_hosts(args.endpoint.split("://", 1)[-1].split("/")[0].rsplit(":", 1)[0])

    base = botocore.session.get_session()
    base.set_config_variable("region", "us-east-1")
    org = base.create_client("organizations", endpoint_url=args.endpoint)
    accounts = [
        a["Id"]
        for a in paginate(org, "list_accounts", "Accounts")
        if a.get("State", a.get("Status")) == "ACTIVE"
    ]
    management = org.describe_organization()["Organization"]["MasterAccountId"]
    accounts = [a for a in accounts if a != management]

    db = sqlite3.connect(args.db, check_same_thread=False)
    db.execute("CREATE TABLE IF NOT EXISTS resources (kind, account_id, region, id, body)")
    lock = threading.Lock()
    errors = []

    def writer(rows):
        with lock:
            db.executemany("INSERT INTO resources VALUES (?, ?, ?, ?, ?)", rows)
            db.commit()

    def guarded(account_id):
        try:
            scan_account(base, args.endpoint, account_id, writer, errors)
        except Exception as err:  # a baseline: count, don't classify
            with lock:
                errors.append(f"{account_id}: {err}")

    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        list(pool.map(guarded, accounts))
    count = db.execute("SELECT count(*) FROM resources").fetchone()[0]
    print(json.dumps({"accounts": len(accounts), "rows": count, "errors": len(errors), "first_errors": errors[:3]}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
