//! Organizations (JSON 1.1): the organization, its root, OUs and accounts,
//! every list paginated with MaxResults/NextToken.

use crate::fleet::Account;
use crate::operation::Operation;
use crate::server::{ApiError, Call, HttpResponse, push_number, respond};
use crate::wire::push_json_string;
use serde::Deserialize;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Organizations' largest page.
const MAX_PAGE: i64 = 20;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Input {
    max_results: Option<i64>,
    next_token: Option<String>,
    parent_id: Option<String>,
    child_id: Option<String>,
    child_type: Option<String>,
}

fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidInputException", message.into())
}

pub(crate) fn handle(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let input: Input = if call.body.iter().all(u8::is_ascii_whitespace) {
        Input::default()
    } else {
        serde_json::from_slice(call.body)
            .map_err(|error| ApiError::new(400, "SerializationException", error.to_string()))?
    };
    if call.operation != Operation::DescribeOrganization && call.caller.account != 0 {
        return Err(ApiError::new(
            400,
            "AccessDeniedException",
            "You don't have permissions to access this resource.",
        ));
    }
    let page_size = match input.max_results {
        None => MAX_PAGE as usize,
        Some(n) if (1..=MAX_PAGE).contains(&n) => n as usize,
        Some(n) => {
            return Err(invalid_input(format!(
                "MaxResults {n} is outside 1..={MAX_PAGE}"
            )));
        }
    };
    let fleet = call.fleet;
    let token = input.next_token.as_deref();
    let bad_token = || invalid_input("You specified an invalid value for nextToken.");
    let parent = || -> Result<&str, ApiError> {
        let parent = input
            .parent_id
            .as_deref()
            .ok_or_else(|| invalid_input("ParentId is required"))?;
        if fleet.is_parent(parent) {
            Ok(parent)
        } else {
            Err(ApiError::new(
                400,
                "ParentNotFoundException",
                "We can't find a root or OU with the ParentId that you specified.",
            ))
        }
    };

    let mut body = String::with_capacity(256);
    match call.operation {
        Operation::DescribeOrganization => {
            let management = fleet.management_account();
            body.push_str("{\"Organization\":{\"Id\":");
            push_json_string(&mut body, fleet.organization_id());
            body.push_str(",\"Arn\":");
            push_json_string(
                &mut body,
                &format!(
                    "arn:aws:organizations::{}:organization/{}",
                    management.id,
                    fleet.organization_id()
                ),
            );
            body.push_str(",\"FeatureSet\":\"ALL\",\"MasterAccountArn\":");
            push_json_string(&mut body, &management.arn);
            body.push_str(",\"MasterAccountId\":");
            push_json_string(&mut body, &management.id);
            body.push_str(",\"MasterAccountEmail\":");
            push_json_string(&mut body, &management.email);
            body.push_str(",\"AvailablePolicyTypes\":[{\"Type\":\"SERVICE_CONTROL_POLICY\",\"Status\":\"ENABLED\"}]}}");
        }
        Operation::ListRoots => {
            let page = call.page(1, page_size, token, bad_token())?;
            body.push_str("{\"Roots\":[");
            if page.start < page.end {
                body.push_str("{\"Id\":");
                push_json_string(&mut body, fleet.root_id());
                body.push_str(",\"Arn\":");
                push_json_string(&mut body, &fleet.root_arn());
                body.push_str(",\"Name\":\"Root\",\"PolicyTypes\":[{\"Type\":\"SERVICE_CONTROL_POLICY\",\"Status\":\"ENABLED\"}]}");
            }
            body.push(']');
            finish(&mut body, page.next_token.as_deref());
        }
        Operation::ListAccounts => {
            let accounts = fleet.accounts();
            let page = call.page(accounts.len(), page_size, token, bad_token())?;
            body.push_str("{\"Accounts\":[");
            for (n, account) in accounts[page.start..page.end].iter().enumerate() {
                separator(&mut body, n);
                write_account(&mut body, account);
            }
            body.push(']');
            finish(&mut body, page.next_token.as_deref());
        }
        Operation::ListAccountsForParent => {
            let positions = fleet.accounts_under(parent()?).unwrap_or(&[]);
            let page = call.page(positions.len(), page_size, token, bad_token())?;
            body.push_str("{\"Accounts\":[");
            for (n, position) in positions[page.start..page.end].iter().enumerate() {
                separator(&mut body, n);
                write_account(&mut body, fleet.account_at(*position));
            }
            body.push(']');
            finish(&mut body, page.next_token.as_deref());
        }
        Operation::ListOrganizationalUnitsForParent => {
            let positions = fleet.ous_under(parent()?).unwrap_or(&[]);
            let page = call.page(positions.len(), page_size, token, bad_token())?;
            body.push_str("{\"OrganizationalUnits\":[");
            let ous = fleet.organizational_units();
            for (n, position) in positions[page.start..page.end].iter().enumerate() {
                separator(&mut body, n);
                let ou = &ous[*position];
                body.push_str("{\"Id\":");
                push_json_string(&mut body, &ou.id);
                body.push_str(",\"Arn\":");
                push_json_string(&mut body, &ou.arn);
                body.push_str(",\"Name\":");
                push_json_string(&mut body, &ou.name);
                body.push('}');
            }
            body.push(']');
            finish(&mut body, page.next_token.as_deref());
        }
        Operation::ListChildren => {
            let parent = parent()?;
            let (kind, ids): (&str, Vec<&str>) = match input.child_type.as_deref() {
                Some("ACCOUNT") => (
                    "ACCOUNT",
                    fleet
                        .accounts_under(parent)
                        .unwrap_or(&[])
                        .iter()
                        .map(|p| fleet.account_at(*p).id.as_str())
                        .collect(),
                ),
                Some("ORGANIZATIONAL_UNIT") => (
                    "ORGANIZATIONAL_UNIT",
                    fleet
                        .ous_under(parent)
                        .unwrap_or(&[])
                        .iter()
                        .map(|p| fleet.organizational_units()[*p].id.as_str())
                        .collect(),
                ),
                other => {
                    return Err(invalid_input(format!(
                        "ChildType {other:?} must be ACCOUNT or ORGANIZATIONAL_UNIT"
                    )));
                }
            };
            let page = call.page(ids.len(), page_size, token, bad_token())?;
            body.push_str("{\"Children\":[");
            for (n, id) in ids[page.start..page.end].iter().enumerate() {
                separator(&mut body, n);
                body.push_str("{\"Id\":");
                push_json_string(&mut body, id);
                body.push_str(",\"Type\":\"");
                body.push_str(kind);
                body.push_str("\"}");
            }
            body.push(']');
            finish(&mut body, page.next_token.as_deref());
        }
        Operation::ListParents => {
            let child = input
                .child_id
                .as_deref()
                .ok_or_else(|| invalid_input("ChildId is required"))?;
            let parent_id = fleet
                .account(child)
                .map(|account| account.parent_id.as_str())
                .or_else(|| {
                    fleet
                        .organizational_units()
                        .iter()
                        .find(|ou| ou.id == child)
                        .map(|ou| ou.parent_id.as_str())
                })
                .ok_or_else(|| {
                    ApiError::new(
                        400,
                        "ChildNotFoundException",
                        "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.",
                    )
                })?;
            let page = call.page(1, page_size, token, bad_token())?;
            body.push_str("{\"Parents\":[");
            if page.start < page.end {
                body.push_str("{\"Id\":");
                push_json_string(&mut body, parent_id);
                body.push_str(if parent_id == fleet.root_id() {
                    ",\"Type\":\"ROOT\"}"
                } else {
                    ",\"Type\":\"ORGANIZATIONAL_UNIT\"}"
                });
            }
            body.push(']');
            finish(&mut body, page.next_token.as_deref());
        }
        _ => {
            return Err(ApiError::new(
                400,
                "UnknownOperationException",
                "not an Organizations operation",
            ));
        }
    }
    Ok(respond(200, CONTENT_TYPE, body))
}

fn separator(body: &mut String, index: usize) {
    if index > 0 {
        body.push(',');
    }
}

fn finish(body: &mut String, next_token: Option<&str>) {
    if let Some(token) = next_token {
        body.push_str(",\"NextToken\":");
        push_json_string(body, token);
    }
    body.push('}');
}

fn write_account(body: &mut String, account: &Account) {
    body.push_str("{\"Id\":");
    push_json_string(body, &account.id);
    body.push_str(",\"Arn\":");
    push_json_string(body, &account.arn);
    body.push_str(",\"Email\":");
    push_json_string(body, &account.email);
    body.push_str(",\"Name\":");
    push_json_string(body, &account.name);
    body.push_str(",\"Status\":\"");
    body.push_str(account.state.status());
    body.push_str("\",\"State\":\"");
    body.push_str(account.state.as_str());
    body.push_str("\",\"JoinedMethod\":\"");
    body.push_str(if account.is_management {
        "CREATED"
    } else {
        "INVITED"
    });
    body.push_str("\",\"JoinedTimestamp\":");
    push_number(body, account.joined_timestamp);
    body.push_str(".0}");
}
