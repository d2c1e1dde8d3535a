//! The configuration file: parsed from YAML into raw types that remember where
//! each value stood, then validated completely into [`Config`] before any AWS
//! call. Every error names the file, line, column and key.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};

use crate::collectors::{self, CollectorSpec};

/// Role name used when the configuration names none: the role AWS Organizations
/// creates in every account it creates.
pub const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";
pub const DEFAULT_DATABASE: &str = "./fleetscan.db";

/// A configuration problem, found before any AWS call (exit code 2).
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The file, or `<defaults>` when no file was given.
    pub file: String,
    /// 1-based line and column, when known.
    pub position: Option<(u64, u64)>,
    /// Dotted key path, e.g. `role.session_duration`, when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// A secret value (the external id): never printed, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (`None`: built-in defaults).
    pub source: Option<PathBuf>,
    /// SHA-256 of the file text (or of the empty string), stored with each
    /// snapshot so two runs can be told apart by configuration.
    pub digest: String,
    pub database: PathBuf,
    pub endpoint_url: Option<String>,
    pub home_region: Option<String>,
    pub partition: String,
    pub organization: OrganizationConfig,
    pub accounts: Vec<StaticAccount>,
    pub exclude_accounts: BTreeSet<String>,
    pub role: RoleConfig,
    pub regions: RegionSelection,
    pub collectors: Vec<&'static CollectorSpec>,
    pub concurrency: Concurrency,
    pub retry_max_attempts: u32,
    pub timeouts: Timeouts,
    pub page_size: PageSizes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationConfig {
    pub enabled: bool,
    pub include_ous: Vec<String>,
    pub exclude_ous: Vec<String>,
    pub recursive: bool,
    pub include_management_account: bool,
    /// Walk the OU tree to record each account's OU path (costs one or two
    /// Organizations calls per OU).
    pub ou_paths: bool,
}

/// An account listed in the file, with its optional role override.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticAccount {
    pub id: String,
    pub name: Option<String>,
    pub role: Option<RoleOverride>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RoleOverride {
    /// A full role ARN.
    Arn(String),
    /// Name/path/external id, each falling back to the global `role`.
    Parts {
        name: Option<String>,
        path: Option<String>,
        external_id: Option<Secret>,
    },
}

#[derive(Debug, Clone)]
pub struct RoleConfig {
    pub name: String,
    pub path: String,
    pub external_id: Option<Secret>,
    /// Template; `{snapshot_id}` is replaced.
    pub session_name: String,
    pub session_duration: Duration,
    pub refresh_buffer: Duration,
}

impl RoleConfig {
    /// The session name for one snapshot, as CloudTrail will show it.
    pub fn session_name_for(&self, snapshot_id: &str) -> String {
        self.session_name.replace("{snapshot_id}", snapshot_id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegionSelection {
    /// `None`: every region enabled in the account (`"*"`).
    pub include: Option<Vec<String>>,
    pub exclude: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concurrency {
    pub accounts: usize,
    pub per_account: usize,
    pub per_bucket: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
    /// Whole-scan deadline, if any.
    pub scan: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageSizes {
    pub organizations: i32,
    pub ec2: i32,
}

// ---------------------------------------------------------------------------
// Raw, as written in the file.

type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    database: Option<S<String>>,
    endpoint_url: Option<S<String>>,
    home_region: Option<S<String>>,
    partition: Option<S<String>>,
    organization: RawOrganization,
    accounts: Vec<RawAccount>,
    exclude_accounts: Vec<S<String>>,
    role: RawRole,
    regions: RawRegions,
    collectors: Option<Vec<S<String>>>,
    concurrency: RawConcurrency,
    retry: RawRetry,
    timeouts: RawTimeouts,
    page_size: RawPageSize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOrganization {
    enabled: Option<bool>,
    include_ous: Vec<S<String>>,
    exclude_ous: Vec<S<String>>,
    recursive: Option<bool>,
    include_management_account: Option<bool>,
    ou_paths: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: S<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<RawRole>,
    #[serde(default)]
    role_arn: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRole {
    name: Option<S<String>>,
    path: Option<S<String>>,
    external_id: Option<S<String>>,
    external_id_env: Option<S<String>>,
    session_name: Option<S<String>>,
    session_duration: Option<S<u64>>,
    refresh_buffer: Option<S<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRegions {
    include: Option<Vec<S<String>>>,
    exclude: Vec<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConcurrency {
    accounts: Option<S<u64>>,
    per_account: Option<S<u64>>,
    per_bucket: Option<S<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRetry {
    max_attempts: Option<S<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTimeouts {
    connect: Option<S<u64>>,
    attempt: Option<S<u64>>,
    operation: Option<S<u64>>,
    scan: Option<S<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPageSize {
    organizations: Option<S<u64>>,
    ec2: Option<S<u64>>,
}

// ---------------------------------------------------------------------------

/// Where the environment is read from; tests substitute their own.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Loads and validates a configuration file, or the defaults when `path` is `None`.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    match path {
        None => parse("", None, &env),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
                file: path.display().to_string(),
                position: None,
                key: None,
                message: format!("cannot read the configuration file: {err}"),
            })?;
            parse(&text, Some(path), &env)
        }
    }
}

/// Parses and validates configuration text.
pub fn parse(text: &str, path: Option<&Path>, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    let file = path.map_or_else(|| "<defaults>".to_string(), |p| p.display().to_string());
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_saphyr::from_str(text).map_err(|err| yaml_error(&file, text, &err))?
    };
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    Validator { file, env }.config(raw, path, digest)
}

fn yaml_error(file: &str, text: &str, err: &serde_saphyr::Error) -> ConfigError {
    let position = err.location().map(|loc| (loc.line(), loc.column()));
    // The crate's own rendering appends a source snippet; keep the first line.
    let rendered = err.without_snippet().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .to_string();
    let message = without_library_advice(&strip_location_suffix(&message));
    // Type errors point at the value; name the key written before it on that
    // line, with the keys it is nested under (`concurrency.accounts`).
    let key = if message.contains("unknown field") {
        None
    } else {
        position.and_then(|(line, _)| key_path_at(text, line))
    };
    ConfigError {
        file: file.to_string(),
        position,
        key,
        message,
    }
}

/// The mapping key written on a source line (`  accounts: many` →
/// `accounts`), with the column its key starts at.
fn key_on_line(source: &str) -> Option<(usize, String)> {
    let indent = source.len() - source.trim_start().len();
    let rest = source.trim_start();
    let (indent, rest) = match rest.strip_prefix("- ") {
        Some(item) => (
            indent + 2 + (item.len() - item.trim_start().len()),
            item.trim_start(),
        ),
        None => (indent, rest),
    };
    let (key, _) = rest.split_once(':')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain.then(|| (indent, key.to_string()))
}

/// The dotted path of the key written on a 1-based line: its own key, then
/// each less indented key above it (`concurrency.accounts`). Items of a
/// list add no index: the path names the setting, the position the item.
fn key_path_at(text: &str, line: u64) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = usize::try_from(line).ok()?.checked_sub(1)?;
    let (mut indent, key) = key_on_line(lines.get(at)?)?;
    let mut path = vec![key];
    for source in lines[..at].iter().rev() {
        let trimmed = source.trim_start();
        if indent == 0 {
            break;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let own_indent = source.len() - trimmed.len();
        if own_indent >= indent {
            continue;
        }
        match key_on_line(source) {
            // A key that opens a nested block: `concurrency:` above `  accounts:`.
            Some((key_indent, key)) if key_indent < indent => {
                path.push(key);
                indent = own_indent;
            }
            // A list item's dash, or a line that is no key: go on upwards.
            _ => indent = own_indent.min(indent),
        }
    }
    path.reverse();
    Some(path.join("."))
}

/// serde-saphyr ends some messages with advice to its own callers (which
/// option to set, which function to call instead); the user can act on
/// neither, so it is cut.
fn without_library_advice(message: &str) -> String {
    const ADVICE: [&str; 4] = ["; set ", ", set ", "; use ", " (set "];
    let cut = ADVICE
        .iter()
        .filter_map(|advice| message.find(advice))
        .min()
        .unwrap_or(message.len());
    let message = message[..cut].trim_end();
    if message.starts_with("multiple YAML documents") {
        "more than one YAML document (a `---` line): a configuration file is one document"
            .to_owned()
    } else {
        message.to_owned()
    }
}

/// serde-saphyr ends messages with "at line L, column C"; we print the position
/// ourselves in `file:line:column` form.
fn strip_location_suffix(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(idx) => message[..idx].to_string(),
        None => message.to_string(),
    }
}

struct Validator<'a> {
    file: String,
    env: EnvLookup<'a>,
}

impl Validator<'_> {
    fn error(
        &self,
        location: Option<Location>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            position: location
                .map(|loc| (loc.line(), loc.column()))
                .filter(|(line, _)| *line > 0),
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    fn at<T>(&self, value: &S<T>, key: &str, message: impl Into<String>) -> ConfigError {
        self.error(Some(value.referenced), key, message)
    }

    fn config(
        &self,
        raw: RawConfig,
        path: Option<&Path>,
        digest: String,
    ) -> Result<Config, ConfigError> {
        let database = match &raw.database {
            Some(db) if db.value.trim().is_empty() => {
                return Err(self.at(db, "database", "must not be empty"));
            }
            Some(db) => PathBuf::from(&db.value),
            None => PathBuf::from(DEFAULT_DATABASE),
        };
        let endpoint_url = match raw.endpoint_url {
            Some(url) => {
                let value = url.value.trim_end_matches('/').to_string();
                if !(value.starts_with("http://") || value.starts_with("https://"))
                    || value.len() <= "https://".len()
                {
                    return Err(self.at(
                        &url,
                        "endpoint_url",
                        format!("`{}` is not an http:// or https:// URL", url.value),
                    ));
                }
                Some(value)
            }
            None => None,
        };
        let home_region = match raw.home_region {
            Some(region) => {
                if !is_region_name(&region.value) {
                    return Err(self.at(
                        &region,
                        "home_region",
                        format!("`{}` is not an AWS region name", region.value),
                    ));
                }
                Some(region.value)
            }
            None => None,
        };
        let partition = match raw.partition {
            Some(p) => {
                const PARTITIONS: &[&str] = &[
                    "aws",
                    "aws-cn",
                    "aws-us-gov",
                    "aws-iso",
                    "aws-iso-b",
                    "aws-iso-e",
                    "aws-iso-f",
                    "aws-eusc",
                ];
                if !PARTITIONS.contains(&p.value.as_str()) {
                    return Err(self.at(
                        &p,
                        "partition",
                        format!(
                            "`{}` is not a partition (one of {})",
                            p.value,
                            PARTITIONS.join(", ")
                        ),
                    ));
                }
                p.value
            }
            None => "aws".to_string(),
        };

        let organization = OrganizationConfig {
            enabled: raw.organization.enabled.unwrap_or(true),
            include_ous: self.ou_list(&raw.organization.include_ous, "organization.include_ous")?,
            exclude_ous: self.ou_list(&raw.organization.exclude_ous, "organization.exclude_ous")?,
            recursive: raw.organization.recursive.unwrap_or(true),
            include_management_account: raw
                .organization
                .include_management_account
                .unwrap_or(false),
            ou_paths: raw.organization.ou_paths.unwrap_or(true),
        };

        let role = self.role(raw.role)?;

        let mut seen = BTreeSet::new();
        let mut accounts = Vec::with_capacity(raw.accounts.len());
        for (index, account) in raw.accounts.into_iter().enumerate() {
            let key = format!("accounts[{index}]");
            self.account_id(&account.id, &format!("{key}.id"))?;
            if !seen.insert(account.id.value.clone()) {
                return Err(self.at(
                    &account.id,
                    &format!("{key}.id"),
                    format!("account {} is listed twice", account.id.value),
                ));
            }
            let role = match (account.role_arn, account.role) {
                (Some(arn), Some(_)) => {
                    return Err(self.at(
                        &arn,
                        &format!("{key}.role_arn"),
                        "give either `role_arn` or `role`, not both",
                    ));
                }
                (Some(arn), None) => {
                    let expected_prefix = format!(":iam::{}:role/", account.id.value);
                    if !arn.value.starts_with("arn:") || !arn.value.contains(&expected_prefix) {
                        return Err(self.at(
                            &arn,
                            &format!("{key}.role_arn"),
                            format!(
                                "`{}` is not a role ARN in account {}",
                                arn.value, account.id.value
                            ),
                        ));
                    }
                    Some(RoleOverride::Arn(arn.value))
                }
                (None, Some(role)) => Some(self.role_override(role, &format!("{key}.role"))?),
                (None, None) => None,
            };
            accounts.push(StaticAccount {
                id: account.id.value,
                name: account.name,
                role,
            });
        }

        let mut exclude_accounts = BTreeSet::new();
        for (index, id) in raw.exclude_accounts.iter().enumerate() {
            self.account_id(id, &format!("exclude_accounts[{index}]"))?;
            exclude_accounts.insert(id.value.clone());
        }

        if !organization.enabled && accounts.is_empty() {
            return Err(ConfigError {
                file: self.file.clone(),
                position: None,
                key: Some("organization.enabled".into()),
                message:
                    "the organization is disabled and no `accounts` are listed: nothing to scan"
                        .into(),
            });
        }

        let regions = self.regions(raw.regions)?;
        let collectors = self.collectors(raw.collectors)?;

        let concurrency = Concurrency {
            accounts: self.bounded(
                raw.concurrency.accounts,
                "concurrency.accounts",
                16,
                1,
                1024,
            )? as usize,
            per_account: self.bounded(
                raw.concurrency.per_account,
                "concurrency.per_account",
                8,
                1,
                256,
            )? as usize,
            per_bucket: self.bounded(
                raw.concurrency.per_bucket,
                "concurrency.per_bucket",
                8,
                1,
                256,
            )? as usize,
        };
        let retry_max_attempts =
            self.bounded(raw.retry.max_attempts, "retry.max_attempts", 5, 1, 20)? as u32;
        let operation_position = raw
            .timeouts
            .operation
            .as_ref()
            .map(|v| (v.referenced.line(), v.referenced.column()));
        let timeouts = Timeouts {
            connect: Duration::from_secs(self.bounded(
                raw.timeouts.connect,
                "timeouts.connect",
                5,
                1,
                600,
            )?),
            attempt: Duration::from_secs(self.bounded(
                raw.timeouts.attempt,
                "timeouts.attempt",
                30,
                1,
                3600,
            )?),
            operation: Duration::from_secs(self.bounded(
                raw.timeouts.operation,
                "timeouts.operation",
                120,
                1,
                7200,
            )?),
            scan: match self.bounded(raw.timeouts.scan, "timeouts.scan", 0, 0, 7 * 24 * 60)? {
                0 => None,
                minutes => Some(Duration::from_secs(minutes * 60)),
            },
        };
        if timeouts.operation < timeouts.attempt {
            return Err(ConfigError {
                file: self.file.clone(),
                position: operation_position,
                key: Some("timeouts.operation".into()),
                message:
                    "must be at least `timeouts.attempt` (it bounds one call including its retries)"
                        .into(),
            });
        }
        let page_size = PageSizes {
            organizations: self.bounded(
                raw.page_size.organizations,
                "page_size.organizations",
                20,
                1,
                20,
            )? as i32,
            ec2: self.bounded(raw.page_size.ec2, "page_size.ec2", 1000, 5, 1000)? as i32,
        };

        Ok(Config {
            source: path.map(Path::to_path_buf),
            digest,
            database,
            endpoint_url,
            home_region,
            partition,
            organization,
            accounts,
            exclude_accounts,
            role,
            regions,
            collectors,
            concurrency,
            retry_max_attempts,
            timeouts,
            page_size,
        })
    }

    fn bounded(
        &self,
        value: Option<S<u64>>,
        key: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) if v.value < min || v.value > max => Err(self.at(
                &v,
                key,
                format!("{} is out of range {min}..={max}", v.value),
            )),
            Some(v) => Ok(v.value),
        }
    }

    fn account_id(&self, id: &S<String>, key: &str) -> Result<(), ConfigError> {
        if is_account_id(&id.value) {
            Ok(())
        } else {
            Err(self.at(id, key, format!("`{}` is not a 12-digit AWS account id (quote it in YAML to keep leading zeros)", id.value)))
        }
    }

    fn ou_list(&self, list: &[S<String>], key: &str) -> Result<Vec<String>, ConfigError> {
        list.iter()
            .enumerate()
            .map(|(index, ou)| {
                if is_ou_or_root_id(&ou.value) {
                    Ok(ou.value.clone())
                } else {
                    Err(self.at(
                        ou,
                        &format!("{key}[{index}]"),
                        format!(
                            "`{}` is not an OU id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)",
                            ou.value
                        ),
                    ))
                }
            })
            .collect()
    }

    fn role_name(&self, name: &S<String>, key: &str) -> Result<String, ConfigError> {
        let ok = (1..=64).contains(&name.value.len()) && name.value.chars().all(is_iam_name_char);
        if ok {
            Ok(name.value.clone())
        } else {
            Err(self.at(
                name,
                key,
                format!("`{}` is not a valid IAM role name", name.value),
            ))
        }
    }

    fn role_path(&self, path: &S<String>, key: &str) -> Result<String, ConfigError> {
        let value = &path.value;
        let ok = value.starts_with('/')
            && value.ends_with('/')
            && value.len() <= 512
            && value.chars().all(|c| c == '/' || is_iam_name_char(c));
        if ok {
            Ok(value.clone())
        } else {
            Err(self.at(
                path,
                key,
                format!("`{value}` is not an IAM path (it starts and ends with `/`)"),
            ))
        }
    }

    fn external_id(
        &self,
        value: Option<S<String>>,
        env_name: Option<S<String>>,
        key: &str,
    ) -> Result<Option<Secret>, ConfigError> {
        match (value, env_name) {
            (Some(v), Some(_)) => Err(self.at(
                &v,
                &format!("{key}.external_id"),
                "give `external_id` or `external_id_env`, not both",
            )),
            (Some(v), None) => {
                // The value itself is never echoed back.
                if v.value.len() < 2 || v.value.len() > 1224 {
                    return Err(self.at(
                        &v,
                        &format!("{key}.external_id"),
                        "must be 2 to 1224 characters long",
                    ));
                }
                Ok(Some(Secret(v.value)))
            }
            (None, Some(name)) => match (self.env)(&name.value) {
                Some(value) if value.len() >= 2 && value.len() <= 1224 => Ok(Some(Secret(value))),
                Some(_) => Err(self.at(
                    &name,
                    &format!("{key}.external_id_env"),
                    format!(
                        "environment variable `{}` must hold 2 to 1224 characters",
                        name.value
                    ),
                )),
                None => Err(self.at(
                    &name,
                    &format!("{key}.external_id_env"),
                    format!("environment variable `{}` is not set", name.value),
                )),
            },
            (None, None) => Ok(None),
        }
    }

    fn role(&self, raw: RawRole) -> Result<RoleConfig, ConfigError> {
        let name = match &raw.name {
            Some(name) => self.role_name(name, "role.name")?,
            None => DEFAULT_ROLE_NAME.to_string(),
        };
        let path = match &raw.path {
            Some(path) => self.role_path(path, "role.path")?,
            None => "/".to_string(),
        };
        let external_id = self.external_id(raw.external_id, raw.external_id_env, "role")?;
        let session_name = match raw.session_name {
            Some(template) => {
                // Validate with the longest plausible snapshot id substituted.
                let sample = template.value.replace("{snapshot_id}", "9999999999");
                let ok = (2..=64).contains(&sample.len()) && sample.chars().all(is_iam_name_char);
                if !ok {
                    return Err(self.at(
                        &template,
                        "role.session_name",
                        "must give 2 to 64 characters of letters, digits and +=,.@_- once `{snapshot_id}` is filled in",
                    ));
                }
                template.value
            }
            None => "fleetscan-{snapshot_id}".to_string(),
        };
        let session_duration = Duration::from_secs(self.bounded(
            raw.session_duration,
            "role.session_duration",
            3600,
            900,
            43_200,
        )?);
        let refresh_buffer = Duration::from_secs(self.bounded(
            raw.refresh_buffer,
            "role.refresh_buffer",
            300,
            1,
            3600,
        )?);
        Ok(RoleConfig {
            name,
            path,
            external_id,
            session_name,
            session_duration,
            refresh_buffer,
        })
    }

    fn role_override(&self, raw: RawRole, key: &str) -> Result<RoleOverride, ConfigError> {
        for (value, field) in [(&raw.session_name, "session_name")] {
            if let Some(v) = value {
                return Err(self.at(
                    v,
                    &format!("{key}.{field}"),
                    "can only be set in the top-level `role`",
                ));
            }
        }
        for (value, field) in [
            (&raw.session_duration, "session_duration"),
            (&raw.refresh_buffer, "refresh_buffer"),
        ] {
            if let Some(v) = value {
                return Err(self.at(
                    v,
                    &format!("{key}.{field}"),
                    "can only be set in the top-level `role`",
                ));
            }
        }
        let name = raw
            .name
            .as_ref()
            .map(|n| self.role_name(n, &format!("{key}.name")))
            .transpose()?;
        let path = raw
            .path
            .as_ref()
            .map(|p| self.role_path(p, &format!("{key}.path")))
            .transpose()?;
        let external_id = self.external_id(raw.external_id, raw.external_id_env, key)?;
        Ok(RoleOverride::Parts {
            name,
            path,
            external_id,
        })
    }

    fn regions(&self, raw: RawRegions) -> Result<RegionSelection, ConfigError> {
        let include = match raw.include {
            None => None,
            Some(list) if list.iter().any(|r| r.value == "*") => {
                if list.len() > 1 {
                    return Err(self.at(
                        &list[0],
                        "regions.include",
                        "`\"*\"` already means every enabled region; list it alone",
                    ));
                }
                None
            }
            Some(list) if list.is_empty() => {
                return Err(self.error(
                    None,
                    "regions.include",
                    "must name at least one region, or \"*\"",
                ));
            }
            Some(list) => {
                let mut regions = Vec::new();
                for (index, region) in list.iter().enumerate() {
                    if !is_region_name(&region.value) {
                        return Err(self.at(
                            region,
                            &format!("regions.include[{index}]"),
                            format!("`{}` is not an AWS region name", region.value),
                        ));
                    }
                    if !regions.contains(&region.value) {
                        regions.push(region.value.clone());
                    }
                }
                Some(regions)
            }
        };
        let mut exclude = BTreeSet::new();
        for (index, region) in raw.exclude.iter().enumerate() {
            if !is_region_name(&region.value) {
                return Err(self.at(
                    region,
                    &format!("regions.exclude[{index}]"),
                    format!("`{}` is not an AWS region name", region.value),
                ));
            }
            exclude.insert(region.value.clone());
        }
        if let Some(include) = &include
            && include.iter().all(|r| exclude.contains(r))
        {
            return Err(self.error(
                None,
                "regions.exclude",
                "excludes every included region: nothing to scan",
            ));
        }
        Ok(RegionSelection { include, exclude })
    }

    fn collectors(
        &self,
        raw: Option<Vec<S<String>>>,
    ) -> Result<Vec<&'static CollectorSpec>, ConfigError> {
        let Some(list) = raw else {
            return Ok(collectors::REGISTRY.iter().collect());
        };
        if list.is_empty() {
            return Err(self.error(None, "collectors", "must name at least one collector"));
        }
        let mut chosen: Vec<&'static CollectorSpec> = Vec::new();
        for (index, name) in list.iter().enumerate() {
            let Some(spec) = collectors::REGISTRY.iter().find(|c| c.name == name.value) else {
                let known: Vec<&str> = collectors::REGISTRY.iter().map(|c| c.name).collect();
                return Err(self.at(
                    name,
                    &format!("collectors[{index}]"),
                    format!(
                        "unknown collector `{}` (known: {})",
                        name.value,
                        known.join(", ")
                    ),
                ));
            };
            if !chosen.iter().any(|c| c.name == spec.name) {
                chosen.push(spec);
            }
        }
        Ok(chosen)
    }
}

fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// Twelve ASCII digits.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// `r-xxxx` (4–32 lowercase alphanumerics) or `ou-xxxx-xxxxxxxx`.
pub fn is_ou_or_root_id(value: &str) -> bool {
    fn lower_alnum(s: &str, min: usize, max: usize) -> bool {
        (min..=max).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }
    if let Some(rest) = value.strip_prefix("r-") {
        return lower_alnum(rest, 4, 32);
    }
    if let Some(rest) = value.strip_prefix("ou-") {
        return match rest.split_once('-') {
            Some((root, ou)) => lower_alnum(root, 4, 32) && lower_alnum(ou, 8, 32),
            None => false,
        };
    }
    false
}

/// Region names such as `us-east-1`, `ap-southeast-4`, `us-gov-west-1`,
/// `eu-isoe-west-1`: lowercase words joined by `-`, ending in a number.
pub fn is_region_name(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    if parts.len() < 3 {
        return false;
    }
    let (number, words) = parts.split_last().unwrap_or((&"", &[]));
    !number.is_empty()
        && number.len() <= 2
        && number.bytes().all(|b| b.is_ascii_digit())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse_with(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        parse(text, Some(Path::new("fleet.yaml")), &lookup)
    }

    fn error_of(text: &str) -> String {
        parse_with(text, &[]).unwrap_err().to_string()
    }

    #[test]
    fn defaults_scan_the_organization_through_the_standard_role() {
        let config = parse("", None, &|_| None).unwrap();
        assert_eq!(config.database, PathBuf::from("./fleetscan.db"));
        assert!(config.organization.enabled);
        assert!(!config.organization.include_management_account);
        assert_eq!(config.role.name, "OrganizationAccountAccessRole");
        assert_eq!(config.role.path, "/");
        assert_eq!(config.regions.include, None);
        assert_eq!(config.collectors.len(), collectors::REGISTRY.len());
        assert_eq!(
            config.concurrency,
            Concurrency {
                accounts: 16,
                per_account: 8,
                per_bucket: 8
            }
        );
        assert_eq!(config.role.session_name_for("42"), "fleetscan-42");
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../../accounts.example.yaml");
        let config = parse_with(text, &[]).unwrap();
        assert_eq!(config.partition, "aws");
        assert_eq!(config.role.refresh_buffer, Duration::from_secs(300));
    }

    #[test]
    fn unknown_keys_are_rejected_with_position_and_name() {
        let err = error_of("role:\n  name: Scan\n  nmae: typo\n");
        assert!(err.starts_with("fleet.yaml:3:3: "), "{err}");
        assert!(err.contains("nmae"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_position_and_key() {
        let err = error_of("concurrency:\n  accounts: many\n");
        assert!(
            err.starts_with("fleet.yaml:2:13: `concurrency.accounts`: "),
            "{err}"
        );
        let err = error_of("organization:\n  enabled: maybe\n");
        assert!(
            err.starts_with("fleet.yaml:2:12: `organization.enabled`: "),
            "{err}"
        );
        // Comments, blank lines and list items between a key and its block.
        let err = error_of(
            "database: x.db\nrole:\n  # the role\n\n  name: Scan\n  session_duration: [1]\n",
        );
        assert!(err.contains("`role.session_duration`: "), "{err}");
        let err = error_of("accounts:\n  - id: \"111111111111\"\n    name: [x]\n");
        assert!(err.contains("`accounts.name`: "), "{err}");
        let err = error_of("accounts:\n  - id: [1]\n");
        assert!(err.contains("`accounts.id`: "), "{err}");
    }

    #[test]
    fn yaml_errors_carry_no_advice_meant_for_programmers() {
        let err = error_of("database: a.db\ndatabase: b.db\n");
        assert!(err.contains("database"), "{err}");
        assert!(!err.contains("Options") && !err.contains("Policy"), "{err}");
        let err = error_of("database: a.db\n---\ndatabase: b.db\n");
        assert!(err.contains("more than one YAML document"), "{err}");
        assert!(!err.contains("from_str"), "{err}");
    }

    #[test]
    fn malformed_yaml_names_the_position() {
        let err = error_of("role: [unclosed\n");
        assert!(err.starts_with("fleet.yaml:"), "{err}");
        let err = parse_with("role: [unclosed\n", &[]).unwrap_err();
        assert!(err.position.is_some(), "{err}");
    }

    #[test]
    fn bad_account_ids_name_file_line_column_and_key() {
        let err = error_of("accounts:\n  - id: \"12345\"\n");
        assert_eq!(
            err,
            "fleet.yaml:2:9: `accounts[0].id`: `12345` is not a 12-digit AWS account id (quote it in YAML to keep leading zeros)"
        );
        let err = error_of("exclude_accounts: [\"1234567890ab\"]\n");
        assert!(err.contains("`exclude_accounts[0]`"), "{err}");
    }

    #[test]
    fn duplicate_accounts_are_rejected() {
        let err = error_of("accounts:\n  - id: \"111111111111\"\n  - id: \"111111111111\"\n");
        assert!(err.contains("listed twice"), "{err}");
    }

    #[test]
    fn bad_region_names_are_rejected() {
        let err = error_of("regions:\n  include: [us-east-1, \"US-WEST-2\"]\n");
        assert!(
            err.contains("`regions.include[1]`") && err.contains("US-WEST-2"),
            "{err}"
        );
        let err = error_of("regions:\n  include: [\"*\", us-east-1]\n");
        assert!(err.contains("list it alone"), "{err}");
        let err = error_of("regions:\n  include: [us-east-1]\n  exclude: [us-east-1]\n");
        assert!(err.contains("nothing to scan"), "{err}");
    }

    #[test]
    fn ranges_are_enforced() {
        let err = error_of("role:\n  session_duration: 60\n");
        assert!(
            err.contains("`role.session_duration`") && err.contains("900..=43200"),
            "{err}"
        );
        let err = error_of("concurrency:\n  accounts: 0\n");
        assert!(err.contains("`concurrency.accounts`"), "{err}");
        let err = error_of("timeouts:\n  attempt: 60\n  operation: 10\n");
        assert!(err.contains("`timeouts.operation`"), "{err}");
    }

    #[test]
    fn unknown_collectors_list_the_known_ones() {
        let err = error_of("collectors: [ec2_instances, lambda]\n");
        assert!(
            err.contains("unknown collector `lambda`") && err.contains("s3_buckets"),
            "{err}"
        );
    }

    #[test]
    fn external_id_comes_from_the_environment_and_is_never_printed() {
        let config = parse_with(
            "role:\n  external_id_env: EXT\n",
            &[("EXT", "s3cr3t-value")],
        )
        .unwrap();
        assert_eq!(
            config.role.external_id.as_ref().unwrap().expose(),
            "s3cr3t-value"
        );
        assert!(!format!("{config:?}").contains("s3cr3t-value"));
        let err = error_of("role:\n  external_id_env: MISSING_VAR\n");
        assert!(
            err.contains("`role.external_id_env`")
                && err.contains("MISSING_VAR")
                && err.contains("not set"),
            "{err}"
        );
        let err = error_of("role:\n  external_id: abcdef\n  external_id_env: EXT\n");
        assert!(err.contains("not both") && !err.contains("abcdef"), "{err}");
    }

    #[test]
    fn per_account_role_overrides() {
        let text = "accounts:\n  - id: \"111111111111\"\n    role: { name: Audit, path: /sec/ }\n  - id: \"222222222222\"\n    role_arn: arn:aws:iam::222222222222:role/X\n";
        let config = parse_with(text, &[]).unwrap();
        assert_eq!(
            config.accounts[0].role,
            Some(RoleOverride::Parts {
                name: Some("Audit".into()),
                path: Some("/sec/".into()),
                external_id: None
            })
        );
        assert_eq!(
            config.accounts[1].role,
            Some(RoleOverride::Arn("arn:aws:iam::222222222222:role/X".into()))
        );
        let err = error_of(
            "accounts:\n  - id: \"111111111111\"\n    role_arn: arn:aws:iam::999999999999:role/X\n",
        );
        assert!(
            err.contains("not a role ARN in account 111111111111"),
            "{err}"
        );
        let err =
            error_of("accounts:\n  - id: \"111111111111\"\n    role: { session_duration: 900 }\n");
        assert!(err.contains("top-level"), "{err}");
    }

    #[test]
    fn disabled_organization_needs_accounts() {
        let err = error_of("organization:\n  enabled: false\n");
        assert!(err.contains("nothing to scan"), "{err}");
    }

    #[test]
    fn ou_ids_are_checked() {
        assert!(is_ou_or_root_id("ou-ab12-cdef3456"));
        assert!(is_ou_or_root_id("r-ab12"));
        assert!(!is_ou_or_root_id("ou-AB12-cdef3456"));
        assert!(!is_ou_or_root_id("Security"));
        let err = error_of("organization:\n  include_ous: [Security]\n");
        assert!(err.contains("`organization.include_ous[0]`"), "{err}");
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "ap-southeast-4",
            "us-gov-west-1",
            "eu-isoe-west-1",
            "cn-north-1",
        ] {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "useast1",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "global",
            "us--1",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_digest_follows_the_text() {
        let a = parse_with("partition: aws\n", &[]).unwrap();
        let b = parse_with("partition: aws-cn\n", &[]).unwrap();
        assert_ne!(a.digest, b.digest);
        assert_eq!(a.digest.len(), 64);
    }
}
