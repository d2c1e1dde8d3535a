"""Seeds moto with a sample organization and writes the ground-truth manifest.

This file owns the shape of the test fleet:

    python seed.py ENDPOINT MANIFEST_OUT [--variant default|large]

Organization (management account 123456789012, moto's default):

    Root
    ├── Workloads                 <- the OU the tests scan (recursive)
    │   ├── audit                 excluded by exclude_accounts
    │   ├── Prod
    │   │   ├── prod-web
    │   │   └── prod-data
    │   └── Dev
    │       ├── dev
    │       ├── shared-services
    │       └── legacy            closed: State SUSPENDED
    └── Sandbox
        └── sandbox               outside the scanned OU

Every active account (and the management account) gets instances in three
regions and buckets of varied posture, so an account that shows up where it
should not is caught by its resources too. The manifest holds what moto reports
after seeding (see fleet.py), plus the scan settings the tests use.

For the audit views, every account also gets security groups with open and
closed rules, volumes encrypted and not (seed_audit_cases), and buckets public
through their policy or ACL alone, with an account-level block of public
access in some accounts (seed_exposure).
"""

import argparse
import json
import sys

from fleet import (
    MANAGEMENT_ACCOUNT_ID,
    REGIONS,
    ROLE_NAME,
    Account,
    read_fleet,
    role_arn,
    write_json,
)

OU_TREE = {"Workloads": ["Prod", "Dev"], "Sandbox": []}
# name, OU path, why it is not scanned (None: scanned)
MEMBERS = [
    ("prod-web", "Workloads/Prod", None),
    ("prod-data", "Workloads/Prod", None),
    ("dev", "Workloads/Dev", None),
    ("shared-services", "Workloads/Dev", None),
    ("audit", "Workloads", "excluded"),
    ("legacy", "Workloads/Dev", "suspended"),
    ("sandbox", "Sandbox", "outside_ou"),
]
SCANNED_OU = "Workloads"
# Quotes, an em dash and non-ASCII letters: the Name tag that breaks naive quoting.
TRICKY_NAME = 'web "frontend" — café ☕'


def create_organization(management):
    """The org, its OUs and member accounts, as the manifest's `organization`."""
    orgs = management.client("organizations")
    org = orgs.create_organization(FeatureSet="ALL")["Organization"]
    root_id = orgs.list_roots()["Roots"][0]["Id"]

    ous = {}  # path -> id
    ou_entries = []
    for top, children in OU_TREE.items():
        top_id = orgs.create_organizational_unit(ParentId=root_id, Name=top)["OrganizationalUnit"]["Id"]
        ous[top] = top_id
        ou_entries.append({"id": top_id, "name": top, "path": top, "parent_id": root_id})
        for child in children:
            path = f"{top}/{child}"
            child_id = orgs.create_organizational_unit(ParentId=top_id, Name=child)["OrganizationalUnit"]["Id"]
            ous[path] = child_id
            ou_entries.append({"id": child_id, "name": child, "path": path, "parent_id": top_id})

    for name, path, _ in MEMBERS:
        status = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        if status.get("State") != "SUCCEEDED":
            sys.exit(f"seed: moto did not create account {name}: {status}")
        orgs.move_account(AccountId=status["AccountId"], SourceParentId=root_id, DestinationParentId=ous[path])
        if path == "Workloads/Dev" and name == "legacy":
            orgs.close_account(AccountId=status["AccountId"])

    why = {name: reason for name, _, reason in MEMBERS}
    paths = {name: path for name, path, _ in MEMBERS}
    accounts = []
    for page in orgs.get_paginator("list_accounts").paginate():
        for account in page["Accounts"]:
            name = account["Name"]
            is_management = account["Id"] == MANAGEMENT_ACCOUNT_ID
            path = "" if is_management else paths[name]
            accounts.append(
                {
                    "id": account["Id"],
                    "name": name,
                    "email": account["Email"],
                    "state": account.get("State"),
                    "status": account.get("Status"),
                    "ou_path": path.split("/") if path else [],
                    "ou_id": ous[path] if path else root_id,
                    "role_arn": role_arn(account["Id"]),
                    "scanned": not is_management and why[name] is None,
                    "not_scanned_because": "management" if is_management else why[name],
                }
            )
    return {
        "id": org["Id"],
        "root_id": root_id,
        "management_account_id": MANAGEMENT_ACCOUNT_ID,
        "ous": ou_entries,
        "accounts": sorted(accounts, key=lambda entry: entry["id"]),
    }


def default_image(account, region):
    """An AMI moto knows in this region (ids differ per region)."""
    images = account.client("ec2", region).describe_images(Owners=["amazon"])["Images"]
    linux = [image for image in images if image.get("Platform") != "windows"]
    return sorted(image["ImageId"] for image in (linux or images))[0]


def default_subnet(ec2):
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    return vpc, sorted(subnets, key=lambda subnet: subnet["AvailabilityZone"])[0]["SubnetId"]


def seed_region(account, region, image_id, count, extra):
    """`count` instances of rotating kinds, plus `extra` plain ones (for pagination)."""
    ec2 = account.client("ec2", region)
    vpc, subnet = default_subnet(ec2)
    web = ec2.create_security_group(GroupName="web", Description="HTTPS from the office", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}],
            }
        ],
    )
    ec2.create_key_pair(KeyName="ops")
    default_group = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    for index in range(count + extra):
        kind = index % 3 if index < count else 3
        tags = {"env": "prod" if account.account_id.endswith(("1", "3", "5", "7", "9")) else "dev"}
        args = {
            "ImageId": image_id,
            "MinCount": 1,
            "MaxCount": 1,
            "InstanceType": "t3.micro",
        }
        interface = {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [web]}
        if kind == 0:
            # IMDSv2 only, public address, the tricky Name.
            tags.update({"Name": TRICKY_NAME, "team": "édge"})
            interface["AssociatePublicIpAddress"] = True
            args["MetadataOptions"] = {"HttpTokens": "required", "HttpEndpoint": "enabled"}
        elif kind == 1:
            # IMDSv1 still accepted, private only, with a key pair.
            tags["Name"] = "db-primary"
            interface["AssociatePublicIpAddress"] = False
            args["InstanceType"] = "t3.small"
            args["KeyName"] = "ops"
            args["MetadataOptions"] = {"HttpTokens": "optional"}
        elif kind == 2:
            # No Name tag, metadata endpoint off; stopped below.
            interface["AssociatePublicIpAddress"] = False
            args["MetadataOptions"] = {"HttpTokens": "optional", "HttpEndpoint": "disabled"}
        else:
            tags["Name"] = f"batch-{index}"
            interface["AssociatePublicIpAddress"] = False
        args["NetworkInterfaces"] = [interface]
        args["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
        instance_id = ec2.run_instances(**args)["Instances"][0]["InstanceId"]
        if kind in (0, 1):
            # moto does not report the interface's groups as the instance's
            # SecurityGroups; setting them on the instance does.
            groups = [web] if kind == 0 else [web, default_group]
            ec2.modify_instance_attribute(InstanceId=instance_id, Groups=groups)
        if kind == 2:
            ec2.stop_instances(InstanceIds=[instance_id])


def seed_buckets(account, index):
    """Buckets covering every posture value; names carry the account id (S3 names are global)."""
    prefix = f"fs-{account.account_id}"
    s3_east = account.client("s3", "us-east-1")
    s3_eu = account.client("s3", "eu-west-1")
    s3_ap = account.client("s3", "ap-southeast-2")

    # locked: everything on.
    locked = f"{prefix}-locked"
    s3_east.create_bucket(Bucket=locked)
    s3_east.put_public_access_block(
        Bucket=locked,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3_east.put_bucket_encryption(
        Bucket=locked,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    )
    s3_east.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Enabled"})
    s3_east.put_bucket_ownership_controls(
        Bucket=locked, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3_east.put_bucket_tagging(
        Bucket=locked, Tagging={"TagSet": [{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "platform"}]}
    )

    # public: block public access explicitly off, public policy and ACL, versioning suspended.
    if index % 2 == 0:
        public = f"{prefix}-public"
        s3_east.create_bucket(Bucket=public)
        s3_east.put_public_access_block(
            Bucket=public,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": False,
                "IgnorePublicAcls": False,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False,
            },
        )
        s3_east.put_bucket_ownership_controls(
            Bucket=public, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
        )
        s3_east.put_bucket_acl(Bucket=public, ACL="public-read")
        s3_east.put_bucket_policy(
            Bucket=public,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{public}/*",
                        }
                    ],
                }
            ),
        )
        s3_east.put_bucket_versioning(Bucket=public, VersioningConfiguration={"Status": "Enabled"})
        s3_east.put_bucket_versioning(Bucket=public, VersioningConfiguration={"Status": "Suspended"})

    # kms: in eu-west-1 through the legacy `EU` constraint, no public access block at all.
    kms = f"{prefix}-kms"
    # moto accepts the legacy `EU` constraint only on a us-east-1 request.
    s3_east.create_bucket(Bucket=kms, CreateBucketConfiguration={"LocationConstraint": "EU"})
    key_arn = account.client("kms", "eu-west-1").create_key(Description="bucket key")["KeyMetadata"]["Arn"]
    s3_eu.put_bucket_encryption(
        Bucket=kms,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )

    # logs + site: ap-southeast-2, partial public access block, logging between them.
    logs = f"{prefix}-logs"
    s3_ap.create_bucket(Bucket=logs, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"})
    s3_ap.put_bucket_acl(Bucket=logs, ACL="log-delivery-write")
    s3_ap.put_public_access_block(
        Bucket=logs,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    s3_ap.put_bucket_ownership_controls(
        Bucket=logs, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    )
    s3_ap.put_bucket_tagging(
        Bucket=logs,
        Tagging={"TagSet": [{"Key": "team", "Value": "sécurité ✓"}, {"Key": "cost-center", "Value": "42"}]},
    )
    site = f"{prefix}-site"
    s3_ap.create_bucket(Bucket=site, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"})
    s3_ap.put_bucket_logging(
        Bucket=site, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "site/"}}
    )
    s3_ap.put_bucket_versioning(Bucket=site, VersioningConfiguration={"Status": "Enabled"})


def seed_audit_cases(account, region, image_id):
    """Offenders and clean look-alikes for the audit views, in one region.

    Ingress open to the world over IPv4 and IPv6 beside closed rules from a
    private range, an IPv6 range, a prefix list (one that itself holds
    0.0.0.0/0: a prefix list is never "open" in the view) and a group
    reference; a world-wide egress rule; an instance in the open group; and
    volumes encrypted (default key, own key) and not.
    """
    ec2 = account.client("ec2", region)
    vpc, subnet = default_subnet(ec2)
    prefix_list = ec2.create_managed_prefix_list(
        PrefixListName="corp-ranges", AddressFamily="IPv4", MaxEntries=5, Entries=[{"Cidr": "0.0.0.0/0"}]
    )["PrefixList"]["PrefixListId"]
    internal = ec2.create_security_group(GroupName="audit-internal", Description="closed rules only", VpcId=vpc)[
        "GroupId"
    ]
    edge = ec2.create_security_group(GroupName="audit-edge", Description="open and closed rules", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=edge,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8090,
                "IpRanges": [{"CidrIp": "192.168.0.0/16"}],
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
                "PrefixListIds": [{"PrefixListId": prefix_list}],
                "UserIdGroupPairs": [{"GroupId": internal}],
            },
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=internal,
        IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": edge}]},
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "Ipv6Ranges": [{"CidrIpv6": "fd00::/8"}]},
        ],
    )
    ec2.authorize_security_group_egress(
        GroupId=internal,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
    )
    bastion = ec2.run_instances(
        ImageId=image_id,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [edge], "AssociatePublicIpAddress": True}],
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "audit-bastion"}]}],
    )["Instances"][0]["InstanceId"]
    # As in seed_region: moto reports the instance's groups only when set on the instance.
    ec2.modify_instance_attribute(InstanceId=bastion, Groups=[edge])
    zone = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["AvailabilityZone"]
    key_arn = account.client("kms", region).create_key(Description="volume key")["KeyMetadata"]["Arn"]
    for encrypted, kms_key in ((True, None), (True, key_arn), (False, None)):
        args = {"AvailabilityZone": zone, "Size": 8, "VolumeType": "gp3", "Encrypted": encrypted}
        if kms_key:
            args["KmsKeyId"] = kms_key
        ec2.create_volume(**args)


def seed_exposure(account, index):
    """Buckets public by one means only, and an account-level block.

    Odd accounts (which get no `-public` bucket) get a bucket public through
    its ACL alone; the first account a bucket public through its policy alone
    and an account-wide block of everything; the second an account-wide block
    that ignores public ACLs only. Set after the buckets: the block is what an
    auditor must see beside them, not something that stopped the seeding.
    """
    prefix = f"fs-{account.account_id}"
    s3 = account.client("s3", "us-east-1")
    if index % 2 == 1:
        s3.create_bucket(Bucket=f"{prefix}-acl-public")
        s3.put_bucket_acl(Bucket=f"{prefix}-acl-public", ACL="authenticated-read")
    if index == 0:
        bucket = f"{prefix}-policy-public"
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(
            Bucket=bucket,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{bucket}/*",
                        }
                    ],
                }
            ),
        )
    blocks = {
        0: {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        1: {"BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False},
    }
    if index in blocks:
        account.s3control().put_public_access_block(
            AccountId=account.account_id, PublicAccessBlockConfiguration=blocks[index]
        )


def seed_account(account, index, images, variant, paginate=False):
    for region_index, region in enumerate(REGIONS):
        count = 1 + (index + region_index) % 3
        # One scanned account's first region holds more instances than the
        # tests' EC2 page size (5), so a scan must follow NextToken.
        extra = 5 if paginate and region_index == 0 else 0
        if variant == "large":
            count, extra = count * 3, extra + 20
        seed_region(account, region, images[region], count, extra)
    seed_buckets(account, index)
    seed_audit_cases(account, REGIONS[1], images[REGIONS[1]])
    seed_exposure(account, index)


def main():
    parser = argparse.ArgumentParser(description="Seed moto with fleetscan's sample organization.")
    parser.add_argument("endpoint")
    parser.add_argument("manifest_out")
    parser.add_argument("--variant", choices=["default", "large"], default="default")
    args = parser.parse_args()

    management = Account.management(args.endpoint)
    organization = create_organization(management)
    images = {region: default_image(management, region) for region in REGIONS}

    # The management account gets resources too: a scan that leaves it out
    # (the default) must not show them.
    seed_account(management, 99, images, args.variant)
    member_index = 0
    # Regression: the extra page went to the lowest-id member, which is not
    # always a scanned one (ids are random), so pagination went untested in
    # about one run in three. It now goes to the first scanned account.
    first_scanned = next(entry["id"] for entry in organization["accounts"] if entry["scanned"])
    # Scanned accounts first: the cases that depend on an account's index
    # (account-level blocks, the policy-only public bucket, …) must land in
    # accounts the tests scan, whatever ids moto hands out.
    members = sorted(organization["accounts"], key=lambda entry: (not entry["scanned"], entry["id"]))
    for entry in members:
        if entry["id"] == MANAGEMENT_ACCOUNT_ID or entry["state"] == "SUSPENDED":
            continue
        member = Account.member(args.endpoint, entry["id"])
        seed_account(member, member_index, images, args.variant, paginate=entry["id"] == first_scanned)
        member_index += 1

    by_name = {entry["name"]: entry for entry in organization["accounts"]}
    scanned_ou = next(ou["id"] for ou in organization["ous"] if ou["path"] == SCANNED_OU)
    manifest = {
        "variant": args.variant,
        "regions": REGIONS,
        "role_name": ROLE_NAME,
        "organization": organization,
        # What the tests put in the config, and which accounts that must yield.
        "scan": {
            "include_ous": [scanned_ou],
            "exclude_accounts": [by_name["audit"]["id"]],
            "regions": REGIONS,
            "expected_accounts": sorted(entry["id"] for entry in organization["accounts"] if entry["scanned"]),
        },
        "fleet": read_fleet(args.endpoint, organization),
    }
    write_json(args.manifest_out, manifest)
    print(
        f"seeded organization {organization['id']}: {len(organization['accounts'])} accounts, "
        f"{len(manifest['scan']['expected_accounts'])} to scan; manifest {args.manifest_out}"
    )


if __name__ == "__main__":
    main()
