//! Writes a fleetscan configuration (the keys of `accounts.example.yaml`) for one test scan.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::manifest::Manifest;

/// A scan's configuration. [`ScanConfig::for_manifest`] gives the scope the
/// seeder's manifest expects; fields can be changed before [`ScanConfig::write`].
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub database: PathBuf,
    pub endpoint_url: String,
    pub home_region: String,
    pub include_ous: Vec<String>,
    pub exclude_ous: Vec<String>,
    pub recursive: bool,
    pub include_management_account: bool,
    pub exclude_accounts: Vec<String>,
    pub regions: Vec<String>,
    /// `None`: the default (every collector).
    pub collectors: Option<Vec<String>>,
    /// Small pages force every paginated call through at least two pages.
    pub page_size_organizations: u32,
    pub page_size_ec2: u32,
    pub concurrency_accounts: u32,
}

impl ScanConfig {
    pub fn for_manifest(manifest: &Manifest, endpoint_url: &str, database: &Path) -> ScanConfig {
        ScanConfig {
            database: database.to_path_buf(),
            endpoint_url: endpoint_url.to_string(),
            home_region: "us-east-1".to_string(),
            include_ous: manifest.scan.include_ous.clone(),
            exclude_ous: Vec::new(),
            recursive: true,
            include_management_account: false,
            exclude_accounts: manifest.scan.exclude_accounts.clone(),
            regions: manifest.scan.regions.clone(),
            collectors: None,
            // The seeded organization has 8 accounts and up to 6 instances in
            // one region: these sizes make ListAccounts(ForParent) and
            // DescribeInstances take several pages. 5 is EC2's smallest MaxResults.
            page_size_organizations: 2,
            page_size_ec2: 5,
            concurrency_accounts: 4,
        }
    }

    /// The YAML text. Strings are written as JSON strings, which YAML reads as-is.
    pub fn to_yaml(&self) -> String {
        let mut yaml = String::from("# Written by fleetscan-tests for one scan against moto.\n");
        let _ = writeln!(
            yaml,
            "database: {}",
            quote(&self.database.to_string_lossy())
        );
        let _ = writeln!(yaml, "endpoint_url: {}", quote(&self.endpoint_url));
        let _ = writeln!(yaml, "home_region: {}", quote(&self.home_region));
        yaml.push_str("organization:\n  enabled: true\n");
        let _ = writeln!(yaml, "  include_ous: {}", list(&self.include_ous));
        let _ = writeln!(yaml, "  exclude_ous: {}", list(&self.exclude_ous));
        let _ = writeln!(yaml, "  recursive: {}", self.recursive);
        let _ = writeln!(
            yaml,
            "  include_management_account: {}",
            self.include_management_account
        );
        let _ = writeln!(yaml, "exclude_accounts: {}", list(&self.exclude_accounts));
        let _ = writeln!(yaml, "regions:\n  include: {}", list(&self.regions));
        if let Some(collectors) = &self.collectors {
            let _ = writeln!(yaml, "collectors: {}", list(collectors));
        }
        let _ = writeln!(
            yaml,
            "concurrency:\n  accounts: {}",
            self.concurrency_accounts
        );
        let _ = writeln!(
            yaml,
            "page_size:\n  organizations: {}\n  ec2: {}",
            self.page_size_organizations, self.page_size_ec2
        );
        yaml
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.to_yaml())
            .unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
    }
}

fn quote(value: &str) -> String {
    serde_json::Value::String(value.to_string()).to_string()
}

fn list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|value| quote(value)).collect();
    format!("[{}]", quoted.join(", "))
}
