//! The planner: turns the configuration (and the organization's account list)
//! into one [`Target`] per account to scan, and a list of the accounts it left
//! out and why. The selection logic is a pure function of the listing, so it
//! is tested without AWS.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_organizations::Client as OrgClient;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::classify::{AwsFailure, classify};
use crate::config::{Config, ConfigError, RoleOverride, Secret};
use crate::paginate::PageGuard;
use crate::session::BaseAws;

/// One account to scan.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub account_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Organizations state (`ACTIVE`, …); `None` for accounts only listed in the file.
    pub state: Option<String>,
    /// `Root/Workloads/Prod`, when known.
    pub ou_path: Option<String>,
    pub role_arn: String,
    #[serde(skip)]
    pub external_id: Option<Secret>,
    /// `organization`, `config`, or `organization+config`.
    pub source: &'static str,
}

/// An account the organization or the file lists that will not be scanned.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SkippedAccount {
    pub account_id: String,
    pub name: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub management_account_id: Option<String>,
    pub targets: Vec<Target>,
    pub skipped: Vec<SkippedAccount>,
}

/// An account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `State`, falling back to the retired `Status`.
    pub state: Option<String>,
}

/// Where each account sits in the OU tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgTree {
    /// Account id → `Root/Name/Name`.
    pub paths: HashMap<String, String>,
    /// Account id → ids of its ancestors, nearest first (parent OU … root).
    pub ancestors: HashMap<String, Vec<String>>,
    /// Every account found by the walk (the walk also lists accounts).
    pub accounts: Vec<OrgAccount>,
    /// Every OU and root id seen.
    pub nodes: HashSet<String>,
}

/// What Organizations told us.
#[derive(Debug, Clone, Default)]
pub struct OrgListing {
    pub management_account_id: Option<String>,
    /// From `ListAccounts` (whole-organization mode).
    pub accounts: Option<Vec<OrgAccount>>,
    pub tree: Option<OrgTree>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Organizations {operation} failed: {failure}")]
    Organizations {
        operation: &'static str,
        failure: AwsFailure,
    },
}

/// Wraps a failed Organizations call as the planner's error for `operation`.
fn org_error(operation: &'static str) -> impl Fn(AwsFailure) -> PlanError {
    move |failure| PlanError::Organizations { operation, failure }
}

/// Lists the organization (when enabled) and selects the targets.
pub async fn plan(config: &Config, base: &BaseAws) -> Result<Plan, PlanError> {
    let listing = if config.organization.enabled {
        list_organization(config, &OrgClient::new(&base.sdk)).await?
    } else {
        OrgListing::default()
    };
    select(config, &listing)
}

async fn list_organization(config: &Config, client: &OrgClient) -> Result<OrgListing, PlanError> {
    let org = &config.organization;
    let page_size = config.page_size.organizations;
    let needs_tree = !org.include_ous.is_empty() || !org.exclude_ous.is_empty() || org.ou_paths;
    // The organization, the account list and the OU tree do not depend on
    // one another: they are asked at once (the account list alone is one
    // round trip per 20 accounts). Errors are then reported in a fixed order:
    // DescribeOrganization's, the walk's, ListAccounts'.
    let describe = async {
        client
            .describe_organization()
            .send()
            .await
            .map_err(|err| classify(&err))
            .map_err(org_error("DescribeOrganization"))
    };
    let tree = async {
        if needs_tree {
            walk_tree(client, page_size).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let accounts = async {
        if org.include_ous.is_empty() {
            list_accounts(client, page_size)
                .await
                .map(Some)
                .map_err(org_error("ListAccounts"))
        } else {
            Ok(None)
        }
    };
    let (organization, tree, accounts) = futures::join!(describe, tree, accounts);
    let management_account_id = organization?
        .organization()
        .and_then(|o| o.master_account_id())
        .map(str::to_string);
    let tree = tree?;
    Ok(OrgListing {
        management_account_id,
        accounts: accounts?,
        tree,
    })
}

fn org_account(account: &aws_sdk_organizations::types::Account) -> Option<OrgAccount> {
    let state = account
        .state()
        .map(|s| s.as_str().to_string())
        .or_else(|| account.status().map(|s| s.as_str().to_string()));
    Some(OrgAccount {
        id: account.id()?.to_string(),
        name: account.name().map(str::to_string),
        email: account.email().map(str::to_string),
        state,
    })
}

fn missing_id(operation: &str) -> AwsFailure {
    AwsFailure::new(
        crate::classify::ErrorClass::Error,
        "MalformedResponse",
        format!("{operation} returned an account without an id"),
    )
}

/// Every item of a paged Organizations listing (pages may be empty while a
/// token is set): `fetch` asks for the page after a token, `items` takes what
/// a page lists, `next` gives its continuation token.
async fn every_page<P, T, Fut>(
    operation: &'static str,
    fetch: impl Fn(Option<String>) -> Fut,
    items: impl Fn(&P) -> Result<Vec<T>, AwsFailure>,
    next: impl Fn(&P) -> Option<String>,
) -> Result<Vec<T>, AwsFailure>
where
    Fut: Future<Output = Result<P, AwsFailure>>,
{
    let mut guard = PageGuard::new(operation);
    let mut token = None;
    let mut all = Vec::new();
    loop {
        let page = fetch(token).await?;
        all.extend(items(&page)?);
        token = guard.next(next(&page))?;
        if token.is_none() {
            return Ok(all);
        }
    }
}

/// The accounts of one Organizations page, each with an id.
fn page_accounts(
    operation: &str,
    accounts: &[aws_sdk_organizations::types::Account],
) -> Result<Vec<OrgAccount>, AwsFailure> {
    accounts
        .iter()
        .map(|account| org_account(account).ok_or_else(|| missing_id(operation)))
        .collect()
}

/// Pages through `ListAccounts`.
async fn list_accounts(client: &OrgClient, page_size: i32) -> Result<Vec<OrgAccount>, AwsFailure> {
    every_page(
        "ListAccounts",
        |token| async move {
            client
                .list_accounts()
                .max_results(page_size)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify(&e))
        },
        |page| page_accounts("ListAccounts", page.accounts()),
        |page| page.next_token().map(str::to_string),
    )
    .await
}

/// OUs listed at once during the walk: Organizations' rate limits are low.
/// Each OU lists its child OUs and its accounts at once, and ListAccounts
/// runs beside the walk, so planning has at most 2 × 2 + 2 calls in flight.
const WALK_CONCURRENCY: usize = 2;

/// Walks the OU tree from every root, one level at a time (the OUs of a level
/// concurrently): child OUs with `ListOrganizationalUnitsForParent` (which also
/// gives their names), accounts with `ListAccountsForParent`.
async fn walk_tree(client: &OrgClient, page_size: i32) -> Result<OrgTree, PlanError> {
    let roots = client
        .list_roots()
        .send()
        .await
        .map_err(|e| classify(&e))
        .map_err(org_error("ListRoots"))?;
    let mut tree = OrgTree::default();
    // (node id, path of names, ancestor ids nearest first including the node)
    let mut level: Vec<(String, String, Vec<String>)> = roots
        .roots()
        .iter()
        .filter_map(|root| {
            let id = root.id()?;
            Some((
                id.to_string(),
                root.name().unwrap_or("Root").to_string(),
                vec![id.to_string()],
            ))
        })
        .collect();
    while !level.is_empty() {
        let children: Vec<_> = futures::stream::iter(&level)
            .map(|(parent, _, _)| list_children(client, parent, page_size))
            .buffered(WALK_CONCURRENCY)
            .try_collect()
            .await?;
        let mut next = Vec::new();
        for ((parent, path, lineage), (ous, accounts)) in level.iter().zip(children) {
            tree.nodes.insert(parent.clone());
            for (id, name) in ous {
                let mut child_lineage = vec![id.clone()];
                child_lineage.extend(lineage.iter().cloned());
                next.push((id, format!("{path}/{name}"), child_lineage));
            }
            for account in accounts {
                tree.paths.insert(account.id.clone(), path.clone());
                tree.ancestors.insert(account.id.clone(), lineage.clone());
                tree.accounts.push(account);
            }
        }
        level = next;
    }
    Ok(tree)
}

/// The child OUs (id, name) and the accounts directly under one parent,
/// both listed at once.
async fn list_children(
    client: &OrgClient,
    parent: &str,
    page_size: i32,
) -> Result<(Vec<(String, String)>, Vec<OrgAccount>), PlanError> {
    let (ous, accounts) = futures::join!(
        child_ous(client, parent, page_size),
        child_accounts(client, parent, page_size)
    );
    Ok((ous?, accounts?))
}

async fn child_ous(
    client: &OrgClient,
    parent: &str,
    page_size: i32,
) -> Result<Vec<(String, String)>, PlanError> {
    every_page(
        "ListOrganizationalUnitsForParent",
        |token| async move {
            client
                .list_organizational_units_for_parent()
                .parent_id(parent)
                .max_results(page_size)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify(&e))
        },
        |page| {
            Ok(page
                .organizational_units()
                .iter()
                .filter_map(|ou| {
                    let id = ou.id()?;
                    Some((id.to_string(), ou.name().unwrap_or(id).to_string()))
                })
                .collect())
        },
        |page| page.next_token().map(str::to_string),
    )
    .await
    .map_err(org_error("ListOrganizationalUnitsForParent"))
}

async fn child_accounts(
    client: &OrgClient,
    parent: &str,
    page_size: i32,
) -> Result<Vec<OrgAccount>, PlanError> {
    every_page(
        "ListAccountsForParent",
        |token| async move {
            client
                .list_accounts_for_parent()
                .parent_id(parent)
                .max_results(page_size)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify(&e))
        },
        |page| page_accounts("ListAccountsForParent", page.accounts()),
        |page| page.next_token().map(str::to_string),
    )
    .await
    .map_err(org_error("ListAccountsForParent"))
}

/// The role ARN of an account: its override, or the global role.
pub fn role_arn(
    config: &Config,
    account_id: &str,
    role: Option<&RoleOverride>,
) -> (String, Option<Secret>) {
    let (name, path, external_id) = match role {
        Some(RoleOverride::Arn(arn)) => return (arn.clone(), config.role.external_id.clone()),
        Some(RoleOverride::Parts {
            name,
            path,
            external_id,
        }) => (
            name.as_deref().unwrap_or(&config.role.name),
            path.as_deref().unwrap_or(&config.role.path),
            external_id
                .clone()
                .or_else(|| config.role.external_id.clone()),
        ),
        None => (
            config.role.name.as_str(),
            config.role.path.as_str(),
            config.role.external_id.clone(),
        ),
    };
    (
        format!(
            "arn:{}:iam::{account_id}:role{path}{name}",
            config.partition
        ),
        external_id,
    )
}

/// Chooses the targets from what Organizations listed and what the file lists.
///
/// Every account the organization lists (`ListAccounts`, or with `include_ous`
/// the OU walk, which always covers the whole tree from every root) is either
/// a target or skipped with the first rule that leaves it out: its state is
/// not `ACTIVE`, `exclude_accounts`, `exclude_ous`, not under `include_ous`
/// (unless listed under `accounts`), the management account. An account
/// listed under `accounts` obeys the same state, `exclude_accounts` and
/// `exclude_ous` rules with what the organization knows of it, whether or not
/// the organization's selection picked it; one the organization does not list
/// at all (another organization's) has no known state or OU and is scanned as
/// listed unless `exclude_accounts` names it.
pub fn select(config: &Config, listing: &OrgListing) -> Result<Plan, PlanError> {
    let org = &config.organization;
    let tree = listing.tree.as_ref();
    let mut skipped = Vec::new();
    let mut chosen: BTreeMap<String, Target> = BTreeMap::new();

    // Which OUs an account belongs to, for include/exclude.
    let under = |account_id: &str, ous: &[String]| -> bool {
        let Some(lineage) = tree.and_then(|t| t.ancestors.get(account_id)) else {
            return false;
        };
        if org.recursive {
            lineage.iter().any(|id| ous.contains(id))
        } else {
            lineage.first().is_some_and(|id| ous.contains(id))
        }
    };
    // What the organization says of an account, from either listing.
    let in_org = |account_id: &str| -> Option<&OrgAccount> {
        listing
            .accounts
            .as_deref()
            .unwrap_or_default()
            .iter()
            .chain(tree.map(|t| t.accounts.as_slice()).unwrap_or_default())
            .find(|a| a.id == account_id)
    };
    // The rules that win over everything, whichever source lists the
    // account: `org_state` is `None` for an account the organization does
    // not list (its state is not known, so no state rule applies).
    let left_out = |account_id: &str, org_state: Option<Option<&str>>| -> Option<String> {
        if let Some(state) = org_state
            && state != Some("ACTIVE")
        {
            return Some(format!("state is {}", state.unwrap_or("unknown")));
        }
        if config.exclude_accounts.contains(account_id) {
            return Some("listed in exclude_accounts".into());
        }
        if !org.exclude_ous.is_empty() && under(account_id, &org.exclude_ous) {
            return Some("under an OU in organization.exclude_ous".into());
        }
        None
    };

    if org.enabled {
        if let Some(tree) = tree {
            for (key, ous) in [
                ("organization.include_ous", &org.include_ous),
                ("organization.exclude_ous", &org.exclude_ous),
            ] {
                if let Some(missing) = ous.iter().find(|ou| !tree.nodes.contains(*ou)) {
                    return Err(PlanError::Config(ConfigError {
                        file: config
                            .source
                            .as_ref()
                            .map_or_else(|| "<defaults>".into(), |p| p.display().to_string()),
                        position: None,
                        key: Some(key.into()),
                        message: format!("{missing} is not an OU or root of this organization"),
                    }));
                }
            }
        }
        // Every account of the organization: `ListAccounts`, or, when
        // `include_ous` leaves it out, the walk (which lists them all).
        let members: &[OrgAccount] = match (&listing.accounts, tree) {
            (Some(accounts), _) => accounts,
            (None, Some(tree)) => &tree.accounts,
            (None, None) => &[],
        };
        let listed_in_file: HashSet<&str> = config.accounts.iter().map(|a| a.id.as_str()).collect();
        let mut seen = HashSet::new();
        for account in members {
            if !seen.insert(account.id.as_str()) {
                continue;
            }
            let skip = |reason: String| SkippedAccount {
                account_id: account.id.clone(),
                name: account.name.clone(),
                reason,
            };
            if let Some(reason) = left_out(&account.id, Some(account.state.as_deref())) {
                skipped.push(skip(reason));
                continue;
            }
            if !org.include_ous.is_empty() && !under(&account.id, &org.include_ous) {
                // Listed under `accounts`, it is added below, as the file's.
                if !listed_in_file.contains(account.id.as_str()) {
                    skipped.push(skip("not under an OU in organization.include_ous".into()));
                }
                continue;
            }
            if listing.management_account_id.as_deref() == Some(account.id.as_str())
                && !org.include_management_account
                && !listed_in_file.contains(account.id.as_str())
            {
                skipped.push(skip(
                    "management account (set organization.include_management_account to scan it)"
                        .into(),
                ));
                continue;
            }
            let (role_arn, external_id) = role_arn(config, &account.id, None);
            chosen.insert(
                account.id.clone(),
                Target {
                    account_id: account.id.clone(),
                    name: account.name.clone(),
                    email: account.email.clone(),
                    state: account.state.clone(),
                    ou_path: tree.and_then(|t| t.paths.get(&account.id)).cloned(),
                    role_arn,
                    external_id,
                    source: "organization",
                },
            );
        }
    }

    // An account the organization already left out keeps that one reason:
    // listed in the file too, it is still one account, skipped once.
    let mut skipped_ids: HashSet<String> = skipped.iter().map(|s| s.account_id.clone()).collect();
    for account in &config.accounts {
        if skipped_ids.contains(&account.id) {
            continue;
        }
        let (role_arn, external_id) = role_arn(config, &account.id, account.role.as_ref());
        if let Some(target) = chosen.get_mut(&account.id) {
            target.role_arn = role_arn;
            target.external_id = external_id;
            if account.name.is_some() {
                target.name = account.name.clone();
            }
            target.source = "organization+config";
            continue;
        }
        // Not chosen by the organization's selection (outside `include_ous`,
        // or not listed by it at all): the same rules, with what the
        // organization knows of it.
        let from_org = if org.enabled {
            in_org(&account.id)
        } else {
            None
        };
        let name = account
            .name
            .clone()
            .or_else(|| from_org.and_then(|a| a.name.clone()));
        if let Some(reason) = left_out(&account.id, from_org.map(|a| a.state.as_deref())) {
            skipped_ids.insert(account.id.clone());
            skipped.push(SkippedAccount {
                account_id: account.id.clone(),
                name,
                reason,
            });
            continue;
        }
        chosen.insert(
            account.id.clone(),
            Target {
                account_id: account.id.clone(),
                name,
                email: from_org.and_then(|a| a.email.clone()),
                state: from_org.and_then(|a| a.state.clone()),
                ou_path: tree.and_then(|t| t.paths.get(&account.id)).cloned(),
                role_arn,
                external_id,
                source: "config",
            },
        );
    }
    skipped.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    Ok(Plan {
        management_account_id: listing.management_account_id.clone(),
        targets: chosen.into_values().collect(),
        skipped,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn config(yaml: &str) -> Config {
        parse(yaml, None, &|_| Some("ext-from-env".into())).unwrap()
    }

    fn account(id: &str, state: &str) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: Some(format!("name-{id}")),
            email: None,
            state: Some(state.into()),
        }
    }

    /// root r-root ─ ou-root-aaaaaaaa (Prod) ─ ou-root-bbbbbbbb (Web)
    ///             └ ou-root-cccccccc (Sandbox)
    fn listing() -> OrgListing {
        let accounts = vec![
            account("000000000001", "ACTIVE"),    // management, at the root
            account("111111111111", "ACTIVE"),    // Prod
            account("222222222222", "ACTIVE"),    // Prod/Web
            account("333333333333", "ACTIVE"),    // Sandbox
            account("444444444444", "SUSPENDED"), // Sandbox
        ];
        let mut tree = OrgTree::default();
        let place = |tree: &mut OrgTree, id: &str, path: &str, lineage: &[&str]| {
            tree.paths.insert(id.into(), path.into());
            tree.ancestors
                .insert(id.into(), lineage.iter().map(|s| s.to_string()).collect());
        };
        place(&mut tree, "000000000001", "Root", &["r-root"]);
        place(
            &mut tree,
            "111111111111",
            "Root/Prod",
            &["ou-root-aaaaaaaa", "r-root"],
        );
        place(
            &mut tree,
            "222222222222",
            "Root/Prod/Web",
            &["ou-root-bbbbbbbb", "ou-root-aaaaaaaa", "r-root"],
        );
        place(
            &mut tree,
            "333333333333",
            "Root/Sandbox",
            &["ou-root-cccccccc", "r-root"],
        );
        place(
            &mut tree,
            "444444444444",
            "Root/Sandbox",
            &["ou-root-cccccccc", "r-root"],
        );
        tree.accounts = accounts.clone();
        tree.nodes = [
            "r-root",
            "ou-root-aaaaaaaa",
            "ou-root-bbbbbbbb",
            "ou-root-cccccccc",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        OrgListing {
            management_account_id: Some("000000000001".into()),
            accounts: Some(accounts),
            tree: Some(tree),
        }
    }

    fn ids(plan: &Plan) -> Vec<&str> {
        plan.targets.iter().map(|t| t.account_id.as_str()).collect()
    }

    #[test]
    fn whole_org_keeps_active_members_and_leaves_out_the_management_account() {
        let plan = select(&config(""), &listing()).unwrap();
        assert_eq!(ids(&plan), ["111111111111", "222222222222", "333333333333"]);
        let reasons: Vec<(&str, &str)> = plan
            .skipped
            .iter()
            .map(|s| (s.account_id.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 2);
        assert!(reasons[0].0 == "000000000001" && reasons[0].1.starts_with("management account"));
        assert_eq!(reasons[1], ("444444444444", "state is SUSPENDED"));
        assert_eq!(
            plan.targets[1].role_arn,
            "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
        );
        assert_eq!(plan.targets[1].ou_path.as_deref(), Some("Root/Prod/Web"));
    }

    #[test]
    fn management_account_can_be_included() {
        let plan = select(
            &config("organization:\n  include_management_account: true\n"),
            &listing(),
        )
        .unwrap();
        assert_eq!(ids(&plan)[0], "000000000001");
    }

    #[test]
    fn include_ous_recursive_and_not() {
        let plan = select(
            &config("organization:\n  include_ous: [ou-root-aaaaaaaa]\n"),
            &listing(),
        )
        .unwrap();
        assert_eq!(ids(&plan), ["111111111111", "222222222222"]);
        let plan = select(
            &config("organization:\n  include_ous: [ou-root-aaaaaaaa]\n  recursive: false\n"),
            &listing(),
        )
        .unwrap();
        assert_eq!(ids(&plan), ["111111111111"]);
    }

    #[test]
    fn exclusions_by_ou_and_by_id() {
        let plan = select(&config("organization:\n  exclude_ous: [ou-root-bbbbbbbb]\nexclude_accounts: [\"333333333333\"]\n"), &listing()).unwrap();
        assert_eq!(ids(&plan), ["111111111111"]);
    }

    #[test]
    fn unknown_ou_is_a_configuration_error() {
        let err = select(
            &config("organization:\n  include_ous: [ou-root-zzzzzzzz]\n"),
            &listing(),
        )
        .unwrap_err();
        assert!(matches!(err, PlanError::Config(_)), "{err}");
        assert!(err.to_string().contains("ou-root-zzzzzzzz"), "{err}");
    }

    #[test]
    fn static_accounts_merge_and_override_roles() {
        let yaml = "accounts:\n  - id: \"111111111111\"\n    name: renamed\n    role: { name: Audit, path: /sec/ }\n  - id: \"999999999999\"\n    role_arn: arn:aws:iam::999999999999:role/Other\n";
        let plan = select(&config(yaml), &listing()).unwrap();
        assert_eq!(
            ids(&plan),
            [
                "111111111111",
                "222222222222",
                "333333333333",
                "999999999999"
            ]
        );
        let first = &plan.targets[0];
        assert_eq!(first.role_arn, "arn:aws:iam::111111111111:role/sec/Audit");
        assert_eq!(first.name.as_deref(), Some("renamed"));
        assert_eq!(first.source, "organization+config");
        assert_eq!(
            plan.targets[3].role_arn,
            "arn:aws:iam::999999999999:role/Other"
        );
        assert_eq!(plan.targets[3].source, "config");
    }

    #[test]
    fn static_only_mode_makes_no_org_targets() {
        let yaml = "organization: { enabled: false }\naccounts:\n  - id: \"123456789012\"\nrole:\n  external_id_env: X\npartition: aws-cn\n";
        let plan = select(&config(yaml), &OrgListing::default()).unwrap();
        assert_eq!(ids(&plan), ["123456789012"]);
        assert_eq!(
            plan.targets[0].role_arn,
            "arn:aws-cn:iam::123456789012:role/OrganizationAccountAccessRole"
        );
        assert_eq!(
            plan.targets[0].external_id.as_ref().unwrap().expose(),
            "ext-from-env"
        );
    }

    #[test]
    fn duplicates_from_the_listing_are_scanned_once() {
        let mut listing = listing();
        let mut accounts = listing.accounts.take().unwrap();
        accounts.push(account("111111111111", "ACTIVE"));
        listing.accounts = Some(accounts);
        let plan = select(&config(""), &listing).unwrap();
        assert_eq!(ids(&plan), ["111111111111", "222222222222", "333333333333"]);
    }

    /// A regression test: an account both in the organization and in
    /// `accounts:`, and in `exclude_accounts`, was skipped twice (once per
    /// source), so `plan` listed it twice and counted one account too many.
    #[test]
    fn an_excluded_account_in_the_organization_and_the_file_is_skipped_once() {
        let yaml = "accounts:\n  - id: \"222222222222\"\n  - id: \"444444444444\"\nexclude_accounts: [\"222222222222\", \"444444444444\"]\n";
        let plan = select(&config(yaml), &listing()).unwrap();
        assert_eq!(ids(&plan), ["111111111111", "333333333333"]);
        let skipped: Vec<(&str, &str)> = plan
            .skipped
            .iter()
            .map(|s| (s.account_id.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                (
                    "000000000001",
                    "management account (set organization.include_management_account to scan it)"
                ),
                ("222222222222", "listed in exclude_accounts"),
                ("444444444444", "state is SUSPENDED"),
            ]
        );
    }

    #[test]
    fn an_excluded_account_only_in_the_file_is_skipped_once() {
        let yaml = "organization: { enabled: false }\naccounts:\n  - id: \"123456789012\"\n  - id: \"210987654321\"\nexclude_accounts: [\"123456789012\"]\n";
        let plan = select(&config(yaml), &OrgListing::default()).unwrap();
        assert_eq!(ids(&plan), ["210987654321"]);
        assert_eq!(
            plan.skipped,
            [SkippedAccount {
                account_id: "123456789012".into(),
                name: None,
                reason: "listed in exclude_accounts".into(),
            }]
        );
    }

    /// What `plan` lists with `include_ous` set: no `ListAccounts`, the
    /// accounts come from the walk of the whole tree. One more member,
    /// `555555555555`, is CLOSED, at the root.
    fn walked_listing() -> OrgListing {
        let mut listing = listing();
        listing.accounts = None;
        let tree = listing.tree.as_mut().unwrap();
        tree.accounts.push(account("555555555555", "CLOSED"));
        tree.paths.insert("555555555555".into(), "Root".into());
        tree.ancestors
            .insert("555555555555".into(), vec!["r-root".into()]);
        listing
    }

    fn reasons(plan: &Plan) -> Vec<(&str, &str)> {
        plan.skipped
            .iter()
            .map(|s| (s.account_id.as_str(), s.reason.as_str()))
            .collect()
    }

    /// A regression test: with `include_ous` set, accounts listed under
    /// `accounts:` outside those OUs were added as the file's without the
    /// state rule or `exclude_ous`, so a suspended, a closed and an excluded
    /// account were all targets and none was skipped.
    #[test]
    fn with_include_ous_listed_accounts_outside_them_still_obey_state_and_exclude_ous() {
        let yaml = "organization:\n  include_ous: [ou-root-aaaaaaaa]\n  exclude_ous: [ou-root-cccccccc]\naccounts:\n  - id: \"333333333333\"\n  - id: \"444444444444\"\n  - id: \"555555555555\"\n";
        let plan = select(&config(yaml), &walked_listing()).unwrap();
        assert_eq!(ids(&plan), ["111111111111", "222222222222"]);
        assert_eq!(
            reasons(&plan),
            [
                (
                    "000000000001",
                    "not under an OU in organization.include_ous"
                ),
                ("333333333333", "under an OU in organization.exclude_ous"),
                ("444444444444", "state is SUSPENDED"),
                ("555555555555", "state is CLOSED"),
            ]
        );
    }

    /// With `include_ous` set, the walk still lists every account of the
    /// organization: those outside the included OUs are skipped with the
    /// reason, the management account included even when
    /// `include_management_account` asks for it.
    #[test]
    fn with_include_ous_accounts_outside_them_are_skipped_with_the_reason() {
        let yaml = "organization:\n  include_ous: [ou-root-aaaaaaaa]\n  include_management_account: true\n";
        let plan = select(&config(yaml), &walked_listing()).unwrap();
        assert_eq!(ids(&plan), ["111111111111", "222222222222"]);
        assert_eq!(
            reasons(&plan),
            [
                (
                    "000000000001",
                    "not under an OU in organization.include_ous"
                ),
                (
                    "333333333333",
                    "not under an OU in organization.include_ous"
                ),
                ("444444444444", "state is SUSPENDED"),
                ("555555555555", "state is CLOSED"),
            ]
        );
        // Not recursive: the child OU's account is outside too.
        let yaml = "organization:\n  include_ous: [ou-root-aaaaaaaa]\n  recursive: false\n";
        let plan = select(&config(yaml), &walked_listing()).unwrap();
        assert_eq!(ids(&plan), ["111111111111"]);
        assert!(
            reasons(&plan).contains(&(
                "222222222222",
                "not under an OU in organization.include_ous"
            )),
            "{:?}",
            plan.skipped
        );
    }

    /// An ACTIVE account listed under `accounts:` outside `include_ous` is
    /// still scanned, as the file's, with what the organization knows of it,
    /// and is not also reported as skipped; so is the management account.
    #[test]
    fn with_include_ous_a_listed_active_account_outside_them_is_scanned() {
        let yaml = "organization:\n  include_ous: [ou-root-aaaaaaaa]\naccounts:\n  - id: \"333333333333\"\n  - id: \"000000000001\"\n  - id: \"999999999999\"\n";
        let plan = select(&config(yaml), &walked_listing()).unwrap();
        assert_eq!(
            ids(&plan),
            [
                "000000000001",
                "111111111111",
                "222222222222",
                "333333333333",
                "999999999999"
            ]
        );
        let sandbox = &plan.targets[3];
        assert_eq!(sandbox.source, "config");
        assert_eq!(sandbox.state.as_deref(), Some("ACTIVE"));
        assert_eq!(sandbox.ou_path.as_deref(), Some("Root/Sandbox"));
        assert_eq!(sandbox.name.as_deref(), Some("name-333333333333"));
        // Not in the organization: nothing known, scanned as listed.
        assert_eq!(plan.targets[4].state, None);
        assert_eq!(plan.targets[4].source, "config");
        assert_eq!(
            reasons(&plan),
            [
                ("444444444444", "state is SUSPENDED"),
                ("555555555555", "state is CLOSED"),
            ]
        );
    }

    /// A listed account the account listing misses but the walk found (it
    /// joined between the two calls) still obeys the state rule and
    /// `exclude_ous`, with what the walk says of it.
    #[test]
    fn a_listed_account_only_the_walk_knows_obeys_state_and_exclude_ous() {
        let mut listing = listing();
        listing
            .accounts
            .as_mut()
            .unwrap()
            .retain(|a| a.id != "444444444444" && a.id != "333333333333");
        let yaml = "organization:\n  exclude_ous: [ou-root-bbbbbbbb]\naccounts:\n  - id: \"444444444444\"\n";
        let plan = select(&config(yaml), &listing).unwrap();
        assert!(!ids(&plan).contains(&"444444444444"));
        assert!(
            reasons(&plan).contains(&("444444444444", "state is SUSPENDED")),
            "{:?}",
            plan.skipped
        );
        // 222222222222 is only in the walk here, under the excluded OU.
        listing
            .accounts
            .as_mut()
            .unwrap()
            .retain(|a| a.id != "222222222222");
        let yaml = "organization:\n  exclude_ous: [ou-root-bbbbbbbb]\naccounts:\n  - id: \"222222222222\"\n  - id: \"333333333333\"\n";
        let plan = select(&config(yaml), &listing).unwrap();
        assert_eq!(ids(&plan), ["111111111111", "333333333333"]);
        assert!(
            reasons(&plan).contains(&("222222222222", "under an OU in organization.exclude_ous")),
            "{:?}",
            plan.skipped
        );
    }

    #[test]
    fn a_suspended_account_listed_in_the_file_stays_skipped() {
        let plan = select(&config("accounts:\n  - id: \"444444444444\"\n"), &listing()).unwrap();
        assert!(!ids(&plan).contains(&"444444444444"));
    }
}
