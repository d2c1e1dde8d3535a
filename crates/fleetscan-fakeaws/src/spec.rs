//! `FleetSpec`: the small description a synthetic fleet is generated from.

use serde::{Deserialize, Serialize};

/// A number of things: exactly `n`, or uniformly between `min` and `max`
/// (chosen per account or per region from the seed).
///
/// In JSON: `5` or `{"min": 1, "max": 9}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Count {
    /// Always this many.
    Exactly(u32),
    /// Between the bounds, inclusive.
    Between {
        /// Lowest count.
        min: u32,
        /// Highest count.
        max: u32,
    },
}

impl Count {
    pub(crate) fn bounds(self) -> (u32, u32) {
        match self {
            Count::Exactly(n) => (n, n),
            Count::Between { min, max } => (min, max.max(min)),
        }
    }
}

/// Describes a synthetic organization. Everything not given here (names, ids,
/// posture of every bucket, rules of every group, ...) is derived from `seed`,
/// so the same spec always yields the same fleet.
///
/// Loadable from JSON (every field optional, unknown fields rejected):
///
/// ```json
/// { "seed": 7, "accounts": 200, "regions": ["us-east-1", "eu-west-1"],
///   "opt_in_regions": [], "instances_per_region": 50, "buckets_per_account": 10 }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetSpec {
    /// Seed of every generated value.
    pub seed: u64,
    /// Member accounts, not counting the management account.
    pub accounts: u32,
    /// The management account (the caller of the base credentials).
    pub management_account_id: String,
    /// Member `i` (0-based) has id `first_account_id + i`, as 12 digits.
    pub first_account_id: u64,
    /// OUs directly under the root.
    pub top_level_ous: u32,
    /// OUs under each top-level OU.
    pub child_ous_per_ou: u32,
    /// Members in state SUSPENDED (chosen from the seed).
    pub suspended_accounts: u32,
    /// Members in state PENDING_CLOSURE.
    pub pending_closure_accounts: u32,
    /// Members in state CLOSED.
    pub closed_accounts: u32,
    /// Regions enabled in every account (`opt-in-not-required`).
    pub regions: Vec<String>,
    /// Opt-in regions, each enabled (`opted-in`) in an account with probability
    /// `opted_in_fraction`, else `not-opted-in`.
    pub opt_in_regions: Vec<String>,
    /// See `opt_in_regions`.
    pub opted_in_fraction: f64,
    /// EC2 instances per account and enabled region.
    pub instances_per_region: Count,
    /// Security groups per account and enabled region (the first is `default`).
    pub security_groups_per_region: Count,
    /// EBS volumes per account and enabled region.
    pub volumes_per_region: Count,
    /// S3 buckets per account.
    pub buckets_per_account: Count,
    /// Whether the management account has resources of its own.
    pub management_account_resources: bool,
    /// Fraction of accounts with an account-level S3 public access block.
    pub account_public_access_block_fraction: f64,
    /// Mix names, tags and descriptions with quotes, SQL, `<script>`, unicode
    /// and control characters.
    pub hostile_names: bool,
    /// If set, `AssumeRole` succeeds only for roles with this name.
    pub role_name: Option<String>,
    /// If set, `AssumeRole` requires this `ExternalId`.
    pub external_id: Option<String>,
    /// The roles' maximum session duration (AWS default: 3600).
    pub max_session_duration: u32,
}

impl Default for FleetSpec {
    /// A small but varied fleet: 4 members in 2 OUs (one suspended), 2 regions
    /// plus 1 opt-in region, a few resources of each kind, hostile names on.
    fn default() -> Self {
        FleetSpec {
            seed: 1,
            accounts: 4,
            management_account_id: "111111111111".to_owned(),
            first_account_id: 222_200_000_000,
            top_level_ous: 2,
            child_ous_per_ou: 1,
            suspended_accounts: 1,
            pending_closure_accounts: 0,
            closed_accounts: 0,
            regions: vec!["us-east-1".to_owned(), "eu-west-1".to_owned()],
            opt_in_regions: vec!["af-south-1".to_owned()],
            opted_in_fraction: 0.5,
            instances_per_region: Count::Between { min: 2, max: 4 },
            security_groups_per_region: Count::Exactly(3),
            volumes_per_region: Count::Between { min: 1, max: 3 },
            buckets_per_account: Count::Between { min: 2, max: 4 },
            management_account_resources: true,
            account_public_access_block_fraction: 0.5,
            hostile_names: true,
            role_name: None,
            external_id: None,
            max_session_duration: 3600,
        }
    }
}

/// Why a spec cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fleet spec: {0}")]
pub struct SpecError(pub String);

impl FleetSpec {
    /// A fleet of `accounts` members with `regions` enabled everywhere, no
    /// opt-in regions and no non-ACTIVE accounts: the shape benchmarks want.
    pub fn uniform(seed: u64, accounts: u32, regions: &[&str]) -> Self {
        FleetSpec {
            seed,
            accounts,
            regions: regions.iter().map(|region| (*region).to_owned()).collect(),
            opt_in_regions: Vec::new(),
            suspended_accounts: 0,
            ..FleetSpec::default()
        }
    }

    /// Reads a spec from JSON text.
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        let spec: FleetSpec =
            serde_json::from_str(text).map_err(|error| SpecError(error.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the spec can be generated.
    pub fn validate(&self) -> Result<(), SpecError> {
        let fail = |message: String| Err(SpecError(message));
        if !is_account_id(&self.management_account_id) {
            return fail(format!(
                "management_account_id {:?} is not 12 digits",
                self.management_account_id
            ));
        }
        let last = self.first_account_id + u64::from(self.accounts);
        if self.accounts > 0 && last > 1_000_000_000_000 {
            return fail("account ids would exceed 12 digits".to_owned());
        }
        let management: u64 = self.management_account_id.parse().unwrap_or(0);
        if (self.first_account_id..last).contains(&management) {
            return fail("management_account_id collides with a member account id".to_owned());
        }
        let non_active = u64::from(self.suspended_accounts)
            + u64::from(self.pending_closure_accounts)
            + u64::from(self.closed_accounts);
        if non_active > u64::from(self.accounts) {
            return fail("more non-ACTIVE accounts than accounts".to_owned());
        }
        let mut all: Vec<&String> = self.regions.iter().chain(&self.opt_in_regions).collect();
        if self.regions.is_empty() {
            return fail("regions must not be empty".to_owned());
        }
        if all.len() > 64 {
            return fail("at most 64 regions".to_owned());
        }
        for region in &all {
            if region.is_empty()
                || !region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return fail(format!("region {region:?} is not a region name"));
            }
        }
        all.sort();
        all.dedup();
        if all.len() != self.regions.len() + self.opt_in_regions.len() {
            return fail("a region is listed twice".to_owned());
        }
        if !(0.0..=1.0).contains(&self.opted_in_fraction)
            || !(0.0..=1.0).contains(&self.account_public_access_block_fraction)
        {
            return fail("fractions must be within 0..=1".to_owned());
        }
        if !(900..=43_200).contains(&self.max_session_duration) {
            return fail("max_session_duration must be within 900..=43200".to_owned());
        }
        Ok(())
    }
}

pub(crate) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_with_defaults_and_ranges() {
        let spec = FleetSpec::from_json(
            r#"{"seed": 9, "accounts": 3, "instances_per_region": {"min": 1, "max": 5}, "buckets_per_account": 2}"#,
        );
        let spec = spec.unwrap_or_default();
        assert_eq!(spec.seed, 9);
        assert_eq!(spec.instances_per_region, Count::Between { min: 1, max: 5 });
        assert_eq!(spec.buckets_per_account, Count::Exactly(2));
        assert_eq!(spec.regions, FleetSpec::default().regions);
    }

    #[test]
    fn rejects_unknown_fields_and_bad_values() {
        assert!(FleetSpec::from_json(r#"{"acounts": 3}"#).is_err());
        assert!(FleetSpec::from_json(r#"{"regions": []}"#).is_err());
        assert!(FleetSpec::from_json(r#"{"regions": ["us-east-1", "us-east-1"]}"#).is_err());
        assert!(FleetSpec::from_json(r#"{"management_account_id": "12"}"#).is_err());
        assert!(FleetSpec::from_json(r#"{"accounts": 2, "suspended_accounts": 3}"#).is_err());
    }
}
