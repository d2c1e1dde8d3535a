//! EC2 instances of one region (`DescribeInstances`), one row each.

use fleetscan_store::rows::{Ec2InstanceRow, Row};
use futures::FutureExt;

use super::{CollectorSpec, Scope, UnitContext, UnitError, required, rfc3339, tags};
use crate::classify::classify;
use crate::paginate::PageGuard;

pub const SPEC: CollectorSpec = CollectorSpec {
    name: "ec2_instances",
    scope: Scope::Regional,
    actions: &["ec2:DescribeInstances"],
    collect: |unit| collect(unit).boxed(),
};

async fn collect(unit: &UnitContext<'_>) -> Result<(), UnitError> {
    let client = unit.session.ec2(unit.region);
    let mut guard = PageGuard::new("DescribeInstances");
    let mut token = None;
    loop {
        unit.call();
        let page = client
            .describe_instances()
            .max_results(unit.config.page_size.ec2)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        // Checked before the page's items are emitted: a repeated token
        // means this page repeats an earlier one, whose rows are stored.
        token = guard.next(page.next_token().map(str::to_string))?;
        for reservation in page.reservations() {
            for instance in reservation.instances() {
                let instance_id = required(instance.instance_id(), "instance")?;
                let tags = tags(instance.tags().iter().map(|t| (t.key(), t.value())));
                let metadata = instance.metadata_options();
                let row = Ec2InstanceRow {
                    account_id: unit.session.account_id.clone(),
                    region: unit.region.to_string(),
                    instance_id: instance_id.to_string(),
                    name: tags.get("Name").cloned(),
                    state: instance
                        .state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string()),
                    instance_type: instance.instance_type().map(|t| t.as_str().to_string()),
                    image_id: instance.image_id().map(str::to_string),
                    launch_time: rfc3339(instance.launch_time()),
                    availability_zone: instance
                        .placement()
                        .and_then(|p| p.availability_zone())
                        .map(str::to_string),
                    vpc_id: instance.vpc_id().map(str::to_string),
                    subnet_id: instance.subnet_id().map(str::to_string),
                    private_ip: instance.private_ip_address().map(str::to_string),
                    public_ip: instance.public_ip_address().map(str::to_string),
                    iam_instance_profile_arn: instance
                        .iam_instance_profile()
                        .and_then(|p| p.arn())
                        .map(str::to_string),
                    key_name: instance.key_name().map(str::to_string),
                    platform: instance.platform().map(|p| p.as_str().to_string()),
                    imds_http_tokens: metadata
                        .and_then(|m| m.http_tokens())
                        .map(|t| t.as_str().to_string()),
                    imds_http_endpoint: metadata
                        .and_then(|m| m.http_endpoint())
                        .map(|e| e.as_str().to_string()),
                    security_group_ids: instance
                        .security_groups()
                        .iter()
                        .filter_map(|g| g.group_id())
                        .map(str::to_string)
                        .collect(),
                    tags,
                };
                unit.emitter.emit(Row::Ec2Instance(row)).await?;
            }
        }
        if token.is_none() {
            return Ok(());
        }
    }
}
