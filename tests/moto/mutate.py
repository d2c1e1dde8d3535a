"""Changes the seeded fleet between two scans, and writes what changed.

This file owns the "something changed" half of the demo and of the diff tests:

    python mutate.py ENDPOINT MANIFEST_IN MANIFEST_OUT

MANIFEST_IN is seed.py's manifest. MANIFEST_OUT is a complete manifest again
(organization, scan settings, and the fleet as moto reports it after the
changes), plus `changes`: one entry per change, naming the account, region,
resource type and id, so a diff test can assert exactly these show up.

The changes, all in scanned accounts:
  - terminate the `db-primary` instance of the first scanned account that has one
  - launch a new instance `added-by-mutate`
  - open SSH (tcp/22) to 0.0.0.0/0 on a `web` security group
  - turn the `-locked` bucket's block public access off and suspend its versioning
  - retag an instance (env → staging) and a bucket (owner → security)
  - delete the `-kms` bucket of the second scanned account

plus what moto does on its own as a consequence (the root volumes of the
terminated and the launched instance), found by reading the fleet back.
"""

import argparse

from fleet import Account, read_fleet, read_json, write_json


def first_instance(manifest, account_id, name):
    for region, instances in manifest["fleet"][account_id]["instances"].items():
        for instance in instances:
            if instance["name"] == name and instance["state"] == "running":
                return region, instance
    return None, None


def main():
    parser = argparse.ArgumentParser(description="Change the seeded fleet for a second scan.")
    parser.add_argument("endpoint")
    parser.add_argument("manifest_in")
    parser.add_argument("manifest_out")
    args = parser.parse_args()

    manifest = read_json(args.manifest_in)
    scanned = manifest["scan"]["expected_accounts"]
    changes = []

    def change(kind, account_id, region, resource_type, resource_id, detail):
        changes.append(
            {
                "kind": kind,  # added, removed, modified
                "account_id": account_id,
                "region": region,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "detail": detail,
            }
        )

    # Terminate a db-primary (first scanned account that has one).
    for account_id in scanned:
        region, victim = first_instance(manifest, account_id, "db-primary")
        if victim is not None:
            account = Account.member(args.endpoint, account_id)
            account.client("ec2", region).terminate_instances(InstanceIds=[victim["instance_id"]])
            change("modified", account_id, region, "ec2_instances", victim["instance_id"], "state: running -> terminated")
            break

    first = Account.member(args.endpoint, scanned[0])
    region = manifest["regions"][0]
    ec2 = first.client("ec2", region)
    template = manifest["fleet"][scanned[0]]["instances"][region][0]

    # Launch one more.
    added = ec2.run_instances(
        ImageId=template["image_id"],
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.nano",
        SubnetId=template["subnet_id"],
        MetadataOptions={"HttpTokens": "optional"},
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "added-by-mutate"}, {"Key": "env", "Value": "dev"}]}
        ],
    )["Instances"][0]["InstanceId"]
    change("added", scanned[0], region, "ec2_instances", added, "new instance added-by-mutate")

    # Retag an existing instance.
    ec2.create_tags(Resources=[template["instance_id"]], Tags=[{"Key": "env", "Value": "staging"}])
    change("modified", scanned[0], region, "ec2_instances", template["instance_id"], "tag env -> staging")

    # Open SSH to the world on the web group.
    web = next(group for group in manifest["fleet"][scanned[0]]["security_groups"][region] if group["group_name"] == "web")
    ec2.authorize_security_group_ingress(
        GroupId=web["group_id"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    change("added", scanned[0], region, "ec2_security_group_rules", web["group_id"], "ingress tcp/22 from 0.0.0.0/0")

    # The locked bucket: block public access off, versioning suspended, retagged.
    s3 = first.client("s3", "us-east-1")
    locked = f"fs-{scanned[0]}-locked"
    s3.put_public_access_block(
        Bucket=locked,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    change("modified", scanned[0], "global", "s3_buckets", locked, "block public access: all true -> all false")
    s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Suspended"})
    change("modified", scanned[0], "global", "s3_buckets", locked, "versioning: Enabled -> Suspended")
    s3.put_bucket_tagging(
        Bucket=locked, Tagging={"TagSet": [{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "security"}]}
    )
    change("modified", scanned[0], "global", "s3_buckets", locked, "tag owner: platform -> security")

    # Delete a bucket of another account.
    second = Account.member(args.endpoint, scanned[1])
    doomed = f"fs-{scanned[1]}-kms"
    second.client("s3", "eu-west-1").delete_bucket(Bucket=doomed)
    change("removed", scanned[1], "global", "s3_buckets", doomed, "bucket deleted")

    seeded_fleet = manifest["fleet"]
    manifest["fleet"] = read_fleet(args.endpoint, manifest["organization"], manifest["regions"])

    # What moto changed on its own: a terminated instance's root volume is
    # deleted, a launched instance brings a new one. Read back, not assumed.
    for account_id in scanned:
        for region in manifest["regions"]:
            before = {v["volume_id"]: v for v in seeded_fleet[account_id].get("volumes", {}).get(region, [])}
            after = {v["volume_id"]: v for v in manifest["fleet"][account_id].get("volumes", {}).get(region, [])}
            for volume_id in sorted(before.keys() | after.keys()):
                old, new = before.get(volume_id), after.get(volume_id)
                if old == new:
                    continue
                kind = "added" if old is None else "removed" if new is None else "modified"
                detail = f"volume {kind} by moto as a consequence of the instance changes"
                change(kind, account_id, region, "ec2_volumes", volume_id, detail)

    manifest["changes"] = changes
    write_json(args.manifest_out, manifest)
    print(f"mutated the fleet: {len(changes)} changes; manifest {args.manifest_out}")


if __name__ == "__main__":
    main()
