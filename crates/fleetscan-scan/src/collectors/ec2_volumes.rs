//! EBS volumes of one region (`DescribeVolumes`), one row each.

use fleetscan_store::rows::{Ec2VolumeRow, Row};
use futures::FutureExt;

use super::{CollectorSpec, Scope, UnitContext, UnitError, required, rfc3339, tags};
use crate::classify::classify;
use crate::paginate::PageGuard;

pub const SPEC: CollectorSpec = CollectorSpec {
    name: "ec2_volumes",
    scope: Scope::Regional,
    actions: &["ec2:DescribeVolumes"],
    collect: |unit| collect(unit).boxed(),
};

async fn collect(unit: &UnitContext<'_>) -> Result<(), UnitError> {
    let client = unit.session.ec2(unit.region);
    let mut guard = PageGuard::new("DescribeVolumes");
    let mut token = None;
    // DescribeVolumes allows at most 500 per page.
    let page_size = unit.config.page_size.ec2.min(500);
    loop {
        unit.call();
        let page = client
            .describe_volumes()
            .max_results(page_size)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        // Checked before the page's items are emitted: a repeated token
        // means this page repeats an earlier one, whose rows are stored.
        token = guard.next(page.next_token().map(str::to_string))?;
        for volume in page.volumes() {
            let volume_id = required(volume.volume_id(), "volume")?;
            let row = Ec2VolumeRow {
                account_id: unit.session.account_id.clone(),
                region: unit.region.to_string(),
                volume_id: volume_id.to_string(),
                size_gib: volume.size().map(i64::from),
                volume_type: volume.volume_type().map(|t| t.as_str().to_string()),
                encrypted: volume.encrypted(),
                kms_key_id: volume.kms_key_id().map(str::to_string),
                state: volume.state().map(|s| s.as_str().to_string()),
                availability_zone: volume.availability_zone().map(str::to_string),
                attached_instance_ids: volume
                    .attachments()
                    .iter()
                    .filter_map(|a| a.instance_id())
                    .map(str::to_string)
                    .collect(),
                create_time: rfc3339(volume.create_time()),
                tags: tags(volume.tags().iter().map(|t| (t.key(), t.value()))),
            };
            unit.emitter.emit(Row::Ec2Volume(row)).await?;
        }
        if token.is_none() {
            return Ok(());
        }
    }
}
