//! EC2 security groups of one region (`DescribeSecurityGroups`): one row per
//! group, and one rule row per rule × source (each IPv4 range, IPv6 range,
//! prefix list and referenced group), ingress and egress.

use aws_sdk_ec2::types::IpPermission;
use fleetscan_store::rows::{Ec2SecurityGroupRow, Ec2SecurityGroupRuleRow, Row, RuleDirection};
use futures::FutureExt;

use super::{CollectorSpec, Scope, UnitContext, UnitError, required, tags};
use crate::classify::classify;
use crate::paginate::PageGuard;

pub const SPEC: CollectorSpec = CollectorSpec {
    name: "ec2_security_groups",
    scope: Scope::Regional,
    actions: &["ec2:DescribeSecurityGroups"],
    collect: |unit| collect(unit).boxed(),
};

async fn collect(unit: &UnitContext<'_>) -> Result<(), UnitError> {
    let client = unit.session.ec2(unit.region);
    let mut guard = PageGuard::new("DescribeSecurityGroups");
    let mut token = None;
    loop {
        unit.call();
        let page = client
            .describe_security_groups()
            .max_results(unit.config.page_size.ec2)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        // Checked before the page's items are emitted: a repeated token
        // means this page repeats an earlier one, whose rows are stored.
        token = guard.next(page.next_token().map(str::to_string))?;
        for group in page.security_groups() {
            let group_id = required(group.group_id(), "security group")?;
            let row = Ec2SecurityGroupRow {
                account_id: unit.session.account_id.clone(),
                region: unit.region.to_string(),
                group_id: group_id.to_string(),
                group_name: group.group_name().map(str::to_string),
                description: group.description().map(str::to_string),
                vpc_id: group.vpc_id().map(str::to_string),
                tags: tags(group.tags().iter().map(|t| (t.key(), t.value()))),
            };
            unit.emitter.emit(Row::Ec2SecurityGroup(row)).await?;
            for (direction, permissions) in [
                (RuleDirection::Ingress, group.ip_permissions()),
                (RuleDirection::Egress, group.ip_permissions_egress()),
            ] {
                for permission in permissions {
                    for rule in flatten(
                        &unit.session.account_id,
                        unit.region,
                        group_id,
                        direction,
                        permission,
                    ) {
                        unit.emitter.emit(Row::Ec2SecurityGroupRule(rule)).await?;
                    }
                }
            }
        }
        if token.is_none() {
            return Ok(());
        }
    }
}

/// One permission into one row per source.
fn flatten(
    account_id: &str,
    region: &str,
    group_id: &str,
    direction: RuleDirection,
    permission: &IpPermission,
) -> Vec<Ec2SecurityGroupRuleRow> {
    let base = Ec2SecurityGroupRuleRow {
        account_id: account_id.to_string(),
        region: region.to_string(),
        group_id: group_id.to_string(),
        direction,
        protocol: permission.ip_protocol().unwrap_or("-1").to_string(),
        // AWS reports -1/-1 (or nothing) for "all ports"; keep what it said.
        from_port: permission.from_port().map(i64::from),
        to_port: permission.to_port().map(i64::from),
        cidr: None,
        prefix_list_id: None,
        referenced_group_id: None,
        description: None,
    };
    let mut rules = Vec::new();
    for range in permission.ip_ranges() {
        rules.push(Ec2SecurityGroupRuleRow {
            cidr: range.cidr_ip().map(str::to_string),
            description: range.description().map(str::to_string),
            ..base.clone()
        });
    }
    for range in permission.ipv6_ranges() {
        rules.push(Ec2SecurityGroupRuleRow {
            cidr: range.cidr_ipv6().map(str::to_string),
            description: range.description().map(str::to_string),
            ..base.clone()
        });
    }
    for prefix_list in permission.prefix_list_ids() {
        rules.push(Ec2SecurityGroupRuleRow {
            prefix_list_id: prefix_list.prefix_list_id().map(str::to_string),
            description: prefix_list.description().map(str::to_string),
            ..base.clone()
        });
    }
    for pair in permission.user_id_group_pairs() {
        rules.push(Ec2SecurityGroupRuleRow {
            referenced_group_id: pair.group_id().map(str::to_string),
            description: pair.description().map(str::to_string),
            ..base.clone()
        });
    }
    rules
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};

    use super::*;

    #[test]
    fn each_source_becomes_its_own_rule() {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip("0.0.0.0/0")
                    .description("ssh from anywhere")
                    .build(),
            )
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
            .prefix_list_ids(PrefixListId::builder().prefix_list_id("pl-123").build())
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-ref").build())
            .build();
        let rules = flatten(
            "111111111111",
            "us-east-1",
            "sg-1",
            RuleDirection::Ingress,
            &permission,
        );
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0].cidr.as_deref(), Some("0.0.0.0/0"));
        assert_eq!(rules[0].description.as_deref(), Some("ssh from anywhere"));
        assert_eq!(rules[2].cidr.as_deref(), Some("::/0"));
        assert_eq!(rules[3].prefix_list_id.as_deref(), Some("pl-123"));
        assert_eq!(rules[4].referenced_group_id.as_deref(), Some("sg-ref"));
        assert!(
            rules
                .iter()
                .all(|r| r.protocol == "tcp" && r.from_port == Some(22) && r.to_port == Some(22))
        );
        // exactly one source per row
        for rule in &rules {
            let sources = [
                rule.cidr.is_some(),
                rule.prefix_list_id.is_some(),
                rule.referenced_group_id.is_some(),
            ];
            assert_eq!(sources.iter().filter(|s| **s).count(), 1);
        }
    }

    #[test]
    fn all_protocols_is_minus_one() {
        let permission = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        let rules = flatten(
            "111111111111",
            "us-east-1",
            "sg-1",
            RuleDirection::Egress,
            &permission,
        );
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].protocol, "-1");
        assert_eq!(rules[0].from_port, None);
        assert_eq!(rules[0].direction, RuleDirection::Egress);
    }
}
