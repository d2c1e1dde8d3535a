"""Shared by seed.py and mutate.py: boto3 clients against moto, and the read-back of ground truth.

This file owns how the harness talks to moto (credentials, addressing, assuming
the member role) and how it reads back what moto now holds, in the shape of
fleetscan's database rows, for the manifest the end-to-end tests compare with.
Values are recorded as moto reports them, not as the seeder meant them, so a
moto quirk shows up as a difference in the manifest, not as a flaky test.
"""

import json
import re
from datetime import timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account, the caller of `testing`
ROLE_NAME = "OrganizationAccountAccessRole"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
# Credentials moto accepts for its default account. Never real ones.
BASE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
BOTO_CONFIG = Config(
    s3={"addressing_style": "path"},
    retries={"max_attempts": 2, "mode": "standard"},
)

# Error codes by which S3 says "not configured" (the row's NULL).
NOT_CONFIGURED = {
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchBucketPolicy",
    "ServerSideEncryptionConfigurationNotFoundError",
    "OwnershipControlsNotFoundError",
    "NoSuchTagSet",
}
# `http://123456789012.127.0.0.1:PORT/...`: S3 Control's account-prefixed host.
ACCOUNT_HOST_PREFIX = re.compile(r"//\d{12}\.")
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}


class Account:
    """boto3 clients for one account: the management account's own, or through the member role."""

    def __init__(self, endpoint, account_id, credentials=None):
        self.endpoint = endpoint
        self.account_id = account_id
        self.credentials = credentials or BASE_CREDENTIALS
        self._clients = {}

    @classmethod
    def management(cls, endpoint):
        return cls(endpoint, MANAGEMENT_ACCOUNT_ID)

    @classmethod
    def member(cls, endpoint, account_id, role_name=ROLE_NAME):
        # moto maps the credentials AssumeRole hands out to the role's account,
        # which is how one endpoint serves many accounts.
        sts = boto3.client(
            "sts", endpoint_url=endpoint, region_name="us-east-1", config=BOTO_CONFIG, **BASE_CREDENTIALS
        )
        issued = sts.assume_role(
            RoleArn=role_arn(account_id, role_name), RoleSessionName="fleetscan-seed"
        )["Credentials"]
        return cls(
            endpoint,
            account_id,
            {
                "aws_access_key_id": issued["AccessKeyId"],
                "aws_secret_access_key": issued["SecretAccessKey"],
                "aws_session_token": issued["SessionToken"],
            },
        )

    def client(self, service, region="us-east-1"):
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,
                endpoint_url=self.endpoint,
                region_name=region,
                config=BOTO_CONFIG,
                **self.credentials,
            )
        return self._clients[key]

    def s3control(self):
        """An S3 Control client whose requests reach the endpoint itself.

        S3 Control puts the account id in front of the host
        (`{account}.127.0.0.1:PORT`), which does not resolve; moto reads the
        account from the credentials and the path, so the prefix is dropped
        before sending (moto does not check signatures).
        """
        key = ("s3control", "us-east-1")
        if key not in self._clients:
            client = self.client("s3control")
            client.meta.events.register("before-send.s3-control.*", drop_account_host_prefix)
        return self._clients[key]


def drop_account_host_prefix(request, **_):
    request.url = ACCOUNT_HOST_PREFIX.sub("//", request.url, count=1)


def role_arn(account_id, role_name=ROLE_NAME):
    return f"arn:aws:iam::{account_id}:role/{role_name}"


def error_code(err):
    return err.response.get("Error", {}).get("Code", "")


def not_configured(call):
    """Run a GetBucket* call; None when S3 answers *not configured*."""
    try:
        return call()
    except ClientError as err:
        if error_code(err) in NOT_CONFIGURED:
            return None
        raise


def rfc3339(value):
    """botocore datetimes (always zone-aware) as RFC 3339 UTC with a `Z`, the database's format."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tags_of(tag_list):
    return {tag["Key"]: tag["Value"] for tag in tag_list or []}


def read_instances(account, region):
    """Every instance of one account and region, as an ec2_instances row (minus keys)."""
    ec2 = account.client("ec2", region)
    rows = []
    for page in ec2.get_paginator("describe_instances").paginate():
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                tags = tags_of(instance.get("Tags"))
                metadata = instance.get("MetadataOptions", {})
                rows.append(
                    {
                        "instance_id": instance["InstanceId"],
                        "name": tags.get("Name"),
                        "state": instance.get("State", {}).get("Name"),
                        "instance_type": instance.get("InstanceType"),
                        "image_id": instance.get("ImageId"),
                        "launch_time": rfc3339(instance.get("LaunchTime")),
                        "availability_zone": instance.get("Placement", {}).get("AvailabilityZone"),
                        "vpc_id": instance.get("VpcId"),
                        "subnet_id": instance.get("SubnetId"),
                        "private_ip": instance.get("PrivateIpAddress"),
                        "public_ip": instance.get("PublicIpAddress"),
                        "iam_instance_profile_arn": instance.get("IamInstanceProfile", {}).get("Arn"),
                        "key_name": instance.get("KeyName"),
                        "platform": instance.get("Platform"),
                        "imds_http_tokens": metadata.get("HttpTokens"),
                        "imds_http_endpoint": metadata.get("HttpEndpoint"),
                        "security_group_ids": sorted(
                            group["GroupId"] for group in instance.get("SecurityGroups", [])
                        ),
                        "tags": tags,
                    }
                )
    return sorted(rows, key=lambda row: row["instance_id"])


def read_security_groups(account, region):
    """Security groups with their rules flattened one source per row."""
    ec2 = account.client("ec2", region)
    groups = []
    for page in ec2.get_paginator("describe_security_groups").paginate():
        for group in page["SecurityGroups"]:
            rules = []
            for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
                for permission in group.get(key, []):
                    base = {
                        "direction": direction,
                        "protocol": permission.get("IpProtocol"),
                        "from_port": permission.get("FromPort"),
                        "to_port": permission.get("ToPort"),
                    }
                    for source in permission.get("IpRanges", []):
                        rules.append(dict(base, cidr=source["CidrIp"]))
                    for source in permission.get("Ipv6Ranges", []):
                        rules.append(dict(base, cidr=source["CidrIpv6"]))
                    for source in permission.get("PrefixListIds", []):
                        rules.append(dict(base, prefix_list_id=source["PrefixListId"]))
                    for source in permission.get("UserIdGroupPairs", []):
                        rules.append(dict(base, referenced_group_id=source["GroupId"]))
            groups.append(
                {
                    "group_id": group["GroupId"],
                    "group_name": group.get("GroupName"),
                    "vpc_id": group.get("VpcId"),
                    "tags": tags_of(group.get("Tags")),
                    "rules": sorted(rules, key=lambda rule: json.dumps(rule, sort_keys=True)),
                }
            )
    return sorted(groups, key=lambda group: group["group_id"])


def bucket_region(s3, name):
    """GetBucketLocation mapped as AWS documents it: empty → us-east-1, EU → eu-west-1."""
    location = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
    if not location:
        return "us-east-1"
    if location == "EU":
        return "eu-west-1"
    return location


def read_bucket(account, name, creation_date):
    """One bucket's posture as an s3_buckets row; None wherever S3 says *not configured*."""
    region = bucket_region(account.client("s3"), name)
    s3 = account.client("s3", region)
    row = {"bucket_name": name, "region": region, "creation_date": rfc3339(creation_date)}

    block = not_configured(lambda: s3.get_public_access_block(Bucket=name))
    block = (block or {}).get("PublicAccessBlockConfiguration", {})
    for field, key in (
        ("block_public_acls", "BlockPublicAcls"),
        ("ignore_public_acls", "IgnorePublicAcls"),
        ("block_public_policy", "BlockPublicPolicy"),
        ("restrict_public_buckets", "RestrictPublicBuckets"),
    ):
        row[field] = block.get(key)

    status = not_configured(lambda: s3.get_bucket_policy_status(Bucket=name))
    row["policy_is_public"] = (status or {}).get("PolicyStatus", {}).get("IsPublic")

    versioning = s3.get_bucket_versioning(Bucket=name)
    row["versioning"] = versioning.get("Status")
    row["mfa_delete"] = versioning.get("MFADelete")

    encryption = not_configured(lambda: s3.get_bucket_encryption(Bucket=name))
    rules = (encryption or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    row["sse_algorithm"] = default.get("SSEAlgorithm")
    row["kms_key_id"] = default.get("KMSMasterKeyID")
    row["bucket_key_enabled"] = rules[0].get("BucketKeyEnabled") if rules else None

    ownership = not_configured(lambda: s3.get_bucket_ownership_controls(Bucket=name))
    ownership_rules = (ownership or {}).get("OwnershipControls", {}).get("Rules", [])
    row["object_ownership"] = ownership_rules[0].get("ObjectOwnership") if ownership_rules else None

    logging = s3.get_bucket_logging(Bucket=name).get("LoggingEnabled")
    row["logging_target_bucket"] = (logging or {}).get("TargetBucket")

    tagging = not_configured(lambda: s3.get_bucket_tagging(Bucket=name))
    row["tags"] = tags_of(tagging["TagSet"]) if tagging is not None else None

    grants = s3.get_bucket_acl(Bucket=name).get("Grants", [])
    row["public_acl_grants"] = sorted(
        f"{PUBLIC_GROUPS[grant['Grantee']['URI']]}:{grant['Permission']}"
        for grant in grants
        if grant.get("Grantee", {}).get("URI") in PUBLIC_GROUPS
    )
    return row


def read_buckets(account):
    s3 = account.client("s3")
    listed = s3.list_buckets().get("Buckets", [])
    rows = [read_bucket(account, bucket["Name"], bucket.get("CreationDate")) for bucket in listed]
    return sorted(rows, key=lambda row: row["bucket_name"])


def read_volumes(account, region):
    """Every EBS volume of one account and region, as an ec2_volumes row (minus keys)."""
    ec2 = account.client("ec2", region)
    rows = []
    for page in ec2.get_paginator("describe_volumes").paginate():
        for volume in page["Volumes"]:
            rows.append(
                {
                    "volume_id": volume["VolumeId"],
                    "size_gib": volume.get("Size"),
                    "volume_type": volume.get("VolumeType"),
                    "encrypted": volume.get("Encrypted"),
                    "kms_key_id": volume.get("KmsKeyId"),
                    "state": volume.get("State"),
                    "availability_zone": volume.get("AvailabilityZone"),
                    "attached_instance_ids": sorted(
                        attachment["InstanceId"]
                        for attachment in volume.get("Attachments", [])
                        if attachment.get("InstanceId")
                    ),
                    "create_time": rfc3339(volume.get("CreateTime")),
                    "tags": tags_of(volume.get("Tags")),
                }
            )
    return sorted(rows, key=lambda row: row["volume_id"])


def read_account_block(account):
    """The account-level S3 Block Public Access (S3 Control); all None when not configured."""
    answer = not_configured(lambda: account.s3control().get_public_access_block(AccountId=account.account_id))
    block = (answer or {}).get("PublicAccessBlockConfiguration", {})
    return {
        "block_public_acls": block.get("BlockPublicAcls"),
        "ignore_public_acls": block.get("IgnorePublicAcls"),
        "block_public_policy": block.get("BlockPublicPolicy"),
        "restrict_public_buckets": block.get("RestrictPublicBuckets"),
    }


def read_account(account, regions=REGIONS):
    """Everything the end-to-end tests compare for one account."""
    return {
        "instances": {region: read_instances(account, region) for region in regions},
        "security_groups": {region: read_security_groups(account, region) for region in regions},
        "buckets": read_buckets(account),
        "volumes": {region: read_volumes(account, region) for region in regions},
        "account_public_access_block": read_account_block(account),
    }


def read_fleet(endpoint, organization, regions=REGIONS):
    """Ground truth for every account of the organization, scanned or not."""
    fleet = {}
    for entry in organization["accounts"]:
        if entry["id"] == MANAGEMENT_ACCOUNT_ID:
            account = Account.management(endpoint)
        else:
            account = Account.member(endpoint, entry["id"])
        fleet[entry["id"]] = read_account(account, regions)
    return fleet


def write_json(path, payload):
    with open(path, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=2, sort_keys=True, ensure_ascii=False)
        out.write("\n")


def read_json(path):
    with open(path, encoding="utf-8") as source:
        return json.load(source)
