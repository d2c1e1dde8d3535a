//! The synthetic fleet: the organization generated eagerly from a `FleetSpec`,
//! each account's resources generated lazily on first use, and the ground
//! truth tests compare a scan against.

use crate::prng::{Rng, mix};
use crate::spec::{Count, FleetSpec, SpecError};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Strings that break naive quoting, escaping or rendering. XML-carried values
/// use the first ones; `HOSTILE_JSON` adds a control character for JSON.
const HOSTILE: &[&str] = &[
    "O'Brien's \"prod\" box",
    "'; DROP TABLE ec2_instances; --",
    "<script>alert('x')</script>",
    "Ünïcødé ✓ 日本語 🚀",
    "tab\tand\nnewline",
    "100% of $PATH & `whoami` \\ %s",
    "Robert'); DELETE FROM s3_buckets WHERE ('1'='1",
    "  padded  ",
];
const HOSTILE_JSON: &[&str] = &["bell\u{7} and escape\u{1b}[31m red"];

const PLAIN_WORDS: &[&str] = &[
    "web", "api", "batch", "worker", "db", "cache", "bastion", "etl", "search", "queue",
];
const ENVIRONMENTS: &[&str] = &["prod", "staging", "dev", "sandbox"];
const INSTANCE_TYPES: &[&str] = &[
    "t3.micro",
    "t3.small",
    "m5.large",
    "c6i.xlarge",
    "r6g.2xlarge",
];
const VOLUME_TYPES: &[&str] = &["gp3", "gp2", "io1", "st1", "sc1"];
const BUCKET_WORDS: &[&str] = &[
    "logs",
    "data",
    "backup",
    "static-site",
    "artifacts",
    "tfstate",
];
/// 2020-01-01 and 2024-12-31: the window of generated creation times.
const EPOCH_LOW: u64 = 1_577_836_800;
const EPOCH_HIGH: u64 = 1_735_603_200;

/// One region of the fleet's world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// e.g. `eu-west-1`.
    pub name: String,
    /// Whether the region needs opting in (`opted-in` / `not-opted-in`).
    pub opt_in: bool,
}

/// Organizations account state (`State`), with the retired `Status` derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountState {
    /// `ACTIVE`.
    Active,
    /// `SUSPENDED`.
    Suspended,
    /// `PENDING_CLOSURE`.
    PendingClosure,
    /// `CLOSED` (Status `SUSPENDED`).
    Closed,
}

impl AccountState {
    /// The `State` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Active => "ACTIVE",
            AccountState::Suspended => "SUSPENDED",
            AccountState::PendingClosure => "PENDING_CLOSURE",
            AccountState::Closed => "CLOSED",
        }
    }

    /// The retired `Status` value (ACTIVE, SUSPENDED or PENDING_CLOSURE).
    pub fn status(self) -> &'static str {
        match self {
            AccountState::Active => "ACTIVE",
            AccountState::Suspended | AccountState::Closed => "SUSPENDED",
            AccountState::PendingClosure => "PENDING_CLOSURE",
        }
    }
}

/// One account of the organization.
#[derive(Clone, Debug)]
pub struct Account {
    /// 12 digits.
    pub id: String,
    /// `arn:aws:organizations::MGMT:account/o-.../ID`.
    pub arn: String,
    /// May be hostile when `hostile_names` is on.
    pub name: String,
    /// Email address.
    pub email: String,
    /// State (and derived Status).
    pub state: AccountState,
    /// Seconds since the epoch.
    pub joined_timestamp: i64,
    /// The root or OU directly above the account.
    pub parent_id: String,
    /// Whether this is the management account.
    pub is_management: bool,
    enabled_regions: u64,
}

/// One organizational unit.
#[derive(Clone, Debug)]
pub struct OrganizationalUnit {
    /// `ou-xxxx-xxxxxxxx`.
    pub id: String,
    /// `arn:aws:organizations::MGMT:ou/o-.../ou-...`.
    pub arn: String,
    /// Name.
    pub name: String,
    /// The root or OU directly above.
    pub parent_id: String,
}

/// A tag (EC2 or S3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// An EC2 instance.
#[derive(Clone, Debug)]
pub struct Instance {
    /// `i-...`.
    pub instance_id: String,
    /// `r-...`; consecutive instances share reservations.
    pub reservation_id: String,
    /// e.g. `t3.micro`.
    pub instance_type: String,
    /// `ami-...`.
    pub image_id: String,
    /// `running`, `stopped` or `terminated`.
    pub state: &'static str,
    /// 16, 80 or 48.
    pub state_code: i64,
    /// Seconds since the epoch.
    pub launch_time: i64,
    /// e.g. `eu-west-1b`.
    pub availability_zone: String,
    /// None for terminated instances.
    pub vpc_id: Option<String>,
    /// None for terminated instances.
    pub subnet_id: Option<String>,
    /// None for terminated instances.
    pub private_ip: Option<String>,
    /// Public IPv4, for some running instances.
    pub public_ip: Option<String>,
    /// `arn:aws:iam::ACCOUNT:instance-profile/NAME`.
    pub iam_instance_profile_arn: Option<String>,
    /// Key pair name.
    pub key_name: Option<String>,
    /// `windows`, or None (Linux).
    pub platform: Option<&'static str>,
    /// `required` (IMDSv2) or `optional`.
    pub imds_http_tokens: &'static str,
    /// `enabled` or `disabled`.
    pub imds_http_endpoint: &'static str,
    /// (group id, group name) of each attached security group.
    pub security_groups: Vec<(String, String)>,
    /// Tags, `Name` first when present.
    pub tags: Vec<Tag>,
}

/// A source or destination of a security group rule: one of the four kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSource {
    /// An IPv4 range.
    Cidr {
        /// e.g. `0.0.0.0/0`.
        cidr: String,
        /// Optional description.
        description: Option<String>,
    },
    /// An IPv6 range.
    CidrIpv6 {
        /// e.g. `::/0`.
        cidr: String,
        /// Optional description.
        description: Option<String>,
    },
    /// A managed prefix list.
    PrefixList {
        /// `pl-...`.
        prefix_list_id: String,
        /// Optional description.
        description: Option<String>,
    },
    /// Another security group (a `UserIdGroupPair`).
    Group {
        /// Owner account.
        user_id: String,
        /// `sg-...`.
        group_id: String,
        /// Optional description.
        description: Option<String>,
    },
}

/// One `IpPermission`: a protocol/port range and its sources.
#[derive(Clone, Debug)]
pub struct Permission {
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub protocol: String,
    /// None when `protocol` is `-1`.
    pub from_port: Option<i64>,
    /// None when `protocol` is `-1`.
    pub to_port: Option<i64>,
    /// At least one source.
    pub sources: Vec<RuleSource>,
}

/// An EC2 security group.
#[derive(Clone, Debug)]
pub struct SecurityGroup {
    /// `sg-...`.
    pub group_id: String,
    /// The first group of each region is `default`.
    pub group_name: String,
    /// May be hostile.
    pub description: String,
    /// VPC.
    pub vpc_id: String,
    /// Owner account.
    pub owner_id: String,
    /// Inbound permissions.
    pub ingress: Vec<Permission>,
    /// Outbound permissions.
    pub egress: Vec<Permission>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl SecurityGroup {
    /// Rule rows as the database flattens them: one per permission × source.
    pub fn rule_source_count(&self) -> usize {
        self.ingress
            .iter()
            .chain(&self.egress)
            .map(|permission| permission.sources.len())
            .sum()
    }
}

/// An EBS volume.
#[derive(Clone, Debug)]
pub struct Volume {
    /// `vol-...`.
    pub volume_id: String,
    /// GiB.
    pub size_gib: i64,
    /// e.g. `gp3`.
    pub volume_type: &'static str,
    /// Encrypted at rest.
    pub encrypted: bool,
    /// KMS key ARN of encrypted volumes.
    pub kms_key_id: Option<String>,
    /// `in-use` or `available`.
    pub state: &'static str,
    /// e.g. `eu-west-1a`.
    pub availability_zone: String,
    /// Instances the volume is attached to (zero or one).
    pub attached_instance_ids: Vec<String>,
    /// Seconds since the epoch.
    pub create_time: i64,
    /// IOPS (gp3, io1, gp2).
    pub iops: Option<i64>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// An S3 public access block (bucket or account level).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicAccessBlock {
    /// BlockPublicAcls.
    pub block_public_acls: bool,
    /// IgnorePublicAcls.
    pub ignore_public_acls: bool,
    /// BlockPublicPolicy.
    pub block_public_policy: bool,
    /// RestrictPublicBuckets.
    pub restrict_public_buckets: bool,
}

/// Default encryption of a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encryption {
    /// `AES256` or `aws:kms`.
    pub algorithm: &'static str,
    /// KMS key ARN for `aws:kms`.
    pub kms_key_id: Option<String>,
    /// BucketKeyEnabled.
    pub bucket_key_enabled: bool,
}

/// Bucket versioning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versioning {
    /// Never configured: `GetBucketVersioning` answers an empty configuration.
    Never,
    /// `Enabled`.
    Enabled,
    /// `Suspended`.
    Suspended,
}

/// Server access logging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    /// Target bucket.
    pub target_bucket: String,
    /// Target prefix.
    pub target_prefix: String,
}

/// An S3 bucket and its posture. `None` means "not configured", answered
/// with the real not-found error code.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// Globally unique: `WORD-ACCOUNTID-NNN`.
    pub name: String,
    /// One of the account's enabled regions.
    pub region: String,
    /// Seconds since the epoch.
    pub creation_date: i64,
    /// None: `NoSuchPublicAccessBlockConfiguration`.
    pub public_access_block: Option<PublicAccessBlock>,
    /// None: no policy (`NoSuchBucketPolicy`).
    pub policy_is_public: Option<bool>,
    /// None: `ServerSideEncryptionConfigurationNotFoundError`.
    pub encryption: Option<Encryption>,
    /// Versioning status.
    pub versioning: Versioning,
    /// MFA delete (only with versioning configured).
    pub mfa_delete: bool,
    /// None: `OwnershipControlsNotFoundError`.
    pub object_ownership: Option<&'static str>,
    /// None: logging off.
    pub logging: Option<Logging>,
    /// None: `NoSuchTagSet`.
    pub tags: Option<Vec<Tag>>,
    /// Whether the ACL grants READ to AllUsers.
    pub public_acl: bool,
}

/// The EC2 resources of one account in one enabled region.
#[derive(Clone, Debug, Default)]
pub struct RegionResources {
    /// Instances, in the order `DescribeInstances` pages them.
    pub instances: Vec<Instance>,
    /// Security groups.
    pub security_groups: Vec<SecurityGroup>,
    /// Volumes.
    pub volumes: Vec<Volume>,
}

/// Everything one account holds.
#[derive(Clone, Debug, Default)]
pub struct AccountResources {
    /// Indexed like `Fleet::regions`; empty for regions not enabled.
    pub regions: Vec<RegionResources>,
    /// Buckets, in `ListBuckets` order.
    pub buckets: Vec<Bucket>,
    /// Account-level S3 public access block (S3 Control).
    pub public_access_block: Option<PublicAccessBlock>,
}

/// The generated organization. Cheap to hold for 10,000 accounts: resources
/// of an account are generated the first time anything asks for them.
#[derive(Debug)]
pub struct Fleet {
    spec: FleetSpec,
    organization_id: String,
    root_id: String,
    ous: Vec<OrganizationalUnit>,
    accounts: Vec<Account>,
    account_index: HashMap<String, usize>,
    regions: Vec<Region>,
    region_index: HashMap<String, usize>,
    resources: Vec<OnceLock<Arc<AccountResources>>>,
    accounts_by_parent: HashMap<String, Vec<usize>>,
    ous_by_parent: HashMap<String, Vec<usize>>,
}

impl Fleet {
    /// Generates the organization (accounts, OUs, regions) from the spec.
    pub fn generate(spec: FleetSpec) -> Result<Fleet, SpecError> {
        spec.validate()?;
        let seed = spec.seed;
        let organization_id = format!("o-{}", base36(mix(seed ^ 0x0A6), 10));
        let root_suffix = base36(mix(seed ^ 0x2007), 4);
        let root_id = format!("r-{root_suffix}");
        let management_id = spec.management_account_id.clone();
        let org_arn_prefix = format!("arn:aws:organizations::{management_id}:");

        let mut ous = Vec::new();
        for top in 0..spec.top_level_ous {
            let index = ous.len();
            ous.push(OrganizationalUnit {
                id: format!(
                    "ou-{root_suffix}-{:08x}",
                    mix(seed ^ (index as u64 + 1)) as u32
                ),
                arn: String::new(),
                name: format!("{}-ou", ENVIRONMENTS[top as usize % ENVIRONMENTS.len()])
                    + &suffix_number(top),
                parent_id: root_id.clone(),
            });
            let parent = ous[index].id.clone();
            for child in 0..spec.child_ous_per_ou {
                let child_index = ous.len();
                ous.push(OrganizationalUnit {
                    id: format!(
                        "ou-{root_suffix}-{:08x}",
                        mix(seed ^ (child_index as u64 + 1)) as u32
                    ),
                    arn: String::new(),
                    name: format!(
                        "{}-{}",
                        PLAIN_WORDS[child as usize % PLAIN_WORDS.len()],
                        child
                    ),
                    parent_id: parent.clone(),
                });
            }
        }
        for ou in &mut ous {
            ou.arn = format!("{org_arn_prefix}ou/{organization_id}/{}", ou.id);
        }

        let regions: Vec<Region> = spec
            .regions
            .iter()
            .map(|name| Region {
                name: name.clone(),
                opt_in: false,
            })
            .chain(spec.opt_in_regions.iter().map(|name| Region {
                name: name.clone(),
                opt_in: true,
            }))
            .collect();
        let region_index = regions
            .iter()
            .enumerate()
            .map(|(index, region)| (region.name.clone(), index))
            .collect();

        // Which members are not ACTIVE: a seeded shuffle of member positions.
        let member_count = spec.accounts as usize;
        let mut order: Vec<usize> = (0..member_count).collect();
        let mut shuffle = Rng::derive(seed, &[0x5A7E]);
        for i in (1..order.len()).rev() {
            let j = shuffle.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut states = vec![AccountState::Active; member_count];
        let mut cursor = order.iter();
        for (count, state) in [
            (spec.suspended_accounts, AccountState::Suspended),
            (spec.pending_closure_accounts, AccountState::PendingClosure),
            (spec.closed_accounts, AccountState::Closed),
        ] {
            for member in cursor.by_ref().take(count as usize) {
                states[*member] = state;
            }
        }

        let parents: Vec<&str> = std::iter::once(root_id.as_str())
            .chain(ous.iter().map(|ou| ou.id.as_str()))
            .collect();
        let mut accounts = Vec::with_capacity(member_count + 1);
        for index in 0..=member_count {
            let is_management = index == 0;
            let id = if is_management {
                management_id.clone()
            } else {
                format!("{:012}", spec.first_account_id + index as u64 - 1)
            };
            let mut rng = Rng::derive(seed, &[index as u64, 0xACC7]);
            let mut name = if is_management {
                "management".to_owned()
            } else {
                format!(
                    "{}-{}-{index}",
                    rng.pick(PLAIN_WORDS),
                    rng.pick(ENVIRONMENTS)
                )
            };
            if spec.hostile_names && !is_management && index % 5 == 3 {
                name = if index % 10 == 3 {
                    rng.pick(HOSTILE_JSON).to_owned()
                } else {
                    rng.pick(HOSTILE).to_owned()
                } + &suffix_number(index as u32);
            }
            let mut enabled_regions = 0u64;
            for (region_number, region) in regions.iter().enumerate() {
                if !region.opt_in || rng.chance(spec.opted_in_fraction) {
                    enabled_regions |= 1 << region_number;
                }
            }
            accounts.push(Account {
                arn: format!("{org_arn_prefix}account/{organization_id}/{id}"),
                email: format!("aws+{id}@example.com"),
                name,
                state: if is_management {
                    AccountState::Active
                } else {
                    states[index - 1]
                },
                joined_timestamp: rng.between(EPOCH_LOW, EPOCH_HIGH) as i64,
                parent_id: if is_management {
                    root_id.clone()
                } else {
                    parents[index % parents.len()].to_owned()
                },
                is_management,
                enabled_regions,
                id,
            });
        }
        let account_index = accounts
            .iter()
            .enumerate()
            .map(|(index, account)| (account.id.clone(), index))
            .collect();
        let mut accounts_by_parent: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, account) in accounts.iter().enumerate() {
            accounts_by_parent
                .entry(account.parent_id.clone())
                .or_default()
                .push(index);
        }
        let mut ous_by_parent: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, ou) in ous.iter().enumerate() {
            ous_by_parent
                .entry(ou.parent_id.clone())
                .or_default()
                .push(index);
        }
        let resources = (0..accounts.len()).map(|_| OnceLock::new()).collect();
        Ok(Fleet {
            spec,
            organization_id,
            root_id,
            ous,
            accounts,
            account_index,
            regions,
            region_index,
            resources,
            accounts_by_parent,
            ous_by_parent,
        })
    }

    /// The spec this fleet was generated from.
    pub fn spec(&self) -> &FleetSpec {
        &self.spec
    }

    /// `o-...`.
    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    /// `r-...`.
    pub fn root_id(&self) -> &str {
        &self.root_id
    }

    /// `arn:aws:organizations::MGMT:root/o-.../r-...`.
    pub fn root_arn(&self) -> String {
        format!(
            "arn:aws:organizations::{}:root/{}/{}",
            self.spec.management_account_id, self.organization_id, self.root_id
        )
    }

    /// Every account, the management account first, then members in id order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The management account.
    pub fn management_account(&self) -> &Account {
        &self.accounts[0]
    }

    /// Member accounts (every account but the management account).
    pub fn members(&self) -> &[Account] {
        &self.accounts[1..]
    }

    /// Looks an account up by id.
    pub fn account(&self, account_id: &str) -> Option<&Account> {
        self.account_index
            .get(account_id)
            .map(|index| &self.accounts[*index])
    }

    /// Every OU; top-level OUs precede their children.
    pub fn organizational_units(&self) -> &[OrganizationalUnit] {
        &self.ous
    }

    /// OU or root ids from the root down to the account's direct parent.
    pub fn parent_chain(&self, account_id: &str) -> Vec<String> {
        let Some(account) = self.account(account_id) else {
            return Vec::new();
        };
        let mut chain = vec![account.parent_id.clone()];
        while let Some(ou) = self.ous.iter().find(|ou| Some(&ou.id) == chain.last()) {
            chain.push(ou.parent_id.clone());
        }
        chain.reverse();
        chain
    }

    /// Every region of the world: the spec's `regions`, then `opt_in_regions`.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Regions enabled in an account (empty for unknown accounts).
    pub fn enabled_regions(&self, account_id: &str) -> Vec<&str> {
        let Some(account) = self.account(account_id) else {
            return Vec::new();
        };
        self.regions
            .iter()
            .enumerate()
            .filter(|(index, _)| account.enabled_regions & (1 << index) != 0)
            .map(|(_, region)| region.name.as_str())
            .collect()
    }

    /// Whether `region` is enabled in the account.
    pub fn region_enabled(&self, account_id: &str, region: &str) -> bool {
        match (self.account(account_id), self.region_index.get(region)) {
            (Some(account), Some(index)) => account.enabled_regions & (1 << index) != 0,
            _ => false,
        }
    }

    /// The account's resources (generated on first use).
    pub fn resources(&self, account_id: &str) -> Option<Arc<AccountResources>> {
        self.account_index
            .get(account_id)
            .map(|index| self.resources_at(*index))
    }

    /// Sorted instance ids of an account in a region (empty if not enabled).
    pub fn expected_instances(&self, account_id: &str, region: &str) -> Vec<String> {
        self.sorted_ids(account_id, region, |resources| {
            resources
                .instances
                .iter()
                .map(|i| i.instance_id.clone())
                .collect()
        })
    }

    /// Sorted security group ids of an account in a region.
    pub fn expected_security_groups(&self, account_id: &str, region: &str) -> Vec<String> {
        self.sorted_ids(account_id, region, |resources| {
            resources
                .security_groups
                .iter()
                .map(|g| g.group_id.clone())
                .collect()
        })
    }

    /// Sorted volume ids of an account in a region.
    pub fn expected_volumes(&self, account_id: &str, region: &str) -> Vec<String> {
        self.sorted_ids(account_id, region, |resources| {
            resources
                .volumes
                .iter()
                .map(|v| v.volume_id.clone())
                .collect()
        })
    }

    /// Sorted bucket names of an account.
    pub fn expected_buckets(&self, account_id: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .resources(account_id)
            .map(|resources| resources.buckets.iter().map(|b| b.name.clone()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    fn sorted_ids(
        &self,
        account_id: &str,
        region: &str,
        ids: impl Fn(&RegionResources) -> Vec<String>,
    ) -> Vec<String> {
        let (Some(resources), Some(region_number)) =
            (self.resources(account_id), self.region_index.get(region))
        else {
            return Vec::new();
        };
        let mut ids = resources
            .regions
            .get(*region_number)
            .map(ids)
            .unwrap_or_default();
        ids.sort();
        ids
    }

    // ----- lookups used by the server -----

    pub(crate) fn account_position(&self, account_id: &str) -> Option<usize> {
        self.account_index.get(account_id).copied()
    }

    pub(crate) fn account_at(&self, index: usize) -> &Account {
        &self.accounts[index]
    }

    pub(crate) fn region_position(&self, region: &str) -> Option<usize> {
        self.region_index.get(region).copied()
    }

    pub(crate) fn region_enabled_at(&self, account: usize, region: usize) -> bool {
        region < 64 && self.accounts[account].enabled_regions & (1 << region) != 0
    }

    pub(crate) fn accounts_under(&self, parent_id: &str) -> Option<&[usize]> {
        self.accounts_by_parent.get(parent_id).map(Vec::as_slice)
    }

    pub(crate) fn ous_under(&self, parent_id: &str) -> Option<&[usize]> {
        self.ous_by_parent.get(parent_id).map(Vec::as_slice)
    }

    pub(crate) fn is_parent(&self, id: &str) -> bool {
        id == self.root_id || self.ous.iter().any(|ou| ou.id == id)
    }

    /// Finds a bucket by name: the name carries its account id, so no global
    /// index is needed. Returns the owner's position and resources.
    pub(crate) fn find_bucket(&self, name: &str) -> Option<(usize, Arc<AccountResources>, usize)> {
        let mut parts = name.rsplitn(3, '-');
        let number: usize = parts.next()?.parse().ok()?;
        let account = self.account_position(parts.next()?)?;
        let resources = self.resources_at(account);
        let position = resources
            .buckets
            .iter()
            .position(|bucket| bucket.name == name)
            .filter(|position| *position == number)?;
        Some((account, resources, position))
    }

    pub(crate) fn resources_at(&self, index: usize) -> Arc<AccountResources> {
        self.resources[index]
            .get_or_init(|| Arc::new(self.generate_account(index)))
            .clone()
    }

    fn generate_account(&self, account: usize) -> AccountResources {
        if account == 0 && !self.spec.management_account_resources {
            return AccountResources {
                regions: vec![RegionResources::default(); self.regions.len()],
                ..AccountResources::default()
            };
        }
        let regions = (0..self.regions.len())
            .map(|region| {
                if self.region_enabled_at(account, region) {
                    self.generate_region(account, region)
                } else {
                    RegionResources::default()
                }
            })
            .collect();
        let mut rng = Rng::derive(self.spec.seed, &[account as u64, 0x5C0]);
        let public_access_block = rng
            .chance(self.spec.account_public_access_block_fraction)
            .then(|| random_block(&mut rng, 0.7));
        AccountResources {
            regions,
            buckets: self.generate_buckets(account),
            public_access_block,
        }
    }

    fn count(&self, count: Count, rng: &mut Rng) -> usize {
        let (low, high) = count.bounds();
        rng.between(u64::from(low), u64::from(high)) as usize
    }

    fn hostile_or(&self, rng: &mut Rng, probability: f64, plain: String) -> String {
        if self.spec.hostile_names && rng.chance(probability) {
            rng.pick(HOSTILE).to_owned()
        } else {
            plain
        }
    }

    fn generate_region(&self, account: usize, region: usize) -> RegionResources {
        let seed = self.spec.seed;
        let account_id = &self.accounts[account].id;
        let region_name = &self.regions[region].name;
        let mut rng = Rng::derive(seed, &[account as u64, region as u64, 0xEC2]);
        let id = |prefix: &str, serial: usize| {
            format!(
                "{prefix}-{account:05x}{region:02x}{serial:07x}{:03x}",
                mix(seed ^ serial as u64) & 0xfff
            )
        };
        let vpc_id = id("vpc", 0);
        let subnets: Vec<(String, String)> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(k, zone)| (format!("{region_name}{zone}"), id("subnet", k)))
            .collect();

        let group_count = self.count(self.spec.security_groups_per_region, &mut rng);
        let mut security_groups = Vec::with_capacity(group_count);
        for number in 0..group_count {
            let group_id = id("sg", number);
            let everywhere =
                |protocol: &str, from: Option<i64>, to: Option<i64>, sources| Permission {
                    protocol: protocol.to_owned(),
                    from_port: from,
                    to_port: to,
                    sources,
                };
            let cidr = |cidr: &str, description: Option<String>| RuleSource::Cidr {
                cidr: cidr.to_owned(),
                description,
            };
            let egress = vec![everywhere("-1", None, None, vec![cidr("0.0.0.0/0", None)])];
            if number == 0 {
                security_groups.push(SecurityGroup {
                    group_name: "default".to_owned(),
                    description: "default VPC security group".to_owned(),
                    vpc_id: vpc_id.clone(),
                    owner_id: account_id.clone(),
                    ingress: vec![everywhere(
                        "-1",
                        None,
                        None,
                        vec![RuleSource::Group {
                            user_id: account_id.clone(),
                            group_id: group_id.clone(),
                            description: None,
                        }],
                    )],
                    egress,
                    tags: Vec::new(),
                    group_id,
                });
                continue;
            }
            let word = rng.pick(PLAIN_WORDS);
            let mut ingress = Vec::new();
            if rng.chance(0.3) {
                ingress.push(everywhere(
                    "tcp",
                    Some(22),
                    Some(22),
                    vec![cidr("0.0.0.0/0", None)],
                ));
            }
            if rng.chance(0.4) {
                ingress.push(everywhere(
                    "tcp",
                    Some(443),
                    Some(443),
                    vec![
                        cidr("0.0.0.0/0", Some("https".to_owned())),
                        RuleSource::CidrIpv6 {
                            cidr: "::/0".to_owned(),
                            description: Some("https v6".to_owned()),
                        },
                    ],
                ));
            }
            if rng.chance(0.5) {
                let description = self.hostile_or(&mut rng, 0.3, "from the VPC".to_owned());
                ingress.push(everywhere(
                    "tcp",
                    Some(5432),
                    Some(5432),
                    vec![cidr("10.0.0.0/8", Some(description))],
                ));
            }
            if rng.chance(0.5) {
                ingress.push(everywhere(
                    "tcp",
                    Some(0),
                    Some(65535),
                    vec![RuleSource::Group {
                        user_id: account_id.clone(),
                        group_id: security_groups.first().map_or_else(
                            || group_id.clone(),
                            |g: &SecurityGroup| g.group_id.clone(),
                        ),
                        description: Some("from default".to_owned()),
                    }],
                ));
            }
            if rng.chance(0.2) {
                ingress.push(everywhere(
                    "udp",
                    Some(53),
                    Some(53),
                    vec![RuleSource::PrefixList {
                        prefix_list_id: format!("pl-{:08x}", mix(seed ^ 0x9) as u32),
                        description: None,
                    }],
                ));
            }
            if rng.chance(0.2) {
                ingress.push(everywhere(
                    "icmp",
                    Some(-1),
                    Some(-1),
                    vec![cidr("10.0.0.0/8", None)],
                ));
            }
            let mut egress = egress;
            if rng.chance(0.5) {
                egress[0].sources.push(RuleSource::CidrIpv6 {
                    cidr: "::/0".to_owned(),
                    description: None,
                });
            }
            let description = self.hostile_or(&mut rng, 0.15, format!("{word} tier"));
            let mut tags = Vec::new();
            if rng.chance(0.6) {
                tags.push(Tag {
                    key: "Name".to_owned(),
                    value: self.hostile_or(&mut rng, 0.2, format!("{word}-sg")),
                });
            }
            security_groups.push(SecurityGroup {
                group_name: format!("{word}-{number}"),
                description,
                vpc_id: vpc_id.clone(),
                owner_id: account_id.clone(),
                ingress,
                egress,
                tags,
                group_id,
            });
        }

        let instance_count = self.count(self.spec.instances_per_region, &mut rng);
        let mut instances = Vec::with_capacity(instance_count);
        for number in 0..instance_count {
            let roll = rng.unit();
            let (state, state_code) = if roll < 0.75 {
                ("running", 16)
            } else if roll < 0.95 {
                ("stopped", 80)
            } else {
                ("terminated", 48)
            };
            let live = state != "terminated";
            let subnet = rng.below(subnets.len() as u64) as usize;
            let word = rng.pick(PLAIN_WORDS);
            let environment = rng.pick(ENVIRONMENTS);
            let mut groups = Vec::new();
            if live && !security_groups.is_empty() {
                let first = rng.below(security_groups.len() as u64) as usize;
                groups.push(first);
                let second = rng.below(security_groups.len() as u64) as usize;
                if second != first && rng.chance(0.3) {
                    groups.push(second);
                }
            }
            let mut tags = vec![Tag {
                key: "Name".to_owned(),
                value: self.hostile_or(&mut rng, 0.15, format!("{word}-{environment}-{number}")),
            }];
            tags.push(Tag {
                key: "env".to_owned(),
                value: environment.to_owned(),
            });
            if self.spec.hostile_names && rng.chance(0.1) {
                tags.push(Tag {
                    key: rng.pick(HOSTILE).to_owned(),
                    value: rng.pick(HOSTILE).to_owned(),
                });
            }
            let public_ip = (state == "running" && rng.chance(0.3)).then(|| {
                format!(
                    "{}.{}.{}.{}",
                    rng.between(3, 54),
                    rng.below(256),
                    rng.below(256),
                    rng.between(1, 254)
                )
            });
            instances.push(Instance {
                instance_id: id("i", number),
                reservation_id: id("r", number / 2),
                instance_type: rng.pick(INSTANCE_TYPES).to_owned(),
                image_id: id("ami", rng.below(4) as usize),
                state,
                state_code,
                launch_time: rng.between(EPOCH_LOW, EPOCH_HIGH) as i64,
                availability_zone: subnets[subnet].0.clone(),
                vpc_id: live.then(|| vpc_id.clone()),
                subnet_id: live.then(|| subnets[subnet].1.clone()),
                private_ip: live
                    .then(|| format!("10.{}.{}.{}", region % 256, subnet, number % 250 + 4)),
                public_ip,
                iam_instance_profile_arn: rng
                    .chance(0.5)
                    .then(|| format!("arn:aws:iam::{account_id}:instance-profile/{word}-profile")),
                key_name: rng
                    .chance(0.6)
                    .then(|| self.hostile_or(&mut rng, 0.1, format!("{environment}-key"))),
                platform: rng.chance(0.15).then_some("windows"),
                imds_http_tokens: if rng.chance(0.6) {
                    "required"
                } else {
                    "optional"
                },
                imds_http_endpoint: if rng.chance(0.95) {
                    "enabled"
                } else {
                    "disabled"
                },
                security_groups: groups
                    .into_iter()
                    .map(|g| {
                        (
                            security_groups[g].group_id.clone(),
                            security_groups[g].group_name.clone(),
                        )
                    })
                    .collect(),
                tags,
            });
        }

        let volume_count = self.count(self.spec.volumes_per_region, &mut rng);
        let mut volumes = Vec::with_capacity(volume_count);
        for number in 0..volume_count {
            let attached_to = instances
                .get(number)
                .filter(|instance| instance.state != "terminated" && rng.chance(0.7));
            let availability_zone = attached_to.map_or_else(
                || subnets[rng.below(3) as usize].0.clone(),
                |instance| instance.availability_zone.clone(),
            );
            let volume_type = rng.pick(VOLUME_TYPES);
            let encrypted = rng.chance(0.6);
            let mut tags = Vec::new();
            if rng.chance(0.5) {
                tags.push(Tag {
                    key: "Name".to_owned(),
                    value: self.hostile_or(&mut rng, 0.15, format!("data-{number}")),
                });
            }
            volumes.push(Volume {
                volume_id: id("vol", number),
                size_gib: rng.between(8, 1024) as i64,
                volume_type,
                encrypted,
                kms_key_id: encrypted.then(|| {
                    format!(
                        "arn:aws:kms:{region_name}:{account_id}:key/{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                        mix(seed ^ 0xE) as u32,
                        account & 0xffff,
                        region & 0xfff,
                        number & 0xfff,
                        mix(seed ^ number as u64) & 0xffff_ffff_ffff
                    )
                }),
                state: if attached_to.is_some() { "in-use" } else { "available" },
                availability_zone,
                attached_instance_ids: attached_to
                    .map(|instance| vec![instance.instance_id.clone()])
                    .unwrap_or_default(),
                create_time: rng.between(EPOCH_LOW, EPOCH_HIGH) as i64,
                iops: match volume_type {
                    "gp3" => Some(3000),
                    "io1" => Some(rng.between(100, 6400) as i64),
                    "gp2" => Some(300),
                    _ => None,
                },
                tags,
            });
        }
        RegionResources {
            instances,
            security_groups,
            volumes,
        }
    }

    fn generate_buckets(&self, account: usize) -> Vec<Bucket> {
        let seed = self.spec.seed;
        let account_id = &self.accounts[account].id;
        let mut rng = Rng::derive(seed, &[account as u64, 0xB0C]);
        let enabled: Vec<usize> = (0..self.regions.len())
            .filter(|region| self.region_enabled_at(account, *region))
            .collect();
        let count = self.count(self.spec.buckets_per_account, &mut rng).min(999);
        let mut buckets: Vec<Bucket> = Vec::with_capacity(count);
        for number in 0..count {
            let name = format!("{}-{account_id}-{number:03}", rng.pick(BUCKET_WORDS));
            let region = enabled
                .get(rng.below(enabled.len() as u64) as usize)
                .map_or_else(
                    || self.regions[0].name.clone(),
                    |r| self.regions[*r].name.clone(),
                );
            let roll = rng.unit();
            let public_access_block = if roll < 0.65 {
                Some(PublicAccessBlock {
                    block_public_acls: true,
                    ignore_public_acls: true,
                    block_public_policy: true,
                    restrict_public_buckets: true,
                })
            } else if roll < 0.8 {
                Some(random_block(&mut rng, 0.5))
            } else {
                None
            };
            let roll = rng.unit();
            let policy_is_public = if roll < 0.55 { None } else { Some(roll >= 0.9) };
            let roll = rng.unit();
            let encryption = if roll < 0.6 {
                Some(Encryption {
                    algorithm: "AES256",
                    kms_key_id: None,
                    bucket_key_enabled: false,
                })
            } else if roll < 0.85 {
                Some(Encryption {
                    algorithm: "aws:kms",
                    kms_key_id: Some(format!(
                        "arn:aws:kms:{region}:{account_id}:key/{:08x}-0000-4000-8000-{:012x}",
                        mix(seed ^ account as u64) as u32,
                        number
                    )),
                    bucket_key_enabled: rng.chance(0.5),
                })
            } else {
                None
            };
            let roll = rng.unit();
            let versioning = if roll < 0.45 {
                Versioning::Never
            } else if roll < 0.85 {
                Versioning::Enabled
            } else {
                Versioning::Suspended
            };
            let mfa_delete = versioning != Versioning::Never && rng.chance(0.05);
            let roll = rng.unit();
            let object_ownership = if roll < 0.55 {
                Some("BucketOwnerEnforced")
            } else if roll < 0.75 {
                Some("BucketOwnerPreferred")
            } else if roll < 0.9 {
                Some("ObjectWriter")
            } else {
                None
            };
            let logging = (rng.chance(0.3)).then(|| Logging {
                target_bucket: buckets
                    .first()
                    .map_or_else(|| name.clone(), |b| b.name.clone()),
                target_prefix: format!("access/{name}/"),
            });
            let tags = rng.chance(0.5).then(|| {
                let mut tags = vec![Tag {
                    key: "owner".to_owned(),
                    value: self.hostile_or(&mut rng, 0.2, "platform-team".to_owned()),
                }];
                if rng.chance(0.5) {
                    tags.push(Tag {
                        key: "env".to_owned(),
                        value: rng.pick(ENVIRONMENTS).to_owned(),
                    });
                }
                tags
            });
            buckets.push(Bucket {
                name,
                region,
                creation_date: rng.between(EPOCH_LOW, EPOCH_HIGH) as i64,
                public_access_block,
                policy_is_public,
                encryption,
                versioning,
                mfa_delete,
                object_ownership,
                logging,
                tags,
                public_acl: rng.chance(0.1),
            });
        }
        buckets
    }
}

fn random_block(rng: &mut Rng, probability: f64) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: rng.chance(probability),
        ignore_public_acls: rng.chance(probability),
        block_public_policy: rng.chance(probability),
        restrict_public_buckets: rng.chance(probability),
    }
}

fn suffix_number(number: u32) -> String {
    format!(" #{number}")
}

fn base36(mut value: u64, digits: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(digits);
    for _ in 0..digits {
        out.push(char::from(ALPHABET[(value % 36) as usize]));
        value /= 36;
    }
    out
}

impl RegionResources {
    /// Whether the region holds nothing (also true for regions not enabled).
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.security_groups.is_empty() && self.volumes.is_empty()
    }
}

impl AccountResources {
    /// Resources in one region of the fleet's world, by name.
    pub fn region<'a>(&'a self, fleet: &Fleet, region: &str) -> Option<&'a RegionResources> {
        fleet
            .region_position(region)
            .and_then(|index| self.regions.get(index))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec() -> FleetSpec {
        FleetSpec {
            accounts: 20,
            suspended_accounts: 2,
            closed_accounts: 1,
            ..FleetSpec::default()
        }
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        let a = Fleet::generate(spec()).unwrap();
        let b = Fleet::generate(spec()).unwrap();
        let c = Fleet::generate(FleetSpec { seed: 2, ..spec() }).unwrap();
        let member = &a.members()[5].id;
        assert_eq!(
            a.expected_instances(member, "us-east-1"),
            b.expected_instances(member, "us-east-1")
        );
        assert_eq!(a.expected_buckets(member), b.expected_buckets(member));
        let names = |fleet: &Fleet| {
            fleet
                .accounts()
                .iter()
                .map(|x| x.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b));
        assert_ne!(names(&a), names(&c));
    }

    #[test]
    fn organization_shape_follows_the_spec() {
        let fleet = Fleet::generate(spec()).unwrap();
        assert_eq!(fleet.accounts().len(), 21);
        assert!(fleet.management_account().is_management);
        assert_eq!(fleet.management_account().id, "111111111111");
        assert_eq!(fleet.members()[0].id, "222200000000");
        assert_eq!(fleet.organizational_units().len(), 4);
        let count = |state| fleet.members().iter().filter(|a| a.state == state).count();
        assert_eq!(count(AccountState::Suspended), 2);
        assert_eq!(count(AccountState::Closed), 1);
        assert_eq!(count(AccountState::Active), 17);
        // Every account is reachable from the root through its parents.
        for account in fleet.accounts() {
            let chain = fleet.parent_chain(&account.id);
            assert_eq!(chain.first().map(String::as_str), Some(fleet.root_id()));
        }
        // Opt-in regions are enabled in some accounts, not in others.
        let opted_in = fleet
            .accounts()
            .iter()
            .filter(|a| fleet.region_enabled(&a.id, "af-south-1"))
            .count();
        assert!(opted_in > 0 && opted_in < fleet.accounts().len());
        for account in fleet.accounts() {
            assert!(fleet.region_enabled(&account.id, "us-east-1"));
        }
    }

    #[test]
    fn resources_are_unique_and_regions_not_enabled_are_empty() {
        let fleet = Fleet::generate(FleetSpec {
            instances_per_region: Count::Exactly(30),
            ..spec()
        })
        .unwrap();
        let mut all = std::collections::HashSet::new();
        for account in fleet.accounts() {
            for region in fleet.regions() {
                let ids = fleet.expected_instances(&account.id, &region.name);
                if fleet.region_enabled(&account.id, &region.name) {
                    assert_eq!(ids.len(), 30);
                } else {
                    assert!(ids.is_empty());
                }
                for id in ids {
                    assert!(all.insert(id));
                }
            }
            for name in fleet.expected_buckets(&account.id) {
                let (owner, resources, position) = fleet.find_bucket(&name).unwrap();
                assert_eq!(fleet.account_at(owner).id, account.id);
                assert_eq!(resources.buckets[position].name, name);
                assert!(name.len() <= 63);
            }
        }
        assert!(fleet.find_bucket("logs-999999999999-000").is_none());
        assert!(fleet.find_bucket("nonsense").is_none());
    }
}

/// Totals of a fleet, for benchmark scripts computing the minimum number of
/// calls a scan needs (served at `GET /_fake/fleet`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FleetSummary {
    /// All accounts, management included.
    pub accounts: usize,
    /// Member accounts in state ACTIVE.
    pub active_members: usize,
    /// OUs.
    pub organizational_units: usize,
    /// The world's regions.
    pub regions: Vec<String>,
    /// Sum over ACTIVE members of their enabled regions.
    pub active_member_enabled_regions: usize,
    /// Resources of ACTIVE members.
    pub active_member_instances: usize,
    /// Security groups of ACTIVE members.
    pub active_member_security_groups: usize,
    /// Volumes of ACTIVE members.
    pub active_member_volumes: usize,
    /// Buckets of ACTIVE members.
    pub active_member_buckets: usize,
}

impl Fleet {
    /// Totals over the fleet (generates every account's resources).
    pub fn summary(&self) -> FleetSummary {
        let mut summary = FleetSummary {
            accounts: self.accounts.len(),
            active_members: 0,
            organizational_units: self.ous.len(),
            regions: self.regions.iter().map(|r| r.name.clone()).collect(),
            active_member_enabled_regions: 0,
            active_member_instances: 0,
            active_member_security_groups: 0,
            active_member_volumes: 0,
            active_member_buckets: 0,
        };
        for (position, account) in self.accounts.iter().enumerate().skip(1) {
            if account.state != AccountState::Active {
                continue;
            }
            summary.active_members += 1;
            summary.active_member_enabled_regions += account.enabled_regions.count_ones() as usize;
            let resources = self.resources_at(position);
            for region in &resources.regions {
                summary.active_member_instances += region.instances.len();
                summary.active_member_security_groups += region.security_groups.len();
                summary.active_member_volumes += region.volumes.len();
            }
            summary.active_member_buckets += resources.buckets.len();
        }
        summary
    }
}
