//! EC2 (ec2Query protocol): regions, instances, security groups and volumes of
//! the caller's account in the signed region.

use crate::fleet::{Instance, Permission, RegionResources, RuleSource, SecurityGroup, Tag, Volume};
use crate::operation::Operation;
use crate::server::{ApiError, Call, HttpResponse, respond, xml_document};
use crate::wire::XmlWriter;

const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";
const CONTENT_TYPE: &str = "text/xml;charset=UTF-8";

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterValue", message.into())
}

pub(crate) fn handle(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    if call.operation == Operation::DescribeRegions {
        return describe_regions(call);
    }
    // Filters and id lists would change what a page holds; the fake serves
    // whole-inventory listings only, and says so rather than ignoring them.
    let unsupported = call.params.keys().find(|key| {
        key.starts_with("Filter.")
            || key.starts_with("InstanceId.")
            || key.starts_with("GroupId.")
            || key.starts_with("GroupName.")
            || key.starts_with("VolumeId.")
    });
    if let Some(key) = unsupported {
        return Err(ApiError::new(
            400,
            "UnsupportedOperation",
            format!("the fake serves unfiltered listings only (got {key})"),
        ));
    }
    let resources = call.fleet.resources_at(call.caller.account);
    let empty = RegionResources::default();
    let region = call
        .region_position
        .and_then(|position| resources.regions.get(position))
        .unwrap_or(&empty);
    match call.operation {
        Operation::DescribeInstances => describe_instances(call, region),
        Operation::DescribeSecurityGroups => describe_security_groups(call, region),
        Operation::DescribeVolumes => describe_volumes(call, region),
        _ => Err(ApiError::new(400, "InvalidAction", "not an EC2 operation")),
    }
}

/// MaxResults within `low..=high`; above `high` is clamped when `clamp`
/// (DescribeVolumes returns at most 500 rather than failing).
fn page_size(
    call: &Call<'_>,
    total: usize,
    low: usize,
    high: usize,
    clamp: bool,
) -> Result<usize, ApiError> {
    match call.params.get("MaxResults") {
        None => Ok(total.max(1)),
        Some(text) => {
            let value: usize = text.parse().map_err(|_| {
                invalid(format!(
                    "Value ({text}) for parameter maxResults is invalid."
                ))
            })?;
            if value < low || (value > high && !clamp) {
                return Err(invalid(format!(
                    "Value ( {value} ) for parameter maxResults is invalid. Expecting a value between {low} and {high}."
                )));
            }
            Ok(value.min(high))
        }
    }
}

fn start(call: &Call<'_>, root: &str, capacity: usize) -> String {
    let mut body = xml_document(capacity);
    body.push('<');
    body.push_str(root);
    body.push_str(" xmlns=\"");
    body.push_str(NAMESPACE);
    body.push_str("\">");
    body.leaf("requestId", &call.request_id);
    body
}

fn end(mut body: String, root: &str, next_token: Option<&str>) -> HttpResponse {
    body.leaf_opt("nextToken", next_token);
    body.close(root);
    respond(200, CONTENT_TYPE, body)
}

fn invalid_token() -> ApiError {
    ApiError::new(400, "InvalidParameterValue", "Invalid value for nextToken")
}

fn describe_regions(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let fleet = call.fleet;
    let all_regions = call.params.get("AllRegions") == Some("true");
    let names = call.params.list("RegionName");
    for name in &names {
        if fleet.region_position(name).is_none() {
            return Err(invalid(format!("Invalid region: {name}")));
        }
    }
    let filters = call.params.filters();
    for (name, _) in &filters {
        if !matches!(*name, "region-name" | "opt-in-status" | "endpoint") {
            return Err(ApiError::new(
                400,
                "InvalidParameterValue",
                format!("The filter '{name}' is invalid"),
            ));
        }
    }
    let mut body = start(call, "DescribeRegionsResponse", 2048);
    body.open("regionInfo");
    for (position, region) in fleet.regions().iter().enumerate() {
        let enabled = fleet.region_enabled_at(call.caller.account, position);
        let status = match (region.opt_in, enabled) {
            (false, _) => "opt-in-not-required",
            (true, true) => "opted-in",
            (true, false) => "not-opted-in",
        };
        let endpoint = format!("ec2.{}.amazonaws.com", region.name);
        let listed = if names.is_empty() {
            enabled || all_regions
        } else {
            names.contains(&region.name.as_str())
        };
        let filtered = filters.iter().all(|(name, values)| {
            let value = match *name {
                "region-name" => region.name.as_str(),
                "opt-in-status" => status,
                _ => endpoint.as_str(),
            };
            values.contains(&value)
        });
        if !listed || !filtered {
            continue;
        }
        body.open("item");
        body.leaf("regionName", &region.name);
        body.leaf("regionEndpoint", &endpoint);
        body.leaf("optInStatus", status);
        body.close("item");
    }
    body.close("regionInfo");
    Ok(end(body, "DescribeRegionsResponse", None))
}

fn write_tags(body: &mut String, tags: &[Tag]) {
    body.open("tagSet");
    for tag in tags {
        body.open("item");
        body.leaf("key", &tag.key);
        body.leaf("value", &tag.value);
        body.close("item");
    }
    body.close("tagSet");
}

fn describe_instances(call: &Call<'_>, region: &RegionResources) -> Result<HttpResponse, ApiError> {
    let instances = &region.instances;
    let size = page_size(call, instances.len(), 5, 1000, false)?;
    let page = call.page(
        instances.len(),
        size,
        call.params.get("NextToken"),
        invalid_token(),
    )?;
    let account_id = call.account_id();
    let mut body = start(
        call,
        "DescribeInstancesResponse",
        512 + 2048 * (page.end - page.start),
    );
    body.open("reservationSet");
    let slice = &instances[page.start..page.end];
    let mut index = 0;
    while index < slice.len() {
        let reservation = &slice[index].reservation_id;
        body.open("item");
        body.leaf("reservationId", reservation);
        body.leaf("ownerId", account_id);
        body.push_str("<groupSet/>");
        body.open("instancesSet");
        while index < slice.len() && &slice[index].reservation_id == reservation {
            write_instance(&mut body, &slice[index], index);
            index += 1;
        }
        body.close("instancesSet");
        body.close("item");
    }
    body.close("reservationSet");
    Ok(end(
        body,
        "DescribeInstancesResponse",
        page.next_token.as_deref(),
    ))
}

fn write_instance(body: &mut String, instance: &Instance, launch_index: usize) {
    body.open("item");
    body.leaf("instanceId", &instance.instance_id);
    body.leaf("imageId", &instance.image_id);
    body.open("instanceState");
    body.leaf_num("code", instance.state_code);
    body.leaf("name", instance.state);
    body.close("instanceState");
    body.leaf("privateDnsName", "");
    body.leaf("dnsName", "");
    body.leaf_opt("keyName", instance.key_name.as_deref());
    body.leaf_num("amiLaunchIndex", (launch_index % 2) as i64);
    body.leaf("instanceType", &instance.instance_type);
    body.leaf_time("launchTime", instance.launch_time);
    body.open("placement");
    body.leaf("availabilityZone", &instance.availability_zone);
    body.leaf("groupName", "");
    body.leaf("tenancy", "default");
    body.close("placement");
    body.leaf_opt("platform", instance.platform);
    body.push_str("<monitoring><state>disabled</state></monitoring>");
    body.leaf_opt("subnetId", instance.subnet_id.as_deref());
    body.leaf_opt("vpcId", instance.vpc_id.as_deref());
    body.leaf_opt("privateIpAddress", instance.private_ip.as_deref());
    body.leaf_opt("ipAddress", instance.public_ip.as_deref());
    body.open("groupSet");
    for (group_id, group_name) in &instance.security_groups {
        body.open("item");
        body.leaf("groupId", group_id);
        body.leaf("groupName", group_name);
        body.close("item");
    }
    body.close("groupSet");
    body.leaf("architecture", "x86_64");
    body.leaf("rootDeviceType", "ebs");
    body.leaf("rootDeviceName", "/dev/xvda");
    body.leaf("virtualizationType", "hvm");
    if let Some(arn) = &instance.iam_instance_profile_arn {
        body.open("iamInstanceProfile");
        body.leaf("arn", arn);
        body.leaf("id", "AIPAFAKEPROFILE000001");
        body.close("iamInstanceProfile");
    }
    write_tags(body, &instance.tags);
    body.open("metadataOptions");
    body.leaf("state", "applied");
    body.leaf("httpTokens", instance.imds_http_tokens);
    body.leaf_num("httpPutResponseHopLimit", 2);
    body.leaf("httpEndpoint", instance.imds_http_endpoint);
    body.leaf("httpProtocolIpv6", "disabled");
    body.leaf("instanceMetadataTags", "disabled");
    body.close("metadataOptions");
    body.close("item");
}

fn describe_security_groups(
    call: &Call<'_>,
    region: &RegionResources,
) -> Result<HttpResponse, ApiError> {
    let groups = &region.security_groups;
    let size = page_size(call, groups.len(), 5, 1000, false)?;
    let page = call.page(
        groups.len(),
        size,
        call.params.get("NextToken"),
        invalid_token(),
    )?;
    let mut body = start(
        call,
        "DescribeSecurityGroupsResponse",
        512 + 1536 * (page.end - page.start),
    );
    body.open("securityGroupInfo");
    for group in &groups[page.start..page.end] {
        write_group(&mut body, group, call.region);
    }
    body.close("securityGroupInfo");
    Ok(end(
        body,
        "DescribeSecurityGroupsResponse",
        page.next_token.as_deref(),
    ))
}

fn write_group(body: &mut String, group: &SecurityGroup, region: &str) {
    body.open("item");
    body.leaf("ownerId", &group.owner_id);
    body.leaf("groupId", &group.group_id);
    body.leaf("groupName", &group.group_name);
    body.leaf("groupDescription", &group.description);
    body.leaf("vpcId", &group.vpc_id);
    body.leaf(
        "securityGroupArn",
        &format!(
            "arn:aws:ec2:{region}:{}:security-group/{}",
            group.owner_id, group.group_id
        ),
    );
    write_permissions(body, "ipPermissions", &group.ingress);
    write_permissions(body, "ipPermissionsEgress", &group.egress);
    write_tags(body, &group.tags);
    body.close("item");
}

fn write_permissions(body: &mut String, name: &str, permissions: &[Permission]) {
    body.open(name);
    for permission in permissions {
        body.open("item");
        body.leaf("ipProtocol", &permission.protocol);
        if let Some(port) = permission.from_port {
            body.leaf_num("fromPort", port);
        }
        if let Some(port) = permission.to_port {
            body.leaf_num("toPort", port);
        }
        body.open("groups");
        for source in &permission.sources {
            if let RuleSource::Group {
                user_id,
                group_id,
                description,
            } = source
            {
                body.open("item");
                body.leaf("userId", user_id);
                body.leaf("groupId", group_id);
                body.leaf_opt("description", description.as_deref());
                body.close("item");
            }
        }
        body.close("groups");
        body.open("ipRanges");
        for source in &permission.sources {
            if let RuleSource::Cidr { cidr, description } = source {
                body.open("item");
                body.leaf("cidrIp", cidr);
                body.leaf_opt("description", description.as_deref());
                body.close("item");
            }
        }
        body.close("ipRanges");
        body.open("ipv6Ranges");
        for source in &permission.sources {
            if let RuleSource::CidrIpv6 { cidr, description } = source {
                body.open("item");
                body.leaf("cidrIpv6", cidr);
                body.leaf_opt("description", description.as_deref());
                body.close("item");
            }
        }
        body.close("ipv6Ranges");
        body.open("prefixListIds");
        for source in &permission.sources {
            if let RuleSource::PrefixList {
                prefix_list_id,
                description,
            } = source
            {
                body.open("item");
                body.leaf("prefixListId", prefix_list_id);
                body.leaf_opt("description", description.as_deref());
                body.close("item");
            }
        }
        body.close("prefixListIds");
        body.close("item");
    }
    body.close(name);
}

fn describe_volumes(call: &Call<'_>, region: &RegionResources) -> Result<HttpResponse, ApiError> {
    let volumes = &region.volumes;
    let size = page_size(call, volumes.len(), 5, 500, true)?;
    let page = call.page(
        volumes.len(),
        size,
        call.params.get("NextToken"),
        invalid_token(),
    )?;
    let mut body = start(
        call,
        "DescribeVolumesResponse",
        512 + 1024 * (page.end - page.start),
    );
    body.open("volumeSet");
    for volume in &volumes[page.start..page.end] {
        write_volume(&mut body, volume);
    }
    body.close("volumeSet");
    Ok(end(
        body,
        "DescribeVolumesResponse",
        page.next_token.as_deref(),
    ))
}

fn write_volume(body: &mut String, volume: &Volume) {
    body.open("item");
    body.leaf("volumeId", &volume.volume_id);
    body.leaf_num("size", volume.size_gib);
    body.leaf("snapshotId", "");
    body.leaf("availabilityZone", &volume.availability_zone);
    body.leaf("status", volume.state);
    body.leaf_time("createTime", volume.create_time);
    body.open("attachmentSet");
    for instance_id in &volume.attached_instance_ids {
        body.open("item");
        body.leaf("volumeId", &volume.volume_id);
        body.leaf("instanceId", instance_id);
        body.leaf("device", "/dev/xvdf");
        body.leaf("status", "attached");
        body.leaf_time("attachTime", volume.create_time);
        body.leaf_bool("deleteOnTermination", false);
        body.close("item");
    }
    body.close("attachmentSet");
    body.leaf("volumeType", volume.volume_type);
    if let Some(iops) = volume.iops {
        body.leaf_num("iops", iops);
    }
    body.leaf_bool("encrypted", volume.encrypted);
    body.leaf_opt("kmsKeyId", volume.kms_key_id.as_deref());
    write_tags(body, &volume.tags);
    body.leaf_bool("multiAttachEnabled", false);
    body.close("item");
}
